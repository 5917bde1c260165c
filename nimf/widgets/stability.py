"""StabilityViewer: the components' reproducibility across seeds, rank by rank."""

import ipywidgets as widgets
import numpy as np

from ._cache import PNGCache, _image_layout
from ._data import (_check_index, check_stability_result, rank_index, stability_scores)
from ._html import Control, Panel, write_viewer_html
from ._render import png_figure, render_component_versions, render_stability_summary

__all__ = ["StabilityViewer"]


def _n_mask_elements(masker):
    mask = getattr(masker, "mask_img_", None)
    if mask is None:
        return None
    if hasattr(mask, "data") and hasattr(mask.data, "parts"):  # SurfaceImage
        return int(sum(np.asarray(p).astype(bool).sum() for p in mask.data.parts.values()))
    return int(np.asarray(mask.dataobj).astype(bool).sum())


def check_masker(masker, mask_img, n_features):
    """A fitted masker turning component vectors of ``n_features`` into images, or None."""
    if masker is not None and mask_img is not None:
        raise ValueError("give masker or mask_img, not both: got a masker and a mask_img")
    if mask_img is not None:
        from nilearn.surface import SurfaceImage

        if isinstance(mask_img, SurfaceImage):
            from nilearn.maskers import SurfaceMasker

            masker = SurfaceMasker(mask_img=mask_img).fit()
        else:
            from nilearn.image import load_img
            from nilearn.maskers import NiftiMasker

            mask_img = load_img(mask_img)
            if len(mask_img.shape) != 3:
                raise ValueError(f"mask_img: expected a 3D mask image, got a "
                                 f"{len(mask_img.shape)}D image of shape {mask_img.shape}")
            masker = NiftiMasker(mask_img=mask_img).fit()
    if masker is None:
        return None
    masker = getattr(masker, "masker_", masker)  # a fitted nimf.neuro estimator
    if not hasattr(masker, "inverse_transform"):
        raise ValueError(f"masker must be a fitted masker with inverse_transform (e.g. a "
                         f"NiftiMasker), got {type(masker).__name__}")
    n_mask = _n_mask_elements(masker)
    if n_mask is not None and n_mask != n_features:
        raise ValueError(f"the mask must hold one voxel (vertex) per component feature: "
                         f"expected {n_features}, got a mask of {n_mask}")
    return masker


class StabilityViewer(widgets.VBox):
    """Browse the result of :func:`nimf.assessment.stability`.

    A rank picker chooses one of the assessed ranks.  For that rank the viewer
    draws the mean matched similarity between every pair of fits (seeds),
    each component's stability score (:func:`nimf.widgets.stability_scores`:
    its mean matched similarity to the best fit's component across seeds;
    their mean is the mean of ``result.similarity`` at that rank) as sorted
    bars, and the instability against rank with the chosen rank marked.  A
    component picker shows that component as found by every seed, aligned to
    the best fit: as brain maps when a masker (or mask image) turns the
    component vectors into images, as line plots otherwise.

    Parameters
    ----------
    result : StabilityResult
        From :func:`nimf.assessment.stability`.
    masker : fitted masker or fitted nimf.neuro estimator, default=None
        Anything with ``inverse_transform`` from component vectors to images
        (a NiftiMasker or SurfaceMasker fitted on the data that was assessed).
    mask_img : Niimg-like or SurfaceImage, default=None
        A mask to build that masker from (instead of ``masker``).
    rank : int, default=None
        Rank shown first; the first assessed rank by default.
    component : int, default=0
    dpi : int, default=72

    Attributes
    ----------
    rank_dropdown : ipywidgets.Dropdown
    component_dropdown : ipywidgets.Dropdown
        Labels give each component's stability score.
    summary_image : ipywidgets.Image
        Similarity between seeds, sorted scores, instability curve
        (DOM class ``nimf-stability-summary``).
    versions_image : ipywidgets.Image
        The chosen component in every seed (DOM class ``nimf-stability-versions``).
    info : ipywidgets.HTML
        The numbers of the current rank and component.
    """

    def __init__(self, result, *, masker=None, mask_img=None, rank=None, component=0, dpi=72):
        check_stability_result(result)
        self._result = result
        ranks = [int(r) for r in np.asarray(result.ranks).ravel()]
        if rank is None:
            rank = ranks[0]
        i = rank_index(result, rank)
        component = _check_index(component, ranks[i], f"component (at rank {rank})")
        n_features = np.asarray(result.best_components[i]).shape[1]
        self._masker = check_masker(masker, mask_img, n_features)
        # scores of every rank up front: a result that was tampered with fails here
        self._scores = {r: stability_scores(result, r) for r in ranks}
        self._dpi = dpi
        self._cache = PNGCache()
        self._updating = False

        self.rank_dropdown = widgets.Dropdown(options=ranks, value=int(rank),
                                              description="rank")
        self.component_dropdown = widgets.Dropdown(
            options=self._component_options(int(rank)), value=component,
            description="component")
        self.summary_image = widgets.Image(format="png", layout=_image_layout())
        self.summary_image.add_class("nimf-stability-summary")
        self.versions_image = widgets.Image(format="png", layout=_image_layout())
        self.versions_image.add_class("nimf-stability-versions")
        self.info = widgets.HTML()
        self.rank_dropdown.observe(self._on_rank, names="value")
        self.component_dropdown.observe(self._on_component, names="value")
        super().__init__(children=[
            widgets.HBox([self.rank_dropdown, self.component_dropdown]), self.info,
            self.summary_image, self.versions_image])
        self.add_class("nimf-stability-viewer")
        self._redraw()

    def scores(self, rank):
        """Stability score of each component at ``rank`` (ndarray of shape (rank,))."""
        rank_index(self._result, rank)
        return self._scores[int(rank)].copy()

    def _component_options(self, rank):
        return [(f"{j} (score {s:.3f})", j) for j, s in enumerate(self._scores[rank])]

    @property
    def rank(self):
        return int(self.rank_dropdown.value)

    @property
    def component(self):
        return int(self.component_dropdown.value)

    def _on_rank(self, change):
        rank = int(change["new"])
        self._updating = True
        try:
            keep = min(self.component, rank - 1)
            self.component_dropdown.options = self._component_options(rank)
            self.component_dropdown.value = keep
        finally:
            self._updating = False
        self._redraw()

    def _on_component(self, change):
        if not self._updating:
            self._redraw()

    def summary_png(self, rank, component):
        return self._cache.get(("summary", rank, component), lambda: render_stability_summary(
            self._result, rank, component, dpi=self._dpi))

    def versions_png(self, rank, component):
        return self._cache.get(("versions", rank, component), lambda: render_component_versions(
            self._result, rank, component, masker=self._masker, dpi=self._dpi))

    def _info_text(self, rank, component):
        i = rank_index(self._result, rank)
        r = self._result
        return (f"rank {rank}: mean similarity to the best fit "
                f"{float(np.mean(r.similarity[i])):.3f}, instability "
                f"{float(r.instability[i]):.3f} &plusmn; {float(r.instability_std[i]):.3f}; "
                f"<b>component {component}: stability score "
                f"{self._scores[rank][component]:.3f}</b>")

    def _redraw(self):
        rank, component = self.rank, self.component
        self.summary_image.value = self.summary_png(rank, component)
        self.versions_image.value = self.versions_png(rank, component)
        self.info.value = self._info_text(rank, component)

    def static_figure(self):
        """A matplotlib Figure of the current rank and component: the fallback."""
        return png_figure([self.summary_png(self.rank, self.component)])

    def save_html(self, path, title="nimf stability across seeds"):
        """Write a standalone HTML page with every rank and component pre-rendered.

        Returns
        -------
        path : str
        """
        ranks = [int(r) for r in np.asarray(self._result.ranks).ravel()]
        summaries, versions = {}, {}
        for rank in ranks:
            for j in range(rank):
                summaries[(rank, j)] = self.summary_png(rank, j)
                versions[(rank, j)] = self.versions_png(rank, j)
        controls = [Control("rank", "rank", [(r, r) for r in ranks], value=self.rank),
                    Control("component", "component", [(j, j) for j in range(max(ranks))],
                            value=self.component)]
        panels = [Panel("summary", ["rank", "component"], summaries,
                        caption="similarity between seeds, stability scores, instability"),
                  Panel("versions", ["rank", "component"], versions,
                        caption="the component in every seed, aligned to the best fit")]
        return write_viewer_html(path, title, controls, panels,
                                 description=f"stability across seeds at ranks {ranks}")
