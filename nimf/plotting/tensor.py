"""Figures of CP tensor decompositions: one row per component, one column per mode."""

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_tensor_factors"]

_KINDS = ("bar", "line", "scatter")


def _default_kinds(n_modes):
    # neurons x time x trials: bars for units, lines for time, points for trials
    return ("bar",) + ("line",) * (n_modes - 2) + ("scatter",)


def plot_tensor_factors(factors, weights=None, *, kinds=None, labels=None, labels_mode=-1,
                        mode_names=None, axes=None, color="C0", cmap="tab10",
                        sharey="col"):
    """Factors of a CP model: a row per component, a column per mode.

    By default the first mode is drawn as bars (one per neuron), the middle
    modes as lines (time within the trial) and the last as points (one per
    trial), coloured by ``labels`` (for instance the trial condition) when
    given: the figure of tensor component analysis (Williams et al. 2018).

    Parameters
    ----------
    factors : list of ndarray of shape (I_n, R), or a fitted CP estimator
        For an estimator (anything with ``factors_``), its ``factors_`` and
        ``weights_`` are drawn.
    weights : ndarray of shape (R,), default=None
        Shown in the row titles.
    kinds : sequence of {"bar", "line", "scatter"}, default=None
        How to draw each mode; None: bars, lines..., points.
    labels : array-like of shape (I_n,), default=None
        A label per entry of mode ``labels_mode`` (conditions of the trials):
        its points get one colour per label, with a legend.
    labels_mode : int, default=-1
        Mode the labels belong to.
    mode_names : sequence of str, default=None
        Column titles; None: "neurons", "time", "trials" for 3 modes, else
        "mode 0", "mode 1", ...
    axes : ndarray of matplotlib Axes of shape (R, N), default=None
        Where to draw; None makes a new figure.
    color : str, default="C0"
        Colour of unlabelled factors.
    cmap : str, default="tab10"
        Colours of the labels.
    sharey : {"col", "none"}, default="col"
        "col": one y-range per mode, so components compare at a glance.

    Returns
    -------
    fig : matplotlib Figure
    axes : ndarray of matplotlib Axes of shape (R, N)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> factors = [rng.rand(10, 2), rng.rand(20, 2), rng.rand(30, 2)]
    >>> fig, axes = plot_tensor_factors(factors, labels=rng.randint(2, size=30))
    >>> axes.shape
    (2, 3)
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    if hasattr(factors, "factors_"):
        weights = getattr(factors, "weights_", None) if weights is None else weights
        factors = factors.factors_
    factors = [np.asarray(F, dtype=np.float64) for F in factors]
    if len(factors) < 2 or any(F.ndim != 2 for F in factors) or \
            len({F.shape[1] for F in factors}) != 1:
        raise ValueError("factors must be a list of at least 2 arrays of shape (I_n, R) "
                         f"sharing R, got shapes {[F.shape for F in factors]}")
    n_modes, rank = len(factors), factors[0].shape[1]
    kinds = _default_kinds(n_modes) if kinds is None else tuple(kinds)
    if len(kinds) != n_modes or any(k not in _KINDS for k in kinds):
        raise ValueError(f"kinds must give one of {_KINDS} per mode ({n_modes}), got {kinds!r}")
    if mode_names is None:
        mode_names = ("neurons", "time", "trials") if n_modes == 3 else \
            tuple(f"mode {n}" for n in range(n_modes))
    if len(mode_names) != n_modes:
        raise ValueError(f"mode_names must have {n_modes} names, got {len(mode_names)}")
    if sharey not in ("col", "none"):
        raise ValueError(f"sharey must be 'col' or 'none', got {sharey!r}")
    labels_mode = labels_mode % n_modes
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (factors[labels_mode].shape[0],):
            raise ValueError(f"labels must have shape ({factors[labels_mode].shape[0]},) (one "
                             f"per entry of mode {labels_mode}), got shape {labels.shape}")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (rank,):
            raise ValueError(f"weights must have shape ({rank},), got shape {weights.shape}")
    if axes is None:
        fig, axes = plt.subplots(rank, n_modes, figsize=(3.2 * n_modes, 1.3 * rank + 0.6),
                                 squeeze=False)
    else:
        axes = np.asarray(axes).reshape(rank, n_modes)
        fig = axes[0, 0].figure
    palette = plt.get_cmap(cmap)
    for mode, (F, kind) in enumerate(zip(factors, kinds)):
        x = np.arange(F.shape[0])
        low, high = min(F.min(), 0.0), max(F.max(), 0.0)
        pad = 0.05 * (high - low or 1.0)
        for r in range(rank):
            ax = axes[r, mode]
            if kind == "bar":
                ax.bar(x, F[:, r], width=1.0, color=color)
            elif kind == "line":
                ax.plot(x, F[:, r], color=color, lw=1.5)
            elif labels is not None and mode == labels_mode:
                for index, value in enumerate(np.unique(labels)):
                    chosen = labels == value
                    ax.scatter(x[chosen], F[chosen, r], s=8, color=palette(index % palette.N),
                               label=str(value))
            else:
                ax.scatter(x, F[:, r], s=8, color=color)
            if sharey == "col":
                ax.set_ylim(low - pad, high + pad)
            ax.axhline(0.0, color="0.7", lw=0.5, zorder=0)
            ax.tick_params(labelsize=7)
            if r < rank - 1:
                ax.set_xticklabels([])
            if mode == 0:
                name = f"#{r + 1}" if weights is None else f"#{r + 1}\nw={weights[r]:.3g}"
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        axes[0, mode].set_title(mode_names[mode], fontsize=9)
        axes[-1, mode].set_xlabel(mode_names[mode], fontsize=8)
    if labels is not None and kinds[labels_mode] == "scatter":
        axes[0, labels_mode].legend(fontsize=7, markerscale=1.5, loc="upper right",
                                    frameon=False)
    return fig, axes
