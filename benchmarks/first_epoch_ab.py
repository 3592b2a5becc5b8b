"""A/B of a first chapter 3 epoch on a cold numba cache: ``python benchmarks/first_epoch_ab.py ROUNDS TREE_A TREE_B``.

Each round runs, in a fresh process per checkout (``git worktree add /tmp/old main``, then the two folders),
network2 784-100-10, mini-batch 100, with the evaluation accuracy and training cost monitored, one epoch of
MNIST, on an empty NUMBA_CACHE_DIR with NNFAST_COMPILE_HELPER=1 (the helpers start even on a busy machine, as
on an idle one): the seconds (wall, and the process's own CPU; a helper process's apart) from SGD's start to
the first epoch line and to its last monitor line. The two checkouts alternate; medians are printed. Written
for the threaded kernel's compile moving into a helper process (``nnfast.engine.dense_threads``).
"""
import json, os, subprocess, sys, tempfile, statistics

CODE = r'''
import sys, time, os, json
sys.path.insert(0, {tree!r})
import random, numpy as np
import nnfast
assert nnfast.__file__.startswith({tree!r}), nnfast.__file__
from nnfast import mnist_loader, network2
tr, va, te = mnist_loader.load_data_wrapper()
random.seed(1); np.random.seed(1)
net = network2.Network([784, 100, 10], cost=network2.CrossEntropyCost)
marks = {{}}
real = sys.stdout
class Clock:
    def write(self, s):
        if "training complete" in s and "epoch" not in marks:
            marks["epoch"] = (time.perf_counter() - w0, time.process_time() - c0)
        if "Accuracy on evaluation" in s:
            marks["monitors"] = (time.perf_counter() - w0, time.process_time() - c0)
        return real.write(s)
    def flush(self):
        real.flush()
sys.stdout = Clock()
w0, c0 = time.perf_counter(), time.process_time()
net.SGD(tr, 1, 100, 0.5, lmbda=5.0, evaluation_data=va, monitor_evaluation_accuracy=True, monitor_training_cost=True)
sys.stdout = real
print("RESULT", json.dumps(marks))
sys.stdout.flush()
try:
    while True:
        os.waitpid(-1, 0)   # helpers, so the next run starts on a quiet machine
except ChildProcessError:
    pass
'''

def one(tree):
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "NNFAST_COMPILE_HELPER": "1"}
        env.pop("NNFAST_THREADS", None)
        out = subprocess.run([sys.executable, "-c", CODE.format(tree=tree)], capture_output=True, text=True, env=env,
                             cwd=tree, timeout=600)
        line = [l for l in out.stdout.splitlines() if l.startswith("RESULT")]
        if not line:
            raise SystemExit(out.stderr[-2000:])
        return json.loads(line[0][7:])

import argparse
parser = argparse.ArgumentParser(prog="python benchmarks/first_epoch_ab.py", description=__doc__.split(":")[0])
parser.add_argument("rounds", type=int, metavar="ROUNDS")
parser.add_argument("a", metavar="TREE_A", help="a checkout of nnfast (the before)")
parser.add_argument("b", metavar="TREE_B", help="another (the after)")
args = parser.parse_args()
if args.rounds < 1 or not all(os.path.isdir(os.path.join(t, "nnfast")) for t in (args.a, args.b)):
    parser.error("ROUNDS must be at least 1 and each tree a checkout of nnfast (a folder holding nnfast/)")
rounds, a, b = args.rounds, os.path.abspath(args.a), os.path.abspath(args.b)
res = {a: [], b: []}
for r in range(rounds):
    for tree in ((a, b) if r % 2 == 0 else (b, a)):
        m = one(tree)
        res[tree].append(m)
        print(tree, m, "load", os.getloadavg()[0], flush=True)
for tree in (a, b):
    for key in ("epoch", "monitors"):
        w = statistics.median(x[key][0] for x in res[tree]); c = statistics.median(x[key][1] for x in res[tree])
        print(f"{tree}: to {key} line: wall {w:.1f} s, process CPU {c:.1f} s (medians of {rounds})")
