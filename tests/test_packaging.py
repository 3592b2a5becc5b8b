"""A plain (not editable) install works: the wheel holds every subpackage and the command runs from it."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.network  # pip fetches the build backend


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    # a clean copy of the sources: a build/ folder left in the checkout could hide a missing package
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", "build", "dist", "*.egg-info", ".git",
                                                                "__pycache__", "results"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"),
                    str(source)], check=True, timeout=600, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("nnfast-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("nnfast/network2.py", "nnfast/datasets/__init__.py", "nnfast/datasets/formats.py"):
        assert module in names, f"{module} missing from the wheel"
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=600)
    # the dependencies come from this environment; nnfast itself only from the installed wheel
    env = {**os.environ, "PYTHONPATH": str(target), "NNFAST_HOME": str(tmp_path / "home")}
    where = subprocess.run([sys.executable, "-c", "import nnfast, nnfast.network2, nnfast.datasets; "
                            "print(nnfast.__file__)"], capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=120)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(target))
    for args in (["--version"], ["data", "path"]):
        done = subprocess.run([sys.executable, str(target / "bin" / "nnfast"), *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "home" / "mnist-uint8.npz")
