"""The kernels of the subsampled learner against NumPy references."""
import numpy as np
import pytest

import naive
from nimf._kernels import online as kon


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


def test_partial_update_of_the_statistics(rng, dtype):
    k, p, b = 4, 30, 6
    B = rng.standard_normal((k, p)).astype(dtype)
    AtX = rng.standard_normal((k, 5)).astype(dtype)
    cols = np.array([2, 7, 8, 20, 29], dtype=np.int64)
    counts = rng.randint(0, 4, size=p).astype(np.int64) * b
    counts0 = counts.copy()
    Bm = np.empty((k, 5), dtype=dtype)
    # the weights of each feature from its own count, then the blend, as a step does
    keep = np.empty(5, dtype)
    new = np.empty(5, dtype)
    kon.feature_weights(counts, cols, b, 0.8, keep, new)
    kon.blend_columns(B, AtX, cols, keep, new, Bm)
    for f, c in enumerate(cols):
        w = naive.batch_weight(counts0[c], b, 0.8)
        np.testing.assert_allclose(Bm[:, f], (1 - w) * B[:, c] + w * AtX[:, f] / b,
                                   rtol=1e-5 if dtype == np.float32 else 1e-12)
    expected_counts = counts0.copy()
    expected_counts[cols] += b
    np.testing.assert_array_equal(counts, expected_counts)


def _bcd(Dm, Bm, S, order, norms, l1_ratio, positive, group, min_diag):
    """The kernel with scratch buffers for groups of ``group`` components."""
    k, s = Dm.shape
    dtype = Dm.dtype
    old = Dm.copy()
    delta = np.empty((k, s), dtype)
    total = np.empty((k, s), dtype)
    kon.dictionary_bcd(Dm, Bm, S, order, norms, l1_ratio, positive, min_diag,
                       np.empty(s, dtype), np.empty(s, dtype), np.empty((group, k), dtype),
                       np.empty((group, s), dtype), delta, total)
    # the change and the sum of every row, as the Gram update uses them
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(delta, Dm - old, atol=tol)
    np.testing.assert_allclose(total, Dm + old, atol=tol)


@pytest.mark.parametrize("group", [1, 2, 16])
@pytest.mark.parametrize("l1_ratio,positive", [(0.0, False), (0.5, False), (1.0, True), (0.5, True)])
def test_dictionary_bcd_matches_reference(rng, dtype, l1_ratio, positive, group):
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

    # the kernel works on the sampled columns (gathered, then scattered back)
    D_k = D.astype(dtype)
    Bm = B.astype(dtype)[:, cols].copy()
    Dm = D_k[:, cols].copy()
    norms_k = norms.copy()
    _bcd(Dm, Bm, S.astype(dtype), order, norms_k, l1_ratio, positive, group, 0.0)
    kon.scatter_columns(Dm, cols, D_k)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(D_k, D_ref, atol=tol)
    np.testing.assert_allclose(norms_k, norms_ref, atol=tol)
    # only sampled columns moved; every component stays feasible
    others = np.setdiff1d(np.arange(p), cols)
    np.testing.assert_array_equal(D_k[:, others], D.astype(dtype)[:, others])
    for j in range(k):
        assert naive.enet_norm(D_k[j], l1_ratio) <= 1 + 1e-4
        assert naive.enet_norm(D_k[j], l1_ratio) == pytest.approx(norms_k[j], abs=10 * tol)


def test_dictionary_bcd_groups_give_the_same_updates(rng):
    # the grouped products are a re-association of the one-at-a-time updates
    k, p = 37, 200
    D = rng.standard_normal((k, p)) * 0.01
    A = rng.standard_normal((300, k))
    S = A.T @ A / 300
    B = A.T @ rng.standard_normal((300, p)) / 300
    order = rng.permutation(k).astype(np.int64)
    out = []
    for group in (1, 5, 16, 37):
        Dm = D.copy()
        norms = np.array([naive.enet_norm(d, 0.5) for d in D])
        _bcd(Dm, B.copy(), S, order, norms, 0.5, False, group, 0.0)
        out.append(Dm)
    for Dm in out[1:]:
        np.testing.assert_allclose(Dm, out[0], rtol=1e-10, atol=1e-13)
    assert not np.allclose(out[0], D)


def test_dictionary_bcd_skips_unused_components(rng):
    k, p = 3, 10
    D = rng.standard_normal((k, p)) * 0.1
    S = np.diag([1.0, 0.0, 2.0])
    B = rng.standard_normal((k, p))
    norms = np.array([naive.enet_norm(d, 0.0) for d in D])
    D0 = D.copy()
    _bcd(D, B.copy(), S, np.arange(k, dtype=np.int64), norms, 0.0, False, 2, 1e-12)
    np.testing.assert_array_equal(D[1], D0[1])
    assert not np.array_equal(D[0], D0[0])


def test_gather_sorted_reads_in_order_and_writes_where_asked(rng, dtype):
    X = rng.standard_normal((12, 50)).astype(dtype)
    rows = np.array([1, 4, 11], dtype=np.int64)
    cols = rng.permutation(50)[:20].astype(np.int64)
    dest = np.argsort(cols, kind="stable")
    out = np.empty((3, 20), dtype=dtype)
    kon.gather_sorted(X, rows, cols[dest], dest, out)
    np.testing.assert_array_equal(out, X[np.ix_(rows, cols)])


def test_gather_many_writes_each_block_after_the_previous(rng, dtype):
    X = rng.standard_normal((30, 200)).astype(dtype)
    reads = [
        # scattered columns
        (np.array([3, 0, 29], dtype=np.int64), rng.permutation(200)[:17].astype(np.int64)),
        # whole runs of consecutive columns (copied run by run)
        (np.array([5], dtype=np.int64), np.r_[40:80, 120:160, 0:8].astype(np.int64)),
        # one row, one column
        (np.array([29], dtype=np.int64), np.array([199], dtype=np.int64)),
        # a run shorter than the rule for runs, then scattered columns
        (np.array([7, 7, 8], dtype=np.int64), np.r_[10:14, 3, 90, 91, 5].astype(np.int64)),
    ]
    rows = np.concatenate([r for r, _ in reads])
    cols = np.concatenate([c for _, c in reads])
    row_ptr = np.cumsum([0] + [len(r) for r, _ in reads]).astype(np.int64)
    col_ptr = np.cumsum([0] + [len(c) for _, c in reads]).astype(np.int64)
    total = sum(len(r) * len(c) for r, c in reads)
    out = np.full(total + 3, -7.0, dtype=dtype)
    kon.gather_many(X, rows, row_ptr, cols, col_ptr, out)
    expected = np.concatenate([X[np.ix_(r, c)].ravel() for r, c in reads])
    np.testing.assert_array_equal(out[:total], expected)
    # nothing written past the blocks
    np.testing.assert_array_equal(out[total:], -7.0)


def test_first_nonfinite_row(dtype):
    from nimf._kernels.checks import first_nonfinite_row

    X = np.arange(60, dtype=dtype).reshape(6, 10)
    assert first_nonfinite_row(X, 0, 6) == -1
    for bad in (np.nan, np.inf, -np.inf):
        Y = X.copy()
        Y[4, 9] = bad
        Y[2, 0] = bad
        assert first_nonfinite_row(Y, 0, 6) == 2
        assert first_nonfinite_row(Y, 3, 6) == 4
        assert first_nonfinite_row(Y, 5, 6) == -1
        assert first_nonfinite_row(Y, 0, 0) == -1
    # the largest finite values are finite (x * 0 does not overflow)
    big = np.full((2, 3), np.finfo(dtype).max, dtype=dtype)
    big[1] *= -1
    assert first_nonfinite_row(big, 0, 2) == -1
