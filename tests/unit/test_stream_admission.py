"""Stream requests answered on the front door's event loop (issue 9's join storm),
over real sockets against the real server process (``server/admission.py``).

With access control on, the loop runs the whole Flask app for a stream request,
and a request whose credentials may take a bcrypt hash (``Authorization`` with
an auth file) stays on the pool: these tests send the same request both ways
(``?token=`` or the session cookie rides the loop, ``Authorization`` the pool)
and compare what came back, byte for byte but the Date, for a stream, a
``HEAD``, each refusal (401, 429, 400, 503) and the login redirect. The front
door's ``on_loop`` counter tells which way each request went, exactly.

Without access control the loop runs the stream view's own work without
Flask's machinery: those answers are compared with the dev server's (Werkzeug
running the whole Flask app), all but the headers the two servers set
themselves (Date, Server, Connection).
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests
from test_auth import auth_file, basic, fresh_address, log_in  # noqa: F401  # auth_file: a fixture
from test_front_door import connect

from mjpeg_server.config import Settings, parse_camera_arg
from mjpeg_server.server.admission import direct_streams
from mjpeg_server.server.app import create_app
from mjpeg_server.server.auth import COOKIE, MAX_FAILURES
from mjpeg_server.server.fanout import FanOut
from mjpeg_server.server.front_door import FrontDoor
from mjpeg_server.server.loop import EventLoop
from mjpeg_server.server.state import FrontDoorStats
from mjpeg_server.server.wsgi_bridge import http_date
from support.server import ServerProcess
from support.waiting import LIVENESS, wait_until

TOKEN = "t0ken-for-the-admission-tests-0123"
MAX_CLIENTS = 3
OPEN_SLOTS = 8
#: Every URL of a stream: this server's, mjpg-streamer's and µStreamer's, with options.
STREAM_URLS = [
    "/stream.mjpg",
    "/video_feed",
    "/cameras/default/stream.mjpg",
    "/?action=stream",
    "/stream",
    "/cameras/default/?action=stream",
    "/cameras/default/stream",
    "/stream.mjpg?fps=5",
    "/?action=stream&fps=2.5&advance_headers=1",
    "/stream.mjpg?advance_headers=1&_=page-token",
]


@pytest.fixture(scope="module")
def server(auth_file: Path) -> Iterator[ServerProcess]:  # noqa: F811  # the fixture above
    with ServerProcess(
        "--auth-file",
        str(auth_file),
        "--token",
        TOKEN,
        "--camera",
        "emulated?fps=20",
        "--max-clients",
        str(MAX_CLIENTS),
    ) as s:
        yield s


def status(server: ServerProcess) -> dict[str, Any]:
    response = requests.get(
        server.url("/status"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=LIVENESS
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def on_loop(server: ServerProcess) -> int:
    """Requests the front door has answered on its loop (``/status`` itself: the pool)."""
    count = status(server)["front_door"]["on_loop"]
    assert isinstance(count, int)
    return count


def request(
    method: str, path: str, address: dict[str, str], version: str = "1.1", **headers: str
) -> bytes:
    fields = {"Host": "test", **address, **headers}
    lines = [f"{method} {path} HTTP/{version}", *(f"{k}: {v}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(sock: socket.socket, data: bytes) -> tuple[list[str], bytes]:
    """Send ``data``; the response head's lines but the Date, and the body: all of it
    (up to Content-Length), or for a stream the opening of its first part."""
    sock.sendall(data)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-head: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = [line for line in head.decode("latin-1").split("\r\n") if not line.startswith("Date:")]
    length = next(
        (int(line.split(":")[1]) for line in lines if line.startswith("Content-Length:")), None
    )
    if data.startswith(b"HEAD"):
        return lines, b""
    if length is None:  # a stream: read to its first part's headers
        while b"\r\n\r\n" not in body:
            chunk = sock.recv(65536)
            assert chunk, f"stream closed before a part: {body!r}"
            body += chunk
        return lines, first_part(body)
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed mid-body"
        body += chunk
    return lines, body


def first_part(body: bytes) -> bytes:
    """A stream's delimiter and its first part's header names (values such as
    X-Frame-Seq differ from frame to frame), Content-Type's value too."""
    part = body[: body.index(b"\r\n\r\n")].split(b"\r\n")
    return b"\r\n".join(
        line if line.startswith((b"--", b"Content-Type:")) else line.split(b":")[0] for line in part
    )


def both_ways(
    server: ServerProcess,
    method: str,
    path: str,
    loop_credentials: dict[str, str],
    pool_credentials: dict[str, str],
    *,
    address: dict[str, str] | None = None,
    **headers: str,
) -> tuple[tuple[list[str], bytes], tuple[list[str], bytes]]:
    """The answer to the same request on the loop and on the pool, from one address;
    asserts that each went the way its credentials should send it."""
    address = address or fresh_address()
    answers = []
    for credentials, expected in ((loop_credentials, 1), (pool_credentials, 0)):
        before = on_loop(server)
        with connect(server) as sock:
            answers.append(answer(sock, request(method, path, address, **credentials, **headers)))
        assert on_loop(server) - before == expected, (path, credentials)
    return answers[0], answers[1]


def with_token(path: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}token={TOKEN}"


def token_or_password(
    server: ServerProcess, method: str, path: str, address: dict[str, str] | None = None
) -> tuple[tuple[list[str], bytes], tuple[list[str], bytes]]:
    """``path`` with the right token in its query (the loop), then with alice's
    right password (the pool: Authorization is read first)."""
    password = {"Authorization": basic("alice", "wonder land")}
    return both_ways(server, method, with_token(path), {}, password, address=address)


def status_line(lines: list[str]) -> str:
    return lines[0]


@pytest.mark.parametrize("path", STREAM_URLS)
def test_every_stream_url_runs_on_the_loop_and_answers_as_on_the_pool(
    server: ServerProcess, path: str
) -> None:
    """A stream by token (the loop) and by Basic password (the pool): the same head
    (status, Content-Type, no-cache, nosniff, Connection: close) and the same
    opening of the body, in the layout the URL asked for."""
    (loop_head, loop_body), (pool_head, pool_body) = token_or_password(server, "GET", path)
    assert loop_head == pool_head
    assert status_line(loop_head) == "HTTP/1.1 200 OK"
    assert "X-Content-Type-Options: nosniff" in loop_head
    assert "Connection: close" in loop_head
    assert loop_body == pool_body
    # The layout the URL asked for: Chromium's (advance_headers=1) sends a part's
    # headers before its frame is known, so without Content-Length.
    assert (b"Content-Length" in loop_body) is ("advance_headers=1" not in path)


def test_the_session_cookie_rides_the_loop(server: ServerProcess) -> None:
    address = fresh_address()
    login = log_in(server, "bob", "builder", address)
    cookie = login.cookies[COOKIE]
    loop, pool = both_ways(
        server,
        "GET",
        "/stream.mjpg",
        {"Cookie": f"{COOKIE}={cookie}"},
        {"Authorization": basic("bob", "builder")},
        address=address,
    )
    assert loop == pool
    assert status_line(loop[0]) == "HTTP/1.1 200 OK"


def test_a_stream_head_request_is_the_same_both_ways(server: ServerProcess) -> None:
    loop, pool = token_or_password(server, "HEAD", "/?action=stream")
    assert loop == pool
    assert status_line(loop[0]) == "HTTP/1.1 200 OK"


def test_a_wrong_token_is_refused_as_on_the_pool(server: ServerProcess) -> None:
    """A wrong ``?token=`` (the loop) and a wrong Bearer token (the pool): the same 401."""
    loop, pool = both_ways(
        server,
        "GET",
        "/stream.mjpg?token=wrong-token-0123456789",
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
    )
    assert loop == pool
    assert status_line(loop[0]) == "HTTP/1.1 401 UNAUTHORIZED"
    assert any(line.startswith("WWW-Authenticate: Basic") for line in loop[0])
    assert "X-Content-Type-Options: nosniff" in loop[0]


def test_a_stream_without_credentials_is_challenged_on_the_loop(server: ServerProcess) -> None:
    before = on_loop(server)
    with connect(server) as sock:
        head, body = answer(sock, request("GET", "/?action=stream", fresh_address()))
    assert on_loop(server) - before == 1
    assert status_line(head) == "HTTP/1.1 401 UNAUTHORIZED"
    assert any(line.startswith("WWW-Authenticate: Basic") for line in head)
    assert body == b"Authentication required.\n"


def test_a_browser_without_credentials_is_sent_to_the_login_form_from_the_loop(
    server: ServerProcess,
) -> None:
    before = on_loop(server)
    with connect(server) as sock:
        head, _ = answer(sock, request("GET", "/stream?fps=2", fresh_address(), Accept="text/html"))
    assert on_loop(server) - before == 1
    assert status_line(head) == "HTTP/1.1 303 SEE OTHER"
    assert any(line.startswith("Location: /login?next=") for line in head), head


def test_an_address_locked_out_gets_the_same_429_both_ways(server: ServerProcess) -> None:
    address = fresh_address()
    for _ in range(MAX_FAILURES):
        with connect(server) as sock:
            head, _ = answer(
                sock, request("GET", "/stream.mjpg?token=wrong-0123456789abcdef", address)
            )
        assert status_line(head) == "HTTP/1.1 401 UNAUTHORIZED"
    loop, pool = token_or_password(server, "GET", "/stream.mjpg", address)
    assert status_line(loop[0]) == "HTTP/1.1 429 TOO MANY REQUESTS"
    # Retry-After counts down: the two answers may be a second apart.
    assert without_retry_after(loop[0]) == without_retry_after(pool[0])
    assert any(line.startswith("Retry-After: ") for line in loop[0])
    assert loop[1] == pool[1]


def without_retry_after(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("Retry-After:")]


def test_a_bad_rate_cap_gets_the_same_400_both_ways(server: ServerProcess) -> None:
    loop, pool = token_or_password(server, "GET", "/stream.mjpg?fps=0")
    assert status_line(loop[0]) == "HTTP/1.1 400 BAD REQUEST"
    assert loop == pool


def test_a_full_server_refuses_streams_the_same_both_ways(server: ServerProcess) -> None:
    """With every slot taken, a stream on the loop and on the pool get the same 503."""
    address = fresh_address()
    # The earlier tests' streams: their slots are freed as the server sees them close.
    wait_until(lambda: status(server)["clients"] == 0, LIVENESS)
    held = []
    try:
        for _ in range(MAX_CLIENTS):
            sock = connect(server)
            held.append(sock)
            head, _ = answer(sock, request("GET", with_token("/stream.mjpg"), address))
            assert status_line(head) == "HTTP/1.1 200 OK"  # its slot is taken by now
        loop, pool = token_or_password(server, "GET", "/stream", address)
    finally:
        for sock in held:
            sock.close()
    assert status_line(loop[0]) == "HTTP/1.1 503 SERVICE UNAVAILABLE"
    assert "Retry-After: 5" in loop[0]
    assert "X-Content-Type-Options: nosniff" in loop[0]
    assert loop == pool


def test_everything_but_a_stream_stays_on_the_pool(server: ServerProcess) -> None:
    before = on_loop(server)
    for method, path in [
        ("GET", "/"),
        ("GET", "/status"),
        ("GET", "/snapshot.jpg"),
        ("GET", "/?action=snapshot"),
        ("GET", "/no-such-page"),
        ("GET", "/cameras/default"),  # a redirect to the viewer page
        ("POST", "/stream.mjpg"),  # 405
    ]:
        with connect(server) as sock:
            answer(sock, request(method, with_token(path), fresh_address()))
    assert on_loop(server) == before


def test_the_rate_cap_applies_on_the_loop(server: ServerProcess) -> None:
    """``?fps=4`` of a 20 fps camera, answered on the loop: the frames' capture times
    (X-Timestamp, the server's clock) are at least a quarter second apart, less
    the cap's tolerance of 0.6 camera frame intervals."""
    before = on_loop(server)
    with requests.get(
        server.url(with_token("/stream?fps=4")), stream=True, timeout=LIVENESS
    ) as response:
        assert on_loop(server) - before == 1
        data = b""
        while data.count(b"X-Timestamp: ") < 4:
            chunk = response.raw.read(4096)
            assert chunk, "the stream ended"
            data += chunk
    stamps = [
        float(line.split(b":")[1])
        for line in data.split(b"\r\n")
        if line.startswith(b"X-Timestamp:")
    ][:3]  # the fourth may be cut short
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 0.25 - 0.6 / 20


# -- without access control: the direct path against Flask's own (the dev server) --


@pytest.fixture(scope="module")
def open_servers() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """This server and the dev server, each with one camera and OPEN_SLOTS slots
    (the dev server frees a slot only when a write to the closed stream fails)."""
    args = ("--camera", "emulated?fps=20", "--max-clients", str(OPEN_SLOTS))
    with ServerProcess(*args) as front, ServerProcess("--server", "dev", *args) as dev:
        yield front, dev


#: Headers each server sets itself, not the app (the dev server chunks a stream).
_SERVERS_OWN = frozenset({"date", "server", "connection", "transfer-encoding"})


def ask(server: ServerProcess, method: str, path: str) -> tuple[int, list[str], bytes]:
    """Status, the headers the app set, and the body (a stream's: its first part's
    opening), read through requests, which undoes the dev server's chunking."""
    with requests.request(method, server.url(path), stream=True, timeout=LIVENESS) as response:
        headers = [
            f"{name}: {value}"
            for name, value in response.headers.items()
            if name.lower() not in _SERVERS_OWN
        ]
        if not response.headers["Content-Type"].startswith("multipart/") or method == "HEAD":
            return response.status_code, headers, response.content
        body = b""
        while b"\r\n\r\n" not in body:
            chunk = response.raw.read(64)
            assert chunk, f"stream closed before a part: {body!r}"
            body += chunk
        return response.status_code, headers, first_part(body)


def open_on_loop(front: ServerProcess) -> int:
    count = front.status()["front_door"]
    assert isinstance(count, dict)
    return int(count["on_loop"])


def test_without_access_control_streams_skip_flask() -> None:
    settings = Settings(cameras=(parse_camera_arg("emulated"),))
    assert direct_streams(create_app(settings))
    assert not direct_streams(create_app(Settings(cameras=settings.cameras, tokens=(TOKEN,))))


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", path) for path in STREAM_URLS]
    + [
        ("HEAD", "/stream.mjpg"),
        ("GET", "/cameras/nope/stream.mjpg"),  # 404: Flask answers it
        ("GET", "/?action=stream&fps=0"),  # 400: Flask answers it
    ],
)
def test_the_direct_path_answers_as_flask_does(
    open_servers: tuple[ServerProcess, ServerProcess], method: str, path: str
) -> None:
    front, dev = open_servers
    wait_until(lambda: dev.status()["clients"] == 0, LIVENESS)  # a slot for each
    before = open_on_loop(front)
    ours = ask(front, method, path)
    assert open_on_loop(front) - before == 1
    assert ours == ask(dev, method, path)
    assert "X-Content-Type-Options: nosniff" in ours[1]


def test_a_full_server_refuses_a_direct_stream_as_flask_does(
    open_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    answers = []
    for server in open_servers:
        wait_until(lambda s=server: s.status()["clients"] == 0, LIVENESS)
        held = [connect(server) for _ in range(OPEN_SLOTS)]
        try:
            for sock in held:
                head, _ = answer(sock, request("GET", "/stream.mjpg", {}, version="1.0"))
                assert head[0].endswith(" 200 OK")  # its slot is taken by now
            answers.append(ask(server, "GET", "/stream?fps=5"))
        finally:
            for sock in held:
                sock.close()
    ours, flasks = answers
    assert ours[0] == 503
    assert "Retry-After: 5" in ours[1]
    assert ours == flasks


def test_the_date_header_is_now_in_http_form() -> None:
    """The Date every response carries, computed once a second: the second it is
    asked in (or the next one, if a second turned meanwhile)."""
    before = int(time.time())
    date = http_date()
    after = int(time.time())
    assert date in {formatdate(second, usegmt=True) for second in range(before, after + 1)}
    assert date.endswith(" GMT")


def test_a_request_the_loop_cannot_place_is_answered_by_the_pool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If choosing where a request runs fails, the pool runs the whole app for it,
    as for any request: the connection is answered, never left waiting."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"pool"]

    def broken_choice(environ: dict[str, Any]) -> None:
        raise RuntimeError("broken choice")

    stats = FrontDoorStats()
    loop = EventLoop("test-front-door")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        front = FrontDoor(
            app,
            listener,
            loop=loop,
            fanout=FanOut(loop, stats=stats),
            stats=stats,
            loop_app=broken_choice,
        )
        front.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=LIVENESS) as sock:
                sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
        finally:
            front.close()
    assert received.startswith(b"HTTP/1.1 200 ")
    assert received.endswith(b"\r\n\r\npool")
    assert (stats.requests, stats.on_loop) == (1, 0)
    assert "cannot tell where to run GET /stream.mjpg" in caplog.text
