"""Kernels of non-negative matrix factorization (HALS / coordinate descent).

Both factor updates of the Frobenius NMF are the same problem once the large
products are formed (by BLAS, in the caller): for every row ``w`` of a factor ``F``
(the codes ``W``, or the transposed components ``H^T``)::

    min_w  1/2 w G w^T - b w + l1 ||w||_1 + l2 / 2 ||w||^2      (w >= 0)

with ``G`` the ``k x k`` Gram matrix of the other factor and ``b`` a row of
``X H^T`` (or ``X^T W``).  Rows are independent problems, so sweeping
coordinates row by row gives exactly the component-by-component HALS updates
of Cichocki and Phan (2009) while keeping one row and ``G`` in cache; a row can
then be swept several times for the price of one product (the accelerated HALS
of Gillis and Glineur, 2012).
"""

from numba import njit

from .._config import JIT_KWARGS


@njit(**JIT_KWARGS)
def hals_rows(F, G, Bt, l1, l2, order, max_sweeps, inner_tol, positive, grad):
    """Coordinate descent on the rows of ``F``, in place.

    Each row ``F[i]`` minimises ``1/2 f G f^T - Bt[:, i] f + l1 |f|_1 + l2/2 |f|^2``
    (subject to ``f >= 0`` when ``positive``).  ``Bt`` is the transposed
    linear term, of shape ``(k, n_rows)``: it is what BLAS returns fastest
    (``H X^T`` or ``W^T X``).  Coordinates are visited in ``order``; each row is
    swept at most ``max_sweeps`` times, stopping early when a sweep moves the
    row by less than ``inner_tol`` times the move of its first sweep.
    Coordinates whose curvature ``G[t, t] + l2`` is zero are left unchanged.
    ``grad`` is a float64 work buffer of length ``k``.

    The gradient ``f G - b`` of a row is kept up to date by an axpy with a row
    of ``G`` after every coordinate that moves, so a sweep costs ``k`` operations
    per moved coordinate and nothing for coordinates stuck at zero.

    Returns the violation of the optimality conditions measured during the
    first sweep: the sum over coordinates of the absolute projected gradient
    (the stopping quantity of scikit-learn's coordinate descent NMF).
    """
    n, k = F.shape
    violation = 0.0
    tol2 = inner_tol * inner_tol
    for i in range(n):
        for r in range(k):
            grad[r] = -Bt[r, i]
        for s in range(k):
            a = F[i, s]
            if a != 0.0:
                for r in range(k):
                    grad[r] += a * G[s, r]
        first = 0.0
        for sweep in range(max_sweeps):
            moved = 0.0
            for s in range(k):
                t = order[s]
                old = F[i, t]
                g = grad[t] + l2 * old
                hess = G[t, t] + l2
                if positive:
                    g += l1
                    if sweep == 0:
                        if old == 0.0:
                            if g < 0.0:
                                violation -= g
                        else:
                            violation += abs(g)
                    if hess <= 0.0:
                        continue
                    new = old - g / hess
                    if new < 0.0:
                        new = 0.0
                else:
                    if sweep == 0:
                        if old > 0.0:
                            violation += abs(g + l1)
                        elif old < 0.0:
                            violation += abs(g - l1)
                        elif abs(g) > l1:
                            violation += abs(g) - l1
                    if hess <= 0.0:
                        continue
                    z = old - g / hess
                    thr = l1 / hess
                    if z > thr:
                        new = z - thr
                    elif z < -thr:
                        new = z + thr
                    else:
                        new = 0.0
                F[i, t] = new
                delta = F[i, t] - old  # the stored (possibly float32) move
                if delta != 0.0:
                    moved += delta * delta
                    for r in range(k):
                        grad[r] += delta * G[t, r]
            if sweep == 0:
                first = moved
                if first == 0.0:
                    break
            elif moved <= tol2 * first:
                break
    return violation


@njit(**JIT_KWARGS)
def frobenius_from_stats(sq_norm_X, FtX, H, FtF, HHt):
    """``1/2 ||X - F H||_F^2`` from ``||X||^2``, ``F^T X``, ``F^T F`` and ``H H^T``.

    ``FtX`` has the shape of ``H``.  Accumulates in float64; costs
    ``O(k n_features + k^2)`` instead of the ``O(n_samples n_features k)`` of
    forming the residual.
    """
    cross = 0.0
    for j in range(H.shape[0]):
        for f in range(H.shape[1]):
            cross += float(FtX[j, f]) * float(H[j, f])
    quad = 0.0
    for j in range(FtF.shape[0]):
        for r in range(FtF.shape[1]):
            quad += float(FtF[j, r]) * float(HHt[j, r])
    value = 0.5 * (sq_norm_X - 2.0 * cross + quad)
    return max(value, 0.0)


@njit(**JIT_KWARGS)
def mu_ratio(X, WH, beta, eps, num, den):
    """Elementwise parts of a multiplicative beta-divergence update.

    Writes ``num = X * WH^(beta - 2)`` and ``den = WH^(beta - 1)`` (with ``WH``
    clipped below at ``eps`` so zeros of the model do not divide), the two
    matrices that are then multiplied by a factor to form the update.
    """
    n, p = X.shape
    for i in range(n):
        for f in range(p):
            v = WH[i, f]
            if v < eps:
                v = eps
            if beta == 1.0:
                num[i, f] = X[i, f] / v
                den[i, f] = 1.0
            elif beta == 0.0:
                inv = 1.0 / v
                num[i, f] = X[i, f] * inv * inv
                den[i, f] = inv
            else:
                num[i, f] = X[i, f] * v ** (beta - 2.0)
                den[i, f] = v ** (beta - 1.0)


@njit(**JIT_KWARGS)
def hals_columns(Ft, G, R, l1, l2, order, n_sweeps, delta):
    """Non-negative coordinate descent on all rows at once, coordinate by coordinate.

    The same updates as :func:`hals_rows` with ``positive=True`` and a fixed
    number of sweeps (rows are independent, so visiting coordinate ``t`` of
    every row before coordinate ``t + 1`` changes nothing), but laid out so
    that every inner loop runs over the long axis: ``Ft`` is the transposed
    factor, shape ``(k, m)``, and ``R`` holds the gradients ``G Ft - Bt``
    (filled by the caller with one BLAS product, updated here by rank-one
    axpys).  ``delta`` is a work buffer of length ``m``.  ``Ft`` is non-negative
    on entry; coordinates whose curvature ``G[t, t] + l2`` is zero are left
    unchanged.

    Returns the violation of the optimality conditions during the first sweep
    (sum of absolute projected gradients), as :func:`hals_rows`.
    """
    k, m = Ft.shape
    violation = 0.0
    for sweep in range(n_sweeps):
        for s in range(k):
            t = order[s]
            hess = G[t, t] + l2
            # a coordinate of zero curvature takes a step of zero (it stays put), but
            # its projected gradient counts in the violation, as in hals_rows
            inv = 1.0 / hess if hess > 0.0 else 0.0
            if inv == 0.0 and sweep > 0:
                continue
            for i in range(m):
                old = Ft[t, i]
                g = R[t, i] + l2 * old + l1
                if sweep == 0:
                    if old == 0.0:
                        if g < 0.0:
                            violation -= g
                    else:
                        violation += abs(g)
                new = old - g * inv
                if new < 0.0:
                    new = 0.0
                Ft[t, i] = new
                delta[i] = Ft[t, i] - old
            for r in range(k):
                grt = G[r, t]
                if grt != 0.0:
                    for i in range(m):
                        R[r, i] += grt * delta[i]
    return violation
