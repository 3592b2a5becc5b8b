"""A/B two versions of nnfast/_kernels.py in one process, alternating, on a 50,000-sample epoch.

    git show HEAD~1:nnfast/_kernels.py > /tmp/old_kernels.py
    python -m benchmarks.kernel_ab /tmp/old_kernels.py nnfast/_kernels.py [--hidden 30]

Prints the median seconds of each and the median of the per-round ratios new/old, for float64 and
float32 at mini-batch 10 and 100, and for a forward pass over all 50,000 (evaluation and chapter 3's
monitoring, 1,024 rows a call). Kernel time only (no shuffle, no list conversion): for checking a
change to a hot path before and after.
"""

import argparse
import importlib.util
import os
import statistics
import tempfile
import time

# Both modules compile into a private, throw-away numba cache: modules loaded from a file path
# must not write into (or read from) the package's own cache.
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="nnfast-ab-")

import numpy as np

from nnfast import network

_NONE = np.empty(0, dtype=np.int64)  # no column ranges: every row dense (the random inputs here are)


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--hidden", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    kernels = {"old": _load(args.old, "kernels_old"), "new": _load(args.new, "kernels_new")}
    rng = np.random.default_rng(0)
    n = 50_000
    X = (rng.integers(0, 256, (n, 784)) / 256).astype(np.float32)
    Y = np.eye(10)[rng.integers(0, 10, n)]
    order = rng.permutation(n).astype(np.int64)
    for dtype in (np.float64, np.float32):
        for batch in (10, 100, "forward"):
            net = network.Network([784, args.hidden, 10], dtype=dtype)
            lay = net._layout
            Yd = Y.astype(dtype)
            forward = batch == "forward"
            batch = 1024 if forward else batch
            acts, deltas = net._scratch(batch)
            ybuf, out = np.empty((batch, 10), dtype), np.empty((n if forward else 0, 10), dtype)

            def epoch(k):
                params = net._pack()
                run = kernels[k].run_batches
                # older kernels lack some of these parameters (the cost code and decay came with chapter 3,
                # the column ranges and input scale with zero skipping): pass each one only where it exists
                optional = {"cost": 0, "decay": 1.0, "x_lo": _NONE, "x_hi": _NONE, "x_scale": 1.0}
                names = run.py_func.__code__.co_varnames[:run.py_func.__code__.co_argcount]
                extra = [optional[name] for name in names if name in optional]
                run(params, np.empty_like(params), lay.w_off, lay.b_off, lay.sizes, X, order,
                    Yd, order, batch, 3.0, *extra, acts, deltas, ybuf, out)

            epoch("old"), epoch("new")  # compile both
            times = {"old": [], "new": []}
            for r in range(args.rounds):
                for k in (("old", "new") if r % 2 == 0 else ("new", "old")):  # A B B A: no order bias
                    start = time.perf_counter()
                    epoch(k)
                    times[k].append(time.perf_counter() - start)
            ratio = statistics.median(b / a for a, b in zip(times["old"], times["new"]))
            what = "forward pass" if forward else f"batch {batch}"
            print(f"{np.dtype(dtype).name} 784-{args.hidden}-10 {what}: old {statistics.median(times['old']):.3f} s, "
                  f"new {statistics.median(times['new']):.3f} s, new/old {ratio:.2f}")


if __name__ == "__main__":
    main()
