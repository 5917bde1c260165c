"""Kernels of biased matrix completion: ALS row solves, SGD epochs, masked online steps.

The model of the rating of item ``i`` by user ``u`` is ``mu + b_u + c_i + p_u . q_i``
and every solver minimises the same objective over the observed ratings ``Omega``::

    sum_{(u, i) in Omega} (x_ui - mu - b_u - c_i - p_u . q_i) ** 2
                          + alpha (|p_u|^2 + |q_i|^2) + alpha_bias (b_u^2 + c_i^2)

(the penalty of a user or item is counted once per rating, as in Funk's and Koren's
SGD, so ALS regularises a row by ``alpha * n_ratings``: the weighted-lambda ALS of
Zhou et al., 2008).  More generally the penalty of a row is weighted by ``w_u`` (user
``u``) or ``w_i`` (item ``i``) instead of its number of ratings; the kernels take these
weights as arrays: the row solves take ``w`` itself, the per-rating updates (SGD and
the masked learner's running means) ``w / n_ratings``, the share of each rating.

One side's factors and biases are the unknowns of a row, the other side's are the
features: for a user row the unknowns are ``[p_u, b_u]``, the features of item
``i`` are ``[q_i, 1]`` and the target is ``x_ui - mu - c_i``.  The same kernels
solve the item side on the transposed matrix.

Ratings arrive as CSR arrays (``indptr``, ``indices``, ``data``) for the row
solvers and as coordinate arrays for SGD.
"""

import numpy as np
from numba import njit, prange

from .._config import JIT_KWARGS


@njit(**JIT_KWARGS)
def cholesky_solve(G, b):
    """Solve ``G x = b`` for symmetric positive definite ``G``, in place.

    ``G`` is overwritten by its Cholesky factor (lower triangle), ``b`` by ``x``.
    """
    m = G.shape[0]
    for j in range(m):
        s = G[j, j]
        for t in range(j):
            s -= G[j, t] * G[j, t]
        # the ridge keeps s > 0; guard against round-off on tiny systems
        d = np.sqrt(s) if s > 1e-300 else 1e-150
        G[j, j] = d
        for i in range(j + 1, m):
            s = G[i, j]
            for t in range(j):
                s -= G[i, t] * G[j, t]
            G[i, j] = s / d
    for i in range(m):
        s = b[i]
        for t in range(i):
            s -= G[i, t] * b[t]
        b[i] = s / G[i, i]
    for i in range(m - 1, -1, -1):
        s = b[i]
        for t in range(i + 1, m):
            s -= G[t, i] * b[t]
        b[i] = s / G[i, i]


@njit(parallel=True, **JIT_KWARGS)
def als_rows(rows, indptr, indices, data, mu, other_bias, other_factors, alpha, alpha_bias,
             weights, factors, bias, fit_bias):
    """Exact ridge solves of the factors and bias of each row in ``rows``, in parallel.

    Row ``r`` (with ratings ``data[indptr[r]:indptr[r + 1]]`` of the other side's
    ``indices``) gets ``[factors[r], bias[r]]`` minimising::

        sum_j (x_rj - mu - other_bias[j] - bias[r] - factors[r] . other_factors[j]) ** 2
            + weights[r] * (alpha |factors[r]|^2 + alpha_bias bias[r]^2)

    (``weights[r] = n_r``, the row's number of ratings, penalises per rating;
    ``bias[r]`` is kept at 0 when ``fit_bias`` is False).  A row with no rating
    gets zeros.  Returns nothing; ``factors`` and ``bias`` are written in place.
    """
    k = other_factors.shape[1]
    m = k + 1 if fit_bias else k
    for s in prange(rows.size):
        r = rows[s]
        start = indptr[r]
        n = indptr[r + 1] - start
        if n == 0:
            for a in range(k):
                factors[r, a] = 0.0
            bias[r] = 0.0
            continue
        Z = np.empty((n, m))
        t = np.empty(n)
        for p in range(n):
            j = indices[start + p]
            for a in range(k):
                Z[p, a] = other_factors[j, a]
            if fit_bias:
                Z[p, k] = 1.0
            t[p] = data[start + p] - mu - other_bias[j]
        G = Z.T @ Z
        b = Z.T @ t
        w = weights[r]
        for a in range(k):
            G[a, a] += w * alpha
        if fit_bias:
            G[k, k] += w * alpha_bias
        cholesky_solve(G, b)
        for a in range(k):
            factors[r, a] = b[a]
        bias[r] = b[k] if fit_bias else 0.0


@njit(inline="always", **JIT_KWARGS)
def _sgd_step(u, i, x, mu, P, Q, bu, bi, lr, lr_bias, alpha, alpha_bias, user_share,
              item_share, fit_bias):
    """The SGD update of one rating ``x`` of item ``i`` by user ``u``, in place.

    The prediction error ``e`` moves the biases (``b += lr_bias * (e - s alpha_bias
    b)``) and both factor rows (``p += lr * (e q - s_u alpha p)`` and ``q += lr * (e p
    - s_i alpha q)``, both from the old values), ``s_u = user_share[u]`` and ``s_i =
    item_share[i]`` being the shares of the user's and the item's penalties that this
    rating carries (1 penalises per rating). Returns the squared error before it.
    """
    k = P.shape[1]
    pred = mu + bu[u] + bi[i]
    for f in range(k):
        pred += P[u, f] * Q[i, f]
    e = x - pred
    su = user_share[u]
    si = item_share[i]
    if fit_bias:
        bu[u] += lr_bias * (e - su * alpha_bias * bu[u])
        bi[i] += lr_bias * (e - si * alpha_bias * bi[i])
    au = su * alpha
    ai = si * alpha
    for f in range(k):
        pf = P[u, f]
        qf = Q[i, f]
        P[u, f] = pf + lr * (e * qf - au * pf)
        Q[i, f] = qf + lr * (e * pf - ai * qf)
    return e * e


@njit(**JIT_KWARGS)
def group_order(order, group, n_groups):
    """``order`` regrouped by ``group[order[t]]``, stable; and where each group starts.

    A counting sort: O(n + n_groups).
    """
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    for t in range(order.size):
        starts[group[order[t]] + 1] += 1
    for g in range(n_groups):
        starts[g + 1] += starts[g]
    fill = starts[:-1].copy()
    out = np.empty_like(order)
    for t in range(order.size):
        g = group[order[t]]
        out[fill[g]] = order[t]
        fill[g] += 1
    return out, starts


@njit(parallel=True, **JIT_KWARGS)
def sgd_strata_epoch(users, items, data, order, starts, n_strata, mu, P, Q, bu, bi, lr,
                     lr_bias, alpha, alpha_bias, user_share, item_share, fit_bias):
    """One stratified SGD pass (DSGD, Gemulla et al., 2011), in place.

    Users and items are split into ``n_strata`` blocks each. ``order`` lists the
    ratings grouped by ``g = s * n_strata + b`` where ``b`` is the user block and
    ``s = (item block - b) mod n_strata`` (``starts`` gives where each group
    begins; see :func:`group_order`). For ``s = 0, 1, ...`` the ``n_strata`` groups
    of stratum ``s`` share no user and no item, so they run in parallel, each in
    its own order, with the updates of :func:`_sgd_step`: the result is the
    serial pass over ``order`` whatever the number of threads (``user_share`` and
    ``item_share``: see :func:`_sgd_step`). Each group's
    ratings are first copied in visiting order, so the pass reads them
    sequentially and only the factor rows of one user block and one item block
    are touched at random. Returns the sum of the squared errors met on the way.
    """
    n = order.size
    u_seq = np.empty(n, dtype=np.int64)
    i_seq = np.empty(n, dtype=np.int64)
    x_seq = np.empty(n)
    for t in prange(n):
        r = order[t]
        u_seq[t] = users[r]
        i_seq[t] = items[r]
        x_seq[t] = data[r]
    total = 0.0
    for s in range(n_strata):
        for b in prange(n_strata):
            g = s * n_strata + b
            sse = 0.0
            for t in range(starts[g], starts[g + 1]):
                sse += _sgd_step(u_seq[t], i_seq[t], x_seq[t], mu, P, Q, bu, bi, lr,
                                 lr_bias, alpha, alpha_bias, user_share, item_share,
                                 fit_bias)
            total += sse
    return total


@njit(parallel=True, **JIT_KWARGS)
def predict_pairs(users, items, mu, P, Q, bu, bi, low, high, out):
    """``out[t] = clip(mu + bu[u] + bi[i] + P[u] . Q[i], low, high)``.

    A negative user or item index (an id not seen in training) contributes no bias
    and no factors.  Pass ``low = -inf, high = inf`` for no clipping.
    """
    k = P.shape[1]
    for t in prange(users.size):
        u = users[t]
        i = items[t]
        pred = mu
        if u >= 0:
            pred += bu[u]
        if i >= 0:
            pred += bi[i]
        if u >= 0 and i >= 0:
            for f in range(k):
                pred += P[u, f] * Q[i, f]
        out[t] = min(max(pred, low), high)


@njit(parallel=True, **JIT_KWARGS)
def squared_errors(users, items, data, mu, P, Q, bu, bi, low, high):
    """Sum of squared errors of the clipped predictions of known pairs."""
    k = P.shape[1]
    total = 0.0
    for t in prange(users.size):
        u = users[t]
        i = items[t]
        pred = mu + bu[u] + bi[i]
        for f in range(k):
            pred += P[u, f] * Q[i, f]
        e = data[t] - min(max(pred, low), high)
        total += e * e
    return total


# below this many ratings of an item in a batch, rank-one updates beat a BLAS call
_BLAS_MIN_RATINGS = 8


@njit(parallel=True, **JIT_KWARGS)
def masked_item_step(batch, indptr, indices, data, mu, P, bu, Q, bi, A, scale, B, counts,
                     alpha, alpha_bias, item_share, learning_rate, fit_bias, n_sweeps):
    """The item side of one step of the masked online learner, in place.

    ``batch`` holds users whose codes ``[P[u], bu[u]]`` were just computed on the
    items they rated (their mask; :func:`als_rows` on the batch).  Every item ``i``
    rated in the batch then

    1. folds the batch into its running averages ``scale[i] * A[i] = mean(z z^T)``
       and ``B[i] = mean(z * target)`` (``z = [P[u], 1]``, ``target = x_ui - mu -
       bu[u]``) with weight ``gamma = min(1, n_new / counts[i] ** learning_rate)``,
       ``counts[i]`` counting the ratings of item ``i`` seen so far: the per-feature
       weights of the subsampled learner, which forget stale codes at a pace set by
       how often each item is seen (exact running means when ``learning_rate`` is 1).
       The decay of ``A[i]`` is kept in ``scale[i]`` rather than applied to its
       ``(k + 1) ** 2`` entries;
    2. takes ``n_sweeps`` warm-started coordinate sweeps on
       ``1/2 d (scale[i] A[i] + ridge) d - B[i] d`` for ``d = [Q[i], bi[i]]`` (``bi``
       stays unchanged when ``fit_bias`` is False), the ridge being ``alpha`` (factors)
       or ``alpha_bias`` (bias) times ``item_share[i]``, the share of the item's
       penalty per rating (1 penalises per rating).

    Items not rated in the batch are left alone; items are processed in parallel.
    ``A`` has shape ``(n_items, k + 1, k + 1)`` (upper triangle used), ``scale``
    ``(n_items,)`` (start at 1) and ``B`` ``(n_items, k + 1)``.
    """
    k = Q.shape[1]
    m = k + 1
    n_items = Q.shape[0]
    # the batch's ratings grouped by item (counting sort)
    start = np.zeros(n_items + 1, dtype=np.int64)
    for s in range(batch.size):
        u = batch[s]
        for p in range(indptr[u], indptr[u + 1]):
            start[indices[p] + 1] += 1
    n_touched = 0
    for i in range(n_items):
        if start[i + 1] > 0:
            n_touched += 1
        start[i + 1] += start[i]
    touched = np.empty(n_touched, dtype=np.int64)
    t = 0
    for i in range(n_items):
        if start[i + 1] > start[i]:
            touched[t] = i
            t += 1
    fill = start[:-1].copy()
    who = np.empty(start[n_items], dtype=np.int64)
    what = np.empty(start[n_items])
    for s in range(batch.size):
        u = batch[s]
        for p in range(indptr[u], indptr[u + 1]):
            i = indices[p]
            who[fill[i]] = u
            what[fill[i]] = data[p]
            fill[i] += 1
    n_free = m if fit_bias else k
    for t in prange(n_touched):
        i = touched[t]
        lo = start[i]
        nb = start[i + 1] - lo
        counts[i] += nb
        g = nb / counts[i] ** learning_rate
        if g > 1.0:
            g = 1.0
        keep = 1.0 - g
        # decay: B explicitly, A through its scale
        for a in range(m):
            B[i, a] *= keep
        sc = scale[i] * keep
        if sc < 1e-150:
            # fold the scale in before it underflows (and when A is forgotten entirely)
            for a in range(m):
                for c in range(a, m):
                    A[i, a, c] *= sc
            sc = 1.0
        scale[i] = sc
        w = g / nb
        wa_scaled = w / sc
        if nb < _BLAS_MIN_RATINGS:
            z = np.empty(m)
            for p in range(nb):
                u = who[lo + p]
                for a in range(k):
                    z[a] = P[u, a]
                z[k] = 1.0
                tgt = w * (what[lo + p] - mu - bu[u])
                for a in range(m):
                    B[i, a] += tgt * z[a]
                    za = wa_scaled * z[a]
                    for c in range(a, m):
                        A[i, a, c] += za * z[c]
        else:
            Z = np.empty((nb, m))
            y = np.empty(nb)
            for p in range(nb):
                u = who[lo + p]
                for a in range(k):
                    Z[p, a] = P[u, a]
                Z[p, k] = 1.0
                y[p] = what[lo + p] - mu - bu[u]
            G = Z.T @ Z
            b = Z.T @ y
            for a in range(m):
                B[i, a] += w * b[a]
                for c in range(a, m):
                    A[i, a, c] += wa_scaled * G[a, c]
        d = np.empty(m)
        for a in range(k):
            d[a] = Q[i, a]
        d[k] = bi[i] if fit_bias else 0.0
        share = item_share[i]
        for sweep in range(n_sweeps):
            for a in range(n_free):
                # gradient of coordinate a: sc (A d)_a - B_a, from the upper triangle
                acc = 0.0
                for c in range(a):
                    acc += A[i, c, a] * d[c]
                for c in range(a, m):
                    acc += A[i, a, c] * d[c]
                ridge = share * (alpha if a < k else alpha_bias)
                curv = sc * A[i, a, a] + ridge
                if curv > 0.0:
                    d[a] -= (sc * acc - B[i, a] + ridge * d[a]) / curv
        for a in range(k):
            Q[i, a] = d[a]
        if fit_bias:
            bi[i] = d[k]
