"""The server's configuration: one frozen object, built by the CLI or by hand.

``create_app(Settings(...))`` is all a program embedding the kit needs; the
CLI only turns flags, ``MJPEG_SERVER_*`` variables and a ``--config`` file
into this object. Reading and writing that TOML file is :mod:`.config_file`'s
job (``config_file.update_camera`` writes changed camera options back).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .cameras import CameraDefaults, CameraSpec, device_of

__all__ = ["CameraConfig", "ConfigError", "Settings", "parse_camera_arg"]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


class ConfigError(ValueError):
    """A setting is out of range. The message is one line for the user."""


@dataclass(frozen=True)
class CameraConfig:
    """A named camera; its URLs live under ``/cameras/<name>/``."""

    name: str
    spec: CameraSpec

    def __post_init__(self) -> None:
        if not _NAME_RE.fullmatch(self.name):
            raise ConfigError(
                f"invalid camera name {self.name!r}: use 1-32 letters, digits, '-' or '_'"
            )


def parse_camera_arg(text: str, index: int = 0) -> CameraConfig:
    """``NAME=SPEC`` or a bare ``SPEC`` (named ``default``, or ``cam<index>`` after the first).

    Only what precedes the first ``=`` can be a name, and only if it looks like
    one, so ``emulated?fps=5`` is a spec with an option, not a camera named
    ``emulated?fps``.
    """
    name, sep, rest = text.partition("=")
    if sep and _NAME_RE.fullmatch(name) and not text.startswith(("http://", "https://")):
        return CameraConfig(name, CameraSpec.parse(rest))
    return CameraConfig("default" if index == 0 else f"cam{index}", CameraSpec.parse(text))


def _check_distinct_devices(cameras: tuple[CameraConfig, ...]) -> None:
    """Two cameras may not name one exclusive device (the second open would fail, and
    can break the first: picamera2 #1401)."""
    devices: dict[str, str] = {}
    for camera in cameras:
        device = device_of(camera.spec)
        if device is None:
            continue
        if device in devices:
            raise ConfigError(
                f"cameras {devices[device]!r} and {camera.name!r} are both {device}, "
                "which only one can open: serve it once, under one name"
            )
        devices[device] = camera.name


def _default_cameras() -> tuple[CameraConfig, ...]:
    return (CameraConfig("default", CameraSpec.parse("emulated")),)


@dataclass(frozen=True)
class Settings:
    """Everything the app and the server need. Defaults are the CLI's defaults."""

    #: The first camera is also served at ``/stream.mjpg`` and ``/snapshot.jpg``.
    cameras: tuple[CameraConfig, ...] = field(default_factory=_default_cameras)
    #: Frame rate asked of every camera whose spec sets none.
    fps: float = 30.0
    #: Seconds a camera stays open after its last viewer left; 0 = at once, None = never.
    idle_timeout: float | None = 10.0
    #: Seconds without a frame before an open camera counts as failed and is reopened.
    stall_timeout: float = 5.0
    #: Seconds of camera silence after which the latest frame is sent again.
    heartbeat_interval: float = 1.0
    #: Simultaneous streams, all cameras together; the next one gets 503. A viewer
    #: is a socket, not a thread: the default is what a Pi 4's gigabit Ethernet
    #: carries of 720p at 30 fps (about 20 Mbit/s each).
    max_clients: int = 50
    #: Seconds ``/snapshot.jpg`` waits for a frame from an idle camera.
    snapshot_timeout: float = 5.0
    #: Multipart boundary of every stream.
    boundary: str = "mjpegframe"
    host: str = "127.0.0.1"
    port: int = 8000
    #: "builtin" (the front door: one process, one event loop) or "dev"
    #: (Werkzeug's development server).
    server: str = "builtin"
    #: Seconds a client has to send a complete request head (in total, from the
    #: connection or the previous response), or it is closed.
    header_timeout: float = 10.0
    #: Seconds a response or stream may go without its socket taking a byte
    #: before it is ended (a viewer that stopped reading frees its slot).
    send_timeout: float = 10.0
    #: PEM certificate chain and private key: serve HTTPS instead of HTTP.
    tls_cert: str | None = None
    tls_key: str | None = None
    #: Drop a frame byte-identical to the one before, but send at least one in
    #: this many; 0 sends every frame.
    drop_same_frames: int = 0
    #: htpasswd file with bcrypt entries: its users may watch (server/auth.py).
    auth_file: str | None = None
    #: Tokens accepted as ``?token=``, ``Authorization: Bearer`` or a Basic password.
    tokens: tuple[str, ...] = ()
    #: A file of more tokens, one per line.
    token_file: str | None = None
    #: The ``--config`` file the settings came from: runtime control changes of its
    #: cameras are written back to it (server/controls.py).
    config_file: str | None = None

    def __post_init__(self) -> None:
        if not self.cameras:
            raise ConfigError("at least one camera is needed")
        names = [camera.name for camera in self.cameras]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"camera name used twice: {', '.join(duplicates)}")
        _check_distinct_devices(self.cameras)
        if not self.fps > 0:
            raise ConfigError(f"fps must be positive, not {self.fps}")
        if self.drop_same_frames < 0:
            raise ConfigError(f"drop-same-frames must be >= 0, not {self.drop_same_frames}")
        if self.max_clients < 1:
            raise ConfigError(f"max-clients must be at least 1, not {self.max_clients}")
        if self.server not in ("builtin", "dev"):
            raise ConfigError(f"unknown server {self.server!r} (builtin or dev)")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        for value, what in (
            (self.stall_timeout, "stall-timeout"),
            (self.header_timeout, "header-timeout"),
            (self.send_timeout, "send-timeout"),
            (self.heartbeat_interval, "heartbeat"),
            (self.snapshot_timeout, "snapshot-timeout"),
        ):
            if not value > 0:
                raise ConfigError(f"{what} must be positive, not {value}")
        if self.idle_timeout is not None and not self.idle_timeout >= 0:
            raise ConfigError(f"idle-timeout must be >= 0, not {self.idle_timeout}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0-65535, not {self.port}")

    @property
    def default_camera(self) -> str:
        return self.cameras[0].name

    @property
    def camera_defaults(self) -> CameraDefaults:
        """What every camera gets unless its spec says otherwise (at start-up and when
        a camera is rebuilt with changed controls)."""
        return CameraDefaults(fps=self.fps)
