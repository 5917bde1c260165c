"""NMF and SparsePCA behaviours pinned one by one.

Written to kill the mutants of ``nimf/decomposition/nmf.py``,
``nimf/decomposition/sparse_pca.py``, ``nimf/decomposition/_ica_start.py`` and
``nimf/decomposition/_online_state.py`` that the other tests let live
(``python tools/mutation.py MODULE``): each test checks one documented
behaviour against a value computed independently.
"""

import re
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import naive_nmf as naive
from nimf import _validation
from nimf._validation import NonFiniteResultError
from nimf.decomposition import NMF, SparsePCA
from nimf.decomposition import nmf as nmf_module
from nimf.decomposition import sparse_pca as spca_module
from nimf.decomposition.nmf import nndsvd
from nimf.sources import PermutedFeatures


def positive_data(rng, n=40, p=12, rank=3, noise=0.2):
    return rng.rand(n, rank) @ rng.rand(rank, p) + noise * rng.rand(n, p)


# ---------------------------------------------------------------------- NMF
def test_nmf_default_n_components_is_n_features(rng):
    X = positive_data(rng, n=30, p=6)
    model = NMF(init="random", random_state=0, max_iter=20, tol=0).fit(X)
    assert model.n_components_ == 6
    assert model.components_.shape == (6, 6)
    assert NMF(n_components=None, init="random", random_state=0, max_iter=5,
               tol=0).fit(X).components_.shape == (6, 6)


def test_nndsvdar_fills_zeros_with_small_random_values(rng):
    # 'nndsvdar': the zeros of the NNDSVD start hold |avg * z / 100|, z standard normal,
    # avg = sqrt(mean(X) / n_components); the other entries are those of 'nndsvd'
    X = positive_data(rng, n=80, p=60, rank=6, noise=0.5)
    k = 6
    W0, H0 = nndsvd(X, k, variant="nndsvd", random_state=0)
    W, H = nndsvd(X, k, variant="nndsvdar", random_state=0)
    np.testing.assert_array_equal(W[W0 > 0], W0[W0 > 0])
    np.testing.assert_array_equal(H[H0 > 0], H0[H0 > 0])
    fill = np.concatenate([W[W0 == 0], H[H0 == 0]])
    assert fill.size > 200  # enough zeros for the statistics below
    avg = np.sqrt(X.mean() / k)
    assert np.all(fill > 0)
    # |z| / 100 has mean sqrt(2 / pi) / 100 and stays below 0.06 in these draws
    assert fill.max() < 0.06 * avg
    assert fill.mean() / avg == pytest.approx(np.sqrt(2 / np.pi) / 100, rel=0.15)


def test_hals_stops_at_the_first_stall_of_the_objective(rng):
    # with tol=0 only the stall test stops the iterations: the objective has gone
    # down by at most ``stall`` (relative to the last objective) over the last 10
    n, p, k = 60, 40, 5
    X = (rng.rand(n, 3) @ rng.rand(3, p) + 0.3 * rng.rand(n, p)).astype(np.float32)
    W0, H0 = rng.rand(n, k).astype(np.float32), rng.rand(k, p).astype(np.float32)
    window = nmf_module._STALL_WINDOW
    for stall in (1e-3, 1e-4, 1e-5):
        _, _, n_iter, losses, _, _ = nmf_module._hals_columns_loop(
            X, W0.copy(), H0.copy(), 0.0, 2000, 0.0, 0.0, 0.0, 0.0, False, rng, 0, None,
            nmf_module._squared_norm(X), 3, 3, None, 0, stall=stall)
        assert n_iter < 2000 and len(losses) == n_iter
        L = np.asarray(losses)
        stalled = [i for i in range(window + 1, n_iter + 1)
                   if L[i - 1 - window] - L[i - 1] <= stall * abs(L[i - 1])]
        assert stalled == [n_iter], stall


@pytest.mark.parametrize("beta_loss", ["frobenius", "kullback-leibler"])
@pytest.mark.parametrize("tol", [1e-2, 1e-3])
def test_mu_stops_when_the_decrease_over_10_iterations_is_below_tol(rng, beta_loss, tol):
    # 'mu': the objective is measured every 10 iterations; the fit stops at the first
    # decrease smaller than tol times the initial objective (data far from scale 1,
    # so that a test relative to another scale would stop elsewhere)
    X = 100 * positive_data(rng, n=50, p=30)
    model = NMF(4, solver="mu", beta_loss=beta_loss, tol=tol, max_iter=2000, init="random",
                random_state=0).fit(X)
    L = np.asarray(model.loss_curve_)
    small = [j for j in range(1, L.size) if (L[j - 1] - L[j]) / L[0] < tol]
    assert small == [L.size - 1]
    assert model.n_iter_ == 10 * (L.size - 1)


def test_bad_rows_are_listed_five_then_counted(rng):
    X = positive_data(rng, n=20, p=5)
    X[[1, 3, 4, 6, 8, 9, 12, 15], 2] = -1.0
    message = ("Negative values in data passed to NMF: X must be non-negative (or use "
               "semi=True), got 8 negative entries (minimum -1) in rows 1, 3, 4, 6, 8 and 3 "
               "more")
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        NMF(2).fit(X)
    X[[1, 3, 4, 6, 8, 9, 12, 15], 2] = np.nan
    X[[3], 2] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinite.* in rows 1, 3, 4, 6, 8 and 3 more"):
        NMF(2).fit(X)


@pytest.mark.parametrize("name", ["shuffle", "semi"])
def test_boolean_parameters_are_named_when_refused(rng, name):
    X = positive_data(rng)
    with pytest.raises(ValueError, match=f"^{name} must be True or False, got "):
        NMF(2, **{name: "yes"}).fit(X)


def test_fit_reads_an_input_by_blocks_that_takes_exactly_the_memory_share(rng, tmp_path,
                                                                          monkeypatch):
    # fit reads an input given by blocks when it takes at most 25% of the memory
    # available (exactly 25% is allowed), and refuses one byte more
    X = positive_data(rng, n=40, p=10)
    np.save(tmp_path / "X.npy", X)
    data = np.load(tmp_path / "X.npy", mmap_mode="r")
    share = nmf_module._FIT_MEMORY_FRACTION
    monkeypatch.setattr(_validation, "available_memory", lambda: int(X.nbytes / share))
    kw = dict(n_components=3, init="random", random_state=0, max_iter=30, tol=0)
    model = NMF(**kw).fit(data)
    np.testing.assert_allclose(model.components_, NMF(**kw).fit(X).components_, rtol=1e-12)
    monkeypatch.setattr(_validation, "available_memory", lambda: int(X.nbytes / share) - 1)
    with pytest.raises(ValueError, match="too large for NMF.fit"):
        NMF(**kw).fit(data)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_mu_partial_fit_accumulates_the_update_statistics(rng, beta):
    # stochastic multiplicative updates: A <- rho A + (W^T num) * H and
    # B <- rho B + W^T den over the chunks, then H = (A / B) ** gamma; the codes of a
    # chunk come from 50 updates of W from sqrt(mean / k)
    X = positive_data(rng, n=60, p=12) + 0.1
    k, rho = 3, 0.5
    H = rng.rand(k, 12) + 0.1
    model = NMF(k, solver="mu", beta_loss=beta, init="custom", forget_factor=rho)
    A = np.zeros((k, 12))
    B = np.zeros((k, 12))
    gamma = 1.0 / (2.0 - beta) if beta < 1 else 1.0
    for i, chunk in enumerate((X[:30], X[30:])):
        model.partial_fit(chunk, H=H if i == 0 else None)
        W = np.full((30, k), np.sqrt(chunk.mean() / k))
        W = nmf_module._fit_mu(chunk, W, H, beta, 1e-4, 50, 0.0, 0.0, 0.0, 0.0, False, 0,
                               None)[0]
        num, den = naive.mu_ratio(chunk, W @ H, beta)
        A = rho * A + (W.T @ num) * H
        B = rho * B + W.T @ den
        H = (A / np.maximum(B, naive.EPSILON)) ** gamma
        np.testing.assert_allclose(model.components_, H, rtol=1e-9)
    assert model.n_samples_seen_ == pytest.approx(rho * 30 + 30)


def test_partial_fit_on_a_memory_map_equals_partial_fit_on_the_array(rng, tmp_path):
    X = positive_data(rng, n=40, p=10)
    np.save(tmp_path / "X.npy", X)
    data = np.load(tmp_path / "X.npy", mmap_mode="r")
    kw = dict(n_components=3, init="random", random_state=0, batch_size=10)
    ref = NMF(**kw)
    for start in range(0, 40, 10):
        ref.partial_fit(X[start:start + 10])
    model = NMF(**kw).partial_fit(data)
    assert model.n_features_in_ == 10 and model.n_steps_ == 4
    np.testing.assert_allclose(model.components_, ref.components_, rtol=1e-10)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_partial_fit_overflow_names_the_components(rng):
    # codes of about 1e300 are finite, their statistics W^T W are not: the
    # components overflow, and the error says so
    X = positive_data(rng, n=20, p=8)
    X = X / X.max() * 1e150
    model = NMF(2, init="custom")
    with pytest.raises(NonFiniteResultError,
                       match=r"^NMF diverged or overflowed: components_ H holds 16 NaN or "
                             r"infinite values; scale your data"):
        model.partial_fit(X, H=np.full((2, 8), 1e-150))
    # the failed first call leaves the model unfitted, as it was
    assert not [key for key in vars(model) if key.endswith("_")]
    with pytest.raises(NotFittedError):
        model.transform(X)


def test_a_failed_first_partial_fit_leaves_the_model_unfitted(rng):
    X = positive_data(rng)
    X[3, 2] = -1.0
    model = NMF(2)
    before = dict(vars(model))
    with pytest.raises(ValueError, match="Negative values in data passed to NMF"):
        model.partial_fit(X)
    assert vars(model) == before
    with pytest.raises(NotFittedError):
        model.transform(np.abs(X))
    # and a fitted model is left as it was by a chunk with bad values
    model.partial_fit(np.abs(X))
    components = model.components_.copy()
    with pytest.raises(ValueError, match="Negative values in data passed to NMF"):
        model.partial_fit(X)
    np.testing.assert_array_equal(model.components_, components)
    assert model.n_steps_ == 1
    # with its statistics: it goes on as a model that never saw the bad chunk
    ref = NMF(2).partial_fit(np.abs(X))
    model.partial_fit(X[::-1] ** 2)
    ref.partial_fit(X[::-1] ** 2)
    np.testing.assert_allclose(model.components_, ref.components_, rtol=1e-12)


# ----------------------------------------------------------------- SparsePCA
def test_relative_ridge_solve_adds_the_ridge_to_the_diagonal():
    # ``gram z = rhs`` with 1e-8 times the mean diagonal added to the diagonal: on a
    # nearly singular Gram the ridge sets the size of the weak direction
    gram = np.diag([1.0, 1e-9, 2.0, 3.0])
    gram[0, 2] = gram[2, 0] = 0.5
    rhs = np.arange(1.0, 9.0).reshape(4, 2)
    expected = np.linalg.solve(gram + 1e-8 * np.trace(gram) / 4 * np.eye(4), rhs)
    np.testing.assert_allclose(spca_module._relative_ridge_solve(gram, rhs), expected,
                               rtol=1e-10)


def test_claimed_finite_data_with_nan_are_still_refused_by_row(rng):
    # a source that claims its values are checked is not checked again: the
    # streamed mean (fit) and the codes (transform) still catch NaN, naming the rows
    X = rng.randn(30, 8)
    bad = X.copy()
    bad[[1, 2, 4, 7, 9, 11, 20], 3] = np.nan
    message = ("X contains NaN or infinite values (in rows 1, 2, 4, 7, 9 and 2 more); "
               "remove or impute them before fitting")
    order = rng.permutation(8)
    claimed = PermutedFeatures(np.ascontiguousarray(bad[:, order]), order, checked=True)
    with pytest.raises(ValueError, match=re.escape(message)):
        SparsePCA(2, random_state=0).fit(claimed)
    model = SparsePCA(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.transform(claimed)
    one = X.copy()
    one[5, 0] = np.inf
    with pytest.raises(ValueError, match=re.escape("(in rows 5); remove")):
        SparsePCA(2, random_state=0).fit(PermutedFeatures(one, np.arange(8), checked=True))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_values_too_large_to_sum_are_refused_with_their_rows(rng, tmp_path):
    X = rng.randn(30, 8)
    X[[3, 5], 2] = 1e308
    np.save(tmp_path / "X.npy", X)
    data = np.load(tmp_path / "X.npy", mmap_mode="r")
    message = "X has values too large to sum in float64 (in rows 0 to 29); rescale it"
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        SparsePCA(2, random_state=0).fit(data)


def test_code_energy_sums_over_blocks(rng):
    # the energy of each component's ridge codes, summed over the blocks of rows
    components = rng.randn(3, 10)
    X = rng.randn(50, 10)
    codes = np.linalg.solve(components @ components.T + 0.1 * np.eye(3), components @ X.T).T
    expected = np.sum(codes ** 2, axis=0)
    blocks = (X[lo:lo + 15] for lo in range(0, 50, 15))
    np.testing.assert_allclose(spca_module._code_energy(components, blocks, 0.1), expected,
                               rtol=1e-10)


def test_a_zero_component_stays_zero_when_signs_are_fixed(rng):
    # components are "of unit l2 norm (or zero)": the sign of a zero component is +1
    components = rng.randn(3, 6)
    components[1] = 0.0
    model = SparsePCA(3)
    model._store(components.copy(), np.array([3.0, 1.0, 2.0]), 2)
    assert np.all(model.components_[2] == 0)
    for row, source in ((0, 0), (1, 2)):
        largest = np.argmax(np.abs(components[source]))
        sign = np.sign(components[source, largest])
        np.testing.assert_array_equal(model.components_[row], sign * components[source])


def test_default_max_iter_is_three_epochs(rng):
    X = rng.randn(60, 8)
    assert SparsePCA(2, tol=0, random_state=0).fit(X).n_iter_ == 3


# ------------------------------------------------------------ the ICA start
@pytest.fixture(scope="module")
def sparse_wide():
    from nimf.datasets import make_sparse_dictionary_data

    return make_sparse_dictionary_data(n_samples=80, n_features=1500, n_components=4,
                                       density=0.05, snr=2.0, random_state=3)


def test_ica_start_maps_are_centred_with_the_heavy_tail_positive(sparse_wide):
    from nimf.decomposition._ica_start import ica_start

    maps = ica_start(sparse_wide.X, 4, random_state=0)
    assert maps.shape == (4, 1500) and maps.dtype == np.float64
    scale = np.abs(maps).max(axis=1)
    np.testing.assert_allclose(maps.mean(axis=1) / scale, 0.0, atol=1e-12)
    # sparse maps: the heavy tail (third moment) is positive, and each is one
    # planted component, not a mixture
    assert np.all(np.sum(maps ** 3, axis=1) > 0)
    cos = np.abs(maps @ sparse_wide.components.T) / np.outer(
        np.linalg.norm(maps, axis=1), np.linalg.norm(sparse_wide.components, axis=1))
    assert np.all(cos.max(axis=1) > 0.9)
    assert sorted(cos.argmax(axis=1)) == [0, 1, 2, 3]


def test_ica_start_on_blocks_equals_the_array_result(sparse_wide, tmp_path):
    from nimf.decomposition._ica_start import ica_start

    X = sparse_wide.X
    np.save(tmp_path / "X.npy", X)
    data = np.load(tmp_path / "X.npy", mmap_mode="r")
    # the same rows and features are drawn; the maps of all features come from one
    # product (array in memory) or from a sum over blocks of rows (memory map)
    ref = ica_start(X, 4, random_state=0)
    np.testing.assert_allclose(ica_start(data, 4, random_state=0), ref, rtol=1e-6,
                               atol=1e-9 * np.abs(ref).max())
    # in the data's feature order whatever the storage order
    order = np.random.RandomState(1).permutation(X.shape[1])
    permuted = ica_start(PermutedFeatures(np.ascontiguousarray(X[:, order]), order), 4,
                         random_state=0)
    assert permuted.shape == ref.shape
    cos = np.abs(permuted @ sparse_wide.components.T) / np.outer(
        np.linalg.norm(permuted, axis=1), np.linalg.norm(sparse_wide.components, axis=1))
    assert sorted(cos.argmax(axis=1)) == [0, 1, 2, 3]


def test_ica_start_reads_a_sample_of_whole_row_chunks(monkeypatch):
    zarr = pytest.importorskip("zarr")
    from nimf.decomposition import _ica_start
    from nimf.sources import as_source

    z = zarr.create_array(store={}, shape=(95, 6), chunks=(10, 6), dtype=np.float64)
    z[:] = np.arange(95 * 6, dtype=np.float64).reshape(95, 6)
    source = as_source(z)
    monkeypatch.setattr(_ica_start, "_ICA_STORED_SCANS", 40)
    rows = _ica_start._rows(source, np.random.RandomState(0))
    # 4 of the 10 chunks (the last one holds 5 rows), whole and in order
    chunks = np.unique(rows // 10)
    assert chunks.size == 4 and np.all(np.diff(rows) > 0)
    assert rows.size == sum(min(95, 10 * (c + 1)) - 10 * c for c in chunks)
    assert rows.dtype == np.int64
    # chunks larger than the cap: one chunk
    wide_chunks = zarr.create_array(store={}, shape=(95, 6), chunks=(50, 6), dtype=np.float64)
    wide_chunks[:] = z[:]
    rows = _ica_start._rows(as_source(wide_chunks), np.random.RandomState(0))
    assert rows.size in (45, 50) and np.unique(rows // 50).size == 1
    # a short source is read whole
    monkeypatch.setattr(_ica_start, "_ICA_STORED_SCANS", 95)
    np.testing.assert_array_equal(_ica_start._rows(source, np.random.RandomState(0)),
                                  np.arange(95))


def test_ica_start_caps_the_samples_and_features_it_estimates_on(rng, monkeypatch):
    from nimf.decomposition import _ica_start
    from nimf.sources import as_source

    zarr = pytest.importorskip("zarr")
    # at most 2000 samples of an array (in memory or mapped), 1000 of one on storage
    for n, stored, expected in ((2000, False, 2000), (2001, False, 2000),
                                (1000, True, 1000), (1001, True, 1000)):
        X = rng.rand(n, 3)
        if stored:
            z = zarr.create_array(store={}, shape=X.shape, chunks=(1, 3), dtype=X.dtype)
            z[:] = X
            X = z
        rows = _ica_start._rows(as_source(X), np.random.RandomState(0))
        assert rows.size == expected and np.all(np.diff(rows) > 0), (n, stored)
    # the subspace is estimated on max(4 k, 4000) features (all when fewer)
    drawn = []

    def spy(source, n_sub, gen):
        cols = features(source, n_sub, gen)
        drawn.append(cols)
        return cols

    features = _ica_start._features
    monkeypatch.setattr(_ica_start, "_features", spy)
    X = rng.rand(30, 4500)
    _ica_start.ica_start(X, 2, random_state=0)
    _ica_start.ica_start(X[:, :3000], 2, random_state=0)
    assert [c.size for c in drawn] == [4000, 3000]
    assert np.unique(drawn[0]).size == 4000 and np.all(drawn[0] < 4500)


def test_ica_start_draws_whole_feature_chunks_on_storage():
    zarr = pytest.importorskip("zarr")
    from nimf.decomposition import _ica_start
    from nimf.sources import as_source

    z = zarr.create_array(store={}, shape=(4, 6000), chunks=(4, 100), dtype=np.float32)
    source = as_source(z)
    assert source.feature_chunk == 100
    cols = _ica_start._features(source, 4000, np.random.RandomState(0))
    # 40 of the 60 chunks of 100 features, whole and in order
    assert cols.size == 4000 and np.all(np.diff(cols) > 0)
    assert np.unique(cols // 100).size == 40
    # a source on storage without feature chunks (a masked study): any features
    study_like = SimpleNamespace(n_features=500, feature_chunk=None)
    cols = _ica_start._features(study_like, 120, np.random.RandomState(0))
    assert cols.size == 120 and np.all(np.diff(cols) > 0) and cols.max() < 500


class _SpyICA:
    """Records the FastICA the start builds and the data it is fitted on."""

    def __init__(self, monkeypatch):
        import sklearn.decomposition

        self.calls = []
        real = sklearn.decomposition.FastICA
        spy = self

        class Recording(real):
            def fit(self, X, y=None):
                spy.calls.append((self.n_components, np.array(X)))
                return super().fit(X)

        monkeypatch.setattr(sklearn.decomposition, "FastICA", Recording)


@pytest.mark.parametrize("n, k, n_dims", [(80, 3, 6), (6, 3, 5), (4, 3, 3)])
def test_ica_start_unmixes_twice_as_many_dimensions_as_components(rng, monkeypatch, n, k,
                                                                  n_dims):
    # the subspace has 2 k dimensions, at most n_samples - 1 (the data are centred),
    # at least k; ICA is fitted on every feature of the subset, each once
    from nimf.decomposition._ica_start import ica_start

    spy = _SpyICA(monkeypatch)
    X = rng.rand(n, 300) ** 4
    maps = ica_start(X, k, random_state=0)
    assert maps.shape == (k, 300)
    (n_components, fitted), = spy.calls
    assert n_components == n_dims
    assert fitted.shape == (300, n_dims)
    assert np.unique(fitted, axis=0).shape[0] == 300


# ------------------------------------------------- second sample of nmf.py's mutants
def test_semi_nmf_with_an_l1_penalty_on_the_codes_meets_its_optimality_conditions():
    # semi-NMF with l1 on W sweeps W's rows by coordinate descent (no least squares)
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3) @ rng.rand(3, 20) + 0.05 * rng.randn(60, 20)
    model = NMF(3, semi=True, alpha_W=0.01, l1_ratio=1.0, tol=1e-10, max_iter=3000,
                random_state=0)
    W = model.fit_transform(X)
    H = model.components_
    assert (W < 0).any() and H.min() >= 0
    # subgradient conditions of min_w 1/2 |x - w H|^2 + l1 |w|_1 (l1 = alpha_W * n_features)
    l1 = 0.01 * X.shape[1]
    grad = W @ H @ H.T - X @ H.T
    zero = W == 0
    assert zero.any()
    assert np.all(np.abs(grad[zero]) <= l1 * (1 + 1e-6))
    np.testing.assert_allclose(grad[~zero], -l1 * np.sign(W[~zero]), atol=1e-6 * l1)
    # and it stops at its tolerance, before max_iter
    quick = NMF(3, semi=True, alpha_W=0.01, l1_ratio=1.0, random_state=0).fit(X)
    assert quick.n_iter_ < 200


def test_semi_nmf_stops_at_its_tolerance():
    rng = np.random.RandomState(1)
    X = rng.randn(50, 3) @ rng.rand(3, 15)
    model = NMF(3, semi=True, random_state=0, max_iter=500).fit(X)
    assert model.n_iter_ < 500
    longer = NMF(3, semi=True, random_state=0, max_iter=500, tol=1e-8).fit(X)
    assert model.n_iter_ < longer.n_iter_


def test_block_checks_name_the_rows_of_the_whole_data():
    params = {"beta": 0.0, "semi": False}
    block = np.ones((6, 4))
    block[2, 1] = 0.0
    with pytest.raises(ValueError, match=r"1 zero entries and 0 all-zero rows \(in rows 102\)"):
        nmf_module._check_block(block, 100, params)
    block[2, 1] = -1.0
    with pytest.raises(ValueError, match=r"1 negative entries \(minimum -1\) in rows 102$"):
        nmf_module._check_block(block, 100, params)
    block[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in rows 102\)"):
        nmf_module._check_block(block, 100, params)


def test_transform_of_data_read_by_blocks_equals_transform_in_memory_for_mu(tmp_path):
    rng = np.random.RandomState(2)
    X = positive_data(rng, n=50, p=10)
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    # the updates start from the data's mean, computed block by block (the start's
    # scale cancels out of the KL and Frobenius updates, not out of beta = 0.5's)
    for beta in ("kullback-leibler", 0.5):
        model = NMF(3, solver="mu", beta_loss=beta, random_state=0).fit(X)
        np.testing.assert_allclose(model.transform(mapped), model.transform(X), rtol=1e-10)


def test_transform_that_overflows_names_the_codes(monkeypatch):
    # (the checks of X refuse data large enough to overflow the codes: a solver
    # that returns non-finite codes stands in for the overflow)
    rng = np.random.RandomState(3)
    X = positive_data(rng)
    model = NMF(3, random_state=0).fit(X)
    monkeypatch.setattr(NMF, "_codes", lambda self, X, params, mean=None: np.full(
        (X.shape[0], 3), np.inf))
    with pytest.raises(NonFiniteResultError,
                       match=r"^NMF.transform diverged or overflowed: codes W holds 120 NaN"):
        model.transform(X)


def test_callback_stops_semi_nmf():
    rng = np.random.RandomState(4)
    X = rng.randn(30, 2) @ rng.rand(2, 10)
    seen = []
    model = NMF(2, semi=True, tol=0, max_iter=50, random_state=0,
                callback=lambda n, W, H: seen.append(n) or n == 3).fit(X)
    assert seen == [1, 2, 3] and model.n_iter_ == 3 and len(model.loss_curve_) == 3


# ------------------------------------------------- third sample of nmf.py's mutants
def test_iterations_on_the_sketch_stop_when_their_objective_stalls(monkeypatch, capsys):
    # with the violation's test off, only the stall ends the iterations on the sketch
    monkeypatch.setattr(nmf_module, "_SKETCH_TOL", 0.0)
    rng = np.random.RandomState(5)
    X = rng.rand(200, 4) @ rng.rand(4, 150) + 0.05 * rng.rand(200, 150)
    W, H, sketch = nmf_module._initialize(X, 4, "nndsvd", np.random.RandomState(0),
                                          sketch=True)
    nmf_module._fit_on_sketch(sketch, W, H, 3000, 0.0, 0.0, 0.0, 0.0, False, None, True,
                              nmf_module._squared_norm(X))
    done = int(re.search(r"NMF: (\d+) iterations on a rank-14 sketch", capsys.readouterr().out)
               .group(1))
    assert nmf_module._STALL_WINDOW < done < 3000


def test_kl_updates_zero_the_entries_below_machine_precision():
    rng = np.random.RandomState(6)
    W0 = rng.rand(40, 3) * (rng.rand(40, 3) < 0.5)
    H0 = rng.rand(3, 25) * (rng.rand(3, 25) < 0.5)
    X = W0 @ H0 + 1e-3
    eps = np.finfo(np.float64).eps
    for beta in ("kullback-leibler", 0.5):
        model = NMF(3, solver="mu", beta_loss=beta, tol=0, max_iter=3000, init="random",
                    random_state=0)
        W = model.fit_transform(X)
        H = model.components_
        for F in (W, H):
            assert np.all((F == 0) | (F >= eps))
        assert (W == 0).any() and (H == 0).any()


def test_callback_stops_the_multiplicative_updates():
    rng = np.random.RandomState(7)
    X = positive_data(rng)
    seen = []
    model = NMF(3, solver="mu", tol=0, max_iter=50, random_state=0,
                callback=lambda n, W, H: seen.append(n) or n == 4).fit(X)
    assert seen == [1, 2, 3, 4] and model.n_iter_ == 4


def test_messages_of_solver_and_custom_factors():
    X = np.random.RandomState(8).rand(10, 6)
    with pytest.raises(ValueError, match=re.escape(
            "beta_loss='kullback-leibler' needs solver='mu' (solver='cd' only handles the "
            "Frobenius loss), got solver='cd'")):
        NMF(2, beta_loss="kullback-leibler").fit(X)
    for W in (np.zeros((0, 2)), np.zeros((10, 0))):
        with pytest.raises(ValueError, match=re.escape(
                f"W must have shape (10, 2), got an array of shape {W.shape}")):
            NMF(2, init="custom").fit(X, W=W, H=np.ones((2, 6)))


def test_partial_fit_is_quiet_and_starts_from_random_factors_on_a_small_first_chunk(capsys):
    X = positive_data(np.random.RandomState(9), n=30, p=8)
    NMF(3, solver="mu", beta_loss="kullback-leibler", random_state=0).partial_fit(X)
    assert capsys.readouterr().out == ""
    # fewer rows than components: NNDSVD cannot start, random factors do
    model = NMF(5, random_state=0).partial_fit(X[:3])
    assert model.components_.shape == (5, 8) and np.all(np.isfinite(model.components_))
    random = NMF(5, init="random", random_state=0).partial_fit(X[:3])
    np.testing.assert_array_equal(model.components_, random.components_)


def test_partial_fit_after_a_fit_with_another_loss_starts_new_statistics():
    X = positive_data(np.random.RandomState(10), n=30, p=8)
    model = NMF(3, random_state=0).fit(X)
    assert model._stats_A.shape == (3, 3)
    model.set_params(solver="mu", beta_loss="kullback-leibler").partial_fit(X[:10])
    # the Frobenius statistics do not carry over: the KL ones, of this chunk alone
    assert model._stats_A.shape == (3, 8)
    assert model.n_samples_seen_ == 10


# ------------------------------------------------- fourth sample of nmf.py's mutants
def test_nndsvd_refuses_an_unknown_variant():
    X = positive_data(np.random.RandomState(11))
    with pytest.raises(ValueError, match=re.escape(
            "variant must be one of 'nndsvd', 'nndsvda', 'nndsvdar', got 'nndsvdx'")):
        nndsvd(X, 2, variant="nndsvdx")
    W, H = nndsvd(X, 2, random_state=0)
    W0, H0 = nndsvd(X, 2, variant="nndsvd", random_state=0)
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(H, H0)


def test_semi_nmf_codes_solve_the_ridge_problem():
    # semi-NMF with an l2 penalty on W: every W update solves (H H^T + l2 I) w = H x
    rng = np.random.RandomState(12)
    X = rng.randn(40, 3) @ rng.rand(3, 15)
    alpha = 0.05
    model = NMF(3, semi=True, alpha_W=alpha, l1_ratio=0.0, max_iter=5, tol=0,
                random_state=0)
    seen = []
    model.set_params(callback=lambda n, W, H: seen.append((W.copy(), H.copy())) and False)
    model.fit(X)
    # the codes of iteration 2 from the components of iteration 1
    W2, H1 = seen[1][0], seen[0][1]
    l2 = alpha * X.shape[1]
    expected = np.linalg.solve(H1 @ H1.T + l2 * np.eye(3), H1 @ X.T).T
    np.testing.assert_allclose(W2, expected, rtol=1e-8, atol=1e-10)


def test_semi_codes_of_repeated_components_are_least_squares():
    # H H^T singular: the solve falls back to least squares
    rng = np.random.RandomState(13)
    X = rng.randn(20, 2) @ rng.rand(2, 9)
    model = NMF(2, semi=True, random_state=0).fit(X)
    h = model.components_[0]
    model.components_ = np.vstack([h, h])
    W = model.transform(X)
    assert W.shape == (20, 2)
    # the fit of X by multiples of h: the least-squares codes
    best = X @ h / (h @ h)
    np.testing.assert_allclose(W @ model.components_, np.outer(best, h), rtol=1e-8,
                               atol=1e-10)


def test_semi_nmf_with_l1_and_shuffled_coordinates():
    rng = np.random.RandomState(14)
    X = rng.randn(60, 3) @ rng.rand(3, 20) + 0.05 * rng.randn(60, 20)
    kw = dict(semi=True, alpha_W=0.01, l1_ratio=1.0, tol=1e-10, max_iter=3000)
    shuffled = NMF(3, shuffle=True, random_state=0, **kw).fit(X)
    plain = NMF(3, random_state=0, **kw).fit(X)
    assert shuffled.loss_curve_[-1] == pytest.approx(plain.loss_curve_[-1], rel=1e-3)
    again = NMF(3, shuffle=True, random_state=0, **kw).fit(X)
    np.testing.assert_array_equal(again.components_, shuffled.components_)


def test_multiplicative_updates_zero_small_entries_only_for_beta_up_to_one():
    rng = np.random.RandomState(15)
    X = rng.rand(8, 6) + 0.5
    W = rng.rand(8, 2) + 0.5
    H = rng.rand(2, 6) + 0.5
    H[0, 0] = 1e-30
    eps = np.finfo(np.float64).eps
    W[0, 0] = 1e-30
    for beta, zeroed in ((2.0, False), (1.5, False), (1.0, True), (0.5, True)):
        W1, H1, _, _ = nmf_module._fit_mu(X, W, H, beta, 0.0, 1, 0.0, 0.0, 0.0, 0.0, True, 0,
                                          None)
        for F in (W1, H1):
            assert (F[0, 0] == 0) == zeroed, beta
            if not zeroed:
                assert 0 < F[0, 0] < eps


def test_block_checks_of_a_strided_view():
    params = {"beta": 2.0, "semi": False}
    X = np.ones((6, 8))
    X[4, 2] = np.nan
    view = X[:, ::2]
    assert not view.flags.c_contiguous
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in rows 54\)"):
        nmf_module._check_block(view, 50, params)
    nmf_module._check_block(np.ones((6, 8))[:, ::2], 0, params)


def test_n_components_names_that_are_not_auto_are_refused():
    X = positive_data(np.random.RandomState(16))
    with pytest.raises(ValueError, match=re.escape(
            "n_components must be a positive int, 'auto' or None, got 'all'")):
        NMF(n_components="all").fit(X)


# ------------------------------------------------- fifth sample of nmf.py's mutants
def test_semi_nmf_runs_max_iter_iterations_and_prints_its_violations(capsys):
    rng = np.random.RandomState(17)
    X = rng.randn(30, 2) @ rng.rand(2, 10)
    model = NMF(2, semi=True, tol=0, max_iter=5, random_state=0, verbose=1).fit(X)
    assert model.n_iter_ == 5 and len(model.loss_curve_) == 5
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"NMF iteration 1: objective \S+, violation 1", lines[0])
    assert all(re.fullmatch(rf"NMF iteration {i + 1}: objective \S+, violation \S+", line)
               for i, line in enumerate(lines))


def test_float64_data_end_with_two_float64_iterations():
    rng = np.random.RandomState(18)
    X = rng.rand(200, 4) @ rng.rand(4, 150) + 0.05 * rng.rand(200, 150)
    seen = []
    NMF(4, tol=0, max_iter=5, random_state=0,
        callback=lambda n, W, H: seen.append(W.dtype) and False).fit(X)
    assert seen == [np.float32] * 3 + [np.float64] * 2


def test_messages_list_five_rows_whole():
    params = {"beta": 2.0, "semi": False}
    X = np.ones((8, 3))
    X[:5, 0] = np.nan
    with pytest.raises(ValueError, match=r"\(in rows 0, 1, 2, 3, 4\); remove"):
        nmf_module._check_block(X, 0, params)
    X[5, 0] = np.nan
    with pytest.raises(ValueError, match=r"\(in rows 0, 1, 2, 3, 4 and 1 more\); remove"):
        nmf_module._check_block(X, 0, params)


def test_messages_of_alpha_h_max_iter_and_large_inputs(monkeypatch, tmp_path):
    X = positive_data(np.random.RandomState(19))
    with pytest.raises(ValueError, match=r"^alpha_H must be"):
        NMF(2, alpha_H=-1.0).fit(X)
    with pytest.warns(Warning, match=re.escape(
            "Maximum number of iterations 2 reached before convergence. Increase max_iter "
            "to improve convergence.")):
        NMF(2, max_iter=2, random_state=0).fit(X)
    path = tmp_path / "X.npy"
    np.save(path, X)
    monkeypatch.setattr(nmf_module, "_FIT_MEMORY_FRACTION", 1e-12)
    with pytest.raises(ValueError, match=r"which holds the whole data in memory: it may take at "
                                         r"most 0% of the \d+\.\d\d GiB available\. " + re.escape(
            "Use partial_fit, which reads X block by block (one pass per call: "
            "`for epoch in range(n_epochs): model.partial_fit(X)`, chunks of batch_size "
            "rows)")):
        NMF(2).fit(np.load(path, mmap_mode="r"))


def test_semi_transform_codes_solve_the_ridge_problem():
    rng = np.random.RandomState(20)
    X = rng.randn(30, 3) @ rng.rand(3, 12)
    model = NMF(3, semi=True, alpha_W=0.05, random_state=0).fit(X)
    H = model.components_
    l2 = 0.05 * X.shape[1]
    expected = np.linalg.solve(H @ H.T + l2 * np.eye(3), H @ X.T).T
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("scale", [1.0, 1e-6])
def test_first_partial_fit_of_mu_follows_the_stochastic_update(scale):
    # one chunk: codes by the multiplicative updates for the start's components
    # (their stopping test sees the codes' objective only), then
    # H <- (A / (B + l1_H + l2_H H)) ** gamma with the chunk's statistics
    from sklearn.utils import check_random_state

    rng = np.random.RandomState(21)
    X = positive_data(rng, n=30, p=8) * scale
    beta = 1.0
    model = NMF(3, solver="mu", beta_loss="kullback-leibler", alpha_H=0.02, l1_ratio=0.5,
                random_state=0).partial_fit(X)
    _, H0 = nmf_module._initialize(X, 3, "nndsvda", check_random_state(0))
    W0 = np.full((30, 3), np.sqrt(X.mean() / 3))
    W, _, _, _ = nmf_module._fit_mu(X, W0, H0, beta, 1e-4, 50, 0.0, 0.0, 0.0, 0.0, False,
                                    0, None)
    WH = W @ H0
    A = W.T @ (X / WH) * H0
    B = W.T @ np.ones_like(X)
    _, l1_H, _, l2_H = nmf_module._penalties(0.0, 0.02, 0.5, 30, 8)
    assert l1_H > 0 and l2_H > 0
    expected = A / (B + l1_H + l2_H * H0)
    np.testing.assert_allclose(model.components_, expected, rtol=1e-6)


# ------------------------------------------------- sixth sample of nmf.py's mutants
def test_zeros_are_refused_only_for_beta_up_to_zero():
    X = positive_data(np.random.RandomState(22))
    X[3, 2] = 0.0
    NMF(2, solver="mu", beta_loss="kullback-leibler", max_iter=5, random_state=0).fit(X)
    # (also by the detailed checks, which a strided view goes through)
    nmf_module._check_block(X[:, ::2], 0, {"beta": 1.0, "semi": False})
    with pytest.raises(ValueError, match=re.escape(
            "beta_loss=0 (beta <= 0) needs strictly positive X, got 1 zero entries and 0 "
            "all-zero rows (in rows 3); add a small constant to X or use beta_loss > 0")):
        NMF(2, solver="mu", beta_loss="itakura-saito").fit(X)


@pytest.mark.parametrize("n,rows,count", [(64, 8, 8), (30, 15, 2)])
def test_transform_of_data_read_in_several_blocks(monkeypatch, tmp_path, n, rows, count):
    X = positive_data(np.random.RandomState(23), n=n, p=10)
    model = NMF(3, random_state=0).fit(X)
    path = tmp_path / "X.npy"
    np.save(path, X)
    # blocks of `rows` rows (a memory map is one storage chunk: not aligned to it)
    monkeypatch.setattr(nmf_module, "_BLOCK_BYTES", rows * 10 * 8)
    seen = []
    original = nmf_module._read_blocks
    monkeypatch.setattr(nmf_module, "_read_blocks", lambda *a, **k: (
        seen.append(1) or block for block in original(*a, **k)))
    W = model.transform(np.load(path, mmap_mode="r"))
    assert W.shape == (n, 3) and len(seen) == count
    np.testing.assert_allclose(W, model.transform(X), rtol=1e-10, atol=1e-12)


def test_alpha_h_names_and_fit_steps():
    X = positive_data(np.random.RandomState(24))
    with pytest.raises(ValueError, match="^" + re.escape(
            "alpha_H must be a float >= 0 or 'same', got 'other'") + "$"):
        NMF(2, alpha_H="other").fit(X)
    assert NMF(2, random_state=0).fit(X).n_steps_ == 0


def test_partial_fit_starts_from_nndsvda_when_n_components_is_the_smaller_side():
    X = positive_data(np.random.RandomState(25), n=3, p=8)
    default = NMF(3, random_state=0).partial_fit(X)
    nndsvda = NMF(3, init="nndsvda", random_state=0).partial_fit(X)
    np.testing.assert_array_equal(default.components_, nndsvda.components_)
