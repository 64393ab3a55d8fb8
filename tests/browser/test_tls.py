"""The viewer page over HTTPS (``--tls-cert``/``--tls-key``) in headless Chromium:
page, status polls and the stream all come through the server's own TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.chromium import Tabs, changes
from support.server import ServerProcess
from support.tls import make_certificate
from support.waiting import LIVENESS, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[ServerProcess]:
    cert, key = make_certificate(tmp_path)
    with ServerProcess(
        "--camera",
        "emulated?fps=10",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        verify=str(cert),
    ) as server:
        yield server


@pytest.fixture
def https_tabs(browser: Browser, artifacts: Path) -> Iterator[Tabs]:
    # The test's certificate is self-signed: the browser is told to accept it,
    # as a user does once for a camera on the LAN.
    context = browser.new_context(viewport={"width": 960, "height": 640}, ignore_https_errors=True)
    context.set_default_timeout(LIVENESS * 1000)
    tabs = Tabs(context)
    yield tabs
    for viewer in tabs.opened:
        if not viewer.page.is_closed():
            viewer.page.screenshot(path=artifacts / "test_viewer_page_over_https.png")
    context.close()
    assert not tabs.errors, f"uncaught JavaScript errors: {tabs.errors}"


def test_viewer_page_over_https(https_server: ServerProcess, https_tabs: Tabs) -> None:
    viewer = https_tabs.new()
    viewer.open(https_server.url("/"))
    assert viewer.page.url.startswith("https://")
    wait_until(viewer.picture_ready, LIVENESS, message="the page never showed a picture")
    wait_until(changes(viewer.shown_frame), LIVENESS, message="the picture never changed")
    assert viewer.shown_frame() in (1, 2, 3)
    wait_until(lambda: viewer.status_field("clients") == "1 viewer", LIVENESS)
    assert https_server.status()["clients"] == 1
