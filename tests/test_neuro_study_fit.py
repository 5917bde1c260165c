"""Image estimators fitted from a masked study on disk."""
import numpy as np
import pytest

from nimf.assessment import match_components
from nimf.datasets import make_rest_study
from nimf.neuro import NMF, DictLearning, MaskedStudy, SparsePCA, mask_study
from nimf.neuro import _data
from nimf.neuro import nmf as nmf_module
from nimf.decomposition import _ica_start


@pytest.fixture(scope="module")
def rest():
    # three subjects to learn from, a fourth held out
    return make_rest_study(n_subjects=4, n_scans=100, n_networks=5, resolution=8, snr=2.0,
                           random_state=0)


@pytest.fixture(scope="module")
def study(rest, tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "study.zarr"
    return mask_study(rest.func[:3], path, mask=rest.mask_img, confounds=rest.confounds[:3],
                      t_r=rest.t_r, chunks=(10, 64))


@pytest.fixture(scope="module")
def heldout(rest, tmp_path_factory):
    path = tmp_path_factory.mktemp("heldout") / "heldout.zarr"
    return mask_study(rest.func[3:], path, mask=rest.mask_img, confounds=rest.confounds[3:],
                      t_r=rest.t_r, chunks=(10, 64))


KW = dict(n_components=5, random_state=0, n_epochs=10)


def _corr(a, b):
    return match_components(a, b, metric="correlation").score


def test_dict_learning_from_the_study_matches_the_images(rest, study):
    images = DictLearning(mask=rest.mask_img, t_r=rest.t_r, **KW).fit(
        rest.func[:3], confounds=rest.confounds[:3])
    disk = DictLearning(**KW).fit(study)
    assert _corr(images.components_, disk.components_) >= 0.99
    assert _corr(rest.maps, disk.components_) > 0.8
    assert disk.masking_time_ == 0
    assert disk.components_img_.shape == images.components_img_.shape
    # time courses and scores of the study's subjects are those of the images
    codes_disk = disk.transform(study)
    codes_img = disk.transform(rest.func[:3], confounds=rest.confounds[:3])
    assert len(codes_disk) == 3
    for a, b in zip(codes_disk, codes_img):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    imgs, conf = rest.func[:3], rest.confounds[:3]
    assert disk.score(study) == pytest.approx(disk.score(imgs, confounds=conf), rel=1e-5)
    np.testing.assert_allclose(disk.score(study, per_component=True),
                               disk.score(imgs, confounds=conf, per_component=True),
                               rtol=1e-4, atol=1e-6)


def test_study_fit_records_history_with_validation(study, heldout):
    est = DictLearning(**KW).fit(study, validation=heldout)
    history = est.history_
    assert history["n_samples"][-1] == 10 * study.n_scans
    assert np.all(np.isfinite(history["objective"]))
    assert history["objective"][-1] < history["objective"][0]
    # the learner read about n_epochs / reduction of the study
    reduction = est._reduction()
    assert history["bytes_read"][-1] == pytest.approx(10 * study.nbytes / reduction, rel=0.15)
    assert est.stop_reason_ == "n_epochs"


def test_masking_parameters_that_disagree_with_the_study_are_refused(rest, study):
    with pytest.raises(ValueError, match=r"smoothing_fwhm=6 disagrees with the masked study "
                                         r".*smoothing_fwhm=4"):
        DictLearning(smoothing_fwhm=6, **KW).fit(study)
    with pytest.raises(ValueError, match=r"t_r=3\.0 disagrees .*t_r=2\.0"):
        DictLearning(t_r=3.0, **KW).fit(study)
    with pytest.raises(ValueError, match="standardize=False disagrees"):
        DictLearning(standardize=False, **KW).fit(study)
    # the study's own values, or the defaults, are accepted
    DictLearning(t_r=2.0, smoothing_fwhm=4, **dict(KW, n_epochs=1)).fit(study)
    other = np.asarray(rest.mask_img.dataobj).copy()
    other[tuple(np.argwhere(other)[0])] = 0
    import nibabel
    with pytest.raises(ValueError, match="mask is not the mask of the masked study"):
        DictLearning(mask=nibabel.Nifti1Image(other, rest.mask_img.affine), **KW).fit(study)
    with pytest.raises(ValueError, match="confounds must be None when fitting a MaskedStudy"):
        DictLearning(**KW).fit(study, confounds=rest.confounds)
    with pytest.raises(ValueError, match="reduction_ratio must be 1 when fitting a MaskedStudy"):
        DictLearning(reduction_ratio="auto", **KW).fit(study)
    with pytest.raises(ValueError, match=r"n_components must be <= the number of scans "
                                         r"available \(300 in the study\)"):
        DictLearning(n_components=301).fit(study)


def test_transform_refuses_a_study_of_another_masking(rest, study, tmp_path):
    fitted = DictLearning(**dict(KW, n_epochs=1)).fit(study)
    other = mask_study(rest.func[:1], tmp_path / "other.zarr", mask=rest.mask_img,
                       t_r=rest.t_r, smoothing_fwhm=6)
    with pytest.raises(ValueError, match="was masked with smoothing_fwhm=6"):
        fitted.transform(other)


def test_nmf_and_sparse_pca_fit_a_study(rest, study):
    nmf = NMF(n_components=5, random_state=0, max_iter=30).fit(study)
    assert nmf.components_.shape == (5, study.n_voxels)
    assert np.all(nmf.components_ >= 0)
    spca = SparsePCA(n_components=5, random_state=0, n_epochs=2).fit(study)
    assert spca.components_.shape == (5, study.n_voxels)
    assert _corr(rest.maps, spca.components_) > 0.5


def test_nmf_streams_a_study_larger_than_memory(rest, study, monkeypatch):
    # as if the study did not fit in memory: it is streamed block by block
    monkeypatch.setattr(_data, "available_memory", lambda: 1000)
    loaded = []
    monkeypatch.setattr(nmf_module, "_load_whole", lambda *a: loaded.append(1))
    nmf = NMF(n_components=5, random_state=0).fit(study)
    assert not loaded
    assert nmf.components_.shape == (5, study.n_voxels) and np.all(nmf.components_ >= 0)
    assert 1 <= nmf.n_iter_ <= NMF._STREAM_PASSES
    # as good as the fit of the study read into memory (0.867)
    assert _corr(rest.maps, nmf.components_) > 0.85
    assert np.all(np.any(nmf.components_ > 0, axis=1))


def test_ica_start_and_explained_variance_read_a_bounded_sample(study, monkeypatch):
    rows_read = []
    partial_reads = []
    source = study.__nimf_source__()
    source_read = type(source).read

    def spy(self, rows, columns, out=None, parallel=True):
        if columns is None:
            rows_read.append(len(rows))
        else:
            partial_reads.append((len(rows), len(columns)))
        return source_read(self, rows, columns, out=out, parallel=parallel)

    monkeypatch.setattr(type(source), "read", spy)
    monkeypatch.setattr(_ica_start, "_ICA_STORED_SCANS", 40)
    monkeypatch.setattr(_data, "_VARIANCE_SCANS", 30)
    est = DictLearning(**dict(KW, n_epochs=1)).fit(study)
    # whole scans were read for the ICA start (40 scans: 4 chunks of 10) and for
    # the explained variance (30 scans), never the whole study (300 scans)
    assert sum(rows_read) == 30 + 40
    # the statistics of the start coded 200 scans on one draw of voxel blocks
    # (as a step reads them), not on every voxel
    start = [(n, cols) for n, cols in partial_reads if n == 200]
    assert len(start) == 1
    assert start[0][1] < source.n_features
    assert est.explained_variance_.shape == (5,)
    assert np.all(np.diff(est.explained_variance_) <= 0)


def test_resume_skips_the_start_and_equals_one_fit(study, tmp_path, monkeypatch):
    ckpt = tmp_path / "dl.npz"
    kw = dict(KW, n_epochs=4, checkpoint=ckpt)
    first = DictLearning(max_time=1e-9, **kw).fit(study)
    assert first.stop_reason_ == "max_time"

    def no_ica(*args, **kwargs):
        raise AssertionError("the ICA start is not needed to resume")

    from nimf.decomposition import online
    monkeypatch.setattr(online, "ica_start", no_ica)
    resumed = DictLearning(resume=True, **kw).fit(study)
    assert resumed.stop_reason_ == "n_epochs"
    monkeypatch.undo()
    ref = DictLearning(**dict(KW, n_epochs=4)).fit(study)
    np.testing.assert_allclose(resumed.components_, ref.components_, rtol=1e-5, atol=1e-7)


def test_nimf_decompose_takes_a_study(study, tmp_path):
    from nimf.cli import main
    out = tmp_path / "out"
    assert main(["decompose", study.path, "--n-components", "5", "--out", str(out),
                 "--n-epochs", "2", "--t-r", "2"]) == 0
    assert (out / "components.nii.gz").exists() and (out / "report.html").exists()
    # each subject's time courses, named after the subject, and the record of the inputs
    import json

    summary = json.loads((out / "summary.json").read_text())
    subjects = MaskedStudy.open(study.path).subjects
    assert [t["input"] for t in summary["time_courses"]] == [s["name"] for s in subjects]
    for entry, subject in zip(summary["time_courses"], subjects):
        values = np.loadtxt(out / entry["file"], delimiter="\t", skiprows=1, ndmin=2)
        assert entry["file"].endswith("_desc-timecourses_timeseries.tsv")
        assert values.shape == (subject["n_scans"], 5)
    assert [f["sha256"] for f in summary["inputs"]["files"]] == [s["sha256"] for s in subjects]
    # masking options that disagree with the study: an error, nothing written
    assert main(["decompose", study.path, "--n-components", "5", "--out",
                 str(tmp_path / "o2"), "--smoothing-fwhm", "8"]) == 2
    assert not (tmp_path / "o2").exists()
    assert MaskedStudy.open(study.path).n_scans == 300
