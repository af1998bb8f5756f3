/* The example extension of Doc/c-api/awaitable.rst.

   Both functions do what this Python function does:

       async def add(first, second):
           a = await first
           b = await second
           return a + b

   add() is an ordinary function that returns an awaitable object;
   add_async() is declared with METH_ASYNC and gets the awaitable from the
   interpreter.  The callbacks are shared. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <awaitableobject.h>


/* The result callback of "a = await first": keep a for later.  Saved
   values are strong references owned by the awaitable. */
static int
first_done(PyObject *awaitable, PyObject *a)
{
    return PyAwaitable_SaveValues(awaitable, 1, a);
}

/* The result callback of "b = await second": compute a + b and make it the
   result of the whole await. */
static int
second_done(PyObject *awaitable, PyObject *b)
{
    PyObject *a;    /* borrowed from the awaitable */
    if (PyAwaitable_UnpackValues(awaitable, &a) < 0) {
        return -1;
    }
    PyObject *sum = PyNumber_Add(a, b);
    if (sum == NULL) {
        return -1;    /* the exception ends the await */
    }
    int res = PyAwaitable_SetResult(awaitable, sum);
    Py_DECREF(sum);
    return res;
}

/* Queue the two awaits; shared by both variants. */
static int
queue_awaits(PyObject *awaitable, PyObject *first, PyObject *second)
{
    if (PyAwaitable_AddAwait(awaitable, first, first_done, NULL) < 0) {
        return -1;
    }
    return PyAwaitable_AddAwait(awaitable, second, second_done, NULL);
}


/* Variant 1: a plain METH_FASTCALL function that builds the awaitable and
   returns it.  The argument check happens at the call. */
static PyObject *
add(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "add() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *awaitable = PyAwaitable_New();
    if (awaitable == NULL) {
        return NULL;
    }
    if (queue_awaits(awaitable, args[0], args[1]) < 0) {
        /* Released with the exception set: no "never awaited" warning. */
        Py_DECREF(awaitable);
        return NULL;
    }
    return awaitable;    /* the caller awaits it */
}


/* Variant 2: METH_FASTCALL | METH_ASYNC.  A call returns the awaitable at
   once and runs nothing; this body runs when the awaitable is first
   awaited, so its errors (the argument check included) surface at the
   await. */
static PyObject *
add_async(PyObject *module, PyObject *awaitable,
          PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "add_async() takes exactly 2 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (queue_awaits(awaitable, args[0], args[1]) < 0) {
        return NULL;    /* the interpreter owns the awaitable */
    }
    /* Returning the awaitable itself means "no result of mine": the
       result is the one second_done() sets.  Any other object returned
       here would be the result unless a callback sets another. */
    return Py_NewRef(awaitable);
}


static PyMethodDef example_methods[] = {
    {"add", (PyCFunction)(void(*)(void))add, METH_FASTCALL,
     PyDoc_STR("add($module, first, second, /)\n--\n\n"
               "Await first, then second; return the sum of the results.")},
    {"add_async", (PyCFunction)(void(*)(void))add_async, METH_FASTCALL | METH_ASYNC,
     PyDoc_STR("add_async($module, first, second, /)\n--\n\n"
               "Await first, then second; return the sum of the results.")},
    {NULL, NULL, 0, NULL}
};

static PyModuleDef_Slot example_slots[] = {
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, NULL}
};

static struct PyModuleDef example_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "awaitable_example",
    .m_doc = PyDoc_STR("The example of the awaitable object C API."),
    .m_size = 0,
    .m_methods = example_methods,
    .m_slots = example_slots,
};

PyMODINIT_FUNC
PyInit_awaitable_example(void)
{
    return PyModuleDef_Init(&example_module);
}
