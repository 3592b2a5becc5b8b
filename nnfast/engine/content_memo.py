"""Work done once per *content* of a large matrix: a training call's one-off, not every call's.

Preparing the training matrix (checking it for NaN, laying out its nonzeros,
``nnfast.engine.input_layout``) costs about 0.3 s for MNIST's 50,000 images,
and a script that calls ``SGD`` for one epoch at a time paid it every call.
The matrix may have changed in place between two calls (a learner's own
preprocessing), so a result is reused only while the matrix still holds the
same bytes: a 64-bit fingerprint, ``sum_ij U[i, j] * K[j] * R[i]`` over its
bytes read as unsigned 64-bit words ``U``, with odd weights ``K`` and ``R``
(modulo 2**64). Any change of one word changes it; it reads the matrix once
(about 20 ms for MNIST's 188 MB) and allocates nothing of the matrix's size.
Within ``one_look()`` (a training call's set-up, where nothing of the learner's runs between the reads),
a matrix is fingerprinted once however many results are asked of it: nnfast's loader's list asks two of
its 188 MB matrix each call.
"""

import contextlib
import threading
import weakref

import numpy as np

MIN_BYTES = 1 << 20  # smaller matrices are quicker to prepare again than to fingerprint
# results kept per matrix, the least recently used dropped first: a learner's slices of a list SGD reshuffles are
# a new set of rows each call, each with its own input layout (MNIST's 50,000: 39 MB), which were all kept while
# the list lived (8 such calls: +300 MB); a training call asks two or three results of a matrix
MAX_RESULTS = 4
WIDTH = 1024  # words per fingerprint row
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

_memo = {}  # id(matrix) -> (weakref to it, fingerprint, {what: result})
_private = {}  # id(matrix) -> (weakref to it, {what: result}): matrices only nnfast holds (see ``private``)
_LOCAL = threading.local()  # .looked inside ``one_look``: id(matrix) -> (the matrix, its fingerprint) taken there
_K = (np.arange(WIDTH, dtype=np.uint64) * _GOLDEN) | np.uint64(1)


def fingerprint(X):
    """A 64-bit digest of the bytes of the C-contiguous array ``X`` (an int)."""
    flat = np.ascontiguousarray(X).reshape(-1).view(np.uint8)
    whole = flat.size // (8 * WIDTH) * (8 * WIDTH)
    words = flat[:whole].view(np.uint64).reshape(-1, WIDTH)
    rows = np.arange(1, words.shape[0] + 1, dtype=np.uint64) * _GOLDEN | np.uint64(1)
    with np.errstate(over="ignore"):  # the arithmetic is modulo 2**64 on purpose
        digest = (words @ _K) @ rows if words.size else np.uint64(0)
        tail = flat[whole:].astype(np.uint64)
        digest += tail @ ((np.arange(tail.size, dtype=np.uint64) + np.uint64(3)) * _GOLDEN)
    return int(digest) ^ flat.size


@contextlib.contextmanager
def one_look():
    """Fingerprint each matrix at most once inside the block. For code that runs nothing of the learner's
    between the reads (so nothing can change a matrix there), e.g. a training call's set-up."""
    outer = getattr(_LOCAL, "looked", None)  # per thread: another thread's calls (a sweep's trials) run their code
    _LOCAL.looked = {} if outer is None else outer
    try:
        yield
    finally:
        _LOCAL.looked = outer


def _fingerprint_once(X):
    looked = getattr(_LOCAL, "looked", None)
    if looked is None:
        return fingerprint(X)
    seen = looked.get(id(X))
    if seen is None or seen[0] is not X:
        seen = looked[id(X)] = (X, fingerprint(X))  # held strongly: the id cannot name another matrix meanwhile
    return seen[1]


def is_private(X):
    """Whether ``X`` was marked by ``private`` (and is that very matrix)."""
    mine = _private.get(id(X))
    return mine is not None and mine[0]() is X


def private(X):
    """Mark ``X`` as a matrix nnfast made and holds alone (a learner's columns stacked, ``nnfast.engine.column_memo``),
    which nothing writes after it is made: ``remembered`` then keeps its results without fingerprinting it."""
    if X.nbytes >= MIN_BYTES and id(X) not in _private:
        _private[id(X)] = (weakref.ref(X), {})
        weakref.finalize(X, _private.pop, id(X), None)


def remembered(X, what, compute):
    """``compute(X)``, or its result from an earlier call while ``X`` (the same object) still holds the
    same bytes. Small matrices are computed afresh every time."""
    if X.nbytes < MIN_BYTES:
        return compute(X)
    mine = _private.get(id(X))
    if mine is not None and mine[0]() is X:
        return _kept(mine[1], what, compute, X)
    digest = _fingerprint_once(X)
    hit = _memo.get(id(X))
    if hit is None or hit[0]() is not X or hit[1] != digest:
        hit = _memo[id(X)] = (weakref.ref(X), digest, {})
        weakref.finalize(X, _drop, id(X), hit[0])
    return _kept(hit[2], what, compute, X)


def _kept(results, what, compute, X):
    """``results[what]``, computed when missing; the ``MAX_RESULTS`` most recently used are kept (another
    thread's calls may meanwhile use and drop results of the same matrix: each step holds alone)."""
    found = results.pop(what, _MISSING)
    if found is _MISSING:
        found = compute(X)
    results[what] = found  # the most recent last
    while len(results) > MAX_RESULTS:
        try:
            del results[next(iter(results))]
        except (KeyError, RuntimeError, StopIteration):  # another thread dropped it first
            break
    return found


_MISSING = object()


def _drop(key, ref):
    if key in _memo and _memo[key][0] is ref:
        del _memo[key]
