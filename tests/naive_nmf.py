"""Slow, obvious NumPy references for the NMF kernels and objectives.

Written for clarity, not speed, in float64: each follows the formulas of
``nimf.decomposition.nmf`` directly so that the compiled code can be checked.
"""

import numpy as np

EPSILON = np.finfo(np.float32).eps


def hals_rows(F, G, Bt, l1, l2, order, max_sweeps, inner_tol, positive):
    """Row-by-row coordinate descent, gradient recomputed from scratch each time.

    Returns the updated copy of ``F`` (float64) and the first-sweep violation.
    """
    F = np.array(F, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    B = np.asarray(Bt, dtype=np.float64).T
    violation = 0.0
    for i in range(F.shape[0]):
        first = None
        for sweep in range(max_sweeps):
            moved = 0.0
            for t in order:
                old = F[i, t]
                grad = G[t] @ F[i] - B[i, t] + l2 * old
                hess = G[t, t] + l2
                if positive:
                    grad += l1
                    if sweep == 0:
                        violation += abs(min(grad, 0.0)) if old == 0 else abs(grad)
                    if hess <= 0:
                        continue
                    new = max(old - grad / hess, 0.0)
                else:
                    if sweep == 0:
                        if old != 0:
                            violation += abs(grad + l1 * np.sign(old))
                        else:
                            violation += max(abs(grad) - l1, 0.0)
                    if hess <= 0:
                        continue
                    z = old - grad / hess
                    new = np.sign(z) * max(abs(z) - l1 / hess, 0.0)
                F[i, t] = new
                moved += (new - old) ** 2
            if sweep == 0:
                first = moved
                if first == 0:
                    break
            elif moved <= inner_tol ** 2 * first:
                break
    return F, violation


def objective(X, W, H, l1_W=0.0, l1_H=0.0, l2_W=0.0, l2_H=0.0):
    """scikit-learn's regularised Frobenius objective, from the residual."""
    X, W, H = (np.asarray(a, dtype=np.float64) for a in (X, W, H))
    return (0.5 * np.sum((X - W @ H) ** 2)
            + l1_W * np.abs(W).sum() + l1_H * np.abs(H).sum()
            + 0.5 * l2_W * np.sum(W ** 2) + 0.5 * l2_H * np.sum(H ** 2))


def beta_divergence(X, Y, beta):
    """Sum over entries of the elementwise beta-divergence d(x | y)."""
    X = np.asarray(X, dtype=np.float64).ravel()
    Y = np.maximum(np.asarray(Y, dtype=np.float64).ravel(), EPSILON)
    total = 0.0
    for x, y in zip(X, Y):
        if beta == 2:
            total += 0.5 * (x - y) ** 2
        elif beta == 1:
            total += (x * np.log(x / y) if x > 0 else 0.0) - x + y
        elif beta == 0:
            total += x / y - np.log(x / y) - 1
        else:
            total += (x ** beta + (beta - 1) * y ** beta - beta * x * y ** (beta - 1)) / (
                beta * (beta - 1))
    return total


def mu_ratio(X, WH, beta):
    """``X * WH^(beta-2)`` and ``WH^(beta-1)`` with ``WH`` clipped at EPSILON."""
    V = np.maximum(np.asarray(WH, dtype=np.float64), EPSILON)
    X = np.asarray(X, dtype=np.float64)
    return X * V ** (beta - 2), V ** (beta - 1)


def mu_step_W(X, W, H, beta, l1=0.0, l2=0.0):
    """One multiplicative update of ``W`` (Fevotte & Idier 2011)."""
    X, W, H = (np.asarray(a, dtype=np.float64) for a in (X, W, H))
    num, den = mu_ratio(X, W @ H, beta)
    if beta == 2:
        num, den = X, W @ H
    gamma = 1 / (2 - beta) if beta < 1 else (1 / (beta - 1) if beta > 2 else 1.0)
    denom = np.maximum(den @ H.T + l1 + l2 * W, EPSILON)
    return W * (num @ H.T / denom) ** gamma
