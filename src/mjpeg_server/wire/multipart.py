"""The ``multipart/x-mixed-replace`` wire format: encoder and sans-I/O parser, in one import.

Nothing here touches a socket, a file or a clock: bytes in, bytes or events out.
The server uses the encoder to frame each camera frame once and share the bytes
among all its clients; anyone reading an MJPEG stream uses the parser. This
module is the codec's public face; the work is done in:

- :mod:`.encoder`: :class:`PartEncoder` and :class:`Layout`;
- :mod:`.headers`: :class:`Headers`, the boundary and ``Content-Type`` rules;
- :mod:`.events`: the events, :data:`NEED_DATA`, :class:`ProtocolError`;
- :mod:`.parser`: :class:`MultipartParser`, which drives
- :mod:`.receive_buffer` (the bytes fed), :mod:`.readers` (one per framing)
  and :mod:`.deviations` (what is tolerated: :data:`DEVIATIONS`).

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

*Why not reuse one.* Tried on the benchmark's stream (parts with Content-Length,
and Content-Disposition added so that both accept it) and on the deviations of
the field notes:

- ``werkzeug.sansio.multipart.MultipartDecoder`` (form-data only) raises
  ``ValueError`` on parts without Content-Disposition (every MJPEG part);
  ignores Content-Length, so ``PartEnd`` waits for the next boundary and a
  payload containing the delimiter is misframed; rejects a missing CRLF before
  a boundary; keeps the CRLF of an extra blank line in the data; fed byte by
  byte it leaks the delimiter's CR into the payload (``b"AAAA\\r"`` for
  ``b"AAAA"``). It is also several times slower than this parser.
- ``multipart`` 2.0.1 ``PushMultipartParser`` requires Content-Disposition,
  ignores Content-Length (same latency and misframing; it raises "Segment size
  does not match Content-Length" on a payload containing the delimiter),
  rejects transport padding and LF line endings, and has no way to report
  deviations.

Neither meets the latency requirement, so the codec has its own parser. Its
throughput against aiohttp's ``MultipartReader`` and a naive SOI/EOI scanner
is in the README (§Performance; ``tox -e bench``): with Content-Length the cost
is mostly copying, without it ``bytes.find``'s, which is faster for longer
boundaries.
"""

from __future__ import annotations

from .deviations import DEVIATIONS, RFC_ALLOWED
from .encoder import Layout, PartEncoder
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
from .headers import Headers, boundary_from_content_type, content_type, validate_boundary
from .parser import MultipartParser

__all__ = [
    "DEVIATIONS",
    "NEED_DATA",
    "RFC_ALLOWED",
    "Event",
    "Headers",
    "Layout",
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
