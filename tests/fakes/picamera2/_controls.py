"""The controls the fake camera advertises: those of the Raspberry Pi IPA for a colour
sensor with a lens (an IMX708, Camera Module 3), from libcamera v0.7's
``src/ipa/rpi/common/ipa_base.cpp`` (``ipaControls``, ``ipaColourControls``,
``ipaAfControls``) and the enum names of ``control_ids_core.yaml``; exposure
time and gain limits as after configuring the IMX708's modes.

And what they do to the fake's pictures (a sensor model, fake-only): with an
``ExposureTime`` or ``AnalogueGain`` set (picamera2 then switches libcamera's
exposure and gain modes to manual) the picture's brightness scales with
exposure times gain against the defaults' (20 ms, 1.0); ``Brightness`` adds its
share of full scale. Other controls are accepted and kept, as a Pi keeps them.
"""

from __future__ import annotations

from typing import Any

from libcamera import ControlId, ControlInfo, ControlType

_BOOL, _INT32, _INT64, _FLOAT = (
    ControlType.Bool,
    ControlType.Integer32,
    ControlType.Integer64,
    ControlType.Float,
)
_RECTANGLE = ControlType.Rectangle
DEFAULT_EXPOSURE_US = 20_000


def _enum(names: list[str], values: list[int] | None = None, default: int | None = None) -> Any:
    enumerators = dict(enumerate(names))
    return enumerators, ControlInfo(values=values or list(enumerators), default=default)


def _table(frame_limits: tuple[int, int]) -> list[tuple[ControlId, ControlInfo]]:
    table: list[tuple[ControlId, ControlInfo]] = []

    def add(name: str, kind: ControlType, info: ControlInfo, size: int = 0) -> None:
        table.append((ControlId(name, kind, size=size), info))

    def add_enum(name: str, info: tuple[dict[int, str], ControlInfo]) -> None:
        enumerators, control_info = info
        table.append((ControlId(name, _INT32, enumerators=enumerators), control_info))

    add("AeEnable", _BOOL, ControlInfo(False, True, True))
    add_enum(
        "ExposureTimeMode",
        _enum(["ExposureTimeModeAuto", "ExposureTimeModeManual"], default=0),
    )
    add("ExposureTime", _INT32, ControlInfo(26, 220_417_486, DEFAULT_EXPOSURE_US))
    add_enum(
        "AnalogueGainMode",
        _enum(["AnalogueGainModeAuto", "AnalogueGainModeManual"], default=0),
    )
    add("AnalogueGain", _FLOAT, ControlInfo(1.0, 16.0, 1.0))
    add_enum(
        "AeMeteringMode",
        _enum(["MeteringCentreWeighted", "MeteringSpot", "MeteringMatrix", "MeteringCustom"]),
    )
    add_enum(
        "AeConstraintMode",
        _enum(["ConstraintNormal", "ConstraintHighlight", "ConstraintShadows", "ConstraintCustom"]),
    )
    add_enum(
        "AeExposureMode",
        _enum(["ExposureNormal", "ExposureShort", "ExposureLong", "ExposureCustom"]),
    )
    add("ExposureValue", _FLOAT, ControlInfo(-8.0, 8.0, 0.0))
    add_enum(
        "AeFlickerMode",
        _enum(["FlickerOff", "FlickerManual", "FlickerAuto"], values=[0, 1], default=0),
    )
    add("AeFlickerPeriod", _INT32, ControlInfo(100, 1_000_000))
    add("Brightness", _FLOAT, ControlInfo(-1.0, 1.0, 0.0))
    add("Contrast", _FLOAT, ControlInfo(0.0, 32.0, 1.0))
    add("Sharpness", _FLOAT, ControlInfo(0.0, 16.0, 1.0))
    add("ScalerCrop", _RECTANGLE, ControlInfo((0, 0, 0, 0), (65535, 65535, 65535, 65535)))
    add("FrameDurationLimits", _INT64, ControlInfo(*frame_limits), size=2)
    add_enum(
        "NoiseReductionMode",
        _enum(
            [
                "NoiseReductionModeOff",
                "NoiseReductionModeFast",
                "NoiseReductionModeHighQuality",
                "NoiseReductionModeMinimal",
                "NoiseReductionModeZSL",
            ]
        ),
    )
    add("AwbEnable", _BOOL, ControlInfo(False, True))
    add_enum(
        "AwbMode",
        _enum(
            [
                "AwbAuto",
                "AwbIncandescent",
                "AwbTungsten",
                "AwbFluorescent",
                "AwbIndoor",
                "AwbDaylight",
                "AwbCloudy",
                "AwbCustom",
            ]
        ),
    )
    add("ColourGains", _FLOAT, ControlInfo(0.0, 32.0), size=2)
    add("ColourTemperature", _INT32, ControlInfo(100, 100_000))
    add("Saturation", _FLOAT, ControlInfo(0.0, 32.0, 1.0))
    add_enum("AfMode", _enum(["AfModeManual", "AfModeAuto", "AfModeContinuous"]))
    add("LensPosition", _FLOAT, ControlInfo(0.0, 15.0, 1.0))
    return table


def control_info(frame_limits: tuple[int, int]) -> dict[str, tuple[ControlId, ControlInfo]]:
    """``Picamera2.camera_ctrl_info``: name → (ControlId, ControlInfo)."""
    return {control_id.name: (control_id, info) for control_id, info in _table(frame_limits)}


def picture_gain(controls: dict[str, Any]) -> tuple[float, float]:
    """(factor, offset) the controls apply to the picture's values (0-255)."""
    factor = 1.0
    if controls.get("ExposureTime"):
        factor *= controls["ExposureTime"] / DEFAULT_EXPOSURE_US
    if controls.get("AnalogueGain"):
        factor *= controls["AnalogueGain"]
    return factor, 255.0 * float(controls.get("Brightness") or 0.0)
