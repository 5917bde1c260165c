"""Each documented masking, cleaning, caching and progress parameter of the image
estimators, of ``mask_study`` and of ``nimf mask`` has the effect its docstring
promises.

The image estimators clean the images with nimf's own code; the reference here is
nilearn's masker with the same parameters: ``explained_variance_`` (recorded at
fit time on the cleaned training data) is recomputed by numpy from nilearn's
masked signals, and must match those cleaned with the parameter, not those
cleaned without it.
"""
import warnings

import nibabel
import numpy as np
import pytest
from joblib import Memory

from nimf.cli import main
from nimf.datasets import make_rest_study
from nimf.neuro import DictLearning, MaskedStudy, mask_study
from nimf.neuro import NMF as ImageNMF
from nimf.neuro import SparsePCA as ImageSparsePCA
from nimf.neuro import _signal

# nilearn's default cleaning is nimf's (smoothing_fwhm=4, z-score, detrend)
_DEFAULTS = dict(smoothing_fwhm=4, standardize="zscore_sample", detrend=True)


@pytest.fixture(scope="module")
def rest():
    return make_rest_study(n_subjects=2, n_scans=40, n_networks=3, resolution=8,
                           random_state=0)


def _nilearn_signals(study, confounds=None, **params):
    """The study masked and cleaned by nilearn's MultiNiftiMasker, stacked."""
    from nilearn.maskers import MultiNiftiMasker

    masker = MultiNiftiMasker(mask_img=study.mask_img, **{**_DEFAULTS, **params}).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nilearn's deprecation of standardize=False
        return np.vstack(masker.transform(study.func, confounds=confounds))


def _explained_variance(X, components):
    """1 - var(X - (X c) c^T) / var(X) for each unit map c (numpy, by hand)."""
    out = []
    for c in components:
        c = c / np.linalg.norm(c)
        out.append(1 - np.var(X - np.outer(X @ c, c)) / np.var(X))
    return np.array(out)


def _offset_confounds(study):
    # confounds with a mean: regressing them out without z-scoring them first
    # also removes part of the signals' mean
    return [np.asarray(c, dtype=float) + 3.0 for c in study.confounds]


# (estimator parameters, confounds?, the cleaning it must differ from)
_CLEANING_CASES = {
    "smoothing_fwhm=8": (dict(smoothing_fwhm=8), None, dict(smoothing_fwhm=None)),
    "smoothing_fwhm=None": (dict(smoothing_fwhm=None), None, dict(smoothing_fwhm=8)),
    "standardize=psc": (dict(standardize="psc"), None, {}),
    "standardize=False": (dict(standardize=False), None, {}),
    "detrend=False": (dict(detrend=False), None, {}),
    "low_pass": (dict(low_pass=0.1, t_r=2.0), None, {}),
    "t_r": (dict(low_pass=0.1, t_r=3.0), None, dict(low_pass=0.1, t_r=2.0)),
    "high_pass": (dict(high_pass=0.05, t_r=2.0), None, {}),
    "confounds": ({}, "plain", {}),
    "standardize_confounds=False": (
        dict(standardize_confounds=False, standardize=False, detrend=False), "offset",
        dict(standardize_confounds=True, standardize=False, detrend=False)),
}


@pytest.mark.parametrize("case", list(_CLEANING_CASES))
def test_cleaning_parameters_clean_the_training_data_as_nilearn(rest, case):
    params, conf_kind, other = _CLEANING_CASES[case]
    confounds = {None: None, "plain": rest.confounds,
                 "offset": _offset_confounds(rest)}[conf_kind]
    est = DictLearning(n_components=3, mask=rest.mask_img, n_epochs=1, random_state=0,
                       **params).fit(rest.func, confounds=confounds)
    same = _explained_variance(_nilearn_signals(rest, confounds, **params), est.components_)
    np.testing.assert_allclose(est.explained_variance_, same, rtol=1e-4, atol=1e-5)
    # the data cleaned the other way (the default, or the opposite setting)
    # give other values: the parameter was not ignored
    other_conf = None if case == "confounds" else confounds
    differs = _explained_variance(_nilearn_signals(rest, other_conf, **other),
                                  est.components_)
    assert np.abs(est.explained_variance_ - differs).max() > 1e-3


@pytest.mark.parametrize("cls,kw", [(ImageNMF, dict(max_iter=20)),
                                    (ImageSparsePCA, dict(n_epochs=1))])
def test_nmf_and_sparse_pca_clean_with_their_parameters(rest, cls, kw):
    params = dict(standardize="psc", detrend=False, low_pass=0.1, t_r=2.0)
    est = cls(n_components=3, mask=rest.mask_img, random_state=0, **params, **kw).fit(
        rest.func, confounds=rest.confounds)
    X = _nilearn_signals(rest, rest.confounds, **params)
    # score(per_component=True) is computed on the images cleaned as at fit time
    np.testing.assert_allclose(est.score(rest.func, confounds=rest.confounds,
                                         per_component=True),
                               _explained_variance(X, est.components_), rtol=1e-4, atol=1e-5)
    default = _explained_variance(_nilearn_signals(rest, rest.confounds), est.components_)
    assert np.abs(est.score(rest.func, confounds=rest.confounds, per_component=True)
                  - default).max() > 1e-3


def test_dtype_sets_the_type_of_the_learned_data(rest):
    kw = dict(n_components=3, mask=rest.mask_img, n_epochs=1, random_state=0)
    single = DictLearning(**kw).fit(rest.func)
    assert single.components_.dtype == np.float32
    # images of doubles, learned in double precision: nilearn's masking of the
    # same images is matched to double precision
    func64 = [nibabel.Nifti1Image(np.asarray(img.dataobj, dtype=np.float64), img.affine)
              for img in rest.func]
    double = DictLearning(**kw, dtype=np.float64).fit(func64)
    assert double.components_.dtype == np.float64
    assert double.transform(func64[0])[0].dtype == np.float64
    study64 = type("Study", (), dict(func=func64, mask_img=rest.mask_img))
    X = _nilearn_signals(study64)
    assert X.dtype == np.float64
    np.testing.assert_allclose(double.explained_variance_,
                               _explained_variance(X, double.components_), rtol=1e-9,
                               atol=1e-10)
    assert not np.allclose(single.explained_variance_, double.explained_variance_,
                           rtol=1e-9, atol=1e-10)


def test_target_affine_and_shape_resample_the_images(rest):
    affine = np.diag([12.0, 12.0, 12.0, 1.0])
    affine[:3, 3] = rest.mask_img.affine[:3, 3]
    shape = (14, 18, 15)
    est = DictLearning(n_components=2, n_epochs=1, random_state=0, target_affine=affine,
                       target_shape=shape).fit(rest.func)
    assert est.mask_img_.shape == shape
    np.testing.assert_allclose(est.mask_img_.affine, affine)
    maps = est.inverse_transform(np.eye(2, dtype=np.float32))
    assert maps.shape[:3] == shape
    plain = DictLearning(n_components=2, n_epochs=1, random_state=0).fit(rest.func)
    assert plain.mask_img_.shape == rest.mask_img.shape


def test_mask_strategy_and_mask_args_compute_nilearns_mask(rest):
    from nilearn.maskers import MultiNiftiMasker

    kw = dict(n_components=2, n_epochs=1, random_state=0)
    masks = {}
    for name, extra in (("epi", {}), ("template", dict(mask_strategy="whole-brain-template")),
                        ("args", dict(mask_args=dict(opening=4)))):
        est = DictLearning(**kw, **extra).fit(rest.func)
        # nilearn's maskers compute a 'background' mask by default, nimf's an 'epi' one
        ref = MultiNiftiMasker(**{"mask_strategy": "epi", **extra}).fit(rest.func).mask_img_
        masks[name] = np.asarray(est.mask_img_.dataobj).astype(bool)
        np.testing.assert_array_equal(masks[name], np.asarray(ref.dataobj).astype(bool))
    assert (masks["template"] != masks["epi"]).any()
    # a stronger morphological opening removes voxels at the edges
    assert masks["args"].sum() < masks["epi"].sum() and not (masks["args"] & ~masks["epi"]).any()


# ---------------------------------------------------------------- memory
def _count_masking(monkeypatch):
    calls = []
    real = _signal.mask_and_clean

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_signal, "mask_and_clean", counting)
    return calls


@pytest.mark.parametrize("memory_level", [0, 3])
@pytest.mark.parametrize("as_object", [False, True], ids=["path", "Memory"])
def test_memory_serves_a_second_fit_from_the_cache(rest, tmp_path, monkeypatch, memory_level,
                                                   as_object):
    calls = _count_masking(monkeypatch)
    memory = Memory(str(tmp_path), verbose=0) if as_object else str(tmp_path)
    kw = dict(n_components=3, mask=rest.mask_img, n_epochs=1, random_state=0, memory=memory,
              memory_level=memory_level)
    first = DictLearning(**kw).fit(rest.func)
    assert len(calls) == 2  # one masking per subject
    assert any(tmp_path.rglob("output.pkl"))  # joblib's cache entries in the folder
    second = DictLearning(**kw).fit(rest.func)
    assert len(calls) == 2  # nothing masked again: both subjects read from the cache
    np.testing.assert_array_equal(first.components_, second.components_)
    # other cleaning parameters are other entries
    DictLearning(**{**kw, "detrend": False}).fit(rest.func)
    assert len(calls) == 4


def test_without_memory_every_fit_masks_again(rest, monkeypatch):
    calls = _count_masking(monkeypatch)
    kw = dict(n_components=3, mask=rest.mask_img, n_epochs=1, random_state=0, memory_level=5)
    DictLearning(**kw).fit(rest.func)
    DictLearning(**kw).fit(rest.func)
    assert len(calls) == 4


# ---------------------------------------------------------------- verbose
@pytest.mark.parametrize("cls,kw", [(DictLearning, dict(n_epochs=1)),
                                    (ImageNMF, dict(max_iter=5)),
                                    (ImageSparsePCA, dict(n_epochs=1))])
def test_verbose_levels_of_the_image_estimators(rest, capsys, cls, kw):
    name = cls.__name__

    def run(verbose):
        cls(n_components=2, mask=rest.mask_img, random_state=0, verbose=verbose,
            **kw).fit(rest.func)
        return capsys.readouterr()

    quiet = run(0)
    assert quiet.out == "" and quiet.err == ""
    steps = run(1)
    assert f"[{name}.fit] Computing the mask of 2 image(s)" in steps.out
    assert "Extracting region signals" not in steps.out
    detail = run(2)
    for i in range(2):
        assert f"[{name}.fit] Extracting region signals from imgs[{i}]" in detail.out


# ---------------------------------------------------------------- checkpoint_every
def test_image_checkpoint_every_sets_the_steps_between_checkpoints(rest, tmp_path,
                                                                   checkpoint_steps):
    saved = checkpoint_steps
    kw = dict(n_components=3, mask=rest.mask_img, n_epochs=1, random_state=0,
              batch_size=4, reduction=1, checkpoint=str(tmp_path / "fit.npz"))
    est = DictLearning(**kw, checkpoint_every=3).fit(rest.func)
    n = 80 // 4  # one epoch of 2 x 40 scans in batches of 4
    assert est.stop_reason_ == "n_epochs" and max(saved) == n
    # every third step, then the end of the epoch (and of the fit)
    assert sorted(set(saved)) == sorted(set(range(3, n + 1, 3)) | {n})
    assert (tmp_path / "fit.npz").exists()
    saved.clear()
    DictLearning(**kw, checkpoint_every=5).fit(rest.func)
    assert sorted(set(saved)) == list(range(5, n + 1, 5))


# ---------------------------------------------------------------- mask_study verbose
def test_mask_study_verbose(rest, tmp_path, capsys):
    mask_study(rest.func, tmp_path / "quiet.zarr", mask=rest.mask_img)
    assert capsys.readouterr().out == ""
    mask_study(rest.func, tmp_path / "loud.zarr", mask=rest.mask_img, verbose=1)
    out = capsys.readouterr().out
    assert "imgs[0]" in out and "imgs[1]" in out and "40 scans committed" in out


# ---------------------------------------------------------------- nimf mask options
@pytest.fixture(scope="module")
def rest_files(rest, tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    paths = []
    for i, img in enumerate(rest.func, start=1):
        path = folder / f"sub-0{i}_bold.nii.gz"
        nibabel.save(img, path)
        paths.append(str(path))
    mask = folder / "mask.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.asarray(rest.mask_img.dataobj).astype(np.uint8),
                                     rest.mask_img.affine), mask)
    return paths, str(mask)


_MASK_OPTIONS = {
    "--standardize psc": (["--standardize", "psc"], dict(standardize="psc")),
    "--standardize none": (["--standardize", "none"], dict(standardize=None)),
    "--no-detrend": (["--no-detrend"], dict(detrend=False)),
    "--low-pass": (["--low-pass", "0.1", "--t-r", "2"], dict(low_pass=0.1, t_r=2.0)),
    "--high-pass": (["--high-pass", "0.05", "--t-r", "2"], dict(high_pass=0.05, t_r=2.0)),
    "--t-r": (["--low-pass", "0.1", "--t-r", "3"], dict(low_pass=0.1, t_r=3.0)),
    "--smoothing-fwhm": (["--smoothing-fwhm", "10"], dict(smoothing_fwhm=10.0)),
}


@pytest.mark.parametrize("option", list(_MASK_OPTIONS))
def test_nimf_mask_cleaning_options_are_applied_and_stored(rest, rest_files, tmp_path, capsys,
                                                           option):
    paths, mask = rest_files
    argv, params = _MASK_OPTIONS[option]
    out = tmp_path / "study.zarr"
    assert main(["mask", *paths, "--mask", mask, "--out", str(out), *argv]) == 0, \
        capsys.readouterr().err
    stored = MaskedStudy.open(out)
    for key, value in params.items():
        assert stored.masker_params[key] == value
    data = stored.read_rows(0, stored.n_scans)
    ref = _nilearn_signals(rest, **params)
    np.testing.assert_allclose(data, ref, rtol=1e-4, atol=5e-4 * np.abs(ref).max())
    default = _nilearn_signals(rest, **({"low_pass": 0.1, "t_r": 2.0}
                                        if option == "--t-r" else {}))
    assert np.abs(data - default).max() > 1e-2 * np.abs(default).max()


def test_nimf_mask_dtype_seed_and_overwrite(rest, rest_files, tmp_path, capsys):
    paths, mask = rest_files
    out = tmp_path / "study.zarr"

    def run(*extra):
        assert main(["mask", *paths, "--mask", mask, "--out", str(out), *extra]) == 0, \
            capsys.readouterr().err
        return MaskedStudy.open(out)

    first = run("--dtype", "float64", "--seed", "3")
    assert first.dtype == np.float64
    expected = mask_study(rest.func, tmp_path / "api.zarr", mask=rest.mask_img,
                          dtype=np.float64, random_state=3)
    np.testing.assert_array_equal(first.voxel_order, expected.voxel_order)
    np.testing.assert_array_equal(first.read_rows(0, 80), expected.read_rows(0, 80))
    # without --overwrite the study is kept; with it, replaced
    assert main(["mask", *paths, "--mask", mask, "--out", str(out)]) == 2
    assert ("already holds a nimf masked study; give --append to add these subjects to it, "
            "or --overwrite to replace it") in capsys.readouterr().err
    assert MaskedStudy.open(out).dtype == np.float64
    second = run("--overwrite", "--seed", "4")
    assert second.dtype == np.float32
    assert not np.array_equal(second.voxel_order, expected.voxel_order)
    # the same values whatever the order the voxels are stored in
    single = mask_study(rest.func, tmp_path / "api32.zarr", mask=rest.mask_img, random_state=3)
    np.testing.assert_array_equal(second.read_rows(0, 80), single.read_rows(0, 80))
    assert not np.array_equal(second.read_rows(0, 80, storage_order=True),
                              single.read_rows(0, 80, storage_order=True))


# ---------------------------------------------------------------- method
def test_dict_learning_method_is_accepted_and_gives_the_same_maps(rest):
    """``method`` is nilearn's name of its lasso solver; nimf's maps do not depend on it."""
    kw = dict(n_components=3, mask=rest.mask_img, n_epochs=1, random_state=0)
    cd = DictLearning(**kw, method="cd").fit(rest.func)
    lars = DictLearning(**kw, method="lars").fit(rest.func)
    np.testing.assert_array_equal(cd.components_, lars.components_)
    with pytest.raises(ValueError, match="method"):
        DictLearning(**kw, method="omp").fit(rest.func)


def test_nimf_mask_explicit_detrend_is_the_default(rest, rest_files, tmp_path, capsys):
    paths, mask = rest_files
    studies = {}
    for name, extra in (("default", []), ("detrend", ["--detrend"]),
                        ("no", ["--no-detrend"])):
        out = tmp_path / f"{name}.zarr"
        assert main(["mask", *paths, "--mask", mask, "--out", str(out), *extra]) == 0, \
            capsys.readouterr().err
        studies[name] = MaskedStudy.open(out)
    assert studies["detrend"].masker_params["detrend"] is True
    np.testing.assert_array_equal(studies["detrend"].read_rows(0, 80),
                                  studies["default"].read_rows(0, 80))
    assert not np.allclose(studies["no"].read_rows(0, 80), studies["default"].read_rows(0, 80))


@pytest.mark.parametrize("command", ["decompose", "mask"])
def test_mesh_option_reads_fsaverage5_and_refuses_other_meshes(tmp_path, capsys, command):
    from nimf.datasets import make_surface_rest_study

    study = make_surface_rest_study(n_subjects=1, n_scans=30, n_networks=2, random_state=0)
    for hemi in ("L", "R"):
        study.func[0].data.to_filename(tmp_path / f"sub-01_hemi-{hemi}_bold.func.gii")
    pattern = str(tmp_path / "sub-*_bold.func.gii")
    extra = ["--n-components", "2", "--n-epochs", "1"] if command == "decompose" else []
    out = tmp_path / "out"
    assert main([command, pattern, "--mesh", "fsaverage5", "--out", str(out), *extra]) == 0, \
        capsys.readouterr().err
    n_vertices = sum(part.shape[0] for part in study.func[0].data.parts.values())
    if command == "mask":
        assert MaskedStudy.open(out).n_voxels == n_vertices
    else:
        assert (out / "components_hemi-L.func.gii").exists()
    never = tmp_path / "never"
    assert main([command, pattern, "--mesh", "fsaverage", "--out", str(never), *extra]) == 2
    assert ("--mesh: nimf reads surface data on 'fsaverage5' (the mesh nilearn ships), got "
            "'fsaverage'") in capsys.readouterr().err
    assert not never.exists()
