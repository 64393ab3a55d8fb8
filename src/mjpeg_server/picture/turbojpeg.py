"""libjpeg-turbo's TurboJPEG API through ctypes: lossless transforms, and
decoding to / encoding from planar YUV (for drawing on a frame).

Why ctypes and not a wheel: Debian and Raspberry Pi OS ship the library
(``libturbojpeg0``); the Python wrappers on PyPI need it too and add nothing
the four calls here need. Loaded on first use only: a server whose cameras
use no picture control never maps it.

Handles are per thread (TurboJPEG handles are not thread-safe, and each
camera transforms on its own thread). Output buffers are allocated by the
library and copied once into ``bytes``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from .orientation import TjOp

__all__ = [
    "MCU_SIZES",
    "PictureLibraryMissing",
    "TurboJPEG",
    "TurboJPEGError",
    "YUVImage",
    "turbojpeg",
]

INSTALL_HINT = "install libjpeg-turbo's TurboJPEG library: 'sudo apt install libturbojpeg0'"

# turbojpeg.h (libjpeg-turbo 2.x API, also exported by 3.x)
_TJXOPT_TRIM = 2
_TJXOPT_COPYNONE = 64
_TJFLAG_FASTDCT = 2048
#: Chroma subsampling (TJSAMP_*) → MCU width and height in pixels.
MCU_SIZES = {0: (8, 8), 1: (16, 8), 2: (16, 16), 3: (8, 8), 4: (8, 16), 5: (32, 8)}
_SAMP_NAMES = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0", 3: "grey", 4: "4:4:0", 5: "4:1:1"}


class TurboJPEGError(ValueError):
    """libjpeg-turbo refused a frame (not a JPEG, or corrupt)."""


class PictureLibraryMissing(RuntimeError):
    """A picture control needs a library that is not installed. The message says which."""


class _Region(ctypes.Structure):
    _fields_ = (("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int))


class _Transform(ctypes.Structure):
    _fields_ = (
        ("r", _Region),
        ("op", ctypes.c_int),
        ("options", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("customFilter", ctypes.c_void_p),
    )


@dataclass
class YUVImage:
    """A decoded frame as planes (Y, then U, V at the subsampled size), rows unpadded."""

    width: int
    height: int
    #: TJSAMP_* value: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0, 3 = grey …
    subsampling: int
    buffer: bytearray

    @property
    def chroma_size(self) -> tuple[int, int]:
        if self.subsampling == 3:
            return 0, 0
        mcu_w, mcu_h = MCU_SIZES[self.subsampling]
        sx, sy = mcu_w // 8, mcu_h // 8
        return -(-self.width // sx), -(-self.height // sy)


def _load() -> ctypes.CDLL:
    path = ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0"
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        raise PictureLibraryMissing(f"libjpeg-turbo not found: {INSTALL_HINT}") from None
    u8p = ctypes.POINTER(ctypes.c_ubyte)
    ulong = ctypes.c_ulong
    lib.tjInitTransform.restype = ctypes.c_void_p
    lib.tjInitCompress.restype = ctypes.c_void_p
    lib.tjInitDecompress.restype = ctypes.c_void_p
    lib.tjDestroy.argtypes = (ctypes.c_void_p,)
    lib.tjFree.argtypes = (u8p,)
    lib.tjGetErrorStr2.restype = ctypes.c_char_p
    lib.tjGetErrorStr2.argtypes = (ctypes.c_void_p,)
    lib.tjTransform.argtypes = (
        ctypes.c_void_p,
        ctypes.c_char_p,
        ulong,
        ctypes.c_int,
        ctypes.POINTER(u8p),
        ctypes.POINTER(ulong),
        ctypes.POINTER(_Transform),
        ctypes.c_int,
    )
    intp = ctypes.POINTER(ctypes.c_int)
    lib.tjDecompressHeader3.argtypes = (
        ctypes.c_void_p,
        ctypes.c_char_p,
        ulong,
        intp,
        intp,
        intp,
        intp,
    )
    lib.tjBufSizeYUV2.restype = ulong
    lib.tjBufSizeYUV2.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int)
    lib.tjDecompressToYUV2.argtypes = (
        ctypes.c_void_p,
        ctypes.c_char_p,
        ulong,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
    )
    lib.tjCompressFromYUV.argtypes = (
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(u8p),
        ctypes.POINTER(ulong),
        ctypes.c_int,
        ctypes.c_int,
    )
    return lib


class TurboJPEG:
    """The calls the picture package needs. One instance serves every thread."""

    def __init__(self) -> None:
        self._lib = _load()
        self._local = threading.local()

    def _handle(self, kind: str) -> Any:
        handle = getattr(self._local, kind, None)
        if handle is None:
            handle = getattr(self._lib, f"tjInit{kind}")()
            if not handle:
                raise PictureLibraryMissing("libjpeg-turbo could not make a handle")
            setattr(self._local, kind, handle)
        return handle

    def _error(self, handle: Any, what: str) -> TurboJPEGError:
        message = self._lib.tjGetErrorStr2(handle).decode(errors="replace")
        return TurboJPEGError(f"{what}: {message}")

    def header(self, jpeg: bytes) -> tuple[int, int, int]:
        """``(width, height, subsampling)`` of a JPEG, read from its header."""
        handle = self._handle("Decompress")
        width, height, samp, colorspace = (ctypes.c_int() for _ in range(4))
        if self._lib.tjDecompressHeader3(
            handle,
            jpeg,
            len(jpeg),
            ctypes.byref(width),
            ctypes.byref(height),
            ctypes.byref(samp),
            ctypes.byref(colorspace),
        ):
            raise self._error(handle, "not a JPEG")
        return width.value, height.value, samp.value

    def transform(self, jpeg: bytes, op: TjOp) -> bytes:
        """``jpeg`` turned/mirrored by ``op`` without decoding the pixels (no quality loss).

        A transform that moves a partial MCU block (a width or height that is not a
        multiple of 8 or 16, e.g. 1080 rows in 4:2:0) cannot be lossless at that edge:
        the partial blocks are trimmed (``TJXOPT_TRIM``), so 1920x1080 in 4:2:0 turned
        by 90° is 1072x1920. Metadata (EXIF, comments) is not copied: a frame is a frame.
        """
        handle = self._handle("Transform")
        transform = _Transform(op=int(op), options=_TJXOPT_TRIM | _TJXOPT_COPYNONE)
        out = ctypes.POINTER(ctypes.c_ubyte)()
        size = ctypes.c_ulong(0)
        if self._lib.tjTransform(
            handle,
            jpeg,
            len(jpeg),
            1,
            ctypes.byref(out),
            ctypes.byref(size),
            ctypes.byref(transform),
            0,
        ):
            if out:
                self._lib.tjFree(out)
            raise self._error(handle, "lossless transform failed")
        try:
            return ctypes.string_at(out, size.value)
        finally:
            self._lib.tjFree(out)

    def decode_yuv(self, jpeg: bytes) -> YUVImage:
        """Decode to planar YUV at the JPEG's own subsampling: no colour conversion and
        no chroma upsampling, the cheapest decode that still lets us draw."""
        width, height, samp = self.header(jpeg)
        handle = self._handle("Decompress")
        buffer = bytearray(self._lib.tjBufSizeYUV2(width, 1, height, samp))
        target = (ctypes.c_char * len(buffer)).from_buffer(buffer)
        if self._lib.tjDecompressToYUV2(
            handle, jpeg, len(jpeg), target, width, 1, height, _TJFLAG_FASTDCT
        ):
            raise self._error(handle, "decode failed")
        return YUVImage(width, height, samp, buffer)

    def encode_yuv(self, image: YUVImage, quality: int) -> bytes:
        handle = self._handle("Compress")
        source = (ctypes.c_char * len(image.buffer)).from_buffer(image.buffer)
        out = ctypes.POINTER(ctypes.c_ubyte)()
        size = ctypes.c_ulong(0)
        if self._lib.tjCompressFromYUV(
            handle,
            source,
            image.width,
            1,
            image.height,
            image.subsampling,
            ctypes.byref(out),
            ctypes.byref(size),
            quality,
            _TJFLAG_FASTDCT,
        ):
            if out:
                self._lib.tjFree(out)
            raise self._error(handle, "encode failed")
        try:
            return ctypes.string_at(out, size.value)
        finally:
            self._lib.tjFree(out)

    @staticmethod
    def subsampling_name(samp: int) -> str:
        return _SAMP_NAMES.get(samp, str(samp))


@cache
def turbojpeg() -> TurboJPEG:
    """The process's one :class:`TurboJPEG` (the library is loaded on the first call)."""
    return TurboJPEG()
