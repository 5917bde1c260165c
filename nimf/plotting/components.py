"""Figures of component maps, in the volume (Nifti) or on the cortical surface.

Component maps are given as one image holding a stack of maps:

* a 4D Nifti image whose last axis indexes the components, drawn on the
  MNI152 template that nilearn ships;
* a :class:`nilearn.surface.SurfaceImage` with one sample per component
  (data of shape ``(n_vertices, n_components)`` for each hemisphere), drawn on
  its own mesh, or on the fsaverage5 inflated mesh when the image lives on
  fsaverage5.

Thresholds
----------
Maps are drawn where their absolute value is at least a threshold; exact
zeros are never drawn.  A number sets the same threshold for every map.
``threshold="auto"`` sets one threshold per map: the larger of

* the ``100 - p`` percentile of the absolute values of the map over the
  voxels (or vertices) that are non-zero in at least one map (the "brain"),
  so that the map keeps at most its top ``p`` percent of the brain, and
* 10% of the largest absolute value of the map, so that faint background
  values are never drawn.

``p`` is 10 for figures of one map (:func:`plot_component`,
:func:`save_component_images`) and ``40 / n_components`` clipped to
[1, 10] for figures of all maps (:func:`plot_components_contours`), so that
the maps overlap little: 10 up to 4 components, 2 for 20 components and 1
from 40 components on.
"""

import contextlib
import functools
import numbers
import os
import warnings

import matplotlib.pyplot as plt
import nibabel
import numpy as np
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.patches import Patch
from nibabel.affines import apply_affine
from nilearn import datasets, image, plotting
from nilearn.surface import InMemoryMesh, PolyMesh, SurfaceImage
from scipy import sparse

from . import _display

__all__ = ["plot_components_contours", "plot_component", "save_component_images"]

_AUTO_PERCENT = 10.0      # "auto" keeps at most the top 10% of one map ...
_AUTO_BUDGET = 40.0       # ... or 40% / n_components of each map on a contour figure
_AUTO_FRACTION = 0.1      # ... and only values >= 10% of the map's peak
_ZERO_FRACTION = 1e-6     # values below 1e-6 * peak count as zeros
_VIEW_TYPES = ("contours", "filled_contours")
_SURF_VIEWS = ("lateral", "medial", "dorsal", "ventral", "anterior", "posterior")
_SURF_MESHES = ("inflated", "pial", "white_matter", "sphere")
_FSAVERAGE5_N_VERTICES = 10242
_LEGEND_PER_ROW = 16
_SURFACE_LEGEND_PER_ROW = 10


# --------------------------------------------------------------------------
# cached reference data shipped with nilearn
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _mni_template():
    return datasets.load_mni152_template(resolution=2)


def _in_memory(mesh):
    """A copy of a PolyMesh held in memory (nilearn re-reads file meshes on each use)."""
    parts = {hemi: InMemoryMesh(np.array(part.coordinates, dtype=float),
                                np.array(part.faces))
             for hemi, part in mesh.parts.items()}
    return PolyMesh(**parts)


@functools.lru_cache(maxsize=4)
def _fsaverage5_mesh(kind):
    return _in_memory(datasets.load_fsaverage("fsaverage5")[kind])


@functools.lru_cache(maxsize=1)
def _fsaverage5_sulcal():
    sulc = datasets.load_fsaverage_data(mesh="fsaverage5", mesh_type="inflated",
                                        data_type="sulcal")
    # nilearn paints faces with gray_r(bg) when bg lies in [0, 1]: map the sulcal
    # depth to light (gyri) ... mid (sulci) greys so coloured maps stand out
    low, high = 0.15, 0.5
    bg = {}
    for hemi, values in sulc.data.parts.items():
        values = np.asarray(values, dtype=float)
        span = max(values.max() - values.min(), 1e-12)
        bg[hemi] = low + (high - low) * (values - values.min()) / span
    return bg


# --------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return repr(value)


def _check_threshold(threshold):
    if isinstance(threshold, str) and threshold == "auto":
        return "auto"
    if (isinstance(threshold, numbers.Real)
            and not isinstance(threshold, (bool, np.bool_))
            and np.isfinite(threshold) and threshold >= 0):
        return float(threshold)
    raise ValueError(
        f"threshold must be 'auto' or a non-negative number, got {_describe(threshold)}")


def _check_option(value, name, options):
    if not isinstance(value, str) or value not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {choices}, got {_describe(value)}")
    return value


class _Components:
    """Component maps as a 2D array ``(n_points, n_components)`` plus geometry.

    ``kind`` is ``"volume"`` (``affine`` and ``shape`` set) or ``"surface"``
    (``parts``: hemisphere -> slice of the rows, ``mesh``: the image mesh).
    """

    def __init__(self, img, name="components_img"):
        if isinstance(img, SurfaceImage):
            shape = tuple(img.shape)
            if len(shape) != 2:
                raise ValueError(
                    f"{name}: expected a surface image with one sample per component "
                    f"(data of shape (n_vertices, n_components)), got a surface image "
                    f"of shape {shape}")
            self.kind = "surface"
            self.mesh = img.mesh
            blocks, self.parts, start = [], {}, 0
            for hemi, values in img.data.parts.items():
                values = np.asarray(values, dtype=np.float32)
                if values.ndim == 1:
                    values = values[:, None]
                blocks.append(values)
                self.parts[hemi] = slice(start, start + values.shape[0])
                start += values.shape[0]
            data = np.concatenate(blocks, axis=0)
        else:
            if isinstance(img, (str, os.PathLike)):
                img = image.load_img(img)
            if not isinstance(img, nibabel.spatialimages.SpatialImage):
                raise ValueError(
                    f"{name}: expected a 4D Nifti image of component maps (or a path "
                    f"to one) or a nilearn SurfaceImage, got {type(img).__name__}")
            if len(img.shape) != 4:
                raise ValueError(
                    f"{name}: expected a 4D image of component maps, got a "
                    f"{len(img.shape)}D image of shape {tuple(img.shape)}")
            self.kind = "volume"
            self.affine = img.affine
            self.shape = tuple(img.shape[:3])
            # "unchanged": do not fill the cache of the caller's image
            data = np.asarray(img.get_fdata(dtype=np.float32, caching="unchanged"))
            data = data.reshape(-1, img.shape[3], order="F")
        if not np.all(np.isfinite(data)):
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)  # a copy
        self.data = data
        self.n_components = self.data.shape[1]
        if self.n_components == 0:
            raise ValueError(f"{name}: expected at least one component map, got 0")
        self.peaks = np.abs(self.data).max(axis=0)

    def thresholds(self, threshold, percent=_AUTO_PERCENT):
        """Per-map thresholds on the absolute values (see the module docstring)."""
        threshold = _check_threshold(threshold)
        if threshold == "auto":
            support = np.any(self.data != 0, axis=1)
            if support.any():
                values = np.abs(self.data[support])
                cut = np.percentile(values, 100.0 - percent, axis=0)
            else:
                cut = np.zeros(self.n_components)
            thr = np.maximum(cut, _AUTO_FRACTION * self.peaks)
        else:
            thr = np.full(self.n_components, threshold)
        return np.maximum(thr, _ZERO_FRACTION * self.peaks).astype(float)

    def check_index(self, index):
        n = self.n_components
        if (isinstance(index, (bool, np.bool_)) or not isinstance(index, numbers.Integral)
                or not -n <= index < n):
            raise ValueError(
                f"index must be an int in [0, {n - 1}] (or in [-{n}, -1] to count from "
                f"the end: the image holds {n} component maps), got {_describe(index)}")
        return int(index) % n

    # ---- what is drawn ---------------------------------------------------

    @property
    def point_name(self):
        return "voxels" if self.kind == "volume" else "vertices"

    def adjacency(self):
        """Vertex adjacency of the image's mesh, the hemispheres side by side."""
        if getattr(self, "_adjacency", None) is None:
            blocks = []
            for hemi, rows in self.parts.items():
                n = rows.stop - rows.start
                blocks.append(_display.mesh_adjacency(np.asarray(self.mesh.parts[hemi].faces),
                                                      n))
            self._adjacency = sparse.block_diag(blocks, format="csr")
        return self._adjacency

    def shown(self, k, threshold, cluster_threshold):
        """The values of map ``k`` that a figure draws (a copy; the rest set to 0).

        A sign holding less than 5% of the map's absolute mass is left out
        (see :func:`nimf.plotting._display.shown_sign`), then the values below
        ``threshold`` in absolute value, then the clusters of fewer than
        ``cluster_threshold`` voxels (vertices) of each sign.

        Returns
        -------
        values : ndarray of shape (n_points,)
        sign : {1, -1, 0}
            The signs drawn (1 positive only, -1 negative only, 0 both).
        hidden : float
            Fraction of the absolute mass of the map in the sign left out.
        """
        values = self.data[:, k]
        sign, hidden = _display.shown_sign(values)
        keep = np.zeros(values.shape, dtype=bool)
        geometry = ({"shape": self.shape} if self.kind == "volume"
                    else {"adjacency": self.adjacency()})
        for side in ((1.0, -1.0) if sign == 0 else (float(sign),)):
            above = side * values >= max(threshold, 0.0)
            above &= values != 0
            kept, _ = _display.drop_small_clusters(above, cluster_threshold, **geometry)
            keep |= kept
        return np.where(keep, values, 0.0).astype(np.float32), sign, hidden

    def shown_all(self, thresholds, cluster_threshold):
        """:meth:`shown` of every map, as an array of shape (n_points, n_components)."""
        out = np.zeros_like(self.data)
        for k in range(self.n_components):
            out[:, k] = self.shown(k, float(thresholds[k]), cluster_threshold)[0]
        return out

    # ---- volume helpers ------------------------------------------------

    def volume(self, k, absolute=False, values=None):
        """Map ``k`` (or ``values``, one per voxel) as a 3D Nifti image."""
        if values is None:
            values = self.data[:, k]
        values = np.asarray(values).reshape(self.shape, order="F")
        if absolute:
            values = np.abs(values)
        return nibabel.Nifti1Image(np.asarray(values, dtype=np.float32), self.affine)

    def world(self, flat_index):
        ijk = np.unravel_index(flat_index, self.shape, order="F")
        return [float(c) for c in apply_affine(self.affine, ijk)]

    # ---- surface helpers -----------------------------------------------

    def hemi(self, hemi, k=None):
        rows = self.data[self.parts[hemi]]
        return rows if k is None else rows[:, k]


def _contour_percent(n_components):
    """Percentage of the brain kept per map by ``threshold="auto"`` on contour figures."""
    return float(np.clip(_AUTO_BUDGET / n_components, 1.0, _AUTO_PERCENT))


def _cut_coords_for(display_mode, xyz):
    """Pick the coordinates of ``xyz`` that ``display_mode`` needs."""
    axes = "xyz"
    if display_mode in ("ortho", "tiled"):
        return list(xyz)
    if display_mode in ("x", "y", "z"):
        return [xyz[axes.index(display_mode)]]
    if display_mode in ("xz", "yz", "yx", "xy", "zx", "zy"):
        return [xyz[axes.index(letter)] for letter in display_mode]
    return None


def _component_colors(colors, n):
    """One RGBA colour per component."""
    if colors is None:
        # far apart in CIELAB, and component k keeps its colour whatever n
        return _display.distinct_colors(n)
    if isinstance(colors, str):
        try:
            cmap = plt.get_cmap(colors)
        except ValueError:
            raise ValueError(
                f"colors must be None, a matplotlib colormap name or a list of "
                f"{n} matplotlib colours, got {colors!r}") from None
        if isinstance(cmap, ListedColormap) and cmap.N >= n:
            return [tuple(cmap(i)) for i in range(n)]
        return [tuple(c) for c in cmap(np.linspace(0.0, 1.0, n))]
    try:
        colors = [to_rgba(c) for c in colors]
    except (TypeError, ValueError):
        raise ValueError(
            f"colors must be None, a matplotlib colormap name or a list of {n} "
            f"matplotlib colours, got {_describe(colors)}") from None
    if len(colors) != n:
        raise ValueError(
            f"colors must hold one colour per component ({n}), got {len(colors)} colours")
    return colors


# --------------------------------------------------------------------------
# surfaces
# --------------------------------------------------------------------------


def _check_views(views):
    if isinstance(views, str):
        views = (views,)
    views = tuple(views)
    if not views:
        raise ValueError("views must name at least one view, got an empty sequence")
    for view in views:
        _check_option(view, "views", _SURF_VIEWS)
    return views


def _surface_geometry(comps, surf_mesh):
    """Mesh to draw on and background (sulcal depth) per hemisphere."""
    on_fsaverage5 = all(
        s.stop - s.start == _FSAVERAGE5_N_VERTICES for s in comps.parts.values())
    if isinstance(surf_mesh, PolyMesh):
        mesh = _in_memory(surf_mesh)
    elif surf_mesh is None:
        mesh = _in_memory(comps.mesh)
    else:
        _check_option(surf_mesh, "surf_mesh", _SURF_MESHES)
        mesh = _fsaverage5_mesh(surf_mesh) if on_fsaverage5 else _in_memory(comps.mesh)
    for hemi, rows in comps.parts.items():
        if hemi not in mesh.parts or mesh.parts[hemi].n_vertices != rows.stop - rows.start:
            raise ValueError(
                f"surf_mesh must have {rows.stop - rows.start} vertices in the {hemi} "
                f"hemisphere like components_img, got "
                f"{mesh.parts[hemi].n_vertices if hemi in mesh.parts else 0}")
    bg = _fsaverage5_sulcal() if on_fsaverage5 else {hemi: None for hemi in comps.parts}
    return mesh, bg


_CAPTION_HEIGHT = 0.22  # inches of the line that says what a figure leaves out


def _surface_axes(hemis, views, figure, axes, title, bottom=0.0):
    """A grid of 3D axes: one row per view, one column per hemisphere.

    ``bottom`` is the height in inches of a strip kept free under the panels
    (legend, caption).
    """
    n_rows, n_cols = len(views), len(hemis)
    panels = [(hemi, view) for view in views for hemi in hemis]
    if axes is not None:
        axes = [axes] if not isinstance(axes, (list, tuple, np.ndarray)) else list(
            np.ravel(axes))
        if len(axes) != len(panels) or any(getattr(ax, "name", None) != "3d" for ax in axes):
            raise ValueError(
                f"axes must be {len(panels)} matplotlib 3D axes (one per hemisphere "
                f"and view: {panels}), got {_describe(axes)}")
        figure = axes[0].get_figure()
    else:
        if figure is None:
            height = 2.9 * n_rows + (0.35 if title is not None else 0.0) + bottom
            figure = plt.figure(figsize=(3.6 * n_cols, height))
        elif not hasattr(figure, "add_subplot"):
            figure = plt.figure(figure)
        axes = []
        for i in range(len(panels)):
            axes.append(figure.add_subplot(n_rows, n_cols, i + 1, projection="3d"))
        height = figure.get_figheight()
        figure.subplots_adjust(left=0.0, right=1.0, bottom=bottom / height,
                               top=1.0 - (0.35 if title is not None else 0.0) / height,
                               wspace=0.0, hspace=0.0)
    return figure, list(zip(panels, axes))


def _color_range(comps, k, cmap, shown=None):
    """Colormap and colour range of map ``k``.

    The range spans the values drawn (``shown``, see :meth:`_Components.shown`;
    without it, the map's values of the signs drawn) and always holds zero,
    which stays at the centre of the colormap: a value ``v`` takes the colour
    at ``0.5 + 0.5 * v / peak`` of the colormap whatever the range.  So a map
    drawn one-sided (of one sign, or whose other sign holds less than 5% of
    its mass, or whose other sign stays under the threshold) uses only the
    half of the colormap of that sign, on [0, peak]: no half of the
    colourbar is unused; a map drawn with both signs gets a range from its
    lowest to its highest value drawn.
    """
    if shown is None:
        values = comps.data[:, k]
        sign, _ = _display.shown_sign(values)
        shown = values if sign == 0 else np.where(sign * values > 0, values, 0.0)
    low, high = min(float(shown.min()), 0.0), max(float(shown.max()), 0.0)
    if low == high:  # nothing drawn: any range does
        low, high = 0.0, (float(comps.peaks[k]) or 1.0)
    cmap = plt.get_cmap(cmap)
    peak = max(-low, high)
    if low == -high:
        return cmap, low, high
    return ListedColormap(cmap(np.linspace(0.5 + 0.5 * low / peak, 0.5 + 0.5 * high / peak,
                                           256))), low, high


def _style_new_colorbars(figure, before, vmin, vmax, text_color):
    """Round ticks and the unit on the colourbars drawn since ``before`` was taken."""
    for colorbar in _display.colorbars(figure):
        if id(colorbar) not in before:
            _display.style_colorbar(colorbar, vmin, vmax, text_color)


def _component_caption(comps, k, thr, cluster_threshold, sign, hidden):
    return _display.caption(_display.threshold_text(thr), cluster_threshold,
                            comps.point_name, hidden=(sign, hidden))


def _has_region(faces, mask):
    """Whether the vertices in ``mask`` form at least one edge of the mesh."""
    return bool(np.any(mask[faces].sum(axis=1) >= 2))


def _vertex_normals(coordinates, faces):
    """Unit normals of the vertices of a mesh, pointing away from its centre."""
    corners = coordinates[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(coordinates)
    for c in range(3):
        np.add.at(normals, faces[:, c], face_normals)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    if np.sum(normals * (coordinates - coordinates.mean(axis=0))) < 0:
        normals = -normals  # faces wound the other way
    return normals


def _camera(ax):
    """Unit vector from the centre of a 3D axes towards its viewer."""
    elev, azim = np.deg2rad(ax.elev), np.deg2rad(ax.azim)
    return np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])


def _label_surface_maps(ax, coordinates, normals, shown, ks, colors):
    """Write each map's number on its largest visible part in a 3D panel."""
    facing = normals @ _camera(ax) > 0.3
    for k in ks:
        visible = (shown[:, k] != 0) & facing
        if visible.sum() < 3:
            continue
        _display.write_label(ax, _display.label_point(coordinates[visible]), k, colors[k],
                             three_d=True)


def _surface_groups(n_components, maps_per_panel):
    """The maps of each row of panels: near-equal groups of at most ``maps_per_panel``."""
    n_groups = int(np.ceil(n_components / maps_per_panel))
    return [list(g) for g in np.array_split(np.arange(n_components), n_groups)]


def _plot_surface_contours(comps, shown, colors, view_type, title, figure, axes, views,
                           surf_mesh, legend, maps_per_panel, label_maps, caption):
    mesh, bg = _surface_geometry(comps, surf_mesh)
    groups = _surface_groups(comps.n_components, maps_per_panel)
    hemis = list(comps.parts)
    row_views = [view for _ in groups for view in views]
    bottom = (_legend_height(_legend_rows(comps.n_components, _SURFACE_LEGEND_PER_ROW))
              if legend else 0.0) + (
        _CAPTION_HEIGHT if caption else 0.0)
    figure, panels = _surface_axes(hemis, row_views, figure, axes, title,
                                   bottom=bottom if axes is None else 0.0)
    for i, ((hemi, view), ax) in enumerate(panels):
        ks = groups[i // len(hemis) // len(views)]
        data = shown[comps.parts[hemi]]
        above = data != 0
        kwargs = dict(surf_mesh=mesh, hemi=hemi, view=view, bg_map=bg[hemi],
                      axes=ax, figure=figure)
        if view_type == "filled_contours":
            # each vertex takes the label of the map of the panel that is highest
            # there, relative to its peak, among the maps drawn there
            score = np.where(above[:, ks], np.abs(data[:, ks]) / np.maximum(
                comps.peaks[ks], 1e-300), -1.0)
            labels = np.where(above[:, ks].any(axis=1), np.argmax(score, axis=1) + 1, 0)
            cmap = ListedColormap([colors[k] for k in ks])
            plotting.plot_surf(surf_map=labels.astype(float), cmap=cmap,
                               vmin=0.5, vmax=len(ks) + 0.5, threshold=0.5,
                               avg_method="median", colorbar=False, **kwargs)
        else:
            # an all-transparent map, so that nilearn paints the background
            plotting.plot_surf(surf_map=np.zeros(data.shape[0]), vmin=0.0, vmax=1.0,
                               threshold=0.5, colorbar=False, **kwargs)
        faces = np.asarray(mesh.parts[hemi].faces)
        for k in ks:
            region = above[:, k]
            if not _has_region(faces, region):
                continue
            # outline the region and its one-ring dilation: a line two faces wide
            grown = np.zeros_like(region)
            grown[faces[region[faces].any(axis=1)].ravel()] = True
            for mask in (region, grown):
                if mask.all():
                    continue
                plotting.plot_surf_contours(surf_mesh=mesh, roi_map=mask.astype(int),
                                            hemi=hemi, levels=[1], colors=[colors[k]],
                                            axes=ax, figure=figure)
        if label_maps:
            coordinates = np.asarray(mesh.parts[hemi].coordinates, dtype=float)
            _label_surface_maps(ax, coordinates, _vertex_normals(coordinates, faces),
                                data, ks, colors)
        if len(groups) > 1 and i % (len(hemis) * len(views)) == 0:
            ax.text2D(0.02, 0.97, f"maps {ks[0]}\N{EN DASH}{ks[-1]}", transform=ax.transAxes,
                      fontsize="small", va="top")
    if title is not None:
        # set last: nilearn copies a figure title to the axes it draws in
        figure.suptitle(title)
    if legend:
        _add_legend(figure, colors, text_color="black",
                    bottom=_CAPTION_HEIGHT if caption and axes is None else 0.0,
                    per_row=_SURFACE_LEGEND_PER_ROW)
    if caption:
        _write_caption(figure, caption, "0.25")
    return figure


def _write_caption(figure, text, color, *, axes=None):
    """The caption at the bottom of ``figure`` (or just under ``axes``)."""
    if axes is not None:
        # above the caller's axes, right-aligned (the title sits inside, at the left;
        # a legend may go under them)
        return axes.text(1.0, 1.005, text, transform=axes.transAxes, ha="right",
                         va="bottom", fontsize=6.5, color=color, gid="nimf-caption")
    return figure.text(0.5, 0.04 / figure.get_figheight(), text, ha="center", va="bottom",
                       fontsize=7, color=color, gid="nimf-caption")


def _plot_surface_component(comps, k, thr, cmap, title, figure, axes, views, surf_mesh,
                            colorbar, cluster_threshold=_display.CLUSTER_THRESHOLD,
                            caption=True):
    mesh, bg = _surface_geometry(comps, surf_mesh)
    own_figure = axes is None and figure is None
    figure, panels = _surface_axes(list(comps.parts), views, figure, axes, title,
                                   bottom=_CAPTION_HEIGHT if caption and own_figure else 0.0)
    values, sign, hidden = comps.shown(k, thr, cluster_threshold)
    cmap, vmin, vmax = _color_range(comps, k, cmap, shown=values)
    before = {id(c) for c in _display.colorbars(figure)}
    for i, ((hemi, view), ax) in enumerate(panels):
        with warnings.catch_warnings():
            # nilearn warns that vmin is ignored with symmetric_cbar="auto" and
            # a map of one sign; it is the value it would pick
            warnings.filterwarnings("ignore", message=".*vmin.*")
            plotting.plot_surf_stat_map(
                surf_mesh=mesh, stat_map=values[comps.parts[hemi]].astype(float),
                bg_map=bg[hemi], hemi=hemi, view=view, cmap=cmap, threshold=thr,
                vmin=vmin, vmax=vmax, symmetric_cbar=vmin == -vmax,
                colorbar=colorbar and i == len(panels) - 1, axes=ax, figure=figure)
    _style_new_colorbars(figure, before, vmin, vmax, "black")
    if title is not None:
        figure.suptitle(title)
    if caption:
        _write_caption(figure, _component_caption(comps, k, thr, cluster_threshold, sign,
                                                  hidden), "0.25")
    return figure


# --------------------------------------------------------------------------
# volumes
# --------------------------------------------------------------------------


def _densest_cuts(comps, thr, shown=None):
    """World coordinates of the x, y and z slices that best cross the maps.

    For each axis, the chosen slice maximizes the sum over the maps of the
    fraction of the drawn voxels of the map that lie in the slice, so that
    every map counts the same whatever its size.  The drawn voxels are those
    of ``shown`` when given (the values a figure draws), else those where the
    absolute value is at least ``thr``.
    """
    above = (shown != 0) if shown is not None else (np.abs(comps.data) >= thr)
    above = above.reshape(comps.shape + (-1,), order="F")
    totals = above.sum(axis=(0, 1, 2))
    if not totals.any():
        return None
    ijk = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        per_map = above.sum(axis=others)            # (n_slices, n_components)
        score = (per_map / np.maximum(totals, 1)).sum(axis=1)
        ijk.append(int(np.argmax(score)))
    return [float(c) for c in apply_affine(comps.affine, ijk)]


def _volume_figure(display_mode, figure, axes, legend, n_components, caption=False):
    """Create the figure (with room for a legend and a caption) when the caller gave none."""
    if figure is not None or axes is not None:
        return figure, axes
    width = {"ortho": 9.0, "tiled": 7.0, "mosaic": 11.0}.get(display_mode, 11.0)
    height = {"ortho": 3.4, "tiled": 6.5, "mosaic": 6.0}.get(display_mode, 2.6)
    strip = (_legend_height(_legend_rows(n_components) if legend else 0)
             + (_CAPTION_HEIGHT if caption else 0.0))
    figure = plt.figure(figsize=(width, height + strip), facecolor="black")
    axes = figure.add_axes([0.0, strip / (height + strip), 1.0, height / (height + strip)])
    axes.set_facecolor("black")
    return figure, axes


def _legend_rows(n_components, per_row=_LEGEND_PER_ROW):
    return int(np.ceil(n_components / per_row))


def _legend_height(n_rows):
    """Height in inches of the strip that holds a legend of ``n_rows`` rows."""
    return 0.3 * n_rows + 0.1 if n_rows else 0.0


def _text_color(figure, light="0.85", dark="0.2"):
    """A text colour readable on the figure's background."""
    red, green, blue, _ = to_rgba(figure.get_facecolor())
    return light if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else dark


def _add_legend(figure, colors, text_color, bottom=0.0, per_row=_LEGEND_PER_ROW, axes=None):
    """Legend of the component numbers at the bottom of ``figure``, read row by row.

    ``bottom`` (inches) is left free under it, for the caption.  With
    ``axes`` (a caller's axes in a figure of several), the legend goes just
    under those axes instead.
    """
    n = len(colors)
    n_rows = _legend_rows(n, per_row)
    n_cols = int(np.ceil(n / n_rows))
    # matplotlib fills the legend column by column: order the handles so that
    # the rows read 0, 1, 2, ...
    order = [r * n_cols + c for c in range(n_cols) for r in range(n_rows)
             if r * n_cols + c < n]
    handles = [Patch(facecolor=colors[k], edgecolor=colors[k], label=str(k)) for k in order]
    style = dict(handles=handles, ncol=n_cols, frameon=False, fontsize="small",
                 labelcolor=text_color, handlelength=1.2, columnspacing=1.0)
    if axes is not None:
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), **style)
        return
    figure.legend(loc="lower center", bbox_to_anchor=(0.5, bottom / figure.get_figheight()),
                  **style)


_CUT_PLANES = {"x": (0, (1, 2)), "y": (1, (0, 2)), "z": (2, (0, 1))}


def _label_volume_maps(display, comps, shown, colors, drawn):
    """Write each map's number on its section in every cut of a nilearn display."""
    steps = np.abs(comps.affine[:3, :3]).max(axis=1)
    worlds = {k: apply_affine(comps.affine, np.stack(np.unravel_index(
        np.flatnonzero(shown[:, k]), comps.shape, order="F"), axis=1)) for k in drawn}
    for cut in display.axes.values():
        if getattr(cut, "direction", None) not in _CUT_PLANES or cut.coord is None:
            continue
        axis, plane = _CUT_PLANES[cut.direction]
        taken = []
        for k in drawn:
            world = worlds[k]
            section = world[np.abs(world[:, axis] - float(cut.coord)) <= steps[axis] / 2.0]
            if len(section) < 3:
                continue  # a sliver: no room for a number
            # numbers ~8 mm apart (a label is ~6 mm wide on a 9-inch ortho figure)
            point = _display.label_point(section[:, plane], taken, min_distance=8.0)
            taken.append(point)
            _display.write_label(cut.ax, point, k, colors[k])


def _plot_volume_contours(comps, shown, colors, view_type, display_mode, cut_coords, title,
                          figure, axes, legend, label_maps, caption):
    if cut_coords is None and display_mode in ("ortho", "tiled", "xz", "yz", "yx"):
        xyz = _densest_cuts(comps, None, shown=shown)
        cut_coords = None if xyz is None else _cut_coords_for(display_mode, xyz)
    own_figure = figure is None and axes is None
    figure, axes = _volume_figure(display_mode, figure, axes, legend, comps.n_components,
                                  caption=bool(caption))
    display = plotting.plot_anat(_mni_template(), display_mode=display_mode,
                                 cut_coords=cut_coords, figure=figure, axes=axes,
                                 title=title, black_bg=True, draw_cross=False,
                                 colorbar=False)
    filled = view_type == "filled_contours"
    peaks = np.abs(shown).max(axis=0)
    drawn = [k for k in range(comps.n_components) if peaks[k] > 0]
    for k in drawn:
        # contour of the drawn voxels (the others are 0); explicit vmin / vmax:
        # nilearn would otherwise take them from the slices, which may be fully masked
        level = float(np.abs(shown[:, k])[shown[:, k] != 0].min()) / 2.0
        kwargs = {"levels": [level], "colors": [colors[k]], "vmin": 0.0,
                  "vmax": float(peaks[k])}
        if filled:
            kwargs.update(threshold=None, transparency=0.6)
        else:
            kwargs.update(linewidths=1.5)
        with warnings.catch_warnings():
            # slices that miss a map have no contour at its level
            warnings.filterwarnings("ignore", message=".*[Nn]o contour levels.*")
            display.add_contours(comps.volume(k, absolute=True, values=shown[:, k]),
                                 filled=filled, **kwargs)
    if label_maps:
        _label_volume_maps(display, comps, shown, colors, drawn)
    drawn_in = display.frame_axes.figure
    if legend:
        _add_legend(drawn_in, colors, text_color=_text_color(drawn_in),
                    bottom=_CAPTION_HEIGHT if caption and own_figure else 0.0,
                    axes=None if own_figure else display.frame_axes)
    if caption:
        if own_figure:
            _write_caption(drawn_in, caption, "0.85")
        else:
            _write_caption(drawn_in, caption, _text_color(drawn_in), axes=display.frame_axes)
    return display


# --------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------


@contextlib.contextmanager
def _close_new_figures_on_error():
    """Close the figures opened in the block if it raises, so none leaks."""
    before = set(plt.get_fignums())
    try:
        yield
    except BaseException:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        raise


def _finish(obj, output_file):
    """Save ``obj`` (a nilearn display or a figure) if asked; then close it."""
    if output_file is None:
        return obj
    output_file = os.fspath(output_file)
    if hasattr(obj, "frame_axes"):  # nilearn display
        obj.savefig(output_file, dpi=100)
        obj.close()
    else:
        obj.savefig(output_file, dpi=100, facecolor=obj.get_facecolor())
        plt.close(obj)
    return None


def plot_components_contours(components_img, *, title=None, threshold="auto",
                             view_type="contours", cut_coords=None, display_mode="ortho",
                             colors=None, output_file=None, figure=None, axes=None,
                             legend=True, views=("lateral",), surf_mesh="inflated",
                             cluster_threshold=_display.CLUSTER_THRESHOLD, label_maps=True,
                             maps_per_panel=8):
    """Draw all component maps on one brain, as contours in distinct colours.

    Each map is thresholded (see ``threshold``) and the outline of the region
    where its absolute value is at least the threshold is drawn in its own
    colour, like :func:`nilearn.plotting.plot_prob_atlas`, with the map's
    number written on it.  Volume maps are drawn on the MNI152 template;
    surface maps on both hemispheres, at most ``maps_per_panel`` maps per
    row of panels.

    Only the drawing is cleaned: the clusters of fewer than
    ``cluster_threshold`` voxels (vertices) are not outlined, nor the
    negative (positive) values of a map whose negative (positive) values
    hold less than 5% of its absolute mass; a line under the figure says so.
    ``components_img`` is not modified.

    Parameters
    ----------
    components_img : Nifti-like image or str or path or SurfaceImage
        The component maps: a 4D image whose last axis indexes the components,
        or a :class:`~nilearn.surface.SurfaceImage` with one sample per
        component (data of shape ``(n_vertices, n_components)``).

    title : str, default=None
        Title of the figure.

    threshold : "auto" or float, default="auto"
        Threshold on the absolute values of the maps.  With ``"auto"``, each
        map gets its own threshold: the larger of 10% of its largest absolute
        value and the value that keeps its top ``p`` percent of the voxels
        (vertices) that are non-zero in at least one map, with
        ``p = 40 / n_components`` clipped to [1, 10].  A non-negative number
        is used for all maps.

    view_type : {"contours", "filled_contours"}, default="contours"
        Draw only the outlines of the thresholded maps, or also fill them
        (semi-transparent in the volume; on surfaces, each vertex takes the
        colour of the map that is highest there relative to its peak).

    cut_coords : sequence of float or int, default=None
        Cut coordinates of the volume slices, passed to
        :func:`nilearn.plotting.plot_anat`.  With ``None`` and a display
        mode with one slice per direction (``"ortho"``, ``"tiled"``, ...),
        the slices that cross the largest number of supra-threshold voxels
        are used; with other display modes, nilearn chooses.  Ignored for
        surfaces.

    display_mode : str, default="ortho"
        Slicing of the volume (``"ortho"``, ``"x"``, ``"y"``, ``"z"``,
        ``"xz"``, ``"yz"``, ``"yx"``, ``"tiled"``, ``"mosaic"``), as in
        :func:`nilearn.plotting.plot_anat`.  Ignored for surfaces.

    colors : str or list of colours, default=None
        The colour of each map: ``None`` for distinct bright colours, a
        matplotlib colormap name, or a list of matplotlib colours with one
        colour per component.  The default colours are at least 29 apart in
        CIELAB (CIE76) for up to 30 maps, and a map keeps its colour whatever
        the number of maps.

    output_file : str or path, default=None
        If given, the figure is saved to this file (the format is given by
        its extension) and closed, and ``None`` is returned.

    figure : matplotlib Figure or int, default=None
        Figure to draw in.  By default a new figure is created.

    axes : matplotlib Axes, default=None
        Axes to draw in (volume), or a list of 3D axes with one axes per
        hemisphere and view (surface).  By default new axes are created.

    legend : bool, default=True
        Whether to add a legend giving the component number of each colour.

    cluster_threshold : int, default=10
        Clusters of fewer voxels (vertices) above threshold, connected by a
        face, an edge or a corner (by an edge of the mesh), are not drawn:
        no isolated-voxel speckle.  0 draws every voxel.

    label_maps : bool, default=True
        Whether to write each map's number on it: in each volume slice that
        crosses at least 3 of its voxels, on each surface panel that shows at
        least 3 of its vertices, at the point of the map nearest its centre.

    maps_per_panel : int, default=8
        Surfaces only: the maps are split into near-equal groups of at most
        this many, each drawn in its own row of panels, so that outlines do
        not pile up.

    views : str or sequence of str, default=("lateral",)
        Views of each hemisphere, for surfaces only: one row of panels per
        view, among "lateral", "medial", "dorsal", "ventral", "anterior"
        and "posterior".

    surf_mesh : {"inflated", "pial", "white_matter", "sphere"} or PolyMesh \
            or None, default="inflated"
        Mesh to draw surface maps on: a fsaverage5 mesh (used when the maps
        have as many vertices as fsaverage5, otherwise the mesh of
        ``components_img`` is used), a :class:`~nilearn.surface.PolyMesh`,
        or ``None`` for the mesh of ``components_img``.

    Returns
    -------
    display : nilearn display or matplotlib Figure or None
        The nilearn display (volume) or the matplotlib figure (surface), or
        ``None`` if ``output_file`` was given.

    See Also
    --------
    plot_component : Draw one component map.
    nilearn.plotting.plot_prob_atlas : Draw a stack of probabilistic maps.
    """
    comps = _Components(components_img)
    thr = comps.thresholds(threshold, percent=_contour_percent(comps.n_components))
    _check_option(view_type, "view_type", _VIEW_TYPES)
    cluster_threshold = _display.check_cluster_threshold(cluster_threshold)
    if (isinstance(maps_per_panel, (bool, np.bool_))
            or not isinstance(maps_per_panel, numbers.Integral) or maps_per_panel < 1):
        raise ValueError(f"maps_per_panel must be a positive int, got "
                         f"{_describe(maps_per_panel)}")
    colors = _component_colors(colors, comps.n_components)
    shown = comps.shown_all(thr, cluster_threshold)
    caption = _contour_caption(comps, threshold, thr, cluster_threshold)
    with _close_new_figures_on_error():
        if comps.kind == "surface":
            views = _check_views(views)
            obj = _plot_surface_contours(comps, shown, colors, view_type, title, figure,
                                         axes, views, surf_mesh, legend, int(maps_per_panel),
                                         label_maps, caption)
        else:
            obj = _plot_volume_contours(comps, shown, colors, view_type, display_mode,
                                        cut_coords, title, figure, axes, legend, label_maps,
                                        caption)
        return _finish(obj, output_file)


def _contour_caption(comps, threshold, thr, cluster_threshold):
    if isinstance(threshold, str):
        text = (f"per-map thresholds ({_display.format_value(thr.min())} to "
                f"{_display.format_value(thr.max())})")
    else:
        text = _display.threshold_text(thr[0])
    sides = [_display.shown_sign(comps.data[:, k]) for k in range(comps.n_components)]
    one_sided = sum(1 for sign, hidden in sides if sign != 0 and hidden > 0)
    parts = [_display.caption(text, cluster_threshold, comps.point_name)]
    if one_sided:
        parts.append(f"minority sign of {one_sided} map{'s' if one_sided > 1 else ''} "
                     f"(< 5% of the mass) not outlined")
    return "; ".join(parts)


_SINGLE_SIZES = {"ortho": (7.6, 2.8), "tiled": (6.5, 6.0), "mosaic": (11.0, 6.0)}


def _plot_volume_component(comps, k, thr, *, display_mode, cut_coords, cmap, title, figure,
                           axes, colorbar, cluster_threshold, caption=True, annotate=True):
    """Draw map ``k`` with plot_stat_map: shown values, styled colourbar, caption."""
    own_figure = figure is None and axes is None
    if own_figure:
        width, height = _SINGLE_SIZES.get(display_mode, (11.0, 2.4))
        strip = _CAPTION_HEIGHT if caption else 0.0
        figure = plt.figure(figsize=(width, height + strip), facecolor="black")
        axes = figure.add_axes([0.0, strip / (height + strip), 1.0, height / (height + strip)])
        axes.set_facecolor("black")
    values, sign, hidden = comps.shown(k, thr, cluster_threshold)
    cmap, vmin, vmax = _color_range(comps, k, cmap, shown=values)
    figure_of = figure if figure is not None and hasattr(figure, "axes") else None
    before = {id(c) for c in _display.colorbars(figure_of)} if figure_of is not None else set()
    display = plotting.plot_stat_map(
        comps.volume(k, values=values), bg_img=_mni_template(), threshold=thr,
        display_mode=display_mode, cut_coords=cut_coords, cmap=cmap, title=title,
        figure=figure, axes=axes, colorbar=colorbar, vmin=vmin, vmax=vmax,
        symmetric_cbar=vmin == -vmax, black_bg=True, draw_cross=False, annotate=annotate)
    drawn_in = display.frame_axes.figure
    _style_new_colorbars(drawn_in, before, vmin, vmax, "white")
    if caption:
        text = _component_caption(comps, k, thr, cluster_threshold, sign, hidden)
        if own_figure:
            _write_caption(drawn_in, text, "0.85")
        else:
            _write_caption(drawn_in, text, _text_color(drawn_in), axes=display.frame_axes)
    return display


def _plot_component(comps, index, thr, *, display_mode, cut_coords, cmap, title,
                    output_file, figure, axes, colorbar, views, surf_mesh,
                    cluster_threshold):
    k = comps.check_index(index)
    with _close_new_figures_on_error():
        if comps.kind == "surface":
            obj = _plot_surface_component(comps, k, float(thr[k]), cmap, title, figure,
                                          axes, _check_views(views), surf_mesh, colorbar,
                                          cluster_threshold)
            return _finish(obj, output_file)
        if cut_coords is None and comps.peaks[k] > 0:
            peak = comps.world(int(np.argmax(np.abs(comps.data[:, k]))))
            cut_coords = _cut_coords_for(display_mode, peak)
        display = _plot_volume_component(
            comps, k, float(thr[k]), display_mode=display_mode, cut_coords=cut_coords,
            cmap=cmap, title=title, figure=figure, axes=axes, colorbar=colorbar,
            cluster_threshold=cluster_threshold)
        return _finish(display, output_file)


def plot_component(components_img, index, *, threshold="auto", display_mode="ortho",
                   cut_coords=None, cmap="RdBu_r", title=None, output_file=None,
                   figure=None, axes=None, colorbar=True, views=("lateral",),
                   surf_mesh="inflated", cluster_threshold=_display.CLUSTER_THRESHOLD):
    """Draw one component map.

    Volume maps are drawn with :func:`nilearn.plotting.plot_stat_map` on the
    MNI152 template; surface maps with
    :func:`nilearn.plotting.plot_surf_stat_map` on both hemispheres.

    The colourbar is labelled "loading, a.u." (with the power of ten of its
    ticks when the loadings are small, "loading (×10⁻⁴), a.u.") and has a
    few round ticks.  A map whose negative (positive) values hold less than
    5% of its absolute mass is drawn one-sided, on [0, peak] ([-peak, 0]),
    the left-out sign being stated under the figure, as are the threshold
    and the speckle filter (``cluster_threshold``).  ``components_img`` is
    not modified: only the drawing is.

    Parameters
    ----------
    components_img : Nifti-like image or str or path or SurfaceImage
        The component maps: a 4D image whose last axis indexes the components,
        or a :class:`~nilearn.surface.SurfaceImage` with one sample per
        component (data of shape ``(n_vertices, n_components)``).

    index : int
        Index of the component to draw (negative indices count from the end).

    threshold : "auto" or float, default="auto"
        Values whose absolute value is below the threshold are not drawn.
        With ``"auto"``, the threshold is the larger of 10% of the largest
        absolute value of the map and the value that keeps its top 10% of the
        voxels (vertices) that are non-zero in at least one map.  A
        non-negative number is used as is.

    display_mode : str, default="ortho"
        Slicing of the volume, as in :func:`nilearn.plotting.plot_stat_map`.
        Ignored for surfaces.

    cut_coords : sequence of float or int, default=None
        Cut coordinates of the volume slices.  With ``None``, the slices go
        through the voxel where the absolute value of the map is largest
        (with ``"mosaic"``, nilearn chooses).  Ignored for surfaces.

    cmap : str or matplotlib colormap, default="RdBu_r"
        Colormap of the map.  A map drawn one-sided (of one sign, or whose
        other sign holds less than 5% of its absolute mass) uses only the
        half of the colormap of that sign, so that zero stays at the centre
        of a diverging colormap; a signed map uses the whole colormap,
        symmetric around zero.

    title : str, default=None
        Title of the figure.

    output_file : str or path, default=None
        If given, the figure is saved to this file and closed, and ``None``
        is returned.

    figure : matplotlib Figure or int, default=None
        Figure to draw in.  By default a new figure is created.

    axes : matplotlib Axes, default=None
        Axes to draw in (volume), or a list of 3D axes with one axes per
        hemisphere and view (surface).  By default new axes are created.

    colorbar : bool, default=True
        Whether to draw a colorbar.

    views : str or sequence of str, default=("lateral",)
        Views of each hemisphere, for surfaces only (see
        :func:`plot_components_contours`).

    surf_mesh : {"inflated", "pial", "white_matter", "sphere"} or PolyMesh \
            or None, default="inflated"
        Mesh to draw surface maps on (see :func:`plot_components_contours`).

    cluster_threshold : int, default=10
        Clusters of fewer voxels (vertices) above threshold are not drawn
        (see :func:`plot_components_contours`); 0 draws every voxel.

    Returns
    -------
    display : nilearn display or matplotlib Figure or None
        The nilearn display (volume) or the matplotlib figure (surface), or
        ``None`` if ``output_file`` was given.

    See Also
    --------
    plot_components_contours : Draw all component maps on one brain.
    save_component_images : Write one image file per component.
    """
    comps = _Components(components_img)
    thr = comps.thresholds(threshold)
    cluster_threshold = _display.check_cluster_threshold(cluster_threshold)
    return _plot_component(comps, index, thr, display_mode=display_mode,
                           cut_coords=cut_coords, cmap=cmap, title=title,
                           output_file=output_file, figure=figure, axes=axes,
                           colorbar=colorbar, views=views, surf_mesh=surf_mesh,
                           cluster_threshold=cluster_threshold)


def save_component_images(components_img, output_dir, *, prefix="component",
                          threshold="auto", labels=None, display_mode="ortho",
                          cmap="RdBu_r", extension="png",
                          cluster_threshold=_display.CLUSTER_THRESHOLD):
    """Write one image file per component map.

    The files are named ``{prefix}_{index}.{extension}``, the index being
    zero-padded to the number of digits of the last index (at least two):
    ``component_00.png``, ``component_01.png``, ...

    Parameters
    ----------
    components_img : Nifti-like image or str or path or SurfaceImage
        The component maps: a 4D image whose last axis indexes the components,
        or a :class:`~nilearn.surface.SurfaceImage` with one sample per
        component.

    output_dir : str or path
        Directory of the files; it is created if needed.

    prefix : str, default="component"
        Start of the file names.

    threshold : "auto" or float, default="auto"
        Threshold of the maps, as in :func:`plot_component`.

    labels : sequence of str, default=None
        Title of each figure, one per component.  By default
        ``"Component 0"``, ``"Component 1"``, ...

    display_mode : str, default="ortho"
        Slicing of the volume, as in :func:`plot_component`.

    cmap : str or matplotlib colormap, default="RdBu_r"
        Colormap of the maps.

    extension : str, default="png"
        File format, as understood by matplotlib.

    cluster_threshold : int, default=10
        Clusters of fewer voxels (vertices) above threshold are not drawn,
        as in :func:`plot_component`.

    Returns
    -------
    paths : list of str
        The paths of the written files, in the order of the components.

    See Also
    --------
    plot_component : Draw one component map.
    """
    comps = _Components(components_img)
    thr = comps.thresholds(threshold)
    cluster_threshold = _display.check_cluster_threshold(cluster_threshold)
    n = comps.n_components
    if not isinstance(prefix, str) or os.sep in prefix or (os.altsep and os.altsep in prefix):
        raise ValueError(f"prefix must be a file name start without a directory "
                         f"separator, got {_describe(prefix)}")
    if not isinstance(extension, str) or not extension.strip("."):
        raise ValueError(f"extension must be a file extension such as 'png', got "
                         f"{_describe(extension)}")
    if labels is None:
        labels = [f"Component {k}" for k in range(n)]
    elif isinstance(labels, str) or len(labels) != n:
        got = repr(labels) if isinstance(labels, str) else f"{len(labels)} labels"
        raise ValueError(f"labels must hold one label per component ({n}), got {got}")
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    width = max(2, len(str(n - 1)))
    paths = []
    for k in range(n):
        path = os.path.join(output_dir, f"{prefix}_{k:0{width}d}.{extension.strip('.')}")
        _plot_component(comps, k, thr, display_mode=display_mode, cut_coords=None,
                        cmap=cmap, title=str(labels[k]), output_file=path, figure=None,
                        axes=None, colorbar=True, views=("lateral",),
                        surf_mesh="inflated", cluster_threshold=cluster_threshold)
        paths.append(path)
    return paths
