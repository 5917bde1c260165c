"""Slow, obvious NumPy references for the compiled kernels and the solvers.

Written for clarity, not speed: each follows the formulas of ALGORITHMS.md
directly so that the fast code can be checked against it.
"""

import numpy as np


def enet_norm(v, l1_ratio):
    v = np.asarray(v, dtype=np.float64)
    return (1 - l1_ratio) * np.sum(v ** 2) + l1_ratio * np.sum(np.abs(v))


def project_enet_ball(u, radius, l1_ratio, positive=False):
    """Projection by bisection on the KKT multiplier (float64, ~1e-14)."""
    u = np.asarray(u, dtype=np.float64)
    if positive:
        u = np.maximum(u, 0)
    if radius <= 0:
        return np.zeros_like(u)
    if enet_norm(u, l1_ratio) <= radius:
        return u.copy()

    def shrink(lam):
        mag = np.maximum(np.abs(u) - l1_ratio * lam, 0) / (1 + 2 * (1 - l1_ratio) * lam)
        return np.sign(u) * mag

    lo, hi = 0.0, 1.0
    while enet_norm(shrink(hi), l1_ratio) > radius:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if enet_norm(shrink(mid), l1_ratio) > radius:
            lo = mid
        else:
            hi = mid
    return shrink(hi)


def enet_codes(G, beta, l1, l2, positive=False, n_iter=20000):
    """Codes minimising 1/2 a'Ga - beta'a + l1|a|_1 + l2/2|a|^2, by FISTA."""
    G = np.asarray(G, dtype=np.float64)
    beta = np.atleast_2d(np.asarray(beta, dtype=np.float64))
    lipschitz = np.linalg.eigvalsh(G).max() + l2
    step = 1.0 / lipschitz
    codes = np.zeros_like(beta)
    y = codes.copy()
    t = 1.0
    for _ in range(n_iter):
        grad = y @ G - beta + l2 * y
        z = y - step * grad
        new = np.sign(z) * np.maximum(np.abs(z) - step * l1, 0)
        if positive:
            new = np.maximum(new, 0)
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        y = new + (t - 1) / t_new * (new - codes)
        codes, t = new, t_new
    return codes


def code_objective(G, beta, codes, l1, l2):
    codes = np.atleast_2d(codes)
    quad = 0.5 * np.einsum("ij,jk,ik->i", codes, G, codes)
    return quad - np.sum(beta * codes, axis=1) + l1 * np.abs(codes).sum(1) + 0.5 * l2 * (codes ** 2).sum(1)


def batch_weight(count, batch_size, learning_rate):
    return 1 - np.prod([1 - (count + i) ** (-learning_rate)
                        for i in range(1, batch_size + 1)])


def dictionary_bcd(D, B, S, cols, order, norms, l1_ratio, positive):
    """Block coordinate descent restricted to ``cols`` with partial projection."""
    D = D.copy()
    norms = norms.copy()
    for j in order:
        if S[j, j] <= 0:
            continue
        sub = D[j, cols].copy()
        u = sub + (B[j, cols] - S[j] @ D[:, cols]) / S[j, j]
        old = enet_norm(sub, l1_ratio)
        radius = min(1.0, 1.0 - (norms[j] - old))
        new = project_enet_ball(u, radius, l1_ratio, positive)
        D[j, cols] = new
        norms[j] += enet_norm(new, l1_ratio) - old
    return D, norms


def online_dictionary_learning(X, D0, batches, orders, alpha, l1_ratio,
                               positive_dict=False, learning_rate=1.0):
    """Online dictionary learning of Mairal et al. (2010), ridge codes.

    ``batches`` lists the sample indices of each mini-batch and ``orders`` the
    order in which components are visited at each step.  The code penalty is
    relative (``alpha * trace(G) / k``) as in nimf.
    """
    D = np.array(D0, dtype=np.float64)
    k, p = D.shape
    S = np.zeros((k, k))
    B = np.zeros((k, p))
    seen = 0
    for rows, order in zip(batches, orders):
        x = X[rows].astype(np.float64)
        G = D @ D.T
        lam = alpha * np.trace(G) / k
        A = np.linalg.solve(G + lam * np.eye(k), D @ x.T).T
        w = batch_weight(seen, len(rows), learning_rate)
        seen += len(rows)
        S = (1 - w) * S + w * A.T @ A / len(rows)
        B = (1 - w) * B + w * A.T @ x / len(rows)
        for j in order:
            if S[j, j] <= 0:
                continue
            u = D[j] + (B[j] - S[j] @ D) / S[j, j]
            D[j] = project_enet_ball(u, 1.0, l1_ratio, positive_dict)
    return D


def recovery(found, truth):
    """Mean |cosine| of the Hungarian matching of found to true components
    (independent of their sign and order)."""
    from scipy.optimize import linear_sum_assignment

    f = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-300)
    t = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    sim = np.abs(t @ f.T)
    rows, cols = linear_sum_assignment(-sim)
    return float(sim[rows, cols].mean())
