"""The registry: which module and class serve each camera kind, imported on first use.

Backends are imported only when a spec asks for them, so a missing optional
library is reported for the camera that needs it, not at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Protocol, cast

from .base import Camera
from .spec import CameraDefaults, CameraSpec

__all__ = ["BACKENDS", "create_camera", "device_of"]

#: Backend kind → "module:class", imported on first use.
BACKENDS: Mapping[str, str] = {
    "emulated": "mjpeg_server.cameras.emulated:EmulatedCamera",
    "picamera2": "mjpeg_server.cameras.picamera2:Picamera2Camera",
    "opencv": "mjpeg_server.cameras.opencv:OpenCVCamera",
    "http": "mjpeg_server.cameras.relay:RelayCamera",
}


class _BackendClass(Protocol):
    def from_spec(self, spec: CameraSpec, defaults: CameraDefaults) -> Camera: ...

    def device_of(self, spec: CameraSpec) -> str | None: ...


def _backend(spec: CameraSpec) -> _BackendClass:
    module_name, _, class_name = BACKENDS[spec.kind].partition(":")
    return cast(_BackendClass, getattr(importlib.import_module(module_name), class_name))


def create_camera(
    spec: CameraSpec | str, defaults: CameraDefaults | None = None, *, name: str = "camera"
) -> Camera:
    """Build (not open) the backend for ``spec``, named ``name``. Raises :class:`SpecError`
    for a bad spec and :class:`CameraError` when the backend's library is missing."""
    if isinstance(spec, str):
        spec = CameraSpec.parse(spec)
    camera = _backend(spec).from_spec(spec, defaults or CameraDefaults())
    camera.name = name
    camera.spec = spec
    return camera


def device_of(spec: CameraSpec) -> str | None:
    """The exclusive device ``spec`` opens (:meth:`Camera.device_of`), without building
    the backend (its library is not imported)."""
    return _backend(spec).device_of(spec)
