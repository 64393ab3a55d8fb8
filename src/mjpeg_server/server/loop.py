"""The event loop: one thread, one epoll, every socket of the server.

The front door (accepting connections, reading request heads, writing short
responses) and the fan-out (writing every stream) are two users of this one
loop, so a viewer, a half-sent request or a client that never closes costs a
file descriptor and a small object, never a thread.

What it offers, and who may call what:

* from any thread: :meth:`EventLoop.call_soon` queues a callable for the loop
  thread and wakes it (an eventfd written only when the queue was empty, so a
  burst of calls costs one wake-up); :meth:`EventLoop.stop` runs the stop hooks
  on the loop thread and waits for it;
* on the loop thread only: :meth:`~EventLoop.register`, :meth:`~EventLoop.modify`
  and :meth:`~EventLoop.unregister` a file descriptor with its handler (level
  triggered), :meth:`~EventLoop.call_later` a timer, and :attr:`~EventLoop.now`,
  the monotonic time read once per wake-up (deadlines compare against it, so a
  busy wake-up does not read the clock per socket).

A handler that raises ends only what it was handling: the loop logs the error
and goes on. Worst case per wake-up: one ``epoll_wait``, the handlers of the
ready descriptors, the queued calls and the due timers; nothing is scanned per
idle connection (components that keep deadlines sweep their own sets on a timer).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import select
import threading
import time
from collections.abc import Callable

__all__ = ["EventLoop", "Timer", "retry_errors"]

log = logging.getLogger(__name__)


def retry_errors(*, tls: bool) -> tuple[type[BaseException], ...]:
    """What a non-blocking ``send``/``recv`` raises when it must wait for epoll.

    Through TLS that includes the SSL object's "want read/write" errors, which are
    no ``BlockingIOError``; ``ssl`` is imported only then (it costs memory).
    """
    errors: tuple[type[BaseException], ...] = (BlockingIOError, InterruptedError)
    if tls:
        import ssl  # noqa: PLC0415 - only with TLS

        errors += (ssl.SSLWantReadError, ssl.SSLWantWriteError)
    return errors


class Timer:
    """A call due at :attr:`when` on the loop thread; :meth:`cancel` drops it."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class EventLoop:
    """One thread that waits on epoll and runs handlers, queued calls and timers."""

    def __init__(self, name: str = "event-loop") -> None:
        self.name = name
        self._epoll = select.epoll()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._handlers: dict[int, Callable[[int], None]] = {}
        self._lock = threading.Lock()
        self._calls: list[Callable[[], None]] = []
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._stop_hooks: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._closed = False
        #: Monotonic time of the current wake-up (loop thread).
        self.now = time.monotonic()

    # -- any thread ------------------------------------------------------------

    def start(self) -> None:
        """Start the loop thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def call_soon(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` on the loop thread soon. False (and not run) once stopping."""
        with self._lock:
            if self._stopping:
                return False
            self._calls.append(callback)
            if len(self._calls) == 1:
                os.eventfd_write(self._wake_fd, 1)
        return True

    def add_stop_hook(self, hook: Callable[[], None]) -> None:
        """``hook()`` runs on the loop thread when the loop stops (in the order added)."""
        with self._lock:
            self._stop_hooks.append(hook)

    def stop(self, timeout: float = 2.0) -> None:
        """Run the stop hooks on the loop thread, then end it; waits up to ``timeout``."""
        with self._lock:
            self._stopping = True
            thread = self._thread
            if not self._closed:
                os.eventfd_write(self._wake_fd, 1)
        if thread is None:
            self._shut_down()
        elif thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def in_loop_thread(self) -> bool:
        return self._thread is threading.current_thread()

    # -- the loop thread -----------------------------------------------------------

    def register(self, fd: int, events: int, handler: Callable[[int], None]) -> None:
        """Call ``handler(events)`` whenever ``fd`` is ready for ``events``."""
        self._epoll.register(fd, events)
        self._handlers[fd] = handler

    def modify(self, fd: int, events: int) -> None:
        self._epoll.modify(fd, events)

    def unregister(self, fd: int) -> None:
        """Forget ``fd`` (before closing it). Unknown descriptors are ignored."""
        if self._handlers.pop(fd, None) is not None:
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(fd)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(time.monotonic() + delay, callback)

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(when, callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def _run(self) -> None:
        # The hot path of every frame and request: locals, no per-wake-up objects.
        epoll, handlers, wake_fd = self._epoll, self._handlers, self._wake_fd
        monotonic, read_wake_fd = time.monotonic, os.eventfd_read
        try:
            while not self._stopping:
                ready = epoll.poll(self._poll_timeout())
                self.now = monotonic()
                for fd, events in ready:
                    if fd == wake_fd:
                        try:  # noqa: SIM105 - suppress() would cost an object per wake-up
                            read_wake_fd(wake_fd)
                        except BlockingIOError:
                            pass
                        continue
                    handler = handlers.get(fd)
                    if handler is not None:
                        try:
                            handler(events)
                        except Exception:
                            log.exception("event loop handler failed")
                if self._calls:
                    self._run_calls()
                if self._timers:
                    self._run_timers()
        except Exception:
            log.exception("event loop failed")
        finally:
            self._shut_down()

    def _poll_timeout(self) -> float:
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heapq.heappop(timers)
        if not timers:
            return -1
        return max(0.0, timers[0][0] - time.monotonic())

    def _run_calls(self) -> None:
        with self._lock:
            calls, self._calls = self._calls, []
        for call in calls:
            try:
                call()
            except Exception:
                log.exception("event loop call failed")

    def _run_timers(self) -> None:
        timers = self._timers
        while timers and (timers[0][0] <= self.now or timers[0][2].cancelled):
            timer = heapq.heappop(timers)[2]
            if not timer.cancelled:
                timer.cancelled = True  # ran: a late cancel() is harmless
                self._guarded(timer.callback)

    @staticmethod
    def _guarded(function: Callable[..., None], *args: int) -> None:
        try:
            function(*args)
        except Exception:
            log.exception("event loop callback failed")

    def _shut_down(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._stopping = True
            hooks, self._stop_hooks = self._stop_hooks, []
        self.now = time.monotonic()
        # Calls queued before stop() still run: they may hand over sockets that
        # the stop hooks must then close.
        self._run_calls()
        for hook in hooks:
            self._guarded(hook)
        self._handlers.clear()
        self._epoll.close()
        with self._lock:
            self._closed = True
            os.close(self._wake_fd)
            self._wake_fd = -1
