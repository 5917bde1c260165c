"""Tests of the synthetic resting-state studies (nimf.datasets.rest)."""

import gc
import inspect
import itertools
import os
import weakref

import nibabel as nib
import numpy as np
import pytest
from nilearn.maskers import NiftiMasker, SurfaceMasker
from scipy.spatial import cKDTree
from threadpoolctl import threadpool_limits

from nimf.datasets import iter_rest_study, make_rest_study, make_surface_rest_study
from nimf.datasets import rest

# nilearn 0.14 warns about the default ``standardize=False`` of its maskers
pytestmark = pytest.mark.filterwarnings(
    "ignore:boolean values for 'standardize':FutureWarning")

SMALL = dict(n_subjects=2, n_scans=30, n_networks=6, resolution=8)
SURFACE = dict(n_subjects=2, n_scans=30, n_networks=6)


@pytest.fixture(scope="module")
def study():
    return make_rest_study(**SMALL, random_state=0)


@pytest.fixture(scope="module")
def surface_study():
    return make_surface_rest_study(**SURFACE, random_state=0)


def _masked(img, mask_img):
    """(n_scans, n_voxels) data of a 4D image, in NiftiMasker's voxel order."""
    mask = np.asarray(mask_img.dataobj) > 0
    return np.asarray(img.dataobj)[mask].T


def _mirror_index(mask_img):
    """For each mask voxel, the index of the mask voxel at (-x, y, z), or -1."""
    mask = np.asarray(mask_img.dataobj) > 0
    ijk = np.array(np.nonzero(mask))
    affine = mask_img.affine
    world = affine[:3, :3] @ ijk + affine[:3, 3:]
    world[0] *= -1
    inverse = np.linalg.inv(affine)
    mijk = np.rint(inverse[:3, :3] @ world + inverse[:3, 3:]).astype(int)
    index = -np.ones(mask.shape, dtype=int)
    index[mask] = np.arange(mask.sum())
    inside = np.all((mijk >= 0) & (mijk < np.array(mask.shape)[:, None]), axis=0)
    result = -np.ones(ijk.shape[1], dtype=int)
    result[inside] = index[tuple(mijk[:, inside])]
    return result


def _explained(data, regressors):
    """Fraction of the variance of ``data`` explained by ``regressors``."""
    regressors = regressors - regressors.mean(axis=0)
    data = data - data.mean(axis=0)
    coef = np.linalg.lstsq(regressors, data, rcond=None)[0]
    return 1.0 - np.sum((data - regressors @ coef) ** 2) / np.sum(data ** 2)


# ----------------------------------------------------------------- volume


def test_shapes_and_dtypes(study):
    assert set(study) >= {"func", "confounds", "mask_img", "maps", "maps_img",
                          "time_series", "t_r", "description"}
    mask = np.asarray(study.mask_img.dataobj)
    assert mask.ndim == 3
    assert study.mask_img.get_data_dtype() == np.uint8
    assert set(np.unique(mask)) == {0, 1}
    n_voxels = int(mask.sum())
    assert len(study.func) == 2
    for img in study.func:
        assert isinstance(img, nib.Nifti1Image)
        assert img.shape == mask.shape + (30,)
        assert img.get_data_dtype() == np.float32
        assert np.asarray(img.dataobj).dtype == np.float32
        np.testing.assert_array_equal(img.affine, study.mask_img.affine)
        np.testing.assert_allclose(img.header.get_zooms(), (8, 8, 8, 2.0))
        # nothing outside the mask
        assert not np.any(np.asarray(img.dataobj)[mask == 0])
    assert study.maps.shape == (6, n_voxels)
    assert study.maps.dtype == np.float32
    assert study.maps_img.shape == mask.shape + (6,)
    np.testing.assert_array_equal(_masked(study.maps_img, study.mask_img),
                                  study.maps)
    assert len(study.confounds) == len(study.time_series) == 2
    for confounds, time_series in zip(study.confounds, study.time_series):
        assert confounds.shape == (30, 6)
        assert time_series.shape == (30, 6)
        np.testing.assert_allclose(time_series.std(axis=0), 1.0)
        np.testing.assert_allclose(confounds[0], 0.0)  # motion starts at 0
    assert study.t_r == 2.0
    assert isinstance(study.description, str) and study.description


def test_mask_and_baseline_look_like_a_brain(study):
    mask = np.asarray(study.mask_img.dataobj) > 0
    volume = mask.sum() * 8.0 ** 3
    assert 1.2e6 < volume < 2.5e6  # mm^3: an adult brain
    # the grid is symmetric across x=0 and so is the mask
    assert np.all(_mirror_index(study.mask_img) >= 0)
    data = _masked(study.func[0], study.mask_img)
    mean = data.mean(axis=0)
    assert 800 < mean.mean() < 1200
    assert mean.min() > 0
    assert mean.std() > 50  # contrast from the MNI template
    # slow drifts: a linear trend explains part of the raw fluctuations
    trend = np.linspace(-1, 1, data.shape[0])[:, None]
    assert _explained(data, trend) > 0.05


def test_maps_are_bilateral_blobs_inside_the_mask(study):
    maps = study.maps
    assert np.all(maps >= 0)
    np.testing.assert_allclose(maps.max(axis=1), 1.0)
    maps_data = np.asarray(study.maps_img.dataobj)
    mask = np.asarray(study.mask_img.dataobj) > 0
    assert not np.any(maps_data[~mask])
    # each map is a compact part of the brain
    support = (maps > 0).mean(axis=1)
    assert np.all(support > 0.002) and np.all(support < 0.3)
    # mirror symmetry across the mid-sagittal plane
    mirror = _mirror_index(study.mask_img)
    for network in maps:
        assert np.corrcoef(network, network[mirror])[0, 1] > 0.9
    # networks overlap little
    overlap = np.corrcoef(maps)
    assert np.abs(overlap - np.eye(len(maps))).max() < 0.3


def test_grey_matter_mask():
    study = make_rest_study(n_subjects=1, n_scans=10, n_networks=4,
                            resolution=8, mask="gm", random_state=0)
    brain = make_rest_study(n_subjects=1, n_scans=10, n_networks=4,
                            resolution=8, random_state=0)
    assert (np.asarray(study.mask_img.dataobj).sum()
            < np.asarray(brain.mask_img.dataobj).sum())
    assert "grey-matter" in study.description
    np.testing.assert_allclose(study.maps.max(axis=1), 1.0)


def test_user_mask_image(study):
    user = make_rest_study(n_subjects=1, n_scans=10, n_networks=3,
                           mask=study.mask_img, resolution=3, random_state=0)
    assert user.func[0].shape == study.mask_img.shape + (10,)
    np.testing.assert_array_equal(user.mask_img.dataobj, study.mask_img.dataobj)
    assert user.maps.shape == (3, int(np.asarray(study.mask_img.dataobj).sum()))


def test_snr_is_the_requested_one():
    # With the same seed the noise draws do not depend on snr, so the
    # difference of two studies isolates the noise; without confounds the
    # rest is baseline + quadratic drift + signal, linear in known regressors.
    kwargs = dict(n_subjects=1, n_scans=40, n_networks=5, resolution=8,
                  n_confounds=0, random_state=3)
    low, high = 0.5, 2.0
    data_low = _masked(make_rest_study(snr=low, **kwargs).func[0],
                       make_rest_study(snr=low, **kwargs).mask_img)
    study_high = make_rest_study(snr=high, **kwargs)
    data_high = _masked(study_high.func[0], study_high.mask_img)
    noise = (data_low.astype(float) - data_high) / (1.0 - np.sqrt(low / high))
    clean = data_low - noise
    t = np.linspace(-1, 1, kwargs["n_scans"])
    time_series = study_high.time_series[0]
    design = np.column_stack([np.ones_like(t), t, t ** 2, time_series])
    coef, *_ = np.linalg.lstsq(design, clean, rcond=None)
    # the model is exactly linear: nothing left
    residual = clean - design @ coef
    assert np.abs(residual).max() < 1e-2 * noise.std()
    signal = time_series @ coef[3:]
    snr = signal.var(axis=0).sum() / noise.var(axis=0).sum()
    np.testing.assert_allclose(snr, low, rtol=1e-2)
    # the signal lives on the true maps
    fitted = np.linalg.lstsq(study_high.maps.T, coef[3:].T, rcond=None)[0]
    assert np.allclose(fitted.T @ study_high.maps, coef[3:], atol=1e-2)


def test_determinism(study):
    again = make_rest_study(**SMALL, random_state=0)
    same_state = make_rest_study(**SMALL, random_state=np.random.RandomState(0))
    for other in (again, same_state):
        np.testing.assert_array_equal(other.maps, study.maps)
        for a, b in zip(other.func, study.func):
            np.testing.assert_array_equal(a.dataobj, b.dataobj)
        for a, b in zip(other.confounds, study.confounds):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(other.time_series, study.time_series):
            np.testing.assert_array_equal(a, b)
    # a subject does not depend on how many subjects are drawn
    one = make_rest_study(**dict(SMALL, n_subjects=1), random_state=0)
    np.testing.assert_array_equal(one.func[0].dataobj, study.func[0].dataobj)
    different = make_rest_study(**SMALL, random_state=1)
    assert not np.allclose(different.maps, study.maps)
    assert not np.allclose(different.func[0].dataobj, study.func[0].dataobj)
    assert not np.allclose(different.confounds[0], study.confounds[0])


def test_output_dir(tmp_path, study):
    out = tmp_path / "study"
    written = make_rest_study(**SMALL, output_dir=out, random_state=0)
    assert sorted(os.listdir(out)) == ["sub-01_bold.nii.gz", "sub-02_bold.nii.gz"]
    for path, img in zip(written.func, study.func):
        assert isinstance(path, str) and os.path.isfile(path)
        loaded = nib.load(path)
        assert loaded.shape == img.shape
        np.testing.assert_array_equal(loaded.get_fdata(dtype=np.float32),
                                      img.dataobj)
    np.testing.assert_array_equal(written.maps, study.maps)


def test_networks_are_recovered_through_a_nifti_masker(study):
    maps = NiftiMasker(mask_img=study.mask_img).fit().transform(study.maps_img)
    np.testing.assert_array_equal(maps, study.maps)
    masker = NiftiMasker(mask_img=study.mask_img, standardize="zscore_sample",
                         detrend=True, t_r=study.t_r).fit()
    for img, time_series in zip(study.func, study.time_series):
        data = masker.transform(img)
        codes = np.linalg.lstsq(maps.T, data.T, rcond=None)[0].T
        corr = np.corrcoef(codes.T, time_series.T)[:6, 6:]
        assert np.all(np.diag(corr) > 0.5)


def test_confounds_explain_variance():
    study = make_rest_study(**dict(SMALL, n_scans=60), random_state=0)
    masker = NiftiMasker(mask_img=study.mask_img, detrend=True,
                         t_r=study.t_r).fit()
    # remove the slow drifts (linear and quadratic) first
    quadratic = np.linspace(-1, 1, 60)[:, None] ** 2
    for s, img in enumerate(study.func):
        data = masker.transform(img, confounds=quadratic)
        own = _explained(data, study.confounds[s])
        other = _explained(data, study.confounds[1 - s])
        assert own > 0.25
        assert own > other + 0.1
        # regressing them out with nilearn removes that variance
        cleaned = masker.transform(
            img, confounds=np.hstack([quadratic, study.confounds[s]]))
        assert cleaned.var(axis=0).sum() < (1 - own + 0.05) * data.var(axis=0).sum()


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_subjects=0), "n_subjects must be a positive int, got 0"),
    (dict(n_subjects=1.5), "n_subjects must be an int"),
    (dict(n_scans=5), "n_scans must be an int >= 10, got 5"),
    (dict(n_networks=0), "n_networks must be a positive int, got 0"),
    (dict(n_networks=100_000), "n_networks must be <= .* got 100000"),
    (dict(resolution=0), r"resolution must be in \(0, inf\), got 0"),
    (dict(resolution="4mm"), "resolution must be a real number, got '4mm'"),
    (dict(t_r=-2.0), "t_r must be"),
    (dict(snr=0), "snr must be"),
    (dict(snr=np.inf), "snr must be finite"),
    (dict(noise_fwhm=-1), "noise_fwhm must be"),
    (dict(network_fwhm=0), "network_fwhm must be"),
    (dict(n_confounds=-1), "n_confounds must be"),
    (dict(mask="wm"), "mask must be 'brain', 'gm' or a 3D Nifti image, got 'wm'"),
])
def test_bad_parameters(kwargs, message):
    params = dict(SMALL, **kwargs)
    with pytest.raises(ValueError, match=message):
        make_rest_study(**params)


def test_no_confounds():
    study = make_rest_study(**dict(SMALL, n_confounds=0), random_state=0)
    assert study.confounds[0].shape == (30, 0)


# ------------------------------------------------- volume, subject by subject


def _assert_same_subjects(images, confounds, time_series, study, subjects):
    assert len(images) == len(confounds) == len(time_series) == len(subjects)
    for img, conf, ts, s in zip(images, confounds, time_series, subjects):
        other = study.func[s]
        np.testing.assert_array_equal(np.asarray(img.dataobj),
                                      np.asarray(other.dataobj))
        np.testing.assert_array_equal(img.affine, other.affine)
        assert img.header.get_zooms() == other.header.get_zooms()
        np.testing.assert_array_equal(conf, study.confounds[s])
        np.testing.assert_array_equal(ts, study.time_series[s])


def test_iter_rest_study_gives_the_subjects_of_make_rest_study(study):
    lazy = iter_rest_study(**SMALL, random_state=0)
    assert set(lazy) == set(study) | {"subjects"}
    assert lazy.subjects == range(2)
    np.testing.assert_array_equal(lazy.maps, study.maps)
    np.testing.assert_array_equal(lazy.maps_img.dataobj, study.maps_img.dataobj)
    np.testing.assert_array_equal(lazy.mask_img.dataobj, study.mask_img.dataobj)
    np.testing.assert_array_equal(lazy.mask_img.affine, study.mask_img.affine)
    assert (lazy.t_r, lazy.description) == (study.t_r, study.description)
    _assert_same_subjects(list(lazy.func), lazy.confounds, lazy.time_series,
                          study, range(2))


def test_iter_rest_study_does_not_depend_on_blas_threads():
    # OpenBLAS rounds differently with 1 and 2 threads; the subjects are drawn
    # with one, so that a consumer limiting BLAS (mask_study does) gets the
    # subjects of make_rest_study
    with threadpool_limits(limits=2, user_api="blas"):
        study = make_rest_study(**SMALL, random_state=1)
    lazy = iter_rest_study(**SMALL, random_state=1)
    with threadpool_limits(limits=1, user_api="blas"):
        images = list(lazy.func)
    _assert_same_subjects(images, lazy.confounds, lazy.time_series, study, range(2))


def test_iter_rest_study_is_lazy(monkeypatch, study):
    simulated, yielded = [], []
    simulate = rest._simulate_subject

    def counting(rng, **kwargs):
        # which subjects already yielded are still alive while this one is drawn
        gc.collect()
        simulated.append([ref() is not None for ref in yielded])
        return simulate(rng, **kwargs)

    monkeypatch.setattr(rest, "_simulate_subject", counting)
    lazy = iter_rest_study(**dict(SMALL, n_subjects=3), random_state=0)
    assert inspect.isgenerator(lazy.func)
    assert (len(simulated), lazy.confounds, lazy.time_series) == (0, [], [])
    first = next(lazy.func)
    assert len(simulated) == len(lazy.confounds) == len(lazy.time_series) == 1
    _assert_same_subjects([first], lazy.confounds, lazy.time_series, study, [0])
    # the generator holds no subject it has yielded while it draws the next
    yielded.append(weakref.ref(first))
    del first
    second = next(lazy.func)
    assert simulated[1] == [False]
    assert len(simulated) == len(lazy.confounds) == 2
    _assert_same_subjects([second], lazy.confounds[1:], lazy.time_series[1:],
                          study, [1])
    # start skips the earlier subjects without simulating them
    simulated.clear()
    later = iter_rest_study(**dict(SMALL, n_subjects=3), random_state=0, start=1)
    assert later.subjects == range(1, 3)
    assert next(later.func).shape == second.shape
    assert len(simulated) == 1
    np.testing.assert_array_equal(later.confounds[0], lazy.confounds[1])
    assert list(iter_rest_study(**SMALL, random_state=0, start=2).func) == []


@pytest.mark.parametrize("start, message", [
    (3, "start must be an int <= 2, got 3"),
    (-1, "start must be an int >= 0, got -1"),
    (1.0, "start must be an int >= 0, got"),
])
def test_iter_rest_study_bad_start(start, message):
    with pytest.raises(ValueError, match=message):
        iter_rest_study(**SMALL, start=start)


def test_iter_rest_study_feeds_mask_study_and_resumes(tmp_path, study):
    from nimf.neuro import MaskedStudy, mask_study

    params = dict(mask=study.mask_img, t_r=study.t_r)
    eager = mask_study(study.func, tmp_path / "eager.zarr",
                       confounds=study.confounds, **params)
    lazy = iter_rest_study(**SMALL, random_state=0)
    streamed = mask_study(lazy.func, tmp_path / "lazy.zarr",
                          confounds=lazy.confounds, n_jobs=2, **params)
    # an interrupted run resumed from the first subject not committed
    path = tmp_path / "resumed.zarr"
    first = iter_rest_study(**SMALL, random_state=0)
    mask_study(itertools.islice(first.func, 1), path, confounds=first.confounds,
               **params)
    done = len(MaskedStudy.open(path).subjects)
    rest_of = iter_rest_study(**SMALL, random_state=0, start=done)
    resumed = MaskedStudy.open(path).append(rest_of.func, confounds=rest_of.confounds)

    expected = [(sub["sha256"], sub["confounds"]) for sub in eager.subjects]
    assert len(expected) == 2
    for other in (streamed, resumed):
        assert [(sub["sha256"], sub["confounds"]) for sub in other.subjects] == expected
        for s in range(2):
            np.testing.assert_array_equal(other.read_subject(s), eager.read_subject(s))


# ---------------------------------------------------------------- surface


def test_surface_shapes_and_dtypes(surface_study):
    study = surface_study
    n_vertices = 2 * 10242
    assert len(study.func) == 2
    mask = np.concatenate([study.mask_img.data.parts[h] for h in ("left", "right")])
    assert mask.dtype == bool and mask.shape == (n_vertices,)
    assert 0.85 < mask.mean() < 1.0  # the medial wall is out
    for img in study.func:
        assert img.shape == (n_vertices, 30)
        for hemi in ("left", "right"):
            part = np.asarray(img.data.parts[hemi])
            assert part.shape == (10242, 30) and part.dtype == np.float32
        values = np.concatenate([img.data.parts[h] for h in ("left", "right")])
        assert not np.any(values[~mask])
        assert 800 < values[mask].mean() < 1200
    assert study.maps.shape == (6, n_vertices) and study.maps.dtype == np.float32
    assert study.maps_img.shape == (n_vertices, 6)
    np.testing.assert_array_equal(
        np.concatenate([study.maps_img.data.parts[h] for h in ("left", "right")]),
        study.maps.T)
    assert np.all(study.maps >= 0)
    np.testing.assert_allclose(study.maps.max(axis=1), 1.0)
    assert not np.any(study.maps[:, ~mask])
    for confounds, time_series in zip(study.confounds, study.time_series):
        assert confounds.shape == (30, 6) and time_series.shape == (30, 6)
    assert study.t_r == 2.0
    assert study.mesh.n_vertices == n_vertices


def test_surface_maps_are_mirrored_between_hemispheres(surface_study):
    study = surface_study
    left = np.asarray(study.mesh.parts["left"].coordinates)
    right = np.asarray(study.mesh.parts["right"].coordinates)
    _, mirror = cKDTree(right).query(left * [-1, 1, 1])
    n_left = len(left)
    for network in study.maps:
        corr = np.corrcoef(network[:n_left], network[n_left:][mirror])[0, 1]
        assert corr > 0.9
    overlap = np.corrcoef(study.maps)
    assert np.abs(overlap - np.eye(len(study.maps))).max() < 0.3


def test_surface_determinism(surface_study):
    again = make_surface_rest_study(**SURFACE, random_state=0)
    np.testing.assert_array_equal(again.maps, surface_study.maps)
    for a, b in zip(again.func, surface_study.func):
        for hemi in ("left", "right"):
            np.testing.assert_array_equal(a.data.parts[hemi], b.data.parts[hemi])
    np.testing.assert_array_equal(again.confounds[1], surface_study.confounds[1])
    different = make_surface_rest_study(**SURFACE, random_state=1)
    assert not np.allclose(different.maps, surface_study.maps)
    assert not np.allclose(different.func[0].data.parts["left"],
                           surface_study.func[0].data.parts["left"])


def test_surface_masker_recovers_networks(surface_study):
    study = surface_study
    full = SurfaceMasker().fit_transform(study.func[0])
    assert full.shape == (30, 2 * 10242)
    maps = SurfaceMasker(mask_img=study.mask_img).fit().transform(study.maps_img)
    masker = SurfaceMasker(mask_img=study.mask_img, standardize="zscore_sample",
                           detrend=True, t_r=study.t_r).fit()
    n_cortex = int(sum(study.mask_img.data.parts[h].sum()
                       for h in ("left", "right")))
    assert maps.shape == (6, n_cortex)
    for img, time_series in zip(study.func, study.time_series):
        data = masker.transform(img)
        codes = np.linalg.lstsq(maps.T, data.T, rcond=None)[0].T
        corr = np.corrcoef(codes.T, time_series.T)[:6, 6:]
        assert np.all(np.diag(corr) > 0.5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_subjects=0), "n_subjects must be a positive int, got 0"),
    (dict(n_networks=100_000), "n_networks must be <= .* got 100000"),
    (dict(mesh="fsaverage7"), "mesh must be 'fsaverage5'"),
    (dict(mesh=42), "mesh must be 'fsaverage5'"),
    (dict(snr=-1.0), "snr must be"),
    (dict(t_r=0), "t_r must be"),
])
def test_surface_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_surface_rest_study(**dict(SURFACE, **kwargs))
