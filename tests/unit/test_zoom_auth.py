"""Zoom OAuth helpers that need no server: PKCE, authorize URL, redirect parsing, the token file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from pipelines.api_client import AuthError
from pipelines.zoom.auth import TokenFile, authorize_url, code_from_redirect, new_pkce, refresh_margin


def test_pkce_challenge_is_s256_of_verifier() -> None:
    verifier, challenge = new_pkce()
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert challenge == expected
    assert new_pkce()[0] != verifier


def test_authorize_url() -> None:
    url = authorize_url(
        "https://zoom.us/oauth/", "cid", "http://localhost:8080/redirect", state="st", code_challenge="ch"
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://zoom.us/oauth/authorize"
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["cid"],
        "redirect_uri": ["http://localhost:8080/redirect"],
        "state": ["st"],
        "code_challenge": ["ch"],
        "code_challenge_method": ["S256"],
    }


def test_code_from_redirect_variants() -> None:
    assert code_from_redirect("http://localhost:8080/redirect?code=abc&state=s1", "s1") == "abc"
    assert code_from_redirect("  bare-code  ") == "bare-code"
    assert code_from_redirect("?code=xyz") == "xyz"
    with pytest.raises(AuthError, match="state"):
        code_from_redirect("http://localhost/redirect?code=abc&state=evil", "s1")
    with pytest.raises(AuthError, match="did not grant"):
        code_from_redirect("http://localhost/redirect?error=access_denied&state=s1", "s1")
    with pytest.raises(AuthError, match="no `code`"):
        code_from_redirect("http://localhost/redirect?state=s1", "s1")
    with pytest.raises(AuthError):
        code_from_redirect("")


def test_refresh_margin() -> None:
    assert refresh_margin(3599) == 60
    assert refresh_margin(2) == pytest.approx(0.2)
    assert refresh_margin(0) == 0


def test_token_file_is_written_atomically_with_0600(tmp_path: Path) -> None:
    tf = TokenFile(tmp_path / "tokens" / "zoom_oauth.json")
    assert tf.read() is None and not tf.exists()
    tf.write({"refresh_token": "rt-1"})
    tf.write({"refresh_token": "rt-2", "access_token": "at"})
    assert tf.read() == {"refresh_token": "rt-2", "access_token": "at"}
    assert stat.S_IMODE(os.stat(tf.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tf.path.parent).st_mode) == 0o700
    # no temp files left behind
    assert sorted(p.name for p in tf.path.parent.iterdir()) == ["zoom_oauth.json"]


def test_token_file_keeps_old_content_when_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tf = TokenFile(tmp_path / "zoom_oauth.json")
    tf.write({"refresh_token": "good"})

    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        tf.write({"refresh_token": "new"})
    monkeypatch.undo()
    assert json.loads(tf.path.read_text())["refresh_token"] == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["zoom_oauth.json"]


def test_corrupt_token_file_is_an_actionable_auth_error(tmp_path: Path) -> None:
    path = tmp_path / "zoom_oauth.json"
    path.write_text("{not json")
    with pytest.raises(AuthError, match="authorize"):
        TokenFile(path).read()


def test_token_file_lock_is_reentrant_across_instances(tmp_path: Path) -> None:
    tf = TokenFile(tmp_path / "zoom_oauth.json")
    with tf.locked():
        tf.write({"refresh_token": "x"})
    with tf.locked():
        assert tf.read() == {"refresh_token": "x"}
