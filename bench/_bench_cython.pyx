# cython: language_level=3
"""The benchmark's async functions, and a class with const() as a method,
compiled by Cython 3 (``async def``)."""


async def const():
    return 42


async def one(inner):
    return await inner()


async def chain(n):
    if n <= 1:
        return 42
    return await chain(n - 1)


cdef class Answer:
    async def const(self):
        return 42
