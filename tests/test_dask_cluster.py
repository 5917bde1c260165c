"""nimf on a real dask cluster: a 2-process LocalCluster on localhost, started here.

Masking on the cluster gives the study masked without it, file for file; the
ensembles under joblib's dask backend give the serial results; a worker killed
while masking leaves a complete study (dask masks the subject again); a dask
array is learned from block by block, in bounded memory.
"""
import filecmp
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings

import nibabel
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
dask_array = pytest.importorskip("dask.array")

import joblib  # noqa: E402

from nimf.assessment import error_curve, speckled_cv, stability  # noqa: E402
from nimf.datasets import make_rest_study  # noqa: E402
from nimf.decomposition import NMF, OnlineDictionaryLearning  # noqa: E402
from nimf.neuro import DictLearning, MaskedStudy, mask_study  # noqa: E402

CHUNKS = (16, 512)   # subjects of 45 scans share chunks with their neighbours


@pytest.fixture(scope="module")
def client():
    # workers are processes: they import nimf as this process does (PYTHONPATH
    # is inherited), and see the same files
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=40)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def study_data():
    return make_rest_study(n_subjects=5, n_scans=45, resolution=8, random_state=0)


@pytest.fixture(scope="module")
def reference(study_data, tmp_path_factory):
    """The study masked without a cluster."""
    path = tmp_path_factory.mktemp("reference") / "study.zarr"
    return mask_study(study_data.func, path, confounds=study_data.confounds,
                      mask=study_data.mask_img, chunks=CHUNKS, client=False)


def _differing_files(left, right):
    def walk(cmp, prefix=""):
        bad = [prefix + name for name in cmp.diff_files + cmp.left_only + cmp.right_only]
        for name, sub in cmp.subdirs.items():
            bad += walk(sub, prefix + name + "/")
        return bad

    return walk(filecmp.dircmp(left, right, ignore=[]))


def test_import_nimf_does_not_import_dask():
    code = ("import sys, nimf, nimf.neuro, nimf.assessment, nimf.sources; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_mask_on_cluster_equals_masking_without(client, study_data, reference, tmp_path):
    path = tmp_path / "study.zarr"
    study = mask_study(study_data.func, path, confounds=study_data.confounds,
                       mask=study_data.mask_img, chunks=CHUNKS, client=client)
    # bit for bit: every file of the store (chunks, arrays, metadata)
    assert _differing_files(reference.path, study.path) == []
    assert study.subjects == reference.subjects
    study.verify()
    # the current client is used when none is given
    other = mask_study(study_data.func, tmp_path / "current.zarr",
                       confounds=study_data.confounds, mask=study_data.mask_img,
                       chunks=CHUNKS)
    assert _differing_files(reference.path, other.path) == []


def test_append_on_cluster_from_a_generator(client, study_data, reference, tmp_path):
    study = mask_study(study_data.func[:2], tmp_path / "study.zarr",
                       confounds=study_data.confounds[:2], mask=study_data.mask_img,
                       chunks=CHUNKS, client=False)
    study.append(iter(study_data.func[2:]), confounds=study_data.confounds[2:],
                 client=client)
    np.testing.assert_array_equal(study.read_rows(0, study.n_scans),
                                  reference.read_rows(0, reference.n_scans))
    assert [s["sha256"] for s in study.subjects] == [s["sha256"] for s in reference.subjects]


def test_mask_on_cluster_to_an_fsspec_url(client, study_data, reference, tmp_path):
    url = f"local://{tmp_path}/study.zarr"
    study = mask_study(study_data.func, url, confounds=study_data.confounds,
                       mask=study_data.mask_img, chunks=CHUNKS, client=client)
    assert study.path == url
    np.testing.assert_array_equal(study.data[:], reference.data[:])
    # the chunk files are read by zarr, not by nimf's local reader
    source = study.__nimf_source__()
    assert source._files is None
    rows = np.arange(10, 60)
    np.testing.assert_array_equal(source.read(rows, np.arange(100, 900)),
                                  reference.__nimf_source__().read(rows, np.arange(100, 900)))
    model = DictLearning(n_components=4, n_epochs=1, random_state=0).fit(study)
    assert np.isfinite(model.components_).all()


def test_cli_mask_with_scheduler(client, study_data, tmp_path, capsys):
    from nimf.cli import main

    paths = []
    for i, img in enumerate(study_data.func[:3]):
        paths.append(str(tmp_path / f"sub-0{i}_bold.nii.gz"))
        # a copy: saving an image gives it a file name (the fixture's must not change)
        nibabel.save(nibabel.Nifti1Image(np.asarray(img.dataobj), img.affine), paths[-1])
    mask = str(tmp_path / "mask.nii.gz")
    nibabel.save(nibabel.Nifti1Image(np.asarray(study_data.mask_img.dataobj),
                                     study_data.mask_img.affine), mask)
    address = client.scheduler.address
    code = main(["mask", *paths, "--out", str(tmp_path / "cluster.zarr"), "--mask", mask,
                 "--scheduler", address])
    assert code == 0, capsys.readouterr().err
    assert main(["mask", *paths, "--out", str(tmp_path / "local.zarr"), "--mask", mask]) == 0
    assert _differing_files(str(tmp_path / "cluster.zarr"), str(tmp_path / "local.zarr")) == []
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(["mask", *paths, "--out", str(tmp_path / "x.zarr"), "--scheduler",
                     "tcp://127.0.0.1:9"]) == 2
    assert "no dask scheduler answers" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x.zarr")


def test_worker_killed_while_masking(client, study_data, reference, tmp_path):
    """A worker killed in the middle of a subject: dask masks it again elsewhere."""
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for address, keys in client.processing().items():
                if any("nimf-mask-subject-2" in str(key) for key in keys) and address in pids:
                    os.kill(pids[address], signal.SIGKILL)
                    killed.append(address)
                    return
            time.sleep(0.002)

    thread = threading.Thread(target=kill_a_busy_worker)
    thread.start()
    path = tmp_path / "study.zarr"
    try:
        study = mask_study(study_data.func, path, confounds=study_data.confounds,
                           mask=study_data.mask_img, chunks=CHUNKS, client=client)
    except RuntimeError as exc:  # pragma: no cover - dask gave up on the subject
        thread.join()
        assert "could not be masked on the dask cluster" in str(exc)
        study = MaskedStudy.open(path)
        study.verify()    # the subjects committed before are valid
        assert len(study.subjects) < 5
    else:
        thread.join()
        assert killed, "no worker was masking subject 2"
        study.verify()
        np.testing.assert_array_equal(study.data[:], reference.data[:])
        assert study.subjects == reference.subjects
        leftovers = [name for _, _, files in os.walk(path) for name in files
                     if name.endswith(".partial")]
        assert leftovers == []
    client.wait_for_workers(2, timeout=60)


def test_mask_error_on_a_worker_keeps_committed_subjects(client, study_data, reference,
                                                         tmp_path):
    """A subject that fails on its worker: the call names it, the ones before stay."""
    # subject 3 is a file damaged past its header (compressed data garbled, size
    # intact): found only when its worker reads it
    func = list(study_data.func)
    damaged = tmp_path / "sub-04_bold.nii.gz"
    nibabel.save(func[3], damaged)
    raw = bytearray(damaged.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 1024] = np.random.RandomState(0).bytes(1024)
    damaged.write_bytes(bytes(raw))
    func[3] = str(damaged)
    path = tmp_path / "study.zarr"
    with pytest.raises(ValueError, match=r"imgs\[3\] .*could not be masked") as info:
        mask_study(func, path, confounds=study_data.confounds, mask=study_data.mask_img,
                   chunks=CHUNKS, client=client)
    assert "keeps the 3 subjects committed" in "".join(getattr(info.value, "__notes__", []))
    study = MaskedStudy.open(path)
    assert study.subjects == reference.subjects[:3]
    study.verify()
    # the rest is appended (on the cluster) and the study is the reference
    study.append(study_data.func[3:], confounds=study_data.confounds[3:], client=client)
    np.testing.assert_array_equal(study.read_rows(0, study.n_scans),
                                  reference.read_rows(0, reference.n_scans))
    assert [s["sha256"] for s in study.subjects] == [s["sha256"] for s in reference.subjects]


def test_a_worker_that_does_not_see_the_study_refuses_to_write(tmp_path):
    from nimf.neuro._cluster import _mask_and_write

    with pytest.raises(FileNotFoundError, match="does not see the study"):
        _mask_and_write(str(tmp_path / "elsewhere.zarr"), {}, None, 0, None, None, 0, 0,
                        0, 10, 16)
    assert not os.path.exists(tmp_path / "elsewhere.zarr")


# ---------------------------------------------------------------- ensembles


def _nonneg(rng):
    return np.abs(rng.randn(60, 4) @ rng.randn(4, 40)) + 0.1 * rng.rand(60, 40)


def _assert_same(a, b):
    for name in ("errors", "similarity", "instability", "best_seeds"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for x, y in zip(a.best_components, b.best_components):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("estimator", [NMF(max_iter=60),
                                       OnlineDictionaryLearning(n_epochs=2, batch_size=10)],
                         ids=["NMF", "OnlineDictionaryLearning"])
def test_ensembles_on_dask_backend_equal_serial(client, estimator, rng):
    X = _nonneg(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short NMF fits warn about max_iter
        serial = (stability(estimator, X, [2, 3, 4], n_seeds=3, random_state=0),
                  speckled_cv(estimator, X, [2, 3, 4], n_repeats=2, n_iter=3, random_state=0),
                  error_curve(estimator, X, [2, 3], n_seeds=2, random_state=0))
        with joblib.parallel_config(backend="dask"):
            on_cluster = (
                stability(estimator, X, [2, 3, 4], n_seeds=3, random_state=0, n_jobs=-1),
                speckled_cv(estimator, X, [2, 3, 4], n_repeats=2, n_iter=3, random_state=0,
                            n_jobs=-1),
                error_curve(estimator, X, [2, 3], n_seeds=2, random_state=0, n_jobs=-1))
    _assert_same(serial[0], on_cluster[0])
    np.testing.assert_array_equal(serial[1].test_error, on_cluster[1].test_error)
    np.testing.assert_array_equal(serial[1].train_error, on_cluster[1].train_error)
    np.testing.assert_array_equal(serial[2].errors, on_cluster[2].errors)


def test_image_estimator_ensembles_on_dask_backend(client, study_data, reference):
    """DictLearning on in-memory images and on a study on disk: fits on the workers."""
    images = DictLearning(mask=study_data.mask_img, n_epochs=1, smoothing_fwhm=None)
    on_disk = DictLearning(n_epochs=1)
    func = study_data.func[:3]
    serial = (stability(images, func, [3, 4], n_seeds=2, random_state=0),
              stability(on_disk, reference, [3, 4], n_seeds=2, random_state=0))
    with joblib.parallel_config(backend="dask"):
        on_cluster = (stability(images, func, [3, 4], n_seeds=2, random_state=0, n_jobs=-1),
                      stability(on_disk, reference, [3, 4], n_seeds=2, random_state=0,
                                n_jobs=-1))
        curve = error_curve(on_disk, reference, [3], n_seeds=2, random_state=0, n_jobs=-1)
    for a, b in zip(serial, on_cluster):
        _assert_same(a, b)
    # fitted image estimators come back from the workers whole
    model = curve.models[0][1]
    assert isinstance(model, DictLearning) and model.components_img_.shape[-1] == 3
    assert np.isnan(curve.svd_bound).all()
    with pytest.raises(ValueError, match="speckled_cv hides entries"):
        speckled_cv(images, func, [2])


# ---------------------------------------------------------------- dask arrays


def test_dask_array_fit_streams_with_bounded_memory(client):
    """The data live on the workers; the learner reads blocks of them."""
    n, p = 24_000, 4_000   # 384 MB of float32
    X = dask_array.random.RandomState(0).random_sample((n, p), chunks=(2_000, p))
    X = X.astype(np.float32).persist()
    distributed.wait(X)
    model = OnlineDictionaryLearning(n_components=8, reduction=4, batch_size=500,
                                     n_epochs=1, random_state=0)
    tracemalloc.start()
    try:
        model.fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(model.components_).all()
    # generous: a quarter of the data (the learner holds a few blocks at a time)
    assert peak < X.nbytes / 4, f"peak {peak / 1e6:.0f} MB for {X.nbytes / 1e6:.0f} MB"


class _Borrowed:
    """The module's cluster or client, lent to code that closes it when done."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        return getattr(self._target, name)

    def close(self):
        pass


def test_local_examples_of_the_cluster_guide_run(client, tmp_path, monkeypatch):
    """The examples of docs/cluster.md's LocalCluster section, one after the other.

    They start a 2-worker LocalCluster: the module's is lent to them (starting
    and closing one more would double the time of this test).
    """
    import re
    from pathlib import Path

    import dask.distributed

    monkeypatch.setattr(dask.distributed, "LocalCluster",
                        lambda **kwargs: _Borrowed(client.cluster))
    monkeypatch.setattr(dask.distributed, "Client", lambda cluster: _Borrowed(client))

    text = (Path(__file__).resolve().parents[1] / "docs" / "cluster.md").read_text()
    section = text.split("## On one machine")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for block in blocks:
            exec(compile(block, "docs/cluster.md", "exec"), namespace)
    assert namespace["result"].instability.shape == (3,)
    assert len(namespace["study"].subjects) == 4


def test_tensor_ensembles_on_dask_backend_equal_serial(client):
    from nimf.datasets import make_neural_tensor
    from nimf.tensor import CPDecomposition

    data = make_neural_tensor(n_neurons=30, n_time=20, n_trials=25, n_components=3,
                              random_state=0)
    X = data.data
    cp = CPDecomposition(nonnegative=True, max_iter=40)
    serial = (stability(cp, X, [2, 3], n_seeds=3, random_state=0),
              speckled_cv(cp, X, [2, 3], n_repeats=2, random_state=0),
              error_curve(cp, X, [2, 3], n_seeds=2, random_state=0))
    with joblib.parallel_config(backend="dask"):
        on_cluster = (stability(cp, X, [2, 3], n_seeds=3, random_state=0, n_jobs=-1),
                      speckled_cv(cp, X, [2, 3], n_repeats=2, random_state=0, n_jobs=-1),
                      error_curve(cp, X, [2, 3], n_seeds=2, random_state=0, n_jobs=-1))
    for a, b in zip(serial, on_cluster):
        for name, value in vars(a).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(serial[0].similarity, on_cluster[0].similarity)
    np.testing.assert_array_equal(serial[1].test_error, on_cluster[1].test_error)
