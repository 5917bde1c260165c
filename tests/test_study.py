"""nimf.neuro.mask_study / MaskedStudy: a masked study on disk equals in-memory masking."""
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import nibabel
import numpy as np
import pytest

from nimf.datasets import make_rest_study, make_surface_rest_study
from nimf.neuro import DictLearning, MaskedStudy, mask_study
from nimf.neuro import _base
from nimf.neuro.study import _scan_order
from nimf.neuro.study import _auto_chunks

VOLUME = dict(n_subjects=3, n_scans=30, resolution=8, random_state=0)


@pytest.fixture(scope="module")
def vol():
    return make_rest_study(**VOLUME)


@pytest.fixture(scope="module")
def surf():
    return make_surface_rest_study(n_subjects=2, n_scans=20, random_state=0)


@pytest.fixture(scope="module")
def one_shot(vol, tmp_path_factory):
    """The 3 volume subjects masked in one call (the reference of append and crashes)."""
    path = tmp_path_factory.mktemp("one_shot") / "study.zarr"
    return mask_study(vol.func, path, confounds=vol.confounds, mask=vol.mask_img)


def estimator_masking(imgs, confounds, **params):
    """Each subject as nimf's image estimators mask and clean it, in memory."""
    est = DictLearning(**params)
    kind, _, _, confounds = _base._check_study(imgs, confounds, est.target_affine)
    est._fit_masker(imgs, kind)
    confounds = confounds or [None] * len(imgs)
    return [_base._prepare_subject(img, conf, **est._subject_args())
            for img, conf in zip(imgs, confounds)], est


def stored(study):
    return np.asarray(study.data[:study.n_scans])


# --------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_volume_round_trip_is_bitwise(vol, tmp_path, dtype):
    study = mask_study(vol.func, tmp_path / "s.zarr", confounds=vol.confounds,
                       mask=vol.mask_img, dtype=dtype)
    refs, est = estimator_masking(vol.func, vol.confounds, mask=vol.mask_img, dtype=dtype)
    expected = np.float64 if dtype == "float64" else np.float32
    assert study.dtype == expected and study.data.dtype == expected
    assert study.kind == "volume" and study.n_voxels == est.masker_.n_elements_
    assert study.n_scans == 90 and len(study.subjects) == 3
    assert study.subject_slices == [slice(0, 30), slice(30, 60), slice(60, 90)]
    for i, ref in enumerate(refs):
        got = study.read_subject(i)
        assert got.dtype == expected
        np.testing.assert_array_equal(got, ref)
        # as stored: the scans of each subject in a random order, drawn from the
        # study's seed and the subject's index, and the voxels in voxel_order
        scans = _scan_order(study.subjects[i]["scan_order_seed"][0], i, ref.shape[0])
        assert study.subjects[i]["scan_order_seed"][1] == i
        assert not np.array_equal(scans, np.arange(ref.shape[0]))
        np.testing.assert_array_equal(study.read_subject(i, storage_order=True),
                                      ref[scans][:, study.voxel_order])
    # time order across subjects, from any scan to any scan
    np.testing.assert_array_equal(study.read_rows(17, 71),
                                  np.concatenate(refs)[17:71])
    # voxels stored in a random order, undone by the reading methods
    order = study.voxel_order
    assert order.dtype == np.int64
    np.testing.assert_array_equal(np.sort(order), np.arange(study.n_voxels))
    assert np.mean(order == np.arange(study.n_voxels)) < 0.01
    assert not np.array_equal(stored(study)[:30], refs[0])
    # rows across subject boundaries
    np.testing.assert_array_equal(study.read_rows(25, 65),
                                  np.concatenate(refs)[25:65])
    assert study.nbytes == 90 * study.n_voxels * np.dtype(expected).itemsize
    assert 0 < study.nbytes_stored
    assert "3 subjects" in repr(study) and "90 scans" in repr(study)
    study.verify()
    np.testing.assert_array_equal(np.asarray(study.mask_img.dataobj).astype(bool),
                                  np.asarray(est.mask_img_.dataobj).astype(bool))
    np.testing.assert_allclose(study.affine, est.mask_img_.affine)


def test_computed_mask_paths_and_confound_files(vol, tmp_path):
    folder = tmp_path / "imgs"
    files = make_rest_study(**VOLUME, output_dir=folder).func
    conf_files = []
    for i, conf in enumerate(vol.confounds):
        conf_files.append(str(tmp_path / f"conf-{i}.csv"))
        np.savetxt(conf_files[-1], conf, delimiter=",")
    params = dict(smoothing_fwhm=6.0, standardize="psc", detrend=False, t_r=2.0,
                  high_pass=0.01)
    study = mask_study(str(folder / "sub-*_bold.nii.gz"), tmp_path / "s.zarr",
                       confounds=conf_files, **params)
    refs, est = estimator_masking(files, conf_files, **params)
    assert study.n_voxels == est.masker_.n_elements_
    for i, ref in enumerate(refs):
        np.testing.assert_array_equal(study.read_subject(i), ref)
    first = study.subjects[0]
    assert first["name"] == "sub-01_bold.nii.gz"
    assert first["source"] == os.path.abspath(files[0])
    assert first["confounds"] == {"kind": "path", "path": conf_files[0]}
    # the stored parameters are the estimators' parameters, with their names
    names = set(inspect.signature(DictLearning.__init__).parameters)
    assert set(study.masker_params) <= names
    assert study.masker_params == dict(
        smoothing_fwhm=6.0, standardize="psc", standardize_confounds=True, detrend=False,
        low_pass=None, high_pass=0.01, t_r=2.0, dtype=None, target_affine=None,
        target_shape=None, mask_strategy="epi", mask_args=None)


def test_surface_round_trip_is_bitwise(surf, tmp_path):
    for mask in (surf.mask_img, None):
        path = tmp_path / f"s-{mask is None}.zarr"
        study = mask_study(surf.func, path, confounds=surf.confounds, mask=mask)
        refs, est = estimator_masking(surf.func, surf.confounds, mask=mask)
        assert study.kind == "surface" and study.n_voxels == est.masker_.n_elements_
        for i, ref in enumerate(refs):
            np.testing.assert_array_equal(study.read_subject(i), ref)
        # the mask and mesh are rebuilt from the store alone
        reopened = MaskedStudy.open(path)
        for part in est.mask_img_.data.parts:
            np.testing.assert_array_equal(
                np.asarray(reopened.mask_img.data.parts[part]).astype(bool),
                np.asarray(est.mask_img_.data.parts[part]).astype(bool))
        maps = reopened.masker().inverse_transform(refs[0][:2])
        expected = est.masker_.inverse_transform(refs[0][:2])
        for part in expected.data.parts:
            np.testing.assert_array_equal(np.asarray(maps.data.parts[part]),
                                          np.asarray(expected.data.parts[part]))


def test_masker_inverse_transform_volume(one_shot, vol):
    from nilearn.masking import unmask

    rows = one_shot.read_rows(3, 5)
    img = one_shot.masker().inverse_transform(rows)
    np.testing.assert_array_equal(np.asarray(img.dataobj),
                                  np.asarray(unmask(rows, vol.mask_img).dataobj))


def test_chunks_auto_and_explicit(vol, tmp_path):
    assert _auto_chunks(235_375, 4) == (64, 2048)    # a 2 mm brain: 115 chunks of 512 kB
    assert _auto_chunks(70_000, 4) == (64, 512)
    assert _auto_chunks(29_000, 4) == (64, 256)
    assert _auto_chunks(3_000, 4) == (64, 256)       # as many chunks as 256 voxels allow
    assert _auto_chunks(2_000_000, 4) == (64, 4096)  # 1 MB
    assert _auto_chunks(2_000_000, 8) == (32, 4096)  # not 2 MB
    study = mask_study(vol.func[:1], tmp_path / "s.zarr", mask=vol.mask_img,
                       chunks=(16, 512))
    assert study.chunks == (16, 512) == tuple(study.data.chunks)
    codecs = json.loads((tmp_path / "s.zarr" / "data" / "zarr.json").read_text())["codecs"]
    assert [c["name"] for c in codecs] == ["bytes", "blosc", "crc32c"]
    assert codecs[1]["configuration"]["cname"] == "lz4"
    with pytest.raises(ValueError, match="chunks must be"):
        mask_study(vol.func[:1], tmp_path / "t.zarr", mask=vol.mask_img, chunks=(0, 4))
    assert not (tmp_path / "t.zarr").exists()


# --------------------------------------------------------------------------
# append and generators
# --------------------------------------------------------------------------


def test_append_equals_masking_all_at_once(vol, one_shot, tmp_path):
    path = tmp_path / "s.zarr"
    mask_study(vol.func[:1], path, confounds=vol.confounds[:1], mask=vol.mask_img)
    study = MaskedStudy.open(path)
    study.append(vol.func[1:2], confounds=vol.confounds[1:2])
    study.append((img for img in vol.func[2:]), confounds=vol.confounds[2:], n_jobs=2)
    assert study.n_scans == one_shot.n_scans
    np.testing.assert_array_equal(stored(study), stored(one_shot))
    assert study.subjects == one_shot.subjects
    study.verify()


def test_generator_is_consumed_one_subject_at_a_time(vol, one_shot, tmp_path):
    path = tmp_path / "s.zarr"

    def subjects(n_jobs):
        for k in range(3):
            if k:  # the study is readable while it is written
                committed = len(MaskedStudy.open(path).subjects)
                assert committed >= k - n_jobs, (k, committed)
            yield vol.func[k]

    for n_jobs in (1, 2):
        study = mask_study(subjects(n_jobs), path, confounds=vol.confounds,
                           mask=vol.mask_img, n_jobs=n_jobs, overwrite=True)
        np.testing.assert_array_equal(stored(study), stored(one_shot))


def test_generator_without_mask_is_refused(vol, tmp_path):
    with pytest.raises(ValueError, match="mask is needed when imgs is an iterator"):
        mask_study((img for img in vol.func), tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


def test_confounds_of_a_generator_must_match(vol, tmp_path):
    with pytest.raises(ValueError, match="one entry per image"):
        mask_study(iter(vol.func), tmp_path / "s.zarr", confounds=vol.confounds[:2],
                   mask=vol.mask_img)
    # the subjects before the error are kept
    assert MaskedStudy.open(tmp_path / "s.zarr").n_scans == 60


def test_append_refuses_other_grids_and_meshes(vol, surf, one_shot, tmp_path):
    path = tmp_path / "s.zarr"
    shutil.copytree(one_shot.path, path)
    study = MaskedStudy.open(path)
    img = vol.func[0]
    shifted = nibabel.Nifti1Image(np.asarray(img.dataobj), img.affine + _translation(8.0))
    with pytest.raises(ValueError, match="another grid than the study"):
        study.append([shifted])
    cropped = nibabel.Nifti1Image(np.asarray(img.dataobj)[1:], img.affine)
    with pytest.raises(ValueError, match="another grid than the study"):
        study.append(iter([cropped]))
    with pytest.raises(ValueError, match="surface images but the study holds volume"):
        study.append(surf.func[:1])
    assert study.n_scans == 90 and MaskedStudy.open(path).n_scans == 90

    from nilearn.surface import InMemoryMesh, PolyMesh, SurfaceImage

    sstudy = mask_study(surf.func[:1], tmp_path / "surf.zarr", mask=surf.mask_img)
    mesh = surf.func[1].mesh
    other = PolyMesh(**{part: InMemoryMesh(np.asarray(m.coordinates) * 1.01,
                                           np.asarray(m.faces))
                        for part, m in mesh.parts.items()})
    moved = SurfaceImage(mesh=other, data={part: np.asarray(values) for part, values
                                           in surf.func[1].data.parts.items()})
    with pytest.raises(ValueError, match="another mesh than the study's mask"):
        sstudy.append([moved])
    with pytest.raises(ValueError, match="volume images but the study holds surface"):
        sstudy.append(vol.func[:1])
    sstudy.append(surf.func[1:], confounds=surf.confounds[1:])
    assert len(sstudy.subjects) == 2


def _translation(mm):
    out = np.zeros((4, 4))
    out[0, 3] = mm
    return out


def test_study_with_target_affine_resamples_every_image(vol, tmp_path):
    affine = np.diag([10.0, 10.0, 10.0, 1.0])
    affine[:3, 3] = vol.mask_img.affine[:3, 3]
    study = mask_study(vol.func[:1], tmp_path / "s.zarr", mask=vol.mask_img,
                       target_affine=affine, target_shape=(17, 21, 18))
    refs, _ = estimator_masking(vol.func[:1], None, mask=vol.mask_img,
                                target_affine=affine, target_shape=(17, 21, 18))
    np.testing.assert_array_equal(study.read_subject(0), refs[0])
    assert study.mask_img.shape == (17, 21, 18)
    img = vol.func[1]
    # another grid is accepted: it is resampled to the study's target grid
    study.append([nibabel.Nifti1Image(np.asarray(img.dataobj), img.affine
                                      + _translation(2.0))])
    assert len(study.subjects) == 2


# --------------------------------------------------------------------------
# existing paths
# --------------------------------------------------------------------------


def test_existing_paths_are_refused_without_overwrite(vol, tmp_path):
    kwargs = dict(mask=vol.mask_img)
    path = tmp_path / "file.txt"
    path.write_text("precious")
    with pytest.raises(ValueError, match="exists and is not a nimf masked study"):
        mask_study(vol.func[:1], path, **kwargs)
    assert path.read_text() == "precious"
    assert len(mask_study(vol.func[:1], path, overwrite=True, **kwargs).subjects) == 1

    with pytest.raises(ValueError, match=r"MaskedStudy.open\(path\).append"):
        mask_study(vol.func, path, **kwargs)
    assert len(MaskedStudy.open(path).subjects) == 1
    # invalid input: the existing study is left as it was, even with overwrite
    img3d = nibabel.Nifti1Image(np.asarray(vol.func[0].dataobj)[..., 0], vol.func[0].affine)
    with pytest.raises(Exception, match="4D"):
        mask_study([img3d], path, overwrite=True, **kwargs)
    with pytest.raises(ValueError, match="smoothing_fwhm"):
        mask_study(vol.func, path, overwrite=True, smoothing_fwhm=-1, **kwargs)
    assert len(MaskedStudy.open(path).subjects) == 1
    assert len(mask_study(vol.func, path, overwrite=True, **kwargs).subjects) == 3

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a zarr store: refusing to delete"):
        mask_study(vol.func[:1], folder, overwrite=True, **kwargs)
    assert (folder / "notes.txt").read_text() == "keep me"


# --------------------------------------------------------------------------
# crash safety
# --------------------------------------------------------------------------

_CHILD = """
import json, os, signal, sys, time
import nibabel
import numpy as np
import zarr
from nimf.neuro import mask_study

files = json.loads(sys.argv[3])
mode = sys.argv[2]
if mode == "before-commit":
    # die after writing the rows of the second subject, before committing it
    update = zarr.Group.update_attributes

    def update_then_die(self, attributes):
        if len(attributes.get("nimf_study", {}).get("subjects", [])) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return update(self, attributes)

    zarr.Group.update_attributes = update_then_die

def subjects():
    for k, path in enumerate(files["imgs"]):
        if k and mode == "slow":
            time.sleep(1.0)
        yield nibabel.load(path)

mask_study(subjects(), sys.argv[1], confounds=[np.load(p) for p in files["confounds"]],
           mask=files["mask"])
"""


@pytest.fixture(scope="module")
def vol_files(vol, tmp_path_factory):
    """The volume study in files, for other processes (whose BLAS would generate
    other data)."""
    folder = tmp_path_factory.mktemp("files")
    files = {"imgs": [], "confounds": [], "mask": str(folder / "mask.nii")}
    # copies: saving an image makes it remember the file
    nibabel.save(_copy(vol.mask_img), files["mask"])
    for i, (img, conf) in enumerate(zip(vol.func, vol.confounds)):
        files["imgs"].append(str(folder / f"sub-{i}.nii"))
        nibabel.save(_copy(img), files["imgs"][-1])
        files["confounds"].append(str(folder / f"conf-{i}.npy"))
        np.save(files["confounds"][-1], conf)
    return files


def _copy(img):
    return nibabel.Nifti1Image(np.asarray(img.dataobj), img.affine, img.header)


def _committed(path):
    try:
        with open(os.path.join(path, "zarr.json"), encoding="utf-8") as f:
            return len(json.load(f)["attributes"]["nimf_study"].get("subjects", []))
    except (OSError, ValueError, KeyError):
        return 0


def _run_child(path, mode, files, kill_when_committed=None):
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), mode,
                             json.dumps(files)])
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if kill_when_committed and _committed(path) >= kill_when_committed:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("mode", ["before-commit", "slow"])
def test_killed_writer_leaves_the_committed_subjects(vol, vol_files, one_shot, tmp_path,
                                                     mode):
    path = tmp_path / "s.zarr"
    code = _run_child(path, mode, vol_files,
                      kill_when_committed=1 if mode == "slow" else None)
    assert code == -signal.SIGKILL
    study = MaskedStudy.open(path)
    n = len(study.subjects)
    assert 1 <= n < 3
    if mode == "before-commit":
        # the second subject's rows were written, sharing a chunk with the first
        assert n == 1 and study.data.shape[0] == 60 and study.chunks[0] > 30
    np.testing.assert_array_equal(stored(study), stored(one_shot)[:study.n_scans])
    checksums = [sub["sha256"] for sub in one_shot.subjects]
    assert [sub["sha256"] for sub in study.subjects] == checksums[:n]
    study.verify()
    study.append(vol.func[n:], confounds=vol.confounds[n:])
    np.testing.assert_array_equal(stored(study), stored(one_shot))
    assert [sub["sha256"] for sub in study.subjects] == checksums
    assert [sub["name"] for sub in study.subjects] == (
        [f"sub-{i}.nii" for i in range(n)] + [f"subject-{i:03d}" for i in range(n, 3)])
    assert not [name for _, _, files in os.walk(path) for name in files
                if name.endswith(".partial")]


# --------------------------------------------------------------------------
# damaged stores
# --------------------------------------------------------------------------


@pytest.fixture
def small_chunks(vol, tmp_path):
    """A study in chunks of 16 scans: subject 2 alone in chunk rows 4 and 5."""
    path = tmp_path / "s.zarr"
    mask_study(vol.func, path, confounds=vol.confounds, mask=vol.mask_img, chunks=(16, 1024))
    return path


def test_verify_finds_damaged_chunks(small_chunks, tmp_path):
    chunk = small_chunks / "data" / "c" / "4" / "1"
    raw = chunk.read_bytes()
    chunk.write_bytes(raw[:len(raw) // 2])
    study = MaskedStudy.open(small_chunks)
    study.verify(subjects=[0, 1])
    with pytest.raises(ValueError, match=r"subject 2 \('subject-002'\) cannot be read") as info:
        study.verify()
    assert str(small_chunks) in str(info.value)
    with pytest.raises(ValueError, match="could not read scans") as info:
        study.read_rows(60, 90)
    assert str(small_chunks) in str(info.value)

    # garbled bytes in a chunk of subject 0 (the checksum of each chunk fails)
    chunk = small_chunks / "data" / "c" / "0" / "2"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"subject 0 \('subject-000'\)"):
        study.verify()
    # a chunk file gone: read as NaN, which no checksum matches
    (small_chunks / "data" / "c" / "2" / "0").unlink()
    with pytest.raises(ValueError, match=r"subject 1 \('subject-001'\) does not match"):
        study.verify(subjects=[1])


def _edit_meta(path, edit):
    meta_file = path / "zarr.json"
    doc = json.loads(meta_file.read_text())
    edit(doc["attributes"]["nimf_study"])
    meta_file.write_text(json.dumps(doc))


@pytest.mark.parametrize("damage, message", [
    ("no zarr.json", "metadata cannot be read"),
    ("bad json", "metadata cannot be read"),
    ("plain zarr group", "not a nimf masked study"),
    ("no data", "no readable 'data' array"),
    ("short data", "fewer than the 90 committed"),
    ("short voxel_order", "voxel_order is not a permutation"),
    ("repeated voxel", "voxel_order is not a permutation"),
    ("creating", "not completely created"),
    ("overlapping subjects", "metadata is damaged"),
    ("no mask", "no readable mask"),
])
def test_open_refuses_damaged_stores(small_chunks, damage, message):
    import zarr

    path = small_chunks
    if damage == "no zarr.json":
        (path / "zarr.json").unlink()
    elif damage == "bad json":
        (path / "zarr.json").write_text('{"zarr_format": 3, "node_type": "gro')
    elif damage == "plain zarr group":
        shutil.rmtree(path)
        zarr.create_group(str(path))
    elif damage == "no data":
        shutil.rmtree(path / "data")
    elif damage == "short data":
        zarr.open_array(str(path / "data"), mode="r+").resize((50, MaskedStudy(path).n_voxels))
    elif damage in ("short voxel_order", "repeated voxel"):
        order = np.asarray(zarr.open_array(str(path / "voxel_order"))[:])
        order = order[:-1] if damage == "short voxel_order" else np.r_[order[:-1], order[0]]
        group = zarr.open_group(str(path), mode="r+")
        del group["voxel_order"]
        group.create_array("voxel_order", data=order)
    elif damage == "creating":
        _edit_meta(path, lambda meta: meta.update(state="creating"))
    elif damage == "overlapping subjects":
        _edit_meta(path, lambda meta: meta["subjects"][1].update(start=20))
    elif damage == "no mask":
        shutil.rmtree(path / "mask")
    with pytest.raises(ValueError, match=message) as info:
        MaskedStudy.open(path)
    assert str(path) in str(info.value)


def test_missing_path_and_metadata_is_json(small_chunks, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        MaskedStudy.open(tmp_path / "nothing.zarr")
    # metadata: JSON only; arrays: numbers only (nothing is pickled)
    metas = [os.path.join(root, "zarr.json") for root, _, files in os.walk(small_chunks)
             if "zarr.json" in files]
    assert len(metas) == 4  # the group, data, voxel_order, mask
    for meta in metas:
        with open(meta, encoding="utf-8") as f:
            doc = json.load(f)
        if doc["node_type"] == "array":
            assert np.dtype(doc["data_type"]).kind in "uif"
    meta = json.loads((small_chunks / "zarr.json").read_text())["attributes"]["nimf_study"]
    assert meta["format"] == "nimf.masked_study" and meta["state"] == "ready"
    assert meta["voxel_order_seed"] == 0 and meta["n_scans"] == 90
    assert np.array_equal(np.random.RandomState(0).permutation(meta["n_voxels"]),
                          MaskedStudy.open(small_chunks).voxel_order)


def test_concurrent_writer_is_refused(small_chunks, vol):
    import fcntl

    fd = os.open(small_chunks, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match="another process is writing"):
            MaskedStudy.open(small_chunks).append(vol.func[:1])
    finally:
        os.close(fd)
    assert MaskedStudy.open(small_chunks).n_scans == 90


def test_images_that_cannot_be_cleaned_are_refused_before_they_are_stored(vol, tmp_path):
    data = np.asarray(vol.func[1].dataobj).astype(np.float32)
    inside = tuple(np.argwhere(np.asarray(vol.mask_img.dataobj) > 0)[0])
    # one voxel of the mask whose values overflow float32 arithmetic when cleaned
    data[inside] = np.float32(3e38) * np.where(np.arange(data.shape[3]) % 2, 1, -1)
    bad = nibabel.Nifti1Image(data, vol.func[1].affine)
    path = tmp_path / "s.zarr"
    with pytest.raises(ValueError, match=r"imgs\[1\] \(.*\) could not be masked: its masked "
                                         r"and cleaned signals hold NaN or infinite values at "
                                         r"1 of its \d+ mask elements in \d+ of its \d+ scans "
                                         r"\(the first: scan \d+\)"):
        mask_study([vol.func[0], bad], path, mask=vol.mask_img, confounds=vol.confounds[:2],
                   smoothing_fwhm=None, dtype="float32")
    # the subject before it stays committed, and the study holds nothing else
    study = MaskedStudy.open(path)
    study.verify()
    assert len(study.subjects) == 1 and np.isfinite(study.read_rows(0, study.n_scans)).all()
