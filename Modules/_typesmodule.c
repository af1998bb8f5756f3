/* _types module: built-in types with no other way to reach them from
   Python code (Lib/types.py and Lib/_collections_abc.py import it). */

#include "Python.h"
#include "awaitableobject.h"      // PyAwaitable_Type

static int
_types_exec(PyObject *m)
{
    return PyModule_AddObjectRef(m, "AwaitableType",
                                 (PyObject *)&PyAwaitable_Type);
}

static struct PyModuleDef_Slot _types_slots[] = {
    {Py_mod_exec, _types_exec},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, NULL}
};

static struct PyModuleDef _typesmodule = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_types",
    .m_doc = "Define names for built-in types.",
    .m_size = 0,
    .m_slots = _types_slots,
};

PyMODINIT_FUNC
PyInit__types(void)
{
    return PyModuleDef_Init(&_typesmodule);
}
