"""ContourViewer: every component map as a contour on one brain."""

import ipywidgets as widgets
import numpy as np

from ._cache import PNGCache, _image_layout
from ._data import (VIEW_TYPES, ContourState, _check_index, as_component_maps,
                    auto_thresholds, check_contour_state, component_labels, display_modes,
                    explained_variance_of, world_bounds)
from ._html import Control, Panel, write_viewer_html
from ._render import contour_colors, png_figure, render_contours

__all__ = ["ContourViewer"]


def _densest_cut(maps, thresholds):
    from ..plotting.components import _densest_cuts

    return _densest_cuts(maps, thresholds)


class ContourViewer(widgets.VBox):
    """All component maps on one brain, as contours or filled contours.

    Like :func:`nilearn.plotting.plot_prob_atlas` (``view_type="contours"``
    or ``"filled_contours"``), each map is outlined at its threshold in its
    own colour, with a legend of the colours.  Components are toggled on and
    off (a multiple-selection list, "all" and "none" buttons), one can be
    highlighted (drawn bold, the others fade), and the cuts move with x, y, z
    sliders (volumes; the display mode is the view for surfaces).

    Parameters
    ----------
    estimator_or_img : fitted image estimator, 4D Niimg-like, str, path or SurfaceImage
        The component maps (see :class:`ComponentBrowser`).
    threshold : "auto" or float, default="auto"
        Contour level on the absolute values: "auto" gives each map the
        threshold of :func:`nimf.plotting.plot_components_contours`; a number
        in [0, the smallest peak absolute value] is used for every map.
    view_type : {"contours", "filled_contours"}, default="contours"
    display_mode : str, default=None
        "ortho", "x", "y", "z" or "mosaic" for volumes (default "ortho"); a
        view for surfaces (default "lateral").
    colors : str or list of colours, default=None
        As in :func:`nimf.plotting.plot_components_contours`.
    dpi : int, default=72

    Attributes
    ----------
    select : ipywidgets.SelectMultiple
        The components drawn.
    all_button, none_button : ipywidgets.Button
    highlight_dropdown : ipywidgets.Dropdown
        The highlighted component (None: no highlight).
    view_type_dropdown, display_mode_dropdown : ipywidgets.Dropdown
    cut_sliders : tuple of 3 ipywidgets.FloatSlider
    image : ipywidgets.Image
        PNG of the contours (DOM class ``nimf-contour-map``).
    colors : list of RGBA tuples
        The colour of each component.
    thresholds : ndarray of shape (n_components,)
    """

    def __init__(self, estimator_or_img, *, threshold="auto", view_type="contours",
                 display_mode=None, colors=None, dpi=72):
        maps, estimator = as_component_maps(estimator_or_img)
        n = maps.n_components
        if isinstance(threshold, str) and threshold == "auto":
            thresholds = auto_thresholds(maps, contours=True)
        else:
            low = float(maps.peaks.min())
            if (isinstance(threshold, (bool, np.bool_))
                    or not isinstance(threshold, (int, float, np.floating, np.integer))
                    or not np.isfinite(threshold) or not 0 <= threshold <= low):
                raise ValueError(
                    f"threshold must be 'auto' or a number in [0, {low:.4g}] (up to the "
                    f"smallest peak absolute value of the maps), got {threshold!r}")
            thresholds = np.maximum(np.full(n, float(threshold)), 1e-6 * maps.peaks)
        modes = display_modes(maps)
        if display_mode is None:
            display_mode = modes[0]
        cut = None
        if maps.kind == "volume":
            cut = _densest_cut(maps, thresholds)
        first = check_contour_state(maps, ContourState(
            selected=tuple(range(n)), highlight=None, view_type=view_type,
            display_mode=display_mode, cut_coords=None if cut is None else tuple(cut)))
        self._maps = maps
        self._dpi = dpi
        self.thresholds = thresholds
        self.colors = contour_colors(n, colors)
        self.labels = component_labels(n, explained_variance_of(estimator, n))
        self._cache = PNGCache()
        self._updating = False

        self.select = widgets.SelectMultiple(
            options=[(label, k) for k, label in enumerate(self.labels)],
            value=first.selected, rows=min(n, 8), description="shown")
        self.all_button = widgets.Button(description="all", layout=widgets.Layout(width="4em"))
        self.none_button = widgets.Button(description="none",
                                          layout=widgets.Layout(width="4em"))
        self.all_button.on_click(lambda _: self.show(range(n)))
        self.none_button.on_click(lambda _: self.show(()))
        self.highlight_dropdown = widgets.Dropdown(
            options=[("none", None)] + [(label, k) for k, label in enumerate(self.labels)],
            value=None, description="highlight")
        self.view_type_dropdown = widgets.Dropdown(options=list(VIEW_TYPES),
                                                   value=first.view_type, description="style")
        self.display_mode_dropdown = widgets.Dropdown(
            options=list(modes), value=first.display_mode,
            description="view" if maps.kind == "surface" else "display")
        if maps.kind == "volume":
            start = first.cut_coords or (0.0, 0.0, 0.0)
            self.cut_sliders = tuple(
                widgets.FloatSlider(value=float(np.clip(v, lo, hi)), min=lo, max=hi, step=1.0,
                                    description=axis, readout_format=".0f",
                                    continuous_update=False)
                for axis, v, (lo, hi) in zip("xyz", start, world_bounds(maps)))
        else:
            self.cut_sliders = tuple(widgets.FloatSlider(value=0.0, description=a,
                                                         disabled=True) for a in "xyz")
        self.image = widgets.Image(format="png", layout=_image_layout())
        self.image.add_class("nimf-contour-map")
        for control in (self.select, self.highlight_dropdown, self.view_type_dropdown,
                        self.display_mode_dropdown) + self.cut_sliders:
            control.observe(self._on_control, names="value")
        rows = [widgets.HBox([self.select, widgets.VBox([self.all_button, self.none_button]),
                              widgets.VBox([self.highlight_dropdown, self.view_type_dropdown,
                                            self.display_mode_dropdown])])]
        if maps.kind == "volume":
            rows.append(widgets.HBox(list(self.cut_sliders)))
        rows.append(self.image)
        super().__init__(children=rows)
        self.add_class("nimf-contour-viewer")
        self._redraw()

    @property
    def state(self):
        """The :class:`ContourState` drawn now."""
        cut = None
        if self._maps.kind == "volume":
            cut = tuple(float(s.value) for s in self.cut_sliders)
        return ContourState(selected=tuple(sorted(self.select.value)),
                            highlight=self.highlight_dropdown.value,
                            view_type=self.view_type_dropdown.value,
                            display_mode=self.display_mode_dropdown.value, cut_coords=cut)

    def show(self, components):
        """Draw exactly ``components`` (indices); the others are toggled off."""
        n = self._maps.n_components
        selected = tuple(sorted({_check_index(k, n, "components") for k in components}))
        self.select.value = selected

    def _on_control(self, change):
        if not self._updating:
            self._redraw()

    def contours_png(self, state):
        """PNG of the contours for ``state`` (cached)."""
        state = check_contour_state(self._maps, state)
        return self._cache.get(state, lambda: render_contours(
            self._maps, state, self.thresholds, self.colors, dpi=self._dpi))

    def _redraw(self):
        self.image.value = self.contours_png(self.state)

    def static_figure(self):
        """A matplotlib Figure of the current contours: the fallback."""
        return png_figure([self.contours_png(self.state)])

    def save_html(self, path, title="nimf component contours"):
        """Write a standalone HTML page: all components, and each one highlighted.

        The page has a select box of the highlighted component ("none" draws
        every map alike) and of the style (contours or filled contours), at
        the current cuts and display mode, with every component shown.

        Returns
        -------
        path : str
        """
        current = self.state
        n = self._maps.n_components
        frames = {}
        for view_type in VIEW_TYPES:
            for highlight in [None] + list(range(n)):
                state = ContourState(selected=tuple(range(n)), highlight=highlight,
                                     view_type=view_type, display_mode=current.display_mode,
                                     cut_coords=current.cut_coords)
                frames[("none" if highlight is None else highlight, view_type)] = \
                    self.contours_png(state)
        controls = [
            Control("highlight", "highlight",
                    [("none", "none")] + [(k, label) for k, label in enumerate(self.labels)]),
            Control("style", "style", [(v, v) for v in VIEW_TYPES], value=current.view_type)]
        panels = [Panel("contours", ["highlight", "style"], frames,
                        caption=f"{n} components")]
        return write_viewer_html(path, title, controls, panels,
                                 description=f"{n} component maps as contours")
