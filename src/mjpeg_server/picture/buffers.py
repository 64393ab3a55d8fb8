"""Drawing the overlay into a camera's image buffer, before the camera's encoder runs.

picamera2 hands its ``pre_callback`` each completed request before the encoder
sees it; ``MappedArray(request, "main", reshape=False)`` gives the buffer's
bytes without a copy. Where the picture lies in those bytes depends on the
stream's format and stride (bytes per row, padding included):

* planar YUV 4:2:0 (``YUV420``, ``YVU420``): Y rows of ``stride`` bytes, then
  the two chroma planes, rows of ``stride / 2`` bytes, half as many;
* semi-planar (``NV12``, ``NV21``): Y, then one plane of interleaved chroma
  pairs, rows of ``stride`` bytes (libcamera's virtual camera gives only NV12);
* packed RGB (``XBGR8888``, picamera2's default for a video configuration's
  main stream, ``XRGB8888``, ``RGB888``, ``BGR888``): rows of pixels.

:class:`BufferOverlay` makes numpy views of those planes (no copy: the text
is blended into the buffer itself, touching only the rows and columns under
it) and draws with :class:`~.overlay.TextOverlay`: into the luma (chroma made
neutral under the text) for YUV, into the colour channels for RGB. Nothing is
decoded or encoded: the camera's own encoder encodes the picture with the
text in it.
"""

from __future__ import annotations

from typing import Any

from .orientation import Orientation
from .overlay import TextOverlay

__all__ = ["FORMATS", "BufferOverlay"]

_PLANAR = ("YUV420", "YVU420")
_SEMI_PLANAR = ("NV12", "NV21")
#: Packed formats and their bytes per pixel.
_PACKED = {"XBGR8888": 4, "XRGB8888": 4, "RGB888": 3, "BGR888": 3}
#: The stream formats an overlay can be drawn into.
FORMATS = (*_PLANAR, *_SEMI_PLANAR, *_PACKED)


class BufferOverlay:
    """Draws one overlay into buffers of one stream configuration."""

    def __init__(
        self,
        overlay: TextOverlay,
        *,
        format: str,
        size: tuple[int, int],
        stride: int,
        turn: Orientation | None = None,
    ) -> None:
        """``turn``: how the picture is turned after it is encoded, losslessly (the
        text is drawn turned back, so that it comes out upright, and within what the
        lossless turn keeps, so that it comes out where it belongs)."""
        if format not in FORMATS:
            raise ValueError(
                f"cannot draw an overlay on {format} buffers (can: {', '.join(FORMATS)})"
            )
        self.overlay = overlay
        self.format = format
        self.width, self.height = size
        self.stride = stride
        self.turn = turn

    def draw(self, buffer: Any, timestamp: float) -> None:
        """Draw into ``buffer``, the stream's bytes (a flat uint8 numpy array), in place."""
        width, height, stride = self.width, self.height, self.stride
        luma_bytes = stride * height
        # Drawn within what the turn keeps: placed for the picture as it comes out.
        kept_w, kept_h = self.turn.losslessly_kept(width, height) if self.turn else (width, height)
        if self.format in _PACKED:
            depth = _PACKED[self.format]
            rows = buffer[:luma_bytes].reshape(height, stride)
            pixels = rows[:, : width * depth].reshape(height, width, depth)
            self.overlay.draw_packed(pixels[:kept_h, :kept_w], timestamp, self.turn)
            return
        luma = buffer[:luma_bytes].reshape(height, stride)[:kept_h, :kept_w]
        half_w, half_h = width // 2, height // 2
        if self.format in _PLANAR:
            half_stride = stride // 2
            plane = half_stride * half_h
            chroma = [
                buffer[start : start + plane].reshape(half_h, half_stride)[:, :half_w]
                for start in (luma_bytes, luma_bytes + plane)
            ]
        else:  # semi-planar: every other byte of the pairs' rows is one chroma plane
            pairs = buffer[luma_bytes : luma_bytes + stride * half_h].reshape(half_h, stride)
            chroma = [pairs[:, 0 : 2 * half_w : 2], pairs[:, 1 : 2 * half_w : 2]]
        chroma = [plane[: kept_h // 2, : kept_w // 2] for plane in chroma]
        self.overlay.draw_planes(luma, chroma, timestamp, self.turn)
