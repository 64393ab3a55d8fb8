"""Just enough V4L2 to ask a device node what it is: its capabilities, formats and controls.

The picamera2 backend uses it to decide whether a hardware JPEG encoder is
really there before choosing one (``encoder=auto``): picamera2's hardware
``MJPEGEncoder`` opens ``/dev/video11`` whatever the board, so the node must
exist *and* be a memory-to-memory device that produces MJPEG (on VC4 boards,
Pi 4 and older, it is the ``bcm2835-codec-encode`` node). Two ioctls, read
only: ``VIDIOC_QUERYCAP`` and ``VIDIOC_ENUM_FMT``; no streaming, no buffers,
nothing that could disturb another process using the device.

The OpenCV backend asks a webcam's node which image controls it has, with
their limits and defaults (``VIDIOC_QUERYCTRL``, read only): OpenCV sets and
reads them but reports neither which exist nor their ranges.

The structures are packed and unpacked by hand (``struct``), so the layout is
checked by the unit tests without a device.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "CAP_DEVICE_CAPS",
    "CAP_VIDEO_M2M",
    "CAP_VIDEO_M2M_MPLANE",
    "ControlRange",
    "ControlsQuery",
    "Device",
    "controls",
    "fourcc",
    "query",
]

# <linux/videodev2.h>
CAP_VIDEO_M2M_MPLANE = 0x00004000
CAP_VIDEO_M2M = 0x00008000
CAP_DEVICE_CAPS = 0x80000000
BUF_TYPE_VIDEO_CAPTURE = 1
BUF_TYPE_VIDEO_CAPTURE_MPLANE = 9

# struct v4l2_capability: driver[16], card[32], bus_info[32], version,
# capabilities, device_caps, reserved[3]
_CAPABILITY = struct.Struct("=16s32s32sIII12x")
# struct v4l2_fmtdesc: index, type, flags, description[32], pixelformat,
# mbus_code, reserved[3]
_FMTDESC = struct.Struct("=III32sII12x")
# struct v4l2_queryctrl: id, type, name[32], minimum, maximum, step,
# default_value, flags, reserved[2]
_QUERYCTRL = struct.Struct("=II32siiiiI8x")
CTRL_TYPE_INTEGER, CTRL_TYPE_BOOLEAN, CTRL_TYPE_MENU = 1, 2, 3
CTRL_FLAG_DISABLED = 0x0001


def _ioc(direction: int, number: int, size: int) -> int:
    """``_IOC(dir, 'V', nr, size)`` from <asm-generic/ioctl.h>."""
    return (direction << 30) | (size << 16) | (ord("V") << 8) | number


_READ, _READ_WRITE = 2, 3
VIDIOC_QUERYCAP = _ioc(_READ, 0, _CAPABILITY.size)
VIDIOC_ENUM_FMT = _ioc(_READ_WRITE, 2, _FMTDESC.size)
VIDIOC_QUERYCTRL = _ioc(_READ_WRITE, 36, _QUERYCTRL.size)


def fourcc(code: int) -> str:
    """``0x47504a4d`` → ``"MJPG"``."""
    return code.to_bytes(4, "little").decode("ascii", errors="replace")


@dataclass(frozen=True)
class Device:
    """What a V4L2 node says it is."""

    driver: str
    card: str
    #: The node's own capabilities (``device_caps`` when the driver gives them).
    capabilities: int
    #: Fourccs the device produces: for a memory-to-memory codec, what it encodes to.
    capture_formats: frozenset[str]

    @property
    def is_m2m(self) -> bool:
        return bool(self.capabilities & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE))

    @classmethod
    def from_capability(cls, data: bytes, capture_formats: frozenset[str]) -> Device:
        driver, card, _bus, _version, capabilities, device_caps = _CAPABILITY.unpack(data)
        if capabilities & CAP_DEVICE_CAPS:
            capabilities = device_caps
        return cls(_text(driver), _text(card), capabilities, capture_formats)


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


Ioctl = Callable[[int, int, bytes], bytes]


def _ioctl(fd: int, request: int, argument: bytes) -> bytes:
    result: bytes = fcntl.ioctl(fd, request, argument)
    return result


def query(path: str, ioctl: Ioctl = _ioctl) -> Device | None:
    """The device at ``path``, or None if it is missing or not a V4L2 node.

    Opened read-only and non-blocking; a node held by another process still
    answers these queries.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            capability = ioctl(fd, VIDIOC_QUERYCAP, bytes(_CAPABILITY.size))
        except OSError as error:
            if error.errno in (errno.ENOTTY, errno.EINVAL):  # not a V4L2 node
                return None
            raise
        device = Device.from_capability(capability, frozenset())
        buffer_type = (
            BUF_TYPE_VIDEO_CAPTURE_MPLANE
            if device.capabilities & CAP_VIDEO_M2M_MPLANE
            else BUF_TYPE_VIDEO_CAPTURE
        )
        return Device.from_capability(capability, _formats(fd, buffer_type, ioctl))
    except OSError:
        return None
    finally:
        os.close(fd)


def _formats(fd: int, buffer_type: int, ioctl: Ioctl) -> frozenset[str]:
    found = []
    for index in range(64):  # a codec lists a handful; the bound keeps a bad driver finite
        request = _FMTDESC.pack(index, buffer_type, 0, b"", 0, 0)
        try:
            reply = ioctl(fd, VIDIOC_ENUM_FMT, request)
        except OSError:  # EINVAL past the last one
            break
        found.append(fourcc(_FMTDESC.unpack(reply)[4]))
    return frozenset(found)


@dataclass(frozen=True)
class ControlRange:
    """What ``VIDIOC_QUERYCTRL`` says of one control."""

    name: str
    #: CTRL_TYPE_INTEGER, CTRL_TYPE_BOOLEAN, CTRL_TYPE_MENU …
    type: int
    minimum: int
    maximum: int
    step: int
    default: int

    @classmethod
    def unpack(cls, data: bytes) -> tuple[ControlRange, int]:
        """The control, and its flags."""
        _id, kind, name, minimum, maximum, step, default, flags = _QUERYCTRL.unpack(data)
        return cls(_text(name), kind, minimum, maximum, step, default), flags


def controls(path: str, ids: Iterable[int], ioctl: Ioctl = _ioctl) -> dict[int, ControlRange]:
    """The controls among ``ids`` (V4L2 control ids) the device at ``path`` has and has
    not disabled; empty if it is missing or not a V4L2 node. Read only."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return {}
    found = {}
    try:
        for control_id in ids:
            request = _QUERYCTRL.pack(control_id, 0, b"", 0, 0, 0, 0, 0)
            try:
                reply = ioctl(fd, VIDIOC_QUERYCTRL, request)
            except OSError:  # EINVAL: the device has no such control
                continue
            control, flags = ControlRange.unpack(reply)
            if not flags & CTRL_FLAG_DISABLED:
                found[control_id] = control
    finally:
        os.close(fd)
    return found


#: :func:`controls`'s signature, for a caller that takes another (a test's).
ControlsQuery = Callable[[str, Iterable[int]], dict[int, ControlRange]]
