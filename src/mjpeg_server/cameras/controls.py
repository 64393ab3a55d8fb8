"""What a camera lets a user change, described for ``GET /controls``.

A control is a spec option (``rotate``, ``fps``, ``ExposureTime`` …): the
start-up spec, a ``POST /controls`` and the config file write-back all speak
the same names and are checked by the same code (the backend's ``from_spec``).
This module only describes them: type, range or choices, current value, and
whether a change applies live or reopens the camera (a short gap in the
stream's ``X-Frame-Seq``, viewers stay connected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Control", "ControlType", "quality_control"]

ControlType = str  # "int" | "number" | "bool" | "enum" | "string" | "size"


@dataclass(frozen=True)
class Control:
    name: str
    type: ControlType
    value: Any
    #: True: applied while the camera runs; False: the camera is reopened.
    live: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: Sequence[Any] | None = None
    default: Any = None
    #: What the backend calls it, when that differs (``cv2.CAP_PROP_BRIGHTNESS``).
    source: str | None = None
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "value": self.value, "live": self.live}
        for key in ("minimum", "maximum", "choices", "default", "source"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if key == "choices" else value
        if self.description:
            out["description"] = self.description
        return out


def quality_control(value: int, description: str, *, live: bool = False) -> Control:
    """The ``quality`` option (1-100, default 85), which every backend has; what it
    governs differs (``description``)."""
    return Control(
        "quality", "int", value, live, minimum=1, maximum=100, default=85, description=description
    )
