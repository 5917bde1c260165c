"""Work split over cores by nimf's own threads: matrix products and row blocks.

Threaded BLAS (OpenBLAS) synchronises its threads by spinning: on a machine
where another process, or nimf's own reader thread, holds a core, a product that
takes 20 ms on two free cores was measured to take up to a second.  The online
learners therefore run BLAS single-threaded (``threadpool_limits(1)``) and use
both cores by cutting their large products in parts computed by a small pool of
Python threads (BLAS releases the GIL).  When a core is busy the parts simply
run one after the other.  The cut depends only on the shapes and the number of
workers, never on timing, so results are reproducible.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["n_workers", "matmul", "matmul_sum", "by_rows", "submit", "bounds"]

_POOL = None
# below this many multiply-adds a product is not worth cutting
_MIN_WORK = 2 ** 22
# below this many elements, memory-bound work is done in the calling thread
_MIN_ROWS_WORK = 2 ** 18


def n_workers():
    """Cores this process may use (at most 8 parts per product)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        count = os.cpu_count() or 1
    return int(max(1, min(8, count)))


def _pool():
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=n_workers(), thread_name_prefix="nimf-blas")
    return _POOL


class _Done:
    """The result of work done at once (the future of work too small to hand over)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def submit(fn, *args, work=None):
    """Run ``fn(*args)`` on a worker thread; returns a future.

    ``work`` (a number of array elements) below ``_MIN_ROWS_WORK`` runs it now,
    in this thread: handing over a few microseconds of work costs more.
    """
    if work is not None and work < _MIN_ROWS_WORK:
        return _Done(fn(*args))
    return _pool().submit(fn, *args)


def bounds(n, parts):
    """``(lo, hi)`` ranges cutting ``range(n)`` in at most ``parts`` non-empty parts."""
    edges = np.linspace(0, n, parts + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _run(parts, fn):
    """``fn(lo, hi)`` for each part: the first in this thread, the others in the pool."""
    futures = [_pool().submit(fn, lo, hi) for lo, hi in parts[1:]]
    fn(*parts[0])
    for future in futures:
        future.result()


def matmul(a, b, out=None, axis=0):
    """``a @ b`` computed in parts by rows of ``a`` (``axis=0``) or columns of ``b`` (1)."""
    m, k = a.shape
    n = b.shape[1]
    if out is None:
        out = np.empty((m, n), dtype=np.result_type(a, b))
    parts = n_workers()
    size = m if axis == 0 else n
    if parts == 1 or m * k * n < _MIN_WORK or size < 2 * parts:
        np.matmul(a, b, out=out)
        return out

    def part(lo, hi):
        if axis == 0:
            np.matmul(a[lo:hi], b, out=out[lo:hi])
        else:
            np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])

    _run(bounds(size, parts), part)
    return out


def matmul_sum(a, b):
    """``a @ b`` with the inner dimension cut in parts whose products are summed."""
    m, k = a.shape
    n = b.shape[1]
    parts = n_workers()
    if parts == 1 or m * k * n < _MIN_WORK or k < 2 * parts:
        return a @ b
    results = {}

    def part(lo, hi):
        results[lo] = a[:, lo:hi] @ b[lo:hi]

    _run(bounds(k, parts), part)
    # summed in the order of the parts, whichever finished first: reproducible
    parts = [results[lo] for lo in sorted(results)]
    total = parts[0]
    for extra in parts[1:]:
        total += extra
    return total


def by_rows(fn, n_rows, row_size=None, min_rows=2):
    """Call ``fn(lo, hi)`` on row ranges covering ``range(n_rows)``, in parallel.

    ``fn`` must release the GIL (a ``nogil`` numba kernel, a BLAS call) and
    write only its own rows.  ``row_size`` (elements per row): below
    ``_MIN_ROWS_WORK`` elements in all, the call is made once, in this thread.
    """
    if row_size is not None and n_rows * row_size < _MIN_ROWS_WORK:
        fn(0, n_rows)
        return
    parts = min(n_workers(), max(1, n_rows // max(1, min_rows)))
    if parts == 1:
        fn(0, n_rows)
        return
    _run(bounds(n_rows, parts), fn)
