"""``kernels.conv_grad_tile`` (a long-patch conv layer's filter and input gradients from register tiles) against
numpy: the maps' gradient ``dZ`` routed to the pooling winners by a plain loop, then ``dK = dZ.T @ cols``,
``db = dZ.sum(0)`` and ``dX = col2im(dZ @ K)``; odd shapes (blocks that do not divide the patch, one filter,
pools that drop a border), ties, ReLU's zeros, NaN and inf as the product propagates them."""

import numpy as np
import pytest

from nnfast.engine.kernels import conv as ck
from nnfast.engine.kernels import conv_grad_tile as tile

# (H, W, C, fh, fw, F, pool): patches of 300, 343, 500, 500 and 256 values (a float32 input block exactly)
SHAPES = [(27, 27, 3, 10, 10, 5, (3, 3)), (13, 13, 7, 7, 7, 40, (3, 2)), (13, 13, 20, 5, 5, 1, (1, 1)),
          (12, 12, 20, 5, 5, 40, (2, 2)), (13, 13, 16, 4, 4, 5, (2, 2))]


def _case(rng, dtype, act, H, W, C, fh, fw, F, pool, m=2):
    """Patches, filters and a pooled layer's output, winners and output gradient, as the forward pass leaves them."""
    ph, pw = pool
    Hz, Wz = H - fh + 1, W - fw + 1
    Hp, Wp = Hz // ph, Wz // pw
    X = rng.standard_normal((m, H, W, C)).astype(dtype)
    X[0, :, : W // 2] = 0  # blank patches: equal maps in a window, ties
    cols = np.empty((m * Hz * Wz, fh * fw * C), dtype)
    ck.im2col(X, fh, fw, cols)
    K = rng.standard_normal((F, fh * fw * C)).astype(dtype)
    maps = (cols.astype(np.float64) @ K.T.astype(np.float64)).reshape(m, Hz, Wz, F)
    out, arg = np.empty((m, Hp, Wp, F), dtype), np.empty((m, Hp, Wp, F), np.int64)
    for n in range(m):
        for a in range(Hp):
            for b in range(Wp):
                window = maps[n, a * ph:(a + 1) * ph, b * pw:(b + 1) * pw].reshape(ph * pw, F)
                q = np.argmax(window, axis=0)  # the first maximum wins
                y = window[q, np.arange(F)]
                out[n, a, b] = {ck.RELU: np.maximum(y, 0), ck.SIGMOID: 1 / (1 + np.exp(-y)),
                                ck.TANH: np.tanh(y)}.get(act, y)
                arg[n, a, b] = (a * ph + q // pw) * Wz + b * pw + q % pw
    d_out = rng.standard_normal((m, Hp, Wp, F)).astype(dtype)
    return d_out, out, arg, Hz, Wz, cols, K


def _maps_gradient(d_out, out, act, arg, Hz, Wz):
    """``dZ (m*Hz*Wz, F)``: each window's gradient times the activation's slope, at its winner, in float64."""
    m, Hp, Wp, F = d_out.shape
    y = out.astype(np.float64)
    slope = {ck.RELU: (y > 0) * 1.0, ck.SIGMOID: y * (1 - y), ck.TANH: 1 - y * y}.get(act, np.ones_like(y))
    g = d_out * slope
    dZ = np.zeros((m * Hz * Wz, F))
    for n in range(m):
        for a in range(Hp):
            for b in range(Wp):
                dZ[n * Hz * Wz + arg[n, a, b], np.arange(F)] += g[n, a, b]
    return dZ


def _col2im(dcols, m, H, W, C, fh, fw):
    Hz, Wz = H - fh + 1, W - fw + 1
    dX = np.zeros((m, H, W, C))
    patches = dcols.reshape(m, Hz, Wz, fh, fw, C)
    for u in range(fh):
        for v in range(fw):
            dX[:, u:u + Hz, v:v + Wz] += patches[:, :, :, u, v]
    return dX


def _tile_gradients(d_out, out, act, arg, Hz, Wz, cols, K, H, W, C, fh, fw):
    m, Hp, Wp, F = d_out.shape
    dtype = cols.dtype
    dK, db, dZ = np.full((F, cols.shape[1]), 7, dtype), np.full(F, 7, dtype), np.full((m * Hz * Wz, F), 7, dtype)
    tile.pool_backward_filters(d_out, out, act, arg, Hz, Wz, cols, dK, db, np.empty((F, m * Hp * Wp), dtype),
                               np.empty((F, m * Hp * Wp), np.int64), True, dZ)
    dX = np.full((m, H, W, C), 7, dtype)
    tile.pool_input_gradient(dZ, K, fh, fw, dX)
    return dK, db, dZ, dX


def _tolerance(dtype):
    return 1e-11 if dtype == np.float64 else 2e-5


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act", [ck.LINEAR, ck.RELU, ck.SIGMOID, ck.TANH])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradients_equal_the_products(dtype, act, shape):
    H, W, C, fh, fw, F, pool = shape
    rng = np.random.default_rng(H + C + F + act)
    d_out, out, arg, Hz, Wz, cols, K = _case(rng, dtype, act, *shape)
    assert tile.fits(cols, cols.shape[1]), "the case must take the tiles"
    dK, db, dZ, dX = _tile_gradients(d_out, out, act, arg, Hz, Wz, cols, K, H, W, C, fh, fw)
    dZ_ref = _maps_gradient(d_out, out, act, arg, Hz, Wz)
    dK_ref = dZ_ref.T @ cols.astype(np.float64)
    dX_ref = _col2im(dZ_ref @ K.astype(np.float64), len(d_out), H, W, C, fh, fw)
    tol = _tolerance(dtype)
    np.testing.assert_allclose(dZ, dZ_ref, rtol=tol, atol=tol * np.abs(dZ_ref).max())
    np.testing.assert_allclose(db, dZ_ref.sum(0), rtol=tol, atol=tol * np.abs(dZ_ref).sum())
    np.testing.assert_allclose(dK, dK_ref, rtol=tol, atol=tol * np.abs(dK_ref).max())
    np.testing.assert_allclose(dX, dX_ref, rtol=tol, atol=tol * np.abs(dX_ref).max())
    if act == ck.RELU:
        assert (out == 0).any() and (out > 0).any()  # winners with zero gradients to skip, and others


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_reach_the_gradients_as_in_the_products(dtype, bad):
    H, W, C, fh, fw, F, pool = SHAPES[1]
    d_out, out, arg, Hz, Wz, cols, K = _case(np.random.default_rng(5), dtype, ck.LINEAR, *SHAPES[1])
    d_out[1, 0, 2, 3] = bad
    dK, db, dZ, dX = _tile_gradients(d_out, out, ck.LINEAR, arg, Hz, Wz, cols, K, H, W, C, fh, fw)
    dZ_ref = _maps_gradient(d_out, out, ck.LINEAR, arg, Hz, Wz)
    with np.errstate(invalid="ignore"):
        dK_ref, dX_ref = dZ_ref.T @ cols.astype(np.float64), _col2im(dZ_ref @ K.astype(np.float64), 2, H, W, C, fh, fw)
    for got, want in ((dK, dK_ref), (dX, dX_ref), (db, dZ_ref.sum(0))):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        ok = np.isfinite(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-4, atol=1e-4 * np.abs(want[ok]).max())
    assert not np.isfinite(dK[3]).any() and np.isfinite(np.delete(dK, 3, axis=0)).all()
    assert 0 < (~np.isfinite(dX)).sum() <= fh * fw * C  # one patch's values


def test_fits_takes_patches_a_block_long():
    """The tiles need a whole block of each kernel (the last one overlaps the one before): 256 float32
    values (1 KB), 128 float64; shorter patches (the book's first layer's 25) keep ``conv``'s kernels."""
    f32, f64 = np.empty(1, np.float32), np.empty(1, np.float64)
    assert tile.fits(f32, 256) and not tile.fits(f32, 255) and tile.fits(f32, 500)
    assert tile.fits(f64, 128) and not tile.fits(f64, 127) and not tile.fits(f64, 25)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
@pytest.mark.parametrize("F1, F2, pool, act", [(8, 5, (2, 2), "ReLU"), (9, 1, (3, 3), "sigmoid"),
                                               (9, 40, (3, 2), "tanh")])
def test_the_one_call_step_through_the_tiles_equals_the_twin(monkeypatch, parallel_now, threads, F1, F2, pool, act):
    # the second layer's patches have F1 * 16 >= 128 values: in float64 the whole compiled step (engine.net_step)
    # takes these kernels (8: one input block exactly; 9: blocks that overlap); three SGD steps against the twin
    from nnfast import network3
    from nnfast.engine.kernels import net_step, step_region
    from nnfast.twins import network3 as reference3
    monkeypatch.setenv("NNFAST_THREADS", threads)
    calls = []
    real = net_step.steps_one, step_region.step_region
    monkeypatch.setattr(net_step, "steps_one", lambda *a: calls.append(1) or real[0](*a))
    monkeypatch.setattr(step_region, "step_region", lambda *a: calls.append(2) or real[1](*a))
    np.random.seed(7)
    m, (ph, pw), fn = 7, pool, getattr(network3, act)
    l1 = network3.ConvPoolLayer((F1, 1, 5, 5), (m, 1, 16, 16), (1, 1), activation_fn=fn)
    l2 = network3.ConvPoolLayer((F2, F1, 4, 4), (m, F1, 12, 12), pool, activation_fn=fn)
    assert tile.fits(np.empty(1), F1 * 16)
    net = network3.Network([l1, l2, network3.FullyConnectedLayer(F2 * (9 // ph) * (9 // pw), 20, activation_fn=fn),
                            network3.SoftmaxLayer(20, 4)], m, dtype=np.float64)
    twin = reference3.layers_of(net)
    twin_rng = np.random.RandomState(np.random.RandomState(0).randint(999999))
    rng = np.random.default_rng(8)
    for _ in range(3):
        x, y = rng.random((m, 256)), rng.integers(0, 4, m)
        cost = net._step(x, y, 0.2, 0.1, 11)
        assert cost == pytest.approx(reference3.sgd_step(twin, x, y, 0.2, 0.1, 11, twin_rng), rel=1e-12)
        for layer, t in zip(net.layers, twin):
            np.testing.assert_allclose(layer.w, t["w"], rtol=1e-11, atol=1e-13)
            np.testing.assert_allclose(layer.b, t["b"], rtol=1e-11, atol=1e-13)
    assert calls and set(calls) == {1 if threads == "1" else 2}  # the compiled step ran, not the layers' own code
