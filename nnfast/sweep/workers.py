"""Where a sweep's runs execute: in the sweep's own process, in local worker processes, or on a Dask cluster.

Each kind offers the same four calls: ``capacity()`` (runs worth keeping in
flight), ``submit(task)`` (a future of ``_sweep_trial.run``'s result),
``wait(futures, timeout)`` (those done) and ``close()`` (stop everything now,
running work included). A run whose worker died raises ``WorkerDied`` from its
future; the sweep runs it again.
"""

import concurrent.futures as cf
import multiprocessing
import sys
import uuid

from . import trial as _sweep_trial


class WorkerDied(RuntimeError):
    """The process running a trial ended without a result (killed, out of memory, crashed)."""


class InProcess:
    """One worker: the sweep's own process (no start-up cost, no copies of the data)."""

    def __init__(self, dataset, validation):
        self._restore = _sweep_trial.limit_threads()  # until close: the trials run in this process
        _sweep_trial.install(dataset, validation)

    def capacity(self):
        return 1

    def submit(self, task):
        future = cf.Future()
        try:
            future.set_result(_sweep_trial.run(task))
        except Exception as exc:  # KeyboardInterrupt passes: the sweep stops
            future.set_exception(exc)
        return future

    def wait(self, futures, timeout):
        return {f for f in futures if f.done()}

    def close(self):
        self._restore()


class LocalProcesses:
    """``workers`` processes on this machine, one compute thread each.

    On Linux they are forked from the sweep after it loaded the data and the
    compiled kernels, so a worker starts in milliseconds and shares the
    data's pages; elsewhere they are spawned and load both themselves. (A
    worker runs only nnfast's kernels and numpy: a library in the sweep's
    process that warns about fork and threads, as JAX does, is not used there.)
    """

    def __init__(self, workers, dataset, validation):
        self.workers = workers
        self.dataset, self.validation = dataset, validation
        self._restore = _sweep_trial.limit_threads()  # until close (the workers set their own)
        _sweep_trial.install(dataset, validation)  # before the fork: the workers inherit it
        self.context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        self.pool = None
        self._start()

    def _start(self):
        self.pool = cf.ProcessPoolExecutor(self.workers, mp_context=self.context,
                                           initializer=_start_worker, initargs=(self.dataset, self.validation))

    def capacity(self):
        return self.workers

    def submit(self, task):
        try:
            return self._wrap(self.pool.submit(_sweep_trial.run_here, task))
        except cf.process.BrokenProcessPool:  # a worker died since the last submit: a fresh pool
            self._restart()
            return self._wrap(self.pool.submit(_sweep_trial.run_here, task))

    def _wrap(self, future):
        outer = cf.Future()

        def done(f):
            if f.cancelled():
                outer.cancel()
                return
            exc = f.exception()
            if isinstance(exc, cf.process.BrokenProcessPool):
                outer.set_exception(WorkerDied(f"a worker process died ({exc})"))
            elif exc is not None:
                outer.set_exception(exc)
            else:
                outer.set_result(f.result())
        future.add_done_callback(done)
        return outer

    def wait(self, futures, timeout):
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        if any(isinstance(f.exception(), WorkerDied) for f in done if not f.cancelled()):
            self._restart()
        return done

    def _restart(self):
        self._kill()
        self._start()

    def _kill(self):
        pool, self.pool = self.pool, None
        if pool is None:
            return
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()  # a run in flight stops now; the sweep records it as interrupted
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self):
        self._kill()
        self._restore()


def _start_worker(dataset, validation):
    _sweep_trial.start_local_worker()
    _sweep_trial.install(dataset, validation)  # a no-op where the fork brought it along


class DaskCluster:
    """The workers of a Dask ``distributed`` scheduler (``dask scheduler`` / ``dask worker ADDRESS``)."""

    CONNECT_SECONDS = 8

    def __init__(self, address):
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError("--scheduler needs Dask's distributed: pip install 'nnfast[cluster]'") from None
        try:
            self.client = Client(address, timeout=f"{self.CONNECT_SECONDS}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {address} within {self.CONNECT_SECONDS} s "
                                  f"({type(exc).__name__}); is 'dask scheduler' running there?") from None
        except ValueError as exc:
            raise ValueError(f"--scheduler {address!r}: {exc}") from None
        self.data = self.validation = None
        self.submitted = []
        self.token = uuid.uuid4().hex  # one install of the data per worker process and sweep

    def install(self, dataset, validation):
        """Send nnfast to every worker that lacks this one (``nnfast.sweep.shipping``) and the data once
        (they need no copy of MNIST of their own)."""
        from .shipping import ship
        ship(self.client)
        self.validation = validation
        [self.data] = self.client.scatter([dataset], broadcast=True)

    def capacity(self):
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(1 for _ in workers))

    def submit(self, task):
        future = self.client.submit(_sweep_trial.run_on_dask, task, self.data, self.validation, self.token,
                                    pure=False)
        self.submitted = [f for f in self.submitted if not f.done()] + [future]
        return future

    def wait(self, futures, timeout):
        from distributed import wait
        try:
            with self.client.as_current():  # wait() looks for the default client; ours is not the default
                done, _ = wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set()
        return set(done)

    @staticmethod
    def result(future):
        from distributed.scheduler import KilledWorker
        try:
            return future.result()
        except KilledWorker as exc:
            raise WorkerDied(f"Dask workers died running it ({exc})") from None

    def close(self):
        try:
            self.client.cancel([f for f in self.submitted if not f.done()])  # runs in flight: their results go
        except Exception:  # pragma: no cover
            pass
        try:
            self.client.close(timeout=5)
        except Exception:  # pragma: no cover - closing a lost connection
            pass


def result(executor, future):
    """The run's result dict, or the exception its worker raised."""
    if isinstance(executor, DaskCluster):
        return executor.result(future)
    return future.result()
