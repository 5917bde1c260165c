"""MatrixCompletion's default (n_components="auto") chooses its rank and penalties."""

import numpy as np
import pytest

from nimf.datasets import make_ratings
from nimf.ratings import MatrixCompletion, train_test_split_ratings


def _ratings(interaction, noise, seed, n_users=300, n_items=200, n_ratings=15_000):
    """Ratings of planted biases plus ``interaction`` times a rank-5 term, plus noise."""
    data = make_ratings(n_users, n_items, n_ratings, n_factors=5, noise=0.0, step=None,
                        random_state=seed)
    df = data.ratings.copy()
    u, i = df.user.to_numpy(), df.item.to_numpy()
    value = (data.global_mean + data.user_bias[u] + data.item_bias[i]
             + interaction * np.einsum("ij,ij->i", data.user_factors[u], data.item_factors[i])
             + np.random.default_rng(seed).normal(0.0, noise, u.size))
    df["rating"] = np.clip(value, 0.5, 5.0)
    return train_test_split_ratings(df, 0.2, random_state=seed)


@pytest.fixture(scope="module")
def no_structure():
    return _ratings(0.0, 0.8, seed=0)


@pytest.fixture(scope="module")
def low_rank():
    return _ratings(1.5, 0.3, seed=1)


def test_default_matches_biases_only_without_low_rank_structure(no_structure):
    train, test = no_structure
    base = MatrixCompletion(0).fit(train).rmse(test)
    fifty = MatrixCompletion(50, random_state=0).fit(train).rmse(test)
    model = MatrixCompletion(random_state=0).fit(train)
    assert fifty > base + 0.005  # the fixed rank overfits here...
    assert model.rmse(test) < base + 0.003  # ...the default does not
    assert model.n_components_ == 0
    assert model.user_factors_.shape == (model.user_ids_.size, 0)
    assert model.selection_["chosen"]["n_components"] == 0


def test_default_beats_biases_only_on_low_rank_data(low_rank):
    train, test = low_rank
    base = MatrixCompletion(0).fit(train).rmse(test)
    model = MatrixCompletion(random_state=0).fit(train)
    assert model.n_components_ > 0
    assert model.rmse(test) < base - 0.1
    sel = model.selection_
    assert sel["low_rank"]["validation_rmse"] < sel["biases_only"]["validation_rmse"]
    assert sel["mse_gain"] > sel["mse_gain_standard_error"]


def test_selection_record(low_rank):
    train, _ = low_rank
    model = MatrixCompletion(random_state=0).fit(train)
    sel = model.selection_
    n_train = len(train)
    assert 0.05 * n_train < sel["validation_ratings"] < 0.15 * n_train
    chosen = sel["chosen"]
    assert {k: v for k, v in chosen.items() if k != "solver"} in sel["candidates"]
    assert chosen["n_components"] == model.n_components_
    assert chosen["alpha"] == model.alpha_ and chosen["alpha_bias"] == model.alpha_bias_
    # the refit starts from the chosen candidate: four passes at most
    assert model.n_epochs_ == min(chosen["n_epochs"], 4) == len(model.history_)
    assert {c["n_components"] for c in sel["candidates"]} >= {0, 10}
    # the penalty search moved away from the density rule at least once
    assert len({c["alpha"] for c in sel["candidates"] if c["n_components"]}) >= 2


def test_explicit_settings_are_honoured(low_rank):
    train, _ = low_rank
    model = MatrixCompletion(4, alpha=0.2, alpha_bias=0.05, random_state=0).fit(train)
    assert model.selection_ is None
    assert (model.n_components_, model.alpha_, model.alpha_bias_) == (4, 0.2, 0.05)
    assert model.item_factors_.shape[1] == 4
    assert model.n_epochs_ == 3  # the solver's default epochs, not a searched number
    # an explicit rank keeps the penalty rule of alpha="auto": no search
    ruled = MatrixCompletion(4, random_state=0).fit(train)
    assert ruled.selection_ is None and ruled.n_components_ == 4
    assert ruled.alpha_ == pytest.approx(MatrixCompletion(4)._alpha(
        MatrixCompletion(4)._training_matrix(train)[0]))
    # "auto" rank with a given penalty searches the rank only
    auto_rank = MatrixCompletion(alpha=0.3, random_state=0).fit(train)
    assert {c["alpha"] for c in auto_rank.selection_["candidates"]} == {0.3}
    assert auto_rank.alpha_ == 0.3


def test_default_is_deterministic(no_structure):
    train, _ = no_structure
    a = MatrixCompletion(random_state=3).fit(train)
    b = MatrixCompletion(random_state=3).fit(train)
    assert a.selection_ == b.selection_
    np.testing.assert_array_equal(a.user_bias_, b.user_bias_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    c = MatrixCompletion(random_state=4).fit(train)
    assert c.selection_["candidates"] != a.selection_["candidates"]


def test_chosen_values_are_saved_and_loaded(tmp_path, low_rank):
    from nimf import load_model, save_model

    train, test = low_rank
    model = MatrixCompletion(random_state=0).fit(train)
    loaded = load_model(save_model(model, tmp_path / "model"))
    assert loaded.get_params() == model.get_params()
    for name in ("n_components_", "alpha_", "alpha_bias_", "n_epochs_"):
        assert getattr(loaded, name) == getattr(model, name), name
    assert loaded.selection_ == model.selection_
    np.testing.assert_array_equal(loaded.predict(test), model.predict(test))


def test_tiny_data_falls_back_to_the_biases():
    # one rating: nothing to hold out
    model = MatrixCompletion(random_state=0).fit(([0], [0], [3.0]))
    assert model.n_components_ == 0 and model.selection_["validation_ratings"] == 0
    assert model.predict(0, 0) == 3.0


def test_bad_n_components():
    with pytest.raises(ValueError, match='n_components must be "auto" or an int >= 0, '
                                         "got 'best'"):
        MatrixCompletion("best").fit(([0, 1], [0, 1], [1.0, 2.0]))


@pytest.mark.parametrize("solver", ["als", "sgd"])
def test_default_with_other_solvers(low_rank, solver):
    train, test = low_rank
    base = MatrixCompletion(0).fit(train).rmse(test)
    model = MatrixCompletion(solver=solver, random_state=0).fit(train)
    assert model.n_components_ > 0 and model.selection_["chosen"]["solver"] == solver
    assert model.rmse(test) < base - 0.1


def test_svd_start_factors_the_residuals_of_the_biases():
    import scipy.sparse as sp

    from nimf.ratings._selection import svd_start

    rng = np.random.default_rng(0)
    n_users, n_items, rank = 60, 50, 3
    user_bias, item_bias = rng.normal(size=n_users), rng.normal(size=n_items)
    planted = rng.normal(size=(n_users, rank)) @ rng.normal(size=(rank, n_items))
    full = 3.0 + user_bias[:, None] + item_bias[None, :] + planted
    train = sp.csr_matrix(full)
    state = (None, None, user_bias, item_bias)
    # every pair rated: the residual is the planted term plus a constant (the global
    # mean is the data's), of rank rank + 1
    user_factors, item_factors, bu, bi = svd_start(train, state, rank + 1,
                                                  np.random.default_rng(1))
    residual = full - full.mean() - user_bias[:, None] - item_bias[None, :]
    np.testing.assert_allclose(user_factors @ item_factors.T, residual, atol=1e-8)
    # U sqrt(s) and V sqrt(s): both sides carry the same scale, largest first
    norms = np.linalg.norm(user_factors, axis=0)
    np.testing.assert_allclose(norms, np.linalg.norm(item_factors, axis=0))
    assert np.all(np.diff(norms) <= 0)
    np.testing.assert_array_equal(bu, user_bias)
    assert bu is not user_bias  # copies: the candidates write into them
    # ARPACK (the larger matrix) gives the same leading product as LAPACK
    big = sp.random(200, 150, density=0.3, random_state=0, format="csr")
    big.data += 1.0
    zeros = (None, None, np.zeros(200), np.zeros(150))
    u1, v1, _, _ = svd_start(big, zeros, 4, np.random.default_rng(2))
    u2, v2, _, _ = svd_start(big, zeros, 4, np.random.default_rng(3))
    np.testing.assert_allclose(u1 @ v1.T, u2 @ v2.T, atol=1e-8)
    # a matrix of one column has no rank to start from
    assert svd_start(sp.csr_matrix(np.ones((5, 1))), (None, None, np.zeros(5),
                                                      np.zeros(1)), 3, rng) is None


def test_low_rank_candidates_start_from_the_svd(low_rank, monkeypatch):
    from nimf.ratings import _selection

    train, test = low_rank
    starts = []
    original = _selection._fit_candidate

    def spy(estimator, tr, val, k, *args, **kwargs):
        starts.append((k, args[-1] if len(args) > 4 else kwargs.get("start")))
        return original(estimator, tr, val, k, *args, **kwargs)

    monkeypatch.setattr(_selection, "_fit_candidate", spy)
    model = MatrixCompletion(random_state=0).fit(train)
    low = [start for k, start in starts if k > 0]
    assert low and all(start is not None for start in low)
    assert all(start is None for k, start in starts if k == 0)
    # the default solver's low-rank search and refit are ALS from that start
    assert model.selection_["chosen"]["solver"] == "als"
