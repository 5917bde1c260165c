"""The convergence of online learners: held-out objective against time.

The headline figure of Mensch et al. (ICML 2016, IEEE TSP 2017): the objective
on held-out samples as learning goes on, for several reductions, against
wall-clock time (or samples seen, or bytes read).  It reads the ``history_``
that :class:`nimf.decomposition.OnlineDictionaryLearning` (and the image
estimators built on it) record during ``fit(..., validation=...)``.
"""

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_convergence"]

_AXES = {"time": "time (s)", "n_samples": "samples processed", "epoch": "epochs",
         "bytes_read": "bytes read"}


def _history(fit):
    history = getattr(fit, "history_", fit)
    if not isinstance(history, dict) or "objective" not in history:
        raise ValueError("plot_convergence expects fitted estimators with a history_ (or "
                         f"their history_ dicts), got {type(fit).__name__}")
    return history


def plot_convergence(fits, labels=None, x="time", relative=True, ax=None, log_x=None,
                     title=None):
    """Held-out objective of several fits against time (or samples, epochs, bytes).

    Parameters
    ----------
    fits : estimator, dict, or list of them
        Fitted estimators with a ``history_`` recorded with ``validation``
        data (or the ``history_`` dicts themselves).
    labels : list of str, default=None
        One legend entry per fit (default: "fit 1", "fit 2"...; for estimators
        with a ``reduction`` parameter, "reduction r").
    x : {'time', 'n_samples', 'epoch', 'bytes_read'}, default='time'
        What the horizontal axis shows.
    relative : bool, default=True
        Plot ``(objective - best) / best``, ``best`` the lowest objective reached
        by any fit, on a log scale: the gaps between fits stay visible as they
        all converge.  False plots the objective itself.
    ax : matplotlib Axes, default=None
        Where to draw (the current Axes when None).
    log_x : bool, default=None
        Log scale on the horizontal axis (default: for time and bytes).
    title : str, default=None

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> fits = [OnlineDictionaryLearning(20, reduction=r, random_state=0).fit(
    ...     X, validation=X_valid) for r in (1, 4, 12)]     # doctest: +SKIP
    >>> plot_convergence(fits)                             # doctest: +SKIP
    """
    if x not in _AXES:
        raise ValueError(f"x must be one of {sorted(_AXES)}, got {x!r}")
    if not isinstance(fits, (list, tuple)):
        fits = [fits]
    if not fits:
        raise ValueError("fits is empty: give at least one fitted estimator")
    histories = [_history(fit) for fit in fits]
    if labels is None:
        labels = []
        for i, fit in enumerate(fits):
            reduction = getattr(fit, "reduction", None)
            labels.append(f"reduction {reduction:g}" if isinstance(reduction, (int, float))
                          else f"fit {i + 1}")
    if len(labels) != len(fits):
        raise ValueError(f"labels must hold one entry per fit ({len(fits)}), got "
                         f"{len(labels)}")
    curves = []
    for history in histories:
        xs = np.asarray(history[x], dtype=float)
        ys = np.asarray(history["objective"], dtype=float)
        keep = np.isfinite(ys)
        if not keep.any():
            raise ValueError("a history has no objective values: fit with validation data "
                             "(fit(X, validation=X_heldout))")
        curves.append((xs[keep], ys[keep]))
    ax = plt.gca() if ax is None else ax
    best = min(float(ys.min()) for _, ys in curves)
    for (xs, ys), label in zip(curves, labels):
        if relative:
            gap = (ys - best) / abs(best) if best != 0 else ys - best
            # the best point is 0 on a log scale: show it at the smallest gap seen
            floor = gap[gap > 0].min() if np.any(gap > 0) else 1e-12
            ys = np.maximum(gap, floor / 2)
        ax.plot(xs, ys, marker=".", markersize=3, label=label)
    if relative:
        ax.set_yscale("log")
        ax.set_ylabel("held-out objective, relative gap to the best")
    else:
        ax.set_ylabel("held-out objective")
    if log_x is None:
        log_x = x in ("time", "bytes_read")
    if log_x and all(np.all(xs > 0) or xs.size > 1 for xs, _ in curves):
        ax.set_xscale("symlog" if any(np.any(xs <= 0) for xs, _ in curves) else "log",
                      **({"linthresh": _linthresh(curves)} if any(np.any(xs <= 0)
                                                                for xs, _ in curves) else {}))
    ax.set_xlabel(_AXES[x])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def _linthresh(curves):
    positive = [xs[xs > 0].min() for xs, _ in curves if np.any(xs > 0)]
    return float(min(positive)) if positive else 1.0
