"""What each picture control costs per frame, in CPU time (``tox -e bench``).

Every figure is ``time.process_time`` per frame of this process (one thread,
so CPU time of the work itself), median of pytest-benchmark's rounds, on
camera-like frames (``fixtures/make_frames.py --detail``, quality 85, 4:2:0)
at 640x480, 1280x720 and 1920x1080.

Rotation by 90° three ways, to choose by:

- ``exif``: an APP1 segment with the EXIF orientation tag put after SOI. A
  copy of the frame, nothing else; but OpenCV's VideoCapture ignores it, the
  ffmpeg command honours it only through its default autorotate, and the
  stream's declared size stays unturned (``tests/unit/test_rotation_viewers.py``);
  browsers honour it.
- ``lossless``: libjpeg-turbo's ``tjTransform`` (entropy decode, re-order the
  DCT blocks, entropy encode; no IDCT, no quantisation): what the server uses.
- ``reencode_pillow`` / ``reencode_simplejpeg``: decode, turn the pixels, encode
  again at quality 85 (a generation of JPEG loss on every frame).

Then the other controls as the server runs them: flips (lossless), the
overlay (decode to YUV, draw, encode), overlay plus rotation, and the cost of
a control that is not set (the emulated camera's read with no pipeline).

Last, the overlay as a Pi camera draws it: blended into the camera's buffer
before its encoder (NV12 as on the SIL stack, XBGR8888 as on a Pi). The whole
Pi camera path (libcamera's Transform, the quarter turn, the pre-callback on
the real picamera2) is measured on the SIL stack: ``tox -e sil-bench -- picture``.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from mjpeg_server.cameras import Frame, create_camera
from mjpeg_server.picture import Orientation
from mjpeg_server.picture.orientation import TjOp
from mjpeg_server.picture.pipeline import Pipeline
from mjpeg_server.picture.turbojpeg import turbojpeg
from mjpeg_server.wire.jpeg import jpeg_size
from support.exif import exif_app1, with_exif

MAKE_FRAMES = Path(__file__).resolve().parents[2] / "fixtures" / "make_frames.py"
SIZES = ("640x480", "1280x720", "1920x1080")
QUALITY = 85
CPU = pytest.mark.benchmark(timer=time.process_time, min_rounds=20)


@pytest.fixture(scope="module", params=SIZES)
def jpeg(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp(f"frames-{request.param}")
    subprocess.run(
        [sys.executable, str(MAKE_FRAMES), str(folder), "--size", request.param, "--detail"],
        check=True,
        capture_output=True,
    )
    return (folder / "1.jpg").read_bytes()


def reencode_pillow(jpeg: bytes) -> bytes:
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(jpeg)) as image:
        turned = image.transpose(Image.Transpose.ROTATE_270)  # 270° anticlockwise = 90° cw
        out = io.BytesIO()
        turned.save(out, "JPEG", quality=QUALITY)
        return out.getvalue()


def pipeline(**options: object) -> Pipeline:
    settings: dict[str, object] = {
        "orientation": Orientation(),
        "overlay": None,
        "overlay_position": "bottom-left",
        "camera": "front",
        "quality": QUALITY,
    }
    settings.update(options)
    return Pipeline(**settings)  # type: ignore[arg-type]


def run(benchmark: BenchmarkFixture, jpeg: bytes, work: Callable[[bytes], bytes]) -> None:
    width, height = jpeg_size(jpeg) or (0, 0)
    benchmark.extra_info.update(size=f"{width}x{height}", jpeg_bytes=len(jpeg))
    out = benchmark(work, jpeg)
    benchmark.extra_info["out_size"] = "x".join(map(str, jpeg_size(out) or ()))


# -- rotation by 90°: the three candidates --------------------------------------------


@CPU
def test_rotate90_exif(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    tag = exif_app1(Orientation(rotate=90).exif)
    run(benchmark, jpeg, lambda data: with_exif(data, tag))


@CPU
def test_rotate90_lossless(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    tj = turbojpeg()
    run(benchmark, jpeg, lambda data: tj.transform(data, TjOp.ROT90))


@CPU
def test_rotate90_reencode_pillow(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    run(benchmark, jpeg, reencode_pillow)


@CPU
def test_rotate90_reencode_simplejpeg(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    simplejpeg = pytest.importorskip("simplejpeg")
    np = pytest.importorskip("numpy")

    def work(data: bytes) -> bytes:
        pixels = simplejpeg.decode_jpeg(data)
        turned = np.ascontiguousarray(np.rot90(pixels, k=-1))
        encoded: bytes = simplejpeg.encode_jpeg(turned, quality=QUALITY, colorsubsampling="420")
        return encoded

    run(benchmark, jpeg, work)


# -- the controls as the server runs them ----------------------------------------------


@CPU
def test_hflip_lossless(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    tj = turbojpeg()
    run(benchmark, jpeg, lambda data: tj.transform(data, TjOp.HFLIP))


@CPU
def test_rotate180_lossless(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    tj = turbojpeg()
    run(benchmark, jpeg, lambda data: tj.transform(data, TjOp.ROT180))


def frames_through(work: Pipeline) -> Callable[[bytes], bytes]:
    seq = iter(range(1 << 62))

    def process(data: bytes) -> bytes:
        # A new second every 30 frames: the text is re-rendered as often as a clock's.
        n = next(seq)
        frame = work.process(Frame(data, 1_700_000_000 + n / 30, n))
        assert frame is not None
        return frame.jpeg

    return process


@CPU
def test_overlay_clock(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    work = pipeline(overlay="{camera} %Y-%m-%d %H:%M:%S {fps} fps")
    run(benchmark, jpeg, frames_through(work))


@CPU
def test_overlay_clock_and_rotate90(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    work = pipeline(overlay="%Y-%m-%d %H:%M:%S", orientation=Orientation(rotate=90))
    run(benchmark, jpeg, frames_through(work))


@CPU
def test_unused_controls_emulated_read(benchmark: BenchmarkFixture, jpeg: bytes) -> None:
    """No control set: the camera's read with no pipeline (for comparison with the above)."""
    camera = create_camera("emulated?fps=1000000")
    camera.frames = [jpeg]  # type: ignore[attr-defined]
    camera.open()
    try:

        def read(_: bytes) -> bytes:
            frame = camera.read(1)
            assert frame is not None
            return frame.jpeg

        run(benchmark, jpeg, read)
    finally:
        camera.close()


# -- a Pi camera: the overlay drawn into the camera's buffer (picamera2's pre_callback) --


@pytest.fixture(params=["NV12", "XBGR8888"])
def camera_buffer(request: pytest.FixtureRequest, jpeg: bytes) -> tuple[str, tuple[int, int], Any]:
    """A camera's buffer of the frame's size: NV12 (the SIL stack's virtual camera) or
    XBGR8888 (picamera2's default video format on a Pi)."""
    np = pytest.importorskip("numpy")
    width, height = jpeg_size(jpeg) or (0, 0)
    depth = 4 if request.param == "XBGR8888" else 1
    size = width * height * depth + (width * height // 2 if depth == 1 else 0)
    return request.param, (width, height), np.full(size, 100, np.uint8)


@CPU
def test_overlay_into_the_camera_buffer(
    benchmark: BenchmarkFixture, camera_buffer: tuple[str, tuple[int, int], Any]
) -> None:
    """What picamera2's pre-callback does per frame: blend the clock into the buffer
    before the camera's encoder (no decode, no encode)."""
    from mjpeg_server.picture.buffers import BufferOverlay  # noqa: PLC0415
    from mjpeg_server.picture.overlay import TextOverlay  # noqa: PLC0415

    fmt, (width, height), buffer = camera_buffer
    depth = 4 if fmt == "XBGR8888" else 1
    drawer = BufferOverlay(
        TextOverlay("{camera} %Y-%m-%d %H:%M:%S {fps} fps", "bottom-left", camera="front"),
        format=fmt,
        size=(width, height),
        stride=width * depth,
    )
    seq = iter(range(1 << 62))
    benchmark.extra_info.update(size=f"{width}x{height}", format=fmt)
    benchmark(lambda: drawer.draw(buffer, 1_700_000_000 + next(seq) / 30))
