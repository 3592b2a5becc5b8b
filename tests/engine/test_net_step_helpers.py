"""The compiled step's filter and bias updates (``kernels.net_step._flip_filters``, ``_step_filters``,
``_step_bias`` and the ranges ``step_region`` cuts over its threads) against numpy, on odd shapes."""

import numpy as np
import pytest

from nnfast.engine.kernels import net_step as kernels


def _flipped(w):
    """conv_stack's layout: K[f, (u*fw + v)*C + c] = w[f, c, fh-1-u, fw-1-v]."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(0, 2, 3, 1).reshape(w.shape[0], -1))


def _unflipped(K, shape):
    F, C, fh, fw = shape
    return K.reshape(F, fh, fw, C).transpose(0, 3, 1, 2)[:, :, ::-1, ::-1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 1, 5, 5), (5, 3, 2, 3), (4, 7, 3, 1)])
def test_flip_filters_is_conv_stacks_layout(dtype, shape):
    w = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    K = np.full((shape[0], w[0].size), np.nan, dtype=dtype)
    kernels._flip_filters(w, K)
    assert np.array_equal(K, _flipped(w))


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-13), (np.float32, 1e-5)])
@pytest.mark.parametrize("shape", [(3, 1, 5, 5), (5, 3, 2, 3)])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_step_filters_sums_the_parts_and_steps_in_the_books_order(dtype, tol, shape, count):
    rng = np.random.default_rng(count)
    F = shape[0]
    w0, b0 = rng.standard_normal(shape).astype(dtype), rng.standard_normal(F).astype(dtype)
    dKs = rng.standard_normal((4, F, w0[0].size)).astype(dtype)  # a 4th part beyond count: never read
    dbs = rng.standard_normal((4, F)).astype(dtype)
    step, keep = dtype(0.25), dtype(0.9)
    dK = _unflipped(dKs[:count].sum(axis=0), shape)
    want_w, want_b = keep * w0 - step * dK, b0 - step * dbs[:count].sum(axis=0)
    w, b = w0.copy(), b0.copy()
    l2 = kernels._step_filters(w, b, dKs, dbs, count, step, keep, True)
    np.testing.assert_allclose(w, want_w, rtol=tol, atol=tol)
    np.testing.assert_allclose(b, want_b, rtol=tol, atol=tol)
    assert l2 == pytest.approx(float(np.sum((w0 * w0).astype(np.float64))), rel=1e-12)  # squares in the dtype
    assert kernels._step_filters(w0.copy(), b0.copy(), dKs, dbs, count, step, keep, False) == 0.0
    # cut into ranges as step_region's threads take them: the same numbers, bit for bit, and each filter once
    for cuts in ([0, F], [0, 1, F], [0, F // 2, F, F]):
        w, b, total = w0.copy(), b0.copy(), 0.0
        for first, stop in zip(cuts, cuts[1:]):
            total += kernels._step_filter_range(w, b, dKs, dbs, count, step, keep, True, first, stop)
        whole_w, whole_b = w0.copy(), b0.copy()
        kernels._step_filters(whole_w, whole_b, dKs, dbs, count, step, keep, True)
        assert np.array_equal(w, whole_w) and np.array_equal(b, whole_b)
        assert total == pytest.approx(l2, rel=1e-12)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-13), (np.float32, 1e-5)])
@pytest.mark.parametrize("m,n", [(1, 7), (10, 33), (3, 1000)])
def test_step_bias_sums_the_samples(dtype, tol, m, n):
    rng = np.random.default_rng(n)
    b0, dz = rng.standard_normal(n).astype(dtype), rng.standard_normal((m, n)).astype(dtype)
    step = dtype(0.3)
    b = b0.copy()
    kernels._step_bias(b, dz, step)
    np.testing.assert_allclose(b, b0 - step * dz.sum(axis=0), rtol=tol, atol=tol)
    cut = b0.copy()
    for first, stop in ((0, n // 3), (n // 3, n // 3), (n // 3, n)):
        kernels._step_bias_range(cut, dz, step, first, stop)
    assert np.array_equal(cut, b)
