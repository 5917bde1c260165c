"""The shared checking layer: arrays, parameters and non-finite results."""
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from nimf._validation import (Int, NonFiniteResultError, Options, Real, check_matrix,
                              validate_params)
from nimf.assessment import speckled_mask
from nimf.decomposition import NMF, OnlineDictionaryLearning, SparsePCA
from nimf.ratings import MatrixCompletion

ESTIMATORS = [lambda: OnlineDictionaryLearning(2, n_epochs=1, random_state=0),
              lambda: NMF(2, max_iter=20, random_state=0),
              lambda: SparsePCA(2, max_iter=1, random_state=0)]


@pytest.mark.parametrize("X,error,match", [
    ([["a", "b"], ["c", "d"]], ValueError,
     r"X must hold numbers, got text 'a' at position \(0, 0\)"),
    ([[1.0, 2.0], [3.0]], ValueError, r"X must be .*ragged sequence \(rows of lengths \[2, 1\]\)"),
    (np.array([[1, {"a": 1}]], dtype=object), TypeError, r"X must hold numbers: .*got dict"),
    (np.ones((3, 2)) + 1j, ValueError, "X must hold real numbers: Complex data not supported"),
    (np.ones(4), ValueError, r"X must be a 2D array .* got a 1D array of shape \(4,\)\. "
                             "Reshape your data"),
    (np.ones((2, 3, 4)), ValueError, r"got a 3D array of shape \(2, 3, 4\)"),
    (np.ones((0, 3)), ValueError, r"X must have at least 1 sample\(s\), got 0"),
    (np.ones((3, 0)), ValueError, r"0 feature\(s\) \(shape=\(3, 0\)\) while a minimum of 1"),
    (np.array([[1.0, np.nan], [np.inf, 1.0], [1.0, 1.0]]), ValueError,
     r"X contains NaN or infinite values \(1 NaN and 1 infinite value, in rows 0, 1\)"),
    (np.full((3, 3), 1e200), ValueError, "X has values too large for float64 arithmetic.*"
                                         "scale your data"),
    (None, TypeError, "X must be an array-like of shape .*got NoneType"),
    ("data.npy", TypeError, "X must be an array-like .*got str 'data.npy'"),
    (3.0, TypeError, "got float 3.0"),
    (sp.csr_matrix(np.eye(3)), TypeError, r"Sparse data is not supported, pass X.toarray\(\)"),
    (pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), ValueError, "got text 'x'"),
])
@pytest.mark.parametrize("make", ESTIMATORS)
def test_every_array_estimator_names_what_is_wrong(make, X, error, match):
    with pytest.raises(error, match=match):
        make().fit(X)


@pytest.mark.parametrize("make", ESTIMATORS)
def test_transform_checks_as_fit(make, rng):
    model = make().fit(np.abs(rng.randn(10, 4)))
    with pytest.raises(ValueError, match="X must hold numbers, got text"):
        model.transform([["1", "x", "2", "3"]])
    with pytest.raises(ValueError, match="X contains NaN"):
        model.transform(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="codes must be finite"):
        model.inverse_transform(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="codes must hold numbers"):
        model.inverse_transform([["a", "b"]])


def test_numbers_as_text_and_float32_are_kept():
    X = check_matrix([["1", "2.5"], ["3", "4"]])
    assert X.dtype == np.float64 and X[0, 1] == 2.5
    assert check_matrix(np.ones((2, 2), np.float32)).dtype == np.float32
    assert check_matrix(np.ones((2, 2), bool)).dtype == np.float64


@pytest.mark.parametrize("args,match", [
    (((5, 5), 2, 1), r"holdout must be in \[0, 1\), got 2"),
    (((5, 5), -0.1, 1), r"holdout must be in \[0, 1\), got -0.1"),
    (((5, 5), "a", 1), "holdout must be a real number, got 'a'"),
    (((5, 5), 0.2, -1), "min_observed must be an int >= 0, got -1"),
    (((5, 5, 2), 0.2, 1), r"shape must be a tuple of 2 positive ints, got \(5, 5, 2\)"),
])
def test_speckled_mask_checks_its_parameters(args, match):
    with pytest.raises(ValueError, match=match):
        speckled_mask(*args)


def test_validate_params_checks_and_normalises():
    @validate_params(n=Int(1), rate=Real(0, 1, closed="neither"), how=Options("a", "b"))
    def f(n, rate=0.5, how="a"):
        return n, rate, how

    assert f(np.int64(3)) == (3, 0.5, "a")
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        f(0)
    with pytest.raises(ValueError, match=r"rate must be in \(0, 1\), got 1"):
        f(2, rate=1)
    with pytest.raises(ValueError, match="how must be one of 'a', 'b', got 'c'"):
        f(2, how="c")


# ---------------------------------------------------------------- ratings
RATINGS = ([0, 0, 1, 1, 2, 2], [0, 1, 0, 2, 1, 2], [1.0, 2.0, 3.0, 4.0, 5.0, 3.0])


def test_sgd_with_a_diverging_learning_rate_says_to_lower_it():
    model = MatrixCompletion(2, solver="sgd", random_state=0)
    with pytest.raises(NonFiniteResultError, match=r"diverged at epoch \d+.*lower "
                                                   r"learning_rate \(got 100.0"):
        model.set_params(learning_rate=100.0).fit(RATINGS)
    assert not hasattr(model, "item_factors_")  # nothing half fitted is left


@pytest.mark.parametrize("ratings,error,match", [
    ((RATINGS[0], RATINGS[1], np.array(RATINGS[2]) * 1e300), ValueError,
     "ratings has values too large.*scale"),
    (None, TypeError, "ratings must be a DataFrame .*got NoneType"),
    ("u.data", TypeError, "got str 'u.data'"),
    (([0, 1], [0, 1], 3.0), ValueError, "ratings must be a DataFrame"),
    (np.array([[0, 1, "good"], [1, 0, "bad"]], dtype=object), ValueError,
     r"the ratings \(last column\) of ratings must be numbers"),
])
def test_bad_ratings_name_the_input(ratings, error, match):
    with pytest.raises(error, match=match):
        MatrixCompletion(2, n_epochs=1).fit(ratings)
