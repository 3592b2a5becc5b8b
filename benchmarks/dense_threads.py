"""The dense nets' threaded kernel against one thread, epoch by epoch: ``python -m benchmarks.dense_threads [ROUNDS]``.

Whole 50,000-image MNIST epochs through ``DenseNet._run`` (zero skipping on, slices of 2,000 samples as
training cuts them), one thread and every core alternated round by round, for 784-{30,100}-10 at mini-batch
100 in float32 and float64; prints the medians and the best of each (the best approximates a quiet
machine) and the load average. Not part of ``make bench``: the unpinned table there shows what the chooser
makes of it; this shows the kernel alone (``nnfast/engine/kernels/batches_threaded.py``).
"""

import os
import statistics
import sys
import time

import numpy as np


def epochs(hidden, batch, dtype, rounds, threads):
    from nnfast import mnist_loader, network
    from nnfast.engine.input_layout import prepared_inputs
    (X, y), _, _ = mnist_loader.load_data()
    X, rows = X[:50_000], np.arange(50_000, dtype=np.int64)
    np.random.seed(0)
    net = network.Network([784, hidden, 10], dtype=dtype)
    Y = np.eye(10, dtype=dtype)[y[:50_000]]
    inputs, layout = prepared_inputs(X, rows)
    params = net._pack()
    times = {1: [], threads: []}
    with net._inputs_order(params, layout.perm):
        for r in range(rounds + 1):  # the first round compiles: not counted
            for t in ((1, threads) if r % 2 == 0 else (threads, 1)):
                order = np.random.permutation(50_000)
                start = time.perf_counter()
                for k in range(0, 50_000, 2000):
                    net._run(params, inputs, order[k:k + 2000], Y, order[k:k + 2000], batch, 0.1, 1.0,
                             layout=layout, threads=t)
                if r:
                    times[t].append(time.perf_counter() - start)
    return times


def main(rounds=4):
    threads = max(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)
    for dtype in (np.float32, np.float64):
        for hidden in (30, 100):
            times = epochs(hidden, 100, dtype, rounds, threads)
            one, many = times[1], times[threads]
            print(f"784-{hidden}-10 b100 {np.dtype(dtype).name}: 1 thread median {statistics.median(one):.4f} s, "
                  f"best {min(one):.4f}; {threads} threads median {statistics.median(many):.4f} s, best "
                  f"{min(many):.4f}; speed-up median {statistics.median(one) / statistics.median(many):.2f}x, best "
                  f"{min(one) / min(many):.2f}x; load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
