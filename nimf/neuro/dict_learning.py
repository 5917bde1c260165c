"""Dictionary learning of resting-state networks on 4D and surface images."""

import os
import warnings

import numpy as np

from .._validation import check_bool, check_float, check_int, check_option
from ..decomposition.online import OnlineDictionaryLearning
from ..sources import ArraySource, FeatureBlocks, as_source
from ..sources.checkpoint import checkpoint_path
from ._base import BaseImageDecomposition

__all__ = ["DictLearning"]


def _auto_reduction(n_voxels):
    """Subsampling that reads about 2500 voxels per step, in [1, 12]."""
    return float(np.clip(n_voxels / 2500.0, 1.0, 12.0))


# the ICA start of data on storage (a masked study) is computed from a random
# sample of whole row chunks, this many scans at most: it reads a few percent
# of a large study, not all of it
_ICA_SCANS = 1000


def _ica_rows(source, rng):
    """Scans the ICA start uses: all of them in memory, a sample of chunks on storage."""
    n = source.n_samples
    if isinstance(source, ArraySource) or n <= _ICA_SCANS:
        return np.arange(n, dtype=np.int64)
    chunk = source.row_chunk
    n_chunks = -(-n // chunk)
    take = min(n_chunks, max(1, _ICA_SCANS // chunk))
    chunks = np.sort(rng.choice(n_chunks, size=take, replace=False))
    return np.concatenate([np.arange(c * chunk, min(n, (c + 1) * chunk))
                           for c in chunks]).astype(np.int64)


def _ica_maps(data, n_components, reduction, random_state):
    """Initial maps: over-complete spatial ICA in the principal subspace.

    The temporal principal subspace of twice ``n_components`` dimensions is
    estimated on a random subset of the voxels (one in ``reduction``), the
    spatial principal components of all voxels are obtained by one pass
    over the data, FastICA unmixes them, and the ``n_components`` most
    kurtotic (most network-like: sparse, heavy-tailed) maps are kept.
    Taking twice as many dimensions as maps lets ICA separate networks from
    the structured noise that shares the top of the spectrum with them; on
    the built-in studies it makes the result independent of the seed
    (the CanICA-style start that nilearn also uses, at a fraction of its cost).

    ``data`` may be an array, data with permuted voxels or a masked study on
    disk: a study is sampled (whole row chunks, ``_ICA_SCANS`` scans at most,
    and whole voxel chunks for the subspace), so that memory and reading stay
    bounded whatever the number of scans.  The maps come back in the masker's
    voxel order.
    """
    from sklearn.decomposition import FastICA
    from sklearn.utils import check_random_state
    from sklearn.utils.extmath import randomized_svd

    source = as_source(data)
    rng = check_random_state(random_state)
    n, p = source.shape
    k = n_components
    rows = _ica_rows(source, rng)
    n_rows = rows.size
    n_sub = min(p, max(4 * k, int(np.ceil(p / reduction))))
    n_dims = max(k, min(2 * k, n_rows - 1, n_sub - 1))
    if isinstance(source, ArraySource):
        cols = np.sort(rng.choice(p, size=n_sub, replace=False))
    else:
        # whole voxel chunks (the storage order is a random spread of voxels)
        blocks = FeatureBlocks(p, source.feature_chunk or 1, p / n_sub)
        cols = blocks.positions(blocks.draw(np.random.default_rng(rng.randint(2 ** 31 - 1))))
    sub = np.asarray(source.read(rows, cols), dtype=np.float32)
    sub -= sub.mean(axis=0)
    # temporal principal subspace (n_rows, n_dims) of the voxel subset
    basis, _, _ = randomized_svd(sub, n_dims, n_iter=4, random_state=rng)
    del sub
    basis = basis.astype(source.dtype)
    spatial = np.zeros((n_dims, p))
    # blocks of scans (whole row chunks): the data may be on disk
    step = max(source.row_chunk, 2048 // source.row_chunk * source.row_chunk)
    for start in range(0, n_rows, step):
        block = source.read(rows[start:start + step], None)
        spatial += basis[start:start + step].T @ block
    # whiten the spatial components (a small eigenproblem), then FastICA
    spatial -= spatial.mean(axis=1, keepdims=True)
    evals, evecs = np.linalg.eigh(spatial @ spatial.T / p)
    evals = np.maximum(evals, evals.max() * 1e-12)
    white = (evecs / np.sqrt(evals)).T @ spatial
    ica = FastICA(n_dims, whiten=False, random_state=rng.randint(2 ** 31 - 1),
                  max_iter=400, tol=1e-4)
    # the unmixing (n_dims x n_dims) is estimated on a random subset of
    # voxels (networks keep hundreds of voxels in it), then applied to all
    n_fit = min(p, 8000)
    fit_cols = np.sort(rng.choice(p, size=n_fit, replace=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ica.fit(white[:, fit_cols].T)
    maps = ica.components_ @ white                     # (n_dims, p)
    kurtosis = np.mean(maps ** 4, axis=1) / np.maximum(np.mean(maps ** 2, axis=1), 1e-300) ** 2
    maps = maps[np.argsort(-kurtosis, kind="stable")[:k]]
    # heavy positive tail first: networks are positive blobs
    maps *= np.where(np.sum(maps ** 3, axis=1) < 0, -1.0, 1.0)[:, None]
    if source.feature_order is not None:
        ordered = np.empty_like(maps)
        ordered[:, source.feature_order] = maps
        maps = ordered
    return maps


class DictLearning(BaseImageDecomposition):
    """Sparse functional maps from resting-state fMRI, by subsampled online dictionary learning.

    A drop-in replacement for :class:`nilearn.decomposition.DictLearning`: it
    accepts the same parameters with the same names and meanings, and gives the
    same attributes and shapes (``components_``, ``components_img_``,
    ``masker_``, ``mask_img_``, ``transform``, ``inverse_transform``,
    ``score``).  The maps are learned by
    :class:`nimf.decomposition.OnlineDictionaryLearning` with scans as samples
    and voxels as features: each map lies in an elastic-net ball
    (``dict_l1_ratio``, sparse maps), the time courses are ridge codes, and each
    step reads only ``1 / reduction`` of the voxels (Mensch et al. 2016).

    What differs from nilearn's estimator, on purpose:

    - every map is non-empty and the maps come out with a consistent sign
      (mostly positive) and ordered by explained variance (``explained_variance_``);
    - ``n_epochs`` and ``reduction_ratio`` do what they say (nilearn's early
      stopping ends training after a fraction of one pass);
    - ``transform`` and ``score`` mask and clean images exactly as ``fit`` does,
      and ``transform`` returns every component, so
      ``inverse_transform(transform(imgs))`` always works;
    - subjects are masked and cleaned by a fast path tested against nilearn's
      maskers, in parallel over subjects (``n_jobs``), and cached with ``memory``.

    Parameters
    ----------
    n_components : int, default=20
        Number of maps (networks) to extract.
    n_epochs : int, default=10
        Number of passes over the scans (each reads ``1 / reduction`` of the
        voxels, so ten epochs cost about one full pass).
    alpha : float, default=10
        Sparsity-controlling parameter: larger values give sparser, more
        compact maps.  It sets the penalty on the time courses relative to the
        maps' squared norm (``alpha / 50`` in the units of
        :class:`~nimf.decomposition.OnlineDictionaryLearning`), which drives
        the maps onto the sparsity-inducing constraint; nilearn's default (10)
        is a good value here too.
    reduction_ratio : 'auto' or float in (0, 1], default=1.0
        Temporal reduction of each subject before fitting: 1 keeps every scan;
        a float keeps ``ceil(reduction_ratio * n_scans)`` rows of each subject's
        SVD; 'auto' keeps ``n_components`` rows per subject (nilearn's default).
    dict_init : Niimg-like, SurfaceImage or ndarray, default=None
        Initial maps: a 4D atlas image of ``n_components`` (probabilistic) maps,
        or an array (n_components, n_voxels).  Default: the most kurtotic maps
        of a fast over-complete spatial ICA in the principal subspace of the
        data (a CanICA-style start, as nilearn's).
    random_state : int, RandomState instance or None, default=None
    batch_size : int, default=20
        Number of scans per mini-batch.
    method : {'cd', 'lars'}, default='cd'
        Accepted for compatibility with nilearn, where it names the lasso
        solver of the maps.  nimf's maps come from exact projections onto the
        constraint, so both values give the same result.
    mask : Niimg-like, SurfaceImage, NiftiMasker, MultiNiftiMasker or SurfaceMasker, default=None
        Mask, or masker whose mask and settings are used.  Computed from the
        images (``mask_strategy``) when not given.
    smoothing_fwhm : float, default=4
        Full width at half maximum (mm) of the spatial Gaussian smoothing.
    standardize : bool or str, default="zscore_sample"
        Standardization of each voxel's time series (as in nilearn's maskers).
    standardize_confounds : bool, default=True
    detrend : bool, default=True
    low_pass, high_pass : float or None, default=None
        Band-pass filter cut-offs (Hz); need ``t_r``.
    t_r : float or None, default=None
        Repetition time (s).
    dtype : dtype, 'auto' or None, default=None
        Float type of the masked data (default float32).
    target_affine, target_shape : default=None
        Resample the images to this grid first.
    mask_strategy : str, default='epi'
        How to compute the mask when ``mask`` is None (nilearn's strategies).
    mask_args : dict, default=None
    n_jobs : int, default=1
        Subjects masked in parallel.
    verbose : int, default=0
        Progress bar and messages when > 0.
    memory : str, joblib.Memory or None, default=None
        Cache of the masked and cleaned subjects.
    memory_level : int, default=0
        Kept for compatibility; caching happens whenever ``memory`` is given.
    reduction : float or 'auto', default='auto'
        nimf's subsampling: each step reads ``1 / reduction`` of the voxels.
        'auto' reads about 2500 voxels per step: ``n_voxels / 2500`` clipped
        to [1, 12] (12 for a whole brain at 4 mm, less for small masks, where
        subsampling saves little and slows convergence).
    dict_l1_ratio : float, default=1.0
        Constraint on the maps: 1 is the l1 ball (sparse maps), 0 the l2 ball.
    positive : bool, default=False
        Constrain the maps to be non-negative.
    learning_rate : float, default=0.75
        Exponent of the step sizes of the online learner, in (0.5, 1].
    checkpoint : str or path-like, default=None
        File where the online learner's state is written atomically every
        ``checkpoint_every`` steps (see
        :class:`~nimf.decomposition.OnlineDictionaryLearning`).
    checkpoint_every : int, default=500
        Steps between checkpoints.
    resume : bool, default=False
        Continue the fit held by ``checkpoint`` when it exists (the ICA start
        is then skipped); a fit killed at any moment and resumed ends with the
        maps of an uninterrupted fit.
    max_time : float, default=None
        Seconds after which learning stops at the next step, leaving usable
        maps (``stop_reason_ == 'max_time'``).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_voxels)
        The maps, ordered by decreasing explained variance, mostly positive.
    components_img_ : Nifti1Image or SurfaceImage
        The maps as a 4D image (or a SurfaceImage with one sample per map).
    explained_variance_ : ndarray of shape (n_components,)
        Explained variance of each map on the training data (as
        ``score(per_component=True)``).
    masker_ : MultiNiftiMasker or SurfaceMasker
    mask_img_ : Nifti1Image or SurfaceImage
    n_elements_ : int
        Number of voxels (or vertices) in the mask.
    n_iter_ : int
        Number of epochs run.
    history_ : dict of lists
        The online learner's record of time, scans processed, bytes read and
        objective on the ``validation`` subjects of ``fit`` (see
        :class:`~nimf.decomposition.OnlineDictionaryLearning`).
    stop_reason_ : str
        Why learning stopped: 'n_epochs', 'tol', 'callback' or 'max_time'.
    fit_time_, masking_time_ : float
        Seconds spent in ``fit`` and in masking and cleaning (0 for a masked
        study, masked beforehand).

    References
    ----------
    .. [1] A. Mensch, J. Mairal, B. Thirion, G. Varoquaux. "Dictionary Learning
       for Massive Matrix Factorization", ICML 2016.
    .. [2] A. Mensch, G. Varoquaux, B. Thirion. "Compressed Online Dictionary
       Learning for Fast fMRI Decomposition", ISBI 2016.

    Examples
    --------
    >>> from nimf.datasets import make_rest_study
    >>> from nimf.neuro import DictLearning
    >>> study = make_rest_study(n_subjects=2, n_scans=60, n_networks=6, resolution=8)
    >>> dl = DictLearning(n_components=6, mask=study.mask_img, random_state=0)
    >>> dl = dl.fit(study.func)
    >>> dl.components_img_.shape[-1]
    6
    """

    def __init__(self, n_components=20, n_epochs=10, alpha=10, reduction_ratio=1.0,
                 dict_init=None, random_state=None, batch_size=20, method="cd", mask=None,
                 smoothing_fwhm=4, standardize="zscore_sample", standardize_confounds=True,
                 detrend=True, low_pass=None, high_pass=None, t_r=None, dtype=None,
                 target_affine=None, target_shape=None, mask_strategy="epi", mask_args=None,
                 n_jobs=1, verbose=0, memory=None, memory_level=0, *, reduction="auto",
                 dict_l1_ratio=1.0, positive=False, learning_rate=0.75, checkpoint=None,
                 checkpoint_every=500, resume=False, max_time=None):
        self.n_components = n_components
        self.n_epochs = n_epochs
        self.alpha = alpha
        self.reduction_ratio = reduction_ratio
        self.dict_init = dict_init
        self.random_state = random_state
        self.batch_size = batch_size
        self.method = method
        self.mask = mask
        self.smoothing_fwhm = smoothing_fwhm
        self.standardize = standardize
        self.standardize_confounds = standardize_confounds
        self.detrend = detrend
        self.low_pass = low_pass
        self.high_pass = high_pass
        self.t_r = t_r
        self.dtype = dtype
        self.target_affine = target_affine
        self.target_shape = target_shape
        self.mask_strategy = mask_strategy
        self.mask_args = mask_args
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.memory = memory
        self.memory_level = memory_level
        self.reduction = reduction
        self.dict_l1_ratio = dict_l1_ratio
        self.positive = positive
        self.learning_rate = learning_rate
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.max_time = max_time

    # the masked data are laid out with the voxels in a random order, so that the
    # online learner reads whole blocks of voxels (as from a study on disk)
    _permuted_data = True

    # alpha is given in nilearn's range; the online learner's relative penalty is alpha / 50
    _ALPHA_SCALE = 50.0

    def _check_params(self):
        check_int(self.n_epochs, "n_epochs", min_val=1)
        check_float(self.alpha, "alpha", low=0.0)
        check_int(self.batch_size, "batch_size", min_val=1)
        check_option(self.method, "method", ("cd", "lars"))
        if self.reduction != "auto":
            check_float(self.reduction, "reduction", low=1.0)
        check_float(self.dict_l1_ratio, "dict_l1_ratio", low=0.0, high=1.0)
        check_bool(self.positive, "positive")
        check_float(self.learning_rate, "learning_rate", low=0.5, high=1.0, low_open=True)
        # the learner's own checks, before any masking
        self._online_estimator(None)._check_params()

    def _reduction(self):
        if self.reduction == "auto":
            return _auto_reduction(self.n_elements_)
        return float(self.reduction)

    def _online_estimator(self, dict_init):
        return OnlineDictionaryLearning(
            n_components=self.n_components, alpha=self.alpha / self._ALPHA_SCALE,
            dict_l1_ratio=self.dict_l1_ratio, positive_dict=self.positive,
            reduction=self._reduction() if hasattr(self, "n_elements_") else 1.0,
            batch_size=self.batch_size, n_epochs=self.n_epochs,
            learning_rate=self.learning_rate,
            dict_init="data" if dict_init is None else dict_init,
            checkpoint=self.checkpoint, checkpoint_every=self.checkpoint_every,
            resume=self.resume, max_time=self.max_time,
            random_state=self.random_state, verbose=self.verbose)

    def _ica_init(self, data):
        """Initial maps: the most kurtotic maps of a spatial ICA (:func:`_ica_maps`)."""
        return _ica_maps(data, self.n_components, self._reduction(), self.random_state)

    def _fit_array(self, data, dict_init):
        resuming = (self.resume and self.checkpoint is not None
                    and os.path.exists(checkpoint_path(self.checkpoint)))
        if dict_init is None and not resuming:
            dict_init = self._ica_init(data)
        est = self._online_estimator(dict_init)
        est.fit(data, validation=getattr(self, "_validation", None))
        self.n_iter_ = est.n_iter_
        self.history_ = est.history_
        self.stop_reason_ = est.stop_reason_
        return est.components_
