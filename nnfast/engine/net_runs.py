"""Chapter 6's training loop between two of the book's printed lines: runs of mini-batches in one compiled call.

``network3.Network.train`` hands each stretch of mini-batches between its "Training mini-batch number" lines (and
the epoch's end) to ``train_steps``. Where the net's step is one compiled call (``net_step.NetStep``) the stretch
goes in runs (``NetStep.run``): a run's dropout masks drawn at once in the book's order, its steps in one call on
one thread (a thin loop of per-step calls on several), so the ~44 us of Python and dispatch around a ~900 us
two-conv step is paid once a run. The weights after a run equal the per-step code's bit for bit: the same
kernel, the same numbers from the dropout stream. Runs never cross a printed line, so nothing a learner's code
sees between steps changes; and where a learner could see a difference (a subclass of ``Network`` that overrides
a method the step goes through) every step goes through ``Network._step`` as before. A run is kept short
(``NetStep.run_length``: at most ~50 ms) so that Ctrl-C stays prompt: it lands when the run has ended.

Measured (two-conv net, one thread, 100 MNIST mini-batches under callgrind): the instructions outside the compiled
step fell from ~310,000 to ~35,000 a mini-batch (2.047e9 to 2.005e9 in all, -2.0%); process CPU over 3,000
images, fresh processes alternated with the per-step code, medians of 6 on a busy 2-core machine: two-conv
0.300 to 0.282 s, dropout 0.605 to 0.566 s (1.07x both).
"""

import math
import time

import numpy as np

from .blas_threads import held

# the Network methods a step goes through: a learner's override of any of them keeps the per-step path
BETWEEN_STEPS = ("_step", "_threads_for_step", "_net_step", "_layers_step", "_conv_engine")


def train_steps(net, book, X, y, start, stop, eta, lmbda, num_training_batches, epoch):
    """Mini-batches ``start`` to ``stop - 1`` of epoch ``epoch`` (``X``: the net's dtype, ``y``: labels) on ``net``,
    a ``book`` network (``network3.Network`` or a subclass); raises "training diverged at mini-batch N" at the
    first step whose cost is NaN, as the book's loop does."""
    m = net.mini_batch_size
    plain = all(getattr(type(net), name) is getattr(book, name) for name in BETWEEN_STEPS)
    index = start
    while index < stop:
        if plain:
            costs = _run(net, X, y, index, stop, eta, lmbda, num_training_batches, epoch)
        else:
            costs = [net._step(X[index * m:(index + 1) * m], y[index * m:(index + 1) * m], eta, lmbda,
                               num_training_batches)]
        for i, cost in enumerate(costs):
            if math.isnan(cost):
                raise ValueError(f"training diverged at mini-batch {num_training_batches * epoch + index + i}"
                                 f": try a smaller eta (it was {eta})")
        index += len(costs)


def _run(net, X, y, index, stop, eta, lmbda, num_training_batches, epoch):
    """The costs of a run of mini-batches from ``index`` (at least one; fewer than asked where one's is NaN)."""
    m = net.mini_batch_size
    threads = net._threads_for_step()  # asked once a run: it also starts the compile helpers (parallel_start)
    whole = None if net._warming else net._net_step()
    count = 1
    if whole is not None and whole.seconds_per_step is not None:  # the first run, of one step, times a step
        count = min(stop - index, whole.run_length(m))
        if net._chooser is not None:
            count = min(count, net._chooser.steady())
    x, labels = X[index * m:(index + count) * m], y[index * m:(index + count) * m]
    if whole is None:
        return [net._step(x, labels, eta, lmbda, num_training_batches, threads)]
    start = time.perf_counter()
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    step = net.dtype.type(eta)
    keep = net.dtype.type(1 - eta * lmbda / num_training_batches)  # w - eta (dw + lmbda/n w), as Network._step
    with held(1):
        done = whole.run(x, labels, count, net._mask_rng, step, keep, lmbda != 0, threads,
                         first=num_training_batches * epoch + index)
    if done is None:  # an array the kernel cannot step in place: this step on the layers' own code
        return [net._step(x[:m], labels[:m], eta, lmbda, num_training_batches, threads)]
    costs, l2s = done
    elapsed = time.perf_counter() - start
    if len(costs):
        whole.seconds_per_step = elapsed / len(costs)
        if net._chooser is not None:
            for _ in costs:  # the chooser measures steps: each step of the run took the run's mean
                net._chooser.took(whole.seconds_per_step)
    return [float(c) + 0.5 * lmbda * float(l2) / num_training_batches for c, l2 in zip(costs, l2s)]
