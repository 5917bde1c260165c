"""NMF and sparse PCA of images reuse the shared nilearn plumbing."""
import numpy as np
import pytest

from nimf.datasets import make_rest_study
from nimf.neuro import NMF, SparsePCA
from test_neuro_dict_learning import matched_correlation


@pytest.fixture(scope="module")
def study():
    return make_rest_study(n_subjects=3, n_scans=100, n_networks=5, resolution=6,
                           snr=2.0, random_state=0)


# random maps score about 0.15 on this small study
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cls,kw,min_recovery", [(SparsePCA, {}, 0.5),
                                                 (NMF, dict(max_iter=100), 0.75)])
def test_image_estimators(study, cls, kw, min_recovery):
    est = cls(n_components=5, mask=study.mask_img, random_state=0, **kw)
    est.fit(study.func[:2], confounds=study.confounds[:2])
    n_voxels = est.masker_.n_elements_
    assert est.n_elements_ == 5
    assert est.components_.shape == (5, n_voxels)
    assert est.components_img_.shape == study.mask_img.shape + (5,)
    assert np.all(np.diff(est.explained_variance_) <= 1e-12)
    assert np.all(np.abs(est.components_).max(axis=1) > 0)
    assert matched_correlation(est.components_, study.maps) > min_recovery
    loadings = est.transform(study.func[2:], confounds=study.confounds[2:])
    assert loadings[0].shape == (100, 5)
    assert est.inverse_transform(loadings)[0].shape == study.func[2].shape
    assert 0 < est.score(study.func[2:], confounds=study.confounds[2:]) < 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_nmf_maps_are_non_negative(study):
    est = NMF(n_components=4, mask=study.mask_img, max_iter=50, random_state=0)
    est.fit(study.func[:1])
    assert np.all(est.components_ >= 0)


def test_sparse_pca_maps_are_sparse(study):
    est = SparsePCA(n_components=4, mask=study.mask_img, random_state=0).fit(study.func[:2])
    assert np.mean(est.components_ == 0) > 0.3


def test_full_nmf_refuses_signed_data(study):
    with pytest.raises(ValueError, match="negative"):
        NMF(n_components=3, semi=False, mask=study.mask_img, max_iter=5).fit(study.func[:1])


# NMF before the ICA start and the normalised maps (init='nndsvda', alpha_H=0.01,
# tol=1e-4, scale of the maps left free): it scores about 0.35 on this study
_OLD_NMF = dict(init="nndsvda", alpha_H=0.01, tol=1e-4, normalize_maps=False)


@pytest.fixture(scope="module")
def eight_networks():
    return make_rest_study(n_subjects=2, n_scans=100, n_networks=8, resolution=8,
                           random_state=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kw,recovers", [({}, True), (dict(init="nndsvda"), True),
                                         (_OLD_NMF, False)])
def test_nmf_recovers_planted_networks(eight_networks, kw, recovers):
    # the default (ICA start, maps kept at unit scale under the l1 penalty)
    # scores about 0.91; normalised maps from nndsvda as well (0.6 when the
    # nndsvda start filled its zeros with mean(X) instead of sqrt(mean(X) / k))
    study = eight_networks
    est = NMF(n_components=8, mask=study.mask_img, random_state=0, **kw)
    est.fit(study.func, confounds=study.confounds)
    recovery = matched_correlation(est.components_, study.maps)
    assert (recovery > 0.85) == recovers, recovery
    if recovers:
        assert est.n_iter_ < est.max_iter
        assert np.mean(est.components_ == 0) > 0.5


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_nmf_full_and_free_scale_paths(study):
    # semi=False on non-negative data (raw-like signals) and the free-scale
    # solver with the ICA start both give non-negative maps
    est = NMF(n_components=3, semi=False, standardize=False, detrend=False,
              mask=study.mask_img, max_iter=20, random_state=0)
    est.fit(study.func[:1])
    assert np.all(est.components_ >= 0) and np.all(np.abs(est.components_).max(axis=1) > 0)
    est = NMF(n_components=3, normalize_maps=False, mask=study.mask_img, max_iter=20,
              random_state=0).fit(study.func[:1])
    assert np.all(est.components_ >= 0) and est.n_iter_ <= 20


def test_nmf_refuses_bad_normalize_maps(study):
    with pytest.raises(ValueError, match="normalize_maps"):
        NMF(n_components=3, normalize_maps="yes", mask=study.mask_img).fit(study.func[:1])
