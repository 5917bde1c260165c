"""One-to-one matching of the components of two factorizations (Hungarian algorithm)."""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .._validation import check_bool, check_option

__all__ = ["MatchResult", "component_similarity", "match_components", "amari_distance"]


@dataclass
class MatchResult:
    """Outcome of :func:`match_components`.

    Attributes
    ----------
    permutation : ndarray of shape (n_matched,)
        Row of ``B`` matched with each of the first ``n_matched`` rows of ``A``
        (in the order of ``A``'s rows ``rows``).
    rows : ndarray of shape (n_matched,)
        Rows of ``A`` that were matched (all of them when ``k_A <= k_B``).
    signs : ndarray of shape (n_matched,)
        +1 or -1: ``signs[i] * B[permutation[i]]`` best matches ``A[rows[i]]``.
    similarities : ndarray of shape (n_matched,)
        Similarity of each matched pair, after the sign flip.
    score : float
        Mean matched similarity, in [-1, 1] (in [0, 1] with sign flips).
    """

    permutation: np.ndarray
    rows: np.ndarray
    signs: np.ndarray
    similarities: np.ndarray
    score: float

    def apply(self, B):
        """Rows of ``B`` reordered and sign-flipped to match ``A``.

        Rows of ``B`` left unmatched (when ``k_B > k_A``) are appended in their
        original order and sign.
        """
        B = np.asarray(B)
        rest = np.setdiff1d(np.arange(B.shape[0]), self.permutation)
        matched = B[self.permutation] * self.signs[:, None]
        return np.concatenate([matched, B[rest]], axis=0)


def _as_components(A, name):
    A = np.asarray(A, dtype=float)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or A.size == 0:
        raise ValueError(f"{name} must be a non-empty 2D array of shape "
                         f"(n_components, n_features), got an array of shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must be finite, got NaN or infinite values")
    return A


def _unit_rows(A):
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    # an all-zero component is similar to nothing rather than a division by zero
    return np.divide(A, norms, out=np.zeros_like(A), where=norms > 0)


def component_similarity(A, B, metric="cosine"):
    """Similarity between every row of ``A`` and every row of ``B``.

    Parameters
    ----------
    A : array-like of shape (k_A, n_features)
    B : array-like of shape (k_B, n_features)
    metric : {"cosine", "correlation"}, default="cosine"
        Correlation is the cosine of the rows after removing their means.

    Returns
    -------
    similarity : ndarray of shape (k_A, k_B)
    """
    check_option(metric, "metric", ("cosine", "correlation"))
    A = _as_components(A, "A")
    B = _as_components(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B must have the same number of features, got "
                         f"{A.shape[1]} and {B.shape[1]}")
    if metric == "correlation":
        A = A - A.mean(axis=1, keepdims=True)
        B = B - B.mean(axis=1, keepdims=True)
    return np.clip(_unit_rows(A) @ _unit_rows(B).T, -1.0, 1.0)


def match_components(A, B, allow_sign_flip=True, metric="cosine"):
    """Match the components of ``B`` one to one with those of ``A``.

    Maximises the summed (absolute, when signs may flip) similarity of the
    matched pairs with the Hungarian algorithm. When the numbers of components
    differ, ``min(k_A, k_B)`` pairs are matched.

    Parameters
    ----------
    A : array-like of shape (k_A, n_features)
        Reference components (rows).
    B : array-like of shape (k_B, n_features)
        Components to match to ``A``.
    allow_sign_flip : bool, default=True
        Whether a component may be matched with the negative of another (as in
        PCA or dictionary learning; not for NMF).
    metric : {"cosine", "correlation"}, default="cosine"

    Returns
    -------
    result : MatchResult
        ``result.apply(B)`` gives ``B`` reordered and sign-flipped like ``A``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.eye(3)
    >>> result = match_components(A, -A[[2, 0, 1]])
    >>> result.permutation, result.signs, result.score
    (array([1, 2, 0]), array([-1., -1., -1.]), 1.0)
    """
    allow_sign_flip = check_bool(allow_sign_flip, "allow_sign_flip")
    similarity = component_similarity(A, B, metric=metric)
    gain = np.abs(similarity) if allow_sign_flip else similarity
    rows, cols = linear_sum_assignment(gain, maximize=True)
    signs = np.ones(len(rows))
    if allow_sign_flip:
        signs = np.where(similarity[rows, cols] < 0, -1.0, 1.0)
    similarities = similarity[rows, cols] * signs
    # a perfect match should report exactly 1, not 1 - 1e-16
    similarities = np.where(np.isclose(similarities, 1.0, rtol=0, atol=1e-12), 1.0,
                            similarities)
    return MatchResult(permutation=cols, rows=rows, signs=signs,
                       similarities=similarities, score=float(np.mean(similarities)))


def amari_distance(A, B):
    """Amari-type dissimilarity of two sets of components (Wu et al. 2016).

    ``d = 1/(2k) [sum_j (1 - max_i |C_ij|) + sum_i (1 - max_j |C_ij|)]`` with
    ``C`` the correlation between the rows of ``A`` and ``B``; 0 for identical
    sets up to order and sign. For ``k_A != k_B`` each sum is averaged over its
    own length.

    References
    ----------
    Wu, S. et al. (2016). Stability-driven nonnegative matrix factorization to
    interpret spatial gene expression and build local gene networks. PNAS 113(16).
    """
    C = np.abs(component_similarity(A, B, metric="correlation"))
    return float(0.5 * (np.mean(1.0 - C.max(axis=0)) + np.mean(1.0 - C.max(axis=1))))
