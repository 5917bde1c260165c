"""
Recommending items from ratings: matrix completion
==================================================

A table of (user, item, rating) triples is a users x items matrix with most entries
missing. :class:`nimf.ratings.MatrixCompletion` fills it in with a biased low-rank
model, ``rating ~ mean + user bias + item bias + user factors . item factors``, fitted
by the subsampled online learner (each user's row is a sample whose mask is the items
it rated). We generate MovieLens-like ratings, hold some out, compare with the
biases-only model, choose the number of components on held-out ratings, and
recommend.

With real data, load them with :func:`nimf.ratings.load_movielens_100k` (``u.data``),
:func:`~nimf.ratings.load_movielens_dat` (``ratings.dat``),
:func:`~nimf.ratings.load_movielens_csv` (``ratings.csv``) or
:func:`~nimf.ratings.load_ratings_csv` (any CSV); every step below stays the same.
"""

# %%
# Ratings with popular items and heavy users
# ------------------------------------------
import sys

import matplotlib.pyplot as plt
import numpy as np

from nimf.datasets import make_ratings
from nimf.ratings import MatrixCompletion, train_test_split_ratings

data = make_ratings(n_users=600, n_items=900, n_ratings=50_000, n_factors=8, noise=0.8,
                    random_state=0)
ratings = data.ratings
# string ids, as in most real files: any hashable id works
ratings = ratings.assign(user="user" + ratings.user.astype(str))
print(ratings.head())
per_user = ratings.groupby("user").size()
print(f"{len(ratings)} ratings; ratings per user: median {per_user.median():.0f}, "
      f"max {per_user.max()}")

# %%
# Hold out a fifth of each user's ratings
# ---------------------------------------
train, test = train_test_split_ratings(ratings, test_size=0.2, random_state=0)
# every user keeps ratings in training, so every held-out rating has a user to predict for
assert set(test.user) <= set(train.user) and len(train) + len(test) == len(ratings)

biases = MatrixCompletion(n_components=0).fit(train)
model = MatrixCompletion(n_components=20, random_state=0).fit(train, validation=test)
print(f"held-out RMSE: biases only {biases.rmse(test):.4f}, "
      f"20 components {model.rmse(test):.4f}")
assert model.rmse(test) < biases.rmse(test)

# %%
# How many components?
# --------------------
# ``validation=`` records the held-out RMSE after every pass over the users.
fig, ax = plt.subplots(figsize=(5, 3.5))
final = {}
for n_components in (2, 8, 20, 50):
    fit = MatrixCompletion(n_components, n_epochs=5, random_state=0).fit(
        train, validation=test)
    curve = [entry["validation_rmse"] for entry in fit.history_]
    final[n_components] = curve[-1]
    ax.plot(range(1, len(curve) + 1), curve, marker="o", label=f"{n_components} components")
ax.axhline(biases.rmse(test), color="gray", linestyle="--", label="biases only")
ax.set_xlabel("pass over the users")
ax.set_ylabel("held-out RMSE")
ax.legend()
fig.tight_layout()
best = min(final, key=final.get)
print("held-out RMSE after 5 passes:", {k: round(v, 4) for k, v in final.items()},
      "-> best:", best)

# %%
# The ratings were generated with 8 factors: 2 components are too few, and from
# 8 on the held-out RMSE hardly changes (50 components start to fit noise).
# Every low-rank model beats the biases alone.
assert final[2] > final[8] + 0.02 and best in (8, 20), final
assert abs(final[8] - final[20]) < 0.01 and final[50] >= final[best], final
assert all(rmse < biases.rmse(test) for rmse in final.values()), final

# %%
# Predictions and recommendations
# -------------------------------
# Users or items never seen in training get the biases alone, without an error.
model = MatrixCompletion(best, random_state=0).fit(train)
predicted = model.predict(["user0", "user1", "someone new"], [10, 10, 10])
print(predicted)
item = list(model.item_ids_).index(10)
low, high = model.rating_scale_
assert np.isclose(predicted[2], np.clip(model.global_mean_ + model.item_bias_[item], low, high))

# %%
# ``recommend`` ranks the items the user has not rated in training, best first.
recommended = model.recommend("user0", n=5)
print(recommended)
seen = set(train.item[train.user == "user0"])
assert len(recommended) == 5 and not seen & set(recommended.item)
assert np.all(np.diff(recommended.score.to_numpy()) <= 0)

# %%
# Showing or saving the figures
# -----------------------------
# In the gallery, the figures appear under the cells that draw them. Run as a
# script, they open in windows; without a display (matplotlib's Agg backend)
# they are saved as PNG files in the current folder.
if "sphinx_gallery" not in sys.modules:
    if plt.get_backend().lower() == "agg":
        for number in plt.get_fignums():
            plt.figure(number).savefig(f"recommender_{number}.png", dpi=100)
    else:
        plt.show()
