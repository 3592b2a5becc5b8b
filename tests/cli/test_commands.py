"""The nnfast command line, as a user runs it: every command and option, in-process and as a real process."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from nnfast import mnist_loader, network
from nnfast.cli import main

pytestmark = pytest.mark.network  # these use the real MNIST (fetched once per session)

EPOCH_LINE = re.compile(r"^Epoch (\d+): (\d+) / (\d+)  \(\d+\.\d\d s\)$")


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def epoch_lines(output):
    return [line for line in output.splitlines() if line.startswith("Epoch")]


@pytest.fixture(scope="module")
def trained(mnist_home, tmp_path_factory):
    """A 784-30-10 model trained 3 epochs with a seed, and what `train` printed."""
    path = tmp_path_factory.mktemp("model") / "net.npz"
    result = run("train", "--epochs", 3, "--seed", 7, "--save", path)
    return path, result.stdout


def test_train_prints_the_books_lines_and_a_summary(trained):
    path, out = trained
    lines = epoch_lines(out)
    assert [EPOCH_LINE.match(line).group(1) for line in lines] == ["0", "1", "2"]
    assert all(EPOCH_LINE.match(line).group(3) == "10000" for line in lines)
    assert re.search(r"Done: best epoch \d: \d+ / 10000 .*compile [\d.]+ s", out)
    correct = int(EPOCH_LINE.match(lines[-1]).group(2))
    assert correct > 8500  # it learned: the book reaches ~93% after a few epochs


def test_saved_model_keeps_its_metadata(trained):
    path, out = trained
    net = network.load(path)
    assert net.sizes == [784, 30, 10] and net.dtype == np.float64
    meta = net.metadata
    assert meta["epochs_done"] == 3 and meta["training"]["eta"] == 3.0 and meta["training"]["batch_size"] == 10
    assert [r["correct"] for r in meta["history"]] == [int(EPOCH_LINE.match(x).group(2)) for x in epoch_lines(out)]
    assert meta["nnfast_version"]


def test_eval_counts_what_train_printed(trained):
    path, out = trained
    last = int(EPOCH_LINE.match(epoch_lines(out)[-1]).group(2))
    result = run("eval", path)
    assert f"Accuracy: {last} / 10000" in result.stdout
    assert "Confusion matrix" in result.stdout and "precision" in result.stdout
    report = json.loads(run("eval", path, "--json").stdout)
    assert report["correct"] == last
    confusion = np.array(report["confusion"])
    assert confusion.sum() == 10000 and np.trace(confusion) == last
    recall_0 = report["per_digit"][0]["recall"]
    assert recall_0 == pytest.approx(confusion[0, 0] / confusion[0].sum())


def test_same_seed_same_run(mnist_home):
    a = run("train", "--epochs", 1, "--seed", 11, "--hidden", 12).stdout
    b = run("train", "--epochs", 1, "--seed", 11, "--hidden", 12).stdout
    strip = [re.sub(r"  \(.*", "", x) for x in epoch_lines(a)]
    assert strip == [re.sub(r"  \(.*", "", x) for x in epoch_lines(b)]


@pytest.mark.parametrize("args,sizes,dtype", [
    (["--hidden", "20"], [784, 20, 10], "float64"),
    (["--hidden", "16,12"], [784, 16, 12, 10], "float64"),
    (["--sizes", "784,24,10", "--dtype", "float32"], [784, 24, 10], "float32"),
    (["--batch-size", "50", "--eta", "1.5", "--eval-on", "validation"], [784, 30, 10], "float64"),
])
def test_train_options(mnist_home, tmp_path, args, sizes, dtype):
    path = tmp_path / "m.npz"
    out = run("train", "--epochs", 1, "--seed", 2, "--save", path, *args).stdout
    assert len(epoch_lines(out)) == 1
    net = network.load(path)
    assert net.sizes == sizes and net.dtype.name == dtype
    training = net.metadata["training"]
    if "--eval-on" in args:
        assert training["eval_on"] == "validation" and training["batch_size"] == 50 and training["eta"] == 1.5
        count = int(EPOCH_LINE.match(epoch_lines(out)[0]).group(2))
        assert f"Accuracy: {count} / 10000" in run("eval", path, "--on", "validation").stdout


def test_train_json_is_one_record_per_epoch(mnist_home):
    out = run("train", "--epochs", 2, "--seed", 1, "--hidden", 10, "--json").stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["epoch"] for r in records[:2]] == [0, 1]
    assert records[0]["total"] == 10000 and 0 <= records[0]["accuracy"] <= 1
    assert "summary" in records[2] and records[2]["summary"]["compile_seconds"] >= 0


def test_train_with_data_path(mnist_home, tmp_path):
    from nnfast import datasets
    out = run("train", "--epochs", 1, "--seed", 1, "--hidden", 10, "--data", datasets.cache_file()).stdout
    assert len(epoch_lines(out)) == 1


def test_epochs_zero_trains_nothing(mnist_home):
    out = run("train", "--epochs", 0, "--hidden", 10).stdout
    assert epoch_lines(out) == [] and "Done:" in out


def _paper_image(digit28, rng, path):
    """An MNIST digit as dark ink on light, slightly noisy paper, 4x larger, off-centre."""
    ink = Image.fromarray(255 - digit28).resize((112, 112), Image.BILINEAR)
    h, w = 220, 180
    canvas = np.full((h, w), 232.0) + rng.normal(0, 5, (h, w))
    top, left = rng.integers(0, h - 112), rng.integers(0, w - 112)
    patch = np.asarray(ink, dtype=float) * 232 / 255 + rng.normal(0, 5, (112, 112))
    canvas[top:top + 112, left:left + 112] = np.minimum(canvas[top:top + 112, left:left + 112], patch)
    Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).save(path)


def test_predict_reads_digits_on_paper(trained, tmp_path):
    path, _ = trained
    _, _, (X, y) = mnist_loader.load_data()
    rng = np.random.default_rng(0)
    files, labels = [], []
    for i in range(0, 2000, 20):  # 100 test digits
        digit = np.round(X[i].reshape(28, 28) * 256).astype(np.uint8)
        f = tmp_path / f"digit{i}.png"
        _paper_image(digit, rng, f)
        files.append(str(f))
        labels.append(int(y[i]))
    out = run("predict", path, *files, "--json").stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["image"] for r in records] == files
    correct = sum(r["digit"] == label for r, label in zip(records, labels))
    assert correct >= 90, f"{correct} / 100 photographed digits read correctly"
    text = run("predict", path, files[0]).stdout
    assert re.match(rf"^{re.escape(files[0])}: (\d|not sure \(best guess \d\))  \(output \d\.\d\d\)$", text.strip())
    for r in records:  # the output is the winning unit's own activation, not a share of the sum
        assert r["output"] == round(max(r["outputs"]), 4) and r["runner_up"] != r["digit"]


def test_predict_accepts_mnist_style_images(trained, tmp_path):
    path, _ = trained
    _, _, (X, y) = mnist_loader.load_data()
    files = []
    for i in range(30):
        f = tmp_path / f"m{i}.png"
        Image.fromarray(np.round(X[i].reshape(28, 28) * 256).astype(np.uint8)).save(f)
        files.append(str(f))
    records = [json.loads(x) for x in run("predict", path, *files, "--json").stdout.splitlines()]
    assert sum(r["digit"] == int(y[i]) for i, r in enumerate(records)) >= 27


def test_data_commands(mnist_home):
    from nnfast import datasets
    assert run("data", "path").stdout.strip() == datasets.cache_file()
    info = run("data", "info").stdout
    assert "verified" in info and "60,000 training" in info and "10,000 test" in info
    assert "verified" in run("data", "verify").stdout
    assert "Already cached" in run("data", "fetch").stdout


def test_data_verify_fails_on_a_corrupt_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_HOME", str(tmp_path))
    (tmp_path / "mnist-uint8.npz").write_bytes(b"PK\x03\x04 not really")
    result = CliRunner().invoke(main, ["data", "verify"])
    assert result.exit_code == 1 and "damaged" in result.output and "Traceback" not in result.output
    assert "INVALID" in run("data", "info").stdout


def test_every_command_has_help_with_an_example():
    for cmd in (["train"], ["eval"], ["predict"], ["data"], ["data", "fetch"], ["data", "info"],
                ["data", "path"], ["data", "verify"], []):
        out = run(*cmd, "--help").stdout
        assert "Usage:" in out
        if cmd in (["train"], ["eval"], ["predict"], ["data"], []):
            assert "Example" in out


def _cli(*args, env=None, python_m=False):
    exe = [sys.executable, "-m", "nnfast"] if python_m else [os.path.join(os.path.dirname(sys.executable), "nnfast")]
    return subprocess.run(exe + [str(a) for a in args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_installed_script_and_python_m(mnist_home, tmp_path):
    for python_m in (False, True):
        version = _cli("--version", python_m=python_m)
        assert version.returncode == 0 and "nnfast" in version.stdout
        done = _cli("train", "--epochs", 1, "--hidden", 10, "--seed", 4, "--save", tmp_path / "m.npz",
                    python_m=python_m)
        assert done.returncode == 0, done.stderr
        assert EPOCH_LINE.match(epoch_lines(done.stdout)[0])
        assert "Training 784-10-10" in done.stderr


def test_ctrl_c_in_any_command_exits_130_without_a_traceback(monkeypatch):
    from nnfast import datasets

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets, "verify_cache", interrupted)
    result = CliRunner().invoke(main, ["data", "verify"])
    assert result.exit_code == 130 and "Interrupted." in result.output and "Traceback" not in result.output


def test_small_edges_get_one_consistent_message(mnist_home, tmp_path, monkeypatch):
    out = CliRunner().invoke(main, ["train", "--epochs", 1, "--hidden", 5, "--batch-size", 100000])
    assert out.exit_code == 0 and "note: --batch-size 100000 is more than the 50,000 training images" in out.output
    big_seed = CliRunner().invoke(main, ["train", "--seed", str(2**32)])
    assert big_seed.exit_code == 2 and "--seed" in big_seed.output and "Traceback" not in big_seed.output
    missing = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "none.npz")])
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    damaged = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "bad.npz")])
    assert missing.exit_code == damaged.exit_code == 1
    assert all(line.startswith("Error:") for line in missing.output.splitlines() + damaged.output.splitlines())
    run("train", "--epochs", 1, "--hidden", 8, "--save", tmp_path / "m.npz")
    changed = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "m.npz"), "--hidden", "9",
                                        "--epochs", 2])
    assert changed.exit_code == 1 and "--hidden 9 differs from the model's 8" in changed.output
    monkeypatch.setenv("NNFAST_HOME", str(tmp_path / "bad.npz"))  # a file, not a folder
    monkeypatch.setenv("NNFAST_MNIST_MIRRORS", "http://127.0.0.1:9/")
    home = CliRunner().invoke(main, ["data", "fetch"])
    assert home.exit_code == 1 and "NNFAST_HOME" in home.output and "Fetching" not in home.output


def test_a_net_too_big_for_the_machine_is_refused_before_anything_is_allocated(mnist_home, tmp_path):
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = run("train", "--hidden", 100_000_000, "--epochs", 1, "--save", tmp_path / "m.npz", code=1).output
    assert re.search(r"784-100000000-10 network needs about [\d,.]+ GB of memory .* GB is available", out)
    assert "Traceback" not in out and not (tmp_path / "m.npz").exists()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 2_000_000  # KB: nothing of its size drawn


def test_a_big_net_says_what_it_will_use(mnist_home, monkeypatch):
    from nnfast.runs import train as train_run
    monkeypatch.setattr(train_run, "BIG_NET_BYTES", 1)
    out = run("train", "--hidden", 20, "--epochs", 1).output
    assert re.search(r"note: a 784-20-10 network has 15,910 weights and biases and needs about [\d.]+ GB", out)


def test_big_layers_are_drawn_in_blocks_as_the_book_draws_them_whole(monkeypatch):
    from nnfast.engine import dense
    np.random.seed(5)
    whole = network.Network([30, 41, 10])
    after_whole = np.random.randn(3)  # the stream goes on where the book's leaves it, spare Gaussian included
    monkeypatch.setattr(dense, "DRAW_BLOCK", 64)  # every layer drawn in several blocks
    np.random.seed(5)
    blocks = network.Network([30, 41, 10])
    for a, b in zip(whole.weights + whole.biases, blocks.weights + blocks.biases):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.random.randn(3), after_whole)


def test_predict_tells_a_blank_image_from_one_it_cannot_read(trained, tmp_path):
    path, _ = trained
    Image.fromarray(np.full((60, 60), 230, np.uint8)).save(tmp_path / "blank.png")
    (tmp_path / "text.png").write_text("not an image")
    digit = np.full((60, 60), 230, np.uint8)
    digit[10:50, 28:33] = 20
    Image.fromarray(digit).save(tmp_path / "one.png")
    result = run("predict", path, tmp_path / "one.png", tmp_path / "blank.png", tmp_path / "text.png", code=1)
    assert "one.png: " in result.stdout
    assert "of 3 images, 1 could not be read and 1 held no digit (blank)" in result.output


def test_data_info_describes_the_cache_and_a_path_alike(mnist_home):
    from nnfast import datasets
    cache = run("data", "info").stdout.splitlines()
    named = run("data", "info", datasets.cache_file()).stdout.splitlines()
    assert [line.split(":")[0] for line in cache] == [line.split(":")[0] for line in named]
    assert [line for line in cache if not line.startswith("status")] == \
           [line for line in named if not line.startswith("status")]


def test_eval_draws_the_mistakes_and_the_confusion_matrix(trained, tmp_path):
    pytest.importorskip("matplotlib")
    path, _ = trained
    out = run("eval", path, "--errors", tmp_path / "e.png", "--errors-count", 4, "--confusion", tmp_path / "c.png",
              "--json")
    report = json.loads(out.stdout)
    assert "Misclassified images drawn in" in out.output and "Confusion matrix drawn in" in out.output
    few = np.asarray(Image.open(tmp_path / "e.png").convert("L"))
    run("eval", path, "--errors", tmp_path / "e36.png")
    many = np.asarray(Image.open(tmp_path / "e36.png").convert("L"))
    assert few.shape[0] < many.shape[0] and few.shape[1] < many.shape[1]  # 4 tiles in a row, then 4 rows of 9
    assert (many < 60).mean() > 0.02  # digits' ink (dark on white), not an empty figure
    heat = np.asarray(Image.open(tmp_path / "c.png").convert("RGB")).astype(int)
    blue = (heat[..., 2] - heat[..., 0] > 60).mean()
    assert blue > 0.05 and report["total"] - report["correct"] > 0  # the diagonal and the mistakes in colour


def test_eval_refuses_a_png_path_it_could_not_write_before_evaluating(trained, tmp_path):
    pytest.importorskip("matplotlib")
    path, _ = trained
    out = run("eval", path, "--errors", tmp_path / "no" / "e.png", code=2).output
    assert "does not exist" in out and "Accuracy" not in out
