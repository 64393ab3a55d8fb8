"""The overlay drawn into a camera's buffer (picamera2's pre-callback): each format's
layout, with row padding, checked against the overlay drawn on plain planes."""

from __future__ import annotations

import numpy as np
import pytest

from mjpeg_server.picture import Orientation
from mjpeg_server.picture.buffers import FORMATS, BufferOverlay
from mjpeg_server.picture.overlay import TextOverlay

WIDTH, HEIGHT = 320, 240
TEXT = "%H:%M:%S {camera}"
PADDING = 7  # what the row padding holds: never written
Y, U, V = 100, 90, 170  # a tinted grey, so neutralised chroma shows
STAMP = 1.7e9


def reference(turn: Orientation | None = None) -> np.ndarray:
    """The luma with the text drawn on a plain plane of the turned size."""
    width, height = (turn or Orientation()).turned_size(WIDTH, HEIGHT)
    luma = np.full((height, width), Y, np.uint8)
    TextOverlay(TEXT, camera="front").draw_planes(luma, [], STAMP)
    return luma


def make_buffer(fmt: str, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """A buffer of the format holding the tinted grey, and which of its bytes are
    row padding (set to PADDING)."""
    value = np.uint8(Y)
    if fmt in ("YUV420", "YVU420", "NV12", "NV21"):
        luma = np.full((HEIGHT, stride), PADDING, np.uint8)
        luma[:, :WIDTH] = value
        if fmt.startswith("NV"):
            pairs = np.full((HEIGHT // 2, stride), PADDING, np.uint8)
            pairs[:, 0:WIDTH:2], pairs[:, 1:WIDTH:2] = U, V
            chroma = [pairs]
        else:
            chroma = [np.full((HEIGHT // 2, stride // 2), PADDING, np.uint8) for _ in "uv"]
            chroma[0][:, : WIDTH // 2], chroma[1][:, : WIDTH // 2] = U, V
        planes = [luma, *chroma]
        padding = [np.ones(plane.shape, bool) for plane in planes]
        padding[0][:, :WIDTH] = False
        for mask in padding[1:]:
            mask[:, : WIDTH if fmt.startswith("NV") else WIDTH // 2] = False
    else:
        depth = 4 if fmt.startswith("X") else 3
        rows = np.full((HEIGHT, stride), PADDING, np.uint8)
        rows[:, : WIDTH * depth] = value
        planes, padding = [rows], [np.ones(rows.shape, bool)]
        padding[0][:, : WIDTH * depth] = False
    return (
        np.concatenate([plane.ravel() for plane in planes]),
        np.concatenate([mask.ravel() for mask in padding]),
    )


def luma_of(fmt: str, buffer: np.ndarray, stride: int) -> np.ndarray:
    rows = buffer[: stride * HEIGHT].reshape(HEIGHT, stride)
    if fmt in ("YUV420", "YVU420", "NV12", "NV21"):
        return rows[:, :WIDTH]
    depth = 4 if fmt.startswith("X") else 3
    pixels = rows[:, : WIDTH * depth].reshape(HEIGHT, WIDTH, depth)
    assert (pixels[:, :, 0] == pixels[:, :, 1]).all()  # white and black on every channel
    return pixels[:, :, 0]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("padded", [False, True], ids=["no-padding", "padded"])
def test_each_format_gets_the_text_in_its_luma_and_nothing_outside(fmt: str, padded: bool) -> None:
    depth = 4 if fmt.startswith("X") else 3 if fmt.endswith("888") else 1
    stride = WIDTH * depth + (64 if padded else 0)
    buffer, padding = make_buffer(fmt, stride)
    before = buffer.copy()
    drawer = BufferOverlay(
        TextOverlay(TEXT, camera="front"), format=fmt, size=(WIDTH, HEIGHT), stride=stride
    )
    drawer.draw(buffer, STAMP)
    assert np.array_equal(luma_of(fmt, buffer, stride), reference())
    assert np.array_equal(buffer[padding], before[padding])  # the row padding: untouched
    if fmt in ("NV12", "NV21", "YUV420", "YVU420"):
        # Under the text the colour goes towards neutral: U up from 90, V down from 170.
        chroma, was = buffer[stride * HEIGHT :], before[stride * HEIGHT :]
        moved = chroma != was
        assert moved.any()
        assert (np.where(was[moved] == U, chroma[moved] > U, chroma[moved] < V)).all()
        assert ((chroma[moved] >= U) & (chroma[moved] <= V)).all()


@pytest.mark.parametrize(
    "turn", [Orientation(rotate=90), Orientation(rotate=270), Orientation(rotate=90, hflip=True)]
)
@pytest.mark.parametrize("fmt", ["NV12", "XBGR8888"])
def test_a_picture_turned_after_drawing_gets_its_text_upright(fmt: str, turn: Orientation) -> None:
    """picamera2 turns a quarter in software after the encoder: the text drawn into the
    buffer beforehand, turned with the picture, is the text drawn on the turned picture."""
    depth = 4 if fmt.startswith("X") else 1
    stride = WIDTH * depth
    buffer, _ = make_buffer(fmt, stride)
    drawer = BufferOverlay(
        TextOverlay(TEXT, camera="front"),
        format=fmt,
        size=(WIDTH, HEIGHT),
        stride=stride,
        turn=turn,
    )
    drawer.draw(buffer, STAMP)
    turned = turn.apply_to_array(luma_of(fmt, buffer, stride))
    assert np.array_equal(turned, reference(turn))


@pytest.mark.parametrize("turn", [Orientation(rotate=90), Orientation(rotate=270)], ids=str)
def test_the_text_is_placed_for_what_the_lossless_turn_keeps(turn: Orientation) -> None:
    """640x360 turned losslessly by 90° loses the partial 16-pixel block row at the
    bottom (by 270°, nothing): the text is placed for the picture that comes out."""
    width, height = 640, 360
    luma = np.full((height, width), Y, np.uint8)
    buffer = np.concatenate([luma.ravel(), np.full(width * height // 2, U, np.uint8)])
    overlay = TextOverlay(TEXT, camera="front")
    BufferOverlay(overlay, format="NV12", size=(width, height), stride=width, turn=turn).draw(
        buffer, STAMP
    )
    kept_w, kept_h = turn.losslessly_kept(width, height)
    assert (kept_w, kept_h) == ((640, 352) if turn.rotate == 90 else (640, 360))
    # What the lossless turn gives: the kept part, turned.
    result = turn.apply_to_array(buffer[: width * height].reshape(height, width)[:kept_h, :kept_w])
    expected = np.full(result.shape, Y, np.uint8)
    TextOverlay(TEXT, camera="front").draw_planes(expected, [], STAMP)
    assert np.array_equal(result, expected)


def test_a_format_it_cannot_draw_on_is_refused() -> None:
    with pytest.raises(ValueError, match=r"cannot draw an overlay on YUYV buffers \(can: YUV420"):
        BufferOverlay(TextOverlay("x"), format="YUYV", size=(WIDTH, HEIGHT), stride=WIDTH * 2)
