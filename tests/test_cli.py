"""The nimf command line: outputs written, nothing left behind on failure."""
import argparse
import hashlib
import json
import os
import re

import nibabel
import numpy as np
import pytest

from nimf.cli import main
from nimf.datasets import make_rest_study


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    study = make_rest_study(n_subjects=2, n_scans=60, n_networks=4, resolution=8,
                            output_dir=folder, random_state=0)
    return study, folder


def test_demo_writes_maps_figures_and_report(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--n-subjects", "3", "--n-scans", "60", "--n-networks", "4",
                 "--resolution", "8", "--out", str(out)])
    assert code == 0
    names = sorted(os.listdir(out))
    assert names == [".nimf-result.json", "browser.html", "component_00.png", "component_01.png",
                     "component_02.png", "component_03.png", "components.nii.gz",
                     "contours.png", "report.html"]
    browser = (out / "browser.html").read_text()
    # the four maps pre-rendered, switched by a slider without a kernel
    assert len(set(re.findall(r"iVBORw0KGgo[A-Za-z0-9+/=]+", browser))) == 4
    assert 'type="range"' in browser
    maps = nibabel.load(out / "components.nii.gz")
    assert maps.shape[-1] == 4
    report = (out / "report.html").read_text()
    assert "recovery of planted networks" in report
    assert '<a href="browser.html">' in report
    printed = capsys.readouterr().out
    assert "recovery of the planted networks" in printed
    # the explained variance printed as in the report: one figure, one format
    train, heldout = re.search(r"explained variance \(all maps\): ([0-9.]+%) of the training "
                               r"subjects, ([0-9.]+%) of the held-out subject", printed).groups()
    assert f"<td>{train}</td>" in report and f"<td>{heldout}</td>" in report
    # the total wall time beside the fit time, and the fit is a part of it (printed
    # to 0.1 s: a fit this small may print as 0.0)
    total, fit = map(float, re.search(r"Total wall time ([0-9.]+) s; fitting took ([0-9.]+) s",
                                      printed).groups())
    assert 0 < total and 0 <= fit <= total
    # nothing but the output folder was created next to it
    assert sorted(os.listdir(tmp_path)) == ["demo"]


@pytest.mark.parametrize("how", [["demo", "matrix"], ["demo", "--matrix"]])
def test_matrix_demo(tmp_path, capsys, how):
    # 'nimf demo --matrix' of the first versions still runs the matrix demo
    code = main(how + ["--n-samples", "300", "--n-features", "600",
                       "--n-components", "3", "--reduction", "3", "--out", str(tmp_path / "m")])
    assert code == 0
    assert "recovery of the planted components" in capsys.readouterr().out
    assert (tmp_path / "m" / "components.png").exists()


def test_decompose_on_files_and_globs(small_study, tmp_path, capsys):
    from nimf.neuro import DictLearning

    study, folder = small_study
    mask = tmp_path / "mask.nii.gz"
    nibabel.save(study.mask_img, mask)
    out = tmp_path / "res"
    code = main(["decompose", str(folder / "sub-*_bold.nii.gz"), "--n-components", "3",
                 "--mask", str(mask), "--t-r", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert nibabel.load(out / "components.nii.gz").shape[-1] == 3
    assert (out / "report.html").exists() and (out / "component_02.png").exists()
    assert (out / "browser.html").exists()

    # the same model, fitted here: the command's time courses are its transform
    images = [str(folder / "sub-01_bold.nii.gz"), str(folder / "sub-02_bold.nii.gz")]
    model = DictLearning(n_components=3, mask=str(mask), t_r=2.0, smoothing_fwhm=4.0,
                         alpha=10.0, n_epochs=10, reduction=12.0, random_state=0).fit(images)
    np.testing.assert_array_equal(np.asarray(nibabel.load(out / "components.nii.gz").dataobj),
                                  np.asarray(model.components_img_.dataobj))
    expected = model.transform(images)
    for i, name in enumerate(["sub-01", "sub-02"]):
        table = out / f"{name}_desc-timecourses_timeseries.tsv"
        header = table.read_text().splitlines()[0].split("\t")
        assert header == ["component_000", "component_001", "component_002"]
        values = np.loadtxt(table, delimiter="\t", skiprows=1, ndmin=2)
        assert values.shape == (60, 3) == expected[i].shape
        # written with the digits that read back exactly in the data's float type
        np.testing.assert_array_equal(values.astype(expected[i].dtype), expected[i])

    summary = json.loads((out / "summary.json").read_text())
    assert summary["command"] == "nimf decompose"
    assert summary["parameters"]["n_components"] == 3 and summary["parameters"]["t_r"] == 2.0
    assert summary["parameters"]["seed"] == 0 and summary["parameters"]["alpha"] == 10.0
    assert summary["estimator"]["params"]["random_state"] == 0
    files = {entry["path"]: entry for entry in summary["inputs"]["files"]}
    for path in images + [str(mask)]:
        entry = files[os.path.abspath(path)]
        with open(path, "rb") as f:
            assert entry["sha256"] == hashlib.sha256(f.read()).hexdigest()
        assert entry["bytes"] == os.path.getsize(path)
    assert files[os.path.abspath(mask)]["what"] == "mask"
    import nilearn
    import sklearn

    import nimf
    versions = summary["versions"]
    assert versions["nimf"] == nimf.__version__ and versions["numpy"] == np.__version__
    assert versions["nilearn"] == nilearn.__version__
    assert versions["scikit-learn"] == sklearn.__version__
    assert re.fullmatch(r"3\.\d+\.\d+.*", versions["python"])
    timings = summary["timings_s"]
    assert {"fit (masking, cleaning and learning)", "time courses (transform)",
            "explained variance (score)", "figures, report and browser", "total"} <= set(timings)
    assert all(v >= 0 for v in timings.values())
    assert timings["total"] >= timings["fit (masking, cleaning and learning)"]
    assert [t["file"] for t in summary["time_courses"]] == [
        "sub-01_desc-timecourses_timeseries.tsv", "sub-02_desc-timecourses_timeseries.tsv"]

    # one explained-variance figure: the model's score on the images, printed, reported
    # and recorded the same way
    ev = summary["explained_variance"]
    assert ev["total"] == pytest.approx(model.score(images), rel=1e-6)
    np.testing.assert_allclose(ev["per_component"], model.explained_variance_, rtol=1e-6)
    shown = f"{100 * ev['total']:.1f}%"
    assert f"together they explain {shown} of the variance" in printed
    report = (out / "report.html").read_text()
    assert f"<td>{shown}</td>" in report
    assert len(re.findall(r"\b0\.\d{3,}\b", report.split("<h2>Inputs")[0])) == 0
    # the report lists the parameters and the inputs, and links the browser page
    assert re.search(r'<a href="browser.html">[^<]+</a>', report)
    assert "<h2>Parameters</h2>" in report and "<th>n_components</th><td>3</td>" in report
    for path in images:
        assert os.path.abspath(path) in report and files[os.path.abspath(path)]["sha256"] in report


def test_time_course_names_follow_bids():
    from nimf.cli import _time_course_names

    assert _time_course_names([
        "/data/sub-01/func/sub-01_task-rest_space-MNI_desc-preproc_bold.nii.gz",
        "sub-02_hemi-L_bold.func.gii", "rest_run1.nii", "sub-03_task-rest_bold.nii.gz",
        "other/sub-03_task-rest_bold.nii.gz"]) == [
        "sub-01_task-rest_space-MNI_desc-timecourses_timeseries.tsv",
        "sub-02_desc-timecourses_timeseries.tsv",
        "rest_run1_desc-timecourses_timeseries.tsv",
        # two inputs of one name: told apart by their position
        "sub-03_task-rest_idx-4_desc-timecourses_timeseries.tsv",
        "sub-03_task-rest_idx-5_desc-timecourses_timeseries.tsv"]


def test_decompose_failures_leave_nothing(small_study, tmp_path, capsys):
    study, folder = small_study
    out = tmp_path / "never"
    code = main(["decompose", str(tmp_path / "missing.nii.gz"), "--n-components", "2",
                 "--out", str(out)])
    assert code == 2
    assert "file not found" in capsys.readouterr().err
    first = nibabel.load(study.func[0])
    img3d = nibabel.Nifti1Image(np.asarray(first.dataobj)[..., 0], first.affine)
    path3d = tmp_path / "vol3d.nii.gz"
    nibabel.save(img3d, path3d)
    code = main(["decompose", str(path3d), "--n-components", "2", "--out", str(out)])
    assert code == 2
    code = main(["decompose", str(folder / "sub-01_bold.nii.gz"), "--n-components", "500",
                 "--out", str(out)])
    assert code == 2
    assert "n_components must be <=" in capsys.readouterr().err
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["vol3d.nii.gz"]


def test_ratings_demo(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["demo", "ratings", "--n", "3", "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == [".nimf-result.json", "model.npz", "recommendations.csv",
                                       "summary.json"]
    printed = capsys.readouterr().out
    rmse = float(re.search(r"held-out RMSE \(\d+ ratings\): ([0-9.]+) \(biases only ([0-9.]+)",
                           printed).group(1))
    base = float(re.search(r"biases only ([0-9.]+)", printed).group(1))
    assert rmse < base - 0.02
    import pandas as pd
    recs = pd.read_csv(out / "recommendations.csv")
    assert list(recs.columns) == ["user", "rank", "item", "score"]
    assert recs.user.nunique() == 943 and len(recs) == 3 * 943


@pytest.mark.parametrize("kind", ["u.data", "ratings.dat", "ratings.csv", "custom.csv"])
def test_recommend_on_rating_files(tmp_path, capsys, kind):
    from nimf import load_model
    from nimf.datasets import make_ratings

    df = make_ratings(60, 40, 1200, n_factors=2, random_state=0).ratings
    df["timestamp"] = 874965758
    path = tmp_path / kind
    extra = []
    if kind == "u.data":
        df.to_csv(path, sep="\t", header=False, index=False)
    elif kind == "ratings.dat":
        path.write_text("".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in df.itertuples(
            index=False)))
    elif kind == "ratings.csv":
        df.set_axis(["userId", "movieId", "rating", "timestamp"], axis=1).to_csv(
            path, index=False)
    else:
        df.assign(user="u" + df.user.astype(str)).set_axis(
            ["who", "what", "stars", "when"], axis=1).to_csv(path, sep=";", index=False)
        extra = ["--user-col", "who", "--item-col", "what", "--rating-col", "stars",
                 "--sep", ";"]
    out = tmp_path / "out"
    code = main(["recommend", str(path), "--n-components", "3", "--n", "2", "--out",
                 str(out)] + extra)
    assert code == 0, capsys.readouterr().err
    model = load_model(out / "model.npz")
    assert model.n_ratings_ == 1200 and model.user_ids_.size == 60
    assert "held-out RMSE" in capsys.readouterr().out


def test_recommend_failures_leave_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["recommend", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2
    assert "no ratings file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,4\n1,2,5\n3,4,nan\n")
    assert main(["recommend", str(bad), "--out", str(out)]) == 2
    assert "rating" in capsys.readouterr().err
    dup = tmp_path / "dup.csv"
    dup.write_text("user,item,rating\n1,2,4\n1,2,5\n3,4,2\n3,5,1\n")
    assert main(["recommend", str(dup), "--test-size", "0", "--n-components", "1",
                 "--out", str(out)]) == 2
    assert "duplicate" in capsys.readouterr().err
    assert main(["demo", "--ratings", "--matrix", "--out", str(out)]) == 2
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["bad.csv", "dup.csv"]


def test_decompose_surface_gifti_pairs(tmp_path, capsys):
    from nimf.datasets import make_surface_rest_study

    study = make_surface_rest_study(n_subjects=2, n_scans=40, n_networks=3, random_state=0)
    for s, img in enumerate(study.func, start=1):
        for hemi in ("L", "R"):
            img.data.to_filename(tmp_path / f"sub-0{s}_hemi-{hemi}_bold.func.gii")
    out = tmp_path / "surf"
    code = main(["decompose", str(tmp_path / "sub-*_bold.func.gii"), "--n-components", "3",
                 "--t-r", "2", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    names = set(os.listdir(out))
    assert {"components_hemi-L.func.gii", "components_hemi-R.func.gii", "contours.png",
            "report.html", "browser.html", "component_02.png"} <= names
    # one time-course table per subject (its two hemispheres), both files checksummed
    for s in (1, 2):
        values = np.loadtxt(out / f"sub-0{s}_desc-timecourses_timeseries.tsv", delimiter="\t",
                            skiprows=1, ndmin=2)
        assert values.shape == (40, 3)
    recorded = {os.path.basename(f["path"])
                for f in json.loads((out / "summary.json").read_text())["inputs"]["files"]}
    assert recorded == {f"sub-0{s}_hemi-{h}_bold.func.gii" for s in (1, 2) for h in "LR"}
    from nilearn.surface import load_surf_data

    left = np.asarray(load_surf_data(out / "components_hemi-L.func.gii"))
    assert sorted(left.shape) == sorted((study.func[0].data.parts["left"].shape[0], 3))
    # a file without its other hemisphere, or without a hemisphere tag: clear errors
    os.remove(tmp_path / "sub-02_hemi-R_bold.func.gii")
    never = tmp_path / "never"
    assert main(["decompose", str(tmp_path / "sub-*_bold.func.gii"), "--n-components", "3",
                 "--out", str(never)]) == 2
    assert "unpaired" in capsys.readouterr().err
    (tmp_path / "sub-01_hemi-L_bold.func.gii").rename(tmp_path / "sub-01_bold.func.gii")
    assert main(["decompose", str(tmp_path / "sub-01_bold.func.gii"), "--n-components", "3",
                 "--out", str(never)]) == 2
    assert "hemi-L" in capsys.readouterr().err
    assert not never.exists()


def _write_confounds(study, folder):
    """One TSV of confounds (with a header line) per image."""
    paths = []
    for i, conf in enumerate(study.confounds, start=1):
        path = folder / f"sub-0{i}_confounds.tsv"
        header = "\t".join(f"motion_{j}" for j in range(conf.shape[1]))
        np.savetxt(path, conf, delimiter="\t", header=header, comments="", fmt="%.17g")
        paths.append(str(path))
    return paths


def test_mask_writes_a_study_and_appends(small_study, tmp_path, capsys):
    from nimf.neuro import MaskedStudy, mask_study

    study, folder = small_study
    mask = tmp_path / "mask.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.asarray(study.mask_img.dataobj),
                                     study.mask_img.affine), mask)
    confounds = _write_confounds(study, tmp_path)
    out = tmp_path / "study.zarr"
    code = main(["mask", str(folder / "sub-*_bold.nii.gz"), "--out", str(out), "--mask",
                 str(mask), "--t-r", "2", "--high-pass", "0.01", "--smoothing-fwhm", "6",
                 "--confounds", str(tmp_path / "sub-*_confounds.tsv"), "--n-jobs", "2"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "Masked 2 subjects (120 scans)" in printed and "scans/s" in printed
    assert re.search(r"2 subjects, 120 scans x \d+ voxels, [0-9.]+ MB on disk", printed)
    stored = MaskedStudy.open(out)
    expected = mask_study(study.func, tmp_path / "api.zarr", confounds=confounds,
                          mask=str(mask), t_r=2.0, high_pass=0.01, smoothing_fwhm=6.0)
    np.testing.assert_array_equal(stored.read_rows(0, 120), expected.read_rows(0, 120))
    assert stored.masker_params == expected.masker_params
    assert [s["name"] for s in stored.subjects] == ["sub-01_bold.nii.gz", "sub-02_bold.nii.gz"]
    assert stored.subjects[1]["confounds"] == {"kind": "path", "path": confounds[1]}

    # --append: the stored options, no new ones
    code = main(["mask", str(folder / "sub-01_bold.nii.gz"), "--out", str(out), "--append",
                 "--confounds", confounds[0]])
    assert code == 0, capsys.readouterr().err
    assert "Added 1 subjects (60 scans)" in capsys.readouterr().out
    appended = MaskedStudy.open(out)
    np.testing.assert_array_equal(appended.read_subject(2), expected.read_subject(0))
    assert main(["mask", str(folder / "sub-01_bold.nii.gz"), "--out", str(out), "--append",
                 "--smoothing-fwhm", "8"]) == 2
    assert "drop --smoothing-fwhm" in capsys.readouterr().err
    # an existing study is not replaced without --overwrite
    assert main(["mask", str(folder / "sub-01_bold.nii.gz"), "--out", str(out)]) == 2
    assert "give --append to add these subjects to it, or --overwrite" in capsys.readouterr().err
    assert len(MaskedStudy.open(out).subjects) == 3


def test_mask_failures_leave_nothing(small_study, tmp_path, capsys):
    study, folder = small_study
    out = tmp_path / "never.zarr"
    assert main(["mask", str(tmp_path / "missing.nii.gz"), "--out", str(out)]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["mask", str(folder / "sub-*_bold.nii.gz"), "--out", str(out),
                 "--confounds", str(folder / "sub-01_bold.nii.gz")]) == 2
    assert "one file per image" in capsys.readouterr().err
    assert main(["mask", str(folder / "sub-01_bold.nii.gz"), "--out", str(out),
                 "--append"]) == 2
    assert "does not exist" in capsys.readouterr().err
    # the second image is damaged past its header (its compressed data garbled,
    # its size intact, so that only reading it fails): the first subject was
    # committed when masking fails, and the new study is removed
    first = nibabel.load(folder / "sub-01_bold.nii.gz")
    damaged = tmp_path / "sub-02_bold.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.asarray(first.dataobj), first.affine), damaged)
    raw = bytearray(damaged.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 64] = bytes(64)
    damaged.write_bytes(bytes(raw))
    mask = tmp_path / "mask.nii"
    nibabel.save(nibabel.Nifti1Image(np.asarray(study.mask_img.dataobj),
                                     study.mask_img.affine), mask)
    code = main(["mask", str(folder / "sub-01_bold.nii.gz"), str(damaged), "--out", str(out),
                 "--mask", str(mask), "--verbose", "1"])
    assert code == 2
    captured = capsys.readouterr()
    assert "imgs[0] sub-01_bold.nii.gz: 60 scans committed" in captured.out
    assert f"imgs[1] ({damaged}) could not be masked" in captured.err
    assert sorted(os.listdir(tmp_path)) == ["mask.nii", "sub-02_bold.nii.gz"]


# ------------------------------------------------------------ --out swapped in whole
def _ratings_file(tmp_path):
    from nimf.datasets import make_ratings

    path = tmp_path / "ratings.csv"
    make_ratings(30, 20, 400, random_state=0).ratings.to_csv(path, index=False)
    return path


def test_a_new_result_replaces_the_old_one_whole(tmp_path):
    ratings, out = _ratings_file(tmp_path), tmp_path / "recs"
    assert main(["recommend", str(ratings), "--out", str(out), "--n", "2"]) == 0
    (out / "stale.txt").write_text("from an older run")
    assert main(["recommend", str(ratings), "--out", str(out), "--n", "3"]) == 0
    # no stale file of the previous run, no temporary folder left beside
    assert sorted(os.listdir(out)) == [".nimf-result.json", "model.npz", "recommendations.csv",
                                       "summary.json"]
    assert sorted(os.listdir(tmp_path)) == ["ratings.csv", "recs"]


def test_a_failed_swap_leaves_the_old_result_intact(tmp_path, monkeypatch, capsys):
    ratings, out = _ratings_file(tmp_path), tmp_path / "recs"
    assert main(["recommend", str(ratings), "--out", str(out), "--n", "2"]) == 0
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    rename = os.rename

    def failing(src, dst):
        if os.path.basename(str(src)).startswith(".nimf-new-"):
            raise OSError(28, "No space left on device")
        return rename(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    assert main(["recommend", str(ratings), "--out", str(out), "--n", "5"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before
    assert sorted(os.listdir(tmp_path)) == ["ratings.csv", "recs"]


def test_a_folder_that_is_not_a_nimf_result_is_refused_unless_overwrite(tmp_path, capsys):
    ratings, out = _ratings_file(tmp_path), tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code = main(["decompose", str(tmp_path / "missing.nii.gz"), "--n-components", "2",
                 "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "holds files that are not a nimf result (thesis.tex)" in err and "--overwrite" in err
    assert main(["recommend", str(ratings), "--out", str(out)]) == 2
    assert os.listdir(out) == ["thesis.tex"]
    assert main(["recommend", str(ratings), "--out", str(out), "--overwrite"]) == 0
    assert "thesis.tex" not in os.listdir(out)


@pytest.mark.parametrize("argv,message", [
    (["--test-size", "2"], r"--test-size must be in \[0, 1\), got 2"),
    (["--n", "0"], "--n must be a positive int, got 0"),
    (["--n-components", "-1"], "--n-components must be 'auto' or an int >= 0, got -1"),
    (["--n-epochs", "0"], "--n-epochs must be a positive int, got 0"),
])
def test_command_line_values_are_named_by_their_flag(tmp_path, capsys, argv, message):
    ratings = _ratings_file(tmp_path)
    assert main(["recommend", str(ratings), "--out", str(tmp_path / "o")] + argv) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_held_out_set_left_empty_is_described(tmp_path, capsys):
    ratings = tmp_path / "two.csv"
    ratings.write_text("user,item,rating\n1,10,4\n1,11,3\n")
    assert main(["recommend", str(ratings), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--test-size 0.2 held out no rating" in err and "--test-size 0" in err
    assert "got none" not in err


# ------------------------------------------------------------ help, version, usage
def _parsers(parser, name="nimf"):
    """Every parser of the command, by its command line."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_has_help_and_shows_its_default():
    from nimf.cli import build_parser

    seen = 0
    for name, parser in _parsers(build_parser()):
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if not action.option_strings or action.dest in ("help", "version"):
                continue
            seen += 1
            flag = action.option_strings[-1]
            assert action.help, f"{name} {flag} has no help text"
            if action.required or action.default is False:
                continue  # required options and on/off flags have no default to show
            if action.default is None:
                # the help says what happens when the option is not given
                assert "default:" in action.help, f"{name} {flag}: {action.help!r}"
            else:
                assert f"(default: {action.default})" in text, f"{name} {flag}"
    assert seen > 60


@pytest.mark.parametrize("command,flag,unit", [
    ("decompose", "--t-r SECONDS", "in seconds"), ("decompose", "--max-time SECONDS", "seconds"),
    ("decompose", "--smoothing-fwhm MM", "in mm"), ("mask", "--low-pass HZ", "in Hz"),
    ("mask", "--high-pass HZ", "in Hz"), ("mask", "--t-r SECONDS", "in seconds"),
    ("demo fmri", "--resolution MM", "in mm")])
def test_help_states_units(capsys, command, flag, unit):
    with pytest.raises(SystemExit) as exit_:
        main(command.split() + ["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    # the unit in the option's own help (before the next option)
    assert re.search(re.escape(flag) + r" (?:(?! --\w).)*" + re.escape(unit), text), text


def test_version(capsys):
    import nimf

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"nimf {nimf.__version__}"


def test_bare_nimf_prints_its_usage_once(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out.count("usage:") == 1 and captured.err == ""
    for command in ("demo", "decompose", "mask", "recommend"):
        assert re.search(rf"^\s+{command}\b", captured.out, re.M)


def _help(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv + ["--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_each_demo_has_its_own_options(capsys):
    fmri_only, matrix_only, ratings_only = "--n-subjects", "--n-samples", "--test-size"
    demo = _help(capsys, ["demo"])
    assert all(name in demo for name in ("fmri", "matrix", "ratings"))
    assert not any(flag in demo for flag in (fmri_only, matrix_only, ratings_only))
    fmri = _help(capsys, ["demo", "fmri"])
    assert fmri_only in fmri and matrix_only not in fmri and ratings_only not in fmri
    matrix = _help(capsys, ["demo", "matrix"])
    assert matrix_only in matrix and fmri_only not in matrix and ratings_only not in matrix
    ratings = _help(capsys, ["demo", "ratings"])
    assert ratings_only in ratings and fmri_only not in ratings and matrix_only not in ratings
    # plain 'nimf demo' with options is the fMRI demo (the README's 'nimf demo')
    assert _help(capsys, ["demo", "--n-subjects", "3"]) == fmri


def test_an_interrupted_append_says_how_to_add_the_rest(small_study, tmp_path, capsys,
                                                         monkeypatch):
    from nimf.neuro import MaskedStudy, study as study_module

    _, folder = small_study
    out = tmp_path / "study.zarr"
    assert main(["mask", str(folder / "sub-01_bold.nii.gz"), "--out", str(out)]) == 0
    capsys.readouterr()

    def full_disk(self, items, n_jobs, report):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(study_module._Writer, "_run", full_disk)
    code = main(["mask", str(folder / "sub-02_bold.nii.gz"), "--out", str(out), "--append"])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err
    # the way on in the command's own words, not the Python API's
    assert "add the others with nimf mask --append." in err
    assert "MaskedStudy.open" not in err
    monkeypatch.undo()
    assert len(MaskedStudy.open(out).subjects) == 1
