"""Masking a study on a dask cluster: subjects on the workers, commits here.

:func:`~nimf.neuro.mask_study` with a ``client`` hands each subject to a worker,
which masks and cleans it exactly as the threads do (one BLAS thread, the same
scan and voxel orders) and writes the chunks of the store holding only its own
rows: rows ``[start, stop)`` of the subject are known before it is masked (from
its image header), so the chunks wholly inside them belong to it alone and
workers never write the same chunk, with no lock.  The rows it shares with a
chunk of its neighbours (at most a chunk's worth at each end) come back to the
caller, which writes them and commits the subjects in order, as without a
cluster: a subject is committed only once all its rows are written, and each
chunk is written whole (zarr's local store renames a finished temporary file;
an object store replaces a key at once).  A worker that dies in the middle
leaves chunks of an uncommitted subject, past the committed scans, that its
retry rewrites, or that a failed call leaves out of the study.
"""

import contextlib
import os
from collections import deque

__all__ = ["run_on_cluster"]


def _owned_rows(start, stop, scan_chunk):
    """``[lo, hi)``: the rows of whole chunks inside ``[start, stop)`` (lo == hi: none)."""
    lo = -(-start // scan_chunk) * scan_chunk
    hi = stop // scan_chunk * scan_chunk
    return (lo, hi) if hi > lo else (start, start)


def _open_data(location, metadata):
    """The study's data array, writable, from its metadata as the caller sent it.

    The caller grows the array (rewrites its ``zarr.json``) while workers
    write: a worker does not read that file, which an object store or fsspec's
    local file system may show half written.
    """
    import zarr

    from .study import _data_array, _store

    store = _store(location, read_only=False)
    try:
        from zarr.core.array import Array, AsyncArray
        from zarr.storage import StorePath

        return Array(AsyncArray(metadata, StorePath(store, "data"),
                                config={"write_empty_chunks": True}))
    except (ImportError, TypeError):  # pragma: no cover - another zarr 3 layout
        group = zarr.open_group(store=store, mode="r+")
        return _data_array(group, writable=True)


def _mask_and_write(location, metadata, shared, i, img, conf, index, seed, start, stop,
                    scan_chunk):
    """On a worker: mask ``imgs[i]``, write its own chunks, return the rest.

    Returns ``(digest, n_rows, head, tail)``: the rows before and after the
    chunks written here.
    """
    from . import _signal
    from .study import _is_url, _mask_subject

    if isinstance(location, str) and not _is_url(location) and \
            not os.path.isfile(os.path.join(location, "data", "zarr.json")):
        # a worker on another machine would write its chunks to its own disk
        raise FileNotFoundError(
            f"the dask worker does not see the study at {location!r}: the workers must "
            f"reach the store under the same path (a shared file system) or by URL (object "
            f"storage)")
    args, order = shared
    with _signal._single_threaded_blas():
        stored, digest = _mask_subject(i, img, conf, args, order, seed, index, order.size)
    if stored.shape[0] != stop - start:
        raise ValueError(f"imgs[{i}] gave {stored.shape[0]} scans, its header "
                         f"{stop - start}")
    lo, hi = _owned_rows(start, stop, scan_chunk)
    if hi > lo:
        data = _open_data(location, metadata)
        if data.shape[0] < hi:  # pragma: no cover - the caller grows it first
            raise RuntimeError(f"the data array holds {data.shape[0]} scans, imgs[{i}] "
                               f"needs {hi}")
        data[lo:hi] = stored[lo - start:hi - start]
    return digest, stored.shape[0], stored[:lo - start].copy(), stored[hi - start:].copy()


def _shared(args, order):
    return args, order


def _in_flight(client):
    """Subjects handed to the cluster at once: one per worker thread, and one more."""
    with contextlib.suppress(Exception):
        return max(2, sum(client.nthreads().values()) + 1)
    return 2


def run_on_cluster(writer, items, client, report):
    """Mask ``items`` ((i, img, conf, n_scans), in order) on ``client``'s workers.

    ``writer`` is the study's ``_Writer``: its array, metadata and commits.
    """
    from distributed import wait

    data = writer.data
    n_voxels = writer.n_voxels
    scan_chunk = int(data.chunks[0])
    end = int(writer.meta["n_scans"])
    if data.shape[0] != end:
        # rows left past the committed scans by an interrupted write go first,
        # as without a cluster
        data.resize((end, n_voxels))
    location = writer.study_location
    # the mask, the cleaning parameters and the voxel order, sent once as the
    # result of a task: unlike scattered data, dask computes it again if the
    # workers holding it die
    shared = client.submit(_shared, writer.args, writer.order, pure=False,
                           key=f"nimf-mask-parameters-{os.urandom(4).hex()}")
    limit = _in_flight(client)
    pending = deque()
    try:
        for i, img, conf, n_scans in items:
            start, stop = end, end + n_scans
            end = stop
            if data.shape[0] < stop:
                data.resize((stop, n_voxels))
            future = client.submit(
                _mask_and_write, location, data.metadata.to_dict(), shared, i, img, conf,
                writer.first_index + i,
                writer.seed, start, stop, scan_chunk, pure=False,
                key=f"nimf-mask-subject-{writer.first_index + i}-{os.urandom(4).hex()}")
            pending.append((i, img, conf, start, stop, future))
            while len(pending) >= limit:
                _commit_next(writer, pending.popleft(), report)
        while pending:
            _commit_next(writer, pending.popleft(), report)
    except BaseException:
        # the subjects still on the workers may be writing their chunks: wait
        # for them, so that nothing writes to the store once this call is over
        futures = [entry[-1] for entry in pending]
        if futures:
            with contextlib.suppress(BaseException):
                wait(futures, timeout=600)
        raise
    finally:
        with contextlib.suppress(BaseException):
            client.cancel([shared])
    if writer.study_local:
        _remove_partial_files(writer.path, writer.first_row // scan_chunk)


def _commit_next(writer, entry, report):
    i, img, conf, start, stop, future = entry
    try:
        digest, n_rows, head, tail = future.result()
    except Exception as exc:
        from distributed.scheduler import KilledWorker

        if isinstance(exc, KilledWorker):
            raise RuntimeError(
                f"imgs[{i}] could not be masked on the dask cluster: the workers masking "
                f"it died each time it was tried (dask's "
                f"distributed.scheduler.allowed-failures): out of memory, or killed? "
                f"({exc})") from exc
        raise
    try:
        if head.shape[0]:
            writer.data[start:start + head.shape[0]] = head
        if tail.shape[0]:
            writer.data[stop - tail.shape[0]:stop] = tail
    except Exception as exc:
        raise OSError(f"{writer.path}: could not write the scans of imgs[{i}] ({exc})") \
            from exc
    del head, tail
    writer._commit_meta(img, conf, n_rows, digest)
    report(i, img, n_rows)


def _remove_partial_files(path, first_chunk_row):
    """Delete the temporary chunk files left by workers killed while writing."""
    root = os.path.join(path, "data", "c")
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            if entry.name.isdigit() and int(entry.name) >= first_chunk_row and entry.is_dir():
                for chunk in os.scandir(entry.path):
                    if chunk.name.endswith(".partial"):
                        with contextlib.suppress(OSError):
                            os.unlink(chunk.path)
