"""The book's published results, one run each: ``nnfast book`` runs them with the book's settings.

Each ``BookRun`` says what the book ran, the figure it published (DESIGN
§1d) and how the book measured it (best epoch on the test set, or on the
validation set for chapter 3's 98.04% run). ``run(name)`` trains it the way
the book's scripts do (the book's module calls, the book's draws) and returns
a record: the book's figure, nnfast's, the difference and the wall time.
Chapter 1's [784, 100, 10] run is reported as a distribution over seeds (the
book's footnote: some runs give much worse results), beside the same net
with chapter 3's initialisation, which fixes it.
"""

import contextlib
import io
import random
import statistics
import time
from typing import Callable, NamedTuple

import numpy as np


class BookRun(NamedTuple):
    name: str
    chapter: int
    what: str
    book: float  # the book's figure, percent
    measured_on: str  # how the book measured it
    runner: Callable  # (data, seed) -> dict with "percent" and optional details
    seeded: bool = True  # False: deterministic (baselines) or seeded inside (a distribution already)


def _seed(seed):
    random.seed(seed)
    np.random.seed(seed)


def _best(accuracies, total):
    """(best percent, its epoch) from per-epoch correct counts."""
    best = max(range(len(accuracies)), key=lambda j: accuracies[j])
    return 100.0 * accuracies[best] / total, best


def _chapter1(hidden, epochs=30, eta=3.0, seeds=None):
    def runner(data, seed):
        from .. import network
        training, _, test = data[:3]
        per_seed = []
        for s in (seeds or [seed]):
            _seed(s)
            net = network.Network([784, hidden, 10])
            counts = [r.correct for r in net.train_epochs(list(training), epochs, 10, eta, test)]  # fresh order
            per_seed.append(_best(counts, len(test)))
        percent, epoch = per_seed[0]
        record = {"percent": percent, "best_epoch": epoch}
        if seeds:
            record.update(_distribution([p for p, _ in per_seed], seeds))
        return record
    return runner


def _distribution(values, seeds):
    return {"seeds": list(seeds), "per_seed": [round(v, 2) for v in values],
            "mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "percent": statistics.median(values)}


def _chapter1_100_with_twin(data, seed, seeds=tuple(range(1, 11)), twin_seeds=(1, 2), twin_epochs=10):
    """Chapter 1's [784, 100, 10] over ``seeds``; the book's per-sample loop on a few; chapter 3's init beside."""
    from .. import network2
    from ..twins import network as reference
    training, _, test = data[:3]
    nnfast_runs = _chapter1(100, seeds=list(seeds))(data, seed)
    fixed = []
    for s in seeds:  # the same net, cost and eta, drawn with chapter 3's 1/sqrt(n_in) weights
        _seed(s)
        net = network2.Network([784, 100, 10], cost=network2.QuadraticCost)
        counts = [r.evaluation_accuracy for r in net.train_epochs(list(training), 30, 10, 3.0, 0.0, test,
                                                                  monitor_evaluation_accuracy=True)]
        fixed.append(_best(counts, len(test))[0])
    twin = []
    for s in twin_seeds:  # the book's own per-sample algorithm, shorter: it takes ~4 s an epoch
        _seed(s)
        ref = reference.Network([784, 100, 10])
        data_list, best = list(training), 0
        for _ in range(twin_epochs):
            with contextlib.redirect_stdout(io.StringIO()):  # its "Epoch 0 complete" lines
                ref.SGD(data_list, 1, 10, 3.0)
            best = max(best, ref.evaluate(test))
        twin.append(100.0 * best / len(test))
    nnfast_runs["chapter3_init"] = _distribution(fixed, seeds)
    nnfast_runs["reference_twin"] = {"seeds": list(twin_seeds), "epochs": twin_epochs,
                                     "per_seed": [round(v, 2) for v in twin]}
    return nnfast_runs


def _chapter3(hidden, epochs, eta, lmbda, init, on="test"):
    def runner(data, seed):
        from .. import network2
        training, validation, test = data[:3]
        _seed(seed)
        net = network2.Network([784, hidden, 10], cost=network2.CrossEntropyCost)
        if init == "large":
            net.large_weight_initializer()
        evaluation = validation if on == "validation" else test
        counts = [r.evaluation_accuracy for r in net.train_epochs(list(training), epochs, 10, eta, lmbda,
                                                                  evaluation, monitor_evaluation_accuracy=True)]
        percent, epoch = _best(counts, len(evaluation))
        return {"percent": percent, "best_epoch": epoch}
    return runner


def _baseline(kind, gamma="auto"):
    def runner(data, seed):
        from .. import mnist_loader
        from . import baselines
        training, _, test = mnist_loader.load_data(data[3])
        correct = baselines.darkness(training, test) if kind == "darkness" else baselines.svm(training, test, gamma)
        return {"percent": 100.0 * correct / len(test[1]), "correct": correct}
    return runner


def _chapter6(build, epochs, eta, lmbda=0.0, expanded=False):
    """The book's chapter 6 protocol: the test accuracy at the epoch of best validation accuracy."""
    def runner(data, seed):
        import contextlib
        import io

        from .. import network3
        _seed(seed)
        training, validation, test = network3.load_data_shared(data[3], expanded=expanded)
        net = network3.Network(build(network3, 10), 10)
        epoch_seconds = []
        with contextlib.redirect_stdout(io.StringIO()):
            last = time.perf_counter()
            for line in net.train(training, epochs, 10, eta, validation, test, lmbda):
                if line.startswith("Epoch"):
                    now = time.perf_counter()
                    epoch_seconds.append(now - last)
                    last = now
        from ..engine.dense import compute_threads
        return {"percent": 100.0 * net.test_accuracy, "best_validation": round(100.0 * net.best_validation_accuracy, 2),
                "best_iteration": net.best_iteration, "epoch_seconds": round(statistics.median(epoch_seconds), 1),
                "threads": compute_threads()}
    return runner


def _ensemble_member(build_name, epochs, eta, lmbda, expanded, data_path, seed):
    """One voter of the ensemble, trained as ``_chapter6`` trains (in a worker process or here): its seed, its
    test accuracy at its best validation epoch (the book's protocol), and its final net's test predictions."""
    from .. import network3
    _seed(seed)
    training, validation, test = network3.load_data_shared(data_path, expanded=expanded)
    net = network3.Network(_BUILDS[build_name](network3, 10), 10)
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in net.train(training, epochs, 10, eta, validation, test, lmbda):
            pass
    return {"seed": seed, "percent": round(100.0 * net.test_accuracy, 2),
            "best_validation": round(100.0 * net.best_validation_accuracy, 2)}, net.predict(test[0]), test[1]


def _ensemble(build_name, epochs, eta, lmbda=0.0, expanded=False, members=5):
    """The book's vote of ``members`` nets (conv.py's ``ensemble``): each trained with its own seed, as
    separate processes on the available cores (each on one thread), then each test image's class by plurality."""
    def runner(data, seed):
        import concurrent.futures
        import multiprocessing
        import os

        from ..engine.dense import compute_threads
        from .vote import plurality
        seeds = [seed + i for i in range(members)]
        args = [(build_name, epochs, eta, lmbda, expanded, data[3], s) for s in seeds]
        workers = min(members, compute_threads())
        if workers > 1:
            previous = os.environ.get("NNFAST_THREADS")
            os.environ["NNFAST_THREADS"] = "1"  # a process per core: each trains on one thread
            try:
                with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    done = list(pool.map(_ensemble_member, *zip(*args)))
            finally:
                if previous is None:
                    os.environ.pop("NNFAST_THREADS", None)
                else:
                    os.environ["NNFAST_THREADS"] = previous
        else:
            done = [_ensemble_member(*a) for a in args]
        labels = done[0][2]
        vote = plurality([d[1] for d in done], 10)
        return {"percent": 100.0 * float(np.mean(vote == labels)), "members": [d[0] for d in done],
                "workers": workers, "voted_on": int(len(labels))}
    return runner


def _shallow(n3, m):
    return [n3.FullyConnectedLayer(784, 100), n3.SoftmaxLayer(100, 10)]


def _conv1(n3, m):
    return [n3.ConvPoolLayer((20, 1, 5, 5), (m, 1, 28, 28)), n3.FullyConnectedLayer(20 * 12 * 12, 100),
            n3.SoftmaxLayer(100, 10)]


def _conv2(n3, m, act=None, extra_fc=False):
    act = act or n3.sigmoid
    layers = [n3.ConvPoolLayer((20, 1, 5, 5), (m, 1, 28, 28), activation_fn=act),
              n3.ConvPoolLayer((40, 20, 5, 5), (m, 20, 12, 12), activation_fn=act),
              n3.FullyConnectedLayer(40 * 4 * 4, 100, activation_fn=act)]
    if extra_fc:
        layers.append(n3.FullyConnectedLayer(100, 100, activation_fn=act))
    return layers + [n3.SoftmaxLayer(100, 10)]


def _dropout(n3, m):
    return [n3.ConvPoolLayer((20, 1, 5, 5), (m, 1, 28, 28), activation_fn=n3.ReLU),
            n3.ConvPoolLayer((40, 20, 5, 5), (m, 20, 12, 12), activation_fn=n3.ReLU),
            n3.FullyConnectedLayer(640, 1000, activation_fn=n3.ReLU, p_dropout=0.5),
            n3.FullyConnectedLayer(1000, 1000, activation_fn=n3.ReLU, p_dropout=0.5),
            n3.SoftmaxLayer(1000, 10, p_dropout=0.5)]


_BUILDS = {"shallow": _shallow, "conv1": _conv1, "dropout": _dropout}  # by name: a worker process looks them up

RUNS = (
    BookRun("ch1-30", 1, "network [784,30,10], quadratic cost, 30 epochs, batch 10, eta 3.0", 95.42,
            "best epoch, test", _chapter1(30)),
    BookRun("ch1-100", 1, "network [784,100,10], quadratic cost, 30 epochs, batch 10, eta 3.0 (seeds 1-10)", 96.59,
            "best epoch, test; median over seeds", _chapter1_100_with_twin, seeded=False),
    BookRun("ch1-darkness", 1, "average darkness baseline", 22.25, "test", _baseline("darkness"), seeded=False),
    BookRun("ch1-svm", 1, "SVM baseline, scikit-learn SVC(gamma='auto'), the book's default (tens of minutes)", 94.35,
            "test", _baseline("svm"), seeded=False),
    BookRun("ch3-30", 3, "network2 [784,30,10], cross-entropy, large init, 30 epochs, eta 0.5", 95.49,
            "best epoch, test", _chapter3(30, 30, 0.5, 0.0, "large")),
    BookRun("ch3-100", 3, "network2 [784,100,10], cross-entropy, large init, 30 epochs, eta 0.5", 96.82,
            "best epoch, test", _chapter3(100, 30, 0.5, 0.0, "large")),
    BookRun("ch3-30-l2", 3, "network2 [784,30,10], cross-entropy, large init, 30 epochs, eta 0.5, lmbda 5.0", 96.49,
            "best epoch, test", _chapter3(30, 30, 0.5, 5.0, "large")),
    BookRun("ch3-100-98", 3, "network2 [784,100,10], cross-entropy, default init, 60 epochs, eta 0.1, lmbda 5.0",
            98.04, "best epoch, validation", _chapter3(100, 60, 0.1, 5.0, "default", on="validation")),
    BookRun("ch6-shallow", 6, "network3 FC(784,100) + softmax, 60 epochs, eta 0.1", 97.80,
            "test at best validation", _chapter6(_shallow, 60, 0.1)),
    BookRun("ch6-conv1", 6, "network3 conv 20x5x5 + pool 2 + FC 100 + softmax, 60 epochs, eta 0.1", 98.78,
            "test at best validation", _chapter6(_conv1, 60, 0.1)),
    BookRun("ch6-conv2", 6, "network3 two conv-pool layers (20, 40) + FC 100 + softmax, 60 epochs, eta 0.1", 99.06,
            "test at best validation", _chapter6(_conv2, 60, 0.1)),
    BookRun("ch6-relu", 6, "network3 ch6-conv2 with ReLU, 60 epochs, eta 0.03, lmbda 0.1", 99.23,
            "test at best validation", _chapter6(lambda n3, m: _conv2(n3, m, n3.ReLU), 60, 0.03, 0.1)),
    BookRun("ch6-expanded", 6, "network3 ch6-relu on the 250,000-image expanded data (hours on 2 cores)", 99.37,
            "test at best validation", _chapter6(lambda n3, m: _conv2(n3, m, n3.ReLU), 60, 0.03, 0.1, True)),
    BookRun("ch6-fc2", 6, "network3 ch6-expanded with a second FC 100 layer (hours on 2 cores)", 99.43,
            "test at best validation", _chapter6(lambda n3, m: _conv2(n3, m, n3.ReLU, True), 60, 0.03, 0.1, True)),
    BookRun("ch6-dropout", 6, "network3 two ReLU conv-pools + FC 1000 + FC 1000 + softmax, dropout 0.5, expanded, "
            "40 epochs, eta 0.03 (about 17 minutes on 2 cores)", 99.60, "test at best validation",
            _chapter6(_dropout, 40, 0.03, expanded=True)),
    BookRun("ch6-ensemble", 6, "the vote of five ch6-dropout nets (seeds SEED..SEED+4), trained as parallel "
            "processes (a day on 2 cores)", 99.67, "test, the vote of the five final nets",
            _ensemble("dropout", 40, 0.03, expanded=True)),
)
BY_NAME = {r.name: r for r in RUNS}


def run(name, seed=1, data_path=None, data=None, seeds=1):
    """Run the book's ``name`` and return its record (book figure, nnfast's, difference, seconds).

    ``seeds > 1`` runs seeds ``seed .. seed + seeds - 1`` and reports their
    median with every seed's figure (for runs that miss: a distribution, not
    one lucky number). Each run starts from the loader's order of the training
    list, as the book's scripts do (SGD shuffles the list it is given in place).
    """
    from .. import mnist_loader
    book_run = BY_NAME[name]
    if data is None:
        data = (*mnist_loader.load_data_wrapper(data_path), data_path)
    fresh = (list(data[0]), data[1], data[2], data[3])
    start = time.perf_counter()
    if seeds > 1 and book_run.seeded:
        chosen = list(range(seed, seed + seeds))
        per_seed = [book_run.runner((list(data[0]), *data[1:]), s)["percent"] for s in chosen]
        record = _distribution(per_seed, chosen)
    else:
        record = book_run.runner(fresh, seed)
    seconds = time.perf_counter() - start
    percent = record.pop("percent")
    return {"name": name, "chapter": book_run.chapter, "what": book_run.what, "measured_on": book_run.measured_on,
            "book": book_run.book, "nnfast": round(percent, 2), "difference": round(percent - book_run.book, 2),
            "seed": seed, "seconds": round(seconds, 1), **record}


def write_results(records, folder):
    """Merge ``records`` into ``folder``/book.json (one entry per run name, newest wins) and rewrite book.md."""
    import datetime
    import json
    import os

    from .._files import write_atomically
    path = os.path.join(folder, "book.json")
    saved = {}
    if os.path.exists(path):
        try:
            with open(path) as f:
                saved = {r["name"]: r for r in json.load(f)["runs"]}
        except (OSError, ValueError, KeyError, TypeError):
            saved = {}  # a damaged results file is rebuilt from this run's records
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for r in records:
        saved[r["name"]] = {**r, "when": when}
    ordered = [saved[r.name] for r in RUNS if r.name in saved]
    text = json.dumps({"runs": ordered}, indent=2) + "\n"
    write_atomically(path, lambda f: f.write(text.encode()))
    md = markdown(ordered)
    write_atomically(os.path.join(folder, "book.md"), lambda f: f.write(md.encode()))
    return md


def markdown(records):
    lines = ["| run | what | measured | book | nnfast | difference | wall time | per epoch |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    notes = []
    for r in records:
        per_epoch = (f"{r['epoch_seconds']:.1f} s" + (f" ({r['threads']} thr)" if r.get("threads") else "")
                     if r.get("epoch_seconds") else "-")
        lines.append(f"| {r['name']} | {r['what']} | {r['measured_on']} | {r['book']:.2f}% | {r['nnfast']:.2f}% | "
                     f"{r['difference']:+.2f} | {r['seconds']:.0f} s | {per_epoch} |")
        if "per_seed" in r:
            notes.append(_distribution_note(r))
    return "\n".join(lines + [""] + notes) + "\n"


def _distribution_note(r):
    text = (f"{r['name']}, best accuracy per seed {r['seeds'][0]}-{r['seeds'][-1]}: "
            + ", ".join(f"{v:.2f}" for v in r["per_seed"])
            + f" (mean {r['mean']:.2f} ± {r['sd']:.2f}, median {r['nnfast']:.2f}).")
    if "chapter3_init" in r:
        c = r["chapter3_init"]
        text += (f" The same net, cost and eta with chapter 3's N(0, 1/n_in) weights: "
                 + ", ".join(f"{v:.2f}" for v in c["per_seed"]) + f" (mean {c['mean']:.2f} ± {c['sd']:.2f}).")
    if "reference_twin" in r:
        t = r["reference_twin"]
        text += (f" The book's own per-sample loop, {t['epochs']} epochs, seeds {', '.join(map(str, t['seeds']))}: "
                 + ", ".join(f"{v:.2f}" for v in t["per_seed"]) + ".")
    return text + "\n"
