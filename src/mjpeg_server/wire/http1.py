"""An HTTP/1 response as a client reads it, sans-I/O: its head, then its body's framing.

Goal: what a streaming client needs from HTTP/1.0 and 1.1 responses and no
more, for tools that read raw sockets (``mjpeg-server bench``):
:class:`ResponseHeadReader` collects the status line and headers (bounded),
and :func:`body_decoder` picks the body's framing from them: chunked
(:class:`ChunkedDecoder`), ``Content-Length`` (:class:`LengthDecoder`), or
until the connection closes (:class:`CloseDelimitedDecoder`, HTTP/1.0 style,
what mjpg-streamer sends). Each decoder passes body bytes on as they arrive
and says when the body is complete.

Cost: linear in the bytes fed. The head is searched once per fed chunk from
where the last search stopped, and held only until it is complete (at most
``max_head`` bytes). Body bytes are passed on as slices of what was fed,
never buffered; a chunked body holds back only a size or trailer line split
across reads (at most 1 KiB).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BodyDecoder",
    "ChunkedDecoder",
    "CloseDelimitedDecoder",
    "LengthDecoder",
    "ResponseError",
    "ResponseHead",
    "ResponseHeadReader",
    "body_decoder",
]

#: The longest chunk-size or trailer line a chunked body may have.
MAX_CHUNK_LINE: Final = 1024
_HEX_RE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_STATUS_RE = re.compile(r"[0-9]{3}")
_DIGITS_RE = re.compile(r"[0-9]+")
# The end of a head: a line break, then an empty line.
_BLANK_LINE_RE = re.compile(rb"\r?\n\r?\n")


class ResponseError(Exception):
    """The HTTP response (not the multipart body) is malformed."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """A response's status line and headers."""

    status: int
    reason: str
    #: Header names in lower case; the first of repeated headers counts.
    headers: Mapping[str, str]

    @classmethod
    def parse(cls, head: bytes) -> ResponseHead:
        """The head (status line and header lines, without the blank line)."""
        lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not _STATUS_RE.fullmatch(code):
            raise ResponseError(f"expected an HTTP status line, got {lines[0][:40]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        return cls(int(code), reason, headers)


class ResponseHeadReader:
    """Collects a response's first bytes until its head is complete.

    The head ends at the first blank line (CRLF CRLF; tolerated: bare LFs).
    More than ``max_head`` bytes without one is a :class:`ResponseError`: not an
    HTTP server talking.
    """

    __slots__ = ("_data", "_searched", "max_head")

    def __init__(self, max_head: int = 64 * 1024) -> None:
        self.max_head = max_head
        self._data = bytearray()
        self._searched = 0  # no blank line starts before this

    def feed(self, data: bytes) -> tuple[ResponseHead, bytes] | None:
        """The head and the body bytes after it, once the head is complete; else None."""
        buf = self._data
        buf += data
        blank = _BLANK_LINE_RE.search(buf, self._searched)
        if blank is None:
            if len(buf) > self.max_head:
                raise ResponseError(f"no end of the response headers in {self.max_head} bytes")
            # A blank line may start in the last three bytes and end in the next feed.
            self._searched = max(0, len(buf) - 3)
            return None
        head = ResponseHead.parse(bytes(buf[: blank.start()]))
        rest = bytes(buf[blank.end() :])
        buf.clear()
        return head, rest


class BodyDecoder:
    """A body's framing: :meth:`feed` passes body bytes on; :attr:`done` says it is complete."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        #: The body is complete: nothing after it belongs to it.
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        """The body bytes in ``data``, in order (slices of it; never empty ones)."""
        raise NotImplementedError


class CloseDelimitedDecoder(BodyDecoder):
    """A body that ends when the connection closes (HTTP/1.0 style): all of it."""

    __slots__ = ()

    def feed(self, data: bytes) -> list[bytes]:
        return [data] if data else []


class LengthDecoder(BodyDecoder):
    """A body of ``Content-Length`` bytes; whatever follows them is dropped."""

    __slots__ = ("_remaining",)

    def __init__(self, length: int) -> None:
        super().__init__()
        self._remaining = length
        self.done = not length

    def feed(self, data: bytes) -> list[bytes]:
        data = data[: self._remaining]
        self._remaining -= len(data)
        self.done = not self._remaining
        return [data] if data else []


class ChunkedDecoder(BodyDecoder):
    """Incremental decoder of HTTP/1.1 ``Transfer-Encoding: chunked``.

    Payload bytes leave as soon as they arrive (sliced out of the input, never
    buffered); only a size or trailer line split across reads is held back.
    """

    __slots__ = ("_crlf", "_partial", "_remaining", "_trailer")

    def __init__(self) -> None:
        super().__init__()
        self._partial = b""
        self._remaining = 0
        self._crlf = False  # the line break after a chunk's data is next
        self._trailer = False  # the last chunk came: trailer lines up to an empty one

    def feed(self, data: bytes) -> list[bytes]:
        if self._partial:
            data, self._partial = self._partial + data, b""
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end and not self.done:
            if self._remaining:
                take = min(self._remaining, end - pos)
                # A slice of all of ``data`` is ``data`` itself: no copy then.
                out.append(data[pos : pos + take])
                pos += take
                self._remaining -= take
                self._crlf = not self._remaining
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                if end - pos > MAX_CHUNK_LINE:
                    raise ResponseError(f"chunked body: a line of more than {MAX_CHUNK_LINE} bytes")
                self._partial = data[pos:]
                break
            line = data[pos:newline].rstrip(b"\r")
            pos = newline + 1
            self._line(line)
        return out

    def _line(self, line: bytes) -> None:
        if self._crlf:
            if line:
                raise ResponseError(f"chunked body: expected CRLF after a chunk, got {line[:20]!r}")
            self._crlf = False
        elif self._trailer:
            self.done = not line
        else:
            size = line.partition(b";")[0].strip(b" \t")
            if not _HEX_RE.fullmatch(size):
                raise ResponseError(f"chunked body: bad chunk size line {line[:20]!r}")
            self._remaining = int(size, 16)
            self._trailer = not self._remaining


def body_decoder(head: ResponseHead) -> BodyDecoder:
    """The decoder for the body of a response with ``head``: chunked if it says
    so, else ``Content-Length`` if it has a plain one, else until the connection closes."""
    headers = head.headers
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return ChunkedDecoder()
    length = headers.get("content-length", "")
    if _DIGITS_RE.fullmatch(length):
        return LengthDecoder(int(length))
    return CloseDelimitedDecoder()
