"""Save and load trained networks: arrays in ``.npz`` plus JSON metadata, never pickle.

A model file holds ``weights_0 ... weights_{L-1}``, ``biases_0 ...`` and a
``metadata`` string (JSON: format, sizes, dtype, training settings, epochs
done, accuracy history, nnfast version). It is written atomically (a temp
file beside the target, fsync, rename), so an interrupted save leaves the old
file as it was, and read with ``allow_pickle=False`` and checked array by
array, so a truncated or foreign file gives a clear ``ModelError``.
"""

import datetime
import io
import json
import os

import numpy as np

from ._version import __version__
from ._files import write_atomically
from .datasets.formats import ARCHIVE_ERRORS

FORMAT = "nnfast-model"
FORMAT_VERSION = 1


class ModelError(ValueError):
    """A model file is missing, damaged, or not an nnfast model; the message says which."""


EXTRA_PREFIX = "extra_"


def save(net, path, extra_arrays=None, **metadata):
    """Write ``net`` (an ``nnfast.network.Network``) to ``path`` atomically, with ``metadata``
    (JSON-able) and ``extra_arrays`` ({name: numeric array}, e.g. the training order for resuming)."""
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "nnfast_version": __version__,
        "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **getattr(net, "metadata", {}), **metadata,
        "sizes": list(net.sizes), "dtype": net.dtype.name,
    }
    arrays = {f"weights_{i}": np.ascontiguousarray(w, dtype=net.dtype) for i, w in enumerate(net.weights)}
    arrays.update({f"biases_{i}": np.ascontiguousarray(b, dtype=net.dtype).reshape(-1, 1)
                   for i, b in enumerate(net.biases)})
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ModelError(f"refusing to save: {name} holds NaN or infinity (training diverged)")
    arrays.update({EXTRA_PREFIX + name: np.asarray(a) for name, a in (extra_arrays or {}).items()})
    blob = io.BytesIO()
    np.savez(blob, metadata=np.array(json.dumps(meta)), **arrays)
    write_atomically(os.fspath(path), lambda f: f.write(blob.getvalue()))


def read(path):
    """``(metadata dict, weights list, biases list, extra arrays dict)`` from a model file, fully validated."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such model file")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # not a zip: numpy would try (and refuse) to unpickle it
            raise ModelError(f"{path}: not an nnfast model (not a .npz file)")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            if "metadata" not in files:
                raise ModelError(f"{path}: not an nnfast model (no metadata)")
            meta = json.loads(str(z["metadata"]))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ModelError(f"{path}: not an nnfast model")
            if meta.get("format_version", 0) > FORMAT_VERSION:
                raise ModelError(f"{path}: made by a newer nnfast (format {meta['format_version']}); upgrade nnfast")
            sizes = meta.get("sizes")
            if (not isinstance(sizes, list) or len(sizes) < 2
                    or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)):
                raise ModelError(f"{path}: bad layer sizes {sizes!r} in metadata")
            dtype = meta.get("dtype")
            if dtype not in ("float64", "float32"):
                raise ModelError(f"{path}: bad dtype {dtype!r} in metadata")
            weights, biases = [], []
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                for name, shape, out in ((f"weights_{i}", (n_out, n_in), weights), (f"biases_{i}", (n_out, 1), biases)):
                    if name not in files:
                        raise ModelError(f"{path}: {name} is missing")
                    a = z[name]
                    if a.shape != shape or a.dtype != np.dtype(dtype):
                        raise ModelError(f"{path}: {name} is {a.dtype}{list(a.shape)}; expected {dtype}{list(shape)}")
                    if not np.all(np.isfinite(a)):
                        raise ModelError(f"{path}: {name} holds NaN or infinity")
                    out.append(a)
            extras = {}
            for name in files:
                if name.startswith(EXTRA_PREFIX):
                    a = z[name]
                    if a.dtype.kind not in "iuf":
                        raise ModelError(f"{path}: {name} is not numeric")
                    extras[name[len(EXTRA_PREFIX):]] = a
    except ModelError:
        raise
    except (*ARCHIVE_ERRORS, KeyError) as exc:  # JSON and Unicode errors are ValueErrors
        raise ModelError(f"{path}: damaged or not an nnfast model ({type(exc).__name__}: {exc})") from None
    return meta, weights, biases, extras


# -- the book's network2 JSON --------------------------------------------------------------

_JSON_LIMIT = 1 << 30  # bytes; a 784-1000-1000-10 net is about 40 MB of JSON


def is_json(path):
    """True for a network2 JSON model: a name ending in ``.json``, or text starting (after white space)
    with ``{`` or ``[``; anything else is read as nnfast's ``.npz``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such model file")
    if path.lower().endswith(".json"):
        return True
    with open(path, "rb") as f:
        return f.read(64).lstrip()[:1] in (b"{", b"[")


def save_book_json(net, path, cost_name):
    """Write ``net`` as the book's ``network2.save`` does: JSON keys ``sizes``, ``weights`` (nested lists),
    ``biases`` (lists of one-element lists) and ``cost`` (the class name); atomically."""
    for i, a in enumerate(list(net.weights) + list(net.biases)):
        if not np.all(np.isfinite(a)):
            raise ModelError("refusing to save: a weight or bias holds NaN or infinity (training diverged)")
    data = {"sizes": list(net.sizes),
            "weights": [np.asarray(w, dtype=np.float64).tolist() for w in net.weights],
            "biases": [np.asarray(b, dtype=np.float64).reshape(-1, 1).tolist() for b in net.biases],
            "cost": cost_name}
    text = json.dumps(data).encode()
    write_atomically(os.fspath(path), lambda f: f.write(text))


def read_book_json(path):
    """``(sizes, weights, biases, cost_name)`` from a network2 JSON file, every field checked.

    Shapes must agree with ``sizes`` before anything is allocated from them, so
    a file that claims huge layers is refused, not obeyed; the cost is returned
    as a name for the caller to look up among its own classes.
    """
    path = os.fspath(path)
    if os.path.getsize(path) > _JSON_LIMIT:
        raise ModelError(f"{path}: {os.path.getsize(path):,} bytes is too large for a network2 JSON model")
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ModelError(f"{path}: not a valid network2 JSON model ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or not {"sizes", "weights", "biases", "cost"} <= set(data):
        raise ModelError(f"{path}: a network2 JSON model needs the keys sizes, weights, biases and cost")
    sizes, cost = data["sizes"], data["cost"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)):
        raise ModelError(f"{path}: bad layer sizes {str(sizes)[:80]}")
    if not isinstance(cost, str):
        raise ModelError(f"{path}: cost must be the name of a cost class, got {str(cost)[:80]}")
    layers = len(sizes) - 1
    if not (isinstance(data["weights"], list) and isinstance(data["biases"], list)
            and len(data["weights"]) == layers and len(data["biases"]) == layers):
        raise ModelError(f"{path}: sizes {sizes} need {layers} weight and {layers} bias arrays")
    weights, biases = [], []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for name, raw, shapes, out in (("weights", data["weights"][i], [(n_out, n_in)], weights),
                                       ("biases", data["biases"][i], [(n_out, 1), (n_out,)], biases)):
            try:
                a = np.array(raw, dtype=np.float64)
            except (ValueError, TypeError):
                raise ModelError(f"{path}: {name}[{i}] is not a rectangular array of numbers") from None
            if a.shape not in shapes:
                raise ModelError(f"{path}: {name}[{i}] has shape {a.shape}; sizes {sizes} need {shapes[0]}")
            if not np.all(np.isfinite(a)):
                raise ModelError(f"{path}: {name}[{i}] holds NaN or infinity")
            out.append(a.reshape(shapes[0]))
    return sizes, weights, biases, cost
