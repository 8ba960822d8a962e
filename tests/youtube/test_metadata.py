"""Title, description and tag rules (pure functions)."""

from __future__ import annotations

import datetime as dt

from pipelines.youtube import metadata
from pipelines.youtube.state import pacific_day, quota_resets_at


def test_long_topic_is_cut_and_keeps_the_suffix() -> None:
    topic = "Quarterly <planning> review of the " + "very " * 40 + "long agenda"
    title = metadata.video_title(topic, topic + " - 2026-12-01 09:30 (45 min)")
    assert len(title) <= 100
    assert "<" not in title and ">" not in title
    assert title.endswith("… - 2026-12-01 09:30 (45 min)")
    assert title.startswith("Quarterly ‹planning› review")


def test_short_title_unchanged_and_missing_topic() -> None:
    assert metadata.video_title("Math 101", "Math 101 - 2026-12-01 09:30") == "Math 101 - 2026-12-01 09:30"
    assert metadata.video_title(None, None) == "Untitled meeting"
    assert len(metadata.video_title("x" * 300, None)) == 100


def test_description_within_5000_bytes_with_marker() -> None:
    text = metadata.description(
        topic="Тема " * 2000, host="Ann <a@b>", started="2026-12-01 09:30 UTC", duration_minutes=45,
        course="Bio 1", file_key="abc123",
    )  # fmt: skip
    assert len(text.encode()) <= 5000
    assert "<" not in text and ">" not in text
    assert metadata.marker_in(text) == "abc123"


def test_quota_day_is_pacific() -> None:
    at = dt.datetime(2030, 1, 16, 7, 59, tzinfo=dt.UTC)  # 23:59 Pacific on the 15th
    assert pacific_day(at) == dt.date(2030, 1, 15)
    assert quota_resets_at(at) == dt.datetime(2030, 1, 16, 8, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2030, 7, 1, 12, tzinfo=dt.UTC)
    assert quota_resets_at(summer) == dt.datetime(2030, 7, 2, 7, 0, tzinfo=dt.UTC)


def test_credentials_go_only_to_the_configured_host() -> None:
    from pipelines.youtube.client import session_host_allowed

    assert session_host_allowed("https://127.0.0.1:4443/upload/x?upload_id=1", "https://127.0.0.1:4443")
    assert not session_host_allowed("https://127.0.0.1:9999/upload/x", "https://127.0.0.1:4443")
    assert not session_host_allowed("http://127.0.0.1:4443/upload/x", "https://127.0.0.1:4443")
    google = "https://youtube.googleapis.com"
    assert session_host_allowed("https://www.googleapis.com/upload/youtube/v3/videos?upload_id=1", google)
    assert not session_host_allowed("https://evil.example/upload?x=googleapis.com", google)
    assert not session_host_allowed("https://www.googleapis.com.evil.example/upload", google)
