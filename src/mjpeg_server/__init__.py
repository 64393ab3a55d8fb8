"""mjpeg-server: live camera streaming over HTTP as Motion JPEG.

The data path, one module each::

    cameras/ (backends) → hub.py (one capture thread per camera, latest frame)
        → multipart.py (each frame framed once) → app.py (Flask routes)
        → serving.py (gunicorn or the dev server) → clients (client.py reads any MJPEG URL)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mjpeg-server")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
