"""MatrixCompletion: kernels against NumPy references, solvers against planted models."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from nimf._kernels import ratings as K
from nimf.datasets import make_ratings
from nimf.ratings import MatrixCompletion, train_test_split_ratings

import naive_ratings as naive

SOLVERS = ["als", "somf", "sgd"]


def _tiny(seed=0, n_users=9, n_items=7, density=0.5, k=3):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[0] = False  # an empty user row
    X = rng.normal(3.0, 1.0, (n_users, n_items)) * mask
    return rng, X, mask


# ------------------------------------------------------------------- kernels
def test_cholesky_solve_matches_numpy():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 17):
        M = rng.normal(size=(m + 3, m))
        G = M.T @ M + 0.1 * np.eye(m)
        b = rng.normal(size=m)
        expected = np.linalg.solve(G, b)
        Gc, bc = G.copy(), b.copy()
        K.cholesky_solve(Gc, bc)
        np.testing.assert_allclose(bc, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("weighting", ["counts", "sqrt", "random"])
@pytest.mark.parametrize("fit_bias", [True, False])
def test_als_rows_matches_reference(fit_bias, weighting):
    rng, X, mask = _tiny()
    k = 3
    Xs = sp.csr_matrix(np.where(mask, X, 0.0))
    Xs = sp.csr_matrix((X[mask], np.nonzero(mask)), shape=X.shape)
    Q = rng.normal(size=(X.shape[1], k))
    bi = rng.normal(size=X.shape[1])
    P = rng.normal(size=(X.shape[0], k))
    bu = rng.normal(size=X.shape[0])
    mu = 2.9
    n = mask.sum(axis=1).astype(float)
    weights = {"counts": n, "sqrt": np.sqrt(n),
               "random": rng.uniform(0.1, 3.0, n.size)}[weighting]
    K.als_rows(np.arange(X.shape[0]), Xs.indptr, Xs.indices, Xs.data, mu, bi, Q, 0.3, 0.7,
               weights, P, bu, fit_bias)
    P_ref, bu_ref = naive.als_rows(X, mask, mu, bi, Q, 0.3, 0.7, fit_bias,
                                   None if weighting == "counts" else weights)
    np.testing.assert_allclose(P, P_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bu, bu_ref, rtol=1e-9, atol=1e-12)
    assert np.all(P[0] == 0) and bu[0] == 0  # the empty row


def test_als_rows_subset_leaves_other_rows():
    rng, X, mask = _tiny()
    Xs = sp.csr_matrix((X[mask], np.nonzero(mask)), shape=X.shape)
    Q = rng.normal(size=(X.shape[1], 2))
    P = rng.normal(size=(X.shape[0], 2))
    bu = rng.normal(size=X.shape[0])
    P0, bu0 = P.copy(), bu.copy()
    rows = np.array([2, 5])
    K.als_rows(rows, Xs.indptr, Xs.indices, Xs.data, 3.0, np.zeros(X.shape[1]), Q, 0.1,
               0.1, np.diff(Xs.indptr).astype(float), P, bu, True)
    others = np.setdiff1d(np.arange(X.shape[0]), rows)
    np.testing.assert_array_equal(P[others], P0[others])
    np.testing.assert_array_equal(bu[others], bu0[others])
    assert not np.allclose(P[rows], P0[rows])


@pytest.mark.parametrize("shares", [False, True])
@pytest.mark.parametrize("fit_bias", [True, False])
def test_sgd_epoch_matches_reference(fit_bias, shares):
    rng, X, mask = _tiny(1)
    users, items = np.nonzero(mask)
    data = X[mask]
    order = rng.permutation(data.size)
    k = 4
    P = rng.normal(0, 0.3, (X.shape[0], k))
    Q = rng.normal(0, 0.3, (X.shape[1], k))
    bu = rng.normal(0, 0.1, X.shape[0])
    bi = rng.normal(0, 0.1, X.shape[1])
    if shares:
        # each rating's share of the user's and the item's penalty
        user_share = rng.uniform(0.2, 2.0, X.shape[0])
        item_share = rng.uniform(0.2, 2.0, X.shape[1])
    else:
        user_share, item_share = np.ones(X.shape[0]), np.ones(X.shape[1])
    ref = naive.sgd_epoch(users, items, data, order, 3.0, P, Q, bu, bi, 0.05, 0.03, 0.02,
                          0.04, fit_bias, *((user_share, item_share) if shares else ()))
    # one stratum of one block: the plain serial pass over ``order``
    starts = np.array([0, data.size])
    total = K.sgd_strata_epoch(users.astype(np.int64), items.astype(np.int64), data, order,
                               starts, 1, 3.0, P, Q, bu, bi, 0.05, 0.03, 0.02, 0.04,
                               user_share, item_share, fit_bias)
    for got, want in zip((P, Q, bu, bi), ref[:4]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert total == pytest.approx(ref[4], rel=1e-12)


@pytest.mark.parametrize("shares", [False, True])
@pytest.mark.parametrize("fit_bias", [True, False])
def test_masked_item_step_matches_reference(fit_bias, shares):
    # 40 users: batches of 20 give some items 8 or more new ratings (the BLAS path)
    rng, X, mask = _tiny(2, n_users=40, n_items=8)
    Xs = sp.csr_matrix((X[mask], np.nonzero(mask)), shape=X.shape)
    k = 3
    P = rng.normal(size=(X.shape[0], k))
    bu = rng.normal(size=X.shape[0])
    Q = rng.normal(size=(X.shape[1], k))
    bi = rng.normal(size=X.shape[1]) if fit_bias else np.zeros(X.shape[1])
    A = np.zeros((X.shape[1], k + 1, k + 1))
    scale = np.ones(X.shape[1])
    B = np.zeros((X.shape[1], k + 1))
    counts = np.zeros(X.shape[1])
    item_share = rng.uniform(0.2, 2.0, X.shape[1]) if shares else np.ones(X.shape[1])
    ref = (Q.copy(), bi.copy(), A.copy(), B.copy(), counts.copy())
    order = rng.permutation(40)
    for batch in (order[:20], order[20:23], order[23:], order[5:30]):
        assert np.bincount(np.nonzero(mask[batch])[1]).max() >= 8 or batch.size < 20
        ref = naive.masked_item_step(batch, X, mask, 3.0, P, bu, *ref, 0.2, 0.3, 0.8,
                                     fit_bias, 2, item_share if shares else None)
        K.masked_item_step(batch, Xs.indptr, Xs.indices, Xs.data, 3.0, P, bu, Q, bi, A,
                           scale, B, counts, 0.2, 0.3, item_share, 0.8, fit_bias, 2)
        for got, want in zip((Q, bi, B, counts), (ref[0], ref[1], ref[3], ref[4])):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.triu(A * scale[:, None, None]), np.triu(ref[2]),
                                   rtol=1e-10, atol=1e-12)
    assert np.any(scale < 1)  # the decay went through the scale


def test_predict_and_error_kernels_match_numpy():
    rng = np.random.default_rng(3)
    P, Q = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    bu, bi = rng.normal(size=5), rng.normal(size=4)
    u = np.array([0, 4, -1, 2, -1], dtype=np.int64)
    i = np.array([3, -1, 1, 0, -1], dtype=np.int64)
    out = np.empty(5)
    K.predict_pairs(u, i, 3.0, P, Q, bu, bi, -np.inf, np.inf, out)
    expected = [3 + bu[0] + bi[3] + P[0] @ Q[3], 3 + bu[4], 3 + bi[1],
                3 + bu[2] + bi[0] + P[2] @ Q[0], 3.0]
    np.testing.assert_allclose(out, expected)
    K.predict_pairs(u, i, 3.0, P, Q, bu, bi, 2.5, 3.5, out)
    np.testing.assert_allclose(out, np.clip(expected, 2.5, 3.5))
    uu, ii = np.array([1, 3]), np.array([2, 2])
    r = np.array([4.0, 1.0])
    pred = np.clip(3 + bu[uu] + bi[ii] + (P[uu] * Q[ii]).sum(1), 0.5, 5.0)
    assert K.squared_errors(uu, ii, r, 3.0, P, Q, bu, bi, 0.5, 5.0) == pytest.approx(
        ((pred - r) ** 2).sum())


# ------------------------------------------------------------------ solvers
@pytest.fixture(scope="module")
def planted():
    """Ratings of a rank-3 biased model plus noise of standard deviation 0.1 (the pairs
    and parameters of ``make_ratings``, the ratings recomputed without rounding or
    clipping)."""
    data = make_ratings(300, 120, 18_000, n_factors=3, user_skew=0.3, item_skew=0.3,
                        random_state=0)
    df = data.ratings
    truth = (data.global_mean + data.user_bias[df.user] + data.item_bias[df.item]
             + (data.user_factors[df.user] * data.item_factors[df.item]).sum(1))
    noise = np.random.default_rng(0).normal(0.0, 0.1, len(df))
    df = df.assign(rating=truth + noise, truth=truth)
    train, test = train_test_split_ratings(df, 0.2, random_state=0)
    return data, train, test


@pytest.mark.parametrize("solver,n_epochs", [("als", 30), ("somf", 15), ("sgd", 80)])
def test_planted_model_recovered_to_noise_level(planted, solver, n_epochs):
    data, train, test = planted
    model = MatrixCompletion(3, solver=solver, alpha=0.001, n_epochs=n_epochs,
                             learning_rate=0.02, lr_decay=0.0, random_state=0)
    model.fit(train)
    # the noise has standard deviation 0.1: held-out RMSE close to it
    assert model.rmse(test) < 0.13
    # the biased rank-3 model is identified up to an invertible map of the factors:
    # the predicted interaction matches the planted one
    pred = model.predict(test.user.to_numpy(), test.item.to_numpy())
    assert np.sqrt(np.mean((pred - test.truth) ** 2)) < 0.08


def test_biases_only_model_matches_closed_form():
    data = make_ratings(80, 50, 1500, random_state=1)
    df = data.ratings
    model = MatrixCompletion(0, solver="als", alpha_bias=0.3, n_epochs=300).fit(df)
    mu, bu, bi = naive.biases_closed_form(df.user.to_numpy(), df.item.to_numpy(),
                                          df.rating.to_numpy(), 80, 50, 0.3)
    assert model.global_mean_ == pytest.approx(mu)
    np.testing.assert_allclose(model.user_bias_, bu, atol=1e-6)
    np.testing.assert_allclose(model.item_bias_, bi, atol=1e-6)
    pred = np.clip(mu + bu[df.user] + bi[df.item], df.rating.min(), df.rating.max())
    closed_rmse = np.sqrt(np.mean((pred - df.rating) ** 2))
    assert model.rmse(df) == pytest.approx(closed_rmse, abs=1e-7)
    assert model.user_factors_.shape == (80, 0)


def test_factors_beat_biases_only_on_structured_data():
    data = make_ratings(400, 200, 20_000, n_factors=5, noise=0.5, random_state=2)
    train, test = train_test_split_ratings(data.ratings, 0.2, random_state=0)
    base = MatrixCompletion(0).fit(train).rmse(test)
    for solver in SOLVERS:
        model = MatrixCompletion(20, solver=solver, random_state=0).fit(train)
        assert model.rmse(test) < base - 0.02, solver


@pytest.mark.parametrize("solver", SOLVERS)
def test_seed_determinism(solver):
    df = make_ratings(60, 40, 800, random_state=3).ratings
    a = MatrixCompletion(4, solver=solver, n_epochs=3, random_state=7).fit(df)
    b = MatrixCompletion(4, solver=solver, n_epochs=3, random_state=7).fit(df)
    c = MatrixCompletion(4, solver=solver, n_epochs=3, random_state=8).fit(df)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert not np.allclose(a.item_factors_, c.item_factors_)


@pytest.mark.parametrize("solver", SOLVERS)
def test_training_error_decreases(solver):
    df = make_ratings(200, 100, 6000, n_factors=4, random_state=4).ratings
    model = MatrixCompletion(8, solver=solver, n_epochs=6, random_state=0).fit(df)
    errors = [h["train_rmse"] for h in model.history_]
    assert len(errors) == 6
    assert errors[-1] < errors[0]


# ------------------------------------------------------------- prediction
@pytest.fixture(scope="module")
def fitted():
    df = make_ratings(50, 30, 600, n_factors=2, random_state=5).ratings
    df = df.assign(user=df.user.map(lambda u: f"user{u}"), item=df.item + 1000)
    return df, MatrixCompletion(3, random_state=0).fit(df)


def test_ids_are_mapped(fitted):
    df, model = fitted
    assert model.user_ids_.dtype == object and "user0" in set(model.user_ids_)
    assert set(model.item_ids_) == set(df.item)
    user, item = df.iloc[5]["user"], df.iloc[5]["item"]
    u = list(model.user_ids_).index(user)
    i = list(model.item_ids_).index(item)
    expected = np.clip(model.global_mean_ + model.user_bias_[u] + model.item_bias_[i]
                       + model.user_factors_[u] @ model.item_factors_[i],
                       *model.rating_scale_)
    assert model.predict(user, item) == pytest.approx(expected)
    np.testing.assert_allclose(model.predict(df), model.predict(df.user, df.item))


def test_unseen_users_and_items_fall_back_to_biases(fitted):
    df, model = fitted
    i = 3
    item = model.item_ids_[i]
    assert model.predict("nobody", item) == pytest.approx(
        np.clip(model.global_mean_ + model.item_bias_[i], *model.rating_scale_))
    assert model.predict("user1", -5) == pytest.approx(np.clip(
        model.global_mean_ + model.user_bias_[list(model.user_ids_).index("user1")],
        *model.rating_scale_))
    assert model.predict("nobody", -5) == pytest.approx(model.global_mean_)
    # an RMSE over pairs with unseen ids works too
    new = pd.DataFrame({"user": ["nobody", "user1"], "item": [item, -5],
                        "rating": [3.0, 4.0]})
    assert np.isfinite(model.rmse(new))


def test_clipping(fitted):
    df, model = fitted
    low, high = model.rating_scale_
    pred = model.predict(np.repeat(model.user_ids_, 30), np.tile(model.item_ids_, 50))
    assert pred.min() >= low and pred.max() <= high
    free = clone(model).set_params(clip=False).fit(df)
    raw = free.predict(np.repeat(free.user_ids_, 30), np.tile(free.item_ids_, 50))
    assert raw.min() < low or raw.max() > high


def test_recommend(fitted):
    df, model = fitted
    rec = model.recommend("user2", n=5)
    assert list(rec.columns) == ["item", "score"] and len(rec) == 5
    seen = set(df.item[df.user == "user2"])
    assert not seen & set(rec.item)
    assert np.all(np.diff(rec.score.to_numpy()) <= 0)
    # the best unseen items by the unclipped prediction
    free = clone(model).set_params(clip=False).fit(df)
    rec = free.recommend("user2", n=5)
    unseen = np.array([i for i in free.item_ids_ if i not in seen])
    scores = free.predict("user2", unseen)
    np.testing.assert_allclose(np.sort(scores)[::-1][:5], rec.score)
    with_seen = free.recommend("user2", n=len(free.item_ids_), exclude_seen=False)
    assert len(with_seen) == len(free.item_ids_)
    new_user = free.recommend("nobody", n=3)
    best = np.argsort(-free.item_bias_, kind="stable")[:3]
    assert list(new_user.item) == list(free.item_ids_[best])
    only = free.recommend("user2", n=10, items=unseen[:4], exclude_seen=False)
    assert set(only.item) == set(unseen[:4])


def test_input_forms_agree():
    df = make_ratings(40, 25, 400, random_state=6).ratings
    ref = MatrixCompletion(3, random_state=0, n_epochs=4).fit(df)
    arrays = MatrixCompletion(3, random_state=0, n_epochs=4).fit(
        (df.user.to_numpy(), df.item.to_numpy(), df.rating.to_numpy()))
    matrix = MatrixCompletion(3, random_state=0, n_epochs=4).fit(df.to_numpy())
    sparse = MatrixCompletion(3, random_state=0, n_epochs=4).fit(
        sp.coo_matrix((df.rating, (df.user, df.item)), shape=(40, 25)))
    for other in (arrays, matrix, sparse):
        np.testing.assert_allclose(other.item_factors_, ref.item_factors_)
        np.testing.assert_allclose(other.user_bias_, ref.user_bias_)
    renamed = df.rename(columns={"user": "u", "item": "movie", "rating": "stars"})
    named = MatrixCompletion(3, random_state=0, n_epochs=4, user_col="u",
                             item_col="movie", rating_col="stars").fit(renamed)
    np.testing.assert_allclose(named.item_factors_, ref.item_factors_)
    assert named.rmse(renamed) == pytest.approx(ref.rmse(df))


def test_empty_user_rows_in_sparse_input():
    df = make_ratings(30, 20, 300, random_state=7).ratings
    X = sp.csr_matrix((df.rating, (df.user + 2, df.item)), shape=(35, 20))
    model = MatrixCompletion(3, random_state=0).fit(X)
    assert model.user_factors_.shape == (35, 3)
    for empty in (0, 1, 33, 34):
        assert np.all(model.user_factors_[empty] == 0) and model.user_bias_[empty] == 0
        np.testing.assert_allclose(
            model.predict(empty, np.arange(20)),
            np.clip(model.global_mean_ + model.item_bias_, *model.rating_scale_))
    assert model.recommend(0, n=3).shape == (3, 2)


def test_validation_history_and_callback():
    data = make_ratings(100, 60, 3000, random_state=8).ratings
    train, test = train_test_split_ratings(data, 0.2, random_state=0)
    seen = []

    def callback(model, info):
        seen.append((info["epoch"], info["validation_rmse"], model.rmse(test)))
        return info["epoch"] == 3

    model = MatrixCompletion(5, n_epochs=10, callback=callback, random_state=0)
    model.fit(train, validation=test)
    assert model.n_epochs_ == 3 and len(model.history_) == 3
    for epoch, reported, actual in seen:
        assert reported == pytest.approx(actual)
    assert [h["epoch"] for h in model.history_] == [1, 2, 3]
    assert all("train_rmse" in h and "time" in h for h in model.history_)


def test_verbose_progress_bar(capsys):
    df = make_ratings(30, 20, 200, random_state=9).ratings
    MatrixCompletion(2, n_epochs=2, verbose=True).fit(df)
    assert "MatrixCompletion" in capsys.readouterr().err


def test_duplicates_parameter():
    df = pd.DataFrame({"user": [1, 1, 2, 2, 2], "item": [5, 5, 5, 6, 6],
                       "rating": [1.0, 3.0, 4.0, 2.0, 5.0]})
    with pytest.raises(ValueError, match="2 duplicate rows over 2 pairs"):
        MatrixCompletion(1).fit(df)
    mean = MatrixCompletion(0, duplicates="mean", n_epochs=1).fit(df)
    assert mean.n_ratings_ == 3 and mean.global_mean_ == pytest.approx((2 + 4 + 3.5) / 3)
    last = MatrixCompletion(0, duplicates="last", n_epochs=1).fit(df)
    assert last.global_mean_ == pytest.approx((3 + 4 + 5) / 3)
    coo = sp.coo_matrix(([1.0, 3.0, 4.0], ([0, 0, 1], [0, 0, 1])), shape=(2, 2))
    with pytest.raises(ValueError, match="1 duplicate entries"):
        MatrixCompletion(1).fit(coo)
    assert MatrixCompletion(0, duplicates="mean", n_epochs=1).fit(coo).global_mean_ == 3.0


@pytest.mark.parametrize("bad,match", [
    (pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": [np.nan, 3.0]}),
     r"column 'rating' of ratings \(the ratings\) must be finite, got 1 NaN"),
    (pd.DataFrame({"user": [1, 2], "movie": [1, 2], "rating": [4.0, 3.0]}),
     r"must have the columns \['user', 'item', 'rating'\].*missing \['item'\]"),
    (pd.DataFrame({"user": [], "item": [], "rating": []}), "at least one rating"),
    (pd.DataFrame({"user": [1, None], "item": [1, 2], "rating": [4.0, 3.0]}),
     "got 1 missing"),
    (pd.DataFrame({"user": [1], "item": [1], "rating": ["good"]}), "must hold numbers"),
    (np.ones((4, 2)), r"array of shape \(n, 3\), got an array of shape \(4, 2\)"),
    (sp.csr_matrix((3, 3)), "at least one rating"),
    (sp.csr_matrix(([np.nan], ([0], [1])), shape=(2, 2)), "1 NaN or infinite"),
    (([1, 2], [1], [3.0, 4.0]), "must have one length"),
])
def test_bad_ratings(bad, match):
    with pytest.raises(ValueError, match=match):
        MatrixCompletion(2).fit(bad)


@pytest.mark.parametrize("params,match", [
    (dict(n_components=-1), "n_components"),
    (dict(solver="svd"), "solver"),
    (dict(alpha=-0.1), "alpha"),
    (dict(n_epochs=0), "n_epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(forget_exponent=0.3), "forget_exponent"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(duplicates="sum"), "duplicates"),
    (dict(callback=3), "callback"),
])
def test_bad_parameters(params, match):
    df = make_ratings(10, 10, 50, random_state=0).ratings
    with pytest.raises(ValueError, match=match):
        MatrixCompletion(**{"n_components": 2, **params}).fit(df)


def test_unfitted_and_bad_prediction_input(fitted):
    with pytest.raises(ValueError, match="not fitted"):
        MatrixCompletion().predict([1], [2])
    df, model = fitted
    with pytest.raises(ValueError, match="one length"):
        model.predict(["user1", "user2"], [1000, 1001, 1002])
    with pytest.raises(ValueError, match="DataFrame"):
        model.predict(np.array([1, 2]))
    assert model.score(df) == pytest.approx(-model.rmse(df))


def test_clone_and_params():
    model = MatrixCompletion(7, solver="sgd", alpha=0.3)
    copy = clone(model)
    assert copy.get_params() == model.get_params()


@pytest.mark.parametrize("string_ids", [True, False])
def test_save_load_round_trip(tmp_path, string_ids):
    from nimf import load_model, save_model

    df = make_ratings(40, 25, 400, random_state=10).ratings
    if string_ids:
        df = df.assign(user=df.user.map(lambda u: f"u{u}"))
    model = MatrixCompletion(3, random_state=0, n_epochs=3).fit(df, validation=df)
    path = save_model(model, tmp_path / "model")
    loaded = load_model(path)
    assert type(loaded) is MatrixCompletion and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(df), model.predict(df))
    assert list(loaded.user_ids_) == list(model.user_ids_)
    assert loaded.rating_scale_ == model.rating_scale_
    assert loaded.history_ == model.history_
    user = df.user.iloc[0]
    assert loaded.recommend(user, 5).equals(model.recommend(user, 5))
    assert loaded.predict("never seen", df.item.iloc[0]) == model.predict(
        "never seen", df.item.iloc[0])


def test_auto_alpha_follows_density():
    sparse_df = make_ratings(400, 300, 4000, random_state=11).ratings
    dense_df = make_ratings(400, 300, 40000, random_state=11).ratings
    light = MatrixCompletion(2, n_epochs=1).fit(sparse_df)
    heavy = MatrixCompletion(2, n_epochs=1).fit(dense_df)
    expected = 0.9 / ((4000 / 400) * (4000 / 300)) ** 0.25
    assert light.alpha_ == pytest.approx(expected)
    assert heavy.alpha_ < light.alpha_
    assert MatrixCompletion(2, solver="sgd", n_epochs=1).fit(sparse_df).alpha_ == 0.03
    assert MatrixCompletion(2, alpha=0.5, n_epochs=1).fit(sparse_df).alpha_ == 0.5
    with pytest.raises(ValueError, match="alpha"):
        MatrixCompletion(2, alpha="best").fit(sparse_df)


def test_somf_statistics_too_large_for_memory(monkeypatch):
    import nimf.ratings.completion as completion

    df = make_ratings(30, 20, 200, random_state=12).ratings
    monkeypatch.setattr(completion, "available_memory", lambda: 1000)
    with pytest.raises(ValueError, match="solver='als'"):
        MatrixCompletion(5, solver="somf").fit(df)
    MatrixCompletion(5, solver="als", n_epochs=1).fit(df)  # no per-item statistics


def test_group_order_is_a_stable_counting_sort():
    rng = np.random.default_rng(4)
    group = rng.integers(0, 5, 50)
    order = rng.permutation(50)
    grouped, starts = K.group_order(order, group, 7)
    np.testing.assert_array_equal(grouped, order[np.argsort(group[order], kind="stable")])
    np.testing.assert_array_equal(starts, np.concatenate([[0], np.cumsum(np.bincount(
        group, minlength=7))]))


def test_stratified_sgd_equals_the_serial_pass_over_its_order():
    rng, X, mask = _tiny(5, n_users=30, n_items=20, density=0.6)
    users, items = (a.astype(np.int64) for a in np.nonzero(mask))
    data = X[mask]
    n_strata = 4
    ub = rng.permutation(30) % n_strata
    ib = rng.permutation(20) % n_strata
    group = ((ib[items] - ub[users]) % n_strata) * n_strata + ub[users]
    order, starts = K.group_order(rng.permutation(data.size), group, n_strata ** 2)
    k = 3
    P = rng.normal(0, 0.3, (30, k))
    Q = rng.normal(0, 0.3, (20, k))
    bu, bi = np.zeros(30), np.zeros(20)
    ref = naive.sgd_epoch(users, items, data, order, 3.0, P, Q, bu, bi, 0.05, 0.03, 0.02,
                          0.04, True)
    total = K.sgd_strata_epoch(users, items, data, order, starts, n_strata, 3.0, P, Q, bu,
                               bi, 0.05, 0.03, 0.02, 0.04, np.ones(30), np.ones(20), True)
    for got, want in zip((P, Q, bu, bi), ref[:4]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert total == pytest.approx(ref[4], rel=1e-10)
    # the groups of a stratum share no user and no item
    for s in range(n_strata):
        seen_u, seen_i = set(), set()
        for b in range(n_strata):
            rows = order[starts[s * n_strata + b]:starts[s * n_strata + b + 1]]
            assert not seen_u & set(users[rows]) and not seen_i & set(items[rows])
            seen_u |= set(users[rows])
            seen_i |= set(items[rows])


def test_recommend_for_many_users_equals_one_at_a_time(fitted):
    df, model = fitted
    users = ["user3", "nobody", "user7", "user3"]
    table = model.recommend(users, n=4)
    assert list(table.columns) == ["user", "rank", "item", "score"]
    for user in set(users):
        one = model.recommend(user, n=4)
        mine = table[table.user == user].drop_duplicates(["rank"])
        assert list(mine["rank"]) == [1, 2, 3, 4]
        assert list(mine.item) == list(one.item)
        np.testing.assert_allclose(mine.score, one.score)
    # fewer candidates than n: as many rows as there are unseen candidates
    few = model.recommend(["user3"], n=50, items=model.item_ids_[:5])
    rated = set(df.item[df.user == "user3"])
    assert len(few) == len(set(model.item_ids_[:5]) - rated)
