"""Tests of nimf.neuro._signal: fast masking and cleaning, checked against nilearn.

Every comparison is made twice:

* in float32, against nilearn run on the same float32 images.  nilearn's own
  float32 computations are off by up to ~3e-4 of the output scale (its
  float32 smoothed data carry a rounding of ~1e-7 of the ~1000 baseline,
  which standardization divides by the small temporal standard deviation of
  a voxel), hence ``atol = 5e-4 * scale``; smoothing itself is reproduced to
  the bit or so (float64 sums rounded to float32 after each axis, as scipy);
* in float64, against nilearn run on float64 copies of the images, where both
  are exact up to round-off: ``rtol = atol / scale = 1e-9``.
"""

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.exceptions import AllVolumesRemovedError, DimensionError, MeshDimensionError
from nilearn.maskers import NiftiMasker, SurfaceMasker
from nilearn.signal import clean
from nilearn.surface import SurfaceImage

from nimf.datasets import make_rest_study, make_surface_rest_study
from nimf.neuro._signal import clean_signals, mask_and_clean, surface_mask_and_clean

# nilearn (the reference) warns about boolean ``standardize`` values; nimf must not
pytestmark = pytest.mark.filterwarnings(
    "ignore:boolean values for 'standardize':FutureWarning")

N_SCANS = 40
T_R = 2.0


@pytest.fixture(scope="module")
def study():
    s = make_rest_study(n_subjects=1, n_scans=N_SCANS, n_networks=4, resolution=6,
                        random_state=0)
    img = s.func[0]
    s.img = img
    s.img64 = nib.Nifti1Image(np.asarray(img.dataobj, dtype=np.float64), img.affine)
    s.conf = s.confounds[0]
    # nilearn filters one voxel at a time: filtering tests use a smaller mask
    small = np.zeros(s.mask_img.shape, dtype=np.uint8)
    small[10:18, 12:21, 8:14] = np.asarray(s.mask_img.dataobj)[10:18, 12:21, 8:14]
    s.small_mask = nib.Nifti1Image(small, img.affine)
    return s


@pytest.fixture(scope="module")
def surface_study():
    s = make_surface_rest_study(n_subjects=1, n_scans=30, n_networks=3, random_state=0)
    s.img = s.func[0]
    # nilearn filters one vertex at a time: filtering tests use a smaller mask
    s.small_mask = SurfaceImage(mesh=s.mask_img.mesh, data={
        part: np.where(np.arange(len(mask)) < 400, mask, False)
        for part, mask in s.mask_img.data.parts.items()})
    return s


def _nilearn(img, mask_img, confounds=None, sample_mask=None, **params):
    masker = NiftiMasker(mask_img=mask_img, **params).fit()
    return masker.transform(img, confounds=confounds, sample_mask=sample_mask)


def _assert_matches(out, ref, dtype):
    assert out.dtype == np.dtype(dtype)
    assert out.flags.c_contiguous
    assert out.shape == ref.shape
    scale = np.abs(ref).max()
    if np.dtype(dtype) == np.float32:
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=5e-4 * scale)
    else:
        np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9 * scale)


def _check_volume(study, dtype, confounds=None, sample_mask=None, mask_img=None,
                  **params):
    img = study.img if np.dtype(dtype) == np.float32 else study.img64
    mask_img = study.mask_img if mask_img is None else mask_img
    ref = _nilearn(img, mask_img, confounds=confounds, sample_mask=sample_mask, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        out = mask_and_clean(img, mask_img, confounds=confounds, sample_mask=sample_mask,
                             dtype=dtype, **params)
    _assert_matches(out, ref, dtype)
    return out


# --------------------------------------------------------------------------
# volumes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("detrend", [False, True])
@pytest.mark.parametrize("standardize", [False, None, True, "zscore_sample", "psc"])
@pytest.mark.parametrize("smoothing_fwhm", [None, 4, 8])
def test_matches_nifti_masker(study, smoothing_fwhm, standardize, detrend):
    out = _check_volume(study, np.float32, smoothing_fwhm=smoothing_fwhm,
                        standardize=standardize, detrend=detrend)
    if not detrend and standardize in (False, None):
        # the smoothed values themselves: float32 round-off of nilearn's
        ref = _nilearn(study.img, study.mask_img, smoothing_fwhm=smoothing_fwhm)
        np.testing.assert_allclose(out, ref, rtol=3e-7, atol=0)


@pytest.mark.parametrize("detrend,standardize", [(False, False), (True, "zscore_sample"),
                                                  (False, "psc"), (True, "psc")])
@pytest.mark.parametrize("smoothing_fwhm", [None, 4, 8])
def test_matches_nifti_masker_float64(study, smoothing_fwhm, standardize, detrend):
    _check_volume(study, np.float64, smoothing_fwhm=smoothing_fwhm,
                  standardize=standardize, detrend=detrend)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("standardize", ["zscore_sample", "psc"])
@pytest.mark.parametrize("standardize_confounds", [True, False])
@pytest.mark.parametrize("detrend", [False, True])
def test_confounds(study, detrend, standardize_confounds, standardize, dtype):
    with warnings.catch_warnings():
        # detrend=False with standardize_confounds=False: both warn
        warnings.filterwarnings("ignore", message="When confounds are provided")
        _check_volume(study, dtype, confounds=study.conf, smoothing_fwhm=6,
                      detrend=detrend, standardize=standardize,
                      standardize_confounds=standardize_confounds)


BANDS = {"low": (0.1, None), "high": (None, 0.02), "band": (0.1, 0.02)}


@pytest.mark.parametrize("dtype,band", [(np.float32, "low"), (np.float32, "high"),
                                        (np.float32, "band"), (np.float64, "band")])
@pytest.mark.parametrize("detrend,standardize", [(True, "zscore_sample"), (False, "psc"),
                                                  (False, "zscore_sample")])
def test_butterworth(study, band, detrend, standardize, dtype):
    band = BANDS[band]
    _check_volume(study, dtype, confounds=study.conf, mask_img=study.small_mask,
                  smoothing_fwhm=6, detrend=detrend, standardize=standardize,
                  low_pass=band[0], high_pass=band[1], t_r=T_R)


def _sample_masks():
    interior = np.ones(N_SCANS, dtype=bool)
    interior[[7, 20, 21]] = False
    edges = np.ones(N_SCANS, dtype=bool)
    edges[[0, 1, 15, 37, 38, 39]] = False
    return {"bool-interior": interior, "bool-edges": edges,
            "indices": np.flatnonzero(edges)[::2].copy()}


@pytest.mark.parametrize("dtype,band", [(np.float32, None), (np.float32, "low"),
                                        (np.float32, "band"), (np.float64, None),
                                        (np.float64, "band")])
@pytest.mark.parametrize("kind", ["bool-interior", "bool-edges", "indices"])
def test_sample_mask(study, kind, band, dtype):
    # with a Butterworth filter nilearn interpolates censored scans (with a
    # quirk on integer masks, see nimf.neuro._signal): the result must match
    sample_mask = _sample_masks()[kind]
    params = dict(smoothing_fwhm=4, detrend=True, standardize="zscore_sample")
    if band is not None:
        params.update(low_pass=BANDS[band][0], high_pass=BANDS[band][1], t_r=T_R)
    out = _check_volume(study, dtype, confounds=study.conf, sample_mask=sample_mask,
                        mask_img=study.small_mask, **params)
    n_kept = sample_mask.sum() if sample_mask.dtype == bool else len(sample_mask)
    assert out.shape[0] == n_kept


@pytest.mark.filterwarnings("ignore:imgs are being resampled:UserWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("target", ["affine3", "affine4-shape", "same-grid"])
def test_target_affine(study, target, dtype):
    img = study.img
    if target == "affine3":
        params = dict(target_affine=np.diag([7.0, 7.0, 7.0]))
    elif target == "affine4-shape":
        affine = img.affine.copy()
        affine[:3, :3] = np.diag([5.0, 5.0, 5.0])
        params = dict(target_affine=affine, target_shape=(30, 36, 30))
    else:
        params = dict(target_affine=img.affine, target_shape=img.shape[:3])
    _check_volume(study, dtype, smoothing_fwhm=6, detrend=True,
                  standardize="zscore_sample", **params)


def test_image_from_file_and_small_mask(study, tmp_path):
    """Scan-major (NIfTI file) and voxel-major layouts, cropped boxes, 4D mask."""
    path = tmp_path / "func.nii"
    nib.save(study.img, path)
    mask = np.zeros(study.mask_img.shape, dtype=np.uint8)
    mask[10:14, 12:20, 9:11] = 1
    mask[11, 13, 8] = 1
    small = nib.Nifti1Image(mask, study.img.affine)
    small4d = nib.Nifti1Image(np.stack([mask * 3, mask], axis=-1), study.img.affine)
    params = dict(smoothing_fwhm=8, detrend=True, standardize="zscore_sample")
    for mask_img in (study.mask_img, small, small4d):
        ref = _nilearn(study.img, mask_img, **params)
        for source in (path, str(path), nib.load(path), study.img):
            _assert_matches(mask_and_clean(source, mask_img, **params), ref, np.float32)
        smoothed = _nilearn(study.img, mask_img, smoothing_fwhm=8)
        np.testing.assert_allclose(mask_and_clean(path, mask_img, smoothing_fwhm=8),
                                   smoothed, rtol=3e-7, atol=0)
    # censoring without filtering: only the kept scans are smoothed
    keep = _sample_masks()["bool-interior"]
    ref = _nilearn(study.img, small, sample_mask=keep, **params)
    for source in (path, study.img):
        _assert_matches(mask_and_clean(source, small, sample_mask=keep, **params), ref,
                        np.float32)
    # F-ordered arrays in memory, and arrays with permuted axes
    data = np.asarray(study.img.dataobj)
    for array in (np.asfortranarray(data),
                  np.ascontiguousarray(data.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)):
        img = nib.Nifti1Image(array, study.img.affine)
        _assert_matches(mask_and_clean(img, small, **params),
                        _nilearn(study.img, small, **params), np.float32)


def test_non_finite_values(study):
    data = np.array(study.img.dataobj)
    data[12, 15, 10, 3] = np.nan
    data[0, 0, 0, :] = np.inf
    data[20, 20, 15, 7] = -np.inf
    img = nib.Nifti1Image(data, study.img.affine)
    mask = np.asarray(study.mask_img.dataobj).astype(bool)
    assert mask[12, 15, 10] and mask[20, 20, 15] and not mask[0, 0, 0]
    n_voxels, n_scans = int(mask.sum()), data.shape[3]
    for fwhm in (None, 6):
        ref = _nilearn(img, study.mask_img, smoothing_fwhm=fwhm)
        # zeroed as nilearn does, and said: the two values inside the mask (the
        # column of inf outside it is not counted, even where smoothing spreads it)
        with pytest.warns(UserWarning) as record:
            out = mask_and_clean(img, study.mask_img, smoothing_fwhm=fwhm)
        said = [str(w.message) for w in record if "NaN or infinite" in str(w.message)]
        # (attributed to the line that called mask_and_clean)
        assert [w.filename for w in record if "NaN or infinite" in str(w.message)] == [__file__]
        assert said == [
            f"The image holds 2 NaN or infinite values inside the mask, at 2 of its "
            f"{n_voxels} voxels in 2 of its {n_scans} scans: they were replaced by zeros, "
            "as nilearn's maskers do. NaN inside the brain usually come from a damaged file "
            "or a failed preprocessing step; leave these voxels out of the mask, or these "
            "scans out with sample_mask, if zeros are not wanted."]
        assert np.isfinite(out).all()
        _assert_matches(out, ref, np.float32)
    # only the scans kept count; NaN outside the mask only are not reported
    keep = np.ones(n_scans, bool)
    keep[7] = False
    with pytest.warns(UserWarning, match="holds 1 NaN or infinite value inside the mask, at "
                                         f"1 of its {n_voxels} voxels in 1 of its "
                                         f"{n_scans - 1} scans"):
        mask_and_clean(img, study.mask_img, sample_mask=keep)
    outside = np.array(study.img.dataobj)
    outside[~mask] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = mask_and_clean(nib.Nifti1Image(outside, study.img.affine), study.mask_img,
                             smoothing_fwhm=6)
    assert np.isfinite(out).all()


def test_non_finite_values_name_the_file(study, tmp_path):
    data = np.array(study.img.dataobj)
    data[12, 15, 10, 3] = np.nan
    path = tmp_path / "damaged.nii.gz"
    nib.save(nib.Nifti1Image(data, study.img.affine), path)
    for source in (path, str(path), nib.load(path)):
        with pytest.warns(UserWarning, match=f"The image '{path}' holds 1 NaN"):
            mask_and_clean(source, study.mask_img)


def test_non_finite_values_on_surfaces(surface_study):
    img = surface_study.img
    mask_img = surface_study.mask_img
    parts = {part: np.array(values, dtype=np.float32) for part, values in img.data.parts.items()}
    inside = int(np.flatnonzero(np.asarray(mask_img.data.parts["left"]))[0])
    parts["left"][inside, 3] = np.nan
    parts["left"][inside, 5] = np.inf
    bad = SurfaceImage(mesh=img.mesh, data=parts)
    n_vertices = int(np.asarray(mask_img.data.parts["left"]).sum())
    n_scans = parts["left"].shape[1]
    # smoothing zeroes them, as nilearn does, and says so
    with pytest.warns(UserWarning, match=(
            f"Part 'left' of the surface image holds 2 NaN or infinite values inside the "
            f"mask, at 1 of its {n_vertices} vertices in 2 of its {n_scans} scans: they were "
            "replaced by zeros")) as record:
        out = surface_mask_and_clean(bad, mask_img, smoothing_fwhm=4)
    assert [w.filename for w in record if "NaN" in str(w.message)] == [__file__]
    ref = SurfaceMasker(mask_img=mask_img, smoothing_fwhm=4).fit().transform(bad)
    assert np.isfinite(out).all()
    _assert_matches(out, ref, np.float32)
    # without smoothing they are kept, as nilearn keeps them (the estimators refuse them)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = surface_mask_and_clean(bad, mask_img)
    assert np.isnan(out).sum() == 1 and np.isinf(out).sum() == 1


def test_integer_image(study):
    data = np.rint(np.asarray(study.img.dataobj)).astype(np.int16)
    img = nib.Nifti1Image(data, study.img.affine)
    params = dict(smoothing_fwhm=6, detrend=True, standardize="zscore_sample")
    _assert_matches(mask_and_clean(img, study.mask_img, **params),
                    _nilearn(img, study.mask_img, **params), np.float32)


def test_confounds_formats(study, tmp_path):
    """Confounds as CSV paths (with a header), DataFrames, lists and 1D arrays."""
    conf = study.conf
    csv = tmp_path / "confounds.csv"
    pd.DataFrame(conf, columns=[f"c{i}" for i in range(conf.shape[1])]).to_csv(
        csv, index=False)
    tsv = tmp_path / "confounds.tsv"
    np.savetxt(tsv, conf[:, :3], delimiter="\t")
    ref = _nilearn(study.img, study.mask_img, confounds=conf, detrend=True)
    # a list is stacked column-wise: the span of the confounds is the same
    for confounds in (str(csv), csv, pd.DataFrame(conf), [conf[:, 3:], tsv]):
        out = mask_and_clean(study.img, study.mask_img, confounds=confounds,
                             detrend=True)
        _assert_matches(out, ref, np.float32)
    ref = _nilearn(study.img, study.mask_img, confounds=conf[:, 0], detrend=True)
    _assert_matches(mask_and_clean(study.img, study.mask_img, confounds=conf[:, 0],
                                   detrend=True), ref, np.float32)


def test_no_future_warning_and_true_means_zscore_sample(study):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = mask_and_clean(study.img, study.mask_img, standardize=True)
        b = mask_and_clean(study.img, study.mask_img, standardize="zscore_sample")
    np.testing.assert_array_equal(a, b)


def test_bad_inputs(study):
    img, mask_img = study.img, study.mask_img
    three_d = nib.Nifti1Image(np.asarray(img.dataobj)[..., 0], img.affine)
    with pytest.raises(DimensionError):
        mask_and_clean(three_d, mask_img)
    empty = nib.Nifti1Image(np.zeros(mask_img.shape, dtype=np.uint8), img.affine)
    with pytest.raises(ValueError, match="empty"):
        mask_and_clean(img, empty)
    with pytest.raises(ValueError, match="Signal length: 40; confound length: 39"):
        mask_and_clean(img, mask_img, confounds=study.conf[:-1])
    with pytest.raises(ValueError, match="'standardize' must be one of"):
        mask_and_clean(img, mask_img, standardize="zscore")
    with pytest.raises(ValueError, match="t_r"):
        mask_and_clean(img, mask_img, low_pass=0.1)
    with pytest.raises(ValueError, match="High pass cutoff"):
        mask_and_clean(img, mask_img, low_pass=0.05, high_pass=0.1, t_r=T_R)
    with pytest.raises(TypeError, match="detrend"):
        mask_and_clean(img, mask_img, detrend="yes")
    with pytest.raises(AllVolumesRemovedError):
        mask_and_clean(img, mask_img, sample_mask=np.zeros(N_SCANS, dtype=bool))
    with pytest.raises(IndexError):
        mask_and_clean(img, mask_img, sample_mask=np.array([0, 5, N_SCANS]))
    with pytest.raises(ValueError, match="dtype"):
        mask_and_clean(img, mask_img, dtype=np.int32)


# --------------------------------------------------------------------------
# clean_signals
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("params", [
    dict(detrend=True),
    dict(detrend=True, standardize="zscore_sample"),
    dict(standardize="psc"),
    dict(detrend=True, standardize="psc", high_pass=0.02, t_r=T_R),
    dict(standardize="zscore_sample", low_pass=0.1, high_pass=0.02, t_r=T_R),
], ids=["detrend", "detrend-zscore", "psc", "detrend-psc-highpass", "zscore-band"])
@pytest.mark.parametrize("with_confounds", [False, True])
def test_clean_signals(params, with_confounds, dtype):
    rng = np.random.default_rng(0)
    n = 60
    signals = (500 + np.cumsum(rng.standard_normal((n, 300)), axis=0)
               + 10 * rng.standard_normal((n, 300))).astype(dtype)
    if "t_r" not in params:
        # constant columns (after filtering, nilearn standardizes round-off)
        signals[:, :3] = 7.0
    confounds = rng.standard_normal((n, 4)) if with_confounds else None
    ref = clean(signals, confounds=confounds, filter="butterworth",
                **{"detrend": False, "standardize": None, "t_r": None, **params})
    out = clean_signals(signals, confounds=confounds, **params)
    _assert_matches(out, ref, dtype)
    copy = signals.copy()
    out = clean_signals(copy, confounds=confounds, copy=False, **params)
    _assert_matches(out, ref, dtype)


def test_clean_signals_copy_and_sample_mask():
    rng = np.random.default_rng(1)
    signals = rng.standard_normal((50, 20))
    before = signals.copy()
    clean_signals(signals, detrend=True, standardize="zscore_sample")
    np.testing.assert_array_equal(signals, before)
    keep = np.arange(2, 48, 3)
    ref = clean(signals, detrend=True, standardize="zscore_sample", sample_mask=keep,
                filter=False)
    np.testing.assert_allclose(clean_signals(signals, detrend=True,
                                             standardize="zscore_sample",
                                             sample_mask=keep), ref, rtol=1e-10,
                               atol=1e-10)
    with pytest.raises(ValueError, match="2D"):
        clean_signals(signals[0])


# --------------------------------------------------------------------------
# surfaces
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("params", [
    dict(),
    dict(smoothing_fwhm=4),
    dict(smoothing_fwhm=8, detrend=True, standardize="zscore_sample"),
    dict(smoothing_fwhm=6, detrend=True, standardize="psc", low_pass=0.1, t_r=T_R),
    dict(standardize=True, detrend=True, confounds=True),
], ids=["raw", "smooth4", "smooth8-zscore", "smooth6-psc-lowpass", "confounds"])
def test_matches_surface_masker(surface_study, params, dtype):
    params = dict(params)
    confounds = surface_study.confounds[0] if params.pop("confounds", False) else None
    img = surface_study.img
    mask_img = surface_study.small_mask if "t_r" in params else surface_study.mask_img
    # nilearn's surface masker computes in float64
    ref = SurfaceMasker(mask_img=mask_img, **params).fit().transform(
        img, confounds=confounds)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        out = surface_mask_and_clean(img, mask_img, confounds=confounds, dtype=dtype,
                                     **params)
    assert out.dtype == np.dtype(dtype) and out.flags.c_contiguous
    scale = np.abs(ref).max()
    tol = 5e-4 if np.dtype(dtype) == np.float32 else 1e-9
    np.testing.assert_allclose(out, ref, rtol=min(tol, 1e-4), atol=tol * scale)


def test_surface_mask_none_list_and_sample_mask(surface_study):
    img = surface_study.img
    ref = SurfaceMasker().fit(img).transform(img)
    out = surface_mask_and_clean(img, None, dtype=np.float64)
    np.testing.assert_array_equal(out, ref)
    # list of images: concatenated along scans
    ref = SurfaceMasker(mask_img=surface_study.mask_img).fit().transform([img, img])
    out = surface_mask_and_clean([img, img], surface_study.mask_img, dtype=np.float64)
    np.testing.assert_array_equal(out, ref)
    keep = np.ones(img.shape[1], dtype=bool)
    keep[[0, 5, 6]] = False
    params = dict(smoothing_fwhm=6, detrend=True, standardize="zscore_sample")
    ref = SurfaceMasker(mask_img=surface_study.mask_img, **params).fit().transform(
        img, sample_mask=keep)
    out = surface_mask_and_clean(img, surface_study.mask_img, sample_mask=keep,
                                 dtype=np.float64, **params)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


def test_surface_bad_inputs(surface_study):
    img, mask_img = surface_study.img, surface_study.mask_img
    with pytest.raises(TypeError, match="SurfaceImage"):
        surface_mask_and_clean(surface_study.mask_img.data, mask_img)
    empty = SurfaceImage(mesh=mask_img.mesh,
                         data={k: np.zeros_like(v) for k, v in mask_img.data.parts.items()})
    with pytest.raises(ValueError, match="empty"):
        surface_mask_and_clean(img, empty)
    one_part = SurfaceImage(mesh={"left": img.mesh.parts["left"]},
                            data={"left": img.data.parts["left"]})
    with pytest.raises(MeshDimensionError):
        surface_mask_and_clean(one_part, mask_img)
    with pytest.raises(ValueError, match="confound length"):
        surface_mask_and_clean(img, mask_img,
                               confounds=np.ones((img.shape[1] + 1, 2)))


def test_mask_on_another_grid_resamples_the_image_as_nilearn(study):
    from nilearn.image import resample_img
    from nilearn.maskers import NiftiMasker

    affine = study.mask_img.affine.copy()
    affine[:3, :3] *= 1.5
    coarse = resample_img(study.mask_img, target_affine=affine, interpolation="nearest",
                          force_resample=True, copy_header=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = NiftiMasker(mask_img=coarse, detrend=True, standardize="zscore_sample",
                          dtype=np.float64).fit().transform(study.img)
        raw = NiftiMasker(mask_img=coarse, dtype=np.float64).fit().transform(study.img)
    got = mask_and_clean(study.img, coarse, detrend=True, standardize="zscore_sample",
                         dtype=np.float64)
    assert got.shape == ref.shape
    # voxels whose resampled signal is constant are 0 once standardized; nilearn
    # (0.14) divides their detrending round-off by its own round-off there
    constant = raw.std(axis=0) == 0
    assert constant.sum() < 0.01 * constant.size
    np.testing.assert_array_equal(got[:, constant], 0)
    # nilearn resamples in float32: agreement to its round-off
    np.testing.assert_allclose(got[:, ~constant], ref[:, ~constant], rtol=1e-4,
                               atol=1e-4 * np.abs(ref).max())
