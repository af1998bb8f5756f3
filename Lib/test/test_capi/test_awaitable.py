import asyncio
import collections.abc
import dis
import gc
import inspect
import sys
import threading
import traceback
import types
import unittest
import warnings
import weakref
from test import support
from test.support import import_helper, threading_helper

_testcapi = import_helper.import_module('_testcapi')

NULL = None
AwaitableType = types.AwaitableType


def tearDownModule():
    asyncio.set_event_loop_policy(None)


def run(aw):
    """Drive aw with a bare send(None) loop; return (result, yielded)."""
    yielded = []
    try:
        while True:
            yielded.append(aw.send(None))
    except StopIteration as exc:
        return exc.value, yielded


_nslots = weakref.WeakKeyDictionary()


def new():
    aw = _testcapi.awaitable_new()
    _nslots[aw] = 0
    return aw


def slot(aw, func):
    """Save func as an object value; return the C callback slot for it."""
    index = _nslots[aw]
    _testcapi.awaitable_save_values(aw, func)
    _nslots[aw] = index + 1
    return index


def add_await(aw, coro, on_result=None, on_error=None):
    r = slot(aw, on_result) if on_result is not None else -1
    e = slot(aw, on_error) if on_error is not None else -1
    return _testcapi.awaitable_add_await(aw, coro, r, e)


async def value(v):
    return v


async def logs_cancel(log):
    """Sleep until cancelled; log it and re-raise."""
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log.append('inner cancelled')
        raise


class Suspend:
    """Awaitable that yields `times` times, then returns what was sent."""
    def __init__(self, times=1, result=None):
        self.times = times
        self.result = result
        self.sent = []

    def __await__(self):
        for i in range(self.times):
            self.sent.append((yield f'suspend{i}'))
        return self.result


class Logged:
    """Awaitable that logs name when it is awaited, and returns it.  Not a
    coroutine: dropped, it does not warn."""
    def __init__(self, log, name):
        self.log = log
        self.name = name

    def __await__(self):
        self.log.append(self.name)
        return self.name
        yield


class NoThrow:
    """Awaitable whose iterator yields 'x' forever and has no throw()."""
    def __await__(self):
        return self

    def __next__(self):
        return 'x'


class QueuesWhenReleased:
    """Awaitable whose release (by a finalizer) queues on aw an await
    whose result, 'queued', is logged; logs what PyAwaitable_AddAwait()
    returned, and 'ran' if it is awaited itself."""
    def __init__(self, aw, log):
        self.aw = aw
        self.log = log

    def __await__(self):
        self.log.append('ran')
        yield from ()

    def __del__(self):
        log = self.log
        log.append(add_await(self.aw, Suspend(0, 'queued'),
                             lambda aw, r: log.append(r) or 0))


def context_chain(exc, limit=5):
    """The types along the __context__ chain of exc, exc first; at most
    limit of them, so that a cycle shows as a chain of limit."""
    chain = []
    while exc is not None and len(chain) < limit:
        chain.append(type(exc))
        exc = exc.__context__
    return chain


async def suspending(v, times=1):
    await Suspend(times)
    return v


@types.coroutine
def generator_based(v):
    yield 'gen'
    return v


async def raising(exc):
    raise exc


class ObjectTests(unittest.TestCase):
    def test_type(self):
        aw = new()
        self.assertIs(type(aw), AwaitableType)
        self.assertEqual(AwaitableType.__name__, 'awaitable')
        self.assertIsInstance(aw, collections.abc.Coroutine)
        self.assertIsInstance(aw, collections.abc.Awaitable)
        self.assertTrue(inspect.isawaitable(aw))
        self.assertTrue(asyncio.iscoroutine(aw))
        self.assertEqual(_testcapi.awaitable_check(aw), (1, 1))
        self.assertEqual(_testcapi.awaitable_check(object()), (0, 0))
        with self.assertRaises(TypeError):
            AwaitableType()
        _testcapi.awaitable_cancel(aw)

    def test_init(self):
        self.assertEqual(_testcapi.awaitable_init(), 0)

    def test_names_and_repr(self):
        aw = new()
        self.assertEqual(aw.__name__, 'awaitable')
        self.assertEqual(aw.__qualname__, 'awaitable')
        self.assertIn('awaitable object', repr(aw))
        aw.__name__ = 'fetch'
        aw.__qualname__ = 'Client.fetch'
        self.assertEqual(aw.__name__, 'fetch')
        self.assertEqual(aw.__qualname__, 'Client.fetch')
        self.assertIn('Client.fetch', repr(aw))
        with self.assertRaises(TypeError):
            aw.__name__ = 1
        with self.assertRaises(TypeError):
            del aw.__qualname__
        _testcapi.awaitable_cancel(aw)

    def test_cr_attributes(self):
        aw = new()
        self.assertIsNone(aw.cr_frame)
        self.assertIsNone(aw.cr_code)
        self.assertIsNone(aw.cr_await)
        self.assertIsNone(aw.cr_origin)
        self.assertFalse(aw.cr_running)
        self.assertFalse(aw.cr_suspended)
        self.assertIs(aw.cr_created, True)
        inner = Suspend()
        add_await(aw, inner)
        self.assertIs(aw.cr_created, True)
        self.assertEqual(aw.send(None), 'suspend0')
        self.assertIsNotNone(aw.cr_await)
        self.assertTrue(aw.cr_suspended)
        self.assertIs(aw.cr_created, False)
        with self.assertRaises(StopIteration):
            aw.send(None)
        self.assertIsNone(aw.cr_await)
        self.assertFalse(aw.cr_suspended)
        self.assertIs(aw.cr_created, False)
        for name in ('cr_created', 'cr_origin'):
            with self.assertRaises(AttributeError):
                setattr(aw, name, None)

    def test_cr_await_while_running(self):
        # None while it runs, as for a coroutine, whose frame awaits
        # nothing while it executes.
        seen = []
        class Peek:
            def __await__(self):
                yield 'first'
                seen.append(aw.cr_await)
        async def coroutine():
            await Peek()
        for make in (new, coroutine):
            with self.subTest(make=make.__name__):
                seen.clear()
                aw = make()
                if make is new:
                    add_await(aw, Peek())
                self.assertEqual(aw.send(None), 'first')
                self.assertIsNotNone(aw.cr_await)
                with self.assertRaises(StopIteration):
                    aw.send(None)
                self.assertEqual(seen, [None])

    def test_getcoroutinestate(self):
        # The states of a coroutine, though the awaitable has no frame.
        states = []
        class Report:
            def __await__(self):
                states.append(inspect.getcoroutinestate(aw))
                yield 'suspended'
        aw = new()
        add_await(aw, Report())
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CREATED)
        self.assertEqual(aw.send(None), 'suspended')
        self.assertEqual(states, [inspect.CORO_RUNNING])
        self.assertEqual(inspect.getcoroutinestate(aw),
                         inspect.CORO_SUSPENDED)
        with self.assertRaises(StopIteration):
            aw.send(None)
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CLOSED)
        # Finished without running, as a coroutine closed before it starts.
        aw = new()
        aw.close()
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CLOSED)
        # Cancelled before it starts, it can still be awaited.
        aw = new()
        _testcapi.awaitable_cancel(aw)
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CREATED)
        self.assertEqual(run(aw), (None, []))
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CLOSED)
        # Cancelled while suspended, it finishes at the next send.
        aw = new()
        _testcapi.awaitable_set_result(aw, 'result')
        add_await(aw, Suspend())
        self.assertEqual(aw.send(None), 'suspend0')
        _testcapi.awaitable_cancel(aw)
        self.assertIsNone(aw.cr_await)
        self.assertEqual(inspect.getcoroutinestate(aw),
                         inspect.CORO_SUSPENDED)
        with self.assertRaises(StopIteration) as cm:
            aw.send(None)
        self.assertEqual(cm.exception.value, 'result')
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CLOSED)

    def test_cr_origin(self):
        # With sys.set_coroutine_origin_tracking_depth() (asyncio's debug
        # mode), where the awaitable was made, as for a coroutine made on
        # the same line.
        async def coro():
            pass
        def make():
            return _testcapi.awaitable_new(), coro()
        def check(depth):
            aw, c = make()
            self.assertEqual(aw.cr_origin, c.cr_origin)
            if depth:
                self.assertEqual([f[2] for f in aw.cr_origin[:2]],
                                 ['make', 'check'][:depth])
            else:
                self.assertIsNone(aw.cr_origin)
            _testcapi.awaitable_cancel(aw)
            c.close()
        old_depth = sys.get_coroutine_origin_tracking_depth()
        self.addCleanup(sys.set_coroutine_origin_tracking_depth, old_depth)
        for depth in (0, 1, 2, 1000):
            with self.subTest(depth=depth):
                sys.set_coroutine_origin_tracking_depth(depth)
                check(depth)

    def test_weakref(self):
        aw = new()
        ref = weakref.ref(aw)
        _testcapi.awaitable_cancel(aw)
        del aw
        self.assertIsNone(ref())


class ResultTests(unittest.TestCase):
    def test_default_result_is_none(self):
        self.assertEqual(run(new()), (None, []))

    def test_set_result(self):
        aw = new()
        self.assertEqual(_testcapi.awaitable_set_result(aw, 42), 0)
        self.assertEqual(run(aw), (42, []))

    def test_set_result_last_wins_without_leak(self):
        aw = new()
        first = object()
        refs = sys.getrefcount(first)
        for _ in range(10):
            _testcapi.awaitable_set_result(aw, first)
        self.assertEqual(sys.getrefcount(first), refs + 1)
        _testcapi.awaitable_set_result(aw, 'last')
        self.assertEqual(sys.getrefcount(first), refs)
        self.assertEqual(run(aw), ('last', []))

    def test_set_result_on_finished_keeps_nothing(self):
        # No effect, not even a reference kept until the awaitable goes:
        # it finished, and its result was handed over.
        aw = new()
        self.assertEqual(run(aw), (None, []))
        result = object()
        refs = sys.getrefcount(result)
        self.assertEqual(_testcapi.awaitable_set_result(aw, result), 0)
        self.assertEqual(sys.getrefcount(result), refs)

    def test_result_released_when_raising_or_closed(self):
        # A result set before the awaitable raises, or before it is closed,
        # is released then: it will never be given.
        def finish_raising(aw):
            add_await(aw, raising(ValueError('v')))
            with self.assertRaises(ValueError):
                run(aw)
        def close_suspended(aw):
            add_await(aw, Suspend())
            aw.send(None)
            aw.close()
        for finish in finish_raising, close_suspended, lambda aw: aw.close():
            with self.subTest(finish=finish):
                aw = new()
                result = object()
                refs = sys.getrefcount(result)
                _testcapi.awaitable_set_result(aw, result)
                finish(aw)
                self.assertEqual(sys.getrefcount(result), refs)

    def test_set_result_from_callback(self):
        aw = new()
        _testcapi.awaitable_set_result(aw, 'before')
        def on_result(aw, result):
            _testcapi.awaitable_set_result(aw, result * 2)
            return 0
        add_await(aw, value(21), on_result)
        self.assertEqual(run(aw), (42, []))

    def test_set_result_bad_arguments(self):
        aw = new()
        with self.assertRaises(ValueError):
            _testcapi.awaitable_set_result(aw, NULL)
        with self.assertRaises(SystemError):
            _testcapi.awaitable_set_result(NULL, 1)
        with self.assertRaises(SystemError):
            _testcapi.awaitable_set_result(object(), 1)
        _testcapi.awaitable_cancel(aw)

    def test_return_constant(self):
        async def main():
            return await _testcapi.awaitable_return('x')
        self.assertEqual(run(main()), ('x', []))


class AddAwaitTests(unittest.TestCase):
    def check_accepted(self, coro, result, yielded):
        aw = new()
        results = []
        self.assertEqual(add_await(aw, coro,
                                   lambda aw, r: results.append(r) or 0), 0)
        self.assertEqual(run(aw), (None, yielded))
        self.assertEqual(results, [result])

    def test_accepts_native_coroutine(self):
        self.check_accepted(value(1), 1, [])
        self.check_accepted(suspending(2), 2, ['suspend0'])

    def test_accepts_generator_based_coroutine(self):
        self.check_accepted(generator_based(3), 3, ['gen'])

    def test_accepts_dunder_await(self):
        self.check_accepted(Suspend(2, result=4), 4, ['suspend0', 'suspend1'])

    def test_accepts_awaitable_object(self):
        self.check_accepted(_testcapi.awaitable_return(5), 5, [])

    def test_accepts_asyncio_future(self):
        loop = asyncio.new_event_loop()
        try:
            fut = loop.create_future()
            fut.set_result(6)
            self.check_accepted(fut, 6, [])
        finally:
            loop.close()

    def test_rejects_non_awaitables(self):
        def gen():
            yield
        aw = new()
        for obj in (42, 'abc', gen(), value):
            with self.subTest(obj=obj):
                with self.assertRaises(TypeError):
                    add_await(aw, obj)
        with self.assertRaises(ValueError):
            add_await(aw, NULL)
        with self.assertRaises(ValueError):
            add_await(aw, aw)
        with self.assertRaises(SystemError):
            _testcapi.awaitable_add_await(NULL, Suspend())
        self.assertEqual(run(aw), (None, []))

    def test_release_keeps_pending_exception(self):
        # Regression: releasing an unused awaitable on an error path must
        # not replace or lose the exception being raised.
        for action in ('default', 'error', 'ignore'):
            with self.subTest(action=action):
                with warnings.catch_warnings(record=True):
                    warnings.simplefilter(action)
                    with support.catch_unraisable_exception():
                        with self.assertRaises(TypeError):
                            _testcapi.awaitable_add_await_and_release(42)

    def test_release_on_error_path_does_not_warn(self):
        # An awaitable released while an exception is raised is taken as
        # dropped by the error path of the C function that made it.
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            with self.assertRaises(TypeError):
                _testcapi.awaitable_add_await_and_release(42)
            gc_collect()
        self.assertEqual([x for x in w if x.category is RuntimeWarning], [])

    def test_order(self):
        aw = new()
        order = []
        for i in range(5):
            add_await(aw, value(i), lambda aw, r: order.append(r) or 0)
        run(aw)
        self.assertEqual(order, [0, 1, 2, 3, 4])

    def test_callback_receives_awaitable(self):
        aw = new()
        seen = []
        add_await(aw, value(1), lambda a, r: seen.append(a) or 0)
        run(aw)
        self.assertEqual(seen, [aw])

    def test_chain_from_callbacks(self):
        aw = new()
        def step(aw, r):
            if r < 5:
                add_await(aw, suspending(r + 1), step)
            else:
                _testcapi.awaitable_set_result(aw, r)
            return 0
        add_await(aw, value(0), step)
        self.assertEqual(run(aw), (5, ['suspend0'] * 5))

    def test_loop_from_callbacks(self):
        aw = new()
        count = 0
        def step(aw, r):
            nonlocal count
            count += 1
            if count < 1000:
                _testcapi.awaitable_add_await(aw, value(count), 0)
            return 0
        self.assertEqual(slot(aw, step), 0)
        _testcapi.awaitable_add_await(aw, value(0), 0)
        run(aw)
        self.assertEqual(count, 1000)

    def test_callback_awaits_run_before_later_ones(self):
        # Deliberately unlike the PyAwaitable library: what a callback
        # queues is its continuation and runs first.
        aw = new()
        order = []
        def first(aw, r):
            order.append('first')
            add_await(aw, value(None),
                      lambda aw, r: order.append('nested') or 0)
            return 0
        add_await(aw, value(None), first)
        add_await(aw, value(None), lambda aw, r: order.append('second') or 0)
        run(aw)
        self.assertEqual(order, ['first', 'nested', 'second'])

    def test_many_awaits(self):
        aw = new()
        results = []
        on_result = slot(aw, lambda aw, r: results.append(r) or 0)
        for i in range(100):
            _testcapi.awaitable_add_await(aw, suspending(i), on_result)
        run(aw)
        self.assertEqual(results, list(range(100)))


    def test_coroutine_awaited_already(self):
        # As `await` raises for a coroutine that another await is running,
        # whether the awaitable starts the await or hands it over.
        inner = suspending('x')
        async def outer():
            return await inner
        first = outer()
        self.assertEqual(first.send(None), 'suspend0')
        with self.assertRaisesRegex(RuntimeError, 'being awaited already'):
            outer().send(None)

        aw = new()
        log = []
        add_await(aw, inner, None, lambda aw, exc: log.append(exc) or 0)
        self.assertEqual(run(aw), (None, []))
        self.assertEqual(len(log), 1)
        self.assertIsInstance(log[0], RuntimeError)
        self.assertEqual(str(log[0]), 'coroutine is being awaited already')

        async def awaiter(aw):
            return await aw
        aw = new()
        _testcapi.awaitable_return_await(aw, inner)
        with self.assertRaisesRegex(RuntimeError, 'being awaited already'):
            run(awaiter(aw))

        # Untouched, the first await goes on.
        with self.assertRaises(StopIteration) as cm:
            first.send(None)
        self.assertEqual(cm.exception.value, 'x')


class ReturnAwaitTests(unittest.TestCase):
    """PyAwaitable_ReturnAwait(): `return await obj`.  When that is all
    that is left of the awaitable, an `await` of it (the SEND instruction)
    takes the await over: the awaiting frame awaits obj itself."""

    def return_await(self, obj):
        aw = new()
        self.assertEqual(_testcapi.awaitable_return_await(aw, obj), 0)
        return aw

    def cases(self):
        return [(value(1), 1, []),
                (suspending(2), 2, ['suspend0']),
                (generator_based(3), 3, ['gen']),
                (Suspend(2, result=4), 4, ['suspend0', 'suspend1']),
                (_testcapi.awaitable_return(5), 5, [])]

    def test_result_by_send(self):
        # Driven by send(), the awaitable awaits obj itself.
        for obj, result, yielded in self.cases():
            with self.subTest(obj=obj):
                self.assertEqual(run(self.return_await(obj)),
                                 (result, yielded))

    def test_result_by_await(self):
        for obj, result, yielded in self.cases():
            with self.subTest(obj=obj):
                async def main():
                    return await self.return_await(obj)
                self.assertEqual(run(main()), (result, yielded))

    def test_replaces_result(self):
        for await_it in (False, True):
            with self.subTest(await_it=await_it):
                aw = new()
                _testcapi.awaitable_set_result(aw, 'old')
                _testcapi.awaitable_return_await(aw, value('new'))
                async def main():
                    return await aw
                self.assertEqual(run(main() if await_it else aw),
                                 ('new', []))

    def test_hand_over(self):
        inner = suspending('x')
        aw = self.return_await(inner)
        async def main():
            return await aw
        coro = main()
        self.assertEqual(coro.send(None), 'suspend0')
        # The frame awaits the inner coroutine; the awaitable is done.
        self.assertIs(coro.cr_await, inner)
        self.assertIsNone(aw.cr_await)
        with self.assertRaisesRegex(RuntimeError, 'already awaited'):
            aw.send(None)
        with self.assertRaises(StopIteration) as cm:
            coro.send('sent')
        self.assertEqual(cm.exception.value, 'x')

    def test_hand_over_sends_and_throws(self):
        susp = Suspend(2, result='r')
        async def main():
            return await self.return_await(susp)
        coro = main()
        self.assertEqual(coro.send(None), 'suspend0')
        self.assertEqual(coro.send('a'), 'suspend1')
        with self.assertRaises(StopIteration) as cm:
            coro.send('b')
        self.assertEqual(cm.exception.value, 'r')
        self.assertEqual(susp.sent, ['a', 'b'])

        log = []
        async def inner():
            try:
                await Suspend()
            except KeyError as exc:
                log.append(exc)
                return 'caught'
        async def main():
            return await self.return_await(inner())
        coro = main()
        coro.send(None)
        with self.assertRaises(StopIteration) as cm:
            coro.throw(KeyError('k'))
        self.assertEqual(cm.exception.value, 'caught')
        self.assertEqual(len(log), 1)

    def test_steps_after_it_still_run(self):
        log = []
        aw = new()
        _testcapi.awaitable_return_await(aw, suspending('a'))
        add_await(aw, value('b'), lambda aw, r: log.append(r) or 0)
        async def main():
            return await aw
        coro = main()
        self.assertEqual(coro.send(None), 'suspend0')
        self.assertIs(coro.cr_await, aw)
        with self.assertRaises(StopIteration) as cm:
            coro.send(None)
        self.assertEqual(cm.exception.value, 'a')
        self.assertEqual(log, ['b'])

    def test_handed_over_after_steps(self):
        log = []
        aw = new()
        add_await(aw, suspending('a'), lambda aw, r: log.append(r) or 0)
        _testcapi.awaitable_return_await(aw, suspending('b'))
        async def main():
            return await aw
        self.assertEqual(run(main()), ('b', ['suspend0', 'suspend0']))
        self.assertEqual(log, ['a'])

    def test_exception(self):
        async def fail():
            raise ZeroDivisionError('inner')
        for await_it in (False, True):
            with self.subTest(await_it=await_it):
                aw = self.return_await(fail())
                async def main():
                    return await aw
                try:
                    run(main() if await_it else aw)
                except ZeroDivisionError as exc:
                    tb = exc.__traceback__
                else:
                    self.fail('ZeroDivisionError not raised')
                names = [f.name for f in traceback.extract_tb(tb)]
                self.assertEqual(names[-1], 'fail')
                del tb

    def test_await_error(self):
        class Bad:
            def __await__(self):
                raise KeyError('bad')
        for await_it in (False, True):
            with self.subTest(await_it=await_it):
                aw = self.return_await(Bad())
                async def main():
                    return await aw
                with self.assertRaises(KeyError):
                    run(main() if await_it else aw)
                with self.assertRaisesRegex(RuntimeError, 'already awaited'):
                    aw.send(None)

    def test_rejects_non_awaitables(self):
        def gen():
            yield
        aw = new()
        for obj in (42, 'abc', gen(), value):
            with self.subTest(obj=obj):
                with self.assertRaises(TypeError):
                    _testcapi.awaitable_return_await(aw, obj)
        with self.assertRaisesRegex(ValueError, 'ReturnAwait'):
            _testcapi.awaitable_return_await(aw, NULL)
        with self.assertRaises(ValueError):
            _testcapi.awaitable_return_await(aw, aw)
        with self.assertRaises(SystemError):
            _testcapi.awaitable_return_await(NULL, Suspend())
        self.assertEqual(run(aw), (None, []))

    def test_chain_is_a_loop(self):
        # Each awaitable hands over the next: deep chains take no C stack.
        n = 20_000
        for await_it in (False, True):
            with self.subTest(await_it=await_it):
                aw = _testcapi.awaitable_return_await_chain(
                    n, suspending('deep'))
                async def main():
                    return await aw
                self.assertEqual(run(main() if await_it else aw),
                                 ('deep', ['suspend0']))

    def test_meth_async(self):
        for await_it in (False, True):
            with self.subTest(await_it=await_it):
                aw = _testcapi.async_return_await(suspending('m'))
                async def main():
                    return await aw
                self.assertEqual(run(main() if await_it else aw),
                                 ('m', ['suspend0']))
                aw = _testcapi.async_return_await_chain(20_000, value('c'))
                self.assertEqual(run(main() if await_it else aw), ('c', []))

    def one_site_cases(self):
        """(awaitable, (result, yielded)) of every way an await of an
        awaitable can go, for one await site to see them all."""
        done = new()
        _testcapi.awaitable_set_result(done, 6)
        suspended = new()
        add_await(suspended, Suspend())
        _testcapi.awaitable_set_result(suspended, 7)
        return [(self.return_await(value(1)), (1, [])),
                (self.return_await(suspending(2)), (2, ['suspend0'])),
                (self.return_await(generator_based(3)), (3, ['gen'])),
                (self.return_await(Suspend(2, result=4)),
                 (4, ['suspend0', 'suspend1'])),
                (self.return_await(_testcapi.awaitable_return(5)), (5, [])),
                (done, (6, [])),
                (suspended, (7, ['suspend0']))]

    def test_one_await_site(self):
        # However the await site is specialized meanwhile (SEND_AWAITABLE,
        # SEND_GEN, SEND), each await goes as it would alone.
        async def await_it(aw):
            return await aw
        for i in range(20):
            for aw, expected in self.one_site_cases():
                self.assertEqual(run(await_it(aw)), expected)
            with self.assertRaisesRegex(ZeroDivisionError, 'inner'):
                run(await_it(self.return_await(
                    raising(ZeroDivisionError('inner')))))
            aw = new()
            add_await(aw, raising(KeyError('k')))
            with self.assertRaises(KeyError):
                run(await_it(aw))

    def test_handed_over_awaitable_released(self):
        # An awaitable that hands over an awaitable object is released in
        # the send, while that one runs: the await site must not look at it
        # again.  A full collection clears the freelists, so that its
        # memory is really freed.
        log = []
        async def collect():
            gc.collect()
            log.append('returned')
        class CollectThenSuspend:
            def __await__(self):
                gc.collect()
                log.append('suspended')
                yield 's'
        async def await_it(aw):
            return await _testcapi.async_return_await(aw)
        for obj, yielded in ((collect(), []), (CollectThenSuspend(), ['s'])):
            with self.subTest(obj=obj):
                log.clear()
                aw = new()
                add_await(aw, obj)
                # A copy of the code: the generic SEND, not yet specialized.
                fresh = types.FunctionType(await_it.__code__.replace(),
                                           globals())
                self.assertEqual(run(fresh(aw)), (None, yielded))
                self.assertEqual(log, ['suspended' if yielded else 'returned'])

    @support.requires_specialization
    def test_specialized_send(self):
        # The await of an awaitable specializes to SEND_AWAITABLE, and a
        # hand-over to a coroutine goes on in SEND_GEN.
        async def await_it(aw):
            return await aw
        for i in range(100):
            self.assertEqual(run(await_it(self.return_await(value(i)))),
                             (i, []))
        opnames = {instr.opname
                   for instr in dis.get_instructions(await_it, adaptive=True)}
        self.assertIn('SEND_AWAITABLE', opnames)
        for aw, expected in self.one_site_cases():
            self.assertEqual(run(await_it(aw)), expected)

    @support.requires_specialization
    def test_specialized_send_to_what_was_handed_over(self):
        # A coroutine handed over that suspends receives the later sends of
        # the same await at the same site: SEND_AWAITABLE sends to it as
        # SEND_GEN does, and stays, where each await would otherwise
        # deoptimize it once.
        async def await_it(aw):
            return await aw
        for i in range(100):
            self.assertEqual(
                run(await_it(self.return_await(suspending(i)))),
                (i, ['suspend0']))
        opnames = {instr.opname
                   for instr in dis.get_instructions(await_it, adaptive=True)}
        self.assertIn('SEND_AWAITABLE', opnames)
        for aw, expected in self.one_site_cases():
            self.assertEqual(run(await_it(aw)), expected)

    def test_no_hand_over_in_plain_generator(self):
        # A plain generator never drives a coroutine: the yield from of
        # an awaitable that __iter__() returns sends to the awaitable, which
        # awaits the coroutine itself.  The same at the generic SEND and at
        # the one specialization would make.
        class Iterable:
            def __init__(self, aw):
                self.aw = aw
            def __iter__(self):
                return self.aw
        def plain(aw):
            return (yield from Iterable(aw))
        for i in range(20):
            aw = self.return_await(suspending(i))
            gen = plain(aw)
            self.assertEqual(gen.send(None), 'suspend0')
            self.assertIs(gen.gi_yieldfrom, aw)
            with self.assertRaises(StopIteration) as cm:
                gen.send(None)
            self.assertEqual(cm.exception.value, i)
        opnames = {instr.opname
                   for instr in dis.get_instructions(plain, adaptive=True)}
        self.assertNotIn('SEND_AWAITABLE', opnames)

    def test_asyncio_cancel_reaches_inner(self):
        for wrap in (False, True):
            with self.subTest(wrap=wrap):
                log = []
                async def outer():
                    return await _testcapi.async_return_await(
                        logs_cancel(log))
                async def main():
                    task = asyncio.create_task(
                        outer() if wrap
                        else self.return_await(logs_cancel(log)))
                    await asyncio.sleep(0)
                    task.cancel()
                    with self.assertRaises(asyncio.CancelledError):
                        await task
                    return task.cancelled()
                self.assertTrue(asyncio.run(main()))
                self.assertEqual(log, ['inner cancelled'])

    def test_asyncio_gather(self):
        async def main():
            return await asyncio.gather(
                *(_testcapi.async_return_await(asyncio.sleep(0, i))
                  for i in range(100)))
        self.assertEqual(asyncio.run(main()), list(range(100)))


class CallbackCodeTests(unittest.TestCase):
    def run_codes(self, result_code, error_code=None, *, raise_in=None):
        aw = new()
        log = []
        def on_result(aw, r):
            log.append(('result', r))
            return result_code
        def on_error(aw, exc):
            log.append(('error', type(exc)))
            return error_code
        coro = raising(raise_in) if raise_in else value(1)
        add_await(aw, coro, on_result,
                  on_error if error_code is not None else None)
        add_await(aw, Suspend(0, 2),
                  lambda aw, r: log.append(('next', r)) or 0)
        try:
            result = run(aw)
        except BaseException as exc:
            return log, exc
        return log, result

    def test_result_ok(self):
        log, res = self.run_codes(0)
        self.assertEqual(log, [('result', 1), ('next', 2)])

    def test_result_positive_code_is_ok(self):
        # Any code above 0 is 0, as in the PyAwaitable library: code
        # ported from it may return PyObject_IsTrue()'s result.
        for code in (1, 2**31 - 1):
            with self.subTest(code=code):
                log, res = self.run_codes(code)
                self.assertEqual(log, [('result', 1), ('next', 2)])
                self.assertEqual(res, (None, []))

    def test_result_positive_code_with_exception_set(self):
        log, exc = self.run_codes((1, KeyError('k')), 0)
        self.assertIsInstance(exc, SystemError)
        self.assertEqual(str(exc), 'awaitable result callback returned 1 '
                                   'with an exception set')
        self.assertIsInstance(exc.__cause__, KeyError)
        # As for 0: the error callback is skipped.
        self.assertEqual(log, [('result', 1)])

    def test_result_error_goes_to_error_callback(self):
        log, res = self.run_codes((-1, KeyError('k')), 0)
        self.assertEqual(log, [('result', 1), ('error', KeyError),
                               ('next', 2)])

    def test_result_error_without_error_callback(self):
        log, exc = self.run_codes((-1, KeyError('k')))
        self.assertIsInstance(exc, KeyError)
        self.assertEqual(log, [('result', 1)])

    def test_result_error_skips_error_callback(self):
        log, exc = self.run_codes((-2, KeyError('k')), 0)
        self.assertIsInstance(exc, KeyError)
        self.assertEqual(log, [('result', 1)])

    def test_result_callback_raising(self):
        def on_result(aw, r):
            raise KeyError('k')
        aw = new()
        add_await(aw, value(1), on_result)
        with self.assertRaises(KeyError):
            run(aw)

    def test_result_error_without_exception(self):
        log, exc = self.run_codes((-1, None))
        self.assertIsInstance(exc, SystemError)

    def test_result_ok_with_exception_set(self):
        log, exc = self.run_codes((0, KeyError('k')), 0)
        self.assertIsInstance(exc, SystemError)
        # What the callback set is not lost: it is the cause.
        self.assertIsInstance(exc.__cause__, KeyError)
        self.assertEqual(log, [('result', 1)])

    def test_error_ok_with_exception_set(self):
        log, exc = self.run_codes(0, (0, KeyError('k')),
                                  raise_in=OSError('x'))
        self.assertIsInstance(exc, SystemError)
        # Neither what the callback set nor what it was given is lost.
        self.assertIsInstance(exc.__cause__, KeyError)
        self.assertIsInstance(exc.__cause__.__context__, OSError)
        self.assertEqual(log, [('error', OSError)])

    def test_error_handled_continues(self):
        log, res = self.run_codes(0, 0, raise_in=OSError('x'))
        self.assertEqual(log, [('error', OSError), ('next', 2)])
        self.assertEqual(res, (None, []))

    def test_error_positive_code_is_handled(self):
        # As 0, as in the PyAwaitable library.
        log, res = self.run_codes(0, 1, raise_in=OSError('x'))
        self.assertEqual(log, [('error', OSError), ('next', 2)])
        self.assertEqual(res, (None, []))

    def test_error_positive_code_with_exception_set(self):
        log, exc = self.run_codes(0, (1, KeyError('k')),
                                  raise_in=OSError('x'))
        self.assertIsInstance(exc, SystemError)
        self.assertEqual(str(exc), 'awaitable error callback returned 1 '
                                   'with an exception set')
        self.assertIsInstance(exc.__cause__, KeyError)
        self.assertIsInstance(exc.__cause__.__context__, OSError)
        self.assertEqual(log, [('error', OSError)])

    def test_error_reraise_original(self):
        log, exc = self.run_codes(0, (-1, KeyError('ignored')),
                                  raise_in=OSError('x'))
        self.assertIsInstance(exc, OSError)
        self.assertEqual(log, [('error', OSError)])

    def test_error_raise_new(self):
        log, exc = self.run_codes(0, (-2, KeyError('new')),
                                  raise_in=OSError('x'))
        self.assertIsInstance(exc, KeyError)
        self.assertIsInstance(exc.__context__, OSError)

    def test_error_raise_new_without_exception(self):
        log, exc = self.run_codes(0, (-2, None), raise_in=OSError('x'))
        self.assertIsInstance(exc, SystemError)

    def test_error_callback_is_the_except_block(self):
        # While an error callback runs, the exception it was given is the
        # one being handled, as in the except block of an `async def`.
        aw = new()
        seen = []
        err = OSError('x')
        def on_error(aw, exc):
            seen.append(sys.exception())
            try:
                raise KeyError('in the callback')
            except KeyError as e:
                seen.append(e.__context__)
            return 0
        add_await(aw, raising(err), None, on_error)
        self.assertIsNone(sys.exception())
        run(aw)
        self.assertEqual(seen, [err, err])
        self.assertIsNone(sys.exception())

    def test_error_raise_chains_as_raise_in_except(self):
        # What an error callback raises is chained to what it was given as
        # `raise` in an except block chains it, without making a cycle.
        async def chained():
            try:
                raise ValueError('first')
            except ValueError:
                raise KeyError('second')
        for which in ('given', 'its context'):
            def raise_in_except():
                # The same in an `async def`, for reference.
                async def coro():
                    try:
                        await chained()
                    except KeyError as exc:
                        raise exc if which == 'given' else exc.__context__
                try:
                    run(coro())
                except BaseException as exc:
                    return exc
            def on_error(aw, exc):
                return (-2, exc if which == 'given' else exc.__context__)
            aw = new()
            add_await(aw, chained(), None, on_error)
            with self.subTest(which=which):
                with self.assertRaises(Exception) as cm:
                    run(aw)
                expected = raise_in_except()
                got = cm.exception
                self.assertIs(type(got), type(expected))
                self.assertEqual(context_chain(got), context_chain(expected))

    def test_error_raise_keeps_a_propagated_chain(self):
        # An exception that propagated out of a call made by the error
        # callback, set as it is, keeps its chain, which ends with the
        # exception handled; one set without a context gets it.
        def helper():
            try:
                {}['missing']
            except KeyError:
                raise ValueError('from helper')
        def propagated(aw, exc):
            try:
                helper()
            except ValueError as e:
                return (-2, e, 'as it is')
        def bare(aw, exc):
            e = ValueError('bare')
            e.__context__ = None
            return (-2, e, 'as it is')
        for on_error, expected in [
                (propagated, [ValueError, KeyError, OSError]),
                (bare, [ValueError, OSError])]:
            with self.subTest(on_error=on_error.__name__):
                aw = new()
                add_await(aw, raising(OSError('first')), None, on_error)
                with self.assertRaises(ValueError) as cm:
                    run(aw)
                self.assertEqual(context_chain(cm.exception), expected)

    def test_error_raise_not_an_exception(self):
        # C code may set anything with PyErr_SetRaisedException().
        aw = new()
        add_await(aw, raising(OSError('x')), None,
                  lambda aw, e: (-2, 42, 'as it is'))
        with self.assertRaisesRegex(SystemError, 'not a BaseException'):
            run(aw)

    def test_result_error_drops_what_the_callback_queued(self):
        # A result callback that fails skips the steps it queued, as the
        # rest of a try block is, even when its error callback handles the
        # exception.
        aw = new()
        log = []
        def on_result(aw, r):
            add_await(aw, value('queued'), lambda aw, r: log.append(r) or 0)
            return (-1, KeyError('k'))
        add_await(aw, value(1), on_result,
                  lambda aw, e: log.append(type(e)) or 0)
        add_await(aw, value('next'), lambda aw, r: log.append(r) or 0)
        self.assertEqual(run(aw), (None, []))
        self.assertEqual(log, [KeyError, 'next'])

    def test_dropping_queued_steps_keeps_what_releasing_them_queues(self):
        # The steps a failing callback queued are released one at a time,
        # out of the awaitable's critical section: a step that releasing
        # one queues (from a finalizer) is not one of them, and runs.
        aw = new()
        log = []
        def on_result(aw, r):
            add_await(aw, QueuesWhenReleased(aw, log))
            return (-1, KeyError('k'))
        add_await(aw, value(1), on_result,
                  lambda aw, e: log.append(type(e)) or 0)
        self.assertEqual(run(aw), (None, []))
        self.assertEqual(log, [0, KeyError, 'queued'])

    def test_error_callback_receives_exception(self):
        aw = new()
        seen = []
        err = OSError('x')
        add_await(aw, raising(err), None,
                  lambda a, e: seen.append((a, e)) or 0)
        run(aw)
        self.assertEqual(seen, [(aw, err)])

    def test_error_in_getting_iterator_goes_to_error_callback(self):
        class BadAwait:
            def __await__(self):
                raise LookupError
        aw = new()
        seen = []
        add_await(aw, BadAwait(), None,
                  lambda a, e: seen.append(type(e)) or 0)
        run(aw)
        self.assertEqual(seen, [LookupError])


class StopIterationTests(unittest.TestCase):
    # A StopIteration raised by the awaitable's own code would read as its
    # return to whoever sends to it: it becomes a RuntimeError, as it does
    # out of a coroutine (PEP 479).

    def assertConverted(self, aw, args=()):
        with self.assertRaisesRegex(RuntimeError,
                                    'awaitable raised StopIteration') as cm:
            run(aw)
        self.assertIsInstance(cm.exception.__cause__, StopIteration)
        self.assertIs(cm.exception.__context__, cm.exception.__cause__)
        self.assertEqual(cm.exception.__cause__.args, args)
        with self.assertRaisesRegex(RuntimeError, 'already awaited'):
            run(aw)

    def test_as_in_a_coroutine(self):
        async def coro():
            raise StopIteration
        with self.assertRaisesRegex(RuntimeError,
                                    'coroutine raised StopIteration'):
            run(coro())

    def test_from_result_callback(self):
        def on_result(aw, r):
            raise StopIteration('result')
        aw = new()
        add_await(aw, value(1), on_result)
        self.assertConverted(aw, ('result',))

    def test_from_error_callback(self):
        aw = new()
        add_await(aw, raising(KeyError()), None,
                  lambda aw, exc: (-2, StopIteration('error')))
        self.assertConverted(aw, ('error',))

    def test_from_defer_callback(self):
        aw = new()
        _testcapi.awaitable_defer_await(
            aw, slot(aw, lambda aw: (-1, StopIteration('defer'))))
        self.assertConverted(aw, ('defer',))

    def test_from___await__(self):
        class Awaitable:
            def __await__(self):
                raise StopIteration('await')
        aw = new()
        add_await(aw, Awaitable())
        self.assertConverted(aw, ('await',))

        # The same at the await that an awaiter takes over.
        async def awaiter(aw):
            return await aw
        aw = new()
        _testcapi.awaitable_return_await(aw, Awaitable())
        with self.assertRaises(RuntimeError) as cm:
            run(awaiter(aw))
        self.assertIsInstance(cm.exception.__cause__, StopIteration)

    def test_thrown_at_an_await_is_its_return(self):
        # Thrown into an await that has no throw(), it is raised at the
        # await, where it is the await's return, as in a coroutine.
        async def coro():
            return await NoThrow()
        c = coro()
        c.send(None)
        with self.assertRaises(StopIteration) as cm:
            c.throw(StopIteration('v'))
        self.assertEqual(cm.exception.value, 'v')

        aw = new()
        log = []
        add_await(aw, NoThrow(), lambda aw, r: log.append(r) or 0)
        self.assertEqual(aw.send(None), 'x')
        with self.assertRaises(StopIteration) as cm:
            aw.throw(StopIteration('v'))
        self.assertIsNone(cm.exception.value)
        self.assertEqual(log, ['v'])

    def test_thrown_before_start_passes_through(self):
        # As out of a coroutine that never started.
        aw = new()
        add_await(aw, Suspend())
        exc = StopIteration('thrown')
        with self.assertRaises(StopIteration) as cm:
            aw.throw(exc)
        self.assertIs(cm.exception, exc)

    def test_thrown_after_cancel_is_raised_by_the_awaitable(self):
        # Suspended, then cancelled: no await is in progress, and the
        # exception is raised where the awaitable stands, as in a suspended
        # coroutine, not as into one that never started.
        for unstarted in (False, True):
            with self.subTest(unstarted=unstarted):
                aw = new()
                add_await(aw, Suspend(2))
                if not unstarted:
                    self.assertEqual(aw.send(None), 'suspend0')
                _testcapi.awaitable_cancel(aw)
                exc = StopIteration('thrown')
                if unstarted:
                    with self.assertRaises(StopIteration) as cm:
                        aw.throw(exc)
                    self.assertIs(cm.exception, exc)
                else:
                    with self.assertRaisesRegex(
                            RuntimeError,
                            'awaitable raised StopIteration') as cm:
                        aw.throw(exc)
                    self.assertIs(cm.exception.__cause__, exc)

    def test_other_exceptions_unchanged(self):
        aw = new()
        exc = StopAsyncIteration()
        add_await(aw, raising(exc))
        with self.assertRaises(StopAsyncIteration) as cm:
            run(aw)
        self.assertIs(cm.exception, exc)


class AddExprTests(unittest.TestCase):
    def test_steals_reference(self):
        aw = new()
        obj = Suspend(0, result='r')
        refs = sys.getrefcount(obj)
        self.assertEqual(_testcapi.awaitable_add_expr(aw, obj), 0)
        self.assertEqual(sys.getrefcount(obj), refs + 1)   # the queue's
        run(aw)
        self.assertEqual(sys.getrefcount(obj), refs)

    def test_null_keeps_exception(self):
        aw = new()
        with self.assertRaises(ZeroDivisionError):
            _testcapi.awaitable_add_expr(aw, NULL)
        self.assertEqual(run(aw), (None, []))

    def test_rejected_still_stolen(self):
        aw = new()
        obj = object()
        refs = sys.getrefcount(obj)
        with self.assertRaises(TypeError):
            _testcapi.awaitable_add_expr(aw, obj)
        self.assertEqual(sys.getrefcount(obj), refs)
        run(aw)


class DeferAwaitTests(unittest.TestCase):
    def test_runs_lazily(self):
        aw = new()
        log = []
        def body(aw):
            log.append('body')
            add_await(aw, suspending('x'),
                      lambda aw, r: _testcapi.awaitable_set_result(aw, r))
            return 0
        self.assertEqual(_testcapi.awaitable_defer_await(aw, slot(aw, body)),
                         0)
        self.assertEqual(log, [])
        self.assertEqual(run(aw), ('x', ['suspend0']))
        self.assertEqual(log, ['body'])

    def test_error(self):
        aw = new()
        _testcapi.awaitable_defer_await(aw, slot(aw, lambda aw: 1 / 0))
        with self.assertRaises(ZeroDivisionError):
            run(aw)

    def test_error_without_exception(self):
        aw = new()
        _testcapi.awaitable_defer_await(aw, slot(aw, lambda aw: -1))
        with self.assertRaises(SystemError):
            run(aw)

    def test_positive_code_is_success(self):
        aw = new()
        log = []
        _testcapi.awaitable_defer_await(aw, slot(aw, lambda aw: 1))
        _testcapi.awaitable_defer_await(
            aw, slot(aw, lambda aw: log.append('next') or 0))
        self.assertEqual(run(aw), (None, []))
        self.assertEqual(log, ['next'])

    def test_success_with_exception(self):
        # Returning 0 with an exception set raises SystemError, caused by
        # that exception, as for the other callbacks; the steps after it
        # do not run.
        aw = new()
        log = []
        _testcapi.awaitable_defer_await(
            aw, slot(aw, lambda aw: (0, KeyError('k'))))
        _testcapi.awaitable_defer_await(
            aw, slot(aw, lambda aw: log.append('next') or 0))
        with self.assertRaisesRegex(
                SystemError, '^awaitable defer callback returned 0 with an '
                             'exception set$') as cm:
            run(aw)
        self.assertIsInstance(cm.exception.__cause__, KeyError)
        self.assertEqual(log, [])

    def test_null_callback(self):
        aw = new()
        with self.assertRaises(ValueError):
            _testcapi.awaitable_defer_await(aw, -1)
        run(aw)


class CancelTests(unittest.TestCase):
    def test_cancel_from_callback(self):
        aw = new()
        log = []
        def on_result(aw, r):
            _testcapi.awaitable_cancel(aw)
            return 0
        add_await(aw, value(1), on_result)
        add_await(aw, Suspend(0, 2), lambda aw, r: log.append(r) or 0)
        _testcapi.awaitable_set_result(aw, 'done')
        self.assertEqual(run(aw), ('done', []))
        self.assertEqual(log, [])

    def test_steps_queued_after_cancel_by_failing_callback_dropped(self):
        # A callback that cancels, queues steps, then fails: the steps it
        # queued are dropped as those of any failing callback, even when
        # the error callback handles the exception.  Those of a callback
        # that succeeds run.
        for code, expected in (((-1, KeyError('k')), [KeyError]),
                               (0, ['after cancel'])):
            with self.subTest(code=code):
                aw = new()
                log = []
                def on_result(aw, r):
                    _testcapi.awaitable_cancel(aw)
                    add_await(aw, Logged(log, 'after cancel'))
                    return code
                add_await(aw, value(1), on_result,
                          lambda aw, e: log.append(type(e)) or 0)
                self.assertEqual(run(aw), (None, []))
                self.assertEqual(log, expected)

    def test_cancel_bad_argument_is_unraisable(self):
        # PyAwaitable_Cancel() returns void: a bad argument is reported as
        # unraisable, and a pending exception would be kept.
        with support.catch_unraisable_exception() as cm:
            _testcapi.awaitable_cancel(42)
            self.assertIs(cm.unraisable.exc_type, SystemError)

    def test_add_after_finish_raises(self):
        aw = new()
        run(aw)
        coro = value(1)
        with self.assertRaisesRegex(RuntimeError, 'finished awaitable'):
            add_await(aw, coro)
        coro.close()

    def test_cancel_keeps_steps_queued_while_releasing(self):
        # The dropped steps are released after the queue is emptied: a step
        # that releasing one queues (from a finalizer) is kept, and runs.
        aw = new()
        log = []
        add_await(aw, Suspend())
        add_await(aw, QueuesWhenReleased(aw, log))
        self.assertEqual(aw.send(None), 'suspend0')
        _testcapi.awaitable_cancel(aw)
        self.assertEqual(log, [0])
        self.assertEqual(run(aw), (None, []))
        self.assertEqual(log, [0, 'queued'])

    def test_await_after_cancel_starts_with_none(self):
        # A send meant for an await that a cancel dropped does not go to
        # the next await, which starts with None whatever it awaits.
        for inner in (value('v'), Suspend(0, 'v')):
            with self.subTest(inner=type(inner).__name__):
                aw = new()
                log = []
                add_await(aw, Suspend())
                self.assertEqual(aw.send(None), 'suspend0')
                _testcapi.awaitable_cancel(aw)
                add_await(aw, inner, lambda aw, r: log.append(r) or 0)
                with self.assertRaises(StopIteration):
                    aw.send('for the dropped await')
                self.assertEqual(log, ['v'])

    def test_cancel_unawaited_does_not_warn(self):
        aw = new()
        add_await(aw, Suspend())
        _testcapi.awaitable_cancel(aw)
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            with support.catch_unraisable_exception() as cm:
                del aw
                gc_collect()
                self.assertIsNone(cm.unraisable)


def gc_collect():
    support.gc_collect()


class ValueTests(unittest.TestCase):
    def new(self):
        aw = new()
        self.addCleanup(_testcapi.awaitable_cancel, aw)
        return aw

    def test_save_unpack(self):
        aw = self.new()
        a, b, c = object(), object(), object()
        self.assertEqual(_testcapi.awaitable_save_values(aw, a, b), 0)
        self.assertEqual(_testcapi.awaitable_save_values(aw, c), 0)
        self.assertEqual(_testcapi.awaitable_unpack_values(aw, 3), (a, b, c))
        self.assertEqual(_testcapi.awaitable_get_value(aw, 1), b)
        self.assertEqual(_testcapi.awaitable_save_values(aw), 0)

    def test_unpack_skips_null(self):
        aw = self.new()
        a, b, c = object(), object(), object()
        _testcapi.awaitable_save_values(aw, a, b, c)
        self.assertEqual(_testcapi.awaitable_unpack_values(aw, 3, 0b101),
                         (None, b, None))

    def test_unpack_nothing_saved(self):
        aw = self.new()
        with self.assertRaises(RuntimeError):
            _testcapi.awaitable_unpack_values(aw, 0)
        run(aw)

    def test_inline_and_heap_storage(self):
        aw = self.new()
        objs = [object() for _ in range(20)]
        for obj in objs:
            _testcapi.awaitable_save_values(aw, obj)
        for i, obj in enumerate(objs):
            self.assertIs(_testcapi.awaitable_get_value(aw, i), obj)

    def test_save_null(self):
        aw = self.new()
        with self.assertRaises(ValueError):
            _testcapi.awaitable_save_values(aw, 1, NULL)
        with self.assertRaises(IndexError):
            _testcapi.awaitable_get_value(aw, 0)

    def test_set_value(self):
        aw = self.new()
        _testcapi.awaitable_save_values(aw, 1, 2)
        obj = object()
        refs = sys.getrefcount(obj)
        self.assertEqual(_testcapi.awaitable_set_value(aw, 1, obj), 0)
        self.assertEqual(sys.getrefcount(obj), refs + 1)
        _testcapi.awaitable_set_value(aw, 1, 'x')
        self.assertEqual(sys.getrefcount(obj), refs)
        self.assertEqual(_testcapi.awaitable_unpack_values(aw, 2), (1, 'x'))
        with self.assertRaises(ValueError):
            _testcapi.awaitable_set_value(aw, 0, NULL)

    def test_index_errors(self):
        aw = self.new()
        _testcapi.awaitable_save_values(aw, 1)
        for index in (-1, 1, sys.maxsize, -sys.maxsize - 1):
            with self.subTest(index=index):
                with self.assertRaises(IndexError):
                    _testcapi.awaitable_get_value(aw, index)
                with self.assertRaises(IndexError):
                    _testcapi.awaitable_set_value(aw, index, 2)
        self.assertEqual(_testcapi.awaitable_get_value(aw, 0), 1)

    def test_arb_values(self):
        aw = self.new()
        self.assertEqual(_testcapi.awaitable_save_arb_values(aw, 1, NULL), 0)
        self.assertEqual(_testcapi.awaitable_save_arb_values(aw, 3), 0)
        self.assertEqual(_testcapi.awaitable_unpack_arb_values(aw, 3),
                         (1, None, 3))
        self.assertEqual(_testcapi.awaitable_unpack_arb_values(aw, 3, 0b001),
                         (None, None, 3))
        self.assertIsNone(_testcapi.awaitable_get_arb_value(aw, 1))
        self.assertEqual(_testcapi.awaitable_get_arb_value(aw, 2), 3)
        self.assertEqual(_testcapi.awaitable_set_arb_value(aw, 1, 7), 0)
        self.assertEqual(_testcapi.awaitable_set_arb_value(aw, 0, NULL), 0)
        self.assertEqual(_testcapi.awaitable_unpack_arb_values(aw, 3),
                         (None, 7, 3))
        for index in (-1, 3):
            with self.assertRaises(IndexError):
                _testcapi.awaitable_get_arb_value(aw, index)
            with self.assertRaises(IndexError):
                _testcapi.awaitable_set_arb_value(aw, index, 1)
        for i in range(10):
            _testcapi.awaitable_save_arb_values(aw, i + 100)
        self.assertEqual(_testcapi.awaitable_get_arb_value(aw, 12), 109)
        run(aw)

    def test_arb_unpack_nothing_saved(self):
        aw = self.new()
        with self.assertRaises(RuntimeError):
            _testcapi.awaitable_unpack_arb_values(aw, 0)
        run(aw)

    def test_values_kept_alive(self):
        aw = new()
        class Obj:
            pass
        obj = Obj()
        ref = weakref.ref(obj)
        _testcapi.awaitable_save_values(aw, obj)
        del obj
        self.assertIsNotNone(ref())
        run(aw)
        del aw
        self.assertIsNone(ref())


class Manager:
    def __init__(self, log, suppress=False, fail_enter=False):
        self.log = log
        self.suppress = suppress
        self.fail_enter = fail_enter

    async def __aenter__(self):
        self.log.append('enter')
        await Suspend()
        if self.fail_enter:
            raise LookupError('enter')
        return 'resource'

    async def __aexit__(self, typ, exc, tb):
        self.log.append(('exit', typ))
        await Suspend()
        return self.suppress


class Lock:
    """A context manager that logs its acquire and its release, neither
    of which suspends."""
    def __init__(self, log):
        self.log = log

    async def __aenter__(self):
        self.log.append('acquire')

    async def __aexit__(self, typ, exc, tb):
        self.log.append(('release', typ))


class AsyncWithTests(unittest.TestCase):
    def test_body_gets_callers_awaitable(self):
        aw = new()
        log = []
        _testcapi.awaitable_save_values(aw, 'local')
        _nslots[aw] = 1
        def body(a, res):
            self.assertIs(a, aw)
            log.append(('body', res, _testcapi.awaitable_get_value(a, 0)))
            _testcapi.awaitable_set_result(a, 'result')
            return 0
        self.assertEqual(_testcapi.awaitable_async_with(
            aw, Manager(log), slot(aw, body)), 0)
        self.assertEqual(log, [])
        self.assertEqual(run(aw)[0], 'result')
        self.assertEqual(log, ['enter', ('body', 'resource', 'local'),
                               ('exit', None)])

    def test_body_awaits_run_inside(self):
        aw = new()
        log = []
        def body(aw, res):
            add_await(aw, value('inner'), lambda aw, r: log.append(r) or 0)
            return 0
        _testcapi.awaitable_async_with(aw, Manager(log), slot(aw, body))
        add_await(aw, value('after'), lambda aw, r: log.append(r) or 0)
        run(aw)
        self.assertEqual(log, ['enter', 'inner', ('exit', None), 'after'])

    def test_cancel_in_body(self):
        # Cancelled from the body callback: the body's steps are dropped,
        # __aexit__ is still awaited (as in the PyAwaitable library).
        aw = new()
        log = []
        def body(aw, res):
            add_await(aw, value('inner'), lambda aw, r: log.append(r) or 0)
            _testcapi.awaitable_cancel(aw)
            return 0
        _testcapi.awaitable_async_with(aw, Manager(log), slot(aw, body))
        add_await(aw, value('after'), lambda aw, r: log.append(r) or 0)
        run(aw)
        self.assertEqual(log, ['enter', ('exit', None)])

        # Cancelled from a step of the body: __aexit__ is dropped too.
        aw = new()
        log = []
        def step(aw, r):
            log.append(r)
            _testcapi.awaitable_cancel(aw)
            return 0
        def body(aw, res):
            add_await(aw, value('inner'), step)
            return 0
        _testcapi.awaitable_async_with(aw, Manager(log), slot(aw, body))
        run(aw)
        self.assertEqual(log, ['enter', 'inner'])

    def test_cancel_in_aexit_drops_the_exception(self):
        # Cancelled while __aexit__ handles the body's exception, from its
        # call or from its await: the exception is dropped with the rest,
        # as a return statement in a finally clause drops it, and the
        # awaitable finishes with its result.
        for when in ('call', 'await'):
            with self.subTest(when=when):
                aw = new()
                log = []
                class Cancels(Manager):
                    def __aexit__(self, typ, exc, tb):
                        log.append(('exit', typ))
                        if when == 'call':
                            _testcapi.awaitable_cancel(aw)
                        return self.exit()
                    async def exit(self):
                        await Suspend()
                        if when == 'await':
                            _testcapi.awaitable_cancel(aw)
                        log.append('exited')
                        return False
                body = slot(aw, lambda aw, res: (-1, KeyError('body')))
                _testcapi.awaitable_async_with(aw, Cancels(log), body)
                _testcapi.awaitable_set_result(aw, 'result')
                self.assertEqual(run(aw),
                                 ('result', ['suspend0', 'suspend0']))
                self.assertEqual(log, ['enter', ('exit', KeyError),
                                       'exited'])

    def test_unwinding_keeps_what_releasing_skipped_steps_queues(self):
        # The steps an exception skips are released one at a time, out of
        # the awaitable's critical section: a step that releasing one
        # queues (from a finalizer) goes after the pending __aexit__, and
        # runs once it has suppressed the exception.
        aw = new()
        log = []
        def body(aw, res):
            add_await(aw, raising(KeyError('step')))
            add_await(aw, QueuesWhenReleased(aw, log))
            return 0
        _testcapi.awaitable_async_with(aw, Manager(log, suppress=True),
                                       slot(aw, body))
        self.assertEqual(run(aw), (None, ['suspend0', 'suspend0']))
        self.assertEqual(log, ['enter', 0, ('exit', KeyError), 'queued'])

    def test_body_failure_keeps_aexit_next(self):
        # A step that releasing the failed body's steps queues (from a
        # finalizer) is not body code: it runs after __aexit__, if that
        # suppresses the exception, and is dropped with the rest if not.
        for suppress in (False, True):
            with self.subTest(suppress=suppress):
                aw = new()
                log = []
                def body(aw, res):
                    add_await(aw, QueuesWhenReleased(aw, log))
                    return -1, KeyError('body')
                _testcapi.awaitable_async_with(
                    aw, Manager(log, suppress=suppress), slot(aw, body))
                if suppress:
                    self.assertEqual(run(aw),
                                     (None, ['suspend0', 'suspend0']))
                    self.assertEqual(log, ['enter', 0, ('exit', KeyError),
                                           'queued'])
                else:
                    with self.assertRaises(KeyError):
                        run(aw)
                    self.assertEqual(log, ['enter', 0, ('exit', KeyError)])

    def test_body_failure_reaches_aexit(self):
        for code in (-1, -2):
            with self.subTest(code=code):
                aw = new()
                log = []
                body = slot(aw, lambda aw, res: (code, KeyError('body')))
                _testcapi.awaitable_async_with(aw, Manager(log), body)
                with self.assertRaises(KeyError):
                    run(aw)
                self.assertEqual(log, ['enter', ('exit', KeyError)])

    def test_body_failure_drops_what_the_body_queued(self):
        # The steps that a failing body callback queued are the rest of
        # the body: they do not run, and __aexit__ gets the exception.
        for code in (-1, -2):
            with self.subTest(code=code):
                aw = new()
                log = []
                class Step:
                    def __await__(self):
                        log.append('step')
                        raise OSError('step')
                        yield
                def body(aw, res):
                    add_await(aw, Step())
                    return code, KeyError('body')
                _testcapi.awaitable_async_with(aw, Manager(log),
                                               slot(aw, body))
                with self.assertRaises(KeyError):
                    run(aw)
                self.assertEqual(log, ['enter', ('exit', KeyError)])

    def test_body_failure_after_cancel_drops_what_the_body_queued(self):
        # The same when the body cancelled before it queued them: the
        # steps are still the rest of the body.
        aw = new()
        log = []
        def body(aw, res):
            _testcapi.awaitable_cancel(aw)
            add_await(aw, Logged(log, 'step'))
            return -1, KeyError('body')
        _testcapi.awaitable_async_with(aw, Manager(log), slot(aw, body))
        with self.assertRaises(KeyError):
            run(aw)
        self.assertEqual(log, ['enter', ('exit', KeyError)])

    def test_aexit_failure_keeps_body_exception(self):
        # As in `async with`: what __aexit__ raises while it handles the
        # body's exception has that one as its context, whether its call,
        # its await or the truth test of its result raised.
        class BadBool:
            def __bool__(self):
                raise LookupError('bool')
        class RaisingAwait:
            async def __aenter__(self):
                pass
            async def __aexit__(self, *exc_info):
                raise LookupError('await')
        class RaisingCall(RaisingAwait):
            def __aexit__(self, *exc_info):
                raise LookupError('call')
        class RaisingBool(RaisingAwait):
            async def __aexit__(self, *exc_info):
                return BadBool()
        for manager in RaisingAwait, RaisingCall, RaisingBool:
            with self.subTest(manager=manager.__name__):
                aw = new()
                body = slot(aw, lambda aw, res: (-1, KeyError('body')))
                _testcapi.awaitable_async_with(aw, manager(), body)
                with self.assertRaises(LookupError) as cm:
                    run(aw)
                self.assertIsInstance(cm.exception.__context__, KeyError)
                self.assertIsNone(cm.exception.__context__.__context__)

        async def coro():
            async with RaisingAwait():
                raise KeyError('body')
        with self.assertRaises(LookupError) as cm:
            run(coro())
        self.assertIsInstance(cm.exception.__context__, KeyError)

    def test_aexit_handles_body_exception(self):
        # As in `async with`: while __aexit__ handles the body's exception,
        # that is the exception being handled (sys.exception()): at its
        # call, its __await__, its sends (across a suspension) and the
        # truth test of its result; not while the awaitable is suspended,
        # nor after.
        seen = []
        class Truth:
            def __bool__(self):
                seen.append(('bool', type(sys.exception())))
                return True
        class Result:
            def __await__(self):
                seen.append(('__await__', type(sys.exception())))
                return (yield from self.coro.__await__())
        class Manager:
            async def __aenter__(self):
                pass
            def __aexit__(self, *exc_info):
                seen.append(('call', type(sys.exception())))
                result = Result()
                result.coro = self.aexit()
                return result
            async def aexit(self):
                seen.append(('send', type(sys.exception())))
                try:
                    await Suspend()
                except ValueError:
                    seen.append(('except', type(sys.exception())))
                seen.append(('end', type(sys.exception())))
                return Truth()

        def drive(aw, throw=False):
            seen.clear()
            self.assertEqual(aw.send(None), 'suspend0')
            self.assertIsNone(sys.exception())
            with self.assertRaises(StopIteration):
                if throw:
                    aw.throw(ValueError('thrown'))
                else:
                    aw.send(None)
            self.assertIsNone(sys.exception())
            return seen

        def with_body_exception():
            aw = new()
            body = slot(aw, lambda aw, res: (-1, KeyError('body')))
            _testcapi.awaitable_async_with(aw, Manager(), body)
            return aw

        async def coro():
            async with Manager():
                raise KeyError('body')

        expected = [('call', KeyError), ('__await__', KeyError),
                    ('send', KeyError), ('end', KeyError), ('bool', KeyError)]
        self.assertEqual(drive(coro()), expected)
        self.assertEqual(drive(with_body_exception()), expected)

        # Also after a throw(), which a coroutine gets wrong (gh-108668:
        # 'end' sees None there).
        self.assertEqual(drive(with_body_exception(), throw=True),
                         [('call', KeyError), ('__await__', KeyError),
                          ('send', KeyError), ('except', ValueError),
                          ('end', KeyError), ('bool', KeyError)])

        # Without an exception, there is none to handle (and the result
        # of __aexit__ is not tested).
        aw = new()
        _testcapi.awaitable_async_with(aw, Manager())
        self.assertEqual(drive(aw),
                         [(step, type(None)) for step, _ in expected[:-1]])

    def test_aexit_failure_chain_ends_with_body_exception(self):
        # __aexit__ raises while it handles an exception of its own: the
        # body's exception ends the chain, as in `async with`, and is not
        # chained to itself when __aexit__ raises it again.
        class Manager:
            async def __aenter__(self):
                pass
            async def __aexit__(self, typ, exc, tb):
                if exc.args == ('again',):
                    raise exc
                try:
                    1 / 0
                except ZeroDivisionError:
                    raise LookupError('exit')

        aw = new()
        body = slot(aw, lambda aw, res: (-1, KeyError('body')))
        _testcapi.awaitable_async_with(aw, Manager(), body)
        with self.assertRaises(LookupError) as cm:
            run(aw)
        chain = cm.exception.__context__
        self.assertIsInstance(chain, ZeroDivisionError)
        self.assertIsInstance(chain.__context__, KeyError)
        self.assertIsNone(chain.__context__.__context__)

        aw = new()
        body_exc = KeyError('again')
        body = slot(aw, lambda aw, res: (-1, body_exc))
        _testcapi.awaitable_async_with(aw, Manager(), body)
        with self.assertRaises(KeyError) as cm:
            run(aw)
        self.assertIs(cm.exception, body_exc)
        self.assertIsNone(body_exc.__context__)

    def test_body_failure_to_error_callback(self):
        aw = new()
        log = []
        body = slot(aw, lambda aw, res: (-1, KeyError('body')))
        err = slot(aw, lambda aw, exc: log.append(type(exc)) or 0)
        _testcapi.awaitable_async_with(aw, Manager(log), body, err)
        run(aw)
        self.assertEqual(log, ['enter', ('exit', KeyError), KeyError])

    def test_body_failure_skipping_error_callback(self):
        aw = new()
        log = []
        body = slot(aw, lambda aw, res: (-2, KeyError('body')))
        err = slot(aw, lambda aw, exc: log.append(type(exc)) or 0)
        _testcapi.awaitable_async_with(aw, Manager(log), body, err)
        with self.assertRaises(KeyError):
            run(aw)
        self.assertEqual(log, ['enter', ('exit', KeyError)])

    def test_aexit_suppresses(self):
        aw = new()
        log = []
        body = slot(aw, lambda aw, res: (-1, KeyError('body')))
        _testcapi.awaitable_async_with(aw, Manager(log, suppress=True), body)
        add_await(aw, value('after'), lambda aw, r: log.append(r) or 0)
        run(aw)
        self.assertEqual(log, ['enter', ('exit', KeyError), 'after'])

    def test_failing_body_await_reaches_aexit(self):
        aw = new()
        log = []
        def body(aw, res):
            add_await(aw, raising(OSError('inner')))
            add_await(aw, Suspend(0, 'skipped'),
                      lambda aw, r: log.append(r) or 0)
            return 0
        _testcapi.awaitable_async_with(aw, Manager(log), slot(aw, body))
        with self.assertRaises(OSError):
            run(aw)
        self.assertEqual(log, ['enter', ('exit', OSError)])

    def test_aenter_failure_skips_aexit(self):
        aw = new()
        log = []
        body = slot(aw, lambda aw, res: log.append('body') or 0)
        _testcapi.awaitable_async_with(aw, Manager(log, fail_enter=True),
                                       body)
        with self.assertRaises(LookupError):
            run(aw)
        self.assertEqual(log, ['enter'])

    def test_dropped_before_start_closes_what_aenter_returned(self):
        # __aenter__() is called when the step is queued; if the step is
        # dropped before it starts, `async with` was never reached, and
        # what __aenter__() returned is closed rather than left to warn
        # that it was never awaited: by a cancel, by an exception that
        # skips the step, or by close() before the first send.
        class Fails:
            # Not a coroutine: dropped, it does not warn.
            def __await__(self):
                raise OSError('x')
                yield

        class Makes:
            def __init__(self, make):
                self.make = make
            def __aenter__(self):
                return self.make()
            async def __aexit__(self, *exc_info):
                log.append('exit')

        def drop_by_cancel(aw):
            _testcapi.awaitable_cancel(aw)
            self.assertEqual(run(aw), (None, []))

        def drop_by_exception(aw):
            with self.assertRaises(OSError):
                run(aw)

        def drop_by_close(aw):
            aw.close()

        def in_thread(drop):
            # Another thread than the one that called __aenter__() drops
            # the step (on the free-threaded build, an object belongs to
            # the thread that made it).
            def drop_in_thread(aw):
                errors = []
                def target():
                    try:
                        drop(aw)
                    except BaseException as exc:
                        errors.append(exc)
                thread = threading.Thread(target=target)
                thread.start()
                thread.join()
                if errors:
                    raise errors[0]
            return drop_in_thread

        log = []
        for drop in (drop_by_cancel, drop_by_exception, drop_by_close):
            for where in ((lambda drop: drop), in_thread):
                if where is in_thread and not threading_helper.can_start_thread:
                    continue
                for make in (lambda: value('v'), _testcapi.async_noargs):
                    with self.subTest(drop=drop.__name__, make=make,
                                      thread=where is in_thread):
                        aw = new()
                        add_await(aw, Fails())
                        _testcapi.awaitable_async_with(aw, Makes(make))
                        with warnings.catch_warnings(record=True) as w:
                            warnings.simplefilter('always')
                            where(drop)(aw)
                            del aw
                            gc_collect()
                        self.assertEqual(w, [])
        self.assertEqual(log, [])

    def test_dropped_step_leaves_what_aenter_shares(self):
        # Closed only if the step held it alone: held elsewhere, it may
        # still be awaited there.
        coro = value('v')
        class Shares:
            def __aenter__(self):
                return coro
            async def __aexit__(self, *exc_info):
                pass
        aw = new()
        _testcapi.awaitable_async_with(aw, Shares())
        _testcapi.awaitable_cancel(aw)
        self.assertEqual(run(aw), (None, []))
        self.assertEqual(inspect.getcoroutinestate(coro),
                         inspect.CORO_CREATED)
        self.assertEqual(run(coro), ('v', []))

        # Nor the awaitable itself, which a cancel finishes with its
        # result.
        aw = new()
        class ReturnsAwaitable:
            def __aenter__(self):
                return aw
            async def __aexit__(self, *exc_info):
                pass
        _testcapi.awaitable_set_result(aw, 'r')
        _testcapi.awaitable_async_with(aw, ReturnsAwaitable())
        _testcapi.awaitable_cancel(aw)
        self.assertEqual(run(aw), ('r', []))

    def test_dropped_awaited_coroutine_warns(self):
        # What the C code queued itself is released as it is: a coroutine
        # it made and never awaited warns, as one made in Python does.
        # PyAwaitable_DeferAwait() makes it only when it is reached.
        aw = new()
        add_await(aw, raising(OSError('x')))
        coro = value('v')
        add_await(aw, coro)
        del coro
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            with self.assertRaises(OSError):
                run(aw)
            gc_collect()
        self.assertEqual([str(x.message) for x in w],
                         ["coroutine 'value' was never awaited"])

    def test_refused_when_finished_before_aenter(self):
        log = []
        class Calls:
            def __aenter__(self):
                log.append('__aenter__')
                return Suspend(0)
            def __aexit__(self, *exc_info):
                return Suspend(0)
        aw = new()
        run(aw)
        with self.assertRaisesRegex(RuntimeError, 'finished awaitable'):
            _testcapi.awaitable_async_with(aw, Calls())
        self.assertEqual(log, [])

    def test_not_a_context_manager(self):
        aw = new()
        with self.assertRaises(TypeError):
            _testcapi.awaitable_async_with(aw, object())
        class NoExit:
            async def __aenter__(self):
                pass
        with self.assertRaises(TypeError):
            _testcapi.awaitable_async_with(aw, NoExit())
        class NotAwaitable:
            def __aenter__(self):
                return 1
            def __aexit__(self, *args):
                return 1
        with self.assertRaises(TypeError):
            _testcapi.awaitable_async_with(aw, NotAwaitable())
        run(aw)

    def sent_once_in(self, manager):
        """An awaitable doing `async with manager` whose body awaits
        Suspend(), sent to once: suspended in the body if __aenter__ does
        not suspend, else in __aenter__."""
        aw = new()
        _testcapi.awaitable_async_with(
            aw, manager,
            slot(aw, lambda aw, r: add_await(aw, Suspend())))
        aw.send(None)
        return aw

    def test_close_awaits_aexit(self):
        # Closed in the body of `async with`, the awaitable awaits
        # __aexit__ with GeneratorExit, as a coroutine does: a lock is
        # released, a transaction rolled back.
        expected = ['acquire', ('release', GeneratorExit)]
        log = []
        aw = self.sent_once_in(Lock(log))
        self.assertIsNone(aw.close())
        self.assertEqual(log, expected)
        log = []
        async def coro():
            async with Lock(log):
                await Suspend()
        c = coro()
        c.send(None)
        self.assertIsNone(c.close())
        self.assertEqual(log, expected)

    def test_finalize_awaits_aexit(self):
        log = []
        aw = self.sent_once_in(Lock(log))
        with support.catch_unraisable_exception() as cm:
            del aw
            gc_collect()
            self.assertIsNone(cm.unraisable)
        self.assertEqual(log, ['acquire', ('release', GeneratorExit)])

    def test_close_with_aexit_that_suspends(self):
        # An __aexit__ that suspends ignores GeneratorExit: RuntimeError,
        # as out of a coroutine's close().
        log = []
        aw = self.sent_once_in(Manager(log))         # in __aenter__
        self.assertEqual(aw.send(None), 'suspend0')  # in the body
        with self.assertRaisesRegex(RuntimeError, 'ignored GeneratorExit'):
            aw.close()
        self.assertEqual(log, ['enter', ('exit', GeneratorExit)])
        self.assertTrue(aw.cr_suspended)
        # __aexit__ finishes, not suppressing: GeneratorExit goes on.
        with self.assertRaises(GeneratorExit):
            aw.send(None)
        log = []
        async def coro():
            async with Manager(log):
                await Suspend()
        c = coro()
        c.send(None)
        c.send(None)
        with self.assertRaisesRegex(RuntimeError, 'ignored GeneratorExit'):
            c.close()
        self.assertEqual(log, ['enter', ('exit', GeneratorExit)])
        with self.assertRaises(GeneratorExit):
            c.send(None)

    def test_close_in_aexit_after_body_exception(self):
        # Closed while __aexit__ handles the body's exception, the
        # awaitable closes the await of __aexit__ before it handles that
        # exception again, as a coroutine does (gen_close_iter()): the
        # GeneratorExit that __aexit__ gets is not chained to it.
        seen = []
        class Manager:
            async def __aenter__(self):
                pass
            async def __aexit__(self, typ, exc, tb):
                try:
                    await Suspend()
                except GeneratorExit as exit:
                    seen.append((typ, exit.__context__))
                    raise
        aw = new()
        body = slot(aw, lambda aw, res: (-1, KeyError('body')))
        _testcapi.awaitable_async_with(aw, Manager(), body)
        async def coro():
            async with Manager():
                raise KeyError('body')
        for awaitable in (aw, coro()):
            self.assertEqual(awaitable.send(None), 'suspend0')
            self.assertIsNone(awaitable.close())
            self.assertIsNone(sys.exception())
        self.assertEqual(seen, [(KeyError, None)] * 2)


class AsyncForTests(unittest.TestCase):
    async def agen(self, n, fail=False):
        for i in range(n):
            await Suspend()
            yield i
        if fail:
            raise OSError('iteration')

    def test_iterates(self):
        aw = new()
        items = []
        item = slot(aw, lambda aw, i: items.append(i) or 0)
        self.assertEqual(_testcapi.awaitable_async_for(aw, self.agen(3), item),
                         0)
        result, yielded = run(aw)
        self.assertEqual(items, [0, 1, 2])
        self.assertEqual(len(yielded), 3)

    def test_item_callback_awaits_in_order(self):
        aw = new()
        log = []
        def item(aw, i):
            add_await(aw, value(i * 10), lambda aw, r: log.append(r) or 0)
            return 0
        _testcapi.awaitable_async_for(aw, self.agen(3), slot(aw, item))
        add_await(aw, value('after'), lambda aw, r: log.append(r) or 0)
        run(aw)
        self.assertEqual(log, [0, 10, 20, 'after'])

    def test_iteration_error(self):
        aw = new()
        items = []
        errors = []
        item = slot(aw, lambda aw, i: items.append(i) or 0)
        err = slot(aw, lambda aw, e: errors.append(type(e)) or 0)
        _testcapi.awaitable_async_for(aw, self.agen(2, fail=True), item, err)
        run(aw)
        self.assertEqual(items, [0, 1])
        self.assertEqual(errors, [OSError])

    def test_item_callback_error(self):
        aw = new()
        item = slot(aw, lambda aw, i: (-1, KeyError(i)))
        _testcapi.awaitable_async_for(aw, self.agen(3), item)
        with self.assertRaises(KeyError):
            run(aw)

    def test_body_error_reaches_error_callback(self):
        # An exception raised by a step of the loop's body (what the item
        # callback queued) that the step does not handle ends the loop and
        # goes to its error callback, as if the loop were in a try
        # statement; what the error callback queues runs next.
        aw = new()
        log = []
        def item(aw, i):
            add_await(aw, raising(KeyError(i)) if i == 1 else value(i),
                      lambda aw, r: log.append(r) or 0)
            return 0
        def on_error(aw, exc):
            log.append(('error', repr(exc), repr(sys.exception())))
            add_await(aw, value('from error callback'),
                      lambda aw, r: log.append(r) or 0)
            return 0
        _testcapi.awaitable_async_for(aw, self.agen(3), slot(aw, item),
                                      slot(aw, on_error))
        add_await(aw, value('after'), lambda aw, r: log.append(r) or 0)
        run(aw)
        self.assertEqual(log, [0, ('error', 'KeyError(1)', 'KeyError(1)'),
                               'from error callback', 'after'])

    def test_body_error_not_handled(self):
        # Not handled, it goes on past the loop; without an error callback,
        # likewise.
        for on_error in (lambda aw, e: -1, None):
            aw = new()
            def item(aw, i):
                add_await(aw, raising(KeyError(i)))
                return 0
            err = slot(aw, on_error) if on_error else -1
            _testcapi.awaitable_async_for(aw, self.agen(3), slot(aw, item),
                                          err)
            add_await(aw, value('after'))
            with self.assertRaises(KeyError):
                run(aw)

    def test_error_before_loop_not_caught(self):
        # A step before the loop is outside it: its exception does not go
        # to the loop's error callback.
        aw = new()
        log = []
        add_await(aw, raising(KeyError('before')))
        _testcapi.awaitable_async_for(
            aw, self.agen(1), slot(aw, lambda aw, i: 0),
            slot(aw, lambda aw, e: log.append(e) or 0))
        with self.assertRaises(KeyError):
            run(aw)
        self.assertEqual(log, [])

    def test_body_error_reaches_aexit_inside_the_body_first(self):
        aw = new()
        log = []
        def item(aw, i):
            body = slot(aw, lambda aw, v: add_await(aw, raising(KeyError(i)))
                        or 0)
            _testcapi.awaitable_async_with(aw, Manager(log, suppress=True),
                                           body)
            return 0
        _testcapi.awaitable_async_for(
            aw, self.agen(2), slot(aw, item),
            slot(aw, lambda aw, e: log.append('loop error') or 0))
        run(aw)
        self.assertEqual(log, ['enter', ('exit', KeyError)] * 2)

    def test_item_callback_error_drops_what_it_queued(self):
        # The loop ends, and what the failing item callback queued (the
        # rest of that item's body) does not run.
        aw = new()
        log = []
        def item(aw, i):
            add_await(aw, value(f'body {i}'),
                      lambda aw, r: log.append(r) or 0)
            return (-1, KeyError(i)) if i == 1 else 0
        err = slot(aw, lambda aw, e: log.append(repr(e)) or 0)
        _testcapi.awaitable_async_for(aw, self.agen(3), slot(aw, item), err)
        run(aw)
        self.assertEqual(log, ['body 0', 'KeyError(1)'])

    def test_refused_when_finished_before_aiter(self):
        log = []
        class Iterable:
            def __aiter__(self):
                log.append('__aiter__')
                return self
            async def __anext__(self):
                raise StopAsyncIteration
        aw = new()
        run(aw)
        with self.assertRaisesRegex(RuntimeError, 'finished awaitable'):
            _testcapi.awaitable_async_for(aw, Iterable())
        self.assertEqual(log, [])

    def test_not_async_iterable(self):
        aw = new()
        with self.assertRaises(TypeError):
            _testcapi.awaitable_async_for(aw, [1, 2])
        class BadIter:
            def __aiter__(self):
                return 1
        with self.assertRaises(TypeError):
            _testcapi.awaitable_async_for(aw, BadIter())
        with self.assertRaises(ValueError):
            _testcapi.awaitable_async_for(aw, NULL)
        run(aw)


class ProtocolTests(unittest.TestCase):
    def test_await_returns_self(self):
        aw = new()
        self.assertIs(aw.__await__(), aw)
        run(aw)

    def test_send_non_none_first(self):
        aw = new()
        with self.assertRaises(TypeError):
            aw.send(1)
        run(aw)

    def test_send_reaches_inner(self):
        aw = new()
        inner = Suspend(2)
        add_await(aw, inner)
        self.assertEqual(aw.send(None), 'suspend0')
        self.assertEqual(aw.send('a'), 'suspend1')
        with self.assertRaises(StopIteration):
            aw.send('b')
        self.assertEqual(inner.sent, ['a', 'b'])

    def test_next(self):
        aw = new()
        add_await(aw, Suspend())
        _testcapi.awaitable_set_result(aw, 3)
        self.assertEqual(next(aw), 'suspend0')
        with self.assertRaises(StopIteration) as cm:
            next(aw)
        self.assertEqual(cm.exception.value, 3)

    def test_reuse_after_finish(self):
        aw = new()
        run(aw)
        with self.assertRaisesRegex(RuntimeError, 'cannot reuse'):
            aw.send(None)
        with self.assertRaisesRegex(RuntimeError, 'cannot reuse'):
            aw.__await__()
        async def main():
            await aw
        with self.assertRaisesRegex(RuntimeError, 'cannot reuse'):
            run(main())

    def test_await_while_awaited(self):
        aw = new()
        add_await(aw, Suspend())
        aw.send(None)
        with self.assertRaisesRegex(RuntimeError, 'awaited already'):
            aw.__await__()
        async def other():
            await aw
        with self.assertRaisesRegex(RuntimeError, 'awaited already'):
            run(other())
        run(aw)

    def test_awaitable_awaiting_awaitable(self):
        # An awaitable queued in another is sent to directly while it was
        # never awaited, and refused as `await` refuses it otherwise.
        inner = new()
        _testcapi.awaitable_set_result(inner, 5)
        aw = new()
        results = []
        add_await(aw, inner, lambda a, r: results.append(r) or 0)
        run(aw)
        self.assertEqual(results, [5])

        aw = new()
        add_await(aw, inner)
        with self.assertRaisesRegex(RuntimeError, 'cannot reuse'):
            run(aw)

        started = new()
        add_await(started, Suspend())
        started.send(None)
        aw = new()
        add_await(aw, started)
        with self.assertRaisesRegex(RuntimeError, 'awaited already'):
            run(aw)
        run(started)

    def test_reuse_after_error(self):
        aw = new()
        add_await(aw, raising(OSError()))
        with self.assertRaises(OSError):
            run(aw)
        with self.assertRaises(RuntimeError):
            aw.send(None)

    def test_reentry(self):
        aw = new()
        seen = []
        def on_result(a, r):
            seen.append(a.cr_running)
            with self.assertRaisesRegex(ValueError, 'already executing'):
                a.send(None)
            with self.assertRaisesRegex(ValueError, 'already executing'):
                a.throw(KeyError)
            with self.assertRaisesRegex(ValueError, 'already executing'):
                a.close()
            return 0
        add_await(aw, value(1), on_result)
        run(aw)
        self.assertEqual(seen, [True])

    def test_send_from_another_thread(self):
        aw = new()
        errors = []
        def other():
            try:
                aw.send(None)
            except ValueError as exc:
                errors.append(exc)
        def on_result(a, r):
            t = threading.Thread(target=other)
            t.start()
            t.join()
            return 0
        add_await(aw, value(1), on_result)
        run(aw)
        self.assertEqual(len(errors), 1)

    def test_throw_reaches_inner(self):
        aw = new()
        class Catching:
            def __await__(self):
                try:
                    yield 'wait'
                except KeyError:
                    return 'caught'
        results = []
        add_await(aw, Catching(), lambda aw, r: results.append(r) or 0)
        aw.send(None)
        with self.assertRaises(StopIteration):
            aw.throw(KeyError)
        self.assertEqual(results, ['caught'])

    def test_throw_inner_yields_again(self):
        aw = new()
        class Catching:
            def __await__(self):
                try:
                    yield 'wait'
                except KeyError:
                    yield 'again'
                return 'done'
        add_await(aw, Catching())
        aw.send(None)
        self.assertEqual(aw.throw(KeyError), 'again')
        with self.assertRaises(StopIteration):
            aw.send(None)

    def test_throw_to_error_callback_then_next_await(self):
        aw = new()
        log = []
        add_await(aw, Suspend(), None,
                  lambda aw, e: log.append(type(e)) or 0)
        add_await(aw, value('next'), lambda aw, r: log.append(r) or 0)
        aw.send(None)
        with self.assertRaises(StopIteration):
            aw.throw(KeyError('x'))
        self.assertEqual(log, [KeyError, 'next'])

    def test_throw_propagates(self):
        aw = new()
        add_await(aw, Suspend())
        aw.send(None)
        with self.assertRaises(KeyError):
            aw.throw(KeyError('x'))
        with self.assertRaises(RuntimeError):
            aw.send(None)

    def test_throw_into_object_without_throw(self):
        aw = new()
        log = []
        add_await(aw, NoThrow(), None,
                  lambda aw, e: log.append(type(e)) or 0)
        self.assertEqual(aw.send(None), 'x')
        with self.assertRaises(StopIteration):
            aw.throw(KeyError)
        self.assertEqual(log, [KeyError])

    def test_throw_before_start(self):
        aw = new()
        add_await(aw, Suspend(), None, lambda aw, e: 0)
        with self.assertRaises(KeyError):
            aw.throw(KeyError)
        with self.assertRaises(RuntimeError):
            aw.send(None)

    def test_throw_after_finish(self):
        # As into a finished coroutine: RuntimeError, not the exception
        # thrown, after a return, an exception, a close() or a throw().
        def returned():
            aw = new()
            run(aw)
            return aw
        def raised():
            aw = new()
            add_await(aw, raising(OSError('x')))
            with self.assertRaises(OSError):
                run(aw)
            return aw
        def closed():
            aw = new()
            aw.close()
            return aw
        def thrown():
            aw = new()
            with self.assertRaises(KeyError):
                aw.throw(KeyError('before start'))
            return aw
        for finish in (returned, raised, closed, thrown):
            with self.subTest(finish=finish.__name__):
                aw = finish()
                with self.assertRaisesRegex(
                        RuntimeError,
                        '^cannot reuse already awaited awaitable$') as cm:
                    aw.throw(KeyError('k'))
                self.assertIsNone(cm.exception.__context__)
                aw.close()

    def test_throw_signatures(self):
        aw = new()
        add_await(aw, Suspend(3), None, lambda aw, e: 0)
        add_await(aw, Suspend(3), None, lambda aw, e: 0)
        add_await(aw, Suspend(3), None, lambda aw, e: 0)
        aw.send(None)
        with self.assertWarns(DeprecationWarning):
            self.assertEqual(aw.throw(KeyError, 'v'), 'suspend0')
        with self.assertWarns(DeprecationWarning):
            self.assertEqual(aw.throw(KeyError, KeyError('v'), None),
                             'suspend0')
        # A tuple is the arguments, as for a coroutine.
        errors = []
        aw2 = new()
        add_await(aw2, Suspend(), None,
                  lambda aw, e: errors.append(e.args) or 0)
        aw2.send(None)
        with self.assertWarns(DeprecationWarning), \
             self.assertRaises(StopIteration):
            aw2.throw(KeyError, (1, 2))
        self.assertEqual(errors, [(1, 2)])
        with self.assertRaises(TypeError):
            aw.throw(1)
        with self.assertRaises(TypeError), \
             self.assertWarns(DeprecationWarning):
            aw.throw(KeyError('x'), 'v')
        with self.assertRaises(TypeError):
            aw.throw()
        aw.close()

    def test_close_closes_inner(self):
        closed = []
        async def inner():
            try:
                await Suspend()
            finally:
                closed.append(True)
        aw = new()
        add_await(aw, inner())
        aw.send(None)
        self.assertIsNone(aw.close())
        self.assertEqual(closed, [True])
        self.assertFalse(aw.cr_suspended)
        self.assertIsNone(aw.close())
        with self.assertRaises(RuntimeError):
            aw.send(None)

    def test_dunder_await_may_return_awaitable(self):
        # An awaitable object is an iterator: __await__ may return one,
        # where returning a coroutine raises TypeError.
        class Wrapper:
            def __init__(self, obj):
                self.obj = obj
            def __await__(self):
                return self.obj
        async def main(obj):
            return await Wrapper(obj)
        aw = new()
        _testcapi.awaitable_set_result(aw, 'result')
        self.assertEqual(run(main(aw)), ('result', []))
        async def coro():
            return 'result'
        c = coro()
        with self.assertRaisesRegex(TypeError,
                                    r'^__await__\(\) returned a coroutine$'):
            run(main(c))
        c.close()

    def test_close_reports_failed_close_lookup(self):
        # As a coroutine's close() (gen_close_iter()): an error looking up
        # close() on the object being awaited is reported as unraisable,
        # and GeneratorExit is thrown in all the same.
        class BadClose:
            def __await__(self):
                return self
            def __next__(self):
                return 'x'
            @property
            def close(self):
                raise LookupError('close')
        outcomes = []
        for kind in ('awaitable', 'coroutine'):
            log = []
            def on_error(exc):
                log.append(type(exc))
            awaited = BadClose()
            if kind == 'awaitable':
                aw = new()
                add_await(aw, awaited, None,
                          lambda aw, exc: on_error(exc) or -1)
            else:
                async def coro():
                    try:
                        await awaited
                    except BaseException as exc:
                        on_error(exc)
                        raise
                aw = coro()
            self.assertEqual(aw.send(None), 'x')
            with support.catch_unraisable_exception() as cm:
                res = aw.close()
                self.assertIs(cm.unraisable.object, awaited)
                unraisable = type(cm.unraisable.exc_value)
            outcomes.append((res, log, unraisable, aw.cr_suspended))
        self.assertEqual(outcomes[0],
                         (None, [GeneratorExit], LookupError, False))
        self.assertEqual(outcomes[0], outcomes[1])

    def close_both(self, on_error, *, steps_after=()):
        """Close, while suspended in an await of Suspend(), an awaitable
        whose step has the error callback on_error, and a coroutine doing
        the same in an except clause (on_error's second argument is then
        None); return both outcomes: (close()'s result or exception type,
        what the error callback was given, whether still suspended)."""
        outcomes = []
        for kind in ('awaitable', 'coroutine'):
            log = []
            if kind == 'awaitable':
                aw = new()
                def error_cb(aw, exc):
                    log.append(type(exc))
                    return on_error(aw, exc)
                add_await(aw, Suspend(), None, error_cb)
                for step in steps_after:
                    add_await(aw, step())
            else:
                async def coro():
                    try:
                        await Suspend()
                    except BaseException as exc:
                        log.append(type(exc))
                        code = on_error(None, exc)
                        if code == 'suspend':
                            await Suspend()
                            return None
                        if code == 'result':
                            return 'result'
                        if isinstance(code, tuple):
                            raise code[1]
                        if code == -1:
                            raise
                    for step in steps_after:
                        await step()
                aw = coro()
            aw.send(None)
            try:
                res = aw.close()
            except BaseException as exc:
                res = type(exc)
            outcomes.append((res, log, aw.cr_suspended))
            if aw.cr_suspended:
                run(aw)
        return outcomes

    def test_close_throws_generator_exit(self):
        # As a coroutine's, close() throws GeneratorExit in at the await
        # in progress: the error callback of the step gets it, as an
        # except clause does, and may re-raise it.
        awaitable, coroutine = self.close_both(lambda aw, exc: -1)
        self.assertEqual(awaitable, (None, [GeneratorExit], False))
        self.assertEqual(awaitable, coroutine)

    def test_close_handled_returns_result(self):
        # Handled, GeneratorExit lets the awaitable finish: close()
        # returns its result, as a coroutine's returns what it returned.
        def on_error(aw, exc):
            if aw is None:
                return 'result'
            _testcapi.awaitable_set_result(aw, 'result')
            return 0
        awaitable, coroutine = self.close_both(on_error)
        self.assertEqual(awaitable, ('result', [GeneratorExit], False))
        self.assertEqual(awaitable, coroutine)

    def test_close_handled_runs_steps_that_do_not_suspend(self):
        log = []
        async def after():
            log.append('after')
        awaitable, coroutine = self.close_both(lambda aw, exc: 0,
                                               steps_after=[after])
        self.assertEqual(awaitable, (None, [GeneratorExit], False))
        self.assertEqual(awaitable, coroutine)
        self.assertEqual(log, ['after', 'after'])

    def test_close_ignored(self):
        # Handled, then suspending again: RuntimeError, and the awaitable
        # stays suspended, as a coroutine ignoring GeneratorExit does.
        def on_error(aw, exc):
            if aw is None:
                return 'suspend'
            add_await(aw, Suspend())
            return 0
        awaitable, coroutine = self.close_both(on_error)
        self.assertEqual(awaitable, (RuntimeError, [GeneratorExit], True))
        self.assertEqual(awaitable, coroutine)
        aw = new()
        add_await(aw, Suspend(), None, on_error)
        aw.send(None)
        with self.assertRaisesRegex(RuntimeError,
                                    '^awaitable ignored GeneratorExit$'):
            aw.close()
        self.assertEqual(run(aw), (None, []))

    def test_close_raises_what_the_error_callback_raises(self):
        def on_error(aw, exc):
            return (-2, KeyError('k'))
        awaitable, coroutine = self.close_both(on_error)
        self.assertEqual(awaitable, (KeyError, [GeneratorExit], False))
        self.assertEqual(awaitable, coroutine)

    def test_close_orphaned_after_cancel(self):
        # Cancelled while suspended, then handed steps: nothing is awaited,
        # and GeneratorExit unwinds what is queued.
        aw = new()
        add_await(aw, Suspend())
        aw.send(None)
        _testcapi.awaitable_cancel(aw)
        log = []
        add_await(aw, Suspend(0), None,
                  lambda aw, exc: log.append(type(exc)) or -1)
        self.assertIsNone(aw.close())
        self.assertEqual(log, [])
        self.assertFalse(aw.cr_suspended)

    def test_close_before_start_does_not_warn(self):
        aw = new()
        add_await(aw, Suspend())
        aw.close()
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            with support.catch_unraisable_exception() as cm:
                del aw
                gc_collect()
                self.assertIsNone(cm.unraisable)

    def test_finalize_suspended_closes_inner(self):
        closed = []
        async def inner():
            try:
                await Suspend()
            finally:
                closed.append(True)
        aw = new()
        add_await(aw, inner())
        aw.send(None)
        del aw
        gc_collect()
        self.assertEqual(closed, [True])

    def test_never_awaited_warning(self):
        aw = new()
        aw.__qualname__ = 'Client.fetch'
        with self.assertWarnsRegex(
                RuntimeWarning,
                "coroutine 'Client.fetch' was never awaited"):
            del aw
            gc_collect()

    def test_never_awaited_warning_as_error(self):
        aw = new()
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            with support.catch_unraisable_exception() as cm:
                del aw
                gc_collect()
                self.assertIsInstance(cm.unraisable.exc_value, RuntimeWarning)

    def test_never_awaited_warning_ignored(self):
        aw = new()
        with warnings.catch_warnings(record=True) as w:
            warnings.filterwarnings('ignore', category=RuntimeWarning)
            del aw
            gc_collect()
        self.assertEqual(w, [])

    def test_never_awaited_keeps_pending_exception(self):
        def f():
            aw = new()
            raise KeyError('pending')
        with self.assertWarns(RuntimeWarning):
            with self.assertRaises(KeyError):
                f()


class MonitoringTests(unittest.TestCase):
    def stop_iteration_events(self, *coros):
        """Run each coroutine with run(); return the results and the
        STOP_ITERATION events, (function name, value) pairs."""
        E = sys.monitoring.events
        tool = sys.monitoring.DEBUGGER_ID
        events = []
        sys.monitoring.use_tool_id(tool, 'test_awaitable')
        self.addCleanup(sys.monitoring.free_tool_id, tool)
        sys.monitoring.register_callback(
            tool, E.STOP_ITERATION,
            lambda code, offset, exc: events.append((code.co_name,
                                                     exc.value)))
        self.addCleanup(sys.monitoring.register_callback,
                        tool, E.STOP_ITERATION, None)
        sys.monitoring.set_events(tool, E.STOP_ITERATION)
        try:
            results = [run(coro) for coro in coros]
        finally:
            sys.monitoring.set_events(tool, 0)
        return results, events

    def test_stop_iteration_event(self):
        # The await completes through am_send, with no StopIteration
        # raised; sys.monitoring still reports STOP_ITERATION, as for
        # generators.
        async def f():
            return await _testcapi.awaitable_return(7)
        results, events = self.stop_iteration_events(f())
        self.assertEqual(results, [(7, [])])
        self.assertEqual(events, [('f', 7)])

    def test_stop_iteration_event_after_hand_over(self):
        # The frame awaits the coroutine that the awaitable handed over:
        # the events are those of awaiting that coroutine directly.
        async def direct():
            return await suspending(8)
        async def handed_over():
            return await _testcapi.async_return_await(suspending(8))
        results, events = self.stop_iteration_events(direct(),
                                                     handed_over())
        self.assertEqual(results, [(8, ['suspend0'])] * 2)
        self.assertEqual(events, [('suspending', None), ('direct', 8),
                                  ('suspending', None), ('handed_over', 8)])


class GCTests(unittest.TestCase):
    def check_collected(self, make):
        ref = make()
        gc.collect()
        self.assertIsNone(ref())

    def test_cycle_through_value(self):
        def make():
            aw = new()
            _testcapi.awaitable_save_values(aw, [aw])
            _testcapi.awaitable_cancel(aw)
            return weakref.ref(aw)
        self.check_collected(make)

    def test_cycle_through_result(self):
        def make():
            aw = new()
            _testcapi.awaitable_set_result(aw, {'self': aw})
            _testcapi.awaitable_cancel(aw)
            return weakref.ref(aw)
        self.check_collected(make)

    def test_cycle_through_callback(self):
        def make():
            aw = new()
            add_await(aw, Suspend(), lambda a, r, aw=aw: 0)
            aw.send(None)
            return weakref.ref(aw)
        self.check_collected(make)

    def test_cycle_through_queued_awaitable(self):
        def make():
            aw = new()
            inner = Suspend()
            inner.owner = aw
            add_await(aw, inner)
            aw.send(None)   # no "never awaited" warning
            inner = Suspend()
            inner.owner = aw
            add_await(aw, inner)
            return weakref.ref(aw)
        self.check_collected(make)

    def test_cycle_through_inner_in_progress(self):
        def make():
            aw = new()
            inner = Suspend()
            inner.owner = aw
            add_await(aw, inner)
            aw.send(None)
            return weakref.ref(aw)
        self.check_collected(make)


class AsyncioTests(unittest.TestCase):
    def test_run(self):
        async def main():
            aw = new()
            add_await(aw, asyncio.sleep(0, 'slept'),
                      lambda aw, r: _testcapi.awaitable_set_result(aw, r))
            return await aw
        self.assertEqual(asyncio.run(main()), 'slept')

    def test_gather(self):
        def make(i):
            aw = new()
            add_await(aw, asyncio.sleep(0.001 * (3 - i), i),
                      lambda aw, r: _testcapi.awaitable_set_result(aw, r * 2))
            return aw
        async def main():
            return await asyncio.gather(*(make(i) for i in range(3)))
        self.assertEqual(asyncio.run(main()), [0, 2, 4])

    def test_create_task(self):
        async def main():
            return await asyncio.create_task(
                _testcapi.awaitable_await_one(asyncio.sleep(0, 5)))
        self.assertEqual(asyncio.run(main()), 5)

    def test_task_cancel_reaches_inner_and_error_callback(self):
        log = []
        async def main():
            aw = new()
            add_await(aw, logs_cancel(log), None,
                      lambda aw, e: log.append(type(e)) or -1)
            task = asyncio.create_task(aw)
            await asyncio.sleep(0)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            return task.cancelled()
        self.assertTrue(asyncio.run(main()))
        self.assertEqual(log, ['inner cancelled', asyncio.CancelledError])

    def test_cancelled_error_handled_continues(self):
        async def main():
            aw = new()
            add_await(aw, asyncio.sleep(10), None, lambda aw, e: 0)
            add_await(aw, asyncio.sleep(0, 'next'),
                      lambda aw, r: _testcapi.awaitable_set_result(aw, r))
            task = asyncio.create_task(aw)
            await asyncio.sleep(0)
            task.cancel()
            return await task
        self.assertEqual(asyncio.run(main()), 'next')

    def test_cancel_reaches_aexit(self):
        log = []
        class Manager:
            async def __aenter__(self):
                return self
            async def __aexit__(self, typ, exc, tb):
                log.append(typ)
        async def main():
            aw = new()
            def body(aw, res):
                add_await(aw, asyncio.sleep(10))
                return 0
            _testcapi.awaitable_async_with(aw, Manager(), slot(aw, body))
            task = asyncio.create_task(aw)
            await asyncio.sleep(0)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
        asyncio.run(main())
        self.assertEqual(log, [asyncio.CancelledError])

    def test_chain_of_awaitables(self):
        async def main():
            aw = _testcapi.awaitable_await_one(
                _testcapi.awaitable_await_one(asyncio.sleep(0, 'deep')))
            return await aw
        self.assertEqual(asyncio.run(main()), 'deep')


if __name__ == "__main__":
    unittest.main()
