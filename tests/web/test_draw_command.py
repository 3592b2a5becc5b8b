"""nnfast draw as a user runs it: a real process that prints its address, serves, and stops on Ctrl-C (130)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from nnfast import network

pytest.importorskip("uvicorn", reason="the draw page needs the [web] extra")


def _start(*args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "nnfast", "draw", *map(str, args), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_it_prints_its_address_serves_the_models_and_stops_on_ctrl_c(tmp_path):
    np.random.seed(0)
    network.Network([784, 12, 10]).save(tmp_path / "a.npz")
    network.Network([784, 12, 10]).save(tmp_path / "b.npz")
    proc = _start(tmp_path / "a.npz", tmp_path / "b.npz")
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        deadline = time.monotonic() + 20
        while True:
            try:
                models = json.load(urllib.request.urlopen(url + "api/models", timeout=5))["models"]
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        assert [m["name"] for m in models] == ["784-12-10, chapter 1 (a.npz)", "784-12-10, chapter 1 (b.npz)"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Stopped." in err and "Traceback" not in err


def test_another_host_is_warned_about_and_a_taken_port_is_one_message(tmp_path):
    np.random.seed(0)
    network.Network([784, 12, 10]).save(tmp_path / "a.npz")
    proc = _start(tmp_path / "a.npz", "--host", "0.0.0.0")
    try:
        url = proc.stdout.readline().strip()
        port = url.rsplit(":", 1)[1].strip("/")
        taken = subprocess.run([sys.executable, "-m", "nnfast", "draw", str(tmp_path / "a.npz"), "--no-browser",
                                "--port", port], capture_output=True, text=True, timeout=60)
        assert taken.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr
        assert "Traceback" not in taken.stderr
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert "warning: listening on 0.0.0.0" in err


def test_a_model_it_cannot_read_is_one_message(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    result = subprocess.run([sys.executable, "-m", "nnfast", "draw", str(tmp_path / "bad.npz"), "--no-browser"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "bad.npz" in result.stderr and "Traceback" not in result.stderr


def test_without_the_web_extra_it_says_how_to_get_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from nnfast.cli import main
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the [web] extra were not installed
    np.random.seed(0)
    network.Network([784, 12, 10]).save(tmp_path / "a.npz")
    result = CliRunner().invoke(main, ["draw", str(tmp_path / "a.npz"), "--no-browser"])
    assert result.exit_code == 1 and "[web] extra" in result.output and "Traceback" not in result.output
