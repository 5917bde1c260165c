"""Non-negative matrix factorization of 4D and surface images."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._validation import check_bool, check_float, check_int, check_option
from ..decomposition.nmf import NMF as _ArrayNMF
from ..decomposition.nmf import _initialize, _solve_codes
from ._base import BaseImageDecomposition, _fill_doc
from ..sources import as_source
from ._data import _fits_in_memory, _load_whole
from .dict_learning import _auto_reduction, _ica_maps

__all__ = ["NMF"]


@_fill_doc
class NMF(BaseImageDecomposition):
    """Non-negative maps from resting-state images.

    Factorizes the masked, cleaned scans ``X`` (scans x voxels) as ``X ~ W H``
    with :class:`nimf.decomposition.NMF`: ``H`` (``components_``, the maps) is
    **non-negative**; the time courses ``W`` are left free by default
    (semi-NMF, ``semi=True``), because cleaned fMRI signals (detrended,
    standardized) are centred and take both signs.  For a fully non-negative
    factorization (``semi=False``) the data must be non-negative: use
    ``standardize=False, detrend=False`` on raw (positive) BOLD data, or
    ``standardize='psc'`` followed by a positive offset is *not* enough, since
    percent signal change is centred too.  ``X`` with negative values and
    ``semi=False`` raises a ``ValueError``.

    Masking, cleaning, ``transform``, ``inverse_transform`` and ``score`` are
    those of :class:`nimf.neuro.DictLearning` (shared base class).

    The maps are brought back to unit root-mean-square every 5 solver
    iterations (``normalize_maps``), so the sparsity penalty
    ``alpha_H`` keeps its meaning: with free time courses, an unconstrained
    scale lets ``H`` shrink while ``W`` grows, the penalty fades and the maps
    drift back to dense mixtures of networks.  The default start is the
    positive part of the most kurtotic maps of a spatial ICA (the start of
    :class:`nimf.neuro.DictLearning`).  On the built-in 4 mm study (4 subjects
    x 150 scans, 16 networks) these two changes raised the recovery of the
    planted networks from 0.69 to 0.94 and cut the fit from 200 to about 15
    iterations (``benchmarks/bench_image_nmf.py``).

    Parameters
    ----------
    n_components : int, default=20
    semi : bool, default=True
        Only the maps are constrained to be non-negative.
    init : {'ica', 'nndsvda', 'nndsvd', 'nndsvdar', 'random'}, default='ica'
        Initial maps. 'ica': positive parts of the sign-flipped maps of an
        over-complete spatial ICA in the principal subspace, the most kurtotic
        first (as :class:`nimf.neuro.DictLearning`); the others are those of
        :class:`nimf.decomposition.NMF` (nndsvda was the default before 'ica':
        it gave a recovery of 0.82 against 0.94 on the built-in study).
    alpha_H : float, default=0.03
        Penalty on the maps (with ``l1_ratio``), multiplied by the number of
        scans as in scikit-learn's NMF, for maps of unit root-mean-square over
        voxels (which makes it about independent of the resolution).  The
        default l1 penalty makes the maps sparse (about 90% zeros on the
        built-in study); much larger values (0.1) start to merge or empty maps.
    l1_ratio : float, default=1.0
        1 makes the map penalty an l1 penalty (sparse maps).
    max_iter : int, default=200
        Maximum number of solver iterations.
    tol : float, default=1e-3
        Fitting stops when the maps (at unit root-mean-square) change by less
        than ``tol``, relative to their norm, over one round.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation.
    reduction_ratio : 'auto' or float in (0, 1], default=1.0
        Temporal reduction of each subject before fitting (as nilearn).
    %(masking_parameters)s
    normalize_maps : bool, default=True
        Bring the maps back to unit root-mean-square every 5 iterations (the
        time courses take up the scale), so that the penalty on the maps
        cannot fade.  False runs the solver once, for ``max_iter`` iterations
        with its own stopping rule (``tol`` on its optimality violation), with
        the maps' scale left free: the behaviour of nimf's NMF before this
        option, kept to reproduce earlier results.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_voxels)
        Non-negative maps ordered by explained variance.
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
        Number of solver iterations run.
    reconstruction_err_ : float
        Frobenius norm of the residual of the factorization of the data.

    References
    ----------
    .. [1] C. Ding, T. Li, M. I. Jordan. "Convex and semi-nonnegative matrix
       factorizations", IEEE TPAMI 32(1), 2010.
    .. [2] J. Eggert, E. Koerner. "Sparse coding and NMF", IJCNN 2004
       (normalised maps under a sparsity penalty).

    Examples
    --------
    >>> from nimf.datasets import make_rest_study
    >>> from nimf.neuro import NMF
    >>> study = make_rest_study(n_subjects=2, n_scans=60, n_networks=6, resolution=8)
    >>> nmf = NMF(n_components=6, mask=study.mask_img, random_state=0).fit(study.func)
    >>> bool((nmf.components_ >= 0).all())
    True
    """

    def __init__(self, n_components=20, *, semi=True, init="ica", alpha_H=0.03,
                 l1_ratio=1.0, max_iter=200, tol=1e-3, random_state=None, reduction_ratio=1.0,
                 mask=None, smoothing_fwhm=4, standardize="zscore_sample",
                 standardize_confounds=True, detrend=True, low_pass=None, high_pass=None,
                 t_r=None, dtype=None, target_affine=None, target_shape=None,
                 mask_strategy="epi", mask_args=None, n_jobs=1, verbose=0, memory=None,
                 memory_level=0, normalize_maps=True):
        self.n_components = n_components
        self.semi = semi
        self.init = init
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.reduction_ratio = reduction_ratio
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
        self.normalize_maps = normalize_maps

    # iterations of the array solver between two renormalisations of the maps
    _ITER_PER_ROUND = 5

    def _check_params(self):
        if not isinstance(self.semi, bool):
            raise ValueError(f"semi must be True or False, got {self.semi!r}")
        check_option(self.init, "init", ("ica", "nndsvda", "nndsvd", "nndsvdar", "random"))
        check_float(self.alpha_H, "alpha_H", low=0.0)
        check_float(self.l1_ratio, "l1_ratio", low=0.0, high=1.0)
        check_int(self.max_iter, "max_iter", min_val=1)
        check_float(self.tol, "tol", low=0.0)
        check_bool(self.normalize_maps, "normalize_maps")

    def _initial_maps(self, data, rng):
        """Non-negative initial maps (n_components, n_voxels)."""
        if self.init == "ica":
            # positive parts of the sign-flipped ICA maps: the network blobs
            maps = _ica_maps(data, self.n_components, _auto_reduction(data.shape[1]), rng)
            maps = np.maximum(maps, 0.0)
        else:
            _, maps = _initialize(np.asarray(data), self.n_components, self.init, rng)
        maps = np.asarray(maps, dtype=data.dtype)
        # a map that is empty from the start would stay empty: seed it from the data
        empty = ~np.any(maps > 0, axis=1)
        if np.any(empty):
            maps[empty] = np.abs(data[rng.randint(data.shape[0], size=int(empty.sum()))])
        return maps

    def _fit_free_scale(self, data):
        """One run of the array solver, the maps' scale left free."""
        random_state = self.random_state
        if self.init == "ica":
            random_state = check_random_state(random_state)
            H = self._initial_maps(data, random_state)
            W = _solve_codes(data, H, 0.0, 0.0, self.semi)
            init = "custom"
        else:
            W = H = None
            init = self.init
        est = _ArrayNMF(n_components=self.n_components, init=init, semi=self.semi,
                        alpha_W=0.0, alpha_H=self.alpha_H, l1_ratio=self.l1_ratio,
                        max_iter=self.max_iter, tol=self.tol, random_state=random_state,
                        verbose=max(0, int(self.verbose) - 1))
        est.fit(data, W=W, H=H)
        self.n_iter_ = est.n_iter_
        self.reconstruction_err_ = est.reconstruction_err_
        return est.components_

    # passes over a study too large for memory (each reads all of it: NMF
    # cannot subsample voxels), stopped early when the maps settle
    _STREAM_PASSES = 5

    def _fit_streamed(self, data):
        """A study on disk larger than memory: online NMF over its blocks.

        The sufficient statistics of the blocks are accumulated as they are read
        (Mairal et al. 2010; :meth:`nimf.decomposition.NMF.partial_fit`), from
        the positive parts of the ICA start, pass after pass until the maps
        (at unit root-mean-square) change by less than ``tol`` over a pass.
        """
        rng = check_random_state(self.random_state)
        p = as_source(data).n_features
        H = np.maximum(_ica_maps(data, self.n_components, _auto_reduction(p), rng), 0.0)
        empty = ~np.any(H > 0, axis=1)
        H[empty] = 1.0  # a flat start for a map ICA left empty
        H /= np.sqrt(np.mean(H ** 2, axis=1, keepdims=True))
        est = _ArrayNMF(n_components=self.n_components, init="custom", semi=self.semi,
                        alpha_W=0.0, alpha_H=self.alpha_H, l1_ratio=self.l1_ratio,
                        batch_size=200, random_state=rng, verbose=max(0, int(self.verbose) - 1))
        previous = H
        for n_pass in range(1, self._STREAM_PASSES + 1):
            est.partial_fit(data, H=H if n_pass == 1 else None)
            maps = est.components_ / np.maximum(
                np.sqrt(np.mean(est.components_.astype(np.float64) ** 2, axis=1,
                                keepdims=True)), 1e-300)
            change = np.linalg.norm(maps - previous) / max(np.linalg.norm(previous), 1e-300)
            previous = maps
            if change <= self.tol:
                break
        self.n_iter_ = n_pass
        self.reconstruction_err_ = est.reconstruction_err_
        return est.components_

    def _fit_array(self, data, dict_init):
        # every iteration uses every scan: a study on disk is read into memory
        # when it fits, and streamed otherwise
        if not _fits_in_memory(data):
            return self._fit_streamed(data)
        data = _load_whole(data, "NMF")
        if not self.semi:
            # refuse signed data before the initialisation does any work
            minimum = float(np.min(data))
            if minimum < 0:
                raise ValueError(
                    "Negative values in data passed to NMF: with semi=False the masked, "
                    f"cleaned data must be non-negative (or use semi=True), got minimum "
                    f"{minimum:g}")
        if not self.normalize_maps:
            return self._fit_free_scale(data)
        rng = check_random_state(self.random_state)
        H = self._initial_maps(data, rng)
        W = None
        n_iter = 0
        converged = False
        while n_iter < self.max_iter and not converged:
            # maps of unit root-mean-square: the penalty on H cannot be dodged by
            # shrinking H and growing the free time courses W (which would make
            # the sparsity fade as iterations go on)
            norms = np.sqrt(np.mean(H.astype(np.float64) ** 2, axis=1))
            norms[norms == 0] = 1.0
            H = np.ascontiguousarray(H / norms[:, None], dtype=data.dtype)
            if W is None:
                W = _solve_codes(data, H, 0.0, 0.0, self.semi)
            else:
                W = np.ascontiguousarray(W * norms[None, :], dtype=data.dtype)
            n_round = min(self._ITER_PER_ROUND, self.max_iter - n_iter)
            est = _ArrayNMF(n_components=self.n_components, init="custom", semi=self.semi,
                            alpha_W=0.0, alpha_H=self.alpha_H, l1_ratio=self.l1_ratio,
                            max_iter=n_round, tol=0.0, verbose=max(0, int(self.verbose) - 1))
            W = est.fit_transform(data, W=W, H=H)
            H_new = est.components_
            n_iter += est.n_iter_
            # change of the (unit-RMS) maps over the round: their scale drifts
            # within a round and does not count
            new_norms = np.sqrt(np.mean(H_new.astype(np.float64) ** 2, axis=1))
            new_norms[new_norms == 0] = 1.0
            change = (np.linalg.norm(H_new / new_norms[:, None] - H)
                      / max(np.linalg.norm(H), 1e-300))
            converged = change <= self.tol
            H = H_new
        if not converged:
            warnings.warn(
                f"Maximum number of iterations {self.max_iter} reached before the maps "
                f"converged (relative change {change:.2g} > tol={self.tol:g}). Increase "
                "max_iter to improve convergence.", ConvergenceWarning)
        self.n_iter_ = n_iter
        self.reconstruction_err_ = est.reconstruction_err_
        return H
