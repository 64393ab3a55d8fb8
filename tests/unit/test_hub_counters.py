"""The hub's bookkeeping, exactly: opens and closes, rejected and skipped frames,
the numbering across reopens, the measured rate, the first error of a run, and
how close() and reconfigure() bound their waits.

The camera here delivers only what the test hands it, each frame at a time the
test chose on the hub's clock (the camera moves the clock as it delivers), so
every count and every number is known in advance and nothing is timed.
"""

from __future__ import annotations

import logging
import queue
import threading

import pytest

from mjpeg_server.cameras import Camera, CameraFailed, CameraNotFound, Frame
from mjpeg_server.hub import CaptureHub, HubSettings, HubState, Part, Subscription
from mjpeg_server.wire.multipart import PartEncoder
from support.fixtures import FRAMES
from support.waiting import LIVENESS, ManualClock, wait_until

# No idle close and no stall unless a test moves the clock that far; short real
# backoffs, so a failed camera is soon reopened.
SETTINGS = HubSettings(
    idle_timeout=None, stall_timeout=60.0, backoff_initial=0.01, backoff_max=0.01
)


class FedCamera(Camera):
    """Delivers what the test feeds it: a frame at a clock time, or an error to raise.

    ``read`` sets the clock to the frame's time before handing it over, so the hub
    sees each frame exactly when the test said.
    """

    fps = 4.0

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.fed: queue.Queue[tuple[float, Frame] | BaseException] = queue.Queue()
        self.opens = self.closes = self.reads = 0
        self.fail_open: list[BaseException] = []  # raised by the next opens, in turn
        self.fail_close: BaseException | None = None
        self.hold_close: threading.Event | None = None
        self.hold_read: threading.Event | None = None
        self.read_held = threading.Event()
        self.refuse_adopt: BaseException | None = None

    @property
    def description(self) -> str:
        return "fed"

    def feed(self, at: float, jpeg: bytes = FRAMES[0], seq: int = 0) -> None:
        # Captured at ``at`` too: the rate cap goes by capture times.
        self.fed.put((at, Frame(jpeg, at, seq)))

    def open(self) -> None:
        self.opens += 1
        if self.fail_open:
            raise self.fail_open.pop(0)

    def read(self, timeout: float) -> Frame | None:
        if self.hold_read is not None:
            self.read_held.set()
            self.hold_read.wait(LIVENESS)
        try:
            item = self.fed.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            self.reads += 1
        if isinstance(item, BaseException):
            raise item
        self.clock.now, frame = item
        return frame

    def close(self) -> None:
        self.closes += 1
        if self.hold_close is not None:
            self.hold_close.wait(LIVENESS)
        if self.fail_close is not None:
            raise self.fail_close

    def adopt(self, new: Camera) -> bool:
        if self.refuse_adopt is not None:
            raise self.refuse_adopt
        return True


def fed_hub(settings: HubSettings = SETTINGS) -> tuple[CaptureHub, FedCamera, ManualClock]:
    clock = ManualClock()
    camera = FedCamera(clock)
    return CaptureHub(camera, PartEncoder("b"), settings=settings, clock=clock), camera, clock


def captured(hub: CaptureHub, count: int) -> None:
    wait_until(lambda: hub.status().frames_captured == count, LIVENESS)


def taken(subscription: Subscription) -> Part:
    part = subscription.poll()
    assert part is not None
    return part


def test_numbering_starts_at_zero_whatever_the_camera_s_own() -> None:
    hub, camera, _ = fed_hub()
    with hub, hub.subscribe() as viewer:
        camera.feed(1000.0, seq=5)
        camera.feed(1000.25, seq=6)
        captured(hub, 2)
        part = taken(viewer)
    assert (part.seq, part.version) == (1, 2)
    assert part.published_at == 1000.25  # on the hub's clock, when it was published


@pytest.mark.parametrize(
    ("back_at", "seq"),
    [
        # Away 2 s at 4 fps: 8 frame times, the first of them the one now back.
        (1002.25, 1 + 1 + 7),
        # Back at once: still one number left out, so the reopen shows.
        (1000.25, 1 + 1 + 1),
    ],
)
def test_a_reopen_leaves_a_gap_in_the_numbering_for_the_frames_missed(
    back_at: float, seq: int
) -> None:
    hub, camera, _ = fed_hub()
    with hub, hub.subscribe() as viewer:
        camera.feed(1000.0, seq=0)
        camera.feed(1000.25, seq=1)
        captured(hub, 2)
        camera.fed.put(CameraFailed("unplugged"))
        wait_until(lambda: camera.opens == 2, LIVENESS)
        camera.feed(back_at, seq=0)
        captured(hub, 3)
        part = taken(viewer)
        status = hub.status()
    assert part.seq == seq
    assert (status.opens, status.closes, status.failures) == (2, 1, 1)


def test_opens_and_closes_are_counted_every_time() -> None:
    hub, camera, _ = fed_hub()
    with hub, hub.subscribe():
        for n in range(1, 4):
            camera.feed(1000.0 + n)
            captured(hub, n)
            camera.fed.put(CameraFailed("unplugged"))
            wait_until(lambda n=n: camera.opens == n + 1, LIVENESS)  # type: ignore[misc]
    wait_until(lambda: hub.state is HubState.CLOSED, LIVENESS)
    status = hub.status()
    assert (status.opens, status.closes, status.failures) == (4, 4, 3)
    assert (camera.opens, camera.closes) == (4, 4)


def test_the_rate_is_measured_over_the_last_thirty_frames() -> None:
    hub, camera, clock = fed_hub()
    with hub, hub.subscribe():
        at = 1000.0
        for _ in range(10):  # slow at first: one a second …
            camera.feed(at)
            at += 1.0
        for _ in range(30):  # … then four a second, the window's worth
            camera.feed(at)
            at += 0.25
        captured(hub, 40)
        assert clock.now == at - 0.25
        assert hub.status().fps_measured == 4.0


def test_frames_not_jpegs_are_counted_and_said_once_and_a_stall_names_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mjpeg_server.hub")
    hub, camera, _ = fed_hub(
        HubSettings(
            idle_timeout=None, stall_timeout=60.0, backoff_initial=LIVENESS, backoff_max=LIVENESS
        )
    )
    with hub, hub.subscribe():
        for n in range(1, 4):
            camera.feed(1000.0, jpeg=f"junk {n}".encode())
        wait_until(lambda: hub.status().frames_rejected == 3, LIVENESS)
        camera.feed(1060.0, jpeg=b"junk 4")  # a minute after the session began
        wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
        status = hub.status()
    assert status.frames_rejected == 4
    assert status.last_error == (
        "CameraStalled: no frame for 60.0 s (4 frames were not JPEGs and were not served; "
        "the last started b'junk 4')"
    )
    said = [r for r in caplog.records if "not a JPEG" in r.getMessage()]
    assert len(said) == 1


def test_a_stall_counts_from_the_last_frame() -> None:
    hub, camera, clock = fed_hub()
    with hub, hub.subscribe():
        camera.feed(1030.0)
        captured(hub, 1)
        clock.now = 1089.75  # 59.75 s after that frame: not yet
        reads = camera.reads
        wait_until(lambda: camera.reads >= reads + 2, LIVENESS)  # two empty reads seen
        assert hub.status().failures == 0
        clock.now = 1090.0
        wait_until(lambda: hub.status().failures == 1, LIVENESS)
        assert hub.status().last_error == "CameraStalled: no frame for 60.0 s"


def test_identical_frames_one_in_two() -> None:
    hub, camera, _ = fed_hub(HubSettings(idle_timeout=None, drop_same_frames=2))
    with hub, hub.subscribe():
        for n, jpeg in enumerate([FRAMES[0], FRAMES[0], FRAMES[0], FRAMES[1]]):
            camera.feed(1000.0 + n, jpeg=jpeg)
        captured(hub, 4)
        latest = hub.latest()
        status = hub.status()
    assert status.frames_unchanged == 1  # the second; the third is the one in two
    assert latest is not None
    assert latest.version == 3
    assert latest.frame.jpeg == FRAMES[1]


def test_skips_of_viewers_who_left_add_up_and_a_new_viewer_skips_nothing() -> None:
    hub, camera, _ = fed_hub()
    with hub:
        first = hub.subscribe()
        for n in range(3):
            camera.feed(1000.0 + n)
        captured(hub, 3)
        assert taken(first).version == 3
        second = hub.subscribe()  # gets the newest at once: nothing skipped
        assert taken(second).version == 3
        assert (second.frames_sent, second.frames_skipped) == (1, 0)
        first.close()
        for n in range(3, 6):
            camera.feed(1000.0 + n)
        captured(hub, 6)
        assert taken(second).version == 6
        second.close()
        status = hub.status()
    assert (status.frames_sent, status.frames_skipped) == (3, 2 + 2)


def test_a_rate_capped_viewer_s_skips_are_exact() -> None:
    hub, camera, _ = fed_hub()
    with hub, hub.subscribe(max_fps=1) as capped:
        camera.feed(1000.0)
        captured(hub, 1)
        assert taken(capped).version == 1
        for n in range(1, 4):  # a quarter of a second apart: under the cap, skipped
            camera.feed(1000.0 + n / 4)
            captured(hub, 1 + n)
            assert capped.poll() is None
        camera.feed(1001.0)
        captured(hub, 5)
        assert taken(capped).version == 5
    assert (capped.frames_sent, capped.frames_skipped) == (2, 3)


def test_the_idle_time_starts_when_the_last_viewer_leaves() -> None:
    hub, camera, clock = fed_hub(HubSettings(idle_timeout=10, stall_timeout=1e9))
    with hub:
        first, last = hub.subscribe(), hub.subscribe()
        camera.feed(1000.0)
        captured(hub, 1)
        first.close()  # at 1000: one viewer still there
        clock.now = 1008.0
        last.close()
        camera.feed(1015.0)  # 15 s after the first left, 7 s after the last
        captured(hub, 2)
        reads = camera.reads
        # The loop went round after that frame (an idle check before each read): still open.
        wait_until(lambda: camera.reads > reads, LIVENESS)
        assert camera.closes == 0
        clock.now = 1018.0
        wait_until(lambda: camera.closes == 1, LIVENESS)


def test_a_close_that_fails_is_reported_and_still_counted() -> None:
    hub, camera, _ = fed_hub()
    camera.fail_close = CameraFailed("still held: restart the service")
    with hub.subscribe():
        camera.feed(1000.0)
        captured(hub, 1)
    hub.close()
    wait_until(lambda: hub.state is HubState.CLOSED, LIVENESS)
    status = hub.status()
    assert status.last_error == "CameraFailed: still held: restart the service"
    assert isinstance(status.last_error_at, float)
    assert (status.closes, status.failures) == (1, 0)


def test_the_first_error_of_a_run_of_failed_opens_is_the_root_cause() -> None:
    hub, camera, _ = fed_hub()
    camera.fail_open = [CameraNotFound(f"busy {n}") for n in range(1, 4)]
    with hub, hub.subscribe():
        wait_until(lambda: hub.status().failures == 3, LIVENESS)
        status = hub.status()
    assert status.last_error == "CameraNotFound: busy 3"
    assert status.root_cause == "CameraNotFound: busy 1"
    assert isinstance(status.last_error_at, float)
    assert status.state is HubState.ERROR


def test_a_session_with_frames_ends_a_run_of_failures() -> None:
    hub, camera, _ = fed_hub()
    with hub, hub.subscribe():
        for n in range(1, 3):
            camera.feed(1000.0 + n)
            captured(hub, n)
            camera.fed.put(CameraFailed(f"unplugged {n}"))
            wait_until(lambda n=n: hub.status().failures == n, LIVENESS)  # type: ignore[misc]
        status = hub.status()
    assert status.root_cause == status.last_error == "CameraFailed: unplugged 2"


def test_the_status_gives_the_rate_the_camera_reports() -> None:
    hub, camera, _ = fed_hub()
    camera.fps_actual = 3.5
    with hub:
        assert hub.status().fps_actual == 3.5


def test_closing_a_hub_that_never_started_closes_it() -> None:
    hub, _, _ = fed_hub()
    hub.close()
    assert hub.state is HubState.CLOSED


def test_close_waits_only_so_long_for_the_camera_to_let_go() -> None:
    hub, camera, _ = fed_hub()
    camera.hold_close = threading.Event()
    viewer = hub.subscribe()
    camera.feed(1000.0)
    captured(hub, 1)
    hub.close(timeout=0.01)  # returns with the camera still closing
    assert hub.state is HubState.STREAMING
    wait_until(lambda: camera.closes == 1, LIVENESS)
    camera.hold_close.set()
    wait_until(lambda: hub.state is HubState.CLOSED, LIVENESS)
    viewer.close()


def test_closing_from_a_listener_on_the_capture_thread_still_ends_closed() -> None:
    hub, camera, _ = fed_hub()
    heard: list[int] = []

    def close_on_first_part(closing: CaptureHub) -> None:
        heard.append(1)
        if len(heard) == 1:
            closing.close()  # on the capture thread: it cannot wait for itself

    hub.add_listener(close_on_first_part)
    viewer = hub.subscribe()
    camera.feed(1000.0)
    wait_until(lambda: hub.state is HubState.CLOSED, LIVENESS)
    viewer.close()


def test_reconfigure_waits_only_so_long() -> None:
    hub, camera, _ = fed_hub()
    with hub, hub.subscribe():
        camera.feed(1000.0)
        captured(hub, 1)
        camera.hold_read = threading.Event()  # the capture thread cannot pick it up
        assert camera.read_held.wait(LIVENESS)
        request = hub.reconfigure(FedCamera(ManualClock()), timeout=0)
        assert not request.done.is_set()
        camera.hold_read.set()
        assert request.done.wait(LIVENESS)


def test_settings_the_open_camera_refuses_leave_it_running() -> None:
    hub, camera, _ = fed_hub()
    refused = ValueError("no such mode")
    camera.refuse_adopt = refused
    with hub, hub.subscribe():
        camera.feed(1000.0)
        captured(hub, 1)
        request = hub.reconfigure(FedCamera(ManualClock()), timeout=LIVENESS)
        assert request.done.is_set()
        assert request.error is refused
        assert not request.reopened
        camera.feed(1001.0)
        captured(hub, 2)
        status = hub.status()
    assert (status.opens, status.closes) == (1, 0)
    assert hub.camera is camera


def test_a_wait_of_under_a_second_waits_for_the_part() -> None:
    hub, camera, _ = fed_hub()
    test_thread = threading.get_ident()
    asked = 0
    waiting = threading.Event()
    hub_clock = hub.clock

    def watched_clock() -> float:
        # next_part reads the clock for its deadline, then for the time left
        # before it waits: after the second read it is waiting (it holds the
        # hub's lock until then, so a part cannot slip in before).
        nonlocal asked
        if threading.get_ident() == test_thread:
            asked += 1
            if asked == 2:
                waiting.set()
        return hub_clock()

    hub.clock = watched_clock
    feeder = threading.Thread(target=lambda: waiting.wait(LIVENESS) and camera.feed(1000.0))
    with hub, hub.subscribe() as viewer:
        feeder.start()
        part = viewer.next_part(0.5)  # the hub's clock stands still: it never runs out
    feeder.join(LIVENESS)
    assert part is not None
    assert part.version == 1
