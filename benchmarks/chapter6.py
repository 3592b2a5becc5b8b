"""Chapter 6 rows of `make bench`: the book's convolutional nets, mini-batch 10, seconds per 50,000-image epoch.

nnfast's network3, PyTorch on the CPU eager and under ``torch.compile`` (the same layers, the same SGD
step; ``chapter6_torch``; when installed), JAX on the CPU (the epoch under one jit: ``chapter6_jax``; when
installed) and the plain-numpy twin (reference3), each timed on a slice of the training set and
scaled to 50,000, on one thread and on every core, rounds alternating the engines. GFLOP/s counts
the multiply-adds of the convolutions and fully connected layers, forward and backward. A peer that
cannot run here keeps its row, with one line on why. ``python -m benchmarks.chapter6`` runs these rows alone.
"""

import os
import statistics
import sys
import tempfile
import time

import numpy as np

from . import chapter6_torch

NETS = ("two-conv", "dropout")
ENGINES = ("nnfast", "twin", "torch", "torch-compile", "jax")
SLICE = {"nnfast": 2000, "torch": 2000, "torch-compile": 2000, "jax": 2000, "twin": 100}  # samples timed per round
PREDICTING = ("nnfast", "torch", "torch-compile")  # the engines of the prediction table


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


def prediction(X, rounds, engines, thread_counts, chunk=1000, caches=None, notes=None):
    """Seconds to predict the classes of all of ``X`` (10,000 images in `make bench`): nnfast's
    ``network3.Network.predict`` against PyTorch's forward pass, eager and compiled (chunks of ``chunk``),
    alternating; the compiled one in a fresh process each round, its compile reported apart. ``notes``: the
    engines of ``engines`` that cannot run here, with why (their rows carry it)."""
    notes = notes or {}
    rows = []
    for name in NETS:
        for threads in thread_counts:
            os.environ["NNFAST_THREADS"] = str(threads)
            calls = {}
            if "nnfast" in engines:
                from nnfast import network3
                net = network3.Network(_layers(network3, name), 10)
                calls["nnfast"] = lambda net=net: net.predict(X)
            if "torch" in engines and "torch" not in notes:
                import torch
                predict = chapter6_torch.predict(name, threads)
                Xt = torch.tensor(X.reshape(-1, 1, 28, 28))
                calls["torch"] = lambda predict=predict, Xt=Xt: [predict(Xt[i:i + chunk]) for i in range(0, len(Xt), chunk)]
            if "torch-compile" in engines and "torch-compile" not in notes:
                cache = _cache(caches, "predict", name, threads)
                calls["torch-compile"] = lambda name=name, threads=threads, cache=cache: chapter6_torch.compiled(
                    "predict", name, X, None, threads, cache, chunk)
            for engine, call in calls.items():
                if engine != "torch-compile":
                    call()  # compile / warm (the compiled engine warms in its own process)
            seconds, compile_s, failed = {e: [] for e in calls}, [], dict(notes)
            for r in range(rounds):
                for engine in (list(calls) if r % 2 == 0 else list(calls)[::-1]):
                    if engine in failed:
                        continue
                    start = time.perf_counter()
                    got = calls[engine]()
                    secs = time.perf_counter() - start
                    if engine == "torch-compile":
                        if "note" in got:
                            failed[engine] = got["note"]
                            continue
                        secs = got["seconds"]
                        compile_s.append(got["compile_s"])
                    seconds[engine].append(secs)
            for engine in engines:
                if engine in failed:
                    rows.append({"net": name, "threads": threads, "engine": engine, "images": len(X),
                                 "seconds": None, "note": failed[engine]})
                    print(f"  predict {name}, {threads} thread(s), {engine}: {failed[engine]}", file=sys.stderr)
                    continue
                secs = statistics.median(seconds[engine])
                rows.append({"net": name, "threads": threads, "engine": engine, "images": len(X), "seconds": secs,
                             **({"compile_s": compile_s} if engine == "torch-compile" else {})})
                print(f"  predict {len(X):,} images, {name}, {threads} thread(s), {engine:13s} {secs:6.2f} s",
                      file=sys.stderr, flush=True)
    os.environ.pop("NNFAST_THREADS", None)
    return rows


def _cache(caches, task, name, threads):
    """An inductor cache folder of its own per net, thread count and task: its first compile starts empty."""
    folder = os.path.join(caches, f"{task}-{name}-{threads}")
    os.makedirs(folder, exist_ok=True)
    return folder


def _time(engine, name, X, y, threads, cache=None):
    """{'seconds': wall-clock seconds for the engine to train on all of ``X`` (mini-batches of 10), 'cpu_s': the
    process's CPU seconds over them (None for JAX)}; the compiled PyTorch step adds its compile_s, or answers
    {'note': why it did not run}. ``threads`` None: nnfast's default."""
    if threads is None:
        os.environ.pop("NNFAST_THREADS", None)
    else:
        os.environ["NNFAST_THREADS"] = str(threads)
    if engine == "jax":  # its own process: XLA's threads are fixed when JAX starts
        from . import chapter6_jax
        return {"seconds": chapter6_jax.seconds(name, len(y), threads or len(os.sched_getaffinity(0))), "cpu_s": None}
    if engine == "torch-compile":  # its own process: inductor fixes the threads in its code; the compile apart
        return chapter6_torch.compiled("train", name, X, y, threads or len(os.sched_getaffinity(0)), cache)
    steps = None  # an engine's whole loop over mini-batches lo // 10 to hi // 10 - 1, where it has its own
    if engine == "nnfast":
        from nnfast import network3
        from nnfast.engine import net_runs
        net = network3.Network(_layers(network3, name), 10)
        step = lambda i: net._step(X[i:i + 10], y[i:i + 10], 0.03, 0.0, 5000)  # noqa: E731
        # Network.train's own loop: runs of mini-batches in one compiled call (engine.net_runs)
        steps = lambda lo, hi: net_runs.train_steps(net, network3.Network, X, y, lo // 10, hi // 10, 0.03, 0.0,  # noqa: E731
                                                    5000, 0)
    elif engine == "twin":
        from nnfast import network3
        from nnfast.twins import network3 as reference3
        twin = reference3.layers_of(network3.Network(_layers(network3, name), 10))
        rng = np.random.RandomState(0)
        X64 = X.astype(np.float64)
        step = lambda i: reference3.sgd_step(twin, X64[i:i + 10], y[i:i + 10], 0.03, 0.0, 5000, rng)  # noqa: E731
    else:
        import torch
        step_t = chapter6_torch.step(name, threads)
        Xt = torch.tensor(X.reshape(-1, 1, 28, 28))
        yt = torch.tensor(y)
        step = lambda i: step_t(Xt[i:i + 10], yt[i:i + 10])  # noqa: E731
    step(0)  # compile / warm
    if steps is not None:
        steps(0, min(40, len(y)))  # the run's first step, timed alone, then a run (never past the images: an empty
        # mini-batch's cost is NaN, and the loop stops as diverged)
    start, cpu = time.perf_counter(), time.process_time()
    if steps is not None:
        steps(0, len(y))
    for i in range(0, len(y) if steps is None else 0, 10):
        step(i)
    return {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}


def available():
    """(engines that can run here, {engine: one line on why not} for the peers that cannot)."""
    import importlib.util
    notes = {e: chapter6_torch.missing(e) for e in chapter6_torch.ENGINES if chapter6_torch.missing(e)}
    if importlib.util.find_spec("jax") is None:
        notes["jax"] = "not installed (make bench-peers installs JAX's CPU build)"
    return [e for e in ENGINES if e not in notes], notes


def run(training, rounds, gflops, engines=None, images=None, predict=True, load=True, thread_counts=None):
    """Rows: per net and thread count, each engine's seconds per 50,000-image epoch (median over rounds); a
    peer that cannot run here (not installed, no compiler, a failed compile) gets a row with its note instead.
    ``engines`` a subset of ENGINES, ``images`` the slice of every engine but the twin (default SLICE),
    ``thread_counts`` the thread counts of the training rows (default one and every core)."""
    usable, notes = available()
    engines = [e for e in (engines or ENGINES) if e in usable or e in notes]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # the steady state: on a cold numba cache the warm-up step compiles the parallel kernels here, rather than
    # the timed steps running on one thread while a helper compiles them (nnfast.engine.parallel_start)
    os.environ["NNFAST_COMPILE_HELPER"] = "0"
    thread_counts = thread_counts or sorted({1, cores})
    X, y = training
    rows = []
    load_average = [os.getloadavg()[0]] if hasattr(os, "getloadavg") else []
    with tempfile.TemporaryDirectory(prefix="nnfast-ch6-inductor-") as caches:
        for name in NETS:
            for threads in thread_counts:
                print(f"[chapter 6: {name} net, batch 10, {threads} thread(s)] {rounds} rounds ...",
                      file=sys.stderr, flush=True)
                timed = [e for e in engines if e not in notes]
                seconds, cpu, compile_s, failed = {e: [] for e in timed}, {e: [] for e in timed}, [], {}
                cache = _cache(caches, "train", name, threads)
                for r in range(rounds):
                    for engine in (timed if r % 2 == 0 else timed[::-1]):
                        if engine in failed:
                            continue
                        n = SLICE[engine] if images is None or engine == "twin" else images
                        got = _time(engine, name, X[:n], y[:n], threads, cache)
                        if "note" in got:  # torch.compile failed here: its row says why
                            failed[engine] = got["note"]
                            continue
                        if "compile_s" in got:  # torch-compile: its compile apart from the step's time
                            compile_s.append(got["compile_s"])
                        seconds[engine].append(got["seconds"] * 50_000 / n)
                        cpu[engine].append(None if got["cpu_s"] is None else got["cpu_s"] * 50_000 / n)
                for engine in engines:
                    note = notes.get(engine) or failed.get(engine)
                    if note:
                        rows.append({"net": name, "threads": threads, "engine": engine, "seconds_per_epoch": None,
                                     "gflops": None, "flop_share": None, "note": note})
                        print(f"  {engine:13s} {note}", file=sys.stderr, flush=True)
                        continue
                    secs = statistics.median(seconds[engine])
                    rows.append({"net": name, "threads": threads, "engine": engine, "seconds_per_epoch": secs,
                                 "seconds_rounds": seconds[engine],
                                 "cpu_s_per_epoch": None if None in cpu[engine] else statistics.median(cpu[engine]),
                                 "gflops": flops_per_sample(name) * 50_000 / secs / 1e9,
                                 "flop_share": flops_per_sample(name) * 50_000 / secs / 1e9 / gflops["float32"],
                                 **({"compile_s": compile_s} if engine == "torch-compile" else {})})
                    extra = (f"  (compile apart: {', '.join(f'{c:.1f}' for c in compile_s)} s)"
                             if engine == "torch-compile" else "")
                    print(f"  {engine:13s} {secs:8.1f} s/epoch{extra}", file=sys.stderr, flush=True)
        os.environ.pop("NNFAST_THREADS", None)
        predicted = prediction(X[:10_000], rounds, [e for e in engines if e in PREDICTING], thread_counts,
                               caches=caches, notes=notes) if predict else []
    load_average += [os.getloadavg()[0]] if load_average else []
    return {"rows": rows, "engines": engines, "images": images, "cores": cores, "load": load_average,
            "under_load": under_load(X, y, rounds) if load else None, "prediction": predicted}


def under_load(X, y, rounds, n=5000):
    """nnfast's default thread setting against --threads 1 with one other CPU-bound process running (a laptop
    with a browser busy, a sweep's other workers), alternating; the two-conv net, ``n`` images a timing."""
    import subprocess
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        times = {"default": [], "1": []}
        for r in range(rounds):
            for key in (("default", "1") if r % 2 == 0 else ("1", "default")):
                times[key].append(_time("nnfast", "two-conv", X[:n], y[:n], None if key == "default" else 1)["seconds"])
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


def main(argv=None):
    """``python -m benchmarks.chapter6``: the chapter 6 rows alone, printed as `make bench` reports them."""
    import argparse
    import json
    argv = sys.argv[1:] if argv is None else argv
    if "NNFAST_BENCH_ENV" not in os.environ:  # one BLAS / OpenMP thread unless a row asks for more, as `make bench`
        env = dict(os.environ, NNFAST_BENCH_ENV="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.chapter6", *argv], env)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chapter6", description=main.__doc__.split(":")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds alternating the engines (default 3)")
    parser.add_argument("--images", type=int, default=None,
                        help="images timed per round for every engine but the twin (default: SLICE)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, of {', '.join(ENGINES)}")
    parser.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1 and every core)")
    parser.add_argument("--no-prediction", action="store_true", help="skip the prediction table")
    parser.add_argument("--no-load", action="store_true", help="skip the row beside a busy process")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    try:
        thread_counts = [int(t) for t in args.threads.split(",")] if args.threads else None
    except ValueError:
        thread_counts = [0]
    if unknown or args.rounds < 1 or (args.images is not None and (args.images < 10 or args.images % 10)) or (
            thread_counts and min(thread_counts) < 1):
        parser.error(f"unknown engine {unknown[0]!r}" if unknown else "--rounds and --threads must be whole numbers "
                     "of at least 1, --images a multiple of 10, at least 10")
    from nnfast import mnist_loader

    from . import limits, report
    gflops = {"float32": limits.matmul_gflops(np.float32)}
    X, y = mnist_loader.load_data()[0]
    out = run((X, y), args.rounds, gflops, engines, args.images, not args.no_prediction, not args.no_load,
              thread_counts)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    print("\n".join(report.chapter6_lines(out)))


if __name__ == "__main__":
    main()
