"""The capture hub: one camera, one capture thread, any number of viewers.

Goals, each one a failure of the classic Flask streaming recipe (field notes §1):

* exactly one capture thread per camera, started by the first subscriber, even
  when hundreds arrive at once (F4); the decision to start or stop it is taken
  under one lock, so a viewer who arrives while the camera is being released
  gets it reopened instead of hanging (F3);
* a frame is framed into its multipart part **once**; every client is handed
  the same ``bytes`` object (F10);
* "latest value" delivery: the hub keeps only the newest part and a version
  number, each subscriber remembers the version it last took. Publishing is
  O(1) whatever the number of subscribers (no per-client dict to walk while it
  changes, F2; nothing to clean up per frame, F6), a new subscriber gets the
  newest frame at once (F5), and a slow client skips to the newest frame —
  at most one frame is ever pending per client, nothing queues;
* the camera is closed ``idle_timeout`` seconds after the last subscriber
  left, measured on ``time.monotonic`` from that moment, not from the last
  frame a client fetched (F7);
* a backend exception or a stall (no frame for ``stall_timeout``) closes and
  reopens the camera with capped exponential backoff; subscribers stay
  subscribed and resume with the next frame; the error stays visible in
  :meth:`CaptureHub.status` (F1, F9). The backoff is for a camera that cannot
  work; one that delivered frames for ``healthy_after`` seconds has shown it
  can, so its next failure waits ``backoff_initial`` again (see HubSettings);
* only JPEGs are served: a frame that is not one (a relayed upstream's error
  page, a torn part) is counted in ``frames_rejected`` and dropped, never sent
  as ``image/jpeg``; if nothing else comes, the stall that follows names them;
* the status keeps what went wrong: ``last_error`` with the causes it was
  raised from, and ``root_cause``, the error that began the current run of
  failures, which later reopen attempts (mere symptoms: "connection refused"
  while an upstream restarts) do not overwrite;
* daemon threads and :meth:`CaptureHub.close` (F11);
* :meth:`CaptureHub.reconfigure` changes the camera's settings under running
  streams: the capture thread applies a live change between two frames, or
  closes the camera and opens it with the new settings (rolling back if they
  cannot open); subscribers stay subscribed throughout, and the frames the
  camera could not deliver during a reopen show as a gap in the sequence numbers.

Cost per frame: one encode (a copy of the JPEG), one lock round trip and a
``notify_all`` that wakes each waiting subscriber once.

Layout: ``capture.py`` is the hub and its capture thread; ``subscription.py``
a viewer's end (and the shared :class:`Part`); ``settings.py``, ``status.py``
and ``pacing.py`` what it is told, what it reports, and the per-viewer rate
cap and identical-frame filter.

Threading: the capture thread is the only caller of the camera. Every other
shared field is read and written under ``_lock``; the per-subscription
counters are written only by that subscription's consumer.
"""

from .capture import CameraStalled, CaptureHub, Reconfiguration
from .settings import HubSettings
from .status import HubState, HubStatus, describe_failure, measured_fps
from .subscription import HubClosed, Part, Subscription

__all__ = [
    "CameraStalled",
    "CaptureHub",
    "HubClosed",
    "HubSettings",
    "HubState",
    "HubStatus",
    "Part",
    "Reconfiguration",
    "Subscription",
    "describe_failure",
    "measured_fps",
]
