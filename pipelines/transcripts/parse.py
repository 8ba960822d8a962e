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
both give the same cues. :func:`vtt_arrow` reads many such files at once with Arrow compute (RE2)
and leaves to those two any file with a cue outside the subset it covers; again the same cues.

Chat (``chat_file``, TXT), one message per line, the time since the recording started. The chat
file of a cloud recording (what the recordings API serves) is tab-separated, the sender with a
colon (blank when Zoom did not know), a soft return continuing on a line without a time::

    00:03:07\tAda Okafor:\tsee chapter 4
    and the slides

Files saved by the Zoom client are also read: ``00:03:07\t From  Ada Okafor to  Everyone:\ttext``
and the older ``00:03:07\t From  Ada Okafor : text``. Any line without a time continues the
message above. :func:`parse_chat_text` reads a cloud recording's chat file with one regular
expression over the file when it can, else with :func:`parse_chat`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


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
# a line of whitespace only (the line parser's blank line), or a line break other than \n that
# str.splitlines (the line parser's reading) splits on: such files go to the line parser
_BLANKISH_LINE = re.compile(r"\n[^\S\n]+(?:\n|\Z)|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


_CUE = re.compile(
    r"^(?<![^\n]\n)(\d+)\n(\d\d:[0-5]\d:[0-5]\d\.\d{3}) --> (\d\d:[0-5]\d:[0-5]\d\.\d{3})\n"
    # the body (first line not empty), and in it: the speaker as _SPEAKER reads the first line
    # (up to the first colon that whitespace follows), the rest of that line, the further lines
    r"((?=[^\n])(?:([^:\n]{1,100}+):[^\S\n]++)?([^\n]*)((?:\n[^\n]+)*))$",
    re.M,
)

FastCues = tuple[list[int], list[str], list[str], list[str | None], list[str]]
"""Cue numbers, start and end as written (``HH:MM:SS.mmm``), speakers and texts."""


def regular_body(text: str) -> str | None:
    """What follows the header's blank line of a WebVTT file (carriage returns dropped) when its
    header is a plain ``WEBVTT`` line and no line is blank but for whitespace; None otherwise."""
    if "\r" in text:
        text = text.replace("\r", "")
    head, _, rest = text.partition("\n\n")
    if not _HEADER.fullmatch(head) or _BLANKISH_LINE.search(text):
        return None
    return rest


def after_header(text: str) -> str | None:
    """:func:`regular_body` without the search for blank-ish lines and other line breaks (which
    :func:`vtt_arrow` makes with RE2 on many files at once)."""
    if "\r" in text:
        text = text.replace("\r", "")
    head, _, rest = text.partition("\n\n")
    return rest if _HEADER.fullmatch(head) else None


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
    rest = regular_body(text)
    if rest is None:
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


# a chat file of a cloud recording as one findall: a message line (what _CHAT_CLOUD matches) and
# the lines after it that do not start a message (soft returns)
_CHAT_START = r"\d{1,2}:\d{2}:\d{2}\t[^\t\n]*:\t"
_CHAT_MESSAGE = re.compile(
    rf"^((\d{{1,2}}):(\d{{2}}):(\d{{2}})\t([^\t\n]*):\t([^\n]*)((?:\n(?!{_CHAT_START})[^\n]*)*))", re.M
)
_LINE_BREAKS = re.compile(r"[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # str.splitlines' other than \n


def _fast_chat(text: str) -> list[tuple[int, float, float, str | None, str]] | None:
    """The messages of a chat file every line of which is a message as a cloud recording writes it
    or a soft return after one (:func:`parse_chat`'s rows); None for anything else."""
    if "From" in text or text.startswith("\ufeff") or _LINE_BREAKS.search(text):
        return None  # perhaps the Zoom client's forms, or lines split otherwise: the line parser
    found = _CHAT_MESSAGE.findall(text)
    if sum(len(m[0]) for m in found) + len(found) - 1 != len(text) and (found or text):
        return None  # something before the first message
    rows = []
    for n, (_, h, m, s, sender, first, more) in enumerate(found, 1):
        if int(m) > 59 or int(s) > 59:
            return None  # the line parser says where
        seconds = int(h) * 3600 + int(m) * 60 + int(s)
        parts = [first.strip(), *(x.strip() for x in more.split("\n"))] if more else [first.strip()]
        rows.append((n, seconds, seconds, sender.strip() or None, " ".join(p for p in parts if p)))
    return rows


def parse_chat_text(text: str) -> list[tuple[int, float, float, str | None, str]]:
    """Messages of a whole chat file as ``(index, start_s, end_s, speaker, text)``; :class:`Malformed`."""
    fast = _fast_chat(text)
    if fast is not None:
        return fast
    return [
        (c.index, c.start_s, c.end_s, c.speaker, c.text) for c in parse_chat(text.splitlines(keepends=True))
    ]


# ------------------------------------------------------------------------- vectorised fast path
# RE2 (Arrow compute) on many files at once. It reads a subset of what fast_vtt_columns reads, the
# same way: ASCII digits, spaces as the only whitespace but for line ends; anything else (and any
# file with a cue the subset does not cover) is left to fast_vtt_columns, file by file.
_ARROW_TIME = r"[0-9]{2}:[0-5][0-9]:[0-5][0-9]\.[0-9]{3}"
_ARROW_NUMBER = r"^[0-9]{1,9}$"  # a cue number line (cue_index is an integer)
_ARROW_TIMING = rf"^{_ARROW_TIME} --> {_ARROW_TIME}$"  # a timing line, 29 characters


@functools.lru_cache(maxsize=1)
def _arrow_odd_file() -> str:
    """RE2: a line of spaces only, or any whitespace Python's str.strip / str.splitlines / ``\\s``
    know other than space and ``\\n`` (tabs, no-break spaces, line separators, ...)."""
    # (all of them are in the Basic Multilingual Plane, the last U+3000)
    odd = "".join(f"\\x{{{c:x}}}" for c in range(0x10000) if chr(c).isspace() and chr(c) not in " \n")
    return rf"(?m)^ +$|[{odd}]"


def vtt_arrow(bodies: list[str]) -> tuple[Any, set[int]]:
    """Cues of many WebVTT files at once, from what follows each file's header (:func:`after_header`).

    Returns an Arrow table (``doc``: the position in ``bodies``; ``cue_index``; ``start_clock`` and
    ``end_clock`` as written; ``speaker``; ``text``) of the files it read, and the positions of the
    files it left alone (to be read by :func:`fast_vtt_columns` or the line parser): a block between
    empty lines that is not a cue of the regular shape, a speaker the line parser would refuse
    (blank, digits, a URL) or of more than 100 characters, a cue number of more than 9 digits, a
    cue ending before it starts or longer than ``MAX_CUE_CHARS``, other whitespace than spaces.
    The rows of the files it read are the rows fast_vtt_columns gives. Every step is an Arrow
    compute kernel over all cues (RE2 for the patterns); Python sees only the distinct speakers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    files = pa.array(bodies, pa.large_string())
    odd_files = pc.match_substring_regex(files, _arrow_odd_file())
    blocks = pc.split_pattern(files, "\n\n")  # (three newlines or more: blocks of "" or "\n...")
    doc = pc.list_parent_indices(blocks)
    blocks = pc.utf8_trim(pc.list_flatten(blocks), "\n")
    keep = pc.not_equal(pc.binary_length(blocks), 0)
    blocks, doc = blocks.filter(keep), doc.filter(keep)
    # a cue's lines: its number, its timing, its first text line and the further text lines (if any)
    lines = pc.split_pattern(blocks, "\n", max_splits=3)
    count = pc.list_value_length(lines)
    flat, at = lines.values, lines.offsets[:-1]

    def line(k: int) -> Any:  # (a block of fewer lines: its first line, and the block is bad)
        return flat.take(pc.if_else(pc.greater(count, k), pc.add(at, k), at))

    number, timing, first = line(0), line(1), line(2)
    bad = pc.less(count, 3)
    bad = pc.or_(bad, pc.invert(pc.match_substring_regex(number, _ARROW_NUMBER)))
    bad = pc.or_(bad, pc.invert(pc.match_substring_regex(timing, _ARROW_TIMING)))
    start, end = pc.utf8_slice_codeunits(timing, 0, 12), pc.utf8_slice_codeunits(timing, 17, 29)
    bad = pc.or_(bad, pc.less(end, start))
    # the speaker: up to the first colon of the first line when spaces follow it (_CUE, _SPEAKER)
    parts = pc.split_pattern(first, ": ", max_splits=1)  # one or two parts a row, never null
    two = pc.fill_null(pc.equal(pc.list_value_length(parts), 2), False)
    head = parts.values.take(parts.offsets[:-1])
    tail = parts.values.take(pc.add(parts.offsets[:-1], pc.cast(two, pa.int64())))
    has_prefix = pc.and_(two, pc.invert(pc.match_substring(head, ":")))
    prefix = pc.if_else(has_prefix, head, pa.scalar(None, pa.large_string()))
    rest = pc.if_else(has_prefix, pc.utf8_ltrim(tail, " "), first)
    odd_prefixes = [
        p
        for p in pc.unique(prefix.filter(pc.invert(pc.fill_null(bad, True)))).to_pylist()
        if p is not None and (not p.strip() or p.strip().isdigit() or "http" in p or len(p) > 100)
    ]
    if odd_prefixes:
        bad = pc.or_kleene(bad, pc.is_in(prefix, pa.array(odd_prefixes, pa.large_string())))
    text = pc.utf8_trim(rest, " ")
    multi = pc.greater(count, 3)
    if pc.any(multi).as_py():  # more text lines: joined by one space, each stripped (_speaker_and_text)
        more = line(3).filter(multi)
        joined = pc.binary_join_element_wise(rest.filter(multi), more, pa.scalar("\n", pa.large_string()))
        text = pc.replace_with_mask(
            text, multi, pc.utf8_trim(pc.replace_substring_regex(joined, " *(?:\n *)+", " "), " ")
        )
    if (pc.max(pc.binary_length(text)).as_py() or 0) > MAX_CUE_CHARS:  # (characters <= bytes)
        bad = pc.or_kleene(bad, pc.greater(pc.utf8_length(text), MAX_CUE_CHARS))
    left = set(pc.unique(doc.filter(pc.fill_null(bad, True))).to_pylist())
    left.update(pc.indices_nonzero(odd_files).to_pylist())
    speaker = pc.utf8_trim(prefix, " ")
    table = pa.table(
        {
            "doc": doc,
            "number": number,
            "start_clock": start,
            "end_clock": end,
            "speaker": speaker,
            "text": text,
        }
    )
    if left:
        table = table.filter(pc.invert(pc.is_in(doc, pa.array(sorted(left), doc.type))))
    return table.set_column(1, "cue_index", pc.cast(table["number"], pa.int32())), left
