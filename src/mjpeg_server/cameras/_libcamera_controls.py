"""A Pi camera's own controls, as libcamera advertises them, as the kit's controls.

picamera2 lists what libcamera's pipeline offers for the camera in
``Picamera2.camera_ctrl_info`` (name → ``(ControlId, ControlInfo)``): on a Pi,
the Raspberry Pi IPA's exposure time, analogue gain, AE and AWB switches and
modes, brightness, contrast, saturation, sharpness, noise reduction, focus …
Each is a spec option spelt as libcamera spells it
(``picamera2?ExposureTime=10000&AwbMode=Daylight``), listed by ``GET /controls``
with its type, range or choices and value, and set while the camera runs
(picamera2's ``set_controls``).

Offered: every scalar control (bool, integer, float, enum). Not offered:
arrays and rectangles (``ColourGains``, ``ScalerCrop``, ``AfWindows``, the
colour matrix), since a spec option is one value; ``FrameDurationLimits``
(the ``fps`` option sets it); ``ExposureTimeMode`` and ``AnalogueGainMode``,
which picamera2 sets itself from ``ExposureTime`` and ``AnalogueGain``.

Values, as text: a bool as ``0``/``1``/``true``/``false``…; an enum by the
name libcamera's Python enums give its value (the names' common prefix
dropped: ``AwbMode=Daylight`` as ``libcamera.controls.AwbModeEnum.Daylight``)
or by its number; a number within the control's limits. What a camera offers
is known only once it is configured (a backend must not touch the device
before it opens): until then a value's form is checked, and the name and
range when it opens.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .controls import Control

__all__ = ["NativeControl", "advertised", "check_form", "is_control_name"]

#: libcamera's control names are CamelCase; the kit's own options are lower case.
_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
# A number, or a word (true/false, an enum's name).
_FORM = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[A-Za-z][A-Za-z0-9]*")
#: Scalar controls the kit leaves to something else, and why.
NOT_OFFERED = {
    "FrameDurationLimits": "the fps option sets it",
    "ExposureTimeMode": "picamera2 sets it from ExposureTime",
    "AnalogueGainMode": "picamera2 sets it from AnalogueGain",
}
_TYPES = {"Bool": "bool", "Integer32": "int", "Integer64": "int", "Float": "number"}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def is_control_name(option: str) -> bool:
    return _NAME.fullmatch(option) is not None


def check_form(name: str, raw: str) -> None:
    """What can be checked before the camera says what it offers: a number or a word."""
    if not _FORM.fullmatch(raw):
        raise ValueError(f"{name}={raw!r} is not a number, true/false or a name")


def _number(value: float | None) -> str:
    if value is None:
        return "(no limit)"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _common_prefix(names: list[str]) -> str:
    """As libcamera's gen-py-controls.py finds it for the Python enums' member names."""
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


@dataclass(frozen=True)
class NativeControl:
    """One control libcamera advertises, and how its values are read and shown."""

    name: str
    #: "bool", "int", "number" or "enum".
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    #: libcamera's default, as a value of the control (None: it gives none).
    default: Any = None
    #: For an enum: each value's name → the value.
    choices: Mapping[str, int] | None = None

    def parse(self, raw: str) -> bool | int | float:
        """``raw`` as a value of this control; ValueError saying why not."""
        text = raw.strip()
        if self.kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(f"{self.name}={raw!r} is not 0 or 1 (true or false)")
        if self.kind == "enum":
            assert self.choices is not None
            for name, choice in self.choices.items():
                if text.lower() == name.lower() or text == str(choice):
                    return choice
            raise ValueError(f"{self.name}={raw!r} is not one of {', '.join(self.choices)}")
        try:
            value: int | float = int(text) if self.kind == "int" else float(text)
        except ValueError:
            what = "a whole number" if self.kind == "int" else "a number"
            raise ValueError(f"{self.name}={raw!r} is not {what}") from None
        if not math.isfinite(value) or not (
            (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
        ):
            low, high = _number(self.minimum), _number(self.maximum)
            raise ValueError(f"{self.name}={raw!r} is outside {low} to {high}")
        return value

    def shown(self, value: Any) -> Any:
        """A value as ``GET /controls`` shows it (an enum by its name)."""
        if self.kind == "enum" and self.choices is not None:
            return next((name for name, v in self.choices.items() if v == value), value)
        return value

    def control(self, raw: str | None) -> Control:
        """The listing entry, with ``raw`` (the option's text) or the default as value."""
        value = self.default if raw is None else self.parse(raw)
        return Control(
            self.name,
            self.kind,
            self.shown(value),
            True,
            minimum=self.minimum,
            maximum=self.maximum,
            choices=list(self.choices) if self.choices is not None else None,
            default=self.shown(self.default),
            source="libcamera",
        )


def _of(control_id: Any, info: Any) -> NativeControl | None:
    name = str(control_id.name)
    kind = _TYPES.get(getattr(control_id.type, "name", ""))
    if kind is None or control_id.isArray or name in NOT_OFFERED:
        return None
    enumerators: dict[int, str] = dict(control_id.enumerators())
    if enumerators and kind == "int":
        prefix = _common_prefix(list(enumerators.values()))
        allowed = [int(v) for v in info.values] or [
            v for v in sorted(enumerators) if info.min <= v <= info.max
        ]
        choices = {enumerators[v][len(prefix) :] or enumerators[v]: v for v in allowed}
        default = None if info.default is None else int(info.default)
        return NativeControl(name, "enum", default=default, choices=choices)
    if kind == "bool":
        default = None if info.default is None else bool(info.default)
        return NativeControl(name, "bool", default=default)
    convert = int if kind == "int" else float
    return NativeControl(
        name,
        kind,
        minimum=convert(info.min),
        maximum=convert(info.max),
        default=None if info.default is None else convert(info.default),
    )


def advertised(camera_ctrl_info: Mapping[str, tuple[Any, Any]]) -> dict[str, NativeControl]:
    """The controls a camera offers users, by name, from picamera2's ``camera_ctrl_info``."""
    found = {}
    for control_id, info in camera_ctrl_info.values():
        control = _of(control_id, info)
        if control is not None:
            found[control.name] = control
    return dict(sorted(found.items()))
