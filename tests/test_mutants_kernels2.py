"""Kernel cases written to kill the mutants of the code, NMF, ratings and signal kernels.

``python tools/mutation.py nimf/_kernels/codes.py`` (and ``nmf.py``, ``ratings.py``,
``signal.py``) plants one small bug at a time in a kernel; the tests here reach what
random inputs never do: exact pass counts of the stopping rules, moves of exactly one,
atoms of zero curvature with a non-zero correlation, tolerances of zero.
"""

import numpy as np
import pytest

import naive_nmf
from nimf._kernels import codes, nmf


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


# ------------------------------------------------------------------------- NMF
def _dyadic(rng, shape, low, high, step=0.25):
    """Random multiples of ``step`` in [low, high]: exact ties, ones and zeros abound."""
    return rng.randint(int(low / step), int(high / step) + 1, size=shape) * step


def _dyadic_problem(rng, n, k):
    A = _dyadic(rng, (k + 1, k), -1.0, 1.0, step=0.5)
    G = A.T @ A  # positive semi-definite, exact, often with entries of 1 and 0
    F = _dyadic(rng, (n, k), -1.0, 1.5)
    Bt = _dyadic(rng, (k, n), -2.0, 2.0)
    return F, G, Bt


@pytest.mark.parametrize("positive", [True, False])
def test_hals_rows_on_exact_dyadic_problems_matches_reference(positive):
    # small problems whose numbers are exact in binary: the coordinates meet the
    # thresholds, the value 1 and zero exactly, and the kernel (gradient kept up to
    # date) must agree with the reference (gradient recomputed) to the last bit
    rng = np.random.RandomState(17)
    for trial in range(150):
        n, k = rng.randint(1, 4), rng.randint(1, 4)
        F, G, Bt = _dyadic_problem(rng, n, k)
        if positive:
            F = np.abs(F)
        l1, l2 = rng.choice([0.0, 0.5, 1.0]), rng.choice([0.0, 0.5, 1.0])
        sweeps = rng.randint(1, 6)
        inner_tol = rng.choice([0.0, 0.25, 0.5, 1.0])
        order = rng.permutation(k).astype(np.int64)
        expected, viol = naive_nmf.hals_rows(F, G, Bt, l1, l2, order, sweeps, inner_tol,
                                             positive)
        got = F.copy()
        v = nmf.hals_rows(got, G, Bt, l1, l2, order, sweeps, inner_tol, positive,
                          np.empty(k))
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12,
                                   err_msg=f"trial {trial}")
        assert v == pytest.approx(viol, rel=1e-12, abs=1e-12), trial
        if positive:
            assert got.min() >= 0.0


def test_hals_rows_stops_on_the_relative_move():
    # G = [[1, .5], [.5, 1]], b = [1, 0] from zero, signed: the sweeps move the row by
    # 1.25, then 0.078125 (= 0.0625 * 1.25), then 0.0048828125
    G = np.array([[1.0, 0.5], [0.5, 1.0]])
    Bt = np.array([[1.0], [0.0]])
    order = np.arange(2, dtype=np.int64)

    def run(inner_tol, max_sweeps=10):
        F = np.zeros((1, 2))
        nmf.hals_rows(F, G, Bt, 0.0, 0.0, order, max_sweeps, inner_tol, False, np.empty(2))
        return F[0]

    # a tie: the second move is exactly inner_tol^2 times the first, so it stops
    np.testing.assert_array_equal(run(0.25), [1.25, -0.625])
    # a smaller tolerance takes the third sweep and stops there
    np.testing.assert_array_equal(run(0.1), [1.3125, -0.65625])
    # one sweep only: the first
    np.testing.assert_array_equal(run(0.0, max_sweeps=1), [1.0, -0.5])


def test_hals_columns_on_exact_dyadic_problems_matches_reference():
    rng = np.random.RandomState(3)
    for trial in range(100):
        m, k = rng.randint(1, 5), rng.randint(1, 4)
        F, G, Bt = _dyadic_problem(rng, m, k)
        F = np.abs(F)
        l1, l2 = rng.choice([0.0, 0.5, 1.0]), rng.choice([0.0, 0.5, 1.0])
        sweeps = rng.randint(1, 5)
        order = rng.permutation(k).astype(np.int64)
        # fixed sweeps: the row reference with no early stop (inner_tol = 0 only stops
        # once nothing moves, after which further sweeps change nothing)
        expected, viol = naive_nmf.hals_rows(F, G, Bt, l1, l2, order, sweeps, 0.0, True)
        Ft = np.ascontiguousarray(F.T)
        R = G @ Ft - Bt
        v = nmf.hals_columns(Ft, G, R, l1, l2, order, sweeps, np.empty(m))
        np.testing.assert_allclose(Ft.T, expected, rtol=1e-12, atol=1e-12,
                                   err_msg=f"trial {trial}")
        assert v == pytest.approx(viol, rel=1e-12, abs=1e-12), trial
        # the gradients are kept up to date, exactly
        np.testing.assert_allclose(R, G @ Ft - Bt, rtol=1e-12, atol=1e-12)


def test_frobenius_from_stats_small_and_zero_losses():
    rng = np.random.RandomState(0)
    W = rng.rand(6, 2)
    H = rng.rand(2, 5)
    for noise in (0.0, 1e-2, 0.1):
        X = W @ H + noise * rng.standard_normal((6, 5))
        value = nmf.frobenius_from_stats(float(np.sum(X ** 2)), W.T @ X, H, W.T @ W, H @ H.T)
        expected = 0.5 * np.sum((X - W @ H) ** 2)
        assert expected < 1.0
        assert value == pytest.approx(expected, abs=1e-12 * np.sum(X ** 2))
        assert value >= 0.0


@pytest.mark.parametrize("beta", [2.0, 1.0, 0.0])
def test_mu_ratio_at_the_special_betas(beta):
    # beta = 2 (Frobenius): num = X, den = WH; beta = 1: X / WH and 1; beta = 0: X / WH^2
    # and 1 / WH; entries of WH below eps are raised to eps
    eps = 1e-3
    X = np.array([[1.0, 2.0, 0.0], [3.0, 0.5, 4.0]])
    WH = np.array([[0.5, 2.0, 1.0], [0.0, 4.0, 1e-4]])
    num, den = np.empty_like(X), np.empty_like(X)
    nmf.mu_ratio(X, WH, beta, eps, num, den)
    V = np.maximum(WH, eps)
    np.testing.assert_allclose(num, X * V ** (beta - 2.0), rtol=1e-14)
    np.testing.assert_allclose(den, V ** (beta - 1.0), rtol=1e-14)


def test_hals_columns_dead_component_counts_in_the_violation_and_stays_put():
    # component 1 of the other factor is zero: G[1, 1] = 0 and no ridge; its entries of
    # Ft stay as they are, and their projected gradients (R + l1) count in the first-
    # sweep violation exactly as in hals_rows
    G = np.array([[2.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 2.0]])
    Ft = np.array([[0.5, 0.0, 1.0, 2.0], [0.25, 0.0, 1.0, 0.0], [0.0, 1.5, 0.5, 1.0]])
    Bt = np.array([[1.0, 2.0, 0.5, 3.0], [0.5, 1.0, -1.0, 0.0], [2.0, 0.0, 1.0, 1.0]])
    order = np.array([2, 1, 0], dtype=np.int64)
    for sweeps in (1, 3):
        expected, viol = naive_nmf.hals_rows(Ft.T, G, Bt, 0.5, 0.0, order, sweeps, 0.0, True)
        rows = np.ascontiguousarray(Ft.T)
        v_rows = nmf.hals_rows(rows, G, Bt, 0.5, 0.0, order, sweeps, 0.0, True, np.empty(3))
        got = Ft.copy()
        R = G @ got - Bt
        v = nmf.hals_columns(got, G, R, 0.5, 0.0, order, sweeps, np.empty(4))
        np.testing.assert_array_equal(got[1], Ft[1])
        np.testing.assert_allclose(got.T, expected, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(rows, expected, rtol=1e-13, atol=1e-13)
        assert v == pytest.approx(viol, rel=1e-13) and v_rows == pytest.approx(viol, rel=1e-13)
        # the dead row: gradients -Bt[1] + 0.5 = [0, -0.5, 1.5, 0.5] at [0.25, 0, 1, 0]:
        # 0 + 0.5 (negative at a zero) + 1.5 + 0 (positive at a zero) = 2; the live rows,
        # not coupled to it, give what they give without it
        live = [0, 2]
        v_live = nmf.hals_columns(Ft[live].copy(), G[np.ix_(live, live)],
                                  G[np.ix_(live, live)] @ Ft[live] - Bt[live], 0.5, 0.0,
                                  np.array([1, 0], dtype=np.int64), sweeps, np.empty(4))
        assert v == pytest.approx(v_live + 2.0, rel=1e-13)


def test_hals_rows_first_sweep_moving_by_exactly_one_goes_on():
    # two uncoupled pairs, each moved by (0.5, 0.5) in the first sweep: the squared
    # move of the first sweep is exactly 1, and the second sweep still moves
    block = np.array([[1.0, 0.5], [0.5, 1.0]])
    G = np.kron(np.eye(2), block)
    Bt = np.array([[0.5], [0.75], [0.5], [0.75]])
    order = np.arange(4, dtype=np.int64)
    for positive in (True, False):
        F = np.zeros((1, 4))
        nmf.hals_rows(F, G, Bt, 0.0, 0.0, order, 2, 0.0, positive, np.empty(4))
        # sweep 1: a0 = 0.5, a1 = 0.75 - 0.25 = 0.5; sweep 2: a0 = 0.5 - 0.25 = 0.25,
        # a1 = 0.75 - 0.125 = 0.625
        np.testing.assert_array_equal(F, [[0.25, 0.625, 0.25, 0.625]])


# ----------------------------------------------------------------------- signal
_SIGNAL_SCRIPT = r"""
import numpy as np
from scipy import ndimage

from nimf.neuro._signal import _extract_volume

rng = np.random.RandomState(0)
# more than one block of 256 contiguous values (9 x 30 per line), more than 64 voxels
shape = (6, 5, 9, 30)
data = rng.standard_normal(shape)
mask = rng.rand(*shape[:3]) < 0.6
mask[-1, -1, -1] = mask[0, 0, 0] = True  # the corners: the last line of each axis
layouts = {
    "voxel-major": data,
    "scan-major": np.ascontiguousarray(data.transpose(3, 0, 1, 2)).transpose(1, 2, 3, 0),
}
frames = np.array([3, 0, 29, 7])
n_checked = 0
for name, array in layouts.items():
    for sigmas in [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 0.0),
                   (0.0, 1.0, 1.5), (1.0, 0.0, 1.0), (0.7, 1.2, 0.9), (0.0, 0.0, 0.0)]:
        for frame_set in (None, frames):
            got = _extract_volume(array, mask, np.array(sigmas), np.float64, frame_set)
            ref = data
            for axis, sigma in enumerate(sigmas):
                if sigma > 0:
                    ref = ndimage.gaussian_filter1d(ref, sigma, axis=axis, mode="reflect",
                                                    truncate=4.0)
            ref = ref[mask].T
            if frame_set is not None:
                ref = ref[frame_set]
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name} {sigmas} {frame_set}")
            n_checked += 1
print("checked", n_checked)
"""


def test_signal_kernels_stay_inside_their_arrays(tmp_path):
    # numba does not check indices: a kernel reading or writing past an array can still
    # give the right numbers (or corrupt memory silently).  Compiled with bounds checks
    # (a fresh cache, in a separate process), every pass of both layouts, with and
    # without each axis smoothed and with frames picked, must index within its arrays
    # and match scipy.ndimage
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path),
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _SIGNAL_SCRIPT], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["checked", "32"]
