"""nnfast.network against nnfast.twins.network (the book's per-sample algorithm) and against calculus."""

import random
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnfast import network
from nnfast.twins import network as reference
from conftest import synthetic_digits


def twins(sizes, seed=7, dtype=np.float64):
    """(nnfast network, reference network) drawn from the same seed."""
    np.random.seed(seed)
    fast = network.Network(sizes, dtype=dtype)
    np.random.seed(seed)
    ref = reference.Network(sizes)
    return fast, ref


def max_rel_diff(arrays, expected):
    """Largest |a - b| / max|b| over a list of array pairs."""
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
               for a, b in zip(arrays, expected))


def params(net):
    return list(net.weights) + list(net.biases)


def random_batch(rng, n_in, n_out, m):
    return [(rng.random((n_in, 1)), rng.random((n_out, 1))) for _ in range(m)]


def test_initial_weights_are_the_books_for_the_same_seed():
    fast, ref = twins([784, 30, 10])
    for a, b in zip(params(fast), params(ref)):
        assert a.shape == b.shape and a.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    assert fast.num_layers == 3 and fast.sizes == [784, 30, 10]


def test_backprop_of_one_sample_equals_reference_to_rounding():
    fast, ref = twins([784, 30, 10])
    x, y = random_batch(np.random.default_rng(1), 784, 10, 1)[0]
    nb, nw = fast.backprop(x, y)
    rb, rw = ref.backprop(x, y)
    assert [a.shape for a in nb + nw] == [a.shape for a in rb + rw]
    assert max_rel_diff(nb + nw, rb + rw) < 1e-12


def test_backprop_of_a_batch_is_the_sum_of_per_sample_gradients():
    fast, ref = twins([20, 7, 5, 3])
    batch = random_batch(np.random.default_rng(2), 20, 3, 6)
    X = np.hstack([x for x, _ in batch])
    Y = np.hstack([y for _, y in batch])
    nb, nw = fast.backprop(X, Y)
    per_sample = [ref.backprop(x, y) for x, y in batch]
    sb = [sum(g[0][i] for g in per_sample) for i in range(3)]
    sw = [sum(g[1][i] for g in per_sample) for i in range(3)]
    assert max_rel_diff(nb + nw, sb + sw) < 1e-12


@pytest.mark.parametrize("sizes,m", [([784, 30, 10], 10), ([50, 20, 12, 10], 7)])
@pytest.mark.parametrize("steps", [1, 50])
def test_update_mini_batch_tracks_reference(sizes, m, steps):
    fast, ref = twins(sizes)
    rng = np.random.default_rng(3)
    for _ in range(steps):
        batch = random_batch(rng, sizes[0], sizes[-1], m)
        fast.update_mini_batch(batch, 3.0)
        ref.update_mini_batch(batch, 3.0)
    assert max_rel_diff(params(fast), params(ref)) <= 1e-9


def test_sgd_prints_the_same_lines_and_leaves_the_list_in_the_books_order(capsys):
    training, test = synthetic_digits(1003, n_in=64)  # 1003 % 10 != 0: a short last batch
    fast, ref = twins([64, 16, 10])
    fast_data, ref_data = list(training), list(training)

    random.seed(99)
    assert fast.SGD(fast_data, 3, 10, 3.0, test_data=test) is None
    fast_out = capsys.readouterr().out
    random.seed(99)
    ref.SGD(ref_data, 3, 10, 3.0, test_data=test)
    ref_out = capsys.readouterr().out

    assert fast_out == ref_out
    assert fast_out.splitlines()[0].startswith("Epoch 0: ") and fast_out.count("\n") == 3
    assert [id(x) for x, _ in fast_data] == [id(x) for x, _ in ref_data]
    assert [id(x) for x, _ in fast_data] != [id(x) for x, _ in training]  # it really was shuffled
    assert max_rel_diff(params(fast), params(ref)) < 1e-8


def test_sgd_without_test_data_prints_complete_lines(capsys):
    training, _ = synthetic_digits(30, n_in=8)
    fast, _ = twins([8, 5, 10])
    fast.SGD(training, 2, 4, 1.0)
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"


def test_sgd_accepts_zip_iterators_like_python3_ports_of_the_book(capsys):
    training, test = synthetic_digits(200, n_in=16)
    xs, ys = zip(*training)
    tx, ty = zip(*test)
    fast, ref = twins([16, 8, 10])
    random.seed(5)
    fast.SGD(zip(xs, ys), 2, 10, 3.0, test_data=zip(tx, ty))
    fast_out = capsys.readouterr().out
    random.seed(5)
    ref.SGD(list(zip(xs, ys)), 2, 10, 3.0, test_data=list(zip(tx, ty)))
    assert fast_out == capsys.readouterr().out


def test_float32_learns_as_well_as_float64(capsys):
    training, test = synthetic_digits(3000, n_in=784, seed=4)
    results = {}
    for dtype in (np.float64, np.float32):
        np.random.seed(11)
        random.seed(11)
        net = network.Network([784, 30, 10], dtype=dtype)
        net.SGD(list(training), 1, 10, 3.0)
        assert all(w.dtype == dtype for w in params(net))
        results[dtype] = net.evaluate(test)
    capsys.readouterr()
    assert results[np.float64] > 0.5 * len(test)  # it learned something: the comparison means something
    assert abs(results[np.float32] - results[np.float64]) <= 0.01 * len(test)


def test_evaluate_counts_argmax_of_feedforward():
    training, test = synthetic_digits(100, n_in=32, seed=5)
    fast, _ = twins([32, 12, 10])
    fast.SGD(training, 1, 10, 3.0)
    expected = sum(int(np.argmax(fast.feedforward(x)) == y) for x, y in test)
    assert fast.evaluate(test) == expected
    assert isinstance(fast.evaluate(test), int)


def test_feedforward_matches_reference_for_columns_and_batches():
    fast, ref = twins([30, 9, 4])
    X = np.random.default_rng(6).random((30, 13))
    batch = fast.feedforward(X)
    assert batch.shape == (4, 13)
    np.testing.assert_allclose(batch, ref.feedforward(X), rtol=1e-12)
    one = fast.feedforward(X[:, :1])
    assert one.shape == (4, 1)
    np.testing.assert_allclose(one, ref.feedforward(X[:, :1]), rtol=1e-12)


def test_sigmoid_is_safe_at_extremes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = network.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
        assert network.sigmoid(-1000.0) == 0.0
        assert network.sigmoid_prime(np.array([1000.0, -1000.0])).tolist() == [0.0, 0.0]
    assert out.tolist() == [0.0, 0.5, 1.0]
    z = np.linspace(-30, 30, 101)
    np.testing.assert_allclose(network.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(network.sigmoid_prime(z), np.exp(-z) / (1 + np.exp(-z)) ** 2,
                               rtol=1e-12, atol=1e-15)  # the book's s * (1 - s) cancels for large z


def test_kernel_sigmoid_is_safe_at_extremes():
    fast, _ = twins([1, 1])
    fast.weights = [np.array([[1.0]])]
    fast.biases = [np.array([[0.0]])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fast.feedforward(np.array([[-1000.0, 0.0, 1000.0]]))
    assert out.tolist() == [[0.0, 0.5, 1.0]]


@pytest.mark.parametrize("dtype,underflow", [(np.float32, 87.3), (np.float64, 708.3)])
def test_kernel_sigmoid_is_within_a_few_ulp_of_the_true_sigmoid(dtype, underflow):
    from nnfast.engine.kernels import activation as _kernels
    rng = np.random.default_rng(0)
    z = np.concatenate([np.linspace(-2 * underflow, 2 * underflow, 400_001), rng.standard_normal(100_000) * 5,
                        [0.0, -0.0, 1e-30, -1e-30]]).astype(dtype)
    out = z.copy()[None]
    _kernels._sigmoid_inplace(out)
    truth = 1 / (1 + np.exp(-z.astype(np.longdouble)))
    ulp = np.spacing(truth.astype(dtype)).astype(np.longdouble)
    normal = np.abs(z) < underflow  # below that exp is taken as 0 instead of a denormal
    assert np.max(np.abs(out[0][normal] - truth[normal]) / ulp[normal]) <= 3
    assert np.all(np.abs(out[0][~normal] - truth[~normal]) <= 2 * np.finfo(dtype).tiny)
    special = np.array([[np.nan, np.inf, -np.inf, 1e30, -1e30]], dtype=dtype)
    _kernels._sigmoid_inplace(special)
    assert np.isnan(special[0, 0]) and special[0, 1:].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_cost_derivative_is_a_minus_y():
    fast, _ = twins([3, 2])
    a, y = np.array([[0.5], [0.25]]), np.array([[1.0], [0.0]])
    np.testing.assert_array_equal(fast.cost_derivative(a, y), a - y)


def test_assigned_weights_take_effect_and_held_arrays_keep_their_values():
    fast, ref = twins([6, 4, 3])
    new_w = [np.random.default_rng(8).standard_normal(w.shape) for w in fast.weights]
    fast.weights = [w.copy() for w in new_w]
    ref.weights = [w.copy() for w in new_w]
    fast.biases[0] = np.zeros((4, 1))
    ref.biases[0] = np.zeros((4, 1))
    held = fast.weights[0]
    batch = random_batch(np.random.default_rng(9), 6, 3, 5)
    fast.update_mini_batch(batch, 2.0)
    ref.update_mini_batch(batch, 2.0)
    np.testing.assert_array_equal(held, new_w[0])  # the book makes new arrays; so do we
    assert max_rel_diff(params(fast), params(ref)) < 1e-12
    assert all(type(w) is np.ndarray for w in params(fast))


def _cost(net, X, Y):
    return 0.5 * float(np.sum((net.feedforward(X) - Y) ** 2))


def test_gradient_matches_finite_differences():
    np.random.seed(3)
    net = network.Network([5, 4, 3, 2])
    rng = np.random.default_rng(10)
    X, Y = rng.random((5, 6)), rng.random((2, 6))
    nb, nw = net.backprop(X, Y)
    eps = 1e-6
    for grads, arrays in ((nw, net.weights), (nb, net.biases)):
        for g, p in zip(grads, arrays):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = _cost(net, X, Y)
                p[idx] = old - eps
                down = _cost(net, X, Y)
                p[idx] = old
                numeric[idx] = (up - down) / (2 * eps)
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), depth=st.integers(2, 5))
def test_any_shape_matches_the_reference(data, depth):
    sizes = data.draw(st.lists(st.integers(1, 64), min_size=depth, max_size=depth))
    n = data.draw(st.integers(1, 23))
    m = data.draw(st.integers(1, n))
    seed = data.draw(st.integers(0, 2**31 - 1))
    fast, ref = twins(sizes, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    batch = random_batch(rng, sizes[0], sizes[-1], n)
    X = np.hstack([x for x, _ in batch[:m]])
    Y = np.hstack([y for _, y in batch[:m]])
    nb, nw = fast.backprop(X, Y)
    per_sample = [ref.backprop(x, y) for x, y in batch[:m]]
    expected = [sum(g[0][i] for g in per_sample) for i in range(depth - 1)] + \
               [sum(g[1][i] for g in per_sample) for i in range(depth - 1)]
    # relative to each array's scale: single entries near zero carry the others' rounding
    assert max_rel_diff(nb + nw, expected) <= 1e-9
    for k in range(0, n, m):
        fast.update_mini_batch(batch[k:k + m], 3.0)
        ref.update_mini_batch(batch[k:k + m], 3.0)
    # up to 23 steps at eta 3 compound the summation-order rounding of each: hypothesis found 1.24e-9 after 21
    # (sizes [35, 55, 55], n 21, m 1), the same on every commit since, so the trained weights get 1e-8
    assert max_rel_diff(params(fast), params(ref)) <= 1e-8


@pytest.mark.parametrize("sizes", [[784], [], [784, 0, 10], [784, -3, 10], [784, 2.5, 10], "784", [True, 3]])
def test_nonsense_sizes_are_refused(sizes):
    with pytest.raises((ValueError, TypeError)):
        network.Network(sizes)


def test_nonsense_hyper_parameters_are_refused():
    training, _ = synthetic_digits(10, n_in=4)
    net = network.Network([4, 3, 10])
    for args in [(training, -1, 10, 3.0), (training, 1, 0, 3.0), (training, 1, 10, 0.0),
                 (training, 1, 10, float("nan")), (training, 1, 10, float("inf")), (training, 1.5, 10, 3.0)]:
        with pytest.raises((ValueError, TypeError)):
            net.SGD(*args)


def test_wrong_shapes_are_refused_with_a_clear_message():
    net = network.Network([4, 3, 2])
    with pytest.raises(ValueError, match=r"training input 1 has shape \(5, 1\)"):
        net.update_mini_batch([(np.zeros((4, 1)), np.zeros((2, 1))), (np.zeros((5, 1)), np.zeros((2, 1)))], 1.0)
    with pytest.raises(ValueError, match="input has shape"):
        net.feedforward(np.zeros((3, 1)))
    net.weights[0] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"weights\[0\] has shape"):
        net.feedforward(np.zeros((4, 1)))


def test_unscaled_pixels_get_a_warning_that_explains_the_10_percent_plateau():
    training, _ = synthetic_digits(20, n_in=8)
    unscaled = [(x * 255, y) for x, y in training]
    net = network.Network([8, 4, 10])
    with pytest.warns(UserWarning, match="near 10%"):
        net.SGD(unscaled, 1, 5, 3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.SGD(training, 1, 5, 3.0)
