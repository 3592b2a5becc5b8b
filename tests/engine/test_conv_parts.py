"""Chapter 6's training step on parts of the mini-batch (one per thread) against the plain-numpy twin.

The leading convolutional layers run compiled on numba's threads (``nnfast.engine.conv_parts``), the
fully connected layers' fused step on runs of rows; whatever the thread count and however unevenly
the mini-batch splits, a step must be the book's step.
"""

import numpy as np
import pytest

from nnfast import network3
from nnfast.engine import conv_parts
from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer, sigmoid, tanh
from nnfast.twins import network3 as reference3

pytestmark = pytest.mark.usefixtures("parallel_now")  # the parallel kernels from the first step, as the threads ask


def _net(m, dtype=np.float64):
    return Network([ConvPoolLayer((4, 1, 3, 3), (m, 1, 12, 12), (2, 2), activation_fn=ReLU),
                    ConvPoolLayer((8, 4, 2, 2), (m, 4, 5, 5), (2, 2), activation_fn=tanh),
                    FullyConnectedLayer(8 * 2 * 2, 130, activation_fn=ReLU, p_dropout=0.5),
                    FullyConnectedLayer(130, 140, activation_fn=sigmoid, p_dropout=0.2),
                    SoftmaxLayer(140, 4, p_dropout=0.3)], m, dtype=dtype)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("m", [7, 10])
def test_steps_on_parts_equal_the_twin(monkeypatch, threads, m):
    monkeypatch.setenv("NNFAST_THREADS", str(threads))
    np.random.seed(11)
    net = _net(m)
    twin = reference3.layers_of(net)
    twin_rng = np.random.RandomState(np.random.RandomState(0).randint(999999))
    rng = np.random.default_rng(12)
    for _ in range(3):
        x, y = rng.random((m, 144)), rng.integers(0, 4, m)
        cost = net._step(x, y, 0.2, 0.3, 11)
        assert abs(cost - reference3.sgd_step(twin, x, y, 0.2, 0.3, 11, twin_rng)) < 1e-12
    for layer, t in zip(net.layers, twin):
        np.testing.assert_allclose(layer.w, t["w"], rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(layer.b, t["b"], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("engine", [conv_parts.CompiledConvs, conv_parts.LayerConvs])
@pytest.mark.parametrize("parts", [[(0, 7)], [(0, 4), (4, 7)], [(0, 3), (3, 5), (5, 7)]])
def test_engines_give_the_layers_own_outputs_and_gradients(engine, parts):
    np.random.seed(13)
    layers = _net(7, np.float32).layers[:2]
    x = np.random.default_rng(14).random((7, 144)).astype(np.float32)
    d = np.random.default_rng(15).standard_normal((7, 32)).astype(np.float32)
    a, caches = x, []
    for layer in layers:
        a, cache = layer.forward(a)
        caches.append(cache)
    want, g = [None, None], d
    for i in (1, 0):
        dw, db, g = layers[i].backward(caches[i], g, want_dx=i > 0)
        want[i] = (dw, db)
    convs = engine(layers, np.float32)
    for _ in range(2):  # the second time on kept workspaces
        np.testing.assert_allclose(convs.forward(x, parts), a, rtol=1e-6, atol=1e-6)
        for (dw, db), (want_dw, want_db) in zip(convs.backward(d), want):
            np.testing.assert_allclose(dw, want_dw, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(db, want_db, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("parts", [[(0, 5)], [(0, 2), (2, 5)]])
def test_a_first_layer_of_several_channels_is_read_in_the_books_order(parts):
    """The compiled stack keeps its maps channels-last: a 3-channel input (m, C*H*W) is transposed on the way in."""
    np.random.seed(22)
    layers = [ConvPoolLayer((4, 3, 3, 2), (5, 3, 7, 6), (2, 1), activation_fn=sigmoid),
              ConvPoolLayer((2, 4, 2, 2), (5, 4, 2, 5), (1, 2), activation_fn=tanh)]
    x = np.random.default_rng(23).random((5, 3 * 7 * 6))
    d = np.random.default_rng(24).standard_normal((5, 2 * 1 * 2))
    a0, c0 = layers[0].forward(x)
    a1, c1 = layers[1].forward(a0)
    dw1, db1, g = layers[1].backward(c1, d, want_dx=True)
    dw0, db0, _ = layers[0].backward(c0, g, want_dx=False)
    convs = conv_parts.CompiledConvs(layers, np.float64)
    np.testing.assert_allclose(convs.forward(x, parts), a1, rtol=1e-12)
    for (dw, db), (want_dw, want_db) in zip(convs.backward(d), [(dw0, db0), (dw1, db1)]):
        np.testing.assert_allclose(dw, want_dw, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(db, want_db, rtol=1e-11, atol=1e-14)


def test_without_scipy_the_layers_own_code_runs_on_parts(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a))
    assert type(conv_parts.for_layers(_net(4).layers[:2], np.float64)) is conv_parts.LayerConvs
    monkeypatch.setenv("NNFAST_THREADS", "2")
    np.random.seed(16)
    net = _net(6)
    twin = reference3.layers_of(net)
    twin_rng = np.random.RandomState(np.random.RandomState(0).randint(999999))
    x, y = np.random.default_rng(17).random((6, 144)), np.arange(6) % 4
    assert abs(net._step(x, y, 0.1, 0.0, 3) - reference3.sgd_step(twin, x, y, 0.1, 0.0, 3, twin_rng)) < 1e-12
    assert type(net._convs) is conv_parts.LayerConvs
    for layer, t in zip(net.layers, twin):
        np.testing.assert_allclose(layer.w, t["w"], rtol=1e-11, atol=1e-13)


def test_a_subclassed_conv_layer_runs_its_own_code(monkeypatch):
    calls = []

    class Logged(ConvPoolLayer):
        def forward(self, x, mask_rng=None):
            calls.append(len(x))
            return super().forward(x, mask_rng)

    monkeypatch.setenv("NNFAST_THREADS", "2")
    np.random.seed(18)
    net = Network([Logged((2, 1, 3, 3), (4, 1, 8, 8), (2, 2)), SoftmaxLayer(18, 3)], 4)
    net._step(np.random.default_rng(19).random((4, 64)), np.array([0, 1, 2, 0]), 0.1, 0.0, 1)
    assert calls == [4] and net._conv_engine() is None


@pytest.mark.parametrize("threads", [1, 2])
def test_feedforward_on_parts_gives_the_layers_own_outputs(monkeypatch, threads):
    monkeypatch.setenv("NNFAST_THREADS", str(threads))
    np.random.seed(20)
    net = _net(10, np.float32)
    X = np.random.default_rng(21).random((1234, 144)).astype(np.float32)  # 100-row passes, the last one short
    a = X
    for layer in net.layers:
        a, _ = layer.forward(a, None)
    np.testing.assert_allclose(net.feedforward(X), a, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(net.predict(X[:7]), np.argmax(a[:7], axis=1))
