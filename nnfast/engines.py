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


def _reference(sizes):
    from . import reference
    return reference.Network(sizes)


def _numpy_batch(sizes):
    from . import numpy_batch
    return numpy_batch.Network(sizes)


def _nnfast(dtype):
    def make(sizes):
        from . import network
        return network.Network(sizes, dtype=dtype)
    return make


def _torch(dtype):
    def make(sizes):
        from . import torch_engine
        return torch_engine.Network(sizes, dtype=dtype)
    return make


def _torch_missing():
    import importlib.util
    return None if importlib.util.find_spec("torch") else "torch not installed (make bench-torch)"


ENGINES = (
    Engine("reference", "float64", "the book's per-sample loop", _reference, 0.0),
    Engine("numpy-batch", "float64", "plain numpy, one matrix per mini-batch", _numpy_batch, 1e-9),
    Engine("nnfast", "float64", "numba kernels, whole mini-batches", _nnfast(np.float64), 1e-9),
    Engine("nnfast", "float32", "numba kernels, whole mini-batches", _nnfast(np.float32), 1e-4),
    Engine("torch", "float64", "PyTorch CPU, one matrix per mini-batch", _torch(np.float64), 1e-9, _torch_missing),
    Engine("torch", "float32", "PyTorch CPU, one matrix per mini-batch", _torch(np.float32), 1e-4, _torch_missing),
)


def engine_id(engine):
    return f"{engine.name}-{engine.dtype}"
