"""Generated data sets: planted dictionaries, synthetic resting-state studies, ratings, neural tensors."""

from .ratings import make_ratings
from .rest import iter_rest_study, make_rest_study, make_surface_rest_study
from .synthetic import make_sparse_dictionary_data
from .tensor import make_neural_tensor

__all__ = ["make_sparse_dictionary_data", "make_rest_study", "iter_rest_study",
           "make_surface_rest_study", "make_ratings", "make_neural_tensor"]
