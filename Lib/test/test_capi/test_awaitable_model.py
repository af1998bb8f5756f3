"""Model-based fuzzing of the awaitable object protocol.

Model is a pure-Python reference model of what Doc/c-api/awaitable.rst
says an awaitable object does: its queue of steps (awaits, deferred
calls, PyAwaitable_ReturnAwait(), PyAwaitable_AsyncWith() and
PyAwaitable_AsyncFor()), the callbacks
and their return codes, the unwinding of an exception to the next pending
__aexit__, the result, send(), throw() and close() at any point,
PyAwaitable_Cancel() from a callback or from outside, and release.  A
program (the steps queued before the first send, each with the behaviour
of its awaited objects and of its callbacks, which may queue further
steps, set the result or cancel) and a driver (the actions done on the
awaitable from outside) are run against the C implementation, through
the _testcapi helpers, and against the model; every observable outcome
is compared: the events (which awaited object started,
resumed with which value, got which exception, was closed; which callback
ran with what; which __aenter__, __aexit__ and __aiter__ were called with
what), what each action returned, yielded or raised, whether the
awaitable is suspended after it, and whether its release warned or
reported what its finalizer's close() raised.

With the stubs of test.support.hypothesis_helper, only the @example cases
run.  With Hypothesis installed (scripts/test does it in a venv of the
patched interpreter), each test runs AWAITABLE_MODEL_EXAMPLES generated
cases (default 100); the number of cases run is printed at the end.  A
divergence that Hypothesis finds becomes an @example here, or a regular
test elsewhere.
"""

import gc
import os
import sys
import unittest
import warnings
import weakref
from test import support
from test.support import import_helper
from test.support.hypothesis_helper import hypothesis

_testcapi = import_helper.import_module('_testcapi')

st = hypothesis.strategies
given = hypothesis.given
example = hypothesis.example

MAX_EXAMPLES = int(os.environ.get('AWAITABLE_MODEL_EXAMPLES', '100'))
CASES = [0]


def tearDownModule():
    version = getattr(hypothesis, '__version__', None)
    source = f'Hypothesis {version}' if version else 'examples only'
    print(f'awaitable model: {CASES[0]} cases run ({source})',
          file=sys.stderr, flush=True)


def settings(f):
    return hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None,
                               database=None)(f)


# --- Programs ----------------------------------------------------------------
#
# A step is a tuple:
#   ('await', inner, on_result, on_error)
#       inner = (suspensions, outcome, on_throw, at_start):
#           outcome: ('return', value) | ('raise',) | ('start-raise',)
#           on_throw: 'propagate' or 'return' (catch it, return 'caught')
#           at_start: None, or 'cancel': __await__ cancels the awaitable
#       on_result = None | (code, body)   code in RESULT_CODES
#       on_error = None | (code, body)    code in ERROR_CODES
#   ('return', inner)                     PyAwaitable_ReturnAwait(): its
#       result becomes the awaitable's, its exception ends it
#   ('defer', code, body)                 code in DEFER_CODES
#   ('with', enter_call, enter, exit, on_body, on_error)
#       async with: enter_call is 'ok', or 'raise' if __aenter__() raises
#       when called (at queue time); enter and exit are inners for the
#       objects __aenter__() and __aexit__() return (the result of exit
#       is what __aexit__ returns: true suppresses); on_body is called
#       like on_result with the value of __aenter__.
#   ('for', items, on_item, on_error)
#       async for: items is a list of inners, one per __anext__() call
#       (outcome ('stop',) raises StopAsyncIteration); past them,
#       __anext__() stops at once; on_item is called like on_result with
#       each item.
# A body is a list of actions: ('queue', step), ('set_result', value) or
# ('cancel',), done in order before the callback returns its code; a
# failure to queue (__aenter__ raising) is logged and the body goes on.
# A driver is a list of actions done from outside: ('send', value),
# ('throw',), ('throw-exit',), ('close',), ('cancel',), ('set_result',
# value) or ('queue', step); then, if drain, send(None) until the
# awaitable finishes; then the awaitable is released.

# 'raise': the callback raises (-1 with the exception set); '-1-noexc':
# returns -1 without an exception; '0-exc': returns 0 with one set.  1, a
# positive code, is 0 (as in the PyAwaitable library).
RESULT_CODES = (0, 1, -1, -2, 'raise', '-1-noexc', '0-exc')
# '-1-exc': -1 with an exception set (discarded); '-2-noexc': -2 without.
ERROR_CODES = (0, 1, -1, -2, '-1-exc', '-2-noexc', '0-exc')
DEFER_CODES = (0, 1, 'raise', '-1-noexc', '0-exc')
# What __anext__() returns once the items are exhausted.
STOP = (0, ('stop',), 'propagate', None)
SEND = ('send', None)
# The C helpers have callbacks for slots 0 to 15: 0 is the result
# dispatcher, 1 the error dispatcher, 2 to 7 one per deferred step, 8 to
# 15 the error callback of one 'for' step each (an exception of the loop's
# body reaches it after the steps of the body, whose callbacks the
# dispatcher tells apart by the current step, ran theirs).
MAX_DEFERS = 6
MAX_LOOP_ERRORS = 8
LOOP_SLOTS = 2 + MAX_DEFERS


class Boom(Exception):
    """Raised by the awaited objects and the callbacks of a program."""


class Thrown(Exception):
    """Thrown into the awaitable by the driver."""


def describe(exc, depth=1):
    """What is compared of an exception: its type, its arguments for ours,
    and the same of its __context__ (one level)."""
    d = (type(exc).__name__,)
    if isinstance(exc, (Boom, Thrown)):
        d += exc.args
    if depth and exc.__context__ is not None:
        d += ('context', describe(exc.__context__, 0))
    return d


class Step:
    """A step of a program, numbered (sid) in the order of the tree."""
    def __init__(self, sid, kind, inner=None, on_result=None, on_error=None,
                 code=None, body=(), enter_call='ok', enter=None, exit=None,
                 items=()):
        self.sid = sid
        self.kind = kind
        self.inner = inner
        # For 'with' and 'for' steps, on_result is the body or item
        # callback.
        self.on_result = on_result
        self.on_error = on_error
        self.code = code
        self.body = body
        self.enter_call = enter_call
        self.enter = enter
        self.exit = exit
        self.items = items


class Counter:
    def __init__(self):
        self.sid = 0
        self.defers = 0
        self.loop_errors = 0


def normalize_body(body, counter):
    out = []
    for action in body:
        if action[0] == 'queue':
            out.append(('queue', normalize_step(action[1], counter)))
        else:
            out.append(action)
    return out


def normalize_callback(callback, counter):
    if callback is None:
        return None
    return (callback[0], normalize_body(callback[1], counter))


def normalize_step(step, counter):
    """Number the steps and turn deferred steps past MAX_DEFERS (there are
    not enough C callbacks) into awaits with the same behaviour."""
    counter.sid += 1
    sid = counter.sid
    if step[0] == 'with':
        _, enter_call, enter, exit, on_body, on_error = step
        return Step(sid, 'with', enter_call=enter_call, enter=enter,
                    exit=exit,
                    on_result=normalize_callback(on_body, counter),
                    on_error=normalize_callback(on_error, counter))
    if step[0] == 'for':
        _, items, on_item, on_error = step
        if on_error is not None:
            # Past MAX_LOOP_ERRORS, no error callback.
            if counter.loop_errors == MAX_LOOP_ERRORS:
                on_error = None
            else:
                counter.loop_errors += 1
        return Step(sid, 'for', items=tuple(items),
                    on_result=normalize_callback(on_item, counter),
                    on_error=normalize_callback(on_error, counter))
    if step[0] == 'return':
        return Step(sid, 'return', inner=step[1], on_result=None,
                    on_error=None)
    if step[0] == 'defer' and counter.defers < MAX_DEFERS:
        counter.defers += 1
        _, code, body = step
        return Step(sid, 'defer', code=code,
                    body=normalize_body(body, counter))
    if step[0] == 'defer':
        _, code, body = step
        code = {'raise': 'raise', '-1-noexc': '-1-noexc',
                '0-exc': '0-exc', 1: 1}.get(code, 0)
        step = ('await', (0, ('return', None), 'propagate', None),
                (code, body), None)
    _, inner, on_result, on_error = step
    return Step(sid, 'await', inner=inner,
                on_result=normalize_callback(on_result, counter),
                on_error=normalize_callback(on_error, counter))


def normalize(program, driver):
    counter = Counter()
    program = [normalize_step(s, counter) for s in program]
    driver = [('queue', normalize_step(a[1], counter)) if a[0] == 'queue'
              else a for a in driver]
    return program, driver


# --- The C implementation, driven ----------------------------------------

class RealInner:
    """An awaited object: that of an await step, or what __aenter__(),
    __aexit__() or __anext__() of a 'with' or 'for' step returns.  It logs
    what happens to it under key (the sid of an await step; a tuple for
    the others), and makes its step the current one whenever it runs.  It
    keeps the awaitable aw, which its __await__ may cancel even while the
    awaitable is finalized (see RealWorld.release())."""
    def __init__(self, world, aw, sid, key, inner):
        self.world = world
        self.aw = aw
        self.sid = sid
        self.key = key
        self.inner = inner

    def __await__(self):
        key = self.key
        self.world.current = self.sid
        self.world.log.append(('start', key))
        suspensions, outcome, on_throw, at_start = self.inner
        if at_start == 'cancel':
            _testcapi.awaitable_cancel(self.aw)
        if outcome[0] == 'start-raise':
            raise Boom(key, 'start')
        return self.gen(key, suspensions, outcome, on_throw)

    def gen(self, key, suspensions, outcome, on_throw):
        log = self.world.log
        for i in range(suspensions):
            try:
                sent = yield ('y', key, i)
            except GeneratorExit:
                log.append(('closed', key))
                raise
            except BaseException as exc:
                self.world.current = self.sid
                log.append(('thrown', key, describe(exc)))
                if on_throw == 'return':
                    return ('caught', key)
                raise
            self.world.current = self.sid
            log.append(('resume', key, sent))
        if outcome[0] == 'raise':
            raise Boom(key, 'inner')
        if outcome[0] == 'stop':
            raise StopAsyncIteration
        return outcome[1]


class RealManager:
    """The context manager of a 'with' step.  Its methods do not change
    the current step: __aenter__() is called when the step is queued,
    maybe by the callback of another step."""
    def __init__(self, world, aw, step):
        self.world = world
        self.aw = aw
        self.step = step

    def __aenter__(self):
        sid = self.step.sid
        self.world.log.append(('aenter', sid))
        if self.step.enter_call == 'raise':
            raise Boom(sid, 'aenter')
        return RealInner(self.world, self.aw, sid, (sid, 'enter'),
                         self.step.enter)

    def __aexit__(self, typ, exc, tb):
        sid = self.step.sid
        if exc is None:
            self.world.log.append(('aexit', sid, typ, tb))
        else:
            self.world.log.append(('aexit', sid, typ.__name__, describe(exc),
                                   tb is exc.__traceback__))
        return RealInner(self.world, self.aw, sid, (sid, 'exit'),
                         self.step.exit)


class RealIterator:
    """The asynchronous iterator of a 'for' step."""
    def __init__(self, world, aw, step):
        self.world = world
        self.aw = aw
        self.step = step
        self.index = 0

    def __aiter__(self):
        self.world.log.append(('aiter', self.step.sid))
        return self

    def __anext__(self):
        sid = self.step.sid
        i = self.index
        self.index += 1
        items = self.step.items
        inner = items[i] if i < len(items) else STOP
        return RealInner(self.world, self.aw, sid, (sid, 'next', i), inner)


class RealWorld:
    def __init__(self):
        self.log = []
        self.current = None
        self.steps = {}
        self.aw = _testcapi.awaitable_new()
        aw = self.aw
        _testcapi.awaitable_save_values(aw, self.on_result, self.on_error)
        for _ in range(MAX_DEFERS + MAX_LOOP_ERRORS):
            _testcapi.awaitable_save_values(aw, 0)   # placeholders
        self.next_defer_slot = 2
        self.defer_slots = {}    # sid -> slot: a step may be queued again
        self.next_loop_slot = LOOP_SLOTS
        self.loop_slots = {}     # sid -> slot of its error callback

    def queue(self, step, aw):
        """Queue step on aw: self.aw, or, from a callback, the awaitable
        it was given (self.aw is None once the awaitable is released, and
        its finalizer may run callbacks)."""
        self.steps[step.sid] = step
        slots = (0 if step.on_result is not None else -1,
                 1 if step.on_error is not None else -1)
        if step.kind == 'defer':
            slot = self.defer_slots.get(step.sid)
            if slot is None:
                slot = self.defer_slots[step.sid] = self.next_defer_slot
                self.next_defer_slot += 1
                _testcapi.awaitable_set_value(
                    aw, slot, lambda aw: self.on_defer(aw, step))
            _testcapi.awaitable_defer_await(aw, slot)
        elif step.kind == 'with':
            _testcapi.awaitable_async_with(
                aw, RealManager(self, aw, step), *slots)
        elif step.kind == 'for':
            if step.on_error is not None:
                slot = self.loop_slots.get(step.sid)
                if slot is None:
                    slot = self.loop_slots[step.sid] = self.next_loop_slot
                    self.next_loop_slot += 1
                    _testcapi.awaitable_set_value(
                        aw, slot,
                        lambda aw, exc: self.on_error(aw, exc, step))
                slots = (slots[0], slot)
            _testcapi.awaitable_async_for(
                aw, RealIterator(self, aw, step), *slots)
        elif step.kind == 'return':
            _testcapi.awaitable_return_await(
                aw, RealInner(self, aw, step.sid, step.sid, step.inner))
        else:
            _testcapi.awaitable_add_await(
                aw, RealInner(self, aw, step.sid, step.sid, step.inner),
                *slots)

    def try_queue(self, step, aw):
        try:
            self.queue(step, aw)
        except Exception as exc:
            self.log.append(('queue_failed', describe(exc)))

    def do_body(self, body, aw):
        for action in body:
            if action[0] == 'queue':
                self.try_queue(action[1], aw)
            elif action[0] == 'set_result':
                _testcapi.awaitable_set_result(aw, action[1])
            elif action[0] == 'cancel':
                _testcapi.awaitable_cancel(aw)

    def on_result(self, aw, value):
        step = self.steps[self.current]
        self.log.append(('result_cb', step.sid, value))
        if step.on_result is None:
            self.log.append(('unexpected result callback', step.sid))
            return 0
        code, body = step.on_result
        self.do_body(body, aw)
        sid = step.sid
        if code == 'raise':
            raise Boom(sid, 'result_cb')
        if code in (-1, -2):
            return (code, Boom(sid, 'result_cb'))
        if code == '-1-noexc':
            return -1
        if code == '0-exc':
            return (0, Boom(sid, 'result_cb'))
        return code

    def on_error(self, aw, exc, step=None):
        if step is None:
            step = self.steps[self.current]
        self.log.append(('error_cb', step.sid, describe(exc)))
        if step.on_error is None:
            self.log.append(('unexpected error callback', step.sid))
            return -1
        code, body = step.on_error
        self.do_body(body, aw)
        sid = step.sid
        if code == -2:
            return (-2, Boom(sid, 'error_cb'))
        if code == '-1-exc':
            return (-1, Boom(sid, 'error_cb'))
        if code == '-2-noexc':
            return -2
        if code == '0-exc':
            return (0, Boom(sid, 'error_cb'))
        return code

    def on_defer(self, aw, step):
        self.current = step.sid
        self.log.append(('defer', step.sid))
        self.do_body(step.body, aw)
        if step.code == 'raise':
            raise Boom(step.sid, 'defer')
        if step.code == '-1-noexc':
            return -1
        if step.code == '0-exc':
            return (0, Boom(step.sid, 'defer'))
        return step.code

    def act(self, action):
        aw = self.aw
        kind = action[0]
        try:
            if kind == 'send':
                return ('yield', aw.send(action[1]))
            if kind == 'throw':
                return ('yield', aw.throw(Thrown(len(self.log))))
            if kind == 'throw-exit':
                return ('yield', aw.throw(GeneratorExit()))
            if kind == 'close':
                return ('close', aw.close())
            if kind == 'cancel':
                _testcapi.awaitable_cancel(aw)
            elif kind == 'set_result':
                _testcapi.awaitable_set_result(aw, action[1])
            elif kind == 'queue':
                self.queue(action[1], aw)
            return ('ok',)
        except StopIteration as exc:
            return ('return', exc.value)
        except BaseException as exc:
            return ('raise', describe(exc))

    def suspended(self):
        return self.aw.cr_suspended

    def release(self):
        """Release the awaitable; return the categories of the warnings
        emitted, then ('unraisable', exception) for what its finalizer's
        close() raised."""
        ref = weakref.ref(self.aw)
        unraisable = []
        def hook(u):
            unraisable.append(('unraisable', describe(u.exc_value)))
        old_hook = sys.unraisablehook
        sys.unraisablehook = hook
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter('always')
                self.release_awaitable(ref)
        finally:
            sys.unraisablehook = old_hook
        return [str(x.category.__name__) for x in w] + unraisable

    def release_awaitable(self, ref):
        # The awaitable and the world are in a cycle (through the
        # dispatchers saved as values): break it.  The awaitable may
        # be in cycles of its own (through the RealInner objects it
        # holds, which keep it): the collector finalizes it then.  An
        # await that its finalizer starts (and logs) is outside the
        # garbage that collection found, and is released by a later
        # one: collect until nothing more is logged.
        self.aw = None
        if ref() is not None:
            logged = -1
            for _ in range(10):
                if len(self.log) == logged:
                    break
                logged = len(self.log)
                gc.collect()


def run_real(program, driver, drain):
    world = RealWorld()
    for step in program:
        world.try_queue(step, world.aw)
    outcomes = []
    for action in driver:
        outcomes.append((action[0], world.act(action), world.suspended()))
    if drain:
        for _ in range(100):
            outcome = world.act(('send', None))
            outcomes.append(('drain', outcome, world.suspended()))
            if outcome[0] != 'yield':
                break
    outcomes.append(('release', world.release()))
    return world.log, outcomes


# --- The model ---------------------------------------------------------------

class Failure(Exception):
    """The model's exception escaping: carries the model exception."""
    def __init__(self, exc):
        self.exc = exc


def model_exc(exc, context=None):
    exc.__context__ = context
    return exc


def chain_body_exception(exc, body_exc):
    """What __aexit__ raised while it handled body_exc gets body_exc at
    the end of its __context__ chain, unless it is in it already."""
    while exc is not body_exc:
        if exc.__context__ is None:
            exc.__context__ = body_exc
            return
        exc = exc.__context__


class ModelInner:
    """The model of RealInner's generator."""
    def __init__(self, model, rec, key, inner, orphan=False):
        self.model = model
        self.rec = rec
        self.key = key
        self.inner = inner
        self.orphan = orphan
        self.i = 0
        self.started = False

    def _finish(self):
        suspensions, outcome, on_throw, at_start = self.inner
        if outcome[0] == 'raise':
            return ('error', Boom(self.key, 'inner'))
        if outcome[0] == 'stop':
            return ('error', StopAsyncIteration())
        return ('return', outcome[1])

    def send(self, value):
        suspensions = self.inner[0]
        if self.started:
            self.model.log.append(('resume', self.key, value))
            self.i += 1
        self.started = True
        if self.i < suspensions:
            return ('next', ('y', self.key, self.i))
        return self._finish()

    def throw(self, exc):
        if isinstance(exc, GeneratorExit):
            # throw_inner() calls close(), then raises GeneratorExit.
            self.close()
            return ('error', exc)
        self.model.log.append(('thrown', self.key, describe(exc)))
        if self.inner[2] == 'return':
            return ('return', ('caught', self.key))
        return ('error', exc)

    def close(self):
        # Started (always: a send follows the start at once) and
        # suspended: GeneratorExit reaches the yield.
        self.model.log.append(('closed', self.key))


class Record:
    """A record of the model's queue: an 'await' or 'defer' step, or the
    await of __aenter__() ('enter'), of __aexit__() ('exit') or of
    __anext__() ('next') of a 'with' or 'for' step."""
    def __init__(self, kind, step, exc=None, err=True, iterator=None,
                 in_loop=False):
        self.kind = kind
        self.step = step
        # 'exit': the exception for __aexit__ (None: a normal exit, which
        # an unwinding exception can still reach), and whether the error
        # callback of the step applies after it.
        self.exc = exc
        self.err = err
        # 'next': [index of the next __anext__() call], shared by the
        # records of one loop; and whether it comes after an item, the
        # loop's body running before it: an exception of the body that
        # unwinds to it goes to the step's error callback, and ends the
        # loop.
        self.iterator = iterator
        self.in_loop = in_loop


class Model:
    def __init__(self):
        self.log = []
        self.state = 'created'
        self.queue_ = []
        self.insert = None       # None: append; else index in queue_
        self.inner = None        # ModelInner of the head record
        self.result = None
        self.cancels = 0
        # The exceptions being handled: an error callback runs as an
        # except block, and what is raised in it gets the last as context.
        self.handling = []

    # The C API

    def queue(self, step):
        if step.kind in ('with', 'for') and self.state == 'finished':
            # Refused before __aenter__() or __aiter__() is called.
            return Failure(RuntimeError())
        if step.kind == 'with':
            # __aenter__() is called first, even if queueing then fails.
            self.log.append(('aenter', step.sid))
            if step.enter_call == 'raise':
                return Failure(model_exc(
                    Boom(step.sid, 'aenter'),
                    self.handling[-1] if self.handling else None))
            rec = Record('enter', step)
        elif step.kind == 'for':
            self.log.append(('aiter', step.sid))
            rec = Record('next', step, iterator=[0])
        else:
            rec = Record(step.kind, step)
        return self.push(rec)

    def push(self, rec):
        if self.state == 'finished':
            return Failure(RuntimeError())
        if self.insert is None:
            self.queue_.append(rec)
        else:
            self.queue_.insert(self.insert, rec)
            self.insert += 1
        return None

    def cancel(self):
        self.cancels += 1
        inner, self.inner = self.inner, None
        self.queue_.clear()
        if self.insert is not None:
            # From a running callback: what it queues next still goes
            # right after its step, and is dropped if it fails.
            self.insert = 0
        if inner is not None:
            inner.close()    # released: the generator is finalized

    def do_body(self, body):
        for action in body:
            if action[0] == 'queue':
                failure = self.queue(action[1])
                if failure is not None:
                    self.log.append(('queue_failed', describe(failure.exc)))
            elif action[0] == 'set_result':
                self.result = action[1]
            elif action[0] == 'cancel':
                self.cancel()

    # Callbacks

    def error_callback(self, step, exc):
        """Return None (handled: go on) or the exception to raise."""
        if step.on_error is None:
            return exc
        self.log.append(('error_cb', step.sid, describe(exc)))
        code, body = step.on_error
        self.handling.append(exc)
        try:
            self.do_body(body)
        finally:
            self.handling.pop()
        if code in (0, 1):
            return None
        if code in (-1, '-1-exc'):
            return exc
        if code == -2:
            return model_exc(Boom(step.sid, 'error_cb'), exc)
        if code == '-2-noexc':
            return model_exc(SystemError(), exc)
        assert code == '0-exc'
        # What the callback set, with what it was given as its context, is
        # the SystemError's cause (and context).
        return model_exc(SystemError(),
                         model_exc(Boom(step.sid, 'error_cb'), exc))

    def result_callback(self, step, value):
        """Return (0, None), or (-1, exc) to go to the error callback, or
        (-2, exc) to skip it, as call_result_callback() does."""
        if step.on_result is None:
            return 0, None
        self.log.append(('result_cb', step.sid, value))
        code, body = step.on_result
        self.do_body(body)
        if code in (0, 1):
            return 0, None
        if code in (-1, 'raise'):
            return -1, Boom(step.sid, 'result_cb')
        if code == -2:
            return -2, Boom(step.sid, 'result_cb')
        if code == '-1-noexc':
            return -1, model_exc(SystemError())
        assert code == '0-exc'
        return -2, model_exc(SystemError(), Boom(step.sid, 'result_cb'))

    def complete(self, rec, status, value):
        """The await of rec (popped) completed: run its callbacks.  Return
        None (go on) or the exception that escapes them."""
        step = rec.step
        if rec.kind == 'return':
            # No callbacks: the result replaces the awaitable's.
            if status == 'error':
                return value
            self.result = value
            return None
        if rec.kind == 'await':
            if status == 'error':
                return self.error_callback(step, value)
            res, exc = self.result_callback(step, value)
            if res != 0:
                self.drop_queued_by_callback()
            if res == -1:
                return self.error_callback(step, exc)
            return exc
        if rec.kind == 'enter':
            if status == 'error':
                # No __aexit__.
                return self.error_callback(step, value)
            # The body callback; __aexit__ comes after what it queued,
            # with its exception if it failed (then what it queued is
            # dropped, and the error callback applies after __aexit__
            # unless it returned -2).  Cancelling does not drop it: it is
            # queued after.
            res, exc = self.result_callback(step, value)
            if res != 0:
                self.drop_queued_by_callback()
            self.push(Record('exit', step, exc=exc, err=res != -2))
            return None
        if rec.kind == 'exit':
            if status == 'error':
                if rec.exc is not None:
                    chain_body_exception(value, rec.exc)
                return self.error_callback(step, value) if rec.err else value
            if rec.exc is None or value:
                return None      # normal exit, or suppressed
            return self.error_callback(step, rec.exc) if rec.err else rec.exc
        assert rec.kind == 'next'
        if status == 'error':
            if isinstance(value, StopAsyncIteration):
                return None      # the loop ends
            return self.error_callback(step, value)
        cancels = self.cancels
        res, exc = self.result_callback(step, value)
        if res == 0:
            # The next __anext__() after what the item callback queued,
            # unless it cancelled the awaitable: that ends the loop.
            if self.cancels == cancels:
                self.push(Record('next', step, iterator=rec.iterator,
                                 in_loop=True))
            return None
        # The item callback failed: the loop ends, and what it queued (the
        # rest of the item's body) does not run.
        self.drop_queued_by_callback()
        if res == -1:
            return self.error_callback(step, exc)
        return exc

    def drop_queued_by_callback(self):
        """A callback failed: drop what it queued, as the rest of a try
        block after an exception."""
        if self.insert is not None:
            del self.queue_[:self.insert]
            self.insert = 0

    def run_defer(self, step):
        self.log.append(('defer', step.sid))
        self.do_body(step.body)
        if step.code == 'raise':
            return Boom(step.sid, 'defer')
        if step.code == '-1-noexc':
            return model_exc(SystemError())
        if step.code == '0-exc':
            return model_exc(SystemError(), Boom(step.sid, 'defer'))
        return None

    def start(self, rec):
        """The key and the inner of the await of rec, starting."""
        step = rec.step
        if rec.kind in ('await', 'return'):
            return step.sid, step.inner
        if rec.kind == 'enter':
            return (step.sid, 'enter'), step.enter
        if rec.kind == 'exit':
            # __aexit__() is called when its step starts.
            exc = rec.exc
            if exc is None:
                self.log.append(('aexit', step.sid, None, None))
            else:
                self.log.append(('aexit', step.sid, type(exc).__name__,
                                 describe(exc), True))
            return (step.sid, 'exit'), step.exit
        assert rec.kind == 'next'
        i = rec.iterator[0]
        rec.iterator[0] += 1
        inner = step.items[i] if i < len(step.items) else STOP
        return (step.sid, 'next', i), inner

    def run(self, arg, exc):
        """awaitable_run(): ('yield', v), ('return', v) or ('raise', e)."""
        while True:
            error = None
            if self.inner is not None:
                inner = self.inner
                if exc is not None:
                    status, value = inner.throw(exc)
                    exc = None
                else:
                    status, value = inner.send(arg)
                if status == 'next':
                    return ('yield', value)
                self.inner = None
                arg = None
                if inner.orphan:
                    # Its step was dropped by a cancellation in __await__:
                    # no callback; the result is dropped, an exception
                    # unwinds.
                    if status == 'error':
                        error = value
                else:
                    rec = self.queue_.pop(0)
                    assert rec is inner.rec
                    self.insert = 0
                    error = self.complete(rec, status, value)
                    self.insert = None
            elif exc is not None:
                error = exc
            elif not self.queue_:
                self.state = 'finished'
                return ('return', self.result)
            elif self.queue_[0].kind == 'defer':
                rec = self.queue_.pop(0)
                self.insert = 0
                error = self.run_defer(rec.step)
                self.insert = None
            else:
                rec = self.queue_[0]
                key, inner = self.start(rec)
                self.log.append(('start', key))
                orphan = inner[3] == 'cancel'
                if orphan:
                    # PyAwaitable_Cancel() from __await__ drops the step
                    # being started; the iterator __await__ returns is
                    # still awaited (and its result dropped).
                    self.cancel()
                if inner[1][0] == 'start-raise':
                    # Not generated with at_start='cancel', which the model
                    # does not cover (CancelRegressionTests in
                    # test_awaitable_hardening do).
                    assert not orphan
                    self.queue_.pop(0)
                    self.insert = 0
                    error = self.complete(rec, 'error', Boom(key, 'start'))
                    self.insert = None
                else:
                    self.inner = ModelInner(self, rec, key, inner, orphan)
                    arg = None
                    continue
            if error is not None:
                # Unwind: drop the pending records up to the next pending
                # __aexit__ (one without an exception yet), which gets it,
                # or the next __anext__() of a loop whose body raised it,
                # whose error callback gets it (the loop ends).
                while self.queue_:
                    rec = self.queue_[0]
                    if rec.kind == 'exit' and rec.exc is None:
                        rec.exc = error
                        break
                    self.queue_.pop(0)
                    if rec.kind == 'next' and rec.in_loop:
                        self.insert = 0
                        error = self.error_callback(rec.step, error)
                        self.insert = None
                        if error is None:
                            break
                else:
                    self.state = 'finished'
                    return ('raise', error)

    # Python-level methods

    def act(self, action):
        kind = action[0]
        if kind == 'send':
            if self.state == 'finished':
                return ('raise', describe(RuntimeError()))
            if self.state == 'created' and action[1] is not None:
                return ('raise', describe(TypeError()))
            self.state = 'started'
            return self.outcome(self.run(action[1], None))
        if kind in ('throw', 'throw-exit'):
            exc = (Thrown(len(self.log)) if kind == 'throw'
                   else GeneratorExit())
            if self.state == 'finished':
                # As into a finished coroutine.
                return ('raise', describe(RuntimeError()))
            self.state = 'started'
            return self.outcome(self.run(None, exc))
        if kind == 'close':
            return self.close()
        if kind == 'cancel':
            self.cancel()
        elif kind == 'set_result':
            self.result = action[1]
        elif kind == 'queue':
            failure = self.queue(action[1])
            if failure is not None:
                return ('raise', describe(failure.exc))
        return ('ok',)

    def close(self):
        # As a coroutine's: nothing runs if it never started; otherwise
        # GeneratorExit is thrown in, and suspending again ignores it.
        if self.state == 'created':
            self.state = 'finished'
            self.queue_.clear()
        if self.state == 'finished':
            return ('close', None)
        res = self.run(None, GeneratorExit())
        if res[0] == 'yield':
            return ('raise', describe(RuntimeError()))
        if res[0] == 'raise' and type(res[1]) is GeneratorExit:
            return ('close', None)
        res = self.outcome(res)
        if res[0] == 'return':
            return ('close', res[1])
        return res

    def outcome(self, res):
        status, value = res
        if status == 'raise':
            return ('raise', describe(value))
        if status == 'return':
            self.queue_.clear()
            self.inner = None
        return res

    def suspended(self):
        # Between sends: started and not finished, whether an await is in
        # progress or was dropped by a cancellation.
        return self.state == 'started'

    def release(self):
        warned = []
        if self.state == 'created':
            if not self.cancels:
                warned.append('RuntimeWarning')
        elif self.state == 'started':
            # Finalized while suspended: closed, what close() raises
            # reported as unraisable.  If it ignored GeneratorExit, what
            # it awaits is released, and finalized.
            res = self.close()
            if res[0] == 'raise':
                warned.append(('unraisable', res[1]))
            if self.state == 'started' and self.inner is not None:
                self.inner.close()
        return warned


def run_model(program, driver, drain):
    model = Model()
    for step in program:
        failure = model.queue(step)
        if failure is not None:
            model.log.append(('queue_failed', describe(failure.exc)))
    outcomes = []
    for action in driver:
        outcomes.append((action[0], model.act(action), model.suspended()))
    if drain:
        for _ in range(100):
            outcome = model.act(('send', None))
            outcomes.append(('drain', outcome, model.suspended()))
            if outcome[0] != 'yield':
                break
    outcomes.append(('release', model.release()))
    return model.log, outcomes


# --- Strategies --------------------------------------------------------------

values = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from('ab'))
# PyAwaitable_SetResult() refuses NULL, which the helper makes of None.
results = st.one_of(st.integers(-3, 3), st.sampled_from('ab'))


def no_cancel_then_start_raise(inner):
    # Cancelling in __await__, then raising, is not in the model (see
    # test_cancel_from_dunder_await_then_raise instead): not generated.
    if inner[1][0] == 'start-raise' and inner[3] == 'cancel':
        return inner[:3] + (None,)
    return inner


inner_strategy = st.tuples(
    st.integers(0, 2),
    st.one_of(st.tuples(st.just('return'), values),
              st.just(('raise',)), st.just(('start-raise',))),
    st.sampled_from(['propagate', 'return']),
    st.sampled_from([None, None, None, 'cancel']),
).map(no_cancel_then_start_raise)


def cm_inner(outcome):
    # The objects of 'with' and 'for' steps do not cancel from __await__.
    return st.tuples(st.integers(0, 2), outcome,
                     st.sampled_from(['propagate', 'return']), st.just(None))


# Mostly returning, so that most bodies run.
returning = st.tuples(st.just('return'), values)
raising = st.sampled_from([('raise',), ('start-raise',)])
enter_strategy = cm_inner(st.one_of(returning, returning, raising))
# What __aexit__ returns: true suppresses.
exit_strategy = cm_inner(st.one_of(
    st.tuples(st.just('return'), st.one_of(st.booleans(), values)),
    raising))
item_strategy = cm_inner(st.one_of(returning, returning, returning, raising,
                                   st.just(('stop',))))
# Body and item callbacks: mostly succeeding (a failing body callback
# queues nothing, see below).
BODY_CODES = (0,) * len(RESULT_CODES) + RESULT_CODES


def steps_with(children, kinds=('await', 'return', 'defer', 'with', 'for')):
    action = st.one_of(st.tuples(st.just('set_result'), results),
                       st.just(('cancel',)))
    if children is not None:
        action = st.one_of(st.tuples(st.just('queue'), children), action)
    body = st.lists(action, max_size=3)
    on_result = st.one_of(st.none(),
                          st.tuples(st.sampled_from(RESULT_CODES), body))
    on_error = st.one_of(st.none(),
                         st.tuples(st.sampled_from(ERROR_CODES), body))
    on_body = st.one_of(st.none(),
                        st.tuples(st.sampled_from(BODY_CODES), body))
    strategies = {
        'await': st.tuples(st.just('await'), inner_strategy, on_result,
                           on_error),
        'return': st.tuples(st.just('return'), inner_strategy),
        'defer': st.tuples(st.just('defer'), st.sampled_from(DEFER_CODES),
                           body),
        'with': st.tuples(st.just('with'),
                          st.sampled_from(['ok', 'ok', 'ok', 'raise']),
                          enter_strategy, exit_strategy, on_body, on_error),
        'for': st.tuples(st.just('for'), st.lists(item_strategy, max_size=3),
                         on_body, on_error),
    }
    return st.one_of(*[strategies[kind] for kind in kinds])


step_strategy = st.recursive(steps_with(None), steps_with, max_leaves=8)
program_strategy = st.lists(step_strategy, max_size=4)
driver_strategy = st.lists(
    st.one_of(st.tuples(st.just('send'), st.one_of(st.none(), values)),
              st.just(('throw',)), st.just(('throw-exit',)),
              st.just(('close',)), st.just(('cancel',)),
              st.tuples(st.just('set_result'), results),
              st.tuples(st.just('queue'), step_strategy)),
    max_size=6)
# Programs that start with 'with' and 'for' steps (whose callbacks queue
# any steps), run by a driver that mostly sends: most of them run deep
# into the nesting.
cm_program_strategy = st.lists(
    steps_with(step_strategy, kinds=('with', 'for')), min_size=1,
    max_size=3)
cm_driver_strategy = st.lists(
    st.one_of(st.just(SEND), st.just(SEND), st.just(SEND),
              st.just(('throw',)), st.just(('throw-exit',)),
              st.just(('close',)), st.just(('cancel',)),
              st.tuples(st.just('queue'), step_strategy)),
    max_size=5)


# Building blocks of the examples.
def AWAIT(suspensions=0, outcome=('return', 1), on_throw='propagate',
          on_result=None, on_error=None, at_start=None):
    return ('await', (suspensions, outcome, on_throw, at_start), on_result,
            on_error)


def RETURN(suspensions=0, outcome=('return', 1), on_throw='propagate'):
    return ('return', (suspensions, outcome, on_throw, None))


def has_cancelling_start(steps):
    for step in steps:
        if step[0] in ('await', 'return'):
            if step[1][3] == 'cancel':
                return True
            callbacks = step[2:]
        elif step[0] == 'with':
            callbacks = step[4:]
        elif step[0] == 'for':
            callbacks = step[2:]
        else:
            callbacks = [(None, step[2])]
        bodies = [cb[1] for cb in callbacks if cb is not None]
        for body in bodies:
            if has_cancelling_start([a[1] for a in body if a[0] == 'queue']):
                return True
    return False


def DEFER(code=0, body=()):
    return ('defer', code, list(body))


def INNER(suspensions=0, outcome=('return', None), on_throw='propagate'):
    return (suspensions, outcome, on_throw, None)


def WITH(enter=INNER(1, ('return', 'v')), exit=INNER(1, ('return', False)),
         on_body=None, on_error=None, enter_call='ok'):
    return ('with', enter_call, enter, exit, on_body, on_error)


def FOR(items=(INNER(1, ('return', 0)), INNER(0, ('return', 1))),
        on_item=None, on_error=None):
    return ('for', list(items), on_item, on_error)


class ModelTests(unittest.TestCase):
    def check(self, program, driver, drain):
        # A step queued from outside while the iterator returned by a
        # cancelling __await__ runs is not in the model (see
        # test_cancel_from_dunder_await_then_queue instead): not
        # generated.
        hypothesis.assume(not (
            any(a[0] == 'queue' for a in driver)
            and has_cancelling_start(program + [a[1] for a in driver
                                                if a[0] == 'queue'])))
        CASES[0] += 1
        program, driver = normalize(program, driver)
        real = run_real(program, driver, drain)
        model = run_model(program, driver, drain)
        self.assertEqual(real[0], model[0], 'events differ')
        self.assertEqual(real[1], model[1], 'outcomes differ')

    @settings
    @given(program=program_strategy, driver=driver_strategy,
           drain=st.booleans())
    # Plain awaits, results and errors through the codes.
    @example(program=[AWAIT(1, ('return', 1), on_result=(0, [])),
                      AWAIT(0, ('raise',), on_error=(0, []))],
             driver=[SEND, ('send', 5)], drain=True)
    @example(program=[AWAIT(0, ('return', 'a'),
                            on_result=(code, [('set_result', code)]),
                            on_error=(0, []))
                      for code in RESULT_CODES],
             driver=[], drain=True)
    @example(program=[AWAIT(1, ('raise',), on_error=(code, []))
                      for code in ERROR_CODES],
             driver=[SEND, SEND, SEND], drain=True)
    # Steps queued by callbacks run before the steps queued earlier.
    @example(program=[AWAIT(0, ('return', 1), on_result=(0, [
                          ('queue', AWAIT(1, ('return', 2),
                                          on_result=(0, []))),
                          ('queue', DEFER(0, [('set_result', 'd')]))])),
                      DEFER(0, [('set_result', 'last')])],
             driver=[SEND, ('queue', AWAIT(0))], drain=True)
    # Throw: into the inner, caught or propagated, to the error callback.
    @example(program=[AWAIT(2, on_throw='return', on_result=(0, [])),
                      AWAIT(2, on_error=(0, [])), AWAIT(2)],
             driver=[SEND, ('throw',), ('throw',), ('throw',),
                     ('throw',)], drain=True)
    @example(program=[AWAIT(1, on_error=(0, [])), AWAIT(1)],
             driver=[('throw',), SEND], drain=True)
    @example(program=[AWAIT(1, on_error=(0, []))],
             driver=[SEND, ('throw-exit',), SEND], drain=True)
    # Close and cancel at any point; release in any state.
    @example(program=[AWAIT(2, on_result=(0, []))],
             driver=[SEND, ('close',), ('close',), SEND, ('throw',)],
             drain=False)
    @example(program=[AWAIT(2), AWAIT(1)],
             driver=[SEND, ('cancel',), ('queue', AWAIT(1)), SEND],
             drain=True)
    @example(program=[AWAIT(0, on_result=(0, [('cancel',),
                                              ('set_result', 'c')])),
                      AWAIT(1)],
             driver=[], drain=True)
    @example(program=[AWAIT(2)], driver=[SEND], drain=False)
    @example(program=[AWAIT(2)], driver=[('send', 1)], drain=False)
    @example(program=[AWAIT(2)], driver=[('cancel',)], drain=False)
    # Cancelling from __await__: the step is dropped, its iterator still
    # runs, its result is dropped.
    @example(program=[AWAIT(1, ('return', 'i'), on_result=(0, []),
                            at_start='cancel'), AWAIT(0)],
             driver=[SEND, ('set_result', 'a')], drain=True)
    @example(program=[AWAIT(2, ('raise',), on_error=(0, []),
                            at_start='cancel')],
             driver=[SEND, ('throw',)], drain=True)
    # Deferred steps and their failures; start failures.
    @example(program=[DEFER('raise'), AWAIT(0)], driver=[], drain=True)
    @example(program=[DEFER('0-exc'), AWAIT(0)], driver=[], drain=True)
    @example(program=[RETURN(1, ('return', 'r')),
                      AWAIT(0, on_result=(0, []))], driver=[], drain=True)
    @example(program=[AWAIT(0, on_result=(0, [('set_result', 'x')])),
                      RETURN(1, ('raise',))],
             driver=[SEND, ('throw',)], drain=True)
    @example(program=[WITH(on_body=(0, [('queue', RETURN(1))]))],
             driver=[SEND, SEND, ('cancel',)], drain=True)
    @example(program=[AWAIT(0, ('start-raise',), on_error=(0, [])),
                      DEFER('-1-noexc')], driver=[], drain=True)
    # A failing result callback: what it queued does not run, even when
    # the error callback handles the failure.
    @example(program=[step for code in (-1, 'raise', '-1-noexc')
                      for step in (AWAIT(0, on_result=(code, [('queue', AWAIT(
                                       0, on_result=(0, [
                                           ('set_result', 'queued')])))]),
                                         on_error=(0, [])),
                                   AWAIT(0, on_result=(0, [])))],
             driver=[], drain=True)
    # Finished: adding a step, throwing, sending.
    @example(program=[], driver=[SEND, ('queue', DEFER()), ('throw',),
                                 ('set_result', 1), SEND], drain=True)
    # Close, as a coroutine's: GeneratorExit to the error callback, which
    # lets it go, handles it (the awaitable returns its result, or awaits
    # and suspends again: it ignored GeneratorExit) or raises another;
    # released while suspended: closed so.
    @example(program=[AWAIT(2, on_error=(-1, [])), AWAIT(1)],
             driver=[SEND, ('close',), ('close',)], drain=False)
    @example(program=[AWAIT(2, on_error=(0, [('set_result', 'r')]))],
             driver=[SEND, ('close',)], drain=False)
    @example(program=[AWAIT(2, on_error=(0, [])), AWAIT(1)],
             driver=[SEND, ('close',), ('close',)], drain=True)
    @example(program=[AWAIT(2, on_error=(-2, []))],
             driver=[SEND, ('close',)], drain=False)
    @example(program=[AWAIT(2, on_error=(0, [])), AWAIT(1)],
             driver=[SEND], drain=False)
    def test_protocol(self, program, driver, drain):
        self.check(program, driver, drain)

    @settings
    @given(program=cm_program_strategy, driver=cm_driver_strategy,
           drain=st.just(True))
    # async with: the body runs between __aenter__ and __aexit__, before
    # the steps queued after it.
    @example(program=[WITH(on_body=(0, [
                          ('queue', AWAIT(1, on_result=(0, []))),
                          ('set_result', 'w')])),
                      AWAIT(0, on_result=(0, []))],
             driver=[], drain=True)
    # A failing body callback: __aexit__ gets the exception, then the
    # error callback (not after -2 and '0-exc': __aexit__ suppresses).
    @example(program=[WITH(exit=INNER(1, ('return', code in (-2, '0-exc'))),
                           on_body=(code, []), on_error=(0, []))
                      for code in RESULT_CODES],
             driver=[], drain=True)
    @example(program=[WITH(on_body=(-2, []), on_error=(0, [])), AWAIT(0)],
             driver=[], drain=True)
    # An exception of the body unwinds to __aexit__, which suppresses it.
    @example(program=[WITH(exit=INNER(0, ('return', True)), on_body=(0, [
                          ('queue', AWAIT(0, ('raise',))),
                          ('queue', AWAIT(0, on_result=(0, [])))])),
                      AWAIT(0, on_result=(0, [('set_result', 'after')]))],
             driver=[], drain=True)
    # __aenter__ failing when called, when awaited, at __await__: no
    # __aexit__.
    @example(program=[WITH(enter=INNER(1, ('raise',)), on_body=(0, []),
                           on_error=(0, [])),
                      WITH(enter_call='raise'),
                      WITH(enter=INNER(0, ('start-raise',)),
                           on_error=(-1, []))],
             driver=[SEND, ('queue', WITH(enter_call='raise'))],
             drain=True)
    # Cancel from the body callback still awaits __aexit__.
    @example(program=[WITH(on_body=(0, [('cancel',), ('set_result', 'c')])),
                      AWAIT(0)],
             driver=[], drain=True)
    # Throw into the body, then into __aexit__; close in __aexit__.
    @example(program=[WITH(exit=INNER(2, ('return', None)), on_body=(0, [
                          ('queue', AWAIT(2))]), on_error=(0, []))],
             driver=[SEND, SEND, ('throw',), ('throw',), SEND],
             drain=True)
    @example(program=[WITH(exit=INNER(2, ('return', None)))],
             driver=[SEND, SEND, SEND, ('close',)], drain=True)
    # async for: items, their callbacks (each code), StopAsyncIteration,
    # an error of __anext__, cancel from the item callback.
    @example(program=[WITH(exit=INNER(0, ('return', True)), on_body=(0, [
                          ('queue', FOR(on_item=(code, [('set_result', 'i')]),
                                        on_error=(0, [])))]))
                      for code in RESULT_CODES],
             driver=[], drain=True)
    @example(program=[FOR([INNER(1, ('return', 1)), INNER(0, ('raise',))],
                          on_item=(0, []), on_error=(0, [])),
                      FOR([INNER(0, ('stop',)), INNER(0, ('return', 9))],
                          on_item=(0, [])),
                      FOR(on_item=(0, [('cancel',)])),
                      AWAIT(0)],
             driver=[], drain=True)
    # Nested: an async with in the item callback, whose body fails and
    # unwinds to its __aexit__; the loop goes on.
    @example(program=[FOR(on_item=(0, [('queue', WITH(on_body=(0, [
                          ('queue', AWAIT(0, ('raise',)))]),
                          on_error=(0, [])))]))],
             driver=[], drain=True)
    # An exception in a loop in the body of an async with.
    @example(program=[WITH(on_body=(0, [('queue', FOR(on_item=(-2, [])))]))],
             driver=[SEND, SEND, ('throw',)], drain=True)
    # A failing item callback: what it queued does not run, and the loop
    # ends, its error callback handling the failure.
    @example(program=[step for code in (-1, 'raise', '-1-noexc')
                      for step in (FOR(on_item=(code, [('queue', AWAIT(
                                       0, on_result=(0, [
                                           ('set_result', 'queued')])))]),
                                       on_error=(0, [])),
                                   AWAIT(0, on_result=(0, [])))],
             driver=[], drain=True)
    # An exception of the loop's body ends the loop and goes to its error
    # callback (handled, re-raised, or with none); one before the loop
    # does not.
    @example(program=[FOR(on_item=(0, [('queue', AWAIT(0, ('raise',)))]),
                          on_error=(0, [('queue', AWAIT(0))])),
                      AWAIT(0, on_result=(0, [('set_result', 'after')])),
                      FOR(on_item=(0, [('queue', AWAIT(1, ('raise',)))]),
                          on_error=(-1, []))],
             driver=[], drain=True)
    @example(program=[AWAIT(0, ('raise',)), FOR(on_error=(0, []))],
             driver=[], drain=True)
    @example(program=[FOR(on_item=(0, [('queue', AWAIT(2))]))],
             driver=[SEND, SEND, SEND, ('throw',)], drain=True)
    # __aenter__() raising when called in an error callback: its
    # exception has the one handled as context.
    @example(program=[AWAIT(0, ('raise',), on_error=(0, [
                          ('queue', WITH(enter_call='raise'))]))],
             driver=[], drain=True)
    # Refused on a finished awaitable before __aenter__() or __aiter__()
    # is called.
    @example(program=[], driver=[SEND, ('queue', WITH()), ('queue', FOR())],
             drain=True)
    # Closed or released in the body of `async with`: __aexit__ is awaited
    # with GeneratorExit (and, suspending, ignores it).
    @example(program=[WITH(exit=INNER(0, ('return', False)), on_body=(0, [
                          ('queue', AWAIT(2))]))],
             driver=[SEND, SEND, ('close',)], drain=True)
    @example(program=[WITH(on_body=(0, [('queue', AWAIT(2))]),
                           on_error=(0, []))],
             driver=[SEND, SEND, ('close',)], drain=True)
    @example(program=[WITH(exit=INNER(0, ('return', False)), on_body=(0, [
                          ('queue', AWAIT(2))]))],
             driver=[SEND, SEND], drain=False)
    def test_async_with_for(self, program, driver, drain):
        self.check(program, driver, drain)


if __name__ == '__main__':
    unittest.main()
