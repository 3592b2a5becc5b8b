"""Atomic file writes: readers see the old file or the complete new one, never a partial one."""

import os
import tempfile


def write_atomically(path, write):
    """Call ``write(file)`` on a temp file beside ``path``, fsync, then rename over ``path``.

    Readers see the old file or the complete new one, never a partial one,
    even with two processes writing at once; on any error the temp file goes.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
