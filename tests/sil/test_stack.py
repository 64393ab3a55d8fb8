"""The SIL stack is there: libcamera built with the virtual camera, the bindings and
picamera2 importable, the adaptations installed in this process."""

from __future__ import annotations

import os

import pytest

from support import sil

UNAVAILABLE_VARIABLE = "MJPEG_SERVER_SIL_UNAVAILABLE"


def test_the_stack_is_there() -> None:
    reason = os.environ.get(UNAVAILABLE_VARIABLE)
    if reason:
        if os.environ.get(sil.REQUIRE_VARIABLE, "") not in ("", "0"):
            pytest.fail(f"{reason} ({sil.REQUIRE_VARIABLE} is set: CI must run the SIL tier)")
        pytest.skip(f"no SIL stack: {reason}")
    import picamera2  # noqa: PLC0415 - only where the stack is

    cameras = picamera2.Picamera2.global_camera_info()
    assert [camera["Id"] for camera in cameras] == [sil.VIRTUAL_CAMERA_ID]
    assert sil.install() == sorted(sil.ADAPTATIONS)
