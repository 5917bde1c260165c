"""The online dictionary learner's per-sample memory, checked directly.

Written to kill the mutants of ``nimf/decomposition/online.py`` that the other
tests let live (``python tools/mutation.py nimf/decomposition/online.py``).
"""

import numpy as np

from nimf.decomposition import OnlineDictionaryLearning


def test_warm_started_codes_are_remembered_per_sample(rng):
    # non-negative codes are warm-started from each sample's codes of its last visit,
    # which the fit keeps, one row per sample
    X = np.abs(rng.randn(40, 12))
    model = OnlineDictionaryLearning(n_components=3, positive_code=True, batch_size=10,
                                     n_epochs=2, random_state=0).fit(X)
    codes = model._state.codes
    assert codes.shape == (40, 3)
    assert np.all(codes >= 0)
    assert np.all(np.abs(codes).sum(axis=1) > 0)  # every sample was coded and stored

