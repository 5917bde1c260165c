"""Checks of input values, compiled: one read of the data at memory speed."""

import numpy as np
from numba import njit

from .._config import JIT_FAST_KWARGS


@njit(**JIT_FAST_KWARGS)
def first_nonfinite_row(X, lo, hi):
    """Index of the first row in ``lo:hi`` of the 2-D ``X`` holding NaN or infinity, or -1.

    ``x * 0`` is 0 for a finite ``x`` and NaN otherwise, so each row's sum of
    them is NaN exactly when the row holds a non-finite value (the sum may be
    reordered: NaN survives any order).
    """
    for i in range(lo, hi):
        row = X[i]
        acc = 0.0
        for j in range(row.shape[0]):
            acc += row[j] * 0.0
        if acc != acc:
            return i
    return -1


@njit(**JIT_FAST_KWARGS)
def scan_rows(X, lo, hi):
    """``(first, sumsq)`` over rows ``lo:hi`` of the 2-D ``X``, in one read.

    ``first`` is the first row holding NaN or infinity (-1 if none; the scan
    stops there) and ``sumsq`` the float64 sum of squares of the rows before it
    (infinite when it overflows float64).
    """
    total = 0.0
    for i in range(lo, hi):
        row = X[i]
        acc = 0.0
        sq = 0.0
        for j in range(row.shape[0]):
            v = np.float64(row[j])
            acc += v * 0.0
            sq += v * v
        if acc != acc:
            return i, total
        total += sq
    return -1, total
