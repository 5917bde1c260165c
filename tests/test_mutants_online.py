"""The online dictionary learner's per-sample memory, checked directly.

Written to kill the mutants of ``nimf/decomposition/online.py`` that the other
tests let live (``python tools/mutation.py nimf/decomposition/online.py``).
"""

import numpy as np
import pytest

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



def test_an_empty_validation_set_on_disk_is_refused_by_name(rng, tmp_path):
    # a memory map is read block by block: with no rows there is no block at all
    np.save(tmp_path / "valid.npy", np.empty((0, 6)))
    V = np.load(tmp_path / "valid.npy", mmap_mode="r")
    model = OnlineDictionaryLearning(n_components=2, n_epochs=1, random_state=0)
    with pytest.raises(ValueError) as info:
        model.fit(rng.randn(20, 6), validation=V)
    assert str(info.value) == ("validation must be an array of shape (n_valid, 6), got an "
                               "array of shape (0, 6)")
