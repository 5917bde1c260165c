"""Matrix factorization estimators working on arrays."""

from .online import OnlineDictionaryLearning, online_dict_learning

__all__ = ["OnlineDictionaryLearning", "online_dict_learning"]
