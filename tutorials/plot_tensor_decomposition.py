"""
Tensor component analysis: CP decomposition of neurons x time x trials
=======================================================================

The fourth part of the 2022 NYU workshop on matrix and tensor decompositions:
a recording arranged as a three-way array, neurons x time within a trial x
trials, is fitted by a CP model (Williams et al., Neuron 2018). Each component
is a neuron factor (a cell assembly), a temporal factor (when it fires in the
trial) and a trial factor (how its strength changes from trial to trial, with
the condition or with learning). Firing rates are non-negative, so we fit
non-negative CP.

The model-assessment questions of matrix factorizations apply unchanged
(:mod:`nimf.assessment` takes N-way arrays): how well each rank fits, whether
fits from different seeds agree, and which rank predicts held-out entries.
"""

# %%
# Data: planted cell assemblies
# -----------------------------
# Four assemblies: two respond on the trials of one condition each, one grows
# along the session (learning), one fades. The counts are Poisson draws.
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from nimf.assessment import error_curve, factor_match_score, speckled_cv, stability
from nimf.datasets import make_neural_tensor
from nimf.plotting import plot_cv, plot_error_curve, plot_stability, plot_tensor_factors
from nimf.tensor import CPDecomposition

# fits above the true rank converge slowly; their warnings are expected here
warnings.simplefilter("ignore", ConvergenceWarning)
experiment = make_neural_tensor(n_neurons=60, n_time=40, n_trials=100, n_components=4,
                                max_rate=10.0, random_state=2)
X = experiment.data
print("neurons x time x trials:", X.shape, "| kinds:", experiment.component_kinds)

# %%
# Fit ranks 1 to 8, with several seeds
# ------------------------------------
# Random starts, so that different seeds can land on different solutions.
ranks = list(range(1, 9))
ncp = CPDecomposition(nonnegative=True, init="random", tol=1e-5)
curve = error_curve(ncp, X, ranks, n_seeds=3, random_state=0)
print("best relative error per rank:", np.round(curve.best_errors, 3))

# %%
# There is no SVD optimum for CP: the dashed line is the truncated-SVD error of
# the unfoldings, a lower bound no CP model beats (and rarely reaches). The
# error stops falling fast after the true rank.
#
# Are the solutions unique? Every fit is matched to the best one of its rank
# across all three modes at once (the product of the cosines of its neuron,
# time and trial factors), by the Hungarian algorithm.
stab = stability(ncp, X, ranks, n_seeds=3, random_state=0)
similarity = stab.similarity.mean(axis=1)
print("mean similarity to the best fit:", np.round(similarity, 3))

# %%
# Which rank predicts unseen data? Hide 10% of the entries, fit the others
# with a mask (hidden entries have no influence on the fit), and measure the
# error on the hidden ones.
cv = speckled_cv(ncp, X, ranks, holdout=0.1, n_repeats=2, random_state=0)
print("rank chosen by cross-validation:", cv.best_rank)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
plot_error_curve(curve, ax=axes[0])
plot_stability(stab, ax=axes[1])
plot_cv(cv, ax=axes[2])
fig.tight_layout()

# %%
# Choose the rank
# ---------------
# The elbow of the error curve (the first rank after which one more component
# gains less than 1% of the error), where the fits from every seed still agree
# (similarity above 0.95), and the rank of smallest held-out error agree: four
# components, the number planted.
gain = -np.diff(curve.best_errors) / curve.best_errors[:-1]
rank = ranks[int(np.argmax(gain < 0.01))]
print("elbow of the error curve:", rank)
assert rank == cv.best_rank == 4, (rank, cv.best_rank)
assert similarity[ranks.index(rank)] > 0.95

# %%
# The factors, trials coloured by condition
# -----------------------------------------
# The best fit at the chosen rank: each row is a component. Two trial factors
# separate the conditions, one rises along the session, one fades.
model = curve.models[ranks.index(rank)][curve.best_seeds[ranks.index(rank)]]
score = factor_match_score(experiment.factors, model.factors_)
print(f"factor match score with the planted factors: {score:.3f}")
assert score > 0.9
fig, axes = plot_tensor_factors(model, labels=experiment.condition)
fig.suptitle(f"non-negative CP, rank {rank}")
fig.tight_layout()

# %%
# New trials
# ----------
# As in tensortools, the trial factor of new trials comes from the fitted neuron
# and time factors (``transform``): here the same trials, recorded again.
rng = np.random.default_rng(1)
new_trials = rng.poisson(experiment.rates).astype(float)
trial_factor = model.transform(new_trials)
agreement = np.corrcoef(trial_factor.ravel(), model.factors_[-1].ravel())[0, 1]
print(f"correlation of the new trial factors with the fitted ones: {agreement:.2f}")
assert agreement > 0.8

# %%
# Showing or saving the figures
# -----------------------------
# In the gallery, the figures appear under the cells that draw them. Run as a
# script, they open in windows; without a display (matplotlib's Agg backend)
# they are saved as PNG files in the current folder.
if "sphinx_gallery" not in sys.modules:
    if plt.get_backend().lower() == "agg":
        for number in plt.get_fignums():
            plt.figure(number).savefig(f"tensor_decomposition_{number}.png", dpi=100)
    else:
        plt.show()
