"""A webcam's image controls through OpenCV (``cv2.CAP_PROP_*``), with the node's limits.

OpenCV's V4L2 backend maps each image property (``CAP_PROP_BRIGHTNESS`` …) to
a V4L2 control and sets and reads its raw value, but it says neither which
controls a device has nor their limits (it prints an error for a property the
device lacks). So the device node is asked, read only (``v4l2.controls``:
``VIDIOC_QUERYCTRL``), and OpenCV does the rest: each control the device has
is a spec option named after its property in lower case
(``opencv:0?brightness=140&auto_exposure=1``), listed by ``GET /controls`` with
the driver's range and default and OpenCV's reading of its value, and set
while the camera runs (``VideoCapture.set``, between two reads).

Files and network streams have none: OpenCV's FFmpeg backend has no image
controls. Put back to its default (``null``), a control is set to the driver's
default: a V4L2 device keeps a control's value after it is closed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from . import v4l2
from .controls import Control

__all__ = ["PROPERTIES", "DeviceControl", "check_form", "device_controls", "is_property"]

#: ``cv2.CAP_PROP_*`` → the V4L2 control it sets (<linux/v4l2-controls.h>), as OpenCV's
#: cap_v4l.cpp maps them (``capPropertyToV4L2``): the image controls of a webcam.
PROPERTIES: Mapping[str, int] = {
    "BRIGHTNESS": 0x00980900,
    "CONTRAST": 0x00980901,
    "SATURATION": 0x00980902,
    "HUE": 0x00980903,
    "AUTO_WB": 0x0098090C,  # V4L2_CID_AUTO_WHITE_BALANCE
    "GAMMA": 0x00980910,
    "GAIN": 0x00980913,
    "WB_TEMPERATURE": 0x0098091A,  # V4L2_CID_WHITE_BALANCE_TEMPERATURE
    "SHARPNESS": 0x0098091B,
    "BACKLIGHT": 0x0098091C,  # V4L2_CID_BACKLIGHT_COMPENSATION
    "AUTO_EXPOSURE": 0x009A0901,  # V4L2_CID_EXPOSURE_AUTO: a menu, 1 manual, 3 auto
    "EXPOSURE": 0x009A0902,  # V4L2_CID_EXPOSURE_ABSOLUTE, 100 µs units
    "PAN": 0x009A0908,  # V4L2_CID_PAN_ABSOLUTE
    "TILT": 0x009A0909,  # V4L2_CID_TILT_ABSOLUTE
    "FOCUS": 0x009A090A,  # V4L2_CID_FOCUS_ABSOLUTE
    "AUTOFOCUS": 0x009A090C,  # V4L2_CID_FOCUS_AUTO
    "ZOOM": 0x009A090D,  # V4L2_CID_ZOOM_ABSOLUTE
}


_BOOLEAN_WORDS = {"true": 1, "false": 0, "on": 1, "off": 0, "yes": 1, "no": 0}


def is_property(option: str) -> bool:
    return option.islower() and option.upper() in PROPERTIES


def check_form(name: str, raw: str) -> None:
    """What can be checked before the device has said its controls' limits: a number,
    or a true/false word (ValueError saying why not). The limits are checked when it opens."""
    if raw.lower() not in _BOOLEAN_WORDS:
        _number(name, raw)


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class DeviceControl:
    """One image control a device has: its option name and the driver's limits."""

    #: The option: the property's name in lower case (``brightness``).
    name: str
    limits: v4l2.ControlRange

    @property
    def prop(self) -> str:
        """The OpenCV property, ``CAP_PROP_BRIGHTNESS``."""
        return f"CAP_PROP_{self.name.upper()}"

    @property
    def is_bool(self) -> bool:
        return self.limits.type == v4l2.CTRL_TYPE_BOOLEAN

    def parse(self, raw: str) -> int:
        """``raw`` as a value the driver takes; ValueError saying why not."""
        if self.is_bool and raw.lower() in _BOOLEAN_WORDS:
            return _BOOLEAN_WORDS[raw.lower()]
        number = _number(self.name, raw)
        low, high = self.limits.minimum, self.limits.maximum
        if not math.isfinite(number) or number != int(number) or not low <= number <= high:
            raise ValueError(f"{self.name}={raw!r} is not a whole number from {low} to {high}")
        return int(number)

    def control(self, value: float | None) -> Control:
        """The listing entry, with OpenCV's reading of the value."""
        shown: float | bool | None = value
        if value is not None and (self.is_bool or value == int(value)):
            shown = bool(value) if self.is_bool else int(value)
        default: int | bool = bool(self.limits.default) if self.is_bool else self.limits.default
        return Control(
            self.name,
            "bool" if self.is_bool else "int",
            shown,
            True,
            minimum=None if self.is_bool else self.limits.minimum,
            maximum=None if self.is_bool else self.limits.maximum,
            default=default,
            source=f"cv2.{self.prop}",
            description=self.limits.name,
        )


def device_controls(index: int, query: v4l2.ControlsQuery = v4l2.controls) -> list[DeviceControl]:
    """The image controls ``/dev/video<index>`` has (none if it cannot tell)."""
    found = query(f"/dev/video{index}", PROPERTIES.values())
    return [
        DeviceControl(name.lower(), found[cid]) for name, cid in PROPERTIES.items() if cid in found
    ]
