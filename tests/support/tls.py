"""A throwaway TLS certificate for 127.0.0.1 and localhost, made with the ``openssl`` CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .tools import require_tool


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files in ``folder``: self-signed, valid for two days."""
    openssl = require_tool("openssl", "openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key
