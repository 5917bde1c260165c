"""
NMF, sparse PCA and dictionary learning on the same images
===========================================================

nimf has three image decompositions, built on the same masking and cleaning
(nilearn's parameters) and differing only in their maths:

- :class:`nimf.neuro.DictLearning`: sparse maps in an l1 ball, time courses
  with a ridge penalty, learned online (Mensch et al. 2016);
- :class:`nimf.neuro.NMF`: non-negative maps with an l1 penalty and free time
  courses (semi-NMF, since cleaned fMRI signals are centred);
- :class:`nimf.neuro.SparsePCA`: sparse maps that explain the most variance,
  ordered by it.

We fit the three on the same generated study, whose planted networks are
known, and compare what matters when choosing one: how well they recover the
networks, how much held-out variance they explain, how sparse their maps are,
and how long they take.
"""

# %%
# One study, three estimators
# ---------------------------
# Four subjects at 8 mm with eight planted networks; three for fitting, one
# held out. The same masking parameters for every estimator.
import sys
import time

import matplotlib.pyplot as plt
import numpy as np

from nimf.assessment import match_components
from nimf.datasets import make_rest_study
from nimf.neuro import NMF, DictLearning, SparsePCA

study = make_rest_study(n_subjects=4, n_scans=100, n_networks=8, resolution=8,
                        random_state=0)
train, test = study.func[:3], study.func[3:]
train_confounds, test_confounds = study.confounds[:3], study.confounds[3:]
common = dict(n_components=8, mask=study.mask_img, t_r=study.t_r, random_state=0)
estimators = {"DictLearning": DictLearning(**common), "NMF": NMF(**common),
              "SparsePCA": SparsePCA(**common)}

# the first fit in a session compiles nimf's kernels: pay it before timing
DictLearning(n_components=2, mask=study.mask_img, n_epochs=1).fit(train[0])

# %%
# Fit and measure
# ---------------
# - recovery: each planted network is matched to one map (Hungarian algorithm
#   on the absolute correlation); the mean of the matched correlations, and the
#   number of networks found (matched at a correlation above 0.8);
# - held-out explained variance: ``score`` on the subject not used for fitting;
# - sparsity: the fraction of the map values that are exactly zero;
# - time: the whole ``fit``, masking and cleaning included.
results = {}
for name, estimator in estimators.items():
    start = time.perf_counter()
    estimator.fit(train, confounds=train_confounds)
    elapsed = time.perf_counter() - start
    match = match_components(study.maps, estimator.components_, metric="correlation")
    results[name] = dict(
        recovery=match.score, found=int(np.sum(match.similarities > 0.8)),
        heldout=estimator.score(test, confounds=test_confounds),
        zeros=float(np.mean(estimator.components_ == 0)),
        negative=float(np.mean(estimator.components_ < 0)), time=elapsed)

print(f"{'':<14}{'recovery':>9}{'found':>7}{'held-out EV':>13}{'zeros':>7}{'negative':>10}"
      f"{'fit (s)':>9}")
for name, r in results.items():
    print(f"{name:<14}{r['recovery']:>9.3f}{r['found']:>5}/8{r['heldout']:>13.3f}"
          f"{r['zeros']:>7.0%}{r['negative']:>10.1%}{r['time']:>9.2f}")

# %%
# What the numbers say
# --------------------
# Dictionary learning and NMF find all eight networks. NMF's maps are
# non-negative by construction, which suits networks of co-activated regions;
# dictionary learning's maps are nearly so (flipped to be mostly positive),
# and it fits in one pass over the data by mini-batches, where NMF's solver
# reads every scan at every iteration.
for name in ("DictLearning", "NMF"):
    assert results[name]["found"] == 8 and results[name]["recovery"] > 0.85, (name, results[name])
assert results["NMF"]["negative"] == 0.0

# %%
# Sparse PCA looks for the sparse directions of largest variance, one after the
# other: strong networks are found, but a map can merge two weaker networks and
# another then goes missing. Its maps explain less of the held-out subject.
assert results["SparsePCA"]["found"] < 8, results["SparsePCA"]
assert results["SparsePCA"]["heldout"] < min(results["DictLearning"]["heldout"],
                                             results["NMF"]["heldout"])
# every model explains some of the held-out subject, with sparse maps
for name, r in results.items():
    assert r["heldout"] > 0.1 and r["zeros"] > 0.5, (name, r)

# %%
# The comparison at a glance
# --------------------------
names = list(results)
fig, axes = plt.subplots(1, 4, figsize=(13, 3))
for ax, (key, label) in zip(axes, [("recovery", "recovery (matched |corr.|)"),
                                   ("heldout", "held-out explained variance"),
                                   ("zeros", "fraction of zeros in the maps"),
                                   ("time", "fit time (s)")]):
    ax.bar(names, [results[name][key] for name in names], color=["C0", "C1", "C2"])
    ax.set_title(label, fontsize=10)
    ax.tick_params(axis="x", labelrotation=20)
fig.tight_layout()

# %%
# The maps of each model
# ----------------------
# All maps of each model as contours on one brain, at the same cuts.
from nimf.plotting import plot_components_contours

fig, axes = plt.subplots(3, 1, figsize=(9, 10))
for ax, (name, estimator) in zip(axes, estimators.items()):
    plot_components_contours(estimator.components_img_, title=name, figure=fig, axes=ax,
                             cut_coords=(0, -20, 10))

# %%
# Showing or saving the figures
# -----------------------------
# In the gallery, the figures appear under the cells that draw them. Run as a
# script, they open in windows; without a display (matplotlib's Agg backend)
# they are saved as PNG files in the current folder.
# sphinx_gallery_thumbnail_number = 2
if "sphinx_gallery" not in sys.modules:
    if plt.get_backend().lower() == "agg":
        for number in plt.get_fignums():
            plt.figure(number).savefig(f"compare_decompositions_{number}.png", dpi=100)
    else:
        plt.show()
