"""The embedded sandbox as the default data source when no credentials are configured.

The sources call :func:`sandbox` when they find no Zoom/MEETS credentials: it starts one sandbox
per process on a free loopback port (size from ``SANDBOX_SCALE``, default ``default``), and stops it
at exit. ``MW_SANDBOX_URL`` points the sources at an already running sandbox instead (for tests
and for ``make sandbox`` in another terminal); its info comes from ``<url>/_sandbox/info``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

import requests

from pipelines.sandbox import SandboxConfig, SandboxServer, Scale

log = logging.getLogger("pipelines.embedded")
_lock = threading.Lock()
_server: SandboxServer | None = None
_info: dict | None = None


def sandbox_info() -> dict:
    """Base URLs and public test credentials of the sandbox the sources should use."""
    global _server, _info
    with _lock:
        if _info is not None:
            return _info
        url = os.environ.get("MW_SANDBOX_URL")
        if url:
            resp = requests.get(f"{url.rstrip('/')}/_sandbox/info", timeout=30)
            resp.raise_for_status()
            _info = resp.json()
            return _info
        scale = os.environ.get("SANDBOX_SCALE", "default")
        cfg = SandboxConfig.from_env(scale=Scale.named(scale))
        _server = SandboxServer(cfg).start()
        atexit.register(_server.stop)
        _info = _server.info()
        log.info("embedded sandbox started at %s (scale %s)", _server.base_url, scale)
        return _info


def reset() -> None:
    """Forget the cached sandbox (tests that point ``MW_SANDBOX_URL`` elsewhere between runs)."""
    global _server, _info
    with _lock:
        if _server is not None:
            _server.stop()
        _server, _info = None, None
