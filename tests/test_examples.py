"""examples/: each of the book's chapter 3 problems, built on nnfast's blocks, learns what the same change
written in the book's per-sample style (``nnfast.twins.exercises``) learns: to 1e-9 over 50 mini-batches."""

import ast
import contextlib
import importlib.util
import io
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

from nnfast import network2
from nnfast.network import OverridePath
from nnfast.twins import exercises
from conftest import synthetic_digits

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TOL = 1e-9


def _example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data(n=500, n_in=30, seed=4):
    training, test = synthetic_digits(n, n_in=n_in, seed=seed)
    return [(x.astype(np.float64), y) for x, y in training], [(x.astype(np.float64), y) for x, y in test]


def _pair(fast_cls, twin_cls, sizes, seed=7, **kw):
    np.random.seed(seed)
    fast = fast_cls(sizes, **kw)
    np.random.seed(seed)
    twin = twin_cls(sizes, **kw)
    return fast, twin


def _train_both(fast, twin, training, *args, **kw):
    """The same SGD call on each (its own copy of the list, which SGD shuffles), from the same random
    state; what each returned and printed."""
    out = []
    for net in (fast, twin):
        random.seed(11)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append((net.SGD(list(training), *args, **kw), printed.getvalue()))
    return out


def _assert_same_network(fast, twin):
    for a, b in zip(fast.weights + fast.biases, twin.weights + twin.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


@pytest.mark.parametrize("name, fast_name, twin_cls, kw, sgd", [
    ("momentum", "MomentumNetwork", exercises.MomentumNetwork, {"mu": 0.9}, {"lmbda": 3.0}),
    ("l1", "L1Network", exercises.L1Network, {}, {"lmbda": 3.0}),
    ("tanh", "TanhNetwork", exercises.TanhNetwork, {"cost": network2.QuadraticCost}, {}),
    ("softmax", "SoftmaxNetwork", exercises.SoftmaxNetwork, {}, {"lmbda": 1.0}),
])
def test_an_example_learns_what_the_per_sample_version_learns(name, fast_name, twin_cls, kw, sgd):
    training, test = _data()
    fast, twin = _pair(getattr(_example(name), fast_name), twin_cls, [30, 12, 10], **kw)
    monitors = dict(evaluation_data=test, monitor_evaluation_cost=True, monitor_evaluation_accuracy=True)
    (fast_result, fast_lines), (twin_result, twin_lines) = _train_both(
        fast, twin, training, 1, 10, 0.3, **sgd, **monitors)  # 50 mini-batches
    _assert_same_network(fast, twin)
    assert fast_result[1] == twin_result[1]  # evaluation accuracy
    np.testing.assert_allclose(fast_result[0], twin_result[0], rtol=1e-9)  # evaluation cost
    assert fast_lines.splitlines()[0] == twin_lines.splitlines()[0]
    changed = [float(np.abs(w).sum()) for w in fast.weights]
    np.random.seed(7)
    plain = network2.Network([30, 12, 10], cost=kw.get("cost", network2.CrossEntropyCost))
    assert changed != [float(np.abs(w).sum()) for w in plain.weights]  # it trained


def test_the_learning_rate_schedule_halves_eta_as_the_per_sample_version_does():
    training, test = _data(n=300)
    fast, twin = _pair(_example("schedule").ScheduledNetwork, exercises.ScheduledNetwork, [30, 12, 10])
    (fast_result, fast_lines), (twin_result, twin_lines) = _train_both(
        fast, twin, training, 12, 10, 4.0, evaluation_data=test, patience=1, floor_ratio=8)
    assert fast_result == twin_result and fast_lines == twin_lines
    accuracies, etas = fast_result
    assert etas[0] == 4.0 and min(etas) < 4.0  # the schedule acted
    _assert_same_network(fast, twin)


def test_the_fast_examples_stay_on_the_kernels():
    """Momentum and L1 build on ``mini_batch_gradient``: no per-sample loop, no note about leaving the kernels."""
    training, _ = _data(n=60)
    for name, cls in (("momentum", "MomentumNetwork"), ("l1", "L1Network")):
        net = getattr(_example(name), cls)([30, 12, 10])
        net.backprop = None  # any per-sample backprop call would fail
        del net.backprop
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with contextlib.redirect_stdout(io.StringIO()):
                net.SGD(list(training), 1, 10, 0.3, lmbda=1.0)


def test_mini_batch_gradient_is_the_sum_of_the_books_backprops():
    training, _ = _data(n=40)
    for cost in (network2.CrossEntropyCost, network2.QuadraticCost):
        fast, twin = _pair(network2.Network, exercises.network2.Network, [30, 12, 10], cost=cost)
        nabla_b, nabla_w = fast.mini_batch_gradient(training[:17])
        sums = [np.zeros_like(p) for p in twin.biases + twin.weights]
        for x, y in training[:17]:
            b, w = twin.backprop(x, y)
            sums = [s + d for s, d in zip(sums, b + w)]
        for a, b in zip(nabla_b + nabla_w, sums):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="empty"):
        fast.mini_batch_gradient([])


def test_an_update_mini_batch_that_loops_over_samples_is_told_of_mini_batch_gradient():
    fast_cls = type("BookStyleMomentum", (network2.Network,),
                    {"update_mini_batch": exercises.MomentumNetwork.update_mini_batch})
    net = fast_cls([30, 12, 10])
    net.mu = 0.9
    net.velocity_w = [np.zeros(w.shape) for w in net.weights]
    net.velocity_b = [np.zeros(b.shape) for b in net.biases]
    training, _ = _data(n=40)
    with pytest.warns(OverridePath, match="update_mini_batch is your own: it calls backprop one sample at a time.*mini_batch_gradient"):
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD(list(training), 1, 10, 0.3)


@pytest.mark.parametrize("epochs, patience, floor_ratio, last", [
    (12, 1, 2, "Stopped after epoch"),  # eta halves once and reaches its floor
    (2, 10, 128, "Trained the 2 epochs asked for; eta ended at 4"),
])
def test_the_schedule_says_why_it_stopped(epochs, patience, floor_ratio, last):
    training, test = _data(n=300)
    fast, twin = _pair(_example("schedule").ScheduledNetwork, exercises.ScheduledNetwork, [30, 12, 10])
    (fast_result, fast_lines), (_, twin_lines) = _train_both(
        fast, twin, training, epochs, 10, 4.0, evaluation_data=test, patience=patience, floor_ratio=floor_ratio)
    assert fast_lines == twin_lines and fast_lines.splitlines()[-1].startswith(last)
    if last.startswith("Stopped"):
        assert f"1/{floor_ratio} of the 4 it started at" in fast_lines.splitlines()[-1]
        assert len(fast_result[0]) < epochs


def _imported_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield from (a.asname or a.name for a in node.names)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_an_example_imports_only_what_it_uses(path):
    tree = ast.parse(path.read_text())
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert [name for name in _imported_names(tree) if name not in used] == []


def test_the_momentum_example_describes_the_call_it_makes():
    module = _example("momentum")
    source = (EXAMPLES / "momentum.py").read_text()
    code = source[source.index('"""', 3) + 3:]
    assert "``self.mini_batch_gradient(mini_batch)``" in module.__doc__
    assert "self.mini_batch_gradient(mini_batch)" in code and "backprop(" not in code
