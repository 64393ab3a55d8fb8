"""The capture hub against the reference implementation's failure modes F1-F11.

Each ``test_f*`` names the failure it guards against and how a naive hub (the
classic Flask recipe, field notes §1) fails it. The cameras are real emulated
cameras, wrapped where a test needs to watch what the hub does to them.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mjpeg_server.cameras import Camera, Frame
from mjpeg_server.cameras.emulated import EmulatedCamera
from mjpeg_server.hub import CaptureHub, HubClosed, HubSettings, HubState, Part, Subscription
from mjpeg_server.wire.jpeg import is_complete_jpeg
from mjpeg_server.wire.multipart import Layout, PartEncoder
from support.fixtures import FRAMES
from support.waiting import LIVENESS, wait_until

ENCODER = PartEncoder("testboundary")
FAST = HubSettings(idle_timeout=0.2, stall_timeout=0.5, backoff_initial=0.01, backoff_max=0.05)


class WatchedCamera(Camera):
    """An emulated camera that records how the hub drives it.

    It counts opens that overlap (there must never be any) and lets a test
    hold ``close()`` until it has acted while the camera is being released.
    """

    def __init__(self, inner: EmulatedCamera) -> None:
        self.inner = inner
        self.fps = inner.fps
        self.open_now = 0
        self.max_open_at_once = 0
        self.close_started = threading.Event()
        self.release_close = threading.Event()
        self.release_close.set()
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return "watched " + self.inner.description

    @property
    def opens(self) -> int:
        return self.inner.opens

    @property
    def closes(self) -> int:
        return self.inner.closes

    def open(self) -> None:
        with self._lock:
            self.open_now += 1
            self.max_open_at_once = max(self.max_open_at_once, self.open_now)
        try:
            self.inner.open()
        except BaseException:
            with self._lock:
                self.open_now -= 1
            raise

    def read(self, timeout: float) -> Frame | None:
        return self.inner.read(timeout)

    def close(self) -> None:
        self.close_started.set()
        self.release_close.wait(LIVENESS)
        was_open = self.inner.closes
        self.inner.close()
        if self.inner.closes > was_open:
            with self._lock:
                self.open_now -= 1


def emulated(**options: object) -> EmulatedCamera:
    return EmulatedCamera(FRAMES, **options)  # type: ignore[arg-type]


def make_hub(camera: Camera, settings: HubSettings = FAST, **kwargs: object) -> CaptureHub:
    return CaptureHub(camera, ENCODER, settings=settings, **kwargs)  # type: ignore[arg-type]


def next_part(subscription: Subscription) -> Part:
    part = subscription.next_part(LIVENESS)
    assert part is not None, "no frame within the liveness bound"
    return part


def capture_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("capture-")]


@pytest.fixture(autouse=True)
def _no_capture_thread_left() -> object:
    yield
    # Every test closes its hubs; a capture thread left over means a leak.
    wait_until(lambda: not capture_threads(), LIVENESS, message="capture thread left running")


# -- delivery ------------------------------------------------------------------


def test_subscriber_receives_parts_framed_for_the_wire() -> None:
    with make_hub(emulated(fps=50)) as hub, hub.subscribe() as subscription:
        parts = [next_part(subscription) for _ in range(5)]
    for part in parts:
        head, _, rest = part.data.partition(b"\r\n\r\n")
        assert b"Content-Type: image/jpeg" in head
        assert f"Content-Length: {len(part.frame.jpeg)}".encode() in head
        assert f"X-Frame-Seq: {part.seq}".encode() in head
        assert f"X-Timestamp: {part.frame.timestamp:.6f}".encode() in head
        assert rest == part.frame.jpeg + b"\r\n--testboundary\r\n"
        assert is_complete_jpeg(part.frame.jpeg)
    assert [p.seq for p in parts] == sorted({p.seq for p in parts})


def test_f10_every_client_gets_the_same_bytes_object() -> None:
    """F10: the reference concatenates headers and frame per client per frame."""
    with make_hub(emulated(fps=20)) as hub:
        subscriptions = [hub.subscribe() for _ in range(10)]
        first = next_part(subscriptions[0])
        # Everyone else takes that same frame (it is the newest) or a later one.
        others = [next_part(s) for s in subscriptions[1:]]
        same_version = [p for p in others if p.version == first.version]
        assert same_version, "no other subscriber saw the first frame"
        for part in same_version:
            assert part is first
            assert part.data is first.data
        for subscription in subscriptions:
            subscription.close()


def test_slow_subscriber_skips_to_the_newest_frame() -> None:
    with make_hub(emulated(fps=100)) as hub, hub.subscribe() as slow:
        first = next_part(slow)
        wait_until(
            lambda: hub.latest() is not None and hub.latest().version >= first.version + 5,  # type: ignore[union-attr]
            LIVENESS,
        )
        newest = hub.latest()
        taken = next_part(slow)
        assert newest is not None
        assert taken.version >= newest.version  # nothing queued: straight to the newest
        assert slow.frames_skipped == taken.version - first.version - 1
        assert slow.frames_sent == 2


def test_f5_new_subscriber_gets_the_newest_frame_at_once() -> None:
    """F5: the reference makes a new client wait for the next frame's signal."""
    # One frame per 30 s: after the first, nothing new comes during the test.
    with make_hub(emulated(fps=1 / 30)) as hub, hub.subscribe() as first:
        part = next_part(first)
        with hub.subscribe() as late:
            assert late.poll() is part  # no wait at all
            assert late.poll() is None  # and only once


def test_snapshot_uses_the_live_frame_or_starts_the_camera() -> None:
    camera = emulated(fps=50)
    with make_hub(camera) as hub:
        part = hub.snapshot(LIVENESS)  # idle camera: started for the snapshot
        assert part is not None
        assert camera.opens == 1
        assert hub.status().clients == 0  # a snapshot is not a viewer
        with hub.subscribe() as subscription:
            live = next_part(subscription)
            assert hub.snapshot(LIVENESS).version >= live.version  # type: ignore[union-attr]


def test_snapshot_of_a_camera_that_never_delivers_gives_none() -> None:
    with make_hub(emulated(stall_after=0)) as hub:
        assert hub.snapshot(0.3) is None


def test_snapshot_of_a_failed_camera_is_not_its_last_frame() -> None:
    """A camera that failed keeps its newest part for the heartbeat; a snapshot asks
    for a fresh frame, and a frame from before the failure is not one."""
    settings = HubSettings(backoff_initial=LIVENESS, backoff_max=LIVENESS)
    with make_hub(emulated(fps=50, fail_after=3), settings) as hub, hub.subscribe():
        wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
        assert hub.latest() is not None  # kept: heartbeats repeat it
        assert hub.snapshot(0.3) is None


# -- one capture thread, thread safety -------------------------------------------


def test_f4_simultaneous_first_subscribers_start_one_capture_thread() -> None:
    """F4: without a lock around check-then-start, two first requests start two threads."""
    camera = WatchedCamera(emulated(fps=30, open_delay=0.2))
    with make_hub(camera) as hub:
        barrier = threading.Barrier(100)
        subscriptions: list[Subscription] = []
        lock = threading.Lock()

        def join() -> None:
            barrier.wait()
            subscription = hub.subscribe()
            with lock:
                subscriptions.append(subscription)

        threads = [threading.Thread(target=join) for _ in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(LIVENESS)
        assert len(capture_threads()) == 1
        for subscription in subscriptions:
            next_part(subscription)
        assert camera.opens == 1
        assert camera.max_open_at_once == 1
        assert hub.status().clients == 100
        for subscription in subscriptions:
            subscription.close()


def test_f2_f6_hundreds_of_subscribers_coming_and_going_never_hurt_the_capture() -> None:
    """F2: the reference iterates a dict of client events that other threads
    change, and dies with "dictionary changed size during iteration".
    F6: it removes stale clients one per frame; here a leaver is gone at once."""
    camera = emulated(fps=200)
    with make_hub(camera) as hub, hub.subscribe() as watcher:
        next_part(watcher)
        errors: list[BaseException] = []

        def churn() -> None:
            try:
                for _ in range(20):
                    with hub.subscribe() as subscription:
                        subscription.next_part(0.05)
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=churn) for _ in range(400)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(LIVENESS * 3)
        assert not errors
        assert all(not t.is_alive() for t in threads)
        status = hub.status()
        assert status.clients == 1  # exactly the watcher: no stale entries
        assert status.failures == 0
        captured = status.frames_captured
        wait_until(lambda: hub.status().frames_captured > captured + 10, LIVENESS)
        assert len(capture_threads()) == 1
        assert camera.opens == 1


# -- idle shutdown ------------------------------------------------------------------


def test_idle_camera_is_closed_after_the_timeout_and_reopened_on_demand() -> None:
    camera = emulated(fps=50)
    with make_hub(camera, HubSettings(idle_timeout=0.3)) as hub:
        with hub.subscribe() as subscription:
            next_part(subscription)
        wait_until(lambda: camera.closes == 1, LIVENESS)
        wait_until(lambda: hub.state is HubState.IDLE, LIVENESS)
        assert hub.latest() is None  # a stale frame is never served as live
        assert not capture_threads()
        with hub.subscribe() as subscription:
            next_part(subscription)
        assert camera.opens == 2


def test_idle_timeout_zero_closes_at_once_and_none_never_closes() -> None:
    at_once = emulated(fps=50)
    with make_hub(at_once, HubSettings(idle_timeout=0)) as hub:
        with hub.subscribe() as subscription:
            next_part(subscription)
        wait_until(lambda: at_once.closes == 1, LIVENESS)

    never = emulated(fps=100)
    with make_hub(never, HubSettings(idle_timeout=None)) as hub:
        with hub.subscribe() as subscription:
            next_part(subscription)
        left_at = hub.status().frames_captured
        # Keeps capturing with nobody watching: 50 frames is far past any idle timeout here.
        wait_until(lambda: hub.status().frames_captured >= left_at + 50, LIVENESS)
        assert never.closes == 0
        assert hub.state is HubState.STREAMING


def test_f7_a_client_stuck_in_a_slow_write_still_counts_as_watching() -> None:
    """F7: the reference counts a client that has not fetched a frame for 10 s as gone
    and stops the camera under it. Here only leaving the hub counts."""
    camera = emulated(fps=100)
    with make_hub(camera, HubSettings(idle_timeout=0.1)) as hub, hub.subscribe() as stuck:
        first = next_part(stuck)
        # The subscriber takes nothing while 100 frames (1 s, ten idle timeouts) go by.
        wait_until(lambda: hub.status().frames_captured >= first.version + 100, LIVENESS)
        assert camera.closes == 0
        assert next_part(stuck).version > first.version


def test_f3_subscriber_arriving_while_the_camera_is_released_gets_it_reopened() -> None:
    """F3: the reference's new client waits for the dying thread's next frame,
    which never comes, until some other client happens to arrive."""
    camera = WatchedCamera(emulated(fps=50))
    with make_hub(camera, HubSettings(idle_timeout=0)) as hub:
        with hub.subscribe() as subscription:
            last_seen = next_part(subscription)
            camera.release_close.clear()  # the next close() blocks until we say
        assert camera.close_started.wait(LIVENESS)  # the hub is releasing the camera
        late = hub.subscribe()
        camera.release_close.set()
        # The newest frame at once (captured just before the release began) …
        assert next_part(late).version >= last_seen.version
        # … then live frames again, from a freshly opened camera.
        next_part(late)
        assert camera.opens == 2
        assert camera.max_open_at_once == 1
        assert len(capture_threads()) == 1
        late.close()


# -- failures -----------------------------------------------------------------------


def test_f1_failing_camera_is_reopened_and_subscribers_resume() -> None:
    """F1: when the reference's camera raises, its thread dies but stays
    registered: every current and future client gets nothing, forever."""
    camera = emulated(fps=100, fail_after=5)
    with make_hub(camera) as hub, hub.subscribe() as subscription:
        parts = [next_part(subscription) for _ in range(20)]  # needs 4 sessions at least
        status = hub.status()
        assert status.failures >= 3
        assert status.last_error is not None
        assert "injected failure after 5 frames" in status.last_error
        assert camera.opens >= 4
        seqs = [p.seq for p in parts]
        assert seqs == sorted(set(seqs)), "X-Frame-Seq went backwards across a reopen"
        assert subscription.frames_sent == 20


def test_failed_open_is_retried_with_capped_backoff_and_reported() -> None:
    settings = HubSettings(idle_timeout=0.2, backoff_initial=0.01, backoff_max=0.02)
    camera = emulated(fps=50, fail_opens=6)
    with make_hub(camera, settings) as hub, hub.subscribe() as subscription:
        wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
        assert "CameraNotFound" in (hub.status().last_error or "")
        next_part(subscription)  # six failures at <= 20 ms each, then a frame
        status = hub.status()
        assert status.failures == 6
        assert status.state is HubState.STREAMING
        assert status.last_error is not None  # the last error stays visible


def test_f9_silent_camera_is_reported_reopened_and_heartbeats_carry_on() -> None:
    """F9: when the reference's camera produces nothing, clients block forever and
    nothing is ever written, so even their disconnects go unnoticed."""
    placeholder = b"\xff\xd8no signal\xff\xd9"
    camera = emulated(fps=50, stall_after=0)
    settings = HubSettings(stall_timeout=0.2, backoff_initial=0.01, backoff_max=0.05)
    with make_hub(camera, settings, placeholder=placeholder) as hub, hub.subscribe() as waiting:
        assert hub.heartbeat() is None  # starting: nothing to say yet
        wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
        assert "no frame for" in (hub.status().last_error or "")
        # Something to write, so a write can fail, in either layout.
        assert hub.heartbeat() == ENCODER.encode(placeholder)
        assert hub.heartbeat(Layout.ADVANCE_HEADERS) == ENCODER.encode_advance(placeholder)
        wait_until(lambda: camera.opens >= 2, LIVENESS)  # reopened
        assert waiting.next_part(0.05) is None


def test_heartbeat_repeats_the_newest_part_while_the_camera_is_quiet() -> None:
    with make_hub(emulated(fps=1 / 30)) as hub, hub.subscribe() as subscription:
        part = next_part(subscription)
        assert subscription.next_part(0.05) is None
        assert hub.heartbeat() is part.data


def test_a_subscription_s_heartbeat_is_the_hub_s_in_either_layout() -> None:
    with make_hub(emulated(fps=1 / 30)) as hub, hub.subscribe() as subscription:
        part = next_part(subscription)
        assert subscription.heartbeat() is part.data
        assert subscription.heartbeat(Layout.ADVANCE_HEADERS) is part.advance_data
        assert part.advance_data == ENCODER.encode_advance(part.frame.jpeg)


def test_listeners_hear_every_part_and_the_close() -> None:
    heard: list[int | None] = []
    lock = threading.Lock()

    def listener(hub: CaptureHub) -> None:
        latest = hub.latest()
        with lock:
            heard.append(None if hub.closed else latest.version if latest else -1)

    hub = make_hub(emulated(fps=50))
    hub.add_listener(listener)
    with hub.subscribe() as subscription:
        parts = [next_part(subscription) for _ in range(3)]
    hub.close()
    with lock:
        assert heard[-1] is None  # the close, last
        versions = [v for v in heard[:-1] if v is not None]
    assert versions == sorted(versions)
    assert {p.version for p in parts} <= set(versions)  # once per part published


def test_a_snapshot_of_a_streaming_camera_does_not_restart_its_idle_timer() -> None:
    """While streaming, a snapshot is the newest part, taken without subscribing: it
    is no visit, so a camera nobody watches still closes when its idle time is up.
    The hub's clock is driven here; the camera runs in real time."""
    now = [1000.0]
    camera = emulated(fps=50)
    settings = HubSettings(idle_timeout=10, stall_timeout=1e9)
    with make_hub(camera, settings, clock=lambda: now[0]) as hub:
        with hub.subscribe() as viewer:
            part = next_part(viewer)
        now[0] = 1005.0  # the viewer left at 1000: the camera closes at 1010
        snapshot = hub.snapshot(LIVENESS)
        assert snapshot is not None
        assert snapshot.version >= part.version
        now[0] = 1010.0
        wait_until(lambda: camera.closes == 1, LIVENESS)


def test_a_snapshot_waiting_for_a_frame_is_not_a_viewer() -> None:
    with make_hub(emulated(fps=50, open_delay=2.0)) as hub:
        taken: list[Part | None] = []
        waiter = threading.Thread(target=lambda: taken.append(hub.snapshot(LIVENESS)))
        waiter.start()
        wait_until(lambda: hub.state is HubState.STARTING, LIVENESS)  # it subscribed
        assert hub.status().clients == 0
        waiter.join(LIVENESS)
        assert taken
        assert taken[0] is not None


def test_a_stalled_camera_s_error_says_only_what_happened() -> None:
    with make_hub(emulated(fps=50, stall_after=0), HubSettings(stall_timeout=0.2)) as hub:
        with hub.subscribe():
            wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
        error = hub.status().last_error or ""
    assert re.search(r"no frame for \d+\.\d s\b", error), error
    assert "not JPEGs" not in error  # it sent nothing at all


def test_a_closed_hub_takes_no_new_settings() -> None:
    hub = make_hub(emulated(fps=50), name="porch")
    hub.close()
    with pytest.raises(HubClosed, match="porch"):
        hub.reconfigure(emulated(fps=10), timeout=0)


def test_frames_are_counted_one_by_one() -> None:
    camera = emulated(fps=100, stall_after=4)  # four frames, then silence
    settings = HubSettings(idle_timeout=None, stall_timeout=1e9)
    with make_hub(camera, settings) as hub, hub.subscribe() as viewer:
        first = next_part(viewer)
        wait_until(lambda: hub.status().frames_captured == 4, LIVENESS)
        if first.version < 4:
            assert next_part(viewer).version == 4  # the newest: any between are skipped
        status = hub.status()
    assert status.frames_captured == 4
    assert viewer.frames_sent + viewer.frames_skipped == 4
    assert status.frames_sent == viewer.frames_sent
    assert status.frames_skipped == viewer.frames_skipped


def test_skipped_frames_add_up() -> None:
    with make_hub(emulated(fps=100)) as hub, hub.subscribe() as slow:
        taken = [next_part(slow)]
        for _ in range(2):
            wait_until(lambda: hub.latest().version >= taken[-1].version + 3, LIVENESS)  # type: ignore[union-attr]
            taken.append(next_part(slow))
        gaps = sum(b.version - a.version - 1 for a, b in itertools.pairwise(taken))
        assert gaps >= 4
        assert slow.frames_skipped == gaps


def test_next_part_waits_for_the_next_frame_without_and_within_a_timeout() -> None:
    with make_hub(emulated(fps=10)) as hub, hub.subscribe() as viewer:
        first = next_part(viewer)
        second = viewer.next_part()  # no timeout: waits as long as it takes
        assert second is not None
        assert second.version > first.version
        third = viewer.next_part(LIVENESS / 2)  # a timeout of seconds: waits too
        assert third is not None
        assert third.version > second.version


def test_a_new_hub_s_name_and_empty_status() -> None:
    hub = CaptureHub(emulated(fps=50), ENCODER)
    status = hub.status()
    assert status.name == "default"
    assert (status.resolution, status.last_error, status.last_error_at) == (None, None, None)
    assert status.root_cause is None
    assert (status.opens, status.closes, status.frames_captured, status.clients) == (0, 0, 0, 0)
    hub.close()


def test_numbering_starts_at_zero_and_threads_are_daemons() -> None:
    with make_hub(emulated(fps=50)) as hub, hub.subscribe() as viewer:
        first = next_part(viewer)
        assert capture_threads()
        assert all(t.daemon for t in capture_threads())  # F11, in this process
    assert first.seq == 0


def test_closed_hubs_and_subscriptions_say_which_hub() -> None:
    hub = make_hub(emulated(fps=50), name="garden")
    subscription = hub.subscribe()
    subscription.close()
    with pytest.raises(HubClosed, match="garden"):
        subscription.poll()
    hub.close()
    with pytest.raises(HubClosed, match="garden"):
        hub.subscribe()


def test_identical_frames_are_dropped_but_one_in_n_goes_out() -> None:
    same = EmulatedCamera(FRAMES[:1], fps=100)  # every frame the same bytes
    settings = HubSettings(idle_timeout=None, drop_same_frames=2)
    with make_hub(same, settings) as hub, hub.subscribe() as viewer:
        next_part(viewer)
        wait_until(lambda: hub.status().frames_unchanged >= 3, LIVENESS)
        status = hub.status()
    # One in two goes out: as many published as dropped, give or take the last.
    published = status.frames_captured - status.frames_unchanged
    assert abs(published - status.frames_unchanged) <= 1


def test_dropping_identical_frames_one_in_one_drops_none() -> None:
    same = EmulatedCamera(FRAMES[:1], fps=100)
    with make_hub(same, HubSettings(drop_same_frames=1)) as hub, hub.subscribe() as viewer:
        for _ in range(5):
            next_part(viewer)
        assert hub.status().frames_unchanged == 0


def test_frames_that_are_not_jpegs_are_counted_and_never_served() -> None:
    junk = EmulatedCamera([b"not a jpeg, just bytes"], fps=100)
    settings = HubSettings(stall_timeout=0.3, backoff_initial=LIVENESS, backoff_max=LIVENESS)
    with make_hub(junk, settings) as hub, hub.subscribe() as viewer:
        wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
        status = hub.status()
        assert viewer.poll() is None  # nothing was published
    assert status.frames_captured == 0
    assert status.frames_rejected >= 2
    assert status.last_error is not None
    assert re.search(
        r"no frame for \d+\.\d s \(\d+ frames were not JPEGs and were not served; "
        r"the last started b'not a jpeg, just'\)$",
        status.last_error,
    ), status.last_error


def test_a_rate_capped_subscription_takes_frames_evenly() -> None:
    with make_hub(emulated(fps=50)) as hub, hub.subscribe(max_fps=10) as capped:
        parts = [next_part(capped) for _ in range(4)]
    stamps = [p.frame.timestamp for p in parts]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(gap >= 0.1 - 1e-6 for gap in gaps), gaps  # capture times: 50 fps capped to 10
    assert capped.frames_skipped >= 3 * 4 - 4  # at least four in five were skipped between


def test_leaving_viewers_add_up_and_the_idle_time_starts_with_the_last() -> None:
    now = [100.0]
    camera = emulated(fps=100)
    settings = HubSettings(idle_timeout=10, stall_timeout=1e9)
    with make_hub(camera, settings, clock=lambda: now[0]) as hub:
        viewers = [hub.subscribe() for _ in range(3)]
        for viewer in viewers:
            next_part(viewer)
        sent = sum(v.frames_sent for v in viewers)
        viewers[0].close()
        assert hub.status().clients == 2
        now[0] = 200.0
        viewers[1].close()
        viewers[2].close()
        status = hub.status()
        assert status.clients == 0
        assert status.frames_sent == sent
        now[0] = 205.0  # 5 s after the last viewer left: still open
        captured = hub.status().frames_captured
        wait_until(lambda: hub.status().frames_captured >= captured + 3, LIVENESS)
        assert camera.closes == 0
        now[0] = 211.0
        wait_until(lambda: camera.closes == 1, LIVENESS)
        assert hub.status().closes == 1


# -- shutdown -------------------------------------------------------------------------


def test_close_ends_every_subscription_and_releases_the_camera() -> None:
    camera = emulated(fps=50)
    hub = make_hub(camera, HubSettings(idle_timeout=None))
    subscriptions = [hub.subscribe() for _ in range(5)]
    blocked_result: list[BaseException] = []

    def wait_forever() -> None:
        try:
            while True:
                subscriptions[0].next_part()
        except HubClosed as error:
            blocked_result.append(error)

    waiter = threading.Thread(target=wait_forever)
    waiter.start()
    next_part(subscriptions[1])
    hub.close()
    waiter.join(LIVENESS)
    assert blocked_result, "a blocked subscriber did not see the hub close"
    assert camera.closes == camera.opens == 1
    assert hub.state is HubState.CLOSED
    for subscription in subscriptions[1:]:
        with pytest.raises(HubClosed):
            subscription.next_part(0)
    with pytest.raises(HubClosed):
        hub.subscribe()


def test_f11_capture_thread_never_delays_process_exit(tmp_path: Path) -> None:
    """F11: the reference's non-daemon thread keeps the process alive until its
    idle timeout. A program that forgets to close the hub must still exit.

    The child says what it sees: its capture thread is a daemon, and it is still
    running (camera open, an hour of idle timeout to go) when the interpreter
    exits, so exit did not wait for it. A non-daemon thread would hold the
    process for that hour: the child would never print the last line.
    """
    script = tmp_path / "forgets_to_close.py"
    script.write_text(
        textwrap.dedent(
            """
            import atexit, threading
            from mjpeg_server.cameras.emulated import (
                EmulatedCamera, bundled_frames_dir, load_frames,
            )
            from mjpeg_server.hub import CaptureHub, HubSettings
            from mjpeg_server.wire.multipart import PartEncoder

            camera = EmulatedCamera(load_frames(bundled_frames_dir()), fps=30)
            hub = CaptureHub(camera, PartEncoder("b"), settings=HubSettings(idle_timeout=3600))
            assert hub.subscribe().next_part(20) is not None
            threads = [t for t in threading.enumerate() if t.name.startswith("capture-")]
            print("streaming", [t.daemon for t in threads], flush=True)
            # atexit runs after the interpreter has joined every non-daemon thread.
            atexit.register(
                lambda: print("exiting", [t.is_alive() for t in threads], camera.closes, flush=True)
            )
            """
        )
    )
    try:
        result = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=3 * LIVENESS,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the process did not exit: its capture thread held it ({expired.stdout!r})")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["streaming [True]", "exiting [True] 0"]


def test_status_reports_the_camera() -> None:
    camera = emulated(fps=50)
    with make_hub(camera, name="front") as hub:
        status = hub.status()
        assert status.state is HubState.IDLE
        assert status.clients == 0
        with hub.subscribe() as subscription:
            for _ in range(3):
                next_part(subscription)
            status = hub.status()
        assert status.name == "front"
        assert status.state is HubState.STREAMING
        assert status.resolution == (640, 480)
        assert status.clients == 1
        assert status.frames_sent >= 3
        assert status.fps_configured == 50
        assert status.opens == 1
        assert status.camera == camera.description
        assert (status.closes, status.failures, status.last_error) == (0, 0, None)
        assert (status.frames_unchanged, status.frames_rejected) == (0, 0)
        assert status.frames_skipped >= 0
        assert status.frames_captured >= 3
        json = status.to_json()
        assert json["state"] == "streaming"
        assert json["resolution"] == [640, 480]
