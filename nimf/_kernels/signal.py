"""Separable Gaussian smoothing of 4D images, evaluated at mask voxels.

A 1D filtering pass along one axis is described by a table of input indices
``idx`` of shape ``(n_out, n_taps)`` and the tap weights ``weights`` of shape
``(n_taps,)``: output ``i`` is ``sum_k weights[k] * input[idx[i, k]]``.  The
table encodes the boundary handling (mirror reflection) and the cropping of
the output to the bounding box of the mask, so that the kernels only read and
write what is needed; :mod:`nimf.neuro._signal` builds the tables.

As :func:`scipy.ndimage.correlate1d`, the kernels accumulate in float64 and
round to the dtype of their output after each pass: in float32, smoothing one
axis after the other gives the same numbers as nilearn (which calls scipy),
up to the order of the float64 sums.

Two layouts are handled:

* "voxel-major" arrays ``(n0, n1, n2, n_scans)``, the scans contiguous (4D
  arrays built in memory by NumPy): the output is produced one line ``(i,
  j)`` of the first two axes at a time, the passes working on contiguous
  blocks of scans that stay in cache; the last pass is evaluated at the mask
  voxels only and the voxel time series are written transposed, by blocks,
  into the ``(n_scans, n_voxels)`` output;
* "scan-major" arrays ``(n_scans, n0, n1, n2)`` (the memory order of images
  read from NIfTI files): each scan is smoothed on its own in small buffers
  that stay in cache, the last pass at the mask voxels only (voxel ``v``
  reads the taps ``base[v] + idx[row[v], k] * stride`` of the flattened
  scan), and its voxels fill one output row.

Reads and writes of contiguous blocks go through slices indexed by the loop
variable: numba then proves the indices non-negative and vectorizes the
loops (computed indices such as ``a[c0 + c]`` are compiled into gathers and
scatters, several times slower).
"""

import numpy as np
from numba import njit

from .._config import JIT_KWARGS

# length of the blocks of contiguous values accumulated in a local buffer
_BLOCK = 256
# number of voxels whose time series are transposed together
_VOXEL_BLOCK = 64


@njit(**JIT_KWARGS)
def correlate_axis(src, dst, idx, weights):
    """One filtering pass along the middle axis of 3D arrays.

    Parameters
    ----------
    src : ndarray of shape (n_outer, n_in, n_inner)
        Input, C-contiguous.
    dst : ndarray of shape (n_outer, n_out, n_inner)
        Output, C-contiguous, overwritten.
    idx : ndarray of shape (n_out, n_taps)
        Indices into the middle axis of ``src`` of the taps of each output.
    weights : ndarray of shape (n_taps,)
        Tap weights (float64).
    """
    n_outer, n_out, n_inner = dst.shape
    n_taps = weights.shape[0]
    acc = np.empty(_BLOCK, dtype=np.float64)
    for o in range(n_outer):
        for i in range(n_out):
            for c0 in range(0, n_inner, _BLOCK):
                nb = min(_BLOCK, n_inner - c0)
                s = src[o, idx[i, 0], c0:c0 + nb]
                w = weights[0]
                for c in range(nb):
                    acc[c] = w * s[c]
                for k in range(1, n_taps):
                    s = src[o, idx[i, k], c0:c0 + nb]
                    w = weights[k]
                    for c in range(nb):
                        acc[c] += w * s[c]
                d = dst[o, i, c0:c0 + nb]
                for c in range(nb):
                    d[c] = acc[c]


@njit(**JIT_KWARGS)
def correlate_last(src, dst, idx, weights, start, stop, offset):
    """One filtering pass along the last (contiguous) axis of 2D arrays.

    Parameters
    ----------
    src : ndarray of shape (n_rows, n_in)
    dst : ndarray of shape (n_rows, n_out)
        Overwritten.
    idx : ndarray of shape (n_out, n_taps)
    weights : ndarray of shape (n_taps,)
        Tap weights (float64).
    start, stop, offset : int
        For the outputs ``start <= i < stop`` (away from the borders),
        ``idx[i, k] == i + offset + k``: they are computed with contiguous
        slices, the others with the table.
    """
    n_rows, n_out = dst.shape
    n_taps = weights.shape[0]
    n_mid = stop - start
    acc = np.empty(max(n_mid, 1), dtype=np.float64)
    for r in range(n_rows):
        s = src[r]
        d = dst[r]
        for i in range(start):
            a = weights[0] * s[idx[i, 0]]
            for k in range(1, n_taps):
                a += weights[k] * s[idx[i, k]]
            d[i] = a
        if n_mid > 0:
            line = s[start + offset:start + offset + n_mid]
            w = weights[0]
            for c in range(n_mid):
                acc[c] = w * line[c]
            for k in range(1, n_taps):
                line = s[start + offset + k:start + offset + k + n_mid]
                w = weights[k]
                for c in range(n_mid):
                    acc[c] += w * line[c]
            mid = d[start:stop]
            for c in range(n_mid):
                mid[c] = acc[c]
        for i in range(max(stop, start), n_out):
            a = weights[0] * s[idx[i, 0]]
            for k in range(1, n_taps):
                a += weights[k] * s[idx[i, k]]
            d[i] = a


@njit(**JIT_KWARGS)
def _flush(buf, nb, out, v0):
    """Write the ``nb`` buffered voxel time series to ``out[:, v0:v0 + nb]``."""
    for f in range(out.shape[0]):
        o = out[f, v0:v0 + nb]
        for b in range(nb):
            o[b] = buf[b, f]


@njit(**JIT_KWARGS)
def smooth_gather_voxel_major(src, smooth0, idx0, weights0, smooth1, idx1, weights1,
                              idx2, weights2, line_start, vox2, frames, out):
    """Smooth a voxel-major array line by line and gather the mask voxels.

    The output is produced one line ``(i, j)`` (first two coordinates) at a
    time: the lines of the first-axis pass are computed when the second-axis
    pass first needs them, the line ``(i, j)`` of the second pass is filtered
    along the last axis at its voxels only.  Everything but the input stays
    in cache.  The voxel time series are written transposed, by blocks.

    Parameters
    ----------
    src : ndarray of shape (n0, n1, n2, n_scans)
        Input, C-contiguous.
    smooth0 : bool
        Whether to filter along the first axis; if False, output position
        ``i`` is input position ``i``.
    idx0, weights0 : ndarrays of shape (m0, n_taps0) and (n_taps0,)
        Table and weights (float64) of the first axis.
    smooth1, idx1, weights1 :
        Same for the second axis (``m1`` outputs).
    idx2, weights2 : ndarrays of shape (m2, n_taps2) and (n_taps2,)
        Table and weights of the last axis (a single weight of 1 to gather
        without filtering).
    line_start : ndarray of shape (m0 * m1 + 1,)
        The voxels of output line ``(i, j)`` are
        ``line_start[i * m1 + j]:line_start[i * m1 + j + 1]`` (voxels sorted
        by line).
    vox2 : ndarray of shape (n_voxels,)
        Output position of each voxel along the last axis.
    frames : ndarray of shape (n_frames,)
        Scans to extract, in order.
    out : ndarray of shape (n_frames, n_voxels)
        Output, C-contiguous, overwritten.
    """
    n0, n1, n2, n_scans = src.shape
    m0 = idx0.shape[0] if smooth0 else n0
    m1 = idx1.shape[0] if smooth1 else n1
    n_frames = out.shape[0]
    inner = n2 * n_scans
    slab0 = np.empty((n1, n2, n_scans), dtype=out.dtype)
    line1 = np.empty((n2, n_scans), dtype=out.dtype)
    flat1 = line1.reshape(inner)
    acc = np.empty(_BLOCK, dtype=np.float64)
    acc_t = np.empty(n_scans, dtype=np.float64)
    buf = np.empty((_VOXEL_BLOCK, n_frames), dtype=out.dtype)
    n_taps0 = weights0.shape[0]
    n_taps1 = weights1.shape[0]
    n_taps2 = weights2.shape[0]
    all_frames = n_frames == n_scans
    for f in range(n_frames):
        if frames[f] != f:
            all_frames = False
    n_buf = 0
    v_flush = 0
    for i in range(m0):
        if line_start[(i + 1) * m1] == line_start[i * m1]:
            continue
        first = slab0 if smooth0 else src[i]
        done = 0  # lines of slab0 computed for this i
        for j in range(m1):
            v_start = line_start[i * m1 + j]
            v_stop = line_start[i * m1 + j + 1]
            if v_stop == v_start:
                continue
            if smooth0:
                need = j + 1
                if smooth1:
                    need = 0
                    for k in range(n_taps1):
                        need = max(need, idx1[j, k] + 1)
                while done < need:
                    row = slab0[done].reshape(inner)
                    for c0 in range(0, inner, _BLOCK):
                        nb = min(_BLOCK, inner - c0)
                        s = src[idx0[i, 0], done].reshape(inner)[c0:c0 + nb]
                        w = weights0[0]
                        for c in range(nb):
                            acc[c] = w * s[c]
                        for k in range(1, n_taps0):
                            s = src[idx0[i, k], done].reshape(inner)[c0:c0 + nb]
                            w = weights0[k]
                            for c in range(nb):
                                acc[c] += w * s[c]
                        d = row[c0:c0 + nb]
                        for c in range(nb):
                            d[c] = acc[c]
                    done += 1
            if smooth1:
                for c0 in range(0, inner, _BLOCK):
                    nb = min(_BLOCK, inner - c0)
                    s = first[idx1[j, 0]].reshape(inner)[c0:c0 + nb]
                    w = weights1[0]
                    for c in range(nb):
                        acc[c] = w * s[c]
                    for k in range(1, n_taps1):
                        s = first[idx1[j, k]].reshape(inner)[c0:c0 + nb]
                        w = weights1[k]
                        for c in range(nb):
                            acc[c] += w * s[c]
                    d = flat1[c0:c0 + nb]
                    for c in range(nb):
                        d[c] = acc[c]
                line = line1
            else:
                line = first[j]
            for v in range(v_start, v_stop):
                taps = idx2[vox2[v]]
                s = line[taps[0]]
                w = weights2[0]
                for t in range(n_scans):
                    acc_t[t] = w * s[t]
                for k in range(1, n_taps2):
                    s = line[taps[k]]
                    w = weights2[k]
                    for t in range(n_scans):
                        acc_t[t] += w * s[t]
                b = buf[n_buf]
                if all_frames:
                    for t in range(n_scans):
                        b[t] = acc_t[t]
                else:
                    for f in range(n_frames):
                        b[f] = acc_t[frames[f]]
                n_buf += 1
                if n_buf == _VOXEL_BLOCK:
                    _flush(buf, n_buf, out, v_flush)
                    v_flush += n_buf
                    n_buf = 0
    _flush(buf, n_buf, out, v_flush)


@njit(**JIT_KWARGS)
def smooth_gather_scan_major(src, axes, idx0, weights0, idx1, weights1, idx2, weights2,
                             shapes, contiguous, voxels, frames, out):
    """Smooth each scan of a scan-major array and gather its mask voxels.

    Each scan goes through up to three filtering passes in small buffers,
    then its voxels are gathered into one output row.

    Parameters
    ----------
    src : ndarray of shape (n_scans, n0, n1, n2)
        Input, C-contiguous.
    axes : ndarray of shape (3,)
        Axis (0, 1 or 2) filtered by each pass, -1 for no pass (the passes
        that are done come first).
    idx0, weights0, idx1, weights1, idx2, weights2 : ndarrays
        Tables ``(n_out, n_taps)`` and float64 weights ``(n_taps,)`` of the
        passes.
    shapes : ndarray of shape (3, 3)
        Shape of a scan after each pass.
    contiguous : ndarray of shape (3, 3)
        ``(start, stop, offset)`` of each pass along the last axis (see
        :func:`correlate_last`); ignored for the other axes.
    voxels : ndarray of shape (n_voxels,)
        Position of each voxel in the flattened scan after the last pass.
    frames : ndarray of shape (n_frames,)
        Scans to extract, in order.
    out : ndarray of shape (n_frames, n_voxels)
        Output, C-contiguous, overwritten.
    """
    n_frames, n_voxels = out.shape
    buf0 = np.empty((shapes[0, 0], shapes[0, 1], shapes[0, 2]), dtype=out.dtype)
    buf1 = np.empty((shapes[1, 0], shapes[1, 1], shapes[1, 2]), dtype=out.dtype)
    buf2 = np.empty((shapes[2, 0], shapes[2, 1], shapes[2, 2]), dtype=out.dtype)
    for f in range(n_frames):
        scan = src[frames[f]]
        for p in range(3):
            axis = axes[p]
            if axis < 0:
                break
            if p == 0:
                dst, idx, weights = buf0, idx0, weights0
            elif p == 1:
                dst, idx, weights = buf1, idx1, weights1
            else:
                dst, idx, weights = buf2, idx2, weights2
            n0, n1, n2 = scan.shape
            m0, m1, m2 = dst.shape
            if axis == 0:
                correlate_axis(scan.reshape((1, n0, n1 * n2)),
                               dst.reshape((1, m0, m1 * m2)), idx, weights)
            elif axis == 1:
                correlate_axis(scan, dst, idx, weights)
            else:
                correlate_last(scan.reshape((n0 * n1, n2)), dst.reshape((m0 * m1, m2)),
                               idx, weights, contiguous[p, 0], contiguous[p, 1],
                               contiguous[p, 2])
            scan = dst
        flat = scan.reshape(scan.size)
        o = out[f]
        for v in range(n_voxels):
            o[v] = flat[voxels[v]]
