"""Tiny request/response types shared by the sandbox's route modules (no framework needed)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import parse_qs

import orjson


@dataclass
class Request:
    method: str
    path: str  # the raw path, still percent-encoded exactly as the client sent it
    raw_query: str
    headers: Message
    raw_body: bytes = b""
    query: dict[str, list[str]] = field(default_factory=dict)
    form: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, method: str, target: str, headers: Message, body: bytes) -> Request:
        path, _, raw_query = target.partition("?")
        query = parse_qs(raw_query, keep_blank_values=True)
        form: dict[str, list[str]] = {}
        ctype = headers.get("Content-Type", "")
        if method == "POST" and ctype.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return cls(method, path, raw_query, headers, body, query, form)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query or form parameter."""
        if name in self.query:
            return self.query[name][0]
        if name in self.form:
            return self.form[name][0]
        return default


@dataclass
class Response:
    status: int
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    length: int | None = None  # required for streamed (iterable) bodies

    @property
    def is_json(self) -> bool:
        return self.content_type.startswith("application/json") and isinstance(self.body, bytes)


def json_response(status: int, obj: object, headers: dict[str, str] | None = None) -> Response:
    return Response(status, orjson.dumps(obj), dict(headers or {}))


def zoom_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Zoom's generic error body: ``{"code": int, "message": str}``."""
    return json_response(status, {"code": code, "message": message}, headers)


def meets_error(status: int, message: str) -> Response:
    """MEETS' error body: ``{"status": int, "error": str}`` with the same HTTP status."""
    return json_response(status, {"status": status, "error": message})
