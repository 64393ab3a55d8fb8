"""Scripted upstream servers on real loopback sockets, for the relay camera's tests.

Each connection is answered by a script, a function given the connected socket
and a stop event, on its own thread; ``close()`` stops every script (a
script must check the event between its sends) and the listener.

    with Upstream(drip(HEAD, period=0.25)) as upstream:
        RelayCamera(upstream.url("/stream"), ...)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from mjpeg_server.wire.multipart import PartEncoder

Script = Callable[[socket.socket, threading.Event], None]

ENCODER = PartEncoder("upstream")
#: A stream response head, as mjpg-streamer sends it (HTTP/1.0, close-delimited).
STREAM_HEAD = b"HTTP/1.0 200 OK\r\nContent-Type: " + ENCODER.content_type.encode() + b"\r\n\r\n"


class Upstream:
    """Listens on a free port of 127.0.0.1; connection ``n`` runs ``scripts[n]``
    (the last one for every connection after)."""

    def __init__(self, *scripts: Script) -> None:
        assert scripts
        self.scripts = scripts
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, name="upstream-accept", daemon=True).start()

    def url(self, path: str = "/stream") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:  # the listener was closed
                return
            script = self.scripts[min(self.connections, len(self.scripts) - 1)]
            self.connections += 1
            thread = threading.Thread(
                target=self._run, args=(script, connection), name="upstream", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _run(self, script: Script, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10.0)
            with contextlib.suppress(OSError):  # the client left: the script is over
                read_request(connection)
                script(connection, self._stop)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(10.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_request(connection: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        chunk = connection.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


def drip(data: bytes, period: float) -> Script:
    """Send ``data`` one byte every ``period`` seconds, then hold the connection
    until stopped: a server (or a path) that is alive but hopelessly slow."""

    def script(connection: socket.socket, stop: threading.Event) -> None:
        for byte in data:
            connection.sendall(bytes([byte]))
            if stop.wait(period):  # pacing the drip, not waiting for an outcome
                return
        stop.wait()

    return script


def parts(
    bodies: Sequence[bytes], *, then_close: bool = True, repeat: int = 1, period: float = 0.0
) -> Script:
    """A stream of ``bodies`` (``repeat`` times over, one every ``period`` seconds),
    each as an ``image/jpeg`` part whatever it holds; then the end of the
    connection, or (``then_close=False``) silence until stopped."""

    def script(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(STREAM_HEAD + ENCODER.opening)
        for body in list(bodies) * repeat:
            connection.sendall(ENCODER.encode(body))
            if period and stop.wait(period):  # pacing, as a camera's frame rate
                return
        if not then_close:
            stop.wait()

    return script


def error_status(code: int, reason: str) -> Script:
    """An HTTP error response, then the end of the connection."""

    def script(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(
            f"HTTP/1.0 {code} {reason}\r\nContent-Type: text/plain\r\n\r\n{reason}\n".encode()
        )

    return script
