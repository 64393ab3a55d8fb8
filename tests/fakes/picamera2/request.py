"""``picamera2.request``: a completed request and ``MappedArray`` (0.3.38's API).

A pre-callback (``Picamera2.pre_callback``) gets each completed request before
the encoder does and may draw into its buffers through ``MappedArray``: with
``reshape=False`` the stream's bytes as one flat uint8 array, otherwise shaped
as picamera2's ``_make_array_shared`` shapes them (packed formats as
(rows, columns, channels), YUV 4:2:0 as ``height * 3 / 2`` rows of ``stride``
bytes). Either way the array *is* the buffer: what is drawn is encoded.

The fake's request holds its buffers itself (the real one maps libcamera's
dma-bufs through the camera's allocator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np

_PACKED_DEPTH = {"XBGR8888": 4, "XRGB8888": 4, "RGB888": 3, "BGR888": 3}


@dataclass
class _Request:
    """Stands in for the ``libcamera.Request`` a completed request wraps."""

    buffers: dict[str, bytearray]
    metadata: dict[str, Any] = field(default_factory=dict)


class MappedArray:
    """The named stream's buffer of a request as a numpy array, without a copy."""

    def __init__(
        self, request: CompletedRequest, stream: str, reshape: bool = True, write: bool = True
    ) -> None:
        self.__request = request
        self.__stream = stream
        self.__reshape = reshape
        self.__write = write
        self.__array: Any = None

    def __enter__(self) -> MappedArray:
        assert self.__request.request is not None
        buffer = self.__request.request.buffers[self.__stream]
        array = np.frombuffer(buffer if self.__write else bytes(buffer), dtype=np.uint8)
        if self.__reshape:
            array = _shaped(array, self.__request.config[self.__stream])
        self.__array = array
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        exc_traceback: TracebackType | None,
    ) -> None:
        self.__array = None

    @property
    def array(self) -> Any:
        return self.__array


def _shaped(array: Any, config: dict[str, Any]) -> Any:
    """As picamera2's ``_make_array_shared`` (for the formats the fake delivers)."""
    width, height = config["size"]
    stride = config["stride"]
    fmt = config["format"]
    if fmt in _PACKED_DEPTH:
        depth = _PACKED_DEPTH[fmt]
        rows = array.reshape((height, stride))[:, : width * depth]
        return rows.reshape((height, width, depth))
    if fmt in ("YUV420", "YVU420"):
        return array.reshape((height * 3 // 2, stride))
    raise RuntimeError(f"Format {fmt} not supported")


class CompletedRequest:
    """A request the camera completed: its buffers, configuration and metadata."""

    def __init__(self, request: Any, picam2: Any) -> None:
        self.request: _Request | None = request
        self.ref_count = 1
        self.picam2 = picam2
        self.config = dict(picam2.camera_config)
        self.stream_map = {name: name for name in request.buffers}

    def acquire(self) -> None:
        if self.ref_count == 0:
            raise RuntimeError("CompletedRequest: acquiring lock with ref_count 0")
        self.ref_count += 1

    def release(self) -> None:
        self.ref_count -= 1
        if self.ref_count < 0:
            raise RuntimeError("CompletedRequest: lock now has negative ref_count")

    def make_buffer(self, name: str) -> Any:
        if self.stream_map.get(name) is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        assert self.request is not None
        return np.array(self.request.buffers[name], dtype=np.uint8)

    def get_metadata(self) -> dict[str, Any]:
        assert self.request is not None
        return dict(self.request.metadata)
