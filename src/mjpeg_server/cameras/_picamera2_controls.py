"""What a user may change on a Pi camera: the picamera2 backend's controls.

Size, rate, quality and encoder reopen the camera (a new configuration).

**Picture options** (``rotate``, ``hflip``, ``vflip``, ``overlay``,
``overlay_position``; see ``picture/``). The flips and 180° cost nothing: they
go into the camera configuration as libcamera's ``Transform``, and the sensor
reads the picture out mirrored. A sensor cannot transpose, so for 90° and
270° the camera does the flips that leave a clockwise quarter turn, and that
turn is done on each JPEG, losslessly, as on the other backends. What the
camera really did is read back after ``configure`` (libcamera gives a sensor
that cannot flip its picture as mounted, and says so), and software does the
rest. The overlay is drawn into the camera's image buffer in picamera2's
``pre_callback``, before the encoder: no decode, no second encode (turned
back when a quarter turn follows, so that it comes out upright). The
overlay applies live; a change of orientation reopens the camera.

**The camera's own controls** (``ExposureTime``, ``AnalogueGain``,
``AwbMode``, ``Brightness`` … whatever libcamera advertises for it:
``_libcamera_controls.py``) are spec options spelt as libcamera spells them,
checked against what the camera offers, applied with ``set_controls`` when it
opens and live while it runs; putting one back to its default reopens the
camera (libcamera's own default is what a fresh configuration has).

The backend (``picamera2.py``) mixes :class:`Picamera2Controls` in: it takes
the options with :meth:`~Picamera2Controls._take_controls`, asks
:meth:`~Picamera2Controls._transform` for the configuration, calls
:meth:`~Picamera2Controls._read_back_picture` once libcamera has configured the
camera, :meth:`~Picamera2Controls._start_picture` before it records, and
:meth:`~Picamera2Controls._picture` on each frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..picture import Orientation, PictureSettings
from ..picture.settings import picture_controls
from ._libcamera_controls import NativeControl, advertised, check_form, is_control_name
from .base import Camera, CameraError, Frame
from .controls import Control, quality_control
from .spec import CameraSpec, SpecError, SpecOptions

if TYPE_CHECKING:
    from ..picture.buffers import BufferOverlay
    from ..picture.pipeline import Pipeline

__all__ = ["ADVERTISED", "DEFAULT_SIZE", "ENCODERS", "Picamera2Controls", "check_controls"]

# The backend's logger: these lines are the picamera2 camera's.
log = logging.getLogger(__name__.replace("_picamera2_controls", "picamera2"))

ENCODERS = ("auto", "mjpeg", "jpeg")
DEFAULT_SIZE = (1280, 720)
#: Options that apply while the camera runs, whatever the camera (its own controls
#: apply live too, when set to a value).
LIVE = frozenset({"overlay", "overlay_position"})
#: What each camera (by number) offered when this process last configured it: a
#: backend built for a change checks its controls against this before the camera
#: sees them (a 400 for POST /controls instead of a camera failing to open).
ADVERTISED: dict[int, dict[str, NativeControl]] = {}


def check_controls(
    camera_num: int, native: Mapping[str, str], offered: Mapping[str, NativeControl] | None
) -> dict[str, bool | int | float]:
    """The camera's own controls as values for ``set_controls``; ValueError saying what is
    wrong. ``offered`` None (the camera was never configured here): the form only."""
    if offered is None:
        for name, raw in native.items():
            check_form(name, raw)
        return {}
    values = {}
    for name, raw in native.items():
        control = offered.get(name)
        if control is None:
            names = ", ".join(offered) or "none"
            raise ValueError(
                f"picamera2 camera {camera_num} has no control {name} (it has: {names})"
            )
        values[name] = control.parse(raw)
    return values


class Picamera2Controls(Camera):
    """The controls of a camera that has ``camera_num``, ``fps``, ``size``, ``quality``,
    ``encoder``, ``picture``, ``native``, ``_picam`` and ``_library``."""

    camera_num: int
    fps: float
    size: tuple[int, int]
    quality: int
    encoder: str
    picture: PictureSettings
    #: The camera's own controls set by the spec: libcamera's name → the option's text.
    native: dict[str, str]
    _picam: Any
    _library: Any
    #: What is left of the orientation for software once the camera did its part
    #: (read back after configuring; identity until then).
    software_turn = Orientation()
    _pipeline: Pipeline | None = None
    _drawer: BufferOverlay | None = None
    _draw_failures = 0

    @staticmethod
    def _take_controls(options: SpecOptions, spec: CameraSpec) -> dict[str, Any]:
        """The picture options and the camera's own controls of a spec, as arguments
        for the backend's constructor (their form checked)."""
        native = {key: str(options.text(key)) for key in spec.options if is_control_name(key)}
        return {
            "picture": PictureSettings.take(options, spec, camera_flips=True),
            "controls": native,
        }

    @staticmethod
    def _check_spec_controls(spec: CameraSpec, camera_num: int, native: Mapping[str, str]) -> None:
        """When a spec is read (at start-up, or for a change): the controls' form, or,
        once the camera was configured here, checked against what it offered."""
        try:
            check_controls(camera_num, native, ADVERTISED.get(camera_num))
        except ValueError as error:
            raise SpecError(f"camera {spec}: {error}") from None

    def controls(self) -> list[Control]:
        width, height = self.size
        # The libcamera ones: what it advertised when the camera was last configured
        # (none before it first opens: a backend must not touch the device before).
        offered = ADVERTISED.get(self.camera_num, {})
        return [
            Control(
                "fps",
                "number",
                self.fps,
                minimum=0,
                default=30.0,
                description="asked; the sensor mode may allow less (fps_actual in /status)",
            ),
            Control("size", "size", f"{width}x{height}", default="1280x720"),
            quality_control(self.quality, "JPEG quality (a bitrate for the hardware encoder)"),
            Control("encoder", "enum", self.encoder, choices=ENCODERS, default="auto"),
            *picture_controls(self.picture, live=False),
            *(control.control(self.native.get(name)) for name, control in offered.items()),
        ]

    def _is_live(self, key: str, new: Camera) -> bool:
        # A control set to a value: set_controls. Back to libcamera's default: reopen
        # (a fresh configuration has it). Size, rate, encoder, quality, orientation:
        # a new camera configuration.
        return key in LIVE or (
            is_control_name(key) and isinstance(new, Picamera2Controls) and key in new.native
        )

    def _adopt(self, new: Camera, changed: set[str]) -> None:
        assert isinstance(new, Picamera2Controls)
        native = {key: new.native[key] for key in changed if is_control_name(key)}
        if native:
            try:
                values = check_controls(self.camera_num, native, ADVERTISED.get(self.camera_num))
            except ValueError as error:
                raise CameraError(str(error)) from None
            self._picam.set_controls(values)
            log.info("picamera2 camera %d: set %s", self.camera_num, values)
        self.native = dict(new.native)
        if changed & LIVE:
            self.picture = new.picture
            self._start_overlay(self._picam)

    def _transform(self) -> Any:
        """The libcamera ``Transform`` to ask the camera for: the flips it can do."""
        hflip, vflip = self.picture.orientation.camera_flips()
        return self._library.libcamera.Transform(hflip=hflip, vflip=vflip)

    def _read_back_picture(self, picam: Any, configuration: Mapping[str, Any]) -> None:
        """The controls the camera offers, and what is left of the orientation for
        software once the camera did what it could."""
        ADVERTISED[self.camera_num] = advertised(picam.camera_ctrl_info)
        transform = configuration["transform"]
        done = Orientation.from_libcamera(transform.hflip, transform.vflip, transform.transpose)
        self.software_turn = self.picture.orientation.after(done)
        hflip, vflip = self.picture.orientation.camera_flips()
        if (transform.hflip, transform.vflip) != (hflip, vflip):
            log.info(
                "picamera2 camera %d gives its picture %s (asked hflip=%d vflip=%d): "
                "the rest is done in software",
                self.camera_num,
                done,
                hflip,
                vflip,
            )

    def _start_picture(self, picam: Any) -> None:
        """The camera's own controls, the quarter turn software does on each JPEG, and
        the overlay drawn into the camera's buffers, for the configuration libcamera gave."""
        values = check_controls(self.camera_num, self.native, ADVERTISED[self.camera_num])
        if values:
            picam.set_controls(values)
        self._pipeline = PictureSettings(self.software_turn).pipeline(
            camera=self.name, quality=self.quality
        )
        self._start_overlay(picam)

    def _start_overlay(self, picam: Any) -> None:
        """Draw the overlay (or stop drawing it) from the next frame on."""
        if not self.picture.overlay:
            self._drawer = None
            picam.pre_callback = None
            return
        from ..picture.buffers import BufferOverlay  # noqa: PLC0415 - only with an overlay
        from ..picture.overlay import TextOverlay  # noqa: PLC0415

        main = picam.camera_configuration()["main"]
        turn = self.software_turn
        self._drawer = BufferOverlay(
            TextOverlay(self.picture.overlay, self.picture.overlay_position, camera=self.name),
            format=str(main["format"]),
            size=(int(main["size"][0]), int(main["size"][1])),
            stride=int(main["stride"]),
            turn=None if turn.is_identity else turn,
        )
        picam.pre_callback = self._draw

    def _draw(self, request: Any) -> None:
        """picamera2's pre-callback: on its camera thread, before the encoder gets the frame."""
        drawer = self._drawer  # one read: a live change swaps it between frames
        if drawer is None:
            return
        try:
            with self._library.picamera2.MappedArray(request, "main", reshape=False) as mapped:
                drawer.draw(mapped.array, time.time())
        except Exception:  # never into picamera2's loop: the frame goes out without it
            self._draw_failures += 1
            if self._draw_failures == 1:
                log.exception("picamera2 camera %d: drawing the overlay failed", self.camera_num)

    def _picture(self, frame: Frame | None) -> Frame | None:
        """The frame as the software part of the orientation leaves it."""
        pipeline = self._pipeline  # one read: a reopen replaces it
        return frame if frame is None or pipeline is None else pipeline.process(frame)
