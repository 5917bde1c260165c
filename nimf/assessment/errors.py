"""Reconstruction error against rank, over seeds, with the truncated-SVD lower bound."""

import numbers
import os
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy.linalg import svd
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.extmath import randomized_svd

from .._validation import check_int

__all__ = ["ErrorCurveResult", "error_curve", "svd_error_bound"]

# above this many entries the exact SVD is replaced by a randomized one
_EXACT_SVD_MAX_SIZE = 2_000_000


# ---- plumbing shared by the assessment tools (input checks, seeded fits, parallel loops)
def check_estimator_has_rank(estimator):
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    if "n_components" not in params:
        raise ValueError("estimator must be a scikit-learn style estimator with an "
                         f"n_components parameter, got {type(estimator).__name__}")


def check_ranks(ranks, max_rank=None):
    """Ranks as an int array, in the given order; each must be a positive int."""
    if isinstance(ranks, numbers.Integral) and not isinstance(ranks, bool):
        ranks = [ranks]
    try:
        values = list(ranks)
    except TypeError:
        raise ValueError(f"ranks must be a sequence of positive ints, got {ranks!r}") from None
    if len(values) == 0:
        raise ValueError("ranks must be a non-empty sequence of positive ints, got an "
                         "empty sequence")
    out = [check_int(r, "each rank", min_val=1) for r in values]
    if max_rank is not None and max(out) > max_rank:
        raise ValueError(f"ranks must be <= {max_rank} (the smaller dimension of X), "
                         f"got {max(out)}")
    return np.asarray(out, dtype=int)


def check_data(X):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"expected X as a 2D array, got an array of shape {X.shape}")
    if X.size == 0:
        raise ValueError(f"expected a non-empty 2D array X, got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"expected X of numbers, got dtype {X.dtype}")
    X = X.astype(np.float64 if X.dtype.kind in "iub" else X.dtype, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError("expected X with finite values, got NaN or infinite values")
    if not np.any(X):
        raise ValueError("expected X with at least one non-zero value, got all zeros")
    return X


def _is_image_estimator(estimator):
    if not type(estimator).__module__.startswith("nimf.neuro"):
        return False
    from ..neuro._base import BaseImageDecomposition

    return isinstance(estimator, BaseImageDecomposition)


def _is_images(X):
    """Images (paths, nibabel or surface images) or a masked study: not an array."""
    if hasattr(X, "read_subject") and hasattr(X, "__nimf_source__"):  # a MaskedStudy
        return True
    if isinstance(X, (str, os.PathLike)):
        return True
    if type(X).__module__.split(".")[0] in ("nibabel", "nilearn"):
        return True
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(_is_images(x) for x in X)


def check_input(estimator, X):
    """``(X, images)``: the data the fits are given, checked.

    An array for array estimators; images or a masked study (passed as they are:
    each fit masks them, or streams the study) for nimf's image estimators.
    """
    image_estimator = _is_image_estimator(estimator)
    if _is_images(X):
        if not image_estimator:
            raise ValueError(f"X holds images or a masked study, which only nimf.neuro's "
                             f"image estimators fit; got {type(estimator).__name__}: give "
                             f"it a 2D array")
        return X, True
    if image_estimator:
        raise ValueError(f"{type(estimator).__name__} fits 4D or surface images: X must be "
                         f"a list of images (or paths) or a MaskedStudy, got "
                         f"{type(X).__name__}")
    return check_data(X), False


def draw_seeds(random_state, shape):
    """Independent integer seeds, one per fit, from one RandomState."""
    rng = check_random_state(random_state)
    return rng.randint(np.iinfo(np.int32).max, size=shape)


def make_model(estimator, rank, seed):
    model = clone(estimator)
    params = {"n_components": int(rank)}
    if "random_state" in model.get_params():
        params["random_state"] = int(seed)
    return model.set_params(**params)


def reconstruct(model, X):
    """The model's own reconstruction of X (adds ``mean_`` back where it has one)."""
    return np.asarray(model.inverse_transform(model.transform(X)))


def relative_error(X, X_hat, mask=None):
    if mask is not None:
        X, X_hat = X[mask], X_hat[mask]
    norm = np.linalg.norm(X)
    return float(np.linalg.norm(X - X_hat) / norm) if norm > 0 else float("nan")


def run(function, tasks, n_jobs=1, verbose=0, desc=None):
    """``[function(*task) for task in tasks]``, in parallel with joblib, with a tqdm bar.

    The backend is joblib's current one: ``joblib.parallel_config(backend="dask")``
    runs the fits on a dask cluster.  Each task holds everything it needs (the
    estimator, cloned with its rank and seed, and the data) and the results come
    back in the order of the tasks, so they never depend on where or when a
    task ran.  Each fit runs with one BLAS thread, in this process as on a
    worker (dask's workers start with one, a process of its own with all
    cores): threaded BLAS rounds differently with another number of threads.
    """
    tasks = list(tasks)
    if n_jobs == 1:
        results = (_one_blas_thread(function, *task) for task in tasks)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_one_blas_thread)(function, *task) for task in tasks)
    if verbose:
        from tqdm.auto import tqdm
        results = tqdm(results, total=len(tasks), desc=desc)
    return list(results)


def _one_blas_thread(function, *args):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return function(*args)


@dataclass
class ErrorCurveResult:
    """Outcome of :func:`error_curve`.

    Attributes
    ----------
    ranks : ndarray of shape (n_ranks,)
    errors : ndarray of shape (n_ranks, n_seeds)
        Relative reconstruction error ``||X - X_hat||_F / ||X||_F`` of each fit.
    svd_bound : ndarray of shape (n_ranks,)
        Smallest relative error any rank-``r`` model (with the same centring)
        can reach: the truncated-SVD error.
    components : list of list of ndarray
        ``components[i][s]`` is ``components_`` of the fit at ``ranks[i]``, seed ``s``.
    models : list of list of estimators
        The fitted estimators, same layout as ``components``.
    centered : bool
        Whether the bound was computed on column-centred X (the model has ``mean_``).
    """

    ranks: np.ndarray
    errors: np.ndarray
    svd_bound: np.ndarray
    components: list
    models: list
    centered: bool

    @property
    def best_errors(self):
        """Lowest error per rank, ndarray of shape (n_ranks,)."""
        return self.errors.min(axis=1)

    @property
    def best_seeds(self):
        """Index of the seed with the lowest error per rank."""
        return self.errors.argmin(axis=1)


def svd_error_bound(X, ranks, center=False, random_state=None):
    """Relative error of the best rank-``r`` approximation of X, for each rank.

    ``sqrt(sum_{i>r} s_i^2) / ||X||_F`` with ``s`` the singular values of X
    (column-centred first when ``center``; the norm is always that of X itself,
    as the model's error is). A randomized SVD is used when X is large.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    ranks : sequence of int
    center : bool, default=False
    random_state : int, RandomState instance or None, default=None
        Used by the randomized SVD only.

    Returns
    -------
    bound : ndarray of shape (n_ranks,)
    """
    X = check_data(X)
    ranks = check_ranks(ranks)
    total = np.linalg.norm(X) ** 2
    Xc = X - X.mean(axis=0) if center else X
    energy = np.linalg.norm(Xc) ** 2
    max_rank = int(min(ranks.max(), min(X.shape)))
    if X.size <= _EXACT_SVD_MAX_SIZE or max_rank >= min(X.shape) // 2:
        s = svd(Xc, compute_uv=False, check_finite=False)
    else:
        _, s, _ = randomized_svd(Xc, max_rank, n_oversamples=10, n_iter=7,
                                 random_state=random_state)
    kept = np.concatenate([[0.0], np.cumsum(s.astype(np.float64) ** 2)])
    tail = energy - kept[np.minimum(ranks, len(s))]
    return np.sqrt(np.clip(tail, 0.0, None) / total)


def _fit_and_score(model, X, images=False):
    model.fit(X)
    if images:
        # the explained variance of the masked data: 1 - ||X - fit||^2 / ||X||^2
        return model, float(np.sqrt(max(0.0, 1.0 - float(model.score(X)))))
    return model, relative_error(X, reconstruct(model, X))


def _fit_components(model, X, images=False):
    """A fit's components and error: what an ensemble keeps (not the whole model)."""
    model, error = _fit_and_score(model, X, images)
    return np.asarray(model.components_), error


def error_curve(estimator, X, ranks, n_seeds=3, random_state=None, n_jobs=1, verbose=0):
    """Fit ``estimator`` at each rank with several seeds; relative error of each fit.

    The estimator is cloned with ``n_components=rank`` and a fresh
    ``random_state`` per fit. The error uses the model's own reconstruction,
    ``inverse_transform(transform(X))``.

    Parameters
    ----------
    estimator : estimator with ``n_components``, ``transform`` and ``inverse_transform``
        For instance :class:`nimf.decomposition.NMF` or :class:`sklearn.decomposition.PCA`.
    X : array-like of shape (n_samples, n_features), images, or an N-way array
        The data; for nimf's image estimators (:mod:`nimf.neuro`), a list of
        4D or surface images (or paths) or a :class:`~nimf.neuro.MaskedStudy`,
        whose errors are ``sqrt(1 - score)`` and whose ``svd_bound`` is NaN.
        An N-way array (N >= 3) is assessed as a CP model by :mod:`nimf.assessment.tensor`.
    ranks : sequence of int
        Numbers of components to try.
    n_seeds : int, default=3
        Fits per rank, each from a different seed.
    random_state : int, RandomState instance or None, default=None
        Draws the seeds of all the fits.
    n_jobs : int, default=1
        Fits run in parallel with joblib (on a dask cluster under
        ``joblib.parallel_config(backend="dask")``, ``n_jobs=-1``); the results
        equal the serial ones.
    verbose : int, default=0
        Show a progress bar when > 0.

    Returns
    -------
    result : ErrorCurveResult

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> X = np.random.RandomState(0).randn(30, 10)
    >>> result = error_curve(PCA(), X, ranks=[1, 2, 3], n_seeds=2, random_state=0)
    >>> result.errors.shape
    (3, 2)
    """
    from .tensor import is_tensor_problem, tensor_error_curve  # N-way arrays: CP models
    if is_tensor_problem(estimator, X):
        return tensor_error_curve(estimator, X, ranks, n_seeds, random_state, n_jobs, verbose)
    check_estimator_has_rank(estimator)
    X, images = check_input(estimator, X)
    ranks = check_ranks(ranks, max_rank=None if images else min(X.shape))
    n_seeds = check_int(n_seeds, "n_seeds", min_val=1)
    seeds = draw_seeds(random_state, (len(ranks), n_seeds))
    tasks = [(make_model(estimator, r, seeds[i, s]), X, images)
             for i, r in enumerate(ranks) for s in range(n_seeds)]
    fits = run(_fit_and_score, tasks, n_jobs=n_jobs, verbose=verbose, desc="error curve")
    models = [[fits[i * n_seeds + s][0] for s in range(n_seeds)] for i in range(len(ranks))]
    errors = np.array([[fits[i * n_seeds + s][1] for s in range(n_seeds)]
                       for i in range(len(ranks))])
    centered = getattr(models[0][0], "mean_", None) is not None
    if images:
        bound = np.full(len(ranks), np.nan)
    else:
        bound = svd_error_bound(X, ranks, center=centered, random_state=int(seeds.flat[0]))
    components = [[np.asarray(m.components_) for m in row] for row in models]
    return ErrorCurveResult(ranks=ranks, errors=errors, svd_bound=bound,
                            components=components, models=models, centered=centered)
