"""Masked fMRI studies on disk: every subject masked and cleaned once, into a zarr store.

A study larger than memory is masked and cleaned subject by subject
(:func:`mask_study`) into a chunked array on disk that the learners stream.
The store is a zarr v3 group:

``data``
    array of shape (n_scans, n_voxels), float32 by default, chunks of
    ``(scan_chunk, voxel_chunk)``, each compressed by blosc (lz4, byte
    shuffle) and followed by a crc32c checksum, so that a damaged chunk fails
    to read instead of giving wrong numbers.  Column ``j`` holds the mask voxel
    ``voxel_order[j]`` (nilearn's masker order): the voxels are stored in a
    fixed random order, so every voxel chunk is a random spread of voxels over
    the brain and a learner that reads a few chunks sees the whole brain.
    Rows past the committed scans (left by an interrupted write) are ignored.
``voxel_order``
    int64 permutation of ``range(n_voxels)``, drawn once from ``random_state``.
``mask`` (volume)
    the 3D mask (uint8); its affine is in the metadata.
``mask/<part>``, ``mesh/<part>/coordinates``, ``mesh/<part>/faces`` (surface)
    the mask and the mesh of each part (hemisphere).

The group attribute ``nimf_study`` (JSON) holds the format, the masker
parameters, the chunks, the seed of ``voxel_order`` and the committed
subjects: for each, its name, source file, scan range ``[start, stop)``,
confounds provenance and the sha256 of its stored rows.

Writes are crash safe: the rows of a subject are written first (zarr's local
store writes each chunk to a temporary file renamed in place, so a chunk
shared with the previous subject is rewritten whole, atomically), then the
subject is committed by rewriting the group metadata, also atomically.  A
write killed at any point leaves a study that opens with the subjects
committed before.

On a dask cluster (``mask_study(..., client=client)``), each subject is masked
on a worker that writes the chunks holding only its rows; this process writes
the rows shared with a neighbour and commits the subjects in order, as above
(:mod:`nimf.neuro._cluster`).
"""

import contextlib
import hashlib
import json
import numbers
import os
import shutil
import time
from collections import deque
from pathlib import Path

import numpy as np

from .._validation import check_int
from . import _signal
from ._base import (_CLEAN_KEYS, _MASKING_KEYS, _check_study, _expand_imgs, _fit_masker,
                    _is_surface, _make_masker, _prepare_subject)
from ._checks import check_masked_finite

__all__ = ["mask_study", "MaskedStudy"]

FORMAT = "nimf.masked_study"
FORMAT_VERSION = 1
_ATTR = "nimf_study"
_MASKER_KEYS = _MASKING_KEYS
# blosc's lz4 with byte shuffle decodes at 5-9 GB/s per core on masked fMRI
# (zstd: about 1 GB/s); masked, standardized float data compress little
# anyway (about 6 %), so speed is what matters
_BLOSC = dict(cname="lz4", clevel=5, shuffle="shuffle")


# --------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------


def _json_number(value, name, *, positive=False, allow_zero=True):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
            or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        what = "a positive number" if positive else "a non-negative number"
        raise ValueError(f"{name} must be None or {what}, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _check_masker_params(smoothing_fwhm, standardize, standardize_confounds, detrend,
                         low_pass, high_pass, t_r, dtype, target_affine, target_shape,
                         mask_strategy, mask_args):
    """The masker parameters, checked, as JSON values (what the study stores)."""
    params = dict(
        smoothing_fwhm=_json_number(smoothing_fwhm, "smoothing_fwhm"),
        standardize=_signal._check_standardize(standardize),
        standardize_confounds=_signal._check_bool(standardize_confounds,
                                                  "standardize_confounds"),
        detrend=_signal._check_bool(detrend, "detrend"),
        low_pass=_json_number(low_pass, "low_pass", positive=True, allow_zero=False),
        high_pass=_json_number(high_pass, "high_pass", positive=True, allow_zero=False),
        t_r=_json_number(t_r, "t_r", positive=True, allow_zero=False),
    )
    for name in ("low_pass", "high_pass"):
        if params[name] is not None and params["t_r"] is None:
            raise ValueError(f"{name}={params[name]} needs the repetition time: t_r must be given")
    _signal._check_filter(params["low_pass"], params["high_pass"], params["t_r"])
    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        params["dtype"] = dtype
    else:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt is None or dt not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32, float64, 'auto' or None, got {dtype!r}")
        params["dtype"] = dt.name
    if target_affine is not None:
        affine = np.asarray(target_affine, dtype=np.float64)
        if affine.shape not in ((3, 3), (4, 4)) or not np.all(np.isfinite(affine)):
            raise ValueError(f"target_affine must be None or a finite (3, 3) or (4, 4) "
                             f"array, got {target_affine!r}")
        target_affine = affine.tolist()
    if target_shape is not None:
        shape = tuple(target_shape) if hasattr(target_shape, "__len__") else None
        if shape is None or len(shape) != 3 or not all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                for s in shape):
            raise ValueError(f"target_shape must be None or 3 positive ints, got "
                             f"{target_shape!r}")
        if target_affine is None or len(target_affine) != 4:
            raise ValueError("target_shape needs a (4, 4) target_affine")
        target_shape = [int(s) for s in shape]
    params.update(target_affine=target_affine, target_shape=target_shape)
    if not isinstance(mask_strategy, str):
        raise ValueError(f"mask_strategy must be a str, got {mask_strategy!r}")
    params["mask_strategy"] = mask_strategy
    if mask_args is not None:
        try:
            if not isinstance(mask_args, dict):
                raise TypeError
            mask_args = json.loads(json.dumps(mask_args))
        except (TypeError, ValueError):
            raise ValueError(f"mask_args must be None or a dict of JSON values (numbers, "
                             f"strings, lists) to be stored with the study, got "
                             f"{mask_args!r}") from None
    params["mask_args"] = mask_args
    return params


def _auto_chunks(n_voxels, itemsize):
    """(scan_chunk, voxel_chunk) for ``chunks='auto'``.

    The learners read a block of scans restricted to a random subset of the
    voxel chunks (about one in ``reduction``, 12 for a whole brain), so the
    voxels are cut in at least about 100 chunks when the mask allows it:
    the largest power of two in [256, 4096] that leaves >= 100 voxel chunks
    (2048 voxels at 2 mm, 512 at 3 mm, 256 at 4 mm and on fsaverage5).  64
    scans per chunk (32 when that would pass 1 MB) keep the chunks at
    64 kB - 1 MB: large enough that reading is not dominated by the cost per
    chunk, small enough that a step does not read much more than it uses.
    """
    voxel_chunk = 256
    while voxel_chunk < 4096 and n_voxels / (2 * voxel_chunk) >= 100:
        voxel_chunk *= 2
    scan_chunk = 64 if 64 * voxel_chunk * itemsize <= 2 ** 20 else 32
    return scan_chunk, voxel_chunk


def _check_chunks(chunks, n_voxels, itemsize):
    if isinstance(chunks, str) and chunks == "auto":
        return _auto_chunks(n_voxels, itemsize)
    if (not isinstance(chunks, (tuple, list)) or len(chunks) != 2 or not all(
            isinstance(c, numbers.Integral) and not isinstance(c, bool) and c > 0
            for c in chunks)):
        raise ValueError(f"chunks must be 'auto' or a tuple of 2 positive ints (scan_chunk, "
                         f"voxel_chunk), got {chunks!r}")
    return int(chunks[0]), min(int(chunks[1]), n_voxels)


def _check_n_jobs(n_jobs):
    check_int(n_jobs, "n_jobs")
    if n_jobs == 0:
        raise ValueError("n_jobs must be a non-zero int (-1 for all cores), got 0")
    return max(1, (os.cpu_count() or 1) + 1 + n_jobs) if n_jobs < 0 else n_jobs


def _work_dtype(dtype_param):
    if dtype_param is None or dtype_param == "auto":
        return np.dtype(np.float32)
    return np.dtype(dtype_param)


# --------------------------------------------------------------------------
# paths and stores
# --------------------------------------------------------------------------


def _is_url(path):
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def _local_path(path, what="path"):
    if isinstance(path, str) and path.startswith("file://"):
        path = path[len("file://"):]
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{what} must be a local path (str or path-like), got "
                         f"{type(path).__name__}")
    if _is_url(path):
        raise ValueError(f"{what}: a study is written to a local path, got the URL {path!r}")
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def _read_meta_file(path):
    """The ``nimf_study`` attribute of a local zarr group, or None; raises on bad JSON."""
    with open(os.path.join(path, "zarr.json"), encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict):
        raise ValueError("zarr.json is not a JSON object")
    attrs = doc.get("attributes") or {}
    return attrs.get(_ATTR) if isinstance(attrs, dict) else None


def _is_study(path):
    try:
        return _read_meta_file(path) is not None
    except (OSError, ValueError):
        return False


def _check_destination(path, overwrite):
    """Refuse an existing path unless ``overwrite``; say what would be removed."""
    if not os.path.lexists(path):
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise ValueError(f"path: the parent folder {parent!r} does not exist")
        return False
    if _is_study(path):
        if not overwrite:
            raise ValueError(
                f"{path!r} already holds a nimf masked study; use "
                f"MaskedStudy.open(path).append(...) to add subjects, or overwrite=True "
                f"to replace it")
        return True
    if not overwrite:
        raise ValueError(f"{path!r} exists and is not a nimf masked study; choose another "
                         f"path or pass overwrite=True to replace it")
    if os.path.isdir(path) and not os.path.islink(path) and os.listdir(path) and \
            not os.path.exists(os.path.join(path, "zarr.json")):
        raise ValueError(f"{path!r} is a non-empty folder that is not a zarr store: "
                         f"refusing to delete it even with overwrite=True; remove it "
                         f"yourself or choose another path")
    return True


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


@contextlib.contextmanager
def _write_lock(path):
    """Exclusive lock of a study for writing (released if the process dies)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    # the store's folder itself is locked: no lock file inside the zarr hierarchy
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(f"{path!r}: another process is writing to this study") from None
        yield
    finally:
        os.close(fd)


def _store(path, read_only):
    from zarr.abc.store import Store
    from zarr.storage import FsspecStore, LocalStore

    if isinstance(path, Store):
        return path
    if _is_url(path):
        options = {}
        if path.split("://", 1)[0] in ("local", "file"):
            # fsspec's local file system does not create the folders of a key
            options["auto_mkdir"] = True
        return FsspecStore.from_url(path, read_only=read_only, storage_options=options)
    return LocalStore(_local_path(path), read_only=read_only)


def _data_array(group, writable):
    data = group["data"]
    if writable:
        # write every chunk (no scan of each chunk for fill values) so that a
        # missing chunk file is always damage
        data = data.with_config({"write_empty_chunks": True})
    return data


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------


def _is_stream(imgs):
    """True for an iterator (a generator...): it can be read only once."""
    if isinstance(imgs, (str, Path, list, tuple)) or hasattr(imgs, "shape") \
            or _is_surface(imgs):
        return False
    return hasattr(imgs, "__next__") or (hasattr(imgs, "__iter__") and
                                         not hasattr(imgs, "__len__"))


def _confounds_provenance(conf):
    """Where a subject's confounds came from: a path, an array's sha256, or None."""
    if conf is None:
        return None
    if isinstance(conf, (str, os.PathLike)):
        return {"kind": "path", "path": os.path.abspath(os.fspath(conf))}
    if isinstance(conf, (list, tuple)):
        return {"kind": "list", "items": [_confounds_provenance(c) for c in conf]}
    if hasattr(conf, "to_numpy") and not isinstance(conf, np.ndarray):
        conf = conf.to_numpy()
    arr = np.asarray(conf)
    if arr.dtype.kind == "O":
        arr = arr.astype(np.float64)
    arr = np.ascontiguousarray(arr)
    return {"kind": "array", "sha256": hashlib.sha256(arr.tobytes()).hexdigest(),
            "shape": list(arr.shape), "dtype": arr.dtype.str}


def _source_and_name(img, index):
    if isinstance(img, (str, os.PathLike)):
        path = os.path.abspath(os.path.expanduser(os.fspath(img)))
        return path, os.path.basename(path)
    filename = None
    with contextlib.suppress(Exception):
        filename = img.get_filename()
    if filename:
        return None, os.path.basename(filename)
    return None, f"subject-{index:03d}"


def _mesh_arrays(mesh):
    """{part: (coordinates, faces)} of a PolyMesh, as arrays."""
    out = {}
    for part, sub in mesh.parts.items():
        loaded = sub.loaded() if hasattr(sub, "loaded") else sub
        out[part] = (np.asarray(loaded.coordinates), np.asarray(loaded.faces))
    return out


class _Inputs:
    """The images (and confounds) of one call, checked, yielded one at a time.

    A list is checked whole before anything is written; an iterator is
    checked image by image as it is consumed (only one image is held).
    """

    def __init__(self, imgs, confounds, target_affine):
        self.target_affine = target_affine
        self.stream = _is_stream(imgs)
        if self.stream:
            self._iter = iter(imgs)
            try:
                first = next(self._iter)
            except StopIteration:
                raise ValueError("imgs must be one or more 4D images, got an empty "
                                 "iterator") from None
            self._first = first
            if confounds is not None and not isinstance(confounds, (list, tuple)):
                confounds = list(confounds) if _is_stream(confounds) else [confounds]
            self.confounds = confounds
            self.kind = _check_study([first], None, target_affine)[0]
            self.imgs = None
        else:
            self.imgs = _expand_imgs(imgs)
            if confounds is not None and _is_stream(confounds):
                confounds = list(confounds)
            kind, n_scans, headers, confounds = _check_study(self.imgs, confounds,
                                                             target_affine)
            self.kind, self._n_scans, self._headers = kind, n_scans, headers
            self.confounds = confounds

    def first_grid(self):
        """Grid (volume: shape, affine) or mesh arrays (surface) of the first image."""
        img = self._first if self.stream else self.imgs[0]
        header = (_check_study([img], None, self.target_affine)[2][0] if self.stream
                  else self._headers[0])
        if self.kind == "surface":
            return _mesh_arrays(header.mesh)
        return tuple(int(s) for s in header.shape[:3]), np.asarray(header.affine, float)

    def check_all(self, study_kind, grid):
        """Check every image of a list against the study (no-op for an iterator)."""
        if not self.stream:
            for i, header in enumerate(self._headers):
                _check_against(header, i, self.kind, study_kind, grid, self.target_affine)

    def __iter__(self):
        """Yield (i, img, confounds, n_scans) with each image checked."""
        if not self.stream:
            for i, img in enumerate(self.imgs):
                conf = None if self.confounds is None else self.confounds[i]
                yield i, img, conf, self._n_scans[i]
            return
        i = -1
        img = self._first
        self._first = None
        while True:
            i += 1
            conf = None
            if self.confounds is not None:
                if i >= len(self.confounds):
                    raise ValueError(f"confounds must have one entry per image: imgs yielded "
                                     f"more than the {len(self.confounds)} entries of "
                                     f"confounds")
                conf = self.confounds[i]
            yield i, img, conf, None
            img = None
            try:
                img = next(self._iter)
            except StopIteration:
                break
        if self.confounds is not None and len(self.confounds) != i + 1:
            raise ValueError(f"confounds must have one entry per image: imgs yielded {i + 1} "
                             f"images, confounds has {len(self.confounds)} entries")


def _check_against(header, i, kind, study_kind, grid, target_affine):
    """Refuse an image of another kind, grid or mesh than the study's."""
    if kind != study_kind:
        raise ValueError(f"imgs[{i}] is a {kind} image but the study holds {study_kind} data")
    if kind == "surface":
        ref = grid
        mesh = header.mesh
        if set(mesh.parts) != set(ref):
            raise ValueError(f"imgs[{i}] is on a mesh with parts {sorted(mesh.parts)}, the "
                             f"study's mask on a mesh with parts {sorted(ref)}")
        arrays = _mesh_arrays(mesh)
        for part, (coords, faces) in ref.items():
            got_c, got_f = arrays[part]
            if not (np.array_equal(got_c, coords) and np.array_equal(got_f, faces)):
                raise ValueError(
                    f"imgs[{i}] is on another mesh than the study's mask (part '{part}': "
                    f"{got_c.shape[0]} vertices, {got_f.shape[0]} faces; the study's: "
                    f"{coords.shape[0]} vertices, {faces.shape[0]} faces, or other "
                    f"coordinates); all images of a study share one mesh")
        return
    if target_affine is not None:
        return  # every image is resampled to the target grid
    shape, affine = grid
    if tuple(header.shape[:3]) != tuple(shape) or not np.allclose(header.affine, affine,
                                                                  atol=1e-4):
        raise ValueError(
            f"imgs[{i}] is on another grid than the study's images: shape "
            f"{tuple(header.shape[:3])} and affine {np.round(header.affine, 3).tolist()}, "
            f"the study's shape {tuple(shape)} and affine "
            f"{np.round(affine, 3).tolist()} (a study made with target_affine resamples "
            f"every image)")


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def _mask_subject(i, img, conf, args, order, seed, index, n_voxels):
    """Mask and clean ``imgs[i]`` into its stored rows: (rows, sha256 of the rows).

    ``index`` is the subject's index in the study (it seeds the order of its
    scans).  Module level: the cluster workers run it too (``_cluster.py``).
    """
    try:
        signals = _prepare_subject(img, conf, **args)
    except MemoryError:
        raise
    except Exception as exc:
        # name the image: the masking functions do not know which it was
        source, name = _source_and_name(img, i)
        raise ValueError(f"imgs[{i}] ({source or name}) could not be masked: "
                         f"{type(exc).__name__}: {exc}") from exc
    if signals.ndim != 2 or signals.shape[1] != n_voxels:
        raise ValueError(f"imgs[{i}] gave data of shape {signals.shape}, expected "
                         f"(n_scans, {n_voxels})")
    if not np.isfinite(signals).all():
        # values too large to clean, NaN kept on surfaces, or a file whose
        # compressed data are damaged, read as garbage
        source, name = _source_and_name(img, i)
        check_masked_finite(signals, f"imgs[{i}] ({source or name})")
    # scans in a random order within the subject (and voxels in the study's
    # random order): a chunk of consecutive rows is then a random sample of
    # the subject's scans, not a stretch of autocorrelated time
    rows = _scan_order(seed, index, signals.shape[0])
    stored = np.take(np.take(signals, rows, axis=0), order, axis=1)
    del signals
    digest = hashlib.sha256(memoryview(stored).cast("B")).hexdigest()
    return stored, digest


class _Writer:
    """Masks subjects (in threads) and commits them, in order, to an open store."""

    def __init__(self, study, group, meta):
        self.path = study.path
        self.group = group
        self.meta = meta
        self.data = _data_array(group, writable=True)
        self.order = study.voxel_order
        self.n_voxels = study.n_voxels
        params = study.masker_params
        self.kind = study.kind
        self.grid = study._grid()
        self.target_affine = params["target_affine"]
        self.args = dict(kind=study.kind, mask_img=study.mask_img,
                         dtype=_work_dtype(params["dtype"]).type,
                         target_affine=(None if params["target_affine"] is None
                                        else np.asarray(params["target_affine"])),
                         target_shape=(None if params["target_shape"] is None
                                       else tuple(params["target_shape"])),
                         **{key: params[key] for key in _CLEAN_KEYS})
        self.n_written = 0
        self.scans_written = 0
        # subjects of this run are committed in input order, after these
        self.first_index = len(meta["subjects"])
        self.first_row = int(meta["n_scans"])
        self.seed = int(meta.get("voxel_order_seed", 0))
        # what the cluster workers open
        self.study_location = study._location
        self.study_local = study._local

    def _mask(self, i, img, conf):
        return _mask_subject(i, img, conf, self.args, self.order, self.seed,
                             self.first_index + i, self.n_voxels)

    def _commit(self, i, img, conf, stored, digest):
        start = int(self.meta["n_scans"])
        stop = start + stored.shape[0]
        try:
            # rows first: a chunk shared with the previous subject is read,
            # completed and written back whole (atomically, by zarr's local
            # store), so the committed rows are never seen half written
            self.data.resize((stop, self.n_voxels))
            self.data[start:stop] = stored
        except Exception as exc:
            raise OSError(f"{self.path}: could not write the scans of imgs[{i}] ({exc})") \
                from exc
        self._commit_meta(img, conf, stop - start, digest)

    def _commit_meta(self, img, conf, n_rows, digest):
        """Commit the next subject, whose ``n_rows`` rows are written."""
        start = int(self.meta["n_scans"])
        stop = start + n_rows
        index = len(self.meta["subjects"])
        source, name = _source_and_name(img, index)
        entry = {"name": name, "source": source, "start": start, "stop": stop,
                 "n_scans": stop - start, "confounds": _confounds_provenance(conf),
                 "sha256": digest, "scan_order_seed": [self.seed, index]}
        subjects = self.meta["subjects"] + [entry]
        meta = dict(self.meta, subjects=subjects, n_scans=stop)
        # the commit: one atomic rewrite of the group's zarr.json
        self.group.update_attributes({_ATTR: meta})
        self.meta = meta
        self.n_written += 1
        self.scans_written += stop - start

    def run(self, inputs, n_jobs, verbose, client=None):
        t0 = time.perf_counter()

        def checked(items, with_scans=False):
            for i, img, conf, n_scans in items:
                if inputs.stream:
                    kind, scans, headers, _ = _check_study([img], None, self.target_affine)
                    _check_against(headers[0], i, kind, self.kind, self.grid,
                                   self.target_affine)
                    n_scans = scans[0]
                yield (i, img, conf, int(n_scans)) if with_scans else (i, img, conf)

        def report(i, img, n_rows):
            if verbose:
                elapsed = time.perf_counter() - t0
                _, name = _source_and_name(img, len(self.meta["subjects"]) - 1)
                print(f"[mask_study] imgs[{i}] {name}: {n_rows} scans committed "
                      f"({self.scans_written / max(elapsed, 1e-9):.1f} scans/s)")

        # BLAS threads change the round-off of the cleaning: nimf cleans with one
        # BLAS thread, and threadpoolctl's limit is global to the process, so it
        # is held here for the whole run (a worker leaving its own limit would
        # otherwise give the BLAS threads back while another worker computes)
        try:
            if client is not None:
                from ._cluster import run_on_cluster

                run_on_cluster(self, checked(inputs, with_scans=True), client, report)
            else:
                with _signal._single_threaded_blas():
                    self._run(checked(inputs), n_jobs, report)
        except BaseException as exc:
            if hasattr(exc, "add_note"):
                committed = len(self.meta["subjects"])
                exc.add_note(
                    f"The study at {self.path!r} keeps the {committed} subjects committed "
                    f"before this error ({self.n_written} in this call); add the others with "
                    f"MaskedStudy.open(path).append(...).")
            raise

    def _run(self, items, n_jobs, report):
        from concurrent.futures import ThreadPoolExecutor

        if n_jobs == 1:
            for i, img, conf in items:
                stored, digest = self._mask(i, img, conf)
                self._commit(i, img, conf, stored, digest)
                report(i, img, stored.shape[0])
                del stored
            return
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            pending = deque()
            try:
                while True:
                    item = next(items, None)
                    if item is not None:
                        pending.append((item, pool.submit(self._mask, *item)))
                    # one subject queued beyond the workers keeps them busy while
                    # the main thread writes; subjects are committed in order
                    if pending and (item is None or len(pending) > n_jobs):
                        (i, img, conf), future = pending.popleft()
                        stored, digest = future.result()
                        self._commit(i, img, conf, stored, digest)
                        report(i, img, stored.shape[0])
                        del stored, future
                    elif item is None:
                        break
            finally:
                for _, future in pending:
                    future.cancel()


def _remove_partial_chunks(path, data, meta):
    """Delete the temporary chunk files of a write that was killed.

    zarr's local store writes a chunk to ``<chunk>.<uuid>.partial`` and renames
    it; a killed write leaves that file behind.  Writes happen after the data
    array is grown, so there are some only when the array holds rows past the
    committed scans, in the chunk rows from the last committed one on.
    """
    if data.shape[0] <= meta["n_scans"]:
        return
    root = os.path.join(path, "data", "c")
    first = meta["n_scans"] // data.chunks[0]
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            if entry.name.isdigit() and int(entry.name) >= first and entry.is_dir():
                for chunk in os.scandir(entry.path):
                    if chunk.name.endswith(".partial"):
                        with contextlib.suppress(OSError):
                            os.unlink(chunk.path)


def _scan_order(seed, index, n_scans):
    """Row ``j`` of subject ``index`` in the store holds its scan ``order[j]``."""
    return np.random.default_rng([int(seed), 1, int(index)]).permutation(n_scans)


def _create_store(path, *, kind, mask_img, grid, params, chunks, dtype, seed, n_voxels,
                  mask_source, overwrite=False):
    """Write an empty study (metadata, mask, voxel order, 0-row data array)."""
    import zarr
    from zarr.codecs import BloscCodec, Crc32cCodec

    import nimf

    store = _store(path, read_only=False)
    # the group exists in a 'creating' state until every array is written
    group = zarr.create_group(store=store, overwrite=overwrite, attributes={_ATTR: {
        "format": FORMAT, "format_version": FORMAT_VERSION, "state": "creating"}})
    order = np.random.RandomState(seed).permutation(n_voxels).astype(np.int64)
    group.create_array("voxel_order", data=order, chunks=(n_voxels,))
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "state": "ready",
        "nimf_version": nimf.__version__, "zarr_version": zarr.__version__,
        "kind": kind, "n_voxels": int(n_voxels), "dtype": dtype.name,
        "chunks": [int(c) for c in chunks],
        "codec": "blosc lz4 (byte shuffle), crc32c",
        "voxel_order_seed": int(seed), "masker_params": params, "mask_source": mask_source,
    }
    if kind == "volume":
        mask = np.asarray(mask_img.dataobj).astype(bool).astype(np.uint8)
        group.create_array("mask", data=mask, chunks=mask.shape)
        shape, affine = grid
        meta.update(mask_affine=np.asarray(mask_img.affine, float).tolist(),
                    image_grid={"shape": list(shape), "affine": affine.tolist()})
    else:
        masks = group.create_group("mask")
        meshes = group.create_group("mesh")
        parts = list(mask_img.data.parts)
        for part in parts:
            values = np.asarray(mask_img.data.parts[part]).reshape(-1)
            masks.create_array(part, data=values.astype(bool).astype(np.uint8),
                               chunks=values.shape)
            coords, faces = grid[part]
            sub = meshes.create_group(part)
            sub.create_array("coordinates", data=coords, chunks=coords.shape)
            sub.create_array("faces", data=faces, chunks=faces.shape)
        meta["parts"] = parts
    group.create_array(
        "data", shape=(0, n_voxels), dtype=dtype, chunks=tuple(chunks),
        compressors=[BloscCodec(typesize=dtype.itemsize, **_BLOSC), Crc32cCodec()],
        # a chunk file that disappears reads as NaN, never as plausible zeros
        fill_value=float("nan"), dimension_names=("scan", "voxel"))
    meta.update(subjects=[], n_scans=0)
    group.update_attributes({_ATTR: meta})


def mask_study(imgs, path, *, confounds=None, mask=None, smoothing_fwhm=4,
               standardize="zscore_sample", standardize_confounds=True, detrend=True,
               low_pass=None, high_pass=None, t_r=None, dtype=None, target_affine=None,
               target_shape=None, mask_strategy="epi", mask_args=None, chunks="auto",
               random_state=0, n_jobs=1, overwrite=False, verbose=0, client=None):
    """Mask and clean every subject of a study once, into a zarr store on disk.

    Each subject is masked, smoothed and cleaned exactly as nimf's image
    estimators do (:class:`nimf.neuro.DictLearning` with the same
    parameters), so a subject read back from the store equals the in-memory
    masking bit for bit.  Subjects are read, masked and written one at a
    time (``n_jobs`` at a time in threads): a study larger than memory is fed
    from a generator.  See :mod:`nimf.neuro.study` for the layout of the store.

    Parameters
    ----------
    imgs : Niimg-like, SurfaceImage, glob pattern, list of those, or iterator
        4D images (paths, glob patterns or nibabel images) or surface images,
        one per subject or run.  A generator is consumed one image at a time;
        it needs ``mask`` (the mask cannot be computed without a first pass
        over the images).
    path : str, path-like or URL
        Folder of the zarr store to create, or the URL of a store that fsspec
        and zarr can write (``s3://bucket/study.zarr``, with the fsspec
        package of that protocol installed; credentials as fsspec finds them).
    confounds : list, default=None
        One entry per image (array, DataFrame or CSV/TSV path), regressed out
        of its signals.
    mask : Niimg-like, SurfaceImage or nilearn masker, default=None
        Mask; computed from the images (``mask_strategy``) when None.
    smoothing_fwhm, standardize, standardize_confounds, detrend, low_pass, \
high_pass, t_r, dtype, target_affine, target_shape, mask_strategy, mask_args :
        The masking and cleaning parameters of :class:`nimf.neuro.DictLearning`,
        with the same defaults; stored with the study and used by
        :meth:`MaskedStudy.append`.  ``dtype`` None or 'auto' stores float32.
    chunks : 'auto' or tuple of 2 ints, default='auto'
        (scan_chunk, voxel_chunk) of the data array.  'auto' cuts the voxels
        in at least about 100 chunks of a power of two in [256, 4096] voxels
        and takes 64 scans per chunk (32 if a chunk would pass 1 MB).
    random_state : int, RandomState instance or None, default=0
        Draws the fixed random order of the voxels in the store (its seed is
        stored).
    n_jobs : int, default=1
        Subjects masked in parallel (threads); they are committed in order.
    overwrite : bool, default=False
        Replace what exists at ``path`` (a file, an empty folder, a zarr
        store or a nimf study).  Without it an existing path is refused.
    verbose : int, default=0
        Print each committed subject when > 0.
    client : dask.distributed.Client, None or False, default=None
        Mask on a dask cluster: each subject is masked and cleaned on a
        worker, which writes the chunks of the store that hold only its rows
        (disjoint chunks: no locks); the few rows it shares with a neighbour
        come back to this process, which writes them and commits the subjects
        in order.  The store must be reachable by the workers under ``path``
        (a shared file system, or object storage by URL), and so must images
        and confounds given as paths.  The study is bit for bit the one
        masked without a cluster.  None uses the current client when one
        exists (``distributed.get_client()``), else threads (``n_jobs``);
        False never uses a cluster.  See the guide ``docs/cluster.md``.

    Returns
    -------
    study : MaskedStudy
        The study, open for reading.

    Notes
    -----
    A run interrupted at any point (even killed) leaves a store that opens
    with the subjects committed before; :meth:`MaskedStudy.append` adds the
    rest.  An error while masking a subject keeps the subjects committed
    before it in the same way.  On a cluster, a subject whose worker dies is
    masked again on another worker (dask's ``allowed-failures``, 3 deaths by
    default); past that the call fails, naming the subject, and the study
    keeps the subjects committed before it.

    Examples
    --------
    >>> from nimf.datasets import make_rest_study
    >>> from nimf.neuro import mask_study
    >>> data = make_rest_study(n_subjects=2, n_scans=40, resolution=8)
    >>> study = mask_study(data.func, "study.zarr", confounds=data.confounds,
    ...                    mask=data.mask_img)  # doctest: +SKIP
    >>> study.read_subject(0).shape  # doctest: +SKIP
    (40, 3214)
    """
    local = not _is_url(path)
    path = _local_path(path) if local else path
    params = _check_masker_params(smoothing_fwhm, standardize, standardize_confounds,
                                  detrend, low_pass, high_pass, t_r, dtype, target_affine,
                                  target_shape, mask_strategy, mask_args)
    n_jobs = _check_n_jobs(n_jobs)
    check_int(verbose, "verbose", min_val=0)
    client = _check_client(client)
    exists = (_check_destination(path, overwrite) if local
              else _check_url_destination(path, overwrite))
    inputs = _Inputs(imgs, confounds, params["target_affine"])
    if mask is None and inputs.stream:
        raise ValueError(
            "mask is needed when imgs is an iterator (a generator): the mask computed from "
            "the images needs every image before the first is written; give mask (an "
            "image or a masker), or a list of images or paths")
    kind = inputs.kind
    grid = inputs.first_grid()
    masker = _make_masker(
        kind, mask, {key: params[key] for key in _CLEAN_KEYS},
        target_affine=(None if params["target_affine"] is None
                       else np.asarray(params["target_affine"])),
        target_shape=(None if params["target_shape"] is None
                      else tuple(params["target_shape"])),
        mask_strategy=mask_strategy, mask_args=mask_args, verbose=verbose, n_jobs=n_jobs)
    _, mask_img, n_voxels = _fit_masker(masker, [] if inputs.stream else inputs.imgs, kind)
    if kind == "surface":
        for part, (coords, _) in grid.items():
            n_mask = np.asarray(mask_img.data.parts.get(part, ())).size
            if n_mask != coords.shape[0]:
                raise ValueError(f"mask has {n_mask} vertices in part '{part}', the images "
                                 f"{coords.shape[0]}: give a mask on the images' mesh")
    inputs.check_all(kind, grid)
    work_dtype = _work_dtype(params["dtype"])
    chunks = _check_chunks(chunks, n_voxels, work_dtype.itemsize)
    seed = (int(random_state) if isinstance(random_state, numbers.Integral)
            and not isinstance(random_state, bool) and 0 <= random_state < 2 ** 32 else
            int(_sklearn_rng(random_state).randint(np.iinfo(np.int32).max)))
    if mask is None:
        mask_source = f"computed from the images (mask_strategy={mask_strategy!r})"
    elif isinstance(mask, (str, os.PathLike)):
        mask_source = os.path.abspath(os.fspath(mask))
    else:
        mask_source = f"given as {type(mask).__name__}"

    if not local:
        # an object store: the group (and whatever it held) is created anew
        _create_store(path, kind=kind, mask_img=mask_img, grid=grid, params=params,
                      chunks=chunks, dtype=work_dtype, seed=seed, n_voxels=n_voxels,
                      mask_source=mask_source, overwrite=exists)
        study = MaskedStudy(path)
        study._write(inputs, n_jobs, verbose, client=client)
        return study
    if exists:
        if os.path.isdir(path) and not os.path.islink(path):
            with _write_lock(path):  # not while another process appends to it
                _remove(path)
        else:
            _remove(path)
    os.makedirs(path)
    try:
        with _write_lock(path):
            _create_store(path, kind=kind, mask_img=mask_img, grid=grid, params=params,
                          chunks=chunks, dtype=work_dtype, seed=seed, n_voxels=n_voxels,
                          mask_source=mask_source)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    study = MaskedStudy(path)
    study._write(inputs, n_jobs, verbose, client=client)
    return study


def _check_client(client):
    """The dask client to mask on, or None (threads)."""
    if client is None:
        # the current client, if dask.distributed is in use (never imported here)
        import sys

        if "distributed" not in sys.modules:
            return None
        from distributed import default_client

        try:
            client = default_client()
        except ValueError:
            return None
        return client if getattr(client, "status", None) == "running" else None
    if client is False:
        return None
    if not all(hasattr(client, name) for name in ("submit", "scatter", "nthreads")):
        raise ValueError(f"client must be a dask.distributed.Client, None or False, got "
                         f"{type(client).__name__}")
    return client


def _check_url_destination(url, overwrite):
    """Refuse an existing store at ``url`` unless ``overwrite``."""
    import zarr

    try:
        store = _store(url, read_only=False)
    except Exception as exc:
        raise ValueError(f"path: cannot open the store {url!r} ({type(exc).__name__}: "
                         f"{exc})") from exc
    try:
        zarr.open_group(store=store, mode="r")
    except Exception:
        return False
    if not overwrite:
        raise ValueError(f"{url!r} already holds a zarr store; use "
                         f"MaskedStudy.open(url).append(...) to add subjects to a study, or "
                         f"overwrite=True to replace it")
    return True


def _sklearn_rng(random_state):
    from sklearn.utils import check_random_state

    return check_random_state(random_state)


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


class MaskedStudy:
    """A masked, cleaned fMRI study on disk (a zarr store written by :func:`mask_study`).

    Open one with ``MaskedStudy.open(path)``.  The scans of every subject are
    the rows of ``data`` (voxels in the stored random order); the reading
    methods give them in the masker's voxel order.

    Attributes
    ----------
    path : str
    data : zarr.Array of shape (>= n_scans, n_voxels)
        The stored scans (read-only); column ``j`` holds voxel ``voxel_order[j]``.
        Rows from ``n_scans`` on are not part of the study.
    n_scans : int
        Committed scans.
    n_voxels : int
    dtype : numpy.dtype
    chunks : tuple of 2 ints
        (scan_chunk, voxel_chunk).
    voxel_order : ndarray of shape (n_voxels,), dtype int64
    kind : {'volume', 'surface'}
    mask_img : Nifti1Image or SurfaceImage
    affine : ndarray of shape (4, 4)
        Affine of the mask (volume studies).
    masker_params : dict
        The masking and cleaning parameters, named as the estimators'.
    subjects : list of dict
        name, source, start, stop, n_scans, confounds, sha256 of each subject.
    subject_slices : list of slice
    nbytes, nbytes_stored : int
        Size of the committed scans in memory, and of the store on disk.
    """

    def __init__(self, path):
        self._open(path)

    @classmethod
    def open(cls, path):
        """Open an existing study for reading.

        Parameters
        ----------
        path : str, path-like, URL or zarr store

        Raises
        ------
        ValueError
            When ``path`` is not a complete, consistent nimf study (the message
            says what is wrong).
        """
        return cls(path)

    # ---------------------------------------------------------- opening
    def _open(self, path):
        import zarr

        local = isinstance(path, (str, os.PathLike)) and not _is_url(path)
        self.path = _local_path(path) if local else str(path)
        self._local = local
        # what opens the study again: a path, a URL or a zarr store
        self._location = self.path if isinstance(path, (str, os.PathLike)) else path
        where = self.path
        if local and not os.path.exists(where):
            raise ValueError(f"no masked study at {where!r}: the path does not exist")
        try:
            group = zarr.open_group(store=_store(path, read_only=True), mode="r")
            attrs = group.attrs.asdict()
        except Exception as exc:
            raise ValueError(f"{where!r} is not a readable nimf masked study: its zarr "
                             f"metadata cannot be read ({type(exc).__name__}: {exc})") from exc
        meta = attrs.get(_ATTR)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{where!r} is a zarr group but not a nimf masked study (no "
                             f"'{_ATTR}' attribute of format {FORMAT!r})")
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(f"{where!r}: masked study format version {version!r} is not "
                             f"supported by this nimf (version <= {FORMAT_VERSION})")
        if meta.get("state") != "ready":
            raise ValueError(f"{where!r}: the study was not completely created (its writer "
                             f"was interrupted before any subject); create it again with "
                             f"mask_study(..., overwrite=True)")
        try:
            self._check_meta(meta)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"{where!r}: the study metadata is damaged ({exc})") from None
        self._group = group
        self._meta = meta
        try:
            data = group["data"]
        except Exception:
            raise ValueError(f"{where!r}: the study has no readable 'data' array") from None
        self._check_arrays(group, data, meta)
        self.data = data
        self._mask_img = None
        self._inverse = None
        self._nbytes_stored = None

    def _check_meta(self, meta):
        if meta["kind"] not in ("volume", "surface"):
            raise ValueError(f"kind is {meta['kind']!r}")
        n_voxels = int(meta["n_voxels"])
        if n_voxels <= 0:
            raise ValueError(f"n_voxels is {n_voxels}")
        np.dtype(meta["dtype"])
        chunks = meta["chunks"]
        if len(chunks) != 2 or min(chunks) <= 0:
            raise ValueError(f"chunks is {chunks}")
        params = meta["masker_params"]
        missing = [key for key in _MASKER_KEYS if key not in params]
        if missing:
            raise ValueError(f"masker_params lacks {missing}")
        stop = 0
        for i, sub in enumerate(meta["subjects"]):
            if sub["start"] != stop or sub["stop"] <= sub["start"] or \
                    sub["n_scans"] != sub["stop"] - sub["start"]:
                raise ValueError(f"subject {i} has scans [{sub['start']}, {sub['stop']}) "
                                 f"after scan {stop}")
            stop = sub["stop"]
            if not isinstance(sub["name"], str) or not isinstance(sub["sha256"], str):
                raise ValueError(f"subject {i} has no name or checksum")
        if stop != meta["n_scans"]:
            raise ValueError(f"the subjects hold {stop} scans, n_scans is {meta['n_scans']}")
        if meta["kind"] == "volume":
            affine = np.asarray(meta["mask_affine"], dtype=float)
            if affine.shape != (4, 4):
                raise ValueError(f"mask_affine has shape {affine.shape}")
            np.asarray(meta["image_grid"]["affine"], dtype=float).reshape(4, 4)
        else:
            if not meta["parts"]:
                raise ValueError("no surface parts")

    def _check_arrays(self, group, data, meta):
        where = self.path
        n_voxels = int(meta["n_voxels"])
        dtype = np.dtype(meta["dtype"])
        if len(data.shape) != 2 or data.shape[1] != n_voxels or np.dtype(data.dtype) != dtype:
            raise ValueError(f"{where!r}: the data array has shape {data.shape} and dtype "
                             f"{data.dtype}, expected (n_scans, {n_voxels}) {dtype}")
        if data.shape[0] < meta["n_scans"]:
            raise ValueError(f"{where!r}: the data array holds {data.shape[0]} scans, fewer "
                             f"than the {meta['n_scans']} committed by its subjects")
        try:
            order = np.asarray(group["voxel_order"][...])
        except Exception:
            raise ValueError(f"{where!r}: the study has no readable 'voxel_order' "
                             f"array") from None
        if order.shape != (n_voxels,) or order.dtype.kind not in "iu" or \
                order.min() < 0 or order.max() >= n_voxels or \
                not np.all(np.bincount(order, minlength=n_voxels) == 1):
            raise ValueError(f"{where!r}: voxel_order is not a permutation of "
                             f"range({n_voxels}) (shape {order.shape}, dtype {order.dtype})")
        self.voxel_order = order.astype(np.int64)
        try:
            if meta["kind"] == "volume":
                count = int(np.count_nonzero(group["mask"][...]))
            else:
                count = sum(int(np.count_nonzero(group[f"mask/{part}"][...]))
                            for part in meta["parts"])
        except Exception:
            raise ValueError(f"{where!r}: the study has no readable mask") from None
        if count != n_voxels:
            raise ValueError(f"{where!r}: the stored mask selects {count} voxels, the study "
                             f"has {n_voxels}")

    # ---------------------------------------------------------- attributes
    @property
    def n_scans(self):
        return int(self._meta["n_scans"])

    @property
    def n_voxels(self):
        return int(self._meta["n_voxels"])

    @property
    def dtype(self):
        return np.dtype(self._meta["dtype"])

    @property
    def chunks(self):
        return tuple(int(c) for c in self._meta["chunks"])

    @property
    def kind(self):
        return self._meta["kind"]

    @property
    def masker_params(self):
        params = dict(self._meta["masker_params"])
        if params["target_shape"] is not None:
            params["target_shape"] = tuple(params["target_shape"])
        if params["target_affine"] is not None:
            params["target_affine"] = np.asarray(params["target_affine"])
        return params

    @property
    def subjects(self):
        return [dict(sub) for sub in self._meta["subjects"]]

    @property
    def subject_slices(self):
        return [slice(sub["start"], sub["stop"]) for sub in self._meta["subjects"]]

    @property
    def affine(self):
        if self.kind != "volume":
            return None
        return np.asarray(self._meta["mask_affine"], dtype=float)

    @property
    def nbytes(self):
        return self.n_scans * self.n_voxels * self.dtype.itemsize

    @property
    def nbytes_stored(self):
        if self._nbytes_stored is None:
            if self._local:
                total = 0
                for root, _, files in os.walk(self.path):
                    for name in files:
                        with contextlib.suppress(OSError):
                            total += os.stat(os.path.join(root, name)).st_size
                self._nbytes_stored = total
            else:
                self._nbytes_stored = int(self.data.nbytes_stored())
        return self._nbytes_stored

    @property
    def mask_img(self):
        if self._mask_img is None:
            self._mask_img = self._read_mask_img()
        return self._mask_img

    def _read_mask_img(self):
        try:
            if self.kind == "volume":
                import nibabel

                mask = np.asarray(self._group["mask"][...], dtype=np.uint8)
                return nibabel.Nifti1Image(mask, self.affine)
            from nilearn.surface import InMemoryMesh, PolyMesh, SurfaceImage

            meshes, masks = {}, {}
            for part in self._meta["parts"]:
                meshes[part] = InMemoryMesh(
                    np.asarray(self._group[f"mesh/{part}/coordinates"][...]),
                    np.asarray(self._group[f"mesh/{part}/faces"][...]))
                masks[part] = np.asarray(self._group[f"mask/{part}"][...]).astype(bool)
            return SurfaceImage(mesh=PolyMesh(**meshes), data=masks)
        except Exception as exc:
            raise ValueError(f"{self.path!r}: could not read the stored mask "
                             f"({type(exc).__name__}: {exc})") from exc

    def _grid(self):
        """What an appended image must match: (shape, affine), or mesh arrays."""
        if self.kind == "volume":
            grid = self._meta["image_grid"]
            return tuple(grid["shape"]), np.asarray(grid["affine"], dtype=float)
        return {part: (np.asarray(self._group[f"mesh/{part}/coordinates"][...]),
                       np.asarray(self._group[f"mesh/{part}/faces"][...]))
                for part in self._meta["parts"]}

    def masker(self):
        """A nilearn masker fitted on the stored mask, with the stored parameters.

        A :class:`~nilearn.maskers.MultiNiftiMasker` (volume) or
        :class:`~nilearn.maskers.SurfaceMasker` (surface): its
        ``inverse_transform`` turns maps in the masker's voxel order into images.
        """
        params = self.masker_params
        masker = _make_masker(
            self.kind, self.mask_img, {key: params[key] for key in _CLEAN_KEYS},
            target_affine=params["target_affine"], target_shape=params["target_shape"],
            mask_strategy=params["mask_strategy"], mask_args=params["mask_args"])
        return _fit_masker(masker, [], self.kind)[0]

    # ---------------------------------------------------------- reading
    def __nimf_source__(self):
        """The study's scans as a source of the array learners (storage order)."""
        from ..sources import ZarrSource

        return ZarrSource(self.data, n_samples=self.n_scans, feature_order=self.voxel_order,
                          checked=True, name=f"study {self.path!r}")

    def _unpermute(self, stored):
        if self._inverse is None:
            inverse = np.empty_like(self.voxel_order)
            inverse[self.voxel_order] = np.arange(self.n_voxels)
            self._inverse = inverse
        return np.take(stored, self._inverse, axis=1)

    def _read(self, start, stop):
        try:
            return np.asarray(self.data[start:stop])
        except Exception as exc:
            raise ValueError(f"{self.path!r}: could not read scans [{start}, {stop}) of the "
                             f"data array ({type(exc).__name__}: {exc}); the store is "
                             f"damaged (MaskedStudy.verify() finds the subject)") from exc

    def read_rows(self, start, stop, *, storage_order=False):
        """Scans ``start`` to ``stop`` (across subjects), in time order.

        Parameters
        ----------
        start, stop : int
            Range of committed scans, ``0 <= start <= stop <= n_scans``.
        storage_order : bool, default=False
            Return the stored rows ``start`` to ``stop`` as they are: the scans of
            each subject in the store's random order and the voxels in the
            store's random order, instead of time order and the masker's order.

        Returns
        -------
        rows : ndarray of shape (stop - start, n_voxels)
        """
        start = check_int(start, "start", min_val=0)
        stop = check_int(stop, "stop", min_val=start)
        if stop > self.n_scans:
            raise ValueError(f"stop must be <= n_scans={self.n_scans}, got {stop}")
        if storage_order:
            return self._read(start, stop)
        parts = []
        for sub in self._meta["subjects"]:
            lo, hi = max(start, sub["start"]), min(stop, sub["stop"])
            if lo >= hi:
                continue
            seed = sub.get("scan_order_seed")
            if seed is None:  # stored in time order
                parts.append(self._read(lo, hi))
                continue
            order = _scan_order(seed[0], seed[1], sub["n_scans"])
            inverse = np.empty_like(order)
            inverse[order] = np.arange(order.size)
            # the stored rows holding scans lo..hi of the subject, read at once
            wanted = inverse[lo - sub["start"]:hi - sub["start"]]
            first, last = int(wanted.min()), int(wanted.max()) + 1
            block = self._read(sub["start"] + first, sub["start"] + last)
            parts.append(block[wanted - first])
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return self._unpermute(rows)

    def read_subject(self, i, *, storage_order=False):
        """The scans of subject ``i`` (n_scans, n_voxels), in time order and the
        masker's voxel order (``storage_order=True``: as stored)."""
        sub = self._subject(i)
        return self.read_rows(sub["start"], sub["stop"], storage_order=storage_order)

    def _subject(self, i):
        n = len(self._meta["subjects"])
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral) or \
                not -n <= i < n:
            raise ValueError(f"subject index must be an int in [{-n}, {n}), got {i!r}")
        return self._meta["subjects"][int(i)]

    def verify(self, subjects=None):
        """Recompute the checksum of each subject's stored scans.

        Parameters
        ----------
        subjects : int, list of int or None, default=None
            Subjects to check (all by default).

        Raises
        ------
        ValueError
            Naming the first subject whose scans cannot be read or do not match
            their checksum, and the path of the study.
        """
        n = len(self._meta["subjects"])
        if subjects is None:
            indices = range(n)
        else:
            indices = [subjects] if isinstance(subjects, numbers.Integral) else list(subjects)
            for i in indices:
                self._subject(i)
        step = self.chunks[0] * max(1, (64 * 2 ** 20) // max(
            1, self.chunks[0] * self.n_voxels * self.dtype.itemsize))
        for i in indices:
            sub = self._subject(i)
            digest = hashlib.sha256()
            for start in range(sub["start"], sub["stop"], step):
                stop = min(start + step, sub["stop"])
                try:
                    block = np.asarray(self.data[start:stop])
                except Exception as exc:
                    raise ValueError(
                        f"{self.path!r}: subject {int(i)} ({sub['name']!r}) cannot be read: "
                        f"scans [{start}, {stop}) are damaged ({type(exc).__name__}: "
                        f"{exc})") from exc
                digest.update(memoryview(np.ascontiguousarray(block)).cast("B"))
            if digest.hexdigest() != sub["sha256"]:
                raise ValueError(f"{self.path!r}: subject {int(i)} ({sub['name']!r}) does not "
                                 f"match its checksum: its stored scans [{sub['start']}, "
                                 f"{sub['stop']}) are damaged")

    # ---------------------------------------------------------- appending
    def append(self, imgs, confounds=None, n_jobs=1, verbose=0, client=None):
        """Mask and clean more subjects into the study, with its stored parameters.

        The subjects already stored are not touched.  Images must be on the
        grid (or mesh) of the study's images unless the study resamples to a
        ``target_affine``.

        Parameters
        ----------
        imgs : Niimg-like, SurfaceImage, glob pattern, list of those, or iterator
        confounds : list, default=None
            One entry per image.
        n_jobs : int, default=1
        verbose : int, default=0
        client : dask.distributed.Client, None or False, default=None
            Mask the subjects on a dask cluster, as :func:`mask_study`.

        Returns
        -------
        self : MaskedStudy
        """
        if not isinstance(self._location, str):
            raise ValueError(f"append writes to a study given by a path or a URL, "
                             f"{self.path!r} was opened from a zarr store object")
        n_jobs = _check_n_jobs(n_jobs)
        client = _check_client(client)
        check_int(verbose, "verbose", min_val=0)
        params = self.masker_params
        inputs = _Inputs(imgs, confounds, params["target_affine"])
        grid = self._grid()
        if inputs.kind != self.kind:
            raise ValueError(f"imgs are {inputs.kind} images but the study holds "
                             f"{self.kind} data")
        inputs.check_all(self.kind, grid)
        self._write(inputs, n_jobs, verbose, client=client)
        return self

    def _write(self, inputs, n_jobs, verbose, client=None):
        import zarr

        # a local study is locked while written; an object store has no locks
        # (one writer per study is then the caller's promise)
        lock = _write_lock(self.path) if self._local else contextlib.nullcontext()
        with lock:
            # reopen writable, under the lock, from what is committed now
            group = zarr.open_group(store=_store(self._location, read_only=False), mode="r+")
            meta = group.attrs.asdict()[_ATTR]
            writer = _Writer(self, group, meta)
            if self._local:
                _remove_partial_chunks(self.path, writer.data, meta)
            try:
                writer.run(inputs, n_jobs, verbose, client=client)
            finally:
                self._open(self._location)

    def __reduce__(self):
        # sent to another process (a dask worker, a joblib worker) as where it
        # is: the receiver opens the study itself (no open store, no memory
        # map or file handle travels)
        return (type(self), (self._location,))

    # ---------------------------------------------------------- display
    def __repr__(self):
        n = len(self._meta["subjects"])
        what = "vertices" if self.kind == "surface" else "voxels"
        return (f"<MaskedStudy {self.path!r}: {n} subject{'s' if n != 1 else ''}, "
                f"{self.n_scans} scans x {self.n_voxels} {what}, {self.dtype.name}, "
                f"chunks {self.chunks}, {_size(self.nbytes)} in memory, "
                f"{_size(self.nbytes_stored)} on disk>")


def _size(nbytes):
    for unit in ("B", "kB", "MB", "GB"):
        if nbytes < 1000:
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"
