"""Model assessment for any scikit-learn style factorization estimator.

- :func:`error_curve`: relative reconstruction error against rank, over seeds,
  with the truncated-SVD lower bound.
- :func:`stability`: similarity of components across seeds (Hungarian
  matching) and the instability of Wu et al. (2016).
- :func:`speckled_cv`: cross-validation of the rank on held-out entries.
- :func:`match_components`: one-to-one matching of two sets of components.

N-way arrays (N >= 3, CP models of :mod:`nimf.tensor`) go to
:mod:`nimf.assessment.tensor`: components matched across all modes at once,
masked fits for cross-validation, and the unfoldings' bound on the error.

Plots of the results live in :mod:`nimf.plotting.assessment`.
"""

from .cross_validation import CVResult, fit_with_missing, speckled_cv, speckled_mask
from .errors import ErrorCurveResult, error_curve, svd_error_bound
from .matching import MatchResult, amari_distance, component_similarity, match_components
from .stability import StabilityResult, stability
from .tensor import (TensorErrorCurveResult, TensorMatchResult, factor_match_score,
                     factor_similarity, match_factors, speckled_tensor_mask, tensor_error_curve,
                     tensor_speckled_cv, tensor_stability, unfolding_error_bound)

__all__ = [
    "CVResult", "ErrorCurveResult", "MatchResult", "StabilityResult",
    "amari_distance", "component_similarity", "error_curve", "fit_with_missing",
    "match_components", "speckled_cv", "speckled_mask", "stability", "svd_error_bound",
    # CP tensor models (N-way arrays given to the functions above are sent there)
    "TensorErrorCurveResult", "TensorMatchResult", "factor_match_score", "factor_similarity",
    "match_factors", "speckled_tensor_mask", "tensor_error_curve", "tensor_speckled_cv",
    "tensor_stability", "unfolding_error_bound",
]
