"""Non-negative matrix factorization (NMF).

``X ~ W H`` with ``W`` (codes, ``n_samples x n_components``) and ``H``
(``components_``, ``n_components x n_features``) non-negative, fitted by

- HALS / cyclic coordinate descent for the Frobenius loss (``solver='cd'``):
  the large products ``X H^T`` and ``X^T W`` go to BLAS, and every row of a
  factor is then swept several times by a compiled kernel, which costs little
  compared with the products (accelerated HALS, Gillis & Glineur 2012), and
  the iterates are extrapolated, an iteration that raises the objective being
  undone (Ang & Gillis 2019); from an NNDSVD start, on data with a clear
  rank-``k`` structure, the first iterations run on the rank-``k + 10`` sketch
  ``Q Q^T X`` that the start's randomized SVD found, for a fraction of the cost
  (compressed NMF: Tepper & Sapiro 2016, Erichson et al. 2017);
- multiplicative updates for any beta-divergence (``solver='mu'``): Frobenius,
  Kullback-Leibler (count data), Itakura-Saito;
- semi-NMF (``semi=True``): only ``H`` is non-negative, ``W`` is free, and ``X``
  may have any sign;
- mini-batch / online updates (``partial_fit``) that keep the sufficient
  statistics ``A = sum W^T W`` and ``B = sum W^T X`` of the chunks seen.

Inputs read by blocks (memory maps, zarr and dask arrays, masked studies on
disk, see :mod:`nimf.sources`) are never loaded whole by ``partial_fit`` and
``transform``: ``partial_fit`` takes them chunk by chunk, ``transform`` block
by block.  ``fit`` needs the whole data: it reads such an input into memory
when it fits comfortably, and otherwise says to use ``partial_fit``.

The objective and the scaling of the penalties are those of
:class:`sklearn.decomposition.NMF`, so objectives can be compared::

    1/2 ||X - W H||_loss^2
      + alpha_W l1_ratio n_features ||W||_1 + 1/2 alpha_W (1 - l1_ratio) n_features ||W||_F^2
      + alpha_H l1_ratio n_samples ||H||_1  + 1/2 alpha_H (1 - l1_ratio) n_samples ||H||_F^2

The compiled kernels live in :mod:`nimf._kernels.nmf`; the first call compiles
them (a few seconds, cached on disk afterwards).
"""

import copy
import math
import numbers
import warnings

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import _validation
from .._kernels import nmf as _nmf
from .._kernels.checks import first_nonfinite_row, scan_rows
from .._validation import (check_bool, check_codes, check_finite_result, check_float,
                           check_int, check_matrix, check_option, check_source,
                           validate_matrix)
from ..sources import is_large_input

__all__ = ["NMF", "non_negative_factorization", "beta_divergence"]

EPSILON = np.finfo(np.float32).eps
_INITS = ("random", "nndsvd", "nndsvda", "nndsvdar", "custom")
_SOLVERS = ("cd", "mu")
_BETA_NAMES = {"frobenius": 2.0, "kullback-leibler": 1.0, "itakura-saito": 0.0}
# accelerated HALS: stop sweeping a row when it moves less than this fraction
# of its first move (Gillis & Glineur 2012 use 0.1; 0.3 is faster here)
_INNER_TOL = 0.3
# a sweep of the compiled kernel costs k^2 per row against n_other * k for the
# BLAS product: spend at most ~10% of the product's flop count on extra sweeps
# (with extrapolation, 10% reached scikit-learn's error 1.1-1.5x sooner than 2%
# over bench_nmf_regimes.py's regimes; 30% was no better than 10%)
_SWEEP_BUDGET = 0.1
# float64 data: iterate on a float32 copy of X until the optimality violation has
# dropped by this factor (1e-3: 3.4-3.7x faster than scikit-learn on the benchmark,
# 1e-2: 2.9-3.3x), then go on in float64 (0 disables); only when the copy takes at
# most _MIXED_PRECISION_MAX_BYTES
_MIXED_PRECISION_SWITCH = 1e-3
_MIXED_PRECISION_MAX_BYTES = 2 ** 31
_MAX_SWEEPS = 10
# iterations on the sketch of the randomized SVD of an NNDSVD start ('cd',
# non-negative factors): only when the (k+1)-th singular value is at most
# _SKETCH_MAX_GAP times the k-th; as many as cost _SKETCH_BUDGET iterations on the
# data (at least _SKETCH_MIN_ITER), _SKETCH_SWEEPS sweeps per half iteration,
# stopping when the violation has dropped by _SKETCH_TOL or the objective moves by
# less than _SKETCH_STALL (relative) over _STALL_WINDOW iterations.  HALS on the
# sketch converges about as slowly as on the data, at a fraction of the cost:
# over bench_nmf_regimes.py's 13 regimes and data seeds 0-2, a budget of 5 was
# the least that brought the k = 50 rows (an iteration on the sketch costs a
# quarter of one on the data there) to scikit-learn's error after one more
# iteration; 4 left one row at 2.0x, 8 spent more than it saved.  The gap was
# at most 0.12 on the regimes with planted structure and above 0.98 on the nearly
# structureless 'zeros' rows, where the sketch led HALS to a worse local minimum
_SKETCH_MAX_GAP = 0.5
_SKETCH_BUDGET = 5.0
_SKETCH_MIN_ITER = 3
_SKETCH_SWEEPS = 2
_SKETCH_TOL = 1e-3
_SKETCH_STALL = 1e-5
# also stop when the objective has gone down by less than _STALL_FRACTION * tol
# (relative) over the last _STALL_WINDOW iterations: the violation, measured at
# extrapolated points and in float32 round-off, may not reach tol where the
# objective no longer moves; the float32 start gives way to float64 below
# _FLOAT32_STALL
_STALL_WINDOW = 10
_STALL_FRACTION = 1e-2
_FLOAT32_STALL = 1e-5
# extrapolation of the HALS iterates (Ang & Gillis 2019): first step, growth of
# the step after a decrease of the objective, growth of its ceiling, division
# after an increase; (0, ...) disables it
_EXTRAPOLATION = (0.5, 1.05, 1.01, 1.5)
# power iterations of the randomized SVD of the NNDSVD starts: each costs two
# passes over X, as much as a HALS iteration, and a rough subspace is enough
# for a start (scikit-learn's 'auto' runs 4 or 7; 1 reached scikit-learn's error
# sooner than 2 or 'auto' on bench_nmf_regimes.py's regimes)
_SVD_POWER_ITER = 1
# products with X for at most this many components in float32: one matrix-vector
# product per component instead of one matrix-matrix product (see _times_Xt)
_GEMV_MAX_K = 5
# inputs read by blocks: blocks of about this many bytes (whole row chunks)
_BLOCK_BYTES = 2 ** 26
# ``fit`` reads an input given by blocks into memory only when it takes at most
# this fraction of the memory available (the solvers need a few times more)
_FIT_MEMORY_FRACTION = 0.25
# what to do when the factors overflow
_DIVERGED_HINT = ("scale your data (e.g. divide X by its largest value), or increase "
                  "alpha_W / alpha_H")


# ----------------------------------------------------------------- helpers
def _beta_to_float(beta_loss):
    if isinstance(beta_loss, str):
        check_option(beta_loss, "beta_loss", tuple(_BETA_NAMES))
        return _BETA_NAMES[beta_loss]
    if isinstance(beta_loss, (bool, np.bool_)) or not isinstance(beta_loss, numbers.Real):
        raise ValueError(
            "beta_loss must be 'frobenius', 'kullback-leibler', 'itakura-saito' "
            f"or a real number, got {beta_loss!r}")
    return check_float(beta_loss, "beta_loss")


def beta_divergence(X, W, H, beta, square_root=False):
    """Beta-divergence between ``X`` and ``W H`` (dense, float64 accumulation).

    ``beta=2`` is ``1/2 ||X - W H||_F^2``, ``beta=1`` the (generalised)
    Kullback-Leibler divergence, ``beta=0`` the Itakura-Saito divergence.
    With ``square_root`` returns ``sqrt(2 d)``, scikit-learn's
    ``reconstruction_err_`` (the Frobenius norm of the residual for ``beta=2``).
    """
    beta = _beta_to_float(beta)
    if beta == 2.0:
        res = 0.5 * _squared_residual(X, W, H)
    else:
        X = np.asarray(X, dtype=np.float64)
        WH = np.asarray(W, dtype=np.float64) @ np.asarray(H, dtype=np.float64)
        WH = np.maximum(WH, EPSILON)
        if beta == 1.0:
            pos = X > EPSILON
            Xp = X[pos]
            res = float(np.sum(Xp * np.log(Xp / WH[pos]))) - float(X.sum()) + float(WH.sum())
        elif beta == 0.0:
            ratio = X / WH
            res = float(np.sum(ratio) - np.sum(np.log(ratio)) - X.size)
        else:
            Xc = np.maximum(X, EPSILON) if beta < 0 else X
            res = float(np.sum(Xc ** beta + (beta - 1) * WH ** beta
                               - beta * Xc * WH ** (beta - 1))) / (beta * (beta - 1))
    res = max(res, 0.0)
    return float(np.sqrt(2 * res)) if square_root else res


def _squared_residual(X, W, H):
    """``||X - W H||_F^2`` by blocks of rows, in the dtype of ``X``, summed in float64.

    (Casting a float32 ``X`` to float64 and forming the whole product took as
    long as several iterations of the solver.)
    """
    X = np.asarray(X)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = X.astype(dtype, copy=False)
    W = np.asarray(W, dtype=dtype)
    H = np.asarray(H, dtype=dtype)
    rows = max(1, 2 ** 20 // max(1, X.shape[1]))
    total = 0.0
    for lo in range(0, X.shape[0], rows):
        block = W[lo:lo + rows] @ H
        np.subtract(X[lo:lo + rows], block, out=block)
        flat = block.ravel()
        total += float(np.dot(flat, flat)) if dtype == np.float64 \
            else float(np.dot(flat.astype(np.float64), flat.astype(np.float64)))
    return total


def _squared_norm(X):
    """``||X||_F^2`` accumulated in float64, in one read of ``X`` (no float64 copy)."""
    if X.dtype == np.float64 or not X.flags.c_contiguous:
        X = np.asarray(X, dtype=np.float64)
        return float(np.vdot(X, X))
    return float(scan_rows(X, 0, X.shape[0])[1])


def _penalties(alpha_W, alpha_H, l1_ratio, n_samples, n_features):
    """Absolute (l1_W, l1_H, l2_W, l2_H) penalties, scaled as in scikit-learn."""
    return (n_features * alpha_W * l1_ratio, n_samples * alpha_H * l1_ratio,
            n_features * alpha_W * (1.0 - l1_ratio), n_samples * alpha_H * (1.0 - l1_ratio))


def _penalty_value(W, H, l1_W, l1_H, l2_W, l2_H):
    value = 0.0
    if l1_W:
        value += l1_W * float(np.abs(W).sum(dtype=np.float64))
    if l2_W:
        value += 0.5 * l2_W * float(np.sum(W.astype(np.float64) ** 2))
    if l1_H:
        value += l1_H * float(np.abs(H).sum(dtype=np.float64))
    if l2_H:
        value += 0.5 * l2_H * float(np.sum(H.astype(np.float64) ** 2))
    return value


def _randomized_svd(X, n_components, n_iter, rng, n_oversamples=10, sketch=False):
    """Leading singular triplets of ``X`` by a randomized range finder (Halko et al. 2011).

    The steps and random draws of :func:`sklearn.utils.extmath.randomized_svd`
    with ``power_iteration_normalizer='LU'`` (the same result up to rounding,
    and signs, which NNDSVD does not use), without its parameter checks, which
    took several milliseconds per call: ``X`` (or ``X^T`` when wider than tall)
    times ``n_components + n_oversamples`` Gaussian vectors, ``n_iter`` power
    iterations each normalised by an LU factorisation (scikit-learn skips the
    normalisation for ``n_iter <= 2``, where large data overflow), an
    orthonormal basis ``Q`` of the result, and the SVD of the small ``B = Q^T X``,
    from the eigenvectors of its float64 Gram matrix ``B B^T`` (``n_components +
    n_oversamples`` squared: a fifth of the time of LAPACK's SVD of ``B`` at the
    sizes of bench_nmf_regimes.py; the singular values lose relative accuracy
    only below ``1e-8`` of the largest, far below what a start uses).
    Every product with ``X`` is one pass over the data, in its dtype:
    ``2 n_iter + 2`` passes.  ``n_iter='auto'`` is scikit-learn's choice (7
    when ``n_components < min(X.shape) / 10``, else 4).

    Returns ``U`` (n_samples, n_components), ``S`` (n_components,) and
    ``Vt`` (n_components, n_features); with ``sketch=True``, also the
    :class:`_Sketch` ``Q Q^T X`` (all ``n_components + n_oversamples`` singular
    values, and the two factors, in ``X``'s dtype), which costs nothing more.
    """
    if n_iter == "auto":
        n_iter = 7 if n_components < 0.1 * min(X.shape) else 4
    size = n_components + n_oversamples
    transpose = X.shape[0] < X.shape[1]
    A = X.T if transpose else X
    Q = rng.normal(size=(A.shape[1], size))
    if A.dtype == np.float32:
        Q = Q.astype(np.float32)
    for _ in range(n_iter):
        Q = linalg.lu(A @ Q, permute_l=True, check_finite=False)[0]
        Q = linalg.lu(A.T @ Q, permute_l=True, check_finite=False)[0]
    Q = linalg.qr(A @ Q, mode="economic", check_finite=False)[0]
    B = (Q.T @ A).astype(np.float64)
    eigvals, Uhat = linalg.eigh(B @ B.T, check_finite=False)
    eigvals, Uhat = eigvals[::-1], Uhat[:, ::-1]  # decreasing
    S = np.sqrt(np.maximum(eigvals, 0.0))
    Vt = Uhat.T @ B
    nonzero = S > S[0] * 1e-12
    Vt[nonzero] /= S[nonzero, None]
    Vt[~nonzero] = 0.0
    U = Q @ Uhat.astype(Q.dtype)
    S_all = S
    S, Vt = S.astype(Q.dtype), Vt.astype(Q.dtype)
    if transpose:
        U, Vt = Vt.T, U.T
    svd = U[:, :n_components], S[:n_components], Vt[:n_components]
    if not sketch:
        return svd
    B = B.astype(Q.dtype)
    # A ~ Q B, so X ~ Q B, or (transposed) X ~ B^T Q^T
    factors = (np.ascontiguousarray(B.T), np.ascontiguousarray(Q.T)) if transpose else (Q, B)
    return svd + (_Sketch(*factors, S_all),)


class _Sketch:
    """``X ~ L R``: the projection of ``X`` on the range found by the randomized SVD.

    ``L`` is (n_samples, m) and ``R`` (m, n_features), ``m = n_components +
    n_oversamples``, one of them with orthonormal columns (rows), so that the
    products HALS needs, ``H X^T ~ (H R^T) L^T`` and ``W^T X ~ (W^T L) R``, cost
    ``m k (n_samples + n_features)`` instead of ``n_samples n_features k``;
    ``singular_values`` are those of ``L R`` (decreasing).  Quacks like ``X``
    for :func:`_hals_columns_loop` (``shape``, ``dtype``, and the two products).
    """

    def __init__(self, L, R, singular_values):
        self.L, self.R = L, R
        self.singular_values = singular_values
        self.shape = (L.shape[0], R.shape[1])
        self.dtype = L.dtype

    def times_Xt(self, A, out):
        return np.matmul(A @ self.R.T, self.L.T, out=out)

    def times_X(self, A, out):
        return np.matmul(A @ self.L, self.R, out=out)


def nndsvd(X, n_components, variant="nndsvd", eps=1e-6, random_state=None, n_iter="auto"):
    """Non-negative double SVD initialisation (Boutsidis & Gallopoulos 2008).

    From the leading ``n_components`` singular triplets ``(u_j, s_j, v_j)`` of
    ``X``: the first pair is ``sqrt(s_1) (|u_1|, |v_1|)``; for the others, the
    positive parts ``(u+, v+)`` or negative parts ``(u-, v-)`` are kept,
    whichever has the larger product of norms ``m``, rescaled by
    ``sqrt(s_j m)``.  Entries below ``eps`` are zero ('nndsvd'), filled with
    ``sqrt(mean(X) / n_components)`` ('nndsvda'), or small random values of
    that size ('nndsvdar').  That fill value is the size of the entries of
    factors whose product has the mean of ``X``: it scales as the factors do
    (fitting ``c X`` starts from ``sqrt(c)`` times the factors of ``X``), where
    scikit-learn's fill, ``mean(X)``, does not.  ``n_iter`` is the number of
    power iterations of the randomized SVD ('auto': scikit-learn's choice).

    Returns ``W`` of shape (n_samples, n_components) and ``H`` of shape
    (n_components, n_features), in the dtype of ``X``.
    """
    check_option(variant, "variant", ("nndsvd", "nndsvda", "nndsvdar"))
    rng = check_random_state(random_state)
    U, S, Vt = _randomized_svd(X, n_components, n_iter, rng)
    return _nndsvd_from_svd(X, U, S, Vt, variant, eps, rng)


def _nndsvd_from_svd(X, U, S, Vt, variant, eps, rng):
    """The NNDSVD start of :func:`nndsvd` from the singular triplets ``U, S, Vt`` of ``X``."""
    n_components = S.shape[0]
    # all pairs at once: the positive and negative parts of every (u_j, v_j) and
    # their norms (float64), the part with the larger product kept
    U, S, Vt = U.astype(np.float64), S.astype(np.float64), Vt.astype(np.float64)
    u_pos, v_pos = np.maximum(U, 0.0), np.maximum(Vt, 0.0)
    u_neg, v_neg = np.maximum(-U, 0.0), np.maximum(-Vt, 0.0)
    nu_pos, nv_pos = np.linalg.norm(u_pos, axis=0), np.linalg.norm(v_pos, axis=1)
    nu_neg, nv_neg = np.linalg.norm(u_neg, axis=0), np.linalg.norm(v_neg, axis=1)
    positive = nu_pos * nv_pos >= nu_neg * nv_neg
    a = np.where(positive, u_pos, u_neg)
    b = np.where(positive[:, None], v_pos, v_neg)
    na = np.where(positive, nu_pos, nu_neg)
    nb = np.where(positive, nv_pos, nv_neg)
    # the leading singular vectors of a non-negative matrix have one sign
    a[:, 0], b[0], na[0], nb[0] = np.abs(U[:, 0]), np.abs(Vt[0]), 1.0, 1.0
    kept = na * nb > 0
    scale = np.zeros_like(S)
    scale[kept] = np.sqrt(S[kept] * na[kept] * nb[kept])
    scale[0] = np.sqrt(S[0])
    W = (a * (scale / np.where(kept, na, 1.0))).astype(X.dtype)
    H = (b * (scale / np.where(kept, nb, 1.0))[:, None]).astype(X.dtype)
    W[W < eps] = 0
    H[H < eps] = 0
    avg = math.sqrt(abs(float(X.mean(dtype=np.float64))) / n_components)
    if variant == "nndsvda":
        W[W == 0] = avg
        H[H == 0] = avg
    elif variant == "nndsvdar":
        zw, zh = W == 0, H == 0
        W[zw] = np.abs(avg * rng.standard_normal(int(zw.sum())) / 100)
        H[zh] = np.abs(avg * rng.standard_normal(int(zh.sum())) / 100)
    return W, H


def _default_init(k, n, p, params):
    """The start of ``fit`` when ``init=None``.

    NNDSVD needs ``k <= min(n, p)`` ('random' otherwise).  HALS ('cd', non-negative
    factors) starts from plain 'nndsvd': its coordinate steps move entries away from
    zero as readily as any other, and the sparse start keeps the sparsity pattern of
    the leading singular vectors, where 'nndsvda' fills it with a constant the
    first iterations must remove.  On bench_nmf_regimes.py's 13 regimes and three
    data seeds, 'nndsvd' reached scikit-learn's final error sooner on most rows and
    found a lower final error on the nearly structureless 'zeros' rows where
    'nndsvda' could stop in a worse local minimum.  The multiplicative updates
    ('mu') never move an entry away from zero, and semi-NMF's free ``W`` has no
    sparsity to keep: both start from 'nndsvda'.
    """
    if k > min(n, p):
        return "random"
    return "nndsvd" if params["solver"] == "cd" and not params["semi"] else "nndsvda"


def _initialize(X, n_components, init, rng, sketch=False):
    """The start ``W, H``; with ``sketch=True``, ``W, H, sketch``: the
    :class:`_Sketch` of the NNDSVD starts' randomized SVD (None for 'random')."""
    n, p = X.shape
    if init == "random":
        avg = np.sqrt(abs(float(X.mean())) / n_components)
        H = np.abs(avg * rng.standard_normal((n_components, p))).astype(X.dtype)
        W = np.abs(avg * rng.standard_normal((n, n_components))).astype(X.dtype)
        return (W, H, None) if sketch else (W, H)
    if not sketch:
        return nndsvd(X, n_components, variant=init, random_state=rng, n_iter=_SVD_POWER_ITER)
    U, S, Vt, found = _randomized_svd(X, n_components, _SVD_POWER_ITER, rng, sketch=True)
    W, H = _nndsvd_from_svd(X, U, S, Vt, init, 1e-6, rng)
    return W, H, found


# ---------------------------------------------------------------- solvers
def _cd_sweeps(n_other, k, inner):
    """Maximum sweeps per row: a sweep costs k^2 against n_other k for the product."""
    if not inner:
        return 1
    return int(max(1, min(_MAX_SWEEPS, 1 + _SWEEP_BUDGET * n_other / max(k, 1))))


def _solve_codes(X, H, l1_W, l2_W, semi, max_iter=200, tol=1e-4, W=None):
    """Codes ``W`` of ``X`` for fixed components ``H`` (Frobenius loss)."""
    n = X.shape[0]
    k = H.shape[0]
    HHt = H @ H.T
    XHt = X @ H.T
    if semi and l1_W == 0:
        M = HHt.astype(np.float64) + l2_W * np.eye(k)
        try:
            return linalg.solve(M, XHt.T.astype(np.float64), assume_a="pos").T.astype(X.dtype)
        except (linalg.LinAlgError, ValueError):
            return np.linalg.lstsq(M, XHt.T.astype(np.float64), rcond=None)[0].T.astype(X.dtype)
    if W is None:
        W = np.zeros((n, k), dtype=X.dtype)
    order = np.arange(k, dtype=np.int64)
    # every row is its own small problem: sweep it to convergence
    _nmf.hals_rows(W, HHt, np.ascontiguousarray(XHt.T), l1_W, l2_W, order, max_iter, tol,
                   not semi, np.empty(k))
    return W


def _fit_cd(X, W, H, tol, max_iter, l1_W, l1_H, l2_W, l2_H, semi, shuffle, rng,
            verbose, callback, inner=True, X32=None, sq_norm=None, sketch=None):
    """HALS for the Frobenius loss.  Returns W, H, n_iter, losses.

    ``X32``: the float32 copy of a float64 ``X`` that the first iterations use
    (see :func:`_mixed_precision_copy`; made here when None and worth it);
    ``sq_norm``: ``||X||_F^2`` when already known; ``sketch``: the
    :class:`_Sketch` of an NNDSVD start (see :func:`_fit_cd_columns`).
    """
    n, p = X.shape
    k = H.shape[0]
    Ht = np.ascontiguousarray(H.T)
    W = np.ascontiguousarray(W)
    if sq_norm is None:
        sq_norm = _squared_norm(X)
    sweeps_W = _cd_sweeps(p, k, inner)
    sweeps_H = _cd_sweeps(n, k, inner)
    order = np.arange(k, dtype=np.int64)
    violation_init = None
    losses = []
    n_iter = 0
    grad = np.empty(k)
    if not semi:
        if X32 is None:
            X32 = _mixed_precision_copy(X, max_iter, sq_norm)
        return _fit_cd_columns(X, W, H, tol, max_iter, l1_W, l1_H, l2_W, l2_H, shuffle, rng,
                               verbose, callback, sq_norm, sweeps_W, sweeps_H, X32, sketch)
    for n_iter in range(1, max_iter + 1):
        if shuffle:
            order = rng.permutation(k).astype(np.int64)
        HHt = Ht.T @ Ht
        # (k, n) products: the layouts BLAS computes fastest from a C-ordered X
        HXt = Ht.T @ X.T
        if semi and l1_W == 0:
            M = HHt.astype(np.float64) + l2_W * np.eye(k)
            W_new = linalg.lstsq(M, HXt.astype(np.float64), check_finite=False)[0].T
            violation = float(np.abs(W_new - W).sum())
            W[:] = W_new
        else:
            violation = _nmf.hals_rows(W, HHt, HXt, l1_W, l2_W, order, sweeps_W,
                                       _INNER_TOL, not semi, grad)
        if shuffle:
            order = rng.permutation(k).astype(np.int64)
        WtW = W.T @ W
        WtX = W.T @ X
        violation += _nmf.hals_rows(Ht, WtW, WtX, l1_H, l2_H, order, sweeps_H,
                                    _INNER_TOL, True, grad)
        loss = _nmf.frobenius_from_stats(sq_norm, WtX, Ht.T, WtW, Ht.T @ Ht)
        loss += _penalty_value(W, Ht, l1_W, l1_H, l2_W, l2_H)
        losses.append(loss)
        if violation_init is None:
            violation_init = violation
        if verbose:
            print(f"NMF iteration {n_iter}: objective {loss:.6g}, "
                  f"violation {violation / max(violation_init, 1e-300):.3g}")
        if callback is not None and callback(n_iter, W, Ht.T):
            break
        if violation_init == 0 or violation <= tol * violation_init:
            break
    return W, np.ascontiguousarray(Ht.T), n_iter, losses


def _mixed_precision_copy(X, max_iter, sq_norm):
    """The float32 copy of a float64 ``X`` that the first 'cd' iterations use, or None.

    Made when ``_MIXED_PRECISION_SWITCH`` is on, at least 3 iterations may run,
    the copy takes at most ``_MIXED_PRECISION_MAX_BYTES``, and the data's scale
    fits float32 (data whose copy would overflow to inf or flush to zero stay
    in float64).
    """
    float32 = np.finfo(np.float32)
    if (X.dtype == np.float64 and _MIXED_PRECISION_SWITCH > 0 and max_iter > 2
            and X.size * 4 <= _MIXED_PRECISION_MAX_BYTES
            and float(float32.tiny) * 1e6 < sq_norm < float(float32.max) * 1e-6):
        return X.astype(np.float32)
    return None


def _fit_cd_columns(X, W, H, tol, max_iter, l1_W, l1_H, l2_W, l2_H, shuffle, rng,
                    verbose, callback, sq_norm, sweeps_W, sweeps_H, X32=None, sketch=None):
    """HALS on transposed factors; float64 data start with float32 iterations.

    Given ``X32``, the float32 copy of a float64 ``X`` (see
    :func:`_mixed_precision_copy`), the first iterations run on it (its
    products take about half the time of float64 ones) until the optimality
    violation has dropped by ``_MIXED_PRECISION_SWITCH``; the factors are then
    cast to float64 and the iterations go on in float64 down to ``tol``, so
    the result is a float64 solution, reached from a float32 warm start.

    Given ``sketch`` (the :class:`_Sketch` of the NNDSVD start), when
    :func:`_sketch_iterations` finds it worth it: after the first iteration
    (on the data: its violation is the reference of ``tol``), iterations on
    the sketch bring the factors close to the solution for a fraction of the
    cost of iterations on the data, which then take over from there.
    """
    first = X if X32 is None else X32
    W, H = W.astype(first.dtype, copy=False), H.astype(first.dtype, copy=False)
    violation_init, start, losses = None, 0, []
    n, p = X.shape
    n_sketch = 0
    if sketch is not None and max_iter > 1:
        n_sketch = _sketch_iterations(sketch, H.shape[0], n, p, sweeps_W, sweeps_H)
    if n_sketch:
        W, H, start, losses, violation_init, stopped = _hals_columns_loop(
            first, W, H, tol, 1, l1_W, l1_H, l2_W, l2_H, shuffle, rng, verbose, callback,
            sq_norm, sweeps_W, sweeps_H, None, 0)
        if stopped or violation_init == 0:
            return (np.ascontiguousarray(W, dtype=X.dtype),
                    np.ascontiguousarray(H, dtype=X.dtype), start, losses)
        W, H = _fit_on_sketch(sketch, W, H, n_sketch, l1_W, l1_H, l2_W, l2_H, shuffle, rng,
                              verbose, sq_norm)
    if X32 is not None:
        # at least two float64 iterations at the end; leave float32 early when its
        # objective stalls (float32 round-off)
        W32, H32, n_first, losses, violation_init, stopped = _hals_columns_loop(
            X32, W, H, max(_MIXED_PRECISION_SWITCH, tol),
            max_iter - 2, l1_W, l1_H, l2_W, l2_H, shuffle, rng, verbose, callback, sq_norm,
            sweeps_W, sweeps_H, violation_init, start,
            stall=max(_FLOAT32_STALL, _STALL_FRACTION * tol), losses=losses,
            handover_when_settled=True)
        del X32
        if stopped:
            return (np.ascontiguousarray(W32, dtype=np.float64),
                    np.ascontiguousarray(H32, dtype=np.float64), n_first, losses)
        W64, H64, n_iter, losses, _, _ = _hals_columns_loop(
            X, W32.astype(np.float64), H32.astype(np.float64), tol, max_iter, l1_W, l1_H,
            l2_W, l2_H, shuffle, rng, verbose, callback, sq_norm, sweeps_W, sweeps_H,
            violation_init, n_first, stall=_STALL_FRACTION * tol, losses=losses)
        return W64, H64, n_iter, losses
    W, H, n_iter, losses, _, _ = _hals_columns_loop(
        X, W, H, tol, max_iter, l1_W, l1_H, l2_W, l2_H, shuffle, rng, verbose, callback,
        sq_norm, sweeps_W, sweeps_H, violation_init, start, stall=_STALL_FRACTION * tol,
        losses=losses)
    return W, H, n_iter, losses


def _sketch_iterations(sketch, k, n, p, sweeps_W, sweeps_H):
    """How many iterations on ``sketch`` the 'cd' solver runs before those on the data.

    None (0) unless the range of the sketch holds the leading ``k`` singular
    vectors well: the ``(k+1)``-th singular value at most ``_SKETCH_MAX_GAP``
    times the ``k``-th (data with a clear rank-``k`` structure; the range
    finder's error shrinks with that ratio); none either when the sketch's
    rank ``m`` reaches ``min(n, p)`` (it is then no smaller than ``X``).
    Otherwise as many as cost ``_SKETCH_BUDGET`` iterations on the data
    (counting the floating-point operations of the products, the Gram
    matrices and the sweeps of both), if that is at least ``_SKETCH_MIN_ITER``.
    """
    values = sketch.singular_values
    m = values.shape[0]
    if (m <= k or m >= min(n, p) or not values[k - 1] > 0
            or values[k] > _SKETCH_MAX_GAP * values[k - 1]):
        return 0
    common = 6.0 * k * k * (n + p)
    on_data = 4.0 * n * p * k + common + 2.0 * k * k * (n * sweeps_W + p * sweeps_H)
    on_sketch = 4.0 * m * k * (n + p) + common + 2.0 * k * k * (n + p) * _SKETCH_SWEEPS
    count = int(_SKETCH_BUDGET * on_data / on_sketch)
    return count if count >= _SKETCH_MIN_ITER else 0


def _fit_on_sketch(sketch, W, H, n_iter, l1_W, l1_H, l2_W, l2_H, shuffle, rng, verbose,
                   sq_norm):
    """At most ``n_iter`` HALS iterations on the sketch ``L R`` of ``X``; returns ``W, H``.

    They stop earlier when the violation has dropped by ``_SKETCH_TOL`` or the
    objective stalls.  The objective is computed with ``sq_norm = ||X||_F^2``
    in place of ``||L R||_F^2``: that of the sketch plus the (constant) energy
    of ``X`` outside it, an estimate of the objective on ``X``, so that the
    stall is relative to the objective on the data.
    """
    W, H, done, losses, _, _ = _hals_columns_loop(
        sketch, W, H, _SKETCH_TOL, n_iter, l1_W, l1_H, l2_W, l2_H, shuffle, rng, False, None,
        sq_norm, _SKETCH_SWEEPS, _SKETCH_SWEEPS, None, 0, stall=_SKETCH_STALL)
    if verbose:
        print(f"NMF: {done} iterations on a rank-{sketch.singular_values.shape[0]} sketch "
              f"of X, objective {losses[-1]:.6g} (estimated)")
    return W, H


def _hals_columns_loop(X, W, H, tol, max_iter, l1_W, l1_H, l2_W, l2_H, shuffle, rng,
                       verbose, callback, sq_norm, sweeps_W, sweeps_H, violation_init,
                       start, stall=0.0, losses=None, handover_when_settled=False):
    """HALS iterations with both factors stored transposed, swept column by column.

    Same updates as the row sweeps (a fixed number of sweeps per half
    iteration), but every inner loop runs over the long axis and vectorises
    (about 3x faster than the row kernel here); the gradients come from one
    BLAS product per half iteration.

    Stops when the optimality violation has dropped by ``tol``, or when the
    objective has gone down by at most ``stall`` (relative) over the last
    ``_STALL_WINDOW`` iterations, or (``handover_when_settled``: a float32
    start) when the objective changes by less than its round-off.
    ``losses``: the objectives of earlier iterations (of a float32 start),
    appended to.
    """
    n, p = X.shape
    k = H.shape[0]
    Wt = np.ascontiguousarray(W.T)
    H = np.ascontiguousarray(H)
    order = np.arange(k, dtype=np.int64)
    delta_n = np.empty(n, dtype=X.dtype)
    delta_p = np.empty(p, dtype=X.dtype)
    prod_n = np.empty((k, n), dtype=X.dtype)
    prod_p = np.empty((k, p), dtype=X.dtype)
    losses = [] if losses is None else losses
    accepted = None  # objective of the last pair kept (by this loop)
    # round-off of the objective computed from the products in X's dtype
    noise = float(np.finfo(X.dtype).eps) * sq_norm
    handover = False
    n_iter = start
    stopped = False
    # extrapolation (Ang & Gillis 2019): each factor, once updated, is pushed
    # further along its last move by ``step``; the step grows while the
    # objective goes down; when it goes up, the iteration is undone, the step
    # shrinks and the next one starts again without momentum.  The pair
    # returned (and given to the callback) is the last accepted one, whose
    # objective is the last of ``losses`` (non-increasing)
    step = _EXTRAPOLATION[0]
    step_cap = 1.0
    if step:
        Wt_prev, H_prev = Wt.copy(), H.copy()
        Wt_best, H_best = Wt.copy(), H.copy()
    for n_iter in range(start + 1, max_iter + 1):
        if shuffle:
            order = rng.permutation(k).astype(np.int64)
        HHt = H @ H.T
        R = HHt @ Wt
        R -= _times_Xt(H, X, prod_n)
        violation = _nmf.hals_columns(Wt, HHt, R, l1_W, l2_W, order, sweeps_W, delta_n)
        if step:
            _extrapolate(Wt, Wt_prev, step)
        if shuffle:
            order = rng.permutation(k).astype(np.int64)
        WtW = Wt @ Wt.T
        WtX = _times_X(Wt, X, prod_p)
        R = WtW @ H
        R -= WtX
        violation += _nmf.hals_columns(H, WtW, R, l1_H, l2_H, order, sweeps_H, delta_p)
        loss = _nmf.frobenius_from_stats(sq_norm, WtX, H, WtW, H @ H.T)
        loss += _penalty_value(Wt.T, H.T, l1_W, l1_H, l2_W, l2_H)
        if step:
            _, grow, grow_cap, shrink = _EXTRAPOLATION
            if accepted is None or loss <= accepted:
                settled = accepted is not None and accepted - loss <= noise
                accepted = loss
                Wt_best[:] = Wt
                H_best[:] = H
                if not settled:
                    step_cap = min(1.0, grow_cap * step_cap)
                    step = min(step_cap, grow * step)
                    _extrapolate(H, H_prev, step)
            else:
                # undo: back to the last accepted pair, without momentum
                settled = loss <= accepted + noise
                Wt[:] = Wt_best
                H[:] = H_best
                Wt_prev[:] = Wt_best
                H_prev[:] = H_best
                step_cap = step
                step /= shrink
                loss = accepted
                violation = math.inf  # (measured at a point given up)
            if settled:
                # changes of the objective within its round-off cannot tell a
                # good step from a bad one: plain HALS from here on (or, for a
                # float32 start, on to float64)
                step = 0.0
                handover = handover_when_settled
        losses.append(loss)
        if violation_init is None:
            violation_init = violation
        if verbose:
            print(f"NMF iteration {n_iter}: objective {loss:.6g}, "
                  f"violation {violation / max(violation_init, 1e-300):.3g}")
        if step:
            W_out, H_out = Wt_best.T, H_best
        else:
            W_out, H_out = Wt.T, H
        if callback is not None and callback(n_iter, W_out, H_out):
            stopped = True
            break
        if violation_init == 0 or violation <= tol * violation_init:
            break
        if handover:
            break
        if (stall and len(losses) > _STALL_WINDOW
                and losses[-1 - _STALL_WINDOW] - losses[-1] <= stall * abs(losses[-1])):
            break
    if step:
        Wt, H = Wt_best, H_best
    return np.ascontiguousarray(Wt.T), H, n_iter, losses, violation_init, stopped


def _times_Xt(A, X, out):
    """``A @ X.T`` into ``out`` (shape (k, n_samples)), for a C-ordered ``A`` of k rows.

    For ``k <= _GEMV_MAX_K`` in float32, one matrix-vector product per row of
    ``A``: BLAS's matrix-matrix kernel pads so thin an operand to its
    register-block height, so that ``k`` of 1 to 5 cost about as much as 16,
    while ``k`` matrix-vector products stream ``X`` (held in cache at these
    sizes) ``k`` times at memory speed (1.4-1.5x faster for ``k = 5`` here).
    """
    if isinstance(X, _Sketch):
        return X.times_Xt(A, out)
    if A.shape[0] <= _GEMV_MAX_K and X.dtype == np.float32:
        for j in range(A.shape[0]):
            np.dot(X, A[j], out=out[j])
        return out
    return np.matmul(A, X.T, out=out)


def _times_X(A, X, out):
    """``A @ X`` into ``out`` (shape (k, n_features)); see :func:`_times_Xt`."""
    if isinstance(X, _Sketch):
        return X.times_X(A, out)
    if A.shape[0] <= _GEMV_MAX_K and X.dtype == np.float32:
        for j in range(A.shape[0]):
            np.dot(A[j], X, out=out[j])
        return out
    return np.matmul(A, X, out=out)


def _extrapolate(F, F_prev, step):
    """``F <- max(0, F + step (F - F_prev))`` and ``F_prev <- F`` (before the push), in place."""
    move = F - F_prev
    F_prev[:] = F
    move *= step
    F += move
    np.maximum(F, 0, out=F)


def _mu_step_W(X, W, H, beta, l1, l2, semi_gamma):
    if beta == 2.0:
        numer = X @ H.T
        denom = W @ (H @ H.T)
    else:
        WH = W @ H
        num = np.empty_like(WH)
        den = np.empty_like(WH)
        _nmf.mu_ratio(X, WH, beta, EPSILON, num, den)
        numer = num @ H.T
        denom = np.broadcast_to(H.sum(axis=1), W.shape).copy() if beta == 1.0 else den @ H.T
    if l1:
        denom += l1
    if l2:
        denom += l2 * W
    np.maximum(denom, EPSILON, out=denom)
    delta = numer / denom
    if semi_gamma != 1.0:
        delta **= semi_gamma
    W *= delta
    return W


def _gamma(beta):
    # exponent making the updates monotone (Fevotte & Idier 2011)
    if beta < 1:
        return 1.0 / (2.0 - beta)
    if beta > 2:
        return 1.0 / (beta - 1.0)
    return 1.0


def _fit_mu(X, W, H, beta, tol, max_iter, l1_W, l1_H, l2_W, l2_H, update_H, verbose,
            callback):
    """Multiplicative updates for the beta-divergence.  Returns W, H, n_iter, losses."""
    gamma = _gamma(beta)
    W = np.array(W, copy=True)
    Ht = np.array(H.T, copy=True)
    Xt = np.ascontiguousarray(X.T)
    loss0 = beta_divergence(X, W, H, beta) + _penalty_value(W, H, l1_W, l1_H, l2_W, l2_H)
    previous = loss0
    losses = [loss0]
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        W = _mu_step_W(X, W, H, beta, l1_W, l2_W, gamma)
        if beta <= 1:
            # keep factors away from exact zeros, where the updates get stuck
            W[W < np.finfo(X.dtype).eps] = 0.0
        if update_H:
            Ht = _mu_step_W(Xt, Ht, W.T, beta, l1_H, l2_H, gamma)
            if beta <= 1:
                Ht[Ht < np.finfo(X.dtype).eps] = 0.0
            H = np.ascontiguousarray(Ht.T)
        if callback is not None and callback(n_iter, W, H):
            break
        if n_iter % 10 == 0:
            loss = beta_divergence(X, W, H, beta) + _penalty_value(W, H, l1_W, l1_H, l2_W, l2_H)
            losses.append(loss)
            if verbose:
                print(f"NMF iteration {n_iter}: objective {loss:.6g}")
            if tol > 0 and (previous - loss) / max(loss0, 1e-300) < tol:
                break
            previous = loss
    return W, H, n_iter, losses


def _statistics(X, W, H, beta):
    """The sufficient statistics ``partial_fit`` accumulates, of one chunk ``X``.

    Frobenius loss: ``W^T W`` and ``W^T X``; other beta-divergences: the
    numerator and denominator of the multiplicative update of ``H``.
    """
    if beta == 2.0:
        return W.T.astype(np.float64) @ W, (W.T @ X).astype(np.float64)
    WH = W @ H
    num, den = np.empty_like(WH), np.empty_like(WH)
    _nmf.mu_ratio(X, WH, beta, EPSILON, num, den)
    return ((W.T @ num) * H).astype(np.float64), (W.T @ den).astype(np.float64)


# ------------------------------------------------------ inputs by blocks
def _rows_text(rows):
    shown = ", ".join(str(int(r)) for r in rows[:5])
    return shown + (f" and {rows.size - 5} more" if rows.size > 5 else "")


def _check_block(X, start, params):
    """NMF's checks of data: on ``X`` in memory, or a block of rows starting at ``start``.

    The common case, valid data, costs one compiled read and one minimum;
    the row-by-row descriptions are only built for data that fail.
    """
    if X.dtype in (np.float32, np.float64) and X.flags.c_contiguous and X.ndim == 2:
        finite = first_nonfinite_row(X, 0, X.shape[0]) < 0
        smallest = float(X.min()) if X.size else 0.0
    else:
        finite, smallest = False, -math.inf  # (checked in detail below)
    if finite and smallest > 0:
        return
    if finite and smallest == 0 and params["beta"] > 0:
        return
    bad = ~np.isfinite(X)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1)) + start
        raise ValueError(f"X contains NaN or infinite values (in rows {_rows_text(rows)}); "
                         "remove or impute them before fitting")
    if not params["semi"]:
        negative = X < 0
        if negative.any():
            rows = np.flatnonzero(negative.any(axis=1)) + start
            raise ValueError(
                "Negative values in data passed to NMF: X must be non-negative "
                f"(or use semi=True), got {int(negative.sum())} negative entries "
                f"(minimum {float(X.min()):g}) in rows {_rows_text(rows)}")
    if params["beta"] <= 0:
        zeros = X <= 0
        if zeros.any():
            rows = np.flatnonzero(zeros.any(axis=1)) + start
            raise ValueError(
                f"beta_loss={params['beta']:g} (beta <= 0) needs strictly positive X, got "
                f"{int(zeros.sum())} zero entries and {int(np.sum(~X.any(axis=1)))} all-zero "
                f"rows (in rows {_rows_text(rows)}); add a small constant to X or use "
                "beta_loss > 0")


def _block_rows(source, batch_size):
    """Rows per block read: about ``_BLOCK_BYTES``, a multiple of ``batch_size``.

    Whole row chunks of the storage when that does not make blocks more than
    four times larger.
    """
    row_bytes = max(1, source.n_features * source.dtype.itemsize)
    target = max(1, _BLOCK_BYTES // row_bytes)
    unit = batch_size or 1
    chunk = max(1, int(source.row_chunk))
    aligned = unit * chunk // math.gcd(unit, chunk)
    if aligned <= 4 * max(target, unit):
        unit = aligned
    return unit * max(1, target // unit)


def _read_blocks(source, params, batch_size=None):
    """``(start, block)`` of a source: checked, features in their own order.

    Blocks of ``batch_size`` rows (the last one shorter) when given, else the
    blocks read (about ``_BLOCK_BYTES``).
    """
    order = source.feature_order
    for start, block in source.iter_row_blocks(_block_rows(source, batch_size)):
        _check_block(block, start, params)
        if order is not None:
            # column j of the storage holds feature order[j]
            features = np.empty_like(block)
            features[:, order] = block
            block = features
        if batch_size is None:
            yield start, block
            continue
        for lo in range(0, block.shape[0], batch_size):
            yield start + lo, block[lo:lo + batch_size]


# -------------------------------------------------------------- estimator
class NMF(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Non-negative matrix factorization: ``X ~ W H`` with ``W, H >= 0``.

    Minimises::

        1/2 ||X - W H||_loss^2
          + alpha_W l1_ratio n_features ||W||_1
          + 1/2 alpha_W (1 - l1_ratio) n_features ||W||_F^2
          + alpha_H l1_ratio n_samples ||H||_1
          + 1/2 alpha_H (1 - l1_ratio) n_samples ||H||_F^2

    where ``1/2 ||.||_loss^2`` is the beta-divergence (half the squared
    Frobenius norm by default), with the same penalty scaling as
    :class:`sklearn.decomposition.NMF`: switching is a change of import.

    The 'cd' solver is HALS (cyclic coordinate descent) whose per-row sweeps
    run in compiled numba kernels and are repeated while cheap compared with
    the products ``X H^T`` and ``X^T W`` (accelerated HALS), and whose
    iterates are extrapolated along their last move, with a step that grows
    while the objective goes down (an iteration that raises it is undone), so
    it reaches a given error in far fewer passes over the data than one sweep
    per pass.
    The first call compiles the kernels (a few seconds, cached on disk).

    Parameters
    ----------
    n_components : int or {'auto'} or None, default='auto'
        Number of components. 'auto' or None: taken from ``H`` when
        ``init='custom'``, otherwise ``n_features``.

    init : {'random', 'nndsvd', 'nndsvda', 'nndsvdar', 'custom'}, default=None
        Initialisation. None: 'nndsvd' for ``solver='cd'`` (and 'nndsvda' for
        'mu' or semi-NMF) if ``n_components <= min(n_samples, n_features)``,
        else 'random' (``fit``; ``partial_fit`` starts from 'nndsvda').
        'custom' uses the ``W`` and ``H`` given to ``fit_transform``.  The
        NNDSVD starts use a randomized SVD with one power iteration, and
        'nndsvda' fills zeros with ``sqrt(mean(X) / n_components)``
        (scikit-learn: ``mean(X)``), so that fitting ``c X`` starts from
        factors whose product is ``c`` times that of ``X``.

    solver : {'cd', 'mu'}, default='cd'
        'cd' is HALS coordinate descent (Frobenius loss only); 'mu' the
        multiplicative updates (any beta-divergence).

    beta_loss : float or {'frobenius', 'kullback-leibler', 'itakura-saito'}, \
            default='frobenius'
        Beta-divergence to minimise. Anything but 'frobenius' needs
        ``solver='mu'``; values <= 0 need strictly positive ``X``.

    tol : float, default=1e-4
        Tolerance of the stopping condition: for 'cd', the violation of the
        optimality conditions relative to the first iteration, or a decrease of
        the objective by less than ``tol / 100`` (relative) over the last 10
        iterations; for 'mu', the decrease of the objective over 10 iterations
        relative to the initial objective.  0 runs ``max_iter`` iterations.

    max_iter : int, default=200
        Maximum number of iterations.

    random_state : int, RandomState instance or None, default=None
        Seeds the 'random' and 'nndsvdar' initialisations, the SVD and the
        coordinate order when ``shuffle``.

    alpha_W : float, default=0.0
        Penalty on ``W`` (multiplied by ``n_features``).

    alpha_H : float or 'same', default='same'
        Penalty on ``H`` (multiplied by ``n_samples``); 'same' uses ``alpha_W``.

    l1_ratio : float, default=0.0
        Elastic-net mixing of the penalties: 0 is l2, 1 is l1.

    verbose : int, default=0
        Print the objective at each iteration when > 0.

    shuffle : bool, default=False
        Visit the components in a random order at each 'cd' update.

    semi : bool, default=False
        Semi-NMF: only ``H`` is constrained, ``W`` is free (its update is a
        least-squares solve) and ``X`` may have negative entries.  'cd' only.

    forget_factor : float, default=0.7
        ``partial_fit`` only: weight in (0, 1] of the statistics of the chunks
        already seen when a new chunk arrives; 1 sums all chunks equally,
        smaller values forget codes computed with early, poor components.

    batch_size : int, default=None
        ``partial_fit`` on an input read by blocks (memory map, zarr or dask
        array, :class:`nimf.sources.PermutedFeatures`, masked study): rows per
        chunk, so that ``partial_fit(X)`` is ``partial_fit`` on
        ``X[0:batch_size]``, ``X[batch_size:2 * batch_size]``, and so on.  None:
        one chunk per block read (about 64 MB of whole storage chunks).  An
        array in memory is always one chunk.

    callback : callable, default=None
        Called as ``callback(n_iter, W, H)`` after each iteration of ``fit``;
        if it returns True, fitting stops.  Do not modify ``W`` and ``H``.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The factor ``H``.

    n_components_ : int
        Number of components.

    reconstruction_err_ : float
        ``sqrt(2 d(X, W H))`` for the beta-divergence ``d`` at the end of fit:
        the Frobenius norm of the residual for the Frobenius loss.

    n_iter_ : int
        Number of iterations run.

    loss_curve_ : list of float
        Objective (loss plus penalties) after each 'cd' iteration (every 10
        iterations for 'mu'); for 'cd' (semi=False) it never goes up: an
        iteration whose extrapolated step raised it was undone.

    n_features_in_ : int
        Number of features seen during ``fit``.

    Notes
    -----
    With ``solver='cd'`` on float64 data, the first iterations run on a
    float32 copy of ``X`` (the products with ``X`` are memory-bound) until the
    optimality violation has dropped 1000-fold or the float32 objective
    stalls; at least the last two iterations, and the stopping test, are in
    float64, so the result is a float64 solution.  ``loss_curve_`` values of
    the float32 iterations are accurate to float32 round-off.  The default
    NNDSVD start is computed on the same copy.  The copy is skipped when it
    would exceed 2 GiB.

    With ``solver='cd'`` (non-negative factors) and an NNDSVD start, the
    randomized SVD of the start also gives a sketch of ``X``: its projection
    ``Q Q^T X`` on the ``n_components + 10`` directions found.  When ``X`` has
    a clear rank-``n_components`` structure (the next singular value at most
    half the last one kept), the first iteration on ``X`` (whose optimality
    violation is the reference of ``tol``) is followed by HALS iterations on
    the sketch, whose products cost ``(n_samples + n_features)`` instead of
    ``n_samples x n_features`` per component, for at most the cost of five
    iterations on ``X``; the iterations on ``X`` then take over from the point
    reached.  Over ``benchmarks/bench_nmf_regimes.py``'s regimes they reach
    scikit-learn's final error within one or two more iterations on ``X``.
    The iterations on the sketch are not counted in ``n_iter_`` or
    ``loss_curve_``, and not shown to ``callback``; ``verbose`` reports them.

    References
    ----------
    .. [1] D. Lee, H. S. Seung. "Learning the parts of objects by non-negative
       matrix factorization", Nature 401, 1999.
    .. [2] A. Cichocki, A.-H. Phan. "Fast local algorithms for large scale
       nonnegative matrix and tensor factorizations", IEICE Trans. 92(3), 2009.
    .. [3] N. Gillis, F. Glineur. "Accelerated multiplicative updates and
       hierarchical ALS algorithms for nonnegative matrix factorization",
       Neural Computation 24(4), 2012.
    .. [4] C. Boutsidis, E. Gallopoulos. "SVD based initialization: a head start
       for nonnegative matrix factorization", Pattern Recognition 41, 2008.
    .. [5] C. Fevotte, J. Idier. "Algorithms for nonnegative matrix
       factorization with the beta-divergence", Neural Computation 23(9), 2011.
    .. [6] C. Ding, T. Li, M. I. Jordan. "Convex and semi-nonnegative matrix
       factorizations", IEEE TPAMI 32(1), 2010.
    .. [7] A. M. S. Ang, N. Gillis. "Accelerating nonnegative matrix
       factorization algorithms using extrapolation", Neural Computation
       31(2), 2019.
    .. [8] M. Tepper, G. Sapiro. "Compressed nonnegative matrix factorization
       is fast and accurate", IEEE Trans. Signal Processing 64(9), 2016.
    .. [9] N. B. Erichson, A. Mendible, S. Wihlborn, J. N. Kutz. "Randomized
       nonnegative matrix factorization", arXiv:1711.02037, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from nimf.decomposition.nmf import NMF
    >>> X = np.array([[1, 1], [2, 1], [3, 1.2], [4, 1], [5, 0.8], [6, 1]])
    >>> model = NMF(n_components=2, init='random', random_state=0)
    >>> W = model.fit_transform(X)
    >>> model.components_.shape
    (2, 2)
    """

    def __init__(self, n_components="auto", *, init=None, solver="cd",
                 beta_loss="frobenius", tol=1e-4, max_iter=200, random_state=None,
                 alpha_W=0.0, alpha_H="same", l1_ratio=0.0, verbose=0, shuffle=False,
                 semi=False, forget_factor=0.7, batch_size=None, callback=None):
        self.n_components = n_components
        self.init = init
        self.solver = solver
        self.beta_loss = beta_loss
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.verbose = verbose
        self.shuffle = shuffle
        self.semi = semi
        self.forget_factor = forget_factor
        self.batch_size = batch_size
        self.callback = callback

    # ------------------------------------------------------------- checks
    def _check_params(self):
        p = {}
        if self.n_components is None or (isinstance(self.n_components, str)
                                          and self.n_components == "auto"):
            p["n_components"] = "auto"
        else:
            if isinstance(self.n_components, str):
                raise ValueError(
                    f"n_components must be a positive int, 'auto' or None, got {self.n_components!r}")
            p["n_components"] = check_int(self.n_components, "n_components", min_val=1)
        p["init"] = None if self.init is None else check_option(self.init, "init", _INITS)
        p["solver"] = check_option(self.solver, "solver", _SOLVERS)
        p["beta"] = _beta_to_float(self.beta_loss)
        p["tol"] = check_float(self.tol, "tol", low=0.0)
        p["max_iter"] = check_int(self.max_iter, "max_iter", min_val=1)
        p["alpha_W"] = check_float(self.alpha_W, "alpha_W", low=0.0)
        if isinstance(self.alpha_H, str) and self.alpha_H == "same":
            p["alpha_H"] = p["alpha_W"]
        else:
            if isinstance(self.alpha_H, str):
                raise ValueError(f"alpha_H must be a float >= 0 or 'same', got {self.alpha_H!r}")
            p["alpha_H"] = check_float(self.alpha_H, "alpha_H", low=0.0)
        p["l1_ratio"] = check_float(self.l1_ratio, "l1_ratio", low=0.0, high=1.0)
        p["verbose"] = check_int(int(self.verbose) if isinstance(self.verbose, bool)
                                 else self.verbose, "verbose", min_val=0)
        p["shuffle"] = check_bool(self.shuffle, "shuffle")
        p["semi"] = check_bool(self.semi, "semi")
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be a callable or None, got {self.callback!r}")
        if p["beta"] != 2.0 and p["solver"] != "mu":
            raise ValueError(
                f"beta_loss={self.beta_loss!r} needs solver='mu' (solver='cd' only "
                f"handles the Frobenius loss), got solver={self.solver!r}")
        if p["semi"] and p["solver"] != "cd":
            raise ValueError(f"semi=True needs solver='cd', got solver={self.solver!r}")
        return p

    def _validate_X(self, X, reset, params):
        X = validate_matrix(self, X, reset)
        _check_block(X, 0, params)
        return X

    def _resolve_n_components(self, params, X, H=None):
        k = params["n_components"]
        if k == "auto":
            k = H.shape[0] if H is not None else X.shape[1]
        return k

    def _check_factor(self, A, shape, name, X, nonneg=True):
        if A is None:
            raise ValueError(f"init='custom' needs {name}, got None")
        A = check_matrix(A, name, min_samples=0, min_features=0)
        if A.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got an array of shape {A.shape}")
        if not np.all(np.isfinite(A)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if nonneg and np.any(A < 0):
            raise ValueError(
                f"{name} must be non-negative, got {int(np.sum(A < 0))} negative entries "
                f"(minimum {float(A.min()):g})")
        return np.array(A, dtype=X.dtype, order="C", copy=True)

    def _as_source(self, X, reset):
        """The source of an input read by blocks, with its shape checked.

        ``n_features_in_`` is set by the caller once the data have been read.
        """
        return check_source(self, X, reset)

    def _read_whole(self, X, params):
        """An input given by blocks, read into memory for ``fit`` if it fits comfortably."""
        source = self._as_source(X, reset=True)
        n, p = source.shape
        nbytes = n * p * source.dtype.itemsize
        available = _validation.available_memory()
        if nbytes > _FIT_MEMORY_FRACTION * available:
            raise ValueError(
                f"X of shape {(n, p)} ({nbytes / 2 ** 30:.2f} GiB of {source.dtype}) is too "
                f"large for NMF.fit, which holds the whole data in memory: it may take at "
                f"most {_FIT_MEMORY_FRACTION:.0%} of the {available / 2 ** 30:.2f} GiB "
                "available. Use partial_fit, which reads X block by block (one pass per "
                "call: `for epoch in range(n_epochs): model.partial_fit(X)`, chunks of "
                "batch_size rows)")
        whole = np.empty((n, p), dtype=source.dtype)
        for start, block in _read_blocks(source, params):
            whole[start:start + block.shape[0]] = block
        return whole

    # ---------------------------------------------------------------- fit
    def fit_transform(self, X, y=None, W=None, H=None):
        """Learn the factorization of ``X`` and return the codes ``W``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or an input read by blocks
            Data (non-negative unless ``semi=True``). float32 stays float32.
            The solvers hold the whole data in memory: a memory map, zarr or
            dask array (or :class:`nimf.sources.PermutedFeatures`, masked study)
            is read into memory block by block, each block checked as it is
            read, when it takes at most 25% of the memory available; larger
            inputs raise a ValueError pointing to :meth:`partial_fit`, which
            learns from them chunk by chunk.
        y : Ignored
        W : array-like of shape (n_samples, n_components), default=None
            Initial codes, used when ``init='custom'``.
        H : array-like of shape (n_components, n_features), default=None
            Initial components, used when ``init='custom'``.

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
        """
        params = self._check_params()
        if is_large_input(X):
            X = self._read_whole(X, params)
        X = self._validate_X(X, reset=True, params=params)
        n, p = X.shape
        init = params["init"]
        if init == "custom":
            k = self._resolve_n_components(params, X, H=None if H is None else np.asarray(H))
        else:
            k = self._resolve_n_components(params, X)
            if W is not None or H is not None:
                warnings.warn("When init!='custom', provided W or H are ignored. Set "
                              "init='custom' to use them as initialization.", RuntimeWarning)
        if init is None:
            init = _default_init(k, n, p, params)
        if init in ("nndsvd", "nndsvda", "nndsvdar") and k > min(n, p):
            raise ValueError(
                f"init={init!r} needs n_components <= min(n_samples, n_features) = "
                f"{min(n, p)}, got n_components={k}")
        rng = check_random_state(self.random_state)
        X32 = sq_norm = sketch = None
        if params["solver"] == "cd" and not params["semi"]:
            # float64 data: the start and the first iterations are computed on
            # one float32 copy (products about twice as fast)
            sq_norm = _squared_norm(X)
            X32 = _mixed_precision_copy(X, params["max_iter"], sq_norm)
        if init == "custom":
            W = self._check_factor(W, (n, k), "W", X, nonneg=not params["semi"])
            H = self._check_factor(H, (k, p), "H", X)
        else:
            # the default solver also iterates on the sketch of the NNDSVD start
            with_sketch = params["solver"] == "cd" and not params["semi"]
            start = _initialize(X if X32 is None else X32, k, init, rng, sketch=with_sketch)
            W, H = start[0].astype(X.dtype, copy=False), start[1].astype(X.dtype, copy=False)
            sketch = start[2] if with_sketch else None
            if params["semi"]:
                W = np.ascontiguousarray(W)
        l1_W, l1_H, l2_W, l2_H = _penalties(params["alpha_W"], params["alpha_H"],
                                            params["l1_ratio"], n, p)
        if params["solver"] == "cd":
            W, H, n_iter, losses = _fit_cd(
                X, W, H, params["tol"], params["max_iter"], l1_W, l1_H, l2_W, l2_H,
                params["semi"], params["shuffle"], rng, params["verbose"], self.callback,
                X32=X32, sq_norm=sq_norm, sketch=sketch)
            del X32, sketch
        else:
            W, H, n_iter, losses = _fit_mu(
                X, W, H, params["beta"], params["tol"], params["max_iter"], l1_W, l1_H,
                l2_W, l2_H, True, params["verbose"], self.callback)
        check_finite_result("NMF", {"codes W": W, "components_ H": H}, _DIVERGED_HINT)
        if n_iter == params["max_iter"] and params["tol"] > 0:
            warnings.warn(
                f"Maximum number of iterations {params['max_iter']} reached before "
                "convergence. Increase max_iter to improve convergence.",
                ConvergenceWarning)
        self.components_ = H
        self.n_components_ = k
        self.n_iter_ = n_iter
        self.loss_curve_ = losses
        self.reconstruction_err_ = beta_divergence(X, W, H, params["beta"], square_root=True)
        self._beta = params["beta"]
        # partial_fit after fit goes on from this model: the fit's data count as
        # the chunks seen so far
        self._stats_A, self._stats_B = _statistics(X, W, H, params["beta"])
        self.n_samples_seen_ = n
        self.n_steps_ = 0
        return W

    def fit(self, X, y=None, **fit_params):
        """Learn the factorization of ``X``; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or an input read by blocks
            See :meth:`fit_transform`.
        y : Ignored
        **fit_params
            ``W`` and ``H`` for ``init='custom'``.
        """
        self.fit_transform(X, **fit_params)
        return self

    def transform(self, X):
        """Codes ``W`` of ``X`` for the fitted components (``H`` fixed).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or an input read by blocks
            A memory map, zarr or dask array (or
            :class:`nimf.sources.PermutedFeatures`, masked study) is transformed
            block by block, never loaded whole.  The codes of a row depend on
            that row only, except with ``solver='mu'``, whose updates start
            from the mean of the whole data (one more pass) and stop when the
            objective of each block (not of the whole data) stalls.

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        params = self._check_params()
        if is_large_input(X):
            source = self._as_source(X, reset=False)
            mean = None
            if params["solver"] == "mu":
                # the updates start from the data's mean: one more pass
                total = 0.0
                for _, block in _read_blocks(source, params):
                    total += float(block.sum(dtype=np.float64))
                mean = total / (source.n_samples * source.n_features)
            parts = [self._codes(block, params, mean)
                     for _, block in _read_blocks(source, params)]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        X = self._validate_X(X, reset=False, params=params)
        W = self._codes(X, params)
        check_finite_result("NMF.transform", {"codes W": W}, _DIVERGED_HINT)
        return W

    def _codes(self, X, params, mean=None):
        """Codes of a block of rows; ``mean``: of the data, for 'mu' (else ``X``'s)."""
        H = self.components_.astype(X.dtype, copy=False)
        n, p = X.shape
        l1_W, _, l2_W, _ = _penalties(params["alpha_W"], params["alpha_H"],
                                      params["l1_ratio"], n, p)
        if params["solver"] == "mu":
            mean = float(X.mean()) if mean is None else mean
            avg = np.sqrt(abs(mean) / H.shape[0])
            W = np.full((n, H.shape[0]), avg, dtype=X.dtype)
            W, _, _, _ = _fit_mu(X, W, H, params["beta"], params["tol"], params["max_iter"],
                                 l1_W, 0.0, l2_W, 0.0, False, 0, None)
            return W
        return _solve_codes(X, H, l1_W, l2_W, params["semi"], max_iter=params["max_iter"],
                            tol=1e-4)

    def inverse_transform(self, X):
        """Data ``W H`` from codes ``W`` of shape (n_samples, n_components)."""
        check_is_fitted(self)
        codes = check_codes(X, self.components_.shape[0], self.components_.dtype)
        return codes @ self.components_

    def _partial_fit_mu(self, X, H, params):
        # stochastic multiplicative update: accumulate the numerator and the
        # denominator of the update of H over chunks (Lefevre et al. 2011)
        n, p = X.shape
        beta = params["beta"]
        k = H.shape[0]
        avg = np.sqrt(abs(float(X.mean())) / k)
        W = np.full((n, k), avg, dtype=X.dtype)
        l1_W, _, l2_W, _ = _penalties(params["alpha_W"], params["alpha_H"],
                                      params["l1_ratio"], n, p)
        W, _, _, _ = _fit_mu(X, W, H, beta, 1e-4, 50, l1_W, 0.0, l2_W, 0.0, False, 0, None)
        rho = params["forget_factor"]
        WH = W @ H
        num, den = np.empty_like(WH), np.empty_like(WH)
        _nmf.mu_ratio(X, WH, beta, EPSILON, num, den)
        numer = (W.T @ num) * H
        denom = W.T @ den
        self._stats_A *= rho
        self._stats_A += numer
        self._stats_B *= rho
        self._stats_B += denom
        self.n_samples_seen_ = rho * self.n_samples_seen_ + n
        _, l1_H, _, l2_H = _penalties(params["alpha_W"], params["alpha_H"],
                                      params["l1_ratio"], self.n_samples_seen_, p)
        H_new = self._stats_A / np.maximum(self._stats_B + l1_H + l2_H * H, EPSILON)
        H_new **= _gamma(beta)
        return W, H_new.astype(X.dtype)

    # ------------------------------------------------------------ online
    def partial_fit(self, X, y=None, H=None):
        """Update the components from one chunk of samples (online NMF).

        The codes of the chunk are computed for the current components, their
        sufficient statistics ``A <- rho A + W^T W`` and ``B <- rho B + W^T X``
        are accumulated (``rho = forget_factor``), and the components are
        updated by HALS on ``A`` and ``B``: ``H`` minimises the weighted sum of
        ``1/2 ||X_c - W_c H||^2`` over the chunks, for the codes found along
        the way (Mairal et al. 2010).  For other beta-divergences
        (``solver='mu'``) the numerator and denominator of the multiplicative
        update of ``H`` are accumulated instead (as in scikit-learn's
        ``MiniBatchNMF``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or an input read by blocks
            One chunk of samples.  A memory map, zarr or dask array (or
            :class:`nimf.sources.PermutedFeatures`, masked study) is read block
            by block and never loaded whole: it is taken as consecutive chunks
            of ``batch_size`` rows (default: the blocks read, about 64 MB), the
            same as calling ``partial_fit`` on each.  Each block is checked as
            it is read; if one holds NaN, infinite or (unless ``semi=True``)
            negative values, a ValueError names its rows and the model is left
            as it was before the call.
        y : Ignored
        H : ndarray of shape (n_components, n_features), default=None
            The starting components, for the first call with ``init='custom'``
            (as scikit-learn's ``MiniBatchNMF.partial_fit``).

        Returns
        -------
        self : object
        """
        params = self._check_params()
        params["forget_factor"] = check_float(self.forget_factor, "forget_factor", low=0.0,
                                              high=1.0, low_open=True)
        batch_size = check_int(self.batch_size, "batch_size", min_val=1, allow_none=True)
        # a fitted (or loaded) model goes on from its components, with its features
        first = not hasattr(self, "components_")
        if not first and params["n_components"] != "auto" \
                and params["n_components"] != self.components_.shape[0]:
            raise ValueError(
                f"n_components={params['n_components']}, but this NMF was fitted with "
                f"{self.components_.shape[0]} components; partial_fit continues the fitted "
                "model: set n_components back, or start a new NMF")
        if not first and H is not None:
            raise ValueError("H starts a model: partial_fit(X, H=...) is for the first call, "
                             "and this NMF is already fitted")
        # a call that fails (bad data, bad values in a block read, factors that
        # overflow) leaves the model as it was before the call (on a first call:
        # not fitted, without the n_features_in_ that checking the data sets)
        saved = {key: copy.deepcopy(value) for key, value in vars(self).items()
                 if key.endswith("_") or key.startswith("_")}
        try:
            self._start = H if first else None
            large = is_large_input(X)
            if large:
                source = self._as_source(X, reset=first)
            else:
                X = self._validate_X(X, reset=first, params=params)
                self._partial_fit_chunk(X, params)
                return self
            for _, chunk in _read_blocks(source, params, batch_size):
                self._partial_fit_chunk(chunk, params)
        except BaseException:
            for key in [key for key in vars(self) if key.endswith("_") or key.startswith("_")]:
                if key not in saved:
                    delattr(self, key)
            vars(self).update(saved)
            raise
        if first:
            self.n_features_in_ = source.n_features
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        return self

    def _partial_fit_chunk(self, X, params):
        """``partial_fit`` on one checked chunk in memory."""
        n, p = X.shape
        k = getattr(self, "components_", np.empty((0, 0))).shape[0]
        shape_A = (k, k) if params["beta"] == 2.0 else (k, p)
        if hasattr(self, "components_") and getattr(self, "_stats_A", None) is not None \
                and self._stats_A.shape != shape_A:
            del self._stats_A  # statistics of another beta_loss: they do not carry over
        if not hasattr(self, "_stats_A") and hasattr(self, "components_"):
            # fitted without the statistics (a model saved by an older nimf, or the
            # beta_loss changed): go on from its components, the past weighing nothing
            self._stats_A = np.zeros(shape_A, dtype=np.float64)
            self._stats_B = np.zeros((k, p), dtype=np.float64)
            self.n_samples_seen_ = 0
            self.n_steps_ = 0
        if not hasattr(self, "_stats_A"):
            start = getattr(self, "_start", None)
            k = self._resolve_n_components(params, X, H=start)
            init = params["init"] or ("nndsvda" if k <= min(n, p) else "random")
            self._rng = check_random_state(self.random_state)
            if init == "custom":
                if start is None:
                    raise ValueError("init='custom' needs the starting components: "
                                     "partial_fit(X, H=...) on the first call")
                H = self._check_factor(start, (k, p), "H", X)
            else:
                if init != "random" and k > min(n, p):
                    init = "random"
                _, H = _initialize(X, k, init, self._rng)
            self.components_ = H
            self.n_components_ = k
            shape_A = (k, k) if params["beta"] == 2.0 else (k, p)
            self._stats_A = np.zeros(shape_A, dtype=np.float64)
            self._stats_B = np.zeros((k, p), dtype=np.float64)
            self.n_samples_seen_ = 0
            self.n_steps_ = 0
        H = self.components_.astype(X.dtype, copy=False)
        if params["beta"] != 2.0:
            W, self.components_ = self._partial_fit_mu(X, H, params)
        else:
            W = self._partial_fit_cd(X, H, params)
        check_finite_result("NMF", {"codes W": W, "components_ H": self.components_},
                            _DIVERGED_HINT)
        self.n_steps_ += 1
        self.n_iter_ = self.n_steps_
        self.reconstruction_err_ = beta_divergence(X, W, self.components_, params["beta"],
                                                   square_root=True)

    def _partial_fit_cd(self, X, H, params):
        n, p = X.shape
        k = H.shape[0]
        l1_W, _, l2_W, _ = _penalties(params["alpha_W"], params["alpha_H"],
                                      params["l1_ratio"], n, p)
        W = _solve_codes(X, H, l1_W, l2_W, params["semi"], max_iter=50, tol=1e-3)
        # older codes were computed with worse components: forget them gradually
        rho = params["forget_factor"]
        self._stats_A *= rho
        self._stats_A += W.T.astype(np.float64) @ W
        self._stats_B *= rho
        self._stats_B += (W.T @ X).astype(np.float64)
        self.n_samples_seen_ = rho * self.n_samples_seen_ + n
        _, l1_H, _, l2_H = _penalties(params["alpha_W"], params["alpha_H"],
                                      params["l1_ratio"], self.n_samples_seen_, p)
        Ht = np.ascontiguousarray(H.T, dtype=np.float64)
        order = np.arange(k, dtype=np.int64)
        _nmf.hals_rows(Ht, self._stats_A, self._stats_B, l1_H, l2_H, order, 50, 1e-3,
                       True, np.empty(k))
        self.components_ = np.ascontiguousarray(Ht.T, dtype=X.dtype)
        return W

    # ------------------------------------------------------------ persistence
    def _get_persistent_state(self):
        """The statistics ``partial_fit`` goes on from, for ``save_model``."""
        if not hasattr(self, "_stats_A"):
            return {}, {}
        return {"stats_A": self._stats_A, "stats_B": self._stats_B}, {"statistics": True}

    def _set_persistent_state(self, arrays, scalars):
        if scalars.get("statistics"):
            self._stats_A = arrays["stats_A"]
            self._stats_B = arrays["stats_B"]

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = not self.semi
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def non_negative_factorization(X, W=None, H=None, n_components="auto", **params):
    """NMF, function form: returns ``W``, ``H`` and the number of iterations.

    Fits :class:`NMF` (any of its parameters, by keyword) on ``X``, starting
    from ``W`` and ``H`` when ``init='custom'``.
    """
    est = NMF(n_components=n_components, **params)
    W = est.fit_transform(X, W=W, H=H)
    return W, est.components_, est.n_iter_
