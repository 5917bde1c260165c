"""Slow, obvious NumPy references for CP tensor decomposition (ALGORITHMS.md section 10)."""

import itertools
from functools import reduce

import numpy as np
from scipy.optimize import linear_sum_assignment


def unfold(X, mode):
    """Mode-``mode`` unfolding: rows indexed by that mode, the others in C order."""
    return np.moveaxis(np.asarray(X, dtype=np.float64), mode, 0).reshape(X.shape[mode], -1)


def khatri_rao(matrices):
    """Column-wise Kronecker product, the first matrix varying slowest (C order)."""
    R = matrices[0].shape[1]
    return np.stack([reduce(np.kron, [np.asarray(M[:, r], dtype=np.float64) for M in matrices])
                     for r in range(R)], axis=1)


def mttkrp(X, factors, mode):
    others = [F for m, F in enumerate(factors) if m != mode]
    return unfold(X, mode) @ khatri_rao(others)


def cp_to_tensor(weights, factors):
    R = factors[0].shape[1]
    weights = np.ones(R) if weights is None else weights
    out = 0.0
    for r in range(R):
        out = out + weights[r] * reduce(np.multiply.outer,
                                        [np.asarray(F[:, r], dtype=np.float64) for F in factors])
    return out


def gram_hadamard(factors, mode):
    G = np.ones((factors[0].shape[1],) * 2)
    for m, F in enumerate(factors):
        if m != mode:
            G = G * (F.T.astype(np.float64) @ F.astype(np.float64))
    return G


def als_update(X, factors, mode):
    """Least-squares factor of ``mode``: ``M G^+``."""
    return mttkrp(X, factors, mode) @ np.linalg.pinv(gram_hadamard(factors, mode))


def hals_update(X, factors, mode, F_start, n_sweeps):
    """``n_sweeps`` of exact non-negative column updates, column after column."""
    M = mttkrp(X, factors, mode)
    G = gram_hadamard(factors, mode)
    F = np.array(F_start, dtype=np.float64)
    for _ in range(n_sweeps):
        for r in range(F.shape[1]):
            if G[r, r] > 0:
                F[:, r] = np.maximum(0.0, F[:, r] + (M[:, r] - F @ G[:, r]) / G[r, r])
    return F


def factor_match_score(true_factors, found_factors):
    """Mean over matched components of the product over modes of |cosine|."""
    def unit(F):
        F = np.asarray(F, dtype=np.float64)
        return F / np.linalg.norm(F, axis=0)

    sim = reduce(np.multiply, [np.abs(unit(A).T @ unit(B))
                               for A, B in zip(true_factors, found_factors)])
    rows, cols = linear_sum_assignment(-sim)
    return float(sim[rows, cols].mean())


def best_permutation_score(sim):
    """Exhaustive search of the best one-to-one matching (tiny ranks only)."""
    k = sim.shape[0]
    return max(np.mean([sim[i, p[i]] for i in range(k)])
               for p in itertools.permutations(range(sim.shape[1]), k))
