"""Rows of a large 2D array, read by blocks without loading the array whole.

A *source* wraps what the array learners are given (a numpy array, a memory
map, a zarr array, a dask array, a masked study on disk) behind one small
interface:

- ``n_samples``, ``n_features``, ``dtype``;
- ``row_chunk`` and ``feature_chunk``: the granularity in which the storage is
  best read (1 row and ``None`` for memory; a store's chunks);
- ``feature_order``: ``None`` when the columns are stored in the user's feature
  order, else the permutation the storage uses (column ``j`` holds feature
  ``feature_order[j]``; a masked study keeps its voxels in a fixed random order);
- ``read(rows, columns, out=None, parallel=True)``: the block
  ``X[rows][:, columns]`` (storage columns), written into ``out`` when the source
  can, with all cores when it can (``parallel``);
- ``read_rows(start, stop)``: whole rows, storage order;
- ``bytes_read``: bytes of data delivered so far (what the learners report).

:func:`as_source` picks the right wrapper.  :class:`PermutedFeatures` declares
that an array's columns are already in a known permuted order (as nimf's
image estimators lay out the masked data), so that the learners sample whole
contiguous blocks of it.  :class:`CenteredSource` reads another source minus a
fixed row (centred data that is never stored).
"""

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _parallel
from .._kernels import checks as _checks
from .._kernels import online as _online

__all__ = ["ArraySource", "ZarrSource", "DaskSource", "PermutedFeatures", "CenteredSource",
           "as_source", "Prefetcher", "is_large_input", "check_finite_array"]


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype.kind in "biuf":
        return np.dtype(np.float64)
    raise ValueError(f"X must hold numbers (float32 or float64 are used as they are), "
                     f"got dtype {dtype}")


def _check_block(block, rows, name):
    if not np.isfinite(block).all():
        lo, hi = int(np.min(rows)), int(np.max(rows))
        raise ValueError(f"{name} contains NaN or infinite values (in rows {lo} to {hi}); "
                         "remove or impute them before fitting")


class _Source:
    row_chunk = 1
    feature_chunk = None
    feature_order = None
    checked = True  # values already known to be finite
    name = "X"
    # read the next block in a background thread while a step computes: worth
    # it when reading waits on storage; data in memory are read faster by both
    # cores at the time of the step
    prefetch = True

    def __init__(self):
        self.bytes_read = 0
        self._lock = threading.Lock()

    @property
    def shape(self):
        return (self.n_samples, self.n_features)

    def _count(self, block):
        with self._lock:
            self.bytes_read += block.nbytes

    def count(self, block):
        """Add a block read ahead (see ``plan_reads``) to ``bytes_read`` as it is used."""
        self._count(block)

    def _finish(self, block, rows):
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if not self.checked:
            _check_block(block, rows, self.name)
        self._count(block)
        return block

    def will_need(self, rows, columns):
        """Hint that ``read(rows, columns)`` is coming (sources on storage start reading)."""

    def take_rows(self, rows):
        """Whole rows ``rows`` (storage order of the columns)."""
        return self.read(np.asarray(rows, dtype=np.int64), None)

    def iter_row_blocks(self, step=None, start=0, stop=None):
        """Consecutive blocks of whole rows: ``(start, block)`` pairs."""
        stop = self.n_samples if stop is None else stop
        if step is None:
            # about 64 MB per block, and whole row chunks
            step = max(1, int(2 ** 26 // max(1, self.n_features * self.dtype.itemsize)))
            step = max(self.row_chunk, step // self.row_chunk * self.row_chunk)
        for lo in range(start, stop, step):
            yield lo, self.read_rows(lo, min(lo + step, stop))

    def fingerprint(self):
        """What identifies the data: shape, dtype and a hash of a few rows."""
        import hashlib

        h = hashlib.sha256()
        n = self.n_samples
        rows = np.unique(np.linspace(0, n - 1, num=min(n, 8)).astype(np.int64))
        block = self.take_rows(rows)
        h.update(np.ascontiguousarray(block).tobytes())
        with self._lock:
            self.bytes_read -= block.nbytes
        return dict(shape=[int(n), int(self.n_features)], dtype=str(self.dtype),
                    sha256=h.hexdigest(), order=None if self.feature_order is None
                    else hashlib.sha256(np.asarray(self.feature_order, np.int64)
                                        .tobytes()).hexdigest())


class ArraySource(_Source):
    """A numpy array or memory map (C-contiguous float32/float64 read in place)."""

    def __init__(self, X, *, feature_order=None, checked=True, name="X"):
        super().__init__()
        self.X = X
        self.n_samples, self.n_features = X.shape
        self.dtype = _float_dtype(X.dtype)
        self.feature_order = feature_order
        self.checked = checked
        self.name = name
        self._direct = (X.dtype == self.dtype and X.flags.c_contiguous)
        self.prefetch = isinstance(X, np.memmap)

    def read(self, rows, columns, out=None, parallel=True):
        rows = np.asarray(rows, dtype=np.int64)
        # a gather of scattered columns waits on memory at every element: worth
        # both cores for far less work than a copy of contiguous ranges
        n_cols = self.n_features if columns is None else 16 * len(columns)
        split = ((lambda fn, n: _parallel.by_rows(fn, n, n_cols)) if parallel
                 else (lambda fn, n: fn(0, n)))
        if not self._direct:
            X = self.X
            block = X[rows] if columns is None else X[np.ix_(rows, columns)]
            return self._finish(block, rows)
        if columns is None:
            if rows.size and rows[-1] - rows[0] + 1 == rows.size:
                block = self.X[int(rows[0]):int(rows[-1]) + 1]   # a view, not a copy
            else:
                block = self.X[rows]
        else:
            columns = np.asarray(columns, dtype=np.int64)
            block = (np.empty((rows.shape[0], columns.shape[0]), dtype=self.dtype)
                     if out is None else out)
            X = self.X
            steps = np.diff(columns)
            if columns.shape[0] < 2 or np.all(steps >= 0):
                breaks = np.flatnonzero(steps != 1) + 1
                if columns.shape[0] >= 8 * (breaks.size + 1):
                    # long runs of consecutive columns (whole blocks): copied as ranges
                    starts = columns[np.concatenate([[0], breaks])]
                    stops = columns[np.concatenate([breaks - 1, [columns.shape[0] - 1]])] + 1
                    split(lambda lo, hi: _online.gather_ranges(X, rows[lo:hi], starts, stops,
                                                               block[lo:hi]), rows.shape[0])
                else:
                    split(lambda lo, hi: _online.gather(X, rows[lo:hi], columns,
                                                        block[lo:hi]), rows.shape[0])
            else:
                # read each row front to back, write into the requested order
                dest = np.argsort(columns, kind="stable")
                cols = columns[dest]
                split(lambda lo, hi: _online.gather_sorted(X, rows[lo:hi], cols, dest,
                                                           block[lo:hi]), rows.shape[0])
        return self._finish(block, rows)

    def read_rows(self, start, stop):
        return self._finish(self.X[start:stop], np.arange(start, stop))

    def plan_reads(self, reads, buffer):
        """Several ``read(rows, columns)`` prepared for one compiled call.

        ``reads`` is a list of ``(rows, columns)`` pairs and ``buffer`` a 1-D
        array of this source's dtype with room for all the blocks.  Returns
        ``(run, blocks)``: ``blocks`` are views of ``buffer`` (the blocks, once
        filled) and ``run()`` fills them with one call of a kernel that releases
        the GIL: all Python work is done here, in the calling thread, so that a
        worker thread can read while the caller computes without the two
        contending for the interpreter.  The blocks are added to ``bytes_read``
        by ``count(block)`` as they are used, not when read ahead.  Returns None
        when this source cannot (data to convert or to check while read, or
        reads of whole rows).
        """
        if not (self._direct and self.checked) or any(c is None for _, c in reads):
            return None
        rows = [np.asarray(r, dtype=np.int64) for r, _ in reads]
        cols = [np.asarray(c, dtype=np.int64) for _, c in reads]
        row_ptr = np.concatenate([[0], np.cumsum([r.shape[0] for r in rows])]).astype(np.int64)
        col_ptr = np.concatenate([[0], np.cumsum([c.shape[0] for c in cols])]).astype(np.int64)
        sizes = [r.shape[0] * c.shape[0] for r, c in zip(rows, cols)]
        if sum(sizes) > buffer.shape[0]:
            raise ValueError(f"the buffer holds {buffer.shape[0]} values, the reads need "
                             f"{sum(sizes)}")
        blocks, pos = [], 0
        for r, c, size in zip(rows, cols, sizes):
            blocks.append(buffer[pos:pos + size].reshape(r.shape[0], c.shape[0]))
            pos += size
        all_rows = np.concatenate(rows)
        all_cols = np.concatenate(cols)
        X = self.X

        def run():
            _online.gather_many(X, all_rows, row_ptr, all_cols, col_ptr, buffer)
            return blocks

        return run, blocks


def _runs(index, chunk):
    """Group sorted indices by chunk: ``(chunk id, local start, local stop, out start)``
    for runs of consecutive indices within a chunk."""
    out = []
    if index.size == 0:
        return out
    ids = index // chunk
    breaks = np.flatnonzero((np.diff(index) != 1) | (np.diff(ids) != 0)) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [index.size]])
    for a, b in zip(starts, stops):
        c = int(ids[a])
        out.append((c, int(index[a] - c * chunk), int(index[b - 1] - c * chunk + 1), int(a)))
    return out


class _ChunkFiles:
    """Direct reader of the chunk files of a local zarr v3 array.

    zarr's generic read path (asynchronous, codec by codec) decodes about
    0.9 GB/s here; the chunks of a masked study (bytes, blosc, crc32c) read and
    decoded straight from their files run at several GB/s per core, which is
    what lets a step on disk keep up with a step in memory.  The chunks are
    decoded with the codecs zarr itself uses (numcodecs' Blosc and CRC32C,
    which checks each chunk's checksum).  Used only for arrays whose metadata
    match exactly; anything else goes through zarr.
    """

    def __init__(self, root, chunks, dtype, crc, name):
        import numcodecs

        self.root = root
        self.chunks = chunks
        self.dtype = dtype
        self.crc = numcodecs.CRC32C() if crc else None
        self.blosc = numcodecs.Blosc()
        self.name = name
        # one decoding buffer per thread (decoding into a fresh array costs
        # its page faults: measured 4x slower than into a reused buffer)
        self._local = threading.local()

    @classmethod
    def for_array(cls, array, name):
        try:
            from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec
            from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding
            from zarr.storage import LocalStore

            meta = array.metadata
            store = array.store_path.store
            codecs = list(meta.codecs)
            if (meta.zarr_format != 3 or not isinstance(store, LocalStore)
                    or not isinstance(meta.chunk_key_encoding, DefaultChunkKeyEncoding)
                    or meta.chunk_key_encoding.separator != "/"
                    or len(codecs) not in (2, 3) or not isinstance(codecs[0], BytesCodec)
                    or not isinstance(codecs[1], BloscCodec)
                    or (len(codecs) == 3 and not isinstance(codecs[2], Crc32cCodec))):
                return None
            dtype = np.dtype(array.dtype)
            if dtype.itemsize > 1 and codecs[0].endian is not None and \
                    codecs[0].endian.value != "little":
                return None
            root = os.path.join(str(store.root), array.store_path.path)
            return cls(root, tuple(int(c) for c in array.chunks), dtype, len(codecs) == 3, name)
        except Exception:  # any other zarr layout: use zarr's own reader
            return None

    def chunk(self, i, j):
        path = os.path.join(self.root, "c", str(i), str(j))
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise ValueError(f"{self.name}: chunk ({i}, {j}) of {self.root!r} is missing; "
                             "the store is damaged") from None
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = np.empty(self.chunks, dtype=self.dtype)
        try:
            if self.crc is not None:
                raw = self.crc.decode(raw)
            self.blosc.decode(raw, out=buf)
        except Exception as exc:
            raise ValueError(f"{self.name}: chunk ({i}, {j}) of {self.root!r} cannot be "
                             f"decoded ({exc}); the store is damaged") from None
        return buf

    def will_need(self, rows, columns):
        """Ask the kernel to start reading these chunks' files (no waiting)."""
        t, c = self.chunks
        advise = getattr(os, "posix_fadvise", None)
        if advise is None:  # pragma: no cover - not POSIX
            return
        for i in np.unique(rows // t):
            for j in np.unique(columns // c):
                try:
                    fd = os.open(os.path.join(self.root, "c", str(i), str(j)), os.O_RDONLY)
                except OSError:
                    continue  # a missing chunk is reported when it is read
                try:
                    advise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                finally:
                    os.close(fd)

    def read(self, rows, columns, out):
        """``out[:] = X[rows][:, columns]`` (both sorted), each chunk decoded once."""
        t, c = self.chunks
        col_runs = _runs(columns, c)
        row_ids = rows // t
        bounds = np.flatnonzero(np.diff(row_ids)) + 1
        for part in np.split(np.arange(rows.size), bounds):
            i = int(row_ids[part[0]])
            local = rows[part] - i * t
            contiguous = local[-1] - local[0] + 1 == local.size
            for j, c0, c1, o_c in col_runs:
                block = self.chunk(i, j)
                if contiguous:
                    out[part[0]:part[-1] + 1, o_c:o_c + c1 - c0] = \
                        block[local[0]:local[-1] + 1, c0:c1]
                else:
                    out[part, o_c:o_c + c1 - c0] = block[local, c0:c1]
        return out


class ZarrSource(_Source):
    """A 2D zarr array, read chunk-aligned (only the chunks a step needs)."""

    def __init__(self, array, *, n_samples=None, feature_order=None, checked=False, name="X"):
        super().__init__()
        if len(array.shape) != 2:
            raise ValueError(f"{name} must be a 2D array, got a zarr array of shape "
                             f"{tuple(array.shape)}")
        self.array = array
        self.n_samples = int(array.shape[0] if n_samples is None else n_samples)
        self.n_features = int(array.shape[1])
        self.dtype = _float_dtype(array.dtype)
        chunks = getattr(array, "chunks", None) or array.shape
        self.row_chunk = int(chunks[0])
        self.feature_chunk = int(chunks[1])
        self.feature_order = feature_order
        self.checked = checked
        self.name = name
        self._files = (_ChunkFiles.for_array(array, name)
                       if np.dtype(array.dtype) == self.dtype else None)
        # chunk files read directly: the learner hints the kernel to read them
        # ahead and decodes them on a free core instead of in a reader thread
        self.prefetch = self._files is None

    def will_need(self, rows, columns):
        if self._files is not None and columns is not None:
            self._files.will_need(np.asarray(rows, np.int64), np.asarray(columns, np.int64))

    def read(self, rows, columns, out=None, parallel=True):
        rows = np.asarray(rows, dtype=np.int64)
        arr = self.array
        if self._files is not None and rows.size and np.all(np.diff(rows) > 0) and (
                columns is None or np.all(np.diff(columns) > 0)):
            cols = (np.arange(self.n_features, dtype=np.int64) if columns is None
                    else np.asarray(columns, np.int64))
            if out is None:
                out = np.empty((rows.size, cols.size), dtype=self.dtype)
            return self._finish(self._files.read(rows, cols, out), rows)
        if columns is None:
            if rows.size and rows[-1] - rows[0] + 1 == rows.size:
                block = arr[int(rows[0]):int(rows[-1]) + 1]
            else:
                block = arr.get_orthogonal_selection((rows, slice(None)))
        else:
            block = arr.get_orthogonal_selection((rows, np.asarray(columns, np.int64)))
        return self._finish(np.asarray(block), rows)

    def read_rows(self, start, stop):
        if self._files is not None and stop > start:
            return self.read(np.arange(start, stop, dtype=np.int64), None)
        return self._finish(np.asarray(self.array[start:stop]), np.arange(start, stop))


class DaskSource(_Source):
    """A 2D dask array: each read computes only the blocks it needs."""

    def __init__(self, array, *, feature_order=None, name="X"):
        super().__init__()
        if array.ndim != 2:
            raise ValueError(f"{name} must be a 2D array, got a dask array of shape "
                             f"{array.shape}")
        if any(np.isnan(s) for s in array.shape):
            raise ValueError(f"{name} is a dask array of unknown shape {array.shape}; "
                             "call .compute_chunk_sizes() first")
        self.array = array
        self.n_samples, self.n_features = (int(s) for s in array.shape)
        self.dtype = _float_dtype(array.dtype)
        self.row_chunk = int(max(1, min(array.chunks[0])))
        self.feature_chunk = int(max(1, min(array.chunks[1])))
        self.feature_order = feature_order
        self.checked = False
        self.name = name

    def read(self, rows, columns, out=None, parallel=True):
        rows = np.asarray(rows, dtype=np.int64)
        part = self.array[rows]
        if columns is not None:
            part = part[:, np.asarray(columns, np.int64)]
        return self._finish(np.asarray(part.compute()), rows)

    def read_rows(self, start, stop):
        return self._finish(np.asarray(self.array[start:stop].compute()),
                            np.arange(start, stop))

    def iter_row_blocks(self, step=None, start=0, stop=None):
        if step is None:
            # a block arrives as its chunks (from the workers, with a cluster)
            # and is then joined: twice its size while it is read, so half the
            # bytes of the other sources' blocks, in whole chunks
            row_bytes = max(1, self.n_features * self.dtype.itemsize)
            step = max(1, int(2 ** 25 // row_bytes))
            step = max(self.row_chunk, step // self.row_chunk * self.row_chunk)
        return super().iter_row_blocks(step, start, stop)


class RowSubset(_Source):
    """Some rows of another source (sorted), read as a source of their own."""

    def __init__(self, source, rows):
        super().__init__()
        self.source = source
        self.rows = np.asarray(rows, dtype=np.int64)
        self.n_samples = int(self.rows.size)
        self.n_features = source.n_features
        self.dtype = source.dtype
        self.row_chunk = source.row_chunk
        self.feature_chunk = source.feature_chunk
        self.feature_order = source.feature_order
        self.checked = True
        self.prefetch = source.prefetch
        self.name = source.name

    def read(self, rows, columns, out=None, parallel=True):
        block = self.source.read(self.rows[np.asarray(rows, dtype=np.int64)], columns,
                                 out=out, parallel=parallel)
        self._count(block)
        return block

    def read_rows(self, start, stop):
        return self.read(np.arange(start, stop, dtype=np.int64), None)


class PermutedFeatures:
    """An array whose columns are stored in a known permuted order.

    Column ``j`` of ``X`` holds feature ``feature_order[j]``.  The array
    learners then sample whole contiguous blocks of columns (cache lines in
    memory, chunks on disk) and return components in the original feature
    order.  nimf's image estimators lay out masked data this way; a masked study
    on disk is read the same way.

    Parameters
    ----------
    X : ndarray, memmap, zarr or dask array of shape (n_samples, n_features)
    feature_order : array-like of int of shape (n_features,)
        A permutation of ``range(n_features)``.
    checked : bool, default=False
        The values are known to be finite (an array in memory is otherwise
        checked once, whole, when a learner starts on it; data on storage are
        checked block by block as they are read).
    """

    def __init__(self, X, feature_order, checked=False):
        order = np.asarray(feature_order)
        n_features = X.shape[1] if len(getattr(X, "shape", ())) == 2 else None
        if (order.ndim != 1 or not np.issubdtype(order.dtype, np.integer)
                or n_features is None or order.shape[0] != n_features
                or not np.array_equal(np.sort(order), np.arange(n_features))):
            raise ValueError(
                f"feature_order must be a permutation of range(n_features) = "
                f"range({n_features}), got an array of shape {order.shape} "
                f"and dtype {order.dtype}")
        self.X = X
        self.feature_order = order.astype(np.int64)
        self.shape = tuple(X.shape)
        self.checked = bool(checked)


class CenteredSource(_Source):
    """Another source read minus a fixed row: centred data that is never stored.

    Every block read from ``source`` has ``mean`` subtracted as it is read, so a
    learner fitted on a ``CenteredSource`` sees ``X - mean`` while the data stay
    where they are (on disk, in a dask graph, in the caller's array, which is
    never written to).

    Parameters
    ----------
    source : source
        What :func:`as_source` returns (shape, dtype, chunks and
        ``feature_order`` are those of ``source``; so are the bytes counted).
    mean : array-like of shape (n_features,)
        The row subtracted, in the *storage order* of ``source``: column ``j``
        is read minus ``mean[j]``.  When ``source.feature_order`` is not None,
        column ``j`` holds feature ``feature_order[j]``, so ``mean[j]`` must be
        the mean of that feature (``mean_of_features[feature_order]``).
    """

    def __init__(self, source, mean):
        # no _Source.__init__: the bytes read are counted by the wrapped source
        self._lock = threading.Lock()
        mean = np.asarray(mean)
        if mean.shape != (source.n_features,):
            raise ValueError(f"mean must have shape ({source.n_features},) (one value per "
                             f"column of the source), got an array of shape {mean.shape}")
        self.source = source
        self.mean = np.ascontiguousarray(mean, dtype=source.dtype)
        self.n_samples, self.n_features = source.n_samples, source.n_features
        self.dtype = source.dtype
        self.row_chunk = source.row_chunk
        self.feature_chunk = source.feature_chunk
        self.feature_order = source.feature_order
        self.checked = source.checked
        self.name = source.name
        self.prefetch = source.prefetch

    @property
    def bytes_read(self):
        return self.source.bytes_read

    def _centre(self, block, columns, out):
        mean = self.mean if columns is None else self.mean[np.asarray(columns, np.int64)]
        if out is not None and block is out:
            block -= mean
            return block
        # a new array: the block read may be a view of the caller's data
        return np.subtract(block, mean, dtype=self.dtype)

    def will_need(self, rows, columns):
        # pass on the hint that a read is coming (sources on storage act on it)
        hint = getattr(self.source, "will_need", None)
        if hint is not None:
            hint(rows, columns)

    def read(self, rows, columns, out=None, parallel=True):
        block = self.source.read(rows, columns, out=out, parallel=parallel)
        return self._centre(block, columns, out)

    def read_rows(self, start, stop):
        return self._centre(self.source.read_rows(start, stop), None, None)

    def iter_row_blocks(self, step=None, start=0, stop=None):
        # the wrapped source's blocks (its own block size when step is None)
        for lo, block in self.source.iter_row_blocks(step, start, stop):
            yield lo, self._centre(block, None, None)

    def fingerprint(self):
        """The wrapped source's fingerprint and a hash of the row subtracted."""
        import hashlib

        out = dict(self.source.fingerprint())
        out["centred"] = hashlib.sha256(self.mean.tobytes()).hexdigest()
        return out


def check_finite_array(X, name):
    """Refuse an array in memory holding NaN or infinity, naming the first rows that do."""
    if X.dtype.kind != "f":
        return
    if X.ndim == 2 and X.flags.c_contiguous and X.dtype in (np.float32, np.float64):
        # one compiled read (about twice as fast as NumPy's test); the rows are
        # listed below only when something is wrong
        if _checks.first_nonfinite_row(X, 0, X.shape[0]) < 0:
            return
    step = max(1, 2 ** 24 // max(1, X.shape[1]))
    bad = []
    for lo in range(0, X.shape[0], step):
        block = X[lo:lo + step]
        if not np.isfinite(block).all():
            bad.extend((lo + np.flatnonzero(~np.isfinite(block).all(axis=1))).tolist())
            if len(bad) >= 10:
                break
    if bad:
        rows = ", ".join(str(r) for r in bad[:10]) + (", ..." if len(bad) > 10 else "")
        raise ValueError(f"{name} contains NaN or infinite values (in rows {rows}); "
                         "remove or impute them before fitting")


def _is_zarr(X):
    mod = type(X).__module__
    return mod.startswith("zarr")


def _is_dask(X):
    mod = type(X).__module__
    return mod.startswith("dask")


def is_large_input(X):
    """True for inputs read by blocks (never converted to one array in memory)."""
    return (isinstance(X, (_Source, PermutedFeatures, np.memmap))
            or hasattr(X, "__nimf_source__") or _is_zarr(X) or _is_dask(X))


def as_source(X, *, name="X"):
    """The source reading ``X``: an array, memory map, zarr or dask array.

    Objects of higher layers (a masked study on disk) provide their own source
    through a ``__nimf_source__()`` method.
    """
    order = None
    if isinstance(X, _Source):
        return X
    if hasattr(X, "__nimf_source__"):
        return X.__nimf_source__()
    checked = None
    if isinstance(X, PermutedFeatures):
        order = X.feature_order
        checked = X.checked
        X = X.X
    if _is_zarr(X):
        return ZarrSource(X, feature_order=order, name=name)
    if _is_dask(X):
        return DaskSource(X, feature_order=order, name=name)
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(f"{name} must be a 2D array, got an array of shape {X.shape}")
        # a memory map is checked block by block as it is read; an array in
        # memory was checked whole by the estimator, or is checked whole now
        mapped = isinstance(X, np.memmap)
        if checked is False and not mapped:
            check_finite_array(X, name)
        return ArraySource(X, feature_order=order, name=name, checked=not mapped)
    raise ValueError(
        f"{name} must be a 2D numpy array, memory map, zarr array, dask array or "
        f"MaskedStudy, got {type(X).__name__}")


class Prefetcher:
    """Calls ``read(item)`` for each item in a background thread, ``depth`` ahead.

    Iterating yields the results in order; an exception in the reader is raised
    in the caller at the item that failed.  ``close()`` stops reading ahead.
    """

    def __init__(self, read, items, depth=1):
        self._read = read
        self._items = iter(items)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nimf-reader")
        self._pending = deque()
        for _ in range(max(1, depth)):
            self._submit()

    def _submit(self):
        try:
            item = next(self._items)
        except StopIteration:
            return
        self._pending.append(self._pool.submit(self._read, item))

    def __iter__(self):
        return self

    def __next__(self):
        if not self._pending:
            raise StopIteration
        future = self._pending.popleft()
        self._submit()
        return future.result()

    def close(self):
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
