"""Standalone HTML pages of pre-rendered viewer states (no kernel needed).

A page holds every pre-rendered PNG base64-embedded once, controls (range
sliders and select boxes) and a few lines of JavaScript that show, for each
panel, the PNG of the current values of the controls that panel depends on.
"""

import base64
import html
import json
import os

__all__ = ["Control", "Panel", "write_viewer_html", "viewer_html"]


class Control:
    """A control of the page.

    Parameters
    ----------
    name : str
        Identifier (also the key used by panels).
    label : str
    options : list of (value, text)
        ``value`` is what panels' frames are keyed by; ``text`` what is shown.
    kind : {"range", "select"}
        A slider (arrow keys step through options) or a select box.
    value : default=None
        Initial value; the first option by default.
    """

    def __init__(self, name, label, options, kind="select", value=None):
        if kind not in ("range", "select"):
            raise ValueError(f"kind must be 'range' or 'select', got {kind!r}")
        if not options:
            raise ValueError(f"control {name!r} needs at least one option, got none")
        self.name = name
        self.label = label
        self.options = [(str(v), str(t)) for v, t in options]
        self.kind = kind
        values = [v for v, _ in self.options]
        self.value = values[0] if value is None else str(value)
        if self.value not in values:
            raise ValueError(f"value of control {name!r} must be one of {values}, got "
                             f"{value!r}")


class Panel:
    """An image of the page: one PNG per combination of the values it depends on.

    Parameters
    ----------
    name : str
    depends : list of str
        Names of the controls that choose the image.
    frames : dict
        Tuple of control values (in the order of ``depends``) -> PNG bytes.
    caption : str, default=""
    """

    def __init__(self, name, depends, frames, caption=""):
        self.name = name
        self.depends = list(depends)
        self.frames = {"|".join(str(v) for v in key): png for key, png in frames.items()}
        self.caption = caption


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       font-size: 17px; line-height: 1.45; margin: 1.2em auto; max-width: 1500px;
       padding: 0 1.2em; color: #222; }
h1 { font-size: 1.7em; margin: 0.3em 0; }
.controls { display: flex; flex-wrap: wrap; gap: 1.2em; margin-bottom: 0.8em; align-items: center; }
.controls label { font-size: 1em; font-weight: 600; }
.controls select, .controls input, .controls span { font-size: 1em; }
.controls input[type=range] { width: 16em; }
.panels { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
/* each image on its own row, filling the page up to a width at which it stays sharp */
figure { margin: 0; flex: 1 1 100%; max-width: 1400px; }
figure img { width: 100%; height: auto; }
figcaption { font-size: 0.95em; color: #333; }
.missing { color: #a00; font-size: 0.95em; }
"""


_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("nimf-viewer-data").textContent);
  function current(name) { return document.getElementById("control-" + name).dataset.value; }
  function update() {
    data.controls.forEach(function (c) {
      var el = document.getElementById("control-" + c.name);
      if (c.kind === "range") {
        el.dataset.value = c.options[parseInt(el.value, 10)][0];
        document.getElementById("text-" + c.name).textContent = c.options[parseInt(el.value, 10)][1];
      } else { el.dataset.value = el.value; }
    });
    data.panels.forEach(function (p) {
      var key = p.depends.map(current).join("|");
      var img = document.getElementById("panel-" + p.name);
      var missing = document.getElementById("missing-" + p.name);
      if (key in p.frames) {
        img.src = "data:image/png;base64," + data.images[p.frames[key]];
        img.style.display = ""; missing.style.display = "none";
      } else { img.style.display = "none"; missing.style.display = ""; }
    });
  }
  data.controls.forEach(function (c) {
    document.getElementById("control-" + c.name).addEventListener("input", update);
    document.getElementById("control-" + c.name).addEventListener("change", update);
  });
  update();
})();
"""


# an image is shown up to this many times its width in pixels: larger, the
# figures (rendered at a modest dpi to keep the page light) turn blurry
_MAX_UPSCALE = 1.6


def _png_width(png):
    """Width in pixels of a PNG (from its IHDR chunk), or None if it is not a PNG."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(png[16:20], "big")


def viewer_html(title, controls, panels, description=""):
    """The HTML text of a standalone viewer page.

    Parameters
    ----------
    title : str
    controls : list of Control
    panels : list of Panel
    description : str, default=""
        A paragraph of plain text under the title.

    Returns
    -------
    page : str
    """
    names = {c.name for c in controls}
    for panel in panels:
        unknown = [d for d in panel.depends if d not in names]
        if unknown:
            raise ValueError(f"panel {panel.name!r} depends on unknown controls {unknown}; "
                             f"expected names among {sorted(names)}")
    # each distinct PNG is embedded once, even if many states draw it
    images, index = [], {}
    panel_data = []
    for panel in panels:
        frames = {}
        for key, png in panel.frames.items():
            if png not in index:
                index[png] = len(images)
                images.append(base64.b64encode(png).decode("ascii"))
            frames[key] = index[png]
        panel_data.append({"name": panel.name, "depends": panel.depends, "frames": frames})
    data = {"controls": [{"name": c.name, "kind": c.kind, "options": c.options}
                         for c in controls],
            "panels": panel_data, "images": images}
    initial = {c.name: c.value for c in controls}

    parts = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
             f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>",
             "<body>", f"<h1>{html.escape(title)}</h1>"]
    if description:
        parts.append(f"<p>{html.escape(description)}</p>")
    parts.append("<div class=\"controls\">")
    for c in controls:
        cid = f"control-{html.escape(c.name)}"
        parts.append(f"<label for=\"{cid}\">{html.escape(c.label)}</label>")
        if c.kind == "range":
            position = [v for v, _ in c.options].index(c.value)
            text = c.options[position][1]
            parts.append(f"<input type=\"range\" id=\"{cid}\" min=\"0\" "
                         f"max=\"{len(c.options) - 1}\" step=\"1\" value=\"{position}\" "
                         f"data-value=\"{html.escape(c.value)}\">"
                         f"<span id=\"text-{html.escape(c.name)}\">{html.escape(text)}</span>")
        else:
            options = "".join(
                f"<option value=\"{html.escape(v)}\"{' selected' if v == c.value else ''}>"
                f"{html.escape(t)}</option>" for v, t in c.options)
            parts.append(f"<select id=\"{cid}\" data-value=\"{html.escape(c.value)}\">"
                         f"{options}</select>")
    parts.append("</div>")
    parts.append("<div class=\"panels\">")
    for panel, pdata in zip(panels, panel_data):
        key = "|".join(initial[d] for d in panel.depends)
        src = ""
        if key in pdata["frames"]:
            src = f"data:image/png;base64,{images[pdata['frames'][key]]}"
        widths = [w for w in map(_png_width, panel.frames.values()) if w]
        style = (f" style=\"max-width: {round(_MAX_UPSCALE * max(widths))}px\""
                 if widths else "")
        parts.append(f"<figure{style}><img id=\"panel-{html.escape(panel.name)}\" "
                     f"alt=\"{html.escape(panel.caption or panel.name)}\" src=\"{src}\">"
                     f"<span class=\"missing\" id=\"missing-{html.escape(panel.name)}\" "
                     f"style=\"display:none\">not rendered for this choice</span>"
                     f"<figcaption>{html.escape(panel.caption)}</figcaption></figure>")
    parts.append("</div>")
    # "</" cannot appear inside a script element
    payload = json.dumps(data).replace("</", "<\\/")
    parts.append(f"<script type=\"application/json\" id=\"nimf-viewer-data\">{payload}"
                 "</script>")
    parts.append(f"<script>{_SCRIPT}</script>")
    parts.extend(["</body>", "</html>"])
    return "\n".join(parts)


def write_viewer_html(path, title, controls, panels, description=""):
    """Write :func:`viewer_html` to ``path``; return the path as a str."""
    path = os.fspath(path)
    text = viewer_html(title, controls, panels, description)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
