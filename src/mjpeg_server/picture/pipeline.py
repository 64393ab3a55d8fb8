"""The software picture work on a JPEG frame: turn it losslessly, then draw the overlay.

Order and cost (figures: README §Performance, ``tox -e bench``):

1. orientation, by libjpeg-turbo's lossless transform: the entropy-coded
   blocks are re-ordered and re-coded, the pixels are never decoded, so the
   quality is untouched and every client (browsers, ffmpeg, OpenCV, Home
   Assistant, snapshots) gets the turned picture;
2. overlay, by decode → draw → encode, at the JPEG's own chroma subsampling
   and straight to planar YUV (no colour conversion either way): the one
   step that costs a full decode and encode, paid only when an overlay is set.

A frame libjpeg-turbo cannot read (a corrupt frame from a USB camera or an
upstream server) is dropped, and the hub's sequence numbers show the gap.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import replace
from typing import Any

from ..cameras.base import Frame
from .orientation import Orientation
from .overlay import TextOverlay
from .turbojpeg import TurboJPEGError, turbojpeg

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)


class Pipeline:
    """Turns and draws on each frame of one camera, on that camera's thread."""

    def __init__(
        self,
        *,
        orientation: Orientation,
        overlay: str | None,
        overlay_position: str,
        camera: str,
        quality: int,
    ) -> None:
        self.orientation = orientation
        self.quality = quality
        self._tj = turbojpeg()
        self._overlay = TextOverlay(overlay, overlay_position, camera=camera) if overlay else None
        self.dropped = 0

    def process(self, frame: Frame) -> Frame | None:
        """The frame turned and drawn on, or ``None`` if it cannot be read."""
        jpeg = frame.jpeg
        try:
            if not self.orientation.is_identity:
                jpeg = self._tj.transform(jpeg, self.orientation.tj_op)
            if self._overlay is not None:
                jpeg = self._draw(jpeg, frame.timestamp)
        except TurboJPEGError as error:
            self.dropped += 1
            log.debug("dropped frame %d: %s", frame.seq, error)
            return None
        return replace(frame, jpeg=jpeg)

    def process_pixels(self, pixels: Any, timestamp: float) -> Any:
        """For a backend that encodes (OpenCV): turn and draw on its (rows, columns,
        channels) picture before it encodes, instead of decoding its JPEG again."""
        np = importlib.import_module("numpy")
        turned = self.orientation.apply_to_array(pixels)
        if self._overlay is not None:
            turned = np.ascontiguousarray(turned)  # drawn in place: a copy, not a view
            self._overlay.draw_packed(turned, timestamp)
        return turned

    def _draw(self, jpeg: bytes, timestamp: float) -> bytes:
        assert self._overlay is not None
        image = self._tj.decode_yuv(jpeg)
        np = self._overlay._np
        planes = np.frombuffer(image.buffer, dtype=np.uint8)
        luma_size = image.width * image.height
        luma = planes[:luma_size].reshape(image.height, image.width)
        chroma = []
        chroma_w, chroma_h = image.chroma_size
        for index in range(2 if chroma_w else 0):
            start = luma_size + index * chroma_w * chroma_h
            chroma.append(planes[start : start + chroma_w * chroma_h].reshape(chroma_h, chroma_w))
        self._overlay.draw_planes(luma, chroma, timestamp)
        return self._tj.encode_yuv(image, self.quality)
