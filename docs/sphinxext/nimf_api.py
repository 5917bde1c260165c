"""Write ``docs/api.rst`` from the ``__all__`` of nimf's public modules.

Every public class and function gets its own page (autosummary), so a name
added to a module's ``__all__`` appears in the reference without editing it.
"""
import importlib
import inspect

MODULES = [
    ("nimf", "Saving and loading models"),
    ("nimf.decomposition", "Array learners"),
    ("nimf.neuro", "Image estimators (nilearn)"),
    ("nimf.tensor", "Tensor decomposition"),
    ("nimf.ratings", "Ratings and recommendation"),
    ("nimf.assessment", "Model assessment"),
    ("nimf.datasets", "Data sets"),
    ("nimf.plotting", "Figures and reports"),
    ("nimf.widgets", "Notebook viewers"),
    ("nimf.sources", "Data sources, samplers and checkpoints"),
]


def public_names(module_name):
    """The public classes and functions of a module, as (kind, name) pairs."""
    module = importlib.import_module(module_name)
    names = []
    for name in module.__all__:
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            continue
        kind = "class" if inspect.isclass(obj) else "function"
        names.append((kind, name))
    return names


def render():
    lines = [
        ".. _api:",
        "",
        "API reference",
        "=============",
        "",
        "Every public class and function of nimf, by module. The estimators follow the",
        "scikit-learn contract; the image estimators follow nilearn's.",
        "",
    ]
    for module_name, title in MODULES:
        heading = f"``{module_name}``: {title}"
        lines += [heading, "-" * len(heading), "",
                  f".. automodule:: {module_name}", "   :no-members:",
                  ""]
        lines += [f".. currentmodule:: {module_name}", ""]
        names = public_names(module_name)
        for kind, template in (("class", "class.rst"), ("function", "function.rst")):
            chosen = [name for k, name in names if k == kind]
            if not chosen:
                continue
            lines += [f"**{'Classes' if kind == 'class' else 'Functions'}**", "",
                      ".. autosummary::", "   :toctree: generated/",
                      f"   :template: autosummary/{template}", "   :nosignatures:", ""]
            lines += [f"   {name}" for name in chosen] + [""]
    return "\n".join(lines) + "\n"


def write_api_page(path):
    text = render()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
