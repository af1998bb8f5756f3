/*[clinic input]
preserve
[clinic start generated code]*/

#if defined(Py_BUILD_CORE) && !defined(Py_BUILD_CORE_MODULE)
#  include "pycore_gc.h"          // PyGC_Head
#  include "pycore_runtime.h"     // _Py_ID()
#endif
#include "pycore_abstract.h"      // _PyNumber_Index()
#include "pycore_modsupport.h"    // _PyArg_CheckPositional()

PyDoc_STRVAR(_testcapi_async_clinic_noargs__doc__,
"async_clinic_noargs($module, /)\n"
"--\n"
"\n"
"An async function without arguments.");

#define _TESTCAPI_ASYNC_CLINIC_NOARGS_METHODDEF    \
    {"async_clinic_noargs", _PyCFunction_CAST(_testcapi_async_clinic_noargs), METH_NOARGS|METH_ASYNC, _testcapi_async_clinic_noargs__doc__},

static PyObject *
_testcapi_async_clinic_noargs_impl(PyObject *module, PyObject *awaitable);

static PyObject *
_testcapi_async_clinic_noargs(PyObject *module, PyObject *awaitable)
{
    return _testcapi_async_clinic_noargs_impl(module, awaitable);
}

PyDoc_STRVAR(_testcapi_async_clinic_o__doc__,
"async_clinic_o($module, arg, /)\n"
"--\n"
"\n");

#define _TESTCAPI_ASYNC_CLINIC_O_METHODDEF    \
    {"async_clinic_o", _PyCFunction_CAST(_testcapi_async_clinic_o), METH_O|METH_ASYNC, _testcapi_async_clinic_o__doc__},

PyDoc_STRVAR(_testcapi_async_clinic_index__doc__,
"async_clinic_index($module, n, /)\n"
"--\n"
"\n");

#define _TESTCAPI_ASYNC_CLINIC_INDEX_METHODDEF    \
    {"async_clinic_index", _PyCFunction_CAST(_testcapi_async_clinic_index), METH_O|METH_ASYNC, _testcapi_async_clinic_index__doc__},

static PyObject *
_testcapi_async_clinic_index_impl(PyObject *module, PyObject *awaitable,
                                  Py_ssize_t n);

static PyObject *
_testcapi_async_clinic_index(PyObject *module, PyObject *awaitable, PyObject *arg)
{
    PyObject *return_value = NULL;
    Py_ssize_t n;

    {
        Py_ssize_t ival = -1;
        PyObject *iobj = _PyNumber_Index(arg);
        if (iobj != NULL) {
            ival = PyLong_AsSsize_t(iobj);
            Py_DECREF(iobj);
        }
        if (ival == -1 && PyErr_Occurred()) {
            goto exit;
        }
        n = ival;
    }
    return_value = _testcapi_async_clinic_index_impl(module, awaitable, n);

exit:
    return return_value;
}

PyDoc_STRVAR(_testcapi_async_clinic_posonly__doc__,
"async_clinic_posonly($module, a, b=None, /)\n"
"--\n"
"\n");

#define _TESTCAPI_ASYNC_CLINIC_POSONLY_METHODDEF    \
    {"async_clinic_posonly", _PyCFunction_CAST(_testcapi_async_clinic_posonly), METH_FASTCALL|METH_ASYNC, _testcapi_async_clinic_posonly__doc__},

static PyObject *
_testcapi_async_clinic_posonly_impl(PyObject *module, PyObject *awaitable,
                                    PyObject *a, PyObject *b);

static PyObject *
_testcapi_async_clinic_posonly(PyObject *module, PyObject *awaitable, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *return_value = NULL;
    PyObject *a;
    PyObject *b = Py_None;

    if (!_PyArg_CheckPositional("async_clinic_posonly", nargs, 1, 2)) {
        goto exit;
    }
    a = args[0];
    if (nargs < 2) {
        goto skip_optional;
    }
    b = args[1];
skip_optional:
    return_value = _testcapi_async_clinic_posonly_impl(module, awaitable, a, b);

exit:
    return return_value;
}

PyDoc_STRVAR(_testcapi_async_clinic_keywords__doc__,
"async_clinic_keywords($module, /, a, b=None, *, c=0)\n"
"--\n"
"\n");

#define _TESTCAPI_ASYNC_CLINIC_KEYWORDS_METHODDEF    \
    {"async_clinic_keywords", _PyCFunction_CAST(_testcapi_async_clinic_keywords), METH_FASTCALL|METH_KEYWORDS|METH_ASYNC, _testcapi_async_clinic_keywords__doc__},

static PyObject *
_testcapi_async_clinic_keywords_impl(PyObject *module, PyObject *awaitable,
                                     PyObject *a, PyObject *b, int c);

static PyObject *
_testcapi_async_clinic_keywords(PyObject *module, PyObject *awaitable, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *return_value = NULL;
    #if defined(Py_BUILD_CORE) && !defined(Py_BUILD_CORE_MODULE)

    #define NUM_KEYWORDS 3
    static struct {
        PyGC_Head _this_is_not_used;
        PyObject_VAR_HEAD
        PyObject *ob_item[NUM_KEYWORDS];
    } _kwtuple = {
        .ob_base = PyVarObject_HEAD_INIT(&PyTuple_Type, NUM_KEYWORDS)
        .ob_item = { _Py_LATIN1_CHR('a'), _Py_LATIN1_CHR('b'), _Py_LATIN1_CHR('c'), },
    };
    #undef NUM_KEYWORDS
    #define KWTUPLE (&_kwtuple.ob_base.ob_base)

    #else  // !Py_BUILD_CORE
    #  define KWTUPLE NULL
    #endif  // !Py_BUILD_CORE

    static const char * const _keywords[] = {"a", "b", "c", NULL};
    static _PyArg_Parser _parser = {
        .keywords = _keywords,
        .fname = "async_clinic_keywords",
        .kwtuple = KWTUPLE,
    };
    #undef KWTUPLE
    PyObject *argsbuf[3];
    Py_ssize_t noptargs = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0) - 1;
    PyObject *a;
    PyObject *b = Py_None;
    int c = 0;

    args = _PyArg_UnpackKeywords(args, nargs, NULL, kwnames, &_parser, 1, 2, 0, argsbuf);
    if (!args) {
        goto exit;
    }
    a = args[0];
    if (!noptargs) {
        goto skip_optional_pos;
    }
    if (args[1]) {
        b = args[1];
        if (!--noptargs) {
            goto skip_optional_pos;
        }
    }
skip_optional_pos:
    if (!noptargs) {
        goto skip_optional_kwonly;
    }
    c = PyLong_AsInt(args[2]);
    if (c == -1 && PyErr_Occurred()) {
        goto exit;
    }
skip_optional_kwonly:
    return_value = _testcapi_async_clinic_keywords_impl(module, awaitable, a, b, c);

exit:
    return return_value;
}

PyDoc_STRVAR(_testcapi_async_clinic_groups__doc__,
"async_clinic_groups(a, [b, c])");

#define _TESTCAPI_ASYNC_CLINIC_GROUPS_METHODDEF    \
    {"async_clinic_groups", _PyCFunction_CAST(_testcapi_async_clinic_groups), METH_VARARGS|METH_ASYNC, _testcapi_async_clinic_groups__doc__},

static PyObject *
_testcapi_async_clinic_groups_impl(PyObject *module, PyObject *awaitable,
                                   PyObject *a, int group_right_1,
                                   PyObject *b, PyObject *c);

static PyObject *
_testcapi_async_clinic_groups(PyObject *module, PyObject *awaitable, PyObject *args)
{
    PyObject *return_value = NULL;
    PyObject *a;
    int group_right_1 = 0;
    PyObject *b = NULL;
    PyObject *c = NULL;

    switch (PyTuple_GET_SIZE(args)) {
        case 1:
            if (!PyArg_ParseTuple(args, "O:async_clinic_groups", &a)) {
                goto exit;
            }
            break;
        case 3:
            if (!PyArg_ParseTuple(args, "OOO:async_clinic_groups", &a, &b, &c)) {
                goto exit;
            }
            group_right_1 = 1;
            break;
        default:
            PyErr_SetString(PyExc_TypeError, "_testcapi.async_clinic_groups requires 1 to 3 arguments");
            goto exit;
    }
    return_value = _testcapi_async_clinic_groups_impl(module, awaitable, a, group_right_1, b, c);

exit:
    return return_value;
}

PyDoc_STRVAR(_testcapi_async_clinic_await__doc__,
"async_clinic_await($module, coro, /, *, double=False)\n"
"--\n"
"\n"
"Await coro and return its result, doubled if double is true.");

#define _TESTCAPI_ASYNC_CLINIC_AWAIT_METHODDEF    \
    {"async_clinic_await", _PyCFunction_CAST(_testcapi_async_clinic_await), METH_FASTCALL|METH_KEYWORDS|METH_ASYNC, _testcapi_async_clinic_await__doc__},

static PyObject *
_testcapi_async_clinic_await_impl(PyObject *module, PyObject *awaitable,
                                  PyObject *coro, int double_value);

static PyObject *
_testcapi_async_clinic_await(PyObject *module, PyObject *awaitable, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *return_value = NULL;
    #if defined(Py_BUILD_CORE) && !defined(Py_BUILD_CORE_MODULE)

    #define NUM_KEYWORDS 1
    static struct {
        PyGC_Head _this_is_not_used;
        PyObject_VAR_HEAD
        PyObject *ob_item[NUM_KEYWORDS];
    } _kwtuple = {
        .ob_base = PyVarObject_HEAD_INIT(&PyTuple_Type, NUM_KEYWORDS)
        .ob_item = { &_Py_ID(double), },
    };
    #undef NUM_KEYWORDS
    #define KWTUPLE (&_kwtuple.ob_base.ob_base)

    #else  // !Py_BUILD_CORE
    #  define KWTUPLE NULL
    #endif  // !Py_BUILD_CORE

    static const char * const _keywords[] = {"", "double", NULL};
    static _PyArg_Parser _parser = {
        .keywords = _keywords,
        .fname = "async_clinic_await",
        .kwtuple = KWTUPLE,
    };
    #undef KWTUPLE
    PyObject *argsbuf[2];
    Py_ssize_t noptargs = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0) - 1;
    PyObject *coro;
    int double_value = 0;

    args = _PyArg_UnpackKeywords(args, nargs, NULL, kwnames, &_parser, 1, 1, 0, argsbuf);
    if (!args) {
        goto exit;
    }
    coro = args[0];
    if (!noptargs) {
        goto skip_optional_kwonly;
    }
    double_value = PyObject_IsTrue(args[1]);
    if (double_value < 0) {
        goto exit;
    }
skip_optional_kwonly:
    return_value = _testcapi_async_clinic_await_impl(module, awaitable, coro, double_value);

exit:
    return return_value;
}

PyDoc_STRVAR(_testcapi_AsyncMethods_clinic_method__doc__,
"clinic_method($self, a, /, b=None)\n"
"--\n"
"\n");

#define _TESTCAPI_ASYNCMETHODS_CLINIC_METHOD_METHODDEF    \
    {"clinic_method", _PyCFunction_CAST(_testcapi_AsyncMethods_clinic_method), METH_METHOD|METH_FASTCALL|METH_KEYWORDS|METH_ASYNC, _testcapi_AsyncMethods_clinic_method__doc__},

static PyObject *
_testcapi_AsyncMethods_clinic_method_impl(PyObject *self,
                                          PyObject *awaitable,
                                          PyTypeObject *cls, PyObject *a,
                                          PyObject *b);

static PyObject *
_testcapi_AsyncMethods_clinic_method(PyObject *self, PyObject *awaitable, PyTypeObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *return_value = NULL;
    #if defined(Py_BUILD_CORE) && !defined(Py_BUILD_CORE_MODULE)

    #define NUM_KEYWORDS 1
    static struct {
        PyGC_Head _this_is_not_used;
        PyObject_VAR_HEAD
        PyObject *ob_item[NUM_KEYWORDS];
    } _kwtuple = {
        .ob_base = PyVarObject_HEAD_INIT(&PyTuple_Type, NUM_KEYWORDS)
        .ob_item = { _Py_LATIN1_CHR('b'), },
    };
    #undef NUM_KEYWORDS
    #define KWTUPLE (&_kwtuple.ob_base.ob_base)

    #else  // !Py_BUILD_CORE
    #  define KWTUPLE NULL
    #endif  // !Py_BUILD_CORE

    static const char * const _keywords[] = {"", "b", NULL};
    static _PyArg_Parser _parser = {
        .keywords = _keywords,
        .fname = "clinic_method",
        .kwtuple = KWTUPLE,
    };
    #undef KWTUPLE
    PyObject *argsbuf[2];
    Py_ssize_t noptargs = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0) - 1;
    PyObject *a;
    PyObject *b = Py_None;

    args = _PyArg_UnpackKeywords(args, nargs, NULL, kwnames, &_parser, 1, 2, 0, argsbuf);
    if (!args) {
        goto exit;
    }
    a = args[0];
    if (!noptargs) {
        goto skip_optional_pos;
    }
    b = args[1];
skip_optional_pos:
    return_value = _testcapi_AsyncMethods_clinic_method_impl(self, awaitable, cls, a, b);

exit:
    return return_value;
}

PyDoc_STRVAR(_testcapi_AsyncMethods_clinic_classmethod__doc__,
"clinic_classmethod($type, a, /)\n"
"--\n"
"\n");

#define _TESTCAPI_ASYNCMETHODS_CLINIC_CLASSMETHOD_METHODDEF    \
    {"clinic_classmethod", _PyCFunction_CAST(_testcapi_AsyncMethods_clinic_classmethod), METH_O|METH_CLASS|METH_ASYNC, _testcapi_AsyncMethods_clinic_classmethod__doc__},

PyDoc_STRVAR(_testcapi_AsyncMethods_clinic_staticmethod__doc__,
"clinic_staticmethod(a, b, /)\n"
"--\n"
"\n");

#define _TESTCAPI_ASYNCMETHODS_CLINIC_STATICMETHOD_METHODDEF    \
    {"clinic_staticmethod", _PyCFunction_CAST(_testcapi_AsyncMethods_clinic_staticmethod), METH_FASTCALL|METH_STATIC|METH_ASYNC, _testcapi_AsyncMethods_clinic_staticmethod__doc__},

static PyObject *
_testcapi_AsyncMethods_clinic_staticmethod_impl(PyObject *awaitable,
                                                PyObject *a, PyObject *b);

static PyObject *
_testcapi_AsyncMethods_clinic_staticmethod(void *null, PyObject *awaitable, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *return_value = NULL;
    PyObject *a;
    PyObject *b;

    if (!_PyArg_CheckPositional("clinic_staticmethod", nargs, 2, 2)) {
        goto exit;
    }
    a = args[0];
    b = args[1];
    return_value = _testcapi_AsyncMethods_clinic_staticmethod_impl(awaitable, a, b);

exit:
    return return_value;
}
/*[clinic end generated code: output=b9166c38bab7e0c7 input=a9049054013a1b77]*/
