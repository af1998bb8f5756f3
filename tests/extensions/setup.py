"""Build the test extensions against the interpreter running this script."""

import os
from pathlib import Path

import pyawaitable
from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
DOC_EXAMPLE = os.environ.get("DOC_EXAMPLE")

extensions = [
    # NDEBUG: pyawaitable.h 2.0.1 asserts that the type of the awaitable's
    # type is the awaitable type (PyAwaitable_AddAwait), which fails in every
    # build with assertions, as extensions for a debug interpreter are.
    Extension("compat_vendored", [str(HERE / "compat.c")],
              include_dirs=[pyawaitable.include()],
              define_macros=[("NDEBUG", "1")]),
    Extension("compat_native", [str(HERE / "compat.c")],
              define_macros=[("USE_NATIVE_AWAITABLE", "1")]),
]
if DOC_EXAMPLE:
    extensions.append(Extension("awaitable_example", [DOC_EXAMPLE]))

setup(name="series-test-extensions", version="0", ext_modules=extensions,
      script_args=["build_ext", "--inplace", "--build-temp",
                   str(HERE / "build-temp")])
