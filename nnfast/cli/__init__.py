"""The ``nnfast`` command (click): ``main`` is the group, one module per command group beside it."""

from .main import main

__all__ = ["main"]
