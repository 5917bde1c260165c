"""Saving and loading models: the branches that ``tests/test_persist.py`` leaves open.

Written to kill the mutants of ``nimf/_persist.py`` that the other tests let live
(``python tools/mutation.py nimf/_persist.py``). Each refusal is checked with its
message, so that a check that stops firing, or fires for another reason, fails.
"""

import io
import json
import re
import warnings
import zipfile

import numpy as np
import pytest

import nimf
from nimf.decomposition import OnlineDictionaryLearning


@pytest.fixture
def odl(rng):
    return OnlineDictionaryLearning(2, n_epochs=1, random_state=0).fit(
        rng.standard_normal((30, 8)))


def _arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _header(path):
    return json.loads(str(_arrays(path)["__header__"]))


def _save_with(out, arrays, header):
    arrays = dict(arrays)
    arrays["__header__"] = np.array(json.dumps(header))
    np.savez(out, **arrays)
    return out


def _refused(path, match):
    with pytest.raises(ValueError, match=re.escape(repr(str(path))) + " is not a valid nimf "
                       "model file: " + match):
        nimf.load_model(path)


# ------------------------------------------------------------------- writing
def test_the_suffix_is_added_once(tmp_path, odl):
    assert nimf.save_model(odl, tmp_path / "m") == str(tmp_path / "m.npz")
    assert nimf.save_model(odl, str(tmp_path / "n.npz")) == str(tmp_path / "n.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "n.npz"]  # no temporary


def test_an_interrupted_save_leaves_the_old_model_whole(tmp_path, odl, rng, monkeypatch):
    path = nimf.save_model(odl, tmp_path / "m.npz")
    before = open(path, "rb").read()
    other = OnlineDictionaryLearning(2, n_epochs=1, random_state=1).fit(
        rng.standard_normal((30, 8)))

    def crash(file, **arrays):
        # save_model may hand numpy a path or an open file: half a zip either way
        if hasattr(file, "write"):
            file.write(b"PK\x03\x04 half written")
        else:
            with open(file, "wb") as f:
                f.write(b"PK\x03\x04 half written")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(OSError, match="disk full"):
        nimf.save_model(other, path)
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    np.testing.assert_array_equal(nimf.load_model(path).components_, odl.components_)


def test_parameters_are_saved_as_plain_values(tmp_path, odl):
    odl.set_params(n_components=np.int64(2), alpha=np.float32(0.5),
                   random_state=np.random.RandomState(3), verbose=False)
    with pytest.warns(UserWarning, match="the callback is not saved; the loaded model has "
                                         "callback=None"):
        odl.set_params(callback=lambda *args: None)
        path = nimf.save_model(odl, tmp_path / "m")
    params = _header(path)["params"]
    assert params["n_components"] == 2 and type(params["n_components"]) is int
    assert params["alpha"] == 0.5 and type(params["alpha"]) is float
    assert params["random_state"] is None and params["callback"] is None
    assert params["verbose"] is False
    loaded = nimf.load_model(path)
    assert loaded.callback is None and loaded.random_state is None
    assert loaded.n_components == 2 and loaded.alpha == 0.5


def test_no_warning_without_a_callback(tmp_path, odl, recwarn):
    nimf.save_model(odl, tmp_path / "m")
    assert not [w for w in recwarn if "callback" in str(w.message)]


@pytest.mark.parametrize("value,shown", [(float("nan"), "nan"), (float("inf"), "inf"),
                                         ([1, 2], r"\[1, 2\]"), (object, "<class 'object'>")])
def test_parameters_that_json_cannot_hold_are_refused(tmp_path, odl, value, shown):
    odl.set_params(alpha=value)
    with pytest.raises(ValueError, match=f"parameter alpha={shown} cannot be saved"):
        nimf.save_model(odl, tmp_path / "m")
    assert not list(tmp_path.iterdir())


def test_fitted_values_are_saved_plainly(tmp_path, odl):
    odl.extra_count_ = np.int64(4)
    odl.extra_name_ = "x"
    odl.object_table_ = np.array([{"a": 1}], dtype=object)  # not saved (not plain)
    odl._private_ = 1.5  # private: not saved
    odl.not_fitted = 2.5
    path = nimf.save_model(odl, tmp_path / "m")
    header, arrays = _header(path), _arrays(path)
    assert header["fitted"]["extra_count_"] == 4 and header["fitted"]["extra_name_"] == "x"
    assert "_private_" not in header["fitted"] and "not_fitted" not in header["fitted"]
    assert "attr__object_table_" not in arrays and "attr__components_" in arrays
    assert header["format"] == 1 and header["cls"] == "OnlineDictionaryLearning"
    loaded = nimf.load_model(path)
    assert loaded.extra_count_ == 4 and loaded.n_features_in_ == 8


# ------------------------------------------------------------- the archive
def _rewrite_members(path, out, version=None, extra=None, replace=None):
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for member in src.namelist():
            data = src.read(member)
            if replace and member in replace:
                data = replace[member]
            elif version is not None:
                array = np.load(io.BytesIO(data), allow_pickle=False)
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, version=version)
                data = buffer.getvalue()
            dst.writestr(member, data)
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return out


def test_a_truncated_file_is_named_with_the_whole_message(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    raw = open(path, "rb").read()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(raw[: len(raw) // 3])
    _refused(bad, re.escape("it is not a complete .npz archive (truncated, corrupted or "
                            "another kind of file)") + "$")


def test_npy_format_2_members_are_read(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    v2 = _rewrite_members(path, tmp_path / "v2.npz", version=(2, 0))
    with zipfile.ZipFile(v2) as archive, archive.open("attr__components_.npy") as f:
        assert np.lib.format.read_magic(f) == (2, 0)
    np.testing.assert_array_equal(nimf.load_model(v2).components_, odl.components_)


def test_npy_format_3_members_are_refused(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    v3 = _rewrite_members(path, tmp_path / "v3.npz", version=(3, 0))
    _refused(v3, r"the array '[\w]+' is damaged \(ValueError: unsupported .npy format "
                 r"version \(3, 0\)\)")


def test_a_member_that_is_not_an_array_is_refused(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    bad = _rewrite_members(path, tmp_path / "bad.npz", extra={"readme.txt": b"hello"})
    _refused(bad, "it holds 'readme.txt', which is not an array")


def test_a_header_announcing_more_data_than_stored_is_refused(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (1000,)})
    offset = buffer.tell()
    buffer.write(np.ones(2).tobytes())
    bad = _rewrite_members(path, tmp_path / "bad.npz",
                           replace={"attr__components_.npy": buffer.getvalue()})
    _refused(bad, r"the array 'attr__components_' is damaged \(ValueError: its header "
                  rf"announces {8000 + offset} bytes, the archive holds {16 + offset}\)")


def test_a_header_announcing_exactly_the_stored_data_is_read(tmp_path, odl):
    # the bound is inclusive: an array whose data fill the member is complete
    path = nimf.save_model(odl, tmp_path / "m")
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(odl.components_))
    bad = _rewrite_members(path, tmp_path / "same.npz",
                           replace={"attr__components_.npy": buffer.getvalue()})
    np.testing.assert_array_equal(nimf.load_model(bad).components_, odl.components_)


# -------------------------------------------------------------- the header
@pytest.mark.parametrize("raw,match", [
    (np.array(["{}"]), r"its header must be a JSON text, got an array of shape \(1,\) "
                       r"and dtype <U2"),
    (np.array(3.0), r"its header must be a JSON text, got an array of shape \(\) and "
                    r"dtype float64"),
    (np.array("{not json"), r"its header is not valid JSON \(Expecting property name"),
    (np.array("[1, 2]"), "its header must be a JSON object, got list"),
])
def test_headers_that_are_not_a_json_object_are_refused(tmp_path, odl, raw, match):
    arrays = _arrays(nimf.save_model(odl, tmp_path / "m"))
    arrays["__header__"] = raw
    np.savez(tmp_path / "bad.npz", **arrays)
    _refused(tmp_path / "bad.npz", match)


@pytest.mark.parametrize("change,match", [
    (dict(format=None), "unsupported nimf model format None, expected 1"),
    (dict(cls=3), "unknown estimator class 3; nimf loads"),
    (dict(fitted=[]), "the header's 'fitted' must be a JSON object, got list"),
    (dict(state=None), "the header's 'state' must be a JSON object, got NoneType"),
])
def test_header_fields_are_checked(tmp_path, odl, change, match):
    path = nimf.save_model(odl, tmp_path / "m")
    header = dict(_header(path), **change)
    _refused(_save_with(tmp_path / "bad.npz", _arrays(path), header), match)


@pytest.mark.parametrize("fitted,match", [
    ({"flag": 1}, "the fitted attribute 'flag' must be a number, text or null, got 1"),
    ({"table_": [1, 2]}, r"the fitted attribute 'table_' must be a number, text or null, "
                         r"got \[1, 2\]"),
    ({"n_features_in_": 9}, "n_features_in_ is 9, but the arrays have 8"),
    ({"n_components_": 3}, "n_components_ is 3, but the arrays have 2"),
])
def test_fitted_scalars_are_checked(tmp_path, odl, fitted, match):
    path = nimf.save_model(odl, tmp_path / "m")
    header = _header(path)
    header["fitted"].update(fitted)
    _refused(_save_with(tmp_path / "bad.npz", _arrays(path), header), match)


def test_consistent_fitted_scalars_and_null_are_accepted(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    header = _header(path)
    header["fitted"].update({"n_components_": 2, "n_features_in_": 8, "note_": None,
                             "ok_": True, "name_": "x", "rate_": 0.5})
    loaded = nimf.load_model(_save_with(tmp_path / "ok.npz", _arrays(path), header))
    assert loaded.note_ is None and loaded.ok_ is True and loaded.rate_ == 0.5


@pytest.mark.parametrize("key,value,match", [
    ("n_steps", "3", "the saved state's 'n_steps' must be a int, got '3'"),
    ("n_steps", True, "the saved state's 'n_steps' must be a int, got True"),
    ("n_steps", None, "the saved state's 'n_steps' must be a int, got None"),
    ("reduction", "2", "the saved state's 'reduction' must be a float, got '2'"),
    ("reduction", True, "the saved state's 'reduction' must be a float, got True"),
    ("reduction", float("inf"), "the saved state's 'reduction' must be a float, got inf"),
])
def test_state_scalars_are_checked(tmp_path, odl, key, value, match):
    path = nimf.save_model(odl, tmp_path / "m")
    header = _header(path)
    header["state"][key] = value
    _refused(_save_with(tmp_path / "bad.npz", _arrays(path), header), match)


def test_an_integer_reduction_is_a_float(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    header = _header(path)
    header["state"]["reduction"] = int(header["state"]["reduction"])
    nimf.load_model(_save_with(tmp_path / "ok.npz", _arrays(path), header))


def test_unknown_parameters_are_refused(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    header = _header(path)
    header["params"]["zeta"] = 1
    header["params"]["eta"] = 2
    _refused(_save_with(tmp_path / "bad.npz", _arrays(path), header),
             re.escape("the header names the class OnlineDictionaryLearning, but "
                       "['eta', 'zeta'] are not parameters of OnlineDictionaryLearning"))


def test_an_array_parameter_comes_back(tmp_path, rng):
    D0 = rng.standard_normal((2, 8))
    est = OnlineDictionaryLearning(2, n_epochs=1, dict_init=D0, random_state=0).fit(
        rng.standard_normal((30, 8)))
    loaded = nimf.load_model(nimf.save_model(est, tmp_path / "m"))
    np.testing.assert_array_equal(loaded.dict_init, D0)
    assert "param__dict_init" not in vars(loaded)


# --------------------------------------------------------- other estimators
@pytest.fixture
def ratings_model(tmp_path):
    from nimf.ratings import MatrixCompletion

    model = MatrixCompletion(2, n_epochs=1, random_state=0).fit(
        ([0, 0, 1, 2], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0]))
    return nimf.save_model(model, tmp_path / "mc.npz")


@pytest.mark.parametrize("state,match", [
    ({"rating_scale": [5.0, 1.0]}, r"the rating scale must be \[low, high\], got \[5.0, 1.0\]"),
    ({"rating_scale": [1.0, 3.0, 5.0]}, r"the rating scale must be \[low, high\]"),
    ({"rating_scale": [1.0, "5"]}, r"the rating scale must be \[low, high\]"),
    ({"user_ids_kind": "float"}, "unknown user id kind 'float'"),
    ({"item_ids_kind": "set"}, "unknown item id kind 'set'"),
    ({"selection": [1]}, "the record of the rank and penalty selection must be a mapping "
                         r"or null, got \[1\]"),
    ({"n_items": 3}, "n_items is 3, but the arrays have 2 items"),
])
def test_ratings_state_is_checked(tmp_path, ratings_model, state, match):
    header = _header(ratings_model)
    header["state"].update(state)
    _refused(_save_with(tmp_path / "bad.npz", _arrays(ratings_model), header), match)


def test_ratings_edge_states_are_accepted(tmp_path, ratings_model):
    header = _header(ratings_model)
    header["state"].update({"rating_scale": [3.0, 3.0], "selection": {"rank": 2}})
    nimf.load_model(_save_with(tmp_path / "ok.npz", _arrays(ratings_model), header))


@pytest.mark.parametrize("indptr,indices", [
    ([1, 2, 3, 4], [0, 1, 0, 1]),      # does not start at 0
    ([0, 2, 3, 3], [0, 1, 0, 1]),      # does not end at the number of ratings
    ([0, 3, 2, 4], [0, 1, 0, 1]),      # decreasing
])
def test_ratings_patterns_that_are_not_csr_are_refused(tmp_path, ratings_model, indptr,
                                                       indices):
    arrays = _arrays(ratings_model)
    arrays["state__seen_indptr"] = np.array(indptr, dtype=arrays["state__seen_indptr"].dtype)
    arrays["state__seen_indices"] = np.array(indices,
                                             dtype=arrays["state__seen_indices"].dtype)
    header = json.loads(str(arrays.pop("__header__")))
    _refused(_save_with(tmp_path / "bad.npz", arrays, header),
             r"the training pattern \(seen_indptr\) is not a valid CSR index")


@pytest.mark.parametrize("indices", [[0, 1, -1, 1], [0, 2, 0, 1]])
def test_ratings_patterns_outside_the_items_are_refused(tmp_path, ratings_model, indices):
    arrays = _arrays(ratings_model)
    arrays["state__seen_indices"] = np.array(indices, dtype=np.int64)
    header = json.loads(str(arrays.pop("__header__")))
    _refused(_save_with(tmp_path / "bad.npz", arrays, header),
             r"the training pattern refers to items outside \[0, 2\)")


def test_ratings_rank_must_match_the_factors(tmp_path, ratings_model):
    header = _header(ratings_model)
    header["params"]["n_components"] = 3
    _refused(_save_with(tmp_path / "bad.npz", _arrays(ratings_model), header),
             "n_components is 3, but the factors have 2 columns")
    header["params"]["n_components"] = "auto"
    header["fitted"]["n_components_"] = 2
    loaded = nimf.load_model(_save_with(tmp_path / "auto.npz", _arrays(ratings_model),
                                        header))
    assert loaded.n_components == "auto"


@pytest.fixture
def cp_model(tmp_path, rng):
    from nimf.tensor import CPDecomposition

    with warnings.catch_warnings():  # a few iterations are enough to have factors
        warnings.simplefilter("ignore")
        est = CPDecomposition(2, max_iter=5, random_state=0).fit(rng.standard_normal((4, 5, 6)))
    return nimf.save_model(est, tmp_path / "cp.npz")


def test_cp_models_round_trip(cp_model):
    loaded = nimf.load_model(cp_model)
    assert [f.shape for f in loaded.factors_] == [(4, 2), (5, 2), (6, 2)]


@pytest.mark.parametrize("drop,rename", [("state__factor_2", None),
                                         ("state__factor_1", "state__factor_3")])
def test_cp_factors_must_be_numbered_from_zero(tmp_path, cp_model, drop, rename):
    arrays = _arrays(cp_model)
    value = arrays.pop(drop)
    if rename:
        arrays[rename] = value
    header = json.loads(str(arrays.pop("__header__")))
    _refused(_save_with(tmp_path / "bad.npz", arrays, header),
             r"a CPDecomposition holds one factor per mode \(at least 3")


def test_cp_state_must_match_the_factors(tmp_path, cp_model):
    header = _header(cp_model)
    header["state"]["shape"] = [4, 5, 7]
    _refused(_save_with(tmp_path / "bad.npz", _arrays(cp_model), header),
             r"the saved shape \[4, 5, 7\] and number of modes 3 do not match the factors "
             r"\(shape \[4, 5, 6\]\)")
    header["state"]["shape"] = [4, 5, 6]
    header["state"]["n_modes"] = 4
    _refused(_save_with(tmp_path / "bad.npz", _arrays(cp_model), header),
             r"the saved shape \[4, 5, 6\] and number of modes 4 do not match")


# ------------------------------------------------ every array of every model
# The file format, stated here independently of nimf/_persist.py: for each
# array, the letter of each axis (arrays sharing a letter must agree on that
# size; "-" is free), its kind (f: finite floats, i: integers, v: ids) and
# whether a model file must hold it.
FORMAT = {
    "odl": {
        "attr__components_": ("kp", "f", True), "state__D": ("kp", "f", False),
        "state__S": ("kk", "f", False), "state__B": ("kp", "f", False),
        "state__G": ("kk", "f", False), "state__norms": ("k", "f", False),
        "state__feature_counts": ("p", "i", False), "state__sample_counts": ("-", "i", False),
        "state__beta_avg": ("-k", "f", False), "state__codes": ("-k", "f", False),
    },
    "nmf": {"attr__components_": ("kp", "f", True), "state__stats_A": ("k-", "f", False),
            "state__stats_B": ("kp", "f", False)},
    "spca": {"attr__components_": ("kp", "f", True), "attr__mean_": ("p", "f", True)},
    "mc": {
        "attr__user_factors_": ("uk", "f", True), "attr__item_factors_": ("ik", "f", True),
        "attr__user_bias_": ("u", "f", True), "attr__item_bias_": ("i", "f", True),
        "attr__user_ids_": ("u", "v", False), "attr__item_ids_": ("i", "v", False),
        "state__seen_indptr": ("u", "i", True), "state__seen_indices": ("r", "i", True),
        "state__seen_data": ("r", "f", True), "state__user_ids": ("u", "v", True),
        "state__item_ids": ("i", "v", True),
    },
    "cp": {"attr__weights_": ("k", "f", True), "attr__errors_": ("-", "f", False),
           "state__factor_0": ("-k", "f", True), "state__factor_1": ("-k", "f", True),
           "state__factor_2": ("-k", "f", True)},
}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    from nimf.decomposition import NMF, SparsePCA
    from nimf.ratings import MatrixCompletion
    from nimf.tensor import CPDecomposition

    rng = np.random.RandomState(0)
    folder = tmp_path_factory.mktemp("models")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {
            "odl": OnlineDictionaryLearning(2, n_epochs=1, random_state=0).fit(
                rng.standard_normal((30, 8))),
            "nmf": NMF(2, max_iter=50, random_state=0).partial_fit(
                np.abs(rng.standard_normal((30, 8)))),
            "spca": SparsePCA(2, random_state=0).fit(rng.standard_normal((30, 8))),
            "mc": MatrixCompletion(2, n_epochs=1, random_state=0).fit(
                ([0, 0, 1, 2], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0])),
            "cp": CPDecomposition(2, max_iter=5, random_state=0).fit(
                rng.standard_normal((4, 5, 6))),
        }
    return {name: nimf.save_model(model, folder / name) for name, model in models.items()}


CASES = [(model, key) for model, spec in FORMAT.items() for key in spec]


@pytest.mark.parametrize("model,key", CASES, ids=[f"{m}-{k}" for m, k in CASES])
def test_each_array_is_checked(tmp_path, model_files, model, key):
    path = model_files[model]
    arrays = _arrays(path)
    header = json.loads(str(arrays.pop("__header__")))
    assert sorted(arrays) == sorted(FORMAT[model])  # the format above is the whole file
    nimf.load_model(path)
    axes, kind, required = FORMAT[model][key]
    value = arrays[key]
    letters = "".join(a for spec in FORMAT[model].values() for a in spec[0])

    def refused(replacement, match):
        bad = dict(arrays)
        if replacement is None:
            del bad[key]
        else:
            bad[key] = replacement
        _refused(_save_with(tmp_path / "bad.npz", bad, header), match)

    if not required:
        # a model may lack it: then it loads, or its saved state is found incomplete
        bad = dict(arrays)
        del bad[key]
        try:
            nimf.load_model(_save_with(tmp_path / "without.npz", bad, header))
        except ValueError as exc:
            assert "the saved state of the" in str(exc) and "is incomplete" in str(exc)
    if key.startswith("state__factor_"):
        refused(None, re.escape("a CPDecomposition holds one factor per mode (at least 3"))
    elif required:
        refused(None, re.escape(f"the array {key!r} of a ") + r"\w+ is missing")
    if kind == "f":
        refused(value.astype(np.int64),
                re.escape(f"the array {key!r} must hold floats, got dtype int64"))
        if value.size:
            bad = value.copy()
            bad.flat[-1] = np.inf
            refused(bad, re.escape(f"the array {key!r} holds 1 NaN or infinite values"))
    elif kind == "i":
        refused(value.astype(np.float64),
                re.escape(f"the array {key!r} must hold integers, got dtype float64"))
    else:
        refused(value.astype(bool),
                re.escape(f"the array {key!r} must hold ids (numbers or text), got dtype bool"))
    refused(value[..., None], re.escape(f"the array {key!r} must have {value.ndim} "
                                        f"dimension(s), got shape {value.shape + (1,)}"))
    for axis, letter in enumerate(axes):
        if letter == "-" or letters.count(letter) < 2:
            continue
        pad = [(0, 0)] * value.ndim
        pad[axis] = (0, 1)
        refused(np.pad(value, pad), r"the array '\w+' has shape \([\d, ]+\), which does not "
                                    r"match the other arrays")


def test_a_missing_file_is_named_exactly(tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(ValueError, match="^" + re.escape(f"no model file at {str(missing)!r}")
                       + "$"):
        nimf.load_model(missing)


@pytest.mark.parametrize("users,kind", [
    (np.array(["a", "a", "b", "c"], dtype=object), "str"),
    (np.array([7, 7, 8, 9], dtype=object), "int"),
    (np.array([7, 7, 8, 9]), "array"),
])
def test_ratings_ids_of_every_kind_come_back(tmp_path, users, kind):
    import pandas as pd

    from nimf.ratings import MatrixCompletion

    ratings = pd.DataFrame({"user": pd.Series(users, dtype=users.dtype),
                            "item": [10, 11, 10, 11], "rating": [1.0, 2.0, 3.0, 4.0]})
    model = MatrixCompletion(2, n_epochs=1, random_state=0).fit(ratings)
    path = nimf.save_model(model, tmp_path / "mc")
    assert _header(path)["state"]["user_ids_kind"] == kind
    loaded = nimf.load_model(path)
    assert list(loaded.user_ids_) == list(model.user_ids_)
    if kind != "int":  # integer ids held as objects come back as an int64 array
        assert loaded.user_ids_.dtype == model.user_ids_.dtype
    assert loaded.predict(users[2], 11) == pytest.approx(model.predict(users[2], 11))


def test_invalid_parameters_are_named_exactly(tmp_path, odl):
    path = nimf.save_model(odl, tmp_path / "m")
    header = _header(path)
    header["params"]["n_components"] = -1
    _refused(_save_with(tmp_path / "bad.npz", _arrays(path), header),
             re.escape("invalid parameters of OnlineDictionaryLearning: n_components must be "
                       "a positive int, got -1") + "$")


def test_an_incomplete_state_is_named_exactly(tmp_path, odl):
    arrays = _arrays(nimf.save_model(odl, tmp_path / "m"))
    header = json.loads(str(arrays.pop("__header__")))
    del arrays["state__D"]
    _refused(_save_with(tmp_path / "bad.npz", arrays, header),
             re.escape("the saved state of the OnlineDictionaryLearning is incomplete or "
                       "damaged (KeyError: 'D')") + "$")


def test_an_automatic_rank_without_its_record_is_the_factors_rank(tmp_path, ratings_model):
    header = _header(ratings_model)
    header["params"]["n_components"] = "auto"
    header["fitted"].pop("n_components_", None)
    loaded = nimf.load_model(_save_with(tmp_path / "auto.npz", _arrays(ratings_model), header))
    assert loaded.n_components == "auto" and loaded.user_factors_.shape[1] == 2


def test_an_array_foreign_to_the_class_is_named_with_the_expected_ones(tmp_path, odl):
    arrays = _arrays(nimf.save_model(odl, tmp_path / "m"))
    header = json.loads(str(arrays.pop("__header__")))
    arrays["attr__evil_"] = np.ones(3)
    expected = sorted(["attr__components_", "state__B", "state__D", "state__G", "state__S",
                       "state__beta_avg", "state__codes", "state__feature_counts",
                       "state__feature_map", "state__norms", "state__sample_counts",
                       "state__storage_cols"])
    _refused(_save_with(tmp_path / "bad.npz", arrays, header),
             re.escape("the header names the class OnlineDictionaryLearning, but the file "
                       "holds the array 'attr__evil_', which a OnlineDictionaryLearning does "
                       f"not have (expected {expected})") + "$")


def test_an_unsupported_estimator_is_named_exactly(tmp_path):
    with pytest.raises(ValueError, match="^" + re.escape(
            "save_model supports the nimf estimators ['CPDecomposition', 'MatrixCompletion', "
            "'NMF', 'OnlineDictionaryLearning', 'SparsePCA'], got dict") + "$"):
        nimf.save_model({}, tmp_path / "m")
