"""The multipart parser's readers: one per framing, each with its own end of stream.

Goal: each piece of the body is read by one small object, as h11 reads each
HTTP body framing with its own reader. Here, what lies between payloads:

- :class:`BoundaryReader`: the delimiter that opens the body or ends a part
  (line breaks, then ``--boundary``), and what a body may start with instead
  (a preamble, or headers without a boundary);
- :class:`DelimiterLineReader`: the rest of a delimiter line: ``--`` (the
  close delimiter: :class:`StreamEnd`), or transport padding and a line break;
- :class:`PreambleReader`: text before the first delimiter, skipped;
- :class:`HeadersReader`: a part's header lines, up to the blank line
  (:class:`PartStart`); it picks the payload's reader
  (:mod:`.payload_readers`: by ``Content-Length``, or scanned).

A reader's :meth:`~.framing.Reader.read` returns an event, the reader that
takes over (nothing to say yet, but another framing starts; its searches
start afresh), or None: it needs more bytes than the buffer has. When the
stream has ended and a reader still needs more, its
:meth:`~.framing.Reader.read_eof` says what that means: a complete stream, or
a :class:`ProtocolError` that says where the stream broke off. Whether a
deviation is accepted is not a reader's call: they name it to the
:class:`~.deviations.DeviationPolicy`. Readers are made once per parser and
reused for every part (no allocation per part); :func:`first_reader` wires
them together.

Cost: linear in the bytes fed. Every search starts where the last one stopped
(:attr:`ReceiveBuffer.search`), so no byte is searched twice. Between events
the buffer holds at most ``max_header_bytes + len(boundary) + 3`` bytes: a
header block, a boundary line, a preamble or a run of blank lines is bounded
by ``max_header_bytes``.
"""

from __future__ import annotations

import re
from typing import Final, NoReturn

from .events import Event, PartStart, ProtocolError, StreamEnd
from .framing import Framing, Reader
from .headers import Headers
from .payload_readers import CountedReader, ScannedReader
from .receive_buffer import ReceiveBuffer

__all__ = [
    "BoundaryReader",
    "DelimiterLineReader",
    "HeadersReader",
    "PreambleReader",
    "first_reader",
]

_TOKEN_PREFIX_RE: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]*")
_LINE_BREAKS_RE: Final = re.compile(rb"[\r\n]*")
# The bytes a header name may have (an RFC 7230 token).
_TOKEN_BYTES_RE: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _match_end(pattern: re.Pattern[bytes], data: bytearray, pos: int) -> int:
    """Where ``pattern`` (one that matches the empty string) stops matching at ``pos``."""
    match = pattern.match(data, pos)
    assert match is not None  # it matches at least nothing
    return match.end()


def _excerpt(data: bytearray, start: int) -> str:
    """Up to 24 bytes from ``start``, for an error message."""
    return repr(bytes(data[start : start + 24]))


class BoundaryReader(Reader):
    """A delimiter: the one that opens the body, or the one that ends a part.

    Line breaks before the boundary token are the delimiter's (exactly one is
    usual; more are ``extra-crlf-after-payload``, or a blank preamble at the
    start). At the start of the body, something else than a boundary is either
    a part's headers (``missing-first-boundary``) or a preamble.
    """

    __slots__ = ("_at_start", "_expect_line_break", "_framing", "_headers", "_line", "_preamble")

    def __init__(self, framing: Framing) -> None:
        super().__init__()
        self._framing = framing
        self._at_start = True
        self._expect_line_break = False
        self._line: DelimiterLineReader
        self._headers: HeadersReader
        self._preamble: PreambleReader

    def connect(
        self, line: DelimiterLineReader, headers: HeadersReader, preamble: PreambleReader
    ) -> None:
        self._line, self._headers, self._preamble = line, headers, preamble

    def start(self, expect_line_break: bool) -> BoundaryReader:
        """Expect the delimiter after a part (or a preamble). ``expect_line_break``:
        the part had a payload, so a delimiter with no line break before it is a
        deviation. (A new reader expects the one that opens the body.)"""
        self._at_start = False
        self._expect_line_break = expect_line_break
        return self

    def read(self, buf: ReceiveBuffer) -> Event | Reader | None:
        framing = self._framing
        data = buf.data
        run_end = _match_end(_LINE_BREAKS_RE, data, buf.search)
        if run_end > framing.max_header_bytes:
            framing.policy.fail(
                f"expected a boundary within max_header_bytes={framing.max_header_bytes}, "
                f"got {run_end} bytes of line breaks",
                run_end,
            )
        buf.search = run_end
        if run_end == len(data):
            return None
        end = framing.match_token(data, run_end)
        if end is None:
            return None
        if end >= 0:
            self._classify_line_breaks(data[:run_end])
            buf.discard(end)
            return self._line
        if not self._at_start:
            framing.policy.fail(
                f"expected the boundary {framing.token!r} after a part, "
                f"got {_excerpt(data, run_end)}",
                run_end,
            )
        return self._start_without_boundary(buf, run_end)

    def _classify_line_breaks(self, run: bytearray) -> None:
        """Record what the line breaks before a boundary token say about the stream."""
        if run == b"\r\n":
            return
        policy = self._framing.policy
        if run == b"\n":
            policy.deviate("lf-line-endings", 0)
        elif self._at_start:
            if run:
                policy.deviate("preamble", 0)
        elif not run:
            # After a part, the CRLF is part of the delimiter. A part without a
            # payload may end right after its header block (RFC 2046 body-part).
            if self._expect_line_break:
                policy.deviate("no-crlf-before-boundary", 0)
        else:
            policy.deviate("extra-crlf-after-payload", 0)

    def _start_without_boundary(self, buf: ReceiveBuffer, at: int) -> Reader | None:
        """The body does not start with a boundary: headers already, or a preamble."""
        framing = self._framing
        data = buf.data
        name_end = _match_end(_TOKEN_PREFIX_RE, data, at)
        if name_end == len(data) and name_end <= framing.max_header_bytes:
            return None  # cannot tell yet
        if name_end > at and name_end < len(data) and data[name_end] == 0x3A:  # b":"
            framing.policy.deviate("missing-first-boundary", at)
            buf.discard(at)
            return self._headers.start(buf)
        framing.policy.deviate("preamble", at)
        return self._preamble.start()

    def read_eof(self, buf: ReceiveBuffer) -> Event:
        policy = self._framing.policy
        if self._at_start:
            policy.fail("expected a boundary, got the end of the stream", len(buf.data))
        return policy.end_without_close("after a part, without a boundary", len(buf.data))


class DelimiterLineReader(Reader):
    """After a boundary token: ``--`` (the close delimiter), or padding and a line break."""

    __slots__ = ("_framing", "_headers")

    def __init__(self, framing: Framing, headers: HeadersReader) -> None:
        super().__init__()
        self._framing = framing
        self._headers = headers

    def read(self, buf: ReceiveBuffer) -> Event | Reader | None:
        data = buf.data
        if data.startswith(b"--"):
            return StreamEnd()  # the epilogue that may follow is dropped
        if data == b"-" or not data:
            return None
        framing = self._framing
        limit = framing.max_header_bytes
        newline = data.find(b"\n", buf.search)
        if (newline < 0 and len(data) > limit) or newline > limit:
            framing.policy.fail(
                f"expected a line break after the boundary, got {_excerpt(data, 0)}", 0
            )
        if newline < 0:
            buf.search = len(data)
            return None
        end = newline
        if end and data[end - 1] == 0x0D:
            end -= 1
        else:
            framing.policy.deviate("lf-line-endings", newline)
        if data[:end].strip(b" \t"):
            framing.policy.fail(
                f"expected a line break after the boundary, got {_excerpt(data, 0)}", 0
            )
        if end:
            framing.policy.deviate("transport-padding", 0)
        buf.discard(newline + 1)
        return self._headers.start(buf)

    def read_eof(self, buf: ReceiveBuffer) -> Event:
        return self._framing.policy.end_without_close("inside a boundary line", len(buf.data))


class PreambleReader(Reader):
    """Text before the first delimiter: skipped, bounded by ``max_header_bytes``."""

    __slots__ = ("_boundary", "_framing", "_skipped")

    def __init__(self, framing: Framing, boundary: BoundaryReader) -> None:
        super().__init__()
        self._framing = framing
        self._boundary = boundary
        self._skipped = 0

    def start(self) -> PreambleReader:
        self._skipped = 0
        return self

    def read(self, buf: ReceiveBuffer) -> Event | Reader | None:
        framing = self._framing
        data = buf.data
        found = data.find(framing.needle, buf.search)
        if found >= 0:
            self._count(found)
            buf.discard(framing.delimiter_start(data, found))
            return self._boundary.start(True)
        cut = len(data) - framing.hold
        if cut > 0:
            # Nothing before the held-back tail can start a delimiter.
            self._count(cut)
            self._skipped += cut
            buf.discard(cut)
            buf.search = framing.lookback
        else:
            buf.search = max(0, len(data) - len(framing.needle) + 1)
        return None

    def _count(self, n: int) -> None:
        """Fail if ``n`` more bytes of preamble exceed max_header_bytes."""
        framing = self._framing
        if self._skipped + n > framing.max_header_bytes:
            framing.policy.fail(
                f"expected the boundary {framing.token!r} within "
                f"max_header_bytes={framing.max_header_bytes}, got none",
                n,
            )

    def read_eof(self, buf: ReceiveBuffer) -> Event:
        token = self._framing.token
        self._framing.policy.fail(f"expected the boundary {token!r}, got the end of the stream", 0)


class HeadersReader(Reader):
    """A part's header lines up to the blank line: :class:`PartStart`.

    Folded lines (RFC 822) continue the previous value. The block, line breaks
    included, is bounded by ``max_header_bytes``. ``Content-Length`` picks the
    payload's reader: :class:`CountedReader`, or :class:`ScannedReader` without it.
    """

    __slots__ = (
        "_counted",
        "_framing",
        "_header_bytes",
        "_lines",
        "_part_start",
        "_scanned",
    )

    def __init__(self, framing: Framing, counted: CountedReader, scanned: ScannedReader) -> None:
        super().__init__()
        self._framing = framing
        self._counted = counted
        self._scanned = scanned
        self._lines: list[tuple[str, str]] = []
        self._header_bytes = 0
        self._part_start = 0

    def start(self, buf: ReceiveBuffer) -> HeadersReader:
        self._part_start = buf.consumed
        self._header_bytes = 0
        self._lines = []
        return self

    def read(self, buf: ReceiveBuffer) -> Event | Reader | None:
        framing = self._framing
        limit = framing.max_header_bytes
        data = buf.data
        pos = 0  # where the current line starts; lines before it are parsed
        search = buf.search  # no line break before it
        while True:
            newline = data.find(b"\n", search)
            if newline < 0:
                if self._header_bytes + len(data) - pos > limit:
                    self._too_long(len(data))
                buf.discard(pos)
                buf.search = len(data)
                return None
            self._header_bytes += newline + 1 - pos
            if self._header_bytes > limit:
                self._too_long(newline)
            end = newline
            if end > pos and data[end - 1] == 0x0D:
                end -= 1
            else:
                framing.policy.deviate("lf-line-endings", newline)
            if end == pos:  # the blank line
                buf.discard(newline + 1)
                return self._start_part(buf)
            self._header_line(data[pos:end], pos)
            pos = search = newline + 1

    def _too_long(self, at: int) -> NoReturn:
        limit = self._framing.max_header_bytes
        self._framing.policy.fail(
            f"expected the end of the part headers within max_header_bytes={limit}, got more", at
        )

    def _header_line(self, line: bytearray, at: int) -> None:
        """One header line, without its line break, found ``at`` bytes into the buffer."""
        lines = self._lines
        policy = self._framing.policy
        if line[0] in b" \t":  # obsolete line folding (RFC 822): continues the last value
            if not lines:
                policy.fail(
                    f"expected a header line, got a continuation line {bytes(line[:40])!r}", at
                )
            field, value = lines[-1]
            more = line.strip(b" \t").decode("latin-1")
            lines[-1] = (field, f"{value} {more}")
            return
        name, colon, raw = line.partition(b":")
        if not colon or not _TOKEN_BYTES_RE.fullmatch(name):
            policy.fail(f"expected a header line 'Name: value', got {bytes(line[:40])!r}", at)
        stripped = raw.strip(b" \t")
        # One space or tab after the colon is usual; more, or any after the value, is padding.
        if stripped != raw and stripped != raw[1:] and name.lower() == b"content-length":
            policy.deviate("padded-content-length", at + len(name) + 1)
        lines.append((name.decode("ascii"), stripped.decode("latin-1")))

    def _start_part(self, buf: ReceiveBuffer) -> PartStart:
        framing = self._framing
        headers = Headers(tuple(self._lines))
        # Errors about the whole part point at its first header line.
        part_start = self._part_start - buf.consumed
        try:
            length = headers.content_length
        except ProtocolError as exc:
            framing.policy.fail(f"{exc} in the part headers", part_start)
        if length is None:
            framing.policy.deviate("no-content-length", 0)
            self.successor = self._scanned.start()
        elif length > framing.max_part_bytes:
            framing.policy.fail(
                f"expected a part of at most max_part_bytes={framing.max_part_bytes}, "
                f"got Content-Length {length}",
                part_start,
            )
        else:
            self.successor = self._counted.start(length)
        return PartStart(headers)

    def read_eof(self, buf: ReceiveBuffer) -> Event:
        policy = self._framing.policy
        if self._header_bytes or buf.data:
            policy.fail("expected the rest of the part headers, got the end of the stream", 0)
        # Right after a delimiter line: how every PartEncoder stream ends.
        policy.deviate("no-close-delimiter", 0)
        return StreamEnd()


def first_reader(framing: Framing) -> BoundaryReader:
    """The readers for one stream, wired together; the one that reads its start."""
    boundary = BoundaryReader(framing)
    headers = HeadersReader(
        framing, CountedReader(framing, boundary), ScannedReader(framing, boundary)
    )
    boundary.connect(
        DelimiterLineReader(framing, headers), headers, PreambleReader(framing, boundary)
    )
    return boundary
