"""Tests written to kill surviving mutants of nimf/neuro/study.py.

``python tools/mutation.py nimf/neuro/study.py`` found changes of behaviour that
no test noticed; each test below pins the behaviour one of them changed.
"""

import json
import re
import shutil

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
               chunks=(8, 1024))
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
