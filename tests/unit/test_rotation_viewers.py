"""Who sees a turned picture: real ffmpeg and OpenCV read the real server's stream.

This is why the server turns frames losslessly instead of tagging them with
EXIF orientation (which costs almost nothing). Measured here: OpenCV's
VideoCapture (so motionEye, OpenCV scripts, anything reading frames as
arrays) ignores the tag and shows the picture unturned; the ffmpeg command
line (Debian's 5.1) honours it only because it autorotates by default
(``-noautorotate``, or a library user of libavcodec that does not apply the
display matrix, gets it unturned); and the stream's declared size stays the
camera's. A losslessly turned frame is turned for every reader.
(Chromium honours the tag: ``tests/browser/test_controls_panel.py``.)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mjpeg_server.picture import Orientation
from support.exif import exif_app1, with_exif
from support.fixtures import FIXTURES
from support.server import ServerProcess
from support.waiting import LIVENESS

cv2 = pytest.importorskip("cv2", reason="OpenCV is the 'opencv' extra")
UPRIGHT, TURNED = (640, 480), (480, 640)


@pytest.fixture(scope="module")
def exif_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test frames, each tagged "turn 90° clockwise to display"."""
    folder = tmp_path_factory.mktemp("exif")
    tag = exif_app1(Orientation(rotate=90).exif)
    for path in sorted((FIXTURES / "frames").glob("*.jpg")):
        (folder / path.name).write_bytes(with_exif(path.read_bytes(), tag))
    return folder


def ffmpeg_size(url: str, tmp_path: Path, *options: str) -> tuple[int, int]:
    """The size of the first frame the ffmpeg command decodes from the stream."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    out = tmp_path / "frame.png"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *options, "-i", url, "-frames:v", "1", str(out)],
        check=True,
        timeout=LIVENESS,
    )
    image = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    return image.shape[1], image.shape[0]


def opencv_size(url: str) -> tuple[int, int]:
    capture = cv2.VideoCapture(url)
    try:
        ok, image = capture.read()
        assert ok, f"OpenCV read nothing from {url}"
        return image.shape[1], image.shape[0]
    finally:
        capture.release()


def test_exif_orientation_is_ignored_by_opencv_and_by_ffmpeg_without_autorotate(
    exif_frames: Path, tmp_path: Path
) -> None:
    with ServerProcess("--camera", f"emulated:{exif_frames}?fps=10") as server:
        url = server.url("/stream.mjpg")
        assert opencv_size(url) == UPRIGHT
        assert ffmpeg_size(url, tmp_path, "-noautorotate") == UPRIGHT
        assert ffmpeg_size(url, tmp_path) == TURNED  # the CLI's default: autorotate


def test_a_losslessly_turned_stream_is_turned_for_ffmpeg_and_opencv(tmp_path: Path) -> None:
    with ServerProcess("--camera", "emulated?fps=10&rotate=90") as server:
        url = server.url("/stream.mjpg")
        assert opencv_size(url) == TURNED
        assert ffmpeg_size(url, tmp_path, "-noautorotate") == TURNED
        assert ffmpeg_size(url, tmp_path) == TURNED
