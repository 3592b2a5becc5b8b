"""A whole training run as ``nnfast train`` does it: data, seeds, compile, epochs, saving, resuming.

Kept out of ``cli.py`` so the command stays a thin parser and this logic is
testable as a library. A saved model carries what an exact resume needs:
the training settings, Python's ``random`` state after the last finished
epoch, and the order that epoch left the training list in.
"""

import dataclasses
import os
import random
import time
from typing import Optional

import numpy as np

from .. import datasets, mnist_loader, network, network2
from ..network2 import EarlyStopping


@dataclasses.dataclass
class TrainSettings:
    sizes: Optional[list] = None  # None: [784, *hidden, one output per class of the data]
    hidden: Optional[list] = None  # None: [30], the book's
    epochs: int = 30
    batch_size: int = 10
    eta: float = 3.0
    seed: Optional[int] = None
    dtype: str = "float64"
    data: Optional[str] = None
    eval_on: str = "test"
    cost: str = "quadratic"  # or "cross-entropy" (chapter 3)
    lmbda: float = 0.0  # L2 regularisation (chapter 3)
    init: str = "large"  # chapter 1's N(0, 1) weights, or "default": chapter 3's N(0, 1/n_in)
    early_stop: int = 0  # stop after this many epochs without a better evaluation accuracy (0: never)
    monitor: bool = False  # also training cost and accuracy and evaluation cost, every epoch
    validation: Optional[int] = None  # training images held out for validation (None: the last 10,000)

    @property
    def chapter3(self):
        """True when any chapter 3 feature is on: the run uses ``network2``, else chapter 1's ``network``."""
        return (self.cost != "quadratic" or self.lmbda != 0 or self.init != "large" or self.monitor
                or self.early_stop > 0)


_COST_CLASSES = {"quadratic": "QuadraticCost", "cross-entropy": "CrossEntropyCost"}

# settings a resumed run takes from the model; the command line may only repeat them
_FROM_MODEL = ("sizes", "batch_size", "eta", "dtype", "eval_on", "seed", "cost", "lmbda", "init", "monitor",
               "validation")


def new_network(settings):
    """The network a fresh run starts from, drawn as the book's script for that chapter draws it.

    Chapter 1: ``network.Network(sizes)``. Chapter 3: ``network2.Network(sizes,
    cost)`` (which draws the default initialisation), then, with ``init
    large``, ``large_weight_initializer()`` as the book's chapter 3 runs do.
    """
    if not settings.chapter3:
        return network.Network(settings.sizes, dtype=np.dtype(settings.dtype))
    net = network2.Network(settings.sizes, cost=getattr(network2, _COST_CLASSES[settings.cost]),
                           dtype=np.dtype(settings.dtype))
    if settings.init == "large":
        net.large_weight_initializer()
    return net


def _epochs(net, settings, training, eval_data, first_epoch, order):
    """Per epoch: (result, record) for either chapter's network."""
    if not settings.chapter3:
        for result in net.train_epochs(training, settings.epochs, settings.batch_size, settings.eta, eval_data,
                                       first_epoch=first_epoch, order=order):
            yield result, {"correct": result.correct}
        return
    for r in net.train_epochs(training, settings.epochs, settings.batch_size, settings.eta, settings.lmbda,
                              eval_data, monitor_evaluation_cost=settings.monitor,
                              monitor_evaluation_accuracy=True, monitor_training_cost=settings.monitor,
                              monitor_training_accuracy=settings.monitor, first_epoch=first_epoch, order=order):
        record = {"correct": r.evaluation_accuracy}
        if settings.monitor:
            record.update(training_cost=r.training_cost, training_correct=r.training_accuracy,
                          training_total=len(training), training_accuracy=r.training_accuracy / len(training),
                          evaluation_cost=r.evaluation_cost)
        yield r, record


_CHAPTER3 = ("cost", "lmbda", "init", "early_stop", "monitor")


def _resume_state(path, settings, explicit):
    """(net, settings, history, order) to continue the run saved at ``path``."""
    from .. import models
    meta = models.read(path)[0] if not models.is_json(path) else {}
    saved = meta.get("training")
    chapter3 = isinstance(saved, dict) and TrainSettings(**{k: saved[k] for k in _CHAPTER3 if k in saved}).chapter3
    net = (network2 if chapter3 else network).load(path)
    meta = net.metadata
    saved = meta.get("training")
    resume = meta.get("resume")
    order = net.extra_arrays.get("order")
    if not isinstance(saved, dict) or not isinstance(resume, dict) or order is None:
        raise ValueError(f"{path} was not saved by 'nnfast train', so it cannot be resumed")
    checks = [(name, getattr(settings, name), saved.get(name)) for name in _FROM_MODEL if name in explicit]
    if "hidden" in explicit and isinstance(saved.get("sizes"), list):  # said in the words the user typed
        checks.append(("hidden", ",".join(map(str, settings.hidden)), ",".join(map(str, saved["sizes"][1:-1]))))
    for name, given, kept in checks:
        if kept is not None and given != kept:
            raise ValueError(f"--{name.replace('_', '-')} {given} differs from the model's {kept}; "
                             "a resumed run keeps its settings")
    merged = dataclasses.replace(settings, **{name: saved[name] for name in _FROM_MODEL if name in saved},
                                 data=settings.data or saved.get("data"))
    done = int(meta.get("epochs_done", 0))
    if merged.epochs < done:
        raise ValueError(f"{path} already has {done} epochs; --epochs counts the total, so give at least {done}")
    version, internal, gauss = resume["python_random_state"]
    random.setstate((version, tuple(internal), gauss))
    return net, merged, list(meta.get("history", [])), order, done


BIG_NET_BYTES = 2 * 2**30  # a net that needs more than this is announced before it is drawn


def _check_memory(settings, report):
    """Refuse, before anything is allocated, a net that needs more memory than the machine has free;
    announce one that is merely big (drawing its weights alone takes a while)."""
    from ..datasets.formats import available_memory
    from ..engine.dense import memory_needed
    need = memory_needed(settings.sizes, settings.dtype, settings.batch_size)
    free = available_memory()
    shape = "-".join(map(str, settings.sizes))
    if free is not None and need > free:
        raise ValueError(f"a {shape} network needs about {_gb(need)} of memory to train (weights, gradients and "
                         f"work buffers), and {_gb(free)} is available: use fewer or narrower hidden layers")
    if need > BIG_NET_BYTES:
        params = sum(x * y + y for x, y in zip(settings.sizes[:-1], settings.sizes[1:]))
        report.note(f"note: a {shape} network has {params:,} weights and biases and needs about {_gb(need)} of "
                    f"memory{'' if free is None else f' ({_gb(free)} available)'}; drawing them takes a while "
                    "(Ctrl-C stops it)")


def _gb(n):
    return f"{n / 2**30:,.1f} GB"


def run_training(settings, save_path=None, resume_path=None, explicit=(), report=None):
    """Train as ``settings`` say, calling ``report.start/epoch/summary``; returns ``(network, history)``."""
    started = time.perf_counter()
    net = None
    if resume_path:
        net, settings, history, order, done = _resume_state(resume_path, settings, set(explicit))
    else:
        history, order, done = [], None, 0
    if settings.sizes is not None and settings.sizes[0] != 784:  # before any data is loaded
        raise ValueError(f"sizes {settings.sizes}: images have 28x28 = 784 pixels, so the first layer has 784")
    from ..engine.dense import start_compiling
    start_compiling(settings.dtype)  # a first run's compile begins in a helper process while the data loads
    data_start = time.perf_counter()
    dataset = datasets.load_dataset(settings.data)
    training, validation, test = mnist_loader.wrap(dataset, settings.validation)
    dataset = dataset._replace(digits=None)  # the lists hold float copies: let the 55 MB of uint8 go
    data_seconds = time.perf_counter() - data_start
    classes = len(dataset.classes)
    if net is None:
        sizes = settings.sizes or [784, *(settings.hidden or [30]), classes]
        settings = dataclasses.replace(settings, sizes=sizes)
    if settings.sizes[-1] != classes:
        raise ValueError(f"{'the model' if net is not None else '--sizes'} {'-'.join(map(str, settings.sizes))} "
                         f"has {settings.sizes[-1]} outputs, but {dataset.name} has {classes} classes: "
                         f"end --sizes with {classes}, or give --hidden only")
    if net is None:
        _check_memory(settings, report)
        if settings.seed is not None:  # seeded after loading: loading draws nothing, so the book's draws follow
            random.seed(settings.seed)
            np.random.seed(settings.seed)
        net = new_network(settings)
    eval_data = validation if settings.eval_on == "validation" else test
    if settings.eval_on == "validation" and not validation:
        raise ValueError("--validation 0 holds out no images, and --eval-on validation evaluates on them: give "
                         "--validation N (N > 0) or --eval-on test")
    if settings.early_stop and settings.eval_on == "test":
        report.note(f"note: --early-stop {settings.early_stop} watches the test accuracy (--eval-on test), so the "
                    "test set chooses when to stop and its best figure flatters the network; add --eval-on "
                    "validation to stop on the held-out validation images and keep the test set out of the choice")
    if settings.validation is None and len(validation) != mnist_loader.VALIDATION_SIZE and not resume_path:
        report.note(f"note: {dataset.name} has {len(training) + len(validation):,} training images; the last "
                    f"{len(validation):,} (a sixth) are held out for validation (--validation N to choose)")
    if settings.batch_size > len(training):
        report.note(f"note: --batch-size {settings.batch_size} is more than the {len(training):,} training images: "
                    f"each epoch is one mini-batch of {len(training):,}")

    # the set-up first: on a first run it overlaps the compile helper's half of the compile (kernels.background)
    setup_seconds = net.prepare_training(training)  # the first epoch's time is then the epoch's
    compile_seconds = net.warm_up(monitoring=True) if settings.monitor else net.warm_up()
    net.progress = getattr(report, "progress", None)
    extra = (f", {settings.cost} cost, lmbda {settings.lmbda:g}, {settings.init} init" if settings.chapter3 else "")
    on = "" if dataset.name == "MNIST" else (f" of {dataset.name}" + ("" if dataset.verified else " (unverified)"))
    report.start(f"Training {'-'.join(map(str, settings.sizes))} ({settings.dtype}) on {len(training):,} images{on}, "
                 f"batch {settings.batch_size}, eta {settings.eta:g}{extra}, {_epoch_span(done, settings.epochs)}; "
                 f"evaluating on {len(eval_data):,} {settings.eval_on} images")
    data_path = os.path.abspath(settings.data) if settings.data else None
    training_seconds = 0.0
    last = time.perf_counter()
    replaced = bool(save_path) and os.path.exists(save_path) and not (
        resume_path and os.path.samefile(save_path, resume_path))
    saved = False
    if save_path and not resume_path and settings.epochs == 0:  # --epochs 0 --save: the initial network, resumable
        saved = _save(net, save_path, settings, data_path, 0, history, np.arange(len(training), dtype=np.int64),
                      dataset)
    stopper = EarlyStopping(settings.early_stop)
    for h in history:  # a resumed run remembers how long its accuracy has not improved
        stopper.stop(h["correct"])
    stopped_early = False
    for result, fields in _epochs(net, settings, training, eval_data, done, order):
        now = time.perf_counter()
        seconds, last = now - last, now
        training_seconds += seconds
        correct, total = fields.pop("correct"), len(eval_data)
        record = {"epoch": result.epoch, "correct": correct, "total": total,
                  "accuracy": correct / total if total else None, **fields, "seconds": round(seconds, 4)}
        history.append(record)
        if save_path:
            saved = _save(net, save_path, settings, data_path, result.epoch + 1, history, result.order, dataset)
        report.epoch(record)
        last = time.perf_counter()  # saving is not part of the next epoch's time
        if stopper.stop(correct):
            stopped_early = result.epoch + 1 < settings.epochs
            break
    best = max((r for r in history if r["correct"] is not None), key=lambda r: r["correct"], default=None)
    report.summary({
        "best_epoch": best["epoch"] if best else None, "best_correct": best["correct"] if best else None,
        "total": len(eval_data), "epochs": settings.epochs,
        "total_seconds": time.perf_counter() - started, "training_seconds": training_seconds,
        "compile_seconds": compile_seconds, "data_seconds": data_seconds, "setup_seconds": setup_seconds,
        "saved_to": save_path if saved else None, "replaced": replaced and saved, "stopped_early": stopped_early,
        "early_stop": settings.early_stop, "eval_on": settings.eval_on,
    })
    return net, history


def _save(net, path, settings, data_path, epochs_done, history, order, dataset):
    """Write the model with what an exact resume needs (the order and Python's random state) and the
    names of the classes it tells apart; True."""
    state = random.getstate()
    net.save(path, extra_arrays={"order": order}, training={**dataclasses.asdict(settings), "data": data_path},
             epochs_done=epochs_done, history=history, dataset=dataset.name, classes=list(dataset.classes),
             resume={"python_random_state": [state[0], list(state[1]), state[2]]})
    return True


def _epoch_span(done, epochs):
    left = epochs - done
    return f"epochs {done}..{epochs - 1}" if left > 1 else f"epoch {done}" if left == 1 else "no epochs to train"
