"""
Workshop walkthrough: NMF on a real data matrix, step by step
==============================================================

The exercises of the 2022 NYU workshop on dimensionality reduction for matrix-
and tensor-coded data (neurostatslab's factorization tutorial), with nimf, on a
real data matrix.

**The data.** The wine recognition data that ships with scikit-learn
(:func:`sklearn.datasets.load_wine`): 178 wines from three cultivars of the same
region of Italy, 13 chemical measurements each (alcohol, flavanoids, colour
intensity, proline...). It is chosen because it is on every machine that has
nimf (scikit-learn is a dependency of nimf: no download, no network), every
value is non-negative (concentrations and absorbances, as NMF needs), it is
small enough to fit hundreds of models in seconds, and the cultivar of each
wine is known, so we can check whether the factors mean something.

The steps: normalise, look at the matrix, fit NMF at ranks 1 to 10 and compare
the error with the SVD bound, read the factors, compare ranks 4 and 5 (and
PCA's nested components), check the similarity of fits across seeds, and
cross-validate the rank. The exercises have their solutions folded under
"Solution" (click to unfold; run as a script, the solutions simply run).
"""

# %%
# Load and normalise
# ------------------
# The measurements have different units (proline is about 1000, hue about 1),
# and NMF's squared error would see only the largest. Dividing each measurement
# by its largest value puts every column in [0, 1] and keeps zero at zero (and
# the data non-negative), which subtracting the mean would not.
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning

wine = load_wine()
names = [name.replace("od280/od315_of_diluted_wines", "OD280/OD315") for name in
         wine.feature_names]
X = wine.data / wine.data.max(axis=0)
cultivar = wine.target
print(f"{X.shape[0]} wines x {X.shape[1]} measurements, values in [{X.min():.2f}, {X.max():.2f}]")
assert X.shape == (178, 13) and X.min() >= 0.0 and np.allclose(X.max(axis=0), 1.0)
# fits from random starts at high rank stop at max_iter before the tolerance: expected here
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# The matrix as a heatmap
# -----------------------
# Rows are wines (in the order of the file, which happens to be by cultivar),
# columns are measurements.
fig, ax = plt.subplots(figsize=(7, 5))
image = ax.imshow(X, aspect="auto", interpolation="nearest", cmap="viridis")
ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
ax.set_ylabel("wine")
ax.set_title("wine data, each measurement divided by its maximum")
fig.colorbar(image, ax=ax, label="fraction of the largest value")
fig.tight_layout()

# %%
# How well does each rank fit?
# ----------------------------
# :func:`nimf.assessment.error_curve` fits NMF at each rank from several random
# starts and records the relative error ``||X - WH|| / ||X||`` of each fit.
# No model of rank ``r`` can beat the truncated SVD of rank ``r`` (Eckart-Young),
# the dashed line.
from nimf.assessment import error_curve
from nimf.decomposition import NMF
from nimf.plotting import plot_error_curve

nmf = NMF(init="random", tol=1e-3, max_iter=300)
ranks = list(range(1, 11))
curve = error_curve(nmf, X, ranks, n_seeds=5, random_state=0)
print("best relative error per rank:", curve.best_errors.round(3))
print("truncated-SVD bound:         ", curve.svd_bound.round(3))
fig, ax = plt.subplots(figsize=(5, 3.5))
plot_error_curve(curve, ax=ax)
ax.set_title("NMF on the wine data")
fig.tight_layout()

# %%
# As in the workshop: NMF converges to similar errors from different starts and
# nearly reaches the SVD bound (here within 1% at every rank), and the error
# falls with every component added.
assert np.all(curve.best_errors >= curve.svd_bound - 1e-9)
assert np.all(curve.best_errors <= 1.01 * curve.svd_bound)
assert np.all(np.diff(curve.best_errors) < 0)

# %%
# Exercise 1: compute the SVD bound yourself with :func:`numpy.linalg.svd`:
# the error of the best rank-``r`` approximation is the norm of the singular
# values left out, divided by the norm of ``X``.
#
# .. raw:: html
#
#    <details><summary>Solution</summary>

singular_values = np.linalg.svd(X, compute_uv=False)
bound = np.array([np.sqrt(np.sum(singular_values[r:] ** 2)) for r in ranks])
bound /= np.linalg.norm(X)
print("my bound:", bound.round(3))
assert np.allclose(bound, curve.svd_bound)

# %%
# .. raw:: html
#
#    </details>
#
# Factors ordered for reading
# ---------------------------
# A factorization is read by sorting the wines by their strongest component
# (:func:`nimf.plotting.factor_order`): the codes become a staircase. At rank 3,
# the strip on the left gives each sorted wine's cultivar: each component is
# mostly one cultivar, although NMF never saw the cultivars.
from nimf.plotting import factor_order

model = NMF(n_components=3, init="nndsvda", max_iter=1000, random_state=0)
codes = model.fit_transform(X)
order = factor_order(codes)
fig, axes = plt.subplots(1, 3, figsize=(11, 5), gridspec_kw=dict(width_ratios=[0.3, 2, 4]))
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

cultivar_colors = ["#1b9e77", "#d95f02", "#7570b3"]
axes[0].imshow(cultivar[order, None], aspect="auto", interpolation="nearest",
               cmap=ListedColormap(cultivar_colors), vmin=-0.5, vmax=2.5)
fig.legend(handles=[Patch(color=color, label=f"cultivar {c}")
                    for c, color in enumerate(cultivar_colors)],
           loc="lower left", ncol=3, fontsize=8, frameon=False)
axes[0].set_xticks([])
axes[0].set_ylabel("wine (sorted by strongest component)")
axes[0].set_title("cultivar", fontsize=9)
axes[1].imshow(codes[order], aspect="auto", interpolation="nearest", cmap="viridis")
axes[1].set_yticks([])
axes[1].set_xticks(range(3))
axes[1].set_xlabel("component")
axes[1].set_title("codes W")
axes[2].imshow(model.components_, aspect="auto", interpolation="nearest", cmap="viridis")
axes[2].set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
axes[2].set_yticks(range(3))
axes[2].set_ylabel("component")
axes[2].set_title("components H")
fig.tight_layout(rect=(0, 0.05, 1, 1))

# %%
# How well do the components match the cultivars? Each wine goes to its
# strongest component; the adjusted Rand index compares that grouping with the
# cultivars (1: the same grouping; 0: chance).
from sklearn.metrics import adjusted_rand_score

agreement = adjusted_rand_score(cultivar, codes.argmax(axis=1))
print(f"adjusted Rand index of the strongest component against the cultivar: {agreement:.2f}")
assert agreement > 0.5, agreement

# %%
# Exercise 2: which measurement weighs most in each component? Which cultivar
# does each component mostly hold?
#
# .. raw:: html
#
#    <details><summary>Solution</summary>

strongest = codes.argmax(axis=1)
for k in range(3):
    top = names[int(np.argmax(model.components_[k]))]
    share = np.bincount(cultivar[strongest == k], minlength=3) / np.sum(strongest == k)
    print(f"component {k}: largest weight on {top}; wines by cultivar: {share.round(2)}")
# one cultivar holds most of the wines of each component, and a different one each time
majority = [np.bincount(cultivar[strongest == k], minlength=3).argmax() for k in range(3)]
assert sorted(majority) == [0, 1, 2], majority

# %%
# .. raw:: html
#
#    </details>
#
# Rank 4 against rank 5, and PCA's nested components
# ---------------------------------------------------
# PCA's components are nested (Eckart-Young): the rank-4 solution is the first
# four components of the rank-5 one. NMF's are not: adding a component can
# change the others. We match the rank-4 components to the rank-5 ones
# (:func:`nimf.assessment.match_components`) and print the similarity of each pair;
# in the figure, the rank-5 components are in the order of their rank-4 matches,
# the new one last.
from sklearn.decomposition import PCA

from nimf.assessment import match_components

nmf4 = NMF(n_components=4, init="nndsvda", max_iter=1000, random_state=0).fit(X)
nmf5 = NMF(n_components=5, init="nndsvda", max_iter=1000, random_state=0).fit(X)
nmf_match = match_components(nmf4.components_, nmf5.components_)
pca4, pca5 = PCA(n_components=4).fit(X), PCA(n_components=5).fit(X)
pca_match = match_components(pca4.components_, pca5.components_)
print("NMF: similarity of each rank-4 component to its rank-5 match:",
      nmf_match.similarities.round(3))
print("PCA: similarity of each rank-4 component to its rank-5 match:",
      pca_match.similarities.round(3))
assert np.allclose(np.abs(pca4.components_), np.abs(pca5.components_[:4]), atol=1e-8)
assert np.allclose(pca_match.similarities, 1.0)
assert nmf_match.similarities.min() < 0.95, nmf_match.similarities

fig, axes = plt.subplots(2, 2, figsize=(10, 5.5), sharex=True)
for row, (label, small, large, match) in enumerate([("NMF", nmf4, nmf5, nmf_match),
                                                    ("PCA", pca4, pca5, pca_match)]):
    # rank 5 in the order matching rank 4, its extra component last
    rest = [j for j in range(5) if j not in match.permutation]
    large_sorted = np.vstack([match.apply(large.components_), large.components_[rest]])
    cmap = "viridis" if label == "NMF" else "RdBu_r"
    vmin = 0.0 if label == "NMF" else -1.0
    for col, (components, rank) in enumerate([(small.components_, 4), (large_sorted, 5)]):
        ax = axes[row, col]
        # each component scaled to its largest absolute value (NMF's scale is in the codes)
        scaled = components / np.abs(components).max(axis=1, keepdims=True)
        ax.imshow(scaled, aspect="auto", interpolation="nearest", cmap=cmap, vmin=vmin,
                  vmax=1.0)
        ax.set_yticks(range(rank))
        ax.set_ylabel("component")
        ax.set_title(f"{label}, rank {rank}", fontsize=10)
for ax in axes[1]:
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
fig.tight_layout()

# %%
# Similarity across seeds
# -----------------------
# Are there many solutions that fit equally well? :func:`nimf.assessment.stability`
# fits each rank from several seeds, matches every fit to the best one
# (Hungarian algorithm) and reports their similarity, and the instability of
# Wu et al. (2016). Ranks 1 and 2 give the same factors from every start.
from nimf.assessment import stability
from nimf.plotting import plot_stability

stab = stability(nmf, X, ranks, n_seeds=5, random_state=0)
print("mean similarity to the best fit:", stab.similarity.mean(axis=1).round(3))
assert np.allclose(stab.similarity[:2], 1.0, atol=1e-3)
assert stab.similarity.mean(axis=1)[-1] < 1.0
fig, ax = plt.subplots(figsize=(5.5, 3.5))
plot_stability(stab, ax=ax)
fig.tight_layout()

# %%
# Speckled cross-validation
# -------------------------
# The error on the data used for fitting can only fall with the rank. To find
# the rank that generalises, :func:`nimf.assessment.speckled_cv` hides a random
# tenth of the entries, fits on the rest, and measures the error on the hidden
# ones (Wold 1978; Williams 2018): it is smallest at 3, the number of cultivars.
from nimf.assessment import speckled_cv
from nimf.plotting import plot_cv

cv = speckled_cv(nmf, X, ranks, holdout=0.1, n_repeats=3, random_state=0)
print("mean held-out error per rank:", cv.test_error.mean(axis=1).round(3))
print("rank chosen by cross-validation:", cv.best_rank)
assert cv.best_rank == 3, cv.best_rank
assert np.all(np.diff(cv.train_error.mean(axis=1)) < 0)
fig, ax = plt.subplots(figsize=(5, 3.5))
plot_cv(cv, ax=ax)
fig.tight_layout()

# %%
# Exercise 3: the held-out entries differ between random masks, and so can the
# chosen rank. Repeat the cross-validation with four other seeds: how often
# is 3 chosen?
#
# .. raw:: html
#
#    <details><summary>Solution</summary>

chosen = [speckled_cv(nmf, X, ranks, holdout=0.1, n_repeats=3, random_state=seed).best_rank
          for seed in range(1, 5)]
print("ranks chosen with seeds 1-4:", chosen)
# most masks choose 3; an unlucky one can prefer a larger rank, whose held-out
# error is hardly different: look at the curve, not only at its minimum
assert chosen.count(3) >= 2, chosen

# %%
# .. raw:: html
#
#    </details>
#
# Exercise 4: the rotation problem. For any invertible ``F``, ``(W F)(F^-1 H)``
# equals ``W H``. Show that a random ``F`` breaks non-negativity, while a
# permutation times a positive diagonal matrix keeps it.
#
# .. raw:: html
#
#    <details><summary>Solution</summary>

W, H = codes, model.components_
rng = np.random.RandomState(0)
F = rng.randn(3, 3)
W_rotated, H_rotated = W @ F, np.linalg.solve(F, H)
assert np.allclose(W_rotated @ H_rotated, W @ H)
print("random F: negative entries in W F:", np.mean(W_rotated < 0).round(2),
      "in F^-1 H:", np.mean(H_rotated < -1e-12).round(2))
P = np.eye(3)[[2, 0, 1]] @ np.diag([2.0, 0.5, 3.0])
assert np.allclose((W @ P) @ np.linalg.solve(P, H), W @ H)
assert (W @ P).min() >= 0 and np.linalg.solve(P, H).min() >= -1e-12

# %%
# .. raw:: html
#
#    </details>
#
# Showing or saving the figures
# -----------------------------
# In the gallery, the figures appear under the cells that draw them. Run as a
# script, they open in windows; without a display (matplotlib's Agg backend)
# they are saved as PNG files in the current folder.
# sphinx_gallery_thumbnail_number = 3
if "sphinx_gallery" not in sys.modules:
    if plt.get_backend().lower() == "agg":
        for number in plt.get_fignums():
            plt.figure(number).savefig(f"workshop_walkthrough_{number}.png", dpi=100)
    else:
        plt.show()
