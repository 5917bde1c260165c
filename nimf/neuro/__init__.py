"""nilearn estimators: 4D and surface images in, component maps out."""

from .dict_learning import DictLearning

__all__ = ["DictLearning"]
