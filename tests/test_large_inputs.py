"""SparsePCA and NMF on inputs read by blocks: memory maps, zarr, dask, permuted features.

Such inputs are never loaded whole: the results must be those of the same data
in memory (exactly where the arithmetic is the same, to float32 round-off where
only sums are split over blocks), and the learners must never ask a source for
more than a block of rows.
"""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition import NMF, SparsePCA
from naive import recovery
from nimf.sources import ArraySource, CenteredSource, PermutedFeatures, as_source

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")


class BlockOnly(ArraySource):
    """An array that hands out at most ``limit`` rows per read, in blocks of ``limit``.

    Stands for data too large for memory: asking for more rows at once, or
    converting it to one array, fails the test.
    """

    def __init__(self, X, limit, feature_order=None):
        super().__init__(X, feature_order=feature_order, checked=False)
        self.limit = limit
        self.max_rows = 0
        self.whole_rows_read = 0

    def _note(self, n_rows):
        if n_rows > self.limit:
            raise AssertionError(f"asked for {n_rows} rows at once (blocks of {self.limit})")
        self.max_rows = max(self.max_rows, n_rows)

    def read(self, rows, columns, out=None, parallel=True):
        self._note(len(rows))
        return super().read(rows, columns, out=out, parallel=parallel)

    def read_rows(self, start, stop):
        self._note(stop - start)
        self.whole_rows_read += stop - start
        return super().read_rows(start, stop)

    def iter_row_blocks(self, step=None, start=0, stop=None):
        step = self.limit if step is None else min(step, self.limit)
        return super().iter_row_blocks(step, start, stop)

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole input was converted to an array")


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def block_inputs(X, tmp_path, row_chunk=1):
    """The same data as a memory map, a zarr array and a dask array."""
    path = tmp_path / "x.npy"
    np.save(path, X)
    z = zarr.create_array(store={}, shape=X.shape, chunks=(row_chunk, max(1, X.shape[1] // 3)),
                          dtype=X.dtype)
    z[:] = X
    return {"memmap": np.load(path, mmap_mode="r"), "zarr": z,
            "dask": da.from_array(X, chunks=(row_chunk, X.shape[1]))}


# ------------------------------------------------------------------ sources
def test_centered_source_reads_centred_blocks_and_leaves_the_data(rng):
    X = rng.standard_normal((30, 8)).astype(np.float32)
    order = rng.permutation(8)
    stored = np.ascontiguousarray(X[:, order])
    before = stored.copy()
    mean = X.mean(axis=0)
    src = CenteredSource(as_source(PermutedFeatures(stored, order)), mean[order])
    assert src.shape == (30, 8) and src.dtype == np.float32
    np.testing.assert_array_equal(src.feature_order, order)
    expected = stored - mean[order]
    np.testing.assert_allclose(src.read_rows(3, 9), expected[3:9], rtol=1e-6)
    rows, cols = np.array([1, 4, 20]), np.array([0, 5, 6])
    np.testing.assert_allclose(src.read(rows, cols), expected[np.ix_(rows, cols)], rtol=1e-6)
    buf = np.empty((3, 3), dtype=np.float32)
    assert src.read(rows, cols, out=buf) is buf
    np.testing.assert_allclose(buf, expected[np.ix_(rows, cols)], rtol=1e-6)
    np.testing.assert_allclose(src.take_rows(rows), expected[rows], rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([b for _, b in src.iter_row_blocks(7)]),
                               expected, rtol=1e-6)
    # the stored rows handed out as views are never centred in place
    np.testing.assert_array_equal(stored, before)
    assert src.bytes_read == src.source.bytes_read > 0
    with pytest.raises(ValueError, match=r"mean must have shape \(8,\)"):
        CenteredSource(as_source(X), mean[:5])


# ---------------------------------------------------------------- SparsePCA
@pytest.fixture(scope="module")
def planted():
    return make_sparse_dictionary_data(200, 300, 4, positive=False, random_state=1,
                                       dtype=np.float32)


@pytest.fixture(scope="module")
def spca_data(planted):
    # an offset, so that a wrong or missing centring shows
    return planted.X + np.float32(3.0)


SPCA = dict(n_components=4, random_state=0)


@pytest.mark.parametrize("kind", ["memmap", "zarr", "dask"])
def test_sparse_pca_on_blocks_gives_the_array_result(spca_data, tmp_path, kind):
    X = spca_data
    ref = SparsePCA(**SPCA).fit(X)
    data = block_inputs(X, tmp_path)[kind]
    est = SparsePCA(**SPCA).fit(data)
    assert est.components_.dtype == est.mean_.dtype == np.float32
    assert est.n_features_in_ == X.shape[1]
    # the mean is summed in float64 (X.mean(0) of the array sums in float32):
    # the only difference, which float32 round-off bounds
    assert rel_err(est.mean_, ref.mean_) < 1e-5
    assert rel_err(est.components_, ref.components_) < 1e-5
    assert np.array_equal(est.components_ == 0, ref.components_ == 0)
    assert est.n_iter_ == ref.n_iter_
    assert rel_err(est.transform(data), ref.transform(X)) < 1e-5
    assert rel_err(SparsePCA(**SPCA).fit_transform(data), ref.transform(X)) < 1e-5


def test_sparse_pca_on_float64_blocks_is_the_array_result(spca_data, tmp_path):
    X = spca_data.astype(np.float64)
    ref = SparsePCA(**SPCA).fit(X)
    est = SparsePCA(**SPCA).fit(block_inputs(X, tmp_path)["memmap"])
    assert est.components_.dtype == np.float64
    np.testing.assert_allclose(est.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(est.components_, ref.components_, rtol=1e-9, atol=1e-12)


def test_sparse_pca_never_reads_more_than_a_block(spca_data):
    X = spca_data
    ref = SparsePCA(**SPCA).fit(X)
    source = BlockOnly(X, limit=60)
    est = SparsePCA(**SPCA).fit(source)
    assert 50 <= source.max_rows <= 60  # mini-batches of 50 rows, blocks of 60
    # whole rows: one pass for the mean, one to debias, one to order (the
    # learner reads its feature subsets)
    assert source.whole_rows_read == 3 * X.shape[0]
    # statistics summed over four blocks instead of one product: round-off
    assert rel_err(est.components_, ref.components_) < 1e-5
    assert rel_err(est.transform(BlockOnly(X, limit=60)), ref.transform(X)) < 1e-5
    source = BlockOnly(X, limit=60)
    SparsePCA(**SPCA, debias=False).fit(source)
    assert source.whole_rows_read == 2 * X.shape[0]


@pytest.mark.parametrize("store", ["array", "zarr"])
def test_sparse_pca_on_permuted_features_returns_the_original_order(spca_data, planted, rng,
                                                                     store):
    X = spca_data
    p = X.shape[1]
    order = rng.permutation(p)
    stored = np.ascontiguousarray(X[:, order])
    if store == "zarr":
        z = zarr.create_array(store={}, shape=X.shape, chunks=(1, 50), dtype=X.dtype)
        z[:] = stored
        stored = z
    # without subsampling the learner draws no features: the fits differ only in
    # the order of the sums over features
    kw = dict(SPCA, reduction=1)
    ref = SparsePCA(**kw).fit(X)
    est = SparsePCA(**kw).fit(PermutedFeatures(stored, order))
    assert rel_err(est.mean_, ref.mean_) < 1e-5
    assert rel_err(est.components_, ref.components_) < 1e-5
    assert rel_err(est.transform(PermutedFeatures(stored, order)), ref.transform(X)) < 1e-5
    # with subsampling the learner draws other features (whole chunks of the
    # storage order): other components, as good (0.84 in memory; in storage
    # order they would match the planted ones at about 0.07)
    sub = SparsePCA(**SPCA).fit(PermutedFeatures(stored, order))
    in_memory = SparsePCA(**SPCA).fit(X)
    assert recovery(sub.components_, planted.components) > recovery(
        in_memory.components_, planted.components) - 0.03

def test_sparse_pca_rejects_bad_blocks_before_learning(spca_data, tmp_path):
    X = spca_data.copy()
    X[137, 5] = np.nan
    est = SparsePCA(**SPCA)
    # the memory map's reader checks every block it reads (here one block)
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in rows 0 to 199\)"):
        est.fit(block_inputs(X, tmp_path)["memmap"])
    # an array in memory with declared permuted features is checked too
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in rows 137\)"):
        est.fit(PermutedFeatures(X, np.arange(X.shape[1])))
    assert not hasattr(est, "components_") and not hasattr(est, "n_features_in_")
    fitted = SparsePCA(**SPCA).fit(spca_data)
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in rows 137\)"):
        fitted.transform(PermutedFeatures(X, np.arange(X.shape[1])))
    with pytest.raises(ValueError, match="X has 10 features, but SparsePCA is expecting 300"):
        fitted.transform(BlockOnly(X[:, :10].copy(), 60))


# ---------------------------------------------------------------------- NMF
@pytest.fixture(scope="module")
def nmf_data():
    gen = np.random.RandomState(0)
    W = gen.rand(120, 4)
    H = gen.rand(4, 40)
    return (W @ H + 0.1 * gen.rand(120, 40)).astype(np.float32)


NMF_KW = {"cd": dict(n_components=4, random_state=0),
          "mu": dict(n_components=4, solver="mu", beta_loss="kullback-leibler",
                     random_state=0)}


def nmf_inputs(X, tmp_path, rng):
    inputs = block_inputs(X, tmp_path, row_chunk=7)
    order = rng.permutation(X.shape[1])
    inputs["permuted"] = PermutedFeatures(np.ascontiguousarray(X[:, order]), order)
    inputs["blocks"] = BlockOnly(X, limit=40)
    return inputs


@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_nmf_partial_fit_on_blocks_is_partial_fit_on_its_chunks(nmf_data, tmp_path, rng,
                                                                solver):
    X = nmf_data
    kw = NMF_KW[solver]
    ref = NMF(**kw)
    for start in range(0, X.shape[0], 20):
        ref.partial_fit(X[start:start + 20])
    for name, data in nmf_inputs(X, tmp_path, rng).items():
        est = NMF(batch_size=20, **kw).partial_fit(data)
        assert est.n_steps_ == 6, name
        assert est.n_features_in_ == X.shape[1]
        # the same chunks, features back in their order: the same arithmetic
        np.testing.assert_allclose(est.components_, ref.components_, rtol=1e-6, atol=1e-7,
                                   err_msg=name)
        assert est.reconstruction_err_ == pytest.approx(ref.reconstruction_err_, rel=1e-5)
        # a second pass goes on from the statistics of the first
        est.partial_fit(data)
        assert est.n_steps_ == 12
    # no batch_size: one chunk per block read (the whole of these tiny data)
    whole = NMF(**kw).partial_fit(X)
    est = NMF(**kw).partial_fit(block_inputs(X, tmp_path)["memmap"])
    np.testing.assert_allclose(est.components_, whole.components_, rtol=1e-6, atol=1e-7)


def test_nmf_partial_fit_never_reads_more_than_a_block(nmf_data):
    source = BlockOnly(nmf_data, limit=40)
    est = NMF(n_components=4, random_state=0).partial_fit(source)
    assert source.max_rows == 40 and est.n_steps_ == 3
    assert source.whole_rows_read == nmf_data.shape[0]
    W = est.transform(source)
    assert W.shape == (120, 4) and source.max_rows == 40


@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_nmf_fit_and_transform_on_blocks_give_the_array_result(nmf_data, tmp_path, rng,
                                                               solver):
    X = nmf_data
    kw = NMF_KW[solver]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = NMF(**kw).fit(X)
        for name, data in nmf_inputs(X, tmp_path, rng).items():
            if name == "blocks":
                continue  # fit reads the data into memory: tested below
            est = NMF(**kw).fit(data)
            # read into memory in the features' order, then the same fit
            np.testing.assert_array_equal(est.components_, ref.components_, err_msg=name)
            assert est.n_features_in_ == X.shape[1]
            W = est.transform(data)
            np.testing.assert_allclose(W, ref.transform(X), rtol=1e-5, atol=1e-6,
                                       err_msg=name)
    # transform by blocks of 40 rows: the rows' codes do not depend on the others
    # ('mu' starts from the mean of all blocks; its stopping test is per block,
    # so it runs to a tight tol, where a block's codes no longer depend on where
    # the updates stopped, but for the slow approach of small codes to zero)
    if solver == "mu":
        ref.set_params(tol=1e-7, max_iter=2000)
    W = ref.transform(BlockOnly(X, limit=40))
    np.testing.assert_allclose(W, ref.transform(X), rtol=1e-3 if solver == "mu" else 1e-5,
                               atol=1e-3 if solver == "mu" else 1e-5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_nmf_fit_refuses_inputs_too_large_for_memory(nmf_data, monkeypatch):
    from nimf import _validation

    monkeypatch.setattr(_validation, "available_memory", lambda: nmf_data.nbytes * 2)
    source = BlockOnly(nmf_data, limit=40)
    with pytest.raises(ValueError, match="too large for NMF.fit.*Use partial_fit"):
        NMF(n_components=4).fit(source)
    assert source.whole_rows_read == 0  # refused before reading anything
    monkeypatch.setattr(_validation, "available_memory", lambda: nmf_data.nbytes * 5)
    NMF(n_components=4, max_iter=5).fit(source)
    assert source.whole_rows_read == nmf_data.shape[0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_nmf_bad_blocks_name_their_rows_and_leave_the_model(nmf_data, tmp_path):
    X = nmf_data.copy()
    X[77, 3] = -1.0
    est = NMF(n_components=4, batch_size=20, random_state=0).partial_fit(nmf_data)
    state = {key: np.copy(getattr(est, key)) for key in
             ("components_", "_stats_A", "_stats_B", "n_samples_seen_", "n_steps_")}
    with pytest.raises(ValueError, match=r"Negative values.*1 negative entries.*in rows 77$"):
        est.partial_fit(block_inputs(X, tmp_path)["memmap"])
    # the chunks before the bad one were learnt from, then rolled back
    for key, value in state.items():
        np.testing.assert_array_equal(getattr(est, key), value, err_msg=key)
    fresh = NMF(n_components=4, batch_size=20)
    with pytest.raises(ValueError, match="in rows 77"):
        fresh.partial_fit(BlockOnly(X, limit=40))
    assert not hasattr(fresh, "components_") and not hasattr(fresh, "n_features_in_")
    with pytest.raises(ValueError, match="in rows 77"):
        NMF(n_components=4).fit(BlockOnly(X, limit=40))
    with pytest.raises(ValueError, match="in rows 77"):
        est.transform(BlockOnly(X, limit=40))
    NMF(n_components=4, semi=True, max_iter=5).fit(BlockOnly(X, limit=40))  # allowed
    X = nmf_data.copy()
    X[[5, 90], 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in rows 5, 90\)"):
        NMF(n_components=4).partial_fit(PermutedFeatures(X, np.arange(X.shape[1])))
    X = nmf_data.copy()
    X[12, :] = 0
    with pytest.raises(ValueError, match="strictly positive X.*in rows 12"):
        NMF(n_components=4, solver="mu", beta_loss="itakura-saito").partial_fit(
            BlockOnly(X, limit=40))


def test_nmf_batch_size_is_validated(nmf_data):
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        NMF(n_components=4, batch_size=0).partial_fit(BlockOnly(nmf_data, limit=40))


def test_partial_fit_starts_from_given_components(rng):
    from nimf.decomposition import NMF
    X = np.abs(rng.standard_normal((60, 30)))
    H0 = np.abs(rng.standard_normal((3, 30)))
    est = NMF(n_components=3, init="custom", random_state=0, forget_factor=0.9)
    est.partial_fit(X[:20], H=H0)
    # one update from the given start (not from an initialisation of the data)
    other = NMF(n_components=3, init="custom", random_state=0, forget_factor=0.9)
    other.partial_fit(X[:20], H=H0 * 2)
    assert not np.allclose(est.components_, other.components_)
    est.partial_fit(X[20:])  # later calls go on from the state
    with pytest.raises(ValueError, match="init='custom' needs the starting components"):
        NMF(n_components=3, init="custom").partial_fit(X)
    with pytest.raises(ValueError, match=r"H must have shape \(3, 30\)"):
        NMF(n_components=3, init="custom").partial_fit(X, H=H0[:, :5])
