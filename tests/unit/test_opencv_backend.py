"""The OpenCV backend on a video file written here with ``cv2.VideoWriter`` (no camera)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mjpeg_server.cameras import CameraError, CameraFailed, SpecError, create_camera
from mjpeg_server.cameras.opencv import OpenCVCamera, as_jpeg
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size
from support.cameras import OpenCameras
from support.server import ServerProcess
from support.waiting import wait_until

cv2 = pytest.importorskip("cv2", reason="OpenCV is the 'opencv' extra: pip install -e '.[opencv]'")
np = pytest.importorskip("numpy")

FRAMES = 24
SIZE = (320, 240)


def write_video(path: Path, frames: int = FRAMES, size: tuple[int, int] = SIZE) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    assert writer.isOpened()
    for number in range(frames):
        image = np.full((size[1], size[0], 3), (40 * number % 256, 80, 160), np.uint8)
        cv2.putText(image, str(number), (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 3, (255,) * 3, 5)
        writer.write(image)
    writer.release()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "clip.avi")


@pytest.fixture
def open_camera() -> Iterator[OpenCameras]:
    cameras = OpenCameras()
    yield cameras
    cameras.close_all()


def opened(spec: str, cameras: OpenCameras) -> OpenCVCamera:
    return cameras.open(spec, OpenCVCamera)


def read_to_the_end(camera: OpenCVCamera) -> list[Any]:
    """Every frame the hub would get, until the end of the file (F1: an error, not silence)."""
    frames = []
    while True:
        try:
            frame = camera.read(10)
        except CameraFailed as error:
            end = error
            break
        assert frame is not None, "the reader stalled"
        frames.append(frame)
    assert "reached the end" in str(end)
    return frames


def test_a_file_plays_every_frame_then_fails_at_its_end(
    video: Path, open_camera: OpenCameras
) -> None:
    camera = opened(f"opencv:{video}?fps=100", open_camera)
    frames = read_to_the_end(camera)
    assert all(is_complete_jpeg(frame.jpeg) for frame in frames)
    assert {jpeg_size(frame.jpeg) for frame in frames} == {SIZE}
    # The handoff drops the oldest frames: a reader that fell behind sees gaps,
    # never repeats.
    seqs = [frame.seq for frame in frames]
    assert seqs == sorted(set(seqs))
    assert seqs[-1] == FRAMES - 1
    with pytest.raises(CameraFailed):  # and it stays failed until reopened
        camera.read(0.1)


def test_the_size_option_scales_file_frames(video: Path, open_camera: OpenCameras) -> None:
    camera = opened(f"opencv:{video}?size=160x120&fps=100&quality=50", open_camera)
    frame = wait_until(lambda: camera.read(1), 30, interval=0)
    assert jpeg_size(frame.jpeg) == (160, 120)


def test_a_file_is_paced_at_fps_and_read_waits_no_longer_than_its_timeout(
    video: Path, open_camera: OpenCameras
) -> None:
    camera = opened(f"opencv:{video}?fps=0.5", open_camera)
    first = wait_until(lambda: camera.read(1), 30, interval=0)
    assert first.seq == 0
    # The next frame is due in 2 s: a short read returns empty-handed.
    assert camera.read(0.05) is None


def test_close_then_reopen_starts_the_file_again(video: Path, open_camera: OpenCameras) -> None:
    camera = opened(f"opencv:{video}?fps=100", open_camera)
    first = [wait_until(lambda: camera.read(1), 30, interval=0) for _ in range(3)]
    camera.close()
    camera.close()  # idempotent
    with pytest.raises(CameraFailed, match="not open"):
        camera.read(0.1)
    camera.open()
    again = wait_until(lambda: camera.read(1), 30, interval=0)
    assert again.seq == 0
    assert first[0].seq == 0


def test_raw_mjpeg_from_a_device_is_passed_through_untouched(video: Path) -> None:
    # What V4L2 hands over with MJPG and CONVERT_RGB off: one row of JPEG bytes.
    jpeg = bytes(cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1])
    raw_row = np.frombuffer(jpeg, np.uint8).reshape(1, -1)
    assert as_jpeg(cv2, raw_row, quality=10) == jpeg
    # A picture whose first pixels happen to read FF D8 is still encoded.
    picture = np.zeros((48, 64), np.uint8)
    picture[0, :2] = (0xFF, 0xD8)
    encoded = as_jpeg(cv2, picture, quality=90)
    assert encoded != picture.tobytes()
    assert jpeg_size(encoded) == (64, 48)


def test_a_missing_device_is_not_found(open_camera: OpenCameras) -> None:
    unused = next(n for n in itertools.count(40) if not Path(f"/dev/video{n}").exists())
    camera = create_camera(f"opencv:{unused}")
    with pytest.raises(CameraError, match=rf"/dev/video{unused}"):
        camera.open()


def test_a_file_opencv_cannot_read_fails_to_open(tmp_path: Path) -> None:
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(CameraFailed, match="cannot open"):
        create_camera(f"opencv:{junk}").open()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("opencv", "say what to open"),
        ("opencv:/no/such/clip.mp4", "no such video file"),
        ("opencv:0?quality=101", "quality must be 1-100"),
        ("opencv:0?size=wide", "not WIDTHxHEIGHT"),
        ("opencv:0?loop=1", "unknown option loop"),
    ],
)
def test_bad_specs_are_reported_at_start_up(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        create_camera(spec)


def test_the_server_streams_a_video_file(video: Path, tmp_path: Path) -> None:
    long_video = write_video(tmp_path / "long.avi", frames=200)
    with ServerProcess("--camera", f"opencv:{long_video}?fps=20", "--idle-timeout", "1") as server:
        with requests.get(server.url("/stream.mjpg"), stream=True, timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
            received = b""
            for chunk in response.iter_content(65536):
                received += chunk
                if received.count(b"Content-Type: image/jpeg") >= 5:
                    break
        status = server.camera_status()
        assert status["resolution"] == list(SIZE)
        assert status["last_error"] is None
        assert int(str(status["frames_captured"])) >= 5
        wait_until(lambda: server.camera_status()["clients"] == 0, 30)
