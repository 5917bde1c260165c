"""Subsampled online dictionary learning (SOMF).

The algorithm of Mensch, Mairal, Thirion and Varoquaux (ICML 2016; IEEE TSP
2017): an online dictionary learner (Mairal et al., JMLR 2010) in which each
step reads a mini-batch of samples but only a random fraction ``1 / reduction``
of their features.  Codes are estimated from that partial information, the
surrogate statistics and the dictionary are updated on the sampled features
only, and every step costs O(features seen).  See ``ALGORITHMS.md`` section 3.

This module holds both forms of the algorithm: the estimator
:class:`OnlineDictionaryLearning` (validation, state, the Python loop) and the
function :func:`online_dict_learning` built on it.  The compiled inner loops
live in :mod:`nimf._kernels.online`, :mod:`nimf._kernels.codes` and
:mod:`nimf._kernels.projections`.
"""

import math

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from .._kernels import codes as _codes
from .._kernels import online as _online
from .._kernels import projections as _proj
from .._validation import check_bool, check_codes, check_float, check_int, check_option

__all__ = ["OnlineDictionaryLearning", "online_dict_learning"]

_CODE_METHODS = ("gram", "average", "masked", "full")
_DICT_INITS = ("data", "random")


def _penalties(alpha, l1_ratio, G):
    """Absolute l1 and l2 code penalties for a relative ``alpha``.

    The penalty is measured against the mean squared norm ``g`` of the
    components (``trace(G) / k``): ``l2 = alpha (1 - l1_ratio) g`` and
    ``l1 = alpha l1_ratio sqrt(g)``.  The code problem is then unchanged when the
    components are rescaled (codes rescale inversely), so one ``alpha`` suits
    any constraint, number of features or sparsity of the components.
    """
    g = float(np.trace(G)) / G.shape[0]
    g = max(g, 0.0)
    return alpha * l1_ratio * math.sqrt(g), alpha * (1.0 - l1_ratio) * g


class _State:
    """Everything the learner carries from one step to the next."""

    def __init__(self, D, dtype):
        k, p = D.shape
        self.D = D
        self.S = np.zeros((k, k), dtype=dtype)
        self.B = np.zeros((k, p), dtype=dtype)
        self.G = D @ D.T
        self.norms = np.empty(k, dtype=np.float64)
        self.perm = np.arange(p, dtype=np.int64)
        self.feature_counts = np.zeros(p, dtype=np.int64)
        self.n_samples_seen = 0
        # per-sample memory (grown on demand): visit counts, averaged D x, codes
        self.sample_counts = np.zeros(0, dtype=np.int64)
        self.beta_avg = np.zeros((0, k), dtype=dtype)
        self.codes = np.zeros((0, k), dtype=dtype)

    def ensure_samples(self, n):
        """Grow the per-sample memory to hold ``n`` samples."""
        old = self.sample_counts.shape[0]
        if n <= old:
            return
        new = max(n, int(1.5 * old))
        k = self.S.shape[0]
        counts = np.zeros(new, dtype=np.int64)
        counts[:old] = self.sample_counts
        beta = np.zeros((new, k), dtype=self.beta_avg.dtype)
        beta[:old] = self.beta_avg
        codes = np.zeros((new, k), dtype=self.codes.dtype)
        codes[:old] = self.codes
        self.sample_counts, self.beta_avg, self.codes = counts, beta, codes


class OnlineDictionaryLearning(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                               BaseEstimator):
    """Subsampled online dictionary learning (SOMF).

    Finds a dictionary ``D`` (``components_``) and codes ``A`` solving::

        min_{D in C, A}  sum_i 1/2 ||x_i - D^T a_i||^2
                         + l2 / 2 ||a_i||^2 + l1 ||a_i||_1

    with ``l2 = alpha (1 - code_l1_ratio) g`` and ``l1 = alpha code_l1_ratio
    sqrt(g)``, ``g`` the mean squared l2 norm of the components (see
    ``alpha``),

    where every component ``d_j`` lies in the elastic-net ball
    ``(1 - dict_l1_ratio) ||d_j||_2^2 + dict_l1_ratio ||d_j||_1 <= 1``
    (optionally ``d_j >= 0``).  ``dict_l1_ratio=1`` gives sparse components
    (l1 ball), ``0`` the l2-normalised atoms of classical dictionary learning.

    The data are streamed in mini-batches; each step reads only
    ``n_features / reduction`` randomly drawn features of the batch, so one
    epoch costs about ``1 / reduction`` of a full pass while the components
    keep improving at almost the same rate per epoch.  With ``reduction=1``
    this is exactly the online dictionary learning of Mairal et al. (2010).

    Read more in ``ALGORITHMS.md`` (section 3).  The first call compiles the
    numba kernels (a few seconds, cached on disk afterwards).

    Parameters
    ----------
    n_components : int, default=10
        Number of components (atoms) to learn.

    alpha : float, default=0.4
        Penalty on the codes, *relative* to the mean squared norm ``g`` of the
        components: the ridge part is ``alpha (1 - code_l1_ratio) g`` and the
        l1 part ``alpha code_l1_ratio sqrt(g)``.  The constraint on the
        components fixes their scale (for sparse components it shrinks with
        the number of features), so a relative penalty keeps one value suited
        to any number of features.  Larger values give sparser, cleaner
        components and more shrunk codes.

    code_l1_ratio : float, default=0.0
        Elastic-net mixing of the code penalty: 0 is ridge (solved in closed
        form), values in (0, 1] add an l1 penalty (coordinate descent).

    positive_code : bool, default=False
        Constrain codes to be non-negative.

    dict_l1_ratio : float, default=0.0
        Elastic-net mixing of the component constraint: 0 is the l2 ball,
        1 the l1 ball (sparse components).

    positive_dict : bool, default=False
        Constrain components to be non-negative.

    reduction : float, default=1.0
        Subsampling ratio: each step sees ``ceil(n_features / reduction)``
        features.  Must be >= 1.

    code_method : {'gram', 'average', 'masked', 'full'}, default='gram'
        How codes are estimated from a partial sample:

        - 'masked': ``D x`` and the Gram ``D D^T`` both estimated on the sampled
          features (rescaled by the reduction);
        - 'gram': the exact Gram (kept up to date incrementally) with the masked
          ``D x``;
        - 'average': the exact Gram with a per-sample running average of the
          masked ``D x`` estimates (variance reduced, TSP 2017); needs
          ``n_samples x n_components`` memory;
        - 'full': exact codes from the whole sample (costs O(n_features) per
          sample; only the dictionary update is subsampled).

        With ``reduction=1`` all methods compute exact codes.

    batch_size : int, default=50
        Number of samples per mini-batch.

    n_epochs : int, default=3
        Number of passes over the samples.

    learning_rate : float, default=0.75
        Exponent ``rho`` in (0.5, 1] of the step sizes ``1 / t^rho`` weighting
        new statistics against old ones.  1 weighs all samples equally; smaller
        values forget the first (poor) estimates faster.

    sample_learning_rate : float, default=0.76
        Exponent of the per-sample averaging weights (``code_method='average'``),
        in (0.5, 1].

    dict_init : {'data', 'random'} or ndarray of shape (n_components, n_features), \
            default='data'
        Initial components: randomly drawn samples ('data'), Gaussian noise
        ('random'), or an array.  Rows are rescaled into the constraint ball.

    shuffle : bool, default=True
        Visit the samples in a new random order at each epoch.

    tol : float, default=1e-4
        Stop when the relative change of the components over an epoch falls
        below ``tol``.  0 disables the test.

    max_code_iter : int, default=100
        Maximum number of coordinate-descent passes per code.

    code_tol : float, default=1e-4
        Relative tolerance of the coordinate descent on codes.

    callback : callable, default=None
        Called as ``callback(estimator)`` after each epoch (and after each call
        to ``partial_fit``).  If it returns ``True``, training stops.

    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the sample order and the feature subsets.

    verbose : int, default=0
        Show a tqdm progress bar over mini-batches when > 0.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The learned components (dictionary atoms).

    n_iter_ : int
        Number of epochs (passes over the data) completed by ``fit``.

    n_steps_ : int
        Number of mini-batches processed.

    n_reinit_ : int
        Number of times a component that no sample used was restarted from a
        random sample (checked after each epoch of ``fit`` but the last).

    n_features_in_ : int
        Number of features seen during ``fit``.

    References
    ----------
    .. [1] A. Mensch, J. Mairal, B. Thirion, G. Varoquaux. "Dictionary Learning
       for Massive Matrix Factorization", ICML 2016.
    .. [2] A. Mensch, J. Mairal, B. Thirion, G. Varoquaux. "Stochastic
       Subsampling for Factorizing Huge Matrices", IEEE TSP 66(1), 2017.
    .. [3] J. Mairal, F. Bach, J. Ponce, G. Sapiro. "Online Learning for Matrix
       Factorization and Sparse Coding", JMLR 11, 2010.

    Examples
    --------
    >>> from nimf.datasets import make_sparse_dictionary_data
    >>> from nimf.decomposition import OnlineDictionaryLearning
    >>> data = make_sparse_dictionary_data(n_samples=500, n_features=2000,
    ...                                    n_components=5, random_state=0)
    >>> odl = OnlineDictionaryLearning(n_components=5, dict_l1_ratio=0.5,
    ...                                reduction=4, random_state=0)
    >>> codes = odl.fit_transform(data.X)
    >>> odl.components_.shape
    (5, 2000)
    """

    def __init__(self, n_components=10, *, alpha=0.4, code_l1_ratio=0.0,
                 positive_code=False, dict_l1_ratio=0.0, positive_dict=False,
                 reduction=1.0, code_method="gram", batch_size=50,
                 n_epochs=3, learning_rate=0.75, sample_learning_rate=0.76,
                 dict_init="data", shuffle=True, tol=1e-4, max_code_iter=100,
                 code_tol=1e-4, callback=None, random_state=None, verbose=0):
        self.n_components = n_components
        self.alpha = alpha
        self.code_l1_ratio = code_l1_ratio
        self.positive_code = positive_code
        self.dict_l1_ratio = dict_l1_ratio
        self.positive_dict = positive_dict
        self.reduction = reduction
        self.code_method = code_method
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.sample_learning_rate = sample_learning_rate
        self.dict_init = dict_init
        self.shuffle = shuffle
        self.tol = tol
        self.max_code_iter = max_code_iter
        self.code_tol = code_tol
        self.callback = callback
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self, n_features=None):
        """Validate the hyper-parameters; return them normalised in a dict."""
        p = {}
        p["n_components"] = check_int(self.n_components, "n_components", min_val=1)
        if n_features is not None and p["n_components"] > n_features:
            raise ValueError(
                f"n_components must be <= n_features ({n_features}), "
                f"got n_components={p['n_components']}")
        p["alpha"] = check_float(self.alpha, "alpha", low=0.0)
        p["code_l1_ratio"] = check_float(self.code_l1_ratio, "code_l1_ratio",
                                         low=0.0, high=1.0)
        p["dict_l1_ratio"] = check_float(self.dict_l1_ratio, "dict_l1_ratio",
                                         low=0.0, high=1.0)
        p["positive_code"] = check_bool(self.positive_code, "positive_code")
        p["positive_dict"] = check_bool(self.positive_dict, "positive_dict")
        p["reduction"] = check_float(self.reduction, "reduction", low=1.0)
        p["code_method"] = check_option(self.code_method, "code_method",
                                        _CODE_METHODS)
        p["batch_size"] = check_int(self.batch_size, "batch_size", min_val=1)
        p["n_epochs"] = check_int(self.n_epochs, "n_epochs", min_val=1)
        p["learning_rate"] = check_float(self.learning_rate, "learning_rate",
                                         low=0.5, high=1.0, low_open=True)
        p["sample_learning_rate"] = check_float(
            self.sample_learning_rate, "sample_learning_rate", low=0.5, high=1.0,
            low_open=True)
        p["shuffle"] = check_bool(self.shuffle, "shuffle")
        p["tol"] = check_float(self.tol, "tol", low=0.0)
        p["max_code_iter"] = check_int(self.max_code_iter, "max_code_iter", min_val=1)
        p["code_tol"] = check_float(self.code_tol, "code_tol", low=0.0)
        p["verbose"] = check_int(int(self.verbose) if isinstance(self.verbose, bool)
                                 else self.verbose, "verbose", min_val=0)
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be a callable or None, got {self.callback!r}")
        init = self.dict_init
        if init is None:
            init = "data"
        if isinstance(init, str):
            check_option(init, "dict_init", _DICT_INITS)
        elif not hasattr(init, "shape") and not isinstance(init, (list, tuple)):
            raise ValueError(
                "dict_init must be 'data', 'random' or an array of shape "
                f"(n_components, n_features), got {init!r}")
        p["dict_init"] = init
        return p

    def _validate_X(self, X, reset):
        return validate_data(self, X, dtype=[np.float64, np.float32], order="C",
                             reset=reset, ensure_min_samples=1, ensure_min_features=1)

    # --------------------------------------------------------------- init
    def _initial_dictionary(self, X, params, rng):
        n, p = X.shape
        k = params["n_components"]
        init = params["dict_init"]
        dtype = X.dtype
        if isinstance(init, str):
            if init == "data":
                n_from_data = min(k, n)
                rows = np.sort(rng.choice(n, size=n_from_data, replace=False))
                D = np.empty((k, p), dtype=dtype)
                D[:n_from_data] = X[rows]
                if n_from_data < k:
                    D[n_from_data:] = rng.standard_normal((k - n_from_data, p))
            else:
                D = rng.standard_normal((k, p)).astype(dtype)
            # components start as (scaled) signals: replace zero rows by noise
            zero = ~np.any(D, axis=1)
            if zero.any():
                D[zero] = rng.standard_normal((int(zero.sum()), p))
            if params["positive_dict"]:
                flip = np.sum(np.maximum(D, 0), axis=1) < np.sum(np.maximum(-D, 0), axis=1)
                D[flip] *= -1
                np.maximum(D, 0, out=D)
            _proj.enet_scale_rows(D, 1.0, params["dict_l1_ratio"])
        else:
            D = np.array(init, dtype=dtype, order="C", copy=True)
            if D.shape != (k, p):
                raise ValueError(
                    f"dict_init must have shape (n_components, n_features) = "
                    f"{(k, p)}, got an array of shape {D.shape}")
            if not np.all(np.isfinite(D)):
                raise ValueError("dict_init contains NaN or infinite values")
            if params["positive_dict"]:
                np.maximum(D, 0, out=D)
            norms = np.empty(k)
            _online.row_enet_norms(D, params["dict_l1_ratio"], norms)
            if np.any(norms == 0):
                raise ValueError(
                    "dict_init has rows that are zero (after clipping negative "
                    f"values when positive_dict=True): rows {np.flatnonzero(norms == 0).tolist()}")
            outside = norms > 1.0
            if outside.any():
                sub = np.ascontiguousarray(D[outside])
                _proj.enet_scale_rows(sub, 1.0, params["dict_l1_ratio"])
                D[outside] = sub
        return np.ascontiguousarray(D)

    def _init_state(self, X, params, rng):
        D = self._initial_dictionary(X, params, rng)
        state = _State(D, X.dtype)
        _online.row_enet_norms(D, params["dict_l1_ratio"], state.norms)
        self._state = state
        self._rng = rng
        self.n_steps_ = 0
        self.n_iter_ = 0
        self.n_reinit_ = 0

    # --------------------------------------------------------------- step
    def _solve_codes(self, G, beta, warm, params):
        mu = params["code_l1_ratio"]
        k = G.shape[0]
        l1, l2 = _penalties(params["alpha"], mu, G)
        if mu == 0.0 and not params["positive_code"]:
            M = G + l2 * np.eye(k, dtype=G.dtype)
            try:
                factor = linalg.cho_factor(M, lower=False, check_finite=False)
                return linalg.cho_solve(factor, beta.T, check_finite=False).T
            except linalg.LinAlgError:
                return linalg.lstsq(M, beta.T, check_finite=False)[0].T
        codes = np.array(warm, dtype=beta.dtype, order="C", copy=True)
        residual = np.empty(k, dtype=beta.dtype)
        _codes.enet_coordinate_descent_gram(
            np.ascontiguousarray(G), np.ascontiguousarray(beta), codes,
            l1, l2, params["positive_code"],
            params["max_code_iter"], params["code_tol"], residual)
        return codes

    def _code_inputs(self, X, rows, ids, Xs, Dm, method, params):
        """Gram matrix and ``D x`` estimates used to compute the batch's codes.

        ``Xs`` and ``Dm`` are the batch and the dictionary restricted to the
        sampled features.  See ``code_method`` for what each method returns.
        """
        state = self._state
        D = state.D
        p = D.shape[1]
        s = Xs.shape[1]
        if method == "full":
            beta = X[rows] @ D.T if s < p else Xs @ Dm.T
            return state.G, beta
        scale = p / s
        beta = Xs @ Dm.T
        beta *= scale
        if method == "masked":
            G = Dm @ Dm.T
            G *= scale
            return G, beta
        if method == "average" and ids is not None:
            counts = state.sample_counts[ids] + 1
            state.sample_counts[ids] = counts
            gamma = counts.astype(np.float64) ** (-params["sample_learning_rate"])
            gamma = gamma.astype(beta.dtype)[:, None]
            avg = state.beta_avg[ids]
            avg *= 1 - gamma
            avg += gamma * beta
            state.beta_avg[ids] = avg
            beta = avg
        # 'gram', and 'average' for samples without identity (first visit)
        return state.G, beta

    def _step(self, X, rows, ids, params):
        """One mini-batch step on samples ``X[rows]`` (sample ids ``ids``)."""
        state = self._state
        rng = self._rng
        D = state.D
        k, p = D.shape
        b = rows.shape[0]
        s = min(p, int(math.ceil(p / params["reduction"])))
        subsampled = s < p
        if subsampled:
            # uniform integers in [i, p) for the partial Fisher-Yates shuffle
            low = np.arange(s)
            draws = low + (rng.random_sample(s) * (p - low)).astype(np.int64)
            np.minimum(draws, p - 1, out=draws)
            cols = np.empty(s, dtype=np.int64)
            _online.draw_features(state.perm, draws, cols)
            # sorted columns make the gathers and scatters cache friendly
            cols.sort()
        else:
            cols = np.arange(p, dtype=np.int64)
        Xs = np.empty((b, s), dtype=X.dtype)
        _online.gather(X, rows, cols, Xs)
        Dm = np.empty((k, s), dtype=D.dtype)
        _online.gather_columns(D, cols, Dm)

        # ---- codes from partial information
        method = params["code_method"] if subsampled else "full"
        G, beta = self._code_inputs(X, rows, ids, Xs, Dm, method, params)
        warm = state.codes[ids] if ids is not None else np.zeros((b, k), dtype=X.dtype)
        A = self._solve_codes(G, beta, warm, params)
        A = np.ascontiguousarray(A, dtype=X.dtype)
        if ids is not None:
            state.codes[ids] = A

        # ---- surrogate statistics
        w = _online.batch_weight(state.n_samples_seen, b, params["learning_rate"])
        state.S *= 1 - w
        state.S += (w / b) * (A.T @ A)
        state.n_samples_seen += b
        AtX = A.T @ Xs
        Bm = np.empty((k, s), dtype=D.dtype)
        _online.update_stats_columns(state.B, AtX, cols, state.feature_counts, b,
                                     params["learning_rate"], Bm)

        # ---- dictionary, on the sampled columns only
        keep_gram = subsampled and params["code_method"] != "masked"
        if keep_gram:
            Dm_old = Dm.copy()
        order = rng.permutation(k).astype(np.int64)
        u = np.empty(s, dtype=D.dtype)
        work = np.empty(s, dtype=D.dtype)
        min_diag = 1e-12 * max(float(np.trace(state.S)) / k, np.finfo(np.float64).tiny)
        _online.dictionary_bcd(D, state.B, Dm, Bm, cols, state.S, order, state.norms,
                               params["dict_l1_ratio"], params["positive_dict"], u,
                               work, min_diag)
        if keep_gram:
            state.G += Dm @ Dm.T
            state.G -= Dm_old @ Dm_old.T
        elif not subsampled:
            state.G = D @ D.T
        self.n_steps_ += 1

    def _refresh(self, params):
        """Remove rounding drift from incrementally updated quantities."""
        state = self._state
        _online.row_enet_norms(state.D, params["dict_l1_ratio"], state.norms)
        state.G = state.D @ state.D.T

    def _reinit_unused(self, X, params):
        """Restart components that no sample uses from randomly drawn samples.

        A component whose codes are all zero (``S[j, j]`` ~ 0, for instance a
        component zeroed by the positivity constraint) is never updated again;
        it is replaced by a rescaled random sample and its statistics reset.
        Returns the number of components restarted.
        """
        state = self._state
        k = state.S.shape[0]
        diag = np.diag(state.S)
        scale = max(float(diag.max()), np.finfo(np.float64).tiny)
        dead = np.flatnonzero((diag <= 1e-10 * scale) | ~np.any(state.D, axis=1))
        if dead.size == 0 or dead.size == k:
            return 0
        rows = self._rng.choice(X.shape[0], size=dead.size, replace=X.shape[0] < dead.size)
        fresh = np.array(X[rows], dtype=state.D.dtype)
        if params["positive_dict"]:
            flip = np.sum(np.maximum(fresh, 0), 1) < np.sum(np.maximum(-fresh, 0), 1)
            fresh[flip] *= -1
            np.maximum(fresh, 0, out=fresh)
        empty = ~np.any(fresh, axis=1)
        if empty.any():
            fresh[empty] = np.abs(self._rng.standard_normal((int(empty.sum()), X.shape[1])))
        _proj.enet_scale_rows(fresh, 1.0, params["dict_l1_ratio"])
        state.D[dead] = fresh
        state.S[dead, :] = 0
        state.S[:, dead] = 0
        state.B[dead] = 0
        self._refresh(params)
        return int(dead.size)

    def _progress(self, total, params):
        if params["verbose"] <= 0:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=type(self).__name__, unit="batch")

    # --------------------------------------------------------------- API
    def fit(self, X, y=None):
        """Learn the components from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.  float32 data are processed in float32.  The data
            are never copied when they are a C-contiguous float array.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        params = self._check_params()
        X = self._validate_X(X, reset=True)
        n, p = X.shape
        params = self._check_params(n_features=p)
        rng = check_random_state(self.random_state)
        self._init_state(X, params, rng)
        self._state.ensure_samples(n)
        b = params["batch_size"]
        n_batches = int(math.ceil(n / b))
        bar = self._progress(n_batches * params["n_epochs"], params)
        stop = False
        # the products of a step are small: threaded BLAS only adds
        # synchronisation (measured 5-40x slower on 2 cores), so use one thread
        limiter = threadpool_limits(limits=1, user_api="blas")
        try:
            for epoch in range(params["n_epochs"]):
                order = rng.permutation(n) if params["shuffle"] else np.arange(n)
                order = order.astype(np.int64)
                D_prev = self._state.D.copy() if params["tol"] > 0 else None
                for start in range(0, n, b):
                    rows = order[start:start + b]
                    self._step(X, rows, rows, params)
                    if bar is not None:
                        bar.update(1)
                self._refresh(params)
                if epoch < params["n_epochs"] - 1:
                    self.n_reinit_ += self._reinit_unused(X, params)
                self.n_iter_ = epoch + 1
                self.components_ = self._state.D.copy()
                if D_prev is not None:
                    change = np.linalg.norm(self._state.D - D_prev)
                    ref = np.linalg.norm(D_prev)
                    if ref > 0 and change / ref < params["tol"]:
                        stop = True
                if self.callback is not None and self.callback(self) is True:
                    stop = True
                if stop:
                    break
        finally:
            limiter.restore_original_limits()
            if bar is not None:
                bar.close()
        return self

    def partial_fit(self, X, y=None, sample_indices=None):
        """Update the components with one chunk of samples.

        The chunk is processed in order, in mini-batches of ``batch_size``.
        Calling ``partial_fit`` on consecutive chunks of ``X`` gives the same
        components as ``fit(X)`` with ``shuffle=False``, ``n_epochs=1`` and the
        same array ``dict_init``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of samples.
        y : Ignored
        sample_indices : array-like of int of shape (n_samples,), default=None
            Identity of each sample across calls, used by
            ``code_method='average'`` (per-sample running averages) and to
            warm-start codes.  Without it every sample is treated as new.

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "_state")
        params = self._check_params()
        X = self._validate_X(X, reset=first)
        n, p = X.shape
        params = self._check_params(n_features=p)
        if sample_indices is not None:
            ids = np.asarray(sample_indices)
            if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
                raise ValueError(
                    f"sample_indices must be an int array of shape ({n},), got "
                    f"an array of shape {ids.shape} and dtype {ids.dtype}")
            if n and ids.min() < 0:
                raise ValueError(
                    f"sample_indices must be non-negative, got {int(ids.min())}")
            ids = ids.astype(np.int64)
        else:
            ids = None
        if first:
            self._init_state(X, params, check_random_state(self.random_state))
        elif self._state.D.dtype != X.dtype:
            X = X.astype(self._state.D.dtype)
        if ids is not None and n:
            self._state.ensure_samples(int(ids.max()) + 1)
        b = params["batch_size"]
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, n, b):
                rows = np.arange(start, min(start + b, n), dtype=np.int64)
                self._step(X, rows, None if ids is None else ids[rows], params)
            self._refresh(params)
        self.components_ = self._state.D.copy()
        if self.callback is not None:
            self.callback(self)
        return self

    def _codes(self, X, params):
        D = self.components_
        G = D @ D.T
        beta = X @ D.T
        warm = np.zeros_like(beta)
        return np.ascontiguousarray(self._solve_codes(G, beta, warm, params),
                                    dtype=X.dtype)

    def transform(self, X):
        """Compute the codes of ``X`` on the learned components.

        Codes solve the same penalised least-squares problem as during fitting,
        with the full samples and the exact Gram matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "components_")
        X = self._validate_X(X, reset=False)
        params = self._check_params()
        X = X.astype(self.components_.dtype, copy=False)
        return self._codes(X, params)

    def inverse_transform(self, X):
        """Reconstruct samples from codes: ``X @ components_``.

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
        return codes @ self.components_

    def score(self, X, y=None):
        """Fraction of the energy of ``X`` explained by the model.

        ``1 - ||X - transform(X) @ components_||^2 / ||X||^2`` (the model has
        no mean, so the energy is not centred).  Higher is better; 1 is a
        perfect reconstruction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "components_")
        X = self._validate_X(X, reset=False)
        X = X.astype(self.components_.dtype, copy=False)
        residual = X - self._codes(X, self._check_params()) @ self.components_
        total = float(np.sum(X.astype(np.float64) ** 2))
        if total == 0:
            return 1.0 if not np.any(residual) else -np.inf
        return 1.0 - float(np.sum(residual.astype(np.float64) ** 2)) / total

    def objective(self, X):
        """Mean penalised objective of ``X`` (the quantity being minimised)."""
        check_is_fitted(self, "components_")
        X = self._validate_X(X, reset=False)
        X = X.astype(self.components_.dtype, copy=False)
        params = self._check_params()
        codes = self._codes(X, params)
        residual = X - codes @ self.components_
        D = self.components_
        l1, l2 = _penalties(params["alpha"], params["code_l1_ratio"], D @ D.T)
        codes = codes.astype(np.float64)
        value = 0.5 * np.sum(residual.astype(np.float64) ** 2, axis=1)
        value += 0.5 * l2 * np.sum(codes ** 2, axis=1) + l1 * np.sum(np.abs(codes), axis=1)
        return float(np.mean(value))

    # ------------------------------------------------------------ persistence
    _STATE_ARRAYS = ("D", "S", "B", "G", "norms", "perm", "feature_counts",
                     "sample_counts", "beta_avg", "codes")

    def _get_persistent_state(self):
        """Arrays and scalars needed to resume ``partial_fit`` exactly."""
        if not hasattr(self, "_state"):
            return {}, {}
        arrays = {name: getattr(self._state, name) for name in self._STATE_ARRAYS}
        kind, keys, pos, has_gauss, cached = self._rng.get_state()
        arrays["rng_keys"] = keys
        scalars = dict(n_samples_seen=int(self._state.n_samples_seen), rng_kind=kind,
                       rng_pos=int(pos), rng_has_gauss=int(has_gauss),
                       rng_cached=float(cached))
        return arrays, scalars

    def _set_persistent_state(self, arrays, scalars):
        state = _State.__new__(_State)
        for name in self._STATE_ARRAYS:
            setattr(state, name, np.array(arrays[name]))
        state.n_samples_seen = int(scalars["n_samples_seen"])
        self._state = state
        rng = np.random.RandomState()
        rng.set_state((scalars["rng_kind"], np.asarray(arrays["rng_keys"], dtype=np.uint32),
                       scalars["rng_pos"], scalars["rng_has_gauss"], scalars["rng_cached"]))
        self._rng = rng

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def online_dict_learning(X, n_components=10, *, return_code=True,
                         return_n_iter=False, **params):
    """Subsampled online dictionary learning, function form.

    Fits :class:`OnlineDictionaryLearning` (same parameters, passed by keyword)
    and returns its results.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data.
    n_components : int, default=10
        Number of components.
    return_code : bool, default=True
        Also return the codes of ``X``.
    return_n_iter : bool, default=False
        Also return the number of epochs run.
    **params
        Any other parameter of :class:`OnlineDictionaryLearning`.

    Returns
    -------
    code : ndarray of shape (n_samples, n_components)
        Only if ``return_code``.
    dictionary : ndarray of shape (n_components, n_features)
    n_iter : int
        Only if ``return_n_iter``.
    """
    est = OnlineDictionaryLearning(n_components=n_components, **params).fit(X)
    out = []
    if return_code:
        out.append(est.transform(X))
    out.append(est.components_)
    if return_n_iter:
        out.append(est.n_iter_)
    return out[0] if len(out) == 1 else tuple(out)
