"""One bench client's stream, parsed and measured: :class:`StreamRecorder`. Sans-I/O.

Goal: everything a client counts (frames, time to first frame, latency from
``X-Timestamp``, drops from ``X-Frame-Seq``, a slow client's age beyond its
transfer time) decided from bytes and the times the I/O side says they
arrived, so that every figure can be tested exactly with streams and times a
test chooses. The HTTP response is read with :mod:`mjpeg_server.wire.http1`,
the body with the multipart parser.

Cost: linear in the bytes received (the parsers'), O(1) per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ...wire.frame_headers import decode_frame_headers
from ...wire.http1 import (
    BodyDecoder,
    ResponseError,
    ResponseHead,
    ResponseHeadReader,
    body_decoder,
)
from ...wire.multipart import (
    NEED_DATA,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    ProtocolError,
    StreamEnd,
    boundary_from_content_type,
)
from .results import ClientResult

__all__ = ["MAX_HEAD", "SLOW_WARMUP_FRAMES", "StreamRecorder"]

#: Frames a slow client reads at full speed to measure the stream's bandwidth.
SLOW_WARMUP_FRAMES: Final = 15
#: A response head larger than this is not an MJPEG server talking.
MAX_HEAD: Final = 64 * 1024


class StreamRecorder:
    """One client's response, parsed and measured; no I/O, no clock.

    The I/O side calls :meth:`receive` with each read and the times it was
    received, :meth:`end` when the server closes, :meth:`finish` when the run is
    over; everything measured lands in ``result``. ``window_opens`` is when the
    measurement window opens (the end of the warm-up). A slow client passes the
    fraction of the stream's bandwidth it will read at; :attr:`throttle_rate` is
    set (bytes/s) once its first frames have measured the stream. With
    ``first_frame_only`` the recorder is :attr:`done` after one frame.
    """

    def __init__(
        self,
        result: ClientResult,
        *,
        window_opens: float,
        slow_rate: float | None = None,
        first_frame_only: bool = False,
        loop: Sequence[int] = (),
    ) -> None:
        self.result = result
        self.window_opens = window_opens
        self.slow_rate = slow_rate
        self.first_frame_only = first_frame_only
        #: Bytes per second a slow client reads at, once measured.
        self.throttle_rate: float | None = None
        #: The stream is over for this client (error, end, or its one frame).
        self.done = False
        self._head = ResponseHeadReader(MAX_HEAD)
        self._body: BodyDecoder | None = None  # once the head is in
        self._parser: MultipartParser | None = None
        self._timestamp: float | None = None
        self._seq: int | None = None
        self._last_seq: int | None = None
        # Without X-Frame-Seq: a frame's place in the server's loop, by its size.
        self._loop = {size: place for place, size in enumerate(loop)}
        self._last_place: int | None = None
        self._part_bytes = 0
        self._part_throttled = False
        self._warmup: list[tuple[float, int]] = []  # slow client: (frame end, bytes so far)

    # -- input

    def receive(self, data: bytes, now: float, wall: float) -> None:
        """Bytes read at monotonic time ``now`` (wall clock ``wall``)."""
        if self.done:
            return
        result = self.result
        result.bytes += len(data)
        if now >= self.window_opens:
            result.window_bytes += len(data)
        try:
            self._receive(data, now, wall)
        except (ResponseError, ProtocolError) as error:
            self.fail(f"malformed stream: {error}")

    def end(self, now: float, wall: float) -> None:
        """The server closed the connection."""
        if self.done:
            return
        if self._parser is None:
            self.fail("connection closed before the response headers")
            return
        try:
            self._multipart(b"", now, wall)
        except ProtocolError as error:
            self.fail(f"malformed stream: {error}")
            return
        self.fail("the server ended the stream")

    def fail(self, error: str) -> None:
        """Record ``error`` (the first one counts) and stop."""
        if self.result.error is None and not (self.first_frame_only and self.result.frames):
            self.result.error = error
        self.done = True

    def finish(self, now: float) -> None:
        """The run is over (or the connection is): stop the clock for this client."""
        result = self.result
        if not result.ended:
            result.ended = now
        if not result.frames and result.error is None:
            result.error = "no frame received"
        self.done = True

    # -- the HTTP response

    def _receive(self, data: bytes, now: float, wall: float) -> None:
        body = self._body
        if body is None:
            got = self._head.feed(data)
            if got is None:
                return
            head, data = got
            body = self._start_body(head)
            if body is None:
                return
        for piece in body.feed(data):
            self._multipart(piece, now, wall)
        if body.done and not self.done:
            self._multipart(b"", now, wall)

    def _start_body(self, head: ResponseHead) -> BodyDecoder | None:
        """The body's decoder, or None (and the client failed) if there is no stream."""
        self.result.status = head.status
        if head.status != 200:
            self.fail(f"HTTP {head.status} {head.reason}".rstrip())
            return None
        kind = head.headers.get("content-type", "")
        try:
            boundary = boundary_from_content_type(kind)
        except ProtocolError:
            self.fail(f"not a multipart stream: Content-Type {kind!r}")
            return None
        self._parser = MultipartParser(boundary)
        self._body = body_decoder(head)
        return self._body

    # -- the multipart body

    def _multipart(self, data: bytes, now: float, wall: float) -> None:
        parser = self._parser
        assert parser is not None
        parser.feed(data)
        while not self.done:
            event = parser.next_event()
            if event is NEED_DATA:
                return
            if isinstance(event, PartData):
                self._part_bytes += len(event.data)
            elif isinstance(event, PartStart):
                self._part_start(event)
            elif isinstance(event, PartEnd):
                self._frame(now, wall)
            elif isinstance(event, StreamEnd):
                self.fail("the server ended the stream")

    def _part_start(self, event: PartStart) -> None:
        headers = event.headers
        self._part_bytes = 0
        self._part_throttled = self.throttle_rate is not None
        stamp = decode_frame_headers(headers)
        self._timestamp, self._seq = stamp.timestamp, stamp.seq

    def _frame(self, now: float, wall: float) -> None:
        result = self.result
        result.frames += 1
        if result.first_frame_s is None:
            result.first_frame_s = now - result.started
            if self.first_frame_only:
                self.done = True
        in_window = now >= self.window_opens
        if self._seq is None and self._loop:
            self._seq = self._seq_from_loop()
        seq, last = self._seq, self._last_seq
        if seq is not None:
            if in_window and last is not None and seq > last + 1:
                result.dropped += seq - last - 1
            self._last_seq = seq
        if in_window:
            if result.window_start is None:
                result.window_start = now
            else:
                result.window_frames += 1
        if self.slow_rate is not None and self.throttle_rate is None:
            self._measure_stream(now)
        stamp = self._timestamp
        if stamp is None or not in_window:
            return
        if self._part_throttled and self.throttle_rate and result.interval:
            transfer = self._part_bytes / self.throttle_rate
            result.ages.append(((wall - stamp) - transfer) / result.interval)
        elif not result.slow:
            result.latencies_ms.append((wall - stamp) * 1000.0)

    def _seq_from_loop(self) -> int | None:
        """A sequence number from the frame's place in the loop: the frames between
        the last place and this one (modulo the loop) are the ones missed; the same
        place again is the same frame sent again. Unknown sizes count nothing."""
        place = self._loop.get(self._part_bytes)
        if place is None:
            return None
        last_place, last_seq = self._last_place, self._last_seq
        self._last_place = place
        if last_place is None or last_seq is None:
            return 0
        return last_seq + (place - last_place) % len(self._loop)

    def _measure_stream(self, now: float) -> None:
        """A slow client's first frames, read at full speed, give the stream's
        bandwidth and frame interval; then the throttle starts."""
        assert self.slow_rate is not None
        self._warmup.append((now, self.result.bytes))
        if len(self._warmup) < SLOW_WARMUP_FRAMES:
            return
        (first, first_bytes), (last, last_bytes) = self._warmup[0], self._warmup[-1]
        if last <= first:
            return
        self.result.interval = (last - first) / (len(self._warmup) - 1)
        self.throttle_rate = self.slow_rate * (last_bytes - first_bytes) / (last - first)
        self.result.rate = self.throttle_rate
