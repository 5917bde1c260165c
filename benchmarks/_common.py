"""Measures shared by the benchmark scripts (run them from the repository root)."""

import time

import numpy as np
from scipy.optimize import linear_sum_assignment


def recovery(found, truth):
    """Mean |cosine| of found and planted components matched one to one."""
    f = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-300)
    t = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    sim = np.abs(t @ f.T)
    rows, cols = linear_sum_assignment(-sim)
    return float(sim[rows, cols].mean())


def matched_correlation(found, truth):
    """Mean |correlation| of found and planted maps matched one to one."""
    found = np.asarray(found, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    return recovery(found - found.mean(1, keepdims=True), truth - truth.mean(1, keepdims=True))


def heldout_residual(components, X):
    """||X - least-squares reconstruction on the components|| / ||X||."""
    q, _ = np.linalg.qr(np.asarray(components, dtype=np.float64).T)
    Xd = np.asarray(X, dtype=np.float64)
    resid = Xd - (Xd @ q) @ q.T
    return float(np.linalg.norm(resid) / np.linalg.norm(Xd))


def timed(make, X, repeats):
    """Best fit time over ``repeats`` fresh estimators, and the last one."""
    best, est = np.inf, None
    for _ in range(repeats):
        est = make()
        t0 = time.perf_counter()
        est.fit(X)
        best = min(best, time.perf_counter() - t0)
    return best, est
