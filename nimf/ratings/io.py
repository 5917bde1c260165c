"""Loading rating files, splitting ratings and turning them into sparse matrices.

Every loader returns a :class:`pandas.DataFrame` with columns ``user``, ``item``,
``rating`` (float64) and, when the file has one, ``timestamp`` (int64).
"""

import numbers
import os

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_bool, check_option

__all__ = ["load_movielens_100k", "load_movielens_dat", "load_movielens_csv",
           "load_ratings_csv", "train_test_split_ratings", "ratings_matrix"]

_COLUMNS = ["user", "item", "rating", "timestamp"]


class RatingsFileNotFoundError(FileNotFoundError, ValueError):
    """A ratings file that does not exist: both a FileNotFoundError and a ValueError."""


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str or os.PathLike, got {path!r}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        what = "a directory" if os.path.isdir(path) else "no such file"
        raise RatingsFileNotFoundError(2, f"expected a ratings file, got {what}", path)
    return path


def _read(path, description, **kwargs):
    """``pd.read_csv`` with its parser errors turned into messages naming the format."""
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"no ratings in {path}: the file is empty") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ValueError(f"could not read {path} as {description}: {exc}") from None


def _finish(frame, path, description, columns=_COLUMNS):
    """Check ids, ratings and timestamps; return the standard columns and dtypes."""
    if len(frame) == 0:
        raise ValueError(f"no ratings in {path}: expected {description}, got no rows")
    frame = frame.reset_index(drop=True)
    for name in columns:
        column = frame[name]
        if column.isna().any():
            rows = np.flatnonzero(column.isna().to_numpy())
            raise ValueError(
                f"expected no missing values in column {name!r} of {path}, got "
                f"{rows.size} (first at data row {rows[0]}); is the file {description}?")
        if name in ("rating", "timestamp") and not pd.api.types.is_numeric_dtype(column):
            raise ValueError(f"expected numbers in column {name!r} of {path}, got values "
                             f"like {column.iloc[0]!r}; is the file {description}?")
    frame["rating"] = frame["rating"].astype(np.float64)
    if not np.isfinite(frame["rating"].to_numpy()).all():
        raise ValueError(f"expected finite ratings in {path}, got infinite values")
    if "timestamp" in columns:
        frame["timestamp"] = frame["timestamp"].astype(np.int64)
    return frame[list(columns)]


def _check_n_columns(frame, n_expected, path, description):
    if frame.shape[1] != n_expected:
        raise ValueError(f"expected {n_expected} columns in {path} ({description}), got "
                         f"{frame.shape[1]}")


def load_movielens_100k(path):
    """Load MovieLens 100k ratings (``u.data``: tab-separated user item rating timestamp).

    Parameters
    ----------
    path : str or path-like
        The ``u.data`` file (or any of ``u1.base``, ``ua.test``, ...).

    Returns
    -------
    ratings : DataFrame
        Columns ``user``, ``item`` (int64), ``rating`` (float64), ``timestamp`` (int64),
        in file order.

    Examples
    --------
    >>> from nimf.ratings import load_movielens_100k
    >>> ratings = load_movielens_100k("ml-100k/u.data")  # doctest: +SKIP
    """
    path = _check_path(path)
    description = "tab-separated 'user item rating timestamp' (MovieLens 100k u.data)"
    frame = _read(path, description, sep="\t", header=None, index_col=False)
    _check_n_columns(frame, 4, path, description)
    frame.columns = _COLUMNS
    return _finish(frame, path, description)


def load_movielens_dat(path):
    """Load MovieLens 1M or 10M ratings (``ratings.dat``: ``user::item::rating::timestamp``).

    Parameters
    ----------
    path : str or path-like
        The ``ratings.dat`` file.

    Returns
    -------
    ratings : DataFrame
        Columns ``user``, ``item`` (int64), ``rating`` (float64), ``timestamp`` (int64),
        in file order.
    """
    path = _check_path(path)
    description = "'user::item::rating::timestamp' lines (MovieLens 1M/10M ratings.dat)"
    # Splitting on ':' lets pandas use its fast C parser (a multi-character separator
    # needs the slow Python one); the empty fields between the two colons are dropped.
    frame = _read(path, description, sep=":", header=None, index_col=False)
    if frame.shape[1] != 7 or frame.iloc[:, [1, 3, 5]].notna().any(axis=None):
        raise ValueError(f"expected 4 fields separated by '::' in {path} ({description}), "
                         f"got lines like {_first_line(path)!r}")
    frame = frame.iloc[:, [0, 2, 4, 6]]
    frame.columns = _COLUMNS
    return _finish(frame, path, description)


def _first_line(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.readline().rstrip("\n")


def load_movielens_csv(path):
    """Load MovieLens 20M, 25M, 32M or latest ratings (``ratings.csv``).

    The file has the header ``userId,movieId,rating,timestamp``.

    Parameters
    ----------
    path : str or path-like
        The ``ratings.csv`` file.

    Returns
    -------
    ratings : DataFrame
        Columns ``user``, ``item`` (int64), ``rating`` (float64), ``timestamp`` (int64),
        in file order.
    """
    path = _check_path(path)
    expected = ["userId", "movieId", "rating", "timestamp"]
    description = "a CSV file with header " + ",".join(expected) + " (MovieLens ratings.csv)"
    frame = _read(path, description, sep=",", index_col=False)
    if list(frame.columns) != expected:
        raise ValueError(f"expected the columns {expected} in {path}, got "
                         f"{list(frame.columns)}")
    frame.columns = _COLUMNS
    return _finish(frame, path, description)


def load_ratings_csv(path, user_col=None, item_col=None, rating_col=None, *, sep=",",
                     header=True, timestamp_col=None):
    """Load ratings from any delimited text file.

    Parameters
    ----------
    path : str or path-like
        The file.
    user_col, item_col, rating_col : str or int, default=None
        The columns holding user ids, item ids and ratings: names when ``header`` is
        True (default ``"user"``, ``"item"``, ``"rating"``), 0-based positions when it
        is False (default 0, 1, 2).
    sep : str, default=","
        Field separator (``"\\t"`` for tab-separated files).
    header : bool, default=True
        Whether the first line holds column names.
    timestamp_col : str or int, default=None
        The column holding timestamps, kept as ``timestamp``. By default a column named
        ``"timestamp"`` is kept when ``header`` is True.

    Returns
    -------
    ratings : DataFrame
        Columns ``user``, ``item`` (ids as parsed: ints or strings), ``rating``
        (float64) and, when there is one, ``timestamp`` (int64), in file order.
    """
    path = _check_path(path)
    header = check_bool(header, "header")
    if not isinstance(sep, str) or not sep:
        raise ValueError(f"sep must be a non-empty str, got {sep!r}")
    defaults = ("user", "item", "rating") if header else (0, 1, 2)
    columns = {name: default if given is None else given for name, given, default in
               zip(("user", "item", "rating"), (user_col, item_col, rating_col), defaults)}
    if timestamp_col is not None:
        columns["timestamp"] = timestamp_col
    kind = "a name (str)" if header else "a position (int)"
    for name, column in columns.items():
        ok = (isinstance(column, str) if header
              else isinstance(column, numbers.Integral) and not isinstance(column, bool))
        if not ok:
            raise ValueError(f"{name}_col must be {kind} when header={header}, got "
                             f"{column!r}")
    description = (f"{sep!r}-separated values "
                   + ("with a header line" if header else "without a header line"))
    frame = _read(path, description, sep=sep, header=0 if header else None,
                  index_col=False, engine="c" if len(sep) == 1 else "python")
    if header and timestamp_col is None and "timestamp" in frame.columns:
        columns["timestamp"] = "timestamp"
    missing = [c for c in columns.values() if c not in frame.columns]
    if missing:
        found = list(frame.columns) if header else f"{frame.shape[1]} columns"
        raise ValueError(f"expected columns {list(columns.values())} in {path}, missing "
                         f"{missing}; found {found}")
    frame = frame[list(columns.values())]
    frame.columns = list(columns)
    return _finish(frame, path, description, columns=list(columns))


def _random_state(random_state):
    """``sklearn.utils.check_random_state`` without importing scikit-learn (slow)."""
    if random_state is None or random_state is np.random:
        return np.random.mtrand._rand
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(random_state)
    raise ValueError(f"random_state must be None, an int or a numpy RandomState, got "
                     f"{random_state!r}")


def _check_frame(df, columns, name="df"):
    """A non-empty DataFrame holding ``columns``, with ids and finite ratings."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} must have the columns {list(columns)}, missing {missing}; "
                         f"got {list(df.columns)}")
    if len(df) == 0:
        raise ValueError(f"{name} must hold at least one rating, got an empty DataFrame")
    for column in columns:
        n_missing = int(df[column].isna().sum())
        if n_missing:
            raise ValueError(f"expected no missing values in column {column!r} of {name}, "
                             f"got {n_missing}")


def _check_ratings(values, column, name="df"):
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise ValueError(f"column {column!r} of {name} must hold numbers, got dtype "
                         f"{values.dtype}")
    values = values.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"column {column!r} of {name} must hold finite ratings, got "
                         f"{int((~np.isfinite(values)).sum())} infinite values")
    return values


def _encode(ids):
    """Integer codes and the distinct ids: sorted when they can be, else by first
    appearance."""
    try:
        codes, uniques = pd.factorize(ids, sort=True)
    except TypeError:  # ids of mixed, unorderable types
        codes, uniques = pd.factorize(ids, sort=False)
    return codes.astype(np.int64), np.asarray(uniques)


def ratings_matrix(df, user_col="user", item_col="item", rating_col="rating", *,
                   duplicates="error"):
    """The sparse users x items matrix of ratings, and which id each row and column is.

    Parameters
    ----------
    df : DataFrame
        One rating a row. Ids can be any hashable values (ints, strings, ...).
    user_col, item_col, rating_col : str, default="user", "item", "rating"
        The columns holding user ids, item ids and ratings.
    duplicates : {"error", "mean", "last"}, default="error"
        What to do with several ratings of the same (user, item) pair: raise, keep their
        mean, or keep the one in the last row.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_users, n_items)
        ``X[r, c]`` is the rating of item ``item_ids[c]`` by user ``user_ids[r]``;
        unobserved pairs are not stored (a rating of 0 is stored explicitly).
    user_ids : ndarray of shape (n_users,)
        The id of each row, sorted (in order of first appearance when the ids cannot
        be sorted).
    item_ids : ndarray of shape (n_items,)
        The id of each column, likewise.

    Examples
    --------
    >>> import pandas as pd
    >>> from nimf.ratings import ratings_matrix
    >>> df = pd.DataFrame({"user": ["ann", "bob", "ann"], "item": [10, 10, 30],
    ...                    "rating": [4.0, 3.0, 5.0]})
    >>> X, user_ids, item_ids = ratings_matrix(df)
    >>> X.toarray()
    array([[4., 5.],
           [3., 0.]])
    >>> user_ids.tolist(), item_ids.tolist()
    (['ann', 'bob'], [10, 30])
    """
    check_option(duplicates, "duplicates", ("error", "mean", "last"))
    _check_frame(df, [user_col, item_col, rating_col])
    ratings = _check_ratings(df[rating_col], rating_col)
    rows, user_ids = _encode(df[user_col])
    cols, item_ids = _encode(df[item_col])
    n_users, n_items = user_ids.size, item_ids.size
    pair = rows * n_items + cols
    unique_pairs, ratings = combine_duplicates(pair, ratings, duplicates,
                                               f"({user_col}, {item_col}) pair", "rows")
    if unique_pairs.size != pair.size:
        rows, cols = np.divmod(unique_pairs, n_items)
    X = sp.csr_matrix((ratings, (rows, cols)), shape=(n_users, n_items))
    return X, user_ids, item_ids


def combine_duplicates(pair, values, duplicates, what, entries):
    """Distinct ``pair`` codes (sorted) and one value each, per ``duplicates``.

    ``duplicates='error'`` raises, counting the duplicate ``entries`` and the pairs
    they fall on; ``'mean'`` averages them; ``'last'`` keeps the last one. Without
    duplicates the values come back unchanged, in their given order.
    """
    unique_pairs, inverse = np.unique(pair, return_inverse=True)
    n_duplicates = pair.size - unique_pairs.size
    if not n_duplicates:
        return unique_pairs, values
    if duplicates == "error":
        n_pairs = int((np.bincount(inverse) > 1).sum())
        raise ValueError(
            f"expected one rating per {what}, got {n_duplicates} duplicate {entries} over "
            f"{n_pairs} pairs; pass duplicates='mean' or duplicates='last' to combine them")
    if duplicates == "mean":
        return unique_pairs, np.bincount(inverse, weights=values) / np.bincount(inverse)
    # first occurrences in the reversed entries are the last ones
    _, first_reversed = np.unique(pair[::-1], return_index=True)
    return unique_pairs, values[pair.size - 1 - first_reversed]


def train_test_split_ratings(df, test_size=0.2, random_state=None, stratify_users=True,
                             *, user_col="user"):
    """Split ratings into a training and a test set, keeping every user in training.

    Parameters
    ----------
    df : DataFrame
        One rating a row.
    test_size : float or int, default=0.2
        Fraction of the ratings to hold out, in (0, 1), or their number.
    random_state : int, RandomState instance or None, default=None
        Determines the split.
    stratify_users : bool, default=True
        Hold out about ``test_size`` of each user's ratings (randomly rounded so the
        total is right on average). Otherwise draw the test ratings at random
        among all of them.
    user_col : str, default="user"
        The column holding user ids.

    Returns
    -------
    train, test : DataFrame
        The rows of ``df`` (index kept, in their original order). Every user with at
        least two ratings keeps at least one in ``train`` and users with a single
        rating are only in ``train``, so the test set can be predicted; this can make
        the test set slightly smaller than asked.
    """
    _check_frame(df, [user_col])
    stratify_users = check_bool(stratify_users, "stratify_users")
    n_ratings = len(df)
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        if not 1 <= test_size < n_ratings:
            raise ValueError(f"test_size must be an int in [1, {n_ratings - 1}] (the "
                             f"number of ratings minus one), got {test_size}")
        fraction = test_size / n_ratings
    elif isinstance(test_size, numbers.Real) and not isinstance(test_size, bool):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be a float in (0, 1) or an int, got "
                             f"{test_size}")
        fraction = float(test_size)
    else:
        raise ValueError(f"test_size must be a float in (0, 1) or an int, got "
                         f"{test_size!r}")
    rng = _random_state(random_state)
    users, _ = _encode(df[user_col])
    # visit the ratings in a random order, grouped by user: a rating's rank among its
    # user's ratings is then a random rank
    order = rng.permutation(n_ratings)
    order = order[np.argsort(users[order], kind="stable")]
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n_ratings) - np.repeat(starts, counts)
    if stratify_users:
        n_test = np.floor(fraction * counts + rng.uniform(size=counts.size)).astype(np.int64)
    else:
        n_total = int(round(fraction * n_ratings))
        held = np.zeros(n_ratings, dtype=bool)
        held[rng.choice(n_ratings, size=n_total, replace=False)] = True
        n_test = np.bincount(users[held], minlength=counts.size)
    n_test = np.minimum(n_test, counts - 1)
    is_test = np.zeros(n_ratings, dtype=bool)
    is_test[order[rank < np.repeat(n_test, counts)]] = True
    return df.iloc[np.flatnonzero(~is_test)], df.iloc[np.flatnonzero(is_test)]
