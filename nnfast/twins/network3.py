"""Chapter 6's layers in plain numpy, written for clarity: the yardstick for ``nnfast.network3``.

Convolution by sliding windows and ``einsum``, pooling by reshaping, every gradient by its
textbook formula. Slow and obviously correct; the tests hold the numba kernels and
``network3``'s training step to it.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def convolve(X, W):
    """Theano's 'valid' conv2d: Z[n, f] = sum_c (X[n, c] convolved with W[f, c]), kernels flipped.
    X (m, C, H, W), W (F, C, fh, fw) -> (m, F, H-fh+1, W-fw+1)."""
    windows = sliding_window_view(X, W.shape[2:], axis=(2, 3))  # (m, C, Hz, Wz, fh, fw)
    return np.einsum("ncijuv,fcuv->nfij", windows, W[:, :, ::-1, ::-1])


def max_pool(Z, ph, pw):
    """(pooled, winner mask): max over each ph x pw block, partial blocks at the edge dropped; the mask
    marks the first maximum of each block in row-major order (where its gradient goes)."""
    m, F, Hz, Wz = Z.shape
    Hp, Wp = Hz // ph, Wz // pw
    blocks = Z[:, :, :Hp * ph, :Wp * pw].reshape(m, F, Hp, ph, Wp, pw).transpose(0, 1, 2, 4, 3, 5)
    flat = blocks.reshape(m, F, Hp, Wp, ph * pw)
    winner = np.zeros_like(flat)
    np.put_along_axis(winner, flat.argmax(axis=-1)[..., None], 1.0, axis=-1)
    mask = np.zeros_like(Z)
    mask[:, :, :Hp * ph, :Wp * pw] = (winner.reshape(m, F, Hp, Wp, ph, pw).transpose(0, 1, 2, 4, 3, 5)
                                      .reshape(m, F, Hp * ph, Wp * pw))
    return flat.max(axis=-1), mask


def conv_pool_gradients(X, W, pool, dP):
    """(dW, dX) of the pooled maps' gradient dP (before bias and activation) through pooling and convolution."""
    ph, pw = pool
    Z = convolve(X, W)
    _, mask = max_pool(Z, ph, pw)
    dZ = mask * _unpool(dP, Z.shape, ph, pw)
    windows = sliding_window_view(X, W.shape[2:], axis=(2, 3))
    dW = np.einsum("nfij,ncijuv->fcuv", dZ, windows)[:, :, ::-1, ::-1]
    Wf = W[:, :, ::-1, ::-1]
    dX = np.zeros_like(X)
    Hz, Wz = Z.shape[2:]
    for u in range(W.shape[2]):
        for v in range(W.shape[3]):
            dX[:, :, u:u + Hz, v:v + Wz] += np.einsum("nfij,fc->ncij", dZ, Wf[:, :, u, v])
    return dW, dX


def _unpool(dP, shape, ph, pw):
    """dP spread over every position of its block (the mask then keeps the winner's)."""
    out = np.zeros(shape, dtype=dP.dtype)
    Hp, Wp = dP.shape[2:]
    out[:, :, :Hp * ph, :Wp * pw] = np.repeat(np.repeat(dP, ph, axis=2), pw, axis=3)
    return out


_ACT = {"linear": (lambda z: z, lambda a: np.ones_like(a)),
        "ReLU": (lambda z: np.maximum(z, 0), lambda a: (a > 0) * 1.0),
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
        "tanh": (np.tanh, lambda a: 1 - a * a)}


def sgd_step(layers, x, y, eta, lmbda, num_training_batches, mask_rng):
    """One step of the book's SGD on a list of layer dicts {"type", "w", "b", ...} (changed in place);
    returns the cost. Dropout masks are drawn from ``mask_rng`` in layer order, as network3 draws them."""
    m = len(y)
    acts, masks, a = [], [], x
    for L in layers:  # forward, on the dropout path
        if L["type"] == "conv":
            F, C, fh, fw = L["w"].shape
            X = a.reshape(m, C, *L["image"])
            P, _ = max_pool(convolve(X, L["w"]), *L["pool"])
            out = _ACT[L["act"]][0](P + L["b"][None, :, None, None])
            acts.append((X, out))
            masks.append(None)
            a = out.reshape(m, -1)
            continue
        mask = None
        if L["p"] > 0:
            mask = (mask_rng.random_sample(a.shape) < 1 - L["p"]) * 1.0
            a = a * mask
        z = a @ L["w"] + L["b"]
        if L["type"] == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        else:
            out = _ACT[L["act"]][0](z)
        acts.append((a, out))
        masks.append(mask)
        a = out
    cost = -np.mean(np.log(a[np.arange(m), y])) + 0.5 * lmbda * sum(np.sum(L["w"] ** 2) for L in layers) \
        / num_training_batches
    d = None
    for i in range(len(layers) - 1, -1, -1):  # backward
        L = layers[i]
        inp, out = acts[i]
        if L["type"] == "softmax":
            dz = out.copy()
            dz[np.arange(m), y] -= 1
            dz /= m
        else:
            dz = d.reshape(out.shape) * _ACT[L["act"]][1](out)
        if L["type"] == "conv":
            dW, dX = conv_pool_gradients(inp, L["w"], L["pool"], dz)
            db = dz.sum(axis=(0, 2, 3))
            d = dX.reshape(m, -1)
        else:
            dW, db = inp.T @ dz, dz.sum(axis=0)
            d = dz @ L["w"].T
            if masks[i] is not None:
                d = d * masks[i]
        L["w"] -= eta * (dW + lmbda / num_training_batches * L["w"])
        L["b"] -= eta * db
    return cost


def layers_of(net):
    """A ``network3.Network``'s layers as the dicts ``sgd_step`` takes (copies of its weights)."""
    from .. import network3
    out = []
    for L in net.layers:
        if isinstance(L, network3.ConvPoolLayer):
            out.append({"type": "conv", "w": L.w.copy(), "b": L.b.copy(), "image": L.image_shape[2:],
                        "pool": L.poolsize, "act": network3._NAMES[L.activation_fn]})
        elif isinstance(L, network3.FullyConnectedLayer):
            out.append({"type": "fc", "w": L.w.copy(), "b": L.b.copy(), "p": L.p_dropout,
                        "act": network3._NAMES[L.activation_fn]})
        else:
            out.append({"type": "softmax", "w": L.w.copy(), "b": L.b.copy(), "p": L.p_dropout})
    return out
