"""Slow, obvious NumPy references for the matrix completion kernels."""

import numpy as np


def als_rows(X_dense, mask, mu, other_bias, other_factors, alpha, alpha_bias, fit_bias,
             weights=None):
    """Ridge solve of every row of a dense matrix (``mask`` marks the observed
    entries) with ``np.linalg.solve``; row ``r``'s penalty is weighted by
    ``weights[r]`` (default: its number of ratings)."""
    n_rows = X_dense.shape[0]
    k = other_factors.shape[1]
    factors = np.zeros((n_rows, k))
    bias = np.zeros(n_rows)
    for r in range(n_rows):
        cols = np.flatnonzero(mask[r])
        n = cols.size
        if n == 0:
            continue
        Z = other_factors[cols]
        if fit_bias:
            Z = np.hstack([Z, np.ones((n, 1))])
        t = X_dense[r, cols] - mu - other_bias[cols]
        w = n if weights is None else weights[r]
        ridge = np.full(Z.shape[1], alpha * w)
        if fit_bias:
            ridge[-1] = alpha_bias * w
        x = np.linalg.solve(Z.T @ Z + np.diag(ridge), Z.T @ t)
        factors[r] = x[:k]
        if fit_bias:
            bias[r] = x[k]
    return factors, bias


def sgd_epoch(users, items, data, order, mu, P, Q, bu, bi, lr, lr_bias, alpha, alpha_bias,
              fit_bias, user_share=None, item_share=None):
    """A serial SGD pass; each rating carries ``user_share[u]`` of its user's penalty and
    ``item_share[i]`` of its item's (default 1: the penalty per rating)."""
    P, Q, bu, bi = P.copy(), Q.copy(), bu.copy(), bi.copy()
    su_all = np.ones(P.shape[0]) if user_share is None else user_share
    si_all = np.ones(Q.shape[0]) if item_share is None else item_share
    total = 0.0
    for t in order:
        u, i = users[t], items[t]
        e = data[t] - (mu + bu[u] + bi[i] + P[u] @ Q[i])
        total += e * e
        su, si = su_all[u], si_all[i]
        if fit_bias:
            bu[u] += lr_bias * (e - su * alpha_bias * bu[u])
            bi[i] += lr_bias * (e - si * alpha_bias * bi[i])
        p, q = P[u].copy(), Q[i].copy()
        P[u] = p + lr * (e * q - su * alpha * p)
        Q[i] = q + lr * (e * p - si * alpha * q)
    return P, Q, bu, bi, total


def masked_item_step(batch, X_dense, mask, mu, P, bu, Q, bi, A, B, counts, alpha,
                     alpha_bias, learning_rate, fit_bias, n_sweeps, item_share=None):
    """The item update of the masked online learner, one item at a time; the ridge of
    item ``i`` is scaled by ``item_share[i]`` (default 1: the penalty per rating)."""
    Q, bi, A, B, counts = Q.copy(), bi.copy(), A.copy(), B.copy(), counts.copy()
    k = Q.shape[1]
    m = k + 1
    sub = mask[batch]
    for i in np.flatnonzero(sub.any(axis=0)):
        users = batch[sub[:, i]]
        nb = users.size
        counts[i] += nb
        g = min(1.0, nb / counts[i] ** learning_rate)
        Z = np.hstack([P[users], np.ones((nb, 1))])
        y = X_dense[users, i] - mu - bu[users]
        full = np.triu(A[i]) + np.triu(A[i], 1).T
        full = (1 - g) * full + g * (Z.T @ Z) / nb
        A[i] = np.triu(full) + np.tril(A[i], -1)
        B[i] = (1 - g) * B[i] + g * (Z.T @ y) / nb
        d = np.append(Q[i], bi[i] if fit_bias else 0.0)
        for _ in range(n_sweeps):
            for a in range(m if fit_bias else k):
                ridge = (alpha if a < k else alpha_bias) * (
                    1.0 if item_share is None else item_share[i])
                grad = full[a] @ d - B[i, a] + ridge * d[a]
                d[a] -= grad / (full[a, a] + ridge)
        Q[i] = d[:k]
        if fit_bias:
            bi[i] = d[k]
    return Q, bi, A, B, counts


def biases_closed_form(users, items, ratings, n_users, n_items, alpha_bias):
    """The ridge-regularised biases (per-rating penalty) by one sparse linear solve."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    mu = ratings.mean()
    n = ratings.size
    rows = np.arange(n)
    M = sp.hstack([sp.csr_matrix((np.ones(n), (rows, users)), shape=(n, n_users)),
                   sp.csr_matrix((np.ones(n), (rows, items)), shape=(n, n_items))]).tocsr()
    counts = np.concatenate([np.bincount(users, minlength=n_users),
                             np.bincount(items, minlength=n_items)])
    lhs = (M.T @ M + sp.diags(alpha_bias * counts)).tocsc()
    sol = spla.spsolve(lhs, M.T @ (ratings - mu))
    return mu, sol[:n_users], sol[n_users:]
