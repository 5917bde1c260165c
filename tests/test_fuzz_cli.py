"""Property-based fuzz of ``nimf decompose``: bad input only ever gives a clear error.

Each example gives the command one or more bad inputs (a missing, 3D, 2D, 5D, text,
truncated or foreign image file; a pattern that matches nothing; images on two grids;
a bad ``--n-components``, ``--t-r``, ``--n-epochs``, ``--alpha`` or
``--smoothing-fwhm``; a mask that is missing, 4D, empty, outside the images or not
an image; confounds that are missing, miscounted, of the wrong length or not
numbers; an ``--out`` that is a file, under a missing folder or a folder of other
files) next to good ones. The command must exit with code 2 and one line
``nimf decompose: error: ...`` naming one of the inputs at fault (argparse's own
usage error for a flag value of the wrong type), raise nothing else (no traceback),
and leave ``--out`` as it was. Images are tiny and every example fails before any
learning, so the run stays short.
"""
import os
import subprocess
import sys

import nibabel
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nimf.cli import main  # noqa: E402

SHAPE = (5, 6, 5)
N_SCANS = 8
AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])
FUZZ = settings(max_examples=int(os.environ.get("NIMF_FUZZ_EXAMPLES", 30)), deadline=None,
                derandomize=os.environ.get("NIMF_FUZZ_EXAMPLES") is None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _save(folder, name, data, affine=AFFINE):
    path = str(folder / name)
    nibabel.save(nibabel.Nifti1Image(np.asarray(data, np.float32), affine), path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two good subjects, a good mask, and every bad file the fuzz draws from."""
    folder = tmp_path_factory.mktemp("decompose_inputs")
    rng = np.random.RandomState(0)
    good = [_save(folder, f"sub-{s}_bold.nii.gz", 100 + rng.standard_normal(SHAPE + (N_SCANS,)))
            for s in (1, 2)]
    far = AFFINE.copy()
    far[0, 3] += 1000.0
    text = folder / "notes.txt"
    text.write_text("not an image\n")
    fake = folder / "fake_bold.nii.gz"
    fake.write_text("not gzip data")
    np.savetxt(folder / "short_table.txt", np.ones((N_SCANS - 3, 2)))
    (folder / "outfile").write_text("a file, not a folder")
    busy = folder / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("someone's work")
    return {
        "folder": folder, "good": good,
        "mask": _save(folder, "roi.nii.gz", np.ones(SHAPE)),
        "missing": str(folder / "sub-9_bold.nii.gz"),
        "3d": _save(folder, "vol_3d.nii.gz", 100 + rng.standard_normal(SHAPE)),
        "2d": _save(folder, "img_2d.nii.gz", np.ones((5, 4))),
        "5d": _save(folder, "img_5d.nii.gz", np.ones(SHAPE + (N_SCANS, 2))),
        "text": str(text), "fake": str(fake),
        "other_grid": _save(folder, "grid_bold.nii.gz",
                            100 + rng.standard_normal((4, 4, 4, N_SCANS))),
        "mask_far": _save(folder, "far_roi.nii.gz", np.ones(SHAPE), far),
        "mask_empty": _save(folder, "empty_roi.nii.gz", np.zeros(SHAPE)),
        "short_confounds": str(folder / "short_table.txt"),
        "outfile": str(folder / "outfile"), "busy": str(busy),
    }


def _truncated(files, cut):
    raw = open(files["good"][1], "rb").read()
    path = files["folder"] / f"truncated_{int(cut * 1000)}_bold.nii.gz"
    path.write_bytes(raw[:int(cut * len(raw))])
    return str(path)


# each bad input: how it changes (images, flags), and words one of which the error names
# (the bad files' names hold none of these words, so the message itself must name them)
BAD_IMGS = ["missing", "3d", "2d", "5d", "text", "fake", "truncated", "empty_glob", "folder",
            "other_grid"]
BAD_FLAGS = {
    "--n-components": st.one_of(st.integers(-5, 0).map(str), st.just("100000"),
                                st.sampled_from(["x", "2.5", ""])),
    "--t-r": st.one_of(st.floats(max_value=0.0).map(repr),
                       st.sampled_from(["nan", "inf", "-inf", "two"])),
    "--n-epochs": st.one_of(st.integers(-3, 0).map(str), st.just("1.5")),
    "--alpha": st.sampled_from(["-1", "nan", "inf", "-inf"]),
    "--smoothing-fwhm": st.sampled_from(["-2", "nan", "inf"]),
}
BAD_MASKS = ["missing", "4d", "empty", "far", "text", "folder"]
BAD_CONFOUNDS = ["missing", "count", "short", "text"]
BAD_OUTS = ["file", "no_parent", "busy"]


def _listing(out):
    return sorted(os.listdir(out)) if os.path.isdir(out) else os.path.exists(out)


def _command(files, img=None, flag=None, value=None, mask=None, confounds=None, out=None,
             cut=0.5, position=0, tag=0):
    """(argv, words naming the inputs at fault, the --out path and its state before) of
    ``nimf decompose`` on the good images with the bad inputs named by the arguments."""
    imgs = list(files["good"])
    flags = {"--n-components": "2", "--n-epochs": "1", "--smoothing-fwhm": "0",
             "--mask": files["mask"]}
    names = []
    if img is not None:
        bad = {"truncated": lambda: _truncated(files, cut),
               "empty_glob": lambda: str(files["folder"] / "nobody_*_bold.nii.gz"),
               "folder": lambda: str(files["folder"])}.get(img, lambda: files[img])()
        imgs.insert(position, bad)
        names += ["imgs"]
    if flag is not None:
        flags[flag] = value
        names += [flag, flag.lstrip("-").replace("-", "_")]
    if mask is not None:
        flags["--mask"] = {"missing": str(files["folder"] / "absent_roi.nii.gz"),
                           "4d": files["good"][0], "empty": files["mask_empty"],
                           "far": files["mask_far"], "text": files["text"],
                           "folder": str(files["folder"])}[mask]
        names += ["mask"]
    if confounds is not None:
        confounds = {"missing": [str(files["folder"] / "absent_table.txt")] * 2,
                     "count": [files["short_confounds"]],
                     "short": [files["short_confounds"]] * 2,
                     "text": [files["text"]] * 2}[confounds]
        names += ["confounds"]
    out_path = str(files["folder"] / f"out_{tag}")
    if out is not None:
        out_path = {"file": files["outfile"], "busy": files["busy"],
                    "no_parent": str(files["folder"] / "no" / "such" / "out")}[out]
        names += ["--out"]
    argv = ["decompose", *imgs]
    for key, setting in flags.items():
        argv += [key, setting]
    if confounds is not None:
        argv += ["--confounds", *confounds]
    argv += ["--out", out_path]
    return argv, names, out_path, _listing(out_path)


@st.composite
def bad_commands(draw, files):
    """One to three bad inputs among the good ones."""
    chosen = draw(st.lists(st.sampled_from(["img", "flag", "mask", "confounds", "out"]),
                           min_size=1, max_size=3, unique=True))
    kw = {"tag": draw(st.integers(0, 10 ** 6))}
    if "img" in chosen:
        kw.update(img=draw(st.sampled_from(BAD_IMGS)), cut=draw(st.floats(0.0, 0.95)),
                  position=draw(st.integers(0, 2)))
    if "flag" in chosen:
        kw["flag"] = draw(st.sampled_from(sorted(BAD_FLAGS)))
        kw["value"] = draw(BAD_FLAGS[kw["flag"]])
    for key, kinds in (("mask", BAD_MASKS), ("confounds", BAD_CONFOUNDS), ("out", BAD_OUTS)):
        if key in chosen:
            kw[key] = draw(st.sampled_from(kinds))
    return _command(files, **kw)


def _assert_clear(files, capsys, argv, names, out, before):
    try:
        code = main(argv)
    except SystemExit as exc:
        # argparse refuses a flag value of the wrong type, naming the flag
        err = capsys.readouterr().err
        assert exc.code == 2 and "error: argument" in err, err
        assert any(name in err for name in names), f"{err!r} names none of {names}"
        return
    err = capsys.readouterr().err
    assert code == 2, f"{argv} gave exit code {code}, expected 2; stderr: {err!r}"
    message = [line for line in err.splitlines() if line.startswith("nimf decompose: error:")]
    assert len(message) == 1, f"no one-line error in {err!r}"
    assert any(name in message[0] for name in names), \
        f"{message[0]!r} names none of {names} ({argv})"
    assert "Traceback" not in err
    # nothing written: --out is as it was
    assert _listing(out) == before


EVERY_KIND = ([{"img": kind} for kind in BAD_IMGS]
              + [{"flag": "--n-components", "value": v} for v in ("0", "-1", "100000", "x")]
              + [{"flag": "--t-r", "value": v} for v in ("0", "-2", "nan", "inf")]
              + [{"flag": "--n-epochs", "value": "0"}, {"flag": "--alpha", "value": "nan"},
                 {"flag": "--smoothing-fwhm", "value": "-1"}]
              + [{"mask": kind} for kind in BAD_MASKS]
              + [{"confounds": kind} for kind in BAD_CONFOUNDS]
              + [{"out": kind} for kind in BAD_OUTS])


@pytest.mark.parametrize("bad", EVERY_KIND, ids=lambda bad: "-".join(map(str, bad.values())))
def test_every_kind_of_bad_input_is_a_clear_error(files, capsys, bad):
    _assert_clear(files, capsys, *_command(files, **bad))


@FUZZ
@given(data=st.data())
def test_decompose_on_bad_input_is_a_clear_error(files, capsys, data):
    _assert_clear(files, capsys, *data.draw(bad_commands(files)))


@pytest.mark.parametrize("case", ["truncated", "4d_mask"])
def test_decompose_errors_in_a_real_process_have_no_traceback(files, case):
    imgs = [files["good"][0], _truncated(files, 0.5)] if case == "truncated" \
        else list(files["good"])
    mask = files["good"][0] if case == "4d_mask" else files["mask"]
    out = str(files["folder"] / f"process_{case}")
    result = subprocess.run(
        [sys.executable, "-m", "nimf.cli", "decompose", *imgs, "--n-components", "2",
         "--mask", mask, "--out", out], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("nimf decompose: error: ")
    assert ("truncated" in last and imgs[1] in last) if case == "truncated" else \
        "mask must be a 3D image, got a 4D image" in last
    assert not os.path.exists(out)
