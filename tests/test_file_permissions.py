"""Files nnfast writes follow the umask (a shared cache stays readable by others), and a file someone else
owns that this user may not read is reported as a permission problem, never as damage fetched again."""

import os
import stat

import numpy as np
import pytest

from nnfast import datasets, network
from nnfast._files import write_atomically
from nnfast.datasets import formats
from mnist_fixtures import small_digits


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_models_and_the_cache_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    network.Network([4, 3, 2]).save(tmp_path / "m.npz")
    formats.write_cache(str(tmp_path / "cache.npz"), small_digits())
    assert _mode(tmp_path / "m.npz") == mode and _mode(tmp_path / "cache.npz") == mode


def test_replacing_a_file_keeps_its_permissions(tmp_path, umask):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    network.Network([4, 3, 2]).save(path)
    assert _mode(path) == 0o640


def test_a_failed_write_names_the_file_not_the_hidden_temp_file(tmp_path):
    def full(f):
        raise OSError(28, "No space left on device")  # as a write to a full disk says it: no name
    with pytest.raises(OSError) as caught:
        write_atomically(tmp_path / "m.npz", full)
    assert caught.value.filename == str(tmp_path / "m.npz") and caught.value.errno == 28
    (tmp_path / "d.npz").mkdir()
    (tmp_path / "d.npz" / "x").write_bytes(b"")
    with pytest.raises(OSError) as caught:  # renaming over a folder fails naming the temp file
        network.Network([4, 3, 2]).save(tmp_path / "d.npz")
    assert ".tmp" not in str(caught.value) and "d.npz" in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ["d.npz"]


def test_an_unreadable_cache_is_a_permission_problem_and_is_not_fetched_again(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("NNFAST_HOME", str(home))
    cache = home / datasets.CACHE_NAME
    formats.write_cache(str(cache), small_digits())
    before = cache.read_bytes()
    os.chmod(cache, 0o600)
    real_access = os.access
    if os.geteuid() == 0:  # root reads every file: stand in for the other user whose file this is
        monkeypatch.setattr(os, "access", lambda p, m, **kw: False if os.fspath(p) == str(cache) and m == os.R_OK
                            else real_access(p, m, **kw))
    else:
        os.chmod(cache, 0o000)

    def no_fetch(**kw):
        raise AssertionError("fetched again over a file the user may not read")
    monkeypatch.setattr(datasets, "fetch", no_fetch)
    with pytest.raises(datasets.DataError, match="may not read it .permission denied.*chmod a\\+r"):
        datasets.load_mnist(progress=False, report=lambda m: None)
    os.chmod(cache, 0o600)
    assert cache.read_bytes() == before
