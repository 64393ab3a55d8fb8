"""Socket fan-out: one thread writes every hub's parts to every stream socket.

Why: with one thread per client, each frame wakes every client's thread, and
each wake-up costs more than the write it leads to. Measured on the 2-core
development box, 100 clients of 90 KB frames at 30 fps: a thread per client
waiting on a condition and writing costs ~73 µs of CPU per delivered frame
(~103 µs when the WSGI server also copies the frame into an HTTP chunk); one
thread doing non-blocking ``send()`` of the shared bytes costs ~20 µs, most
of it the kernel's copy. So the streams' sockets are handed to this loop, as
µStreamer and mjpg-streamer do in C, and the WSGI thread that accepted the
request just waits (see ``bodies.FanoutBody``).

The loop (epoll, level-triggered):

* a hub's listener wakes it (an eventfd) when a part is published; every
  *idle* client of that hub gets the newest part at once, usually in one
  ``send()`` of the shared ``bytes`` (no copy in Python, no per-client buffer);
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
* EPOLLRDHUP/EPOLLERR/EOF end a client the moment it hangs up, even when no
  frame flows (failure mode F9): no write is needed to notice;
* after ``heartbeat_interval`` without a new part, idle clients get the hub's
  heartbeat (the newest part again, or a "no signal" card).

Cost per delivered frame: one ``send()`` and a few attribute updates in the
loop; per new frame: one eventfd write and one wake-up, whatever the number
of clients. The loop never blocks on a client and contains every client's
errors: a broken client ends only itself.
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

from ..hub import CaptureHub, HubClosed, Subscription
from ..wire.multipart import Layout

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
#: starts is not queued behind old bytes. Measured with 5 of 100 clients reading
#: at 10 % of a 720p stream (medians of 3 runs, frame age beyond transfer time,
#: in frame intervals): 16 KiB for everyone, p50 3.0 / max 4.7; 4 KiB once
#: lagging, 2.3 / 3.6; with STALE_AFTER_INTERVALS too, 2.3 / 3.2; 1 KiB, 1.9 /
#: 2.7, fast clients unchanged. Fast clients keep UNSENT_LIMIT: a small limit
#: costs a wake-up per KiB whenever the network, not the client, is the limit.
LAGGING_UNSENT_LIMIT = 1024
#: A lagging client skips a newest frame older than this many frame intervals.
STALE_AFTER_INTERVALS = 0.5
# Linux's TCP_NOTSENT_LOWAT; the socket module does not always export it.
_TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25)
_DISCONNECTED = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ETIMEDOUT})


class FanOutClient:
    """One stream socket owned by the fan-out loop."""

    __slots__ = (
        "_buffer",
        "_lagged",
        "_lagging",
        "_offset",
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
        # What is being written and how far: the head first, then parts.
        self._buffer: memoryview | None = memoryview(head)
        self._offset = 0
        self._lagging = False
        self._lagged = False  # ever: its socket then has LAGGING_UNSENT_LIMIT

    @property
    def lagging(self) -> bool:
        """True while the client's socket is full and it is skipping frames."""
        return self._lagging


@dataclass
class _HubClients:
    clients: set[FanOutClient] = field(default_factory=set)
    #: Version of the last part handed out, and when (monotonic): heartbeats are
    #: due ``heartbeat_interval`` after the last activity.
    version: int = 0
    active_at: float = 0.0


class FanOut:
    """The loop and its clients. Thread-safe: :meth:`add` and :meth:`close` may be
    called from any thread; everything else runs on the loop's own thread."""

    def __init__(self, *, heartbeat_interval: float = 1.0) -> None:
        self.heartbeat_interval = heartbeat_interval
        self._lock = threading.Lock()
        self._incoming: list[FanOutClient] = []
        self._hubs: dict[CaptureHub, _HubClients] = {}
        self._by_fd: dict[int, FanOutClient] = {}
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll = select.epoll()
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._thread: threading.Thread | None = None
        self._closed = False

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
        client leaves or the hub closes. The caller must not touch ``sock`` again
        until ``client.finished`` is set."""
        client = FanOutClient(
            sock,
            hub=hub,
            subscription=subscription,
            head=head,
            on_finish=on_finish,
            layout=layout,
        )
        with self._lock:
            if self._closed:
                client.reason = "server stopped"
                self._finish_unregistered(client)
                return client
            self._incoming.append(client)
            if hub not in self._hubs:
                self._hubs[hub] = _HubClients()
                hub.add_listener(self._wake)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fan-out", daemon=True)
                self._thread.start()
        self._wake(hub)
        return client

    def close(self, timeout: float = 2.0) -> None:
        """End every stream (their sockets are shut down) and stop the loop."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _wake(self, _hub: CaptureHub | None) -> None:
        # Under the lock: once the loop has closed the eventfd, its number may
        # belong to another file, which a late publish must not write to.
        with self._lock:
            if self._wake_fd >= 0:
                os.eventfd_write(self._wake_fd, 1)

    # -- the loop's thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._closed:
                for fd, events in self._epoll.poll(self._poll_timeout()):
                    if fd == self._wake_fd:
                        self._drain_wake_fd()
                    else:
                        client = self._by_fd.get(fd)
                        if client is not None:
                            self._on_socket_event(client, events)
                self._admit_new_clients()
                self._deliver()
        except Exception:
            log.exception("fan-out loop failed; ending its streams")
        finally:
            self._shut_down()

    def _poll_timeout(self) -> float:
        if not self._hubs:
            return -1
        soonest = min(entry.active_at for entry in self._hubs.values())
        return max(0.0, soonest + self.heartbeat_interval - time.monotonic())

    def _drain_wake_fd(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._wake_fd)

    def _admit_new_clients(self) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for client in incoming:
            try:
                client.sock.setblocking(False)
                client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                client.sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, UNSENT_LIMIT)
                fd = client.sock.fileno()
                self._epoll.register(fd, _IN)
            except OSError:
                client.reason = "client left"
                self._finish_unregistered(client)
                continue
            self._by_fd[fd] = client
            self._hubs[client.hub].clients.add(client)
            self._write(client)  # the head, then the newest part if there is one

    def _deliver(self) -> None:
        """Give idle clients the newest part of their hub, or a heartbeat when due."""
        now = time.monotonic()
        for hub, entry in list(self._hubs.items()):
            if hub.closed:
                for client in list(entry.clients):
                    self._end(client, "server stopped")
                continue
            latest = hub.latest()
            if latest is not None and latest.version != entry.version:
                entry.version = latest.version
                entry.active_at = now
                for client in list(entry.clients):
                    if client._buffer is None:
                        self._write(client)
            elif now - entry.active_at >= self.heartbeat_interval:
                entry.active_at = now
                for client in list(entry.clients):
                    beat = hub.heartbeat(client.layout)
                    if beat is not None and client._buffer is None:
                        client._buffer = memoryview(beat)
                        client._offset = 0
                        self._write(client)

    def _on_socket_event(self, client: FanOutClient, events: int) -> None:
        if events & _GONE:
            self._end(client, "client left")
            return
        if events & select.EPOLLIN and not self._discard_input(client):
            return
        if events & select.EPOLLOUT:
            self._write(client)

    def _discard_input(self, client: FanOutClient) -> bool:
        """Read and drop what the client sends; False if it hung up."""
        try:
            if client.sock.recv(4096):
                return True
        except BlockingIOError:
            return True
        except OSError:
            pass
        self._end(client, "client left")
        return False

    def _write(self, client: FanOutClient) -> None:
        """Write as much as the socket takes: the unfinished buffer, then newer parts."""
        sock = client.sock
        while True:
            buffer = client._buffer
            if buffer is None:
                if client._lagged and self._newest_is_stale(client.hub):
                    return  # a fresher frame is due soon: start that one
                try:
                    part = client.subscription.poll()
                except HubClosed:
                    self._end(client, "server stopped")
                    return
                if part is None:
                    return  # idle until the next part
                buffer = client._buffer = memoryview(part.wire(client.layout))
                client._offset = 0
            try:
                sent = sock.send(buffer[client._offset :] if client._offset else buffer)
            except BlockingIOError:
                self._start_lagging(client)
                return
            except OSError as error:
                self._end(client, "client left" if error.errno in _DISCONNECTED else str(error))
                return
            client._offset += sent
            if client._offset < len(buffer):
                self._start_lagging(client)
                return
            client._buffer = None
            if client._lagging:
                client._lagging = False
                self._epoll.modify(sock.fileno(), _IN)

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
        try:
            if not client._lagged:
                client._lagged = True
                client.sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, LAGGING_UNSENT_LIMIT)
            self._epoll.modify(client.sock.fileno(), _OUT)
        except OSError:
            self._end(client, "client left")

    def _end(self, client: FanOutClient, reason: str) -> None:
        fd = client.sock.fileno()
        if self._by_fd.pop(fd, None) is None:
            return
        self._hubs[client.hub].clients.discard(client)
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)
        client.reason = reason
        self._finish_unregistered(client)

    @staticmethod
    def _finish_unregistered(client: FanOutClient) -> None:
        # Shut the connection down before waking the waiting WSGI thread: the
        # WSGI server's own writes must find a dead socket, never a live stream.
        with contextlib.suppress(OSError):
            client.sock.shutdown(socket.SHUT_RDWR)
        client.subscription.close()
        client.finished.set()
        try:
            client.on_finish(client)
        except Exception:
            log.exception("stream finish callback failed")

    def _shut_down(self) -> None:
        with self._lock:
            self._closed = True
            incoming, self._incoming = self._incoming, []
        for client in incoming:
            client.reason = "server stopped"
            self._finish_unregistered(client)
        for client in list(self._by_fd.values()):
            self._end(client, "server stopped")
        self._epoll.close()
        with self._lock:
            os.close(self._wake_fd)
            self._wake_fd = -1
