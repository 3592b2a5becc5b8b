"""Chapter 6's mini-batch step as one compiled call (``nnfast.engine.net_step``) against the plain-numpy twin.

The book's step, whatever the thread count, the activations, dropout and L2; the dropout masks drawn in the
book's order; the layers' arrays (``layer.w``, ``net.params``) showing each step's result; a layer the user
subclassed, an array the kernel cannot step in place, and a net it does not describe taking the layers' own code.
"""

import os
import signal

import numpy as np
import pytest

from nnfast import network3
from nnfast.engine.kernels import net_step as kernels
from nnfast.engine.kernels import step_region
from nnfast.network3 import (ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer, linear, sigmoid,
                             tanh)
from nnfast.twins import network3 as reference3

pytestmark = pytest.mark.usefixtures("parallel_now")


def _net(m, acts=(ReLU, tanh, ReLU, sigmoid), drops=(0.5, 0.2, 0.3), dtype=np.float64):
    return Network([ConvPoolLayer((4, 1, 3, 3), (m, 1, 12, 12), (2, 2), activation_fn=acts[0]),
                    ConvPoolLayer((8, 4, 2, 2), (m, 4, 5, 5), (2, 2), activation_fn=acts[1]),
                    FullyConnectedLayer(8 * 2 * 2, 130, activation_fn=acts[2], p_dropout=drops[0]),
                    FullyConnectedLayer(130, 140, activation_fn=acts[3], p_dropout=drops[1]),
                    SoftmaxLayer(140, 4, p_dropout=drops[2])], m, dtype=dtype)


def _book_stream():
    return np.random.RandomState(np.random.RandomState(0).randint(999999))  # network3's dropout stream


class _Spy:
    """A kernel that notes its calls in ``calls`` (and answers for the dispatcher otherwise)."""

    def __init__(self, kernel, calls, name, before=None):
        self.kernel, self.calls, self.name, self.before = kernel, calls, name, before

    def __call__(self, *args):
        if self.before is not None:
            self.before()
        result = self.kernel(*args)
        self.calls.append(self.name)
        return result

    def __getattr__(self, name):
        return getattr(self.kernel, name)


def _calls(monkeypatch):
    """The compiled step's calls, by kernel name (each still runs)."""
    calls = []
    monkeypatch.setattr(kernels, "steps_one", _Spy(kernels.steps_one, calls, "steps_one"))
    monkeypatch.setattr(step_region, "step_region", _Spy(step_region.step_region, calls, "step_region"))
    return calls


def _assert_like_twin(net, twin):
    for layer, t in zip(net.layers, twin):
        np.testing.assert_allclose(layer.w, t["w"], rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(layer.b, t["b"], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("acts,drops,lmbda", [
    ((ReLU, tanh, ReLU, sigmoid), (0.5, 0.2, 0.3), 0.3),
    ((sigmoid, linear, tanh, linear), (0.0, 0.0, 0.0), 0.0),
    ((tanh, sigmoid, sigmoid, ReLU), (0.0, 0.4, 0.0), 1.5),
])
def test_one_call_steps_equal_the_twin_and_show_in_the_learners_arrays(monkeypatch, threads, acts, drops, lmbda):
    monkeypatch.setenv("NNFAST_THREADS", str(threads))
    calls = _calls(monkeypatch)
    np.random.seed(41)
    m = 10
    net = _net(m, acts, drops)
    held = [layer.w for layer in net.layers], list(net.params)  # what a learner holds on to
    twin = reference3.layers_of(net)
    twin_rng = _book_stream()
    rng = np.random.default_rng(42)
    for k in range(4):
        x, y = rng.random((m, 144)), rng.integers(0, 4, m)
        cost = net._step(x, y, 0.2, lmbda, 11)
        assert abs(cost - reference3.sgd_step(twin, x, y, 0.2, lmbda, 11, twin_rng)) < 1e-12
        _assert_like_twin(net, twin)  # after every step, in the arrays the learner holds
        for w, layer in zip(held[0], net.layers):
            assert w is layer.w
        assert all(a is b for a, b in zip(held[1], net.params))
    assert calls == ["steps_one" if threads == 1 else "step_region"] * 4
    # the masks came from the book's stream in the book's order: the two streams stand at the same draw
    assert np.array_equal(net._mask_rng.get_state()[1], twin_rng.get_state()[1])
    assert net._mask_rng.get_state()[2] == twin_rng.get_state()[2]


def test_float32_steps_stay_near_the_float64_twin(monkeypatch):
    monkeypatch.setenv("NNFAST_THREADS", "1")
    calls = _calls(monkeypatch)
    np.random.seed(43)
    net = _net(10, dtype=np.float32)
    twin = reference3.layers_of(net)
    for t in twin:
        t["w"], t["b"] = t["w"].astype(np.float64), t["b"].astype(np.float64)
    twin_rng = _book_stream()
    rng = np.random.default_rng(44)
    for _ in range(3):
        x, y = rng.random((10, 144)).astype(np.float32), rng.integers(0, 4, 10)
        cost = net._step(x, y, 0.1, 0.2, 11)
        assert abs(cost - reference3.sgd_step(twin, x.astype(np.float64), y, 0.1, 0.2, 11, twin_rng)) < 1e-5
    assert calls == ["steps_one"] * 3
    for layer, t in zip(net.layers, twin):
        assert layer.w.dtype == np.float32
        np.testing.assert_allclose(layer.w, t["w"], rtol=1e-4, atol=1e-5)


class _Plain(FullyConnectedLayer):
    """A learner's subclass that changes nothing: still the layers' own code (its methods might be changed)."""


class _Doubled(FullyConnectedLayer):
    def forward(self, x, mask_rng=None, product=None):
        out, cache = super().forward(x, mask_rng, product)
        self.seen = getattr(self, "seen", 0) + 1
        return out, cache


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kind", [_Plain, _Doubled])
def test_a_subclassed_layer_takes_the_layers_own_code(monkeypatch, threads, kind):
    monkeypatch.setenv("NNFAST_THREADS", str(threads))
    calls = _calls(monkeypatch)
    np.random.seed(45)
    m = 6
    # two conv layers, as _net: on two threads the layers' own code runs conv_stack's parallel kernels, whose
    # float64 two-layer signature the suite compiles anyway (one conv layer: ~9 s of CPU for these tests alone)
    net = Network([ConvPoolLayer((4, 1, 3, 3), (m, 1, 12, 12), (2, 2), activation_fn=ReLU),
                   ConvPoolLayer((8, 4, 2, 2), (m, 4, 5, 5), (2, 2), activation_fn=tanh),
                   kind(8 * 2 * 2, 30, activation_fn=tanh, p_dropout=0.3), SoftmaxLayer(30, 4)], m, dtype=np.float64)
    twin = reference3.layers_of(net)
    twin_rng = _book_stream()
    rng = np.random.default_rng(46)
    for _ in range(2):
        x, y = rng.random((m, 144)), rng.integers(0, 4, m)
        assert abs(net._step(x, y, 0.2, 0.1, 5) - reference3.sgd_step(twin, x, y, 0.2, 0.1, 5, twin_rng)) < 1e-12
    assert calls == [] and net._net_step() is None
    assert getattr(net.layers[2], "seen", 2) == 2
    _assert_like_twin(net, twin)


def test_an_array_it_cannot_step_in_place_takes_the_layers_own_code_for_that_step(monkeypatch):
    monkeypatch.setenv("NNFAST_THREADS", "1")
    calls = _calls(monkeypatch)
    np.random.seed(47)
    net = _net(10)
    twin = reference3.layers_of(net)
    twin_rng = _book_stream()
    rng = np.random.default_rng(48)

    def step():
        x, y = rng.random((10, 144)), rng.integers(0, 4, 10)
        assert abs(net._step(x, y, 0.2, 0.3, 11) - reference3.sgd_step(twin, x, y, 0.2, 0.3, 11, twin_rng)) < 1e-12

    step()
    net.layers[2].w = np.asfortranarray(net.layers[2].w)  # a learner's assignment: Fortran order
    step()
    net.layers[2].w = np.ascontiguousarray(net.layers[2].w)  # and back: the compiled step again, on the new array
    net.layers[0].w = network3.shared(net.layers[0].w.copy())
    step()
    assert calls == ["steps_one", "steps_one"]
    _assert_like_twin(net, twin)


def test_a_changed_activation_or_dropout_is_honoured(monkeypatch):
    monkeypatch.setenv("NNFAST_THREADS", "1")
    np.random.seed(49)
    net = _net(10)
    twin = reference3.layers_of(net)
    twin_rng = _book_stream()
    rng = np.random.default_rng(50)
    x, y = rng.random((10, 144)), rng.integers(0, 4, 10)
    net._step(x, y, 0.2, 0.0, 11)
    reference3.sgd_step(twin, x, y, 0.2, 0.0, 11, twin_rng)
    net.layers[3].activation_fn, twin[3]["act"] = tanh, "tanh"
    net.layers[2].p_dropout, twin[2]["p"] = 0.0, 0.0
    x, y = rng.random((10, 144)), rng.integers(0, 4, 10)
    assert abs(net._step(x, y, 0.2, 0.0, 11) - reference3.sgd_step(twin, x, y, 0.2, 0.0, 11, twin_rng)) < 1e-12
    _assert_like_twin(net, twin)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_label_outside_the_softmax_is_refused_and_changes_no_weight(monkeypatch, threads):
    monkeypatch.setenv("NNFAST_THREADS", str(threads))
    calls = _calls(monkeypatch)
    np.random.seed(51)
    net = _net(10)
    before = [p.copy() for p in net.params]
    x = np.random.default_rng(52).random((10, 144))
    for bad in (4, -1):
        with pytest.raises(ValueError, match=f"label {bad} of sample 3 .* 4-way softmax"):
            net._step(x, np.array([0, 1, 2, bad, 0, 1, 2, 3, 0, 1]), 0.2, 0.0, 11)
    for p, q in zip(net.params, before):
        assert np.array_equal(p, q)
    assert calls == ["steps_one" if threads == 1 else "step_region"] * 2  # the compiled step refused them


def test_ctrl_c_mid_epoch_leaves_whole_steps(monkeypatch):
    """Ctrl-C arrives while a run of steps is under way: training stops with KeyboardInterrupt, and the weights are
    those of the runs that finished, each step whole (the compiled call is never left half-done)."""
    from nnfast.engine import net_step
    monkeypatch.setenv("NNFAST_THREADS", "1")
    monkeypatch.setattr(net_step, "MAX_RUN", 3)
    done = []

    def interrupt():
        if len(done) == 5:
            os.kill(os.getpid(), signal.SIGINT)  # the default handler raises KeyboardInterrupt in the main thread

    class Steps(_Spy):
        def __call__(self, *args):
            self.before()
            result = self.kernel(*args)
            done.append(int(result[0]))  # the steps this call did
            return result

    monkeypatch.setattr(kernels, "steps_one", Steps(kernels.steps_one, done, 1, before=interrupt))
    np.random.seed(53)
    net = _net(10)
    twin = reference3.layers_of(net)
    rng = np.random.default_rng(54)
    data = (rng.random((200, 144)), rng.integers(0, 4, 200))
    validation = (data[0][:20], data[1][:20])
    with pytest.raises(KeyboardInterrupt):
        list(net.train(data, 1, 10, 0.2, validation, validation, lmbda=0.3))
    assert 5 <= len(done) <= 6 and max(done) == 3  # runs of 3 steps after the first, timed one
    twin_rng = _book_stream()
    for k in range(sum(done)):
        reference3.sgd_step(twin, data[0][k * 10:(k + 1) * 10], data[1][k * 10:(k + 1) * 10], 0.2, 0.3, 20, twin_rng)
    _assert_like_twin(net, twin)


def test_a_cold_one_thread_run_trains_on_the_layers_code_while_a_helper_compiles_the_step(monkeypatch):
    """Where steps_one is neither compiled nor cached, the first ask starts nothing (the layers' own kernels
    compile in that step), the second starts a helper process, and the steps go on on the layers' own code (numpy's
    dense products: nothing more compiles here) until it has ended; the run is the book's run across the switch."""
    from nnfast.engine.kernels import parallel_helper
    ended, started = _cold_one_thread(monkeypatch)
    calls = _calls(monkeypatch)
    np.random.seed(55)
    net = _net(10)
    twin = reference3.layers_of(net)
    twin_rng = _book_stream()
    rng = np.random.default_rng(56)
    per_step = []
    for k in range(6):
        if k == 3:
            ended.append(True)
        x, y = rng.random((10, 144)), rng.integers(0, 4, 10)
        before = len(calls)
        assert abs(net._step(x, y, 0.2, 0.3, 11) - reference3.sgd_step(twin, x, y, 0.2, 0.3, 11, twin_rng)) < 1e-12
        per_step.append(len(calls) - before)
        if k == 0:
            assert not started  # nothing started at the first ask
    assert per_step == [0, 0, 0, 1, 1, 1] and started == [("float64", 2, parallel_helper.STEP)]
    _assert_like_twin(net, twin)


def _cold_one_thread(monkeypatch):
    """One thread, nothing compiled or cached, and a fake compile helper: returns ``(ended, started)``; append to
    ``ended`` to end the helper, ``started`` lists each start's ``(dtype, conv_layers, family)``."""
    import threading

    from nnfast.engine import net_step
    from nnfast.engine.kernels import background, parallel_helper
    monkeypatch.setenv("NNFAST_THREADS", "1")
    monkeypatch.delenv(background.HELPER_VARIABLE, raising=False)
    monkeypatch.setattr(net_step, "_COMPILE", {"helpers": {}, "lock": threading.Lock(), "ready": set(),
                                               "asked": set()})
    monkeypatch.setattr(background, "compiled_or_cached", lambda kernel, signature, unknown=True: False)
    ended, started = [], []

    class Process:
        def poll(self):
            return 0 if ended else None

    def start(dtype, conv_layers, family):
        started.append((dtype, conv_layers, family))
        return background.Helper(Process())
    monkeypatch.setattr(parallel_helper, "start", start)
    return ended, started


def _twin_outputs(net, x):
    """The book's forward pass on ``x`` (no dropout in the net), from the twin's convolution and pooling."""
    from nnfast.twins.network3 import _ACT, convolve, max_pool
    a = x
    for L in reference3.layers_of(net):
        if L["type"] == "conv":
            P, _ = max_pool(convolve(a.reshape(len(x), L["w"].shape[1], *L["image"]), L["w"]), *L["pool"])
            a = _ACT[L["act"]][0](P + L["b"][None, :, None, None]).reshape(len(x), -1)
        elif L["type"] == "fc":
            a = _ACT[L["act"]][0](a @ L["w"] + L["b"])
        else:
            z = a @ L["w"] + L["b"]
            a = np.exp(z - z.max(axis=1, keepdims=True))
            a /= a.sum(axis=1, keepdims=True)
    return a


def test_a_cold_one_thread_prediction_runs_on_the_layers_code_while_a_helper_compiles_the_step(monkeypatch):
    """On one thread, where the compiled step (and the conv kernels a prediction calls, conv_stack.forward_layers and
    the ways it calls) is neither compiled nor cached, a prediction runs on the layers' own code (compiling
    forward_part, before the ways, took 6-7 s of CPU here): the second ask starts the helper, and once it has ended
    the prediction takes forward_layers; the book's outputs throughout."""
    from nnfast.engine.kernels import conv_stack, parallel_helper
    ended, started = _cold_one_thread(monkeypatch)
    calls = []
    monkeypatch.setattr(conv_stack, "forward_layers", _Spy(conv_stack.forward_layers, calls, "forward_layers"))
    np.random.seed(57)
    net = _net(10, drops=(0.0, 0.0, 0.0))
    x = np.random.default_rng(58).random((30, 144))
    for k in range(3):
        if k == 2:
            ended.append(True)
        assert np.allclose(net.feedforward(x), _twin_outputs(net, x), rtol=0, atol=1e-12)
        assert calls == (["forward_layers"] if k == 2 else [])
        assert started == ([("float64", 2, parallel_helper.STEP)] if k else [])  # none at the first ask


def test_the_step_helper_compiles_the_one_thread_step_and_its_kernels():
    from nnfast.engine.kernels import net_step as step_kernels
    from nnfast.engine.kernels import parallel_helper, parallel_kernels
    listed = parallel_helper.kernels("float32", 2, parallel_helper.STEP)
    assert listed == parallel_kernels.serial_kernels("float32", 2)
    assert listed[-1] == (step_kernels.steps_one, step_kernels.signature("float32", 2, False))


# -- runs of mini-batches in one compiled call (engine.net_runs, NetStep.run) ---------------------------------------

class _PerStep(Network):
    """A learner's subclass overriding ``_step``: every mini-batch goes through it, as the book's loop does."""

    def _step(self, *args, **kwargs):
        return super()._step(*args, **kwargs)


def _runs(monkeypatch):
    """``(first mini-batch, steps)`` of each NetStep.run call (each still runs). Runs bounded by steps and masks
    alone: a busy machine's slow steps must not shorten them (the time bound: test_a_runs_masks_and_time...)."""
    from nnfast.engine import net_step
    monkeypatch.setattr(net_step, "RUN_SECONDS", 1e9)
    seen, real = [], net_step.NetStep.run

    def run(self, x, y, count, *args, first=None):
        seen.append((first, count))
        return real(self, x, y, count, *args, first=first)
    monkeypatch.setattr(net_step.NetStep, "run", run)
    return seen


def _trained(kind, dtype, data, epochs=1, lmbda=0.4, eta=0.2, m=10, seed=61):
    np.random.seed(seed)
    net = _net(m, dtype=dtype)
    net.__class__ = kind
    validation = (data[0][:2 * m], data[1][:2 * m])
    lines, error = [], None
    try:
        for line in net.train(data, epochs, m, eta, validation, None, lmbda=lmbda):
            lines.append(line)
    except ValueError as exc:
        error = str(exc)
    return net, lines, error


def _assert_same(a, b):
    for p, q in zip(a.params, b.params):
        assert p.dtype == q.dtype and np.array_equal(p, q, equal_nan=True)
    assert np.array_equal(a._mask_rng.get_state()[1], b._mask_rng.get_state()[1])
    assert a._mask_rng.get_state()[2] == b._mask_rng.get_state()[2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("most", [1, 7])
def test_runs_equal_the_per_step_path_bit_for_bit_and_the_twin(monkeypatch, dtype, most):
    """The dropout net with L2, trained in runs of up to ``most`` steps, against the same net stepped one
    mini-batch a call (a subclass overriding ``_step``): the same weights to the last bit, the dropout stream at the
    same draw; and (float64) the plain-numpy twin to 1e-11."""
    from nnfast.engine import net_step
    monkeypatch.setenv("NNFAST_THREADS", "1")
    monkeypatch.setattr(net_step, "MAX_RUN", most)
    rng = np.random.default_rng(62)
    data = (rng.random((230, 144)).astype(dtype), rng.integers(0, 4, 230))
    runs = _runs(monkeypatch)
    net, lines, _ = _trained(Network, dtype, data, epochs=2)
    assert max(count for _, count in runs) == most and sum(count for _, count in runs) == 46
    assert [first for first, _ in runs] == list(np.cumsum([0] + [c for _, c in runs])[:-1])  # in order, no gaps
    del runs[:]
    per_step, step_lines, _ = _trained(_PerStep, dtype, data, epochs=2)
    assert {count for _, count in runs} == {1} and len(runs) == 46
    assert lines == step_lines
    _assert_same(net, per_step)
    if dtype == np.float64:
        np.random.seed(61)
        twin, twin_rng = reference3.layers_of(_net(10)), _book_stream()
        for _ in range(2):
            for k in range(23):
                reference3.sgd_step(twin, data[0][k * 10:(k + 1) * 10], data[1][k * 10:(k + 1) * 10], 0.2, 0.4, 23,
                                    twin_rng)
        _assert_like_twin(net, twin)


def test_runs_never_cross_the_books_printed_lines(monkeypatch):
    """Mini-batches 0 to 1,004 of 2 samples: no run holds both 999 and 1,000 (the line "Training mini-batch
    number 1000" comes between), and the weights equal the per-step path's."""
    monkeypatch.setenv("NNFAST_THREADS", "1")
    rng = np.random.default_rng(63)
    data = (rng.random((2010, 144)), rng.integers(0, 4, 2010))
    runs = _runs(monkeypatch)
    net, lines, _ = _trained(Network, np.float64, data, m=2)
    assert "Training mini-batch number 1000" in lines and max(count for _, count in runs) > 1
    assert all(first + count <= 1000 or first >= 1000 for first, count in runs)
    assert sum(count for _, count in runs) == 1005
    per_step, step_lines, _ = _trained(_PerStep, np.float64, data, m=2)
    assert lines == step_lines
    _assert_same(net, per_step)


def test_a_run_stops_at_the_mini_batch_that_diverges(monkeypatch):
    """A NaN in mini-batch 12's inputs, inside a run of up to 7: "diverged at mini-batch 12", as the per-step path
    says, with the weights and the dropout stream where the per-step path leaves them (no step after it)."""
    from nnfast.engine import net_step
    monkeypatch.setenv("NNFAST_THREADS", "1")
    monkeypatch.setattr(net_step, "MAX_RUN", 7)
    rng = np.random.default_rng(64)
    data = (rng.random((230, 144)), rng.integers(0, 4, 230))
    data[0][12 * 10 + 3, 50] = np.nan
    runs = _runs(monkeypatch)
    net, _, error = _trained(Network, np.float64, data)
    assert any(first < 12 < first + count - 1 for first, count in runs)  # 12 was inside a run, not at its end
    per_step, _, step_error = _trained(_PerStep, np.float64, data)
    assert error == step_error and "training diverged at mini-batch 12:" in error
    _assert_same(net, per_step)


def test_a_bad_label_inside_a_run_names_its_sample_and_mini_batch(monkeypatch):
    from nnfast.engine import net_step
    monkeypatch.setenv("NNFAST_THREADS", "1")
    monkeypatch.setattr(net_step, "MAX_RUN", 7)
    rng = np.random.default_rng(65)
    data = (rng.random((230, 144)), rng.integers(0, 4, 230))
    data[1][11 * 10 + 6] = 9
    # train refuses such data before any step (test_train_refuses_a_label_outside_the_softmax_on_every_path);
    # without that check, the kernel's own guard inside a run is what this tests
    monkeypatch.setattr(network3, "check_labels", lambda *args: None)
    runs = _runs(monkeypatch)
    net, _, error = _trained(Network, np.float64, data)
    assert error == "label 9 of sample 6 of mini-batch 11 is not a class of the 4-way softmax (0 to 3)"
    assert any(first < 11 < first + count - 1 for first, count in runs)  # 11 was inside a run, not at its end
    per_step, _, step_error = _trained(_PerStep, np.float64, data)
    assert "label 9 of sample 6 of the mini-batch" in step_error
    _assert_same(net, per_step)  # mini-batches 0-10 done, 11's masks drawn, nothing of 11 stepped


@pytest.mark.parametrize("threads", [2, 3])
def test_runs_on_several_threads_equal_the_per_step_path(monkeypatch, threads):
    monkeypatch.setenv("NNFAST_THREADS", str(threads))
    calls = _calls(monkeypatch)
    rng = np.random.default_rng(66)
    data = (rng.random((230, 144)), rng.integers(0, 4, 230))
    runs = _runs(monkeypatch)
    net, lines, _ = _trained(Network, np.float64, data)
    assert max(count for _, count in runs) > 1 and calls == ["step_region"] * 23
    per_step, step_lines, _ = _trained(_PerStep, np.float64, data)
    assert lines == step_lines
    _assert_same(net, per_step)


def test_a_runs_masks_and_time_are_bounded():
    """The book's dropout net (26,400 draws a step): a run's masks within MASK_BYTES; once a step was timed, a
    run within RUN_SECONDS."""
    from nnfast.engine import net_step
    for dtype in (np.float32, np.float64):
        net = Network([ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28), (2, 2), activation_fn=ReLU),
                       ConvPoolLayer((40, 20, 5, 5), (10, 20, 12, 12), (2, 2), activation_fn=ReLU),
                       FullyConnectedLayer(40 * 4 * 4, 1000, activation_fn=ReLU, p_dropout=0.5),
                       FullyConnectedLayer(1000, 1000, activation_fn=ReLU, p_dropout=0.5),
                       SoftmaxLayer(1000, 10, p_dropout=0.5)], 10, dtype=dtype)
        whole = net._net_step()
        steps = whole.run_length(10)
        assert 1 < steps and steps * 26_400 * (8 + np.dtype(dtype).itemsize) <= net_step.MASK_BYTES
        whole.seconds_per_step = 0.01
        assert whole.run_length(10) == min(steps, int(net_step.RUN_SECONDS / 0.01))
        whole.seconds_per_step = 2.0  # a learner's huge net: a step a run
        assert whole.run_length(10) == 1


@pytest.mark.parametrize("bad, kind", [(-1, "a negative class"), (4, "past the softmax"), (2.5, "not whole")])
@pytest.mark.parametrize("warming", [True, False])
def test_train_refuses_a_label_outside_the_softmax_on_every_path(monkeypatch, bad, kind, warming):
    # the layers' own code (a cold cache's first steps, a subclassed layer) indexes the softmax's outputs with the
    # label: -1 would silently train towards the last class. train checks every label before the first step.
    monkeypatch.setenv("NNFAST_THREADS", "1")
    rng = np.random.default_rng(66)
    data = (rng.random((50, 144)), rng.integers(0, 4, 50).astype(np.float64 if bad == 2.5 else np.int64))
    data[1][37] = bad
    np.random.seed(61)
    net = _net(10, dtype=np.float64)
    if warming:  # as while a helper compiles the step: the layers' own code
        monkeypatch.setattr(type(net), "_net_step", lambda self: None)
    before = [p.copy() for p in net.params]
    with pytest.raises(ValueError, match=f"label {bad} of training sample 37 is not a class of the 4-way softmax"):
        list(net.train(data, 1, 10, 0.1, (data[0][:10], data[1][:10]), None))
    for p, q in zip(net.params, before):
        np.testing.assert_array_equal(p, q)
