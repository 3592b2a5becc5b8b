"""nnfast itself, sent to the workers of a Dask cluster that do not have this very nnfast.

nnfast is not on the package index, so "pip install nnfast on every worker" is
not a step a user can take. Instead the sweep zips the ``nnfast`` package it
runs from (its source files only: no ``__pycache__``, no numba cache) and
registers a Dask worker plugin that unpacks it into each worker's own folder
and puts it first on that worker's ``sys.path``, on the workers there now and
on any that join later. A worker whose own nnfast is this very code (the same
files, by a digest) gets nothing. A worker that has already imported another
nnfast cannot be given this one without a restart, and the sweep says so.

The workers still need nnfast's dependencies (numpy and numba, with Dask's
``distributed``): ``pip install numpy numba distributed`` there.

The functions sent to the workers are defined inside the functions below, so
cloudpickle sends their code along instead of a reference to a module the
worker may not have.
"""

import hashlib
import io
import os
import zipfile

SKIPPED_SUFFIXES = (".pyc", ".nbi", ".nbc")


def package_zip():
    """``(bytes of a zip of the running nnfast package, sha256 digest of its files)``."""
    import nnfast
    root = os.path.dirname(os.path.abspath(nnfast.__file__))
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [os.path.join(folder, n) for n in sorted(names) if not n.endswith(SKIPPED_SUFFIXES)]
    buffer, digest = io.BytesIO(), hashlib.sha256()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in files:
            name = os.path.join("nnfast", os.path.relpath(path, root)).replace(os.sep, "/")
            with open(path, "rb") as f:
                data = f.read()
            digest.update(name.encode() + b"\0" + data)
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue(), digest.hexdigest()


def ship(client):
    """Make this nnfast importable on every worker of ``client`` (see the module docstring).

    Raises RuntimeError naming a worker that runs another nnfast already imported, or lacks numpy or numba.
    """
    blob, digest = package_zip()

    def probe(digest=digest):
        """On a worker: ('same' | 'absent' | 'other' | 'other-loaded' | 'no <module>')."""
        import hashlib as _hashlib
        import importlib.util
        import os as _os
        import sys as _sys
        for needed in ("numpy", "numba"):
            if importlib.util.find_spec(needed) is None:
                return f"no {needed}"
        spec = importlib.util.find_spec("nnfast")
        if spec is None or not spec.submodule_search_locations:
            return "absent"
        root = list(spec.submodule_search_locations)[0]
        h = _hashlib.sha256()
        for folder, dirs, names in _os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for n in sorted(names):
                if not n.endswith((".pyc", ".nbi", ".nbc")):
                    path = _os.path.join(folder, n)
                    name = _os.path.join("nnfast", _os.path.relpath(path, root)).replace(_os.sep, "/")
                    with open(path, "rb") as f:
                        h.update(name.encode() + b"\0" + f.read())
        if h.hexdigest() == digest:
            return "same"
        return "other-loaded" if "nnfast" in _sys.modules else "other"

    found = client.run(probe)
    missing = {w: s for w, s in found.items() if s.startswith("no ")}
    if missing:
        worker, what = next(iter(missing.items()))
        raise RuntimeError(f"Dask worker {worker} has {what}: nnfast's trials need numpy and numba there "
                           "(pip install numpy numba distributed on every worker)")
    loaded = [w for w, s in found.items() if s == "other-loaded"]
    if loaded:
        raise RuntimeError(f"Dask worker {loaded[0]} has already loaded another nnfast than this one: restart the "
                           "workers (they are sent this one as they start)")
    if all(s == "same" for s in found.values()):
        return False
    from distributed.diagnostics.plugin import WorkerPlugin

    class ShipNnfast(WorkerPlugin):
        """Unpack nnfast into the worker's own folder and put it first on the worker's sys.path."""

        name = f"nnfast-{digest[:16]}"

        def setup(self, worker):
            import io as _io
            import os as _os
            import sys as _sys
            import zipfile as _zipfile
            target = _os.path.join(worker.local_directory, self.name)
            if not _os.path.isfile(_os.path.join(target, "nnfast", "__init__.py")):
                with _zipfile.ZipFile(_io.BytesIO(blob)) as z:
                    z.extractall(target)
            if target not in _sys.path:
                _sys.path.insert(0, target)

    client.register_plugin(ShipNnfast())
    return True
