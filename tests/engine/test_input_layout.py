"""Skipping the zero pixels of MNIST-like inputs (nnfast.engine.input_layout) learns the book's network."""

import numpy as np
import pytest

from nnfast import network, network2
from nnfast.engine import input_layout as _input_layout
from nnfast.twins import network as reference
from nnfast.twins import network2 as reference2
from nnfast.engine.dense import TrainingDiverged


def sparse_digits(n, n_in=784, seed=0):
    """Book-format training data like MNIST's: ink on a zero background, most of it in the middle of
    the row, pixels multiples of 1/256; with an all-zero row and rows inked only at either end."""
    rng = np.random.default_rng(seed)
    centre = np.exp(-((np.arange(n_in) - n_in / 2) / (n_in / 5)) ** 2)  # how likely each pixel is inked
    labels = rng.integers(0, 10, n)
    X = np.where(rng.random((n, n_in)) < 0.4 * centre, rng.integers(1, 256, (n, n_in)) / 256, 0.0)
    X[0] = 0.0
    X[1, :] = 0.0
    X[1, 0] = 0.5
    X[2, :] = 0.0
    X[2, -1] = 0.25
    X = X.astype(np.float32)
    eye = np.eye(10)
    return [(X[i].reshape(n_in, 1), eye[labels[i]].reshape(10, 1)) for i in range(n)]


def twins(module, ref_module, sizes, seed=5):
    np.random.seed(seed)
    fast = module.Network(sizes)
    np.random.seed(seed)
    ref = ref_module.Network(sizes)
    return fast, ref


def max_rel_diff(a_list, b_list):
    return max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(a_list, b_list))


def test_the_layout_bounds_every_rows_nonzeros_and_orders_columns_by_how_often_they_are_inked():
    data = sparse_digits(500)
    X = np.vstack([x.T for x, _ in data])
    inputs, layout = _input_layout.prepared_inputs(X)
    perm = layout.perm
    assert sorted(perm.tolist()) == list(range(784))
    assert inputs.dtype == np.uint8 and layout.scale == 1 / 256  # the pixels are bytes / 256: stored as bytes
    np.testing.assert_array_equal(inputs * np.float32(layout.scale), X[:, perm])
    counts = np.count_nonzero(X[:, perm], axis=0)
    assert counts[0] == counts.max() and counts[-1] == counts.min()
    for r in range(len(X)):
        nonzero = np.flatnonzero(inputs[r])
        if nonzero.size == 0:
            assert layout.lo[r] == layout.hi[r] == 0
        else:
            assert (layout.lo[r], layout.hi[r]) == (nonzero[0], nonzero[-1] + 1)


def test_inputs_that_are_not_whole_256ths_keep_a_float_copy():
    X = np.vstack([x.T for x, _ in sparse_digits(300, seed=6)])
    X[5, np.flatnonzero(X[5])[0]] = 0.3  # not k / 256
    inputs, layout = _input_layout.prepared_inputs(X)
    assert inputs.dtype == X.dtype and layout.scale == 1.0
    np.testing.assert_array_equal(inputs, X[:, layout.perm])


def test_sgd_on_inputs_that_are_not_whole_256ths_tracks_the_books_per_sample_algorithm():
    data = sparse_digits(300, seed=7)
    data[10][0][np.flatnonzero(data[10][0])[0]] = 0.3
    fast, ref = twins(network, reference, [784, 20, 10])
    import random
    random.seed(8)
    fast.SGD(list(data), 2, 10, 3.0)
    random.seed(8)
    ref.SGD(list(data), 2, 10, 3.0)
    assert max_rel_diff(fast.weights + fast.biases, ref.weights + ref.biases) <= 1e-9


def test_dense_or_few_rows_keep_the_matrix_as_it_is():
    rng = np.random.default_rng(0)
    dense = rng.random((500, 50)).astype(np.float32)
    assert _input_layout.prepared_inputs(dense) == (dense, _input_layout.DENSE_INPUTS)
    few = np.zeros((10, 50), dtype=np.float32)
    assert _input_layout.prepared_inputs(few)[1] is _input_layout.DENSE_INPUTS


def test_a_matrix_too_large_to_copy_keeps_its_column_order_and_still_skips_zeros(monkeypatch):
    monkeypatch.setattr(_input_layout, "MAX_COPY_BYTES", 1000)
    X = np.vstack([x.T for x, _ in sparse_digits(300, seed=1)])
    inputs, layout = _input_layout.prepared_inputs(X)
    assert inputs is X and layout.perm.size == 0 and layout.lo.size == len(X)


@pytest.mark.parametrize("batch", [10, 33, 100, 200])  # 200: above SORT_MAX, the batch keeps its order
def test_sgd_on_mostly_zero_inputs_tracks_the_books_per_sample_algorithm(batch):
    data = sparse_digits(600)
    fast, ref = twins(network, reference, [784, 30, 10])
    fast_data, ref_data = list(data), list(data)
    import random
    random.seed(3)
    fast.SGD(fast_data, 2, batch, 3.0)
    random.seed(3)
    ref.SGD(ref_data, 2, batch, 3.0)
    assert max_rel_diff(fast.weights + fast.biases, ref.weights + ref.biases) <= 1e-9


def test_chapter3_on_mostly_zero_inputs_tracks_the_books_per_sample_algorithm():
    data = sparse_digits(400, seed=2)
    fast, ref = twins(network2, reference2, [784, 20, 10])
    import random
    random.seed(4)
    fast.SGD(list(data), 2, 10, 0.5, lmbda=5.0)
    random.seed(4)
    ref.SGD(list(data), 2, 10, 0.5, lmbda=5.0)
    assert max_rel_diff(fast.weights + fast.biases, ref.weights + ref.biases) <= 1e-9


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_skipping_zeros_gives_the_dense_kernels_result_to_rounding(dtype, monkeypatch):
    data = sparse_digits(400, seed=3)
    results = []
    for skip in (True, False):
        if not skip:
            monkeypatch.setattr(_input_layout, "MAX_DENSITY", -1.0)  # every set counts as dense
        np.random.seed(9)
        net = network.Network([784, 16, 10], dtype=dtype)
        import random
        random.seed(1)
        net.SGD(list(data), 1, 7, 3.0)
        results.append(net.weights + net.biases)
    tolerance = 1e-10 if dtype == np.float64 else 1e-4
    assert max_rel_diff(results[0], results[1]) <= tolerance


def test_an_infinite_weight_on_a_blank_pixel_still_stops_training():
    data = sparse_digits(200, seed=4)
    np.random.seed(2)
    net = network.Network([784, 10, 10])
    net.weights[0][3, 0] = np.inf  # pixel 0 is blank in all but one image: its products are skipped
    with pytest.raises(TrainingDiverged):
        for _ in net._epochs(list(data), 1, 10, 3.0):
            pass


def test_ctrl_c_mid_epoch_leaves_the_weights_in_the_networks_own_column_order(monkeypatch):
    """The first layer's columns are in the training matrix's order only while an epoch runs."""
    from nnfast.engine import dense_epochs
    monkeypatch.setattr(dense_epochs, "SLICE_SAMPLES", 100)  # progress (and so Ctrl-C) after every 100 samples
    data = sparse_digits(400, seed=5)
    results = []
    for skip in (True, False):
        np.random.seed(4)
        net = network.Network([784, 12, 10])
        net.skip_zero_inputs = skip
        calls = []

        def progress(done, n):
            calls.append(done)
            if len(calls) == 2:
                raise KeyboardInterrupt

        net.progress = progress
        import random
        random.seed(6)
        with pytest.raises(KeyboardInterrupt):
            net.SGD(list(data), 1, 10, 3.0)
        results.append(net.weights + net.biases)
    assert max_rel_diff(results[0], results[1]) <= 1e-10


def test_a_kept_matrix_is_prepared_once_and_freed_with_it():
    import gc
    X = np.vstack([x.T for x, _ in sparse_digits(200, seed=8)])
    key = id(X)
    _input_layout.keep(X)
    first = _input_layout.prepared_inputs(X)[0]
    assert _input_layout.prepared_inputs(X)[0] is first
    del X, first
    gc.collect()
    assert key not in _input_layout._kept


def test_inputs_changed_in_place_between_training_calls_are_trained_on_as_they_are_now():
    data = sparse_digits(300, seed=10)
    X = np.vstack([x.T for x, _ in data])  # one matrix the data's columns are views of
    training = [(X[i].reshape(784, 1), y) for i, (_, y) in enumerate(data)]
    results = []
    for skip in (True, False):
        np.random.seed(3)
        net = network.Network([784, 10, 10])
        net.skip_zero_inputs = skip
        import random
        random.seed(2)
        X[:] = np.vstack([x.T for x, _ in data])
        net.SGD(list(training), 1, 10, 3.0)
        X[:, ::-1] = X.copy()  # the same matrix, its pixels mirrored in place
        net.SGD(list(training), 1, 10, 3.0)
        results.append(net.weights + net.biases)
    assert max_rel_diff(results[0], results[1]) <= 1e-10


@pytest.mark.parametrize("odd", [-1 / 256, 1.0, 255.5 / 256, 2.0])
def test_only_whole_256ths_in_0_1_are_stored_as_bytes(odd):
    X = np.vstack([x.T for x, _ in sparse_digits(200, seed=9)])
    X[3, np.flatnonzero(X[3])[0]] = odd
    inputs, layout = _input_layout.prepared_inputs(X)
    assert inputs.dtype == X.dtype and layout.scale == 1.0


def _layout_from_scratch(X, rows):
    """What a set of rows' layout must be, made directly: the columns by how often they are nonzero among ``rows``
    (ties in X's order), X's bytes in that order, each row's first and last nonzero."""
    counts = np.count_nonzero(X[np.sort(rows)], axis=0)
    perm = np.argsort(-counts, kind="stable")
    codes = (X * 256).astype(np.uint8)[:, perm]
    nonzero = codes != 0
    some = nonzero.any(axis=1)
    lo = np.where(some, nonzero.argmax(axis=1), 0)
    hi = np.where(some, X.shape[1] - nonzero[:, ::-1].argmax(axis=1), 0)
    return codes, perm, lo, hi


def test_each_set_of_rows_gets_its_own_layout_from_the_bytes_made_once_per_content():
    X = np.vstack([x.reshape(1, -1) for x, _ in sparse_digits(3000, seed=9)])
    X[5, 400] = -0.0  # a zero all the same
    rng = np.random.default_rng(10)
    sets = [rng.permutation(3000)[:2400], rng.permutation(3000)[:1000], np.concatenate([np.arange(900)] * 2)]
    for rows in sets + sets[:1]:
        inputs, layout = _input_layout.prepared_inputs(X, rows)
        codes, perm, lo, hi = _layout_from_scratch(X, rows)
        np.testing.assert_array_equal(inputs, codes)
        np.testing.assert_array_equal(layout.perm, perm)
        np.testing.assert_array_equal(layout.lo, lo)
        np.testing.assert_array_equal(layout.hi, hi)
        assert layout.scale == 1 / 256
    X[7, 380] = 0.5  # changed in place: the bytes are made again from what X holds now
    inputs, layout = _input_layout.prepared_inputs(X, sets[0])
    np.testing.assert_array_equal(inputs, _layout_from_scratch(X, sets[0])[0])
