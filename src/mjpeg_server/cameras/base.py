"""What every camera backend is: open, then JPEG frames with their capture time, then close.

Backends know nothing of HTTP or of clients: the capture hub (``hub/``) is
their only caller, from one thread at a time. Errors are the kit's own
:class:`CameraError` subclasses with a message that says what to do, whatever
library the backend wraps.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Self

if TYPE_CHECKING:
    from .controls import Control
    from .spec import CameraSpec


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
    #: The camera's name where the server serves it (``/cameras/<name>/``, ``{camera}``
    #: in an overlay); set by :func:`~.registry.create_camera`.
    name: str = "camera"
    #: The spec it was built from (``None`` for one built by hand); set by ``create_camera``.
    spec: CameraSpec | None = None
    #: Spec options this backend can change while it is open (see :meth:`adopt`).
    live_options: ClassVar[frozenset[str]] = frozenset()
    #: Frame rate the device really runs at, once open, where it can tell (a sensor
    #: clamps an asked rate to its mode's limits); None: as asked, or unknown.
    fps_actual: float | None = None

    @classmethod
    def device_of(cls, spec: CameraSpec) -> str | None:
        """The device ``spec`` opens, named for the user, if no two cameras of the
        server may open it (an exclusive device); None if that does not apply.
        Two specs naming one device are rejected at start-up."""
        return None

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

    def controls(self) -> Sequence[Control]:
        """What a user may change (``GET /controls``), with current values. The names
        are spec options; a change is made by building a new camera from the changed
        spec and handing it to :meth:`adopt` (or reopening with it)."""
        return ()

    def adopt(self, new: Camera) -> bool:
        """Take over ``new``'s settings while open, if only :attr:`live_options` differ.

        Called on the hub's capture thread (the only caller of the camera). Returns
        False when the change needs a reopen: the hub then closes this camera and
        opens ``new`` instead.
        """
        if type(new) is not type(self) or self.spec is None or new.spec is None:
            return False
        old, changed = self.spec, new.spec
        if (old.kind, old.target) != (changed.kind, changed.target):
            return False
        keys = {
            key
            for key in set(old.options) | set(changed.options)
            if old.options.get(key) != changed.options.get(key)
        }
        if not all(self._is_live(key, new) for key in keys):
            return False
        self._adopt(new, keys)
        self.spec = new.spec
        return True

    def _is_live(self, key: str, new: Camera) -> bool:
        """Whether a change of option ``key`` to ``new``'s value applies while open
        (backends whose live options depend on the camera or the value override)."""
        return key in self.live_options

    def _adopt(self, new: Camera, changed: set[str]) -> None:
        """Apply ``new``'s values of the ``changed`` live options (backends override)."""
        raise NotImplementedError

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
