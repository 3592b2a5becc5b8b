"""PyTorch on the CPU as a chapter 6 peer: eager, and ``torch.compile`` (inductor), PyTorch's strongest CPU path.

The same nets as nnfast's rows (the book's two-conv net, sigmoid; its dropout net: ReLU, FC 1000 x 2,
dropout 0.5), the same SGD step (mean cross-entropy of a mini-batch of 10, eta 0.03), float32.

Eager runs in the chapter 6 process beside nnfast. The compiled step runs in a fresh process per timing
(``python -m benchmarks.chapter6_torch``), as JAX's epoch does: inductor fixes the thread count in the
C++ it generates, and its compile must be timed apart from the step. That process compiles the whole
step function (dynamo splits it at ``loss.backward()``: the forward with its AOT-compiled backward, then
the update as one fused kernel), times a first call (the compile) and then the slice; its inductor cache
is a folder the caller passes, so the first round compiles from empty and later rounds from the cache.
The graph count is checked before and after the timed loop: a recompile inside it is reported, not hidden.
Tried and not taken, no gain above this shared machine's noise (dropout net, one thread, process CPU per
1,000 images, alternated, load 3.5-4.5): the step as one graph (``torch._dynamo.config.trace_autograd_ops``)
0.54-0.71 s and ``mode="max-autotune-no-cudagraphs"`` 0.59-0.86 s, against the default's 0.48-0.72 s.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ENGINES = ("torch", "torch-compile")


def _torch_installed():
    return importlib.util.find_spec("torch") is not None


def missing(engine="torch"):
    """Why ``engine`` cannot run here, in one line; None when it can."""
    if not _torch_installed():
        return "not installed (make bench-peers installs PyTorch's CPU build)"
    if engine == "torch-compile" and not (os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")):
        return "torch.compile not run: inductor needs a C++ compiler (g++) and none was found"
    return None


def _net(name):
    """(logits(x, train), params): the book's chapter 6 net ``name`` as PyTorch layers, default initialisation."""
    import torch
    relu = name == "dropout"
    act = torch.relu if relu else torch.sigmoid
    pool = torch.nn.functional.max_pool2d
    c1, c2 = torch.nn.Conv2d(1, 20, 5), torch.nn.Conv2d(20, 40, 5)
    fcs = [torch.nn.Linear(640, 100)] if not relu else [torch.nn.Linear(640, 1000), torch.nn.Linear(1000, 1000)]
    out = torch.nn.Linear(fcs[-1].out_features, 10)
    params = [p for mod in (c1, c2, *fcs, out) for p in mod.parameters()]
    drop = torch.nn.Dropout(0.5) if relu else torch.nn.Identity()

    def logits(x, train):
        h = act(pool(c1(x), 2))
        h = act(pool(c2(h), 2)).flatten(1)
        for fc in fcs:
            h = act(fc(drop(h) if train else h))
        return out(drop(h) if train else h)
    return logits, params


def step(name, threads, compiled=False, backend="inductor"):
    """One SGD step on a mini-batch ``(x, y)``: forward, backward, ``p -= 0.03 * grad`` for every parameter."""
    import torch
    torch.set_num_threads(threads)
    logits, params = _net(name)

    def sgd_step(x, y):
        loss = torch.nn.functional.cross_entropy(logits(x, True), y)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.03 * p.grad
    return torch.compile(sgd_step, dynamic=False, backend=backend) if compiled else sgd_step


def predict(name, threads, compiled=False, backend="inductor"):
    """The same net's forward pass, inference mode: class numbers for a batch of (n, 1, 28, 28)."""
    import torch
    torch.set_num_threads(threads)
    logits, _ = _net(name)

    def classes(x):
        with torch.no_grad():
            return logits(x, False).argmax(1)
    return torch.compile(classes, dynamic=False, backend=backend) if compiled else classes


def _graphs():
    """How many graphs dynamo has compiled in this process (a recompile adds one)."""
    from torch._dynamo.utils import counters
    return counters["stats"]["unique_graphs"]


def _measure(task, name, threads, data, chunk, backend="inductor"):
    """In the fresh process: {'seconds', 'cpu_s', 'compile_s', 'graphs'} for the compiled step over the slice
    (``task`` 'train') or the compiled forward over every image (``task`` 'predict', chunks of ``chunk``)."""
    import numpy as np
    import torch
    X = torch.tensor(np.load(os.path.join(data, "X.npy"), allow_pickle=False).reshape(-1, 1, 28, 28))
    if task == "train":
        y = torch.tensor(np.load(os.path.join(data, "y.npy"), allow_pickle=False))
        call = step(name, threads, compiled=True, backend=backend)
        run = lambda: [call(X[i:i + 10], y[i:i + 10]) for i in range(0, len(y), 10)]  # noqa: E731
        first = lambda: call(X[:10], y[:10])  # noqa: E731
    else:
        call = predict(name, threads, compiled=True, backend=backend)
        run = lambda: [call(X[i:i + chunk]) for i in range(0, len(X), chunk)]  # noqa: E731
        first = lambda: [call(X[i:i + chunk]) for i in sorted({0, (len(X) - 1) // chunk * chunk})]  # noqa: E731
    start = time.perf_counter()
    first()
    first_s = time.perf_counter() - start
    first()  # a second call: dynamo's guards settled
    graphs = _graphs()
    start, cpu = time.perf_counter(), time.process_time()
    run()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if _graphs() != graphs:
        return {"note": "torch.compile recompiled inside the timed loop"}
    per_call = seconds / (len(X) // 10 if task == "train" else -(-len(X) // chunk))
    # the first call(s) less what one (or two) warm calls take: the compile, reported apart from the step
    return {"seconds": seconds, "cpu_s": cpu, "graphs": graphs,
            "compile_s": max(first_s - per_call * (1 if task == "train" else 2), 0.0)}


def _one_line(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:160]


def compiled(task, name, X, y, threads, cache, chunk=1000, timeout=1800, backend="inductor"):
    """Run ``_measure`` in a fresh process with ``threads`` threads and the inductor cache folder ``cache``:
    its dict, or {'note': one line} when torch.compile cannot run or fails here. ``backend`` other than
    inductor only for the tests ('aot_eager': the same graphs and harness without inductor's C++ compile)."""
    import numpy as np
    why = missing("torch-compile")
    if why:
        return {"note": why}
    with tempfile.TemporaryDirectory(prefix="nnfast-ch6-torch-") as data:
        np.save(os.path.join(data, "X.npy"), np.ascontiguousarray(X, dtype=np.float32))
        if y is not None:
            np.save(os.path.join(data, "y.npy"), np.asarray(y, dtype=np.int64))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), TORCHINDUCTOR_CACHE_DIR=cache)
        args = json.dumps({"task": task, "name": name, "threads": threads, "data": data, "chunk": chunk,
                           "backend": backend})
        try:
            done = subprocess.run([sys.executable, "-m", "benchmarks.chapter6_torch", args], capture_output=True,
                                  text=True, env=env, timeout=timeout,
                                  cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        except subprocess.TimeoutExpired:
            return {"note": f"torch.compile did not finish within {timeout} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return {"note": f"torch.compile process exited with code {done.returncode}: {last}"[:200]}
    return json.loads(lines[-1])


def main(argv):
    """The fresh process: one JSON line on stdout, the measurement or a one-line note of why not."""
    job = json.loads(argv[0])
    try:
        result = _measure(job["task"], job["name"], job["threads"], job["data"], job["chunk"],
                          job.get("backend", "inductor"))
    except Exception as error:  # inductor's failures (no compiler, a codegen bug) become the row's note
        result = {"note": "torch.compile failed: " + _one_line(error)}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
