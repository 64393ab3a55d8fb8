"""The capture hub itself: the capture thread's loop, opening, failing, reopening
and reconfiguring the camera, and publishing each frame once (see the package
docstring for the goals it meets)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from ..cameras import Camera, CameraError, Frame
from ..wire.frame_headers import encode_frame_headers
from ..wire.jpeg import is_complete_jpeg, jpeg_size
from ..wire.multipart import Layout, PartEncoder
from .pacing import RateCap, SameFrameFilter
from .settings import HubSettings
from .status import HubState, HubStatus, describe_failure, measured_fps
from .subscription import HubClosed, Part, Subscription

__all__ = ["CameraStalled", "CaptureHub", "Reconfiguration"]

log = logging.getLogger(__name__)

# The capture thread wakes at least this often to check for idle and close,
# even when the camera delivers nothing.
_POLL_INTERVAL = 0.25
# Frames kept for the measured frame rate.
_FPS_WINDOW = 30


class CameraStalled(CameraError):
    """The camera is open but delivered no frame for ``stall_timeout`` seconds."""


@dataclass
class Reconfiguration:
    """A request to run the hub's camera with new settings, and what became of it."""

    camera: Camera
    #: Set once the change took effect, was refused, or the hub closed.
    done: threading.Event = field(default_factory=threading.Event)
    #: True: the camera was closed and reopened (a gap in the stream); False: applied live
    #: or while the camera was closed.
    reopened: bool = False
    #: Why the new settings could not be used (the old camera runs on).
    error: BaseException | None = None
    previous: Camera | None = field(default=None, repr=False)


@dataclass
class _Session:
    """How one capture session went: from open to close or failure."""

    error: BaseException | None = None
    #: Frames published, and when the first and the last were.
    frames: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    #: Frames that were not JPEGs, and how the last one started.
    rejected: int = 0
    rejected_start: bytes = b""

    def delivered(self, now: float) -> None:
        if not self.frames:
            self.first_at = now
        self.frames += 1
        self.last_at = now

    @property
    def delivered_for(self) -> float:
        """Seconds the session's frames spanned, first to last."""
        return self.last_at - self.first_at

    def rejected_note(self) -> str:
        """Why a stalled session had no frame, when the camera did send something."""
        if not self.rejected:
            return ""
        return (
            f" ({self.rejected} frames were not JPEGs and were not served; "
            f"the last started {self.rejected_start!r})"
        )


class CaptureHub:
    """Shares one camera among any number of subscribers. See the module docstring."""

    def __init__(
        self,
        camera: Camera,
        encoder: PartEncoder,
        *,
        name: str = "default",
        settings: HubSettings | None = None,
        placeholder: bytes | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera = camera
        self.encoder = encoder
        self.name = name
        self.settings = settings or HubSettings()
        # A JPEG (a "no signal" card) sent as heartbeat while the camera is
        # failing and there is no frame to repeat; framed once for each layout.
        self._placeholder = (
            None
            if placeholder is None
            else {
                Layout.STANDARD: encoder.encode(placeholder),
                Layout.ADVANCE_HEADERS: encoder.encode_advance(placeholder),
            }
        )
        self.clock = clock
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._subscribers: set[Subscription] = set()
        self._clients = 0  # counted subscribers
        self._listeners: list[Callable[[CaptureHub], None]] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._state = HubState.IDLE
        self._latest: Part | None = None
        self._version = 0
        self._last_seq = -1
        self._idle_since = clock()
        self._frame_times: deque[float] = deque(maxlen=_FPS_WINDOW)
        self._resolution: tuple[int, int] | None = None
        # Totals of subscriptions that have left.
        self._retired_sent = 0
        self._retired_skipped = 0
        self._frames_captured = 0
        # --drop-same-frames: 1 would drop nothing, so only 2 and up make a filter.
        drop_same = self.settings.drop_same_frames
        self._same_frames = SameFrameFilter(drop_same) if drop_same > 1 else None
        self._frames_rejected = 0
        self._opens = 0
        self._closes = 0
        self._failures = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._root_cause: str | None = None
        # Whether the camera has failed with no frame since (capture thread only):
        # the next failure then continues that run instead of starting one.
        self._failing = False
        # A change asked for, not yet picked up by the capture thread; then the one
        # being opened (its first open decides whether it stays).
        self._pending: Reconfiguration | None = None
        self._reopening: Reconfiguration | None = None
        self._last_published_at: float | None = None

    # -- subscribers -------------------------------------------------------

    def subscribe(
        self, *, counted: bool = True, max_fps: float | None = None, newest: bool = True
    ) -> Subscription:
        """Start receiving parts; starts the camera if it is idle.

        The newest part, if any, is available at once to the new subscriber;
        with ``newest=False`` only parts published after this call are.
        ``max_fps`` caps its rate, skipping parts evenly (pacing.RateCap).
        """
        with self._lock:
            if self._closed:
                raise HubClosed(self.name)
            latest = self._latest
            subscription = Subscription(
                self,
                latest.version - 1 if latest and newest else self._version,
                counted=counted,
                rate=None if max_fps is None else RateCap(max_fps, self.camera.fps),
            )
            self._subscribers.add(subscription)
            self._clients += counted
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"capture-{self.name}", daemon=True
                )
                self._thread.start()
            return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)
            self._clients -= subscription.counted
            self._retired_sent += subscription.frames_sent
            self._retired_skipped += subscription.frames_skipped
            if not self._subscribers:
                self._idle_since = self.clock()

    def add_listener(self, listener: Callable[[CaptureHub], None]) -> None:
        """Call ``listener(hub)`` after every new part and when the hub closes.

        It runs on the capture thread (or the closing thread), so it must be
        quick and must not block: the socket fan-out uses it to wake its loop.
        """
        with self._lock:
            self._listeners.append(listener)

    def _notify_listeners(self) -> None:
        for listener in self._listeners:
            listener(self)

    def latest(self) -> Part | None:
        """The newest part, or ``None`` while the camera is idle or has not delivered yet."""
        return self._latest

    def heartbeat(self, layout: Layout = Layout.STANDARD) -> bytes | None:
        """What to re-send when a client has had no new part for a while.

        The newest part if there is one, so that browsers repaint and a write
        reveals a client that has gone; the placeholder while the camera is
        failing with nothing to repeat; otherwise nothing (the camera is still
        starting).
        """
        part = self._latest
        if part is not None:
            return part.wire(layout)
        if self._state is HubState.ERROR and self._placeholder is not None:
            return self._placeholder[layout]
        return None

    def snapshot(self, timeout: float) -> Part | None:
        """A fresh frame: the newest one while streaming, else the next one within
        ``timeout`` seconds (starting an idle camera). ``None`` if none came."""
        part = self._latest
        if part is not None and self._state is HubState.STREAMING:
            return part
        # Not streaming: a part kept from before a failure (for the heartbeat) is
        # not fresh, so wait for the next one.
        with self.subscribe(counted=False, newest=False) as subscription:
            return subscription.next_part(timeout)

    # -- capture thread ----------------------------------------------------

    def _should_stop_locked(self) -> bool:
        if self._closed:
            return True
        if self._subscribers or self.settings.idle_timeout is None:
            return False
        return self.clock() - self._idle_since >= self.settings.idle_timeout

    def _run(self) -> None:
        backoff = self.settings.backoff_initial
        while True:
            with self._lock:
                # The camera is closed here: a pending change is simply a swap.
                self._swap_camera_locked()
                if self._should_stop_locked():
                    # Decided under the lock that subscribe() takes: a subscriber
                    # either sees this thread still registered (and is served by
                    # the next turn of this loop) or sees None and starts a new one.
                    self._thread = None
                    self._latest = None
                    # Nobody watched the pause: the next session's numbering just continues.
                    self._last_published_at = None
                    self._frame_times.clear()
                    self._state = HubState.CLOSED if self._closed else HubState.IDLE
                    self._finish_reopening_locked(None)
                    self._cond.notify_all()
                    return
                if self._state is not HubState.ERROR:
                    self._state = HubState.STARTING
            session = self._capture_session()
            error = session.error
            if error is None or session.delivered_for >= self.settings.healthy_after:
                backoff = self.settings.backoff_initial
            if error is None or session.frames:
                self._failing = False  # the camera worked: a failure now is a new run
            if error is None:
                continue
            with self._lock:
                self._failures += 1
                self._last_error = describe_failure(error)
                self._last_error_at = time.time()
                if not self._failing:
                    self._root_cause = self._last_error
                self._failing = True
                self._state = HubState.ERROR
                self._cond.notify_all()
                log.warning(
                    "camera %r failed: %s; retrying in %.1f s", self.name, self._last_error, backoff
                )
                # Woken early by close(); subscribers leaving are seen next turn.
                self._cond.wait(backoff)
            backoff = min(backoff * 2, self.settings.backoff_max)

    def _capture_session(self) -> _Session:
        """Open the camera and publish its frames until told to stop or to reopen with
        new settings (error None) or it fails (the error)."""
        session = _Session()
        try:
            self.camera.open()
        except Exception as error:  # any backend failure must not kill the thread
            with self._lock:
                if self._reopening is not None:
                    # The new settings do not open: back to the ones that did.
                    self._roll_back_locked(error)
                    return session
            session.error = error
            return session
        with self._lock:
            self._opens += 1
            self._finish_reopening_locked(None)
        log.info("camera %r opened: %s", self.name, self.camera.description)
        seq_offset: int | None = None
        last_frame_at = self.clock()
        try:
            while True:
                with self._lock:
                    if self._should_stop_locked():
                        # Told to stop: a viewer arriving during the release gets the
                        # numbering continued, as after any idle pause (no gap).
                        self._last_published_at = None
                        return session
                    request, self._pending = self._pending, None
                if request is not None and not self._apply_live(request):
                    return session  # closed by the finally below; _run opens the new camera
                frame = self.camera.read(min(_POLL_INTERVAL, self.settings.stall_timeout))
                now = self.clock()
                if frame is not None and not is_complete_jpeg(frame.jpeg):
                    self._reject(frame, session)
                    frame = None  # not a frame: it does not keep the camera alive
                if frame is None:
                    silent = now - last_frame_at
                    if silent >= self.settings.stall_timeout:
                        session.error = CameraStalled(
                            f"no frame for {silent:.1f} s{session.rejected_note()}"
                        )
                        return session
                    continue
                last_frame_at = now
                session.delivered(now)
                if seq_offset is None:
                    # Continue the stream's numbering across reopens, with a gap for
                    # the frames missed meanwhile, as for frames the camera dropped.
                    seq_offset = self._last_seq + 1 + self._missed_frames(now) - frame.seq
                self._publish(frame, frame.seq + seq_offset, now)
        except Exception as error:
            session.error = error
            return session
        finally:
            self._close_camera()

    def _reject(self, frame: Frame, session: _Session) -> None:
        """Count a frame that is not a JPEG; say so once per session."""
        with self._lock:
            self._frames_rejected += 1
        if not session.rejected:
            log.warning(
                "camera %r delivered a frame that is not a JPEG (%d bytes, starting %r); "
                "frames like it are counted in /status and not served",
                self.name,
                len(frame.jpeg),
                frame.jpeg[:16],
            )
        session.rejected += 1
        session.rejected_start = frame.jpeg[:16]

    def _missed_frames(self, now: float) -> int:
        """Sequence numbers to skip when a session starts: none after an idle pause
        (nobody watched), else the frames the camera would have delivered while it
        was away, and at least one, so that a reopen always shows in ``X-Frame-Seq``."""
        last = self._last_published_at
        if last is None:
            return 0
        return max(1, round((now - last) * self.camera.fps) - 1)

    # -- reconfiguration (capture thread side) -------------------------------

    def _apply_live(self, request: Reconfiguration) -> bool:
        """Try ``request`` on the open camera; False if it needs a reopen (queued for _run)."""
        try:
            live = self.camera.adopt(request.camera)
        except Exception as error:  # a backend refusing a value it accepted in its spec
            with self._lock:
                request.error = error
                request.done.set()
            return True
        with self._lock:
            if live:
                log.info("camera %r: settings changed live", self.name)
                request.done.set()
                return True
            if self._pending is None:
                self._pending = request  # swapped in by _run once the camera is closed
            else:
                request.done.set()  # a newer change came meanwhile: that one is applied
            return False

    def _swap_camera_locked(self) -> None:
        request, self._pending = self._pending, None
        if request is None:
            return
        request.previous = self.camera
        self.camera = request.camera
        if self._thread is None or self._should_stop_locked():
            request.done.set()  # nothing to open now: the next viewer opens it
        else:
            request.reopened = True
            self._reopening = request
            log.info("camera %r: reopening with new settings", self.name)

    def _finish_reopening_locked(self, error: BaseException | None) -> None:
        request, self._reopening = self._reopening, None
        if request is not None:
            request.error = error
            request.done.set()

    def _roll_back_locked(self, error: BaseException) -> None:
        request = self._reopening
        assert request is not None
        assert request.previous is not None
        log.warning(
            "camera %r: the new settings failed to open (%s); back to the previous ones",
            self.name,
            error,
        )
        self.camera = request.previous
        self._finish_reopening_locked(error)

    def _close_camera(self) -> None:
        try:
            self.camera.close()
        except CameraError as error:
            # The backend says what went wrong and what recovers it (a camera that
            # would not stop stays held): /status shows it, even with no viewer left.
            log.error("camera %r did not close cleanly: %s", self.name, error)
            with self._lock:
                self._last_error = describe_failure(error)
                self._last_error_at = time.time()
        except Exception:
            log.exception("camera %r failed to close cleanly", self.name)
        with self._lock:
            self._closes += 1
        log.info("camera %r closed", self.name)

    def _publish(self, frame: Frame, seq: int, now: float) -> None:
        if self._same_frames is not None and not self._same_frames.passes(frame.jpeg):
            # Not published, but the camera is alive: it counts for the rate and
            # the stall check. Viewers get the heartbeat meanwhile.
            with self._lock:
                self._frames_captured += 1
                self._frame_times.append(now)
            return
        data = self.encoder.encode(frame.jpeg, encode_frame_headers(frame.timestamp, seq))
        with self._lock:
            self._version += 1
            self._latest = Part(
                frame=frame,
                data=data,
                seq=seq,
                version=self._version,
                encoder=self.encoder,
                published_at=now,
            )
            self._last_seq = seq
            self._last_published_at = now
            self._frames_captured += 1
            self._frame_times.append(now)
            self._state = HubState.STREAMING
            self._cond.notify_all()
        self._notify_listeners()

    # -- reconfiguration -----------------------------------------------------

    def reconfigure(self, camera: Camera, timeout: float | None = None) -> Reconfiguration:
        """Run with ``camera`` (the same camera built from changed settings) from now on.

        Subscribers stay subscribed. While the camera is open, the capture thread
        first offers the change to it (:meth:`Camera.adopt`: applied between two
        frames); otherwise it closes the camera and opens ``camera``, and if that
        fails the previous settings are reopened and the error is reported. While
        it is closed, ``camera`` simply replaces it. Waits up to ``timeout`` for
        the outcome (``done`` is not set if it took longer; it still happens).
        A newer request replaces one not yet picked up.
        """
        request = Reconfiguration(camera)
        with self._lock:
            if self._closed:
                raise HubClosed(self.name)
            replaced, self._pending = self._pending, request
            if replaced is not None:
                replaced.done.set()
            if self._thread is None:
                self._swap_camera_locked()  # idle: nobody holds the camera
            self._cond.notify_all()  # wakes a capture thread waiting out a backoff
        request.done.wait(timeout)
        return request

    # -- status and shutdown -----------------------------------------------

    def _measured_fps_locked(self) -> float:
        return measured_fps(self._frame_times, self.clock())

    def status(self) -> HubStatus:
        latest = self._latest
        # Read from the newest frame when asked, not on every frame: the size
        # rarely changes, and parsing it per frame cost the capture thread.
        size = jpeg_size(latest.frame.jpeg) if latest is not None else None
        with self._lock:
            self._resolution = size or self._resolution
            subscribers = list(self._subscribers)
            return HubStatus(
                name=self.name,
                camera=self.camera.description,
                state=self._state,
                fps_configured=self.camera.fps,
                fps_measured=self._measured_fps_locked(),
                resolution=self._resolution,
                clients=self._clients,
                frames_captured=self._frames_captured,
                frames_sent=self._retired_sent + sum(s.frames_sent for s in subscribers),
                frames_skipped=self._retired_skipped + sum(s.frames_skipped for s in subscribers),
                frames_unchanged=self._same_frames.dropped if self._same_frames else 0,
                frames_rejected=self._frames_rejected,
                opens=self._opens,
                closes=self._closes,
                failures=self._failures,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                root_cause=self._root_cause,
                fps_actual=self.camera.fps_actual,
            )

    @property
    def state(self) -> HubState:
        return self._state

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called: no part will come any more."""
        return self._closed

    @property
    def clients(self) -> int:
        """Subscribers that count as viewers (streams, not snapshots)."""
        return self._clients

    def close(self, timeout: float = 2.0) -> None:
        """End every subscription and stop the camera; waits up to ``timeout`` for the
        capture thread to release it. Idempotent."""
        with self._lock:
            self._closed = True
            thread = self._thread
            for request in (self._pending, self._reopening):
                if request is not None:
                    request.done.set()
            self._cond.notify_all()
        self._notify_listeners()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._lock:
            if self._thread is None:
                self._state = HubState.CLOSED

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
