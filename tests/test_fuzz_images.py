"""Property-based fuzz of the image estimators' inputs: bad input only ever gives a clear error.

Whatever the bad input (not an image, an image of the wrong dimension, a
truncated or garbled file, an empty or out-of-view mask, images without
signal, confounds of the wrong shape or with NaN, loadings with NaN), ``fit``,
``transform`` and ``inverse_transform`` raise a ``ValueError`` or ``TypeError``
whose message names the input: never another exception, never a result.
"""
import gzip
import io

import nibabel
import numpy as np
import pytest
from scipy import sparse

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nimf.neuro import NMF, DictLearning, SparsePCA  # noqa: E402

SHAPE = (6, 7, 6)
N_SCANS = 8
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
ESTIMATORS = {
    "DictLearning": lambda **kw: DictLearning(n_components=1, n_epochs=1, random_state=0, **kw),
    "NMF": lambda **kw: NMF(n_components=1, max_iter=5, random_state=0, **kw),
    "SparsePCA": lambda **kw: SparsePCA(n_components=1, n_epochs=1, random_state=0, **kw),
}
# words one of which a clear message about an image input holds
NAMES = ("imgs", "mask", "confounds", "loadings", "Need one or more", "Number of confounds",
         "n_components")


def _good_img(seed=0, n_scans=N_SCANS):
    rng = np.random.RandomState(seed)
    data = 100 + rng.standard_normal(SHAPE + (n_scans,)).astype(np.float32)
    return nibabel.Nifti1Image(data, np.diag([3.0, 3.0, 3.0, 1.0]))


MASK = nibabel.Nifti1Image(np.ones(SHAPE, np.int8), np.diag([3.0, 3.0, 3.0, 1.0]))


def _assert_clear(call):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert any(name in message for name in NAMES), f"unclear message: {message!r}"
    # a clear error, not one raised deep inside a library without context
    assert "contains NaN. FastICA" not in message and "Oh dear" not in message


not_images = st.one_of(
    st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5).map(lambda t: t + "\0"),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.integers(1, 5), st.integers(1, 5)).map(lambda s: np.zeros(s)),
    st.tuples(st.integers(1, 5), st.integers(1, 5)).map(lambda s: sparse.random(*s, format="csr")),
    st.lists(st.one_of(st.integers(), st.none(), st.floats()), min_size=0, max_size=3),
)


@SETTINGS
@given(imgs=not_images, name=st.sampled_from(sorted(ESTIMATORS)))
def test_not_images(imgs, name):
    _assert_clear(lambda: ESTIMATORS[name](mask=MASK).fit(imgs))


@SETTINGS
@given(ndim=st.sampled_from([1, 2, 5]), name=st.sampled_from(sorted(ESTIMATORS)))
def test_wrong_dimensions(ndim, name):
    shape = {1: (5,), 2: (5, 4), 5: SHAPE + (N_SCANS, 2)}[ndim]
    img = nibabel.Nifti1Image(np.ones(shape, np.float32), np.eye(4))
    _assert_clear(lambda: ESTIMATORS[name](mask=MASK).fit([_good_img(), img]))


@SETTINGS
@given(cut=st.floats(0.0, 0.999), compressed=st.booleans(),
       name=st.sampled_from(sorted(ESTIMATORS)))
def test_truncated_files(tmp_path_factory, cut, compressed, name):
    # (garbled bytes inside a complete .nii.gz are found only when the read
    # fails: in an incompressible stretch of data they can decompress to wrong
    # values that only a full CRC pass over the file would catch)
    folder = tmp_path_factory.mktemp("damaged")
    path = folder / ("img.nii.gz" if compressed else "img.nii")
    nibabel.save(_good_img(), path)
    raw = path.read_bytes()
    path.write_bytes(raw[:int(cut * len(raw))])
    _assert_clear(lambda: ESTIMATORS[name](mask=MASK).fit(path))


@SETTINGS
@given(junk=st.binary(max_size=400), compressed=st.booleans())
def test_files_that_are_not_images(tmp_path_factory, junk, compressed):
    path = tmp_path_factory.mktemp("junk") / ("x.nii.gz" if compressed else "x.nii")
    if compressed:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb") as f:
            f.write(junk)
        junk = buffer.getvalue()
    path.write_bytes(junk)
    _assert_clear(lambda: ESTIMATORS["DictLearning"](mask=MASK).fit(path))


@SETTINGS
@given(offset=st.floats(200.0, 1e4), axis=st.integers(0, 2), sign=st.sampled_from([-1, 1]),
       empty=st.booleans())
def test_bad_masks(offset, axis, sign, empty):
    affine = MASK.affine.copy()
    affine[axis, 3] += sign * offset
    data = np.zeros(SHAPE, np.int8) if empty else np.asarray(MASK.dataobj)
    mask = nibabel.Nifti1Image(data, affine)
    _assert_clear(lambda: ESTIMATORS["DictLearning"](mask=mask).fit(_good_img()))


@SETTINGS
@given(value=st.sampled_from([0.0, 1.0, 250.0]), name=st.sampled_from(sorted(ESTIMATORS)))
def test_images_without_signal(value, name):
    flat = nibabel.Nifti1Image(np.full(SHAPE + (N_SCANS,), value, np.float32), MASK.affine)
    _assert_clear(lambda: ESTIMATORS[name](mask=MASK).fit(flat))


bad_confounds = st.one_of(
    # NaN or inf somewhere
    st.tuples(st.integers(0, N_SCANS - 1), st.integers(0, 2),
              st.sampled_from([np.nan, np.inf, -np.inf])).map(
        lambda t: [np.where((np.arange(N_SCANS)[:, None] == t[0]) & (np.arange(3) == t[1]),
                            t[2], np.random.RandomState(0).standard_normal((N_SCANS, 3)))]),
    # wrong number of rows
    st.integers(0, 3 * N_SCANS).filter(lambda n: n != N_SCANS).map(lambda n: [np.ones((n, 2))]),
    # wrong number of entries
    st.integers(2, 4).map(lambda n: [np.ones((N_SCANS, 2))] * n),
    # not numbers, or too many dimensions
    st.just([np.array([["a", "b"]] * N_SCANS)]),
    st.just([np.ones((N_SCANS, 2, 2))]),
    st.just([{"a": 1}]),
)


@SETTINGS
@given(confounds=bad_confounds, name=st.sampled_from(sorted(ESTIMATORS)))
def test_bad_confounds(confounds, name):
    _assert_clear(lambda: ESTIMATORS[name](mask=MASK).fit(_good_img(), confounds=confounds))


@pytest.fixture(scope="module")
def fitted():
    return ESTIMATORS["DictLearning"](mask=MASK).fit(_good_img())


bad_loadings = st.one_of(
    st.tuples(st.integers(1, 4), st.integers(2, 4)).map(lambda s: np.zeros(s)),
    st.integers(1, 4).map(lambda n: np.full((n, 1), np.nan)),
    st.integers(1, 4).map(lambda n: [np.zeros((n, 1)), np.full((n, 1), np.inf)]),
    st.just([np.array([["a"]])]),
    st.just(np.zeros((2, 1, 1))),
)


@SETTINGS
@given(loadings=bad_loadings)
def test_bad_loadings(fitted, loadings):
    _assert_clear(lambda: fitted.inverse_transform(loadings))


@SETTINGS
@given(imgs=not_images)
def test_transform_of_not_images(fitted, imgs):
    _assert_clear(lambda: fitted.transform(imgs))
