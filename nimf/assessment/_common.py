"""Shared plumbing of the assessment tools: input checks, seeded fits, parallel loops."""

import numbers

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils import check_random_state

from .._validation import check_int


def check_estimator_has_rank(estimator):
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    if "n_components" not in params:
        raise ValueError("estimator must be a scikit-learn style estimator with an "
                         f"n_components parameter, got {type(estimator).__name__}")


def check_ranks(ranks, max_rank=None):
    """Ranks as a sorted-as-given int array; each a positive int."""
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
    """``[function(*task) for task in tasks]``, in parallel with joblib, with a tqdm bar."""
    tasks = list(tasks)
    if n_jobs == 1:
        results = (function(*task) for task in tasks)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(function)(*task) for task in tasks)
    if verbose:
        from tqdm.auto import tqdm
        results = tqdm(results, total=len(tasks), desc=desc)
    return list(results)
