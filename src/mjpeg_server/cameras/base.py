"""What every camera backend is: open, then JPEG frames with their capture time, then close.

Backends know nothing of HTTP or of clients: the capture hub (``hub.py``) is
their only caller, from one thread at a time. Errors are the kit's own
:class:`CameraError` subclasses with a message that says what to do, whatever
library the backend wraps.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType
from typing import Self


@dataclass(frozen=True, slots=True)
class Frame:
    """One JPEG frame as the camera delivered it."""

    jpeg: bytes
    #: Capture time, Unix seconds (``time.time()`` clock; sent as ``X-Timestamp``).
    timestamp: float
    #: The camera's frame counter since ``open()``; a gap means the camera dropped frames.
    seq: int


class CameraError(Exception):
    """A camera could not be opened or stopped delivering. The message says why and what to do."""


class CameraNotFound(CameraError):
    """No such camera: nothing connected, wrong index, or a missing file or folder."""


class CameraBusy(CameraError):
    """The camera exists but another process (or another open) holds it."""


class CameraFailed(CameraError):
    """The camera was open and failed: device gone, driver error, end of a file."""


class Camera(abc.ABC):
    """A camera backend.

    Life cycle: ``open()`` → any number of ``read()`` → ``close()``, and the
    same object may be opened again after closing (the hub reopens a failed
    camera and closes an idle one). Constructing a backend only checks its
    configuration; it must not touch the device, so a bad configuration is
    reported at start-up and an absent device when a viewer first asks.
    """

    #: Frame rate the backend was asked for (frames per second).
    fps: float

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Short human-readable name for logs and ``/status``, e.g. ``emulated (3 frames)``."""

    @abc.abstractmethod
    def open(self) -> None:
        """Acquire the device and start capturing. Raises :class:`CameraError`."""

    @abc.abstractmethod
    def read(self, timeout: float) -> Frame | None:
        """The next frame, or ``None`` if none arrived within ``timeout`` seconds.

        Must return within about ``timeout`` even if the device hangs, so the
        hub can notice a stall. Raises :class:`CameraFailed` (or another
        :class:`CameraError`) when the camera can no longer deliver.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Stop capturing and release the device. Idempotent; never raises for a camera
        that is already gone."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
