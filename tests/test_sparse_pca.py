"""Tests of nimf's SparsePCA."""
import numpy as np
import pytest
from sklearn.linear_model import ridge_regression
from sklearn.utils.estimator_checks import parametrize_with_checks

from naive import recovery
from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition.sparse_pca import SparsePCA


@pytest.fixture(scope="module")
def planted():
    # data seed 0 plants two pairs of components sharing 55-60% of their
    # support, where the fit can stop on a mixture of a pair (recovery ~0.92);
    # seed 1 is a typical draw
    return make_sparse_dictionary_data(1000, 2000, 5, positive=False, random_state=1)


@pytest.fixture(scope="module")
def small():
    return make_sparse_dictionary_data(300, 400, 4, positive=False, random_state=1)


def test_recovers_planted_sparse_components(planted):
    X = planted.X - planted.X.mean(axis=0)
    est = SparsePCA(n_components=5, random_state=0).fit(X)
    assert est.components_.shape == (5, 2000)
    assert recovery(est.components_, planted.components) > 0.95
    # planted components cover 5% of the features: the found ones are as sparse
    assert np.mean(est.components_ == 0) > 0.8


def test_components_sparser_as_alpha_grows(small):
    zeros = []
    for alpha in [0.1, 1.0, 10.0]:
        est = SparsePCA(n_components=4, alpha=alpha, random_state=0).fit(small.X)
        zeros.append(np.mean(est.components_ == 0))
    assert zeros[1] > 0.5
    assert zeros[0] < zeros[1] < zeros[2]


def test_alpha_zero_gives_dense_components(small):
    est = SparsePCA(n_components=4, alpha=0, random_state=0).fit(small.X)
    assert np.mean(est.components_ == 0) < 0.5


def test_components_normalised_ordered_and_signed(small):
    est = SparsePCA(n_components=4, random_state=0).fit(small.X)
    V = est.components_
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, rtol=1e-10)
    largest = V[np.arange(4), np.argmax(np.abs(V), axis=1)]
    assert np.all(largest > 0)
    codes = est.transform(small.X)
    energy = np.sum(codes ** 2, axis=0)
    assert np.all(np.diff(energy) <= 1e-9 * energy.max())
    assert est.n_components_ == 4
    assert est.n_features_in_ == 400
    assert 1 <= est.n_iter_ <= est.max_iter
    np.testing.assert_allclose(est.mean_, small.X.mean(axis=0))


@pytest.mark.parametrize("ridge_alpha", [0.0, 0.01, 1.0])
def test_transform_matches_sklearn_ridge_formula(small, ridge_alpha):
    est = SparsePCA(n_components=4, ridge_alpha=ridge_alpha, random_state=0).fit(small.X)
    expected = ridge_regression(est.components_.T, (small.X_test - est.mean_).T,
                                ridge_alpha, solver="cholesky")
    np.testing.assert_allclose(est.transform(small.X_test), expected, rtol=1e-8,
                               atol=1e-10)


def test_inverse_transform_is_projection(small):
    est = SparsePCA(n_components=4, ridge_alpha=0.0, random_state=0).fit(small.X)
    X = small.X_test
    back = est.inverse_transform(est.transform(X))
    # orthogonal projection of the centred data on the span of the components
    q, _ = np.linalg.qr(est.components_.T)
    Xc = X - est.mean_
    np.testing.assert_allclose(back, Xc @ q @ q.T + est.mean_, atol=1e-8)
    # the default small ridge changes that only slightly
    est.set_params(ridge_alpha=0.01)
    back = est.inverse_transform(est.transform(X))
    assert np.linalg.norm(back - (Xc @ q @ q.T + est.mean_)) < 1e-2 * np.linalg.norm(Xc)


def test_fit_transform_equals_fit_then_transform(small):
    a = SparsePCA(n_components=3, random_state=0).fit_transform(small.X)
    b = SparsePCA(n_components=3, random_state=0).fit(small.X).transform(small.X)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_float32_preserved_and_close_to_float64(small):
    est64 = SparsePCA(n_components=4, random_state=0).fit(small.X)
    X32 = small.X.astype(np.float32)
    est32 = SparsePCA(n_components=4, random_state=0).fit(X32)
    assert est32.components_.dtype == np.float32
    assert est32.mean_.dtype == np.float32
    assert est32.transform(X32).dtype == np.float32
    codes = est32.transform(X32)
    assert est32.inverse_transform(codes).dtype == np.float32
    assert recovery(est32.components_, est64.components_) > 0.99
    assert recovery(est32.components_, small.components) > 0.9


def test_deterministic_given_seed(small):
    a = SparsePCA(n_components=4, random_state=3).fit(small.X).components_
    b = SparsePCA(n_components=4, random_state=3).fit(small.X).components_
    np.testing.assert_array_equal(a, b)
    rng = np.random.RandomState(3)
    c = SparsePCA(n_components=4, random_state=rng).fit(small.X).components_
    np.testing.assert_array_equal(a, c)


def test_debias_keeps_support_and_improves_recovery(planted):
    X = planted.X
    plain = SparsePCA(n_components=5, debias=False, random_state=0).fit(X)
    debiased = SparsePCA(n_components=5, random_state=0).fit(X)
    assert np.mean(plain.components_ == 0) == pytest.approx(
        np.mean(debiased.components_ == 0))
    assert (recovery(debiased.components_, planted.components)
            > recovery(plain.components_, planted.components))


def test_n_components_none_is_n_features(rng):
    X = rng.standard_normal((30, 6))
    est = SparsePCA(random_state=0).fit(X)
    assert est.components_.shape == (6, 6)
    assert est.n_components_ == 6


@pytest.mark.parametrize("params, message", [
    (dict(n_components=0), "n_components must be a positive int, got 0"),
    (dict(n_components=11), r"n_components must be <= n_features \(10, the columns of X\), got n_components=11"),
    (dict(n_components=2.5), "n_components must be an int >= 1 or None, got 2.5"),
    (dict(alpha=-1), r"alpha must be in \[0, inf\), got -1"),
    (dict(ridge_alpha=-0.1), r"ridge_alpha must be in \[0, inf\), got -0.1"),
    (dict(max_iter=0), "max_iter must be a positive int, got 0"),
    (dict(reduction=0.5), r"reduction must be in \[1, inf\), got 0.5"),
    (dict(debias="yes"), "debias must be True or False, got 'yes'"),
])
def test_bad_parameters(rng, params, message):
    X = rng.standard_normal((20, 10))
    with pytest.raises(ValueError, match=message):
        SparsePCA(**params).fit(X)


def test_bad_data(rng):
    X = rng.standard_normal((20, 10))
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SparsePCA(n_components=2).fit(bad)
    with pytest.raises(ValueError, match="2D array"):
        SparsePCA(n_components=2).fit(X[0])
    est = SparsePCA(n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="10 features"):
        est.transform(X[:, :7])
    with pytest.raises(ValueError, match="NaN"):
        est.transform(bad)
    with pytest.raises(ValueError, match=r"expected codes of shape \(n_samples, 2\), "
                                         r"got an array of shape \(20, 3\)"):
        est.inverse_transform(np.zeros((20, 3)))
    with pytest.raises(ValueError, match="codes must be finite"):
        est.inverse_transform(np.full((20, 2), np.inf))


@parametrize_with_checks([
    SparsePCA(n_components=1, max_iter=2, random_state=0),
    SparsePCA(n_components=2, reduction=1, max_iter=2, alpha=0.5, random_state=0),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)
