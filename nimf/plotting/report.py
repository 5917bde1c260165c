"""A small, self-contained HTML report of a decomposition.

The report is one HTML file with inline CSS whose images are embedded as
base64 data URIs, so that it can be moved, mailed or archived on its own.
"""

import base64
import html
import io
import numbers
import os
from collections.abc import Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._files import write_atomically
from .components import _component_colors

__all__ = ["write_html_report"]

_MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp"}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       font-size: 17px; line-height: 1.5; margin: 2em auto; max-width: 1400px;
       padding: 0 1.5em; color: #222; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; }
h2 { font-size: 1.35em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table.summary { border-collapse: collapse; }
table.summary th, table.summary td { padding: 0.3em 1em; border-bottom: 1px solid #eee;
                                     text-align: left; vertical-align: top; }
table.summary th { font-weight: 600; color: #444; }
table.summary td.checksum { font-family: ui-monospace, monospace; font-size: 0.85em;
                            word-break: break-all; }
a { color: #0b5cad; }
/* the figures fill the page, up to a width at which they stay sharp */
img { height: auto; }
img.contours { width: 100%; max-width: 1400px; }
img.variance { width: 100%; max-width: 1100px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
        gap: 1em; }
figure { margin: 0; border: 1px solid #eee; padding: 0.4em; }
figure img { width: 100%; max-width: 900px; }
figcaption { font-size: 0.95em; color: #333; padding-top: 0.3em; }
footer { margin-top: 2em; font-size: 0.9em; color: #666; }
"""


def _text(value):
    """Escaped text of a summary key or value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, str)) or value is None:
        text = str(value)
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        text = f"{float(value):.4g}"
    elif isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(_text(v) for v in np.ravel(np.asarray(value, dtype=object)))
    else:
        text = str(value)
    return html.escape(text, quote=True)


def _data_uri(data, mime):
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _embed_file(path, output_dir, name):
    """Data URI of an image file; relative paths may be relative to ``output_dir``."""
    path = os.fspath(path)
    if not os.path.isfile(path) and not os.path.isabs(path):
        candidate = os.path.join(os.fspath(output_dir), path)
        if os.path.isfile(candidate):
            path = candidate
    if not os.path.isfile(path):
        raise ValueError(f"{name} must be the path of an existing image file, got {path!r}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in _MIME_TYPES:
        raise ValueError(f"{name} must be an image file with one of the extensions "
                         f"{', '.join(_MIME_TYPES)}, got {path!r}")
    with open(path, "rb") as f:
        return _data_uri(f.read(), _MIME_TYPES[ext])


def _percent(fraction):
    """An explained variance as nimf prints it everywhere: '4.6%'."""
    return f"{100 * float(fraction):.1f}%"


def _bar_chart(values):
    """PNG (bytes) of a bar chart of the explained variance of each map alone, in %."""
    n = len(values)
    values = 100 * np.asarray(values, dtype=float)
    figure = Figure(figsize=(min(max(6.0, 0.35 * n + 1.5), 12.0), 3.2), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.bar(np.arange(n), values, color=_component_colors(None, n), edgecolor="0.3",
           linewidth=0.5)
    ax.set_xlabel("component")
    ax.set_ylabel("variance explained\nby the map alone (%)")
    if n <= 40:
        ax.set_xticks(np.arange(n))
        ax.tick_params(axis="x", labelsize="small" if n <= 20 else "x-small")
    ax.set_xlim(-0.6, n - 0.4)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    write_atomically(path, lambda handle: handle.write(text), mode="w")


def write_html_report(output_dir, *, title, summary, explained_variance=None,
                      contour_png=None, component_pngs=(), component_labels=None,
                      parameters=None, inputs=None, links=None, filename="report.html"):
    """Write a small, self-contained HTML report of a decomposition.

    The report holds a table of summary values, links to the pages written
    beside it, the parameters and the input files (with their checksums), the
    figure of all component maps, a bar chart of the variance each component
    explains alone and a grid of the per-component figures with that value.
    It is a single file: the CSS is inline and the images are embedded as
    base64 data URIs.  All text is HTML-escaped.  The file is written
    atomically (to a temporary file in ``output_dir``, then renamed).

    Parameters
    ----------
    output_dir : str or path
        Directory of the report; it is created if needed.

    title : str
        Title of the report.

    summary : dict
        Summary values shown as a two-column table, in the order of the
        dict, e.g. ``{"estimator": "DictLearning", "n_components": 20,
        "fit time (s)": 1.2}``.  Floats are shown with 4 significant digits.

    explained_variance : array-like of shape (n_components,), default=None
        Fraction of the variance of the data explained by each component
        alone (``explained_variance_`` of the nimf image estimators), shown
        in percent in a bar chart and in the captions of the component
        figures.

    contour_png : str or path, default=None
        Image file of all component maps, e.g. written by
        :func:`~nimf.plotting.plot_components_contours`.  Relative paths that
        do not exist from the working directory are looked up in
        ``output_dir``.

    component_pngs : sequence of str or path, default=()
        Image files of the components, in order, e.g. returned by
        :func:`~nimf.plotting.save_component_images`.  Must have
        ``n_components`` elements if ``explained_variance`` is given too.

    component_labels : sequence of str, default=None
        Caption of each component figure.  By default ``"Component 0"``,
        ``"Component 1"``, ...

    parameters : dict, default=None
        Parameters of the run, shown as a table (e.g. the options of the
        command line).

    inputs : sequence of dict, default=None
        The input files, one dict each with the keys ``"path"`` and,
        optionally, ``"sha256"``, ``"bytes"`` and ``"what"`` (e.g.
        ``"image"``, ``"mask"``), shown as a table.

    links : dict, default=None
        Text to address (relative to the report, e.g. ``{"component
        browser": "browser.html"}``) of pages written beside the report,
        shown as links.

    filename : str, default="report.html"
        Name of the report file in ``output_dir``.

    Returns
    -------
    path : str
        The path of the report.

    See Also
    --------
    nimf.plotting.save_component_images : Write one image file per component.
    nimf.plotting.plot_components_contours : Draw all component maps on one brain.
    """
    if not isinstance(title, str):
        raise ValueError(f"title must be a str, got {title!r}")
    if not isinstance(summary, Mapping):
        raise ValueError(f"summary must be a dict of names to values, got "
                         f"{type(summary).__name__}")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ValueError(f"parameters must be a dict of names to values, got "
                         f"{type(parameters).__name__}")
    if links is not None and (not isinstance(links, Mapping) or not all(
            isinstance(v, str) and v for v in links.values())):
        raise ValueError(f"links must be a dict of texts to non-empty addresses (str), got "
                         f"{links!r}")
    inputs = [] if inputs is None else list(inputs)
    for entry in inputs:
        if not isinstance(entry, Mapping) or "path" not in entry:
            raise ValueError(f"inputs must be dicts with a 'path' key (and optionally "
                             f"'sha256', 'bytes', 'what'), got {entry!r}")
    if (not isinstance(filename, str) or not filename or os.sep in filename
            or (os.altsep and os.altsep in filename) or filename in (".", "..")):
        raise ValueError(f"filename must be a file name without a directory, got "
                         f"{filename!r}")
    if isinstance(component_pngs, (str, os.PathLike)):
        raise ValueError(f"component_pngs must be a sequence of image paths, got the "
                         f"single path {os.fspath(component_pngs)!r}")
    component_pngs = list(component_pngs)
    if explained_variance is not None:
        explained_variance = np.asarray(explained_variance, dtype=float)
        if explained_variance.ndim != 1 or not np.all(np.isfinite(explained_variance)):
            raise ValueError(
                "explained_variance must be a 1D array of finite values (one per "
                f"component), got an array of shape {explained_variance.shape}"
                + ("" if np.all(np.isfinite(explained_variance))
                   else " with non-finite values"))
        if component_pngs and len(component_pngs) != len(explained_variance):
            raise ValueError(
                f"component_pngs must hold one image per component "
                f"({len(explained_variance)} explained variances), got "
                f"{len(component_pngs)} images")
    n_images = len(component_pngs)
    if component_labels is None:
        component_labels = [f"Component {k}" for k in range(n_images)]
    elif isinstance(component_labels, str) or len(component_labels) != n_images:
        got = (repr(component_labels) if isinstance(component_labels, str)
               else f"{len(component_labels)} labels")
        raise ValueError(f"component_labels must hold one label per component image "
                         f"({n_images}), got {got}")

    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    contour_uri = (None if contour_png is None
                   else _embed_file(contour_png, output_dir, "contour_png"))
    image_uris = [_embed_file(p, output_dir, "component_pngs") for p in component_pngs]

    from nimf import __version__

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2>",
        '<table class="summary">',
    ]
    for key, value in summary.items():
        parts.append(f"<tr><th>{_text(key)}</th><td>{_text(value)}</td></tr>")
    parts.append("</table>")
    if links:
        parts += ["<h2>Pages</h2>", '<ul class="links">']
        parts += [f'<li><a href="{html.escape(href, quote=True)}">{_text(text)}</a> '
                  f"({_text(href)})</li>" for text, href in links.items()]
        parts.append("</ul>")
    if parameters:
        parts += ["<h2>Parameters</h2>", '<table class="summary parameters">']
        parts += [f"<tr><th>{_text(key)}</th><td>{_text(value)}</td></tr>"
                  for key, value in parameters.items()]
        parts.append("</table>")
    if inputs:
        parts += ["<h2>Inputs</h2>", '<table class="summary inputs">',
                  "<tr><th>file</th><th>kind</th><th>bytes</th><th>sha256</th></tr>"]
        for entry in inputs:
            cells = [_text(entry["path"]), _text(entry.get("what", "")),
                     _text(entry.get("bytes", "")), _text(entry.get("sha256", ""))]
            parts.append(f"<tr><td>{cells[0]}</td><td>{cells[1]}</td><td>{cells[2]}</td>"
                         f'<td class="checksum">{cells[3]}</td></tr>')
        parts.append("</table>")
    if contour_uri is not None:
        parts += ["<h2>All components</h2>",
                  f'<img class="contours" src="{contour_uri}" alt="All component maps">']
    if explained_variance is not None and explained_variance.size:
        chart = _data_uri(_bar_chart(explained_variance), "image/png")
        parts += ["<h2>Variance explained by each component alone</h2>",
                  f'<img class="variance" src="{chart}" '
                  'alt="Bar chart of the variance each component explains alone">']
    if image_uris:
        parts += ["<h2>Components</h2>", '<div class="grid">']
        for k, (uri, label) in enumerate(zip(image_uris, component_labels)):
            caption = _text(label)
            if explained_variance is not None:
                caption += (f" &mdash; explains {_percent(explained_variance[k])} of the "
                            "variance alone")
            parts.append(f'<figure><img src="{uri}" alt="{_text(label)}">'
                         f"<figcaption>{caption}</figcaption></figure>")
        parts.append("</div>")
    parts += [f"<footer>Generated by nimf {html.escape(__version__)}.</footer>",
              "</body>", "</html>", ""]

    path = os.path.join(output_dir, filename)
    _write_atomic(path, "\n".join(parts))
    return path
