"""What this machine can do at best: measured matmul peak and each configuration's FLOP count."""

import time

import numpy as np


def matmul_gflops(dtype, n=2000, repeats=3):
    """Best-of GFLOP/s of an n x n matrix product through numpy's BLAS (as configured in this process)."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n)).astype(dtype)
    b = rng.random((n, n)).astype(dtype)
    a @ b
    best = min(_time(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _time(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def flops_per_epoch(sizes, n):
    """Multiply-adds x 2 of one epoch: forward, weight gradients, and deltas sent back to hidden layers."""
    pairs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * n * (2 * sum(pairs) + sum(pairs[1:]))
