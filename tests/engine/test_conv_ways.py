"""Each conv layer's way as a kernel of its own (kernels.conv_ways): the same tests choose it as in conv_stack's
forward_part/backward_part, the results are theirs bit for bit, and a way that was not bound raises."""

import numpy as np
import pytest

from nnfast.engine.kernels import conv as ck
from nnfast.engine.kernels import conv_stack, conv_ways

BOOK = np.array([[1, 28, 28, 20, 5, 5, 2, 2, ck.SIGMOID], [20, 12, 12, 40, 5, 5, 2, 2, ck.SIGMOID]], np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_books_layers_take_the_first_layers_kernels_then_tiles_and_one_sample_parts_the_patch_rows(dtype):
    forward, backward = conv_ways.ways(BOOK, dtype, 10)
    assert forward == backward == [{conv_ways.FIRST}, {conv_ways.TILE}]
    forward, backward = conv_ways.ways(BOOK, dtype, 1)  # parts of one sample (10 threads): no room for the maps
    assert forward == backward == [{conv_ways.GENERIC}, {conv_ways.TILE}]


def _layer(m, rng, dtype=np.float64, H=12, W=12, fh=3, fw=3, F=4, ph=2, pw=2):
    """One first layer, its workspaces for one part of ``m`` samples, as conv_stack takes them."""
    Hz, Wz = H - fh + 1, W - fw + 1
    rows, n_out = m * Hz * Wz, (Hz // ph) * (Wz // pw) * F
    geometry = np.array([[1, H, W, F, fh, fw, ph, pw, ck.SIGMOID]], np.int64)
    K, b = rng.standard_normal((F, fh * fw)).astype(dtype), rng.standard_normal(F).astype(dtype)
    ws = dict(cols=(np.zeros((1, rows, fh * fw), dtype),), Z=(np.zeros((1, rows, F), dtype),),
              out=(np.zeros((1, m, n_out), dtype),), arg=(np.zeros((1, m, n_out), np.int64),),
              dX=(np.zeros((1, m, H * W), dtype),), dKs=(np.zeros((1, F, fh * fw), dtype),),
              dbs=(np.zeros((1, F), dtype),), win_g=(np.zeros((1, F, m * n_out // F), dtype),),
              win_rows=(np.zeros((1, F, m * n_out // F), np.int64),))
    x = rng.random((m, H * W)).astype(dtype)
    d = rng.standard_normal((m, n_out)).astype(dtype)
    return geometry, K, b, ws, x, d


def _run(forward, backward, geometry, K, b, ws, x, d):
    forward(x, geometry, (K,), (b,), ws["cols"], ws["Z"], ws["out"], ws["arg"], 0)
    backward(d, geometry, (K,), *(ws[n] for n in ("cols", "Z", "out", "arg", "dX", "dKs", "dbs", "win_g", "win_rows")),
             0)
    return ws["out"][0].copy(), ws["arg"][0].copy(), ws["dKs"][0].copy(), ws["dbs"][0].copy()


@pytest.mark.parametrize("m, way", [(3, conv_ways.FIRST), (1, conv_ways.GENERIC)])
def test_a_bound_geometry_gives_forward_part_and_backward_part_bit_for_bit(m, way):
    geometry, K, b, ws, x, d = _layer(m, np.random.default_rng(m))
    bound = conv_ways.bind(geometry, np.float64, m)
    assert bound.shape == (1, conv_ways.BOUND) and (bound[:, :conv_ways.GEOMETRY] == geometry).all()
    assert bound[0, conv_ways.FORWARD_AT + way] and bound[0, conv_ways.BACKWARD_AT + way]
    others = [w for w in range(3) if w != way]
    assert not bound[0, [conv_ways.FORWARD_AT + w for w in others] + [conv_ways.BACKWARD_AT + w for w in others]].any()
    want = _run(conv_stack.forward_part, conv_stack.backward_part, geometry, K, b, ws, x, d)
    for name in ws:  # garbage in every workspace: nothing of the first run's is read
        for a in ws[name]:
            a.fill(-7)
    got = _run(conv_stack.forward_layers, conv_stack.backward_layers, bound, K, b, ws, x, d)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_a_way_not_bound_raises_and_an_unbound_geometry_too():
    geometry, K, b, ws, x, d = _layer(3, np.random.default_rng(5))
    bound = conv_ways.bind(geometry, np.float64, 3)
    bound[0, conv_ways.FORWARD_AT + conv_ways.FIRST] = 0  # as if the tests chose a way bind did not foresee
    with pytest.raises(ValueError, match="not bound"):
        conv_stack.forward_layers(x, bound, (K,), (b,), ws["cols"], ws["Z"], ws["out"], ws["arg"], 0)
    with pytest.raises(ValueError, match="bound geometry"):
        conv_stack.forward_layers(x, geometry, (K,), (b,), ws["cols"], ws["Z"], ws["out"], ws["arg"], 0)
