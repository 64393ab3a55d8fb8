"""Changing a camera's settings under running streams (``CaptureHub.reconfigure``).

The F1-F11 promises hold throughout: subscribers stay subscribed, the camera is
never open twice, sequence numbers never go back; a reopen shows as a gap in
them, a live change as none.
"""

from __future__ import annotations

import threading

import pytest
from test_hub import (  # the autouse leak check too: no capture thread outlives a test
    FAST,
    LIVENESS,
    WatchedCamera,
    _no_capture_thread_left,
    make_hub,
    next_part,
)

from mjpeg_server.cameras import CameraNotFound, create_camera
from mjpeg_server.cameras.emulated import EmulatedCamera
from mjpeg_server.hub import CaptureHub, HubClosed, HubState
from mjpeg_server.wire.jpeg import jpeg_size
from support.waiting import wait_until

__all__ = ["_no_capture_thread_left"]


def camera(spec: str) -> EmulatedCamera:
    built = create_camera(spec, name="front")
    assert isinstance(built, EmulatedCamera)
    return built


def test_a_live_change_applies_between_two_frames_without_a_reopen() -> None:
    first = camera("emulated?fps=50")
    with make_hub(first) as hub, hub.subscribe() as subscription:
        before = next_part(subscription)
        outcome = hub.reconfigure(camera("emulated?fps=50&rotate=90"), LIVENESS)
        assert outcome.done.is_set()
        assert outcome.error is None
        assert not outcome.reopened
        assert hub.camera is first  # adopted: the same open camera
        assert first.opens == 1
        assert first.closes == 0
        assert first.spec is not None
        assert first.spec.options["rotate"] == "90"
        turned = next_part(subscription)
        while jpeg_size(turned.frame.jpeg) != (480, 640):
            turned = next_part(subscription)
        # No reopen, no gap: every frame of the camera is there.
        assert turned.seq - before.seq == turned.version - before.version


def test_a_reopen_keeps_subscribers_and_shows_as_a_gap() -> None:
    first = WatchedCamera(camera("emulated?fps=50"))
    second_inner = camera("emulated?fps=50&size=320x240&open_delay=0.2")
    second = WatchedCamera(second_inner)
    second.max_open_at_once = 0
    with make_hub(first) as hub, hub.subscribe() as subscription:
        before = next_part(subscription)
        outcome = hub.reconfigure(second, LIVENESS)
        assert outcome.done.is_set()
        assert outcome.reopened
        assert outcome.error is None
        assert hub.camera is second
        assert first.closes == 1
        seen, part = before, next_part(subscription)
        while jpeg_size(part.frame.jpeg) != (320, 240):
            seen, part = part, next_part(subscription)
        # The frames not captured while the camera reopened (0.2 s at 50 fps) are a gap.
        assert part.seq - seen.seq >= 5
        assert part.seq > before.seq
        assert hub.status().state is HubState.STREAMING
        assert first.max_open_at_once == 1
        assert second.max_open_at_once == 1
        assert hub.clients == 1


def test_settings_that_cannot_open_are_rolled_back() -> None:
    first = camera("emulated?fps=50")
    broken = camera("emulated?fps=50&fail_opens=1")
    with make_hub(first) as hub, hub.subscribe() as subscription:
        next_part(subscription)
        outcome = hub.reconfigure(broken, LIVENESS)
        assert outcome.done.is_set()
        assert isinstance(outcome.error, CameraNotFound)
        assert hub.camera is first  # the settings that worked
        wait_until(lambda: first.opens == 2, LIVENESS)
        next_part(subscription)
        assert hub.status().failures == 0  # the old camera never failed


def test_an_idle_camera_is_replaced_and_opened_by_the_next_viewer() -> None:
    first = camera("emulated?fps=50")
    second = camera("emulated?fps=50&size=160x120")
    with make_hub(first) as hub:
        outcome = hub.reconfigure(second, LIVENESS)
        assert outcome.done.is_set()
        assert not outcome.reopened
        assert first.opens == 0
        with hub.subscribe() as subscription:
            assert jpeg_size(next_part(subscription).frame.jpeg) == (160, 120)
        assert second.opens == 1


def test_a_failing_camera_can_be_reconfigured_during_its_backoff() -> None:
    broken = camera("emulated?fps=50&fail_opens=1000")
    with make_hub(broken, FAST) as hub, hub.subscribe() as subscription:
        wait_until(lambda: hub.state is HubState.ERROR, LIVENESS)
        outcome = hub.reconfigure(camera("emulated?fps=50"), LIVENESS)
        assert outcome.done.is_set()
        next_part(subscription)
        assert hub.state is HubState.STREAMING


def test_reconfiguring_a_closed_hub_is_refused_and_close_releases_waiters() -> None:
    hub = make_hub(camera("emulated?fps=50&open_delay=0.5"))
    subscription = hub.subscribe()
    outcome: list[object] = []

    def change() -> None:
        try:  # before or after close(): either it returns, or it is refused
            outcome.append(hub.reconfigure(camera("emulated?fps=10"), LIVENESS))
        except HubClosed as error:
            outcome.append(error)

    waiter = threading.Thread(target=change)
    waiter.start()
    hub.close()
    waiter.join(LIVENESS)
    assert not waiter.is_alive()
    assert len(outcome) == 1
    subscription.close()
    with pytest.raises(HubClosed):
        hub.reconfigure(camera("emulated"))


def test_many_changes_under_many_viewers_never_open_the_camera_twice() -> None:
    base = camera("emulated?fps=100")
    watched = WatchedCamera(base)
    with make_hub(watched) as hub:
        subscriptions = [hub.subscribe() for _ in range(20)]
        for subscription in subscriptions:
            next_part(subscription)
        cameras = []
        for index in range(6):
            # alternate live changes and reopens
            spec = f"emulated?fps=100&rotate={90 * (index % 4)}"
            if index % 2:
                spec += f"&quality={60 + index}"
            new = WatchedCamera(camera(spec))
            cameras.append(new)
            hub.reconfigure(new, LIVENESS)
        last = [next_part(s) for s in subscriptions]
        assert all(part.seq >= 0 for part in last)
        assert hub.clients == 20
        for subscription in subscriptions:
            subscription.close()
    assert max(c.max_open_at_once for c in [watched, *cameras]) <= 1


def test_hub_is_generic_over_cameras() -> None:
    # The hub only swaps Camera objects: a hand-built camera (no spec) works too.
    with CaptureHub(camera("emulated"), make_hub(camera("emulated")).encoder) as hub:
        assert hub.reconfigure(camera("emulated?fps=5"), LIVENESS).done.is_set()
