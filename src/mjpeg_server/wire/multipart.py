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

Parser
------
:class:`MultipartParser` is sans-I/O in the style of h11: ``feed(data)`` stores
bytes (``b""`` marks the end of the stream), ``next_event()`` returns
:class:`PartStart` (headers complete), :class:`PartData` (payload bytes),
:class:`PartEnd`, :class:`StreamEnd`, or :data:`NEED_DATA`. Malformed input raises
:class:`ProtocolError`, after which the parser refuses more. Reading any MJPEG
source is a loop of ``feed`` and ``next_event`` around whatever I/O the caller
likes (``mjpeg_server.client`` does it with requests).

*Latency.* A part with ``Content-Length`` is framed by it: its payload bytes leave
as soon as they are fed, and ``PartEnd`` comes the moment the last one is in,
not when the next boundary arrives (that would hold every frame back by a frame
period). Content-Length also frames a payload that contains ``CRLF--boundary``.
The boundary after such a part is checked when it arrives. Without
Content-Length the payload is scanned for the delimiter with ``bytes.find``;
everything except the last ``len(boundary) + 3`` bytes (a possible partial
delimiter and the line break before it) leaves at once.

*Tolerance.* Real cameras and servers bend RFC 2046 §5.1.1 (field notes §4). By
default the parser accepts every bend in :data:`DEVIATIONS` and records its name
in :attr:`MultipartParser.deviations`; ``strict=True`` raises
:class:`ProtocolError` instead, except for :data:`RFC_ALLOWED` (what the RFC
itself allows, and the connection close that ends every live stream, our
encoder's included). Header names match in any case. Two rules decide what
tolerance cannot:

- Without Content-Length, exactly one line break (CRLF, or LF) before a
  boundary belongs to the delimiter; further blank lines are payload bytes, as
  the RFC says. With Content-Length, any run of line breaks between the
  payload and the boundary is skipped (``extra-crlf-after-payload``).
- The tolerant scan ends a part at ``--boundary`` even without a line break
  before it (``no-crlf-before-boundary``); the strict one only at
  ``CRLF--boundary``.

*End of stream.* The close delimiter ``--boundary--`` gives :class:`StreamEnd` at
once; the epilogue after it is dropped. A connection that closes right after a
delimiter line (every :class:`PartEncoder` stream ends so), or, tolerantly,
inside one or right after a counted part, gives :class:`StreamEnd` too and
records ``no-close-delimiter``. Closing anywhere else (inside headers, inside a
payload: "stream ended inside a part, N of M bytes") is a :class:`ProtocolError`.

*Limits and cost.* Time is linear in the bytes fed: every search resumes where
the last one stopped (a needle's length before the end), so no byte is searched
twice except those few per fed chunk. After :meth:`~MultipartParser.next_event`
returns :data:`NEED_DATA` the parser holds at most
``max_header_bytes + len(boundary) + 3`` bytes (:attr:`~MultipartParser.buffered`),
plus the current part's parsed header lines; one payload may not exceed
``max_part_bytes`` (the caller collects it, if it wants whole parts). Bytes are
copied at most twice (into the buffer, out as ``PartData``); a fed chunk that lies
wholly inside a counted payload is passed on as the same ``bytes`` object, with
no copy. Events are few: one ``PartData`` per fed chunk or less.

*Why not reuse one.* Measured here on the benchmark's stream (100 KB parts with
Content-Length and Content-Disposition added so both accept it, fed in 64 KiB
chunks), and on the deviations of the field notes:

- ``werkzeug.sansio.multipart.MultipartDecoder`` (form-data only): 330 MB/s; raises
  ``ValueError`` on parts without Content-Disposition (every MJPEG part); ignores
  Content-Length, so ``PartEnd`` waits for the next boundary and a payload
  containing the delimiter is misframed; rejects a missing CRLF before a boundary;
  keeps the CRLF of an extra blank line in the data; fed byte by byte it leaks the
  delimiter's CR into the payload (``b"AAAA\\r"`` for ``b"AAAA"``).
- ``multipart`` 2.0.1 ``PushMultipartParser``: 1.7 GB/s, but requires
  Content-Disposition, ignores Content-Length (same latency and misframing; it
  raises "Segment size does not match Content-Length" on a payload containing the
  delimiter), rejects transport padding and LF line endings, and has no way to
  report deviations.

Neither meets the latency requirement, so this module has its own parser. On
the same bytes and chunks (``tox -e bench``, medians on the loaded 2-core box)
it reads about 6 GB/s with Content-Length (aiohttp's ``MultipartReader``: 3.7;
a naive SOI/EOI scanner: 0.4) and 1.6 GB/s without (aiohttp: 0.8). Without
Content-Length the cost is ``bytes.find``'s, which is faster for longer
boundaries: with ``frame`` it is about 1.2 GB/s.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, NoReturn, TypeAlias, overload

__all__ = [
    "DEVIATIONS",
    "NEED_DATA",
    "RFC_ALLOWED",
    "Event",
    "Headers",
    "MultipartParser",
    "NeedData",
    "PartData",
    "PartEncoder",
    "PartEnd",
    "PartStart",
    "ProtocolError",
    "StreamEnd",
    "boundary_from_content_type",
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
        #: The first bytes of the body: the delimiter that opens the first part.
        self.opening = b"--" + boundary.encode("ascii") + b"\r\n"
        # CRLF belongs to the delimiter (RFC 2046), not to the payload.
        self._delimiter = b"\r\n" + self.opening
        # The "advance headers" layout (see encode_advance): the next part's
        # headers go out with the delimiter, before its payload exists.
        next_head = _header_line("Content-Type", part_content_type) + b"\r\n"
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
        head = [
            _header_line("Content-Type", self.part_content_type),
            b"Content-Length: %d\r\n" % len(payload),
        ]
        head.extend(_header_line(name, value) for name, value in headers)
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


# --------------------------------------------------------------------- parser


class ProtocolError(ValueError):
    """Malformed multipart input: the one exception the parser raises for bad bytes.

    The message says what was expected, what was seen and at which byte offset of
    the stream (counted from the first byte fed). A parser that raised it refuses
    any further input, like h11: its state is unknown, so nothing it said after
    the error could be trusted.
    """


#: Every deviation from RFC 2046 the tolerant parser accepts, by its stable short
#: name (what :attr:`MultipartParser.deviations` and the probe report), with a
#: one-line description.
DEVIATIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "lf-line-endings": "lines end in LF instead of CRLF",
        "preamble": "text or blank lines before the first boundary (legal, ignored)",
        "transport-padding": "spaces or tabs after a boundary (receivers must accept them)",
        "no-crlf-before-boundary": "a boundary directly after a payload, without its CRLF",
        "extra-crlf-after-payload": "extra line breaks between a payload and the next boundary",
        "missing-first-boundary": "the first part's headers come without a boundary before them",
        "no-content-length": "parts without Content-Length: framed by scanning for the boundary",
        "padded-content-length": "Content-Length value padded with extra spaces",
        "dashes-in-header-boundary": "the Content-Type boundary includes the body's leading '--'",
        "quoted-boundary": "the Content-Type boundary parameter is quoted (legal)",
        "no-close-delimiter": "the stream ended without the close delimiter '--boundary--'",
        "content-type-not-multipart": "Content-Type is not multipart/*; the body's first line "
        "gave the boundary (ffmpeg -f mpjpeg sends application/octet-stream)",
    }
)

#: The deviations strict mode still accepts: RFC 2046 allows them (a preamble, a
#: quoted boundary, parts without Content-Length, which it never mentions) or
#: requires receivers to accept them (transport padding); and a live
#: ``x-mixed-replace`` stream ends when the connection closes, so a stream that
#: ends right after a delimiter line (as every stream :class:`PartEncoder` writes
#: does) has no close delimiter. They are still recorded: the probe reports them.
RFC_ALLOWED: Final = frozenset(
    {"preamble", "transport-padding", "quoted-boundary", "no-content-length", "no-close-delimiter"}
)


@dataclass(frozen=True, slots=True)
class Headers:
    """A part's header fields as received: ordered ``(name, value)`` pairs.

    Names keep their case and values are latin-1 decoded (every byte maps to one
    character, so nothing is lost) with surrounding spaces and tabs stripped.
    Lookups ignore case, as RFC 2045 header names do.
    """

    items: tuple[tuple[str, str], ...] = ()

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        key = name.lower()
        for field, value in self.items:
            if field.lower() == key:
                return value
        return default

    def get_all(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (any case), in order."""
        key = name.lower()
        return tuple(value for field, value in self.items if field.lower() == key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def content_length(self) -> int | None:
        """``Content-Length`` as an int, or None when absent.

        Space padding is tolerated. A value that is not 1 to 18 decimal digits
        (negative, signed, non-numeric, absurdly long), or several different
        values, raise :class:`ProtocolError`: a wrong length would misframe every
        later part, so guessing is worse than stopping.
        """
        values = self.get_all("content-length")
        if not values:
            return None
        value = values[0].strip(" \t")
        if any(other.strip(" \t") != value for other in values[1:]):
            raise ProtocolError(f"expected one Content-Length, got conflicting values {values}")
        if not _LENGTH_RE.fullmatch(value):
            raise ProtocolError(f"expected Content-Length to be 1-18 digits, got {value!r}")
        return int(value)


@dataclass(frozen=True, slots=True)
class PartStart:
    """A part begins; its headers are complete."""

    headers: Headers


@dataclass(frozen=True, slots=True)
class PartData:
    """Some payload bytes of the current part, in order (never empty)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    """The current part's payload is complete."""


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The multipart body is over; every later :meth:`~MultipartParser.next_event` says so again."""


Event: TypeAlias = PartStart | PartData | PartEnd | StreamEnd


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA` (an enum, so type checkers narrow ``is`` tests)."""

    NEED_DATA = "NEED_DATA"


#: Returned by :meth:`MultipartParser.next_event` when it cannot say more until
#: :meth:`MultipartParser.feed` is called.
NEED_DATA: Final = NeedData.NEED_DATA

_StepResult: TypeAlias = Event | NeedData | None

_LENGTH_RE = re.compile(r"[0-9]{1,18}")
# The bytes a header name may have (an RFC 7230 token).
_TOKEN_BYTES_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN_PREFIX_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]*")
_LINE_BREAKS_RE = re.compile(rb"[\r\n]*")
# "; name = value" where value is a quoted string or runs to the next ";".
_PARAM_RE = re.compile(r';\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')
_QUOTED_PAIR_RE = re.compile(r"\\(.)")
# A tolerant parser takes boundaries longer than RFC 2046's 70 characters, up to this.
_MAX_TOLERANT_BOUNDARY = 256
#: A body's first line when it is a delimiter: "--", the boundary, a line break.
_FIRST_DELIMITER_RE = re.compile(
    rb"--([!-~][ -~]{0,%d}?)[ \t]*\r?\n" % (_MAX_TOLERANT_BOUNDARY - 1)
)


def _parse_content_type(value: str) -> tuple[str, bool]:
    """(boundary, whether it was quoted) from a multipart ``Content-Type`` value."""
    mime = value.partition(";")[0].strip().lower()
    if not mime.startswith("multipart/"):
        raise ProtocolError(f"expected a multipart Content-Type, got {value!r}")
    for match in _PARAM_RE.finditer(value, len(mime)):
        if match[1].lower() != "boundary":
            continue
        quoted = match[2] is not None
        boundary = _QUOTED_PAIR_RE.sub(r"\1", match[2]) if quoted else match[3].strip()
        if not boundary:
            break
        return boundary, quoted
    raise ProtocolError(f"expected a boundary parameter in Content-Type, got {value!r}")


def boundary_from_content_type(value: str) -> str:
    """The boundary of a multipart ``Content-Type`` header value, unquoted.

    Tolerant like the parser: the parameter name in any case, quotes, extra
    parameters in any order, no space after ``;``. A leading ``--`` is kept (some
    cameras write the body's dashes into the header); :class:`MultipartParser`
    matches it either way. Raises :class:`ProtocolError` when the type is not
    ``multipart/*`` or has no boundary. :meth:`MultipartParser.from_content_type`
    also records a quoted boundary as a deviation.
    """
    return _parse_content_type(value)[0]


def _match_end(pattern: re.Pattern[bytes], data: bytearray, pos: int) -> int:
    """Where ``pattern`` (one that can match nothing) stops matching at ``pos``."""
    match = pattern.match(data, pos)
    return pos if match is None else match.end()


def _excerpt(data: bytes | bytearray, start: int) -> str:
    return repr(bytes(data[start : start + 24]))


class MultipartParser:
    """Incremental, sans-I/O parser for one multipart body (see the module docstring).

    Call :meth:`feed` with bytes as they arrive (``b""`` once at the end of the
    stream) and :meth:`next_event` until it returns :data:`NEED_DATA`. Events
    follow the grammar ``(PartStart PartData* PartEnd)* StreamEnd?``.

    ``boundary`` is the parameter value from ``Content-Type``, unquoted (see
    :func:`boundary_from_content_type` and :meth:`from_content_type`). With
    ``strict=True`` every deviation outside :data:`RFC_ALLOWED` raises
    :class:`ProtocolError` instead of being tolerated, and the boundary must be
    RFC 2046-valid. ``max_header_bytes`` bounds one part's header block, a
    boundary line, a preamble and a run of blank lines; ``max_part_bytes`` bounds
    one payload. Exceeding either raises :class:`ProtocolError`.
    """

    __slots__ = (
        "_alt_token",
        "_at_start",
        "_buf",
        "_consumed",
        "_deviations",
        "_eof",
        "_error",
        "_expect_line_break",
        "_header_bytes",
        "_hold",
        "_lines",
        "_lookback",
        "_needle",
        "_needle_offset",
        "_part_len",
        "_part_start",
        "_pending",
        "_remaining",
        "_scan",
        "_step",
        "_token",
        "boundary",
        "max_header_bytes",
        "max_part_bytes",
        "strict",
    )

    def __init__(
        self,
        boundary: str,
        *,
        strict: bool = False,
        max_header_bytes: int = 16384,
        max_part_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        if strict:
            try:
                validate_boundary(boundary)
            except ValueError as exc:
                raise ProtocolError(str(exc)) from None
        elif not 0 < len(boundary) <= _MAX_TOLERANT_BOUNDARY or not boundary.isprintable():
            raise ProtocolError(
                f"expected a boundary of 1-{_MAX_TOLERANT_BOUNDARY} printable characters, "
                f"got {boundary!r}"
            )
        try:
            raw = boundary.encode("latin-1")
        except UnicodeEncodeError:
            raise ProtocolError(f"expected a latin-1 boundary, got {boundary!r}") from None
        self.boundary = boundary
        self.strict = strict
        self.max_header_bytes = max_header_bytes
        self.max_part_bytes = max_part_bytes
        #: What a delimiter line starts with: "--" and the boundary.
        self._token = b"--" + raw
        #: The boundary alone, when it already starts with "--" (some cameras'
        #: header says "boundary=--x" and the body "--x"): matched as a deviation.
        self._alt_token = raw if raw.startswith(b"--") else None
        # What a payload without Content-Length is scanned for, and how many bytes
        # before a match may still belong to the delimiter (its line break, and
        # the "--" when the alternative token is searched for).
        if strict:
            self._needle = b"\r\n" + self._token
            self._needle_offset = 2
            self._lookback = 0
        elif self._alt_token is not None:
            self._needle = self._alt_token
            self._needle_offset = 0
            self._lookback = 4
        else:
            self._needle = self._token
            self._needle_offset = 0
            self._lookback = 2
        #: Bytes a payload scan holds back: a partial needle and its lookback.
        self._hold = len(self._needle) - 1 + self._lookback
        self._buf = bytearray()
        self._pending: deque[bytes] = deque()
        self._eof = False
        self._error: str | None = None
        self._consumed = 0
        self._deviations: set[str] = set()
        self._step: Callable[[], _StepResult] = self._step_boundary
        self._at_start = True
        self._expect_line_break = False
        self._scan = 0
        self._header_bytes = 0
        self._lines: list[tuple[str, str]] = []
        self._remaining = 0
        self._part_len = 0
        self._part_start = 0

    @classmethod
    def from_content_type(
        cls,
        value: str,
        *,
        strict: bool = False,
        max_header_bytes: int = 16384,
        max_part_bytes: int = 32 * 1024 * 1024,
    ) -> MultipartParser:
        """A parser for the body of a response with ``Content-Type: value``.

        Like :func:`boundary_from_content_type`, and records ``quoted-boundary``.
        """
        boundary, quoted = _parse_content_type(value)
        parser = cls(
            boundary,
            strict=strict,
            max_header_bytes=max_header_bytes,
            max_part_bytes=max_part_bytes,
        )
        if quoted:
            parser._deviate("quoted-boundary", 0)
        return parser

    @classmethod
    def from_first_line(
        cls,
        line: bytes,
        *,
        strict: bool = False,
        max_header_bytes: int = 16384,
        max_part_bytes: int = 32 * 1024 * 1024,
    ) -> MultipartParser:
        """A parser for a body whose Content-Type is not multipart but whose
        first line is a delimiter (``--ffmpeg`` CRLF: ffmpeg's mpjpeg muxer says
        ``application/octet-stream``). Records ``content-type-not-multipart``;
        strict mode refuses it. ``line`` is the body's first line (or more);
        feed the parser the body from its start, that line included.
        """
        match = _FIRST_DELIMITER_RE.match(line)
        if match is None:
            raise ProtocolError(f"the body does not start with a boundary line: {line[:24]!r}")
        parser = cls(
            match[1].decode("latin-1"),
            strict=strict,
            max_header_bytes=max_header_bytes,
            max_part_bytes=max_part_bytes,
        )
        parser._deviate("content-type-not-multipart", 0)
        return parser

    @property
    def deviations(self) -> frozenset[str]:
        """Names (keys of :data:`DEVIATIONS`) of the deviations accepted so far."""
        return frozenset(self._deviations)

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet turned into events (held for a decision)."""
        return len(self._buf) + sum(map(len, self._pending))

    def feed(self, data: bytes) -> None:
        """Give the parser the next bytes of the stream; ``b""`` marks its end.

        Only stores ``data`` (no parsing, no copy): :meth:`next_event` does the
        work. Data after the close delimiter (the epilogue) is dropped. Raises
        :class:`ProtocolError` after a parse error, ``RuntimeError`` after the end.
        """
        if self._error is not None:
            raise ProtocolError(f"parser failed earlier: {self._error}")
        if self._eof:
            raise RuntimeError("feed() called after the end of the stream (b'')")
        if not data:
            self._eof = True
        elif self._step != self._step_done:
            self._pending.append(data if type(data) is bytes else bytes(data))

    def next_event(self) -> Event | NeedData:
        """The next event, or :data:`NEED_DATA` if the bytes fed so far say no more.

        After :class:`StreamEnd` every call returns StreamEnd again, so a loop
        that only stops at NEED_DATA must stop at StreamEnd too. Raises
        :class:`ProtocolError` on malformed input (and on every call after).
        """
        if self._error is not None:
            raise ProtocolError(f"parser failed earlier: {self._error}")
        while True:
            result = self._step()
            if result is not None:
                return result

    # -- helpers ---------------------------------------------------------------

    def _fail(self, message: str, at: int) -> NoReturn:
        """Raise ProtocolError for a problem at ``at`` bytes into the buffer."""
        self._error = f"{message} (at byte {self._consumed + at} of the stream)"
        raise ProtocolError(self._error)

    def _deviate(self, name: str, at: int) -> None:
        if self.strict and name not in RFC_ALLOWED:
            self._fail(f"strict mode: {DEVIATIONS[name]}", at)
        self._deviations.add(name)

    def _more(self, at_eof: Callable[[], _StepResult]) -> _StepResult:
        """Move the next fed chunk into the buffer, or say why there is none."""
        if self._pending:
            self._buf += self._pending.popleft()
            return None
        if self._eof:
            return at_eof()
        return NEED_DATA

    def _discard(self, n: int) -> None:
        del self._buf[:n]
        self._consumed += n

    def _take(self, n: int) -> bytes:
        """Remove and return the first ``n`` buffered bytes (one copy)."""
        buf = self._buf
        if n == len(buf):
            data = bytes(buf)
            buf.clear()
        else:
            with memoryview(buf) as view:
                data = view[:n].tobytes()
            del buf[:n]
        self._consumed += n
        return data

    def _finish(self) -> StreamEnd:
        self._step = self._step_done
        return StreamEnd()

    def _end_without_close(self, what: str) -> StreamEnd:
        """EOF in a place where a tolerant parser can call the stream complete."""
        if self.strict:
            self._fail(f"stream ended {what}", len(self._buf))
        self._deviate("no-close-delimiter", len(self._buf))
        return self._finish()

    def _match_token(self, at: int) -> int | None:
        """End of the boundary token at ``at``; -1 if there is none; None: need more."""
        buf = self._buf
        token = self._token
        if buf.startswith(token, at):
            return at + len(token)
        if len(buf) - at < len(token) and token.startswith(buf[at:]):
            return None
        alt = self._alt_token
        if alt is not None:
            if buf.startswith(alt, at):
                self._deviate("dashes-in-header-boundary", at)
                return at + len(alt)
            if len(buf) - at < len(alt) and alt.startswith(buf[at:]):
                return None
        return -1

    def _delimiter_start(self, found: int) -> int:
        """Where the delimiter whose needle was found at ``found`` starts.

        That is its boundary token, less the line break before it (it belongs to
        the delimiter, not to the payload: RFC 2046).
        """
        buf = self._buf
        start = found + self._needle_offset
        if self._needle == self._alt_token and buf[max(0, found - 2) : found] == b"--":
            start -= 2  # the canonical "--" + boundary, found by its "--x" suffix
        if start >= 2 and buf[start - 2 : start] == b"\r\n":
            return start - 2
        if start >= 1 and buf[start - 1] == 0x0A:
            return start - 1
        return start

    # -- states: each returns an event, NEED_DATA, or None to run the next step --

    def _step_boundary(self) -> _StepResult:
        """Expect a delimiter: at the start of the body, or after a part."""
        buf = self._buf
        run_end = _match_end(_LINE_BREAKS_RE, buf, self._scan)
        if run_end > self.max_header_bytes:
            self._fail(
                f"expected a boundary within max_header_bytes={self.max_header_bytes}, "
                f"got {run_end} bytes of line breaks",
                run_end,
            )
        self._scan = run_end
        if run_end == len(buf):
            return self._more(self._eof_boundary)
        end = self._match_token(run_end)
        if end is None:
            return self._more(self._eof_boundary)
        if end >= 0:
            self._classify_line_breaks(bytes(buf[:run_end]))
            self._discard(end)
            self._at_start = False
            self._scan = 0
            self._step = self._step_delimiter_line
            return None
        if not self._at_start:
            self._fail(
                f"expected the boundary {self._token!r} after a part, got {_excerpt(buf, run_end)}",
                run_end,
            )
        return self._start_without_boundary(run_end)

    def _classify_line_breaks(self, run: bytes) -> None:
        """Record what the line breaks before a boundary token say about the stream."""
        if run == b"\r\n":
            return
        if run == b"\n":
            self._deviate("lf-line-endings", 0)
        elif self._at_start:
            if run:
                self._deviate("preamble", 0)
        elif not run:
            # After a part, the CRLF is part of the delimiter. A part without a
            # payload may end right after its header block (RFC 2046 body-part).
            if self._expect_line_break:
                self._deviate("no-crlf-before-boundary", 0)
        else:
            self._deviate("extra-crlf-after-payload", 0)

    def _start_without_boundary(self, at: int) -> _StepResult:
        """The body does not start with a boundary: headers already, or a preamble."""
        buf = self._buf
        name_end = _match_end(_TOKEN_PREFIX_RE, buf, at)
        if name_end == len(buf) and name_end <= self.max_header_bytes:
            return self._more(self._eof_boundary)  # cannot tell yet
        self._at_start = False
        self._scan = 0
        if name_end > at and name_end < len(buf) and buf[name_end] == 0x3A:  # b":"
            self._deviate("missing-first-boundary", at)
            self._discard(at)
            self._begin_headers()
        else:
            self._deviate("preamble", at)
            self._header_bytes = 0  # counts the preamble's bytes
            self._step = self._step_preamble
        return None

    def _eof_boundary(self) -> _StepResult:
        if self._at_start:
            self._fail("expected a boundary, got the end of the stream", len(self._buf))
        return self._end_without_close("after a part, without a boundary")

    def _step_delimiter_line(self) -> _StepResult:
        """After a boundary token: "--" (close delimiter) or padding and a line break."""
        buf = self._buf
        if buf.startswith(b"--"):
            self._discard(len(buf))
            return self._finish()
        if buf == b"-" or not buf:
            return self._more(self._eof_delimiter_line)
        newline = buf.find(b"\n", self._scan)
        if (newline < 0 and len(buf) > self.max_header_bytes) or newline > self.max_header_bytes:
            self._fail(f"expected a line break after the boundary, got {_excerpt(buf, 0)}", 0)
        if newline < 0:
            self._scan = len(buf)
            return self._more(self._eof_delimiter_line)
        end = newline
        if end and buf[end - 1] == 0x0D:
            end -= 1
        else:
            self._deviate("lf-line-endings", newline)
        if buf[:end].strip(b" \t"):
            self._fail(f"expected a line break after the boundary, got {_excerpt(buf, 0)}", 0)
        if end:
            self._deviate("transport-padding", 0)
        self._discard(newline + 1)
        self._begin_headers()
        return None

    def _eof_delimiter_line(self) -> _StepResult:
        return self._end_without_close("inside a boundary line")

    def _begin_headers(self) -> None:
        self._part_start = self._consumed
        self._scan = 0
        self._header_bytes = 0
        self._step = self._step_headers

    def _step_headers(self) -> _StepResult:
        buf = self._buf
        while True:
            newline = buf.find(b"\n", self._scan)
            if newline < 0:
                if self._header_bytes + len(buf) > self.max_header_bytes:
                    self._fail(
                        f"expected the end of the part headers within "
                        f"max_header_bytes={self.max_header_bytes}, got more",
                        len(buf),
                    )
                self._scan = len(buf)
                return self._more(self._eof_headers)
            self._header_bytes += newline + 1
            if self._header_bytes > self.max_header_bytes:
                self._fail(
                    f"expected the end of the part headers within "
                    f"max_header_bytes={self.max_header_bytes}, got more",
                    newline,
                )
            end = newline
            if end and buf[end - 1] == 0x0D:
                end -= 1
            else:
                self._deviate("lf-line-endings", newline)
            line = bytes(buf[:end])
            self._scan = 0
            if not line:
                self._discard(newline + 1)
                return self._start_part()
            self._header_line(line)
            self._discard(newline + 1)

    def _header_line(self, line: bytes) -> None:
        lines = self._lines
        if line[0] in b" \t":  # obsolete line folding (RFC 822): continues the last value
            if not lines:
                self._fail(f"expected a header line, got a continuation line {line[:40]!r}", 0)
            field, value = lines[-1]
            more = line.strip(b" \t").decode("latin-1")
            lines[-1] = (field, f"{value} {more}")
            return
        name, colon, raw = line.partition(b":")
        if not colon or not _TOKEN_BYTES_RE.fullmatch(name):
            self._fail(f"expected a header line 'Name: value', got {line[:40]!r}", 0)
        stripped = raw.strip(b" \t")
        # One space or tab after the colon is usual; more, or any after the value, is padding.
        if stripped not in (raw, raw[1:]) and name.lower() == b"content-length":
            self._deviate("padded-content-length", len(name) + 1)
        lines.append((name.decode("ascii"), stripped.decode("latin-1")))

    def _eof_headers(self) -> _StepResult:
        if self._header_bytes or self._buf:
            self._fail("expected the rest of the part headers, got the end of the stream", 0)
        # Right after a delimiter line: how every PartEncoder stream ends.
        self._deviate("no-close-delimiter", 0)
        return self._finish()

    def _start_part(self) -> PartStart:
        headers = Headers(tuple(self._lines))
        self._lines = []
        self._part_len = 0
        # Errors about the whole part point at its first header line.
        part_start = self._part_start - self._consumed
        try:
            length = headers.content_length
        except ProtocolError as exc:
            self._fail(f"{exc} in the part headers", part_start)
        if length is None:
            self._deviate("no-content-length", 0)
            self._scan = 0
            self._step = self._step_scan_start
        elif length > self.max_part_bytes:
            self._fail(
                f"expected a part of at most max_part_bytes={self.max_part_bytes}, "
                f"got Content-Length {length}",
                part_start,
            )
        else:
            self._remaining = length
            self._part_len = length
            self._step = self._step_counted
        return PartStart(headers)

    def _step_counted(self) -> _StepResult:
        """Payload framed by Content-Length: pass bytes through as they come."""
        remaining = self._remaining
        if not remaining:
            return self._end_part()
        buf = self._buf
        if buf:
            data = self._take(min(remaining, len(buf)))
        elif self._pending:
            chunk = self._pending.popleft()
            if len(chunk) <= remaining:
                data = chunk  # the caller's own object: no copy
            else:
                data = chunk[:remaining]
                buf += memoryview(chunk)[remaining:]
            self._consumed += len(data)
        elif self._eof:
            got = self._part_len - remaining
            self._fail(f"stream ended inside a part, {got} of {self._part_len} bytes", 0)
        else:
            return NEED_DATA
        self._remaining = remaining - len(data)
        return PartData(data)

    def _end_part(self) -> PartEnd:
        self._expect_line_break = self._part_len > 0
        self._scan = 0
        self._step = self._step_boundary
        return PartEnd()

    def _step_scan_start(self) -> _StepResult:
        """A part without Content-Length may have no body at all.

        RFC 2046 lets the delimiter follow the header block directly: the blank
        line's CRLF is then the delimiter's. The scan, which needs that CRLF in
        strict mode, would miss it.
        """
        end = self._match_token(0)
        if end is None:
            return self._more(self._eof_scan)
        self._step = self._step_part_end if end >= 0 else self._step_scan
        return None

    def _step_scan(self) -> _StepResult:
        """Payload without Content-Length: everything up to the next delimiter."""
        buf = self._buf
        found = buf.find(self._needle, self._scan)
        if found >= 0:
            self._step = self._step_part_end
            end = self._delimiter_start(found)
            return self._emit_scanned(end) if end else None
        cut = len(buf) - self._hold
        if cut > 0:
            # Everything but the held-back tail cannot start a delimiter; the
            # next search starts where a needle could still begin.
            self._scan = self._lookback
            return self._emit_scanned(cut)
        self._scan = max(0, len(buf) - len(self._needle) + 1)
        return self._more(self._eof_scan)

    def _emit_scanned(self, n: int) -> PartData:
        self._part_len += n
        if self._part_len > self.max_part_bytes:
            self._fail(
                f"expected the boundary within max_part_bytes={self.max_part_bytes} "
                "of a part without Content-Length, got more",
                n,
            )
        return PartData(self._take(n))

    def _eof_scan(self) -> _StepResult:
        self._fail(
            f"stream ended inside a part, after {self._part_len + len(self._buf)} bytes "
            "and before the boundary that ends it",
            len(self._buf),
        )

    def _step_part_end(self) -> _StepResult:
        return self._end_part()

    def _step_preamble(self) -> _StepResult:
        """Skip text before the first delimiter (bounded by max_header_bytes)."""
        buf = self._buf
        found = buf.find(self._needle, self._scan)
        if found >= 0:
            self._count_preamble(found)
            self._discard(self._delimiter_start(found))
            self._expect_line_break = True
            self._scan = 0
            self._step = self._step_boundary
            return None
        cut = len(buf) - self._hold
        if cut > 0:
            self._count_preamble(cut)
            self._header_bytes += cut
            self._discard(cut)
            self._scan = self._lookback
            return None
        self._scan = max(0, len(buf) - len(self._needle) + 1)
        return self._more(self._eof_preamble)

    def _count_preamble(self, n: int) -> None:
        """Fail if ``n`` more bytes of preamble exceed max_header_bytes."""
        if self._header_bytes + n > self.max_header_bytes:
            self._fail(
                f"expected the boundary {self._token!r} within "
                f"max_header_bytes={self.max_header_bytes}, got none",
                n,
            )

    def _eof_preamble(self) -> _StepResult:
        self._fail(f"expected the boundary {self._token!r}, got the end of the stream", 0)

    def _step_done(self) -> _StepResult:
        self._consumed += self.buffered
        self._buf.clear()
        self._pending.clear()
        return StreamEnd()
