"""A/B two versions of the kernel folder on chapter 6's whole one-thread step (``kernels.net_step.steps_one``, as
``Network.train`` runs it): both in one process, the versions alternating round by round, each training its own
copy of the book's net (same seed) on the same MNIST images; process CPU and wall seconds per round, medians, and
the median of the per-round ratios new/old (in one process, a busy machine disturbs both alike).

    mkdir -p /tmp/old && git archive main nnfast/engine/kernels | tar -x -C /tmp/old
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.step_ab /tmp/old/nnfast/engine/kernels --net two-conv

The new version is this checkout's ``nnfast.engine.kernels``. Both steps are compiled before the rounds (no
helper process, never the layers' own code). The dropout net's two copies drift apart in float32 (ReLU and
dropout amplify the last-bit differences), so its rounds do slightly different work; the two-conv net's stay
within rounding.
"""

import argparse
import importlib
import os
import statistics
import tempfile
import time

os.environ["NNFAST_THREADS"] = "1"
os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="nnfast-step-ab-"))  # never the package's own

import numpy as np

from .chapter6 import _layers
from .kernel_ab import _load


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the old version's kernel folder")
    parser.add_argument("--net", default="two-conv", choices=("two-conv", "dropout"))
    parser.add_argument("--images", type=int, default=1000, help="images a round (a multiple of 10)")
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args(argv)
    import nnfast.engine.kernels as package
    from nnfast import mnist_loader, network3
    from nnfast.engine import net_runs
    from nnfast.engine import net_step as engine_step
    _load(args.old, "kernels_old")
    versions = {"old": importlib.import_module("kernels_old.net_step"),
                "new": importlib.import_module("nnfast.engine.kernels.net_step")}
    X, y = mnist_loader.load_data()[0]
    X, y = X[:args.images].astype(np.float32), y[:args.images]
    nets = {}
    for k, kernels in versions.items():
        kernels.steps_one.compile(kernels.signature(np.float32, 2, False))
        np.random.seed(0)
        nets[k] = network3.Network(_layers(network3, args.net), 10)
    engine_step._COMPILE["ready"].add(("float32", 2))  # compiled above: no helper process

    def run(k, images):
        package.net_step = versions[k]  # what engine.net_step imports at each call
        net_runs.train_steps(nets[k], network3.Network, X, y, 0, images // 10, 0.03, 0.0, 5000, 0)

    for k in versions:
        run(k, 100)  # warm
    seconds = {k: [] for k in versions}
    for r in range(args.rounds):
        for k in (("old", "new") if r % 2 == 0 else ("new", "old")):
            wall, cpu = time.perf_counter(), time.process_time()
            run(k, args.images)
            seconds[k].append((time.perf_counter() - wall, time.process_time() - cpu))
    package.net_step = versions["new"]
    for i, kind in ((1, "process CPU"), (0, "wall")):
        old, new = [s[i] for s in seconds["old"]], [s[i] for s in seconds["new"]]
        ratio = statistics.median(b / a for a, b in zip(old, new))
        print(f"{args.net}, one thread, {args.images} images a round, {kind}: old {statistics.median(old):.4f} s, "
              f"new {statistics.median(new):.4f} s, new/old {ratio:.3f} (median of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
