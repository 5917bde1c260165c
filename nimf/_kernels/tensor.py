"""Kernels of CP tensor decomposition: the cheap halves of the MTTKRP, and masked filling.

The matricized-tensor times Khatri-Rao product (MTTKRP) of mode ``n``,
``M[i, r] = sum over the other indices of X[..., i, ...] prod_{l != n} F_l[i_l, r]``,
is the whole cost of an ALS or HALS update.  It is computed in two steps
(Phan, Tichavsky & Cichocki 2013), never forming the Khatri-Rao product of all
the other modes:

1. a BLAS-3 product of an unfolding with one factor, which contracts one mode
   of the whole tensor (done by the caller: ``X.reshape(-1, I_last) @ F_last``
   or ``F_0.T @ X.reshape(I_0, -1)``);
2. contractions of the remaining modes of that much smaller partial result,
   elementwise in the component index ``r``: the kernels below.

Partial results carry the component axis last (``contract_r_last``: the tensor
contracted from the right) or first (``contract_r_first``: from the left), so
every inner loop runs over a contiguous axis.
"""

import numpy as np
from numba import njit

from .._config import JIT_KWARGS


@njit(**JIT_KWARGS)
def contract_r_last(T, F, out):
    """``out[p, q, r] = sum_j T[p, j, q, r] F[j, r]``.

    ``T`` is a C-contiguous 4D view ``(P, J, Q, R)`` of a partial result whose
    last axis is the component; ``F`` the ``(J, R)`` factor of the contracted
    mode; ``out`` of shape ``(P, Q, R)`` is overwritten.
    """
    P, J, Q, R = T.shape
    for p in range(P):
        for q in range(Q):
            for r in range(R):
                out[p, q, r] = 0.0
        for j in range(J):
            for q in range(Q):
                for r in range(R):
                    out[p, q, r] += T[p, j, q, r] * F[j, r]


@njit(**JIT_KWARGS)
def contract_r_first(T, F, out):
    """``out[r, p, q] = sum_j T[r, p, j, q] F[j, r]``.

    ``T`` is a C-contiguous 4D view ``(R, P, J, Q)`` of a partial result whose
    first axis is the component; ``F`` the ``(J, R)`` factor of the contracted
    mode; ``out`` of shape ``(R, P, Q)`` is overwritten.
    """
    R, P, J, Q = T.shape
    for r in range(R):
        for p in range(P):
            for q in range(Q):
                out[r, p, q] = 0.0
            for j in range(J):
                f = F[j, r]
                if f != 0.0:
                    for q in range(Q):
                        out[r, p, q] += f * T[r, p, j, q]


@njit(**JIT_KWARGS)
def fill_missing(X, X_hat, observed, out):
    """``out = where(observed, X, X_hat)``; returns ``sum over observed of (X - X_hat)^2``.

    All arrays are 1D (flat views of tensors of one shape).  Values of ``X``
    where ``observed`` is False are never read, so they cannot influence the
    result (they may be NaN).  The sum is accumulated in float64.
    """
    total = 0.0
    for t in range(X.shape[0]):
        if observed[t]:
            x = X[t]
            d = np.float64(x) - np.float64(X_hat[t])
            total += d * d
            out[t] = x
        else:
            out[t] = X_hat[t]
    return total
