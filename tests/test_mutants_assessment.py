"""Matching and stability checked against slow, obvious references.

Written to kill the mutants of ``nimf/assessment/matching.py`` and
``nimf/assessment/stability.py`` that the other tests let live
(``python tools/mutation.py nimf/assessment/``).
"""

import re
from itertools import combinations, permutations, product

import numpy as np
import pytest

from nimf.assessment.matching import (amari_distance, component_similarity,
                                      match_components)
from nimf.assessment.stability import align_fits


def _naive_similarity(A, B, metric):
    S = np.zeros((len(A), len(B)))
    for i in range(len(A)):
        for j in range(len(B)):
            a, b = A[i], B[j]
            if metric == "correlation":
                a, b = a - a.mean(), b - b.mean()
            na, nb = np.sqrt(np.sum(a * a)), np.sqrt(np.sum(b * b))
            S[i, j] = 0.0 if na == 0 or nb == 0 else np.sum(a * b) / (na * nb)
    return S


def _brute_force_match(A, B, allow_sign_flip):
    """Best one-to-one matching by trying every assignment (and every sign)."""
    S = _naive_similarity(A, B, "cosine")
    k = min(len(A), len(B))
    best = None
    for rows in combinations(range(len(A)), k):
        for cols in permutations(range(len(B)), k):
            signs_choices = product((1.0, -1.0), repeat=k) if allow_sign_flip else [(1.0,) * k]
            for signs in signs_choices:
                total = sum(s * S[r, c] for r, c, s in zip(rows, cols, signs))
                if best is None or total > best[0] + 1e-12:
                    best = (total, rows, cols, signs)
    return best


@pytest.mark.parametrize("metric", ["cosine", "correlation"])
def test_component_similarity_matches_the_definition(rng, metric):
    A = rng.standard_normal((3, 7)) + 0.5
    B = rng.standard_normal((4, 7)) - 0.3
    B[2] = 0.0  # a zero component is similar to nothing (0), not NaN
    got = component_similarity(A, B, metric=metric)
    np.testing.assert_allclose(got, _naive_similarity(A, B, metric), atol=1e-12)
    assert got.shape == (3, 4)
    np.testing.assert_array_equal(got[:, 2], 0.0)


@pytest.mark.parametrize("scale", [7.1, -7.1])
def test_component_similarity_is_clipped_to_one(rng, scale):
    # 50 rows against scaled copies: some products of unit rows round past +-1
    A = rng.standard_normal((50, 11)) * 1e3
    S = component_similarity(A, A * scale)
    assert np.all(S <= 1.0) and np.all(S >= -1.0)
    np.testing.assert_allclose(np.diag(S), np.sign(scale), atol=1e-14)


@pytest.mark.parametrize("bad,shape", [(np.ones((2, 2, 2)), "(2, 2, 2)"),
                                       (np.ones((0, 3)), "(0, 3)")])
def test_component_similarity_names_the_bad_input(rng, bad, shape):
    with pytest.raises(ValueError, match="^" + re.escape(
            "B must be a non-empty 2D array of shape (n_components, n_features), got an "
            f"array of shape {shape}") + "$"):
        component_similarity(np.ones((2, 3)), bad)
    with pytest.raises(ValueError, match="^A must be finite, got NaN or infinite values$"):
        component_similarity(np.array([[1.0, np.nan, 0.0]]), np.ones((2, 3)))


def test_component_similarity_refuses_different_feature_counts(rng):
    with pytest.raises(ValueError, match="same number of features, got 5 and 4"):
        component_similarity(rng.standard_normal((2, 5)), rng.standard_normal((2, 4)))


@pytest.mark.parametrize("allow_sign_flip", [True, False])
@pytest.mark.parametrize("shapes", [((3, 6), (3, 6)), ((3, 6), (4, 6)), ((4, 6), (3, 6))])
def test_match_components_is_the_best_assignment(rng, allow_sign_flip, shapes):
    A = rng.standard_normal(shapes[0])
    B = rng.standard_normal(shapes[1])
    result = match_components(A, B, allow_sign_flip=allow_sign_flip)
    total, rows, cols, signs = _brute_force_match(A, B, allow_sign_flip)
    order = np.argsort(rows)
    np.testing.assert_array_equal(result.rows, np.asarray(rows)[order])
    np.testing.assert_array_equal(result.permutation, np.asarray(cols)[order])
    np.testing.assert_array_equal(result.signs, np.asarray(signs)[order])
    S = _naive_similarity(A, B, "cosine")
    expected = [s * S[r, c] for r, c, s in zip(rows, cols, signs)]
    np.testing.assert_allclose(result.similarities, np.asarray(expected)[order], atol=1e-12)
    assert result.score == pytest.approx(total / len(rows), abs=1e-12)
    if allow_sign_flip:
        assert np.all(result.similarities >= 0)


def test_without_sign_flips_a_negated_component_scores_minus_one(rng):
    A = rng.standard_normal((1, 8))
    result = match_components(A, -A, allow_sign_flip=False)
    np.testing.assert_array_equal(result.signs, 1.0)
    assert result.score == pytest.approx(-1.0)
    flipped = match_components(A, -A, allow_sign_flip=True)
    np.testing.assert_array_equal(flipped.signs, -1.0)
    assert flipped.score == 1.0


def test_a_perfect_match_reports_exactly_one(rng):
    A = rng.standard_normal((4, 9))
    B = 3.7 * A[[2, 0, 3, 1]]
    result = match_components(A, B)
    np.testing.assert_array_equal(result.permutation, [1, 3, 0, 2])
    assert np.all(result.similarities == 1.0) and result.score == 1.0
    # a near-perfect match is not rounded up
    C = B.copy()
    C[0, 0] += 1e-3
    assert match_components(A, C).similarities.min() < 1.0


def test_apply_appends_the_unmatched_rows_in_order(rng):
    A = rng.standard_normal((2, 6))
    B = np.vstack([rng.standard_normal(6), -A[1], rng.standard_normal(6), A[0] * 2])
    result = match_components(A, B)
    out = result.apply(B)
    np.testing.assert_array_equal(result.permutation, [3, 1])
    np.testing.assert_array_equal(out, np.vstack([B[3], A[1], B[0], B[2]]))


def _naive_amari(A, B):
    C = np.abs(_naive_similarity(A, B, "correlation"))
    cols = [1 - max(C[i, j] for i in range(C.shape[0])) for j in range(C.shape[1])]
    rows = [1 - max(C[i, j] for j in range(C.shape[1])) for i in range(C.shape[0])]
    return 0.5 * (sum(cols) / len(cols) + sum(rows) / len(rows))


@pytest.mark.parametrize("shapes", [((3, 10), (3, 10)), ((2, 10), (5, 10)), ((5, 10), (2, 10))])
def test_amari_distance_matches_the_formula(rng, shapes):
    A = rng.standard_normal(shapes[0])
    B = rng.standard_normal(shapes[1])
    d = amari_distance(A, B)
    assert d == pytest.approx(_naive_amari(A, B), abs=1e-12)
    assert d == pytest.approx(amari_distance(B, A), abs=1e-12)
    assert 0 < d < 1


def test_amari_distance_is_zero_up_to_order_sign_and_offset(rng):
    A = rng.standard_normal((3, 10))
    assert amari_distance(A, -2 * A[[1, 2, 0]] + 5) == pytest.approx(0, abs=1e-12)


# ----------------------------------------------------------------- align_fits
def test_align_fits_against_an_independent_computation(rng):
    base = rng.standard_normal((4, 12))
    # rank 0: fits of 2 components, rank 1: fits of 3; three seeds each, each
    # fit permuted, sign-flipped and perturbed differently
    raw = []
    for k, perms in ((2, ([1, 0], [0, 1], [1, 0])), (3, ([2, 0, 1], [1, 2, 0], [0, 2, 1]))):
        row = []
        for s, perm in enumerate(perms):
            fit = base[:k][perm] * np.where(rng.rand(k) < 0.5, -1.0, 1.0)[:, None]
            row.append(fit + 0.3 * (s + 1) * rng.standard_normal((k, 12)))
        raw.append(row)
    best_seeds = np.array([2, 1])

    def match(ref, other):
        return match_components(ref, other, True, "cosine")

    best, similarity, instability, instability_std, aligned = align_fits(
        raw, best_seeds, match, amari_distance)

    # the best fit of rank 0 unchanged; that of rank 1 aligned with it (chaining)
    np.testing.assert_array_equal(best[0], raw[0][2])
    expected_best1 = match_components(raw[0][2], raw[1][1]).apply(raw[1][1])
    np.testing.assert_array_equal(best[1], expected_best1)
    assert not np.array_equal(best[1], raw[1][1])  # the chaining did reorder it
    for i in range(2):
        for s in range(3):
            found = match_components(best[i], raw[i][s])
            assert similarity[i, s] == found.score
            np.testing.assert_array_equal(aligned[i][s], found.apply(raw[i][s]))
        d = [_naive_amari(raw[i][a], raw[i][b]) for a, b in ((0, 1), (0, 2), (1, 2))]
        assert instability[i] == pytest.approx(np.mean(d), abs=1e-12)
        assert instability_std[i] == pytest.approx(np.std(d), abs=1e-12)
        assert instability_std[i] > 1e-3  # the three distances differ
    assert similarity[0, 2] == 1.0  # the best fit against itself


# ------------------------------------------------------------------ stability
def _nonneg(seed=0):
    rng = np.random.RandomState(seed)
    return rng.uniform(size=(30, 3)) @ rng.uniform(size=(3, 20)) + 0.05 * rng.uniform(
        size=(30, 20))


def test_stability_fits_each_rank_and_seed_independently():
    import warnings

    from nimf.assessment import stability
    from nimf.decomposition import NMF

    X = _nonneg()
    estimator = NMF(init="random", max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits warn about max_iter
        result = stability(estimator, X, [2, 3], n_seeds=3, random_state=7,
                           metric="correlation")
        seeds = np.random.RandomState(7).randint(np.iinfo(np.int32).max, size=(2, 3))
        for i, rank in enumerate([2, 3]):
            for s in range(3):
                model = NMF(n_components=rank, init="random", max_iter=30,
                            random_state=int(seeds[i, s])).fit(X)
                X_hat = model.inverse_transform(model.transform(X))
                error = np.linalg.norm(X - X_hat) / np.linalg.norm(X)
                assert result.errors[i, s] == pytest.approx(error, rel=1e-10)
                # the aligned fit is that model's components, reordered (no sign flips)
                got = result.components[i][s]
                assert sorted(map(tuple, got)) == sorted(map(tuple, model.components_))
    np.testing.assert_array_equal(result.best_seeds, result.errors.argmin(axis=1))
    assert result.metric == "correlation" and result.allow_sign_flip is False
    for i in range(2):
        for s in range(3):
            # similarity under the requested metric (not cosine)
            expected = np.mean([_naive_similarity(result.best_components[i][[j]],
                                                  result.components[i][s][[j]],
                                                  "correlation")[0, 0]
                                for j in range(len(result.best_components[i]))])
            assert result.similarity[i, s] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("given,resolved", [("auto", True), (False, False),
                                            (np.bool_(True), True)])
def test_stability_sign_flips_of_signed_fits(rng, given, resolved):
    from sklearn.decomposition import PCA

    from nimf.assessment import stability

    X = rng.standard_normal((20, 6))
    result = stability(PCA(), X, [2], n_seeds=2, random_state=0, allow_sign_flip=given)
    assert result.allow_sign_flip is resolved and result.metric == "cosine"


def test_stability_refuses_a_bad_sign_flip_option(rng):
    from sklearn.decomposition import PCA

    from nimf.assessment import stability

    with pytest.raises(ValueError, match="allow_sign_flip must be True, False or 'auto', "
                                         "got 'yes'"):
        stability(PCA(), rng.standard_normal((20, 6)), [2], n_seeds=2, allow_sign_flip="yes")


def test_stability_result_defaults():
    from nimf.assessment.stability import StabilityResult

    result = StabilityResult(ranks=np.array([2]), errors=np.zeros((1, 2)),
                             best_seeds=np.array([0]), similarity=np.ones((1, 2)),
                             instability=np.zeros(1), instability_std=np.zeros(1),
                             components=[], best_components=[])
    assert result.metric == "cosine" and result.allow_sign_flip is True


def test_stability_defaults_to_five_seeds_and_cosine(rng):
    from sklearn.decomposition import PCA

    from nimf.assessment import stability

    result = stability(PCA(), rng.standard_normal((20, 6)), [1, 2], random_state=0)
    assert result.errors.shape == (2, 5) and result.similarity.shape == (2, 5)
    assert result.metric == "cosine" and result.allow_sign_flip is True


def test_an_uncorrelated_pair_is_not_flipped():
    # a flip is made only when it makes the pair more similar
    A = np.array([[1.0, 0.0, 0.0]])
    B = np.array([[0.0, 2.0, 0.0]])
    result = match_components(A, B, allow_sign_flip=True)
    np.testing.assert_array_equal(result.signs, [1.0])
    np.testing.assert_array_equal(result.apply(B), B)


@pytest.mark.parametrize("gap,snapped", [(0.5e-12, True), (1.5e-12, False), (1e-9, False)])
def test_only_rounding_away_from_a_perfect_match_is_snapped_to_one(gap, snapped):
    # the stated tolerance: within 1e-12 of 1 is a perfect match that rounding spoilt
    theta = np.arccos(1 - gap)
    A = np.array([[1.0, 0.0]])
    B = np.array([[np.cos(theta), np.sin(theta)]])
    result = match_components(A, B)
    if snapped:
        assert result.score == 1.0
    else:
        assert result.score < 1.0
        assert result.score == pytest.approx(1 - gap, abs=1e-15)


# ---------------------------------------------------------- cross-validation
def test_speckled_mask_allows_no_minimum():
    from nimf.assessment import speckled_mask

    hidden = speckled_mask((6, 5), 0.5, 0, random_state=0)
    assert hidden.shape == (6, 5) and hidden.dtype == bool
    with pytest.raises(ValueError, match="min_observed"):
        speckled_mask((6, 5), 0.5, -1, random_state=0)


def test_fit_with_missing_starts_a_fully_hidden_column_at_zero(rng):
    import warnings

    from sklearn.decomposition import PCA

    from nimf.assessment import fit_with_missing

    X = rng.standard_normal((20, 5))
    hidden = np.zeros_like(X, dtype=bool)
    hidden[:, 2] = True  # no observed value: its mean is taken as 0, not 0/0
    X[hidden] = np.nan   # never read
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no 0/0 division
        model, X_hat = fit_with_missing(PCA(2), X, hidden, n_iter=1)
    assert np.all(np.isfinite(X_hat))
    # one iteration fits the start, whose hidden column is all zeros
    np.testing.assert_allclose(model.mean_[2], 0.0, atol=1e-12)


def test_fit_with_missing_needs_at_least_one_fit():
    from nimf.assessment.cross_validation import fit_with_missing
    from nimf.decomposition import NMF

    X = np.abs(np.random.default_rng(0).standard_normal((10, 6)))
    hidden = np.zeros_like(X, dtype=bool)
    hidden[0, 0] = True
    with pytest.raises(ValueError, match="n_iter"):
        fit_with_missing(NMF(2), X, hidden, n_iter=0)


# ---- errors.py: the shared input checks, with their exact messages
# (written to kill the mutants of ``nimf/assessment/errors.py``)

def _message(function, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        function(*args, **kwargs)
    return str(info.value)


def test_a_single_int_rank_is_a_list_of_one(rng):
    from sklearn.decomposition import PCA

    from nimf.assessment import error_curve, svd_error_bound
    X = rng.randn(12, 6)
    result = error_curve(PCA(), X, 2, n_seeds=1, random_state=0)
    np.testing.assert_array_equal(result.ranks, [2])
    np.testing.assert_allclose(svd_error_bound(X, 2), svd_error_bound(X, [2]))


def test_rank_checks_say_what_was_expected_and_given(rng):
    from sklearn.decomposition import PCA

    from nimf.assessment import error_curve
    X = rng.randn(12, 6)
    assert _message(error_curve, PCA(), X, []) == (
        "ranks must be a non-empty sequence of positive ints, got an empty sequence")
    assert _message(error_curve, PCA(), X, [2, 7]) == (
        "ranks must be <= 6 (the smaller dimension of X), got 7")
    assert _message(error_curve, PCA(), X, 2.5) == (
        "ranks must be a sequence of positive ints, got 2.5")


def test_data_checks_say_what_was_expected_and_given():
    from nimf.assessment import svd_error_bound
    assert _message(svd_error_bound, np.ones(4), [1]) == (
        "expected X as a 2D array, got an array of shape (4,)")
    assert _message(svd_error_bound, np.ones((0, 3)), [1]) == (
        "expected a non-empty 2D array X, got shape (0, 3)")
    assert _message(svd_error_bound, np.array([["a", "b"]]), [1]) == (
        "expected X of numbers, got dtype <U1")
    assert _message(svd_error_bound, np.array([[1.0, np.nan]]), [1]) == (
        "expected X with finite values, got NaN or infinite values")
    assert _message(svd_error_bound, np.zeros((3, 2)), [1]) == (
        "expected X with at least one non-zero value, got all zeros")


def test_integer_data_are_taken_as_float64():
    from nimf.assessment.errors import check_data
    for X in (np.array([[1, 2], [3, 4]], dtype=np.int32),
              np.array([[1, 2], [3, 4]], dtype=np.uint8)):
        assert check_data(X).dtype == np.float64
    assert check_data(np.ones((2, 2), dtype=np.float32)).dtype == np.float32


def test_a_masked_study_given_to_an_array_estimator_is_refused_as_images():
    from sklearn.decomposition import PCA

    from nimf.assessment import error_curve

    class StudyLike:  # what the assessment tools recognise a MaskedStudy by
        def read_subject(self, i):
            raise AssertionError("never read")

        def __nimf_source__(self):
            raise AssertionError("never opened")

    assert _message(error_curve, PCA(), StudyLike(), [1]) == (
        "X holds images or a masked study, which only nimf.neuro's image estimators "
        "fit; got PCA: give it a 2D array")


def test_relative_error_of_all_zero_data_is_nan():
    from nimf.assessment.errors import relative_error
    assert np.isnan(relative_error(np.zeros((3, 2)), np.ones((3, 2))))
    X = np.array([[0.0, 3.0], [4.0, 0.0]])
    mask = np.array([[True, False], [False, False]])  # only a zero entry is scored
    assert np.isnan(relative_error(X, np.ones_like(X), mask))
    assert relative_error(X, np.zeros_like(X)) == 1.0


def test_best_errors_and_best_seeds_pick_the_lowest_error_per_rank():
    from nimf.assessment import ErrorCurveResult
    errors = np.array([[0.5, 0.2, 0.4],
                       [0.1, 0.3, 0.05]])
    result = ErrorCurveResult(ranks=np.array([1, 2]), errors=errors,
                              svd_bound=np.array([0.1, 0.0]), components=[], models=[],
                              centered=False)
    np.testing.assert_array_equal(result.best_errors, [0.2, 0.05])
    np.testing.assert_array_equal(result.best_seeds, [1, 2])


def test_an_array_given_to_an_image_estimator_is_refused(rng):
    from nimf.assessment import error_curve
    from nimf.neuro import NMF as ImageNMF
    assert _message(error_curve, ImageNMF(), rng.rand(6, 4), [1]) == (
        "NMF fits 4D or surface images: X must be a list of images (or paths) or a "
        "MaskedStudy, got ndarray")


def test_the_error_of_an_image_fit_is_the_root_of_the_unexplained_variance():
    from nimf.assessment.errors import _fit_and_score

    class Fitted:  # an image estimator's fit and score (explained variance)
        def __init__(self, explained):
            self.explained = explained

        def fit(self, X):
            self.fitted = True
            return self

        def score(self, X):
            return self.explained

    model, error = _fit_and_score(Fitted(0.64), "images", images=True)
    assert model.fitted and error == pytest.approx(0.6)
    # a score above one (rounding) gives an error of zero, not NaN
    assert _fit_and_score(Fitted(1.0 + 1e-12), "images", images=True)[1] == 0.0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_error_curve_of_image_fits(rng):
    import nibabel

    from nimf.assessment import error_curve
    from nimf.neuro import NMF as ImageNMF
    imgs = [nibabel.Nifti1Image(rng.rand(4, 4, 4, 15).astype(np.float32), np.eye(4))
            for _ in range(2)]
    mask = nibabel.Nifti1Image(np.ones((4, 4, 4), np.int8), np.eye(4))
    curve = error_curve(ImageNMF(mask=mask, smoothing_fwhm=None, max_iter=20), imgs, [2, 3],
                        n_seeds=1, random_state=0)
    # no SVD bound for images: one NaN per rank
    assert isinstance(curve.svd_bound, np.ndarray) and curve.svd_bound.shape == (2,)
    assert np.isnan(curve.svd_bound).all()
    for i in range(2):
        model = curve.models[i][0]
        assert curve.errors[i, 0] == pytest.approx(np.sqrt(1.0 - model.score(imgs)), rel=1e-9)
