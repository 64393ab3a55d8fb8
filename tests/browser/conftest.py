"""Fixtures for the browser tests: one headless Chromium per session, a fresh
context (profile, cookies, connection pool) per test, and artifacts.

Every tab a test opens is screenshotted into ``artifacts/browser/`` when the
test ends (pass or fail), and an uncaught JavaScript error fails the test.
Measured product promises ("within 2 s") go to ``artifacts/browser/promises.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.chromium import (
    CHROMIUM_ARGS,
    KEEP_DEFAULT_BEHAVIOUR,
    Tabs,
    ViewerPage,
    find_chromium,
    unavailable,
)
from support.promises import Promises
from support.waiting import LIVENESS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

VIEWPORT = {"width": 960, "height": 640}


@pytest.fixture(scope="session")
def artifacts(pytestconfig: pytest.Config) -> Path:
    path = pytestconfig.rootpath / "artifacts" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        # Imported here: without Playwright the tests skip (or fail in CI) with
        # a reason, instead of breaking collection.
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        unavailable("Playwright is not installed (pip install playwright; no browser download)")
    executable = find_chromium()
    if executable is None:
        unavailable("Chromium not found (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
            ignore_default_args=list(KEEP_DEFAULT_BEHAVIOUR),
        )
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    ctx.set_default_timeout(LIVENESS * 1000)
    yield ctx
    ctx.close()


@pytest.fixture
def tabs(
    context: BrowserContext, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Tabs]:
    opened = Tabs(context)
    yield opened
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    for index, viewer in enumerate(opened.opened):
        if not viewer.page.is_closed():
            suffix = f"-{index + 1}" if len(opened.opened) > 1 else ""
            viewer.page.screenshot(path=artifacts / f"{name}{suffix}.png")
    assert not opened.errors, f"uncaught JavaScript errors: {opened.errors}"


@pytest.fixture
def viewer(tabs: Tabs) -> ViewerPage:
    """The first tab."""
    return tabs.new()


@pytest.fixture(scope="session")
def promises(artifacts: Path) -> Iterator[Promises]:
    kept = Promises()
    yield kept
    (artifacts / "promises.json").write_text(json.dumps(kept.measured, indent=2) + "\n")
