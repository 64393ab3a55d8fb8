"""Load any MJPEG stream with many concurrent viewers and report what they got.

``mjpeg-server bench URL --clients N --seconds S`` opens N streams at once and
reads them for S seconds. Each client measures, from the bytes it receives:

* **fps**, counted from its first frame to the end of the run;
* **time to first frame**: from the start of its connect to the last byte of
  its first frame;
* **latency** of each frame: when its last byte was received minus its
  ``X-Timestamp`` (capture time on the server's clock: meaningful when client
  and server share a clock, as on one machine), if the server sends one;
* **dropped** frames: gaps in ``X-Frame-Seq``, if the server sends it;
* **errors**: refused or broken connections, HTTP errors, malformed streams, a
  stream the server ends before the run does, a client that got no frame.

It works against any server: chunked HTTP/1.1 and close-delimited HTTP/1.0
responses, mjpg-streamer's ``/?action=stream``, no sequence header (no drops
are counted then), no timestamp (no latency then).

**Cheap clients.** The measuring side must cost far less than the server it
measures (this runs on the same box). Each client is an asyncio
``BufferedProtocol`` on a raw socket: no stream reader, no per-read future, no
HTTP library; one bytes copy per read, then the kit's sans-I/O parsers.
``--processes P`` spreads the clients over P processes (each with its own event
loop) and merges their results, so hundreds of 30 fps streams of 90 KB frames
(hundreds of MB/s) fit on two cores. The report shows the clients' own CPU.

**Slow clients.** ``--slow K --slow-rate 0.1`` makes K of the clients read at
10 % of the stream's bandwidth, as over a slow link: each sets a tiny
``SO_RCVBUF`` before connecting, reads its first frames at full speed to measure
the stream, then reads through a token bucket at that fraction. For them the
report gives the frames' **age beyond transfer time**: (last byte received -
X-Timestamp) - (frame bytes / client rate), in frame intervals; the time a
frame needs to cross the slow link is the link's fault, anything beyond is
time it waited in the server or in buffers. The other clients' figures are
reported separately, so a slow client that slows everyone shows.

The client's own kernel buffer is part of that age (it is the emulated link's
queue, which a real viewer's app keeps empty), hence tiny: at 10 % of a 30 fps
stream of 90 KB frames, a 32 KiB ``SO_RCVBUF`` (64 KiB once the kernel doubles
it) holds about 7 frame intervals on its own and measured ages of 7-12
intervals against a server that keeps 16 KB unsent; 4 KiB holds about one.
The report gives that share (``client_buffer_intervals``: the effective
buffer at the client's rate, an upper bound) so the server's part can be read.

``--warmup W`` leaves the first W seconds out of fps, latency, drops and MB/s
(not out of time to first frame): a run that starts hundreds of clients at once
measures their arrival first, and a benchmark wants the steady state.

Exit status: 0, or 1 if any client reported an error (the report still comes).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import multiprocessing
import re
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from .. import __version__
from ..stats import percentile
from ..wire.frame_headers import decode_frame_headers
from ..wire.multipart import (
    NEED_DATA,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    ProtocolError,
    StreamEnd,
    boundary_from_content_type,
)
from ..wording import counted
from .errors import describe_error

__all__ = [
    "HELP",
    "ClientResult",
    "LoadConfig",
    "Report",
    "StreamRecorder",
    "add_arguments",
    "join_times",
    "run",
    "run_load",
]

#: ``mjpeg-server bench --help``: plain text for a terminal (the design is above).
HELP = """\
Load any MJPEG stream with many concurrent viewers and report what they got.

  mjpeg-server bench URL --clients N --seconds S

opens N streams at once, reads them for S seconds, and reports per client:
  fps          counted from its first frame to the end of the run
  first frame  from the start of its connect to the last byte of its first frame
  latency      arrival of each frame's last byte minus its X-Timestamp (the
               server's clock: meaningful when both run on one machine)
  dropped      gaps in X-Frame-Seq, if the server sends it
  errors       refused or broken connections, HTTP errors, malformed streams

Works against any MJPEG server (mjpg-streamer's /?action=stream too).
--processes P spreads the clients over P processes, so hundreds of streams fit
on two cores. --slow K --slow-rate 0.1 makes K clients read at 10 % of the
stream's bandwidth, as over a slow link; their frames' age beyond transfer
time shows whether the server queues old frames for them."""

#: Receive buffer a slow client asks for (the kernel doubles it): tiny, so that
#: a slow link's backlog stays on the server, where it shows (module docstring).
SLOW_RCVBUF: Final = 4 * 1024
#: Frames a slow client reads at full speed to measure the stream's bandwidth.
SLOW_WARMUP_FRAMES: Final = 15
# The token bucket's depth: the most a slow client reads at once. Small, so
# that "when the last byte arrived" is known to within a few ms at 10 % of a
# 30 fps stream (4 KiB at 270 KB/s: 15 ms, half a frame interval).
_SLOW_BURST = 4096
# Bytes per read for everyone else: more than one 1280x720 frame.
_READ_SIZE = 256 * 1024
# A response head larger than this is not an MJPEG server talking.
_MAX_HEAD = 64 * 1024
_CONNECT_TIMEOUT = 10.0
_HEX_RE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class ResponseError(Exception):
    """The HTTP response (not the multipart body) is malformed."""


# ------------------------------------------------------------------ results


@dataclass
class ClientResult:
    """What one client measured. Times are ``time.monotonic`` seconds."""

    index: int
    slow: bool = False
    #: When the client started connecting.
    started: float = 0.0
    #: When it stopped reading: the end of the run, or the stream's end.
    ended: float = 0.0
    #: HTTP status, once the response head is in.
    status: int | None = None
    #: Frames received in all.
    frames: int = 0
    #: Seconds from ``started`` to the last byte of the first frame.
    first_frame_s: float | None = None
    #: The first frame completed in the measurement window (after the warm-up):
    #: fps counts the frames after it, up to ``ended``.
    window_start: float | None = None
    window_frames: int = 0
    bytes: int = 0
    #: Bytes received in the measurement window.
    window_bytes: int = 0
    #: Per frame in the window, ms: receive time of its last byte - X-Timestamp.
    latencies_ms: list[float] = field(default_factory=list)
    #: Frames missing between consecutive X-Frame-Seq values, in the window.
    dropped: int = 0
    #: Slow clients: the rate they read at (bytes/s) and the stream's frame
    #: interval (s), both measured during their first frames.
    rate: float | None = None
    interval: float | None = None
    #: Slow clients, per throttled frame: age beyond transfer time, in frame intervals.
    ages: list[float] = field(default_factory=list)
    #: Slow clients: their socket's receive buffer as the kernel set it.
    rcvbuf: int | None = None
    #: Why the client failed, or None. A few fixed phrasings, so that they add up.
    error: str | None = None

    @property
    def fps(self) -> float:
        if self.window_start is None or self.ended <= self.window_start:
            return 0.0
        return self.window_frames / (self.ended - self.window_start)


@dataclass(frozen=True)
class LoadConfig:
    """One load run: see the module docstring and ``mjpeg-server bench --help``."""

    url: str
    clients: int = 1
    seconds: float = 10.0
    processes: int = 1
    slow: int = 0
    slow_rate: float = 0.1
    warmup: float = 0.0

    def __post_init__(self) -> None:
        if self.clients < 1:
            raise ValueError("--clients must be at least 1")
        if not 0 < self.seconds < math.inf:
            raise ValueError("--seconds must be a positive number")
        if not 1 <= self.processes <= self.clients:
            raise ValueError("--processes must be between 1 and --clients")
        if not 0 <= self.slow <= self.clients:
            raise ValueError("--slow must be between 0 and --clients")
        if not 0 < self.slow_rate <= 1:
            raise ValueError("--slow-rate must be a fraction in (0, 1]")
        if not 0 <= self.warmup < self.seconds:
            raise ValueError("--warmup must be at least 0 and less than --seconds")
        _Target.from_url(self.url)  # a bad URL fails here, once, not in every client

    def slow_indexes(self) -> frozenset[int]:
        """Which clients are slow: spread evenly, so each process gets its share."""
        if not self.slow:
            return frozenset()
        step = self.clients / self.slow
        return frozenset(int(i * step) for i in range(self.slow))

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "clients": self.clients,
            "seconds": self.seconds,
            "processes": self.processes,
            "slow": self.slow,
            "slow_rate": self.slow_rate,
            "warmup": self.warmup,
        }


# --------------------------------------------------------- the sans-I/O part


class _ChunkedDecoder:
    """Incremental decoder of HTTP/1.1 ``Transfer-Encoding: chunked``.

    Payload bytes leave as soon as they arrive (sliced out of the input, never
    buffered); only a size or trailer line split across reads is held back.
    """

    __slots__ = ("_crlf", "_partial", "_remaining", "_trailer", "done")

    def __init__(self) -> None:
        self._partial = b""
        self._remaining = 0
        self._crlf = False  # the line break after a chunk's data is next
        self._trailer = False  # the last chunk came: trailer lines up to an empty one
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        if self._partial:
            data, self._partial = self._partial + data, b""
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end and not self.done:
            if self._remaining:
                take = min(self._remaining, end - pos)
                out.append(data if take == end else data[pos : pos + take])
                pos += take
                self._remaining -= take
                self._crlf = not self._remaining
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                if end - pos > 1024:
                    raise ResponseError("chunked body: a line of more than 1024 bytes")
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
    ) -> None:
        self.result = result
        self.window_opens = window_opens
        self.slow_rate = slow_rate
        self.first_frame_only = first_frame_only
        #: Bytes per second a slow client reads at, once measured.
        self.throttle_rate: float | None = None
        #: The stream is over for this client (error, end, or its one frame).
        self.done = False
        self._head = bytearray()
        self._body: Callable[[bytes, float, float], None] = self._receive_head
        self._chunked: _ChunkedDecoder | None = None
        self._length: int | None = None  # a Content-Length body: bytes still to come
        self._parser: MultipartParser | None = None
        self._timestamp: float | None = None
        self._seq: int | None = None
        self._last_seq: int | None = None
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
            self._body(data, now, wall)
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

    def _receive_head(self, data: bytes, now: float, wall: float) -> None:
        head = self._head
        head += data
        end = head.find(b"\r\n\r\n")
        skip = 4
        if end < 0:
            end, skip = head.find(b"\n\n"), 2
        if end < 0:
            if len(head) > _MAX_HEAD:
                raise ResponseError(f"no end of the response headers in {_MAX_HEAD} bytes")
            return
        rest = bytes(head[end + skip :])
        self._start_body(bytes(head[:end]))
        self._head = bytearray()
        if rest and not self.done:
            self._body(rest, now, wall)

    def _start_body(self, head: bytes) -> None:
        lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise ResponseError(f"expected an HTTP status line, got {lines[0][:40]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        self.result.status = int(code)
        if self.result.status != 200:
            self.fail(f"HTTP {code} {reason}".rstrip())
            return
        kind = headers.get("content-type", "")
        try:
            boundary = boundary_from_content_type(kind)
        except ProtocolError:
            self.fail(f"not a multipart stream: Content-Type {kind!r}")
            return
        self._parser = MultipartParser(boundary)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = _ChunkedDecoder()
            self._body = self._receive_chunked
        elif headers.get("content-length", "").isdigit():
            self._length = int(headers["content-length"])
            self._body = self._receive_counted
        else:
            self._body = self._multipart  # close-delimited (HTTP/1.0 style)

    def _receive_chunked(self, data: bytes, now: float, wall: float) -> None:
        assert self._chunked is not None
        for piece in self._chunked.feed(data):
            self._multipart(piece, now, wall)
        if self._chunked.done:
            self._multipart(b"", now, wall)

    def _receive_counted(self, data: bytes, now: float, wall: float) -> None:
        assert self._length is not None
        data = data[: self._length]
        self._length -= len(data)
        self._multipart(data, now, wall)
        if not self._length:
            self._multipart(b"", now, wall)

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


# ------------------------------------------------------------------ the I/O


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    request: bytes

    @classmethod
    def from_url(cls, url: str) -> _Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http:// URL, got {url!r}")
        try:
            port = parts.port or 80
        except ValueError:
            raise ValueError(f"bad port in {url!r}") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: mjpeg-server-bench/{__version__}",
            "Accept: multipart/x-mixed-replace, */*",
            "Connection: close",
        ]
        if parts.username is not None:  # mjpg-streamer -c user:pass, µStreamer --user
            secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            lines.append("Authorization: Basic " + base64.b64encode(secret.encode()).decode())
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return cls(parts.hostname, port, request)


class _ClientProtocol(asyncio.BufferedProtocol):
    """Reads one stream into a :class:`StreamRecorder`, throttled if it is slow.

    ``buffer`` is shared by every client of the event loop: the transport calls
    ``get_buffer``, ``recv_into`` and ``buffer_updated`` back to back with no
    other callback in between, and ``buffer_updated`` copies the bytes out.
    """

    def __init__(self, recorder: StreamRecorder, request: bytes, buffer: memoryview) -> None:
        self.recorder = recorder
        self._request = request
        self._buffer = buffer
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._transport: asyncio.Transport | None = None
        self._tokens = float(_SLOW_BURST)
        self._refilled: float | None = None
        self._resume: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def get_buffer(self, sizehint: int) -> memoryview:
        rate = self.recorder.throttle_rate
        if rate is None:
            return self._buffer
        self._refill(time.monotonic(), rate)
        return self._buffer[: max(1, min(_SLOW_BURST, int(self._tokens)))]

    def buffer_updated(self, nbytes: int) -> None:
        now = time.monotonic()
        self.recorder.receive(bytes(self._buffer[:nbytes]), now, time.time())
        transport = self._transport
        assert transport is not None
        if self.recorder.done:
            transport.close()
            return
        rate = self.recorder.throttle_rate
        if rate is not None:
            self._refill(now, rate)
            self._tokens -= nbytes
            if self._tokens < _SLOW_BURST / 4:
                # Let the kernel's receive window fill (the server sees a slow
                # link) until a whole burst may be read again.
                transport.pause_reading()
                delay = (_SLOW_BURST - self._tokens) / rate
                self._resume = asyncio.get_running_loop().call_later(delay, self._resume_reading)

    def _refill(self, now: float, rate: float) -> None:
        if self._refilled is not None:
            self._tokens = min(_SLOW_BURST, self._tokens + (now - self._refilled) * rate)
        self._refilled = now

    def _resume_reading(self) -> None:
        self._resume = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def eof_received(self) -> bool:
        self.recorder.end(time.monotonic(), time.time())
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.recorder.fail(f"connection lost: {describe_error(exc)}")
        if self._resume is not None:
            self._resume.cancel()
        if not self.closed.done():
            self.closed.set_result(None)


async def _client(
    target: _Target,
    address: tuple[int, Any],
    result: ClientResult,
    *,
    deadline: float,
    window_opens: float,
    slow_rate: float | None,
    buffer: memoryview,
    first_frame_only: bool = False,
) -> ClientResult:
    loop = asyncio.get_running_loop()
    recorder = StreamRecorder(
        result, window_opens=window_opens, slow_rate=slow_rate, first_frame_only=first_frame_only
    )
    family, sockaddr = address
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    if slow_rate is not None:
        # Before connect: the window scale is agreed in the handshake.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
        result.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    result.started = time.monotonic()
    try:
        async with asyncio.timeout(min(_CONNECT_TIMEOUT, max(0.0, deadline - result.started))):
            await loop.sock_connect(sock, sockaddr)
    except (OSError, TimeoutError) as error:
        sock.close()
        recorder.fail(f"connect: {describe_error(error)}")
        recorder.finish(time.monotonic())
        return result
    transport, protocol = await loop.create_connection(
        lambda: _ClientProtocol(recorder, target.request, buffer), sock=sock
    )
    try:
        await asyncio.wait([protocol.closed], timeout=max(0.0, deadline - time.monotonic()))
    finally:
        recorder.finish(time.monotonic())
        transport.abort()
    return result


async def _resolve(target: _Target) -> tuple[int, Any]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        target.host, target.port, type=socket.SOCK_STREAM
    )
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


@dataclass
class _ShardResult:
    clients: list[ClientResult]
    seconds: float
    cpu_seconds: float


async def _run_shard(config: LoadConfig, indexes: Sequence[int]) -> _ShardResult:
    target = _Target.from_url(config.url)
    slow = config.slow_indexes()
    cpu, start = time.process_time(), time.monotonic()
    results = [ClientResult(index=i, slow=i in slow) for i in indexes]
    try:
        address = await _resolve(target)
    except OSError as error:
        for result in results:
            result.error = f"resolve: {describe_error(error)}"
            result.ended = start
        return _ShardResult(results, time.monotonic() - start, time.process_time() - cpu)
    buffer = memoryview(bytearray(_READ_SIZE))
    await asyncio.gather(
        *(
            _client(
                target,
                address,
                result,
                deadline=start + config.seconds,
                window_opens=start + config.warmup,
                slow_rate=config.slow_rate if result.slow else None,
                buffer=buffer,
            )
            for result in results
        )
    )
    return _ShardResult(results, time.monotonic() - start, time.process_time() - cpu)


def _shard_process(
    config: LoadConfig,
    indexes: Sequence[int],
    ready: Any,  # a multiprocessing Barrier: every shard starts together
    results: Any,  # a multiprocessing Queue
) -> None:
    ready.wait()
    results.put(asyncio.run(_run_shard(config, indexes)))


def run_load(config: LoadConfig) -> Report:
    """Run the clients (in ``config.processes`` processes) and merge what they measured."""
    shards = [list(range(i, config.clients, config.processes)) for i in range(config.processes)]
    if config.processes == 1:
        parts = [asyncio.run(_run_shard(config, shards[0]))]
    else:
        # spawn, not fork: the caller may have threads (a test, a benchmark's sampler).
        context = multiprocessing.get_context("spawn")
        ready = context.Barrier(config.processes)
        queue = context.Queue()
        processes = [
            context.Process(target=_shard_process, args=(config, shard, ready, queue), daemon=True)
            for shard in shards
        ]
        for process in processes:
            process.start()
        # Drain before join: a child blocks in put() until its results are read.
        parts = [queue.get() for _ in processes]
        for process in processes:
            process.join()
    clients = sorted((c for part in parts for c in part.clients), key=lambda c: c.index)
    return Report(
        config,
        clients,
        seconds=max(part.seconds for part in parts),
        client_cpu_seconds=sum(part.cpu_seconds for part in parts),
    )


def join_times(url: str, joins: int, *, pause: float = 0.15, timeout: float = 5.0) -> list[float]:
    """Seconds to first frame of ``joins`` clients that join one after another
    (``pause`` apart, so they land at different points of the frame period) and
    leave after their first frame. A join that fails raises ``RuntimeError``."""

    async def measure() -> list[float]:
        target = _Target.from_url(url)
        address = await _resolve(target)
        buffer = memoryview(bytearray(_READ_SIZE))
        times = []
        for index in range(joins):
            result = ClientResult(index)
            await _client(
                target,
                address,
                result,
                deadline=time.monotonic() + timeout,
                window_opens=0.0,
                slow_rate=None,
                buffer=buffer,
                first_frame_only=True,
            )
            if result.first_frame_s is None:
                raise RuntimeError(f"join {index} to {url} failed: {result.error}")
            times.append(result.first_frame_s)
            await asyncio.sleep(pause)
        return times

    return asyncio.run(measure())


# ----------------------------------------------------------------- the report


def _summary_point(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th :func:`~mjpeg_server.stats.percentile`, rounded; None without values."""
    return _rounded(percentile(values, q)) if values else None


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Report:
    """The merged results of one run."""

    config: LoadConfig
    clients: list[ClientResult]
    #: Wall time the run took (the longest process).
    seconds: float
    #: CPU time of the measuring processes themselves.
    client_cpu_seconds: float

    @property
    def fast(self) -> list[ClientResult]:
        return [c for c in self.clients if not c.slow]

    @property
    def slow(self) -> list[ClientResult]:
        return [c for c in self.clients if c.slow]

    @property
    def errors(self) -> Counter[str]:
        return Counter(c.error for c in self.clients if c.error is not None)

    def to_json(self) -> dict[str, Any]:
        """Figures for the fast (not slow) clients at the top level; MB/s, time to
        first frame and errors over every client; the slow ones apart."""
        fast, slow = self.fast, self.slow
        window = self.config.seconds - self.config.warmup
        latencies = [x for c in fast for x in c.latencies_ms]
        first = [c.first_frame_s * 1000 for c in self.clients if c.first_frame_s is not None]
        report: dict[str, Any] = {
            "params": self.config.to_json(),
            "duration_s": round(self.seconds, 3),
            "client_cpu_percent": round(100 * self.client_cpu_seconds / self.seconds, 1)
            if self.seconds
            else None,
            "fps": _fps_summary(fast),
            "frames": sum(c.window_frames for c in fast),
            "frames_per_s": round(sum(c.fps for c in fast), 1),
            "dropped": sum(c.dropped for c in fast),
            "mb_per_s": round(sum(c.window_bytes for c in self.clients) / window / 1e6, 2),
            "latency_ms": {
                "p50": _summary_point(latencies, 50),
                "p99": _summary_point(latencies, 99),
                "max": _rounded(max(latencies, default=None)),
                "samples": len(latencies),
            },
            "first_frame_ms": {
                "p50": _summary_point(first, 50),
                "max": _rounded(max(first, default=None)),
            },
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common()),
            "slow_clients": None,
        }
        if slow:
            ages = [x for c in slow for x in c.ages]
            rates = [c.rate for c in slow if c.rate is not None]
            # How long the client's own full receive buffer takes to drain, in intervals.
            buffered = [
                c.rcvbuf / c.rate / c.interval for c in slow if c.rcvbuf and c.rate and c.interval
            ]
            report["slow_clients"] = {
                "count": len(slow),
                "rate_kb_per_s": _rounded(statistics.median(rates) / 1e3, 1) if rates else None,
                "fps": _fps_summary(slow),
                "frames": sum(c.window_frames for c in slow),
                "age_intervals": {
                    "p50": _summary_point(ages, 50),
                    "max": _rounded(max(ages, default=None)),
                    "samples": len(ages),
                },
                "client_buffer_intervals": _rounded(max(buffered, default=None)),
            }
        return report

    def table(self) -> str:
        """The report for people: a few aligned lines."""
        data = self.to_json()
        config = self.config
        slow = f" ({config.slow} slow at {config.slow_rate:.0%})" if config.slow else ""
        warmup = f", warm-up {config.warmup:g} s" if config.warmup else ""
        processes = f" in {config.processes} processes" if config.processes > 1 else ""
        rows = [
            f"mjpeg-server bench {config.url}",
            f"  {counted(config.clients, 'client')}{slow} for {config.seconds:g} s"
            f"{warmup}{processes}",
            "",
            f"  {'':24}{'min':>9}{'median':>9}{'p99':>9}{'max':>9}",
            _row("fps per client", data["fps"], "min", "median"),
            _row("latency (ms)", data["latency_ms"], "", "p50", "p99", "max"),
            _row("first frame (ms)", data["first_frame_ms"], "", "p50", "", "max"),
        ]
        slow_data = data["slow_clients"]
        if slow_data:
            rows += [
                _row("slow: fps", slow_data["fps"], "min", "median"),
                _row("slow: age (intervals)", slow_data["age_intervals"], "", "p50", "", "max"),
            ]
            rows.append(
                f"  (of which the slow clients' own receive buffer: up to "
                f"{slow_data['client_buffer_intervals']} intervals)"
            )
        rows += [
            "",
            f"  {counted(data['frames'], 'frame')} ({data['frames_per_s']}/s), "
            f"{data['mb_per_s']} MB/s, {data['dropped']} dropped, "
            f"{counted(data['errors'], 'error')}; "
            f"client CPU {data['client_cpu_percent']} % of a core",
        ]
        rows += [f"  error x{count}: {kind}" for kind, count in data["error_kinds"].items()]
        if slow_data:
            rows.append(
                f"  slow clients read at {slow_data['rate_kb_per_s']} kB/s; "
                "fps and latency above are the other clients'"
            )
        return "\n".join(rows)


def _fps_summary(clients: Sequence[ClientResult]) -> dict[str, float | None]:
    rates = [c.fps for c in clients]
    return {
        "min": _rounded(min(rates, default=None)),
        "median": _rounded(statistics.median(rates) if rates else None),
    }


def _row(label: str, summary: dict[str, Any], *columns: str) -> str:
    """One table row: ``summary[column]`` under each column, blank for ""."""
    cells = [summary[c] if c else "" for c in columns]
    return f"  {label:24}" + "".join(f"{'-' if v is None else v:>9}" for v in cells)


# ------------------------------------------------------------------ the CLI


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


_count.__name__ = "whole number"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "url",
        help="the stream, e.g. http://127.0.0.1:8000/stream.mjpg or http://cam/?action=stream",
    )
    add("--clients", type=_count, default=1, help="concurrent streams (default %(default)s)")
    add("--seconds", type=float, default=10.0, help="length of the run (default %(default)s)")
    add(
        "--processes",
        type=_count,
        default=1,
        help="spread the clients over this many processes (default %(default)s)",
    )
    add("--slow", type=_count, default=0, metavar="K", help="K of the clients read slowly")
    add(
        "--slow-rate",
        type=float,
        default=0.1,
        metavar="FRACTION",
        help="slow clients read at this fraction of the stream's bandwidth (default %(default)s)",
    )
    add(
        "--warmup",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="leave the first SECONDS out of fps, latency, drops and MB/s (default %(default)s)",
    )
    add("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace) -> int:
    try:
        # The flags are named after the fields.
        config = LoadConfig(**{f.name: getattr(args, f.name) for f in fields(LoadConfig)})
    except ValueError as error:
        print(f"mjpeg-server bench: error: {error}", file=sys.stderr)
        return 2
    report = run_load(config)
    print(json.dumps(report.to_json()) if args.json else report.table())
    return 1 if report.errors else 0
