import numpy as np
import pytest
from conftest import rtol_for

import naive
from nimf._kernels import projections as proj


def _project(u, radius, l1_ratio, positive):
    out = np.empty_like(u)
    work = np.empty_like(u)
    norm = proj.project_enet_ball(u, out, radius, l1_ratio, positive, work)
    return out, norm


@pytest.mark.parametrize("l1_ratio", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("radius", [1e-3, 0.3, 1.0, 50.0])
def test_projection_matches_reference(rng, dtype, l1_ratio, positive, radius):
    for n in (1, 2, 7, 300):
        u = rng.standard_normal(n).astype(dtype)
        out, norm = _project(u, radius, l1_ratio, positive)
        expected = naive.project_enet_ball(u, radius, l1_ratio, positive)
        assert out.dtype == dtype
        atol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(out, expected, rtol=rtol_for(dtype) * 100, atol=atol)
        assert naive.enet_norm(out, l1_ratio) <= radius * (1 + 1e-5) + 1e-7
        assert norm == pytest.approx(naive.enet_norm(out, l1_ratio), rel=1e-4, abs=1e-7)
        if positive:
            assert np.all(out >= 0)


def test_projection_is_identity_inside_the_ball(rng):
    u = rng.standard_normal(50) * 1e-3
    out, _ = _project(u, 1.0, 0.5, False)
    np.testing.assert_array_equal(out, u)


def test_projection_lands_on_the_sphere_and_is_closest(rng):
    u = rng.standard_normal(200)
    out, norm = _project(u, 2.0, 0.7, False)
    assert norm == pytest.approx(2.0, rel=1e-10)
    # no other feasible point among random perturbations is closer to u
    dist = np.linalg.norm(u - out)
    for _ in range(200):
        cand = out + 1e-3 * rng.standard_normal(200)
        cand_proj = naive.project_enet_ball(cand, 2.0, 0.7)
        assert np.linalg.norm(u - cand_proj) >= dist - 1e-12


def test_projection_handles_ties_and_zeros():
    u = np.array([1.0, 1.0, 1.0, 0.0, -1.0, 0.0])
    out, _ = _project(u, 1.5, 1.0, False)
    np.testing.assert_allclose(out, naive.project_enet_ball(u, 1.5, 1.0), atol=1e-14)
    out, norm = _project(np.zeros(4), 1.0, 0.5, False)
    assert np.all(out == 0) and norm == 0
    out, norm = _project(-np.ones(4), 1.0, 0.5, True)
    assert np.all(out == 0) and norm == 0


def test_zero_radius_gives_zero(rng):
    out, norm = _project(rng.standard_normal(10), 0.0, 0.5, False)
    assert np.all(out == 0) and norm == 0


def test_projection_can_work_in_place(rng):
    u = rng.standard_normal(100)
    expected = naive.project_enet_ball(u, 0.5, 0.5)
    work = np.empty_like(u)
    proj.project_enet_ball(u, u, 0.5, 0.5, False, work)
    np.testing.assert_allclose(u, expected, atol=1e-12)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_enet_scale_rows_puts_rows_on_the_sphere(rng, dtype, l1_ratio):
    D = rng.standard_normal((5, 40)).astype(dtype)
    D[2] = 0
    signs = np.sign(D)
    proj.enet_scale_rows(D, 1.0, l1_ratio)
    for j in (0, 1, 3, 4):
        assert naive.enet_norm(D[j], l1_ratio) == pytest.approx(1.0, rel=1e-4)
    assert np.all(D[2] == 0)
    np.testing.assert_array_equal(np.sign(D), signs)
