"""MatrixCompletion's refusals and edge shapes, with their exact messages.

Written to kill the mutants of ``nimf/ratings/completion.py`` that the other
tests let live (``python tools/mutation.py nimf/ratings/completion.py``).
"""

import numpy as np
import pytest
import scipy.sparse as sp

from nimf import save_model
from nimf.datasets import make_ratings
from nimf.ratings import MatrixCompletion

WHAT = ("ratings must be a DataFrame with columns ['user', 'item', 'rating'], a tuple of 3 "
        "1-D arrays or an array of shape (n, 3)")


def _message(error, function, *args, **kwargs):
    with pytest.raises(error) as info:
        function(*args, **kwargs)
    return str(info.value)


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(30, 20, 200, random_state=12).ratings


def test_a_negative_alpha_bias_is_named(ratings):
    assert _message(ValueError, MatrixCompletion(2, alpha_bias=-1.0).fit, ratings) == (
        "alpha_bias must be in [0, inf), got -1")


def test_ratings_that_are_no_table_are_a_type_error():
    assert _message(TypeError, MatrixCompletion(2).fit, None) == f"{WHAT}, got NoneType None"
    assert _message(TypeError, MatrixCompletion(2).fit, 5) == f"{WHAT}, got int 5"


def test_a_sparse_matrix_of_one_item_is_fitted():
    X = sp.csr_matrix(np.array([[4.0], [0.0], [3.0], [5.0]]))
    model = MatrixCompletion(1, n_epochs=2, alpha=0.1, random_state=0).fit(X)
    assert model.item_factors_.shape == (1, 1) and model.user_factors_.shape == (4, 1)
    assert np.isfinite(model.item_bias_).all()
    assert _message(ValueError, MatrixCompletion(1).fit, sp.csr_matrix((3, 0))) == (
        "ratings must hold at least one rating, got a sparse matrix of shape (3, 0) with 0 "
        "stored entries")


def test_a_diverging_sgd_fit_suggests_a_lower_learning_rate(ratings):
    from nimf._validation import NonFiniteResultError
    model = MatrixCompletion(2, solver="sgd", learning_rate=1e3, alpha=0.1, n_epochs=5,
                             random_state=0)
    assert _message(NonFiniteResultError, model.fit, ratings) == (
        "MatrixCompletion (solver='sgd') diverged at epoch 1: the factors or the training "
        "RMSE became NaN or infinite; lower learning_rate (got 1000.0; the default is 0.01) "
        "or scale the ratings")


def test_ids_of_mixed_types_are_not_saved(tmp_path, ratings):
    mixed = ratings.copy()
    mixed["user"] = mixed["user"].astype(object)
    mixed.loc[mixed.index[0], "user"] = "a"
    model = MatrixCompletion(2, n_epochs=1, alpha=0.1, random_state=0).fit(mixed)
    assert _message(ValueError, save_model, model, tmp_path / "model") == (
        "save_model stores user ids that are all strings or all integers, got ids of types "
        "['int', 'str']")
    assert not list(tmp_path.iterdir())


def test_sgd_visits_16_strata_of_blocks_sharing_no_user_or_item(ratings, monkeypatch):
    # users and items fall in 16 random blocks each; each epoch visits the 16
    # strata in turn, every rating once, in a new random order each epoch
    from nimf._kernels import ratings as kernels

    calls = []
    real = kernels.sgd_strata_epoch

    def recording(users, items, data, order, starts, n_strata, *args):
        calls.append((users.copy(), items.copy(), order.copy(), starts.copy(), n_strata))
        return real(users, items, data, order, starts, n_strata, *args)

    monkeypatch.setattr(kernels, "sgd_strata_epoch", recording)
    MatrixCompletion(2, solver="sgd", n_epochs=2, random_state=0).fit(ratings)
    assert len(calls) == 2
    users, items, order, starts, n_strata = calls[0]
    assert n_strata == 16 and len(starts) == 16 * 16 + 1
    assert sorted(order.tolist()) == list(range(len(users)))  # every rating once
    assert not np.array_equal(order, calls[1][2])  # another order next epoch
    group = np.empty(len(users), dtype=np.int64)
    for g in range(16 * 16):
        group[order[starts[g]:starts[g + 1]]] = g
    # a user (an item) stays in one block: the same block index in every rating
    user_block, item_block = group % 16, (group // 16 + group % 16) % 16
    for who, block in ((users, user_block), (items, item_block)):
        for one in np.unique(who):
            assert len(np.unique(block[who == one])) == 1
    # the groups of a stratum share no user and no item
    for stratum in range(16):
        seen_users, seen_items = set(), set()
        for g in range(stratum * 16, stratum * 16 + 16):
            rows = order[starts[g]:starts[g + 1]]
            u, i = set(users[rows].tolist()), set(items[rows].tolist())
            assert not (u & seen_users) and not (i & seen_items)
            seen_users |= u
            seen_items |= i


def test_somf_statistics_larger_than_half_the_free_memory_are_refused(ratings, monkeypatch):
    from nimf.ratings import completion

    model = MatrixCompletion(2, solver="somf", n_epochs=1, random_state=0)
    n_items = len(np.unique(ratings["item"]))
    need = n_items * 3 * 3 * 8  # a (k + 1) x (k + 1) statistic of doubles per item
    # free memory a little under twice the need: refused; a little over: fitted
    monkeypatch.setattr(completion, "available_memory", lambda: 1.9 * need)
    with pytest.raises(ValueError) as info:
        model.fit(ratings)
    assert str(info.value) == (
        f"solver='somf' keeps a (3 x 3) statistic per item: {n_items} items x 2 components "
        "need 0.0 GiB, more than half of the 0.0 GiB free; use solver='als' (memory linear "
        "in n_components) or fewer components")
    monkeypatch.setattr(completion, "available_memory", lambda: 2.1 * need)
    assert model.fit(ratings).n_epochs_ == 1


def test_history_time_is_the_seconds_since_the_fit_started(ratings):
    import time

    before = time.perf_counter()
    model = MatrixCompletion(2, solver="als", n_epochs=3, random_state=0).fit(ratings)
    wall = time.perf_counter() - before
    times = [record["time"] for record in model.history_]
    assert len(times) == 3 and 0 <= times[0] <= times[1] <= times[2] <= wall


def test_a_rating_column_of_text_is_refused_with_an_example(ratings):
    import pandas as pd

    frame = pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"], "rating": ["good", "bad"]})
    assert _message(ValueError, MatrixCompletion(2).fit, frame) == (
        f"column 'rating' of ratings (the ratings) must hold numbers, got dtype "
        f"{frame['rating'].dtype} (values like 'good')")



# ------------------------------------------------- the rank and penalty search
def _train_val(n_users=60, n_items=40, n_ratings=1500, seed=3):
    from nimf.ratings import _selection
    from nimf.ratings.io import ratings_matrix

    data = make_ratings(n_users, n_items, n_ratings, n_factors=3, noise=0.2,
                        random_state=seed).ratings
    X, _, _ = ratings_matrix(data, "user", "item", "rating")
    X.sort_indices()
    return _selection.inner_split(X, np.random.default_rng(seed))


def test_a_candidate_stops_at_its_first_epoch_without_a_gain(monkeypatch):
    """Early stopping: a candidate whose held-out RMSE stops improving by _MIN_GAIN
    stops at that epoch (not only when it gets worse)."""
    from nimf.ratings import _selection

    train, val = _train_val()
    calls = []
    original = _selection._k.predict_pairs

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(_selection._k, "predict_pairs", counting)
    # a huge penalty holds the factors at zero: from the second epoch the RMSE moves by
    # less than _MIN_GAIN of itself, which ends the candidate there
    est = MatrixCompletion(random_state=0, solver="als")
    record, _, _ = _selection._fit_candidate(est, train, val, 2, 1e6, 0.5, 10, 0)
    assert len(calls) == 2 and record["n_epochs"] <= 2


def test_a_candidate_starts_from_the_given_start():
    """The low-rank candidates start from the SVD start: one ALS sweep from it."""
    import sys
    from pathlib import Path

    from nimf.ratings import _selection

    sys.path.insert(0, str(Path(__file__).parent))
    import naive_ratings

    train, val = _train_val()
    rng = np.random.default_rng(0)
    n_users, n_items = train.shape
    start = (rng.normal(0, 0.5, (n_users, 2)), rng.normal(0, 0.5, (n_items, 2)),
             rng.normal(0, 0.1, n_users), rng.normal(0, 0.1, n_items))
    est = MatrixCompletion(random_state=0, solver="als")
    _, _, state = _selection._fit_candidate(est, train, val, 2, 0.3, 0.4, 1, 0, start=start)
    dense, mask = train.toarray(), train.toarray() != 0
    mu = float(train.data.mean())
    gamma = est._count_exponent()
    P, bu = naive_ratings.als_rows(dense, mask, mu, start[3], start[1], 0.3, 0.4, True,
                                   mask.sum(axis=1) ** gamma)
    Q, bi = naive_ratings.als_rows(dense.T, mask.T, mu, bu, P, 0.3, 0.4, True,
                                   mask.sum(axis=0) ** gamma)
    for got, want in zip(state, (P, Q, bu, bi)):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_the_larger_rank_is_capped_below_the_smaller_side():
    """With 12 items the larger rank is 11 (min(shape) - 1), tried when rank 10 beats
    the biases."""
    data = make_ratings(80, 12, 900, n_factors=8, noise=0.05, random_state=1).ratings
    model = MatrixCompletion(random_state=0).fit(data)
    ranks = {c["n_components"] for c in model.selection_["candidates"]}
    assert ranks == {0, 10, 11}


def test_an_unknown_solver_is_named(ratings):
    assert _message(ValueError, MatrixCompletion(2, solver="bogus").fit, ratings) == (
        "solver must be one of 'als', 'somf', 'sgd', got 'bogus'")


def test_n_jobs_sets_the_threads_of_the_fit(ratings):
    import numba

    seen = []

    def threads(model, info):
        seen.append(numba.get_num_threads())

    before = numba.get_num_threads()
    MatrixCompletion(2, solver="als", n_epochs=2, n_jobs=1, callback=threads).fit(ratings)
    assert seen == [1, 1] and numba.get_num_threads() == before


def test_predict_of_one_argument_that_is_no_table_is_named(ratings):
    model = MatrixCompletion(2, solver="als", n_epochs=2, random_state=0).fit(ratings)
    assert _message(ValueError, model.predict, [1, 2]) == (
        "predict takes (users, items) or a DataFrame with the columns ['user', 'item'], "
        "got one argument of type list")


def test_predict_of_several_users_and_one_item_is_an_array(ratings):
    model = MatrixCompletion(2, solver="als", n_epochs=2, random_state=0).fit(ratings)
    users = model.user_ids_[:3]
    out = model.predict(users, model.item_ids_[0])
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    np.testing.assert_allclose(out, [model.predict(u, model.item_ids_[0]) for u in users])


def test_the_first_user_is_recommended_by_its_own_factors(ratings):
    """The user at index 0 is a known user: its scores use its bias and factors."""
    model = MatrixCompletion(2, solver="als", n_epochs=3, clip=False,
                             random_state=0).fit(ratings)
    first = model.user_ids_[0]
    table = model.recommend(first, n=5, exclude_seen=False)
    np.testing.assert_allclose(table["score"], model.predict(first, table["item"].to_numpy()))
