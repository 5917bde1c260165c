"""nimf's default MatrixCompletion() on several regimes, against the biases-only models
and scikit-surprise's SVD.

Every regime is generated (``nimf.datasets.make_ratings`` draws who rates what, with
Zipf-like user activity and item popularity; the ratings are then rebuilt here from the
planted biases and factors with the regime's interaction strength and noise):

- ``strong``: a rank-10 interaction as large as the biases, little noise;
- ``weak``: the same interaction at a third of that size, more noise;
- ``none``: biases and noise only (like a teaching-evaluation set, where user and item
  biases explain nearly everything);
- ``skewed``: strong user and item skew (exponent 1.5);
- ``few/user``: 6000 users with 10 ratings each on average;
- ``movielens-like``: MovieLens-100k's shape (943 users x 1682 items, 100 000 integer
  ratings 1-5) and its rating distribution (mean 3.53, standard deviation 1.13; shares of
  1..5 about 6/11/27/34/21%), the generator's parameters set to match that
  distribution (printed), not the RMSE;
- ``movielens-tails``: the same with activity and popularity closer to MovieLens-100k's
  tails (the heaviest user rates 443 items, items have 15 ratings at the median and 1 at
  the least; in ``movielens-like`` one user rates nearly all items and every item has at
  least 10 ratings).

80% of each user's ratings train, 20% test (``train_test_split_ratings``); every model
is fitted on the same training ratings in this process and scored by held-out RMSE; fit
times are the best of ``--repeats`` (numba compiled beforehand), and the last column is
nimf's default's time over Surprise SVD's, in the same run.

    pip install scikit-surprise
    python benchmarks/bench_ratings_defaults.py [--repeats 1] [--only none strong] [--seed 0]
"""

import argparse
import time

import numpy as np

from _common import timed

from nimf.datasets import make_ratings
from nimf.ratings import MatrixCompletion, train_test_split_ratings


def regime(n_users, n_items, n_ratings, interaction, noise, skew=1.0, scale=(0.5, 5.0),
           step=0.5, bias=1.0, item_skew=None, seed=0):
    """Ratings of a planted model with the interaction and biases scaled and new noise
    (``skew``: the Zipf exponent of user activity, and of item popularity unless
    ``item_skew`` is given)."""
    data = make_ratings(n_users, n_items, n_ratings, n_factors=10, noise=0.0, step=None,
                        rating_scale=scale, user_skew=skew,
                        item_skew=skew if item_skew is None else item_skew,
                        random_state=seed)
    frame = data.ratings.copy()
    u, i = frame.user.to_numpy(), frame.item.to_numpy()
    rng = np.random.default_rng(seed + 1)
    value = (data.global_mean + bias * (data.user_bias[u] + data.item_bias[i])
             + interaction * np.einsum("ij,ij->i", data.user_factors[u], data.item_factors[i])
             + rng.normal(0.0, noise, u.size))
    low, high = scale
    frame["rating"] = np.clip(low + step * np.round((value - low) / step), low, high)
    return frame


# MovieLens-100k: 943 users, 1682 items, 100 000 ratings 1..5; the biases doubled and the
# noise set so that the histogram of the ratings matches the real one (see the printout)
_ML = dict(n_users=943, n_items=1682, n_ratings=100_000)
# the keyword arguments of ``regime`` per regime (the seed is given by --seed)
REGIMES = {
    "strong": dict(_ML, interaction=1.0, noise=0.4),
    "weak": dict(_ML, interaction=0.35, noise=0.9),
    "none": dict(_ML, interaction=0.0, noise=0.9),
    "skewed": dict(_ML, interaction=1.0, noise=0.7, skew=1.5),
    "few/user": dict(n_users=6000, n_items=1682, n_ratings=60_000, interaction=1.0, noise=0.7,
                     skew=0.5),
    "movielens-like": dict(_ML, interaction=1.0, noise=0.75, scale=(1.0, 5.0), step=1.0,
                           bias=1.1),
    # the same with MovieLens-100k's tails: no user rates nearly every item (at most 443
    # here, 737 there) and many items have a few ratings (median 15, minimum 1)
    "movielens-tails": dict(_ML, interaction=1.0, noise=0.75, scale=(1.0, 5.0), step=1.0,
                            bias=1.1, skew=0.4, item_skew=1.4),
}


def models(seed=0):
    return {
        "nimf biases only": lambda: MatrixCompletion(n_components=0, random_state=seed),
        "nimf 50 comps (old default)": lambda: MatrixCompletion(50, random_state=seed),
        "nimf default": lambda: MatrixCompletion(random_state=seed),
    }


def surprise_fit(name, train, scale, seed=0):
    from surprise import SVD, BaselineOnly, Dataset, Reader

    trainset = Dataset.load_from_df(train[["user", "item", "rating"]],
                                    Reader(rating_scale=scale)).build_full_trainset()
    make = {"surprise BaselineOnly": lambda: BaselineOnly(verbose=False),
            "surprise SVD": lambda: SVD(random_state=seed)}[name]
    return make, trainset


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None, help="regimes to run")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the generated ratings, the split and every model")
    args = parser.parse_args()
    try:
        import surprise  # noqa: F401
        have_surprise = True
    except ImportError:
        have_surprise = False
        print("scikit-surprise is not installed: no Surprise columns")

    small = make_ratings(50, 40, 500, random_state=1).ratings
    for make in models().values():
        make().fit(small).rmse(small)

    table = []
    for name, settings in REGIMES.items():
        if args.only and name not in args.only:
            continue
        ratings = regime(**settings, seed=args.seed)
        scale = (float(ratings.rating.min()), float(ratings.rating.max()))
        shares = ratings.rating.value_counts(normalize=True).sort_index()
        print(f"{name}: {len(ratings)} ratings, mean {ratings.rating.mean():.2f}, sd "
              f"{ratings.rating.std():.2f}" + (
                  "; shares " + "/".join(f"{100 * v:.0f}" for v in shares.values)
                  if len(shares) <= 5 else ""), flush=True)
        train, test = train_test_split_ratings(ratings, 0.2, random_state=args.seed)
        row = {"regime": name}
        if have_surprise:
            for sname in ("surprise BaselineOnly", "surprise SVD"):
                make, trainset = surprise_fit(sname, train, scale, args.seed)
                elapsed, model = timed(make, trainset, args.repeats)
                pred = np.array([model.predict(u, i, clip=True).est
                                 for u, i in zip(test.user, test.item)])
                row[sname] = (elapsed, float(np.sqrt(np.mean((pred - test.rating) ** 2))))
        for mname, make in models(args.seed).items():
            elapsed, model = timed(make, train, args.repeats)
            row[mname] = (elapsed, model.rmse(test))
            if mname == "nimf default":
                row["chosen"] = (f"k={model.n_components_} alpha={model.alpha_:.3g} "
                                 f"bias={model.alpha_bias_:.3g}")
        print("  " + "  ".join(f"{k}: {v[1]:.4f} ({v[0]:.2f} s)" for k, v in row.items()
                               if isinstance(v, tuple)) + f"  [{row['chosen']}]", flush=True)
        table.append(row)

    cols = ["surprise BaselineOnly", "surprise SVD", "nimf biases only",
            "nimf 50 comps (old default)", "nimf default"]
    cols = [c for c in cols if any(c in r for r in table)]
    short = {"surprise BaselineOnly": "S base", "surprise SVD": "S SVD",
             "nimf biases only": "biases", "nimf 50 comps (old default)": "old dflt",
             "nimf default": "default"}
    print()
    print("held-out RMSE; 'vs best biases' = default minus the better biases-only model; "
          "'time/SVD' = default's fit time over Surprise SVD's")
    header = (f"{'regime':15s}" + "".join(f"{short[c]:>10s}" for c in cols)
              + f"{'vs best biases':>16s}{'time/SVD':>10s}  chosen")
    print(header)
    for r in table:
        biases = [r[c][1] for c in ("surprise BaselineOnly", "nimf biases only") if c in r]
        line = f"{r['regime']:15s}" + "".join(f"{r[c][1]:10.4f}" for c in cols)
        line += f"{r['nimf default'][1] - min(biases):+16.4f}"
        ratio = (r["nimf default"][0] / r["surprise SVD"][0]) if "surprise SVD" in r else np.nan
        line += f"{ratio:9.2f}x  {r['chosen']}"
        print(line)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(total {time.perf_counter() - t0:.0f} s)")
