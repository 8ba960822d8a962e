"""Shared fixtures: a live sandbox over loopback HTTP, and helpers to talk to it."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
import requests

from pipelines.sandbox import SandboxConfig, SandboxServer

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


class SandboxClient:
    """Thin test helper around a running sandbox: admin calls and token minting.

    Tests of the sandbox itself use plain ``requests`` so they exercise the wire format exactly.
    """

    def __init__(self, server: SandboxServer):
        self.server = server
        self.base = server.base_url
        self.info = server.info()
        self.http = requests.Session()

    def admin(self, name: str, payload: dict | None = None) -> dict:
        if payload is None:
            r = self.http.get(f"{self.base}/_sandbox/{name}", timeout=60)
        else:
            r = self.http.post(f"{self.base}/_sandbox/{name}", json=payload, timeout=60)
        r.raise_for_status()
        return r.json()

    def s2s_token(self) -> str:
        basic = base64.b64encode(f"{self.info['client_id']}:{self.info['client_secret']}".encode()).decode()
        r = self.http.post(
            f"{self.base}/oauth/token",
            params={"grant_type": "account_credentials", "account_id": self.info["account_id"]},
            headers={"Authorization": f"Basic {basic}"},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def zoom_get(self, path: str, token: str, **params: object) -> requests.Response:
        return self.http.get(
            f"{self.base}/v2{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def meets(self, function: str, method: str = "GET", **params: object) -> requests.Response:
        headers = {self.info["meets_token_header"]: self.info["meets_token"]}
        url = f"{self.base}/meets/api/{function}"
        if method == "POST":
            return self.http.post(url, data=params, headers=headers, timeout=60, allow_redirects=False)
        return self.http.get(url, params=params, headers=headers, timeout=60, allow_redirects=False)


@pytest.fixture
def sandbox_factory() -> Iterator:
    """Start sandboxes with custom settings: ``sandbox_factory(plan="pro", p429=0.3)``."""
    started: list[SandboxServer] = []

    def make(**overrides: object) -> SandboxClient:
        cfg = SandboxConfig.from_env(**overrides)
        srv = SandboxServer(cfg).start()
        started.append(srv)
        return SandboxClient(srv)

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def sandbox(sandbox_factory) -> SandboxClient:
    """A fresh sandbox at the small test scale with every fault off."""
    return sandbox_factory()
