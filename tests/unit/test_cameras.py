"""Camera specs, the registry and the emulated camera's pacing and fault options."""

from __future__ import annotations

from pathlib import Path

import pytest

from mjpeg_server.cameras import (
    CameraBusy,
    CameraDefaults,
    CameraFailed,
    CameraNotFound,
    CameraSpec,
    SpecError,
    create_camera,
)
from mjpeg_server.cameras.emulated import EmulatedCamera, load_frames
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size
from support.fixtures import FRAMES


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- specs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "target", "options"),
    [
        ("emulated", "emulated", None, {}),
        ("emulated:/srv/frames", "emulated", "/srv/frames", {}),
        ("emulated?fps=5&fail_after=3", "emulated", None, {"fps": "5", "fail_after": "3"}),
        ("emulated:C:/x?fps=1", "emulated", "C:/x", {"fps": "1"}),
        ("http://cam:8080/?action=stream", "http", "http://cam:8080/?action=stream", {}),
    ],
)
def test_spec_parsing(text: str, kind: str, target: str | None, options: dict[str, str]) -> None:
    spec = CameraSpec.parse(text)
    assert (spec.kind, spec.target, dict(spec.options)) == (kind, target, options)
    assert str(spec) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Emulated", "invalid camera spec"),
        ("webcam:0", "unknown camera kind 'webcam'"),
        ("emulated?fps=1&fps=2", "sets option 'fps' twice"),
        ("emulated?fps", "invalid options in camera spec"),
    ],
)
def test_bad_specs(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        CameraSpec.parse(text)


def test_registry_builds_without_opening() -> None:
    camera = create_camera("emulated?fps=12&open_delay=5", CameraDefaults(fps=30))
    assert isinstance(camera, EmulatedCamera)
    assert camera.fps == 12  # the spec beats the default
    assert camera.opens == 0  # building touches no device (and took no 5 s)
    assert create_camera("emulated", CameraDefaults(fps=7)).fps == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("emulated?fps=0", "fps must be"),
        ("emulated?fps=nan", "fps must be >= 0|fps must be positive"),
        ("emulated?fail_after=0", "fail_after must be >= 1"),
        ("emulated?open_delay=-1", "open_delay must be >= 0"),
        ("emulated?what=1", r"unknown option what \(valid: fps, open_delay"),
    ],
)
def test_bad_options_are_spec_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        create_camera(text)


def test_folder_of_frames(tmp_path: Path) -> None:
    for name in ("10.jpg", "2.jpg", "1.JPEG", "notes.txt"):
        (tmp_path / name).write_bytes(FRAMES[0] if name != "notes.txt" else b"hi")
    frames = load_frames(tmp_path)
    assert len(frames) == 3  # natural order: 1, 2, 10; the .txt is ignored
    (tmp_path / "3.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(CameraNotFound, match=r"3\.jpg' is not a JPEG"):
        load_frames(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SpecError, match=r"no \.jpg files"):
        create_camera(f"emulated:{empty}")


def test_bundled_frames_are_distinct_vga_jpegs() -> None:
    assert len(FRAMES) == 3
    assert len(set(FRAMES)) == 3
    for frame in FRAMES:
        assert is_complete_jpeg(frame)
        assert jpeg_size(frame) == (640, 480)


# -- the emulated camera --------------------------------------------------------------


def test_frames_follow_a_deadline_schedule_without_drift_or_bursts() -> None:
    clock = ManualClock()
    camera = EmulatedCamera(FRAMES, fps=10, clock=clock, wall_clock=lambda: 1.7e9)
    camera.open()
    first = camera.read(0)
    assert first is not None
    assert first.seq == 0
    assert first.jpeg == FRAMES[0]
    assert first.timestamp == 1.7e9
    assert camera.read(0) is None  # frame 1 is due at +0.1 s, not yet

    clock.now += 0.15  # late by half a period: frame 1 now, frame 2 still due at +0.2
    frame = camera.read(0)
    assert frame is not None
    assert frame.seq == 1
    assert frame.timestamp == pytest.approx(1.7e9 + 0.1)  # when it was due: its capture time
    assert camera.read(0) is None  # no burst to catch up
    clock.now += 0.05
    assert camera.read(0).seq == 2  # type: ignore[union-attr]  # on schedule: no drift

    clock.now += 0.25  # frame 3 was due 1.5 periods ago: it was buffered; 4 is due too
    assert [camera.read(0).seq, camera.read(0).seq] == [3, 4]  # type: ignore[union-attr]
    assert camera.read(0) is None

    clock.now += 0.6  # a stall: frames 5-8 are older than the buffers and lost
    assert [camera.read(0).seq, camera.read(0).seq] == [9, 10]  # type: ignore[union-attr]
    assert camera.read(0) is None  # and no more than the buffers' worth came at once
    camera.close()


def test_open_close_are_counted_and_reopen_restarts_numbering() -> None:
    camera = EmulatedCamera(FRAMES, fps=1000)
    with camera:
        assert camera.read(1).seq == 0  # type: ignore[union-attr]
        with pytest.raises(CameraBusy):
            camera.open()
    camera.close()  # idempotent
    assert (camera.opens, camera.closes) == (1, 1)
    with camera:
        assert camera.read(1).seq == 0  # type: ignore[union-attr]
    assert (camera.opens, camera.closes) == (2, 2)
    with pytest.raises(CameraFailed, match="not open"):
        camera.read(0)


def test_fault_options() -> None:
    failing = EmulatedCamera(FRAMES, fps=1000, fail_after=2)
    with failing:
        assert failing.read(1) is not None
        assert failing.read(1) is not None
        with pytest.raises(CameraFailed, match="injected failure after 2 frames"):
            failing.read(1)

    stalling = EmulatedCamera(FRAMES, fps=1000, stall_after=1)
    with stalling:
        assert stalling.read(1) is not None
        assert stalling.read(0.01) is None
        assert stalling.read(0.01) is None

    unplugged = EmulatedCamera(FRAMES, fps=1000, fail_opens=2)
    for _ in range(2):
        with pytest.raises(CameraNotFound, match="injected open failure"):
            unplugged.open()
    with unplugged:
        assert unplugged.read(1) is not None


def test_lock_makes_the_camera_exclusive(tmp_path: Path) -> None:
    lock = tmp_path / "camera.lock"
    holder = EmulatedCamera(FRAMES, lock_path=lock)
    other = EmulatedCamera(FRAMES, lock_path=lock)
    with holder:
        with pytest.raises(CameraBusy, match=r"held by pid \d+"):
            other.open()
        assert other.opens == 0
    with other:  # released by close()
        assert other.read(1) is not None


@pytest.mark.parametrize("spec", ["opencv:²", "picamera2:²", "picamera2:1²"])
def test_a_superscript_digit_is_not_a_device_number(spec: str) -> None:
    """``"²".isdigit()`` is true and ``int("²")`` raises: a spec must say so in one line."""
    with pytest.raises(SpecError):
        create_camera(spec)


def test_natural_order_survives_digits_that_are_not_decimal(tmp_path: Path) -> None:
    for name in ("10.jpg", "2.jpg", "1²0.jpg"):
        (tmp_path / name).write_bytes(FRAMES[0])
    assert len(load_frames(tmp_path)) == 3
