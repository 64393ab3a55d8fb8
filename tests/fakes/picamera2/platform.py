"""``picamera2.platform``: which ISP the Pi has (VC4: Pi 4 and older; PISP: Pi 5)."""

from __future__ import annotations

from enum import Enum

from ._fake import platform_name


class Platform(Enum):
    VC4 = 0
    PISP = 1


def get_platform() -> Platform:
    return Platform[platform_name()]
