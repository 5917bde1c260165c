"""Sphinx configuration of the nimf documentation.

Build it with ``python -m sphinx -b html -W docs docs/_build/html``.

Two environment variables (or ``-D`` options) make the build fit a machine:

- ``NIMF_DOCS_PLOT_GALLERY=0`` (or ``-D plot_gallery=0``) renders the gallery
  pages without executing the tutorials (the test suite executes them anyway);
- ``NIMF_DOCS_GALLERY_PATTERN=REGEX`` executes only the tutorials whose path
  matches (the others are rendered without running them);
- ``NIMF_DOCS_INTERSPHINX=0`` skips the links to nilearn, scikit-learn, numpy
  and scipy.  Otherwise each inventory is downloaded once into
  ``docs/_build/intersphinx/`` and a project whose inventory can be neither
  downloaded nor found there is left out (offline builds stay free of
  warnings; its names are then printed without links).
"""
import importlib.util
import os
import shutil
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the checkout whose tutorials make the gallery (tests build a copy of docs/ elsewhere)
ROOT = Path(os.environ.get("NIMF_DOCS_PROJECT_ROOT", HERE.parent)).resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "sphinxext"))

import nimf  # noqa: E402
from nimf_api import write_api_page  # noqa: E402

# the API page lists every public name (``__all__``) of the modules below
write_api_page(HERE / "api.rst")

project = "nimf"
author = "The nimf developers"
copyright = "2026, The nimf developers"
version = release = nimf.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "sphinxarg.ext",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "sphinxext",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = ["_templates"]
# "--out" in the command-line reference stays two hyphens
smartquotes = False

# -- Markdown pages -------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- API reference ----------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
# types in parameter lists link to their documentation. Only Python-object roles here (an
# object missing from the inventories is printed unlinked, silently), in place of numpydoc's
# defaults that use :term: and :ref: (which warn when an inventory is missing)
numpydoc_xref_aliases = {
    **{name: name for name in ("None", "True", "False", "int", "float", "str", "list", "tuple",
                               "dict", "callable")},
    "string": "str", "bool": "bool", "boolean": "bool",
    "contextmanager": "contextlib.contextmanager", "namedtuple": "collections.namedtuple",
    "iterable": "collections.abc.Iterable", "sequence": "collections.abc.Sequence",
    "generator": "collections.abc.Generator",
    "array-like": "numpy.typing.ArrayLike", "array_like": "numpy.typing.ArrayLike",
    "scalar": "numpy.generic",
    "ndarray": "numpy.ndarray", "DataFrame": "pandas.DataFrame",
    "SurfaceImage": "nilearn.surface.SurfaceImage", "Generator": "numpy.random.Generator",
    "RandomState": "numpy.random.RandomState", "MaskedStudy": "nimf.neuro.MaskedStudy",
}
numpydoc_xref_ignore = {"of", "or", "shape", "default", "optional", "and", "the", "a", "an",
                        "in", "to", "with", "by", "for", "from", "object", "path"}



def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's metadata-routing setters (set_fit_request, ...) are generated on every
    # estimator; they are scikit-learn's, documented there
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


# -- Maths, offline ------------------------------------------------------------------
# MathJax 3 ships inside the ``sphinx-mathjax-offline`` package (the ``docs`` extra): its
# files are copied next to the pages, so that formulas render without a network (a
# workshop room, a laptop on a train). Only the TeX-to-HTML bundle and the parts it loads
# on demand are copied (fonts, TeX extensions, menu and accessibility, ~9 MB).
_MATHJAX_PACKAGE = "sphinx-mathjax-offline"
_MATHJAX_PARTS = ("tex-chtml.js", "input", "output", "a11y", "ui", "sre")
mathjax_path = "mathjax/tex-chtml.js"


def _mathjax_source():
    spec = importlib.util.find_spec(_MATHJAX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the documentation renders its maths offline with MathJax from the Python "
            f"package {_MATHJAX_PACKAGE!r}, which is not installed: pip install '.[docs]'")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source = _mathjax_source()
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in _MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    _mathjax_source()  # fail at the start of a build, not after it
    app.connect("build-finished", _copy_mathjax)


# -- Gallery --------------------------------------------------------------------
_plot_gallery = os.environ.get("NIMF_DOCS_PLOT_GALLERY", "1").lower() not in ("0", "false", "no")
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "tutorials"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": os.environ.get("NIMF_DOCS_GALLERY_PATTERN", r"/plot_"),
    "plot_gallery": _plot_gallery,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("nimf",),
    "backreferences_dir": "generated/backreferences",
}

# -- Links to the ecosystem -------------------------------------------------------
_INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "sklearn": "https://scikit-learn.org/stable/",
    "nilearn": "https://nilearn.github.io/stable/",
    "matplotlib": "https://matplotlib.org/stable/",
}


def _intersphinx_mapping():
    """Local copies of the inventories that can be had; never a failing fetch."""
    if os.environ.get("NIMF_DOCS_INTERSPHINX", "1").lower() in ("0", "false", "no"):
        return {}
    cache = HERE / "_build" / "intersphinx"
    mapping = {}
    for name, url in _INVENTORIES.items():
        local = cache / f"{name}.inv"
        if not local.exists():
            try:
                with urllib.request.urlopen(url + "objects.inv", timeout=10) as response:
                    data = response.read()
            except Exception:  # offline, or the site is down: no links to it
                print(f"intersphinx: {name} inventory not available, its names are not linked")
                continue
            cache.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
        mapping[name] = (url, str(local))
    return mapping


intersphinx_mapping = _intersphinx_mapping()

# -- HTML -------------------------------------------------------------------------
html_theme = "furo"
html_title = f"nimf {release}"
html_static_path = []
html_show_sourcelink = False
