"""Camera backends and the registry that turns a spec string into one.

A spec names a backend and, optionally, what to open and how::

    emulated                      the bundled test frames (fixtures/frames)
    emulated:/path/to/jpegs       cycle the JPEGs of a folder
    emulated?fps=10&fail_after=50 options go after '?', as in a URL query
    picamera2 / picamera2:1       a Raspberry Pi camera (extra "pi")
    picamera2?size=640x480&quality=70&encoder=jpeg
    opencv:0 / opencv:clip.mp4    a V4L2 device index, a file or URL (extra "opencv")
    opencv:rtsp://cam/live?size=640x480&quality=80
    http://host:8080/?action=stream   relay another MJPEG server

Backends are imported only when a spec asks for them, so a missing optional
library is reported for the camera that needs it, not at import time.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, cast
from urllib.parse import parse_qsl

from .base import Camera, CameraBusy, CameraError, CameraFailed, CameraNotFound, Frame

__all__ = [
    "BACKENDS",
    "Camera",
    "CameraBusy",
    "CameraDefaults",
    "CameraError",
    "CameraFailed",
    "CameraNotFound",
    "CameraSpec",
    "Frame",
    "SpecError",
    "SpecOptions",
    "create_camera",
]

#: Backend kind → "module:class", imported on first use.
BACKENDS: Mapping[str, str] = {
    "emulated": "mjpeg_server.cameras.emulated:EmulatedCamera",
    "picamera2": "mjpeg_server.cameras.picamera2:Picamera2Camera",
    "opencv": "mjpeg_server.cameras.opencv:OpenCVCamera",
    "http": "mjpeg_server.cameras.http:HttpCamera",
}

_T = TypeVar("_T")
_KIND_RE = re.compile(r"[a-z][a-z0-9_]*")


class SpecError(ValueError):
    """A camera spec or one of its options is invalid. The message is one line for the user."""


@dataclass(frozen=True)
class CameraDefaults:
    """Settings that apply to every camera unless its spec overrides them."""

    fps: float = 30.0


@dataclass(frozen=True)
class CameraSpec:
    """A parsed camera spec: ``KIND[:TARGET][?KEY=VALUE&...]`` or an http(s) URL."""

    kind: str
    target: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> CameraSpec:
        text = text.strip()
        if text.startswith(("http://", "https://")):
            # A URL is relayed whole, its own query included.
            return cls(kind="http", target=text, text=text)
        body, _, query = text.partition("?")
        kind, has_target, target = body.partition(":")
        if not _KIND_RE.fullmatch(kind):
            raise SpecError(f"invalid camera spec {text!r}: expected KIND[:TARGET][?OPTIONS]")
        if kind not in BACKENDS:
            known = ", ".join(sorted(BACKENDS))
            raise SpecError(f"unknown camera kind {kind!r} in {text!r} (known: {known})")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise SpecError(f"invalid options in camera spec {text!r}: use ?key=value&…") from None
        options: dict[str, str] = {}
        for key, value in pairs:
            if key in options:
                raise SpecError(f"camera spec {text!r} sets option {key!r} twice")
            options[key] = value
        return cls(kind=kind, target=target if has_target else None, options=options, text=text)

    def __str__(self) -> str:
        return self.text or self.kind


class SpecOptions:
    """Typed access to a spec's options; :meth:`finish` rejects any option nobody asked for."""

    def __init__(self, spec: CameraSpec) -> None:
        self._spec = spec
        self._left = dict(spec.options)
        self._known: list[str] = []

    def _take(self, key: str) -> str | None:
        self._known.append(key)
        return self._left.pop(key, None)

    def _convert(self, key: str, convert: Callable[[str], _T], what: str) -> _T | None:
        raw = self._take(key)
        if raw is None:
            return None
        try:
            return convert(raw)
        except ValueError:
            raise SpecError(f"camera {self._spec}: option {key}={raw!r} is not {what}") from None

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = self._convert(key, float, "a number")
        if value is None:
            return default
        if not value >= minimum:  # also rejects NaN
            raise SpecError(f"camera {self._spec}: option {key} must be >= {minimum:g}")
        return value

    def integer(self, key: str, default: int | None, *, minimum: int = 0) -> int | None:
        value = self._convert(key, int, "a whole number")
        if value is None:
            return default
        if value < minimum:
            raise SpecError(f"camera {self._spec}: option {key} must be >= {minimum}")
        return value

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self._take(key)
        return default if value is None else value

    def size(self, key: str, default: tuple[int, int] | None) -> tuple[int, int] | None:
        raw = self._take(key)
        if raw is None:
            return default
        match = re.fullmatch(r"(\d+)x(\d+)", raw)
        if not match or 0 in (int(match[1]), int(match[2])):
            raise SpecError(f"camera {self._spec}: option {key}={raw!r} is not WIDTHxHEIGHT")
        return int(match[1]), int(match[2])

    def finish(self) -> None:
        if self._left:
            unknown = ", ".join(sorted(self._left))
            known = ", ".join(self._known) or "none"
            raise SpecError(f"camera {self._spec}: unknown option {unknown} (valid: {known})")


class _BackendClass(Protocol):
    def from_spec(self, spec: CameraSpec, defaults: CameraDefaults) -> Camera: ...


def create_camera(spec: CameraSpec | str, defaults: CameraDefaults | None = None) -> Camera:
    """Build (not open) the backend for ``spec``. Raises :class:`SpecError` for a bad spec
    and :class:`CameraError` when the backend's library is missing."""
    if isinstance(spec, str):
        spec = CameraSpec.parse(spec)
    module_name, _, class_name = BACKENDS[spec.kind].partition(":")
    backend = cast(_BackendClass, getattr(importlib.import_module(module_name), class_name))
    return backend.from_spec(spec, defaults or CameraDefaults())
