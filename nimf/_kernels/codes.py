"""Code (loading) solvers in Gram form.

For each sample the code ``a`` minimises

    1/2 a^T G a - beta^T a + l1 ||a||_1 + l2 / 2 ||a||_2^2     (a >= 0 if positive)

which is ``1/2 ||x - D^T a||^2 + penalty`` up to a constant when ``G = D D^T`` and
``beta = D x``.  With partial information ``G`` and ``beta`` are estimates (see
:mod:`nimf.decomposition.online`).  The ridge case without positivity is solved by
a Cholesky factorisation in Python; these kernels handle the elastic net and the
positive cases by cyclic coordinate descent, warm-started from the given codes.
"""

from numba import njit

from .._config import JIT_KWARGS


@njit(**JIT_KWARGS)
def enet_coordinate_descent_gram(G, beta, codes, l1, l2, positive, max_iter, tol,
                                 residual):
    """Coordinate descent for a batch of samples sharing one Gram matrix.

    Parameters
    ----------
    G : ndarray of shape (k, k)
        Gram matrix (symmetric positive semi-definite).
    beta : ndarray of shape (n, k)
        Correlations ``D x`` of each sample.
    codes : ndarray of shape (n, k)
        Warm start on entry, solution on exit (modified in place).
    l1, l2 : float
        Penalties on ``||a||_1`` and ``||a||_2^2 / 2``.
    positive : bool
        Constrain codes to be non-negative.
    max_iter : int
        Maximum number of passes over the coordinates, per sample.
    tol : float
        Stop a sample when the largest coordinate change of a pass is below
        ``tol`` times its largest coordinate.
    residual : ndarray of shape (k,)
        Scratch buffer.

    Returns
    -------
    n_iter : int
        Largest number of passes used by a sample (0 when there is no sample or
        ``max_iter`` is 0).
    """
    n, k = beta.shape
    worst = 0
    for i in range(n):
        # residual = beta - G a
        for j in range(k):
            acc = beta[i, j]
            for m in range(k):
                acc -= G[j, m] * codes[i, m]
            residual[j] = acc
        n_pass = 0
        for _ in range(max_iter):
            n_pass += 1
            max_delta = 0.0
            max_code = 0.0
            for j in range(k):
                gjj = G[j, j]
                old = codes[i, j]
                z = residual[j] + gjj * old
                denom = gjj + l2
                if denom <= 0.0:
                    new = 0.0
                elif z > l1:
                    new = (z - l1) / denom
                elif z < -l1 and not positive:
                    new = (z + l1) / denom
                else:
                    new = 0.0
                delta = new - old
                if delta != 0.0:
                    codes[i, j] = new
                    for m in range(k):
                        residual[m] -= delta * G[m, j]
                    if abs(delta) > max_delta:
                        max_delta = abs(delta)
                if abs(new) > max_code:
                    max_code = abs(new)
            if max_delta <= tol * max_code or max_code == 0.0:
                break
        if n_pass > worst:
            worst = n_pass
    return worst
