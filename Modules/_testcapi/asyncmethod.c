/* Functions and methods declared with METH_ASYNC, one per calling
   convention.  Each body reports what it received as its result:
   (convention, self, args...), so the tests state what the call passed. */

// clinic/asyncmethod.c.h uses internal pycore_modsupport.h API
#define PYTESTCAPI_NEED_INTERNAL_API

#include "parts.h"
#include "util.h"
#include "awaitableobject.h"

/*[clinic input]
module _testcapi
class _testcapi.AsyncMethods "PyObject *" "&PyType_Type"
[clinic start generated code]*/
/*[clinic end generated code: output=da39a3ee5e6b4b0d input=2f11c7a385b403f6]*/

#include "clinic/asyncmethod.c.h"


/* The awaitable passed in must be the one the call returned: the body
   checks it is an awaitable, and the tests check identity through
   async_awaitable_is(). */
static int
check_awaitable(PyObject *awaitable)
{
    if (!PyAwaitable_CheckExact(awaitable)) {
        PyErr_SetString(PyExc_AssertionError,
                        "the body did not receive an awaitable");
        return -1;
    }
    return 0;
}

#define REPORT(...)                                     \
    do {                                                \
        if (check_awaitable(awaitable) < 0) {           \
            return NULL;                                \
        }                                               \
        return Py_BuildValue(__VA_ARGS__);              \
    } while (0)

static PyObject *
self_or_none(PyObject *self)
{
    return self == NULL ? Py_None : self;
}

static PyObject *
fast_args(PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *tuple = PyTuple_New(nargs);
    if (tuple == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
    }
    return tuple;
}

static PyObject *
fast_kwargs(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *kwargs = PyDict_New();
    if (kwargs == NULL || kwnames == NULL) {
        return kwargs;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
        if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i),
                           args[nargs + i]) < 0)
        {
            Py_DECREF(kwargs);
            return NULL;
        }
    }
    return kwargs;
}

static PyObject *
async_noargs(PyObject *self, PyObject *awaitable)
{
    REPORT("(sO)", "noargs", self_or_none(self));
}

static PyObject *
async_o(PyObject *self, PyObject *awaitable, PyObject *arg)
{
    REPORT("(sOO)", "o", self_or_none(self), arg);
}

static PyObject *
async_varargs(PyObject *self, PyObject *awaitable, PyObject *args)
{
    REPORT("(sOO)", "varargs", self_or_none(self), args);
}

static PyObject *
async_varargs_keywords(PyObject *self, PyObject *awaitable, PyObject *args,
                       PyObject *kwargs)
{
    REPORT("(sOOO)", "varargs_keywords", self_or_none(self), args,
           kwargs ? kwargs : Py_None);
}

static PyObject *
async_fastcall(PyObject *self, PyObject *awaitable, PyObject *const *args,
               Py_ssize_t nargs)
{
    REPORT("(sON)", "fastcall", self_or_none(self), fast_args(args, nargs));
}

static PyObject *
async_fastcall_keywords(PyObject *self, PyObject *awaitable,
                        PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames)
{
    REPORT("(sONN)", "fastcall_keywords", self_or_none(self),
           fast_args(args, nargs), fast_kwargs(args, nargs, kwnames));
}

static PyObject *
async_method(PyObject *self, PyObject *awaitable, PyTypeObject *cls,
             PyObject *const *args, size_t nargs, PyObject *kwnames)
{
    REPORT("(sOONN)", "method", self_or_none(self), (PyObject *)cls,
           fast_args(args, nargs), fast_kwargs(args, nargs, kwnames));
}

/* Side effects happen in the body only: async_append(list, item) appends
   item to list when awaited, and returns the list's new length. */
static PyObject *
async_append(PyObject *self, PyObject *awaitable, PyObject *const *args,
             Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "async_append() takes 2 arguments");
        return NULL;
    }
    if (PyList_Append(args[0], args[1]) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(PyList_GET_SIZE(args[0]));
}

/* Raise the given exception at the await. */
static PyObject *
async_raise(PyObject *self, PyObject *awaitable, PyObject *exc)
{
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    return NULL;
}

/* Queue an await of args[0] and an `async with args[1]`, then raise
   args[2]: nothing queued may run. */
static PyObject *
async_queue_then_raise(PyObject *self, PyObject *awaitable,
                       PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "takes 3 arguments");
        return NULL;
    }
    if (PyAwaitable_AddAwait(awaitable, args[0], NULL, NULL) < 0) {
        return NULL;
    }
    if (PyAwaitable_AsyncWith(awaitable, args[1], NULL, NULL) < 0) {
        return NULL;
    }
    PyErr_SetObject((PyObject *)Py_TYPE(args[2]), args[2]);
    return NULL;
}

/* A broken body: NULL without an exception. */
static PyObject *
async_return_null(PyObject *self, PyObject *awaitable)
{
    return NULL;
}

/* Return the awaitable itself: "no explicit result". */
static PyObject *
async_return_awaitable(PyObject *self, PyObject *awaitable)
{
    return Py_NewRef(awaitable);
}

static int
double_result(PyObject *awaitable, PyObject *result)
{
    PyObject *two = PyLong_FromLong(2);
    if (two == NULL) {
        return -1;
    }
    PyObject *doubled = PyNumber_Multiply(result, two);
    Py_DECREF(two);
    if (doubled == NULL) {
        return -1;
    }
    int res = PyAwaitable_SetResult(awaitable, doubled);
    Py_DECREF(doubled);
    return res;
}

/* async def f(coro): return 2 * await coro; the body's own return value
   (the string "body") is replaced by the callback's. */
static PyObject *
async_await_double(PyObject *self, PyObject *awaitable, PyObject *coro)
{
    if (PyAwaitable_AddAwait(awaitable, coro, double_result, NULL) < 0) {
        return NULL;
    }
    return PyUnicode_FromString("body");
}

/* async def f(coro): return await coro */
static PyObject *
async_return_await(PyObject *self, PyObject *awaitable, PyObject *coro)
{
    if (PyAwaitable_ReturnAwait(awaitable, coro) < 0) {
        return NULL;
    }
    /* No explicit result: the await's is the result. */
    return Py_NewRef(awaitable);
}

/* async def f(n, coro): return await (f(n - 1, coro) if n else coro) */
static PyObject *
async_return_await_chain(PyObject *self, PyObject *awaitable,
                         PyObject *const *args, Py_ssize_t nargs)
{
    if (!_PyArg_CheckPositional("async_return_await_chain", nargs, 2, 2)) {
        return NULL;
    }
    Py_ssize_t n = PyLong_AsSsize_t(args[0]);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *next;
    if (n > 0) {
        /* self is the module. */
        PyObject *func = PyObject_GetAttrString(self,
                                                "async_return_await_chain");
        if (func == NULL) {
            return NULL;
        }
        PyObject *m = PyLong_FromSsize_t(n - 1);
        if (m == NULL) {
            Py_DECREF(func);
            return NULL;
        }
        PyObject *callargs[2] = {m, args[1]};
        next = PyObject_Vectorcall(func, callargs, 2, NULL);
        Py_DECREF(m);
        Py_DECREF(func);
        if (next == NULL) {
            return NULL;
        }
    }
    else {
        next = Py_NewRef(args[1]);
    }
    int res = PyAwaitable_ReturnAwait(awaitable, next);
    Py_DECREF(next);
    if (res < 0) {
        return NULL;
    }
    return Py_NewRef(awaitable);
}

/* async def f(coro): await coro; return "body" */
static PyObject *
async_await_keep(PyObject *self, PyObject *awaitable, PyObject *coro)
{
    if (PyAwaitable_AddAwait(awaitable, coro, NULL, NULL) < 0) {
        return NULL;
    }
    return PyUnicode_FromString("body");
}

static int
set_borrowed_result(PyObject *awaitable, PyObject *Py_UNUSED(result))
{
    PyObject *obj = (PyObject *)PyAwaitable_GetArbValue(awaitable, 0);
    if (obj == NULL && PyErr_Occurred()) {
        return -1;
    }
    return PyAwaitable_SetResult(awaitable, obj);
}

/* async def f([obj,] coro): await coro; return obj -- obj (self without
   it) borrowed, as C code may borrow from its arguments for its callbacks:
   the call keeps them, self included, until the awaitable finishes. */
static PyObject *
async_await_then_borrowed(PyObject *self, PyObject *awaitable,
                          PyObject *const *args, Py_ssize_t nargs)
{
    if (!_PyArg_CheckPositional("await_then_borrowed", nargs, 1, 2)) {
        return NULL;
    }
    PyObject *obj = nargs == 2 ? args[0] : self;
    if (PyAwaitable_SaveArbValues(awaitable, 1, (void *)obj) < 0
        || PyAwaitable_AddAwait(awaitable, args[nargs - 1],
                                set_borrowed_result, NULL) < 0)
    {
        return NULL;
    }
    return Py_NewRef(awaitable);
}

/* Return the awaitable the body received, to compare with the call's. */
static PyObject *
async_get_awaitable(PyObject *self, PyObject *awaitable)
{
    PyObject *ref = PyWeakref_NewRef(awaitable, NULL);
    if (ref == NULL) {
        return NULL;
    }
    /* A weak reference: the awaitable's result must not keep it alive. */
    return ref;
}


/* Argument Clinic functions declared with @async, one per parser shape
   that clinic generates; they report what they received as REPORT does. */

static PyObject *
none_if_null(PyObject *obj)
{
    return obj == NULL ? Py_None : obj;
}

/*[clinic input]
@async
_testcapi.async_clinic_noargs

An async function without arguments.
[clinic start generated code]*/

static PyObject *
_testcapi_async_clinic_noargs_impl(PyObject *module, PyObject *awaitable)
/*[clinic end generated code: output=7de3e30bcbb6a72f input=ab30fe21bdbbfce3]*/
{
    REPORT("(sO)", "clinic_noargs", module);
}

/*[clinic input]
@async
_testcapi.async_clinic_o

    arg: object
    /
[clinic start generated code]*/

static PyObject *
_testcapi_async_clinic_o(PyObject *module, PyObject *awaitable,
                         PyObject *arg)
/*[clinic end generated code: output=47a1fe3884e4e990 input=3e9f121c4a27262e]*/
{
    REPORT("(sOO)", "clinic_o", module, arg);
}

/*[clinic input]
@async
_testcapi.async_clinic_index

    n: Py_ssize_t
    /
[clinic start generated code]*/

static PyObject *
_testcapi_async_clinic_index_impl(PyObject *module, PyObject *awaitable,
                                  Py_ssize_t n)
/*[clinic end generated code: output=688e7ec911374ec1 input=4ad9cd0c62a46a5a]*/
{
    REPORT("(sOn)", "clinic_index", module, n);
}

/*[clinic input]
@async
_testcapi.async_clinic_posonly

    a: object
    b: object = None
    /
[clinic start generated code]*/

static PyObject *
_testcapi_async_clinic_posonly_impl(PyObject *module, PyObject *awaitable,
                                    PyObject *a, PyObject *b)
/*[clinic end generated code: output=b8bfd06f906b4c5f input=12a1090647c627a7]*/
{
    REPORT("(sOOO)", "clinic_posonly", module, a, b);
}

/*[clinic input]
@async
_testcapi.async_clinic_keywords

    a: object
    b: object = None
    *
    c: int = 0
[clinic start generated code]*/

static PyObject *
_testcapi_async_clinic_keywords_impl(PyObject *module, PyObject *awaitable,
                                     PyObject *a, PyObject *b, int c)
/*[clinic end generated code: output=3ff5bef91d6da7a5 input=4b3bc22fbb98fad1]*/
{
    REPORT("(sOOOi)", "clinic_keywords", module, a, b, c);
}

/*[clinic input]
@async
_testcapi.async_clinic_groups

    a: object
    [
    b: object
    c: object
    ]
    /
[clinic start generated code]*/

static PyObject *
_testcapi_async_clinic_groups_impl(PyObject *module, PyObject *awaitable,
                                   PyObject *a, int group_right_1,
                                   PyObject *b, PyObject *c)
/*[clinic end generated code: output=9e1737ca3ab1cae1 input=d9838f3eb968b5a2]*/
{
    REPORT("(sOOiOO)", "clinic_groups", module, a, group_right_1,
           none_if_null(b), none_if_null(c));
}

static int
set_result(PyObject *awaitable, PyObject *result)
{
    return PyAwaitable_SetResult(awaitable, result);
}

/*[clinic input]
@async
_testcapi.async_clinic_await

    coro: object
    /
    *
    double: bool = False

Await coro and return its result, doubled if double is true.
[clinic start generated code]*/

static PyObject *
_testcapi_async_clinic_await_impl(PyObject *module, PyObject *awaitable,
                                  PyObject *coro, int double_value)
/*[clinic end generated code: output=a75ff02884a37230 input=865eaf7c861b6658]*/
{
    if (PyAwaitable_AddAwait(awaitable, coro,
                             double_value ? double_result : set_result,
                             NULL) < 0)
    {
        return NULL;
    }
    /* No explicit result: the callback sets it. */
    return Py_NewRef(awaitable);
}

static PyMethodDef async_functions[] = {
    {"async_noargs", _PyCFunction_CAST(async_noargs),
     METH_NOARGS | METH_ASYNC, PyDoc_STR("async_noargs($module, /)\n--\n\n")},
    {"async_o", _PyCFunction_CAST(async_o), METH_O | METH_ASYNC,
     PyDoc_STR("async_o($module, arg, /)\n--\n\n")},
    {"async_varargs", _PyCFunction_CAST(async_varargs),
     METH_VARARGS | METH_ASYNC},
    {"async_varargs_keywords", _PyCFunction_CAST(async_varargs_keywords),
     METH_VARARGS | METH_KEYWORDS | METH_ASYNC},
    {"async_fastcall", _PyCFunction_CAST(async_fastcall),
     METH_FASTCALL | METH_ASYNC},
    {"async_fastcall_keywords", _PyCFunction_CAST(async_fastcall_keywords),
     METH_FASTCALL | METH_KEYWORDS | METH_ASYNC},
    {"async_append", _PyCFunction_CAST(async_append),
     METH_FASTCALL | METH_ASYNC},
    {"async_raise", _PyCFunction_CAST(async_raise), METH_O | METH_ASYNC},
    {"async_queue_then_raise", _PyCFunction_CAST(async_queue_then_raise),
     METH_FASTCALL | METH_ASYNC},
    {"async_return_null", _PyCFunction_CAST(async_return_null),
     METH_NOARGS | METH_ASYNC},
    {"async_return_awaitable", _PyCFunction_CAST(async_return_awaitable),
     METH_NOARGS | METH_ASYNC},
    {"async_await_double", _PyCFunction_CAST(async_await_double),
     METH_O | METH_ASYNC},
    {"async_await_keep", _PyCFunction_CAST(async_await_keep),
     METH_O | METH_ASYNC},
    {"async_return_await", _PyCFunction_CAST(async_return_await),
     METH_O | METH_ASYNC},
    {"async_return_await_chain", _PyCFunction_CAST(async_return_await_chain),
     METH_FASTCALL | METH_ASYNC},
    {"async_get_awaitable", _PyCFunction_CAST(async_get_awaitable),
     METH_NOARGS | METH_ASYNC},
    {"async_await_then_borrowed",
     _PyCFunction_CAST(async_await_then_borrowed),
     METH_FASTCALL | METH_ASYNC},
    _TESTCAPI_ASYNC_CLINIC_NOARGS_METHODDEF
    _TESTCAPI_ASYNC_CLINIC_O_METHODDEF
    _TESTCAPI_ASYNC_CLINIC_INDEX_METHODDEF
    _TESTCAPI_ASYNC_CLINIC_POSONLY_METHODDEF
    _TESTCAPI_ASYNC_CLINIC_KEYWORDS_METHODDEF
    _TESTCAPI_ASYNC_CLINIC_GROUPS_METHODDEF
    _TESTCAPI_ASYNC_CLINIC_AWAIT_METHODDEF
    {NULL},
};


/* A heap type with async methods of every kind. */

static PyObject *
sync_noargs(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyUnicode_FromString("sync");
}

/*[clinic input]
@async
_testcapi.AsyncMethods.clinic_method

    cls: defining_class
    a: object
    /
    b: object = None
[clinic start generated code]*/

static PyObject *
_testcapi_AsyncMethods_clinic_method_impl(PyObject *self,
                                          PyObject *awaitable,
                                          PyTypeObject *cls, PyObject *a,
                                          PyObject *b)
/*[clinic end generated code: output=e642ee31f9273d37 input=e9fe500f088bda02]*/
{
    REPORT("(sOOOO)", "clinic_method", self, (PyObject *)cls, a, b);
}

/*[clinic input]
@async
@classmethod
_testcapi.AsyncMethods.clinic_classmethod

    a: object
    /
[clinic start generated code]*/

static PyObject *
_testcapi_AsyncMethods_clinic_classmethod(PyTypeObject *type,
                                          PyObject *awaitable, PyObject *a)
/*[clinic end generated code: output=d65f424137aaf8ec input=fd94e198d7fca556]*/
{
    REPORT("(sOO)", "clinic_classmethod", (PyObject *)type, a);
}

/*[clinic input]
@async
@staticmethod
_testcapi.AsyncMethods.clinic_staticmethod

    a: object
    b: object
    /
[clinic start generated code]*/

static PyObject *
_testcapi_AsyncMethods_clinic_staticmethod_impl(PyObject *awaitable,
                                                PyObject *a, PyObject *b)
/*[clinic end generated code: output=ac058830dce4e45d input=37d451fd45918b9f]*/
{
    REPORT("(sOOO)", "clinic_staticmethod", Py_None, a, b);
}

static PyMethodDef async_type_methods[] = {
    {"noargs", _PyCFunction_CAST(async_noargs), METH_NOARGS | METH_ASYNC,
     PyDoc_STR("noargs($self, /)\n--\n\nAn async method.")},
    {"o", _PyCFunction_CAST(async_o), METH_O | METH_ASYNC},
    {"varargs", _PyCFunction_CAST(async_varargs), METH_VARARGS | METH_ASYNC},
    {"varargs_keywords", _PyCFunction_CAST(async_varargs_keywords),
     METH_VARARGS | METH_KEYWORDS | METH_ASYNC},
    {"fastcall", _PyCFunction_CAST(async_fastcall),
     METH_FASTCALL | METH_ASYNC},
    {"fastcall_keywords", _PyCFunction_CAST(async_fastcall_keywords),
     METH_FASTCALL | METH_KEYWORDS | METH_ASYNC},
    {"method", _PyCFunction_CAST(async_method),
     METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_ASYNC},
    {"classmethod_o", _PyCFunction_CAST(async_o),
     METH_CLASS | METH_O | METH_ASYNC},
    {"classmethod_fastcall", _PyCFunction_CAST(async_fastcall),
     METH_CLASS | METH_FASTCALL | METH_ASYNC},
    {"staticmethod_o", _PyCFunction_CAST(async_o),
     METH_STATIC | METH_O | METH_ASYNC},
    {"staticmethod_noargs", _PyCFunction_CAST(async_noargs),
     METH_STATIC | METH_NOARGS | METH_ASYNC},
    /* Beside the mp_length slot, which len() calls: synchronous for this
       type (a Python subclass's slot calls the method, as it would
       `async def __len__`). */
    {"__len__", _PyCFunction_CAST(async_noargs),
     METH_COEXIST | METH_NOARGS | METH_ASYNC},
    {"sync", sync_noargs, METH_NOARGS},
    {"raise_", _PyCFunction_CAST(async_raise), METH_O | METH_ASYNC},
    {"return_null", _PyCFunction_CAST(async_return_null),
     METH_NOARGS | METH_ASYNC},
    {"await_then_self", _PyCFunction_CAST(async_await_then_borrowed),
     METH_FASTCALL | METH_ASYNC},
    _TESTCAPI_ASYNCMETHODS_CLINIC_METHOD_METHODDEF
    _TESTCAPI_ASYNCMETHODS_CLINIC_CLASSMETHOD_METHODDEF
    _TESTCAPI_ASYNCMETHODS_CLINIC_STATICMETHOD_METHODDEF
    {NULL},
};

static Py_ssize_t
async_type_length(PyObject *self)
{
    return 42;
}

static PyType_Slot async_type_slots[] = {
    {Py_tp_methods, async_type_methods},
    {Py_mp_length, async_type_length},
    {0, 0},
};

static PyType_Spec async_type_spec = {
    .name = "_testcapi.AsyncMethods",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = async_type_slots,
};


/* A static type, whose method descriptors live as long as it does: past
   Py_FinalizeEx(), to be used again after the next Py_Initialize()
   (test_embed). */

static PyMethodDef static_async_type_methods[] = {
    {"o", _PyCFunction_CAST(async_o), METH_O | METH_ASYNC},
    {NULL},
};

static PyTypeObject StaticAsyncMethods_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_testcapi.StaticAsyncMethods",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = static_async_type_methods,
    .tp_new = PyType_GenericNew,
};


/* PyCFunction_New() and PyCMethod_New() with METH_ASYNC, and the call
   flags they must refuse. */

static PyMethodDef new_function_defs[] = {
    {"new_o", _PyCFunction_CAST(async_o), METH_O | METH_ASYNC},
    {"new_doc", _PyCFunction_CAST(async_noargs), METH_NOARGS | METH_ASYNC,
     "doc of the definition"},
    {"new_method", _PyCFunction_CAST(async_method),
     METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_ASYNC},
    {"bad_no_convention", _PyCFunction_CAST(async_o), METH_ASYNC},
    {"bad_noargs_keywords", _PyCFunction_CAST(async_noargs),
     METH_NOARGS | METH_KEYWORDS | METH_ASYNC},
    {"bad_o_fastcall", _PyCFunction_CAST(async_o),
     METH_O | METH_FASTCALL | METH_ASYNC},
    {"bad_method_varargs", _PyCFunction_CAST(async_varargs),
     METH_METHOD | METH_VARARGS | METH_ASYNC},
    {NULL},
};

/* new_async_function(name, self, cls) */
static PyObject *
new_async_function(PyObject *module, PyObject *args)
{
    const char *name;
    PyObject *self, *cls;
    if (!PyArg_ParseTuple(args, "sOO", &name, &self, &cls)) {
        return NULL;
    }
    NULLABLE(self);
    NULLABLE(cls);
    for (PyMethodDef *def = new_function_defs; def->ml_name; def++) {
        if (strcmp(def->ml_name, name) == 0) {
            return PyCMethod_New(def, self, NULL, (PyTypeObject *)cls);
        }
    }
    PyErr_SetString(PyExc_KeyError, name);
    return NULL;
}

/* new_type_with_method(name): PyType_FromSpec() with one method of
   new_function_defs, which must fail. */
static PyObject *
new_type_with_method(PyObject *module, PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL) {
        return NULL;
    }
    for (PyMethodDef *def = new_function_defs; def->ml_name; def++) {
        if (strcmp(def->ml_name, name) == 0) {
            PyMethodDef *methods = PyMem_Calloc(2, sizeof(PyMethodDef));
            if (methods == NULL) {
                return PyErr_NoMemory();
            }
            methods[0] = *def;
            PyType_Slot slots[] = {
                {Py_tp_methods, methods},
                {0, 0},
            };
            PyType_Spec spec = {
                .name = "_testcapi.AsyncBadFlags",
                .basicsize = sizeof(PyObject),
                .flags = Py_TPFLAGS_DEFAULT,
                .slots = slots,
            };
            PyObject *type = PyType_FromSpec(&spec);
            if (type != NULL) {
                /* Only bad flags are tried here; the test fails. */
                Py_DECREF(type);
                PyErr_SetString(PyExc_AssertionError,
                                "PyType_FromSpec() accepted bad flags");
            }
            PyMem_Free(methods);
            return NULL;
        }
    }
    PyErr_SetString(PyExc_KeyError, name);
    return NULL;
}

/* call_like_cython(func, *args): the call that the modules Cython
   generates make of a builtin with one argument or none
   (__Pyx_PyObject_FastCallDict() and __Pyx_PyObject_CallMethO() in
   Cython/Utility/ObjectHandling.c): ml_meth itself, if the flags of the
   function object have METH_NOARGS or METH_O. */
static PyObject *
call_like_cython(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "call_like_cython(func, *args)");
        return NULL;
    }
    PyObject *func = args[0];
    args++;
    nargs--;
    if (PyCFunction_Check(func)
        && ((nargs == 0 && (PyCFunction_GET_FLAGS(func) & METH_NOARGS))
            || (nargs == 1 && (PyCFunction_GET_FLAGS(func) & METH_O))))
    {
        PyObject *self = (PyCFunction_GET_FLAGS(func) & METH_STATIC)
                         ? NULL : PyCFunction_GET_SELF(func);
        return PyCFunction_GET_FUNCTION(func)(self,
                                              nargs ? args[0] : NULL);
    }
    return PyObject_Vectorcall(func, args, nargs, NULL);
}

/* function_flags(func): PyCFunction_GetFlags() */
static PyObject *
function_flags(PyObject *module, PyObject *func)
{
    int flags = PyCFunction_GetFlags(func);
    if (flags == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromLong(flags);
}

/* function_def_id(func): the address of the definition func shows, as
   m_ml if it is a function object, as d_method if a method descriptor */
static PyObject *
function_def_id(PyObject *module, PyObject *func)
{
    if (PyCFunction_Check(func)) {
        return PyLong_FromVoidPtr(((PyCFunctionObject *)func)->m_ml);
    }
    if (Py_IS_TYPE(func, &PyMethodDescr_Type)
        || Py_IS_TYPE(func, &PyClassMethodDescr_Type))
    {
        return PyLong_FromVoidPtr(((PyMethodDescrObject *)func)->d_method);
    }
    PyErr_SetString(PyExc_TypeError,
                    "a builtin function or method descriptor is required");
    return NULL;
}

/* descriptor_flags(descr): the flags of the definition that the method
   descriptor descr shows */
static PyObject *
descriptor_flags(PyObject *module, PyObject *descr)
{
    if (!Py_IS_TYPE(descr, &PyMethodDescr_Type)
        && !Py_IS_TYPE(descr, &PyClassMethodDescr_Type))
    {
        PyErr_SetString(PyExc_TypeError, "a method descriptor is required");
        return NULL;
    }
    return PyLong_FromLong(((PyMethodDescrObject *)descr)->d_method->ml_flags);
}

/* call_unbound_like_cython(descr, self, *args): the call that the modules
   Cython generates make of a method of a built-in type, unbound, with one
   argument or none (__Pyx_TryUnpackUnboundCMethod() and
   __Pyx__CallUnboundCMethod0/1() in Cython/Utility/ObjectHandling.c):
   ml_meth itself, with the calling convention read from the flags of the
   method descriptor: exactly METH_NOARGS or METH_O, else any with
   METH_VARARGS.  Otherwise, the descriptor is called. */
static PyObject *
call_unbound_like_cython(PyObject *module, PyObject *const *args,
                         Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 3 || !Py_IS_TYPE(args[0], &PyMethodDescr_Type)) {
        PyErr_SetString(PyExc_TypeError,
                        "call_unbound_like_cython(descr, self[, arg])");
        return NULL;
    }
    PyMethodDef *ml = ((PyMethodDescrObject *)args[0])->d_method;
    int flags = ml->ml_flags & ~(METH_CLASS | METH_STATIC | METH_COEXIST);
    PyObject *self = args[1];
    PyObject *arg = nargs == 3 ? args[2] : NULL;
    if (flags == METH_NOARGS && arg == NULL) {
        return ml->ml_meth(self, NULL);
    }
    if (flags == METH_O && arg != NULL) {
        return ml->ml_meth(self, arg);
    }
    if (flags & METH_VARARGS) {
        PyObject *tuple = arg ? PyTuple_Pack(1, arg) : PyTuple_New(0);
        if (tuple == NULL) {
            return NULL;
        }
        PyObject *res;
        if (flags & METH_KEYWORDS) {
            res = ((PyCFunctionWithKeywords)(void(*)(void))ml->ml_meth)(
                self, tuple, NULL);
        }
        else {
            res = ml->ml_meth(self, tuple);
        }
        Py_DECREF(tuple);
        return res;
    }
    return PyObject_Vectorcall(args[0], args + 1, nargs - 1, NULL);
}

/* rebind_function(func, self): a function object made from the
   definition func shows, bound to self */
static PyObject *
rebind_function(PyObject *module, PyObject *args)
{
    PyObject *func, *self;
    if (!PyArg_ParseTuple(args, "O!O", &PyCFunction_Type, &func, &self)) {
        return NULL;
    }
    return PyCMethod_New(((PyCFunctionObject *)func)->m_ml, self, NULL,
                         PyCFunction_GET_CLASS(func));
}

/* set_function_doc(func): what numpy's add_docstring() does, write the
   doc string of func through m_ml, which shows a copy if func is async.
   The string is static: add_docstring() keeps its own alive.  It holds a
   text signature for the name "new_doc" (new_function_defs). */
static PyObject *
set_function_doc(PyObject *module, PyObject *func)
{
    if (!PyCFunction_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "a builtin function is required");
        return NULL;
    }
    ((PyCFunctionObject *)func)->m_ml->ml_doc =
        "new_doc($module, /)\n--\n\ndoc set through m_ml";
    Py_RETURN_NONE;
}

/* await_now(aw): send None to aw once, which must finish it: its result
   (a new reference), or NULL with an exception set. */
static PyObject *
await_now(PyObject *aw)
{
    PyObject *result;
    if (aw == NULL) {
        return NULL;
    }
    PySendResult status = PyIter_Send(aw, Py_None, &result);
    Py_DECREF(aw);
    if (status == PYGEN_NEXT) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_AssertionError, "the await suspended");
        return NULL;
    }
    return status == PYGEN_RETURN ? result : NULL;
}

/* redefine(): make function objects from one address that holds a
   definition, then another, as code that allocates its definitions may
   reuse the memory of one it freed.  Returns, as a tuple: the doc string
   of the first function object, and of the second one, before and after
   the second definition replaced the first; whether a third function
   object made from the second definition shows what the second shows; and
   the result of awaiting the second with the argument 7.  The function
   objects are released before the definition goes. */
static PyObject *
redefine(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    PyMethodDef def = {"reused", _PyCFunction_CAST(async_noargs),
                       METH_NOARGS | METH_ASYNC, "first definition"};
    PyObject *first = NULL, *second = NULL, *third = NULL;
    PyObject *docs[3] = {NULL, NULL, NULL};
    PyObject *result = NULL, *res = NULL;
    first = PyCFunction_New(&def, NULL);
    if (first == NULL) {
        goto error;
    }
    docs[0] = PyObject_GetAttrString(first, "__doc__");
    if (docs[0] == NULL) {
        goto error;
    }
    def = (PyMethodDef){"reused", _PyCFunction_CAST(async_o),
                        METH_O | METH_ASYNC, "second definition"};
    second = PyCFunction_New(&def, NULL);
    third = PyCFunction_New(&def, NULL);
    if (second == NULL || third == NULL) {
        goto error;
    }
    docs[1] = PyObject_GetAttrString(first, "__doc__");
    docs[2] = PyObject_GetAttrString(second, "__doc__");
    if (docs[1] == NULL || docs[2] == NULL) {
        goto error;
    }
    PyObject *seven = PyLong_FromLong(7);
    if (seven == NULL) {
        goto error;
    }
    result = await_now(PyObject_CallOneArg(second, seven));
    Py_DECREF(seven);
    if (result == NULL) {
        goto error;
    }
    res = Py_BuildValue(
        "OOOOO", docs[0], docs[1], docs[2],
        ((PyCFunctionObject *)second)->m_ml
            == ((PyCFunctionObject *)third)->m_ml ? Py_True : Py_False,
        result);
error:
    Py_XDECREF(first);
    Py_XDECREF(second);
    Py_XDECREF(third);
    for (size_t i = 0; i < Py_ARRAY_LENGTH(docs); i++) {
        Py_XDECREF(docs[i]);
    }
    Py_XDECREF(result);
    return res;
}

/* redefine_freed(): definitions allocated in blocks of the sizes that the
   copy METH_ASYNC makes of one may take, each used for a function object
   and freed; then another definition's function object, whose copy may
   be made in the memory of one of them, which the table still has as a
   key.  Returns the result of awaiting that function object with 7. */
static PyObject *
redefine_freed(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    const PyMethodDef freed = {"freed", _PyCFunction_CAST(async_noargs),
                               METH_NOARGS | METH_ASYNC, NULL};
    for (size_t size = 4 * sizeof(void *); size <= 32 * sizeof(void *);
         size += sizeof(void *))
    {
        PyMethodDef *def = PyMem_RawMalloc(size);
        if (def == NULL) {
            return PyErr_NoMemory();
        }
        *def = freed;
        PyObject *func = PyCFunction_New(def, NULL);
        Py_XDECREF(func);
        PyMem_RawFree(def);
        if (func == NULL) {
            return NULL;
        }
    }
    PyMethodDef *def = PyMem_RawMalloc(sizeof(PyMethodDef));
    if (def == NULL) {
        return PyErr_NoMemory();
    }
    *def = (PyMethodDef){"other", _PyCFunction_CAST(async_o),
                         METH_O | METH_ASYNC, NULL};
    PyObject *result = NULL;
    PyObject *func = PyCFunction_New(def, NULL);
    if (func != NULL) {
        PyObject *seven = PyLong_FromLong(7);
        if (seven != NULL) {
            result = await_now(PyObject_CallOneArg(func, seven));
            Py_DECREF(seven);
        }
        Py_DECREF(func);
    }
    PyMem_RawFree(def);
    return result;
}

static PyMethodDef test_methods[] = {
    {"new_async_function", new_async_function, METH_VARARGS},
    {"new_type_with_method", new_type_with_method, METH_O},
    {"call_like_cython", _PyCFunction_CAST(call_like_cython), METH_FASTCALL},
    {"function_flags", function_flags, METH_O},
    {"function_def_id", function_def_id, METH_O},
    {"descriptor_flags", descriptor_flags, METH_O},
    {"call_unbound_like_cython", _PyCFunction_CAST(call_unbound_like_cython),
     METH_FASTCALL},
    {"rebind_function", rebind_function, METH_VARARGS},
    {"set_function_doc", set_function_doc, METH_O},
    {"redefine", redefine, METH_NOARGS},
    {"redefine_freed", redefine_freed, METH_NOARGS},
    {NULL},
};

int
_PyTestCapi_Init_AsyncMethod(PyObject *m)
{
    if (PyModule_AddFunctions(m, async_functions) < 0) {
        return -1;
    }
    if (PyModule_AddFunctions(m, test_methods) < 0) {
        return -1;
    }
    if (PyModule_AddType(m, &StaticAsyncMethods_Type) < 0) {
        return -1;
    }
    PyObject *type = PyType_FromModuleAndSpec(m, &async_type_spec, NULL);
    if (type == NULL) {
        return -1;
    }
    return PyModule_Add(m, "AsyncMethods", type);
}
