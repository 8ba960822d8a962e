"""Secrets must not survive into logs, exception texts or reprs."""

from __future__ import annotations

import logging
import threading

import pytest

from pipelines.api_client.errors import ApiError, RateBudgetExceeded
from pipelines.api_client.redact import RedactingFilter, Redactor, install_log_redaction, scrub_patterns

SECRET = "cl1ent-s3cret/with+chars="


def test_registered_values_are_masked_raw_and_url_encoded() -> None:
    r = Redactor([SECRET, None, ""])
    text = f"secret={SECRET} q=cl1ent-s3cret%2Fwith%2Bchars%3D form=cl1ent-s3cret%2Fwith%2Bchars%3D plain {SECRET}!"
    out = r.redact(text)
    assert "cl1ent" not in out
    assert out.count("***") >= 3


def test_runtime_registration_and_longest_match_first() -> None:
    r = Redactor()
    assert r.redact("token abcdefgh1234") == "token abcdefgh1234"
    r.add("abcdefgh1234")
    r.add("abcdefgh")  # a prefix of a longer secret must not leave the tail visible
    assert r.redact("token abcdefgh1234 and abcdefgh") == "token *** and ***"
    assert "abcdefgh" in r
    assert "abcdefgh" not in repr(r)


def test_short_values_are_ignored() -> None:
    r = Redactor(["ab", "1"])
    assert r.redact("a1b2 ab 1") == "a1b2 ab 1"
    assert len(r) == 0


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("GET https://api.zoom.us/v2/x?access_token=eyJ0eXAi.abc&page_size=300", "eyJ0eXAi"),
        ("https://zoom.us/rec/download/abc?pwd=Zq9x7&x=1", "Zq9x7"),
        ("grant_type=refresh_token&refresh_token=rt-XYZ123&client_secret=cs-999", "XYZ123"),
        ("grant_type=refresh_token&refresh_token=rt-XYZ123&client_secret=cs-999", "cs-999"),
        ("password=hunter22&user=me", "hunter22"),
        ("passcode=654321", "654321"),
        ("Authorization: Basic Y2xpZW50OnNlY3JldA==\r\nHost: zoom.us", "Y2xpZW50"),
        ("{'Authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.x.y', 'Accept': '*/*'}", "eyJhbGci"),
        ('{"X-Api-Key": "k-123456789"}', "k-123456789"),
        ('{"access_token":"eyJabc.def.ghi","token_type":"bearer","expires_in":3599}', "eyJabc"),
        ('{"download_access_token": "dl-tok-777"}', "dl-tok-777"),
        ('{"id": 1, "password": "meet-pass", "h323_password": "123456"}', "meet-pass"),
        ('{"id": 1, "password": "meet-pass", "h323_password": "123456"}', "123456"),
        ("connect to https://svc:p4ssw0rd@db.internal/x", "p4ssw0rd"),
        ("sent Bearer abcdef123456789 to server", "abcdef123456789"),
    ],
)
def test_shape_patterns_without_registration(text: str, leak: str) -> None:
    out = Redactor().redact(text)
    assert leak not in out
    assert "***" in out
    assert scrub_patterns(text) == out  # no registered values: patterns alone


def test_harmless_text_is_untouched() -> None:
    text = 'GET https://api.zoom.us/v2/users?page_size=300 -> 200 {"token_type": "bearer", "id": "abc"}'
    assert Redactor().redact(text) == text


def test_logging_filter_scrubs_message_args_and_traceback() -> None:
    r = Redactor(["tok-SECRET-1234"])
    records: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    install_log_redaction(r, handler)
    install_log_redaction(r, handler)  # idempotent
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.info(
            "calling %s with %r",
            "https://x/?access_token=abc123",
            {"Authorization": "Bearer tok-SECRET-1234"},
        )
        try:
            raise ValueError("bad token tok-SECRET-1234")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    joined = "\n".join(records)
    assert "tok-SECRET-1234" not in joined and "abc123" not in joined
    assert "ValueError: bad token ***" in joined


def test_exceptions_scrub_even_without_redactor() -> None:
    exc = ApiError(
        "GET https://x/y?access_token=leaky123 failed",
        url="https://x/y?access_token=leaky123",
        body='{"access_token": "leaky123"}',
    )
    assert "leaky123" not in str(exc) + repr(exc) + str(exc.url) + str(exc.body)
    rb = RateBudgetExceeded(
        "heavy",
        used=5,
        limit=5,
        resets_at=None,
        url="https://x/?access_token=leaky123",
        body="password=leaky123",
    )
    assert "leaky123" not in str(rb) + repr(rb) + str(rb.url) + str(rb.body)
    assert "used 5 of 5" in str(rb)


def test_concurrent_registration_and_redaction() -> None:
    r = Redactor()
    secrets = [f"secret-value-{i:04d}" for i in range(200)]
    errors: list[str] = []

    def writer() -> None:
        for s in secrets:
            r.add(s)

    def reader() -> None:
        for _ in range(200):
            out = r.redact("x " + " ".join(secrets[:5]))
            if out.count("***") not in range(0, 6):
                errors.append(out)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert all(s in r for s in secrets)
    assert r.redact(" ".join(secrets)).count("***") == 200
