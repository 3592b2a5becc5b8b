"""nnfast.plotting draws what it is given, on axes a reader can trust; its figures are read back here."""

import functools
import random
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")  # the [plot] extra, which the test extra installs

from nnfast import network, network2, network3, plotting  # noqa: E402
from tests.conftest import synthetic_digits  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_epoch_axis_has_whole_ticks_only(tmp_path, monkeypatch):
    import matplotlib.figure

    seen = []
    real_savefig = matplotlib.figure.Figure.savefig

    def keep_ticks(fig, *args, **kw):
        real_savefig(fig, *args, **kw)  # draw first: the locator picks the ticks as it draws
        seen.extend(t for ax in fig.axes for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1])
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep_ticks)
    history = [{"epoch": j, "accuracy": 0.5 + 0.1 * j} for j in range(3)]  # 3 epochs: matplotlib would put 0.5s
    plotting.plot_history(history, str(tmp_path / "c.png"), "t")
    assert seen and all(float(t).is_integer() for t in seen)
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- figures for notebooks: what each shows is read back from the figure -----------------------------------

def _lines(ax):
    return {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}


@functools.lru_cache(maxsize=None)  # trained once per form; the tests only read the net
def _trained_network2(monitor=True):
    """A small net; unmonitored, it is trained too little to get every test image right."""
    training, test = synthetic_digits(200, seed=4)
    random.seed(4)
    np.random.seed(4)
    net = network2.Network([784, 12, 10], cost=network2.CrossEntropyCost)
    results = net.SGD(training, 3 if monitor else 1, 10, 0.5 if monitor else 0.02, lmbda=1.0, evaluation_data=test, monitor_evaluation_accuracy=True,
                      monitor_training_cost=monitor, monitor_evaluation_cost=monitor,
                      monitor_training_accuracy=monitor)
    return net, training, test, results


def test_learning_curves_draw_what_network2_sgd_returned(capsys):
    net, training, test, (e_cost, e_acc, t_cost, t_acc) = _trained_network2()
    fig = plotting.learning_curves((e_cost, e_acc, t_cost, t_acc), evaluation_total=len(test),
                                   training_total=len(training))
    accuracy, cost = fig.axes
    assert (accuracy.get_title(), cost.get_title()) == ("Accuracy per epoch", "Cost per epoch")
    assert accuracy.get_ylabel() == "accuracy (%)" and accuracy.get_xlabel() == "epoch"
    np.testing.assert_allclose(_lines(accuracy)["evaluation data"], [100 * a / len(test) for a in e_acc])
    np.testing.assert_allclose(_lines(accuracy)["training data"], [100 * a / len(training) for a in t_acc])
    np.testing.assert_allclose(_lines(cost)["evaluation data"], e_cost)
    np.testing.assert_allclose(_lines(cost)["training data"], t_cost)
    assert list(accuracy.get_lines()[0].get_xdata()) == [0, 1, 2]
    # without the totals the accuracies stay the counts the book prints
    counts = plotting.learning_curves((e_cost, e_acc, t_cost, t_acc)).axes[0]
    assert counts.get_ylabel() == "correct (count)" and _lines(counts)["evaluation data"] == e_acc


def test_learning_curves_of_train_epochs_and_of_records():
    training, test = synthetic_digits(200, seed=5)
    random.seed(5)
    np.random.seed(5)
    results = list(network.Network([784, 12, 10]).train_epochs(training, 3, 10, 3.0, test))
    (ax,) = plotting.learning_curves(results).axes  # chapter 1: accuracy only, so one panel
    assert _lines(ax)["evaluation data"] == [100 * r.correct / r.total for r in results]
    records = [{"epoch": 4, "accuracy": 0.5, "training_cost": 0.3}, {"epoch": 5, "accuracy": 0.75}]
    accuracy, cost = plotting.learning_curves(records, title="run 7").axes
    assert _lines(accuracy)["evaluation data"] == [50.0, 75.0] and _lines(cost)["training data"] == [0.3]
    assert list(cost.get_lines()[0].get_xdata()) == [4]  # each value at its own epoch
    assert accuracy.figure.texts[0].get_text() == "run 7"


def test_learning_curves_say_what_is_wrong_with_their_input():
    with pytest.raises(ValueError, match="nothing to draw"):
        plotting.learning_curves(([], [], [], []))
    with pytest.raises(TypeError, match="SGD return value"):
        plotting.learning_curves([1, 2, 3])


def test_mistakes_shows_each_misclassified_image_with_its_classes():
    net, _, test, _ = _trained_network2(monitor=False)
    wrong = [(x, y, int(np.argmax(net.feedforward(x)))) for x, y in test if np.argmax(net.feedforward(x)) != y]
    assert len(test) - net.accuracy(test) == len(wrong) > 3  # the twin of the figure's count: the book's loop
    fig = plotting.mistakes(net, test, count=3)
    tiles = [ax for ax in fig.axes if ax.images]
    assert len(tiles) == 3
    for ax, (x, y, p) in zip(tiles, wrong):
        np.testing.assert_array_equal(ax.images[0].get_array(), x.reshape(28, 28))
        assert ax.get_title() == f"{y} -> {p}"
    assert f"{len(wrong)} of {len(test)} misclassified, the first 3 shown" in fig.texts[0].get_text()
    everything = plotting.mistakes(net, test)
    assert sum(bool(ax.images) for ax in everything.axes) == min(36, len(wrong))


def test_mistakes_draws_what_a_learners_feedforward_says():
    net, _, test, _ = _trained_network2(monitor=False)

    class Backwards(network2.Network):  # a learner's change: the outputs upside down
        def feedforward(self, a):
            return super().feedforward(a)[::-1]
    changed = Backwards([784, 12, 10])
    changed.weights, changed.biases = net.weights, net.biases
    want = [(y, 9 - int(np.argmax(net.feedforward(x)))) for x, y in test]
    want = [f"{y} -> {p}" for y, p in want if y != p][:36]
    got = [ax.get_title() for ax in plotting.mistakes(changed, test).axes if ax.images]
    assert got == want


def test_confusion_heatmap_holds_the_counts_for_every_form_of_data():
    net, training, test, _ = _trained_network2(monitor=False)
    want = np.zeros((10, 10), dtype=int)
    for x, y in test:
        want[y, int(np.argmax(net.feedforward(x)))] += 1
    for data in (test, (np.stack([x.ravel() for x, _ in test]), np.array([y for _, y in test]))):
        ax = plotting.confusion(net, data).axes[0]
        np.testing.assert_array_equal(ax.images[0].get_array(), want)
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
        assert ax.get_title() == f"Network([784, 12, 10], cost=CrossEntropyCost) on {len(test)} images"
    one_hot = plotting.confusion(net, training[:50]).axes[0].images[0].get_array()  # training data's labels
    assert one_hot.sum() == 50 and np.trace(one_hot) == sum(
        int(np.argmax(net.feedforward(x)) == np.argmax(y)) for x, y in training[:50])


def test_a_network3_net_and_its_data_pair():
    np.random.seed(2)
    net = network3.Network([network3.FullyConnectedLayer(784, 20), network3.SoftmaxLayer(20, 10)], 10)
    net.layers[-1].w = np.random.normal(size=(20, 10)).astype(np.float32)
    rng = np.random.default_rng(2)
    X, y = rng.random((60, 784)).astype(np.float32), rng.integers(0, 10, 60)
    got = plotting.confusion(net, (X, y)).axes[0].images[0].get_array()
    want = np.zeros((10, 10), dtype=int)
    np.add.at(want, (y, np.argmax(net.feedforward(X), axis=1)), 1)
    np.testing.assert_array_equal(got, want)
    assert "Network of 2 layers on 60 images" in plotting.mistakes(net, (X, y)).texts[0].get_text()


def test_bad_data_is_one_clear_message():
    net, _, test, _ = _trained_network2(monitor=False)
    with pytest.raises(ValueError, match=r"expected \(n, 784\) and \(n,\)"):
        plotting.confusion(net, (np.zeros((5, 100)), np.zeros(5, dtype=int)))
    with pytest.raises(ValueError, match="labels run from 0 to 12"):
        plotting.mistakes(net, (np.zeros((2, 784)), np.array([0, 12])))
    with pytest.raises(TypeError, match="expected a network"):
        plotting.mistakes(object(), test)


def test_figures_show_themselves_in_a_notebook_and_save_anywhere(tmp_path):
    net, _, test, _ = _trained_network2(monitor=False)
    fig = plotting.confusion(net, test)
    assert fig._repr_png_()[:8] == PNG  # what Jupyter calls to show an object inline
    fig.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG


def test_drawing_leaves_pyplot_and_the_backend_alone():
    # a notebook's inline backend must survive: no matplotlib.use, no figure in pyplot's list
    code = """if 1:
        import sys, matplotlib
        matplotlib.rcParams["backend"] = "svg"
        import numpy as np
        from nnfast import plotting
        plotting.confusion_figure(np.eye(3, dtype=int) * 5).savefig(sys.argv[1])
        plotting.mistakes_figure(np.zeros((2, 784)), [0, 1], [1, 1])
        plotting.learning_curves([{"epoch": 0, "accuracy": 0.5}])
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        assert matplotlib.rcParams["backend"] == "svg", matplotlib.rcParams["backend"]
    """
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run([sys.executable, "-c", code, f"{folder}/c.png"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert open(f"{folder}/c.png", "rb").read(8) == PNG


# -- a sweep's picture: every point told apart -------------------------------------------------------------

def _sweep_records(space, points, pruned=()):
    from nnfast.sweep import space as sweep_space
    from nnfast.sweep.study import TrialRecord
    rng = np.random.default_rng(0)
    records = [TrialRecord(i, sweep_space.as_json(p), "pruned" if i in pruned else "complete",
                           float(rng.uniform(0.8, 0.95))) for i, p in enumerate(points)]
    return sorted(records, key=lambda r: -r.validation_accuracy)


def test_a_sweep_over_two_grids_is_a_heatmap_of_its_accuracies():
    from nnfast.sweep import space as sweep_space
    space = sweep_space.parse({"eta": "0.5,1,3", "hidden": "30,100-30"})
    records = _sweep_records(space, space.grid(), pruned={4})
    ax = plotting.sweep_figure(records, space).axes[0]
    shown = ax.images[0].get_array()
    assert shown.shape == (2, 3)  # rows: --hidden, columns: --eta
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("--hidden", "--eta")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["30", "100-30"]
    for r in records:
        i = ["30", "100-30"].index("-".join(map(str, r.params["hidden"])))
        j = [0.5, 1.0, 3.0].index(r.params["eta"])
        if r.state == "pruned":  # its accuracy when stopped is written, not coloured as the point's result
            assert shown.mask[i, j] and any("pruned" in t.get_text() for t in ax.texts)
        else:
            assert shown[i, j] == pytest.approx(100 * r.validation_accuracy)
            assert f"{100 * r.validation_accuracy:.2f}%" in [t.get_text() for t in ax.texts]


def test_a_sweep_with_a_range_colours_each_panel_by_the_other_parameter():
    from nnfast.sweep import space as sweep_space
    space = sweep_space.parse({"eta": "0.1:10:log", "hidden": "30,100"})
    fixed = {p.name: p.values[0] for p in space.params if not p.is_swept}
    points = [{**fixed, "eta": 0.1 * 1.5 ** i, "hidden": (30, 100)[i % 2]} for i in range(8)]
    fig = plotting.sweep_figure(_sweep_records(space, points, pruned={3}), space)
    by_hidden, by_eta = fig.axes[:2]  # the panels, then the colour bar
    assert by_hidden.get_xlabel() == "--hidden" and by_eta.get_xlabel() == "--eta" and by_eta.get_xscale() == "log"
    assert [ax.get_title() for ax in fig.axes[2:]] == ["--eta"]  # the hidden panel's points coloured by eta
    colours = np.concatenate([c.get_array() for c in by_hidden.collections])
    assert sorted(colours) == pytest.approx(sorted(p["eta"] for p in points))
    labels = [t.get_text() for t in by_eta.get_legend().get_texts()]  # the eta panel's: a colour per width
    assert labels == ["--hidden 30", "--hidden 100", "--hidden 100 (pruned)"]  # trial 3 (pruned) has 100
    assert sum(len(c.get_offsets()) for c in by_eta.collections) == len(points)
