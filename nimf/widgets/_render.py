"""What is drawn for a given state, as PNG bytes.

Every function draws in a fresh :class:`matplotlib.figure.Figure` on the Agg
canvas, never through pyplot: no figure is left open, nothing is shown twice
in a notebook, and the result does not depend on the notebook's backend.
"""

import io
import warnings
from dataclasses import replace

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..plotting import _display
from ..plotting.components import (_CAPTION_HEIGHT, _color_range, _component_caption,
                                   _component_colors, _cut_coords_for, _label_surface_maps,
                                   _label_volume_maps,
                                   _mni_template, _plot_surface_component,
                                   _style_new_colorbars, _surface_geometry,
                                   _vertex_normals, _write_caption)
from ._data import (aligned_similarities, check_component_state, check_contour_state,
                    rank_index, seed_similarity, stability_scores)

__all__ = ["DPI", "figure_png", "new_figure", "render_component", "render_time_course",
           "render_contours", "contour_colors", "render_stability_summary",
           "render_component_versions", "png_figure"]

DPI = 72  # modest: a map renders in ~0.1 s and weighs ~25 kB


def new_figure(width, height, facecolor="white"):
    fig = Figure(figsize=(width, height), facecolor=facecolor)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig, dpi=DPI):
    """PNG bytes of a figure (drawn with Agg)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    return buffer.getvalue()


def _zoom_3d(fig, zoom=1.3):
    """Enlarge the brains of 3D axes (matplotlib leaves wide margins around them)."""
    for ax in fig.axes:
        if getattr(ax, "name", None) == "3d":
            ax.set_box_aspect(None, zoom=zoom)


def _cuts(state_cut, display_mode):
    if state_cut is None or display_mode == "mosaic":
        return None
    return _cut_coords_for(display_mode, list(state_cut))


# --------------------------------------------------------------------------
# component browser
# --------------------------------------------------------------------------


def _draw_volume_map(maps, k, threshold, display_mode, cut_coords, cmap, fig, axes, title,
                     colorbar=True, annotate=True, caption=False):
    """Map ``k`` as :func:`nimf.plotting.plot_component` draws it (speckle filter,
    colour range, colourbar ticks and unit)."""
    from nilearn import plotting

    values, sign, hidden = maps.shown(k, threshold, _display.CLUSTER_THRESHOLD)
    cmap, vmin, vmax = _color_range(maps, k, cmap, shown=values)
    before = {id(c) for c in _display.colorbars(fig)}
    display = plotting.plot_stat_map(
        maps.volume(k, values=values), bg_img=_mni_template(), threshold=threshold,
        display_mode=display_mode, cut_coords=_cuts(cut_coords, display_mode), cmap=cmap,
        title=title, figure=fig, axes=axes, colorbar=colorbar, vmin=vmin, vmax=vmax,
        symmetric_cbar=vmin == -vmax, black_bg=True, draw_cross=False, annotate=annotate)
    _style_new_colorbars(fig, before, vmin, vmax, "white")
    if caption:
        _write_caption(fig, _component_caption(maps, k, threshold, _display.CLUSTER_THRESHOLD,
                                               sign, hidden), "0.85")
    return display


def render_component(maps, state, *, title=None, dpi=DPI):
    """PNG of one component map for a :class:`ComponentState`.

    Volume maps are drawn by :func:`nilearn.plotting.plot_stat_map` on the
    MNI152 template; surface maps by :func:`nilearn.plotting.plot_surf_stat_map`
    (matplotlib engine) on both hemispheres, ``state.display_mode`` being the
    view.

    Parameters
    ----------
    maps : nimf.plotting.components._Components
        From :func:`nimf.widgets._data.as_component_maps`.
    state : ComponentState
    title : str, default=None
    dpi : int, default=72

    Returns
    -------
    png : bytes
    """
    # the subject only changes the time course, not the map
    state = check_component_state(maps, replace(state, subject=None))
    k = state.component
    if maps.kind == "surface":
        fig = new_figure(7.0, 2.6)
        _plot_surface_component(maps, k, state.threshold, state.cmap, title, fig, None,
                                (state.display_mode,), "inflated", True)
        _zoom_3d(fig)
        return figure_png(fig, dpi)
    width = 9.0 if state.display_mode == "mosaic" else 6.4
    height = 4.5 if state.display_mode == "mosaic" else 2.4
    fig = new_figure(width, height + _CAPTION_HEIGHT, facecolor="black")
    axes = fig.add_axes([0.0, _CAPTION_HEIGHT / (height + _CAPTION_HEIGHT), 1.0,
                         height / (height + _CAPTION_HEIGHT)])
    axes.set_facecolor("black")
    _draw_volume_map(maps, k, state.threshold, state.display_mode, state.cut_coords,
                     state.cmap, fig, axes, title, caption=True)
    return figure_png(fig, dpi)


def render_time_course(values, *, component, subject, t_r=None, dpi=DPI):
    """PNG of a component's time course in one subject.

    Parameters
    ----------
    values : array-like of shape (n_scans,)
    component, subject : int
        For the title.
    t_r : float, default=None
        Repetition time: the x axis is in seconds when given, in scans otherwise.
    """
    values = np.asarray(values, dtype=float).ravel()
    fig = new_figure(4.2, 2.4)
    ax = fig.add_axes([0.16, 0.2, 0.8, 0.68])
    x = np.arange(values.size) * (t_r if t_r else 1.0)
    ax.plot(x, values, color="C0", linewidth=1.0)
    ax.axhline(0.0, color="0.6", linewidth=0.6)
    ax.set_xlabel("time (s)" if t_r else "scan")
    ax.set_ylabel("loading")
    ax.set_title(f"component {component}, subject {subject}", fontsize="medium")
    ax.tick_params(labelsize="small")
    return figure_png(fig, dpi)


# --------------------------------------------------------------------------
# contours
# --------------------------------------------------------------------------


def contour_colors(n_components, colors=None):
    """One RGBA colour per component (the colours of :mod:`nimf.plotting`)."""
    return _component_colors(colors, n_components)


def _faded(color):
    """A colour pushed towards grey, for the components that are not highlighted."""
    rgba = np.array(to_rgba(color))
    rgba[:3] = 0.35 * rgba[:3] + 0.65 * 0.55
    rgba[3] = 0.7
    return tuple(rgba)


def _legend(fig, ks, colors, highlight, text_color):
    if not ks:
        return
    handles = [Patch(facecolor=colors[k], edgecolor="white" if k == highlight else colors[k],
                     linewidth=2.0 if k == highlight else 0.5, label=str(k)) for k in ks]
    n_cols = min(len(ks), 16)
    fig.legend(handles=handles, loc="lower center", ncol=n_cols, frameon=False,
               fontsize="small", labelcolor=text_color, handlelength=1.2, columnspacing=0.9)


def render_contours(maps, state, thresholds, colors, *, title=None, dpi=DPI):
    """PNG of the selected components as contours on one brain.

    Parameters
    ----------
    maps : nimf.plotting.components._Components
    state : ContourState
    thresholds : ndarray of shape (n_components,)
        Contour level of each map (on absolute values).
    colors : list of RGBA tuples, one per component
    """
    state = check_contour_state(maps, state)
    shown = [k for k in state.selected if maps.peaks[k] > 0 and maps.peaks[k] >= thresholds[k]]
    draw_colors = [c if state.highlight in (None, k) else _faded(c)
                   for k, c in enumerate(colors)]
    # the highlighted map is drawn last, on top of the others
    order = sorted(shown, key=lambda k: k == state.highlight)
    legend_strip = 0.45
    # as plot_components_contours draws them: no speckle, a map's minority sign left out
    shown = np.zeros_like(maps.data)
    for k in order:
        shown[:, k] = maps.shown(k, float(thresholds[k]), _display.CLUSTER_THRESHOLD)[0]
    order = [k for k in order if np.any(shown[:, k])]
    if maps.kind == "surface":
        return _render_surface_contours(maps, state, order, shown, colors, draw_colors,
                                        title, legend_strip, dpi)
    from nilearn import plotting

    width, height = (9.0, 4.5) if state.display_mode == "mosaic" else (6.4, 2.4)
    fig = new_figure(width, height + legend_strip, facecolor="black")
    axes = fig.add_axes([0.0, legend_strip / (height + legend_strip), 1.0,
                         height / (height + legend_strip)])
    axes.set_facecolor("black")
    display = plotting.plot_anat(_mni_template(), display_mode=state.display_mode,
                                 cut_coords=_cuts(state.cut_coords, state.display_mode),
                                 figure=fig, axes=axes, title=title, black_bg=True,
                                 draw_cross=False, colorbar=False)
    filled = state.view_type == "filled_contours"
    for k in order:
        bold = k == state.highlight
        level = float(np.abs(shown[:, k])[shown[:, k] != 0].min()) / 2.0
        kwargs = {"levels": [level], "colors": [draw_colors[k]], "vmin": 0.0,
                  "vmax": float(np.abs(shown[:, k]).max())}
        if filled:
            kwargs.update(threshold=None, transparency=0.75 if bold else 0.5)
        else:
            kwargs.update(linewidths=3.0 if bold else 1.3)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Nn]o contour levels.*")
            display.add_contours(maps.volume(k, absolute=True, values=shown[:, k]),
                                 filled=filled, **kwargs)
    _label_volume_maps(display, maps, shown, draw_colors, order)
    _legend(fig, list(state.selected), colors, state.highlight, "white")
    return figure_png(fig, dpi)


def _render_surface_contours(maps, state, order, shown, colors, draw_colors, title,
                             legend_strip, dpi):
    from nilearn import plotting

    mesh, bg = _surface_geometry(maps, "inflated")
    hemis = list(maps.parts)
    height = 2.2
    fig = new_figure(3.2 * len(hemis), height + legend_strip)
    for i, hemi in enumerate(hemis):
        ax = fig.add_axes([i / len(hemis), legend_strip / (height + legend_strip),
                           1.0 / len(hemis), height / (height + legend_strip)], projection="3d")
        data = shown[maps.parts[hemi]]
        above = data != 0
        kwargs = dict(surf_mesh=mesh, hemi=hemi, view=state.display_mode, bg_map=bg[hemi],
                      axes=ax, figure=fig, colorbar=False)
        if state.view_type == "filled_contours" and order:
            # each vertex takes the colour of the drawn map highest there (relative to its peak)
            idx = np.array(order)
            score = np.where(above[:, idx], np.abs(data[:, idx]) / np.maximum(
                maps.peaks[idx], 1e-300), -1.0)
            labels = np.where(above[:, idx].any(axis=1), np.argmax(score, axis=1) + 1, 0)
            from matplotlib.colors import ListedColormap

            cmap = ListedColormap([draw_colors[k] for k in order])
            plotting.plot_surf(surf_map=labels.astype(float), cmap=cmap, vmin=0.5,
                               vmax=len(order) + 0.5, threshold=0.5, avg_method="median",
                               **kwargs)
        else:
            plotting.plot_surf(surf_map=np.zeros(data.shape[0]), vmin=0.0, vmax=1.0,
                               threshold=0.5, **kwargs)
        for k in order:
            region = above[:, k]
            if not region.any() or region.all():
                continue
            plotting.plot_surf_contours(surf_mesh=mesh, roi_map=region.astype(int), hemi=hemi,
                                        levels=[1], colors=[draw_colors[k]], axes=ax,
                                        figure=fig)
        coordinates = np.asarray(mesh.parts[hemi].coordinates, dtype=float)
        faces = np.asarray(mesh.parts[hemi].faces)
        _label_surface_maps(ax, coordinates, _vertex_normals(coordinates, faces), data, order,
                            draw_colors)
    _zoom_3d(fig, 1.45)
    if title is not None:
        fig.suptitle(title)
    _legend(fig, list(state.selected), colors, state.highlight, "black")
    return figure_png(fig, dpi)


# --------------------------------------------------------------------------
# stability
# --------------------------------------------------------------------------


def render_stability_summary(result, rank, component=None, *, dpi=DPI):
    """PNG of the stability at ``rank``: seed similarity, component scores, instability.

    Left: the mean matched similarity between every pair of fits (seeds), the
    best fit starred. Middle: each component's stability score
    (:func:`stability_scores`), sorted, ``component`` highlighted. Right: the
    instability against rank with its spread over pairs of seeds, ``rank``
    marked.
    """
    i = rank_index(result, rank)
    sim = seed_similarity(result, rank)
    scores = stability_scores(result, rank)
    n_seeds = sim.shape[0]
    best = int(result.best_seeds[i])
    fig = new_figure(10.5, 3.4)
    ax_sim = fig.add_axes([0.05, 0.17, 0.22, 0.68])
    image = ax_sim.imshow(sim, vmin=min(0.0, float(sim.min())), vmax=1.0, cmap="viridis")
    ticks = [f"{s}*" if s == best else str(s) for s in range(n_seeds)]
    ax_sim.set_xticks(range(n_seeds), ticks, fontsize="medium")
    ax_sim.set_yticks(range(n_seeds), ticks, fontsize="medium")
    ax_sim.set_xlabel("seed (* best fit)", fontsize="medium")
    ax_sim.set_title(f"similarity between fits, rank {rank}", fontsize="large")
    if n_seeds <= 8:
        for a in range(n_seeds):
            for b in range(n_seeds):
                ax_sim.text(b, a, f"{sim[a, b]:.2f}", ha="center", va="center",
                            fontsize="small", color="white" if sim[a, b] < 0.7 else "black")
    bar = fig.colorbar(image, ax=ax_sim, fraction=0.05, pad=0.03)
    bar.set_label("similarity", fontsize="medium")

    ax_bar = fig.add_axes([0.38, 0.17, 0.27, 0.68])
    order = np.argsort(-scores, kind="stable")
    bar_colors = ["C3" if k == component else "C0" for k in order]
    ax_bar.bar(np.arange(len(order)), scores[order], color=bar_colors)
    ax_bar.set_xticks(np.arange(len(order)), [str(k) for k in order],
                      fontsize="small" if len(order) > 12 else "medium")
    ax_bar.set_ylim(min(0.0, float(scores.min()) - 0.05), 1.05)
    ax_bar.set_xlabel("component (sorted)", fontsize="medium")
    ax_bar.set_ylabel("stability score", fontsize="medium")
    ax_bar.set_title(f"mean similarity {float(np.mean(result.similarity[i])):.3f}",
                     fontsize="large")

    ax_curve = fig.add_axes([0.74, 0.17, 0.24, 0.68])
    ranks = np.asarray(result.ranks)
    instability = np.asarray(result.instability, dtype=float)
    spread = np.asarray(result.instability_std, dtype=float)
    ax_curve.plot(ranks, instability, "-o", color="C3", markersize=4)
    ax_curve.fill_between(ranks, instability - spread, instability + spread, color="C3",
                          alpha=0.2)
    ax_curve.axvline(rank, color="k", linestyle=":")
    ax_curve.plot([rank], [instability[i]], "o", color="k")
    ax_curve.set_xticks(ranks)
    ax_curve.set_xlabel("rank", fontsize="medium")
    ax_curve.set_title(f"instability {instability[i]:.3f} at rank {rank}", fontsize="large")
    return figure_png(fig, dpi)


def render_component_versions(result, rank, component, *, masker=None, dpi=DPI):
    """PNG of one component as found by every seed, aligned to the best fit.

    With ``masker`` (anything with ``inverse_transform``, e.g. a fitted
    NiftiMasker or SurfaceMasker), each version is drawn as a brain map;
    otherwise as a line plot of the vector.  Each panel's title gives the
    version's similarity to the best fit's component.
    """
    i = rank_index(result, rank)
    k = int(rank)
    if not 0 <= component < k:
        raise ValueError(f"component must be an int in [0, {k - 1}] at rank {rank}, got "
                         f"{component!r}")
    sims = aligned_similarities(result, rank)[:, component]
    best = int(result.best_seeds[i])
    versions = [np.asarray(c[component], dtype=float) for c in result.components[i]]
    n_seeds = len(versions)
    titles = [f"seed {s}{' (best)' if s == best else ''}: {sims[s]:.3f}"
              for s in range(n_seeds)]
    if masker is None:
        fig = new_figure(6.4, 0.9 + 0.9 * n_seeds)
        for s, values in enumerate(versions):
            ax = fig.add_subplot(n_seeds, 1, s + 1)
            ax.plot(values, color="C3" if s == best else "C0", linewidth=0.8)
            ax.axhline(0.0, color="0.6", linewidth=0.5)
            ax.set_title(titles[s], fontsize="small", loc="left")
            ax.tick_params(labelsize="x-small")
            if s < n_seeds - 1:
                ax.set_xticklabels([])
        fig.suptitle(f"component {component} at rank {rank}, every seed", fontsize="medium")
        fig.subplots_adjust(hspace=0.6, top=1 - 0.45 / (0.9 + 0.9 * n_seeds))
        return figure_png(fig, dpi)
    from ..plotting.components import _Components

    stack = masker.inverse_transform(np.stack(versions))
    maps = _Components(stack, name="versions")
    if maps.kind == "surface":
        from nilearn import plotting

        mesh, bg = _surface_geometry(maps, "inflated")
        thresholds = maps.thresholds("auto")
        hemis = list(maps.parts)
        n_rows = (n_seeds + 1) // 2
        height = 0.35 + 1.7 * n_rows
        fig = new_figure(2.2 * len(hemis) * 2, height)
        for s in range(n_seeds):
            cmap, vmin, vmax = _color_range(maps, s, "RdBu_r")
            threshold = float(thresholds[s])
            for h, hemi in enumerate(hemis):
                ax = fig.add_subplot(n_rows, 2 * len(hemis), s * len(hemis) + h + 1,
                                     projection="3d")
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*vmin.*")
                    plotting.plot_surf_stat_map(
                        surf_mesh=mesh, stat_map=maps.hemi(hemi, s).astype(float),
                        bg_map=bg[hemi], hemi=hemi, view="lateral", cmap=cmap,
                        threshold=threshold, vmin=vmin, vmax=vmax,
                        symmetric_cbar=vmin == -vmax, colorbar=h == len(hemis) - 1,
                        axes=ax, figure=fig)
                if h == 0:
                    ax.set_title(titles[s], fontsize="small")
        fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - 0.35 / height, wspace=0,
                            hspace=0.15)
        _zoom_3d(fig)
        return figure_png(fig, dpi)
    peak = maps.world(int(np.argmax(np.abs(maps.data[:, best]))))
    thresholds = maps.thresholds("auto")
    fig = new_figure(5.6, 1.75 * n_seeds, facecolor="black")
    for s in range(n_seeds):
        axes = fig.add_axes([0.0, 1 - (s + 1) / n_seeds, 1.0, 0.9 / n_seeds])
        # each version with its colour scale: the seeds' loadings differ in size
        _draw_volume_map(maps, s, float(thresholds[s]), "ortho", peak, "RdBu_r", fig, axes,
                         titles[s], colorbar=True, annotate=False)
    return figure_png(fig, dpi)


# --------------------------------------------------------------------------
# static figures
# --------------------------------------------------------------------------


def png_figure(pngs, titles=None, width=10.0):
    """A matplotlib Figure showing PNGs side by side (the viewers' static fallback)."""
    import matplotlib.image as mpimg

    images = [mpimg.imread(io.BytesIO(p), format="png") for p in pngs]
    ratios = [im.shape[1] / im.shape[0] for im in images]
    height = width / sum(ratios)
    fig = new_figure(width, height + (0.3 if titles else 0.0))
    left = 0.0
    for n, (im, ratio) in enumerate(zip(images, ratios)):
        w = ratio / sum(ratios)
        ax = fig.add_axes([left, 0.0, w, height / (height + (0.3 if titles else 0.0))])
        ax.imshow(im)
        ax.set_axis_off()
        if titles:
            ax.set_title(titles[n], fontsize="small")
        left += w
    return fig
