"""Tests of the figures and the HTML report of component maps (nimf.plotting)."""

import matplotlib

matplotlib.use("Agg")

import html  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from nibabel.affines import apply_affine  # noqa: E402
from nilearn.surface import SurfaceImage  # noqa: E402

from nimf.datasets import make_rest_study, make_surface_rest_study  # noqa: E402
from nimf.plotting import (  # noqa: E402
    plot_component,
    plot_components_contours,
    save_component_images,
    write_html_report,
)

# too many open figures is a leak: make it an error
pytestmark = [pytest.mark.filterwarnings("error:More than:RuntimeWarning"),
              pytest.mark.usefixtures("no_open_figures")]


@pytest.fixture(scope="module")
def volume_maps():
    study = make_rest_study(n_subjects=1, n_scans=20, n_networks=4, resolution=8,
                            random_state=0)
    return study.maps_img


@pytest.fixture(scope="module")
def surface_maps():
    study = make_surface_rest_study(n_subjects=1, n_scans=20, n_networks=2,
                                    random_state=0)
    return study.maps_img


@pytest.fixture(params=["volume", "surface"])
def maps(request, volume_maps, surface_maps):
    return volume_maps if request.param == "volume" else surface_maps




def _n_maps(img):
    return img.shape[-1]


def _read_png(path):
    assert os.path.isfile(path)
    assert os.path.getsize(path) > 0
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(path)


def _n_colored(pixels):
    """Number of saturated (coloured, not grey) pixels of an RGB(A) image."""
    rgb = pixels[..., :3]
    return int(np.sum(rgb.max(axis=-1) - rgb.min(axis=-1) > 0.3))


# --------------------------------------------------------------------------
# plot_components_contours
# --------------------------------------------------------------------------


def test_contours_write_png_for_both_view_types(maps, tmp_path):
    pixels = {}
    for view_type in ("contours", "filled_contours"):
        path = tmp_path / f"{view_type}.png"
        out = plot_components_contours(maps, view_type=view_type, title="All maps",
                                       output_file=path)
        assert out is None
        pixels[view_type] = _read_png(path)
        # the maps are drawn in colour on a grey brain
        assert _n_colored(pixels[view_type]) > 50
    # filling the regions colours more pixels than outlining them
    assert (_n_colored(pixels["filled_contours"])
            > _n_colored(pixels["contours"]))


def test_contours_return_display_or_figure(volume_maps, surface_maps):
    display = plot_components_contours(volume_maps, display_mode="z", cut_coords=3)
    assert hasattr(display, "add_contours")
    display.close()
    figure = plot_components_contours(surface_maps, views=("lateral", "medial"))
    assert isinstance(figure, matplotlib.figure.Figure)
    # one 3D axes per hemisphere and view
    assert sum(ax.name == "3d" for ax in figure.axes) == 4
    plt.close(figure)


def test_contours_into_given_axes(volume_maps):
    figure, axes = plt.subplots(figsize=(6, 3))
    display = plot_components_contours(volume_maps, axes=axes, legend=False)
    assert display.frame_axes.figure is figure
    plt.close(figure)


def test_contours_colors_and_numeric_threshold(volume_maps, tmp_path):
    n = _n_maps(volume_maps)
    path = tmp_path / "red.png"
    plot_components_contours(volume_maps, colors=["red"] * n, threshold=0.3,
                             legend=False, cut_coords=(0, -16, 64), output_file=path)
    rgb = _read_png(path)[..., :3]
    colored = rgb.max(axis=-1) - rgb.min(axis=-1) > 0.3
    # every coloured pixel is red
    assert colored.sum() > 20
    assert np.all(rgb[colored][:, 0] > rgb[colored][:, 1])
    # a threshold above every map draws nothing in colour
    path = tmp_path / "empty.png"
    plot_components_contours(volume_maps, threshold=10.0, legend=False,
                             output_file=path)
    assert _n_colored(_read_png(path)) == 0


def test_contours_accept_a_path(volume_maps, tmp_path):
    nifti = tmp_path / "components.nii.gz"
    volume_maps.to_filename(nifti)
    plot_components_contours(str(nifti), output_file=tmp_path / "c.png")
    _read_png(tmp_path / "c.png")


# --------------------------------------------------------------------------
# plot_component
# --------------------------------------------------------------------------


def test_component_images_differ(maps, tmp_path):
    arrays = []
    for index in (0, 1):
        path = tmp_path / f"c{index}.png"
        assert plot_component(maps, index, output_file=path) is None
        arrays.append(_read_png(path))
    assert arrays[0].shape == arrays[1].shape
    assert not np.array_equal(arrays[0], arrays[1])


def test_component_cuts_through_the_peak(volume_maps):
    data = volume_maps.get_fdata()[..., 2]
    peak = apply_affine(volume_maps.affine,
                        np.unravel_index(np.argmax(np.abs(data)), data.shape))
    display = plot_component(volume_maps, 2)
    np.testing.assert_allclose(display.cut_coords, peak)
    display.close()
    display = plot_component(volume_maps, -1, display_mode="z")
    data = volume_maps.get_fdata()[..., -1]
    peak = apply_affine(volume_maps.affine,
                        np.unravel_index(np.argmax(np.abs(data)), data.shape))
    np.testing.assert_allclose(display.cut_coords, [peak[2]])
    display.close()


def test_component_signed_map(volume_maps, tmp_path):
    data = volume_maps.get_fdata().copy()
    data[..., 1] *= -1.0
    signed = nib.Nifti1Image(data, volume_maps.affine)
    path = tmp_path / "negative.png"
    plot_component(signed, 1, title="negative", output_file=path)
    rgb = _read_png(path)[..., :3]
    # the blue half of RdBu_r: some pixels are clearly blue
    assert np.sum((rgb[..., 2] - rgb[..., 0]) > 0.3) > 20


def test_surface_component_returns_figure(surface_maps):
    figure = plot_component(surface_maps, -1, threshold=0.0, title="last map")
    assert isinstance(figure, matplotlib.figure.Figure)
    assert figure.get_suptitle() == "last map"
    plt.close(figure)


# --------------------------------------------------------------------------
# save_component_images
# --------------------------------------------------------------------------


def test_save_component_images(maps, tmp_path):
    out = tmp_path / "maps"
    paths = save_component_images(maps, out)
    n = _n_maps(maps)
    expected = [f"component_{k:02d}.png" for k in range(n)]
    assert sorted(os.listdir(out)) == expected
    assert [os.path.basename(p) for p in paths] == expected
    arrays = [_read_png(p) for p in paths]
    assert not np.array_equal(arrays[0], arrays[1])


def test_save_component_images_prefix_and_labels(volume_maps, tmp_path):
    n = _n_maps(volume_maps)
    labels = [f"network {k}" for k in range(n)]
    paths = save_component_images(volume_maps, tmp_path, prefix="ica", labels=labels)
    assert sorted(os.listdir(tmp_path)) == [f"ica_{k:02d}.png" for k in range(n)]
    assert len(paths) == n


# --------------------------------------------------------------------------
# write_html_report
# --------------------------------------------------------------------------


def test_html_report(volume_maps, tmp_path):
    figures = tmp_path / "figures"
    contour = figures / "contours.png"
    figures.mkdir()
    plot_components_contours(volume_maps, output_file=contour)
    pngs = save_component_images(volume_maps, figures)
    n = len(pngs)
    summary = {"estimator": "DictLearning <fast> & sparse", "n_components": n,
               "fit time (s)": 1.23456, "alpha": np.float32(0.5)}
    variance = np.linspace(0.2, 0.05, n)
    out = tmp_path / "report"
    path = write_html_report(out, title="Report <1>", summary=summary,
                             explained_variance=variance, contour_png=contour,
                             component_pngs=pngs)
    assert os.path.samefile(path, out / "report.html")
    # a single file: no image next to it, no temporary file left
    assert os.listdir(out) == ["report.html"]
    text = open(path, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>")
    # text is escaped
    assert html.escape("DictLearning <fast> & sparse") in text
    assert "<fast>" not in text
    assert "Report &lt;1&gt;" in text
    assert "fit time (s)" in text and "1.235" in text
    assert f"<td>{n}</td>" in text and "<td>0.5</td>" in text
    # one image per component, the contour figure and the bar chart, all embedded
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', text)
    assert text.count("<img") == len(sources) == n + 2
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<style>" in text and "<link" not in text
    # each component's share, in percent as everywhere nimf prints it
    for k in range(n):
        assert f"explains {100 * variance[k]:.1f}% of the variance alone" in text


def test_html_report_parameters_inputs_and_links(tmp_path, volume_maps):
    figures = tmp_path / "figures"
    figures.mkdir()
    contour = figures / "contours.png"
    plot_components_contours(volume_maps, output_file=contour)
    inputs = [{"path": "/data/sub-01 <bold>.nii.gz", "sha256": "ab" * 32, "bytes": 12,
               "what": "image"}, {"path": "mask.nii.gz"}]
    path = write_html_report(tmp_path / "r", title="t", summary={"a": 1},
                             parameters={"n_components": 20, "t_r": 2.0, "mask": None},
                             inputs=inputs, contour_png=contour,
                             links={"component browser": "browser.html"})
    text = open(path, encoding="utf-8").read()
    # a real link, relative to the report
    assert re.search(r'<a href="browser.html">component browser</a>', text)
    assert "<th>n_components</th><td>20</td>" in text and "<th>t_r</th><td>2</td>" in text
    assert html.escape("/data/sub-01 <bold>.nii.gz") in text and "ab" * 32 in text
    assert "<td>mask.nii.gz</td>" in text
    # the figures fill the page up to a maximum width
    assert re.search(r"img\.contours \{ width: 100%; max-width: \d+px; \}", text)
    with pytest.raises(ValueError, match="inputs must be dicts with a 'path' key"):
        write_html_report(tmp_path, title="t", summary={}, inputs=["a.nii"])
    with pytest.raises(ValueError, match="links must be a dict"):
        write_html_report(tmp_path, title="t", summary={}, links={"browser": None})
    with pytest.raises(ValueError, match="parameters must be a dict"):
        write_html_report(tmp_path, title="t", summary={}, parameters=[1])


def test_html_report_minimal(tmp_path):
    path = write_html_report(tmp_path, title="t", summary={}, filename="r.html")
    text = open(path, encoding="utf-8").read()
    assert path.endswith("r.html") and "<img" not in text
    # rewriting replaces the file
    path = write_html_report(tmp_path, title="t", summary={"a": 1},
                             explained_variance=[0.5, 0.25], filename="r.html")
    text = open(path, encoding="utf-8").read()
    assert text.count("<img") == 1
    assert os.listdir(tmp_path) == ["r.html"]


# --------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------


def test_3d_image_is_rejected(volume_maps):
    single = nib.Nifti1Image(volume_maps.get_fdata()[..., 0], volume_maps.affine)
    shape = re.escape(str(single.shape))
    for func in (plot_components_contours, save_component_images):
        args = (single, "unused") if func is save_component_images else (single,)
        with pytest.raises(ValueError, match=rf"expected a 4D image.*got a 3D image "
                                             rf"of shape {shape}"):
            func(*args)
    with pytest.raises(ValueError, match="expected a 4D image"):
        plot_component(single, 0)


def test_1d_surface_image_is_rejected(surface_maps):
    one = SurfaceImage(mesh=surface_maps.mesh,
                       data={h: v[:, 0] for h, v in surface_maps.data.parts.items()})
    with pytest.raises(ValueError, match=r"one sample per component.*got a surface "
                                         r"image of shape \(20484,\)"):
        plot_components_contours(one)


def test_bad_inputs(volume_maps, tmp_path):
    n = _n_maps(volume_maps)
    with pytest.raises(ValueError, match=rf"index must be an int in \[0, {n - 1}\].*got {n}"):
        plot_component(volume_maps, n)
    with pytest.raises(ValueError, match=r"index must be an int.*got 1\.5"):
        plot_component(volume_maps, 1.5)
    with pytest.raises(ValueError, match=r"threshold must be 'auto' or a non-negative "
                                         r"number, got -1"):
        plot_components_contours(volume_maps, threshold=-1)
    with pytest.raises(ValueError, match=r"threshold must be 'auto'.*got 'high'"):
        plot_component(volume_maps, 0, threshold="high")
    with pytest.raises(ValueError, match=r"view_type must be one of 'contours', "
                                         r"'filled_contours', got 'dots'"):
        plot_components_contours(volume_maps, view_type="dots")
    with pytest.raises(ValueError, match=rf"one colour per component \({n}\), got 2"):
        plot_components_contours(volume_maps, colors=["red", "blue"])
    with pytest.raises(ValueError, match=r"expected a 4D Nifti image.*got list"):
        plot_components_contours([1, 2, 3])
    with pytest.raises(ValueError, match=rf"labels must hold one label per component "
                                         rf"\({n}\), got 1 labels"):
        save_component_images(volume_maps, tmp_path, labels=["a"])
    assert os.listdir(tmp_path) == []


def test_errors_do_not_leak_figures(volume_maps):
    # nilearn rejects the display mode after nimf has opened a figure
    with pytest.raises(ValueError, match="display_mode"):
        plot_components_contours(volume_maps, display_mode="w")
    with pytest.raises(ValueError, match="display_mode"):
        plot_component(volume_maps, 0, display_mode="w")
    assert plt.get_fignums() == []


def test_bad_surface_inputs(surface_maps):
    with pytest.raises(ValueError, match=r"index must be an int in \[0, 1\].*got 2"):
        plot_component(surface_maps, 2)
    with pytest.raises(ValueError, match=r"views must be one of .*got 'top'"):
        plot_components_contours(surface_maps, views="top")


def test_bad_report_inputs(tmp_path):
    png = tmp_path / "a.png"
    with pytest.raises(ValueError, match=r"summary must be a dict.*got list"):
        write_html_report(tmp_path, title="t", summary=[1, 2])
    with pytest.raises(ValueError, match=r"component_pngs must be the path of an "
                                         r"existing image file, got '.*a\.png'"):
        write_html_report(tmp_path, title="t", summary={}, component_pngs=[png])
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match=r"one image per component \(2 explained "
                                         r"variances\), got 1 images"):
        write_html_report(tmp_path, title="t", summary={}, component_pngs=[png],
                          explained_variance=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"explained_variance must be a 1D array.*"
                                         r"shape \(2, 2\)"):
        write_html_report(tmp_path, title="t", summary={},
                          explained_variance=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"filename must be a file name without a "
                                         r"directory, got 'x/r\.html'"):
        write_html_report(tmp_path, title="t", summary={}, filename="x/r.html")
    assert sorted(os.listdir(tmp_path)) == ["a.png"]


def test_import_nimf_does_not_import_matplotlib():
    code = ("import sys, nimf; nimf.__version__; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------
# what the figures display: colours, labels, colourbars, speckle
# --------------------------------------------------------------------------

from nimf.plotting import _display  # noqa: E402
from nimf.plotting.components import _component_colors, _Components  # noqa: E402


def _min_lab_distance(colors):
    lab = _display.srgb_to_lab(np.asarray(colors)[:, :3])
    dist = np.linalg.norm(lab[:, None] - lab[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    return dist.min()


def test_srgb_to_lab_reference_values():
    lab = _display.srgb_to_lab([[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)
    np.testing.assert_allclose(lab[3], [32.30, 79.19, -107.86], atol=0.05)


def test_contour_palette_30_colours_far_apart():
    colors = _component_colors(None, 30)
    assert len(colors) == len(set(colors)) == 30
    # CIE76: ~2.3 is a just-noticeable difference; 25 is plainly another colour
    assert _min_lab_distance(colors) > 25
    # every prefix is spread as well, and a map keeps its colour whatever n
    assert _min_lab_distance(colors[:16]) > 35
    assert _component_colors(None, 16) == colors[:16]
    # (the golden-ratio hues used before were 12 apart at 16 maps, 3 at 30)
    lab = _display.srgb_to_lab(np.asarray(colors)[:, :3])
    assert np.all((lab[:, 0] >= 49.9) & (lab[:, 0] <= 90.1))   # visible on black and grey


def test_contour_labels_give_the_component_numbers(volume_maps):
    display = plot_components_contours(volume_maps)
    figure = display.frame_axes.figure
    comps = _Components(volume_maps)
    data = volume_maps.get_fdata()
    labels = _display.component_labels(figure)
    assert {k for k, _ in labels} == {0, 2, 3}   # map 1 crosses no slice by 3 voxels
    step = abs(volume_maps.affine[0, 0])
    planes = {"x": (0, (1, 2)), "y": (1, (0, 2)), "z": (2, (0, 1))}
    for k, text in labels:
        assert text.get_text() == str(k)
        cut = next(c for c in display.axes.values() if c.ax is text.axes)
        axis, plane = planes[cut.direction]
        ijk = np.argwhere(data[..., k] > 0)
        world = apply_affine(comps.affine, ijk)
        on_slice = world[np.abs(world[:, axis] - cut.coord) <= step / 2]
        # the number sits on a voxel of its map in that slice
        assert np.min(np.linalg.norm(on_slice[:, plane] - np.array(text.get_position()),
                                     axis=1)) < 1e-6
        assert text.get_color() == _component_colors(None, comps.n_components)[k]
    display.close()
    display = plot_components_contours(volume_maps, label_maps=False)
    assert _display.component_labels(display.frame_axes.figure) == []
    display.close()


def test_surface_contours_split_into_rows(surface_maps):
    figure = plot_components_contours(surface_maps, maps_per_panel=1,
                                      views=("lateral", "medial"))
    axes3d = [ax for ax in figure.axes if ax.name == "3d"]
    # two groups of one map, each two views x two hemispheres
    assert len(axes3d) == 8
    labels = _display.component_labels(figure)
    assert {k for k, _ in labels} == {0, 1}
    for k, text in labels:
        # map k is drawn (and numbered) only in the rows of its group
        assert axes3d.index(text.axes) // 4 == k
    plt.close(figure)
    figure = plot_components_contours(surface_maps)
    assert sum(ax.name == "3d" for ax in figure.axes) == 2
    plt.close(figure)


def _colorbar(display_or_figure):
    figure = getattr(display_or_figure, "frame_axes", display_or_figure)
    figure = figure.figure if hasattr(figure, "figure") and figure.figure else figure
    bars = _display.colorbars(figure)
    assert len(bars) == 1
    return bars[0]


def _tick_labels(colorbar):
    return [t.get_text() for t in colorbar.ax.get_yticklabels() if t.get_text()]


def _check_ticks(labels):
    assert len(labels) >= 2
    assert len(set(labels)) == len(labels)             # none overlapping another
    assert not any(re.fullmatch(r"[-\u2212]0(\.0*)?", s) for s in labels)   # no "-0"
    assert not any("e" in s for s in labels)           # no 7.9e-05


def _scaled(img, factor, negative=None):
    data = img.get_fdata() * factor
    if negative is not None:
        data = data + negative
    return nib.Nifti1Image(data.astype(np.float32), img.affine)


def test_colorbar_one_sided_for_positive_maps(maps):
    result = plot_component(maps, 0)
    figure = result if isinstance(result, matplotlib.figure.Figure) else result.frame_axes.figure
    colorbar = _colorbar(figure)
    low, high = colorbar.ax.get_ylim()
    assert min(low, high) >= 0.0 and max(low, high) > 0.0
    _check_ticks(_tick_labels(colorbar))
    assert "a.u." in colorbar.ax.get_ylabel()
    plt.close(figure)


def test_colorbar_of_mostly_positive_small_loadings(volume_maps):
    # loadings of ~1e-4 with a faint negative haze (< 5% of the mass) over the brain
    rng = np.random.default_rng(0)
    data = volume_maps.get_fdata()
    brain = data.max(axis=3, keepdims=True) > 0
    haze = -0.004 * brain * (rng.random(data.shape) < 0.5)
    img = _scaled(volume_maps, 2.5e-4, negative=haze * 2.5e-4)
    negative_mass = -img.get_fdata()[..., 0][img.get_fdata()[..., 0] < 0].sum()
    assert 0 < negative_mass < 0.05 * np.abs(img.get_fdata()[..., 0]).sum()
    display = plot_component(img, 0, threshold=0.0, cluster_threshold=0)
    colorbar = _colorbar(display)
    low, high = sorted(colorbar.ax.get_ylim())
    assert low == 0.0 and high == pytest.approx(img.get_fdata()[..., 0].max(), rel=1e-5)
    labels = _tick_labels(colorbar)
    _check_ticks(labels)
    assert labels[0] == "0"
    assert colorbar.ax.get_ylabel() == "loading (\u00d710\u207b\u2074), a.u."
    caption = [t for t in display.frame_axes.figure.texts if t.get_gid() == "nimf-caption"]
    assert len(caption) == 1 and "negative loadings" in caption[0].get_text()
    display.close()


def test_colorbar_of_signed_map_spans_both_signs(volume_maps):
    data = volume_maps.get_fdata()
    signed = data[..., 0] - 0.6 * data[..., 1]
    img = nib.Nifti1Image(np.stack([signed, data[..., 2]], axis=-1) * 1e-3, volume_maps.affine)
    display = plot_component(img, 0, threshold=1e-4)
    colorbar = _colorbar(display)
    low, high = sorted(colorbar.ax.get_ylim())
    assert low == pytest.approx(-0.6e-3, rel=1e-4) and high == pytest.approx(1e-3, rel=1e-4)
    labels = _tick_labels(colorbar)
    _check_ticks(labels)
    assert "0" in labels
    display.close()


@pytest.mark.parametrize("vmin, vmax", [(-7.9e-5, 7.9e-5), (0.0, 2.46e-4), (0.0, 1.0),
                                        (-3.2, 0.0), (-1e-3, 6.3e-3), (0.0, 12345.0),
                                        (0.0, 0.37)])
def test_colorbar_ticks(vmin, vmax):
    ticks, labels, unit = _display.colorbar_ticks(vmin, vmax)
    assert np.all((ticks >= vmin) & (ticks <= vmax))
    _check_ticks(labels)
    assert len(ticks) == len(labels) <= 6
    assert unit.startswith("loading") and unit.endswith("a.u.")
    if vmin <= 0 <= vmax:
        assert "0" in labels


def test_speckle_hidden_in_figure_not_in_data(volume_maps, tmp_path):
    data = volume_maps.get_fdata()
    k = 0
    peak = np.unravel_index(np.argmax(data[..., k]), data.shape[:3])
    speckled = data.copy()
    # isolated voxels in the slice of the peak, far from the map's region
    region = data[..., k] > 0
    free = np.argwhere(~ndimage_dilation(region) & (np.arange(data.shape[2]) == peak[2])[
        None, None, :])
    specks = free[:: max(1, len(free) // 6)][:6]
    for i, j, z in specks:
        speckled[i, j, z, k] = data[..., k].max()
    img = nib.Nifti1Image(speckled.astype(np.float32), volume_maps.affine)
    path = tmp_path / "maps.nii.gz"
    img.to_filename(path)
    saved = path.read_bytes()
    before = img.get_fdata().copy()

    def shown_in_z(image, **kwargs):
        display = plot_component(image, k, display_mode="z", threshold=0.1, **kwargs)
        (cut,) = display.axes.values()
        count = int(np.ma.count(cut.ax.images[-1].get_array()))
        captions = [t.get_text() for t in display.frame_axes.figure.texts
                    if t.get_gid() == "nimf-caption"]
        display.close()
        return count, captions

    clean, _ = shown_in_z(volume_maps)
    raw, _ = shown_in_z(img, cluster_threshold=0)
    filtered, captions = shown_in_z(img)
    assert raw > clean                  # the specks are drawn without the filter ...
    assert filtered == clean            # ... and hidden with it
    assert captions == ["shown: |loading| \u2265 0.1; clusters < 10 voxels hidden"]
    # the maps themselves are untouched, in memory and on disk
    np.testing.assert_array_equal(img.get_fdata(), before)
    plot_components_contours(str(path), output_file=tmp_path / "c.png")
    save_component_images(str(path), tmp_path / "maps")
    assert path.read_bytes() == saved
    shown = _Components(img).shown(k, 0.1, 10)[0]
    assert np.count_nonzero(shown) == np.count_nonzero(data[..., k] >= 0.1)


def ndimage_dilation(mask):
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=2)


def test_surface_speckle_filtered(surface_maps):
    comps = _Components(surface_maps)
    values = comps.data[:, 0].copy()
    region = values > 0.1
    adjacency = comps.adjacency()
    # a vertex none of whose neighbours is in the region
    lonely = next(v for v in np.flatnonzero(~region)
                  if not region[adjacency[v].indices].any())
    data = {h: np.asarray(v, dtype=np.float32).copy() for h, v in surface_maps.data.parts.items()}
    hemi = next(h for h, rows in comps.parts.items() if rows.start <= lonely < rows.stop)
    data[hemi][lonely - comps.parts[hemi].start, 0] = values.max()
    speckled = _Components(SurfaceImage(mesh=surface_maps.mesh, data=data))
    assert speckled.shown(0, 0.1, 0)[0][lonely] != 0
    assert speckled.shown(0, 0.1, 10)[0][lonely] == 0
    np.testing.assert_array_equal(speckled.shown(0, 0.1, 10)[0], comps.shown(0, 0.1, 10)[0])


def test_bad_display_options(volume_maps):
    with pytest.raises(ValueError, match=r"cluster_threshold must be a non-negative int.*"
                                         r"got -1"):
        plot_component(volume_maps, 0, cluster_threshold=-1)
    with pytest.raises(ValueError, match=r"cluster_threshold must be .*got 2\.5"):
        plot_components_contours(volume_maps, cluster_threshold=2.5)
    with pytest.raises(ValueError, match=r"maps_per_panel must be a positive int, got 0"):
        plot_components_contours(volume_maps, maps_per_panel=0)
    assert plt.get_fignums() == []


def test_label_point_inside_and_apart():
    # a ring: its centroid is outside it, the number is written on the ring
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    ring = 10.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    point = _display.label_point(ring)
    assert any(np.allclose(point, p) for p in ring)
    # away from a number already written there
    other = _display.label_point(ring, taken=[point], min_distance=8.0)
    assert any(np.allclose(other, p) for p in ring)
    assert np.linalg.norm(other - point) >= 8.0
    # no free point: the one nearest the centre all the same
    assert np.allclose(_display.label_point(ring, taken=[point], min_distance=100.0), point)


def test_contours_in_callers_axes_keep_legend_and_caption_readable(volume_maps):
    figure, axes = plt.subplots(2, 1, figsize=(8, 6))    # white background
    for ax in axes:
        plot_components_contours(volume_maps, figure=figure, axes=ax)
    # one legend under each axes (not all piled at the figure's bottom), in dark text
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]
    assert len(legends) == 2 and not figure.legends
    for legend in legends:
        assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2", "3"]
        assert all(matplotlib.colors.to_rgb(t.get_color())[0] < 0.5 for t in legend.get_texts())
    captions = [t for ax in figure.axes for t in ax.texts if t.get_gid() == "nimf-caption"]
    assert len(captions) == 2
    assert all(matplotlib.colors.to_rgb(t.get_color())[0] < 0.5 for t in captions)
    plt.close(figure)
