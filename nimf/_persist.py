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
import numbers
import os
import warnings

import numpy as np

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
        to a temporary name first and renamed, so an existing file is never
        left half written.

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
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, __header__=np.array(json.dumps(header)), **arrays)
    os.replace(tmp, path)
    return path


def load_model(path):
    """Load an estimator saved by :func:`save_model` (no code is executed).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator : nimf estimator
        Fitted, and able to resume ``partial_fit`` where it stopped.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"no model file at {path!r}")
    with np.load(path, allow_pickle=False) as data:
        if "__header__" not in data.files:
            raise ValueError(f"{path!r} is not a nimf model file (no header)")
        header = json.loads(str(data["__header__"]))
        arrays = {key: data[key] for key in data.files if key != "__header__"}
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"unsupported nimf model format {header.get('format')!r}, expected {FORMAT_VERSION}")
    if header.get("cls") not in _REGISTRY:
        raise ValueError(f"unknown estimator class {header.get('cls')!r} in {path!r}")
    module, attr = _REGISTRY[header["cls"]]
    cls = getattr(importlib.import_module(module), attr)
    params = dict(header["params"])
    for key, value in arrays.items():
        if key.startswith("param__"):
            params[key[len("param__"):]] = value
    estimator = cls(**params)
    for key, value in header["fitted"].items():
        setattr(estimator, key, value)
    state_arrays = {}
    for key, value in arrays.items():
        if key.startswith("attr__"):
            setattr(estimator, key[len("attr__"):], value)
        elif key.startswith("state__"):
            state_arrays[key[len("state__"):]] = value
    if hasattr(estimator, "_set_persistent_state") and header.get("state"):
        estimator._set_persistent_state(state_arrays, header["state"])
    return estimator
