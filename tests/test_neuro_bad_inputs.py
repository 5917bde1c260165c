"""Bad image inputs give clear errors (nimf/neuro/_checks.py), raised before any work."""
import warnings

import nibabel
import numpy as np
import pytest
from scipy import sparse

from nimf.datasets import make_rest_study
from nimf.neuro import NMF, DictLearning, SparsePCA
from nimf.neuro import _base


@pytest.fixture(scope="module")
def study():
    return make_rest_study(n_subjects=2, n_scans=30, n_networks=3, resolution=8, snr=2.0,
                           random_state=0)


@pytest.fixture(scope="module")
def fitted(study):
    return DictLearning(n_components=3, mask=study.mask_img, n_epochs=1,
                        random_state=0).fit(study.func)


def _copy(img, data=None, affine=None):
    data = np.asarray(img.dataobj) if data is None else data
    return nibabel.Nifti1Image(data, img.affine if affine is None else affine)


@pytest.fixture
def no_masking(monkeypatch):
    """Fail the test if any image is masked (the error must come before any work)."""
    def refuse(*args, **kwargs):
        raise AssertionError("an image was masked before the bad input was refused")

    monkeypatch.setattr(_base, "_prepare_subject", refuse)


# ------------------------------------------------------------------ files
def test_truncated_nii_gz_names_the_file(study, tmp_path, no_masking):
    path = tmp_path / "sub-02_bold.nii.gz"
    nibabel.save(study.func[1], path)
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"imgs\[1\]: the file .*sub-02_bold\.nii\.gz' is "
                                         r"truncated or corrupt"):
        DictLearning(n_components=2, mask=study.mask_img).fit([study.func[0], path])


def test_truncated_nii_names_the_file(study, tmp_path, no_masking):
    path = tmp_path / "sub-01_bold.nii"
    nibabel.save(study.func[0], path)
    path.write_bytes(path.read_bytes()[:path.stat().st_size - 100])
    with pytest.raises(ValueError, match=r"imgs\[0\]: the file .*sub-01_bold\.nii' is "
                                         r"truncated: its header describes an image of shape"):
        DictLearning(n_components=2, mask=study.mask_img).fit(path)


def test_corrupt_data_in_a_complete_file_names_the_file(study, tmp_path):
    # the size is right, the compressed data are garbled: found when read
    path = tmp_path / "garbled.nii.gz"
    nibabel.save(study.func[0], path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2:len(raw) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"imgs\[0\]: could not read the data of .*garbled"
                                         r"\.nii\.gz'.*truncated or corrupt"):
        DictLearning(n_components=2, mask=study.mask_img).fit(path)


def test_a_file_that_is_not_an_image(tmp_path, no_masking):
    path = tmp_path / "notes.nii.gz"
    path.write_text("not an image")
    with pytest.raises(ValueError, match=r"imgs\[0\]: could not read .*notes\.nii\.gz' as an "
                                         r"image \(expected a NIfTI file"):
        DictLearning(n_components=2).fit(path)


def test_missing_file_and_empty_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"imgs\[0\]: file not found: .*missing\.nii\.gz"):
        DictLearning().fit(tmp_path / "missing.nii.gz")
    with pytest.raises(ValueError, match="no file matches the pattern"):
        DictLearning().fit(str(tmp_path / "sub-*.nii.gz"))
    with pytest.raises(ValueError, match="imgs: Need one or more Niimg-like or SurfaceImage "
                                         "objects as input, an empty list was given"):
        DictLearning().fit([])


# ------------------------------------------------------------------ types and dimensions
@pytest.mark.parametrize("imgs,given", [
    (np.zeros((10, 20)), r"a numpy array of shape \(10, 20\)"),
    (sparse.csr_matrix(np.eye(3)), "a scipy sparse matrix .*sparse input is not supported"),
    (None, "None"),
    (3.0, "a float"),
])
def test_not_images_are_type_errors(imgs, given):
    with pytest.raises(TypeError, match=r"imgs must be one or more Niimg-like objects .*, got "
                                        + given):
        NMF(n_components=2).fit(imgs)


def test_a_list_with_something_else_names_the_entry(study):
    with pytest.raises(TypeError, match=r"imgs\[1\] must be a Niimg-like object .* got a dict"):
        SparsePCA(n_components=2).fit([study.func[0], {"a": 1}])


def test_5d_and_2d_images_are_refused(study, no_masking):
    from nilearn.exceptions import DimensionError

    img5d = _copy(study.func[0], np.asarray(study.func[0].dataobj)[..., None])
    with pytest.raises(DimensionError, match=r"imgs\[0\] must be a 3D or 4D image, got a 5D "
                                             r"image of shape"):
        DictLearning(n_components=2, mask=study.mask_img).fit(img5d)
    img2d = nibabel.Nifti1Image(np.ones((5, 5), np.float32), np.eye(4))
    with pytest.raises(TypeError, match=r"imgs\[0\] must be a 3D or 4D image, got a 2D"):
        DictLearning(n_components=2).fit(img2d)


def test_a_3d_image_is_one_scan(study):
    img3d = _copy(study.func[0], np.asarray(study.func[0].dataobj)[..., 0])
    est = DictLearning(n_components=1, mask=study.mask_img, n_epochs=1, random_state=0)
    est.fit([study.func[0], img3d])
    loadings = est.transform(img3d)
    assert loadings[0].shape == (1, 1)
    # more components than scans: said before any masking
    with pytest.raises(ValueError, match=r"n_components must be <= the number of scans "
                                         r"available \(1 "):
        DictLearning(n_components=2, mask=study.mask_img).fit(img3d)


# ------------------------------------------------------------------ mask
def test_mask_outside_the_field_of_view(study, no_masking):
    affine = study.mask_img.affine.copy()
    affine[:3, 3] += 1000.0  # a metre away
    mask = nibabel.Nifti1Image(np.asarray(study.mask_img.dataobj), affine)
    with pytest.raises(ValueError, match=r"mask lies outside the field of view of the images: "
                                         r"its voxels span .* mm, the images span"):
        DictLearning(n_components=2, mask=mask).fit(study.func)


def test_empty_mask(study):
    mask = nibabel.Nifti1Image(np.zeros(study.mask_img.shape, np.int8), study.mask_img.affine)
    with pytest.raises(ValueError, match="The mask is invalid as it is empty"):
        DictLearning(n_components=2, mask=mask).fit(study.func)


# ------------------------------------------------------------------ data without signal
def test_all_zero_images_with_a_mask(study):
    zero = _copy(study.func[0], np.zeros(study.func[0].shape, np.float32))
    for cls in (DictLearning, NMF, SparsePCA):
        with pytest.raises(ValueError, match=r"imgs\[1\] holds no signal within the mask: after "
                                             r"masking and cleaning every value is zero"):
            cls(n_components=2, mask=study.mask_img).fit([study.func[0], zero])


def test_all_zero_images_without_a_mask(study):
    zero = _copy(study.func[0], np.zeros(study.func[0].shape, np.float32))
    with pytest.raises(ValueError, match=r"imgs\[0\] holds no signal within the mask"):
        DictLearning(n_components=2).fit(zero)


# ------------------------------------------------------------------ confounds
def test_confounds_with_nan(study, no_masking):
    confounds = [np.array(c, dtype=float) for c in study.confounds]
    confounds[1][0, 2] = np.nan
    with pytest.raises(ValueError, match=r"confounds\[1\] contains NaN or infinite values \(1 "
                                         r"of them, the first at row 0, column 2\)"):
        DictLearning(n_components=2, mask=study.mask_img).fit(study.func, confounds=confounds)


def test_confounds_with_nan_in_a_file(study, tmp_path, no_masking):
    path = tmp_path / "conf.tsv"
    values = np.array(study.confounds[0], dtype=float)
    values[3, 0] = np.nan
    np.savetxt(path, values, delimiter="\t")
    with pytest.raises(ValueError, match=r"confounds\[0\] contains NaN"):
        DictLearning(n_components=2, mask=study.mask_img).fit(study.func[0], confounds=[path])


def test_confounds_of_the_wrong_shape_or_number(study, no_masking):
    est = DictLearning(n_components=2, mask=study.mask_img)
    with pytest.raises(ValueError, match=r"Number of confounds \(1\) must match number of "
                                         r"images \(2\)"):
        est.fit(study.func, confounds=[study.confounds[0]])
    short = [np.asarray(c)[:-1] for c in study.confounds]
    with pytest.raises(ValueError, match=r"confounds\[0\] must have one row per scan of "
                                         r"imgs\[0\]: expected 30 rows, got 29"):
        est.fit(study.func, confounds=short)
    with pytest.raises(TypeError, match=r"confounds\[0\] must hold numbers"):
        est.fit(study.func[0], confounds=[np.array([["a"]] * 30)])
    with pytest.raises(ValueError, match=r"confounds\[0\] must be a 2D array"):
        est.fit(study.func[0], confounds=[np.zeros((30, 2, 2))])


# ------------------------------------------------------------------ parameters
def test_dtype_bool_is_refused_and_integer_types_accepted(study):
    with pytest.raises(TypeError, match="'dtype' cannot be bool"):
        DictLearning(n_components=2, dtype=bool).fit(study.func)
    with pytest.raises(ValueError, match="dtype must be a float or integer type, 'auto' or "
                                         "None, got 'text'"):
        DictLearning(n_components=2, dtype="text").fit(study.func)
    est = DictLearning(n_components=2, mask=study.mask_img, n_epochs=1, dtype=np.int32,
                       random_state=0).fit(study.func)
    # the masked data stay float; what transform returns has the type asked for
    assert est.components_.dtype == np.float32
    assert est.transform(study.func[0])[0].dtype == np.int32


# ------------------------------------------------------------------ inverse_transform
def test_inverse_transform_refuses_nan_and_wrong_shapes(fitted):
    with pytest.raises(ValueError, match=r"loadings\[0\] contains NaN or infinite values"):
        fitted.inverse_transform([np.full((4, 3), np.nan)])
    with pytest.raises(ValueError, match=r"Input to 'inverse_transform' has wrong shape: "
                                         r"loadings must have shape \(n_scans, 3\), got \(4, 5\)"):
        fitted.inverse_transform(np.zeros((4, 5)))
    with pytest.raises(TypeError, match=r"loadings\[0\] must be an array of numbers"):
        fitted.inverse_transform([np.array([["a", "b", "c"]])])
    with pytest.warns(UserWarning, match="Casting boolean input to float"):
        img = fitted.inverse_transform(np.ones((2, 3), dtype=bool))
    assert img.shape[-1] == 2


def test_transform_and_score_check_their_images(fitted, study, tmp_path):
    path = tmp_path / "cut.nii.gz"
    nibabel.save(study.func[0], path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"imgs\[0\]: the file .*cut\.nii\.gz' is truncated"):
        fitted.transform(path)
    with pytest.raises(ValueError, match=r"imgs\[0\]: the file .*cut\.nii\.gz' is truncated"):
        fitted.score(path)
    with pytest.raises(TypeError, match="got a numpy array"):
        fitted.transform(np.zeros((3, 3)))


# ------------------------------------------------------------------ results
def test_empty_maps_are_warned_about(fitted, study):
    components = fitted.components_.copy()
    components[1] = 0
    with pytest.warns(UserWarning, match=r"1 of the 3 maps learned are empty \(all zero\), "
                                         r".*decrease the penalty \(alpha\) or n_components"):
        fitted._set_components(components, np.ones((2, components.shape[1]), np.float32))
    # and a fit that keeps its maps says nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fitted._set_components(fitted.components_ + 1.0,
                               np.ones((2, components.shape[1]), np.float32))


def test_a_masker_given_as_mask_sets_the_masking(study):
    from nilearn.maskers import MultiNiftiMasker

    masker = MultiNiftiMasker(mask_img=study.mask_img, detrend=False, smoothing_fwhm=None,
                              standardize="zscore_sample")
    est = DictLearning(n_components=2, mask=masker, n_epochs=1, random_state=0)
    with pytest.warns(UserWarning, match=r"detrend: masker parameter False - overriding "
                                         r"estimator parameter True"):
        est.fit(study.func)
    assert est._fitted_masking["detrend"] is False
    assert est._fitted_masking["smoothing_fwhm"] is None


def test_nan_inside_a_surface_mask_is_refused_naming_the_image():
    from nilearn.surface import SurfaceImage

    from nimf.datasets import make_surface_rest_study

    surface = make_surface_rest_study(n_subjects=2, n_scans=20, n_networks=2, random_state=0)
    img = surface.func[1]
    parts = {part: np.array(values, dtype=np.float32) for part, values in img.data.parts.items()}
    inside = int(np.flatnonzero(np.asarray(surface.mask_img.data.parts["right"]))[0])
    parts["right"][inside, 2] = np.nan
    bad = SurfaceImage(mesh=img.mesh, data=parts)
    n_elements = sum(int(np.asarray(m).sum()) for m in surface.mask_img.data.parts.values())
    # kept by the masking without smoothing, then spread by the cleaning over the scans
    with pytest.raises(ValueError, match=(
            rf"imgs\[1\] could not be masked: its masked and cleaned signals hold NaN or "
            rf"infinite values at 1 of its {n_elements} mask elements in 20 of its 20 scans "
            r"\(the first: scan 0\): the image has NaN")):
        DictLearning(2, mask=surface.mask_img, smoothing_fwhm=None, n_epochs=1,
                     random_state=0).fit([surface.func[0], bad])
    # smoothing zeroes them (as nilearn does), with a warning
    with pytest.warns(UserWarning, match="Part 'right' of the surface image holds 1 NaN"):
        model = DictLearning(2, mask=surface.mask_img, smoothing_fwhm=4, n_epochs=1,
                             random_state=0).fit([surface.func[0], bad])
    assert np.isfinite(model.components_).all()
