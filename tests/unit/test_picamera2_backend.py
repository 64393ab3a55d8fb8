"""The picamera2 backend against the picamera2 0.3.38 fake (tests/fakes/picamera2).

The fake is a device: it acquires with a cross-process lock, emits real JPEGs
from its own sensor thread and records opens and closes in files, so
"busy" and "released" are checked with real child processes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mjpeg_server.cameras import CameraBusy, CameraError, CameraFailed, CameraNotFound, SpecError
from mjpeg_server.cameras import create_camera as _create_camera
from mjpeg_server.cameras.picamera2 import (
    Picamera2Camera,
    _quality_level,
    _SensorClock,
    device_holders,
)
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size
from support.server import ServerProcess
from support.waiting import wait_until

FAKES = Path(__file__).resolve().parents[1] / "fakes"
if str(FAKES) not in sys.path:
    sys.path.insert(0, str(FAKES))

import picamera2  # noqa: E402 - the fake, importable only once FAKES is on sys.path

CHILD_HOLDS_CAMERA = """
import sys, picamera2
camera = picamera2.Picamera2(0)
print("ready", flush=True)
sys.stdin.read()
camera.close()
"""

HOLD_FILE = """
import sys
device = open({path!r})
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def fake_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert Path(picamera2.__file__).is_relative_to(FAKES), "the fake must shadow picamera2"
    folder = tmp_path / "fake-picamera2"
    monkeypatch.setenv("FAKE_PICAMERA2_DIR", str(folder))
    for knob in ("CAMERAS", "PLATFORM", "FAIL_AFTER", "STOP_HANG"):
        monkeypatch.delenv(f"FAKE_PICAMERA2_{knob}", raising=False)
    return folder


def create_camera(spec: str) -> Picamera2Camera:
    camera = _create_camera(spec)
    assert isinstance(camera, Picamera2Camera)
    return camera


@pytest.fixture
def camera() -> Iterator[Picamera2Camera]:
    camera = create_camera("picamera2?size=640x360&fps=20")
    yield camera
    camera.close()


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKES), *sys.path])}


@contextlib.contextmanager
def child_holding(script: str) -> Iterator[int]:
    """Run ``script`` in a child process until the block ends; yields its pid once the
    script printed "ready" (it holds what it opened until its stdin closes)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        yield child.pid
    finally:
        child.communicate("", timeout=60)


def test_frames_are_jpegs_of_the_configured_size_at_the_sensor_rate(
    camera: Picamera2Camera,
) -> None:
    camera.open()
    frames = [wait_until(lambda: camera.read(0.5), 10, interval=0) for _ in range(8)]
    assert all(is_complete_jpeg(frame.jpeg) for frame in frames)
    assert {jpeg_size(frame.jpeg) for frame in frames} == {(640, 360)}
    # The sensor's own timestamps: exactly one period per frame number, whatever
    # the scheduling (a frame this reader was too slow for leaves a numbered gap).
    for a, b in itertools.pairwise(frames):
        assert b.seq > a.seq
        assert b.timestamp - a.timestamp == pytest.approx((b.seq - a.seq) * 0.05, abs=1e-5)


def test_close_releases_the_camera_for_another_process(camera: Picamera2Camera) -> None:
    camera.open()
    assert wait_until(lambda: camera.read(0.5), 10, interval=0)
    camera.close()
    camera.close()  # idempotent
    child = subprocess.run(
        [sys.executable, "-c", "import picamera2; picamera2.Picamera2(0).close()"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert picamera2.fake_counts(0) == {"open": 2, "close": 2}


def test_the_same_object_reopens(camera: Picamera2Camera) -> None:
    for _ in range(3):
        camera.open()
        assert wait_until(lambda: camera.read(0.5), 10, interval=0).jpeg
        camera.close()
    assert picamera2.fake_counts(0) == {"open": 3, "close": 3}


def test_a_camera_held_by_another_process_is_busy(camera: Picamera2Camera) -> None:
    with (
        child_holding(CHILD_HOLDS_CAMERA),
        pytest.raises(CameraBusy, match=r"busy, held by .*fuser"),
    ):
        camera.open()
    camera.open()  # released when the child closed it
    assert wait_until(lambda: camera.read(0.5), 10, interval=0)


def test_a_second_open_in_the_same_process_is_busy(camera: Picamera2Camera) -> None:
    camera.open()
    with pytest.raises(CameraBusy):
        create_camera("picamera2").open()


def test_device_holders_names_the_process_with_the_device_open(tmp_path: Path) -> None:
    device = tmp_path / "video7"
    device.touch()
    pattern = re.compile(re.escape(str(device)))
    with child_holding(HOLD_FILE.format(path=str(device))) as pid:
        holders = device_holders(pattern)
    assert len(holders) == 1
    assert holders[0].startswith(f"pid {pid} (python")
    assert device_holders(pattern) == []


@pytest.mark.parametrize(("cameras", "spec"), [("0", "picamera2"), ("1", "picamera2:1")])
def test_no_such_camera_says_how_to_list_them(
    cameras: str, spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", cameras)
    with pytest.raises(CameraNotFound, match="rpicam-hello --list-cameras"):
        create_camera(spec).open()


@pytest.mark.parametrize(
    ("platform", "option", "expected"),
    [
        ("VC4", "auto", "mjpeg"),  # Pi 4 and older: the hardware MJPEG encoder
        ("PISP", "auto", "jpeg"),  # Pi 5: simplejpeg beats libav's MJPEG
        ("VC4", "jpeg", "jpeg"),
        ("PISP", "mjpeg", "mjpeg"),
    ],
)
def test_the_encoder_follows_the_board_unless_chosen(
    platform: str, option: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_PLATFORM", platform)
    camera = create_camera(f"picamera2?encoder={option}&size=320x240")
    camera.open()
    try:
        assert camera.encoder_in_use == expected
        assert f"{expected} encoder" in camera.description
        assert is_complete_jpeg(wait_until(lambda: camera.read(0.5), 10, interval=0).jpeg)
    finally:
        camera.close()


@pytest.mark.parametrize(
    ("quality", "level"), [(1, "VERY_LOW"), (30, "VERY_LOW"), (50, "MEDIUM"), (85, "VERY_HIGH")]
)
def test_quality_picks_the_nearest_mjpeg_level(quality: int, level: str) -> None:
    assert _quality_level(quality) == level


def test_a_dropped_frame_leaves_a_gap_in_the_numbering() -> None:
    clock = _SensorClock(fps=30)
    period_us = 33_333
    stamps = [clock.stamp(t) for t in (0, period_us, 3 * period_us, 4 * period_us + 900)]
    assert [seq for _, seq in stamps] == [0, 1, 3, 4]
    origin = stamps[0][0]
    assert [wall - origin for wall, _ in stamps] == pytest.approx(
        [0, 0.033333, 0.099999, 0.134232], abs=1e-6
    )


def test_a_sensor_that_stops_delivering_reads_none(
    camera: Picamera2Camera, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_FAIL_AFTER", "3")
    camera.open()
    frames = [wait_until(lambda: camera.read(0.5), 10, interval=0)]
    while frames[-1].seq < 2:
        frames.append(wait_until(lambda: camera.read(0.5), 10, interval=0))
    assert frames[-1].seq == 2
    # Then silence, which the hub's stall timeout turns into a reopen.
    assert camera.read(0.5) is None


def test_a_hanging_stop_does_not_block_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_STOP_HANG", "4")
    camera = create_camera("picamera2?size=320x240")
    camera.stop_timeout = 0.2
    camera.open()
    camera.close()  # returns after stop_timeout; the stop goes on in the background
    with pytest.raises(CameraFailed, match="still stopping"):
        camera.open()
    monkeypatch.delenv("FAKE_PICAMERA2_STOP_HANG")
    wait_until(lambda: picamera2.fake_counts(0)["close"] == 1, 60)
    camera.open()
    camera.close()


def test_read_before_open_fails(camera: Picamera2Camera) -> None:
    with pytest.raises(CameraFailed, match="not open"):
        camera.read(0.1)


def test_a_missing_library_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 → ImportError
    with pytest.raises(CameraError, match=r"apt install python3-picamera2.*--system-site-packages"):
        create_camera("picamera2")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("picamera2:front", "camera number"),
        ("picamera2?quality=0", "quality must be >= 1"),
        ("picamera2?quality=101", "quality must be 1-100"),
        ("picamera2?encoder=h264", "encoder must be one of auto, mjpeg, jpeg"),
        ("picamera2?size=big", "not WIDTHxHEIGHT"),
        ("picamera2?fps=0", "fps must be positive"),
        ("picamera2?preview=1", "unknown option preview"),
    ],
)
def test_bad_specs_are_reported_before_touching_the_camera(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        create_camera(spec)
    assert picamera2.fake_counts(0) == {"open": 0, "close": 0}


def test_the_server_streams_the_camera(fake_state: Path) -> None:
    env = {
        "PYTHONPATH": os.pathsep.join([str(FAKES), os.environ.get("PYTHONPATH", "")]),
        "FAKE_PICAMERA2_DIR": str(fake_state),
    }
    with ServerProcess(
        "--camera", "picamera2?size=640x480&fps=15", "--idle-timeout", "0", env=env
    ) as server:
        snapshot = requests.get(server.url("/snapshot.jpg"), timeout=30)
        assert snapshot.status_code == 200
        assert jpeg_size(snapshot.content) == (640, 480)
        status = server.camera_status()
        assert status["resolution"] == [640, 480]
        assert status["last_error"] is None
        # Idle timeout 0: the snapshot's session ends and the camera is released.
        wait_until(lambda: picamera2.fake_counts(0) == {"open": 1, "close": 1}, 30)
