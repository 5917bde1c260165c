"""What the browser tests need, shared by them: Debian's Chromium, its flags, and the rule
that a missing tool skips the test locally but fails it under CI."""
import contextlib
import importlib.util
import os

import pytest

CHROMIUM = "/usr/bin/chromium"
# headless, and nothing that would reach the network on its own
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def in_ci():
    """Whether the ``CI`` variable is set to something true."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_tools(what, modules):
    """Skip (fail under CI) unless Chromium and the Python ``modules`` are there.

    ``modules`` maps an importable module name to the package that provides it.
    """
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian package 'chromium'; .ci/run installs it)")
    for module, package in modules.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a parent package is missing
            found = False
        if not found:
            missing.append(f"Python package '{package}' (pip install \".[test]\")")
    if missing:
        reason = f"{what} needs " + "; ".join(missing)
        if in_ci():
            pytest.fail(reason + " -- CI is set, so this is an error, not a skip", pytrace=False)
        pytest.skip(reason)


@contextlib.contextmanager
def chromium_page(profile, allowed, viewport):
    """A page of headless Debian Chromium with a fresh profile folder ``profile``.

    Requests whose URL ``allowed(url)`` refuses are aborted and listed in
    ``page.blocked_requests`` (the tests must not reach the network).
    """
    from playwright.sync_api import sync_playwright

    blocked = []

    def route(request_route):
        url = request_route.request.url
        if allowed(url):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport=viewport, timeout=60_000)
        try:
            context.route("**/*", route)
            page = context.pages[0] if context.pages else context.new_page()
            page.blocked_requests = blocked
            yield page
        finally:
            context.close()
