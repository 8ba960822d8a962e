"""Pure parts of the receiver: Zoom's signature scheme, the timestamp window, token redaction, and
the settings' one clear error per bad value."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from pipelines.cli import main
from pipelines.webhooks.queue import meeting_keys, redact_payload
from pipelines.webhooks.settings import WebhookSettingsError, load_settings
from pipelines.webhooks.signature import encrypted_token, sign, signature_ok, timestamp_fresh


def test_signature_is_zoom_s_v0_hmac_of_timestamp_and_raw_body():
    body = b'{"event":"meeting.ended","payload":{}}'
    digest = hmac.new(b"s3cret-token", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign("s3cret-token", 1700000000, body) == f"v0={digest}"
    assert signature_ok("s3cret-token", "1700000000", body, f"v0={digest}")
    assert not signature_ok("s3cret-token", "1700000000", body + b" ", f"v0={digest}")
    assert not signature_ok("s3cret-token", "1700000000", body, digest)  # the v0= prefix is part of it
    assert not signature_ok("s3cret-token", "1700000000", body, "")
    expected = hmac.new(b"s3cret-token", b"plain", hashlib.sha256).hexdigest()
    assert encrypted_token("s3cret-token", "plain") == expected


@pytest.mark.parametrize(
    ("timestamp", "fresh"),
    [("1000", True), ("1300", True), ("700", True), ("1301", False), ("699", False), ("1000000", False)],
)
def test_timestamp_window(timestamp: str, fresh: bool):
    # seconds; only values past 10**10 are read as milliseconds, so "1000000" is far in the future
    assert timestamp_fresh(timestamp, 1000.0, 300) is fresh


def test_timestamp_in_milliseconds_and_garbage():
    assert timestamp_fresh("1700000000123", 1700000001.0, 300)
    assert not timestamp_fresh("", 1700000000.0, 300)
    assert not timestamp_fresh("12abc", 1700000000.0, 300)


def test_redaction_drops_tokens_everywhere_and_keeps_the_rest():
    payload = {
        "object": {
            "uuid": "u==",
            "recording_files": [
                {
                    "download_url": "https://z/rec/download/1?access_token=T1&type=mp4",
                    "play_url": "https://z/p",
                },
                {"download_access_token": "T2", "id": "2"},
            ],
        },
        "plainToken": "T3",
    }
    out = redact_payload(payload)
    assert "T1" not in str(out) and "T2" not in str(out) and "T3" not in str(out)
    assert out["object"]["recording_files"][0]["download_url"] == "https://z/rec/download/1?type=mp4"
    assert out["object"]["recording_files"][1] == {"id": "2"}
    assert payload["plainToken"] == "T3"  # the input is left alone


@pytest.mark.parametrize(
    ("payload", "keys"),
    [
        ({"object": {"uuid": "a==", "id": 5}}, ("a==", 5)),
        ({"object": {"uuid": "a==", "id": " 81234567890 "}}, ("a==", 81234567890)),
        ({"object": {"uuid": "", "id": True}}, (None, None)),
        ({"object": "x"}, (None, None)),
        ({}, (None, None)),
    ],
)
def test_meeting_keys(payload: dict, keys: tuple):
    assert meeting_keys(payload) == keys


def test_settings_name_what_is_wrong(monkeypatch, tmp_path):
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))  # no .dlt/secrets.toml of the developer
    monkeypatch.delenv("ZOOM__WEBHOOKS__SECRET_TOKEN", raising=False)
    with pytest.raises(
        WebhookSettingsError, match=r"\[zoom.webhooks\] secret_token.*ZOOM__WEBHOOKS__SECRET_TOKEN"
    ):
        load_settings()
    monkeypatch.setenv("ZOOM__WEBHOOKS__SECRET_TOKEN", "a-long-enough-secret-token")
    monkeypatch.setenv("ZOOM__WEBHOOKS__MAX_SKEW_SECONDS", "soon")
    with pytest.raises(WebhookSettingsError, match=r"zoom\.webhooks\.max_skew_seconds"):
        load_settings()
    monkeypatch.setenv("ZOOM__WEBHOOKS__MAX_SKEW_SECONDS", "60")
    monkeypatch.setenv("ZOOM__WEBHOOKS__EVENTS", "recording.completed")
    settings = load_settings()
    assert (settings.max_skew_seconds, settings.events) == (60, ("recording.completed",))
    assert "a-long-enough-secret-token" not in repr(settings)


def test_the_command_without_a_secret_says_which_setting(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))
    monkeypatch.delenv("ZOOM__WEBHOOKS__SECRET_TOKEN", raising=False)
    assert main(["webhooks"]) == 2
    assert "ZOOM__WEBHOOKS__SECRET_TOKEN" in capsys.readouterr().err
