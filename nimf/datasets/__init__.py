"""Generated data sets: planted dictionaries and synthetic resting-state studies."""

from .synthetic import make_sparse_dictionary_data

__all__ = ["make_sparse_dictionary_data"]
