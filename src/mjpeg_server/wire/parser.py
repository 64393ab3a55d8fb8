"""The sans-I/O multipart parser: bytes in, events out, in the style of h11.

Goal: read any MJPEG stream as it arrives: ``feed(data)`` stores bytes
(``b""`` marks the end of the stream), ``next_event()`` returns
:class:`PartStart`, :class:`PartData`, :class:`PartEnd`, :class:`StreamEnd`,
or :data:`NEED_DATA`; malformed input raises :class:`ProtocolError`, after
which the parser refuses more. The parser itself only drives: the bytes wait
in a :class:`~.receive_buffer.ReceiveBuffer`, the current reader
(:mod:`.readers`, one per framing) turns them into events, and the
:class:`~.deviations.DeviationPolicy` decides what is tolerated.

Cost: time linear in the bytes fed; memory bounded by ``max_header_bytes``
and the boundary's length between events (see :mod:`.readers`); a fed chunk
inside a counted payload is passed on without a copy.
"""

from __future__ import annotations

from .deviations import DeviationPolicy
from .events import (
    NEED_DATA,
    Event,
    NeedData,
    PartData,
    PartEnd,
    PartStart,
    ProtocolError,
    StreamEnd,
)
from .framing import Framing, Reader
from .headers import (
    MAX_TOLERANT_BOUNDARY,
    boundary_from_first_line,
    parse_content_type,
    validate_boundary,
)
from .readers import first_reader
from .receive_buffer import ReceiveBuffer

__all__ = ["MultipartParser"]


class _Done(Reader):
    """After :class:`StreamEnd`: says so again, and drops whatever is fed."""

    __slots__ = ()

    def read(self, buf: ReceiveBuffer) -> Event:
        buf.clear()
        return StreamEnd()  # never None, so read_eof is never asked


_DONE = _Done()


class MultipartParser:
    """Incremental, sans-I/O parser for one multipart body (see ``wire.multipart``).

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

    __slots__ = ("_buffer", "_policy", "_reader", "boundary", "max_header_bytes", "max_part_bytes")

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
        elif not 0 < len(boundary) <= MAX_TOLERANT_BOUNDARY or not boundary.isprintable():
            raise ProtocolError(
                f"expected a boundary of 1-{MAX_TOLERANT_BOUNDARY} printable characters, "
                f"got {boundary!r}"
            )
        try:
            raw = boundary.encode("latin-1")
        except UnicodeEncodeError:
            raise ProtocolError(f"expected a latin-1 boundary, got {boundary!r}") from None
        self.boundary = boundary
        self.max_header_bytes = max_header_bytes
        self.max_part_bytes = max_part_bytes
        self._buffer = ReceiveBuffer()
        self._policy = DeviationPolicy(self._buffer, strict=strict)
        framing = Framing(
            raw, self._policy, max_header_bytes=max_header_bytes, max_part_bytes=max_part_bytes
        )
        self._reader: Reader = first_reader(framing)

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
        boundary, quoted = parse_content_type(value)
        parser = cls(
            boundary,
            strict=strict,
            max_header_bytes=max_header_bytes,
            max_part_bytes=max_part_bytes,
        )
        if quoted:
            parser._policy.deviate("quoted-boundary", 0)
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
        parser = cls(
            boundary_from_first_line(line),
            strict=strict,
            max_header_bytes=max_header_bytes,
            max_part_bytes=max_part_bytes,
        )
        parser._policy.deviate("content-type-not-multipart", 0)
        return parser

    @property
    def strict(self) -> bool:
        """Whether deviations outside :data:`RFC_ALLOWED` raise instead of being recorded."""
        return self._policy.strict

    @property
    def deviations(self) -> frozenset[str]:
        """Names (keys of :data:`DEVIATIONS`) of the deviations accepted so far."""
        return frozenset(self._policy.seen)

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet turned into events (held for a decision)."""
        return self._buffer.buffered

    def feed(self, data: bytes) -> None:
        """Give the parser the next bytes of the stream; ``b""`` marks its end.

        Only stores ``data`` (no parsing, no copy): :meth:`next_event` does the
        work. Data after the close delimiter (the epilogue) is dropped. Raises
        :class:`ProtocolError` after a parse error, ``RuntimeError`` after the end.
        """
        if self._policy.error is not None:
            raise ProtocolError(f"parser failed earlier: {self._policy.error}")
        buffer = self._buffer
        if buffer.eof:
            raise RuntimeError("feed() called after the end of the stream (b'')")
        if self._reader is not _DONE or not data:
            buffer.feed(data)

    def next_event(self) -> Event | NeedData:
        """The next event, or :data:`NEED_DATA` if the bytes fed so far say no more.

        After :class:`StreamEnd` every call returns StreamEnd again, so a loop
        that only stops at NEED_DATA must stop at StreamEnd too. Raises
        :class:`ProtocolError` on malformed input (and on every call after).
        """
        if self._policy.error is not None:
            raise ProtocolError(f"parser failed earlier: {self._policy.error}")
        buf = self._buffer
        reader = self._reader
        while True:
            result = reader.read(buf)
            kind = type(result)
            if kind is PartData:  # the common case first
                self._reader = reader
                return result  # type: ignore[return-value]
            if result is None:  # the reader needs more bytes
                if buf.pull():
                    continue
                if not buf.eof:
                    self._reader = reader
                    return NEED_DATA
                result = reader.read_eof(buf)
                kind = type(result)
            if kind is PartStart or kind is PartEnd:  # that framing is complete
                reader = reader.successor
                buf.search = 0
            elif kind is StreamEnd:
                # Whichever reader ends the body, what follows it is dropped.
                buf.clear()
                reader = _DONE
            else:  # another reader takes over
                reader = result  # type: ignore[assignment]
                buf.search = 0  # a new framing searches from the front
                continue
            self._reader = reader
            return result  # type: ignore[return-value]
