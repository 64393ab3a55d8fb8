"""The picamera2 fake behaves as picamera2 does where the backend depends on it.

Its signatures are compared with the real library's in tests/sil (where the real
package is installed); these check behaviour the signatures cannot show.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from support.waiting import wait_until

FAKES = Path(__file__).resolve().parents[1] / "fakes"
if str(FAKES) not in sys.path:
    sys.path.insert(0, str(FAKES))

import picamera2  # noqa: E402 - the fake, importable only once FAKES is on sys.path
from picamera2.encoders import JpegEncoder  # noqa: E402
from picamera2.outputs import Output  # noqa: E402


@pytest.fixture(autouse=True)
def fake_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path(picamera2.__file__).is_relative_to(FAKES), "the fake must shadow picamera2"
    monkeypatch.setenv("FAKE_PICAMERA2_DIR", str(tmp_path / "fake-picamera2"))
    for knob in ("CAMERAS", "PLATFORM", "FAIL_AFTER", "STOP_HANG", "VERSION"):
        monkeypatch.delenv(f"FAKE_PICAMERA2_{knob}", raising=False)


class Threads(Output):  # type: ignore[misc]
    """Records the thread each frame is handed over on."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def outputframe(self, frame: bytes | None, *args: Any, **kwargs: Any) -> None:
        self.names.append(threading.current_thread().name)


def recording(output: Output, size: tuple[int, int] = (320, 240)) -> Any:
    camera = picamera2.Picamera2(0)
    camera.configure(camera.create_video_configuration(main={"size": size}))
    camera.start_recording(JpegEncoder(q=80), output)
    return camera


def test_frames_come_from_the_encoders_thread_not_the_sensors() -> None:
    """As JpegEncoder's output thread (and the V4L2 encoder's poll thread) do: a slow
    output delays the encoder, never the sensor."""
    output = Threads()
    camera = recording(output)
    try:
        wait_until(lambda: len(output.names) >= 3, 30)
    finally:
        camera.close()
    assert not any(name.startswith("fake-picamera2-sensor") for name in output.names)
    assert threading.main_thread().name not in output.names


def held_elsewhere(lock: Any) -> bool:
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True


def test_a_close_while_a_stop_hangs_waits_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """picamera2 stops in its event loop under its lock, so a close() from another
    thread (its atexit handler) waits for a hanging stop instead of racing it: an
    exit waits too, which is why the backend replaces that handler."""
    monkeypatch.setenv("FAKE_PICAMERA2_STOP_HANG", "1")
    camera = recording(Threads())
    errors: list[BaseException] = []

    def stop() -> None:
        try:
            camera.stop_recording()
        except BaseException as error:
            errors.append(error)

    stopping = threading.Thread(target=stop)
    stopping.start()
    wait_until(lambda: held_elsewhere(camera.lock), 30)  # the stop is hanging
    camera.close()
    assert not camera.started  # close() returned after the stop, not beside it
    assert not camera.is_open
    stopping.join(30)
    assert errors == []


def test_an_odd_size_is_rounded_down_to_even() -> None:
    camera = picamera2.Picamera2(0)
    try:
        config = camera.create_video_configuration(main={"size": (641, 479)})
        assert config["main"]["size"] == (640, 478)
        with pytest.raises(RuntimeError, match="even"):
            camera.configure({**config, "main": {**config["main"], "size": (641, 479)}})
    finally:
        camera.close()


@pytest.mark.parametrize(
    ("size", "fps", "delivered"),
    [((640, 480), 60, 60.0), ((1920, 1080), 60, 56.03), ((4608, 2592), 30, 14.35)],
)
def test_the_rate_is_clamped_to_the_sensor_mode(
    size: tuple[int, int], fps: float, delivered: float
) -> None:
    camera = picamera2.Picamera2(0)
    try:
        camera.configure(
            camera.create_video_configuration(main={"size": size}, controls={"FrameRate": fps})
        )
        shortest = camera.camera_controls["FrameDurationLimits"][0]
        assert 1e6 / shortest >= delivered - 0.01
        assert camera.frame_rate() == pytest.approx(delivered, abs=0.01)
    finally:
        camera.close()
