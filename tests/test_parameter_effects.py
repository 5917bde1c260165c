"""Every public parameter has the effect its docstring promises.

One test (or one parametrized case) per parameter of each array estimator:
changing the parameter changes the result in the documented direction (larger
``alpha`` gives sparser codes, larger ``reduction`` reads fewer bytes, larger
``tol`` stops earlier, the same seed gives the same result and another seed a
different one, ...).  Where a docstring gives an exact rule (``learning_rate=
'auto'`` is 0.95 after an array start, the SGD step of epoch ``e`` is
``learning_rate / (1 + lr_decay * e)``, SOMF weighs new codes by ``n_new /
n_seen ** forget_exponent``), the rule itself is checked, against a slow
reference where there is one.  Data are tiny: the module runs in well under a
minute.
"""
import numpy as np
import pytest

from nimf.decomposition import NMF, OnlineDictionaryLearning, SparsePCA

import naive_ratings


def _zeros(a):
    return float(np.mean(np.asarray(a) == 0))


# ---------------------------------------------------------------- shared data
@pytest.fixture(scope="module")
def sparse_data():
    """120 samples x 64 features: sparse combinations of 4 sparse atoms plus noise."""
    rng = np.random.RandomState(1)
    atoms = rng.standard_normal((4, 64)) * (rng.rand(4, 64) < 0.3)
    codes = rng.standard_normal((120, 4)) * (rng.rand(120, 4) < 0.6)
    return codes @ atoms + 0.05 * rng.standard_normal((120, 64))


@pytest.fixture(scope="module")
def nonneg_data():
    rng = np.random.RandomState(2)
    return rng.rand(40, 3) @ rng.rand(3, 30) + 0.01 * rng.rand(40, 30)


# ======================================================= OnlineDictionaryLearning
def _odl(X, **kw):
    params = dict(n_components=3, n_epochs=2, batch_size=20, random_state=0, tol=0)
    params.update(kw)
    return OnlineDictionaryLearning(**params).fit(X)


def test_odl_larger_alpha_gives_sparser_and_more_shrunk_codes(sparse_data):
    D0 = sparse_data[:3].copy()
    small = _odl(sparse_data, alpha=0.05, code_l1_ratio=1.0, dict_init=D0)
    large = _odl(sparse_data, alpha=2.0, code_l1_ratio=1.0, dict_init=D0)
    small_codes, large_codes = small.transform(sparse_data), large.transform(sparse_data)
    assert _zeros(large_codes) > _zeros(small_codes) + 0.1
    assert np.linalg.norm(large_codes) < np.linalg.norm(small_codes)


def test_odl_code_l1_ratio_zero_is_ridge_and_one_gives_exact_zeros(sparse_data):
    ridge = _odl(sparse_data, alpha=1.0, code_l1_ratio=0.0).transform(sparse_data)
    lasso = _odl(sparse_data, alpha=1.0, code_l1_ratio=1.0).transform(sparse_data)
    assert _zeros(ridge) == 0.0
    assert _zeros(lasso) > 0.2


def test_odl_positive_code_and_positive_dict(sparse_data):
    free = _odl(sparse_data)
    assert free.transform(sparse_data).min() < 0 and free.components_.min() < 0
    pos = _odl(sparse_data, positive_code=True, positive_dict=True)
    assert pos.transform(sparse_data).min() >= 0
    assert pos.components_.min() >= 0
    only_codes = _odl(sparse_data, positive_code=True)
    assert only_codes.transform(sparse_data).min() >= 0 and only_codes.components_.min() < 0


def test_odl_dict_l1_ratio_one_gives_sparse_components_in_the_l1_ball(sparse_data):
    l2 = _odl(sparse_data, dict_l1_ratio=0.0)
    l1 = _odl(sparse_data, dict_l1_ratio=1.0)
    assert _zeros(l2.components_) == 0.0
    assert _zeros(l1.components_) > 0.2
    # each atom inside its ball: unit l2 norm for 0, unit l1 norm for 1
    assert np.all(np.linalg.norm(l2.components_, axis=1) <= 1 + 1e-8)
    assert np.all(np.abs(l1.components_).sum(axis=1) <= 1 + 1e-8)


def test_odl_larger_reduction_reads_fewer_bytes(sparse_data):
    read = {r: _odl(sparse_data, reduction=r).history_["bytes_read"][-1] for r in (1, 2, 4)}
    assert read[1] > read[2] > read[4] > 0
    # about n_features / reduction features per sample (whole feature blocks)
    assert read[1] / read[4] == pytest.approx(4, rel=0.3)


def test_odl_code_methods_agree_without_subsampling_and_differ_with_it(sparse_data):
    exact = {m: _odl(sparse_data, code_method=m, reduction=1).components_
             for m in ("gram", "average", "masked", "full")}
    for m in ("average", "masked", "full"):
        np.testing.assert_allclose(exact[m], exact["gram"], rtol=1e-7, atol=1e-9)
    sub = {m: _odl(sparse_data, code_method=m, reduction=4).components_
           for m in ("gram", "masked", "full")}
    assert not np.allclose(sub["gram"], sub["masked"])
    assert not np.allclose(sub["gram"], sub["full"])


@pytest.mark.parametrize("batch_size", [7, 20, 120])
def test_odl_batch_size_sets_the_number_of_steps(sparse_data, batch_size):
    est = _odl(sparse_data, batch_size=batch_size, n_epochs=2)
    assert est.n_steps_ == 2 * -(-120 // batch_size)


@pytest.mark.parametrize("n_epochs", [1, 3])
def test_odl_n_epochs_without_tol_runs_every_epoch(sparse_data, n_epochs):
    est = _odl(sparse_data, n_epochs=n_epochs, tol=0)
    assert est.n_iter_ == n_epochs and est.stop_reason_ == "n_epochs"


def test_odl_larger_tol_stops_earlier(sparse_data):
    loose = _odl(sparse_data, n_epochs=30, tol=0.5)
    tight = _odl(sparse_data, n_epochs=30, tol=1e-12)
    assert loose.stop_reason_ == "tol" and loose.n_iter_ < tight.n_iter_


def test_odl_learning_rate_auto_follows_the_start(sparse_data):
    D0 = sparse_data[:3].copy()
    # an array start: 0.95
    np.testing.assert_array_equal(
        _odl(sparse_data, dict_init=D0).components_,
        _odl(sparse_data, dict_init=D0, learning_rate=0.95).components_)
    # a start from samples: 0.75
    np.testing.assert_array_equal(
        _odl(sparse_data, dict_init="data").components_,
        _odl(sparse_data, dict_init="data", learning_rate=0.75).components_)
    assert not np.allclose(_odl(sparse_data, dict_init="data", learning_rate=0.6).components_,
                           _odl(sparse_data, dict_init="data", learning_rate=1.0).components_)


def test_odl_start_weight_auto_follows_the_start(sparse_data):
    D0 = sparse_data[:3].copy()
    np.testing.assert_array_equal(
        _odl(sparse_data, dict_init="data").components_,
        _odl(sparse_data, dict_init="data", start_weight=0).components_)
    # ten batches of 20 samples, capped at the 120 samples
    np.testing.assert_array_equal(
        _odl(sparse_data, dict_init=D0).components_,
        _odl(sparse_data, dict_init=D0, start_weight=120).components_)
    # a heavier start moves less from it
    light = _odl(sparse_data, dict_init=D0, start_weight=0, learning_rate=0.95)
    heavy = _odl(sparse_data, dict_init=D0, start_weight=10_000, learning_rate=0.95)
    start = D0 / np.linalg.norm(D0, axis=1, keepdims=True)
    assert np.linalg.norm(heavy.components_ - start) < np.linalg.norm(light.components_ - start)


def test_odl_sample_learning_rate_matters_only_for_average_codes(sparse_data):
    def fit(method, rate):
        return _odl(sparse_data, code_method=method, reduction=4,
                    sample_learning_rate=rate).components_

    assert not np.allclose(fit("average", 0.6), fit("average", 1.0))
    # (equal to round-off: in a full run in random order two such fits differed in
    # the last bit, parallel sums being added in another order)
    np.testing.assert_allclose(fit("gram", 0.6), fit("gram", 1.0), rtol=1e-12, atol=1e-15)


def test_odl_dict_init_array_is_the_start(sparse_data):
    D0 = sparse_data[:3].copy()
    D1 = sparse_data[3:6].copy()
    a, b = _odl(sparse_data, dict_init=D0), _odl(sparse_data, dict_init=D1)
    assert not np.allclose(a.components_, b.components_)
    # with no update at all (one step weighted by a huge start), the start comes back
    frozen = OnlineDictionaryLearning(3, dict_init=D0, start_weight=10 ** 9, n_epochs=1,
                                      batch_size=120, random_state=0, tol=0).fit(sparse_data)
    start = D0 / np.linalg.norm(D0, axis=1, keepdims=True)
    np.testing.assert_allclose(frozen.components_, start, atol=1e-5)


def test_odl_shuffle_false_visits_the_samples_in_order(sparse_data):
    D0 = sparse_data[:3].copy()
    kw = dict(n_components=3, dict_init=D0, start_weight=0, batch_size=20, random_state=0)
    in_order = OnlineDictionaryLearning(shuffle=False, n_epochs=1, tol=0, **kw)
    in_order.fit(sparse_data)
    # consecutive chunks to partial_fit: the samples in their order
    by_chunks = OnlineDictionaryLearning(**kw)
    for start in (0, 60):
        by_chunks.partial_fit(sparse_data[start:start + 60])
    np.testing.assert_allclose(in_order.components_, by_chunks.components_, rtol=1e-10,
                               atol=1e-12)
    shuffled = OnlineDictionaryLearning(shuffle=True, n_epochs=1, tol=0, **kw)
    assert not np.allclose(shuffled.fit(sparse_data).components_, by_chunks.components_)


def test_odl_more_code_iterations_are_closer_to_the_converged_codes(sparse_data):
    D0 = sparse_data[:3].copy()

    def codes(**kw):
        est = _odl(sparse_data, dict_init=D0, code_l1_ratio=1.0, alpha=0.5, n_epochs=1, **kw)
        return est.transform(sparse_data)

    exact = codes(max_code_iter=2000, code_tol=1e-14)
    one = codes(max_code_iter=1, code_tol=1e-14)
    many = codes(max_code_iter=100, code_tol=1e-14)
    assert np.linalg.norm(many - exact) < np.linalg.norm(one - exact)
    loose = codes(max_code_iter=2000, code_tol=0.5)
    assert np.linalg.norm(many - exact) < np.linalg.norm(loose - exact)


def test_odl_feature_block_changes_the_subsets(sparse_data):
    a = _odl(sparse_data, reduction=4, feature_block=4).components_
    b = _odl(sparse_data, reduction=4, feature_block=8).components_
    assert not np.allclose(a, b)


def test_odl_max_time_stops_at_the_next_step(sparse_data):
    # any step takes longer than a nanosecond: the fit stops after its first step
    est = _odl(sparse_data, n_epochs=5, max_time=1e-9)
    assert est.stop_reason_ == "max_time"
    assert est.n_steps_ == 1 and est.n_iter_ == 0


def test_odl_history_every_sets_the_records(sparse_data):
    est = _odl(sparse_data, history_every=1, batch_size=20, n_epochs=2)
    records = est.history_["n_samples"]
    # one record per step (the epoch ends fall on steps)
    assert len(records) >= est.n_steps_
    assert records[-1] == 240
    sparse = _odl(sparse_data, history_every=1000, batch_size=20, n_epochs=2)
    assert len(sparse.history_["n_samples"]) < len(records)


def test_odl_callback_returning_true_stops_the_fit(sparse_data):
    calls = []

    def stop(est):
        calls.append(est.n_iter_)
        return True

    est = _odl(sparse_data, n_epochs=5, callback=stop)
    assert est.stop_reason_ == "callback" and est.n_iter_ == 1 and calls == [1]


def test_odl_random_state(sparse_data):
    same = [_odl(sparse_data, random_state=3).components_ for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    other = _odl(sparse_data, random_state=4).components_
    assert not np.allclose(same[0], other)


# ===================================================================== NMF
def _nmf(X, **kw):
    params = dict(n_components=3, random_state=0, max_iter=300)
    params.update(kw)
    return NMF(**params)


def _kl(X, Y):
    return float(np.sum(X * np.log(X / Y) - X + Y))


def test_nmf_larger_alpha_with_l1_gives_sparser_factors(nonneg_data):
    small = _nmf(nonneg_data, alpha_W=1e-4, l1_ratio=1.0)
    large = _nmf(nonneg_data, alpha_W=0.02, l1_ratio=1.0)
    W_small, W_large = small.fit_transform(nonneg_data), large.fit_transform(nonneg_data)
    assert _zeros(W_large) + _zeros(large.components_) > \
        _zeros(W_small) + _zeros(small.components_)
    assert np.linalg.norm(W_large @ large.components_) < \
        np.linalg.norm(W_small @ small.components_)


def test_nmf_l1_ratio_one_gives_more_zeros_than_l2(nonneg_data):
    l2 = _nmf(nonneg_data, alpha_W=0.02, l1_ratio=0.0)
    l1 = _nmf(nonneg_data, alpha_W=0.02, l1_ratio=1.0)
    W2, W1 = l2.fit_transform(nonneg_data), l1.fit_transform(nonneg_data)
    assert _zeros(W1) + _zeros(l1.components_) > _zeros(W2) + _zeros(l2.components_)


def test_nmf_alpha_h_same_is_alpha_w(nonneg_data):
    same = _nmf(nonneg_data, alpha_W=0.01, alpha_H="same", l1_ratio=0.5)
    given = _nmf(nonneg_data, alpha_W=0.01, alpha_H=0.01, l1_ratio=0.5)
    zero_h = _nmf(nonneg_data, alpha_W=0.01, alpha_H=0.0, l1_ratio=0.5)
    np.testing.assert_array_equal(same.fit_transform(nonneg_data),
                                  given.fit_transform(nonneg_data))
    zero_h.fit(nonneg_data)
    assert not np.allclose(same.components_, zero_h.components_)


def test_nmf_larger_tol_stops_earlier_and_zero_tol_runs_max_iter(nonneg_data):
    loose = _nmf(nonneg_data, tol=1e-1).fit(nonneg_data)
    tight = _nmf(nonneg_data, tol=1e-8).fit(nonneg_data)
    assert loose.n_iter_ < tight.n_iter_
    full = _nmf(nonneg_data, tol=0, max_iter=17).fit(nonneg_data)
    assert full.n_iter_ == 17 and len(full.loss_curve_) == 17


def test_nmf_beta_loss_minimises_its_own_divergence(nonneg_data):
    X = nonneg_data + 0.05
    fro = _nmf(X, solver="mu", beta_loss="frobenius", init="nndsvda", max_iter=500,
               tol=1e-6)
    kl = _nmf(X, solver="mu", beta_loss="kullback-leibler", init="nndsvda", max_iter=500,
              tol=1e-6)
    Y_fro = fro.fit_transform(X) @ fro.components_
    Y_kl = kl.fit_transform(X) @ kl.components_
    assert _kl(X, Y_kl) < _kl(X, Y_fro)
    assert np.linalg.norm(X - Y_fro) < np.linalg.norm(X - Y_kl)
    # reconstruction_err_ is sqrt(2 d(X, WH)), recomputed here
    assert kl.reconstruction_err_ == pytest.approx(np.sqrt(2 * _kl(X, Y_kl)), rel=1e-6)
    assert fro.reconstruction_err_ == pytest.approx(np.linalg.norm(X - Y_fro), rel=1e-6)


def test_nmf_solvers_reach_the_same_quality(nonneg_data):
    cd = _nmf(nonneg_data, solver="cd", tol=1e-8, max_iter=1000).fit(nonneg_data)
    mu = _nmf(nonneg_data, solver="mu", tol=1e-8, max_iter=1000).fit(nonneg_data)
    assert not np.allclose(cd.components_, mu.components_)
    # HALS converges faster than the multiplicative updates; both get close
    assert cd.reconstruction_err_ <= mu.reconstruction_err_ * 1.001
    assert mu.reconstruction_err_ < 1.5 * cd.reconstruction_err_


def test_nmf_custom_init_starts_from_the_given_factors(nonneg_data):
    rng = np.random.RandomState(0)
    W0, H0 = rng.rand(40, 3), rng.rand(3, 30)
    X = W0 @ H0
    est = _nmf(X, init="custom", tol=1e-10, max_iter=5)
    W = est.fit_transform(X, W=W0.copy(), H=H0.copy())
    # already optimal: it stays there (to the round-off of the float32 first iterations)
    np.testing.assert_allclose(W @ est.components_, X, rtol=1e-5)
    np.testing.assert_allclose(est.components_, H0, rtol=1e-5, atol=1e-6)
    default = _nmf(X, tol=1e-10, max_iter=5)
    assert est.reconstruction_err_ < 1e-3 * default.fit(X).reconstruction_err_


def test_nmf_random_init_depends_on_the_seed(nonneg_data):
    a = _nmf(nonneg_data, init="random", max_iter=3, tol=0, random_state=0)
    b = _nmf(nonneg_data, init="random", max_iter=3, tol=0, random_state=0)
    c = _nmf(nonneg_data, init="random", max_iter=3, tol=0, random_state=1)
    Ha = a.fit(nonneg_data).components_
    Hb = b.fit(nonneg_data).components_
    Hc = c.fit(nonneg_data).components_
    np.testing.assert_array_equal(Ha, Hb)
    assert not np.allclose(Ha, Hc)


def test_nmf_shuffle_makes_the_coordinate_order_seeded(nonneg_data):
    rng = np.random.RandomState(0)
    W0, H0 = rng.rand(40, 3), rng.rand(3, 30)

    def fit(shuffle, seed):
        est = _nmf(nonneg_data, init="custom", shuffle=shuffle, random_state=seed,
                   max_iter=4, tol=0)
        est.fit_transform(nonneg_data, W=W0.copy(), H=H0.copy())
        return est.components_

    np.testing.assert_array_equal(fit(False, 0), fit(False, 1))
    assert not np.allclose(fit(True, 0), fit(True, 1))


def test_nmf_semi_accepts_negative_data_and_frees_w(rng):
    X = rng.standard_normal((40, 3)) @ rng.rand(3, 30)
    with pytest.raises(ValueError, match="negative"):
        NMF(3, random_state=0).fit(X)
    est = NMF(3, semi=True, random_state=0, max_iter=300)
    W = est.fit_transform(X)
    assert W.min() < 0 and est.components_.min() >= 0
    assert np.linalg.norm(X - W @ est.components_) < 0.1 * np.linalg.norm(X)


def test_nmf_forget_factor_weighs_the_chunks_already_seen(nonneg_data):
    def fit(forget):
        est = NMF(3, forget_factor=forget, random_state=0, init="nndsvda")
        est.partial_fit(nonneg_data[:20])
        est.partial_fit(nonneg_data[20:])
        return est.components_

    assert not np.allclose(fit(1.0), fit(0.2))


def test_nmf_batch_size_splits_a_memory_map_into_chunks(nonneg_data, tmp_path):
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", shape=nonneg_data.shape)
    mm[:] = nonneg_data
    mm.flush()
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    by_batch = NMF(3, batch_size=15, random_state=0, init="nndsvda").partial_fit(X)
    by_hand = NMF(3, random_state=0, init="nndsvda")
    for start in range(0, 40, 15):
        by_hand.partial_fit(nonneg_data[start:start + 15])
    np.testing.assert_allclose(by_batch.components_, by_hand.components_, rtol=1e-10)
    one = NMF(3, random_state=0, init="nndsvda").partial_fit(nonneg_data)
    assert not np.allclose(one.components_, by_batch.components_)


def test_nmf_callback_and_verbose(nonneg_data, capsys):
    seen = []
    est = _nmf(nonneg_data, callback=lambda n, W, H: seen.append(n) or n == 2)
    est.fit(nonneg_data)
    assert seen == [1, 2] and est.n_iter_ == 2
    _nmf(nonneg_data, verbose=0, max_iter=3, tol=1e-1).fit(nonneg_data)
    assert capsys.readouterr().out == ""
    _nmf(nonneg_data, verbose=1, max_iter=3, tol=1e-1).fit(nonneg_data)
    assert capsys.readouterr().out != ""


# =============================================================== SparsePCA
def _spca(X, **kw):
    params = dict(n_components=3, random_state=0, tol=0)
    params.update(kw)
    return SparsePCA(**params).fit(X)


def test_spca_larger_alpha_gives_sparser_components(sparse_data):
    zeros = [_zeros(_spca(sparse_data, alpha=a).components_) for a in (0.1, 1.0, 5.0)]
    assert zeros[0] < zeros[1] < zeros[2]


def test_spca_larger_ridge_alpha_shrinks_the_codes(sparse_data):
    est = _spca(sparse_data)
    norms = []
    for ridge in (0.0, 1.0, 100.0):
        est.set_params(ridge_alpha=ridge)
        norms.append(np.linalg.norm(est.transform(sparse_data)))
    assert norms[0] > norms[1] > norms[2]
    # the codes solve (V V^T + ridge I) u = V (x - mean), recomputed here
    V = est.components_
    centred = sparse_data - est.mean_
    expected = np.linalg.solve(V @ V.T + 100.0 * np.eye(3), V @ centred.T).T
    np.testing.assert_allclose(est.transform(sparse_data), expected, rtol=1e-8, atol=1e-10)


def test_spca_max_iter_and_tol(sparse_data):
    assert _spca(sparse_data, max_iter=4, tol=0).n_iter_ == 4
    assert _spca(sparse_data, max_iter=20, tol=0.5).n_iter_ < 20


@pytest.mark.parametrize("param,values", [
    ("batch_size", (10, 60)), ("reduction", (1.0, 4.0)), ("learning_rate", (0.55, 1.0)),
    ("shuffle", (False, True)),
])
def test_spca_learner_parameters_change_the_fit(sparse_data, param, values):
    a, b = (_spca(sparse_data, **{param: v}).components_ for v in values)
    assert not np.allclose(a, b)


def test_spca_debias_keeps_the_zero_pattern(sparse_data):
    raw = _spca(sparse_data, debias=False).components_
    debiased = _spca(sparse_data, debias=True).components_
    np.testing.assert_array_equal(raw == 0, debiased == 0)
    assert not np.allclose(raw, debiased)
    # both normalised to unit rows
    for V in (raw, debiased):
        np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0)


def test_spca_dict_init_and_random_state(sparse_data):
    rng = np.random.RandomState(5)
    start = rng.standard_normal((3, 64))
    a = _spca(sparse_data, dict_init=start).components_
    b = _spca(sparse_data, dict_init="data").components_
    assert not np.allclose(np.abs(a), np.abs(b))
    np.testing.assert_array_equal(_spca(sparse_data, random_state=7).components_,
                                  _spca(sparse_data, random_state=7).components_)
    assert not np.allclose(_spca(sparse_data, random_state=7).components_,
                           _spca(sparse_data, random_state=8).components_)


def test_spca_components_are_unit_and_ordered_by_code_energy(sparse_data):
    est = _spca(sparse_data, alpha=0.5)
    np.testing.assert_allclose(np.linalg.norm(est.components_, axis=1), 1.0)
    np.testing.assert_allclose(est.mean_, sparse_data.mean(axis=0))
    energy = np.sum(est.transform(sparse_data) ** 2, axis=0)
    assert np.all(np.diff(energy) <= 1e-9 * energy[0])


# ========================================================= MatrixCompletion
@pytest.fixture(scope="module")
def ratings():
    from nimf.datasets import make_ratings

    data = make_ratings(40, 25, 500, n_factors=2, random_state=0).ratings
    return data


def _mc(**kw):
    from nimf.ratings import MatrixCompletion

    params = dict(n_components=2, random_state=0)
    params.update(kw)
    return MatrixCompletion(**params)


def _ratings_matrix(ratings):
    import scipy.sparse as sp

    users = np.unique(ratings.user.to_numpy())
    items = np.unique(ratings.item.to_numpy())
    u = np.searchsorted(users, ratings.user.to_numpy())
    i = np.searchsorted(items, ratings.item.to_numpy())
    return sp.csr_matrix((ratings.rating.to_numpy(float), (u, i)),
                         shape=(users.size, items.size))


def _somf_reference(ratings, k, alpha, forget_exponent, batch_size, init_scale, seed,
                    count_exponent=1.0):
    """One SOMF epoch from the slow references of ``tests/naive_ratings.py``, drawing
    the same random numbers as the estimator."""
    X = _ratings_matrix(ratings)
    dense, mask = X.toarray(), X.toarray() != 0
    n_users, n_items = X.shape
    n_u, n_i = mask.sum(axis=1), mask.sum(axis=0)
    # the penalty weight of each user (n ** gamma) and each rating's share of an item's
    user_w = n_u ** count_exponent
    item_share = np.where(n_i > 0, n_i ** (count_exponent - 1.0), 1.0)
    rng = np.random.default_rng(seed)
    mu = float(X.data.mean())
    P = rng.normal(0.0, init_scale, (n_users, k))
    Q = rng.normal(0.0, init_scale, (n_items, k))
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    A = np.zeros((n_items, k + 1, k + 1))
    B = np.zeros((n_items, k + 1))
    counts = np.zeros(n_items)
    order = rng.permutation(n_users)
    for s in range(0, n_users, batch_size):
        batch = order[s:s + batch_size]
        P_all, bu_all = naive_ratings.als_rows(dense, mask, mu, bi, Q, alpha, alpha, True,
                                               user_w)
        P[batch], bu[batch] = P_all[batch], bu_all[batch]
        Q, bi, A, B, counts = naive_ratings.masked_item_step(
            batch, dense, mask, mu, P, bu, Q, bi, A, B, counts, alpha, alpha,
            forget_exponent, True, 2, item_share)
    P, bu = naive_ratings.als_rows(dense, mask, mu, bi, Q, alpha, alpha, True, user_w)
    return P, Q, bu, bi


@pytest.mark.parametrize("forget_exponent,count_exponent",
                         [(0.6, 1.0), (1.0, 1.0), (0.8, 0.5), (0.8, 0.0)])
def test_mc_somf_epoch_matches_the_reference(ratings, forget_exponent, count_exponent):
    kw = dict(k=2, alpha=0.1, forget_exponent=forget_exponent, batch_size=7, init_scale=0.3,
              seed=4, count_exponent=count_exponent)
    model = _mc(solver="somf", n_components=2, alpha=0.1, forget_exponent=forget_exponent,
                batch_size=7, init_scale=0.3, random_state=4, n_epochs=1,
                count_exponent=count_exponent).fit(ratings)
    assert model.count_exponent_ == count_exponent
    P, Q, bu, bi = _somf_reference(ratings, **kw)
    np.testing.assert_allclose(model.item_factors_, Q, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.item_bias_, bi, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.user_factors_, P, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.user_bias_, bu, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("count_exponent", [1.0, 0.5, 0.0])
def test_mc_als_sweep_solves_the_weighted_ridge_problems(ratings, count_exponent):
    """After an ALS sweep, the item side is the exact solve of its ridge problems with
    each item's penalty weighted by its number of ratings to the power
    ``count_exponent`` (and the user side was, given the initial items)."""
    X = _ratings_matrix(ratings)
    dense, mask = X.toarray(), X.toarray() != 0
    model = _mc(solver="als", n_components=3, alpha=0.2, alpha_bias=0.3, n_epochs=1,
                count_exponent=count_exponent, random_state=3).fit(ratings)
    rng = np.random.default_rng(3)
    rng.normal(0.0, 0.1, (X.shape[0], 3))
    Q0 = rng.normal(0.0, 0.1, (X.shape[1], 3))
    mu = model.global_mean_
    P, bu = naive_ratings.als_rows(dense, mask, mu, np.zeros(X.shape[1]), Q0, 0.2, 0.3, True,
                                   mask.sum(axis=1) ** count_exponent)
    np.testing.assert_allclose(model.user_factors_, P, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.user_bias_, bu, rtol=1e-8, atol=1e-10)
    Q, bi = naive_ratings.als_rows(dense.T, mask.T, mu, bu, P, 0.2, 0.3, True,
                                   mask.sum(axis=0) ** count_exponent)
    np.testing.assert_allclose(model.item_factors_, Q, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.item_bias_, bi, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("count_exponent", [1.0, 0.5])
def test_mc_sgd_epoch_shares_each_penalty_over_the_ratings(ratings, count_exponent):
    """An SGD epoch charges each rating ``n ** (count_exponent - 1)`` of its user's and
    its item's penalties: the serial reference pass over the estimator's order."""
    import scipy.sparse as sp

    from nimf._kernels import ratings as kernels

    X = _ratings_matrix(ratings)
    model = _mc(solver="sgd", n_components=2, alpha=0.3, n_epochs=1, learning_rate=0.05,
                count_exponent=count_exponent, random_state=5).fit(ratings)
    n_users, n_items = X.shape
    rng = np.random.default_rng(5)
    P0 = rng.normal(0.0, 0.1, (n_users, 2))
    Q0 = rng.normal(0.0, 0.1, (n_items, 2))
    user_block = rng.permutation(n_users) % 16
    item_block = rng.permutation(n_items) % 16
    coo = sp.coo_matrix(X)
    users, items = coo.row.astype(np.int64), coo.col.astype(np.int64)
    group = ((item_block[items] - user_block[users]) % 16) * 16 + user_block[users]
    order, _ = kernels.group_order(rng.permutation(X.nnz), group, 256)
    n_u = np.diff(X.indptr).astype(float)
    n_i = np.bincount(X.indices, minlength=n_items).astype(float)
    P, Q, bu, bi, _ = naive_ratings.sgd_epoch(
        users, items, coo.data, order, model.global_mean_, P0, Q0, np.zeros(n_users),
        np.zeros(n_items), 0.05, 0.05, 0.3, 0.3, True, n_u ** (count_exponent - 1.0),
        n_i ** (count_exponent - 1.0))
    np.testing.assert_allclose(model.item_factors_, Q, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.user_bias_, bu, rtol=1e-9, atol=1e-12)


def test_mc_count_exponent_auto_and_the_alpha_rule(ratings):
    X = _ratings_matrix(ratings)
    per_user = X.nnz / np.count_nonzero(np.diff(X.indptr))
    per_item = X.nnz / np.count_nonzero(np.bincount(X.indices))
    # an int rank: "auto" is the penalty per rating, with the density rule
    fixed = _mc(solver="als", n_epochs=1).fit(ratings)
    assert fixed.count_exponent_ == 1.0
    assert fixed.alpha_ == pytest.approx(0.9 / (per_user * per_item) ** 0.25)
    one = _mc(solver="als", n_epochs=1, count_exponent=1.0).fit(ratings)
    np.testing.assert_array_equal(one.item_factors_, fixed.item_factors_)
    # another exponent: the rule gives a user or item of typical size the same penalty
    half = _mc(solver="als", n_epochs=1, count_exponent=0.5).fit(ratings)
    assert half.alpha_ == pytest.approx(0.9)
    sgd = _mc(solver="sgd", n_epochs=1, count_exponent=0.5).fit(ratings)
    assert sgd.alpha_ == pytest.approx(0.03 * (per_user * per_item) ** 0.25)
    # the searched rank: every candidate and the refit use 0.5
    auto = _mc(n_components="auto", n_epochs=2).fit(ratings)
    assert auto.count_exponent_ == 0.5
    assert auto.selection_["candidates"][0]["alpha"] == pytest.approx(0.9)


@pytest.mark.parametrize("bad,message", [
    (1.5, 'count_exponent must be "auto" or in [0, 1], got 1.5'),
    (-0.1, 'count_exponent must be "auto" or in [0, 1], got -0.1'),
    ("half", 'count_exponent must be "auto" or a real number, got'),
])
def test_mc_count_exponent_out_of_range_is_refused(ratings, bad, message):
    with pytest.raises(ValueError) as info:
        _mc(count_exponent=bad).fit(ratings)
    assert message in str(info.value)


def test_mc_forget_exponent_and_batch_size_change_the_fit(ratings):
    base = _mc(solver="somf", batch_size=7, n_epochs=2).fit(ratings).item_factors_
    assert not np.allclose(base, _mc(solver="somf", batch_size=7, n_epochs=2,
                                     forget_exponent=0.6).fit(ratings).item_factors_)
    assert not np.allclose(base, _mc(solver="somf", batch_size=20, n_epochs=2)
                           .fit(ratings).item_factors_)


def test_mc_lr_decay_sets_the_step_of_later_epochs(ratings):
    def fit(n_epochs, decay):
        return _mc(solver="sgd", n_epochs=n_epochs, learning_rate=0.02, lr_decay=decay,
                   alpha=0.05).fit(ratings)

    one = fit(1, 0.0)
    # epoch 0 takes the full step whatever the decay
    np.testing.assert_array_equal(fit(1, 7.0).item_factors_, one.item_factors_)
    # an enormous decay: the second epoch's step is ~0, so nothing moves after epoch 1
    frozen = fit(2, 1e12)
    np.testing.assert_allclose(frozen.item_factors_, one.item_factors_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(frozen.user_bias_, one.user_bias_, rtol=0, atol=1e-12)
    # no decay: the second epoch moves the factors; a mild decay moves them less
    move = {d: np.linalg.norm(fit(2, d).item_factors_ - one.item_factors_)
            for d in (0.0, 3.0)}
    assert move[0.0] > move[3.0] > 1e-6


def test_mc_learning_rate_scales_the_sgd_steps(ratings):
    start = _mc(solver="sgd", n_epochs=1, learning_rate=1e-12).fit(ratings)
    big = _mc(solver="sgd", n_epochs=1, learning_rate=0.02).fit(ratings)
    # a vanishing step leaves the initial factors and zero biases
    rng = np.random.default_rng(0)
    P0 = rng.normal(0.0, 0.1, start.user_factors_.shape)
    np.testing.assert_allclose(start.user_factors_, P0, atol=1e-9)
    assert np.abs(start.user_bias_).max() < 1e-9
    assert np.abs(big.user_bias_).max() > 1e-3


def test_mc_alpha_and_alpha_bias_shrink_factors_and_biases(ratings):
    def fit(**kw):
        return _mc(solver="als", n_epochs=5, **kw).fit(ratings)

    weak, strong = fit(alpha=0.01), fit(alpha=1.0)
    assert np.linalg.norm(strong.user_factors_) < np.linalg.norm(weak.user_factors_)
    assert np.linalg.norm(strong.user_bias_) < np.linalg.norm(weak.user_bias_)
    biased = fit(alpha=0.01, alpha_bias=5.0)
    assert np.linalg.norm(biased.user_bias_) < np.linalg.norm(weak.user_bias_)
    assert biased.alpha_bias_ == 5.0 and weak.alpha_bias_ == 0.01


def test_mc_fit_bias_false_keeps_the_biases_at_zero(ratings):
    model = _mc(solver="als", n_epochs=3, fit_bias=False).fit(ratings)
    assert not model.user_bias_.any() and not model.item_bias_.any()
    assert model.global_mean_ == pytest.approx(ratings.rating.mean())


def test_mc_clip_bounds_predictions_to_the_training_range(ratings):
    unclipped = _mc(solver="als", n_epochs=5, alpha=1e-4, clip=False).fit(ratings)
    clipped = _mc(solver="als", n_epochs=5, alpha=1e-4, clip=True).fit(ratings)
    users = np.repeat(unclipped.user_ids_, unclipped.item_ids_.size)
    items = np.tile(unclipped.item_ids_, unclipped.user_ids_.size)
    raw = unclipped.predict(users, items)
    # predictions are mu + b_u + c_i + p_u . q_i, recomputed here
    expected = (unclipped.global_mean_ + unclipped.user_bias_[:, None]
                + unclipped.item_bias_[None, :]
                + unclipped.user_factors_ @ unclipped.item_factors_.T).ravel()
    np.testing.assert_allclose(raw, expected, rtol=1e-10)
    low, high = ratings.rating.min(), ratings.rating.max()
    assert raw.min() < low or raw.max() > high
    np.testing.assert_allclose(clipped.predict(users, items), np.clip(raw, low, high),
                               rtol=1e-10)


def test_mc_n_epochs_and_history(ratings):
    for solver in ("als", "somf", "sgd"):
        model = _mc(solver=solver, n_epochs=3).fit(ratings)
        assert model.n_epochs_ == 3 and [h["epoch"] for h in model.history_] == [1, 2, 3]
    # None: the solver's default
    assert _mc(solver="als").fit(ratings).n_epochs_ == 10


def test_mc_init_scale_sets_the_initial_factors(ratings):
    a = _mc(solver="sgd", n_epochs=1, learning_rate=1e-12, init_scale=0.5).fit(ratings)
    b = _mc(solver="sgd", n_epochs=1, learning_rate=1e-12, init_scale=0.1).fit(ratings)
    np.testing.assert_allclose(a.item_factors_, 5 * b.item_factors_, rtol=1e-8, atol=1e-12)


def test_mc_duplicates_mean_and_last():
    frame = {"user": [0, 0, 1, 1], "item": [0, 0, 0, 1], "rating": [1.0, 5.0, 2.0, 4.0]}
    import pandas as pd

    df = pd.DataFrame(frame)
    with pytest.raises(ValueError, match="duplicate"):
        _mc(n_epochs=1).fit(df)
    mean = _mc(n_epochs=1, duplicates="mean").fit(df)
    last = _mc(n_epochs=1, duplicates="last").fit(df)
    assert mean.n_ratings_ == last.n_ratings_ == 3
    assert mean.global_mean_ == pytest.approx((3.0 + 2.0 + 4.0) / 3)
    assert last.global_mean_ == pytest.approx((5.0 + 2.0 + 4.0) / 3)


def test_mc_column_names(ratings):
    renamed = ratings.rename(columns={"user": "who", "item": "what", "rating": "stars"})
    a = _mc(solver="als", n_epochs=2, user_col="who", item_col="what",
            rating_col="stars").fit(renamed)
    b = _mc(solver="als", n_epochs=2).fit(ratings)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


def test_mc_random_state_generator_int_and_n_jobs(ratings):
    import numba

    by_int = _mc(solver="somf", n_epochs=2, batch_size=10, random_state=3).fit(ratings)
    by_gen = _mc(solver="somf", n_epochs=2, batch_size=10,
                 random_state=np.random.default_rng(3)).fit(ratings)
    np.testing.assert_array_equal(by_int.item_factors_, by_gen.item_factors_)
    other = _mc(solver="somf", n_epochs=2, batch_size=10, random_state=4).fit(ratings)
    assert not np.allclose(by_int.item_factors_, other.item_factors_)
    threads = numba.get_num_threads()
    one = _mc(solver="als", n_epochs=3, n_jobs=1).fit(ratings)
    two = _mc(solver="als", n_epochs=3, n_jobs=2).fit(ratings)
    np.testing.assert_allclose(one.item_factors_, two.item_factors_, rtol=1e-12)
    # the thread count is restored after the fit
    assert numba.get_num_threads() == threads


def test_mc_callback_and_verbose(ratings, capsys):
    seen = []
    model = _mc(solver="als", n_epochs=5,
                callback=lambda m, info: seen.append(info["epoch"]) or info["epoch"] == 2)
    model.fit(ratings)
    assert seen == [1, 2] and model.n_epochs_ == 2
    _mc(solver="als", n_epochs=2, verbose=True).fit(ratings)
    assert "MatrixCompletion" in capsys.readouterr().err


# ============================================================ CPDecomposition
@pytest.fixture(scope="module")
def tensor():
    rng = np.random.RandomState(3)
    factors = [rng.rand(n, 2) for n in (6, 7, 8)]
    X = np.einsum("ir,jr,kr->ijk", *factors)
    return X + 0.01 * rng.rand(*X.shape)


def _cp(**kw):
    from nimf.tensor import CPDecomposition

    params = dict(n_components=2, random_state=0)
    params.update(kw)
    return CPDecomposition(**params)


def test_cp_nonnegative_factors(tensor, rng):
    signed = _cp(init="random").fit(tensor - tensor.mean())
    assert min(f.min() for f in signed.factors_) < 0
    nonneg = _cp(nonnegative=True).fit(tensor)
    assert min(f.min() for f in nonneg.factors_) >= 0


def test_cp_errors_and_reconstruction_error_recomputed(tensor):
    est = _cp(max_iter=50, tol=0).fit(tensor)
    assert est.n_iter_ == 50 and est.errors_.shape == (50,)
    approx = np.einsum("r,ir,jr,kr->ijk", est.weights_, *est.factors_)
    error = np.linalg.norm(tensor - approx) / np.linalg.norm(tensor)
    assert est.reconstruction_error_ == pytest.approx(error, rel=1e-6)
    assert est.errors_[-1] == pytest.approx(error, rel=1e-6)
    assert np.all(np.diff(est.weights_) <= 0)
    for f in est.factors_:
        np.testing.assert_allclose(np.linalg.norm(f, axis=0), 1.0)


def test_cp_larger_tol_stops_earlier(tensor):
    loose = _cp(tol=1e-2, max_iter=500).fit(tensor)
    tight = _cp(tol=1e-12, max_iter=500).fit(tensor)
    assert loose.n_iter_ < tight.n_iter_


def test_cp_init_and_random_state(tensor):
    same = [_cp(init="random", max_iter=3, tol=0, random_state=1).fit(tensor).weights_
            for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    other = _cp(init="random", max_iter=3, tol=0, random_state=2).fit(tensor).weights_
    assert not np.allclose(same[0], other)
    svd = _cp(init="svd", max_iter=3, tol=0).fit(tensor).weights_
    assert not np.allclose(svd, same[0])


def test_cp_callback_stops(tensor):
    seen = []
    est = _cp(callback=lambda n, w, f: seen.append(n) or n == 3).fit(tensor)
    assert seen == [1, 2, 3] and est.n_iter_ == 3


# ========================================================= image estimators
@pytest.fixture(scope="module")
def rest_study():
    from nimf.datasets import make_rest_study

    return make_rest_study(n_subjects=2, n_scans=40, n_networks=3, resolution=8,
                           random_state=0)


def _maps(cls_name, study, **kw):
    import nimf.neuro as neuro

    params = dict(n_components=3, mask=study.mask_img, random_state=0)
    params.update(kw)
    return getattr(neuro, cls_name)(**params).fit(study.func)


@pytest.mark.parametrize("cls_name,param,values", [
    ("DictLearning", "alpha", (0.5, 40.0)),
    ("NMF", "alpha_H", (0.0, 0.1)),
    ("SparsePCA", "alpha", (0.2, 5.0)),
])
def test_image_estimators_larger_penalty_gives_sparser_maps(rest_study, cls_name, param,
                                                           values):
    epochs = {"NMF": dict(max_iter=100)}.get(cls_name, dict(n_epochs=2))
    weak, strong = (_maps(cls_name, rest_study, **{param: v}, **epochs).components_
                    for v in values)
    assert _zeros(strong) > _zeros(weak) + 0.05


def test_image_estimators_positivity_and_semi(rest_study):
    dl = _maps("DictLearning", rest_study, positive=True, n_epochs=1)
    assert dl.components_.min() >= 0
    nmf = _maps("NMF", rest_study, max_iter=30)
    assert nmf.components_.min() >= 0
    # semi=False: the cleaned (signed) data are refused, saying why
    with pytest.raises(ValueError, match="semi=False"):
        _maps("NMF", rest_study, semi=False, max_iter=5)


def test_image_estimators_reduction_ratio_and_epochs(rest_study):
    full = _maps("DictLearning", rest_study, n_epochs=1)
    half = _maps("DictLearning", rest_study, n_epochs=1, reduction_ratio=0.5)
    assert not np.allclose(full.components_, half.components_)
    assert _maps("SparsePCA", rest_study, n_epochs=2).n_iter_ <= 2
    same = [_maps("SparsePCA", rest_study, n_epochs=1, random_state=5).components_
            for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    other = _maps("SparsePCA", rest_study, n_epochs=1, random_state=6).components_
    assert not np.allclose(same[0], other)


def test_image_explained_variance_recomputed(rest_study):
    """``explained_variance_``: 1 - var(X - (X c) c^T) / var(X) per unit map c, on
    the cleaned training data, in decreasing order."""
    from nilearn.maskers import MultiNiftiMasker

    dl = _maps("DictLearning", rest_study, n_epochs=1)
    masker = MultiNiftiMasker(mask_img=rest_study.mask_img, smoothing_fwhm=4,
                              standardize="zscore_sample", detrend=True).fit()
    X = np.vstack(masker.transform(rest_study.func))
    expected = []
    for c in dl.components_:
        c = c / np.linalg.norm(c)
        expected.append(1 - np.var(X - np.outer(X @ c, c)) / np.var(X))
    np.testing.assert_allclose(dl.explained_variance_, expected, rtol=2e-3, atol=2e-4)
    assert np.all(np.diff(dl.explained_variance_) <= 0)


# ============================================ checkpoints, progress output, function form
@pytest.mark.parametrize("every,expected", [(4, {4, 6, 8, 12}), (5, {5, 6, 10, 12}),
                                            (500, {6, 12})])
def test_odl_checkpoint_every_and_the_end_of_each_epoch(sparse_data, tmp_path,
                                                         checkpoint_steps, every, expected):
    """A checkpoint every ``checkpoint_every`` steps, at the end of each epoch and at
    the end of the fit: 120 samples in batches of 20 are 6 steps an epoch."""
    from nimf.sources import load_checkpoint

    saved = checkpoint_steps
    path = tmp_path / "fit.npz"
    est = _odl(sparse_data, checkpoint=str(path), checkpoint_every=every)
    assert est.n_steps_ == 12
    assert set(saved) == expected and saved[-1] == 12
    # the file holds the last state
    arrays, meta = load_checkpoint(path)
    assert meta["state"]["n_steps"] == 12 and meta["state"]["stop_reason"] == "n_epochs"
    np.testing.assert_array_equal(arrays["D"].shape, est.components_.shape)
    saved.clear()
    _odl(sparse_data, checkpoint_every=every)  # no checkpoint file: nothing saved
    assert saved == []


def test_odl_verbose(sparse_data, capsys):
    _odl(sparse_data, verbose=0)
    assert capsys.readouterr() == ("", "")
    _odl(sparse_data, verbose=1)
    out, err = capsys.readouterr()
    # a bar over the 12 mini-batches (2 epochs of 6), which ends full (the last step
    # of each epoch moves it too)
    assert out == "" and "OnlineDictionaryLearning" in err and "/12 [" in err
    assert "12/12 [" in err


def test_spca_verbose(sparse_data, capsys):
    _spca(sparse_data, verbose=0, max_iter=1)
    assert capsys.readouterr() == ("", "")
    _spca(sparse_data, verbose=True, max_iter=1)
    out, err = capsys.readouterr()
    assert out == "" and "batch" in err


def test_nmf_verbose_prints_the_objective_of_each_iteration(nonneg_data, capsys):
    est = _nmf(nonneg_data, verbose=1, max_iter=4, tol=0).fit(nonneg_data)
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if line.startswith("NMF iteration")]
    assert [line.split(":")[0] for line in lines] == [f"NMF iteration {i}"
                                                      for i in range(1, est.n_iter_ + 1)]
    # the iterations on the sketch of X, reported in one line after the first iteration
    assert len(out) == len(lines) + 1
    assert out[1].startswith("NMF: ") and "iterations on a rank-" in out[1]
    objectives = [float(line.split("objective ")[1].split(",")[0]) for line in lines]
    assert objectives == sorted(objectives, reverse=True)  # the objective goes down


def test_mc_verbose_false_prints_nothing(ratings, capsys):
    _mc(solver="als", n_epochs=2, verbose=False).fit(ratings)
    assert capsys.readouterr() == ("", "")


def test_cp_verbose_shows_the_error(tensor, capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _cp(max_iter=3, verbose=0).fit(tensor)
        assert capsys.readouterr() == ("", "")
        _cp(max_iter=3, verbose=1).fit(tensor)
    out, err = capsys.readouterr()
    assert out == "" and "CP-ALS" in err and "error=" in err


def test_online_dict_learning_return_code_and_n_iter(sparse_data):
    from nimf.decomposition import online_dict_learning

    kw = dict(n_epochs=2, batch_size=20, random_state=0, tol=0)
    est = _odl(sparse_data)
    code, dictionary, n_iter = online_dict_learning(sparse_data, 3, return_n_iter=True, **kw)
    np.testing.assert_array_equal(dictionary, est.components_)
    np.testing.assert_array_equal(code, est.transform(sparse_data))
    assert n_iter == est.n_iter_ == 2
    only = online_dict_learning(sparse_data, 3, return_code=False, **kw)
    assert isinstance(only, np.ndarray)
    np.testing.assert_array_equal(only, est.components_)
    pair = online_dict_learning(sparse_data, 3, return_code=False, return_n_iter=True, **kw)
    assert len(pair) == 2 and pair[1] == 2
