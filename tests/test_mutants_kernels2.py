"""Kernel cases written to kill the mutants of the code, NMF, ratings and signal kernels.

``python tools/mutation.py nimf/_kernels/codes.py`` (and ``nmf.py``, ``ratings.py``,
``signal.py``) plants one small bug at a time in a kernel; the tests here reach what
random inputs never do: exact pass counts of the stopping rules, moves of exactly one,
atoms of zero curvature with a non-zero correlation, tolerances of zero.
"""

import numpy as np
import pytest

from nimf._kernels import codes


# ------------------------------------------------------------------------ codes
def _codes(G, beta, l1=0.0, l2=0.0, positive=False, max_iter=50, tol=0.0, warm=None):
    G = np.asarray(G, dtype=np.float64)
    beta = np.atleast_2d(np.asarray(beta, dtype=np.float64))
    out = np.zeros_like(beta) if warm is None else np.array(warm, dtype=np.float64)
    n_iter = codes.enet_coordinate_descent_gram(G, beta, out, l1, l2, positive, max_iter, tol,
                                                np.empty(G.shape[0]))
    return out, n_iter


def test_codes_orthonormal_atoms_take_one_pass_and_one_check():
    # G = I: the first pass lands on the solution, the second moves nothing and stops
    out, n_iter = _codes(np.eye(3), [[1.0, 2.0, -3.0]], max_iter=50, tol=0.0)
    np.testing.assert_array_equal(out, [[1.0, 2.0, -3.0]])
    assert n_iter == 2
    # the same with the soft threshold and the ridge: (|beta| - l1) / (1 + l2), signed
    out, n_iter = _codes(np.eye(3), [[3.0, -5.0, 0.5]], l1=1.0, l2=1.0, tol=0.0)
    np.testing.assert_array_equal(out, [[1.0, -2.0, 0.0]])
    assert n_iter == 2


def test_codes_a_move_of_exactly_one_is_made():
    # from zero to one: a move of exactly 1.0 (and a largest code of exactly 1.0)
    out, n_iter = _codes(np.eye(2), [[1.0, 0.0]], tol=0.0)
    np.testing.assert_array_equal(out, [[1.0, 0.0]])
    assert n_iter == 2
    out, n_iter = _codes(np.eye(1), [[1.0]], tol=1e-3)
    np.testing.assert_array_equal(out, [[1.0]])
    assert n_iter == 2


def test_codes_tolerance_is_relative_to_the_largest_code():
    # a code of 1e-3 moved by 1e-3 in the first pass: not converged for tol=0.5 (the
    # move is twice tol times the code); the second pass moves nothing
    out, n_iter = _codes(np.eye(1), [[1e-3]], tol=0.5)
    np.testing.assert_allclose(out, [[1e-3]], rtol=0, atol=0)
    assert n_iter == 2
    # a large code: the first pass is followed by a pass with no move as well
    out, n_iter = _codes(np.eye(1), [[10.0]], tol=0.05)
    assert n_iter == 2 and out[0, 0] == 10.0


def test_codes_zero_tolerance_runs_until_nothing_moves():
    # coupled atoms: cyclic descent converges geometrically; with tol=0 it stops only
    # when a pass moves nothing, long before max_iter, at the exact minimiser
    G = np.array([[2.0, 1.0], [1.0, 2.0]])
    beta = np.array([[1.0, 1.0]])
    out, n_iter = _codes(G, beta, max_iter=10000, tol=0.0)
    np.testing.assert_allclose(out, [[1 / 3, 1 / 3]], rtol=1e-15)
    assert 2 < n_iter < 10000


def test_codes_max_iter_caps_the_passes():
    G = np.array([[2.0, 1.0], [1.0, 2.0]])
    beta = np.array([[1.0, 1.0]])
    out, n_iter = _codes(G, beta, max_iter=3, tol=0.0)
    assert n_iter == 3
    # three passes by hand: a0 = 1/2, a1 = 1/4; a0 = 3/8, a1 = 5/16; a0 = 11/32, a1 = 21/64
    np.testing.assert_array_equal(out, [[11 / 32, 21 / 64]])


def test_codes_no_pass_leaves_the_warm_start_and_counts_zero():
    warm = np.array([[0.25, -0.5, 2.0]])
    out, n_iter = _codes(np.eye(3), [[1.0, 2.0, 3.0]], max_iter=0, warm=warm)
    np.testing.assert_array_equal(out, warm)
    assert n_iter == 0


def test_codes_zero_curvature_atom_with_a_correlation_stays_zero():
    # an atom of zero norm (G[1, 1] = 0) without a ridge: its objective -beta a + l1 |a|
    # has no minimiser, and the kernel leaves that code at zero rather than dividing by 0
    # (estimated correlations can be non-zero while the atom is already zero)
    G = np.diag([1.0, 0.0])
    for positive in (False, True):
        out, n_iter = _codes(G, [[2.0, 3.0]], l1=0.5, l2=0.0, positive=positive)
        np.testing.assert_array_equal(out, [[1.5, 0.0]])
        out, _ = _codes(G, [[2.0, -3.0]], l1=0.5, l2=0.0, positive=positive)
        np.testing.assert_array_equal(out, [[1.5, 0.0]])
    # with a ridge the same atom gets the ridge solution (3 - 0.5) / 0.5
    out, _ = _codes(G, [[2.0, 3.0]], l1=0.5, l2=0.5)
    np.testing.assert_array_equal(out, [[1.0, 5.0]])


def test_codes_small_curvature_is_not_taken_for_zero():
    # G[j, j] + l2 below one still divides: 0.5 a = 0.25 gives a = 0.5
    out, _ = _codes(np.eye(2) * 0.5, [[0.25, -0.125]], tol=0.0)
    np.testing.assert_array_equal(out, [[0.5, -0.25]])


@pytest.mark.parametrize("positive", [False, True])
def test_codes_worst_sample_sets_the_count(positive):
    # sample 0 is solved in 2 passes, sample 1 needs many: n_iter is the larger
    G = np.array([[2.0, 1.0], [1.0, 2.0]])
    _, n_easy = _codes(G, [[0.0, 0.0]], positive=positive)
    _, n_hard = _codes(G, [[1.0, 1.0]], positive=positive, max_iter=10000)
    _, n_both = _codes(G, [[1.0, 1.0], [0.0, 0.0]], positive=positive, max_iter=10000)
    assert n_easy == 1  # nothing moves, every code is zero: stop after one pass
    assert n_both == n_hard > 2
