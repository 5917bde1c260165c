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


@pytest.mark.parametrize("step", [10, 7])  # two blocks, then three (the last one short)
def test_transform_of_data_on_disk_read_in_several_blocks(rng, tmp_path, monkeypatch, step):
    from nimf.sources import readers
    X = np.abs(rng.randn(20, 6))
    model = OnlineDictionaryLearning(n_components=2, n_epochs=1, random_state=0).fit(X)
    expected = model.transform(X)
    np.save(tmp_path / "X.npy", X)
    original = readers._Source.iter_row_blocks
    monkeypatch.setattr(readers._Source, "iter_row_blocks",
                        lambda self, step_=None, start=0, stop=None:
                        original(self, step, start, stop))
    codes = model.transform(np.load(tmp_path / "X.npy", mmap_mode="r"))
    np.testing.assert_allclose(codes, expected, rtol=1e-10, atol=1e-12)


def test_score_of_data_on_disk_read_in_several_blocks(rng, tmp_path, monkeypatch):
    from nimf.sources import readers
    X = np.abs(rng.randn(20, 6))
    model = OnlineDictionaryLearning(n_components=2, n_epochs=1, random_state=0).fit(X)
    expected = model.score(X)
    np.save(tmp_path / "X.npy", X)
    original = readers._Source.iter_row_blocks
    monkeypatch.setattr(readers._Source, "iter_row_blocks",
                        lambda self, step=None, start=0, stop=None:
                        original(self, 7, start, stop))
    assert model.score(np.load(tmp_path / "X.npy", mmap_mode="r")) == pytest.approx(expected,
                                                                                 rel=1e-10)
