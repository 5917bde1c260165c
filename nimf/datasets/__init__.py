"""Generated data sets: planted dictionaries and synthetic resting-state studies."""

from .rest import make_rest_study, make_surface_rest_study
from .synthetic import make_sparse_dictionary_data

__all__ = ["make_sparse_dictionary_data", "make_rest_study",
           "make_surface_rest_study"]
