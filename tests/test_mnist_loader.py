"""nnfast.mnist_loader gives what the book's mnist_loader gives, from any source, without copies."""

import numpy as np
import pytest

from nnfast import mnist_loader
from nnfast.engine.convert import stack_columns
from mnist_fixtures import book_pickle_gz, small_digits


@pytest.fixture
def book_file(tmp_path):
    d = small_digits(n_train=120, n_test=30)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(book_pickle_gz(d, n_validation=20))  # 120 // 6 = 20, our split for small sets
    return path, d


def test_load_data_matches_the_books_file_exactly(book_file):
    path, d = book_file
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = mnist_loader.load_data(path)
    assert tr_x.dtype == np.float32 and tr_y.dtype == np.int64
    assert tr_x.shape == (100, 784) and va_x.shape == (20, 784) and te_x.shape == (30, 784)
    np.testing.assert_array_equal(tr_x, d.train_images[:100].astype(np.float32) / 256)
    np.testing.assert_array_equal(va_y, d.train_labels[100:])
    np.testing.assert_array_equal(te_x, d.test_images.astype(np.float32) / 256)
    np.testing.assert_array_equal(te_y, d.test_labels)


def test_wrapper_matches_the_books_wrapper(book_file):
    path, _ = book_file
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = mnist_loader.load_data(path)
    training, validation, test = mnist_loader.load_data_wrapper(path)
    assert isinstance(training, list) and isinstance(validation, list) and isinstance(test, list)
    # the book: zip([np.reshape(x, (784, 1)) ...], [vectorized_result(y) ...])
    for (x, y), bx, by in zip(training, tr_x, tr_y):
        assert x.shape == (784, 1) and y.shape == (10, 1) and y.dtype == np.float64
        np.testing.assert_array_equal(x, np.reshape(bx, (784, 1)))
        np.testing.assert_array_equal(y, mnist_loader.vectorized_result(int(by)))
    for (x, label), bx, by in zip(test, te_x, te_y):
        assert type(label) is int and label == by
        np.testing.assert_array_equal(x, np.reshape(bx, (784, 1)))
    assert [label for _, label in validation] == va_y.tolist()


def test_wrapper_columns_are_views_that_sgd_maps_without_copying(book_file):
    path, _ = book_file
    training, _, _ = mnist_loader.load_data_wrapper(path)
    xs = [x for x, _ in training]
    assert all(x.base is xs[0].base for x in xs)
    reordered = xs[::-1]
    matrix, rows = stack_columns(reordered, 784, "x")
    assert matrix is xs[0].base and np.shares_memory(matrix, xs[0])
    for i in (0, 7, len(xs) - 1):
        np.testing.assert_array_equal(matrix[rows[i]], reordered[i].ravel())


def test_vectorized_result():
    e = mnist_loader.vectorized_result(3)
    assert e.shape == (10, 1) and e.dtype == np.float64 and e.sum() == 1.0 and e[3, 0] == 1.0
    for bad in (10, -1, 2.0, "3", True):
        with pytest.raises(ValueError):
            mnist_loader.vectorized_result(bad)


@pytest.mark.network
def test_real_mnist_through_the_book_api(mnist_home):
    training, validation, test = mnist_loader.load_data_wrapper()
    assert (len(training), len(validation), len(test)) == (50000, 10000, 10000)
    assert [int(np.argmax(y)) for _, y in training[:10]] == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert [label for _, label in test[:10]] == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert max(float(x.max()) for x, _ in training[:100]) == 255 / 256  # the book's quirk, kept
