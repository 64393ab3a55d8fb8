"""Headless Chromium for the browser tests: Debian's package, driven by Playwright.

No browser is ever downloaded (``playwright install`` is never run): Playwright
launches the system's ``chromium`` by path. Where Chromium or Playwright is
missing (a user's Pi), the tests skip with the reason, except when
``MJPEG_SERVER_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where that is a failure.

:class:`ViewerPage` reads the viewer page as a user sees it: which test frame is
painted (from a screenshot, not from the DOM), the status line, the overlay.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
from PIL import Image, ImageStat

# The one liveness bound: browser tests may import it from here too.
from support.waiting import LIVENESS  # noqa: F401

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, FloatRect, Page, Request

REQUIRE_BROWSER = "MJPEG_SERVER_REQUIRE_BROWSER"
#: An explicit browser binary, else the first of CANDIDATES on PATH.
BROWSER_PATH = "MJPEG_SERVER_CHROMIUM"
CANDIDATES = ("chromium", "chromium-browser")  # Debian; Raspberry Pi OS before bookworm

# --headless is Playwright's (headless=True). Without the networking switches
# Chromium's background requests fail noisily on a closed network; Playwright's
# launch() gives every browser a fresh temporary --user-data-dir of its own.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

#: Playwright's launch switches that make Chromium behave unlike a user's: users
#: have the back/forward cache, and a page that keeps its stream open when left
#: is evicted from it (measured: the stream then stays open ~9 s after leaving).
KEEP_DEFAULT_BEHAVIOUR = ("--disable-back-forward-cache",)

FRAMES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "frames"


def browser_required(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(REQUIRE_BROWSER, "") not in ("", "0")


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail where a browser is required (CI)."""
    if browser_required():
        pytest.fail(f"{reason} ({REQUIRE_BROWSER} is set: CI must run the browser tests)")
    pytest.skip(reason)


def find_chromium(environ: Mapping[str, str] = os.environ) -> str | None:
    explicit = environ.get(BROWSER_PATH)
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next(filter(None, map(shutil.which, CANDIDATES)), None)


# -- telling the test frames apart -------------------------------------------------


@cache
def frame_colours() -> dict[int, tuple[int, int, int]]:
    """Test frame number → its background colour, read from the fixture files
    (frame 1 red, 2 green, 3 blue; each shows its digit in the middle)."""
    colours = {}
    for path in sorted(FRAMES_DIR.glob("*.jpg")):
        with Image.open(path) as image:
            colours[int(path.stem)] = average_colour(image.convert("RGB").crop((4, 4, 20, 20)))
    return colours


def average_colour(image: Image.Image) -> tuple[int, int, int]:
    red, green, blue = (round(mean) for mean in ImageStat.Stat(image.convert("RGB")).mean)
    return red, green, blue


def identify_frame(colour: tuple[int, int, int], tolerance: int = 40) -> int | None:
    """Which test frame has this background colour; ``None`` for anything else
    (the "no signal" card, a broken image, the page's background)."""
    best, distance = None, tolerance + 1
    for number, reference in frame_colours().items():
        d = max(abs(a - b) for a, b in zip(colour, reference, strict=True))
        if d < distance:
            best, distance = number, d
    return best


def identify_jpeg(jpeg: bytes) -> int | None:
    with Image.open(io.BytesIO(jpeg)) as image:
        return identify_frame(average_colour(image.crop((4, 4, 20, 20))))


# -- the viewer page --------------------------------------------------------------

# Where the picture is painted inside the <img>: the page letterboxes it
# (object-fit: contain), so the element's corner may be black bars.
_PICTURE_RECT_JS = """(img) => {
    const box = img.getBoundingClientRect();
    const scale = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
    const width = img.naturalWidth * scale, height = img.naturalHeight * scale;
    return {x: box.x + (box.width - width) / 2, y: box.y + (box.height - height) / 2,
            width: width, height: height};
}"""


class ViewerPage:
    """The viewer page in one tab, read through screenshots and the DOM."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.stream = page.locator("#stream")
        self.overlay = page.locator("#overlay")
        #: URL of every stream request the page made, in order.
        self.stream_requests: list[str] = []
        page.on("request", self._record_request)

    def _record_request(self, request: Request) -> None:
        if "stream.mjpg" in request.url:
            self.stream_requests.append(request.url)

    def open(self, url: str) -> ViewerPage:
        self.page.goto(url)
        return self

    def picture_ready(self) -> bool:
        """A frame is on screen and no overlay hides it."""
        return (
            bool(self.stream.evaluate("img => img.complete && img.naturalWidth > 0"))
            and not self.overlay.is_visible()
        )

    def shown_frame(self) -> int | None:
        """The test frame the page paints now (screenshot of a patch of background)."""
        if not self.stream.evaluate("img => img.naturalWidth > 0"):
            return None
        rect = self.stream.evaluate(_PICTURE_RECT_JS)
        clip: FloatRect = {"x": rect["x"] + 4, "y": rect["y"] + 4, "width": 12, "height": 12}
        with Image.open(io.BytesIO(self.page.screenshot(clip=clip))) as patch:
            return identify_frame(average_colour(patch))

    def status_field(self, name: str) -> str:
        return self.page.locator(f'#status [data-field="{name}"]').inner_text()

    def stream_src(self) -> str:
        src: str = self.stream.evaluate("img => img.src")
        return src

    def set_visibility(self, state: str) -> None:
        """Make the page report ``state`` ("hidden"/"visible") and fire
        ``visibilitychange``: headless Chromium never hides a tab by itself."""
        self.page.evaluate(
            """(state) => {
                const define = (name, value) =>
                    Object.defineProperty(document, name, {value: value, configurable: true});
                define("visibilityState", state);
                define("hidden", state === "hidden");
                document.dispatchEvent(new Event("visibilitychange"));
            }""",
            state,
        )


@dataclass
class Tabs:
    """Opens viewer tabs in one browser context; remembers them for screenshots
    and collects uncaught JavaScript errors."""

    context: BrowserContext
    opened: list[ViewerPage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def new(self) -> ViewerPage:
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        viewer = ViewerPage(page)
        self.opened.append(viewer)
        return viewer


def changes(read: Callable[[], object]) -> Callable[[], bool]:
    """A condition that becomes true once ``read()`` returns something other than
    its first (non-``None``) value: "the picture changes over time"."""
    first: list[object] = []

    def changed() -> bool:
        value = read()
        if value is None:
            return False
        if not first:
            first.append(value)
            return False
        return value != first[0]

    return changed
