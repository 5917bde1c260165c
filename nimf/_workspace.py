"""Buffers reused from one step of a learner to the next.

A step of the online learners needs several arrays of a few to a few tens of
megabytes.  Allocated afresh, each is mapped page by page by the kernel on
first touch (glibc serves large requests with ``mmap`` and returns them when
freed): measured at several milliseconds per step at whole-brain width, a
fifth of the step.  A :class:`Workspace` keeps one flat buffer per name and
hands out C-contiguous views of the requested shape, growing a buffer only when
a larger shape is asked for.
"""

import math

import numpy as np

__all__ = ["Workspace"]


class Workspace:
    """Named, reusable, C-contiguous scratch arrays."""

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape, dtype):
        """An uninitialised C-contiguous array of ``shape``: the buffer ``name``."""
        dtype = np.dtype(dtype)
        size = int(math.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.size < size:
            buf = np.empty(max(size, 1), dtype=dtype)
            buf.fill(0)  # map the pages now, once
            self._buffers[name] = buf
        return buf[:size].reshape(shape)
