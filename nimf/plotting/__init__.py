"""Figures and reports of component maps.

This subpackage imports matplotlib; ``import nimf`` does not import it.
"""

from .assessment import factor_order, plot_cv, plot_error_curve, plot_factors, plot_stability
from .components import plot_component, plot_components_contours, save_component_images
from .convergence import plot_convergence
from .report import write_html_report
from .tensor import plot_tensor_factors

__all__ = ["plot_components_contours", "plot_component", "save_component_images",
           "write_html_report", "plot_error_curve", "plot_stability", "plot_cv", "plot_factors",
           "factor_order", "plot_convergence", "plot_tensor_factors"]
