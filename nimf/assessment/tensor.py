"""Model assessment of CP tensor decompositions: error curves, stability, cross-validation.

:func:`nimf.assessment.error_curve`, :func:`~nimf.assessment.stability` and
:func:`~nimf.assessment.speckled_cv` send N-way arrays (N >= 3) here; the
functions can also be called directly.  The results are those of the matrix
tools (:class:`ErrorCurveResult`, :class:`StabilityResult`, :class:`CVResult`),
so :mod:`nimf.plotting.assessment` draws them, with factors in place of
components: ``components[i][s]`` is the list of factors of a fit.

Components of two CP models are matched across all modes at once: the
similarity of component ``r`` of one model and ``s`` of the other is the
product over modes of the absolute cosines of their factor columns (the
factor match score of Tomasi & Bro, without the weight term), and the
Hungarian algorithm finds the one-to-one matching that maximises its sum.

There is no truncated-SVD optimum for CP: the best rank-R CP model may not
even exist.  The lower bound given instead is that of the unfoldings: any
rank-R CP model has unfoldings of matrix rank <= R, so its relative error is
at least the truncated-SVD error of every unfolding at rank R (their maximum
is reported).  It is loose: CP fits usually stay well above it.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.utils import check_random_state

from .._validation import check_float, check_int
from .cross_validation import run_cv
from .errors import ErrorCurveResult, check_estimator_has_rank, check_ranks, draw_seeds, \
    make_model, run
from .stability import StabilityResult, align_fits

__all__ = ["TensorErrorCurveResult", "TensorMatchResult", "factor_similarity", "match_factors",
           "factor_match_score", "unfolding_error_bound", "tensor_error_curve",
           "tensor_stability", "tensor_speckled_cv", "speckled_tensor_mask",
           "is_tensor_problem"]


def is_tensor_problem(estimator, X):
    """Whether the assessment of ``estimator`` on ``X`` is that of a tensor model.

    True for N-way arrays (N >= 3) and for the estimators of :mod:`nimf.tensor`.
    """
    if type(estimator).__module__.startswith("nimf.tensor"):
        return True
    if hasattr(X, "ndim") and hasattr(X, "shape"):
        return X.ndim >= 3
    # nested lists of numbers; a list of images (objects, paths) is not a tensor
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], (list, tuple, np.ndarray)):
        return np.ndim(X) >= 3
    return False


def _check_tensor(X):
    from ..tensor import check_tensor

    X, _ = check_tensor(X)
    if not np.any(X):
        raise ValueError("expected X with at least one non-zero value, got all zeros")
    return X


def _as_factors(factors, name):
    factors = [np.asarray(F, dtype=np.float64) for F in factors]
    if len(factors) < 2 or any(F.ndim != 2 for F in factors) or \
            len({F.shape[1] for F in factors}) != 1:
        raise ValueError(f"{name} must be a list of at least 2 factors of shape (I_n, R) "
                         f"sharing R, got shapes {[F.shape for F in factors]}")
    return factors


def _unit_columns(F):
    norms = np.linalg.norm(F, axis=0)
    return np.divide(F, norms, out=np.zeros_like(F), where=norms > 0)


# ------------------------------------------------------------ matching
def factor_similarity(factors_a, factors_b):
    """Similarity of every component of one CP model to every component of another.

    ``S[r, s] = prod_n |cos(A_n[:, r], B_n[:, s])|``, in [0, 1]; 1 when the
    two components are the same up to scale and sign.

    Parameters
    ----------
    factors_a : list of array-like of shape (I_n, R_a)
    factors_b : list of array-like of shape (I_n, R_b)

    Returns
    -------
    similarity : ndarray of shape (R_a, R_b)
    """
    factors_a = _as_factors(factors_a, "factors_a")
    factors_b = _as_factors(factors_b, "factors_b")
    if [F.shape[0] for F in factors_a] != [F.shape[0] for F in factors_b]:
        raise ValueError("factors_a and factors_b must have the same mode sizes, got "
                         f"{[F.shape[0] for F in factors_a]} and "
                         f"{[F.shape[0] for F in factors_b]}")
    similarity = np.ones((factors_a[0].shape[1], factors_b[0].shape[1]))
    for A, B in zip(factors_a, factors_b):
        similarity *= np.abs(_unit_columns(A).T @ _unit_columns(B))
    return np.clip(similarity, 0.0, 1.0)


@dataclass
class TensorMatchResult:
    """Outcome of :func:`match_factors`.

    Attributes
    ----------
    permutation : ndarray of shape (n_matched,)
        Component of the second model matched with each component ``rows[i]``
        of the reference.
    rows : ndarray of shape (n_matched,)
    signs : ndarray of shape (n_modes, n_matched)
        +1 or -1 per mode: flips aligning each factor column with the
        reference's (in every mode but the last each matched column gets a
        positive cosine; the last mode takes the product, so the model is
        unchanged).
    similarities : ndarray of shape (n_matched,)
        Product over modes of absolute cosine of each matched pair.
    score : float
        Mean matched similarity, in [0, 1].
    """

    permutation: np.ndarray
    rows: np.ndarray
    signs: np.ndarray
    similarities: np.ndarray
    score: float

    def apply(self, factors):
        """Factors (and weights, if given as the second item) reordered and flipped.

        Parameters
        ----------
        factors : list of array-like of shape (I_n, R)

        Returns
        -------
        aligned : list of ndarray
            Matched components first, in the reference's order, then the
            unmatched ones in their order.
        """
        factors = [np.asarray(F) for F in factors]
        rest = np.setdiff1d(np.arange(factors[0].shape[1]), self.permutation)
        return [np.concatenate([F[:, self.permutation] * signs, F[:, rest]], axis=1)
                for F, signs in zip(factors, self.signs)]

    def order(self, n_components):
        """Indices reordering any per-component array (weights) as :meth:`apply` does."""
        rest = np.setdiff1d(np.arange(n_components), self.permutation)
        return np.concatenate([self.permutation, rest])


def match_factors(reference, factors):
    """Match the components of a CP model one to one with those of a reference.

    Hungarian algorithm on :func:`factor_similarity` (the product over modes
    of the absolute cosines), so all modes are matched at once.

    Parameters
    ----------
    reference : list of array-like of shape (I_n, R_a)
    factors : list of array-like of shape (I_n, R_b)

    Returns
    -------
    result : TensorMatchResult
        ``result.apply(factors)`` gives ``factors`` aligned with ``reference``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> factors = [rng.rand(5, 3), rng.rand(4, 3), rng.rand(3, 3)]
    >>> shuffled = [F[:, [2, 0, 1]] for F in factors]
    >>> result = match_factors(factors, shuffled)
    >>> result.permutation, round(result.score, 6)
    (array([1, 2, 0]), 1.0)
    """
    reference = _as_factors(reference, "reference")
    factors = _as_factors(factors, "factors")
    similarity = factor_similarity(reference, factors)
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    signs = np.ones((len(factors), len(rows)))
    for mode in range(len(factors) - 1):
        cosines = np.sum(_unit_columns(reference[mode])[:, rows]
                         * _unit_columns(factors[mode])[:, cols], axis=0)
        signs[mode] = np.where(cosines < 0, -1.0, 1.0)
    signs[-1] = np.prod(signs[:-1], axis=0)
    similarities = similarity[rows, cols]
    similarities = np.where(np.isclose(similarities, 1.0, rtol=0, atol=1e-12), 1.0,
                            similarities)
    return TensorMatchResult(permutation=cols, rows=rows, signs=signs,
                             similarities=similarities, score=float(np.mean(similarities)))


def factor_match_score(true_factors, found_factors):
    """Mean matched similarity of found CP factors to true (planted) ones, in [0, 1].

    The factor match score: components matched one to one across all modes
    (:func:`match_factors`), each scored by the product over modes of the
    absolute cosines of its factor columns.

    Parameters
    ----------
    true_factors : list of array-like of shape (I_n, R)
    found_factors : list of array-like of shape (I_n, R')

    Returns
    -------
    score : float
    """
    return match_factors(true_factors, found_factors).score


def _instability(similarity):
    """Amari-type distance of Wu et al. (2016) on a similarity of components."""
    return float(0.5 * (np.mean(1.0 - similarity.max(axis=0))
                        + np.mean(1.0 - similarity.max(axis=1))))


# ------------------------------------------------------------ error curve
@dataclass
class TensorErrorCurveResult(ErrorCurveResult):
    """Outcome of :func:`tensor_error_curve` (an :class:`ErrorCurveResult`).

    ``svd_bound`` holds the unfolding bound (see :func:`unfolding_error_bound`),
    ``components[i][s]`` the factors of fit ``s`` at ``ranks[i]``.
    """

    bound_label: str = "unfolding SVD bound (CP has no SVD optimum)"


def unfolding_error_bound(X, ranks):
    """Lower bound on the relative error of any rank-R CP model, from the unfoldings.

    A rank-R CP model has unfoldings of matrix rank at most R, so its relative
    error is at least ``sqrt(sum_{i>R} s_i^2) / ||X||`` for the singular values
    ``s`` of every unfolding; the maximum over modes is returned.  No SVD
    optimum exists for CP itself: this bound is usually not reached.

    Parameters
    ----------
    X : array-like of shape (I_0, ..., I_{N-1})
    ranks : sequence of int

    Returns
    -------
    bound : ndarray of shape (n_ranks,)
    """
    X = _check_tensor(X)
    ranks = check_ranks(ranks)
    from ..tensor.cp import single_threaded_blas

    with single_threaded_blas():  # see nimf._parallel
        return _unfolding_error_bound(X, ranks)


def _unfolding_error_bound(X, ranks):
    total = float(np.sum(X.astype(np.float64) ** 2))
    bound = np.zeros(len(ranks))
    for mode in range(X.ndim):
        shape = X.shape
        P, I = int(np.prod(shape[:mode])), shape[mode]
        X3 = X.reshape(P, I, -1).astype(np.float64, copy=False)
        gram = np.tensordot(X3, X3, axes=([0, 2], [0, 2]))
        energy = np.sort(np.clip(np.linalg.eigvalsh(gram), 0, None))[::-1]
        kept = np.concatenate([[0.0], np.cumsum(energy)])
        tail = total - kept[np.minimum(ranks, I)]
        bound = np.maximum(bound, np.sqrt(np.clip(tail, 0, None) / total))
    return bound


def _fit_tensor(model, X, mask=None):
    if mask is None:
        model.fit(X)
        error = getattr(model, "reconstruction_error_", None)
        if error is None:
            error = float(np.linalg.norm(X - model.reconstruct()) / np.linalg.norm(X))
        return model, float(error)
    model.fit(X, mask=mask)
    return model, model.reconstruct()


def _factors(model):
    return [np.asarray(F) for F in model.factors_]


def tensor_error_curve(estimator, X, ranks, n_seeds=3, random_state=None, n_jobs=1,
                       verbose=0):
    """Fit a CP estimator at each rank with several seeds; relative error of each fit.

    Parameters
    ----------
    estimator : CP estimator
        With ``n_components``, ``fit`` and ``reconstruct`` (for instance
        :class:`nimf.tensor.CPDecomposition`, best with ``init='random'`` so
        that seeds differ); cloned with ``n_components=rank`` and a fresh
        ``random_state`` per fit.
    X : array-like of shape (I_0, ..., I_{N-1})
    ranks : sequence of int
    n_seeds : int, default=3
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, default=1
    verbose : int, default=0

    Returns
    -------
    result : TensorErrorCurveResult
        ``svd_bound`` is the unfolding bound (:func:`unfolding_error_bound`).
    """
    check_estimator_has_rank(estimator)
    X = _check_tensor(X)
    ranks = check_ranks(ranks)
    n_seeds = check_int(n_seeds, "n_seeds", min_val=1)
    seeds = draw_seeds(random_state, (len(ranks), n_seeds))
    tasks = [(make_model(estimator, r, seeds[i, s]), X)
             for i, r in enumerate(ranks) for s in range(n_seeds)]
    fits = run(_fit_tensor, tasks, n_jobs=n_jobs, verbose=verbose, desc="error curve")
    models = [[fits[i * n_seeds + s][0] for s in range(n_seeds)] for i in range(len(ranks))]
    errors = np.array([[fits[i * n_seeds + s][1] for s in range(n_seeds)]
                       for i in range(len(ranks))])
    components = [[_factors(m) for m in row] for row in models]
    return TensorErrorCurveResult(ranks=ranks, errors=errors,
                                  svd_bound=unfolding_error_bound(X, ranks),
                                  components=components, models=models, centered=False)


# ------------------------------------------------------------ stability
def tensor_stability(estimator, X, ranks, n_seeds=5, random_state=None, n_jobs=1,
                     verbose=0):
    """How reproducible CP components are across seeds, at each rank.

    At each rank the fit with the lowest error is the reference; every fit is
    matched to it across all modes at once (:func:`match_factors`) and scored
    by its mean matched similarity (the product over modes of absolute
    cosines).  The instability is the distance of Wu et al. (2016) computed
    on that similarity, averaged over pairs of seeds.

    Parameters
    ----------
    estimator : CP estimator
        Best with ``init='random'``: an SVD start is the same for every seed.
    X : array-like of shape (I_0, ..., I_{N-1})
    ranks : sequence of int
    n_seeds : int, default=5
        At least 2.
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, default=1
    verbose : int, default=0

    Returns
    -------
    result : StabilityResult
        ``components[i][s]`` are the factors of fit ``s`` aligned with the
        best fit of ``ranks[i]``; ``best_components`` are chained across ranks
        so colours stay put; ``metric`` is "factor match".
    """
    check_estimator_has_rank(estimator)
    X = _check_tensor(X)
    ranks = check_ranks(ranks)
    n_seeds = check_int(n_seeds, "n_seeds", min_val=2)
    seeds = draw_seeds(random_state, (len(ranks), n_seeds))
    tasks = [(make_model(estimator, r, seeds[i, s]), X)
             for i, r in enumerate(ranks) for s in range(n_seeds)]
    fits = run(_fit_tensor, tasks, n_jobs=n_jobs, verbose=verbose, desc="stability")
    errors = np.array([f[1] for f in fits]).reshape(len(ranks), n_seeds)
    raw = [[_factors(fits[i * n_seeds + s][0]) for s in range(n_seeds)]
           for i in range(len(ranks))]
    best_seeds = errors.argmin(axis=1)
    best_components, similarity, instability, instability_std, aligned = align_fits(
        raw, best_seeds, match_factors,
        lambda a, b: _instability(factor_similarity(a, b)))
    return StabilityResult(ranks=ranks, errors=errors, best_seeds=best_seeds,
                           similarity=similarity, instability=instability,
                           instability_std=instability_std, components=aligned,
                           best_components=best_components, metric="factor match",
                           allow_sign_flip=True)


# ------------------------------------------------------------ cross-validation
def speckled_tensor_mask(shape, holdout, min_observed, random_state=None):
    """Random hidden entries of a tensor; every slice keeps ``min_observed`` observed ones.

    Each entry is hidden with probability ``holdout``; then, in any slice
    (fixed index of one mode) left with fewer than ``min_observed`` observed
    entries, randomly chosen hidden entries are revealed again.

    Parameters
    ----------
    shape : tuple of int
    holdout : float in (0, 1)
    min_observed : int
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    hidden : ndarray of bool of shape ``shape``
    """
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(shape))
    for mode, n in enumerate(shape):
        if min_observed > size // n:
            raise ValueError(f"every slice must keep {min_observed} observed entries (the "
                             f"largest rank), but the slices of mode {mode} of a tensor of "
                             f"shape {shape} hold {size // n} entries")
    rng = check_random_state(random_state)
    hidden = rng.random_sample(shape) < holdout
    for mode in range(len(shape)):
        slices = np.moveaxis(hidden, mode, 0)  # a view: fixes the slices in place
        for index in range(shape[mode]):
            flat = slices[index].reshape(-1)
            missing = min_observed - (flat.size - int(flat.sum()))
            if missing > 0:
                candidates = np.flatnonzero(flat)
                chosen = rng.choice(candidates, missing, replace=False)
                view = slices[index]
                view[np.unravel_index(chosen, view.shape)] = False
    return hidden


def _cv_fit(model, X, hidden):
    _, X_hat = _fit_tensor(model, X, mask=~hidden)
    observed = ~hidden

    def error(where):
        return float(np.linalg.norm((X - X_hat)[where]) / np.linalg.norm(X[where]))

    return error(observed), error(hidden)


def tensor_speckled_cv(estimator, X, ranks, holdout=0.1, n_repeats=3, random_state=None,
                       n_jobs=1, verbose=0):
    """Cross-validate the rank of a CP model on randomly held-out entries.

    In each repeat a random fraction ``holdout`` of the entries is hidden
    (every slice keeps at least ``max(ranks)`` observed entries); the model is
    fitted on the rest with the mask (hidden entries have no influence on a
    masked fit) and scored on the hidden entries.  Training error falls with
    rank; test error is smallest near the true rank.

    Parameters
    ----------
    estimator : CP estimator whose ``fit`` takes ``mask``
    X : array-like of shape (I_0, ..., I_{N-1})
    ranks : sequence of positive int
    holdout : float in (0, 0.5], default=0.1
    n_repeats : int, default=3
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, default=1
    verbose : int, default=0

    Returns
    -------
    result : CVResult
    """
    check_estimator_has_rank(estimator)
    X = _check_tensor(X)
    ranks = check_ranks(ranks)
    holdout = check_float(holdout, "holdout", low=0.0, high=0.5, low_open=True)
    n_repeats = check_int(n_repeats, "n_repeats", min_val=1)
    rng = check_random_state(random_state)
    masks = [speckled_tensor_mask(X.shape, holdout, int(ranks.max()), rng)
             for _ in range(n_repeats)]
    seeds = draw_seeds(rng, (len(ranks), n_repeats))
    tasks = [(make_model(estimator, r, seeds[i, j]), X, masks[j])
             for i, r in enumerate(ranks) for j in range(n_repeats)]
    return run_cv(_cv_fit, tasks, ranks, masks, n_jobs, verbose)
