"""Tests of C functions declared with METH_ASYNC.

Seen from Python, such a function must be an ``async def`` function: a call
returns an awaitable and runs nothing, the body runs at the first send, its
return value is the result of the await.
"""

import asyncio
import contextvars
import dis
import gc
import inspect
import pydoc
import sys
import textwrap
import types
import unittest
import warnings
import weakref
from test import support
from test.support import import_helper
from test.support.script_helper import assert_python_failure

_testcapi = import_helper.import_module('_testcapi')


def tearDownModule():
    asyncio.set_event_loop_policy(None)


def run(awaitable):
    """Drive an awaitable with a bare send loop; return its result."""
    try:
        while True:
            awaitable.send(None)
    except StopIteration as exc:
        return exc.value


async def await_it(awaitable):
    return await awaitable


def run_await(awaitable):
    """Await it from an async def, driven by a send loop."""
    return run(await_it(awaitable))


@types.coroutine
def suspend(value=None):
    yield value


async def suspend_once(value):
    await suspend()
    return value


def check_null_without_exception(test, call, name):
    """The awaitable made by the expression call, whose body returns NULL
    without an exception, raises as synchronous functions do: SystemError
    naming the function (the regular expression name), fatal in debug
    builds."""
    if support.Py_DEBUG:
        code = textwrap.dedent(f"""
            import _testcapi
            from test import support
            with support.SuppressCrashReport():
                {call}.send(None)
        """)
        rc, out, err = assert_python_failure('-c', code)
        test.assertRegex(err.decode(),
            r'Fatal Python error: _Py_CheckFunctionResult: '
            r'a function returned NULL without setting an exception\n'
            r'Python runtime state: initialized\n'
            rf'SystemError: {name} '
            r'returned NULL without setting an exception')
    else:
        with test.assertRaisesRegex(
                SystemError,
                rf'^{name} returned NULL without setting an exception$'):
            run_await(eval(call))


class ConventionTests(unittest.TestCase):
    """Every calling convention, as module functions."""

    def test_noargs(self):
        self.assertEqual(run_await(_testcapi.async_noargs()),
                         ('noargs', _testcapi))

    def test_o(self):
        self.assertEqual(run_await(_testcapi.async_o(1)), ('o', _testcapi, 1))

    def test_varargs(self):
        self.assertEqual(run_await(_testcapi.async_varargs(1, 2)),
                         ('varargs', _testcapi, (1, 2)))
        self.assertEqual(run_await(_testcapi.async_varargs()),
                         ('varargs', _testcapi, ()))

    def test_varargs_keywords(self):
        self.assertEqual(run_await(_testcapi.async_varargs_keywords(1, a=2)),
                         ('varargs_keywords', _testcapi, (1,), {'a': 2}))
        self.assertEqual(run_await(_testcapi.async_varargs_keywords(1)),
                         ('varargs_keywords', _testcapi, (1,), None))

    def test_fastcall(self):
        self.assertEqual(run_await(_testcapi.async_fastcall(1, 2)),
                         ('fastcall', _testcapi, (1, 2)))

    def test_fastcall_keywords(self):
        self.assertEqual(
            run_await(_testcapi.async_fastcall_keywords(1, b=2, c=3)),
            ('fastcall_keywords', _testcapi, (1,), {'b': 2, 'c': 3}))

    def test_call_forms(self):
        # Whatever the way of calling, the same awaitable comes back.
        f = _testcapi.async_fastcall_keywords
        expected = ('fastcall_keywords', _testcapi, (1,), {'k': 2})
        self.assertEqual(run_await(f(*[1], **{'k': 2})), expected)
        self.assertEqual(run_await(f.__call__(1, k=2)), expected)
        self.assertEqual(run_await(type(f).__call__(f, 1, k=2)), expected)
        g = _testcapi.async_varargs
        self.assertEqual(run_await(type(g).__call__(g, 5)),
                         ('varargs', _testcapi, (5,)))

    def test_argument_errors_at_call(self):
        # What the calling convention itself checks fails at the call, as
        # for synchronous functions; nothing is created.
        with self.assertRaisesRegex(TypeError, 'takes no arguments'):
            _testcapi.async_noargs(1)
        with self.assertRaisesRegex(TypeError, 'exactly one argument'):
            _testcapi.async_o()
        with self.assertRaisesRegex(TypeError, 'exactly one argument'):
            _testcapi.async_o(1, 2)
        for f in (_testcapi.async_noargs, _testcapi.async_o,
                  _testcapi.async_varargs, _testcapi.async_fastcall):
            with self.subTest(f=f):
                with self.assertRaisesRegex(TypeError,
                                            'takes no keyword arguments'):
                    f(x=1)

    def test_empty_keyword_names(self):
        # A vectorcall with an empty tuple of keyword names is a call
        # without keywords.
        call = _testcapi.pyobject_vectorcall
        self.assertEqual(run_await(call(_testcapi.async_noargs, (), ())),
                         ('noargs', _testcapi))
        self.assertEqual(run_await(call(_testcapi.async_o, (1,), ())),
                         ('o', _testcapi, 1))
        with self.assertRaisesRegex(TypeError, 'takes no arguments'):
            call(_testcapi.async_noargs, (1,), ())
        with self.assertRaisesRegex(TypeError, 'takes no keyword arguments'):
            call(_testcapi.async_o, (1,), ('x',))

    def test_argument_errors_at_await(self):
        # What the body checks itself fails at the await.
        aw = _testcapi.async_append(1)
        with self.assertRaisesRegex(TypeError, 'takes 2 arguments'):
            run_await(aw)


class MethodTests(unittest.TestCase):
    """Methods of a heap type made with PyType_FromSpec."""

    def setUp(self):
        self.obj = _testcapi.AsyncMethods()

    def test_bound_methods(self):
        obj = self.obj
        self.assertEqual(run_await(obj.noargs()), ('noargs', obj))
        self.assertEqual(run_await(obj.o(1)), ('o', obj, 1))
        self.assertEqual(run_await(obj.varargs(1, 2)),
                         ('varargs', obj, (1, 2)))
        self.assertEqual(run_await(obj.varargs_keywords(1, k=2)),
                         ('varargs_keywords', obj, (1,), {'k': 2}))
        self.assertEqual(run_await(obj.fastcall(1, 2)),
                         ('fastcall', obj, (1, 2)))
        self.assertEqual(run_await(obj.fastcall_keywords(1, k=2)),
                         ('fastcall_keywords', obj, (1,), {'k': 2}))
        self.assertEqual(run_await(obj.method(1, k=2)),
                         ('method', obj, _testcapi.AsyncMethods, (1,),
                          {'k': 2}))

    def test_bound_method_objects(self):
        # obj.meth made first and called later goes through the
        # builtin_function_or_method path.
        for name in ('noargs', 'fastcall', 'method'):
            with self.subTest(name=name):
                meth = getattr(self.obj, name)
                self.assertIsInstance(meth, types.BuiltinMethodType)
                self.assertEqual(run_await(meth())[:2], (name, self.obj))

    def test_unbound_methods(self):
        cls = _testcapi.AsyncMethods
        obj = self.obj
        self.assertEqual(run_await(cls.noargs(obj)), ('noargs', obj))
        self.assertEqual(run_await(cls.o(obj, 1)), ('o', obj, 1))
        self.assertEqual(run_await(cls.varargs_keywords(obj, 1, k=2)),
                         ('varargs_keywords', obj, (1,), {'k': 2}))
        self.assertEqual(run_await(cls.method(obj, 3)),
                         ('method', obj, cls, (3,), {}))
        with self.assertRaisesRegex(TypeError, 'needs an argument'):
            cls.noargs()
        with self.assertRaisesRegex(TypeError, "doesn't apply to a 'int'"):
            cls.noargs(1)
        with self.assertRaisesRegex(TypeError, 'takes no arguments'):
            cls.noargs(obj, 1)

    def test_argument_errors_at_call(self):
        # The messages of the synchronous method descriptors, at the call,
        # whether the method is looked up on the instance or on the class.
        cls = _testcapi.AsyncMethods
        obj = self.obj
        calls = [
            (lambda: obj.noargs(1),
             r'AsyncMethods\.noargs\(\) takes no arguments \(1 given\)'),
            (lambda: cls.noargs(obj, 1, 2),
             r'AsyncMethods\.noargs\(\) takes no arguments \(2 given\)'),
            (lambda: obj.noargs(x=1),
             r'AsyncMethods\.noargs\(\) takes no keyword arguments'),
            (lambda: obj.o(),
             r'AsyncMethods\.o\(\) takes exactly one argument \(0 given\)'),
            (lambda: cls.o(obj, 1, 2),
             r'AsyncMethods\.o\(\) takes exactly one argument \(2 given\)'),
            (lambda: obj.o(x=1),
             r'AsyncMethods\.o\(\) takes no keyword arguments'),
            (lambda: cls.o(1, 2),
             r"descriptor 'o' for '_testcapi\.AsyncMethods' objects "
             r"doesn't apply to a 'int' object"),
            (lambda: cls.o(),
             r'unbound method AsyncMethods\.o\(\) needs an argument'),
        ]
        for call, message in calls:
            with self.subTest(message=message):
                with self.assertRaisesRegex(TypeError, f'^{message}$'):
                    call()
        # The synchronous method says the same.
        with self.assertRaisesRegex(TypeError,
                                    r'^AsyncMethods\.sync\(\) takes no '
                                    r'arguments \(1 given\)$'):
            obj.sync(1)

    def test_errors_at_await(self):
        aw = self.obj.raise_(KeyError('k'))
        with self.assertRaises(KeyError) as cm:
            run_await(aw)
        self.assertEqual(cm.exception.args, ('k',))
        check_null_without_exception(
            self, '_testcapi.AsyncMethods().return_null()',
            r"<method 'return_null' of '_testcapi\.AsyncMethods' objects>")

    def test_subclass(self):
        class Sub(_testcapi.AsyncMethods):
            pass
        obj = Sub()
        self.assertEqual(run_await(obj.noargs()), ('noargs', obj))
        self.assertEqual(run_await(obj.o(1)), ('o', obj, 1))
        # The defining class, not the subclass.
        self.assertEqual(run_await(obj.method())[2], _testcapi.AsyncMethods)

    def test_empty_keyword_names(self):
        # As for functions: an empty tuple of keyword names is none.
        call = _testcapi.pyobject_vectorcall
        cls = _testcapi.AsyncMethods
        obj = self.obj
        self.assertEqual(run_await(call(cls.noargs, (obj,), ())),
                         ('noargs', obj))
        self.assertEqual(run_await(call(cls.o, (obj, 1), ())),
                         ('o', obj, 1))
        with self.assertRaisesRegex(TypeError, 'takes no keyword arguments'):
            call(cls.noargs, (obj, 1), ('x',))
        with self.assertRaisesRegex(TypeError, 'needs an argument'):
            call(cls.o, (), ())

    def test_classmethods(self):
        cls = _testcapi.AsyncMethods
        self.assertEqual(run_await(cls.classmethod_o(1)), ('o', cls, 1))
        self.assertEqual(run_await(self.obj.classmethod_fastcall(1, 2)),
                         ('fastcall', cls, (1, 2)))
        descr = cls.__dict__['classmethod_o']
        self.assertEqual(run_await(descr(cls, 5)), ('o', cls, 5))

    def test_staticmethods(self):
        cls = _testcapi.AsyncMethods
        self.assertEqual(run_await(cls.staticmethod_o(1)), ('o', None, 1))
        self.assertEqual(run_await(self.obj.staticmethod_noargs()),
                         ('noargs', None))

    def test_coexist(self):
        # The method beside the mp_length slot is async; len() is not.
        self.assertEqual(len(self.obj), 42)
        self.assertEqual(run_await(self.obj.__len__()), ('noargs', self.obj))

        # In a Python subclass, the slot calls the method, as it would an
        # `async def __len__`: len() gets an awaitable.
        class Sub(_testcapi.AsyncMethods):
            pass
        class Py:
            async def __len__(self):
                pass
        for obj in Sub(), Py():
            with self.subTest(cls=type(obj).__name__):
                with self.assertWarns(RuntimeWarning):
                    with self.assertRaisesRegex(TypeError,
                                                'cannot be interpreted as '
                                                'an integer'):
                        len(obj)
                    support.gc_collect()

    def test_sync_method_unchanged(self):
        self.assertIs(self.obj.sync.__async__, False)
        self.assertEqual(self.obj.sync(), 'sync')


class BehaviourTests(unittest.TestCase):
    """What `async def` functions do, METH_ASYNC functions do too."""

    def test_call_runs_nothing(self):
        log = []
        aw = _testcapi.async_append(log, 'ran')
        self.assertEqual(log, [])
        self.assertTrue(inspect.isawaitable(aw))
        self.assertTrue(asyncio.iscoroutine(aw))
        self.assertEqual(run_await(aw), 1)
        self.assertEqual(log, ['ran'])

    def test_body_runs_at_first_send(self):
        log = []
        aw = _testcapi.async_append(log, 'ran')
        with self.assertRaises(StopIteration) as cm:
            aw.send(None)
        self.assertEqual(cm.exception.value, 1)
        self.assertEqual(log, ['ran'])

    def test_body_receives_the_awaitable(self):
        aw = _testcapi.async_get_awaitable()
        ref = run(aw)
        self.assertIs(ref(), aw)

    def test_result_replaced_by_callback(self):
        self.assertEqual(run_await(_testcapi.async_await_double(
            suspend_once(21))), 42)

    def test_body_result_kept_when_callbacks_set_none(self):
        self.assertEqual(run_await(_testcapi.async_await_keep(
            suspend_once(21))), 'body')

    def test_inner_suspension_reaches_the_driver(self):
        aw = _testcapi.async_await_keep(suspend_once(1))
        self.assertIsNone(aw.send(None))
        with self.assertRaises(StopIteration) as cm:
            aw.send(None)
        self.assertEqual(cm.exception.value, 'body')

    def test_nested_awaits_within_the_recursion_limit(self):
        # An awaitable awaiting another nests the sends in C: a nest deeper
        # than the C recursion limit raises RecursionError at the await,
        # as nested coroutines do, instead of overflowing the C stack.
        def state(aw):
            # Sending a value other than None runs nothing.
            try:
                aw.send(1)
            except TypeError:
                return 'created'
            except RuntimeError:
                return 'finished'
        def attempt(depth):
            """Await a nest of depth awaits; return it and, if it raised
            RecursionError, the state of each awaitable in it."""
            chain = [_testcapi.async_noargs()]
            for _ in range(depth):
                chain.append(_testcapi.async_await_keep(chain[-1]))
            try:
                result = run(chain[-1])
            except RecursionError as exc:
                self.assertIn('while awaiting', str(exc))
                return chain, [state(aw) for aw in chain]
            self.assertEqual(result, 'body')
            return chain, None
        def finish(chain, states):
            # Await what the error left never awaited.
            created = states.count('created')
            if created:
                run(chain[created - 1])
            self.assertEqual(set(map(state, chain)), {'finished'})
        limit = support.get_c_recursion_limit()
        self.assertIsNone(attempt(50)[1])
        chain, states = attempt(limit + 50)
        self.assertIsNotNone(states)
        finish(chain, states)
        # The shallowest nest that fails, awaited from here.
        ok, fails = 50, limit + 50
        while fails - ok > 1:
            depth = (ok + fails) // 2
            chain, states = attempt(depth)
            if states is None:
                ok = depth
            else:
                fails = depth
                finish(chain, states)
        # Every awaitable in it was awaited and is finished, the innermost
        # one too, which the error ended before its body ran, as it ends a
        # coroutine sent to too deep: none warns that it was never awaited.
        chain, states = attempt(fails)
        self.assertEqual(states, ['finished'] * (fails + 1))
        # Deeper, those never awaited are left as they were.
        chain, states = attempt(fails + 10)
        self.assertEqual(states, ['created'] * 10 + ['finished'] * (fails + 1))
        self.assertEqual(run(chain[9]), 'body')
        self.assertEqual(set(map(state, chain)), {'finished'})
        # The limit is not lowered for what runs next.
        self.assertIsNone(attempt(50)[1])

    def test_returning_the_awaitable_means_no_result(self):
        self.assertIsNone(run_await(_testcapi.async_return_awaitable()))

    def test_error_at_await(self):
        aw = _testcapi.async_raise(KeyError('k'))
        with self.assertRaises(KeyError) as cm:
            run_await(aw)
        self.assertEqual(cm.exception.args, ('k',))

    def test_yield_from_in_generator_based_coroutine(self):
        # As a coroutine is: a generator-based coroutine delegates to it.
        @types.coroutine
        def delegate(aw):
            return (yield from aw)
        aw = _testcapi.async_await_double(suspend_once(21))
        coro = delegate(aw)
        self.assertIsNone(coro.send(None))
        with self.assertRaises(StopIteration) as cm:
            coro.send(None)
        self.assertEqual(cm.exception.value, 42)
        self.assertEqual(run(delegate(_testcapi.async_o(1))),
                         ('o', _testcapi, 1))

        async def native():
            pass
        def plain(aw):
            yield from aw
        for aw, what in ((native(), 'a coroutine'),
                         (_testcapi.async_o(1), 'an awaitable')):
            with self.subTest(what):
                with self.assertRaisesRegex(
                        TypeError, f"cannot 'yield from' {what} object in "
                                   "a non-coroutine generator"):
                    next(plain(aw))
                aw.close()

    def test_stop_iteration_in_body(self):
        # As out of an async def (PEP 479): not the awaitable's return.
        aw = _testcapi.async_raise(StopIteration('k'))
        with self.assertRaisesRegex(RuntimeError,
                                    'awaitable raised StopIteration') as cm:
            aw.send(None)
        self.assertIsInstance(cm.exception.__cause__, StopIteration)
        self.assertEqual(cm.exception.__cause__.args, ('k',))

        async def main():
            return await asyncio.ensure_future(
                _testcapi.async_raise(StopIteration('k')))
        with self.assertRaisesRegex(RuntimeError, 'raised StopIteration'):
            asyncio.run(main())

    def test_error_in_body_drops_what_it_queued(self):
        # As nothing after a raise runs in an async def: neither the await
        # nor the `async with` that the body queued before failing starts.
        log = []

        class Step:
            def __await__(self):
                log.append('await')
                return iter(())

        class Manager:
            async def __aenter__(self):
                log.append('aenter')

            async def __aexit__(self, *exc_info):
                log.append('aexit')

        aw = _testcapi.async_queue_then_raise(Step(), Manager(),
                                              KeyError('k'))
        with self.assertRaises(KeyError) as cm:
            run_await(aw)
        self.assertEqual(cm.exception.args, ('k',))
        self.assertEqual(log, [])
        with self.assertRaisesRegex(RuntimeError, 'already awaited'):
            run_await(aw)

    def test_null_without_exception(self):
        check_null_without_exception(
            self, '_testcapi.async_return_null()',
            r'<built-in function async_return_null>')

    def test_reuse_after_finish(self):
        aw = _testcapi.async_noargs()
        run_await(aw)
        with self.assertRaises(RuntimeError):
            run_await(aw)

    def test_throw_before_start_skips_body(self):
        log = []
        aw = _testcapi.async_append(log, 'ran')
        with self.assertRaises(ValueError):
            aw.throw(ValueError('x'))
        self.assertEqual(log, [])

    def test_close_before_start_skips_body(self):
        log = []
        aw = _testcapi.async_append(log, 'ran')
        aw.close()
        self.assertEqual(log, [])
        with self.assertRaises(RuntimeError):
            aw.send(None)

    def test_cancel_before_start_skips_body(self):
        log = []
        aw = _testcapi.async_append(log, 'ran')
        _testcapi.awaitable_cancel(aw)
        self.assertIsNone(run_await(aw))
        self.assertEqual(log, [])

    def test_never_awaited_warning_names_the_function(self):
        with self.assertWarnsRegex(
                RuntimeWarning,
                r"coroutine 'AsyncMethods.noargs' was never awaited"):
            _testcapi.AsyncMethods().noargs()
            support.gc_collect()
        with self.assertWarnsRegex(
                RuntimeWarning,
                r"coroutine 'async_o' was never awaited"):
            _testcapi.async_o(1)
            support.gc_collect()

    def test_never_awaited_warning_shows_origin(self):
        # With origin tracking, the warning says where the awaitable was
        # made, as for a coroutine.
        old_depth = sys.get_coroutine_origin_tracking_depth()
        self.addCleanup(sys.set_coroutine_origin_tracking_depth, old_depth)
        sys.set_coroutine_origin_tracking_depth(2)
        lineno = inspect.currentframe().f_lineno + 1
        aw = _testcapi.async_o(1)
        sys.set_coroutine_origin_tracking_depth(0)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always', RuntimeWarning)
            del aw
            support.gc_collect()
        self.assertEqual(len(w), 1, w)
        message = str(w[0].message)
        self.assertTrue(message.startswith(
            "coroutine 'async_o' was never awaited\n"
            "Coroutine created at (most recent call last)\n"), message)
        self.assertIn(f'line {lineno}, in '
                      f'test_never_awaited_warning_shows_origin\n'
                      f'    aw = _testcapi.async_o(1)', message)

    def test_never_awaited_warning_honours_filters(self):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('ignore', RuntimeWarning)
            _testcapi.async_o(1)
            support.gc_collect()
        self.assertEqual(w, [])

    def test_names_and_repr(self):
        aw = _testcapi.AsyncMethods().method()
        self.assertEqual(aw.__name__, 'method')
        self.assertEqual(aw.__qualname__, 'AsyncMethods.method')
        self.assertRegex(repr(aw),
                         r'^<awaitable object AsyncMethods.method at 0x')
        aw.close()
        aw = _testcapi.async_noargs()
        self.assertEqual(aw.__qualname__, 'async_noargs')
        aw.close()

    def test_arguments_released(self):
        class Arg:
            pass
        arg = Arg()
        ref = weakref.ref(arg)
        aw = _testcapi.async_o(arg)
        del arg
        self.assertIsNotNone(ref())
        run_await(aw)
        # The awaitable holds the result (which holds arg), not the call.
        del aw
        support.gc_collect()
        self.assertIsNone(ref())

    def test_arguments_kept_until_finished(self):
        # A callback may use what the body borrowed from the arguments,
        # self included, however the function is called (obj.meth() passes
        # self as an argument): the awaitable keeps them until it
        # finishes, as a coroutine's frame does, and then releases them,
        # not when it is released itself.
        class Arg:
            pass
        class Sub(_testcapi.AsyncMethods):
            pass
        calls = [
            ('argument', Arg, _testcapi.async_await_then_borrowed),
            ('self', Sub, lambda obj, coro: obj.await_then_self(coro)),
        ]
        for how in ('return', 'raise', 'close'):
            for name, arg_type, call in calls:
                with self.subTest(how=how, call=name):
                    obj = arg_type()
                    ref = weakref.ref(obj)
                    aw = call(obj, suspend_once('inner'))
                    del obj
                    self.assertIsNone(aw.send(None))   # the inner await
                    support.gc_collect()
                    self.assertIsNotNone(ref())
                    if how == 'return':
                        with self.assertRaises(StopIteration) as cm:
                            aw.send(None)
                        self.assertIs(cm.exception.value, ref())
                        del cm
                    elif how == 'raise':
                        with self.assertRaises(ValueError):
                            aw.throw(ValueError)
                    else:
                        aw.close()
                    support.gc_collect()
                    self.assertIsNone(ref())
                    with self.assertRaises(RuntimeError):
                        aw.send(None)

    def test_close_releases_arguments_after_the_await(self):
        # As a closed coroutine's frame is cleared once the await it
        # delegates to is closed.
        events = []
        class Arg:
            def __del__(self):
                events.append('argument released')
        async def inner():
            try:
                await suspend()
            finally:
                events.append('await closed')
        async def equivalent(obj, coro):
            await coro
            return obj
        for func in (equivalent, _testcapi.async_await_then_borrowed):
            with self.subTest(func=func):
                events.clear()
                aw = func(Arg(), inner())
                aw.send(None)
                aw.close()
                self.assertEqual(events,
                                 ['await closed', 'argument released'])

    @staticmethod
    def pending_calls():
        """(name, argument type, call) for each way an awaitable keeps an
        argument until the body runs: alone (one argument, a method's self
        and its argument), second without a tuple, in a tuple, with a
        keyword name, in the tuple of METH_VARARGS."""
        class Sub(_testcapi.AsyncMethods):
            pass
        class Arg:
            pass
        obj = _testcapi.AsyncMethods()
        return [
            ('one argument', Arg, _testcapi.async_o),
            ('self', Sub, lambda a: a.o(1)),
            ('method argument', Arg, obj.o),
            ('second argument', Arg, lambda a: _testcapi.async_fastcall(1, a)),
            ('three arguments', Arg,
             lambda a: _testcapi.async_fastcall(1, 2, a)),
            ('keyword', Arg, lambda a: _testcapi.async_fastcall_keywords(x=a)),
            ('varargs', Arg, lambda a: _testcapi.async_varargs(a)),
        ]

    def test_close_or_throw_before_start_releases_arguments(self):
        # The body will never run: its arguments go at once, as those of a
        # coroutine closed or thrown into before it started, however they
        # are kept.
        for how in ('close', 'throw'):
            for name, arg_type, call in self.pending_calls():
                with self.subTest(how=how, call=name):
                    arg = arg_type()
                    ref = weakref.ref(arg)
                    aw = call(arg)
                    del arg
                    self.assertIsNotNone(ref())
                    if how == 'close':
                        aw.close()
                    else:
                        with self.assertRaises(ValueError):
                            aw.throw(ValueError)
                    self.assertIsNone(ref())
                    with self.assertRaises(RuntimeError):
                        aw.send(None)

    def test_cycle_through_arguments_is_collected(self):
        class Arg:
            pass
        arg = Arg()
        arg.aw = _testcapi.async_o(arg)
        arg.aw.close()
        ref = weakref.ref(arg)
        del arg
        support.gc_collect()
        self.assertIsNone(ref())

    def test_cycle_through_pending_call_is_collected(self):
        # The arguments of a call whose body never ran are visited by the
        # GC, however they are kept.
        for name, arg_type, call in self.pending_calls():
            with self.subTest(name):
                arg = arg_type()
                arg.aw = call(arg)
                ref = weakref.ref(arg)
                del arg
                with self.assertWarnsRegex(RuntimeWarning,
                                           'was never awaited'):
                    support.gc_collect()
                self.assertIsNone(ref())


class IntrospectionTests(unittest.TestCase):

    def test_iscoroutinefunction(self):
        cls = _testcapi.AsyncMethods
        obj = cls()
        for f in (_testcapi.async_noargs, _testcapi.async_fastcall_keywords,
                  cls.noargs, cls.method, obj.noargs, obj.method,
                  cls.classmethod_o, cls.__dict__['classmethod_o'],
                  cls.staticmethod_o, obj.__len__):
            with self.subTest(f=f):
                self.assertTrue(inspect.iscoroutinefunction(f))
                self.assertTrue(asyncio.iscoroutinefunction(f))
                self.assertIs(f.__async__, True)

    def test_iscoroutine(self):
        # What a coroutine function returns is a coroutine: as for an
        # async def function, code may test a call's result rather than
        # the function (the advice of inspect.markcoroutinefunction()).
        cls = _testcapi.AsyncMethods
        obj = cls()
        for f, args in ((_testcapi.async_noargs, ()),
                        (_testcapi.async_o, (1,)),
                        (obj.method, (1,)), (cls.classmethod_o, (1,)),
                        (cls.staticmethod_o, (1,)),
                        (_testcapi.awaitable_new, ())):
            with self.subTest(f=f):
                aw = f(*args)
                self.assertTrue(inspect.iscoroutine(aw))
                self.assertTrue(inspect.isawaitable(aw))
                self.assertTrue(asyncio.iscoroutine(aw))
                aw.close()
        def gen():
            yield
        g = gen()
        for obj in (g, _testcapi.AsyncMethods().sync, asyncio.sleep):
            with self.subTest(obj=obj):
                self.assertFalse(inspect.iscoroutine(obj))

    def test_types_coroutine(self):
        # Returned unchanged, as an async def function is: wrapping it
        # would make a function that inspect does not see as async.
        cls = _testcapi.AsyncMethods
        obj = cls()
        for f in (_testcapi.async_o, cls.method, obj.method,
                  cls.__dict__['classmethod_o'], cls.classmethod_o):
            with self.subTest(f=f):
                self.assertIs(types.coroutine(f), f)
        for f in (len, cls.sync, obj.sync):
            with self.subTest(f=f):
                wrapped = types.coroutine(f)
                self.assertIsNot(wrapped, f)
                self.assertFalse(inspect.iscoroutinefunction(wrapped))

    def test_ordinary_builtins_are_not_coroutine_functions(self):
        for f in (len, print, [].append, list.append, dict.fromkeys,
                  _testcapi.AsyncMethods().sync, str.join, int.from_bytes,
                  _testcapi.awaitable_new):
            with self.subTest(f=f):
                self.assertFalse(inspect.iscoroutinefunction(f))
                self.assertIs(f.__async__, False)

    def test_mocks(self):
        # A mock specced on a builtin takes its __class__, and any of its
        # attributes, __async__ included, is a true mock: it is a
        # coroutine function as the builtin is, as for async def specs
        # (mock makes an async mock of those).
        from unittest import mock
        for spec, is_async in ((len, False), (str.join, False),
                               (_testcapi.async_o, True),
                               (_testcapi.AsyncMethods.method, True)):
            for cls in (mock.Mock, mock.MagicMock):
                with self.subTest(spec=spec, cls=cls):
                    m = cls(spec=spec)
                    self.assertIs(inspect.iscoroutinefunction(m), is_async)

    def test_partial(self):
        import functools
        f = functools.partial(_testcapi.async_o, 1)
        self.assertTrue(inspect.iscoroutinefunction(f))

    def test_partialmethod(self):
        # Through functools.partialmethod too, as async def functions.
        import functools
        async def varargs(*args):
            pass
        class C:
            py = functools.partialmethod(varargs, 1)
            c = functools.partialmethod(_testcapi.async_varargs, 1)
        for name in ('py', 'c'):
            with self.subTest(name=name):
                self.assertTrue(
                    inspect.iscoroutinefunction(C.__dict__[name]))
                self.assertTrue(inspect.iscoroutinefunction(getattr(C(), name)))
        obj = C()
        self.assertEqual(run_await(obj.c(2)),
                         ('varargs', _testcapi, (obj, 1, 2)))

    def test_signature(self):
        self.assertEqual(str(inspect.signature(_testcapi.async_o)),
                         '(arg, /)')
        self.assertEqual(str(inspect.signature(_testcapi.AsyncMethods.noargs)),
                         '(self, /)')
        self.assertEqual(str(inspect.signature(_testcapi.AsyncMethods().noargs)),
                         '()')

    def test_text_signature_from_flags(self):
        # METH_NOARGS and METH_O functions without a docstring signature get
        # one from their flags, METH_ASYNC or not.
        self.assertEqual(_testcapi.AsyncMethods.o.__text_signature__,
                         '($self, object, /)')
        self.assertEqual(_testcapi.AsyncMethods.__len__.__text_signature__,
                         '($self, /)')
        # Also those of function objects, which show other flags.
        obj = _testcapi.AsyncMethods()
        self.assertEqual(obj.o.__text_signature__, '($self, object, /)')
        self.assertEqual(str(inspect.signature(obj.o)), '(object, /)')
        self.assertEqual(obj.staticmethod_noargs.__text_signature__, '()')
        self.assertEqual(
            _testcapi.new_async_function('new_o', None, None)
            .__text_signature__, '($self, object, /)')

    def test_getcoroutinestate(self):
        # As for the coroutine of an async def function, though the
        # awaitable has no frame (cr_frame is None in every state).
        states = []
        async def inner():
            states.append(inspect.getcoroutinestate(aw))
            await suspend()
        aw = _testcapi.async_await_keep(inner())
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CREATED)
        aw.send(None)
        self.assertEqual(states, [inspect.CORO_RUNNING])
        self.assertEqual(inspect.getcoroutinestate(aw),
                         inspect.CORO_SUSPENDED)
        with self.assertRaises(StopIteration):
            aw.send(None)
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CLOSED)
        aw = _testcapi.async_o(1)
        aw.close()
        self.assertEqual(inspect.getcoroutinestate(aw), inspect.CORO_CLOSED)

    def test_cr_origin(self):
        # Where the call was made, as for an async def function called on
        # the same line: through every kind of call.
        async def coro():
            pass
        obj = _testcapi.AsyncMethods()
        calls = {
            'no arguments': lambda: (_testcapi.async_noargs(), coro()),
            'one argument': lambda: (_testcapi.async_o(1), coro()),
            'fastcall': lambda: (_testcapi.async_fastcall(1, 2, 3), coro()),
            'method': lambda: (obj.noargs(), coro()),
            'method argument': lambda: (obj.o(1), coro()),
            'keywords': lambda: (obj.method(1, k=2), coro()),
        }
        old_depth = sys.get_coroutine_origin_tracking_depth()
        self.addCleanup(sys.set_coroutine_origin_tracking_depth, old_depth)
        for name, call in calls.items():
            with self.subTest(name):
                for i in range(5):
                    sys.set_coroutine_origin_tracking_depth(3)
                    aw, c = call()
                    sys.set_coroutine_origin_tracking_depth(0)
                    self.assertEqual(len(aw.cr_origin), 3)
                    self.assertEqual(aw.cr_origin, c.cr_origin)
                    self.assertEqual(aw.cr_origin[0][2], '<lambda>')
                    run_await(aw)
                    run_await(c)
                    aw, c = call()
                    self.assertIsNone(aw.cr_origin)
                    aw.close()
                    c.close()

    @support.requires_specialization
    def test_cr_origin_specialized(self):
        # The specialized calls record it too.
        async def coro():
            pass
        obj = _testcapi.AsyncMethods()
        calls = [
            (lambda: (_testcapi.async_o(1), coro()), 'CALL_BUILTIN_ASYNC'),
            (lambda: (obj.noargs(), coro()), 'CALL_METHOD_DESCRIPTOR_ASYNC'),
        ]
        old_depth = sys.get_coroutine_origin_tracking_depth()
        self.addCleanup(sys.set_coroutine_origin_tracking_depth, old_depth)
        for call, opname in calls:
            with self.subTest(opname):
                for i in range(10):
                    aw, c = call()
                    aw.close()
                    c.close()
                self.assertIn(opname, {
                    instr.opname
                    for instr in dis.get_instructions(call, adaptive=True)})
                sys.set_coroutine_origin_tracking_depth(3)
                aw, c = call()
                sys.set_coroutine_origin_tracking_depth(0)
                self.assertEqual(len(aw.cr_origin), 3)
                self.assertEqual(aw.cr_origin, c.cr_origin)
                aw.close()
                c.close()

    def test_pydoc_shows_async(self):
        text = pydoc.render_doc(_testcapi.async_o, renderer=pydoc.plaintext)
        self.assertIn('async async_o(arg, /)', text)
        text = pydoc.render_doc(_testcapi.AsyncMethods,
                                renderer=pydoc.plaintext)
        self.assertIn('async noargs(self, /)', text)
        self.assertNotIn('async sync', text)

    def test_profile_events(self):
        # Profilers see the call, which makes the awaitable, as the call of
        # a builtin; the C function runs within the await with no event of
        # its own, as the send of any awaitable written in C does.
        obj = _testcapi.AsyncMethods()
        async def main():
            aw1 = _testcapi.async_o(1)
            aw2 = obj.o(2)
            marks.append('made')
            return await aw1, await aw2
        def is_ours(f):
            return f is _testcapi.async_o or (
                getattr(f, '__self__', None) is obj and f.__name__ == 'o')

        marks = []
        def profile(frame, event, arg):
            if event.startswith('c_') and is_ours(arg):
                marks.append((event, frame.f_code.co_name, arg.__name__))
        sys.setprofile(profile)
        try:
            result = run(main())
        finally:
            sys.setprofile(None)
        self.assertEqual(result, (('o', _testcapi, 1), ('o', obj, 2)))
        self.assertEqual(marks, [('c_call', 'main', 'async_o'),
                                 ('c_return', 'main', 'async_o'),
                                 ('c_call', 'main', 'o'),
                                 ('c_return', 'main', 'o'),
                                 'made'])

        E = sys.monitoring.events
        tool = sys.monitoring.PROFILER_ID
        sys.monitoring.use_tool_id(tool, 'test_meth_async')
        self.addCleanup(sys.monitoring.free_tool_id, tool)
        marks = []
        def callback(event):
            def record(code, offset, callable, arg0):
                if is_ours(callable) or callable is type(obj).o:
                    marks.append((event, code.co_name, callable.__name__))
            return record
        for event in ('CALL', 'C_RETURN', 'C_RAISE'):
            sys.monitoring.register_callback(tool, getattr(E, event),
                                             callback(event))
            self.addCleanup(sys.monitoring.register_callback,
                            tool, getattr(E, event), None)
        sys.monitoring.set_events(tool, E.CALL | E.C_RETURN | E.C_RAISE)
        try:
            result = run(main())
        finally:
            sys.monitoring.set_events(tool, 0)
        self.assertEqual(result, (('o', _testcapi, 1), ('o', obj, 2)))
        self.assertEqual(marks, [('CALL', 'main', 'async_o'),
                                 ('C_RETURN', 'main', 'async_o'),
                                 ('CALL', 'main', 'o'),
                                 ('C_RETURN', 'main', 'o'),
                                 'made'])


class FlagTests(unittest.TestCase):

    def test_pycfunction_new(self):
        f = _testcapi.new_async_function('new_o', None, None)
        self.assertTrue(inspect.iscoroutinefunction(f))
        self.assertEqual(run_await(f(3)), ('o', None, 3))

    def test_pycmethod_new(self):
        cls = _testcapi.AsyncMethods
        f = _testcapi.new_async_function('new_method', 'me', cls)
        self.assertEqual(run_await(f(1, k=2)),
                         ('method', 'me', cls, (1,), {'k': 2}))

    def test_bad_flags(self):
        for name in ('bad_no_convention', 'bad_noargs_keywords',
                     'bad_o_fastcall', 'bad_method_varargs'):
            with self.subTest(name=name):
                with self.assertRaisesRegex(SystemError,
                                            rf'{name}\(\) method: bad call flags'):
                    _testcapi.new_async_function(name, None, None)
                with self.assertRaisesRegex(SystemError,
                                            rf'{name}\(\) method: bad call flags'):
                    _testcapi.new_type_with_method(name)

    @support.cpython_only
    def test_bad_flags_leave_no_copy(self):
        # The runtime keeps the copy of a definition for good; a definition
        # refused makes none, however often it is tried.
        _testinternalcapi = import_helper.import_module('_testinternalcapi')
        copies = _testinternalcapi.get_async_method_def_copies
        for name in ('bad_no_convention', 'bad_noargs_keywords',
                     'bad_o_fastcall', 'bad_method_varargs'):
            with self.subTest(name=name):
                before = copies()
                for _ in range(3):
                    with self.assertRaises(SystemError):
                        _testcapi.new_async_function(name, None, None)
                    with self.assertRaises(SystemError):
                        _testcapi.new_type_with_method(name)
                self.assertEqual(copies(), before)
        # A good definition is copied once, and the copy found again.
        _testcapi.new_async_function('new_o', None, None)
        before = copies()
        for _ in range(3):
            _testcapi.new_async_function('new_o', None, None)
        self.assertEqual(copies(), before)

    def async_function_objects(self):
        """(function object, the flags it shows) of every kind."""
        METH_CLASS, METH_STATIC, METH_METHOD, METH_ASYNC = (
            0x10, 0x20, 0x200, 0x400)
        obj = _testcapi.AsyncMethods()
        cls = _testcapi.AsyncMethods
        return [
            *[(getattr(_testcapi, 'async_' + name), METH_ASYNC)
              for name in ('noargs', 'o', 'varargs', 'varargs_keywords',
                           'fastcall', 'fastcall_keywords')],
            *[(getattr(obj, name), METH_ASYNC)
              for name in ('noargs', 'o', 'varargs', 'fastcall')],
            (obj.method, METH_ASYNC | METH_METHOD),
            (cls.classmethod_o, METH_ASYNC | METH_CLASS),
            (cls.staticmethod_o, METH_ASYNC | METH_STATIC),
            (_testcapi.new_async_function('new_o', None, None), METH_ASYNC),
        ]

    def test_function_objects_show_no_convention(self):
        # Code outside CPython calls ml_meth itself after testing the
        # calling convention in the flags of a function object, as the
        # modules Cython generates do for METH_NOARGS and METH_O: the
        # function objects of METH_ASYNC functions show none, whatever
        # their definition says.
        for func, flags in self.async_function_objects():
            with self.subTest(func=func):
                self.assertEqual(_testcapi.function_flags(func), flags)
        self.assertEqual(_testcapi.function_flags(_testcapi.AsyncMethods().sync),
                         0x4)   # METH_NOARGS: ordinary functions unchanged

    def test_called_as_cython_calls(self):
        obj = _testcapi.AsyncMethods()
        cls = _testcapi.AsyncMethods
        for func, args, expected in [
            (_testcapi.async_noargs, (), ('noargs', _testcapi)),
            (_testcapi.async_o, (1,), ('o', _testcapi, 1)),
            (obj.noargs, (), ('noargs', obj)),
            (obj.o, (2,), ('o', obj, 2)),
            (cls.classmethod_o, (3,), ('o', cls, 3)),
            (cls.staticmethod_o, (4,), ('o', None, 4)),
            (obj.staticmethod_noargs, (), ('noargs', None)),
        ]:
            with self.subTest(func=func):
                aw = _testcapi.call_like_cython(func, *args)
                self.assertIsInstance(aw, types.AwaitableType)
                self.assertEqual(run_await(aw), expected)
        self.assertEqual(_testcapi.call_like_cython(obj.sync), 'sync')

    def test_method_descriptors_show_the_copy(self):
        # Method descriptors show the copy that their bound methods show,
        # with no calling convention either, as Cython reads the flags of
        # a method descriptor to call the methods of built-in types.
        METH_CLASS, METH_ASYNC = 0x10, 0x400
        cls = _testcapi.AsyncMethods
        obj = cls()
        for name, flags in [('noargs', METH_ASYNC), ('o', METH_ASYNC),
                            ('varargs', METH_ASYNC),
                            ('varargs_keywords', METH_ASYNC),
                            ('method', METH_ASYNC | 0x200),
                            ('classmethod_o', METH_ASYNC | METH_CLASS)]:
            with self.subTest(name=name):
                descr = cls.__dict__[name]
                self.assertEqual(_testcapi.descriptor_flags(descr), flags)
                self.assertEqual(_testcapi.function_def_id(descr),
                                 _testcapi.function_def_id(getattr(obj, name)))
        self.assertEqual(_testcapi.descriptor_flags(cls.__dict__['sync']),
                         0x4)   # METH_NOARGS: ordinary methods unchanged
        # The calls still take the convention given.
        self.assertEqual(cls.__dict__['o'].__text_signature__,
                         '($self, object, /)')
        with self.assertRaisesRegex(TypeError, 'exactly one argument'):
            cls.__dict__['o'](obj)
        with self.assertRaisesRegex(TypeError, 'takes no keyword arguments'):
            obj.varargs(k=1)
        self.assertEqual(run_await(cls.__dict__['varargs'](obj, 1, 2)),
                         ('varargs', obj, (1, 2)))

    def test_called_unbound_as_cython_calls(self):
        obj = _testcapi.AsyncMethods()
        cls = _testcapi.AsyncMethods
        for name, args, expected in [
            ('noargs', (), ('noargs', obj)),
            ('o', (1,), ('o', obj, 1)),
            ('varargs', (2,), ('varargs', obj, (2,))),
            ('varargs_keywords', (3,), ('varargs_keywords', obj, (3,), None)),
        ]:
            with self.subTest(name=name):
                aw = _testcapi.call_unbound_like_cython(cls.__dict__[name],
                                                        obj, *args)
                self.assertIsInstance(aw, types.AwaitableType)
                self.assertEqual(run_await(aw), expected)
        self.assertEqual(
            _testcapi.call_unbound_like_cython(cls.__dict__['sync'], obj),
            'sync')

    def test_one_definition_shown(self):
        # The function objects of one definition show the same one (as
        # _lsprof tells builtins apart by it), and it stands for the
        # definition given when passed to PyCMethod_New() again.
        obj, other = _testcapi.AsyncMethods(), _testcapi.AsyncMethods()
        for name in ('noargs', 'o', 'method'):
            with self.subTest(name=name):
                self.assertEqual(
                    _testcapi.function_def_id(getattr(obj, name)),
                    _testcapi.function_def_id(getattr(other, name)))
        for func, flags in self.async_function_objects():
            with self.subTest(func=func):
                self.assertEqual(
                    _testcapi.function_def_id(func),
                    _testcapi.function_def_id(
                        _testcapi.rebind_function(func, func.__self__)))
        f = _testcapi.rebind_function(obj.method, other)
        self.assertEqual(_testcapi.function_flags(f), 0x600)
        self.assertTrue(inspect.iscoroutinefunction(f))
        self.assertEqual(run_await(f(1)),
                         ('method', other, _testcapi.AsyncMethods, (1,), {}))
        f = _testcapi.rebind_function(_testcapi.async_o, other)
        self.assertEqual(run_await(f(2)), ('o', other, 2))
        with self.assertRaisesRegex(TypeError, 'exactly one argument'):
            f()

    def test_definition_at_a_reused_address(self):
        # A definition made where another was freed gets a copy of its
        # own; function objects of the first keep theirs.
        self.assertEqual(_testcapi.redefine(),
                         ('first definition', 'first definition',
                          'second definition', True, ('o', None, 7)))

    def test_copy_at_the_address_of_a_freed_definition(self):
        # The copy of a definition may be made where a definition that the
        # table still has was freed (where the allocator reuses the block).
        self.assertEqual(_testcapi.redefine_freed(), ('o', None, 7))

    def test_doc_set_through_function_object(self):
        # numpy's add_docstring() sets the doc string of a builtin through
        # m_ml, which writes the copy: the definition still matches it.
        # The text signature is read from the new doc string too, not from
        # the definition's (which has none, so the flags would give
        # '($self, /)').
        f = _testcapi.new_async_function('new_doc', None, None)
        _testcapi.set_function_doc(f)
        g = _testcapi.new_async_function('new_doc', None, None)
        self.assertEqual(_testcapi.function_def_id(g),
                         _testcapi.function_def_id(f))
        for func in f, g:
            self.assertEqual(func.__doc__, 'doc set through m_ml')
            self.assertEqual(func.__text_signature__, '($module, /)')
        self.assertEqual(run_await(g()), ('noargs', None))

    def test_specialization_does_not_call_body(self):
        # Warm up the adaptive interpreter on the call sites: the
        # specialized CALL instructions must not bypass METH_ASYNC.
        obj = _testcapi.AsyncMethods()
        log = []
        for i in range(100):
            aws = [_testcapi.async_o(i), obj.o(i), obj.noargs(),
                   obj.fastcall(i), _testcapi.async_append(log, i)]
            self.assertEqual(log, list(range(i)))
            for aw in aws:
                run(aw)

    @support.requires_specialization
    def test_specialized_call(self):
        # The call sites of METH_ASYNC functions specialize to
        # CALL_BUILTIN_ASYNC whatever the convention: a call still only
        # checks the arguments and makes the awaitable.
        def call_0(f):
            return f()

        def call_1(f, a):
            return f(a)

        def call_2(f, a, b):
            return f(a, b)

        log = []
        cases = [
            (lambda i: call_0(_testcapi.async_noargs),
             lambda i: ('noargs', _testcapi)),
            (lambda i: call_0(_testcapi.async_varargs),
             lambda i: ('varargs', _testcapi, ())),
            (lambda i: call_1(_testcapi.async_o, i),
             lambda i: ('o', _testcapi, i)),
            (lambda i: call_1(_testcapi.async_fastcall, i),
             lambda i: ('fastcall', _testcapi, (i,))),
            (lambda i: call_2(_testcapi.async_varargs, i, 2),
             lambda i: ('varargs', _testcapi, (i, 2))),
            (lambda i: call_2(_testcapi.async_append, log, i),
             lambda i: i + 1),
        ]
        for i in range(100):
            for make, expected in cases:
                aw = make(i)
                self.assertEqual(log, list(range(i)))
                self.assertEqual(run_await(aw), expected(i))
        for f in (call_0, call_1, call_2):
            with self.subTest(f=f.__name__):
                opnames = {instr.opname
                           for instr in dis.get_instructions(f, adaptive=True)}
                self.assertIn('CALL_BUILTIN_ASYNC', opnames)
        # Argument errors still come at the call of a specialized site.
        with self.assertRaisesRegex(TypeError, 'exactly one argument'):
            call_0(_testcapi.async_o)
        with self.assertRaisesRegex(TypeError, 'takes no arguments'):
            call_1(_testcapi.async_noargs, 1)
        self.assertEqual(log, list(range(100)))

    @support.requires_specialization
    def test_specialized_method_call(self):
        # Method calls specialize to CALL_METHOD_DESCRIPTOR_ASYNC whatever
        # the convention: the descriptor still checks self and the
        # arguments at the call, and the body runs at the await.
        def call_0(obj):
            return obj.noargs()

        def call_1(obj, a):
            return obj.o(a)

        def call_method(obj, a):
            return obj.method(a)

        def call_varargs(obj, a):
            return obj.varargs(a, 2)

        cls = _testcapi.AsyncMethods
        for i in range(100):
            obj = cls()
            self.assertEqual(run_await(call_0(obj)), ('noargs', obj))
            self.assertEqual(run_await(call_1(obj, i)), ('o', obj, i))
            self.assertEqual(run_await(call_method(obj, i)),
                             ('method', obj, cls, (i,), {}))
            self.assertEqual(run_await(call_varargs(obj, i)),
                             ('varargs', obj, (i, 2)))
        for f in (call_0, call_1, call_method, call_varargs):
            with self.subTest(f=f.__name__):
                opnames = {instr.opname
                           for instr in dis.get_instructions(f, adaptive=True)}
                self.assertIn('CALL_METHOD_DESCRIPTOR_ASYNC', opnames)
        # A subclass instance is still accepted; the arguments are still
        # checked at the call of a specialized site.
        class Sub(cls):
            pass
        sub = Sub()
        self.assertEqual(run_await(call_1(sub, 5)), ('o', sub, 5))

        class Other:
            def noargs(self):
                return 'sync'
            o = cls.o
        other = Other()
        self.assertEqual(call_0(other), 'sync')
        with self.assertRaisesRegex(TypeError, "doesn't apply to a 'Other'"):
            call_1(other, 1)

        class Wrong(cls):
            o = cls.noargs
        with self.assertRaisesRegex(TypeError, 'takes no arguments'):
            call_1(Wrong(), 1)

        class Static:
            o = staticmethod(_testcapi.async_o)
        self.assertEqual(run_await(call_1(Static(), 3)), ('o', _testcapi, 3))

class ClinicTests(unittest.TestCase):
    """Functions and methods declared @async with Argument Clinic."""

    def test_noargs(self):
        f = _testcapi.async_clinic_noargs
        self.assertEqual(run_await(f()), ('clinic_noargs', _testcapi))
        with self.assertRaisesRegex(TypeError, 'takes no arguments'):
            f(1)

    def test_o(self):
        f = _testcapi.async_clinic_o
        self.assertEqual(run_await(f(1)), ('clinic_o', _testcapi, 1))
        # METH_O: the number of arguments is checked by the call.
        with self.assertRaisesRegex(TypeError, 'exactly one argument'):
            f()
        with self.assertRaisesRegex(TypeError, 'takes no keyword arguments'):
            f(arg=1)

    def test_converter_errors_at_await(self):
        # The generated parser is part of the body: what it checks raises
        # at the await, as for the bodies written by hand.
        f = _testcapi.async_clinic_index
        self.assertEqual(run_await(f(5)), ('clinic_index', _testcapi, 5))
        aw = f('spam')
        self.assertIsInstance(aw, types.AwaitableType)
        with self.assertRaisesRegex(TypeError, 'integer'):
            run_await(aw)

    def test_positional_only(self):
        f = _testcapi.async_clinic_posonly
        self.assertEqual(run_await(f(1)),
                         ('clinic_posonly', _testcapi, 1, None))
        self.assertEqual(run_await(f(1, 2)),
                         ('clinic_posonly', _testcapi, 1, 2))
        for args in (), (1, 2, 3):
            with self.subTest(args=args):
                aw = f(*args)
                with self.assertRaisesRegex(TypeError, 'async_clinic_posonly'):
                    run_await(aw)
        with self.assertRaisesRegex(TypeError, 'takes no keyword arguments'):
            f(1, b=2)

    def test_keywords(self):
        f = _testcapi.async_clinic_keywords
        self.assertEqual(run_await(f(1)),
                         ('clinic_keywords', _testcapi, 1, None, 0))
        self.assertEqual(run_await(f(1, 2, c=3)),
                         ('clinic_keywords', _testcapi, 1, 2, 3))
        self.assertEqual(run_await(f(c=3, b=2, a=1)),
                         ('clinic_keywords', _testcapi, 1, 2, 3))
        self.assertEqual(run_await(f(*[1], **{'c': 3})),
                         ('clinic_keywords', _testcapi, 1, None, 3))
        bad_calls = (
            ((), {}, 'missing required argument'),
            ((1, 2, 3), {}, r'at most 2 positional arguments \(3 given\)'),
            ((1,), {'a': 2}, r"given by name \('a'\) and position"),
            ((1,), {'d': 2}, "unexpected keyword argument 'd'"),
            ((1,), {'c': 'x'}, 'integer'),
        )
        for args, kwargs, msg in bad_calls:
            with self.subTest(args=args, kwargs=kwargs):
                aw = f(*args, **kwargs)
                with self.assertRaisesRegex(TypeError, msg):
                    run_await(aw)

    def test_option_groups(self):
        f = _testcapi.async_clinic_groups
        self.assertEqual(run_await(f(1)),
                         ('clinic_groups', _testcapi, 1, 0, None, None))
        self.assertEqual(run_await(f(1, 2, 3)),
                         ('clinic_groups', _testcapi, 1, 1, 2, 3))
        aw = f(1, 2)
        with self.assertRaisesRegex(TypeError, 'requires 1 to 3 arguments'):
            run_await(aw)

    def test_awaits(self):
        f = _testcapi.async_clinic_await
        self.assertEqual(run_await(f(suspend_once(21))), 21)
        self.assertEqual(run_await(f(suspend_once(21), double=True)), 42)
        self.assertEqual(asyncio.run(f(asyncio.sleep(0, 'x'), double=True)),
                         'xx')

    def test_call_runs_nothing(self):
        log = []
        class Spy:
            def __index__(self):
                log.append('index')
                return 3
        aw = _testcapi.async_clinic_index(Spy())
        self.assertEqual(log, [])
        self.assertEqual(run_await(aw), ('clinic_index', _testcapi, 3))
        self.assertEqual(log, ['index'])

    def test_defining_class(self):
        cls = _testcapi.AsyncMethods
        obj = cls()
        self.assertEqual(run_await(obj.clinic_method(1)),
                         ('clinic_method', obj, cls, 1, None))
        self.assertEqual(run_await(obj.clinic_method(1, b=2)),
                         ('clinic_method', obj, cls, 1, 2))
        self.assertEqual(run_await(cls.clinic_method(obj, 1, 2)),
                         ('clinic_method', obj, cls, 1, 2))
        class Sub(cls):
            pass
        sub = Sub()
        # The defining class, not the subclass.
        self.assertEqual(run_await(sub.clinic_method(1)),
                         ('clinic_method', sub, cls, 1, None))
        aw = obj.clinic_method(a=1)
        with self.assertRaisesRegex(TypeError,
                                    r'at least 1 positional argument \(0'):
            run_await(aw)

    def test_classmethod(self):
        cls = _testcapi.AsyncMethods
        self.assertEqual(run_await(cls.clinic_classmethod(1)),
                         ('clinic_classmethod', cls, 1))
        self.assertEqual(run_await(cls().clinic_classmethod(1)),
                         ('clinic_classmethod', cls, 1))

    def test_staticmethod(self):
        cls = _testcapi.AsyncMethods
        self.assertEqual(run_await(cls.clinic_staticmethod(1, 2)),
                         ('clinic_staticmethod', None, 1, 2))
        self.assertEqual(run_await(cls().clinic_staticmethod(1, 2)),
                         ('clinic_staticmethod', None, 1, 2))

    def test_iscoroutinefunction(self):
        cls = _testcapi.AsyncMethods
        obj = cls()
        for f in (_testcapi.async_clinic_noargs, _testcapi.async_clinic_o,
                  _testcapi.async_clinic_index,
                  _testcapi.async_clinic_posonly,
                  _testcapi.async_clinic_keywords,
                  _testcapi.async_clinic_groups,
                  _testcapi.async_clinic_await,
                  cls.clinic_method, obj.clinic_method,
                  cls.clinic_classmethod, cls.clinic_staticmethod):
            with self.subTest(f=f):
                self.assertTrue(inspect.iscoroutinefunction(f))
                self.assertIs(f.__async__, True)

    def test_signature(self):
        # From the __text_signature__ that clinic generates: the awaitable
        # is not a parameter.
        cls = _testcapi.AsyncMethods
        dataset = (
            (_testcapi.async_clinic_noargs, '($module, /)', '()'),
            (_testcapi.async_clinic_o, '($module, arg, /)', '(arg, /)'),
            (_testcapi.async_clinic_posonly, '($module, a, b=None, /)',
             '(a, b=None, /)'),
            (_testcapi.async_clinic_keywords,
             '($module, /, a, b=None, *, c=0)', '(a, b=None, *, c=0)'),
            (_testcapi.async_clinic_await,
             '($module, coro, /, *, double=False)',
             '(coro, /, *, double=False)'),
            (cls.clinic_method, '($self, a, /, b=None)',
             '(self, a, /, b=None)'),
            (cls.clinic_classmethod, '($type, a, /)', '(a, /)'),
            (cls.clinic_staticmethod, '(a, b, /)', '(a, b, /)'),
        )
        for f, text_signature, signature in dataset:
            with self.subTest(f=f):
                self.assertEqual(f.__text_signature__, text_signature)
                self.assertEqual(str(inspect.signature(f)), signature)
        # Option groups have no signature, as for synchronous functions.
        self.assertIsNone(_testcapi.async_clinic_groups.__text_signature__)

    def test_docstring(self):
        self.assertEqual(_testcapi.async_clinic_noargs.__doc__,
                         'An async function without arguments.')
        text = pydoc.render_doc(_testcapi.async_clinic_keywords,
                                renderer=pydoc.plaintext)
        self.assertIn('async async_clinic_keywords(a, b=None, *, c=0)', text)

    def test_never_awaited_warning(self):
        aw = _testcapi.async_clinic_keywords(1)
        with self.assertWarnsRegex(RuntimeWarning,
                                   'async_clinic_keywords.*never awaited'):
            del aw
            support.gc_collect()


class AsyncioTests(unittest.TestCase):

    def tearDown(self):
        asyncio.set_event_loop_policy(None)

    def test_gather_many(self):
        async def main():
            calls = [_testcapi.async_await_double(suspend_once(i))
                     for i in range(2000)]
            return await asyncio.gather(*calls)
        self.assertEqual(asyncio.run(main()), [2 * i for i in range(2000)])

    def test_taskgroup(self):
        async def main():
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(_testcapi.async_o(i))
                         for i in range(1000)]
            return [t.result()[2] for t in tasks]
        self.assertEqual(asyncio.run(main()), list(range(1000)))

    def test_create_task_directly(self):
        async def main():
            return await asyncio.create_task(
                _testcapi.async_await_double(asyncio.sleep(0, 5)))
        self.assertEqual(asyncio.run(main()), 10)

    def test_cancellation_reaches_inner_await(self):
        async def main():
            started = asyncio.Event()
            cancelled = []

            async def inner():
                started.set()
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    cancelled.append(True)
                    raise

            task = asyncio.create_task(_testcapi.async_await_keep(inner()))
            await started.wait()
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            return cancelled
        self.assertEqual(asyncio.run(main()), [True])

    def test_contextvars(self):
        var = contextvars.ContextVar('var')

        async def read():
            return var.get()

        async def main():
            var.set('outer')
            ctx = contextvars.copy_context()
            ctx.run(var.set, 'task')
            in_task = await asyncio.create_task(
                _testcapi.async_await_double(read()), context=ctx)
            direct = await _testcapi.async_await_double(read())
            return in_task, direct
        # As for coroutines: the task's context, or the awaiter's.
        self.assertEqual(asyncio.run(main()), ('tasktask', 'outerouter'))


if __name__ == "__main__":
    unittest.main()
