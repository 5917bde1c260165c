"""Public API that no other test reached, each result checked against a value
computed independently: the NMF function form, the fields of ``ErrorCurveResult``,
feature names, the image estimators given a masker object or an array start,
the explained variance of maps, and the options of ``nimf decompose``, ``nimf
recommend`` and ``nimf demo`` (their effect, not their help text)."""
import json
import os

import nibabel
import numpy as np
import pytest

from nimf.cli import main


# ------------------------------------------------------------ function forms
def test_non_negative_factorization_is_the_estimator(rng):
    from nimf.decomposition import NMF
    from nimf.decomposition.nmf import non_negative_factorization

    X = rng.rand(30, 3) @ rng.rand(3, 20)
    W, H, n_iter = non_negative_factorization(X, n_components=3, random_state=0, tol=1e-6,
                                              max_iter=500)
    est = NMF(3, random_state=0, tol=1e-6, max_iter=500)
    np.testing.assert_array_equal(W, est.fit_transform(X))
    np.testing.assert_array_equal(H, est.components_)
    assert n_iter == est.n_iter_ and 0 < n_iter <= 500
    assert np.linalg.norm(X - W @ H) < 1e-3 * np.linalg.norm(X)
    # init='custom' starts from the W and H given: an exact factorization stays
    W0, H0 = rng.rand(30, 2), rng.rand(2, 20)
    W1, H1, _ = non_negative_factorization(W0 @ H0, W=W0.copy(), H=H0.copy(),
                                           init="custom", max_iter=3)
    np.testing.assert_allclose(W1 @ H1, W0 @ H0, rtol=1e-5)
    with pytest.raises(ValueError, match="init='custom' needs"):
        non_negative_factorization(X, n_components=2, init="custom")


# -------------------------------------------------------------- assessment
def test_error_curve_result_fields_recomputed(rng):
    from nimf.assessment import ErrorCurveResult, error_curve
    from nimf.decomposition import NMF

    X = rng.rand(40, 3) @ rng.rand(3, 25) + 0.05 * rng.rand(40, 25)
    curve = error_curve(NMF(init="random", max_iter=50, tol=1e-3), X, ranks=[1, 2, 4],
                        n_seeds=3, random_state=0)
    assert curve.errors.shape == (3, 3)
    for i, rank in enumerate([1, 2, 4]):
        for s in range(3):
            model = curve.models[i][s]
            assert model.components_.shape == (rank, 25)
            np.testing.assert_array_equal(curve.components[i][s], model.components_)
            recon = model.transform(X) @ model.components_
            assert curve.errors[i, s] == pytest.approx(
                np.linalg.norm(X - recon) / np.linalg.norm(X), rel=1e-8)
    # the truncated-SVD bound from the singular values
    sv = np.linalg.svd(X, compute_uv=False)
    bound = [np.sqrt(np.sum(sv[r:] ** 2)) / np.linalg.norm(X) for r in (1, 2, 4)]
    np.testing.assert_allclose(curve.svd_bound, bound, rtol=1e-6)
    assert np.all(curve.errors >= curve.svd_bound[:, None] - 1e-9)
    # best per rank: the smallest error over the seeds, and the seed that reached it
    np.testing.assert_array_equal(curve.best_errors, np.min(curve.errors, axis=1))
    np.testing.assert_array_equal(curve.errors[np.arange(3), curve.best_seeds],
                                  curve.best_errors)
    # on a table with a known answer (ties go to the first seed)
    table = ErrorCurveResult(ranks=np.array([1, 2, 3]),
                             errors=np.array([[0.3, 0.1, 0.2], [0.5, 0.6, 0.4],
                                              [0.2, 0.2, 0.9]]),
                             svd_bound=np.zeros(3), components=[], models=[], centered=False)
    np.testing.assert_array_equal(table.best_errors, [0.1, 0.4, 0.2])
    np.testing.assert_array_equal(table.best_seeds, [1, 2, 0])


def test_explained_variance_per_component_recomputed_by_numpy(rng):
    from nimf.neuro._data import _explained_variance_per_component

    X = rng.standard_normal((50, 30)) + 0.3
    components = rng.standard_normal((4, 30))
    got = _explained_variance_per_component(X, components)
    for k, c in enumerate(components):
        c = c / np.linalg.norm(c)
        residual = X - np.outer(X @ c, c)
        assert got[k] == pytest.approx(1 - np.var(residual) / np.var(X), rel=1e-10)


@pytest.mark.parametrize("name,prefix", [("NMF", "nmf"), ("SparsePCA", "sparsepca")])
def test_feature_names_out(rng, name, prefix):
    import pandas as pd

    import nimf.decomposition as dec

    X = pd.DataFrame(np.abs(rng.standard_normal((30, 6))), columns=list("abcdef"))
    est = getattr(dec, name)(n_components=3, random_state=0, max_iter=300).fit(X)
    assert est.get_feature_names_out().tolist() == [f"{prefix}{i}" for i in range(3)]
    assert est.feature_names_in_.tolist() == list("abcdef")
    # set_output: a DataFrame with those names
    frame = est.set_output(transform="pandas").transform(X)
    assert list(frame.columns) == [f"{prefix}{i}" for i in range(3)]


# ------------------------------------------------------- image estimators
@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from nimf.datasets import make_rest_study

    folder = tmp_path_factory.mktemp("study")
    data = make_rest_study(n_subjects=2, n_scans=40, n_networks=3, resolution=8,
                           output_dir=folder, random_state=0)
    return data, folder


def _image_estimator(name, **kw):
    import nimf.neuro as neuro

    base = {"DictLearning": dict(n_epochs=1), "NMF": dict(max_iter=20),
            "SparsePCA": dict(n_epochs=1)}[name]
    return getattr(neuro, name)(n_components=3, random_state=0, **base, **kw)


@pytest.mark.parametrize("name", ["DictLearning", "NMF", "SparsePCA"])
def test_image_estimators_take_a_masker_object_as_mask(study, name):
    import warnings

    from nilearn.maskers import MultiNiftiMasker

    data, _ = study
    imgs = data.func
    ref = _image_estimator(name, mask=data.mask_img).fit(imgs)
    same = MultiNiftiMasker(mask_img=data.mask_img, smoothing_fwhm=4,
                            standardize="zscore_sample", detrend=True, mask_strategy="epi")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        by_masker = _image_estimator(name, mask=same).fit(imgs)
    # the same parameters: no warning about the masker
    assert not [w for w in caught if "masker" in str(w.message)]
    np.testing.assert_allclose(by_masker.components_, ref.components_, rtol=1e-6, atol=1e-8)
    # the masker's parameters win over the estimator's, with a warning naming them
    unsmoothed = MultiNiftiMasker(mask_img=data.mask_img, smoothing_fwhm=None,
                                  standardize="zscore_sample", detrend=True,
                                  mask_strategy="epi")
    with pytest.warns(UserWarning, match="smoothing_fwhm"):
        est = _image_estimator(name, mask=unsmoothed).fit(imgs)
    expected = _image_estimator(name, mask=data.mask_img, smoothing_fwhm=None).fit(imgs)
    np.testing.assert_allclose(est.components_, expected.components_, rtol=1e-6, atol=1e-8)
    assert not np.allclose(est.components_, ref.components_)


def test_dict_learning_takes_an_array_start(study):
    from nilearn.maskers import NiftiMasker

    from nimf.neuro import DictLearning

    data, _ = study
    kw = dict(n_components=3, mask=data.mask_img, n_epochs=1, random_state=0)
    by_image = DictLearning(dict_init=data.maps_img, **kw).fit(data.func)
    start = NiftiMasker(mask_img=data.mask_img).fit().transform(data.maps_img)
    assert start.shape[0] == 3
    by_array = DictLearning(dict_init=start, **kw).fit(data.func)
    np.testing.assert_allclose(by_array.components_, by_image.components_, rtol=1e-6,
                               atol=1e-8)
    other = DictLearning(dict_init=start[::-1] + 0.5 * start[[1, 2, 0]], **kw).fit(data.func)
    assert not np.allclose(other.components_, by_array.components_)
    with pytest.raises(ValueError, match=r"dict_init must hold n_components=3 maps of "
                                         rf"{start.shape[1]} voxels, got 2 maps"):
        DictLearning(dict_init=start[:2], **kw).fit(data.func)


# ---------------------------------------------------------------- the CLI
class _Spy:
    """Records the parameters and fit arguments of the estimators a command builds."""

    def __init__(self, monkeypatch, module, name):
        real = getattr(module, name)
        calls = self.calls = []

        class Recording(real):
            def fit(self, *args, **kwargs):
                calls.append((self.get_params(deep=False), args, kwargs))
                return super().fit(*args, **kwargs)

        Recording.__name__ = real.__name__
        monkeypatch.setattr(module, name, Recording)


def test_decompose_options_reach_the_learner(study, tmp_path, monkeypatch, capsys):
    import nimf.neuro

    data, folder = study
    spy = _Spy(monkeypatch, nimf.neuro, "DictLearning")
    confounds = []
    for s in range(1):
        path = tmp_path / f"conf{s}.csv"
        np.savetxt(path, data.confounds[s], delimiter=",")
        confounds.append(str(path))
    checkpoint = tmp_path / "ckpt.npz"
    out = tmp_path / "res"
    code = main(["decompose", str(folder / "sub-01_bold.nii.gz"), "--n-components", "3",
                 "--t-r", "2", "--smoothing-fwhm", "6", "--alpha", "4", "--n-epochs", "2",
                 "--reduction", "2", "--n-jobs", "2", "--seed", "7", "--verbose", "0",
                 "--checkpoint", str(checkpoint), "--confounds", *confounds,
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    (params, args, kwargs), = spy.calls
    assert {k: params[k] for k in ("n_components", "t_r", "smoothing_fwhm", "alpha",
                                   "n_epochs", "reduction", "n_jobs", "random_state",
                                   "checkpoint", "resume", "max_time")} == dict(
        n_components=3, t_r=2.0, smoothing_fwhm=6.0, alpha=4.0, n_epochs=2, reduction=2.0,
        n_jobs=2, random_state=7, checkpoint=str(checkpoint), resume=False, max_time=None)
    assert len(args[0]) == 1
    for given, expected in zip(kwargs["confounds"], data.confounds):
        np.testing.assert_allclose(given, np.asarray(expected).reshape(given.shape))
    assert checkpoint.exists()
    maps = np.asarray(nibabel.load(out / "components.nii.gz").dataobj)
    assert maps.shape[-1] == 3
    # --resume continues the checkpoint: the same maps as the uninterrupted run
    again = tmp_path / "again"
    assert main(["decompose", str(folder / "sub-01_bold.nii.gz"), "--n-components", "3",
                 "--t-r", "2", "--smoothing-fwhm", "6", "--alpha", "4", "--n-epochs", "2",
                 "--reduction", "2", "--seed", "7", "--checkpoint", str(checkpoint),
                 "--resume", "--confounds", *confounds, "--out", str(again)]) == 0
    assert spy.calls[-1][0]["resume"] is True
    np.testing.assert_array_equal(
        np.asarray(nibabel.load(again / "components.nii.gz").dataobj), maps)


def test_decompose_seed_and_max_time(study, tmp_path, capsys):
    data, folder = study
    img = str(folder / "sub-01_bold.nii.gz")

    def maps(out, *extra):
        assert main(["decompose", img, "--n-components", "2", "--n-epochs", "2",
                     "--out", str(tmp_path / out), *extra]) == 0, capsys.readouterr().err
        return np.asarray(nibabel.load(tmp_path / out / "components.nii.gz").dataobj)

    a, b, c = maps("a", "--seed", "1"), maps("b", "--seed", "1"), maps("c", "--seed", "2")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # --max-time: the learner stops at the next step; still a result
    quick = maps("q", "--seed", "1", "--max-time", "1e-9")
    assert quick.shape == a.shape and not np.allclose(quick, a)


def test_recommend_options(tmp_path, capsys):
    import pandas as pd

    from nimf import load_model
    from nimf.datasets import make_ratings

    df = make_ratings(40, 25, 500, n_factors=2, random_state=0).ratings
    df = df.sample(frac=1.0, random_state=0)
    dup = df.iloc[:5].assign(rating=1.0)
    path = tmp_path / "r.tsv"
    pd_frame = pd.concat([df, dup])
    pd_frame.to_csv(path, sep="\t", index=False)
    out = tmp_path / "o"
    code = main(["recommend", str(path), "--format", "csv", "--sep", "\t", "--solver", "als",
                 "--n-components", "2", "--n-epochs", "4", "--duplicates", "last",
                 "--seed", "5", "--test-size", "0", "--n", "3", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    model = load_model(out / "model.npz")
    params = model.get_params()
    assert {k: params[k] for k in ("n_components", "solver", "n_epochs", "duplicates",
                                   "random_state")} == dict(
        n_components=2, solver="als", n_epochs=4, duplicates="last", random_state=5)
    assert model.n_components_ == 2 and model.n_epochs_ == 4
    # 'last': of each duplicated pair, the later rating (1.0) is the one kept
    assert model.n_ratings_ == 500
    assert model.global_mean_ == pytest.approx(
        pd_frame.drop_duplicates(["user", "item"], keep="last").rating.mean())
    # --test-size 0: no held-out fit
    summary = json.loads((out / "summary.json").read_text())
    assert "held-out RMSE" not in summary and summary["solver"] == "als"
    recs = pd.read_csv(out / "recommendations.csv")
    # --n 3: each user's three best unrated items (fewer when fewer are left)
    rated = pd_frame.groupby("user").item.nunique()
    n_items = pd_frame.item.nunique()
    expected = {user: min(3, n_items - count) for user, count in rated.items()}
    assert recs.groupby("user").size().to_dict() == {u: n for u, n in expected.items() if n}
    # the same seed: the same model
    again = tmp_path / "again"
    assert main(["recommend", str(path), "--format", "csv", "--sep", "\t", "--solver", "als",
                 "--n-components", "2", "--n-epochs", "4", "--duplicates", "last",
                 "--seed", "5", "--test-size", "0", "--out", str(again)]) == 0
    np.testing.assert_array_equal(load_model(again / "model.npz").item_factors_,
                                  model.item_factors_)
    # --duplicates error (the default) refuses them
    assert main(["recommend", str(path), "--format", "csv", "--sep", "\t",
                 "--out", str(tmp_path / "x")]) == 2
    assert "duplicate" in capsys.readouterr().err


def test_recommend_verbose_shows_progress(tmp_path, capsys):
    from nimf.datasets import make_ratings

    path = tmp_path / "ratings.csv"
    make_ratings(30, 20, 400, random_state=0).ratings.to_csv(path, index=False)
    for verbose, shown in (("0", False), ("1", True)):
        assert main(["recommend", str(path), "--n-components", "2", "--solver", "sgd",
                     "--n-epochs", "3", "--verbose", verbose,
                     "--out", str(tmp_path / f"v{verbose}")]) == 0
        assert ("MatrixCompletion (sgd)" in capsys.readouterr().err) is shown


def test_matrix_demo_options(tmp_path, monkeypatch, capsys):
    import nimf.datasets
    import nimf.decomposition

    seen = {}
    real = nimf.datasets.make_sparse_dictionary_data

    def recording(*args, **kwargs):
        seen.update(args=args, kwargs=kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(nimf.datasets, "make_sparse_dictionary_data", recording)
    spy = _Spy(monkeypatch, nimf.decomposition, "OnlineDictionaryLearning")
    out = tmp_path / "m"
    assert main(["demo", "--matrix", "--n-samples", "200", "--n-features", "300",
                 "--n-components", "4", "--snr", "2.5", "--reduction", "3", "--seed", "9",
                 "--out", str(out)]) == 0
    assert seen["args"][:3] == (200, 300, 4)
    assert seen["kwargs"]["snr"] == 2.5 and seen["kwargs"]["random_state"] == 9
    # the reference (reduction 1) and the subsampled fit, both seeded
    fits = [c[0] for c in spy.calls if c[0]["n_components"] == 4]
    assert sorted(p["reduction"] for p in fits) == [1.0, 3.0]
    assert all(p["random_state"] == 9 for p in fits)
    components = np.load(out / "components.npy")
    truth = np.load(out / "true_components.npy")
    assert components.shape == truth.shape == (4, 300)


def test_fmri_demo_options(tmp_path, monkeypatch, capsys):
    import nimf.neuro

    spy = _Spy(monkeypatch, nimf.neuro, "DictLearning")
    out = tmp_path / "d"
    assert main(["demo", "--n-subjects", "2", "--n-scans", "40", "--n-networks", "3",
                 "--resolution", "8", "--n-components", "4", "--n-jobs", "2", "--seed", "3",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    # (a first fit of 2 maps compiles the kernels)
    params = [c[0] for c in spy.calls if c[0]["n_components"] != 2]
    assert len(params) == 1
    assert params[0]["n_components"] == 4 and params[0]["random_state"] == 3
    assert params[0]["n_jobs"] == 2
    assert nibabel.load(out / "components.nii.gz").shape[-1] == 4


# ------------------------------------------------------------ reached by no other test
@pytest.mark.parametrize("name", ["DictLearning", "NMF", "SparsePCA"])
def test_image_estimators_refuse_set_output(name):
    import nimf.neuro

    est = getattr(nimf.neuro, name)(n_components=2)
    with pytest.raises(NotImplementedError) as info:
        est.set_output(transform="pandas")
    assert str(info.value) == (f"{name}.set_output is not available: transform returns a "
                               "list of arrays (one per image), not one table")


def test_centred_source_fingerprint_names_the_data_and_the_row_subtracted(rng):
    from nimf.sources import CenteredSource, as_source

    X = rng.standard_normal((20, 5))
    mean = X.mean(axis=0)
    plain = as_source(X).fingerprint()
    centred = CenteredSource(as_source(X), mean).fingerprint()
    assert {k: centred[k] for k in plain} == plain  # the wrapped data's identity
    assert centred == CenteredSource(as_source(X.copy()), mean.copy()).fingerprint()
    assert centred["centred"] != CenteredSource(as_source(X), mean + 1).fingerprint()["centred"]
    assert CenteredSource(as_source(X + 1), mean).fingerprint()["sha256"] != plain["sha256"]
