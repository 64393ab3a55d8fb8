"""The rate cap (?fps=N) and the identical-frame filter (--drop-same-frames N): as pure
logic, then on the real server process."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from mjpeg_server.cameras.emulated import bundled_frames_dir, load_frames
from mjpeg_server.client.stream import iter_frames
from mjpeg_server.hub.pacing import RateCap, SameFrameFilter
from support.server import ServerProcess, run_cli
from support.waiting import LIVENESS


def taken(
    camera_fps: float, cap: float, frames: int, jitter: list[float] | None = None
) -> list[int]:
    rate = RateCap(cap, camera_fps)
    stamps = [1000.0 + i / camera_fps + (jitter[i] if jitter else 0.0) for i in range(frames)]
    return [i for i, stamp in enumerate(stamps) if rate.take(stamp)]


@pytest.mark.parametrize(
    ("camera_fps", "cap", "expected"),
    [
        (30, 10, list(range(0, 30, 3))),  # every third
        (30, 15, list(range(0, 30, 2))),  # every other
        (30, 5, list(range(0, 30, 6))),
        (30, 30, list(range(30))),  # at or above the camera's rate: everything
        (30, 60, list(range(30))),
        (10, 1, [0, 10, 20]),
    ],
)
def test_the_cap_skips_evenly(camera_fps: float, cap: float, expected: list[int]) -> None:
    assert taken(camera_fps, cap, 30) == expected


def test_a_cap_that_does_not_divide_the_rate_keeps_its_rate() -> None:
    # 20 of 30: two of every three, not every other frame (which would be 15).
    indices = taken(30, 20, 300)
    assert len(indices) == 200
    gaps = {b - a for a, b in itertools.pairwise(indices)}
    assert gaps <= {1, 2}


@given(
    camera_fps=st.sampled_from([5, 10, 15, 24, 25, 30, 60]),
    cap=st.floats(min_value=0.5, max_value=90),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_the_cap_is_never_exceeded_and_gaps_are_even(
    camera_fps: float, cap: float, seed: int
) -> None:
    # Capture times jitter by up to a fifth of a frame interval, as cameras do.
    interval = 1 / camera_fps
    jitter = random.Random(seed)
    indices = taken(
        camera_fps, cap, 600, [jitter.uniform(-0.2, 0.2) * interval for _ in range(600)]
    )
    seconds = 600 / camera_fps
    # Never more than the cap (one frame of slack for the start) …
    assert len(indices) <= cap * seconds + 1
    # … and close to it: at most one frame a second lost to rounding.
    assert len(indices) >= min(cap, camera_fps) * seconds - seconds - 1
    # Evenly: the gaps between taken frames differ by at most two.
    gaps = [b - a for a, b in itertools.pairwise(indices)]
    assert max(gaps) - min(gaps) <= 2


def test_after_a_pause_the_next_frame_comes_at_once_without_a_burst() -> None:
    rate = RateCap(5, 30)
    assert rate.take(0.0)
    assert not rate.take(0.1)
    # Nothing for ten seconds (camera stalled), then frames again at 30 fps.
    later = [10.0 + i / 30 for i in range(30)]
    indices = [i for i, stamp in enumerate(later) if rate.take(stamp)]
    assert indices == [0, 6, 12, 18, 24]


def test_a_frame_exactly_due_is_taken_and_one_a_whole_interval_late_restarts_the_schedule() -> None:
    # A camera of unknown rate (0): no early tolerance, so the edges are exact.
    # Quarter seconds: binary fractions, exact in floating point.
    rate = RateCap(4, 0)
    assert rate.fps == 4
    assert rate.take(0.0)
    assert not rate.take(0.125)  # early by half an interval: no tolerance to cover it
    assert rate.take(0.25)  # exactly due: due next at 0.5
    # Exactly a whole interval past due: the schedule restarts here (due next at
    # 1.0), it does not bank the missed one (due at 0.75).
    assert rate.take(0.75)
    assert not rate.take(0.875)
    assert rate.take(1.0)


def test_a_frame_early_by_less_than_the_tolerance_is_taken() -> None:
    # One frame a second, capped to one in two: a frame up to 0.6 s early is due.
    rate = RateCap(0.5, 1)
    assert rate.take(0.0)
    assert rate.take(1.5)  # 0.5 s before due (2.0)
    rate = RateCap(0.5, 1)
    assert rate.take(0.0)
    assert not rate.take(1.375)  # 0.625 s early: not yet


def test_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateCap(0, 30)


def test_same_frames_are_dropped_but_one_in_n_passes() -> None:
    same = SameFrameFilter(every=3)
    frames = [b"a", b"a", b"a", b"a", b"a", b"b", b"b", b"a", b"a"]
    assert [same.passes(f) for f in frames] == [
        True, False, False, True, False, True, False, True, False,
    ]  # fmt: skip
    assert same.dropped == 5


def test_every_1_drops_nothing() -> None:
    same = SameFrameFilter(every=1)
    assert all(same.passes(b"x") for _ in range(5))
    assert same.dropped == 0


def test_every_must_be_at_least_1() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SameFrameFilter(every=0)


# -- on the real server process, over real sockets -----------------------------


def stream_seqs(server: ServerProcess, path: str, count: int) -> list[int]:
    frames = itertools.islice(iter_frames(server.url(path), timeout=LIVENESS), count)
    seqs = [frame.seq for frame in frames]
    assert all(seq is not None for seq in seqs)
    return seqs  # type: ignore[return-value]


def test_fps_query_caps_a_viewer_evenly_and_status_counts_the_skips() -> None:
    with ServerProcess("--camera", "emulated?fps=20", "--idle-timeout", "never") as server:
        before = server.camera_status()["frames_skipped"]
        seqs = stream_seqs(server, "/stream.mjpg?fps=5", 9)
        steps = [b - a for a, b in itertools.pairwise(seqs)]
        # Never faster than asked: every 4th frame of 20 fps. (A loaded machine may
        # make the server skip one more for a slow reader, never one less.)
        assert all(step >= 4 for step in steps), steps
        assert steps.count(4) >= len(steps) // 2, steps
        skipped = server.camera_status()["frames_skipped"]
        assert skipped >= before + sum(step - 1 for step in steps)  # type: ignore[operator]
        # Other viewers at the same time are not capped; compat URLs take it too.
        full = stream_seqs(server, "/stream.mjpg", 5)
        assert min(b - a for a, b in itertools.pairwise(full)) == 1
        capped = stream_seqs(server, "/?action=stream&fps=10", 5)
        assert all(b - a >= 2 for a, b in itertools.pairwise(capped))


@pytest.mark.parametrize("value", ["0", "-1", "fast", "nan", "inf", ""])
def test_bad_fps_query_is_400(value: str) -> None:
    with ServerProcess("--camera", "emulated?fps=20") as server:
        response = requests.get(server.url(f"/stream.mjpg?fps={value}"), timeout=LIVENESS)
        assert response.status_code == 400
        assert "fps must be a positive number" in response.text


def test_drop_same_frames_skips_repeats_but_sends_one_in_n(tmp_path: Path) -> None:
    first, second = load_frames(bundled_frames_dir())[:2]
    # a a a a b, looped: with N=3 the 2nd and 3rd a are dropped, the 4th is sent.
    for index, jpeg in enumerate([first, first, first, first, second], 1):
        (tmp_path / f"{index}.jpg").write_bytes(jpeg)
    with ServerProcess(
        "--camera", f"emulated:{tmp_path}?fps=20", "--drop-same-frames", "3",
        "--idle-timeout", "never",
    ) as server:  # fmt: skip
        frames = list(itertools.islice(iter_frames(server.url("/stream.mjpg"), timeout=30), 12))
        status = server.camera_status()
        metrics = requests.get(server.url("/metrics"), timeout=LIVENESS).text
    # Never three of the same in a row where the camera sent four.
    runs = [len(list(group)) for _, group in itertools.groupby(f.jpeg for f in frames)]
    assert max(runs) <= 2, runs

    def dropped(captured: int) -> int:
        return 2 * (captured // 5) + (0, 0, 1, 2, 2)[captured % 5]

    captured, unchanged = status["frames_captured"], status["frames_unchanged"]
    assert isinstance(captured, int)
    assert isinstance(unchanged, int)
    assert abs(unchanged - dropped(captured)) <= 1, (captured, unchanged)

    def metric(name: str) -> int:
        found = re.search(
            rf'^mjpeg_server_{name}_total{{camera="default"}} (\d+)\.0$', metrics, re.M
        )
        assert found is not None, name
        return int(found[1])

    # The metrics too, read a little later: the camera ran on meanwhile, so the
    # same rule on their own figures, and never fewer than the status said.
    assert metric("frames_unchanged") >= unchanged
    later_captured, later_unchanged = metric("frames_captured"), metric("frames_unchanged")
    assert abs(later_unchanged - dropped(later_captured)) <= 1, (later_captured, later_unchanged)


def test_drop_same_frames_flag_checks() -> None:
    result = run_cli(["--drop-same-frames", "-1", "--port", "0"])
    assert result.returncode == 2
    assert "drop-same-frames must be >= 0" in result.stderr
