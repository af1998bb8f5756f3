/* The floor of the benchmark: a plain synchronous C call returning a
   constant.  It builds against any CPython, patched or not, so that the
   no-regression check (scripts/bench --regression) can time it on both. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
sync_const(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(42);
}

static PyObject *
sync_o(PyObject *self, PyObject *arg)
{
    return Py_NewRef(arg);
}

static PyMethodDef sync_methods[] = {
    {"sync_const", sync_const, METH_NOARGS, NULL},
    {"sync_o", sync_o, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sync_module = {
    PyModuleDef_HEAD_INIT, "_bench_sync", NULL, -1, sync_methods,
};

PyMODINIT_FUNC
PyInit__bench_sync(void)
{
    return PyModule_Create(&sync_module);
}
