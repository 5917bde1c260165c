"""The subsampled online dictionary learner: ground truth, equivalences, contract."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import naive
from naive import recovery
from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition import OnlineDictionaryLearning, online_dict_learning


@pytest.fixture(scope="module")
def planted():
    return make_sparse_dictionary_data(n_samples=800, n_features=1200, n_components=5,
                                       density=0.08, snr=2.0, random_state=1)


# ---------------------------------------------------------------- ground truth
@pytest.mark.parametrize("reduction", [1, 4])
def test_planted_sparse_dictionary_is_recovered(planted, reduction):
    # a stochastic learner: judged on three seeds, not on one lucky draw
    fits = [OnlineDictionaryLearning(5, dict_l1_ratio=0.5, reduction=reduction, n_epochs=6,
                                     random_state=seed).fit(planted.X) for seed in range(3)]
    oracle = OnlineDictionaryLearning(5, dict_l1_ratio=0.5)
    oracle.components_ = planted.components / np.abs(planted.components).sum(1, keepdims=True)
    oracle.n_features_in_ = planted.X.shape[1]
    best = oracle.score(planted.X_test)
    for est in fits:
        assert recovery(est.components_, planted.components) > 0.88
        # sparse components: most features are exactly zero
        assert np.mean(est.components_ == 0) > 0.5
    # held-out explained energy close to that of the true components
    assert np.mean([est.score(planted.X_test) for est in fits]) > best - 0.05


def test_l2_dictionary_spans_the_planted_subspace(planted):
    est = OnlineDictionaryLearning(5, dict_l1_ratio=0.0, n_epochs=3,
                                   random_state=0).fit(planted.X)
    # principal angles between learned and true spans are small
    q1, _ = np.linalg.qr(est.components_.T)
    q2, _ = np.linalg.qr(planted.components.T)
    cosines = np.linalg.svd(q1.T @ q2, compute_uv=False)
    assert cosines.min() > 0.95
    np.testing.assert_allclose(np.linalg.norm(est.components_, axis=1), 1.0, rtol=1e-6)


def test_reduction_one_is_online_dictionary_learning(rng):
    X = rng.standard_normal((60, 25))
    k, b, alpha, rho = 4, 8, 0.3, 0.9
    D0 = rng.standard_normal((k, 25))
    D0 /= np.linalg.norm(D0, axis=1, keepdims=True)
    est = OnlineDictionaryLearning(k, reduction=1, batch_size=b, n_epochs=2, alpha=alpha,
                                   learning_rate=rho, dict_l1_ratio=0.3, dict_init=D0,
                                   start_weight=0, shuffle=False, tol=0,
                                   random_state=3).fit(X)
    # with reduction 1 a step draws nothing but the order of the components
    batches = [np.arange(i, min(i + b, 60)) for i in range(0, 60, b)] * 2
    orders = [est._draws(step)[1] for step in range(len(batches))]
    # D0 has l2 norm 1, so its elastic-net norm exceeds 1: the estimator scales it
    from nimf._kernels.projections import enet_scale_rows
    D_start = D0.copy()
    enet_scale_rows(D_start, 1.0, 0.3)
    expected = naive.online_dictionary_learning(X, D_start, batches, orders, alpha,
                                                0.3, learning_rate=rho)
    np.testing.assert_allclose(est.components_, expected, rtol=1e-9, atol=1e-12)
    assert est.n_iter_ == 2 and est.n_steps_ == len(batches)


@pytest.mark.parametrize("method", ["gram", "average", "masked", "full"])
def test_all_code_methods_learn(planted, method):
    scores = [recovery(OnlineDictionaryLearning(
        5, dict_l1_ratio=0.5, reduction=3, code_method=method, n_epochs=4,
        random_state=seed).fit(planted.X).components_, planted.components)
        for seed in range(3)]
    assert np.mean(scores) > 0.85 and min(scores) > 0.75


# --------------------------------------------------- the code estimates themselves
def _fitted_state(planted, method, reduction=4):
    est = OnlineDictionaryLearning(5, dict_l1_ratio=0.5, reduction=reduction,
                                   code_method=method, n_epochs=1, random_state=0)
    est.fit(planted.X[:200])
    return est


def _run_step(est, X, rows):
    """One step of ``est`` on ``X[rows]``, with the draws the learner makes."""
    params = est._resolve(est._check_params(), *X.shape)
    positions, order = est._draws(est.n_steps_)
    state = est._state
    cols = positions if state.storage_cols is None else state.storage_cols[positions]
    Xs = np.ascontiguousarray(X[np.ix_(rows, cols)])
    est._step(rows, Xs, positions, order, params)
    return positions


def test_masked_estimates_are_rescaled_partial_products(planted, rng):
    est = _fitted_state(planted, "masked")
    X = planted.X[:200]
    D = est._state.D
    cols = np.sort(rng.choice(X.shape[1], 300, replace=False))
    rows = np.arange(10)
    params = est._check_params()
    G, beta = est._code_inputs(rows, X[np.ix_(rows, cols)], D[:, cols], 4.0, "masked", params)
    np.testing.assert_allclose(G, 4.0 * D[:, cols] @ D[:, cols].T, rtol=1e-12)
    np.testing.assert_allclose(beta, 4.0 * X[np.ix_(rows, cols)] @ D[:, cols].T, rtol=1e-12)
    # unbiased: averaging over many random subsets recovers the full products
    acc_G = np.zeros_like(G)
    for _ in range(400):
        c = rng.choice(X.shape[1], 300, replace=False)
        acc_G += est._code_inputs(rows, X[np.ix_(rows, c)], D[:, c], 4.0, "masked",
                                  params)[0]
    np.testing.assert_allclose(acc_G / 400, D @ D.T, rtol=0.1, atol=0.05 * np.abs(D @ D.T).max())


def test_block_sampling_makes_unbiased_estimates(planted):
    # the learner's own draws (blocks of its permuted features), rescaled by the
    # inverse inclusion probability, average to the full product D x
    est = _fitted_state(planted, "masked", reduction=6)
    state = est._state
    X = planted.X[:5]
    D = state.D
    Xi = X[:, state.feature_map]
    acc = np.zeros((5, 5))
    n_draws = 3000
    for step in range(n_draws):
        positions, _ = est._draws(1000 + step)
        acc += est._blocks.scale * Xi[:, positions] @ D[:, positions].T
    full = Xi @ D.T
    err = np.abs(acc / n_draws - full)
    assert err.max() < 0.06 * np.abs(full).max()


def test_gram_is_exact_and_kept_up_to_date(planted):
    est = _fitted_state(planted, "gram")
    X = planted.X
    params = est._check_params()
    for start in range(200, 400, 50):
        _run_step(est, X, np.arange(start, start + 50))
        D = est._state.D
        np.testing.assert_allclose(est._state.G, D @ D.T, rtol=1e-9, atol=1e-14)
    cols = np.arange(0, 1200, 7)
    rows = np.arange(5)
    G, beta = est._code_inputs(rows, X[np.ix_(rows, cols)], est._state.D[:, cols], 7.0,
                               "gram", params)
    assert G is est._state.G


def test_average_is_a_per_sample_running_mean(planted, rng):
    est = _fitted_state(planted, "average")
    X = planted.X
    params = est._check_params()
    state = est._state
    state.ensure_samples(1000, True, False)
    D = state.D
    rows = np.array([700, 701, 702])
    masked = []
    for visit in range(3):
        cols = np.sort(rng.choice(1200, 300, replace=False))
        G, beta = est._code_inputs(rows, X[np.ix_(rows, cols)], D[:, cols], 4.0,
                                   "average", params)
        masked.append(4.0 * X[np.ix_(rows, cols)] @ D[:, cols].T)
        assert G is state.G
    rho = params["sample_learning_rate"]
    expected = masked[0]
    for visit in (2, 3):
        gamma = visit ** -rho
        expected = (1 - gamma) * expected + gamma * masked[visit - 1]
    np.testing.assert_allclose(beta, expected, rtol=1e-10)
    np.testing.assert_array_equal(state.sample_counts[rows], 3)


def test_average_first_epoch_equals_gram(planted):
    a = OnlineDictionaryLearning(5, reduction=4, code_method="average", n_epochs=1,
                                 random_state=0).fit(planted.X)
    g = OnlineDictionaryLearning(5, reduction=4, code_method="gram", n_epochs=1,
                                 random_state=0).fit(planted.X)
    np.testing.assert_allclose(a.components_, g.components_, rtol=1e-10, atol=1e-14)
    a2 = OnlineDictionaryLearning(5, reduction=4, code_method="average", n_epochs=2,
                                  random_state=0).fit(planted.X)
    g2 = OnlineDictionaryLearning(5, reduction=4, code_method="gram", n_epochs=2,
                                  random_state=0).fit(planted.X)
    assert not np.allclose(a2.components_, g2.components_)


def test_full_uses_whole_samples(planted):
    est = _fitted_state(planted, "full")
    X = planted.X
    rows = np.arange(4)
    cols = np.arange(0, 1200, 5)
    D = est._state.D
    Xi = X[:, est._state.feature_map]
    G, beta = est._code_inputs(rows, Xi[np.ix_(rows, cols)], D[:, cols], 5.0, "full",
                               est._check_params(), X_full=Xi[rows])
    np.testing.assert_allclose(beta, Xi[rows] @ D.T, rtol=1e-12)
    assert G is est._state.G


def test_each_step_touches_only_sampled_features(planted):
    est = _fitted_state(planted, "gram", reduction=6)
    D_before = est._state.D.copy()
    B_before = est._state.B.copy()
    counts_before = est._state.feature_counts.copy()
    positions = _run_step(est, planted.X, np.arange(50))
    moved = est._state.feature_counts != counts_before
    blocks = est._blocks
    # whole blocks of 4 features (1200 // 256), about 1 / 6 of them
    assert blocks.block_size == 4 and blocks.n_draw == round(blocks.n_blocks / 6)
    assert moved.sum() == positions.size == blocks.n_draw * 4
    np.testing.assert_array_equal(np.flatnonzero(moved), positions)
    np.testing.assert_array_equal(est._state.D[:, ~moved], D_before[:, ~moved])
    np.testing.assert_array_equal(est._state.B[:, ~moved], B_before[:, ~moved])


# ----------------------------------------------------------- determinism & online
def test_seed_determinism(planted):
    kw = dict(n_components=5, reduction=3, dict_l1_ratio=0.5, n_epochs=2)
    a = OnlineDictionaryLearning(random_state=7, **kw).fit(planted.X).components_
    b = OnlineDictionaryLearning(random_state=7, **kw).fit(planted.X).components_
    c = OnlineDictionaryLearning(random_state=8, **kw).fit(planted.X).components_
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("method", ["gram", "average", "masked"])
def test_partial_fit_over_chunks_equals_fit(planted, rng, method):
    X = planted.X[:400]
    D0 = rng.standard_normal((5, X.shape[1]))
    kw = dict(n_components=5, reduction=3, dict_l1_ratio=0.5, code_method=method,
              batch_size=40, dict_init=D0, start_weight=0, random_state=0, shuffle=False,
              n_epochs=1)
    full = OnlineDictionaryLearning(**kw).fit(X)
    online = OnlineDictionaryLearning(**kw)
    for start in range(0, 400, 120):  # chunks of 3 batches (the last one shorter)
        online.partial_fit(X[start:start + 120])
    np.testing.assert_allclose(online.components_, full.components_, rtol=1e-10, atol=1e-14)
    assert online.n_steps_ == full.n_steps_


def test_partial_fit_with_sample_indices_equals_fit_over_epochs(planted, rng):
    X = planted.X[:200]
    D0 = rng.standard_normal((5, X.shape[1]))
    kw = dict(n_components=5, reduction=3, code_method="average", batch_size=50,
              dict_init=D0, start_weight=0, random_state=0, shuffle=False)
    full = OnlineDictionaryLearning(n_epochs=2, tol=0, **kw).fit(X)
    online = OnlineDictionaryLearning(**kw)
    for _ in range(2):
        online.partial_fit(X, sample_indices=np.arange(200))
    np.testing.assert_allclose(online.components_, full.components_, rtol=1e-9, atol=1e-14)


def test_heldout_objective_decreases_over_epochs(planted):
    values = []
    est = OnlineDictionaryLearning(5, dict_l1_ratio=0.5, reduction=4, n_epochs=6, tol=0,
                                   random_state=0,
                                   callback=lambda e: values.append(e.objective(planted.X_test)))
    est.fit(planted.X)
    assert len(values) == 6
    assert values[-1] < values[0]
    # the steady state of stochastic steps fluctuates, but never far above the start
    assert max(values) < 1.03 * values[0]


def test_callback_can_stop_and_tol_stops_early(planted):
    est = OnlineDictionaryLearning(3, n_epochs=5, callback=lambda e: True, random_state=0)
    assert est.fit(planted.X).n_iter_ == 1
    est = OnlineDictionaryLearning(3, n_epochs=50, tol=0.05, random_state=0).fit(planted.X)
    assert 1 < est.n_iter_ < 50


# ---------------------------------------------------------- constraints & dtypes
def test_positivity_constraints(planted):
    est = OnlineDictionaryLearning(5, positive_dict=True, positive_code=True,
                                   dict_l1_ratio=0.5, reduction=2, n_epochs=2,
                                   random_state=0).fit(planted.X)
    assert np.all(est.components_ >= 0)
    assert np.all(est.transform(planted.X_test) >= 0)
    assert recovery(est.components_, planted.components) > 0.8


def test_elastic_net_codes(planted):
    est = OnlineDictionaryLearning(5, code_l1_ratio=0.9, alpha=2.0, dict_l1_ratio=0.5,
                                   reduction=2, n_epochs=2, random_state=0).fit(planted.X)
    codes = est.transform(planted.X_test)
    assert np.mean(codes == 0) > 0.05
    ridge = OnlineDictionaryLearning(5, code_l1_ratio=0.0, alpha=2.0, dict_l1_ratio=0.5,
                                     reduction=2, n_epochs=2, random_state=0).fit(planted.X)
    assert np.mean(ridge.transform(planted.X_test) == 0) == 0


def test_components_stay_in_the_ball(planted):
    for l1_ratio in (0.0, 0.5, 1.0):
        est = OnlineDictionaryLearning(5, dict_l1_ratio=l1_ratio, reduction=5, n_epochs=2,
                                       random_state=0).fit(planted.X)
        norms = [naive.enet_norm(d, l1_ratio) for d in est.components_]
        assert max(norms) <= 1 + 1e-8


def test_float32_stays_float32_and_agrees_with_float64(planted):
    X32 = planted.X.astype(np.float32)
    kw = dict(n_components=5, dict_l1_ratio=0.5, reduction=3, n_epochs=3, random_state=0)
    e32 = OnlineDictionaryLearning(**kw).fit(X32)
    e64 = OnlineDictionaryLearning(**kw).fit(planted.X)
    assert e32.components_.dtype == np.float32
    assert e32.transform(X32).dtype == np.float32
    assert e32.inverse_transform(e32.transform(X32)).dtype == np.float32
    assert recovery(e32.components_, planted.components) > 0.85
    assert recovery(e32.components_, e64.components_) > 0.95


def test_data_is_not_copied_or_modified(planted):
    X = planted.X.copy()
    OnlineDictionaryLearning(3, reduction=2, n_epochs=1, random_state=0).fit(X)
    np.testing.assert_array_equal(X, planted.X)


# -------------------------------------------------------------- API & contract
def test_transform_inverse_transform_score(planted):
    est = OnlineDictionaryLearning(5, n_epochs=2, random_state=0).fit(planted.X)
    codes = est.transform(planted.X_test)
    assert codes.shape == (planted.X_test.shape[0], 5)
    recon = est.inverse_transform(codes)
    assert recon.shape == planted.X_test.shape
    score = est.score(planted.X_test)
    resid = np.sum((planted.X_test - recon) ** 2) / np.sum(planted.X_test ** 2)
    assert score == pytest.approx(1 - resid)
    assert 0.3 < score < 1
    assert est.get_feature_names_out().tolist() == [
        f"onlinedictionarylearning{i}" for i in range(5)]


def test_function_form(planted):
    code, dictionary, n_iter = online_dict_learning(planted.X, 4, n_epochs=2, random_state=0,
                                                    return_n_iter=True)
    est = OnlineDictionaryLearning(4, n_epochs=2, random_state=0).fit(planted.X)
    np.testing.assert_array_equal(dictionary, est.components_)
    np.testing.assert_array_equal(code, est.transform(planted.X))
    assert n_iter == 2


def test_pipeline_and_clone(planted):
    est = OnlineDictionaryLearning(3, reduction=2, n_epochs=1, random_state=0)
    pipe = make_pipeline(StandardScaler(), est).fit(planted.X)
    assert pipe.transform(planted.X_test).shape == (planted.X_test.shape[0], 3)
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert not hasattr(c, "components_")


def test_dict_init_array_and_random(planted, rng):
    D0 = np.abs(rng.standard_normal((5, planted.X.shape[1])))
    est = OnlineDictionaryLearning(5, dict_init=D0, n_epochs=1, random_state=0).fit(planted.X)
    assert est.components_.shape == (5, planted.X.shape[1])
    est = OnlineDictionaryLearning(5, dict_init="random", n_epochs=1, random_state=0).fit(planted.X)
    assert np.all(np.isfinite(est.components_))


def test_more_components_than_samples_is_allowed(rng):
    X = rng.standard_normal((3, 20))
    est = OnlineDictionaryLearning(6, n_epochs=1, random_state=0).fit(X)
    assert est.components_.shape == (6, 20)


def test_verbose_shows_a_progress_bar(planted, capsys):
    OnlineDictionaryLearning(3, n_epochs=1, verbose=1, random_state=0).fit(planted.X[:100])
    err = capsys.readouterr().err
    assert "OnlineDictionaryLearning" in err and "batch" in err


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("X,match", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), "infinite"),
    (np.arange(5.0), "2D"),
    (np.empty((0, 4)), "0 sample"),
    (np.empty((3, 0)), "0 feature"),
])
def test_bad_data_is_rejected(X, match):
    with pytest.raises(ValueError, match=match):
        OnlineDictionaryLearning(1).fit(X)


@pytest.mark.parametrize("params,match", [
    (dict(n_components=0), "n_components must be a positive int, got 0"),
    (dict(n_components=11), r"n_components must be <= n_features \(10, the columns of X\), got n_components=11"),
    (dict(n_components=2.5), "n_components must be an int"),
    (dict(reduction=0.5), r"reduction must be in \[1, inf\), got 0.5"),
    (dict(code_method="fast"), "code_method must be one of 'gram', 'average', 'masked', 'full', got 'fast'"),
    (dict(dict_init="svd"), "dict_init must be one of 'auto', 'ica', 'data', 'random', got 'svd'"),
    (dict(dict_init=np.ones((2, 3))), r"dict_init must have shape .* \(2, 10\), got an array of shape \(2, 3\)"),
    (dict(dict_l1_ratio=1.5), r"dict_l1_ratio must be in \[0, 1\], got 1.5"),
    (dict(learning_rate=0.5), r"learning_rate must be in \(0.5, 1\], got 0.5"),
    (dict(alpha=-1), "alpha must be in"),
    (dict(batch_size=0), "batch_size must be a positive int"),
    (dict(positive_code="yes"), "positive_code must be True or False"),
    (dict(callback=3), "callback must be a callable"),
])
def test_bad_parameters_are_rejected_before_work(rng, params, match):
    X = rng.standard_normal((20, 10))
    params.setdefault("n_components", 2)
    est = OnlineDictionaryLearning(**params)
    with pytest.raises(ValueError, match=match):
        est.fit(X)
    assert not hasattr(est, "components_")


def test_transform_checks_features_and_fit(rng):
    X = rng.standard_normal((20, 10))
    est = OnlineDictionaryLearning(2, n_epochs=1)
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        est.transform(X)
    est.fit(X)
    with pytest.raises(ValueError, match="X has 7 features, but OnlineDictionaryLearning is expecting 10"):
        est.transform(X[:, :7])
    with pytest.raises(ValueError, match=r"expected codes of shape \(n_samples, 2\), got an array of shape \(20, 3\)"):
        est.inverse_transform(np.ones((20, 3)))
    with pytest.raises(ValueError, match="sample_indices"):
        est.partial_fit(X, sample_indices=np.arange(5))


def test_unused_components_are_restarted(planted):
    est = OnlineDictionaryLearning(4, dict_l1_ratio=0.5, n_epochs=1, random_state=0)
    est.fit(planted.X)
    params = est._check_params()
    state = est._state
    from nimf.sources import as_source, step_generator
    source = as_source(planted.X)
    assert est._reinit_unused(source, params, step_generator(0, 1)) == 0
    # component 2 is used by no sample: zero codes, zero statistics
    state.S[2, :] = 0
    state.S[:, 2] = 0
    before = state.D.copy()
    assert est._reinit_unused(source, params, step_generator(0, 1)) == 1
    assert not np.allclose(state.D[2], before[2])
    np.testing.assert_array_equal(state.D[[0, 1, 3]], before[[0, 1, 3]])
    # restarted from a sample, rescaled onto the sphere of the constraint
    assert naive.enet_norm(state.D[2], 0.5) == pytest.approx(1.0)
    assert np.min(np.abs(np.corrcoef(state.D[2], planted.X)[0, 1:])) < 1
    assert np.max(np.abs(np.corrcoef(state.D[2], planted.X)[0, 1:])) == pytest.approx(1.0)
    np.testing.assert_allclose(state.G, state.D @ state.D.T)


# ----------------------------------------------------------------- the start
@pytest.fixture(scope="module")
def wide():
    # few samples, many features: where the start matters
    return make_sparse_dictionary_data(n_samples=150, n_features=3000, n_components=6,
                                       density=0.05, snr=1.0, random_state=3)


def test_ica_start_recovers_planted_components_before_learning(wide):
    from nimf.decomposition._ica_start import ica_start
    maps = ica_start(wide.X, 6, reduction=4, random_state=0)
    assert maps.shape == (6, 3000)
    assert recovery(maps, wide.components) > 0.85
    # better than a start from samples, which mixes every component
    samples = wide.X[np.random.RandomState(0).choice(150, 6, replace=False)]
    assert recovery(maps, wide.components) > recovery(samples, wide.components) + 0.2
    # the start is the same whatever the layout of the features
    from nimf.sources import PermutedFeatures
    perm = np.random.RandomState(1).permutation(3000)
    permuted = ica_start(PermutedFeatures(wide.X[:, perm], perm), 6, reduction=4,
                         random_state=0)
    assert recovery(permuted, wide.components) > 0.85


def test_auto_start_is_ica_for_wide_data(wide, planted):
    est = OnlineDictionaryLearning(6, dict_l1_ratio=0.5, reduction=4, n_epochs=2,
                                   random_state=0)
    params = est._resolve(est._check_params(3000), 150, 3000)
    assert params["dict_init"] == "ica" and params["learning_rate"] == 0.95
    assert params["start_weight"] == 150  # ten batches of 50, at most every sample
    params = est._resolve(est._check_params(1200), 800, 1200)
    assert params["dict_init"] == "data" and params["learning_rate"] == 0.75
    assert params["start_weight"] == 0
    fitted = est.fit(wide.X)
    data_start = OnlineDictionaryLearning(6, dict_l1_ratio=0.5, reduction=4, n_epochs=2,
                                          dict_init="data", random_state=0).fit(wide.X)
    assert recovery(fitted.components_, wide.components) > 0.85
    assert recovery(fitted.components_, wide.components) > recovery(
        data_start.components_, wide.components) + 0.1
    with pytest.raises(ValueError, match="needs more samples than n_components"):
        OnlineDictionaryLearning(6, dict_init="ica").fit(wide.X[:5])


def test_start_weight_keeps_a_good_start(wide):
    # started at the planted components, the first batches refine them when the
    # start counts for some samples, and replace them when it counts for none
    truth = wide.components
    kw = dict(n_components=6, dict_l1_ratio=0.5, reduction=4, n_epochs=1, batch_size=10,
              dict_init=truth, learning_rate=0.95, random_state=0)
    weighted = OnlineDictionaryLearning(**kw).fit(wide.X)
    classical = OnlineDictionaryLearning(start_weight=0, **kw).fit(wide.X)
    assert recovery(weighted.components_, truth) > 0.95
    assert recovery(weighted.components_, truth) > recovery(classical.components_, truth) + 0.02
    with pytest.raises(ValueError, match="start_weight must be an int >= 0"):
        OnlineDictionaryLearning(start_weight=-1).fit(wide.X)


def test_per_feature_counts_are_exact(planted):
    # every feature's count is the number of samples of the steps that drew its
    # block: the weights of the statistics are exact per feature
    X = planted.X
    est = OnlineDictionaryLearning(5, dict_l1_ratio=0.5, reduction=5, batch_size=40,
                                   n_epochs=2, dict_init="data", random_state=0).fit(X)
    expected = np.zeros(X.shape[1], dtype=np.int64)
    sizes = [40] * (800 // 40)
    for step, b in enumerate(sizes * 2):
        positions, _ = est._draws(step)
        expected[positions] += b
    np.testing.assert_array_equal(est._state.feature_counts, expected)
    # about one step in five saw each feature
    assert abs(expected.mean() / (2 * 800) - 1 / 5) < 0.02
