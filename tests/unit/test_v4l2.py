"""cameras/v4l2.py: the two read-only V4L2 queries, against a fake driver (an injected
ioctl) and against files that are not V4L2 nodes."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from mjpeg_server.cameras import v4l2

CAPABILITY = struct.Struct("=16s32s32sIII12x")
FMTDESC = struct.Struct("=III32sII12x")
MJPG = int.from_bytes(b"MJPG", "little")
H264 = int.from_bytes(b"H264", "little")


class FakeCodec:
    """The ioctls of VC4's bcm2835-codec-encode node (/dev/video11)."""

    def __init__(self, capabilities: int, device_caps: int, formats: list[int]) -> None:
        self.capabilities = capabilities
        self.device_caps = device_caps
        self.formats = formats
        self.asked_types: list[int] = []

    def __call__(self, fd: int, request: int, argument: bytes) -> bytes:
        if request == v4l2.VIDIOC_QUERYCAP:
            assert len(argument) == 104  # sizeof(struct v4l2_capability)
            return CAPABILITY.pack(
                b"bcm2835-codec",
                b"bcm2835-codec-encode",
                b"platform:bcm2835-codec",
                0x60000,
                self.capabilities,
                self.device_caps,
            )
        assert request == v4l2.VIDIOC_ENUM_FMT
        assert len(argument) == 64  # sizeof(struct v4l2_fmtdesc)
        index, buffer_type, *_ = FMTDESC.unpack(argument)
        self.asked_types.append(buffer_type)
        if index >= len(self.formats):
            raise OSError(errno.EINVAL, "no more formats")
        return FMTDESC.pack(index, buffer_type, 1, b"", self.formats[index], 0)


def test_ioctl_numbers_are_the_kernels() -> None:
    # From <linux/videodev2.h> on any Linux: _IOR('V', 0, 104), _IOWR('V', 2, 64).
    assert v4l2.VIDIOC_QUERYCAP == 0x80685600
    assert v4l2.VIDIOC_ENUM_FMT == 0xC0405602
    assert v4l2.fourcc(MJPG) == "MJPG"


def test_an_m2m_codec_lists_what_it_encodes_to(tmp_path: Path) -> None:
    node = tmp_path / "video11"
    node.touch()
    caps = v4l2.CAP_VIDEO_M2M_MPLANE | v4l2.CAP_DEVICE_CAPS
    driver = FakeCodec(caps | 0x04000000, caps, [H264, MJPG])
    device = v4l2.query(str(node), driver)
    assert device is not None
    assert device.card == "bcm2835-codec-encode"
    assert device.is_m2m
    assert device.capture_formats == {"H264", "MJPG"}
    # The encoded side of a multi-planar M2M device is its CAPTURE_MPLANE queue.
    assert set(driver.asked_types) == {v4l2.BUF_TYPE_VIDEO_CAPTURE_MPLANE}


def test_device_caps_are_the_nodes_own(tmp_path: Path) -> None:
    """``capabilities`` covers the whole driver; with CAP_DEVICE_CAPS, ``device_caps``
    says what this node is (a webcam's driver may also have an M2M node)."""
    node = tmp_path / "video0"
    node.touch()
    whole_driver = v4l2.CAP_VIDEO_M2M | v4l2.CAP_DEVICE_CAPS | 0x1
    device = v4l2.query(str(node), FakeCodec(whole_driver, 0x1, [MJPG]))
    assert device is not None
    assert not device.is_m2m


@pytest.mark.parametrize("path", ["/dev/null", "regular-file", "missing"])
def test_what_is_not_a_v4l2_node_is_none(path: str, tmp_path: Path) -> None:
    if path != "/dev/null":
        path = str(tmp_path / path)
        if "regular" in path:
            Path(path).write_bytes(b"not a device")
    assert v4l2.query(path) is None  # the real ioctl: ENOTTY, or no file


QUERYCTRL = struct.Struct("=II32siiiiI8x")


WEBCAM_CONTROLS = {  # id: (type, name, min, max, step, default, flags)
    0x00980900: (1, b"Brightness", 0, 255, 1, 128, 0),
    0x0098090C: (2, b"White Balance Temperature, Auto", 0, 1, 1, 1, 0),
    0x009A0902: (1, b"Exposure (Absolute)", 3, 2047, 1, 250, 0x10),  # inactive: still there
    0x009A090D: (1, b"Zoom, Absolute", 100, 500, 1, 100, 0x0001),  # disabled
}


class FakeWebcamNode:
    """A UVC webcam's VIDIOC_QUERYCTRL: the controls it has, one disabled."""

    def __call__(self, fd: int, request: int, argument: bytes) -> bytes:
        assert request == v4l2.VIDIOC_QUERYCTRL
        assert len(argument) == 68  # sizeof(struct v4l2_queryctrl)
        control_id = QUERYCTRL.unpack(argument)[0]
        if control_id not in WEBCAM_CONTROLS:
            raise OSError(errno.EINVAL, "no such control")
        kind, name, low, high, step, default, flags = WEBCAM_CONTROLS[control_id]
        return QUERYCTRL.pack(control_id, kind, name, low, high, step, default, flags)


def test_a_webcams_controls_and_their_limits(tmp_path: Path) -> None:
    # _IOWR('V', 36, 68) in <linux/videodev2.h>
    assert v4l2.VIDIOC_QUERYCTRL == 0xC0445624
    node = tmp_path / "video0"
    node.touch()
    found = v4l2.controls(
        str(node), [0x00980900, 0x0098090C, 0x009A0902, 0x009A090D, 1], FakeWebcamNode()
    )
    assert found == {
        0x00980900: v4l2.ControlRange("Brightness", v4l2.CTRL_TYPE_INTEGER, 0, 255, 1, 128),
        0x0098090C: v4l2.ControlRange(
            "White Balance Temperature, Auto", v4l2.CTRL_TYPE_BOOLEAN, 0, 1, 1, 1
        ),
        0x009A0902: v4l2.ControlRange(
            "Exposure (Absolute)", v4l2.CTRL_TYPE_INTEGER, 3, 2047, 1, 250
        ),
    }  # zoom is disabled, id 1 unknown
    assert v4l2.controls(str(tmp_path / "missing"), [0x00980900]) == {}
