"""The Flask app's routes, through Flask's test client (no sockets: see test_server.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mjpeg_server.cameras import CameraSpec
from mjpeg_server.config import CameraConfig, ConfigError, Settings, parse_camera_arg
from mjpeg_server.hub import HubState
from mjpeg_server.server.app import ServerState, create_app, layout_for_user_agent
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size
from mjpeg_server.wire.multipart import Layout


def make_app(*cameras: str, **settings: object) -> Flask:
    configs = tuple(parse_camera_arg(text, i) for i, text in enumerate(cameras or ("emulated",)))
    return create_app(Settings(cameras=configs, **settings))  # type: ignore[arg-type]


@pytest.fixture
def app() -> Iterator[Flask]:
    app = make_app("emulated?fps=50", idle_timeout=0.2)
    yield app
    ServerState.of(app).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def read_stream(response: TestResponse, parts: int) -> bytes:
    """The opening delimiter and the next ``parts`` chunks of a streaming response."""
    chunks = iter(response.response)
    return b"".join(next(chunks) for _ in range(parts + 1))


def test_stream_headers_and_first_parts(client: FlaskClient, app: Flask) -> None:
    response = client.get("/stream.mjpg")
    try:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=mjpegframe"
        assert "no-store" in response.headers["Cache-Control"]
        assert response.headers["X-Accel-Buffering"] == "no"
        body = read_stream(response, 2)
        assert body.startswith(b"--mjpegframe\r\nContent-Type: image/jpeg\r\nContent-Length: ")
        assert body.count(b"X-Frame-Seq: ") == 2
        assert body.count(b"X-Timestamp: ") == 2
        assert body.endswith(b"\r\n--mjpegframe\r\n")
        assert ServerState.of(app).hubs["default"].clients == 1
    finally:
        response.close()
    # Closing the response leaves the hub at once.
    assert ServerState.of(app).hubs["default"].clients == 0
    assert ServerState.of(app).slots.active == 0


def test_closing_a_stream_that_never_started_still_releases_everything(
    client: FlaskClient, app: Flask
) -> None:
    # A client that hangs up before the server writes anything: the WSGI server
    # calls close() on a body it never iterated.
    response = client.get("/video_feed")
    response.close()
    assert ServerState.of(app).hubs["default"].clients == 0
    assert ServerState.of(app).slots.active == 0


def test_video_feed_is_the_default_stream(client: FlaskClient) -> None:
    response = client.get("/video_feed")
    try:
        assert response.status_code == 200
        assert read_stream(response, 1).startswith(b"--mjpegframe\r\n")
    finally:
        response.close()


def test_snapshot_is_a_fresh_jpeg(client: FlaskClient) -> None:
    response = client.get("/snapshot.jpg")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert is_complete_jpeg(response.data)
    assert jpeg_size(response.data) == (640, 480)
    assert response.headers["Content-Disposition"].startswith('inline; filename="default-')
    assert int(response.headers["X-Frame-Seq"]) >= 0
    assert float(response.headers["X-Timestamp"]) > 1e9


def test_snapshot_without_a_frame_is_503_with_retry_after() -> None:
    app = make_app("emulated?stall_after=0", snapshot_timeout=0.2)
    try:
        response = app.test_client().get("/snapshot.jpg")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "2"
    finally:
        ServerState.of(app).close()


def test_max_clients_refuses_the_next_stream_but_not_other_pages() -> None:
    app = make_app("emulated?fps=50", max_clients=2)
    client = app.test_client()
    try:
        streams = [client.get("/stream.mjpg") for _ in range(2)]
        refused = client.get("/stream.mjpg")
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        assert client.get("/status").status_code == 200
        assert client.get("/").status_code == 200
        assert client.get("/snapshot.jpg").status_code == 200
        streams[0].close()
        again = client.get("/stream.mjpg")
        assert again.status_code == 200
        again.close()
        streams[1].close()
    finally:
        ServerState.of(app).close()


def test_status_reports_server_and_cameras(client: FlaskClient) -> None:
    response = client.get("/stream.mjpg")
    try:
        read_stream(response, 3)
        status = client.get("/status").get_json()
    finally:
        response.close()
    assert status["clients"] == 1
    assert status["max_clients"] == 50
    assert status["default_camera"] == "default"
    assert status["uptime_s"] >= 0
    camera = status["cameras"]["default"]
    assert camera["state"] == "streaming"
    assert camera["clients"] == 1
    assert camera["resolution"] == [640, 480]
    assert camera["frames_captured"] >= 3
    assert camera["frames_sent"] >= 3
    assert camera["fps_configured"] == 50
    assert camera["urls"]["stream"] == "/cameras/default/stream.mjpg"
    assert client.get("/status").get_json()["clients"] == 0


def test_several_cameras_each_under_their_name() -> None:
    app = make_app("front=emulated?fps=50", "back=emulated?fps=25")
    client = app.test_client()
    try:
        status = client.get("/status").get_json()
        assert list(status["cameras"]) == ["front", "back"]
        assert status["default_camera"] == "front"
        back = client.get("/cameras/back/stream.mjpg")
        read_stream(back, 1)
        status = client.get("/status").get_json()
        assert status["cameras"]["back"]["clients"] == 1
        assert status["cameras"]["front"]["clients"] == 0
        back.close()
        assert client.get("/cameras/front/snapshot.jpg").status_code == 200
        assert client.get("/cameras/back/").status_code == 200
        assert client.get("/cameras/nope/stream.mjpg").status_code == 404
        assert client.get("/cameras/nope/").status_code == 404
    finally:
        ServerState.of(app).close()


def test_viewer_page_shows_the_stream(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "/cameras/default/stream.mjpg" in page
    assert "alt=" in page


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"


def test_stream_ends_when_the_server_closes(client: FlaskClient, app: Flask) -> None:
    response = client.get("/stream.mjpg")
    chunks = iter(response.response)
    next(chunks)
    next(chunks)
    ServerState.of(app).close()
    # The body runs out instead of blocking forever.
    rest = list(chunks)
    assert len(rest) <= 1
    response.close()
    assert ServerState.of(app).hubs["default"].state is HubState.CLOSED


def test_camera_config_rejects_bad_names() -> None:
    with pytest.raises(ConfigError, match="invalid camera name"):
        CameraConfig("no spaces", CameraSpec.parse("emulated"))


def test_status_says_whether_a_pages_own_stream_is_open(client: FlaskClient) -> None:
    assert "viewer_connected" not in client.get("/status").get_json()
    response = client.get("/stream.mjpg?_=page-1")
    try:
        read_stream(response, 1)
        assert client.get("/status?viewer=page-1").get_json()["viewer_connected"] is True
        assert client.get("/status?viewer=page-2").get_json()["viewer_connected"] is False
    finally:
        response.close()
    assert client.get("/status?viewer=page-1").get_json()["viewer_connected"] is False


def test_viewer_page_names_its_stream(client: FlaskClient) -> None:
    first = client.get("/").get_data(as_text=True)
    second = client.get("/").get_data(as_text=True)
    token = re.compile(r"stream\.mjpg\?_=([\w-]+)")
    first_token, second_token = token.search(first), token.search(second)
    assert first_token is not None
    assert second_token is not None
    assert first_token[1] != second_token[1]


CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
EDGE = CHROME + " Edg/131.0.0.0"
CHROMIUM = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chromium/120.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
CHROME_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("user_agent", "layout"),
    [
        (CHROME, Layout.ADVANCE_HEADERS),
        (EDGE, Layout.ADVANCE_HEADERS),
        (CHROMIUM, Layout.ADVANCE_HEADERS),
        (FIREFOX, Layout.STANDARD),
        (SAFARI, Layout.STANDARD),
        (CHROME_IOS, Layout.STANDARD),  # WebKit underneath
        ("curl/8.5.0", Layout.STANDARD),
        ("", Layout.STANDARD),
    ],
)
def test_layout_for_user_agent(user_agent: str, layout: Layout) -> None:
    assert layout_for_user_agent(user_agent) is layout


@pytest.mark.parametrize(("user_agent", "advance"), [(CHROME, True), (FIREFOX, False)])
def test_viewer_page_asks_blink_for_advance_headers(user_agent: str, advance: bool) -> None:
    app = make_app()
    try:
        page = app.test_client().get("/", headers={"User-Agent": user_agent}).get_data(True)
    finally:
        ServerState.of(app).close()
    assert ("advance_headers=1" in page) is advance
