"""``python -m mjpeg_server`` is the ``mjpeg-server`` command."""

from .cli import main

raise SystemExit(main())
