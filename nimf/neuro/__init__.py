"""nilearn estimators: 4D and surface images in, component maps out."""

from .dict_learning import DictLearning
from .nmf import NMF
from .sparse_pca import SparsePCA
from .study import MaskedStudy, mask_study

__all__ = ["DictLearning", "NMF", "SparsePCA", "MaskedStudy", "mask_study"]
