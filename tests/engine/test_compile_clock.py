"""The compile clock counts numba's compiling (once per compile, nested ones inside) and nothing else."""

import time

import numba

from nnfast.engine.compile_clock import CompileClock


def test_it_counts_a_compile_once_and_a_compiled_call_not_at_all():
    @numba.njit
    def inner(x):
        return x + 1

    @numba.njit
    def outer(x):
        return inner(x) * 2  # compiles inner too: one outermost compile

    with CompileClock() as clock:
        start = time.perf_counter()
        assert outer(1) == 4
        elapsed = time.perf_counter() - start
        compiled = clock.take()
        assert 0 < compiled <= elapsed
        assert outer(2) == 6
        assert clock.take() == 0.0
    assert outer(3) == 8  # the clock is gone: nothing is counted after the block
    assert clock.total == compiled
