# cython: language_level=3
"""The benchmark's async functions compiled by Cython 3 (``async def``)."""


async def const():
    return 42


async def one(inner):
    return await inner()


async def chain(n):
    if n <= 1:
        return 42
    return await chain(n - 1)
