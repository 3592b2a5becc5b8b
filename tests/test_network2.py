"""nnfast.network2 against nnfast.twins.network2 (the book's chapter 3 per-sample algorithm) and against calculus."""

import json
import random
import re

import numpy as np
import pytest

from nnfast import models, network2
from nnfast.runs import inference
from nnfast.twins import network2 as reference2
from conftest import synthetic_digits

COSTS = ["QuadraticCost", "CrossEntropyCost"]


def twins(sizes, cost="CrossEntropyCost", seed=7, large=False, dtype=np.float64):
    """(nnfast network2, reference2 network) drawn from the same seed, with the same cost."""
    nets = []
    for mod, kw in ((network2, {"dtype": dtype}), (reference2, {})):
        np.random.seed(seed)
        net = mod.Network(sizes, cost=getattr(mod, cost), **kw)
        if large:
            net.large_weight_initializer()
        nets.append(net)
    return tuple(nets)


def params(net):
    return list(net.weights) + list(net.biases)


def max_rel_diff(arrays, expected):
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) for a, b in zip(arrays, expected))


def one_hot_batch(rng, n_in, n_out, m):
    return [(rng.random((n_in, 1)), np.eye(n_out)[:, [rng.integers(n_out)]]) for _ in range(m)]


def hard_digits(n, n_in=64, seed=0):
    """Synthetic digits with faint patterns: accuracy is well below 100%, so it moves between epochs."""
    training, test = synthetic_digits(n, n_in=n_in, seed=seed)
    rng = np.random.default_rng(seed + 100)

    def blur(x):
        return np.floor(np.clip(0.35 * x + 0.65 * rng.random(x.shape), 0, 255 / 256) * 256).astype(np.float32) / 256
    return [(blur(x), y) for x, y in training], [(blur(x), y) for x, y in test]


@pytest.mark.parametrize("large", [False, True])
def test_initial_weights_are_the_books_for_both_initialisers(large):
    fast, ref = twins([784, 30, 10], large=large)
    for a, b in zip(params(fast), params(ref)):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    scale = np.std(fast.weights[0])
    assert (0.8 < scale < 1.2) if large else (0.8 / 28 < scale < 1.2 / 28)  # 1/sqrt(784) = 1/28


@pytest.mark.parametrize("cost", COSTS)
def test_backprop_of_one_sample_equals_the_twin(cost):
    fast, ref = twins([784, 30, 10], cost=cost)
    x, y = one_hot_batch(np.random.default_rng(1), 784, 10, 1)[0]
    nb, nw = fast.backprop(x, y)
    rb, rw = ref.backprop(x, y)
    assert max_rel_diff(nb + nw, rb + rw) < 1e-12


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("sizes,m", [([784, 30, 10], 10), ([50, 20, 12, 10], 7)])
@pytest.mark.parametrize("steps", [1, 50])
def test_update_mini_batch_with_l2_tracks_the_twin(cost, sizes, m, steps):
    fast, ref = twins(sizes, cost=cost)
    rng = np.random.default_rng(3)
    for _ in range(steps):
        batch = one_hot_batch(rng, sizes[0], sizes[-1], m)
        fast.update_mini_batch(batch, 0.5, 5.0, 1000)
        ref.update_mini_batch(batch, 0.5, 5.0, 1000)
    assert max_rel_diff(params(fast), params(ref)) <= 1e-9


def test_l2_decays_weights_and_not_biases():
    fast, _ = twins([4, 3, 2])
    before = [p.copy() for p in params(fast)]
    batch = [(np.zeros((4, 1)), np.zeros((2, 1)))]  # zero input: no weight gradient at all
    fast.update_mini_batch(batch, 0.5, 10.0, 20)  # decay 1 - 0.5 * 10 / 20 = 0.75
    np.testing.assert_allclose(fast.weights[0], 0.75 * before[0], rtol=1e-15)
    assert not np.allclose(fast.biases[-1], before[-1])  # biases move by their gradient only ...
    fast2, _ = twins([4, 3, 2])
    fast2.update_mini_batch(batch, 0.5, 0.0, 20)
    np.testing.assert_array_equal(fast.biases[-1], fast2.biases[-1])  # ... the same with or without L2


def _split_costs(text):
    """(text with every number after 'Cost on ...: ' replaced by COST, the list of those numbers)."""
    numbers = [float(v) for v in re.findall(r"Cost on \w+ data: (\S+)", text)]
    return re.sub(r"(Cost on \w+ data: )\S+", r"\1COST", text), numbers


@pytest.mark.parametrize("cost", COSTS)
def test_sgd_with_every_monitor_prints_and_returns_what_the_twin_does(cost, capsys):
    training, test = hard_digits(503)  # 503 % 10 != 0: a short last batch
    results, outputs, orders = [], [], []
    for net in twins([64, 16, 10], cost=cost, large=True):
        data = list(training)
        random.seed(99)
        results.append(net.SGD(data, 3, 10, 0.5, lmbda=5.0, evaluation_data=test,
                               monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                               monitor_training_cost=True, monitor_training_accuracy=True))
        outputs.append(_split_costs(capsys.readouterr().out))
        orders.append([id(x) for x, _ in data])
    (fast_text, fast_costs), (ref_text, ref_costs) = outputs
    assert fast_text == ref_text
    assert fast_text.startswith("Epoch 0 training complete\nCost on training data: COST\n"
                                "Accuracy on training data: ") and fast_text.endswith(" / 100\n\n")
    np.testing.assert_allclose(fast_costs, ref_costs, rtol=1e-9)
    assert len(fast_costs) == 6
    assert orders[0] == orders[1] != [id(x) for x, _ in training]
    (ec, ea, tc, ta), (rec, rea, rtc, rta) = results
    assert ea == rea and ta == rta and all(isinstance(v, int) for v in ea + ta)
    np.testing.assert_allclose(ec + tc, rec + rtc, rtol=1e-9)
    assert 0 < min(ea) and max(ea) < 100  # the figures compared were not saturated ones


def test_sgd_returns_empty_lists_where_not_monitored(capsys):
    training, test = hard_digits(50)
    fast, _ = twins([64, 8, 10])
    result = fast.SGD(training, 2, 10, 0.5, evaluation_data=test, monitor_evaluation_accuracy=True)
    assert result[0] == [] and len(result[1]) == 2 and result[2] == [] and result[3] == []
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 0 training complete", f"Accuracy on evaluation data: {result[1][0]} / 10", "",
        "Epoch 1 training complete", f"Accuracy on evaluation data: {result[1][1]} / 10", ""]


def test_early_stopping_stops_at_the_twins_epoch(capsys):
    training, test = hard_digits(300, seed=3)
    results = []
    for net in twins([64, 10, 10], large=True):
        random.seed(5)
        results.append(net.SGD(list(training), 40, 10, 4.0, evaluation_data=test,
                               monitor_evaluation_accuracy=True, early_stopping_n=2))
    capsys.readouterr()
    assert results[0] == results[1]
    assert len(results[0][1]) < 40  # it did stop early


def test_early_stopping_without_a_monitored_accuracy_says_what_to_monitor():
    training, _ = hard_digits(20)
    fast, _ = twins([64, 4, 10])
    with pytest.raises(ValueError, match="monitor_evaluation_accuracy"):
        fast.SGD(training, 2, 10, 0.5, early_stopping_n=3)
    with pytest.raises(ValueError, match="evaluation_data"):
        fast.SGD(training, 2, 10, 0.5, monitor_evaluation_cost=True)


@pytest.mark.parametrize("cost", COSTS)
def test_accuracy_and_total_cost_equal_the_twins(cost):
    training, test = hard_digits(120)
    fast, ref = twins([64, 12, 10], cost=cost, large=True)
    assert fast.accuracy(training, convert=True) == ref.accuracy(training, convert=True)
    assert fast.accuracy(test) == ref.accuracy(test)
    np.testing.assert_allclose(fast.total_cost(training, 3.0), ref.total_cost(training, 3.0), rtol=1e-12)
    np.testing.assert_allclose(fast.total_cost(test, 3.0, convert=True), ref.total_cost(test, 3.0, convert=True),
                               rtol=1e-12)


def test_cross_entropy_of_saturated_outputs_follows_the_books_nan_to_num():
    fast, ref = twins([1, 2], large=True)
    for net in (fast, ref):
        net.weights = [np.array([[1000.0], [-1000.0]])]
        net.biases = [np.zeros((2, 1))]
    data = [(np.array([[1.0]]), np.array([[1.0], [0.0]])),  # outputs exactly 1 and 0, right: cost 0
            (np.array([[1.0]]), np.array([[0.0], [1.0]]))]  # wrong: -log(0) is inf, nan_to_num makes it the max
    assert fast.total_cost(data[:1], 0.0) == ref.total_cost(data[:1], 0.0) == 0.0
    assert fast.total_cost(data[1:], 0.0) == ref.total_cost(data[1:], 0.0)
    assert np.isinf(fast.total_cost(data[1:], 0.0)) or fast.total_cost(data[1:], 0.0) > 1e300


def _total_cost(net, X, Y, lmbda, n):
    a = net.feedforward(X)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.sum(np.nan_to_num(-Y * np.log(a) - (1 - Y) * np.log(1 - a)))
    return c / n + 0.5 * (lmbda / n) * sum(float(np.sum(w * w)) for w in net.weights)


def test_gradient_of_cross_entropy_plus_l2_matches_finite_differences():
    np.random.seed(3)
    net = network2.Network([5, 4, 3, 2])
    rng = np.random.default_rng(10)
    X, Y = rng.random((5, 6)), np.eye(2)[:, rng.integers(0, 2, 6)]
    lmbda, n = 0.7, 6
    nb, nw = net.backprop(X, Y)
    analytic_w = [g / n + (lmbda / n) * w for g, w in zip(nw, net.weights)]  # d/dw of mean cost + L2 term
    analytic_b = [g / n for g in nb]
    eps = 1e-6
    for grads, arrays in ((analytic_w, net.weights), (analytic_b, net.biases)):
        for g, p in zip(grads, arrays):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = _total_cost(net, X, Y, lmbda, n)
                p[idx] = old - eps
                down = _total_cost(net, X, Y, lmbda, n)
                p[idx] = old
                numeric[idx] = (up - down) / (2 * eps)
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)
    assert abs(net.total_cost(list(zip(X.T[:, :, None], Y.T[:, :, None])), lmbda)
               - _total_cost(net, X, Y, lmbda, n)) < 1e-12


def test_float32_network2_learns_like_float64(capsys):
    training, test = hard_digits(600, seed=6)
    accuracies = {}
    for dtype in (np.float64, np.float32):
        np.random.seed(4)
        random.seed(4)
        net = network2.Network([64, 20, 10], dtype=dtype)
        _, acc, _, _ = net.SGD(list(training), 3, 10, 0.5, lmbda=1.0, evaluation_data=test,
                               monitor_evaluation_accuracy=True)
        assert all(w.dtype == dtype for w in params(net))
        accuracies[dtype] = acc[-1]
    capsys.readouterr()
    assert accuracies[np.float64] > 30
    assert abs(accuracies[np.float32] - accuracies[np.float64]) <= 3


def test_a_cost_nnfast_cannot_train_with_is_refused():
    class LogLikelihood:
        pass
    with pytest.raises(TypeError, match="CrossEntropyCost"):
        network2.Network([4, 3, 2], cost=LogLikelihood)


@pytest.mark.parametrize("lmbda", [-1.0, float("nan"), float("inf")])
def test_nonsense_lmbda_is_refused(lmbda):
    training, _ = hard_digits(20)
    fast, _ = twins([64, 4, 10])
    with pytest.raises(ValueError, match="lmbda"):
        fast.SGD(training, 1, 10, 0.5, lmbda=lmbda)


# -- the book's JSON -------------------------------------------------------------------------

def book_save(net, filename):
    """A transcription of the book's ``network2.save``."""
    data = {"sizes": net.sizes, "weights": [w.tolist() for w in net.weights],
            "biases": [b.tolist() for b in net.biases], "cost": str(net.cost.__name__)}
    with open(filename, "w") as f:
        json.dump(data, f)


def book_load(filename):
    """A transcription of the book's ``network2.load``, over the twin's module."""
    with open(filename) as f:
        data = json.load(f)
    cost = getattr(reference2, data["cost"])
    net = reference2.Network(data["sizes"], cost=cost)
    net.weights = [np.array(w) for w in data["weights"]]
    net.biases = [np.array(b) for b in data["biases"]]
    return net


def test_a_file_the_book_saved_loads_in_nnfast_with_identical_outputs(tmp_path):
    _, ref = twins([20, 7, 10], cost="QuadraticCost")
    book_save(ref, tmp_path / "book.json")
    fast = network2.load(tmp_path / "book.json")
    assert fast.sizes == [20, 7, 10] and fast.cost is network2.QuadraticCost
    X = np.random.default_rng(1).random((20, 5))
    np.testing.assert_allclose(fast.feedforward(X), ref.feedforward(X), rtol=1e-13)


def test_a_file_nnfast_saved_loads_with_the_books_load(tmp_path):
    fast, _ = twins([20, 7, 10])
    fast.save(tmp_path / "nnfast.json")
    keys = set(json.loads((tmp_path / "nnfast.json").read_text()))
    assert keys == {"sizes", "weights", "biases", "cost"}
    ref = book_load(tmp_path / "nnfast.json")
    assert ref.cost is reference2.CrossEntropyCost
    X = np.random.default_rng(2).random((20, 5))
    np.testing.assert_allclose(ref.feedforward(X), fast.feedforward(X), rtol=1e-13)
    for a, b in zip(params(fast), params(ref)):
        np.testing.assert_array_equal(a, b)  # JSON keeps every float64 bit


def test_npz_save_keeps_the_cost_and_dtype(tmp_path):
    fast, _ = twins([20, 7, 10], dtype=np.float32)
    fast.save(tmp_path / "net.npz")
    back = network2.load(tmp_path / "net.npz")
    assert back.cost is network2.CrossEntropyCost and back.dtype == np.float32
    for a, b in zip(params(fast), params(back)):
        np.testing.assert_array_equal(a, b)
    assert inference.load_network(tmp_path / "net.npz").sizes == [20, 7, 10]


def _good_json():
    np.random.seed(0)
    net = reference2.Network([3, 2, 2])
    return {"sizes": [3, 2, 2], "weights": [w.tolist() for w in net.weights],
            "biases": [b.tolist() for b in net.biases], "cost": "CrossEntropyCost"}


@pytest.mark.parametrize("damage,message", [
    (lambda text: text[:len(text) // 2], "not a valid network2 JSON"),
    (lambda text: "{ this is not json", "not a valid network2 JSON"),
    (lambda text: text.replace(str(_good_json()["weights"][0][0][0]), "NaN", 1), "NaN or infinity"),
    (lambda text: text.replace("[3, 2, 2]", "[3, 1000000000, 2]", 1), "shape"),
    (lambda text: text.replace("[3, 2, 2]", "[3, 2, 5]", 1), "shape"),
    (lambda text: text.replace("CrossEntropyCost", "__import__"), "unknown cost '__import__'"),
    (lambda text: text.replace('"cost"', '"kost"'), "keys"),
    (lambda text: "[1, 2, 3]", "keys"),
])
def test_damaged_or_hostile_json_models_are_refused(tmp_path, damage, message):
    path = tmp_path / "net.json"
    text = json.dumps(_good_json())
    path.write_text(text)
    assert network2.load(path).sizes == [3, 2, 2]
    path.write_text(damage(text))
    with pytest.raises(models.ModelError, match=re.escape(message)):
        network2.load(path)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sets_evaluated_every_epoch_skip_zeros_and_give_the_dense_outputs_in_the_callers_order(dtype):
    """Sets evaluated every epoch run their first layer as training does (reordered columns, zero ends
    skipped, rows sorted by where they end): the same outputs, in the order asked for."""
    from nnfast.engine.input_layout import prepared_inputs
    rng = np.random.default_rng(12)
    X = (rng.random((203, 50)) * (rng.random((203, 50)) < 0.2)).astype(np.float32)
    X[5] = 0.0  # a blank row
    X[6, :7] = 0.5
    X[7, -1] = 0.25  # inked only at the end
    np.random.seed(1)
    net = network2.Network([50, 13, 9, 10], dtype=dtype)
    params = net._pack()
    rows = rng.permutation(203).astype(np.int64)
    assert prepared_inputs(X)[1].lo.size == 203
    skipping = net._forward_rows(params, X, rows, reuse=True)
    dense = net._forward_rows(params, X, rows)
    np.testing.assert_allclose(skipping, dense, rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-7)
    np.testing.assert_allclose(net._forward_rows(params, X, reuse=True), net._forward_rows(params, X),
                               rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-7)
    full = np.ones((203, 50), dtype=np.float32)  # dense inputs keep the dense kernels
    assert prepared_inputs(full)[1].lo.size == 0


def test_total_cost_of_soft_targets_equals_the_twins():
    rng = np.random.default_rng(13)
    data = [(rng.random((20, 1)), rng.dirichlet(np.ones(10)).reshape(10, 1)) for _ in range(30)]
    fast, ref = twins([20, 8, 10], large=True)
    np.testing.assert_allclose(fast.total_cost(data, 1.5), ref.total_cost(data, 1.5), rtol=1e-12)
