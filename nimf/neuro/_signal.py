"""Fast masking and cleaning of fMRI data, with the results of nilearn's maskers.

:func:`mask_and_clean` returns what ``NiftiMasker(mask_img=mask_img, ...)
.fit().transform(img, confounds=...)`` returns, :func:`surface_mask_and_clean`
what :class:`nilearn.maskers.SurfaceMasker` returns and :func:`clean_signals`
what :func:`nilearn.signal.clean` returns (with the parameters of the maskers),
up to floating point round-off.  The speed comes from:

* smoothing only the bounding box of the mask plus the radius of the Gaussian
  kernel, with separable passes in compiled kernels
  (:mod:`nimf._kernels.signal`) that evaluate the last pass at the mask voxels
  only and write the ``(n_scans, n_voxels)`` array directly;
* cleaning with a few BLAS calls: every temporal step of
  :func:`nilearn.signal.clean` (interpolation of censored scans, detrending,
  Butterworth filtering, censoring, confound regression) is linear in the
  signals, so it is applied as one projection ``X -= P (P^T X)`` or, when
  there is filtering, as one ``(n_scans, n_scans)`` matrix product (nilearn
  filters the voxels one at a time).

The temporal operators are computed by running nilearn's sequence of
operations on the identity matrix, in float64, so that quirks are kept.  One
of them: with Butterworth filtering and a ``sample_mask``, nilearn 0.14.1
takes the bitwise complement of the integer indices of the kept scans where
it means the censored scans, so that a censored scan ``i`` is interpolated
only if scan ``n_scans - 1 - i`` is kept, and the kept indices are then
shifted by the first kept index whether or not leading scans were dropped.
The functions here reproduce nilearn's numbers, not the intended behaviour.
"""

import functools
import numbers
import os
import warnings
import weakref
from pathlib import Path

import numpy as np
from scipy import linalg
from scipy import signal as sp_signal
from scipy.interpolate import CubicSpline

from .._kernels.signal import smooth_gather_scan_major, smooth_gather_voxel_major

__all__ = ["mask_and_clean", "clean_signals", "surface_mask_and_clean"]

_EPS = np.finfo(np.float64).eps
_STANDARDIZE_OPTIONS = ("zscore_sample", "psc", True, False, None)
_FWHM_OVER_SIGMA = np.sqrt(8 * np.log(2))
_TRUNCATE = 4.0          # scipy.ndimage.gaussian_filter1d's default
_BUTTERWORTH_ORDER = 5   # nilearn.signal.butterworth's default


# --------------------------------------------------------------------------
# parameter checks (same accepted values and error types as nilearn)
# --------------------------------------------------------------------------


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"{value!r} (type {type(value).__name__})"


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"'{name}' must be a bool, got {_describe(value)}")
    return bool(value)


def _check_scalar(value, name):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"'{name}' must be None or a number, got {_describe(value)}")
    return float(value)


def _check_standardize(standardize):
    """Map nilearn's ``standardize`` values to None, "zscore_sample" or "psc"."""
    if isinstance(standardize, (bool, np.bool_)):
        return "zscore_sample" if standardize else None
    if standardize is None or (isinstance(standardize, str)
                               and standardize in ("zscore_sample", "psc")):
        return standardize
    raise ValueError(
        f"'standardize' must be one of {_STANDARDIZE_OPTIONS}; "
        f"got {_describe(standardize)}")


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _critical_frequency(btype, freq, nyq):
    """Keep a cutoff frequency inside (0, Nyquist), as nilearn does."""
    eps = np.finfo(np.float32).eps
    if freq >= nyq:
        freq = nyq - (nyq * 10 * eps)
        warnings.warn(
            f"The frequency specified for the {btype} pass filter is too high to be "
            "handled by a digital filter (superior to Nyquist frequency). "
            f"It has been lowered to {freq} (Nyquist frequency).", stacklevel=4)
    elif freq < 0.0:
        freq = nyq * eps
        warnings.warn(
            f"The frequency specified for the {btype} pass filter is too low to be "
            "handled by a digital filter (must be non-negative). "
            f"It has been set to eps: {freq}.", stacklevel=4)
    return freq


def _check_filter(low_pass, high_pass, t_r):
    """Butterworth design as nilearn.signal.clean builds it, or None (no filter).

    Returns
    -------
    design : tuple (t_r, btype, critical_frequencies) or None
        None without filtering; ``btype`` is None when nilearn skips the
        filter but still treats the signals as filtered (equal band-pass
        cutoffs after clipping to the Nyquist frequency).
    """
    low_pass = _check_scalar(low_pass, "low_pass")
    high_pass = _check_scalar(high_pass, "high_pass")
    t_r = _check_scalar(t_r, "t_r")
    if low_pass is None and high_pass is None:
        return None
    if t_r is None:
        raise ValueError("Repetition time (t_r) must be specified for butterworth "
                         f"filtering. Got: 't_r={t_r}'")
    if low_pass is not None and high_pass is not None and high_pass >= low_pass:
        raise ValueError(
            f"High pass cutoff frequency ({high_pass}) is greater than or equal to low "
            f"pass filter frequency ({low_pass}). This case is not handled by this "
            "function.")
    sampling_rate = 1.0 / t_r
    nyq = sampling_rate * 0.5
    critical = []
    if high_pass is not None:
        btype = "high"
        critical.append(_critical_frequency(btype, high_pass, nyq))
    if low_pass is not None:
        btype = "low"
        critical.append(_critical_frequency(btype, low_pass, nyq))
    if len(critical) == 2:
        btype = "band"
        if critical[0] == critical[1]:
            warnings.warn(
                "Signals are returned unfiltered because band-pass critical frequencies "
                "are equal. Please check that inputs for sampling_rate, low_pass, and "
                "high_pass are valid.", stacklevel=3)
            return t_r, None, None
        return t_r, btype, tuple(critical)
    return t_r, btype, critical[0]


def _read_csv(path):
    """A CSV/TSV file of confounds as a 2D array, with an optional header line."""
    def read(skip_header):
        try:
            return np.genfromtxt(path, skip_header=skip_header, loose=False,
                                 encoding=None)
        except ValueError:
            import csv

            with Path(path).open() as f:
                try:
                    dialect = csv.Sniffer().sniff(f.readline(), " \t,;")
                except csv.Error as exc:
                    raise TypeError(f"Could not read CSV file [{path}]: {exc.args[0]}") \
                        from exc
            return np.genfromtxt(path, delimiter=dialect.delimiter,
                                 skip_header=skip_header, encoding=None)

    array = read(0)
    if np.isnan(array.flat[0]):
        array = read(1)
    return array


def _check_confounds(confounds, n_time):
    """Confounds as one float 2D array of ``n_time`` rows, or None."""
    if confounds is None:
        return None
    if isinstance(confounds, Path):
        confounds = str(confounds)
    if not isinstance(confounds, (list, tuple)):
        confounds = [confounds]
    arrays = []
    for conf in confounds:
        if isinstance(conf, Path):
            conf = str(conf)
        if hasattr(conf, "to_numpy") and not isinstance(conf, np.ndarray):
            conf = conf.to_numpy()
        if isinstance(conf, str):
            conf = _read_csv(conf)
        elif not isinstance(conf, np.ndarray):
            raise TypeError(
                "confounds must be None, an array of shape (n_scans, n_confounds), a "
                "pandas DataFrame, the path of a CSV file or a list of those; got "
                f"{_describe(conf)}")
        if conf.ndim == 1:
            conf = conf[:, None]
        elif conf.ndim != 2:
            raise ValueError("confound array has an incorrect number of dimensions: "
                             f"{conf.ndim} (expected 1 or 2)")
        if conf.shape[0] != n_time:
            raise ValueError(
                "Confound signal has an incorrect length. "
                f"Signal length: {n_time}; confound length: {conf.shape[0]}.")
        arrays.append(conf)
    conf = np.hstack(arrays)
    if conf.dtype.kind != "f":
        conf = conf.astype(np.float64 if conf.dtype.itemsize == 8 else np.float32)
    return conf


def _check_sample_mask(sample_mask, n_time):
    """Indices of the kept scans (int32), or None, as nilearn converts them."""
    if sample_mask is None:
        return None
    if not isinstance(sample_mask, (list, tuple, np.ndarray)):
        raise TypeError("sample_mask must be None, an array of scan indices or a boolean "
                        f"array of length n_scans; got {_describe(sample_mask)}")
    masks = [sample_mask] if isinstance(sample_mask, np.ndarray) else list(sample_mask)
    if len(masks) != 1:
        raise ValueError(
            f"Number of sample_mask ({len(masks)}) not matching number of runs (1). A "
            "list or tuple holds one sample mask per run: pass a single array of "
            "indices or of booleans.")
    mask = masks[0]
    if not hasattr(mask, "__len__"):
        raise TypeError(f"sample_mask must be an array, got {_describe(mask)}")
    mask = np.asarray(mask)
    if mask.dtype == bool:
        if mask.shape != (n_time,):
            raise IndexError(f"a boolean sample_mask must have shape ({n_time},), got "
                             f"{mask.shape}")
        mask = np.flatnonzero(mask)
    if mask.size == 0:
        from nilearn.exceptions import AllVolumesRemovedError

        raise AllVolumesRemovedError()
    if mask.dtype.kind not in "iu" or mask.ndim != 1:
        raise ValueError("sample_mask must be a 1D array of integer indices or of "
                         f"booleans, got {_describe(mask)} of dtype {mask.dtype}")
    if mask.min() < 0:
        raise ValueError("sample_mask should not contain negative values.")
    if len(mask) > n_time:
        raise IndexError(
            f"sample_mask 1 of 1 is has more timepoints than the current run ;"
            f"sample_mask contains {len(mask)} index but the run has {n_time} timepoints.")
    invalid = mask[mask >= n_time]
    if invalid.size:
        raise IndexError(f"sample_mask 1 of 1 contains invalid index {invalid}. "
                         f"The signal contains {n_time} time points.")
    return mask.astype(np.int32)


# --------------------------------------------------------------------------
# temporal operators
# --------------------------------------------------------------------------


def _trend_basis(n):
    """Orthonormal basis of constants and linear trends, as nilearn detrends."""
    basis = np.empty((n, 2))
    basis[:, 0] = 1.0 / np.sqrt(n)
    ramp = np.arange(n, dtype=np.float64)
    ramp -= ramp.mean()
    norm = np.sqrt((ramp ** 2).sum())
    if not norm < _EPS:
        ramp /= norm
    basis[:, 1] = ramp
    return basis


def _detrend64(x):
    """nilearn's linear detrending of the columns of a float64 array (copy)."""
    x = x - x.mean(axis=0)
    ramp = np.arange(x.shape[0], dtype=x.dtype)
    ramp -= ramp.mean()
    norm = np.sqrt((ramp ** 2).sum())
    if not norm < _EPS:
        ramp /= norm
    x -= np.outer(ramp, ramp @ x)
    return x


@functools.lru_cache(maxsize=32)
def _butterworth_matrix(n, design):
    """The (n, n) matrix of nilearn's zero-phase Butterworth filter."""
    t_r, btype, critical = design
    if btype is None:
        matrix = np.eye(n)
    else:
        sos = sp_signal.butter(N=_BUTTERWORTH_ORDER, Wn=critical, btype=btype,
                               output="sos", fs=1.0 / t_r)
        matrix = sp_signal.sosfiltfilt(sos, np.eye(n), axis=0, padtype="odd")
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=32)
def _filter_operator(n, design, detrend, kept):
    """Linear map of the filtering branch of nilearn.signal.clean.

    With a Butterworth filter, nilearn interpolates the censored scans, drops
    the scans that could not be interpolated, detrends, filters, then censors.
    All of it is linear in the signals: the map is obtained by running the
    same steps on the identity matrix.

    Returns
    -------
    operator : ndarray of shape (n_out, n)
    mean_weights : ndarray of shape (n,)
        Weights of the mean over time of the interpolated signals (before
        detrending), used by percent signal change.
    """
    current = np.eye(n)
    if kept is not None:
        kept = np.frombuffer(kept, dtype=np.int32).copy()
        frame_times = np.arange(n) * design[0]
        spline = CubicSpline(frame_times[kept], current[kept], extrapolate=False)
        interpolated = spline(frame_times)
        # nilearn indexes with ``~sample_mask`` on integer indices
        current[~kept, :] = interpolated[~kept, :]
        current = current[~np.isnan(current).all(axis=1), :]
        kept = kept - kept[0]
    mean_weights = current.mean(axis=0)
    if detrend:
        current = _detrend64(current)
    current = _butterworth_matrix(current.shape[0], design) @ current
    if kept is not None:
        current = current[kept]
    current.setflags(write=False)
    mean_weights.setflags(write=False)
    return current, mean_weights


def _confound_basis(confounds, standardize_confounds):
    """Orthonormal basis of the (processed) confounds, as nilearn regresses them."""
    if standardize_confounds:
        if confounds.shape[0] == 1:
            warnings.warn("Standardization of 3D signal has been requested but would "
                          "lead to zero values. Skipping.", stacklevel=4)
        else:
            confounds = confounds - confounds.mean(axis=0)
            std = confounds.std(axis=0, ddof=1)
            std[std < _EPS] = 1.0
            confounds /= std
    else:
        scale = np.max(np.abs(confounds), axis=0)
        scale[scale == 0] = 1
        confounds = confounds / scale
    q, r, _ = linalg.qr(confounds, mode="economic", pivoting=True)
    return q[:, np.abs(np.diag(r)) > _EPS * 100.0]


_BLAS_CONTROLLER = []


def _single_threaded_blas():
    """Context limiting BLAS to one thread.

    The products here are thin (a few basis vectors) or small (scans x
    scans): they are memory bound and gain nothing from threads, while
    OpenBLAS threads keep spinning after each call and slow down the
    compiled kernels and the other subjects processed in parallel.
    """
    if not _BLAS_CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER.append(ThreadpoolController())
    return _BLAS_CONTROLLER[0].limit(limits=1, user_api="blas")


def _project_out(signals, basis):
    """``signals -= basis @ (basis.T @ signals)``, in place, in the dtype of ``signals``."""
    if basis.shape[1] == 0:
        return signals
    basis = np.ascontiguousarray(basis, dtype=signals.dtype)
    coefs = basis.T @ signals
    if signals.flags.c_contiguous:
        # signals.T is Fortran-ordered: update it in place with one GEMM
        gemm = linalg.get_blas_funcs("gemm", (signals,))
        gemm(-1.0, coefs.T, basis.T, beta=1.0, c=signals.T, overwrite_c=True)
    else:
        signals -= basis @ coefs
    return signals


def _standardize(signals, standardize, original_mean):
    """nilearn's final standardization, in place when possible."""
    n = signals.shape[0]
    if n == 1:
        warnings.warn("Standardization of 3D signal has been requested but would lead "
                      "to zero values. Skipping.", stacklevel=4)
        return signals
    if standardize == "zscore_sample":
        signals -= signals.mean(axis=0)
        std = np.sqrt(np.einsum("ij,ij->j", signals, signals) / (n - 1))
        std[std < _EPS] = 1.0
        signals /= std
        return signals
    # percent signal change; when the mean was removed (detrending,
    # high-pass filtering), nilearn puts the original mean back first
    with np.errstate(divide="ignore", invalid="ignore"):
        check = np.abs(signals.mean(0)).mean() / np.abs(original_mean).mean() < 1e-1
    if check:
        signals += original_mean
    mean = signals.mean(axis=0)
    invalid = np.absolute(mean) < _EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        signals -= mean
        signals /= np.absolute(mean)
    signals *= 100
    if np.any(invalid):
        warnings.warn("psc standardization strategy is meaningless for features that "
                      "have a mean of 0. These time series are set to 0.", stacklevel=4)
        signals[:, invalid] = 0
    return signals


class _CleanPlan:
    """Checked cleaning parameters, shared by the three public functions."""

    def __init__(self, *, detrend, standardize, standardize_confounds, low_pass,
                 high_pass, t_r, confounds, sample_mask):
        self.detrend = _check_bool(detrend, "detrend")
        self.standardize = _check_standardize(standardize)
        self.standardize_confounds = _check_bool(standardize_confounds,
                                                 "standardize_confounds")
        self.design = _check_filter(low_pass, high_pass, t_r)
        self.confounds = confounds
        self.sample_mask = sample_mask
        if confounds is not None and not self.detrend and not self.standardize_confounds:
            warnings.warn(
                "When confounds are provided, one must perform detrend and/or "
                f"standardize confounds. You provided detrend={self.detrend}, "
                f"standardize_confounds={self.standardize_confounds}. If confounds were "
                "not standardized or demeaned before passing to signal.clean signal will "
                "not be correctly cleaned. ", stacklevel=3)

    def prepare(self, n_time):
        """Check the confounds and sample mask against the number of scans.

        Returns the indices of the scans the spatial extraction may skip
        (censoring without filtering) or None.
        """
        self.n_time = n_time
        self.confounds_ = _check_confounds(self.confounds, n_time)
        self.kept_ = _check_sample_mask(self.sample_mask, n_time)
        if self.kept_ is not None and self.design is None:
            return self.kept_
        return None

    def apply(self, signals, censored=False):
        """Clean ``signals`` (see :meth:`_apply`) with single-threaded BLAS."""
        with _single_threaded_blas():
            return self._apply(signals, censored)

    def _apply(self, signals, censored=False):
        """Clean ``signals`` (owned, C-contiguous, float), maybe in place.

        ``censored`` tells that the rows of ``signals`` are already the kept
        scans (see :meth:`prepare`).

        The linear temporal operator ``A`` (detrending, filtering, confound
        regression) is applied to the signals centered by their mean ``m``,
        ``A X = A (X - 1 m^T) + (A 1) m^T``: in float32, applying it to the
        raw signals (a baseline of about 1000 and fluctuations of about 1%)
        would lose three significant digits.
        """
        conf = self.confounds_
        if conf is not None:
            conf = conf.astype(np.float64)
        standardize = self.standardize
        dtype = signals.dtype
        original_mean = None
        if self.design is not None:
            kept = None if self.kept_ is None else self.kept_.tobytes()
            operator, mean_weights = _filter_operator(self.n_time, self.design,
                                                      self.detrend, kept)
            if conf is not None:
                conf = operator @ conf
                basis = _confound_basis(conf, self.standardize_confounds)
                # fold the confound projection into the temporal operator
                operator = operator - basis @ (basis.T @ operator)
            mean = signals.mean(axis=0)
            signals -= mean
            if standardize == "psc":
                original_mean = mean_weights.astype(dtype) @ signals
                original_mean += mean * dtype.type(mean_weights.sum())
            ones_response = operator.sum(axis=1)
            signals = np.ascontiguousarray(operator, dtype=dtype) @ signals
            _add_constant_response(signals, ones_response, mean)
        else:
            kept = self.kept_
            if kept is not None:
                if not censored:
                    signals = signals[kept]
                if conf is not None:
                    conf = conf[kept]
            n = signals.shape[0]
            basis = None
            if self.detrend and n == 1:
                warnings.warn("Detrending of 3D signal has been requested but would "
                              "lead to zero values. Skipping.", stacklevel=3)
            elif self.detrend:
                basis = _trend_basis(n)
            if conf is not None:
                if self.detrend and n > 1:
                    conf = _detrend64(conf)
                conf_basis = _confound_basis(conf, self.standardize_confounds)
                # the detrended confounds are orthogonal to the trends: one
                # projection removes both
                basis = conf_basis if basis is None else np.hstack([basis, conf_basis])
            if basis is not None or standardize == "psc":
                mean = signals.mean(axis=0)
                original_mean = mean
            if basis is not None and basis.shape[1] > 0:
                signals -= mean
                ones_response = 1.0 - basis @ basis.sum(axis=0)
                signals = _project_out(signals, basis)
                _add_constant_response(signals, ones_response, mean)
        if standardize is not None:
            signals = _standardize(signals, standardize, original_mean)
        return signals


def _add_constant_response(signals, response, mean):
    """``signals += outer(response, mean)`` unless ``response`` is negligible."""
    if np.abs(response).max() > 1e-10:
        signals += response.astype(signals.dtype)[:, None] * mean[None, :]


def clean_signals(signals, *, detrend=False, standardize=False,
                  standardize_confounds=True, low_pass=None, high_pass=None, t_r=None,
                  confounds=None, sample_mask=None, copy=True):
    """Detrend, filter, regress confounds out of and standardize time series.

    Gives the result of :func:`nilearn.signal.clean` (Butterworth filter, a
    single run, finite input) with the defaults of nilearn's maskers, much
    faster on many features: each step is one or two matrix products.

    Parameters
    ----------
    signals : array-like of shape (n_scans, n_features)
        Time series, one per column.
    detrend : bool, default=False
        Remove linear trends (and the mean) from the signals and the confounds.
    standardize : {"zscore_sample", "psc", True, False, None}, default=False
        "zscore_sample": center and divide by the standard deviation
        (``ddof=1``); "psc": percent signal change; ``True`` means
        "zscore_sample" and ``False`` means None (no standardization), as in
        nilearn 0.14.
    standardize_confounds : bool, default=True
        Z-score the confounds before regressing them out (otherwise scale
        them by their maximum absolute value).
    low_pass, high_pass : float or None, default=None
        Cutoff frequencies of the Butterworth filter, in Hz.
    t_r : float or None, default=None
        Repetition time in seconds, required for filtering.
    confounds : array-like, str, path, DataFrame or list of those, default=None
        Confounds of shape (n_scans, n_confounds) (or (n_scans,)); strings and
        paths name CSV files with an optional header line.
    sample_mask : ndarray or None, default=None
        Indices (or boolean mask of shape (n_scans,)) of the scans to keep.
    copy : bool, default=True
        If False and ``signals`` is a C-contiguous float32 or float64 array,
        it may be overwritten.

    Returns
    -------
    cleaned : ndarray of shape (n_kept_scans, n_features)
        Float32 for float32 input, float64 otherwise.
    """
    plan = _CleanPlan(detrend=detrend, standardize=standardize,
                      standardize_confounds=standardize_confounds, low_pass=low_pass,
                      high_pass=high_pass, t_r=t_r, confounds=confounds,
                      sample_mask=sample_mask)
    if hasattr(signals, "to_numpy") and not isinstance(signals, np.ndarray):
        signals = signals.to_numpy()
    signals = np.asarray(signals)
    if signals.ndim != 2:
        raise ValueError("signals must be a 2D array of shape (n_scans, n_features), got "
                         f"an array of shape {signals.shape}")
    dtype = np.float32 if signals.dtype == np.float32 else np.float64
    owned = np.require(signals, dtype=dtype, requirements=["C", "W"])
    if copy and np.may_share_memory(owned, signals):
        owned = owned.copy()
    plan.prepare(owned.shape[0])
    return plan.apply(owned)


# --------------------------------------------------------------------------
# volumes
# --------------------------------------------------------------------------


def _gaussian_weights(sigma):
    """Taps of scipy.ndimage.gaussian_filter1d (truncate=4), float64."""
    radius = int(_TRUNCATE * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    phi = phi / phi.sum()
    return phi[::-1].copy()


def _reflect(index, n):
    """Indices of scipy.ndimage's "reflect" boundary mode (d c b a | a b c d)."""
    index = np.mod(index, 2 * n)
    return np.where(index >= n, 2 * n - 1 - index, index)


def _smoothing_sigmas(affine, fwhm):
    """Per-axis Gaussian standard deviations in voxels, as nilearn.image.smooth_img."""
    if fwhm is None:
        return np.zeros(3)
    vox_size = np.sqrt(np.sum(affine[:3, :3] ** 2, axis=0))
    return np.asarray([fwhm], dtype=float).ravel() / (_FWHM_OVER_SIGMA * vox_size)


def _axis_plan(n, lo, hi, sigma):
    """Box, table and weights of one spatial axis.

    Returns ``(b0, b1, idx, weights)``: the input range to read, the input
    index (relative to ``b0``) of each tap for the outputs ``lo..hi-1``, and
    the tap weights; ``idx`` is None when the axis is not smoothed.
    """
    if not sigma > 0:
        return lo, hi, None, None
    weights = _gaussian_weights(sigma)
    radius = (len(weights) - 1) // 2
    b0, b1 = max(0, lo - radius), min(n, hi + radius)
    taps = np.arange(lo, hi)[:, None] + np.arange(-radius, radius + 1)[None, :]
    idx = np.ascontiguousarray(_reflect(taps, n) - b0, dtype=np.intp)
    return b0, b1, idx, weights


def _interior(idx):
    """``(start, stop, offset)``: the rows ``start <= i < stop`` of ``idx`` are
    ``i + offset + arange(n_taps)`` (no reflection)."""
    n_out, n_taps = idx.shape
    middle = n_out // 2
    offset = int(idx[middle, 0]) - middle
    regular = np.all(idx == np.arange(n_out)[:, None] + np.arange(n_taps) + offset,
                     axis=1)
    if not regular.any():
        return 0, 0, 0
    rows = np.flatnonzero(regular)
    start, stop = int(rows[0]), int(rows[-1]) + 1
    if not regular[start:stop].all():
        return 0, 0, 0
    return start, stop, offset


def _extract_volume(data, mask, sigmas, dtype, frames, source=None):
    """Smoothed values at the mask voxels, shape (n_frames, n_voxels).

    ``data`` is a 4D array or an array proxy (only the needed box is read),
    ``mask`` a 3D boolean array of the same spatial shape.  Non-finite values
    are replaced by zeros before smoothing, as nilearn does; those inside the
    mask (in the frames kept) are also reported by a warning naming ``source``
    (the image's file, when known).  The smoothed axes are filtered in the
    order of nilearn (first axis first), the last one at the mask voxels only.
    """
    coords = np.nonzero(mask)
    lo = [int(c.min()) for c in coords]
    hi = [int(c.max()) + 1 for c in coords]
    plans = [_axis_plan(mask.shape[a], lo[a], hi[a], sigmas[a]) for a in range(3)]
    box = tuple(slice(p[0], p[1]) for p in plans)
    sub = np.asanyarray(data[box + (slice(None),)])
    n_scans = sub.shape[3]
    if frames is None:
        frames = np.arange(n_scans)
    frames = np.ascontiguousarray(frames, dtype=np.intp)
    out = np.empty((len(frames), len(coords[0])), dtype=dtype)
    # work on the spatial axes in memory order
    strides = np.abs(np.asarray(sub.strides))
    order = [int(a) for a in np.argsort(-strides[:3], kind="stable")]
    where = [order.index(a) for a in range(3)]
    voxel_major = strides[3] <= strides[:3].min()
    layout = order + [3] if voxel_major else [3] + order
    rel = [np.ascontiguousarray(coords[a] - lo[a], dtype=np.intp) for a in range(3)]
    dummy_idx = np.zeros((1, 1), dtype=np.intp)
    dummy_weights = np.ones(1)

    def table(a):
        if plans[a][2] is None:
            return np.arange(hi[a] - lo[a], dtype=np.intp)[:, None], dummy_weights
        return plans[a][2], plans[a][3]

    if voxel_major:
        # slab by slab along the slowest axis, the axes filtered in memory order
        lay = [rel[a] for a in order]
        perm = None
        if order != [0, 1, 2]:
            perm = np.lexsort((lay[2], lay[1], lay[0]))
            lay = [x[perm] for x in lay]
        a0, a1, a2 = order
        m1 = hi[a1] - lo[a1]
        line_start = np.searchsorted(lay[0] * m1 + lay[1],
                                     np.arange((hi[a0] - lo[a0]) * m1 + 1))
        idx2, weights2 = table(a2)

        def run(work):
            smooth_gather_voxel_major(
                work, plans[a0][2] is not None,
                dummy_idx if plans[a0][2] is None else plans[a0][2],
                dummy_weights if plans[a0][2] is None else plans[a0][3],
                plans[a1][2] is not None,
                dummy_idx if plans[a1][2] is None else plans[a1][2],
                dummy_weights if plans[a1][2] is None else plans[a1][3],
                idx2, weights2, line_start, lay[2], frames, out)
    else:
        # scan by scan, the smoothed axes filtered in nilearn's order (first
        # axis first)
        axes = -np.ones(3, dtype=np.intp)
        tables = [(dummy_idx, dummy_weights)] * 3
        shapes = np.ones((3, 3), dtype=np.intp)
        contiguous = np.zeros((3, 3), dtype=np.intp)
        size = [p[1] - p[0] for p in plans]
        for p, a in enumerate(a for a in range(3) if plans[a][2] is not None):
            idx = plans[a][2]
            size[a] = hi[a] - lo[a]
            axes[p] = where[a]
            tables[p] = (idx, plans[a][3])
            shapes[p] = [size[b] for b in order]
            if where[a] == 2:
                contiguous[p] = _interior(idx)
        final = [size[b] for b in order]
        voxels = (rel[order[0]] * final[1] + rel[order[1]]) * final[2] + rel[order[2]]
        (i0, w0), (i1, w1), (i2, w2) = tables

        def run(work):
            smooth_gather_scan_major(work, axes, i0, w0, i1, w1, i2, w2, shapes,
                                     contiguous, voxels, frames, out)

    run(np.ascontiguousarray(sub.transpose(layout), dtype=dtype))
    if not np.isfinite(out).all():
        _warn_nonfinite_in_mask(sub, [coords[a] - plans[a][0] for a in range(3)], frames,
                                source)
        if any(p[2] is not None for p in plans):
            work = np.array(sub.transpose(layout), dtype=dtype, order="C")
            work[~np.isfinite(work)] = 0
            run(work)
        else:
            out[~np.isfinite(out)] = 0
    if voxel_major and perm is not None:
        result = np.empty_like(out)
        result[:, perm] = out
        out = result
    return out


def _warn_nonfinite_in_mask(sub, rel, frames, source):
    """Warn about the NaN or infinite values of ``sub`` at the mask voxels ``rel``.

    ``rel``: the voxels' coordinates in the box ``sub`` (the mask's bounding box,
    grown by the smoothing kernel's reach).

    Values outside the mask (NaN outside the brain, as some packages write)
    only reach the result through smoothing, and are not reported.
    """
    inside = np.asarray(sub[rel[0], rel[1], rel[2]])[:, frames]
    # (warned from mask_and_clean's caller: four frames up from here)
    _warn_nonfinite_values(inside, "The image" if source is None else f"The image {source!r}",
                           "voxels", stacklevel=5)


def _warn_nonfinite_values(inside, what, elements, stacklevel):
    """Warn that the non-finite values of ``inside`` (mask elements x scans) became zeros.

    ``stacklevel``: that of :func:`warnings.warn` called here.
    """
    bad = ~np.isfinite(inside)
    if not bad.any():
        return
    count = int(bad.sum())
    warnings.warn(
        f"{what} holds {count} NaN or infinite value{'s' if count > 1 else ''} inside the "
        f"mask, at {int(bad.any(axis=1).sum())} of its {inside.shape[0]} {elements} in "
        f"{int(bad.any(axis=0).sum())} of its {inside.shape[1]} scans: "
        f"{'they were' if count > 1 else 'it was'} replaced by zeros, as nilearn's maskers "
        "do. NaN inside the brain usually come from a "
        f"damaged file or a failed preprocessing step; leave these {elements} out of the "
        "mask, or these scans out with sample_mask, if zeros are not wanted.",
        stacklevel=stacklevel)


def _same_grid(shape_a, affine_a, shape_b, affine_b):
    return tuple(shape_a[:3]) == tuple(shape_b[:3]) and np.allclose(affine_a, affine_b)


def _load_volume_mask(mask_img, target_affine, target_shape):
    """Boolean mask as nilearn's maskers load (and resample) it.

    Returns ``(mask_array, mask_img)`` where ``mask_img`` is the binary image.
    """
    from nilearn.image import check_niimg, new_img_like, resample_img

    img = check_niimg(mask_img, atleast_4d=True)
    data = np.asanyarray(img.dataobj)
    if data.dtype.kind == "f":
        data = np.where(np.isfinite(data), data, 0)
    mask = data.astype(bool).all(axis=3)
    mask_img = new_img_like(img, mask.astype(np.int8), img.affine)
    if target_affine is not None or target_shape is not None:
        mask_img = resample_img(mask_img, target_affine=target_affine,
                                target_shape=target_shape, copy=False,
                                interpolation="nearest")
        mask = np.asanyarray(mask_img.dataobj).astype(bool)
    if not mask.any():
        raise ValueError("The mask is invalid as it is empty: it masks all data.")
    return mask, mask_img


def mask_and_clean(img, mask_img, *, smoothing_fwhm=None, detrend=False,
                   standardize=False, standardize_confounds=True, low_pass=None,
                   high_pass=None, t_r=None, confounds=None, sample_mask=None,
                   target_affine=None, target_shape=None, dtype=np.float32):
    """Mask, smooth and clean a 4D image into an array of time series.

    Gives the result of ``NiftiMasker(mask_img=mask_img, **params).fit()
    .transform(img, confounds=confounds, sample_mask=sample_mask)`` with the
    same parameters, up to floating point round-off, several times faster.

    Parameters
    ----------
    img : 4D Niimg-like object
        Image (or path) of shape (x, y, z, n_scans).
    mask_img : 3D Niimg-like object
        Mask; every non-zero (finite) voxel is kept.  It must be on the grid
        of ``img`` unless ``target_affine`` or ``target_shape`` is given.
    smoothing_fwhm : float or None, default=None
        Full width at half maximum of the Gaussian smoothing kernel, in mm.
    detrend : bool, default=False
        Remove linear trends from the time series and the confounds.
    standardize : {"zscore_sample", "psc", True, False, None}, default=False
        See :func:`clean_signals`.
    standardize_confounds : bool, default=True
        Z-score the confounds before regressing them out.
    low_pass, high_pass : float or None, default=None
        Cutoff frequencies of the Butterworth filter, in Hz.
    t_r : float or None, default=None
        Repetition time in seconds, required for filtering.
    confounds : array-like, str, path, DataFrame or list of those, default=None
        Confounds of shape (n_scans, n_confounds) to regress out.
    sample_mask : ndarray or None, default=None
        Indices (or boolean mask) of the scans to keep.
    target_affine : ndarray of shape (3, 3) or (4, 4), default=None
        Resample the mask (nearest neighbour) and the image (continuous) to
        this affine first, as the masker does.
    target_shape : tuple of 3 ints, default=None
        Shape of the resampled grid.
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the computations and of the result.

    Returns
    -------
    signals : ndarray of shape (n_kept_scans, n_voxels)
        C-contiguous; the voxels in the order of ``mask_img`` in C order.
    """
    from nilearn.image import check_niimg_4d, crop_img, resample_img

    dtype = _check_dtype(dtype)
    fwhm = _check_scalar(smoothing_fwhm, "smoothing_fwhm")
    if fwhm == 0.0:
        warnings.warn(f"The parameter 'fwhm' for smoothing is specified as {fwhm}. "
                      "Setting it to None (no smoothing will be performed)", stacklevel=2)
        fwhm = None
    plan = _CleanPlan(detrend=detrend, standardize=standardize,
                      standardize_confounds=standardize_confounds, low_pass=low_pass,
                      high_pass=high_pass, t_r=t_r, confounds=confounds,
                      sample_mask=sample_mask)
    mask, mask_img = _load_volume_mask(mask_img, target_affine, target_shape)
    if isinstance(img, os.PathLike):
        img = str(img)
    source = img if isinstance(img, str) else None
    img = check_niimg_4d(img)
    if source is None and hasattr(img, "get_filename"):
        source = img.get_filename()
    resample = target_affine is not None or target_shape is not None
    if not _same_grid(img.shape, img.affine, mask.shape, mask_img.affine):
        # as nilearn's maskers: resample the image to the mask cropped to its
        # content (the voxel order of the mask is kept)
        resample = True
        mask_img = crop_img(mask_img, copy=False)
        mask = np.asanyarray(mask_img.dataobj).astype(bool)
        target_affine, target_shape = mask_img.affine, mask_img.shape
    if resample:
        img = resample_img(img, interpolation="continuous", target_shape=target_shape,
                           target_affine=target_affine, copy=True)
        if not _same_grid(img.shape, img.affine, mask.shape, mask_img.affine):
            raise ValueError(
                f"The image resampled to target_affine={target_affine} and target_shape="
                f"{target_shape} has shape {img.shape[:3]}, the resampled mask has shape "
                f"{mask.shape}")
    frames = plan.prepare(img.shape[3])
    sigmas = _smoothing_sigmas(img.affine, fwhm)
    signals = _extract_volume(img.dataobj, mask, sigmas, dtype, frames, source)
    return plan.apply(signals, censored=frames is not None)


# --------------------------------------------------------------------------
# surfaces
# --------------------------------------------------------------------------

_MESH_CACHE = {}
_MESH_CACHE_SIZE = 8


def _mesh_key(mesh):
    path = getattr(mesh, "file_path", None)
    if path is not None:
        path = Path(path)
        try:
            stat = path.stat()
            return ("file", str(path.resolve()), stat.st_mtime_ns, stat.st_size), None
        except OSError:
            return None, None
    try:
        ref = weakref.ref(mesh)
    except TypeError:
        return None, None
    # the arrays of an in-memory mesh can be replaced: they are part of the key
    return ("memory", id(mesh), id(mesh.coordinates), id(mesh.faces)), ref


def _mesh_operator(mesh):
    """Smoothing matrix and mean vertex area of a mesh, cached.

    The matrix is nilearn's: ``0.5 * I + 0.5 * D^-1 A`` with ``A`` the 0/1
    adjacency matrix of the mesh and ``D`` its degrees.
    """
    from scipy import sparse

    key, ref = _mesh_key(mesh)
    if key is not None and key in _MESH_CACHE:
        entry = _MESH_CACHE[key]
        if entry["ref"] is None or entry["ref"]() is mesh:
            return entry
    if hasattr(mesh, "loaded"):
        mesh_loaded = mesh.loaded()
    else:
        mesh_loaded = mesh
    coordinates = np.asarray(mesh_loaded.coordinates)
    faces = np.asarray(mesh_loaded.faces)
    # mean vertex area, computed as nilearn does (same operations, same rounding)
    idx0, idx1, idx2 = faces.T
    v0, v1, v2 = coordinates[idx0], coordinates[idx1], coordinates[idx2]
    cross = np.cross(v1 - v0, v2 - v0)
    area = np.sum(0.5 * np.sqrt(np.sum(cross ** 2, axis=1)))
    n = coordinates.shape[0]
    edges = np.vstack([faces[:, [0, 1]], faces[:, [0, 2]], faces[:, [1, 2]]])
    edges = edges.astype(np.int64)
    edges = np.unique(np.minimum(edges[:, 0], edges[:, 1]) * n
                      + np.maximum(edges[:, 0], edges[:, 1]))
    u, v = edges // n, edges % n
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    adjacency = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        scale = 0.5 / degree
    operator = sparse.diags(scale) @ adjacency
    operator = (operator + sparse.diags(np.full(n, 0.5))).tocsr()
    operator.sort_indices()
    entry = {"ref": ref, "area": area, "n_vertices": n, "operator": {np.float64: operator}}
    if key is not None:
        if len(_MESH_CACHE) >= _MESH_CACHE_SIZE:
            _MESH_CACHE.pop(next(iter(_MESH_CACHE)))
        _MESH_CACHE[key] = entry
    return entry


def _surface_iterations(fwhm, entry):
    """Number of smoothing iterations for a FWHM, as nilearn.image.smooth_img."""
    import math

    if fwhm is None or fwhm == 0:
        return 0
    std = fwhm / math.sqrt(math.log(256.0))
    avg_area = entry["area"] / entry["n_vertices"]
    return math.floor(1.14 * (4 * math.pi * std ** 2) / (7 * avg_area) + 0.5)


def _surface_parts(img, name):
    from nilearn.surface import SurfaceImage

    if not isinstance(img, SurfaceImage):
        raise TypeError(f"{name} must be a nilearn.surface.SurfaceImage, got "
                        f"{_describe(img)}")
    return {part: np.asarray(values) for part, values in img.data.parts.items()}


def surface_mask_and_clean(img, mask_img=None, *, smoothing_fwhm=None, detrend=False,
                           standardize=False, standardize_confounds=True, low_pass=None,
                           high_pass=None, t_r=None, confounds=None, sample_mask=None,
                           dtype=np.float32):
    """Mask, smooth and clean a surface image into an array of time series.

    Gives the result of ``SurfaceMasker(mask_img=mask_img, **params).fit()
    .transform(img, confounds=confounds, sample_mask=sample_mask)`` with the
    same parameters, up to floating point round-off.  Smoothing is nilearn's:
    iterated averaging of each vertex (weight 1/2) with its neighbours, the
    number of iterations derived from ``smoothing_fwhm`` and the mean vertex
    area of each hemisphere.

    Parameters
    ----------
    img : SurfaceImage or list of SurfaceImage
        Data of shape (n_vertices, n_scans) in each part (hemisphere); a list
        is concatenated along scans.
    mask_img : SurfaceImage or None, default=None
        Mask with the parts of ``img``; every non-zero vertex is kept.  If
        None, the vertices whose values are all finite are kept, as nilearn.
    smoothing_fwhm : float or None, default=None
        Full width at half maximum of the smoothing, in mm.
    detrend, standardize, standardize_confounds, low_pass, high_pass, t_r, \
confounds, sample_mask :
        See :func:`mask_and_clean`.
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the computations and of the result.

    Returns
    -------
    signals : ndarray of shape (n_kept_scans, n_vertices_in_mask)
        C-contiguous; the parts in the order of ``mask_img``.
    """
    from nilearn.exceptions import MeshDimensionError

    dtype = _check_dtype(dtype)
    fwhm = _check_scalar(smoothing_fwhm, "smoothing_fwhm")
    plan = _CleanPlan(detrend=detrend, standardize=standardize,
                      standardize_confounds=standardize_confounds, low_pass=low_pass,
                      high_pass=high_pass, t_r=t_r, confounds=confounds,
                      sample_mask=sample_mask)
    if isinstance(img, (list, tuple)):
        from nilearn.image import concat_imgs

        for i, one in enumerate(img):
            _surface_parts(one, f"img[{i}]")
        img = concat_imgs(list(img))
    parts = _surface_parts(img, "img")
    for part, values in parts.items():
        if values.ndim != 2:
            raise ValueError(
                "img must hold 2D data of shape (n_vertices, n_scans) in each part; part "
                f"'{part}' has shape {values.shape}")
    if mask_img is None:
        masks = {}
        for part, values in parts.items():
            masks[part] = np.isfinite(values.astype("float32")).all(axis=1)
            if not masks[part].all():
                warnings.warn("Non-finite values detected in the input image. The "
                              "computed mask will mask out these vertices.", stacklevel=2)
    else:
        masks = {}
        for part, values in _surface_parts(mask_img, "mask_img").items():
            values = values.reshape(values.shape[0], -1)
            if values.dtype.kind == "f":
                values = np.where(np.isfinite(values), values, 0)
            masks[part] = values.astype(bool).all(axis=1)
        if set(masks) != set(parts):
            raise MeshDimensionError(
                f"img and mask_img must have the same parts: img has {sorted(parts)}, "
                f"mask_img has {sorted(masks)}")
        for part in masks:
            if masks[part].shape[0] != parts[part].shape[0]:
                raise MeshDimensionError(
                    f"Number of vertices do not match between img and mask_img in part "
                    f"'{part}': {parts[part].shape[0]} and {masks[part].shape[0]}")
    if not any(m.any() for m in masks.values()):
        raise ValueError("The mask is invalid as it is empty: it masks all data.")
    n_scans = next(iter(parts.values())).shape[1]
    frames = plan.prepare(n_scans)
    n_out = n_scans if frames is None else len(frames)
    n_total = sum(int(m.sum()) for m in masks.values())
    out = np.empty((n_out, n_total), dtype=dtype)
    start = 0
    for part, mask in masks.items():
        values = parts[part]
        n_iter = 0
        if fwhm is not None and fwhm != 0:
            entry = _mesh_operator(img.mesh.parts[part])
            n_iter = _surface_iterations(fwhm, entry)
        if n_iter > 0:
            operator = entry["operator"].get(dtype.type)
            if operator is None:
                operator = entry["operator"][np.float64].astype(dtype)
                entry["operator"][dtype.type] = operator
            data = values if frames is None else values[:, frames]
            data = np.asarray(data, dtype=dtype)
            if not np.isfinite(data).all():
                _warn_nonfinite_values(data[mask], f"Part '{part}' of the surface image",
                                       "vertices", stacklevel=3)
                data = np.where(np.isfinite(data), data, 0).astype(dtype, copy=False)
            for _ in range(n_iter):
                data = operator @ data
            selected = data[mask]
        else:
            selected = values[mask] if frames is None else values[np.ix_(mask, frames)]
            selected = selected.astype(dtype, copy=False)
        stop = start + int(mask.sum())
        out[:, start:stop] = selected.T
        start = stop
    if fwhm is not None and not np.isfinite(out).all():
        # nilearn's surface smoothing replaces non-finite values by zeros,
        # even with zero iterations (and only when smoothing is asked)
        out[~np.isfinite(out)] = 0
    return plan.apply(out, censored=frames is not None)
