"""Chapter 6 rows of `make bench`: the book's convolutional nets, mini-batch 10, seconds per 50,000-image epoch.

nnfast's network3, PyTorch on the CPU (the same layers, flipped filters, the same SGD step; when
installed), JAX on the CPU (the epoch under one jit: ``chapter6_jax``; when installed) and the plain-numpy
twin (reference3), each timed on a slice of the training set and
scaled to 50,000, on one thread and on every core, rounds alternating the engines. GFLOP/s counts
the multiply-adds of the convolutions and fully connected layers, forward and backward.
"""

import os
import statistics
import sys
import time

import numpy as np

NETS = ("two-conv", "dropout")
SLICE = {"nnfast": 2000, "torch": 2000, "jax": 2000, "twin": 100}  # samples timed per round


def _layers(n3, name, m=10):
    relu = n3.ReLU
    if name == "two-conv":
        return [n3.ConvPoolLayer((20, 1, 5, 5), (m, 1, 28, 28)), n3.ConvPoolLayer((40, 20, 5, 5), (m, 20, 12, 12)),
                n3.FullyConnectedLayer(640, 100), n3.SoftmaxLayer(100, 10)]
    return [n3.ConvPoolLayer((20, 1, 5, 5), (m, 1, 28, 28), activation_fn=relu),
            n3.ConvPoolLayer((40, 20, 5, 5), (m, 20, 12, 12), activation_fn=relu),
            n3.FullyConnectedLayer(640, 1000, relu, 0.5), n3.FullyConnectedLayer(1000, 1000, relu, 0.5),
            n3.SoftmaxLayer(1000, 10, 0.5)]


def flops_per_sample(name):
    """2 x the multiply-adds of a training step per sample: forward, weight gradients, input gradients."""
    conv = 20 * 24 * 24 * 25 * 2 + 40 * 8 * 8 * 500 * 3  # the first layer needs no input gradient
    fc = (640 * 100 + 100 * 10) * 3 if name == "two-conv" else (640 * 1000 + 1000 * 1000 + 1000 * 10) * 3
    return 2 * (conv + fc)


def _torch_step(name, threads):
    import torch
    torch.set_num_threads(threads)
    relu = name == "dropout"
    act = torch.relu if relu else torch.sigmoid
    c1, c2 = torch.nn.Conv2d(1, 20, 5), torch.nn.Conv2d(20, 40, 5)
    fcs = [torch.nn.Linear(640, 100)] if not relu else [torch.nn.Linear(640, 1000), torch.nn.Linear(1000, 1000)]
    out = torch.nn.Linear(fcs[-1].out_features, 10)
    params = [p for mod in (c1, c2, *fcs, out) for p in mod.parameters()]
    drop = torch.nn.Dropout(0.5) if relu else torch.nn.Identity()

    def step(x, y):
        h = act(torch.nn.functional.max_pool2d(c1(x), 2))
        h = act(torch.nn.functional.max_pool2d(c2(h), 2)).flatten(1)
        for fc in fcs:
            h = act(fc(drop(h)))
        loss = torch.nn.functional.cross_entropy(out(drop(h)), y)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.03 * p.grad
    return step


def _torch_predict(name, threads):
    """PyTorch's forward pass of the same net, inference mode: class numbers for a batch of (n, 1, 28, 28)."""
    import torch
    torch.set_num_threads(threads)
    relu = name == "dropout"
    act = torch.relu if relu else torch.sigmoid
    c1, c2 = torch.nn.Conv2d(1, 20, 5), torch.nn.Conv2d(20, 40, 5)
    fcs = [torch.nn.Linear(640, 100)] if not relu else [torch.nn.Linear(640, 1000), torch.nn.Linear(1000, 1000)]
    out = torch.nn.Linear(fcs[-1].out_features, 10)

    def predict(x):
        with torch.no_grad():
            h = act(torch.nn.functional.max_pool2d(c1(x), 2))
            h = act(torch.nn.functional.max_pool2d(c2(h), 2)).flatten(1)
            for fc in fcs:
                h = act(fc(h))
            return out(h).argmax(1)
    return predict


def prediction(X, rounds, engines, cores, chunk=1000):
    """Seconds to predict the classes of all of ``X`` (10,000 images in `make bench`): nnfast's
    ``network3.Network.predict`` against PyTorch's forward pass (chunks of ``chunk``), alternating."""
    rows = []
    for name in NETS:
        for threads in sorted({1, cores}):
            os.environ["NNFAST_THREADS"] = str(threads)
            calls = {}
            if "nnfast" in engines:
                from nnfast import network3
                net = network3.Network(_layers(network3, name), 10)
                calls["nnfast"] = lambda net=net: net.predict(X)
            if "torch" in engines:
                import torch
                predict = _torch_predict(name, threads)
                Xt = torch.tensor(X.reshape(-1, 1, 28, 28))
                calls["torch"] = lambda predict=predict, Xt=Xt: [predict(Xt[i:i + chunk]) for i in range(0, len(Xt), chunk)]
            for call in calls.values():
                call()  # compile / warm
            seconds = {e: [] for e in calls}
            for r in range(rounds):
                for engine in (list(calls) if r % 2 == 0 else list(calls)[::-1]):
                    start = time.perf_counter()
                    calls[engine]()
                    seconds[engine].append(time.perf_counter() - start)
            for engine, times in seconds.items():
                secs = statistics.median(times)
                rows.append({"net": name, "threads": threads, "engine": engine, "images": len(X), "seconds": secs})
                print(f"  predict {len(X):,} images, {name}, {threads} thread(s), {engine:6s} {secs:6.2f} s",
                      file=sys.stderr, flush=True)
    os.environ.pop("NNFAST_THREADS", None)
    return rows


def _time(engine, name, X, y, threads):
    """Seconds for the engine to train on all of ``X`` (mini-batches of 10); ``threads`` None: nnfast's default."""
    if threads is None:
        os.environ.pop("NNFAST_THREADS", None)
    else:
        os.environ["NNFAST_THREADS"] = str(threads)
    if engine == "jax":  # its own process: XLA's threads are fixed when JAX starts
        from . import chapter6_jax
        return chapter6_jax.seconds(name, len(y), threads or len(os.sched_getaffinity(0)))
    if engine == "nnfast":
        from nnfast import network3
        net = network3.Network(_layers(network3, name), 10)
        step = lambda i: net._step(X[i:i + 10], y[i:i + 10], 0.03, 0.0, 5000)  # noqa: E731
    elif engine == "twin":
        from nnfast import network3
        from nnfast.twins import network3 as reference3
        twin = reference3.layers_of(network3.Network(_layers(network3, name), 10))
        rng = np.random.RandomState(0)
        X64 = X.astype(np.float64)
        step = lambda i: reference3.sgd_step(twin, X64[i:i + 10], y[i:i + 10], 0.03, 0.0, 5000, rng)  # noqa: E731
    else:
        import torch
        step_t = _torch_step(name, threads)
        Xt = torch.tensor(X.reshape(-1, 1, 28, 28))
        yt = torch.tensor(y)
        step = lambda i: step_t(Xt[i:i + 10], yt[i:i + 10])  # noqa: E731
    step(0)  # compile / warm
    start = time.perf_counter()
    for i in range(0, len(y), 10):
        step(i)
    return time.perf_counter() - start


def run(training, rounds, gflops):
    """Rows: per net and thread count, each engine's seconds per 50,000-image epoch (median over rounds)."""
    import importlib.util
    engines = (["nnfast", "twin"] + (["torch"] if importlib.util.find_spec("torch") else [])
               + (["jax"] if importlib.util.find_spec("jax") else []))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # the steady state: on a cold numba cache the warm-up step compiles the parallel kernels here, rather than
    # the timed steps running on one thread while a helper compiles them (nnfast.engine.parallel_start)
    os.environ["NNFAST_COMPILE_HELPER"] = "0"
    X, y = training
    rows = []
    for name in NETS:
        for threads in sorted({1, cores}):
            print(f"[chapter 6: {name} net, batch 10, {threads} thread(s)] {rounds} rounds ...",
                  file=sys.stderr, flush=True)
            seconds = {e: [] for e in engines}
            for r in range(rounds):
                for engine in (engines if r % 2 == 0 else engines[::-1]):
                    n = SLICE[engine]
                    seconds[engine].append(_time(engine, name, X[:n], y[:n], threads) * 50_000 / n)
            for engine in engines:
                secs = statistics.median(seconds[engine])
                rows.append({"net": name, "threads": threads, "engine": engine, "seconds_per_epoch": secs,
                             "gflops": flops_per_sample(name) * 50_000 / secs / 1e9,
                             "flop_share": flops_per_sample(name) * 50_000 / secs / 1e9 / gflops["float32"]})
                print(f"  {engine:8s} {secs:8.1f} s/epoch", file=sys.stderr, flush=True)
    os.environ.pop("NNFAST_THREADS", None)
    return {"rows": rows, "engines": engines, "under_load": under_load(X, y, rounds),
            "prediction": prediction(X[:10_000], rounds, [e for e in engines if e in ("nnfast", "torch")], cores)}


def under_load(X, y, rounds, n=5000):
    """nnfast's default thread setting against --threads 1 with one other CPU-bound process running (a laptop
    with a browser busy, a sweep's other workers), alternating; the two-conv net, ``n`` images a timing."""
    import subprocess
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        times = {"default": [], "1": []}
        for r in range(rounds):
            for key in (("default", "1") if r % 2 == 0 else ("1", "default")):
                times[key].append(_time("nnfast", "two-conv", X[:n], y[:n], None if key == "default" else 1))
    finally:
        busy.kill()
        os.environ.pop("NNFAST_THREADS", None)
    default, one = statistics.median(times["default"]), statistics.median(times["1"])
    print(f"  under load (one busy process beside): default threads {default:.2f} s, --threads 1 {one:.2f} s, "
          f"ratio {default / one:.2f}", file=sys.stderr, flush=True)
    return {"net": "two-conv", "images": n, "default_s": default, "one_thread_s": one, "ratio": default / one}


def run_in_fresh_process(rounds, gflops):
    """``run`` in a new process with every core: thread pools started while the engine tables ran pinned to
    one core (PyTorch's among them) keep that core, which made PyTorch's 2-thread rows twice as slow."""
    import json
    import subprocess
    code = ("import json, sys; from benchmarks import chapter6; from nnfast import mnist_loader; "
            f"print(json.dumps(chapter6.run(mnist_loader.load_data()[0], {int(rounds)}, {dict(gflops)!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])
