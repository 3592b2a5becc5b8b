"""Atomic file writes: readers see the old file or the complete new one, never a partial one."""

import os
import tempfile


def _umask():
    """The process's umask, read without changing it where Linux tells it (``/proc/self/status``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable way to read it is to set it
    os.umask(mask)
    return mask


def write_atomically(path, write):
    """Call ``write(file)`` on a temp file beside ``path``, fsync, then rename over ``path``.

    Readers see the old file or the complete new one, never a partial one,
    even with two processes writing at once; on any error the temp file goes.
    The file gets the permissions a plain ``open(path, "w")`` would give it:
    those of the file it replaces, else 0o666 less the umask (a temp file is
    made 0o600, which would lock other users out of a shared cache).
    An error names ``path``, never the hidden temp file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.errno is not None and (exc.filename is None or exc.filename == tmp
                                                                   or isinstance(exc.filename, int)):
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
        raise
