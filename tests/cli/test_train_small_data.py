"""nnfast train on a small dataset of one's own: what it holds out for validation is said, never silent."""

from click.testing import CliRunner

from nnfast.cli import main
from mnist_fixtures import small_digits, write_idx_folder


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_a_small_dataset_says_how_many_images_it_holds_out(tmp_path):
    write_idx_folder(tmp_path / "d", small_digits(600, 60))
    out = run("train", "--data", tmp_path / "d", "--hidden", 5, "--epochs", 1)
    assert "has 600 training images; the last 100 (a sixth) are held out for validation" in out
    out = run("train", "--data", tmp_path / "d", "--hidden", 5, "--epochs", 1, "--validation", 50)
    assert "held out" not in out


def test_evaluating_on_an_empty_validation_set_is_refused(tmp_path):
    write_idx_folder(tmp_path / "d", small_digits(600, 60))
    out = run("train", "--data", tmp_path / "d", "--hidden", 5, "--epochs", 1, "--validation", 0,
              "--eval-on", "validation", code=1)
    assert "--validation 0 holds out no images" in out and "Traceback" not in out
