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

__all__ = ["BaseImageDecomposition"]

# masked data larger than this fraction of the available memory go to a
# memory-mapped file on disk instead of RAM (the learners stream it in batches)
_MEMMAP_FRACTION = 0.4
_MEMMAP_FORCE = False  # tests set this to exercise the on-disk path


def _is_surface(img):
    from nilearn.surface import SurfaceImage

    return isinstance(img, SurfaceImage)


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


def _load_header_img(img, name):
    """A nibabel image (data not loaded) for a path or an image."""
    import nibabel

    if isinstance(img, (str, Path)):
        path = os.path.expanduser(str(img))
        if not os.path.exists(path):
            raise ValueError(f"{name}: file not found: {path!r}")
        try:
            return nibabel.load(path)
        except Exception as exc:  # nibabel raises several types
            raise ValueError(f"{name}: could not read {path!r} as an image ({exc})") from exc
    if isinstance(img, nibabel.spatialimages.SpatialImage):
        return img
    raise ValueError(
        f"{name} must be 4D Niimg-like objects (paths or nibabel images) or "
        f"SurfaceImage objects, got {type(img).__name__}")


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

    # ---------------------------------------------------------- parameters
    def _masker_params(self):
        return dict(
            smoothing_fwhm=self.smoothing_fwhm,
            standardize=self.standardize,
            standardize_confounds=self.standardize_confounds,
            detrend=self.detrend,
            low_pass=self.low_pass,
            high_pass=self.high_pass,
            t_r=self.t_r,
        )

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
        if self.dtype is None or self.dtype == "auto":
            return np.float32
        return np.dtype(self.dtype).type

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
        return dict(kind=self._kind, mask_img=self.mask_img_,
                    target_affine=self.target_affine, target_shape=self.target_shape,
                    dtype=self._work_dtype, **self._masker_params())

    @contextlib.contextmanager
    def _study_array(self, imgs, confounds, n_rows=None, random_state=None, study=None):
        """Mask, clean (and reduce) every image into one array, for a ``with`` block.

        The array is allocated once (in RAM, or as a memory-mapped file when it
        is large, deleted when the block ends) and each subject is written into
        its rows: there is no second copy of the study.  ``study`` is the
        result of :func:`_check_study` when the caller has already checked the
        images (their headers are not read twice).
        """
        kind, n_scans, _, confounds = study or _check_study(imgs, confounds,
                                                            self.target_affine)
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
        seeds = (check_random_state(random_state).randint(np.iinfo(np.int32).max, size=len(imgs))
                 if n_rows is not None else [None] * len(imgs))

        def work(i):
            subject = func(imgs[i], confounds[i], **args)
            if subject.shape[1] != n_features:  # pragma: no cover - defensive
                raise ValueError(f"imgs[{i}] gave {subject.shape[1]} features, "
                                 f"expected {n_features}")
            if n_rows is not None:
                subject = _reduce_in_time(subject, n_rows[i], seeds[i])
            data[starts[i]:starts[i + 1]] = subject

        try:
            # one BLAS thread for the whole masking: the limit is global to the
            # process, so a subject finishing first would otherwise give the
            # threads back while another is still cleaning (and OpenBLAS rounds
            # differently with one and two threads)
            from ._signal import _single_threaded_blas

            with _single_threaded_blas():
                Parallel(n_jobs=self.n_jobs, prefer="threads")(
                    delayed(work)(i) for i in range(len(imgs)))
            yield data
        finally:
            del data
            if tmpdir is not None:
                shutil.rmtree(tmpdir, ignore_errors=True)

    # ---------------------------------------------------------- fitting
    def fit(self, imgs, y=None, confounds=None):
        """Compute the mask and the components across subjects.

        Parameters
        ----------
        imgs : list of Niimg-like objects or of SurfaceImage
            4D images (paths, glob patterns or nibabel images), one per run or
            subject, or surface images.  A single image is accepted.
        y : None
            Ignored, for scikit-learn compatibility.
        confounds : list of arrays, CSV paths or DataFrames, default=None
            One entry per image, regressed out of its signals.

        Returns
        -------
        self : object
        """
        start = time.perf_counter()
        self._check_base_params()
        self._check_params()
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
        if self.n_components > self.n_elements_:
            raise ValueError(
                f"n_components must be <= the number of voxels in the mask "
                f"({self.n_elements_}), got n_components={self.n_components}")
        dict_init = self._masked_dict_init()
        t_mask = time.perf_counter()
        with self._study_array(imgs, confounds, n_rows=n_rows, random_state=self.random_state,
                               study=study) as data:
            self.masking_time_ = time.perf_counter() - t_mask
            components = np.asarray(self._fit_array(data, dict_init), dtype=data.dtype)
            self._set_components(components, data)
        self.fit_time_ = time.perf_counter() - start
        return self

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
        """Flip signs (mostly positive), order by explained variance, make images."""
        components = np.array(components, copy=True)
        positive = np.sum(np.maximum(components, 0), axis=1)
        negative = np.sum(np.maximum(-components, 0), axis=1)
        components[negative > positive] *= -1
        variance = _explained_variance_per_component(data, components)
        order = np.argsort(-variance, kind="stable")
        self.components_ = components[order]
        self.explained_variance_ = variance[order]
        self._pinv = None
        self.components_img_ = self.masker_.inverse_transform(self.components_)

    # ---------------------------------------------------------- transforms
    def _check_fitted_imgs(self, imgs):
        check_is_fitted(self, "components_")
        return _expand_imgs(imgs)

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
        imgs = self._check_fitted_imgs(imgs)
        kind, n_scans, headers, confounds = _check_study(imgs, confounds, self.target_affine)
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
        imgs = self._check_fitted_imgs(imgs)
        with self._study_array(imgs, confounds) as data:
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


def _explained_variance_per_component(X, components):
    """``1 - var(X - (X c) c^T) / var(X)`` for each unit-normed component ``c``."""
    comps = np.asarray(components, dtype=np.float64)
    norms = np.linalg.norm(comps, axis=1)
    norms[norms == 0] = 1
    comps = comps / norms[:, None]
    n = X.size
    sum_x = 0.0
    sq_x = 0.0
    proj = np.zeros((X.shape[0], comps.shape[0]))
    comps_t = comps.T.astype(X.dtype)
    step = 4096
    for start in range(0, X.shape[0], step):
        block = X[start:start + step]
        sum_x += float(block.sum(dtype=np.float64))
        sq_x += float(np.einsum("ij,ij->", block, block, dtype=np.float64))
        proj[start:start + step] = block @ comps_t
    full_var = sq_x / n - (sum_x / n) ** 2
    if full_var <= 0:
        return np.zeros(comps.shape[0])
    # ||X - p c^T||^2 = ||X||^2 - ||p||^2 for unit c; sum(X - p c^T) = sum X - sum p sum c
    res_sq = sq_x - np.sum(proj ** 2, axis=0)
    res_sum = sum_x - proj.sum(axis=0) * comps.sum(axis=1)
    res_var = res_sq / n - (res_sum / n) ** 2
    return np.maximum(0.0, 1.0 - res_var / full_var)


def _explained_variance_total(X, components):
    """Each scan regressed on all components with an intercept, as nilearn."""
    comps = np.asarray(components, dtype=np.float64)
    # regression of each scan (over voxels) on [components, 1] with an intercept:
    # centre the design and the scans over voxels
    design = comps - comps.mean(axis=1, keepdims=True)
    pinv = np.linalg.pinv(design.T)  # (k, p)
    res_total = 0.0
    total = 0.0
    step = 2048
    for start in range(0, X.shape[0], step):
        block = np.asarray(X[start:start + step], dtype=np.float64)
        centred = block - block.mean(axis=1, keepdims=True)
        coef = centred @ pinv.T
        # as nilearn: the intercept stays in the residual
        res = block - coef @ comps
        res_total += np.einsum("ij,ij->", res, res)
        total += np.einsum("ij,ij->", block, block)
    if total == 0:
        return 0.0
    return float(max(0.0, 1.0 - res_total / total))
