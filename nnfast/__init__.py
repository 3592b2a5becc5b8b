"""nnfast: the book's network.py and mnist_loader.py, trained as whole mini-batches by numba.

``from nnfast import network, mnist_loader`` is a drop-in for the modules of
Nielsen's *Neural Networks and Deep Learning*. Importing nnfast compiles
nothing and does not import numba; kernels compile on first use and are cached.
"""

from ._version import __version__
from . import mnist_loader, network
from .mnist_loader import load_data_wrapper
from .network import Network

__all__ = ["Network", "load_data_wrapper", "mnist_loader", "network", "__version__"]
