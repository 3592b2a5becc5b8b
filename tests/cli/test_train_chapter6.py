"""nnfast train --layers (chapter 6's network3) as a user runs it, on small synthetic MNIST-style files."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from nnfast import network3
from nnfast.cli import main
from mnist_fixtures import write_idx_folder
from nnfast.datasets import Digits


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    """600 training and 100 test images of ten learnable blob patterns, as IDX files."""
    rng = np.random.default_rng(0)
    patterns = rng.random((10, 784)) < 0.15

    def draw(n):
        y = rng.integers(0, 10, n)
        x = np.clip(patterns[y] * 200 + rng.integers(0, 60, (n, 784)), 0, 255).astype(np.uint8)
        return x, y.astype(np.uint8)
    (tx, ty), (vx, vy) = draw(700), draw(100)
    folder = tmp_path_factory.mktemp("digits")
    write_idx_folder(folder, Digits(tx, ty, vx, vy))
    return folder


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def lines(out):
    return [re.sub(r"  \(\d+\.\d s(, \d+\.\d s of it compiling)?\)$", "", x) for x in out.splitlines() if not x.startswith(("Training ", "Total"))]


def test_layers_train_prints_the_books_lines_and_resume_is_exact(digits_folder, tmp_path):
    args = ["--layers", "conv4x5,pool2,fc12,softmax", "--dropout", "0.2", "--activation", "ReLU", "--eta", "0.05",
            "--data", digits_folder, "--seed", 2, "--batch-size", 10, "--threads", 1]
    whole = run("train", "--epochs", 3, *args)
    assert re.search(r"^Epoch 0: validation accuracy \d+\.\d\d%  \(\d+\.\d s(, \d+\.\d s of it compiling)?\)$", whole, re.M)
    assert re.search(r"^Epoch [12]: validation accuracy \d+\.\d\d%  \(\d+\.\d s\)$", whole, re.M)  # compiled once
    assert "Finished training network." in whole and re.search(r"Corresponding test accuracy of \d+\.\d\d%", whole)
    run("train", "--epochs", 2, "--save", tmp_path / "m.npz", *args)
    rest = run("train", "--layers", "conv4x5,pool2,fc12,softmax", "--resume", tmp_path / "m.npz", "--epochs", 3,
               "--threads", 1)
    assert lines(rest)[-4:] == lines(whole)[-4:]  # the same last epoch and the same best, dropout included
    acc = float(re.search(r"Best validation accuracy of (\d+\.\d\d)%", whole).group(1))
    assert acc > 30  # it learned the patterns (10% is guessing)


def test_eval_and_predict_take_a_network3_model(digits_folder, tmp_path):
    from PIL import Image
    run("train", "--layers", "fc16,softmax", "--epochs", 2, "--data", digits_folder, "--save", tmp_path / "f.npz",
        "--seed", 1)
    net = network3.load(tmp_path / "f.npz")
    report = run("eval", tmp_path / "f.npz", "--data", digits_folder)
    assert "Accuracy:" in report
    Image.fromarray(np.full((28, 28), 255, np.uint8) - np.eye(28, dtype=np.uint8) * 200).save(tmp_path / "d.png")
    out = run("predict", tmp_path / "f.npz", tmp_path / "d.png", "--json")
    assert '"class"' in out and len(net.layers) == 2


@pytest.mark.parametrize("args,message", [
    (["--layers", "conv20x5,softmax,fc10"], "softmax must be the last layer"),
    (["--layers", "pool2,fc10,softmax"], "a pool must follow a conv"),
    (["--layers", "conv20x30,pool2,softmax"], "larger than its 28x28 image"),
    (["--layers", "fc10,conv20x5,softmax"], "must come before every fc"),
    (["--layers", "conv20x5,pool2,fc100"], "must end with softmax"),
    (["--layers", "dense100,softmax"], "is not convN"),
    (["--layers", "fc100,softmax", "--cost", "cross-entropy"], "--cost does not go with --layers"),
    (["--layers", "fc100,softmax", "--cost", "cross-entropy", "--init", "default"], "--init do not go with"),
    (["--dropout", "0.5"], "--dropout goes with --layers"),
    (["--dropout", "0.5", "--expanded"], "--dropout, --expanded go with --layers"),
    (["--threads", "0"], "--threads"),
])
def test_bad_layer_specs_get_one_line_before_any_data_is_read(args, message, tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_HOME", str(tmp_path))  # no cache: a spec that reached the data would fetch
    monkeypatch.setenv("NNFAST_MNIST_MIRRORS", "")
    result = CliRunner().invoke(main, ["train", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_threads_option_applies_to_the_run_and_is_restored_after(digits_folder, monkeypatch):
    import os
    monkeypatch.delenv("NNFAST_THREADS", raising=False)
    seen = {}
    from nnfast.engine import dense as _dense
    original = _dense.compute_threads

    def spy():
        seen["threads"] = original()
        return seen["threads"]
    monkeypatch.setattr(_dense, "compute_threads", spy)
    run("train", "--layers", "conv2x5,pool2,softmax", "--epochs", 1, "--data", digits_folder, "--threads", 3)
    assert seen["threads"] == 3 and "NNFAST_THREADS" not in os.environ


def test_resume_reads_the_net_from_the_file_and_refuses_a_conflicting_option_by_name(digits_folder, tmp_path):
    args = ["--layers", "fc12,softmax", "--data", digits_folder, "--seed", 3, "--threads", 1]
    whole = run("train", "--epochs", 2, *args)
    run("train", "--epochs", 1, "--save", tmp_path / "m.npz", *args)
    rest = run("train", "--resume", tmp_path / "m.npz", "--epochs", 2, "--threads", 1)  # no --layers
    assert lines(rest)[-4:] == lines(whole)[-4:]
    for option, value in (("--layers", "conv20x5,pool2,fc12,softmax"), ("--activation", "ReLU"),
                          ("--dropout", "0.5"), ("--batch-size", "20"), ("--eta", "0.5")):
        out = run("train", "--resume", tmp_path / "m.npz", "--epochs", 3, option, value, code=1)
        assert f"{option} {value} differs from the model's" in out and "Traceback" not in out
    same = run("train", "--resume", tmp_path / "m.npz", "--epochs", 2, "--layers", "FC12, softmax", "--threads", 1)
    assert "Nothing to train: the model already has 2 epochs" in same  # the same spec, written another way


def test_save_onto_an_existing_file_says_it_was_replaced(digits_folder, tmp_path):
    (tmp_path / "m.npz").write_bytes(b"old")
    out = run("train", "--layers", "fc8,softmax", "--epochs", 1, "--data", digits_folder, "--save", tmp_path / "m.npz")
    assert "(replaced the file that was there)" in out
    out = run("train", "--layers", "fc8,softmax", "--epochs", 1, "--data", digits_folder, "--save", tmp_path / "n.npz")
    assert "replaced" not in out


def test_zero_epochs_trains_nothing_and_says_so(digits_folder, tmp_path):
    out = run("train", "--layers", "fc8,softmax", "--epochs", 0, "--data", digits_folder, "--save", tmp_path / "z.npz")
    assert "Nothing to train" in out and "0.00%" not in out and "..-1" not in out
    assert network3.load(tmp_path / "z.npz").layers[0].w.shape == (784, 8)
    resumed = run("train", "--resume", tmp_path / "z.npz", "--epochs", 1, "--threads", 1)
    assert "Epoch 0: validation accuracy" in resumed


def test_activation_names_are_taken_in_any_case(digits_folder):
    out = run("train", "--layers", "fc8,softmax", "--activation", "relu", "--epochs", 1, "--data", digits_folder)
    assert "(ReLU, dropout 0)" in out


def test_eval_and_predict_let_several_models_vote_as_the_book(digits_folder, tmp_path):
    from collections import Counter

    from PIL import Image

    from nnfast import datasets, mnist_loader
    paths = []
    for seed in (1, 2, 3):
        paths.append(tmp_path / f"n{seed}.npz")
        run("train", "--layers", "fc6,softmax", "--epochs", 1, "--data", digits_folder, "--save", paths[-1],
            "--seed", seed)
    _, _, (X, labels) = mnist_loader.split(datasets.load_dataset(str(digits_folder)))
    each = [network3.load(p).predict(X) for p in paths]
    books = [Counter(p).most_common(1)[0][0] for p in zip(*each)]  # conv.py's ensemble
    out = run("eval", *paths, "--data", digits_folder, "--json")
    report = json.loads(out.strip().splitlines()[-1])  # after any note on stderr
    assert report["correct"] == sum(int(v == t) for v, t in zip(books, labels))
    assert [m["correct"] for m in report["models"]] == [int((p == labels).sum()) for p in each]
    text = run("eval", *paths, "--data", digits_folder)
    assert "the vote of 3 models" in text and f"{paths[0]}: " in text
    Image.fromarray((X[0].reshape(28, 28) * 256).astype(np.uint8)).save(tmp_path / "d.png")
    record = json.loads(run("predict", *paths, tmp_path / "d.png", "--json").strip().splitlines()[-1])
    from nnfast.imaging import digit_column
    seen = digit_column(tmp_path / "d.png").T  # what predict gives the networks
    given = [int(network3.load(p).predict(seen)[0]) for p in paths]
    vote = Counter(given).most_common(1)[0][0]
    assert record["digit"] == vote and record["models"] == 3 and record["votes"] == given.count(vote)
