"""Synthetic ratings with a planted biased low-rank model, for tests and benchmarks."""

import numpy as np
from sklearn.utils import Bunch

from .._validation import check_float, check_int
from .synthetic import _generator

__all__ = ["make_ratings"]

# Above this many (user, item) pairs the exact sampler (one key per pair) would need too
# much memory, so pairs are drawn by rejection instead.
_MAX_PAIRS_EXACT = 4_000_000
_MAX_REJECTION_ROUNDS = 100


def _popularity(rng, n, skew):
    """Zipf-like weights ``rank ** -skew`` given to the ids in a random order."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -skew
    weights = weights[rng.permutation(n)]
    return weights / weights.sum()


def _sorted_unique(values):
    """Sorted distinct values (sorting beats the hash-based ``np.unique`` on big int arrays)."""
    values = np.sort(values, kind="stable")
    if values.size:
        keep = np.empty(values.size, dtype=bool)
        keep[0] = True
        np.not_equal(values[1:], values[:-1], out=keep[1:])
        values = values[keep]
    return values


def _covering_ids(rng, n, k, weights):
    """``k`` ids that use every id once when ``k >= n`` (the rest drawn by popularity),
    else ``k`` distinct ids favouring popular ones."""
    if k >= n:
        ids = np.concatenate([np.arange(n), rng.choice(n, size=k - n, p=weights)])
    else:
        # Gumbel top-k: weighted sampling without replacement
        keys = np.log(weights) + rng.gumbel(size=n)
        ids = np.argpartition(-keys, k - 1)[:k]
    return rng.permutation(ids)


def _sample_pairs(rng, n_users, n_items, n_ratings, user_weights, item_weights):
    """Distinct pair codes ``user * n_items + item``, sorted, drawn by popularity.

    First a covering set gives every user and item a rating when ``n_ratings`` allows,
    then the other pairs are drawn with probability ``user_weight * item_weight``
    without replacement.
    """
    n_cover = min(n_ratings, max(n_users, n_items))
    # the larger side is a set of distinct ids, so the covering pairs are distinct
    users = _covering_ids(rng, n_users, n_cover, user_weights)
    items = _covering_ids(rng, n_items, n_cover, item_weights)
    codes = _sorted_unique(users.astype(np.int64) * n_items + items)
    need = n_ratings - codes.size
    if need == 0:
        return codes
    n_pairs = n_users * n_items
    if n_pairs <= _MAX_PAIRS_EXACT:
        # Gumbel top-k over the pairs not yet taken: exact successive sampling
        free = np.ones(n_pairs, dtype=bool)
        free[codes] = False
        candidates = np.flatnonzero(free)
        keys = (np.log(user_weights)[candidates // n_items]
                + np.log(item_weights)[candidates % n_items]
                + rng.gumbel(size=candidates.size))
        chosen = candidates[np.argpartition(-keys, need - 1)[:need]]
        return np.sort(np.concatenate([codes, chosen]))
    users_taken = np.bincount(codes // n_items, minlength=n_users)
    items_taken = np.bincount(codes % n_items, minlength=n_items)
    for _ in range(_MAX_REJECTION_ROUNDS):
        # Draw users and items in proportion to popularity times room left, so heavy
        # users and blockbusters that already rated (were rated by) nearly everything
        # stop wasting draws on pairs already taken.
        user_p = user_weights * (1.0 - users_taken / n_items)
        item_p = item_weights * (1.0 - items_taken / n_users)
        n_draw = int(need * 1.25) + 1000
        # counts then repeat is much faster than inverse-cdf draws; the items are
        # shuffled so that each user gets independent draws
        users = np.repeat(np.arange(n_users, dtype=np.int64),
                          rng.multinomial(n_draw, user_p / user_p.sum()))
        items = rng.permutation(np.repeat(np.arange(n_items, dtype=np.int64),
                                          rng.multinomial(n_draw, item_p / item_p.sum())))
        draws = _sorted_unique(users * n_items + items)
        where = np.minimum(np.searchsorted(codes, draws), codes.size - 1)
        new = draws[codes[where] != draws]
        if new.size > need:
            new = np.sort(rng.choice(new, size=need, replace=False))
        # both parts are sorted, so the stable sort (timsort) is a linear merge
        codes = np.sort(np.concatenate([codes, new]), kind="stable")
        users_taken += np.bincount(new // n_items, minlength=n_users)
        items_taken += np.bincount(new % n_items, minlength=n_items)
        need = n_ratings - codes.size
        if need == 0:
            return codes
    raise ValueError(
        f"could not draw {n_ratings} distinct (user, item) pairs among {n_users} users "
        f"and {n_items} items with user_skew and item_skew this large; lower the skews "
        f"or n_ratings")


def _check_scale(rating_scale, step):
    try:
        low, high = (float(v) for v in rating_scale)
    except (TypeError, ValueError):
        raise ValueError(
            f"rating_scale must be a pair (min, max) of numbers, got {rating_scale!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"rating_scale must be (min, max) with min < max, got "
                         f"{rating_scale!r}")
    if step is None:
        return low, high, None
    step = check_float(step, "step", low=0.0, low_open=True)
    n_steps = (high - low) / step
    if abs(n_steps - round(n_steps)) > 1e-9 * max(1.0, n_steps):
        raise ValueError(f"step must divide the width of rating_scale {rating_scale!r} "
                         f"so that max is a possible rating, got step={step:g}")
    return low, high, step


def make_ratings(n_users=1000, n_items=500, n_ratings=100_000, n_factors=10, noise=0.5,
                 rating_scale=(0.5, 5.0), step=0.5, user_skew=1.0, item_skew=1.0,
                 random_state=None):
    """Ratings generated from a planted biased low-rank model, with realistic skew.

    Each observed rating of item ``i`` by user ``u`` is::

        clip(round_to_step(mu + b_u + c_i + u_u . v_i + noise_ui), *rating_scale)

    with Gaussian biases, Gaussian factors and white Gaussian noise of standard
    deviation ``noise``. The global mean ``mu`` sits at 65% of the rating scale (like
    MovieLens); the user and item biases have a standard deviation of 10% of the scale
    width and the interaction term ``u_u . v_i`` of 15%.

    Which pairs are observed mimics real data: users and items get Zipf-like
    popularities ``rank ** -skew`` (a few heavy users, a few blockbuster items) and
    pairs are drawn with probability proportional to ``user popularity * item
    popularity``, without replacement. When ``n_ratings >= max(n_users, n_items)``
    every user and every item has at least one rating.

    Parameters
    ----------
    n_users : int, default=1000
        Number of users; user ids are ``0, ..., n_users - 1``.
    n_items : int, default=500
        Number of items; item ids are ``0, ..., n_items - 1``.
    n_ratings : int, default=100_000
        Number of distinct (user, item) ratings, at most ``n_users * n_items``.
    n_factors : int, default=10
        Rank of the planted interaction term.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise, in rating units, >= 0.
    rating_scale : (float, float), default=(0.5, 5.0)
        Smallest and largest possible rating; ratings are clipped to it.
    step : float or None, default=0.5
        Ratings are rounded to ``min + k * step``; ``step`` must divide the width of
        ``rating_scale``. None keeps continuous ratings.
    user_skew, item_skew : float, default=1.0
        Zipf exponents of user activity and item popularity, >= 0; 0 is uniform.
    random_state : int, RandomState instance or None, default=None
        Determines the data.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``ratings``: DataFrame with int64 columns ``user``, ``item`` and float64
        ``rating``, sorted by user then item; ``user_factors`` (n_users, n_factors),
        ``item_factors`` (n_items, n_factors), ``user_bias`` (n_users,), ``item_bias``
        (n_items,), ``global_mean`` and ``noise``, so the noiseless model of a rating is
        ``global_mean + user_bias[u] + item_bias[i] + user_factors[u] @
        item_factors[i]``; also ``rating_scale`` and ``step``.

    Examples
    --------
    >>> from nimf.datasets.ratings import make_ratings
    >>> data = make_ratings(100, 50, 1000, n_factors=3, random_state=0)
    >>> data.ratings.shape, data.user_factors.shape, data.item_factors.shape
    ((1000, 3), (100, 3), (50, 3))
    """
    n_users = check_int(n_users, "n_users", min_val=1)
    n_items = check_int(n_items, "n_items", min_val=1)
    n_ratings = check_int(n_ratings, "n_ratings", min_val=1)
    if n_ratings > n_users * n_items:
        raise ValueError(
            f"n_ratings must be <= n_users * n_items = {n_users * n_items} (each pair is "
            f"rated at most once), got {n_ratings}")
    n_factors = check_int(n_factors, "n_factors", min_val=1)
    noise = check_float(noise, "noise", low=0.0)
    user_skew = check_float(user_skew, "user_skew", low=0.0)
    item_skew = check_float(item_skew, "item_skew", low=0.0)
    low, high, step = _check_scale(rating_scale, step)
    rng = _generator(random_state)

    width = high - low
    global_mean = low + 0.65 * width
    user_bias = rng.normal(0.0, 0.1 * width, n_users)
    item_bias = rng.normal(0.0, 0.1 * width, n_items)
    # u . v has standard deviation sqrt(n_factors) * scale ** 2 for entries N(0, scale^2)
    scale = np.sqrt(0.15 * width / np.sqrt(n_factors))
    user_factors = rng.normal(0.0, scale, (n_users, n_factors))
    item_factors = rng.normal(0.0, scale, (n_items, n_factors))

    codes = _sample_pairs(rng, n_users, n_items, n_ratings,
                          _popularity(rng, n_users, user_skew),
                          _popularity(rng, n_items, item_skew))
    users, items = np.divmod(codes, n_items)

    rating = global_mean + user_bias[users] + item_bias[items]
    # one factor at a time: gathering the full (n_ratings, n_factors) rows would hold
    # two large temporaries
    for k in range(n_factors):
        rating += user_factors[users, k] * item_factors[items, k]
    if noise > 0:
        rating += rng.normal(0.0, noise, n_ratings)
    if step is not None:
        rating = low + step * np.round((rating - low) / step)
    np.clip(rating, low, high, out=rating)

    import pandas as pd  # only this generator needs pandas

    ratings = pd.DataFrame({"user": users, "item": items, "rating": rating})
    return Bunch(ratings=ratings, user_factors=user_factors, item_factors=item_factors,
                 user_bias=user_bias, item_bias=item_bias, global_mean=float(global_mean),
                 noise=noise, rating_scale=(low, high), step=step)
