"""A whole chapter 6 run as ``nnfast train --layers ...`` does it: the layer spec, data, seeds, epochs, saving, resuming.

The spec is a comma list read left to right: ``conv20x5`` (20 filters of 5x5; ``conv40x5x3`` for 5x3)
followed by ``pool2`` (``pool2x3``; a conv without one pools 1x1), ``fc100`` (a fully connected
layer), and ``softmax`` last. The book's nets:

    fc100,softmax                                   (97.80%)
    conv20x5,pool2,fc100,softmax                    (98.78%)
    conv20x5,pool2,conv40x5,pool2,fc100,softmax     (99.06%; --activation ReLU --eta 0.03 --lmbda 0.1: 99.23%)
    conv20x5,pool2,conv40x5,pool2,fc1000,fc1000,softmax --activation ReLU --dropout 0.5 --expanded (99.60%)
"""

import dataclasses
import os
import re
import time
from typing import Optional

import numpy as np

_TOKEN = re.compile(r"^(conv(\d+)x(\d+)(?:x(\d+))?|pool(\d+)(?:x(\d+))?|fc(\d+)|softmax)$")


@dataclasses.dataclass
class Settings3:
    layers: str
    epochs: int = 60
    batch_size: int = 10
    eta: float = 0.1
    lmbda: float = 0.0
    activation: str = "sigmoid"
    dropout: float = 0.0
    expanded: bool = False
    seed: Optional[int] = None
    data: Optional[str] = None


def parse_layers(spec, batch_size, activation, dropout, classes=10):
    """The book's layer objects for ``spec`` (see the module docstring); ValueError naming the bad item."""
    from .. import network3
    act = network3._BY_NAME[activation]
    items = [t.strip() for t in str(spec).replace(" ", ",").split(",") if t.strip()]
    if not items:
        raise ValueError("--layers is empty; e.g. conv20x5,pool2,fc100,softmax")
    layers, shape = [], (1, 28, 28)  # (maps, height, width) of what the next layer receives
    i = 0
    while i < len(items):
        m = _TOKEN.match(items[i].lower())
        if not m:
            raise ValueError(f"--layers item {i + 1} {items[i]!r} is not convNxK, poolK, fcN or softmax "
                             "(e.g. conv20x5,pool2,fc100,softmax)")
        where = f"--layers item {i + 1} ({items[i]})"
        if m.group(2):  # conv
            if len(shape) != 3:
                raise ValueError(f"{where}: a convolution must come before every fc layer")
            F, kh = int(m.group(2)), int(m.group(3))
            kw = int(m.group(4)) if m.group(4) else kh
            pool = (1, 1)
            if i + 1 < len(items) and items[i + 1].lower().startswith("pool"):
                pm = _TOKEN.match(items[i + 1].lower())
                if not pm or not pm.group(5):
                    raise ValueError(f"--layers item {i + 2} {items[i + 1]!r} is not poolK or poolKxL")
                pool = (int(pm.group(5)), int(pm.group(6) or pm.group(5)))
                i += 1
            try:
                layer = network3.ConvPoolLayer((F, shape[0], kh, kw), (batch_size, *shape), pool, act)
            except ValueError as exc:
                raise ValueError(f"{where}: {str(exc).split(': ', 1)[-1]}") from None
            layers.append(layer)
            shape = layer.out_shape
        elif m.group(5):
            raise ValueError(f"{where}: a pool must follow a conv")
        elif m.group(7):
            n_in = int(np.prod(shape))
            layers.append(network3.FullyConnectedLayer(n_in, int(m.group(7)), act, dropout))
            shape = (int(m.group(7)),)
        else:
            if i != len(items) - 1:
                raise ValueError(f"{where}: softmax must be the last layer")
            layers.append(network3.SoftmaxLayer(int(np.prod(shape)), classes, dropout))
        i += 1
    if not isinstance(layers[-1], network3.SoftmaxLayer):
        raise ValueError("--layers must end with softmax (the book's output layer)")
    return layers


# What a resumed run keeps from its file; given on the command line, each must agree with it.
KEPT_ON_RESUME = ("layers", "batch_size", "eta", "lmbda", "activation", "dropout", "expanded", "seed")


def _same(name, given, kept):
    if name == "layers":  # the same spec written another way (spaces, case) is the same net
        return [t.strip().lower() for t in str(given).replace(" ", ",").split(",") if t.strip()] == \
               [t.strip().lower() for t in str(kept).replace(" ", ",").split(",") if t.strip()]
    if isinstance(kept, float) or isinstance(given, float):
        return given is not None and kept is not None and float(given) == float(kept)
    return given == kept


def run(settings, save_path=None, resume_path=None, report=None, explicit=()):
    """Train as ``settings`` say, reporting each line with the epoch's time; returns the network.

    Resuming, the net and its settings come from ``resume_path``; a setting named in ``explicit`` (given
    on the command line) that differs from the file's is refused by name."""
    from .. import network3
    started = time.perf_counter()
    done, best, meta = 0, (0.0, 0, 0.0), {}
    if resume_path:
        net = network3.load(resume_path)
        meta = getattr(net, "metadata", {}) or {}
        saved = meta.get("training")
        if not isinstance(saved, dict):
            raise ValueError(f"{resume_path} was not saved by 'nnfast train --layers', so it cannot be resumed")
        for name in KEPT_ON_RESUME:
            if name in explicit and name in saved and not _same(name, getattr(settings, name), saved[name]):
                raise ValueError(f"--{name.replace('_', '-')} {getattr(settings, name)} differs from the model's "
                                 f"{saved[name]}; a resumed run keeps its settings (leave the option out)")
        settings = dataclasses.replace(settings, **{k: v for k, v in saved.items() if k not in ("epochs", "data")},
                                       data=settings.data or saved.get("data"))
        done = int(meta.get("epochs_done", 0))
        best = tuple(meta.get("best", best))
        if settings.epochs < done:
            raise ValueError(f"{resume_path} already has {done} epochs; --epochs counts the total")
    training, validation, test = network3.load_data_shared(settings.data, expanded=settings.expanded)
    if not resume_path:
        if settings.seed is not None:
            import random
            random.seed(settings.seed)
            np.random.seed(settings.seed)
        net = network3.Network(parse_layers(settings.layers, settings.batch_size, settings.activation,
                                            settings.dropout), settings.batch_size)
    if settings.epochs <= done:  # --epochs 0, or a resumed run already that long: nothing to train
        if save_path and not resume_path:
            net.save(save_path, training=dataclasses.asdict(settings), epochs_done=0, best=list(best))
        report.line(f"Nothing to train: {'the model already has ' + str(done) if resume_path else 'asked for 0'} "
                    f"epochs (--epochs counts the total)" + (f"; the initial network is saved to {save_path}"
                                                            if save_path and not resume_path else ""))
        return net
    report.start(f"Training {settings.layers} ({settings.activation}, dropout {settings.dropout:g}) on "
                 f"{len(training[1]):,} images{' (expanded)' if settings.expanded else ''}, batch "
                 f"{settings.batch_size}, eta {settings.eta:g}, lmbda {settings.lmbda:g}, epochs {done}.."
                 f"{settings.epochs - 1}; validating on {len(validation[1]):,}, testing on {len(test[1]):,}")
    if resume_path and isinstance(meta.get("mask_rng"), list):  # the dropout stream goes on where it stopped
        name, keys, pos, has_gauss, cached = meta["mask_rng"]
        net._mask_rng.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))

    def saved(epoch):
        if save_path:
            name, keys, pos, has_gauss, cached = net._mask_rng.get_state()
            net.save(save_path, training=dataclasses.asdict(settings), epochs_done=epoch + 1, best=list(net.best),
                     mask_rng=[name, keys.tolist(), int(pos), int(has_gauss), float(cached)])

    replaced = bool(save_path) and os.path.exists(save_path) and not (
        resume_path and os.path.exists(resume_path) and os.path.samefile(save_path, resume_path))
    from ..engine.compile_clock import CompileClock
    last = time.perf_counter()
    with CompileClock() as compiling:
        for line in net.train(training, settings.epochs, settings.batch_size, settings.eta, validation, test,
                              settings.lmbda, first_epoch=done, best=best, epoch_done=saved):
            if line.startswith("Epoch "):
                now = time.perf_counter()
                compiled = compiling.take()  # a cold first run compiles its kernels in its first mini-batches
                line, last = f"{line}  ({now - last:.1f} s{_of_which(compiled)})", now
            report.line(line)
    report.line(f"Total {time.perf_counter() - started:.1f} s" + (
        f"; saved to {save_path}{' (replaced the file that was there)' if replaced else ''}" if save_path else ""))
    return net


def _of_which(compiled):
    """", 4.6 s of it compiling" where numba compiled for a tenth of a second or more, else nothing."""
    return f", {compiled:.1f} s of it compiling" if compiled >= 0.1 else ""
