"""Kernels of the subsampled online dictionary learner (SOMF).

Every kernel here costs O(number of features seen in the step), never O(all
features): the feature subset is drawn by a partial Fisher-Yates shuffle of a
persistent permutation, data and dictionary columns are gathered for that subset
only, and the surrogate statistics ``B`` and the dictionary ``D`` are updated and
scattered back on those columns only.
"""

import numpy as np
from numba import njit

from .._config import JIT_KWARGS
from .projections import enet_norm, project_enet_ball


@njit(**JIT_KWARGS)
def draw_features(perm, draws, out):
    """Draw ``len(out)`` distinct features uniformly in O(len(out)).

    ``perm`` is a permutation of ``range(p)`` kept between calls; ``draws[i]``
    is a uniform integer in ``[i, p)``.  Positions ``0..s-1`` of ``perm`` are
    shuffled in place (partial Fisher-Yates) and copied to ``out``.  Whatever
    ``perm`` holds, the result is a uniform random subset in random order.
    """
    s = out.shape[0]
    for i in range(s):
        j = draws[i]
        tmp = perm[i]
        perm[i] = perm[j]
        perm[j] = tmp
        out[i] = perm[i]


@njit(**JIT_KWARGS)
def gather(X, rows, cols, out):
    """``out[i, f] = X[rows[i], cols[f]]`` without touching other entries."""
    for i in range(rows.shape[0]):
        r = rows[i]
        for f in range(cols.shape[0]):
            out[i, f] = X[r, cols[f]]


@njit(**JIT_KWARGS)
def gather_columns(D, cols, out):
    """``out[:, f] = D[:, cols[f]]``."""
    for j in range(D.shape[0]):
        for f in range(cols.shape[0]):
            out[j, f] = D[j, cols[f]]


@njit(**JIT_KWARGS)
def scatter_columns(src, cols, D):
    """``D[:, cols[f]] = src[:, f]``."""
    for j in range(D.shape[0]):
        for f in range(cols.shape[0]):
            D[j, cols[f]] = src[j, f]


@njit(**JIT_KWARGS)
def batch_weight(count, batch_size, learning_rate):
    """Weight of a batch in a running average with step sizes ``c^-rho``.

    ``1 - prod_{i=1..b} (1 - (count + i)^-rho)``: the weight that ``b`` successive
    single-sample updates would give to the batch as a whole, after ``count``
    earlier samples.  With ``rho = 1`` it is exactly ``b / (count + b)``.
    """
    if learning_rate == 1.0:
        return batch_size / (count + batch_size)
    prod = 1.0
    for i in range(1, batch_size + 1):
        prod *= 1.0 - (count + i) ** (-learning_rate)
    return 1.0 - prod


@njit(**JIT_KWARGS)
def update_stats_columns(B, AtX, cols, feature_counts, batch_size, learning_rate,
                         Bm):
    """Partial update of ``B`` on the sampled columns, into the buffer ``Bm``.

    ``Bm[:, f] = (1 - w_f) B[:, cols[f]] + w_f AtX[:, f] / b`` where ``w_f`` is the
    batch weight computed from how many samples have already been seen *with
    feature* ``cols[f]``, so rarely drawn features are neither under- nor
    over-weighted.  ``feature_counts`` is incremented by ``b`` on ``cols``.
    ``B`` itself is not written: :func:`dictionary_bcd` scatters ``Bm`` back.
    """
    k = B.shape[0]
    # weights depend only on the count: memoise the few distinct counts
    n_cache = 64
    keys = np.full(n_cache, -1, dtype=np.int64)
    vals = np.zeros(n_cache)
    inv_b = 1.0 / batch_size
    for f in range(cols.shape[0]):
        c = cols[f]
        cnt = feature_counts[c]
        slot = cnt % n_cache
        if keys[slot] == cnt:
            w = vals[slot]
        else:
            w = batch_weight(cnt, batch_size, learning_rate)
            keys[slot] = cnt
            vals[slot] = w
        feature_counts[c] = cnt + batch_size
        for j in range(k):
            Bm[j, f] = (1.0 - w) * B[j, c] + w * inv_b * AtX[j, f]


@njit(**JIT_KWARGS)
def dictionary_bcd(D, B, Dm, Bm, cols, S, order, norms, l1_ratio, positive,
                   u, work, min_diag):
    """Block coordinate descent on the sampled columns of the dictionary.

    For each component ``j`` (in ``order``), on the sampled columns only::

        u = Dm[j] + (Bm[j] - S[j] @ Dm) / S[j, j]
        Dm[j] = projection of u onto the elastic-net ball of radius
                1 - (norms[j] - ||Dm[j]||_enet)

    The radius is the part of the component's budget not used by the other
    features, so the whole component stays in the unit ball while features
    outside ``cols`` are left unchanged (partial projection).  ``norms`` is kept
    up to date.  ``Dm`` and ``Bm`` are then scattered back into ``D`` and ``B``.
    Components with ``S[j, j] <= min_diag`` (unused) are skipped.
    """
    k, s = Dm.shape
    for jj in range(order.shape[0]):
        j = order[jj]
        sjj = S[j, j]
        if sjj <= min_diag:
            continue
        # S[j] @ Dm through BLAS (the loop form does not vectorise)
        sd = np.dot(S[j], Dm)
        inv = 1.0 / sjj
        for f in range(s):
            u[f] = Dm[j, f] + (Bm[j, f] - sd[f]) * inv
        old = enet_norm(Dm[j], l1_ratio)
        radius = 1.0 - (norms[j] - old)
        if radius > 1.0:
            radius = 1.0
        new = project_enet_ball(u, Dm[j], radius, l1_ratio, positive, work)
        norms[j] += new - old
    scatter_columns(Dm, cols, D)
    scatter_columns(Bm, cols, B)


@njit(**JIT_KWARGS)
def row_enet_norms(D, l1_ratio, out):
    """Elastic-net norm of every row of ``D``."""
    for j in range(D.shape[0]):
        out[j] = enet_norm(D[j], l1_ratio)
