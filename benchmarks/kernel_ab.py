"""A/B two versions of the kernel folder nnfast/engine/kernels in one process, alternating, on a 50,000-sample epoch.

    mkdir -p /tmp/old && git archive HEAD~1 nnfast/engine/kernels | tar -x -C /tmp/old
    python -m benchmarks.kernel_ab /tmp/old/nnfast/engine/kernels nnfast/engine/kernels [--hidden 30]

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


def _load(folder, name):
    """The kernel folder at ``folder`` imported as the package ``name``; its ``run_batches``."""
    import sys
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[os.path.abspath(folder)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.batches")


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
                # older kernels lack some parameters (the cost code and decay came with chapter 3, the column
                # ranges and input scale with zero skipping, the input kind with byte inputs) and newer ones
                # read the input matrix as bytes: pass each argument by the kernel's own parameter names
                code = run.py_func.__code__
                names = code.co_varnames[:code.co_argcount]
                args = {"params": params, "grads": np.empty_like(params), "w_off": lay.w_off, "b_off": lay.b_off,
                        "sizes": lay.sizes, "X": X, "Xb": X.view(np.uint8), "x_kind": 1, "x_rows": order,
                        "Y": Yd, "y_rows": order, "batch": batch, "eta": 3.0, "cost": 0,
                        "decay": 1.0, "x_lo": _NONE, "x_hi": _NONE, "x_scale": 1.0, "acts": acts, "deltas": deltas,
                        "ybuf": ybuf, "out": out}
                run(*[args[name] for name in names])

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
