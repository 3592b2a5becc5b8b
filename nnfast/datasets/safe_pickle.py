"""Read the book's ``mnist.pkl.gz`` without trusting it.

That file is a Python 2 ``cPickle`` (protocol 2) of numpy arrays; Python 3
ports often re-save it with Python 3's pickle. Plain ``pickle.load`` would run
whatever callable a tampered file names, so this unpickler admits exactly the
globals numpy arrays need (and ``_codecs.encode``, which Python 3's protocol 2
uses for bytes) and refuses every other one before anything is called.
"""

import codecs
import io
import pickle

import numpy as np

try:  # numpy >= 2 moved the module; old pickles still name numpy.core
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar
    from numpy.core.numeric import _frombuffer

_ALLOWED = {
    # Python 3 pickles bytes under protocol 2 as _codecs.encode(text, "latin1"): a pure function
    ("_codecs", "encode"): codecs.encode,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    # a numpy scalar from its dtype and raw bytes: the book's expand_mnist.py pickles its labels as
    # numpy int64 scalars (an object-dtype scalar would be whatever else the stream holds: refused below)
    ("numpy.core.multiarray", "scalar"): scalar,
    ("numpy._core.multiarray", "scalar"): scalar,
    # protocol 5 rebuilds an array from its raw buffer, dtype and shape: nothing else
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class UnsafePickleError(ValueError):
    """The pickle names something other than numpy arrays and dtypes."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load: the pickle asks for {module}.{name}, "
                "but an MNIST file holds only numpy arrays") from None


def _arrays_only(obj):
    """Reject any non-array leaf, and object arrays (which could carry anything)."""
    if isinstance(obj, (tuple, list)):
        for item in obj:
            _arrays_only(item)
    elif isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.hasobject:
            raise UnsafePickleError("refusing to load: the pickle holds an object array")
    else:
        raise UnsafePickleError(f"refusing to load: the pickle holds a {type(obj).__name__}, not arrays")


def loads_numpy_pickle(data):
    """Unpickle ``data`` (bytes) that may only contain tuples/lists of numeric numpy arrays and scalars.

    Python 2 ``str`` payloads are decoded as latin-1, which numpy turns back
    into the original bytes. Raises UnsafePickleError or ValueError.
    """
    return load_numpy_pickle(io.BytesIO(data))


def load_numpy_pickle(stream):
    """``loads_numpy_pickle`` reading from a binary file object, as a stream.

    The pickle's bytes are never held whole: a 0.9 GB ``mnist_expanded.pkl.gz``
    costs only the arrays it builds. Raises UnsafePickleError or ValueError; an
    exception the stream itself raises (a damaged gzip, a size limit) is the
    caller's to recognise, and arrives here as a ValueError too.
    """
    try:
        obj = _NumpyOnlyUnpickler(stream, encoding="latin1").load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or garbled: every unpickling error looks different
        raise ValueError(f"not a readable pickle ({type(exc).__name__}: {exc})") from None
    _arrays_only(obj)
    return obj
