"""Judging a camera's picture by its content: which of the camera's own pictures it
shows, and turned how.

A camera that plays known pictures (the picamera2 fake's fixtures/frames, the SIL
virtual camera's frames folder) is checked by matching each frame it delivers
against those pictures in each of the eight orientations: the best match must be
the orientation asked for, clearly ahead of any other.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
from PIL import Image

from mjpeg_server.picture import Orientation
from mjpeg_server.picture.orientation import ROTATIONS

#: The eight orientations, each once.
EIGHT = [Orientation(rotate, hflip) for rotate in ROTATIONS for hflip in (False, True)]


def pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32)


def references(folder: Path, size: tuple[int, int]) -> list[np.ndarray]:
    """The ``.jpg`` pictures of ``folder`` scaled to ``size``, as a camera scales them."""
    out = []
    for path in sorted(folder.glob("*.jpg")):
        with Image.open(path) as image:
            out.append(np.asarray(image.convert("RGB").resize(size), dtype=np.float32))
    assert out, f"no pictures in {folder}"
    return out


def _cuts(picture: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """``picture`` cut to ``shape`` at each end a lossless turn may have trimmed (a
    partial block, at one end of each axis)."""
    rows, cols = picture.shape[0] - shape[0], picture.shape[1] - shape[1]
    assert 0 <= rows < 16, (picture.shape, shape)
    assert 0 <= cols < 16, (picture.shape, shape)
    return [
        picture[top : top + shape[0], left : left + shape[1]]
        for top in {0, rows}
        for left in {0, cols}
    ]


def best_match(
    jpeg: bytes, pictures: list[np.ndarray], *, within: float = 8.0
) -> tuple[Orientation, np.ndarray]:
    """The orientation ``jpeg`` shows one of ``pictures`` in, and that picture so turned.

    Scores are mean differences per value (of 255): JPEG's loss and a camera's
    scaling (and an overlay's text) stay below ``within``; the best other
    orientation (a picture mirrored) must be 1.5 further.
    """
    frame = pixels(jpeg)
    portrait = frame.shape[0] > frame.shape[1]
    scored = []
    for picture, orientation in itertools.product(pictures, EIGHT):
        turned = orientation.apply_to_array(picture)
        if (turned.shape[0] > turned.shape[1]) != portrait:
            continue
        for candidate in _cuts(turned, frame.shape):
            scored.append((float(np.abs(candidate - frame).mean()), orientation, candidate))
    scored.sort(key=lambda entry: entry[0])
    best, orientation, candidate = scored[0]
    second = next(score for score, other, _ in scored if other.tj_op != orientation.tj_op)
    assert best < within, f"no picture of the camera's matches: {best:.1f} at best"
    assert second > best + 1.5, f"no clear match: {best:.1f}, then {second:.1f}"
    return orientation, candidate


def overlay_diff(jpeg: bytes, pictures: list[np.ndarray]) -> np.ndarray:
    """How far each pixel of ``jpeg`` is from the camera's picture it shows (max of RGB)."""
    _, picture = best_match(jpeg, pictures)
    diff: np.ndarray = np.abs(pixels(jpeg) - picture).max(axis=2)
    return diff


def assert_text_at(diff: np.ndarray, position: str = "top-left", *, noise: float = 100) -> None:
    """Text where ``position`` (an ``overlay_position``) puts it: in the top or bottom
    sixth, centred in the half it names (``top``/``bottom``: in the middle half), and
    nothing changed beyond the quarter of the picture on that side."""
    height, width = diff.shape
    top = position.startswith("top")
    band = diff[: height // 6] if top else diff[height - height // 6 :]
    _, columns = np.nonzero(band > noise)
    assert len(columns) > 50, f"no text at the {position}"
    low, high = {"left": (0, 0.5), "right": (0.5, 1), "": (0.25, 0.75)}[position.partition("-")[2]]
    centre = columns.mean() / width
    assert low < centre < high, f"the text is centred at {centre:.2f} of the width: not {position}"
    rest = diff[height // 4 :] if top else diff[: height - height // 4]
    assert (rest > noise).sum() == 0, "the picture changed outside the overlay"


def luminance_dc_quantiser(jpeg: bytes) -> int:
    """The first entry of the JPEG's first quantisation table (DQT): libjpeg's standard
    16, scaled by its quality (5000/q below 50, 200-2q above)."""
    return jpeg[jpeg.index(b"\xff\xdb") + 5]
