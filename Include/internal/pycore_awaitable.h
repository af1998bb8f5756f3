#ifndef Py_INTERNAL_AWAITABLE_H
#define Py_INTERNAL_AWAITABLE_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

/* Calls of METH_ASYNC functions (Objects/methodobject.c and
   Objects/descrobject.c) on top of the awaitable object
   (Objects/awaitableobject.c). */

/* The body of a deferred call: run at the first send to the awaitable,
   with the arguments the call was made with.  Returns a new reference to
   the result of the await (the awaitable itself meaning "no explicit
   result"), or NULL with an exception set. */
typedef PyObject *(*_PyAwaitable_CallBody)(PyObject *awaitable,
                                           PyObject *func,
                                           PyObject *const *args,
                                           Py_ssize_t nargs,
                                           PyObject *kwnames);

/* Return a new awaitable that runs body(awaitable, func, args, nargs,
   kwnames) when it is first sent to.  It keeps strong references to func,
   the arguments and kwnames (the keyword values follow the nargs
   positional ones in args) until then, and takes its __name__ and
   __qualname__ from func. */
extern PyObject *_PyAwaitable_NewCall(PyObject *func,
                                      _PyAwaitable_CallBody body,
                                      PyObject *const *args,
                                      Py_ssize_t nargs,
                                      PyObject *kwnames);

/* Check the arguments of a call to the METH_ASYNC function ml the way
   the synchronous calling conventions do before calling: the number of
   arguments for METH_NOARGS and METH_O, no keywords where the convention
   takes none.  Return 0, or -1 with TypeError set. */
extern int _PyCFunction_CheckAsyncArgs(PyObject *func, int flags,
                                       Py_ssize_t nargs, PyObject *kwnames);

/* Call the C function of the METH_ASYNC method ml with the calling
   convention its flags give, passing awaitable after self. */
extern PyObject *_PyCFunction_CallAsync(PyObject *func, PyMethodDef *ml,
                                        PyObject *self, PyTypeObject *cls,
                                        PyObject *awaitable,
                                        PyObject *const *args,
                                        Py_ssize_t nargs, PyObject *kwnames);

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

#ifdef __cplusplus
}
#endif
#endif   /* !Py_INTERNAL_AWAITABLE_H */
