"""The benchmark's async functions in pure Python, and the inner coroutines
that every way awaits."""

import types


async def const():
    return 42


async def one(inner):
    return await inner()


async def chain(n):
    if n <= 1:
        return 42
    return await chain(n - 1)


class Answer:
    """Case (6): const() as a method, called as obj.const()."""

    async def const(self):
        return 42


async def inner_const():
    """Case (2): the inner coroutine returns at once."""
    return 42


@types.coroutine
def _yield_once():
    yield


async def inner_suspend():
    """Case (3): the inner coroutine suspends once (the send loop that
    drives the benchmark resumes it), then returns."""
    await _yield_once()
    return 42
