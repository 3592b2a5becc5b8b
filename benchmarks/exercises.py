"""The book's chapter 3 problems (``examples/``) against the same changes in the book's per-sample style.

Each row trains one epoch on the same 2,000 MNIST images (mini-batch 10,
784-30-10, the same seeds and shuffles; one row at mini-batch 100) with the example's class and with its
twin in ``nnfast.twins.exercises``, rounds alternating the two, and gives the
medians and the ratio twin / example. The schedule's row is one ``SGD`` call
of 3 epochs with its validation accuracy on 1,000 images. The last rows are
learners' changes that leave the kernels, against the book's code with the
same change: the README's two tanh lines with monitoring (per-sample
``feedforward`` calls dominate), and a cost whose ``delta`` mixes a
mini-batch's columns (nnfast calls it one sample at a time).

``python -m benchmarks.exercises`` prints the rows alone.
"""

import contextlib
import importlib.util
import io
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from nnfast import network2
from nnfast.twins import exercises
from nnfast.twins import network as twin1
from nnfast.twins import network2 as twin2

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SIZES = [784, 30, 10]
SLICE = 2000


def example(name):
    """The module ``examples/<name>.py``."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cases():
    """(row name, nnfast class, twin class, constructor kwargs, SGD kwargs)."""
    return [
        ("momentum (mu 0.9, lmbda 5)", example("momentum").MomentumNetwork, exercises.MomentumNetwork, {},
         {"lmbda": 5.0}),
        ("momentum, nnfast in float32", example("momentum").MomentumNetwork, exercises.MomentumNetwork,
         {"dtype": np.float32}, {"lmbda": 5.0}),
        ("momentum, mini-batch 100", example("momentum").MomentumNetwork, exercises.MomentumNetwork, {},
         {"lmbda": 5.0, "mini_batch_size": 100}),
        ("L1 (lmbda 5)", example("l1").L1Network, exercises.L1Network, {}, {"lmbda": 5.0}),
        ("tanh (quadratic cost)", example("tanh").TanhNetwork, exercises.TanhNetwork,
         {"cost": network2.QuadraticCost}, {}),
        ("softmax + log-likelihood", example("softmax").SoftmaxNetwork, exercises.SoftmaxNetwork, {},
         {"lmbda": 5.0}),
    ]


def _tanh_prime(z):
    return 1 - np.tanh(z) ** 2


@contextlib.contextmanager
def _readme_tanh(*modules):
    """The README's tanh lines, ``sigmoid = np.tanh`` and ``sigmoid_prime = ...``, in ``modules`` meanwhile."""
    saved = [(m, name, m.__dict__[name]) for m in modules for name in ("sigmoid", "sigmoid_prime") if name in m.__dict__]
    for module, name, _ in saved:
        setattr(module, name, np.tanh if name == "sigmoid" else _tanh_prime)
    try:
        yield
    finally:
        for module, name, function in saved:
            setattr(module, name, function)


class ReplacedTanh(network2.Network):
    """``network2`` with its module ``sigmoid`` and ``sigmoid_prime`` replaced by tanh's while it trains."""

    def SGD(self, *args, **kw):
        with _readme_tanh(network2):
            return super().SGD(*args, **kw)


class TwinReplacedTanh(twin2.Network):
    """The book's per-sample code with the same two lines (its twin takes the sigmoid from chapter 1's)."""

    def SGD(self, *args, **kw):
        with _readme_tanh(twin1, twin2):
            return super().SGD(*args, **kw)


class SoftmaxAsLearnersWriteIt:
    """Chapter 3's softmax delta as learners write it, ``e / np.sum(e) - y``: right one sample at a time, so nnfast
    finds it mixes a mini-batch's columns and calls it per sample."""

    @staticmethod
    def fn(a, y):
        return float(-np.sum(np.nan_to_num(y * np.log(a))))

    @staticmethod
    def delta(z, a, y):
        e = np.exp(z)
        return e / np.sum(e) - y


def _changed_code_cases(validation):
    """Learners' changes that leave the kernels, as a whole monitored ``SGD`` (the issue's scripts)."""
    monitored = {"evaluation_data": validation[:1000], "monitor_evaluation_accuracy": True,
                 "monitor_training_cost": True}
    return [
        ("README's tanh lines (module functions), monitored", ReplacedTanh, TwinReplacedTanh,
         {"cost": network2.QuadraticCost}, monitored),
        ("own cost whose delta mixes columns (run per sample)", network2.Network, twin2.Network,
         {"cost": SoftmaxAsLearnersWriteIt}, {}),
    ]


def _timed(net, data, epochs, mini_batch_size=10, **kw):
    random.seed(5)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        net.SGD(list(data), epochs, mini_batch_size, 0.1, **kw)
        return time.perf_counter() - start


def run(training, validation, rounds=3):
    data = training[:SLICE]
    rows = []
    print(f"[chapter 3 problems: examples/ against the per-sample versions, {SLICE:,} images, {rounds} rounds]",
          file=sys.stderr, flush=True)
    cases = _cases()
    schedule_kw = {"evaluation_data": validation[:1000], "patience": 1}
    cases.append(("learning-rate schedule (3 epochs, accuracy each)", example("schedule").ScheduledNetwork,
                  exercises.ScheduledNetwork, {}, schedule_kw))
    cases += _changed_code_cases(validation)
    for name, fast_cls, twin_cls, make_kw, sgd_kw in cases:
        epochs = 3 if "schedule" in name else 1
        twin_make = {k: v for k, v in make_kw.items() if k != "dtype"}
        nets = []
        for cls, kw in ((fast_cls, make_kw), (twin_cls, twin_make)):
            np.random.seed(2)
            nets.append(cls(SIZES, **kw))
        _timed(nets[0], data[:100], 1, **sgd_kw)  # compile and warm
        times = ([], [])
        for r in range(rounds):
            for i in ((0, 1) if r % 2 == 0 else (1, 0)):
                times[i].append(_timed(nets[i], data, epochs, **sgd_kw))
        fast, twin = statistics.median(times[0]), statistics.median(times[1])
        rows.append({"problem": name, "nnfast_s": fast, "book_s": twin, "vs_book": twin / fast})
        print(f"  {name:52s} nnfast {fast:7.3f} s  book-style {twin:7.3f} s  {twin / fast:6.2f}x",
              file=sys.stderr, flush=True)
    return {"slice": SLICE, "rounds": rounds, "sizes": SIZES, "rows": rows}


if __name__ == "__main__":
    from nnfast import mnist_loader
    tr, va, _ = mnist_loader.load_data_wrapper()
    run(tr, va)
