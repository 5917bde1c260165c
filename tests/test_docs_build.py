"""The documentation site builds with warnings as errors, so the docs never break.

The build runs on a copy of ``docs/`` in a temporary folder with the gallery
pages rendered but the tutorials not executed (``tests/test_docs_examples.py``
executes them). Intersphinx reads small local inventories written by the test
(no network): a few objects each, so that names missing from an inventory are
exercised too and must not warn. Without Sphinx and its
extensions (the ``docs`` extra, also in ``test``) the test is skipped, except
under CI (``CI`` set), where that is an error.
"""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDED = {"sphinx": "sphinx", "numpydoc": "numpydoc", "sphinx_gallery": "sphinx-gallery",
          "myst_parser": "myst-parser", "furo": "furo", "sphinxarg": "sphinx-argparse",
          "sphinx-mathjax-offline": "sphinx-mathjax-offline"}


# a few entries of the real inventories (name, role, page)
INVENTORIES = {
    "nilearn": [("nilearn.decomposition.DictLearning", "py:class",
                 "modules/generated/nilearn.decomposition.DictLearning.html")],
    "numpy": [("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html")],
    "python": [], "scipy": [], "sklearn": [], "matplotlib": [],
}


def _write_inventories(folder):
    folder.mkdir(parents=True)
    for project, entries in INVENTORIES.items():
        body = "".join(f"{name} {role} 1 {page}#$ -\n" for name, role, page in entries)
        header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: 1\n"
                  "# The remainder of this file is compressed using zlib.\n")
        (folder / f"{project}.inv").write_bytes(header.encode() + zlib.compress(body.encode()))


def _in_ci():
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = [dist for mod, dist in NEEDED.items() if importlib.util.find_spec(mod) is None]
    if missing:
        reason = f"documentation packages missing: {', '.join(missing)} (pip install '.[docs]')"
        if _in_ci():
            pytest.fail(reason + " -- CI is set, so this is an error, not a skip", pytrace=False)
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("docs")
    src = tmp / "docs"
    shutil.copytree(ROOT / "docs", src, ignore=shutil.ignore_patterns(
        "_build", "generated", "auto_examples", "api.rst", "sg_execution_times.rst"))
    _write_inventories(src / "_build" / "intersphinx")
    out = tmp / "html"
    env = dict(os.environ, NIMF_DOCS_PLOT_GALLERY="0", NIMF_DOCS_INTERSPHINX="1",
               NIMF_DOCS_PROJECT_ROOT=str(ROOT), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
         "-d", str(tmp / "doctrees"), str(src), str(out)],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"sphinx failed:\n{proc.stderr[-5000:]}\n{proc.stdout[-2000:]}"
    return out


@pytest.mark.parametrize("page", [
    "index.html",
    "install.html",
    "user_guide.html",
    "nilearn_users.html",
    "cluster.html",
    "changelog.html",
    "api.html",
    "generated/nimf.neuro.DictLearning.html",
    "generated/nimf.decomposition.OnlineDictionaryLearning.html",
    "auto_examples/index.html",
    "auto_examples/plot_online_dictionary_learning.html",
    "auto_examples/plot_resting_state_networks.html",
    "auto_examples/plot_compare_decompositions.html",
    "auto_examples/plot_workshop_walkthrough.html",
    "auto_examples/plot_large_study.html",
    "cli.html",
])
def test_page_exists(site, page):
    path = site / page
    assert path.is_file(), page
    assert "sidebar-tree" in path.read_text(encoding="utf-8")  # the navigation


def test_every_public_name_has_a_page(site):
    sys.path.insert(0, str(ROOT / "docs" / "sphinxext"))
    try:
        from nimf_api import MODULES, public_names
    finally:
        sys.path.pop(0)
    missing = [f"{module}.{name}" for module, _ in MODULES for _, name in public_names(module)
               if not (site / "generated" / f"{module}.{name}.html").is_file()]
    assert not missing


def test_api_page_documents_parameters(site):
    html = (site / "generated" / "nimf.neuro.DictLearning.html").read_text(encoding="utf-8")
    assert "n_components" in html and "Parameters" in html and "transform" in html


def test_cli_reference_lists_every_subcommand(site):
    from nimf.cli import build_parser

    html = (site / "cli.html").read_text(encoding="utf-8")
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subcommands.choices.items():
        assert name in html
        for action in sub._actions:
            if action.dest == "help":
                continue
            for option in action.option_strings:
                assert option in html, (name, option)


def test_links_to_nilearn_and_numpy(site):
    guide = (site / "nilearn_users.html").read_text(encoding="utf-8")
    assert "https://nilearn.github.io/stable/modules/generated/nilearn.decomposition." \
           "DictLearning.html" in guide
    api = (site / "generated" / "nimf.decomposition.OnlineDictionaryLearning.html").read_text(
        encoding="utf-8")
    assert "https://numpy.org/doc/stable/reference/generated/numpy.ndarray.html" in api


def test_maths_render_offline(site):
    """MathJax is served from the site itself: no page loads it from elsewhere."""
    guide = (site / "user_guide.html").read_text(encoding="utf-8")
    assert 'src="_static/mathjax/tex-chtml.js' in guide
    mathjax = site / "_static" / "mathjax"
    assert (mathjax / "tex-chtml.js").stat().st_size > 100_000
    # the fonts and the TeX extensions that the bundle loads on demand
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (mathjax / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()
    pages = list(site.rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "cdn.jsdelivr.net" not in text and "mathjax@" not in text, page


def test_workshop_solutions_are_folded(site):
    html = (site / "auto_examples" / "plot_workshop_walkthrough.html").read_text(encoding="utf-8")
    assert html.count("<details><summary>Solution</summary>") >= 3
    assert html.count("<details>") == html.count("</details>")
    # a solution's code sits inside its folded block
    first = html.index("<details>")
    folded = re.sub(r"<[^>]+>", "", html[first:html.index("</details>", first)])
    assert "np.linalg.svd(X" in folded
