"""Zoom's webhook signatures, as pure functions.

Zoom signs every notification (``endpoint.url_validation`` included) with the app's *secret token*:
``x-zm-signature = "v0=" + hex(HMAC-SHA256(secret, f"v0:{x-zm-request-timestamp}:{raw body}"))``,
and answers its URL-validation challenge with ``encryptedToken = hex(HMAC-SHA256(secret,
plainToken))``. Source: Zoom, "Using webhooks", sections *Verify webhook events* and *Validate your
webhook endpoint* (https://developers.zoom.us/docs/api/webhooks/).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
VERSION = "v0"


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``x-zm-signature`` value Zoom sends for ``body`` at ``timestamp`` (seconds)."""
    message = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + _hmac_hex(secret, message)


def signature_ok(secret: str, timestamp: str, body: bytes, presented: str) -> bool:
    """Whether ``presented`` is the signature of ``body`` at ``timestamp`` (constant-time compare)."""
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("utf-8"), (presented or "").encode("utf-8"))


def encrypted_token(secret: str, plain_token: str) -> str:
    """The answer to ``endpoint.url_validation``: hex HMAC-SHA256 of ``plainToken``."""
    return _hmac_hex(secret, plain_token.encode("utf-8"))


def timestamp_fresh(timestamp: str, now: float, max_skew_seconds: int) -> bool:
    """Whether a request timestamp (Unix seconds; milliseconds tolerated) is within the allowed skew."""
    try:
        value = int(timestamp)
    except (TypeError, ValueError):
        return False
    if value > 10_000_000_000:  # milliseconds
        value //= 1000
    return abs(now - value) <= max_skew_seconds
