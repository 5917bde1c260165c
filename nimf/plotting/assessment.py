"""Figures of the model-assessment results of :mod:`nimf.assessment`.

Each function draws on ``ax`` (the current Axes when None) and returns it.
"""

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_error_curve", "plot_stability", "plot_cv", "plot_factors", "factor_order"]


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
    ax.plot(ranks, result.svd_bound, "--", color="k",
            label=getattr(result, "bound_label", "truncated SVD bound"))
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


def factor_order(codes):
    """Order of samples for display: by strongest component, then by its loading.

    Each sample (row of ``codes``) is assigned to the component with the largest
    absolute code; samples are grouped by component (components in index order)
    and, within a group, sorted by decreasing loading, so the factor matrix shows
    a block-diagonal staircase (the ordering of the 2022 workshop).

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_components)

    Returns
    -------
    order : ndarray of shape (n_samples,)
        Permutation of the samples.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] == 0:
        raise ValueError(f"codes must be a 2D array (n_samples, n_components), got shape "
                         f"{codes.shape}")
    strongest = np.argmax(np.abs(codes), axis=1)
    loading = np.abs(codes[np.arange(codes.shape[0]), strongest])
    return np.lexsort((-loading, strongest))


def plot_factors(components, codes, ax=None, cmap="viridis", sort=True):
    """Components and codes of one fit, side by side, sorted for reading.

    The left panel shows the codes (samples x components) with samples
    ordered by :func:`factor_order`; the right panel the components (components
    x features), features ordered the same way by their strongest component.

    Parameters
    ----------
    components : ndarray of shape (n_components, n_features)
    codes : ndarray of shape (n_samples, n_components)
    ax : matplotlib Axes, default=None
        Axes whose area is split in two panels (the current Axes when None).
    cmap : str, default="viridis"
    sort : bool, default=True
        Sort samples and features; False keeps the given order.

    Returns
    -------
    ax : matplotlib Axes
        The codes panel; the components panel is ``ax.components_ax``.
    """
    components = np.asarray(components, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.float64)
    if components.ndim != 2 or codes.ndim != 2 or codes.shape[1] != components.shape[0]:
        raise ValueError(
            "expected codes (n_samples, n_components) and components (n_components, "
            f"n_features) sharing n_components, got {codes.shape} and {components.shape}")
    ax = _axes(ax)
    rows = factor_order(codes) if sort else np.arange(codes.shape[0])
    cols = factor_order(components.T) if sort else np.arange(components.shape[1])
    fig = ax.figure
    box = ax.get_position()
    ax.set_position([box.x0, box.y0, box.width * 0.3, box.height])
    right = fig.add_axes([box.x0 + box.width * 0.38, box.y0, box.width * 0.62, box.height])
    ax.imshow(codes[rows], aspect="auto", interpolation="nearest", cmap=cmap)
    ax.set_xlabel("component")
    ax.set_ylabel("sample (sorted)" if sort else "sample")
    ax.set_title("codes")
    right.imshow(components[:, cols], aspect="auto", interpolation="nearest", cmap=cmap)
    right.set_xlabel("feature (sorted)" if sort else "feature")
    right.set_ylabel("component")
    right.set_title("components")
    ax.components_ax = right
    return ax
