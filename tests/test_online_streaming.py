"""The online learner on data read by blocks: inputs, checkpoints, time budget, history."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition import OnlineDictionaryLearning
from nimf.sources import PermutedFeatures, load_checkpoint
from naive import recovery


@pytest.fixture(scope="module")
def planted():
    return make_sparse_dictionary_data(n_samples=600, n_features=1500, n_components=5,
                                       density=0.08, snr=2.0, random_state=2,
                                       dtype=np.float32)


KW = dict(n_components=5, dict_l1_ratio=0.5, reduction=4, n_epochs=3, random_state=0)


# ---------------------------------------------------------------- inputs
def test_memmap_zarr_and_dask_inputs_give_the_array_result(planted, tmp_path):
    zarr = pytest.importorskip("zarr")
    da = pytest.importorskip("dask.array")
    X = planted.X
    ref = OnlineDictionaryLearning(**KW).fit(X).components_
    path = tmp_path / "x.npy"
    np.save(path, X)
    z = zarr.create_array(store=str(tmp_path / "x.zarr"), shape=X.shape, chunks=(1, 500),
                          dtype="float32")
    z[:] = X
    inputs = {"memmap": np.load(path, mmap_mode="r"), "zarr": z,
              "dask": da.from_array(X, chunks=(1, 1500))}
    for name, data in inputs.items():
        est = OnlineDictionaryLearning(**KW).fit(data)
        # rows of one sample per chunk: the same batches, draws and arithmetic
        np.testing.assert_array_equal(est.components_, ref, err_msg=name)
        np.testing.assert_allclose(est.transform(data), est.transform(X), rtol=1e-5,
                                   atol=1e-6)
        assert est.score(data) == pytest.approx(est.score(X), rel=1e-5)


def test_chunked_and_permuted_inputs_learn_as_well(planted, rng):
    zarr = pytest.importorskip("zarr")
    X = planted.X
    p = X.shape[1]
    perm = rng.permutation(p)
    z = zarr.create_array(store={}, shape=X.shape, chunks=(20, 30), dtype="float32")
    z[:] = X[:, perm]
    kw = dict(KW, n_epochs=6)
    ref = OnlineDictionaryLearning(**kw).fit(X)
    est = OnlineDictionaryLearning(**kw).fit(PermutedFeatures(z, perm))
    assert est.components_.shape == (5, p)
    # components come back in the original feature order
    assert recovery(est.components_, planted.components) > 0.88
    assert recovery(est.components_, planted.components) > recovery(
        ref.components_, planted.components) - 0.03
    # whole chunks of 30 features: one epoch reads about 1 / reduction of the data
    epoch_bytes = np.diff(est.history_["bytes_read"])
    ends = np.flatnonzero(np.isclose(np.asarray(est.history_["epoch"]) % 1, 0))
    per_epoch = np.diff(np.asarray(est.history_["bytes_read"])[ends])
    assert np.all(per_epoch <= 1.1 * X.nbytes / 4) and np.all(per_epoch >= 0.9 * X.nbytes / 4)
    assert np.all(epoch_bytes >= 0)


def test_feature_blocks_learn_as_well_as_single_features(planted):
    X = planted.X
    scores = {}
    for block in (16, 1):
        fits = [OnlineDictionaryLearning(feature_block=block, **dict(KW, n_epochs=5,
                                                                      random_state=seed)).fit(X)
                for seed in range(3)]
        scores[block] = (np.mean([recovery(f.components_, planted.components) for f in fits]),
                         np.mean([f.score(planted.X_test) for f in fits]))
    # drawing whole blocks of (permuted) features costs nothing in quality
    assert scores[16][0] > scores[1][0] - 0.02
    assert scores[16][1] > scores[1][1] - 0.01


def test_large_inputs_are_validated(planted, tmp_path):
    bad = planted.X.copy()
    bad[250, 7] = np.inf
    path = tmp_path / "bad.npy"
    np.save(path, bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        OnlineDictionaryLearning(**KW).fit(np.load(path, mmap_mode="r"))
    est = OnlineDictionaryLearning(**KW).fit(planted.X)
    np.save(path, planted.X[:, :100])
    with pytest.raises(ValueError, match="X has 100 features, but OnlineDictionaryLearning "
                                         "is expecting 1500"):
        est.transform(np.load(path, mmap_mode="r"))


# ---------------------------------------------------------------- history, time budget
def test_history_records_time_samples_bytes_and_validation(planted):
    est = OnlineDictionaryLearning(history_every=3, **KW).fit(planted.X,
                                                             validation=planted.X_test)
    h = est.history_
    n = len(h["time"])
    assert set(h) == {"time", "n_samples", "epoch", "bytes_read", "objective"}
    assert all(len(v) == n for v in h.values())
    # a record at the start, every 3 steps and at each epoch's end
    assert n == 1 + est.n_steps_ // 3 + est.n_iter_ - sum(
        1 for e in range(1, est.n_iter_ + 1) if (e * 12) % 3 == 0)
    assert h["n_samples"][0] == 0 and h["n_samples"][-1] == 3 * 600
    assert np.all(np.diff(h["time"]) >= 0) and np.all(np.diff(h["n_samples"]) > 0)
    assert np.all(np.diff(h["bytes_read"]) > 0)
    assert h["epoch"][-1] == 3
    objective = np.asarray(h["objective"])
    assert np.all(np.isfinite(objective))
    assert objective[-1] < 0.9 * objective[0]
    assert objective[-1] == pytest.approx(est.objective(planted.X_test), rel=1e-5)
    # without validation data the objective is recorded as NaN
    est = OnlineDictionaryLearning(**KW).fit(planted.X)
    assert np.all(np.isnan(est.history_["objective"]))
    with pytest.raises(ValueError, match=r"validation must be an array of shape \(n_valid, 1500\)"):
        OnlineDictionaryLearning(**KW).fit(planted.X, validation=planted.X_test[:, :10])


def test_max_time_stops_at_a_step_and_leaves_a_usable_model(planted):
    est = OnlineDictionaryLearning(max_time=1e-9, **dict(KW, n_epochs=50)).fit(planted.X)
    assert est.stop_reason_ == "max_time"
    assert est.n_steps_ == 1 and est.n_iter_ == 0
    assert est.transform(planted.X_test).shape == (len(planted.X_test), 5)
    full = OnlineDictionaryLearning(**KW).fit(planted.X)
    assert full.stop_reason_ == "n_epochs"
    assert OnlineDictionaryLearning(n_components=5, n_epochs=50, tol=0.5,
                                    random_state=0).fit(planted.X).stop_reason_ == "tol"


def test_progress_bar_shows_throughput(planted, capsys):
    OnlineDictionaryLearning(verbose=1, **dict(KW, n_epochs=1)).fit(planted.X)
    err = capsys.readouterr().err
    assert "samples/s" in err and "MB/s" in err


# ---------------------------------------------------------------- checkpoints
_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from nimf.decomposition import OnlineDictionaryLearning
    X = np.load(sys.argv[1], mmap_mode="r")
    OnlineDictionaryLearning(n_components=5, dict_l1_ratio=0.5, reduction=4, n_epochs=400,
                             batch_size=20, random_state=0, checkpoint=sys.argv[2],
                             checkpoint_every=7).fit(X)
""")


def test_a_killed_fit_resumes_to_the_uninterrupted_result(planted, tmp_path):
    X = planted.X[:200]
    data = tmp_path / "x.npy"
    np.save(data, X)
    ckpt = tmp_path / "fit.npz"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(data), str(ckpt)])
    try:
        deadline = time.time() + 120
        while not ckpt.exists() and time.time() < deadline and child.poll() is None:
            time.sleep(0.005)
        time.sleep(0.3)  # let it run on past a few checkpoints
        assert child.poll() is None, "the fit ended before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    _, meta = load_checkpoint(ckpt)
    done = meta["state"]["n_steps"]
    assert 0 < done < 400 * 10
    kw = dict(n_components=5, dict_l1_ratio=0.5, reduction=4, n_epochs=400, batch_size=20,
              random_state=0)
    resumed = OnlineDictionaryLearning(checkpoint=ckpt, resume=True, **kw).fit(
        np.load(data, mmap_mode="r"))
    assert resumed.n_steps_ == 400 * 10
    uninterrupted = OnlineDictionaryLearning(**kw).fit(X)
    diff = np.linalg.norm(resumed.components_ - uninterrupted.components_)
    assert diff <= 1e-6 * np.linalg.norm(uninterrupted.components_)
    # the history goes on from where the checkpoint left it
    assert resumed.history_["n_samples"][-1] == 400 * 200
    # a finished checkpoint resumes to the same model without work
    again = OnlineDictionaryLearning(checkpoint=ckpt, resume=True, **kw).fit(X)
    np.testing.assert_array_equal(again.components_, resumed.components_)


def test_max_time_then_resume_equals_one_fit(planted, tmp_path):
    X = planted.X
    ckpt = tmp_path / "budget.npz"
    kw = dict(KW, n_epochs=4, batch_size=40)
    first = OnlineDictionaryLearning(checkpoint=ckpt, max_time=1e-9, **kw).fit(X)
    assert first.stop_reason_ == "max_time"
    second = OnlineDictionaryLearning(checkpoint=ckpt, resume=True, **kw).fit(X)
    assert second.stop_reason_ == "n_epochs"
    ref = OnlineDictionaryLearning(**kw).fit(X)
    np.testing.assert_allclose(second.components_, ref.components_, rtol=1e-6, atol=1e-9)


def test_checkpoints_of_other_fits_are_refused(planted, tmp_path):
    X = planted.X
    ckpt = tmp_path / "c.npz"
    OnlineDictionaryLearning(checkpoint=ckpt, **KW).fit(X)
    with pytest.raises(ValueError, match=r"c\.npz.*other parameters: alpha=0\.4 in the "
                                         r"checkpoint but 0\.5 now"):
        OnlineDictionaryLearning(checkpoint=ckpt, resume=True, **dict(KW, alpha=0.5)).fit(X)
    with pytest.raises(ValueError, match=r"c\.npz.*is of other data"):
        OnlineDictionaryLearning(checkpoint=ckpt, resume=True, **KW).fit(X[:500])
    changed = X.copy()
    changed[0, 0] += 1
    with pytest.raises(ValueError, match="is of other data"):
        OnlineDictionaryLearning(checkpoint=ckpt, resume=True, **KW).fit(changed)
    # a model saved by save_model is not a checkpoint
    from nimf import save_model
    model = save_model(OnlineDictionaryLearning(**KW).fit(X), tmp_path / "model.npz")
    with pytest.raises(ValueError, match="model.npz.*not a readable nimf checkpoint"):
        OnlineDictionaryLearning(checkpoint=model, resume=True, **KW).fit(X)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint"):
        OnlineDictionaryLearning(resume=True, **KW).fit(X)
    # without resume, an existing checkpoint is overwritten by the new fit
    OnlineDictionaryLearning(checkpoint=ckpt, **dict(KW, alpha=0.5)).fit(X)
    assert os.path.exists(ckpt)


def test_permuted_arrays_in_memory_are_checked_once(planted, rng):
    X = planted.X.copy()
    X[123, 45] = np.nan
    perm = rng.permutation(X.shape[1])
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in rows 123\)"):
        OnlineDictionaryLearning(**KW).fit(PermutedFeatures(X[:, perm], perm))


def test_small_batches_read_in_groups_give_the_one_at_a_time_result(planted, monkeypatch):
    from nimf.decomposition import online

    est = OnlineDictionaryLearning(**KW)
    est.fit(planted.X)
    assert est._read_group(online.as_source(planted.X), est._check_params()) > 1
    monkeypatch.setattr(online, "_MAX_GROUP", 1)
    one = OnlineDictionaryLearning(**KW).fit(planted.X)
    np.testing.assert_array_equal(est.components_, one.components_)
    # the same bytes in all (a group's bytes are counted as its batches are used)
    assert est.history_["bytes_read"][-1] == one.history_["bytes_read"][-1]
    assert np.all(np.diff(est.history_["bytes_read"]) > 0)
