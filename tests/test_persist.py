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


def test_model_files_are_loaded_without_pickle(tmp_path, rng):
    est = OnlineDictionaryLearning(2, n_epochs=1, random_state=0).fit(rng.standard_normal((30, 8)))
    path = nimf.save_model(est, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)
    # a file with an object array (a pickle) is refused
    bad = tmp_path / "bad.npz"
    np.savez(bad, __header__=np.array("{}"), evil=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        nimf.load_model(bad)


def test_save_load_errors(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        nimf.save_model(OnlineDictionaryLearning(2), tmp_path / "x")
    with pytest.raises(ValueError, match="supports the nimf estimators"):
        nimf.save_model(object(), tmp_path / "x")
    with pytest.raises(ValueError, match="no model file"):
        nimf.load_model(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not a nimf model file"):
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
