/* Awaitable object interface: asynchronous functions written in C.

   Included by awaitableobject.h (never by Python.h); see there. */

#ifndef Py_CPYTHON_AWAITABLEOBJECT_H
#  error "this header file must not be included directly"
#endif

#ifdef __cplusplus
extern "C" {
#endif

PyAPI_DATA(PyTypeObject) PyAwaitable_Type;

#define PyAwaitable_CheckExact(op) Py_IS_TYPE((op), &PyAwaitable_Type)
#define PyAwaitable_Check(op) PyObject_TypeCheck((op), &PyAwaitable_Type)

/* Called with the result of an awaited object.  Return 0 on success, -1
   with an exception set to hand the exception to the error callback of the
   same await, or -2 with an exception set to skip that error callback. */
typedef int (*PyAwaitable_Callback)(PyObject *awaitable, PyObject *result);

/* Called with the exception raised by an awaited object (the error
   indicator is cleared).  Return 0 if the exception is handled, -1 to
   re-raise it, or -2 with a new exception set to raise that instead. */
typedef int (*PyAwaitable_Error)(PyObject *awaitable, PyObject *exc);

/* Called when the awaitable reaches a deferred step.  Return 0 on success
   or -1 with an exception set. */
typedef int (*PyAwaitable_Defer)(PyObject *awaitable);

/* Kept so that code written for the PyAwaitable library compiles
   unchanged: the type is built in, there is nothing to initialise. */
PyAPI_FUNC(int) PyAwaitable_Init(void);

PyAPI_FUNC(PyObject *) PyAwaitable_New(void);

PyAPI_FUNC(int) PyAwaitable_AddAwait(PyObject *awaitable, PyObject *coro,
                                     PyAwaitable_Callback result_callback,
                                     PyAwaitable_Error error_callback);
PyAPI_FUNC(int) PyAwaitable_ReturnAwait(PyObject *awaitable, PyObject *coro);
PyAPI_FUNC(int) PyAwaitable_AddExpr(PyObject *awaitable, PyObject *expr,
                                    PyAwaitable_Callback result_callback,
                                    PyAwaitable_Error error_callback);
PyAPI_FUNC(int) PyAwaitable_DeferAwait(PyObject *awaitable,
                                       PyAwaitable_Defer callback);
PyAPI_FUNC(int) PyAwaitable_SetResult(PyObject *awaitable, PyObject *result);
PyAPI_FUNC(void) PyAwaitable_Cancel(PyObject *awaitable);

PyAPI_FUNC(int) PyAwaitable_AsyncWith(PyObject *awaitable, PyObject *ctx,
                                      PyAwaitable_Callback body_callback,
                                      PyAwaitable_Error error_callback);
PyAPI_FUNC(int) PyAwaitable_AsyncFor(PyObject *awaitable, PyObject *iterable,
                                     PyAwaitable_Callback item_callback,
                                     PyAwaitable_Error error_callback);

/* Values saved for callbacks: strong references to objects ... */
PyAPI_FUNC(int) PyAwaitable_SaveValues(PyObject *awaitable,
                                       Py_ssize_t nargs, ...);
PyAPI_FUNC(int) PyAwaitable_UnpackValues(PyObject *awaitable, ...);
PyAPI_FUNC(PyObject *) PyAwaitable_GetValue(PyObject *awaitable,
                                            Py_ssize_t index);
PyAPI_FUNC(int) PyAwaitable_SetValue(PyObject *awaitable, Py_ssize_t index,
                                     PyObject *value);

/* ... and arbitrary pointers (NULL included), owned by the caller. */
PyAPI_FUNC(int) PyAwaitable_SaveArbValues(PyObject *awaitable,
                                          Py_ssize_t nargs, ...);
PyAPI_FUNC(int) PyAwaitable_UnpackArbValues(PyObject *awaitable, ...);
PyAPI_FUNC(void *) PyAwaitable_GetArbValue(PyObject *awaitable,
                                           Py_ssize_t index);
PyAPI_FUNC(int) PyAwaitable_SetArbValue(PyObject *awaitable, Py_ssize_t index,
                                        void *value);

#ifdef __cplusplus
}
#endif
