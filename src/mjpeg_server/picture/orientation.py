"""Orientation: ``rotate=0|90|180|270``, ``hflip=1``, ``vflip=1`` as one of the
eight ways a rectangle can be turned and mirrored (the dihedral group D4).

Meaning, for users: the flips mirror the camera's picture first (``hflip``
left-right, ``vflip`` top-bottom), then ``rotate`` turns it clockwise. So a
camera mounted upside down is ``rotate=180``, one lying on its left side
``rotate=90``.

Every consumer names the same eight elements differently, and this module is
the one place that translates: libcamera's ``Transform`` (hflip, vflip,
transpose, the transpose applied after the flips), libjpeg-turbo's lossless
``TJXOP_*`` operations, and the EXIF orientation tag. Pure code, no imports
beyond the standard library: parsing a spec must not load an image library.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Any

__all__ = ["ROTATIONS", "Orientation", "TjOp"]

#: The values ``rotate=`` accepts (degrees clockwise).
ROTATIONS = (0, 90, 180, 270)

# A D4 element as a 2x2 integer matrix acting on (x, y) with y pointing down.
_Matrix = tuple[int, int, int, int]
_IDENTITY: _Matrix = (1, 0, 0, 1)
_HFLIP: _Matrix = (-1, 0, 0, 1)
_VFLIP: _Matrix = (1, 0, 0, -1)
_TRANSPOSE: _Matrix = (0, 1, 1, 0)
#: Clockwise by 90°: the top-right corner (1, -1) goes to the bottom right (1, 1).
_ROT90: _Matrix = (0, -1, 1, 0)


def _mul(a: _Matrix, b: _Matrix) -> _Matrix:
    """``a · b``: apply ``b`` first, then ``a``."""
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    )


def _libcamera_matrix(hflip: bool, vflip: bool, transpose: bool) -> _Matrix:
    """libcamera's ``Transform`` bits as a matrix: the flips first, then the transpose."""
    matrix = _IDENTITY
    if hflip:
        matrix = _mul(_HFLIP, matrix)
    if vflip:
        matrix = _mul(_VFLIP, matrix)
    if transpose:
        matrix = _mul(_TRANSPOSE, matrix)
    return matrix


class TjOp(IntEnum):
    """libjpeg-turbo's lossless transform operations (``TJXOP_*`` in turbojpeg.h)."""

    NONE = 0
    HFLIP = 1
    VFLIP = 2
    TRANSPOSE = 3
    TRANSVERSE = 4
    ROT90 = 5
    ROT180 = 6
    ROT270 = 7


_TJ_MATRICES: dict[_Matrix, TjOp] = {
    _IDENTITY: TjOp.NONE,
    _HFLIP: TjOp.HFLIP,
    _VFLIP: TjOp.VFLIP,
    _TRANSPOSE: TjOp.TRANSPOSE,
    (0, -1, -1, 0): TjOp.TRANSVERSE,
    _ROT90: TjOp.ROT90,
    (-1, 0, 0, -1): TjOp.ROT180,
    (0, 1, -1, 0): TjOp.ROT270,
}
# libjpeg-turbo's lossless transform cannot move a partial block at the source's right
# or bottom edge to the left or top, so it trims it (TJXOPT_TRIM; transupp.c):
# (right edge trimmed, bottom edge trimmed) per operation, in source terms.
_TRIMS: dict[TjOp, tuple[bool, bool]] = {
    TjOp.NONE: (False, False),
    TjOp.HFLIP: (True, False),
    TjOp.VFLIP: (False, True),
    TjOp.TRANSPOSE: (False, False),
    TjOp.TRANSVERSE: (True, True),
    TjOp.ROT90: (False, True),
    TjOp.ROT180: (True, True),
    TjOp.ROT270: (True, False),
}
#: The largest JPEG block (MCU) a camera's encoder uses: 16x16, for 4:2:0.
MCU = 16
# EXIF orientation: the operation a viewer applies to show the picture upright.
_EXIF: dict[TjOp, int] = {
    TjOp.NONE: 1,
    TjOp.HFLIP: 2,
    TjOp.ROT180: 3,
    TjOp.VFLIP: 4,
    TjOp.TRANSPOSE: 5,
    TjOp.ROT90: 6,
    TjOp.TRANSVERSE: 7,
    TjOp.ROT270: 8,
}


@dataclass(frozen=True)
class Orientation:
    """``rotate`` (clockwise, after the flips), ``hflip`` and ``vflip`` as given by the user."""

    rotate: int = 0
    hflip: bool = False
    vflip: bool = False

    def __post_init__(self) -> None:
        if self.rotate not in ROTATIONS:
            raise ValueError(f"rotate must be one of 0, 90, 180, 270, not {self.rotate}")

    @cached_property
    def _matrix(self) -> _Matrix:
        matrix = _IDENTITY
        if self.hflip:
            matrix = _mul(_HFLIP, matrix)
        if self.vflip:
            matrix = _mul(_VFLIP, matrix)
        for _ in range(self.rotate // 90):
            matrix = _mul(_ROT90, matrix)
        return matrix

    @property
    def is_identity(self) -> bool:
        return self._matrix == _IDENTITY

    @property
    def swaps_axes(self) -> bool:
        """True when width and height trade places (90° or 270°, after any flips)."""
        return self._matrix[0] == 0

    @property
    def tj_op(self) -> TjOp:
        """The one libjpeg-turbo operation that does all of it."""
        return _TJ_MATRICES[self._matrix]

    @property
    def exif(self) -> int:
        """The EXIF orientation tag (1-8) that makes a viewer show it so."""
        return _EXIF[self.tj_op]

    def libcamera_transform(self) -> tuple[bool, bool, bool]:
        """``(hflip, vflip, transpose)`` as libcamera's ``Transform`` takes them:
        the flips first, then the transpose."""
        for hflip in (False, True):
            for vflip in (False, True):
                for transpose in (False, True):
                    if _libcamera_matrix(hflip, vflip, transpose) == self._matrix:
                        return hflip, vflip, transpose
        raise AssertionError("unreachable: D4 has eight elements")

    @classmethod
    def _of(cls, matrix: _Matrix) -> Orientation:
        """The orientation with this matrix, spelled as a turn of a picture mirrored or not."""
        for rotate in ROTATIONS:
            for hflip in (False, True):
                orientation = cls(rotate=rotate, hflip=hflip)
                if orientation._matrix == matrix:
                    return orientation
        raise AssertionError(f"not an element of D4: {matrix}")

    @classmethod
    def from_libcamera(cls, hflip: bool, vflip: bool, transpose: bool) -> Orientation:
        """What a libcamera ``Transform`` with these bits does (the flips, then the transpose)."""
        return cls._of(_libcamera_matrix(hflip, vflip, transpose))

    def inverse(self) -> Orientation:
        """The orientation that undoes this one (a D4 matrix's inverse is its transpose)."""
        a, b, c, d = self._matrix
        return self._of((a, c, b, d))

    def after(self, done: Orientation) -> Orientation:
        """What is left to do once ``done`` was done: ``rest`` such that doing ``done``
        then ``rest`` is this orientation (what a camera did not, software does)."""
        return self._of(_mul(self._matrix, done.inverse()._matrix))

    def turned_size(self, width: int, height: int) -> tuple[int, int]:
        return (height, width) if self.swaps_axes else (width, height)

    def losslessly_kept(self, width: int, height: int, mcu: int = MCU) -> tuple[int, int]:
        """The part of a ``width`` x ``height`` JPEG (from its top left) that the lossless
        transform keeps: a partial block it would have to move to the left or top is
        trimmed. With ``mcu`` the largest block size, what is drawn inside it is never
        cut off, whatever the encoder's subsampling."""
        right, bottom = _TRIMS[self.tj_op]
        return (
            width - width % mcu if right else width,
            height - height % mcu if bottom else height,
        )

    def source_rect(
        self, rect: tuple[int, int, int, int], width: int, height: int
    ) -> tuple[int, int, int, int]:
        """The rectangle ``(x, y, w, h)`` of a ``width`` x ``height`` picture that this
        orientation turns into ``rect`` of the turned picture (for drawing on a picture
        before it is turned, so that the drawing comes out upright)."""
        x, y, w, h = rect
        out_w, out_h = self.turned_size(width, height)
        a, b, c, d = self._matrix  # the inverse is the transpose: (a, c, b, d)
        xs, ys = [], []
        for cx, cy in ((x, y), (x + w - 1, y + h - 1)):
            # Pixel centres relative to the picture's centre, doubled to stay whole numbers.
            px, py = 2 * cx - (out_w - 1), 2 * cy - (out_h - 1)
            sx, sy = a * px + c * py, b * px + d * py
            xs.append((sx + width - 1) // 2)
            ys.append((sy + height - 1) // 2)
        return min(xs), min(ys), abs(xs[1] - xs[0]) + 1, abs(ys[1] - ys[0]) + 1

    def apply_to_array(self, pixels: Any) -> Any:
        """``pixels`` (a numpy array, rows first) turned so: a view, no copy."""
        if self.hflip:
            pixels = pixels[:, ::-1]
        if self.vflip:
            pixels = pixels[::-1]
        quarter_turns = self.rotate // 90
        if quarter_turns == 1:  # clockwise: the last row becomes the first column
            pixels = pixels[::-1].swapaxes(0, 1)
        elif quarter_turns == 2:
            pixels = pixels[::-1, ::-1]
        elif quarter_turns == 3:
            pixels = pixels.swapaxes(0, 1)[::-1]
        return pixels

    def without_flips(self) -> Orientation:
        """What is left for software when the camera does the flips and 180° (libcamera
        without transpose): a rotation of 90° when the whole needs a transpose, else none.

        libcamera's sensors flip but cannot transpose, so ``hflip, vflip`` go to the
        camera and the software adds the transpose as a clockwise quarter turn; the
        camera's flips are adjusted to match (:meth:`camera_flips`).
        """
        return Orientation(rotate=90) if self.swaps_axes else Orientation()

    def camera_flips(self) -> tuple[bool, bool]:
        """The flips the camera does so that :meth:`without_flips` afterwards gives the whole."""
        if not self.swaps_axes:
            hflip, vflip, _ = self.libcamera_transform()
            return hflip, vflip
        # whole = ROT90 · F  →  F = ROT90⁻¹ · whole = ROT270 · whole
        rest = _mul((0, 1, -1, 0), self._matrix)
        return rest[0] == -1, rest[3] == -1

    def __str__(self) -> str:
        parts = [f"rotate={self.rotate}"] if self.rotate else []
        parts += ["hflip"] if self.hflip else []
        parts += ["vflip"] if self.vflip else []
        return "+".join(parts) or "upright"
