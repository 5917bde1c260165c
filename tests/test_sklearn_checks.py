"""scikit-learn's estimator checks."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from nimf.decomposition import OnlineDictionaryLearning


@parametrize_with_checks([
    OnlineDictionaryLearning(n_components=1, n_epochs=2, random_state=0),
    OnlineDictionaryLearning(n_components=1, reduction=2, dict_l1_ratio=0.5,
                             code_l1_ratio=0.5, n_epochs=2, random_state=0),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)
