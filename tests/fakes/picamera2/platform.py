"""``picamera2.platform``: which ISP the Pi has (VC4: Pi 4 and older; PISP: Pi 5).

The module arrived in picamera2 0.3.13: with ``FAKE_PICAMERA2_VERSION`` older
than that, importing it fails as it would.
"""

from __future__ import annotations

from enum import Enum

from ._fake import platform_name, version

if version() < (0, 3, 13):
    raise ModuleNotFoundError("No module named 'picamera2.platform'", name="picamera2.platform")


class Platform(Enum):
    VC4 = 0
    PISP = 1


def get_platform() -> Platform:
    return Platform[platform_name()]
