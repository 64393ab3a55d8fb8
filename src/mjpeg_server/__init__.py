"""mjpeg-server: live camera streaming over HTTP as Motion JPEG.

The data path, one sub-package each::

    cameras/ (backends: open → JPEG frames → close)
      → hub/ (one capture thread per camera, keeps only the newest frame)
      → wire/ (sans-I/O: each frame framed once as a multipart part)
      → server/ (the Flask app behind the front door, whose one event loop
                 reads every request and writes every stream socket)
      → viewers;  client/ reads any MJPEG URL (iter_frames, probe, bench)

The public API is re-exported here: :func:`create_app` and :class:`Settings` to
embed the server, :func:`iter_frames` to read any MJPEG stream. They are
imported on first use, so ``import mjpeg_server.wire`` does not pull in Flask.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("mjpeg-server")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from .client import iter_frames
    from .config import Settings
    from .server.app import create_app

__all__ = ["Settings", "__version__", "create_app", "iter_frames"]

_LAZY = {
    "create_app": "mjpeg_server.server.app",
    "Settings": "mjpeg_server.config",
    "iter_frames": "mjpeg_server.client",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
