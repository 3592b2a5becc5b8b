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

from . import mnist_loader, network


@dataclasses.dataclass
class TrainSettings:
    sizes: list
    epochs: int = 30
    batch_size: int = 10
    eta: float = 3.0
    seed: Optional[int] = None
    dtype: str = "float64"
    data: Optional[str] = None
    eval_on: str = "test"


# settings a resumed run takes from the model; the command line may only repeat them
_FROM_MODEL = ("sizes", "batch_size", "eta", "dtype", "eval_on", "seed")


def _resume_state(path, settings, explicit):
    """(net, settings, history, order) to continue the run saved at ``path``."""
    net = network.load(path)
    meta = net.metadata
    saved = meta.get("training")
    resume = meta.get("resume")
    order = net.extra_arrays.get("order")
    if not isinstance(saved, dict) or not isinstance(resume, dict) or order is None:
        raise ValueError(f"{path} was not saved by 'nnfast train', so it cannot be resumed")
    for name in _FROM_MODEL:
        given = getattr(settings, name)
        if name in explicit or (name == "sizes" and "hidden" in explicit):
            if given != saved.get(name):
                raise ValueError(f"--{name.replace('_', '-')} {given} differs from the model's {saved.get(name)}; "
                                 "a resumed run keeps its settings")
    merged = dataclasses.replace(settings, **{name: saved.get(name) for name in _FROM_MODEL},
                                 data=settings.data or saved.get("data"))
    done = int(meta.get("epochs_done", 0))
    if merged.epochs < done:
        raise ValueError(f"{path} already has {done} epochs; --epochs counts the total, so give at least {done}")
    version, internal, gauss = resume["python_random_state"]
    random.setstate((version, tuple(internal), gauss))
    return net, merged, list(meta.get("history", [])), order, done


def run_training(settings, save_path=None, resume_path=None, explicit=(), report=None):
    """Train as ``settings`` say, calling ``report.start/epoch/summary``; returns the network."""
    started = time.perf_counter()
    if resume_path:
        net, settings, history, order, done = _resume_state(resume_path, settings, set(explicit))
    else:
        if settings.seed is not None:
            random.seed(settings.seed)
            np.random.seed(settings.seed)
        net = network.Network(settings.sizes, dtype=np.dtype(settings.dtype))
        history, order, done = [], None, 0

    if settings.sizes[0] != 784 or settings.sizes[-1] != 10:  # before any data is loaded
        raise ValueError(f"sizes {settings.sizes}: MNIST needs 784 inputs and 10 outputs")
    data_start = time.perf_counter()
    training, validation, test = mnist_loader.load_data_wrapper(settings.data)
    data_seconds = time.perf_counter() - data_start
    eval_data = validation if settings.eval_on == "validation" else test

    compile_seconds = net.warm_up()
    report.start(f"Training {'-'.join(map(str, settings.sizes))} ({settings.dtype}) on {len(training):,} images, "
                 f"batch {settings.batch_size}, eta {settings.eta:g}, epochs {done}..{settings.epochs - 1}; "
                 f"evaluating on {len(eval_data):,} {settings.eval_on} images")
    data_path = os.path.abspath(settings.data) if settings.data else None
    training_seconds = 0.0
    last = time.perf_counter()
    for result in net.train_epochs(training, settings.epochs, settings.batch_size, settings.eta, eval_data,
                                   first_epoch=done, order=order):
        now = time.perf_counter()
        seconds, last = now - last, now
        training_seconds += seconds
        record = {"epoch": result.epoch, "correct": result.correct, "total": result.total,
                  "accuracy": result.correct / result.total if result.total else None,
                  "seconds": round(seconds, 4)}
        history.append(record)
        if save_path:
            state = random.getstate()
            net.save(save_path, extra_arrays={"order": result.order},
                     training={**dataclasses.asdict(settings), "data": data_path},
                     epochs_done=result.epoch + 1, history=history,
                     resume={"python_random_state": [state[0], list(state[1]), state[2]]})
        report.epoch(record)
        last = time.perf_counter()  # saving is not part of the next epoch's time
    best = max((r for r in history if r["correct"] is not None), key=lambda r: r["correct"], default=None)
    report.summary({
        "best_epoch": best["epoch"] if best else None, "best_correct": best["correct"] if best else None,
        "total": len(eval_data), "epochs": settings.epochs,
        "total_seconds": time.perf_counter() - started, "training_seconds": training_seconds,
        "compile_seconds": compile_seconds, "data_seconds": data_seconds,
        "saved_to": save_path,
    })
    return net
