"""Running a bench: many clients on asyncio, in one or more processes.

Goal: clients cheap enough that the measuring side costs far less than the
server it measures (it runs on the same box). Each client is an asyncio
``BufferedProtocol`` on a raw socket: no stream reader, no per-read future, no
HTTP library; one bytes copy per read, then the sans-I/O
:class:`~.recorder.StreamRecorder`. A slow client reads through a token bucket
with a tiny ``SO_RCVBUF``. ``--processes`` spreads the clients over processes
(``spawn``) and merges what they measured.

Cost per client: one socket, one protocol object, one recorder; per read, one
copy of the bytes read (the read buffer is shared by every client of a loop).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors import describe_error
from .config import LoadConfig, Target
from .recorder import StreamRecorder
from .report import Report
from .results import ClientResult

__all__ = ["SLOW_RCVBUF", "join_times", "run_load"]

#: Receive buffer a slow client asks for (the kernel doubles it): tiny, so that
#: a slow link's backlog stays on the server, where it shows (package docstring).
SLOW_RCVBUF: Final = 4 * 1024
# The token bucket's depth: the most a slow client reads at once. Small, so
# that "when the last byte arrived" is known to within a few ms at 10 % of a
# 30 fps stream (4 KiB at 270 KB/s: 15 ms, half a frame interval).
_SLOW_BURST = 4096
# Bytes per read for everyone else: more than one 1280x720 frame.
_READ_SIZE = 256 * 1024
_CONNECT_TIMEOUT = 10.0


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
    target: Target,
    address: tuple[int, Any],
    result: ClientResult,
    *,
    deadline: float,
    window_opens: float,
    slow_rate: float | None,
    buffer: memoryview,
    first_frame_only: bool = False,
    frame_loop: Sequence[int] = (),
) -> ClientResult:
    loop = asyncio.get_running_loop()
    recorder = StreamRecorder(
        result,
        window_opens=window_opens,
        slow_rate=slow_rate,
        first_frame_only=first_frame_only,
        loop=frame_loop,
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


async def _resolve(target: Target) -> tuple[int, Any]:
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
    target = Target.from_url(config.url)
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
                frame_loop=config.loop,
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
        target = Target.from_url(url)
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
