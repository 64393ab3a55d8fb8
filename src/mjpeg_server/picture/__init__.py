"""Image work on frames, between the camera and the hub: orientation and the overlay.

Separate from HTTP (``server/``) and from devices (``cameras/``): a backend
reads its picture options with :class:`PictureSettings` and, for whatever its
camera cannot do itself, runs the frames through a :class:`~.pipeline.Pipeline`.

- ``orientation.py``: rotate/hflip/vflip as one of eight orientations, and its
  names in libcamera, libjpeg-turbo and EXIF (pure);
- ``settings.py``: the spec options, checked at start-up;
- ``turbojpeg.py``: libjpeg-turbo through ctypes (lossless transform, YUV decode/encode);
- ``overlay.py``: the text overlay (Pillow for the glyphs, numpy to blend);
- ``pipeline.py``: the per-frame software work.

Nothing heavy is imported until an option is in use: a camera with no picture
option costs nothing, per frame or in memory.
"""

from __future__ import annotations

from .orientation import Orientation
from .settings import PICTURE_OPTIONS, PictureSettings

__all__ = ["PICTURE_OPTIONS", "Orientation", "PictureSettings"]
