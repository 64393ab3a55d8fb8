"""The ``multipart/x-mixed-replace`` encoder: each camera frame framed once.

Goal: the server frames a frame into a part once and writes the same
``bytes`` object to every viewer. A stream :class:`PartEncoder` writes::

    --BOUNDARY CRLF                         (the opening delimiter, once)
    Content-Type: image/jpeg CRLF           (one part …)
    Content-Length: N CRLF
    X-...: ... CRLF
    CRLF
    <N payload bytes>
    CRLF --BOUNDARY CRLF                    (… ends with the next delimiter)

Each part carries the delimiter that *follows* it, so a browser sees the end of
a frame the moment the frame is written (Firefox paints on the delimiter; see
the field notes §3) and every part is self-contained. The cost is one extra
delimiter at the end of a stream, which parsers treat as the end (a connection
close ends a multipart body that never sends its close delimiter).
:class:`Layout` names the other layout, for Chromium: advance headers.

No I/O. Cost per part: one copy of the payload and its few header lines.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

from .headers import content_type, validate_boundary

__all__ = ["Layout", "PartEncoder"]

# A header field name is a token; a value must not smuggle in line breaks.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


#: Header names an encoder remembers as checked: a stream sends the same few
#: with every frame, and checking each one per frame is work per frame.
_CHECKED_NAMES = 32


def _check_name(name: str) -> bytes:
    """``name: `` as bytes; ``ValueError`` if ``name`` is not a token."""
    if not _TOKEN_RE.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    return name.encode("latin-1") + b": "


def _check_value(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name!r} value contains a line break: {value!r}")
    return value.encode("latin-1") + b"\r\n"


class Layout(enum.Enum):
    """How a stream lays its parts out on the wire; a stream keeps one layout."""

    #: Each part carries its own headers (``Content-Type``, ``Content-Length``,
    #: ``X-Timestamp``, ``X-Frame-Seq``), then the payload and the next
    #: delimiter: :meth:`PartEncoder.encode`.
    STANDARD = "standard"
    #: µStreamer's ``advance_headers``: the payload, the delimiter and then the
    #: *next* part's headers, for Chromium (:meth:`PartEncoder.encode_advance`).
    ADVANCE_HEADERS = "advance_headers"


class PartEncoder:
    """Frames payloads as parts of one ``multipart/x-mixed-replace`` stream.

    Build it once per stream configuration; :meth:`encode` is called once per
    camera frame and its result is shared by every client.
    """

    __slots__ = (
        "_advance_tail",
        "_delimiter",
        "_field_starts",
        "_type_line",
        "advance_opening",
        "boundary",
        "content_type",
        "opening",
        "part_content_type",
    )

    def __init__(self, boundary: str, part_content_type: str = "image/jpeg") -> None:
        self.boundary = validate_boundary(boundary)
        #: The response's ``Content-Type`` header value.
        self.content_type = content_type(boundary)
        self.part_content_type = part_content_type
        type_line = _check_name("Content-Type"), _check_value("Content-Type", part_content_type)
        self._type_line = b"".join(type_line)
        self._field_starts: dict[str, bytes] = {}
        #: The first bytes of the body: the delimiter that opens the first part.
        self.opening = b"--" + boundary.encode("ascii") + b"\r\n"
        # CRLF belongs to the delimiter (RFC 2046), not to the payload.
        self._delimiter = b"\r\n" + self.opening
        # The "advance headers" layout (see encode_advance): the next part's
        # headers go out with the delimiter, before its payload exists.
        next_head = self._type_line + b"\r\n"
        #: The first bytes of an advance-headers body: delimiter and first headers.
        self.advance_opening = self.opening + next_head
        self._advance_tail = self._delimiter + next_head

    def opening_for(self, layout: Layout) -> bytes:
        """The first bytes of a body in ``layout``."""
        return self.advance_opening if layout is Layout.ADVANCE_HEADERS else self.opening

    def encode(self, payload: bytes, headers: Iterable[tuple[str, str]] = ()) -> bytes:
        """One part: its headers, ``payload`` and the delimiter that ends it.

        ``Content-Type`` and ``Content-Length`` come first and are always set
        here; ``headers`` adds the rest (for example ``X-Timestamp``). Raises
        ``ValueError`` for a header that is not a token or a value with a line
        break (header injection). Cost: one copy of ``payload``.
        """
        head = [self._type_line, b"Content-Length: %d\r\n" % len(payload)]
        starts = self._field_starts
        for name, value in headers:
            start = starts.get(name)
            if start is None:
                start = _check_name(name)
                if len(starts) < _CHECKED_NAMES:
                    starts[name] = start
            head.append(start)
            head.append(_check_value(name, value))
        head.append(b"\r\n")
        head.append(payload)
        head.append(self._delimiter)
        return b"".join(head)

    def encode_advance(self, payload: bytes) -> bytes:
        """``payload`` and the delimiter, then the *next* part's headers.

        Chromium paints a part only once the next part's header block has
        ended (crbug 527446), so with :meth:`encode` every frame shows one frame
        late. A stream opened with :attr:`advance_opening` and made of these
        parts is painted at once — µStreamer's ``advance_headers``. The price:
        the headers leave before their payload exists, so they carry only
        ``Content-Type``: no ``Content-Length`` (parsers find the end by the
        delimiter), no ``X-Timestamp`` or ``X-Frame-Seq``.
        """
        return payload + self._advance_tail
