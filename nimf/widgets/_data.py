"""Data preparation for the viewers: inputs checked, states, labels and scores.

Nothing here imports ipywidgets; matplotlib comes in only through
:mod:`nimf.plotting.components`, whose map container is reused so that the
viewers and the static figures threshold and colour maps the same way.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from .._validation import _describe, check_option
from ..plotting.components import _SURF_VIEWS, _Components, _contour_percent

__all__ = [
    "VOLUME_DISPLAY_MODES", "SURFACE_VIEWS", "COLORMAPS", "VIEW_TYPES",
    "ComponentState", "ContourState", "as_component_maps", "component_labels",
    "explained_variance_of", "peak_coords", "auto_thresholds", "check_component_state",
    "check_contour_state", "world_bounds", "rank_index", "aligned_similarities",
    "stability_scores", "seed_similarity",
]

VOLUME_DISPLAY_MODES = ("ortho", "x", "y", "z", "mosaic")
SURFACE_VIEWS = tuple(_SURF_VIEWS)
COLORMAPS = ("RdBu_r", "cold_hot", "black_red", "hot", "viridis", "inferno", "Reds")
VIEW_TYPES = ("contours", "filled_contours")


# --------------------------------------------------------------------------
# component maps
# --------------------------------------------------------------------------


def _is_estimator(obj):
    return hasattr(obj, "get_params") and hasattr(obj, "fit")


def as_component_maps(obj, name="estimator_or_img"):
    """The component maps held by ``obj``, and the estimator if ``obj`` is one.

    Parameters
    ----------
    obj : fitted image estimator, 4D Niimg-like, str, path or SurfaceImage
        A fitted :mod:`nimf.neuro` (or nilearn) decomposition, which exposes
        ``components_img_``, or a stack of maps: a 4D image whose last axis
        indexes the components, or a SurfaceImage with one sample per map.

    Returns
    -------
    maps : nimf.plotting.components._Components
    estimator : estimator or None

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``obj`` is an estimator that was not fitted (a ``ValueError``).
    ValueError
        If ``obj`` is not a stack of maps (e.g. a 3D image).
    """
    if _is_estimator(obj):
        if not hasattr(obj, "components_img_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"{name}: expected a fitted estimator with components_img_, got an "
                f"unfitted {type(obj).__name__}: call fit first")
        return _Components(obj.components_img_, name=name), obj
    return _Components(obj, name=name), None


def explained_variance_of(estimator, n_components):
    """``explained_variance_`` of ``estimator`` if it holds one value per map, else None."""
    if estimator is None:
        return None
    values = getattr(estimator, "explained_variance_", None)
    if values is None:
        return None
    values = np.asarray(values, dtype=float).ravel()
    if values.shape != (n_components,) or not np.all(np.isfinite(values)):
        return None
    return values


def component_labels(n_components, explained_variance=None, prefix="Component"):
    """One label per component, with its explained variance when known.

    Parameters
    ----------
    n_components : int
    explained_variance : array-like of shape (n_components,), default=None
        Fractions of variance (as ``explained_variance_`` of the nimf image
        estimators), shown as percentages.
    prefix : str, default="Component"

    Returns
    -------
    labels : list of str

    Examples
    --------
    >>> component_labels(2, [0.125, 0.05])
    ['Component 0 (EV 12.5%)', 'Component 1 (EV 5.0%)']
    """
    if (isinstance(n_components, (bool, np.bool_))
            or not isinstance(n_components, numbers.Integral) or n_components < 1):
        raise ValueError(f"n_components must be a positive int, got {_describe(n_components)}")
    if explained_variance is None:
        return [f"{prefix} {k}" for k in range(n_components)]
    explained_variance = np.asarray(explained_variance, dtype=float).ravel()
    if explained_variance.shape != (n_components,):
        raise ValueError(f"explained_variance must hold one value per component "
                         f"({n_components}), got {explained_variance.size} values")
    return [f"{prefix} {k} (EV {100 * ev:.1f}%)" for k, ev in enumerate(explained_variance)]


def peak_coords(maps, k):
    """World coordinates (x, y, z) of the largest absolute value of volume map ``k``."""
    if maps.kind != "volume":
        return None
    return tuple(maps.world(int(np.argmax(np.abs(maps.data[:, k])))))


def world_bounds(maps):
    """(min, max) world coordinate along x, y and z of the voxel grid of volume maps."""
    from nibabel.affines import apply_affine

    corners = np.array([[i, j, k] for i in (0, maps.shape[0] - 1)
                        for j in (0, maps.shape[1] - 1) for k in (0, maps.shape[2] - 1)])
    world = apply_affine(maps.affine, corners)
    return [(float(lo), float(hi)) for lo, hi in zip(world.min(axis=0), world.max(axis=0))]


def auto_thresholds(maps, contours=False):
    """The per-map ``threshold="auto"`` of :mod:`nimf.plotting` (for one map or contours)."""
    if contours:
        return maps.thresholds("auto", percent=_contour_percent(maps.n_components))
    return maps.thresholds("auto")


# --------------------------------------------------------------------------
# states: everything that decides what is drawn
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentState:
    """What the component browser draws: hashable, so it keys the PNG cache.

    Attributes
    ----------
    component : int
    threshold : float
        Absolute values below it are not drawn.
    display_mode : str
        A volume display mode (``VOLUME_DISPLAY_MODES``) or, for surface maps,
        a view (``SURFACE_VIEWS``).
    cut_coords : tuple of 3 floats or None
        World coordinates (x, y, z) of the cuts; None: nilearn chooses.
    cmap : str
    subject : int or None
        Subject whose time course is drawn.
    """

    component: int
    threshold: float
    display_mode: str = "ortho"
    cut_coords: tuple = None
    cmap: str = "RdBu_r"
    subject: int = None


@dataclass(frozen=True)
class ContourState:
    """What the contour viewer draws.

    Attributes
    ----------
    selected : tuple of int
        Components drawn, in increasing order.
    highlight : int or None
        Component drawn bold (the others fade), if any.
    view_type : {"contours", "filled_contours"}
    display_mode : str
        Volume display mode or surface view.
    cut_coords : tuple of 3 floats or None
    """

    selected: tuple
    highlight: int = None
    view_type: str = "contours"
    display_mode: str = "ortho"
    cut_coords: tuple = None


def _check_index(value, n, name):
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or not 0 <= value < n):
        raise ValueError(f"{name} must be an int in [0, {n - 1}] (the maps hold {n} "
                         f"components), got {_describe(value)}")
    return int(value)


def _check_cut_coords(cut_coords):
    if cut_coords is None:
        return None
    try:
        coords = tuple(float(c) for c in cut_coords)
    except (TypeError, ValueError):
        coords = ()
    if len(coords) != 3 or not np.all(np.isfinite(coords)):
        raise ValueError(f"cut_coords must be None or 3 finite world coordinates (x, y, z), "
                         f"got {_describe(cut_coords)}")
    return coords


def display_modes(maps):
    return SURFACE_VIEWS if maps.kind == "surface" else VOLUME_DISPLAY_MODES


def check_component_state(maps, state, n_subjects=0):
    """Check ``state`` against ``maps``; return it with normalised values.

    Raises ``ValueError`` naming the field, what was expected and what was given.
    """
    k = _check_index(state.component, maps.n_components, "component")
    peak = float(maps.peaks[k])
    threshold = state.threshold
    if (isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, numbers.Real)
            or not np.isfinite(threshold) or not 0 <= threshold <= peak):
        raise ValueError(f"threshold must be a number in [0, {peak:.4g}] (0 to the peak "
                         f"absolute value of component {k}), got {_describe(threshold)}")
    check_option(state.display_mode, "display_mode", display_modes(maps))
    cut = _check_cut_coords(state.cut_coords)
    if not isinstance(state.cmap, str):
        raise ValueError(f"cmap must be a colormap name, got {_describe(state.cmap)}")
    import matplotlib

    if state.cmap not in matplotlib.colormaps:
        import nilearn.plotting  # noqa: F401  (registers nilearn's colormaps)

        if state.cmap not in matplotlib.colormaps:
            raise ValueError(f"cmap must be a matplotlib or nilearn colormap name such as "
                             f"{COLORMAPS[0]!r}, got {state.cmap!r}")
    subject = state.subject
    if subject is not None:
        if n_subjects == 0:
            raise ValueError("subject must be None: no images were given to compute time "
                             f"courses, got {_describe(subject)}")
        subject = _check_index(subject, n_subjects, "subject")
    return ComponentState(component=k, threshold=float(threshold),
                          display_mode=state.display_mode, cut_coords=cut, cmap=state.cmap,
                          subject=subject)


def check_contour_state(maps, state):
    """Check a :class:`ContourState` against ``maps``; return it normalised."""
    n = maps.n_components
    if isinstance(state.selected, (str, bytes)) or not hasattr(state.selected, "__iter__"):
        raise ValueError(f"selected must be a sequence of component indices, got "
                         f"{_describe(state.selected)}")
    selected = tuple(sorted({_check_index(k, n, "selected components") for k in state.selected}))
    highlight = state.highlight
    if highlight is not None:
        highlight = _check_index(highlight, n, "highlight")
    check_option(state.view_type, "view_type", VIEW_TYPES)
    check_option(state.display_mode, "display_mode", display_modes(maps))
    return ContourState(selected=selected, highlight=highlight, view_type=state.view_type,
                        display_mode=state.display_mode,
                        cut_coords=_check_cut_coords(state.cut_coords))


# --------------------------------------------------------------------------
# stability results
# --------------------------------------------------------------------------


_RESULT_FIELDS = ("ranks", "similarity", "instability", "instability_std", "components",
                  "best_components", "best_seeds", "metric", "allow_sign_flip")


def check_stability_result(result):
    missing = [f for f in _RESULT_FIELDS if not hasattr(result, f)]
    if missing:
        raise ValueError(f"expected a StabilityResult from nimf.assessment.stability, got "
                         f"{type(result).__name__} without {', '.join(missing)}")
    return result


def rank_index(result, rank):
    """Position of ``rank`` in ``result.ranks``; ``ValueError`` if it was not assessed."""
    ranks = [int(r) for r in np.asarray(result.ranks).ravel()]
    if (isinstance(rank, (bool, np.bool_)) or not isinstance(rank, numbers.Integral)
            or int(rank) not in ranks):
        raise ValueError(f"rank must be one of the assessed ranks {ranks}, got "
                         f"{_describe(rank)}")
    return ranks.index(int(rank))


def _rowwise_similarity(A, B, metric):
    """Similarity of row ``j`` of ``A`` with row ``j`` of ``B`` (as component_similarity)."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    if metric == "correlation":
        A = A - A.mean(axis=1, keepdims=True)
        B = B - B.mean(axis=1, keepdims=True)
    norm_a = np.linalg.norm(A, axis=1)
    norm_b = np.linalg.norm(B, axis=1)
    dots = np.einsum("ij,ij->i", A, B)
    denom = norm_a * norm_b
    sims = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
    sims = np.clip(sims, -1.0, 1.0)
    # as match_components: a perfect match counts exactly 1
    return np.where(np.isclose(sims, 1.0, rtol=0, atol=1e-12), 1.0, sims)


def aligned_similarities(result, rank):
    """Similarity of each aligned component of each seed to the best fit's.

    ``result.components[i][s]`` is already reordered and sign-flipped to match
    ``result.best_components[i]``, so component ``j`` of seed ``s`` is compared
    with component ``j`` of the best fit, with the assessment's ``result.metric``.
    The mean over components of row ``s`` is ``result.similarity[i, s]``; a result
    whose components do not reproduce it (edited by hand) raises ``ValueError``.

    Parameters
    ----------
    result : StabilityResult
    rank : int
        One of ``result.ranks``.

    Returns
    -------
    similarities : ndarray of shape (n_seeds, rank)
    """
    check_stability_result(result)
    i = rank_index(result, rank)
    best = np.asarray(result.best_components[i], dtype=float)
    target = np.asarray(result.similarity[i], dtype=float)
    sims = np.stack([_rowwise_similarity(best, c, result.metric)
                     for c in result.components[i]])
    if not np.allclose(sims.mean(axis=1), target, rtol=0, atol=1e-9):
        raise ValueError(
            f"result.components at rank {rank} do not reproduce result.similarity "
            f"{np.round(target, 6).tolist()} with the {result.metric} metric: expected "
            "the unmodified output of nimf.assessment.stability")
    return sims


def stability_scores(result, rank):
    """Stability of each component of the best fit at ``rank``.

    The score of component ``j`` is its mean matched similarity across seeds
    (the best fit itself counting 1), so that the mean of the scores is the
    mean of ``result.similarity`` at that rank.

    Parameters
    ----------
    result : StabilityResult
        From :func:`nimf.assessment.stability`.
    rank : int
        One of ``result.ranks``.

    Returns
    -------
    scores : ndarray of shape (rank,)
        In the order of ``result.best_components``.
    """
    return aligned_similarities(result, rank).mean(axis=0)


def seed_similarity(result, rank):
    """Mean matched similarity between every pair of fits (seeds) at ``rank``.

    Each pair is matched with the Hungarian algorithm
    (:func:`nimf.assessment.match_components`), with the metric and sign
    rule of the assessment; the row and column of the best fit are
    ``result.similarity`` itself.

    Returns
    -------
    similarity : ndarray of shape (n_seeds, n_seeds)
    """
    from ..assessment.matching import match_components

    i = rank_index(result, rank)
    comps = [np.asarray(c, dtype=float) for c in result.components[i]]
    n = len(comps)
    out = np.eye(n)
    for a in range(n):
        for b in range(a + 1, n):
            match = match_components(comps[a], comps[b], result.allow_sign_flip,
                                     result.metric)
            out[a, b] = out[b, a] = match.score
    best = int(result.best_seeds[i])
    out[best, :] = out[:, best] = np.asarray(result.similarity[i], dtype=float)
    return out


# --------------------------------------------------------------------------
# time courses
# --------------------------------------------------------------------------


def check_training_images(estimator, imgs, confounds=None):
    """The subjects' images (and confounds) whose time courses can be drawn.

    Returns ``(imgs, confounds)`` as lists (empty when ``imgs`` is None).
    """
    if imgs is None:
        if confounds is not None:
            raise ValueError("confounds were given without imgs: expected imgs=<the "
                             "subjects' images> with them, got imgs=None")
        return [], None
    if estimator is None or not hasattr(estimator, "transform"):
        raise ValueError("imgs needs a fitted estimator with transform to compute time "
                         "courses; got a stack of maps, not an estimator")
    if isinstance(imgs, (str, bytes)) or not isinstance(imgs, (list, tuple)):
        imgs = [imgs]
    imgs = list(imgs)
    if not imgs:
        raise ValueError("imgs must hold at least one subject's image, got an empty list")
    if confounds is not None:
        confounds = list(confounds)
        if len(confounds) != len(imgs):
            raise ValueError(f"confounds must hold one entry per image ({len(imgs)}), got "
                             f"{len(confounds)}")
    return imgs, confounds


def subject_time_courses(estimator, imgs, confounds, subject):
    """``estimator.transform`` of one subject: ndarray of shape (n_scans, n_components)."""
    conf = None if confounds is None else [confounds[subject]]
    out = estimator.transform([imgs[subject]], confounds=conf)
    return np.asarray(out[0] if isinstance(out, (list, tuple)) else out)
