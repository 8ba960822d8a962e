"""Where a recording file lands: pure, deterministic naming and sanitising.

Layout (one folder per meeting instance, one file per recording file)::

    <dest>/<user email>/<YYYY-MM-DD>/<HHMM>_<topic>_<meeting id>/<recording_type>.<ext>
    <dest>/<user email>/<YYYY-MM-DD>/<HHMM>_<topic>_<meeting id>/meta.json

Why these rules: topics and e-mails are user input. A topic such as ``../../etc/passwd`` must
not climb out of the destination, a control character or a bidi override must not end up in an
object key, and a 2,000-character topic must not exceed file-system (255 bytes per component) or
S3 (1,024-byte key) limits. Unicode letters are kept (a Cyrillic or Japanese topic stays
readable). Dates and times are UTC, as Zoom reports them, so a folder name never depends on the
machine's time zone or on DST. Every function here is pure, so the same metadata always gives the
same key, which is what makes a rerun idempotent.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime

# Byte budgets per path component (UTF-8). 255 is the usual per-component limit of file
# systems; we stay well under it so dest + layout stays far below S3's 1,024-byte key limit.
MAX_USER_BYTES = 100
MAX_TOPIC_BYTES = 80
MAX_FILE_BYTES = 120
MAX_COMPONENT_BYTES = 200

# Characters that are unsafe in a path component or in an fsspec URL (separators, Windows
# reserved characters, URL/glob metacharacters fsspec implementations may interpret).
_UNSAFE = re.compile(r"[/\\<>:\"|?*#%\[\]{}^`$@&+=;,~]")
_UNSAFE_EMAIL = re.compile(r"[/\\<>:\"|?*#%\[\]{}^`$!'&=;,\s]")
_WHITESPACE = re.compile(r"\s+")
_RUNS = re.compile(r"_{2,}")
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)

# recording_type to use when Zoom gives none (CC and TIMELINE files have no recording_type).
DEFAULT_RECORDING_TYPE = {
    "MP4": "video",
    "M4A": "audio_only",
    "CHAT": "chat_file",
    "TRANSCRIPT": "audio_transcript",
    "CC": "closed_caption",
    "TIMELINE": "timeline",
    "CSV": "poll",
    "SUMMARY": "summary",
    "CHAT_MESSAGE": "chat_message",
    "TB": "thumbnail",
}
# file extension to use when Zoom gives none.
DEFAULT_EXTENSION = {
    "MP4": "mp4",
    "M4A": "m4a",
    "CHAT": "txt",
    "TRANSCRIPT": "vtt",
    "CC": "vtt",
    "TIMELINE": "json",
    "CSV": "csv",
    "SUMMARY": "json",
    "CHAT_MESSAGE": "json",
    "TB": "jpg",
}


def _drop_control(text: str) -> str:
    """Remove control (Cc), format (Cf: bidi overrides, zero-width) and unassigned characters."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Longest prefix of ``text`` whose UTF-8 encoding fits ``max_bytes`` (never splits a character,
    and never leaves a dangling combining mark at the end)."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    cut = encoded[:max_bytes].decode("utf-8", errors="ignore")
    while cut and unicodedata.combining(cut[-1]):
        cut = cut[:-1]
    return cut


def sanitize_component(
    text: str | None, *, max_bytes: int = MAX_COMPONENT_BYTES, fallback: str = "untitled"
) -> str:
    """One safe path component from arbitrary user text.

    NFC-normalised; control/format characters dropped; whitespace runs become ``_``; path
    separators and shell/URL/glob metacharacters become ``_``; leading dots/underscores and
    trailing dots/spaces removed (no hidden files, no ``.``/``..``); Windows device names
    prefixed; bounded to ``max_bytes`` of UTF-8. Never empty (``fallback``).
    """
    value = unicodedata.normalize("NFC", text or "")
    value = _drop_control(value)
    value = _WHITESPACE.sub("_", value)
    value = _UNSAFE.sub("_", value)
    value = _RUNS.sub("_", value)
    value = value.strip("._- ")
    value = truncate_utf8(value, max_bytes).rstrip("._- ")
    if not value:
        value = fallback
    if value.split(".", 1)[0].lower() in _WINDOWS_RESERVED:
        value = f"_{value}"
    return value


def sanitize_email(email: str | None, fallback: str = "unknown-user") -> str:
    """The user folder: the e-mail, lower-cased, made safe (``@`` and ``.`` kept inside)."""
    value = unicodedata.normalize("NFC", (email or "").strip().lower())
    value = _drop_control(value)
    value = _UNSAFE_EMAIL.sub("_", value)
    value = _RUNS.sub("_", value).strip("._- ")
    value = truncate_utf8(value, MAX_USER_BYTES).rstrip("._- ")
    if not value or value in (".", ".."):
        return fallback
    if value.split(".", 1)[0].lower() in _WINDOWS_RESERVED:
        value = f"_{value}"
    return value


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime (naive values are taken as UTC, as the warehouse stores them)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def meeting_folder(
    host_email: str | None, start_time: datetime, topic: str | None, meeting_id: str | int | None
) -> str:
    """``<user email>/<YYYY-MM-DD>/<HHMM>_<topic>_<meeting id>`` (relative, ``/``-separated)."""
    start = as_utc(start_time)
    mid = sanitize_component(str(meeting_id) if meeting_id is not None else "", max_bytes=40, fallback="0")
    folder = f"{start:%H%M}_{sanitize_component(topic, max_bytes=MAX_TOPIC_BYTES)}_{mid}"
    return f"{sanitize_email(host_email)}/{start:%Y-%m-%d}/{folder}"


def file_stem(recording_type: str | None, file_type: str | None) -> str:
    """``recording_type`` (or a name for the file type when Zoom gives none)."""
    kind = recording_type or DEFAULT_RECORDING_TYPE.get((file_type or "").upper()) or (file_type or "file")
    return sanitize_component(kind.lower(), max_bytes=MAX_FILE_BYTES - 16, fallback="file")


def file_extension(file_extension: str | None, file_type: str | None) -> str:
    ext = (file_extension or DEFAULT_EXTENSION.get((file_type or "").upper()) or "bin").lower()
    return sanitize_component(ext, max_bytes=10, fallback="bin")


def file_name(recording_type: str | None, file_type: str | None, extension: str | None) -> str:
    """``<recording_type>.<ext>``, e.g. ``shared_screen_with_speaker_view.mp4``, ``timeline.json``."""
    return f"{file_stem(recording_type, file_type)}.{file_extension(extension, file_type)}"


def disambiguate(names: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Unique names within one folder, deterministically.

    ``names`` are ``(identity, wanted name)`` pairs; returns ``{identity: name}``. The first
    identity (sorted) keeps the plain name; later ones get ``_2``, ``_3``... before the extension.
    Zoom splits a paused-and-resumed recording into several files of the same type, so two
    ``gallery_view.mp4`` in one meeting are normal.
    """
    by_name: dict[str, list[str]] = {}
    for identity, name in names:
        by_name.setdefault(name, []).append(identity)
    taken = set(by_name)
    out: dict[str, str] = {}
    for name, identities in sorted(by_name.items()):
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        for n, identity in enumerate(sorted(identities), start=1):
            if n == 1:
                out[identity] = name
                continue
            k = n
            while True:
                candidate = f"{stem}_{k}.{ext}" if ext else f"{stem}_{k}"
                if candidate not in taken:
                    break
                k += 1
            taken.add(candidate)
            out[identity] = candidate
    return out


def short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def join(dest: str, relative: str) -> str:
    """``dest`` + ``/`` + a relative key built by this module (validated to stay inside)."""
    if not is_safe_relative(relative):
        raise ValueError(f"unsafe relative path {relative!r}")
    return f"{dest.rstrip('/')}/{relative}"


def is_safe_relative(relative: str) -> bool:
    """True when every component is non-empty, not ``.``/``..``, free of control characters and
    of backslashes; i.e. joining it to a destination cannot escape the destination."""
    if not relative or relative.startswith("/") or "\\" in relative:
        return False
    return all(part not in ("", ".", "..") and _drop_control(part) == part for part in relative.split("/"))


def temp_name(final_name: str) -> str:
    """Temporary sibling of a file while it is written: hidden and clearly partial.

    Deterministic (no random part) so a rerun after a crash finds and replaces it.
    """
    return f".{final_name}.partial"
