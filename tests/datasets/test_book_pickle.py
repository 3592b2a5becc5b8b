"""The book's pickles, streamed: the same arrays as the whole-file reader gave, in little more memory than
unpickling them needs, and a memory check that knows what reading will cost."""

import gzip
import pickle
import sys

import numpy as np
import pytest

from nnfast.datasets import DataError, book_pickle, formats
from nnfast.twins.book_files import py2_pickle, whole_file_book_pickle, write_expanded_pickle
from mnist_fixtures import book_pickle_gz, small_digits


def assert_same(a, b):
    for name in a._fields:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.uint8 and x.shape == y.shape and np.array_equal(x, y), name


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 images, so that a few dozen images cross many block boundaries."""
    monkeypatch.setattr(book_pickle, "CHUNK_ROWS", 7)


def _python3_expanded(protocol, n=40):
    """expand_mnist.py's layout as a Python 3 port pickles it (its own protocol, bytes payloads)."""
    d = small_digits(n + 20, 9)
    X = d.train_images.astype(np.float32) / 256
    y = d.train_labels.astype(np.int64)
    training = [[X[i].copy() for i in range(n)], [y[i] for i in range(n)]]
    obj = (training, (X[n:], y[n:]), (d.test_images.astype(np.float32) / 256, d.test_labels.astype(np.int64)))
    return gzip.compress(pickle.dumps(obj, protocol=protocol), mtime=0), d


@pytest.mark.parametrize("layout", ["expanded-py2", "expanded-py2-p0", "mnist.pkl.gz-py2", "expanded-p0",
                                    "expanded-p2", "expanded-p4", "expanded-p5"])
def test_the_streaming_reader_gives_what_the_whole_file_reader_gave(tmp_path, small_blocks, layout):
    path = tmp_path / "data.pkl.gz"
    if layout.startswith("expanded-py2"):
        expected = write_expanded_pickle(path, 45, n_validation=11, n_test=9, chunk=13,
                                         protocol=0 if layout.endswith("p0") else 2)
    elif layout == "mnist.pkl.gz-py2":
        expected = small_digits(50, 9)
        path.write_bytes(book_pickle_gz(expected, n_validation=11))
    else:
        data, expected = _python3_expanded(int(layout[-1]))
        path.write_bytes(data)
    data = path.read_bytes()
    streamed = formats.read_any(str(path))
    assert_same(streamed, whole_file_book_pickle(data, str(path)))
    assert_same(streamed, expected)
    assert_same(book_pickle.parse_book_pickle(data, "in memory"), expected)
    assert_same(book_pickle.parse_book_pickle(gzip.decompress(data), "not gzipped"), expected)


@pytest.mark.parametrize("where", [3, 30])  # in the first block, and in a later one
def test_a_pixel_that_is_not_byte_over_256_is_refused_in_any_block(tmp_path, small_blocks, where):
    d = small_digits(60, 9)
    X = d.train_images.astype(np.float32) / 256
    X[where, 100] = 0.3
    y = d.train_labels.astype(np.int64)
    test = (d.test_images.astype(np.float32) / 256, d.test_labels.astype(np.int64))
    for obj in (((X[:50], y[:50]), (X[50:], y[50:]), test),
                ([list(X[:50]), list(y[:50])], (X[50:], y[50:]), test)):
        path = tmp_path / "bad.pkl.gz"
        data = gzip.compress(pickle.dumps(obj, protocol=2))
        path.write_bytes(data)
        with pytest.raises(DataError, match="training pixels are not the book's byte / 256 values"):
            formats.read_any(str(path))
        with pytest.raises(DataError, match="training pixels are not the book's byte / 256 values"):
            whole_file_book_pickle(data, str(path))


def test_the_estimate_counts_the_arrays_not_protocol_0s_escapes(tmp_path):
    """expand_mnist.py's own file is cPickle's protocol 0: each image's bytes as escaped text, about 3.5x
    the bytes of protocol 2, for the same arrays in memory (and the parsing's temporaries)."""
    text, binary = tmp_path / "p0.pkl.gz", tmp_path / "p2.pkl.gz"
    write_expanded_pickle(text, 600, protocol=0)
    write_expanded_pickle(binary, 600, protocol=2)
    sizes = [book_pickle.unpickled_size(p) for p in (text, binary)]
    assert sizes[0] > 3 * sizes[1]
    arrays = [book_pickle.estimated_peak(p) - 32 * 1024 ** 2 for p in (text, binary)]
    expected = book_pickle.TEXT_ARRAYS_PEAK / book_pickle.SMALL_ARRAYS_PEAK  # text's parsing costs a little more
    assert abs(arrays[0] / arrays[1] / expected - 1) < 0.05


def test_an_expanded_file_cut_short_is_a_damaged_gzip_not_a_traceback(tmp_path):
    path = tmp_path / "mnist_expanded.pkl.gz"
    write_expanded_pickle(path, 300)
    path.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(DataError, match="mnist_expanded.pkl.gz: damaged gzip data"):
        formats.read_any(str(path))


def test_something_other_than_three_pairs_is_named(tmp_path):
    path = tmp_path / "pairs.pkl.gz"
    path.write_bytes(gzip.compress(py2_pickle((np.zeros((2, 784), np.float32), np.zeros(2, np.int64)))))
    with pytest.raises(DataError, match="expected the book's \\(training, validation, test\\) pairs"):
        formats.read_any(str(path))


def test_the_memory_check_knows_the_layout(tmp_path, monkeypatch):
    """The expanded set's list of small arrays costs about 1.2x its unpickled size, a whole-array pickle 2x
    (the unpickler's string and numpy's copy of it): between the two, only the first is read."""
    expanded, whole = tmp_path / "mnist_expanded.pkl.gz", tmp_path / "mnist.pkl.gz"
    write_expanded_pickle(expanded, 600)
    whole.write_bytes(book_pickle_gz(small_digits(200, 40), n_validation=40))
    constant = 32 * 1024 ** 2
    per_byte = (book_pickle.estimated_peak(expanded) - constant) / book_pickle.unpickled_size(expanded)
    assert 0.9 * book_pickle.SMALL_ARRAYS_PEAK < per_byte < book_pickle.SMALL_ARRAYS_PEAK  # the payloads' share
    assert book_pickle.estimated_peak(whole) == book_pickle.unpickled_size(whole) * 2.0 + constant
    monkeypatch.setattr(book_pickle, "_available_memory", lambda: book_pickle.estimated_peak(expanded))
    assert len(formats.read_any(str(expanded)).train_labels) == 1600
    monkeypatch.setattr(book_pickle, "_available_memory",
                        lambda: 32 * 1024 ** 2 + 1.6 * book_pickle.unpickled_size(whole))
    with pytest.raises(DataError, match=r"mnist.pkl.gz: reading it needs about .* GB of memory \(.* GB unpickled\)"):
        formats.read_any(str(whole))


@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS read from /proc and getrusage as Linux reports them")
def test_load_data_shared_peaks_near_what_a_plain_unpickling_needs(tmp_path):
    """30,000 images of expand_mnist.py's layout (100 MB unpickled), each reader in a fresh process: the
    peak above the memory before reading, load_data_shared's within 1.5x of unpickling's alone (it was 6x
    before issue 28), and the check's estimate at least the true peak. `make bench` measures 250,000."""
    from benchmarks import memory
    path = tmp_path / "mnist_expanded.pkl.gz"
    write_expanded_pickle(path, 30_000, n_validation=1000, n_test=1000)
    row = memory.compare(path)
    assert row["shapes"] == [[21_000, 784], [10_000, 784], [1000, 784]]
    assert row["unpickle_peak_mb"] > 0.9 * row["unpickled_mb"]  # the measurement sees the data
    assert row["ratio"] <= 1.5, row
    assert row["load_data_shared_peak_mb"] <= row["estimate_mb"] <= 1.5 * row["load_data_shared_peak_mb"], row
    # the row as `make bench` reports it
    import json
    import os

    from benchmarks import report
    with open(os.path.join(os.path.dirname(memory.__file__), "results", "latest.json")) as f:
        result = json.load(f)
    result["memory"] = {"rows": [dict(row, layout="test", images=30_000)]}
    assert (f"| 30,000 images, test | {row['unpickled_mb']:.0f} MB | {row['unpickle_peak_mb']:.0f} MB | "
            f"{row['load_data_shared_peak_mb']:.0f} MB | {row['ratio']:.2f} |") in report.markdown(result)
