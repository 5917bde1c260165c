"""Synthetic resting-state fMRI studies with planted networks.

Two generators share one generative model:

* :func:`make_rest_study` builds 4D Nifti images in MNI space, on a grid made
  from the MNI152 brain (or grey-matter) mask that nilearn ships
  (:func:`iter_rest_study` yields the same images one subject at a time, for
  studies larger than memory);
* :func:`make_surface_rest_study` builds :class:`nilearn.surface.SurfaceImage`
  objects on the fsaverage5 mesh that nilearn ships.

For every subject, at every in-mask voxel (or vertex) ``v`` and scan ``t``::

    data[t, v] = baseline[v] + drift[t, v] + signal[t, v] + noise[t, v]
                 + confound_effects[t, v]

* ``signal = (time_series * amplitudes) @ maps``: the planted network maps are
  shared by all subjects (so that their recovery can be measured), each
  subject has its own network amplitudes (uniform in [0.8, 1.2]) and its own
  band-limited (0.01-0.1 Hz), unit-variance, mutually correlated time courses.
  A network at peak amplitude fluctuates by about 1% of the mean baseline.
* ``noise`` is white Gaussian noise smoothed in space (``noise_fwhm``) with
  about 20% of its variance left spatially white, made AR(1) in time
  (coefficient 0.3), with a smooth spatial modulation of its level; it is
  scaled so that the signal variance divided by the noise variance, both
  summed over the mask (variances over time, for each subject), equals
  ``snr``.  The noise draws do not depend on ``snr``.
* ``baseline`` is proportional to the MNI152 template intensity (volume) or
  to the sulcal depth (surface), about 1000, with a per-subject global scale;
  ``drift`` is a linear trend plus a weaker quadratic one (weight 0.1) with smooth spatial patterns of
  about 1% of the baseline.
* ``confound_effects = zscore(confounds) @ patterns``: the confounds are
  motion-like (3 translations in mm, 3 rotations in radians, repeated if
  ``n_confounds > 6``): random walks with heavy-tailed steps (slow drifts and
  jerks) plus a smooth jitter, starting at 0; the patterns are smooth random
  fields, stronger near the edge of the brain mask in the volume.  The
  confound effects have twice the variance of the noise, and regressing the
  confounds out removes them exactly.

Values outside the mask are zero.
"""

import functools
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage, sparse
from sklearn.utils import Bunch, check_random_state

from .._validation import check_float, check_int

__all__ = ["make_rest_study", "iter_rest_study", "make_surface_rest_study"]

_FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))
_BASELINE = 1000.0
_BOLD_AMPLITUDE = 0.01       # peak network fluctuation, as a fraction of the baseline
_DRIFT_AMPLITUDE = 0.01      # drift patterns, as a fraction of the local baseline
_QUADRATIC_DRIFT = 0.1       # weight of the quadratic part of the drift (linear: 1)
_CONFOUND_STRENGTH = 2.0     # variance of confound effects / variance of noise
_WHITE_FRACTION = 0.2        # part of the noise variance that is spatially white
_NOISE_AR = 0.3              # AR(1) coefficient of the noise
_BAND = (0.01, 0.1)          # resting-state band, in Hz
_FIELD_FWHM = 24.0           # smoothness of drift / confound / noise-level fields, mm
_MAP_THRESHOLD = 0.05        # blobs are cut where the Gaussian falls below this
_PAIR_PROBA = (0.35, 0.4, 0.25)   # probability of 1, 2 or 3 pairs of blobs
_MIDLINE_PROBA = 0.2         # probability that a blob sits on the midline (volume)
_N_CANDIDATES = 32           # best-candidate sampling of blob centres
_JITTER = 0.5                # std of the jitter of confounds, relative to the walk
_TRUNCATE = 2.5              # Gaussian kernels are cut at 2.5 sigma


# --------------------------------------------------------------------------
# parameter checks and random generators
# --------------------------------------------------------------------------


def _check_common(n_subjects, n_scans, n_networks, t_r, snr, noise_fwhm,
                  network_fwhm, n_confounds):
    """The parameters shared by the volume and surface studies, checked, in order."""
    return (check_int(n_subjects, "n_subjects", min_val=1),
            check_int(n_scans, "n_scans", min_val=10),
            check_int(n_networks, "n_networks", min_val=1),
            check_float(t_r, "t_r", low=0.0, low_open=True),
            check_float(snr, "snr", low=0.0, low_open=True),
            check_float(noise_fwhm, "noise_fwhm", low=0.0),
            check_float(network_fwhm, "network_fwhm", low=0.0, low_open=True),
            check_int(n_confounds, "n_confounds", min_val=0))


def _plural(n, word):
    return f"{n} {word}" + ("s" if n != 1 else "")


def _generators(random_state, n_subjects):
    """One generator for the study (maps...) and one seed per subject.

    Subject ``s`` draws from ``np.random.default_rng(seeds[s])``: the same
    data whatever ``n_subjects`` is, and no need to draw the others first.
    """
    rs = check_random_state(random_state)
    seed = np.random.SeedSequence(int(rs.randint(np.iinfo(np.int32).max)))
    children = seed.spawn(n_subjects + 1)
    return np.random.default_rng(children[0]), children[1:]


def _kernel_energy(sigma):
    """Sum of squares of the 1D Gaussian kernel of ``ndimage.gaussian_filter``."""
    if sigma <= 0:
        return 1.0
    radius = int(_TRUNCATE * sigma + 0.5)
    delta = np.zeros(2 * radius + 1)
    delta[radius] = 1.0
    kernel = ndimage.gaussian_filter1d(delta, sigma, truncate=_TRUNCATE,
                                       mode="constant")
    return float(np.sum(kernel ** 2))


def _check_capacity(n_networks, size, unit, network_fwhm, n_dims):
    """Raise if ``n_networks`` pairs of blobs cannot fit in ``size``."""
    radius = network_fwhm / 2.0
    blob = 4.0 / 3.0 * np.pi * radius ** 3 if n_dims == 3 else np.pi * radius ** 2
    capacity = int(size // (2.0 * blob))
    if n_networks > capacity:
        raise ValueError(
            f"n_networks must be <= {capacity} for networks of network_fwhm="
            f"{network_fwhm:g} mm to fit in the mask ({size:.0f} {unit}), got "
            f"{n_networks}; lower n_networks or network_fwhm")


# --------------------------------------------------------------------------
# model pieces shared by the volume and the surface
# --------------------------------------------------------------------------


def _band_limited(rng, n_scans, n_signals, t_r, band=_BAND):
    """Standardized Gaussian signals with power only in ``band`` (Hz)."""
    white = rng.standard_normal((n_scans, n_signals))
    spectrum = np.fft.rfft(white, axis=0)
    freqs = np.fft.rfftfreq(n_scans, d=t_r)
    keep = (freqs >= band[0]) & (freqs <= band[1])
    if not keep.any():  # run too short (or TR too long) for the band
        keep[1 + np.argmin(np.abs(freqs[1:] - np.mean(band)))] = True
    spectrum[~keep] = 0.0
    signals = np.fft.irfft(spectrum, n=n_scans, axis=0)
    signals -= signals.mean(axis=0)
    std = signals.std(axis=0)
    return signals / np.where(std > 0, std, 1.0)


def _network_mixing(rng, n_networks):
    """Cholesky factor of a network correlation matrix (|off-diagonal| <= .3)."""
    factors = rng.standard_normal((n_networks, 2))
    shared = factors @ factors.T
    scale = np.sqrt(np.diag(shared))
    shared /= np.outer(scale, scale)
    corr = 0.7 * np.eye(n_networks) + 0.3 * shared
    return np.linalg.cholesky(corr)


def _motion_confounds(rng, n_scans, n_confounds):
    """Motion-like confounds starting at 0: 3 shifts (mm), 3 rotations (rad).

    Each is a random walk with heavy-tailed, slightly smoothed steps (slow
    drifts and sudden jerks) plus a smooth jitter (breathing-like).
    """
    if n_confounds == 0:
        return np.zeros((n_scans, 0))
    steps = ndimage.gaussian_filter1d(
        rng.standard_t(3, (n_scans, n_confounds)), 1.0, axis=0)
    walk = np.cumsum(steps, axis=0)
    jitter = ndimage.gaussian_filter1d(
        rng.standard_normal((n_scans, n_confounds)), 1.0, axis=0)
    motion = (walk - walk.mean(axis=0)) / walk.std(axis=0)
    motion += _JITTER * (jitter - jitter.mean(axis=0)) / jitter.std(axis=0)
    motion -= motion[0]
    scale = np.where(np.arange(n_confounds) % 6 < 3, 0.2, 0.003)
    return motion * scale * rng.uniform(0.5, 1.5, n_confounds)


def _summed_variance(temporal, spatial):
    """Sum over features of the temporal variance of ``temporal @ spatial``."""
    centered = temporal - temporal.mean(axis=0)
    covariance = centered.T @ centered / len(temporal)
    spatial = np.asarray(spatial, dtype=np.float64)
    return float(np.sum(covariance * (spatial @ spatial.T)))


def _simulate_subject(rng, *, maps, mixing, n_scans, t_r, snr, n_confounds,
                      smooth_noise, smooth_fields, baseline, noise_level,
                      confound_weight):
    """One subject's (n_scans, n_features) data, time courses and confounds.

    ``smooth_noise(rng, n)`` returns (n, n_features) float32 spatially
    correlated noise and ``smooth_fields(rng, n)`` (n, n_features) smooth,
    standardized spatial patterns.
    """
    n_networks, n_features = maps.shape
    f32 = np.float32

    time_series = _band_limited(rng, n_scans, n_networks, t_r) @ mixing.T
    time_series -= time_series.mean(axis=0)
    time_series /= time_series.std(axis=0)
    amplitudes = rng.uniform(0.8, 1.2, n_networks) * _BOLD_AMPLITUDE * _BASELINE
    activity = time_series * amplitudes
    signal_var = _summed_variance(activity, maps)

    # noise: AR(1) in time, smooth modulation of its level, scaled to the snr
    data = smooth_noise(rng, n_scans)
    for t in range(1, n_scans):  # n_scans vector operations
        data[t] += f32(_NOISE_AR) * data[t - 1]
    mean = data.mean(axis=0)
    variance = np.einsum("tv,tv->v", data, data) / n_scans - mean * mean
    level = noise_level.astype(np.float64)
    noise_var = float(np.dot(variance.astype(np.float64), level ** 2))
    data *= (level * np.sqrt(signal_var / (snr * noise_var))).astype(f32)
    noise_var = signal_var / snr

    # everything else is low rank in time: one product adds it all
    fields = smooth_fields(rng, 2 + n_confounds)
    confounds = _motion_confounds(rng, n_scans, n_confounds)
    zscored = confounds - confounds.mean(axis=0)
    zscored /= np.where(zscored.std(axis=0) > 0, zscored.std(axis=0), 1.0)
    patterns = fields[2:] * confound_weight
    if n_confounds:
        patterns *= f32(np.sqrt(_CONFOUND_STRENGTH * noise_var
                                / _summed_variance(zscored, patterns)))
    subject_baseline = baseline * f32(rng.uniform(0.9, 1.1))
    time = np.linspace(-1.0, 1.0, n_scans)
    trends = np.stack([time, _QUADRATIC_DRIFT * (1.5 * time ** 2 - 0.5)], axis=1)
    drifts = fields[:2] * (_DRIFT_AMPLITUDE * subject_baseline)
    temporal = np.hstack([activity, zscored, trends, np.ones((n_scans, 1))])
    spatial = np.vstack([maps, patterns, drifts, subject_baseline[None]])
    data += temporal.astype(f32) @ spatial.astype(f32, copy=False)
    return data, time_series, confounds


def _blob_maps(rng, coords, lateral, midline, n_networks, network_fwhm):
    """Non-negative maps (peak 1) made of mirror-symmetric pairs of blobs.

    Parameters
    ----------
    coords : ndarray of shape (n_features, 3)
        World coordinates (mm) where the maps are evaluated.
    lateral, midline : ndarray of shape (n, 3)
        Candidate blob centres for pairs of blobs (mirrored across x=0) and
        for blobs on the midline (x set to 0); ``midline`` may be empty.
    """
    sigma = network_fwhm * _FWHM_TO_SIGMA
    mirror = np.array([-1.0, 1.0, 1.0])
    placed = np.empty((0, 3))
    maps = np.zeros((n_networks, coords.shape[0]))
    for k in range(n_networks):
        n_pairs = 1 + rng.choice(len(_PAIR_PROBA), p=_PAIR_PROBA)
        for pair in range(n_pairs):
            on_midline = len(midline) and rng.random() < _MIDLINE_PROBA
            pool = midline if on_midline else lateral
            picks = pool[rng.integers(0, len(pool), _N_CANDIDATES)].copy()
            if on_midline:
                picks[:, 0] = 0.0
            if len(placed):
                dist = np.minimum(
                    np.linalg.norm(picks[:, None] - placed[None], axis=2),
                    np.linalg.norm((picks * mirror)[:, None] - placed[None],
                                   axis=2)).min(axis=1)
                center = picks[np.argmax(dist)]
            else:
                center = picks[0]
            placed = np.vstack([placed, center, center * mirror])
            # anisotropic blob: random axes lengths and orientation
            rotation, _ = np.linalg.qr(rng.standard_normal((3, 3)))
            axes = sigma * np.exp(rng.uniform(-0.35, 0.35, 3))
            precision = rotation @ np.diag(axes ** -2) @ rotation.T
            amplitude = 1.0 if pair == 0 else rng.uniform(0.7, 1.0)
            asymmetry = rng.uniform(0.85, 1.0)
            sides = ((center, precision, 1.0),
                     (center * mirror, precision * np.outer(mirror, mirror),
                      asymmetry))
            if rng.random() < 0.5:
                sides = ((sides[0][0], sides[0][1], asymmetry),
                         (sides[1][0], sides[1][1], 1.0))
            for c, prec, gain in sides:
                d = coords - c
                blob = np.exp(-0.5 * np.einsum("vi,ij,vj->v", d, prec, d))
                blob = np.clip((blob - _MAP_THRESHOLD) / (1 - _MAP_THRESHOLD),
                               0.0, None)
                np.maximum(maps[k], amplitude * gain * blob, out=maps[k])
        peak = maps[k].max()
        if peak > 0:
            maps[k] /= peak
    return maps.astype(np.float32)


# --------------------------------------------------------------------------
# volume
# --------------------------------------------------------------------------


def _symmetric_grid(mask_img, resolution):
    """Affine and shape of a grid of step ``resolution`` (mm) covering the mask.

    Voxel centres are multiples of ``resolution``, so the grid is symmetric
    across the mid-sagittal plane x=0.
    """
    data = np.asarray(mask_img.dataobj) > 0
    ijk = np.array(np.nonzero(data), dtype=float)
    world = mask_img.affine[:3, :3] @ ijk + mask_img.affine[:3, 3:]
    low = np.floor(world.min(axis=1) / resolution) - 1
    high = np.ceil(world.max(axis=1) / resolution) + 1
    half_x = max(-low[0], high[0])
    low[0], high[0] = -half_x, half_x
    affine = np.diag([resolution, resolution, resolution, 1.0])
    affine[:3, 3] = low * resolution
    return affine, tuple(int(n) for n in high - low + 1)


@functools.lru_cache(maxsize=8)
def _mni_grid(kind, resolution):
    """Mask, affine, template intensity and grey matter of the MNI152 grid."""
    import nibabel as nib
    from nilearn import datasets, image

    grey = datasets.load_mni152_gm_mask()
    native = datasets.load_mni152_brain_mask() if kind == "brain" else grey
    affine, shape = _symmetric_grid(native, resolution)

    def resample(img):
        floating = nib.Nifti1Image(np.asarray(img.dataobj, dtype=np.float32),
                                   img.affine)
        with warnings.catch_warnings():
            # linear interpolation of the binary mask is what we want here
            warnings.filterwarnings("ignore", message=".*binary images",
                                    category=UserWarning)
            out = image.resample_img(floating, target_affine=affine,
                                     target_shape=shape, interpolation="linear",
                                     force_resample=True, copy_header=True)
        return np.asarray(out.dataobj, dtype=np.float32)

    mask = resample(native) >= 0.5
    mask &= mask[::-1]  # the grid is symmetric in x: make the mask symmetric
    template = resample(datasets.load_mni152_template())
    centres = mask if kind == "gm" else mask & (resample(grey) >= 0.5)
    for array in (mask, template, centres):
        array.flags.writeable = False
    return mask, affine, template, centres


def _load_mask(mask, resolution):
    """``(mask, affine, template, centres)`` for a mask name or image.

    ``centres`` (a boolean 3D array) is where blobs may be centred: the grey
    matter of the brain mask, or the whole mask.
    """
    if isinstance(mask, str):
        if mask not in ("brain", "gm"):
            raise ValueError(f"mask must be 'brain', 'gm' or a 3D Nifti image, "
                             f"got {mask!r}")
        resolution = check_float(resolution, "resolution", low=0.0, low_open=True)
        return tuple(a.copy() for a in _mni_grid(mask, resolution))

    import nibabel as nib
    from nilearn import datasets, image

    try:
        img = image.load_img(mask)
    except Exception as exc:
        raise ValueError(f"mask must be 'brain', 'gm' or a 3D Nifti image, "
                         f"got {mask!r}") from exc
    data = np.asarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"mask must be a 3D image, got an image of shape "
                         f"{data.shape}")
    grid_mask = data > 0
    template = datasets.load_mni152_template()
    template = nib.Nifti1Image(np.asarray(template.dataobj, dtype=np.float32),
                               template.affine)
    template = image.resample_img(template, target_affine=img.affine,
                                  target_shape=grid_mask.shape,
                                  interpolation="linear", force_resample=True,
                                  copy_header=True)
    template = np.asarray(template.dataobj, dtype=np.float32)
    return grid_mask, img.affine.copy(), template, grid_mask


def _volume_candidates(mask, centres, affine, sigma):
    """World coordinates of candidate centres for lateral and midline blobs."""
    interior = ndimage.binary_erosion(mask) & centres
    if not interior.any():
        interior = centres & mask if (centres & mask).any() else mask
    ijk = np.array(np.nonzero(interior))
    world = (affine[:3, :3] @ ijk + affine[:3, 3:]).T
    # is the mirror image (-x, y, z) of each candidate inside the mask?
    mirrored = world * [-1.0, 1.0, 1.0]
    inverse = np.linalg.inv(affine)
    mijk = np.rint(inverse[:3, :3] @ mirrored.T + inverse[:3, 3:]).astype(int)
    inside = np.all((mijk >= 0) & (mijk < np.array(mask.shape)[:, None]), axis=0)
    has_mirror = np.zeros(len(world), dtype=bool)
    has_mirror[inside] = mask[tuple(mijk[:, inside])]
    voxel = np.abs(np.linalg.det(affine[:3, :3])) ** (1.0 / 3.0)
    lateral = world[has_mirror & (np.abs(world[:, 0]) >= max(sigma, voxel))]
    if not len(lateral):
        lateral = world
    midline = world[has_mirror & (np.abs(world[:, 0]) <= voxel / 2.0 + 1e-6)]
    return lateral, midline


def _one_blas_thread():
    """Context running BLAS on one thread, for the whole process.

    OpenBLAS rounds some products differently with more threads: with one,
    a subject is the same bit for bit wherever it is drawn (in the threads of
    :func:`make_rest_study`, or from :func:`iter_rest_study` inside a consumer
    such as :func:`nimf.neuro.mask_study` that limits BLAS itself) and on any
    machine.  The limit is global, so it is taken by the thread that drives the
    simulation, never by each of several threads.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _volume_study(n_subjects, n_scans, n_networks, resolution, t_r, snr,
                  noise_fwhm, network_fwhm, n_confounds, mask, random_state):
    """Check the parameters of a study in MNI space and draw its shared pieces.

    Returns ``(study, simulate)``: ``study`` is a Bunch with ``mask_img``,
    ``maps``, ``maps_img``, ``t_r`` and ``description``, and ``simulate(s)``
    returns ``(img, time_series, confounds)`` of subject ``s``, drawn from
    that subject's own generator: subjects can be drawn in any order, in
    threads, or skipped at no cost.  Call both under :func:`_one_blas_thread`.
    """
    import nibabel as nib

    (n_subjects, n_scans, n_networks, t_r, snr, noise_fwhm, network_fwhm,
     n_confounds) = _check_common(n_subjects, n_scans, n_networks, t_r, snr, noise_fwhm,
                                  network_fwhm, n_confounds)

    grid_mask, affine, template, centres = _load_mask(mask, resolution)
    voxel_volume = float(abs(np.linalg.det(affine[:3, :3])))
    voxel_size = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    n_voxels = int(grid_mask.sum())
    if n_voxels == 0:
        raise ValueError("mask must contain at least one voxel, got an empty mask")
    _check_capacity(n_networks, n_voxels * voxel_volume, "mm3", network_fwhm, 3)

    study_rng, subject_seeds = _generators(random_state, n_subjects)

    # work in the bounding box of the mask (plus a margin for the smoothing)
    sigma_noise = noise_fwhm * _FWHM_TO_SIGMA / voxel_size
    sigma_field = _FIELD_FWHM * _FWHM_TO_SIGMA / voxel_size
    margin = int(_TRUNCATE * sigma_noise.max() + 0.5)
    ijk = np.nonzero(grid_mask)
    box = tuple(slice(max(int(i.min()) - margin, 0), int(i.max()) + margin + 1)
                for i in ijk)
    box_mask = grid_mask[box]
    box_shape = box_mask.shape
    flat = np.flatnonzero(box_mask)
    # white noise is added back with this gain so that it makes about
    # _WHITE_FRACTION of the noise variance
    smooth_energy = np.prod([_kernel_energy(s) for s in sigma_noise])
    white_gain = np.float32(np.sqrt(_WHITE_FRACTION / (1.0 - _WHITE_FRACTION)
                                    * smooth_energy))

    def smooth_noise(rng, n):
        white = rng.standard_normal((n,) + box_shape, dtype=np.float32)
        masked_white = np.take(white.reshape(n, -1), flat, axis=1)
        if noise_fwhm == 0:
            return masked_white
        smooth = ndimage.gaussian_filter(white, (0.0, *sigma_noise),
                                         truncate=_TRUNCATE)
        noise = np.take(smooth.reshape(n, -1), flat, axis=1)
        masked_white *= white_gain
        noise += masked_white
        return noise

    def smooth_fields(rng, n):
        fields = rng.standard_normal((n,) + box_shape, dtype=np.float32)
        fields = ndimage.gaussian_filter(fields, (0.0, *sigma_field),
                                         truncate=_TRUNCATE)
        fields = fields.reshape(n, -1)[:, flat]
        fields -= fields.mean(axis=1, keepdims=True)
        fields /= fields.std(axis=1, keepdims=True)
        return fields

    # study-level pieces: maps, network correlations, noise level, baseline
    world = (affine[:3, :3] @ np.array(ijk) + affine[:3, 3:]).T
    lateral, midline = _volume_candidates(grid_mask, centres, affine,
                                          network_fwhm * _FWHM_TO_SIGMA)
    maps = _blob_maps(study_rng, world, lateral, midline, n_networks,
                      network_fwhm)
    mixing = _network_mixing(study_rng, n_networks)
    noise_level = np.exp(0.3 * smooth_fields(study_rng, 1)[0])
    intensity = template[grid_mask]
    mean_intensity = intensity.mean()
    if not mean_intensity > 0:
        intensity, mean_intensity = np.ones_like(intensity), 1.0
    baseline = (_BASELINE * (0.3 + 0.7 * intensity / mean_intensity)).astype(
        np.float32)
    edge = 1.0 - ndimage.gaussian_filter(box_mask.astype(np.float32),
                                         sigma_field / 2.0)
    confound_weight = (1.0 + 3.0 * edge.reshape(-1)[flat]).astype(np.float32)

    header = nib.Nifti1Header()
    header.set_xyzt_units("mm", "sec")

    def simulate(s):
        data, ts, conf = _simulate_subject(
            np.random.default_rng(subject_seeds[s]), maps=maps, mixing=mixing,
            n_scans=n_scans, t_r=t_r, snr=snr, n_confounds=n_confounds,
            smooth_noise=smooth_noise, smooth_fields=smooth_fields,
            baseline=baseline, noise_level=noise_level,
            confound_weight=confound_weight)
        volume = np.zeros(grid_mask.shape + (n_scans,), dtype=np.float32)
        volume[grid_mask] = data.T
        del data
        img = nib.Nifti1Image(volume, affine, header)
        img.header.set_zooms(tuple(voxel_size) + (t_r,))
        return img, ts, conf

    maps_volume = np.zeros(grid_mask.shape + (n_networks,), dtype=np.float32)
    maps_volume[grid_mask] = maps.T
    where = ("the MNI152 brain mask" if isinstance(mask, str) and mask == "brain"
             else "the MNI152 grey-matter mask" if isinstance(mask, str)
             else "a user mask")
    description = (
        f"Synthetic resting-state fMRI study: {_plural(n_subjects, 'subject')} x "
        f"{n_scans} scans (TR {t_r:g} s), {n_networks} planted bilateral "
        f"networks in {where} ({n_voxels} voxels of "
        f"{'x'.join(f'{v:g}' for v in voxel_size)} mm), SNR {snr:g}, "
        f"{n_confounds} motion-like confounds.")
    study = Bunch(mask_img=nib.Nifti1Image(grid_mask.astype(np.uint8), affine),
                  maps=maps, maps_img=nib.Nifti1Image(maps_volume, affine),
                  t_r=t_r, description=description)
    return study, simulate


def make_rest_study(n_subjects=5, n_scans=150, n_networks=16, resolution=4,
                    t_r=2.0, snr=1.0, noise_fwhm=8.0, network_fwhm=24.0,
                    n_confounds=6, mask="brain", output_dir=None,
                    random_state=0):
    """Synthetic resting-state fMRI study in MNI space with planted networks.

    Every subject's 4D image is the sum of a brain-shaped baseline (about
    1000), slow linear and quadratic drifts, the planted networks (maps
    shared by all subjects times subject-specific band-limited time courses),
    spatially smooth and temporally autocorrelated noise, and the effects of
    motion-like confounds.  Each network is made of 1 to 3 pairs of smooth,
    anisotropic Gaussian blobs, mirror-symmetric across the mid-sagittal
    plane x=0 (some blobs sit on the midline), spread out so that networks
    overlap little.  See the module docstring of :mod:`nimf.datasets.rest`
    for the exact model.

    Parameters
    ----------
    n_subjects : int, default=5
        Number of subjects.
    n_scans : int, default=150
        Number of scans (time points) per subject, >= 10.
    n_networks : int, default=16
        Number of planted networks.  They must fit in the mask: at most the
        mask volume divided by the volume of two balls of diameter
        ``network_fwhm``.
    resolution : float, default=4
        Voxel size in mm of the isotropic grid the MNI152 mask is resampled
        to.  Ignored when ``mask`` is an image.
    t_r : float, default=2.0
        Repetition time in seconds.  The network time courses have power in
        the 0.01-0.1 Hz band only.
    snr : float, default=1.0
        Signal-to-noise ratio: variance of the network signal divided by the
        variance of the noise, both summed over the voxels of the mask, for
        each subject.  Drifts and confound effects are not counted as noise.
    noise_fwhm : float, default=8.0
        Full width at half maximum in mm of the Gaussian kernel smoothing the
        noise in space (0 gives white noise).
    network_fwhm : float, default=24.0
        Full width at half maximum in mm of the blobs making the networks
        (each blob gets random axes within a factor 1.4 of it).
    n_confounds : int, default=6
        Number of motion-like confounds per subject: 3 translations (mm) and
        3 rotations (radians), repeated if more than 6 are asked; each is a
        random walk with heavy-tailed steps plus a smooth jitter, starting at
        0.  Their effects (smooth random patterns, stronger near the edge of
        the mask) are added to the data; regressing them out removes them.
    mask : {"brain", "gm"} or Niimg-like, default="brain"
        The MNI152 brain mask or grey-matter mask that nilearn ships
        (resampled to ``resolution``, on a grid symmetric across x=0, and
        made symmetric), or a 3D mask image used as is.
    output_dir : str or path-like, default=None
        If given, the 4D images are written there as ``sub-01_bold.nii.gz``,
        ``sub-02_bold.nii.gz``... and ``func`` holds their paths; the
        directory is created if needed.
    random_state : int, RandomState instance or None, default=0
        Determines the maps, time courses, noise and confounds.  Subject
        ``s`` is the same whatever ``n_subjects`` is.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        func : list of Nifti1Image or list of str
            One 4D float32 image of shape (X, Y, Z, n_scans) per subject (or
            the paths of the files written in ``output_dir``).  Voxels
            outside the mask are zero.
        confounds : list of ndarray of shape (n_scans, n_confounds)
            The motion-like confounds of each subject.
        mask_img : Nifti1Image
            The 3D uint8 mask.
        maps : ndarray of shape (n_networks, n_voxels), dtype float32
            The true network maps over the voxels of the mask (in the order
            of ``NiftiMasker(mask_img=mask_img)``), non-negative, peak 1.
        maps_img : Nifti1Image
            The same maps as a 4D image, last axis = networks.
        time_series : list of ndarray of shape (n_scans, n_networks)
            The true standardized network time courses of each subject.
        t_r : float
            The repetition time.
        description : str
            A short description of the study.

    See Also
    --------
    iter_rest_study : The same study, generated one subject at a time.
    make_surface_rest_study : The same study on the fsaverage5 surface.

    Examples
    --------
    >>> from nimf.datasets import make_rest_study
    >>> study = make_rest_study(n_subjects=2, n_scans=30, n_networks=6,
    ...                         resolution=8, random_state=0)
    >>> len(study.func), study.func[0].shape[-1], study.maps.shape[0]
    (2, 30, 6)
    >>> study.confounds[0].shape, study.time_series[0].shape
    ((30, 6), (30, 6))
    """
    import nibabel as nib

    with _one_blas_thread():
        study, simulate = _volume_study(
            n_subjects, n_scans, n_networks, resolution, t_r, snr, noise_fwhm,
            network_fwhm, n_confounds, mask, random_state)
        n_subjects = int(n_subjects)
        width = max(2, len(str(n_subjects)))
        if output_dir is not None:
            os.makedirs(output_dir, exist_ok=True)

        def subject(s):
            img, ts, conf = simulate(s)
            if output_dir is None:
                return img, ts, conf
            path = os.path.join(os.fspath(output_dir),
                                f"sub-{s + 1:0{width}d}_bold.nii.gz")
            nib.save(img, path)
            return path, ts, conf

        # subjects are independent (one generator each): two threads overlap
        # the parts of numpy / scipy / gzip that release the GIL
        func, confounds, time_series = [], [], []
        with ThreadPoolExecutor(max_workers=min(2, n_subjects)) as pool:
            for item, ts, conf in pool.map(subject, range(n_subjects)):
                func.append(item)
                time_series.append(ts)
                confounds.append(conf)

    return Bunch(func=func, confounds=confounds, mask_img=study.mask_img,
                 maps=study.maps, maps_img=study.maps_img,
                 time_series=time_series, t_r=study.t_r,
                 description=study.description)


def iter_rest_study(n_subjects=5, n_scans=150, n_networks=16, resolution=4,
                    t_r=2.0, snr=1.0, noise_fwhm=8.0, network_fwhm=24.0,
                    n_confounds=6, mask="brain", random_state=0, *, start=0):
    """The study of :func:`make_rest_study`, generated one subject at a time.

    The study-level pieces (mask, maps) are drawn at once; a subject is
    simulated only when the consumer of ``func`` asks for it, and nothing
    here keeps it once the next one is asked for.  A study larger than memory
    is thus masked into a store on disk by :func:`nimf.neuro.mask_study`,
    which holds only the few subjects it is masking.  Subject ``s`` is the
    one of :func:`make_rest_study` with the same parameters, bit for bit
    (both draw it with one BLAS thread).

    Parameters
    ----------
    n_subjects, n_scans, n_networks, resolution, t_r, snr, noise_fwhm, \
network_fwhm, n_confounds, mask, random_state :
        The parameters of :func:`make_rest_study`, with the same defaults.
    start : int, default=0
        Index of the first subject generated: subjects ``start`` to
        ``n_subjects - 1`` are generated, the earlier ones are skipped without
        being simulated (to resume an interrupted run).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes of :func:`make_rest_study`,
        but ``func`` is a generator and ``confounds`` and ``time_series``
        grow as it is consumed.

        func : generator of Nifti1Image
            The 4D float32 image of each subject from ``start`` on, simulated
            when asked for.  It can be consumed once.
        confounds : list of ndarray of shape (n_scans, n_confounds)
            The confounds of each image yielded so far: ``confounds[i]``
            belongs to the ``i``-th image of ``func`` and is appended just
            before that image is yielded, so that ``confounds=confounds`` can
            be given with ``imgs=func`` to a consumer that reads them image by
            image, such as :func:`nimf.neuro.mask_study`.
        time_series : list of ndarray of shape (n_scans, n_networks)
            The true network time courses of each image yielded so far, in
            the same way.
        subjects : range
            The indices of the subjects ``func`` yields,
            ``range(start, n_subjects)``.
        mask_img, maps, maps_img, t_r, description :
            As in :func:`make_rest_study`.

    See Also
    --------
    make_rest_study : The whole study in memory (or in files).

    Examples
    --------
    >>> from nimf.datasets import iter_rest_study
    >>> study = iter_rest_study(n_subjects=3, n_scans=30, n_networks=6,
    ...                         resolution=8, random_state=0)
    >>> study.maps.shape[0], len(study.confounds)
    (6, 0)
    >>> img = next(study.func)              # subject 0 is simulated now
    >>> img.shape[-1], len(study.confounds)
    (30, 1)
    >>> rest = iter_rest_study(n_subjects=3, n_scans=30, n_networks=6,
    ...                        resolution=8, random_state=0, start=2)
    >>> [img.shape[-1] for img in rest.func], list(rest.subjects)
    ([30], [2])

    A study larger than memory (54 GB of float32 scans), masked and cleaned
    into a store on disk, with two subjects masked at a time:

    >>> from nimf.neuro import mask_study
    >>> big = iter_rest_study(n_subjects=144, n_scans=400, n_networks=30,
    ...                       resolution=2)         # doctest: +SKIP
    >>> mask_study(big.func, "study.zarr", confounds=big.confounds,
    ...            mask=big.mask_img, t_r=big.t_r, n_jobs=2)  # doctest: +SKIP
    """
    n_subjects = check_int(n_subjects, "n_subjects", min_val=1)
    start = check_int(start, "start", min_val=0, max_val=n_subjects)
    with _one_blas_thread():
        study, simulate = _volume_study(
            n_subjects, n_scans, n_networks, resolution, t_r, snr, noise_fwhm,
            network_fwhm, n_confounds, mask, random_state)
    confounds, time_series = [], []
    subjects = range(start, n_subjects)

    def generate():
        for s in subjects:
            with _one_blas_thread():
                img, ts, conf = simulate(s)
            time_series.append(ts)
            confounds.append(conf)
            yield img
            # hold no subject while the next one is simulated
            del img, ts, conf

    return Bunch(func=generate(), confounds=confounds, mask_img=study.mask_img,
                 maps=study.maps, maps_img=study.maps_img,
                 time_series=time_series, t_r=study.t_r,
                 description=study.description, subjects=subjects)




# --------------------------------------------------------------------------
# surface
# --------------------------------------------------------------------------


def _smoother(coordinates, faces):
    """Row-stochastic neighbour-averaging operator (with self) and its step.

    Returns the operator and the variance (mm^2, per direction) one
    application of it adds to a Gaussian kernel.
    """
    n = len(coordinates)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    adjacency = sparse.coo_matrix(
        (np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    adjacency.data[:] = 1.0  # duplicated edges were summed
    adjacency = adjacency + sparse.identity(n, format="csr")
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    operator = sparse.diags(1.0 / degree) @ adjacency
    lengths = np.sum((coordinates[edges[:, 0]] - coordinates[edges[:, 1]]) ** 2,
                     axis=1)
    step = np.mean((degree - 1) / degree) * lengths.mean() / 2.0
    return operator.astype(np.float32).tocsr(), step


def _smooth(operators, data, n_steps):
    """Apply each hemisphere's operator ``n_steps`` times to (n_vertices, n)."""
    out, start = [], 0
    for operator in operators:
        part = data[start:start + operator.shape[0]]
        start += operator.shape[0]
        for _ in range(n_steps):
            part = operator @ part
        out.append(part)
    return np.concatenate(out)


def _surface_mesh(mesh):
    """``(PolyMesh, thickness per hemisphere or None, baseline pattern)``."""
    from nilearn import datasets

    if isinstance(mesh, str):
        if mesh != "fsaverage5":
            raise ValueError(
                f"mesh must be 'fsaverage5' (the only mesh nilearn ships) or a "
                f"PolyMesh with 'left' and 'right' parts, got {mesh!r}")
        poly = datasets.load_fsaverage("fsaverage5")["pial"]
        thickness = datasets.load_fsaverage_data(
            mesh="fsaverage5", mesh_type="pial", data_type="thickness").data
        sulcal = datasets.load_fsaverage_data(
            mesh="fsaverage5", mesh_type="pial", data_type="sulcal").data
        thick, patterns = {}, {}
        for hemi in ("left", "right"):
            thick[hemi] = np.asarray(thickness.parts[hemi], dtype=np.float32)
            depth = np.asarray(sulcal.parts[hemi], dtype=np.float64)
            patterns[hemi] = (depth - depth.mean()) / depth.std()
        return poly, thick, patterns
    parts = getattr(mesh, "parts", None)
    if not isinstance(parts, dict) or set(parts) != {"left", "right"}:
        raise ValueError(
            f"mesh must be 'fsaverage5' or a PolyMesh with 'left' and 'right' "
            f"parts, got {mesh!r}")
    patterns = {h: np.zeros(parts[h].n_vertices) for h in parts}
    return mesh, None, patterns


def make_surface_rest_study(n_subjects=2, n_scans=150, n_networks=10,
                            mesh="fsaverage5", t_r=2.0, snr=1.0,
                            random_state=0, *, noise_fwhm=6.0,
                            network_fwhm=20.0, n_confounds=6):
    """Synthetic resting-state fMRI study on the cortical surface.

    The model of :func:`make_rest_study` on a surface mesh: the networks are
    1 to 3 pairs of smooth blobs on the pial surface, each blob of the left
    hemisphere mirrored (x -> -x) on the right hemisphere; the noise is
    smoothed by repeated neighbour averaging over the mesh; the baseline
    (about 1000) follows the sulcal depth.  The medial wall (zero cortical
    thickness) is outside the mask and holds zeros.

    Parameters
    ----------
    n_subjects : int, default=2
        Number of subjects.
    n_scans : int, default=150
        Number of scans (time points) per subject, >= 10.
    n_networks : int, default=10
        Number of planted networks.  They must fit in the cortex: at most its
        area divided by the area of two disks of diameter ``network_fwhm``.
    mesh : "fsaverage5" or PolyMesh, default="fsaverage5"
        The fsaverage5 pial mesh nilearn ships, or a
        :class:`nilearn.surface.PolyMesh` with "left" and "right" parts
        whose coordinates are in mm (then every vertex is in the mask and the
        baseline is flat).
    t_r : float, default=2.0
        Repetition time in seconds.
    snr : float, default=1.0
        Variance of the network signal divided by the variance of the noise,
        both summed over the vertices of the mask, for each subject.
    random_state : int, RandomState instance or None, default=0
        Determines the maps, time courses, noise and confounds.
    noise_fwhm : float, default=6.0
        Approximate full width at half maximum in mm of the noise smoothing
        along the surface (0 gives white noise).
    network_fwhm : float, default=20.0
        Full width at half maximum in mm of the blobs making the networks
        (measured in 3D, on the pial surface).
    n_confounds : int, default=6
        Number of motion-like confounds per subject, as in
        :func:`make_rest_study` (their spatial patterns are smooth random
        fields on the mesh).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        func : list of SurfaceImage
            One image per subject, with data of shape (n_vertices, n_scans)
            per hemisphere, float32.
        confounds : list of ndarray of shape (n_scans, n_confounds)
            The motion-like confounds of each subject.
        mask_img : SurfaceImage
            Boolean cortex mask (the medial wall excluded), usable as
            ``SurfaceMasker(mask_img=mask_img)``.
        maps : ndarray of shape (n_networks, n_vertices), dtype float32
            The true maps over all the vertices, left hemisphere then right
            hemisphere (the order of ``SurfaceMasker()``), zero outside the
            mask, non-negative, peak 1.
        maps_img : SurfaceImage
            The same maps as an image with ``n_networks`` samples.
        time_series : list of ndarray of shape (n_scans, n_networks)
            The true standardized network time courses of each subject.
        t_r : float
            The repetition time.
        mesh : PolyMesh
            The mesh of the images.
        description : str
            A short description of the study.

    See Also
    --------
    make_rest_study : The same study in MNI space.

    Examples
    --------
    >>> from nimf.datasets import make_surface_rest_study
    >>> study = make_surface_rest_study(n_subjects=1, n_scans=20, n_networks=4)
    >>> study.func[0].shape, study.maps.shape
    ((20484, 20), (4, 20484))
    """
    from nilearn.surface import SurfaceImage

    (n_subjects, n_scans, n_networks, t_r, snr, noise_fwhm, network_fwhm,
     n_confounds) = _check_common(n_subjects, n_scans, n_networks, t_r, snr, noise_fwhm,
                                  network_fwhm, n_confounds)

    poly, thickness, depth = _surface_mesh(mesh)
    hemis = ("left", "right")
    n_left = poly.parts["left"].n_vertices
    coords = np.concatenate([poly.parts[h].coordinates for h in hemis]).astype(float)
    operators, steps, area, hemi_masks = [], [], 0.0, {}
    for h in hemis:
        part = poly.parts[h]
        xyz = np.asarray(part.coordinates, dtype=float)
        faces = np.asarray(part.faces)
        operator, step = _smoother(xyz, faces)
        operators.append(operator)
        steps.append(step)
        if thickness is None:
            hemi_masks[h] = np.ones(len(xyz), dtype=bool)
        else:
            # the medial wall has (almost) zero thickness; clean its border
            cortex = (thickness[h] > 0.1).astype(np.float32)
            for _ in range(2):
                cortex = operator @ cortex
            hemi_masks[h] = cortex > 0.5
        cross = np.cross(xyz[faces[:, 1]] - xyz[faces[:, 0]],
                         xyz[faces[:, 2]] - xyz[faces[:, 0]])
        in_mask = hemi_masks[h][faces].all(axis=1)
        area += 0.5 * np.linalg.norm(cross[in_mask], axis=1).sum()
    mask = np.concatenate([hemi_masks[h] for h in hemis])
    step = float(np.mean(steps))
    _check_capacity(n_networks, area, "mm2", network_fwhm, 2)

    def n_steps(fwhm):
        return int(round((fwhm * _FWHM_TO_SIGMA) ** 2 / step))

    noise_steps, field_steps = n_steps(noise_fwhm), max(1, n_steps(_FIELD_FWHM))

    def smooth_noise(rng, n):
        white = rng.standard_normal((len(coords), n), dtype=np.float32)
        if noise_steps == 0:
            return np.ascontiguousarray(white[mask].T)
        noise = _smooth(operators, white, noise_steps)[mask]
        gain = np.sqrt(_WHITE_FRACTION / (1.0 - _WHITE_FRACTION)) * noise.std()
        noise += np.float32(gain) * white[mask]
        return np.ascontiguousarray(noise.T)

    def smooth_fields(rng, n):
        fields = rng.standard_normal((len(coords), n), dtype=np.float32)
        fields = _smooth(operators, fields, field_steps)[mask].T
        fields -= fields.mean(axis=1, keepdims=True)
        fields /= fields.std(axis=1, keepdims=True)
        return np.ascontiguousarray(fields)

    study_rng, subject_seeds = _generators(random_state, n_subjects)

    # blob centres: left cortex vertices whose mirror image is near the right
    # cortex
    from scipy.spatial import cKDTree

    left = coords[:n_left][hemi_masks["left"]]
    dist, nearest = cKDTree(coords[n_left:]).query(left * [-1.0, 1.0, 1.0])
    ok = (dist < 3.0 * np.sqrt(2.0 * step)) & hemi_masks["right"][nearest]
    lateral = left[ok] if ok.any() else left
    maps = np.zeros((n_networks, len(coords)), dtype=np.float32)
    maps[:, mask] = _blob_maps(study_rng, coords[mask], lateral,
                               np.empty((0, 3)), n_networks, network_fwhm)
    mixing = _network_mixing(study_rng, n_networks)
    noise_level = np.exp(0.3 * smooth_fields(study_rng, 1)[0]).astype(np.float32)
    pattern = np.concatenate([depth[h] for h in hemis])[mask]
    baseline = (_BASELINE * (1.0 + 0.1 * pattern)).astype(np.float32)
    ones = np.ones(int(mask.sum()), dtype=np.float32)

    def to_image(values):
        """(n_vertices, n) array -> SurfaceImage."""
        return SurfaceImage(mesh=poly, data={"left": values[:n_left],
                                             "right": values[n_left:]})

    func, confounds, time_series = [], [], []
    for seed in subject_seeds:
        data, ts, conf = _simulate_subject(
            np.random.default_rng(seed), maps=maps[:, mask], mixing=mixing, n_scans=n_scans, t_r=t_r,
            snr=snr, n_confounds=n_confounds, smooth_noise=smooth_noise,
            smooth_fields=smooth_fields, baseline=baseline,
            noise_level=noise_level, confound_weight=ones)
        values = np.zeros((len(coords), n_scans), dtype=np.float32)
        values[mask] = data.T
        func.append(to_image(values))
        confounds.append(conf)
        time_series.append(ts)

    mask_img = SurfaceImage(mesh=poly, data={h: hemi_masks[h].copy()
                                             for h in hemis})
    description = (
        f"Synthetic resting-state fMRI study on the cortical surface: "
        f"{_plural(n_subjects, 'subject')} x {n_scans} scans (TR {t_r:g} s), "
        f"{n_networks} planted networks mirrored between hemispheres, "
        f"{int(mask.sum())} cortical vertices, SNR {snr:g}, {n_confounds} "
        f"motion-like confounds.")
    return Bunch(func=func, confounds=confounds, mask_img=mask_img, maps=maps,
                 maps_img=to_image(np.ascontiguousarray(maps.T)),
                 time_series=time_series, t_r=t_r, mesh=poly,
                 description=description)
