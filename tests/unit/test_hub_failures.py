"""How the hub meets a failing camera: the reopen backoff grows for a camera
that cannot work and starts over after a session that worked; the status says
what went wrong, causes included.

The camera runs on the test's clock (each frame moves it on by a fixed step), so
"how long a session delivered frames" is exact and no test waits for it; the
waits the hub chose are read from its log records, not timed.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from mjpeg_server.cameras import Camera, CameraFailed, CameraNotFound, Frame
from mjpeg_server.hub import CaptureHub, HubSettings
from mjpeg_server.hub.status import describe_failure
from mjpeg_server.wire.multipart import PartEncoder
from support.fixtures import FRAMES
from support.waiting import LIVENESS, ManualClock, wait_until

# Small real waits (the hub sleeps them), distinct at every doubling.
SETTINGS = HubSettings(
    idle_timeout=None, stall_timeout=60.0, backoff_initial=0.01, backoff_max=0.08
)
STEP = 0.25  # test-clock seconds per frame: a binary fraction, so spans add up exactly


class FlakyCamera(Camera):
    """Delivers ``frames_per_session`` frames, ``STEP`` apart on ``clock``, then fails."""

    def __init__(self, clock: ManualClock, frames_per_session: int) -> None:
        self.fps = 1 / STEP
        self.clock = clock
        self.frames_per_session = frames_per_session
        self.opens = 0
        self._delivered = 0
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"flaky (fails after {self.frames_per_session} frames)"

    def open(self) -> None:
        with self._lock:
            self.opens += 1
        self._delivered = 0

    def read(self, timeout: float) -> Frame | None:
        if self._delivered == self.frames_per_session:
            raise CameraFailed("unplugged")
        if self._delivered:
            self.clock.now += STEP
        self._delivered += 1
        return Frame(FRAMES[0], time.time(), self._delivered)

    def close(self) -> None:
        pass


def waits_chosen(frames_per_session: int, caplog: pytest.LogCaptureFixture) -> list[float]:
    """The backoff the hub chose after each of the first six failures."""
    clock = ManualClock()
    camera = FlakyCamera(clock, frames_per_session)
    caplog.set_level(logging.WARNING, logger="mjpeg_server.hub")
    hub = CaptureHub(camera, PartEncoder("b"), settings=SETTINGS, clock=clock)
    with hub, hub.subscribe():
        wait_until(lambda: camera.opens >= 7, LIVENESS, message="the camera was not reopened")
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    waits = [float(r.args[-1]) for r in retries if isinstance(r.args, tuple)]
    assert len(waits) >= 6
    return waits[:6]


def test_a_camera_that_worked_for_a_while_is_reopened_after_the_first_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Frames spanning 1 s (5 frames, 4 steps of 0.25 s) prove the camera works:
    each failure is a new incident and waits ``backoff_initial``, not twice the last."""
    assert waits_chosen(5, caplog) == [0.01] * 6


@pytest.mark.parametrize("frames", [0, 1, 4])
def test_a_camera_that_never_works_for_long_backs_off_to_the_cap(
    frames: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Opening and dying at once, or after frames spanning less than a second
    (4 frames: 0.75 s), doubles the wait every time, up to ``backoff_max``."""
    assert waits_chosen(frames, caplog) == [0.01, 0.02, 0.04, 0.08, 0.08, 0.08]


class BrokenCamera(Camera):
    """Fails to open, with a message that says what to do and a cause that says why."""

    fps = 30.0
    description = "broken"

    def open(self) -> None:
        try:
            raise RuntimeError("Device or resource busy")
        except RuntimeError as error:
            raise CameraNotFound("camera 0: list the cameras with `cam --list`") from error

    def read(self, timeout: float) -> Frame | None:
        raise AssertionError("never opened")

    def close(self) -> None:
        pass


def test_the_status_keeps_the_cause_a_backend_raised_from() -> None:
    with CaptureHub(BrokenCamera(), PartEncoder("b"), settings=SETTINGS) as hub, hub.subscribe():
        wait_until(lambda: hub.status().failures >= 2, LIVENESS)
        status = hub.status()
    assert status.last_error == (
        "CameraNotFound: camera 0: list the cameras with `cam --list`; "
        "caused by RuntimeError: Device or resource busy"
    )
    assert status.root_cause == status.last_error  # every failure continues the first


def raised(
    error: BaseException, cause: BaseException | None, *, suppress: bool = False
) -> BaseException:
    """``error`` as ``raise error from cause`` (or ``from None``) leaves it."""
    try:
        try:
            raise cause or error
        except BaseException:
            if suppress:
                raise error from None
            raise error from cause
    except BaseException as raised_error:  # the point: keep it
        return raised_error


def test_describe_failure_leaves_out_causes_already_quoted() -> None:
    refused = OSError("Connection refused")
    quoted = raised(CameraNotFound(f"upstream unreachable: {refused}"), refused)
    assert describe_failure(quoted) == "CameraNotFound: upstream unreachable: Connection refused"
    hidden = raised(CameraFailed("read failed"), OSError("gone"), suppress=True)
    assert describe_failure(hidden) == "CameraFailed: read failed"
