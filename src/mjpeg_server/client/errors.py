"""What the client tools say when reading a stream fails: the error types, and one wording.

Goal: ``iter_frames``, the probe and the bench describe a failure in the
same few words ("Connection refused", "timeout"), the operating system's, not
the story of the library that met it (urllib3's retries, asyncio's address
tuples), so that errors read alike and add up in a report. No I/O.
"""

from __future__ import annotations

import os
import re

__all__ = [
    "HTTPStatusError",
    "NotMultipartError",
    "StreamConnectionError",
    "StreamError",
    "StreamTimeout",
    "describe_error",
]

# "[Errno 111] Connection refused" inside a wrapping library's message.
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


class StreamError(Exception):
    """Reading the stream failed for a reason other than malformed bytes."""


class StreamConnectionError(StreamError):
    """The server could not be reached, or the connection broke."""


class StreamTimeout(StreamError):
    """No response, or no bytes, for ``timeout`` seconds."""


class HTTPStatusError(StreamError):
    """The server answered with an error status (4xx or 5xx)."""

    def __init__(self, url: str, status_code: int, reason: str) -> None:
        super().__init__(f"{url} answered HTTP {status_code} {reason}".rstrip())
        self.url = url
        self.status_code = status_code
        self.reason = reason


class NotMultipartError(StreamError):
    """The response is not a multipart stream (or its Content-Type has no boundary)."""

    def __init__(self, url: str, content_type: str, detail: str) -> None:
        super().__init__(f"{url} is not a multipart stream: {detail}")
        self.url = url
        self.content_type = content_type


def describe_error(error: BaseException) -> str:
    """A short, fixed phrasing of ``error``: the OS's words where there are some.

    In order: an ``OSError`` with an errno gives ``os.strerror`` ("Connection
    refused", whatever address asyncio put in the message); one with only a
    text (``getaddrinfo``'s negative codes) that text; a wrapper whose message
    quotes an ``[Errno N] text`` (requests, urllib3) that text; a bare timeout
    "timeout"; anything else its message, or its type's name if it has none.
    """
    if isinstance(error, OSError):
        if error.errno is not None and error.errno > 0:
            return os.strerror(error.errno)
        if error.strerror:
            return error.strerror
    text = str(error)
    match = _ERRNO_RE.search(text)
    if match:
        return match[1].strip()
    if not text and isinstance(error, TimeoutError):
        return "timeout"
    return text or type(error).__name__
