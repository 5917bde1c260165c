"""Kernels of the subsampled online dictionary learner (SOMF).

Every kernel here costs O(number of features seen in the step), never O(all
features): data and dictionary columns are gathered for the sampled features
only (drawn as whole blocks by :mod:`nimf.sources.sampling`), and the surrogate
statistics ``B`` and the dictionary ``D`` are updated and scattered back on those
columns only.  The products that carry the flops are matrix products (BLAS-3):
the code and statistics products in the Python driver, the dictionary update
here, a group of components at a time.
"""

import numpy as np
from numba import njit

from .._config import JIT_FAST_KWARGS, JIT_KWARGS
from .projections import enet_norm, project_from_sums


@njit(**JIT_KWARGS)
def gather(X, rows, cols, out):
    """``out[i, f] = X[rows[i], cols[f]]`` without touching other entries."""
    for i in range(rows.shape[0]):
        r = rows[i]
        for f in range(cols.shape[0]):
            out[i, f] = X[r, cols[f]]


@njit(**JIT_KWARGS)
def gather_ranges(X, rows, starts, stops, out):
    """``out[i] = concatenation of X[rows[i], starts[r]:stops[r]]`` over the ranges ``r``."""
    for i in range(rows.shape[0]):
        src = X[rows[i]]
        dst = out[i]
        f = 0
        for r in range(starts.shape[0]):
            lo = starts[r]
            n = stops[r] - lo
            dst[f:f + n] = src[lo:lo + n]
            f += n


@njit(**JIT_KWARGS)
def gather_sorted(X, rows, cols, dest, out):
    """``out[i, dest[f]] = X[rows[i], cols[f]]``: reads in the order of ``cols``.

    With ``cols`` sorted, each row of ``X`` is read front to back (hardware
    prefetching works) while the scattered writes land in the small output row.
    """
    for i in range(rows.shape[0]):
        r = rows[i]
        for f in range(cols.shape[0]):
            out[i, dest[f]] = X[r, cols[f]]


@njit(**JIT_KWARGS)
def gather_many(X, rows, row_ptr, cols, col_ptr, out):
    """Several gathers ``X[rows_g][:, cols_g]`` in one call, written one after another.

    Read ``g`` takes rows ``rows[row_ptr[g]:row_ptr[g + 1]]`` and columns
    ``cols[col_ptr[g]:col_ptr[g + 1]]``; its block is written row-major into
    ``out``, right after the block of read ``g - 1``.  Columns that come in long
    runs of consecutive indices (whole feature blocks) are copied run by run.
    """
    pos = 0
    for g in range(row_ptr.shape[0] - 1):
        r0 = row_ptr[g]
        n_rows = row_ptr[g + 1] - r0
        c = cols[col_ptr[g]:col_ptr[g + 1]]
        n_cols = c.shape[0]
        block = out[pos:pos + n_rows * n_cols].reshape((n_rows, n_cols))
        pos += n_rows * n_cols
        # runs of consecutive columns
        starts = np.empty(n_cols, dtype=np.int64)
        lengths = np.empty(n_cols, dtype=np.int64)
        n_runs = 0
        f = 0
        while f < n_cols:
            n = 1
            while f + n < n_cols and c[f + n] == c[f] + n:
                n += 1
            starts[n_runs] = c[f]
            lengths[n_runs] = n
            n_runs += 1
            f += n
        if 8 * n_runs <= n_cols:
            for i in range(n_rows):
                src = X[rows[r0 + i]]
                dst = block[i]
                f = 0
                for r in range(n_runs):
                    n = lengths[r]
                    dst[f:f + n] = src[starts[r]:starts[r] + n]
                    f += n
        else:
            for i in range(n_rows):
                r = rows[r0 + i]
                for f in range(n_cols):
                    block[i, f] = X[r, c[f]]


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
def feature_weights(feature_counts, cols, batch_size, learning_rate, keep, new):
    """Per-feature weights of a partial update of ``B``; counts the batch.

    ``keep[f] = 1 - w_f`` and ``new[f] = w_f / b`` where ``w_f`` is the batch
    weight computed from how many samples have already been seen *with feature*
    ``cols[f]``, so rarely drawn features are neither under- nor over-weighted.
    ``feature_counts`` is incremented by ``b`` on ``cols``.
    """
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
        keep[f] = 1.0 - w
        new[f] = w * inv_b


@njit(**JIT_KWARGS)
def blend_columns(B, AtX, cols, keep, new, Bm):
    """``Bm[:, f] = keep[f] B[:, cols[f]] + new[f] AtX[:, f]``, row by row."""
    s = cols.shape[0]
    for j in range(B.shape[0]):
        src = B[j]
        out = Bm[j]
        add = AtX[j]
        for f in range(s):
            out[f] = keep[f] * src[cols[f]] + new[f] * add[f]


@njit(**JIT_FAST_KWARGS)
def _update_atom(d, b, r, inv, norm, l1_ratio, positive, delta, total, u, work):
    """One component's update on the sampled columns, in three passes.

    ``u = d + (b - r) * inv`` is projected onto the ball of the component's
    unused budget (see :func:`dictionary_bcd`); the first pass also keeps the
    old values (in ``delta``), their elastic-net norm and the sums the
    projection needs, the last writes the change ``delta = new - old`` and the
    sum ``total = new + old`` (what the update of the Gram matrix needs).
    Returns the old and new elastic-net norms of ``d``.
    """
    s = d.shape[0]
    old_sq = 0.0
    old_ab = 0.0
    sq = 0.0
    ab = 0.0
    for f in range(s):
        x = d[f]
        delta[f] = x
        old_sq += x * x
        old_ab += abs(x)
        v = x + (b[f] - r[f]) * inv
        u[f] = v
        if positive:
            v = max(v, 0.0)
        else:
            v = abs(v)
        work[f] = v
        sq += v * v
        ab += v
    old = (1.0 - l1_ratio) * old_sq + l1_ratio * old_ab
    radius = min(1.0, 1.0 - (norm - old))
    if radius <= 0.0:
        for f in range(s):
            d[f] = 0.0
        new = 0.0
    else:
        new = project_from_sums(u, d, radius, l1_ratio, positive, work, sq, ab)
    for f in range(s):
        x = d[f]
        o = delta[f]
        delta[f] = x - o
        total[f] = x + o
    return old, new


@njit(**JIT_KWARGS)
def dictionary_bcd(Dm, Bm, S, order, norms, l1_ratio, positive, min_diag, u, work,
                   rows, R, delta, total):
    """Block coordinate descent on the sampled columns of the dictionary.

    For each component ``j`` (in ``order``), on the sampled columns only::

        u = Dm[j] + (Bm[j] - S[j] @ Dm) / S[j, j]
        Dm[j] = projection of u onto the elastic-net ball of radius
                1 - (norms[j] - ||Dm[j]||_enet)

    The radius is the part of the component's budget not used by the other
    features, so the whole component stays in the unit ball while features
    outside the sample are left unchanged (partial projection).  ``norms`` is
    kept up to date.  Components with ``S[j, j] <= min_diag`` (unused) are
    skipped.

    The products ``S[j] @ Dm`` are computed ``group = rows.shape[0]``
    components at a time by one matrix product (BLAS-3) at the start of each
    group; within the group, each component's row is corrected by the changes
    of the components of the group already updated (``S[j, i] * delta_i``).
    This is the same sequence of exact updates as one component at a time, with
    the reads of ``Dm`` divided by ``group``.  On return ``delta`` (k, s) holds
    each component's change ``new - old`` and ``total`` (k, s) the sum
    ``new + old`` (zero and twice the row for skipped components): the Gram
    matrix changes by ``sym(delta @ total^T)``.  ``u``, ``work`` (s,), ``rows``
    (group, k) and ``R`` (group, s) are scratch buffers.
    """
    k, s = Dm.shape
    n = order.shape[0]
    group = rows.shape[0]
    for g0 in range(0, n, group):
        m = min(group, n - g0)
        for a in range(m):
            j = order[g0 + a]
            for c in range(k):
                rows[a, c] = S[j, c]
        np.dot(rows[:m], Dm, R[:m])
        for a in range(m):
            j = order[g0 + a]
            sjj = S[j, j]
            if sjj <= min_diag:
                for f in range(s):
                    delta[j, f] = 0.0
                    total[j, f] = 2.0 * Dm[j, f]
                continue
            for c in range(a):
                i = order[g0 + c]
                coef = S[j, i]
                if coef != 0.0:
                    for f in range(s):
                        R[a, f] += coef * delta[i, f]
            old, new = _update_atom(Dm[j], Bm[j], R[a], 1.0 / sjj, norms[j], l1_ratio,
                                    positive, delta[j], total[j], u, work)
            norms[j] += new - old


@njit(**JIT_KWARGS)
def row_enet_norms(D, l1_ratio, out):
    """Elastic-net norm of every row of ``D``."""
    for j in range(D.shape[0]):
        out[j] = enet_norm(D[j], l1_ratio)
