"""NMF: kernels against references, objectives, ground truth, contract, bad input."""
import re
import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import NMF as SklearnNMF
from sklearn.decomposition._nmf import _initialize_nmf
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

import naive_nmf as naive
from nimf._kernels import nmf as kernels
from nimf.decomposition.nmf import NMF, _penalties, beta_divergence, nndsvd


def planted(rng, n=120, p=90, k=4, density=0.4, noise=0.0):
    W = rng.rand(n, k) * (rng.rand(n, k) < density)
    H = rng.rand(k, p) * (rng.rand(k, p) < density)
    # every component is used and has support
    W[np.arange(k), np.arange(k)] += 1.0
    H[np.arange(k), np.arange(k)] += 1.0
    X = W @ H + noise * rng.rand(n, p)
    return X, W, H


def matched_cosine(found, truth):
    """Mean cosine of the Hungarian matching of found to true rows."""
    f = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-300)
    t = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    sim = t @ f.T
    r, c = linear_sum_assignment(-sim)
    return sim[r, c].mean()


def tol_for(dtype):
    return 1e-9 if np.dtype(dtype) == np.float64 else 2e-3


# ------------------------------------------------------------------ kernels
@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize("sweeps,l1,l2", [(1, 0.0, 0.0), (4, 0.3, 0.0), (7, 0.1, 0.5)])
def test_hals_rows_matches_reference(rng, dtype, positive, sweeps, l1, l2):
    n, k = 15, 5
    A = rng.rand(30, k).astype(dtype)
    G = (A.T @ A).astype(dtype)
    Bt = rng.randn(k, n).astype(dtype) * 3
    F = np.abs(rng.randn(n, k)).astype(dtype)
    F[rng.rand(n, k) < 0.3] = 0
    order = rng.permutation(k).astype(np.int64)
    expected, viol_expected = naive.hals_rows(F, G, Bt, l1, l2, order, sweeps, 0.1, positive)
    out = F.copy()
    viol = kernels.hals_rows(out, G, Bt, l1, l2, order, sweeps, 0.1, positive, np.empty(k))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=tol_for(dtype), atol=tol_for(dtype))
    np.testing.assert_allclose(viol, viol_expected, rtol=tol_for(dtype) * 10)
    if positive:
        assert out.min() >= 0


def test_hals_rows_solves_the_row_problems(rng):
    """Many sweeps reach the non-negative least-squares solution of each row."""
    from scipy.optimize import nnls
    k = 4
    H = rng.rand(k, 25)
    X = rng.rand(6, 25)
    W = np.zeros((6, k))
    kernels.hals_rows(W, H @ H.T, H @ X.T, 0.0, 0.0, np.arange(k), 2000, 0.0, True,
                      np.empty(k))
    for i in range(6):
        np.testing.assert_allclose(W[i], nnls(H.T, X[i])[0], atol=1e-6)


def test_frobenius_from_stats_matches_residual(rng, dtype):
    X = rng.rand(20, 12).astype(dtype)
    W = rng.rand(20, 3).astype(dtype)
    H = rng.rand(3, 12).astype(dtype)
    value = kernels.frobenius_from_stats(float(np.sum(X.astype(np.float64) ** 2)),
                                         W.T @ X, H, W.T @ W, H @ H.T)
    np.testing.assert_allclose(value, naive.objective(X, W, H), rtol=tol_for(dtype) * 10)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.5, 3.0])
def test_mu_ratio_matches_reference(rng, dtype, beta):
    X = rng.rand(8, 6).astype(dtype)
    X[0, 0] = 0
    WH = rng.rand(8, 6).astype(dtype)
    WH[1, 1] = 0  # clipped at epsilon, no division by zero
    num, den = np.empty_like(X), np.empty_like(X)
    kernels.mu_ratio(X, WH, beta, naive.EPSILON, num, den)
    num_ref, den_ref = naive.mu_ratio(X, WH, beta)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(num, num_ref.astype(dtype), rtol=rtol)
    np.testing.assert_allclose(den, den_ref.astype(dtype), rtol=rtol)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0, 3.0])
def test_beta_divergence_matches_reference(rng, beta):
    X = rng.rand(7, 5) + 0.1
    W, H = rng.rand(7, 2), rng.rand(2, 5)
    np.testing.assert_allclose(beta_divergence(X, W, H, beta),
                               naive.beta_divergence(X, W @ H, beta), rtol=1e-10)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0, 3.0])
def test_one_mu_step_matches_reference(rng, beta):
    X = rng.rand(10, 8) + 0.05
    W0, H0 = rng.rand(10, 3) + 0.1, rng.rand(3, 8) + 0.1
    est = NMF(3, init="custom", solver="mu", beta_loss=beta, max_iter=1, tol=0,
              alpha_W=0.01, l1_ratio=0.5)
    W = est.fit_transform(X, W=W0.copy(), H=H0.copy())
    l1_W, l1_H, l2_W, l2_H = _penalties(0.01, 0.01, 0.5, 10, 8)
    W_ref = naive.mu_step_W(X, W0, H0, beta, l1_W, l2_W)
    Ht_ref = naive.mu_step_W(X.T, H0.T, W_ref.T, beta, l1_H, l2_H)
    np.testing.assert_allclose(W, W_ref, rtol=1e-10)
    np.testing.assert_allclose(est.components_, Ht_ref.T, rtol=1e-10)


def test_nndsvd_matches_sklearn(rng):
    X, _, _ = planted(rng, n=40, p=30, k=5, noise=0.05)
    W, H = nndsvd(X, 5, variant="nndsvd", random_state=0)
    W_sk, H_sk = _initialize_nmf(X, 5, init="nndsvd", random_state=0)
    np.testing.assert_allclose(W, W_sk, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(H, H_sk, rtol=1e-8, atol=1e-10)
    # nndsvda: the same non-zero entries, zeros filled with sqrt(mean / k)
    # (scikit-learn fills them with the mean of X)
    Wa, Ha = nndsvd(X, 5, variant="nndsvda", random_state=0)
    fill = np.sqrt(X.mean() / 5)
    np.testing.assert_allclose(Wa, np.where(W == 0, fill, W), rtol=1e-12)
    np.testing.assert_allclose(Ha, np.where(H == 0, fill, H), rtol=1e-12)
    assert (W == 0).any() and (H == 0).any()


@pytest.mark.parametrize("variant", ["nndsvd", "nndsvda", "nndsvdar"])
def test_nndsvd_start_scales_with_the_data(rng, variant):
    # the factors of c X are sqrt(c) times those of X, fill values included
    X, _, _ = planted(rng, n=40, p=30, k=5, noise=0.05)
    for c in (1e-6, 1e4):
        W, H = nndsvd(X, 5, variant=variant, random_state=0)
        Wc, Hc = nndsvd(c * X, 5, variant=variant, random_state=0)
        np.testing.assert_allclose(Wc, np.sqrt(c) * W, rtol=1e-7, atol=1e-12 * np.sqrt(c))
        np.testing.assert_allclose(Hc, np.sqrt(c) * H, rtol=1e-7, atol=1e-12 * np.sqrt(c))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_default_fit_is_invariant_to_the_scale_of_X(rng, dtype, monkeypatch):
    import nimf.decomposition.nmf as nmf_module

    # fitting c X gives c times the product W H of the fit of X, and as many
    # iterations: the start and the stopping rule do not depend on units (in
    # float64 arithmetic: the float32 start of float64 data rounds differently)
    monkeypatch.setattr(nmf_module, "_MIXED_PRECISION_SWITCH", 0)
    X, _, _ = planted(rng, n=60, p=40, k=4, noise=0.05)
    X = X.astype(dtype)
    base = NMF(4, random_state=0)
    WH = base.fit_transform(X) @ base.components_
    for c in (1e-3, 1e3):
        scaled = NMF(4, random_state=0)
        WHc = scaled.fit_transform(c * X) @ scaled.components_
        if dtype == np.float64:
            # (float32 round-off differs with the scale, and so the last iterations)
            assert abs(scaled.n_iter_ - base.n_iter_) <= 1
        rtol = 1e-6 if dtype == np.float64 else 1e-2
        np.testing.assert_allclose(WHc / c, WH, rtol=rtol, atol=rtol * np.abs(WH).max())


# ----------------------------------------------------------- objectives
@pytest.mark.parametrize("alpha,l1_ratio", [(0.0, 0.0), (0.01, 0.0), (0.01, 1.0),
                                            (0.005, 0.5)])
def test_cd_objective_never_increases(rng, alpha, l1_ratio, monkeypatch):
    import nimf.decomposition.nmf as nmf_module

    # the float64 solver itself (the float32 warm start is tested below)
    monkeypatch.setattr(nmf_module, "_MIXED_PRECISION_SWITCH", 0)
    X, _, _ = planted(rng, noise=0.1)
    est = NMF(6, init="random", alpha_W=alpha, l1_ratio=l1_ratio, tol=0, max_iter=40,
              random_state=0)
    W = est.fit_transform(X)
    curve = np.array(est.loss_curve_)
    assert len(curve) == 40
    assert np.all(np.diff(curve) <= 1e-9 * curve[0])
    assert curve[-1] < curve[0]
    pen = _penalties(alpha, alpha, l1_ratio, *X.shape)
    np.testing.assert_allclose(curve[-1], naive.objective(X, W, est.components_, *pen[:2],
                                                          *pen[2:]), rtol=1e-8)
    assert W.min() >= 0 and est.components_.min() >= 0


def test_extrapolation_needs_fewer_iterations(monkeypatch):
    import nimf.decomposition.nmf as nmf_module

    rng = np.random.RandomState(0)
    X = rng.rand(120, 6) @ rng.rand(6, 90) + 0.01 * rng.rand(120, 90)
    kw = dict(n_components=6, tol=0, max_iter=400, random_state=0)
    fast = np.array(NMF(**kw).fit(X).loss_curve_)
    monkeypatch.setattr(nmf_module, "_EXTRAPOLATION", (0.0, 1.0, 1.0, 1.0))
    plain = np.array(NMF(**kw).fit(X).loss_curve_)
    # iterations to an objective that both reach (a slowly converging problem)
    level = 1.2 * plain[-1]
    assert np.argmax(fast <= level) < np.argmax(plain <= level)
    assert fast[-1] < plain[-1]
    # the objective of the pairs kept never goes up
    assert np.all(np.diff(fast) <= 1e-6 * fast[0])


@pytest.mark.parametrize("solver,beta", [("cd", 2), ("mu", 2), ("mu", 1), ("mu", 0.5)])
def test_factors_are_exactly_non_negative(rng, solver, beta):
    X, _, _ = planted(rng, noise=0.05)
    est = NMF(5, solver=solver, beta_loss=beta, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = est.fit_transform(X)
    assert W.min() >= 0 and est.components_.min() >= 0
    assert est.transform(X).min() >= 0


@pytest.mark.parametrize("init", ["nndsvda", "random", "nndsvd"])
@pytest.mark.parametrize("alpha,l1_ratio", [(0.0, 0.0), (0.002, 0.5)])
def test_objective_matches_sklearn_from_same_init(rng, init, alpha, l1_ratio):
    X, _, _ = planted(rng, n=100, p=80, k=6, noise=0.2)
    k = 6
    W0, H0 = _initialize_nmf(X, k, init=init, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SklearnNMF(k, init="custom", solver="cd", alpha_W=alpha, l1_ratio=l1_ratio,
                        max_iter=400)
        W_sk = sk.fit_transform(X, W=W0.copy(), H=H0.copy())
        ours = NMF(k, init="custom", alpha_W=alpha, l1_ratio=l1_ratio, max_iter=400)
        W = ours.fit_transform(X, W=W0.copy(), H=H0.copy())
    pen = _penalties(alpha, alpha, l1_ratio, *X.shape)
    obj_sk = naive.objective(X, W_sk, sk.components_, *pen)
    obj = naive.objective(X, W, ours.components_, *pen)
    assert obj <= obj_sk * 1.01
    if alpha == 0:
        np.testing.assert_allclose(ours.reconstruction_err_, np.linalg.norm(X - W @ ours.components_))


def test_reconstruction_err_definition_matches_sklearn(rng):
    X = rng.rand(12, 9) + 0.1
    W0, H0 = rng.rand(12, 3), rng.rand(3, 9)
    for beta in ["frobenius", "kullback-leibler", "itakura-saito"]:
        ours = NMF(3, init="custom", solver="mu", beta_loss=beta, max_iter=5, tol=0)
        sk = SklearnNMF(3, init="custom", solver="mu", beta_loss=beta, max_iter=5, tol=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours.fit(X, W=W0.copy(), H=H0.copy())
            sk.fit(X, W=W0.copy(), H=H0.copy())
        np.testing.assert_allclose(ours.reconstruction_err_, sk.reconstruction_err_, rtol=1e-6)
        np.testing.assert_allclose(ours.components_, sk.components_, rtol=1e-6)


def test_planted_factors_are_recovered(rng):
    X, W_true, H_true = planted(rng, n=300, p=200, k=5, density=0.3, noise=0.001)
    est = NMF(5, init="nndsvda", tol=1e-6, max_iter=1000, random_state=0)
    W = est.fit_transform(X)
    assert matched_cosine(est.components_, H_true) > 0.95
    assert matched_cosine(W.T, W_true.T) > 0.95
    assert est.reconstruction_err_ < 0.05 * np.linalg.norm(X)


@pytest.mark.parametrize("beta", ["kullback-leibler", "itakura-saito"])
def test_mu_decreases_the_divergence(rng, beta):
    X, _, _ = planted(rng, noise=0.1)
    X = rng.poisson(5 * X).astype(float) + (beta == "itakura-saito")
    est = NMF(4, solver="mu", beta_loss=beta, init="random", tol=0, max_iter=100,
              random_state=0)
    W = est.fit_transform(X)
    curve = np.array(est.loss_curve_)
    assert np.all(np.diff(curve) <= 1e-9 * curve[0])
    assert curve[-1] < 0.8 * curve[0]
    b = {"kullback-leibler": 1, "itakura-saito": 0}[beta]
    np.testing.assert_allclose(curve[-1], naive.beta_divergence(X, W @ est.components_, b),
                               rtol=1e-8)


def test_kl_fits_counts_better_than_frobenius_in_kl(rng):
    X, _, _ = planted(rng, noise=0.1)
    X = rng.poisson(3 * X).astype(float)
    kl = NMF(4, solver="mu", beta_loss="kullback-leibler", max_iter=300, tol=1e-6,
             init="nndsvda", random_state=0)
    fro = NMF(4, init="nndsvda", max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W_kl, W_fro = kl.fit_transform(X), fro.fit_transform(X)
    assert (naive.beta_divergence(X, W_kl @ kl.components_, 1)
            < naive.beta_divergence(X, W_fro @ fro.components_, 1))


def test_semi_nmf_reconstructs_mixed_sign_data(rng):
    H = rng.rand(4, 50) * (rng.rand(4, 50) < 0.5)
    W = rng.randn(80, 4)
    X = W @ H
    assert X.min() < 0
    est = NMF(4, semi=True, init="random", tol=1e-8, max_iter=2000, random_state=0)
    W_est = est.fit_transform(X)
    assert est.components_.min() >= 0
    assert W_est.min() < 0
    assert np.linalg.norm(X - W_est @ est.components_) < 1e-2 * np.linalg.norm(X)
    # transform gives least-squares codes: the same reconstruction
    np.testing.assert_allclose(est.transform(X) @ est.components_, W_est @ est.components_,
                               atol=1e-6 * np.abs(X).max())
    with pytest.raises(ValueError, match="Negative values"):
        NMF(4, semi=False).fit(X)


def test_partial_fit_improves_the_objective(rng):
    X, _, H_true = planted(rng, n=600, p=80, k=4, noise=0.01)
    est = NMF(4, init="random", random_state=0)
    chunks = np.array_split(X, 6)
    est.partial_fit(chunks[0])
    first = np.linalg.norm(X - est.transform(X) @ est.components_)
    for epoch in range(3):
        for chunk in chunks:
            est.partial_fit(chunk)
    last = np.linalg.norm(X - est.transform(X) @ est.components_)
    assert last < 0.7 * first
    assert est.n_steps_ == 19
    assert est.components_.min() >= 0
    # close to the batch fit
    batch = NMF(4, init="nndsvda", random_state=0, max_iter=500).fit(X)
    assert last < 1.5 * batch.reconstruction_err_ + 1e-3 * np.linalg.norm(X)
    assert matched_cosine(est.components_, H_true) > 0.9


def test_seed_determinism(rng):
    X, _, _ = planted(rng, noise=0.1)
    for init in ("random", "nndsvdar"):
        a = NMF(5, init=init, shuffle=True, random_state=3, max_iter=30, tol=0).fit(X)
        b = NMF(5, init=init, shuffle=True, random_state=3, max_iter=30, tol=0).fit(X)
        np.testing.assert_array_equal(a.components_, b.components_)
    c = NMF(5, init="random", random_state=4, max_iter=30, tol=0).fit(X)
    assert not np.array_equal(a.components_, c.components_)


@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_float32_stays_float32(rng, solver):
    X, _, _ = planted(rng, noise=0.05)
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est32 = NMF(4, solver=solver, random_state=0, max_iter=100).fit(X32)
        est64 = NMF(4, solver=solver, random_state=0, max_iter=100).fit(X)
    assert est32.components_.dtype == np.float32
    assert est32.transform(X32).dtype == np.float32
    assert est64.components_.dtype == np.float64
    np.testing.assert_allclose(est32.reconstruction_err_, est64.reconstruction_err_,
                               rtol=1e-2)


def test_transform_and_inverse_transform(rng):
    X, _, _ = planted(rng, noise=0.01)
    est = NMF(4, tol=1e-6, max_iter=1000, random_state=0)
    W = est.fit_transform(X)
    W_t = est.transform(X)
    assert W_t.shape == W.shape
    err_t = np.linalg.norm(X - est.inverse_transform(W_t))
    assert err_t <= est.reconstruction_err_ * 1.001 + 1e-9
    with pytest.raises(ValueError, match="shape"):
        est.inverse_transform(W[:, :2])


def test_convergence_warning_says_increase_max_iter(rng):
    X, _, _ = planted(rng, noise=0.1)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        NMF(5, max_iter=2, random_state=0).fit(X)


def test_callback_can_stop(rng):
    X, _, _ = planted(rng, noise=0.1)
    seen = []
    est = NMF(4, tol=0, max_iter=50, callback=lambda it, W, H: seen.append(it) or it == 3)
    est.fit(X)
    assert seen == [1, 2, 3] and est.n_iter_ == 3


# ----------------------------------------------------------- bad input
def test_negative_values_are_counted(rng):
    X = rng.rand(10, 6)
    X[0, 0], X[3, 2] = -0.5, -2.0
    with pytest.raises(ValueError, match=r"2 negative entries \(minimum -2\)"):
        NMF(2).fit(X)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_are_refused(rng, bad):
    X = rng.rand(10, 6)
    X[1, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        NMF(2).fit(X)


def test_zeros_refused_when_the_loss_needs_positive_data(rng):
    X = rng.rand(10, 6) + 0.1
    X[2] = 0
    with pytest.raises(ValueError, match=r"strictly positive X, got 6 zero entries and 1 all-zero"):
        NMF(2, solver="mu", beta_loss="itakura-saito").fit(X)
    with pytest.raises(ValueError, match="strictly positive"):
        NMF(2, solver="mu", beta_loss=-0.5).fit(X)
    # KL copes with zeros
    NMF(2, solver="mu", beta_loss="kullback-leibler", max_iter=20, tol=0).fit(X)


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_components=0), "n_components must be a positive int, got 0"),
    (dict(n_components=7, init="nndsvd"),
     r"n_components <= min\(n_samples, n_features\) = 6, got n_components=7"),
    (dict(n_components=2, beta_loss="kullback-leibler"), "needs solver='mu'"),
    (dict(n_components=2, solver="mu", semi=True), "semi=True needs solver='cd'"),
    (dict(n_components=2, init="bogus"), "init must be one of"),
    (dict(n_components=2, l1_ratio=2.0), r"l1_ratio must be in \[0, 1\], got 2"),
    (dict(n_components=2, init="custom"), "init='custom' needs W"),
])
def test_bad_parameters(rng, kwargs, match):
    X = rng.rand(10, 6)
    with pytest.raises(ValueError, match=match):
        NMF(**kwargs).fit(X)


def test_custom_init_shapes_checked(rng):
    X = rng.rand(10, 6)
    with pytest.raises(ValueError, match=r"W must have shape \(10, 2\), got an array of shape \(10, 3\)"):
        NMF(2, init="custom").fit(X, W=rng.rand(10, 3), H=rng.rand(2, 6))
    with pytest.raises(ValueError, match="H must be non-negative"):
        NMF(2, init="custom").fit(X, W=rng.rand(10, 2), H=-rng.rand(2, 6))


# --------------------------------------------------- scikit-learn contract
@parametrize_with_checks([
    NMF(n_components=1, init="random", max_iter=400, random_state=0),
    NMF(n_components=1, solver="mu", beta_loss="kullback-leibler", max_iter=400,
        random_state=0),
])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("dtype_", [np.float64, np.float32])
@pytest.mark.parametrize("sweeps", [1, 3])
def test_column_sweeps_equal_row_sweeps(dtype_, sweeps):
    from nimf._kernels import nmf as kernels

    rng = np.random.RandomState(0)
    k, m = 6, 80
    F = np.abs(rng.standard_normal((m, k))).astype(dtype_)
    A = np.abs(rng.standard_normal((30, k)))
    G = (A.T @ A).astype(dtype_)
    Bt = (5 * np.abs(rng.standard_normal((k, m)))).astype(dtype_)
    order = rng.permutation(k).astype(np.int64)
    rows = F.copy()
    v_rows = kernels.hals_rows(rows, G, Bt, 0.3, 0.2, order, sweeps, 0.0, True, np.empty(k))
    Ft = np.ascontiguousarray(F.T)
    R = G @ Ft - Bt
    v_cols = kernels.hals_columns(Ft, G, R, 0.3, 0.2, order, sweeps, np.empty(m, dtype_))
    tol = 1e-10 if dtype_ == np.float64 else 1e-4
    np.testing.assert_allclose(Ft.T, rows, rtol=tol, atol=tol)
    assert v_cols == pytest.approx(v_rows, rel=1e-4)
    assert np.all(Ft >= 0)
    # the gradients were kept up to date
    np.testing.assert_allclose(R, G @ Ft - Bt, rtol=10 * tol, atol=10 * tol * np.abs(Bt).max())


@pytest.mark.parametrize("dtype_", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 5, 6])
def test_products_with_X_match_matmul(dtype_, k):
    # the matrix-vector path (float32, k <= 5) and the matrix-matrix path give
    # the products of BLAS, into the buffers given
    from nimf.decomposition.nmf import _GEMV_MAX_K, _times_X, _times_Xt

    assert 1 <= _GEMV_MAX_K < 6
    rng = np.random.RandomState(0)
    X = rng.rand(70, 40).astype(dtype_)
    A, B = rng.rand(k, 40).astype(dtype_), rng.rand(k, 70).astype(dtype_)
    out_n, out_p = np.full((k, 70), np.nan, dtype_), np.full((k, 40), np.nan, dtype_)
    tol = 1e-12 if dtype_ == np.float64 else 1e-5
    got = _times_Xt(A, X, out_n)
    assert got is out_n or np.shares_memory(got, out_n)
    np.testing.assert_allclose(out_n, A.astype(np.float64) @ X.T.astype(np.float64), rtol=tol)
    got = _times_X(B, X, out_p)
    assert got is out_p or np.shares_memory(got, out_p)
    np.testing.assert_allclose(out_p, B.astype(np.float64) @ X.astype(np.float64), rtol=tol)


@pytest.mark.parametrize("shape", [(60, 40), (40, 60)])
@pytest.mark.parametrize("dtype_", [np.float64, np.float32])
def test_randomized_svd_matches_sklearn(shape, dtype_):
    # the same draws and steps as scikit-learn's randomized_svd (LU power
    # iterations), tall and wide, in X's dtype; signs may differ
    from sklearn.utils.extmath import randomized_svd

    from nimf.decomposition.nmf import _randomized_svd

    rng = np.random.RandomState(1)
    X = (rng.rand(shape[0], 6) @ rng.rand(6, shape[1]) + 0.05 * rng.rand(*shape)).astype(dtype_)
    for n_iter in (0, 1, "auto"):
        U, S, Vt = _randomized_svd(X, 4, n_iter, np.random.RandomState(3))
        U_sk, S_sk, Vt_sk = randomized_svd(X, 4, n_iter=n_iter, power_iteration_normalizer="LU",
                                           random_state=np.random.RandomState(3))
        assert U.shape == (shape[0], 4) and S.shape == (4,) and Vt.shape == (4, shape[1])
        assert U.dtype == dtype_ and Vt.dtype == dtype_
        tol = 1e-8 if dtype_ == np.float64 else 2e-3
        np.testing.assert_allclose(S, S_sk, rtol=tol)
        np.testing.assert_allclose(np.abs(np.sum(U * U_sk, axis=0)), 1, atol=tol)
        np.testing.assert_allclose(np.abs(np.sum(Vt * Vt_sk, axis=1)), 1, atol=tol)


@pytest.mark.parametrize("dtype_", [np.float64, np.float32])
def test_squared_norm_is_accumulated_in_float64(dtype_):
    from nimf.decomposition.nmf import _squared_norm

    rng = np.random.RandomState(0)
    X = rng.rand(300, 200).astype(dtype_)
    expected = float(np.sum(X.astype(np.float64) ** 2))
    assert _squared_norm(X) == pytest.approx(expected, rel=1e-12)
    # a view that is not C-ordered
    assert _squared_norm(X[:, ::2]) == pytest.approx(
        float(np.sum(X[:, ::2].astype(np.float64) ** 2)), rel=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float64_start_is_computed_in_float32_only_with_the_float32_iterations(monkeypatch):
    # float64 data: the NNDSVDa start comes from the float32 copy the first
    # iterations use (close to the float64 start), and from X itself when
    # that copy is off
    import nimf.decomposition.nmf as nmf_module

    rng = np.random.RandomState(0)
    X = rng.rand(80, 6) @ rng.rand(6, 50) + 0.01 * rng.rand(80, 50)
    starts = []

    def spy(X_, k, init, rng_, **kwargs):
        starts.append(X_.dtype)
        return original(X_, k, init, rng_, **kwargs)

    original = nmf_module._initialize
    monkeypatch.setattr(nmf_module, "_initialize", spy)
    NMF(6, random_state=0, max_iter=5).fit(X)
    assert starts == [np.float32]
    monkeypatch.setattr(nmf_module, "_MIXED_PRECISION_SWITCH", 0)
    NMF(6, random_state=0, max_iter=5).fit(X)
    assert starts == [np.float32, np.float64]
    W32, H32 = original(X.astype(np.float32), 6, "nndsvda", np.random.RandomState(0))
    W64, H64 = original(X, 6, "nndsvda", np.random.RandomState(0))
    np.testing.assert_allclose(W32 @ H32, W64 @ H64, rtol=1e-3, atol=1e-3 * X.max())


def test_float32_warm_start_reaches_the_float64_solution(monkeypatch):
    import nimf.decomposition.nmf as nmf_module

    rng = np.random.RandomState(0)
    X = np.abs(rng.rand(120, 6) @ rng.rand(6, 90)) + 0.01 * rng.rand(120, 90)
    # (tol=1e-6: the two paths differ, and at 1e-4 each stops short of the solution)
    kw = dict(n_components=6, init="nndsvda", tol=1e-6, max_iter=3000, random_state=0)
    seen = []
    mixed = NMF(callback=lambda n, W, H: seen.append(W.dtype) and False, **kw).fit(X)
    assert np.dtype(np.float32) in seen and seen[-1] == np.float64
    monkeypatch.setattr(nmf_module, "_MIXED_PRECISION_SWITCH", 0)
    pure = NMF(**kw).fit(X)
    assert mixed.components_.dtype == np.float64
    assert mixed.reconstruction_err_ == pytest.approx(pure.reconstruction_err_, rel=1e-4)
    # the last iterations are float64: the final objective is exact to float64 round-off
    curve = np.array(mixed.loss_curve_)
    assert curve[-1] <= curve[0]
    assert np.all(np.diff(curve) <= 1e-6 * curve[0])


# ------------------------------------------------- iterations on the sketch
@pytest.mark.parametrize("shape", [(70, 50), (50, 70)])
@pytest.mark.parametrize("dtype_", [np.float64, np.float32])
def test_sketch_is_the_projection_on_the_range_found(shape, dtype_):
    from nimf.decomposition.nmf import _randomized_svd

    rng = np.random.RandomState(1)
    n, p = shape
    X = (rng.rand(n, 6) @ rng.rand(6, p) + 0.05 * rng.rand(n, p)).astype(dtype_)
    U, S, Vt = _randomized_svd(X, 4, 1, np.random.RandomState(3))
    U2, S2, Vt2, sketch = _randomized_svd(X, 4, 1, np.random.RandomState(3), sketch=True)
    # the same start with or without the sketch
    np.testing.assert_array_equal(U, U2)
    np.testing.assert_array_equal(S, S2)
    np.testing.assert_array_equal(Vt, Vt2)
    tol = 1e-10 if dtype_ == np.float64 else 1e-4
    Y = sketch.L.astype(np.float64) @ sketch.R.astype(np.float64)
    assert sketch.shape == X.shape and sketch.dtype == dtype_
    assert sketch.L.shape == (n, 14) and sketch.R.shape == (14, p)
    # one factor has orthonormal columns (rows), and L R projects X on its span
    Q = (sketch.L if n >= p else sketch.R.T).astype(np.float64)
    np.testing.assert_allclose(Q.T @ Q, np.eye(14), atol=tol * 10)
    X64 = X.astype(np.float64)
    projected = Q @ (Q.T @ X64) if n >= p else (X64 @ Q) @ Q.T
    np.testing.assert_allclose(Y, projected, atol=tol * 10 * np.abs(X64).max())
    values = np.linalg.svd(Y, compute_uv=False)[:14]
    np.testing.assert_allclose(sketch.singular_values, values, rtol=tol * 10,
                               atol=tol * 10 * values[0])
    # the two products of HALS
    A = rng.rand(4, p).astype(dtype_)
    B = rng.rand(4, n).astype(dtype_)
    out_n = np.empty((4, n), dtype=dtype_)
    out_p = np.empty((4, p), dtype=dtype_)
    assert sketch.times_Xt(A, out_n) is out_n
    np.testing.assert_allclose(out_n, A @ Y.T, rtol=tol * 10)
    assert sketch.times_X(B, out_p) is out_p
    np.testing.assert_allclose(out_p, B @ Y, rtol=tol * 10)


def test_data_of_low_rank_is_its_own_sketch():
    from nimf.decomposition.nmf import _randomized_svd

    rng = np.random.RandomState(0)
    X = rng.rand(60, 8) @ rng.rand(8, 40)
    sketch = _randomized_svd(X, 3, 1, np.random.RandomState(0), sketch=True)[3]
    np.testing.assert_allclose(sketch.L @ sketch.R, X, atol=1e-10 * X.max())
    assert np.all(sketch.singular_values[8:] < 1e-10 * sketch.singular_values[0])


def test_sketch_iterations_follow_the_gap_and_the_budget(monkeypatch):
    import nimf.decomposition.nmf as nmf_module
    from nimf.decomposition.nmf import _Sketch, _sketch_iterations

    def sketch(values):
        m = len(values)
        return _Sketch(np.zeros((300, m)), np.zeros((m, 200)), np.asarray(values, float))

    n, p, k, sweeps_W, sweeps_H = 300, 200, 4, 3, 5
    gap = [10.0, 9.0, 8.0, 7.0, 3.4, 1.0, 1.0, 1.0, 0.5]
    # the floating-point operations of an iteration on the data and on the sketch
    common = 6 * k * k * (n + p)
    on_data = 4 * n * p * k + common + 2 * k * k * (n * sweeps_W + p * sweeps_H)
    on_sketch = 4 * 9 * k * (n + p) + common + 2 * k * k * (n + p) * 2
    assert on_data / on_sketch > 2
    monkeypatch.setattr(nmf_module, "_SKETCH_BUDGET", 2.0)
    assert _sketch_iterations(sketch(gap), k, n, p, sweeps_W, sweeps_H) == int(
        2.0 * on_data / on_sketch)
    monkeypatch.setattr(nmf_module, "_SKETCH_BUDGET", 7.0)
    assert _sketch_iterations(sketch(gap), k, n, p, sweeps_W, sweeps_H) == int(
        7.0 * on_data / on_sketch)
    # the (k+1)-th singular value above half the k-th: no clear rank-k structure
    assert _sketch_iterations(sketch(gap[:4] + [3.6] + gap[5:]), k, n, p, 3, 5) == 0
    assert _sketch_iterations(sketch(gap[:4] + [3.5] + gap[5:]), k, n, p, 3, 5) > 0
    # a sketch as large as the data is no sketch
    assert _sketch_iterations(sketch(gap), k, 9, p, 3, 5) == 0
    assert _sketch_iterations(sketch(gap), k, n, 9, 3, 5) == 0
    assert _sketch_iterations(sketch(gap), k, n, 10, 3, 5) > 0
    # a sketch of rank k holds no information on the gap; a zero k-th value neither
    assert _sketch_iterations(sketch(gap[:4]), k, n, p, 3, 5) == 0
    assert _sketch_iterations(sketch([1.0, 0, 0, 0, 0, 0]), k, n, p, 3, 5) == 0
    # fewer than three iterations are not worth it
    monkeypatch.setattr(nmf_module, "_SKETCH_BUDGET", 2.9 * on_sketch / on_data)
    assert _sketch_iterations(sketch(gap), k, n, p, sweeps_W, sweeps_H) == 0
    monkeypatch.setattr(nmf_module, "_SKETCH_BUDGET", 3.01 * on_sketch / on_data)
    assert _sketch_iterations(sketch(gap), k, n, p, sweeps_W, sweeps_H) == 3


def _first_iterates(X, **kw):
    """The factors given to the callback at each iteration."""
    seen = []
    model = NMF(callback=lambda n, W, H: seen.append((W.copy(), H.copy())) and False, **kw)
    model.fit(X)
    return model, seen


@pytest.mark.parametrize("dtype_", [np.float64, np.float32])
def test_fit_iterates_on_the_sketch_after_its_first_iteration(monkeypatch, capsys, dtype_):
    import nimf.decomposition.nmf as nmf_module

    rng = np.random.RandomState(0)
    X, _, _ = planted(rng, n=300, p=200, k=5, noise=0.2)
    X = X.astype(dtype_)
    kw = dict(n_components=5, random_state=0)
    model, seen = _first_iterates(X, verbose=1, **kw)
    out = capsys.readouterr().out
    said = re.search(r"NMF: (\d+) iterations on a rank-15 sketch of X, objective (\S+) "
                     r"\(estimated\)", out)
    # the violations stay relative to the first iteration's, on the data (the
    # reference of tol), so the second is far below it
    violations = [float(v) for v in re.findall(r"NMF iteration \d+: .* violation (\S+)", out)]
    assert violations[0] == 1 and violations[1] < 0.05
    assert 3 <= int(said.group(1))
    # the objective on the sketch counts the energy of X outside it: it estimates
    # the objective on X (that of the next iteration, on X, is a little lower)
    assert float(said.group(2)) == pytest.approx(model.loss_curve_[1], rel=0.05)
    monkeypatch.setattr(nmf_module, "_SKETCH_BUDGET", 0.0)
    plain, seen_plain = _first_iterates(X, verbose=1, **kw)
    assert "sketch" not in capsys.readouterr().out
    # the first iteration is on the data, the same in both; the sketch's
    # iterations bring the second far lower
    np.testing.assert_array_equal(seen[0][0], seen_plain[0][0])
    np.testing.assert_array_equal(seen[0][1], seen_plain[0][1])
    assert model.loss_curve_[0] == plain.loss_curve_[0]
    assert model.loss_curve_[1] < plain.loss_curve_[3]
    # the same solution (to the tolerance), in fewer iterations on the data
    assert model.n_iter_ < 0.8 * plain.n_iter_
    assert model.reconstruction_err_ == pytest.approx(plain.reconstruction_err_, rel=1e-5)
    assert model.components_.dtype == dtype_
    # the objective never goes up beyond its round-off (computed from float32
    # products, of sums over n_features terms: float64 data start in float32)
    curve = np.array(model.loss_curve_)
    noise = 10 * np.finfo(np.float32).eps * np.sum(X.astype(np.float64) ** 2)
    assert np.all(np.diff(curve) <= noise)


def test_sketch_keeps_the_penalties(monkeypatch):
    import nimf.decomposition.nmf as nmf_module

    rng = np.random.RandomState(1)
    X, _, _ = planted(rng, n=300, p=200, k=5, noise=0.02)
    kw = dict(n_components=5, random_state=0, tol=1e-7, max_iter=5000, alpha_W=1e-3,
              l1_ratio=0.5)
    model = NMF(**kw).fit(X)
    monkeypatch.setattr(nmf_module, "_SKETCH_BUDGET", 0.0)
    plain = NMF(**kw).fit(X)
    assert model.n_iter_ < plain.n_iter_
    assert model.loss_curve_[-1] == pytest.approx(plain.loss_curve_[-1], rel=1e-4)
    # (the penalised solution, not the plain one)
    free = NMF(5, random_state=0, tol=1e-7, max_iter=5000).fit(X)
    assert abs(model.loss_curve_[-1] - free.loss_curve_[-1]) > 1e-2 * free.loss_curve_[-1]


def test_no_sketch_without_a_gap_a_second_iteration_or_an_nndsvd_start(capsys):
    rng = np.random.RandomState(0)
    X, _, _ = planted(rng, n=300, p=200, k=5, noise=0.02)
    cases = [
        (rng.rand(300, 200), dict()),  # noise: no rank-5 structure
        (X, dict(max_iter=1)),
        (X, dict(callback=lambda n, W, H: True)),  # stops after the first iteration
        (X, dict(init="random")),
        (X, dict(init="custom")),
        (X, dict(solver="mu")),
        (X, dict(semi=True)),
    ]
    for data, kw in cases:
        start = {}
        if kw.get("init") == "custom":
            start = dict(zip("WH", nndsvd(data, 5, random_state=0)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = NMF(5, random_state=0, verbose=1, **kw)
            model.fit_transform(data, **start)
        assert "sketch" not in capsys.readouterr().out, kw
    assert model.n_iter_ > 1
    model = NMF(5, random_state=0, callback=lambda n, W, H: True).fit(X)
    assert model.n_iter_ == 1 and len(model.loss_curve_) == 1


# ------------------------------------------------- partial_fit after fit, overflow
def test_partial_fit_after_fit_continues_from_the_fitted_model(rng):
    X, _, _ = planted(rng, n=80, p=30, k=3)
    model = NMF(3, random_state=0, max_iter=400).fit(X)
    fitted = model.components_.copy()
    fresh = NMF(3, random_state=0).partial_fit(X[:10])
    model.partial_fit(X[:10])
    # one small chunk nudges the fitted components; a new model learns from it alone
    change = np.linalg.norm(model.components_ - fitted) / np.linalg.norm(fitted)
    assert change < 0.1
    assert change < np.linalg.norm(fresh.components_ - fitted) / np.linalg.norm(fitted)
    assert model.n_samples_seen_ == pytest.approx(0.7 * 80 + 10)


def test_partial_fit_after_fit_refuses_other_features(rng):
    X, _, _ = planted(rng, n=40, p=20, k=2)
    model = NMF(2, random_state=0).fit(X)
    before = model.components_.copy()
    with pytest.raises(ValueError, match="X has 5 features, but NMF is expecting 20"):
        model.partial_fit(X[:, :5])
    with pytest.raises(ValueError, match="n_components=3, but this NMF was fitted with 2"):
        model.set_params(n_components=3).partial_fit(X)
    np.testing.assert_array_equal(model.components_, before)


def test_partial_fit_resumes_after_save_and_load(rng, tmp_path):
    from nimf import load_model, save_model

    X, _, _ = planted(rng, n=60, p=20, k=3)
    model = NMF(3, random_state=0).fit(X[:40])
    loaded = load_model(save_model(model, tmp_path / "nmf.npz"))
    model.partial_fit(X[40:])
    loaded.partial_fit(X[40:])
    np.testing.assert_allclose(loaded.components_, model.components_)


def test_values_beyond_float32_stay_in_float64(rng):
    # the float32 warm start must not overflow data that float32 cannot hold
    X, _, _ = planted(rng, n=40, p=20, k=3)
    scale = 2.0 ** 200
    # (both starts scale with the data)
    small = NMF(3, init="random", random_state=0, max_iter=500, tol=1e-8).fit(X)
    large = NMF(3, init="random", random_state=0, max_iter=500, tol=1e-8).fit(X * scale)
    assert np.all(np.isfinite(large.components_))
    assert large.reconstruction_err_ / scale == pytest.approx(small.reconstruction_err_,
                                                               rel=1e-3, abs=1e-6)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_overflow_is_an_error_saying_what_to_do(rng):
    from nimf._validation import NonFiniteResultError

    X, _, _ = planted(rng, n=12, p=8, k=2)
    with pytest.raises(ValueError, match="too large for float64.*scale your data"):
        NMF(2).fit(X * 1e306)
    # the default start scales with the data: large values that float64 holds fit
    large = NMF(2, random_state=0).fit(X / X.max() * 1e150)
    small = NMF(2, random_state=0).fit(X / X.max())
    # (the small data start in float32, the large ones cannot: the two paths
    # stop at different points near the exact fit)
    assert large.reconstruction_err_ / 1e150 == pytest.approx(
        small.reconstruction_err_, abs=1e-4 * np.linalg.norm(X / X.max()))
    # a start far off the data's scale overflows
    W0, H0 = np.full((12, 2), 1e150), np.full((2, 8), 1e150)
    with pytest.raises(NonFiniteResultError, match="NMF diverged or overflowed.*scale your data"):
        NMF(2, init="custom").fit(X / X.max() * 1e150, W=W0, H=H0)
