"""Microbenchmarks of the server's per-frame work: framing a part, waking the
subscribers, a subscriber taking a part. Figures, not asserts (``tox -e bench``).

The frame is a real 1280x720 JPEG of about 90 KB, made by the scenario
benchmark's own frame maker. The hub is real but its camera delivers nothing
(an emulated camera that stalls at once, with stall detection off): the
benchmark publishes by calling the capture thread's ``_publish`` itself, so
that each round is exactly one frame and nothing else runs meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.scenarios import make_frames
from mjpeg_server.cameras import Frame
from mjpeg_server.cameras.emulated import EmulatedCamera
from mjpeg_server.hub import CaptureHub, HubClosed, HubSettings
from mjpeg_server.wire.multipart import PartEncoder
from support.waiting import LIVENESS

ENCODER = PartEncoder("mjpegframe")
HEADERS = (("X-Timestamp", "1795463181.465235"), ("X-Frame-Seq", "123456"))


@pytest.fixture(scope="module")
def jpeg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("frames")
    make_frames(folder)
    return min((p.read_bytes() for p in folder.glob("*.jpg")), key=lambda d: abs(len(d) - 90_000))


@pytest.fixture
def hub(jpeg: bytes) -> Iterator[CaptureHub]:
    camera = EmulatedCamera([jpeg], stall_after=0)  # open, and silent
    settings = HubSettings(idle_timeout=None, stall_timeout=3600.0)
    with CaptureHub(camera, ENCODER, settings=settings) as running:
        yield running


def publisher(hub: CaptureHub, jpeg: bytes) -> Callable[[], None]:
    """Publish a new frame, as the capture thread does."""
    seq = iter(range(1 << 62))

    def publish() -> None:
        n = next(seq)
        hub._publish(Frame(jpeg, time.time(), n), n, time.monotonic())

    return publish


def test_encode_part(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    """One part (headers, the JPEG, the delimiter) per frame, shared by every client."""
    benchmark.extra_info["jpeg_bytes"] = len(jpeg)
    part = benchmark(ENCODER.encode, jpeg, HEADERS)
    assert len(part) > len(jpeg)


@pytest.mark.parametrize("subscribers", [1, 100])
def test_publish_to_subscribers(
    benchmark: BenchmarkFixture, hub: CaptureHub, jpeg: bytes, subscribers: int
) -> None:
    """Publish one frame and wait until every subscriber thread has taken it.

    This is the thread-per-stream send path's fan-out cost (the WSGI path): one
    encode, a ``notify_all`` and N threads woken, each taking the lock.
    """
    remaining = [0]
    lock = threading.Lock()
    all_took = threading.Event()
    ready = threading.Barrier(subscribers + 1)

    def consume() -> None:
        with hub.subscribe() as subscription:
            ready.wait()
            try:
                while subscription.next_part() is not None:
                    with lock:
                        remaining[0] -= 1
                        if not remaining[0]:
                            all_took.set()
            except HubClosed:  # the end of the benchmark
                return

    threads = [threading.Thread(target=consume, daemon=True) for _ in range(subscribers)]
    for thread in threads:
        thread.start()
    ready.wait(LIVENESS)
    publish = publisher(hub, jpeg)

    def one_frame() -> None:
        remaining[0] = subscribers
        all_took.clear()
        publish()
        if not all_took.wait(LIVENESS):
            raise TimeoutError("a subscriber never took the part")

    benchmark.extra_info["subscribers"] = subscribers
    benchmark(one_frame)
    hub.close()  # wakes every subscriber with HubClosed, ending its thread
    for thread in threads:
        thread.join(LIVENESS)


def test_poll_nothing_new(benchmark: BenchmarkFixture, hub: CaptureHub, jpeg: bytes) -> None:
    """What a non-blocking sender pays per client when no frame is new."""
    publisher(hub, jpeg)()
    with hub.subscribe() as subscription:
        assert subscription.poll() is not None
        assert benchmark(subscription.poll) is None


@pytest.mark.parametrize("method", ["poll", "next_part"])
def test_take_new_part(
    benchmark: BenchmarkFixture, hub: CaptureHub, jpeg: bytes, method: str
) -> None:
    """Taking a part that is there: ``poll`` (no lock) or ``next_part`` (the lock).
    A new frame is published before each round, outside the timing."""
    with hub.subscribe() as subscription:
        take = getattr(subscription, method)
        part = benchmark.pedantic(take, setup=publisher(hub, jpeg), rounds=2000)
        assert part is not None
