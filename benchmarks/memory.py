"""Peak memory of reading the book's ``mnist_expanded.pkl.gz``: ``network3.load_data_shared`` against a
plain unpickling of the same file, each in a fresh process.

The peak is the process's VmHWM (/proc/self/status), not ``getrusage``'s ``ru_maxrss``: Linux carries
ru_maxrss over from the parent through fork and exec, so a child of a large process (a test runner that
has built arrays, this benchmark after writing its file) reports its parent's peak instead of its own.

``python -m benchmarks.memory`` measures the full-size rows alone and merges them into results/latest.*;
``make bench`` measures them with everything else. Linux only (/proc).
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile

from nnfast.datasets import book_pickle
from nnfast.twins.book_files import write_expanded_pickle

# Both children import the same modules first, so that their memory before reading is the same.
_CHILD = r"""
import gzip, json, resource, sys, time
import numpy as np
import nnfast.datasets.formats, nnfast.mnist_loader, nnfast.network3
from nnfast.datasets.safe_pickle import load_numpy_pickle

def status(key):  # bytes of resident memory: VmRSS now, VmHWM its peak in this process
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

mode, path = sys.argv[1], sys.argv[2]
before, cpu = status("VmRSS"), time.process_time()
if mode == "unpickle":  # what a plain pickle.load(gzip.open(path), encoding="latin1") does, numpy arrays only
    with gzip.open(path, "rb") as f:
        data = load_numpy_pickle(f)
    shapes = None
else:
    data = nnfast.network3.load_data_shared(path)
    shapes = [list(x.shape) for x, _ in data]
cpu = time.process_time() - cpu
print(json.dumps({"before": before, "peak": status("VmHWM"), "cpu_s": cpu, "shapes": shapes,
                  "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

MODES = ("unpickle", "load_data_shared")


def measure(mode, path):
    """``{"before", "peak", "cpu_s", "shapes"}`` of one fresh process reading ``path`` by ``mode``: bytes of
    resident memory before reading and at the peak, CPU seconds of the reading."""
    done = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} of {path} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(path):
    """One row: peak increments (peak less memory before reading) of plain unpickling and of
    load_data_shared on ``path``, their ratio, and nnfast's estimate before reading."""
    plain, ours = (measure(mode, path) for mode in MODES)
    plain_mb, ours_mb = ((m["peak"] - m["before"]) / 1e6 for m in (plain, ours))
    return {"file_mb": os.path.getsize(path) / 1e6, "unpickled_mb": book_pickle.unpickled_size(path) / 1e6,
            "unpickle_peak_mb": plain_mb, "load_data_shared_peak_mb": ours_mb, "ratio": ours_mb / plain_mb,
            "estimate_mb": book_pickle.estimated_peak(path) / 1e6,
            "unpickle_cpu_s": plain["cpu_s"], "load_data_shared_cpu_s": ours["cpu_s"],
            "absolute_ratio": ours["peak"] / plain["peak"], "shapes": ours["shapes"]}


LAYOUTS = ((2, "expand_mnist.py's layout as cPickle protocol 2 (a Python 3 port's is alike)"),
           (0, "expand_mnist.py's own file: Python 2's cPickle, default protocol 0 (escaped text)"))


def run(n_train=250_000):
    """Rows for expand_mnist.py's layout at the book's size, in both protocols (written here: about 130 and
    200 MB of gzip)."""
    rows = []
    for protocol, layout in LAYOUTS:
        print(f"Memory of reading a {n_train:,}-image mnist_expanded.pkl.gz, protocol {protocol} ...",
              file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="nnfast-memory-") as folder:
            path = os.path.join(folder, "mnist_expanded.pkl.gz")
            write_expanded_pickle(path, n_train, n_validation=10_000, n_test=10_000, protocol=protocol)
            rows.append(dict(compare(path), layout=layout, images=n_train, protocol=protocol))
    return {"rows": rows}


def main():
    from . import report
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    with open(os.path.join(out, "latest.json")) as f:
        result = json.load(f)
    result["memory"] = run()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    note = f"the memory rows (python -m benchmarks.memory) measured {when} after #28's streaming reader"
    earlier = [part for part in (result.get("rerun") or "").split("; ") if part and "the memory rows" not in part]
    result["rerun"] = "; ".join(earlier + [note])
    print(report.write(result, out, "latest"))


if __name__ == "__main__":
    main()
