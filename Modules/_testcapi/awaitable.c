/* Tests of the awaitable object C API (Include/awaitableobject.h).

   The helpers are thin: each calls one API function.  Callbacks are
   Python callables saved as object values of the awaitable itself; the C
   callback number N calls the value at index N with the awaitable (and
   the result or exception).  The callable returns the callback's return
   code, or a (code, exception) pair to return a code with an exception
   set (by PyErr_SetObject(), which chains it to the exception being
   handled), or a (code, exception, anything) triple to set it as it is;
   if it raises, the callback returns -1 with that exception set.

   None passed as the awaitable is NULL, so that the tests can check how
   every function handles a NULL awaitable. */

#include "parts.h"
#include "util.h"
#include "awaitableobject.h"


static int
code_from_result(PyObject *res)
{
    if (res == NULL) {
        return -1;
    }
    int code;
    if (PyTuple_Check(res)
        && (PyTuple_GET_SIZE(res) == 2 || PyTuple_GET_SIZE(res) == 3))
    {
        code = PyLong_AsInt(PyTuple_GET_ITEM(res, 0));
        PyObject *exc = PyTuple_GET_ITEM(res, 1);
        if (!(code == -1 && PyErr_Occurred()) && exc != Py_None) {
            if (PyTuple_GET_SIZE(res) == 3) {
                /* As it is, as an exception propagated out of a call:
                   PyErr_SetObject() would chain it to the one handled. */
                PyErr_SetRaisedException(Py_NewRef(exc));
            }
            else {
                PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            }
        }
    }
    else {
        code = PyLong_AsInt(res);
    }
    Py_DECREF(res);
    return code;
}

static int
call_slot(PyObject *aw, Py_ssize_t slot, PyObject *arg)
{
    PyObject *func = PyAwaitable_GetValue(aw, slot);   // borrowed
    if (func == NULL) {
        return -2;
    }
    PyObject *res;
    if (arg == NULL) {
        res = PyObject_CallOneArg(func, aw);
    }
    else {
        res = PyObject_CallFunctionObjArgs(func, aw, arg, NULL);
    }
    return code_from_result(res);
}

#define SLOT(N)                                         \
    static int                                          \
    callback_##N(PyObject *aw, PyObject *arg)           \
    {                                                   \
        return call_slot(aw, N, arg);                   \
    }                                                   \
    static int                                          \
    defer_##N(PyObject *aw)                             \
    {                                                   \
        return call_slot(aw, N, NULL);                  \
    }

SLOT(0)
SLOT(1)
SLOT(2)
SLOT(3)
SLOT(4)
SLOT(5)
SLOT(6)
SLOT(7)
SLOT(8)
SLOT(9)
SLOT(10)
SLOT(11)
SLOT(12)
SLOT(13)
SLOT(14)
SLOT(15)
#undef SLOT

/* -1 means NULL. */
static int
get_slot(int slot, PyAwaitable_Callback *cb, PyAwaitable_Defer *defer)
{
    switch (slot) {
#define CASE(N) case N: *cb = callback_##N; *defer = defer_##N; return 0;
    CASE(0) CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
    CASE(8) CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15)
#undef CASE
    case -1:
        *cb = NULL;
        *defer = NULL;
        return 0;
    }
    PyErr_SetString(PyExc_ValueError, "bad callback slot");
    return -1;
}

#define AW_ARG(name) NULLABLE(name)

static PyObject *
awaitable_new(PyObject *self, PyObject *Py_UNUSED(args))
{
    return PyAwaitable_New();
}

static PyObject *
awaitable_init(PyObject *self, PyObject *Py_UNUSED(args))
{
    RETURN_INT(PyAwaitable_Init());
}

static PyObject *
awaitable_check(PyObject *self, PyObject *obj)
{
    return Py_BuildValue("ii", PyAwaitable_Check(obj),
                         PyAwaitable_CheckExact(obj));
}

typedef int (*add_func)(PyObject *, PyObject *, PyAwaitable_Callback,
                        PyAwaitable_Error);

static PyObject *
call_add(add_func func, PyObject *args, int steal)
{
    PyObject *aw, *obj;
    int result_slot = -1, error_slot = -1;
    PyAwaitable_Callback result_cb, error_cb;
    PyAwaitable_Defer unused;
    if (!PyArg_ParseTuple(args, "OO|ii", &aw, &obj,
                          &result_slot, &error_slot))
    {
        return NULL;
    }
    AW_ARG(aw);
    NULLABLE(obj);
    if (get_slot(result_slot, &result_cb, &unused) < 0
        || get_slot(error_slot, &error_cb, &unused) < 0)
    {
        return NULL;
    }
    if (steal) {
        if (obj == NULL) {
            /* As if the expression had failed. */
            PyErr_SetString(PyExc_ZeroDivisionError, "expression failed");
        }
        Py_XINCREF(obj);
    }
    RETURN_INT(func(aw, obj, result_cb, error_cb));
}

static PyObject *
awaitable_add_await(PyObject *self, PyObject *args)
{
    return call_add(PyAwaitable_AddAwait, args, 0);
}

static PyObject *
awaitable_add_expr(PyObject *self, PyObject *args)
{
    return call_add(PyAwaitable_AddExpr, args, 1);
}

static PyObject *
awaitable_async_with(PyObject *self, PyObject *args)
{
    return call_add(PyAwaitable_AsyncWith, args, 0);
}

static PyObject *
awaitable_async_for(PyObject *self, PyObject *args)
{
    return call_add(PyAwaitable_AsyncFor, args, 0);
}

static PyObject *
awaitable_defer_await(PyObject *self, PyObject *args)
{
    PyObject *aw;
    int slot;
    if (!PyArg_ParseTuple(args, "Oi", &aw, &slot)) {
        return NULL;
    }
    AW_ARG(aw);
    PyAwaitable_Callback unused;
    PyAwaitable_Defer defer;
    if (get_slot(slot, &unused, &defer) < 0) {
        return NULL;
    }
    RETURN_INT(PyAwaitable_DeferAwait(aw, defer));
}

static PyObject *
awaitable_set_result(PyObject *self, PyObject *args)
{
    PyObject *aw, *result;
    if (!PyArg_ParseTuple(args, "OO", &aw, &result)) {
        return NULL;
    }
    AW_ARG(aw);
    NULLABLE(result);
    RETURN_INT(PyAwaitable_SetResult(aw, result));
}

static PyObject *
awaitable_cancel(PyObject *self, PyObject *aw)
{
    AW_ARG(aw);
    PyAwaitable_Cancel(aw);
    Py_RETURN_NONE;
}

static PyObject *
awaitable_save_values(PyObject *self, PyObject *args)
{
    PyObject *aw;
    PyObject *v[5] = {NULL};
    if (!PyArg_ParseTuple(args, "O|OOOOO", &aw, &v[0], &v[1], &v[2], &v[3],
                          &v[4]))
    {
        return NULL;
    }
    AW_ARG(aw);
    Py_ssize_t n = PyTuple_GET_SIZE(args) - 1;
    for (int i = 0; i < 5; i++) {
        NULLABLE(v[i]);
    }
    RETURN_INT(PyAwaitable_SaveValues(aw, n, v[0], v[1], v[2], v[3], v[4]));
}

/* Unpack with n pointers; bit i of skip passes NULL for the i-th. */
static PyObject *
awaitable_unpack_values(PyObject *self, PyObject *args)
{
    PyObject *aw;
    int n, skip = 0;
    if (!PyArg_ParseTuple(args, "Oi|i", &aw, &n, &skip)) {
        return NULL;
    }
    AW_ARG(aw);
    if (n < 0 || n > 6) {
        PyErr_SetString(PyExc_ValueError, "n must be in range(7)");
        return NULL;
    }
    PyObject *v[6] = {NULL};
    PyObject **p[6];
    for (int i = 0; i < 6; i++) {
        p[i] = (i < n && !(skip & (1 << i))) ? &v[i] : NULL;
    }
    if (PyAwaitable_UnpackValues(aw, p[0], p[1], p[2], p[3], p[4],
                                 p[5]) < 0)
    {
        return NULL;
    }
    PyObject *res = PyTuple_New(n);
    if (res == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PyTuple_SET_ITEM(res, i, Py_NewRef(v[i] != NULL ? v[i] : Py_None));
    }
    return res;
}

static PyObject *
awaitable_get_value(PyObject *self, PyObject *args)
{
    PyObject *aw;
    Py_ssize_t index;
    if (!PyArg_ParseTuple(args, "On", &aw, &index)) {
        return NULL;
    }
    AW_ARG(aw);
    return Py_XNewRef(PyAwaitable_GetValue(aw, index));
}

static PyObject *
awaitable_set_value(PyObject *self, PyObject *args)
{
    PyObject *aw, *value;
    Py_ssize_t index;
    if (!PyArg_ParseTuple(args, "OnO", &aw, &index, &value)) {
        return NULL;
    }
    AW_ARG(aw);
    NULLABLE(value);
    RETURN_INT(PyAwaitable_SetValue(aw, index, value));
}

/* Arbitrary values are passed as integers; None is NULL. */
static int
as_pointer(PyObject *obj, void **ptr)
{
    if (obj == Py_None) {
        *ptr = NULL;
        return 0;
    }
    *ptr = PyLong_AsVoidPtr(obj);
    return (*ptr == NULL && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *
from_pointer(void *ptr)
{
    if (ptr == NULL) {
        Py_RETURN_NONE;
    }
    return PyLong_FromVoidPtr(ptr);
}

static PyObject *
awaitable_save_arb_values(PyObject *self, PyObject *args)
{
    PyObject *aw;
    PyObject *o[3] = {Py_None, Py_None, Py_None};
    void *v[3];
    if (!PyArg_ParseTuple(args, "O|OOO", &aw, &o[0], &o[1], &o[2])) {
        return NULL;
    }
    AW_ARG(aw);
    Py_ssize_t n = PyTuple_GET_SIZE(args) - 1;
    for (int i = 0; i < 3; i++) {
        if (as_pointer(o[i], &v[i]) < 0) {
            return NULL;
        }
    }
    RETURN_INT(PyAwaitable_SaveArbValues(aw, n, v[0], v[1], v[2]));
}

static PyObject *
awaitable_unpack_arb_values(PyObject *self, PyObject *args)
{
    PyObject *aw;
    int n, skip = 0;
    if (!PyArg_ParseTuple(args, "Oi|i", &aw, &n, &skip)) {
        return NULL;
    }
    AW_ARG(aw);
    if (n < 0 || n > 4) {
        PyErr_SetString(PyExc_ValueError, "n must be in range(5)");
        return NULL;
    }
    void *v[4] = {NULL};
    void **p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (i < n && !(skip & (1 << i))) ? &v[i] : NULL;
    }
    if (PyAwaitable_UnpackArbValues(aw, p[0], p[1], p[2], p[3]) < 0) {
        return NULL;
    }
    PyObject *res = PyTuple_New(n);
    if (res == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PyObject *item = from_pointer(v[i]);
        if (item == NULL) {
            Py_DECREF(res);
            return NULL;
        }
        PyTuple_SET_ITEM(res, i, item);
    }
    return res;
}

static PyObject *
awaitable_get_arb_value(PyObject *self, PyObject *args)
{
    PyObject *aw;
    Py_ssize_t index;
    if (!PyArg_ParseTuple(args, "On", &aw, &index)) {
        return NULL;
    }
    AW_ARG(aw);
    void *ptr = PyAwaitable_GetArbValue(aw, index);
    if (ptr == NULL && PyErr_Occurred()) {
        return NULL;
    }
    return from_pointer(ptr);
}

static PyObject *
awaitable_set_arb_value(PyObject *self, PyObject *args)
{
    PyObject *aw, *obj;
    Py_ssize_t index;
    void *ptr;
    if (!PyArg_ParseTuple(args, "OnO", &aw, &index, &obj)) {
        return NULL;
    }
    AW_ARG(aw);
    if (as_pointer(obj, &ptr) < 0) {
        return NULL;
    }
    RETURN_INT(PyAwaitable_SetArbValue(aw, index, ptr));
}

/* What an extension does on its error path: create an awaitable, fail to
   queue obj, release the awaitable, return NULL.  The exception must
   survive the release. */
static PyObject *
awaitable_add_await_and_release(PyObject *self, PyObject *obj)
{
    PyObject *aw = PyAwaitable_New();
    if (aw == NULL) {
        return NULL;
    }
    int res = PyAwaitable_AddAwait(aw, obj, NULL, NULL);
    Py_DECREF(aw);
    if (res < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The simplest async C function: return an awaitable with a result. */
static PyObject *
awaitable_return(PyObject *self, PyObject *result)
{
    PyObject *aw = PyAwaitable_New();
    if (aw == NULL) {
        return NULL;
    }
    if (PyAwaitable_SetResult(aw, result) < 0) {
        Py_DECREF(aw);
        return NULL;
    }
    return aw;
}

static int
set_result_callback(PyObject *aw, PyObject *result)
{
    return PyAwaitable_SetResult(aw, result);
}

/* async def f(coro): return await coro */
static PyObject *
awaitable_await_one(PyObject *self, PyObject *coro)
{
    PyObject *aw = PyAwaitable_New();
    if (aw == NULL) {
        return NULL;
    }
    if (PyAwaitable_AddAwait(aw, coro, set_result_callback, NULL) < 0) {
        Py_DECREF(aw);
        return NULL;
    }
    return aw;
}

static PyObject *
awaitable_return_await(PyObject *self, PyObject *args)
{
    PyObject *aw, *obj;
    if (!PyArg_ParseTuple(args, "OO", &aw, &obj)) {
        return NULL;
    }
    AW_ARG(aw);
    NULLABLE(obj);
    RETURN_INT(PyAwaitable_ReturnAwait(aw, obj));
}

/* n awaitables, each returning the await of the next; the last one
   returns the await of obj.  Made from the inside out, without recursing
   in C. */
static PyObject *
awaitable_return_await_chain(PyObject *self, PyObject *args)
{
    Py_ssize_t n;
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "nO", &n, &obj)) {
        return NULL;
    }
    PyObject *inner = Py_NewRef(obj);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *aw = PyAwaitable_New();
        if (aw == NULL) {
            Py_DECREF(inner);
            return NULL;
        }
        int res = PyAwaitable_ReturnAwait(aw, inner);
        Py_SETREF(inner, aw);
        if (res < 0) {
            Py_DECREF(inner);
            return NULL;
        }
    }
    return inner;
}

static PyMethodDef test_methods[] = {
    {"awaitable_new", awaitable_new, METH_NOARGS},
    {"awaitable_init", awaitable_init, METH_NOARGS},
    {"awaitable_check", awaitable_check, METH_O},
    {"awaitable_add_await", awaitable_add_await, METH_VARARGS},
    {"awaitable_add_expr", awaitable_add_expr, METH_VARARGS},
    {"awaitable_async_with", awaitable_async_with, METH_VARARGS},
    {"awaitable_async_for", awaitable_async_for, METH_VARARGS},
    {"awaitable_defer_await", awaitable_defer_await, METH_VARARGS},
    {"awaitable_set_result", awaitable_set_result, METH_VARARGS},
    {"awaitable_cancel", awaitable_cancel, METH_O},
    {"awaitable_save_values", awaitable_save_values, METH_VARARGS},
    {"awaitable_unpack_values", awaitable_unpack_values, METH_VARARGS},
    {"awaitable_get_value", awaitable_get_value, METH_VARARGS},
    {"awaitable_set_value", awaitable_set_value, METH_VARARGS},
    {"awaitable_save_arb_values", awaitable_save_arb_values, METH_VARARGS},
    {"awaitable_unpack_arb_values", awaitable_unpack_arb_values,
     METH_VARARGS},
    {"awaitable_get_arb_value", awaitable_get_arb_value, METH_VARARGS},
    {"awaitable_set_arb_value", awaitable_set_arb_value, METH_VARARGS},
    {"awaitable_add_await_and_release", awaitable_add_await_and_release,
     METH_O},
    {"awaitable_return", awaitable_return, METH_O},
    {"awaitable_await_one", awaitable_await_one, METH_O},
    {"awaitable_return_await", awaitable_return_await, METH_VARARGS},
    {"awaitable_return_await_chain", awaitable_return_await_chain,
     METH_VARARGS},
    {NULL},
};

int
_PyTestCapi_Init_Awaitable(PyObject *m)
{
    return PyModule_AddFunctions(m, test_methods);
}
