"""``kernels.conv_tile.conv_pool_forward`` (the product and the pooling in one, from register tiles) against
numpy: the maps ``cols @ K.T`` pooled by a plain loop (first maximum wins), and the compiled conv stack on a
layer that takes the tiles against the layer's own code."""

import numpy as np
import pytest

from nnfast.engine import conv_parts
from nnfast.engine.kernels import conv as ck
from nnfast.engine.kernels import conv_tile
from nnfast.network3 import ConvPoolLayer, ReLU, linear, sigmoid


def _pool_reference(Z, m, Hz, Wz, ph, pw, b, act):
    """Max-pooling by windows in row-major order, the first of equal values winning; bias, then ReLU."""
    F = Z.shape[1]
    Hp, Wp = Hz // ph, Wz // pw
    P, arg = np.empty((m, Hp, Wp, F)), np.empty((m, Hp, Wp, F), np.int64)
    maps = Z.reshape(m, Hz, Wz, F)
    for n in range(m):
        for a in range(Hp):
            for bb in range(Wp):
                window = maps[n, a * ph:(a + 1) * ph, bb * pw:(bb + 1) * pw].reshape(ph * pw, F)
                q = np.argmax(window, axis=0)  # the first maximum
                P[n, a, bb] = window[q, np.arange(F)] + b
                arg[n, a, bb] = (a * ph + q // pw) * Wz + bb * pw + q % pw
    return (np.maximum(P, 0) if act == ck.RELU else P), arg


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", [ck.LINEAR, ck.RELU])
@pytest.mark.parametrize("pool, F", [((2, 2), 40), ((2, 2), 5), ((4, 1), 6), ((1, 4), 7), ((2, 4), 3)])
def test_tiles_equal_the_product_then_pooling(dtype, act, pool, F):
    rng = np.random.default_rng(F * 10 + act)
    m, H, W, C, fh, fw = 3, 13, 11, 4, 3, 5  # maps 11x7: ignore_border drops a row or column at most pools
    ph, pw = pool
    Hz, Wz = H - fh + 1, W - fw + 1
    X = rng.standard_normal((m, H, W, C)).astype(dtype)
    X[1, 2:8, :, :] = 0  # blank patches: equal maps in a window, the first position must win
    cols = np.empty((m * Hz * Wz, fh * fw * C), dtype)
    ck.im2col(X, fh, fw, cols)
    K = rng.standard_normal((F, fh * fw * C)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    want, want_arg = _pool_reference(cols.astype(np.float64) @ K.T.astype(np.float64), m, Hz, Wz, ph, pw, b, act)
    shape = (m, Hz // ph, Wz // pw, F)
    P, arg = np.full(shape, np.nan, dtype), np.full(shape, -1, np.int64)
    conv_tile.conv_pool_forward(cols, K, Hz, Wz, ph, pw, b, act, P, arg)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(P, want, rtol=tol, atol=tol)
    if dtype == np.float64:  # float32's rounding may swap two values a rounding apart; float64's never here
        np.testing.assert_array_equal(arg, want_arg)
    blank = arg[1, 1:3]  # windows inside the blank rows: every position ties at 0
    assert (blank == want_arg[1, 1:3]).all()


@pytest.mark.parametrize("parts", [[(0, 5)], [(0, 2), (2, 5)]])
@pytest.mark.parametrize("act", [sigmoid, ReLU, linear])
def test_a_stack_on_the_tiles_equals_the_layers_own_code(parts, act):
    """A second layer of 4x4x4 = 64 taps and 2x2 pooling runs on the tiles in ``conv_stack``."""
    np.random.seed(31)
    layers = [ConvPoolLayer((4, 1, 3, 3), (5, 1, 14, 12), (2, 2), activation_fn=act),
              ConvPoolLayer((6, 4, 4, 4), (5, 4, 6, 5), (2, 2), activation_fn=act)]
    assert 4 * 4 * 4 >= conv_tile.MIN_TAPS
    x = np.random.default_rng(32).random((5, 14 * 12))
    d = np.random.default_rng(33).standard_normal((5, 6 * 1 * 1))
    a0, c0 = layers[0].forward(x)
    a1, c1 = layers[1].forward(a0)
    dw1, db1, g = layers[1].backward(c1, d, want_dx=True)
    dw0, db0, _ = layers[0].backward(c0, g, want_dx=False)
    convs = conv_parts.CompiledConvs(layers, np.float64)
    np.testing.assert_allclose(convs.forward(x, parts), a1, rtol=1e-12, atol=1e-14)
    for (dw, db), (want_dw, want_db) in zip(convs.backward(d), [(dw0, db0), (dw1, db1)]):
        np.testing.assert_allclose(dw, want_dw, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(db, want_db, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", [ck.LINEAR, ck.RELU])
@pytest.mark.parametrize("pool", [(2, 2), (1, 4), (4, 1), (3, 2), (3, 3), (1, 1)])
def test_pool_forward_equals_the_plain_pooling(dtype, act, pool):
    """``conv.pool_forward`` (four-position windows on their own one-pass kernel) against the loop above, on
    maps of 27x25 (a partial window dropped at most pools) with blank stretches where a window ties at 0."""
    rng = np.random.default_rng(sum(pool) + act)
    m, Hz, Wz, F = 2, 27, 25, 21
    ph, pw = pool
    Z = rng.standard_normal((m * Hz * Wz, F)).astype(dtype)
    Z[100:300] = 0
    Z[400:420, 3] = Z[420, 3]  # ties at a non-zero value too
    b = rng.standard_normal(F).astype(dtype)
    want, want_arg = _pool_reference(Z.astype(np.float64), m, Hz, Wz, ph, pw, b.astype(np.float64), act)
    shape = (m, Hz // ph, Wz // pw, F)
    P, arg = np.full(shape, np.nan, dtype), np.full(shape, -1, np.int64)
    ck.pool_forward(Z, Hz, Wz, ph, pw, b, act, P, arg)
    np.testing.assert_array_equal(arg, want_arg)
    np.testing.assert_allclose(P, want, rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_pool_forward_keeps_a_nan_only_where_it_comes_first():
    """Strictly greater wins, as ``pool_forward`` always did: a NaN at a window's first position stays (the
    run reports it), a later NaN never wins."""
    Z = np.arange(16 * 2, dtype=np.float64).reshape(16, 2)
    Z[0, 0] = np.nan  # window (0, 0), first position
    Z[5, 1] = np.nan  # window (0, 0), last position (row 1, column 1 of the 4x4 map)
    P, arg = np.empty((1, 2, 2, 2)), np.empty((1, 2, 2, 2), np.int64)
    ck.pool_forward(Z, 4, 4, 2, 2, np.zeros(2), ck.LINEAR, P, arg)
    assert np.isnan(P[0, 0, 0, 0]) and arg[0, 0, 0, 0] == 0
    assert P[0, 0, 0, 1] == Z[4, 1] and arg[0, 0, 0, 1] == 4


@pytest.mark.parametrize("C, fh, fw", [(1, 5, 5), (20, 5, 5), (3, 2, 4), (2, 1, 1)])
def test_im2col_gives_numpys_sliding_windows(C, fh, fw):
    X = np.random.default_rng(C + fh).standard_normal((3, 9, 8, C)).astype(np.float32)
    cols = np.full((3 * (9 - fh + 1) * (8 - fw + 1), fh * fw * C), np.nan, np.float32)
    ck.im2col(X, fh, fw, cols)
    windows = np.lib.stride_tricks.sliding_window_view(X, (fh, fw), axis=(1, 2))  # (m, Hz, Wz, C, fh, fw)
    np.testing.assert_array_equal(cols, windows.transpose(0, 1, 2, 4, 5, 3).reshape(len(cols), -1))


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("F1, F2, pool, act", [(4, 5, (2, 2), ReLU), (6, 9, (2, 4), sigmoid)])
def test_the_one_call_step_through_the_tiles_equals_the_twin(monkeypatch, parallel_now, threads, F1, F2, pool, act):
    # the second layer's patches have F1 * 16 >= MIN_TAPS taps and its windows a multiple of 4 positions: the whole
    # compiled step (engine.net_step) runs the tiles; three SGD steps against the plain-numpy twin
    from nnfast.engine.kernels import net_step, step_region
    from nnfast.network3 import FullyConnectedLayer, Network, SoftmaxLayer
    from nnfast.twins import network3 as reference3
    monkeypatch.setenv("NNFAST_THREADS", threads)
    calls = []
    real = net_step.steps_one, step_region.step_region
    monkeypatch.setattr(net_step, "steps_one", lambda *a: calls.append(1) or real[0](*a))
    monkeypatch.setattr(step_region, "step_region", lambda *a: calls.append(2) or real[1](*a))
    np.random.seed(5)
    m, (ph, pw) = 7, pool
    l1 = ConvPoolLayer((F1, 1, 5, 5), (m, 1, 16, 16), (1, 1), activation_fn=act)
    l2 = ConvPoolLayer((F2, F1, 4, 4), (m, F1, 12, 12), pool, activation_fn=act)
    assert F1 * 16 >= conv_tile.MIN_TAPS and (ph * pw) % 4 == 0
    net = Network([l1, l2, FullyConnectedLayer(F2 * (9 // ph) * (9 // pw), 20, activation_fn=act),
                   SoftmaxLayer(20, 4)], m, dtype=np.float64)
    twin = reference3.layers_of(net)
    twin_rng = np.random.RandomState(np.random.RandomState(0).randint(999999))
    rng = np.random.default_rng(6)
    for _ in range(3):
        x, y = rng.random((m, 256)), rng.integers(0, 4, m)
        cost = net._step(x, y, 0.2, 0.1, 11)
        assert cost == pytest.approx(reference3.sgd_step(twin, x, y, 0.2, 0.1, 11, twin_rng), rel=1e-12)
        for layer, t in zip(net.layers, twin):
            np.testing.assert_allclose(layer.w, t["w"], rtol=1e-11, atol=1e-13)
            np.testing.assert_allclose(layer.b, t["b"], rtol=1e-11, atol=1e-13)
    assert calls and set(calls) == {1 if threads == "1" else 2}  # the compiled step ran, not the layers' own code
