"""What every MNIST reader shares: the canonical form (``Digits``), its check, and the one error type.

Canonical form: uint8 images ``(n, 784)`` and uint8 labels ``(n,)``, for the
training set (60,000 in MNIST) and the test set (10,000).
"""

import os
from typing import NamedTuple

import numpy as np

PIXELS = 784


class DataError(ValueError):
    """A data file is missing, corrupt, or not MNIST-shaped; the message says which and why."""


class UnreadableFile(DataError):
    """A data file that is there but this user may not read: a permission problem, not damage."""


class Digits(NamedTuple):
    train_images: np.ndarray  # (n_train, 784) uint8
    train_labels: np.ndarray  # (n_train,) uint8
    test_images: np.ndarray   # (n_test, 784) uint8
    test_labels: np.ndarray   # (n_test,) uint8


def check_digits(d, where, n_classes=10):
    """Raise DataError unless ``d`` is well-formed (labels 0..n_classes-1); return it with C-contiguous uint8 arrays."""
    out = []
    for name, images, labels in (("training", d.train_images, d.train_labels),
                                 ("test", d.test_images, d.test_labels)):
        if images.ndim != 2 or images.shape[1] != PIXELS:
            raise DataError(f"{where}: {name} images have shape {images.shape}; expected (n, 784)")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(f"{where}: {len(labels)} {name} labels for {images.shape[0]} images")
        if images.shape[0] == 0:
            raise DataError(f"{where}: no {name} images")
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise DataError(f"{where}: {name} labels outside 0-{n_classes - 1} (found {labels.min()}..{labels.max()})")
        out += [np.ascontiguousarray(images, dtype=np.uint8), np.ascontiguousarray(labels, dtype=np.uint8)]
    return Digits(*out)


def available_memory():
    """Bytes of memory a new allocation can have now (Linux's MemAvailable: free memory plus the page
    cache it can drop), or None where the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
