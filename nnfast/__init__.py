"""nnfast: the book's network.py and mnist_loader.py, trained as whole mini-batches by numba.

``from nnfast import network, mnist_loader`` is a drop-in for the modules of
Nielsen's *Neural Networks and Deep Learning*. Importing nnfast compiles
nothing and does not import numba; kernels compile on first use and are cached.

The package by wing (imports flow down this list, never up)::

    cli/          the nnfast command: a module per command group, common helpers
    web/          nnfast draw's page and server
    runs/ sweep/  whole runs (train, train_conv, inference, metrics, book, baselines) and sweeps as libraries
    network network2 network3 mnist_loader   the book's modules: check, convert, call the engine
    models datasets/                         model files (formats only) and data sets
    engine/       the flat-buffer nets and every numba kernel (kernels/): no I/O, no face, no click
    twins/ peers/ the per-sample yardsticks and the peer engines, for tests and benchmarks
    imaging plotting activations _files   small shared pieces
"""

from ._version import __version__
from . import mnist_loader, network
from .mnist_loader import load_data_wrapper
from .network import Network

__all__ = ["Network", "load_data_wrapper", "mnist_loader", "network", "__version__"]
