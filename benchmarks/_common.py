"""Measures shared by the benchmark scripts (run them from the repository root)."""

import time

import numpy as np

from nimf.assessment import match_components


def recovery(found, truth):
    """Mean |cosine| of found and planted components matched one to one."""
    return float(match_components(truth, found, metric="cosine").score)


def matched_correlation(found, truth):
    """Mean |correlation| of found and planted maps matched one to one."""
    return float(match_components(truth, found, metric="correlation").score)


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
