"""Headers every response carries, whoever writes it: the real server process
(the built-in front door, which writes streams from its event loop, and the
development server), over real sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from support.server import ServerProcess
from support.waiting import LIVENESS, wait_until


def stream_head(server: ServerProcess, path: str) -> dict[str, str]:
    """The response head of a stream, read off the socket (the body never ends)."""
    host, _, port = server.base_url.removeprefix("http://").rpartition(":")
    with socket.create_connection((host, int(port)), timeout=LIVENESS) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed in the head: {head!r}"
            head += chunk
    status, *lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    assert " 200 " in status + " ", status
    return {name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}


@pytest.fixture(
    scope="module",
    params=[("--server", "builtin"), ("--server", "dev")],
    ids=["builtin", "dev"],
)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    # One stream slot: the second stream is a 503 written by the app.
    args = ("--camera", "emulated?fps=30", "--max-clients", "1", *request.param)
    with ServerProcess(*args) as running:
        yield running


PAGES = [
    "/",
    "/cameras/default/",
    "/status",
    "/healthz",
    "/snapshot.jpg",
    "/static/viewer.js",
    "/cameras/nope/",  # 404
    "/nothing-here",  # 404 outside the blueprint
]


@pytest.mark.parametrize("path", PAGES)
def test_every_response_says_nosniff(server: ServerProcess, path: str) -> None:
    """Browsers must not guess a type from the bytes: a frame or a status page
    is what its Content-Type says, never script or HTML."""
    response = requests.get(server.url(path), timeout=LIVENESS)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", response.headers


def test_streams_and_refused_streams_say_nosniff(server: ServerProcess) -> None:
    """A stream and a refused stream carry them too, whoever writes them."""
    head = stream_head(server, "/stream.mjpg")
    assert head["x-content-type-options"] == "nosniff"
    # The slot is free again once the server has seen that connection go.
    wait_until(lambda: server.status()["clients"] == 0, LIVENESS)
    with requests.get(server.url("/stream.mjpg"), stream=True, timeout=LIVENESS) as first:
        assert first.status_code == 200
        assert first.headers["X-Content-Type-Options"] == "nosniff"
        # stream=True: were it a stream after all, reading it would never end.
        with requests.get(server.url("/stream.mjpg"), stream=True, timeout=LIVENESS) as refused:
            assert refused.status_code == 503
            assert refused.headers["X-Content-Type-Options"] == "nosniff"
