"""Build the benchmark's extensions against the interpreter running this.

    python setup.py              all of them (the patched interpreter)
    BENCH_ONLY_SYNC=1 python setup.py   only _bench_sync (any CPython)

scripts/bench runs this with the output directory as the working directory;
the sources stay in bench/.
"""

import os
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
OUT = Path.cwd()

extensions = [Extension("_bench_sync", [str(HERE / "_bench_sync.c")])]
if not os.environ.get("BENCH_ONLY_SYNC"):
    import pyawaitable
    from Cython.Build import cythonize

    extensions += [
        Extension("_bench_native", [str(HERE / "_bench_async.c")]),
        # NDEBUG: pyawaitable.h 2.0.1 has assertions that fail in builds
        # with assertions enabled (the library's own advice).
        Extension("_bench_pyawaitable", [str(HERE / "_bench_async.c")],
                  include_dirs=[pyawaitable.include()],
                  define_macros=[("BENCH_VENDORED", "1"), ("NDEBUG", "1")]),
    ]
    extensions += cythonize(
        [Extension("_bench_cython", [str(HERE / "_bench_cython.pyx")])],
        build_dir=str(OUT / "cython"), quiet=True,
        compiler_directives={"language_level": 3})

setup(name="series-bench-extensions", version="0", ext_modules=extensions,
      script_args=["build_ext", "--inplace", "--build-temp",
                   str(OUT / "build-temp")])
