"""The book's network trained with JAX on the CPU, the whole epoch under one ``jax.jit``: a peer to measure against.

Same initial weights (``np.random.randn``, like the book), same mini-batches
(``random.shuffle`` of the training order), same quadratic cost and update.
Written as a JAX user writes it for speed: the gradient by ``jax.grad`` of
the summed quadratic cost, and an epoch as one ``lax.scan`` over the
mini-batch indices, compiled by XLA once per shape. Needs ``jax``
(``make bench-peers``). float64 runs switch on JAX's x64 mode.
"""

import functools
import random

import numpy as np

from ..twins import network as reference


@functools.lru_cache(maxsize=1)
def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)  # float64 engines need it; float32 arrays stay float32
    return jax


def _cost(params, X, Y):
    """Half the summed squared error of the sigmoid net on rows ``X (m, n_in)``, targets ``Y (m, n_out)``."""
    jax = _jax()
    a = X
    for w, b in params:
        a = jax.nn.sigmoid(a @ w.T + b)
    return 0.5 * jax.numpy.sum((a - Y) ** 2)


@functools.lru_cache(maxsize=None)
def _compiled():
    """(one step, one epoch), jitted: the epoch is a ``lax.scan`` of the step over mini-batch index rows."""
    jax = _jax()
    grad = jax.grad(_cost)

    def step(params, X, Y, eta):
        g = grad(params, X, Y)
        scale = eta / X.shape[0]
        return jax.tree_util.tree_map(lambda p, d: p - scale * d, params, g)

    def epoch(params, X, Y, batches, eta):
        def body(p, rows):
            return step(p, X[rows], Y[rows], eta), None
        return jax.lax.scan(body, params, batches)[0]

    return jax.jit(step), jax.jit(epoch)


class Network(reference.Network):
    def __init__(self, sizes, dtype=np.float64):
        super().__init__(sizes)
        self.jdtype = np.dtype(dtype)

    def _params(self):
        jnp = _jax().numpy
        return [(jnp.asarray(w, dtype=self.jdtype), jnp.asarray(b[:, 0], dtype=self.jdtype))
                for w, b in zip(self.weights, self.biases)]

    def _store(self, params):
        self.weights = [np.asarray(w, dtype=np.float64) for w, _ in params]
        self.biases = [np.asarray(b, dtype=np.float64).reshape(-1, 1) for _, b in params]

    def update_mini_batch(self, mini_batch, eta):
        jnp = _jax().numpy
        X = jnp.asarray(np.hstack([x for x, _ in mini_batch]).T, dtype=self.jdtype)
        Y = jnp.asarray(np.hstack([y for _, y in mini_batch]).T, dtype=self.jdtype)
        step, _ = _compiled()
        self._store(step(self._params(), X, Y, eta))

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        jnp = _jax().numpy
        step, epoch = _compiled()
        data = training_data if isinstance(training_data, list) else list(training_data)
        n = len(data)
        X = jnp.asarray(np.hstack([x for x, _ in data]).T, dtype=self.jdtype)  # (n, n_in): once per call
        Y = jnp.asarray(np.hstack([y for _, y in data]).T, dtype=self.jdtype)
        order = list(range(n))
        params = self._params()
        full = n - n % mini_batch_size
        for j in range(epochs):
            random.shuffle(order)  # the same draws as the book's shuffle of its list
            index = np.asarray(order, dtype=np.int32)
            if full:
                params = epoch(params, X, Y, jnp.asarray(index[:full].reshape(-1, mini_batch_size)), eta)
            if full < n:  # the book's last, smaller mini-batch
                rows = jnp.asarray(index[full:])
                params = step(params, X[rows], Y[rows], eta)
            self._store(params)  # waits for the epoch: the printed line marks its end
            self.print_epoch(j, test_data)
        self.leave_in_order(training_data, data, order)
