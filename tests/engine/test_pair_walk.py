"""The compiled check of a remembered list (``nnfast.engine.pair_walk``) answers only what the Python check answers.

Each case runs the compiled path directly and through ``convert.training_matrices``: where the list holds what
was stacked it must find the stack, rows holding every pair's numbers; where anything changed (a number, the
bytes' order, a dtype, a shape, an array replaced or gone, an item that is not a plain pair) it must answer
None, and the Python path then stacks afresh or refuses exactly as a fresh list is."""

import collections
import gc
import random
import sys

import numpy as np
import pytest

from nnfast.engine import column_memo, convert, object_memory, pair_walk

N = 600  # 600 x 784 float32 = 1.9 MB: remembered (column_memo.MEMO_MIN_BYTES), and over pair_walk.MIN_PAIRS


def _pairs(seed, dtype=np.float32, target_width=1000, n=N):
    """A learner's loader: fresh (784, 1) columns of byte / 256 values and fresh (target_width, 1) targets."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, 784)) * (rng.random((n, 784)) < 0.25)
    return [((codes[i] / 256).astype(dtype).reshape(784, 1), rng.random((target_width, 1))) for i in range(n)]


def _holds(found, data, targets=True):
    X, x_rows, Y, y_rows = found
    assert len(x_rows) == len(data)
    for k, (x, y) in enumerate(data):
        np.testing.assert_array_equal(X[x_rows[k]], np.asarray(x).reshape(-1))
        if targets:
            np.testing.assert_array_equal(Y[y_rows[k]], np.asarray(y).reshape(-1))


def _shuffled(data, seed):
    out = list(data)
    random.Random(seed).shuffle(out)
    return out


def test_this_interpreters_objects_are_read_where_they_were_checked_to_be():
    # CPython 3.11+ on a 64-bit little-endian machine, GIL build: the layout the kernels read (else every case below
    # would only test the Python path)
    assert object_memory.offsets() is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_same_list_shuffled_a_slice_repeats_pairs_as_lists_and_a_new_list_are_found(dtype):
    data = _pairs(1, dtype)
    first = convert.training_matrices(data, 784, 1000)
    shuffled = _shuffled(data, 2)
    repeated = shuffled[:50] + shuffled + [list(p) for p in shuffled[10:20]]
    for again in (data, shuffled, shuffled[35:480], repeated, list(data)):
        found = pair_walk.remembered_pairs(again, 784, 1000, True)
        assert found is not None and found[0] is first[0] and found[2] is first[2]
        _holds(found, again)
        found = convert.training_matrices(again, 784, 1000)
        assert found[0] is first[0] and found[2] is first[2]
        _holds(found, again)


def test_small_targets_are_stacked_afresh_beside_the_remembered_inputs():
    data = _pairs(3, target_width=10)  # 600 x 10 targets: under MEMO_MIN_BYTES, stacked each call
    first = convert.training_matrices(data, 784, 10)
    again = _shuffled(data, 4)
    found = pair_walk.remembered_pairs(again, 784, 10, False)
    assert found is not None and found[0] is first[0] and found[2] is None
    found = convert.training_matrices(again, 784, 10)
    assert found[0] is first[0]
    _holds(found, again)


def _byteswapped(x):
    x.byteswap(inplace=True)  # the same numbers' bytes reversed: other numbers as native float32


def _dtype_swapped(x):
    x.byteswap(inplace=True)
    x.dtype = x.dtype.newbyteorder()  # the same numbers, stored big-endian: a dtype object other than numpy's own


CHANGES = {
    "one ulp": lambda data: data[417][0].__setitem__((300, 0), np.nextafter(data[417][0][300, 0], 1.0)),
    "a target's last number": lambda data: data[5][1].__setitem__((999, 0), -1.0),
    "bytes swapped": lambda data: _byteswapped(data[99][0]),
    "big-endian dtype, same numbers": lambda data: _dtype_swapped(data[99][0]),
    "dtype read as int32": lambda data: setattr(data[8][0], "dtype", np.int32),
    "a NaN": lambda data: data[9][0].__setitem__((0, 0), np.nan),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_in_place_is_never_found_compiled_and_the_python_path_sees_it(change):
    data = _pairs(5)
    first = convert.training_matrices(data, 784, 1000)
    CHANGES[change](data)
    again = _shuffled(data, 6)
    assert pair_walk.remembered_pairs(again, 784, 1000, True) is None
    if change == "a NaN":
        found = convert.training_matrices(again, 784, 1000)  # stacked afresh (training then refuses the NaN)
        assert found[0] is not first[0] and np.isnan(found[0]).any()
        return
    found = convert.training_matrices(again, 784, 1000)
    _holds(found, again)
    if change == "big-endian dtype, same numbers":
        assert found[0] is first[0]  # the Python path compares numbers: these are the same, the stack still right
    else:
        assert found[0] is not first[0] or found[2] is not first[2]


def test_minus_zero_for_zero_trains_the_same_and_is_found_as_the_python_path_finds_it():
    data = _pairs(7)
    first = convert.training_matrices(data, 784, 1000)
    x = data[3][0]
    x[x == 0] = -0.0
    found = pair_walk.remembered_pairs(data, 784, 1000, True)
    assert found is not None and found[0] is first[0]
    assert convert.training_matrices(data, 784, 1000)[0] is first[0]


@pytest.mark.parametrize("shape", [(1, 784), (28, 28), (784, 1, 1)])  # the last keeps its first stride
def test_an_array_reshaped_in_place_is_refused_as_a_fresh_list_is(shape):
    data = _pairs(8)
    convert.training_matrices(data, 784, 1000)
    data[33][0].shape = shape
    assert pair_walk.remembered_pairs(data, 784, 1000, True) is None
    with pytest.raises(ValueError, match=r"training input 33 has shape"):
        convert.training_matrices(data, 784, 1000)


def _strided(x):
    wide = np.zeros((784, 3), dtype=x.dtype)
    wide[:, 1:2] = x
    return wide[:, 1:2]  # the same numbers, every third of a matrix's


def _overlapping(x):
    double = np.concatenate([x.reshape(-1), x.reshape(-1)])
    return double[1:785].reshape(784, 1)  # a view into an array another column may share


REPLACEMENTS = {
    "a strided view of the same numbers": _strided,
    "an overlapping view": _overlapping,
    "a copy": lambda x: x.copy(),
    "a subclass view": lambda x: x.view(type("Column", (np.ndarray,), {})),
    "a list of numbers": lambda x: x.tolist(),
}


@pytest.mark.parametrize("replacement", list(REPLACEMENTS))
def test_an_array_replaced_by_another_object_is_stacked_afresh(replacement):
    data = _pairs(9)
    first = convert.training_matrices(data, 784, 1000)
    data[12] = (REPLACEMENTS[replacement](data[12][0]), data[12][1])
    assert pair_walk.remembered_pairs(data, 784, 1000, True) is None
    found = convert.training_matrices(data, 784, 1000)
    assert found[0] is not first[0]
    _holds(found, data)


def test_after_a_stacked_array_died_its_id_is_never_taken_for_it():
    data = _pairs(10)
    first = convert.training_matrices(data, 784, 1000)
    part = data[:500]
    del data[550]  # an array stacked then dies: its id may now name any new object
    gc.collect()
    entry = next(e for e in column_memo._stacks if e.matrix is first[0])
    assert entry.deaths.count >= 1
    found = pair_walk.remembered_pairs(part, 784, 1000, True)  # every array of the part is alive: found
    assert found is not None and found[0] is first[0]
    _holds(found, part)

    class Gone:
        pass
    gone = Gone()
    row = int(np.searchsorted(entry.ids, id(part[10][0])))
    entry.refs[row] = column_memo.weakref.ref(gone)  # as if the array of row 10 had died and its id been reused
    del gone
    assert pair_walk.remembered_pairs(part, 784, 1000, True) is None
    found = convert.training_matrices(part, 784, 1000)  # the Python path stacks afresh
    assert found[0] is not first[0]
    _holds(found, part)


def test_pairs_dropped_between_the_kernel_calls_are_never_read(monkeypatch):
    # Python code may run between pair_ids and rows_unchanged (here a gc callback; a __del__, a weak reference's
    # callback or another thread alike) and drop the list's pairs: their arrays die, and reading them would read
    # freed memory. rows_unchanged must see the list changed (-3) before it reads any array.
    from nnfast.engine.kernels import own_pairs
    data = _pairs(12)
    X = convert.training_matrices(data, 784, 1000)[0]
    entry = next(e for e in column_memo._stacks if e.matrix is X)
    keep = [x for x, _ in data if id(x) == int(entry.ids[0])]  # the stack lives on (its lowest array is held)
    seen, real = [], own_pairs.rows_unchanged

    def spy(list_address, tuple_type, list_type, which, ids, *rest):
        alive = {id(r()) for r in entry.refs if r() is not None}
        dead = sum(1 for a in ids.tolist() if a not in alive)
        found = real(list_address, tuple_type, list_type, which, ids, *rest)
        seen.append((dead, found))
        return found
    monkeypatch.setattr(own_pairs, "rows_unchanged", spy)

    def drop(phase, info):  # a gc pass inside pair_walk._found, before its kernel call, drops every pair
        frame = sys._getframe()
        while phase == "start" and data and frame is not None:
            if frame.f_code is pair_walk._found.__code__:
                data.clear()
            frame = frame.f_back
    gc.callbacks.append(drop)
    threshold = gc.get_threshold()
    gc.set_threshold(1)
    try:
        found = pair_walk.remembered_pairs(data, 784, 1000, False)
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(drop)
    assert keep and seen and seen[0][0] > 0  # the window was hit: dead ids reached the kernel
    assert all(result == -3 for dead, result in seen if dead) and found is None


Pair = collections.namedtuple("Pair", "x y")


class PairList(list):
    pass


@pytest.mark.parametrize("odd", ["namedtuple pairs", "a list subclass", "a triple", "a single", "an int"])
def test_items_that_are_not_plain_pairs_take_the_python_path(odd):
    data = _pairs(11)
    first = convert.training_matrices(data, 784, 1000)
    if odd == "namedtuple pairs":
        again = [Pair(*p) for p in data]
    elif odd == "a list subclass":
        again = PairList(data)
    else:
        again = list(data)
        again[7] = {"a triple": (*data[7], 0), "a single": (data[7][0],), "an int": 7}[odd]
    assert pair_walk.remembered_pairs(again, 784, 1000, True) is None
    if odd in ("namedtuple pairs", "a list subclass"):
        found = convert.training_matrices(again, 784, 1000)  # the same arrays: the Python path finds them
        assert found[0] is first[0]
        _holds(found, again)
    else:
        with pytest.raises(TypeError, match="training_data item 7"):
            convert.training_matrices(again, 784, 1000)


def test_a_list_of_other_arrays_of_the_same_width_is_not_taken_for_a_remembered_one():
    convert.training_matrices(_pairs(12), 784, 1000)
    other = _pairs(13)
    assert pair_walk.remembered_pairs(other, 784, 1000, True) is None
    found = convert.training_matrices(other, 784, 1000)
    _holds(found, other)
    assert pair_walk.remembered_pairs(_shuffled(other, 1), 784, 1000, True) is not None


def test_a_short_list_or_one_that_is_not_a_list_is_left_to_the_python_path():
    data = _pairs(14)
    convert.training_matrices(data, 784, 1000)
    assert pair_walk.remembered_pairs(data[:pair_walk.MIN_PAIRS - 1], 784, 1000, True) is None
    assert pair_walk.remembered_pairs(tuple(data), 784, 1000, True) is None


@pytest.fixture(autouse=True)
def _fresh_memo():
    column_memo._stacks.clear()
    yield
    column_memo._stacks.clear()


def test_a_test_list_of_own_columns_and_int_labels_is_found_compiled_and_seen_changed():
    rng = np.random.default_rng(15)
    test = [(x, int(rng.integers(10))) for x, _ in _pairs(15)]
    X, labels = convert.test_matrices(test, 784, 10)  # stacked and remembered
    assert labels.dtype == np.int64 and labels.tolist() == [y for _, y in test]
    again = _shuffled(test, 16)
    assert pair_walk.remembered_pairs(again, 784, 10, False) is not None
    X2, labels2 = convert.test_matrices(again, 784, 10)
    assert labels2.tolist() == [y for _, y in again]
    np.testing.assert_array_equal(X2, np.hstack([x for x, _ in again]).T)
    again[3][0][5, 0] += 0.5  # changed in place: stacked afresh, the numbers as they are now
    assert pair_walk.remembered_pairs(again, 784, 10, False) is None
    np.testing.assert_array_equal(convert.test_matrices(again, 784, 10)[0], np.hstack([x for x, _ in again]).T)
    odd = list(again)
    odd[9] = (odd[9][0], np.int64(4))  # a numpy int label: the general loop reads it
    odd[10] = (odd[10][0], np.eye(10)[7].reshape(10, 1))  # a one-hot target: its argmax
    labels3 = convert.test_matrices(odd, 784, 10)[1]
    assert labels3[9] == 4 and labels3[10] == 7 and labels3[11] == odd[11][1]


def test_the_kernels_that_read_objects_memory_hold_the_gil():
    # while they read a list's objects no Python code may run: none may be changed or freed meanwhile
    from nnfast.engine.kernels import own_pairs
    for kernel in (own_pairs.pair_ids, own_pairs.rows_unchanged, own_pairs.build_table):
        assert kernel.targetoptions["nogil"] is False and kernel.targetoptions["fastmath"] is False
