"""Orientation and overlay on each software backend: OpenCV (a video file it
encodes), the http relay (JPEGs it passes on) and the emulated camera."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mjpeg_server.cameras import Camera, create_camera
from mjpeg_server.cameras.emulated import bundled_frames_dir
from mjpeg_server.client.stream import iter_frames
from mjpeg_server.wire.jpeg import jpeg_size
from support import pictures
from support.server import ServerProcess
from support.waiting import LIVENESS

cv2 = pytest.importorskip("cv2", reason="OpenCV is the 'opencv' extra")


def frames_of(camera: Camera, count: int) -> list[bytes]:
    camera.open()
    try:
        out = []
        while len(out) < count:
            frame = camera.read(LIVENESS)
            assert frame is not None
            out.append(frame.jpeg)
        return out
    finally:
        camera.close()


def pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB")).astype(int)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 320x240 clip whose left half is dark and right half bright."""
    path = tmp_path_factory.mktemp("video") / "halves.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    for _ in range(10):
        image = np.zeros((240, 320, 3), np.uint8)
        image[:, 160:] = 220
        writer.write(image)
    writer.release()
    return path


@pytest.mark.parametrize(
    ("options", "size", "bright"),
    [
        ("hflip=0", (320, 240), "right"),
        ("rotate=90", (240, 320), "bottom"),
        ("rotate=270", (240, 320), "top"),
        ("hflip=1", (320, 240), "left"),
        ("rotate=180&hflip=1", (320, 240), "right"),  # mirrored twice: only vflip, same halves
    ],
)
def test_opencv_turns_the_pixels_before_it_encodes(
    video: Path, options: str, size: tuple[int, int], bright: str
) -> None:
    camera = create_camera(f"opencv:{video}?fps=100&{options}")
    (jpeg,) = frames_of(camera, 1)
    assert jpeg_size(jpeg) == size
    picture = pixels(jpeg)
    height, width = picture.shape[:2]
    halves = {
        "left": picture[:, : width // 2],
        "right": picture[:, width // 2 :],
        "top": picture[: height // 2],
        "bottom": picture[height // 2 :],
    }
    assert halves[bright].mean() > 180


def test_opencv_overlay_is_drawn_before_encoding(video: Path) -> None:
    plain = pixels(frames_of(create_camera(f"opencv:{video}?fps=100"), 1)[0])
    drawn = pixels(frames_of(create_camera(f"opencv:{video}?fps=100&overlay=HELLO"), 1)[0])
    changed = np.abs(drawn - plain).max(axis=2) > 60
    ys, xs = np.nonzero(changed)
    assert ys.size
    assert ys.max() < 60  # top-left, the default
    assert xs.max() < 160


def test_relay_turns_the_upstream_frames() -> None:
    with (
        ServerProcess("--camera", "emulated?fps=30") as upstream,
        ServerProcess(
            "--camera", upstream.url("/stream.mjpg") + "#rotate=90&overlay=%H:%M:%S"
        ) as relay,
    ):
        for frame in iter_frames(relay.url("/stream.mjpg"), timeout=LIVENESS):
            assert jpeg_size(frame.jpeg) == (480, 640)
            break
        controls = relay.status()  # still one upstream viewer for all
        assert controls["cameras"]["default"]["resolution"] == [480, 640]  # type: ignore[index]


def test_emulated_size_and_quality_are_done_once_at_open() -> None:
    camera = create_camera("emulated?fps=100&size=320x240&quality=40")
    frames = frames_of(camera, 6)
    assert {jpeg_size(jpeg) for jpeg in frames} == {(320, 240)}
    assert len(set(frames)) == 3  # the three test frames, re-encoded once, then cycled


# -- the emulated camera: each option on the frames it plays ------------------------------


@pytest.fixture(scope="module")
def emulated_pictures() -> list[np.ndarray]:
    return pictures.references(bundled_frames_dir(), (640, 480))


@pytest.mark.parametrize(
    "options", ["hflip=1", "vflip=1", "rotate=90", "rotate=180", "rotate=270&hflip=1"]
)
def test_emulated_turns_its_frames(options: str, emulated_pictures: list[np.ndarray]) -> None:
    camera = create_camera(f"emulated?fps=100&{options}")
    asked = camera.picture.orientation  # type: ignore[attr-defined]
    for jpeg in frames_of(camera, 3):
        shown, _ = pictures.best_match(jpeg, emulated_pictures)
        assert shown.tj_op == asked.tj_op, (shown, asked)


@pytest.mark.parametrize(
    ("position", "options"),
    [("top-left", ""), ("top-right", "&rotate=90"), ("bottom-left", ""), ("bottom", "&vflip=1")],
)
def test_emulated_overlay_goes_where_overlay_position_says(
    position: str, options: str, emulated_pictures: list[np.ndarray]
) -> None:
    spec = f"emulated?fps=100&overlay=%H:%M:%S+{{camera}}&overlay_position={position}{options}"
    for jpeg in frames_of(create_camera(spec), 3):
        pictures.assert_text_at(pictures.overlay_diff(jpeg, emulated_pictures), position)
