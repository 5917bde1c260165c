import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from nimf.assessment import (amari_distance, error_curve, fit_with_missing,  # noqa: E402
                             match_components, speckled_cv, speckled_mask, stability)
from nimf.decomposition import NMF  # noqa: E402
from nimf.plotting.assessment import plot_cv, plot_error_curve, plot_stability  # noqa: E402

TRUE_RANK = 4
RANKS = list(range(1, 8))


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short NMF fits warn about max_iter
        yield
    plt.close("all")


@pytest.fixture(scope="module")
def nonneg_data():
    rng = np.random.RandomState(0)
    W = rng.uniform(size=(60, TRUE_RANK))
    H = rng.uniform(size=(TRUE_RANK, 40))
    return W @ H + 0.05 * rng.uniform(size=(60, 40))


@pytest.fixture(scope="module")
def signed_data():
    rng = np.random.RandomState(1)
    X = rng.randn(60, TRUE_RANK) @ rng.randn(TRUE_RANK, 40)
    return X + 0.05 * rng.randn(60, 40) + rng.randn(40)  # non-zero means: PCA centres


def nmf():
    return NMF(init="random", max_iter=200)


# ------------------------------------------------------------------ matching

def test_match_components_undoes_permutation_and_sign_flip(rng):
    A = rng.randn(6, 30)
    perm = rng.permutation(6)
    signs = rng.choice([-1.0, 1.0], size=6)
    B = A[perm] * signs[:, None]
    for metric in ("cosine", "correlation"):
        result = match_components(A, B, metric=metric)
        assert result.score == 1.0
        np.testing.assert_array_equal(result.similarities, 1.0)
        np.testing.assert_array_equal(perm[result.permutation], np.arange(6))
        np.testing.assert_array_equal(result.signs, signs[result.permutation])
        np.testing.assert_allclose(result.apply(B), A)


def test_match_components_without_sign_flip(rng):
    A = rng.randn(3, 20)
    result = match_components(A, A[[1, 2, 0]], allow_sign_flip=False)
    assert result.score == 1.0
    np.testing.assert_array_equal(result.permutation, [2, 0, 1])
    flipped = match_components(A, -A, allow_sign_flip=False)
    np.testing.assert_array_equal(flipped.signs, 1.0)
    assert flipped.score < 0.5  # a negated copy is no match when signs are fixed
    assert match_components(A, -A).score == 1.0


def test_match_components_different_sizes(rng):
    A = rng.randn(3, 20)
    B = np.vstack([rng.randn(2, 20), A[[2, 0, 1]]])
    result = match_components(A, B)
    np.testing.assert_array_equal(result.permutation, [3, 4, 2])
    assert result.score == 1.0
    assert result.apply(B).shape == (5, 20)
    small = match_components(B, A)  # more rows in the reference: match 3 of them
    assert len(small.permutation) == 3 and small.score == 1.0
    assert set(small.rows) == {2, 3, 4}


def test_match_components_bad_input(rng):
    with pytest.raises(ValueError, match="metric must be one of"):
        match_components(rng.randn(2, 5), rng.randn(2, 5), metric="euclidean")
    with pytest.raises(ValueError, match="same number of features"):
        match_components(rng.randn(2, 5), rng.randn(2, 6))


def test_amari_distance(rng):
    A = rng.randn(4, 25)
    assert amari_distance(A, -A[[1, 3, 0, 2]]) == pytest.approx(0.0, abs=1e-12)
    assert 0.2 < amari_distance(A, rng.randn(4, 25)) <= 1.0


# ------------------------------------------------------------------ error curve

def test_error_curve_pca_matches_svd_bound(signed_data):
    result = error_curve(PCA(), signed_data, RANKS, n_seeds=2, random_state=0)
    assert result.errors.shape == (len(RANKS), 2)
    assert result.centered
    assert len(result.components) == len(RANKS)
    assert result.components[2][1].shape == (3, 40)
    np.testing.assert_allclose(result.errors, result.svd_bound[:, None] * np.ones((1, 2)),
                               atol=1e-9)
    assert np.all(np.diff(result.svd_bound) <= 0)


def test_error_curve_nmf_above_bound(nonneg_data):
    result = error_curve(nmf(), nonneg_data, RANKS, n_seeds=2, random_state=0)
    assert not result.centered
    assert np.all(result.errors >= result.svd_bound[:, None] - 1e-9)
    best = result.errors.min(axis=1)
    # up to the true rank, each added component explains a real part of the data
    assert np.all(np.diff(best[:TRUE_RANK]) < 0)
    assert best[TRUE_RANK - 1] < 1.5 * result.svd_bound[TRUE_RANK - 1]


def test_error_curve_seed_determinism(nonneg_data):
    a = error_curve(nmf(), nonneg_data, [2, 3], n_seeds=2, random_state=3, n_jobs=2)
    b = error_curve(nmf(), nonneg_data, [2, 3], n_seeds=2, random_state=3)
    np.testing.assert_array_equal(a.errors, b.errors)


# ------------------------------------------------------------------ stability

def test_stability_higher_at_true_rank(nonneg_data):
    result = stability(nmf(), nonneg_data, [TRUE_RANK, TRUE_RANK + 3], n_seeds=4,
                       random_state=0)
    assert result.similarity.shape == (2, 4)
    np.testing.assert_array_equal(result.similarity[np.arange(2), result.best_seeds], 1.0)
    assert result.similarity[0].mean() > result.similarity[1].mean()
    assert result.instability[0] < result.instability[1]
    assert np.all(result.instability_std >= 0)
    # NMF fits are non-negative: "auto" matched them without sign flips
    assert result.metric == "cosine" and result.allow_sign_flip is False


def test_stability_alignment_and_chaining(signed_data):
    result = stability(PCA(), signed_data, [2, 3, 4], n_seeds=2, random_state=0,
                       metric="correlation")
    assert result.metric == "correlation" and result.allow_sign_flip is True
    # PCA is deterministic: every seed gives the same components
    np.testing.assert_allclose(result.similarity, 1.0)
    np.testing.assert_allclose(result.instability, 0.0, atol=1e-12)
    for row, best in zip(result.components, result.best_components):
        for comps in row:
            np.testing.assert_allclose(comps, best, atol=1e-8)
    # chained order: the first components of each rank match the previous rank's
    for prev, nxt in zip(result.best_components, result.best_components[1:]):
        k = prev.shape[0]
        np.testing.assert_allclose(nxt[:k], prev, atol=1e-6)


# ------------------------------------------------------------------ cross-validation

def test_speckled_mask_keeps_enough_observed():
    hidden = speckled_mask((12, 9), 0.5, 6, random_state=0)
    assert hidden.any()
    assert (~hidden).sum(axis=0).min() >= 6
    assert (~hidden).sum(axis=1).min() >= 6


@pytest.mark.parametrize("kind", ["nmf", "pca"])
def test_speckled_cv_finds_true_rank(kind, nonneg_data, signed_data):
    estimator, X = (nmf(), nonneg_data) if kind == "nmf" else (PCA(), signed_data)
    result = speckled_cv(estimator, X, RANKS, holdout=0.1, n_repeats=3, random_state=0)
    assert result.train_error.shape == result.test_error.shape == (len(RANKS), 3)
    assert result.best_rank == TRUE_RANK
    train = result.train_error.mean(axis=1)
    if kind == "pca":
        assert np.all(np.diff(train) <= 1e-12)
    else:  # NMF fits are local minima: non-increasing up to a small slack
        assert np.all(np.diff(train[:TRUE_RANK]) < 0)
        assert np.all(train[TRUE_RANK:] <= 1.05 * train[TRUE_RANK - 1])
    # hidden entries are not fitted: test error exceeds train error past the true rank
    assert np.all(result.test_error[TRUE_RANK:] > result.train_error[TRUE_RANK:])


@pytest.mark.parametrize("estimator", [NMF(init="random", random_state=0),
                                       PCA(random_state=0)], ids=["nmf", "pca"])
def test_hidden_entries_have_no_influence(estimator, nonneg_data):
    X = nonneg_data
    hidden = speckled_mask(X.shape, 0.2, 3, random_state=0)
    X_poisoned = np.where(hidden, 999.0, X)
    model_a, X_hat_a = fit_with_missing(estimator.set_params(n_components=3), X, hidden, 3)
    comps_a = model_a.components_.copy()
    model_b, X_hat_b = fit_with_missing(estimator.set_params(n_components=3), X_poisoned,
                                        hidden, 3)
    np.testing.assert_array_equal(X_hat_a, X_hat_b)
    np.testing.assert_array_equal(comps_a, model_b.components_)

    a = speckled_cv(estimator, X, [2, 3], n_repeats=1, n_iter=3, random_state=0)
    poisoned = np.where(a.masks[0], 999.0, X)
    b = speckled_cv(estimator, poisoned, [2, 3], n_repeats=1, n_iter=3, random_state=0)
    np.testing.assert_array_equal(a.masks[0], b.masks[0])
    # train errors only read observed entries; test errors read the poisoned values
    np.testing.assert_array_equal(a.train_error, b.train_error)
    assert np.all(b.test_error != a.test_error)


def test_bad_input(nonneg_data):
    X = nonneg_data
    with pytest.raises(ValueError, match="each rank must be a positive int, got 0"):
        speckled_cv(PCA(), X, [0, 1])
    with pytest.raises(ValueError, match=r"each rank must be an int >= 1, got 1.5"):
        speckled_cv(PCA(), X, [1.5])
    with pytest.raises(ValueError, match="ranks must be a non-empty"):
        speckled_cv(PCA(), X, [])
    with pytest.raises(ValueError, match=r"holdout must be in \(0, 0.5\], got 0.7"):
        speckled_cv(PCA(), X, [1], holdout=0.7)
    with pytest.raises(ValueError, match=r"holdout must be in \(0, 0.5\], got 0"):
        speckled_cv(PCA(), X, [1], holdout=0.0)
    with pytest.raises(ValueError, match="n_components parameter, got StandardScaler"):
        from sklearn.preprocessing import StandardScaler
        speckled_cv(StandardScaler(), X, [1])
    with pytest.raises(ValueError, match=r"expected X as a 2D array, got an array of "
                                         r"shape \(5,\)"):
        speckled_cv(PCA(), np.ones(5), [1])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        speckled_cv(PCA(), bad, [1])
    with pytest.raises(ValueError, match="ranks must be <= 40"):
        error_curve(PCA(), X, [41])
    with pytest.raises(ValueError, match="n_seeds must be an int >= 2, got 1"):
        stability(PCA(), X, [1], n_seeds=1)
    with pytest.raises(ValueError, match="ranks must be <= 7"):
        speckled_cv(PCA(), X[:, :7], [1, 8])
    with pytest.raises(ValueError, match="every row and column must keep 8"):
        speckled_mask((60, 7), 0.1, 8)


# ------------------------------------------------------------------ plots

def test_plots_return_axes_with_artists(signed_data):
    X = signed_data[:30, :20]
    errors = error_curve(PCA(), X, [1, 2, 3], n_seeds=2, random_state=0)
    stab = stability(PCA(), X, [1, 2, 3], n_seeds=2, random_state=0)
    cv = speckled_cv(PCA(), X, [1, 2, 3], n_repeats=2, n_iter=2, random_state=0)
    for plot, result in ((plot_error_curve, errors), (plot_stability, stab), (plot_cv, cv)):
        fig, ax = plt.subplots()
        out = plot(result, ax=ax)
        assert out is ax
        assert len(ax.lines) + len(ax.collections) >= 2
    assert len(plot_stability(stab).instability_ax.lines) == 1  # ax=None: current axes


def test_randomized_svd_bound_matches_exact(monkeypatch, signed_data):
    from nimf.assessment import errors, svd_error_bound
    exact = svd_error_bound(signed_data, [1, 2, 4, 6], center=True)
    monkeypatch.setattr(errors, "_EXACT_SVD_MAX_SIZE", 0)
    randomized = svd_error_bound(signed_data, [1, 2, 4, 6], center=True, random_state=0)
    np.testing.assert_allclose(randomized, exact, rtol=1e-3)


def test_verbose_progress_bar(capsys, signed_data):
    error_curve(PCA(), signed_data, [1, 2], n_seeds=2, random_state=0, verbose=1)
    assert "4/4" in capsys.readouterr().err


# ------------------------------------------------ every estimator, and plot_factors
@pytest.mark.parametrize("make", [
    lambda: NMF(init="nndsvda", max_iter=300),
    lambda: __import__("sklearn.decomposition", fromlist=["NMF"]).NMF(init="nndsvda",
                                                                      max_iter=300),
    lambda: PCA(),
    lambda: __import__("nimf.decomposition", fromlist=["SparsePCA"]).SparsePCA(alpha=0.1),
    lambda: __import__("nimf.decomposition", fromlist=["OnlineDictionaryLearning"])
    .OnlineDictionaryLearning(n_epochs=5, alpha=0.01),
], ids=["nimf-NMF", "sklearn-NMF", "sklearn-PCA", "nimf-SparsePCA", "nimf-ODL"])
def test_assessment_works_with_every_estimator(make, nonneg_data):
    ranks = [2, 4, 6]
    curve = error_curve(make(), nonneg_data, ranks, n_seeds=2, random_state=0)
    assert curve.errors.shape == (3, 2)
    assert np.all(curve.errors >= curve.svd_bound[:, None] - 1e-9)
    # more components never fit much worse (best fit per rank)
    best = curve.errors.min(axis=1)
    assert best[-1] <= best[0] + 1e-6
    stab = stability(make(), nonneg_data, [TRUE_RANK], n_seeds=2, random_state=0)
    assert stab.similarity.shape == (1, 2)
    assert np.all((stab.similarity >= 0) & (stab.similarity <= 1 + 1e-9))


def test_plot_factors_sorts_samples_into_a_staircase():
    from nimf.plotting.assessment import factor_order, plot_factors

    rng = np.random.RandomState(0)
    codes = np.zeros((9, 3))
    owner = rng.permutation(np.repeat(np.arange(3), 3))
    codes[np.arange(9), owner] = rng.uniform(1, 2, 9)
    order = factor_order(codes)
    assert np.all(np.diff(owner[order]) >= 0)          # grouped by component
    for j in range(3):
        group = codes[order][owner[order] == j, j]
        assert np.all(np.diff(group) <= 0)              # decreasing loadings
    fig, ax = plt.subplots()
    out = plot_factors(rng.rand(3, 12), codes, ax=ax)
    assert out is ax and ax.images and out.components_ax.images
    with pytest.raises(ValueError, match="sharing n_components"):
        plot_factors(rng.rand(3, 12), rng.rand(9, 2))
