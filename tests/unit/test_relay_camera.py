"""The http:// relay backend: one upstream MJPEG stream re-served to many viewers."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest

from mjpeg_server.cameras import CameraDefaults, CameraSpec, SpecError, create_camera
from mjpeg_server.cameras.relay import RelayCamera
from mjpeg_server.client.stream import iter_frames
from mjpeg_server.hub import CaptureHub, HubSettings, HubState
from mjpeg_server.wire.multipart import PartEncoder
from support.fixtures import FRAMES
from support.server import ServerProcess
from support.upstreams import STREAM_HEAD, Upstream, drip, error_status, parts
from support.waiting import LIVENESS, wait_until


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


# -- misbehaving upstreams (scripted, on real sockets: tests/support/upstreams.py) -----

# A head of a few hundred bytes: at 4 bytes a second it would take over a minute.
DRIPPED_HEAD = STREAM_HEAD.replace(b"\r\n\r\n", b"\r\nServer: " + b"s" * 200 + b"\r\n\r\n")


def test_an_upstream_that_drips_its_head_runs_into_the_deadline() -> None:
    """A byte every 0.25 s never trips a 1 s timeout per read, so the head must
    have a deadline of its own, or the camera says ``starting`` for ever."""
    with Upstream(drip(DRIPPED_HEAD, period=0.25)) as upstream:
        camera = RelayCamera(upstream.url(), fps=30, timeout=1.0)
        settings = HubSettings(backoff_initial=0.05, backoff_max=0.1)
        with CaptureHub(camera, PartEncoder("b"), settings=settings) as hub, hub.subscribe():
            wait_until(lambda: hub.state is HubState.ERROR, LIVENESS, message="still starting")
            error = hub.status().last_error or ""
    assert "no complete response head" in error
    assert "within 1.0 s" in error


def test_parts_that_are_not_jpegs_are_counted_and_never_served() -> None:
    page = b"<html><body>Internal error</body></html>"
    bodies = [FRAMES[0], page, FRAMES[1], page[:10], FRAMES[2], b""]
    upstream_parts = parts(bodies, repeat=100, period=0.01, then_close=False)
    with Upstream(upstream_parts) as upstream:
        camera = RelayCamera(upstream.url(), fps=30)
        with CaptureHub(camera, PartEncoder("b")) as hub, hub.subscribe() as viewer:
            served = [viewer.next_part(LIVENESS) for _ in range(12)]
            snapshots = [hub.snapshot(LIVENESS) for _ in range(12)]
            wait_until(lambda: hub.status().frames_rejected >= 3, LIVENESS)
    for part in served + snapshots:
        assert part is not None
        assert part.frame.jpeg in FRAMES


def test_an_upstream_of_nothing_but_non_jpegs_fails_and_says_why() -> None:
    """The stall that follows is the symptom; the status names what came instead."""
    with Upstream(parts([b"<html>sorry</html>"] * 3, then_close=False)) as upstream:
        camera = RelayCamera(upstream.url(), fps=30)
        settings = HubSettings(stall_timeout=0.5, backoff_initial=0.05, backoff_max=0.1)
        with CaptureHub(camera, PartEncoder("b"), settings=settings) as hub, hub.subscribe():
            wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
            status = hub.status()
    assert status.frames_rejected >= 1
    assert "no frame for" in (status.last_error or "")
    assert re.search(r"\d+ frames were not JPEGs", status.last_error or "")
    assert "b'<html>sorry</htm'" in (status.last_error or "")


def test_status_keeps_the_root_cause_while_reopening_fails_with_symptoms() -> None:
    """The upstream's stream ends (the cause); then every reopen gets a 503 while
    it restarts (symptoms). ``last_error`` follows the symptoms, ``root_cause``
    stays what began it, until the camera works again."""
    with Upstream(parts(FRAMES), error_status(503, "Service Unavailable")) as upstream:
        camera = RelayCamera(upstream.url(), fps=30)
        settings = HubSettings(backoff_initial=0.01, backoff_max=0.02)
        with CaptureHub(camera, PartEncoder("b"), settings=settings) as hub, hub.subscribe():
            wait_until(lambda: hub.status().failures >= 3, LIVENESS)
            status = hub.status()
    assert "503" in (status.last_error or "")
    assert "ended its stream" in (status.root_cause or "")
    assert status.to_json()["root_cause"] == status.root_cause
