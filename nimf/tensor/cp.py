"""CP (CANDECOMP/PARAFAC) decomposition of N-way arrays: ALS, non-negative HALS, missing entries.

The model of an N-way array ``X`` of shape ``(I_0, ..., I_{N-1})`` is a sum of
``R`` rank-one tensors::

    X[i_0, ..., i_{N-1}] ~ sum_r  w_r  F_0[i_0, r]  F_1[i_1, r] ... F_{N-1}[i_{N-1}, r]

with unit-norm factor columns and weights ``w_r >= 0``.  Both solvers update
one factor at a time with the others fixed (block coordinate descent on
``||X - X_hat||_F^2``):

- ALS (``cp_als``): the exact least-squares update
  ``F_n <- M_n (*_{l != n} F_l^T F_l)^-1``, with ``M_n`` the MTTKRP of mode ``n``;
- HALS (``nonnegative_cp_hals``): non-negative CP, several sweeps of exact
  column updates on the same ``M_n`` and Gram matrix (Cichocki & Phan 2009),
  repeated while they are cheap compared with the MTTKRP (as NMF does).

The MTTKRP costs one BLAS-3 product with the whole tensor; a sweep over all
modes needs only two, shared by the modes through partial contractions
(the left/right splitting of Phan, Tichavsky & Cichocki 2013), and the
Khatri-Rao product of the other modes is never formed (see
:mod:`nimf._kernels.tensor`).

Missing entries (``mask``, True where observed) are handled by
expectation-maximisation: before each sweep the hidden entries are filled with
the current model's prediction, so the sweep decreases the loss on the observed
entries only (the filled loss majorizes it and touches it at the current
model).  The values of ``X`` at hidden entries are never read.

After fitting, components are ordered by decreasing weight, and signs follow
one rule (unconstrained CP only): in every mode but the last, each factor
column has a non-negative sum; flips are made in pairs with the last mode,
which leaves the model unchanged, so the last mode's column carries the sign
that remains.

The first call compiles the kernels (a few seconds, cached on disk).

References
----------
Kolda, T. G. & Bader, B. W. (2009). Tensor decompositions and applications.
SIAM Review 51(3).
Cichocki, A. & Phan, A.-H. (2009). Fast local algorithms for large scale
nonnegative matrix and tensor factorizations. IEICE Trans. 92(3).
Phan, A.-H., Tichavsky, P. & Cichocki, A. (2013). Fast alternating LS algorithms
for high order CANDECOMP/PARAFAC tensor factorizations. IEEE TSP 61(19).
Williams, A. H. et al. (2018). Unsupervised discovery of demixed, low-dimensional
neural dynamics across multiple timescales through tensor component analysis.
Neuron 98(6).
"""

import functools
import math
import warnings

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

from .. import _parallel
from .._kernels import nmf as _nmf_kernels
from .._kernels import tensor as _kernels
from .._validation import check_bool, check_float, check_int, check_option

__all__ = ["CPDecomposition", "cp_als", "nonnegative_cp_hals", "mttkrp", "cp_to_tensor",
           "check_tensor"]

_INITS = ("auto", "svd", "random")
# Khatri-Rao blocks built to reconstruct a tensor hold at most this many entries
_KR_BLOCK_ENTRIES = 2 ** 20
# HALS: at most this many sweeps per factor update; a sweep costs I_n R^2
# against the MTTKRP's |X| R, so several sweeps cost little (accelerated HALS)
_MAX_HALS_SWEEPS = 10
_HALS_SWEEP_BUDGET = 0.02
# oversampling of the randomized SVD of the unfoldings ('svd' init)
_SVD_OVERSAMPLES = 10
_SVD_POWER_ITERATIONS = 1


def _single_threaded_blas(function):
    """Run ``function`` with single-threaded BLAS.

    Threaded OpenBLAS synchronises by spinning, and on a machine where a core
    is busy a product can take ten times longer; the large products are cut
    over the cores by :mod:`nimf._parallel` instead (see there).
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return function(*args, **kwargs)
    return wrapper


_BLAS_CONTROLLER = []


def single_threaded_blas():
    """Context limiting BLAS to one thread (the controller is made once: finding the
    libraries costs milliseconds)."""
    if not _BLAS_CONTROLLER:
        _BLAS_CONTROLLER.append(ThreadpoolController())
    return _BLAS_CONTROLLER[0].limit(limits=1, user_api="blas")


def _prod(values):
    return int(math.prod(int(v) for v in values))


# ------------------------------------------------------------------ checks
def check_tensor(X, mask=None, nonnegative=False, name="X"):
    """Check an N-way array (N >= 3) and its mask of observed entries.

    Parameters
    ----------
    X : array-like of shape (I_0, ..., I_{N-1})
        At least 3 dimensions, every one non-empty.  float32 stays float32,
        other numbers become float64.
    mask : array-like of bool of the shape of X, default=None
        True where the entry is observed.  Entries where it is False may hold
        anything, NaN included; they are not checked.
    nonnegative : bool, default=False
        Whether the observed entries must be >= 0.
    name : str, default="X"
        Name used in the messages.

    Returns
    -------
    X : ndarray, C-contiguous, float32 or float64
    mask : ndarray of bool or None
    """
    X = np.asarray(X)
    if X.ndim < 3:
        hint = " (use nimf.decomposition for matrices)" if X.ndim == 2 else ""
        raise ValueError(f"expected {name} as an N-way array with N >= 3 dimensions{hint}, "
                         f"got an array of shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise ValueError(f"expected {name} of real numbers, got dtype {X.dtype}")
    if X.size == 0:
        raise ValueError(f"expected {name} with no empty dimension, got shape {X.shape}")
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    X = np.ascontiguousarray(X, dtype=dtype)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != X.shape:
            raise ValueError(f"mask must have the shape of {name} {X.shape}, got an array "
                             f"of shape {mask.shape}")
        if mask.dtype != bool:
            if not np.issubdtype(mask.dtype, np.number) or not np.all(
                    (mask == 0) | (mask == 1)):
                raise ValueError("mask must hold booleans (True where observed), got "
                                 f"dtype {mask.dtype} with values other than 0 and 1")
            mask = mask.astype(bool)
        mask = np.ascontiguousarray(mask)
        n_observed = int(mask.sum())
        if n_observed == 0:
            raise ValueError("mask must observe at least one entry, got all False")
        observed = X[mask]
    else:
        observed = X
    finite = np.isfinite(observed)
    if not finite.all():
        where = "observed entries of " if mask is not None else ""
        raise ValueError(
            f"{where}{name} must be finite, got {int(finite.size - finite.sum())} NaN or "
            f"infinite values; pass mask (True where observed) to fit around missing "
            f"entries")
    if nonnegative:
        negative = observed < 0
        if negative.any():
            raise ValueError(
                f"nonnegative=True needs {name} >= 0, got {int(negative.sum())} negative "
                f"entries (minimum {float(observed.min()):g})")
    return X, mask


# ------------------------------------------------------------ MTTKRP
def _contract_all_but(T, dims, factors, keep, r_first):
    """Contract every mode of a partial result but ``keep``; returns ``(dims[keep], R)``.

    ``T`` holds the modes ``dims`` and the component axis, first (``r_first``)
    or last.  ``factors[j]`` is the factor of ``dims[j]`` (``factors[keep]``
    is not read).
    """
    R = T.shape[0] if r_first else T.shape[-1]
    live = list(range(len(dims)))
    # contract the largest modes first: every later contraction reads less
    for pos in sorted((j for j in live if j != keep), key=lambda j: -dims[j]):
        at = live.index(pos)
        sizes = [dims[j] for j in live]
        P, J, Q = _prod(sizes[:at]), sizes[at], _prod(sizes[at + 1:])
        if r_first:
            out = np.empty((R, P, Q), dtype=T.dtype)
            _kernels.contract_r_first(T.reshape(R, P, J, Q), factors[pos], out)
        else:
            out = np.empty((P, Q, R), dtype=T.dtype)
            _kernels.contract_r_last(T.reshape(P, J, Q, R), factors[pos], out)
        T = out
        live.remove(pos)
    return np.ascontiguousarray(T.reshape(R, -1).T) if r_first else T.reshape(-1, R)


def _right_partial(X, factors, start):
    """``X`` contracted along modes ``start..N-1``: shape ``(I_0 ... I_{start-1}, R)``."""
    shape = X.shape
    T = _parallel.matmul(X.reshape(-1, shape[-1]), factors[-1])
    if start < X.ndim - 1:
        for pos in range(X.ndim - 2, start - 1, -1):
            P, J = _prod(shape[:pos]), shape[pos]
            out = np.empty((P, 1, T.shape[-1]), dtype=X.dtype)
            _kernels.contract_r_last(T.reshape(P, J, 1, -1), factors[pos], out)
            T = out
    return T.reshape(-1, factors[0].shape[1])


def _left_partial(X, factors, stop):
    """``X`` contracted along modes ``0..stop-1``: shape ``(R, I_stop ... I_{N-1})``."""
    shape = X.shape
    T = _parallel.matmul(factors[0].T, X.reshape(shape[0], -1), axis=1)
    for pos in range(1, stop):
        J, Q = shape[pos], _prod(shape[pos + 1:])
        out = np.empty((T.shape[0], 1, Q), dtype=X.dtype)
        _kernels.contract_r_first(T.reshape(T.shape[0], 1, J, Q), factors[pos], out)
        T = out
    return T.reshape(T.shape[0], -1)


@_single_threaded_blas
def mttkrp(X, factors, mode):
    """Matricized tensor times Khatri-Rao product of every factor but ``mode``'s.

    ``M[i, r] = sum over the other indices of X[..., i, ...] prod_{l != mode} F_l[i_l, r]``,
    that is ``X_(mode) (F_{N-1} kr ... kr F_{mode+1} kr F_{mode-1} kr ... kr F_0)``
    for the unfolding ``X_(mode)`` in C order.  One BLAS-3 product with the
    whole tensor, then contractions of a partial result a mode smaller; the
    Khatri-Rao product is never formed.

    Parameters
    ----------
    X : ndarray of shape (I_0, ..., I_{N-1})
        C-contiguous, float32 or float64.
    factors : list of ndarray of shape (I_n, R)
        In the dtype of ``X``; ``factors[mode]`` is not read (may be None).
    mode : int
        Mode whose MTTKRP is returned (negative counts from the end).

    Returns
    -------
    M : ndarray of shape (I_mode, R)
    """
    N = X.ndim
    mode = mode % N
    if mode == N - 1:
        T = _left_partial(X, factors, N - 1)
        return np.ascontiguousarray(T.T)
    T = _parallel.matmul(X.reshape(-1, X.shape[-1]), factors[-1])
    dims = X.shape[:-1]
    if len(dims) == 1:
        return T
    return _contract_all_but(T, dims, factors[:-1], mode, r_first=False)


# ---------------------------------------------------- reconstruction
def _reconstruct(weights, factors, out):
    """``out[...] = sum_r w_r F_0[:, r] o ... o F_{N-1}[:, r]``, by blocks of mode 0."""
    shape = tuple(F.shape[0] for F in factors)
    R = factors[0].shape[1]
    head = factors[0] * weights.astype(factors[0].dtype)
    inner = _prod(shape[1:-1])
    step = max(1, _KR_BLOCK_ENTRIES // max(1, inner * R))
    flat = out.reshape(shape[0] * inner, shape[-1])
    last_t = factors[-1].T
    for start in range(0, shape[0], step):
        stop = min(shape[0], start + step)
        kr = head[start:stop]
        for F in factors[1:-1]:
            kr = (kr[:, None, :] * F[None, :, :]).reshape(-1, R)
        _parallel.matmul(kr, last_t, out=flat[start * inner:stop * inner])
    return out


@_single_threaded_blas
def cp_to_tensor(weights, factors):
    """The full tensor of a CP model.

    That is ``sum_r w_r F_0[:, r] o F_1[:, r] o ... o F_{N-1}[:, r]`` (outer products). Built by blocks of the first mode, so memory beyond the output stays small.

    Parameters
    ----------
    weights : array-like of shape (R,) or None
        None means all ones.
    factors : list of array-like of shape (I_n, R)

    Returns
    -------
    X_hat : ndarray of shape (I_0, ..., I_{N-1})
        In the common dtype of the factors (float32 only when all are float32).
    """
    factors = [np.asarray(F) for F in factors]
    if len(factors) < 2 or any(F.ndim != 2 for F in factors):
        raise ValueError("factors must be a list of at least 2 arrays of shape (I_n, R), got "
                         f"shapes {[np.shape(F) for F in factors]}")
    R = factors[0].shape[1]
    if any(F.shape[1] != R for F in factors):
        raise ValueError("every factor must have the same number of columns, got shapes "
                         f"{[F.shape for F in factors]}")
    dtype = np.float32 if all(F.dtype == np.float32 for F in factors) else np.float64
    factors = [np.ascontiguousarray(F, dtype=dtype) for F in factors]
    weights = np.ones(R, dtype=dtype) if weights is None else np.asarray(weights, dtype=dtype)
    if weights.shape != (R,):
        raise ValueError(f"weights must have shape ({R},), got shape {weights.shape}")
    out = np.empty(tuple(F.shape[0] for F in factors), dtype=dtype)
    return _reconstruct(weights, factors, out)


# ------------------------------------------------------------ solvers
def _normalize(F):
    """Unit-norm columns of ``F`` and their norms (zero columns stay zero, norm 0)."""
    norms = np.linalg.norm(F.astype(np.float64, copy=False), axis=0)
    safe = np.where(norms > 0, norms, 1.0)
    return (F / safe.astype(F.dtype)).astype(F.dtype, copy=False), norms


def _unfolding_top_vectors(X, mode, k, rng, n_power=_SVD_POWER_ITERATIONS):
    """About the leading ``k`` left singular vectors of the mode unfolding ``X_(mode)``.

    A randomized SVD (Halko, Martinsson & Tropp 2011) whose test matrix is the
    Khatri-Rao product of Gaussian factors of the other modes with ``k + 10``
    columns, so that the first product is an MTTKRP; then ``n_power`` power
    iterations, on the 3D view ``(P, I_mode, Q)`` of ``X`` (the unfolding is
    never copied).  Exact (from the Gram matrix of the unfolding) when the
    mode has at most ``k + 10`` entries.
    """
    shape = X.shape
    P, I, Q = _prod(shape[:mode]), shape[mode], _prod(shape[mode + 1:])
    X3 = X.reshape(P, I, Q)
    L = k + _SVD_OVERSAMPLES
    if I <= L:
        G = np.tensordot(X3, X3, axes=([0, 2], [0, 2])).astype(np.float64)
        U = np.linalg.eigh(G)[1][:, ::-1][:, :k]
    else:
        test = [None if m == mode else rng.standard_normal((n, L)).astype(X.dtype)
                for m, n in enumerate(shape)]
        Y = mttkrp(X, test, mode)
        for _ in range(n_power):
            basis = np.linalg.qr(Y.astype(np.float64))[0].astype(X.dtype)
            # Z = X_(mode)^T basis, shape (P, Q, L); then Y = X_(mode) Z
            if P == 1:
                Y = X3[0] @ (X3[0].T @ basis)
            elif Q == 1:
                X2 = X3[:, :, 0]
                Y = X2.T @ _parallel.matmul(X2, basis)
            else:
                Z = np.matmul(X3.transpose(0, 2, 1), basis)
                Y = np.matmul(X3, Z).sum(axis=0)
        U = np.linalg.svd(Y.astype(np.float64), full_matrices=False)[0][:, :k]
    if U.shape[1] < k:  # more components than the mode has entries
        U = np.hstack([U, rng.standard_normal((I, k - U.shape[1]))])
    return U


def _initial_factors(X, n_components, init, nonnegative, rng):
    factors = []
    for mode in range(X.ndim):
        I = X.shape[mode]
        if mode == 0 and init == "svd" and not nonnegative:
            # ALS solves mode 0 first from the others: its start is never read
            U = np.ones((I, n_components))
        elif init == "svd":
            U = _unfolding_top_vectors(X, mode, n_components, rng)
            if nonnegative:
                # each singular vector is kept with the sign whose positive part is larger
                positive = np.maximum(U, 0)
                negative = np.maximum(-U, 0)
                pick = np.linalg.norm(positive, axis=0) >= np.linalg.norm(negative, axis=0)
                U = np.where(pick, positive, negative)
                # a column without mass cannot move under HALS from an all-zero start
                U[:, U.sum(axis=0) == 0] = 1.0
                U += 1e-3 * U.max(axis=0, keepdims=True)
        elif nonnegative:
            U = rng.uniform(size=(I, n_components))
        else:
            U = rng.standard_normal((I, n_components))
        factors.append(_normalize(np.ascontiguousarray(U, dtype=X.dtype))[0])
    return factors


def _hadamard_grams(grams, skip):
    G = np.ones_like(grams[0])
    for mode, gram in enumerate(grams):
        if mode != skip:
            G *= gram
    return G


def _least_squares_factor(M, G):
    """``M G^-1`` (``G`` symmetric positive semi-definite), in float64."""
    M64 = M.astype(np.float64, copy=False)
    try:
        return linalg.solve(G, M64.T, assume_a="pos", check_finite=False).T
    except (linalg.LinAlgError, ValueError):
        return linalg.lstsq(G, M64.T, check_finite=False)[0].T


def _hals_sweeps(n_rows, n_other, R):
    return int(max(1, min(_MAX_HALS_SWEEPS, 1 + _HALS_SWEEP_BUDGET * n_other / max(R, 1))))


def _hals_factor(F_scaled, M, G, n_sweeps):
    """Non-negative least-squares update of ``F`` (rows ``M G^-1``) by ``n_sweeps`` HALS sweeps."""
    Ft = np.ascontiguousarray(F_scaled.T, dtype=np.float64)
    gradient = G @ Ft - M.T
    order = np.arange(G.shape[0], dtype=np.int64)
    _nmf_kernels.hals_columns(Ft, G, gradient, 0.0, 0.0, order, n_sweeps,
                              np.empty(Ft.shape[1]))
    return Ft.T


class _State:
    """Factors with unit-norm columns, weights, and the Gram matrices of the factors."""

    def __init__(self, factors, weights):
        self.factors = factors
        self.weights = weights
        self.grams = [F.T.astype(np.float64) @ F.astype(np.float64) for F in factors]

    def update(self, mode, M, nonnegative, n_sweeps):
        """Solve for factor ``mode`` given its MTTKRP; returns the new scaled factor and Gram."""
        G = _hadamard_grams(self.grams, mode)
        if nonnegative:
            warm = self.factors[mode].astype(np.float64) * self.weights
            F = _hals_factor(warm, M, G, n_sweeps)
        else:
            F = _least_squares_factor(M, G)
        unit, norms = _normalize(F)
        dead = norms == 0
        if dead.any():
            # a component whose column vanished keeps its direction with weight 0, so
            # the next modes' updates (whose curvature it then keeps) can revive it
            unit[:, dead] = self.factors[mode][:, dead]
        self.factors[mode] = np.ascontiguousarray(unit, dtype=M.dtype)
        self.weights = norms
        self.grams[mode] = self.factors[mode].T.astype(np.float64) @ \
            self.factors[mode].astype(np.float64)
        return F, G


def _sweep(Y, state, nonnegative, sweeps):
    """One pass of block updates over all modes of ``Y``; returns ``||Y - model||^2`` terms.

    Modes ``0..m-1`` share the contraction of ``Y`` along modes ``m..N-1``, and
    modes ``m..N-1`` the contraction along ``0..m-1`` with the new factors: two
    BLAS-3 products with ``Y`` per sweep.  Returns ``(<Y, model>, ||model||^2)``
    of the model after the sweep.
    """
    N = Y.ndim
    split = (N + 1) // 2
    factors = state.factors
    right = _right_partial(Y, factors, split).reshape(Y.shape[:split] + (-1,))
    for mode in range(split):
        if split == 1:
            M = right.reshape(Y.shape[0], -1)
        else:
            M = _contract_all_but(right, Y.shape[:split], factors[:split], mode, r_first=False)
        state.update(mode, M, nonnegative, sweeps[mode])
    left = _left_partial(Y, factors, split)
    for mode in range(split, N):
        if split == N - 1:
            M = np.ascontiguousarray(left.T)
        else:
            M = _contract_all_but(left, Y.shape[split:], factors[split:], mode - split,
                                  r_first=True)
        F, G = state.update(mode, M, nonnegative, sweeps[mode])
    cross = float(np.sum(M.astype(np.float64) * F))
    model_sq = float(np.sum(G * (F.T @ F)))
    return cross, model_sq


@_single_threaded_blas
def _fit_cp(X, n_components, mask, nonnegative, init, max_iter, tol, random_state,
                 verbose, callback, solver_name):
    rng = check_random_state(random_state)
    if init == "auto":
        init = "svd" if nonnegative else "random"
    observed = mask
    if observed is not None:
        X_obs_sq = float(np.sum(np.where(observed, X, 0).astype(np.float64) ** 2))
        fill = float(X[observed].mean(dtype=np.float64))
        Y = np.where(observed, X, np.asarray(fill, dtype=X.dtype))
        X_hat = np.empty_like(X)
    else:
        X_obs_sq = float(np.dot(X.ravel().astype(np.float64), X.ravel().astype(np.float64)))
        Y = X
    norm = math.sqrt(X_obs_sq)
    factors = _initial_factors(Y, n_components, init, nonnegative, rng)
    state = _State(factors, np.ones(n_components))
    sweeps = [_hals_sweeps(I, X.size // I, n_components) for I in X.shape]
    errors = []
    round_off = float(np.finfo(X.dtype).eps)
    bar = None
    if verbose:
        from tqdm.auto import tqdm
        bar = tqdm(total=max_iter, desc=solver_name, unit="iter")
    converged = False
    n_iter = 0
    try:
        for n_iter in range(1, max_iter + 1):
            cross, model_sq = _sweep(Y, state, nonnegative, sweeps)
            if observed is None:
                residual_sq = max(X_obs_sq - 2.0 * cross + model_sq, 0.0)
            else:
                _reconstruct(state.weights.astype(X.dtype), state.factors, X_hat)
                residual_sq = _kernels.fill_missing(X.ravel(), X_hat.ravel(), observed.ravel(),
                                                    Y.ravel())
            error = math.sqrt(residual_sq) / norm if norm > 0 else 0.0
            errors.append(error)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(error=f"{error:.6g}")
            if callback is not None and callback(n_iter, state.weights.copy(),
                                                 [F.copy() for F in state.factors]):
                converged = True
                break
            # the error is known to about eps / error (it comes from ||X||^2 - 2 <X, X_hat>
            # + ||X_hat||^2): a smaller change is round-off, not progress (float32)
            if error == 0.0 or (len(errors) > 1 and abs(errors[-2] - error)
                                <= max(tol * errors[-2], round_off / max(error, 1e-300))):
                converged = True
                break
    finally:
        if bar is not None:
            bar.close()
    if not converged and tol > 0:
        warnings.warn(f"{solver_name} did not converge in {max_iter} iterations (last relative "
                      f"change of the error above tol={tol:g}); increase max_iter or tol",
                      ConvergenceWarning, stacklevel=4)
    weights, factors = _order_and_orient(state.weights, state.factors, nonnegative)
    return weights, factors, np.asarray(errors)


def _order_and_orient(weights, factors, nonnegative):
    """Components by decreasing weight; signs by the rule of the module docstring."""
    order = np.argsort(-weights, kind="stable")
    weights = np.asarray(weights, dtype=np.float64)[order]
    factors = [np.ascontiguousarray(F[:, order]) for F in factors]
    if not nonnegative:
        for mode in range(len(factors) - 1):
            signs = np.where(factors[mode].sum(axis=0, dtype=np.float64) < 0, -1, 1)
            signs = signs.astype(factors[mode].dtype)
            factors[mode] *= signs
            factors[-1] *= signs
    return weights, factors


def _check_solver_args(n_components, init, max_iter, tol, verbose):
    n_components = check_int(n_components, "n_components", min_val=1)
    init = check_option(init, "init", _INITS)
    max_iter = check_int(max_iter, "max_iter", min_val=1)
    tol = check_float(tol, "tol", low=0.0)
    verbose = check_int(int(verbose) if isinstance(verbose, bool) else verbose, "verbose",
                        min_val=0)
    return n_components, init, max_iter, tol, verbose


def cp_als(X, n_components, *, mask=None, init="auto", max_iter=500, tol=1e-6,
           random_state=None, verbose=0, callback=None):
    """CP decomposition by alternating least squares (ALS).

    Minimises ``||mask * (X - sum_r w_r F_0[:, r] o ... o F_{N-1}[:, r])||_F^2``.
    See :class:`CPDecomposition` for the details.

    Parameters
    ----------
    X : array-like of shape (I_0, ..., I_{N-1})
        N-way array, N >= 3.
    n_components : int
        Number of rank-one components R.
    mask : array-like of bool of the shape of X, default=None
        True where the entry is observed; hidden entries have no influence.
    init : {'auto', 'svd', 'random'}, default='auto'
        'svd': leading left singular vectors of the unfoldings (randomized);
        'random': Gaussian factors; 'auto': 'random' (see
        :class:`CPDecomposition`).
    max_iter : int, default=500
        Maximum number of sweeps over the modes.
    tol : float, default=1e-6
        Stop when the relative error changes by less than ``tol`` times itself.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Show a tqdm progress bar with the error when > 0.
    callback : callable, default=None
        ``callback(n_iter, weights, factors)`` after each sweep (copies); a
        True return stops.

    Returns
    -------
    weights : ndarray of shape (R,)
        Decreasing.
    factors : list of ndarray of shape (I_n, R)
        Unit-norm columns, in the dtype of X.
    errors : ndarray of shape (n_iter,)
        Relative error ``||mask * (X - X_hat)|| / ||mask * X||`` after each sweep.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.einsum("ir,jr,kr->ijk", rng.rand(6, 2), rng.rand(5, 2), rng.rand(4, 2))
    >>> weights, factors, errors = cp_als(X, 2, random_state=0)
    >>> bool(errors[-1] < 1e-4)
    True
    """
    n_components, init, max_iter, tol, verbose = _check_solver_args(
        n_components, init, max_iter, tol, verbose)
    X, mask = check_tensor(X, mask)
    return _fit_cp(X, n_components, mask, False, init, max_iter, tol, random_state, verbose,
                   callback, "CP-ALS")


def nonnegative_cp_hals(X, n_components, *, mask=None, init="auto", max_iter=500, tol=1e-6,
                        random_state=None, verbose=0, callback=None):
    """Non-negative CP decomposition by hierarchical ALS (HALS).

    Same model and loss as :func:`cp_als` with every factor >= 0; each factor
    update runs several HALS sweeps (exact non-negative column updates) on
    the same MTTKRP.  Parameters and returns as :func:`cp_als`; X must be
    non-negative where observed.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.einsum("ir,jr,kr->ijk", rng.rand(6, 2), rng.rand(5, 2), rng.rand(4, 2))
    >>> weights, factors, errors = nonnegative_cp_hals(X, 2, random_state=0)
    >>> bool(min(F.min() for F in factors) >= 0)
    True
    """
    n_components, init, max_iter, tol, verbose = _check_solver_args(
        n_components, init, max_iter, tol, verbose)
    X, mask = check_tensor(X, mask, nonnegative=True)
    return _fit_cp(X, n_components, mask, True, init, max_iter, tol, random_state, verbose,
                   callback, "non-negative CP-HALS")


# ------------------------------------------------------------ estimator
class CPDecomposition(BaseEstimator):
    """CP (CANDECOMP/PARAFAC) decomposition of an N-way array, optionally non-negative.

    Fits ``X ~ sum_r w_r F_0[:, r] o F_1[:, r] o ... o F_{N-1}[:, r]`` (``o``
    the outer product) by ALS, or by HALS when ``nonnegative=True``, with
    missing entries given by a mask.  In neuroscience this is tensor
    component analysis (Williams et al. 2018): a neurons x time x trials
    array gives, per component, a neuron factor (a cell assembly), a temporal
    factor (its time course within a trial) and a trial factor (how it changes
    across trials, with learning or condition).

    Each update solves for one factor with the others fixed.  Its cost is
    the MTTKRP (matricized tensor times Khatri-Rao product), done with two
    BLAS-3 products with the tensor per sweep over all modes and compiled
    contractions of the partial results; the Khatri-Rao product of the other
    modes is never formed.  The first call compiles the kernels (a few
    seconds, cached on disk).

    After fitting, components are ordered by decreasing weight; signs
    (unconstrained CP) follow one rule: in every mode but the last, each
    factor column has a non-negative sum, the last mode carrying the sign
    that remains (flips in pairs leave the model unchanged).

    Parameters
    ----------
    n_components : int, default=2
        Number of rank-one components R.
    nonnegative : bool, default=False
        Constrain every factor to be >= 0 (non-negative CP by HALS); X must
        then be non-negative where observed.
    init : {'auto', 'svd', 'random'}, default='auto'
        'svd': leading left singular vectors of each unfolding (a randomized
        SVD; for ``nonnegative``, the larger signed part of each); 'random':
        Gaussian (uniform for ``nonnegative``) factors.  'auto' is 'svd' for
        non-negative CP (fewer HALS sweeps than from a random start) and
        'random' for ALS: on planted Gaussian problems
        (``benchmarks/bench_tensor.py`` at seeds 0-5) ALS from random starts
        reached the optimum in every case, from SVD starts it stalled at a
        local minimum in one or two cases out of six (the singular vectors
        are orthogonal mixtures of the CP factors).  Stability and error
        curves over seeds need 'random', so that seeds differ.
    max_iter : int, default=500
        Maximum number of sweeps over the modes.
    tol : float, default=1e-6
        Stop when the relative error changes by less than ``tol`` times itself
        from one sweep to the next (or by less than its round-off, about
        ``eps / error``: float32 data stop earlier).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation.
    verbose : int, default=0
        Show a tqdm progress bar with the error when > 0.
    callback : callable, default=None
        Called as ``callback(n_iter, weights, factors)`` (copies, before
        ordering) after each sweep; if it returns True, fitting stops.

    Attributes
    ----------
    factors_ : list of ndarray of shape (I_n, n_components)
        One factor per mode, unit-norm columns, in the dtype of X.
    weights_ : ndarray of shape (n_components,)
        Weights of the components, decreasing.
    n_iter_ : int
        Number of sweeps run.
    reconstruction_error_ : float
        Relative error ``||mask * (X - X_hat)||_F / ||mask * X||_F`` at the
        end of fit (on the observed entries).
    errors_ : ndarray of shape (``n_iter_``,)
        Relative error after each sweep.
    shape_ : tuple of int
        Shape of the array fitted.

    Notes
    -----
    Missing entries are handled by expectation-maximisation: before each
    sweep the hidden entries are filled with the current model's prediction.
    Their values in ``X`` are never read, so they have no influence at all.

    Unlike a matrix factorization, CP has no truncated-SVD optimum: the best
    rank-R fit may not exist, and ALS may stall in "swamps" where the error
    decreases slowly; try several seeds (:func:`nimf.assessment.error_curve`).

    References
    ----------
    .. [1] T. G. Kolda, B. W. Bader. "Tensor decompositions and applications",
       SIAM Review 51(3), 2009.
    .. [2] A. Cichocki, A.-H. Phan. "Fast local algorithms for large scale
       nonnegative matrix and tensor factorizations", IEICE Trans. 92(3), 2009.
    .. [3] A. H. Williams et al. "Unsupervised discovery of demixed,
       low-dimensional neural dynamics across multiple timescales through
       tensor component analysis", Neuron 98(6), 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from nimf.tensor import CPDecomposition
    >>> rng = np.random.RandomState(0)
    >>> X = np.einsum("ir,jr,kr->ijk", rng.rand(8, 3), rng.rand(7, 3), rng.rand(6, 3))
    >>> model = CPDecomposition(n_components=3, nonnegative=True, random_state=0).fit(X)
    >>> [F.shape for F in model.factors_]
    [(8, 3), (7, 3), (6, 3)]
    >>> bool(model.reconstruction_error_ < 1e-3)
    True
    """

    _fitted_marker = "weights_"

    def __init__(self, n_components=2, *, nonnegative=False, init="auto", max_iter=500,
                 tol=1e-6, random_state=None, verbose=0, callback=None):
        self.n_components = n_components
        self.nonnegative = nonnegative
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def _check_params(self):
        args = _check_solver_args(self.n_components, self.init, self.max_iter, self.tol,
                                  self.verbose)
        nonnegative = check_bool(self.nonnegative, "nonnegative")
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be a callable or None, got {self.callback!r}")
        return args, nonnegative

    def fit(self, X, mask=None):
        """Fit the CP model to an N-way array.

        Parameters
        ----------
        X : array-like of shape (I_0, ..., I_{N-1})
            N >= 3.  float32 stays float32.  Non-negative where observed when
            ``nonnegative=True``.  May hold NaN where ``mask`` is False.
        mask : array-like of bool of the shape of X, default=None
            True where the entry is observed.  Hidden entries have no influence
            on the fit.

        Returns
        -------
        self : CPDecomposition
        """
        (n_components, init, max_iter, tol, verbose), nonnegative = self._check_params()
        X, mask = check_tensor(X, mask, nonnegative=nonnegative)
        name = "non-negative CP-HALS" if nonnegative else "CP-ALS"
        weights, factors, errors = _fit_cp(X, n_components, mask, nonnegative, init, max_iter,
                                           tol, self.random_state, verbose, self.callback,
                                           name)
        self.weights_ = weights
        self.factors_ = factors
        self.errors_ = errors
        self.n_iter_ = int(len(errors))
        self.reconstruction_error_ = float(errors[-1])
        self.shape_ = tuple(int(s) for s in X.shape)
        return self

    # ------------------------------------------------------------ results
    def reconstruct(self):
        """The fitted model as a full array.

        Returns
        -------
        X_hat : ndarray of shape ``shape_``
        """
        check_is_fitted(self, "weights_")
        return cp_to_tensor(self.weights_, self.factors_)

    def _check_mode(self, mode):
        n_modes = len(self.shape_)
        if isinstance(mode, (bool, np.bool_)) or not isinstance(mode, (int, np.integer)) \
                or not -n_modes <= mode < n_modes:
            raise ValueError(f"mode must be an int in [{-n_modes}, {n_modes - 1}] (the model "
                             f"has {n_modes} modes), got {mode!r}")
        return int(mode) % n_modes

    def transform(self, X, mode=-1, mask=None):
        """Factor of one mode for new data along that mode, the other factors fixed.

        For instance the trial factor of new trials of a neurons x time x trials
        model: ``X`` has the training shape except along ``mode``.  The result
        replaces ``factors_[mode]`` (with ``weights_`` unchanged) to model ``X``,
        so it is on the scale of the fitted factor.  Least squares, or
        non-negative least squares when ``nonnegative=True``.

        Parameters
        ----------
        X : array-like
            Shape ``shape_`` except along ``mode``.
        mode : int, default=-1
            Mode of the new data (the last one: trials).
        mask : array-like of bool of the shape of X, default=None
            True where observed; hidden entries have no influence.

        Returns
        -------
        factor : ndarray of shape (X.shape[mode], n_components)
        """
        check_is_fitted(self, "weights_")
        mode = self._check_mode(mode)
        X, mask = check_tensor(X, mask, nonnegative=self.nonnegative)
        expected = list(self.shape_)
        expected[mode] = X.shape[mode]
        if X.ndim != len(self.shape_) or list(X.shape) != expected:
            shown = list(self.shape_)
            shown[mode] = "any"
            raise ValueError(f"expected X of shape ({', '.join(map(str, shown))}) (the fitted "
                             f"shape but along mode {mode}), got an array of shape {X.shape}")
        return self._transform(X, mode, mask)

    @_single_threaded_blas
    def _transform(self, X, mode, mask):
        factors = [np.ascontiguousarray(F, dtype=X.dtype) for F in self.factors_]
        grams = [F.T.astype(np.float64) @ F.astype(np.float64) for F in factors]
        G = _hadamard_grams(grams, mode) * np.outer(self.weights_, self.weights_)
        factors[mode] = None
        Y = X if mask is None else np.where(mask, X, np.asarray(X[mask].mean(), X.dtype))
        factor = np.zeros((X.shape[mode], len(self.weights_)))
        previous = None
        n_rounds = 1 if mask is None else self.max_iter
        X_hat = None if mask is None else np.empty_like(X)
        for _ in range(n_rounds):
            # the weights scale the columns of the Khatri-Rao product of the fixed factors
            M = mttkrp(Y, factors, mode).astype(np.float64) * self.weights_
            if self.nonnegative:
                for _sweeps in range(100):
                    before = factor.copy()  # _hals_factor updates its own output in place
                    factor = _hals_factor(factor, M, G, _MAX_HALS_SWEEPS)
                    if np.linalg.norm(factor - before) <= 1e-9 * max(np.linalg.norm(factor),
                                                                     1e-300):
                        break
            else:
                factor = _least_squares_factor(M, G)
            if mask is None:
                break
            factors[mode] = np.ascontiguousarray(factor, dtype=X.dtype)
            _reconstruct(self.weights_.astype(X.dtype), factors, X_hat)
            residual = _kernels.fill_missing(X.ravel(), X_hat.ravel(), mask.ravel(), Y.ravel())
            if previous is not None and abs(previous - residual) <= self.tol * previous:
                break
            previous = residual
        return factor.astype(X.dtype)

    def inverse_transform(self, factor, mode=-1):
        """The array the model predicts with ``factor`` in place of ``factors_[mode]``.

        Parameters
        ----------
        factor : array-like of shape (n, n_components)
            For instance from :meth:`transform`.
        mode : int, default=-1

        Returns
        -------
        X_hat : ndarray
            Shape ``shape_`` with ``n`` along ``mode``.
        """
        check_is_fitted(self, "weights_")
        mode = self._check_mode(mode)
        factor = np.asarray(factor)
        R = len(self.weights_)
        if factor.ndim != 2 or factor.shape[1] != R:
            raise ValueError(f"expected factor of shape (n, {R}), got an array of shape "
                             f"{factor.shape}")
        factors = list(self.factors_)
        factors[mode] = factor
        return cp_to_tensor(self.weights_, factors)

    # ------------------------------------------------------- persistence
    def _get_persistent_state(self):
        arrays = {f"factor_{mode}": F for mode, F in enumerate(self.factors_)}
        return arrays, {"n_modes": len(self.factors_), "shape": list(self.shape_)}

    def _set_persistent_state(self, arrays, state):
        self.factors_ = [arrays[f"factor_{mode}"] for mode in range(state["n_modes"])]
        self.shape_ = tuple(state["shape"])
