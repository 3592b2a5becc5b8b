"""Every engine of nnfast.engines learns what the reference learns (one table feeds tests and benchmarks)."""

import numpy as np
import pytest

from nnfast.engines import ENGINES, engine_id


def _run(engine, sizes, batches):
    np.random.seed(21)
    net = engine.make(sizes)
    for batch in batches:
        net.update_mini_batch(batch, 3.0)
    return net


@pytest.mark.parametrize("engine", ENGINES[1:], ids=engine_id)
@pytest.mark.parametrize("sizes", [[64, 30, 10], [20, 9, 7, 10]])
def test_engine_tracks_the_reference(engine, sizes):
    if engine.missing():
        pytest.skip(engine.missing())  # optional engine: the benchmark shows it as not installed
    rng = np.random.default_rng(4)
    batches = [[(rng.random((sizes[0], 1)), np.eye(10)[:, [rng.integers(10)]]) for _ in range(m)]
               for m in (10, 10, 7, 1, 10)]
    ref = _run(ENGINES[0], sizes, batches)
    net = _run(engine, sizes, batches)
    for got, want in zip(list(net.weights) + list(net.biases), ref.weights + ref.biases):
        assert np.max(np.abs(got - want)) / np.max(np.abs(want)) <= engine.tolerance


@pytest.mark.parametrize("engine", ENGINES[1:], ids=engine_id)
def test_engine_sgd_visits_the_books_mini_batches(engine, capsys):
    """Whole SGD calls: same seeds, same printed lines and list order as the reference."""
    import random
    if engine.missing():
        pytest.skip(engine.missing())
    rng = np.random.default_rng(5)
    data = [(rng.random((16, 1)), np.eye(10)[:, [rng.integers(10)]]) for _ in range(53)]
    test = [(x, int(np.argmax(y))) for x, y in data[:20]]
    outputs, orders = [], []
    for e in (ENGINES[0], engine):
        np.random.seed(3)
        net = e.make([16, 8, 10])
        random.seed(4)
        mine = list(data)
        net.SGD(mine, 2, 5, 3.0)
        orders.append([id(x) for x, _ in mine])
        outputs.append(net.evaluate(test))
    assert orders[0] == orders[1]
    assert outputs[0] == outputs[1]
