"""Writing the files the server is configured from (auth file, config file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, text: str, *, new_mode: int = 0o640) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old or the new
    file, never half of one (a crash or a full disk mid-write leaves the old).

    The new file keeps the old one's permission bits (the service user must
    still be able to read it), or gets ``new_mode`` if there was none.
    """
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = new_mode
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
