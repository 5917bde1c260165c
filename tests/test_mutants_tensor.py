"""Tests written to kill surviving mutants of the CP modules.

``python tools/mutation.py nimf/tensor/cp.py`` (and ``nimf/assessment/tensor.py``)
found changes of behaviour that no test noticed; each test below pins the
behaviour one of them changed.
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


def test_nonnegative_transform_is_the_nnls_solution():
    # transform with nonnegative=True solves a non-negative least-squares problem per row:
    # min ||X_(mode)[i] - f (weights * Khatri-Rao of the other factors)^T|| over f >= 0;
    # its HALS iterations must run until they converge (checked against an active-set NNLS)
    from scipy.optimize import nnls

    rng = np.random.RandomState(0)
    shape, rank = (10, 9, 12), 4
    # correlated neuron factors: HALS needs many sweeps
    truth = [np.abs(rng.exponential(size=(10, 1)) + 0.05 * rng.standard_normal((10, rank))),
             rng.exponential(size=(9, rank)), rng.exponential(size=(12, rank))]
    X = naive.cp_to_tensor(None, truth)
    X = np.abs(X + 0.3 * X.std() * rng.standard_normal(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = CPDecomposition(rank, nonnegative=True, random_state=0, max_iter=30).fit(X)
    for mode in range(3):
        others = [F for m, F in enumerate(model.factors_) if m != mode]
        design = naive.khatri_rao(others) * model.weights_
        expected = np.array([nnls(design, row, maxiter=10000)[0]
                             for row in naive.unfold(X, mode)])
        found = model.transform(X, mode=mode)
        assert found.min() >= 0
        np.testing.assert_allclose(found, expected, rtol=0, atol=1e-8 * expected.max())


# ------------------------------------------------------ nimf/assessment/tensor.py
def test_nested_lists_of_three_dimensions_are_tensor_problems():
    from sklearn.decomposition import PCA

    from nimf.assessment.tensor import is_tensor_problem

    X = np.arange(24.0).reshape(2, 3, 4)
    # an estimator of matrices: the data decide
    assert is_tensor_problem(PCA(), X.tolist())
    assert is_tensor_problem(PCA(), [list(map(list, slab)) for slab in X])
    assert is_tensor_problem(PCA(), list(X))  # a list of 2D arrays
    assert is_tensor_problem(PCA(), [X[0].tolist()])  # one slab: shape (1, 3, 4)
    assert not is_tensor_problem(PCA(), X[0].tolist())
    assert not is_tensor_problem(PCA(), ["a.nii", "b.nii"])
    assert is_tensor_problem(PCA(), X) and not is_tensor_problem(PCA(), X[0])
    # a CP estimator always makes a tensor problem
    assert is_tensor_problem(CPDecomposition(), X[0].tolist())


@pytest.mark.parametrize("name", ["factors_a", "factors_b"])
def test_factor_lists_that_are_not_cp_models_are_refused_with_their_shapes(name):
    from nimf.assessment import factor_similarity

    good = [np.ones((5, 3)), np.ones((4, 3))]
    bad = [np.ones((5, 3))]
    args = (bad, good) if name == "factors_a" else (good, bad)
    message = (f"{name} must be a list of at least 2 factors of shape (I_n, R) sharing R, "
               f"got shapes [(5, 3)]")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        factor_similarity(*args)
    message = ("reference must be a list of at least 2 factors of shape (I_n, R) sharing R, "
               "got shapes [(5, 3), (4, 2)]")
    from nimf.assessment import match_factors

    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        match_factors([np.ones((5, 3)), np.ones((4, 2))], good)


def test_factor_models_of_other_mode_sizes_are_refused_with_the_sizes():
    from nimf.assessment import factor_similarity

    message = ("factors_a and factors_b must have the same mode sizes, got [5, 4] and [5, 6]")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        factor_similarity([np.ones((5, 2)), np.ones((4, 2))], [np.ones((5, 2)), np.ones((6, 2))])


def test_match_factors_flips_only_columns_of_negative_cosine():
    # as match_components: a column orthogonal to its match (cosine 0) has nothing to
    # align and keeps its sign; a negative cosine is flipped, in pairs with the last mode
    from nimf.assessment import match_factors

    reference = [np.eye(3)[:, :2], np.eye(4)[:, :2], np.eye(2)]
    factors = [np.array([[0.0, 0.0], [0.0, -1.0], [1.0, 0.0]]), np.eye(4)[:, :2],
               np.eye(2)]
    result = match_factors(reference, factors)
    np.testing.assert_array_equal(result.permutation, [0, 1])
    np.testing.assert_array_equal(result.signs, [[1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    aligned = result.apply(factors)
    np.testing.assert_array_equal(aligned[0], [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(aligned[2], [[1.0, 0.0], [0.0, -1.0]])


class _PlainCP:
    """A CP estimator that reports no ``reconstruction_error_`` (only factors and weights)."""

    def __init__(self, n_components=1, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def get_params(self, deep=True):
        return {"n_components": self.n_components, "random_state": self.random_state}

    def set_params(self, **params):
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, X, mask=None):
        from nimf.tensor import cp_als

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.weights_, self.factors_, _ = cp_als(X, self.n_components, mask=mask,
                                                     init="random", max_iter=5, tol=0,
                                                     random_state=self.random_state)
        return self

    def reconstruct(self):
        from nimf.tensor import cp_to_tensor

        return cp_to_tensor(self.weights_, self.factors_)


def test_error_curve_of_an_estimator_without_reconstruction_error():
    # the error is then computed from the model's reconstruction
    from nimf.assessment import error_curve

    X = _planted((7, 6, 5), 2, 0, noise=0.2)
    result = error_curve(_PlainCP(), X, [1, 2], n_seeds=2, random_state=0)
    assert result.errors.shape == (2, 2)
    for i in range(2):
        for s in range(2):
            model = result.models[i][s]
            assert not hasattr(model, "reconstruction_error_")
            expected = np.linalg.norm(X - model.reconstruct()) / np.linalg.norm(X)
            assert 0 < expected < 1
            assert result.errors[i, s] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("function", ["tensor_error_curve", "tensor_stability"])
def test_tensor_assessment_checks_n_seeds_by_name(function):
    from nimf.assessment import tensor as assessment

    X = _planted((5, 4, 3), 1, 0)
    n_min = 1 if function == "tensor_error_curve" else 2
    with pytest.raises(ValueError, match=r"^n_seeds must be "):
        getattr(assessment, function)(CPDecomposition(), X, [1], n_seeds=n_min - 1)


def _speckled_reference(shape, holdout, min_observed, seed):
    """Slow reference: Bernoulli hidden entries, then each slice short of observed entries
    (modes in order, indices in order) reveals randomly chosen hidden entries of its own."""
    rng = np.random.RandomState(seed)
    hidden = rng.random_sample(shape) < holdout
    shortfalls = []
    for mode in range(len(shape)):
        for index in range(shape[mode]):
            where = tuple(index if m == mode else slice(None) for m in range(len(shape)))
            block = hidden[where].copy()
            short = min_observed - int((~block).sum())
            shortfalls.append(short)
            if short > 0:
                chosen = rng.choice(np.flatnonzero(block), short, replace=False)
                flat = block.reshape(-1)
                flat[chosen] = False
                hidden[where] = flat.reshape(block.shape)
    return hidden, shortfalls


def test_speckled_tensor_mask_matches_the_reference():
    from nimf.assessment import speckled_tensor_mask

    shape, holdout, min_observed = (6, 5, 4), 0.7, 5
    expected, shortfalls = _speckled_reference(shape, holdout, min_observed, 3)
    # the case that matters: a slice with exactly min_observed observed entries (nothing to
    # reveal: no random draw) before a slice short of them
    first_exact = shortfalls.index(0)
    assert any(short > 0 for short in shortfalls[first_exact + 1:])
    hidden = speckled_tensor_mask(shape, holdout, min_observed, random_state=3)
    np.testing.assert_array_equal(hidden, expected)


def test_tensor_speckled_cv_hides_a_tenth_by_default_and_at_most_half():
    from nimf.assessment import speckled_tensor_mask
    from nimf.assessment.tensor import tensor_speckled_cv

    X = np.abs(_planted((8, 7, 6), 1, 0))
    estimator = CPDecomposition(init="random", max_iter=3, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = tensor_speckled_cv(estimator, X, [1], n_repeats=1, random_state=0)
        np.testing.assert_array_equal(
            result.masks[0], speckled_tensor_mask(X.shape, 0.1, 1, np.random.RandomState(0)))
        tensor_speckled_cv(estimator, X, [1], holdout=0.5, n_repeats=1, random_state=0)
    for holdout, shown in ((0.6, "0.6"), (0.0, "0")):
        message = f"holdout must be in (0, 0.5], got {shown}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            tensor_speckled_cv(estimator, X, [1], holdout=holdout)


def test_all_false_mask_is_refused_with_its_message():
    X = _planted((4, 3, 2), 1, 0)
    message = "mask must observe at least one entry, got all False"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_tensor(X, np.zeros(X.shape, bool))
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        CPDecomposition(1).fit(X, mask=np.zeros(X.shape, int))


@pytest.mark.parametrize("nonnegative", [False, True], ids=["als", "hals"])
def test_masked_transform_iterates_until_the_hidden_entries_are_predicted(nonnegative):
    # new trials of an exact rank-2 model with a third of their entries hidden: the EM
    # rounds of transform recover the factor of the complete trials (one round, which
    # fills the hidden entries with the mean, does not)
    rng = np.random.RandomState(0)
    truth = [rng.uniform(0.2, 1.0, (n, 2)) for n in (9, 8, 14)]
    X = naive.cp_to_tensor(None, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = CPDecomposition(2, nonnegative=nonnegative, random_state=0, tol=1e-12,
                                max_iter=2000).fit(X[:, :, :10])
    new = X[:, :, 10:]
    mask = rng.uniform(size=new.shape) > 0.35
    complete = model.transform(new)
    masked = model.transform(np.where(mask, new, np.nan), mask=mask)
    np.testing.assert_allclose(masked, complete, rtol=1e-4, atol=1e-6)


def test_match_factors_flips_in_every_mode_but_the_last():
    # four modes: a flip of mode 2 (the one before the last) is undone there and paired
    # with the last mode
    from nimf.assessment import match_factors

    rng = np.random.RandomState(0)
    reference = [rng.standard_normal((n, 2)) for n in (5, 4, 6, 3)]
    flipped = [F.copy() for F in reference]
    flipped[2][:, 1] *= -1
    flipped[3][:, 1] *= -1
    result = match_factors(reference, flipped)
    np.testing.assert_array_equal(result.signs, [[1, 1], [1, 1], [1, -1], [1, -1]])
    for F, G in zip(result.apply(flipped), reference):
        np.testing.assert_allclose(F, G)


def test_tensor_results_declare_their_fields():
    import dataclasses

    from nimf.assessment.tensor import TensorErrorCurveResult, tensor_stability

    names = [f.name for f in dataclasses.fields(TensorErrorCurveResult)]
    assert names[-1] == "bound_label"
    X = _planted((6, 5, 4), 1, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = tensor_stability(CPDecomposition(init="random", max_iter=5), X, [1],
                                  n_seeds=2, random_state=0)
    # CP factors are matched up to sign, in pairs of modes
    assert result.allow_sign_flip is True and result.metric == "factor match"
