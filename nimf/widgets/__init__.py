"""Notebook viewers of fitted decompositions, built on ipywidgets.

- :class:`ComponentBrowser`: one component map at a time (volume or surface),
  its threshold, cuts and colormap, and its time course in a chosen subject.
- :class:`ContourViewer`: all maps as contours on one brain, toggled on and
  off, one highlighted.
- :class:`StabilityViewer`: the result of :func:`nimf.assessment.stability`:
  similarity between seeds, per-component stability, aligned versions of a
  component, instability against rank.

Each viewer has ``save_html(path)`` (a standalone page, no kernel needed)
and ``static_figure()`` (a matplotlib Figure).  The widgets only wire
controls to the pure functions of ``nimf.widgets._data`` (what to draw) and
``nimf.widgets._render`` (drawing a state to PNG bytes), which are tested
without a browser.

This subpackage imports ipywidgets and matplotlib; ``import nimf`` does not.
"""

from ._data import (ComponentState, ContourState, component_labels, seed_similarity,
                    stability_scores)
from .browser import ComponentBrowser
from .contours import ContourViewer
from .stability import StabilityViewer

__all__ = ["ComponentBrowser", "ContourViewer", "StabilityViewer", "ComponentState",
           "ContourState", "component_labels", "stability_scores", "seed_similarity"]
