"""The book's expanded training set (chapter 6): each image and its four one-pixel shifts, 250,000 in all.

As the book's ``expand_mnist.py``: every training image is kept and shifted by one pixel down,
up, right and left (``np.roll``), the row or column that wraps around set to zero. The book then
shuffles the pairs with an unseeded ``random.shuffle``; nnfast shuffles with a fixed seed so the
set is the same on every machine, pins the sha256 of the result, and caches it beside MNIST.
"""

import hashlib
import os

import numpy as np

from .formats import ARCHIVE_ERRORS, DataError

EXPANDED_NAME = "mnist-expanded-uint8.npz"
SHUFFLE_SEED = 0
# sha256 of the images and labels expand_bytes() makes from the verified MNIST's first 50,000 images
EXPANDED_SHA256 = {
    "images": "9a3b71432f936465faabaf57f1877dd2701fa214cd48389216c574d08bc0e767",
    "labels": "79a5acf7b9e09727a2a707e62452f6114c0597df6a7909107f67c35a6f3fc2fb",
}


def expand_bytes(images, labels):
    """``(images (5n, 784) uint8, labels (5n,) uint8)``: each image, then shifted down, up, right and left
    by one pixel with the wrapped row or column zeroed, all shuffled by a fixed permutation."""
    n = len(labels)
    square = images.reshape(n, 28, 28)
    out = np.empty((n, 5, 28, 28), dtype=np.uint8)
    out[:, 0] = square
    for k, (shift, axis, edge) in enumerate(((1, 1, 0), (-1, 1, 27), (1, 2, 0), (-1, 2, 27)), start=1):
        moved = np.roll(square, shift, axis=axis)
        if axis == 1:
            moved[:, edge, :] = 0
        else:
            moved[:, :, edge] = 0
        out[:, k] = moved
    order = np.random.RandomState(SHUFFLE_SEED).permutation(5 * n)
    return out.reshape(5 * n, 784)[order], np.repeat(labels, 5)[order]


def digests(images, labels):
    return {"images": hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest(),
            "labels": hashlib.sha256(np.ascontiguousarray(labels).tobytes()).hexdigest()}


def expanded_mnist(cache_folder, digits, canonical):
    """The expanded set as uint8 ``(images, labels)``: from the cache when it verifies, else built from
    ``digits`` (MNIST's first 50,000 training images) and, when ``canonical``, verified and cached."""
    from .._files import write_atomically
    path = os.path.join(cache_folder, EXPANDED_NAME)
    if canonical and os.path.exists(path):
        try:
            with np.load(path, allow_pickle=False) as z:
                images, labels = z["images"], z["labels"]
            if digests(images, labels) == EXPANDED_SHA256:
                return images, labels
        except (*ARCHIVE_ERRORS, KeyError):
            pass  # a damaged cache is built again below
    images, labels = expand_bytes(digits.train_images[:50_000], digits.train_labels[:50_000])
    if canonical:
        if digests(images, labels) != EXPANDED_SHA256:
            raise DataError("the expanded set built from the verified MNIST does not match its pinned sha256")
        write_atomically(path, lambda f: np.savez(f, images=images, labels=labels))
    return images, labels


def expand_mnist(training):
    """The book's expanded training set from a training pair ``(X float32 (n, 784), y (n,))`` of byte / 256
    pixels: ``(X (5n, 784) float32, y (5n,) int64)``, each image and its four one-pixel shifts, shuffled."""
    X, y = training
    images = np.rint(np.asarray(X, dtype=np.float64) * 256).astype(np.uint8)
    big, labels = expand_bytes(images, np.asarray(y).astype(np.uint8))
    return np.multiply(big, np.float32(1 / 256), dtype=np.float32), labels.astype(np.int64)
