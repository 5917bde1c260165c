"""The checks of the images given to nimf's image estimators, in one place.

Every image input (``imgs`` of ``fit``, ``transform`` and ``score``, the
``mask``, the ``confounds``, the ``loadings`` of ``inverse_transform``) goes
through these functions before any masking or learning starts.  A bad input
raises a ``ValueError`` or ``TypeError`` whose message names the input, says
what was expected and what was given.

What is checked without reading the images' data (headers only, and four bytes
at the end of a compressed file): types, paths, globs, dimensions, grids,
truncated files, the field of view of the mask; what needs the data is checked
on the masked data, before the learner starts (images without signal).
"""

import contextlib
import glob
import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["check_imgs", "check_study", "check_mask_in_field_of_view", "check_loadings",
           "check_masked_signal", "describe", "reading", "ImageDimensionError"]


try:  # nilearn's own dimension error (a TypeError), with nimf's message
    from nilearn.exceptions import DimensionError as _DimensionError
except ImportError:  # pragma: no cover
    _DimensionError = TypeError


class ImageDimensionError(_DimensionError):
    """An image of the wrong dimension (a ``TypeError``, and nilearn's ``DimensionError``)."""

    def __init__(self, message):
        TypeError.__init__(self, message)
        self.file_dimension = None
        self.required_dimension = None
        self.stack_counter = 0
        self._message = message

    @property
    def message(self):
        return self._message

    def __str__(self):
        return self._message


def describe(value):
    """A short description of a value for an error message."""
    if value is None:
        return "None"
    try:
        from scipy import sparse

        if sparse.issparse(value):
            return (f"a scipy sparse matrix ({type(value).__name__} of shape {value.shape}); "
                    "sparse input is not supported")
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape} (dtype {value.dtype})"
    if isinstance(value, (str, bytes)):
        return f"the {type(value).__name__} {value!r}"
    return f"a {type(value).__name__}"


def _is_surface(img):
    from nilearn.surface import SurfaceImage

    return isinstance(img, SurfaceImage)


def _is_spatial_image(img):
    import nibabel

    return isinstance(img, nibabel.spatialimages.SpatialImage)


# ---------------------------------------------------------------------- files
def _check_file_complete(img, path, name):
    """Refuse a truncated image file, from its size (cheap: no data is read).

    For ``.gz`` files the uncompressed size is stored (modulo 2**32) in the
    last four bytes: when it disagrees with the header, the file is
    decompressed once to be sure (a multi-member gzip file disagrees too).
    """
    proxy = getattr(img, "dataobj", None)
    offset = getattr(proxy, "offset", None)
    if offset is None or not hasattr(img, "get_data_dtype"):
        return
    expected = int(offset) + int(np.prod(img.shape)) * np.dtype(img.get_data_dtype()).itemsize
    size = os.path.getsize(path)
    if path.endswith(".gz"):
        if size < 18:
            raise ValueError(f"{name}: the file {path!r} is truncated or corrupt: it holds "
                             f"{size} bytes, too few for a gzip-compressed image")
        with open(path, "rb") as f:
            f.seek(-4, os.SEEK_END)
            stored = struct.unpack("<I", f.read(4))[0]
        if stored == expected % 2 ** 32:
            return
        n_bytes = 0
        try:
            with gzip.open(path, "rb") as f:
                while True:
                    block = f.read(1 << 24)
                    if not block:
                        break
                    n_bytes += len(block)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(
                f"{name}: the file {path!r} is truncated or corrupt: its header describes an "
                f"image of shape {img.shape} ({expected} bytes uncompressed), but decompressing "
                f"it fails after {n_bytes} bytes ({exc})") from exc
        if n_bytes < expected:
            raise ValueError(
                f"{name}: the file {path!r} is truncated: its header describes an image of "
                f"shape {img.shape} ({expected} bytes uncompressed), it holds {n_bytes} bytes")
    elif size < expected:
        raise ValueError(
            f"{name}: the file {path!r} is truncated: its header describes an image of shape "
            f"{img.shape} ({expected} bytes), the file holds {size} bytes")


def load_header_img(img, name):
    """A nibabel image (data not loaded) for a path or an image; a clear error otherwise."""
    import nibabel

    if isinstance(img, (str, Path)):
        path = os.path.expanduser(str(img))
        if not os.path.exists(path):
            raise ValueError(f"{name}: file not found: {path!r}")
        if os.path.isdir(path):
            raise ValueError(f"{name} must be the path of an image file, got the folder {path!r}")
        try:
            loaded = nibabel.load(path)
        except Exception as exc:  # nibabel raises several types
            raise ValueError(
                f"{name}: could not read {path!r} as an image (expected a NIfTI file, "
                f".nii or .nii.gz): {exc}") from exc
        _check_file_complete(loaded, path, name)
        return loaded
    if _is_spatial_image(img):
        return img
    raise TypeError(
        f"{name} must be a Niimg-like object (the path of a NIfTI file or a nibabel image) "
        f"or a SurfaceImage, got {describe(img)}")


@contextlib.contextmanager
def reading(img, name):
    """Turn the errors of reading a damaged image file into a clear ``ValueError``."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise read_error(exc, img, name) from exc
    except OSError as exc:
        if "damaged" not in str(exc) and "gzip" not in str(exc).lower():
            raise
        raise read_error(exc, img, name) from exc


def read_error(exc, img, name):
    """A clear error for a failure to read an image's data (raised from ``exc``)."""
    what = repr(str(img)) if isinstance(img, Path) or (isinstance(img, str) and
                                                       img != "the images") else str(img)
    if not isinstance(img, (str, Path)):
        what = "the image"
    return ValueError(f"{name}: could not read the data of {what}: the file is truncated or "
                      f"corrupt ({type(exc).__name__}: {exc})")


# ---------------------------------------------------------------------- images
def check_imgs(imgs, name="imgs"):
    """A list of images from an image, a path, a glob or a list of them."""
    if isinstance(imgs, (str, Path)):
        text = os.path.expanduser(str(imgs))
        if glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise ValueError(f"{name}: no file matches the pattern {text!r}")
            return matches
        return [imgs]
    if _is_spatial_image(imgs) or _is_surface(imgs):
        return [imgs]
    if imgs is None or isinstance(imgs, (np.ndarray, bytes, dict)) or \
            not hasattr(imgs, "__iter__") or describe(imgs).startswith("a scipy sparse"):
        raise TypeError(
            f"{name} must be one or more Niimg-like objects (paths of NIfTI files or nibabel "
            f"images) or SurfaceImage objects, got {describe(imgs)}")
    imgs = list(imgs)
    if not imgs:
        raise ValueError(f"{name}: Need one or more Niimg-like or SurfaceImage objects as "
                         "input, an empty list was given.")
    out = []
    for i, img in enumerate(imgs):
        if isinstance(img, (str, Path)) and glob.has_magic(str(img)):
            out.extend(check_imgs(img, name))
        elif isinstance(img, (str, Path)) or _is_spatial_image(img) or _is_surface(img):
            out.append(img)
        else:
            raise TypeError(
                f"{name}[{i}] must be a Niimg-like object (the path of a NIfTI file or a "
                f"nibabel image) or a SurfaceImage, got {describe(img)}")
    return out


def _one_scan_volume(himg):
    """A 3D image as a 4D image of one scan (nilearn's decomposition estimators do the same)."""
    import nibabel

    data = np.asanyarray(himg.dataobj)[..., np.newaxis]
    header = himg.header.copy() if hasattr(himg, "header") else None
    return nibabel.Nifti1Image(data, himg.affine, header=header)


def _one_sample_surface(img):
    """A SurfaceImage of one sample per vertex as a SurfaceImage of shape (n_vertices, 1)."""
    from nilearn.surface import SurfaceImage

    data = {part: np.asarray(values)[:, np.newaxis] for part, values in img.data.parts.items()}
    return SurfaceImage(mesh=img.mesh, data=data)


def _check_confounds_list(confounds, n_imgs):
    if confounds is None:
        return None
    if not isinstance(confounds, (list, tuple)):
        confounds = [confounds]
    if len(confounds) != n_imgs:
        raise ValueError(
            f"Number of confounds ({len(confounds)}) must match number of images ({n_imgs}): "
            f"confounds must be a list with one entry per image")
    return list(confounds)


def _check_confounds_values(confounds, n_scans):
    """Each entry: None, or rows = scans and finite values (files are read here)."""
    if confounds is None:
        return None
    from ._signal import _read_csv

    out = []
    for i, conf in enumerate(confounds):
        name = f"confounds[{i}]"
        if conf is None:
            out.append(None)
            continue
        values = conf
        if isinstance(values, (str, Path)):
            path = os.path.expanduser(str(values))
            if not os.path.isfile(path):
                raise ValueError(f"{name}: file not found: {path!r}")
            try:
                values = _read_csv(path)
            except Exception as exc:
                raise ValueError(f"{name}: could not read {path!r} as a table of numbers "
                                 f"(CSV or TSV, one row per scan): {exc}") from exc
        elif hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
            values = values.to_numpy()
        elif not isinstance(values, np.ndarray):
            if isinstance(values, (list, tuple)):
                values = np.asarray(values)
            else:
                raise TypeError(
                    f"{name} must be an array of shape (n_scans, n_confounds), a pandas "
                    f"DataFrame or the path of a CSV file, got {describe(conf)}")
        values = np.asarray(values)
        if values.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got values of dtype {values.dtype}")
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"{name} must be a 2D array of shape (n_scans, n_confounds), got "
                             f"a {values.ndim}D array of shape {values.shape}")
        if values.shape[0] != n_scans[i]:
            raise ValueError(
                f"{name} must have one row per scan of imgs[{i}]: expected {n_scans[i]} rows, "
                f"got {values.shape[0]}")
        finite = np.isfinite(values)
        if not finite.all():
            rows, cols = np.nonzero(~finite)
            raise ValueError(
                f"{name} contains NaN or infinite values ({int((~finite).sum())} of them, the "
                f"first at row {rows[0]}, column {cols[0]}): fill or drop them (for fMRIPrep "
                "confounds, the first rows of derivative columns are NaN)")
        # the entry goes on as given (a file is read again when it is used: a
        # masked study records where its confounds came from)
        out.append(conf)
    return out


def check_study(imgs, confounds, target_affine, *, allow_3d=False, name="imgs"):
    """Validate a list of images (and their confounds) from their headers.

    Returns ``(kind, n_scans, imgs, headers, confounds)``: ``kind`` is
    'volume' or 'surface'; with ``allow_3d``, a 3D image (or a SurfaceImage
    of one sample per vertex) is one scan, and comes back in ``imgs`` as a 4D
    image (or a SurfaceImage of shape (n_vertices, 1)).
    """
    surface = [_is_surface(img) for img in imgs]
    if any(surface) and not all(surface):
        first = surface.index(True)
        raise TypeError(f"{name} mixes SurfaceImage and volume images ({name}[{first}] is a "
                        "SurfaceImage, not all others are); give one kind")
    confounds = _check_confounds_list(confounds, len(imgs))
    imgs = list(imgs)
    if all(surface):
        n_scans = []
        for i, img in enumerate(imgs):
            shape = img.shape
            if len(shape) == 1 and allow_3d:
                imgs[i] = img = _one_sample_surface(img)
                shape = img.shape
            if len(shape) != 2:
                raise ImageDimensionError(
                    f"{name}[{i}] must be a SurfaceImage of shape (n_vertices, n_scans), got "
                    f"a SurfaceImage of shape {shape}")
            if shape[1] == 0:
                raise ValueError(f"{name}[{i}] holds no sample: got a SurfaceImage of shape "
                                 f"{shape}")
            n_scans.append(int(shape[1]))
        ref = imgs[0].mesh
        for i, img in enumerate(imgs[1:], 1):
            mesh = img.mesh
            same = set(ref.parts) == set(mesh.parts) and all(
                np.array_equal(np.asarray(ref.parts[h].coordinates),
                               np.asarray(mesh.parts[h].coordinates)) for h in ref.parts)
            if not same:
                raise ValueError(f"{name}[{i}] is on another mesh than {name}[0]; all surface "
                                 "images must share one mesh")
        confounds = _check_confounds_values(confounds, n_scans)
        return "surface", n_scans, imgs, list(imgs), confounds
    headers = []
    n_scans = []
    for i, img in enumerate(imgs):
        himg = load_header_img(img, f"{name}[{i}]")
        shape = himg.shape
        if len(shape) == 3 and allow_3d:
            with reading(img, f"{name}[{i}]"):
                himg = _one_scan_volume(himg)
            imgs[i] = himg
            shape = himg.shape
        if len(shape) != 4:
            what = "3D or 4D" if allow_3d else "4D"
            raise ImageDimensionError(
                f"{name}[{i}] must be a {what} image, got a {len(shape)}D image of shape "
                f"{shape}")
        if min(shape) == 0:
            raise ValueError(f"{name}[{i}] is empty: got an image of shape {shape}")
        headers.append(himg)
        n_scans.append(int(shape[3]))
    if target_affine is None:
        ref = headers[0]
        for i, himg in enumerate(headers[1:], 1):
            if himg.shape[:3] != ref.shape[:3] or not np.allclose(himg.affine, ref.affine,
                                                                  atol=1e-4):
                raise ValueError(
                    f"all images must share one grid (shape and affine) unless "
                    f"target_affine is given: {name}[0] has shape {ref.shape[:3]} and "
                    f"affine {np.round(ref.affine, 3).tolist()}, {name}[{i}] has shape "
                    f"{himg.shape[:3]} and affine {np.round(himg.affine, 3).tolist()}")
    confounds = _check_confounds_values(confounds, n_scans)
    return "volume", n_scans, imgs, headers, confounds


def _world_box(shape, affine):
    """The bounding box (min, max corners, in mm) of a grid's voxel centres."""
    corners = np.array([[i, j, k] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1)
                        for k in (0, shape[2] - 1)], dtype=float)
    world = corners @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]
    return world.min(axis=0), world.max(axis=0)


def check_mask_in_field_of_view(mask_img, header, name="mask"):
    """Refuse a mask whose voxels all lie outside the field of view of the images."""
    mask = np.asarray(mask_img.dataobj)
    if mask.ndim == 4 and mask.shape[3] == 1:
        mask = mask[..., 0]
    if mask.ndim != 3:
        raise ImageDimensionError(f"{name} must be a 3D image, got a {mask.ndim}D image of "
                                  f"shape {mask.shape}")
    inside = np.argwhere(mask != 0)
    if len(inside) == 0:
        raise ValueError(f"The mask is invalid as it is empty: {name} selects 0 voxels "
                         "(it is all zero)")
    mask_affine = np.asarray(mask_img.affine)
    world = inside @ mask_affine[:3, :3].T + mask_affine[:3, 3]
    lo, hi = _world_box(header.shape[:3], header.affine)
    # half a voxel of tolerance around the images' voxel centres
    step = np.abs(np.asarray(header.affine)[:3, :3]).sum(axis=0) / 2
    in_view = np.all((world >= lo - step) & (world <= hi + step), axis=1)
    if not in_view.any():
        mlo, mhi = world.min(axis=0), world.max(axis=0)
        raise ValueError(
            f"{name} lies outside the field of view of the images: its voxels span "
            f"{np.round(mlo, 1).tolist()} to {np.round(mhi, 1).tolist()} mm, the images "
            f"span {np.round(lo, 1).tolist()} to {np.round(hi, 1).tolist()} mm (check that "
            "the mask and the images are in the same space)")


def check_masked_finite(data, name="imgs"):
    """Refuse masked, cleaned data holding NaN or infinite values, naming the image.

    The image estimators and :func:`~nimf.neuro.mask_study` check every subject
    with it: no learner can use such values, and a study must not store them.
    """
    bad = ~np.isfinite(data)
    if bad.any():
        scans = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"{name} could not be masked: its masked and cleaned signals hold NaN or infinite "
            f"values at {int(bad.any(axis=0).sum())} of its {data.shape[1]} mask elements in "
            f"{scans.size} of its {data.shape[0]} scans (the first: scan {int(scans[0])}): "
            "the image has NaN or infinite values inside the mask (on surfaces, nilearn's "
            "maskers keep them when not smoothing, and cleaning spreads one over its whole "
            f"time series), values too large for {data.dtype} arithmetic, or damaged data. "
            "Leave these elements out of the mask, or fix the image")


def check_masked_signal(data, name="imgs"):
    """Refuse masked, cleaned data without any signal (every value zero)."""
    if data.size and not np.any(data):
        raise ValueError(
            f"{name} holds no signal within the mask: after masking and cleaning every value "
            "is zero (are the images empty, all zero or constant, or is the mask outside the "
            "brain?)")


def check_loadings(loadings, n_components):
    """``inverse_transform``'s input: a list of 2D arrays of n_components finite columns."""
    single = not isinstance(loadings, (list, tuple))
    if single:
        loadings = [loadings]
    out = []
    for i, load in enumerate(loadings):
        name = f"loadings[{i}]" if not single else "loadings"
        if hasattr(load, "to_numpy") and not isinstance(load, np.ndarray):
            load = load.to_numpy()
        if not isinstance(load, np.ndarray):
            try:
                load = np.asarray(load)
            except Exception as exc:
                raise TypeError(f"{name} must be an array of shape (n_scans, {n_components}), "
                                f"got {describe(load)}") from exc
        if load.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be an array of numbers of shape (n_scans, "
                            f"{n_components}), got {describe(load)}")
        if load.ndim == 1 and load.shape[0] == n_components:
            load = load[np.newaxis]
        if load.ndim != 2 or load.shape[1] != n_components:
            raise ValueError(
                f"Input to 'inverse_transform' has wrong shape: {name} must have shape "
                f"(n_scans, {n_components}), got {load.shape}")
        if load.dtype.kind == "f" and not np.all(np.isfinite(load)):
            raise ValueError(
                f"{name} contains NaN or infinite values ({int((~np.isfinite(load)).sum())} "
                "of them): images cannot be made from them")
        out.append(load)
    return out, single
