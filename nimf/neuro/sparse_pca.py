"""Sparse PCA of 4D and surface images."""


from .._validation import check_float, check_int
from ..decomposition.sparse_pca import SparsePCA as _ArraySparsePCA
from ._base import BaseImageDecomposition, _fill_doc

__all__ = ["SparsePCA"]


@_fill_doc
class SparsePCA(BaseImageDecomposition):
    """Sparse principal components of resting-state images (sparse maps).

    Solves ``min ||X - U V||^2 + alpha ||V||_1 + ridge ||U||^2`` on the masked,
    cleaned and centred scans ``X`` (scans as samples, voxels as features),
    the sparse factor ``V`` being the maps, with
    :class:`nimf.decomposition.SparsePCA` (the subsampled online learner with
    l1-ball components, then least-squares debiasing of each map's support).
    Masking, cleaning, ``transform``, ``inverse_transform`` and ``score`` are
    those of :class:`nimf.neuro.DictLearning` (shared base class), with the same
    masker parameters as nilearn's decomposition estimators.

    Parameters
    ----------
    n_components : int, default=20
        Number of maps.
    alpha : float, default=1.0
        Sparsity of the maps (larger: sparser), on nimf's relative scale (see
        :class:`nimf.decomposition.SparsePCA`).
    ridge_alpha : float, default=0.01
        Ridge penalty of the time courses used by the array estimator's
        ``transform`` (the image ``transform`` regresses on the maps by least
        squares, as nilearn).
    n_epochs : int, default=5
        Passes over the scans.
    batch_size : int, default=20
        Scans per mini-batch.
    reduction : float, default=2.0
        Each step reads ``1 / reduction`` of the voxels.
    learning_rate : float, default=0.6
        Exponent of the online learner's step sizes, in (0.5, 1].
    reduction_ratio : 'auto' or float in (0, 1], default=1.0
        Temporal reduction of each subject before fitting (as nilearn).
    random_state : int, RandomState instance or None, default=None
    %(masking_parameters)s

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_voxels)
        Sparse maps (unit l2 norm), mostly positive, ordered by explained variance.
    components_img_ : Nifti1Image or SurfaceImage
        The maps as a 4D image (or a SurfaceImage with one sample per map).
    explained_variance_ : ndarray of shape (n_components,)
        Explained variance of each map on the training data.
    fit_time_ : float
        Seconds spent in ``fit``.
    mask_img_ : Nifti1Image or SurfaceImage
        The mask of the data.
    masker_ : MultiNiftiMasker or SurfaceMasker
        The fitted masker of the data (``masker_.n_elements_`` voxels).
    masking_time_ : float
        Seconds spent masking and cleaning the images.
    n_elements_ : int
        Number of maps (the width of what ``transform`` returns).
    n_iter_ : int
        Number of epochs run.

    Examples
    --------
    >>> from nimf.datasets import make_rest_study
    >>> from nimf.neuro import SparsePCA
    >>> study = make_rest_study(n_subjects=2, n_scans=60, n_networks=4, resolution=8)
    >>> spca = SparsePCA(n_components=4, mask=study.mask_img, random_state=0)
    >>> spca.fit(study.func).components_img_.shape[-1]
    4
    """

    def __init__(self, n_components=20, *, alpha=1.0, ridge_alpha=0.01, n_epochs=5,
                 batch_size=20, reduction=2.0, learning_rate=0.6, reduction_ratio=1.0,
                 random_state=None, mask=None, smoothing_fwhm=4,
                 standardize="zscore_sample", standardize_confounds=True, detrend=True,
                 low_pass=None, high_pass=None, t_r=None, dtype=None, target_affine=None,
                 target_shape=None, mask_strategy="epi", mask_args=None, n_jobs=1, verbose=0,
                 memory=None, memory_level=0):
        self.n_components = n_components
        self.alpha = alpha
        self.ridge_alpha = ridge_alpha
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.reduction = reduction
        self.learning_rate = learning_rate
        self.reduction_ratio = reduction_ratio
        self.random_state = random_state
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

    def _check_params(self):
        check_float(self.alpha, "alpha", low=0.0)
        check_float(self.ridge_alpha, "ridge_alpha", low=0.0)
        check_int(self.n_epochs, "n_epochs", min_val=1)
        check_int(self.batch_size, "batch_size", min_val=1)
        check_float(self.reduction, "reduction", low=1.0)
        check_float(self.learning_rate, "learning_rate", low=0.5, high=1.0, low_open=True)

    def _fit_array(self, data, dict_init):
        est = _ArraySparsePCA(
            n_components=self.n_components, alpha=self.alpha, ridge_alpha=self.ridge_alpha,
            max_iter=self.n_epochs, batch_size=self.batch_size, reduction=self.reduction,
            learning_rate=self.learning_rate, random_state=self.random_state,
            verbose=max(0, int(self.verbose) - 1))
        est.fit(data)
        self.n_iter_ = est.n_iter_
        return est.components_
