"""What was said in a sandbox meeting: transcript (``audio_transcript``), closed-caption (``CC``) and
chat files, generated from a seeded vocabulary so the truth knows every word and every second.

Each file is a pure function of its :class:`TextSpec` (the file's content seed, its type, the
recording's length and who was there), so a download, a resumed download and the truth always
agree. The files look like Zoom's:

* WebVTT (``audio_transcript`` and ``CC``): ``WEBVTT``, then cues of a number, a
  ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` line and ``Speaker Name: text`` lines, separated by blank lines;
  some cues name no speaker (Zoom could not tell), some run over two lines, names and words carry
  accents (``Chloé``, ``naïve``);
* chat (``chat_file``, TXT), as a cloud recording's chat file is written (public parsers of those
  files read the same): ``HH:MM:SS\\tName:\\ttext`` per message, the time since the recording
  started; a message with a soft return continues on a line without a time.

A meeting talks mostly about a few *focus* words of :data:`VOCABULARY` (the first of which it says
most), sometimes about others of its own *theme*, and fills the rest with :data:`FILLER` (DuckDB's
English stopwords, which full-text search ignores).
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

# Topical words: none is a stopword, none shares a Porter stem with another or with a sandbox topic,
# agenda or name, so "which meetings say X" has one answer.
VOCABULARY = (
    "bayes", "posterior", "likelihood", "eigenvalue", "determinant", "mitochondria", "enzyme",
    "ribosome", "photosynthesis", "osmosis", "isotope", "catalyst", "titration", "entropy",
    "momentum", "torque", "inertia", "voltage", "capacitor", "magnetism", "algorithm", "recursion",
    "heap", "graph", "hashing", "pointer", "compiler", "inflation", "tariff", "elasticity",
    "monopoly", "subsidy", "renaissance", "empire", "treaty", "revolution", "feudal", "genome",
    "allele", "mutation", "phenotype", "chromosome", "plasmid", "vaccine", "antibody", "insulin",
    "sepsis", "biopsy", "fracture", "stethoscope", "triage", "dosage", "fever",
    "asthma", "radiograph", "ultrasound", "dissertation", "hypothesis", "citation",
    "plagiarism", "syllabus", "rubric", "deadline", "midterm", "quiz", "homework", "lecture",
    "tutorial", "budget", "milestone", "roadmap", "prototype", "naïve", "café", "schrödinger", "señor", "façade", "déjà", "über", "crème",
)  # fmt: skip
FILLER = (
    "so", "the", "and", "we", "it", "is", "a", "of", "to", "that", "this", "you", "i", "in", "on",
    "be", "can", "will", "for", "with", "are", "if", "there", "they", "what", "now", "then", "just",
    "about", "at", "as", "but", "not", "or", "all", "our", "here", "very", "more", "when",
)  # fmt: skip
THEME_POOL = 24
"""Meetings' themes come from the first words of the vocabulary (plus one accented word), so many
meetings share a word; the rest of the vocabulary is never said."""
TEXT_FILE_TYPES = ("TRANSCRIPT", "CC", "CHAT")
WORD_RE = re.compile(r"\w+", re.UNICODE)
REACTIONS = ("👍", "🙏", "😀", "✅")


@dataclass(frozen=True)
class TextSpec:
    """Everything a text file's content depends on."""

    file_type: str  # TRANSCRIPT | CC | CHAT
    content_seed: int
    theme_seed: int  # the meeting's: its transcript, captions and chat talk about the same words
    seconds: int  # recording length
    speakers: tuple[str, ...]  # display names as Zoom writes them; the host first


@dataclass(frozen=True)
class Cue:
    """One cue (VTT) or message (chat) as generated: offsets in milliseconds from the recording start."""

    index: int  # the cue number (VTT) / message number (chat), from 1
    start_ms: int
    end_ms: int
    speaker: str | None  # None: Zoom wrote no speaker
    text: str  # the words, lines joined by a space


@dataclass(frozen=True)
class TextFile:
    spec: TextSpec
    cues: tuple[Cue, ...]
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body)


def theme(theme_seed: int) -> tuple[list[str], list[str]]:
    """(focus words, other theme words) of a meeting."""
    rng = random.Random(f"theme:{theme_seed}")
    words = rng.sample(VOCABULARY[:THEME_POOL], 7)
    return words[:2], [*words[2:], rng.choice(VOCABULARY[-8:])]


def words(text: str) -> list[str]:
    """The words of a cue as the truth counts them: lower-case runs of letters and digits."""
    return [w.lower() for w in WORD_RE.findall(text)]


def _sentence(rng: random.Random, focus: list[str], others: list[str]) -> str:
    out = []
    for _ in range(rng.randint(4, 12)):
        r = rng.random()
        if r < 0.14:
            # the first focus word is said about twice as often as the second
            out.append(focus[0] if rng.random() < 0.67 else focus[1])
        elif r < 0.2:
            out.append(rng.choice(others))
        else:
            out.append(rng.choice(FILLER))
    if rng.random() < 0.1:
        out[0] = out[0].capitalize()
    return " ".join(out)


def _vtt_time(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{milli:03d}"


def _chat_time(ms: int) -> str:
    h, rest = divmod(ms // 1000, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def _speaker_weights(rng: random.Random, n: int) -> list[float]:
    # the host talks most (a lecture); the others in turn, some barely
    return [6.0] + [rng.uniform(0.2, 2.0) for _ in range(n - 1)]


@functools.lru_cache(maxsize=256)
def generate(spec: TextSpec) -> TextFile:
    rng = random.Random(f"text:{spec.content_seed}:{spec.file_type}")
    focus, others = theme(spec.theme_seed)
    speakers = list(spec.speakers) or ["Host"]
    weights = _speaker_weights(rng, len(speakers))
    total_ms = max(spec.seconds, 30) * 1000
    cues: list[Cue] = []
    lines: list[str] = []
    if spec.file_type == "CHAT":
        t = rng.randint(5_000, 60_000)
        while t < total_ms and len(cues) < 120:
            t = t // 1000 * 1000  # chat times are whole seconds
            who = rng.choices(speakers, weights)[0]
            if rng.random() < 0.08:
                text = rng.choice(REACTIONS)
                parts = [text]
            elif rng.random() < 0.12:
                parts = [_sentence(rng, focus, others), _sentence(rng, focus, others)]
                text = " ".join(parts)
            else:
                text = _sentence(rng, focus, others)
                parts = [text]
            cues.append(Cue(len(cues) + 1, t, t, who, text))
            lines.append(f"{_chat_time(t)}\t{who}:\t{parts[0]}")
            lines += parts[1:]
            t += rng.randint(20_000, 240_000)
        body = "\n".join(lines) + ("\n" if lines else "")
        return TextFile(spec, tuple(cues), body.encode("utf-8"))

    # WebVTT; long recordings get sparser cues so a file stays under ~100 KB
    spacing = max(1.0, spec.seconds / 900)
    lines = ["WEBVTT", ""]
    t = rng.randint(500, 4_000)
    while True:
        length = int(rng.randint(1_500, 7_000) * min(spacing, 3.0))
        if t + length > total_ms:
            break
        missing = rng.random() < 0.07
        who = None if missing else rng.choices(speakers, weights)[0]
        if rng.random() < 0.12:
            parts = [_sentence(rng, focus, others), _sentence(rng, focus, others)]
        else:
            parts = [_sentence(rng, focus, others)]
        text = " ".join(parts)
        cues.append(Cue(len(cues) + 1, t, t + length, who, text))
        lines.append(str(len(cues)))
        lines.append(f"{_vtt_time(t)} --> {_vtt_time(t + length)}")
        lines.append(parts[0] if who is None else f"{who}: {parts[0]}")
        lines += parts[1:]
        lines.append("")
        t += length + int(rng.randint(0, 3_000) * spacing)
    return TextFile(spec, tuple(cues), "\n".join(lines).encode("utf-8"))
