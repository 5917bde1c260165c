"""Kernel branches random inputs never reach: points exactly on and just outside
a constraint's boundary, zeros, ties, empty inputs, thresholds met exactly.

Each case is checked against the slow references of ``tests/naive*.py`` or
against a value known in closed form, in float32 and float64 where the kernel
takes both.
"""
import numpy as np
import pytest

import naive
import naive_nmf
import naive_ratings
from nimf._kernels import checks, codes, nmf, projections, ratings, tensor


def _project(u, radius, l1_ratio, positive):
    u = np.asarray(u)
    out = np.full_like(u, np.nan)
    work = np.empty_like(u)
    norm = projections.project_enet_ball(u, out, radius, l1_ratio, positive, work)
    return out, norm


# --------------------------------------------------------------- projections
# points whose elastic-net norm is exactly the radius in binary arithmetic
_ON_THE_SPHERE = [
    (0.0, [0.5, -0.5, 0.5, -0.5], 1.0),       # l2: squares sum to 1
    (1.0, [0.5, -0.25, 0.25], 1.0),          # l1: magnitudes sum to 1
    (0.5, [0.5, -0.5], 0.75),                # 0.5 * 0.5 + 0.5 * 1.0
    (0.75, [1.0, 0.0, -1.0], 1.0 * 0.5 + 0.75 * 2.0),
]


@pytest.mark.parametrize("l1_ratio,u,radius", _ON_THE_SPHERE)
def test_a_point_on_the_sphere_is_its_own_projection(dtype, l1_ratio, u, radius):
    u = np.array(u, dtype=dtype)
    assert naive.enet_norm(u, l1_ratio) == radius
    out, norm = _project(u, radius, l1_ratio, False)
    np.testing.assert_array_equal(out, u)
    assert norm == pytest.approx(radius, rel=1e-6)


@pytest.mark.parametrize("l1_ratio,u,radius", _ON_THE_SPHERE)
@pytest.mark.parametrize("factor", [1 + 1e-9, 1 + 1e-3, 2.0])
def test_a_point_just_outside_lands_on_the_sphere(l1_ratio, u, radius, factor):
    u = np.array(u) * factor
    assert naive.enet_norm(u, l1_ratio) > radius
    out, norm = _project(u, radius, l1_ratio, False)
    expected = naive.project_enet_ball(u, radius, l1_ratio)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)
    assert norm == pytest.approx(radius, rel=1e-9)
    assert naive.enet_norm(out, l1_ratio) <= radius * (1 + 1e-12)
    # the signs are kept, nothing changes sign
    assert np.all(out * u >= 0)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_positive_part_exactly_on_the_sphere(l1_ratio):
    # the negative entries are dropped; what is left is on the sphere
    pos = np.array([0.5, 0.5])
    radius = naive.enet_norm(pos, l1_ratio)
    u = np.array([0.5, -7.0, 0.5, -0.1])
    out, norm = _project(u, radius, l1_ratio, True)
    np.testing.assert_array_equal(out, [0.5, 0.0, 0.5, 0.0])
    assert norm == pytest.approx(radius)


@pytest.mark.parametrize("l1_ratio", [0.3, 1.0])
@pytest.mark.parametrize("n,radius", [(5, 2.0), (8, 0.5), (3, 2.999)])
def test_tied_entries_shrink_equally(dtype, l1_ratio, n, radius):
    u = np.full(n, 1.0, dtype=dtype)
    u[::2] *= -1
    out, _ = _project(u, radius, l1_ratio, False)
    expected = naive.project_enet_ball(u.astype(np.float64), radius, l1_ratio)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(out, expected, rtol=tol * 10, atol=tol)
    # every magnitude equal, on the sphere
    np.testing.assert_allclose(np.abs(out), np.abs(out[0]), rtol=tol * 10)
    assert naive.enet_norm(out, l1_ratio) == pytest.approx(radius, rel=tol * 100)
    if l1_ratio == 1.0:
        np.testing.assert_allclose(np.abs(out), radius / n, rtol=tol * 10)


def test_ties_at_the_threshold_are_dropped_together():
    # l1 ball, radius 2: the threshold is exactly 1, so the entries equal to 1 go to 0
    u = np.array([3.0, 1.0, -1.0, 2.0, 1.0, 0.0])
    out, norm = _project(u, 2.0, 1.0, False)
    np.testing.assert_allclose(out, [1.5, 0.0, 0.0, 0.5, 0.0, 0.0], atol=1e-15)
    assert norm == pytest.approx(2.0)
    np.testing.assert_allclose(out, naive.project_enet_ball(u, 2.0, 1.0), atol=1e-12)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("positive", [False, True])
def test_empty_and_single_entry_vectors(l1_ratio, positive):
    out, norm = _project(np.zeros(0), 1.0, l1_ratio, positive)
    assert out.shape == (0,) and norm == 0.0
    out, norm = _project(np.array([3.0]), 1.0, l1_ratio, positive)
    # one entry: its value on the sphere, (1 - nu) x^2 + nu x = 1
    a, b = 1 - l1_ratio, l1_ratio
    x = 1.0 / b if a == 0 else (-b + np.sqrt(b * b + 4 * a)) / (2 * a)
    assert out[0] == pytest.approx(x, rel=1e-12) and norm == pytest.approx(1.0)
    out, norm = _project(np.array([-3.0]), 1.0, l1_ratio, positive)
    assert out[0] == pytest.approx(0.0 if positive else -x, rel=1e-12)


@pytest.mark.parametrize("radius", [0.0, -1.0])
def test_non_positive_radius_zeroes_even_the_zero_vector(radius):
    out, norm = _project(np.array([0.0, 0.0, 1.0]), radius, 0.5, False)
    np.testing.assert_array_equal(out, 0.0)
    assert norm == 0.0


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_enet_scale_rows_edge_rows(l1_ratio):
    D = np.zeros((4, 3))
    D[1, 0] = -4.0          # a single non-zero entry
    D[2] = [0.5, 0.5, 0.0]  # already on the sphere (radius 0.5 for l1_ratio 0, 1 for 1)
    D[3] = 1e-200           # tiny (squares underflow) but non-zero: rescaled too
    radius = naive.enet_norm(D[2], l1_ratio)
    before2 = D[2].copy()
    projections.enet_scale_rows(D, radius, l1_ratio)
    np.testing.assert_array_equal(D[0], 0.0)
    assert D[1, 0] < 0 and naive.enet_norm(D[1], l1_ratio) == pytest.approx(radius)
    np.testing.assert_allclose(D[2], before2, rtol=1e-15)
    assert naive.enet_norm(D[3], l1_ratio) == pytest.approx(radius, rel=1e-9)
    huge = np.full((1, 3), 1e200)  # squares overflow
    projections.enet_scale_rows(huge, radius, l1_ratio)
    assert naive.enet_norm(huge[0], l1_ratio) == pytest.approx(radius, rel=1e-9)
    empty = np.zeros((0, 5))
    projections.enet_scale_rows(empty, 1.0, l1_ratio)
    assert empty.shape == (0, 5)


# -------------------------------------------------------------------- codes
def _cd(G, beta, l1, l2, positive=False, warm=None):
    beta = np.atleast_2d(np.asarray(beta, dtype=np.float64))
    out = np.zeros_like(beta) if warm is None else np.array(warm, dtype=np.float64)
    codes.enet_coordinate_descent_gram(np.asarray(G, dtype=np.float64), beta, out, l1, l2,
                                       positive, 1000, 1e-12, np.empty(beta.shape[1]))
    return out


def test_codes_at_the_l1_threshold_are_exactly_zero():
    G = np.eye(3)
    # |beta_j| equal to the penalty: zero, not a tiny value of either sign
    out = _cd(G, [[1.0, -1.0, 0.5]], 1.0, 0.0)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 0.0]])
    # just above it: the soft threshold
    out = _cd(G, [[1.0 + 1e-9, -2.0, 0.5]], 1.0, 0.0)
    np.testing.assert_allclose(out, [[1e-9, -1.0, 0.0]], atol=1e-15)


def test_codes_zero_correlations_and_empty_batches(rng):
    G = rng.standard_normal((4, 4))
    G = G @ G.T
    np.testing.assert_array_equal(_cd(G, np.zeros((2, 4)), 0.1, 0.1), 0.0)
    # a warm start is moved back to zero when the data say so
    np.testing.assert_allclose(_cd(G, np.zeros((1, 4)), 0.1, 0.1, warm=np.ones((1, 4))),
                               0.0, atol=1e-10)
    empty = np.zeros((0, 4))
    n_iter = codes.enet_coordinate_descent_gram(G, empty, empty.copy(), 0.1, 0.1, False, 10,
                                                1e-6, np.empty(4))
    assert n_iter == 0


def test_codes_positive_with_negative_correlations_and_a_dead_atom(rng):
    G = np.diag([1.0, 2.0, 0.0])  # the third atom is zero
    out = _cd(G, [[-1.0, 3.0, 0.0]], 0.5, 0.1, positive=True)
    expected = naive.enet_codes(G, [[-1.0, 3.0, 0.0]], 0.5, 0.1, positive=True)
    np.testing.assert_allclose(out, expected, atol=1e-8)
    assert out[0, 0] == 0.0 and out[0, 2] == 0.0 and np.all(np.isfinite(out))


def test_codes_with_tied_atoms_match_the_reference(rng):
    d = rng.standard_normal(5)
    D = np.vstack([d, d, rng.standard_normal(5)])  # two identical atoms
    G = D @ D.T
    beta = rng.standard_normal((3, 5)) @ D.T
    out = _cd(G, beta, 0.2, 0.3)
    ref = naive.enet_codes(G, beta, 0.2, 0.3)
    obj = naive.code_objective(G, beta, out, 0.2, 0.3)
    np.testing.assert_allclose(obj, naive.code_objective(G, beta, ref, 0.2, 0.3), rtol=1e-7,
                               atol=1e-10)


# --------------------------------------------------------------------- HALS
def test_hals_leaves_a_zero_curvature_coordinate_unchanged(rng):
    G = np.diag([2.0, 0.0, 1.0])
    F = np.array([[0.3, 0.7, 0.1], [0.0, 0.0, 0.0]])
    Bt = rng.rand(3, 2)
    order = np.arange(3, dtype=np.int64)
    expected, viol = naive_nmf.hals_rows(F, G, Bt, 0.0, 0.0, order, 5, 1e-12, True)
    got = F.copy()
    v = nmf.hals_rows(got, G, Bt, 0.0, 0.0, order, 5, 1e-12, True, np.empty(3))
    np.testing.assert_allclose(got, expected, atol=1e-13)
    np.testing.assert_array_equal(got[:, 1], F[:, 1])
    assert v == pytest.approx(viol, rel=1e-10)


def test_hals_large_l1_gives_zero_rows_and_empty_inputs_do_nothing(rng):
    G = np.eye(3) + 0.1
    Bt = rng.rand(3, 4)
    order = np.arange(3, dtype=np.int64)
    F = rng.rand(4, 3)
    # the penalty equals the largest linear term: every coordinate goes to zero
    nmf.hals_rows(F, G, Bt, float(Bt.max()), 0.0, order, 20, 1e-12, True, np.empty(3))
    np.testing.assert_array_equal(F, 0.0)
    empty = np.zeros((0, 3))
    assert nmf.hals_rows(empty, G, np.zeros((3, 0)), 0.0, 0.0, order, 5, 1e-6, True,
                         np.empty(3)) == 0.0


# ------------------------------------------------------------------ ratings
def test_als_rows_a_user_without_ratings_gets_zero_factors(rng):
    import scipy.sparse as sp

    dense = np.array([[4.0, 0.0, 3.0], [0.0, 0.0, 0.0], [1.0, 5.0, 0.0]])
    X = sp.csr_matrix(dense)
    mask = dense != 0
    Q = rng.standard_normal((3, 2))
    bi = rng.standard_normal(3)
    mu = X.data.mean()
    P = np.full((3, 2), 9.0)
    bu = np.full(3, 9.0)
    ratings.als_rows(np.arange(3), X.indptr, X.indices, X.data, mu, bi, Q, 0.1, 0.2,
                     np.diff(X.indptr).astype(float), P, bu, True)
    P_ref, bu_ref = naive_ratings.als_rows(dense, mask, mu, bi, Q, 0.1, 0.2, True)
    np.testing.assert_allclose(P, P_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bu, bu_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(P[1], 0.0)
    assert bu[1] == 0.0


def test_predictions_clipped_exactly_at_the_bounds():
    P = np.array([[1.0], [0.0]])
    Q = np.array([[10.0], [0.0]])
    users = np.array([0, 0, 1], dtype=np.int64)
    items = np.array([0, 1, 1], dtype=np.int64)
    out = np.empty(3)
    # mu 3: 3 + 10 = 13 clipped to 5; 3 inside; 3 - 2 = 1 (on the lower bound) kept
    ratings.predict_pairs(users, items, 3.0, P, Q, np.array([0.0, -2.0]),
                          np.array([0.0, 0.0]), 1.0, 5.0, out)
    np.testing.assert_array_equal(out, [5.0, 3.0, 1.0])
    empty = np.zeros(0, dtype=np.int64)
    out = np.empty(0)
    ratings.predict_pairs(empty, empty, 3.0, P, Q, np.zeros(2), np.zeros(2), 1.0, 5.0, out)
    assert ratings.squared_errors(empty, empty, np.zeros(0), 3.0, P, Q, np.zeros(2),
                                  np.zeros(2), 1.0, 5.0) == 0.0


# ------------------------------------------------------------ checks, tensor
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_first_nonfinite_row_edges(dtype, bad):
    X = np.zeros((4, 3), dtype=dtype)
    assert checks.first_nonfinite_row(X, 0, 4) == -1
    assert checks.first_nonfinite_row(X, 2, 2) == -1  # an empty range
    X[3, 2] = bad
    assert checks.first_nonfinite_row(X, 0, 4) == 3
    assert checks.first_nonfinite_row(X, 0, 3) == -1  # the bad row is outside the range
    first, total = checks.scan_rows(X, 0, 4)
    assert first == 3 and total == 0.0
    assert checks.first_nonfinite_row(np.zeros((2, 0), dtype=dtype), 0, 2) == -1


def test_scan_rows_overflow_and_largest_finite(dtype):
    big = np.finfo(dtype).max
    X = np.array([[big, big], [1.0, 2.0]], dtype=dtype)
    first, total = checks.scan_rows(X, 0, 2)
    assert first == -1
    assert total == (np.inf if dtype == np.float64 else 2 * float(big) ** 2 + 5.0)


def test_fill_missing_all_or_nothing_observed(rng):
    X = rng.standard_normal(6)
    X_hat = rng.standard_normal(6)
    out = np.empty(6)
    total = tensor.fill_missing(X, X_hat, np.ones(6, dtype=bool), out)
    np.testing.assert_array_equal(out, X)
    assert total == pytest.approx(np.sum((X - X_hat) ** 2), rel=1e-12)
    X_nan = np.full(6, np.nan)
    total = tensor.fill_missing(X_nan, X_hat, np.zeros(6, dtype=bool), out)
    np.testing.assert_array_equal(out, X_hat)
    assert total == 0.0
    empty = np.zeros(0)
    assert tensor.fill_missing(empty, empty, np.zeros(0, dtype=bool), empty.copy()) == 0.0
