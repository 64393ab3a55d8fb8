"""The ``multipart/x-mixed-replace`` wire format: encoder and sans-I/O parser.

Nothing here touches a socket, a file or a clock: bytes in, bytes or events out.
The server uses the encoder to frame each camera frame once and share the bytes
among all its clients; anyone reading an MJPEG stream uses the parser.

Encoder
-------
:class:`PartEncoder` frames payloads for one boundary. A stream it writes is::

    --BOUNDARY CRLF                         (the opening delimiter, once)
    Content-Type: image/jpeg CRLF           (one part …)
    Content-Length: N CRLF
    X-...: ... CRLF
    CRLF
    <N payload bytes>
    CRLF --BOUNDARY CRLF                    (… ends with the next delimiter)

Each part carries the delimiter that *follows* it, so a browser sees the end of
a frame the moment the frame is written (Firefox paints on the delimiter; see
the field notes §3) and every part is one self-contained ``bytes`` object that
the server writes to every client unchanged. The cost is one extra delimiter at
the end of a stream, which parsers treat as the end (a connection close ends a
multipart body that never sends its close delimiter, see ``StreamEnd``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "PartEncoder",
    "content_type",
    "validate_boundary",
]

# RFC 2046 §5.1.1 bchars: DIGIT / ALPHA / "'()+_,-./:=?" and space (not last).
_BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
# RFC 2045 tspecials (plus space): a parameter value containing one must be quoted.
_TSPECIALS = frozenset('()<>@,;:\\"/[]?= ')
# A header field name is a token; a value must not smuggle in line breaks.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def validate_boundary(boundary: str) -> str:
    """Return ``boundary`` if RFC 2046 allows it, else raise ``ValueError``.

    1 to 70 characters from ``DIGIT ALPHA '()+_,-./:=?`` and space, not ending
    in a space.
    """
    if not _BOUNDARY_RE.fullmatch(boundary):
        raise ValueError(
            f"invalid multipart boundary {boundary!r}: RFC 2046 allows 1-70 characters "
            "from A-Z a-z 0-9 '()+_,-./:=? and space, not ending in a space"
        )
    return boundary


def content_type(boundary: str, subtype: str = "x-mixed-replace") -> str:
    """The ``Content-Type`` header value for a multipart body with ``boundary``.

    The boundary is quoted only when it contains a character that RFC 2045
    forbids in an unquoted parameter value (``:``, ``/``, ``=``, ``?``, space …):
    some camera clients do not expect quotes, so they are not added needlessly.
    """
    validate_boundary(boundary)
    if _TSPECIALS.intersection(boundary):
        return f'multipart/{subtype}; boundary="{boundary}"'
    return f"multipart/{subtype}; boundary={boundary}"


def _header_line(name: str, value: str) -> bytes:
    if not _TOKEN_RE.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name!r} value contains a line break: {value!r}")
    return f"{name}: {value}\r\n".encode("latin-1")


class PartEncoder:
    """Frames payloads as parts of one ``multipart/x-mixed-replace`` stream.

    Build it once per stream configuration; :meth:`encode` is called once per
    camera frame and its result is shared by every client.
    """

    __slots__ = ("_delimiter", "boundary", "content_type", "opening", "part_content_type")

    def __init__(self, boundary: str, part_content_type: str = "image/jpeg") -> None:
        self.boundary = validate_boundary(boundary)
        #: The response's ``Content-Type`` header value.
        self.content_type = content_type(boundary)
        self.part_content_type = part_content_type
        #: The first bytes of the body: the delimiter that opens the first part.
        self.opening = b"--" + boundary.encode("ascii") + b"\r\n"
        # CRLF belongs to the delimiter (RFC 2046), not to the payload.
        self._delimiter = b"\r\n" + self.opening

    def encode(self, payload: bytes, headers: Iterable[tuple[str, str]] = ()) -> bytes:
        """One part: its headers, ``payload`` and the delimiter that ends it.

        ``Content-Type`` and ``Content-Length`` come first and are always set
        here; ``headers`` adds the rest (for example ``X-Timestamp``). Raises
        ``ValueError`` for a header that is not a token or a value with a line
        break (header injection). Cost: one copy of ``payload``.
        """
        head = [
            _header_line("Content-Type", self.part_content_type),
            b"Content-Length: %d\r\n" % len(payload),
        ]
        head.extend(_header_line(name, value) for name, value in headers)
        head.append(b"\r\n")
        head.append(payload)
        head.append(self._delimiter)
        return b"".join(head)
