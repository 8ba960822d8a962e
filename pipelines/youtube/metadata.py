"""Title, description and tags of a published recording: pure functions, YouTube's rules enforced.

YouTube's rules (videos resource reference, ``snippet.title`` / ``snippet.description`` /
``snippet.tags``, https://developers.google.com/youtube/v3/docs/videos#resource): a title of at
most 100 characters, a description of at most 5000 bytes, neither containing ``<`` or ``>``; tags
at most 500 characters together. A long topic never fails a run: it is shortened (the date, time
and duration suffix the mart built stay whole), and angle brackets become look-alike single
guillemets.
"""

from __future__ import annotations

import hashlib
import re

TITLE_MAX = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX = 500
ELLIPSIS = "…"
MARKER = "meetings-warehouse file"
_MARKER_RE = re.compile(re.escape(MARKER) + r" ([A-Za-z0-9_.:=/+-]+)")
_SPACE = re.compile(r"\s+")


def clean(text: str | None) -> str:
    """No angle brackets, no control characters, one space between words."""
    text = (text or "").replace("<", "‹").replace(">", "›")
    text = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)
    return text


def _one_line(text: str | None) -> str:
    return _SPACE.sub(" ", clean(text)).strip()


def video_title(topic: str | None, mart_title: str | None) -> str:
    """The mart's title ("<topic> - YYYY-MM-DD HH:MM (<N> min)") within YouTube's rules.

    Too long: the topic is cut at a word boundary when one is near, with an ellipsis; the suffix
    after the topic (date, time, duration) is kept whole."""
    topic = _one_line(topic) or "Untitled meeting"
    full = _one_line(mart_title) or topic
    raw_topic = _one_line(topic)
    suffix = full[len(raw_topic) :] if full.startswith(raw_topic) else ""
    if len(full) <= TITLE_MAX:
        return full
    room = TITLE_MAX - len(suffix) - len(ELLIPSIS)
    if room < 10:  # a suffix that leaves no room: cut the whole title instead
        suffix, room = "", TITLE_MAX - len(ELLIPSIS)
    cut = raw_topic[:room]
    space = cut.rfind(" ")
    if space >= room * 0.6:
        cut = cut[:space]
    return (cut.rstrip(" -–—,;:") + ELLIPSIS + suffix)[:TITLE_MAX]


def marker_line(file_key: str) -> str:
    return f"({MARKER} {file_key})"


def marker_in(description: str | None) -> str | None:
    """The file key a description's marker names (how a rerun recognises its own uploads)."""
    found = _MARKER_RE.search(description or "")
    return found.group(1) if found else None


def file_tag(file_key: str) -> str:
    return "mw-" + hashlib.sha256(file_key.encode()).hexdigest()[:16]


def description(
    *,
    topic: str | None,
    host: str | None,
    started: str | None,
    duration_minutes: int | None,
    course: str | None,
    file_key: str,
) -> str:
    """What the meeting was: topic, host, date, duration, course (when MEETS knows it); never a
    participant's name or e-mail. Ends with the marker line; at most 5000 bytes."""
    lines = [_one_line(topic) or "Untitled meeting", ""]
    if host:
        lines.append(f"Host: {_one_line(host)}")
    if started:
        lines.append(f"Date: {started}")
    if duration_minutes:
        lines.append(f"Duration: {int(duration_minutes)} min")
    if course:
        lines.append(f"Course: {_one_line(course)}")
    marker = "\n\n" + marker_line(file_key)
    body = "\n".join(lines).strip()
    budget = DESCRIPTION_MAX_BYTES - len(marker.encode())
    encoded = body.encode()
    if len(encoded) > budget:
        body = encoded[: budget - len(ELLIPSIS.encode())].decode("utf-8", "ignore") + ELLIPSIS
    return body + marker


def tags(configured: tuple[str, ...] | list[str], file_key: str) -> list[str]:
    out: list[str] = []
    total = 0
    for tag in [*(_one_line(t) for t in configured), file_tag(file_key)]:
        if not tag or tag in out:
            continue
        cost = len(tag) + (2 if " " in tag else 0) + (1 if out else 0)
        if total + cost > TAGS_MAX:
            continue
        out.append(tag)
        total += cost
    return out
