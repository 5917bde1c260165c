"""CP decomposition: kernels against NumPy references, recovery, masks, seeds, errors."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import naive_tensor as naive
import nimf
from conftest import rtol_for
from nimf._kernels import tensor as kernels
from nimf.tensor import CPDecomposition, cp_als, cp_to_tensor, mttkrp, nonnegative_cp_hals
from nimf.tensor import cp as cp_module


def planted(shape, rank, rng, nonnegative=False, noise=0.01):
    if nonnegative:
        factors = [rng.exponential(size=(n, rank)) * (rng.uniform(size=(n, rank)) < 0.6)
                   for n in shape]
    else:
        factors = [rng.standard_normal((n, rank)) for n in shape]
    X = naive.cp_to_tensor(None, factors)
    X += noise * X.std() * rng.standard_normal(shape)
    if nonnegative:
        X = np.abs(X)
    return X, factors


# ------------------------------------------------------------------ kernels
@pytest.mark.parametrize("shape", [(5, 4, 3), (4, 3, 5, 2), (2, 3, 2, 3, 2)])
def test_mttkrp_matches_reference(shape, dtype, rng):
    X = rng.standard_normal(shape).astype(dtype)
    factors = [rng.standard_normal((n, 3)).astype(dtype) for n in shape]
    for mode in range(len(shape)):
        expected = naive.mttkrp(X, factors, mode)
        np.testing.assert_allclose(mttkrp(X, factors, mode), expected,
                                   rtol=rtol_for(dtype), atol=rtol_for(dtype) * 10)


def test_contraction_kernels_match_einsum(dtype, rng):
    T = rng.standard_normal((3, 4, 5, 2)).astype(dtype)
    F = rng.standard_normal((4, 2)).astype(dtype)
    out = np.empty((3, 5, 2), dtype=dtype)
    kernels.contract_r_last(T, F, out)
    np.testing.assert_allclose(out, np.einsum("pjqr,jr->pqr", T, F), rtol=rtol_for(dtype))
    T = rng.standard_normal((2, 3, 4, 5)).astype(dtype)
    out = np.empty((2, 3, 5), dtype=dtype)
    kernels.contract_r_first(T, F, out)
    np.testing.assert_allclose(out, np.einsum("rpjq,jr->rpq", T, F), rtol=rtol_for(dtype),
                               atol=rtol_for(dtype))


def test_fill_missing_kernel(dtype, rng):
    X = rng.standard_normal(50).astype(dtype)
    X_hat = rng.standard_normal(50).astype(dtype)
    observed = rng.uniform(size=50) < 0.6
    X[~observed] = np.nan
    out = np.empty_like(X)
    total = kernels.fill_missing(X, X_hat, observed, out)
    np.testing.assert_array_equal(out, np.where(observed, X, X_hat))
    expected = np.sum((X[observed].astype(np.float64) - X_hat[observed]) ** 2)
    assert total == pytest.approx(expected, rel=1e-12)


def test_cp_to_tensor_by_blocks_matches_reference(dtype, rng, monkeypatch):
    factors = [rng.standard_normal((n, 3)).astype(dtype) for n in (7, 4, 3, 5)]
    weights = rng.uniform(1, 2, 3)
    expected = naive.cp_to_tensor(weights, factors)
    # blocks of a single row of mode 0, then one block
    for entries in (1, 2 ** 20):
        monkeypatch.setattr(cp_module, "_KR_BLOCK_ENTRIES", entries)
        np.testing.assert_allclose(cp_to_tensor(weights, factors), expected,
                                   rtol=rtol_for(dtype), atol=rtol_for(dtype) * 10)


@pytest.mark.parametrize("nonnegative", [False, True], ids=["als", "hals"])
@pytest.mark.parametrize("shape", [(6, 5, 4), (5, 4, 3, 4)])
def test_one_sweep_matches_reference_updates(shape, nonnegative, dtype):
    rng = np.random.RandomState(1)
    X, _ = planted(shape, 3, rng, nonnegative=nonnegative, noise=0.1)
    X = X.astype(dtype)
    factors = cp_module._initial_factors(X, 3, "random", nonnegative, np.random.RandomState(0))
    state = cp_module._State([F.copy() for F in factors], np.ones(3))
    sweeps = [2] * len(shape)
    cp_module._sweep(X, state, nonnegative, sweeps)
    # the reference: one factor after the other, columns renormalised into the weights
    ref = [F.astype(np.float64) for F in factors]
    weights = np.ones(3)
    for mode in range(len(shape)):
        if nonnegative:
            F = naive.hals_update(X, ref, mode, ref[mode] * weights, sweeps[mode])
        else:
            F = naive.als_update(X, ref, mode)
        weights = np.linalg.norm(F, axis=0)
        ref[mode] = F / weights
    tol = rtol_for(dtype) * (1 if dtype == np.float64 else 20)
    np.testing.assert_allclose(state.weights, weights, rtol=tol)
    for found, expected in zip(state.factors, ref):
        np.testing.assert_allclose(found, expected, rtol=tol, atol=tol)


# ------------------------------------------------------------------ fits
@pytest.mark.parametrize("nonnegative", [False, True], ids=["als", "hals"])
@pytest.mark.parametrize("shape", [(30, 25, 20), (12, 10, 9, 8)])
def test_planted_factors_are_recovered(shape, nonnegative):
    rng = np.random.RandomState(0)
    X, truth = planted(shape, 4, rng, nonnegative=nonnegative)
    model = CPDecomposition(4, nonnegative=nonnegative, random_state=0).fit(X)
    assert naive.factor_match_score(truth, model.factors_) > 0.99
    assert model.reconstruction_error_ < 0.02
    # the reported error is the true one
    actual = np.linalg.norm(X - model.reconstruct()) / np.linalg.norm(X)
    assert model.reconstruction_error_ == pytest.approx(actual, rel=1e-6)
    if nonnegative:
        assert all(F.min() >= 0 for F in model.factors_)


@pytest.mark.parametrize("nonnegative", [False, True], ids=["als", "hals"])
def test_masked_fit_recovers_and_ignores_hidden_entries(nonnegative):
    rng = np.random.RandomState(0)
    X, truth = planted((25, 20, 15), 3, rng, nonnegative=nonnegative)
    mask = rng.uniform(size=X.shape) > 0.3
    A = X.copy()
    A[~mask] = np.nan
    B = X.copy()
    B[~mask] = rng.uniform(-1e6, 1e6, size=int((~mask).sum())) ** 2
    fits = [CPDecomposition(3, nonnegative=nonnegative, random_state=0).fit(Y, mask=mask)
            for Y in (A, B)]
    for F, G in zip(fits[0].factors_, fits[1].factors_):
        np.testing.assert_array_equal(F, G)
    np.testing.assert_array_equal(fits[0].weights_, fits[1].weights_)
    np.testing.assert_array_equal(fits[0].errors_, fits[1].errors_)
    assert naive.factor_match_score(truth, fits[0].factors_) > 0.99
    # the hidden entries are predicted
    X_hat = fits[0].reconstruct()
    held_out = np.linalg.norm((X - X_hat)[~mask]) / np.linalg.norm(X[~mask])
    assert held_out < 0.05
    # transform with a mask: hidden entries of the new data have no influence either
    new = [fits[0].transform(Y[:, :, :4], mask=mask[:, :, :4]) for Y in (A, B)]
    np.testing.assert_array_equal(new[0], new[1])


def test_seed_determinism():
    rng = np.random.RandomState(0)
    X, _ = planted((15, 12, 10), 3, rng, noise=0.3)
    for init in ("svd", "random"):
        a = CPDecomposition(3, init=init, random_state=5).fit(X)
        b = CPDecomposition(3, init=init, random_state=5).fit(X)
        for F, G in zip(a.factors_, b.factors_):
            np.testing.assert_array_equal(F, G)
        np.testing.assert_array_equal(a.weights_, b.weights_)
    first = cp_module._initial_factors(X, 3, "random", False, np.random.RandomState(1))
    other = cp_module._initial_factors(X, 3, "random", False, np.random.RandomState(2))
    assert not np.allclose(first[1], other[1])


@pytest.mark.parametrize("nonnegative", [False, True], ids=["als", "hals"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_error_decreases(nonnegative, masked):
    rng = np.random.RandomState(0)
    X, _ = planted((20, 15, 10), 5, rng, nonnegative=nonnegative, noise=0.5)
    mask = rng.uniform(size=X.shape) > 0.3 if masked else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = CPDecomposition(4, nonnegative=nonnegative, init="random", tol=0,
                                max_iter=40, random_state=0).fit(X, mask=mask)
    errors = model.errors_
    assert len(errors) == model.n_iter_ >= 10
    assert np.all(np.diff(errors) <= 1e-12 * errors[:-1])
    assert errors[-1] < errors[0]


def test_components_ordered_and_signs_follow_the_rule():
    rng = np.random.RandomState(0)
    X, _ = planted((10, 9, 8, 7), 4, rng, noise=0.05)
    captured = {}

    def keep(n_iter, weights, factors):
        captured["model"] = naive.cp_to_tensor(weights, factors)

    model = CPDecomposition(4, random_state=0, callback=keep).fit(X)
    assert np.all(np.diff(model.weights_) <= 0)
    for F in model.factors_[:-1]:
        assert np.all(F.sum(axis=0) >= 0)
    for F in model.factors_:
        np.testing.assert_allclose(np.linalg.norm(F, axis=0), 1.0)
    # ordering and flips leave the model unchanged
    np.testing.assert_allclose(model.reconstruct(), captured["model"], rtol=1e-10, atol=1e-10)


def test_float32_stays_float32_and_agrees_with_float64():
    rng = np.random.RandomState(0)
    X, _ = planted((20, 15, 10), 3, rng, noise=0.05)
    m64 = CPDecomposition(3, random_state=0).fit(X)
    m32 = CPDecomposition(3, random_state=0).fit(X.astype(np.float32))
    assert all(F.dtype == np.float32 for F in m32.factors_)
    np.testing.assert_allclose(m32.reconstruct(), m64.reconstruct(), rtol=1e-3,
                               atol=1e-3 * np.abs(X).max())
    assert m32.reconstruction_error_ == pytest.approx(m64.reconstruction_error_, rel=1e-3)


def test_function_forms_match_the_estimator():
    rng = np.random.RandomState(0)
    X, _ = planted((12, 10, 8), 3, rng)
    for function, nonnegative in ((cp_als, False), (nonnegative_cp_hals, True)):
        Y = np.abs(X) if nonnegative else X
        weights, factors, errors = function(Y, 3, random_state=0)
        model = CPDecomposition(3, nonnegative=nonnegative, random_state=0).fit(Y)
        np.testing.assert_array_equal(weights, model.weights_)
        np.testing.assert_array_equal(errors, model.errors_)
        for F, G in zip(factors, model.factors_):
            np.testing.assert_array_equal(F, G)


@pytest.mark.parametrize("nonnegative", [False, True], ids=["als", "hals"])
def test_transform_fits_new_trials(nonnegative):
    rng = np.random.RandomState(0)
    shape = (20, 15, 30)
    X, truth = planted(shape, 3, rng, nonnegative=nonnegative, noise=0.01)
    train, new = X[:, :, :20], X[:, :, 20:]
    model = CPDecomposition(3, nonnegative=nonnegative, random_state=0).fit(train)
    factor = model.transform(new)
    assert factor.shape == (10, 3)
    predicted = model.inverse_transform(factor)
    assert np.linalg.norm(new - predicted) / np.linalg.norm(new) < 0.03
    if nonnegative:
        assert factor.min() >= 0
    else:
        # the last ALS update is this very least-squares problem on the training data
        np.testing.assert_allclose(model.transform(train), model.factors_[-1], rtol=1e-6,
                                   atol=1e-8)
    # another mode: new neurons
    assert model.transform(X[:4, :, :20], mode=0).shape == (4, 3)
    with pytest.raises(ValueError, match=r"expected X of shape \(20, 15, any\)"):
        model.transform(X[:, :10, :])
    with pytest.raises(ValueError, match="mode must be an int in"):
        model.transform(new, mode=3)


def test_save_and_load_without_pickle(tmp_path):
    rng = np.random.RandomState(0)
    X, _ = planted((12, 10, 8), 3, rng)
    model = CPDecomposition(3, nonnegative=False, random_state=0).fit(X)
    path = nimf.save_model(model, tmp_path / "cp")
    with np.load(path, allow_pickle=False) as data:
        assert "state__factor_0" in data.files
    loaded = nimf.load_model(path)
    assert type(loaded) is CPDecomposition and loaded.get_params() == model.get_params()
    assert loaded.shape_ == model.shape_ and loaded.n_iter_ == model.n_iter_
    np.testing.assert_array_equal(loaded.reconstruct(), model.reconstruct())
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


# ------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors(rng):
    X = rng.uniform(size=(5, 4, 3))
    with pytest.raises(ValueError, match=r"N >= 3 dimensions .*got an array of shape \(5, 4\)"):
        CPDecomposition(2).fit(X[:, :, 0])
    Y = X.copy()
    Y[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="X must be finite, got 1 NaN or infinite values; "
                                         "pass mask"):
        CPDecomposition(2).fit(Y)
    with pytest.raises(ValueError, match="n_components must be a positive int, got 0"):
        CPDecomposition(0).fit(X)
    with pytest.raises(ValueError, match="n_components must be an int >= 1, got 2.5"):
        CPDecomposition(2.5).fit(X)
    with pytest.raises(ValueError, match=r"nonnegative=True needs X >= 0, got 1 negative "
                                         r"entries \(minimum -1\)"):
        Z = X.copy()
        Z[1, 1, 1] = -1
        CPDecomposition(2, nonnegative=True).fit(Z)
    with pytest.raises(ValueError, match=r"mask must have the shape of X \(5, 4, 3\), got an "
                                         r"array of shape \(5, 4\)"):
        CPDecomposition(2).fit(X, mask=np.ones((5, 4), bool))
    with pytest.raises(ValueError,
                       match="init must be one of 'auto', 'svd', 'random', got 'nndsvd'"):
        CPDecomposition(2, init="nndsvd").fit(X)
    with pytest.raises(ValueError, match="mask must observe at least one entry"):
        CPDecomposition(2).fit(X, mask=np.zeros(X.shape, bool))
    with pytest.raises(ValueError, match="expected X with no empty dimension"):
        CPDecomposition(2).fit(np.zeros((3, 0, 2)))
    # NaN where the mask hides it is fine
    CPDecomposition(2, max_iter=5, tol=0).fit(Y, mask=np.isfinite(Y))
