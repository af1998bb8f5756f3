"""The benchmark's worker: one case per invocation, timed by pyperf.

scripts/bench runs it with the benchmark venv's python, the extensions'
directory on PYTHONPATH:

    python worker.py --case 'const/METH_ASYNC' -o out.json [pyperf options]
    python worker.py --memory METH_ASYNC          (prints bytes per awaitable)
    python worker.py --run 'const/METH_ASYNC' N   (N outer loops, untimed:
                                                   for instruction counts)
    python worker.py --list                       (prints the case names)

A case is SCENARIO/WAY.  Before timing, each case checks once that the
await gives the right value (42, or 10,000 of them for asyncio) and exits
non-zero if not.  Awaits are made in an `async def` loop driven by
send(None), so the times are per await (pyperf's inner loops), as in the
anchors of DESIGN.md.
"""

import asyncio
import sys
import time
import types

import bench_python

ANSWER = 42
GATHER_N = 10_000
CHAIN_DEPTH = 10
MEMORY_N = 10_000

SCENARIOS = {
    "const": "await a function that returns a constant",
    "inner": "await a function that awaits one inner coroutine",
    "suspend": "same, the inner coroutine suspends once",
    "chain": f"a chain of {CHAIN_DEPTH} nested async calls (per chain)",
    "method": "await a method that returns a constant, as obj.const()",
    "gather": f"asyncio.gather of {GATHER_N:,} calls (per call)",
    "taskgroup": f"asyncio.TaskGroup of {GATHER_N:,} calls (per call)",
}
WAYS = ["METH_ASYNC", "awaitable API", "PyAwaitable 2.0.1", "Cython",
        "async def"]
# Cases of --regression, which must also run on the unpatched interpreter.
REGRESSION = ["sync C call", "async def", "done future", "C calls Python",
              "C makes a coroutine", "coroutine tree", "generator tree",
              "asyncio tree"]


def functions(way):
    """(const, one, chain, Answer) of a way: Answer is a class whose
    const() method is const() again."""
    if way == "METH_ASYNC":
        import _bench_native as m
        return m.async_const, m.async_one, m.async_chain, m.AsyncAnswer
    if way == "awaitable API":
        import _bench_native as m
        return m.api_const, m.api_one, m.api_chain, m.ApiAnswer
    if way == "PyAwaitable 2.0.1":
        import _bench_pyawaitable as m
        return m.api_const, m.api_one, m.api_chain, m.ApiAnswer
    if way == "Cython":
        import _bench_cython as m
        return m.const, m.one, m.chain, m.Answer
    if way == "async def":
        m = bench_python
        return m.const, m.one, m.chain, m.Answer
    raise SystemExit(f"worker: unknown way {way!r}")


def all_cases():
    cases = ["sync C call"]
    for scenario in SCENARIOS:
        cases += [f"{scenario}/{way}" for way in WAYS]
    cases += ["done future", "empty loop", "C returns a coroutine",
              "C returns a suspending coroutine"]
    return cases


def drive(coro):
    """Run a coroutine to its end with send(None); return its value."""
    send = coro.send
    try:
        while True:
            send(None)
    except StopIteration as exc:
        return exc.value


# ---------------------------------------------------------------------------
# Time functions: time_func(loops) -> seconds for `loops` outer iterations


def driven(run):
    """(check, time_func) of the coroutine function run(n), which makes n
    awaits or calls: check drives run(1), time_func times run(loops)."""
    def time_func(loops):
        coro = run(loops)
        t0 = time.perf_counter()
        drive(coro)
        return time.perf_counter() - t0

    return (lambda: drive(run(1))), time_func


def make_await_loop(call, arg=None):
    """Loop awaiting call() or call(arg); return (check, time_func)."""
    if arg is None:
        async def run(n):
            for _ in range(n):
                result = await call()
            return result
    else:
        async def run(n):
            for _ in range(n):
                result = await call(arg)
            return result

    return driven(run)


def make_method_loop(obj):
    """Loop awaiting obj.const(), looked up as a method at each call (the
    interpreter's method call, not a call of a bound method)."""
    async def run(n):
        for _ in range(n):
            result = await obj.const()
        return result

    return driven(run)


def make_sync_loop(call):
    async def run(n):
        for _ in range(n):
            result = call()
        return result

    return driven(run)


def make_empty_loop():
    """The loop of make_sync_loop() without the call: what every case
    spends besides its call or await."""
    answer = ANSWER

    async def run(n):
        for _ in range(n):
            result = answer
        return result

    return driven(run)


def make_done_future_loop():
    loop = asyncio.new_event_loop()
    fut = loop.create_future()
    fut.set_result(ANSWER)

    async def run(n):
        for _ in range(n):
            result = await fut
        return result

    return driven(run)


def make_asyncio(call, taskgroup):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if taskgroup:
        async def main():
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(call()) for _ in range(GATHER_N)]
            return [t.result() for t in tasks]
    else:
        async def main():
            return await asyncio.gather(*[call() for _ in range(GATHER_N)])

    def check():
        results = loop.run_until_complete(main())
        if len(results) != GATHER_N or any(r != ANSWER for r in results):
            return results[:3]
        return ANSWER

    def time_func(loops):
        run = loop.run_until_complete
        t0 = time.perf_counter()
        for _ in range(loops):
            run(main())
        return time.perf_counter() - t0

    return check, time_func


def case_setup(case):
    """Return (check, time_func, inner_loops) of a case."""
    if case == "sync C call":
        import _bench_sync
        return (*make_sync_loop(_bench_sync.sync_const), 1)
    if case == "async def":          # the regression check's name for it
        case = "const/async def"
    if case == "done future":
        return (*make_done_future_loop(), 1)
    if case == "empty loop":
        return (*make_empty_loop(), 1)
    if case in ("C returns a coroutine", "C returns a suspending coroutine"):
        # The least a C function awaiting one coroutine can cost: a plain
        # C function that calls the coroutine function and returns the
        # coroutine, which the loop awaits inline.
        import operator
        inner = (bench_python.inner_const if case == "C returns a coroutine"
                 else bench_python.inner_suspend)
        return (*make_await_loop(operator.call, inner), 1)
    if case == "coroutine tree":
        # pyperformance's coroutines benchmark, smaller: fibonacci(15) of
        # `async def` awaiting `async def`, driven by send(None).
        async def fibonacci(n):
            if n <= 1:
                return n
            return await fibonacci(n - 1) + await fibonacci(n - 2)

        def fib():
            drive(fibonacci(15))
            return ANSWER
        return (*make_sync_loop(fib), 1)
    if case == "generator tree":
        # pyperformance's generators benchmark, smaller: a tree of 1,023
        # nodes walked by recursive `yield from`.
        def tree(n):
            if n:
                yield from tree(n - 1)
                yield n
                yield from tree(n - 1)

        def walk():
            for _ in tree(10):
                pass
            return ANSWER
        return (*make_sync_loop(walk), 1)
    if case == "asyncio tree":
        # pyperformance's async_tree (no I/O), smaller: asyncio.gather() of
        # 6 branches, 3 levels deep (259 tasks), in an event loop of its
        # own each time.
        async def recurse(level):
            if level:
                await asyncio.gather(*[recurse(level - 1) for _ in range(6)])

        def tree():
            asyncio.run(recurse(3))
            return ANSWER
        return (*make_sync_loop(tree), 1)
    if case == "C calls Python":
        # A Python function called from C (_PyEval_Vector()).
        import operator
        call = operator.call

        def py_const():
            return ANSWER
        return (*make_sync_loop(lambda: call(py_const)), 1)
    if case == "C makes a coroutine":
        # A coroutine function called from C, the coroutine closed unrun.
        import operator
        call, const = operator.call, bench_python.const

        def make():
            call(const).close()
            return ANSWER
        return (*make_sync_loop(make), 1)
    scenario, _, way = case.partition("/")
    if scenario not in SCENARIOS or way not in WAYS:
        raise SystemExit(f"worker: unknown case {case!r} (see --list)")
    const, one, chain, answer = functions(way)
    if scenario == "method":
        return (*make_method_loop(answer()), 1)
    if scenario == "const":
        return (*make_await_loop(const), 1)
    if scenario == "inner":
        return (*make_await_loop(one, bench_python.inner_const), 1)
    if scenario == "suspend":
        return (*make_await_loop(one, bench_python.inner_suspend), 1)
    if scenario == "chain":
        return (*make_await_loop(chain, CHAIN_DEPTH), 1)
    return (*make_asyncio(const, scenario == "taskgroup"), GATHER_N)


# ---------------------------------------------------------------------------
# Memory per pending awaitable


def memory(way):
    """Bytes per awaitable returned by const() and never awaited."""
    import gc
    import tracemalloc
    import warnings
    const = functions(way)[0]
    objs = [None] * MEMORY_N
    first = const()                  # warm up caches and free lists
    close = getattr(first, "close", None)
    if close is not None:
        close()
    del first
    gc.collect()
    gc.disable()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(MEMORY_N):
        objs[i] = const()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    gc.enable()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for obj in objs:
            close = getattr(obj, "close", None)
            if close is not None:
                close()
        objs.clear()
    return (after - before) / MEMORY_N


# ---------------------------------------------------------------------------


def main():
    if "--list" in sys.argv[1:]:
        print("\n".join(all_cases()))
        return
    if "--run" in sys.argv[1:]:
        # For scripts/bench --callgrind: check the case, then run its
        # loop once with N outer iterations, nothing else.
        at = sys.argv.index("--run")
        case, loops = sys.argv[at + 1], int(sys.argv[at + 2])
        check, time_func, _ = case_setup(case)
        got = check()
        if got != ANSWER:
            raise SystemExit(f"worker: case {case!r} gave {got!r}, "
                             f"expected {ANSWER!r}")
        time_func(loops)
        return
    if "--memory" in sys.argv[1:]:
        way = sys.argv[sys.argv.index("--memory") + 1]
        print(f"{memory(way):.1f}")
        return

    import pyperf

    def add_cmdline_args(cmd, args):
        cmd.extend(["--case", args.case])

    runner = pyperf.Runner(add_cmdline_args=add_cmdline_args)
    runner.argparser.add_argument("--case", required=True)
    args = runner.parse_args()
    check, time_func, inner_loops = case_setup(args.case)
    got = check()
    if got != ANSWER:
        raise SystemExit(f"worker: case {args.case!r} gave {got!r}, "
                         f"expected {ANSWER!r}")
    runner.metadata["bench_case"] = args.case
    runner.bench_time_func(args.case, time_func, inner_loops=inner_loops)


if __name__ == "__main__":
    main()
