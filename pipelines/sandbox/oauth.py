"""Zoom's OAuth endpoints as the sandbox serves them: ``/oauth/token`` and ``/oauth/authorize``.

Grants: ``account_credentials`` (Server-to-Server), ``authorization_code`` (General app) and
``refresh_token`` (rotating: each refresh returns a new refresh token and invalidates the old one).
Error bodies follow Zoom's documented shapes (shared/reference/zoom-api-facts.md section 1.4).
"""

from __future__ import annotations

import base64
import secrets
import time
from urllib.parse import urlencode

from pipelines.sandbox.config import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
)
from pipelines.sandbox.http_types import Request, Response, json_response
from pipelines.sandbox.state import SandboxState

CODE_LIFETIME = 300  # Zoom: authorization codes expire after 5 minutes
SCOPES = (
    "user:read:admin report:read:admin dashboard_meetings:read:admin recording:read:admin "
    "meeting:read:admin cloud_recording:read:list_user_recordings cloud_recording:read:recording"
)


def _oauth_error(status: int, reason: str, error: str) -> Response:
    return json_response(status, {"reason": reason, "error": error})


def _client_ok(req: Request) -> bool:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        raw = base64.b64decode(header[6:]).decode()
    except ValueError:
        return False
    client_id, _, secret = raw.partition(":")
    return secrets.compare_digest(client_id, SANDBOX_CLIENT_ID) and secrets.compare_digest(
        secret, SANDBOX_CLIENT_SECRET
    )


def _token_body(state: SandboxState, access: str, refresh: str | None, base_url: str) -> dict:
    body = {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": state.config.faults.token_lifetime,
        "scope": SCOPES if state.config.scopes is None else state.config.scopes,
        "api_url": base_url,
    }
    if refresh is not None:
        body["refresh_token"] = refresh
    return body


def token(req: Request, state: SandboxState, base_url: str) -> Response:
    if req.method != "POST":
        return _oauth_error(405, "Method not allowed", "invalid_request")
    if not _client_ok(req):
        # HTTP 400, as real token endpoints answer (captured in public issue threads, 2023)
        return _oauth_error(400, "Invalid client_id or client_secret", "invalid_client")
    grant = req.arg("grant_type")
    if grant == "account_credentials":
        if req.arg("account_id") != state.config.account_id:
            return _oauth_error(400, "Invalid account_id", "invalid_request")
        tok = state.mint_access_token("s2s")
        return json_response(200, _token_body(state, tok.value, None, base_url))
    if grant == "authorization_code":
        code = req.arg("code") or ""
        with state.lock:
            entry = state.auth_codes.pop(code, None)
        if entry is None:
            return _oauth_error(400, "Invalid authorization code", "invalid_grant")
        redirect_uri, expires = entry
        if time.monotonic() > expires:
            return _oauth_error(400, "Code is expired", "invalid_grant")
        if req.arg("redirect_uri") != redirect_uri:
            return _oauth_error(400, "Redirect URI mismatch", "invalid_request")
        grant_id = secrets.token_hex(8)
        refresh = state.mint_refresh_token(grant_id)
        tok = state.mint_access_token("user", grant_id)
        return json_response(200, _token_body(state, tok.value, refresh, base_url))
    if grant == "refresh_token":
        presented = req.arg("refresh_token") or ""
        with state.lock:
            grant_id = state.refresh_tokens.get(presented)
        if grant_id is None:
            return _oauth_error(400, "Invalid Token!", "invalid_grant")
        refresh = state.mint_refresh_token(grant_id)
        tok = state.mint_access_token("user", grant_id)
        return json_response(200, _token_body(state, tok.value, refresh, base_url))
    return _oauth_error(400, "unsupported grant type", "unsupported_grant_type")


def authorize(req: Request, state: SandboxState) -> Response:
    """The consent page, reduced to its outcome: the user approves and is redirected with a code."""
    if req.arg("response_type") != "code" or req.arg("client_id") != SANDBOX_CLIENT_ID:
        return _oauth_error(400, "Invalid client_id or response_type", "invalid_request")
    redirect_uri = req.arg("redirect_uri") or ""
    if not redirect_uri:
        return _oauth_error(400, "Redirect URI mismatch", "invalid_request")
    code = secrets.token_urlsafe(16)
    with state.lock:
        state.auth_codes[code] = (redirect_uri, time.monotonic() + CODE_LIFETIME)
    params = {"code": code}
    if req.arg("state"):
        params["state"] = req.arg("state") or ""
    sep = "&" if "?" in redirect_uri else "?"
    return Response(302, b"", {"Location": f"{redirect_uri}{sep}{urlencode(params)}"}, "text/plain")
