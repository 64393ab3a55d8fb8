"""Read an MJPEG stream over HTTP: frames from any ``multipart/x-mixed-replace`` source.

Our server, mjpg-streamer, µStreamer, ffmpeg, IP cameras: :func:`iter_frames`
yields one :class:`ReceivedFrame` per part as soon as its last byte is in. It
is a thin I/O loop around :class:`~mjpeg_server.wire.multipart.MultipartParser`:
requests opens the response with ``stream=True`` and the loop feeds the parser
whatever ``read1`` returns, so nothing waits for a buffer to fill (a plain
``read(n)`` on an HTTP/1.0 close-delimited response blocks until ``n`` bytes
arrive: frames late by several frame periods) and nothing buffers the endless
body. Chunked HTTP/1.1 and close-delimited HTTP/1.0 responses both work.

Errors are :class:`StreamError` subclasses (connection, timeout, HTTP status,
not multipart) or :class:`~mjpeg_server.wire.multipart.ProtocolError` for a
malformed body, including a connection that closes in the middle of a part.
:func:`open_stream` gives the lower-level view the probe needs: the HTTP status,
the response headers and the parser's deviations.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..wire.frame_headers import decode_frame_headers
from ..wire.multipart import (
    NEED_DATA,
    Headers,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    ProtocolError,
)
from .errors import (
    HTTPStatusError,
    NotMultipartError,
    StreamConnectionError,
    StreamError,
    StreamTimeout,
    describe_error,
)

__all__ = [
    "HTTPStatusError",
    "MJPEGStream",
    "NotMultipartError",
    "ReceivedFrame",
    "StreamConnectionError",
    "StreamError",
    "StreamTimeout",
    "iter_frames",
    "open_stream",
]

#: The first reconnect delay; it doubles up to ``max_backoff``.
FIRST_BACKOFF = 0.1


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """One part of the stream: normally a JPEG, with its part headers."""

    jpeg: bytes
    headers: Headers
    #: ``X-Timestamp``: capture time in Unix seconds, when the server sends a
    #: valid one (``wire.frame_headers``).
    timestamp: float | None
    #: ``X-Frame-Seq``: the server's frame counter, when it sends a valid one.
    seq: int | None
    #: ``time.time()`` when the frame's last byte arrived.
    received_at: float


class MJPEGStream:
    """An open MJPEG response: its status and headers now, its frames as they come.

    Close it (or use it as a context manager) to drop the connection.
    """

    def __init__(
        self,
        url: str,
        response: requests.Response,
        parser: MultipartParser,
        *,
        timeout: float,
        chunk_size: int,
        own_session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self.status_code = response.status_code
        self.reason = response.reason
        #: The HTTP response headers (case-insensitive).
        self.headers: Mapping[str, str] = response.headers
        self.content_type = response.headers.get("Content-Type", "")
        self.parser = parser
        #: True once the server closed the connection.
        self.at_eof = False
        self._response = response
        self._raw: Any = response.raw
        self._timeout = timeout
        self._chunk_size = chunk_size
        self._own_session = own_session

    @property
    def boundary(self) -> str:
        return self.parser.boundary

    @property
    def deviations(self) -> frozenset[str]:
        """RFC 2046 deviations seen so far (see ``multipart.DEVIATIONS``)."""
        return self.parser.deviations

    def frames(self) -> Iterator[ReceivedFrame]:
        """Each part as it completes, until the stream ends.

        Raises :class:`StreamTimeout`, :class:`StreamConnectionError`, or
        :class:`~mjpeg_server.wire.multipart.ProtocolError` (malformed body, or the
        connection closed inside a part: then :attr:`at_eof` is True).
        """
        parser = self.parser
        headers = Headers()
        data: list[bytes] = []
        received_at = 0.0
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                chunk = self._read()
                received_at = time.time()
                self.at_eof = not chunk
                parser.feed(chunk)
            elif isinstance(event, PartStart):
                headers, data = event.headers, []
            elif isinstance(event, PartData):
                data.append(event.data)
            elif isinstance(event, PartEnd):
                stamp = decode_frame_headers(headers)
                yield ReceivedFrame(
                    jpeg=b"".join(data),
                    headers=headers,
                    timestamp=stamp.timestamp,
                    seq=stamp.seq,
                    received_at=received_at,
                )
            else:
                return

    def _read(self) -> bytes:
        """Whatever bytes have arrived (at least one), or b"" at the end."""
        try:
            data: bytes = self._raw.read1(self._chunk_size)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise StreamTimeout(f"no bytes from {self.url} for {self._timeout} s") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = describe_error(exc)
            raise StreamConnectionError(f"connection to {self.url} broke: {reason}") from exc
        return data

    def close(self) -> None:
        self._response.close()
        if self._own_session is not None:
            self._own_session.close()

    def __enter__(self) -> MJPEGStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


_Response = TypeVar("_Response")


def _head_deadline(conn: HTTPConnection, read_head: Callable[[], _Response]) -> _Response:
    """``read_head()`` (the response's status line and headers), ended by shutting
    the socket down if it is not done within the read timeout, in total.

    http.client applies the timeout to each read alone: a server that sends its
    head a byte every few seconds would hold the caller for ever (a relay camera
    stuck in ``starting`` with no error). One timer thread per request, only
    while the head is read.
    """
    timeout, sock = conn.timeout, conn.sock
    if not isinstance(timeout, int | float) or sock is None:
        return read_head()
    lock = threading.Lock()
    state = {"done": False, "expired": False}

    def expire() -> None:
        with lock:
            if state["done"]:
                return
            state["expired"] = True
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)

    def finish() -> None:
        timer.cancel()
        with lock:
            state["done"] = True
        if state["expired"]:
            # Whatever the shut-down socket left of the head (an error, or a head
            # cut short) is not the server's answer. TimeoutError is how urllib3,
            # and then requests, recognise a read timeout.
            raise TimeoutError(f"no complete response head within {timeout} s")

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        response = read_head()
    except Exception:
        finish()
        raise
    finish()
    return response


class _HeadDeadlineHTTPConnection(HTTPConnection):
    def getresponse(self) -> Any:
        return _head_deadline(self, super().getresponse)


class _HeadDeadlineHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        return _head_deadline(self, super().getresponse)


class _HeadDeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _HeadDeadlineHTTPConnection


class _HeadDeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HeadDeadlineHTTPSConnection


_HEAD_DEADLINE_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _HeadDeadlineHTTPPool,
    "https": _HeadDeadlineHTTPSPool,
}


class _HeadDeadlineAdapter(HTTPAdapter):
    """requests' transport with :func:`_head_deadline` on every connection,
    direct or through a proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _HEAD_DEADLINE_POOLS

    def proxy_manager_for(self, proxy: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _HEAD_DEADLINE_POOLS
        return manager


def _session_with_head_deadline() -> requests.Session:
    session = requests.Session()
    adapter = _HeadDeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def open_stream(
    url: str,
    *,
    timeout: float = 10.0,
    session: requests.Session | None = None,
    chunk_size: int = 65536,
    strict: bool = False,
) -> MJPEGStream:
    """Connect and check the response; the body is read by :meth:`MJPEGStream.frames`.

    ``timeout`` bounds the connection, the whole response head (in total, not per
    byte, when ``session`` is not given: :func:`_head_deadline`) and every wait
    for more bytes of the body. ``strict`` makes the parser reject deviations
    from RFC 2046 (see ``multipart.RFC_ALLOWED``). Raises
    :class:`StreamConnectionError`, :class:`StreamTimeout`,
    :class:`HTTPStatusError` or :class:`NotMultipartError`.
    """
    own_session = None
    if session is None:
        session = own_session = _session_with_head_deadline()
    try:
        try:
            response = session.get(url, stream=True, timeout=timeout)
        except requests.Timeout as exc:
            raise StreamTimeout(f"no complete response head from {url} within {timeout} s") from exc
        except requests.RequestException as exc:
            raise StreamConnectionError(f"cannot connect to {url}: {describe_error(exc)}") from exc
        try:
            if response.status_code >= 400:
                raise HTTPStatusError(url, response.status_code, response.reason)
            content_type = response.headers.get("Content-Type", "")
            try:
                parser = MultipartParser.from_content_type(content_type, strict=strict)
            except ProtocolError as exc:
                if strict or content_type.lower().startswith("multipart/"):
                    raise NotMultipartError(url, content_type, str(exc)) from exc
                parser, head = _parser_from_first_line(url, response, content_type, exc)
                parser.feed(head)  # not empty: b"" would mean the end of the stream
        except BaseException:
            response.close()
            raise
    except BaseException:
        if own_session is not None:
            own_session.close()
        raise
    return MJPEGStream(
        url, response, parser, timeout=timeout, chunk_size=chunk_size, own_session=own_session
    )


#: How far to look for the first line of a body whose Content-Type is not
#: multipart: a delimiter line is at most "--", 256 characters and CRLF.
_FIRST_LINE_LIMIT = 512


def _parser_from_first_line(
    url: str, response: requests.Response, content_type: str, error: ProtocolError
) -> tuple[MultipartParser, bytes]:
    """A parser for a non-multipart response whose body starts with a delimiter
    line (ffmpeg's ``-f mpjpeg`` server), and the bytes read to find it; else
    :class:`NotMultipartError` with the Content-Type's own complaint."""
    head = b""
    try:
        while b"\n" not in head and len(head) < _FIRST_LINE_LIMIT:
            chunk: bytes = response.raw.read1(_FIRST_LINE_LIMIT - len(head))
            if not chunk:
                break
            head += chunk
        return MultipartParser.from_first_line(head), head
    except (ProtocolError, urllib3.exceptions.HTTPError, OSError):
        raise NotMultipartError(url, content_type, str(error)) from error


def iter_frames(
    url: str,
    *,
    timeout: float = 10.0,
    session: requests.Session | None = None,
    reconnect: bool = False,
    max_backoff: float = 10.0,
    chunk_size: int = 65536,
) -> Iterator[ReceivedFrame]:
    """Frames of the MJPEG stream at ``url``, each as soon as its last byte is in.

    Raises what :func:`open_stream` and :meth:`MJPEGStream.frames` raise. With
    ``reconnect=True`` a stream that ends, breaks, times out, cannot be reached
    or closes inside a part is opened again after a delay that starts at
    ``FIRST_BACKOFF`` seconds and doubles up to ``max_backoff`` (it starts over
    after each frame); HTTP errors, a non-multipart response and malformed bytes
    still raise, since retrying would not change them. Stop by closing the
    generator (or breaking out of the loop).
    """
    delay = min(FIRST_BACKOFF, max_backoff)
    while True:
        try:
            with open_stream(
                url, timeout=timeout, session=session, chunk_size=chunk_size
            ) as stream:
                try:
                    for frame in stream.frames():
                        delay = min(FIRST_BACKOFF, max_backoff)
                        yield frame
                except ProtocolError:
                    if not (reconnect and stream.at_eof):
                        raise
        except (StreamConnectionError, StreamTimeout):
            if not reconnect:
                raise
        if not reconnect:
            return
        time.sleep(delay)
        delay = min(delay * 2, max_backoff)
