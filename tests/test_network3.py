"""nnfast.network3 (chapter 6) against scipy's convolution, the plain-numpy twin, calculus and PyTorch."""

import importlib.util
import re

import numpy as np
import pytest

from nnfast import network3
from nnfast.twins import network3 as reference3
from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer, linear, sigmoid, tanh


def conv_layer(F=3, C=2, size=9, k=3, pool=(2, 2), act=sigmoid, m=4):
    return ConvPoolLayer(filter_shape=(F, C, k, k), image_shape=(m, C, size, size), poolsize=pool, activation_fn=act)


def test_convolution_is_scipys_true_convolution():
    from scipy.signal import convolve2d
    np.random.seed(0)
    layer = conv_layer(F=3, C=2, size=9, k=4, pool=(1, 1), act=linear)
    layer.b[:] = 0
    x = np.random.default_rng(1).random((4, 2 * 81)).astype(np.float32)
    out, _ = layer.forward(x)
    out = out.reshape(4, 3, 6, 6)
    X = x.reshape(4, 2, 9, 9)
    for n in range(4):
        for f in range(3):
            want = sum(convolve2d(X[n, c], layer.w[f, c], mode="valid") for c in range(2))
            np.testing.assert_allclose(out[n, f], want, rtol=1e-5, atol=1e-5)


def test_pooling_takes_the_max_and_routes_its_gradient_to_the_first_of_equal_values():
    np.random.seed(0)
    layer = ConvPoolLayer(filter_shape=(1, 1, 1, 1), image_shape=(2, 1, 5, 6), poolsize=(2, 3), activation_fn=linear)
    layer.w[:] = 1.0  # the convolution is the identity: the layer is pooling alone
    layer.b[:] = 0.0
    rng = np.random.default_rng(2)
    X = rng.integers(0, 3, (2, 1, 5, 6)).astype(np.float64)  # small integers: many ties
    X[0, 0, :2, :3] = 7.0  # a block of nothing but ties
    out, cache = layer.forward(X.reshape(2, -1))
    pooled, mask = reference3.max_pool(X, 2, 3)
    np.testing.assert_array_equal(out.reshape(pooled.shape), pooled)  # the last row (5 = 2*2 + 1) is dropped
    d_out = rng.random(out.shape)
    _, _, dx = layer.backward(cache, d_out, want_dx=True)
    want = mask * reference3._unpool(d_out.reshape(pooled.shape), X.shape, 2, 3)
    np.testing.assert_allclose(dx.reshape(X.shape), want, rtol=1e-12)
    assert dx.reshape(X.shape)[0, 0, 0, 0] == d_out.reshape(pooled.shape)[0, 0, 0, 0]  # the first tie wins
    assert np.count_nonzero(dx.reshape(X.shape)[0, 0, :2, :3]) == 1


@pytest.mark.parametrize("act", [sigmoid, tanh, ReLU, linear])
def test_every_gradient_matches_finite_differences(act):
    np.random.seed(4)
    m = 3
    layers = [ConvPoolLayer((2, 1, 3, 3), (m, 1, 8, 8), (2, 2), activation_fn=act),
              ConvPoolLayer((2, 2, 2, 2), (m, 2, 3, 3), (1, 1), activation_fn=act),
              FullyConnectedLayer(8, 5, activation_fn=act), SoftmaxLayer(5, 3)]
    net = Network(layers, m, dtype=np.float64)
    rng = np.random.default_rng(5)
    for layer in net.layers:  # softmax starts at zero, which hides nothing but tests little
        layer.w += 0.3 * rng.standard_normal(layer.w.shape)
    x, y = rng.random((m, 64)), rng.integers(0, 3, m)
    lmbda, ntb = 0.4, 7
    _, grads = net.gradients(x, y, lmbda, ntb)
    eps = 1e-6
    for layer, (dw, db) in zip(net.layers, grads):
        for p, g in ((layer.w, dw), (layer.b, db)):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = net.gradients(x, y, lmbda, ntb)[0]
                p[idx] = old - eps
                down = net.gradients(x, y, lmbda, ntb)[0]
                p[idx] = old
                numeric[idx] = (up - down) / (2 * eps)
            np.testing.assert_allclose(g, numeric, rtol=2e-5, atol=2e-8)


def test_dropout_keeps_one_minus_p_and_inference_scales_the_weighted_input():
    np.random.seed(1)
    layer = FullyConnectedLayer(400, 6, activation_fn=ReLU, p_dropout=0.3)
    x = np.ones((200, 400), dtype=np.float32)
    rng = np.random.RandomState(3)
    _, (xd, mask, _) = layer.forward(x, rng)
    assert abs(mask.mean() - 0.7) < 0.01 and np.array_equal(xd, x * mask)  # not rescaled in training
    out, _ = layer.forward(x)
    np.testing.assert_allclose(out, np.maximum(0.7 * (x @ layer.w) + layer.b, 0), rtol=1e-5)


def test_mini_batch_steps_with_dropout_and_l2_equal_the_plain_numpy_twin():
    # two conv layers, as the engine's step tests (tests/engine/test_net_step.py): a float64 net of one conv layer
    # would compile its own compiled step (step_region and steps_one, ~29 s of CPU on a fresh clone) for this test alone
    np.random.seed(6)
    m = 5
    net = Network([ConvPoolLayer((3, 1, 5, 5), (m, 1, 12, 12), (2, 2), activation_fn=ReLU),
                   ConvPoolLayer((4, 3, 3, 3), (m, 3, 4, 4), (2, 2), activation_fn=tanh),
                   FullyConnectedLayer(4 * 1 * 1, 10, activation_fn=sigmoid, p_dropout=0.5),
                   SoftmaxLayer(10, 4, p_dropout=0.5)], m, dtype=np.float64)
    twin = reference3.layers_of(net)
    twin_rng = np.random.RandomState(np.random.RandomState(0).randint(999999))  # network3's dropout stream
    rng = np.random.default_rng(7)
    for _ in range(3):
        x, y = rng.random((m, 144)), rng.integers(0, 4, m)
        cost = net._step(x, y, 0.2, 0.3, 11)
        twin_cost = reference3.sgd_step(twin, x, y, 0.2, 0.3, 11, twin_rng)
        assert abs(cost - twin_cost) < 1e-12
    for layer, t in zip(net.layers, twin):
        np.testing.assert_allclose(layer.w, t["w"], rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(layer.b, t["b"], rtol=1e-11, atol=1e-13)


def test_initialisation_draws_as_the_book_in_layer_order():
    np.random.seed(8)
    conv = ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28), (2, 2))
    fc = FullyConnectedLayer(20 * 12 * 12, 100)
    soft = SoftmaxLayer(100, 10)
    np.random.seed(8)
    w1 = np.random.normal(0, np.sqrt(1 / (20 * 25 / 4)), (20, 1, 5, 5))
    b1 = np.random.normal(0, 1, (20,))
    w2 = np.random.normal(0, np.sqrt(1 / 100), (2880, 100))  # the book's 1/n_out (its issue #30)
    b2 = np.random.normal(0, 1, (100,))
    for got, want in ((conv.w, w1), (conv.b, b1), (fc.w, w2), (fc.b, b2)):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want.astype(np.float32))
    assert not soft.w.any() and not soft.b.any()


def test_sgd_prints_the_books_lines():
    np.random.seed(9)
    rng = np.random.default_rng(9)
    m = 4
    data = [(rng.random((n, 36)).astype(np.float32), rng.integers(0, 3, n)) for n in (40, 13, 9)]
    net = Network([ConvPoolLayer((2, 1, 3, 3), (m, 1, 6, 6), (2, 2)), FullyConnectedLayer(8, 6),
                   SoftmaxLayer(6, 3)], m)
    lines = list(net.train(data[0], 2, m, 0.5, data[1], data[2], lmbda=0.1))
    assert lines[0] == "Training mini-batch number 0"
    assert re.fullmatch(r"Epoch 0: validation accuracy \d+\.\d\d%", lines[1])
    assert lines[2] == "This is the best validation accuracy to date."
    assert re.fullmatch(r"The corresponding test accuracy is \d+\.\d\d%", lines[3])
    assert lines[-3] == "Finished training network."
    assert re.fullmatch(r"Best validation accuracy of \d+\.\d\d% obtained at iteration (9|19)", lines[-2])
    assert re.fullmatch(r"Corresponding test accuracy of \d+\.\d\d%", lines[-1])
    # accuracies are means of per-mini-batch means over floor(13 / 4) = 3 batches, as the book's
    X, y = data[1]
    hits = net.predict(X[:12]) == y[:12]
    assert net._batch_accuracy(data[1], m) == pytest.approx(hits.reshape(3, 4).mean(axis=1).mean())


@pytest.mark.parametrize("build,message", [
    (lambda: Network([FullyConnectedLayer(784, 30), SoftmaxLayer(20, 10)], 10), "layer 1 .*takes 20 inputs"),
    (lambda: ConvPoolLayer((2, 1, 9, 9), (10, 1, 8, 8)), "larger than its 8x8 image"),
    (lambda: ConvPoolLayer((2, 1, 5, 5), (10, 1, 8, 8), (5, 5)), "pool is larger"),
    (lambda: ConvPoolLayer((2, 3, 5, 5), (10, 1, 28, 28)), "takes 3 input maps"),
    (lambda: Network([ConvPoolLayer((2, 1, 5, 5), (10, 1, 28, 28)), FullyConnectedLayer(288, 5),
                      SoftmaxLayer(5, 2)], 20), "mini-batches of 10"),
    (lambda: FullyConnectedLayer(10, 5, p_dropout=1.0), "p_dropout"),
    (lambda: Network([FullyConnectedLayer(10, 5)], 4), "SoftmaxLayer"),
])
def test_shapes_that_do_not_chain_are_refused_naming_the_layer(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_save_and_load_give_the_same_predictions_and_refuse_damage(tmp_path):
    from nnfast.models import ModelError
    np.random.seed(10)
    net = Network([ConvPoolLayer((2, 1, 3, 3), (4, 1, 6, 6), (2, 2), activation_fn=ReLU),
                   FullyConnectedLayer(8, 6, activation_fn=tanh, p_dropout=0.2), SoftmaxLayer(6, 3)], 4)
    for layer in net.layers:
        layer.w += 0.1
    X = np.random.default_rng(1).random((9, 36)).astype(np.float32)
    net.save(tmp_path / "n3.npz")
    state = np.random.get_state()
    back = network3.load(tmp_path / "n3.npz")
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # loading moves no one's RNG
    np.testing.assert_array_equal(back.feedforward(X), net.feedforward(X))
    assert back.layers[1].p_dropout == 0.2 and back.layers[0].activation_fn is ReLU
    (tmp_path / "bad.npz").write_bytes((tmp_path / "n3.npz").read_bytes()[:200])
    with pytest.raises(ModelError):
        network3.load(tmp_path / "bad.npz")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed (make bench-peers)")
def test_forward_and_backward_equal_torch_conv2d_and_max_pool2d_on_flipped_kernels():
    import torch
    np.random.seed(11)
    layer = ConvPoolLayer((4, 3, 5, 5), (6, 3, 14, 14), (2, 2), activation_fn=linear)
    x = np.random.default_rng(3).random((6, 3 * 196)).astype(np.float32)
    out, cache = layer.forward(x)
    d_out = np.random.default_rng(4).random(out.shape).astype(np.float32)
    dw, db, dx = layer.backward(cache, d_out, want_dx=True)
    X = torch.tensor(x.reshape(6, 3, 14, 14), requires_grad=True)
    W = torch.tensor(layer.w.copy(), requires_grad=True)
    Z = torch.nn.functional.conv2d(X, torch.flip(W, dims=(2, 3))) + torch.tensor(layer.b)[None, :, None, None] * 0
    P = torch.nn.functional.max_pool2d(Z, 2) + torch.tensor(layer.b)[None, :, None, None]
    np.testing.assert_allclose(out.reshape(P.shape), P.detach().numpy(), rtol=1e-5, atol=1e-5)
    P.backward(torch.tensor(d_out.reshape(P.shape)))
    np.testing.assert_allclose(dw, W.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx.reshape(X.shape), X.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(db, d_out.reshape(P.shape).sum(axis=(0, 2, 3)), rtol=1e-5)


def _small_conv_net(m=4):
    return Network([ConvPoolLayer((2, 1, 3, 3), (m, 1, 6, 6), (2, 2)), FullyConnectedLayer(8, 6),
                    SoftmaxLayer(6, 3)], m)


def test_theano_calls_of_conv_py_answer_with_the_arrays(tmp_path):
    """conv.py's plot_errors and plot_filters call .eval() on the data and on a layer's w."""
    np.random.seed(3)
    net = _small_conv_net()
    for layer in net.layers:
        for p in (layer.w, layer.b):
            assert type(p.eval()) is np.ndarray and np.shares_memory(p.eval(), p)
            got = p.get_value()
            assert type(got) is np.ndarray and not np.shares_memory(got, p) and np.array_equal(got, p)
    filters = net.layers[0].w.eval()
    assert filters[1][0].shape == (3, 3)  # plot_filters' filters[j][0]
    net.layers[1].w.set_value(np.ones((8, 6)))
    assert net.params[2] is net.layers[1].w and np.all(net.params[2] == 1)  # set in place, seen everywhere
    with pytest.raises(ValueError, match=r"shape \(8, 6\)"):
        net.layers[1].w.set_value(np.ones((6, 8)))
    assert type(net.layers[0].w * 2) is np.ndarray and type(net.layers[0].w.sum()) is not network3.SharedArray
    net.save(tmp_path / "n.npz")
    assert isinstance(network3.load(tmp_path / "n.npz").layers[0].w, network3.SharedArray)


def test_shared_data_trains_exactly_as_plain_arrays(monkeypatch):
    # one code path for both runs: on a cold numba cache the first run would start on the layers' own code and
    # move to the compiled step when a helper has compiled it, and in float32 the two round differently in the
    # last bit (the first conv layer's filter gradient sums in another order); the chooser's thread count too
    monkeypatch.setenv("NNFAST_COMPILE_HELPER", "0")
    monkeypatch.setenv("NNFAST_THREADS", "1")
    rng = np.random.default_rng(9)
    plain = [(rng.random((n, 36)).astype(np.float32), rng.integers(0, 3, n)) for n in (40, 12, 8)]
    data = [(network3.shared(x), network3.shared(y)) for x, y in plain]
    test_x, test_y = data[2][0].eval(), data[2][1].eval()  # plot_errors' first line
    assert type(test_x) is np.ndarray and np.array_equal(test_y, plain[2][1])
    nets = []
    for d in (plain, data):
        np.random.seed(4)
        net = _small_conv_net()
        list(net.train(d[0], 2, 4, 0.5, d[1], d[2], lmbda=0.1))
        nets.append(net)
    for a, b in zip(nets[0].params, nets[1].params):
        np.testing.assert_array_equal(a, b)
