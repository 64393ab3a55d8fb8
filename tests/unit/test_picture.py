"""The picture package: orientation, the lossless transform, the overlay, the options.

Pictures are checked by their content (which corner holds which colour, where
the text's pixels are), decoded by Pillow, an independent decoder.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from mjpeg_server.cameras import CameraSpec, Frame, SpecError, create_camera
from mjpeg_server.cameras.emulated import EmulatedCamera
from mjpeg_server.picture import Orientation, PictureSettings
from mjpeg_server.picture.orientation import TjOp
from mjpeg_server.picture.overlay import POSITIONS, TextOverlay, font_size_for
from mjpeg_server.picture.pipeline import Pipeline
from mjpeg_server.picture.turbojpeg import TurboJPEGError, turbojpeg
from mjpeg_server.wire.jpeg import jpeg_size

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
ORIENTATIONS = [
    Orientation(rotate, hflip, vflip)
    for rotate, hflip, vflip in itertools.product((0, 90, 180, 270), (False, True), (False, True))
]


def quadrants(width: int = 64, height: int = 32) -> np.ndarray:
    """Red, green / blue, yellow quadrants: every orientation looks different."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[: height // 2, : width // 2] = RED
    pixels[: height // 2, width // 2 :] = GREEN
    pixels[height // 2 :, : width // 2] = BLUE
    pixels[height // 2 :, width // 2 :] = YELLOW
    return pixels


def encode(pixels: np.ndarray, subsampling: int = 0, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality, subsampling=subsampling)
    return buffer.getvalue()


def decode(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"))


def corners(pixels: np.ndarray) -> list[tuple[int, ...]]:
    """The colour at the middle of each quadrant, thresholded (JPEG is lossy)."""
    height, width = pixels.shape[:2]
    return [
        tuple(int(v > 127) for v in pixels[y, x])
        for y in (height // 4, 3 * height // 4)
        for x in (width // 4, 3 * width // 4)
    ]


def expected(pixels: np.ndarray, orientation: Orientation) -> np.ndarray:
    """What the user asked for, spelled with numpy: flips first, then clockwise turns."""
    if orientation.hflip:
        pixels = pixels[:, ::-1]
    if orientation.vflip:
        pixels = pixels[::-1]
    return np.rot90(pixels, k=-orientation.rotate // 90)


# -- orientation ---------------------------------------------------------------------


def test_rotate_is_clockwise_after_the_flips() -> None:
    pixels = quadrants()
    turned = expected(pixels, Orientation(rotate=90))
    # Clockwise: the left column (red over blue) becomes the top row (blue, red).
    assert corners(turned)[:2] == [(0, 0, 1), (1, 0, 0)]


@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=str)
def test_every_orientation_has_one_name_in_each_library(orientation: Orientation) -> None:
    pixels = quadrants()
    want = expected(pixels, orientation)
    assert orientation.swaps_axes == (want.shape != pixels.shape)
    assert orientation.is_identity == (
        corners(want) == corners(pixels) and not orientation.swaps_axes
    )
    # numpy (OpenCV frames)
    assert np.array_equal(orientation.apply_to_array(pixels), want)
    # libjpeg-turbo, losslessly
    turned = decode(turbojpeg().transform(encode(pixels), orientation.tj_op))
    assert turned.shape == want.shape
    assert corners(turned) == corners(want)
    # libcamera: flips, then transpose
    hflip, vflip, transpose = orientation.libcamera_transform()
    done = pixels[:, ::-1] if hflip else pixels
    done = done[::-1] if vflip else done
    done = done.swapaxes(0, 1) if transpose else done
    assert np.array_equal(done, want)
    # the camera's flips, then a quarter turn in software (a sensor cannot transpose)
    hflip, vflip = orientation.camera_flips()
    done = pixels[:, ::-1] if hflip else pixels
    done = done[::-1] if vflip else done
    assert np.array_equal(orientation.without_flips().apply_to_array(done), want)


@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=str)
def test_libcamera_bits_inverse_and_what_is_left(orientation: Orientation) -> None:
    pixels = quadrants(8, 6)
    # tj_op names the element: Orientation(180, True, True) is Orientation() spelled otherwise.
    assert Orientation.from_libcamera(*orientation.libcamera_transform()).tj_op == orientation.tj_op
    undone = orientation.inverse().apply_to_array(orientation.apply_to_array(pixels))
    assert np.array_equal(undone, pixels)
    for done in ORIENTATIONS:
        # What a camera did (done), then the rest in software: the whole.
        rest = orientation.after(done)
        whole = rest.apply_to_array(done.apply_to_array(pixels))
        assert np.array_equal(whole, orientation.apply_to_array(pixels)), (done, rest)


@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=str)
def test_source_rect_is_where_a_drawing_must_go_to_come_out_there(
    orientation: Orientation,
) -> None:
    width, height = 12, 7
    for rect in [(0, 0, 1, 1), (2, 1, 5, 3), (0, 0, *orientation.turned_size(width, height))]:
        x, y, w, h = orientation.source_rect(rect, width, height)
        source = np.zeros((height, width), np.uint8)
        source[y : y + h, x : x + w] = 1
        turned = orientation.apply_to_array(source)
        assert turned.shape[::-1] == orientation.turned_size(width, height)
        ys, xs = np.nonzero(turned)
        rx, ry, rw, rh = rect
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (rx, ry, rx + rw, ry + rh)
        assert turned.sum() == rw * rh


def test_exif_tags_follow_the_standard() -> None:
    # EXIF 6 = "rotate 90 CW to display", 8 = 270, 3 = 180, 2/4 mirrors, 5/7 transposes.
    assert Orientation(rotate=90).exif == 6
    assert Orientation(rotate=270).exif == 8
    assert Orientation(rotate=180).exif == 3
    assert Orientation(hflip=True).exif == 2
    assert Orientation(vflip=True).exif == 4
    # Mirrored, then turned clockwise: the anti-diagonal; turned back: the diagonal.
    assert Orientation(rotate=90, hflip=True).tj_op is TjOp.TRANSVERSE
    assert Orientation(rotate=90, hflip=True).exif == 7
    assert Orientation(rotate=270, hflip=True).tj_op is TjOp.TRANSPOSE
    assert Orientation(rotate=270, hflip=True).exif == 5
    assert Orientation(rotate=180, hflip=True, vflip=True).is_identity


# -- the lossless transform --------------------------------------------------------


def test_lossless_transform_keeps_every_coefficient() -> None:
    """Turning four times by 90° gives back the very same picture data."""
    jpeg = encode(quadrants(64, 48), subsampling=2)
    tj = turbojpeg()
    turned = jpeg
    for _ in range(4):
        turned = tj.transform(turned, TjOp.ROT90)
    assert np.array_equal(decode(turned), decode(jpeg))


@pytest.mark.parametrize(
    ("size", "op", "result"),
    [
        ((640, 480), TjOp.ROT90, (480, 640)),  # whole MCUs: nothing lost
        ((1920, 1080), TjOp.ROT270, (1080, 1920)),  # the partial row is the bottom: kept
        ((1920, 1080), TjOp.ROT90, (1072, 1920)),  # 1080 = 67.5 MCUs of 16: 8 rows trimmed
        ((1920, 1080), TjOp.ROT180, (1920, 1072)),
        ((1920, 1080), TjOp.HFLIP, (1920, 1080)),  # 1920 = 120 whole MCUs
    ],
)
def test_partial_edge_blocks_are_trimmed(
    size: tuple[int, int], op: TjOp, result: tuple[int, int]
) -> None:
    """A lossless turn cannot move a partial 16x16 block (4:2:0): it is trimmed."""
    jpeg = encode(np.full((size[1], size[0], 3), 128, np.uint8), subsampling=2, quality=50)
    assert jpeg_size(turbojpeg().transform(jpeg, op)) == result


@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=str)
def test_losslessly_kept_is_what_the_lossless_turn_keeps(orientation: Orientation) -> None:
    width, height = 1000, 360  # both 8 more than a multiple of 16: partial blocks
    jpeg = encode(np.full((height, width, 3), 128, np.uint8), subsampling=2, quality=50)
    kept = orientation.losslessly_kept(width, height)
    assert jpeg_size(turbojpeg().transform(jpeg, orientation.tj_op)) == (
        orientation.turned_size(*kept)
    )


def test_a_corrupt_frame_is_dropped_not_fatal() -> None:
    pipeline = Pipeline(
        orientation=Orientation(rotate=90),
        overlay=None,
        overlay_position="top-left",
        camera="c",
        quality=85,
    )
    assert pipeline.process(Frame(b"\xff\xd8garbage", 0.0, 1)) is None
    assert pipeline.dropped == 1
    with pytest.raises(TurboJPEGError):
        turbojpeg().transform(b"not a jpeg", TjOp.ROT90)


# -- the overlay -------------------------------------------------------------------


def overlay_pixels(jpeg_in: bytes, jpeg_out: bytes) -> np.ndarray:
    """Where the overlay changed the picture (a boolean mask)."""
    diff = np.abs(decode(jpeg_out).astype(int) - decode(jpeg_in).astype(int)).max(axis=2)
    return diff > 60


def draw(size: tuple[int, int], text: str, position: str = "top-left") -> tuple[bytes, bytes]:
    grey = encode(np.full((size[1], size[0], 3), 128, np.uint8), subsampling=2, quality=90)
    pipeline = Pipeline(
        orientation=Orientation(),
        overlay=text,
        overlay_position=position,
        camera="front",
        quality=90,
    )
    frame = pipeline.process(Frame(grey, 1.7e9, 0))
    assert frame is not None
    return grey, frame.jpeg


@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (1920, 1080), (160, 120)])
def test_overlay_text_scales_with_the_picture(size: tuple[int, int]) -> None:
    grey, drawn = draw(size, "%Y-%m-%d %H:%M:%S")
    rows = np.flatnonzero(overlay_pixels(grey, drawn).any(axis=1))
    assert rows.size
    height = rows[-1] - rows[0] + 1
    # About one 24th of the shorter side (outline included), at any resolution.
    assert 0.6 * font_size_for(*size) <= height <= 1.6 * font_size_for(*size)


@pytest.mark.parametrize("position", POSITIONS)
def test_overlay_goes_where_asked_and_never_leaves_the_picture(position: str) -> None:
    width, height = 320, 240
    grey, drawn = draw((width, height), "%Y-%m-%d %H:%M:%S " * 2, position)  # too wide at 10 px
    mask = overlay_pixels(grey, drawn)
    ys, xs = np.nonzero(mask)
    assert xs.size
    margin = 2  # the outline's anti-aliasing, never more
    assert xs.min() >= margin
    assert xs.max() <= width - 1 - margin
    top = ys.max() < height / 2
    assert top == position.startswith("top")
    if position.endswith("left"):
        assert xs.min() < width / 8
    if position.endswith("right"):
        assert xs.max() > width * 7 / 8


def test_a_text_too_long_for_any_font_is_cut_at_the_edge() -> None:
    grey, drawn = draw((64, 48), "x" * 200, "bottom-right")
    assert overlay_pixels(grey, drawn).any()
    assert decode(drawn).shape == (48, 64, 3)


def test_overlay_fields_and_time() -> None:
    overlay = TextOverlay("{camera} %Y {fps} fps {other}", camera="front")
    for n in range(31):  # 30 frames a second for a second
        text = overlay.text_at(1_700_000_000 + n / 30)
    assert text == "front 2023 30 fps {other}"


def test_overlay_is_luma_white_with_neutral_chroma() -> None:
    """White text with a black outline, whatever the scene's colour: no tint."""
    red = encode(np.full((240, 320, 3), RED, np.uint8), subsampling=2, quality=95)
    pipeline = Pipeline(
        orientation=Orientation(),
        overlay="MMMM",
        overlay_position="top-left",
        camera="",
        quality=95,
    )
    frame = pipeline.process(Frame(red, 0.0, 0))
    assert frame is not None
    pixels = decode(frame.jpeg).reshape(-1, 3)
    white = pixels[pixels.astype(int).sum(axis=1).argmax()]
    assert white.min() > 200  # white, not pink


# -- options -------------------------------------------------------------------------


def test_picture_options_in_a_spec() -> None:
    camera = create_camera("emulated?rotate=270&hflip=1&overlay=%H:%M&overlay_position=bottom")
    assert isinstance(camera, EmulatedCamera)
    assert camera.picture == PictureSettings(Orientation(270, True, False), "%H:%M", "bottom")
    relay = create_camera("http://cam:8080/?action=stream#rotate=90&vflip=true")
    assert relay.picture.orientation == Orientation(90, False, True)  # type: ignore[attr-defined]
    assert CameraSpec.parse("http://cam:8080/?action=stream#rotate=90").target == (
        "http://cam:8080/?action=stream"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("emulated?rotate=45", r"rotate='45' is not one of 0, 90, 180, 270"),
        ("emulated?hflip=maybe", r"hflip='maybe' is not 0 or 1"),
        ("emulated?overlay_position=middle", r"overlay_position='middle' is not one of top-left"),
        (f"emulated?overlay={'x' * 201}", "overlay is longer than 200 characters"),
        ("emulated?overlay=a%0Db", "overlay has control characters"),
        ("http://cam/#rotate=1", r"rotate='1' is not one of"),
        ("http://cam/#what=1", r"unknown option what"),
    ],
)
def test_bad_picture_options_are_one_line(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        create_camera(spec)


def test_spec_with_options_round_trips_any_text() -> None:
    spec = CameraSpec.parse("emulated:/srv/frames?fps=5")
    changed = spec.with_options({"overlay": "%d%e 100% {camera}&x=y", "fps": None, "rotate": "90"})
    again = CameraSpec.parse(changed.text)
    assert dict(again.options) == {"overlay": "%d%e 100% {camera}&x=y", "rotate": "90"}
    assert again.target == "/srv/frames"
    relay = CameraSpec.parse("http://cam/?action=stream").with_options({"rotate": "180"})
    assert relay.text == "http://cam/?action=stream#rotate=180"
    assert CameraSpec.parse(relay.text).options == {"rotate": "180"}


def test_a_camera_without_picture_options_loads_no_image_library() -> None:
    """A control costs nothing while unused: no import, no per-frame work."""
    code = textwrap.dedent(
        """
        import sys
        from mjpeg_server.cameras import create_camera
        camera = create_camera("emulated?fps=200")
        camera.open()
        frames = [camera.read(1) for _ in range(20)]
        assert all(f is not None and f.jpeg in camera.frames for f in frames)
        assert camera._pipeline is None
        heavy = {"numpy", "PIL", "mjpeg_server.picture.pipeline", "mjpeg_server.picture.turbojpeg"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
