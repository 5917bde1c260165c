"""
Resting-state networks, end to end
==================================

A resting-state analysis with nimf, from 4D images to a functional connectome,
on the study that ships with nimf (:func:`nimf.datasets.make_rest_study`):
generated 4D images in MNI space with planted bilateral networks, motion-like
confounds, drifts and noise. Because the networks are planted, every step can
be checked against the truth, and this tutorial does so.

1. Fit :class:`nimf.neuro.DictLearning` (a drop-in for nilearn's estimator of the
   same name) and look at the maps, one by one and as contours on one brain.
2. Read each subject's time courses of the networks with ``transform``.
3. Build a functional connectome from the time courses with nilearn's
   :class:`~nilearn.connectome.ConnectivityMeasure` and draw it.
4. Choose the number of networks with :func:`nimf.assessment.stability`.

Run it as a script (``python tutorials/plot_resting_state_networks.py``): the
figures open in windows, or are saved as PNG files when there is no display.
"""

# %%
# A study with planted networks
# -----------------------------
# Four subjects of 100 scans at 6 mm, eight planted networks. Three subjects
# are used for fitting, the fourth is held out to score the model.
import sys

import matplotlib.pyplot as plt
import numpy as np

from nimf.datasets import make_rest_study
from nimf.neuro import DictLearning

study = make_rest_study(n_subjects=4, n_scans=100, n_networks=8, resolution=6,
                        random_state=0)
print(study.description)
train, test = study.func[:3], study.func[3:]
train_confounds, test_confounds = study.confounds[:3], study.confounds[3:]

# %%
# Fit the networks
# ----------------
# The parameters are nilearn's: the masker's (``mask``, ``t_r``, ``standardize``...)
# and the decomposition's. The motion confounds are regressed out of each
# subject, as with nilearn. The first fit in a Python session compiles nimf's
# kernels (cached on disk, so only once per machine).
dict_learning = DictLearning(n_components=8, mask=study.mask_img, t_r=study.t_r,
                             random_state=0)
dict_learning.fit(train, confounds=train_confounds)
print("explained variance of each map:", dict_learning.explained_variance_.round(4))
print(f"explained variance on the held-out subject: "
      f"{dict_learning.score(test, confounds=test_confounds):.3f}")

# %%
# How well are the planted networks found? Each learned map is matched to one
# planted map (Hungarian algorithm on the absolute correlation between maps).
from nimf.assessment import match_components

match = match_components(study.maps, dict_learning.components_, metric="correlation")
print(f"recovery of the planted networks: {match.score:.3f} (matched |correlation|)")
print("correlation of each planted network with its map:", match.similarities.round(2))
assert match.score > 0.85, match.score

# %%
# The maps
# --------
# One map on the MNI template, then all of them as contours on one brain, each
# in its own colour. The maps are flipped to be mostly positive and ordered by
# explained variance, so map 0 explains the most.
from nimf.plotting import plot_component, plot_components_contours

plot_component(dict_learning.components_img_, 0, title="map 0")
plot_components_contours(dict_learning.components_img_, title="8 resting-state networks")

# %%
# Time courses
# ------------
# ``transform`` masks and cleans each image exactly as ``fit`` did (confounds
# included) and regresses its scans on the maps: one array of shape
# (n_scans, n_components) per subject.
time_courses = dict_learning.transform(study.func, confounds=study.confounds)
print("time courses of the first subject:", time_courses[0].shape)

# the planted time course of a network against that of its map, first subject
network, component = match.rows[0], match.permutation[0]
truth = study.time_series[0][:, network]
found = time_courses[0][:, component]
agreement = abs(np.corrcoef(truth, found)[0, 1])
print(f"correlation of map {component}'s time course with the planted one: {agreement:.2f}")
assert agreement > 0.8, agreement

seconds = np.arange(len(truth)) * study.t_r
fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(seconds, (truth - truth.mean()) / truth.std(), color="0.6", label="planted")
ax.plot(seconds, np.sign(np.corrcoef(truth, found)[0, 1]) * (found - found.mean()) / found.std(),
        color="C0", lw=1, label=f"map {component}")
ax.set_xlabel("time (s)")
ax.set_ylabel("signal (z-scored)")
ax.set_title("time course of one network, subject 1")
ax.legend(loc="upper right")
fig.tight_layout()

# %%
# A functional connectome
# -----------------------
# The correlation between the time courses of the networks, per subject, then
# averaged: nilearn's :class:`~nilearn.connectome.ConnectivityMeasure` does it.
# Its diagonal is 1 and not informative, so it is hidden in the matrix plot.
from nilearn.connectome import ConnectivityMeasure
from nilearn.plotting import find_probabilistic_atlas_cut_coords, plot_connectome, plot_matrix

measure = ConnectivityMeasure(kind="correlation", standardize="zscore_sample")
connectome = measure.fit_transform(time_courses)
mean_connectome = connectome.mean(axis=0)
labels = [f"map {k}" for k in range(dict_learning.n_components)]
plot_matrix(mean_connectome, labels=labels, vmin=-1.0, vmax=1.0, reorder=False,
            title="mean correlation between network time courses", colorbar=True,
            tri="lower")

# %%
# The same connectome on a glass brain: one node per map (at the map's
# centre), edges for the strongest 20% of the connections.
coords = find_probabilistic_atlas_cut_coords(dict_learning.components_img_)
plot_connectome(mean_connectome, coords, edge_threshold="80%",
                title="functional connectome of the 8 networks", colorbar=True)

# %%
# The planted time courses are correlated with each other: does the learned
# connectome recover those correlations? Put the planted connectome in the
# order of the maps and compare the connections (the entries below the diagonal).
planted = ConnectivityMeasure(kind="correlation", standardize="zscore_sample").fit_transform(
    study.time_series).mean(axis=0)
order = np.empty(dict_learning.n_components, dtype=int)
order[match.permutation] = match.rows
planted = planted[np.ix_(order, order)]
below = np.tril_indices_from(planted, k=-1)
connectome_agreement = np.corrcoef(planted[below], mean_connectome[below])[0, 1]
print(f"correlation between the planted and the learned connections: "
      f"{connectome_agreement:.2f}")
assert connectome_agreement > 0.8, connectome_agreement

# %%
# How many networks?
# ------------------
# In a real study the number of networks is unknown. A number that the data
# support gives the same maps whatever the random start; too many networks,
# and some maps are split differently from one start to the next.
# :func:`nimf.assessment.stability` fits each number of components from
# several seeds and measures how much the fits agree (the instability of
# Wu et al. 2016: 0 when every fit finds the same maps).
#
# The assessment fits images without confounds, so we regress the confounds
# out first, once, with nilearn's :func:`~nilearn.image.clean_img`.
from nilearn.image import clean_img

from nimf.assessment import stability
from nimf.plotting import plot_stability

cleaned = [clean_img(img, confounds=conf, detrend=True, standardize=None, t_r=study.t_r,
                     mask_img=study.mask_img)
           for img, conf in zip(train, train_confounds)]
ranks = [6, 8, 10]
result = stability(DictLearning(mask=study.mask_img, t_r=study.t_r), cleaned, ranks,
                   n_seeds=3, random_state=0)
best_rank = int(result.ranks[np.argmin(result.instability)])
print("instability per number of networks:", {rank: round(float(value), 3) for rank, value in zip(ranks, result.instability)})
print("most stable number of networks:", best_rank)
assert best_rank == 8, best_rank

fig, ax = plt.subplots(figsize=(5, 3.5))
plot_stability(result, ax=ax)
ax.set_title("similarity of fits across seeds")
fig.tight_layout()

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
            plt.figure(number).savefig(f"resting_state_networks_{number}.png", dpi=100)
    else:
        plt.show()
