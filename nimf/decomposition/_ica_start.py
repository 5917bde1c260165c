"""A start for dictionary learning: spatial ICA in the principal subspace.

Sparse components (brain networks, the planted atoms of
:func:`nimf.datasets.make_sparse_dictionary_data`) are super-Gaussian over the
features, and the samples mix them: an independent component analysis over the
features of the principal subspace unmixes them (CanICA, Varoquaux et al.
2010; the start nilearn's DictLearning also uses).  Started there, the online
learner begins near the answer instead of at mixtures of random samples: on wide
data (few samples, many features) it reaches the quality of a scikit-learn fit
in one epoch.

Every costly step works on a sample: the temporal subspace and the unmixing are
estimated on a random subset of the features (a few thousand, or one in
``reduction``), then the maps of all features come from one matrix product of
the data with a (n_components x n_samples) matrix.  On storage, a random sample
of whole row chunks (``_ICA_SCANS`` samples at most) is used, so that reading
stays a small fraction of a large study.
"""

import warnings

import numpy as np
from sklearn.utils import check_random_state

from .. import _parallel
from ..sources import ArraySource, FeatureBlocks, as_source

__all__ = ["ica_start"]

# the start uses a random sample of whole row chunks, this many samples at most
# (in memory, and on storage where it reads a small part of a large study)
_ICA_SCANS = 2000
_ICA_STORED_SCANS = 1000
# features on which the subspace and the unmixing are estimated (at least)
_ICA_FEATURES = 4000
# FastICA's iterations: the over-complete subspace holds Gaussian (noise)
# directions that never converge; the super-Gaussian ones converge in a few
# tens of iterations.  50 rather than 100: the learners' results were the same
# to 4 decimals (held-out residual, recovery, explained variance) on 4 wide
# array regimes and 4 volume and surface studies, 10-20% faster
_ICA_MAX_ITER = 50
_ICA_FIT = 8000
_ICA_FUN = "logcosh"
_ICA_POWER = 2


def _rows(source, rng):
    """Samples the start uses: all of them, or a random sample of whole row chunks
    (``_ICA_SCANS`` in memory, ``_ICA_STORED_SCANS`` on storage, where each is
    read from disk)."""
    n = source.n_samples
    cap = _ICA_SCANS if isinstance(source, ArraySource) else _ICA_STORED_SCANS
    if n <= cap:
        return np.arange(n, dtype=np.int64)
    chunk = source.row_chunk
    n_chunks = -(-n // chunk)
    take = min(n_chunks, max(1, cap // chunk))
    chunks = np.sort(rng.choice(n_chunks, size=take, replace=False))
    return np.concatenate([np.arange(c * chunk, min(n, (c + 1) * chunk))
                           for c in chunks]).astype(np.int64)


def _features(source, n_sub, rng):
    """Storage positions of a random subset of about ``n_sub`` features."""
    p = source.n_features
    if isinstance(source, ArraySource) or not source.feature_chunk:
        return np.sort(rng.choice(p, size=n_sub, replace=False)).astype(np.int64)
    # whole feature chunks on storage (its order is a random spread of features)
    blocks = FeatureBlocks(p, source.feature_chunk, p / n_sub)
    return blocks.positions(blocks.draw(np.random.default_rng(rng.randint(2 ** 31 - 1))))


def ica_start(data, n_components, reduction=1.0, random_state=None):
    """Initial components from a spatial ICA of the over-complete principal subspace.

    The temporal principal subspace of twice ``n_components`` dimensions is
    estimated on a random subset of the features (one in ``reduction``, at
    least ``_ICA_FEATURES``), FastICA unmixes the spatial components on that
    subset, and the ``n_components`` most kurtotic (sparse, heavy-tailed) are
    kept and computed on every feature.  Taking twice as many dimensions as
    components lets ICA separate the components from the structured noise that
    shares the top of the spectrum with them.

    Parameters
    ----------
    data : array, memory map, zarr or dask array, PermutedFeatures or MaskedStudy
        Samples x features, read by blocks.
    n_components : int
    reduction : float, default=1.0
        Features of the subset: ``n_features / reduction`` (at least a few
        thousand).
    random_state : int, RandomState instance or None

    Returns
    -------
    components : ndarray of shape (n_components, n_features)
        In the data's feature order (not the storage order), mostly positive
        (heavy tail first), with zero mean over the features.
    """
    from sklearn.decomposition import FastICA
    from sklearn.utils.extmath import randomized_svd

    source = as_source(data)
    rng = check_random_state(random_state)
    p = source.n_features
    k = n_components
    rows = _rows(source, rng)
    n_rows = rows.size
    n_sub = min(p, max(4 * k, _ICA_FEATURES))
    n_dims = max(k, min(2 * k, n_rows - 1, n_sub - 1))
    cols = _features(source, n_sub, rng)
    sub = np.asarray(source.read(rows, cols), dtype=np.float32)
    sub -= sub.mean(axis=0)
    # temporal principal subspace (n_rows, n_dims) of the feature subset
    basis, _, _ = randomized_svd(sub, n_dims, n_iter=_ICA_POWER, random_state=rng)
    basis = basis.astype(np.float32)
    # spatial components of the subset, whitened (a small eigenproblem)
    spatial = (basis.T @ sub).astype(np.float64)
    del sub
    spatial -= spatial.mean(axis=1, keepdims=True)
    evals, evecs = np.linalg.eigh(spatial @ spatial.T / spatial.shape[1])
    evals = np.maximum(evals, evals.max() * 1e-12)
    whitening = (evecs / np.sqrt(evals)).T
    white = whitening @ spatial
    ica = FastICA(n_dims, whiten=False, random_state=rng.randint(2 ** 31 - 1),
                  max_iter=_ICA_MAX_ITER, tol=1e-4, fun=_ICA_FUN)
    # the unmixing (n_dims x n_dims) is estimated on a random subset of the
    # features (sparse components keep hundreds of features in it)
    n_fit = min(white.shape[1], _ICA_FIT)
    fit_cols = np.sort(rng.choice(white.shape[1], size=n_fit, replace=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ica.fit(white[:, fit_cols].T)
    maps = ica.components_ @ white
    kurtosis = np.mean(maps ** 4, axis=1) / np.maximum(np.mean(maps ** 2, axis=1), 1e-300) ** 2
    keep = np.argsort(-kurtosis, kind="stable")[:k]
    # heavy positive tail first: networks are positive blobs
    signs = np.where(np.sum(maps[keep] ** 3, axis=1) < 0, -1.0, 1.0)
    # the kept maps on every feature: one product with the sampled rows
    mixing = ((signs[:, None] * (ica.components_[keep] @ whitening)) @ basis.T)
    mixing = np.ascontiguousarray(mixing, dtype=source.dtype)          # (k, n_rows)
    X = getattr(source, "X", None)
    if (isinstance(source, ArraySource) and not isinstance(X, np.memmap)
            and X.dtype == source.dtype and X.flags.c_contiguous and n_rows == X.shape[0]):
        # every row of an array in memory: one product, in place (a GEMM with
        # all the rows inside runs several times faster than a sum of thin ones)
        out = _parallel.matmul(mixing, X, axis=1).astype(np.float64)
    else:
        out = np.zeros((k, p))
        part = np.empty((k, p), dtype=source.dtype)
        # blocks of whole row chunks of about 64 MB: memory stays bounded at any width
        rows_per_block = max(1, 2 ** 26 // max(1, p * source.dtype.itemsize))
        step = max(source.row_chunk, rows_per_block // source.row_chunk * source.row_chunk)
        for start in range(0, n_rows, step):
            block = source.read(rows[start:start + step], None)
            out += _parallel.matmul(mixing[:, start:start + step], block, out=part, axis=1)
    out -= out.mean(axis=1, keepdims=True)
    if source.feature_order is not None:
        ordered = np.empty_like(out)
        ordered[:, source.feature_order] = out
        out = ordered
    return out
