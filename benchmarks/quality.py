"""`make bench-quality`: does each engine learn as well as the book's loop? Accuracy over seeds, not one run.

At the book's eta 3.0 a single run's accuracy is chaotic (rounding differences between any two
implementations grow over thousands of mini-batches, and a run can settle at 87% or 97%), so one
number per engine says little. This runs every engine of the speed table on each configuration for
SEEDS seeds x EPOCHS epochs and reports the best-epoch test accuracy as mean ± sd (and the range),
the book's per-sample loop included at 784-30-10 batch 10. Each seed gives every engine the same
initial weights and mini-batches. Takes a while (the per-sample loop alone is ~10 minutes); writes
benchmarks/results/quality.json and quality.md.

    python -m benchmarks.quality [--seeds 5] [--epochs 30] [--out FOLDER]
"""

import os
import sys

if "NNFAST_BENCH_ENV" not in os.environ:  # one BLAS / XLA / torch thread: accuracy does not depend on threads
    env = dict(os.environ, NNFAST_BENCH_ENV="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks.quality", *sys.argv[1:]], env)

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from nnfast import mnist_loader  # noqa: E402
from nnfast.peers.engines import chapter, engine_id  # noqa: E402

CONFIGS = [(30, 10), (30, 100), (100, 10), (100, 100)]
ETA = 3.0


class _EpochAccuracy:
    """A stdout stand-in: on each of SGD's 'Epoch' lines, the network's test accuracy (one matrix pass)."""

    def __init__(self, net, X, labels):
        self.net, self.X, self.labels, self.correct, self._partial = net, X, labels, [], ""

    def write(self, text):
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            if line.startswith("Epoch"):
                a = self.X
                for w, b in zip(self.net.weights, self.net.biases):
                    a = 1.0 / (1.0 + np.exp(-(a @ np.asarray(w, dtype=np.float64).T + np.asarray(b).reshape(-1))))
                self.correct.append(int(np.count_nonzero(np.argmax(a, axis=1) == self.labels)))
        return len(text)

    def flush(self):
        pass


def best_accuracy(engine, sizes, training, X_test, labels, batch, epochs, seed):
    """Best test accuracy over ``epochs`` epochs of the book's SGD, from ``seed``'s weights and mini-batches."""
    import contextlib
    np.random.seed(seed)
    net = engine.make(sizes)
    random.seed(seed)
    clock = _EpochAccuracy(net, X_test, labels)
    with contextlib.redirect_stdout(clock):
        net.SGD(list(training), epochs, batch, ETA)
    return max(clock.correct) / len(labels)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--engines", default="",
                        help="comma-separated engine names (e.g. nnfast,nnfast-dense): measure only these and keep "
                             "the other engines' rows of the existing quality.json (after a change to one engine)")
    args = parser.parse_args(argv)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    training, _, test = mnist_loader.load_data_wrapper()
    X_test = np.hstack([x for x, _ in test]).T.astype(np.float64)
    labels = np.array([y for _, y in test])
    engines = [e for e in chapter(1) if not e.missing()]
    chosen = {name.strip() for name in args.engines.split(",") if name.strip()}
    unknown = chosen - {e.name for e in chapter(1)}
    if unknown:
        raise SystemExit(f"unknown engine(s): {', '.join(sorted(unknown))}")
    kept = {}
    if chosen:
        engines = [e for e in engines if e.name in chosen]
        with open(os.path.join(args.out, "quality.json")) as f:
            previous = json.load(f)
        if (previous["seeds"], previous["epochs"]) != (args.seeds, args.epochs):
            raise SystemExit(f"quality.json has {previous['seeds']} seeds x {previous['epochs']} epochs: "
                             "measure the same, or every engine")
        for r in previous["rows"]:
            r.setdefault("when", previous["when"])
        kept = {(tuple(r["sizes"]), r["batch"], r["engine"], r["dtype"]): r for r in previous["rows"]}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for hidden, batch in CONFIGS:
        sizes = [784, hidden, 10]
        for engine in chapter(1):
            if engine not in engines:
                old = kept.get((tuple(sizes), batch, engine.name, engine.dtype))
                if old:
                    rows.append(old)
                continue
            if engine.name == "reference" and (hidden, batch) != (30, 10):
                continue  # the per-sample loop takes ~20 s an epoch at 784-100-10: one configuration is its yardstick
            started = time.perf_counter()
            accs = [best_accuracy(engine, sizes, training, X_test, labels, batch, args.epochs, seed)
                    for seed in range(1, args.seeds + 1)]
            rows.append({"sizes": sizes, "batch": batch, "engine": engine.name, "dtype": engine.dtype,
                         "accuracies": accs, "mean": statistics.fmean(accs), "sd": statistics.stdev(accs),
                         "seconds": time.perf_counter() - started, "when": now})
            print(f"  {'-'.join(map(str, sizes))} b{batch} {engine_id(engine):16s} "
                  f"{100 * rows[-1]['mean']:.2f} ± {100 * rows[-1]['sd']:.2f}  ({rows[-1]['seconds']:.0f} s)",
                  file=sys.stderr, flush=True)
    result = {"when": now,
              "seeds": args.seeds, "epochs": args.epochs, "eta": ETA, "rows": rows,
              "not_installed": [f"{engine_id(e)}: {e.missing()}" for e in chapter(1) if e.missing()]}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "quality.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    text = markdown(result)
    with open(os.path.join(args.out, "quality.md"), "w") as f:
        f.write(text)
    print(text)


def markdown(result):
    lines = [f"# Learning quality ({result['when']})", "",
             f"Best-epoch test accuracy over {result['epochs']} epochs at eta {result['eta']}, seeds 1-{result['seeds']} "
             "(each seed: the same initial weights and mini-batches for every engine), mean ± sd and range:", "",
             "| sizes | batch | engine | dtype | mean ± sd | min - max | measured |",
             "|---|---:|---|---|---:|---:|---|"]
    for r in result["rows"]:
        lines.append(f"| {'-'.join(map(str, r['sizes']))} | {r['batch']} | {r['engine']} | {r['dtype']} | "
                     f"{100 * r['mean']:.2f} ± {100 * r['sd']:.2f} | "
                     f"{100 * min(r['accuracies']):.2f} - {100 * max(r['accuracies']):.2f} | "
                     f"{r.get('when', result['when'])} |")
    if result.get("not_installed"):
        lines += ["", "Not installed: " + "; ".join(result["not_installed"]) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
