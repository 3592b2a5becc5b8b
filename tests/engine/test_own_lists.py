"""A learner's own list of columns (built by their loader, not views of nnfast's matrix) is stacked once and found
again on later calls (issue 31.2), and a column changed in place is always seen: every case is checked against a
fresh stacking of what the columns hold now, and training against the per-sample twin."""

import contextlib
import gc
import io
import random
import weakref

import numpy as np
import pytest

from nnfast import network
from nnfast.engine import column_memo, convert
from nnfast.twins import network as twin1

N = 600  # 600 x 784 float32 = 1.9 MB: over column_memo.MEMO_MIN_BYTES, so the list is remembered


def _own_columns(n=N, seed=0, dtype=np.float64):
    """Fresh (784, 1) arrays of byte / 256 values, one per image, as a learner's loader makes them."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, 784)) * (rng.random((n, 784)) < 0.25)
    return [(codes[i] / 256).astype(dtype).reshape(784, 1) for i in range(n)]


def _holds(X, rows, columns):
    assert len(rows) == len(columns)
    for r, c in zip(rows, columns):
        np.testing.assert_array_equal(X[r], c.reshape(-1))


def test_the_same_list_a_shuffled_one_a_slice_and_a_new_list_of_the_same_arrays_find_one_stack():
    columns = _own_columns()
    X, rows = convert.stack_columns(columns, 784, "x")
    assert X.dtype == np.float32  # byte / 256 is exact in float32: half the memory, the same numbers
    _holds(X, rows, columns)
    shuffled = list(columns)
    random.Random(2).shuffle(shuffled)
    for again in (columns, shuffled, shuffled[100:450], list(columns)):
        Y, rows = convert.stack_columns(again, 784, "x")
        assert Y is X
        _holds(Y, rows, again)


@pytest.mark.parametrize("change", ["one word", "mirrored", "scaled"])
def test_a_column_changed_in_place_is_seen(change):
    columns = _own_columns(seed=1)
    X, _ = convert.stack_columns(columns, 784, "x")
    c = columns[417]
    if change == "one word":
        c[300, 0] = np.nextafter(c[300, 0], 1.0)  # the smallest change there is, and not exact in float32
    elif change == "mirrored":
        c[:] = c[::-1].copy()
    else:
        for col in columns:
            col *= 0.5
    shuffled = list(columns)
    random.Random(3).shuffle(shuffled)
    Y, rows = convert.stack_columns(shuffled, 784, "x")
    assert Y is not X
    _holds(Y, rows, shuffled)
    assert Y.dtype == (np.float64 if change == "one word" else np.float32)


def test_an_array_replaced_or_dropped_is_not_taken_for_the_one_stacked():
    columns = _own_columns(seed=2)
    X, _ = convert.stack_columns(columns, 784, "x")
    columns[5] = np.ones((784, 1))  # a new array in the list
    Y, rows = convert.stack_columns(columns, 784, "x")
    assert Y is not X
    _holds(Y, rows, columns)
    entries = len(column_memo._stacks)
    del columns, X, Y, rows
    gc.collect()
    assert len(column_memo._stacks) < entries  # the learner dropped the list: its copy goes too


def test_values_not_exact_in_float32_stay_float64_and_odd_shapes_are_still_named():
    columns = [c + 0.1 for c in _own_columns(seed=3)]
    X, rows = convert.stack_columns(columns, 784, "x")
    assert X.dtype == np.float64
    _holds(X, rows, columns)
    mixed = columns[:300] + [c.reshape(784) for c in columns[300:]]  # (784, 1) and (784,) alike
    _holds(*convert.stack_columns(mixed, 784, "x"), mixed)
    with pytest.raises(ValueError, match="x 600 has shape"):
        convert.stack_columns(columns + [np.zeros((783, 1))], 784, "x")


def test_an_own_list_changed_in_place_between_calls_trains_as_the_book_does():
    rng = np.random.default_rng(4)
    data = [(x, np.eye(10)[rng.integers(10)].reshape(10, 1)) for x in _own_columns(seed=4)]
    np.random.seed(6)
    fast = network.Network([784, 12, 10])
    np.random.seed(6)
    twin = twin1.Network([784, 12, 10])
    twin_data = list(data)
    for round_ in range(3):
        for net, d in ((fast, data), (twin, twin_data)):
            random.seed(round_)
            with contextlib.redirect_stdout(io.StringIO()):
                net.SGD(d, 1, 10, 3.0)
        for x, _ in data[:40]:  # a learner's preprocessing of a few images, in place, between calls
            x[:] = x[::-1].copy()
    for a, b in zip(fast.weights + fast.biases, twin.weights + twin.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_an_id_whose_array_is_gone_is_never_taken_for_the_array_stacked_then():
    columns = _own_columns(seed=5)
    convert.stack_columns(columns, 784, "x")
    entry = column_memo._stacks[-1]

    class Gone:
        pass
    gone = Gone()
    entry.refs[10] = weakref.ref(gone)  # as if the array stacked in row 10 had died and its id been reused
    del gone
    assert column_memo.remembered(column_memo.ids_of(columns), 784) is None


def _own_pairs(n=N, seed=7, dtype=np.float32):
    rng = np.random.default_rng(seed)
    # targets of 1,000 numbers each: large enough that they are remembered too (column_memo.MEMO_MIN_BYTES)
    return [(x, rng.random((1000, 1))) for x in _own_columns(n, seed, dtype)]


def _pairs_hold(found, data):
    X, x_rows, Y, y_rows = found
    _holds(X, x_rows, [x for x, _ in data])
    _holds(Y, y_rows, [y for _, y in data])


def test_pairs_found_again_shuffled_sliced_and_repeated_hold_what_the_pairs_hold():
    data = _own_pairs()
    first = convert.training_matrices(data, 784, 1000)
    _pairs_hold(first, data)
    shuffled = list(data)
    random.Random(8).shuffle(shuffled)
    repeated = shuffled[:50] + shuffled + [list(p) for p in shuffled[10:20]]  # repeats, and pairs as lists
    for again in (shuffled, shuffled[35:480], repeated):
        found = convert.training_matrices(again, 784, 1000)
        assert found[0] is first[0] and found[2] is first[2]  # no stacking afresh
        _pairs_hold(found, again)


@pytest.mark.parametrize("change", ["target value", "target dtype", "input dtype"])
def test_a_target_or_a_dtype_changed_in_place_is_seen(change):
    data = _own_pairs(seed=9)
    first = convert.training_matrices(data, 784, 1000)
    x, y = data[123]
    if change == "target value":
        y[999, 0] = np.nextafter(y[999, 0], 2.0)
    elif change == "target dtype":
        y.dtype = np.int64  # the same bytes read as other numbers: what the book would now compute with
    else:
        x.dtype = np.int32
    shuffled = list(data)
    random.Random(10).shuffle(shuffled)
    found = convert.training_matrices(shuffled, 784, 1000)
    assert found[0] is not first[0] or found[2] is not first[2]
    _pairs_hold(found, shuffled)


def test_an_item_that_is_not_a_pair_is_still_named_once_the_list_is_remembered():
    data = _own_pairs(seed=11)
    convert.training_matrices(data, 784, 1000)
    odd = list(data)
    odd[7] = (*odd[7], 0)
    with pytest.raises(TypeError, match="training_data item 7"):
        convert.training_matrices(odd, 784, 1000)
    odd[7], odd[8] = (odd[8][0],), (odd[7][1], *odd[8])  # a 1-tuple and a 3-tuple: the count adds up to pairs
    with pytest.raises(TypeError, match="training_data item 7"):
        convert.training_matrices(odd, 784, 1000)


@pytest.mark.parametrize("shape", [(1, 784), (28, 28)])
def test_an_array_reshaped_in_place_is_refused_as_a_fresh_list_is(shape):
    # x.shape = ... keeps the bytes (and the size): the book's np.dot(w, x) then refuses x, and so does a fresh
    # stacking; the remembered list must not train on it
    data = _own_pairs(seed=12)
    convert.training_matrices(data, 784, 1000)
    data[33][0].shape = shape
    with pytest.raises(ValueError, match=r"training input 33 has shape"):
        convert.training_matrices(data, 784, 1000)
    columns = _own_columns(seed=13)
    convert.stack_columns(columns, 784, "x")
    columns[44].shape = shape
    with pytest.raises(ValueError, match=r"x 44 has shape"):
        convert.stack_columns(columns, 784, "x")
