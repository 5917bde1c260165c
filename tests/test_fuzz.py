"""Property-based fuzz: bad input only ever gives clear errors.

Over the public array estimators, MatrixCompletion and the rating loaders,
``load_model`` and the command line (in process): any input either works, with
finite results, or raises a ValueError or TypeError whose message names the input
(or the parameter) at fault. Never another exception type, NaN results or a hang.
(Image inputs are fuzzed in tests/test_fuzz_images.py.)
"""
import os
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nimf  # noqa: E402
from nimf.decomposition import NMF, OnlineDictionaryLearning, SparsePCA  # noqa: E402
from nimf.ratings import MatrixCompletion, load_movielens_100k, load_ratings_csv  # noqa: E402

FUZZ = settings(max_examples=int(os.environ.get("NIMF_FUZZ_EXAMPLES", 30)), deadline=None,
                derandomize=os.environ.get("NIMF_FUZZ_EXAMPLES") is None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

ESTIMATORS = {
    "OnlineDictionaryLearning": lambda: OnlineDictionaryLearning(2, n_epochs=1, random_state=0),
    "NMF": lambda: NMF(2, max_iter=10, random_state=0),
    "SparsePCA": lambda: SparsePCA(2, max_iter=1, random_state=0),
}


def _expect_clear(call, *names):
    """Run ``call``: it returns, or raises a ValueError/TypeError naming one of ``names``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call(), None
        except (ValueError, TypeError) as exc:
            message = str(exc)
            assert any(name in message for name in names), \
                f"unclear {type(exc).__name__}: {message!r} names none of {names}"
            return None, exc


def _finite(*values):
    for value in values:
        assert np.all(np.isfinite(np.asarray(value, dtype=np.float64))), "non-finite result"


# ------------------------------------------------------------------ arrays
_numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                     st.integers(-10, 10), st.floats(-1e3, 1e3))
_cells = st.one_of(_numbers, st.text(max_size=3), st.none(), st.booleans(),
                   st.complex_numbers(max_magnitude=10), st.just([1, 2]), st.just({"a": 1}))


@st.composite
def bad_arrays(draw):
    kind = draw(st.sampled_from(["grid", "ragged", "ndim", "array", "object", "scale"]))
    if kind == "grid":
        n, p = draw(st.integers(0, 5)), draw(st.integers(0, 4))
        return [[draw(_cells) for _ in range(p)] for _ in range(n)]
    if kind == "ragged":
        return [[draw(_numbers) for _ in range(draw(st.integers(0, 4)))]
                for _ in range(draw(st.integers(2, 4)))]
    if kind == "ndim":
        shape = draw(st.lists(st.integers(0, 3), min_size=0, max_size=4))
        if len(shape) == 2:
            shape.append(2)
        return np.ones(shape)
    if kind == "object":
        return draw(st.sampled_from([None, "X.npy", b"bytes", 3.5, {"X": 1}, {1, 2},
                                     print, object()]))
    if kind == "scale":
        exponent = draw(st.integers(-320, 308))
        return np.abs(np.random.RandomState(0).rand(6, 4)) * 10.0 ** exponent
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.bool_,
                                  np.complex128, "U3", "datetime64[s]"]))
    values = np.array(draw(st.lists(_numbers, min_size=12, max_size=12)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.abs(values.reshape(4, 3)).astype(dtype)
        except (ValueError, TypeError, OverflowError):
            return values.reshape(4, 3)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@FUZZ
@given(X=bad_arrays())
def test_fit_on_any_input_is_clear(name, X):
    model, error = _expect_clear(lambda: ESTIMATORS[name]().fit(X), "X")
    if error is None:
        _finite(model.components_)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@FUZZ
@given(X=bad_arrays())
def test_transform_on_any_input_is_clear(name, X):
    model = ESTIMATORS[name]().fit(np.abs(np.random.RandomState(0).randn(10, 3)))
    codes, error = _expect_clear(lambda: model.transform(X), "X")
    if error is None:
        _finite(codes)
    restored, error = _expect_clear(lambda: model.inverse_transform(X), "codes")
    if error is None:
        _finite(restored)


_BAD_VALUES = [-1, 0, 1, 2, 0.5, -0.5, 1.5, 1e300, float("nan"), float("inf"), "x", "auto",
               None, True, [1], (2, 3), np.int64(2), np.float32(0.3)]
# parameters that write files, print or call back are fuzzed elsewhere
_SKIP = {"checkpoint", "resume", "verbose", "callback", "random_state", "n_jobs",
         "checkpoint_every", "max_time", "history_every"}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@FUZZ
@given(data=st.data())
def test_any_parameter_value_is_clear(name, data):
    model = ESTIMATORS[name]()
    keys = sorted(set(model.get_params()) - _SKIP)
    key = data.draw(st.sampled_from(keys))
    value = data.draw(st.sampled_from(_BAD_VALUES))
    model.set_params(**{key: value})
    X = np.abs(np.random.RandomState(0).randn(8, 3)) + 0.1
    fitted, error = _expect_clear(lambda: model.fit(X), key)
    if error is None:
        _finite(fitted.components_, fitted.transform(X))


# ------------------------------------------------------------------ ratings
@st.composite
def bad_ratings(draw):
    n = draw(st.integers(0, 6))
    ids = st.one_of(st.integers(-3, 5), st.text(max_size=2), st.none(),
                    st.floats(allow_nan=True))
    column = st.lists(ids, min_size=n, max_size=n)
    values = st.lists(st.one_of(_numbers, st.text(max_size=2), st.none()), min_size=n,
                      max_size=n)
    kind = draw(st.sampled_from(["tuple", "array", "frame", "other"]))
    users, items, ratings = draw(column), draw(column), draw(values)
    if kind == "tuple":
        return (users, items, ratings)
    if kind == "array":
        return np.array([users, items, ratings], dtype=object).T
    if kind == "frame":
        import pandas as pd
        return pd.DataFrame({"user": users, "item": items, "rating": ratings})
    return draw(st.sampled_from([None, "u.data", 3, [1, 2, 3], {"user": [1]}, np.ones(3)]))


@FUZZ
@given(ratings=bad_ratings(), solver=st.sampled_from(["somf", "als", "sgd"]))
def test_matrix_completion_on_any_ratings_is_clear(ratings, solver):
    model, error = _expect_clear(
        lambda: MatrixCompletion(2, solver=solver, n_epochs=2, random_state=0).fit(ratings),
        "ratings", "rating", "user", "item")
    if error is None:
        _finite(model.user_factors_, model.item_factors_, model.predict(
            model.user_ids_[:1], model.item_ids_[:1]))


@FUZZ
@given(text=st.text(alphabet="0123456789.,:\t\n-eaNn ", max_size=80))
def test_rating_loaders_on_any_file_are_clear(tmp_path, text):
    path = tmp_path / "ratings.data"
    path.write_text(text)
    for loader in (load_movielens_100k, load_ratings_csv):
        frame, error = _expect_clear(lambda: loader(path), str(path), "ratings")
        if error is None:
            _finite(frame["rating"])


# ------------------------------------------------------------------ model files
@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    X = np.abs(np.random.RandomState(0).randn(20, 5))
    path = nimf.save_model(NMF(2, random_state=0).fit(X), folder / "nmf.npz")
    return open(path, "rb").read()


@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      max_size=6),
       cut=st.floats(0, 1))
def test_load_model_on_any_damaged_file_is_clear(tmp_path, model_bytes, edits, cut):
    content = bytearray(model_bytes)
    for where, byte in edits:
        content[int(where * len(content))] = byte
    content = bytes(content[: max(0, int(cut * len(content) * 1.2))])
    path = tmp_path / "damaged.npz"
    path.write_bytes(content)
    model, error = _expect_clear(lambda: nimf.load_model(path), str(path))
    if error is None:
        _finite(model.components_)


# ------------------------------------------------------------------ command line
_FLAGS = {"--n-components": ["-1", "0", "2", "x", "1e3"], "--n": ["0", "-2", "3", "y"],
          "--test-size": ["0", "0.5", "1", "2", "-1", "nan"], "--n-epochs": ["0", "1", "z"],
          "--solver": ["als", "bad"], "--format": ["csv", "movielens-dat", "nope"],
          "--duplicates": ["mean", "error"], "--sep": [",", "\t", ""],
          "--user-col": ["user", "nope"]}


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="0123456789.,\nuseritmang-", max_size=60),
       flags=st.dictionaries(st.sampled_from(sorted(_FLAGS)), st.integers(0, 5), max_size=3))
def test_recommend_command_on_any_input_is_clear(tmp_path, capsys, text, flags):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user,item,rating\n" + text)
    argv = ["recommend", str(ratings), "--out", str(tmp_path / "out"), "--overwrite"]
    for flag, choice in flags.items():
        argv += [flag, _FLAGS[flag][choice % len(_FLAGS[flag])]]
    try:
        code = nimf.cli.main(argv)
    except SystemExit as exc:  # argparse: a flag value of the wrong type
        assert exc.code == 2
        assert "error: argument" in capsys.readouterr().err
        return
    err = capsys.readouterr().err
    assert code in (0, 2)
    if code == 2:
        assert err.startswith("nimf recommend: error: ")
        assert "got none" not in err or "ratings" in err
    else:
        assert os.path.isfile(tmp_path / "out" / "model.npz")
