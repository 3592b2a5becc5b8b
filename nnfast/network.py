"""The book's ``network.py`` API, trained over whole mini-batches by numba kernels.

A drop-in for chapter 1's module: the same names, arguments, printed lines and
random draws, so ``random.seed`` / ``np.random.seed`` give the book's network.
This module validates, converts the book's lists of columns into one matrix
per call, and delegates the arithmetic to ``nnfast.engine.kernels`` (imported on
first use, so ``import nnfast`` stays quick and compiles nothing).
"""

import difflib
import inspect
from typing import NamedTuple, Optional

import numpy as np

from . import activations
from .engine import matrix_path, notes
from .engine.column_check import apply
from .engine.convert import test_matrices
from .engine.checks import as_list
from .engine.dense import DenseNet, Layout, TrainingDiverged
from .engine.notes import OverridePath
from .engine.overrides import replaced_functions, replaced_methods
from .activations import sigmoid

__all__ = ["EpochResult", "Network", "OverridePath", "TrainingDiverged", "load", "sigmoid", "sigmoid_prime"]


class EpochResult(NamedTuple):
    epoch: int
    correct: Optional[int]  # None without test data
    total: Optional[int]
    order: np.ndarray  # the permutation of the training list after this epoch's shuffle

    def __repr__(self):  # the order's 50,000 indices say nothing when printed: their count only
        return (f"EpochResult(epoch={self.epoch}, correct={self.correct}, total={self.total}, "
                f"order=<{len(self.order):,} indices>)")


# What each of the book's steps calls: while a learner's code leaves these as they are, the kernels stand in
# for the step; once one is overridden (or the module's function replaced), the step runs the book's formulas
# through the user's code. Overriding feedforward or evaluate leaves training on the kernels.
_TRAINING_METHODS = ("update_mini_batch", "backprop", "cost_derivative")
_EVALUATION_METHODS = ("evaluate", "feedforward")
_FUNCTIONS = {"sigmoid": activations.sigmoid}  # (and this module's own sigmoid_prime, added below it)
_SIGMOID = activations.sigmoid

# What a learner's own cost_derivative makes of training (said once, where it is defined).
_OWN_COST_DERIVATIVE = (
    "backprop runs the book's formulas in numpy through it, on whole mini-batches (each column a sample), "
    "instead of the compiled kernels, which compute only the quadratic cost's (exact, slower).")


def unknown_keywords(update_mini_batch, args, keywords, owner, sgd):
    """``TypeError`` naming ``keywords`` (given to ``SGD``, passed on to ``update_mini_batch``) when
    ``update_mini_batch(*args, **keywords)`` cannot take them; None when it can (or none were given).
    ``sgd``: the face's ``SGD``, whose own parameters a misspelt keyword is matched against."""
    if not keywords:
        return None
    try:
        inspect.signature(update_mini_batch).bind(*args, **keywords)
        return None
    except (TypeError, ValueError):
        pass
    names = ", ".join(sorted(keywords))
    own = list(inspect.signature(sgd).parameters)
    typos = [f"{k} (did you mean {close[0]}?)" for k in sorted(keywords)
             for close in [difflib.get_close_matches(k, own, n=1, cutoff=0.8)] if close]
    return TypeError(
        f"SGD got keyword arguments the book's SGD does not take: {names}. "
        + (f"Misspelt? {'; '.join(typos)}. " if typos else "")
        + f"nnfast passes them on to update_mini_batch, and {owner}.update_mini_batch does not take them: add "
        f"them to your own update_mini_batch (see README, 'Changing the book's code')")

def sigmoid_prime(z):
    """Derivative of the sigmoid, as the book writes it: through this module's ``sigmoid``, so a learner who
    replaces ``sigmoid`` alone changes it too, exactly as in the book's code."""
    s = sigmoid(z)
    return s * (1 - s)


_FUNCTIONS["sigmoid_prime"] = sigmoid_prime


class Network(DenseNet):
    """A feedforward sigmoid network trained by mini-batch SGD on the quadratic cost.

    Changing the book's code is honoured: a subclass may override ``update_mini_batch``,
    ``backprop``, ``cost_derivative``, ``feedforward`` or ``evaluate``, and this module's
    ``sigmoid`` / ``sigmoid_prime`` may be replaced; each of the book's steps then calls your
    code exactly as the book's would (saying once on stderr that it left the kernels).
    Overriding ``feedforward`` or ``evaluate`` keeps training at full speed, and so does an
    ``update_mini_batch`` built on ``mini_batch_gradient`` (the kernels' summed gradient).

    ``Network([784, 30, 10])`` draws the biases, then the weights, from
    ``np.random.randn`` exactly as the book does. ``weights[l]`` is
    ``(sizes[l+1], sizes[l])`` and ``biases[l]`` is ``(sizes[l+1], 1)``: plain
    numpy arrays you may read or replace. Training leaves new arrays in both
    lists (as the book does); arrays you held before keep their old values.
    ``dtype`` may be ``np.float32`` for about twice the speed.
    """

    def __init__(self, sizes, dtype=np.float64):
        self._setup(sizes, dtype)
        self._draw(scaled=False)

    def __repr__(self):  # the call that builds such a net: Network([784, 30, 10])
        dtype = "" if self.dtype == np.float64 else f", dtype=np.{self.dtype}"
        return f"{type(self).__name__}({list(self.sizes)}{dtype})"

    # -- the book's API ----------------------------------------------------------

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, **update_keywords):
        """Train by mini-batch stochastic gradient descent, printing one line per epoch.

        ``training_data``: list (or iterable) of ``(x (sizes[0], 1), y (sizes[-1], 1))``.
        Each epoch shuffles it with ``random.shuffle`` (a list you pass ends in the
        same order the book leaves it), cuts consecutive mini-batches of
        ``mini_batch_size`` (the last may be shorter), and steps each by
        ``eta / len(mini_batch)``. With ``test_data`` (``(x, int label)`` pairs)
        prints ``Epoch j: correct / n`` after each epoch, else ``Epoch j complete``.
        Keyword arguments the book's ``SGD`` does not take (a learner's ``mu``)
        are passed on to ``update_mini_batch``, which must take them. Returns None.
        """
        for result in self.train_epochs(training_data, epochs, mini_batch_size, eta, test_data, **update_keywords):
            if result.correct is not None:
                print(f"Epoch {result.epoch}: {result.correct} / {result.total}", flush=True)
            else:
                print(f"Epoch {result.epoch} complete", flush=True)

    def train_epochs(self, training_data, epochs, mini_batch_size, eta, test_data=None, *,
                     first_epoch=0, order=None, **update_keywords):
        """``SGD`` that yields an ``EpochResult`` after each epoch instead of printing.

        After each yield ``weights`` and ``biases`` hold that epoch's result (a
        snapshot: training on does not change them). ``first_epoch`` and
        ``order`` (the permutation of ``training_data`` that earlier epochs
        left, as ``EpochResult.order`` gave it) continue an interrupted run
        exactly, given the ``random`` state it had. Raises ``TrainingDiverged``
        when a weight becomes NaN or infinite. ``update_keywords`` go to
        ``update_mini_batch`` (see ``SGD``).
        """
        error = unknown_keywords(self.update_mini_batch, (None, eta), update_keywords, type(self).__name__,
                                 Network.SGD)
        if error is not None:
            raise error
        data = as_list(training_data)
        test = None
        if test_data is not None:
            test_data = as_list(test_data)
            if test_data and not self._changed(_EVALUATION_METHODS, ("sigmoid",)):
                test = self._labelled_rows(test_data, "test_data")
        changed = self._changed(_TRAINING_METHODS, tuple(_FUNCTIONS))
        if changed:
            update = self._book_update(changed, lambda batch: self.update_mini_batch(batch, eta, **update_keywords))
            epochs_run = ((j, None, o) for j, o in self._book_epochs(
                data, epochs, mini_batch_size, update,
                first_epoch=first_epoch, order=order))
        else:
            epochs_run = ((j, params, o) for j, params, o, _ in self._epochs(
                data, epochs, mini_batch_size, eta, first_epoch=first_epoch, order=order))
        for j, params, order in epochs_run:
            if test is not None:
                correct = (self._count_correct(params, *test, reuse=True) if params is not None
                           else self._count_correct(self._pack(), *test))
            elif test_data:
                correct = self.evaluate(test_data)  # the user's evaluate or feedforward, as the book calls it
            else:
                correct = None
            yield EpochResult(j, correct, len(test_data) if test_data else None, order)

    # -- what a learner's code changed ---------------------------------------------

    def _changed(self, methods, functions):
        """The overridden ``methods`` and replaced module ``functions`` (names) among those given."""
        return (replaced_methods(self, Network, methods)
                + [f"network.{f}" for f in replaced_functions(globals(), {f: _FUNCTIONS[f] for f in functions})])

    def _note_functions(self):
        """Say once what a replaced module ``sigmoid`` / ``sigmoid_prime`` makes of the steps."""
        notes.activation_replaced("network", globals(), _FUNCTIONS)

    def _note_sample_loop(self):
        """The learner's ``update_mini_batch`` called ``backprop`` one sample at a time (see ``_book_update``)."""
        notes.own_method(self, "update_mini_batch", notes.SAMPLE_LOOP)

    def update_mini_batch(self, mini_batch, eta):
        """One gradient step on ``mini_batch`` (a list of ``(x, y)``): params -= eta/len * summed gradient."""
        if replaced_methods(self, Network, ("backprop", "cost_derivative")) or self._changed((), tuple(_FUNCTIONS)):
            mini_batch = as_list(mini_batch)
            nabla_b, nabla_w = self.mini_batch_gradient(mini_batch)
            self.weights, self.biases = matrix_path.step(self.weights, self.biases, nabla_b, nabla_w, eta,
                                                         len(mini_batch))
        else:
            self._step(mini_batch, eta)

    def mini_batch_gradient(self, mini_batch):
        """``(nabla_b, nabla_w)``: the cost's gradient summed over the ``(x, y)`` pairs of ``mini_batch``.

        What the book's ``update_mini_batch`` adds up one ``backprop`` at a
        time, in one call to the compiled kernels (chapter 2's "fully
        matrix-based" backpropagation): the block to build your own
        ``update_mini_batch`` on at full speed. A replaced ``backprop``,
        ``cost_derivative`` or module ``sigmoid`` is followed, as the book's
        loop would follow it.
        """
        mini_batch = as_list(mini_batch)
        if not mini_batch:
            raise ValueError("mini_batch is empty")
        if replaced_methods(self, Network, ("backprop",)):  # the book's loop over the user's backprop
            notes.own_method(self, "backprop", notes.OWN_BACKPROP)
            return matrix_path.summed_per_sample(self.backprop, mini_batch, self.weights, self.biases)
        if self._changed(("cost_derivative",), tuple(_FUNCTIONS)):
            return self.backprop(*matrix_path.columns(mini_batch))
        return self._batch_gradient(mini_batch)

    def backprop(self, x, y):
        """Gradient of the quadratic cost ``(nabla_b, nabla_w)``, lists shaped like ``biases`` and ``weights``.

        ``x (sizes[0], 1)`` and ``y (sizes[-1], 1)`` as in the book; a batch
        ``x (sizes[0], m)``, ``y (sizes[-1], m)`` gives the sum over its samples.
        """
        changed = self._changed(("cost_derivative",), tuple(_FUNCTIONS))
        if not changed:
            self._count_sample_gradient(x)
            return self._gradient(x, y)
        if "cost_derivative" in changed:
            notes.own_method(self, "cost_derivative", _OWN_COST_DERIVATIVE)
        if any(name.startswith("network.") for name in changed):  # its sigmoid or sigmoid_prime
            self._note_functions()
        sig, sig_prime = globals()["sigmoid"], globals()["sigmoid_prime"]
        x, y = np.asarray(x), np.asarray(y)
        x, y = (x.reshape(-1, 1), y.reshape(-1, 1)) if x.ndim == 1 else (x, y)
        return matrix_path.gradient(self.weights, self.biases, x, y, sig, sig_prime, self._output_error,
                                    who=f"{type(self).__name__}.cost_derivative")

    def _output_error(self, z, a, y):
        """The book's ``cost_derivative(a, y) * sigmoid_prime(z)`` for the columns of ``z``, each of the
        learner's functions called as the book's per-sample code would (``column_check.apply``)."""
        return (apply(self.cost_derivative, lambda: f"{type(self).__name__}.cost_derivative", a, y, shape=a.shape)
                * apply(globals()["sigmoid_prime"], "network.sigmoid_prime", z, shape=z.shape))

    def feedforward(self, a):
        """Output for input ``a``: ``(sizes[0], 1)`` gives ``(sizes[-1], 1)``; a batch ``(sizes[0], m)`` gives ``(sizes[-1], m)``."""
        if globals()["sigmoid"] is not _SIGMOID:
            self._note_functions()
            return matrix_path.output(self.weights, self.biases, a, globals()["sigmoid"])
        return super().feedforward(a)

    def evaluate(self, test_data):
        """Number of ``(x, label)`` pairs whose output's argmax equals the label (an int)."""
        test_data = as_list(test_data)
        if not test_data:
            return 0
        if self._changed(("feedforward",), ("sigmoid",)):
            return sum(int(np.argmax(self.feedforward(x)) == y) for x, y in test_data)  # the book's own line
        X, labels = test_matrices(test_data, self.sizes[0], self.sizes[-1])
        return self._count_correct(self._pack(), self._input_rows(X), labels)

    def cost_derivative(self, output_activations, y):
        """Partial derivatives of the quadratic cost with respect to the output activations: ``a - y``."""
        return output_activations - y

    def save(self, path, extra_arrays=None, **metadata):
        """Write this network to ``path``: ``.npz`` arrays + JSON metadata (see ``nnfast.models``), or, for
        a name ending in ``.json``, the book's network2 JSON (cost ``QuadraticCost``); atomically."""
        from . import models
        if str(path).lower().endswith(".json"):
            models.save_book_json(self, path, "QuadraticCost")
        else:
            models.save(self, path, extra_arrays, **metadata)


def load(path):
    """The ``Network`` saved at ``path``, with its JSON metadata as ``net.metadata``. Never unpickles."""
    from . import models
    meta, weights, biases, extras = models.read(path)
    net = Network.__new__(Network)
    net.sizes = list(meta["sizes"])
    net.num_layers = len(net.sizes)
    net.dtype = np.dtype(meta["dtype"])
    net._layout = Layout(net.sizes)
    net.weights, net.biases = weights, biases
    net.metadata = meta
    net.extra_arrays = extras
    return net
