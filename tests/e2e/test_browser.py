"""End to end: the component browser served by Voilà and driven in headless Chromium.

Voilà runs ``component_browser.ipynb`` (a small generated study, a fitted ``DictLearning``,
``ComponentBrowser(model)``) in a real kernel; Playwright opens the page in Debian's Chromium,
moves the component slider and checks that the rendered map changes.

Needs ``/usr/bin/chromium`` (Debian's ``chromium``, installed by ``.ci/run``) and the ``test``
extra (``playwright``, ``voila``). Without them the test is skipped, except under CI (``CI`` set),
where it fails.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from _tools import chromium_page, require_tools

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NOTEBOOK = HERE / "component_browser.ipynb"


VOILA_STARTUP_S = 120    # until Voilà answers HTTP
RENDER_S = 180           # page load + kernel start + notebook execution + widget rendering
REDRAW_S = 60            # slider moved -> new image shown
SHUTDOWN_S = 15

SLIDER = ".nimf-component-slider"
READOUT = f"{SLIDER} .widget-readout"
HANDLE = f"{SLIDER} .noUi-handle"
# ipywidgets 8 renders an Image as the <img> itself; accept a wrapper too
MAP = "img.nimf-component-map, .nimf-component-map img"
TRACEBACK = '.jp-OutputArea-output:has-text("Traceback (most recent call last)")'


def _require_tools():
    """Skip (fail under CI) when the browser, Playwright or Voilà is missing."""
    require_tools("browser test", {"playwright.sync_api": "playwright", "voila": "voila"})


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid):
    """Pids of all processes below ``pid`` (kernels run in sessions of their own)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_groups(pids, sig):
    for pid in pids:
        try:
            os.killpg(os.getpgid(pid), sig)
        except (ProcessLookupError, PermissionError):
            pass


def _log_tail(path, n=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@pytest.fixture
def voila_url(tmp_path):
    """Voilà serving the notebook on a free localhost port; shut down whatever happens."""
    _require_tools()
    port = _free_port()
    log_path = tmp_path / "voila.log"
    env = dict(os.environ)
    # the kernel imports this checkout's nimf, like the rest of the suite does
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter_config")   # no user config
    env["BROWSER"] = "true"                                         # never open one
    cmd = [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
           "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--Voila.open_browser=False",
           "--show_tracebacks=True", "--VoilaConfiguration.http_keep_alive_timeout=5"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=str(HERE), env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def shutdown():
        pids = [proc.pid] + _descendants(proc.pid)
        _kill_groups(pids, signal.SIGTERM)
        try:
            proc.wait(timeout=SHUTDOWN_S)
        except subprocess.TimeoutExpired:
            pass
        _kill_groups(pids, signal.SIGKILL)
        proc.wait(timeout=SHUTDOWN_S)

    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + VOILA_STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Voilà exited with {proc.returncode}:\n{_log_tail(log_path)}",
                            pytrace=False)
            try:
                # any HTTP answer means the server is up; a 404 path starts no kernel
                urllib.request.urlopen(url + "nimf-e2e-ping", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Voilà did not answer on port {port} within "
                                f"{VOILA_STARTUP_S} s:\n{_log_tail(log_path)}", pytrace=False)
                time.sleep(0.5)
        yield url, log_path
    finally:
        shutdown()


def _local(url):
    host = urllib.parse.urlsplit(url).hostname
    return host in ("127.0.0.1", "localhost") or url.startswith(("data:", "blob:"))


@pytest.fixture
def page(tmp_path):
    """A page of headless Debian Chromium that can reach localhost only."""
    _require_tools()
    with chromium_page(tmp_path / "chromium-profile", _local,
                       {"width": 1280, "height": 1600}) as page:
        yield page


def _image_state(page, img):
    """(src, loaded) of the map image."""
    return img.evaluate("el => [el.src, el.complete && el.naturalWidth > 0]")


def _raise_if_traceback(page):
    """Fail at once when a notebook cell raised (Voilà shows the traceback in the page)."""
    tracebacks = page.locator(TRACEBACK)
    if tracebacks.count():
        raise AssertionError("the notebook raised:\n" + tracebacks.first.inner_text())
    return False


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.25)


def test_slider_redraws_component_map(voila_url, page, tmp_path):
    url, log_path = voila_url
    start = time.monotonic()
    img = page.locator(MAP).first
    try:
        # Voilà streams the page while the kernel runs the notebook; widgets render after
        page.goto(url, wait_until="domcontentloaded", timeout=RENDER_S * 1000)
        remaining = max(5.0, RENDER_S - (time.monotonic() - start))
        _wait(lambda: img.is_visible() or _raise_if_traceback(page), remaining,
              "the component map to be shown")
    except Exception as exc:   # show what Voilà and the page said
        try:
            page.screenshot(path=str(tmp_path / "page_on_failure.png"), full_page=True,
                            timeout=10_000)
        except Exception:
            pass
        try:
            text = page.locator("body").inner_text(timeout=5000)[-3000:]
        except Exception as inner:
            text = f"(page text unavailable: {inner})"
        raise AssertionError(f"component map not shown: {exc}\n--- page ---\n{text}\n"
                             f"--- voila log ---\n{_log_tail(log_path)}") from exc
    _wait(lambda: _image_state(page, img)[1], REDRAW_S, "the first map to load")

    readout = page.locator(READOUT).first
    readout.wait_for(state="visible", timeout=REDRAW_S * 1000)
    before_value = readout.inner_text().strip()
    before_src = _image_state(page, img)[0]
    first = tmp_path / "map_before.png"
    img.screenshot(path=str(first), timeout=REDRAW_S * 1000)

    handle = page.locator(HANDLE).first
    handle.focus(timeout=REDRAW_S * 1000)
    page.keyboard.press("ArrowRight")

    after_value = _wait(lambda: (v := readout.inner_text().strip()) != before_value and v,
                        REDRAW_S, "the slider readout to change")
    _wait(lambda: (lambda s: s[0] != before_src and s[1])(_image_state(page, img)),
          REDRAW_S, "the map image to be redrawn")
    second = tmp_path / "map_after.png"
    img.screenshot(path=str(second), timeout=REDRAW_S * 1000)

    assert int(after_value) == int(before_value) + 1, (before_value, after_value)
    shot_a, shot_b = first.read_bytes(), second.read_bytes()
    assert shot_a[:8] == shot_b[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot_a != shot_b, "the map looks the same after moving the slider"

    a, b = imread(str(first)), imread(str(second))
    assert a.shape == b.shape and a.shape[0] > 20 and a.shape[1] > 20
    changed = np.any(a != b, axis=-1).mean()
    assert changed > 0.01, f"only {changed:.2%} of the map's pixels changed"
    if page.blocked_requests:   # shown with -rA: what the page tried to fetch from outside
        print("blocked (not localhost):", *sorted(set(page.blocked_requests)), sep="\n  ")
