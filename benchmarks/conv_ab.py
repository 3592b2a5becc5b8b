"""A/B two versions of the kernel folder on chapter 6's conv layers: ``conv_stack.forward_part`` and
``backward_part`` on the book's two conv layers (20 5x5 filters on 28x28, 40 5x5x20 on 12x12, 2x2 pooling),
one thread, in one process, the versions alternating; CPU time (``time.process_time``) per call.

    mkdir -p /tmp/old && git archive main nnfast/engine/kernels | tar -x -C /tmp/old
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.conv_ab /tmp/old/nnfast/engine/kernels nnfast/engine/kernels

Prints, per dtype and activation, the median microseconds of each version's forward and backward and the
median of the per-round ratios new/old. Inputs are MNIST-like (a blank border), weights as the book draws them.
``--layer1``: the first layer alone (20 5x5 filters on 28x28: ``kernels.conv_first``'s layer).
``--compile``: instead, the CPU seconds of each version's first forward_part and backward_part call (float32,
sigmoid), each in a fresh process with an empty numba cache, the versions alternating.
"""

import argparse
import importlib
import os
import statistics
import tempfile
import time

os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="nnfast-conv-ab-")  # never the package's own cache

import numpy as np

from .kernel_ab import _load

SIGMOID, RELU = 2, 1


def _book_case(dtype, act, m, rng, layers=2):
    """The arguments of forward_part and backward_part for the book's two conv layers (or the first ``layers``)
    on ``m`` images."""
    geometry = np.array([[1, 28, 28, 20, 5, 5, 2, 2, act], [20, 12, 12, 40, 5, 5, 2, 2, act]], np.int64)
    x = np.zeros((m, 28, 28), dtype)
    x[:, 4:24, 4:24] = rng.random((m, 20, 20))  # MNIST's digits sit in the middle 20x20
    x = x.reshape(m, -1)
    Ks = (rng.normal(0, np.sqrt(4 / 500), (20, 25)).astype(dtype), rng.normal(0, np.sqrt(4 / 1000), (40, 500)).astype(dtype))
    bs = (rng.standard_normal(20).astype(dtype), rng.standard_normal(40).astype(dtype))
    cols = (np.empty((1, m * 576, 25), dtype), np.empty((1, m * 64, 500), dtype))
    Z = (np.empty((1, m * 576, 20), dtype), np.empty((1, m * 64, 40), dtype))
    out = (np.empty((1, m, 2880), dtype), np.empty((1, m, 640), dtype))
    arg = (np.empty((1, m, 2880), np.int64), np.empty((1, m, 640), np.int64))
    dX = (np.empty((1, m, 784), dtype), np.empty((1, m, 2880), dtype))
    dKs = (np.empty((1, 20, 25), dtype), np.empty((1, 40, 500), dtype))
    dbs = (np.empty((1, 20), dtype), np.empty((1, 40), dtype))
    win_g = (np.empty((1, 20, m * 144), dtype), np.empty((1, 40, m * 16), dtype))
    win_rows = (np.empty((1, 20, m * 144), np.int64), np.empty((1, 40, m * 16), np.int64))
    d = (rng.standard_normal((m, 640 if layers == 2 else 2880)) * 0.01).astype(dtype)
    if layers == 1:
        geometry, Ks, bs, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows = (
            v[:1] for v in (geometry, Ks, bs, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows))
    forward = (x, geometry, Ks, bs, cols, Z, out, arg, 0)
    backward = (d, geometry, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows, 0)
    return forward, backward, dKs


def _cpu_us(call, calls):
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls * 1e6


def _first_call(folder):
    """Print the CPU seconds of the first forward_part and backward_part call (compiling) of ``folder``."""
    _load(folder, "kernels_first")
    stack = importlib.import_module("kernels_first.conv_stack")
    fwd, bwd, _ = _book_case(np.float32, SIGMOID, 10, np.random.default_rng(0))
    t0 = time.process_time()
    stack.forward_part(*fwd)
    t1 = time.process_time()
    stack.backward_part(*bwd)
    print(t1 - t0, time.process_time() - t1)


def _compile_rounds(old, new, rounds):
    import subprocess
    import sys
    seconds = {"old": [], "new": []}
    for r in range(rounds):
        for k in (("old", "new") if r % 2 == 0 else ("new", "old")):
            env = dict(os.environ, NUMBA_CACHE_DIR=tempfile.mkdtemp(prefix="nnfast-conv-compile-"))
            done = subprocess.run([sys.executable, "-m", "benchmarks.conv_ab", old, new, "--first-call",
                                   old if k == "old" else new], env=env, capture_output=True, text=True, check=True)
            seconds[k].append([float(v) for v in done.stdout.split()[-2:]])
    for k in ("old", "new"):
        fwd = statistics.median(s[0] for s in seconds[k])
        bwd = statistics.median(s[1] for s in seconds[k])
        print(f"{k}: compile CPU s, forward_part {fwd:.2f}  backward_part {bwd:.2f}  (medians of {rounds})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("-m", type=int, default=10)
    parser.add_argument("--layer1", action="store_true", help="the first conv layer alone")
    parser.add_argument("--compile", action="store_true", help="compile CPU seconds instead (fresh processes)")
    parser.add_argument("--first-call", metavar="FOLDER", help=argparse.SUPPRESS)  # one fresh process's part
    args = parser.parse_args(argv)
    if args.first_call:
        return _first_call(args.first_call)
    if args.compile:
        return _compile_rounds(args.old, args.new, args.rounds)
    _load(args.old, "kernels_old"), _load(args.new, "kernels_new")
    stacks = {k: importlib.import_module(f"kernels_{k}.conv_stack") for k in ("old", "new")}
    for dtype in (np.float32, np.float64):
        for act, act_name in ((SIGMOID, "sigmoid"), (RELU, "ReLU")):
            cases = {k: _book_case(dtype, act, args.m, np.random.default_rng(1), 1 if args.layer1 else 2)
                     for k in stacks}
            for k, stack in stacks.items():  # compile, and check that both compute the same gradients
                stack.forward_part(*cases[k][0])
                stack.backward_part(*cases[k][1])
            for a, b in zip(cases["old"][2], cases["new"][2]):
                scale = np.abs(a).max()
                assert np.abs(a - b).max() <= scale * (1e-4 if dtype == np.float32 else 1e-10), "gradients differ"
            us = {(k, part): [] for k in stacks for part in ("forward", "backward")}
            for r in range(args.rounds):
                for k in (("old", "new") if r % 2 == 0 else ("new", "old")):
                    fwd, bwd, _ = cases[k]
                    us[k, "forward"].append(_cpu_us(lambda: stacks[k].forward_part(*fwd), args.calls))
                    us[k, "backward"].append(_cpu_us(lambda: stacks[k].backward_part(*bwd), args.calls))
            for part in ("forward", "backward"):
                old, new = us["old", part], us["new", part]
                ratio = statistics.median(n / o for n, o in zip(new, old))
                print(f"{np.dtype(dtype).name:8} {act_name:8} {part:9} old {statistics.median(old):7.1f} us  "
                      f"new {statistics.median(new):7.1f} us  new/old {ratio:.3f}")


if __name__ == "__main__":
    main()
