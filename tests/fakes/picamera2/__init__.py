"""A fake of picamera2 (0.3.13 to 0.3.38) for machines without a Raspberry Pi camera (tests only).

It mirrors, from the 0.3.38 source (``pip download --no-deps picamera2==0.3.38``),
the classes, signatures, exceptions and messages of the parts the kit's
backend uses: ``Picamera2`` (``global_camera_info``, the constructor that
acquires, ``create_video_configuration``, ``configure``, ``camera_controls``,
``camera_configuration``, ``camera_ctrl_info``, ``set_controls``,
``start_recording``, ``stop_recording``, ``stop``, ``close``, context manager,
``pre_callback``), ``picamera2.request`` (``CompletedRequest``,
``MappedArray``), ``picamera2.encoders`` (``Encoder``, ``Quality``, ``JpegEncoder``,
``MJPEGEncoder``, ``LibavMjpegEncoder``), ``picamera2.outputs`` (``Output``,
``FileOutput``) and ``picamera2.platform`` (``Platform``, ``get_platform``);
and of libcamera's bindings the types picamera2 hands out (``tests/fakes/libcamera``:
``Transform``, ``ControlId``, ``ControlInfo``, ``ControlType``).
``tests/sil/test_fake_conformance.py`` compares these signatures with the real
library's wherever it is installed (``tox -e sil``).

What makes it a device rather than a stub (details in each module):

* exclusive acquire across processes: the constructor takes an ``flock`` on
  ``$FAKE_PICAMERA2_DIR/camera<N>.lock``; a second ``Picamera2(N)``, in this or
  another process, fails exactly as libcamera's busy camera does;
* real JPEG frames (the fixture frames, scaled to the configured size and
  encoded at the encoder's quality) from the fake's own sensor thread at the
  configured ``FrameRate`` **clamped to the sensor mode's limits**, handed to
  the encoder, whose own thread calls the outputs' ``outputframe(frame,
  keyframe, timestamp_us)`` (timestamps in µs since the first frame, from the
  sensor's schedule);
* odd sizes rounded down to even; the VC4 and PISP ``MJPEGEncoder`` classes
  with their own quality mappings (bitrate; libav qp);
* behaviours that changed between releases follow ``FAKE_PICAMERA2_VERSION``;
* opens and closes are appended to ``$FAKE_PICAMERA2_DIR/camera<N>.events``,
  so a test can count them from another process (:func:`fake_counts`).

Knobs, read from the environment at call time (so a test can set them per
server process): ``FAKE_PICAMERA2_DIR`` (state folder, default
``/tmp/fake-picamera2-<uid>``), ``FAKE_PICAMERA2_CAMERAS`` (cameras attached,
default 1; 0 = none), ``FAKE_PICAMERA2_PLATFORM`` (``VC4``, the default: Pi 4
and older, or ``PISP``: Pi 5), ``FAKE_PICAMERA2_VERSION`` (default 0.3.38;
before 0.3.13 there is no ``picamera2.platform``), ``FAKE_PICAMERA2_FAIL_AFTER``
(the sensor stops delivering after N frames of each recording, logging
libcamera's "Camera frontend has timed out!", as a loose cable does),
``FAKE_PICAMERA2_STOP_HANG`` (seconds ``stop()`` blocks, as it can after a
frontend timeout), ``FAKE_PICAMERA2_NO_FLIPS`` (a sensor that cannot flip:
libcamera gives the picture as mounted, whatever the transform asked).

Differences from the real library, on purpose: no libcamera, no preview
(``start_preview`` raises: a server must never open a window), and the
platform is read per call instead of once at import (so that tests can
switch it); the hardware encoder needs no ``/dev/video11``.
"""

from ._fake import fake_counts, version
from .picamera2 import Picamera2, Preview
from .request import CompletedRequest, MappedArray

__all__ = ["CompletedRequest", "MappedArray", "Picamera2", "Preview", "fake_counts"]

if version() >= (0, 3, 13):
    from .platform import Platform, get_platform

    __all__ += ["Platform", "get_platform"]
