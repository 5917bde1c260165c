"""Generated data sets: planted dictionaries, synthetic resting-state studies, ratings."""

from .ratings import make_ratings
from .rest import iter_rest_study, make_rest_study, make_surface_rest_study
from .synthetic import make_sparse_dictionary_data

__all__ = ["make_sparse_dictionary_data", "make_rest_study", "iter_rest_study",
           "make_surface_rest_study", "make_ratings"]
