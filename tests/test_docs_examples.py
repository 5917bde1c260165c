"""Tutorials and notebooks are executed, so they keep working."""
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


TUTORIALS = sorted((ROOT / "tutorials").glob("*.py"))


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs(script, monkeypatch, tmp_path):
    """Each tutorial runs as a script, asserting what it teaches, and saves its figures.

    Without a display (the Agg backend) a tutorial run as a script saves its
    figures as PNG files in the current folder: here a temporary one.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    matplotlib.use("Agg")
    plt.close("all")
    try:
        runpy.run_path(str(script), run_name="__main__")
        n_figures = len(plt.get_fignums())
    finally:
        plt.close("all")
    saved = sorted(tmp_path.glob("*.png"))
    assert n_figures > 0 and len(saved) == n_figures, (n_figures, saved)
    assert all(png.stat().st_size > 1000 for png in saved)


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_asserts_what_it_teaches(script):
    """A tutorial that prints results checks them too, so that a broken one fails."""
    source = script.read_text(encoding="utf-8")
    assert source.count("\nassert ") + source.count(" assert ") >= 2, script.name
    # the gallery renders the figures; a script shows or saves them (none closed unseen)
    assert "plt.close(" not in source and 'matplotlib.use("Agg")' not in source


def test_workshop_solutions_are_folded():
    """Each exercise's solution sits between an opening and a closing <details> block."""
    source = (ROOT / "tutorials" / "plot_workshop_walkthrough.py").read_text(encoding="utf-8")
    opened, closed = source.count("#    <details>"), source.count("#    </details>")
    assert opened == closed == source.count("# Exercise ") >= 3


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_runs(notebook):
    import nbclient
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(notebook.parent)}})
    client.execute()
    errors = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
