"""A real receiver process (``python -m pipelines webhooks`` under uvicorn) and Zoom-style signing,
computed here independently of the receiver's own code."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.integration.recordings_support import ROOT, free_port

SECRET = "test-webhook-secret-token-0123456789"


def zoom_sign(secret: str, timestamp: int | str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


@dataclass
class Receiver:
    proc: subprocess.Popen
    base: str
    state_dir: Path
    log: Path

    @property
    def url(self) -> str:
        return f"{self.base}/zoom/webhook"

    @property
    def queue_path(self) -> Path:
        return self.state_dir / "webhooks.sqlite"

    def post(
        self, message: dict | bytes, *, secret: str = SECRET, timestamp: int | None = None, sign: bool = True
    ) -> requests.Response:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {"Content-Type": "application/json"}
        if sign:
            headers |= {"x-zm-request-timestamp": str(ts), "x-zm-signature": zoom_sign(secret, ts, body)}
        return requests.post(self.url, data=body, headers=headers, timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_receiver(state_dir: Path, secret: str = SECRET, **env: str) -> Receiver:
    """Start the receiver on a free loopback port with its queue in ``state_dir``; wait until it answers."""
    port = free_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "receiver.log"
    child_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ZOOM__WEBHOOKS__", "MW_", "SANDBOX_"))
    }
    child_env |= {"ZOOM__WEBHOOKS__SECRET_TOKEN": secret, "MW_STATE_DIR": str(state_dir), **env}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines", "webhooks", "--port", str(port)],
            cwd=ROOT,
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    receiver = Receiver(proc, f"http://127.0.0.1:{port}", state_dir, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"receiver exited {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            if requests.get(f"{receiver.base}/healthz", timeout=1).ok:
                return receiver
        except requests.RequestException:
            time.sleep(0.05)
    receiver.stop()
    raise RuntimeError("the webhook receiver did not start within 30 s")
