"""Seconds numba spends compiling while a run trains, so the run can say how much of an epoch was compile.

A cold first chapter 6 run compiles its kernels during its first mini-batches (lazily: only those the
net uses); the epoch's time then holds seconds a later run does not pay. Kernels loaded from numba's
on-disk cache are not counted (they are not compiled).
"""


class CompileClock:
    """``with CompileClock() as clock:`` counts numba's compile time (outermost compiles only, so a kernel
    compiled while compiling its caller counts once); ``clock.take()`` gives the seconds since the last take."""

    def __init__(self):
        self._taken = 0.0

    def __enter__(self):
        from numba.core import event
        self._timer = event.TimingListener()
        self._installed = event.install_listener("numba:compile", self._timer)
        self._installed.__enter__()
        return self

    def __exit__(self, *exc):
        return self._installed.__exit__(*exc)

    @property
    def total(self):
        return self._timer.duration if self._timer.done else 0.0

    def take(self):
        """Seconds compiled since the last ``take`` (or since entering)."""
        now = self.total
        seconds, self._taken = now - self._taken, now
        return seconds
