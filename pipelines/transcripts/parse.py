"""Parsers of the text files Zoom records: WebVTT transcripts and captions, and chat files.

Both read a file line by line (any iterable of ``str`` lines: a streamed file) and yield one
:class:`Cue` per cue or message. A file that does not follow the format raises :class:`Malformed`
naming the line and what is wrong; the stage quarantines such a file whole.

WebVTT as Zoom writes it (``audio_transcript``, ``CC``)::

    WEBVTT

    1
    00:00:01.200 --> 00:00:04.800
    Ada Okafor: so the posterior is
    proportional to the likelihood

A cue's first text line starts with the speaker's display name and ``": "`` when Zoom knew who
spoke; the other lines continue the text. NOTE, STYLE and REGION blocks are skipped; cue settings
after the end time are ignored. :func:`parse_vtt_text` reads files of Zoom's regular shape with one
regular expression per cue (about ten times faster) and hands anything else to :func:`parse_vtt`;
both give the same cues.

Chat (``chat_file``, TXT), one message per line, the time since the recording started. The chat
file of a cloud recording (what the recordings API serves) is tab-separated, the sender with a
colon (blank when Zoom did not know), a soft return continuing on a line without a time::

    00:03:07\tAda Okafor:\tsee chapter 4
    and the slides

Files saved by the Zoom client are also read: ``00:03:07\t From  Ada Okafor to  Everyone:\ttext``
and the older ``00:03:07\t From  Ada Okafor : text``. Any line without a time continues the
message above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class Malformed(ValueError):
    """The file does not follow its format; the message says where and why."""


@dataclass(frozen=True)
class Cue:
    index: int  # the cue number as written (VTT) / the message's position (chat), from 1
    start_s: float  # seconds since the recording started
    end_s: float
    speaker: str | None
    text: str


_TS = r"(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})"
_TIMING = re.compile(rf"^\s*{_TS}\s+-->\s+{_TS}(?:\s+.*)?$")
_SPEAKER = re.compile(r"^([^:\n]{1,100}?):\s+(.*)$")
_CHAT_NEW = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})\t\s*From\s+(.+?)\s+to\s+(.+?):[ \t]?(.*)$")
_CHAT_OLD = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})\t\s*From\s+(.+?)\s+:\s?(.*)$")
# the chat file of a cloud recording (what the recordings API serves): ``00:58:04\tAda Okafor:\ttext``
_CHAT_CLOUD = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})\t([^\t]*?):\t(.*)$")
MAX_CUE_CHARS = 20_000


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    if int(m) > 59 or int(s) > 59:
        raise ValueError("minutes or seconds above 59")
    return ((int(h or 0) * 3600 + int(m) * 60 + int(s)) * 1000 + int(ms)) / 1000


def _speaker_and_text(lines: list[str]) -> tuple[str | None, str]:
    first = lines[0]
    speaker = None
    m = _SPEAKER.match(first)
    if m and not m[1].strip().isdigit() and "http" not in m[1]:
        speaker, first = m[1].strip(), m[2]
    text = " ".join(x.strip() for x in [first, *lines[1:]] if x.strip())
    return speaker, text


def parse_vtt(lines: Iterable[str]) -> Iterator[Cue]:
    """Cues of a WebVTT file, in file order."""
    it = iter(lines)
    lineno = 0
    header = None
    for raw in it:
        lineno += 1
        line = raw.rstrip("\r\n").lstrip("\ufeff")
        if line.strip():
            header = line
            break
    if header is None:
        raise Malformed("empty file (no WEBVTT header)")
    if not (header == "WEBVTT" or header.startswith(("WEBVTT ", "WEBVTT\t"))):
        raise Malformed(f"line {lineno}: no WEBVTT header (found {header[:40]!r})")
    block: list[tuple[int, str]] = []
    position = 0

    def flush(block: list[tuple[int, str]]) -> Cue | None:
        nonlocal position
        first = block[0][1]
        if first.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in first:
            return None
        timing_at = 0 if "-->" in first else 1
        if timing_at >= len(block):
            raise Malformed(f"line {block[0][0]}: cue {first[:40]!r} has no timing line")
        no, timing = block[timing_at]
        m = _TIMING.match(timing)
        if m is None:
            raise Malformed(f"line {no}: bad timing line {timing[:60]!r}")
        try:
            start = _seconds(*m.groups()[:4])
            end = _seconds(*m.groups()[4:])
        except ValueError as exc:
            raise Malformed(f"line {no}: bad timestamp in {timing[:60]!r} ({exc})") from None
        if end < start:
            raise Malformed(f"line {no}: cue ends before it starts ({timing[:60]!r})")
        text_lines = [t for _, t in block[timing_at + 1 :]]
        if not text_lines:
            return None  # an empty cue says nothing
        position += 1
        ident = first.strip() if timing_at == 1 else ""
        index = int(ident) if ident.isdigit() else position
        speaker, text = _speaker_and_text(text_lines)
        if len(text) > MAX_CUE_CHARS:
            raise Malformed(f"line {no}: cue text longer than {MAX_CUE_CHARS} characters")
        return Cue(index, start, end, speaker, text)

    for raw in it:
        lineno += 1
        line = raw.rstrip("\r\n")
        if line.strip():
            block.append((lineno, line))
            continue
        if block:
            cue = flush(block)
            block = []
            if cue is not None:
                yield cue
    if block:
        cue = flush(block)
        if cue is not None:
            yield cue


def parse_chat(lines: Iterable[str]) -> Iterator[Cue]:
    """Messages of a Zoom chat file, in file order (start = end = the message's time)."""
    current: list = []  # [seconds, sender, [text parts]]
    n = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n").lstrip("\ufeff") if lineno == 1 else raw.rstrip("\r\n")
        if not line.strip():
            continue
        m = _CHAT_NEW.match(line) or _CHAT_OLD.match(line) or _CHAT_CLOUD.match(line)
        if m is None:
            if not current:
                raise Malformed(f"line {lineno}: not a chat message ({line[:60]!r})")
            current[2].append(line.strip())
            continue
        if int(m[2]) > 59 or int(m[3]) > 59:
            raise Malformed(f"line {lineno}: bad time {line[:8]!r}")
        if current:
            n += 1
            yield Cue(n, current[0], current[0], current[1], " ".join(p for p in current[2] if p))
        seconds = int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])
        current = [seconds, m[4].strip() or None, [m[m.lastindex].strip()]]
    if current:
        n += 1
        yield Cue(n, current[0], current[0], current[1], " ".join(p for p in current[2] if p))


# ------------------------------------------------------------------------------------ fast path
_BLOCK = re.compile(
    r"(\d+)\n(\d\d):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d\d):([0-5]\d):([0-5]\d)\.(\d{3})\n(.+)", re.S
)
_HEADER = re.compile(r"\ufeff?WEBVTT(?:[ \t][^\n]*)?")
_BLANKISH_LINE = re.compile(r"\n[ \t]+\n")


_CUE = re.compile(
    r"^(?<![^\n]\n)(\d+)\n(\d\d:[0-5]\d:[0-5]\d\.\d{3}) --> (\d\d:[0-5]\d:[0-5]\d\.\d{3})\n"
    # the body (first line not empty), and in it: the speaker as _SPEAKER reads the first line
    # (up to the first colon that whitespace follows), the rest of that line, the further lines
    r"((?=[^\n])(?:([^:\n]{1,100}+):[^\S\n]++)?([^\n]*)((?:\n[^\n]+)*))$",
    re.M,
)

FastCues = tuple[list[int], list[str], list[str], list[str | None], list[str]]
"""Cue numbers, start and end as written (``HH:MM:SS.mmm``), speakers and texts."""


def fast_vtt_columns(text: str) -> FastCues | None:
    """The cues of a WebVTT file of the regular Zoom shape (header, blank line, numbered cues with
    ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` separated by empty lines) as columns; None for anything else.

    One ``findall`` over the whole file finds every cue (in C) and splits its first line into
    speaker and text; the file is of the regular shape when every block between empty lines is one
    of them, else the line parser reads it. Whole columns are then made with ``map`` and
    comprehensions (no per-cue Python loop); only cues of several lines or with a speaker the line
    parser would refuse (digits, a URL, blank) go through :func:`_speaker_and_text`. Times stay text
    (fixed width, so they compare as text): the stage turns them into seconds in SQL, with the line
    parser's arithmetic."""
    if "\r" in text:
        text = text.replace("\r", "")
    if _BLANKISH_LINE.search(text):
        return None
    head, _, rest = text.partition("\n\n")
    if not _HEADER.fullmatch(head):
        return None
    found = _CUE.findall(rest)
    blocks = rest.split("\n\n")
    if len(found) != len(blocks) - blocks.count("") - blocks.count("\n"):
        return None  # a block that is not a cue of the regular shape
    if not found:
        return [], [], [], [], []
    numbers, starts, ends, bodies, prefixes, firsts, more = zip(*found, strict=True)
    if any(map(str.__lt__, ends, starts)):
        return None  # a cue that ends before it starts: the line parser says where
    speakers: list[str | None] = [s or None for s in map(str.strip, prefixes)]
    texts = list(map(str.strip, firsts))
    irregular = [
        i
        for i, (p, s, m) in enumerate(zip(prefixes, speakers, more, strict=True))
        if m or (p and (s is None or s.isdigit() or "http" in p))
    ]
    for i in irregular:
        speakers[i], texts[i] = _speaker_and_text(bodies[i].split("\n"))
    if max(map(len, texts)) > MAX_CUE_CHARS:
        return None
    return list(map(int, numbers)), list(starts), list(ends), speakers, texts


def _clock_seconds(stamp: str) -> float:
    """``HH:MM:SS.mmm`` as seconds, the line parser's way (whole milliseconds, then / 1000)."""
    return (
        (int(stamp[0:2]) * 3600 + int(stamp[3:5]) * 60 + int(stamp[6:8])) * 1000 + int(stamp[9:12])
    ) / 1000


def _fast_vtt(text: str) -> list[tuple[int, float, float, str | None, str]] | None:
    """:func:`fast_vtt_columns` as ``(index, start_s, end_s, speaker, text)`` rows; None for anything else."""
    cols = fast_vtt_columns(text)
    if cols is None:
        return None
    numbers, starts, ends, speakers, texts = cols
    return [
        (n, _clock_seconds(b), _clock_seconds(e), sp, t)
        for n, b, e, sp, t in zip(numbers, starts, ends, speakers, texts, strict=True)
    ]


def parse_vtt_text(text: str) -> list[tuple[int, float, float, str | None, str]]:
    """Cues of a whole WebVTT file as ``(index, start_s, end_s, speaker, text)``; :class:`Malformed`."""
    fast = _fast_vtt(text)
    if fast is not None:
        return fast
    return [
        (c.index, c.start_s, c.end_s, c.speaker, c.text) for c in parse_vtt(text.splitlines(keepends=True))
    ]


def parse_chat_text(text: str) -> list[tuple[int, float, float, str | None, str]]:
    """Messages of a whole chat file as ``(index, start_s, end_s, speaker, text)``; :class:`Malformed`."""
    return [
        (c.index, c.start_s, c.end_s, c.speaker, c.text) for c in parse_chat(text.splitlines(keepends=True))
    ]
