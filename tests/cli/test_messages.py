"""What the command line says where a user reads it: each message names the option or form the user gave, and
points to the better choice (no real MNIST needed: a small IDX folder stands in)."""

import sys

import pytest
from click.testing import CliRunner

from nnfast.cli import main
from mnist_fixtures import small_digits, write_idx_folder


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def folder(tmp_path):
    write_idx_folder(tmp_path / "d", small_digits(600, 60))
    return tmp_path / "d"


def test_early_stop_on_the_test_set_suggests_the_validation_set(folder):
    out = run("train", "--data", folder, "--hidden", 5, "--epochs", 2, "--early-stop", 1, "--validation", 100)
    assert "--early-stop 1 watches the test accuracy" in out and "add --eval-on validation" in out
    out = run("train", "--data", folder, "--hidden", 5, "--epochs", 2, "--early-stop", 1, "--validation", 100,
              "--eval-on", "validation")
    assert "watches the test accuracy" not in out and "--eval-on validation" not in out
    out = run("train", "--data", folder, "--hidden", 5, "--epochs", 2, "--validation", 100)
    assert "--early-stop" not in out  # no early stopping, nothing to say


@pytest.mark.parametrize("option", ["--errors", "--confusion"])
def test_a_drawing_into_a_missing_folder_names_its_own_option(folder, tmp_path, option):
    pytest.importorskip("matplotlib")
    model = tmp_path / "m.npz"
    run("train", "--data", folder, "--hidden", 5, "--epochs", 0, "--save", model)
    out = run("eval", model, "--data", folder, option, tmp_path / "no" / "x.png", code=2)
    assert f"Invalid value for {option}: folder" in out and "does not exist" in out
    assert "--plot" not in out and "Traceback" not in out


@pytest.mark.parametrize("option", ["--errors", "--confusion"])
def test_a_drawing_without_matplotlib_names_its_own_option(tmp_path, monkeypatch, option):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    out = run("eval", tmp_path / "m.npz", option, tmp_path / "x.png", code=2)
    assert f"{option} needs matplotlib" in out and "--plot" not in out


def test_predict_has_a_one_line_summary_in_the_command_list():
    listed = {line.split()[0]: line for line in run("--help").splitlines()
              if line.startswith("  ") and line.split() and not line.lstrip().startswith("-")}
    assert listed["predict"].split(None, 1)[1].startswith("The digit in each image")
    assert "MODEL..." not in listed["predict"]
    assert "predict [OPTIONS] MODEL... IMAGE..." in run("predict", "--help")
    assert "Missing argument 'MODEL... IMAGE...'" in run("predict", code=2)


def test_a_layers_item_it_cannot_read_names_the_forms_as_they_are_written():
    out = run("train", "--layers", "conv20x5,pool2,fc100,bogus", code=2)
    assert "is not convNxK, poolK, fcN or softmax" in out and "convN xK" not in out
