"""Assessment of CP models: matching across modes, error curves, stability, cross-validation."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import naive_tensor as naive
from nimf.assessment import (error_curve, factor_match_score, factor_similarity, match_factors,
                             speckled_cv, speckled_tensor_mask, stability, svd_error_bound,
                             unfolding_error_bound)
from nimf.tensor import CPDecomposition


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def planted(rng, shape=(20, 15, 12), rank=3, noise=0.05):
    factors = [rng.standard_normal((n, rank)) for n in shape]
    X = naive.cp_to_tensor(None, factors)
    return X + noise * X.std() * rng.standard_normal(shape), factors


def test_factor_similarity_is_the_product_of_cosines(rng):
    A = [rng.standard_normal((n, 3)) for n in (5, 4, 6)]
    B = [rng.standard_normal((n, 4)) for n in (5, 4, 6)]
    S = factor_similarity(A, B)
    expected = np.ones((3, 4))
    for F, G in zip(A, B):
        expected *= np.abs((F / np.linalg.norm(F, axis=0)).T @ (G / np.linalg.norm(G, axis=0)))
    np.testing.assert_allclose(S, expected)
    assert match_factors(A, B).score == pytest.approx(naive.best_permutation_score(S))


def test_match_factors_undoes_permutation_scale_and_sign_flips(rng):
    A = [rng.standard_normal((n, 4)) for n in (6, 5, 4, 3)]
    order = [2, 0, 3, 1]
    flips = [np.array([1, -1, 1, -1]), np.array([-1, -1, 1, 1]), np.ones(4),
             np.array([-1, 1, 1, -1])]
    B = [F[:, order] * s * 3.0 for F, s in zip(A, flips)]
    result = match_factors(A, B)
    assert result.score == 1.0
    aligned = result.apply(B)
    for F, G in zip(A[:-1], aligned[:-1]):  # all modes but the last are aligned exactly
        np.testing.assert_allclose(G / 3.0, F)
    # the model is unchanged by the flips
    np.testing.assert_allclose(naive.cp_to_tensor(None, aligned),
                               naive.cp_to_tensor(None, [F[:, order] for F in B]))
    assert factor_match_score(A, B) == 1.0


def test_unfolding_bound_is_below_every_fit_and_matches_matrix_bound(rng):
    X, _ = planted(rng)
    ranks = [1, 2, 3, 4]
    bound = unfolding_error_bound(X, ranks)
    for mode in range(3):
        unfolded = np.moveaxis(X, mode, 0).reshape(X.shape[mode], -1)
        assert np.all(bound >= svd_error_bound(unfolded, ranks) - 1e-12)
    curve = error_curve(CPDecomposition(init="random"), X, ranks, n_seeds=2, random_state=0)
    assert curve.errors.shape == (4, 2)
    assert np.all(curve.errors >= curve.svd_bound[:, None] - 1e-9)
    assert "unfolding" in curve.bound_label
    assert curve.best_errors[2] < 0.1 < curve.best_errors[1]
    assert len(curve.components[0][0]) == 3  # factors of each fit


def test_stability_is_high_at_the_true_rank_only(rng):
    X, truth = planted(rng, noise=0.3)
    result = stability(CPDecomposition(init="random"), X, [2, 3, 6], n_seeds=4,
                       random_state=0)
    assert result.similarity.shape == (3, 4)
    assert result.similarity[1].min() > 0.99
    assert result.similarity[2].mean() < result.similarity[1].mean()
    assert result.instability[1] < result.instability[2]
    assert result.metric == "factor match"
    assert factor_match_score(truth, result.best_components[1]) > 0.98
    # every fit is aligned with the best one
    best = result.best_components[1]
    for factors in result.components[1]:
        assert match_factors(best, factors).permutation.tolist() == [0, 1, 2]


def test_speckled_mask_keeps_slices_observed(rng):
    hidden = speckled_tensor_mask((4, 30, 5), 0.9, 6, random_state=0)
    for mode in range(3):
        observed = np.moveaxis(~hidden, mode, 0).reshape(hidden.shape[mode], -1).sum(axis=1)
        assert observed.min() >= 6
    with pytest.raises(ValueError, match="every slice must keep 100 observed entries"):
        speckled_tensor_mask((4, 5, 3), 0.1, 100)


def test_speckled_cv_finds_the_rank_with_masked_fits(rng):
    X, _ = planted(rng, noise=0.3)
    result = speckled_cv(CPDecomposition(init="random"), X, [1, 2, 3, 4, 5], holdout=0.2,
                         n_repeats=2, random_state=0)
    assert result.best_rank == 3
    assert result.train_error.shape == (5, 2)
    assert np.all(np.diff(result.train_error.mean(axis=1)) < 1e-3)
    assert result.masks[0].shape == X.shape


def test_cp_estimator_on_a_matrix_says_what_it_needs(rng):
    with pytest.raises(ValueError, match="N >= 3 dimensions"):
        error_curve(CPDecomposition(), rng.standard_normal((5, 4)), [1])
