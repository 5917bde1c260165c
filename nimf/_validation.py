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
    codes = _as_numeric(codes, "codes", f"an array of shape (n_samples, {n_components})")
    if codes.ndim != 2 or codes.shape[1] != n_components:
        raise ValueError(
            f"expected codes of shape (n_samples, {n_components}), got an array of "
            f"shape {codes.shape}")
    codes = codes.astype(dtype, copy=False)
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes must be finite numbers, got NaN or infinite values "
                         f"({int(np.sum(~np.isfinite(codes)))} entries)")
    return codes


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


# ---------------------------------------------------------------- arrays
# Every public entry point taking a data matrix checks it here, before any
# work: the messages name the input, what was expected and what was given.
# (Where scikit-learn's estimator checks look for words of their own, the
# messages contain them too: "Complex data not supported", "Reshape your data",
# "0 feature(s) (shape=...) while a minimum of 1 is required", "NaN", "inf".)

class NonFiniteResultError(ValueError):
    """A computation overflowed or diverged: its result holds NaN or infinite values."""


def _type_name(value):
    return type(value).__name__


def _first_bad(mask):
    """Index (tuple) of the first True entry of ``mask``."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _row_lengths(value):
    lengths = []
    for row in value:
        try:
            lengths.append(len(row))
        except TypeError:
            lengths.append(None)
    return lengths


def _as_numeric(X, name, what):
    """``X`` as a float array, or a ValueError/TypeError saying what is wrong with it."""
    import scipy.sparse as sp

    if X is None or isinstance(X, (str, bytes, dict, set, frozenset)) or callable(X):
        raise TypeError(f"{name} must be {what}, got {_type_name(X)} {X!r:.60}")
    if sp.issparse(X):
        raise TypeError(f"{name} must be {what}, got a scipy sparse matrix of shape "
                        f"{X.shape}: Sparse data is not supported, pass {name}.toarray()")
    if not hasattr(X, "__array__") and not hasattr(X, "__len__"):
        raise TypeError(f"{name} must be {what}, got {_type_name(X)} {X!r:.60}")
    if hasattr(X, "dtypes") and hasattr(X, "to_numpy"):  # a DataFrame
        X = X.to_numpy()
    try:
        arr = np.asarray(X)
    except ValueError:
        lengths = _row_lengths(X) if hasattr(X, "__iter__") else []
        raise ValueError(f"{name} must be {what}: a rectangular array, got a ragged "
                         f"sequence (rows of lengths {lengths[:6]})") from None
    except TypeError as exc:
        raise TypeError(f"{name} must be {what}, got {_type_name(X)} that numpy cannot "
                        f"read as an array ({exc})") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise ValueError(f"{name} must hold real numbers: Complex data not supported, got "
                         f"dtype {arr.dtype}")
    if kind in "OUSV":
        flat = arr.ravel()
        for index, value in enumerate(flat):
            if isinstance(value, (bool, np.bool_)):
                continue
            if isinstance(value, (int, float, np.integer, np.floating)):
                continue
            if isinstance(value, (complex, np.complexfloating)):
                raise ValueError(f"{name} must hold real numbers: Complex data not "
                                 f"supported, got {value!r}")
            where = np.unravel_index(index, arr.shape) if arr.ndim else ()
            where = tuple(int(i) for i in where)
            if isinstance(value, (str, bytes, np.str_, np.bytes_)):
                try:
                    float(value)
                    continue
                except ValueError:
                    text = (value.decode(errors="replace") if isinstance(value, bytes)
                            else str(value))
                    raise ValueError(f"{name} must hold numbers, got text {text!r:.40} at "
                                     f"position {where} (dtype {arr.dtype})") from None
            raise TypeError(f"{name} must hold numbers: float() argument must be a string "
                            f"or a real number, got {_type_name(value)} {value!r:.40} at "
                            f"position {where}")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:  # pragma: no cover (caught above)
            raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype} ({exc})") \
                from None
    elif kind in "mM":
        raise TypeError(f"{name} must hold numbers, got dates or durations (dtype "
                        f"{arr.dtype})")
    elif kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def check_finite_values(X, name, *, start=0):
    """Raise if ``X`` holds NaN or infinite values (naming how many and where)."""
    total = X.sum(dtype=np.float64) if X.size else 0.0
    if np.isfinite(total):
        return
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    n_nan = int(np.isnan(X).sum())
    n_inf = int(bad.sum()) - n_nan
    parts = [f"{n_nan} NaN" if n_nan else "",
             f"{n_inf} infinite value{'s' if n_inf > 1 else ''}" if n_inf else ""]
    if X.ndim == 2:
        rows = np.flatnonzero(bad.any(axis=1)) + start
        shown = ", ".join(str(int(r)) for r in rows[:5])
        where = (f"in row{'s' if rows.size > 1 else ''} {shown}"
                 + (f" and {rows.size - 5} more" if rows.size > 5 else ""))
    else:
        where = f"first at position {_first_bad(bad)}"
    counts = " and ".join(part for part in parts if part)
    raise ValueError(f"{name} contains NaN or infinite values ({counts}, {where}); remove "
                     "or impute them before fitting")


def check_magnitude(X, name):
    """Raise if the squared norm of ``X`` overflows its float type (a sign the data
    need scaling: the factorizations' sums of squares and products would overflow)."""
    if not X.size or X.dtype.kind != "f":
        return
    largest = max(abs(float(X.max())), abs(float(X.min())))
    limit = float(np.finfo(X.dtype).max)
    if largest == 0 or largest * largest * X.size <= limit:
        return
    scaled = X / X.dtype.type(largest)
    if float(np.sum(scaled.astype(np.float64) ** 2)) * largest <= limit / largest:
        return
    raise ValueError(
        f"{name} has values too large for {X.dtype} arithmetic (largest |value| "
        f"{largest:.3g}: its sum of squares overflows); scale your data, e.g. divide "
        f"{name} by its largest absolute value")


def check_matrix(X, name="X", *, min_samples=1, min_features=1, finite=True,
                 dtype=(np.float64, np.float32)):
    """``X`` as a 2D float array (float32 kept), checked before any work.

    Refuses, with a ValueError or TypeError naming ``name``: objects that are not
    array-like, ragged sequences, text and other non-numbers, complex numbers,
    arrays of another dimension, fewer than ``min_samples`` rows or
    ``min_features`` columns, NaN or infinite values (when ``finite``) and values
    so large that their sum of squares overflows.
    """
    what = "an array-like of shape (n_samples, n_features)"
    arr = _as_numeric(X, name, what)
    if arr.ndim != 2:
        if arr.ndim == 0:
            given = f"a scalar ({arr.item()!r:.40})"
        else:
            given = f"a {arr.ndim}D array of shape {arr.shape}"
        hint = ""
        if arr.ndim == 1:
            hint = (f". Reshape your data: {name}.reshape(-1, 1) if it has a single "
                    f"feature, {name}.reshape(1, -1) if it is a single sample")
        raise ValueError(f"{name} must be a 2D array of shape (n_samples, n_features), got "
                         f"{given}{hint}")
    n, p = arr.shape
    if n < min_samples:
        raise ValueError(f"{name} must have at least {min_samples} sample(s), got {n} "
                         f"sample(s) (shape={arr.shape}) while a minimum of {min_samples} "
                         f"is required.")
    if p < min_features:
        raise ValueError(f"{name} must have at least {min_features} feature(s), got {p} "
                         f"feature(s) (shape={arr.shape}) while a minimum of {min_features} "
                         f"is required.")
    if arr.dtype not in dtype:
        arr = arr.astype(dtype[0])
    if finite:
        if arr.flags.c_contiguous and arr.dtype in (np.float32, np.float64):
            # one compiled read for both checks; the slower checks below only
            # run to describe a problem found
            from ._kernels.checks import scan_rows

            first, sumsq = scan_rows(arr, 0, n)
            if first < 0 and sumsq <= float(np.finfo(arr.dtype).max):
                return arr
        check_finite_values(arr, name)
        check_magnitude(arr, name)
    return arr


def validate_matrix(estimator, X, reset, name="X", **kwargs):
    """:func:`check_matrix`, then scikit-learn's bookkeeping (``n_features_in_``,
    feature names) through ``validate_data``; returns a C-ordered float array."""
    from sklearn.utils.validation import validate_data

    checked = check_matrix(X, name, **kwargs)
    # the DataFrame (or list) goes to validate_data for its feature names
    source = X if hasattr(X, "columns") else checked
    return validate_data(estimator, source, dtype=[np.float64, np.float32], order="C",
                         reset=reset, ensure_min_samples=1, ensure_min_features=1,
                         ensure_all_finite=False)


def check_finite_result(owner, values, hint):
    """Raise :class:`NonFiniteResultError` when a result holds NaN or infinite values.

    ``values`` maps the names of the results to arrays (or floats); ``hint`` says
    what to do ("scale your data", "lower learning_rate").
    """
    for key, value in values.items():
        value = np.asarray(value)
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            count = int(np.sum(~np.isfinite(value)))
            raise NonFiniteResultError(
                f"{owner} diverged or overflowed: {key} holds {count} NaN or infinite "
                f"values; {hint}")


# ------------------------------------------------------------ parameters
class Constraint:
    """A check of one parameter: ``constraint(value, name)`` returns the value
    (normalised) or raises a ValueError/TypeError naming ``name``."""

    def __call__(self, value, name):  # pragma: no cover
        raise NotImplementedError


class Int(Constraint):
    def __init__(self, low=None, high=None, *, none=False):
        self.low, self.high, self.none = low, high, none

    def __call__(self, value, name):
        return check_int(value, name, min_val=self.low, max_val=self.high,
                         allow_none=self.none)


class Real(Constraint):
    """A finite real in an interval; ``closed`` in 'both', 'left', 'right', 'neither'."""

    def __init__(self, low=None, high=None, closed="both", *, none=False):
        self.low, self.high, self.closed, self.none = low, high, closed, none

    def __call__(self, value, name):
        if value is None and self.none:
            return None
        return check_float(value, name, low=self.low, high=self.high,
                           low_open=self.closed in ("right", "neither"),
                           high_open=self.closed in ("left", "neither"))


class Options(Constraint):
    def __init__(self, *options):
        self.options = options

    def __call__(self, value, name):
        return check_option(value, name, self.options)


class Bool(Constraint):
    def __call__(self, value, name):
        return check_bool(value, name)


class Shape(Constraint):
    """A tuple of ``ndim`` positive ints."""

    def __init__(self, ndim):
        self.ndim = ndim

    def __call__(self, value, name):
        if (not isinstance(value, (tuple, list)) or len(value) != self.ndim
                or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                           and v >= 1 for v in value)):
            raise ValueError(f"{name} must be a tuple of {self.ndim} positive ints, got "
                             f"{_describe(value)}")
        return tuple(int(v) for v in value)


class AnyOf(Constraint):
    """The first of several constraints that accepts the value."""

    def __init__(self, *constraints, description):
        self.constraints, self.description = constraints, description

    def __call__(self, value, name):
        for constraint in self.constraints:
            try:
                return constraint(value, name)
            except (TypeError, ValueError):
                continue
        raise ValueError(f"{name} must be {self.description}, got {_describe(value)}")


def validate_params(**constraints):
    """Decorator: check the named arguments of a public function before it runs.

    ``constraints`` maps argument names to :class:`Constraint` objects (or any
    callable ``(value, name) -> value``); the function receives the normalised
    values.
    """
    import functools
    import inspect

    def decorate(function):
        signature = inspect.signature(function)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:  # pragma: no cover (a programming error)
            raise TypeError(f"no parameters {sorted(unknown)} in {function.__name__}")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for key, check in constraints.items():
                bound.arguments[key] = check(bound.arguments[key], key)
            return function(*bound.args, **bound.kwargs)

        wrapper.__nimf_constraints__ = constraints
        return wrapper

    return decorate
