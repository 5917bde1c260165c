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

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _parallel
from .._kernels import online as _online

__all__ = ["ArraySource", "ZarrSource", "DaskSource", "PermutedFeatures", "CenteredSource",
           "as_source", "Prefetcher", "is_large_input"]


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

    def _finish(self, block, rows):
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if not self.checked:
            _check_block(block, rows, self.name)
        self._count(block)
        return block

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
        split = _parallel.by_rows if parallel else (lambda fn, n: fn(0, n))
        if not self._direct:
            X = self.X
            block = X[rows] if columns is None else X[np.ix_(rows, columns)]
            return self._finish(block, rows)
        if columns is None:
            block = self.X[rows]
        else:
            columns = np.asarray(columns, dtype=np.int64)
            block = (np.empty((rows.shape[0], columns.shape[0]), dtype=self.dtype)
                     if out is None else out)
            X = self.X
            if columns.shape[0] < 2 or np.all(columns[1:] >= columns[:-1]):
                split(lambda lo, hi: _online.gather(X, rows[lo:hi], columns, block[lo:hi]),
                      rows.shape[0])
            else:
                # read each row front to back, write into the requested order
                dest = np.argsort(columns, kind="stable")
                cols = columns[dest]
                split(lambda lo, hi: _online.gather_sorted(X, rows[lo:hi], cols, dest,
                                                           block[lo:hi]), rows.shape[0])
        return self._finish(block, rows)

    def read_rows(self, start, stop):
        return self._finish(self.X[start:stop], np.arange(start, stop))


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

    def read(self, rows, columns, out=None, parallel=True):
        rows = np.asarray(rows, dtype=np.int64)
        arr = self.array
        if columns is None:
            if rows.size and rows[-1] - rows[0] + 1 == rows.size:
                block = arr[int(rows[0]):int(rows[-1]) + 1]
            else:
                block = arr.get_orthogonal_selection((rows, slice(None)))
        else:
            block = arr.get_orthogonal_selection((rows, np.asarray(columns, np.int64)))
        return self._finish(np.asarray(block), rows)

    def read_rows(self, start, stop):
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
    """

    def __init__(self, X, feature_order):
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
    if isinstance(X, PermutedFeatures):
        order = X.feature_order
        X = X.X
    if _is_zarr(X):
        return ZarrSource(X, feature_order=order, name=name)
    if _is_dask(X):
        return DaskSource(X, feature_order=order, name=name)
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(f"{name} must be a 2D array, got an array of shape {X.shape}")
        # a memory map is checked block by block as it is read; an array in
        # memory was checked whole by the estimator
        return ArraySource(X, feature_order=order, name=name,
                           checked=not isinstance(X, np.memmap))
    raise ValueError(
        f"{name} must be a 2D numpy array, memory map, zarr array, dask array or "
        f"MaskedStudy, got {type(X).__name__}")


class Prefetcher:
    """Calls ``read(item)`` for each item in a background thread, ``depth`` ahead.

    ``depth=0`` reads each item when it is asked for, in the calling thread.

    Iterating yields the results in order; an exception in the reader is raised
    in the caller at the item that failed.  ``close()`` stops reading ahead.
    """

    def __init__(self, read, items, depth=1):
        self._read = read
        self._items = iter(items)
        self._pool = None
        if depth > 0:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nimf-reader")
        self._pending = deque()
        for _ in range(depth):
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
        if self._pool is None:  # depth 0: read when asked, in this thread
            return self._read(next(self._items))
        if not self._pending:
            raise StopIteration
        future = self._pending.popleft()
        self._submit()
        return future.result()

    def close(self):
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
