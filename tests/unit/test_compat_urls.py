"""Other servers' URLs (mjpg-streamer, µStreamer) on the real server process over real sockets."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import requests

from mjpeg_server.client.stream import iter_frames
from mjpeg_server.wire.jpeg import is_complete_jpeg
from support.server import ServerProcess
from support.waiting import LIVENESS


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    # Two cameras at different rates and distinct names, so a URL that reaches
    # the wrong camera shows in /status.
    with ServerProcess(
        "--camera", "front=emulated?fps=20", "--camera", "back=emulated?fps=10",
        "--idle-timeout", "0",
    ) as s:  # fmt: skip
        yield s


STREAM_PATHS = [
    ("/?action=stream", "front"),
    ("/stream", "front"),
    ("/cameras/back/?action=stream", "back"),
    ("/cameras/back/stream", "back"),
    ("/?action=stream&fps=5&other=1", "front"),
]
SNAPSHOT_PATHS = [
    "/?action=snapshot",
    "/snapshot",
    "/cameras/back/?action=snapshot",
    "/cameras/back/snapshot",
]


def frames_sent(server: ServerProcess, camera: str) -> int:
    value = server.camera_status(camera)["frames_sent"]
    assert isinstance(value, int)
    return value


@pytest.mark.parametrize(("path", "camera"), STREAM_PATHS)
def test_stream_aliases_serve_the_cameras_stream(
    server: ServerProcess, path: str, camera: str
) -> None:
    before = frames_sent(server, camera)
    response = requests.get(server.url(path), stream=True, timeout=LIVENESS)
    with response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=mjpegframe"
        assert response.headers["X-Accel-Buffering"] == "no"
    frames = list(itertools.islice(iter_frames(server.url(path), timeout=LIVENESS), 3))
    assert len(frames) == 3
    assert all(is_complete_jpeg(frame.jpeg) for frame in frames)
    assert all(frame.seq is not None for frame in frames)
    # The frames came from the named camera's hub, not the other one.
    assert frames_sent(server, camera) >= before + 3


@pytest.mark.parametrize("path", SNAPSHOT_PATHS)
def test_snapshot_aliases_serve_a_jpeg(server: ServerProcess, path: str) -> None:
    response = requests.get(server.url(path), timeout=LIVENESS)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert is_complete_jpeg(response.content)
    expected = "back" if "back" in path else "front"
    assert response.headers["Content-Disposition"].startswith(f'inline; filename="{expected}-')


@pytest.mark.parametrize(
    "path", ["/?action=other", "/?action=", "/?x=1", "/cameras/back/?action=status"]
)
def test_any_other_query_keeps_the_viewer_page(server: ServerProcess, path: str) -> None:
    response = requests.get(server.url(path), timeout=LIVENESS)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<img" in response.text


@pytest.mark.parametrize(
    "path", ["/cameras/nope/?action=stream", "/cameras/nope/stream", "/cameras/nope/snapshot"]
)
def test_unknown_camera_is_404(server: ServerProcess, path: str) -> None:
    assert requests.get(server.url(path), timeout=LIVENESS).status_code == 404


def test_head_on_a_stream_alias_answers_without_a_body(server: ServerProcess) -> None:
    response = requests.head(server.url("/?action=stream"), timeout=LIVENESS)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
