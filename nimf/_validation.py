"""Shared input checks: every message says what was expected and what was given."""

import numbers
import os

import numpy as np


def available_memory():
    """Bytes of physical memory free now (8 GiB when the system cannot tell)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 * 2 ** 30


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return repr(value)


def check_int(value, name, *, min_val=None, max_val=None, allow_none=False):
    """Check an integer parameter; return it as a Python int."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        expected = "an int" if min_val is None else f"an int >= {min_val}"
        if allow_none:
            expected += " or None"
        raise ValueError(f"{name} must be {expected}, got {_describe(value)}")
    value = int(value)
    if min_val is not None and value < min_val:
        what = "a positive int" if min_val == 1 else f"an int >= {min_val}"
        raise ValueError(f"{name} must be {what}, got {value}")
    if max_val is not None and value > max_val:
        raise ValueError(f"{name} must be an int <= {max_val}, got {value}")
    return value


def check_float(value, name, *, low=None, high=None, low_open=False,
                high_open=False):
    """Check a real parameter lies in an interval; return it as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    bad = False
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        if high is None:
            right = ")"
        if low is None:
            left = "("
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value:g}")
    return value


def check_option(value, name, options):
    """Check a string option belongs to ``options``."""
    if not isinstance(value, str) or value not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {choices}, got {_describe(value)}")
    return value


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def check_codes(codes, n_components, dtype):
    """Codes given to ``inverse_transform``: finite, shape (n_samples, n_components).

    Returns them as an array of ``dtype`` (no copy when already right).
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != n_components:
        raise ValueError(
            f"expected codes of shape (n_samples, {n_components}), got an array of "
            f"shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.number) or not np.all(np.isfinite(codes)):
        raise ValueError("codes must be finite numbers, got NaN, infinite or "
                         f"non-numeric values (dtype {codes.dtype})")
    return codes.astype(dtype, copy=False)


def check_source(estimator, X, reset):
    """The source of an input read by blocks (``nimf.sources.as_source``), its
    shape checked: at least one sample and one feature, and, unless ``reset``,
    the number of features the estimator was fitted with."""
    from .sources import as_source

    source = as_source(X)
    n, p = source.shape
    if n < 1 or p < 1:
        raise ValueError(f"X must have at least 1 sample and 1 feature, got shape {(n, p)}")
    if not reset and p != estimator.n_features_in_:
        raise ValueError(f"X has {p} features, but {type(estimator).__name__} is expecting "
                         f"{estimator.n_features_in_} features as input")
    return source
