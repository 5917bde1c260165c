"""Security and data-loss properties, each with its exact message.

- a pickle payload put in any array slot of a model file of every kind of nimf
  estimator is refused unread: the marker file its unpickling would create never
  appears;
- a write that fails part way (``save_model``, ``nimf decompose --out``, ``nimf
  recommend --out``) leaves the previous result byte for byte as it was, and no
  temporary file or folder behind.
"""
import io
import os
import zipfile

import numpy as np
import pytest

import nimf
from nimf.cli import main


def _fit(kind, rng):
    if kind == "OnlineDictionaryLearning":
        from nimf.decomposition import OnlineDictionaryLearning
        return OnlineDictionaryLearning(2, n_epochs=1, random_state=0).fit(
            rng.standard_normal((30, 8)))
    if kind == "NMF":
        from nimf.decomposition import NMF
        return NMF(2, max_iter=400, random_state=0).fit(np.abs(rng.standard_normal((20, 8))))
    if kind == "SparsePCA":
        from nimf.decomposition import SparsePCA
        return SparsePCA(2, random_state=0).fit(rng.standard_normal((30, 8)))
    if kind == "MatrixCompletion":
        from nimf.ratings import MatrixCompletion
        users = np.array(["ann", "ann", "bob", "cy", "cy"])
        items = np.array(["x", "y", "x", "y", "z"])
        return MatrixCompletion(2, n_epochs=1, random_state=0).fit(
            (users, items, [1.0, 2.0, 3.0, 4.0, 5.0]))
    from nimf.tensor import CPDecomposition
    return CPDecomposition(2, max_iter=5, tol=0.5, random_state=0).fit(rng.standard_normal((4, 5, 6)))


class _Payload:
    """Unpickling this calls open(marker, 'w'): the marker file proves execution."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _replace_member(path, out, key, value):
    """A copy of the .npz at ``path`` with the member ``key`` written (with pickles
    allowed) from ``value``."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for member in src.namelist():
            if member[:-4] == key:
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, value, allow_pickle=True)
                dst.writestr(member, buffer.getvalue())
            else:
                dst.writestr(member, src.read(member))
    return out


@pytest.mark.parametrize("kind", ["OnlineDictionaryLearning", "NMF", "SparsePCA",
                                  "MatrixCompletion", "CPDecomposition"])
def test_a_pickle_in_any_slot_of_any_model_is_refused_unread(tmp_path, rng, kind):
    path = nimf.save_model(_fit(kind, rng), tmp_path / "model.npz")
    assert type(nimf.load_model(path)).__name__ == kind
    with np.load(path, allow_pickle=False) as data:
        keys = list(data.files)
    assert "__header__" in keys and len(keys) >= 3
    marker = tmp_path / "executed"
    for key in keys:
        bad = _replace_member(path, tmp_path / f"evil-{key}.npz", key,
                              np.array([_Payload(marker)], dtype=object))
        with pytest.raises(ValueError) as info:
            nimf.load_model(bad)
        assert str(info.value) == (
            f"{str(bad)!r} is not a valid nimf model file: the array {key!r} holds Python "
            "objects (a pickle); nimf model files hold plain arrays only and are never "
            "unpickled")
        assert not marker.exists()
    # the same payload does run when a file is unpickled: the marker can appear
    with np.load(bad, allow_pickle=True) as data:
        data[keys[-1]]
    assert marker.exists()


def _snapshot(folder):
    """Every file under ``folder`` (relative path -> bytes)."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            full = os.path.join(root, name)
            found[os.path.relpath(full, folder)] = open(full, "rb").read()
    return found


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt])
def test_save_model_interrupted_mid_write_keeps_the_old_file(tmp_path, rng, monkeypatch,
                                                             error):
    from nimf.decomposition import OnlineDictionaryLearning

    X = rng.standard_normal((30, 8))
    old = OnlineDictionaryLearning(2, n_epochs=1, random_state=0).fit(X)
    path = nimf.save_model(old, tmp_path / "model.npz")
    before = _snapshot(tmp_path)
    new = OnlineDictionaryLearning(2, n_epochs=1, random_state=1).fit(X)
    real = np.savez_compressed

    def half_written(file, *args, **kwargs):
        # some bytes reach the disk, then the write fails
        buffer = io.BytesIO()
        real(buffer, *args, **kwargs)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise error

    monkeypatch.setattr(np, "savez_compressed", half_written)
    with pytest.raises(error if isinstance(error, type) else type(error)):
        nimf.save_model(new, path)
    # the old file byte for byte, and no temporary file left beside it
    assert _snapshot(tmp_path) == before
    np.testing.assert_array_equal(nimf.load_model(path).components_, old.components_)
    monkeypatch.undo()
    nimf.save_model(new, path)
    np.testing.assert_array_equal(nimf.load_model(path).components_, new.components_)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    from nimf.datasets import make_rest_study

    folder = tmp_path_factory.mktemp("study")
    make_rest_study(n_subjects=1, n_scans=40, n_networks=3, resolution=8, output_dir=folder,
                    random_state=0)
    return folder


def test_decompose_interrupted_mid_write_keeps_the_old_result(small_study, tmp_path,
                                                              monkeypatch, capsys):
    import nimf.cli as cli

    out = tmp_path / "res"
    argv = ["decompose", str(small_study / "sub-01_bold.nii.gz"), "--n-components", "2",
            "--t-r", "2", "--out", str(out)]
    assert main(argv) == 0
    before = _snapshot(out)
    assert "components.nii.gz" in before and ".nimf-result.json" in before
    real = cli._write_outputs

    def failing(folder, *args, **kwargs):
        # the maps are written, then the disk fills up before the report
        estimator = args[0]
        estimator.components_img_.to_filename(os.path.join(folder, "components.nii.gz"))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "_write_outputs", failing)
    assert main(argv[:3] + ["3"] + argv[4:]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["res"]
    # a run that completes replaces the result whole
    monkeypatch.setattr(cli, "_write_outputs", real)
    assert main(argv[:3] + ["3"] + argv[4:]) == 0
    import nibabel
    assert nibabel.load(out / "components.nii.gz").shape[-1] == 3
    assert sorted(os.listdir(tmp_path)) == ["res"]


def test_recommend_interrupted_mid_write_keeps_the_old_result(tmp_path, monkeypatch, capsys):
    from nimf.datasets import make_ratings

    ratings = tmp_path / "ratings.csv"
    make_ratings(30, 20, 400, random_state=0).ratings.to_csv(ratings, index=False)
    out = tmp_path / "recs"
    assert main(["recommend", str(ratings), "--out", str(out), "--n", "2"]) == 0
    before = _snapshot(out)
    assert "model.npz" in before and "recommendations.csv" in before
    real = np.savez_compressed

    def half_written(file, *args, **kwargs):
        file.write(b"PK\x03\x04 partial")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(np, "savez_compressed", half_written)
    assert main(["recommend", str(ratings), "--out", str(out), "--n", "4"]) == 2
    assert "Input/output error" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["ratings.csv", "recs"]
    monkeypatch.setattr(np, "savez_compressed", real)
