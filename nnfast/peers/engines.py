"""One table of training engines: the tests check each against the reference, the benchmark times each.

Adding an engine is one line here; it is then tested (tests/test_engines.py)
and measured (``make bench``) like the others. Every engine builds a network
with the book's API from the same ``np.random.seed`` draws.
"""

from typing import Callable, NamedTuple

import numpy as np


class Engine(NamedTuple):
    name: str
    dtype: str
    description: str
    make: Callable  # sizes -> a network with the book's API
    tolerance: float  # max relative difference from the reference after a few mini-batches
    missing: Callable = lambda: None  # -> None when usable, else why not (e.g. "torch not installed")
    chapter: int = 1  # 1: network's API (quadratic cost); 3: network2's (cross-entropy, L2, monitoring)


def _reference(sizes):
    from ..twins import network as reference
    return reference.Network(sizes)


def _numpy_batch(sizes):
    from . import numpy_batch
    return numpy_batch.Network(sizes)


def _nnfast(dtype, skip_zero_inputs=True):
    def make(sizes):
        from .. import network
        net = network.Network(sizes, dtype=dtype)
        net.skip_zero_inputs = skip_zero_inputs
        return net
    return make


def _reference2(sizes):
    from ..twins import network2 as reference2
    return reference2.Network(sizes, cost=reference2.CrossEntropyCost)


def _nnfast2(dtype):
    def make(sizes):
        from .. import network2
        return network2.Network(sizes, cost=network2.CrossEntropyCost, dtype=dtype)
    return make


def _torch(dtype):
    def make(sizes):
        from . import torch_engine
        return torch_engine.Network(sizes, dtype=dtype)
    return make


def _torch_missing():
    import importlib.util
    return None if importlib.util.find_spec("torch") else "torch not installed (make bench-peers)"


def _jax_engine(dtype):
    def make(sizes):
        from . import jax_engine
        return jax_engine.Network(sizes, dtype=dtype)
    return make


def _jax_missing():
    import importlib.util
    return None if importlib.util.find_spec("jax") else "jax not installed (make bench-peers)"


ENGINES = (
    Engine("reference", "float64", "the book's per-sample loop", _reference, 0.0),
    Engine("numpy-batch", "float64", "plain numpy, one matrix per mini-batch", _numpy_batch, 1e-9),
    Engine("nnfast", "float64", "numba kernels, whole mini-batches", _nnfast(np.float64), 1e-9),
    Engine("nnfast", "float32", "numba kernels, whole mini-batches", _nnfast(np.float32), 1e-4),
    # the same kernels on every pixel: what they do on dense inputs, and how much skipping zeros saves
    Engine("nnfast-dense", "float64", "nnfast without skipping zero inputs", _nnfast(np.float64, False), 1e-9),
    Engine("nnfast-dense", "float32", "nnfast without skipping zero inputs", _nnfast(np.float32, False), 1e-4),
    Engine("torch", "float64", "PyTorch CPU, one matrix per mini-batch", _torch(np.float64), 1e-9, _torch_missing),
    Engine("torch", "float32", "PyTorch CPU, one matrix per mini-batch", _torch(np.float32), 1e-4, _torch_missing),
    Engine("jax", "float64", "JAX CPU, each epoch one jitted lax.scan", _jax_engine(np.float64), 1e-9, _jax_missing),
    Engine("jax", "float32", "JAX CPU, each epoch one jitted lax.scan", _jax_engine(np.float32), 1e-4, _jax_missing),
    # chapter 3 (network2, cross-entropy): each is compared with the first chapter 3 row
    Engine("reference2", "float64", "the book's chapter 3 per-sample loop", _reference2, 0.0, chapter=3),
    Engine("nnfast2", "float64", "network2 on the numba kernels", _nnfast2(np.float64), 1e-9, chapter=3),
    Engine("nnfast2", "float32", "network2 on the numba kernels", _nnfast2(np.float32), 1e-4, chapter=3),
)


def chapter(n):
    """The engines of chapter ``n``'s API, its per-sample reference first."""
    return tuple(e for e in ENGINES if e.chapter == n)


def engine_id(engine):
    return f"{engine.name}-{engine.dtype}"
