"""The book's chapter 6 ``network3.py`` API without Theano: convolutional nets on numba kernels.

``from nnfast import network3`` and the book's chapter 6 code runs: ``load_data_shared``, ``size``,
``Network``, ``ConvPoolLayer``, ``FullyConnectedLayer``, ``SoftmaxLayer``, the activations ``linear``,
``ReLU``, ``sigmoid``, ``tanh``, dropout and the L2 term, with the book's initialisation (drawn from
numpy's global RNG as each layer is built), its fixed-order mini-batches and its printed lines.
What the book leaves as problems is here too: ``net.save`` / ``network3.load`` (no pickle),
``net.accuracy(data)``, ``net.feedforward(X)`` and ``net.predict(X)``.

This module is the book's API, its checks and its printed lines; the arithmetic is in ``nnfast.engine``:
a layer's own in ``conv_layer`` and ``fc_layers``, a net's leading conv layers in ``conv_parts`` (compiled,
whole samples a thread). Everything is float32, as the book's Theano code (``dtype=np.float64`` on
``Network`` is for tests and gradient checks).
"""

import json
import math
import os
import time

import numpy as np

from .engine import net_runs
from .engine.blas_threads import Chooser, fixed_by_user, held, limited
from .engine.checks import check_labels

__all__ = ["ConvPoolLayer", "FullyConnectedLayer", "Network", "ReLU", "SoftmaxLayer", "linear", "load",
           "load_data_shared", "sigmoid", "size", "tanh"]


# -- activations: the book's four, each with its derivative in terms of its output -------------

def linear(z):
    return z


def ReLU(z):
    return np.maximum(z, 0)


def sigmoid(z):
    from .activations import sigmoid as safe_sigmoid
    return safe_sigmoid(z)


def tanh(z):
    return np.tanh(z)


_SLOPES = {  # d act / d z, from the activation's output a
    linear: lambda a: np.ones_like(a),
    ReLU: lambda a: (a > 0).astype(a.dtype),
    sigmoid: lambda a: a * (1 - a),
    tanh: lambda a: 1 - a * a,
}
_NAMES = {linear: "linear", ReLU: "ReLU", sigmoid: "sigmoid", tanh: "tanh"}
_BY_NAME = {v: k for k, v in _NAMES.items()}


def _check_activation(fn, where):
    if fn not in _SLOPES:
        raise ValueError(f"{where}: activation_fn must be network3.linear, ReLU, sigmoid or tanh, got {fn!r}")
    return fn


def _positive_ints(values, count, what):
    try:
        values = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be {count} whole numbers, got {values!r}") from None
    if len(values) != count or any(v < 1 for v in values):
        raise ValueError(f"{what} must be {count} whole numbers >= 1, got {values!r}")
    return values


def _check_dropout(p, where):
    if not (isinstance(p, (int, float)) and 0.0 <= p < 1.0):
        raise ValueError(f"{where}: p_dropout must be in [0, 1), got {p!r}")
    return float(p)


# -- Theano's shared variables, as far as the book's scripts use them ---------------------

class SharedArray(np.ndarray):
    """A numpy array that also answers what the book's ``conv.py`` asks of Theano's shared variables:
    ``eval()`` and ``get_value()`` give the values (a plain array), ``set_value(v)`` writes them in place.

    ``load_data_shared``'s arrays and every layer's ``w`` and ``b`` are these; any arithmetic on them
    gives plain numpy arrays, and the compiled kernels read them as the arrays they are.
    """

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        obj = obj if type(obj) is np.ndarray else obj.view(np.ndarray)
        return obj[()] if return_scalar else obj

    def eval(self):
        """The values, as Theano's ``shared.eval()`` gives them (a plain array sharing this one's memory)."""
        return self.view(np.ndarray)

    def get_value(self, borrow=False):
        """A copy of the values (``borrow=True``: the array itself, as Theano allows)."""
        values = self.view(np.ndarray)
        return values if borrow else values.copy()

    def set_value(self, value, borrow=False):
        """Write ``value`` (the same shape) into this array, so that every reference to it sees the change."""
        value = np.asarray(value)
        if value.shape != self.shape:
            raise ValueError(f"set_value needs an array of shape {self.shape}, got {value.shape}")
        self[...] = value


def shared(array, dtype=None):
    """``array`` as a ``SharedArray`` (no copy when it already has the dtype)."""
    return np.asarray(array, dtype=dtype).view(SharedArray)


# -- data --------------------------------------------------------------------------------

def load_data_shared(filename=None, expanded=False):
    """``[training, validation, test]``, each ``(X float32 (n, 784), y int64 (n,))`` (no Theano shared variables).

    ``filename`` may name the book's ``mnist.pkl.gz`` or any file or folder ``nnfast`` reads;
    ``expanded=True`` replaces the training set by the book's 250,000-image expanded set.
    """
    from . import datasets, mnist_loader
    dataset = datasets.load_dataset(filename)
    training, validation, test = mnist_loader.split(dataset)
    if expanded:
        from .datasets.expand import expanded_mnist
        canonical = dataset.name == "MNIST" and bool(dataset.verified)  # only verified MNIST's is cached
        images, labels = expanded_mnist(datasets.home(), dataset.digits, canonical)
        training = (np.multiply(images, np.float32(1 / 256), dtype=np.float32), labels.astype(np.int64))
    # shared: conv.py's plot_errors calls test_data[0].eval(), as on Theano's shared variables
    return [(shared(x), shared(y)) for x, y in (training, validation, test)]


def size(data):
    """The number of samples in ``data`` (a ``(X, y)`` pair), as the book's ``size``."""
    return data[0].shape[0]


# -- layers ------------------------------------------------------------------------------

class ConvPoolLayer:
    """A 'valid' convolution (flipped filters, as Theano's conv2d) then max-pooling (ignore_border),
    then bias and activation. ``filter_shape`` (filters, input maps, height, width); ``image_shape``
    (mini-batch size, input maps, height, width). Never drops out."""

    def __init__(self, filter_shape, image_shape, poolsize=(2, 2), activation_fn=sigmoid):
        self.filter_shape = _positive_ints(filter_shape, 4, "filter_shape")
        self.image_shape = _positive_ints(image_shape, 4, "image_shape")
        self.poolsize = _positive_ints(poolsize, 2, "poolsize")
        self.activation_fn = _check_activation(activation_fn, "ConvPoolLayer")
        F, C, fh, fw = self.filter_shape
        _, C_img, H, W = self.image_shape
        if C != C_img:
            raise ValueError(f"ConvPoolLayer: filter_shape {self.filter_shape} takes {C} input maps but "
                             f"image_shape {self.image_shape} has {C_img}")
        if fh > H or fw > W:
            raise ValueError(f"ConvPoolLayer: a {fh}x{fw} filter is larger than its {H}x{W} image")
        ph, pw = self.poolsize
        if ph > H - fh + 1 or pw > W - fw + 1:
            raise ValueError(f"ConvPoolLayer: a {ph}x{pw} pool is larger than its {H - fh + 1}x{W - fw + 1} "
                             "feature maps")
        self.p_dropout = 0.0
        n_out = F * fh * fw / (ph * pw)
        self.w = shared(np.random.normal(0, math.sqrt(1.0 / n_out), self.filter_shape), np.float32)
        self.b = shared(np.random.normal(0, 1.0, (F,)), np.float32)
        self.params = [self.w, self.b]

    def __repr__(self):  # as the book's scripts build it
        act = "" if self.activation_fn is sigmoid else f", activation_fn={_NAMES[self.activation_fn]}"
        return (f"ConvPoolLayer(filter_shape={self.filter_shape}, image_shape={self.image_shape}, "
                f"poolsize={self.poolsize}{act})")

    @property
    def n_in(self):
        return int(np.prod(self.image_shape[1:]))

    @property
    def out_shape(self):
        """(maps, height, width) of the pooled output."""
        F, _, fh, fw = self.filter_shape
        _, _, H, W = self.image_shape
        ph, pw = self.poolsize
        return F, (H - fh + 1) // ph, (W - fw + 1) // pw

    @property
    def n_out(self):
        return int(np.prod(self.out_shape))

    def forward(self, x, mask_rng=None):
        """``(output (m, n_out), cache)`` for inputs ``x (m, n_in)``; the same in training and inference
        (``nnfast.engine.conv_layer``: im2col, one product with the flipped filters, pooling)."""
        from .engine import conv_layer
        return conv_layer.forward(x, self.w, self.b, self.image_shape, self.poolsize,
                                  conv_layer.CODES[_NAMES[self.activation_fn]])

    def backward(self, cache, d_out, want_dx):
        """``(dw, db, dx or None)`` from the gradient ``d_out (m, n_out)`` at this layer's output."""
        from .engine import conv_layer
        return conv_layer.backward(cache, d_out, want_dx)


class _DenseLayer:
    """What the fully connected and softmax layers share: dropout on the input, a matrix product
    (``nnfast.engine.fc_layers``)."""

    def __repr__(self):  # as the book's scripts build it: FullyConnectedLayer(n_in=2880, n_out=100)
        act = ("" if self.activation_fn in (None, sigmoid) else
               f", activation_fn={_NAMES.get(self.activation_fn, self.activation_fn)}")
        drop = f", p_dropout={self.p_dropout:g}" if self.p_dropout else ""
        return f"{type(self).__name__}(n_in={self.n_in}, n_out={self.n_out}{act}{drop})"

    def _weighted(self, x, mask_rng, product=None):
        from .engine import fc_layers
        return fc_layers.weighted(x, self.w, self.b, self.p_dropout, mask_rng, product)

    def _input_gradients(self, xd, mask, dz, want_dx):
        from .engine import fc_layers
        return fc_layers.input_gradients(xd, mask, dz, self.w, want_dx)


class FullyConnectedLayer(_DenseLayer):
    """``activation_fn(x w + b)`` with ``w (n_in, n_out)``; dropout ``p_dropout`` on its input."""

    def __init__(self, n_in, n_out, activation_fn=sigmoid, p_dropout=0.0):
        self.n_in, self.n_out = _positive_ints((n_in, n_out), 2, "FullyConnectedLayer n_in, n_out")
        self.activation_fn = _check_activation(activation_fn, "FullyConnectedLayer")
        self.p_dropout = _check_dropout(p_dropout, "FullyConnectedLayer")
        # the book draws N(0, 1/n_out): its issue #30 says 1/n_in was meant; kept, for the book's results
        self.w = shared(np.random.normal(0, math.sqrt(1.0 / self.n_out), (self.n_in, self.n_out)), np.float32)
        self.b = shared(np.random.normal(0, 1.0, (self.n_out,)), np.float32)
        self.params = [self.w, self.b]

    def forward(self, x, mask_rng=None, product=None):
        from .engine import fc_layers
        z, xd, mask = self._weighted(x, mask_rng, product)
        out = fc_layers.activate(z.astype(x.dtype, copy=False), _NAMES[self.activation_fn], self.activation_fn)
        return out, (xd, mask, out)

    def backward(self, cache, d_out, want_dx):
        xd, mask, _ = cache
        return self._input_gradients(xd, mask, self._dz(cache, d_out), want_dx)

    def _dz(self, cache, d_out):
        """The gradient at the weighted input, from the gradient ``d_out (m, n_out)`` at the output."""
        return d_out * _SLOPES[self.activation_fn](cache[2])


class SoftmaxLayer(_DenseLayer):
    """Softmax outputs with the log-likelihood cost; weights and biases start at zero, as the book's."""

    activation_fn = None

    def __init__(self, n_in, n_out, p_dropout=0.0):
        self.n_in, self.n_out = _positive_ints((n_in, n_out), 2, "SoftmaxLayer n_in, n_out")
        self.p_dropout = _check_dropout(p_dropout, "SoftmaxLayer")
        self.w = shared(np.zeros((self.n_in, self.n_out)), np.float32)
        self.b = shared(np.zeros((self.n_out,)), np.float32)
        self.params = [self.w, self.b]

    def forward(self, x, mask_rng=None, product=None):
        from .engine import fc_layers
        z, xd, mask = self._weighted(x, mask_rng, product)
        out = fc_layers.softmax(z.astype(x.dtype, copy=False))
        return out, (xd, mask, out)

    def backward(self, cache, labels, want_dx):
        """The gradient of the mean log-likelihood over the batch: (softmax - one-hot) / m."""
        xd, mask, _ = cache
        return self._input_gradients(xd, mask, self._dz(cache, labels), want_dx)

    def _dz(self, cache, labels):
        """The gradient at the weighted input: (softmax - one-hot) / m."""
        from .engine import fc_layers
        return fc_layers.softmax_dz(cache[2], labels)


# -- the network ---------------------------------------------------------------------------

# layers whose gradients and step run fused in ``Network._layers_step`` (a subclass's own backward is honoured)
_FUSED_BACKWARDS = (FullyConnectedLayer.backward, SoftmaxLayer.backward)
# layers whose training product may skip zero inputs (``nnfast.engine.fc_layers.SparseProduct``)
_FUSED_FORWARDS = (FullyConnectedLayer.forward, SoftmaxLayer.forward)


class Network:
    """The layers in order, trained by plain mini-batch SGD on the log-likelihood of the last
    (softmax) layer, as the book's ``network3.Network``."""

    def __repr__(self):  # the book's own lines that build it, a layer a line
        dtype = "" if self.dtype == np.float32 else f", dtype=np.{self.dtype}"
        layers = ",\n    ".join(map(repr, self.layers))
        return f"{type(self).__name__}([\n    {layers}], mini_batch_size={self.mini_batch_size}{dtype})"

    def __init__(self, layers, mini_batch_size, dtype=np.float32):
        self.layers = list(layers)
        self.mini_batch_size = int(mini_batch_size)
        self.dtype = np.dtype(dtype)
        if not self.layers:
            raise ValueError("Network needs at least one layer")
        if self.mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be >= 1, got {mini_batch_size!r}")
        if not isinstance(self.layers[-1], SoftmaxLayer):
            raise ValueError("the last layer must be a SoftmaxLayer: the cost is its log-likelihood")
        for i, layer in enumerate(self.layers):
            if isinstance(layer, ConvPoolLayer) and layer.image_shape[0] != self.mini_batch_size:
                raise ValueError(f"layer {i} (ConvPoolLayer): image_shape {layer.image_shape} is for mini-batches "
                                 f"of {layer.image_shape[0]}, the network's are {self.mini_batch_size}")
            if i and layer.n_in != self.layers[i - 1].n_out:
                raise ValueError(f"layer {i} ({type(layer).__name__}) takes {layer.n_in} inputs but layer {i - 1} "
                                 f"({type(self.layers[i - 1]).__name__}) gives {self.layers[i - 1].n_out}")
        if self.dtype != np.float32:
            for layer in self.layers:
                layer.w, layer.b = shared(layer.w, self.dtype), shared(layer.b, self.dtype)
                layer.params = [layer.w, layer.b]
        self.params = [p for layer in self.layers for p in (layer.w, layer.b)]
        # the book's dropout streams are seeded with RandomState(0).randint(999999): fixed from run to run
        self._mask_rng = np.random.RandomState(np.random.RandomState(0).randint(999999))

    # -- passes ------------------------------------------------------------------------------

    def _forward(self, x, train):
        caches = []
        a = x
        for layer in self.layers:
            a, cache = layer.forward(a, self._mask_rng if train else None)
            caches.append(cache)
        return a, caches

    def gradients(self, x, y, lmbda=0.0, num_training_batches=1):
        """``(cost, [(dw, db) per layer])`` of the book's cost for one mini-batch ``x (m, 784)``,
        ``y (m,)``, on the dropout path: mean log-likelihood + 0.5 lmbda sum(w^2) / num_training_batches."""
        x = np.asarray(x, dtype=self.dtype)
        y = np.asarray(y, dtype=np.int64)
        out, caches = self._forward(x, train=True)
        with np.errstate(divide="ignore"):
            cost = -float(np.mean(np.log(out[np.arange(len(y)), y])))
        if lmbda:  # sum(w^2) reads every weight: only when it counts (a 1000x1000 layer is 4 MB a step)
            l2 = sum(float(np.vdot(layer.w, layer.w)) for layer in self.layers)
            cost += 0.5 * lmbda * l2 / num_training_batches
        grads = [None] * len(self.layers)
        d = y
        for i in range(len(self.layers) - 1, -1, -1):
            dw, db, d = self.layers[i].backward(caches[i], d, want_dx=i > 0)
            dw = dw.astype(self.dtype, copy=False)
            if lmbda:
                dw += self.dtype.type(lmbda / num_training_batches) * self.layers[i].w  # dw is ours: in place
            grads[i] = (dw, db.astype(self.dtype, copy=False))
        return cost, grads

    def _step(self, x, y, eta, lmbda, num_training_batches, threads=None):
        """One mini-batch of the book's SGD: ``param -= eta * grad`` at the same point as ``gradients``
        computes them; returns the cost as ``gradients`` does. A net of nnfast's own layers with convolutional
        layers at the front takes one compiled call (``nnfast.engine.net_step``); else ``_layers_step``."""
        threads = self._threads_for_step() if threads is None else threads  # given: asked by engine.net_runs
        start = time.perf_counter()
        x = np.asarray(x, dtype=self.dtype)
        y = np.asarray(y, dtype=np.int64)
        step = self.dtype.type(eta)
        keep = self.dtype.type(1 - eta * lmbda / num_training_batches)  # w - eta (dw + lmbda/n w)
        whole, done = None if self._warming else self._net_step(), None
        if whole is not None:
            with held(1):
                done = whole.step(x, y, self._mask_rng, step, keep, lmbda != 0, threads)
        cost, l2 = done if done is not None else self._layers_step(x, y, step, keep, lmbda != 0, threads)
        cost += 0.5 * lmbda * l2 / num_training_batches
        if self._chooser is not None:
            self._chooser.took(time.perf_counter() - start)
        return cost

    def _layers_step(self, x, y, step, keep, want_l2, threads):
        """``(cost, sum(w^2) when want_l2)``, the step on the layers' own code. Each layer's backward pass reads
        only its own weights, so each layer is stepped as soon as its gradients are known; fully connected and
        softmax layers do both in one pass over their weights (``nnfast.engine.kernels.dense_step``). The
        convolutional layers at the front run in ``nnfast.engine.conv_parts``: each thread whole samples."""
        convs = self._conv_engine()
        if self._warming and convs is not None:
            convs = convs.plain()  # the layers' own code: its few small kernels compile in a second or two
        first = len(convs.layers) if convs is not None else 0
        with held(1 if convs is not None else threads):
            a, caches = x, [None] * first
            if convs is not None:
                from .engine.split_threads import parts
                a = convs.forward(x, parts(len(y), threads))
            from .engine import conv_parts, fc_layers
            product = None if self._warming else fc_layers.SparseProduct(threads, self.dtype)  # warming: BLAS, nothing compiles
            for layer in self.layers[first:]:
                if type(layer).forward in _FUSED_FORWARDS:
                    a, cache = layer.forward(a, self._mask_rng, product)
                else:
                    a, cache = layer.forward(a, self._mask_rng)
                caches.append(cache)
            with np.errstate(divide="ignore"):
                cost = -float(np.mean(np.log(a[np.arange(len(y)), y])))
            d, l2 = y, 0.0
            for i in range(len(self.layers) - 1, first - 1, -1):
                layer = self.layers[i]  # a subclass's own backward is honoured: the fused step is the book's
                fused = not self._warming and type(layer).backward in _FUSED_BACKWARDS
                d, layer_l2 = fc_layers.layer_step(layer, caches[i], d, i > 0, step, keep, want_l2, threads, fused)
                l2 += layer_l2
            if convs is not None:
                l2 += conv_parts.step_layers(convs.layers, convs.backward(d), step, keep, want_l2)
        return cost, l2

    def _net_step(self):
        """``nnfast.engine.net_step.NetStep`` for a net of nnfast's own layers (none subclassed) whose leading
        convolutional layers run compiled; else None. Remade when a learner changed a layer's activation or p."""
        convs = self._conv_engine()
        dense = self.layers[len(convs.layers):] if getattr(convs, "runs_conv_stack", False) else ()
        from .engine.net_step import CODES, SLOTS
        if not dense or len(dense) > SLOTS or any(type(L) not in (FullyConnectedLayer, SoftmaxLayer) for L in dense):
            return None
        spec = [(L, None if type(L) is SoftmaxLayer else _NAMES.get(L.activation_fn), L.p_dropout) for L in dense]
        if any(name not in CODES for _, name, _ in spec[:-1]) or type(dense[-1]) is not SoftmaxLayer:
            return None
        engine = getattr(self, "_whole", None)
        if engine is None or engine.convs is not convs or engine.spec != spec:
            from .engine.net_step import NetStep
            engine = self._whole = NetStep(convs, spec, self.dtype)
        return engine

    def _conv_engine(self):
        """``nnfast.engine.conv_parts``' engine for the leading layers that are nnfast's own ConvPoolLayers
        (never dropped out, no subclass's code), or None when the net starts otherwise."""
        count = 0
        while count < len(self.layers) and type(self.layers[count]) is ConvPoolLayer:
            count += 1
        if count == 0:
            return None
        engine = getattr(self, "_convs", None)
        if engine is None or len(engine.layers) != count or any(a is not b for a, b in zip(engine.layers, self.layers)):
            from .engine import conv_parts
            engine = self._convs = conv_parts.for_layers(self.layers[:count], self.dtype)
        return engine

    def _threads_for_step(self):
        """Threads for the next mini-batch (parts of it, or BLAS threads for a net without convolutional
        layers): the user's count when fixed (NNFAST_THREADS, --threads), else what
        ``nnfast.engine.blas_threads.Chooser`` measures pays on this machine now."""
        from .engine.dense import compute_threads
        fixed = fixed_by_user()
        self._warming = False
        if not getattr(self, "_parallel_ready", False):
            # cold numba cache: one thread, the layers' own code, until a helper has compiled the step (parallel_start)
            from .engine import parallel_start
            wanted, convs = fixed or compute_threads(), self._conv_engine()
            if parallel_start.threads(wanted, self.dtype, convs) == 1:
                self._chooser, self._warming = None, wanted > 1 or not parallel_start.one_thread_ready(self.dtype, convs)
                return 1
            self._parallel_ready = True
        if fixed is not None:
            self._chooser = None
            return fixed
        if getattr(self, "_chooser", None) is None:
            self._chooser = Chooser(compute_threads())
        return self._chooser.threads()

    def feedforward(self, X):
        """The last layer's outputs ``(n, n_out)`` for inputs ``X (n, 784)`` (inference: no dropout).

        The leading convolutional layers run in ``nnfast.engine.conv_parts`` on every core (``compute_threads``),
        100 rows a pass (their patch matrix stays a few MB); the layers after them 1,000 rows a product."""
        from .engine import parallel_start
        from .engine.dense import compute_threads
        from .engine.split_threads import parts
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.layers[0].n_in:
            raise ValueError(f"inputs have shape {X.shape}; expected (n, {self.layers[0].n_in})")
        wanted, convs = compute_threads(), self._conv_engine()
        threads = parallel_start.threads(wanted, self.dtype, convs, training=False)
        cold = threads < wanted or threads == 1 and not parallel_start.one_thread_ready(self.dtype, convs)
        convs = convs.plain() if cold and convs is not None else convs  # as in _step, on one thread too
        first = len(convs.layers) if convs is not None else 0
        outs = []
        # with convolutional layers, one BLAS thread throughout: numba's threads, which take the parts,
        # wait spinning a while after each, and BLAS threads for the products after them ran 1.3x slower
        with limited(1 if convs is not None else threads):
            for k in range(0, len(X), 1000):
                a = X[k:k + 1000]
                if convs is not None:
                    a = np.concatenate([convs.forward(a[j:j + 100], parts(len(a[j:j + 100]), threads)).copy()
                                        for j in range(0, len(a), 100)])
                for layer in self.layers[first:]:
                    a, _ = layer.forward(a, None)
                outs.append(a)
        return np.concatenate(outs) if outs else np.empty((0, self.layers[-1].n_out), dtype=self.dtype)

    def predict(self, X):
        """The class (argmax of the outputs) for each row of ``X (n, 784)``."""
        return np.argmax(self.feedforward(X), axis=1)

    def accuracy(self, data):
        """The share of ``data`` (an ``(X, y)`` pair) classified right, over every sample."""
        X, y = data
        return float(np.mean(self.predict(X) == np.asarray(y))) if len(y) else 0.0

    def _batch_accuracy(self, data, m):
        """The book's figure: the mean over floor(n / m) mini-batches of each batch's accuracy."""
        X, y = data
        batches = len(y) // m
        if batches == 0:
            return 0.0
        hits = self.predict(X[:batches * m]) == np.asarray(y[:batches * m])
        return float(np.mean(hits.reshape(batches, m).mean(axis=1)))

    # -- training ----------------------------------------------------------------------------

    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data, test_data, lmbda=0.0):
        """Train by mini-batch SGD as the book does: floor(n / m) mini-batches in index order each
        epoch, no shuffling, ``param -= eta * grad``; prints the book's lines and returns None."""
        for line in self.train(training_data, epochs, mini_batch_size, eta, validation_data, test_data, lmbda):
            print(line, flush=True)

    def train(self, training_data, epochs, mini_batch_size, eta, validation_data, test_data, lmbda=0.0, *,
              first_epoch=0, best=None, epoch_done=None):
        """``SGD`` as a generator of the lines it prints, so callers can time or log them.

        ``first_epoch`` and ``best`` (``net.best`` as saved: best validation accuracy, its iteration,
        the test accuracy then) continue an interrupted run; ``epoch_done(j)`` is called after each
        epoch's lines (e.g. to save the network)."""
        if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
            raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
        if not (isinstance(lmbda, (int, float)) and math.isfinite(lmbda) and lmbda >= 0):
            raise ValueError(f"lmbda must be a finite number >= 0, got {lmbda!r}")
        if int(epochs) != epochs or epochs < 0:
            raise ValueError(f"epochs must be a whole number >= 0, got {epochs!r}")
        m = self.mini_batch_size
        if mini_batch_size != m:
            raise ValueError(f"mini_batch_size {mini_batch_size} differs from the network's {m} "
                             "(its ConvPoolLayers were built for that size)")
        X, y = training_data
        X = np.asarray(X, dtype=self.dtype)
        num_training_batches = size(training_data) // m
        if num_training_batches == 0:
            raise ValueError(f"{size(training_data)} training samples make no mini-batch of {m}")
        check_labels(y[:num_training_batches * m], self.layers[-1].n_out, "training")  # every path, not just the kernel's
        best_validation, best_iteration, test_accuracy = best if best is not None else (0.0, 0, 0.0)
        self.best = (best_validation, best_iteration, test_accuracy)
        for epoch in range(int(first_epoch), int(epochs)):
            start = 0
            while start < num_training_batches:
                iteration = num_training_batches * epoch + start
                if iteration % 1000 == 0:
                    yield f"Training mini-batch number {iteration}"
                stop = min(num_training_batches, start + 1000 - iteration % 1000)  # to the next printed line
                # one BLAS limit for the stretch, not one a step; released while the caller has a line. Runs of
                # mini-batches in one compiled call where the net's step is one (engine.net_runs), else each _step
                with held(1 if self._conv_engine() is not None else None):
                    net_runs.train_steps(self, Network, X, y, start, stop, eta, lmbda, num_training_batches, epoch)
                start = stop
            validation_accuracy = self._batch_accuracy(validation_data, m)
            self.last_validation_accuracy = validation_accuracy  # for callers that track every epoch (sweeps)
            yield f"Epoch {epoch}: validation accuracy {validation_accuracy:.2%}"
            if validation_accuracy >= best_validation:
                yield "This is the best validation accuracy to date."
                best_validation, best_iteration = validation_accuracy, num_training_batches * (epoch + 1) - 1
                if test_data:
                    test_accuracy = self._batch_accuracy(test_data, m)
                    yield f"The corresponding test accuracy is {test_accuracy:.2%}"
            self.best = (best_validation, best_iteration, test_accuracy)
            if epoch_done is not None:
                epoch_done(epoch)
        self.best_validation_accuracy, self.best_iteration, self.test_accuracy = (
            best_validation, best_iteration, test_accuracy)
        yield "Finished training network."
        yield f"Best validation accuracy of {best_validation:.2%} obtained at iteration {best_iteration}"
        yield f"Corresponding test accuracy of {test_accuracy:.2%}"

    # -- files -------------------------------------------------------------------------------

    def save(self, path, **metadata):
        """Write the network to ``path`` (.npz arrays + JSON description of the layers and ``metadata``;
        no pickle), atomically."""
        import io

        from ._files import write_atomically
        spec = {"format": "nnfast-network3", "format_version": 1, "mini_batch_size": self.mini_batch_size,
                "dtype": self.dtype.name, "layers": [_describe(layer) for layer in self.layers],
                "metadata": metadata}
        arrays = {}
        for i, layer in enumerate(self.layers):
            if not (np.all(np.isfinite(layer.w)) and np.all(np.isfinite(layer.b))):
                raise ValueError(f"refusing to save: layer {i} holds NaN or infinity")
            arrays[f"w_{i}"], arrays[f"b_{i}"] = layer.w, layer.b
        blob = io.BytesIO()
        np.savez(blob, network3=np.array(json.dumps(spec)), **arrays)
        write_atomically(os.fspath(path), lambda f: f.write(blob.getvalue()))


def _describe(layer):
    if isinstance(layer, ConvPoolLayer):
        return {"type": "ConvPoolLayer", "filter_shape": list(layer.filter_shape), "image_shape": list(layer.image_shape),
                "poolsize": list(layer.poolsize), "activation": _NAMES[layer.activation_fn]}
    if isinstance(layer, FullyConnectedLayer):
        return {"type": "FullyConnectedLayer", "n_in": layer.n_in, "n_out": layer.n_out,
                "activation": _NAMES[layer.activation_fn], "p_dropout": layer.p_dropout}
    return {"type": "SoftmaxLayer", "n_in": layer.n_in, "n_out": layer.n_out, "p_dropout": layer.p_dropout}


def load(path):
    """The ``Network`` saved at ``path`` by ``Network.save``; every field checked, nothing unpickled."""
    from .models import ModelError
    from .datasets.formats import ARCHIVE_ERRORS
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "network3" not in z.files:
                raise ModelError(f"{path}: not a network3 model")
            spec = json.loads(str(z["network3"]))
            arrays = {k: z[k] for k in z.files if k != "network3"}
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    except ModelError:
        raise
    except (*ARCHIVE_ERRORS, KeyError) as exc:
        raise ModelError(f"{path}: damaged or not a network3 model ({type(exc).__name__}: {exc})") from None
    state = np.random.get_state()  # building the layers draws; loading should not move the caller's RNG
    try:
        layers = []
        for i, d in enumerate(spec.get("layers", [])):
            kind = d.get("type")
            if kind == "ConvPoolLayer":
                layer = ConvPoolLayer(d["filter_shape"], d["image_shape"], d["poolsize"], _BY_NAME[d["activation"]])
            elif kind == "FullyConnectedLayer":
                layer = FullyConnectedLayer(d["n_in"], d["n_out"], _BY_NAME[d["activation"]], d["p_dropout"])
            elif kind == "SoftmaxLayer":
                layer = SoftmaxLayer(d["n_in"], d["n_out"], d["p_dropout"])
            else:
                raise ModelError(f"{path}: layer {i} has unknown type {kind!r}")
            w, b = arrays.get(f"w_{i}"), arrays.get(f"b_{i}")
            if w is None or b is None or w.shape != layer.w.shape or b.shape != layer.b.shape:
                raise ModelError(f"{path}: layer {i}'s arrays are missing or have the wrong shape")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ModelError(f"{path}: layer {i} holds NaN or infinity")
            layer.w, layer.b = shared(w, np.float32), shared(b, np.float32)
            layer.params = [layer.w, layer.b]
            layers.append(layer)
        net = Network(layers, spec["mini_batch_size"], dtype=np.dtype(spec.get("dtype", "float32")))
        net.metadata = spec.get("metadata") if isinstance(spec.get("metadata"), dict) else {}
    except ModelError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: not a valid network3 model ({exc})") from None
    finally:
        np.random.set_state(state)
    return net
