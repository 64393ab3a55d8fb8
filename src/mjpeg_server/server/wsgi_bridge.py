"""The front door's WSGI side: a complete h11 request in, the app's answer out.

The front door (``front_door.py``) owns sockets and deadlines; this module
turns a request it has read into a PEP 3333 environ, runs the Flask app on a
small pool of threads, and turns the app's answer into the bytes the loop
writes: a response with a length (kept alive where HTTP/1.1 allows), a plain
error, or the head of a stream that the fan-out continues. Nothing here
touches a socket.
"""

from __future__ import annotations

import io
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import h11

from .bodies import ADOPT_STREAM, FanoutBody

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = [
    "AppPool",
    "call_app",
    "environ_for",
    "error_bytes",
    "http_date",
    "no_write",
    "response_bytes",
    "stream_head",
]

log = logging.getLogger(__name__)

#: A response header as WSGI passes it: (name, value).
Header = tuple[str, str]


class AppPool:
    """A fixed number of daemon threads running queued calls; started on demand.

    Daemon threads, unlike ``concurrent.futures``: a request still in the app
    at shutdown (a snapshot waiting for a camera) must not hold up the exit.
    """

    def __init__(self, threads: int, name: str) -> None:
        self._limit = threads
        self._name = name
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, call: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0 and self._threads < self._limit
            if start:
                self._threads += 1
            else:
                self._idle -= self._idle > 0
        self._queue.put(call)
        if start:
            threading.Thread(
                target=self._work, name=f"{self._name}-{self._threads}", daemon=True
            ).start()

    def _work(self) -> None:
        while True:
            call = self._queue.get()
            try:
                call()
            except Exception:
                log.exception("request failed")
            with self._lock:
                self._idle += 1


def environ_for(
    request: h11.Request,
    body: bytes,
    *,
    peer: Any,
    server: tuple[str, str],
    scheme: str,
    adopt: Callable[[FanoutBody], None],
) -> WSGIEnvironment:
    """The WSGI environ of a complete h11 request (PEP 3333), with the front door's
    :data:`~mjpeg_server.server.bodies.ADOPT_STREAM` callback."""
    target = request.target.decode("latin-1")
    path, _, query = target.partition("?")
    if "://" in path:  # absolute form (a proxy's request): keep the path
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method.decode("ascii"),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": server[0],
        "SERVER_PORT": server[1],
        "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("ascii"),
        "REMOTE_ADDR": str(peer[0]),
        "REMOTE_PORT": str(peer[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        ADOPT_STREAM: adopt,
    }
    for raw_name, raw_value in request.headers:
        name = raw_name.decode("latin-1")
        if "_" in name:
            continue  # X_User would pose as X-User in the environ (as nginx drops it)
        key = name.upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


#: The Date header's value and the second it is for: formatting it costs about
#: as much as the rest of a stream's head, and a join storm writes hundreds a second.
_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """Now, as a Date header says it (RFC 9110), computed at most once a second."""
    global _date  # noqa: PLW0603 - one tuple, replaced whole: safe from any thread
    second = int(time.time())
    if _date[0] != second:
        _date = (second, formatdate(second, usegmt=True))
    return _date[1]


def no_write(_data: bytes) -> object:
    raise RuntimeError("the front door does not support WSGI's write(); return the body")


def call_app(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[str, list[Header], bytes]:
    """Run ``app`` to the end of its body: its status, headers and body. What the
    app raises propagates (the front door answers ``500``); its ``close()`` is
    called either way."""
    response: list[Any] = []

    def start_response(
        status: str, headers: list[Header], exc_info: OptExcInfo | None = None, /
    ) -> Callable[[bytes], object]:
        response[:] = [status, headers]
        return no_write

    result: Iterable[bytes] = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return response[0], response[1], body


def error_bytes(status: int, reason: str, text: str) -> bytes:
    body = (text + "\n").encode("utf-8", "replace")
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Date: {http_date()}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii") + body


def response_bytes(
    parser: h11.Connection,
    request: h11.Request,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> bytes:
    code, _, reason = status.partition(" ")
    names = {name.lower() for name, _ in headers}
    fields = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    if "content-length" not in names and "transfer-encoding" not in names:
        fields.append((b"Content-Length", str(len(body)).encode("ascii")))
    if "date" not in names:
        fields.append((b"Date", http_date().encode("ascii")))
    data = parser.send(
        h11.Response(status_code=int(code), headers=fields, reason=reason.encode("latin-1"))
    )
    assert data is not None
    if body and request.method != b"HEAD":
        data += parser.send(h11.Data(data=body)) or b""
    return data + (parser.send(h11.EndOfMessage()) or b"")


#: Hop-by-hop and framing headers the stream head sets itself.
_STREAM_OWN_HEADERS = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})


def stream_head(request: h11.Request, status: str, headers: list[tuple[str, str]]) -> bytes:
    """The status line and headers of a stream whose body ends when the connection
    closes (no length, no chunking: valid in HTTP/1.0 and 1.1, and what
    mjpg-streamer and µStreamer send)."""
    version = "HTTP/1.0" if request.http_version == b"1.0" else "HTTP/1.1"
    lines = [f"{version} {status}", f"Date: {http_date()}", "Connection: close"]
    lines.extend(
        f"{name}: {value}" for name, value in headers if name.lower() not in _STREAM_OWN_HEADERS
    )
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
