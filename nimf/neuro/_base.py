"""Shared nilearn plumbing of nimf's image decompositions.

:class:`BaseImageDecomposition` turns a list of 4D images (or surface images)
into one 2D array (scans x voxels) and back: it checks the images, fits a
nilearn masker (``masker_``, ``mask_img_``), masks and cleans each subject with
the same preprocessing at fit, transform and score time, reduces each subject
in time if asked, and handles sign, order and images of the components.  A
subclass only defines its maths in ``_fit_array(data)``, which returns the
components (n_components, n_voxels).
"""

import contextlib
import glob
import math
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Memory, Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._validation import available_memory, check_int
from ..sources import PermutedFeatures
from ._checks import (ImageDimensionError, check_imgs, check_loadings,
                      check_mask_in_field_of_view, check_masked_finite, check_masked_signal,
                      check_study, reading)
from ._data import (_MEMMAP_FRACTION, _explained_variance_per_component,
                    _explained_variance_total, _is_masked_study, _is_surface, _load_header_img,
                    _same_mask, _same_param, _variance_sample)

# the cleaning parameters of the maskers, and every masking parameter (as a
# masked study records them)
_CLEAN_KEYS = ("smoothing_fwhm", "standardize", "standardize_confounds", "detrend",
               "low_pass", "high_pass", "t_r")
_MASKING_KEYS = _CLEAN_KEYS + ("dtype", "target_affine", "target_shape", "mask_strategy",
                               "mask_args")

__all__ = ["BaseImageDecomposition"]


# the masking and cleaning parameters shared by the image estimators, in the
# order of their signatures; filled into their docstrings by _fill_doc
_MASKING_PARAMETERS_DOC = """\
    mask : Niimg-like, SurfaceImage, NiftiMasker, MultiNiftiMasker, SurfaceMasker \
or MultiSurfaceMasker, default=None
        Mask of the voxels (or vertices) to decompose, or a masker whose mask
        and masking parameters are used (they override the estimator's, with a
        warning listing those that differ, as in nilearn).  Computed from the
        images with ``mask_strategy`` when not given; every vertex of surface
        images.
    smoothing_fwhm : float or None, default=4
        Full width at half maximum (mm) of the spatial Gaussian smoothing of
        the images; None for no smoothing.
    standardize : {'zscore_sample', 'psc', True, False, None}, default='zscore_sample'
        Standardization of each voxel's time series (as in nilearn's maskers):
        z-score with the sample standard deviation, percent signal change, or
        none.
    standardize_confounds : bool, default=True
        Z-score the confounds before regressing them out of the signals.
    detrend : bool, default=True
        Remove the linear trend (and the mean) of each time series.
    low_pass : float or None, default=None
        Low cut-off frequency of the Butterworth band-pass filter, in Hz;
        needs ``t_r``.
    high_pass : float or None, default=None
        High-pass cut-off frequency of the Butterworth filter, in Hz; needs
        ``t_r``.
    t_r : float or None, default=None
        Repetition time of the scans, in seconds (needed by the filters).
    dtype : float or integer type, 'auto' or None, default=None
        A float type is the type of the masked data the components are learned
        from (float32 otherwise).  As in nilearn, it is also the type of what
        ``transform`` and ``inverse_transform`` return ('auto': int32 for
        images of integers, float32 otherwise; None: float32 for
        ``transform``, the loadings' type for ``inverse_transform``).  bool is
        refused.
    target_affine : ndarray of shape (3, 3) or (4, 4), or None, default=None
        Resample the images (and the mask) to this affine first (see
        :func:`nilearn.image.resample_img`); volume images only.
    target_shape : tuple of 3 ints or None, default=None
        Shape of the resampled grid, with ``target_affine``; volume images
        only.
    mask_strategy : {'epi', 'background', 'whole-brain-template', \
'gm-template', 'wm-template'}, default='epi'
        How the mask is computed from the images when ``mask`` is None
        (nilearn's strategies); volume images only.
    mask_args : dict or None, default=None
        Extra arguments of the mask computation (see
        :func:`nilearn.masking.compute_epi_mask` and the other strategies).
    n_jobs : int, default=1
        Number of images masked and cleaned in parallel (-1: all cores).
    verbose : int, default=0
        0 prints nothing; 1 prints the steps of ``fit`` (and the progress bar
        of an online learner); 2 also each image's masking and the solver's
        iterations.
    memory : str, path or joblib.Memory, or None, default=None
        Cache of the masked and cleaned images (a folder, or a Memory); None
        for no cache.
    memory_level : int, default=0
        Kept for compatibility with nilearn: caching happens whenever
        ``memory`` is given.
"""


def _fill_doc(cls):
    """Put the shared parameter descriptions in an estimator's docstring."""
    cls.__doc__ = cls.__doc__.replace("    %(masking_parameters)s\n", _MASKING_PARAMETERS_DOC)
    return cls


def _check_dtype_param(dtype):
    """``dtype``: None, 'auto', or a float or integer type (as nilearn's estimators)."""
    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        return
    if dtype is bool or (isinstance(dtype, np.dtype) and dtype.kind == "b") or \
            (isinstance(dtype, str) and dtype in ("bool", "?")):
        raise TypeError("'dtype' cannot be bool: give a float type (the masked data), an "
                        f"integer type (the output of transform), 'auto' or None; got {dtype!r}")
    try:
        kind = np.dtype(dtype).kind
    except TypeError as exc:
        raise ValueError(f"dtype must be a float or integer type, 'auto' or None, got "
                         f"{dtype!r}") from exc
    if kind not in "fiu":
        raise ValueError(f"dtype must be a float or integer type, 'auto' or None, got {dtype!r}")

# masked data larger than _MEMMAP_FRACTION of the available memory go to a
# memory-mapped file on disk instead of RAM (the learners stream it in batches)
_MEMMAP_FORCE = False  # tests set this to exercise the on-disk path


def _expand_imgs(imgs, name="imgs"):
    """A list of images from an image, a path, a glob or a list of them."""
    return check_imgs(imgs, name)


def _check_study(imgs, confounds, target_affine):
    """Validate images and confounds; return (kind, n_scans per image, headers, confounds)."""
    kind, n_scans, _, headers, confounds = check_study(imgs, confounds, target_affine)
    return kind, n_scans, headers, confounds


def _make_masker(kind, mask, masker_params, *, target_affine=None, target_shape=None,
                 mask_strategy="epi", mask_args=None, memory=None, memory_level=0, verbose=0,
                 n_jobs=1):
    """The nilearn masker of the image estimators (and of masked studies), not fitted.

    ``masker_params`` are the cleaning parameters (smoothing_fwhm, standardize,
    standardize_confounds, detrend, low_pass, high_pass, t_r); they override
    those of a masker given as ``mask``.
    """
    from nilearn.maskers import (MultiNiftiMasker, MultiSurfaceMasker, NiftiMasker,
                                 SurfaceMasker)
    from sklearn.base import clone

    # as nilearn: giving a cache location turns caching on
    level = max(memory_level, 1 if memory is not None else 0)
    common = dict(memory=memory, memory_level=level, verbose=max(0, verbose - 1))
    if isinstance(mask, (NiftiMasker, MultiNiftiMasker, SurfaceMasker, MultiSurfaceMasker)):
        masker = clone(mask)
        # the masker's own cleaning parameters are overridden by ours so
        # that fit, transform and score always agree
        for key, value in masker_params.items():
            if hasattr(masker, key):
                setattr(masker, key, value)
        if kind == "surface" and not isinstance(masker, (SurfaceMasker, MultiSurfaceMasker)):
            raise ValueError(f"surface images need a SurfaceMasker, got {type(mask).__name__}")
        if kind == "volume" and isinstance(masker, (SurfaceMasker, MultiSurfaceMasker)):
            raise ValueError(f"volume images need a NiftiMasker, got {type(mask).__name__}")
        return masker
    if kind == "surface":
        if mask is not None and not _is_surface(mask):
            raise ValueError(
                f"mask for surface images must be a SurfaceImage or a SurfaceMasker, "
                f"got {type(mask).__name__}")
        return SurfaceMasker(mask_img=mask, **masker_params, **common)
    if mask is not None and _is_surface(mask):
        raise ValueError("mask is a SurfaceImage but imgs are volume images")
    if isinstance(mask, (str, Path)) or hasattr(mask, "header"):
        shape = tuple(_load_header_img(mask, "mask").shape)
        # a 4D image (a functional run given by mistake) would be taken as a mask
        # without a word
        if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 1)):
            raise ImageDimensionError(f"mask must be a 3D image, got a {len(shape)}D image "
                                      f"of shape {shape}")
    return MultiNiftiMasker(
        mask_img=mask, target_affine=target_affine, target_shape=target_shape,
        mask_strategy=mask_strategy, mask_args=mask_args,
        **masker_params, n_jobs=n_jobs, **common)


def _fit_masker(masker, imgs, kind):
    """Fit ``masker`` (on ``imgs`` when it has no mask); return (masker, mask_img, n_elements)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if getattr(masker, "mask_img", None) is None:
            # nilearn's SurfaceMasker computes its mask from one image (every
            # vertex of the mesh) and refuses a list of time series
            masker.fit(imgs[0] if kind == "surface" else imgs)
        else:
            masker.fit()
    mask_img = masker.mask_img_
    if kind == "surface":
        n_elements = int(sum(np.asarray(part).astype(bool).sum()
                             for part in mask_img.data.parts.values()))
    else:
        n_elements = int(np.count_nonzero(np.asarray(mask_img.dataobj)))
    if n_elements == 0:
        raise ValueError(
            "The mask is invalid as it is empty: it selects 0 voxels (check mask, "
            "mask_strategy and mask_args)")
    return masker, mask_img, n_elements


def _reduced_rows(n_scans, reduction_ratio, n_components):
    """Number of rows kept for a subject of ``n_scans`` scans."""
    if reduction_ratio == "auto":
        return min(n_scans, n_components)
    return max(1, int(math.ceil(reduction_ratio * n_scans)))


def _reduce_in_time(data, n_rows, random_state):
    """Best rank-``n_rows`` summary of a subject's data: ``S V^T`` of its SVD."""
    if n_rows >= data.shape[0]:
        return data
    from sklearn.utils.extmath import randomized_svd

    _, s, vt = randomized_svd(data, n_rows, random_state=random_state, n_iter=3)
    return (s[:, None] * vt).astype(data.dtype, copy=False)


class BaseImageDecomposition(TransformerMixin, BaseEstimator):
    """Base class of nimf's decompositions of 4D and surface images.

    Not to be used directly: subclasses define ``_fit_array``.  See
    :class:`nimf.neuro.DictLearning` for the parameters.
    """

    # whether _fit_array takes the masked data with the voxels in a fixed random
    # order (PermutedFeatures), so that the online learner reads whole blocks
    _permuted_data = False

    # ---------------------------------------------------------- tags
    def __sklearn_tags__(self):
        """Estimator tags, with nilearn's input tags (as nilearn's decomposition estimators).

        nilearn's estimator checks read ``input_tags.niimg_like`` and
        ``input_tags.surf_img`` to know that the estimator takes Niimg-like
        objects and :class:`~nilearn.surface.SurfaceImage` objects.
        """
        tags = super().__sklearn_tags__()
        try:
            from nilearn._utils.tags import InputTags
        except ImportError:  # pragma: no cover - nilearn without estimator tags
            return tags
        tags.input_tags = InputTags(niimg_like=True, surf_img=True)
        return tags

    def _more_tags(self):
        """The same tags, under the name nilearn's checks still read."""
        return self.__sklearn_tags__()

    # ---------------------------------------------------------- parameters
    def _effective_masking(self, warn=False):
        """Every masking parameter in force: the estimator's, or those of a masker
        given as ``mask`` (which override the estimator's, as in nilearn)."""
        from nilearn.maskers import NiftiMasker, SurfaceMasker

        params = {key: getattr(self, key) for key in _MASKING_KEYS}
        if not isinstance(self.mask, (NiftiMasker, SurfaceMasker)):
            return params
        conflicts = []
        for key in _MASKING_KEYS:
            if not hasattr(self.mask, key):
                continue
            value = getattr(self.mask, key)
            if not _same_param(value, params[key]):
                conflicts.append(f"{key}: masker parameter {value!r} - overriding estimator "
                                 f"parameter {params[key]!r}")
            params[key] = value
        if warn and conflicts:
            warnings.warn(
                "The masker given as mask sets the masking parameters (as in nilearn): "
                + "; ".join(conflicts), UserWarning, stacklevel=3)
        return params

    def _masker_params(self):
        """The cleaning parameters used for masking: the fitted ones once fitted
        (a model fitted from a masked study uses the study's)."""
        fitted = getattr(self, "_fitted_masking", None)
        if fitted is None:
            fitted = self._effective_masking()
        return {key: fitted[key] for key in _CLEAN_KEYS}

    def _grid_params(self):
        fitted = getattr(self, "_fitted_masking", None)
        if fitted is None:
            fitted = self._effective_masking()
        return fitted["target_affine"], fitted["target_shape"]

    def _check_base_params(self):
        check_int(self.n_components, "n_components", min_val=1)
        check_int(self.n_jobs, "n_jobs")
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a non-zero int (-1 for all cores), got 0")
        rr = self.reduction_ratio
        if not (rr == "auto" or (isinstance(rr, (int, float)) and not isinstance(rr, bool)
                                 and 0 < rr <= 1)):
            raise ValueError(f"reduction_ratio must be 'auto' or a float in (0, 1], got {rr!r}")
        if self.smoothing_fwhm is not None and (
                not isinstance(self.smoothing_fwhm, (int, float)) or self.smoothing_fwhm < 0):
            raise ValueError(
                f"smoothing_fwhm must be None or a non-negative number, got {self.smoothing_fwhm!r}")
        for name in ("low_pass", "high_pass"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, (int, float)) or value <= 0:
                    raise ValueError(f"{name} must be None or a positive frequency (Hz), got {value!r}")
                if self.t_r is None:
                    raise ValueError(f"{name}={value} needs the repetition time: t_r must be given")
        if self.t_r is not None and (not isinstance(self.t_r, (int, float)) or self.t_r <= 0):
            raise ValueError(f"t_r must be None or a positive number of seconds, got {self.t_r!r}")
        _check_dtype_param(self.dtype)

    @property
    def _work_dtype(self):
        """Float type of the masked data: ``dtype`` when it is a float type, else float32."""
        fitted = getattr(self, "_fitted_masking", None)
        dtype = fitted["dtype"] if fitted is not None else self.dtype
        if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
            return np.float32
        dtype = np.dtype(dtype)
        return dtype.type if dtype.kind == "f" else np.float32

    def _output_dtype(self, input_dtype):
        """dtype of what ``transform`` and ``inverse_transform`` return, as nilearn:
        ``dtype`` converts (``'auto'``: int32 for integer input, float32 otherwise);
        None keeps the work dtype (transform) or the input's (inverse_transform)."""
        dtype = self.dtype
        if dtype is None:
            return None
        if isinstance(dtype, str) and dtype == "auto":
            return np.dtype(np.int32 if np.dtype(input_dtype).kind in "iu" else np.float32)
        return np.dtype(dtype)

    # ---------------------------------------------------------- masking
    def _make_masker(self, kind):
        params = self._effective_masking()
        return _make_masker(
            kind, self.mask, self._masker_params(), target_affine=params["target_affine"],
            target_shape=params["target_shape"], mask_strategy=params["mask_strategy"],
            mask_args=params["mask_args"], memory=self.memory, memory_level=self.memory_level,
            verbose=self.verbose, n_jobs=self.n_jobs)

    def _fit_masker(self, imgs, kind):
        masker, mask_img, n_voxels = _fit_masker(self._make_masker(kind), imgs, kind)
        self.masker_ = masker
        self.mask_img_ = mask_img
        self._n_voxels = n_voxels
        self._kind = kind

    def _log(self, message, level=1):
        """Progress messages on standard output, shown when ``verbose >= level``."""
        if self.verbose and self.verbose >= level:
            print(f"[{type(self).__name__}.fit] {message}", flush=True)

    def _subject_function(self):
        """The per-subject masking and cleaning function, cached if asked."""
        func = _prepare_subject
        if self.memory is not None:
            memory = self.memory
            if isinstance(memory, (str, Path)):
                memory = Memory(str(memory), verbose=0)
            func = memory.cache(_prepare_subject, ignore=[])
        return func

    def _subject_args(self):
        target_affine, target_shape = self._grid_params()
        return dict(kind=self._kind, mask_img=self.mask_img_,
                    target_affine=target_affine, target_shape=target_shape,
                    dtype=self._work_dtype, **self._masker_params())

    @contextlib.contextmanager
    def _study_array(self, imgs, confounds, n_rows=None, random_state=None, study=None,
                     permute=False, check_signal=False):
        """Mask, clean (and reduce) every image into one array, for a ``with`` block.

        The array is allocated once (in RAM, or as a memory-mapped file when it
        is large, deleted when the block ends) and each subject is written into
        its rows: there is no second copy of the study.  ``study`` is the
        result of :func:`~nimf.neuro._checks.check_study` when the caller has
        already checked the images (their headers are not read twice); its
        images replace ``imgs`` (a 3D image comes back as a 4D image).  With
        ``check_signal``, a subject without any signal in the mask is refused.  With ``permute``, the voxels
        are written in a random order drawn from ``random_state`` and the block
        yields a :class:`~nimf.sources.PermutedFeatures` (as a study on disk).
        """
        kind, n_scans, imgs, headers, confounds = study or check_study(
            imgs, confounds, self._grid_params()[0], allow_3d=True)
        if kind == "volume" and headers is not None:
            check_mask_in_field_of_view(self.mask_img_, headers[0])
        if kind != self._kind:
            raise ValueError(f"the estimator was fitted on {self._kind} images, got {kind} images")
        if confounds is None:
            confounds = [None] * len(imgs)
        rows = n_scans if n_rows is None else n_rows
        total = int(sum(rows))
        n_features = self._n_voxels
        dtype = np.dtype(self._work_dtype)
        nbytes = total * n_features * dtype.itemsize
        tmpdir = None
        if _MEMMAP_FORCE or nbytes > _MEMMAP_FRACTION * available_memory():
            tmpdir = tempfile.mkdtemp(prefix="nimf_")
            data = np.lib.format.open_memmap(os.path.join(tmpdir, "data.npy"), mode="w+",
                                             dtype=dtype, shape=(total, n_features))
        else:
            data = np.empty((total, n_features), dtype=dtype)
        starts = np.concatenate([[0], np.cumsum(rows)]).astype(int)
        func = self._subject_function()
        args = self._subject_args()
        rng = check_random_state(random_state)
        seeds = (rng.randint(np.iinfo(np.int32).max, size=len(imgs))
                 if n_rows is not None else [None] * len(imgs))
        order = rng.permutation(n_features).astype(np.int64) if permute else None

        def work(i):
            self._log(f"Extracting region signals from imgs[{i}] (masking and cleaning)", 2)
            with reading(imgs[i], f"imgs[{i}]"):
                subject = func(imgs[i], confounds[i], **args)
            check_masked_finite(subject, f"imgs[{i}]")
            if check_signal:
                check_masked_signal(subject, f"imgs[{i}]")
            if subject.shape[1] != n_features:  # pragma: no cover - defensive
                raise ValueError(f"imgs[{i}] gave {subject.shape[1]} features, "
                                 f"expected {n_features}")
            if n_rows is not None:
                subject = _reduce_in_time(subject, n_rows[i], seeds[i])
            if order is None:
                data[starts[i]:starts[i + 1]] = subject
            else:
                np.take(subject, order, axis=1, out=data[starts[i]:starts[i + 1]])

        try:
            # one BLAS thread for the whole masking: the limit is global to the
            # process, so a subject finishing first would otherwise give the
            # threads back while another is still cleaning (and OpenBLAS rounds
            # differently with one and two threads); the subjects are written into
            # this process's array: threads whatever joblib's backend (a dask
            # backend would run them in other processes)
            from ._signal import _single_threaded_blas

            with _single_threaded_blas():
                Parallel(n_jobs=self.n_jobs, require="sharedmem")(
                    delayed(work)(i) for i in range(len(imgs)))
            # the masked, cleaned data are finite (the maskers check them)
            yield data if order is None else PermutedFeatures(data, order, checked=True)
        finally:
            del data
            if tmpdir is not None:
                shutil.rmtree(tmpdir, ignore_errors=True)

    # ---------------------------------------------------------- fitting
    def fit(self, imgs, y=None, confounds=None, validation=None):
        """Compute the mask and the components across subjects.

        Parameters
        ----------
        imgs : list of Niimg-like objects or of SurfaceImage, or MaskedStudy
            4D images (paths, glob patterns or nibabel images), one per run or
            subject, or surface images.  A single image is accepted.  Or a
            :class:`~nimf.neuro.MaskedStudy`: a study masked and cleaned once on
            disk by :func:`~nimf.neuro.mask_study`, read block by block (its
            masking parameters are used; an estimator masking parameter set to
            another value than the study's is refused).
        y : None
            Ignored, for scikit-learn compatibility.
        confounds : list of arrays, CSV paths or DataFrames, default=None
            One entry per image, regressed out of its signals (None for a
            masked study: its confounds were regressed out when it was masked).
        validation : list of images, MaskedStudy or array, default=None
            Held-out subjects (masked and cleaned as ``imgs``) on which the
            learner's objective is recorded in ``history_`` (estimators with an
            online learner).

        Returns
        -------
        self : object
        """
        start = time.perf_counter()
        self._check_base_params()
        self._check_params()
        self._fitted_masking = None
        if _is_masked_study(imgs):
            self._fit_study(imgs, confounds, validation)
            self.fit_time_ = time.perf_counter() - start
            return self
        imgs = check_imgs(imgs)
        effective = self._effective_masking(warn=True)
        study = check_study(imgs, confounds, effective["target_affine"], allow_3d=True)
        kind, n_scans, imgs, headers, confounds = study
        if kind == "surface":
            self._warn_ignored_surface_params()
        self._log(f"Computing the mask of {len(imgs)} image(s)")
        with reading(imgs[0] if len(imgs) == 1 else "the images", "imgs"):
            self._fit_masker(imgs, kind)
        if kind == "volume":
            check_mask_in_field_of_view(self.mask_img_, headers[0])
        if self.reduction_ratio == 1 or self.reduction_ratio == 1.0:
            n_rows = None
            total = sum(n_scans)
        else:
            n_rows = [_reduced_rows(n, self.reduction_ratio, self.n_components) for n in n_scans]
            total = sum(n_rows)
        if self.n_components > total:
            raise ValueError(
                f"n_components must be <= the number of scans available "
                f"({total} after reduction_ratio={self.reduction_ratio!r}), got "
                f"n_components={self.n_components}")
        self._check_n_voxels()
        dict_init = self._masked_dict_init()
        self._fitted_masking = effective
        self._validation = self._validation_data(validation)
        t_mask = time.perf_counter()
        self._log(f"Loading data: masking and cleaning {len(imgs)} image(s) of "
                  f"{self._n_voxels} {'vertices' if kind == 'surface' else 'voxels'}")
        with self._study_array(imgs, confounds, n_rows=n_rows, random_state=self.random_state,
                               study=study, permute=self._permuted_data,
                               check_signal=True) as data:
            self.masking_time_ = time.perf_counter() - t_mask
            self._log(f"Learning {self.n_components} components")
            components = np.asarray(self._fit_array(data, dict_init),
                                    dtype=np.dtype(self._work_dtype))
            self._set_components(components, data)
        self._validation = None
        self.fit_time_ = time.perf_counter() - start
        self._log("Done")
        return self

    def _own_masking(self):
        """Every masking parameter in force, as a masked study records them."""
        return self._effective_masking()

    def _warn_ignored_surface_params(self):
        """Volume-only parameters set for surface images are ignored: say so."""
        import inspect

        defaults = {name: prm.default for name, prm in
                    inspect.signature(type(self).__init__).parameters.items()}
        ignored = [key for key in ("target_affine", "target_shape", "mask_strategy",
                                   "mask_args")
                   if not _same_param(getattr(self, key), defaults.get(key))]
        if ignored:
            warnings.warn(
                "The following parameters are not relevant for SurfaceImage inputs and "
                f"are ignored: {', '.join(ignored)}", UserWarning, stacklevel=3)

    def _check_n_voxels(self):
        if self.n_components > self._n_voxels:
            raise ValueError(
                f"n_components must be <= the number of voxels in the mask "
                f"({self._n_voxels}), got n_components={self.n_components}")

    def _fit_study(self, study, confounds, validation):
        """Fit from a masked study on disk: its masking, its scans read by blocks."""
        if confounds is not None:
            raise ValueError(
                "confounds must be None when fitting a MaskedStudy: the confounds of its "
                "subjects were regressed out when it was masked (see mask_study)")
        if not (self.reduction_ratio == 1 or self.reduction_ratio == 1.0):
            raise ValueError(
                f"reduction_ratio must be 1 when fitting a MaskedStudy (its scans are "
                f"streamed, not reduced per subject), got {self.reduction_ratio!r}")
        self._check_against_study(study)
        if self.n_components > study.n_scans:
            raise ValueError(
                f"n_components must be <= the number of scans available ({study.n_scans} "
                f"in the study), got n_components={self.n_components}")
        self.masker_ = study.masker()
        self.mask_img_ = study.mask_img
        self._n_voxels = study.n_voxels
        self._kind = study.kind
        self._check_n_voxels()
        dict_init = self._masked_dict_init()
        self._fitted_masking = study.masker_params
        self._validation = self._validation_data(validation)
        self.masking_time_ = 0.0
        try:
            components = np.asarray(self._fit_array(study, dict_init), dtype=study.dtype)
            self._set_components(components, study)
        finally:
            self._validation = None

    def _check_against_study(self, study):
        """Refuse masking parameters of the estimator that disagree with the study's."""
        import inspect

        defaults = {name: prm.default for name, prm in
                    inspect.signature(type(self).__init__).parameters.items()}
        stored = study.masker_params
        for key in _MASKING_KEYS:
            mine = getattr(self, key)
            if key not in stored or _same_param(mine, defaults.get(key)) or \
                    _same_param(mine, stored[key]):
                continue
            raise ValueError(
                f"{key}={mine!r} disagrees with the masked study {study.path!r}, which was "
                f"masked with {key}={stored[key]!r}; a study is used with its own masking: "
                f"leave {key} at its default ({defaults.get(key)!r}) or set the study's value")
        if self.mask is not None and not _same_mask(self.mask, study):
            raise ValueError(
                f"mask is not the mask of the masked study {study.path!r}; leave mask=None "
                "to use the study's mask")

    def _validation_data(self, validation):
        """Held-out data in the masker's voxel order, or None."""
        if validation is None:
            return None
        if isinstance(validation, np.ndarray):
            arr = validation
        elif _is_masked_study(validation):
            if validation.n_voxels != self._n_voxels or not _same_mask(self.mask_img_,
                                                                        validation):
                raise ValueError("validation is a masked study with another mask than the "
                                 "training data")
            arr = validation.read_rows(0, validation.n_scans)
        else:
            imgs = check_imgs(validation, "validation")
            study = check_study(imgs, None, self._grid_params()[0], allow_3d=True,
                                name="validation")
            with self._study_array(imgs, None, study=study) as data:
                arr = np.array(data)
        if arr.ndim != 2 or arr.shape[1] != self._n_voxels:
            raise ValueError(f"validation must hold scans of {self._n_voxels} voxels, got "
                             f"an array of shape {arr.shape}")
        return arr

    def _check_params(self):
        """Subclasses validate their own parameters here (before any work)."""

    def _masked_dict_init(self):
        """``dict_init`` as an array (n_components, n_voxels), or None."""
        init = getattr(self, "dict_init", None)
        if init is None:
            return None
        if isinstance(init, np.ndarray) and init.ndim == 2:
            arr = init
        elif self._kind == "surface":
            from nilearn.maskers import SurfaceMasker

            if not _is_surface(init):
                raise ValueError("dict_init must be a SurfaceImage of maps (or an array) "
                                 f"for surface data, got {type(init).__name__}")
            arr = SurfaceMasker(mask_img=self.mask_img_).fit().transform(init)
        else:
            from nilearn.image import load_img, resample_to_img
            from nilearn.masking import apply_mask

            himg = _load_header_img(init, "dict_init") if isinstance(init, (str, Path)) else init
            img = load_img(himg)
            if img.ndim == 3:
                img = load_img(img, dtype=None)
                import nibabel

                img = nibabel.Nifti1Image(np.asarray(img.dataobj)[..., None], img.affine)
            if img.shape[:3] != self.mask_img_.shape or not np.allclose(img.affine,
                                                                       self.mask_img_.affine):
                img = resample_to_img(img, self.mask_img_, interpolation="continuous",
                                      force_resample=True, copy_header=True)
            arr = apply_mask(img, self.mask_img_)
        arr = np.asarray(arr, dtype=np.float64)
        if arr.shape != (self.n_components, self._n_voxels):
            raise ValueError(
                f"dict_init must hold n_components={self.n_components} maps of "
                f"{self._n_voxels} voxels, got {arr.shape[0]} maps of {arr.shape[1]} voxels")
        if not np.all(np.isfinite(arr)):
            raise ValueError("dict_init contains NaN or infinite values")
        return arr

    def _set_components(self, components, data):
        """Flip signs (mostly positive), order by explained variance, make images.

        ``data`` is the training data: an array, data with permuted voxels, or
        a masked study on disk, whose explained variance is estimated on a
        random sample of at most ``_VARIANCE_SCANS`` scans (whole row chunks).
        """
        components = np.array(components, copy=True)
        positive = np.sum(np.maximum(components, 0), axis=1)
        negative = np.sum(np.maximum(-components, 0), axis=1)
        components[negative > positive] *= -1
        variance = _explained_variance_per_component(*_variance_sample(
            data, components, self.random_state))
        order = np.argsort(-variance, kind="stable")
        self.components_ = components[order]
        self.explained_variance_ = variance[order]
        # as nilearn's decomposition estimators: the number of elements of what
        # transform returns (the maps); the voxels are counted by masker_.n_elements_
        self.n_elements_ = int(self.components_.shape[0])
        # least squares on the maps: the pseudo-inverse is computed once per fit
        # (transform and score leave the estimator unchanged)
        self._pinv = _pinv_rows(self.components_)
        self.components_img_ = self.masker_.inverse_transform(self.components_)
        empty = ~np.any(self.components_ != 0, axis=1)
        if np.any(empty):
            warnings.warn(
                f"{int(empty.sum())} of the {len(empty)} maps learned are empty (all zero), "
                f"maps {np.flatnonzero(empty).tolist()} of components_: the sparsity penalty "
                "is too strong or there are more components than the data hold; decrease "
                "the penalty (alpha) or n_components", UserWarning, stacklevel=3)

    # ---------------------------------------------------------- transforms
    def _check_fitted_imgs(self, imgs):
        check_is_fitted(self, "components_")
        return check_imgs(imgs)

    def _check_fitted_study(self, study, confounds):
        check_is_fitted(self, "components_")
        if confounds is not None:
            raise ValueError("confounds must be None for a MaskedStudy (regressed out when "
                             "it was masked)")
        if study.n_voxels != self._n_voxels or not _same_mask(self.mask_img_, study):
            raise ValueError(f"the masked study {study.path!r} has another mask than the "
                             f"one the estimator was fitted with ({study.n_voxels} voxels, "
                             f"expected {self._n_voxels})")
        mine = self._fitted_masking or {}
        for key, value in study.masker_params.items():
            if key in mine and not _same_param(mine[key], value):
                raise ValueError(
                    f"the masked study {study.path!r} was masked with {key}={value!r}, the "
                    f"estimator's data with {key}={mine[key]!r}")

    def _codes(self, data, input_dtype=None):
        pinv = getattr(self, "_pinv", None)
        if pinv is None:  # a model fitted before the pseudo-inverse was kept
            pinv = _pinv_rows(self.components_)
        codes = data @ pinv.astype(data.dtype, copy=False)
        target = self._output_dtype(input_dtype if input_dtype is not None else data.dtype)
        return codes if target is None else codes.astype(target, copy=False)

    def transform(self, imgs, confounds=None):
        """Time courses of the components in each image.

        Each image is masked and cleaned exactly as at fit time, then its scans
        are regressed on the components (least squares).

        Parameters
        ----------
        imgs : list of Niimg-like objects or SurfaceImage, or MaskedStudy
            4D images (a 3D image is one scan), paths, glob patterns or
            surface images; a single image is accepted.
        confounds : list, default=None
            One entry per image.

        Returns
        -------
        loadings : list of ndarray of shape (n_scans, n_components)
            One array per image, every component included.  Their dtype is
            the float type of the masked data, or the one ``dtype`` asks for
            (as nilearn: ``'auto'`` gives int32 for images of integers).
        """
        if _is_masked_study(imgs):
            self._check_fitted_study(imgs, confounds)
            return [self._codes(imgs.read_subject(i)) for i in range(len(imgs.subjects))]
        imgs = self._check_fitted_imgs(imgs)
        kind, n_scans, imgs, headers, confounds = check_study(
            imgs, confounds, self._grid_params()[0], allow_3d=True)
        out = []
        for i, img in enumerate(imgs):
            conf = None if confounds is None else [confounds[i]]
            study = (kind, [n_scans[i]], [img], None if headers is None else [headers[i]], conf)
            with self._study_array([img], conf, study=study) as data:
                out.append(self._codes(data, _image_dtype(img if kind == "surface"
                                                          else headers[i])))
        return out

    def inverse_transform(self, loadings):
        """Images from time courses: ``loadings @ components_`` in brain space.

        Parameters
        ----------
        loadings : list of ndarray of shape (n_scans, n_components), or one array
            Time courses, as ``transform`` returns them.  Boolean arrays are
            cast to float (with a warning); NaN or infinite values are refused.

        Returns
        -------
        imgs : list of images (or one image when one array is given)
            Of the dtype of the loadings, or the one ``dtype`` asks for.
        """
        check_is_fitted(self, "components_")
        k = self.components_.shape[0]
        arrays, single = check_loadings(loadings, k)
        out = []
        for load in arrays:
            if load.dtype.kind == "b":
                warnings.warn("Casting boolean input to float: loadings are given as booleans",
                              UserWarning, stacklevel=2)
                load = load.astype(self.components_.dtype)
            target = self._output_dtype(load.dtype) or load.dtype
            signals = load.astype(np.float64, copy=False) @ self.components_.astype(np.float64)
            if target.kind in "iu":
                signals = np.rint(signals)
            out.append(self.masker_.inverse_transform(signals.astype(target, copy=False)))
        return out[0] if single else out

    def score(self, imgs, y=None, confounds=None, per_component=False):
        """Explained variance of the images by the components (as nilearn).

        The images are masked and cleaned as at fit time.  With
        ``per_component=False``: ``1 - ||X - fit||^2 / ||X||^2`` where each scan
        is regressed on all components (with an intercept); with
        ``per_component=True``: for each component alone, ``1 - var(X - proj) /
        var(X)``.

        Parameters
        ----------
        imgs : list of Niimg-like objects or SurfaceImage, or MaskedStudy
        y : None
            Ignored, for scikit-learn compatibility.
        confounds : list, default=None
            One entry per image.
        per_component : bool, default=False

        Returns
        -------
        score : float or ndarray of shape (n_components,)
        """
        if _is_masked_study(imgs):
            self._check_fitted_study(imgs, confounds)
            context = contextlib.nullcontext(imgs)
        else:
            context = self._study_array(self._check_fitted_imgs(imgs), confounds)
        with context as data:
            if per_component:
                return _explained_variance_per_component(data, self.components_)
            return _explained_variance_total(data, self.components_)

    def set_output(self, *, transform=None):
        """Not available: ``transform`` returns a list of arrays, one per image.

        Raises
        ------
        NotImplementedError
            Always (as nilearn's decomposition estimators).
        """
        raise NotImplementedError(
            f"{type(self).__name__}.set_output is not available: transform returns a list of "
            "arrays (one per image), not one table")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "components_")


def _pinv_rows(components):
    """Pseudo-inverse of the maps (n_components, n_voxels), as ``C^T pinv(C C^T)``:
    the identity holds for any matrix, and costs a k x k inverse instead of an SVD
    of the maps."""
    components = components.astype(np.float64)
    return components.T @ np.linalg.pinv(components @ components.T)


def _image_dtype(img):
    """The dtype of an image's data (a nibabel image or a SurfaceImage)."""
    if _is_surface(img):
        return np.asarray(next(iter(img.data.parts.values()))).dtype
    return np.dtype(img.get_data_dtype())


def _prepare_subject(img, confounds, *, kind, mask_img, dtype, target_affine, target_shape,
                     **clean):
    """Mask and clean one subject (module level so that joblib can cache it)."""
    from . import _signal

    if kind == "surface":
        data = _signal.surface_mask_and_clean(img, mask_img, confounds=confounds, **clean)
    else:
        data = _signal.mask_and_clean(img, mask_img, confounds=confounds,
                                      target_affine=target_affine, target_shape=target_shape,
                                      dtype=dtype, **clean)
    return np.ascontiguousarray(data, dtype=dtype)
