"""Choosing the rank by cross-validation on held-out entries ("speckled" hold-out)."""

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from .._validation import Int, Real, Shape, check_float, check_int, validate_params
from .errors import (_is_image_estimator, check_data, check_estimator_has_rank, check_ranks,
                     draw_seeds, make_model, reconstruct, relative_error, run)

__all__ = ["CVResult", "speckled_mask", "fit_with_missing", "speckled_cv"]


@dataclass
class CVResult:
    """Outcome of :func:`speckled_cv`.

    Attributes
    ----------
    ranks : ndarray of shape (n_ranks,)
    train_error : ndarray of shape (n_ranks, n_repeats)
        Relative error on the observed entries.
    test_error : ndarray of shape (n_ranks, n_repeats)
        Relative error on the hidden entries.
    best_rank : int
        Rank with the smallest mean test error.
    masks : list of ndarray of bool
        Per repeat, the hidden entries (True = hidden), shape of X; the same
        mask is used for every rank so ranks are compared on the same entries.
    """

    ranks: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    best_rank: int
    masks: list


@validate_params(shape=Shape(2), holdout=Real(0.0, 1.0, closed="left"),
                 min_observed=Int(0))
def speckled_mask(shape, holdout, min_observed, random_state=None):
    """Random hidden entries, leaving every row and column ``min_observed`` observed ones.

    Each entry is hidden with probability ``holdout``; then, in any row or
    column left with fewer than ``min_observed`` observed entries, randomly
    chosen hidden entries are revealed again.

    Returns
    -------
    hidden : ndarray of bool of shape ``shape``
    """
    n_rows, n_cols = shape
    if min_observed > min(n_rows, n_cols):
        raise ValueError(f"every row and column must keep {min_observed} observed entries "
                         f"(the largest rank), but X has shape {tuple(shape)}")
    rng = check_random_state(random_state)
    hidden = rng.random_sample(shape) < holdout
    for matrix in (hidden, hidden.T):  # the transpose is a view: fixes columns in place
        missing = min_observed - (matrix.shape[1] - matrix.sum(axis=1))
        for row in np.flatnonzero(missing > 0):
            candidates = np.flatnonzero(matrix[row])
            matrix[row, rng.choice(candidates, missing[row], replace=False)] = False
    return hidden


def fit_with_missing(estimator, X, hidden, n_iter=10):
    """Fit ``estimator`` ignoring the entries of X where ``hidden`` is True.

    Imputation: hidden entries start at their column's observed mean, then
    ``n_iter`` times the model is fitted and the hidden entries are replaced by
    its reconstruction. The values of X at hidden entries are never read.

    Returns
    -------
    model : the fitted estimator
    X_hat : ndarray of shape X.shape
        The model's reconstruction of the final imputed data.
    """
    n_iter = check_int(n_iter, "n_iter", min_val=1)
    observed = ~hidden
    counts = observed.sum(axis=0)
    col_means = np.divide(np.where(observed, X, 0).sum(axis=0), counts,
                          out=np.zeros(X.shape[1]), where=counts > 0)
    filled = np.where(hidden, col_means[None, :], X).astype(X.dtype)
    for _ in range(n_iter):
        model = estimator.fit(filled)
        X_hat = reconstruct(model, filled)
        filled = np.where(hidden, X_hat, X)
    return model, X_hat


def _cv_fit(model, X, hidden, n_iter):
    _, X_hat = fit_with_missing(model, X, hidden, n_iter)
    return relative_error(X, X_hat, ~hidden), relative_error(X, X_hat, hidden)


def run_cv(fit, tasks, ranks, masks, n_jobs, verbose):
    """Run the masked fits ``fit(*task)`` (rank-major, one per mask) and gather the
    train and test errors, each ``(n_ranks, n_repeats)``, into a :class:`CVResult`."""
    n_repeats = len(masks)
    scores = np.array(run(fit, tasks, n_jobs=n_jobs, verbose=verbose,
                          desc="cross-validation"))
    train = scores[:, 0].reshape(len(ranks), n_repeats)
    test = scores[:, 1].reshape(len(ranks), n_repeats)
    best_rank = int(ranks[np.argmin(test.mean(axis=1))])
    return CVResult(ranks=ranks, train_error=train, test_error=test, best_rank=best_rank,
                    masks=masks)


def speckled_cv(estimator, X, ranks, holdout=0.1, n_repeats=3, random_state=None,
                n_iter=10, n_jobs=1, verbose=0):
    """Cross-validate the rank on randomly held-out entries (Wold 1978; Williams 2018).

    In each repeat a random fraction ``holdout`` of the entries is hidden
    (every row and column keeps at least ``max(ranks)`` observed entries); the
    model is fitted on the rest by imputation (see :func:`fit_with_missing`)
    and scored on the hidden entries. Training error falls with rank; test
    error is smallest near the true rank.

    Parameters
    ----------
    estimator : estimator with ``n_components``
    X : array-like of shape (n_samples, n_features)
        An N-way array (N >= 3) is assessed as a CP model by :mod:`nimf.assessment.tensor`.
    ranks : sequence of positive int
    holdout : float in (0, 0.5], default=0.1
        Fraction of entries hidden.
    n_repeats : int, default=3
        Number of random masks.
    random_state : int, RandomState instance or None, default=None
        Draws the masks and the seeds of the fits.
    n_iter : int, default=10
        Fit / impute rounds.
    n_jobs : int, default=1
        Fits run in parallel with joblib (on a dask cluster under
        ``joblib.parallel_config(backend="dask")``, ``n_jobs=-1``); the results
        equal the serial ones.
    verbose : int, default=0

    Returns
    -------
    result : CVResult

    References
    ----------
    Wold, S. (1978). Cross-validatory estimation of the number of components in
    factor and principal components models. Technometrics 20(4).
    Williams, A. (2018). How to cross-validate PCA, clustering, and matrix
    decomposition models. Blog post, itsneuronalblog.com.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(40, 2) @ rng.randn(2, 30) + 0.01 * rng.randn(40, 30)
    >>> speckled_cv(PCA(), X, ranks=[1, 2, 3, 4], random_state=0).best_rank
    2
    """
    from .tensor import is_tensor_problem, tensor_speckled_cv  # N-way arrays: masked CP fits
    if is_tensor_problem(estimator, X):
        return tensor_speckled_cv(estimator, X, ranks, holdout, n_repeats, random_state, n_jobs,
                                  verbose)
    check_estimator_has_rank(estimator)
    if _is_image_estimator(estimator):
        raise ValueError(
            f"speckled_cv hides entries of a matrix, which {type(estimator).__name__} (an "
            f"image estimator) cannot be given; cross-validate the array learner on the "
            f"masked data instead (MaskedStudy.read_rows, or nimf.decomposition's "
            f"estimators)")
    X = check_data(X)
    ranks = check_ranks(ranks, max_rank=min(X.shape))
    holdout = check_float(holdout, "holdout", low=0.0, high=0.5, low_open=True)
    n_repeats = check_int(n_repeats, "n_repeats", min_val=1)
    n_iter = check_int(n_iter, "n_iter", min_val=1)
    rng = check_random_state(random_state)
    masks = [speckled_mask(X.shape, holdout, int(ranks.max()), rng) for _ in range(n_repeats)]
    seeds = draw_seeds(rng, (len(ranks), n_repeats))
    tasks = [(make_model(estimator, r, seeds[i, j]), X, masks[j], n_iter)
             for i, r in enumerate(ranks) for j in range(n_repeats)]
    return run_cv(_cv_fit, tasks, ranks, masks, n_jobs, verbose)
