"""Saving and loading fitted estimators without pickle.

A model is written as one ``.npz`` file holding plain arrays and a JSON
header: the estimator's class (looked up in a fixed registry of nimf classes,
never imported from a name found in the file), its parameters, its fitted
attributes and, where the estimator supports it, the state needed to resume
``partial_fit`` exactly.  Loading uses ``allow_pickle=False``, so a model file
cannot execute code.
"""

import importlib
import json
import math
import struct
import numbers
import os
import warnings

import numpy as np

from ._files import write_atomically

__all__ = ["save_model", "load_model"]

FORMAT_VERSION = 1

# name in the file -> (module, class).  Only these can be loaded.
_REGISTRY = {
    "OnlineDictionaryLearning": ("nimf.decomposition.online", "OnlineDictionaryLearning"),
    "SparsePCA": ("nimf.decomposition.sparse_pca", "SparsePCA"),
    "NMF": ("nimf.decomposition.nmf", "NMF"),
    "MatrixCompletion": ("nimf.ratings.completion", "MatrixCompletion"),
    "CPDecomposition": ("nimf.tensor.cp", "CPDecomposition"),
}


def _class_name(estimator):
    for name, (module, attr) in _REGISTRY.items():
        if type(estimator).__module__ == module and type(estimator).__name__ == attr:
            return name
    raise ValueError(
        f"save_model supports the nimf estimators {sorted(_REGISTRY)}, got "
        f"{type(estimator).__name__}")


def _jsonable(value):
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, numbers.Number):
        return np.isfinite(value) if isinstance(value, float) else True
    return False


def save_model(estimator, path):
    """Save a fitted nimf estimator to ``path`` (a ``.npz`` file).

    Parameters
    ----------
    estimator : nimf estimator
        A fitted estimator (for instance ``OnlineDictionaryLearning``).
    path : str or path-like
        Destination.  ``.npz`` is appended if missing.  The file is written
        to a temporary file in the same folder first and renamed when complete,
        so an existing file is never left half written, and a failed write
        leaves no temporary file behind.

    Returns
    -------
    path : str
        The path written.

    Notes
    -----
    A ``callback`` parameter is not saved (it is code); the loaded estimator
    has ``callback=None``.
    """
    name = _class_name(estimator)
    if not hasattr(estimator, getattr(estimator, "_fitted_marker", "components_")):
        raise ValueError(f"save_model expects a fitted estimator; this {name} is not fitted")
    arrays = {}
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key == "callback":
            if value is not None:
                warnings.warn("the callback is not saved; the loaded model has callback=None",
                              UserWarning, stacklevel=2)
            params[key] = None
        elif isinstance(value, np.ndarray):
            arrays[f"param__{key}"] = value
        elif key == "random_state" and isinstance(value, np.random.RandomState):
            params[key] = None
        elif _jsonable(value):
            params[key] = value.item() if isinstance(value, np.generic) else value
        else:
            raise ValueError(f"parameter {key}={value!r} cannot be saved")
    fitted = {}
    for key, value in vars(estimator).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                continue  # the estimator's _get_persistent_state stores these
            arrays[f"attr__{key}"] = value
        elif _jsonable(value):
            fitted[key] = value.item() if isinstance(value, np.generic) else value
    state = {}
    if hasattr(estimator, "_get_persistent_state"):
        extra_arrays, state = estimator._get_persistent_state()
        arrays.update({f"state__{k}": v for k, v in extra_arrays.items()})
    header = dict(format=FORMAT_VERSION, cls=name, params=params, fitted=fitted, state=state)
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    # a temporary file beside, renamed when complete (and removed if the write fails)
    write_atomically(path, lambda handle: np.savez_compressed(
        handle, __header__=np.array(json.dumps(header)), **arrays))
    return path


# The arrays of each model: key in the file -> (shape, kind, required).  Letters
# in a shape are sizes that must agree across the arrays of one file (k
# components, p features, u users, i items, ...); kinds: "f" finite floats, "i"
# integers, "v" ids (numbers or text).
_ARRAYS = {
    "OnlineDictionaryLearning": {
        "attr__components_": (("k", "p"), "f", True),
        "state__D": (("k", "p"), "f", False), "state__S": (("k", "k"), "f", False),
        "state__B": (("k", "p"), "f", False), "state__G": (("k", "k"), "f", False),
        "state__norms": (("k",), "f", False), "state__feature_counts": (("p",), "i", False),
        "state__sample_counts": (("m",), "i", False),
        "state__beta_avg": (("a", "k"), "f", False), "state__codes": (("c", "k"), "f", False),
        "state__feature_map": (("p",), "i", False), "state__storage_cols": (("s",), "i", False),
    },
    "NMF": {
        "attr__components_": (("k", "p"), "f", True),
        "state__stats_A": (("k", "a"), "f", False), "state__stats_B": (("k", "p"), "f", False),
    },
    "SparsePCA": {
        "attr__components_": (("k", "p"), "f", True), "attr__mean_": (("p",), "f", True),
    },
    "CPDecomposition": {
        "attr__weights_": (("k",), "f", True), "attr__errors_": (("e",), "f", False),
        # one factor per mode: "state__factor_<mode>" (added per file, see _cp_spec)
    },
    "MatrixCompletion": {
        "attr__user_factors_": (("u", "k"), "f", True),
        "attr__item_factors_": (("i", "k"), "f", True),
        "attr__user_bias_": (("u",), "f", True), "attr__item_bias_": (("i",), "f", True),
        "attr__user_ids_": (("u",), "v", False), "attr__item_ids_": (("i",), "v", False),
        "state__seen_indptr": (("u+1",), "i", True), "state__seen_indices": (("r",), "i", True),
        "state__seen_data": (("r",), "f", True),
        "state__user_ids": (("u",), "v", True), "state__item_ids": (("i",), "v", True),
    },
}
# what each estimator needs in the header's "state" (checked before it is used)
_STATE_SCALARS = {
    "OnlineDictionaryLearning": {"n_samples_seen": int, "entropy": int, "n_steps": int,
                                 "n_iter": int, "n_reinit": int, "block_size": int,
                                 "reduction": float},
    "MatrixCompletion": {"rating_scale": list, "history": list, "n_items": int,
                         "user_ids_kind": str, "item_ids_kind": str},
    "NMF": {}, "SparsePCA": {}, "CPDecomposition": {"n_modes": int, "shape": list},
}
_PICKLE = ("holds Python objects (a pickle); nimf model files hold plain arrays only and "
           "are never unpickled")


def _bad(path, what):
    return ValueError(f"{path!r} is not a valid nimf model file: {what}")


def _read_npy_header(handle):
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(handle)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(handle)
    raise ValueError(f"unsupported .npy format version {version}")


def _read_arrays(path):
    """Every array of the archive at ``path``, each header checked before its data
    are read: an array of Python objects (a pickle) is refused unread."""
    import zipfile
    import zlib

    if os.path.getsize(path) == 0:
        raise _bad(path, "the file is empty")
    # what zipfile, zlib and numpy raise on damaged archives (NotImplementedError:
    # an unknown zip version or compression; RuntimeError: an encrypted member)
    errors = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError,
              NotImplementedError, RuntimeError, OverflowError, struct.error)
    try:
        archive = zipfile.ZipFile(path)
    except errors:
        raise _bad(path, "it is not a complete .npz archive (truncated, corrupted or "
                         "another kind of file)") from None
    with archive:
        # every header first: an array of objects is refused before any data are read
        for member in archive.namelist():
            key = member[:-4] if member.endswith(".npy") else member
            if not member.endswith(".npy"):
                raise _bad(path, f"it holds {member!r}, which is not an array")
            try:
                with archive.open(member) as handle:
                    shape, _, dtype = _read_npy_header(handle)
                    declared = math.prod(shape) * dtype.itemsize + handle.tell()
                if declared > archive.getinfo(member).file_size:
                    raise ValueError(f"its header announces {declared} bytes, the archive "
                                     f"holds {archive.getinfo(member).file_size}")
            except errors as exc:
                raise _bad(path, f"the array {key!r} is damaged ({type(exc).__name__}: "
                                 f"{exc})") from None
            if dtype.hasobject:
                raise _bad(path, f"the array {key!r} {_PICKLE}")
    arrays = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            try:
                arrays[key] = data[key]
            except errors as exc:
                raise _bad(path, f"the array {key!r} is damaged ({type(exc).__name__}: "
                                 f"{exc})") from None
    return arrays


def _read_header(path, arrays):
    if "__header__" not in arrays:
        raise _bad(path, "it has no nimf header (is it a model saved by nimf.save_model?)")
    raw = arrays.pop("__header__")
    if raw.shape != () or raw.dtype.kind != "U":
        raise _bad(path, f"its header must be a JSON text, got an array of shape {raw.shape} "
                         f"and dtype {raw.dtype}")
    try:
        header = json.loads(str(raw))
    except ValueError as exc:
        raise _bad(path, f"its header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _bad(path, f"its header must be a JSON object, got {type(header).__name__}")
    if header.get("format") != FORMAT_VERSION:
        raise _bad(path, f"unsupported nimf model format {header.get('format')!r}, expected "
                         f"{FORMAT_VERSION}")
    name = header.get("cls")
    if not isinstance(name, str) or name not in _REGISTRY:
        raise _bad(path, f"unknown estimator class {name!r}; nimf loads "
                         f"{sorted(_REGISTRY)}")
    for key in ("params", "fitted", "state"):
        if not isinstance(header.get(key), dict):
            raise _bad(path, f"the header's {key!r} must be a JSON object, got "
                             f"{type(header.get(key)).__name__}")
    return header


def _cp_spec(path, arrays):
    """The arrays of a CP model: its weights and one factor per mode, numbered from 0."""
    spec = dict(_ARRAYS["CPDecomposition"])
    modes = sorted(key for key in arrays if key.startswith("state__factor_"))
    n_modes = len(modes)
    expected = [f"state__factor_{m}" for m in range(n_modes)]
    if n_modes < 3 or sorted(expected) != modes:
        raise _bad(path, f"a CPDecomposition holds one factor per mode (at least 3, "
                         f"state__factor_0, state__factor_1, ...), got {modes}")
    for m in range(n_modes):
        spec[f"state__factor_{m}"] = ((f"i{m}", "k"), "f", True)
    return spec


def _check_arrays(path, name, arrays):
    """Shapes that agree, numeric kinds and finite values, for every array."""
    spec = _cp_spec(path, arrays) if name == "CPDecomposition" else _ARRAYS[name]
    sizes = {}
    for key in arrays:
        if key.startswith("param__"):
            continue
        if key not in spec:
            raise _bad(path, f"the header names the class {name}, but the file holds the "
                             f"array {key!r}, which a {name} does not have (expected "
                             f"{sorted(spec)})")
    for key, (shape, kind, required) in spec.items():
        if key not in arrays:
            if required:
                raise _bad(path, f"the array {key!r} of a {name} is missing")
            continue
        value = arrays[key]
        if value.ndim != len(shape):
            raise _bad(path, f"the array {key!r} must have {len(shape)} dimension(s), got "
                             f"shape {value.shape}")
        for symbol, size in zip(shape, value.shape):
            offset = 1 if symbol.endswith("+1") else 0
            symbol = symbol[:-2] if offset else symbol
            expected = sizes.setdefault(symbol, size - offset)
            if size - offset != expected:
                raise _bad(path, f"the array {key!r} has shape {value.shape}, which does not "
                                 f"match the other arrays ({symbol} = {expected})")
        if kind == "f":
            if value.dtype.kind != "f":
                raise _bad(path, f"the array {key!r} must hold floats, got dtype {value.dtype}")
            if not np.all(np.isfinite(value)):
                raise _bad(path, f"the array {key!r} holds "
                                 f"{int(np.sum(~np.isfinite(value)))} NaN or infinite values")
        elif kind == "i" and value.dtype.kind not in "iu":
            raise _bad(path, f"the array {key!r} must hold integers, got dtype {value.dtype}")
        elif kind == "v" and value.dtype.kind not in "iufU":
            raise _bad(path, f"the array {key!r} must hold ids (numbers or text), got dtype "
                             f"{value.dtype}")
    return sizes


def _check_scalars(path, name, header, sizes):
    for key, value in header["fitted"].items():
        if not (isinstance(key, str) and key.endswith("_")) or not (
                value is None or isinstance(value, (bool, int, float, str))):
            raise _bad(path, f"the fitted attribute {key!r} must be a number, text or "
                             f"null, got {value!r:.40}")
    for key, symbol in (("n_features_in_", "p"), ("n_components_", "k")):
        value = header["fitted"].get(key)
        if value is not None and symbol in sizes and value != sizes[symbol]:
            raise _bad(path, f"{key} is {value!r}, but the arrays have {sizes[symbol]}")
    state = header["state"]
    if not state:
        return
    for key, kind in _STATE_SCALARS[name].items():
        value = state.get(key)
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
                and np.isfinite(value)
        if not ok:
            raise _bad(path, f"the saved state's {key!r} must be a {kind.__name__}, got "
                             f"{value!r:.40}")
    if name == "CPDecomposition":
        n_modes = sum(1 for symbol in sizes if symbol.startswith("i"))
        shape = [sizes[f"i{m}"] for m in range(n_modes)]
        if state["n_modes"] != n_modes or state["shape"] != shape:
            raise _bad(path, f"the saved shape {state['shape']!r:.60} and number of modes "
                             f"{state['n_modes']!r} do not match the factors (shape "
                             f"{shape})")
    if name == "MatrixCompletion":
        scale = state["rating_scale"]
        if len(scale) != 2 or not all(isinstance(v, (int, float)) and np.isfinite(v)
                                      for v in scale) or scale[0] > scale[1]:
            raise _bad(path, f"the rating scale must be [low, high], got {scale!r:.40}")
        for which in ("user", "item"):
            if state[f"{which}_ids_kind"] not in ("str", "int", "array"):
                raise _bad(path, f"unknown {which} id kind {state[f'{which}_ids_kind']!r}")
        selection = state.get("selection")
        if selection is not None and not isinstance(selection, dict):
            raise _bad(path, f"the record of the rank and penalty selection must be a "
                             f"mapping or null, got {selection!r:.40}")
        if state["n_items"] != sizes.get("i"):
            raise _bad(path, f"n_items is {state['n_items']}, but the arrays have "
                             f"{sizes.get('i')} items")


def _check_ratings_pattern(path, arrays, sizes):
    indptr = arrays["state__seen_indptr"]
    indices = arrays["state__seen_indices"]
    if indptr[0] != 0 or indptr[-1] != indices.size or np.any(np.diff(indptr) < 0):
        raise _bad(path, "the training pattern (seen_indptr) is not a valid CSR index")
    if indices.size and (indices.min() < 0 or indices.max() >= sizes["i"]):
        raise _bad(path, f"the training pattern refers to items outside [0, {sizes['i']})")


def load_model(path):
    """Load an estimator saved by :func:`save_model` (no code is executed).

    Every array is checked (shape, consistency with the others, dtype, finite
    values) before a model is returned; a file that is empty, truncated,
    corrupted, of another kind, or whose header or arrays do not describe a nimf
    model raises a ValueError naming the file and what is wrong.  Arrays of
    Python objects (pickles) are refused without being read.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator : nimf estimator
        Fitted, and able to resume ``partial_fit`` where it stopped.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"no model file at {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, expected a model file (.npz)")
    arrays = _read_arrays(path)
    header = _read_header(path, arrays)
    name = header["cls"]
    module, attr = _REGISTRY[name]
    cls = getattr(importlib.import_module(module), attr)
    sizes = _check_arrays(path, name, arrays)
    _check_scalars(path, name, header, sizes)
    if name == "MatrixCompletion":
        _check_ratings_pattern(path, arrays, sizes)
    params = dict(header["params"])
    for key, value in arrays.items():
        if key.startswith("param__"):
            params[key[len("param__"):]] = value
    known = set(cls().get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        raise _bad(path, f"the header names the class {name}, but {unknown} are not "
                         f"parameters of {name}")
    estimator = cls(**params)
    try:
        if name == "SparsePCA":
            estimator._check_params(sizes["p"])
        else:
            estimator._check_params()
    except (TypeError, ValueError) as exc:
        raise _bad(path, f"invalid parameters of {name}: {exc}") from None
    k = params.get("n_components")
    if name == "MatrixCompletion" and k == "auto":
        # the rank the fit chose
        k = header["fitted"].get("n_components_", sizes["k"])
    if name == "MatrixCompletion" and k != sizes["k"]:
        raise _bad(path, f"n_components is {k!r}, but the factors have {sizes['k']} columns")
    for key, value in header["fitted"].items():
        setattr(estimator, key, value)
    state_arrays = {}
    for key, value in arrays.items():
        if key.startswith("attr__"):
            setattr(estimator, key[len("attr__"):], value)
        elif key.startswith("state__"):
            state_arrays[key[len("state__"):]] = value
    if hasattr(estimator, "_set_persistent_state") and header.get("state"):
        try:
            estimator._set_persistent_state(state_arrays, header["state"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(path, f"the saved state of the {name} is incomplete or damaged "
                             f"({type(exc).__name__}: {exc})") from None
    return estimator
