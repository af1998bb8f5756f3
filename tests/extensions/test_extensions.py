"""Run by scripts/test with a venv of the patched interpreter, in the
directory where setup.py built the extensions."""

import asyncio
import types
import unittest

import compat_native
import compat_vendored


@types.coroutine
def suspend():
    yield


async def value(v, suspend_first=False):
    if suspend_first:
        await suspend()
    return v


async def fail():
    raise ValueError("boom")


def run(awaitable):
    async def main():
        return await awaitable
    coro = main()
    try:
        while True:
            coro.send(None)
    except StopIteration as exc:
        return exc.value


class CompatTests(unittest.TestCase):
    """The vendored library and the native API, from the same source."""

    modules = (compat_vendored, compat_native)

    def test_native_is_builtin_type(self):
        aw = compat_native.handled(value(1))
        self.assertIs(type(aw), types.AwaitableType)
        run(aw)
        aw = compat_vendored.handled(value(1))
        self.assertIsNot(type(aw), types.AwaitableType)
        run(aw)

    def test_same_results(self):
        for mod in self.modules:
            with self.subTest(mod=mod.__name__):
                self.assertEqual(run(mod.add_then_double(value(20), 1)), 42)
                self.assertEqual(run(mod.add_then_double(
                    value(20, suspend_first=True), 1)), 42)
                self.assertEqual(run(mod.handled(fail())), "handled")
                self.assertEqual(run(mod.both(value(1), value(2))), 2)

    def test_asyncio(self):
        async def main(mod):
            return await asyncio.gather(
                *(mod.add_then_double(asyncio.sleep(0, i), 0)
                  for i in range(100)))
        for mod in self.modules:
            with self.subTest(mod=mod.__name__):
                self.assertEqual(asyncio.run(main(mod)),
                                 [2 * i for i in range(100)])

    def test_error_propagates(self):
        for mod in self.modules:
            with self.subTest(mod=mod.__name__):
                with self.assertRaisesRegex(ValueError, "boom"):
                    run(mod.add_then_double(fail(), 1))


try:
    import awaitable_example
except ImportError:
    awaitable_example = None


@unittest.skipIf(awaitable_example is None,
                 "the documentation's example was not built")
class DocExampleTests(unittest.TestCase):
    """Doc/includes/awaitable_example.c, the walk-through's extension."""

    def test_functions_are_coroutine_functions(self):
        import inspect
        names = [n for n in dir(awaitable_example) if not n.startswith("_")]
        self.assertTrue(names)
        async_names = [n for n in names if inspect.iscoroutinefunction(
            getattr(awaitable_example, n))]
        self.assertTrue(async_names, names)

    def test_walk_through(self):
        # What the documentation shows.
        import asyncio

        async def value(x):
            await asyncio.sleep(0)
            return x

        for func in awaitable_example.add, awaitable_example.add_async:
            with self.subTest(func=func.__name__):
                self.assertEqual(asyncio.run(func(value(1), value(2))), 3)
        with self.assertRaises(TypeError):
            awaitable_example.add(1)
        aw = awaitable_example.add_async(1)
        with self.assertRaises(TypeError):
            asyncio.run(aw)

    def test_error_path_does_not_warn(self):
        # add() releases its awaitable with the exception set when it
        # cannot queue an await: no "never awaited" warning.
        import gc
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with self.assertRaises(TypeError):
                awaitable_example.add(1, 2)
            gc.collect()
        self.assertEqual(w, [])


if __name__ == "__main__":
    unittest.main()
