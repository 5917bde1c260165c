"""ComponentBrowser: one component map at a time, with its time course."""

import ipywidgets as widgets
import numpy as np

from ._cache import PNGCache, _image_layout
from ._data import (COLORMAPS, _check_index, ComponentState, as_component_maps, auto_thresholds,
                    check_component_state, check_training_images, component_labels,
                    display_modes, explained_variance_of, peak_coords, subject_time_courses,
                    world_bounds)
from ._html import Control, Panel, write_viewer_html
from ._render import _cuts, png_figure, render_component, render_time_course

__all__ = ["ComponentBrowser"]


class ComponentBrowser(widgets.VBox):
    """Browse component maps in a notebook, one at a time.

    A slider and a drop-down (labelled with each map's explained variance when
    the estimator stores ``explained_variance_``) pick the component; a
    threshold slider, the display mode, the cut coordinates (x, y, z sliders,
    at the component's peak by default) and the colormap change how it is
    drawn.  Volume maps are drawn with :func:`nilearn.plotting.plot_stat_map`
    on the MNI152 template, surface maps on the fsaverage mesh (matplotlib
    engine; the display mode is then the view).  When a fitted estimator and
    its training images are given, the component's time course in the chosen
    subject is drawn beside the map.

    Every drawing is a PNG rendered with Agg and cached by the full state, so
    going back to a component is instant.  The viewer is an
    :class:`ipywidgets.VBox`: display it, or make it the last expression of a
    cell.

    Parameters
    ----------
    estimator_or_img : fitted image estimator, 4D Niimg-like, str, path or SurfaceImage
        A fitted :mod:`nimf.neuro` estimator (its ``components_img_`` is
        drawn), or a stack of maps: a 4D image whose last axis indexes the
        components, or a SurfaceImage with one sample per component.
    imgs : list of Niimg-like or SurfaceImage, default=None
        The subjects' images, for time courses (needs an estimator).
    confounds : list, default=None
        One entry per image, passed to ``transform``.
    component : int, default=0
        Component shown first.
    threshold : float, default=None
        Threshold of the first component, in [0, its peak absolute value];
        None: the automatic threshold of :mod:`nimf.plotting` (the larger of
        10% of the peak and the top-10%-of-the-brain value).
    display_mode : str, default=None
        "ortho", "x", "y", "z" or "mosaic" for volumes (default "ortho"); a
        view ("lateral", "medial", ...) for surfaces (default "lateral").
    cmap : str, default="RdBu_r"
    dpi : int, default=72

    Attributes
    ----------
    component_slider : ipywidgets.IntSlider
        Picks the component (DOM class ``nimf-component-slider``).
    component_dropdown : ipywidgets.Dropdown
        The same choice, by label; kept in sync with the slider.
    threshold_slider : ipywidgets.FloatSlider
        From 0 to the component's peak absolute value; reset to the
        component's automatic threshold when the component changes.
    display_mode_dropdown, cmap_dropdown : ipywidgets.Dropdown
    cut_sliders : tuple of 3 ipywidgets.FloatSlider
        x, y and z world coordinates of the cuts (volumes only).
    subject_dropdown : ipywidgets.Dropdown
        Subject of the time course (disabled without ``imgs``).
    image : ipywidgets.Image
        PNG of the current map (DOM class ``nimf-component-map``).
    time_course_image : ipywidgets.Image
        PNG of the current time course (empty without ``imgs``).
    info : ipywidgets.HTML
        The current component's label and explained variance.
    labels : list of str
        The label of each component.

    Examples
    --------
    >>> from nimf.widgets import ComponentBrowser      # doctest: +SKIP
    >>> browser = ComponentBrowser(dict_learning, imgs=study.func)  # doctest: +SKIP
    >>> browser                                         # doctest: +SKIP
    """

    def __init__(self, estimator_or_img, *, imgs=None, confounds=None, component=0,
                 threshold=None, display_mode=None, cmap="RdBu_r", dpi=72):
        maps, estimator = as_component_maps(estimator_or_img)
        imgs, confounds = check_training_images(estimator, imgs, confounds)
        modes = display_modes(maps)
        if display_mode is None:
            display_mode = modes[0]
        self._maps = maps
        self._estimator = estimator
        self._imgs = imgs
        self._confounds = confounds
        self._dpi = dpi
        self._auto = auto_thresholds(maps)
        self._explained_variance = explained_variance_of(estimator, maps.n_components)
        self.labels = component_labels(maps.n_components, self._explained_variance)
        self._t_r = getattr(estimator, "t_r", None) if estimator is not None else None
        # the first state is checked before any widget exists: bad input fails early
        component = _check_index(component, maps.n_components, "component")
        first = check_component_state(maps, ComponentState(
            component=component,
            threshold=float(self._auto[component]) if threshold is None else threshold,
            display_mode=display_mode, cut_coords=peak_coords(maps, component), cmap=cmap,
            subject=0 if imgs else None), n_subjects=len(imgs))
        self._cache = PNGCache()
        self._time_courses = {}
        self._updating = False

        n = maps.n_components
        self.component_slider = widgets.IntSlider(
            value=first.component, min=0, max=n - 1, step=1, description="component",
            continuous_update=True)
        self.component_slider.add_class("nimf-component-slider")
        self.component_dropdown = widgets.Dropdown(
            options=[(label, k) for k, label in enumerate(self.labels)],
            value=first.component, description="")
        widgets.link((self.component_slider, "value"), (self.component_dropdown, "value"))
        peak = float(maps.peaks[first.component])
        self.threshold_slider = widgets.FloatSlider(
            value=first.threshold, min=0.0, max=peak, step=peak / 100 if peak > 0 else 0.01,
            description="threshold", readout_format=".3g", continuous_update=False)
        self.display_mode_dropdown = widgets.Dropdown(
            options=list(modes), value=first.display_mode,
            description="view" if maps.kind == "surface" else "display")
        cmaps = list(COLORMAPS) if cmap in COLORMAPS else [cmap] + list(COLORMAPS)
        self.cmap_dropdown = widgets.Dropdown(options=cmaps, value=cmap, description="cmap")
        if maps.kind == "volume":
            bounds = world_bounds(maps)
            self.cut_sliders = tuple(
                widgets.FloatSlider(value=float(np.clip(v, lo, hi)), min=lo, max=hi, step=1.0,
                                    description=axis, readout_format=".0f",
                                    continuous_update=False)
                for axis, v, (lo, hi) in zip("xyz", first.cut_coords, bounds))
        else:
            self.cut_sliders = tuple(
                widgets.FloatSlider(value=0.0, description=axis, disabled=True)
                for axis in "xyz")
        self.subject_dropdown = widgets.Dropdown(
            options=[(f"subject {s}", s) for s in range(len(imgs))] or [("no images", None)],
            value=first.subject, description="subject", disabled=not imgs)
        self.image = widgets.Image(format="png", layout=_image_layout())
        self.image.add_class("nimf-component-map")
        self.time_course_image = widgets.Image(format="png", layout=_image_layout())
        self.time_course_image.add_class("nimf-time-course")
        self.info = widgets.HTML()

        self.component_slider.observe(self._on_component, names="value")
        for control in (self.threshold_slider, self.display_mode_dropdown, self.cmap_dropdown,
                        self.subject_dropdown) + self.cut_sliders:
            control.observe(self._on_control, names="value")

        rows = [widgets.HBox([self.component_slider, self.component_dropdown]),
                widgets.HBox([self.threshold_slider, self.display_mode_dropdown,
                              self.cmap_dropdown])]
        if maps.kind == "volume":
            rows.append(widgets.HBox(list(self.cut_sliders)))
        if imgs:
            rows.append(self.subject_dropdown)
        rows.append(self.info)
        panels = [self.image] + ([self.time_course_image] if imgs else [])
        rows.append(widgets.HBox(panels))
        super().__init__(children=rows)
        self.add_class("nimf-component-browser")
        self._redraw()

    # ------------------------------------------------------------------ state
    def _peak(self, k):
        return peak_coords(self._maps, k)

    @property
    def state(self):
        """The :class:`ComponentState` drawn now."""
        cut = None
        if self._maps.kind == "volume":
            cut = tuple(float(s.value) for s in self.cut_sliders)
        return ComponentState(component=int(self.component_slider.value),
                              threshold=float(self.threshold_slider.value),
                              display_mode=self.display_mode_dropdown.value,
                              cut_coords=cut, cmap=self.cmap_dropdown.value,
                              subject=self.subject_dropdown.value if self._imgs else None)

    def _on_component(self, change):
        k = int(change["new"])
        # move the threshold and the cuts to the new component, then draw once
        self._updating = True
        try:
            peak = float(self._maps.peaks[k])
            slider = self.threshold_slider
            if peak > slider.max:
                slider.max = peak
                slider.value = float(self._auto[k])
            else:
                slider.value = float(self._auto[k])
                slider.max = peak
            slider.step = peak / 100 if peak > 0 else 0.01
            if self._maps.kind == "volume":
                for s, v in zip(self.cut_sliders, self._peak(k)):
                    s.value = float(np.clip(v, s.min, s.max))
        finally:
            self._updating = False
        self._redraw()

    def _on_control(self, change):
        if not self._updating:
            self._redraw()

    # ---------------------------------------------------------------- drawing
    def map_png(self, state):
        """PNG of the map for ``state`` (cached)."""
        state = check_component_state(self._maps, state, n_subjects=len(self._imgs))
        # only the cuts the display mode uses: moving y in an "x" view draws nothing new
        cuts = _cuts(state.cut_coords, state.display_mode)
        key = ("map", state.component, state.threshold, state.display_mode,
               None if cuts is None else tuple(cuts), state.cmap)
        return self._cache.get(key, lambda: render_component(
            self._maps, state, title=self.labels[state.component], dpi=self._dpi))

    def time_course(self, subject):
        """Time courses of every component in ``subject``: (n_scans, n_components)."""
        if subject not in self._time_courses:
            self._time_courses[subject] = subject_time_courses(
                self._estimator, self._imgs, self._confounds, subject)
        return self._time_courses[subject]

    def time_course_png(self, state):
        """PNG of the time course for ``state`` (cached); None without images."""
        if not self._imgs or state.subject is None:
            return None
        key = ("time course", state.component, state.subject)
        return self._cache.get(key, lambda: render_time_course(
            self.time_course(state.subject)[:, state.component], component=state.component,
            subject=state.subject, t_r=self._t_r, dpi=self._dpi))

    def _info_text(self, k):
        text = f"<b>{self.labels[k]}</b> &mdash; peak |value| {self._maps.peaks[k]:.3g}"
        if self._explained_variance is not None:
            text += (f", explained variance {100 * self._explained_variance[k]:.1f}% "
                     "(this map alone)")
        return text

    def _redraw(self):
        state = self.state
        self.image.value = self.map_png(state)
        png = self.time_course_png(state)
        if png is not None:
            self.time_course_image.value = png
        self.info.value = self._info_text(state.component)

    # ---------------------------------------------------------------- outputs
    def static_figure(self):
        """A matplotlib Figure of the current map (and time course): the fallback."""
        state = self.state
        pngs = [self.map_png(state)]
        tc = self.time_course_png(state)
        if tc is not None:
            pngs.append(tc)
        return png_figure(pngs)

    def save_html(self, path, title="nimf components"):
        """Write a standalone HTML page with every component pre-rendered.

        Each component is drawn at its automatic threshold and peak cuts, with
        the current display mode and colormap; a slider (arrow keys work) and
        a select box switch between them without a kernel.  The time course
        of the current subject is included when images were given.

        Returns
        -------
        path : str
        """
        state = self.state
        n = self._maps.n_components
        maps_frames, tc_frames = {}, {}
        for k in range(n):
            s = ComponentState(component=k, threshold=float(self._auto[k]),
                               display_mode=state.display_mode, cut_coords=self._peak(k),
                               cmap=state.cmap, subject=state.subject)
            maps_frames[(k,)] = self.map_png(s)
            png = self.time_course_png(s)
            if png is not None:
                tc_frames[(k,)] = png
        options = [(k, label) for k, label in enumerate(self.labels)]
        controls = [Control("component", "component", options, kind="range",
                            value=state.component)]
        panels = [Panel("map", ["component"], maps_frames, caption="component map")]
        if tc_frames:
            panels.append(Panel("time_course", ["component"], tc_frames,
                                caption=f"time course, subject {state.subject}"))
        return write_viewer_html(path, title, controls, panels,
                                 description=f"{n} component maps")
