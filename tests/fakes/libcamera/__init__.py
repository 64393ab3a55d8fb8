"""A fake of the few libcamera Python binding types the picamera2 fake hands out (tests only).

picamera2 passes libcamera's own objects through its API: a configuration's
``transform`` is a ``libcamera.Transform``, and ``Picamera2.camera_ctrl_info``
maps each control's name to a ``(ControlId, ControlInfo)`` pair. These mirror
the bindings of libcamera v0.7 (``src/py/libcamera/py_main.cpp``,
``py_transform.cpp``): names, constructor arguments, properties and their
types. picamera2's ``__init__`` replaces ``Transform.__eq__`` with a comparison
of the three bits; the fake has that comparison built in.
``tests/sil/test_fake_conformance.py`` compares them with the real bindings on
the SIL stack.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

__all__ = ["ControlId", "ControlInfo", "ControlType", "Transform"]

# transformToString() of libcamera's transform.cpp, by (hflip, vflip, transpose).
_NAMES = {
    (False, False, False): "identity",
    (True, False, False): "hflip",
    (False, True, False): "vflip",
    (True, True, False): "hvflip",
    (False, False, True): "transpose",
    (True, False, True): "rot270",
    (False, True, True): "rot90",
    (True, True, True): "rot180transpose",
}
# transformFromRotation(): clockwise degrees → the transform's bits.
_ROTATIONS = {0: (False, False, False), 90: (False, True, True), 180: (True, True, False)}
_ROTATIONS[270] = (True, False, True)


class Transform:
    """One of the eight flips and turns: horizontal flip, vertical flip, then transpose."""

    def __init__(
        self,
        rotation: int | Transform = 0,
        hflip: bool = False,
        vflip: bool = False,
        transpose: bool = False,
    ) -> None:
        if isinstance(rotation, Transform):  # the copy constructor
            self._bits = rotation._bits
            return
        if rotation not in _ROTATIONS:
            raise ValueError("Invalid rotation")
        h, v, t = _ROTATIONS[rotation]
        self._bits = (h ^ bool(hflip), v ^ bool(vflip), t ^ bool(transpose))

    @property
    def hflip(self) -> bool:
        return self._bits[0]

    @hflip.setter
    def hflip(self, hflip: bool) -> None:
        self._bits = (bool(hflip), self._bits[1], self._bits[2])

    @property
    def vflip(self) -> bool:
        return self._bits[1]

    @vflip.setter
    def vflip(self, vflip: bool) -> None:
        self._bits = (self._bits[0], bool(vflip), self._bits[2])

    @property
    def transpose(self) -> bool:
        return self._bits[2]

    @transpose.setter
    def transpose(self, transpose: bool) -> None:
        self._bits = (self._bits[0], self._bits[1], bool(transpose))

    def __eq__(self, other: object) -> bool:
        # picamera2/__init__.py: libcamera.Transform.__eq__ = libcamera_transforms_eq
        if not isinstance(other, Transform):
            return NotImplemented
        return self._bits == other._bits

    __hash__ = None  # type: ignore[assignment] - as picamera2 leaves it: mutable

    def __str__(self) -> str:
        return f"<libcamera.Transform '{_NAMES[self._bits]}'>"

    __repr__ = __str__  # picamera2/__init__.py: libcamera.Transform.__repr__ = __str__


class ControlType(Enum):
    Null = 0
    Bool = 1
    Byte = 2
    Integer32 = 5
    Integer64 = 6
    Float = 7
    String = 8
    Rectangle = 9
    Size = 10
    Point = 11


class ControlId:
    """A control's identity: name, value type, whether it is an array, enum names."""

    def __init__(
        self,
        name: str,
        type: ControlType,
        *,
        size: int = 0,
        enumerators: dict[int, str] | None = None,
        vendor: str = "libcamera",
    ) -> None:
        self._name = name
        self._type = type
        self._size = size
        self._enumerators = dict(enumerators or {})
        self._vendor = vendor

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> ControlType:
        return self._type

    @property
    def isArray(self) -> bool:  # noqa: N802 - the binding's name
        return self._size != 0

    @property
    def size(self) -> int:
        return self._size

    @property
    def vendor(self) -> str:
        return self._vendor

    def enumerators(self) -> dict[int, str]:
        return dict(self._enumerators)

    def __str__(self) -> str:
        return self._name


class ControlInfo:
    """A control's limits: ``min``, ``max``, ``default`` (None when it has none) and,
    for controls given as a list of values (enums), ``values``."""

    def __init__(
        self, min: Any = None, max: Any = None, default: Any = None, values: Any = ()
    ) -> None:
        self._values = list(values)
        if self._values:
            min, max = self._values[0], self._values[-1]
        self._min, self._max, self._default = min, max, default

    @property
    def min(self) -> Any:
        return self._min

    @property
    def max(self) -> Any:
        return self._max

    @property
    def default(self) -> Any:
        return self._default

    @property
    def values(self) -> list[Any]:
        return list(self._values)

    def __str__(self) -> str:
        return f"[{self._min}..{self._max}]"
