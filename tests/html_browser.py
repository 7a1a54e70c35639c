"""Opening the project's self-contained HTML pages in headless Chromium (Playwright driving Debian's `chromium`).

`browser` is a module-scoped fixture (one browser per test module); `open_page` loads a page from its file URL with
every request routed through the test: the file itself is served, anything else is aborted and recorded, and so are
Content-Security-Policy violations and script errors. Import both into a test module:

    from html_browser import browser, open_page  # noqa: F401 (fixture)

The tests skip only when no Chromium executable exists (VARIFORMER_CHROMIUM, or `chromium` as Debian installs it);
under CI (CI set) a missing browser fails instead, since .ci/run installs it. Playwright itself is a test
dependency and is never asked to download a browser.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  function (event) { window.__violations.push(event.violatedDirective + " " + event.blockedURI); });
"""


def chromium_executable() -> str | None:
    """VARIFORMER_CHROMIUM, else the first Chromium found (Debian's real binary before its wrapper script)."""
    candidates = [os.environ.get("VARIFORMER_CHROMIUM"), *CHROMIUM_PATHS]
    for candidate in filter(None, candidates):
        found = candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    if executable is None:
        reason = (
            "no Chromium executable: install Debian's `chromium` package (apt-get install chromium) or set "
            "VARIFORMER_CHROMIUM to a Chromium binary"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; .ci/run installs it, so under CI this is an error")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


@dataclass
class OpenedPage:
    """A loaded page and what it tried to do: `requests` (every URL asked for, the page itself included),
    `errors` (uncaught script errors)."""

    page: object
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        """Content-Security-Policy violations so far (each a blocked fetch, script or style)."""
        return self.page.evaluate("window.__violations")

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if url != self.url]


def open_page(browser, path: Path, ready: str | None = "body[data-ready]") -> OpenedPage:
    """Open `path` in a fresh context, with every request but the file itself aborted and recorded; waits for
    the `ready` selector (the report's script sets body[data-ready] when its first render is done)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    opened = OpenedPage(page, Path(path).resolve().as_uri())

    def route(request_route):
        opened.requests.append(request_route.request.url)
        if request_route.request.url == opened.url:
            request_route.continue_()
        else:
            request_route.abort()

    page.route("**/*", route)
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.goto(opened.url)
    if ready:
        page.wait_for_selector(ready, state="attached", timeout=10_000)
    return opened
