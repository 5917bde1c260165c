"""Rating loaders, splits, sparse matrices and the synthetic ratings generator."""
import numpy as np
import pandas as pd
import pytest

from nimf.datasets.ratings import make_ratings
from nimf.ratings import (load_movielens_100k, load_movielens_csv, load_movielens_dat,
                          load_ratings_csv, ratings_matrix, train_test_split_ratings)

ROWS = [(1, 10, 4, 881250949), (1, 20, 3.5, 881250950), (2, 10, 1, 881250951),
        (7, 30, 5, 881250952)]


def _expected():
    return pd.DataFrame(ROWS, columns=["user", "item", "rating", "timestamp"]).astype(
        {"user": np.int64, "item": np.int64, "rating": np.float64, "timestamp": np.int64})


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _check_loaded(frame, expected=None):
    expected = _expected() if expected is None else expected
    pd.testing.assert_frame_equal(frame, expected, check_dtype=True)


# --------------------------------------------------------------------------- loaders

def test_load_movielens_100k(tmp_path):
    path = _write(tmp_path / "u.data", ["\t".join(map(str, row)) for row in ROWS])
    _check_loaded(load_movielens_100k(path))
    _check_loaded(load_movielens_100k(str(path)))


def test_load_movielens_dat(tmp_path):
    path = _write(tmp_path / "ratings.dat", ["::".join(map(str, row)) for row in ROWS])
    _check_loaded(load_movielens_dat(path))


def test_load_movielens_csv(tmp_path):
    path = _write(tmp_path / "ratings.csv", ["userId,movieId,rating,timestamp"]
                  + [",".join(map(str, row)) for row in ROWS])
    _check_loaded(load_movielens_csv(path))


def test_load_ratings_csv_header_and_names(tmp_path):
    path = _write(tmp_path / "r.tsv", ["who\twhat\tstars\tzone"]
                  + ["u%d\ti%d\t%s\tx" % row[:3] for row in ROWS])
    frame = load_ratings_csv(path, "who", "what", "stars", sep="\t")
    assert list(frame.columns) == ["user", "item", "rating"]
    assert frame["user"].tolist() == ["u1", "u1", "u2", "u7"]
    assert frame["item"].tolist() == ["i10", "i20", "i10", "i30"]
    np.testing.assert_array_equal(frame["rating"], [4.0, 3.5, 1.0, 5.0])
    assert frame["rating"].dtype == np.float64


def test_load_ratings_csv_default_names_keep_timestamp(tmp_path):
    path = _write(tmp_path / "r.csv", ["timestamp,rating,item,user"]
                  + ["%d,%s,%d,%d" % (row[3], row[2], row[1], row[0]) for row in ROWS])
    _check_loaded(load_ratings_csv(path))


def test_load_ratings_csv_positions_without_header(tmp_path):
    path = _write(tmp_path / "r.txt", ["%s;%d;%d;%d" % (row[2], row[0], row[1], row[3])
                                       for row in ROWS])
    frame = load_ratings_csv(path, 1, 2, 0, sep=";", header=False, timestamp_col=3)
    _check_loaded(frame)
    default = load_ratings_csv(path, sep=";", header=False)
    assert list(default.columns) == ["user", "item", "rating"]
    np.testing.assert_array_equal(default["user"], [row[2] for row in ROWS])


def test_loaders_missing_file(tmp_path):
    for loader in (load_movielens_100k, load_movielens_dat, load_movielens_csv,
                   load_ratings_csv):
        with pytest.raises(ValueError, match="no such file"):
            loader(tmp_path / "nope.data")
        with pytest.raises(FileNotFoundError):
            loader(tmp_path / "nope.data")
        with pytest.raises(ValueError, match="got a directory"):
            loader(tmp_path)


def test_loaders_empty_file(tmp_path):
    empty = _write(tmp_path / "empty", [])
    for loader in (load_movielens_100k, load_movielens_dat, load_movielens_csv):
        with pytest.raises(ValueError, match="no ratings in .*empty"):
            loader(empty)
    header_only = _write(tmp_path / "header.csv", ["userId,movieId,rating,timestamp"])
    with pytest.raises(ValueError, match="no ratings .*got no rows"):
        load_movielens_csv(header_only)
    with pytest.raises(ValueError, match="no ratings .*got no rows"):
        load_ratings_csv(header_only, "userId", "movieId")


def test_loaders_wrong_format(tmp_path):
    csv = _write(tmp_path / "ratings.csv", ["userId,movieId,rating,timestamp"]
                 + [",".join(map(str, row)) for row in ROWS])
    with pytest.raises(ValueError, match=r"expected 4 columns .*got 1"):
        load_movielens_100k(csv)
    with pytest.raises(ValueError, match="expected 4 fields separated by '::'"):
        load_movielens_dat(csv)
    three = _write(tmp_path / "u.data", ["1\t2\t3"])
    with pytest.raises(ValueError, match=r"expected 4 columns .*got 3"):
        load_movielens_100k(three)
    renamed = _write(tmp_path / "renamed.csv", ["user,movie,rating,timestamp", "1,2,3,4"])
    with pytest.raises(ValueError, match=r"expected the columns \['userId', 'movieId'.*"
                                         r"got \['user', 'movie'"):
        load_movielens_csv(renamed)
    with pytest.raises(ValueError, match=r"missing \['item'\]; found \['user', 'movie'"):
        load_ratings_csv(renamed)
    with pytest.raises(ValueError, match="user_col must be a position"):
        load_ratings_csv(renamed, "user", header=False)
    words = _write(tmp_path / "words.csv", ["user,item,rating", "1,2,good"])
    with pytest.raises(ValueError, match="expected numbers in column 'rating'"):
        load_ratings_csv(words)


def test_loaders_nan_ratings(tmp_path):
    path = _write(tmp_path / "u.data", ["1\t2\t3\t4", "1\t3\t\t5", "2\t3\tnan\t6"])
    with pytest.raises(ValueError, match="missing values in column 'rating'.*got 2 "
                                         r"\(first at data row 1\)"):
        load_movielens_100k(path)
    path = _write(tmp_path / "r.csv", ["user,item,rating", ",2,3"])
    with pytest.raises(ValueError, match="missing values in column 'user'"):
        load_ratings_csv(path)


# --------------------------------------------------------------------------- matrix

def test_ratings_matrix_round_trip_string_ids(rng):
    users = np.array([f"user{k}" for k in rng.permutation(40)])
    items = np.array([f"film {k}" for k in rng.permutation(25)])
    dense = np.where(rng.uniform(size=(40, 25)) < 0.3, rng.randint(1, 6, (40, 25)), 0.0)
    r, c = np.nonzero(dense)
    order = rng.permutation(r.size)
    df = pd.DataFrame({"user": users[r[order]], "item": items[c[order]],
                       "rating": dense[r, c][order]})
    X, user_ids, item_ids = ratings_matrix(df)
    assert X.format == "csr" and X.shape == (np.unique(r).size, np.unique(c).size)
    assert X.nnz == len(df)
    assert list(user_ids) == sorted(set(df["user"]))
    row_of = {u: k for k, u in enumerate(user_ids)}
    col_of = {i: k for k, i in enumerate(item_ids)}
    for u, i, value in df.itertuples(index=False):
        assert X[row_of[u], col_of[i]] == value
    # and back: every stored entry is a row of df
    coo = X.tocoo()
    back = pd.DataFrame({"user": user_ids[coo.row], "item": item_ids[coo.col],
                         "rating": coo.data})
    pd.testing.assert_frame_equal(
        back.sort_values(["user", "item"]).reset_index(drop=True),
        df.sort_values(["user", "item"]).reset_index(drop=True))


def test_ratings_matrix_sparse_int_ids_and_custom_columns():
    df = pd.DataFrame({"uid": [10**9, 5, 10**9, 77], "mid": [3, 3, 10**12, 42],
                       "stars": [1.0, 2.0, 0.0, 4.5]})
    X, user_ids, item_ids = ratings_matrix(df, "uid", "mid", "stars")
    assert X.shape == (3, 3)  # compact: not indexed by the raw id values
    np.testing.assert_array_equal(user_ids, [5, 77, 10**9])
    np.testing.assert_array_equal(item_ids, [3, 42, 10**12])
    np.testing.assert_array_equal(X.toarray(), [[2, 0, 0], [0, 4.5, 0], [1, 0, 0]])
    # a rating of 0 is a stored entry, not an unobserved one
    assert X.nnz == 4 and X[2, 2] == 0


def test_ratings_matrix_duplicates():
    df = pd.DataFrame({"user": [1, 1, 2, 1, 2, 3], "item": [1, 1, 1, 1, 1, 2],
                       "rating": [1.0, 2.0, 4.0, 4.5, 5.0, 3.0]})
    with pytest.raises(ValueError, match=r"got 3 duplicate rows over 2 pairs; pass "
                                         r"duplicates='mean'"):
        ratings_matrix(df)
    X, _, _ = ratings_matrix(df, duplicates="mean")
    np.testing.assert_allclose(X.toarray(), [[2.5, 0], [4.5, 0], [0, 3]])
    X, _, _ = ratings_matrix(df, duplicates="last")
    np.testing.assert_allclose(X.toarray(), [[4.5, 0], [5, 0], [0, 3]])
    with pytest.raises(ValueError, match="duplicates must be one of 'error', 'mean', "
                                         "'last', got 'first'"):
        ratings_matrix(df, duplicates="first")


def test_ratings_matrix_bad_input():
    good = pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": [3.0, 4.0]})
    with pytest.raises(ValueError, match="must be a pandas DataFrame, got ndarray"):
        ratings_matrix(good.to_numpy())
    with pytest.raises(ValueError, match=r"missing \['rating'\]; got \['user', 'item'\]"):
        ratings_matrix(good[["user", "item"]])
    with pytest.raises(ValueError, match="at least one rating, got an empty DataFrame"):
        ratings_matrix(good.iloc[:0])
    with pytest.raises(ValueError, match="missing values in column 'rating' of df, got 1"):
        ratings_matrix(good.assign(rating=[3.0, np.nan]))
    with pytest.raises(ValueError, match="missing values in column 'item'"):
        ratings_matrix(good.assign(item=[1, None]))
    with pytest.raises(ValueError, match="finite ratings, got 1 infinite"):
        ratings_matrix(good.assign(rating=[3.0, np.inf]))
    with pytest.raises(ValueError, match="must hold numbers, got dtype"):
        ratings_matrix(good.assign(rating=["a", "b"]))


def test_ratings_matrix_on_loaded_file(tmp_path):
    path = _write(tmp_path / "ratings.dat", ["::".join(map(str, row)) for row in ROWS])
    X, user_ids, item_ids = ratings_matrix(load_movielens_dat(path))
    np.testing.assert_array_equal(user_ids, [1, 2, 7])
    np.testing.assert_array_equal(item_ids, [10, 20, 30])
    np.testing.assert_array_equal(X.toarray(), [[4, 3.5, 0], [1, 0, 0], [0, 0, 5]])


# --------------------------------------------------------------------------- split

@pytest.mark.parametrize("stratify_users", [True, False])
def test_split_keeps_every_user_in_train(stratify_users):
    ratings = make_ratings(300, 100, 4000, n_factors=3, random_state=0).ratings
    # a few users with a single rating, which must stay in train
    ratings = pd.concat([ratings, pd.DataFrame(
        {"user": [1000, 1001], "item": [0, 1], "rating": [3.0, 4.0]})])
    train, test = train_test_split_ratings(ratings, test_size=0.25, random_state=0,
                                           stratify_users=stratify_users)
    assert len(train) + len(test) == len(ratings)
    merged = pd.concat([train, test])
    pd.testing.assert_frame_equal(
        merged.sort_values(["user", "item"]).reset_index(drop=True),
        ratings.sort_values(["user", "item"]).reset_index(drop=True))
    assert set(train["user"]) == set(ratings["user"])
    assert not {1000, 1001} & set(test["user"])
    assert abs(len(test) / len(ratings) - 0.25) < 0.03
    if stratify_users:
        counts = ratings.groupby("user").size()
        held = test.groupby("user").size().reindex(counts.index, fill_value=0)
        heavy = counts >= 20
        assert np.all(np.abs(held[heavy] / counts[heavy] - 0.25) <= 1 / counts[heavy])


def test_split_deterministic_and_int_size():
    ratings = make_ratings(50, 40, 600, n_factors=2, random_state=1).ratings
    a = train_test_split_ratings(ratings, test_size=100, random_state=3)
    b = train_test_split_ratings(ratings, test_size=100, random_state=3)
    c = train_test_split_ratings(ratings, test_size=100, random_state=4)
    pd.testing.assert_frame_equal(a[1], b[1])
    assert not a[1].index.equals(c[1].index)
    assert abs(len(a[1]) - 100) < 15
    d = train_test_split_ratings(ratings, test_size=100, random_state=np.random.RandomState(3))
    pd.testing.assert_frame_equal(a[0], d[0])


def test_split_bad_input():
    ratings = pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1], "rating": [1.0, 2, 3]})
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"test_size must be a float in \(0, 1\)"):
            train_test_split_ratings(ratings, test_size=bad)
    with pytest.raises(ValueError, match=r"test_size must be an int in \[1, 2\]"):
        train_test_split_ratings(ratings, test_size=3)
    with pytest.raises(ValueError, match="test_size must be .* got 'half'"):
        train_test_split_ratings(ratings, test_size="half")
    with pytest.raises(ValueError, match="empty DataFrame"):
        train_test_split_ratings(ratings.iloc[:0])
    with pytest.raises(ValueError, match="random_state must be None, an int or a numpy "
                                         "RandomState, got 'seed'"):
        train_test_split_ratings(ratings, random_state="seed")
    with pytest.raises(ValueError, match=r"missing \['user'\]"):
        train_test_split_ratings(ratings.rename(columns={"user": "who"}))


# --------------------------------------------------------------------------- generator

def _model(data):
    users = data.ratings["user"].to_numpy()
    items = data.ratings["item"].to_numpy()
    return (data.global_mean + data.user_bias[users] + data.item_bias[items]
            + np.einsum("ij,ij->i", data.user_factors[users], data.item_factors[items]))


def test_make_ratings_shapes_and_dtypes():
    data = make_ratings(120, 80, 3000, n_factors=4, random_state=0)
    ratings = data.ratings
    assert list(ratings.columns) == ["user", "item", "rating"]
    assert ratings.shape == (3000, 3)
    assert ratings["user"].dtype == np.int64 and ratings["item"].dtype == np.int64
    assert data.user_factors.shape == (120, 4) and data.item_factors.shape == (80, 4)
    assert data.user_bias.shape == (120,) and data.item_bias.shape == (80,)
    assert data.noise == 0.5 and np.isscalar(data.global_mean)
    assert not ratings.duplicated(["user", "item"]).any()
    # every user and item is rated
    assert ratings["user"].nunique() == 120 and ratings["item"].nunique() == 80
    assert ratings["user"].between(0, 119).all() and ratings["item"].between(0, 79).all()


def test_make_ratings_deterministic():
    a = make_ratings(60, 30, 500, random_state=7)
    b = make_ratings(60, 30, 500, random_state=np.random.RandomState(7))
    c = make_ratings(60, 30, 500, random_state=8)
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    assert not a.ratings.equals(c.ratings)


@pytest.mark.parametrize("scale, step", [((0.5, 5.0), 0.5), ((1, 5), 1), ((-10, 10), 0.25),
                                         ((0, 1), None)])
def test_make_ratings_scale_and_step(scale, step):
    data = make_ratings(100, 60, 2000, noise=1.0, rating_scale=scale, step=step,
                        random_state=0)
    rating = data.ratings["rating"].to_numpy()
    assert rating.min() >= scale[0] and rating.max() <= scale[1]
    # both ends are reached with this much noise: clipping is at the scale
    assert rating.min() == scale[0] and rating.max() == scale[1]
    if step is None:
        inside = rating[(rating > scale[0]) & (rating < scale[1])]
        assert inside.size > 300 and np.unique(inside).size == inside.size
    else:
        steps = (rating - scale[0]) / step
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)


def test_make_ratings_skew():
    def top_share(data, column, fraction=0.1):
        counts = np.sort(data.ratings[column].value_counts().to_numpy())[::-1]
        return counts[:int(fraction * counts.size)].sum() / counts.sum()

    skewed = make_ratings(1000, 500, 20_000, random_state=0)
    flat = make_ratings(1000, 500, 20_000, user_skew=0, item_skew=0, random_state=0)
    assert top_share(skewed, "item") > 0.3
    assert top_share(skewed, "user") > 0.3
    assert top_share(flat, "item") < 0.15 and top_share(flat, "user") < 0.15
    # skew on items only
    items_only = make_ratings(1000, 500, 20_000, user_skew=0, random_state=0)
    assert top_share(items_only, "item") > 0.3 > 0.15 > top_share(items_only, "user")


@pytest.mark.parametrize("noise", [0.25, 0.5, 1.0])
def test_make_ratings_planted_model_explains_ratings(noise):
    data = make_ratings(500, 300, 20_000, noise=noise, rating_scale=(0, 20), step=None,
                        random_state=0)
    model = _model(data)
    residual = data.ratings["rating"].to_numpy() - model
    # away from the ends of the scale nothing is clipped: the residual is the noise
    inside = (model > 4 * noise) & (model < 20 - 4 * noise)
    assert inside.sum() > 2000
    np.testing.assert_allclose(np.sqrt(np.mean(residual[inside] ** 2)), noise, rtol=0.05)
    np.testing.assert_allclose(np.mean(residual[inside]), 0, atol=0.05 * noise)
    # with the default scale, rounding and clipping barely change it
    data = make_ratings(500, 300, 20_000, noise=noise, random_state=0)
    rmse = np.sqrt(np.mean((data.ratings["rating"].to_numpy() - _model(data)) ** 2))
    assert abs(rmse - noise) < 0.1
    # and the model is far better than the mean rating alone
    assert rmse < 0.8 * data.ratings["rating"].std()


def test_make_ratings_dense_and_sparse_corners():
    full = make_ratings(20, 10, 200, random_state=0).ratings
    assert len(full) == 200 and not full.duplicated(["user", "item"]).any()
    few = make_ratings(50, 30, 20, random_state=0).ratings
    assert len(few) == 20 and few["user"].nunique() == 20  # as many users as possible
    # the rejection sampler used for big matrices keeps the guarantees too
    big = make_ratings(5000, 1000, 30_000, random_state=0).ratings
    assert len(big) == 30_000 and not big.duplicated(["user", "item"]).any()
    assert big["user"].nunique() == 5000 and big["item"].nunique() == 1000


def test_make_ratings_bad_input():
    with pytest.raises(ValueError, match="n_ratings must be <= n_users \\* n_items = 200"):
        make_ratings(20, 10, 201)
    with pytest.raises(ValueError, match="n_users must be a positive int, got 0"):
        make_ratings(0)
    with pytest.raises(ValueError, match=r"noise must be in \[0, inf\), got -1"):
        make_ratings(noise=-1)
    with pytest.raises(ValueError, match=r"user_skew must be in \[0, inf\)"):
        make_ratings(user_skew=-0.5)
    with pytest.raises(ValueError, match="rating_scale must be .* min < max, got \\(5, 1\\)"):
        make_ratings(rating_scale=(5, 1))
    with pytest.raises(ValueError, match="rating_scale must be a pair"):
        make_ratings(rating_scale=5)
    with pytest.raises(ValueError, match="step must divide the width"):
        make_ratings(rating_scale=(1, 5), step=0.3)
