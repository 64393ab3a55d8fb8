"""The viewer's settings panel in headless Chromium, against the real server.

What a user does: opens the panel with the keyboard, turns the camera by 90°,
and sees the picture's aspect change on the page, with the stream never
dropped (the server still counts one viewer, with the same connection).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from mjpeg_server.picture import Orientation
from support.chromium import FRAMES_DIR, ViewerPage
from support.exif import exif_app1, with_exif
from support.server import ServerProcess
from support.waiting import LIVENESS, wait_until


def shown_aspect(viewer: ViewerPage) -> float:
    """Width / height of the picture as painted (bright pixels; the letterbox is black)."""
    with Image.open(io.BytesIO(viewer.page.locator("#stage").screenshot())) as shot:
        box = shot.convert("L").point(lambda v: 255 if v > 60 else 0).getbbox()
    assert box is not None
    left, top, right, bottom = box
    return (right - left) / (bottom - top)


def open_live(viewer: ViewerPage, url: str) -> None:
    viewer.open(url)
    wait_until(viewer.picture_ready, LIVENESS, message="the page never showed a picture")


def test_rotating_by_90_with_the_keyboard_changes_the_pictures_aspect(
    viewer: ViewerPage,
) -> None:
    with ServerProcess("--camera", "emulated?fps=10") as server:
        open_live(viewer, server.url("/"))
        assert abs(shown_aspect(viewer) - 640 / 480) < 0.03
        page = viewer.page
        toggle = page.get_by_role("button", name="Settings")
        assert toggle.get_attribute("aria-expanded") == "false"
        toggle.focus()
        page.keyboard.press("Enter")
        panel = page.get_by_role("form", name="Camera settings")
        wait_until(panel.is_visible, LIVENESS)
        assert toggle.get_attribute("aria-expanded") == "true"
        rotate = page.get_by_label("rotate", exact=True)
        wait_until(rotate.is_visible, LIVENESS)
        # Every control is labelled and reachable; the first one has the focus.
        for name in ("fps", "size", "quality", "rotate", "hflip", "vflip", "overlay"):
            assert page.get_by_label(name, exact=True).count() == 1, name
        assert page.evaluate("document.activeElement.id") == "control-fps"
        rotate.focus()
        page.keyboard.press("ArrowDown")  # 0 → 90
        assert rotate.input_value() == "90"
        page.get_by_role("button", name="Apply").focus()
        page.keyboard.press("Enter")
        wait_until(lambda: page.locator("#settings-message").inner_text() == "Applied.", LIVENESS)
        wait_until(lambda: abs(shown_aspect(viewer) - 480 / 640) < 0.03, LIVENESS)
        # The same stream all along: a live change, no reconnection, no reopen.
        assert len(viewer.stream_requests) == 1
        status = server.camera_status()
        assert status["clients"] == 1
        assert status["opens"] == 1
        # Escape closes the panel and gives the focus back to its button.
        page.get_by_label("overlay", exact=True).focus()
        page.keyboard.press("Escape")
        assert not panel.is_visible()
        assert page.evaluate("document.activeElement.id") == "settings-toggle"


def test_a_refused_value_is_shown_and_changes_nothing(viewer: ViewerPage) -> None:
    with ServerProcess("--camera", "emulated?fps=10") as server:
        open_live(viewer, server.url("/"))
        page = viewer.page
        page.get_by_role("button", name="Settings").click()
        fps = page.get_by_label("fps", exact=True)
        wait_until(fps.is_visible, LIVENESS)
        fps.fill("0")
        page.get_by_role("button", name="Apply").click()
        message = page.locator("#settings-message")
        wait_until(lambda: "fps must be positive" in message.inner_text(), LIVENESS)
        assert "error" in (message.get_attribute("class") or "")
        assert server.camera_status()["fps_configured"] == 10


def test_a_reopen_keeps_the_page_on_its_stream(viewer: ViewerPage) -> None:
    with ServerProcess("--camera", "emulated?fps=10") as server:
        open_live(viewer, server.url("/"))
        page = viewer.page
        page.get_by_role("button", name="Settings").click()
        size = page.get_by_label("size", exact=True)
        wait_until(size.is_visible, LIVENESS)
        size.fill("320x320")
        page.get_by_role("button", name="Apply").click()
        message = page.locator("#settings-message")
        wait_until(lambda: message.inner_text() == "Applied; the camera reopened.", LIVENESS)
        wait_until(lambda: abs(shown_aspect(viewer) - 1.0) < 0.03, LIVENESS)
        assert len(viewer.stream_requests) == 1  # no reconnection: the gap was in the stream
        assert server.camera_status()["opens"] == 2


def test_chromium_honours_an_exif_orientation_tag(viewer: ViewerPage, tmp_path: Path) -> None:
    """Browsers would turn a tagged frame themselves (the other readers do not:
    tests/unit/test_rotation_viewers.py), which is why EXIF alone is not enough."""
    tag = exif_app1(Orientation(rotate=90).exif)
    for path in sorted(FRAMES_DIR.glob("*.jpg")):
        (tmp_path / path.name).write_bytes(with_exif(path.read_bytes(), tag))
    with ServerProcess("--camera", f"emulated:{tmp_path}?fps=10") as server:
        open_live(viewer, server.url("/"))
        assert abs(shown_aspect(viewer) - 480 / 640) < 0.03


@pytest.mark.parametrize("rotate", [90, 270])
def test_a_camera_started_turned_shows_portrait(viewer: ViewerPage, rotate: int) -> None:
    with ServerProcess("--camera", f"emulated?fps=10&rotate={rotate}") as server:
        open_live(viewer, server.url("/"))
        assert abs(shown_aspect(viewer) - 480 / 640) < 0.03
