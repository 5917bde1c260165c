"""Public tensor API that other tests reach only indirectly: the tensor
assessment functions called by their own names, ``TensorMatchResult.order``
and ``nimf.tensor.check_tensor``."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from nimf.assessment import (CVResult, TensorErrorCurveResult, error_curve, match_factors,
                             speckled_cv, stability, tensor_error_curve, tensor_speckled_cv,
                             tensor_stability)
from nimf.tensor import CPDecomposition, check_tensor


@pytest.fixture(scope="module")
def planted():
    rng = np.random.RandomState(5)
    factors = [rng.standard_normal((n, 2)) for n in (8, 7, 6)]
    X = np.einsum("ir,jr,kr->ijk", *factors)
    return X + 0.1 * X.std() * rng.standard_normal(X.shape)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_tensor_error_curve_is_what_error_curve_runs_on_a_tensor(planted):
    est = CPDecomposition(init="random", max_iter=30)
    direct = tensor_error_curve(est, planted, [1, 2, 3], n_seeds=2, random_state=0)
    generic = error_curve(est, planted, [1, 2, 3], n_seeds=2, random_state=0)
    assert type(direct) is TensorErrorCurveResult
    np.testing.assert_array_equal(direct.errors, generic.errors)
    np.testing.assert_array_equal(direct.svd_bound, generic.svd_bound)
    assert direct.errors.shape == (3, 2) and "unfolding" in direct.bound_label
    assert [len(fit[0][0].T) for fit in direct.components] == [1, 2, 3]
    assert direct.errors[1].min() < direct.errors[0].min()


def test_tensor_stability_is_what_stability_runs_on_a_tensor(planted):
    est = CPDecomposition(init="random", max_iter=30)
    direct = tensor_stability(est, planted, [2, 3], n_seeds=3, random_state=1)
    generic = stability(est, planted, [2, 3], n_seeds=3, random_state=1)
    assert direct.similarity.shape == (2, 3)
    np.testing.assert_array_equal(direct.similarity, generic.similarity)
    assert direct.metric == "factor match"
    # the best fit of each rank is its own reference
    np.testing.assert_allclose(direct.similarity.max(axis=1), 1.0)


def test_tensor_speckled_cv_is_what_speckled_cv_runs_on_a_tensor(planted):
    est = CPDecomposition(init="random", max_iter=30)
    direct = tensor_speckled_cv(est, planted, [1, 2, 3], holdout=0.2, n_repeats=2,
                                random_state=2)
    generic = speckled_cv(est, planted, [1, 2, 3], holdout=0.2, n_repeats=2, random_state=2)
    assert type(direct) is CVResult
    np.testing.assert_array_equal(direct.test_error, generic.test_error)
    np.testing.assert_array_equal(direct.train_error, generic.train_error)
    assert direct.best_rank == 2
    for mask in direct.masks:
        assert mask.shape == planted.shape
        assert 0.1 < mask.mean() < 0.3  # about holdout=0.2 of the entries hidden


def test_match_result_order_reorders_weights_as_apply_reorders_factors(rng):
    reference = [rng.standard_normal((n, 3)) for n in (5, 4, 6)]
    extra = [rng.standard_normal((n, 2)) for n in (5, 4, 6)]
    columns = [4, 1, 3, 0, 2]  # reference components at 3, 1 and 4; others at 0 and 2
    model = [np.concatenate([R, E], axis=1)[:, columns] for R, E in zip(reference, extra)]
    result = match_factors(reference, model)
    assert result.permutation.tolist() == [3, 1, 4]
    order = result.order(5)
    assert order.tolist() == [3, 1, 4, 0, 2]
    weights = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    aligned = result.apply(model)
    for F, G in zip(model, aligned):
        np.testing.assert_allclose(np.abs(G), np.abs(F[:, order]))
    assert weights[order].tolist() == [40.0, 20.0, 50.0, 10.0, 30.0]


def test_check_tensor(rng):
    X = rng.standard_normal((3, 4, 5))
    out, mask = check_tensor(X.astype(np.float32))
    assert out.dtype == np.float32 and mask is None
    out, _ = check_tensor(np.arange(60).reshape(3, 4, 5))
    assert out.dtype == np.float64 and out.flags.c_contiguous
    out, _ = check_tensor(np.asfortranarray(X))
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, X)
    # a 0/1 mask becomes booleans; NaN where hidden is allowed
    hidden = X.copy()
    hidden[0, 0, 0] = np.nan
    ones = np.ones(X.shape, dtype=int)
    ones[0, 0, 0] = 0
    _, mask = check_tensor(hidden, mask=ones)
    assert mask.dtype == bool and not mask[0, 0, 0] and mask.sum() == 59
    cases = [
        (dict(X=X[0]), "expected X as an N-way array with N >= 3 dimensions (use "
         "nimf.decomposition for matrices), got an array of shape (4, 5)"),
        (dict(X=X.astype(complex)), "expected X of real numbers, got dtype complex128"),
        (dict(X=np.zeros((3, 0, 2))), "expected X with no empty dimension, got shape (3, 0, 2)"),
        (dict(X=X, mask=ones[0]), "mask must have the shape of X (3, 4, 5), got an array of "
         "shape (4, 5)"),
        (dict(X=X, mask=2 * ones), "mask must hold booleans (True where observed), got dtype "
         "int64 with values other than 0 and 1"),
        (dict(X=X, mask=np.zeros(X.shape, bool)), "mask must observe at least one entry, got "
         "all False"),
        (dict(X=hidden), "X must be finite, got 1 NaN or infinite values; pass mask (True "
         "where observed) to fit around missing entries"),
        (dict(X=X, name="T", nonnegative=True),
         f"nonnegative=True needs T >= 0, got {int((X < 0).sum())} negative entries "
         f"(minimum {float(X.min()):g})"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError) as info:
            check_tensor(**kwargs)
        assert str(info.value) == message
    out, _ = check_tensor(np.abs(X), nonnegative=True)
    np.testing.assert_array_equal(out, np.abs(X))
