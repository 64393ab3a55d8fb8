"""The picture options for backends that do them in software (emulated, OpenCV, relay).

A backend mixes :class:`SoftwarePicture` in, reads ``self.picture`` from its
spec with :meth:`PictureSettings.take`, calls :meth:`_start_picture` when it
opens and :meth:`_picture` on each frame. With no option in use the pipeline
is ``None`` and a frame costs one attribute test. Every picture option is live:
changing it swaps the pipeline between two frames, the camera stays open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..picture import PICTURE_OPTIONS, PictureSettings
from .base import Camera, Frame

if TYPE_CHECKING:
    from ..picture.pipeline import Pipeline

__all__ = ["SoftwarePicture"]


class SoftwarePicture(Camera):
    picture: PictureSettings = PictureSettings()
    _pipeline: Pipeline | None = None
    live_options = frozenset(PICTURE_OPTIONS)

    @property
    def picture_quality(self) -> int:
        """JPEG quality for frames the overlay re-encodes."""
        return 85

    def _start_picture(self) -> None:
        self._pipeline = self.picture.pipeline(camera=self.name, quality=self.picture_quality)

    def _picture(self, frame: Frame) -> Frame | None:
        pipeline = self._pipeline  # one read: a live change swaps it between frames
        return frame if pipeline is None else pipeline.process(frame)

    def _adopt(self, new: Camera, changed: set[str]) -> None:
        assert isinstance(new, SoftwarePicture)
        self.picture = new.picture
        self._start_picture()
