"""The book's chapter 3 ``network2.py`` API, trained over whole mini-batches by numba kernels.

A drop-in for ``network2``: cross-entropy or quadratic cost, L2 regularisation,
the 1/sqrt(n_in) weight initialisation, per-epoch monitoring, early stopping
and the book's JSON files. The same names, arguments, printed lines, return
values and random draws as the book's module, so ``random.seed`` /
``np.random.seed`` give the book's network. The engine under it is chapter
1's (``nnfast.engine.dense``): the cost picks the output error, the L2 decay folds
into the update pass, and monitoring evaluates whole data sets in the kernels.
"""

import os
from typing import NamedTuple, Optional

import numpy as np

from . import activations
from .engine import matrix_path, notes
from .engine.checks import as_list, check_eta, check_int, check_lmbda
from .engine.dense import CROSS_ENTROPY, QUADRATIC, DenseNet, TrainingDiverged, kernels
from .engine.overrides import replaced_functions, replaced_methods
from .activations import sigmoid
from .network import unknown_keywords

__all__ = ["CrossEntropyCost", "EpochResult", "Network", "QuadraticCost", "TrainingDiverged", "load",
           "sigmoid", "sigmoid_prime", "vectorized_result"]



def sigmoid_prime(z):
    """Derivative of the sigmoid, as the book writes it: through this module's ``sigmoid``, so a learner who
    replaces ``sigmoid`` alone changes it too, exactly as in the book's code."""
    s = sigmoid(z)
    return s * (1 - s)


_BOOK_SIGMOID_PRIME = sigmoid_prime

class QuadraticCost:
    """C = 0.5 * ||a - y||^2 for one sample; its output error is (a - y) * sigmoid'(z)."""

    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C = sum of -y ln a - (1 - y) ln(1 - a); its output error is a - y (``z`` unused, kept for the interface)."""

    @staticmethod
    def fn(a, y):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # the book's nan_to_num handles 0 * log 0
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


_COSTS = {"QuadraticCost": QuadraticCost, "CrossEntropyCost": CrossEntropyCost}


def builtin_cost_code(cost):
    """The kernels' code for ``cost`` when it computes one of the book's two costs (the class, an instance,
    or a subclass that changes neither ``fn`` nor ``delta``); None for any other cost."""
    for known, code in ((QuadraticCost, QUADRATIC), (CrossEntropyCost, CROSS_ENTROPY)):
        if getattr(cost, "fn", None) is known.fn and getattr(cost, "delta", None) is known.delta:
            return code
    return None


def cost_name(cost):
    """The name a saved file gives the cost: its class's (the book writes ``cost.__name__``)."""
    return cost.__name__ if isinstance(cost, type) else type(cost).__name__


# What each of the book's steps calls (see nnfast.network): while these are the book's, the kernels stand in.
_TRAINING_METHODS = ("update_mini_batch", "backprop")
_MONITOR_METHODS = ("total_cost", "accuracy", "feedforward")
_FUNCTIONS = {"sigmoid": activations.sigmoid, "sigmoid_prime": _BOOK_SIGMOID_PRIME}
_SIGMOID = activations.sigmoid


def vectorized_result(j, n=10):
    """A ``(n, 1)`` column of zeros with 1.0 at ``j``: the book's target for digit ``j``."""
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


class EpochResult(NamedTuple):
    """One epoch's figures; None where not monitored. Accuracies are int counts, as the book's."""
    epoch: int
    training_cost: Optional[float]
    training_accuracy: Optional[int]
    evaluation_cost: Optional[float]
    evaluation_accuracy: Optional[int]
    order: np.ndarray  # the permutation of the training list after this epoch's shuffle

    def __repr__(self):  # the order's 50,000 indices say nothing when printed: their count only
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields[:-1])
        return f"EpochResult({shown}, order=<{len(self.order):,} indices>)"


class EarlyStopping:
    """The Python 3 port's ``early_stopping_n``: stop after ``n`` epochs without a strictly better accuracy."""

    def __init__(self, n):
        self.n = check_int(n, "early_stopping_n", 0)
        self.best = None
        self.stale = 0

    def stop(self, accuracy):
        """Record this epoch's accuracy; True when training should stop now."""
        if self.n == 0:
            return False
        if self.best is None or accuracy > self.best:
            self.best, self.stale = accuracy, 0
        else:
            self.stale += 1
        return self.stale >= self.n


class Network(DenseNet):
    """A sigmoid network trained by mini-batch SGD with a choice of cost and L2 regularisation.

    ``Network(sizes, cost=CrossEntropyCost)`` draws the book's default
    initialisation (every bias ``randn(y, 1)``, then every weight
    ``randn(y, x) / sqrt(x)``); ``large_weight_initializer()`` draws again
    without the scaling (chapter 1's). ``cost`` is ``CrossEntropyCost`` or
    ``QuadraticCost`` (the class or an instance), or any cost with the book's
    ``fn(a, y)`` and ``delta(z, a, y)``. ``weights`` and ``biases`` are plain numpy
    arrays you may read or replace. ``dtype`` may be ``np.float32`` for about
    twice the speed.

    Changing the book's code is honoured: a subclass may override
    ``update_mini_batch``, ``backprop``, ``feedforward``, ``accuracy`` or
    ``total_cost``, and this module's ``sigmoid`` / ``sigmoid_prime`` may be
    replaced; each step then calls your code as the book's would (saying once
    on stderr that it left the kernels). Overriding ``feedforward``,
    ``accuracy`` or ``total_cost`` keeps training at full speed, and so
    does an ``update_mini_batch`` built on ``mini_batch_gradient`` (the
    kernels' gradient of a whole mini-batch; see ``examples/``).
    """

    def __init__(self, sizes, cost=CrossEntropyCost, dtype=np.float64):
        self._setup(sizes, dtype)
        self.default_weight_initializer()
        if not (callable(getattr(cost, "fn", None)) and callable(getattr(cost, "delta", None))):
            raise TypeError(f"cost must have the book's interface, fn(a, y) and delta(z, a, y) (like "
                            f"network2.CrossEntropyCost), got {cost!r}")
        self.cost = cost

    def __repr__(self):  # the call that builds such a net: Network([784, 30, 10], cost=CrossEntropyCost)
        cost = getattr(self.cost, "__name__", None) or f"{type(self.cost).__name__}()"  # a class, or an instance
        dtype = "" if self.dtype == np.float64 else f", dtype=np.{self.dtype}"
        return f"{type(self).__name__}({list(self.sizes)}, cost={cost}{dtype})"

    def warm_up(self, monitoring=False):
        """Compile the training kernels now (see ``DenseNet.warm_up``); with ``monitoring`` also those the
        four monitors use, so their compile time is not counted in the first epoch. Returns seconds."""
        import time
        start = time.perf_counter()
        super().warm_up()
        if monitoring:
            out = np.zeros((1, self.sizes[-1]), dtype=self.dtype)
            kernels().cost_sum(out, np.eye(self.sizes[-1], dtype=self.dtype), np.zeros(1, dtype=np.int64),
                               self._cost_code or QUADRATIC)
            # (the monitors' forward passes are run_batches, compiled by super().warm_up() already)
        return time.perf_counter() - start

    @property
    def _cost_code(self):
        """The kernels' cost code, or None for a cost of the user's own (trained through its ``delta``)."""
        return builtin_cost_code(self.cost)

    # -- what a learner's code changed -------------------------------------------------

    def _changed(self, methods, functions, cost=None):
        """Overridden ``methods``, replaced module ``functions``, and ``cost`` ("delta" or "fn") when the
        cost is not one the kernels compute: the names, for the note."""
        changed = replaced_methods(self, Network, methods) + [
            f"network2.{f}" for f in replaced_functions(globals(), {f: _FUNCTIONS[f] for f in functions})]
        if cost and self._cost_code is None:
            changed.append(f"cost {cost_name(self.cost)}.{cost}")
        return changed

    def _note_sample_loop(self):
        """The learner's ``update_mini_batch`` called ``backprop`` one sample at a time (see ``_book_update``)."""
        notes.own_method(self, "update_mini_batch", notes.SAMPLE_LOOP)

    def default_weight_initializer(self):
        """Biases ~ N(0, 1) and weights ~ N(0, 1/n_in): all biases drawn first, then all weights."""
        self._draw(scaled=True)

    def large_weight_initializer(self):
        """Biases and weights ~ N(0, 1), chapter 1's initialisation, drawn in the same order."""
        self._draw(scaled=False)

    # -- training ----------------------------------------------------------------------

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, early_stopping_n=0, **update_keywords):
        """Train by mini-batch SGD with L2 regularisation ``lmbda``, printing the book's lines per epoch.

        Each epoch shuffles ``training_data`` with ``random.shuffle`` (a list you
        pass ends in the order the book leaves it), steps each mini-batch by
        ``w <- (1 - eta*lmbda/n) w - (eta/len(batch)) grad_w`` and
        ``b <- b - (eta/len(batch)) grad_b``, then prints ``Epoch j training
        complete``, the monitored costs and accuracies, and an empty line.
        Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``: per-epoch lists, empty where not monitored,
        accuracies as int counts. ``early_stopping_n > 0`` stops after that
        many epochs without a better accuracy (evaluation accuracy when
        monitored, else training accuracy). Keyword arguments the book's
        ``SGD`` does not take (a learner's ``mu``, ``schedule``) are passed on to
        ``update_mini_batch``, which must take them.
        """
        stopper = EarlyStopping(early_stopping_n)
        if stopper.n and not (monitor_evaluation_accuracy or monitor_training_accuracy):
            raise ValueError("early_stopping_n needs an accuracy to watch: set monitor_evaluation_accuracy=True "
                             "(with evaluation_data) or monitor_training_accuracy=True")
        data = as_list(training_data)
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = [], [], [], []
        n_eval = None
        for r in self.train_epochs(data, epochs, mini_batch_size, eta, lmbda, evaluation_data,
                                   monitor_evaluation_cost, monitor_evaluation_accuracy,
                                   monitor_training_cost, monitor_training_accuracy, **update_keywords):
            print(f"Epoch {r.epoch} training complete")
            if r.training_cost is not None:
                training_cost.append(r.training_cost)
                print(f"Cost on training data: {r.training_cost}")
            if r.training_accuracy is not None:
                training_accuracy.append(r.training_accuracy)
                print(f"Accuracy on training data: {r.training_accuracy} / {len(data)}")
            if r.evaluation_cost is not None:
                evaluation_cost.append(r.evaluation_cost)
            if r.evaluation_accuracy is not None:
                evaluation_accuracy.append(r.evaluation_accuracy)
            if monitor_evaluation_cost:
                print(f"Cost on evaluation data: {r.evaluation_cost}")
            if monitor_evaluation_accuracy:
                n_eval = n_eval if n_eval is not None else len(as_list(evaluation_data))
                print(f"Accuracy on evaluation data: {r.evaluation_accuracy} / {n_eval}")
            print(flush=True)
            watched = r.evaluation_accuracy if monitor_evaluation_accuracy else r.training_accuracy
            if stopper.stop(watched if watched is not None else 0):
                break
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def train_epochs(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
                     monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
                     monitor_training_cost=False, monitor_training_accuracy=False, *,
                     first_epoch=0, order=None, **update_keywords):
        """``SGD`` that yields an ``EpochResult`` after each epoch instead of printing.

        After each yield ``weights`` and ``biases`` hold that epoch's result.
        ``first_epoch`` and ``order`` (``EpochResult.order`` of the last
        finished epoch) continue an interrupted run exactly, given the
        ``random`` state it had. Raises ``TrainingDiverged`` when a weight
        becomes NaN or infinite. ``update_keywords`` go to ``update_mini_batch``
        (see ``SGD``).
        """
        lmbda = check_lmbda(lmbda)
        error = unknown_keywords(self.update_mini_batch, (None, eta, lmbda, 1), update_keywords, type(self).__name__,
                                 Network.SGD)
        if error is not None:
            raise error
        data = as_list(training_data)
        evaluation = None
        monitors_changed = self._changed(_MONITOR_METHODS, ("sigmoid",), "fn")
        if monitor_evaluation_cost or monitor_evaluation_accuracy:
            if evaluation_data is None:
                raise ValueError("monitoring evaluation cost or accuracy needs evaluation_data")
            evaluation_data = as_list(evaluation_data)
            if not monitors_changed:
                evaluation = self._monitor_rows(evaluation_data, "evaluation_data")
        changed = self._changed(_TRAINING_METHODS, tuple(_FUNCTIONS), "delta")
        if changed:
            update = self._book_update(changed, lambda batch: self.update_mini_batch(batch, eta, lmbda, n,
                                                                                     **update_keywords))
            eta, n = check_eta(eta), len(data)
            epochs_run = ((j, None, o, None) for j, o in self._book_epochs(
                data, epochs, mini_batch_size, update,
                first_epoch=first_epoch, order=order))
        else:
            epochs_run = self._epochs(data, epochs, mini_batch_size, eta, lmbda, first_epoch=first_epoch,
                                      order=order)
        labels = None
        for j, params, order, rows in epochs_run:
            t_cost = t_acc = e_cost = e_acc = None
            if params is None or monitors_changed:  # the book's monitors, through the user's code
                if monitor_training_cost:
                    t_cost = self.total_cost(data, lmbda)
                if monitor_training_accuracy:
                    t_acc = self.accuracy(data, convert=True)
                if monitor_evaluation_cost:
                    e_cost = self.total_cost(evaluation_data, lmbda, convert=True)
                if monitor_evaluation_accuracy:
                    e_acc = self.accuracy(evaluation_data)
                yield EpochResult(j, t_cost, t_acc, e_cost, e_acc, order)
                continue
            if monitor_training_cost or monitor_training_accuracy:
                X, x_rows, Y, y_rows = rows
                if labels is None:
                    labels = np.argmax(Y[y_rows], axis=1)  # the book's convert=True: one-hot targets to digits
                t_cost, t_acc = self._measure(params, X, x_rows, Y, y_rows, labels, lmbda, monitor_training_cost,
                                              reuse=True)
                t_cost = t_cost if monitor_training_cost else None
                t_acc = t_acc if monitor_training_accuracy else None
            if evaluation is not None:
                e_cost, e_acc = self._measure(params, *evaluation, lmbda, monitor_evaluation_cost, reuse=True)
                e_cost = e_cost if monitor_evaluation_cost else None
                e_acc = e_acc if monitor_evaluation_accuracy else None
            yield EpochResult(j, t_cost, t_acc, e_cost, e_acc, order)

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step on ``mini_batch``: ``w <- (1 - eta*lmbda/n) w - (eta/len) grad_w``, ``b <- b - (eta/len) grad_b``.

        ``n`` is the size of the whole training set (the L2 term is spread over it).
        """
        eta, lmbda, n = check_eta(eta), check_lmbda(lmbda), check_int(n, "n", 1)
        decay = 1.0 - eta * (lmbda / n)
        if not (replaced_methods(self, Network, ("backprop",)) or self._changed((), tuple(_FUNCTIONS), "delta")):
            self._step(mini_batch, eta, decay)
            return
        mini_batch = as_list(mini_batch)
        nabla_b, nabla_w = self.mini_batch_gradient(mini_batch)
        self.weights, self.biases = matrix_path.step(self.weights, self.biases, nabla_b, nabla_w, eta,
                                                     len(mini_batch), decay)

    def mini_batch_gradient(self, mini_batch):
        """``(nabla_b, nabla_w)``: the cost's gradient summed over the ``(x, y)`` pairs of ``mini_batch``.

        What the book's ``update_mini_batch`` adds up one ``backprop`` at a
        time, in one call to the compiled kernels (chapter 2's "fully
        matrix-based" backpropagation): the block to build your own
        ``update_mini_batch`` on at full speed (momentum, L1, schedules: see
        ``examples/``). A replaced ``backprop``, cost or module ``sigmoid`` is
        followed, as the book's loop would follow it. The L2 term is not in
        it: it is the update's (``(1 - eta * lmbda / n) * w``).
        """
        mini_batch = as_list(mini_batch)
        if not mini_batch:
            raise ValueError("mini_batch is empty")
        backprop_changed = replaced_methods(self, Network, ("backprop",))
        if backprop_changed:  # the book's loop: the user's backprop, one sample at a time
            notes.own_method(self, "backprop", notes.OWN_BACKPROP)
            return matrix_path.summed_per_sample(self.backprop, mini_batch, self.weights, self.biases)
        if self._changed((), tuple(_FUNCTIONS), "delta"):  # matrices, through the user's cost and activation
            return self.backprop(*matrix_path.columns(mini_batch))
        return self._batch_gradient(mini_batch)

    def backprop(self, x, y):
        """Gradient ``(nabla_b, nabla_w)`` of the cost for ``x (sizes[0], 1)``, ``y (sizes[-1], 1)``.

        The output error is ``cost.delta``; a batch ``(sizes[0], m)``,
        ``(sizes[-1], m)`` gives the sum over its samples.
        """
        changed = self._changed((), tuple(_FUNCTIONS), "delta")
        if not changed:
            self._count_sample_gradient(x)
            return self._gradient(x, y)
        if self._cost_code is None:
            notes.own_cost(self.cost, cost_name(self.cost))
        if any(name.startswith("network2.") for name in changed):  # its sigmoid or sigmoid_prime
            notes.activation_replaced("network2", globals(), _FUNCTIONS)
        x, y = np.asarray(x), np.asarray(y)
        x, y = (x.reshape(-1, 1), y.reshape(-1, 1)) if x.ndim == 1 else (x, y)
        return matrix_path.gradient(self.weights, self.biases, x, y, globals()["sigmoid"],
                                    globals()["sigmoid_prime"], self.cost.delta,
                                    who=f"cost {cost_name(self.cost)}.delta")

    def feedforward(self, a):
        """Output for input ``a``: ``(sizes[0], 1)`` gives ``(sizes[-1], 1)``; a batch ``(sizes[0], m)`` gives ``(sizes[-1], m)``."""
        if globals()["sigmoid"] is not _SIGMOID:
            notes.activation_replaced("network2", globals(), _FUNCTIONS)
            return matrix_path.output(self.weights, self.biases, a, globals()["sigmoid"])
        return super().feedforward(a)

    # -- monitoring ----------------------------------------------------------------------

    def _monitor_rows(self, data, what):
        """``(X, x_rows, Y, y_rows, labels)`` for ``data`` whose labels are ints or target columns."""
        first = data[0][1] if data else 0
        if np.ndim(first) == 0:  # int labels: targets are rows of the identity (the book's vectorized_result)
            X, labels = self._labelled_rows(data, what)
            return X, np.arange(len(labels), dtype=np.int64), np.eye(self.sizes[-1], dtype=self.dtype), labels, labels
        X, x_rows, Y, y_rows = self._training_rows(data)
        return X, x_rows, Y, y_rows, np.argmax(Y[y_rows], axis=1)

    def _measure(self, params, X, x_rows, Y, y_rows, labels, lmbda, with_cost=True, reuse=False):
        """``(total_cost or None, correct)`` over a data set, one forward pass in the kernels
        (``reuse``: a set measured every epoch, see ``_forward_rows``)."""
        n = len(x_rows)
        if n == 0:
            return (0.0 if with_cost else None), 0
        out = self._forward_rows(params, X, x_rows, reuse=reuse)
        correct = int(np.count_nonzero(np.argmax(out, axis=1) == labels))
        if not with_cost:
            return None, correct
        cost = kernels().cost_sum(out, Y, y_rows, self._cost_code) / n
        weights, _ = self._layout.split(params)
        penalty = sum(float(np.dot(w.ravel(), w.ravel())) for w in weights)
        return cost + 0.5 * (lmbda / n) * penalty, correct

    def accuracy(self, data, convert=False):
        """Number of samples whose output's argmax is the right digit.

        The book needs ``convert=True`` for training data (one-hot targets) and
        False for validation or test data (int labels); nnfast reads either
        form either way, so the flag is accepted and not needed.
        """
        data = as_list(data)
        if not data:
            return 0
        if self._changed(("feedforward",), ("sigmoid",)):  # the book's own line, through the user's feedforward
            return sum(int(np.argmax(self.feedforward(x)) == (y if np.ndim(y) == 0 else np.argmax(y)))
                       for x, y in data)
        X, x_rows, Y, y_rows, labels = self._monitor_rows(data, "data")
        return self._measure(self._pack(), X, x_rows, Y, y_rows, labels, 0.0, with_cost=False)[1]

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus ``0.5 * (lmbda / len(data)) * sum ||w||^2`` (the book's formula).

        Targets may be one-hot columns (training data) or int labels (the
        book's ``convert=True`` for validation or test data); either is read.
        """
        lmbda = check_lmbda(lmbda)
        data = as_list(data)
        if not data:
            raise ValueError("total_cost of an empty data set is undefined (the book divides by len(data))")
        if self._changed(("feedforward",), ("sigmoid",), "fn"):  # the book's loop, through the user's code
            cost = 0.0
            for x, y in data:
                a = self.feedforward(x)
                if np.ndim(y) == 0:
                    y = vectorized_result(y, self.sizes[-1])
                cost += self.cost.fn(a, y) / len(data)
            return cost + 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        X, x_rows, Y, y_rows, labels = self._monitor_rows(data, "data")
        return self._measure(self._pack(), X, x_rows, Y, y_rows, labels, lmbda)[0]

    # -- files -------------------------------------------------------------------------

    def save(self, filename, extra_arrays=None, **metadata):
        """Write the network to ``filename``: the book's JSON (``sizes``, ``weights``, ``biases``,
        ``cost``), which the book's own ``network2.load`` reads; a name ending in ``.npz`` gets
        nnfast's model format instead (arrays + metadata, for ``nnfast train --resume``).
        Both are written atomically: an interrupted save leaves the old file as it was."""
        from . import models
        if os.fspath(filename).lower().endswith(".npz"):
            models.save(self, filename, extra_arrays, cost=cost_name(self.cost), **metadata)
        else:
            models.save_book_json(self, filename, cost_name(self.cost))


def load(filename):
    """A ``Network`` from a file the book's ``network2.save`` wrote (JSON) or nnfast wrote (JSON or .npz).

    The cost is looked up by name among this module's two cost classes only.
    As in the book, building the network draws a default initialisation from
    numpy's RNG before the saved weights replace it. Never unpickles.
    """
    from . import models
    if models.is_json(filename):
        sizes, weights, biases, cost_name = models.read_book_json(filename)
        meta, extras, dtype = {}, {}, np.float64
    else:
        meta, weights, biases, extras = models.read(filename)
        sizes, cost_name, dtype = meta["sizes"], meta.get("cost", "QuadraticCost"), meta["dtype"]
    if cost_name not in _COSTS:
        raise models.ModelError(f"{filename}: unknown cost {cost_name!r}; expected one of {sorted(_COSTS)}")
    net = Network(sizes, cost=_COSTS[cost_name], dtype=dtype)
    net.weights, net.biases = weights, biases
    net.metadata, net.extra_arrays = meta, extras
    return net

