"""Euclidean projections onto elastic-net balls, with or without positivity.

The ball of radius ``r`` and mixing ``nu`` (``l1_ratio``) is

    { v : (1 - nu) ||v||_2^2 + nu ||v||_1 <= r }.

``nu = 1`` is the l1 ball, ``nu = 0`` the l2 ball (of radius ``sqrt(r)`` in the
usual sense).  With ``positive=True`` the set is intersected with ``v >= 0``.

The projection of ``u`` outside the ball has the closed form (KKT conditions)

    v = soft_threshold(u, nu * lam) / (1 + 2 (1 - nu) lam)

for the unique ``lam > 0`` at which ``v`` lies on the sphere.  On a fixed
support of size ``m`` (the ``m`` largest ``|u_i|``), the equation for ``lam``
is the quadratic

    a2 lam^2 + a1 lam + a0 = 0,   a2 = (1 - nu) (m nu^2 + 4 r (1 - nu)),
                                  a1 = m nu^2 + 4 r (1 - nu),
                                  a0 = r - (1 - nu) S2 - nu S1,

with ``S1``, ``S2`` the sum and the sum of squares of the ``m`` largest
``|u_i|``.  The support is found without sorting, by pivoting on the entries
(the norm after thresholding decreases with the threshold), in expected
``O(n)`` as in Duchi et al. (ICML 2008) for the l1 ball and Mairal et al.
(JMLR 2010, appendix) for the elastic-net ball.
"""

import numpy as np
from numba import njit

from .._config import JIT_KWARGS


@njit(**JIT_KWARGS)
def enet_norm(v, l1_ratio):
    """Elastic-net "norm" ``(1 - nu) ||v||^2 + nu ||v||_1`` of a vector."""
    sq = 0.0
    ab = 0.0
    for i in range(v.shape[0]):
        x = v[i]
        sq += x * x
        ab += abs(x)
    return (1.0 - l1_ratio) * sq + l1_ratio * ab


@njit(**JIT_KWARGS)
def _support_root(m, s1, s2, radius, l1_ratio):
    """Root ``lam`` of the quadratic for a support of size ``m`` with sums ``s1, s2``."""
    a = 1.0 - l1_ratio
    a1 = m * l1_ratio * l1_ratio + 4.0 * radius * a
    a2 = a * a1
    a0 = radius - a * s2 - l1_ratio * s1
    if a0 >= 0.0:
        return 0.0
    return -2.0 * a0 / (a1 + np.sqrt(a1 * a1 - 4.0 * a2 * a0))


@njit(**JIT_KWARGS)
def _enet_lambda_select(work, n, radius, l1_ratio):
    """Multiplier ``lam`` of the projection in expected O(n), without sorting.

    ``work`` holds ``|u|`` (it is reordered).  A pivot splits the undecided
    entries; the norm of the thresholded vector at threshold = pivot tells on
    which side the true threshold lies (the norm decreases with the threshold),
    so one side is settled: either all entries above the pivot are in the
    support (their sums are accumulated) or all entries below it are out.
    """
    a = 1.0 - l1_ratio
    lo = 0
    hi = n
    acc_m = 0
    acc_s1 = 0.0
    acc_s2 = 0.0
    # pivots are taken at pseudo-random positions (a fixed linear congruential
    # sequence, so results are deterministic): on spatially ordered data the
    # first, middle and last entries are not representative, and fixed
    # positions make the selection quadratic
    state = 12345
    while lo < hi:
        width = hi - lo
        # 31-bit LCG: products stay below 2^62, no overflow
        state = (state * 1103515245 + 12345) % 2147483648
        i0 = lo + state % width
        state = (state * 1103515245 + 12345) % 2147483648
        i1 = lo + state % width
        state = (state * 1103515245 + 12345) % 2147483648
        i2 = lo + state % width
        x0 = work[i0]
        x1 = work[i1]
        x2 = work[i2]
        if x0 > x1:
            x0, x1 = x1, x0
        if x1 > x2:
            x1 = x2
            if x0 > x1:
                x1 = x0
        pivot = x1
        # partition work[lo:hi]: entries >= pivot first
        i = lo
        m_g = 0
        s1_g = 0.0
        s2_g = 0.0
        for j in range(lo, hi):
            x = work[j]
            if x >= pivot:
                work[j] = work[i]
                work[i] = x
                i += 1
                m_g += 1
                s1_g += x
                s2_g += x * x
        m = acc_m + m_g
        s1 = acc_s1 + s1_g
        s2 = acc_s2 + s2_g
        tau = pivot
        lam = tau / l1_ratio
        c = 1.0 + 2.0 * a * lam
        dev1 = s1 - m * tau
        dev2 = s2 - 2.0 * tau * s1 + m * tau * tau
        value = a * dev2 / (c * c) + l1_ratio * dev1 / c - radius
        if value > 0.0:
            # threshold above the pivot: entries below it, and the pivot
            # values themselves, are out of the support
            k = lo
            for j in range(lo, i):
                if work[j] > pivot:
                    work[k] = work[j]
                    k += 1
            hi = k
        else:
            # threshold at or below the pivot: entries >= pivot are in
            acc_m = m
            acc_s1 = s1
            acc_s2 = s2
            lo = i
    if acc_m == 0:
        return 0.0
    return _support_root(acc_m, acc_s1, acc_s2, radius, l1_ratio)


@njit(**JIT_KWARGS)
def _l1_threshold(work, n, total, radius):
    """Threshold of the projection onto the l1 ball (Michelot's algorithm).

    ``work`` holds ``|u|`` (it is overwritten) and ``total`` its sum, with
    ``total > radius``.  ``(sum of a superset of the support - r) / its size``
    is a lower bound of the threshold, so entries at or below it can be
    dropped; repeating on the survivors reaches the exact support in a few
    passes over shrinking sets (sparse projections touch few entries after the
    first pass).
    """
    m = n
    tau = (total - radius) / m
    while True:
        kept = 0
        s = 0.0
        for i in range(m):
            x = work[i]
            if x > tau:
                work[kept] = x
                kept += 1
                s += x
        if kept == m or kept == 0:
            return tau
        m = kept
        tau = (s - radius) / m


@njit(**JIT_KWARGS)
def project_enet_ball(u, out, radius, l1_ratio, positive, work):
    """Project ``u`` onto the elastic-net ball, writing the result in ``out``.

    Parameters
    ----------
    u : ndarray of shape (n,)
        Point to project. Left untouched (``out`` may be ``u`` itself).
    out : ndarray of shape (n,)
        Output buffer.
    radius : float
        Radius ``r`` of the ball; ``r <= 0`` gives the zero vector.
    l1_ratio : float in [0, 1]
        Mixing ``nu`` between the squared l2 norm and the l1 norm.
    positive : bool
        Also project onto the non-negative orthant.
    work : ndarray of shape (n,)
        Scratch buffer of the same dtype.

    Returns
    -------
    norm : float
        Elastic-net norm of the projection.
    """
    n = u.shape[0]
    if radius <= 0.0:
        for i in range(n):
            out[i] = 0.0
        return 0.0
    # norm of the (positive part of the) input
    sq = 0.0
    ab = 0.0
    for i in range(n):
        x = u[i]
        if positive:
            if x < 0.0:
                x = 0.0
        else:
            x = abs(x)
        work[i] = x
        sq += x * x
        ab += x
    a = 1.0 - l1_ratio
    norm_in = a * sq + l1_ratio * ab
    if norm_in <= radius:
        for i in range(n):
            if positive and u[i] < 0.0:
                out[i] = 0.0
            else:
                out[i] = u[i]
        return norm_in
    if l1_ratio == 0.0:
        # l2 ball: plain rescaling
        scale = np.sqrt(radius / sq)
        for i in range(n):
            x = u[i]
            if positive and x < 0.0:
                x = 0.0
            out[i] = x * scale
        return radius
    if l1_ratio == 1.0:
        lam = _l1_threshold(work, n, ab, radius)
    else:
        lam = _enet_lambda_select(work, n, radius, l1_ratio)
    thresh = l1_ratio * lam
    denom = 1.0 + 2.0 * a * lam
    sq = 0.0
    ab = 0.0
    for i in range(n):
        x = u[i]
        if positive and x < 0.0:
            out[i] = 0.0
            continue
        mag = abs(x) - thresh
        if mag <= 0.0:
            out[i] = 0.0
        else:
            mag = mag / denom
            out[i] = mag if x > 0.0 else -mag
            sq += mag * mag
            ab += mag
    return a * sq + l1_ratio * ab


@njit(**JIT_KWARGS)
def enet_scale_rows(D, radius, l1_ratio):
    """Rescale each row of ``D`` in place so that its elastic-net norm is ``radius``.

    Unlike a projection this keeps the support (a dense row stays dense): it is
    how dictionaries are initialised from data samples.  Zero rows stay zero.
    """
    n_rows, n = D.shape
    a = 1.0 - l1_ratio
    for j in range(n_rows):
        sq = 0.0
        ab = 0.0
        for i in range(n):
            x = D[j, i]
            sq += x * x
            ab += abs(x)
        if sq == 0.0:
            continue
        # solve a sq c^2 + nu ab c = radius for c > 0
        qa = a * sq
        qb = l1_ratio * ab
        if qa == 0.0:
            c = radius / qb
        else:
            c = 2.0 * radius / (qb + np.sqrt(qb * qb + 4.0 * qa * radius))
        for i in range(n):
            D[j, i] *= c
