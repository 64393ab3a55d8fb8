"""The SIL stack's ``sensor-flips`` adaptation (``sil.py`` lists it with the others).

libcamera's virtual pipeline accepts any orientation, a transpose included, says it
applied it and delivers the picture unchanged. A Pi sensor flips in its read-out and
cannot transpose. This makes the virtual camera behave like the sensor, so that the
picamera2 backend's orientation (libcamera's ``Transform``) is tested on the real
stack: a transpose is refused as libcamera refuses it on a Pi, and the flips are done
to each completed NV12 buffer (:func:`flip_nv12`, looked up per frame, so that a
benchmark can time it: on a Pi this work is the sensor's and costs the host nothing).
"""

from __future__ import annotations

import mmap
import types
from typing import Any

__all__ = ["flip_nv12", "sensor_flips"]


# libcamera's orientations a sensor can give by flipping (no transpose): its flips.
_SENSOR_FLIPS = {
    "Rotate0": (False, False),
    "Rotate0Mirror": (True, False),
    "Rotate180": (True, True),
    "Rotate180Mirror": (False, True),
}


def flip_nv12(buffer: Any, stream_config: Any, hflip: bool, vflip: bool) -> None:
    """Flip an NV12 frame buffer in place, as a sensor that reads out mirrored gives it."""
    planes = buffer.planes
    size = planes[-1].offset + planes[-1].length
    with mmap.mmap(planes[0].fd, size, mmap.MAP_SHARED) as memory:
        _flip_planes(memory, stream_config, hflip, vflip)  # its views end with it


def _flip_planes(memory: mmap.mmap, stream_config: Any, hflip: bool, vflip: bool) -> None:
    import numpy as np  # noqa: PLC0415 - present once picamera2 is

    width, height = stream_config.size.width, stream_config.size.height
    stride = stream_config.stride
    flat = np.frombuffer(memory, dtype=np.uint8)
    luma = flat[: stride * height].reshape(height, stride)[:, :width]
    pairs = flat[stride * height : stride * height * 3 // 2].reshape(height // 2, stride)
    chroma = pairs[:, :width].reshape(height // 2, width // 2, 2)  # (U, V) pairs
    for plane in (luma, chroma):
        turned = plane[:, ::-1] if hflip else plane
        turned = turned[::-1] if vflip else turned
        plane[...] = turned.copy()


def sensor_flips(libcamera: types.ModuleType | None) -> None:
    # The virtual pipeline's validate() ignores CameraConfiguration.orientation: it
    # accepts a transpose and never flips. A Pi sensor flips in its read-out and
    # cannot transpose: libcamera's CameraSensor::computeTransform then gives the
    # picture as mounted (Rotate0 here) and validate() says Adjusted. So: validate()
    # refuses a transpose the same way, and each completed buffer of a camera
    # configured with flips is flipped before picamera2 sees it.
    assert libcamera is not None
    config_class, camera_class = libcamera.CameraConfiguration, libcamera.Camera
    manager_class = libcamera.CameraManager
    validate, configure = config_class.validate, camera_class.configure
    queue_request, get_ready_requests = camera_class.queue_request, manager_class.get_ready_requests
    adjusted = libcamera.CameraConfiguration.Status.Adjusted
    flips_of: dict[str, tuple[bool, bool]] = {}  # camera id → its flips
    camera_of: dict[int, str] = {}  # id(request) → camera id

    def sensor_validate(self: Any) -> Any:
        status = validate(self)
        if self.orientation.name not in _SENSOR_FLIPS:
            self.orientation = libcamera.Orientation.Rotate0
            if status != libcamera.CameraConfiguration.Status.Invalid:
                status = adjusted
        return status

    def sensor_configure(self: Any, config: Any) -> Any:
        result = configure(self, config)
        flips_of[self.id] = _SENSOR_FLIPS.get(config.orientation.name, (False, False))
        return result

    def tagged_queue_request(self: Any, request: Any) -> Any:
        camera_of[id(request)] = self.id
        return queue_request(self, request)

    def flipped_ready_requests(self: Any) -> Any:
        requests = get_ready_requests(self)
        for request in requests:
            hflip, vflip = flips_of.get(camera_of.get(id(request), ""), (False, False))
            if (hflip or vflip) and request.status == libcamera.Request.Status.Complete:
                for stream, buffer in request.buffers.items():
                    flip_nv12(buffer, stream.configuration, hflip, vflip)
        return requests

    config_class.validate = sensor_validate
    camera_class.configure = sensor_configure
    camera_class.queue_request = tagged_queue_request
    manager_class.get_ready_requests = flipped_ready_requests
