"""Kernel edge cases that random inputs never reach.

Written to kill the mutants of ``nimf/_kernels/`` that the other tests let live
(``python tools/mutation.py nimf/_kernels/``): exact zeros and ones, where a
kernel takes a shortcut.
"""

import numpy as np
import pytest

from nimf._kernels import tensor as tensor_kernels


def _factor_with_zeros_and_ones(rng, J, R, dtype):
    F = rng.standard_normal((J, R)).astype(dtype)
    F[0, :] = 1.0   # a whole row of exact ones
    F[1, 0] = 0.0   # an exact zero, skipped by the kernel
    F[2, :] = -1.0
    return F


def test_contract_r_first_with_exact_zeros_and_ones(rng, dtype):
    R, P, J, Q = 3, 4, 5, 6
    T = rng.standard_normal((R, P, J, Q)).astype(dtype)
    F = _factor_with_zeros_and_ones(rng, J, R, dtype)
    out = np.full((R, P, Q), np.nan, dtype=dtype)  # overwritten, never read
    tensor_kernels.contract_r_first(T, F, out)
    expected = np.einsum("rpjq,jr->rpq", T.astype(float), F.astype(float))
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_contract_r_last_with_exact_zeros_and_ones(rng, dtype):
    P, J, Q, R = 4, 5, 6, 3
    T = rng.standard_normal((P, J, Q, R)).astype(dtype)
    F = _factor_with_zeros_and_ones(rng, J, R, dtype)
    out = np.full((P, Q, R), np.nan, dtype=dtype)
    tensor_kernels.contract_r_last(T, F, out)
    expected = np.einsum("pjqr,jr->pqr", T.astype(float), F.astype(float))
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_contract_r_first_of_a_zero_factor_is_zero(rng):
    T = rng.standard_normal((2, 3, 4, 5))
    out = np.full((2, 3, 5), 7.0)
    tensor_kernels.contract_r_first(T, np.zeros((4, 2)), out)
    np.testing.assert_array_equal(out, 0.0)


@pytest.mark.parametrize("n_observed", [0, 1, 7])
def test_fill_missing_counts_observed_entries_only(rng, n_observed):
    X = rng.standard_normal(7)
    X_hat = rng.standard_normal(7)
    observed = np.zeros(7, dtype=bool)
    observed[:n_observed] = True
    X[~observed] = np.nan  # never read
    out = np.empty(7)
    total = tensor_kernels.fill_missing(X, X_hat, observed, out)
    expected = float(np.sum((X[observed] - X_hat[observed]) ** 2))
    assert total == pytest.approx(expected, abs=1e-12)
    np.testing.assert_array_equal(out, np.where(observed, X, X_hat))


# ------------------------------------------------------------ input checks
def test_scan_rows_against_a_naive_reference(rng, dtype):
    from nimf._kernels.checks import first_nonfinite_row, scan_rows

    X = rng.standard_normal((8, 5)).astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    first, sumsq = scan_rows(X, 0, 8)
    assert first == -1
    assert sumsq == pytest.approx(np.sum(X.astype(float) ** 2), rel=rtol)
    first, sumsq = scan_rows(X, 2, 6)  # rows lo:hi only
    assert first == -1
    assert sumsq == pytest.approx(np.sum(X[2:6].astype(float) ** 2), rel=rtol)
    X[5, 3] = np.inf
    X[6, 0] = np.nan
    first, sumsq = scan_rows(X, 1, 8)  # stops at the first bad row, sums the rows before
    assert first == 5
    assert sumsq == pytest.approx(np.sum(X[1:5].astype(float) ** 2), rel=rtol)
    assert first_nonfinite_row(X, 0, 8) == 5 and first_nonfinite_row(X, 6, 8) == 6
    assert first_nonfinite_row(X, 0, 5) == -1
    first, sumsq = scan_rows(X, 3, 3)  # an empty range
    assert first == -1 and sumsq == 0.0


def test_huge_finite_values_of_both_signs_are_finite(dtype):
    from nimf._kernels.checks import first_nonfinite_row, scan_rows

    big = np.finfo(dtype).max / 2
    X = np.tile(np.array([big, -big], dtype=dtype), (3, 16))  # sums overflow both ways
    assert first_nonfinite_row(X, 0, 3) == -1
    first, sumsq = scan_rows(X, 0, 3)
    assert first == -1
    if dtype == np.float64:
        assert sumsq == np.inf  # overflows float64: the caller's slower check describes it
    else:  # float32 values are summed in float64, where they fit
        assert sumsq == pytest.approx(96 * float(big) ** 2, rel=1e-12)
