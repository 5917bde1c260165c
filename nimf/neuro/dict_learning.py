"""Dictionary learning of resting-state networks on 4D and surface images."""

import numpy as np

from .._validation import check_bool, check_float, check_int, check_option
from ..decomposition._ica_start import ica_start
from ..decomposition.online import OnlineDictionaryLearning
from ._base import BaseImageDecomposition, _fill_doc

__all__ = ["DictLearning"]


def _auto_reduction(n_voxels):
    """Subsampling that reads about 2500 voxels per step, in [1, 12]."""
    return float(np.clip(n_voxels / 2500.0, 1.0, 12.0))


def _ica_maps(data, n_components, reduction, random_state):
    """Initial maps: the spatial ICA start of :func:`~nimf.decomposition._ica_start.ica_start`
    (over-complete ICA in the principal subspace, the most kurtotic maps kept; a
    CanICA-style start, as nilearn's, at a fraction of its cost)."""
    return ica_start(data, n_components, reduction, random_state)


@_fill_doc
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
    %(masking_parameters)s
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
    fit_time_ : float
        Seconds spent in ``fit``.
    history_ : dict of lists
        The online learner's record of time, scans processed, bytes read and
        objective on the ``validation`` subjects of ``fit`` (see
        :class:`~nimf.decomposition.OnlineDictionaryLearning`).
    mask_img_ : Nifti1Image or SurfaceImage
        The mask of the data: the given one, or the one computed from the
        images.
    masker_ : MultiNiftiMasker or SurfaceMasker
        The fitted masker of the data (``masker_.n_elements_`` is the number of
        voxels or vertices in the mask).
    masking_time_ : float
        Seconds spent masking and cleaning the images (0 for a masked study,
        masked beforehand).
    n_elements_ : int
        Number of elements of each row ``transform`` returns: the number of
        maps (as in nilearn's decomposition estimators).
    n_iter_ : int
        Number of epochs run.
    stop_reason_ : str
        Why learning stopped: 'n_epochs', 'tol', 'callback' or 'max_time'.

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
            return _auto_reduction(self._n_voxels)
        return float(self.reduction)

    def _online_estimator(self, dict_init):
        return OnlineDictionaryLearning(
            n_components=self.n_components, alpha=self.alpha / self._ALPHA_SCALE,
            dict_l1_ratio=self.dict_l1_ratio, positive_dict=self.positive,
            reduction=self._reduction() if hasattr(self, "_n_voxels") else 1.0,
            batch_size=self.batch_size, n_epochs=self.n_epochs,
            learning_rate=self.learning_rate,
            dict_init="ica" if dict_init is None else dict_init,
            checkpoint=self.checkpoint, checkpoint_every=self.checkpoint_every,
            resume=self.resume, max_time=self.max_time,
            random_state=self.random_state, verbose=self.verbose)

    def _fit_array(self, data, dict_init):
        # without a given start, the learner computes the ICA start itself (with
        # its own threads settings), and skips it when it resumes a checkpoint
        est = self._online_estimator("ica" if dict_init is None else dict_init)
        est.fit(data, validation=getattr(self, "_validation", None))
        self.n_iter_ = est.n_iter_
        self.history_ = est.history_
        self.stop_reason_ = est.stop_reason_
        return est.components_
