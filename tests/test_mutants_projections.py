"""Edge cases of the elastic-net projections that random inputs never reach.

Written to kill the mutants of ``nimf/_kernels/projections.py`` that
``tests/test_projections.py`` lets live (``python tools/mutation.py
nimf/_kernels/projections.py``): entries tied with a threshold, the norm of a
vector with several entries, a support already inside the ball.
"""

import numpy as np
import pytest

import naive
from nimf._kernels import projections as proj


@pytest.mark.parametrize("l1_ratio", [0.0, 0.3, 1.0])
def test_enet_norm_sums_every_entry(dtype, l1_ratio):
    v = np.array([3.0, -1.0, 0.5, -2.0], dtype=dtype)
    expected = (1 - l1_ratio) * 14.25 + l1_ratio * 6.5
    assert proj.enet_norm(v, l1_ratio) == pytest.approx(expected, rel=1e-6)
    assert proj.enet_norm(v, l1_ratio) == pytest.approx(naive.enet_norm(v, l1_ratio), rel=1e-6)


@pytest.mark.parametrize("positive", [False, True])
def test_l1_projection_with_an_entry_tied_to_the_first_threshold(dtype, positive):
    # |u| sums to 8 and the radius is 2: the first threshold (8 - 2) / 3 = 2 equals
    # the second entry, which lies outside the support (the exact threshold is 3)
    u = np.array([5.0, -2.0, 1.0], dtype=dtype)
    if positive:
        u[1] = 2.0
    out = np.empty_like(u)
    work = np.empty_like(u)
    norm = proj.project_enet_ball(u, out, 2.0, 1.0, positive, work)
    np.testing.assert_allclose(out, [2.0, 0.0, 0.0], atol=1e-6)
    assert norm == pytest.approx(2.0)
    np.testing.assert_allclose(out, naive.project_enet_ball(u, 2.0, 1.0, positive), atol=1e-6)


def test_support_root_is_zero_when_the_support_is_inside_the_ball():
    # a0 = r - (1 - nu) s2 - nu s1 >= 0: no positive multiplier, the root is 0
    assert proj._support_root(3, 0.5, 0.1, 1.0, 0.5) == 0.0
    assert proj._support_root(2, 1.0, 1.0, 1.0, 0.5) == 0.0   # a0 = 0 exactly
    # and positive when the support is outside: the root solves the quadratic
    m, s1, s2, r, nu = 2, 3.0, 5.0, 1.0, 0.5
    lam = proj._support_root(m, s1, s2, r, nu)
    a1 = m * nu * nu + 4 * r * (1 - nu)
    assert lam > 0
    assert (1 - nu) * a1 * lam ** 2 + a1 * lam + r - (1 - nu) * s2 - nu * s1 == pytest.approx(0.0, abs=1e-12)
