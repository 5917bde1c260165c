"""What a figure of component maps displays, apart from the drawing itself.

* the colours of the contour figures: a palette whose colours stay apart in
  CIELAB for up to 30 maps and more;
* the sign shown: a map whose negative (positive) loadings hold less than 5%
  of its absolute mass is drawn one-sided, on [0, vmax] ([-vmax, 0]);
* the speckle filter: the supra-threshold clusters of fewer than
  ``cluster_threshold`` voxels (vertices) are not drawn;
* the colourbar: a few round ticks, a power of ten moved into the label
  ("loading (x 1e-4), a.u."), no "-0";
* the component number written on each map of a contour figure.

Only what is drawn changes: the maps themselves (and the images they came
from) are never modified.
"""

import functools
import numbers

import numpy as np
from matplotlib import patheffects
from matplotlib.ticker import MaxNLocator
from scipy import ndimage, sparse
from scipy.sparse import csgraph

NEGATIVE_MASS = 0.05        # a sign holding < 5% of the absolute mass is not drawn
CLUSTER_THRESHOLD = 10      # default: supra-threshold clusters of < 10 voxels are hidden
UNIT = "loading, a.u."

# the contour palette: sRGB candidates, light enough to show on a black
# background and colourful enough to stand out from a grey brain
_GRID_LEVELS = 18
_LIGHTNESS = (50.0, 90.0)
_MIN_CHROMA = 30.0


# --------------------------------------------------------------------------
# colours
# --------------------------------------------------------------------------


def srgb_to_lab(rgb):
    """CIELAB coordinates (D65 white) of sRGB colours.

    Parameters
    ----------
    rgb : array-like of shape (n_colors, 3)
        sRGB values in [0, 1].

    Returns
    -------
    lab : ndarray of shape (n_colors, 3)
        ``L*`` in [0, 100], then ``a*`` and ``b*``.
    """
    rgb = np.asarray(rgb, dtype=float).reshape(-1, 3)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array([[0.4124564, 0.3575761, 0.1804375],
                       [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    epsilon, kappa = 216.0 / 24389.0, 24389.0 / 27.0
    f = np.where(xyz > epsilon, np.cbrt(xyz), (kappa * xyz + 16.0) / 116.0)
    return np.stack([116.0 * f[:, 1] - 16.0, 500.0 * (f[:, 0] - f[:, 1]),
                     200.0 * (f[:, 1] - f[:, 2])], axis=1)


@functools.lru_cache(maxsize=1)
def _candidates():
    levels = np.linspace(0.0, 1.0, _GRID_LEVELS)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    lab = srgb_to_lab(rgb)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (lab[:, 0] >= _LIGHTNESS[0]) & (lab[:, 0] <= _LIGHTNESS[1]) & (chroma >= _MIN_CHROMA)
    return rgb[keep], lab[keep]


@functools.lru_cache(maxsize=8)
def _palette_rgb(n):
    rgb, lab = _candidates()
    n = min(n, len(rgb))
    # farthest-point order: start from the most colourful candidate, then add the
    # candidate farthest (in CIELAB) from all those chosen. Every prefix is itself
    # well spread, so component k keeps its colour whatever the number of maps.
    chosen = [int(np.argmax(np.hypot(lab[:, 1], lab[:, 2])))]
    nearest = np.linalg.norm(lab - lab[chosen[0]], axis=1)
    while len(chosen) < n:
        j = int(np.argmax(nearest))
        chosen.append(j)
        nearest = np.minimum(nearest, np.linalg.norm(lab - lab[j], axis=1))
    return rgb[chosen]


def distinct_colors(n):
    """``n`` RGBA colours that are far apart in CIELAB.

    The colours are chosen one by one among sRGB colours of lightness
    ``L*`` in [50, 90] and chroma at least 30, each the farthest from those
    already chosen; the 30 first are at least 29 apart (CIE76
    distance).  Past the ~2900 candidates, colours repeat.

    Parameters
    ----------
    n : int
        Number of colours.

    Returns
    -------
    colors : list of tuple
        ``n`` RGBA tuples; the first ``m`` colours do not depend on ``n``.
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    n = int(n)
    if n == 0:
        return []
    base = _palette_rgb(min(n, len(_candidates()[0])))
    return [tuple(float(c) for c in base[k % len(base)]) + (1.0,) for k in range(n)]


# --------------------------------------------------------------------------
# the sign shown and the speckle filter
# --------------------------------------------------------------------------


def shown_sign(values, negative_mass=NEGATIVE_MASS):
    """Which signs of a map are drawn, and the fraction of its mass left out.

    Parameters
    ----------
    values : ndarray of shape (n_points,)
    negative_mass : float, default=0.05
        A sign whose absolute mass (sum of absolute values) is below this
        fraction of the map's absolute mass is not drawn.

    Returns
    -------
    sign : {1, -1, 0}
        1: only the positive values are drawn, -1: only the negative ones,
        0: both.
    hidden : float
        Fraction of the absolute mass of the map that is not drawn.
    """
    positive = float(values[values > 0].sum())
    negative = float(-values[values < 0].sum())
    total = positive + negative
    if total == 0:
        return 1, 0.0
    if negative < negative_mass * total:
        return 1, negative / total
    if positive < negative_mass * total:
        return -1, positive / total
    return 0, 0.0


def _volume_clusters(mask, shape):
    volume = mask.reshape(shape, order="F")
    # 26-connectivity: voxels touching by a face, an edge or a corner
    labels, _ = ndimage.label(volume, structure=np.ones((3, 3, 3), dtype=bool))
    return labels.reshape(-1, order="F")


def _surface_clusters(mask, adjacency):
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.int64)
    idx = np.flatnonzero(mask)
    sub = adjacency[idx][:, idx]
    _, groups = csgraph.connected_components(sub, directed=False)
    labels = np.zeros(mask.shape, dtype=np.int64)
    labels[idx] = groups + 1
    return labels


@functools.lru_cache(maxsize=8)
def _mesh_adjacency_cached(faces_bytes, n_vertices):
    faces = np.frombuffer(faces_bytes, dtype=np.int64).reshape(-1, 3)
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    graph = sparse.coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)),
                              shape=(n_vertices, n_vertices)).tocsr()
    return (graph + graph.T).tocsr()


def mesh_adjacency(faces, n_vertices):
    """Vertex adjacency (CSR) of a triangle mesh."""
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    return _mesh_adjacency_cached(faces.tobytes(), int(n_vertices))


def drop_small_clusters(mask, cluster_threshold, *, shape=None, adjacency=None):
    """``mask`` without its connected clusters of fewer than ``cluster_threshold`` points.

    Parameters
    ----------
    mask : ndarray of bool of shape (n_points,)
        Voxels in Fortran order (with ``shape``) or vertices (with
        ``adjacency``).
    cluster_threshold : int
        Clusters with fewer points are removed; 0 or 1 keeps everything.
    shape : tuple of int, default=None
        Shape of the volume.
    adjacency : sparse matrix, default=None
        Vertex adjacency of the mesh.

    Returns
    -------
    kept : ndarray of bool of shape (n_points,)
        A new array.
    n_dropped : int
        Number of clusters removed.
    """
    if cluster_threshold <= 1 or not mask.any():
        return mask.copy(), 0
    labels = (_volume_clusters(mask, shape) if shape is not None
              else _surface_clusters(mask, adjacency))
    sizes = np.bincount(labels)
    small = sizes < cluster_threshold
    small[0] = False
    return mask & ~small[labels], int(small.sum())


def check_cluster_threshold(value):
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or value < 0):
        raise ValueError(f"cluster_threshold must be a non-negative int (a number of voxels "
                         f"or vertices), got {value!r}")
    return int(value)


# --------------------------------------------------------------------------
# colourbars
# --------------------------------------------------------------------------


_SUPERSCRIPTS = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075"
                                              "\u2076\u2077\u2078\u2079")


def _strip_zero(label):
    # "-0", "-0.0", "-0.00" are zeros
    return "0" if label.lstrip("-").strip("0.") == "" else label


def colorbar_ticks(vmin, vmax, n_ticks=5):
    """Round ticks over ``[vmin, vmax]``, their labels and the colourbar's label.

    When the largest absolute value is below 0.1 or at least 1e4, the ticks
    are written in units of a power of ten given in the label
    (``"loading (×10⁻⁴), a.u."``).  Labels carry as few decimals as keep
    them distinct, and zero is written ``0``.

    Parameters
    ----------
    vmin, vmax : float
        Colour range, ``vmin < vmax``.
    n_ticks : int, default=5
        Most ticks wanted.

    Returns
    -------
    ticks : ndarray
        Tick positions, in data units, inside ``[vmin, vmax]``.
    labels : list of str
    axis_label : str
    """
    vmin, vmax = float(vmin), float(vmax)
    if not vmax > vmin:
        vmax = vmin + (abs(vmin) if vmin else 1.0)
    span = vmax - vmin
    ticks = MaxNLocator(nbins=n_ticks - 1, steps=[1, 2, 5, 10]).tick_values(vmin, vmax)
    ticks = ticks[(ticks >= vmin - 1e-9 * span) & (ticks <= vmax + 1e-9 * span)]
    ticks = np.where(np.abs(ticks) < 1e-9 * span, 0.0, ticks)
    if ticks.size < 2:
        ticks = np.array([vmin, vmax])
    peak = max(abs(vmin), abs(vmax))
    exponent = int(np.floor(np.log10(peak))) if peak > 0 else 0
    scale_needed = peak > 0 and (peak < 0.1 or peak >= 1e4)
    scaled = ticks / 10.0 ** exponent if scale_needed else ticks
    for decimals in range(0, 7):
        labels = [_strip_zero(f"{t:.{decimals}f}") for t in scaled]
        if len(set(labels)) == len(labels) and np.allclose(
                [float(s) for s in labels], scaled, rtol=0, atol=0.01 * np.ptp(scaled)):
            break
    labels = [s.replace("-", "\N{MINUS SIGN}") for s in labels]
    if scale_needed:
        power = f"{exponent}".translate(_SUPERSCRIPTS)
        axis_label = f"loading (\N{MULTIPLICATION SIGN}10{power}), a.u."
    else:
        axis_label = UNIT
    return ticks, labels, axis_label


def colorbars(figure):
    """The matplotlib colourbars drawn in ``figure`` (nilearn's included)."""
    return [ax._colorbar for ax in figure.axes if getattr(ax, "_colorbar", None) is not None]


def style_colorbar(colorbar, vmin, vmax, text_color):
    """Round ticks, their labels and the unit on a colourbar over ``[vmin, vmax]``."""
    ticks, labels, axis_label = colorbar_ticks(vmin, vmax)
    colorbar.ax.minorticks_off()
    colorbar.set_ticks(ticks, labels=labels)
    colorbar.set_label(axis_label, color=text_color, fontsize="x-small")
    if colorbar.orientation == "vertical":
        # nilearn puts its colourbars at the right edge: a label on the right is cut off
        colorbar.ax.yaxis.set_label_position("left")
    colorbar.ax.tick_params(labelsize="small", colors=text_color)


def caption(threshold, cluster_threshold, unit_name, hidden=None):
    """The sentence that says what the figure leaves out.

    ``threshold`` is a text ("|loading| >= 0.0012", "auto per map");
    ``hidden`` a (sign, fraction) pair for a one-sided map.
    """
    parts = [f"shown: {threshold}"]
    if cluster_threshold > 1:
        parts.append(f"clusters < {cluster_threshold} {unit_name} hidden")
    if hidden is not None:
        sign, fraction = hidden
        if sign != 0 and fraction > 0:
            which = "negative" if sign > 0 else "positive"
            parts.append(f"{which} loadings ({100 * fraction:.1f}% of the mass) not shown")
    return "; ".join(parts)


def threshold_text(value):
    return f"|loading| \N{GREATER-THAN OR EQUAL TO} {format_value(value)}"


def format_value(value):
    return f"{value:.2g}" if value != 0 else "0"


# --------------------------------------------------------------------------
# component numbers on contour figures
# --------------------------------------------------------------------------

_OUTLINE = [patheffects.withStroke(linewidth=2.2, foreground="black")]


def label_point(points, taken=(), min_distance=0.0):
    """Where to write a region's number: a point of the region near its centre.

    The point of ``points`` (n, d) nearest their centroid (so always inside
    the region, even a ring-shaped one) that lies at least ``min_distance``
    from the points of ``taken``, so that numbers do not overlap; the point
    nearest the centroid when there is none.
    """
    centre = points.mean(axis=0)
    order = np.argsort(np.sum((points - centre) ** 2, axis=1), kind="stable")
    if len(taken) and min_distance > 0:
        taken = np.asarray(taken, dtype=float)
        distance = np.linalg.norm(points[order][:, None, :] - taken[None], axis=-1).min(axis=1)
        free = np.flatnonzero(distance >= min_distance)
        if free.size:
            return points[order[free[0]]]
    return points[order[0]]


def write_label(ax, position, k, color, three_d=False):
    kwargs = dict(color=color, fontsize=8, fontweight="bold", ha="center", va="center",
                  path_effects=_OUTLINE, zorder=1000, clip_on=False)
    if three_d:
        text = ax.text(position[0], position[1], position[2], str(k), **kwargs)
    else:
        text = ax.text(position[0], position[1], str(k), **kwargs)
    text.set_gid(f"nimf-component-{k}")
    return text


def component_labels(figure):
    """The component numbers written on a contour figure, as ``(k, text)`` pairs."""
    found = []
    for ax in figure.axes:
        for text in ax.texts:
            gid = text.get_gid() or ""
            if gid.startswith("nimf-component-"):
                found.append((int(gid.rsplit("-", 1)[1]), text))
    return found
