"""How many threads chapter 6's training steps use: as many as pay, found while training; and the BLAS limit.

A convolutional net's mini-batch of 10 is little work. ``network3`` splits it
into parts of whole samples, one per thread (``nnfast.engine.conv_parts``,
``kernels.dense_step``), with one BLAS thread each. On an idle machine more
threads pay; on a busy one (any laptop with a browser open, a sweep's other
workers) they can cost a lot: the step waits for its slowest part, on a thread
the scheduler has put off (with BLAS splitting each product, a mini-batch took
5.6x as long on 2 threads as on 1 with one other CPU-bound process beside it;
20-35x in a learner's report).

So unless the user fixed the count (``NNFAST_THREADS``, ``--threads``), the
trainer measures: it times ``PROBE`` mini-batches on one thread and as many
on all, alternating them, and keeps all threads only where they are clearly
quicker (by ``MARGIN``), for the next ``interval`` mini-batches; then it
measures again (the machine's load changes), doubling the interval while the
answer stays the same, up to ``MAX_INTERVAL``. While on all threads, a run of
mini-batches much slower than one thread's (another process took the cores)
measures again at once. The worse setting's probe is the whole cost: at most
PROBE / interval of the mini-batches. The numbers the net computes do not
depend on the thread count beyond summation order.
"""

import contextlib
import os

PROBE = 6  # mini-batches timed per setting in a probe
MARGIN = 0.85  # all threads are kept only when their median is under this share of one thread's
WATCH = 16  # while on all threads: mini-batches whose median, over 1.5x one thread's, calls a probe
FIRST_INTERVAL = 500  # mini-batches before the first re-measurement
MAX_INTERVAL = 6400

_CONTROLLER = None
_HELD = []  # the limits entered by ``held``, innermost last
_FOUND_INSIDE = []  # per ``held``: the limits ``rescan`` put on libraries loaded inside it, undone at its end


def limited(threads):
    """A context in which numpy's BLAS (and SciPy's, once ``rescan`` saw it loaded) uses at most ``threads``
    threads (threadpoolctl finds them)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=threads, user_api="blas")


@contextlib.contextmanager
def held(threads):
    """``limited(threads)``, unless an enclosing ``held`` holds that very limit already (then nothing): a
    training loop holds the limit once for its run of mini-batches, where each step's own limit cost two
    threadpoolctl calls (about 20 us each way, 1-2% of a two-conv step). ``None``: no limit."""
    if threads is None or (_HELD and _HELD[-1] == threads):
        yield
        return
    with limited(threads):
        _HELD.append(threads)
        _FOUND_INSIDE.append([])
        try:
            yield
        finally:
            for limiter in reversed(_FOUND_INSIDE.pop()):
                limiter.restore_original_limits()
            _HELD.pop()


def rescan():
    """Find the BLAS libraries again on the next ``limited``: SciPy's own OpenBLAS (numba's ``np.dot``
    calls it) loads only when first imported, and unlimited it ran 2 threads inside each of ours. Inside a
    ``held``, the limit it holds is put on what loaded since at once: a caller that held one thread before
    chapter 6's conv engine loaded SciPy otherwise left SciPy's OpenBLAS on every core for the whole run
    (its steps took 4x as long: 16.7 against 3.6 ms)."""
    global _CONTROLLER
    _CONTROLLER = None
    if _HELD:
        _FOUND_INSIDE[-1].append(limited(_HELD[-1]))


def fixed_by_user():
    """The thread count the user fixed (``NNFAST_THREADS``), or None."""
    value = os.environ.get("NNFAST_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) >= 1 else None


class Chooser:
    """Picks the BLAS thread count for each mini-batch: ``threads()`` before it, ``took(seconds)`` after."""

    def __init__(self, most, give_up=None):
        self.most = max(1, int(most))
        # ``give_up``: a probe's all-threads call over this many times one thread's quickest ends the probe with
        # one thread at once (the dense nets: on a busy machine one such call cost 10-20 one-thread calls)
        self.give_up = give_up
        self.choice = 1 if self.most == 1 else None  # None: not measured yet
        self.interval = FIRST_INTERVAL // 2  # the first decision doubles it
        self.history = []  # (mini-batch number, choice) at each decision, for tests and reports
        self._count = 0
        self._one = None  # one thread's median, from the last probe
        self._recent = []
        self._plan = self._probe() if self.most > 1 else []
        self._timed = {1: [], self.most: []}
        self._left = 0

    def _probe(self):
        return [1, self.most] * PROBE  # alternating: a change of load hits both alike

    def threads(self):
        return self._plan[0] if self._plan else self.choice

    def steady(self):
        """How many of the coming mini-batches surely keep ``threads()``' count: 1 while a probe alternates,
        else those before the next probe (a caller may run them in one call, then call ``took`` for each)."""
        if self.most == 1:
            return 1 << 30
        return 1 if self._plan else max(1, self._left)

    def took(self, seconds):
        self._count += 1
        if self._plan:
            setting = self._plan.pop(0)
            self._timed[setting].append(seconds)
            if (self.give_up is not None and setting == self.most and self._timed[1]
                    and seconds > self.give_up * min(self._timed[1])):
                self._plan = []
                self._decide(give_up=True)
            elif not self._plan:
                self._decide()
            return
        self._left -= 1
        if self.choice == self.most:
            self._recent = (self._recent + [seconds])[-WATCH:]
            if len(self._recent) == WATCH and sorted(self._recent)[WATCH // 2] > 1.5 * self._one:
                self._left = 0  # the cores are busy now: measure again
            elif self.give_up is not None and seconds > self.give_up * self._one:
                self._left = 0  # one call far slower than one thread's: measure again now, not 16 calls later
        if self._left <= 0 and self.most > 1:
            self._plan = self._probe()

    def _decide(self, give_up=False):
        ones = sorted(self._timed[1])
        one = ones[len(ones) // 2]
        choice = 1
        if not give_up and sorted(self._timed[self.most])[PROBE // 2] < MARGIN * one:
            choice = self.most  # threads must clearly pay
        same = choice == self.choice or self.choice is None
        self.interval = min(MAX_INTERVAL, self.interval * 2) if same else FIRST_INTERVAL
        self.choice, self._one = choice, one
        self._left = self.interval
        self._timed = {1: [], self.most: []}
        self._recent = []
        self.history.append((self._count, choice))
