import subprocess
import sys

import numpy as np
import pytest

import nimf
from nimf.decomposition import OnlineDictionaryLearning


def test_import_nimf_is_light():
    code = ("import sys, nimf; heavy = [m for m in ('matplotlib', 'ipywidgets', 'dask', "
            "'nilearn', 'numba', 'sklearn') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_save_load_round_trip_and_resume(tmp_path, rng):
    X = rng.standard_normal((200, 30))
    D0 = rng.standard_normal((3, 30))
    kw = dict(n_components=3, reduction=2, code_method="average", batch_size=20,
              dict_init=D0, random_state=0, shuffle=False)
    est = OnlineDictionaryLearning(**kw).partial_fit(X[:100], sample_indices=np.arange(100))
    path = nimf.save_model(est, tmp_path / "model")
    assert path.endswith(".npz")
    loaded = nimf.load_model(path)
    assert type(loaded) is OnlineDictionaryLearning
    params = loaded.get_params()
    np.testing.assert_array_equal(params.pop("dict_init"), D0)
    expected = est.get_params()
    expected.pop("dict_init")
    assert params == expected
    np.testing.assert_array_equal(loaded.components_, est.components_)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    assert loaded.n_features_in_ == 30 and loaded.n_steps_ == est.n_steps_
    # resuming the stream gives exactly what the uninterrupted estimator gives
    est.partial_fit(X[100:], sample_indices=np.arange(100, 200))
    loaded.partial_fit(X[100:], sample_indices=np.arange(100, 200))
    np.testing.assert_array_equal(loaded.components_, est.components_)


@pytest.mark.parametrize("kind", ["OnlineDictionaryLearning", "NMF", "SparsePCA",
                                  "MatrixCompletion", "CPDecomposition"])
def test_model_files_hold_plain_arrays_only(tmp_path, rng, kind):
    """What save_model writes reads back with pickles forbidden: every member is
    a plain array (numbers, booleans or text), none holds Python objects.

    The other side, a file holding a pickle being refused unread (exact message,
    no code run), is ``test_data_safety.test_a_pickle_in_any_slot_of_any_model_is_refused_unread``.
    """
    from test_data_safety import _fit

    est = _fit(kind, rng)
    path = nimf.save_model(est, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as data:
        assert "__header__" in data.files and len(data.files) >= 3
        for key in data.files:
            # reading with allow_pickle=False raises on an object array
            assert data[key].dtype.kind in "biufcUS", (key, data[key].dtype)
    assert type(nimf.load_model(path)) is type(est)


def test_save_load_errors(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        nimf.save_model(OnlineDictionaryLearning(2), tmp_path / "x")
    with pytest.raises(ValueError, match="supports the nimf estimators"):
        nimf.save_model(object(), tmp_path / "x")
    with pytest.raises(ValueError, match="no model file"):
        nimf.load_model(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not a valid nimf model file: it has no nimf header"):
        nimf.load_model(tmp_path / "other.npz")


def test_sparse_pca_round_trip(tmp_path, rng):
    from nimf.decomposition import SparsePCA

    X = rng.standard_normal((120, 40))
    est = SparsePCA(3, random_state=0).fit(X)
    loaded = nimf.load_model(nimf.save_model(est, tmp_path / "spca"))
    assert type(loaded) is SparsePCA
    np.testing.assert_array_equal(loaded.components_, est.components_)
    np.testing.assert_array_equal(loaded.mean_, est.mean_)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_nmf_round_trip(tmp_path, rng):
    from nimf.decomposition import NMF

    X = np.abs(rng.standard_normal((60, 30)))
    est = NMF(3, init="nndsvda", max_iter=1000, random_state=0).fit(X)
    loaded = nimf.load_model(nimf.save_model(est, tmp_path / "nmf"))
    assert type(loaded) is NMF
    np.testing.assert_array_equal(loaded.components_, est.components_)
    np.testing.assert_allclose(loaded.transform(X), est.transform(X))


# ------------------------------------------------------------ bad model files
def _model_file(tmp_path, rng):
    est = OnlineDictionaryLearning(2, n_epochs=1, random_state=0).fit(
        rng.standard_normal((30, 8)))
    return nimf.save_model(est, tmp_path / "model.npz")


def _rewrite(path, out, replace=None, drop=()):
    """A copy of the .npz at ``path`` with some members replaced (by arrays written
    with ``allow_pickle=True``) or dropped."""
    import io
    import zipfile

    replace = replace or {}
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for member in src.namelist():
            key = member[:-4]
            if key in drop:
                continue
            if key in replace:
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, replace[key], allow_pickle=True)
                dst.writestr(member, buffer.getvalue())
            else:
                dst.writestr(member, src.read(member))
    return out


class _Payload:
    """Unpickling this calls open(marker, 'w'): the marker file proves execution."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_in_any_array_slot_is_refused_unread(tmp_path, rng):
    path = _model_file(tmp_path, rng)
    marker = tmp_path / "executed"
    with np.load(path, allow_pickle=False) as data:
        keys = list(data.files)
    assert "__header__" in keys and len(keys) > 5
    for key in keys:
        payload = np.array([_Payload(marker)], dtype=object)
        bad = _rewrite(path, tmp_path / f"evil-{key}.npz", replace={key: payload})
        expected = (f"{str(bad)!r} is not a valid nimf model file: the array {key!r} holds "
                    "Python objects (a pickle); nimf model files hold plain arrays only and "
                    "are never unpickled")
        with pytest.raises(ValueError) as info:
            nimf.load_model(bad)
        assert str(info.value) == expected
        assert not marker.exists()
    # the payload does run when unpickled: the test would see it
    with np.load(tmp_path / "evil-__header__.npz", allow_pickle=True) as data:
        data["__header__"]
    assert marker.exists()


def test_damaged_and_foreign_files_are_named_with_the_problem(tmp_path, rng):
    path = _model_file(tmp_path, rng)
    raw = open(path, "rb").read()
    cases = {
        "empty.npz": (b"", "the file is empty"),
        "truncated.npz": (raw[: len(raw) // 2], "not a complete .npz archive"),
        "text.npz": (b"user,item,rating\n1,2,3\n", "not a complete .npz archive"),
        "corrupted.npz": (raw[:200] + bytes(200) + raw[400:], "the array .* is damaged"),
    }
    for name, (content, match) in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(ValueError, match=f"{name}.*is not a valid nimf model file: "
                                             f"(it is )?({match})"):
            nimf.load_model(bad)
    np.save(tmp_path / "array.npy", np.ones(3))
    with pytest.raises(ValueError, match="array.npy.*not a complete .npz archive"):
        nimf.load_model(tmp_path / "array.npy")
    with pytest.raises(ValueError, match="is a directory"):
        nimf.load_model(tmp_path)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        nimf.load_model(3)


def _with_header(path, out, **changes):
    import json

    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    header = json.loads(str(arrays.pop("__header__")))
    header.update(changes)
    np.savez(out, __header__=np.array(json.dumps(header)), **arrays)
    return out


def test_headers_that_do_not_describe_the_arrays_are_refused(tmp_path, rng):
    path = _model_file(tmp_path, rng)
    with pytest.raises(ValueError, match=r"the header names the class NMF, but the file holds "
                                         r"the array 'state__D'"):
        nimf.load_model(_with_header(path, tmp_path / "cls.npz", cls="NMF"))
    with pytest.raises(ValueError, match="unknown estimator class 'os.system'"):
        nimf.load_model(_with_header(path, tmp_path / "os.npz", cls="os.system"))
    with pytest.raises(ValueError, match="unsupported nimf model format 99"):
        nimf.load_model(_with_header(path, tmp_path / "v.npz", format=99))
    with pytest.raises(ValueError, match="the header's 'params' must be a JSON object"):
        nimf.load_model(_with_header(path, tmp_path / "p.npz", params=[1]))
    with pytest.raises(ValueError, match="invalid parameters of OnlineDictionaryLearning: "
                                         "n_components must be a positive int, got -1"):
        import json
        with np.load(path) as data:
            params = json.loads(str(data["__header__"]))["params"]
        nimf.load_model(_with_header(path, tmp_path / "k.npz",
                                     params=dict(params, n_components=-1)))


@pytest.mark.parametrize("key,value,match", [
    ("attr__components_", None, "the array 'attr__components_' of a "
                                "OnlineDictionaryLearning is missing"),
    ("attr__components_", np.ones((2, 5)), r"has shape \(2, 8\), which does not match the "
                                           r"other arrays \(p = 5\)"),
    ("attr__components_", np.full((2, 8), np.nan), "holds 16 NaN or infinite values"),
    ("attr__components_", np.ones((2, 8), dtype=np.int64), "must hold floats, got dtype int64"),
    ("attr__components_", np.ones(16), r"must have 2 dimension\(s\), got shape \(16,\)"),
    ("state__feature_counts", np.ones(8), "must hold integers, got dtype float64"),
    ("attr__evil_", np.ones(3), "holds the array 'attr__evil_', which a "
                                "OnlineDictionaryLearning does not have"),
    ("state__D", None, "the saved state of the OnlineDictionaryLearning is incomplete"),
])
def test_every_array_is_checked_before_a_model_is_returned(tmp_path, rng, key, value, match):
    path = _model_file(tmp_path, rng)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match=match):
        nimf.load_model(bad)


def test_ratings_model_arrays_are_checked(tmp_path):
    from nimf.ratings import MatrixCompletion

    model = MatrixCompletion(2, n_epochs=1, random_state=0).fit(
        ([0, 0, 1, 2], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0]))
    path = nimf.save_model(model, tmp_path / "mc.npz")
    assert nimf.load_model(path).predict(0, 1) == pytest.approx(model.predict(0, 1))
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["state__seen_indices"] = np.array([0, 1, 0, 7], dtype=np.int32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"refers to items outside \[0, 2\)"):
        nimf.load_model(tmp_path / "bad.npz")
