"""Datasets in MNIST's IDX format beyond MNIST: EMNIST, Fashion-MNIST, KMNIST and unknown ones, from small
synthetic files in each naming scheme (no network)."""

import gzip
import hashlib
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from nnfast import datasets, mnist_loader
from nnfast.cli import main
from nnfast.datasets import DataError, idx_sets
from mnist_fixtures import idx_bytes

EMNIST_PARTS = {"train_images": "train-images-idx3", "train_labels": "train-labels-idx1",
                "test_images": "test-images-idx3", "test_labels": "test-labels-idx1"}
MNIST_PARTS = {"train_images": "train-images-idx3", "train_labels": "train-labels-idx1",
               "test_images": "t10k-images-idx3", "test_labels": "t10k-labels-idx1"}


def glyph():
    """An asymmetric 28x28 mark: a bar along the top row's left part and a dot low on the right.
    Upright it is at (2, 3..12) and (20, 22); transposed those move to columns and rows swapped."""
    g = np.zeros((28, 28), dtype=np.uint8)
    g[2, 3:13] = 255
    g[20, 22] = 200
    return g


def make_set(rng, n, classes, first=0, store_transposed=False):
    """(images (n, 784) as stored in the file, labels as stored, upright images) with every class present."""
    labels = (np.arange(n) % classes + first).astype(np.uint8)
    upright = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
    upright[0] = glyph()
    stored = upright.transpose(0, 2, 1) if store_transposed else upright
    return np.ascontiguousarray(stored).reshape(n, 784), labels, upright.reshape(n, 784)


def write_set(folder, names, train, test, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part, arr in (("train_images", train[0]), ("train_labels", train[1]), ("test_images", test[0]),
                      ("test_labels", test[1])):
        data = idx_bytes(arr)
        name = names[part] + "-ubyte" + (".gz" if gz else "")
        if gz:
            data = gzip.compress(data, mtime=0)
        (folder / name).write_bytes(data)
        paths[part] = folder / name
    return paths


def emnist(folder, split, classes, first=0, n=60, gz=True):
    rng = np.random.default_rng(len(split))
    train = make_set(rng, n, classes, first, store_transposed=True)
    test = make_set(rng, n // 3, classes, first, store_transposed=True)
    names = {k: f"emnist-{split}-{v}" for k, v in EMNIST_PARTS.items()}
    write_set(folder, names, train, test, gz)
    return train, test


def test_emnist_letters_are_read_upright_with_labels_from_zero(tmp_path):
    train, test = emnist(tmp_path, "letters", 26, first=1)
    ds = datasets.load_dataset(tmp_path)
    assert ds.name == "EMNIST letters" and ds.classes[:3] == ["a", "b", "c"] and len(ds.classes) == 26
    assert ds.verified is None  # EMNIST publishes no per-file checksums: checked for structure only
    first = ds.digits.train_images[0].reshape(28, 28)
    np.testing.assert_array_equal(first, glyph())  # the asymmetric mark is where it was drawn
    np.testing.assert_array_equal(ds.digits.train_images, train[2])
    np.testing.assert_array_equal(ds.digits.train_labels, train[1] - 1)
    assert ds.digits.train_labels.min() == 0 and ds.digits.train_labels.max() == 25


@pytest.mark.parametrize("split,classes", [("digits", 10), ("balanced", 47), ("byclass", 62), ("bymerge", 47),
                                           ("mnist", 10)])
def test_every_emnist_split_names_its_classes(tmp_path, split, classes):
    emnist(tmp_path, split, classes, n=2 * classes, gz=False)
    ds = datasets.load_dataset(tmp_path)
    assert ds.name == f"EMNIST {split}" and len(ds.classes) == classes
    assert len(set(ds.classes)) == classes


def test_a_prefix_or_one_file_picks_one_emnist_split_from_a_shared_folder(tmp_path):
    emnist(tmp_path, "letters", 26, first=1)
    emnist(tmp_path, "digits", 10)
    with pytest.raises(DataError, match="more than one dataset.*emnist-digits.*emnist-letters.*name one"):
        datasets.load_dataset(tmp_path)
    assert datasets.load_dataset(tmp_path / "emnist-letters").name == "EMNIST letters"
    one_file = tmp_path / "emnist-digits-test-labels-idx1-ubyte.gz"
    assert datasets.load_dataset(one_file).name == "EMNIST digits"


def _mnist_style(folder, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    train, test = make_set(rng, 40, classes), make_set(rng, 20, classes)
    return write_set(folder, {k: v for k, v in MNIST_PARTS.items()}, train, test), train, test


def test_fashion_mnist_is_recognised_by_its_published_checksums(tmp_path, monkeypatch):
    paths, train, _ = _mnist_style(tmp_path)
    sums = {part: hashlib.sha256(p.read_bytes()).hexdigest() for part, p in paths.items()}
    monkeypatch.setitem(idx_sets.KNOWN_GZ_SHA256, "Fashion-MNIST", sums)  # these small files stand in for it
    ds = datasets.load_dataset(tmp_path)
    assert ds.name == "Fashion-MNIST" and ds.classes[0] == "T-shirt/top" and ds.verified
    np.testing.assert_array_equal(ds.digits.train_images, train[2])  # not transposed


def test_unknown_idx_files_with_mnist_names_are_unverified_and_not_mnist(tmp_path, monkeypatch):
    _mnist_style(tmp_path, classes=10, seed=5)
    home = tmp_path / "home"
    monkeypatch.setenv("NNFAST_HOME", str(home))
    notes = []
    ds = datasets.load_dataset(tmp_path, report=notes.append)
    assert ds.name == "IDX dataset" and ds.verified is None and len(ds.classes) == 10
    assert any("not the canonical MNIST" in n for n in notes)
    assert not (home / datasets.CACHE_NAME).exists()  # never cached under MNIST's name


def test_classes_come_from_the_labels_and_the_loader_follows(tmp_path):
    _mnist_style(tmp_path, classes=5)
    training, validation, test = mnist_loader.load_data_wrapper(tmp_path, validation=10)
    assert len(training) == 30 and len(validation) == 10
    assert training[0][1].shape == (5, 1)
    assert mnist_loader.vectorized_result(4, 5).ravel().tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="leaves no training images"):
        mnist_loader.load_data(tmp_path, validation=40)


@pytest.mark.parametrize("damage,message", [
    ("not_28x28", "images are 14x56; expected 28x28"),
    ("counts", "labels for"),
    ("label_range", "labels run"),
    ("cut_gzip", "damaged gzip"),
    ("missing", "missing its test labels"),
])
def test_bad_datasets_get_one_clear_line(tmp_path, damage, message):
    emnist(tmp_path, "letters", 26, first=1)
    f = tmp_path / "emnist-letters-test-labels-idx1-ubyte.gz"
    images = tmp_path / "emnist-letters-train-images-idx3-ubyte.gz"
    if damage == "not_28x28":
        raw = bytearray(gzip.decompress(images.read_bytes()))
        raw[8:16] = (14).to_bytes(4, "big") + (56).to_bytes(4, "big")
        images.write_bytes(gzip.compress(bytes(raw)))
    elif damage == "counts":
        f.write_bytes(gzip.compress(idx_bytes(np.ones(5, dtype=np.uint8))))
    elif damage == "label_range":
        f.write_bytes(gzip.compress(idx_bytes(np.full(20, 27, dtype=np.uint8))))
    elif damage == "cut_gzip":
        f.write_bytes(f.read_bytes()[:-12])
    elif damage == "missing":
        f.unlink()
    with pytest.raises(DataError, match=message):
        datasets.load_dataset(tmp_path)
    result = CliRunner().invoke(main, ["data", "info", str(tmp_path)])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_data_info_describes_any_dataset(tmp_path):
    emnist(tmp_path, "letters", 26, first=1)
    out = CliRunner().invoke(main, ["data", "info", str(tmp_path)]).output
    assert "dataset: EMNIST letters" in out and "unverified" in out and "classes: 26: a b c" in out
    assert "a: 3, b: 3" in out  # 60 training images over 26 letters


def test_training_on_letters_builds_784_h_26_and_eval_and_predict_speak_letters(tmp_path):
    from PIL import Image
    emnist(tmp_path / "data", "letters", 26, first=1, n=104)
    model = tmp_path / "letters.npz"
    run = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data"), "--hidden", "12", "--epochs", "1",
                                    "--validation", "26", "--save", str(model), "--seed", "1"])
    assert run.exit_code == 0, run.output
    assert "Training 784-12-26" in run.output and "EMNIST letters (unverified)" in run.output
    wrong = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data"), "--sizes", "784,12,10"])
    assert wrong.exit_code == 1 and "has 26 classes" in wrong.output
    report = json.loads(CliRunner().invoke(main, ["eval", str(model), "--data", str(tmp_path / "data"),
                                                  "--json"]).output)
    assert report["classes"][:2] == ["a", "b"] and len(report["confusion"]) == 26
    text = CliRunner().invoke(main, ["eval", str(model), "--data", str(tmp_path / "data")]).output
    assert "of EMNIST letters" in text and re.search(r"^\s+z(\s+\d+){26}$", text, re.M)  # a matrix row for z
    img = tmp_path / "glyph.png"
    Image.fromarray(255 - glyph()).save(img)
    answer = json.loads(CliRunner().invoke(main, ["predict", str(model), str(img), "--json"]).output)
    assert answer["class"] in list("abcdefghijklmnopqrstuvwxyz") and len(answer["outputs"]) == 26
