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

# masked data larger than _MEMMAP_FRACTION of the available memory go to a
# memory-mapped file on disk instead of RAM (the learners stream it in batches)
_MEMMAP_FORCE = False  # tests set this to exercise the on-disk path


def _expand_imgs(imgs, name="imgs"):
    """A list of images from an image, a path, a glob or a list of them."""
    if isinstance(imgs, (str, Path)):
        text = str(imgs)
        if glob.has_magic(text):
            matches = sorted(glob.glob(os.path.expanduser(text)))
            if not matches:
                raise ValueError(f"{name}: no file matches the pattern {text!r}")
            return matches
        return [imgs]
    if hasattr(imgs, "shape") or _is_surface(imgs) or not hasattr(imgs, "__iter__"):
        return [imgs]
    imgs = list(imgs)
    if not imgs:
        raise ValueError(f"{name} must be one or more 4D images, got an empty list")
    out = []
    for img in imgs:
        if isinstance(img, (str, Path)) and glob.has_magic(str(img)):
            out.extend(_expand_imgs(img, name))
        else:
            out.append(img)
    return out


def _check_study(imgs, confounds, target_affine):
    """Validate images and confounds; return (kind, n_scans per image, headers)."""
    from nilearn.exceptions import DimensionError

    surface = [_is_surface(img) for img in imgs]
    if any(surface) and not all(surface):
        raise ValueError("imgs mixes SurfaceImage and volume images; give one kind")
    if confounds is not None:
        if not isinstance(confounds, (list, tuple)):
            confounds = [confounds]
        if len(confounds) != len(imgs):
            raise ValueError(
                f"confounds must be a list with one entry per image: expected "
                f"{len(imgs)} entries, got {len(confounds)}")
    if all(surface):
        n_scans = []
        for i, img in enumerate(imgs):
            shape = img.shape
            if len(shape) != 2:
                raise DimensionError(len(shape), 2)
            n_scans.append(int(shape[1]))
        meshes = [img.mesh for img in imgs]
        ref = meshes[0]
        for i, mesh in enumerate(meshes[1:], 1):
            same = all(np.array_equal(np.asarray(ref.parts[h].coordinates),
                                      np.asarray(mesh.parts[h].coordinates))
                       for h in ref.parts) if set(ref.parts) == set(mesh.parts) else False
            if not same:
                raise ValueError(f"imgs[{i}] is on another mesh than imgs[0]; all surface "
                                 "images must share one mesh")
        return "surface", n_scans, list(imgs), confounds
    headers = []
    n_scans = []
    for i, img in enumerate(imgs):
        himg = _load_header_img(img, f"imgs[{i}]")
        shape = himg.shape
        if len(shape) == 3:
            raise DimensionError(3, 4)
        if len(shape) != 4:
            raise ValueError(
                f"expected 4D images, got a {len(shape)}D image of shape {shape} "
                f"for imgs[{i}]")
        headers.append(himg)
        n_scans.append(int(shape[3]))
    if target_affine is None:
        ref = headers[0]
        for i, himg in enumerate(headers[1:], 1):
            if himg.shape[:3] != ref.shape[:3] or not np.allclose(himg.affine, ref.affine,
                                                                  atol=1e-4):
                raise ValueError(
                    f"all images must share one grid (shape and affine) unless "
                    f"target_affine is given: imgs[0] has shape {ref.shape[:3]} and "
                    f"affine {np.round(ref.affine, 3).tolist()}, imgs[{i}] has shape "
                    f"{himg.shape[:3]} and affine {np.round(himg.affine, 3).tolist()}")
    return "volume", n_scans, headers, confounds


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
    if isinstance(mask, (str, Path)):
        _load_header_img(mask, "mask")
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
            "the mask is empty: it selects 0 voxels (check mask, mask_strategy and "
            "mask_args)")
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

    # ---------------------------------------------------------- parameters
    def _masker_params(self):
        """The cleaning parameters used for masking: the fitted ones once fitted
        (a model fitted from a masked study uses the study's)."""
        fitted = getattr(self, "_fitted_masking", None)
        if fitted is not None:
            return {key: fitted[key] for key in _CLEAN_KEYS}
        return {key: getattr(self, key) for key in _CLEAN_KEYS}

    def _grid_params(self):
        fitted = getattr(self, "_fitted_masking", None)
        if fitted is not None:
            return fitted["target_affine"], fitted["target_shape"]
        return self.target_affine, self.target_shape

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
        if self.dtype is not None and self.dtype != "auto":
            dt = np.dtype(self.dtype)
            if dt.kind != "f":
                raise ValueError(f"dtype must be a float dtype, 'auto' or None, got {self.dtype!r}")

    @property
    def _work_dtype(self):
        fitted = getattr(self, "_fitted_masking", None)
        dtype = fitted["dtype"] if fitted is not None else self.dtype
        if dtype is None or dtype == "auto":
            return np.float32
        return np.dtype(dtype).type

    # ---------------------------------------------------------- masking
    def _make_masker(self, kind):
        return _make_masker(
            kind, self.mask, self._masker_params(), target_affine=self.target_affine,
            target_shape=self.target_shape, mask_strategy=self.mask_strategy,
            mask_args=self.mask_args, memory=self.memory, memory_level=self.memory_level,
            verbose=self.verbose, n_jobs=self.n_jobs)

    def _fit_masker(self, imgs, kind):
        masker, mask_img, n_elements = _fit_masker(self._make_masker(kind), imgs, kind)
        self.masker_ = masker
        self.mask_img_ = mask_img
        self.n_elements_ = n_elements
        self._kind = kind

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
                     permute=False):
        """Mask, clean (and reduce) every image into one array, for a ``with`` block.

        The array is allocated once (in RAM, or as a memory-mapped file when it
        is large, deleted when the block ends) and each subject is written into
        its rows: there is no second copy of the study.  ``study`` is the
        result of :func:`_check_study` when the caller has already checked the
        images (their headers are not read twice).  With ``permute``, the voxels
        are written in a random order drawn from ``random_state`` and the block
        yields a :class:`~nimf.sources.PermutedFeatures` (as a study on disk).
        """
        kind, n_scans, _, confounds = study or _check_study(imgs, confounds,
                                                            self._grid_params()[0])
        if kind != self._kind:
            raise ValueError(f"the estimator was fitted on {self._kind} images, got {kind} images")
        if confounds is None:
            confounds = [None] * len(imgs)
        rows = n_scans if n_rows is None else n_rows
        total = int(sum(rows))
        n_features = self.n_elements_
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
            subject = func(imgs[i], confounds[i], **args)
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
        imgs = _expand_imgs(imgs)
        study = _check_study(imgs, confounds, self.target_affine)
        kind, n_scans, _, confounds = study
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
        self._fit_masker(imgs, kind)
        self._check_n_voxels()
        dict_init = self._masked_dict_init()
        self._fitted_masking = self._own_masking()
        self._validation = self._validation_data(validation)
        t_mask = time.perf_counter()
        with self._study_array(imgs, confounds, n_rows=n_rows, random_state=self.random_state,
                               study=study, permute=self._permuted_data) as data:
            self.masking_time_ = time.perf_counter() - t_mask
            components = np.asarray(self._fit_array(data, dict_init),
                                    dtype=np.dtype(self._work_dtype))
            self._set_components(components, data)
        self._validation = None
        self.fit_time_ = time.perf_counter() - start
        return self

    def _own_masking(self):
        """Every masking parameter of the estimator, as a masked study records them."""
        return {key: getattr(self, key) for key in _MASKING_KEYS}

    def _check_n_voxels(self):
        if self.n_components > self.n_elements_:
            raise ValueError(
                f"n_components must be <= the number of voxels in the mask "
                f"({self.n_elements_}), got n_components={self.n_components}")

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
        self.n_elements_ = study.n_voxels
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
            if validation.n_voxels != self.n_elements_ or not _same_mask(self.mask_img_,
                                                                        validation):
                raise ValueError("validation is a masked study with another mask than the "
                                 "training data")
            arr = validation.read_rows(0, validation.n_scans)
        else:
            imgs = _expand_imgs(validation, "validation")
            kind, n_scans, _, _ = _check_study(imgs, None, self._grid_params()[0])
            with self._study_array(imgs, None, study=(kind, n_scans, None, None)) as data:
                arr = np.array(data)
        if arr.ndim != 2 or arr.shape[1] != self.n_elements_:
            raise ValueError(f"validation must hold scans of {self.n_elements_} voxels, got "
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
        if arr.shape != (self.n_components, self.n_elements_):
            raise ValueError(
                f"dict_init must hold n_components={self.n_components} maps of "
                f"{self.n_elements_} voxels, got {arr.shape[0]} maps of {arr.shape[1]} voxels")
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
        self._pinv = None
        self.components_img_ = self.masker_.inverse_transform(self.components_)

    # ---------------------------------------------------------- transforms
    def _check_fitted_imgs(self, imgs):
        check_is_fitted(self, "components_")
        return _expand_imgs(imgs)

    def _check_fitted_study(self, study, confounds):
        check_is_fitted(self, "components_")
        if confounds is not None:
            raise ValueError("confounds must be None for a MaskedStudy (regressed out when "
                             "it was masked)")
        if study.n_voxels != self.n_elements_ or not _same_mask(self.mask_img_, study):
            raise ValueError(f"the masked study {study.path!r} has another mask than the "
                             f"one the estimator was fitted with ({study.n_voxels} voxels, "
                             f"expected {self.n_elements_})")
        mine = self._fitted_masking or {}
        for key, value in study.masker_params.items():
            if key in mine and not _same_param(mine[key], value):
                raise ValueError(
                    f"the masked study {study.path!r} was masked with {key}={value!r}, the "
                    f"estimator's data with {key}={mine[key]!r}")

    def _codes(self, data):
        # least squares on the maps; the pseudo-inverse is computed once per fit
        if getattr(self, "_pinv", None) is None:
            self._pinv = np.linalg.pinv(self.components_.astype(np.float64))
        return data @ self._pinv.astype(data.dtype, copy=False)

    def transform(self, imgs, confounds=None):
        """Time courses of the components in each image.

        Each image is masked and cleaned exactly as at fit time, then its scans
        are regressed on the components (least squares).

        Parameters
        ----------
        imgs : list of Niimg-like objects or SurfaceImage
        confounds : list, default=None
            One entry per image.

        Returns
        -------
        loadings : list of ndarray of shape (n_scans, n_components)
            One array per image, every component included.
        """
        if _is_masked_study(imgs):
            self._check_fitted_study(imgs, confounds)
            return [self._codes(imgs.read_subject(i)) for i in range(len(imgs.subjects))]
        imgs = self._check_fitted_imgs(imgs)
        kind, n_scans, headers, confounds = _check_study(imgs, confounds,
                                                         self._grid_params()[0])
        out = []
        for i, img in enumerate(imgs):
            conf = None if confounds is None else [confounds[i]]
            with self._study_array([img], conf, study=(kind, [n_scans[i]], None, conf)) as data:
                out.append(self._codes(data))
        return out

    def inverse_transform(self, loadings):
        """Images from time courses: ``loadings @ components_`` in brain space.

        Parameters
        ----------
        loadings : list of ndarray of shape (n_scans, n_components), or one array

        Returns
        -------
        imgs : list of images (or one image when one array is given)
        """
        check_is_fitted(self, "components_")
        single = isinstance(loadings, np.ndarray)
        if single:
            loadings = [loadings]
        if not isinstance(loadings, (list, tuple)):
            raise ValueError(
                f"loadings must be a list of arrays of shape (n_scans, {self.components_.shape[0]}), "
                f"got {type(loadings).__name__}")
        k = self.components_.shape[0]
        out = []
        for i, load in enumerate(loadings):
            load = np.asarray(load)
            if load.ndim != 2 or load.shape[1] != k:
                raise ValueError(
                    f"loadings[{i}] must have shape (n_scans, {k}), got {load.shape}")
            out.append(self.masker_.inverse_transform(load.astype(self.components_.dtype) @
                                                      self.components_))
        return out[0] if single else out

    def score(self, imgs, y=None, confounds=None, per_component=False):
        """Explained variance of the images by the components (as nilearn).

        The images are masked and cleaned as at fit time.  With
        ``per_component=False``: ``1 - ||X - fit||^2 / ||X||^2`` where each scan
        is regressed on all components (with an intercept); with
        ``per_component=True``: for each component alone, ``1 - var(X - proj) /
        var(X)``.

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

    def __sklearn_is_fitted__(self):
        return hasattr(self, "components_")


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
