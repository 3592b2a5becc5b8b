"""One training run of a sweep, as a worker process runs it: train, measure validation accuracy per epoch, maybe stop.

Runs wherever a worker is: in the sweep's own process, in a local worker
process, or on a Dask worker of another machine. Everything a run needs
travels in its task (a dict of plain values); the data is installed once per
process. A run's result depends only on its task, never on which worker ran
it or what ran there before: it seeds its generators from the task (private generators: other threads of a Dask worker also draw from
Python's ``random``), and starts from the loader's order of the training list.
"""

import contextlib
import os
import tempfile
import threading
import time

import numpy as np

from ..engine import input_layout as _input_layout
from ..engine import rng as _rng

_DATA = {}  # "training", "validation", "test": (X float32, labels); "classes"; "token": identity of the data
_ONE_AT_A_TIME = threading.Lock()  # Python's random is per process: runs in one process take turns


def limit_threads():
    """One compute thread in this process: a sweep's parallelism is its workers, one core each. Returns
    ``restore``, which puts back the thread count and BLAS limits found here: the sweep's own process calls it
    when the sweep ends (``one_thread``, the executors' ``close``), so a script or test that ran a sweep in its
    own process is not left on one thread; a worker process keeps the limit until it ends."""
    before = os.environ.get("NNFAST_THREADS")
    os.environ["NNFAST_THREADS"] = "1"  # nnfast's own evaluation threads (nnfast.engine.dense.compute_threads)
    limiter = None
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(1)  # BLAS (network3's GEMMs, numpy); numba's dense kernels are single-threaded
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass

    def restore():
        if before is None:
            os.environ.pop("NNFAST_THREADS", None)
        else:
            os.environ["NNFAST_THREADS"] = before
        if limiter is not None:
            limiter.restore_original_limits()
    return restore


@contextlib.contextmanager
def one_thread():
    """``limit_threads`` for the ``with`` block only."""
    restore = limit_threads()
    try:
        yield
    finally:
        restore()


def install(dataset, validation=None, token=None):
    """Make ``dataset`` (an ``nnfast.datasets.Dataset``) this process's data, split as ``nnfast train`` splits it:
    float32 matrices ``(n, 784)`` and integer labels, no per-sample lists (a sweep trains on them many times)."""
    from .. import mnist_loader
    token = token if token is not None else id(dataset)
    if _DATA.get("token") == token:
        return
    training, valid, test = mnist_loader.split(dataset, validation)
    # the dense nets' zero-skipping copies of the training and validation matrices, made here once
    # for the process (trials never change them): workers forked after this share them instead of
    # each making its own (nnfast.engine.input_layout; 39 MB for MNIST's training images)
    _input_layout.keep(training[0])
    _input_layout.keep(valid[0])
    _DATA.update(training=training, validation=valid, test=test, classes=len(dataset.classes), token=token,
                 name=dataset.name, matrices={})


@contextlib.contextmanager
def _compile_lock():
    """Processes that compile at once can corrupt numba's cache (numba #4807, #10128): take turns on this machine."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, the sweep compiled before starting its workers
        yield
        return
    with open(os.path.join(tempfile.gettempdir(), "nnfast-compile.lock"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def settings_of(params, seed, n_classes, validation=None):
    """The ``TrainSettings`` of a point of the space."""
    from .space import sizes_of
    from ..runs.train import TrainSettings
    return TrainSettings(sizes=sizes_of(params, n_classes), epochs=int(params["epochs"]),
                         batch_size=int(params["batch_size"]), eta=float(params["eta"]), seed=seed,
                         dtype=params["dtype"], eval_on="validation", cost=params["cost"],
                         lmbda=float(params["lmbda"]), init=params["init"], validation=validation)


def matrices(dtype, n_out):
    """``(X, x_rows, Y, y_rows)`` of the training set for the kernels (one-hot targets in ``dtype``), made once
    per process and dtype."""
    key = (np.dtype(dtype).str, n_out)
    cache = _DATA["matrices"]
    if key not in cache:
        X, labels = _DATA["training"]
        Y = np.zeros((len(labels), n_out), dtype=dtype)
        Y[np.arange(len(labels)), labels] = 1
        rows = np.arange(len(labels), dtype=np.int64)
        cache[key] = (X, rows, Y, rows)
    return cache[key]


def _seeded_network(settings):
    """``nnfast train --seed``'s network, drawn from a private ``RandomState(seed)`` in the book's order
    (chapter 3: the default draw, then the large one for ``init large``), not numpy's global generator,
    which other threads of this process may also draw from."""
    from ..runs import train as train_mod
    net = train_mod.new_network(settings)  # its draws are replaced here
    rng = np.random.RandomState(settings.seed)
    if settings.chapter3:
        net._draw(True, rng)
    if not settings.chapter3 or settings.init == "large":
        net._draw(False, rng)
    return net


def _pruner(prune):
    """A test ``curve -> bool``: Optuna's median rule against the finished trials' curves the task carries."""
    if not prune or not prune.get("completed"):
        return None
    import optuna
    from optuna.trial import TrialState, create_trial
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(
        n_startup_trials=prune["startup"], n_warmup_steps=prune["warmup"]))
    study.add_trials([create_trial(value=c[-1], intermediate_values=dict(enumerate(c))) for c in prune["completed"]])

    def should_prune(curve):
        running = create_trial(state=TrialState.RUNNING, intermediate_values=dict(enumerate(curve)))
        return study.pruner.prune(study, running)
    return should_prune


def run(task):
    """Train one seed of one point; ``{"state", "curve", "seconds", "error", "weights"}``.

    ``state`` is "complete", "pruned" (stopped early by the median rule) or
    "failed" (training diverged, or settings the network refused); ``curve``
    the validation accuracy (a fraction) after each epoch; ``weights`` the
    trained network's ``(weights, biases)`` when ``task["keep_weights"]``.
    """
    if task["params"].get("layers"):
        return _run_network3(task)
    with _ONE_AT_A_TIME:
        started = time.perf_counter()
        curve, state, error = [], "complete", None
        net = None
        try:
            settings = settings_of(task["params"], task["seed"], _DATA["classes"], task.get("validation"))
            net = _seeded_network(settings)
            with _compile_lock():
                net.warm_up()
            should_prune = _pruner(task.get("prune"))
            rows = matrices(net.dtype, net.sizes[-1])
            X_val, labels = _DATA["validation"]
            data = list(range(len(rows[1])))  # stands for the training list (SGD shuffles it in place)
            with _rng.private(settings.seed):
                # the loop of nnfast train (training._epochs) on the whole matrices: the same draws, batches, net
                for _, params, _, _ in net._epochs(data, settings.epochs, settings.batch_size, settings.eta,
                                                   settings.lmbda if settings.chapter3 else 0.0, rows=rows):
                    curve.append(net._count_correct(params, X_val, labels, reuse=True) / len(labels))
                    if should_prune is not None and len(curve) < settings.epochs and should_prune(curve):
                        state = "pruned"
                        break
        except ValueError as exc:  # TrainingDiverged is a ValueError, as are settings a network refuses
            state, error = "failed", str(exc)
        result = {"state": state, "curve": curve, "seconds": time.perf_counter() - started, "error": error,
                  "pid": os.getpid()}
        if task.get("keep_weights") and state == "complete" and net is not None:
            result["weights"] = ([np.array(w) for w in net.weights], [np.array(b) for b in net.biases])
        return result


def network3_of(params):
    """A chapter 6 net for a point: ``nnfast train --layers``'s layers, drawn from numpy's global generator
    as the book's ``network3`` draws them."""
    from .. import network3
    from ..runs.train_conv import parse_layers
    m = int(params["batch_size"])
    return network3.Network(parse_layers(params["layers"], m, params["activation"], float(params["dropout"]),
                                         _DATA.get("classes", 10)), m)


def _run_network3(task):
    """One seed of a chapter 6 point: the book's network3 SGD (fixed order, no shuffling), validation
    accuracy after each epoch as the book computes it (mean of per-batch means)."""
    import random
    params = task["params"]
    with _ONE_AT_A_TIME:
        started = time.perf_counter()
        curve, state, error, net = [], "complete", None, None
        try:
            random.seed(task["seed"])
            np.random.seed(task["seed"])  # network3 draws its weights from the global generator, as the book's
            net = network3_of(params)
            should_prune = _pruner(task.get("prune"))
            epochs = int(params["epochs"])
            for line in net.train(_DATA["training"], epochs, int(params["batch_size"]), float(params["eta"]),
                                  _DATA["validation"], None, float(params["lmbda"])):
                if line.startswith("Epoch "):
                    curve.append(net.last_validation_accuracy)
                    if should_prune is not None and len(curve) < epochs and should_prune(curve):
                        state = "pruned"
                        break
        except ValueError as exc:
            state, error = "failed", str(exc)
        result = {"state": state, "curve": curve, "seconds": time.perf_counter() - started, "error": error,
                  "pid": os.getpid()}
        if task.get("keep_weights") and state == "complete" and net is not None:
            result["weights"] = ([np.array(layer.w) for layer in net.layers], [np.array(layer.b) for layer in net.layers])
        return result


def run_here(task):
    """A local worker's entry (looked up by name in the worker, so a forked worker runs what the sweep's
    process has as ``run``)."""
    return run(task)


def run_on_dask(task, dataset, validation, token):
    """A Dask worker's entry: install the scattered data once, one thread, then ``run``."""
    limit_threads()
    install(dataset, validation, token)
    return run(task)


def start_local_worker():
    """A local worker process's initializer: one thread, Ctrl-C left to the sweep (it stops its workers), and
    SIGTERM's default (a forked worker inherits the sweep's handler, which would print a traceback as it dies)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    limit_threads()
