"""Tests written to kill surviving mutants of the tensor and study modules.

``python tools/mutation.py nimf/tensor/cp.py`` (and ``nimf/assessment/tensor.py``,
``nimf/neuro/study.py``) found changes of behaviour that no test noticed; each
test below pins the behaviour one of them changed.
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import naive_tensor as naive
from nimf.tensor import CPDecomposition, check_tensor
from nimf.tensor import cp as cp_module


def _unfolding(X, mode):
    return np.moveaxis(np.asarray(X, dtype=np.float64), mode, 0).reshape(X.shape[mode], -1)


# ------------------------------------------------------------ nimf/tensor/cp.py
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float16, np.uint8])
def test_check_tensor_turns_other_numbers_into_float64(dtype):
    X = np.arange(1, 25).reshape(2, 3, 4).astype(dtype)
    checked, mask = check_tensor(X)
    assert checked.dtype == np.float64 and mask is None
    np.testing.assert_array_equal(checked, np.arange(1, 25).reshape(2, 3, 4))
    model = CPDecomposition(1, max_iter=5, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    assert all(F.dtype == np.float64 for F in model.factors_)


def test_svd_start_of_a_small_mode_is_its_leading_singular_subspace():
    # a mode with at most k + 10 entries takes the exact route (eigenvectors of the Gram
    # matrix): the start must span the leading left singular vectors, not the trailing ones
    rng = np.random.RandomState(0)
    shape, k = (6, 9, 8), 2
    scales = np.array([10.0, 5.0, 1.0, 0.5, 0.2, 0.1])
    X = np.einsum("ir,r,jr,kr->ijk", np.linalg.qr(rng.standard_normal((6, 6)))[0], scales,
                  rng.standard_normal((9, 6)), rng.standard_normal((8, 6)))
    assert shape[0] <= k + cp_module._SVD_OVERSAMPLES
    U = cp_module._unfolding_top_vectors(X, 0, k, np.random.RandomState(0))
    expected = np.linalg.svd(_unfolding(X, 0), full_matrices=False)[0][:, :k]
    assert U.shape == (6, k)
    # the same subspace: the projections agree
    np.testing.assert_allclose(U @ U.T, expected @ expected.T, atol=1e-8)


def test_nonnegative_svd_start_of_a_rank_one_tensor_is_its_factors():
    # the singular vector of each mode of a positive rank-one tensor is its factor (up to
    # sign); the non-negative start keeps the signed part with the larger mass
    rng = np.random.RandomState(0)
    truth = [rng.uniform(0.5, 2.0, n) for n in (7, 30, 25)]
    X = np.einsum("i,j,k->ijk", *truth)
    factors = cp_module._initial_factors(X, 1, "svd", True, np.random.RandomState(0))
    for F, t in zip(factors, truth):
        assert F.min() > 0
        np.testing.assert_allclose(F[:, 0], t / np.linalg.norm(t), rtol=0, atol=2e-3)


def _planted(shape, rank, seed, noise=0.05):
    rng = np.random.RandomState(seed)
    factors = [rng.standard_normal((n, rank)) for n in shape]
    X = naive.cp_to_tensor(None, factors)
    return X + noise * X.std() * rng.standard_normal(shape)


@pytest.mark.parametrize("nonnegative", [False, True], ids=["als", "hals"])
def test_relative_error_of_a_tensor_of_small_norm(nonnegative):
    # ||X|| < 1: the errors are still ||X - X_hat|| / ||X||, not zero
    X = _planted((8, 7, 6), 2, 0)
    X = np.abs(X) if nonnegative else X
    X *= 1e-3 / np.linalg.norm(X)
    model = CPDecomposition(2, nonnegative=nonnegative, init="random", max_iter=20, tol=0,
                            random_state=0).fit(X)
    assert model.n_iter_ == 20
    actual = np.linalg.norm(X - model.reconstruct()) / np.linalg.norm(X)
    assert 0.01 < actual < 1
    assert model.reconstruction_error_ == pytest.approx(actual, rel=1e-6)


def test_als_errors_do_not_depend_on_the_scale_of_x():
    X = _planted((8, 7, 6), 2, 0)
    fits = [CPDecomposition(2, init="random", max_iter=20, tol=0, random_state=0).fit(X * scale)
            for scale in (1e-4 / np.linalg.norm(X), 1e3)]
    np.testing.assert_allclose(fits[0].errors_, fits[1].errors_, rtol=1e-6)


def test_convergence_warning_only_when_not_converged():
    X = _planted((8, 7, 6), 2, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = CPDecomposition(2, random_state=0, tol=1e-4).fit(X)
    assert model.n_iter_ < 500
    message = ("CP-ALS did not converge in 2 iterations (last relative change of the error "
               "above tol=1e-12); increase max_iter or tol")
    with pytest.warns(ConvergenceWarning, match=f"^{re.escape(message)}$"):
        CPDecomposition(2, random_state=0, tol=1e-12, max_iter=2).fit(X)
    # tol=0 asks for every iteration: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert CPDecomposition(2, random_state=0, tol=0, max_iter=3).fit(X).n_iter_ == 3
