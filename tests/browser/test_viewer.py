"""The viewer page in headless Chromium against the real server process.

Every test reads what a user would see (screenshots, the status line, the
overlay) and checks the server's side of it through ``/status``: a page that
looks right but keeps a stream open, or opens two, fails here.
"""

from __future__ import annotations

import io
import re
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

import mjpeg_server
from support.chromium import FRAMES_DIR, Tabs, ViewerPage, changes, identify_jpeg
from support.promises import Promises
from support.server import ServerProcess
from support.tcp_proxy import TcpProxy
from support.waiting import LIVENESS, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ServerProcess]:
    with ServerProcess("--camera", "emulated?fps=10") as server:
        yield server


@pytest.fixture
def server(shared_server: ServerProcess) -> ServerProcess:
    """The module's server, once the previous test's tabs have let go of it."""
    wait_until(lambda: viewers(shared_server) == 0, LIVENESS, message="a stream is still open")
    return shared_server


def count(server: ServerProcess, field: str, camera: str = "default") -> int:
    """A counter from the camera's ``/status`` entry."""
    value = server.camera_status(camera)[field]
    assert isinstance(value, int)
    return value


def viewers(server: ServerProcess, camera: str = "default") -> int:
    return count(server, "clients", camera)


@contextmanager
def another_viewer(server: ServerProcess) -> Iterator[None]:
    """A second client on the default stream while the block runs."""
    with requests.get(server.url("/stream.mjpg"), stream=True, timeout=LIVENESS) as response:
        # Keep the iterator: urllib3 closes a response whose iterator is collected.
        chunks = response.iter_content(1024)
        next(chunks)
        yield


def open_live(viewer: ViewerPage, url: str) -> ViewerPage:
    viewer.open(url)
    wait_until(viewer.picture_ready, LIVENESS, message="the page never showed a picture")
    return viewer


def test_page_shows_the_stream_and_the_picture_changes(
    server: ServerProcess, viewer: ViewerPage
) -> None:
    open_live(viewer, server.url("/"))
    sent = count(server, "frames_sent")
    wait_until(changes(viewer.shown_frame), LIVENESS, message="the picture never changed")
    assert viewer.shown_frame() in (1, 2, 3)
    wait_until(lambda: count(server, "frames_sent") > sent, LIVENESS)


def test_page_holds_exactly_one_stream(server: ServerProcess, viewer: ViewerPage) -> None:
    open_live(viewer, server.url("/"))
    # Several status polls later the page still holds one stream, and asked once.
    for _ in range(2):
        with viewer.page.expect_response(lambda response: "/status" in response.url):
            pass
    assert viewers(server) == 1
    assert len(viewer.stream_requests) == 1, viewer.stream_requests


def test_chromium_asks_for_advance_headers(server: ServerProcess, viewer: ViewerPage) -> None:
    """crbug 527446: Blink browsers request the next part's headers early."""
    open_live(viewer, server.url("/"))
    query = parse_qs(urlsplit(viewer.stream_src()).query)
    assert query["advance_headers"] == ["1"]
    plain = requests.get(server.url("/"), timeout=LIVENESS).text  # no browser user agent
    assert "advance_headers" not in plain
    assert re.search(r'src="/cameras/default/stream\.mjpg\?_=[\w-]+"', plain)


def test_status_line_shows_the_live_numbers(server: ServerProcess, viewer: ViewerPage) -> None:
    open_live(viewer, server.url("/"))
    wait_until(lambda: viewer.status_field("state") == "streaming", LIVENESS)
    assert viewer.status_field("resolution") == "640\N{MULTIPLICATION SIGN}480"
    wait_until(lambda: viewer.status_field("clients") == "1 viewer", LIVENESS)
    # Configured 10 fps; a measurement (0 until the camera has delivered a few frames).
    wait_until(lambda: 2 <= float(viewer.status_field("fps").removesuffix(" fps")) <= 20, LIVENESS)
    # The line follows the server: a second viewer shows up at the next refresh.
    with another_viewer(server):
        wait_until(lambda: viewer.status_field("clients") == "2 viewers", LIVENESS)
    wait_until(lambda: viewer.status_field("clients") == "1 viewer", LIVENESS)


def test_snapshot_downloads_a_jpeg_named_with_the_time(
    server: ServerProcess, viewer: ViewerPage, artifacts: Path
) -> None:
    open_live(viewer, server.url("/"))
    with viewer.page.expect_download() as download_info:
        viewer.page.get_by_role("link", name="Snapshot").click()
    download = download_info.value
    # Named by the server after the camera and the frame's local time.
    name = re.fullmatch(r"default-(\d{8}-\d{6})\.jpg", download.suggested_filename)
    assert name is not None, download.suggested_filename
    taken = time.mktime(time.strptime(name[1], "%Y%m%d-%H%M%S"))
    assert abs(time.time() - taken) < LIVENESS
    target = artifacts / "snapshot.jpg"
    download.save_as(target)
    jpeg = target.read_bytes()
    assert jpeg.startswith(b"\xff\xd8")
    assert jpeg.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG"
        assert image.size == (640, 480)
        image.load()  # decodes the whole picture: truncated data raises here
    assert identify_jpeg(jpeg) in (1, 2, 3)


def test_navigating_away_releases_the_stream(
    server: ServerProcess, viewer: ViewerPage, promises: Promises
) -> None:
    open_live(viewer, server.url("/"))
    assert viewers(server) == 1
    viewer.page.evaluate("window.stillTheSamePage = true")
    viewer.page.goto(server.url("/healthz"))
    promises.keep("leaving the page drops the viewer", 2.0, lambda: viewers(server) == 0)
    # Back: a page that let go of its stream is kept in the back/forward cache
    # (one holding it is evicted), restored as it was, and streams again.
    viewer.page.go_back(wait_until="commit")
    wait_until(lambda: viewer.page.evaluate("window.stillTheSamePage === true"), LIVENESS)
    wait_until(lambda: viewers(server) == 1, LIVENESS)
    wait_until(changes(viewer.shown_frame), LIVENESS)


def test_hidden_page_releases_the_stream(server: ServerProcess, viewer: ViewerPage) -> None:
    open_live(viewer, server.url("/"))
    viewer.set_visibility("hidden")
    wait_until(lambda: viewers(server) == 0, LIVENESS, message="a hidden page kept its stream")
    viewer.set_visibility("visible")
    wait_until(lambda: viewers(server) == 1, LIVENESS)
    wait_until(changes(viewer.shown_frame), LIVENESS)


def test_pause_releases_the_stream_and_keeps_the_picture(
    server: ServerProcess, viewer: ViewerPage
) -> None:
    open_live(viewer, server.url("/"))
    pause = viewer.page.get_by_role("button", name="Pause")
    pause.click()
    resume = viewer.page.get_by_role("button", name="Resume")
    wait_until(lambda: viewers(server) == 0, LIVENESS)
    frozen = viewer.shown_frame()
    assert frozen in (1, 2, 3)  # the last frame stays on screen, not a broken image
    assert viewer.stream.get_attribute("alt") == "Paused: the last frame from camera default"
    # Frozen while the camera moves on (it stays open for --idle-timeout).
    captured = count(server, "frames_captured")
    wait_until(lambda: count(server, "frames_captured") >= captured + 5, LIVENESS)
    assert viewer.shown_frame() == frozen
    assert not viewer.overlay.is_visible()
    # Resume with the keyboard.
    resume.focus()
    viewer.page.keyboard.press("Enter")
    wait_until(lambda: viewers(server) == 1, LIVENESS)
    wait_until(changes(viewer.shown_frame), LIVENESS)
    assert viewer.page.get_by_role("button", name="Pause").is_visible()
    assert viewer.stream.get_attribute("alt") == "Live video from camera default"


def test_fullscreen_button(server: ServerProcess, viewer: ViewerPage) -> None:
    open_live(viewer, server.url("/"))
    viewer.page.get_by_role("button", name="Full screen").click()
    wait_until(
        lambda: viewer.page.evaluate("document.fullscreenElement === document.documentElement"),
        LIVENESS,
    )
    assert not viewer.page.locator("header").is_visible()  # the picture gets the room
    viewer.page.get_by_role("button", name="Exit full screen").click()
    wait_until(lambda: viewer.page.evaluate("document.fullscreenElement") is None, LIVENESS)
    assert viewer.page.get_by_role("button", name="Full screen").is_visible()


def test_second_tab_and_status_load_while_two_streams_are_open(
    server: ServerProcess, tabs: Tabs
) -> None:
    first = open_live(tabs.new(), server.url("/"))
    second = open_live(tabs.new(), server.url("/"))
    wait_until(lambda: viewers(server) == 2, LIVENESS)
    # A request from a page that holds a stream, and a page load in a third tab.
    assert first.page.evaluate("fetch('/status').then(r => r.status)") == 200
    third = tabs.new()
    response = third.page.goto(server.url("/status"))
    assert response is not None
    assert response.ok
    assert response.json()["cameras"]["default"]["clients"] == 2
    wait_until(changes(second.shown_frame), LIVENESS)


def test_keyboard_reaches_every_control_with_visible_focus(
    server: ServerProcess, viewer: ViewerPage
) -> None:
    open_live(viewer, server.url("/"))
    focused: list[str] = []
    for _ in range(3):
        viewer.page.keyboard.press("Tab")
        name, outline = viewer.page.evaluate(
            """() => {
                const element = document.activeElement, style = getComputedStyle(element);
                const width = style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth);
                return [element.textContent.trim(), width];
            }"""
        )
        assert outline >= 2, f"{name!r} has no visible focus"
        focused.append(name)
    assert focused == ["Snapshot", "Pause", "Full screen"]
    assert viewer.stream.get_attribute("alt") == "Live video from camera default"
    # Space on the focused button pauses.
    viewer.page.get_by_role("button", name="Pause").focus()
    viewer.page.keyboard.press(" ")
    assert viewer.page.get_by_role("button", name="Resume").is_visible()


@pytest.mark.parametrize(("width", "height"), [(1200, 500), (480, 900)])
def test_picture_fills_the_window_keeping_its_aspect_ratio(
    server: ServerProcess, viewer: ViewerPage, width: int, height: int
) -> None:
    viewer.page.set_viewport_size({"width": width, "height": height})
    open_live(viewer, server.url("/"))
    stage = viewer.page.locator("#stage").bounding_box()
    assert stage is not None
    # The picture is where the screenshot is bright (the test cards are bright,
    # the letterbox black): measured on screen, not computed from CSS.
    with Image.open(io.BytesIO(viewer.page.locator("#stage").screenshot())) as shot:
        bright = shot.convert("L").point(lambda v: 255 if v > 60 else 0)
        box = bright.getbbox()
    assert box is not None
    left, top, right, bottom = box
    shown_w, shown_h = right - left, bottom - top
    assert abs(shown_w / shown_h - 640 / 480) < 0.02
    # It fills the stage in the limiting direction, centred in the other.
    if stage["width"] / stage["height"] > 640 / 480:
        assert shown_h >= stage["height"] - 2
        assert abs(left - (stage["width"] - right)) <= 2
    else:
        assert shown_w >= stage["width"] - 2
        assert abs(top - (stage["height"] - bottom)) <= 2
    scroll = viewer.page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert scroll == [width, height]  # no scroll bars


def test_reconnects_by_itself_after_a_server_restart(tabs: Tabs, promises: Promises) -> None:
    viewer = tabs.new()
    with ServerProcess("--camera", "emulated?fps=10") as first:
        open_live(viewer, first.url("/"))
        port = urlsplit(first.base_url).port
        assert port is not None
        first.stop(signal.SIGTERM)
    wait_until(viewer.overlay.is_visible, LIVENESS, message="no overlay after the stream dropped")
    assert "Reconnecting" in viewer.overlay.inner_text()
    with ServerProcess("--camera", "emulated?fps=10", "--port", str(port)) as second:
        promises.keep("the page reconnects after a restart", 5.0, lambda: viewers(second) == 1)
        wait_until(viewer.picture_ready, LIVENESS)
        wait_until(changes(viewer.shown_frame), LIVENESS)
        assert viewers(second) == 1
    # Every connection used a new URL (Firefox may not reconnect to the same one).
    streams = viewer.stream_requests
    assert len(streams) >= 2
    assert len(set(streams)) == len(streams)


def test_tells_when_a_restarted_server_lost_the_camera(tabs: Tabs) -> None:
    viewer = tabs.new()
    with ServerProcess("--camera", "front=emulated?fps=10") as first:
        open_live(viewer, first.url("/cameras/front/"))
        port = urlsplit(first.base_url).port
        assert port is not None
    with ServerProcess("--camera", "back=emulated?fps=10", "--port", str(port)):
        wait_until(lambda: "no camera “front”" in viewer.overlay.inner_text(), LIVENESS)
        wait_until(lambda: viewer.status_field("state") == "no such camera", LIVENESS)


def test_notices_a_restart_between_two_status_polls(tabs: Tabs) -> None:
    """Chrome fires no event when a stream ends. A server restarted between two
    polls, which other viewers reached first, answers the next poll and counts
    viewers: only its younger uptime tells the page that its stream is gone."""
    viewer = tabs.new()
    script = (Path(mjpeg_server.__file__).parent / "server" / "static" / "viewer.js").read_text()
    poll_line = next(
        number
        for number, line in enumerate(script.splitlines())
        if "const sentAt = performance.now();" in line
    )
    paused: list[object] = []

    def on_paused(event: object) -> None:
        paused.append(event)

    def has_paused() -> bool:
        viewer.page.wait_for_timeout(50)  # Playwright delivers events only in its calls
        return bool(paused)

    debugger = viewer.page.context.new_cdp_session(viewer.page)
    debugger.on("Debugger.paused", on_paused)
    debugger.send("Debugger.enable")
    with ServerProcess("--camera", "emulated?fps=10") as first:
        open_live(viewer, first.url("/"))
        port = urlsplit(first.base_url).port
        assert port is not None
        # Hold the page at the start of its next status poll (the debugger
        # stops it there), and restart the server while it waits.
        debugger.send(
            "Debugger.setBreakpointByUrl", {"lineNumber": poll_line, "urlRegex": r"viewer\.js"}
        )
        wait_until(has_paused, LIVENESS)
        first.stop(signal.SIGTERM)
    with (
        ServerProcess("--camera", "emulated?fps=10", "--port", str(port)) as second,
        another_viewer(second),
    ):
        debugger.send("Debugger.disable")  # drops the breakpoint and resumes the poll
        wait_until(lambda: viewers(second) == 2, LIVENESS, message="the page never came back")
        wait_until(viewer.picture_ready, LIVENESS)
        wait_until(changes(viewer.shown_frame), LIVENESS)


def test_reconnects_when_the_network_drops_the_stream(
    server: ServerProcess, viewer: ViewerPage
) -> None:
    """The server stays up and answers every poll; only the stream's connection
    dies, while another viewer keeps watching (so the viewer count never drops
    to 0). The page asks /status about its own stream, sees it gone and
    reconnects."""
    port = urlsplit(server.base_url).port
    assert port is not None
    with TcpProxy(("127.0.0.1", port)) as network, another_viewer(server):
        open_live(viewer, network.url("/"))
        wait_until(lambda: viewers(server) == 2, LIVENESS)
        assert network.cut(b"stream.mjpg") == 1
        wait_until(lambda: viewers(server) == 1, LIVENESS)
        wait_until(lambda: viewers(server) == 2, LIVENESS, message="the page never came back")
        wait_until(viewer.picture_ready, LIVENESS)
        wait_until(changes(viewer.shown_frame), LIVENESS)


def test_camera_picker_switches_cameras(tabs: Tabs, tmp_path: Path) -> None:
    blue_only = tmp_path / "blue"
    blue_only.mkdir()
    shutil.copy(FRAMES_DIR / "3.jpg", blue_only / "3.jpg")
    with ServerProcess(
        "--camera", "front=emulated?fps=10", "--camera", f"back=emulated:{blue_only}?fps=10"
    ) as server:
        viewer = open_live(tabs.new(), server.url("/"))
        picker = viewer.page.get_by_role("navigation", name="Cameras")
        assert picker.get_by_role("link").all_inner_texts() == ["front", "back"]
        assert picker.get_by_role("link", name="front").get_attribute("aria-current") == "page"
        picker.get_by_role("link", name="back").click()
        viewer.page.wait_for_url(server.url("/cameras/back/"))
        wait_until(viewer.picture_ready, LIVENESS)
        wait_until(lambda: viewer.shown_frame() == 3, LIVENESS)
        wait_until(lambda: viewers(server, "back") == 1 and viewers(server, "front") == 0, LIVENESS)
        wait_until(lambda: viewer.status_field("state") == "streaming", LIVENESS)


def test_single_camera_has_no_picker(server: ServerProcess, viewer: ViewerPage) -> None:
    open_live(viewer, server.url("/"))
    assert viewer.page.get_by_role("navigation").count() == 0


def test_page_works_without_javascript(
    server: ServerProcess, browser: Browser, artifacts: Path
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        viewer = open_live(ViewerPage(context.new_page()), server.url("/"))
        wait_until(changes(viewer.shown_frame), LIVENESS)
        # Controls that need JavaScript are not offered; the links work.
        assert not viewer.page.get_by_role("button").count()
        href = viewer.page.get_by_role("link", name="Snapshot").get_attribute("href")
        assert href is not None
        assert identify_jpeg(requests.get(server.url(href), timeout=LIVENESS).content)
        assert viewer.page.get_by_role("link", name="Server status").is_visible()
        viewer.page.screenshot(path=artifacts / "test_page_works_without_javascript.png")
    finally:
        context.close()
