"""Sparse principal component analysis on the subsampled online learner.

Sparse PCA (Zou, Hastie and Tibshirani, 2006) looks for a few components that
reconstruct the centred data well and have mostly zero entries::

    min_{U, V}  ||X - U V||_F^2 + (sparsity penalty on V) + (ridge on U)

Following Mairal et al. (JMLR 2010, section 5.4), the sparsity of ``V`` is
imposed as a constraint: every component lies in the l1 ball, and a ridge
penalty on the codes ``U`` pushes the components onto the boundary of that
ball, where its corners make them sparse.  That is exactly the subsampled
online dictionary learner of :mod:`nimf.decomposition.online` with
``dict_l1_ratio=1`` and ridge codes, so :class:`SparsePCA` is a thin layer
over :class:`~nimf.decomposition.online.OnlineDictionaryLearning`: it centres
the data, fits the learner, removes the shrinkage of the l1 constraint from
the non-zero entries (``debias``), normalises the components, orders them by
explained variance and fixes their signs.  See ``ALGORITHMS.md`` sections 1,
3 and 5.

Inputs read by blocks (memory maps, zarr and dask arrays, masked studies on
disk) are never loaded whole nor centred into a copy: the mean is one streamed
pass, the learner reads the data through a :class:`~nimf.sources.CenteredSource`,
and the debiasing and ordering accumulate ``k x k`` and ``k x n_features``
statistics block by block.
"""

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._validation import (check_bool, check_codes, check_finite_result, check_float,
                           check_int, check_source, validate_matrix)
from ..sources import CenteredSource, is_large_input
from .online import OnlineDictionaryLearning

__all__ = ["SparsePCA"]

# ``alpha`` is passed to the learner as its relative code penalty times this
# factor.  On planted sparse components (1000 x 5000, 10 components, SNR 1,
# three data seeds) the learner's recovery peaked at a relative penalty of
# 0.3 (mean best |cosine| 0.996 after debiasing, against 0.993 at 0.4 and 0.990
# at 0.5), so scikit-learn's default ``alpha=1`` lands there.
_ALPHA_SCALE = 0.3


def _ridge_codes(components, X, ridge_alpha):
    """Codes of ``X`` on ``components`` by ridge regression (Cholesky).

    Solves ``(V V^T + ridge_alpha I) u = V x`` for every row ``x`` of ``X``,
    the formula of scikit-learn's ``SparsePCA.transform``.
    """
    k = components.shape[0]
    gram = components @ components.T
    gram.flat[::k + 1] += ridge_alpha
    rhs = components @ X.T
    try:
        factor = linalg.cho_factor(gram, lower=False, check_finite=False)
        codes = linalg.cho_solve(factor, rhs, check_finite=False)
    except linalg.LinAlgError:
        # singular Gram (zero components and ridge_alpha=0): least squares
        codes = linalg.lstsq(gram, rhs, check_finite=False)[0]
    return np.ascontiguousarray(codes.T, dtype=X.dtype)


def _relative_ridge_solve(gram, rhs):
    """Solve ``gram z = rhs`` with a tiny ridge relative to ``gram``'s scale."""
    k = gram.shape[0]
    gram = np.array(gram, dtype=np.float64)
    scale = max(float(np.trace(gram)) / k, np.finfo(np.float64).tiny)
    gram.flat[::k + 1] += 1e-8 * scale
    try:
        factor = linalg.cho_factor(gram, lower=False, check_finite=False)
        return linalg.cho_solve(factor, rhs, check_finite=False)
    except linalg.LinAlgError:
        return linalg.lstsq(gram, rhs, check_finite=False)[0]


def _debias(components, blocks):
    """Refit the non-zero entries of ``components`` by least squares.

    The l1 constraint shrinks every entry towards zero by the same amount,
    which biases the shape of the components.  Keeping the support it selected,
    compute least-squares codes of the data on the components, then the
    least-squares components given those codes, restricted to that support
    (a relaxed lasso).  Costs two O(n_samples n_features n_components) products.

    ``blocks`` iterates over blocks of rows of the (centred) data, in the
    columns' order of ``components``: the codes of a block depend on that block
    only, so ``codes^T codes`` and ``codes^T X`` are sums over blocks (in
    float64) and the data are read once, never whole.
    """
    k, p = components.shape
    gram = components @ components.T
    codes_gram = np.zeros((k, k), dtype=np.float64)
    codes_data = np.zeros((k, p), dtype=np.float64)
    for X in blocks:
        codes = _relative_ridge_solve(gram, components @ X.T).T
        codes = codes.astype(X.dtype, copy=False)
        codes_gram += codes.T @ codes
        codes_data += codes.T @ X
    refit = _relative_ridge_solve(codes_gram, codes_data)
    refit = np.ascontiguousarray(refit, dtype=components.dtype)
    refit[components == 0] = 0
    return refit


def _code_energy(components, blocks, ridge_alpha):
    """Energy (sum of squares over the samples) of each component's ridge codes."""
    energy = np.zeros(components.shape[0], dtype=np.float64)
    for X in blocks:
        codes = _ridge_codes(components, X, ridge_alpha)
        energy += np.einsum("ij,ij->j", codes, codes, dtype=np.float64)
    return energy


def _finish_components(components, blocks, ridge_alpha, debias):
    """Debias and normalise the learned components; their codes' energies.

    ``blocks()`` returns a new iterator over the centred data (in the columns'
    order of ``components``) at each call: two passes with ``debias``, one
    without.
    """
    # products with k rows are too thin for threaded BLAS: on 2 cores
    # threads made the post-processing 2-3x slower (measured)
    with threadpool_limits(limits=1, user_api="blas"):
        if debias:
            components = _debias(components, blocks())
        norms = np.linalg.norm(components, axis=1)
        norms[norms == 0] = 1
        components /= norms[:, None]
        # order by the energy of each component's loadings on the training data
        energy = _code_energy(components, blocks(), ridge_alpha)
    return components, energy


def _to_storage(values, order):
    """Feature-ordered values (last axis) in a source's storage order."""
    return values if order is None else values[..., order]


def _to_features(values, order):
    """Storage-ordered values (last axis) back in the features' order."""
    if order is None:
        return values
    out = np.empty_like(values)
    out[..., order] = values
    return out


def _raise_not_finite(block, start, name):
    bad = np.flatnonzero(~np.all(np.isfinite(block), axis=1)) + start
    if bad.size == 0:
        raise ValueError(f"{name} has values too large to sum in float64 (in rows {start} "
                         f"to {start + block.shape[0] - 1}); rescale it")
    shown = ", ".join(str(r) for r in bad[:5]) + (f" and {bad.size - 5} more"
                                                   if bad.size > 5 else "")
    raise ValueError(f"{name} contains NaN or infinite values (in rows {shown}); "
                     "remove or impute them before fitting")


def _streamed_mean(source):
    """Per-column mean of a source (storage order, its dtype): one pass, float64 sums.

    Checks the values on the way: a block with NaN or inf has non-finite sums.
    """
    total = np.zeros(source.n_features, dtype=np.float64)
    for start, block in source.iter_row_blocks():
        sums = block.sum(axis=0, dtype=np.float64)
        if not np.all(np.isfinite(sums)):
            _raise_not_finite(block, start, source.name)
        total += sums
    return (total / source.n_samples).astype(source.dtype)


class SparsePCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Sparse principal component analysis (SparsePCA) by subsampled online learning.

    Finds sparse components ``V`` (``components_``) and loadings ``U`` of the
    centred data solving::

        min_{U, V}  1/2 ||X - mean_ - U V||_F^2 + l2 / 2 ||U||_F^2
        subject to  ||v_j||_1 <= 1 for every component v_j

    where ``l2`` grows with ``alpha`` (see ``alpha``).  The ridge penalty on
    the loadings drives the components to the boundary of the l1 ball, whose
    corners make them sparse: the larger ``alpha``, the sparser the components.
    The problem is solved by the subsampled online dictionary learner
    :class:`~nimf.decomposition.online.OnlineDictionaryLearning`
    (``dict_l1_ratio=1``), which streams mini-batches of samples and reads only
    ``n_features / reduction`` features of each batch.

    After fitting, the non-zero entries of the components are re-estimated by
    least squares on their support (``debias=True``), the components are
    rescaled to unit l2 norm (as scikit-learn does), ordered by decreasing
    explained variance (the energy of their loadings on the training data) and
    their signs fixed so that the largest entry of each is positive.

    Same parameter names, attributes and return shapes as
    :class:`sklearn.decomposition.SparsePCA` and
    :class:`sklearn.decomposition.MiniBatchSparsePCA` where they make sense;
    ``alpha`` has its own scale (it is relative to the data, see below),
    ``batch_size`` counts samples, and the ``method``, ``n_jobs``,
    ``U_init``/``V_init`` parameters have no counterpart.

    The first call compiles the numba kernels (a few seconds, cached on disk
    afterwards).

    Parameters
    ----------
    n_components : int, default=None
        Number of sparse components to extract.  If None, ``n_features``.

    alpha : float, default=1
        Sparsity controlling parameter: higher values lead to sparser
        components.  It sets the learner's ridge penalty on the loadings to
        ``0.3 * alpha`` times the mean squared norm of the components, so it
        does not depend on the scale of the data or on the number of features.

    ridge_alpha : float, default=0.01
        Amount of ridge shrinkage applied in :meth:`transform` to improve
        conditioning (the components have unit norm).

    max_iter : int, default=3
        Maximum number of passes (epochs) over the samples.  On planted sparse
        components (1000 x 5000, 10 components) three epochs recovered them as
        well as five (mean best absolute cosine 0.995 against 0.996) in 70% of the time.

    tol : float, default=1e-3
        Stop when the relative change of the components over an epoch falls
        below ``tol``.  0 runs ``max_iter`` epochs.

    batch_size : int, default=50
        Number of samples per mini-batch.

    reduction : float, default=2
        Subsampling ratio: each mini-batch step reads
        ``ceil(n_features / reduction)`` randomly drawn features.  1 is the
        plain online algorithm; larger values are faster per epoch on wide
        data but need more epochs (at 3 epochs, reduction 3 lost recovery on
        planted data where 2 did not).  Must be >= 1.

    learning_rate : float, default=0.6
        Exponent in (0.5, 1] of the step sizes of the online learner; smaller
        values forget the first (poor) estimates faster.  0.6 recovered planted
        components more reliably than the learner's 0.75 at reduction 2.

    debias : bool, default=True
        Re-estimate the non-zero entries of the components by least squares
        on their support after fitting, removing the shrinkage of the l1
        constraint (a relaxed lasso).  The zero pattern is unchanged.

    dict_init : {'data', 'random'} or ndarray of shape (n_components, n_features), \
            default='data'
        Initial components: randomly drawn centred samples, Gaussian noise, or
        an array (for instance principal axes).  Measured on planted sparse
        components, 'data' was as good as starting from the top principal
        axes (randomized SVD) and cheaper, and more reliable than 'random'
        when there are 10 components.

    shuffle : bool, default=True
        Visit the samples in a new random order at each epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the sample order and the feature subsets.
        Pass an int for reproducible results.

    verbose : int or bool, default=False
        Show a progress bar over mini-batches when > 0.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Sparse components, of unit l2 norm (or zero), ordered by decreasing
        explained variance.

    n_components_ : int
        Number of components.

    n_iter_ : int
        Number of epochs run.

    mean_ : ndarray of shape (n_features,)
        Per-feature empirical mean, estimated from the training set.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string
        feature names.

    See Also
    --------
    nimf.decomposition.online.OnlineDictionaryLearning : The learner used.
    sklearn.decomposition.MiniBatchSparsePCA : The scikit-learn counterpart.

    References
    ----------
    .. [1] H. Zou, T. Hastie, R. Tibshirani. "Sparse Principal Component
       Analysis", Journal of Computational and Graphical Statistics 15(2), 2006.
    .. [2] J. Mairal, F. Bach, J. Ponce, G. Sapiro. "Online Learning for Matrix
       Factorization and Sparse Coding", JMLR 11, 2010.
    .. [3] A. Mensch, J. Mairal, B. Thirion, G. Varoquaux. "Stochastic
       Subsampling for Factorizing Huge Matrices", IEEE TSP 66(1), 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from nimf.datasets import make_sparse_dictionary_data
    >>> from nimf.decomposition.sparse_pca import SparsePCA
    >>> data = make_sparse_dictionary_data(500, 2000, 5, positive=False,
    ...                                    random_state=0)
    >>> spca = SparsePCA(n_components=5, random_state=0)
    >>> codes = spca.fit_transform(data.X)
    >>> codes.shape
    (500, 5)
    >>> bool(np.mean(spca.components_ == 0) > 0.5)
    True
    """

    def __init__(self, n_components=None, *, alpha=1.0, ridge_alpha=0.01, max_iter=3,
                 tol=1e-3, batch_size=50, reduction=2.0, learning_rate=0.6,
                 debias=True, dict_init="data", shuffle=True, random_state=None,
                 verbose=False):
        self.n_components = n_components
        self.alpha = alpha
        self.ridge_alpha = ridge_alpha
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.reduction = reduction
        self.learning_rate = learning_rate
        self.debias = debias
        self.dict_init = dict_init
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, n_features):
        p = {}
        k = check_int(self.n_components, "n_components", min_val=1, allow_none=True)
        if k is None:
            k = n_features
        if k > n_features:
            raise ValueError(
                f"n_components must be <= n_features ({n_features}, the columns of X), got "
                f"n_components={k}")
        p["n_components"] = k
        p["alpha"] = check_float(self.alpha, "alpha", low=0.0)
        p["ridge_alpha"] = check_float(self.ridge_alpha, "ridge_alpha", low=0.0)
        p["debias"] = check_bool(self.debias, "debias")
        # the learner validates the rest (max_iter as n_epochs, reduction...)
        check_int(self.max_iter, "max_iter", min_val=1)
        return p

    def _validate_X(self, X, reset):
        return validate_matrix(self, X, reset)

    def _as_source(self, X, reset):
        """The source of an input read by blocks, with its shape checked.

        ``n_features_in_`` is set by ``fit`` once the data have been read.
        """
        return check_source(self, X, reset)

    def _learner(self, params, rng):
        return OnlineDictionaryLearning(
            n_components=params["n_components"], alpha=_ALPHA_SCALE * params["alpha"],
            code_l1_ratio=0.0, dict_l1_ratio=1.0, reduction=self.reduction,
            batch_size=self.batch_size, n_epochs=self.max_iter,
            learning_rate=self.learning_rate, dict_init=self.dict_init, shuffle=self.shuffle,
            tol=self.tol, random_state=rng, verbose=self.verbose)

    def fit(self, X, y=None):
        """Fit the model from data in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), memory map, zarr or dask \
                array, :class:`nimf.sources.PermutedFeatures` or \
                :class:`nimf.neuro.MaskedStudy`
            Training data.  float32 data are processed in float32.  Inputs other
            than arrays in memory are read block by block and never loaded
            whole: the mean is computed in one pass (float64 sums), the learner
            reads the centred data through a
            :class:`~nimf.sources.CenteredSource`, and the debiasing and ordering
            take two more passes.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        if is_large_input(X):
            return self._fit_blocks(X)
        X = self._validate_X(X, reset=True)
        params = self._check_params(X.shape[1])
        rng = check_random_state(self.random_state)
        self.mean_ = X.mean(axis=0)
        Xc = np.ascontiguousarray(X - self.mean_)

        learner = self._learner(params, rng)
        learner.fit(Xc)
        components = np.array(learner.components_, dtype=X.dtype)
        components, energy = _finish_components(components, lambda: iter([Xc]),
                                                params["ridge_alpha"], params["debias"])
        self._store(components, energy, learner.n_iter_)
        return self

    def _fit_blocks(self, X):
        source = self._as_source(X, reset=True)
        params = self._check_params(source.n_features)
        rng = check_random_state(self.random_state)
        order = source.feature_order
        # in storage order: column j of the source is feature order[j]
        mean = _streamed_mean(source)
        data = CenteredSource(source, mean)
        self.n_features_in_ = source.n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

        learner = self._learner(params, rng)
        learner.fit(data)
        # the learner returns the features in their own order; the passes below
        # read storage order, so the components follow it until they are stored
        components = np.array(_to_storage(learner.components_, order), dtype=source.dtype)
        components, energy = _finish_components(
            components, lambda: (block for _, block in data.iter_row_blocks()),
            params["ridge_alpha"], params["debias"])
        self.mean_ = _to_features(mean, order)
        self._store(_to_features(components, order), energy, learner.n_iter_)
        return self

    def _store(self, components, energy, n_iter):
        """Order the components by energy, fix their signs and store them."""
        check_finite_result("SparsePCA", {"components_": components},
                            "scale your data (e.g. divide X by its largest absolute value)")
        k = components.shape[0]
        components = components[np.argsort(-energy, kind="stable")]

        # deterministic signs: the largest entry of each component is positive
        largest = np.argmax(np.abs(components), axis=1)
        signs = np.sign(components[np.arange(k), largest])
        signs[signs == 0] = 1
        components *= signs[:, None].astype(components.dtype)

        self.components_ = np.ascontiguousarray(components)
        self.n_components_ = k
        self.n_iter_ = n_iter

    def transform(self, X):
        """Least-squares projection of the data onto the sparse components.

        The components are not orthogonal, so codes come from a ridge
        regression of the centred data on them (``ridge_alpha`` improves
        conditioning), as in scikit-learn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input of ``fit``
            Data, with the features seen during :meth:`fit`.  Inputs read by
            blocks are transformed block by block (only the codes are held).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Transformed data.
        """
        check_is_fitted(self, "components_")
        if is_large_input(X):
            return self._transform_blocks(
                X, check_float(self.ridge_alpha, "ridge_alpha", low=0.0))
        X = self._validate_X(X, reset=False)
        ridge_alpha = check_float(self.ridge_alpha, "ridge_alpha", low=0.0)
        X = X.astype(self.components_.dtype, copy=False)
        return _ridge_codes(self.components_, X - self.mean_, ridge_alpha)

    def _transform_blocks(self, X, ridge_alpha):
        source = self._as_source(X, reset=False)
        order = source.feature_order
        dtype = self.components_.dtype
        components = np.ascontiguousarray(_to_storage(self.components_, order))
        mean = np.ascontiguousarray(_to_storage(self.mean_, order))
        parts = []
        for start, block in source.iter_row_blocks():
            codes = _ridge_codes(components, block.astype(dtype, copy=False) - mean,
                                 ridge_alpha)
            # a row with NaN or inf has non-finite codes: checking the codes
            # checks the block at a fraction of the cost
            if not np.all(np.isfinite(codes)):
                _raise_not_finite(block, start, source.name)
            parts.append(codes)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def inverse_transform(self, X):
        """Transform codes back to the data space: ``X @ components_ + mean_``.

        This is an approximation: information is lost by the projection.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "components_")
        codes = check_codes(X, self.components_.shape[0], self.components_.dtype)
        return codes @ self.components_ + self.mean_

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
