"""Seconds per epoch, engine against engine, measured side by side in one process.

Every engine starts from the same ``np.random.seed`` weights and, round by
round, gets the same ``random.seed`` and the same list, so all see the same
mini-batches. Rounds alternate the engines (A B C A B C ...) so drift of this
shared machine hits all alike. Within a round each engine runs ``SGD`` for two
epochs and the second is timed from the book's own printed lines (the first
carries one-off costs: nnfast's list-to-matrix conversion, numba dispatch).
The reference per-sample loop is timed for one epoch on a fixed slice and
scaled to the full set (it is linear in the number of samples).
"""

import contextlib
import random
import statistics
import time

import numpy as np

from nnfast.peers.engines import engine_id


class EpochClock:
    """A stdout stand-in that records when each 'Epoch ...' line is printed."""

    def __init__(self):
        self.stamps = []
        self._partial = ""

    def write(self, text):
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            if line.startswith("Epoch"):
                self.stamps.append(time.perf_counter())
        return len(text)

    def flush(self):
        pass


def timed_sgd(net, data, epochs, batch, eta, **sgd_kwargs):
    """(start, [time each epoch line appeared]) for one SGD call, printing nothing.

    network2's first line of an epoch ("Epoch j training complete") comes
    before its monitoring, so the time between two such lines is one epoch of
    training plus one epoch's monitoring, as between chapter 1's lines.
    """
    clock = EpochClock()
    with contextlib.redirect_stdout(clock):
        start = time.perf_counter()
        net.SGD(data, epochs, batch, eta, **sgd_kwargs)
    return start, clock.stamps


def compare(engines, sizes, training, batch, eta, rounds, reference_slice, seed=0, sgd_kwargs=None):
    """Per engine: seconds per epoch for each round, ratio to the reference each round, and the net.

    ``engines[0]`` must be the reference (chapter 1's or chapter 3's);
    ``sgd_kwargs`` go to every ``SGD`` call (chapter 3's lmbda and monitors).
    Returns {engine_id: dict}.
    """
    sgd_kwargs = sgd_kwargs or {}
    n = len(training)
    nets = {}
    for engine in engines:
        np.random.seed(seed)
        nets[engine_id(engine)] = engine.make(sizes)
        warm = list(training[:max(batch * 3, 100)])
        timed_sgd(nets[engine_id(engine)], warm, 1, batch, eta, **sgd_kwargs)  # compile / warm caches
    seconds = {engine_id(e): [] for e in engines}
    for r in range(rounds):
        for engine in engines:
            key = engine_id(engine)
            random.seed(1000 + r)
            if engine.name.startswith("reference"):
                data = list(training[:reference_slice])
                start, stamps = timed_sgd(nets[key], data, 1, batch, eta, **sgd_kwargs)
                seconds[key].append((stamps[0] - start) * n / len(data))
            else:
                start, stamps = timed_sgd(nets[key], list(training), 2, batch, eta, **sgd_kwargs)
                seconds[key].append(stamps[1] - stamps[0])
    ref = seconds[engine_id(engines[0])]
    return {key: {"seconds": s, "ratios": [a / b for a, b in zip(ref, s)], "net": nets[key]}
            for key, s in seconds.items()}


def median(values):
    return statistics.median(values) if values else float("nan")
