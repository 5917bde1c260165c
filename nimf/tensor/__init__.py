"""Tensor decomposition: CP by ALS, non-negative CP by HALS, with missing entries.

- :class:`CPDecomposition`: the estimator (``fit(X, mask=None)`` on an N-way
  array, ``factors_``, ``weights_``, ``transform`` for new data along one mode).
- :func:`cp_als`, :func:`nonnegative_cp_hals`: the function forms.
- :func:`mttkrp`, :func:`cp_to_tensor`: the building blocks.

Assessment (error curves, stability across seeds, cross-validation) takes
these models through :mod:`nimf.assessment`; figures are in
:func:`nimf.plotting.plot_tensor_factors`.
"""

from .cp import CPDecomposition, check_tensor, cp_als, cp_to_tensor, mttkrp, nonnegative_cp_hals

__all__ = ["CPDecomposition", "cp_als", "nonnegative_cp_hals", "mttkrp", "cp_to_tensor",
           "check_tensor"]
