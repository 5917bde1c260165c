"""nimf.widgets: the notebook viewers, tested without a browser.

Changing a control must change what is displayed (the PNG bytes, the
labels), the stability viewer must show the assessment's own numbers, and
bad input must fail before any drawing.
"""

import matplotlib

matplotlib.use("Agg")

import base64  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import nibabel  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from nimf.assessment import stability  # noqa: E402
from nimf.datasets import make_rest_study, make_surface_rest_study  # noqa: E402
from nimf.decomposition import SparsePCA as ArraySparsePCA  # noqa: E402
from nimf.neuro import DictLearning  # noqa: E402
from nimf.widgets import (ComponentBrowser, ComponentState, ContourState,  # noqa: E402
                          ContourViewer, StabilityViewer, component_labels,
                          seed_similarity, stability_scores)
from nimf.widgets import _data, _html, _render  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------
# fixtures: one small study, fitted once
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def study():
    return make_rest_study(n_subjects=2, n_scans=40, n_networks=4, resolution=8, snr=2.0,
                           random_state=0)


@pytest.fixture(scope="module")
def fitted(study):
    return DictLearning(n_components=4, n_epochs=2, mask=study.mask_img,
                        random_state=0).fit(study.func, confounds=study.confounds)


@pytest.fixture(scope="module")
def surface_study():
    return make_surface_rest_study(n_subjects=2, n_scans=30, n_networks=3, random_state=0)


@pytest.fixture(scope="module")
def surface_maps(surface_study):
    return surface_study.maps_img


@pytest.fixture(scope="module")
def surface_fitted(surface_study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return DictLearning(n_components=3, n_epochs=1, mask=surface_study.mask_img,
                            smoothing_fwhm=None, random_state=0).fit(surface_study.func)


@pytest.fixture(scope="module")
def masked(study):
    from nilearn.maskers import NiftiMasker

    masker = NiftiMasker(mask_img=study.mask_img, standardize=None).fit()
    X = np.concatenate([masker.transform(img) for img in study.func])
    return masker, X


@pytest.fixture(scope="module")
def stab(masked):
    _, X = masked
    return stability(ArraySparsePCA(), X, [2, 3], n_seeds=3, random_state=0)


pytestmark = pytest.mark.usefixtures("no_open_figures")


def _is_png(data):
    return bytes(data).startswith(PNG)


# --------------------------------------------------------------------------
# import weight and pure helpers
# --------------------------------------------------------------------------


def test_import_nimf_does_not_import_widgets():
    code = ("import sys, nimf; assert 'widgets' in dir(nimf); "
            "bad = [m for m in ('ipywidgets', 'matplotlib', 'nimf.widgets') if m in sys.modules];"
            " assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
    import nimf

    assert nimf.widgets.ComponentBrowser is ComponentBrowser


def test_component_labels():
    assert component_labels(2) == ["Component 0", "Component 1"]
    assert component_labels(2, [0.125, 0.05]) == ["Component 0 (EV 12.5%)",
                                                  "Component 1 (EV 5.0%)"]
    with pytest.raises(ValueError, match="one value per component \\(3\\), got 2"):
        component_labels(3, [0.1, 0.2])
    with pytest.raises(ValueError, match="positive int, got 0"):
        component_labels(0)


def test_render_component_depends_on_every_field(fitted):
    maps, _ = _data.as_component_maps(fitted)
    thr = _data.auto_thresholds(maps)
    base = ComponentState(component=0, threshold=float(thr[0]),
                          cut_coords=_data.peak_coords(maps, 0))
    png = _render.render_component(maps, base)
    assert _is_png(png)
    assert _render.render_component(maps, base) == png  # deterministic
    changed = [ComponentState(1, float(thr[1]), cut_coords=base.cut_coords),
               ComponentState(0, 0.5 * float(maps.peaks[0]), cut_coords=base.cut_coords),
               ComponentState(0, float(thr[0]), display_mode="z", cut_coords=base.cut_coords),
               ComponentState(0, float(thr[0]), cut_coords=(0.0, 0.0, 0.0)),
               ComponentState(0, float(thr[0]), cut_coords=base.cut_coords, cmap="viridis")]
    pngs = [_render.render_component(maps, s) for s in changed]
    assert all(_is_png(p) and p != png for p in pngs)
    assert len(set(pngs)) == len(pngs)


def test_states_are_checked(fitted):
    maps, _ = _data.as_component_maps(fitted)
    peak = float(maps.peaks[0])
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, .*got 1000"):
        _data.check_component_state(maps, ComponentState(0, 1000.0))
    with pytest.raises(ValueError, match=r"component must be an int in \[0, 3\].*got 4"):
        _data.check_component_state(maps, ComponentState(4, 0.0))
    with pytest.raises(ValueError, match="display_mode must be one of .*got 'lateral'"):
        _data.check_component_state(maps, ComponentState(0, peak / 2, display_mode="lateral"))
    with pytest.raises(ValueError, match="cut_coords must be None or 3 .*got \\(1, 2\\)"):
        _data.check_component_state(maps, ComponentState(0, peak / 2, cut_coords=(1, 2)))
    with pytest.raises(ValueError, match="cmap must be .*got 'no-such-map'"):
        _data.check_component_state(maps, ComponentState(0, peak / 2, cmap="no-such-map"))
    with pytest.raises(ValueError, match="view_type must be one of"):
        _data.check_contour_state(maps, ContourState(selected=(0,), view_type="dots"))
    with pytest.raises(ValueError, match=r"selected components must be an int in \[0, 3\]"):
        _data.check_contour_state(maps, ContourState(selected=(0, 7)))


# --------------------------------------------------------------------------
# ComponentBrowser
# --------------------------------------------------------------------------


def test_browser_contract_and_controls(study, fitted):
    browser = ComponentBrowser(fitted, imgs=study.func, confounds=study.confounds)
    assert isinstance(browser, ipywidgets.Box)
    assert isinstance(browser.component_slider, ipywidgets.IntSlider)
    assert isinstance(browser.image, ipywidgets.Image)
    assert "nimf-component-map" in browser.image._dom_classes
    assert "nimf-component-slider" in browser.component_slider._dom_classes
    assert browser.component_slider.max == 3
    # labels carry the estimator's explained variance, in its order
    assert browser.component_dropdown.options[0][0] == (
        f"Component 0 (EV {100 * fitted.explained_variance_[0]:.1f}%)")

    seen = {0: browser.image.value}
    info0, course0 = browser.info.value, browser.time_course_image.value
    assert _is_png(seen[0]) and _is_png(course0)
    assert "explained variance" in info0
    browser.component_slider.value = 2  # redraws synchronously
    assert browser.component_dropdown.value == 2
    assert browser.image.value != seen[0]
    assert browser.info.value != info0 and "Component 2" in browser.info.value
    assert browser.time_course_image.value != course0
    # the threshold and cuts follow the component
    assert browser.threshold_slider.max == pytest.approx(float(fitted.components_[2].__abs__()
                                                                 .max()), rel=1e-5)
    browser.component_dropdown.value = 1  # the dropdown drives the slider
    assert browser.component_slider.value == 1
    seen[1] = browser.image.value
    assert len(set(bytes(v) for v in seen.values())) == 2

    # going back is a cache hit: the same bytes, no new drawing
    misses = browser._cache.misses
    browser.component_slider.value = 0
    assert browser.image.value == seen[0] and browser._cache.misses == misses

    before = browser.image.value
    browser.threshold_slider.value = 0.6 * browser.threshold_slider.max
    after_threshold = browser.image.value
    assert after_threshold != before
    browser.display_mode_dropdown.value = "z"
    after_mode = browser.image.value
    assert after_mode != after_threshold
    browser.cut_sliders[2].value = browser.cut_sliders[2].min + 10
    assert browser.image.value != after_mode
    # a cut the "z" view does not use draws nothing new
    misses = browser._cache.misses
    browser.cut_sliders[0].value = browser.cut_sliders[0].min + 10
    assert browser._cache.misses == misses
    browser.cmap_dropdown.value = "viridis"
    assert browser.image.value not in (before, after_threshold, after_mode)

    course = browser.time_course_image.value
    browser.subject_dropdown.value = 1
    assert browser.time_course_image.value != course
    np.testing.assert_allclose(browser.time_course(1),
                               fitted.transform([study.func[1]],
                                                confounds=[study.confounds[1]])[0])
    assert browser.state.subject == 1


def test_browser_on_an_image_without_estimator(fitted):
    browser = ComponentBrowser(fitted.components_img_, component=3, display_mode="x")
    assert browser.component_slider.value == 3
    assert browser.component_dropdown.options[3][0] == "Component 3"
    assert browser.subject_dropdown.disabled and browser.time_course_image.value == b""
    first = browser.image.value
    browser.component_slider.value = 0
    assert _is_png(browser.image.value) and browser.image.value != first


def test_browser_on_surface_maps(surface_maps):
    browser = ComponentBrowser(surface_maps)
    assert browser.display_mode_dropdown.value == "lateral"
    first = browser.image.value
    assert _is_png(first)
    browser.component_slider.value = 1
    second = browser.image.value
    assert second != first
    browser.display_mode_dropdown.value = "medial"
    assert browser.image.value not in (first, second)
    assert browser.state.cut_coords is None


def test_browser_on_a_surface_estimator(surface_study, surface_fitted):
    browser = ComponentBrowser(surface_fitted, imgs=surface_study.func)
    assert "EV" in browser.component_dropdown.options[0][0]
    map0, course0 = browser.image.value, browser.time_course_image.value
    assert _is_png(map0) and _is_png(course0)
    browser.component_slider.value = 2
    assert browser.image.value != map0 and browser.time_course_image.value != course0
    browser.subject_dropdown.value = 1
    assert browser.time_course(1).shape == (30, 3)


def test_browser_bad_input(study, fitted):
    with pytest.raises(ValueError, match=r"expected a 4D image of component maps, got a 3D "
                                         r"image of shape"):
        ComponentBrowser(study.mask_img)
    unfitted = DictLearning(n_components=4)
    with pytest.raises(NotFittedError, match="unfitted DictLearning: call fit first"):
        ComponentBrowser(unfitted)
    assert issubclass(NotFittedError, ValueError)
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, "):
        ComponentBrowser(fitted, threshold=10.0)
    with pytest.raises(ValueError, match=r"component must be an int in \[0, 3\].*got 9"):
        ComponentBrowser(fitted, component=9)
    with pytest.raises(ValueError, match="imgs needs a fitted estimator"):
        ComponentBrowser(fitted.components_img_, imgs=study.func)
    with pytest.raises(ValueError, match="display_mode must be one of"):
        ComponentBrowser(fitted, display_mode="lateral")
    with pytest.raises(ValueError, match=r"confounds must hold one entry per image \(2\), "
                                         r"got 1"):
        ComponentBrowser(fitted, imgs=study.func, confounds=study.confounds[:1])


def test_browser_html_and_static_figure(tmp_path, study, fitted):
    browser = ComponentBrowser(fitted, imgs=study.func[:1])
    path = browser.save_html(tmp_path / "browser.html")
    page = open(path, encoding="utf-8").read()
    assert page.startswith("<!DOCTYPE html>") and "<script>" in page
    assert 'type="range"' in page
    for k in range(4):
        state = ComponentState(component=k, threshold=float(browser._auto[k]),
                               cut_coords=_data.peak_coords(browser._maps, k), subject=0)
        for png in (browser.map_png(state), browser.time_course_png(state)):
            assert base64.b64encode(png).decode() in page
    fig = browser.static_figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 2


# --------------------------------------------------------------------------
# ContourViewer
# --------------------------------------------------------------------------


def test_contour_viewer_toggles_and_highlight(fitted):
    viewer = ContourViewer(fitted)
    assert "nimf-contour-map" in viewer.image._dom_classes
    assert viewer.select.value == (0, 1, 2, 3)
    every = viewer.image.value
    assert _is_png(every)
    viewer.select.value = (0, 2)
    some = viewer.image.value
    assert some != every
    viewer.none_button.click()
    assert viewer.select.value == () and viewer.image.value not in (every, some)
    viewer.all_button.click()
    assert viewer.image.value == every  # cached state
    viewer.highlight_dropdown.value = 1
    highlighted = viewer.image.value
    assert highlighted != every
    viewer.view_type_dropdown.value = "filled_contours"
    assert viewer.image.value != highlighted
    filled = viewer.image.value
    viewer.cut_sliders[0].value = viewer.cut_sliders[0].min + 20
    assert viewer.image.value != filled
    assert len(viewer.colors) == 4
    with pytest.raises(ValueError, match=r"components must be an int in \[0, 3\] .*got 5"):
        viewer.show([0, 5])


def test_contour_viewer_surface_and_errors(tmp_path, surface_maps, study):
    viewer = ContourViewer(surface_maps, view_type="filled_contours")
    first = viewer.image.value
    viewer.select.value = (1,)
    assert _is_png(viewer.image.value) and viewer.image.value != first
    with pytest.raises(ValueError, match="threshold must be 'auto' or a number in"):
        ContourViewer(surface_maps, threshold=-1.0)
    with pytest.raises(ValueError, match="expected a 4D image"):
        ContourViewer(study.mask_img)

    path = viewer.save_html(tmp_path / "contours.html")
    page = open(path, encoding="utf-8").read()
    images = set(re.findall(r"iVBORw0KGgo[A-Za-z0-9+/=]+", page))
    # all maps, and each highlighted, in both styles (identical PNGs stored once)
    assert len(images) >= 2 * (3 + 1) - 1
    for k in (None, 0, 1, 2):
        state = ContourState(selected=(0, 1, 2), highlight=k, view_type="contours",
                             display_mode="lateral")
        assert base64.b64encode(viewer.contours_png(state)).decode() in page
    assert isinstance(viewer.static_figure(), Figure)


# --------------------------------------------------------------------------
# StabilityViewer
# --------------------------------------------------------------------------


def test_stability_scores_are_the_assessments(stab):
    for i, rank in enumerate(stab.ranks):
        scores = stability_scores(stab, rank)
        assert scores.shape == (rank,)
        # the mean over components is the assessment's mean similarity at that rank
        assert scores.mean() == pytest.approx(stab.similarity[i].mean(), abs=1e-12)
        sims = _data.aligned_similarities(stab, rank)
        np.testing.assert_allclose(sims.mean(axis=1), stab.similarity[i], atol=1e-12)
        np.testing.assert_array_equal(sims[stab.best_seeds[i]], 1.0)
        matrix = seed_similarity(stab, rank)
        best = stab.best_seeds[i]
        np.testing.assert_array_equal(matrix[best], stab.similarity[i])
        np.testing.assert_array_equal(matrix, matrix.T)
        assert np.all(np.diag(matrix) == 1.0)
        # the other pairs are matched like the best fit's pairs
        from nimf.assessment import match_components

        a, b = [s for s in range(3) if s != best][:2]
        assert matrix[a, b] == pytest.approx(match_components(
            stab.components[i][a], stab.components[i][b]).score)
    with pytest.raises(ValueError, match=r"rank must be one of the assessed ranks \[2, 3\], "
                                         r"got 5"):
        stability_scores(stab, 5)


def test_stability_viewer(tmp_path, stab, masked, study):
    masker, _ = masked
    viewer = StabilityViewer(stab, mask_img=study.mask_img)
    assert viewer.rank == 2 and [o[1] for o in viewer.component_dropdown.options] == [0, 1]
    scores = stability_scores(stab, 2)
    assert viewer.component_dropdown.options[1][0] == f"1 (score {scores[1]:.3f})"
    assert f"instability {stab.instability[0]:.3f}" in viewer.info.value
    assert f"stability score {scores[0]:.3f}" in viewer.info.value
    summary, versions = viewer.summary_image.value, viewer.versions_image.value
    assert _is_png(summary) and _is_png(versions)
    viewer.component_dropdown.value = 1
    assert viewer.versions_image.value != versions
    assert viewer.summary_image.value != summary  # the chosen bar is highlighted
    viewer.rank_dropdown.value = 3
    assert [o[1] for o in viewer.component_dropdown.options] == [0, 1, 2]
    assert viewer.component == 1
    assert f"instability {stab.instability[1]:.3f}" in viewer.info.value
    np.testing.assert_array_equal(viewer.scores(3), stability_scores(stab, 3))

    # the same with a masker object, and as line plots without one
    with_masker = StabilityViewer(stab, masker=masker, rank=3, component=1)
    assert with_masker.versions_image.value == viewer.versions_image.value
    plain = StabilityViewer(stab, rank=3, component=1)
    assert _is_png(plain.versions_image.value)
    assert plain.versions_image.value != viewer.versions_image.value

    path = viewer.save_html(tmp_path / "stability.html")
    page = open(path, encoding="utf-8").read()
    # each panel fills the page up to 1.6 times the width it was rendered at
    from nimf.widgets._html import _png_width

    widths = re.findall(r'<figure style="max-width: (\d+)px"><img id="panel-(\w+)"', page)
    assert [name for _, name in widths] == ["summary", "versions"]
    summary_width = max(_png_width(viewer.summary_png(r, j)) for r in (2, 3) for j in range(r))
    assert int(widths[0][0]) == round(1.6 * summary_width)
    assert "figure img { width: 100%; height: auto; }" in page
    for rank in (2, 3):
        for j in range(rank):
            for png in (viewer.summary_png(rank, j), viewer.versions_png(rank, j)):
                assert base64.b64encode(png).decode() in page
    assert isinstance(viewer.static_figure(), Figure)


def test_stability_viewer_on_surface_components(surface_study):
    from nilearn.maskers import SurfaceMasker

    masker = SurfaceMasker(mask_img=surface_study.mask_img, standardize=None).fit()
    X = masker.transform(surface_study.func[0])
    result = stability(ArraySparsePCA(), X, [2], n_seeds=2, random_state=0)
    viewer = StabilityViewer(result, mask_img=surface_study.mask_img)
    first = viewer.versions_image.value
    assert _is_png(first)
    viewer.component_dropdown.value = 1
    assert viewer.versions_image.value != first
    assert StabilityViewer(result, masker=masker, component=1).versions_image.value == \
        viewer.versions_image.value


def test_stability_viewer_bad_input(stab, study):
    with pytest.raises(ValueError, match=r"rank must be one of the assessed ranks \[2, 3\], "
                                         r"got 4"):
        StabilityViewer(stab, rank=4)
    with pytest.raises(ValueError, match=r"component \(at rank 2\) must be an int in \[0, 1\]"):
        StabilityViewer(stab, component=2)
    with pytest.raises(ValueError, match="expected a StabilityResult"):
        StabilityViewer(object())
    small = nibabel.Nifti1Image(np.zeros((4, 4, 4), dtype=np.uint8), np.eye(4))
    small.dataobj[:2, :2, :2] = 1
    with pytest.raises(ValueError, match=r"expected \d+, got a mask of 8"):
        StabilityViewer(stab, mask_img=small)
    with pytest.raises(ValueError, match="expected a 3D mask image, got a 4D"):
        StabilityViewer(stab, mask_img=study.func[0])
    import copy

    tampered = copy.deepcopy(stab)
    tampered.similarity[0] = tampered.similarity[0] * 0.5
    with pytest.raises(ValueError, match="do not reproduce result.similarity"):
        StabilityViewer(tampered)


# --------------------------------------------------------------------------
# the HTML page
# --------------------------------------------------------------------------


def test_html_page_builder():
    pngs = [_render.figure_png(_render.new_figure(1, 1, facecolor=c)) for c in ("red", "blue")]
    controls = [_html.Control("c", "choice", [(0, "zero"), (1, "one")], kind="range")]
    panels = [_html.Panel("p", ["c"], {(0,): pngs[0], (1,): pngs[1]}, caption="a </script>")]
    page = _html.viewer_html("t <b>", controls, panels)
    assert "t &lt;b&gt;" in page and "a &lt;/script&gt;" in page
    for png in pngs:
        assert page.count(base64.b64encode(png).decode()) >= 1
    with pytest.raises(ValueError, match="unknown controls \\['x'\\]"):
        _html.viewer_html("t", controls, [_html.Panel("q", ["x"], {})])
    with pytest.raises(ValueError, match="value of control 'c' must be one of"):
        _html.Control("c", "choice", [(0, "zero")], value=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _render.png_figure(pngs, titles=["a", "b"]).axes[1].get_title() == "b"
