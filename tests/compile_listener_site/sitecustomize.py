"""Child processes of a profiled test run (``tests/compile_listener.py``): once this process imports numba, its
compiles are recorded in ``$NNFAST_TEST_COMPILES`` under the test ``$NNFAST_TEST_NODEID``. On ``PYTHONPATH`` only
while ``NNFAST_TEST_COMPILES`` is set; a process that never imports numba never loads it."""

import importlib.abc
import os
import sys


class _AfterNumbaEvent(importlib.abc.MetaPathFinder):
    """Registers the listener right after ``numba.core.event`` is first imported."""

    def find_spec(self, name, path, target=None):
        if name != "numba.core.event":
            return None
        sys.meta_path.remove(self)
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(name, path)
        if spec is None:
            return None
        loader_exec = spec.loader.exec_module

        def exec_module(module):
            loader_exec(module)
            _register(module)
        spec.loader.exec_module = exec_module
        return spec


def _register(event):
    folder = os.environ.get("NNFAST_TEST_COMPILES")
    if not folder:
        return
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, tests)
    try:
        import compile_listener
    finally:
        sys.path.remove(tests)
    test = os.environ.get("NNFAST_TEST_NODEID", "(unknown)") + " [child]"
    event.register("numba:compile", compile_listener.make_listener(folder, lambda: test, main=False))


if os.environ.get("NNFAST_TEST_COMPILES"):
    sys.meta_path.insert(0, _AfterNumbaEvent())
