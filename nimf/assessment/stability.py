"""Stability of the components across seeds: matched similarity and instability (Wu et al.)."""

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .._validation import check_int, check_option
from .errors import (_fit_components, check_estimator_has_rank, check_input, check_ranks,
                     draw_seeds, make_model, run)
from .matching import amari_distance, match_components

__all__ = ["StabilityResult", "stability"]


@dataclass
class StabilityResult:
    """Outcome of :func:`stability`.

    Attributes
    ----------
    ranks : ndarray of shape (n_ranks,)
    errors : ndarray of shape (n_ranks, n_seeds)
        Relative reconstruction error of each fit.
    best_seeds : ndarray of shape (n_ranks,)
        Index of the lowest-error fit at each rank.
    similarity : ndarray of shape (n_ranks, n_seeds)
        Mean matched similarity of each fit to the best fit of its rank (1 for
        the best fit itself).
    instability : ndarray of shape (n_ranks,)
        Mean over pairs of seeds of the Amari-type distance; low means stable.
    instability_std : ndarray of shape (n_ranks,)
        Standard deviation of that distance over pairs of seeds.
    components : list of list of ndarray
        ``components[i][s]``: fit ``s`` at ``ranks[i]``, reordered and
        sign-flipped to match the best fit of that rank.
    best_components : list of ndarray
        Best fit per rank, chained: the components of rank ``ranks[i+1]`` are
        ordered to match those of ``ranks[i]`` as far as possible.
    metric : str
        The similarity used to match and score the fits ("cosine" or
        "correlation").
    allow_sign_flip : bool
        Whether matching could flip signs (after resolving "auto").
    """

    ranks: np.ndarray
    errors: np.ndarray
    best_seeds: np.ndarray
    similarity: np.ndarray
    instability: np.ndarray
    instability_std: np.ndarray
    components: list
    best_components: list
    metric: str = "cosine"
    allow_sign_flip: bool = True


def _nonnegative(components):
    return all(np.all(np.asarray(c) >= 0) for c in components)


def align_fits(raw, best_seeds, match, distance):
    """Align an ensemble's fits and measure its instability, rank by rank.

    ``raw[i][s]`` is the model of fit ``s`` at rank ``i``; ``match(ref, other)``
    returns a match (``score``, ``apply``) aligning ``other`` with ``ref``, and
    ``distance(a, b)`` the instability of a pair of fits.  The best fit of each
    rank is aligned with that of the previous rank (colours stay put across
    ranks), every fit with its rank's best.  Returns ``best_components``,
    ``similarity`` (ranks x seeds), ``instability`` and ``instability_std``
    (mean and spread over pairs of seeds) and the aligned fits.
    """
    n_ranks, n_seeds = len(raw), len(raw[0])
    best_components = []
    for i in range(n_ranks):
        best = raw[i][best_seeds[i]]
        if best_components:
            best = match(best_components[-1], best).apply(best)
        best_components.append(best)
    similarity = np.empty((n_ranks, n_seeds))
    instability = np.empty(n_ranks)
    instability_std = np.empty(n_ranks)
    aligned = []
    for i in range(n_ranks):
        row = []
        for s in range(n_seeds):
            found = match(best_components[i], raw[i][s])
            similarity[i, s] = found.score
            row.append(found.apply(raw[i][s]))
        aligned.append(row)
        distances = [distance(raw[i][a], raw[i][b]) for a, b in combinations(range(n_seeds), 2)]
        instability[i] = np.mean(distances)
        instability_std[i] = np.std(distances)
    return best_components, similarity, instability, instability_std, aligned


def stability(estimator, X, ranks, n_seeds=5, random_state=None, n_jobs=1,
              allow_sign_flip="auto", metric="cosine", verbose=0):
    """How reproducible the components are across seeds, at each rank.

    At each rank, ``n_seeds`` fits are made from different seeds; the one with
    the lowest reconstruction error is the reference, and every fit is matched
    to it (Hungarian algorithm). The instability ``gamma(k)`` of Wu et al.
    (2016) is the mean, over pairs of seeds, of
    ``1/(2k) [sum_j (1 - max_i |C_ij|) + sum_i (1 - max_j |C_ij|)]`` with ``C``
    the correlation between the components of the two fits.

    Parameters
    ----------
    estimator : estimator with ``n_components``
    X : array-like of shape (n_samples, n_features), images, or an N-way array
        The data; for nimf's image estimators (:mod:`nimf.neuro`), a list of
        4D or surface images (or paths) or a :class:`~nimf.neuro.MaskedStudy`
        (errors ``sqrt(1 - score)``).  An N-way array (N >= 3) is assessed as a
        CP model by :mod:`nimf.assessment.tensor`.
    ranks : sequence of int
    n_seeds : int, default=5
        Fits per rank; at least 2.
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, default=1
        Fits run in parallel with joblib (on a dask cluster under
        ``joblib.parallel_config(backend="dask")``, ``n_jobs=-1``); the results
        equal the serial ones.
    allow_sign_flip : bool or "auto", default="auto"
        "auto" allows flips unless every fitted component is non-negative (NMF).
    metric : {"cosine", "correlation"}, default="cosine"
        Similarity used for matching and for ``similarity``.
    verbose : int, default=0

    Returns
    -------
    result : StabilityResult

    References
    ----------
    Wu, S. et al. (2016). Stability-driven nonnegative matrix factorization to
    interpret spatial gene expression and build local gene networks. PNAS 113(16).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> X = np.random.RandomState(0).randn(30, 10)
    >>> result = stability(PCA(), X, ranks=[1, 2], n_seeds=2, random_state=0)
    >>> result.similarity.shape
    (2, 2)
    """
    from .tensor import is_tensor_problem, tensor_stability  # N-way arrays: CP models
    if is_tensor_problem(estimator, X):
        return tensor_stability(estimator, X, ranks, n_seeds, random_state, n_jobs, verbose)
    check_estimator_has_rank(estimator)
    X, images = check_input(estimator, X)
    ranks = check_ranks(ranks, max_rank=None if images else min(X.shape))
    n_seeds = check_int(n_seeds, "n_seeds", min_val=2)
    check_option(metric, "metric", ("cosine", "correlation"))
    if allow_sign_flip != "auto" and not isinstance(allow_sign_flip, (bool, np.bool_)):
        raise ValueError("allow_sign_flip must be True, False or 'auto', got "
                         f"{allow_sign_flip!r}")
    seeds = draw_seeds(random_state, (len(ranks), n_seeds))
    # each fit sends back its components and error only (not the fitted model)
    tasks = [(make_model(estimator, r, seeds[i, s]), X, images)
             for i, r in enumerate(ranks) for s in range(n_seeds)]
    fits = run(_fit_components, tasks, n_jobs=n_jobs, verbose=verbose, desc="stability")
    errors = np.array([f[1] for f in fits]).reshape(len(ranks), n_seeds)
    raw = [[np.asarray(fits[i * n_seeds + s][0], dtype=float)
            for s in range(n_seeds)] for i in range(len(ranks))]
    if allow_sign_flip == "auto":
        allow_sign_flip = not _nonnegative(c for row in raw for c in row)
    allow_sign_flip = bool(allow_sign_flip)

    best_seeds = errors.argmin(axis=1)
    best_components, similarity, instability, instability_std, aligned = align_fits(
        raw, best_seeds,
        lambda ref, other: match_components(ref, other, allow_sign_flip, metric),
        amari_distance)
    return StabilityResult(ranks=ranks, errors=errors, best_seeds=best_seeds,
                           similarity=similarity, instability=instability,
                           instability_std=instability_std, components=aligned,
                           best_components=best_components, metric=metric,
                           allow_sign_flip=allow_sign_flip)
