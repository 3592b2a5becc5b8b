"""nnfast train's chapter 3 options, as a user runs them, checked against the library and the book's rules."""

import json
import random
import re

import numpy as np
import pytest
from click.testing import CliRunner

from nnfast import mnist_loader, network, network2
from nnfast.cli import main

pytestmark = pytest.mark.network  # real MNIST (fetched once per session)


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def records(out):
    return [r for r in map(json.loads, out.splitlines()) if "epoch" in r]


def test_monitored_cross_entropy_run_equals_the_books_script(mnist_home, tmp_path):
    out = run("train", "--epochs", 2, "--hidden", 12, "--cost", "cross-entropy", "--eta", 0.5, "--lmbda", 5,
              "--monitor", "--seed", 3, "--json", "--plot", tmp_path / "c.png").stdout
    got = records(out)
    # the book's chapter 3 script, through the library, with the same seeds
    training, _, test = mnist_loader.load_data_wrapper()
    random.seed(3)
    np.random.seed(3)
    net = network2.Network([784, 12, 10], cost=network2.CrossEntropyCost)
    net.large_weight_initializer()
    want = list(net.train_epochs(training, 2, 10, 0.5, 5.0, test, True, True, True, True))
    assert [r["correct"] for r in got] == [w.evaluation_accuracy for w in want]
    assert [r["training_correct"] for r in got] == [w.training_accuracy for w in want]
    np.testing.assert_allclose([r["training_cost"] for r in got], [w.training_cost for w in want], rtol=1e-12)
    np.testing.assert_allclose([r["evaluation_cost"] for r in got], [w.evaluation_cost for w in want], rtol=1e-12)
    png = (tmp_path / "c.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_text_lines_show_the_monitors(mnist_home):
    out = run("train", "--epochs", 1, "--hidden", 10, "--monitor", "--seed", 1).stdout
    assert re.search(r"^Epoch 0: \d+ / 10000  \(\d+\.\d\d s\)\n  cost on training data [\d.e+-]+, accuracy on "
                     r"training data \d+ / 50000; cost on evaluation data [\d.e+-]+$", out, re.M)


def test_chapter1_defaults_still_train_chapter1s_network(mnist_home, tmp_path):
    run("train", "--epochs", 0, "--hidden", 10, "--seed", 5, "--save", tmp_path / "e0.npz")
    saved = network.load(tmp_path / "e0.npz")
    np.random.seed(5)
    fresh = network.Network([784, 10, 10])
    for a, b in zip(saved.weights + saved.biases, fresh.weights + fresh.biases):
        np.testing.assert_array_equal(a, b)  # --epochs 0 --save writes the initial network, as drawn
    assert saved.metadata["epochs_done"] == 0
    out = run("train", "--resume", tmp_path / "e0.npz", "--epochs", 1).stdout
    assert re.search(r"^Epoch 0: \d+ / 10000", out, re.M)


def test_save_json_writes_the_books_file_and_eval_reads_it(mnist_home, tmp_path):
    path = tmp_path / "net.json"
    out = run("train", "--epochs", 1, "--hidden", 10, "--cost", "cross-entropy", "--eta", 0.5, "--seed", 2,
              "--save", path).stdout
    data = json.loads(path.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost"} and data["cost"] == "CrossEntropyCost"
    assert np.array(data["biases"][0]).shape == (10, 1)
    correct = int(re.search(r"^Epoch 0: (\d+) / 10000", out, re.M).group(1))
    assert f"Accuracy: {correct} / 10000" in run("eval", path).stdout
    assert "Saved to" in out
    again = run("train", "--epochs", 1, "--hidden", 10, "--seed", 2, "--save", path).stdout
    assert "(replaced the file that was there)" in again
    before = path.read_bytes()
    refused = run("train", "--resume", path, "--epochs", 2, code=1).output
    assert "a JSON model" in refused and "--save NAME.npz" in refused and "not a .npz" not in refused
    assert path.read_bytes() == before


def test_resumed_chapter3_run_equals_the_uninterrupted_one(mnist_home, tmp_path):
    args = ["--hidden", 10, "--cost", "cross-entropy", "--eta", 0.5, "--lmbda", 2, "--init", "default",
            "--monitor", "--seed", 4, "--json"]
    whole = records(run("train", "--epochs", 3, *args).stdout)
    run("train", "--epochs", 2, "--save", tmp_path / "m.npz", *args)
    rest = records(run("train", "--resume", tmp_path / "m.npz", "--epochs", 3, "--json").stdout)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in whole[2:]]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in rest] == strip
    assert network2.load(tmp_path / "m.npz").cost is network2.CrossEntropyCost


def test_early_stop_follows_its_rule(mnist_home):
    out = run("train", "--epochs", 12, "--hidden", 10, "--cost", "cross-entropy", "--eta", 0.5, "--seed", 1,
              "--early-stop", 1, "--json").stdout
    accs = [r["correct"] for r in records(out)]
    summary = json.loads(out.splitlines()[-1])["summary"]
    best = accs[0]
    for i, a in enumerate(accs[1:], 1):  # with n = 1, every epoch but a strictly better one stops the run
        if a <= best:
            assert i == len(accs) - 1 and summary["stopped_early"] == (len(accs) < 12)
        best = max(best, a)


@pytest.mark.parametrize("text,sizes", [("30 20", [784, 30, 20, 10]), ("30, 20", [784, 30, 20, 10]),
                                        (" 25 ", [784, 25, 10])])
def test_hidden_widths_may_be_separated_by_spaces(mnist_home, tmp_path, text, sizes):
    run("train", "--epochs", 0, "--hidden", text, "--save", tmp_path / "m.npz")
    assert network.load(tmp_path / "m.npz").sizes == sizes


def test_banners_never_count_backwards():
    from nnfast.runs.train import _epoch_span
    assert _epoch_span(0, 30) == "epochs 0..29" and _epoch_span(17, 18) == "epoch 17"
    assert _epoch_span(0, 0) == _epoch_span(18, 18) == "no epochs to train"


def test_a_long_epoch_shows_progress_on_a_terminal_and_nothing_when_piped(mnist_home, tmp_path):
    """On a terminal (a pty here) a progress line appears within an epoch longer than a second."""
    import os
    import pty
    import subprocess
    import sys
    import time
    nnfast = os.path.join(os.path.dirname(sys.executable), "nnfast")
    args = [nnfast, "train", "--epochs", "1", "--hidden", "3000", "--seed", "1"]
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, cwd=tmp_path)
    os.close(follower)
    seen, deadline = b"", time.monotonic() + 60
    while b"samples, " not in seen and time.monotonic() < deadline:
        try:
            seen += os.read(leader, 4096)
        except OSError:
            break
    proc.send_signal(2)  # Ctrl-C
    proc.wait(timeout=30)
    os.close(leader)
    assert b"samples, " in seen and b"s left in this epoch" in seen
    piped = subprocess.run([nnfast, "train", "--epochs", "1", "--hidden", "30", "--seed", "1"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "samples, " not in piped.stderr + piped.stdout
