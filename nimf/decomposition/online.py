"""Subsampled online dictionary learning (SOMF).

The algorithm of Mensch, Mairal, Thirion and Varoquaux (ICML 2016; IEEE TSP
2017): an online dictionary learner (Mairal et al., JMLR 2010) in which each
step reads a mini-batch of samples but only a random fraction ``1 / reduction``
of their features.  Codes are estimated from that partial information, the
surrogate statistics and the dictionary are updated on the sampled features
only, and every step costs O(features seen).  See ``ALGORITHMS.md`` sections 3,
8 and 9.

This module holds the estimator :class:`OnlineDictionaryLearning` (validation,
state, the loop over steps and one step) and the function
:func:`online_dict_learning`.  Where the rows come from (arrays, memory maps,
zarr and dask arrays, masked studies on disk), which features and rows a step
reads, the reader thread and checkpoints live in :mod:`nimf.sources`; the
compiled inner loops in :mod:`nimf._kernels`.
"""

import itertools
import os
from collections import deque

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .. import _parallel
from .._kernels import codes as _codes
from .._kernels import online as _online
from .._kernels import projections as _proj
from .._workspace import Workspace
from .._validation import (check_bool, check_codes, check_finite_result, check_float,
                           check_int, check_matrix, check_option, check_source,
                           validate_matrix)
from ..sources import (FeatureBlocks, Prefetcher, RowBatches, as_source, default_block_size,
                       is_large_input, step_generator)
from ..sources.checkpoint import checkpoint_path
from ._ica_start import ica_start
from ._online_state import (State, Tracker, get_persistent_state, objective_value,
                            penalties, restore_fit_checkpoint, rows_from_few_chunks,
                            set_persistent_state)

__all__ = ["OnlineDictionaryLearning", "online_dict_learning"]

_CODE_METHODS = ("gram", "average", "masked", "full")
_DICT_INITS = ("auto", "ica", "data", "random")
# wide data (fewer samples than a tenth of the features) start from the ICA of
# the data ('auto'): few samples per feature per epoch make a start from
# random samples slow to unmix
_WIDE = 10
# a good start (ICA, or given) counts as this many batches in the statistics
_START_BATCHES = 10

# components updated per matrix product in the dictionary step (BLAS-3 groups)
_GROUP = 16
# steps reading fewer elements (batch x sampled features) start reading the
# next batch as soon as theirs is no longer needed
_EARLY_READ = 2 ** 20
# at most this many small batches are read per hand-over to the reading thread
_MAX_GROUP = 8

# keys of the random generators derived from a fit's entropy: each step, epoch,
# start, feature permutation and restart draws from its own generator, so a draw
# never depends on when (or in which thread) it is made
_KEY_STEP, _KEY_EPOCH, _KEY_INIT, _KEY_PERM, _KEY_REINIT = range(5)
# what to do when the components overflow
_DIVERGED_HINT = ("scale your data (e.g. divide X by its largest absolute value) or lower "
                  "learning_rate")


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

    The data are streamed in mini-batches; each step reads only about
    ``n_features / reduction`` features of the batch, drawn as whole blocks of
    features (cache lines in memory, chunks on disk), so one epoch costs about
    ``1 / reduction`` of a full pass while the components keep improving at
    almost the same rate per epoch.  With ``reduction=1`` this is exactly the
    online dictionary learning of Mairal et al. (2010).

    ``X`` may be larger than memory: a memory map, a zarr or dask array, or a
    :class:`nimf.neuro.MaskedStudy` is read block by block (a reader thread
    prefetches the next block), and peak memory depends on ``batch_size``,
    ``n_components`` and ``n_features``, not on ``n_samples``.  Long fits can be
    checkpointed, resumed after a crash and bounded in time.

    Read more in ``ALGORITHMS.md`` (sections 3, 8, 9) and the user guide.  The
    first call compiles the numba kernels (a few seconds, cached on disk after).

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
        Subsampling ratio: each step sees about ``n_features / reduction``
        features (``round(n_blocks / reduction)`` blocks of ``feature_block``
        features).  Must be >= 1.

    code_method : {'gram', 'average', 'masked', 'full'}, default='gram'
        How codes are estimated from a partial sample:

        - 'masked': ``D x`` and the Gram ``D D^T`` both estimated on the sampled
          features (rescaled by the inverse sampling probability);
        - 'gram': the exact Gram (kept up to date incrementally) with the masked
          ``D x``;
        - 'average': the exact Gram with a per-sample running average of the
          masked ``D x`` estimates (variance reduced, TSP 2017); needs
          ``n_samples x n_components`` memory;
        - 'full': exact codes from the whole sample (reads every feature of the
          batch; only the dictionary update is subsampled).

        With ``reduction=1`` all methods compute exact codes.

    batch_size : int, default=50
        Number of samples per mini-batch (rounded to whole chunks of rows when
        the data are stored in chunks).

    n_epochs : int, default=3
        Number of passes over the samples.

    learning_rate : float or 'auto', default='auto'
        Exponent ``rho`` in (0.5, 1] of the step sizes ``1 / t^rho`` weighting
        new statistics against old ones.  1 weighs all samples equally; smaller
        values forget the first (poor) estimates faster.  'auto': 0.95 after a
        good start (the ICA start or a given ``dict_init``: there is little to
        forget, and averaging more samples lowers the noise of subsampled
        steps), 0.75 after a start from random samples or noise.

    sample_learning_rate : float, default=0.76
        Exponent of the per-sample averaging weights (``code_method='average'``),
        in (0.5, 1].

    dict_init : {'auto', 'ica', 'data', 'random'} or ndarray of shape \
            (n_components, n_features), default='auto'
        Initial components: the most kurtotic components of a spatial ICA in
        the principal subspace of the data ('ica', computed on a subset of the
        features and, on storage, of the samples; see
        :func:`nimf.decomposition._ica_start.ica_start`), randomly drawn samples
        ('data'), Gaussian noise ('random'), or an array.  'auto' is 'ica' for
        wide data (fewer samples than a tenth of the features, where a start
        from random samples takes many epochs to unmix the components) and
        'data' otherwise.  Rows are rescaled into the constraint ball.

    start_weight : int or 'auto', default='auto'
        How many samples the start counts for in the surrogate statistics: they
        begin as the statistics of a sample of the data coded on the start (of
        which the start is then the solution), weighted as that many samples, so
        that the first batches refine a good start instead of replacing it.
        'auto': ten batches for the ICA start or a given ``dict_init``, 0 (the
        classical algorithm: the first batch alone shapes the first update) for
        starts from samples or noise.

    shuffle : bool, default=True
        Visit the samples (or chunks of samples) in a new random order at each
        epoch.

    tol : float, default=1e-4
        Stop when the relative change of the components over an epoch falls
        below ``tol``.  0 disables the test.

    max_code_iter : int, default=100
        Maximum number of coordinate-descent passes per code.

    code_tol : float, default=1e-4
        Relative tolerance of the coordinate descent on codes.

    feature_block : 'auto' or int, default='auto'
        Features per sampled block.  'auto': the feature chunk of data stored
        in chunks (a masked study, a zarr or dask array stored with permuted
        features), else 16 (a cache line of float32), fewer when there are
        fewer than 1024 features.  Data whose feature order is not known to be
        random are sampled in a fixed random permutation of their features
        (drawn once per fit), so that a block never gathers neighbouring,
        correlated features.

    checkpoint : str or path-like, default=None
        File (``.npz``) where the learner's whole state is written atomically
        every ``checkpoint_every`` steps, at the end of each epoch and when
        the fit stops.  Plain arrays and JSON, no pickle.

    checkpoint_every : int, default=500
        Steps between checkpoints.

    resume : bool, default=False
        If ``checkpoint`` exists, continue the fit it holds (it must be a
        checkpoint of this estimator, with the same parameters, on the same
        data: anything else is refused with a ``ValueError``; ``n_epochs``,
        ``max_time`` and the checkpoint and progress settings may differ, and
        ``dict_init`` is not used).  A fit killed at any moment and resumed
        ends with the same components as an uninterrupted fit with the same
        seed.

    max_time : float, default=None
        Seconds after which the fit stops at the next step boundary, leaving
        a usable model (``stop_reason_ == 'max_time'``).

    history_every : int, default=None
        Steps between records of ``history_`` (None: about 100 records per
        fit); a record is also made at the end of each epoch.

    callback : callable, default=None
        Called as ``callback(estimator)`` after each epoch (and after each call
        to ``partial_fit``).  If it returns ``True``, training stops.

    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the sample order and the feature subsets.

    verbose : int, default=0
        Show a tqdm progress bar over mini-batches (with samples/s and MB/s
        read) when > 0.

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

    history_ : dict of lists
        One entry per record (every ``history_every`` steps and at each epoch's
        end): ``time`` (seconds of fitting, evaluations excluded), ``n_samples``
        (samples processed), ``epoch`` (fractional), ``bytes_read`` (data read),
        ``objective`` (mean penalised objective of the ``validation`` samples of
        ``fit``, NaN without them).  ``pandas.DataFrame(history_)`` tabulates it.

    stop_reason_ : str
        Why ``fit`` stopped: 'n_epochs', 'tol', 'callback' or 'max_time'.

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
                 n_epochs=3, learning_rate="auto", sample_learning_rate=0.76,
                 dict_init="auto", start_weight="auto", shuffle=True, tol=1e-4,
                 max_code_iter=100,
                 code_tol=1e-4, feature_block="auto", checkpoint=None,
                 checkpoint_every=500, resume=False, max_time=None, history_every=None,
                 callback=None, random_state=None, verbose=0):
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
        self.start_weight = start_weight
        self.shuffle = shuffle
        self.tol = tol
        self.max_code_iter = max_code_iter
        self.code_tol = code_tol
        self.feature_block = feature_block
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.max_time = max_time
        self.history_every = history_every
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
                f"n_components must be <= n_features ({n_features}, the columns of X), "
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
        if isinstance(self.learning_rate, str):
            p["learning_rate"] = check_option(self.learning_rate, "learning_rate", ("auto",))
        else:
            p["learning_rate"] = check_float(self.learning_rate, "learning_rate",
                                             low=0.5, high=1.0, low_open=True)
        if isinstance(self.start_weight, str):
            p["start_weight"] = check_option(self.start_weight, "start_weight", ("auto",))
        else:
            p["start_weight"] = check_int(self.start_weight, "start_weight", min_val=0)
        p["sample_learning_rate"] = check_float(
            self.sample_learning_rate, "sample_learning_rate", low=0.5, high=1.0,
            low_open=True)
        p["shuffle"] = check_bool(self.shuffle, "shuffle")
        p["tol"] = check_float(self.tol, "tol", low=0.0)
        p["max_code_iter"] = check_int(self.max_code_iter, "max_code_iter", min_val=1)
        p["code_tol"] = check_float(self.code_tol, "code_tol", low=0.0)
        if isinstance(self.feature_block, str):
            p["feature_block"] = check_option(self.feature_block, "feature_block", ("auto",))
        else:
            p["feature_block"] = check_int(self.feature_block, "feature_block", min_val=1)
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, os.PathLike)):
            raise ValueError(f"checkpoint must be a path or None, got {self.checkpoint!r}")
        p["checkpoint"] = (None if self.checkpoint is None
                           else checkpoint_path(self.checkpoint))
        p["checkpoint_every"] = check_int(self.checkpoint_every, "checkpoint_every", min_val=1)
        p["resume"] = check_bool(self.resume, "resume")
        if p["resume"] and p["checkpoint"] is None:
            raise ValueError("resume=True needs a checkpoint path: checkpoint is None")
        p["max_time"] = (None if self.max_time is None
                         else check_float(self.max_time, "max_time", low=0.0, low_open=True))
        p["history_every"] = check_int(self.history_every, "history_every", min_val=1,
                                       allow_none=True)
        p["verbose"] = check_int(int(self.verbose) if isinstance(self.verbose, bool)
                                 else self.verbose, "verbose", min_val=0)
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be a callable or None, got {self.callback!r}")
        init = self.dict_init
        if init is None:
            init = "auto"
        if isinstance(init, str):
            check_option(init, "dict_init", _DICT_INITS)
        elif not hasattr(init, "shape") and not isinstance(init, (list, tuple)):
            raise ValueError(
                "dict_init must be 'auto', 'ica', 'data', 'random' or an array of shape "
                f"(n_components, n_features), got {init!r}")
        p["dict_init"] = init
        return p

    def _resolve(self, params, n_samples, n_features):
        """Settle the 'auto' start, learning rate and start weight for the data."""
        params = dict(params)
        init = params["dict_init"]
        k = params["n_components"]
        if isinstance(init, str) and init == "auto":
            wide = n_samples * _WIDE < n_features and n_samples > 2 * k
            init = "ica" if wide else "data"
        if isinstance(init, str) and init == "ica" and n_samples <= k:
            raise ValueError(f"dict_init='ica' needs more samples than n_components "
                             f"({k}), got {n_samples}")
        good = not isinstance(init, str) or init == "ica"
        params["start"] = init if isinstance(init, str) else "array"
        if params["learning_rate"] == "auto":
            params["learning_rate"] = 0.95 if good else 0.75
        if params["start_weight"] == "auto":
            params["start_weight"] = (min(n_samples, _START_BATCHES * params["batch_size"])
                                      if good else 0)
        params["dict_init"] = init
        return params

    def _validate_X(self, X, reset):
        return validate_matrix(self, X, reset)

    def _as_source(self, X, reset):
        """A source for ``X``: arrays in memory are validated whole, others by block."""
        if not is_large_input(X):
            return as_source(self._validate_X(X, reset))
        source = check_source(self, X, reset)
        if reset:
            self.n_features_in_ = source.n_features
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        return source

    # --------------------------------------------------------------- init
    def _layout(self, source, params, entropy):
        """Internal feature order and block size for a source."""
        p = source.n_features
        subsampled = params["reduction"] > 1
        block = params["feature_block"]
        if source.feature_order is not None:
            # the storage order is already a random permutation: sample its blocks
            if block == "auto":
                block = source.feature_chunk or default_block_size(p)
            return FeatureBlocks(p, block, params["reduction"]), source.feature_order, None
        if block == "auto":
            block = default_block_size(p)
        if not subsampled:
            return FeatureBlocks(p, block, 1.0), None, None
        perm = step_generator(entropy, _KEY_PERM).permutation(p).astype(np.int64)
        return FeatureBlocks(p, block, params["reduction"]), perm, perm

    def _initial_dictionary(self, source, params, gen, feature_map):
        n, p = source.shape
        k = params["n_components"]
        init = params["dict_init"]
        dtype = source.dtype
        if isinstance(init, str) and init == "ica":
            init = ica_start(source, k, params["reduction"],
                             np.random.RandomState(gen.integers(2 ** 31 - 1)))
        if isinstance(init, str):
            if init == "data":
                n_from_data = min(k, n)
                rows = rows_from_few_chunks(n, source.row_chunk, n_from_data, gen)
                D = np.empty((k, p), dtype=dtype)
                D[:n_from_data] = source.take_rows(rows)
                if source.feature_order is None and feature_map is not None:
                    D[:n_from_data] = D[:n_from_data][:, feature_map]
                if n_from_data < k:
                    D[n_from_data:] = gen.standard_normal((k - n_from_data, p))
            else:
                D = gen.standard_normal((k, p)).astype(dtype)
            # components start as (scaled) signals: replace zero rows by noise
            zero = ~np.any(D, axis=1)
            if zero.any():
                D[zero] = gen.standard_normal((int(zero.sum()), p))
            if params["positive_dict"]:
                flip = np.sum(np.maximum(D, 0), axis=1) < np.sum(np.maximum(-D, 0), axis=1)
                D[flip] *= -1
                np.maximum(D, 0, out=D)
            _proj.enet_scale_rows(D, 1.0, params["dict_l1_ratio"])
            return np.ascontiguousarray(D)
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
        if feature_map is not None:
            D = D[:, feature_map]
        return np.ascontiguousarray(D)

    def _init_state(self, source, params, entropy):
        self._entropy = int(entropy)
        blocks, feature_map, storage_cols = self._layout(source, params, entropy)
        D = self._initial_dictionary(source, params, step_generator(entropy, _KEY_INIT),
                                     feature_map)
        state = State(D, source.dtype, feature_map, storage_cols)
        _online.row_enet_norms(D, params["dict_l1_ratio"], state.norms)
        self._state = state
        self._blocks = blocks
        if params["start_weight"] > 0:
            self._start_statistics(source, params, step_generator(entropy, _KEY_INIT, 1))
        self.n_steps_ = 0
        self.n_iter_ = 0
        self.n_reinit_ = 0
        self.history_ = dict(time=[], n_samples=[], epoch=[], bytes_read=[], objective=[])
        # position of a fit in progress (for checkpoints): next epoch and batch
        self._epoch = 0
        self._batch = 0
        self._elapsed = 0.0
        self._bytes_read = 0
        self._D_epoch_start = None
        self._finished = None  # why a restored fit had already stopped for good

    def _start_statistics(self, source, params, gen):
        """Statistics of which the start is the solution, weighted as ``start_weight``.

        A sample of at most 200 data rows is coded on the start ``D`` (on one
        draw of feature blocks when subsampled, as a step codes its batch):
        ``S = A^T A / m`` and ``B = S D`` (so that the dictionary update leaves
        ``D`` where it is), counted as ``start_weight`` samples seen with every
        feature.  The batches that follow then move the statistics by their
        weight relative to that, instead of the first batch replacing them.
        """
        state = self._state
        n = source.n_samples
        m = min(n, 200)
        rows = rows_from_few_chunks(n, source.row_chunk, m, gen)
        D = state.D
        blocks = self._blocks
        if blocks.full:
            X = np.asarray(source.take_rows(rows), dtype=D.dtype)
            # the rows are in the data's feature order: D is put in that order
            # (k rows) rather than the m rows of X in the internal one
            Dx = (state.to_original(D) if source.feature_order is None
                  and state.feature_map is not None else D)
            beta = _parallel.matmul(X, Dx.T)
        else:
            # subsampled: the codes from one draw of feature blocks, as a step
            # computes them (``D x`` estimated from the sampled features, the
            # Gram matrix exact), for a ``reduction``-th of the reading
            positions = blocks.positions(blocks.draw(gen))
            cols = positions if state.storage_cols is None else state.storage_cols[positions]
            X = np.asarray(source.read(rows, cols), dtype=D.dtype)
            beta = _parallel.matmul(X, np.ascontiguousarray(D[:, positions]).T)
            beta *= blocks.scale
        A = self._solve_codes(state.G, beta, np.zeros((m, D.shape[0]), dtype=D.dtype),
                              params)
        A = np.ascontiguousarray(A, dtype=D.dtype)
        state.S[:] = A.T @ A / m
        state.B[:] = _parallel.matmul(state.S, D, axis=1)
        state.n_samples_seen = state.n_start = int(params["start_weight"])
        state.feature_counts[:] = int(params["start_weight"])

    # --------------------------------------------------------------- step
    def _solve_codes(self, G, beta, warm, params):
        mu = params["code_l1_ratio"]
        k = G.shape[0]
        l1, l2 = penalties(params["alpha"], mu, G)
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

    def _code_inputs(self, ids, Xs, Dm, scale, method, params, X_full=None):
        """Gram matrix and ``D x`` estimates used to compute the batch's codes.

        ``Xs`` and ``Dm`` are the batch and the dictionary restricted to the
        sampled features, ``scale`` the inverse sampling probability of a
        feature (1 without subsampling).  See ``code_method``.
        """
        state = self._state
        if method == "full" or scale == 1.0:
            if X_full is not None:
                return state.G, _parallel.matmul(X_full, state.D.T)
            return state.G, _parallel.matmul(Xs, Dm.T)
        beta = _parallel.matmul(Xs, Dm.T)
        beta *= scale
        if method == "masked":
            G = _parallel.matmul_sum(Dm, Dm.T)
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
        # 'gram', and 'average' for samples without identity
        return state.G, beta

    def _warm_codes(self, params):
        return params["code_l1_ratio"] > 0 or params["positive_code"]

    def _step(self, ids, Xs, positions, order, params, X_full=None):
        """One mini-batch step.

        ``Xs`` holds the batch on the sampled features (internal ``positions``;
        None when every feature is read), ``ids`` the samples' identities (for
        per-sample memory; None for samples seen once), ``order`` the order in
        which the components are updated, ``X_full`` the whole batch (only for
        ``code_method='full'``).
        """
        state = self._state
        ws = self._workspace()
        D = state.D
        dtype = D.dtype
        k, p = D.shape
        b = Xs.shape[0]
        full = positions is None
        scale = 1.0 if full else self._blocks.scale
        s = p if full else positions.shape[0]
        if full:
            Dm = D
        else:
            Dm = ws.get("Dm", (k, s), dtype)
            _parallel.by_rows(lambda lo, hi: _online.gather_columns(D[lo:hi], positions,
                                                                     Dm[lo:hi]), k, s)

        # ---- codes from partial information
        method = params["code_method"]
        G, beta = self._code_inputs(ids, Xs, Dm, scale, method, params, X_full)
        warm = self._warm_codes(params)
        if warm and ids is not None:
            start = state.codes[ids]
        else:
            start = np.zeros((b, k), dtype=Xs.dtype)
        A = np.ascontiguousarray(self._solve_codes(G, beta, start, params), dtype=Xs.dtype)
        if warm and ids is not None:
            state.codes[ids] = A

        # ---- surrogate statistics
        rho = params["learning_rate"]
        w = _online.batch_weight(state.n_samples_seen, b, rho)
        state.S *= 1 - w
        state.S += (w / b) * (A.T @ A)
        state.n_samples_seen += b
        AtX = _parallel.matmul(A.T, Xs, out=ws.get("AtX", (k, s), dtype), axis=1)
        # the next batch may be read now, into the buffer of this one (done with
        # Xs): small steps start it here, to overlap the whole update; large
        # ones at the dictionary update, the one part on a single core (here it
        # would compete with the statistics' threads)
        if b * s < _EARLY_READ:
            self._start_next_read(b * s)
        if full:
            # every feature has the same count: one weight for the whole of B
            wf = _online.batch_weight(int(state.feature_counts[0]), b, rho)
            state.feature_counts += b
            state.B *= 1 - wf
            AtX *= wf / b
            state.B += AtX
            Bm = state.B
        else:
            keep = ws.get("keep", (s,), dtype)
            new = ws.get("new", (s,), dtype)
            _online.feature_weights(state.feature_counts, positions, b, rho, keep, new)
            Bm = ws.get("Bm", (k, s), dtype)
            B = state.B
            _parallel.by_rows(lambda lo, hi: _online.blend_columns(
                B[lo:hi], AtX[lo:hi], positions, keep, new, Bm[lo:hi]), k, s)
            # B is not read again in this step: write it back alongside the update of D
            written = _parallel.submit(_online.scatter_columns, Bm, positions, B, work=k * s)

        # ---- dictionary, on the sampled columns only
        keep_gram = full or method != "masked"
        group = min(_GROUP, k)
        min_diag = 1e-12 * max(float(np.trace(state.S)) / k, np.finfo(np.float64).tiny)
        self._start_next_read(b * s)
        _online.dictionary_bcd(Dm, Bm, state.S, order, state.norms, params["dict_l1_ratio"],
                               params["positive_dict"], min_diag, ws.get("u", (s,), dtype),
                               ws.get("work", (s,), dtype), ws.get("rows", (group, k), dtype),
                               ws.get("R", (group, s), dtype), ws.get("delta", (k, s), dtype),
                               ws.get("total", (k, s), dtype))
        if keep_gram:
            # N N^T - O O^T = sym((N - O)(N + O)^T): one product instead of two,
            # of the change and the sum the update wrote
            change = _parallel.matmul_sum(ws.get("delta", (k, s), dtype),
                                          ws.get("total", (k, s), dtype).T)
            change += change.T
            change *= 0.5
            state.G += change
        if not full:
            _parallel.by_rows(lambda lo, hi: _online.scatter_columns(Dm[lo:hi], positions,
                                                                      D[lo:hi]), k, s)
            written.result()
        self.n_steps_ += 1

    def _start_next_read(self, work):
        """Start reading the next batch on a worker thread (once per step)."""
        start_read = getattr(self, "_read_during_update", None)
        if start_read is not None:
            self._read_during_update = None
            # a read waits on memory more than a copy: worth a thread for less work
            self._reading = _parallel.submit(start_read, work=16 * work)

    def _workspace(self):
        ws = getattr(self, "_ws", None)
        if ws is None:
            ws = self._ws = Workspace()
        return ws

    def _refresh(self, params):
        """Remove rounding drift from incrementally updated quantities."""
        state = self._state
        _online.row_enet_norms(state.D, params["dict_l1_ratio"], state.norms)
        state.G = state.D @ state.D.T

    def _reinit_unused(self, source, params, gen):
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
        n, p = source.shape
        if n < dead.size:
            rows = np.sort(gen.choice(n, size=dead.size, replace=True)).astype(np.int64)
        else:
            rows = rows_from_few_chunks(n, source.row_chunk, dead.size, gen)
        fresh = np.array(source.take_rows(rows), dtype=state.D.dtype)
        if source.feature_order is None and state.feature_map is not None:
            fresh = fresh[:, state.feature_map]
        if params["positive_dict"]:
            flip = np.sum(np.maximum(fresh, 0), 1) < np.sum(np.maximum(-fresh, 0), 1)
            fresh[flip] *= -1
            np.maximum(fresh, 0, out=fresh)
        empty = ~np.any(fresh, axis=1)
        if empty.any():
            fresh[empty] = np.abs(gen.standard_normal((int(empty.sum()), p)))
        fresh = np.ascontiguousarray(fresh)
        _proj.enet_scale_rows(fresh, 1.0, params["dict_l1_ratio"])
        state.D[dead] = fresh
        state.S[dead, :] = 0
        state.S[:, dead] = 0
        state.B[dead] = 0
        self._refresh(params)
        return int(dead.size)

    # --------------------------------------------------------------- reading
    def _draws(self, step):
        """Feature blocks and component order of step ``step`` (a pure function)."""
        gen = step_generator(self._entropy, _KEY_STEP, step)
        blocks = self._blocks
        ids = blocks.draw(gen)
        order = gen.permutation(self._state.S.shape[0]).astype(np.int64)
        positions = None if blocks.full else blocks.positions(ids)
        return positions, order

    def _reader(self, source, params, parallel=True):
        """A function reading one planned batch: ``(rows, ids, positions, order)``."""
        state = self._state
        full_rows = params["code_method"] == "full"

        def read(item):
            rows, ids, positions, order = item
            if positions is None or full_rows:
                X_full = source.take_rows(rows)
                if source.feature_order is None and state.feature_map is not None:
                    X_full = X_full[:, state.feature_map]
                X_full = np.ascontiguousarray(X_full)
                Xs = X_full if positions is None else np.ascontiguousarray(
                    X_full[:, positions])
                return ids, Xs, positions, order, X_full if full_rows else None
            cols = positions if state.storage_cols is None else state.storage_cols[positions]
            # data in memory are read into a reused buffer (no prefetching, so
            # the previous batch is no longer in use)
            out = (None if source.prefetch
                   else self._workspace().get("Xs", (rows.shape[0], cols.shape[0]),
                                              source.dtype))
            return (ids, source.read(rows, cols, out=out, parallel=parallel), positions, order,
                    None)

        return read

    # --------------------------------------------------------------- fit loop
    def fit(self, X, y=None, validation=None):
        """Learn the components from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), memory map, zarr or dask \
                array, or :class:`nimf.neuro.MaskedStudy`
            Training data.  float32 data are processed in float32.  Arrays in
            memory are never copied when they are C-contiguous float arrays;
            other inputs are read block by block and never loaded whole.
        y : Ignored
            Not used, present for API consistency.
        validation : array-like of shape (n_valid, n_features), default=None
            Held-out samples on which the objective is recorded in ``history_``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        params = self._check_params()
        source = self._as_source(X, reset=True)
        n, p = source.shape
        params = self._resolve(self._check_params(n_features=p), n, p)
        X_valid = self._validation(validation, p)
        path = params["checkpoint"]
        # single-threaded BLAS: nimf cuts its large products over cores itself
        with threadpool_limits(limits=1, user_api="blas"):
            if params["resume"] and os.path.exists(path):
                restore_fit_checkpoint(self, path, source, params)
            else:
                entropy = check_random_state(self.random_state).randint(
                    np.iinfo(np.int32).max)
                self._init_state(source, params, entropy)
            self._run(source, params, X_valid)
        return self

    def _validation(self, validation, p):
        if validation is None:
            return None
        if is_large_input(validation):
            src = as_source(validation, name="validation")
            blocks = [blk for _, blk in src.iter_row_blocks()]
            # no rows: an empty array, which the shape check below refuses by name
            V = np.concatenate(blocks) if blocks else np.empty(tuple(src.shape))
            if src.feature_order is not None:
                out = np.empty_like(V)
                out[:, src.feature_order] = V
                V = out
        else:
            V = check_matrix(validation, "validation")
        if V.ndim != 2 or V.shape[1] != p or V.shape[0] < 1:
            raise ValueError(f"validation must be an array of shape (n_valid, {p}), got an "
                             f"array of shape {V.shape}")
        if not np.issubdtype(V.dtype, np.number) or not np.all(np.isfinite(V)):
            raise ValueError("validation contains NaN, infinite or non-numeric values")
        return V

    def _run(self, source, params, X_valid):
        """The loop over epochs and steps, from wherever the state stands."""
        state = self._state
        plan = RowBatches(source.n_samples, source.row_chunk, params["batch_size"])
        n_epochs = params["n_epochs"]
        state.ensure_samples(source.n_samples, params["code_method"] == "average",
                             self._warm_codes(params))
        V = None if X_valid is None else state.to_internal(X_valid.astype(state.D.dtype))
        track = Tracker(self, source, plan, params, V)
        stop = self._finished or (None if self._epoch < n_epochs else "n_epochs")
        try:
            while stop is None:
                stop = self._run_epoch(source, params, plan, track)
                # before anything is recorded or saved to the checkpoint
                check_finite_result(type(self).__name__, {"components_": state.D},
                                    _DIVERGED_HINT)
                if stop is None:
                    stop = self._end_epoch(source, params, plan, n_epochs)
                    track.record()
                    if stop is None:
                        track.save()
                        stop = track.out_of_time()
        finally:
            track.close()
        # after 'max_time', G is not refreshed: the checkpoint holds the state an
        # uninterrupted fit has at this step, so that a resumed fit equals it
        if stop == "max_time":
            track.record()
        self.components_ = state.to_original(state.D)
        self.stop_reason_ = stop
        self._finished = stop if stop in ("tol", "callback") else None
        track.save()
        self._ws = None
        return self

    def _run_epoch(self, source, params, plan, track):
        """The steps of the current epoch from the next batch; 'max_time' or None."""
        state = self._state
        epoch = self._epoch
        gen = step_generator(self._entropy, _KEY_EPOCH, epoch) if params["shuffle"] else None
        order = plan.chunk_order(gen)
        if self._batch == 0:
            self._D_epoch_start = state.D.copy() if params["tol"] > 0 else None
            if epoch == 0 and not self.history_["time"]:
                track.record()
        first = self._batch
        step0 = self.n_steps_

        def items():
            for i in range(first, plan.n_batches):
                rows = plan.batch_rows(order, i)
                positions, comp_order = self._draws(step0 + i - first)
                yield rows, rows, positions, comp_order

        for ids, Xs, positions, comp_order, X_full in self._batches(source, params, items()):
            self._step(ids, Xs, positions, comp_order, params, X_full)
            self._batch += 1
            if self._batch == plan.n_batches:
                # the end of the epoch records and checkpoints: only the bar moves here
                track.advance()
            elif track.after_step():
                return "max_time"
        return None

    def _batches(self, source, params, items):
        """The batches of ``items``, read ahead of the step that needs them.

        Data in memory, and masked studies on disk, are read with both cores
        for the first batch, then each next batch is read during the dictionary
        update of the current step (the one part of a step that runs on a single
        core), into the same buffer: the current batch is no longer needed by
        then.  Storage is told two batches ahead which chunks will be read, so
        that the kernel reads them from disk while the steps compute.  Other
        sources (memory maps, dask arrays) are read by a reader thread one
        batch ahead.
        """
        if source.prefetch:
            with Prefetcher(self._reader(source, params), items, 1) as batches:
                yield from batches
            return
        group = self._read_group(source, params)
        if group > 1:
            yield from self._grouped_batches(source, items, group)
            return
        read = self._reader(source, params)
        read_alone = self._reader(source, params, parallel=False)
        state = self._state
        # storage is asked to read two batches ahead (the kernel reads while
        # the steps compute); the bytes are decoded during the update
        ahead = deque(itertools.islice(items, 3))

        def hint(item):
            rows, _, positions, _ = item
            if positions is not None:
                source.will_need(rows, positions if state.storage_cols is None
                                 else state.storage_cols[positions])

        for item in ahead:
            hint(item)
        if not ahead:
            return
        batch = read(ahead.popleft())
        try:
            while True:
                nxt = next(items, None)
                if nxt is not None:
                    hint(nxt)
                    ahead.append(nxt)
                following = ahead.popleft() if ahead else None
                self._read_during_update = (
                    None if following is None or params["code_method"] == "full"
                    else (lambda item=following: read_alone(item)))
                self._reading = None
                yield batch
                if following is None:
                    return
                reading = self._reading
                batch = reading.result() if reading is not None else read(following)
        finally:
            self._read_during_update = None
            if self._reading is not None:
                self._reading.result()
                self._reading = None

    def _read_group(self, source, params):
        """Batches read per hand-over to the reading thread (1: one at a time).

        Small steps of subsampled data in memory spend more time handing the
        reading of the next batch to a thread, and contending with it for the
        interpreter, than reading: several batches are then read by one call
        of a compiled gather, planned in this thread, while the steps of the
        previous group compute.
        """
        blocks = self._blocks
        if (blocks.full or params["code_method"] == "full"
                or not hasattr(source, "plan_reads")):
            return 1
        work = params["batch_size"] * blocks.n_draw * blocks.block_size
        # groups of batches that together read at most _EARLY_READ elements
        return int(max(1, min(_MAX_GROUP, _EARLY_READ // work)))

    def _grouped_batches(self, source, items, group):
        """The batches of ``items``, read ``group`` at a time one group ahead."""
        state = self._state
        ws = self._workspace()

        def plan(index, parts=1):
            """The next group: ``(runs, items)``, its reads cut in ``parts``."""
            chunk = list(itertools.islice(items, group))
            if not chunk:
                return None
            reads = [(rows, positions if state.storage_cols is None
                      else state.storage_cols[positions]) for rows, _, positions, _ in chunk]
            sizes = [len(rows) * len(cols) for rows, cols in reads]
            buffer = ws.get(f"Xs{index}", (sum(sizes),), source.dtype)
            runs, pos = [], 0
            for lo, hi in _parallel.bounds(len(reads), parts):
                size = sum(sizes[lo:hi])
                planned = source.plan_reads(reads[lo:hi], buffer[pos:pos + size])
                if planned is None:  # pragma: no cover - _read_group checked the source
                    raise RuntimeError("the source cannot plan grouped reads")
                runs.append(planned[0])
                pos += size
            return runs, [(ids, positions, order) for _, ids, positions, order in chunk]

        def run_all(runs):
            return [block for run in runs for block in run()]

        # the first group is read now, with every core
        current = plan(0, _parallel.n_workers())
        if current is None:
            return
        parts = current[0]
        futures = [_parallel.submit(run) for run in parts[1:]]
        blocks = parts[0]() + [block for future in futures for block in future.result()]
        index = 0
        pending = None
        try:
            while current is not None:
                index ^= 1
                following = plan(index)
                # the next group is gathered on a worker thread during these steps
                pending = (None if following is None
                           else _parallel.submit(run_all, following[0]))
                for (ids, positions, order), Xs in zip(current[1], blocks):
                    source.count(Xs)
                    yield ids, Xs, positions, order, None
                if pending is not None:
                    blocks = pending.result()
                    pending = None
                current = following
        finally:
            if pending is not None:
                pending.result()

    def _end_epoch(self, source, params, plan, n_epochs):
        """Close an epoch: refresh, restart unused atoms, convergence and callback."""
        state = self._state
        self._refresh(params)
        epoch = self._epoch
        if epoch < n_epochs - 1:
            gen = step_generator(self._entropy, _KEY_REINIT, epoch)
            self.n_reinit_ += self._reinit_unused(source, params, gen)
        self.n_iter_ = epoch + 1
        self._epoch = epoch + 1
        self._batch = 0
        stop = None
        D_prev = self._D_epoch_start
        if D_prev is not None:
            change = np.linalg.norm(state.D - D_prev)
            ref = np.linalg.norm(D_prev)
            if ref > 0 and change / ref < params["tol"]:
                stop = "tol"
        self._D_epoch_start = None
        if self.callback is not None:
            self.components_ = state.to_original(state.D)
            if self.callback(self) is True:
                stop = "callback"
        if stop is None and self._epoch >= n_epochs:
            stop = "n_epochs"
        return stop

    def _objective_internal(self, V, params):
        """Mean penalised objective of ``V`` (internal feature order)."""
        D = self._state.D
        G = D @ D.T
        codes = self._solve_codes(G, V @ D.T, np.zeros((V.shape[0], G.shape[0]), V.dtype),
                                  params)
        return objective_value(V, codes.astype(V.dtype), D, G, params)

    # --------------------------------------------------------------- API
    def partial_fit(self, X, y=None, sample_indices=None):
        """Update the components with one chunk of samples.

        The chunk is processed in order, in mini-batches of ``batch_size``.
        Calling ``partial_fit`` on consecutive chunks of ``X`` gives the same
        components as ``fit(X)`` with ``shuffle=False``, ``n_epochs=1``, the
        same array ``dict_init`` and ``start_weight=0`` (the start's statistics
        are otherwise drawn from the data at hand: the first chunk here, all of
        ``X`` for ``fit``).  The first chunk settles the 'auto' start.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of samples (or any input ``fit`` accepts, read by blocks).
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
        source = self._as_source(X, reset=first)
        n, p = source.shape
        params = self._check_params(n_features=p)
        if first:
            params = self._resolve(params, n, p)
            self._resolved = {key: params[key] for key in
                              ("dict_init", "learning_rate", "start_weight", "start")}
        else:
            # later chunks go on with what the first one settled
            params.update(getattr(self, "_resolved", {}))
            if isinstance(params["learning_rate"], str):
                params = self._resolve(params, n, p)
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
            entropy = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            self._init_state(source, params, entropy)
        elif source.dtype != self._state.D.dtype:
            if is_large_input(X):
                raise ValueError(f"X has dtype {source.dtype}, but the model was started "
                                 f"on {self._state.D.dtype} data")
            source = as_source(np.ascontiguousarray(source.X, dtype=self._state.D.dtype))
        state = self._state
        if not first and source.feature_order is not None and (
                state.feature_map is None
                or not np.array_equal(source.feature_order, state.feature_map)):
            raise ValueError("X stores its features in another order than the data the "
                             "model was started on")
        if ids is not None and n:
            state.ensure_samples(int(ids.max()) + 1, params["code_method"] == "average",
                                 self._warm_codes(params))
        b = params["batch_size"]
        step0 = self.n_steps_

        def items():
            for i, start in enumerate(range(0, n, b)):
                rows = np.arange(start, min(start + b, n), dtype=np.int64)
                positions, order = self._draws(step0 + i)
                yield rows, None if ids is None else ids[rows], positions, order

        with threadpool_limits(limits=1, user_api="blas"):
            for batch_ids, Xs, positions, order, X_full in self._batches(source, params,
                                                                         items()):
                self._step(batch_ids, Xs, positions, order, params, X_full)
            self._refresh(params)
        self._ws = None
        check_finite_result(type(self).__name__, {"components_": state.D}, _DIVERGED_HINT)
        self.components_ = state.to_original(state.D)
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

    def _blocks_of(self, X):
        """``X`` as blocks of rows with the features in the data's order."""
        if not is_large_input(X):
            X = self._validate_X(X, reset=False)
            yield X.astype(self.components_.dtype, copy=False)
            return
        source = self._as_source(X, reset=False)
        for _, block in source.iter_row_blocks():
            if source.feature_order is not None:
                out = np.empty_like(block)
                out[:, source.feature_order] = block
                block = out
            yield block.astype(self.components_.dtype, copy=False)

    def transform(self, X):
        """Compute the codes of ``X`` on the learned components.

        Codes solve the same penalised least-squares problem as during fitting,
        with the full samples and the exact Gram matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input of ``fit``

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "components_")
        params = self._check_params()
        parts = [self._codes(block, params) for block in self._blocks_of(X)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

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
        X : array-like of shape (n_samples, n_features), or any input of ``fit``
        y : Ignored

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "components_")
        params = self._check_params()
        total = residual = 0.0
        for block in self._blocks_of(X):
            res = block - self._codes(block, params) @ self.components_
            total += float(np.sum(block.astype(np.float64) ** 2))
            residual += float(np.sum(res.astype(np.float64) ** 2))
        if total == 0:
            return 1.0 if residual == 0 else -np.inf
        return 1.0 - residual / total

    def objective(self, X):
        """Mean penalised objective of ``X`` (the quantity being minimised)."""
        check_is_fitted(self, "components_")
        params = self._check_params()
        D = self.components_
        G = D @ D.T
        value, count = 0.0, 0
        for block in self._blocks_of(X):
            codes = self._codes(block, params)
            value += objective_value(block, codes, D, G, params) * block.shape[0]
            count += block.shape[0]
        return value / count

    # ------------------------------------------------------------ persistence
    def _get_persistent_state(self):
        """Arrays and scalars needed to resume ``partial_fit`` (or ``fit``) exactly."""
        return get_persistent_state(self)

    def _set_persistent_state(self, arrays, scalars):
        set_persistent_state(self, arrays, scalars)

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
