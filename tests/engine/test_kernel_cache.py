"""The kernels' on-disk cache: reused while the kernel sources are unchanged, dropped when any of them changes.

numba itself checks only the file that defines a cached function (numba#1833),
so a kernel that calls one from another file would keep running the old code.
``kernel_family`` stamps each cache with a hash of its whole folder.
"""

import os
import subprocess
import sys
import textwrap

from nnfast.engine.kernels import jit

CALLEE = """
import os
from nnfast.engine.kernels.jit import kernel_family

kernel = kernel_family(os.path.dirname(os.path.abspath(__file__)))


@kernel
def inner(x):
    return x + {step}
"""

CALLER = """
from callee import inner, kernel


@kernel
def outer(x):
    return inner(x) * 10
"""

RUN = "import caller; print(caller.outer(1), caller.outer.stats.cache_hits.get(caller.outer.signatures[0], 0))"


def _run(folder, cache):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": os.pathsep.join([str(folder), *sys.path])}
    out = subprocess.run([sys.executable, "-c", RUN], cwd=folder, env=env, capture_output=True, text=True, check=True)
    value, hits = out.stdout.split()
    return int(value), int(hits)


def test_a_change_in_another_kernel_file_recompiles_its_callers(tmp_path):
    family = tmp_path / "family"
    family.mkdir()
    (family / "callee.py").write_text(textwrap.dedent(CALLEE.format(step=1)))
    (family / "caller.py").write_text(textwrap.dedent(CALLER))
    cache = tmp_path / "cache"
    assert _run(family, cache) == (20, 0)  # compiled
    assert _run(family, cache) == (20, 1)  # the second process loads the machine code from the cache
    (family / "callee.py").write_text(textwrap.dedent(CALLEE.format(step=2)))  # caller.py untouched
    assert _run(family, cache)[0] == 30


def test_the_engine_kernels_carry_the_folder_stamp():
    from nnfast.engine.kernels import batches
    stamp = batches.run_batches._cache._cache_file._source_stamp
    assert stamp[1] == jit.sources_hash(os.path.dirname(jit.__file__))
