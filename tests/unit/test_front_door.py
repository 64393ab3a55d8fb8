"""The front door's promises (issue 9), over real sockets against the real server process.

Misbehaving clients cost the others nothing: half-sent requests, clients that
never close, viewers that never read; a viewer is not a thread; the camera is
never orphaned, however the server stops. No timing asserts: liveness with
generous deadlines, and exact logic (what each client received, what the
server counts).
"""

from __future__ import annotations

import contextlib
import fcntl
import resource
import select
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support.server import ServerProcess, thread_count
from support.waiting import LIVENESS, wait_until

#: Short deadlines for the tests that wait them out (the defaults are 10 s).
HEADER_TIMEOUT = "2"
SEND_TIMEOUT = "2"
HEALTH = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(
        "--camera",
        "emulated?fps=30",
        "--max-clients",
        "64",
        "--header-timeout",
        HEADER_TIMEOUT,
        "--send-timeout",
        SEND_TIMEOUT,
    ) as s:
        yield s


def connect(server: ServerProcess, *, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(LIVENESS)
    sock.connect(server.address)
    return sock


def read_response(sock: socket.socket, pending: bytearray | None = None) -> tuple[bytes, bytes]:
    """(head, body) of one response with Content-Length, read exactly. Bytes read
    past it (a pipelined next response) stay in ``pending`` for the next call."""
    data = pending if pending is not None else bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-head: {bytes(data)!r}"
        data += chunk
    end = data.index(b"\r\n\r\n")
    head = bytes(data[:end])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(data) < end + 4 + length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        data += chunk
    body = bytes(data[end + 4 : end + 4 + length])
    del data[: end + 4 + length]
    if pending is None:
        assert not data, "more bytes than Content-Length"
    return head, body


def read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def healthy(server: ServerProcess) -> None:
    """/healthz answers and a new viewer gets frames."""
    assert requests.get(server.url("/healthz"), timeout=LIVENESS).text == "ok\n"
    with requests.get(server.url("/stream.mjpg"), stream=True, timeout=LIVENESS) as response:
        assert response.status_code == 200
        data = b""
        while data.count(b"X-Frame-Seq") < 2:
            chunk = response.raw.read(4096)
            assert chunk
            data += chunk


def front_door(server: ServerProcess) -> dict[str, int]:
    stats = server.status()["front_door"]
    assert isinstance(stats, dict)
    return stats


def clients(server: ServerProcess) -> int:
    count = server.status()["clients"]
    assert isinstance(count, int)
    return count


# -- 1. no thread waits on an incomplete request ------------------------------


def test_half_open_connections_cost_the_others_nothing(server: ServerProcess) -> None:
    """200 connections that send half a request line: the server still answers and
    streams, then closes each one at the header deadline with 408."""
    before = front_door(server)["header_timeouts"]
    half_open = [connect(server) for _ in range(200)]
    try:
        for sock in half_open:
            sock.sendall(b"GET / HTTP/1.1\r\n")
        healthy(server)
        for sock in half_open:
            answer = read_until_eof(sock)
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    finally:
        for sock in half_open:
            sock.close()
    assert front_door(server)["header_timeouts"] >= before + 200


def test_connections_that_send_nothing_are_closed_silently(server: ServerProcess) -> None:
    idle = [connect(server) for _ in range(20)]
    try:
        healthy(server)
        for sock in idle:
            assert read_until_eof(sock) == b""
    finally:
        for sock in idle:
            sock.close()


def test_header_deadline_is_total_not_per_byte(server: ServerProcess) -> None:
    """A client that drips its head a byte at a time never completes it: the
    deadline counts from the connection, not from the last byte."""
    head = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Drip: " + b"a" * 400 + b"\r\n\r\n"
    with connect(server) as sock:
        deadline = time.monotonic() + LIVENESS
        sent = 0
        # One byte per 20 ms: the whole head would take over 8 s, past the 2 s deadline.
        while sent < len(head) and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.02)
            if readable:
                break
            try:
                sock.send(head[sent : sent + 1])
            except OSError:
                break
            sent += 1
        assert sent < len(head), "the server waited for the whole dripped head"
        assert read_until_eof(sock).startswith(b"HTTP/1.1 408 ")


def test_oversize_head_gets_431_and_a_head_under_the_limit_is_served(
    server: ServerProcess,
) -> None:
    before = front_door(server)["oversize_heads"]
    filler = b"X-Filler: " + b"f" * 1000 + b"\r\n"
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + filler * 17 + b"\r\n")
        assert read_until_eof(sock).startswith(b"HTTP/1.1 431 ")
    with connect(server) as sock:  # never ending: refused once past the limit
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        with contextlib.suppress(OSError):
            for _ in range(40):
                sock.sendall(filler)
        assert read_until_eof(sock).startswith(b"HTTP/1.1 431 ")
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + filler * 15 + b"\r\n")
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert body == b"ok\n"
    assert front_door(server)["oversize_heads"] == before + 2


def test_malformed_request_gets_400(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"HELLO\r\n\r\n")
        assert read_until_eof(sock).startswith(b"HTTP/1.1 400 ")


# -- 2. clients that do not close --------------------------------------------------


def test_clients_that_never_close_after_a_short_response_cost_nothing(
    server: ServerProcess,
) -> None:
    """100 clients read their /healthz answer and keep the socket open (half
    asked for keep-alive, half for close): nobody waits for them, and the server
    closes them itself (at once after "Connection: close", at the header deadline
    for kept-alive ones, which may ask again meanwhile)."""
    kept, closing = [], []
    try:
        for index in range(100):
            sock = connect(server)
            if index % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                closing.append(sock)
            else:
                sock.sendall(HEALTH)
                kept.append(sock)
        for sock in kept + closing:
            head, body = read_response(sock)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert body == b"ok\n"
        healthy(server)
        for sock in closing:
            assert read_until_eof(sock) == b""  # the server shut its side down
        sock = kept[0]
        sock.sendall(HEALTH)  # kept alive: a second request on the same connection
        assert read_response(sock)[1] == b"ok\n"
        for sock in kept:
            assert read_until_eof(sock) == b""  # then closed at the header deadline
    finally:
        for sock in kept + closing:
            sock.close()


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(HEALTH + b"GET /nope HTTP/1.1\r\nHost: test\r\n\r\n" + HEALTH)
        pending = bytearray()
        statuses = [read_response(sock, pending)[0].split(b" ")[1] for _ in range(3)]
    assert statuses == [b"200", b"404", b"200"]


def test_a_body_over_the_limit_gets_413(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\n\r\n"
            + b"x" * 70000
        )
        assert read_until_eof(sock).startswith(b"HTTP/1.1 413 ")


def test_a_request_body_reaches_the_app(server: ServerProcess) -> None:
    # The app has no POST route yet: 405 proves the request went through Flask whole.
    response = requests.post(server.url("/healthz"), data=b"x" * 5000, timeout=LIVENESS)
    assert response.status_code == 405
    assert requests.get(server.url("/healthz"), timeout=LIVENESS).ok


# -- 3. send deadline ----------------------------------------------------------------


def test_viewers_that_never_read_are_ended_after_the_send_timeout(
    server: ServerProcess,
) -> None:
    """32 viewers with a tiny receive buffer that never read: their slots come back."""
    wait_until(lambda: clients(server) == 0, LIVENESS)
    before = front_door(server)["send_timeouts"]
    stuck = [connect(server, rcvbuf=1024) for _ in range(32)]
    try:
        for sock in stuck:
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: test\r\n\r\n")
        wait_until(lambda: front_door(server)["send_timeouts"] >= before + 32, LIVENESS)
        wait_until(lambda: clients(server) == 0, LIVENESS)
        healthy(server)
    finally:
        for sock in stuck:
            sock.close()


def test_a_slow_but_steady_reader_keeps_its_stream() -> None:
    """A viewer reading far below the stream's rate, but reading, is not timed out:
    every byte its socket takes restarts the send deadline."""
    with ServerProcess("--camera", "emulated?fps=30", "--send-timeout", "1") as server:
        with connect(server, rcvbuf=4096) as sock:
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: test\r\n\r\n")
            received = 0
            # About 1 KiB per 20 ms, a fifth of the stream's rate, for 5 send timeouts.
            reading_until = time.monotonic() + 5.0
            while time.monotonic() < reading_until:
                chunk = sock.recv(1024)
                assert chunk, "the server ended a stream that was being read"
                received += len(chunk)
                select.select([], [], [], 0.02)
            assert clients(server) == 1
        assert front_door(server)["send_timeouts"] == 0
        assert received > 100_000


# -- 4. a viewer is not a thread ------------------------------------------------------


def test_sixty_viewers_take_no_thread_each(server: ServerProcess) -> None:
    wait_until(lambda: clients(server) == 0, LIVENESS)
    streams = [
        requests.get(server.url("/stream.mjpg"), stream=True, timeout=LIVENESS) for _ in range(60)
    ]
    try:
        for response in streams:
            assert response.raw.read(64)
        assert clients(server) == 60
        # Main, event loop, capture, the app's pool (8): no thread per viewer.
        assert thread_count(server.pid) <= 12
    finally:
        for response in streams:
            response.close()


# -- 5. the camera is never orphaned --------------------------------------------------


def lock_is_free(path: Path) -> bool:
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


@pytest.mark.parametrize(
    "sig",
    [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL],
    ids=["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"],
)
def test_a_new_server_gets_the_camera_after_any_stop(tmp_path: Path, sig: int) -> None:
    """The camera belongs to the one server process: once it is gone, however it
    went, the device (a lock file held like one) is free and a new server opens
    it at the first try."""
    spec = f"emulated?fps=30&lock={tmp_path / 'camera.lock'}"
    first = ServerProcess("--camera", spec).start()
    try:
        healthy(first)  # the camera is open
        assert not lock_is_free(tmp_path / "camera.lock")
        with requests.get(first.url("/stream.mjpg"), stream=True, timeout=LIVENESS) as stream:
            assert stream.raw.read(64)
            first.stop(sig)
    finally:
        if first.returncode is None:
            first.stop(signal.SIGKILL)
    assert first.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 0), first.output
    assert lock_is_free(tmp_path / "camera.lock")
    with ServerProcess("--camera", spec) as second:
        healthy(second)
        camera = second.camera_status()
        assert camera["state"] == "streaming"
        assert camera["failures"] == 0, camera["last_error"]


def test_status_counts_what_the_front_door_saw(server: ServerProcess) -> None:
    stats = front_door(server)
    for name in (
        "accepted",
        "refused",
        "requests",
        "streams",
        "header_timeouts",
        "oversize_heads",
        "bad_requests",
        "send_timeouts",
        "overloaded",
        "tls_failures",
    ):
        assert isinstance(stats[name], int), name
    assert stats["accepted"] >= stats["requests"] > 0


@pytest.fixture(autouse=True)
def _enough_file_descriptors() -> None:
    """Hundreds of test sockets at once: the default soft limit (1024) is enough,
    but some runners set 256."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
