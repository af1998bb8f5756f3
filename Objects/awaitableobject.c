/* Awaitable objects: asynchronous functions written in C.

   A C function creates an awaitable with PyAwaitable_New(), queues the
   steps of its asynchronous body (PyAwaitable_AddAwait() and friends) and
   returns it; the caller awaits it.  The API follows the PyAwaitable
   library (PyPI "pyawaitable" 2.x) so that code moves between the two.

   The object is its own iterator: am_await returns self and am_send drives
   the queue, so awaiting one costs no allocation beyond the object itself.

   State machine (aw_state):

     CREATED --send(None)--> STARTED --queue empty--> FINISHED
        |                      |   ^                     ^
        |                      |   +-- inner yields -----+-- unhandled error,
        +-- throw()/close() ---+------------------------>+   throw(), close()

   While STARTED, aw_inner is the iterator of the await in progress (what
   `await` would delegate to, from _PyCoro_GetAwaitableIter()) or NULL
   between awaits.  A send goes to aw_inner through PyIter_Send(); when it
   completes, the record at the head of the queue is popped, its callback
   runs, and the next record starts, all within the same send: only a
   suspension of an inner awaitable suspends the awaitable.  When the queue
   is empty the send returns PYGEN_RETURN with the result (no StopIteration
   on the success path).  aw_running guards against re-entry (a callback
   sending to its own awaitable, or two threads sending at once).

   Records queued while a callback runs are inserted right after the record
   whose callback is running, not appended at the end of the queue as the
   PyAwaitable library does: a callback is the continuation of its await, so
   what it queues runs before the steps queued after that await.  This is
   what lets PyAwaitable_AsyncWith() and PyAwaitable_AsyncFor() nest.
   Records queued meanwhile by another thread go at the end.

   An exception that no error callback handles unwinds the queue: records
   are dropped up to the next pending __aexit__ step of an
   PyAwaitable_AsyncWith(), which is then awaited with the exception, as
   `async with` does.  With no such step, the exception ends the awaitable.

   Inline storage: the first few records and saved values live inside the
   object; only longer queues fall back to PyMem allocation. */

#include "Python.h"
#include "awaitableobject.h"
#include "pycore_awaitable.h"     // _PyAwaitable_NewCall()
#include "pycore_ceval.h"         // _Py_EnterRecursiveCallTstate()
#include "pycore_frame.h"         // FRAME_SUSPENDED_YIELD_FROM
#include "pycore_freelist.h"      // struct _Py_awaitable_freelist
#include "pycore_genobject.h"     // _PyCoro_ComputeOrigin(), _PyGen_yf()
#include "pycore_tuple.h"         // _PyTuple_FromArray()
#include "pycore_modsupport.h"    // _PyArg_CheckPositional()
#include "pycore_object.h"        // _PyObject_GC_TRACK()
#include "pycore_pyatomic_ft_wrappers.h"
#include "pycore_pyerrors.h"      // _PyErr_ChainExceptions1()
#include "pycore_pystate.h"       // _PyThreadState_GET()
#include "pycore_warnings.h"      // _PyErr_WarnUnawaitedCoroutine()

#include <stdarg.h>

/* The object's layout is in pycore_awaitable.h. */
typedef _PyAwaitableRecordKind awaitable_record_kind;
typedef _PyAwaitableRecord awaitable_record;

#define CHECK_AWAITABLE(op, error_value)            \
    do {                                            \
        if ((op) == NULL || !PyAwaitable_Check(op)) { \
            PyErr_BadInternalCall();                \
            return error_value;                     \
        }                                           \
    } while (0)


/* --- The queue ---------------------------------------------------------- */

static void
record_clear(awaitable_record *rec)
{
    Py_CLEAR(rec->ar_obj);
    Py_CLEAR(rec->ar_ctx);
}

/* Release a record dropped before its step started.  What
   PyAwaitable_AsyncWith() got from __aenter__() is closed first if the
   record holds it alone and nothing started it: the awaitable made it, for
   an `async with` that was never reached, and it must not warn that it
   was never awaited.  Held elsewhere, it may still be awaited there: by
   the __aenter__ that returned it, or by the driver of this awaitable,
   which starts the await of the head record before it pops it, and which
   another thread's cancel may race on the free-threaded build.  Only a
   coroutine or an awaitable object is closed so, which closing cannot
   make run any of its code.  What the C code queued itself is released as
   it is: a coroutine it made and that is dropped warns, as one made in
   Python and never awaited does.  The pending exception is kept.  Called
   out of the critical section: releasing may run arbitrary code.

   The record's reference is the only one if the reference count is 1.
   Not _PyObject_IsUniquelyReferenced(), which on the free-threaded build
   also wants the object to belong to this thread: the thread that drops
   the record is often not the one that called __aenter__(). */
static void
record_drop(awaitable_record *rec)
{
    PyObject *obj = rec->ar_obj;
    if (rec->ar_kind == AWR_WITH_ENTER && obj != NULL
        && Py_REFCNT(obj) == 1
        && ((PyCoro_CheckExact(obj)
             && ((PyGenObject *)obj)->gi_frame_state == FRAME_CREATED)
            || (PyAwaitable_CheckExact(obj)
                && _PyAwaitable_IsUnstarted(obj))))
    {
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *res = PyObject_CallMethodNoArgs(obj, &_Py_ID(close));
        if (res == NULL) {
            PyErr_FormatUnraisable("Exception ignored while closing the "
                                   "unawaited result of __aenter__ %R",
                                   obj);
        }
        Py_XDECREF(res);
        PyErr_SetRaisedException(exc);
    }
    record_clear(rec);
}

/* Make room for one more record.  Steals nothing; returns -1 with
   MemoryError set on failure. */
static int
queue_reserve(PyAwaitableObject *aw)
{
    if (aw->aw_count < aw->aw_capacity) {
        return 0;
    }
    if (aw->aw_head > 0) {
        /* Reuse the consumed slots at the front first. */
        int n = aw->aw_count - aw->aw_head;
        memmove(aw->aw_records, aw->aw_records + aw->aw_head,
                n * sizeof(awaitable_record));
        if (aw->aw_insert >= 0) {
            aw->aw_insert -= aw->aw_head;
        }
        aw->aw_head = 0;
        aw->aw_count = n;
        return 0;
    }
    if (aw->aw_capacity > INT_MAX / 2) {
        PyErr_NoMemory();
        return -1;
    }
    int capacity = aw->aw_capacity * 2;
    awaitable_record *records;
    if (aw->aw_records == aw->aw_inline_records) {
        records = PyMem_New(awaitable_record, capacity);
        if (records != NULL) {
            memcpy(records, aw->aw_inline_records,
                   aw->aw_count * sizeof(awaitable_record));
            aw->aw_heap_storage = 1;
        }
    }
    else {
        records = aw->aw_records;
        PyMem_Resize(records, awaitable_record, capacity);
    }
    if (records == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    aw->aw_records = records;
    aw->aw_capacity = capacity;
    return 0;
}

#define FINISHED_MESSAGE "cannot add a step to a finished awaitable"

/* Refuse a step for a finished awaitable before anything is called for it
   (__aenter__(), __aiter__()).  Queueing it checks again: the awaitable
   may finish meanwhile. */
static int
check_unfinished(PyObject *awaitable)
{
    if (FT_ATOMIC_LOAD_UINT8(_PyAwaitable_CAST(awaitable)->aw_state)
        == AW_FINISHED)
    {
        PyErr_SetString(PyExc_RuntimeError, FINISHED_MESSAGE);
        return -1;
    }
    return 0;
}

/* Queue a record; the queue takes over its references, even on failure
   (they are released then).  If cancels is not -1, the record is queued
   only if the awaitable was not cancelled since aw_cancels was cancels
   (and dropped silently otherwise), in the same critical section as the
   check, so that a PyAwaitable_Cancel() from another thread cannot come
   in between. */
static int
queue_push_unless_cancelled(PyAwaitableObject *aw, awaitable_record *rec,
                            int64_t cancels)
{
    int res;
    int dropped = 0;
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (cancels != -1 && aw->aw_cancels != cancels) {
        dropped = 1;
        res = 0;
    }
    else if (aw->aw_state == AW_FINISHED) {
        /* It would never run, silently. */
        PyErr_SetString(PyExc_RuntimeError, FINISHED_MESSAGE);
        res = -1;
    }
    else {
        res = queue_reserve(aw);
    }
    if (res == 0 && !dropped) {
        if (aw->aw_insert >= 0 && aw->aw_driver == _PyThreadState_GET()) {
            int at = aw->aw_insert;
            memmove(aw->aw_records + at + 1, aw->aw_records + at,
                    (aw->aw_count - at) * sizeof(awaitable_record));
            aw->aw_records[at] = *rec;
            aw->aw_insert++;
        }
        else {
            aw->aw_records[aw->aw_count] = *rec;
        }
        aw->aw_count++;
    }
    Py_END_CRITICAL_SECTION();
    if (res < 0 || dropped) {
        record_drop(rec);
    }
    return res;
}

static inline int
queue_push(PyAwaitableObject *aw, awaitable_record *rec)
{
    return queue_push_unless_cancelled(aw, rec, -1);
}

/* Remove the head record and return it in *rec (the caller owns its
   references).  Records that its callback queues will go right after it. */
static void
queue_pop(PyAwaitableObject *aw, awaitable_record *rec)
{
    assert(aw->aw_head < aw->aw_count);
    *rec = aw->aw_records[aw->aw_head++];
    if (aw->aw_head == aw->aw_count) {
        aw->aw_head = aw->aw_count = 0;
    }
    aw->aw_insert = aw->aw_head;
}

/* Drop the records that the running callback queued, records[head:insert],
   as an exception in the body of `async with` skips the rest of the
   body.  One at a time, each released out of the critical section:
   releasing one may run arbitrary code, which may queue steps anew or
   cancel the awaitable (which drops the rest).  Steps queued so are kept,
   after what the caller queues next at aw_insert (the __aexit__ of
   `async with`, the error callback's steps), which goes right after the
   failed step, as when nothing was queued meanwhile. */
static void
queue_drop_queued_by_callback(PyAwaitableObject *aw)
{
    int remaining;
    Py_BEGIN_CRITICAL_SECTION(aw);
    remaining = aw->aw_insert - aw->aw_head;
    Py_END_CRITICAL_SECTION();
    while (remaining-- > 0) {
        awaitable_record rec;
        int dropped = 0;
        Py_BEGIN_CRITICAL_SECTION(aw);
        /* Steps queued meanwhile went at aw_insert, after these. */
        if (aw->aw_insert > aw->aw_head) {
            rec = aw->aw_records[aw->aw_head++];
            dropped = 1;
        }
        Py_END_CRITICAL_SECTION();
        if (!dropped) {
            break;      // cancelled meanwhile: nothing left to drop
        }
        record_drop(&rec);
    }
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (aw->aw_head == aw->aw_count) {
        aw->aw_head = aw->aw_count = 0;
    }
    if (aw->aw_insert >= 0) {
        aw->aw_insert = aw->aw_head;
    }
    Py_END_CRITICAL_SECTION();
}

/* The pending records of a queue, taken out whole by queue_take() (in a
   critical section) and released by taken_release() once the awaitable is
   consistent again (out of it): releasing them may run arbitrary code,
   which may send to the awaitable or queue steps anew, which are kept. */
typedef struct {
    awaitable_record *records;      // the queue's heap storage, or inline
    int head;
    int count;
    awaitable_record inline_records[AW_INLINE_RECORDS];
} taken_records;

static inline void
queue_take(PyAwaitableObject *aw, taken_records *taken)
{
    taken->records = taken->inline_records;
    taken->head = taken->count = 0;
    if (aw->aw_head == aw->aw_count) {
        /* Nothing pending: the storage stays. */
    }
    else if (aw->aw_records == aw->aw_inline_records) {
        taken->count = aw->aw_count - aw->aw_head;
        memcpy(taken->inline_records, aw->aw_records + aw->aw_head,
               taken->count * sizeof(awaitable_record));
    }
    else {
        /* The heap storage goes with the records; the queue starts again
           inline. */
        taken->records = aw->aw_records;
        taken->head = aw->aw_head;
        taken->count = aw->aw_count;
        aw->aw_records = aw->aw_inline_records;
        aw->aw_capacity = AW_INLINE_RECORDS;
    }
    aw->aw_head = aw->aw_count = 0;
    aw->aw_insert = -1;
}

static void
taken_release(taken_records *taken)
{
    for (int i = taken->head; i < taken->count; i++) {
        record_drop(&taken->records[i]);
    }
    if (taken->records != taken->inline_records) {
        PyMem_Free(taken->records);
    }
}


/* --- Running the queue -------------------------------------------------- */

static int
callback_failed(int res, const char *what)
{
    if (!PyErr_Occurred()) {
        PyErr_Format(PyExc_SystemError,
                     "awaitable %s callback returned %d without setting "
                     "an exception", what, res);
    }
    return -1;
}

/* Make exc the exception being handled, which sys.exception() returns,
   until handling_end(): as the except block that `async with` runs
   __aexit__ in, while __aexit__ handles the body's exception (its call,
   its await and the truth test of its result).  *item, on the C stack, is
   pushed on the thread's stack of handled exceptions, as a coroutine
   pushes its own (gen_send_ex2()).  Code that runs meanwhile may swap
   item->exc_value for another reference (PUSH_EXC_INFO, POP_EXCEPT,
   PyErr_SetHandledException()): handling_end() releases what is there. */
static inline void
handling_begin(PyThreadState *tstate, _PyErr_StackItem *item, PyObject *exc)
{
    item->exc_value = Py_NewRef(exc);
    item->previous_item = tstate->exc_info;
    tstate->exc_info = item;
}

static inline void
handling_end(PyThreadState *tstate, _PyErr_StackItem *item)
{
    assert(tstate->exc_info == item);
    tstate->exc_info = item->previous_item;
    item->previous_item = NULL;
    Py_CLEAR(item->exc_value);
}

/* Whether exc is in the __context__ chain of raised (raised itself
   included).  A cycle of contexts (which only C code can make) ends the
   walk (Floyd's cycle detection).  raised may be anything that C code
   set with PyErr_SetRaisedException(): not an exception, it has no
   chain (and _PyErr_SetObject() then raises SystemError). */
static int
in_context_chain(PyObject *raised, PyObject *exc)
{
    if (!PyExceptionInstance_Check(raised)) {
        return 0;
    }
    PyObject *o = raised;
    PyObject *slow = raised;
    int step = 0;
    while (o != NULL) {
        if (o == exc) {
            return 1;
        }
        PyObject *context = PyException_GetContext(o);
        Py_XDECREF(context);     // kept alive by o
        o = context;
        if (step++ & 1) {
            PyObject *next = PyException_GetContext(slow);
            Py_XDECREF(next);
            slow = next;
        }
        if (o != NULL && o == slow) {
            return 0;
        }
    }
    return 0;
}

/* Run an error callback on the pending exception, exc, as the except
   block of its await: exc is the exception being handled meanwhile, which
   sys.exception() returns, and an exception that the callback raises is
   chained to it as one raised in an except block is (without making a
   cycle), even one set with PyErr_SetRaisedException(), which chains
   nothing.  Return 0 if it handled the exception, -1 with an exception
   set otherwise. */
static int
call_error_callback(PyAwaitableObject *aw, PyAwaitable_Error err)
{
    assert(PyErr_Occurred());
    if (err == NULL) {
        return -1;
    }
    PyThreadState *tstate = _PyThreadState_GET();
    _PyErr_StackItem item;
    PyObject *exc = _PyErr_GetRaisedException(tstate);
    handling_begin(tstate, &item, exc);
    int code = err((PyObject *)aw, exc);
    /* A positive code is 0, as in the PyAwaitable library. */
    int res = code > 0 ? 0 : code;
    if (res == -1) {
        /* Re-raise the original, dropping whatever the callback set. */
        _PyErr_Clear(tstate);
    }
    else if (_PyErr_Occurred(tstate)) {
        PyObject *raised = _PyErr_GetRaisedException(tstate);
        if (in_context_chain(raised, exc)) {
            /* Raised while exc was handled, and propagated so far: its
               chain is whole already. */
            _PyErr_SetRaisedException(tstate, raised);
        }
        else {
            _PyErr_SetObject(tstate, (PyObject *)Py_TYPE(raised), raised);
            Py_DECREF(raised);
        }
        if (res == 0) {
            /* Nothing is lost: the callback's exception, with the one it
               was given as its context, is the cause. */
            _PyErr_FormatFromCause(PyExc_SystemError,
                                   "awaitable error callback returned %d "
                                   "with an exception set", code);
        }
    }
    else if (res != 0) {
        callback_failed(res, "error");
    }
    int handled = (res == 0 && !_PyErr_Occurred(tstate));
    handling_end(tstate, &item);
    if (res == -1) {
        _PyErr_SetRaisedException(tstate, exc);
        return -1;
    }
    Py_DECREF(exc);
    return handled ? 0 : -1;
}

/* Call a result callback; 0 on success, -1 to go to the error callback,
   -2 to skip it (exception set in both cases). */
static int
call_result_callback(PyAwaitableObject *aw, PyAwaitable_Callback cb,
                     PyObject *value)
{
    if (cb == NULL) {
        return 0;
    }
    int res = cb((PyObject *)aw, value);
    if (res >= 0) {
        /* A positive code is 0, as in the PyAwaitable library. */
        if (PyErr_Occurred()) {
            _PyErr_FormatFromCause(PyExc_SystemError,
                                   "awaitable result callback returned %d "
                                   "with an exception set", res);
            return -2;
        }
        return 0;
    }
    callback_failed(res, "result");
    return res == -1 ? -1 : -2;
}

static int
push_with_exit(PyAwaitableObject *aw, PyObject *exit, PyObject *exc,
               PyAwaitable_Error err)
{
    awaitable_record rec = {
        .ar_obj = exc,
        .ar_ctx = Py_NewRef(exit),
        .ar_error = err,
        .ar_kind = AWR_WITH_EXIT,
    };
    return queue_push(aw, &rec);
}

/* __aexit__ raised (its call, its await or the truth test of its result)
   while it handled body_exc, the exception that ended the body: chain
   body_exc as `async with` would, where the __context__ chain of the new
   exception ends, unless it is already in the chain.  Called with the new
   exception set. */
static void
with_exit_failed(PyObject *body_exc)
{
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *last = exc;
    PyObject *slow = exc;
    int step = 0;
    for (;;) {
        if (last == body_exc) {
            break;
        }
        PyObject *context = PyException_GetContext(last);
        if (context == NULL) {
            PyException_SetContext(last, Py_NewRef(body_exc));
            break;
        }
        Py_DECREF(context);   // the chain keeps it alive
        last = context;
        /* Floyd's cycle detection: a cycle of contexts (which only C code
           can make) gets nothing added. */
        if (step++ & 1) {
            PyObject *next = PyException_GetContext(slow);
            Py_DECREF(next);
            slow = next;
        }
        if (last == slow) {
            break;
        }
    }
    PyErr_SetRaisedException(exc);
}

/* The truth test of what the await of __aexit__ returned while it
   handled body_exc: 1 if true (the exception is suppressed), 0, or -1
   with an exception set. */
static int
with_exit_result(PyObject *value, PyObject *body_exc)
{
    PyThreadState *tstate = _PyThreadState_GET();
    _PyErr_StackItem item;
    handling_begin(tstate, &item, body_exc);
    int res = PyObject_IsTrue(value);
    handling_end(tstate, &item);
    return res;
}

/* The await of record *rec finished: status is PYGEN_RETURN with value (a
   new reference), or PYGEN_ERROR with an exception set.  Runs the
   callbacks.  Returns 0 to go on with the queue, -1 with an exception set
   if no error callback handled the exception. */
static int
record_complete(PyAwaitableObject *aw, awaitable_record *rec,
                PySendResult status, PyObject *value)
{
    int res;
    if (status == PYGEN_ERROR) {
        if (rec->ar_kind == AWR_FOR_NEXT
            && PyErr_ExceptionMatches(PyExc_StopAsyncIteration))
        {
            PyErr_Clear();
            return 0;
        }
        if (rec->ar_kind == AWR_WITH_EXIT && rec->ar_obj != NULL) {
            with_exit_failed(rec->ar_obj);
        }
        return call_error_callback(aw, rec->ar_error);
    }

    assert(status == PYGEN_RETURN);
    switch (rec->ar_kind) {
    case AWR_AWAIT:
        res = call_result_callback(aw, rec->ar_cb.result, value);
        break;
    case AWR_RETURN:
        res = PyAwaitable_SetResult((PyObject *)aw, value);
        break;
    case AWR_WITH_ENTER:
        res = call_result_callback(aw, rec->ar_cb.result, value);
        if (res == 0) {
            res = push_with_exit(aw, rec->ar_ctx, NULL, rec->ar_error);
        }
        else {
            /* The body failed: what it queued does not run, __aexit__
               gets the exception whatever the return code; -2 still skips
               the error callback after it. */
            queue_drop_queued_by_callback(aw);
            res = push_with_exit(aw, rec->ar_ctx, PyErr_GetRaisedException(),
                                 res == -1 ? rec->ar_error : NULL);
        }
        break;
    case AWR_WITH_EXIT:
        res = 0;
        if (rec->ar_obj != NULL) {
            res = with_exit_result(value, rec->ar_obj);
            if (res == 0) {
                PyErr_SetRaisedException(Py_NewRef(rec->ar_obj));
                res = -1;
            }
            else if (res > 0) {
                res = 0;   // __aexit__ suppressed the exception
            }
            else {
                with_exit_failed(rec->ar_obj);
            }
        }
        break;
    case AWR_FOR_NEXT: {
        /* An item callback that cancels the awaitable ends the loop. */
        int64_t cancels = FT_ATOMIC_LOAD_UINT32_RELAXED(aw->aw_cancels);
        res = call_result_callback(aw, rec->ar_cb.result, value);
        if (res == 0) {
            awaitable_record next = {
                .ar_ctx = Py_NewRef(rec->ar_ctx),
                .ar_cb = rec->ar_cb,
                .ar_error = rec->ar_error,
                .ar_kind = AWR_FOR_NEXT,
                .ar_in_loop = 1,
            };
            res = queue_push_unless_cancelled(aw, &next, cancels);
        }
        break;
    }
    default:
        Py_UNREACHABLE();
    }
    Py_DECREF(value);
    if (res == 0) {
        return 0;
    }
    /* The callback failed: what it queued does not run, as the rest of a
       try block after an exception does not (-2 unwinds it anyway). */
    queue_drop_queued_by_callback(aw);
    if (res == -1) {
        return call_error_callback(aw, rec->ar_error);
    }
    return -1;
}

/* The iterator that awaiting obj delegates to, as `await` gets it
   (GET_AWAITABLE): a coroutine that another await is running raises
   RuntimeError.  A new reference, or NULL with an exception set. */
static PyObject *
get_awaitable_iter(PyObject *obj)
{
    PyObject *iter = _PyCoro_GetAwaitableIter(obj);
    if (iter != NULL && PyCoro_CheckExact(iter)) {
        PyObject *yf = _PyGen_yf((PyGenObject *)iter);
        if (yf != NULL) {
            Py_DECREF(yf);
            Py_DECREF(iter);
            PyErr_SetString(PyExc_RuntimeError,
                            "coroutine is being awaited already");
            return NULL;
        }
    }
    return iter;
}

/* Call __aexit__ (exit) with the body's exception, body_exc, and get the
   iterator that awaiting its result delegates to, body_exc being the
   exception handled meanwhile (new reference, or NULL with an exception
   set). */
static PyObject *
with_exit_start(PyObject *exit, PyObject *body_exc)
{
    PyThreadState *tstate = _PyThreadState_GET();
    _PyErr_StackItem item;
    PyObject *iter = NULL;
    handling_begin(tstate, &item, body_exc);
    PyObject *tb = PyException_GetTraceback(body_exc);
    PyObject *awaitable = PyObject_CallFunctionObjArgs(
        exit, (PyObject *)Py_TYPE(body_exc), body_exc,
        tb != NULL ? tb : Py_None, NULL);
    Py_XDECREF(tb);
    if (awaitable != NULL) {
        iter = get_awaitable_iter(awaitable);
        Py_DECREF(awaitable);
    }
    handling_end(tstate, &item);
    return iter;
}

/* Get the iterator that awaiting the record's object delegates to, as
   `await` does (new reference, or NULL with an exception set). */
static PyObject *
record_start_iter(awaitable_record *rec)
{
    PyObject *awaitable;
    PyObject *iter;
    switch (rec->ar_kind) {
    case AWR_AWAIT:
    case AWR_RETURN:
    case AWR_WITH_ENTER:
        return get_awaitable_iter(rec->ar_obj);
    case AWR_WITH_EXIT:
        if (rec->ar_obj != NULL) {
            return with_exit_start(rec->ar_ctx, rec->ar_obj);
        }
        awaitable = PyObject_CallFunctionObjArgs(
            rec->ar_ctx, Py_None, Py_None, Py_None, NULL);
        break;
    case AWR_FOR_NEXT: {
        /* Looked up at each step: PyAwaitable_AsyncFor() checked it, but
           the iterator's type (or class) may have changed since. */
        PyAsyncMethods *am = Py_TYPE(rec->ar_ctx)->tp_as_async;
        if (am == NULL || am->am_anext == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "'async for' requires an iterator with "
                         "__anext__ method, got %.100s",
                         Py_TYPE(rec->ar_ctx)->tp_name);
            return NULL;
        }
        awaitable = am->am_anext(rec->ar_ctx);
        break;
    }
    default:
        Py_UNREACHABLE();
    }
    if (awaitable == NULL) {
        return NULL;
    }
    iter = get_awaitable_iter(awaitable);
    Py_DECREF(awaitable);
    return iter;
}

typedef enum {
    UNWOUND_OUT,        // nothing catches the exception: the awaitable fails
    UNWOUND_TO_EXIT,    // a pending __aexit__ got it
    UNWOUND_TO_LOOP,    // a loop whose body it ends: its error callback next
    UNWOUND_DROPPED,    // a record skipped, to release: unwind on after it
} unwind_result;

/* One step of unwinding the queue after an exception escaped every
   callback.  If the queue is empty, nothing catches the exception.  If the
   head record is a pending __aexit__, it gets the exception (which is
   cleared).  If it is the next __anext__() of a loop whose body raised
   the exception, it is popped into *rec: the loop ends, and its error
   callback is called next, as the except clause of a try statement around
   the loop.  Otherwise it is popped into *rec, to be released by the
   caller out of the critical section: releasing it may run arbitrary
   code, which may queue steps; they go to the end, and are dropped too
   unless a handler comes first.  Called in a critical section on aw. */
static unwind_result
queue_unwind(PyAwaitableObject *aw, awaitable_record *rec)
{
    /* Steps queued from here on go at the end. */
    aw->aw_insert = -1;
    if (aw->aw_head == aw->aw_count) {
        return UNWOUND_OUT;
    }
    awaitable_record *head = &aw->aw_records[aw->aw_head];
    if (head->ar_kind == AWR_WITH_EXIT && head->ar_obj == NULL) {
        head->ar_obj = PyErr_GetRaisedException();
        return UNWOUND_TO_EXIT;
    }
    queue_pop(aw, rec);
    if (rec->ar_kind == AWR_FOR_NEXT && rec->ar_in_loop) {
        /* What the error callback queues goes right after it, where
           queue_pop() left aw_insert. */
        return UNWOUND_TO_LOOP;
    }
    aw->aw_insert = -1;     // queue_pop() set it
    return UNWOUND_DROPPED;
}

static PySendResult
throw_inner(PyObject *inner, PyObject *exc, PyObject **pvalue);

/* Locking.  One thread at a time drives the awaitable (aw_running), but
   any thread may queue steps, save values, set the result or cancel it
   meanwhile, and a callback may do so from the driving thread.  Whatever
   those functions change (the queue, aw_inner, the body of a METH_ASYNC
   call, aw_result, aw_cancels, aw_orphan) is therefore read and written
   only in a critical section on the awaitable.  awaitable_run() holds it
   only to decide on the next step and to record its outcome, never while
   it calls out (sends, callbacks, __await__), and it keeps its own
   references to what it calls: after any call out, the queue may have
   been emptied by PyAwaitable_Cancel() and grown by PyAwaitable_AddAwait(),
   which the cancel count and aw_inner tell. */

/* After a callback: what it queued went right after its step; later
   records go at the end again. */
static inline void
callback_done(PyAwaitableObject *aw)
{
    Py_BEGIN_CRITICAL_SECTION(aw);
    aw->aw_insert = -1;
    Py_END_CRITICAL_SECTION();
}

/* Complete a record popped from the queue and release it. */
static int
record_finish(PyAwaitableObject *aw, awaitable_record *rec,
              PySendResult status, PyObject *value)
{
    int res = record_complete(aw, rec, status, value);
    callback_done(aw);
    record_clear(rec);
    return res;
}

/* The call of a METH_ASYNC function: the body, if it has not run (NULL
   otherwise), and the references to its arguments, as the awaitable holds
   them (aw_args, aw_arg, and aw_kwnames or aw_arg2). */
typedef struct {
    _PyAwaitable_CallBody body;
    PyObject *args;
    PyObject *arg;
    PyObject *kwnames_or_arg2;
} pending_call;

/* Take the arguments of the call out of the awaitable, which no longer
   holds them, into *call, whether the body ran or not.  Called in a
   critical section on aw. */
static inline void
take_call_args(PyAwaitableObject *aw, pending_call *call)
{
    call->args = aw->aw_args;
    call->arg = aw->aw_arg;
    call->kwnames_or_arg2 = aw->aw_kwnames;   // the same field as aw_arg2
    aw->aw_args = NULL;
    aw->aw_arg = NULL;
    aw->aw_kwnames = NULL;
}

/* Take the pending call, a body that has not run, and its arguments out
   of the awaitable, which no longer holds them, into *call (call->body is
   NULL if there is none, and then so are the arguments: those of a body
   that ran stay).  Called in a critical section on aw. */
static inline void
take_pending_call(PyAwaitableObject *aw, pending_call *call)
{
    call->body = aw->aw_body;
    if (call->body == NULL) {
        call->args = call->arg = call->kwnames_or_arg2 = NULL;
        return;
    }
    aw->aw_body = NULL;
    take_call_args(aw, call);
}

/* Take the call out of the awaitable whatever its state: the body, if it
   has not run, and the arguments.  Called in a critical section on aw. */
static inline void
take_whole_call(PyAwaitableObject *aw, pending_call *call)
{
    call->body = aw->aw_body;
    aw->aw_body = NULL;
    take_call_args(aw, call);
}

/* Give the arguments of a call whose body ran back to the awaitable,
   which keeps them until it finishes, as the frame of a coroutine keeps
   its own: callbacks may use what the body borrowed from them.  Called in
   a critical section on aw. */
static inline void
keep_call_args(PyAwaitableObject *aw, pending_call *call)
{
    assert(aw->aw_body == NULL && aw->aw_args == NULL
           && aw->aw_arg == NULL && aw->aw_kwnames == NULL);
    aw->aw_args = call->args;
    aw->aw_arg = call->arg;
    aw->aw_kwnames = call->kwnames_or_arg2;
}

/* Release the arguments of a call taken out (kwnames_or_arg2: see
   pending_call). */
static inline void
release_call_args(PyObject *args, PyObject *arg, PyObject *kwnames_or_arg2)
{
    Py_XDECREF(arg);
    Py_XDECREF(args);
    Py_XDECREF(kwnames_or_arg2);
}

/* The awaitable finished: release the arguments of its call, which it
   kept since its body ran (and which it may hold no more). */
static Py_NO_INLINE void
release_kept_args(PyAwaitableObject *aw)
{
    pending_call call;
    Py_BEGIN_CRITICAL_SECTION(aw);
    assert(aw->aw_body == NULL);
    take_call_args(aw, &call);
    Py_END_CRITICAL_SECTION();
    release_call_args(call.args, call.arg, call.kwnames_or_arg2);
}

/* Run the body of a METH_ASYNC call, taken from the awaitable (which
   keeps its arguments again, keep_call_args(), unless it finishes at
   once).  What it returns becomes the result, unless it is the awaitable
   itself ("no explicit result"); the awaits it queued run next.  The call
   is passed by its fields (see pending_call), which stay in registers. */
static inline int
run_body(PyAwaitableObject *aw, _PyAwaitable_CallBody body, PyObject *args,
         PyObject *arg, PyObject *kwnames_or_arg2)
{
    Py_ssize_t nargs = 0;
    PyObject *const *items = NULL;
    PyObject *kwnames = NULL;
    PyObject *argv[2] = {arg, kwnames_or_arg2};
    if (arg != NULL) {
        items = argv;
        nargs = kwnames_or_arg2 != NULL ? 2 : 1;
    }
    else if (args != NULL) {
        items = _PyTuple_ITEMS(args);
        nargs = PyTuple_GET_SIZE(args);
        kwnames = kwnames_or_arg2;
        if (kwnames != NULL) {
            nargs -= PyTuple_GET_SIZE(kwnames);
        }
    }
    PyObject *result = body((PyObject *)aw, aw->aw_func, items, nargs,
                            kwnames);
    if (result == NULL) {
        return -1;
    }
    if (result == (PyObject *)aw) {
        Py_DECREF(result);
        return 0;
    }
    PyObject *old;
    Py_BEGIN_CRITICAL_SECTION(aw);
    old = aw->aw_result;
    aw->aw_result = result;
    Py_END_CRITICAL_SECTION();
    Py_XDECREF(old);
    return 0;
}

/* The await of inner, which was aw_inner, completed.  Pop its record and
   run its callbacks, unless PyAwaitable_Cancel() dropped the step
   meanwhile.  Returns 0 to go on, -1 with an exception set. */
static int
await_done(PyAwaitableObject *aw, PyObject *inner, PySendResult status,
           PyObject *value)
{
    awaitable_record rec;
    int popped = 0;
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (aw->aw_inner == inner) {
        aw->aw_inner = NULL;
        Py_DECREF(inner);   // not the last reference: the caller has one
        if (!aw->aw_orphan && aw->aw_head < aw->aw_count) {
            queue_pop(aw, &rec);
            popped = 1;
        }
        aw->aw_orphan = 0;
    }
    Py_END_CRITICAL_SECTION();
    if (popped) {
        return record_finish(aw, &rec, status, value);
    }
    /* Cancelled: no callback runs, but an exception still escapes. */
    if (status == PYGEN_ERROR) {
        return -1;
    }
    Py_DECREF(value);
    return 0;
}

/* Start the await of *head, a copy of the head record with references of
   its own (released here).  cancels is aw_cancels when it was copied. */
static int
await_start(PyAwaitableObject *aw, awaitable_record *head,
            int64_t cancels)
{
    PyObject *iter = record_start_iter(head);
    record_clear(head);
    awaitable_record rec;
    int res = 0;
    int popped = 0;
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (aw->aw_cancels != cancels) {
        /* __await__ (or __aexit__, __anext__), or another thread,
           cancelled the awaitable: the step being started is gone with
           the queue.  What __await__ raised ends the awaitable; the
           iterator it returned is still awaited, as the await in
           progress, but its result goes nowhere. */
        if (iter == NULL) {
            res = -1;
        }
        else {
            aw->aw_inner = iter;
            aw->aw_orphan = 1;
        }
    }
    else if (iter == NULL) {
        /* Still the head: records queued meanwhile went at the end. */
        queue_pop(aw, &rec);
        popped = 1;
    }
    else {
        aw->aw_inner = iter;
    }
    Py_END_CRITICAL_SECTION();
    if (popped) {
        res = record_finish(aw, &rec, PYGEN_ERROR, NULL);
    }
    return res;
}

typedef enum {
    STEP_SEND,          // send to (or throw into) the await in progress
    STEP_THROWN,        // thrown into with no await in progress
    STEP_BODY,          // run the body of a METH_ASYNC call
    STEP_DEFER,         // call a defer callback
    STEP_START,         // start the await of the head record
    STEP_HAND_OVER,     // hand the last await over to the sender
    STEP_RETURN,        // the queue is empty: finished
} awaitable_step;

/* Whether the queue holds only an await whose result becomes the
   awaitable's (PyAwaitable_ReturnAwait()): then nothing of the awaitable
   is left to run, and whoever sends to it can await that instead.
   Called in a critical section on aw. */
static inline int
only_return_await(PyAwaitableObject *aw)
{
    return aw->aw_head + 1 == aw->aw_count
           && aw->aw_records[aw->aw_head].ar_kind == AWR_RETURN;
}

static inline Py_ALWAYS_INLINE int
awaitable_drive(PyAwaitableObject *aw, PyObject *arg, PyObject **presult,
                int can_hand_over, int nested);

/* Send arg to the awaitable inner, or to any other iterator, for the
   await in progress; an awaitable may hand over its last await
   (_PyAwaitable_HANDED_OVER, see awaitable_run()). */
static inline int
send_inner(PyObject *inner, PyObject *arg, PyObject **presult)
{
    if (PyAwaitable_CheckExact(inner)) {
        return awaitable_drive(_PyAwaitable_CAST(inner), arg, presult, 1,
                               1);
    }
    return PyIter_Send(inner, arg, presult);
}

/* The exception that the await in progress handles, if it is that of
   __aexit__ after the body of PyAwaitable_AsyncWith() raised (a new
   reference), else NULL.  Called in a critical section on aw. */
static inline PyObject *
handled_exception(PyAwaitableObject *aw)
{
    if (aw->aw_orphan || aw->aw_head == aw->aw_count) {
        return NULL;
    }
    awaitable_record *rec = &aw->aw_records[aw->aw_head];
    if (rec->ar_kind != AWR_WITH_EXIT) {
        return NULL;
    }
    return Py_XNewRef(rec->ar_obj);
}

/* Send arg to (or throw exc, if not NULL, into) the await in progress,
   inner, while it handles the exception handled; close it if exc is a
   GeneratorExit.  Kept out of line: only an __aexit__ after an exception
   takes this path. */
static Py_NO_INLINE int
send_inner_handling(PyObject *inner, PyObject *arg, PyObject *exc,
                    PyObject *handled, PyObject **pvalue)
{
    if (exc != NULL
        && PyErr_GivenExceptionMatches(exc, PyExc_GeneratorExit))
    {
        /* Closing inner is no part of the handling: a coroutine closes
           the await in progress (gen_close_iter()) before it enters its
           frame again, where the exception is handled. */
        return throw_inner(inner, exc, pvalue);
    }
    PyThreadState *tstate = _PyThreadState_GET();
    _PyErr_StackItem item;
    int status;
    handling_begin(tstate, &item, handled);
    if (exc != NULL) {
        status = throw_inner(inner, exc, pvalue);
    }
    else {
        /* Not send_inner(): an awaitable does not hand over its last
           await here, which is all that would differ, and would inline
           another copy of awaitable_drive(). */
        status = PyIter_Send(inner, arg, pvalue);
    }
    handling_end(tstate, &item);
    return status;
}

/* inner, the await in progress, handed over its last await, iter (a new
   reference): await that instead, as inner would have.  If the awaitable
   was cancelled meanwhile, iter is still awaited, as the await in
   progress, but its result goes nowhere, as when a cancel comes while an
   await starts (await_start()). */
static void
await_handed_over(PyAwaitableObject *aw, PyObject *inner, PyObject *iter)
{
    Py_BEGIN_CRITICAL_SECTION(aw);
    assert(aw->aw_inner == inner || aw->aw_inner == NULL);
    if (aw->aw_inner == inner) {
        Py_DECREF(inner);   // not the last reference: the caller has one
    }
    else {
        aw->aw_orphan = 1;
    }
    aw->aw_inner = iter;
    Py_END_CRITICAL_SECTION();
}

/* The queue is empty and nothing is awaited: finish with the result.
   Called in a critical section on aw. */
static inline void
awaitable_finish(PyAwaitableObject *aw, PyObject **presult)
{
    assert(aw->aw_inner == NULL && aw->aw_head == aw->aw_count);
    FT_ATOMIC_STORE_UINT8(aw->aw_state, AW_FINISHED);
    /* Handed over: nothing reads the result of a finished awaitable. */
    *presult = aw->aw_result != NULL ? aw->aw_result : Py_None;
    aw->aw_result = NULL;
}

/* Whether awaiting obj means sending to obj itself, with nothing to call
   or check to get its iterator: a coroutine that no other await is running
   (get_awaitable_iter() raises for one: _PyGen_yf() tests the same), or
   an awaitable that was never awaited (the awaitable's __await__ only
   checks that). */
static inline int
is_own_iterator(PyObject *obj)
{
    if (PyCoro_CheckExact(obj)) {
        return (((PyGenObject *)obj)->gi_frame_state
                != FRAME_SUSPENDED_YIELD_FROM);
    }
    return PyAwaitable_CheckExact(obj) && _PyAwaitable_IsUnstarted(obj);
}

/* Finish by handing over the last await, the PyAwaitable_ReturnAwait()
   step that is all the queue holds: pop it into *rec, and take the result,
   which that of the await replaces, into *old_result (to be released out
   of the critical section, by hand_over_end()).  Called in a critical
   section on aw. */
static inline void
hand_over_begin(PyAwaitableObject *aw, awaitable_record *rec,
                PyObject **old_result)
{
    queue_pop(aw, rec);
    aw->aw_insert = -1;
    *old_result = aw->aw_result;
    aw->aw_result = NULL;
    FT_ATOMIC_STORE_UINT8(aw->aw_state, AW_FINISHED);
}

/* An exception is leaving the awaitable.  A StopIteration raised by its
   code (the body of a METH_ASYNC call, a callback, an __await__) would
   read as its return to whoever sent to it: it becomes a RuntimeError, as
   in a coroutine (PEP 479).  thrown, an exception thrown in before any
   await started, passes through as it does out of a coroutine that never
   started. */
static Py_NO_INLINE void
stopiteration_error(PyObject *thrown)
{
    if (!PyErr_ExceptionMatches(PyExc_StopIteration)) {
        return;
    }
    PyObject *exc = PyErr_GetRaisedException();
    PyErr_SetRaisedException(exc);
    if (exc != thrown) {
        _PyErr_FormatFromCause(PyExc_RuntimeError,
                               "awaitable raised StopIteration");
    }
}

/* The exception is leaving the awaitable, which finished (as
   stopiteration_error() makes it): its result, which it will never give,
   goes now, not at deallocation.  Out of line: the awaits that succeed
   need none of it. */
static Py_NO_INLINE void
finish_raising(PyAwaitableObject *aw, PyObject *thrown)
{
    PyObject *result;
    Py_BEGIN_CRITICAL_SECTION(aw);
    result = aw->aw_result;
    aw->aw_result = NULL;
    Py_END_CRITICAL_SECTION();
    stopiteration_error(thrown);
    if (result != NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        Py_DECREF(result);
        PyErr_SetRaisedException(exc);
    }
}

/* hand_over_end() for an object that is not its own iterator: get the
   iterator as `await` does.  Kept out of line: the await handed over is
   most often a coroutine. */
static Py_NO_INLINE int
hand_over_iter(PyObject *obj, PyObject **presult)
{
    PyObject *iter = get_awaitable_iter(obj);
    Py_DECREF(obj);
    if (iter == NULL) {
        stopiteration_error(NULL);
        *presult = NULL;
        return PYGEN_ERROR;
    }
    *presult = iter;
    return _PyAwaitable_HANDED_OVER;
}

/* Get the iterator to await in place of the awaitable (into *presult),
   as `await` does.  Returns _PyAwaitable_HANDED_OVER, or PYGEN_ERROR with
   an exception set, which ends the awaitable as the await's error would:
   the step has no error callback. */
static inline int
hand_over_end(awaitable_record *rec, PyObject *old_result, PyObject **presult)
{
    Py_XDECREF(old_result);
    if (!is_own_iterator(rec->ar_obj)) {
        return hand_over_iter(rec->ar_obj, presult);
    }
    *presult = rec->ar_obj;
    return _PyAwaitable_HANDED_OVER;
}

/* Drive the awaitable: send arg (or throw exc, if not NULL) to the await in
   progress and go on through the queue until something suspends, the
   queue is empty, or an exception escapes.  An exc thrown in with no
   await in progress is raised there; if the awaitable had not started
   (unstarted), it leaves it as thrown, StopIteration included, as out of
   a coroutine that never started.  If can_hand_over and all that
   is left is a PyAwaitable_ReturnAwait() step, the awaitable finishes and
   hands over that await to the caller instead (_PyAwaitable_HANDED_OVER, with
   the iterator to await in *presult).  aw_running is set.  This is the
   loop of awaitable_run(), which releases what the awaitable kept once it
   finished, and its only caller. */
static inline Py_ALWAYS_INLINE int
awaitable_steps(PyAwaitableObject *aw, PyObject *arg, PyObject *exc,
                int unstarted, PyObject **presult, int can_hand_over)
{
    PyObject *thrown = NULL;   // exc, once STEP_THROWN raised it unstarted
    for (;;) {
        awaitable_step step;
        awaitable_record rec;
        PyObject *inner = NULL;
        PyObject *handled = NULL;
        PyObject *old_result = NULL;
        pending_call call;
        int64_t cancels;
        int res;

        /* Decide on the next step. */
        Py_BEGIN_CRITICAL_SECTION(aw);
        cancels = aw->aw_cancels;
        if (aw->aw_inner != NULL) {
            step = STEP_SEND;
            inner = Py_NewRef(aw->aw_inner);
            handled = handled_exception(aw);
        }
        else if (exc != NULL) {
            /* The body of a call thrown into before it started never
               runs, as the frame of such a coroutine never does. */
            step = STEP_THROWN;
            take_pending_call(aw, &call);
        }
        else if (aw->aw_body != NULL) {
            step = STEP_BODY;
            take_pending_call(aw, &call);
        }
        else if (aw->aw_head == aw->aw_count) {
            step = STEP_RETURN;
            awaitable_finish(aw, presult);
        }
        else if (aw->aw_records[aw->aw_head].ar_kind == AWR_DEFER) {
            step = STEP_DEFER;
            queue_pop(aw, &rec);
        }
        else if (can_hand_over && only_return_await(aw)) {
            step = STEP_HAND_OVER;
            hand_over_begin(aw, &rec, &old_result);
        }
        else if ((aw->aw_records[aw->aw_head].ar_kind == AWR_AWAIT
                  || aw->aw_records[aw->aw_head].ar_kind == AWR_RETURN)
                 && is_own_iterator(aw->aw_records[aw->aw_head].ar_obj))
        {
            /* Start the await and send at once, as STEP_START and then
               STEP_SEND would: with None, whatever was sent for an await
               that PyAwaitable_Cancel() dropped. */
            step = STEP_SEND;
            arg = Py_None;
            inner = aw->aw_records[aw->aw_head].ar_obj;
            aw->aw_inner = Py_NewRef(inner);
            Py_INCREF(inner);
        }
        else {
            step = STEP_START;
            rec = aw->aw_records[aw->aw_head];
            Py_XINCREF(rec.ar_obj);
            Py_XINCREF(rec.ar_ctx);
        }
        Py_END_CRITICAL_SECTION();

        switch (step) {
        case STEP_SEND: {
            PyObject *value;
            PySendResult status;
            if (handled != NULL) {
                status = send_inner_handling(inner, arg, exc, handled,
                                             &value);
                Py_DECREF(handled);
                exc = NULL;
            }
            else if (exc != NULL) {
                status = throw_inner(inner, exc, &value);
                exc = NULL;
            }
            else {
                status = send_inner(inner, arg, &value);
            }
            if (status == PYGEN_NEXT) {
                Py_DECREF(inner);
                *presult = value;
                return PYGEN_NEXT;
            }
            if (status == _PyAwaitable_HANDED_OVER) {
                await_handed_over(aw, inner, value);
                Py_DECREF(inner);
                arg = Py_None;
                continue;
            }
            res = await_done(aw, inner, status, value);
            Py_DECREF(inner);
            arg = Py_None;
            break;
        }
        case STEP_THROWN:
            release_call_args(call.args, call.arg, call.kwnames_or_arg2);
            PyErr_SetRaisedException(Py_NewRef(exc));
            thrown = unstarted ? exc : NULL;
            exc = NULL;
            res = -1;
            break;
        case STEP_BODY:
            res = run_body(aw, call.body, call.args, call.arg,
                           call.kwnames_or_arg2);
            Py_BEGIN_CRITICAL_SECTION(aw);
            keep_call_args(aw, &call);
            Py_END_CRITICAL_SECTION();
            break;
        case STEP_DEFER:
            res = rec.ar_cb.defer((PyObject *)aw);
            callback_done(aw);
            if (res < 0) {
                res = callback_failed(res, "defer");
            }
            else if (PyErr_Occurred()) {
                _PyErr_FormatFromCause(PyExc_SystemError,
                                       "awaitable defer callback returned "
                                       "%d with an exception set", res);
                res = -1;
            }
            else {
                res = 0;
            }
            break;
        case STEP_START:
            res = await_start(aw, &rec, cancels);
            arg = Py_None;
            break;
        case STEP_HAND_OVER:
            return hand_over_end(&rec, old_result, presult);
        case STEP_RETURN:
            return PYGEN_RETURN;
        default:
            Py_UNREACHABLE();
        }
        if (res == 0) {
            continue;
        }

        /* An exception escaped every callback. */
        assert(PyErr_Occurred());
        unwind_result unwound;
        for (;;) {
            awaitable_record skipped;
            Py_BEGIN_CRITICAL_SECTION(aw);
            unwound = queue_unwind(aw, &skipped);
            if (unwound == UNWOUND_OUT) {
                FT_ATOMIC_STORE_UINT8(aw->aw_state, AW_FINISHED);
            }
            Py_END_CRITICAL_SECTION();
            if (unwound == UNWOUND_DROPPED) {
                record_drop(&skipped);
                continue;
            }
            if (unwound != UNWOUND_TO_LOOP) {
                break;
            }
            res = call_error_callback(aw, skipped.ar_error);
            callback_done(aw);
            record_clear(&skipped);
            if (res == 0) {
                break;      // handled: the loop ended, go on after it
            }
        }
        if (unwound == UNWOUND_OUT) {
            finish_raising(aw, thrown);
            *presult = NULL;
            return PYGEN_ERROR;
        }
        thrown = NULL;   // __aexit__ or a loop handles it now
    }
}

/* Drive the awaitable (see awaitable_steps()).  Once it finished, by
   returning, raising or handing over its last await, after which none of
   its code runs, the arguments of its call go, as the frame of a finished
   coroutine is cleared.  Out of line: the first send inlines the hot
   paths and calls this for the rest. */
static Py_NO_INLINE int
awaitable_run(PyAwaitableObject *aw, PyObject *arg, PyObject *exc,
              int unstarted, PyObject **presult, int can_hand_over)
{
    int status = awaitable_steps(aw, arg, exc, unstarted, presult,
                                 can_hand_over);
    /* Read without the critical section: only the thread that runs the
       awaitable changes the fields of its call meanwhile.  An awaitable
       of the API without METH_ASYNC has no call. */
    if (status != PYGEN_NEXT
        && ((uintptr_t)aw->aw_args | (uintptr_t)aw->aw_arg
            | (uintptr_t)aw->aw_kwnames) != 0)
    {
        assert(aw->aw_state == AW_FINISHED);
        release_kept_args(aw);
    }
    return status;
}

/* Throw exc into an inner iterator as `yield from` does. */
static PySendResult
throw_inner(PyObject *inner, PyObject *exc, PyObject **pvalue)
{
    PyObject *meth;
    PyObject *ret;
    *pvalue = NULL;
    if (PyErr_GivenExceptionMatches(exc, PyExc_GeneratorExit)) {
        /* As gen_close_iter() does: an error looking up close() is
           reported, and GeneratorExit is raised at the await all the
           same. */
        if (PyObject_GetOptionalAttr(inner, &_Py_ID(close), &meth) < 0) {
            PyErr_WriteUnraisable(inner);
        }
        if (meth != NULL) {
            ret = PyObject_CallNoArgs(meth);
            Py_DECREF(meth);
            if (ret == NULL) {
                return PYGEN_ERROR;
            }
            Py_DECREF(ret);
        }
        PyErr_SetRaisedException(Py_NewRef(exc));
        return PYGEN_ERROR;
    }
    if (PyObject_GetOptionalAttr(inner, &_Py_ID(throw), &meth) < 0) {
        return PYGEN_ERROR;
    }
    if (meth == NULL) {
        /* Raised at the await, where a StopIteration is the await's
           return, as in a coroutine (CLEANUP_THROW). */
        PyErr_SetRaisedException(Py_NewRef(exc));
        if (_PyGen_FetchStopIterationValue(pvalue) == 0) {
            return PYGEN_RETURN;
        }
        return PYGEN_ERROR;
    }
    ret = PyObject_CallOneArg(meth, exc);
    Py_DECREF(meth);
    if (ret != NULL) {
        *pvalue = ret;
        return PYGEN_NEXT;
    }
    if (_PyGen_FetchStopIterationValue(pvalue) == 0) {
        return PYGEN_RETURN;
    }
    return PYGEN_ERROR;
}

/* Check and set aw_running; -1 with an exception if it cannot run.  If
   pstate is not NULL, *pstate is the state it was in, AW_CREATED or
   AW_STARTED (a send has no use for it: NULL costs nothing inlined). */
static inline int
awaitable_enter(PyAwaitableObject *aw, int check_none_arg, PyObject *arg,
                uint8_t *pstate)
{
    int res = 0;
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (pstate != NULL) {
        *pstate = aw->aw_state;
    }
    if (aw->aw_running) {
        PyErr_SetString(PyExc_ValueError, "awaitable already executing");
        res = -1;
    }
    else if (aw->aw_state == AW_FINISHED) {
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot reuse already awaited awaitable");
        res = -1;
    }
    else if (check_none_arg && aw->aw_state == AW_CREATED
             && arg != Py_None)
    {
        PyErr_SetString(PyExc_TypeError,
                        "can't send non-None value to a just-started "
                        "awaitable");
        res = -1;
    }
    else {
        FT_ATOMIC_STORE_UINT8_RELAXED(aw->aw_running, 1);
        FT_ATOMIC_STORE_UINT8(aw->aw_state, AW_STARTED);
        aw->aw_driver = _PyThreadState_GET();
    }
    Py_END_CRITICAL_SECTION();
    return res;
}

static void
awaitable_leave(PyAwaitableObject *aw, int status)
{
    PyObject *inner = NULL;
    taken_records taken;
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (status == PYGEN_ERROR) {
        /* Whatever remains is dropped now, not at deallocation, so that
           cycles through it go away early (the result went already:
           finish_raising()). */
        queue_take(aw, &taken);
        inner = aw->aw_inner;
        aw->aw_inner = NULL;
        aw->aw_orphan = 0;
    }
    /* Finished (or handed over): the queue was empty and nothing awaited,
       and nothing can be queued any more. */
    assert((status != PYGEN_RETURN && status != _PyAwaitable_HANDED_OVER)
           || (aw->aw_inner == NULL && aw->aw_head == aw->aw_count
               && aw->aw_insert == -1 && !aw->aw_orphan));
    FT_ATOMIC_STORE_UINT8_RELAXED(aw->aw_running, 0);
    aw->aw_driver = NULL;
    Py_END_CRITICAL_SECTION();
    if (status == PYGEN_ERROR) {
        taken_release(&taken);
    }
    Py_XDECREF(inner);
}

/* A send too deep for the C recursion limit, the RecursionError set:
   finish the awaitable, running nothing more of it, as a coroutine sent
   to too deep is finished without running its frame.  Its call (the
   pending body, or the arguments kept since the body ran) is dropped
   here, what it queued and awaits by awaitable_leave().  aw_running is
   set. */
static Py_NO_INLINE void
awaitable_abandon(PyAwaitableObject *aw)
{
    pending_call call;
    PyObject *result;
    Py_BEGIN_CRITICAL_SECTION(aw);
    take_whole_call(aw, &call);
    result = aw->aw_result;     // never to be given
    aw->aw_result = NULL;
    FT_ATOMIC_STORE_UINT8(aw->aw_state, AW_FINISHED);
    Py_END_CRITICAL_SECTION();
    release_call_args(call.args, call.arg, call.kwnames_or_arg2);
    Py_XDECREF(result);
}

/* The first send to a METH_ASYNC call: run the body here and, if it
   queued nothing, finish at once (or, if all it queued is a
   PyAwaitable_ReturnAwait() step, hand that over).  This is what
   awaitable_run() does, short of its general loop, for the commonest
   awaits of all. */
static inline int
awaitable_run_first(PyAwaitableObject *aw, PyObject *arg, PyObject **presult,
                    int can_hand_over)
{
    pending_call call;
    Py_BEGIN_CRITICAL_SECTION(aw);
    take_pending_call(aw, &call);
    assert(call.body == NULL || aw->aw_inner == NULL);
    Py_END_CRITICAL_SECTION();
    if (call.body == NULL) {
        return awaitable_run(aw, arg, NULL, 0, presult, can_hand_over);
    }
    if (run_body(aw, call.body, call.args, call.arg,
                 call.kwnames_or_arg2) < 0)
    {
        /* Unwound as an exception in the body is: as one thrown in
           before the first await, but raised by the awaitable's code. */
        Py_BEGIN_CRITICAL_SECTION(aw);
        keep_call_args(aw, &call);
        Py_END_CRITICAL_SECTION();
        stopiteration_error(NULL);
        PyObject *exc = PyErr_GetRaisedException();
        int status = awaitable_run(aw, Py_None, exc, 1, presult,
                                   can_hand_over);
        Py_DECREF(exc);
        return status;
    }
    int done, handing_over = 0;
    awaitable_record rec;
    PyObject *old_result = NULL;
    Py_BEGIN_CRITICAL_SECTION(aw);
    done = aw->aw_head == aw->aw_count;
    if (done) {
        awaitable_finish(aw, presult);
    }
    else if (can_hand_over && only_return_await(aw)) {
        handing_over = 1;
        hand_over_begin(aw, &rec, &old_result);
    }
    else {
        keep_call_args(aw, &call);
    }
    Py_END_CRITICAL_SECTION();
    if (!done && !handing_over) {
        return awaitable_run(aw, Py_None, NULL, 0, presult,
                             can_hand_over);
    }
    release_call_args(call.args, call.arg, call.kwnames_or_arg2);
    if (done) {
        return PYGEN_RETURN;
    }
    return hand_over_end(&rec, old_result, presult);
}

/* am_send, and the send of the SEND instruction and of an awaitable to
   the awaitable it awaits, which may take a hand-over (can_hand_over):
   see awaitable_run().  Inlined into each of them: every await of an
   awaitable goes through here once or more, and the call alone cost
   some 15 instructions of the 860 that awaiting a METH_ASYNC function
   returning a constant takes.

   The C recursion limit is checked here where a send may nest in C
   (nested): in am_send, which C code calls, and in the send of an
   awaitable to the awaitable it awaits.  Not in the SEND instruction,
   whose frame the evaluation loop counted already, nor in each METH_ASYNC
   body, which runs within one of these sends: a body recurses only by
   sending, which comes back here. */
static inline Py_ALWAYS_INLINE int
awaitable_drive(PyAwaitableObject *aw, PyObject *arg, PyObject **presult,
                int can_hand_over, int nested)
{
    PyThreadState *tstate = NULL;
    int status;
    if (awaitable_enter(aw, 1, arg, NULL) < 0) {
        *presult = NULL;
        return PYGEN_ERROR;
    }
    if (nested) {
        tstate = _PyThreadState_GET();
        if (_Py_EnterRecursiveCallTstate(tstate, " while awaiting")) {
            awaitable_abandon(aw);
            *presult = NULL;
            awaitable_leave(aw, PYGEN_ERROR);
            return PYGEN_ERROR;
        }
    }
    status = awaitable_run_first(aw, arg, presult, can_hand_over);
    if (nested) {
        _Py_LeaveRecursiveCallTstate(tstate);
    }
    awaitable_leave(aw, status);
    return status;
}

static PySendResult
awaitable_am_send(PyObject *self, PyObject *arg, PyObject **presult)
{
    return awaitable_drive(_PyAwaitable_CAST(self), arg, presult, 0, 1);
}

/* The receiver *preceiver, an awaitable, handed over its last await,
   *presult, itself an awaitable object: await each awaitable handed over
   in turn, sending None to it, until one suspends or finishes or hands
   over another iterator.  A loop, so that chains of any length take no C
   stack.  Kept out of _PyAwaitable_SendOrHandOver(), the common case
   being a single hand-over of a coroutine. */
static Py_NO_INLINE int
take_hand_overs(PyObject **preceiver, PyObject **presult)
{
    int status;
    do {
        PyObject *receiver = *preceiver;
        /* Released once it is no longer the receiver. */
        *preceiver = *presult;
        Py_DECREF(receiver);
        if (!PyAwaitable_CheckExact(*preceiver)) {
            *presult = NULL;
            return _PyAwaitable_HANDED_OVER;
        }
        status = awaitable_drive(_PyAwaitable_CAST(*preceiver), Py_None,
                                 presult, 1, 0);
    } while (status == _PyAwaitable_HANDED_OVER);
    return status;
}

int
_PyAwaitable_SendOrHandOver(PyObject **preceiver, PyObject *arg,
                            PyObject **presult)
{
    PyObject *receiver = *preceiver;
    int status = awaitable_drive(_PyAwaitable_CAST(receiver), arg, presult,
                                 1, 0);
    if (status != _PyAwaitable_HANDED_OVER) {
        return status;
    }
    if (PyAwaitable_CheckExact(*presult)) {
        return take_hand_overs(preceiver, presult);
    }
    *preceiver = *presult;
    *presult = NULL;
    Py_DECREF(receiver);
    return _PyAwaitable_HANDED_OVER;
}

static PyObject *
awaitable_am_await(PyObject *self)
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    uint8_t state = FT_ATOMIC_LOAD_UINT8(aw->aw_state);
    if (state == AW_FINISHED) {
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot reuse already awaited awaitable");
        return NULL;
    }
    if (state == AW_STARTED) {
        /* As GET_AWAITABLE does for coroutines: a second awaiter would
           steal the values sent to the first one. */
        PyErr_SetString(PyExc_RuntimeError,
                        "awaitable is being awaited already");
        return NULL;
    }
    return Py_NewRef(self);
}

/* Results of am_send as Python-level send()/__next__ results. */
static PyObject *
gen_result(PySendResult status, PyObject *result)
{
    if (status == PYGEN_NEXT) {
        return result;
    }
    if (status == PYGEN_RETURN) {
        if (result == Py_None) {
            PyErr_SetNone(PyExc_StopIteration);
        }
        else {
            _PyGen_SetStopIterationValue(result);
        }
        Py_DECREF(result);
    }
    return NULL;
}

static PyObject *
awaitable_iternext(PyObject *self)
{
    PyObject *result;
    PySendResult status = awaitable_am_send(self, Py_None, &result);
    if (status == PYGEN_RETURN && result == Py_None) {
        /* tp_iternext may return NULL without an exception. */
        Py_DECREF(result);
        return NULL;
    }
    return gen_result(status, result);
}

static PyObject *
awaitable_send(PyObject *self, PyObject *arg)
{
    PyObject *result;
    PySendResult status = awaitable_am_send(self, arg, &result);
    return gen_result(status, result);
}

static PyObject *
awaitable_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    PyObject *typ, *val = NULL, *tb = NULL;
    PyObject *exc;

    if (!_PyArg_CheckPositional("throw", nargs, 1, 3)) {
        return NULL;
    }
    typ = args[0];
    if (nargs > 1) {
        val = args[1];
    }
    if (nargs > 2) {
        tb = args[2];
    }
    if (nargs > 1 && PyErr_WarnEx(PyExc_DeprecationWarning,
            "the (type, exc, tb) signature of throw() is deprecated, "
            "use the single-arg signature instead.", 1) < 0)
    {
        return NULL;
    }
    if (tb == Py_None) {
        tb = NULL;
    }
    if (tb != NULL && !PyTraceBack_Check(tb)) {
        PyErr_SetString(PyExc_TypeError,
                        "throw() third argument must be a traceback object");
        return NULL;
    }
    if (PyExceptionClass_Check(typ)) {
        if (val != NULL && PyObject_TypeCheck(val, (PyTypeObject *)typ)) {
            exc = Py_NewRef(val);
        }
        else if (val == NULL || val == Py_None) {
            exc = PyObject_CallNoArgs(typ);
        }
        else if (PyTuple_Check(val)) {
            /* The arguments, as the exception is normalized for a
               coroutine (PyErr_NormalizeException()). */
            exc = PyObject_Call(typ, val, NULL);
        }
        else {
            exc = PyObject_CallOneArg(typ, val);
        }
        if (exc == NULL) {
            return NULL;
        }
        if (!PyExceptionInstance_Check(exc)) {
            PyErr_Format(PyExc_TypeError,
                         "calling %R should have returned an instance of "
                         "BaseException, not %s",
                         typ, Py_TYPE(exc)->tp_name);
            Py_DECREF(exc);
            return NULL;
        }
    }
    else if (PyExceptionInstance_Check(typ)) {
        if (val != NULL && val != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "instance exception may not have a separate "
                            "value");
            return NULL;
        }
        exc = Py_NewRef(typ);
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "exceptions must be classes or instances deriving from "
                     "BaseException, not %s", Py_TYPE(typ)->tp_name);
        return NULL;
    }
    if (tb != NULL && PyException_SetTraceback(exc, tb) < 0) {
        Py_DECREF(exc);
        return NULL;
    }

    /* Into a finished awaitable, as into a finished coroutine, exc is
       not raised: RuntimeError is, by awaitable_enter(). */
    uint8_t state;
    if (awaitable_enter(aw, 0, NULL, &state) < 0) {
        Py_DECREF(exc);
        return NULL;
    }
    PyObject *result;
    int status = awaitable_run(aw, Py_None, exc, state == AW_CREATED,
                               &result, 0);
    Py_DECREF(exc);
    awaitable_leave(aw, status);
    return gen_result(status, result);
}

/* close(), as a coroutine's: GeneratorExit thrown in at the await in
   progress, so that what handles exceptions runs as except and finally
   clauses and the exit of `async with` do in a coroutine (error callbacks,
   the __aexit__ of a pending PyAwaitable_AsyncWith()); if the awaitable
   then suspends again, it ignored GeneratorExit: RuntimeError, and it
   stays suspended.  Returns the result if it finished by returning, else
   None.  An awaitable that never started runs nothing: the body of a
   METH_ASYNC call never runs, and its steps are dropped. */
static PyObject *
awaitable_close(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    uint8_t state;
    int res = 0;
    pending_call call = {0};
    taken_records taken = {0};
    PyObject *old_result = NULL;

    Py_BEGIN_CRITICAL_SECTION(aw);
    state = aw->aw_state;
    if (aw->aw_running) {
        PyErr_SetString(PyExc_ValueError, "awaitable already executing");
        res = -1;
    }
    else if (state == AW_CREATED) {
        assert(aw->aw_inner == NULL);
        FT_ATOMIC_STORE_UINT8(aw->aw_state, AW_FINISHED);
        take_whole_call(aw, &call);
        queue_take(aw, &taken);
        old_result = aw->aw_result;     // never to be given
        aw->aw_result = NULL;
    }
    else if (state == AW_STARTED) {
        /* As awaitable_enter() does for throw(). */
        FT_ATOMIC_STORE_UINT8_RELAXED(aw->aw_running, 1);
        aw->aw_driver = _PyThreadState_GET();
    }
    Py_END_CRITICAL_SECTION();
    if (res < 0) {
        return NULL;
    }
    if (state == AW_FINISHED) {
        Py_RETURN_NONE;
    }
    if (state == AW_CREATED) {
        release_call_args(call.args, call.arg, call.kwnames_or_arg2);
        taken_release(&taken);
        Py_XDECREF(old_result);
        Py_RETURN_NONE;
    }

    PyObject *exc = PyObject_CallNoArgs(PyExc_GeneratorExit);
    if (exc == NULL) {
        awaitable_leave(aw, PYGEN_NEXT);    // still suspended
        return NULL;
    }
    PyObject *result;
    int status = awaitable_run(aw, Py_None, exc, 0, &result, 0);
    Py_DECREF(exc);
    awaitable_leave(aw, status);
    if (status == PYGEN_NEXT) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_RuntimeError,
                        "awaitable ignored GeneratorExit");
        return NULL;
    }
    if (status == PYGEN_RETURN) {
        return result;
    }
    if (PyErr_ExceptionMatches(PyExc_GeneratorExit)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return NULL;
}


/* --- The type ----------------------------------------------------------- */

static int
awaitable_traverse(PyObject *self, visitproc visit, void *arg)
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    Py_VISIT(aw->aw_name);
    Py_VISIT(aw->aw_qualname);
    Py_VISIT(aw->aw_result);
    Py_VISIT(aw->aw_inner);
    Py_VISIT(aw->aw_func);
    Py_VISIT(aw->aw_args);
    Py_VISIT(aw->aw_arg);
    Py_VISIT(aw->aw_kwnames);     // or aw_arg2
    /* No need to visit aw_origin: tuples, strings and ints cannot be part
       of a cycle (as for the cr_origin of coroutines). */
    for (int i = aw->aw_head; i < aw->aw_count; i++) {
        Py_VISIT(aw->aw_records[i].ar_obj);
        Py_VISIT(aw->aw_records[i].ar_ctx);
    }
    for (int i = 0; i < aw->aw_nvalues; i++) {
        Py_VISIT(aw->aw_values[i]);
    }
    return 0;
}

/* Drop the call of a METH_ASYNC function: the body, if it never ran, and
   the arguments.  All are taken out before any is released, so that code
   run by a release sees no call half cleared. */
static inline void
clear_call(PyAwaitableObject *aw)
{
    pending_call call;
    take_whole_call(aw, &call);
    release_call_args(call.args, call.arg, call.kwnames_or_arg2);
}

/* Drop the saved values.  Out of line: most awaitables save none. */
static Py_NO_INLINE void
values_clear(PyAwaitableObject *aw)
{
    while (aw->aw_nvalues > 0) {
        aw->aw_nvalues--;
        Py_CLEAR(aw->aw_values[aw->aw_nvalues]);
    }
}

/* Whether the awaitable holds more than its function and names, which are
   released through types of their own: a finished awaitable, by far the
   commonest to release, rarely does (its result went to the awaiter).
   The arguments of its call are not tested: finishing released them. */
static inline int
awaitable_holds_more(PyAwaitableObject *aw)
{
    return (((uintptr_t)aw->aw_result | (uintptr_t)aw->aw_inner
             | (uintptr_t)aw->aw_body) != 0
            || aw->aw_head != aw->aw_count
            || aw->aw_nvalues != 0);
}

/* Drop every reference (tp_clear, and deallocation, where it is inlined
   into the short path that a finished awaitable takes, and holds_more is
   known). */
static inline void
awaitable_clear_refs(PyAwaitableObject *aw, int holds_more)
{
    if (((uintptr_t)aw->aw_name | (uintptr_t)aw->aw_qualname) != 0) {
        Py_CLEAR(aw->aw_name);
        Py_CLEAR(aw->aw_qualname);
    }
    Py_CLEAR(aw->aw_func);
    if (holds_more) {
        Py_CLEAR(aw->aw_result);
        Py_CLEAR(aw->aw_inner);
        clear_call(aw);
        taken_records taken;
        queue_take(aw, &taken);
        taken_release(&taken);
        if (aw->aw_nvalues > 0) {
            values_clear(aw);
        }
    }
    else {
        aw->aw_head = aw->aw_count = 0;
        aw->aw_insert = -1;
    }
    aw->aw_narb_values = 0;
}

static int
awaitable_clear(PyObject *self)
{
    awaitable_clear_refs(_PyAwaitable_CAST(self), 1);
    return 0;
}

static void
awaitable_finalize(PyObject *self)
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    if (aw->aw_state == AW_FINISHED) {
        return;
    }
    /* Releasing an awaitable must never touch the exception being
       propagated (a C function dropping it on its error path). */
    PyObject *exc = PyErr_GetRaisedException();
    if (aw->aw_state == AW_CREATED) {
        /* An awaitable from PyAwaitable_New() released while an exception
           is raised is taken as dropped on the error path of the C function
           that made it, not as forgotten: no warning.  The result of a
           METH_ASYNC call warns as a coroutine does. */
        if (aw->aw_cancels == 0 && (exc == NULL || aw->aw_func != NULL)) {
            _PyErr_WarnUnawaitedCoroutine(self);
        }
    }
    else if (!aw->aw_running) {
        /* Abandoned while suspended: close it, as a coroutine is closed
           when it is finalized, which runs what handles GeneratorExit. */
        PyObject *res = awaitable_close(self, NULL);
        if (res == NULL) {
            PyErr_WriteUnraisable(self);
        }
        Py_XDECREF(res);
    }
    PyErr_SetRaisedException(exc);
}

#ifdef WITH_FREELISTS
static struct _Py_awaitable_freelist *
get_awaitable_freelist(void)
{
    struct _Py_object_freelists *freelists = _Py_object_freelists_GET();
    return &freelists->awaitables;
}
#endif

void
_PyAwaitable_ClearFreeList(struct _Py_object_freelists *freelists,
                           int is_finalization)
{
#ifdef WITH_FREELISTS
    struct _Py_awaitable_freelist *freelist = &freelists->awaitables;
    while (freelist->numfree > 0) {
        PyAwaitableObject *aw = freelist->items[--freelist->numfree];
        assert(PyAwaitable_CheckExact(aw));
        PyObject_GC_Del(aw);
    }
    if (is_finalization) {
        freelist->numfree = -1;
    }
#endif
}

/* Free what of the queue and the saved values is on the heap, back to the
   inline arrays, and the origin. */
static void
awaitable_free_storage(PyAwaitableObject *aw)
{
    if (aw->aw_records != aw->aw_inline_records) {
        PyMem_Free(aw->aw_records);
        aw->aw_records = aw->aw_inline_records;
        aw->aw_capacity = AW_INLINE_RECORDS;
    }
    if (aw->aw_values != aw->aw_inline_values) {
        PyMem_Free(aw->aw_values);
        aw->aw_values = aw->aw_inline_values;
        aw->aw_values_capacity = AW_INLINE_VALUES;
    }
    if (aw->aw_arb_values != aw->aw_inline_arb_values) {
        PyMem_Free(aw->aw_arb_values);
        aw->aw_arb_values = aw->aw_inline_arb_values;
        aw->aw_arb_values_capacity = AW_INLINE_ARB_VALUES;
    }
    // A tuple of tuples of strings and ints: releasing it runs no code.
    Py_CLEAR(aw->aw_origin);
    aw->aw_heap_storage = 0;
}

/* Release what the awaitable holds (holds_more: see awaitable_clear_refs())
   and its memory, to the freelist if there is room.  It is untracked and
   finalized. */
static inline void
awaitable_release(PyAwaitableObject *aw, int holds_more)
{
    if (aw->aw_weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)aw);
    }
    awaitable_clear_refs(aw, holds_more);
    if (aw->aw_heap_storage) {
        awaitable_free_storage(aw);
    }
#ifdef WITH_FREELISTS
    struct _Py_awaitable_freelist *freelist = get_awaitable_freelist();
    if (freelist->numfree >= 0
        && freelist->numfree < _PyAwaitable_MAXFREELIST)
    {
        /* Back to the state of a new awaitable (see awaitable_init());
           awaitable_clear() reset the rest. */
        aw->aw_weakreflist = NULL;
        aw->aw_cancels = 0;
        aw->aw_orphan = 0;
        assert(aw->aw_running == 0 && aw->aw_driver == NULL);
        assert(aw->aw_head == 0 && aw->aw_count == 0 && aw->aw_insert == -1);
        _PyGC_CLEAR_FINALIZED((PyObject *)aw);
        freelist->items[freelist->numfree++] = aw;
        return;
    }
#endif
    PyObject_GC_Del(aw);
}

static void
awaitable_dealloc(PyObject *self)
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    if (aw->aw_state == AW_FINISHED && !awaitable_holds_more(aw)) {
        /* Nothing to finalize, and nothing released can release
           awaitables in turn: the short path.  Finishing released the
           arguments of the call (awaitable_run(), awaitable_close()). */
        assert(aw->aw_args == NULL && aw->aw_arg == NULL
               && aw->aw_kwnames == NULL);
        _PyObject_GC_UNTRACK(self);
        awaitable_release(aw, 0);
        return;
    }
    /* Through the trashcan, which sets the awaitable aside, to be released
       from a shallower C stack, once deallocations nest too deep: a long
       chain of awaitables, each holding the next (an argument of its
       pending call, a queued await), must not overflow the C stack.  Set
       aside, it comes back here untracked, and the trashcan wants it so. */
    PyObject_GC_UnTrack(self);
    Py_TRASHCAN_BEGIN(aw, awaitable_dealloc)
    if (aw->aw_state != AW_FINISHED) {
        /* The finalizer may resurrect it: tracked, as it then must be. */
        _PyObject_GC_TRACK(self);
        if (PyObject_CallFinalizerFromDealloc(self) < 0) {
            goto done;   // resurrected
        }
        _PyObject_GC_UNTRACK(self);
    }
    awaitable_release(aw, 1);
done:
    Py_TRASHCAN_END
}

static PyObject *
awaitable_default_name(void)
{
    return PyUnicode_InternFromString("awaitable");
}

/* The name of the function a METH_ASYNC call was made to, looked up only
   when asked for: calls must stay cheap. */
static PyObject *
awaitable_func_name(PyAwaitableObject *aw, PyObject *attr)
{
    PyObject *name = PyObject_GetAttr(aw->aw_func, attr);
    if (name != NULL && !PyUnicode_Check(name)) {
        Py_SETREF(name, awaitable_default_name());
    }
    return name;
}

/* The name or qualified name (*pname: aw_name or aw_qualname), as a new
   reference, or NULL without an exception if none was set.  Read in a
   critical section: a setter in another thread may release it. */
static PyObject *
awaitable_own_name(PyAwaitableObject *aw, PyObject **pname)
{
    PyObject *name;
    Py_BEGIN_CRITICAL_SECTION(aw);
    name = Py_XNewRef(*pname);
    Py_END_CRITICAL_SECTION();
    return name;
}

/* The getter of __name__ (attr) or __qualname__: the name set, else that
   of the function a METH_ASYNC call was made to, else "awaitable". */
static PyObject *
awaitable_name(PyAwaitableObject *aw, PyObject **pname, PyObject *attr)
{
    PyObject *name = awaitable_own_name(aw, pname);
    if (name != NULL) {
        return name;
    }
    /* aw_func is set at creation and kept while the awaitable is
       reachable. */
    if (aw->aw_func != NULL) {
        return awaitable_func_name(aw, attr);
    }
    return awaitable_default_name();
}

static int
awaitable_set_name_attr(PyAwaitableObject *aw, PyObject **pname,
                        PyObject *value, const char *attr)
{
    if (value == NULL || !PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be set to a string object", attr);
        return -1;
    }
    PyObject *old;
    Py_BEGIN_CRITICAL_SECTION(aw);
    old = *pname;
    *pname = Py_NewRef(value);
    Py_END_CRITICAL_SECTION();
    /* Released out of the critical section: a str subclass may run
       code when it goes. */
    Py_XDECREF(old);
    return 0;
}

static PyObject *
awaitable_get_name(PyObject *self, void *Py_UNUSED(closure))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    return awaitable_name(aw, &aw->aw_name, &_Py_ID(__name__));
}

static int
awaitable_set_name(PyObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    return awaitable_set_name_attr(aw, &aw->aw_name, value, "__name__");
}

static PyObject *
awaitable_get_qualname(PyObject *self, void *Py_UNUSED(closure))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    return awaitable_name(aw, &aw->aw_qualname, &_Py_ID(__qualname__));
}

static int
awaitable_set_qualname(PyObject *self, PyObject *value,
                       void *Py_UNUSED(closure))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    return awaitable_set_name_attr(aw, &aw->aw_qualname, value,
                                   "__qualname__");
}

static PyObject *
awaitable_repr(PyObject *self)
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    PyObject *qualname = awaitable_own_name(aw, &aw->aw_qualname);
    if (qualname == NULL) {
        if (aw->aw_func == NULL) {
            return PyUnicode_FromFormat("<awaitable object at %p>", self);
        }
        qualname = awaitable_func_name(aw, &_Py_ID(__qualname__));
        if (qualname == NULL) {
            return NULL;
        }
    }
    PyObject *repr = PyUnicode_FromFormat("<awaitable object %U at %p>",
                                          qualname, self);
    Py_DECREF(qualname);
    return repr;
}

static PyObject *
awaitable_get_cr_await(PyObject *self, void *Py_UNUSED(closure))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    PyObject *inner = NULL;
    Py_BEGIN_CRITICAL_SECTION(aw);
    /* While it runs, None, as for a coroutine (_PyGen_yf()). */
    if (!aw->aw_running) {
        inner = Py_XNewRef(aw->aw_inner);
    }
    Py_END_CRITICAL_SECTION();
    return inner != NULL ? inner : Py_None;
}

static PyObject *
awaitable_get_cr_running(PyObject *self, void *Py_UNUSED(closure))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    return PyBool_FromLong(FT_ATOMIC_LOAD_UINT8_RELAXED(aw->aw_running));
}

/* Started and not finished, and not running: the next send resumes it,
   whether it waits for an await or was cancelled during one (it then
   finishes at that send). */
static PyObject *
awaitable_get_cr_suspended(PyObject *self, void *Py_UNUSED(closure))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    int suspended;
    Py_BEGIN_CRITICAL_SECTION(aw);
    suspended = aw->aw_state == AW_STARTED && !aw->aw_running;
    Py_END_CRITICAL_SECTION();
    return PyBool_FromLong(suspended);
}

/* With no frame, that tells a coroutine that has not started from one that
   has finished (cr_frame is None for both), the state of an awaitable
   object needs an attribute for inspect.getcoroutinestate(). */
static PyObject *
awaitable_get_cr_created(PyObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(_PyAwaitable_IsUnstarted(self));
}

static PyObject *
awaitable_get_cr_origin(PyObject *self, void *Py_UNUSED(closure))
{
    PyAwaitableObject *aw = _PyAwaitable_CAST(self);
    // Set when the awaitable is made, and released with it.
    return aw->aw_origin != NULL ? Py_NewRef(aw->aw_origin) : Py_None;
}

static PyObject *
awaitable_get_none(PyObject *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    Py_RETURN_NONE;
}

static PyGetSetDef awaitable_getsetlist[] = {
    {"__name__", awaitable_get_name, awaitable_set_name,
     PyDoc_STR("name of the awaitable")},
    {"__qualname__", awaitable_get_qualname, awaitable_set_qualname,
     PyDoc_STR("qualified name of the awaitable")},
    {"cr_await", awaitable_get_cr_await, NULL,
     PyDoc_STR("object being awaited on, or None")},
    {"cr_running", awaitable_get_cr_running, NULL, NULL},
    {"cr_suspended", awaitable_get_cr_suspended, NULL, NULL},
    {"cr_created", awaitable_get_cr_created, NULL,
     PyDoc_STR("whether the awaitable has not started yet")},
    {"cr_frame", awaitable_get_none, NULL,
     PyDoc_STR("always None: the body is C code")},
    {"cr_code", awaitable_get_none, NULL,
     PyDoc_STR("always None: the body is C code")},
    {"cr_origin", awaitable_get_cr_origin, NULL,
     PyDoc_STR("where the awaitable was made, or None")},
    {NULL} /* Sentinel */
};

PyDoc_STRVAR(send_doc,
"send(arg) -> send 'arg' into awaitable,\n\
return next iterated value or raise StopIteration.");

PyDoc_STRVAR(throw_doc,
"throw(value)\n\
throw(type[,value[,traceback]])\n\
\n\
Raise exception in awaitable, return next iterated value or raise\n\
StopIteration.\n\
the (type, val, tb) signature is deprecated, \n\
and may be removed in a future version of Python.");

PyDoc_STRVAR(close_doc,
"close() -> raise GeneratorExit inside awaitable.");

static PyMethodDef awaitable_methods[] = {
    {"send", awaitable_send, METH_O, send_doc},
    {"throw", _PyCFunction_CAST(awaitable_throw), METH_FASTCALL, throw_doc},
    {"close", awaitable_close, METH_NOARGS, close_doc},
    {NULL, NULL}  /* Sentinel */
};

static PyAsyncMethods awaitable_as_async = {
    .am_await = awaitable_am_await,
    .am_send = awaitable_am_send,
};

PyDoc_STRVAR(awaitable_doc,
"Awaitable object created by C code (PyAwaitable_New()).");

PyTypeObject PyAwaitable_Type = {
    PyVarObject_HEAD_INIT(&PyType_Type, 0)
    .tp_name = "awaitable",
    .tp_basicsize = sizeof(PyAwaitableObject),
    .tp_dealloc = awaitable_dealloc,
    .tp_as_async = &awaitable_as_async,
    .tp_repr = awaitable_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = awaitable_doc,
    .tp_traverse = awaitable_traverse,
    .tp_clear = awaitable_clear,
    .tp_weaklistoffset = offsetof(PyAwaitableObject, aw_weakreflist),
    .tp_iternext = awaitable_iternext,
    .tp_methods = awaitable_methods,
    .tp_getset = awaitable_getsetlist,
    .tp_finalize = awaitable_finalize,
};


/* --- The C API ---------------------------------------------------------- */

int
PyAwaitable_Init(void)
{
    return 0;
}

/* Set every field of an awaitable to its state when new.  Objects on the
   free list are kept in that state by awaitable_dealloc(), so that taking
   one from it only has to set aw_state. */
static void
awaitable_init(PyAwaitableObject *aw)
{
    aw->aw_weakreflist = NULL;
    aw->aw_name = NULL;
    aw->aw_qualname = NULL;
    aw->aw_result = NULL;
    aw->aw_inner = NULL;
    aw->aw_func = NULL;
    aw->aw_body = NULL;
    aw->aw_args = NULL;
    aw->aw_arg = NULL;
    aw->aw_kwnames = NULL;
    aw->aw_records = aw->aw_inline_records;
    aw->aw_head = 0;
    aw->aw_count = 0;
    aw->aw_capacity = AW_INLINE_RECORDS;
    aw->aw_insert = -1;
    aw->aw_driver = NULL;
    aw->aw_values = aw->aw_inline_values;
    aw->aw_nvalues = 0;
    aw->aw_values_capacity = AW_INLINE_VALUES;
    aw->aw_arb_values = aw->aw_inline_arb_values;
    aw->aw_narb_values = 0;
    aw->aw_arb_values_capacity = AW_INLINE_ARB_VALUES;
    aw->aw_cancels = 0;
    aw->aw_running = 0;
    aw->aw_orphan = 0;
    aw->aw_heap_storage = 0;
    aw->aw_origin = NULL;
}

/* A new awaitable in its initial state, not yet tracked by the GC. */
static inline PyAwaitableObject *
awaitable_alloc_new(void)
{
    PyAwaitableObject *aw;
#ifdef WITH_FREELISTS
    struct _Py_awaitable_freelist *freelist = get_awaitable_freelist();
    if (freelist->numfree > 0) {
        aw = freelist->items[--freelist->numfree];
        _Py_NewReference((PyObject *)aw);
    }
    else
#endif
    {
        aw = PyObject_GC_New(PyAwaitableObject, &PyAwaitable_Type);
        if (aw == NULL) {
            return NULL;
        }
        awaitable_init(aw);
    }
    assert(aw->aw_records == aw->aw_inline_records && aw->aw_count == 0);
    assert(aw->aw_func == NULL && aw->aw_result == NULL);
    assert(aw->aw_origin == NULL);
    FT_ATOMIC_STORE_UINT8(aw->aw_state, AW_CREATED);
    return aw;
}

/* The same, with cr_origin: the frames of the calling Python code, as for
   a coroutine made there.  Out of line: only with
   sys.set_coroutine_origin_tracking_depth() (asyncio's debug mode). */
static Py_NO_INLINE PyAwaitableObject *
awaitable_alloc_with_origin(PyThreadState *tstate)
{
    PyObject *origin = _PyCoro_ComputeOrigin(
        tstate->coroutine_origin_tracking_depth,
        _PyThreadState_GetFrame(tstate));
    if (origin == NULL) {
        return NULL;
    }
    PyAwaitableObject *aw = awaitable_alloc_new();
    if (aw == NULL) {
        Py_DECREF(origin);
        return NULL;
    }
    aw->aw_origin = origin;
    aw->aw_heap_storage = 1;    // released with the heap storage
    return aw;
}

static inline PyAwaitableObject *
awaitable_alloc(void)
{
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate->coroutine_origin_tracking_depth != 0) {
        return awaitable_alloc_with_origin(tstate);
    }
    return awaitable_alloc_new();
}

PyObject *
PyAwaitable_New(void)
{
    PyAwaitableObject *aw = awaitable_alloc();
    if (aw == NULL) {
        return NULL;
    }
    _PyObject_GC_TRACK(aw);
    return (PyObject *)aw;
}

/* A call of two arguments at most and no keywords: they are kept without
   a tuple (arg, then arg2, NULL where there is none). */
static inline PyObject *
new_call_without_tuple(PyObject *func, _PyAwaitable_CallBody body,
                       PyObject *arg, PyObject *arg2)
{
    assert(func != NULL && body != NULL);
    assert(arg != NULL || arg2 == NULL);
    PyAwaitableObject *aw = awaitable_alloc();
    if (aw == NULL) {
        return NULL;
    }
    aw->aw_func = Py_NewRef(func);
    aw->aw_body = body;
    aw->aw_arg = Py_XNewRef(arg);
    assert(aw->aw_arg2 == NULL);
    if (arg2 != NULL) {
        aw->aw_arg2 = Py_NewRef(arg2);
    }
    _PyObject_GC_TRACK(aw);
    return (PyObject *)aw;
}

PyObject *
_PyAwaitable_NewCallOneArg(PyObject *func, _PyAwaitable_CallBody body,
                           PyObject *arg)
{
    return new_call_without_tuple(func, body, arg, NULL);
}

PyObject *
_PyAwaitable_NewCall(PyObject *func, _PyAwaitable_CallBody body,
                     PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames)
{
    assert(func != NULL && body != NULL);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) == 0) {
        kwnames = NULL;
    }
    if (kwnames == NULL && nargs <= 2) {
        /* A method's self and its argument, for one. */
        return new_call_without_tuple(func, body,
                                      nargs > 0 ? args[0] : NULL,
                                      nargs > 1 ? args[1] : NULL);
    }
    Py_ssize_t total = nargs;
    if (kwnames != NULL) {
        total += PyTuple_GET_SIZE(kwnames);
    }
    PyObject *argstuple = _PyTuple_FromArray(args, total);
    if (argstuple == NULL) {
        return NULL;
    }
    PyAwaitableObject *aw = awaitable_alloc();
    if (aw == NULL) {
        Py_DECREF(argstuple);
        return NULL;
    }
    aw->aw_func = Py_NewRef(func);
    aw->aw_body = body;
    aw->aw_args = argstuple;
    aw->aw_kwnames = Py_XNewRef(kwnames);
    _PyObject_GC_TRACK(aw);
    return (PyObject *)aw;
}

/* What `await` accepts, checked without calling __await__ yet. */
static int
is_awaitable(PyObject *obj)
{
    if (PyCoro_CheckExact(obj) || PyAwaitable_CheckExact(obj)) {
        return 1;
    }
    if (PyGen_CheckExact(obj)) {
        PyCodeObject *code = PyGen_GetCode((PyGenObject *)obj);
        int res = (code->co_flags & CO_ITERABLE_COROUTINE) != 0;
        Py_DECREF(code);
        return res;
    }
    PyAsyncMethods *am = Py_TYPE(obj)->tp_as_async;
    return am != NULL && am->am_await != NULL;
}

/* Queue an await of coro (a record of kind AWR_AWAIT or AWR_RETURN);
   func is the API function, for the error messages. */
static int
queue_await(PyObject *awaitable, PyObject *coro, awaitable_record_kind kind,
            PyAwaitable_Callback result_callback,
            PyAwaitable_Error error_callback, const char *func)
{
    CHECK_AWAITABLE(awaitable, -1);
    if (coro == NULL) {
        PyErr_Format(PyExc_ValueError,
                     "%s() got NULL; was an error check forgotten?", func);
        return -1;
    }
    if (coro == awaitable) {
        PyErr_SetString(PyExc_ValueError,
                        "an awaitable cannot await itself");
        return -1;
    }
    if (!is_awaitable(coro)) {
        PyErr_Format(PyExc_TypeError,
                     "'%.100s' object can't be awaited",
                     Py_TYPE(coro)->tp_name);
        return -1;
    }
    awaitable_record rec = {
        .ar_obj = Py_NewRef(coro),
        .ar_cb.result = result_callback,
        .ar_error = error_callback,
        .ar_kind = kind,
    };
    return queue_push(_PyAwaitable_CAST(awaitable), &rec);
}

int
PyAwaitable_AddAwait(PyObject *awaitable, PyObject *coro,
                     PyAwaitable_Callback result_callback,
                     PyAwaitable_Error error_callback)
{
    return queue_await(awaitable, coro, AWR_AWAIT, result_callback,
                       error_callback, "PyAwaitable_AddAwait");
}

int
PyAwaitable_ReturnAwait(PyObject *awaitable, PyObject *coro)
{
    return queue_await(awaitable, coro, AWR_RETURN, NULL, NULL,
                       "PyAwaitable_ReturnAwait");
}

int
PyAwaitable_AddExpr(PyObject *awaitable, PyObject *expr,
                    PyAwaitable_Callback result_callback,
                    PyAwaitable_Error error_callback)
{
    if (expr == NULL) {
        /* The expression failed and set the exception. */
        assert(PyErr_Occurred());
        return -1;
    }
    int res = PyAwaitable_AddAwait(awaitable, expr, result_callback,
                                   error_callback);
    Py_DECREF(expr);
    return res;
}

int
PyAwaitable_DeferAwait(PyObject *awaitable, PyAwaitable_Defer callback)
{
    CHECK_AWAITABLE(awaitable, -1);
    if (callback == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "PyAwaitable_DeferAwait() got a NULL callback");
        return -1;
    }
    awaitable_record rec = {
        .ar_cb.defer = callback,
        .ar_kind = AWR_DEFER,
    };
    return queue_push(_PyAwaitable_CAST(awaitable), &rec);
}

int
PyAwaitable_SetResult(PyObject *awaitable, PyObject *result)
{
    CHECK_AWAITABLE(awaitable, -1);
    if (result == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "PyAwaitable_SetResult() got NULL");
        return -1;
    }
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    PyObject *old = NULL;
    Py_BEGIN_CRITICAL_SECTION(aw);
    /* A finished awaitable handed its result over (or, having raised, has
       none to give): one set now would only be kept until it is
       destroyed. */
    if (aw->aw_state != AW_FINISHED) {
        old = aw->aw_result;
        aw->aw_result = Py_NewRef(result);
    }
    Py_END_CRITICAL_SECTION();
    Py_XDECREF(old);
    return 0;
}

void
PyAwaitable_Cancel(PyObject *awaitable)
{
    /* The library's signature returns void: what cannot be returned is
       reported as unraisable, and a pending exception is kept. */
    PyObject *exc = PyErr_GetRaisedException();
    if (awaitable == NULL || !PyAwaitable_Check(awaitable)) {
        PyErr_BadInternalCall();
        PyErr_FormatUnraisable("Exception ignored in PyAwaitable_Cancel()");
        PyErr_SetRaisedException(exc);
        return;
    }
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    /* Like the library, drop every pending step and the await in
       progress; the awaitable then finishes with its result, and is not
       reported as "never awaited" (an error path may cancel and drop it).
       The body of a METH_ASYNC call that has not started never runs.
       What is dropped is released once the state is consistent: releasing
       it may run arbitrary code. */
    PyObject *inner;
    pending_call call;
    taken_records taken;
    Py_BEGIN_CRITICAL_SECTION(aw);
    FT_ATOMIC_STORE_UINT32_RELAXED(aw->aw_cancels, aw->aw_cancels + 1);
    aw->aw_orphan = 0;
    take_pending_call(aw, &call);
    inner = aw->aw_inner;
    aw->aw_inner = NULL;
    int callback_running = aw->aw_insert >= 0;
    queue_take(aw, &taken);
    if (callback_running) {
        /* What the running callback queues from now on still goes right
           after its step, and is still dropped if it fails. */
        aw->aw_insert = 0;
    }
    Py_END_CRITICAL_SECTION();
    release_call_args(call.args, call.arg, call.kwnames_or_arg2);
    taken_release(&taken);
    Py_XDECREF(inner);
    PyErr_SetRaisedException(exc);
}

int
PyAwaitable_AsyncWith(PyObject *awaitable, PyObject *ctx,
                      PyAwaitable_Callback body_callback,
                      PyAwaitable_Error error_callback)
{
    CHECK_AWAITABLE(awaitable, -1);
    if (ctx == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "PyAwaitable_AsyncWith() got NULL");
        return -1;
    }
    if (check_unfinished(awaitable) < 0) {
        return -1;
    }
    PyObject *name_enter = NULL, *name_exit = NULL;
    PyObject *enter = NULL, *exit = NULL, *coro = NULL;

    name_enter = PyUnicode_InternFromString("__aenter__");
    name_exit = PyUnicode_InternFromString("__aexit__");
    if (name_enter == NULL || name_exit == NULL) {
        goto error;
    }
    enter = _PyObject_LookupSpecial(ctx, name_enter);
    if (enter == NULL) {
        if (!PyErr_Occurred()) {
            goto not_a_context_manager;
        }
        goto error;
    }
    exit = _PyObject_LookupSpecial(ctx, name_exit);
    if (exit == NULL) {
        if (!PyErr_Occurred()) {
            goto not_a_context_manager;
        }
        goto error;
    }
    /* __aenter__() is called now, as `async with` would at this point of
       the body; it is awaited when the awaitable reaches it. */
    coro = PyObject_CallNoArgs(enter);
    if (coro == NULL) {
        goto error;
    }
    if (!is_awaitable(coro)) {
        PyErr_Format(PyExc_TypeError,
                     "'async with' received an object from __aenter__ "
                     "that does not implement __await__: %.100s",
                     Py_TYPE(coro)->tp_name);
        goto error;
    }
    awaitable_record rec = {
        .ar_obj = coro,
        .ar_ctx = exit,
        .ar_cb.result = body_callback,
        .ar_error = error_callback,
        .ar_kind = AWR_WITH_ENTER,
    };
    Py_DECREF(name_enter);
    Py_DECREF(name_exit);
    Py_DECREF(enter);
    return queue_push(_PyAwaitable_CAST(awaitable), &rec);

not_a_context_manager:
    PyErr_Format(PyExc_TypeError,
                 "'%.200s' object does not support the asynchronous "
                 "context manager protocol", Py_TYPE(ctx)->tp_name);
error:
    Py_XDECREF(name_enter);
    Py_XDECREF(name_exit);
    Py_XDECREF(enter);
    Py_XDECREF(exit);
    Py_XDECREF(coro);
    return -1;
}

int
PyAwaitable_AsyncFor(PyObject *awaitable, PyObject *iterable,
                     PyAwaitable_Callback item_callback,
                     PyAwaitable_Error error_callback)
{
    CHECK_AWAITABLE(awaitable, -1);
    if (iterable == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "PyAwaitable_AsyncFor() got NULL");
        return -1;
    }
    if (check_unfinished(awaitable) < 0) {
        return -1;
    }
    PyAsyncMethods *am = Py_TYPE(iterable)->tp_as_async;
    if (am == NULL || am->am_aiter == NULL) {
        PyErr_Format(PyExc_TypeError,
                     "'async for' requires an object with __aiter__ method, "
                     "got %.100s", Py_TYPE(iterable)->tp_name);
        return -1;
    }
    PyObject *iter = am->am_aiter(iterable);
    if (iter == NULL) {
        return -1;
    }
    am = Py_TYPE(iter)->tp_as_async;
    if (am == NULL || am->am_anext == NULL) {
        PyErr_Format(PyExc_TypeError,
                     "'async for' received an object from __aiter__ "
                     "that does not implement __anext__: %.100s",
                     Py_TYPE(iter)->tp_name);
        Py_DECREF(iter);
        return -1;
    }
    awaitable_record rec = {
        .ar_ctx = iter,
        .ar_cb.result = item_callback,
        .ar_error = error_callback,
        .ar_kind = AWR_FOR_NEXT,
    };
    return queue_push(_PyAwaitable_CAST(awaitable), &rec);
}


/* --- Saved values ------------------------------------------------------- */

/* Grow a value array (inline or heap) to hold n more items. */
static int
values_reserve(void ***items, int *capacity, void **inline_items,
               int len, Py_ssize_t n, uint8_t *heap_storage)
{
    if (n <= *capacity - len) {
        return 0;
    }
    if (n > INT_MAX - len) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t new_capacity = (Py_ssize_t)*capacity * 2;
    if (new_capacity < len + n) {
        new_capacity = len + n;
    }
    if (new_capacity > INT_MAX) {
        new_capacity = INT_MAX;
    }
    void **new_items;
    if (*items == inline_items) {
        new_items = PyMem_New(void *, new_capacity);
        if (new_items != NULL) {
            memcpy(new_items, inline_items, len * sizeof(void *));
            *heap_storage = 1;
        }
    }
    else {
        new_items = *items;
        PyMem_Resize(new_items, void *, new_capacity);
    }
    if (new_items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *items = new_items;
    *capacity = (int)new_capacity;
    return 0;
}

static int
check_index(Py_ssize_t index, Py_ssize_t len, const char *what)
{
    if (index < 0 || index >= len) {
        PyErr_Format(PyExc_IndexError,
                     "%s index %zd out of range (%zd saved)",
                     what, index, len);
        return -1;
    }
    return 0;
}

int
PyAwaitable_SaveValues(PyObject *awaitable, Py_ssize_t nargs, ...)
{
    CHECK_AWAITABLE(awaitable, -1);
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    if (nargs < 0) {
        PyErr_SetString(PyExc_ValueError, "nargs must not be negative");
        return -1;
    }
    int res = 0;
    va_list vargs;
    va_start(vargs, nargs);
    Py_BEGIN_CRITICAL_SECTION(aw);
    /* Check all first, so that a failure saves nothing.  NULL is refused
       here (the library asserts on it): object values are always
       references, GetValue() returning NULL means an error. */
    va_list check;
    va_copy(check, vargs);
    for (Py_ssize_t i = 0; i < nargs; i++) {
        if (va_arg(check, PyObject *) == NULL) {
            PyErr_SetString(PyExc_ValueError,
                            "cannot save NULL as an object value");
            res = -1;
            break;
        }
    }
    va_end(check);
    if (res == 0) {
        res = values_reserve((void ***)&aw->aw_values,
                             &aw->aw_values_capacity,
                             (void **)aw->aw_inline_values,
                             aw->aw_nvalues, nargs, &aw->aw_heap_storage);
    }
    if (res == 0) {
        for (Py_ssize_t i = 0; i < nargs; i++) {
            PyObject *value = va_arg(vargs, PyObject *);
            aw->aw_values[aw->aw_nvalues++] = Py_NewRef(value);
        }
    }
    Py_END_CRITICAL_SECTION();
    va_end(vargs);
    return res;
}

int
PyAwaitable_UnpackValues(PyObject *awaitable, ...)
{
    CHECK_AWAITABLE(awaitable, -1);
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    int res = 0;
    va_list vargs;
    va_start(vargs, awaitable);
    Py_BEGIN_CRITICAL_SECTION(aw);
    /* As in the library, unpacking with nothing saved is an error. */
    if (aw->aw_nvalues == 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "awaitable has no saved object values");
        res = -1;
    }
    for (Py_ssize_t i = 0; i < aw->aw_nvalues; i++) {
        PyObject **ptr = va_arg(vargs, PyObject **);
        if (ptr != NULL) {
            *ptr = aw->aw_values[i];   // borrowed
        }
    }
    Py_END_CRITICAL_SECTION();
    va_end(vargs);
    return res;
}

PyObject *
PyAwaitable_GetValue(PyObject *awaitable, Py_ssize_t index)
{
    CHECK_AWAITABLE(awaitable, NULL);
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    PyObject *value = NULL;
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (check_index(index, aw->aw_nvalues, "object value") == 0) {
        value = aw->aw_values[index];   // borrowed
    }
    Py_END_CRITICAL_SECTION();
    return value;
}

int
PyAwaitable_SetValue(PyObject *awaitable, Py_ssize_t index, PyObject *value)
{
    CHECK_AWAITABLE(awaitable, -1);
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    if (value == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "cannot save NULL as an object value");
        return -1;
    }
    PyObject *old = NULL;
    int res;
    Py_BEGIN_CRITICAL_SECTION(aw);
    res = check_index(index, aw->aw_nvalues, "object value");
    if (res == 0) {
        /* The library stores without a reference; we take one. */
        old = aw->aw_values[index];
        aw->aw_values[index] = Py_NewRef(value);
    }
    Py_END_CRITICAL_SECTION();
    Py_XDECREF(old);
    return res;
}

int
PyAwaitable_SaveArbValues(PyObject *awaitable, Py_ssize_t nargs, ...)
{
    CHECK_AWAITABLE(awaitable, -1);
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    if (nargs < 0) {
        PyErr_SetString(PyExc_ValueError, "nargs must not be negative");
        return -1;
    }
    int res;
    va_list vargs;
    va_start(vargs, nargs);
    Py_BEGIN_CRITICAL_SECTION(aw);
    res = values_reserve(&aw->aw_arb_values, &aw->aw_arb_values_capacity,
                         aw->aw_inline_arb_values, aw->aw_narb_values, nargs,
                         &aw->aw_heap_storage);
    if (res == 0) {
        for (Py_ssize_t i = 0; i < nargs; i++) {
            /* NULL is a valid value (the library asserts on it). */
            aw->aw_arb_values[aw->aw_narb_values++] = va_arg(vargs, void *);
        }
    }
    Py_END_CRITICAL_SECTION();
    va_end(vargs);
    return res;
}

int
PyAwaitable_UnpackArbValues(PyObject *awaitable, ...)
{
    CHECK_AWAITABLE(awaitable, -1);
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    int res = 0;
    va_list vargs;
    va_start(vargs, awaitable);
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (aw->aw_narb_values == 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "awaitable has no saved arbitrary values");
        res = -1;
    }
    for (Py_ssize_t i = 0; i < aw->aw_narb_values; i++) {
        void **ptr = va_arg(vargs, void **);
        if (ptr != NULL) {
            *ptr = aw->aw_arb_values[i];
        }
    }
    Py_END_CRITICAL_SECTION();
    va_end(vargs);
    return res;
}

void *
PyAwaitable_GetArbValue(PyObject *awaitable, Py_ssize_t index)
{
    CHECK_AWAITABLE(awaitable, NULL);
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    void *value = NULL;
    Py_BEGIN_CRITICAL_SECTION(aw);
    if (check_index(index, aw->aw_narb_values, "arbitrary value") == 0) {
        value = aw->aw_arb_values[index];
    }
    Py_END_CRITICAL_SECTION();
    return value;
}

int
PyAwaitable_SetArbValue(PyObject *awaitable, Py_ssize_t index, void *value)
{
    CHECK_AWAITABLE(awaitable, -1);
    PyAwaitableObject *aw = _PyAwaitable_CAST(awaitable);
    int res;
    Py_BEGIN_CRITICAL_SECTION(aw);
    res = check_index(index, aw->aw_narb_values, "arbitrary value");
    if (res == 0) {
        aw->aw_arb_values[index] = value;
    }
    Py_END_CRITICAL_SECTION();
    return res;
}
