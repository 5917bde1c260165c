"""The masked data of the image estimators: in memory, permuted, or on disk.

Explained variances of maps over any of them (block by block, in the storage
order of the voxels), the sample of a study on disk they are measured on, a
study read whole when a solver needs it, and the comparisons of masking
parameters and masks between an estimator and a study.
"""

import os
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from .._validation import available_memory
from ..sources import RowSubset, as_source

# masked data larger than this fraction of the available memory go to a
# memory-mapped file on disk instead of RAM (the learners stream it in batches)
_MEMMAP_FRACTION = 0.4


def _is_surface(img):
    from nilearn.surface import SurfaceImage

    return isinstance(img, SurfaceImage)


def _load_header_img(img, name):
    """A nibabel image (data not loaded) for a path or an image."""
    from ._checks import load_header_img

    return load_header_img(img, name)


def _blocks_in_storage_order(X, components, step):
    """Row blocks of ``X`` (array, permuted data or study) and the components in
    the same (storage) voxel order: explained variances do not depend on it."""
    source = as_source(X)
    comps = np.asarray(components, dtype=np.float64)
    if source.feature_order is not None:
        comps = comps[:, source.feature_order]
    return source, comps, (block for _, block in source.iter_row_blocks(step=step))


def _explained_variance_per_component(X, components):
    """``1 - var(X - (X c) c^T) / var(X)`` for each unit-normed component ``c``."""
    source, comps, blocks = _blocks_in_storage_order(X, components, 4096)
    norms = np.linalg.norm(comps, axis=1)
    norms[norms == 0] = 1
    comps = comps / norms[:, None]
    n = source.n_samples * source.n_features
    sum_x = 0.0
    sq_x = 0.0
    proj = np.zeros((source.n_samples, comps.shape[0]))
    comps_t = comps.T.astype(source.dtype)
    start = 0
    for block in blocks:
        sum_x += float(block.sum(dtype=np.float64))
        sq_x += float(np.einsum("ij,ij->", block, block, dtype=np.float64))
        proj[start:start + block.shape[0]] = block @ comps_t
        start += block.shape[0]
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
    _, comps, blocks = _blocks_in_storage_order(X, components, 2048)
    # regression of each scan (over voxels) on [components, 1] with an intercept:
    # centre the design and the scans over voxels
    design = comps - comps.mean(axis=1, keepdims=True)
    pinv = np.linalg.pinv(design.T)  # (k, p)
    res_total = 0.0
    total = 0.0
    for block in blocks:
        block = np.asarray(block, dtype=np.float64)
        centred = block - block.mean(axis=1, keepdims=True)
        coef = centred @ pinv.T
        # as nilearn: the intercept stays in the residual
        res = block - coef @ comps
        res_total += np.einsum("ij,ij->", res, res)
        total += np.einsum("ij,ij->", block, block)
    if total == 0:
        return 0.0
    return float(max(0.0, 1.0 - res_total / total))


# explained variance of the maps of a study on disk: estimated on this many scans
_VARIANCE_SCANS = 1000


def _variance_sample(data, components, random_state):
    """``(data, components)`` on which to measure the explained variance of maps.

    Data in memory are used whole; a masked study on disk is sampled: random
    whole row chunks, ``_VARIANCE_SCANS`` scans at most.
    """
    if not _is_masked_study(data):
        return data, components
    source = as_source(data)
    n = source.n_samples
    if n <= _VARIANCE_SCANS:
        rows = np.arange(n, dtype=np.int64)
    else:
        chunk = source.row_chunk
        n_chunks = -(-n // chunk)
        rng = check_random_state(random_state)
        take = max(1, _VARIANCE_SCANS // chunk)
        chunks = np.sort(rng.choice(n_chunks, size=min(n_chunks, take), replace=False))
        rows = np.concatenate([np.arange(c * chunk, min(n, (c + 1) * chunk)) for c in chunks])
    # read by blocks as it is used, never held whole
    return RowSubset(source, rows.astype(np.int64)), components


def _fits_in_memory(data):
    """Whether ``data`` (an array, permuted data or a study) fits comfortably in memory."""
    if isinstance(data, np.ndarray):
        return True
    source = as_source(data)
    nbytes = source.n_samples * source.n_features * source.dtype.itemsize
    return nbytes <= _MEMMAP_FRACTION * available_memory()


def _load_whole(data, what):
    """A masked study (or permuted data) as one array in the masker's voxel order.

    For the solvers that need every scan at every iteration: a study that does
    not fit comfortably in memory is refused with a clear error.
    """
    if isinstance(data, np.ndarray):
        return data
    source = as_source(data)
    nbytes = source.n_samples * source.n_features * source.dtype.itemsize
    if not _fits_in_memory(data):
        where = f" {data.path!r}" if _is_masked_study(data) else ""
        raise ValueError(
            f"{what} needs the whole masked study{where} in memory ({nbytes / 2 ** 30:.1f} "
            f"GiB), more than {_MEMMAP_FRACTION:.0%} of the memory available now; "
            "DictLearning and SparsePCA stream a study from disk")
    out = np.empty((source.n_samples, source.n_features), dtype=source.dtype)
    for start, block in source.iter_row_blocks():
        if source.feature_order is None:
            out[start:start + block.shape[0]] = block
        else:
            out[start:start + block.shape[0], source.feature_order] = block
    return out


def _is_masked_study(obj):
    from .study import MaskedStudy

    return isinstance(obj, MaskedStudy)


def _same_param(a, b):
    """Whether two masking parameter values are the same (arrays, tuples, lists)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
        if isinstance(a, str) and isinstance(b, str):
            try:  # dtypes given as strings or types
                return np.dtype(a) == np.dtype(b)
            except TypeError:
                return a == b
        return type(a) is type(b) and a == b
    if isinstance(a, dict) or isinstance(b, dict):
        return a == b
    try:
        if isinstance(a, type) or isinstance(b, type):
            return np.dtype(a) == np.dtype(b)
        return bool(np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))
    except (TypeError, ValueError):
        return a == b


def _same_mask(mask, study):
    """Whether ``mask`` (image, masker or mask of a study) selects the study's voxels."""
    from nilearn.maskers import MultiNiftiMasker, NiftiMasker, SurfaceMasker

    if isinstance(mask, (NiftiMasker, MultiNiftiMasker, SurfaceMasker)):
        mask = getattr(mask, "mask_img_", None) or mask.mask_img
        if mask is None:
            return True
    other = study.mask_img
    if _is_surface(mask) or _is_surface(other):
        if not (_is_surface(mask) and _is_surface(other)):
            return False
        if set(mask.data.parts) != set(other.data.parts):
            return False
        return all(np.array_equal(np.asarray(mask.data.parts[h]).astype(bool).ravel(),
                                  np.asarray(other.data.parts[h]).astype(bool).ravel())
                   for h in mask.data.parts)
    img = _load_header_img(mask, "mask") if isinstance(mask, (str, Path)) else mask
    return (img.shape[:3] == other.shape[:3] and np.allclose(img.affine, other.affine)
            and np.array_equal(np.asarray(img.dataobj).astype(bool),
                               np.asarray(other.dataobj).astype(bool)))
