"""Scrub secrets out of anything that may end up in a log, an exception or a repr.

Why this exists: the pipelines log URLs, response bodies and exception texts, and
those routinely contain credentials (Zoom OAuth tokens, MEETS API keys, recording
download tokens, meeting passcodes). Two layers protect them:

1. *Registered values*: every secret the process knows (client secret, a token the
   moment it is minted, API keys, passcodes) is added to a :class:`Redactor` and
   every occurrence of it - raw or URL-encoded - becomes ``***``.
2. *Shape-based patterns*: ``access_token=...``, ``Authorization: ...``,
   ``"refresh_token": "..."``, ``Bearer ...``, ``password=``/``passcode=``/``pwd=``
   are scrubbed even when the value was never registered (a token in a redirect
   URL we have not seen before, a password inside a Zoom meeting payload).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"

# Names of query/form/JSON keys whose values are secrets. ``[a-z0-9_]*`` prefix lets
# one entry cover access_token, refresh_token, download_access_token, h323_password...
_SECRET_KEY = r"[A-Za-z0-9_\-]*(?:token|password|passcode|passwd|pwd|secret|api_?key|apikey|signature|zak)"

# key=value in query strings, form bodies and free text.
_KV_RE = re.compile(rf"(?i)\b({_SECRET_KEY})=([^&\s\"'<>,;#]+)")
# "key": "value" in JSON bodies (also tolerates single quotes of Python reprs).
_JSON_RE = re.compile(rf"(?i)([\"']{_SECRET_KEY}[\"']\s*:\s*)([\"'])(.*?)(?<!\\)\2")
# HTTP header lines ``Authorization: ...`` up to the end of the line.
_HEADER_RE = re.compile(
    r"(?im)\b(authorization|proxy-authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie)"
    r"(\s*:\s*)(?![\"'])([^\r\n]+)"
)
# Header values inside dict reprs: {'Authorization': 'Basic abc'} / {"X-Api-Key": "..."}.
_HEADER_DICT_RE = re.compile(
    r"(?i)([\"'](?:authorization|proxy-authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie)"
    r"[\"']\s*:\s*)([\"'])(.*?)\2"
)
# Credentials embedded in URLs: https://user:password@host/ .
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]+):([^/\s@]+)@")
# Bare auth schemes anywhere (``Bearer eyJ...``).
_SCHEME_RE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*")


def scrub_patterns(text: str) -> str:
    """Apply only the shape-based patterns (no registered values).

    Used as a last line of defence by the exception types, which may be built without
    access to the process's :class:`Redactor`.
    """
    text = _HEADER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _HEADER_DICT_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    text = _JSON_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    text = _KV_RE.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _SCHEME_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _USERINFO_RE.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    return text


class Redactor:
    """Holds secret values and removes them (and secret-shaped substrings) from text.

    Thread-safe: tokens are registered from whichever thread mints them while other
    threads are logging. Values shorter than ``min_length`` are ignored because
    masking e.g. ``"1"`` everywhere would destroy every log line while protecting
    nothing; real credentials are longer.
    """

    def __init__(self, secrets: Iterable[str | None] = (), *, min_length: int = 4) -> None:
        self._min_length = min_length
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Register secret values; their URL-encoded variants are registered too."""
        new: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < self._min_length:
                continue
            for variant in (secret, quote(secret, safe=""), quote_plus(secret, safe="")):
                if variant not in self._secrets:
                    new.add(variant)
        if not new:
            return
        with self._lock:
            self._secrets |= new
            # Longest first so a secret containing another secret is masked as a whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_header_values(self, headers: Mapping[str, str]) -> None:
        """Register credential header values, including the token part of ``Scheme token``."""
        for value in headers.values():
            if not value:
                continue
            self.add(value)
            _, _, token = value.partition(" ")
            if token:
                self.add(token.strip())

    def __contains__(self, secret: object) -> bool:
        return secret in self._secrets

    def __len__(self) -> int:
        return len(self._secrets)

    def __bool__(self) -> bool:  # an empty redactor is still a redactor (``x or Redactor()``)
        return True

    def redact(self, value: Any) -> str:
        """Return ``str(value)`` with every registered secret and secret-shaped substring masked."""
        text = value if isinstance(value, str) else str(value)
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return scrub_patterns(text)

    __call__ = redact

    def __repr__(self) -> str:  # never show the secrets themselves
        return f"Redactor(<{len(self._secrets)} secrets>)"


class RedactingFilter(logging.Filter):
    """``logging.Filter`` that rewrites a record's message (and traceback) through a redactor.

    Attach it to *handlers* (``handler.addFilter``) to cover every logger, because a
    logger-level filter does not see records propagated from child loggers.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


def install_log_redaction(redactor: Redactor, *targets: logging.Logger | logging.Handler) -> RedactingFilter:
    """Attach a :class:`RedactingFilter` to the given loggers/handlers (default: root handlers)."""
    flt = RedactingFilter(redactor)
    chosen: Iterable[logging.Logger | logging.Handler] = targets or logging.getLogger().handlers
    for target in chosen:
        if not any(isinstance(f, RedactingFilter) and f.redactor is redactor for f in target.filters):
            target.addFilter(flt)
    return flt


# One process-wide redactor so a token minted by the Zoom client is also masked in
# logs written by the MEETS client or the downloader.
DEFAULT_REDACTOR = Redactor()
