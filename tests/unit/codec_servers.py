"""Real local HTTP servers for the client and probe tests.

:class:`WSGIStreamServer` is Werkzeug's threaded server (HTTP/1.1, chunked
bodies) running a small WSGI app that streams PartEncoder parts.
:class:`RawServer` answers each connection with bytes a test scripts, then closes
it: an HTTP/1.0 close-delimited response like mjpg-streamer's, or anything broken.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import make_server

from mjpeg_server.wire.frame_headers import encode_frame_headers
from mjpeg_server.wire.multipart import PartEncoder

BOUNDARY = "mjpegframe"
#: Not a real image, but SOI ... EOI: a complete JPEG as far as the kit checks.
FAKE_JPEG = b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9"


def jpeg(index: int) -> bytes:
    """A distinct fake frame per index."""
    return b"\xff\xd8" + index.to_bytes(4, "big") + FAKE_JPEG[2:]


def frame_parts(encoder: PartEncoder, seqs: Iterable[int]) -> Iterator[bytes]:
    for seq in seqs:
        yield encoder.encode(jpeg(seq), encode_frame_headers(1_700_000_000 + seq + 0.25, seq))


class WSGIStreamServer:
    """Werkzeug's threaded dev server with a few stream endpoints.

    ``/stream?n=N``: N frames then the end; ``/stall``: one frame, then nothing
    until the server is closed; ``/missing``: 404; ``/text``: a text/plain body.
    """

    def __init__(self) -> None:
        self.release = threading.Event()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        encoder = PartEncoder(BOUNDARY)
        if path == "/stream":
            count = int(parse_qs(environ.get("QUERY_STRING", "")).get("n", ["3"])[0])
            start_response("200 OK", [("Content-Type", encoder.content_type)])
            return self._body(encoder, range(count))
        if path == "/stall":
            start_response("200 OK", [("Content-Type", encoder.content_type)])
            return self._stalling(encoder)
        if path == "/text":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"not a stream"]
        start_response("404 NOT FOUND", [("Content-Type", "text/plain")])
        return [b"no such stream"]

    @staticmethod
    def _body(encoder: PartEncoder, seqs: Iterable[int]) -> Iterator[bytes]:
        yield encoder.opening
        yield from frame_parts(encoder, seqs)

    def _stalling(self, encoder: PartEncoder) -> Iterator[bytes]:
        yield from self._body(encoder, [0])
        self.release.wait(60)

    def __enter__(self) -> WSGIStreamServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


class RawServer:
    """Answers connection number i (from 0) with ``respond(i)``, then closes it."""

    def __init__(self, respond: Callable[[int], bytes], port: int = 0) -> None:
        self.respond = respond
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", port))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}{path}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed by __exit__
                return
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = connection.recv(4096)
                    if not data:
                        break
                    request += data
                index, self.connections = self.connections, self.connections + 1
                try:
                    connection.sendall(self.respond(index))
                except OSError:  # the client went away first
                    continue

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # shutdown() wakes the accept() blocked in the server thread; close() alone may not.
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(10)


def http10(
    body: bytes, content_type: str = f"multipart/x-mixed-replace;boundary={BOUNDARY}"
) -> bytes:
    """An HTTP/1.0 response whose body ends when the connection closes."""
    return b"HTTP/1.0 200 OK\r\nContent-Type: " + content_type.encode() + b"\r\n\r\n" + body


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just freed by us)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])
