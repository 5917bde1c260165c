import numpy as np
import pytest
from sklearn.linear_model import ElasticNet

import naive
from nimf._kernels import codes as kcodes


def _problem(rng, k=6, p=40, n=5, dtype=np.float64):
    D = rng.standard_normal((k, p))
    X = rng.standard_normal((n, k)) @ D + 0.5 * rng.standard_normal((n, p))
    return (D @ D.T).astype(dtype), (X @ D.T).astype(dtype), D, X


def _solve(G, beta, l1, l2, positive, warm=None):
    codes = np.zeros_like(beta) if warm is None else warm.copy()
    n_iter = kcodes.enet_coordinate_descent_gram(
        G, beta, codes, l1, l2, positive, 1000, 1e-12, np.empty(G.shape[0], G.dtype))
    return codes, n_iter


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("l1,l2", [(5.0, 0.0), (5.0, 3.0), (0.0, 3.0), (40.0, 1.0)])
def test_coordinate_descent_matches_reference(rng, dtype, positive, l1, l2):
    G, beta, _, _ = _problem(rng, dtype=dtype)
    codes, n_iter = _solve(G, beta, l1, l2, positive)
    assert codes.dtype == dtype
    expected = naive.enet_codes(G, beta, l1, l2, positive)
    tol = 1e-7 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(codes, expected, atol=tol * max(1, np.abs(expected).max()))
    # and the objective is no worse than the reference's
    got = naive.code_objective(G.astype(float), beta.astype(float), codes, l1, l2)
    ref = naive.code_objective(G.astype(float), beta.astype(float), expected, l1, l2)
    assert np.all(got <= ref + 1e-6 * np.abs(ref).max())
    if positive:
        assert np.all(codes >= 0)


def test_coordinate_descent_agrees_with_sklearn_elastic_net(rng):
    G, beta, D, X = _problem(rng, k=8, p=60, n=3)
    p = D.shape[1]
    for alpha, l1_ratio, positive in [(0.05, 0.5, False), (0.02, 1.0, True), (0.1, 0.2, False)]:
        # sklearn: 1/(2p)||x - D'a||^2 + alpha l1_ratio |a|_1 + alpha (1-l1_ratio)/2 |a|^2
        l1 = p * alpha * l1_ratio
        l2 = p * alpha * (1 - l1_ratio)
        codes, _ = _solve(G, beta, l1, l2, positive)
        for i in range(X.shape[0]):
            en = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=False,
                            positive=positive, tol=1e-12, max_iter=100000)
            en.fit(D.T, X[i])
            np.testing.assert_allclose(codes[i], en.coef_, atol=1e-6)


def test_warm_start_gives_same_solution(rng):
    G, beta, _, _ = _problem(rng)
    cold, _ = _solve(G, beta, 3.0, 1.0, False)
    warm, n_iter = _solve(G, beta, 3.0, 1.0, False, warm=cold)
    np.testing.assert_allclose(warm, cold, atol=1e-10)
    assert n_iter <= 2


def test_huge_penalty_gives_zero_codes(rng):
    G, beta, _, _ = _problem(rng)
    codes, _ = _solve(G, beta, 1e12, 0.0, False)
    assert np.all(codes == 0)
