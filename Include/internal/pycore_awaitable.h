#ifndef Py_INTERNAL_AWAITABLE_H
#define Py_INTERNAL_AWAITABLE_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "awaitableobject.h"              // PyAwaitable_Callback
#include "pycore_call.h"                 // _Py_CheckFunctionResult()
#include "pycore_pyatomic_ft_wrappers.h" // FT_ATOMIC_LOAD_UINT8()
#include "pycore_pystate.h"              // _PyThreadState_GET()

/* The body of a deferred call: run at the first send to the awaitable,
   with the arguments the call was made with.  Returns a new reference to
   the result of the await (the awaitable itself meaning "no explicit
   result"), or NULL with an exception set. */
typedef PyObject *(*_PyAwaitable_CallBody)(PyObject *awaitable,
                                           PyObject *func,
                                           PyObject *const *args,
                                           Py_ssize_t nargs,
                                           PyObject *kwnames);

/* The awaitable object (Objects/awaitableobject.c), whose layout the
   evaluation loop reads to await one without calls (GET_AWAITABLE). */

/* Sizes of the inline arrays.  Two records cover the common "await one
   thing, then maybe one more" body without allocating; four values cover
   the usual handful of locals a callback needs. */
#define AW_INLINE_RECORDS 2
#define AW_INLINE_VALUES 4
#define AW_INLINE_ARB_VALUES 4

typedef enum {
    AWR_AWAIT,          // await ar_obj
    AWR_RETURN,         // await ar_obj, whose result becomes the result
    AWR_DEFER,          // call the defer callback
    AWR_WITH_ENTER,     // await __aenter__(); ar_ctx is the bound __aexit__
    AWR_WITH_EXIT,      // await ar_ctx(...); ar_obj is the exception or NULL
    AWR_FOR_NEXT,       // await __anext__() of ar_ctx, the async iterator
} _PyAwaitableRecordKind;

typedef struct {
    PyObject *ar_obj;
    PyObject *ar_ctx;
    union {
        PyAwaitable_Callback result;
        PyAwaitable_Defer defer;
    } ar_cb;
    PyAwaitable_Error ar_error;
    _PyAwaitableRecordKind ar_kind;
    /* AWR_FOR_NEXT after an item: the loop's body runs before it, and an
       exception that a step of the body does not handle reaches
       ar_error. */
    int ar_in_loop;
} _PyAwaitableRecord;

typedef enum {
    AW_CREATED,
    AW_STARTED,
    AW_FINISHED,
} _PyAwaitableState;

typedef struct _PyAwaitableObject {
    PyObject_HEAD
    PyObject *aw_weakreflist;
    PyObject *aw_name;            // NULL means "awaitable"
    PyObject *aw_qualname;        // NULL means "awaitable"
    PyObject *aw_result;          // NULL means None
    PyObject *aw_inner;           // iterator of the await in progress
    /* A call of a METH_ASYNC function (_PyAwaitable_NewCall()): aw_body
       runs at the first send with aw_func and the arguments, then is
       cleared; the arguments are kept until the awaitable finishes, as a
       coroutine's frame keeps them; aw_func stays, and gives the awaitable
       its names. */
    PyObject *aw_func;
    _PyAwaitable_CallBody aw_body;
    /* The arguments: a tuple of the positional then the keyword values and
       the tuple of keyword names, or, for a call of two arguments at most
       without keywords (a method's self and its argument), the arguments
       themselves, without a tuple. */
    PyObject *aw_args;            // the tuple, or NULL
    PyObject *aw_arg;             // without aw_args: the first, or NULL
    union {
        PyObject *aw_kwnames;     // with aw_args: the names, or NULL
        PyObject *aw_arg2;        // without: the second argument, or NULL
    };
    /* The queue: records[head:count] are pending, records[head] is the one
       in progress while aw_inner is set.  The counts here are ints, as
       those of code objects are, to keep the object small: thousands of
       awaitables can be pending at once (asyncio.gather()), and every
       cache line they take is missed again at each GC pass over them. */
    _PyAwaitableRecord *aw_records;
    int aw_head;
    int aw_count;
    int aw_capacity;
    /* Where records queued by a running callback go; -1: at the end.
       Only the thread driving the awaitable (aw_driver) queues there:
       records queued from other threads go at the end. */
    int aw_insert;
    /* The saved values: aw_values[:aw_nvalues] and
       aw_arb_values[:aw_narb_values]. */
    int aw_nvalues;
    int aw_values_capacity;
    int aw_narb_values;
    int aw_arb_values_capacity;
    PyThreadState *aw_driver;
    PyObject **aw_values;
    void **aw_arb_values;
    /* Incremented by every PyAwaitable_Cancel(), so that code that ran
       arbitrary code (a callback, __await__) can tell whether the queue it
       was working on was dropped meanwhile.  Non-zero: no "never awaited"
       warning.  32 bits, beside the flags, leave room for aw_origin on
       64-bit platforms; it wraps: a callback would have to see 2**32
       cancellations to miss them, and an awaitable cancelled 2**32 times
       warns if it is never awaited. */
    uint32_t aw_cancels;
    uint8_t aw_state;
    uint8_t aw_running;
    /* aw_inner's step was dropped while it started: no callback runs when
       it completes. */
    char aw_orphan;
    /* aw_records, aw_values or aw_arb_values was moved to the heap, or
       aw_origin is set: freed at deallocation, one test there instead of
       four. */
    uint8_t aw_heap_storage;
    /* cr_origin: where the awaitable was made, with
       sys.set_coroutine_origin_tracking_depth() set; NULL otherwise. */
    PyObject *aw_origin;
    _PyAwaitableRecord aw_inline_records[AW_INLINE_RECORDS];
    PyObject *aw_inline_values[AW_INLINE_VALUES];
    void *aw_inline_arb_values[AW_INLINE_ARB_VALUES];
} PyAwaitableObject;

#define _PyAwaitable_CAST(op) \
    (assert(PyAwaitable_Check(op)), _Py_CAST(PyAwaitableObject*, (op)))

/* Whether awaiting op, an awaitable object, means sending to op itself:
   it was never awaited.  (Its __await__ also raises for the others.) */
static inline int
_PyAwaitable_IsUnstarted(PyObject *op)
{
    return FT_ATOMIC_LOAD_UINT8(_PyAwaitable_CAST(op)->aw_state) == AW_CREATED;
}

/* Calls of METH_ASYNC functions (Objects/methodobject.c and
   Objects/descrobject.c) on top of the awaitable object
   (Objects/awaitableobject.c). */

/* Return a new awaitable that runs body(awaitable, func, args, nargs,
   kwnames) when it is first sent to.  It keeps strong references to func,
   until it is released, and to the arguments and kwnames (the keyword
   values follow the nargs positional ones in args), until it finishes;
   it takes its __name__ and __qualname__ from func. */
extern PyObject *_PyAwaitable_NewCall(PyObject *func,
                                      _PyAwaitable_CallBody body,
                                      PyObject *const *args,
                                      Py_ssize_t nargs,
                                      PyObject *kwnames);

/* The same for a call with one positional argument, arg, or with none if
   arg is NULL, and no keywords: the calls of METH_NOARGS and METH_O
   functions and of METH_NOARGS methods, the commonest, made without
   sorting out the arguments.  (_PyAwaitable_NewCall() keeps up to two
   arguments without a tuple as well.) */
extern PyObject *_PyAwaitable_NewCallOneArg(PyObject *func,
                                            _PyAwaitable_CallBody body,
                                            PyObject *arg);

/* Check the arguments of a call to the METH_ASYNC function ml the way
   the synchronous calling conventions do before calling: the number of
   arguments for METH_NOARGS and METH_O, no keywords where the convention
   takes none.  Return 0, or -1 with TypeError set. */
extern int _PyCFunction_CheckAsyncArgs(PyObject *func, int flags,
                                       Py_ssize_t nargs, PyObject *kwnames);

/* The copy of a METH_ASYNC definition that its function objects and
   method descriptors show, as m_ml and d_method, in place of the
   definition given: the same but for its flags, which have no calling
   convention (Objects/methodobject.c). */
typedef struct _PyCFunctionAsyncDef {
    PyMethodDef shown;      // what they point to; first, for the casts
    PyMethodDef *def;       // the definition given
    PyMethodDef given;      // *def when copied
    struct _PyCFunctionAsyncDef *next;    // in async_method_defs.all
} _PyCFunctionAsyncDef;

/* The definition given, as it was when copied, for the copy shown: its
   calling convention and C function are the ones that calls use. */
static inline PyMethodDef *
_PyCFunction_AsyncDefGiven(PyMethodDef *shown)
{
    assert(shown->ml_flags & METH_ASYNC);
    return &((_PyCFunctionAsyncDef *)shown)->given;
}

/* The same for ml, a copy or a definition without METH_ASYNC (the
   definition of a function object or method descriptor): ml itself if it
   is not async. */
static inline PyMethodDef *
_PyCFunction_DefGiven(PyMethodDef *ml)
{
    if (ml->ml_flags & METH_ASYNC) {
        return _PyCFunction_AsyncDefGiven(ml);
    }
    return ml;
}

/* The copy to show for ml, a METH_ASYNC definition or a copy: found or
   made, under a lock of the runtime.  NULL with SystemError set if ml has
   no calling convention that function objects and method descriptors
   call with (no copy is made then), or MemoryError. */
extern PyMethodDef *_PyCFunction_GetAsyncDef(PyMethodDef *ml);

/* PyCMethod_New() for ml, a definition without METH_ASYNC or a copy,
   which it does not look up: the bound methods of method descriptors,
   which show the copy. */
extern PyObject *_PyCMethod_NewShown(PyMethodDef *ml, PyObject *self,
                                     PyObject *module, PyTypeObject *cls);

/* Call the C function of the METH_ASYNC method ml with the calling
   convention its flags give, passing awaitable after self. */
extern PyObject *_PyCFunction_CallAsync(PyObject *func, PyMethodDef *ml,
                                        PyObject *self, PyTypeObject *cls,
                                        PyObject *awaitable,
                                        PyObject *const *args,
                                        Py_ssize_t nargs, PyObject *kwnames);

/* Check the result of a METH_ASYNC C function the way
   _Py_CheckFunctionResult() does, calling it only for an error or a wrong
   result: the bodies of METH_NOARGS and METH_O functions and methods,
   whose awaits are short enough for the call to show. */
static inline PyObject *
_PyCFunction_CheckAsyncResult(PyObject *func, PyObject *result)
{
    PyThreadState *tstate = _PyThreadState_GET();
    if (result == NULL || tstate->current_exception != NULL) {
        return _Py_CheckFunctionResult(tstate, func, result, NULL);
    }
    return result;
}

/* The send of the SEND instruction to an awaitable object, *preceiver
   (the receiver's stack slot, a strong reference).  Returns what am_send
   returns or, if the awaitable handed over the await that is all that is
   left of it (PyAwaitable_ReturnAwait()), _PyAwaitable_HANDED_OVER: the
   awaitable finished and was replaced in *preceiver by the iterator to
   await instead, which is to be sent None; *presult is NULL.  Awaitable
   objects handed over are sent to here, in turn, so that the new receiver
   is never one. */
#define _PyAwaitable_HANDED_OVER 2
extern int _PyAwaitable_SendOrHandOver(PyObject **preceiver, PyObject *arg,
                                       PyObject **presult);

/* Whether the SEND instructions of code take such hand-overs: those of
   coroutines and asynchronous generators, whose awaits drive what they
   await, and of generator-based coroutines, whose yield from may drive a
   coroutine.  Not those of a plain generator, which never drives a
   coroutine (GET_YIELD_FROM_ITER refuses one, iter() cannot return one):
   an awaitable object that __iter__() returned awaits for it. */
#define _PyAwaitable_TAKES_HAND_OVER(code) \
    (((code)->co_flags & (CO_COROUTINE | CO_ITERABLE_COROUTINE \
                          | CO_ASYNC_GENERATOR)) != 0)

#ifdef __cplusplus
}
#endif
#endif   /* !Py_INTERNAL_AWAITABLE_H */
