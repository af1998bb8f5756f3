/* Native awaitable objects for C extensions (opt-in header).

   This header is not included by Python.h: an extension that vendors the
   PyAwaitable library (whose pyawaitable.h defines the same names as static
   functions) must keep compiling unchanged.  Include it after Python.h:

       #include <Python.h>
       #include <awaitableobject.h>
*/

#ifndef Py_AWAITABLEOBJECT_H
#define Py_AWAITABLEOBJECT_H

#ifndef Py_PYTHON_H
#  error "Python.h must be included before awaitableobject.h"
#endif

#ifndef Py_LIMITED_API
#  define Py_CPYTHON_AWAITABLEOBJECT_H
#  include "cpython/awaitableobject.h"
#  undef Py_CPYTHON_AWAITABLEOBJECT_H
#endif

#endif /* !Py_AWAITABLEOBJECT_H */
