/* The benchmark's async functions written in C, compiled twice by
   bench/setup.py:

     _bench_native      against the patched interpreter's built-in awaitable
                        type (awaitableobject.h): the METH_ASYNC functions
                        (async_*) and the same functions written with the
                        awaitable API without the flag (api_*: plain METH_O /
                        METH_NOARGS functions returning PyAwaitable_New());
     _bench_pyawaitable with BENCH_VENDORED: the api_* functions only,
                        against the PyAwaitable 2.0.1 library's vendored
                        pyawaitable.h (compiled with -DNDEBUG).

   Each way has the same three functions:

     const()       async def const(): return 42
     one(inner)    async def one(inner): return await inner()
     chain(n)      async def chain(n):
                       if n <= 1: return 42
                       return await chain(n - 1)

   and a class whose method is const() again, called as obj.const():
   ApiAnswer (the awaitable API, both modules) and AsyncAnswer (METH_ASYNC,
   _bench_native only), heap types made by PyType_FromSpec().
*/

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#ifdef BENCH_VENDORED
#  include <pyawaitable.h>
#  define MODULE_NAME "_bench_pyawaitable"
#  define MODULE_INIT PyInit__bench_pyawaitable
#else
#  include <awaitableobject.h>
#  define MODULE_NAME "_bench_native"
#  define MODULE_INIT PyInit__bench_native
#endif

static PyObject *the_answer;        /* 42 */
static PyObject *api_chain_fn;      /* this module's api_chain */
#ifndef BENCH_VENDORED
static PyObject *async_chain_fn;    /* this module's async_chain */
#endif

#ifdef BENCH_VENDORED
/* The result callback of `return await inner`: the awaited value becomes
   the awaitable's result. */
static int
set_result(PyObject *awaitable, PyObject *result)
{
    return PyAwaitable_SetResult(awaitable, result);
}
#endif

/* Queue an await of func(arg) (arg NULL: no argument) whose result becomes
   the awaitable's: `return await func(arg)`, which the native API spells
   PyAwaitable_ReturnAwait() and the library as an await with a result
   callback that sets the result. */
static int
await_call(PyObject *awaitable, PyObject *func, PyObject *arg)
{
    PyObject *coro = arg ? PyObject_CallOneArg(func, arg)
                         : PyObject_CallNoArgs(func);
    if (coro == NULL) {
        return -1;
    }
#ifdef BENCH_VENDORED
    int res = PyAwaitable_AddAwait(awaitable, coro, set_result, NULL);
#else
    int res = PyAwaitable_ReturnAwait(awaitable, coro);
#endif
    Py_DECREF(coro);
    return res;
}

/* The next depth of a chain, or NULL with *done set at its end. */
static PyObject *
chain_next(PyObject *n, int *done)
{
    long depth = PyLong_AsLong(n);
    if (depth == -1 && PyErr_Occurred()) {
        return NULL;
    }
    *done = depth <= 1;
    if (*done) {
        return NULL;
    }
    return PyLong_FromLong(depth - 1);
}


/* ---- the awaitable API without METH_ASYNC: the body runs at the call ---- */

static PyObject *
api_const(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *aw = PyAwaitable_New();
    if (aw == NULL) {
        return NULL;
    }
    if (PyAwaitable_SetResult(aw, the_answer) < 0) {
        Py_DECREF(aw);
        return NULL;
    }
    return aw;
}

static PyObject *
api_one(PyObject *self, PyObject *inner)
{
    PyObject *aw = PyAwaitable_New();
    if (aw == NULL) {
        return NULL;
    }
    if (await_call(aw, inner, NULL) < 0) {
        Py_DECREF(aw);
        return NULL;
    }
    return aw;
}

static PyObject *
api_chain(PyObject *self, PyObject *n)
{
    int done;
    PyObject *next = chain_next(n, &done);
    if (next == NULL && !done) {
        return NULL;
    }
    PyObject *aw = PyAwaitable_New();
    if (aw == NULL) {
        Py_XDECREF(next);
        return NULL;
    }
    int res = done ? PyAwaitable_SetResult(aw, the_answer)
                   : await_call(aw, api_chain_fn, next);
    Py_XDECREF(next);
    if (res < 0) {
        Py_DECREF(aw);
        return NULL;
    }
    return aw;
}


#ifndef BENCH_VENDORED
/* ---- METH_ASYNC: the body runs when the call's result is awaited ---- */

static PyObject *
async_const(PyObject *self, PyObject *awaitable)
{
    return Py_NewRef(the_answer);
}

static PyObject *
async_one(PyObject *self, PyObject *awaitable, PyObject *inner)
{
    if (await_call(awaitable, inner, NULL) < 0) {
        return NULL;
    }
    /* The awaitable itself: no explicit result, set_result's stands. */
    return Py_NewRef(awaitable);
}

static PyObject *
async_chain(PyObject *self, PyObject *awaitable, PyObject *n)
{
    int done;
    PyObject *next = chain_next(n, &done);
    if (done) {
        return Py_NewRef(the_answer);
    }
    if (next == NULL) {
        return NULL;
    }
    int res = await_call(awaitable, async_chain_fn, next);
    Py_DECREF(next);
    if (res < 0) {
        return NULL;
    }
    return Py_NewRef(awaitable);
}
#endif


/* ---- the same const() as a method of a heap type ---- */

static PyObject *
api_const_method(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return api_const(self, NULL);
}

static PyMethodDef api_answer_methods[] = {
    {"const", api_const_method, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

#ifndef BENCH_VENDORED
static PyMethodDef async_answer_methods[] = {
    {"const", _PyCFunction_CAST(async_const), METH_NOARGS | METH_ASYNC, NULL},
    {NULL, NULL, 0, NULL},
};
#endif

/* Add to module m a heap type of the full name name (module.Type) with
   these methods; return 0, or -1 with an exception set.  The spec can be
   a local: PyType_FromSpec() copies the name, and of the rest keeps only
   the methods array, which is static. */
static int
add_answer_type(PyObject *m, const char *name, PyMethodDef *methods)
{
    PyType_Slot slots[] = {
        {Py_tp_methods, methods},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = name,
        .basicsize = sizeof(PyObject),
        .flags = Py_TPFLAGS_DEFAULT,
        .slots = slots,
    };
    PyObject *type = PyType_FromSpec(&spec);
    if (type == NULL) {
        return -1;
    }
    int res = PyModule_AddType(m, (PyTypeObject *)type);
    Py_DECREF(type);
    return res;
}


static PyMethodDef bench_methods[] = {
    {"api_const", api_const, METH_NOARGS, NULL},
    {"api_one", api_one, METH_O, NULL},
    {"api_chain", api_chain, METH_O, NULL},
#ifndef BENCH_VENDORED
    {"async_const", _PyCFunction_CAST(async_const),
     METH_NOARGS | METH_ASYNC, NULL},
    {"async_one", _PyCFunction_CAST(async_one), METH_O | METH_ASYNC, NULL},
    {"async_chain", _PyCFunction_CAST(async_chain), METH_O | METH_ASYNC, NULL},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef bench_module = {
    PyModuleDef_HEAD_INIT, MODULE_NAME, NULL, -1, bench_methods,
};

PyMODINIT_FUNC
MODULE_INIT(void)
{
    if (PyAwaitable_Init() < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&bench_module);
    if (m == NULL) {
        return NULL;
    }
    the_answer = PyLong_FromLong(42);
    api_chain_fn = PyObject_GetAttrString(m, "api_chain");
#ifndef BENCH_VENDORED
    async_chain_fn = PyObject_GetAttrString(m, "async_chain");
    if (async_chain_fn == NULL) {
        goto error;
    }
#endif
    if (the_answer == NULL || api_chain_fn == NULL) {
        goto error;
    }
    if (add_answer_type(m, MODULE_NAME ".ApiAnswer", api_answer_methods) < 0) {
        goto error;
    }
#ifndef BENCH_VENDORED
    if (add_answer_type(m, MODULE_NAME ".AsyncAnswer",
                        async_answer_methods) < 0)
    {
        goto error;
    }
#endif
    return m;
error:
    Py_DECREF(m);
    return NULL;
}
