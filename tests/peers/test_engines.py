"""Every engine of nnfast.peers.engines learns what the reference learns (one table feeds tests and benchmarks)."""

import numpy as np
import pytest

from nnfast.peers.engines import ENGINES, chapter, engine_id

CH1, CH3 = chapter(1), chapter(3)


def _run(engine, sizes, batches):
    np.random.seed(21)
    net = engine.make(sizes)
    for batch in batches:
        net.update_mini_batch(batch, 3.0)
    return net


@pytest.mark.parametrize("engine", CH1[1:], ids=engine_id)
@pytest.mark.parametrize("sizes", [[64, 30, 10], [20, 9, 7, 10]])
def test_engine_tracks_the_reference(engine, sizes):
    if engine.missing():
        pytest.skip(engine.missing())  # optional engine: the benchmark shows it as not installed
    rng = np.random.default_rng(4)
    batches = [[(rng.random((sizes[0], 1)), np.eye(10)[:, [rng.integers(10)]]) for _ in range(m)]
               for m in (10, 10, 7, 1, 10)]
    ref = _run(CH1[0], sizes, batches)
    net = _run(engine, sizes, batches)
    for got, want in zip(list(net.weights) + list(net.biases), ref.weights + ref.biases):
        assert np.max(np.abs(got - want)) / np.max(np.abs(want)) <= engine.tolerance


@pytest.mark.parametrize("engine", CH1[1:], ids=engine_id)
def test_engine_sgd_visits_the_books_mini_batches(engine, capsys):
    """Whole SGD calls: same seeds, same printed lines and list order as the reference."""
    import random
    if engine.missing():
        pytest.skip(engine.missing())
    rng = np.random.default_rng(5)
    data = [(rng.random((16, 1)), np.eye(10)[:, [rng.integers(10)]]) for _ in range(53)]
    test = [(x, int(np.argmax(y))) for x, y in data[:20]]
    outputs, orders = [], []
    for e in (CH1[0], engine):
        np.random.seed(3)
        net = e.make([16, 8, 10])
        random.seed(4)
        mine = list(data)
        net.SGD(mine, 2, 5, 3.0)
        orders.append([id(x) for x, _ in mine])
        outputs.append(net.evaluate(test))
    assert orders[0] == orders[1]
    assert outputs[0] == outputs[1]


def test_the_table_holds_both_chapters_with_their_references_first():
    assert CH1[0].name == "reference" and CH3[0].name == "reference2"
    assert len(CH1) + len(CH3) == len(ENGINES) and len(CH3) >= 3


@pytest.mark.parametrize("engine", CH3[1:], ids=engine_id)
def test_chapter3_engine_tracks_its_reference_with_l2(engine):
    rng = np.random.default_rng(6)
    sizes = [64, 30, 10]
    batches = [[(rng.random((64, 1)), np.eye(10)[:, [rng.integers(10)]]) for _ in range(m)] for m in (10, 10, 7, 1)]
    nets = []
    for e in (CH3[0], engine):
        np.random.seed(22)
        net = e.make(sizes)
        for batch in batches:
            net.update_mini_batch(batch, 0.5, 5.0, 100)
        nets.append(net)
    ref, net = nets
    for got, want in zip(list(net.weights) + list(net.biases), ref.weights + ref.biases):
        assert np.max(np.abs(got - want)) / np.max(np.abs(want)) <= engine.tolerance
