"""Naming and sanitising of recording destinations (pure functions)."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.recordings import naming

START = datetime(2025, 12, 2, 17, 29, 28, tzinfo=UTC)


def test_layout_of_a_plain_meeting() -> None:
    folder = naming.meeting_folder("Jane.Doe@Example.com", START, "Weekly sync", 87542522271)
    assert folder == "jane.doe@example.com/2025-12-02/1729_Weekly_sync_87542522271"
    name = naming.file_name("shared_screen_with_speaker_view", "MP4", "MP4")
    assert name == "shared_screen_with_speaker_view.mp4"


def test_times_are_utc_whatever_the_input_zone() -> None:
    moscow = START.astimezone(timezone(timedelta(hours=3)))
    assert naming.meeting_folder("a@b.c", moscow, "t", 1) == naming.meeting_folder("a@b.c", START, "t", 1)
    naive = START.replace(tzinfo=None)
    assert naming.meeting_folder("a@b.c", naive, "t", 1).split("/")[1:] == ["2025-12-02", "1729_t_1"]


def test_date_rollover_uses_utc() -> None:
    late = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
    assert naming.meeting_folder("a@b.c", late, "x", 5) == "a@b.c/2025-12-31/2359_x_5"


@pytest.mark.parametrize(
    "topic",
    [
        "../../etc/passwd",
        "..",
        ".",
        "/etc/passwd",
        "..\\..\\windows\\system32",
        "a/../../b",
        "....//....//",
        "%2e%2e%2f",
        "~/.ssh/id_rsa",
    ],
)
def test_path_traversal_stays_inside(topic: str) -> None:
    folder = naming.meeting_folder("evil@example.com", START, topic, 1)
    relative = f"{folder}/{naming.file_name('gallery_view', 'MP4', 'MP4')}"
    assert naming.is_safe_relative(relative)
    parts = relative.split("/")
    assert len(parts) == 4  # user / date / folder / file: the topic added no level
    assert ".." not in parts and "." not in parts
    dest = "/srv/recordings"
    joined = posixpath.normpath(naming.join(dest, relative))
    assert joined.startswith(dest + "/")


def test_malicious_email_is_one_component() -> None:
    assert naming.sanitize_email("../../root@evil") == "root@evil"
    assert naming.sanitize_email("..") == "unknown-user"
    assert naming.sanitize_email(None) == "unknown-user"
    assert "/" not in naming.sanitize_email("a/b@c.d")


def test_control_and_bidi_characters_are_dropped() -> None:
    topic = "pay\x00roll\x1b[31m\u202etxt.exe\u200b\n\tQ4"
    clean = naming.sanitize_component(topic)
    assert all(ord(c) >= 32 for c in clean)
    assert "\u202e" not in clean and "\u200b" not in clean and "\x1b" not in clean
    assert clean.startswith("payroll")


def test_unicode_is_kept_and_normalised() -> None:
    assert naming.sanitize_component("Вместе на полянке") == "Вместе_на_полянке"
    assert naming.sanitize_component("会議 週次") == "会議_週次"
    decomposed = "Cafe\u0301"  # e + combining acute
    assert naming.sanitize_component(decomposed) == "Café"


def test_length_is_bounded_in_bytes_without_splitting_characters() -> None:
    topic = "日本語" * 200
    clean = naming.sanitize_component(topic, max_bytes=naming.MAX_TOPIC_BYTES)
    assert len(clean.encode()) <= naming.MAX_TOPIC_BYTES
    clean.encode("utf-8").decode("utf-8")  # valid UTF-8
    folder = naming.meeting_folder("x" * 500 + "@example.com", START, "y" * 5000, 12345678901)
    for part in folder.split("/"):
        assert len(part.encode()) <= 255
    assert folder.endswith("_12345678901")


def test_truncate_never_leaves_a_dangling_combining_mark() -> None:
    text = "a" * 9 + "e\u0301" * 10  # NFD on purpose
    cut = naming.truncate_utf8(text, 11)
    assert not cut.endswith("\u0301") or cut.endswith("e\u0301")


def test_empty_and_reserved_names() -> None:
    assert naming.sanitize_component("") == "untitled"
    assert naming.sanitize_component("   ...   ") == "untitled"
    assert naming.sanitize_component(None) == "untitled"
    assert naming.sanitize_component("CON") == "_CON"
    assert naming.sanitize_component("nul.txt") == "_nul.txt"


def test_url_and_glob_metacharacters_are_replaced() -> None:
    clean = naming.sanitize_component('a?b#c%d*e[f]g:h|i<j>k"l')
    for ch in '?#%*[]:|<>"':
        assert ch not in clean


def test_file_names_for_files_without_recording_type() -> None:
    assert naming.file_name(None, "CC", "VTT") == "closed_caption.vtt"
    assert naming.file_name(None, "TIMELINE", "JSON") == "timeline.json"
    assert naming.file_name("audio_only", "M4A", None) == "audio_only.m4a"
    assert naming.file_name(None, "WEIRD", None) == "weird.bin"
    # file types newer than the 2022 spec (the current spec's literals): named, never refused
    assert naming.file_name("summary", "SUMMARY", "JSON") == "summary.json"
    assert naming.file_name(None, "CHAT_MESSAGE", None) == "chat_message.json"
    assert naming.file_name(None, "TB", None) == "thumbnail.jpg"
    assert naming.file_name("shared_screen_with_speaker_view(CC)", "MP4", "MP4") == (
        "shared_screen_with_speaker_view(cc).mp4"
    )


def test_disambiguate_duplicates_deterministically() -> None:
    out = naming.disambiguate(
        [("k2", "gallery_view.mp4"), ("k1", "gallery_view.mp4"), ("k3", "chat_file.txt")]
    )
    assert out == {"k1": "gallery_view.mp4", "k2": "gallery_view_2.mp4", "k3": "chat_file.txt"}
    # a file genuinely called gallery_view_2.mp4 is not overwritten
    out = naming.disambiguate(
        [("a", "gallery_view.mp4"), ("b", "gallery_view.mp4"), ("c", "gallery_view_2.mp4")]
    )
    assert len(set(out.values())) == 3


def test_join_refuses_unsafe_relative_paths() -> None:
    with pytest.raises(ValueError):
        naming.join("/dest", "../x")
    with pytest.raises(ValueError):
        naming.join("/dest", "/abs")
    with pytest.raises(ValueError):
        naming.join("/dest", "a//b")
    assert naming.join("s3://bucket/prefix/", "u/d/f/x.mp4") == "s3://bucket/prefix/u/d/f/x.mp4"


def test_temp_name_is_hidden_and_deterministic() -> None:
    assert naming.temp_name("gallery_view.mp4") == ".gallery_view.mp4.partial"


@settings(max_examples=300, deadline=None)
@given(topic=st.text(max_size=400), email=st.text(max_size=200), mid=st.integers(0, 10**12))
def test_any_input_gives_a_safe_bounded_path(topic: str, email: str, mid: int) -> None:
    folder = naming.meeting_folder(email, START, topic, mid)
    relative = f"{folder}/{naming.file_name(topic[:30] or None, 'MP4', None)}"
    assert naming.is_safe_relative(relative)
    parts = relative.split("/")
    assert len(parts) == 4
    for part in parts:
        assert part and part not in (".", "..")
        assert not part.startswith(".")
        assert len(part.encode("utf-8")) <= 255
        assert all(c.isprintable() for c in part)
    assert len(relative.encode("utf-8")) < 600
