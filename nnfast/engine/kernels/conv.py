"""numba kernels of chapter 6's convolutional layers: the data movement around one matrix product.

Shapes (the book's, Theano's): inputs ``X (m, C, H, W)``, filters ``(F, C, fh, fw)``, convolution maps
``Hz x Wz = (H-fh+1) x (W-fw+1)``, pooled ``P (m, F, Hz//ph, Wz//pw)`` (ignore_border: a partial
pooling window at the edge is dropped). ``nnfast.network3.ConvPoolLayer`` computes the 'valid'
convolution as ``im2col(X) @ flipped_filters.T`` with numpy's BLAS (a true convolution, as Theano's
``conv2d``), then pools; its gradients are two more products and ``col2im``. These kernels do the
rest: patches in, patches out, pooling with the winner's index, and routing the gradient to it.
Measured against direct convolution loops (one thread, 50,000 images, batch 10): the book's one-conv
net 8.5 -> 5.2 s an epoch, its two-conv net 35.8 -> 9.0 s.
Nothing compiles at import; ``cache=True`` keeps the machine code for the next process.
"""

from .jit import kernel


@kernel
def im2col(X, fh, fw, cols):
    """cols[(n*Hz + i)*Wz + j, (c*fh + u)*fw + v] = X[n, c, i+u, j+v]: every filter-sized patch as a row."""
    m, C, H, W = X.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    for n in range(m):
        for i in range(Hz):
            for j in range(Wz):
                row = cols[(n * Hz + i) * Wz + j]
                k = 0
                for c in range(C):
                    for u in range(fh):
                        xr = X[n, c, i + u]
                        for v in range(fw):
                            row[k] = xr[j + v]
                            k += 1


@kernel
def col2im(dcols, fh, fw, dX):
    """The adjoint of im2col: dX[n, c, i+u, j+v] += dcols[(n*Hz + i)*Wz + j, (c*fh + u)*fw + v]."""
    m, C, H, W = dX.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    dX[:] = 0
    for n in range(m):
        for i in range(Hz):
            for j in range(Wz):
                row = dcols[(n * Hz + i) * Wz + j]
                k = 0
                for c in range(C):
                    for u in range(fh):
                        dxr = dX[n, c, i + u]
                        for v in range(fw):
                            dxr[j + v] += row[k]
                            k += 1


@kernel
def pool_forward(Z, Hz, Wz, ph, pw, P, arg):
    """Max-pool the maps ``Z (m*Hz*Wz, F)`` (the GEMM's rows: one per position) into ``P (m, F, Hp, Wp)``;
    ``arg`` gets each winner's flat position i*Wz + j, the first of equal values."""
    m, F, Hp, Wp = P.shape
    for n in range(m):
        base = n * Hz * Wz
        for a in range(Hp):
            for b in range(Wp):
                for f in range(F):
                    where = (a * ph) * Wz + b * pw
                    best = Z[base + where, f]
                    for di in range(ph):
                        for dj in range(pw):
                            at = (a * ph + di) * Wz + b * pw + dj
                            val = Z[base + at, f]
                            if val > best:
                                best = val
                                where = at
                    P[n, f, a, b] = best
                    arg[n, f, a, b] = where


@kernel
def pool_backward(dP, arg, Hz, Wz, dZ):
    """dZ (m*Hz*Wz, F) = 0 but at each window's winner, which gets its dP (m, F, Hp, Wp)."""
    m, F, Hp, Wp = dP.shape
    dZ[:] = 0
    for n in range(m):
        base = n * Hz * Wz
        for f in range(F):
            for a in range(Hp):
                for b in range(Wp):
                    dZ[base + arg[n, f, a, b], f] += dP[n, f, a, b]
