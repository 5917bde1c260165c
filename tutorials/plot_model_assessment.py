"""
How many components? Error curves, stability and cross-validation
==================================================================

Three questions to ask of any factorization (the 2022 NYU workshop on matrix
decompositions asks them of NMF): how well does it fit, are there many
solutions that fit equally well, and which rank generalises to unseen data?
:mod:`nimf.assessment` answers them for any estimator with ``n_components``.

We plant a rank-5 non-negative structure and let the data tell us the rank.
"""

# %%
# Data with a known rank
# ----------------------
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from nimf.assessment import error_curve, speckled_cv, stability
from nimf.decomposition import NMF
from nimf.plotting import plot_cv, plot_error_curve, plot_factors, plot_stability

# fits above the true rank converge slowly; their warnings are expected here
warnings.simplefilter("ignore", ConvergenceWarning)
rng = np.random.RandomState(0)
W = rng.uniform(size=(80, 5))
H = rng.uniform(size=(5, 60)) * (rng.uniform(size=(5, 60)) < 0.4)
X = W @ H + 0.05 * rng.uniform(size=(80, 60))
ranks = list(range(1, 9))
# random starts, so that different seeds can find different solutions; a loose
# tolerance is enough to compare ranks
nmf = NMF(init="random", tol=1e-3, max_iter=1000)

# %%
# 1. How well does each rank fit? The error can only approach the truncated-SVD
# bound; it drops fast up to the true rank, slowly after.
curve = error_curve(nmf, X, ranks, n_seeds=3, random_state=0)
print("best relative error per rank:", np.round(curve.errors.min(axis=1), 3))
# a sharp drop up to rank 5, then a plateau at the noise level
best = curve.best_errors
assert best[3] > 2 * best[4] and np.all(best[5:] > 0.9 * best[4]), best

# %%
# 2. Are the solutions unique? Fits from different seeds are matched to the best
# one (Hungarian algorithm); at the true rank they agree, above it they do not.
stab = stability(nmf, X, ranks, n_seeds=4, random_state=0)
print("mean similarity to the best fit:", np.round(stab.similarity.mean(axis=1), 3))
similarity = stab.similarity.mean(axis=1)
assert similarity[4] > 0.99 and similarity[-1] < similarity[4], similarity

# %%
# 3. Which rank generalises? Hide 10% of the entries, fit on the rest, and
# measure the error on the hidden ones: it is smallest near the true rank.
cv = speckled_cv(nmf, X, ranks, holdout=0.1, n_repeats=2, random_state=0)
print("rank chosen by cross-validation:", cv.best_rank)
assert cv.best_rank == 5, cv.best_rank

# %%
# The figures
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
plot_error_curve(curve, ax=axes[0])
plot_stability(stab, ax=axes[1])
plot_cv(cv, ax=axes[2])
fig.tight_layout()

# %%
# The factors of one fit at the chosen rank, samples sorted by their strongest
# component (a staircase when the factorization is interpretable).
model = NMF(n_components=cv.best_rank, init="nndsvda", max_iter=400, random_state=0)
codes = model.fit_transform(X)
fig, ax = plt.subplots(figsize=(8, 4))
plot_factors(model.components_, codes, ax=ax)

# %%
# The components found are the planted ones (matched one to one, cosine similarity).
from nimf.assessment import match_components

recovery = match_components(H, model.components_).score
print(f"similarity of the components to the planted ones: {recovery:.3f}")
assert recovery > 0.9, recovery

# %%
# Showing or saving the figures
# -----------------------------
# In the gallery, the figures appear under the cells that draw them. Run as a
# script, they open in windows; without a display (matplotlib's Agg backend)
# they are saved as PNG files in the current folder.
if "sphinx_gallery" not in sys.modules:
    if plt.get_backend().lower() == "agg":
        for number in plt.get_fignums():
            plt.figure(number).savefig(f"model_assessment_{number}.png", dpi=100)
    else:
        plt.show()
