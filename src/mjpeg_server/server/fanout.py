"""Socket fan-out: the event loop writes every hub's parts to every stream socket.

Why: with one thread per client, each frame wakes every client's thread, and
each wake-up costs more than the write it leads to. One thread doing
non-blocking ``send()`` of the shared bytes costs little more than the
kernel's copy, so stream sockets live in the server's one
:class:`~mjpeg_server.server.loop.EventLoop`, as µStreamer and mjpg-streamer
do in C. The front door hands a stream's socket over once the Flask view has
decided on it (:mod:`~mjpeg_server.server.front_door`); nothing waits on it.

On the loop (epoll, level-triggered):

* a hub's listener queues one call on the loop when a part is published (at
  most one pending per hub, however fast it publishes); every *idle* client of
  that hub gets the newest part at once, usually in one ``send()`` of the
  shared ``bytes`` (no copy in Python, no per-client buffer);
* **the fixed cost of a frame**: with fewer than :data:`SENDFILE_FROM` viewers
  of a camera (over plain TCP), the capture thread itself sends the new part
  to its idle viewer, non-blocking, instead of waking the loop: on a small VM
  a thread's wake-up costs more CPU than the send, and the capture thread is
  awake anyway. Only what it cannot finish (a partial send, a full socket, an
  error) goes to the loop, as a queued call, which carries on as below. The
  hub's lock (:attr:`_HubClients.lock`) makes the two threads take turns on
  its clients: the loop holds it whenever it writes to or ends one;
* every stream socket has ``TCP_NOTSENT_LOWAT`` = :data:`UNSENT_LIMIT`: the
  kernel reports it full once that many bytes wait unsent, instead of letting
  its autotuned buffer (megabytes) fill with seconds of old frames as
  mjpg-streamer's clients do. A client whose socket is full keeps its
  unfinished part and waits for EPOLLOUT, which comes when its backlog is
  nearly gone; meanwhile it skips frames, then it starts on the newest one.
  So each client has at most its current part and the newest one pending. A
  client that has lagged once keeps the tighter :data:`LAGGING_UNSENT_LIMIT`,
  so a slow viewer gets frames at most that backlog old beyond its own
  transfer time. A client that falls behind for less than a frame interval
  loses nothing;
* **send deadline**: a client whose socket has accepted no byte for
  ``send_timeout`` seconds is ended and its slot freed. A slow reader that
  keeps taking bytes keeps its stream (every accepted byte restarts its
  clock); the check is a sweep over the clients that are waiting for room,
  a few times per ``send_timeout``, never a timer per send;
* EPOLLRDHUP/EPOLLERR/EOF end a client the moment it hangs up, even when no
  frame flows (failure mode F9): no write is needed to notice;
* after ``heartbeat_interval`` without a new part, idle clients get the hub's
  heartbeat (the newest part again, or a "no signal" card): one timer per hub.

Cost per delivered frame: one ``send()`` and a few attribute updates on the
loop; per new frame: one queued call and at most one wake-up, whatever the
number of clients (none with one viewer: the capture thread sends). The loop
never blocks on a client and contains every client's errors: a broken client
ends only itself.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from ..hub import CaptureHub, HubClosed, Part, Subscription
from ..wire.multipart import Layout
from .loop import EventLoop, Timer, retry_errors
from .state import FrontDoorStats

__all__ = ["FanOut", "FanOutClient"]

log = logging.getLogger(__name__)

_IN = select.EPOLLIN | select.EPOLLRDHUP
_OUT = _IN | select.EPOLLOUT
_GONE = select.EPOLLERR | select.EPOLLHUP | select.EPOLLRDHUP
#: At most about this many bytes wait unsent in a client's socket: past it, the
#: socket reports full and the client skips frames (TCP_NOTSENT_LOWAT).
UNSENT_LIMIT = 16 * 1024
#: The limit for a client that has lagged once (for the rest of its stream):
#: it is woken only when its backlog is nearly gone, so the newest frame it then
#: starts is not queued behind old bytes. Chosen by measuring slow viewers' frame
#: age at 16, 4 and 1 KiB (README, Performance): the smaller, the fresher their
#: frames, the fast viewers unchanged. Fast clients keep UNSENT_LIMIT: a small
#: limit costs a wake-up per KiB whenever the network, not the client, is the limit.
LAGGING_UNSENT_LIMIT = 1024
#: From this many viewers of a camera on, parts go out with sendfile() from a
#: memfd (written once per part) instead of send() (a copy per viewer).
SENDFILE_FROM = 2
#: A lagging client skips a newest frame older than this many frame intervals.
STALE_AFTER_INTERVALS = 0.5
# Linux's TCP_NOTSENT_LOWAT; the socket module does not always export it.
_TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25)
_DISCONNECTED = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ETIMEDOUT})
#: Reasons a stream ends, as logged and counted.
CLIENT_LEFT = "client left"
SERVER_STOPPED = "server stopped"
SEND_TIMEOUT = "send timeout"


class FanOutClient:
    """One stream socket owned by the fan-out loop."""

    __slots__ = (
        "_buffer",
        "_file",
        "_lagged",
        "_lagging",
        "_lock",
        "_offset",
        "_progress_at",
        "finished",
        "hub",
        "layout",
        "on_finish",
        "reason",
        "sock",
        "subscription",
    )

    def __init__(
        self,
        sock: socket.socket,
        *,
        hub: CaptureHub,
        subscription: Subscription,
        head: bytes,
        on_finish: Callable[[FanOutClient], None],
        layout: Layout,
    ) -> None:
        self.sock = sock
        self.layout = layout
        self.hub = hub
        self.subscription = subscription
        self.on_finish = on_finish
        #: Set once the loop is done with the socket (it is shut down by then).
        self.finished = threading.Event()
        #: Why the stream ended, for the log: "client left", "server stopped" …
        self.reason = ""
        # What is being written and how far: the head first, then parts, each
        # either bytes (send) or a part's memfd (sendfile).
        self._buffer: memoryview | None = memoryview(head)
        self._file: _PartFile | None = None
        self._offset = 0
        self._lagging = False
        self._lagged = False  # ever: its socket then has LAGGING_UNSENT_LIMIT
        # Loop time of the last byte the socket took while lagging (send deadline).
        self._progress_at = 0.0
        # The hub's clients' lock (_HubClients.lock, set by FanOut.add), held to
        # write to or end the client.
        self._lock = threading.RLock()

    @property
    def lagging(self) -> bool:
        """True while the client's socket is full and it is skipping frames."""
        return self._lagging


class _PartFile:
    """A part's bytes in a memfd, for ``sendfile()``: the kernel hands the same
    pages to every client's socket instead of copying the part into each one.

    A memfd is written once and never again (pages still queued in a socket may
    be referenced, not copied), and closed when the last client is done with it.
    """

    __slots__ = ("fd", "size", "version")

    def __init__(self, data: bytes, version: int) -> None:
        self.fd = os.memfd_create("mjpeg-part", os.MFD_CLOEXEC)
        self.size = len(data)
        self.version = version
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            os.close(self.fd)
            raise

    def __del__(self) -> None:
        os.close(self.fd)


@dataclass(eq=False)
class _HubClients:
    clients: set[FanOutClient] = field(default_factory=set)
    #: Held by whichever thread writes to these clients or ends one: the loop, or
    #: the capture thread sending a new part directly. Reentrant: ending a client
    #: happens inside a write.
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Version of the last part handed out, and when (loop time): heartbeats are
    #: due ``heartbeat_interval`` after the last activity.
    version: int = 0
    active_at: float = 0.0
    #: A delivery call is queued on the loop (set by the capture thread).
    wake_pending: bool = False
    heartbeat: Timer | None = None
    #: The loop call that delivers this hub's newest part (made once).
    deliver: Callable[[], None] = field(default=lambda: None)
    #: The newest part in a memfd, per layout, once a client sends it with sendfile.
    files: dict[Layout, _PartFile] = field(default_factory=dict)

    def file_for(self, part: Part, layout: Layout) -> _PartFile:
        file = self.files.get(layout)
        if file is None or file.version != part.version:
            file = self.files[layout] = _PartFile(part.wire(layout), part.version)
        return file


class FanOut:
    """The streams on an event loop. :meth:`add` and :meth:`close` may be called
    from any thread; everything else runs on the loop's thread.

    Without a ``loop`` it makes (and owns, and stops on :meth:`close`) its own.
    """

    def __init__(
        self,
        loop: EventLoop | None = None,
        *,
        heartbeat_interval: float = 1.0,
        send_timeout: float | None = None,
        tls: bool = False,
        stats: FrontDoorStats | None = None,
    ) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.send_timeout = send_timeout
        self._retry = retry_errors(tls=tls)
        # sendfile() cannot write through TLS: that goes through the SSL object.
        self._sendfile = not tls and hasattr(os, "memfd_create")
        # Nor may two threads use one SSL object: under TLS only the loop writes.
        self._direct = not tls
        #: Counts streams ended by the send deadline (``send_timeouts``).
        self.stats = stats or FrontDoorStats()
        self._own_loop = loop is None
        self._loop = loop or EventLoop("fan-out")
        self._lock = threading.Lock()
        self._hubs: dict[CaptureHub, _HubClients] = {}
        self._clients: dict[int, FanOutClient] = {}
        self._waiting: set[FanOutClient] = set()  # lagging: the send deadline applies
        self._sweep: Timer | None = None
        self._closed = False
        self._loop.add_stop_hook(self._shut_down)

    @property
    def loop(self) -> EventLoop:
        return self._loop

    @property
    def clients(self) -> int:
        """Streams on the loop now."""
        return len(self._clients)

    # -- any thread ------------------------------------------------------------

    def add(
        self,
        sock: socket.socket,
        hub: CaptureHub,
        subscription: Subscription,
        head: bytes,
        on_finish: Callable[[FanOutClient], None],
        *,
        layout: Layout = Layout.STANDARD,
    ) -> FanOutClient:
        """Hand ``sock`` over: the loop writes ``head``, then ``hub``'s parts, until the
        client leaves, the hub closes or the send deadline passes. The caller must
        not touch ``sock`` again; ``on_finish(client)`` runs once on the loop thread
        when the stream is over (the socket is closed by then)."""
        client = FanOutClient(
            sock,
            hub=hub,
            subscription=subscription,
            head=head,
            on_finish=on_finish,
            layout=layout,
        )
        with self._lock:
            closed = self._closed
            if not closed and hub not in self._hubs:
                entry = self._hubs[hub] = _HubClients()
                entry.deliver = partial(self._deliver, hub, entry)
                hub.add_listener(partial(self._on_publish, entry))
            if not closed:
                client._lock = self._hubs[hub].lock
        if not closed and self._loop.in_loop_thread() and not self._loop.stopping:
            # From the loop itself (the front door adopting a stream): the head
            # and the newest part go out now, not after every other ready socket.
            self._admit(client)
            return client
        if closed or not self._loop.call_soon(partial(self._admit, client)):
            client.reason = SERVER_STOPPED
            self._finish_unregistered(client)
            return client
        self._loop.start()
        return client

    def close(self, timeout: float = 2.0) -> None:
        """End every stream (their sockets are shut down); stop the loop if it is ours."""
        with self._lock:
            self._closed = True
        if self._own_loop:
            self._loop.stop(timeout)
        else:
            self._loop.call_soon(self._shut_down)

    def _on_publish(self, entry: _HubClients, hub: CaptureHub) -> None:
        # On the capture thread: queue one delivery, however many parts come first.
        if entry.wake_pending:
            return
        if self._direct and len(entry.clients) < SENDFILE_FROM and self._send_directly(entry, hub):
            return
        entry.wake_pending = True
        self._loop.call_soon(entry.deliver)

    def _send_directly(self, entry: _HubClients, hub: CaptureHub) -> bool:
        """On the capture thread: send the newest part to the hub's idle clients
        without waking the loop. False if the loop must carry on (a partial send,
        a full socket, an error, a client that is lagging now or busy, the hub
        closing).

        A client that lagged once and caught up since is idle like any other: the
        loop would start the newest part at once too (it is fresh, just published).
        """
        with entry.lock:
            clients = list(entry.clients)
            if hub.closed or any(
                c._buffer is not None or c._file is not None or c._lagging for c in clients
            ):
                return False
            done = True
            for client in clients:
                try:
                    part = client.subscription.poll()
                except HubClosed:
                    return False
                if part is None:
                    continue
                data = part.wire(client.layout)
                try:
                    sent = client.sock.send(data)
                except OSError:  # full, or gone: the loop's write says which
                    sent = 0
                if sent < len(data):
                    client._buffer = memoryview(data)
                    client._offset = sent
                    done = False
            if done:
                latest = hub.latest()
                if latest is not None:
                    entry.version = latest.version
                # The loop's clock (time.monotonic), for its heartbeat timer.
                entry.active_at = time.monotonic()
            return done

    # -- the loop's thread -------------------------------------------------------

    def _admit(self, client: FanOutClient) -> None:
        loop = self._loop
        try:
            client.sock.setblocking(False)
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, UNSENT_LIMIT)
            fd = client.sock.fileno()
            loop.register(fd, _IN, partial(self._on_socket_event, client))
        except (OSError, ValueError):
            client.reason = CLIENT_LEFT
            self._finish_unregistered(client)
            return
        self._clients[fd] = client
        entry = self._hubs[client.hub]
        with entry.lock:
            entry.clients.add(client)
        if entry.heartbeat is None:
            entry.active_at = loop.now
            entry.heartbeat = loop.call_at(
                loop.now + self.heartbeat_interval, partial(self._heartbeat, client.hub, entry)
            )
        if client.hub.closed:
            self._end(client, SERVER_STOPPED)
            return
        self._write(client)  # the head, then the newest part if there is one

    def _deliver(self, hub: CaptureHub, entry: _HubClients) -> None:
        """Give idle clients the newest part of ``hub``."""
        entry.wake_pending = False
        if hub.closed:
            for client in list(entry.clients):
                self._end(client, SERVER_STOPPED)
            return
        with entry.lock:
            latest = hub.latest()
            if latest is None or latest.version == entry.version:
                return
            entry.version = latest.version
            entry.active_at = self._loop.now
            # Outside _write only a lagging client has a part: it waits for EPOLLOUT.
            # (A client the capture thread left mid-part is not lagging yet.)
            for client in list(entry.clients):
                if not client._lagging:
                    self._write(client)

    def _heartbeat(self, hub: CaptureHub, entry: _HubClients) -> None:
        """Re-send the newest part to idle clients after ``heartbeat_interval`` of silence."""
        entry.heartbeat = None
        if not entry.clients:
            return  # the next client to come starts it again
        now = self._loop.now
        if now - entry.active_at >= self.heartbeat_interval:
            entry.active_at = now
            with entry.lock:
                for client in list(entry.clients):
                    beat = hub.heartbeat(client.layout)
                    if beat is not None and client._buffer is None and client._file is None:
                        client._buffer = memoryview(beat)
                        client._offset = 0
                        self._write(client)
        entry.heartbeat = self._loop.call_at(
            entry.active_at + self.heartbeat_interval, partial(self._heartbeat, hub, entry)
        )

    def _on_socket_event(self, client: FanOutClient, events: int) -> None:
        if events & _GONE:
            self._end(client, CLIENT_LEFT)
            return
        if events & select.EPOLLIN and not self._discard_input(client):
            return
        if events & select.EPOLLOUT:
            # Room again: the socket took bytes (through TLS the only sign of it,
            # as SSL_write reports nothing until a whole part is in).
            client._progress_at = self._loop.now
            self._write(client)

    def _discard_input(self, client: FanOutClient) -> bool:
        """Read and drop what the client sends; False if it hung up."""
        try:
            if client.sock.recv(4096):
                return True
        except self._retry:
            return True
        except OSError:
            pass
        self._end(client, CLIENT_LEFT)
        return False

    def _write(self, client: FanOutClient) -> None:
        """Write as much as the socket takes: the unfinished part, then newer ones."""
        with client._lock:  # the capture thread may be sending to this hub's clients
            self._write_locked(client)

    def _write_locked(self, client: FanOutClient) -> None:
        sock = client.sock
        while True:
            if client._buffer is None and client._file is None and not self._next_part(client):
                return
            try:
                file = client._file
                if file is not None:
                    offset = client._offset
                    sent = os.sendfile(sock.fileno(), file.fd, offset, file.size - offset)
                    size = file.size
                else:
                    buffer = client._buffer
                    assert buffer is not None
                    sent = sock.send(buffer[client._offset :] if client._offset else buffer)
                    size = len(buffer)
            except self._retry:
                self._start_lagging(client)
                return
            except OSError as error:
                self._end(client, CLIENT_LEFT if error.errno in _DISCONNECTED else str(error))
                return
            client._offset += sent
            if client._offset < size:
                if file is not None and sent:
                    # sendfile corks all but its last chunk: a short count may only
                    # mean "pushed now", so go on until the socket says it is full.
                    continue
                self._start_lagging(client)
                return
            client._buffer = client._file = None
            if client._lagging:
                client._lagging = False
                self._waiting.discard(client)
                self._loop.modify(sock.fileno(), _IN)

    def _next_part(self, client: FanOutClient) -> bool:
        """Take the client's next part to write; False if there is none (yet)."""
        if client._lagged and self._newest_is_stale(client.hub):
            return False  # a fresher frame is due soon: start that one
        try:
            part = client.subscription.poll()
        except HubClosed:
            self._end(client, SERVER_STOPPED)
            return False
        if part is None:
            return False  # idle until the next part
        client._offset = 0
        entry = self._hubs[client.hub]
        if self._sendfile and len(entry.clients) >= SENDFILE_FROM:
            try:
                client._file = entry.file_for(part, client.layout)
                return True
            except OSError as error:  # no memfd here: send() from now on
                log.warning("sendfile disabled: cannot make a memfd (%s)", error)
                self._sendfile = False
        client._buffer = memoryview(part.wire(client.layout))
        return True

    @staticmethod
    def _newest_is_stale(hub: CaptureHub) -> bool:
        """True if the newest part was published more than half a frame interval ago.

        A client that lags spends several intervals on each frame, so what it
        shows should be as fresh as possible when it starts one: waiting at most
        half an interval for the next frame costs it little throughput and saves
        up to a whole interval of age on every frame it gets.
        """
        latest = hub.latest()
        if latest is None:
            return False
        return hub.clock() - latest.published_at > STALE_AFTER_INTERVALS / hub.camera.fps

    def _start_lagging(self, client: FanOutClient) -> None:
        if client._lagging:
            return
        client._lagging = True
        client._progress_at = self._loop.now
        try:
            if not client._lagged:
                client._lagged = True
                client.sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, LAGGING_UNSENT_LIMIT)
            self._loop.modify(client.sock.fileno(), _OUT)
        except OSError:
            self._end(client, CLIENT_LEFT)
            return
        if self.send_timeout is not None:
            self._waiting.add(client)
            if self._sweep is None:
                self._sweep = self._loop.call_later(self._sweep_interval(), self._sweep_waiting)

    def _sweep_interval(self) -> float:
        assert self.send_timeout is not None
        return min(1.0, max(0.05, self.send_timeout / 4))

    def _sweep_waiting(self) -> None:
        """End the clients whose socket took no byte for ``send_timeout``."""
        self._sweep = None
        assert self.send_timeout is not None
        expired = self._loop.now - self.send_timeout
        for client in [c for c in self._waiting if c._progress_at <= expired]:
            self.stats.send_timeouts += 1
            self._end(client, SEND_TIMEOUT)
        if self._waiting:
            self._sweep = self._loop.call_later(self._sweep_interval(), self._sweep_waiting)

    def _end(self, client: FanOutClient, reason: str) -> None:
        with client._lock:  # never closed while the capture thread sends to it
            try:
                fd = client.sock.fileno()
            except OSError:
                fd = -1
            if self._clients.get(fd) is not client:
                return
            del self._clients[fd]
            self._waiting.discard(client)
            entry = self._hubs[client.hub]
            entry.clients.discard(client)
            if not entry.clients:
                entry.files.clear()  # no memfd is kept for a camera nobody watches
            self._loop.unregister(fd)
            client.reason = reason
            self._finish_unregistered(client)

    @staticmethod
    def _finish_unregistered(client: FanOutClient) -> None:
        client._buffer = client._file = None  # a finished client holds no part
        with contextlib.suppress(OSError):
            client.sock.shutdown(socket.SHUT_RDWR)
        client.sock.close()
        client.subscription.close()
        client.finished.set()
        try:
            client.on_finish(client)
        except Exception:
            log.exception("stream finish callback failed")

    def _shut_down(self) -> None:
        with self._lock:
            self._closed = True
        for client in list(self._clients.values()):
            self._end(client, SERVER_STOPPED)
