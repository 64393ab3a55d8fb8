"""External programs some tests drive (htpasswd, ffmpeg, nginx …).

Where a program is missing, its tests skip with the reason on a developer's
machine, and fail in CI (``.ci/run`` sets ``MJPEG_SERVER_REQUIRE_TOOLS=1`` and
installs them): a green CI run must mean they ran.
"""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["REQUIRE_ENV", "require_tool"]

REQUIRE_ENV = "MJPEG_SERVER_REQUIRE_TOOLS"


def require_tool(name: str, package: str) -> str:
    """The path of program ``name``; skip (or fail under CI) if it is missing."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK) else None
    )
    if path is None:
        message = f"{name} is not installed (Debian package {package})"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message}, and {REQUIRE_ENV}=1 requires it")
        pytest.skip(message)
    return path
