"""Datasets in MNIST's IDX format beyond MNIST: EMNIST, Fashion-MNIST, KMNIST, or any other.

A user points ``--data`` at a folder, at a path prefix such as
``gzip/emnist-letters``, or at one of the four files. This module finds the
four files, says which dataset they are (by their names and, where a
published checksum is known, by their sha256), reads them upright (EMNIST
stores each image transposed), maps labels to 0..K-1 (EMNIST letters run
1..26) and names the classes where the dataset defines names. Files it
cannot verify are checked for structure and reported as unverified, never
treated as MNIST.
"""

import hashlib
import os
import re
import string
from typing import NamedTuple, Optional

import numpy as np

from .formats import DataError, Digits, _read_bytes, check_digits, parse_idx

_PARTS = ("train_images", "train_labels", "test_images", "test_labels")
# MNIST's names, shared by Fashion-MNIST and KMNIST: {part: name without .gz}
_MNIST_STYLE = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
                "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
_EMNIST = re.compile(r"^emnist-(digits|letters|balanced|byclass|bymerge|mnist)-(train|test)-"
                     r"(images-idx3|labels-idx1)-ubyte(\.gz)?$")

_DIGITS = list("0123456789")
_MERGED = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt")  # EMNIST balanced and bymerge: 47 classes
EMNIST_SPLITS = {  # split: (class names, first label in the files)
    "digits": (_DIGITS, 0), "mnist": (_DIGITS, 0), "letters": (list(string.ascii_lowercase), 1),
    "balanced": (_MERGED, 0), "bymerge": (_MERGED, 0),
    "byclass": (_DIGITS + list(string.ascii_uppercase) + list(string.ascii_lowercase), 0),
}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
KMNIST_CLASSES = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]

# sha256 of the published .gz files (the datasets' own download pages and torchvision's tables)
KNOWN_GZ_SHA256 = {
    "Fashion-MNIST": {
        "train_images": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train_labels": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "test_images": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "test_labels": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"},
    "KMNIST": {
        "train_images": "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
        "train_labels": "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
        "test_images": "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
        "test_labels": "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"},
}
_KNOWN_NAMES = {"Fashion-MNIST": FASHION_CLASSES, "KMNIST": KMNIST_CLASSES}


class Dataset(NamedTuple):
    digits: Digits  # images upright, labels 0..K-1
    name: str  # "MNIST", "EMNIST letters", "Fashion-MNIST", "KMNIST", or "IDX dataset"
    classes: list  # a name for each class, "0".."K-1" where the dataset defines none
    verified: Optional[str]  # how it was verified, or None: checked for structure only
    source: str  # where it was read from


def find_files(path):
    """``(kind, {part: file path})`` for the four IDX files at ``path``, or None when there are none.

    ``path`` is a folder, a prefix (``.../emnist-letters``) or one of the
    files. ``kind`` is ``"mnist-style"`` or ``"emnist-SPLIT"``. Two datasets
    in one place are refused with the ways to name one.
    """
    if os.path.isdir(path):
        folder, prefix = path, ""
    else:
        folder, base = os.path.split(path)
        folder = folder or "."
        m = _EMNIST.match(base)
        prefix = f"emnist-{m.group(1)}" if m else base
        if not m and os.path.isfile(path):
            for part, name in _MNIST_STYLE.items():
                if base in (name, name + ".gz"):
                    prefix = ""
        if not os.path.isdir(folder):
            return None
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return None
    sets = {}
    for entry in entries:
        if prefix and not entry.startswith(prefix):
            continue
        m = _EMNIST.match(entry)
        if m:
            part = ("train_" if m.group(2) == "train" else "test_") + ("images" if m.group(3)[0] == "i" else "labels")
            sets.setdefault(f"emnist-{m.group(1)}", {}).setdefault(part, os.path.join(folder, entry))
            continue
        for part, name in _MNIST_STYLE.items():
            if entry in (name, name + ".gz", name.replace("-idx", ".idx"), name.replace("-idx", ".idx") + ".gz"):
                sets.setdefault("mnist-style", {}).setdefault(part, os.path.join(folder, entry))
    complete = {kind: files for kind, files in sets.items() if len(files) == 4}
    if len(sets) > 1:
        names = ", ".join(k.replace("mnist-style", "MNIST-style names (train-images-idx3-ubyte...)") for k in sets)
        hint = next((f"; name one, e.g. --data {os.path.join(folder, k)}" for k in sets if k != "mnist-style"), "")
        raise DataError(f"{path}: holds more than one dataset ({names}){hint}")
    if not sets:
        return None
    (kind, files), = sets.items()
    if kind not in complete:
        missing = [p for p in _PARTS if p not in files]
        raise DataError(f"{path}: {kind} is missing its {', '.join(missing).replace('_', ' ')} file")
    return kind, files


def read_idx_dataset(path, mnist_check):
    """The ``Dataset`` at ``path`` (see ``find_files``); ``mnist_check(digits)`` is True for canonical MNIST."""
    found = find_files(path)
    if found is None:
        return None
    kind, files = found
    raw = {part: _read_bytes(p) for part, p in files.items()}
    arrays = {part: parse_idx(raw[part], files[part]) for part in _PARTS}
    if kind.startswith("emnist-"):
        split = kind.split("-", 1)[1]
        classes, first = EMNIST_SPLITS[split]
        for part in ("train_images", "test_images"):  # EMNIST stores each image transposed
            a = arrays[part]
            arrays[part] = np.ascontiguousarray(a.reshape(-1, 28, 28).transpose(0, 2, 1).reshape(-1, 784))
        arrays = _labels_from(arrays, first, len(classes), files)
        digits = check_digits(Digits(**arrays), path, n_classes=len(classes))
        return Dataset(digits, f"EMNIST {split}", list(classes), None, path)
    for name, sums in KNOWN_GZ_SHA256.items():
        if all(hashlib.sha256(raw[p]).hexdigest() == sums[p] for p in _PARTS):
            digits = check_digits(Digits(**arrays), path, n_classes=10)
            return Dataset(digits, name, list(_KNOWN_NAMES[name]), "sha256 of the published .gz files", path)
    labels_max = max(int(arrays["train_labels"].max(initial=0)), int(arrays["test_labels"].max(initial=0)))
    n = max(labels_max + 1, 2)
    digits = check_digits(Digits(**arrays), path, n_classes=n)
    if n <= 10 and mnist_check(digits):
        return Dataset(digits, "MNIST", list(_DIGITS), "sha256 of the decoded arrays", path)
    seen = np.bincount(digits.train_labels, minlength=n)
    if (seen == 0).any():  # classes come from the labels: a gap means a stray label, not a class
        empty = np.flatnonzero(seen == 0)
        raise DataError(f"{files['train_labels']}: labels reach {labels_max} but no training image has label "
                        f"{', '.join(map(str, empty[:5]))}{'...' if len(empty) > 5 else ''}: a label out of range?")
    return Dataset(digits, "IDX dataset", [str(k) for k in range(n)], None, path)


def _labels_from(arrays, first, n_classes, files):
    """Labels shifted so the first class is 0; any label outside the split's range is refused by name."""
    out = dict(arrays)
    for part in ("train_labels", "test_labels"):
        y = arrays[part].astype(np.int64) - first
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise DataError(f"{files[part]}: labels run {y.min() + first}..{y.max() + first}; this split's classes "
                            f"are {first}..{first + n_classes - 1}")
        out[part] = y.astype(np.uint8)
    return out
