"""Whole-process runs: wall time and peak memory of `nnfast train --epochs N` and of the book's loop."""

import subprocess
import sys

# The book's chapter-1 run, per-sample, on the same cached MNIST.
_REFERENCE = """
from nnfast import mnist_loader
from nnfast.twins import network as reference
training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
net = reference.Network([784, 30, 10])
net.SGD(training_data, {epochs}, 10, 3.0, test_data=test_data)
"""


# Linux counts a child's peak RSS from before its exec too, i.e. from the fork of this large
# benchmark process; a small launcher process forks the measured command instead.
_LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
out = proc.stdout.read()
_, status, usage = os.wait4(proc.pid, 0)
epochs = [line for line in out.splitlines() if line.startswith("Epoch")]
print(os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss)
print(epochs[-1] if epochs else "")
"""


def _measure(cmd):
    """(wall seconds, peak RSS in MB, last epoch line) of one process running ``cmd``."""
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], capture_output=True, text=True, check=True)
    first, last = (done.stdout.splitlines() + ["", ""])[:2]
    code, wall, rss_kb = first.split()
    if int(code) != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {code}")
    return float(wall), int(rss_kb) / 1024, last


def run(epochs=30):
    """{'nnfast': {...}, 'reference': {...}} for `epochs` epochs of 784-30-10 with test evaluation."""
    results = {}
    for name, cmd in (("nnfast", [sys.executable, "-m", "nnfast", "train", "--epochs", str(epochs)]),
                      ("reference", [sys.executable, "-c", _REFERENCE.format(epochs=epochs)])):
        print(f"  end to end: {name} ({epochs} epochs) ...", file=sys.stderr, flush=True)
        wall, rss, last = _measure(cmd)
        results[name] = {"wall_s": wall, "peak_rss_mb": rss, "last_epoch": last}
    return results
