"""A fake of picamera2 **0.3.38** for machines without a Raspberry Pi camera (tests only).

It mirrors, from the 0.3.38 source (``pip download --no-deps picamera2==0.3.38``),
the classes, signatures, exceptions and messages of the parts the kit's
backend uses: ``Picamera2`` (``global_camera_info``, the constructor that
acquires, ``create_video_configuration``, ``configure``, ``set_controls``,
``start_recording``, ``stop_recording``, ``stop``, ``close``, context manager),
``picamera2.encoders`` (``Encoder``, ``Quality``, ``JpegEncoder``,
``MJPEGEncoder``), ``picamera2.outputs`` (``Output``, ``FileOutput``) and
``picamera2.platform`` (``Platform``, ``get_platform``).

What makes it a device rather than a stub:

* exclusive acquire across processes: the constructor takes an ``flock`` on
  ``$FAKE_PICAMERA2_DIR/camera<N>.lock``; a second ``Picamera2(N)``, in this or
  another process, fails exactly as libcamera's busy camera does;
* real JPEG frames (the fixture frames, scaled to the configured size and
  encoded at the encoder's quality) from the fake's own sensor thread at the
  configured ``FrameRate``, handed to the encoder's outputs like the real
  encoders do (``outputframe(frame, keyframe, timestamp_us)``, timestamps in
  µs since the first frame, from the sensor's schedule);
* opens and closes are appended to ``$FAKE_PICAMERA2_DIR/camera<N>.events``,
  so a test can count them from another process (:func:`fake_counts`).

Knobs, read from the environment at call time (so a test can set them per
server process): ``FAKE_PICAMERA2_DIR`` (state folder, default
``/tmp/fake-picamera2-<uid>``), ``FAKE_PICAMERA2_CAMERAS`` (cameras attached,
default 1; 0 = none), ``FAKE_PICAMERA2_PLATFORM`` (``VC4``, the default: Pi 4
and older, or ``PISP``: Pi 5), ``FAKE_PICAMERA2_FAIL_AFTER`` (the sensor
stops delivering after N frames of each recording, logging libcamera's
"Camera frontend has timed out!", as a loose cable does),
``FAKE_PICAMERA2_STOP_HANG`` (seconds ``stop()`` blocks, as it can after a
frontend timeout).

Differences from the real library, on purpose: no libcamera, no preview
(``start_preview`` raises: a server must never open a window), the platform is
read per call instead of once at import, and ``MJPEGEncoder`` is one class on
both platforms (the real one is the V4L2 hardware encoder on VC4 and libav's
software encoder on PISP).
"""

from ._fake import fake_counts
from .picamera2 import Picamera2, Preview
from .platform import Platform, get_platform

__all__ = ["Picamera2", "Platform", "Preview", "fake_counts", "get_platform"]
