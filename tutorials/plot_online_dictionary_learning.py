"""
Learning sparse components with the subsampled online dictionary learner
=========================================================================

This tutorial shows the core of nimf on generated data: a matrix whose rows are
noisy mixtures of a few sparse "maps" (think of brain volumes unrolled into
vectors).  We learn the maps back with
:class:`nimf.decomposition.OnlineDictionaryLearning`, first reading every
feature of every sample (``reduction=1``, the online dictionary learning of
Mairal et al. 2010), then only one feature in eight at each step
(``reduction=8``, Mensch et al. 2016), and compare time and quality.

Run it as a script (``python tutorials/plot_online_dictionary_learning.py``) or
cell by cell in a notebook.
"""

# %%
# Generate data with planted sparse components
# --------------------------------------------
# 2000 samples of 8000 features, 10 components, as much noise as signal.
import sys
import time

import numpy as np

from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition import OnlineDictionaryLearning

data = make_sparse_dictionary_data(n_samples=2000, n_features=8000, n_components=10,
                                   snr=1.0, random_state=0)
print(data.X.shape, data.components.shape)

# %%
# The first fit compiles nimf's numba kernels; they are cached on disk, so later
# Python sessions start fast.  Compile them on a tiny problem first so that the
# timings below measure the work, not the compiler.
OnlineDictionaryLearning(2, reduction=2, n_epochs=1).fit(data.X[:20, :50])


# %%
# A helper measuring how well the planted components are recovered: match
# learned and true components one to one (Hungarian algorithm on absolute cosines).
def recovery(found, truth):
    from scipy.optimize import linear_sum_assignment

    f = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-300)
    t = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    sim = np.abs(t @ f.T)
    rows, cols = linear_sum_assignment(-sim)
    return sim[rows, cols].mean(), cols


# %%
# Fit with and without subsampling
# --------------------------------
# ``dict_l1_ratio=0.5`` constrains each component to an elastic-net ball, which
# makes the components sparse.
fits = {}
for reduction in (1, 8):
    odl = OnlineDictionaryLearning(n_components=10, dict_l1_ratio=0.5,
                                   reduction=reduction, random_state=0)
    start = time.perf_counter()
    odl.fit(data.X)
    elapsed = time.perf_counter() - start
    score, order = recovery(odl.components_, data.components)
    fits[reduction] = (odl, order)
    print(f"reduction {reduction}: {elapsed:.2f} s, recovery {score:.3f}, "
          f"held-out explained energy {odl.score(data.X_test):.3f}, "
          f"{np.mean(odl.components_ == 0):.0%} of the component entries are zero")
    # both find the planted components, sparse
    assert score > 0.9 and np.mean(odl.components_ == 0) > 0.9, (reduction, score)

# %%
# Look at the components
# ----------------------
# Grey: planted; blue: learned with ``reduction=8``.
import matplotlib.pyplot as plt

odl, order = fits[8]
fig, axes = plt.subplots(5, 1, figsize=(8, 6), sharex=True)
for j, ax in enumerate(axes):
    truth = data.components[j] / np.abs(data.components[j]).max()
    learned = odl.components_[order[j]]
    learned = learned / np.abs(learned).max()
    learned *= np.sign(learned @ truth)
    ax.plot(truth, color="0.6")
    ax.plot(learned, color="C0", lw=0.8)
    ax.set_yticks([])
axes[-1].set_xlabel("feature")
fig.suptitle("planted (grey) and learned (blue) components")
fig.tight_layout()

# %%
# Streaming: ``partial_fit``
# --------------------------
# Data too large for memory can be streamed chunk by chunk.  ``sample_indices``
# lets the learner recognise samples it has seen before (used by the
# variance-reduced ``code_method='average'``).
stream = OnlineDictionaryLearning(n_components=10, dict_l1_ratio=0.5, reduction=8,
                                  code_method="average", random_state=0)
for epoch in range(2):
    for start in range(0, 2000, 500):
        chunk = data.X[start:start + 500]
        stream.partial_fit(chunk, sample_indices=np.arange(start, start + 500))
streamed = recovery(stream.components_, data.components)[0]
print(f"streamed: recovery {streamed:.3f}")
assert streamed > 0.9, streamed

# %%
# Showing or saving the figures
# -----------------------------
# In the gallery, the figures appear under the cells that draw them. Run as a
# script, they open in windows; without a display (matplotlib's Agg backend)
# they are saved as PNG files in the current folder.
if "sphinx_gallery" not in sys.modules:
    if plt.get_backend().lower() == "agg":
        for number in plt.get_fignums():
            plt.figure(number).savefig(f"online_dictionary_learning_{number}.png", dpi=100)
    else:
        plt.show()
