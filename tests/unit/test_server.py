"""End to end: the real ``mjpeg-server`` process (the front door by default) over real sockets.

The front door's own promises (deadlines, misbehaving clients, the camera after
each way of stopping, TLS) are in ``test_front_door.py``.
"""

from __future__ import annotations

import signal
import socket
import struct
from collections.abc import Iterator

import pytest
import requests

from mjpeg_server.client.stream import iter_frames
from mjpeg_server.wire.jpeg import is_complete_jpeg
from support.fixtures import FRAMES
from support.server import ServerProcess
from support.waiting import LIVENESS, wait_until


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(
        "--camera", "emulated?fps=30", "--idle-timeout", "1", "--max-clients", "3"
    ) as s:
        yield s


def open_stream(server: ServerProcess, path: str = "/stream.mjpg") -> requests.Response:
    response = requests.get(server.url(path), stream=True, timeout=LIVENESS)
    response.raise_for_status()
    return response


def first_bytes(response: requests.Response, size: int = 64) -> bytes:
    # Not next(response.iter_content()): discarding that generator lets the
    # garbage collector close the connection at a moment of its choosing.
    data: bytes = response.raw.read(size)
    return data


def clients(server: ServerProcess) -> int:
    count = server.status()["clients"]
    assert isinstance(count, int)
    return count


def read_until_parts(response: requests.Response, parts: int) -> bytes:
    body = b""
    while body.count(b"X-Frame-Seq:") < parts:
        chunk = response.raw.read(4096)
        assert chunk, "stream ended early"
        body += chunk
    return body


def check_first_part(body: bytes) -> None:
    assert body.startswith(b"--mjpegframe\r\n")
    head = body[len(b"--mjpegframe\r\n") :].split(b"\r\n\r\n", 1)[0].decode()
    fields = dict(line.split(": ", 1) for line in head.split("\r\n"))
    assert fields["Content-Type"] == "image/jpeg"
    assert int(fields["Content-Length"]) > 1000
    assert float(fields["X-Timestamp"]) > 1e9
    assert int(fields["X-Frame-Seq"]) >= 0


def test_stream_is_multipart_with_frame_headers_until_the_connection_closes(
    server: ServerProcess,
) -> None:
    # The default send path writes the response itself: no chunking, the body
    # ends with the connection (as mjpg-streamer and µStreamer do).
    with open_stream(server) as response:
        assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=mjpegframe"
        assert response.headers["Connection"] == "close"
        assert "Transfer-Encoding" not in response.headers
        assert "Content-Length" not in response.headers
        assert "no-store" in response.headers["Cache-Control"]
        check_first_part(read_until_parts(response, 3))


def test_http_1_0_clients_get_an_http_1_0_response(server: ServerProcess) -> None:
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=LIVENESS) as sock:
        sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        data = b""
        while b"X-Frame-Seq" not in data:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    assert data.startswith(b"HTTP/1.0 200 OK\r\n")


def test_dev_server_writes_the_wsgi_body() -> None:
    """Under Werkzeug the stream is the WSGI body that server writes, part by part."""
    with ServerProcess("--server", "dev", "--camera", "emulated?fps=30") as server:
        with open_stream(server) as response:
            check_first_part(read_until_parts(response, 3))
            assert clients(server) == 1
        wait_until(lambda: clients(server) == 0, LIVENESS)
        check_kit_client_reads(server)


def check_kit_client_reads(server: ServerProcess) -> None:
    frames = []
    for frame in iter_frames(server.url("/stream.mjpg"), timeout=LIVENESS):
        frames.append(frame)
        if len(frames) == 10:
            break
    seqs = [frame.seq for frame in frames]
    assert None not in seqs
    assert seqs == sorted(set(seqs))
    for frame in frames:
        assert is_complete_jpeg(frame.jpeg)
        assert frame.jpeg in FRAMES
        assert frame.timestamp is not None
        assert frame.headers.content_length == len(frame.jpeg)


def test_kit_client_reads_the_close_delimited_stream(server: ServerProcess) -> None:
    check_kit_client_reads(server)


def test_viewer_count_follows_open_and_closed_streams(server: ServerProcess) -> None:
    wait_until(lambda: clients(server) == 0, LIVENESS)
    response = open_stream(server)
    first_bytes(response)
    assert clients(server) == 1
    response.close()
    # Product promise: a closed stream is gone from /status within 2 s (the next
    # frame's write fails, about one frame period after the close).
    wait_until(lambda: clients(server) == 0, 2.0, message="viewer still counted 2 s after leaving")


def test_abrupt_disconnect_is_noticed_and_logged_without_traceback(server: ServerProcess) -> None:
    wait_until(lambda: clients(server) == 0, LIVENESS)
    start = len(server.lines)
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=LIVENESS)
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    wait_until(lambda: clients(server) == 1, LIVENESS)
    # SO_LINGER 0: close() sends RST, as a crashed or unplugged client would.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    wait_until(lambda: clients(server) == 0, 2.0)
    server.wait_for_log(r"left camera 'default'", LIVENESS, start)
    assert "Traceback" not in "\n".join(server.lines[start:])


def test_snapshot_is_a_jpeg(server: ServerProcess) -> None:
    response = requests.get(server.url("/snapshot.jpg"), timeout=LIVENESS)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert is_complete_jpeg(response.content)


def test_extra_stream_gets_503_while_pages_stay_responsive(server: ServerProcess) -> None:
    wait_until(lambda: clients(server) == 0, LIVENESS)
    streams = [open_stream(server) for _ in range(3)]
    try:
        for stream in streams:
            first_bytes(stream)
        refused = requests.get(server.url("/stream.mjpg"), timeout=LIVENESS)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        assert requests.get(server.url("/"), timeout=LIVENESS).status_code == 200
        assert requests.get(server.url("/snapshot.jpg"), timeout=LIVENESS).status_code == 200
        assert clients(server) == 3
    finally:
        for stream in streams:
            stream.close()


def test_camera_is_released_idle_timeout_after_the_last_viewer(server: ServerProcess) -> None:
    wait_until(lambda: server.camera_status()["state"] == "idle", LIVENESS)
    before = server.camera_status()
    with open_stream(server) as response:
        first_bytes(response)
        assert server.camera_status()["state"] == "streaming"
    camera = wait_until(lambda: (c := server.camera_status())["state"] == "idle" and c, LIVENESS)
    assert camera["opens"] == before["opens"] + 1  # type: ignore[operator]
    assert camera["closes"] == before["closes"] + 1  # type: ignore[operator]


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
@pytest.mark.parametrize("kind", ["builtin", "dev"])
def test_signal_ends_streams_releases_camera_and_exits(kind: str, sig: int) -> None:
    server = ServerProcess("--server", kind, "--camera", "emulated?fps=30").start()
    response = open_stream(server)
    first_bytes(response)
    took = server.stop(sig)
    # Promise: within 2 s. Typically 0.1-0.4 s; the margin is for loaded CI boxes.
    assert took < 5.0, f"exit took {took:.1f} s"
    assert server.returncode == 0, server.output
    assert "camera 'default' closed" in server.output
    assert "Traceback" not in server.output
    # The client's stream ends cleanly rather than hang (the read timeout bounds it).
    response.raw.read()
    assert response.raw.isclosed()


@pytest.mark.parametrize("kind", ["builtin", "dev"])
def test_advance_headers_layout_for_chromium(kind: str) -> None:
    """?advance_headers=1: each frame is followed by the next part's headers, so
    Chromium paints it at once (crbug 527446); those headers cannot carry a length."""
    with ServerProcess("--server", kind, "--camera", "emulated?fps=30") as server:
        url = server.url("/stream.mjpg?advance_headers=1")
        with requests.get(url, stream=True, timeout=LIVENESS) as response:
            opening = b"--mjpegframe\r\nContent-Type: image/jpeg\r\n\r\n"
            body = response.raw.read(len(opening))
            assert body == opening
            while body.count(b"\r\n--mjpegframe\r\nContent-Type: image/jpeg\r\n\r\n") < 3:
                chunk = response.raw.read(4096)
                assert chunk
                body += chunk
        assert b"Content-Length" not in body
        frames = []
        for frame in iter_frames(url, timeout=LIVENESS):
            frames.append(frame)
            if len(frames) == 5:
                break
        for frame in frames:
            assert frame.jpeg in FRAMES  # framed by the delimiter alone
            assert frame.headers.content_length is None
