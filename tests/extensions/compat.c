/* One extension source, two builds: against the vendored PyAwaitable
   library (its pyawaitable.h defines the whole API as static functions)
   and, with only the includes changed, against the interpreter's native
   awaitable API.  Both must compile unchanged and behave the same. */

#ifdef USE_NATIVE_AWAITABLE
#  include <Python.h>
#  include <awaitableobject.h>
#  define MODULE_NAME "compat_native"
#  define MODULE_INIT PyInit_compat_native
#else
#  include <Python.h>
#  include <pyawaitable.h>
#  define MODULE_NAME "compat_vendored"
#  define MODULE_INIT PyInit_compat_vendored
#endif

/* async def add_then_double(coro, n): return (await coro + n) * 2 */
static int
add_then_double_cb(PyObject *awaitable, PyObject *result)
{
    PyObject *n;
    if (PyAwaitable_UnpackValues(awaitable, &n) < 0) {
        return -1;
    }
    PyObject *sum = PyNumber_Add(result, n);
    if (sum == NULL) {
        return -1;
    }
    PyObject *two = PyLong_FromLong(2);
    if (two == NULL) {
        Py_DECREF(sum);
        return -1;
    }
    PyObject *doubled = PyNumber_Multiply(sum, two);
    Py_DECREF(sum);
    Py_DECREF(two);
    if (doubled == NULL) {
        return -1;
    }
    int res = PyAwaitable_SetResult(awaitable, doubled);
    Py_DECREF(doubled);
    return res;
}

static PyObject *
add_then_double(PyObject *self, PyObject *args)
{
    PyObject *coro, *n;
    if (!PyArg_ParseTuple(args, "OO", &coro, &n)) {
        return NULL;
    }
    PyObject *awaitable = PyAwaitable_New();
    if (awaitable == NULL) {
        return NULL;
    }
    if (PyAwaitable_SaveValues(awaitable, 1, n) < 0
        || PyAwaitable_AddAwait(awaitable, coro, add_then_double_cb,
                                NULL) < 0)
    {
        Py_DECREF(awaitable);
        return NULL;
    }
    return awaitable;
}

/* async def handled(coro): try: await coro  except: return "handled" */
static int
handled_err(PyObject *awaitable, PyObject *exc)
{
    PyObject *text = PyUnicode_FromString("handled");
    if (text == NULL) {
        return -2;
    }
    int res = PyAwaitable_SetResult(awaitable, text);
    Py_DECREF(text);
    return res < 0 ? -2 : 0;
}

static PyObject *
handled(PyObject *self, PyObject *coro)
{
    PyObject *awaitable = PyAwaitable_New();
    if (awaitable == NULL) {
        return NULL;
    }
    if (PyAwaitable_AddAwait(awaitable, coro, NULL, handled_err) < 0) {
        Py_DECREF(awaitable);
        return NULL;
    }
    return awaitable;
}

/* Two awaits in sequence, the second's result wins. */
static int
keep_result(PyObject *awaitable, PyObject *result)
{
    return PyAwaitable_SetResult(awaitable, result);
}

static PyObject *
both(PyObject *self, PyObject *args)
{
    PyObject *first, *second;
    if (!PyArg_ParseTuple(args, "OO", &first, &second)) {
        return NULL;
    }
    PyObject *awaitable = PyAwaitable_New();
    if (awaitable == NULL) {
        return NULL;
    }
    if (PyAwaitable_AddAwait(awaitable, first, keep_result, NULL) < 0
        || PyAwaitable_AddAwait(awaitable, second, keep_result, NULL) < 0)
    {
        Py_DECREF(awaitable);
        return NULL;
    }
    return awaitable;
}

static PyMethodDef methods[] = {
    {"add_then_double", add_then_double, METH_VARARGS, NULL},
    {"handled", handled, METH_O, NULL},
    {"both", both, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, MODULE_NAME, NULL, -1, methods,
};

PyMODINIT_FUNC
MODULE_INIT(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyAwaitable_Init() < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
