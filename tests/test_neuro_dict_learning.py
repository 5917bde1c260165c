"""nimf.neuro.DictLearning: a drop-in for nilearn's, on volumes and surfaces."""
import inspect
import warnings

import nibabel
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from nimf.datasets import make_rest_study, make_surface_rest_study
from nimf.neuro import DictLearning
from nimf.neuro import _base


def matched_correlation(found, truth):
    f = found - found.mean(1, keepdims=True)
    t = truth - truth.mean(1, keepdims=True)
    f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    sim = np.abs(t @ f.T)
    r, c = linear_sum_assignment(-sim)
    return sim[r, c].mean()


@pytest.fixture(scope="module")
def study():
    return make_rest_study(n_subjects=4, n_scans=100, n_networks=5, resolution=6,
                           snr=2.0, random_state=0)


@pytest.fixture(scope="module")
def fitted(study):
    return DictLearning(n_components=5, mask=study.mask_img, random_state=0).fit(
        study.func[:3], confounds=study.confounds[:3])


def test_same_parameters_as_nilearn():
    from nilearn.decomposition import DictLearning as NilearnDictLearning

    ours = inspect.signature(DictLearning.__init__).parameters
    theirs = inspect.signature(NilearnDictLearning.__init__).parameters
    missing = [name for name in theirs if name != "self" and name not in ours]
    assert missing == []
    # nilearn's parameters keep their positions, nimf's own come after, by keyword
    order = [n for n in ours if n in theirs]
    assert order == [n for n in theirs if n in ours]


def test_planted_networks_are_recovered(study, fitted):
    assert matched_correlation(fitted.components_, study.maps) > 0.75


def test_attributes_and_shapes_match_nilearn(study, fitted):
    n_voxels = int(np.asarray(study.mask_img.dataobj).astype(bool).sum())
    assert fitted.components_.shape == (5, n_voxels)
    # as nilearn's decomposition estimators: n_elements_ counts the maps, the
    # masker counts the voxels
    assert fitted.n_elements_ == 5
    assert fitted.masker_.n_elements_ == n_voxels
    assert fitted.components_img_.shape == study.mask_img.shape + (5,)
    assert fitted.mask_img_.shape == study.mask_img.shape
    assert hasattr(fitted.masker_, "inverse_transform")
    loadings = fitted.transform(study.func[3:])
    assert isinstance(loadings, list) and len(loadings) == 1
    assert loadings[0].shape == (100, 5)
    imgs = fitted.inverse_transform(loadings)
    assert imgs[0].shape == study.func[2].shape
    total = fitted.score(study.func[3:])
    per = fitted.score(study.func[3:], per_component=True)
    assert 0 < total < 1 and per.shape == (5,)
    assert np.all(per >= 0) and per.sum() > 0


def test_every_map_non_empty_positive_and_ordered(fitted):
    comps = fitted.components_
    assert np.all(np.abs(comps).max(axis=1) > 0)
    assert np.all(np.maximum(comps, 0).sum(1) >= np.maximum(-comps, 0).sum(1))
    assert np.all(np.diff(fitted.explained_variance_) <= 1e-12)


def test_transform_uses_the_fit_preprocessing(study, fitted):
    from nilearn.maskers import NiftiMasker

    masker = NiftiMasker(mask_img=study.mask_img, smoothing_fwhm=4, detrend=True,
                         standardize="zscore_sample").fit()
    data = masker.transform(study.func[2], confounds=study.confounds[2])
    expected = np.linalg.lstsq(fitted.components_.T.astype(np.float64), data.T, rcond=None)[0].T
    got = fitted.transform([study.func[2]], confounds=[study.confounds[2]])[0]
    np.testing.assert_allclose(got, expected, atol=2e-3 * np.abs(expected).max())


def test_inverse_of_transform_reconstructs_the_cleaned_data(study, fitted):
    recon = fitted.inverse_transform(fitted.transform(study.func[:1]))[0]
    assert recon.shape == study.func[0].shape


def test_seed_determinism_and_caching(study, tmp_path):
    kw = dict(n_components=4, mask=study.mask_img, n_epochs=2, random_state=3)
    a = DictLearning(**kw).fit(study.func[:2]).components_
    b = DictLearning(**kw, memory=str(tmp_path)).fit(study.func[:2]).components_
    c = DictLearning(**kw, memory=str(tmp_path)).fit(study.func[:2]).components_
    assert any(tmp_path.iterdir())
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, c)
    d = DictLearning(**{**kw, "random_state": 4}).fit(study.func[:2]).components_
    assert not np.allclose(a, d)


def test_parallel_subjects_and_memmap_give_the_same_result(study, monkeypatch):
    kw = dict(n_components=4, mask=study.mask_img, n_epochs=2, random_state=0)
    ref = DictLearning(**kw).fit(study.func).components_
    par = DictLearning(**kw, n_jobs=2).fit(study.func).components_
    np.testing.assert_array_equal(ref, par)
    monkeypatch.setattr(_base, "_MEMMAP_FORCE", True)
    disk = DictLearning(**kw).fit(study.func).components_
    np.testing.assert_array_equal(ref, disk)


def test_n_epochs_and_reduction_ratio_have_effects(study):
    base = dict(n_components=4, mask=study.mask_img, random_state=0)
    one = DictLearning(n_epochs=1, **base).fit(study.func[:2])
    three = DictLearning(n_epochs=3, **base).fit(study.func[:2])
    assert one.n_iter_ == 1 and three.n_iter_ == 3
    assert not np.allclose(one.components_, three.components_)
    auto = DictLearning(reduction_ratio="auto", **base).fit(study.func[:2])
    half = DictLearning(reduction_ratio=0.5, **base).fit(study.func[:2])
    assert not np.allclose(auto.components_, half.components_)


def test_dict_init_from_an_atlas_image(study):
    dl = DictLearning(n_components=5, mask=study.mask_img, dict_init=study.maps_img,
                      n_epochs=1, random_state=0).fit(study.func[:2])
    assert matched_correlation(dl.components_, study.maps) > 0.75
    with pytest.raises(ValueError, match="dict_init must hold n_components=4 maps"):
        DictLearning(n_components=4, mask=study.mask_img, dict_init=study.maps_img).fit(study.func[:2])


def test_files_and_glob_patterns(study, tmp_path):
    paths = []
    for i, img in enumerate(study.func[:2]):
        path = tmp_path / f"sub-{i}_bold.nii.gz"
        nibabel.save(img, path)
        paths.append(str(path))
    kw = dict(n_components=3, mask=study.mask_img, n_epochs=1, random_state=0)
    from_files = DictLearning(**kw).fit(paths).components_
    from_glob = DictLearning(**kw).fit(str(tmp_path / "sub-*_bold.nii.gz")).components_
    from_imgs = DictLearning(**kw).fit(study.func[:2]).components_
    np.testing.assert_allclose(from_files, from_imgs, atol=1e-5)
    np.testing.assert_array_equal(from_files, from_glob)


def test_mask_computed_from_the_images(study):
    dl = DictLearning(n_components=3, n_epochs=1, random_state=0).fit(study.func[:2])
    assert dl.mask_img_.shape == study.mask_img.shape
    assert dl.masker_.n_elements_ > 100


# ------------------------------------------------------------------ bad input
def test_5d_image_is_rejected(study):
    from nilearn.exceptions import DimensionError

    img5d = nibabel.Nifti1Image(np.asarray(study.func[0].dataobj)[..., None],
                                study.func[0].affine)
    with pytest.raises(DimensionError, match=r"imgs\[0\] must be a 3D or 4D image, got a 5D"):
        DictLearning(n_components=2, mask=study.mask_img).fit([img5d])


def test_images_on_different_grids_are_rejected(study):
    affine = study.func[1].affine.copy()
    affine[0, 3] += 4
    moved = nibabel.Nifti1Image(np.asarray(study.func[1].dataobj), affine)
    with pytest.raises(ValueError, match="all images must share one grid"):
        DictLearning(n_components=2, mask=study.mask_img).fit([study.func[0], moved])


def test_empty_mask_is_rejected(study):
    empty = nibabel.Nifti1Image(np.zeros(study.mask_img.shape, dtype=np.uint8),
                                study.mask_img.affine)
    with pytest.raises(ValueError, match="empty"):
        DictLearning(n_components=2, mask=empty).fit(study.func[:1])


def test_too_many_components_is_rejected_before_work(study):
    with pytest.raises(ValueError, match=r"n_components must be <= the number of scans available \(200"):
        DictLearning(n_components=500, mask=study.mask_img).fit(study.func[:2])
    with pytest.raises(ValueError, match=r"\(2 after reduction_ratio=0.01\)"):
        DictLearning(n_components=3, reduction_ratio=0.01, mask=study.mask_img).fit(
            study.func[:2])


def test_missing_file_and_empty_list(tmp_path, study):
    with pytest.raises(ValueError, match="file not found"):
        DictLearning(n_components=2, mask=study.mask_img).fit([str(tmp_path / "nope.nii.gz")])
    with pytest.raises(ValueError, match="empty list"):
        DictLearning(n_components=2).fit([])
    with pytest.raises(ValueError, match="no file matches"):
        DictLearning(n_components=2).fit(str(tmp_path / "*.nii.gz"))


def test_bad_parameters(study):
    with pytest.raises(ValueError, match="reduction_ratio must be 'auto' or a float in"):
        DictLearning(reduction_ratio=2.0, mask=study.mask_img).fit(study.func[:1])
    with pytest.raises(ValueError, match="confounds must be a list with one entry per image"):
        DictLearning(n_components=2, mask=study.mask_img).fit(study.func[:2],
                                                              confounds=study.confounds[:1])
    with pytest.raises(ValueError, match="low_pass=0.1 needs the repetition time"):
        DictLearning(n_components=2, low_pass=0.1, mask=study.mask_img).fit(study.func[:1])


# -------------------------------------------------------------------- surface
def test_surface_data():
    surf = make_surface_rest_study(n_subjects=3, n_scans=150, n_networks=10, snr=1.0,
                                   random_state=0)
    dl = DictLearning(n_components=10, mask=surf.mask_img, smoothing_fwhm=None,
                      random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dl.fit(surf.func[:2], confounds=surf.confounds[:2])
    from nilearn.surface import SurfaceImage

    assert isinstance(dl.components_img_, SurfaceImage)
    assert dl.components_.shape == (10, dl.masker_.n_elements_)
    loadings = dl.transform(surf.func[2:])
    assert loadings[0].shape == (150, 10)
    back = dl.inverse_transform(loadings)[0]
    assert isinstance(back, SurfaceImage)
    mask = np.concatenate([np.asarray(surf.mask_img.data.parts[h]).ravel().astype(bool)
                           for h in ("left", "right")])
    assert matched_correlation(dl.components_, surf.maps[:, mask]) > 0.7
    assert 0 < dl.score(surf.func[2:], confounds=surf.confounds[2:]) < 1


def test_refit_updates_transform(study):
    dl = DictLearning(n_components=3, mask=study.mask_img, n_epochs=1, random_state=0)
    first = dl.fit(study.func[:1]).transform(study.func[2:3])[0]
    second = dl.set_params(random_state=1).fit(study.func[1:2]).transform(study.func[2:3])[0]
    with dl._study_array(study.func[2:3], None) as data:
        expected = np.linalg.lstsq(dl.components_.T.astype(np.float64), data.T,
                                   rcond=None)[0].T
    np.testing.assert_allclose(second, expected, atol=1e-3 * np.abs(expected).max())
    assert not np.allclose(first, second)


def test_surface_data_without_mask_uses_every_vertex():
    surf = make_surface_rest_study(n_subjects=2, n_scans=40, n_networks=3, random_state=0)
    dl = DictLearning(n_components=3, smoothing_fwhm=None, n_epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dl.fit(surf.func)  # a list of surface time series and no mask
    n_vertices = sum(part.shape[0] for part in surf.func[0].data.parts.values())
    assert dl.masker_.n_elements_ == n_vertices
    assert dl.components_.shape == (3, n_vertices)


def test_transform_confounds_change_signals(study, fitted):
    # confounds that are not linear ramps (those are removed by detrending
    # already) change the time courses transform returns
    n_scans = study.func[3].shape[3]
    rng = np.random.RandomState(0)
    confounds = np.column_stack([np.sin(np.arange(n_scans) / 3.0),
                                 rng.standard_normal(n_scans)])
    plain = fitted.transform(study.func[3])[0]
    cleaned = fitted.transform(study.func[3], confounds=[confounds])[0]
    assert plain.shape == cleaned.shape
    assert not np.allclose(plain, cleaned)
