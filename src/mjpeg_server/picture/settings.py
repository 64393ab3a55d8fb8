"""The picture options every backend accepts, parsed and checked without
loading any image library unless an option is in use.

``rotate=0|90|180|270``, ``hflip=1``, ``vflip=1`` (see ``orientation.py``),
``overlay=TEXT`` (strftime codes, ``{camera}``, ``{fps}``) and
``overlay_position=top-left|top-right|bottom-left|bottom-right|top|bottom``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..cameras.controls import Control
from ..cameras.spec import SpecError, SpecOptions
from .orientation import ROTATIONS, Orientation
from .overlay import POSITIONS

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["MAX_OVERLAY", "PICTURE_OPTIONS", "PictureSettings", "picture_controls"]

#: The spec options this module owns, in the order ``/controls`` lists them.
PICTURE_OPTIONS = ("rotate", "hflip", "vflip", "overlay", "overlay_position")
#: Longest overlay text (characters): a caption, not a page.
MAX_OVERLAY = 200
OVERLAY_HINT = "in the repository: pip install '.[picture]' (Pillow and numpy)"


@dataclass(frozen=True)
class PictureSettings:
    orientation: Orientation = field(default_factory=Orientation)
    #: The overlay template, or ``None`` for no overlay.
    overlay: str | None = None
    overlay_position: str = "top-left"

    @classmethod
    def take(
        cls, options: SpecOptions, spec: object, *, camera_flips: bool = False
    ) -> PictureSettings:
        """Read the picture options from a backend's spec options; raises :class:`SpecError`.

        ``camera_flips``: the camera flips and draws the overlay itself (picamera2), so
        libjpeg-turbo is needed only for a quarter turn, Pillow and numpy for an overlay.
        """
        orientation = Orientation(
            rotate=options.choice("rotate", ROTATIONS, 0),
            hflip=options.boolean("hflip"),
            vflip=options.boolean("vflip"),
        )
        overlay = options.text("overlay") or None
        position = options.choice("overlay_position", POSITIONS, "top-left")
        if overlay is not None:
            if len(overlay) > MAX_OVERLAY:
                raise SpecError(f"camera {spec}: overlay is longer than {MAX_OVERLAY} characters")
            if any(ord(c) < 32 and c != "\n" for c in overlay):
                raise SpecError(f"camera {spec}: overlay has control characters")
        settings = cls(orientation, overlay, position)
        settings.check_libraries(spec, camera_flips=camera_flips)
        return settings

    def check_libraries(self, spec: object, *, camera_flips: bool = False) -> None:
        """Load what the options in use need, now: a missing library is one line at
        start-up (or a 400 at run time), not a failing camera later."""
        if not self.in_use:
            return
        from .turbojpeg import PictureLibraryMissing, turbojpeg  # noqa: PLC0415 - only when used

        try:
            if self.orientation.swaps_axes or not camera_flips:
                turbojpeg()
            if self.overlay:
                import numpy  # noqa: F401, PLC0415
                import PIL.ImageDraw  # noqa: F401, PLC0415
        except PictureLibraryMissing as error:
            raise SpecError(f"camera {spec}: {error}") from None
        except ImportError as error:
            raise SpecError(f"camera {spec}: overlay needs {error.name}: {OVERLAY_HINT}") from None

    @property
    def in_use(self) -> bool:
        return not self.orientation.is_identity or bool(self.overlay)

    def pipeline(
        self, *, camera: str, quality: int, orientation: Orientation | None = None
    ) -> Pipeline | None:
        """The software work for these settings, or ``None`` when there is none (the
        frame goes through untouched: no per-frame cost). ``orientation`` overrides
        what is left to turn in software when the camera does part of it."""
        turn = self.orientation if orientation is None else orientation
        if turn.is_identity and not self.overlay:
            return None
        from .pipeline import Pipeline  # noqa: PLC0415 - only when a control is in use

        return Pipeline(
            orientation=turn,
            overlay=self.overlay,
            overlay_position=self.overlay_position,
            camera=camera,
            quality=quality,
        )


def picture_controls(settings: PictureSettings, *, live: bool) -> list[Control]:
    """The picture options as controls, with their current values."""
    orientation = settings.orientation
    return [
        Control(
            "rotate",
            "enum",
            orientation.rotate,
            live,
            choices=ROTATIONS,
            default=0,
            description="turn clockwise, after the flips",
        ),
        Control(
            "hflip", "bool", orientation.hflip, live, default=False, description="mirror left-right"
        ),
        Control(
            "vflip", "bool", orientation.vflip, live, default=False, description="mirror top-bottom"
        ),
        Control(
            "overlay",
            "string",
            settings.overlay or "",
            True,
            maximum=MAX_OVERLAY,
            default="",
            description="text on the picture: strftime codes, {camera}, {fps}",
        ),
        Control(
            "overlay_position",
            "enum",
            settings.overlay_position,
            True,
            choices=POSITIONS,
            default="top-left",
        ),
    ]
