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


def _read_in_blocks_of(monkeypatch, rows):
    """Data on disk are read ``rows`` rows at a time (instead of blocks of ~64 MB)."""
    from nimf.sources import readers

    original = readers._Source.iter_row_blocks
    monkeypatch.setattr(readers._Source, "iter_row_blocks",
                        lambda self, step=None, start=0, stop=None:
                        original(self, rows, start, stop))


@pytest.mark.parametrize("step", [10, 7])  # two blocks, then three (the last one short)
def test_transform_of_data_on_disk_read_in_several_blocks(rng, tmp_path, monkeypatch, step):
    X = np.abs(rng.randn(20, 6))
    model = OnlineDictionaryLearning(n_components=2, n_epochs=1, random_state=0).fit(X)
    expected = model.transform(X)
    np.save(tmp_path / "X.npy", X)
    _read_in_blocks_of(monkeypatch, step)
    codes = model.transform(np.load(tmp_path / "X.npy", mmap_mode="r"))
    np.testing.assert_allclose(codes, expected, rtol=1e-10, atol=1e-12)


def test_score_of_data_on_disk_read_in_several_blocks(rng, tmp_path, monkeypatch):
    X = np.abs(rng.randn(20, 6))
    model = OnlineDictionaryLearning(n_components=2, n_epochs=1, random_state=0).fit(X)
    expected = model.score(X)
    np.save(tmp_path / "X.npy", X)
    _read_in_blocks_of(monkeypatch, 7)
    assert model.score(np.load(tmp_path / "X.npy", mmap_mode="r")) == pytest.approx(expected,
                                                                                 rel=1e-10)


@pytest.mark.parametrize("n_samples", [4, 5])
def test_ica_start_needs_more_samples_than_components(rng, n_samples):
    # as many samples as components is already too few for the ICA start
    X = rng.randn(n_samples, 30)
    model = OnlineDictionaryLearning(n_components=5, dict_init="ica", n_epochs=1,
                                     random_state=0)
    with pytest.raises(ValueError) as info:
        model.fit(X)
    assert str(info.value) == ("dict_init='ica' needs more samples than n_components (5), "
                               f"got {n_samples}")


def test_ica_start_with_one_sample_more_than_components(rng):
    X = rng.randn(6, 30)
    model = OnlineDictionaryLearning(n_components=5, dict_init="ica", n_epochs=1,
                                     random_state=0).fit(X)
    assert model.components_.shape == (5, 30) and np.all(np.isfinite(model.components_))


def test_a_read_error_while_planning_the_next_group_is_reported_as_itself(rng, monkeypatch):
    # small subsampled steps of data in memory are read a group of batches ahead;
    # the planning of the second group fails: the fit raises that error, not one
    # of its own clean-up
    from nimf import _parallel
    from nimf.sources import readers

    X = rng.randn(200, 64)
    monkeypatch.setattr(_parallel, "n_workers", lambda: 1)  # the first group in one read
    calls = []
    original = readers.ArraySource.plan_reads

    def failing(self, reads, buffer):
        calls.append(len(reads))
        if len(calls) == 2:
            raise OSError("the disk went away")
        return original(self, reads, buffer)

    monkeypatch.setattr(readers.ArraySource, "plan_reads", failing)
    model = OnlineDictionaryLearning(n_components=3, reduction=4, batch_size=10, n_epochs=1,
                                     random_state=0)
    with pytest.raises(OSError, match="^the disk went away$"):
        model.fit(X)
    assert calls == [8, 8]  # a group of 8 batches was planned first, in one read


# ----------------------------------------------- checkpoints and the start draws
def _planted_X(seed=0, n=400, p=300, k=5):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, k)) @ rng.standard_normal((k, p))
            + 0.1 * rng.standard_normal((n, p)))


def test_rows_from_few_chunks_are_distinct():
    from nimf.decomposition._online_state import rows_from_few_chunks

    for seed in range(20):
        rows = rows_from_few_chunks(100, 10, 35, np.random.default_rng(seed))
        assert rows.size == 35 and np.unique(rows).size == 35
        assert np.all(np.diff(rows) > 0)


def test_a_fit_stopped_by_tol_resumes_as_finished(tmp_path):
    X = _planted_X()
    ckpt = tmp_path / "tol.npz"
    kw = dict(n_components=5, n_epochs=50, tol=0.5, random_state=0)
    first = OnlineDictionaryLearning(checkpoint=ckpt, **kw).fit(X)
    assert first.stop_reason_ == "tol" and first.n_iter_ < 50
    again = OnlineDictionaryLearning(checkpoint=ckpt, resume=True, **kw).fit(X)
    assert again.stop_reason_ == "tol" and again.n_iter_ == first.n_iter_
    np.testing.assert_array_equal(again.components_, first.components_)


def test_a_checkpoint_of_other_data_or_another_seed_is_refused_by_name(tmp_path):
    X = _planted_X()
    ckpt = tmp_path / "c.npz"
    kw = dict(n_components=5, n_epochs=1, random_state=0)
    OnlineDictionaryLearning(checkpoint=ckpt, **kw).fit(X)
    with pytest.raises(ValueError) as info:
        OnlineDictionaryLearning(checkpoint=ckpt, resume=True, **kw).fit(X[:200])
    assert str(info.value) == (
        f"checkpoint {str(ckpt)!r} is of other data (shape [400, 300], dtype float64) than "
        f"X (shape [200, 300], dtype float64), or the data changed; use another checkpoint "
        f"path or resume=False")
    with pytest.raises(ValueError, match=r"other parameters: random_state=0 in the "
                                         r"checkpoint but 1 now"):
        OnlineDictionaryLearning(checkpoint=ckpt, resume=True,
                                 **dict(kw, random_state=1)).fit(X)


def test_a_restored_state_starts_an_empty_history():
    from nimf.decomposition._online_state import get_persistent_state, set_persistent_state

    X = _planted_X()
    fitted = OnlineDictionaryLearning(n_components=5, n_epochs=1, random_state=0).fit(X)
    arrays, scalars = get_persistent_state(fitted)
    fresh = OnlineDictionaryLearning(n_components=5, n_epochs=1, random_state=0)
    set_persistent_state(fresh, arrays, scalars)
    assert fresh.history_ == dict(time=[], n_samples=[], epoch=[], bytes_read=[],
                                  objective=[])
