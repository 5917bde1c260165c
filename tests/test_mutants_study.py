"""Tests written to kill surviving mutants of nimf/neuro/study.py.

``python tools/mutation.py nimf/neuro/study.py`` found changes of behaviour that
no test noticed; each test below pins the behaviour one of them changed.
"""

import json
import re
import shutil

import numpy as np
import pytest

from nimf.neuro import MaskedStudy, mask_study


def test_auto_chunks_at_the_boundaries_of_the_rule():
    from nimf.neuro.study import _auto_chunks

    # doubling to 512 voxels needs at least 100 chunks of 512: 51,200 voxels exactly
    assert _auto_chunks(51_200, 4) == (64, 512)
    assert _auto_chunks(51_199, 4) == (64, 256)
    assert _auto_chunks(100 * 2048, 4) == (64, 2048)
    assert _auto_chunks(100 * 2048 - 1, 4) == (64, 1024)
    # 64 scans while a chunk stays within 1 MB (2 ** 20 bytes), else 32
    assert _auto_chunks(100 * 8192, 4) == (64, 4096)
    assert _auto_chunks(100 * 8192, 8) == (32, 4096)
    assert _auto_chunks(100 * 4096 - 1, 8) == (64, 2048)  # 64 x 2048 x 8 bytes: 1 MB


@pytest.mark.parametrize("param, value, what", [
    ("smoothing_fwhm", -1, "a non-negative number"),
    ("smoothing_fwhm", float("nan"), "a non-negative number"),
    ("smoothing_fwhm", True, "a non-negative number"),
    ("low_pass", 0, "a positive number"),
    ("high_pass", -0.1, "a positive number"),
    ("t_r", "2", "a positive number"),
])
def test_mask_study_refuses_bad_numbers_before_reading_images(tmp_path, param, value, what):
    message = f"{param} must be None or {what}, got {value!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        mask_study(["never-read.nii.gz"], tmp_path / "s.zarr", **{param: value})
    assert not (tmp_path / "s.zarr").exists()


@pytest.fixture(scope="module")
def tiny_rest():
    from nimf.datasets import make_rest_study

    return make_rest_study(n_subjects=2, n_scans=12, resolution=8, random_state=0)


@pytest.fixture(scope="module")
def tiny_study_path(tiny_rest, tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "study.zarr"
    mask_study(tiny_rest.func, path, confounds=tiny_rest.confounds, mask=tiny_rest.mask_img,
               chunks=(16, 1024))  # 24 scans: the last chunk row (1) half full
    return path


@pytest.fixture
def study_copy(tiny_study_path, tmp_path):
    path = tmp_path / "copy.zarr"
    shutil.copytree(tiny_study_path, path)
    return path


def _meta(path):
    return json.loads((path / "zarr.json").read_text())["attributes"]["nimf_study"]


def _edit_meta(path, edit):
    doc = json.loads((path / "zarr.json").read_text())
    edit(doc["attributes"]["nimf_study"])
    (path / "zarr.json").write_text(json.dumps(doc))


def test_study_format_version_is_1_and_newer_versions_are_refused(study_copy):
    assert _meta(study_copy)["format_version"] == 1
    _edit_meta(study_copy, lambda meta: meta.update(format_version=2))
    message = (f"{str(study_copy)!r}: masked study format version 2 is not supported by this "
               f"nimf (version <= 1)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        MaskedStudy.open(study_copy)


def test_explicit_chunks_of_one_are_allowed_and_zero_is_refused():
    from nimf.neuro.study import _check_chunks

    assert _check_chunks((1, 1), 500, 4) == (1, 1)
    assert _check_chunks([3, 1000], 500, 4) == (3, 500)  # no wider than the mask
    for bad in ((0, 5), (5, 0), (True, 5), (2.0, 5), (5,), "big"):
        message = (f"chunks must be 'auto' or a tuple of 2 positive ints (scan_chunk, "
                   f"voxel_chunk), got {bad!r}")
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            _check_chunks(bad, 500, 4)


def test_existing_destinations_are_refused_with_what_to_do(tiny_study_path, tmp_path):
    path = str(tiny_study_path)
    message = (f"{path!r} already holds a nimf masked study; use MaskedStudy.open(path)"
               f".append(...) to add subjects, or overwrite=True to replace it")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        mask_study(["never-read.nii.gz"], tiny_study_path)
    other = tmp_path / "notes.txt"
    other.write_text("keep")
    message = (f"{str(other)!r} exists and is not a nimf masked study; choose another path "
               f"or pass overwrite=True to replace it")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        mask_study(["never-read.nii.gz"], other)
    missing = tmp_path / "no" / "such" / "s.zarr"
    message = f"path: the parent folder {str(missing.parent)!r} does not exist"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        mask_study(["never-read.nii.gz"], missing)
    assert other.read_text() == "keep"


def test_append_removes_the_temporary_chunks_of_a_killed_write(tiny_rest, study_copy):
    # a write killed after growing the array leaves zarr's '<chunk>.<uuid>.partial' files
    # in the chunk rows from the last committed one on (24 scans in chunks of 16: row 1)
    import zarr

    n_voxels = MaskedStudy.open(study_copy).n_voxels
    zarr.open_array(str(study_copy / "data"), mode="r+").resize((48, n_voxels))
    chunks = study_copy / "data" / "c"
    (chunks / "2").mkdir(exist_ok=True)
    left = [chunks / "1" / "0.0123abcd.partial", chunks / "2" / "0.4567ef01.partial"]
    kept = chunks / "0" / "0.89abcdef.partial"  # before the committed rows: not this write's
    for path in left + [kept]:
        path.write_bytes(b"half a chunk")
    study = MaskedStudy.open(study_copy)
    assert study.n_scans == 24 and study.data.shape[0] == 48
    study.append(tiny_rest.func[:1], confounds=tiny_rest.confounds[:1])
    assert not any(path.exists() for path in left)
    assert kept.exists()
    assert study.n_scans == 36
    study.verify()


def test_surface_mask_on_another_mesh_is_refused_with_both_sizes(tmp_path):
    from nilearn.surface import InMemoryMesh, PolyMesh, SurfaceImage

    rng = np.random.RandomState(0)

    def mesh(n):
        coords = rng.standard_normal((n, 3))
        faces = np.array([[i, (i + 1) % n, (i + 2) % n] for i in range(n)])
        return PolyMesh(left=InMemoryMesh(coords, faces),
                        right=InMemoryMesh(coords.copy(), faces.copy()))

    img = SurfaceImage(mesh=mesh(6), data={"left": rng.standard_normal((6, 12)),
                                           "right": rng.standard_normal((6, 12))})
    mask = SurfaceImage(mesh=mesh(5), data={"left": np.ones(5, bool),
                                            "right": np.ones(5, bool)})
    message = "mask has 5 vertices in part 'left', the images 6: give a mask on the images' mesh"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        mask_study([img], tmp_path / "s.zarr", mask=mask, smoothing_fwhm=None)


@pytest.mark.parametrize("random_state", ["instance", None])
def test_voxel_order_seed_drawn_from_a_random_state_or_none(tiny_rest, tmp_path, random_state):
    # an int in [0, 2 ** 32) is the seed itself; otherwise a seed is drawn from it
    rng = np.random.RandomState(5) if random_state == "instance" else None
    path = tmp_path / "s.zarr"
    study = mask_study(tiny_rest.func[:1], path, confounds=tiny_rest.confounds[:1],
                       mask=tiny_rest.mask_img, random_state=rng)
    seed = _meta(path)["voxel_order_seed"]
    if rng is not None:
        assert seed == np.random.RandomState(5).randint(np.iinfo(np.int32).max)
    assert isinstance(seed, int) and 0 <= seed < np.iinfo(np.int32).max
    np.testing.assert_array_equal(study.voxel_order,
                                  np.random.RandomState(seed).permutation(study.n_voxels))


def test_a_client_that_is_not_a_dask_client_is_refused_by_type(tmp_path):
    message = "client must be a dask.distributed.Client, None or False, got str"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        mask_study(["never-read.nii.gz"], tmp_path / "s.zarr", client="tcp://localhost")
    assert not (tmp_path / "s.zarr").exists()


def test_an_existing_store_at_a_url_is_refused_without_overwrite(tmp_path):
    import zarr

    zarr.create_group(str(tmp_path / "other.zarr"))
    url = f"local://{tmp_path}/other.zarr"
    message = (f"{url!r} already holds a zarr store; use MaskedStudy.open(url).append(...) to "
               f"add subjects to a study, or overwrite=True to replace it")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        mask_study(["never-read.nii.gz"], url)
    assert zarr.open_group(str(tmp_path / "other.zarr"), mode="r") is not None


def test_a_study_left_in_creation_says_how_to_recover(study_copy):
    _edit_meta(study_copy, lambda meta: meta.update(state="creating"))
    message = (f"{str(study_copy)!r}: the study was not completely created (its writer was "
               f"interrupted before any subject); create it again with mask_study(..., "
               f"overwrite=True)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        MaskedStudy.open(study_copy)


def test_a_study_without_its_voxel_order_is_refused_by_name(study_copy):
    shutil.rmtree(study_copy / "voxel_order")
    message = f"{str(study_copy)!r}: the study has no readable 'voxel_order' array"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        MaskedStudy.open(study_copy)


def test_subject_indices_past_the_last_are_refused(tiny_study_path):
    study = MaskedStudy.open(tiny_study_path)
    assert len(study.subjects) == 2
    np.testing.assert_array_equal(study.read_subject(-2), study.read_subject(0))
    for bad in (2, -3, True, 1.0):
        message = f"subject index must be an int in [-2, 2), got {bad!r}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            study.read_subject(bad)
    with pytest.raises(ValueError, match=re.escape("an int in [-2, 2), got 2")):
        study.verify(subjects=[0, 2])


def test_append_and_mask_study_check_verbose_by_name(tiny_study_path, tmp_path):
    study = MaskedStudy.open(tiny_study_path)
    with pytest.raises(ValueError, match=r"^verbose must be .*got -1$"):
        study.append(["never-read.nii.gz"], verbose=-1)
    with pytest.raises(ValueError, match=r"^verbose must be .*got -1$"):
        mask_study(["never-read.nii.gz"], tmp_path / "s.zarr", verbose=-1)
    assert MaskedStudy.open(tiny_study_path).n_scans == 24


def test_repr_and_sizes():
    from nimf.neuro.study import _size

    assert [_size(n) for n in (0, 999, 1000, 123_456, 2.5e9, 5e12, 7.25e15)] == [
        "0 B", "999 B", "1.0 kB", "123.5 kB", "2.5 GB", "5.0 TB", "7250.0 TB"]


def test_repr_of_a_volume_study(tiny_study_path):
    study = MaskedStudy.open(tiny_study_path)
    pattern = (rf"<MaskedStudy {re.escape(repr(str(tiny_study_path)))}: 2 subjects, 24 scans "
               rf"x {study.n_voxels} voxels, float32, chunks \(16, 1024\), [\d.]+ kB in "
               rf"memory, [\d.]+ kB on disk>")
    assert re.fullmatch(pattern, repr(study))


def test_generators_of_images_with_or_without_confounds(tiny_rest, tiny_study_path, tmp_path):
    # a generator of images needs no confounds, and takes them as a list or a generator
    reference = MaskedStudy.open(tiny_study_path)
    with_confounds = mask_study(iter(tiny_rest.func), tmp_path / "a.zarr",
                                confounds=iter(tiny_rest.confounds), mask=tiny_rest.mask_img,
                                chunks=(16, 1024))
    np.testing.assert_array_equal(with_confounds.read_rows(0, 24), reference.read_rows(0, 24))
    without = mask_study(iter(tiny_rest.func), tmp_path / "b.zarr", mask=tiny_rest.mask_img)
    assert len(without.subjects) == 2 and without.n_scans == 24
    assert [sub["confounds"] for sub in without.subjects] == [None, None]
