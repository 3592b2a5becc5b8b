"""Shared fixtures: small, learnable, MNIST-shaped synthetic data (no download needed)."""

import numpy as np
import pytest


def synthetic_digits(n, n_in=784, n_classes=10, seed=0):
    """Book-format data from ``n_classes`` random ink patterns plus noise.

    Returns ``(training, test)`` where training is a list of ``(x (n_in, 1)
    float32, one-hot (n_classes, 1))`` and test of ``(x, int label)`` built
    from the same patterns with other noise. Pixel values are multiples of
    1/256 in [0, 1), like the book's MNIST file.
    """
    rng = np.random.default_rng(seed)
    patterns = rng.random((n_classes, n_in)) < 0.2

    def draw(count):
        labels = rng.integers(0, n_classes, count)
        ink = patterns[labels] * rng.uniform(0.5, 1.0, (count, n_in))
        noise = rng.random((count, n_in)) * 0.3
        x = np.floor(np.clip(ink + noise, 0, 255 / 256) * 256) / 256
        return x.astype(np.float32), labels

    x_train, y_train = draw(n)
    x_test, y_test = draw(max(n // 5, 1))
    eye = np.eye(n_classes)
    training = [(x_train[i].reshape(n_in, 1).copy(), eye[y_train[i]].reshape(n_classes, 1))
                for i in range(n)]
    test = [(x_test[i].reshape(n_in, 1).copy(), int(y_test[i])) for i in range(len(y_test))]
    return training, test


@pytest.fixture(scope="session")
def mnist_home(tmp_path_factory):
    """A private NNFAST_HOME holding the real, verified MNIST cache; fetched once per test session.

    Copies the developer's own verified cache when there is one (saves the
    download); otherwise fetches through the real sources.
    """
    import os
    import shutil

    from nnfast import datasets

    folder = tmp_path_factory.mktemp("nnfast-home")
    ok, _ = datasets.verify_cache()
    if ok:
        shutil.copy(datasets.cache_file(), folder / datasets.CACHE_NAME)
    old = os.environ.get("NNFAST_HOME")
    os.environ["NNFAST_HOME"] = str(folder)
    try:
        datasets.load_mnist(progress=False)
        yield folder
    finally:
        if old is None:
            del os.environ["NNFAST_HOME"]
        else:
            os.environ["NNFAST_HOME"] = old


@pytest.fixture(scope="session")
def draw_default(mnist_home):
    """The draw page's default model as ``nnfast draw`` makes it on first use (``nnfast.web.models.entries([])``:
    784-100-10, chapter 3, 8 epochs on the real MNIST, saved in mnist_home's folder), trained once per session:
    the page's tests and the shadowed-photos test read with the same net, and each trained it before (~10-20 s)."""
    from nnfast.web.models import entries
    return entries([], say=lambda message: None)[0]


# CI runs the same hypothesis examples every time (a fuzz failure found there must be
# reproducible, not luck); local runs keep exploring new ones.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if __import__("os").environ.get("CI"):
    _hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _fresh_notes():
    """Each test starts with no note said and no user function found to mix columns: notes come once per
    process, and a test that looks for one must not depend on which test ran before it."""
    from nnfast.engine import column_check, notes
    notes.forget()
    column_check.forget()
    yield


@pytest.fixture(autouse=True)
def _fresh_parallel_start():
    """Each test starts with chapter 6's parallel kernels not yet asked for (``nnfast.engine.parallel_start``):
    a compile helper one test started is stopped, and never leaves a later test on one thread."""
    yield
    import sys
    if "nnfast.engine.parallel_start" in sys.modules:
        sys.modules["nnfast.engine.parallel_start"].forget()


@pytest.fixture
def parallel_now(monkeypatch):
    """Chapter 6's parallel kernels from the first mini-batch, compiled in this process where not cached (no
    helper: ``NNFAST_COMPILE_HELPER=0``), as a test of the threads' arithmetic needs."""
    from nnfast.engine import parallel_start
    parallel_start.forget()
    monkeypatch.setenv("NNFAST_COMPILE_HELPER", "0")


def pytest_configure(config):
    """``NNFAST_TEST_COMPILES=FOLDER``: record every numba compile and each test's CPU there
    (``tests/compile_listener.py`` says how, and prints the tables)."""
    import os
    folder = os.environ.get("NNFAST_TEST_COMPILES")
    if folder and not hasattr(config, "workerinput"):
        from tests import compile_listener
        config.pluginmanager.register(compile_listener.Plugin(os.path.abspath(folder)), "nnfast-compile-listener")
