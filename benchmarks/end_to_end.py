"""Whole-process runs: wall time and peak memory of `nnfast train --epochs N` and of the book's loop."""

import os
import subprocess
import sys
import time

# The book's chapter-1 run, per-sample, on the same cached MNIST.
_REFERENCE = """
from nnfast import mnist_loader, reference
training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
net = reference.Network([784, 30, 10])
net.SGD(training_data, {epochs}, 10, 3.0, test_data=test_data)
"""


def _measure(cmd):
    """(wall seconds, peak RSS in MB, last stdout line) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}")
    epochs = [line for line in out.splitlines() if line.startswith("Epoch")]
    return wall, usage.ru_maxrss / 1024, epochs[-1] if epochs else ""


def run(epochs=30):
    """{'nnfast': {...}, 'reference': {...}} for `epochs` epochs of 784-30-10 with test evaluation."""
    results = {}
    for name, cmd in (("nnfast", [sys.executable, "-m", "nnfast", "train", "--epochs", str(epochs)]),
                      ("reference", [sys.executable, "-c", _REFERENCE.format(epochs=epochs)])):
        print(f"  end to end: {name} ({epochs} epochs) ...", file=sys.stderr, flush=True)
        wall, rss, last = _measure(cmd)
        results[name] = {"wall_s": wall, "peak_rss_mb": rss, "last_epoch": last}
    return results
