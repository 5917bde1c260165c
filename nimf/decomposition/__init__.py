"""Matrix factorization estimators working on arrays."""

from .nmf import NMF
from .online import OnlineDictionaryLearning, online_dict_learning
from .sparse_pca import SparsePCA

__all__ = ["OnlineDictionaryLearning", "online_dict_learning", "NMF", "SparsePCA"]
