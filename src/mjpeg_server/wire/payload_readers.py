"""The payload readers: a part's bytes, framed by ``Content-Length`` or by the boundary.

Goal: the two framings a part's payload can have, each with its own end of
stream: :class:`CountedReader` passes bytes on as they come and ends the part
with its last byte; :class:`ScannedReader` finds the next delimiter with
``bytes.find``. Both emit ``PartData*`` then ``PartEnd``, then hand over to
the :class:`~.readers.BoundaryReader`.

Cost: a counted payload is copied at most once (a fed chunk wholly inside it
not at all) and holds nothing back; a scanned one is searched once (the search
resumes where it stopped, less a needle's length) and holds back at most
``len(boundary) + 3`` bytes that could start the delimiter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import Event, PartData, PartEnd
from .framing import Framing, Reader
from .receive_buffer import ReceiveBuffer

if TYPE_CHECKING:
    from .readers import BoundaryReader

__all__ = ["CountedReader", "ScannedReader"]


class _PayloadReader(Reader):
    """What both payload readers do once the payload is complete."""

    __slots__ = ("_boundary", "_framing", "_length")

    def __init__(self, framing: Framing, boundary: BoundaryReader) -> None:
        super().__init__()
        self._framing = framing
        self._boundary = boundary
        #: Payload bytes: Content-Length, or those scanned so far.
        self._length = 0

    def _end(self) -> PartEnd:
        """:class:`PartEnd`, handing over to the delimiter that follows the part."""
        # A delimiter with no line break before it is a deviation only after a
        # payload: an empty part may end right after its header block.
        self.successor = self._boundary.start(self._length > 0)
        return PartEnd()


class CountedReader(_PayloadReader):
    """A payload framed by ``Content-Length``: bytes leave as they come.

    :class:`PartEnd` comes with the last byte, not with the next boundary (which
    would hold every frame back by a frame period). The boundary after the
    payload is the next :class:`~.readers.BoundaryReader`'s to check.
    """

    __slots__ = ("_remaining",)

    def __init__(self, framing: Framing, boundary: BoundaryReader) -> None:
        super().__init__(framing, boundary)
        self._remaining = 0

    def start(self, length: int) -> CountedReader:
        self._length = self._remaining = length
        return self

    def read(self, buf: ReceiveBuffer) -> Event | Reader | None:
        remaining = self._remaining
        if not remaining:
            return self._end()
        data = buf.take_payload(remaining)
        if data is None:
            return None
        self._remaining = remaining - len(data)
        return PartData(data)

    def read_eof(self, buf: ReceiveBuffer) -> Event:
        got = self._length - self._remaining
        self._framing.policy.fail(f"stream ended inside a part, {got} of {self._length} bytes", 0)


class ScannedReader(_PayloadReader):
    """A payload without ``Content-Length``: everything up to the next delimiter.

    Found with ``bytes.find``; all but the last bytes that could start a
    delimiter (:attr:`Framing.hold`) leave at once.
    """

    __slots__ = ("_checked", "_found")

    def __init__(self, framing: Framing, boundary: BoundaryReader) -> None:
        super().__init__(framing, boundary)
        self._checked = self._found = False

    def start(self) -> ScannedReader:
        self._length = 0
        self._checked = self._found = False
        return self

    def read(self, buf: ReceiveBuffer) -> Event | Reader | None:
        if self._found:
            return self._end()
        framing = self._framing
        data = buf.data
        if not self._checked:
            # RFC 2046 lets the delimiter follow the header block directly (no
            # body: the blank line's CRLF is then the delimiter's); the scan,
            # which needs that CRLF in strict mode, would miss it.
            end = framing.match_token(data, 0)
            if end is None:
                return None
            self._checked = True
            if end >= 0:
                self._found = True
                return self._end()
        found = data.find(framing.needle, buf.search)
        if found >= 0:
            self._found = True
            end = framing.delimiter_start(data, found)
            return self._emit(buf, end) if end else self._end()
        cut = len(data) - framing.hold
        if cut > 0:
            # The next search starts where a needle could still begin.
            event = self._emit(buf, cut)
            buf.search = framing.lookback
            return event
        buf.search = max(0, len(data) - len(framing.needle) + 1)
        return None

    def _emit(self, buf: ReceiveBuffer, n: int) -> PartData:
        framing = self._framing
        self._length += n
        if self._length > framing.max_part_bytes:
            framing.policy.fail(
                f"expected the boundary within max_part_bytes={framing.max_part_bytes} "
                "of a part without Content-Length, got more",
                n,
            )
        return PartData(buf.take(n))

    def read_eof(self, buf: ReceiveBuffer) -> Event:
        self._framing.policy.fail(
            f"stream ended inside a part, after {self._length + len(buf.data)} bytes "
            "and before the boundary that ends it",
            len(buf.data),
        )
