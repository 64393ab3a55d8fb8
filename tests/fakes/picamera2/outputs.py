"""``picamera2.outputs``: where an encoder sends its frames (0.3.38's Output and FileOutput)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any


class Output:
    """Handles output functionality of encoders."""

    def __init__(self, pts: Any = None) -> None:
        self.recording = False
        self.ptsoutput = pts
        self.needs_pacing = False
        self.needs_add_stream = False

    def start(self) -> None:
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def outputframe(
        self,
        frame: bytes | None,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        """Receives one encoded frame; ``timestamp`` is µs since the recording's first frame."""

    def outputtimestamp(self, timestamp: int | None) -> None:
        if self.ptsoutput is not None and timestamp is not None:
            print(f"{timestamp // 1000}.{timestamp % 1000:03}", file=self.ptsoutput, flush=True)

    def _add_stream(self, encoder_stream: Any, *args: Any, **kwargs: Any) -> None:
        pass


class FileOutput(Output):
    """Writes each frame to a file object: one ``write(frame)`` and a ``flush()`` per frame."""

    def __init__(self, file: Any = None, pts: Any = None, split: int | None = None) -> None:
        super().__init__(pts=pts)
        self.dead = False
        self._needs_close = False
        if file is None:
            self.fileoutput: Any = None
        elif isinstance(file, str | Path):
            self.fileoutput = open(file, "wb")  # noqa: SIM115 - closed in close(), as upstream
            self._needs_close = True
        elif isinstance(file, io.BufferedIOBase):
            self.fileoutput = file
        else:
            raise RuntimeError("Must pass io.BufferedIOBase")
        self._splitsize = split

    def outputframe(
        self,
        frame: bytes | None,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        if audio:
            raise RuntimeError("Fileoutput does not support audio")
        if self.fileoutput is not None and self.recording:
            self.fileoutput.write(frame)
            self.fileoutput.flush()
            self.outputtimestamp(timestamp)

    def stop(self) -> None:
        super().stop()
        self.close()

    def close(self) -> None:
        if self._needs_close:
            self.fileoutput.close()
