"""A certificate authority and a server certificate made at start time (``trustme``).

Why TLS at all: the Google client keeps ``https`` whatever ``client_options.api_endpoint`` says (it
swaps only the host of the upload URL), so the emulator must speak TLS. The CA's PEM is written to
a private temporary file that the client trusts through ``httplib2.Http(ca_certs=...)``; nothing
is installed system-wide and nothing outlives the process's temporary folder.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Certificates:
    ca_path: Path  # PEM of the CA the client trusts
    context: ssl.SSLContext  # server context holding the leaf certificate


def make_certificates(folder: Path | None = None) -> Certificates:
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
    folder = Path(folder or tempfile.mkdtemp(prefix="mw-youtube-tls-"))
    folder.mkdir(parents=True, exist_ok=True)
    ca_path = folder / "emulator-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return Certificates(ca_path=ca_path, context=context)
