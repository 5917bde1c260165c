"""nimf: fast matrix factorization for neuroimaging and recommender systems.

The top-level import is deliberately light: subpackages (``nimf.decomposition``,
``nimf.datasets``, ...) are imported on first access, and no plotting or widget
library is imported here.
"""

import importlib

__version__ = "0.1.0.dev0"

_SUBMODULES = ("decomposition", "datasets", "neuro", "assessment", "ratings", "tensor", "cli",
               "widgets")

_FUNCTIONS = {"save_model": "nimf._persist", "load_model": "nimf._persist"}

__all__ = list(_SUBMODULES) + list(_FUNCTIONS) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"nimf.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'nimf' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
