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
``|u_i|``.  The support is found without sorting: the root computed on a
superset of the support is a lower bound of the threshold, so the entries below
it can be dropped and the root computed again on the survivors, a few passes
over shrinking sets (Michelot, 1986; Condat, Math. Program. 2016, for the l1
ball; the same bound holds for the elastic-net ball, see
:func:`_enet_threshold`).
"""

import numpy as np
from numba import njit

from .._config import JIT_FAST_KWARGS, JIT_KWARGS


@njit(**JIT_FAST_KWARGS)
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


@njit(**JIT_FAST_KWARGS)
def _sums_above(work, m, tau):
    """Count, sum and sum of squares of ``work[:m]`` above ``tau`` (vectorised)."""
    kept = 0
    t1 = 0.0
    t2 = 0.0
    for i in range(m):
        x = work[i]
        if x > tau:
            kept += 1
            t1 += x
            t2 += x * x
    return kept, t1, t2


@njit(**JIT_KWARGS)
def _keep_above(work, m, tau):
    """Move the entries of ``work[:m]`` above ``tau`` to its front."""
    kept = 0
    for i in range(m):
        x = work[i]
        # branch free: always write, advance only past a kept entry (whether
        # an entry survives is unpredictable, so a branch would mispredict)
        work[kept] = x
        kept += x > tau
    return kept


@njit(**JIT_KWARGS)
def _l1_threshold(work, n, total, radius):
    """Threshold of the projection onto the l1 ball (Michelot's algorithm).

    ``work`` holds ``|u|`` (it is overwritten) and ``total`` its sum, with
    ``total > radius``.  ``(sum of a superset of the support - r) / its size``
    is a lower bound of the threshold, so entries at or below it can be
    dropped; repeating on the survivors reaches the exact support in a few
    passes over shrinking sets (sparse projections touch few entries after the
    first pass).  Each pass first sums the survivors (a vectorised loop) and
    moves them only when some entries drop out.
    """
    m = n
    tau = (total - radius) / m
    while True:
        kept, s, _ = _sums_above(work, m, tau)
        if kept == m or kept == 0:
            return tau
        m = _keep_above(work, m, tau)
        tau = (s - radius) / m


@njit(**JIT_KWARGS)
def _enet_threshold(work, n, s1, s2, radius, l1_ratio):
    """Multiplier ``lam`` of the elastic-net projection, by Michelot-style passes.

    ``work`` holds ``|u|`` (it is overwritten), ``s1``, ``s2`` its sum and sum of
    squares.  The root of the support equation computed on a *superset* of the
    support is a lower bound of the true threshold ``nu * lam`` (entries below
    the threshold enter the equation with a negative contribution, since
    ``(1 - nu) (tau - x) / (1 + 2 (1 - nu) lam) < nu`` for ``0 <= x < tau``), so
    entries at or below it are out of the support; repeating on the survivors
    reaches the exact support in a few passes over shrinking sets, as
    Michelot's algorithm does for the l1 ball.
    """
    m = n
    lam = _support_root(m, s1, s2, radius, l1_ratio)
    while True:
        tau = l1_ratio * lam
        kept, t1, t2 = _sums_above(work, m, tau)
        if kept == m or kept == 0:
            return lam
        m = _keep_above(work, m, tau)
        lam = _support_root(m, t1, t2, radius, l1_ratio)


@njit(**JIT_FAST_KWARGS)
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
    return project_from_sums(u, out, radius, l1_ratio, positive, work, sq, ab)


@njit(**JIT_FAST_KWARGS)
def project_from_sums(u, out, radius, l1_ratio, positive, work, sq, ab):
    """The projection of :func:`project_enet_ball` after its first pass.

    ``work`` holds ``|u|`` (or the positive part of ``u``), ``sq`` and ``ab`` its
    sum of squares and sum; ``radius > 0``.  Callers that already loop over
    ``u`` (the dictionary update computes ``u`` itself) fill these in that loop
    and save a pass.
    """
    n = u.shape[0]
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
        lam = _enet_threshold(work, n, ab, sq, radius, l1_ratio)
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
    The sums are taken on the row divided by its largest magnitude, so that rows
    of tiny (squares below the smallest float) or huge entries are scaled too.
    """
    n_rows, n = D.shape
    a = 1.0 - l1_ratio
    for j in range(n_rows):
        top = 0.0
        for i in range(n):
            top = max(top, abs(D[j, i]))
        if top == 0.0:
            continue
        sq = 0.0
        ab = 0.0
        for i in range(n):
            x = D[j, i] / top
            sq += x * x
            ab += abs(x)
        # solve a sq c^2 + nu ab c = radius for c > 0
        qa = a * sq
        qb = l1_ratio * ab
        if qa == 0.0:
            c = radius / qb
        else:
            c = 2.0 * radius / (qb + np.sqrt(qb * qb + 4.0 * qa * radius))
        # c scales the row divided by top
        c /= top
        for i in range(n):
            D[j, i] *= c
