"""The kernels of the subsampled learner against NumPy references."""
import numpy as np
import pytest

import naive
from nimf._kernels import online as kon


def test_draw_features_gives_distinct_uniform_subsets(rng):
    p, s = 50, 7
    perm = np.arange(p, dtype=np.int64)
    hits = np.zeros(p)
    n_draws = 4000
    for _ in range(n_draws):
        low = np.arange(s)
        draws = low + (rng.random_sample(s) * (p - low)).astype(np.int64)
        out = np.empty(s, dtype=np.int64)
        kon.draw_features(perm, draws, out)
        assert len(np.unique(out)) == s
        assert np.all((out >= 0) & (out < p))
        hits[out] += 1
        # perm stays a permutation
    assert np.array_equal(np.sort(perm), np.arange(p))
    # every feature drawn with probability s / p (binomial, 6 sigma band)
    expected = n_draws * s / p
    sd = np.sqrt(n_draws * s / p * (1 - s / p))
    assert np.all(np.abs(hits - expected) < 6 * sd)


def test_draw_features_touches_only_s_positions(rng):
    p, s = 1000, 5
    perm = np.arange(p, dtype=np.int64)
    draws = np.array([10, 500, 2, 999, 4], dtype=np.int64)
    out = np.empty(s, dtype=np.int64)
    kon.draw_features(perm, draws, out)
    changed = np.flatnonzero(perm != np.arange(p))
    assert len(changed) <= 2 * s


def test_gather_and_scatter(rng, dtype):
    X = rng.standard_normal((20, 30)).astype(dtype)
    rows = np.array([3, 0, 19], dtype=np.int64)
    cols = np.array([29, 1, 5, 6], dtype=np.int64)
    out = np.empty((3, 4), dtype=dtype)
    kon.gather(X, rows, cols, out)
    np.testing.assert_array_equal(out, X[np.ix_(rows, cols)])
    out2 = np.empty((20, 4), dtype=dtype)
    kon.gather_columns(X, cols, out2)
    np.testing.assert_array_equal(out2, X[:, cols])
    Y = X.copy()
    kon.scatter_columns(out2 * 2, cols, Y)
    expected = X.copy()
    expected[:, cols] *= 2
    np.testing.assert_array_equal(Y, expected)


@pytest.mark.parametrize("rho", [1.0, 0.9, 0.6])
def test_batch_weight(rho):
    for count in (0, 1, 17, 1000):
        for b in (1, 5, 64):
            assert kon.batch_weight(count, b, rho) == pytest.approx(
                naive.batch_weight(count, b, rho), rel=1e-12)
    assert kon.batch_weight(0, 10, rho) == pytest.approx(1.0)
    # rho = 1: running mean
    assert kon.batch_weight(30, 10, 1.0) == pytest.approx(10 / 40)


def test_update_stats_columns(rng, dtype):
    k, p, b = 4, 30, 6
    B = rng.standard_normal((k, p)).astype(dtype)
    AtX = rng.standard_normal((k, 5)).astype(dtype)
    cols = np.array([2, 7, 8, 20, 29], dtype=np.int64)
    counts = rng.randint(0, 4, size=p).astype(np.int64) * b
    counts0 = counts.copy()
    Bm = np.empty((k, 5), dtype=dtype)
    kon.update_stats_columns(B, AtX, cols, counts, b, 0.8, Bm)
    for f, c in enumerate(cols):
        w = naive.batch_weight(counts0[c], b, 0.8)
        np.testing.assert_allclose(Bm[:, f], (1 - w) * B[:, c] + w * AtX[:, f] / b,
                                   rtol=1e-5 if dtype == np.float32 else 1e-12)
    expected_counts = counts0.copy()
    expected_counts[cols] += b
    np.testing.assert_array_equal(counts, expected_counts)


@pytest.mark.parametrize("l1_ratio,positive", [(0.0, False), (0.5, False), (1.0, True), (0.5, True)])
def test_dictionary_bcd_matches_reference(rng, dtype, l1_ratio, positive):
    k, p = 5, 60
    D = rng.standard_normal((k, p))
    from nimf._kernels.projections import enet_scale_rows
    enet_scale_rows(D, 1.0, l1_ratio)
    D *= 0.8  # strictly inside: partial budgets matter
    A = rng.standard_normal((40, k))
    S = A.T @ A / 40
    B = A.T @ rng.standard_normal((40, p)) / 40
    cols = np.sort(rng.choice(p, 17, replace=False)).astype(np.int64)
    order = rng.permutation(k).astype(np.int64)
    norms = np.array([naive.enet_norm(d, l1_ratio) for d in D])
    D_ref, norms_ref = naive.dictionary_bcd(D, B, S, cols, order, norms, l1_ratio, positive)

    D_k = D.astype(dtype)
    B_k = B.astype(dtype)
    Bm = B_k[:, cols].copy()
    Dm = D_k[:, cols].copy()
    norms_k = norms.copy()
    kon.dictionary_bcd(D_k, B_k, Dm, Bm, cols, S.astype(dtype), order, norms_k,
                       l1_ratio, positive, np.empty(17, dtype), np.empty(17, dtype), 0.0)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(D_k, D_ref, atol=tol)
    np.testing.assert_allclose(norms_k, norms_ref, atol=tol)
    # only sampled columns moved; every component stays feasible
    others = np.setdiff1d(np.arange(p), cols)
    np.testing.assert_array_equal(D_k[:, others], D.astype(dtype)[:, others])
    for j in range(k):
        assert naive.enet_norm(D_k[j], l1_ratio) <= 1 + 1e-4
        assert naive.enet_norm(D_k[j], l1_ratio) == pytest.approx(norms_k[j], abs=10 * tol)


def test_dictionary_bcd_skips_unused_components(rng):
    k, p = 3, 10
    D = rng.standard_normal((k, p)) * 0.1
    S = np.diag([1.0, 0.0, 2.0])
    B = rng.standard_normal((k, p))
    cols = np.arange(p, dtype=np.int64)
    norms = np.array([naive.enet_norm(d, 0.0) for d in D])
    D0 = D.copy()
    kon.dictionary_bcd(D, B.copy(), D[:, cols].copy(), B.copy(), cols, S,
                       np.arange(k, dtype=np.int64), norms, 0.0, False,
                       np.empty(p), np.empty(p), 1e-12)
    np.testing.assert_array_equal(D[1], D0[1])
    assert not np.array_equal(D[0], D0[0])
