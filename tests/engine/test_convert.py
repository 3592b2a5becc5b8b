"""nnfast.engine.convert: the book's lists become one matrix plus row numbers, without copying the loader's data."""

import random

import numpy as np
import pytest

from nnfast.engine import convert as _convert  # not 'from ... import test_matrices': pytest would collect it
from nnfast.engine.convert import stack_columns, training_matrices


def test_views_of_one_matrix_map_to_row_numbers_in_any_order():
    base = np.random.default_rng(0).random((50, 6)).astype(np.float32)
    columns = [row.reshape(6, 1) for row in base]
    random.Random(1).shuffle(columns)
    matrix, rows = stack_columns(columns, 6, "x")
    assert matrix is base
    for i, c in enumerate(columns):
        np.testing.assert_array_equal(matrix[rows[i]], c.ravel())


def test_other_columns_are_stacked_and_keep_float32():
    columns = [np.full((3, 1), i, dtype=np.float32) for i in range(4)]
    matrix, rows = stack_columns(columns, 3, "x")
    assert matrix.dtype == np.float32 and matrix.flags.c_contiguous and rows.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(matrix[:, 0], [0, 1, 2, 3])
    mixed, _ = stack_columns([np.zeros((3, 1)), np.zeros(3, dtype=np.float32)], 3, "x")
    assert mixed.dtype == np.float64


def test_views_that_are_not_whole_rows_are_stacked_not_mapped():
    base = np.arange(40, dtype=np.float64).reshape(4, 10)
    columns = [base[i, :5].reshape(5, 1) for i in range(4)]  # half rows: the row trick does not apply
    matrix, rows = stack_columns(columns, 5, "x")
    assert matrix is not base
    np.testing.assert_array_equal(matrix, base[:, :5])


def test_bad_items_are_named():
    with pytest.raises(ValueError, match="training input 1 has shape"):
        training_matrices([(np.zeros((3, 1)), np.zeros((2, 1))), (np.zeros((4, 1)), np.zeros((2, 1)))], 3, 2)
    with pytest.raises(TypeError, match="item 0 is int"):
        training_matrices([5], 3, 2)


def test_labels_may_be_ints_numpy_ints_or_one_hot():
    X, labels = _convert.test_matrices([(np.zeros((3, 1)), 2), (np.zeros((3, 1)), np.int64(1)),
                               (np.zeros((3, 1)), np.eye(4)[:, [3]])], 3, 4)
    assert labels.tolist() == [2, 1, 3] and X.shape == (3, 3)
