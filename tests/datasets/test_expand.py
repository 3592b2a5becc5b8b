"""The book's expanded training set: four one-pixel shifts of every image, deterministic, verified, cached."""

import numpy as np
import pytest

from nnfast.datasets import DataError, Digits, expand


def test_each_image_comes_with_its_four_shifts_the_wrapped_edge_zeroed():
    img = np.arange(1, 785, dtype=np.int64).reshape(28, 28) % 251 + 1  # no zeros: zeroed edges show
    images, labels = expand.expand_bytes(img.reshape(1, 784).astype(np.uint8), np.array([7], dtype=np.uint8))
    assert images.shape == (5, 784) and labels.tolist() == [7] * 5
    got = {im.tobytes() for im in images}
    sq = img.astype(np.uint8)
    down, up, right, left = (np.roll(sq, 1, 0), np.roll(sq, -1, 0), np.roll(sq, 1, 1), np.roll(sq, -1, 1))
    down[0], up[27], right[:, 0], left[:, 27] = 0, 0, 0, 0
    assert got == {a.tobytes() for a in (sq, down, up, right, left)}


def test_the_set_is_the_same_every_time_and_keeps_labels_with_images():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, 30).astype(np.uint8)
    a = expand.expand_bytes(images, labels)
    b = expand.expand_bytes(images, labels)
    assert expand.digests(*a) == expand.digests(*b)
    for original, label in zip(images, labels):  # every original is there once, with its own label
        where = np.flatnonzero((a[0] == original).all(axis=1))
        assert len(where) == 1 and a[1][where[0]] == label
    X, y = expand.expand_mnist((images.astype(np.float32) / 256, labels.astype(np.int64)))
    assert X.dtype == np.float32 and X.shape == (150, 784) and y.dtype == np.int64
    np.testing.assert_array_equal(np.rint(X * 256).astype(np.uint8), a[0])


def test_the_cache_is_written_verified_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    d = Digits(rng.integers(0, 256, (60, 784), dtype=np.uint8), rng.integers(0, 10, 60).astype(np.uint8),
               np.zeros((1, 784), np.uint8), np.zeros(1, np.uint8))
    want = expand.digests(*expand.expand_bytes(d.train_images, d.train_labels))
    monkeypatch.setattr(expand, "EXPANDED_SHA256", want)
    images, _ = expand.expanded_mnist(tmp_path, d, canonical=True)
    cache = tmp_path / expand.EXPANDED_NAME
    assert cache.exists() and len(images) == 300
    cache.write_bytes(cache.read_bytes()[:1000])  # damaged: built again
    images, labels = expand.expanded_mnist(tmp_path, d, canonical=True)
    assert expand.digests(images, labels) == want
    monkeypatch.setattr(expand, "EXPANDED_SHA256", {"images": "0" * 64, "labels": "0" * 64})
    cache.unlink()
    with pytest.raises(DataError, match="does not match its pinned sha256"):
        expand.expanded_mnist(tmp_path, d, canonical=True)
    assert not cache.exists()  # an unverified set is never cached
