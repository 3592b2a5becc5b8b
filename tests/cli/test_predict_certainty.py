"""One certainty everywhere: `nnfast predict` shows the winning output unit's activation ("output"), the same figure
the draw page shows, and says "not sure" unless exactly one output is above 0.5."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from nnfast import network, network3
from nnfast.cli import main
from nnfast.runs.inference import SURE, certainty


def _net_saying(path, outputs):
    """A chapter 1 net whose outputs are ``outputs`` whatever the image: zero weights, the output biases set."""
    net = network.Network([784, 4, 10])
    net.weights = [np.zeros_like(w) for w in net.weights]
    out = np.asarray(outputs, dtype=np.float64)
    net.biases[-1] = np.log(out / (1 - out)).reshape(10, 1)  # sigmoid(b) = out
    net.save(path)
    return path


def _digit(path):
    img = np.full((120, 100), 230, np.uint8)
    img[20:100, 45:55] = 30
    Image.fromarray(img).save(path)
    return str(path)


def _predict(*args):
    result = CliRunner().invoke(main, ["predict", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip()


LOW = [0.02] * 10


@pytest.mark.parametrize("outputs, shown, sure", [
    (LOW[:3] + [0.97] + LOW[4:], "3  (output 0.97)", True),                         # one unit says yes
    (LOW[:5] + [0.14] + LOW[6:], "not sure (best guess 5)  (output 0.14)", False),  # every unit low
    (LOW[:4] + [0.9, 0.05, 0.05, 0.05, 0.05, 0.8], "not sure (best guess 4)  (output 0.90)", False),  # two say yes
])
def test_predict_names_the_output_and_says_when_it_is_not_sure(tmp_path, outputs, shown, sure):
    model = _net_saying(tmp_path / "net.npz", outputs)
    image = _digit(tmp_path / "d.png")
    assert _predict(model, image) == f"{image}: {shown}"
    record = json.loads(_predict(model, image, "--json"))
    best = int(np.argmax(outputs))
    assert record["digit"] == best and record["sure"] is sure
    assert record["output"] == round(outputs[best], 4) == round(max(record["outputs"]), 4)
    assert "confidence" not in record  # one name for one measure


def test_a_vote_shows_the_same_output_and_certainty(tmp_path):
    sure = _net_saying(tmp_path / "a.npz", LOW[:7] + [0.95] + LOW[8:])
    unsure = _net_saying(tmp_path / "b.npz", LOW[:7] + [0.3] + LOW[8:])
    image = _digit(tmp_path / "d.png")
    assert _predict(sure, unsure, image) == f"{image}: 7  (votes 2 of 2; output 0.95)"  # the first voter speaks
    assert _predict(unsure, sure, image) == f"{image}: not sure (best guess 7)  (votes 2 of 2; output 0.30)"


def test_a_softmax_net_is_sure_when_one_class_outweighs_all_the_others():
    assert certainty([0.6, 0.3, 0.1]) == (0, 0.6, True)
    assert certainty([0.45, 0.35, 0.2])[2] is False  # the best guess, but less likely than the rest together
    assert certainty(np.array([[0.1], [0.7]]))[:2] == (1, 0.7)  # a (classes, 1) column as the book's nets give
    assert SURE == 0.5


def test_a_chapter_6_model_is_judged_by_its_softmax_probability(tmp_path):
    np.random.seed(0)
    net = network3.Network([network3.FullyConnectedLayer(784, 4), network3.SoftmaxLayer(4, 10)], 10)
    net.layers[1].w[...] = 0
    net.layers[1].b[...] = np.log([1, 1, 1, 1, 1, 1, 1, 1, 1, 12.0])  # softmax: 12/21 = 0.571 for class 9
    net.save(tmp_path / "c6.npz")
    image = _digit(tmp_path / "d.png")
    assert _predict(tmp_path / "c6.npz", image) == f"{image}: 9  (output 0.57)"
