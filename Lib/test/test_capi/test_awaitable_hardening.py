"""Hardening tests of the awaitable object C API.

Bad input from C, memory (growth over many awaits, release in every
state), subinterpreters (shared and own GIL) and free-threading stress.
The long variants need the 'cpu' resource (regrtest -u cpu).
"""

import asyncio
import gc
import os
import sys
import textwrap
import threading
import time
import types
import unittest
import warnings
import weakref
from test import support
from test.support import import_helper, script_helper, threading_helper

_testcapi = import_helper.import_module('_testcapi')

# The drivers and callback slots of the API's own tests.
from test.test_capi.test_awaitable import add_await, new, run, slot, value

NULL = None


def tearDownModule():
    asyncio.set_event_loop_policy(None)


class Suspend:
    """Awaitable that yields `times` times, then returns `result`."""
    def __init__(self, times=1, result=None):
        self.times = times
        self.result = result

    def __await__(self):
        for i in range(self.times):
            yield i
        return self.result


class AsyncCM:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


class AsyncIter:
    def __init__(self, n):
        self.n = n

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.n <= 0:
            raise StopAsyncIteration
        self.n -= 1
        return self.n


# --- Bad input from C ------------------------------------------------------

class BadInputTests(unittest.TestCase):
    """Every API function given NULL, an object of the wrong type or a
    wrong index fails with an exception (never a crash)."""

    BAD_AWAITABLES = [NULL, 42, object(), value]   # value: a function

    def new(self):
        aw = new()
        self.addCleanup(_testcapi.awaitable_cancel, aw)
        return aw

    def check_not_an_awaitable(self, func, *args):
        for bad in self.BAD_AWAITABLES:
            with self.subTest(func=func.__name__, awaitable=bad):
                with self.assertRaises(SystemError) as cm:
                    func(bad, *args)
                self.assertIn('bad argument to internal function',
                              str(cm.exception))

    def test_queueing_functions_check_the_awaitable(self):
        coro = value(1)
        self.addCleanup(coro.close)
        self.check_not_an_awaitable(_testcapi.awaitable_add_await, coro)
        self.check_not_an_awaitable(_testcapi.awaitable_defer_await, 0)
        self.check_not_an_awaitable(_testcapi.awaitable_async_with, AsyncCM())
        self.check_not_an_awaitable(_testcapi.awaitable_async_for,
                                    AsyncIter(1))
        self.check_not_an_awaitable(_testcapi.awaitable_set_result, 1)

    def test_add_expr_steals_even_with_a_bad_awaitable(self):
        coro = value(1)
        self.addCleanup(coro.close)
        for bad in self.BAD_AWAITABLES:
            refs = sys.getrefcount(coro)
            with self.assertRaises(SystemError):
                _testcapi.awaitable_add_expr(bad, coro)
            self.assertEqual(sys.getrefcount(coro), refs)

    def test_value_functions_check_the_awaitable(self):
        self.check_not_an_awaitable(_testcapi.awaitable_save_values, 1)
        self.check_not_an_awaitable(_testcapi.awaitable_save_values)
        self.check_not_an_awaitable(_testcapi.awaitable_unpack_values, 1)
        self.check_not_an_awaitable(_testcapi.awaitable_get_value, 0)
        self.check_not_an_awaitable(_testcapi.awaitable_set_value, 0, 1)
        self.check_not_an_awaitable(_testcapi.awaitable_save_arb_values, 1)
        self.check_not_an_awaitable(_testcapi.awaitable_unpack_arb_values, 1)
        self.check_not_an_awaitable(_testcapi.awaitable_get_arb_value, 0)
        self.check_not_an_awaitable(_testcapi.awaitable_set_arb_value, 0, 1)

    def test_cancel_checks_the_awaitable(self):
        for bad in self.BAD_AWAITABLES:
            with self.subTest(awaitable=bad):
                with support.catch_unraisable_exception() as cm:
                    _testcapi.awaitable_cancel(bad)
                    self.assertIs(cm.unraisable.exc_type, SystemError)

    def test_check_macros(self):
        self.assertEqual(_testcapi.awaitable_check(42), (0, 0))
        self.assertEqual(_testcapi.awaitable_check(value), (0, 0))
        coro = value(1)
        self.assertEqual(_testcapi.awaitable_check(coro), (0, 0))
        coro.close()

    def test_null_objects(self):
        aw = self.new()
        with self.assertRaisesRegex(ValueError, 'NULL'):
            _testcapi.awaitable_add_await(aw, NULL)
        with self.assertRaisesRegex(ValueError, 'NULL'):
            _testcapi.awaitable_defer_await(aw, -1)
        with self.assertRaisesRegex(ValueError, 'NULL'):
            _testcapi.awaitable_async_for(aw, NULL)
        with self.assertRaisesRegex(ValueError, 'NULL'):
            _testcapi.awaitable_set_result(aw, NULL)
        with self.assertRaisesRegex(ValueError, 'NULL'):
            _testcapi.awaitable_save_values(aw, 1, NULL)
        _testcapi.awaitable_save_values(aw, 1)
        with self.assertRaisesRegex(ValueError, 'NULL'):
            _testcapi.awaitable_set_value(aw, 0, NULL)
        # The failed calls queued and saved nothing.
        self.assertEqual(_testcapi.awaitable_unpack_values(aw, 1), (1,))
        self.assertEqual(run(aw), (None, []))

    def test_add_expr_null_keeps_the_pending_exception(self):
        aw = self.new()
        # The helper sets ZeroDivisionError, as the failed call would.
        with self.assertRaises(ZeroDivisionError):
            _testcapi.awaitable_add_expr(aw, NULL)
        self.assertEqual(run(aw), (None, []))

    def test_async_with_null_context_manager(self):
        # Regression: PyAwaitable_AsyncWith() passed a NULL ctx on to
        # _PyObject_LookupSpecial(), a segmentation fault.  It raises
        # ValueError, as PyAwaitable_AddAwait() and PyAwaitable_AsyncFor()
        # do.  Run in a subprocess, in case it crashes again.
        code = textwrap.dedent('''
            import _testcapi
            aw = _testcapi.awaitable_new()
            try:
                _testcapi.awaitable_async_with(aw, None)
            except ValueError as exc:
                print('ValueError', exc)
            _testcapi.awaitable_cancel(aw)
        ''')
        res = script_helper.run_python_until_end('-c', code)[0]
        self.assertEqual(res.rc, 0, res.err.decode(errors='replace')[-2000:])
        self.assertIn(b'ValueError', res.out)

    def test_wrong_types(self):
        aw = self.new()
        for bad in (42, object(), value, iter([])):
            with self.subTest(obj=bad):
                with self.assertRaisesRegex(TypeError, "can't be awaited"):
                    _testcapi.awaitable_add_await(aw, bad)
                with self.assertRaisesRegex(TypeError, "can't be awaited"):
                    _testcapi.awaitable_add_expr(aw, bad)
                with self.assertRaisesRegex(TypeError,
                                            'asynchronous context manager'):
                    _testcapi.awaitable_async_with(aw, bad)
                with self.assertRaisesRegex(TypeError, '__aiter__'):
                    _testcapi.awaitable_async_for(aw, bad)
        with self.assertRaisesRegex(ValueError, 'itself'):
            _testcapi.awaitable_add_await(aw, aw)
        self.assertEqual(run(aw), (None, []))

    def test_bad_callback_slot_in_helper(self):
        aw = self.new()
        with self.assertRaises(ValueError):
            _testcapi.awaitable_defer_await(aw, 16)

    def test_wrong_indexes(self):
        aw = self.new()
        for index in (0, -1, 1, sys.maxsize, -sys.maxsize - 1):
            with self.subTest(index=index, saved=0):
                with self.assertRaisesRegex(IndexError, 'out of range'):
                    _testcapi.awaitable_get_value(aw, index)
                with self.assertRaisesRegex(IndexError, 'out of range'):
                    _testcapi.awaitable_set_value(aw, index, 1)
                with self.assertRaisesRegex(IndexError, 'out of range'):
                    _testcapi.awaitable_get_arb_value(aw, index)
                with self.assertRaisesRegex(IndexError, 'out of range'):
                    _testcapi.awaitable_set_arb_value(aw, index, 1)
        _testcapi.awaitable_save_values(aw, 'a', 'b')
        _testcapi.awaitable_save_arb_values(aw, 1, 2)
        for index in (2, 3, -1, -2):
            with self.subTest(index=index, saved=2):
                with self.assertRaises(IndexError):
                    _testcapi.awaitable_get_value(aw, index)
                with self.assertRaises(IndexError):
                    _testcapi.awaitable_set_value(aw, index, 1)
                with self.assertRaises(IndexError):
                    _testcapi.awaitable_get_arb_value(aw, index)
                with self.assertRaises(IndexError):
                    _testcapi.awaitable_set_arb_value(aw, index, 1)
        # Nothing was changed by the failed calls.
        self.assertEqual(_testcapi.awaitable_unpack_values(aw, 2), ('a', 'b'))
        self.assertEqual(_testcapi.awaitable_unpack_arb_values(aw, 2), (1, 2))

    def test_unpack_with_nothing_saved(self):
        aw = self.new()
        with self.assertRaisesRegex(RuntimeError, 'no saved object values'):
            _testcapi.awaitable_unpack_values(aw, 2)
        with self.assertRaisesRegex(RuntimeError,
                                    'no saved arbitrary values'):
            _testcapi.awaitable_unpack_arb_values(aw, 2)

    def test_unpack_with_more_pointers_than_values(self):
        # Documented: the function reads one pointer per saved value; it
        # cannot tell how many were passed, so the extra pointers are left
        # untouched (the helper initialises them to NULL, shown as None).
        aw = self.new()
        a, b = object(), object()
        _testcapi.awaitable_save_values(aw, a, b)
        self.assertEqual(_testcapi.awaitable_unpack_values(aw, 5),
                         (a, b, None, None, None))
        _testcapi.awaitable_save_arb_values(aw, 7)
        self.assertEqual(_testcapi.awaitable_unpack_arb_values(aw, 3),
                         (7, None, None))

    def test_bad_input_after_finish(self):
        aw = self.new()
        run(aw)
        coro = value(1)
        self.addCleanup(coro.close)
        with self.assertRaisesRegex(RuntimeError, 'finished'):
            _testcapi.awaitable_add_await(aw, coro)
        with self.assertRaisesRegex(RuntimeError, 'finished'):
            _testcapi.awaitable_defer_await(aw, 0)
        with self.assertRaisesRegex(RuntimeError, 'finished'):
            _testcapi.awaitable_async_for(aw, AsyncIter(1))
        # Values and the result may still be set: nothing is lost.
        self.assertEqual(_testcapi.awaitable_set_result(aw, 1), 0)
        self.assertEqual(_testcapi.awaitable_save_values(aw, 1), 0)


# --- Regressions found while hardening --------------------------------------

class CancelRegressionTests(unittest.TestCase):
    """PyAwaitable_Cancel() called from code that the awaitable runs."""

    def test_cancel_from_async_for_item_callback_ends_the_loop(self):
        # Regression: PyAwaitable_Cancel() drops every pending step, so
        # called from the item callback of PyAwaitable_AsyncFor() it ends
        # the loop.  record_complete() used to queue the next __anext__
        # step after the callback returned, and every item was fetched.
        aw = new()
        items = []
        def on_item(aw, item):
            items.append(item)
            _testcapi.awaitable_cancel(aw)
            return 0
        slot(aw, on_item)
        class It:
            n = 0
            def __aiter__(self):
                return self
            async def __anext__(self):
                self.n += 1
                if self.n > 5:
                    raise StopAsyncIteration
                return self.n
        _testcapi.awaitable_async_for(aw, It(), 0, -1)
        _testcapi.awaitable_set_result(aw, 'result')
        self.assertEqual(run(aw), ('result', []))
        self.assertEqual(items, [1])

    def test_cancel_from_dunder_await_then_return(self):
        # __await__ runs when the step starts: cancelling there drops the
        # step, the awaitable finishes with its result.
        aw = new()
        class Cancelling:
            def __await__(self):
                _testcapi.awaitable_cancel(aw)
                return Suspend(1, 'inner').__await__()
        add_await(aw, Cancelling())
        _testcapi.awaitable_set_result(aw, 'result')
        self.assertEqual(run(aw), ('result', [0]))

    def test_cancel_from_dunder_await_then_queue(self):
        # Regression: when the step's __await__ cancels the awaitable and
        # returns an iterator, the iterator is awaited (the await in
        # progress) but its step is gone.  awaitable_run() used to pop the
        # step queued meanwhile as if it were the completed one, passing it
        # the orphan's result and never awaiting its own object (or
        # reaching Py_UNREACHABLE() for a deferred step).
        aw = new()
        log = []
        class Cancelling:
            def __await__(self):
                _testcapi.awaitable_cancel(aw)
                return Suspend(1, 'orphan').__await__()
        slot(aw, lambda aw, r: log.append(r) or 0)
        _testcapi.awaitable_add_await(aw, Cancelling())
        self.assertEqual(aw.send(None), 0)
        async def x():
            log.append('x awaited')
            return 'x'
        _testcapi.awaitable_add_await(aw, x(), 0, -1)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            result = run(aw)
            support.gc_collect()
        self.assertEqual(log, ['x awaited', 'x'])
        self.assertEqual(result, (None, []))
        self.assertEqual(w, [])

    def test_cancel_from_dunder_await_then_raise(self):
        # Regression: when the step's __await__ (or __aexit__, __anext__)
        # cancels the awaitable and then raises, awaitable_run() used to pop
        # a record from the queue that PyAwaitable_Cancel() had just
        # emptied: an assertion failure in a debug build, a use after free
        # in a release build.  The exception propagates (no error callback
        # applies: the step was dropped).  Run in a subprocess, in case it
        # crashes again.
        code = textwrap.dedent('''
            import _testcapi
            aw = _testcapi.awaitable_new()
            class Bad:
                def __await__(self):
                    _testcapi.awaitable_cancel(aw)
                    raise KeyError('from __await__')
            _testcapi.awaitable_add_await(aw, Bad())
            try:
                aw.send(None)
            except KeyError as exc:
                print('KeyError', exc)
        ''')
        res = script_helper.run_python_until_end('-c', code)[0]
        self.assertEqual(res.rc, 0, res.err.decode(errors='replace')[-2000:])
        self.assertIn(b"KeyError 'from __await__'", res.out)


class MutationRegressionTests(unittest.TestCase):
    """Types changed while an awaitable uses their objects."""

    def test_anext_lost_during_async_for(self):
        # Regression: PyAwaitable_AsyncFor() checks that the iterator has
        # __anext__, but each later step called the slot unchecked, and
        # crashed once __anext__ was deleted from the iterator's type or
        # its class changed for one without it.  The step raises TypeError
        # instead, as `async for` does.
        for how in ('del', '__class__'):
            with self.subTest(how=how):
                class It:
                    def __aiter__(self):
                        return self
                    async def __anext__(self):
                        return 1
                class Plain:
                    pass
                it = It()
                aw = new()
                items = []
                def on_item(aw, item):
                    items.append(item)
                    if how == 'del':
                        del It.__anext__
                    else:
                        it.__class__ = Plain
                    return 0
                slot(aw, on_item)
                _testcapi.awaitable_async_for(aw, it, 0, -1)
                msg = ("'async for' requires an iterator with __anext__ "
                       "method, got (It|Plain)")
                with self.assertRaisesRegex(TypeError, msg):
                    run(aw)
                self.assertEqual(items, [1])


# --- Memory ----------------------------------------------------------------

def rss():
    """Resident set size in bytes (Linux), or None."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return None


def loop_awaits(n):
    """One awaitable that awaits n times in a loop: each result callback
    queues the next await, as `for i in range(n): await x` does."""
    aw = new()
    count = [0]
    def on_result(aw, result):
        count[0] += 1
        if count[0] < n:
            _testcapi.awaitable_add_await(aw, Suspend(1, count[0]), 0, -1)
        else:
            _testcapi.awaitable_set_result(aw, result)
        return 0
    slot(aw, on_result)
    _testcapi.awaitable_add_await(aw, Suspend(1, 0), 0, -1)
    return aw


class MemoryTests(unittest.TestCase):
    def check_no_growth(self, n, make):
        import tracemalloc
        # Warm up (caches, free lists, the queue's own arrays).
        for _ in range(2):
            run(make(n // 10))
        gc.collect()
        rss_before = rss()
        blocks_before = sys.getallocatedblocks()
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            result, yielded = run(make(n))
            nyielded = len(yielded)
            del yielded
            gc.collect()
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertEqual(nyielded, n)
        self.assertEqual(result, n - 1)
        # Per await, nothing may stay allocated: allow a fixed slack.
        self.assertLess(after - before, 64 * 1024)
        # The peak (the list of yielded values aside, 8 bytes each and
        # its overallocation) does not grow with the number of awaits.
        self.assertLess(peak - before, n * 16 + 256 * 1024)
        self.assertLess(sys.getallocatedblocks() - blocks_before, 1000)
        # The sanitizers keep freed memory (ASan's quarantine) or map
        # shadow memory: the RSS tells nothing there.
        if rss_before is not None and not support.check_sanitizer(
                address=True, memory=True, thread=True):
            self.assertLess(rss() - rss_before, 16 * 1024 * 1024)

    def test_awaits_in_a_loop(self):
        self.check_no_growth(10_000, loop_awaits)

    def test_async_for_loop(self):
        def make(n):
            aw = new()
            last = []
            class It:
                i = 0
                def __aiter__(self):
                    return self
                def __anext__(self):
                    if self.i == n:
                        raise StopAsyncIteration
                    self.i += 1
                    return Suspend(1, self.i - 1)
            def on_item(aw, item):
                _testcapi.awaitable_set_result(aw, item)
                return 0
            slot(aw, on_item)
            _testcapi.awaitable_async_for(aw, It(), 0, -1)
            return aw
        self.check_no_growth(10_000, make)

    def test_many_awaitables(self):
        # Many awaitables made and awaited one after the other.
        def make(n):
            async def main():
                for i in range(n):
                    r = await _testcapi.awaitable_await_one(Suspend(1, i))
                return r
            return main()
        self.check_no_growth(10_000, make)

    @support.requires_resource('cpu')
    def test_a_million_awaits(self):
        self.check_no_growth(1_000_000, loop_awaits)

    @support.requires_resource('cpu')
    def test_a_million_awaitables(self):
        def make(n):
            async def main():
                for i in range(n):
                    r = await _testcapi.awaitable_await_one(Suspend(1, i))
                return r
            return main()
        self.check_no_growth(1_000_000, make)


class Tracked:
    """An object whose release is seen through a weak reference."""


def make_full_awaitable():
    """An awaitable whose queue, object values and arbitrary values have
    outgrown their inline storage, with a result; returns it and weak
    references to everything it holds."""
    aw = new()
    objs = [Tracked() for _ in range(10)]
    refs = [weakref.ref(o) for o in objs]
    for o in objs:
        _testcapi.awaitable_save_values(aw, o)
    for i in range(10):
        _testcapi.awaitable_save_arb_values(aw, i)
    result = Tracked()
    refs.append(weakref.ref(result))
    _testcapi.awaitable_set_result(aw, result)
    for i in range(6):
        inner = Suspend(1, Tracked())
        refs.append(weakref.ref(inner))
        _testcapi.awaitable_add_await(aw, inner)
    cm = AsyncCM()
    refs.append(weakref.ref(cm))
    _testcapi.awaitable_async_with(aw, cm)
    it = AsyncIter(2)
    refs.append(weakref.ref(it))
    _testcapi.awaitable_async_for(aw, it)
    return aw, refs


class ReleaseTests(unittest.TestCase):
    """An awaitable released in any state frees everything it holds
    (regrtest -R checks the memory blocks too)."""

    def check_released(self, prepare):
        aw, refs = make_full_awaitable()
        awref = weakref.ref(aw)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            prepare(aw)
            del aw
            support.gc_collect()
        self.assertIsNone(awref())
        self.assertEqual([r for r in refs if r() is not None], [])

    def test_long_chain(self):
        # Regression: releasing a chain of awaitables, each holding the
        # next (an argument of its pending call, a queued await), recursed
        # on the C stack once per awaitable and overflowed it.  The
        # trashcan releases it piecewise, as it does tuples; every
        # awaitable still warns that it was never awaited.
        code = textwrap.dedent("""
            import warnings, _testcapi
            from test.test_capi.test_awaitable import add_await, new
            n = 100_000
            def pending_calls():
                aw = _testcapi.async_noargs()
                for _ in range(n):
                    aw = _testcapi.async_await_keep(aw)
                return aw
            def queued_awaits():
                aw = new()
                for _ in range(n):
                    outer = new()
                    add_await(outer, aw)
                    aw = outer
                return aw
            for make in (pending_calls, queued_awaits):
                unawaited = 0
                def showwarning(message, *args):
                    # Unlike record=True, keeps no reference to the source.
                    global unawaited
                    unawaited += 'was never awaited' in str(message)
                with warnings.catch_warnings():
                    warnings.simplefilter('always')
                    warnings.showwarning = showwarning
                    aw = make()
                    del aw
                print(make.__name__, unawaited)
        """)
        res = script_helper.assert_python_ok('-c', code)
        self.assertEqual(res.out.decode().split(),
                         ['pending_calls', '100001', 'queued_awaits', '100001'])

    def test_never_started(self):
        with support.catch_unraisable_exception():
            self.check_released(lambda aw: None)

    def test_never_started_cancelled(self):
        self.check_released(_testcapi.awaitable_cancel)

    def test_suspended(self):
        self.check_released(lambda aw: aw.send(None))

    def test_suspended_deep(self):
        def prepare(aw):
            for _ in range(5):
                aw.send(None)
        self.check_released(prepare)

    def test_suspended_cancelled(self):
        def prepare(aw):
            aw.send(None)
            _testcapi.awaitable_cancel(aw)
        self.check_released(prepare)

    def test_finished(self):
        def prepare(aw):
            run(aw)
        self.check_released(prepare)

    def test_failed(self):
        def prepare(aw):
            aw.send(None)
            with self.assertRaises(ZeroDivisionError):
                aw.throw(ZeroDivisionError)
        self.check_released(prepare)

    def test_failed_before_start(self):
        def prepare(aw):
            with self.assertRaises(KeyError):
                aw.throw(KeyError)
        self.check_released(prepare)

    def test_closed(self):
        def prepare(aw):
            aw.send(None)
            aw.close()
        self.check_released(prepare)

    def test_in_a_cycle(self):
        def prepare(aw):
            aw.send(None)
            _testcapi.awaitable_save_values(aw, aw)
        self.check_released(prepare)

    def test_meth_async_call_in_every_state(self):
        for state in ('created', 'suspended', 'finished', 'failed'):
            with self.subTest(state=state):
                inner = Suspend(1, Tracked())
                ref = weakref.ref(inner)
                aw = _testcapi.async_await_keep(inner)
                awref = weakref.ref(aw)
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', RuntimeWarning)
                    if state == 'suspended':
                        aw.send(None)
                    elif state == 'finished':
                        run(aw)
                    elif state == 'failed':
                        with self.assertRaises(KeyError):
                            aw.throw(KeyError)
                    del aw, inner
                    support.gc_collect()
                self.assertIsNone(awref())
                self.assertIsNone(ref())


# --- Subinterpreters -------------------------------------------------------

SUBINTERP_CODE = '''
import asyncio, inspect, os, types, warnings
import {module} as m

async def inner(v):
    await asyncio.sleep(0)
    return v

results = []
aw = m.awaitable_await_one(inner(1))
results.append(type(aw) is types.AwaitableType)
results.append(asyncio.run(aw))
results.append(inspect.iscoroutinefunction(m.{async_func}))
results.append(asyncio.run(m.{async_func}(inner(2))) == 2 * {factor})

async def many():
    total = 0
    for i in range(100):
        total += await m.awaitable_await_one(inner(i))
        total += await m.{async_func}(inner(i))
    return total
results.append(asyncio.run(many()) == 4950 * (1 + {factor}))

# Left behind in every state at finalisation: never started, suspended,
# finished.  (The never started one warns at finalisation.)
warnings.simplefilter('ignore', RuntimeWarning)
never = m.{async_func}(inner(3))
suspended = m.awaitable_await_one(inner(4))
suspended.send(None)
finished = m.awaitable_await_one(inner(5))
try:
    while True:
        finished.send(None)
except StopIteration as exc:
    results.append(exc.value)

os.write({fd}, repr(results).encode())
'''

SUBINTERP_EXPECTED = [True, 1, True, True, True, 5]


class SubinterpreterTests(unittest.TestCase):
    def run_in_subinterp(self, module, async_func, **config):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        # The METH_ASYNC function of _testcapi doubles the result.
        factor = 2 if module == '_testcapi' else 1
        code = SUBINTERP_CODE.format(module=module, async_func=async_func,
                                     factor=factor, fd=w)
        try:
            if config:
                res = support.run_in_subinterp_with_config(code, **config)
            else:
                res = support.run_in_subinterp(code)
        finally:
            os.close(w)
        self.assertEqual(res, 0)
        self.assertEqual(eval(os.read(r, 1000)), SUBINTERP_EXPECTED)

    @unittest.skipIf(support.Py_GIL_DISABLED,
                     'the free-threaded build refuses single-phase modules '
                     'such as _testcapi in subinterpreters')
    def test_legacy_subinterpreter(self):
        # _testcapi is a single-phase module: a legacy subinterpreter.
        for _ in range(3):
            self.run_in_subinterp('_testcapi', 'async_await_double')

    def test_isolated_subinterpreter_with_own_gil(self):
        import_helper.import_module('_testmultiphase')
        for _ in range(3):
            self.run_in_subinterp(
                '_testmultiphase', 'async_await_one',
                use_main_obmalloc=False, allow_fork=False, allow_exec=False,
                allow_threads=True, allow_daemon_threads=False,
                check_multi_interp_extensions=True, own_gil=True)

    def test_isolated_subinterpreter_with_shared_gil(self):
        import_helper.import_module('_testmultiphase')
        self.run_in_subinterp(
            '_testmultiphase', 'async_await_one',
            use_main_obmalloc=False, allow_fork=False, allow_exec=False,
            allow_threads=True, allow_daemon_threads=False,
            check_multi_interp_extensions=True, own_gil=False)

    @threading_helper.requires_working_threading()
    @support.skip_if_sanitizer(
        "ThreadSanitizer reports races in CPython 3.13's creation of "
        "interpreters in parallel (type_ready(), init_static_type(), "
        "posixmodule_exec()), not in the awaitable code", thread=True)
    def test_own_gil_subinterpreters_in_parallel(self):
        import_helper.import_module('_testmultiphase')
        errors = []
        def target():
            try:
                self.run_in_subinterp(
                    '_testmultiphase', 'async_await_one',
                    use_main_obmalloc=False, allow_fork=False,
                    allow_exec=False, allow_threads=True,
                    allow_daemon_threads=False,
                    check_multi_interp_extensions=True, own_gil=True)
            except BaseException as exc:
                errors.append(exc)
        threads = [threading.Thread(target=target) for _ in range(4)]
        with threading_helper.start_threads(threads):
            pass
        if errors:
            raise errors[0]


# --- Free-threading stress -------------------------------------------------

def stress_duration():
    return 20.0 if support.is_resource_enabled('cpu') else 0.5


@threading_helper.requires_working_threading()
class StressTests(unittest.TestCase):
    """Many threads driving awaitables of their own and sharing some.
    Meaningful on the free-threaded build (GIL disabled); also run, as a
    smoke test, with the GIL."""

    NTHREADS = 8

    def run_threads(self, target, n=None):
        n = n or self.NTHREADS
        errors = []
        barrier = threading.Barrier(n)
        def wrapper(i):
            try:
                barrier.wait()
                # From here: starting the threads can take most of the
                # duration on a loaded machine.
                deadline = time.monotonic() + stress_duration()
                target(i, deadline)
            except BaseException as exc:
                errors.append(exc)
        threads = [threading.Thread(target=wrapper, args=(i,))
                   for i in range(n)]
        with threading_helper.start_threads(threads):
            pass
        if errors:
            raise errors[0]

    def test_own_awaitables(self):
        counts = [0] * self.NTHREADS
        def target(i, deadline):
            # At least once, however long a round takes (a sanitizer
            # build on a loaded machine).
            while not counts[i] or time.monotonic() < deadline:
                aw = loop_awaits(50)
                self.assertEqual(run(aw)[0], 49)
                async def main():
                    total = 0
                    for j in range(20):
                        total += await _testcapi.awaitable_await_one(
                            Suspend(1, j))
                        total += await _testcapi.async_await_double(
                            Suspend(1, j))
                    return total
                self.assertEqual(run(main())[0], 570)
                counts[i] += 1
        self.run_threads(target)
        self.assertTrue(all(counts))

    def test_no_lost_exception(self):
        def target(i, deadline):
            n = 0
            while time.monotonic() < deadline:
                exc = KeyError(i, n)
                async def fail():
                    await Suspend(1)
                    raise exc
                aw = _testcapi.awaitable_await_one(fail())
                aw.send(None)
                with self.assertRaises(KeyError) as cm:
                    aw.send(None)
                self.assertIs(cm.exception, exc)
                thrown = ValueError(i, n)
                aw = _testcapi.awaitable_await_one(Suspend(2))
                aw.send(None)
                with self.assertRaises(ValueError) as cm:
                    aw.throw(thrown)
                self.assertIs(cm.exception, thrown)
                n += 1
        self.run_threads(target)

    def test_names_set_and_read(self):
        # Threads set the names of shared awaitables while others read
        # them: the names are read and replaced under the awaitable's lock,
        # never released while another thread takes them.
        shared = [new(), _testcapi.async_noargs()]
        def target(i, deadline):
            n = 0
            while time.monotonic() < deadline:
                for aw in shared:
                    if i % 2:
                        name = f'n{i}.{n}'
                        aw.__name__ = name
                        aw.__qualname__ = name
                    else:
                        self.assertIsInstance(aw.__name__, str)
                        self.assertRegex(repr(aw),
                                         r'^<awaitable object (\S+ )?at ')
                        self.assertIsInstance(aw.__qualname__, str)
                n += 1
        self.run_threads(target)
        for aw in shared:
            self.assertRegex(aw.__qualname__, r'^n\d+\.\d+$')
        self.assertEqual(run(shared[0]), (None, []))
        shared[1].close()

    def test_shared_awaitable_queueing(self):
        # Threads queue steps and save values on one awaitable that is
        # not being driven: every step runs, every value is kept.
        per_thread = 200
        aw = new()
        log = []
        slot(aw, lambda aw, r: log.append(r) or 0)
        def target(i, deadline):
            for j in range(per_thread):
                _testcapi.awaitable_add_await(aw, Suspend(0, (i, j)), 0, -1)
                _testcapi.awaitable_save_values(aw, (i, j))
                _testcapi.awaitable_save_arb_values(aw, i * 1000 + j)
                _testcapi.awaitable_set_result(aw, i)
        self.run_threads(target)
        n = self.NTHREADS * per_thread
        values = {_testcapi.awaitable_get_value(aw, k + 1) for k in range(n)}
        self.assertEqual(len(values), n)
        arb = {_testcapi.awaitable_get_arb_value(aw, k) for k in range(n)}
        self.assertEqual(len(arb), n)
        result, _ = run(aw)
        self.assertIn(result, range(self.NTHREADS))
        self.assertEqual(len(log), n)
        self.assertEqual(set(log), values)
        # Each thread's steps ran in the order it queued them.
        for i in range(self.NTHREADS):
            mine = [j for (t, j) in log if t == i]
            self.assertEqual(mine, list(range(per_thread)))

    def test_queueing_while_another_thread_drives(self):
        # The documentation says queueing locks the awaitable, so that it
        # may be done from several threads: a thread queues steps on an
        # awaitable that another thread drives.  Every step queued before
        # the awaitable finished runs exactly once; later ones are refused
        # with RuntimeError.
        def target(i, deadline):
            while time.monotonic() < deadline:
                aw = loop_awaits(300)
                ran = []
                slot(aw, lambda aw, r: ran.append(r) or 0)
                queued = []
                stop = threading.Event()
                def queuer():
                    # A bounded number of steps: the driving thread must
                    # be able to catch up and finish.
                    k = 0
                    while not stop.is_set() and k < 300:
                        try:
                            _testcapi.awaitable_add_await(
                                aw, Suspend(0, ('q', k)), 1, -1)
                        except RuntimeError:
                            break
                        queued.append(('q', k))
                        k += 1
                t = threading.Thread(target=queuer)
                t.start()
                try:
                    run(aw)
                finally:
                    stop.set()
                    t.join()
                # No step lost or run twice, and steps queued from another
                # thread run in the order they were queued (at the end of
                # the queue, even while the driving thread runs a
                # callback).
                self.assertEqual(ran, queued)
        self.run_threads(target, n=2)

    def test_queueing_from_another_thread_during_a_callback(self):
        # A step that another thread queues while the driving thread runs
        # a callback goes at the end of the queue; only what the callback
        # queues itself goes right after its step.
        aw = new()
        log = []
        def other_thread():
            add_await(aw, value('other'), lambda aw, r: log.append(r) or 0)
        def first(aw, r):
            log.append(r)
            t = threading.Thread(target=other_thread)
            t.start()
            t.join()
            add_await(aw, value('nested'), lambda aw, r: log.append(r) or 0)
            return 0
        add_await(aw, value('first'), first)
        add_await(aw, value('second'), lambda aw, r: log.append(r) or 0)
        run(aw)
        self.assertEqual(log, ['first', 'nested', 'second', 'other'])

    def test_concurrent_drivers(self):
        # Threads race to drive shared awaitables: exactly one drives each
        # step, the others get ValueError (already executing) or
        # RuntimeError (finished, or being awaited); nothing crashes and
        # every awaitable finishes exactly once.
        # The list is only read and item-assigned across threads (a slice
        # assignment races with lock-free reads in CPython 3.13's
        # free-threaded lists).
        shared = [loop_awaits(100) for _ in range(4)]
        finished = [0] * len(shared)
        lock = threading.Lock()
        def target(i, deadline):
            while time.monotonic() < deadline:
                for k in range(len(shared)):
                    aw = shared[k]
                    try:
                        aw.send(None)
                    except StopIteration as exc:
                        self.assertEqual(exc.value, 99)
                        with lock:
                            # Exactly one thread sees each finish.
                            self.assertIs(shared[k], aw)
                            finished[k] += 1
                            shared[k] = loop_awaits(100)
                    except ValueError as exc:
                        self.assertIn('already executing', str(exc))
                    except RuntimeError as exc:
                        self.assertIn('cannot reuse', str(exc))
        self.run_threads(target)
        for aw in shared:
            _testcapi.awaitable_cancel(aw)

    def test_concurrent_cancel(self):
        # One thread drives, another cancels: the awaitable finishes with
        # its result, no callback runs after the cancellation returned
        # from a step that had not started, and nothing crashes.
        def target(i, deadline):
            while time.monotonic() < deadline:
                aw = loop_awaits(1000)
                _testcapi.awaitable_set_result(aw, 'cancelled')
                done = threading.Event()
                def canceller():
                    time.sleep(0.0001)
                    _testcapi.awaitable_cancel(aw)
                    done.set()
                t = threading.Thread(target=canceller)
                t.start()
                try:
                    while True:
                        try:
                            aw.send(None)
                        except ValueError:
                            continue    # the canceller holds it? never
                except StopIteration as exc:
                    self.assertIn(exc.value, ('cancelled', 999))
                finally:
                    t.join()
        self.run_threads(target, n=4)

    def test_concurrent_throw_and_close(self):
        # Threads throw into and close shared suspended awaitables: each
        # thrown exception is either raised by the awaitable or refused
        # with ValueError/RuntimeError; nothing is lost.
        def target(i, deadline):
            while time.monotonic() < deadline:
                aw = _testcapi.awaitable_await_one(Suspend(1000))
                aw.send(None)
                outcomes = []
                def thrower(k):
                    exc = KeyError(k)
                    try:
                        aw.throw(exc)
                    except KeyError as e:
                        self.assertIs(e, exc)
                        outcomes.append('raised')
                    except ValueError as e:
                        self.assertIn('already executing', str(e))
                        outcomes.append('busy')
                    except RuntimeError as e:
                        outcomes.append('finished')
                    else:
                        outcomes.append('yielded')
                threads = [threading.Thread(target=thrower, args=(k,))
                           for k in range(3)]
                for t in threads:
                    t.start()
                try:
                    aw.close()
                except ValueError:
                    pass
                for t in threads:
                    t.join()
                aw.close()
                self.assertEqual(len(outcomes), 3)
        self.run_threads(target, n=4)


if __name__ == '__main__':
    unittest.main()
