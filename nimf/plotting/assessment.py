"""Figures of the model-assessment results of :mod:`nimf.assessment`.

Each function draws on ``ax`` (the current Axes when None) and returns it.
"""

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_error_curve", "plot_stability", "plot_cv"]


def _axes(ax):
    return plt.gca() if ax is None else ax


def plot_error_curve(result, ax=None, jitter=0.1, random_state=0):
    """Relative error against rank: every fit, the best per rank, the SVD bound.

    Parameters
    ----------
    result : ErrorCurveResult
        From :func:`nimf.assessment.error_curve`.
    ax : matplotlib Axes, default=None
    jitter : float, default=0.1
        Horizontal spread of the points of one rank, so seeds do not overlap.
    random_state : int, default=0
        Seeds the jitter so the figure is reproducible.

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    ranks = np.asarray(result.ranks)
    errors = np.asarray(result.errors)
    offsets = np.random.RandomState(random_state).uniform(-jitter, jitter, errors.shape)
    ax.scatter((ranks[:, None] + offsets).ravel(), errors.ravel(), s=12, alpha=0.6,
               color="C0", label="fits")
    ax.plot(ranks, errors.min(axis=1), "-o", color="C0", label="best fit")
    ax.plot(ranks, result.svd_bound, "--", color="k", label="truncated SVD bound")
    ax.set_xlabel("rank")
    ax.set_ylabel("relative reconstruction error")
    ax.set_xticks(ranks)
    ax.legend()
    return ax


def plot_stability(result, ax=None):
    """Similarity of each fit to the best fit against rank, and the instability.

    Parameters
    ----------
    result : StabilityResult
        From :func:`nimf.assessment.stability`.
    ax : matplotlib Axes, default=None
        Holds the similarity; the instability goes on a twin axis, reachable as
        ``ax.instability_ax``.

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    ranks = np.asarray(result.ranks)
    similarity = np.asarray(result.similarity)
    # the best fit always scores 1: show how the other seeds compare with it
    offsets = np.random.RandomState(0).uniform(-0.1, 0.1, similarity.shape)
    ax.scatter((ranks[:, None] + offsets).ravel(), similarity.ravel(), s=12, alpha=0.6,
               color="C0", label="fit vs best fit")
    ax.plot(ranks, similarity.mean(axis=1), "-o", color="C0", label="mean similarity")
    ax.set_xlabel("rank")
    ax.set_ylabel("similarity to the best fit", color="C0")
    ax.set_xticks(ranks)
    ax.set_ylim(min(0.0, float(similarity.min())) - 0.05, 1.05)
    twin = ax.twinx()
    instability = np.asarray(result.instability)
    spread = np.asarray(result.instability_std)
    twin.plot(ranks, instability, "-s", color="C3", label="instability")
    twin.fill_between(ranks, instability - spread, instability + spread, color="C3",
                      alpha=0.2)
    twin.set_ylabel("instability (Wu et al. 2016)", color="C3")
    ax.instability_ax = twin
    return ax


def plot_cv(result, ax=None):
    """Mean train and test error against rank, with their spread; best rank marked.

    Parameters
    ----------
    result : CVResult
        From :func:`nimf.assessment.speckled_cv`.
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    ranks = np.asarray(result.ranks)
    for errors, name, color in ((result.train_error, "train", "C0"),
                                (result.test_error, "test", "C1")):
        errors = np.asarray(errors)
        mean = errors.mean(axis=1)
        ax.plot(ranks, mean, "-o", color=color, label=f"{name} error")
        ax.fill_between(ranks, errors.min(axis=1), errors.max(axis=1), color=color,
                        alpha=0.2)
    ax.axvline(result.best_rank, color="k", linestyle=":",
               label=f"best rank ({result.best_rank})")
    ax.set_xlabel("rank")
    ax.set_ylabel("relative error")
    ax.set_xticks(ranks)
    ax.legend()
    return ax
