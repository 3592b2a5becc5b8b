"""JAX on the CPU as a chapter 6 peer: the book's two nets, mini-batch 10, the epoch under one ``jax.jit``.

Written as a JAX user writes it for speed: ``lax.conv_general_dilated`` (NCHW, a true convolution
as Theano's: the filters flipped), max-pooling by ``lax.reduce_window``, dropout masks from
``jax.random``, the gradient of the mean log-likelihood by ``jax.grad``, and the epoch a ``lax.scan``
of SGD steps over the mini-batches, compiled once per shape. XLA's thread count is fixed when JAX
starts, so each timing runs in its own process, pinned to ``threads`` cores.
"""

import json
import os
import subprocess
import sys

_CODE = r'''
import json, os, sys, time
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen={multi} intra_op_parallelism_threads={threads}"
import numpy as np
import jax, jax.numpy as jnp
from jax import lax
name, n = {name!r}, {n}
relu = name == "dropout"
act = jax.nn.relu if relu else jax.nn.sigmoid
rng = np.random.default_rng(0)
def normal(shape, sd):
    return jnp.asarray(rng.normal(0, sd, shape), dtype=jnp.float32)
fc_sizes = [(640, 1000), (1000, 1000)] if relu else [(640, 100)]
params = {{"c1": (normal((20, 1, 5, 5), 0.1), normal((20,), 1)), "c2": (normal((40, 20, 5, 5), 0.1), normal((40,), 1)),
          "fc": [(normal(s, 0.03), normal(s[1:], 1)) for s in fc_sizes],
          "out": (jnp.zeros((fc_sizes[-1][1], 10), jnp.float32), jnp.zeros((10,), jnp.float32))}}
def conv_pool(x, wb):
    w, b = wb
    z = lax.conv_general_dilated(x, w[:, :, ::-1, ::-1], (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
    z = lax.reduce_window(z, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    return act(z + b[None, :, None, None])
def loss(p, x, y, key):
    h = conv_pool(conv_pool(x, p["c1"]), p["c2"]).reshape(x.shape[0], -1)
    for w, b in p["fc"]:
        if relu:
            key, sub = jax.random.split(key)
            h = h * jax.random.bernoulli(sub, 0.5, h.shape)
        h = act(h @ w + b)
    if relu:
        key, sub = jax.random.split(key)
        h = h * jax.random.bernoulli(sub, 0.5, h.shape)
    w, b = p["out"]
    logp = jax.nn.log_softmax(h @ w + b)
    return -jnp.mean(logp[jnp.arange(y.shape[0]), y])
grad = jax.grad(loss)
@jax.jit
def epoch(p, X, Y, key):
    def body(carry, batch):
        p, key = carry
        key, sub = jax.random.split(key)
        g = grad(p, batch[0], batch[1], sub)
        return (jax.tree_util.tree_map(lambda a, d: a - 0.03 * d, p, g), key), None
    return lax.scan(body, (p, key), (X, Y))[0][0]
X = jnp.asarray(rng.random((n // 10, 10, 1, 28, 28)), dtype=jnp.float32)
Y = jnp.asarray(rng.integers(0, 10, (n // 10, 10)), dtype=jnp.int32)
key = jax.random.PRNGKey(0)
jax.block_until_ready(epoch(params, X, Y, key))  # compile
t = time.perf_counter()
jax.block_until_ready(epoch(params, X, Y, key))
print(json.dumps({{"seconds": time.perf_counter() - t}}))
'''


def seconds(name, n, threads):
    """Seconds for JAX to train the net ``name`` on ``n`` images (mini-batches of 10), on ``threads`` cores."""
    cores = sorted(os.sched_getaffinity(0))[:threads] if hasattr(os, "sched_getaffinity") else None
    code = _CODE.format(name=name, n=int(n), threads=int(threads), multi="true" if threads > 1 else "false")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
