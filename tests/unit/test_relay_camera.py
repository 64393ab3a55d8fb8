"""The http:// relay backend: one upstream MJPEG stream re-served to many viewers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from mjpeg_server.cameras import CameraDefaults, CameraSpec, SpecError, create_camera
from mjpeg_server.cameras.emulated import bundled_frames_dir, load_frames
from mjpeg_server.cameras.relay import RelayCamera
from mjpeg_server.client.stream import iter_frames
from mjpeg_server.hub import CaptureHub, HubSettings, HubState
from mjpeg_server.wire.multipart import PartEncoder
from support.server import ServerProcess
from support.waiting import wait_until

FRAMES = load_frames(bundled_frames_dir())
LIVENESS = 20.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[ServerProcess]:
    with ServerProcess("--camera", "emulated?fps=30") as server:
        yield server


def test_relays_the_upstream_frames_with_their_timestamps(upstream: ServerProcess) -> None:
    with ServerProcess("--camera", upstream.url("/stream.mjpg")) as relay:
        frames = []
        for frame in iter_frames(relay.url("/stream.mjpg"), timeout=LIVENESS):
            frames.append(frame)
            if len(frames) == 10:
                break
        status = relay.camera_status()
        assert upstream.camera_status()["clients"] == 1  # one upstream connection
    seqs = [f.seq for f in frames]
    assert None not in seqs
    assert seqs == sorted(set(seqs))
    for frame in frames:
        assert frame.jpeg in FRAMES  # passed on untouched
        assert frame.timestamp is not None
        # The upstream's capture time, not the relay's: earlier than arrival here.
        assert frame.timestamp <= frame.received_at
    assert status["camera"] == f"relay of {upstream.url('/stream.mjpg')}"
    assert status["resolution"] == [640, 480]


def test_unreachable_upstream_is_a_reported_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again: connections are refused
    camera = RelayCamera(f"http://127.0.0.1:{port}/stream.mjpg", fps=30, timeout=2)
    settings = HubSettings(backoff_initial=0.05, backoff_max=0.1)
    with CaptureHub(camera, PartEncoder("b"), settings=settings) as hub, hub.subscribe():
        wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
        assert "upstream unreachable" in (hub.status().last_error or "")
        assert "Connection refused" in (hub.status().last_error or "")


def serve_three_frames_per_connection(listener: socket.socket, stop: threading.Event) -> None:
    """An HTTP/1.0 upstream that sends three frames on each connection, then hangs up."""
    encoder = PartEncoder("upstream")
    while not stop.is_set():
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.0 200 OK\r\nContent-Type: " + encoder.content_type.encode() + b"\r\n\r\n"
            )
            connection.sendall(encoder.opening)
            for jpeg in FRAMES:
                connection.sendall(encoder.encode(jpeg))


def test_upstream_that_hangs_up_is_reopened_and_viewers_resume() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        stop = threading.Event()
        thread = threading.Thread(
            target=serve_three_frames_per_connection, args=(listener, stop), daemon=True
        )
        thread.start()
        camera = RelayCamera(f"http://127.0.0.1:{listener.getsockname()[1]}/", fps=30)
        settings = HubSettings(backoff_initial=0.01, backoff_max=0.05)
        with CaptureHub(camera, PartEncoder("b"), settings=settings) as hub:
            with hub.subscribe() as viewer:
                parts = [viewer.next_part(LIVENESS) for _ in range(7)]
            status = hub.status()
        stop.set()
    assert all(p is not None for p in parts)
    assert status.failures >= 2  # each hang-up ended a session; each was reopened
    assert "ended its stream" in (status.last_error or "")
    # Numbering continues across upstream sessions: it never goes backwards.
    seqs = [p.seq for p in parts if p is not None]
    assert seqs == sorted(set(seqs))


def test_spec() -> None:
    camera = create_camera("http://cam.local:8080/?action=stream", CameraDefaults(fps=15))
    assert isinstance(camera, RelayCamera)
    assert camera.url == "http://cam.local:8080/?action=stream"
    assert camera.fps == 15
    with pytest.raises(SpecError, match="expected a full http"):
        RelayCamera.from_spec(CameraSpec(kind="http"), CameraDefaults())
