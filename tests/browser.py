"""Browser-test helpers: a live server for a Flask app and Debian's chromium through Playwright.

Use from a test module with

    pytest_plugins = ["tests.browser"]

Fixtures:
  live_server  the `app` fixture served on 127.0.0.1 (free port, threaded); yields the base URL
  browser      one headless chromium (/usr/bin/chromium) for the whole session
  new_page     new_page(**context_options) -> Page, each in a fresh context (viewport, is_mobile,
               device_scale_factor, ...); default viewport 1280x800, zh-CN, Asia/Shanghai
  page         new_page() for tests that need one page at the default size

Every page these fixtures make is watched: a console error (including Chromium's "Failed to load
resource" for a 4xx/5xx) or an uncaught page error fails the test at teardown, so no page may
raise one. A test that provokes one on purpose takes `browser_errors` and clears it.

Playwright's browsers are never downloaded (`playwright install` needs a network): the system
chromium is launched by path. Without a CJK font Chromium draws every Chinese character as a
box, so no screenshot could show a defect: the `browser` fixture fails at once when
`fc-list :lang=zh` finds none (Debian: fonts-noto-cjk; .ci/run installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
DEFAULT_VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 5_000  # for actions and navigation; everything here is local and quick


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 on a free port in a daemon thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as url:
        yield url


def cjk_fonts() -> list[str]:
    """The fonts fontconfig offers for Chinese (what Chromium falls back to), one per line."""
    if shutil.which("fc-list") is None:
        return []
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                            timeout=30, check=False)
    return [line for line in listed.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not cjk_fonts():
        pytest.fail("no CJK font: `fc-list :lang=zh` lists nothing, so Chromium would draw Chinese"
                    " as boxes. Install one (Debian: apt-get install fonts-noto-cjk).",
                    pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_errors() -> list[str]:
    """Console errors and page errors of this test's pages, so far."""
    return []


@pytest.fixture
def new_page(browser: Browser, browser_errors: list[str]) -> Iterator[Callable[..., Page]]:
    contexts: list[BrowserContext] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            browser_errors.append(f"console error: {message.text} {where}".rstrip())

    def make(**context_options: Any) -> Page:
        options: dict[str, Any] = {"viewport": DEFAULT_VIEWPORT, "locale": "zh-CN",
                                   "timezone_id": "Asia/Shanghai", **context_options}
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.on("console", on_console)
        context.on("weberror", lambda error: browser_errors.append(f"page error: {error.error}"))
        contexts.append(context)
        return context.new_page()

    yield make
    seen = list(browser_errors)  # before closing: a fetch cut short by the close is not the page's
    for context in contexts:
        context.close()
    if seen:
        pytest.fail("the browser reported errors:\n" + "\n".join(seen), pytrace=False)


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()
