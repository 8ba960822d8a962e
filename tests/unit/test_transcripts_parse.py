"""The WebVTT and chat parsers on the irregular parts Zoom writes, and the stage's fast path for
Zoom's regular WebVTT giving exactly the rows of the line-by-line parser (or handing the file to it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipelines.sandbox.account import Account, Scale
from pipelines.transcripts.parse import Cue, Malformed, parse_chat, parse_vtt
from pipelines.transcripts.stage import ensure_tables, run_transcripts

ZOOM_VTT = """WEBVTT

1
00:00:01.200 --> 00:00:04.800
Ada Okafor: so the posterior is
proportional to the likelihood

2
00:00:05.000 --> 00:00:07.250
nobody was named for this one

3
01:02:03.004 --> 01:02:05.000
Zoë Müller: naïve café, déjà vu 👍
"""


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def test_zoom_vtt_speakers_multiline_missing_speaker_unicode() -> None:
    assert list(parse_vtt(_lines(ZOOM_VTT))) == [
        Cue(1, 1.2, 4.8, "Ada Okafor", "so the posterior is proportional to the likelihood"),
        Cue(2, 5.0, 7.25, None, "nobody was named for this one"),
        Cue(3, 3723.004, 3725.0, "Zoë Müller", "naïve café, déjà vu 👍"),
    ]


def test_vtt_variants_that_are_still_valid() -> None:
    text = (
        "\ufeffWEBVTT Kind: captions\r\n\r\nNOTE made by hand\r\n\r\n"
        "00:01.000 --> 00:02.000 align:start\r\nno number, no hours\r\n\r\n"
        "7\r\n00:00:03.000 --> 00:00:04.000\r\n12: a number is not a speaker\r\n"
    )
    assert list(parse_vtt(_lines(text))) == [
        Cue(1, 1.0, 2.0, None, "no number, no hours"),
        Cue(7, 3.0, 4.0, None, "12: a number is not a speaker"),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty file"),
        ("1\n00:00:01.000 --> 00:00:02.000\nhi\n", "no WEBVTT header"),
        ("WEBVTT\n\n1\n00:00:01.000 -> 00:00:02.000\nhi\n", "line 4: bad timing line"),
        ("WEBVTT\n\n1\n00:00:05.000 --> 00:00:02.000\nhi\n", "line 4: cue ends before it starts"),
        ("WEBVTT\n\n1\n00:00:61.000 --> 00:01:02.000\nhi\n", "line 4: bad timestamp"),
        ("WEBVTT\n\njust text\n", "line 3: cue 'just text' has no timing line"),
    ],
)
def test_malformed_vtt_says_where_and_why(text: str, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        list(parse_vtt(_lines(text)))


def test_chat_new_and_old_formats_and_continuations() -> None:
    text = (
        "00:03:07\t From  Ada Okafor to  Everyone:\tsee chapter 4\n"
        "\tand the slides\n"
        "00:04:00\t From  Ben Smith : old style message\n"
        "01:00:00\t From  Zoë to  Ada Okafor(Direct Message):\t👍\n"
    )
    assert list(parse_chat(_lines(text))) == [
        Cue(1, 187, 187, "Ada Okafor", "see chapter 4 and the slides"),
        Cue(2, 240, 240, "Ben Smith", "old style message"),
        Cue(3, 3600, 3600, "Zoë", "👍"),
    ]
    with pytest.raises(Malformed, match="line 1: not a chat message"):
        list(parse_chat(_lines("hello\n00:00:01\t From  A to  Everyone:\tx\n")))


def test_chat_of_a_cloud_recording() -> None:
    """The chat file the recordings API serves: tab-separated, the sender with a colon (blank when
    Zoom did not know), a soft return continuing on a line without a time."""
    text = "00:58:04\tAlex:\tDepends on your teaching style, I guess.\n00:58:20\tZoë Ng:\tsee\nchapter 4\n01:02:03\t:\t?\n"
    assert list(parse_chat(_lines(text))) == [
        Cue(1, 3484, 3484, "Alex", "Depends on your teaching style, I guess."),
        Cue(2, 3500, 3500, "Zoë Ng", "see chapter 4"),
        Cue(3, 3723, 3723, None, "?"),
    ]


def _stage_rows(tmp_path: Path, files: dict[str, str]) -> tuple[list[tuple], dict]:
    """Run the stage over ``files`` (name -> text) listed in an inventory; cues and files rows."""
    from pipelines.recordings.inventory import _DDL

    dest = tmp_path / "dest"
    dest.mkdir()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(_DDL)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for name, text in files.items():
        (dest / name).write_bytes(text.encode("utf-8"))
        con.execute(
            "insert into recordings.inventory (source, file_key, dest_root, dest_url, meeting_uuid, "
            "file_type, sha256, status, start_time) values ('zoom', ?, ?, ?, 'm', ?, ?, 'copied', ?)",
            [
                name,
                str(dest),
                str(dest / name),
                "CHAT" if name.endswith(".txt") else "TRANSCRIPT",
                name,
                start,
            ],
        )
    ensure_tables(con)
    run_transcripts(con, rebuild_index=False)
    cues = con.execute(
        "select file_key, cue_index, start_offset_s, end_offset_s, speaker, text, spoken_at from transcripts.cues "
        "order by file_key, cue_index"
    ).fetchall()
    status = {
        k: (s, r, n)
        for k, s, r, n in con.execute(
            "select file_key, status, reason, cue_count from transcripts.files"
        ).fetchall()
    }
    con.close()
    return cues, status


def test_the_fast_path_gives_the_line_parser_rows(tmp_path: Path) -> None:
    account = Account(seed=7, scale=Scale.named("tiny"))
    files = {
        f"{f.key}.{'txt' if f.file_type == 'CHAT' else 'vtt'}": f.text_file().body.decode()
        for r in account.recordings
        for f in r.files
        if f.text is not None
    }
    files["zoom.vtt"] = ZOOM_VTT
    files["odd.vtt"] = (
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n  x: spaced : speaker  \n\n"
        "2\n00:00:03.000 --> 00:00:04.000 align:start\nhttp://a: b\n\n"
        "3\n00:00:05.000 --> 00:00:06.000\nA:B no space\n\n4\n00:00:07.000 --> 00:00:08.000\n12: a number\n"
    )
    files["broken.vtt"] = "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nok\n\n2\nno timing\nhere\n"
    cues, status = _stage_rows(tmp_path, files)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    want = []
    for name, text in sorted(files.items()):
        if name == "broken.vtt":
            continue
        parsed = parse_chat(_lines(text)) if name.endswith(".txt") else parse_vtt(_lines(text))
        want += [
            (name, c.index, c.start_s, c.end_s, c.speaker, c.text, start + dt.timedelta(seconds=c.start_s))
            for c in parsed
        ]
    got = [(k, i, s, e, sp, t, at.astimezone(dt.UTC)) for k, i, s, e, sp, t, at in cues]
    assert got == sorted(want)
    assert status["broken.vtt"][0] == "quarantined" and "line 8" in status["broken.vtt"][1]
    assert status["zoom.vtt"] == ("parsed", None, 3)
    # the sandbox's files (Zoom's regular shape) take the fast path; the odd ones do not
    from pipelines.transcripts.parse import _fast_vtt

    assert all(
        _fast_vtt(t) is not None
        for n, t in files.items()
        if n.endswith(".vtt") and n not in ("odd.vtt", "broken.vtt")
    )
    assert _fast_vtt(files["broken.vtt"]) is None and _fast_vtt(files["odd.vtt"]) is None


ODD_BODIES = [
    "Ana Lima: hello there",
    "12: a number is not a speaker",
    "http://example.org: a link is not a speaker",
    "   : a blank speaker",
    "A:B no space after the colon",
    "Ana:",
    "Ana: \t tabs and spaces \t",
    "\u00a0Zoë Ng\u00a0:\u00a0non-breaking spaces",
    "Ana Lima: first line\nsecond line\n  third  ",
    "no speaker at all\nZoë: on the second line",
    "x" * 101 + ": a speaker name too long",
    "日本語の話者: こんにちは",
]


@pytest.mark.parametrize("body", ODD_BODIES)
def test_fast_path_speaker_split_equals_the_line_parser(body: str) -> None:
    """A regular-shape file with one odd cue takes the fast path and reads it as the line parser does."""
    from pipelines.transcripts.parse import _fast_vtt

    text = f"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nBo: before\n\n2\n00:00:03.000 --> 00:00:04.000\n{body}\n"
    fast = _fast_vtt(text)
    assert fast is not None
    assert fast == [(c.index, c.start_s, c.end_s, c.speaker, c.text) for c in parse_vtt(_lines(text))]


def test_the_stage_gives_the_line_parser_rows_for_odd_cues(tmp_path: Path) -> None:
    """Odd cues in files of the regular shape, through the whole stage (fast path, or the line
    parser when the fast path declines), give the line parser's rows, file by file; a file the
    line parser refuses or whose cue number does not fit the warehouse is quarantined."""
    extra = [
        "\u0663: an Arabic-Indic digit is not a speaker either",
        "Ana: a cue\n\u00b2 superscript line",
        "x" * 20_001,
    ]
    files = {
        f"odd{k:02}.vtt": "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nBo: before\n\n"
        f"2\n00:00:03.000 --> 00:00:04.000\n{body}\n"
        for k, body in enumerate([*ODD_BODIES, *extra])
    }
    files["late.vtt"] = "WEBVTT\n\n1\n00:00:05.000 --> 00:00:04.000\nends before it starts\n"
    files["big.vtt"] = "WEBVTT\n\n99999999999\n00:00:01.000 --> 00:00:02.000\nnumber past int32\n"
    files["empty.vtt"] = "WEBVTT\n\n"
    files["gaps.vtt"] = (
        "WEBVTT\n\n\n1\n00:00:01.000 --> 00:00:02.000\nA: x\n\n\n\n2\n00:00:03.000 --> 00:00:04.000\ny\n\n"
    )
    cues, status = _stage_rows(tmp_path, files)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    want, quarantined = [], set()
    for name, text in sorted(files.items()):
        try:
            parsed = list(parse_vtt(_lines(text)))
        except Malformed:
            quarantined.add(name)
            continue
        if name == "big.vtt":  # read, but its cue number does not fit the warehouse's integer
            quarantined.add(name)
            continue
        want += [
            (name, c.index, c.start_s, c.end_s, c.speaker, c.text, start + dt.timedelta(seconds=c.start_s))
            for c in parsed
        ]
    got = [(k, i, s, e, sp, t, at.astimezone(dt.UTC)) for k, i, s, e, sp, t, at in cues]
    assert got == sorted(want)
    assert {k for k, (st, _, _) in status.items() if st == "quarantined"} == quarantined
    assert {"late.vtt", "odd14.vtt", "big.vtt"} <= quarantined  # ends before it starts; too long; number
    assert "larger than 2147483647" in status["big.vtt"][1]
    assert all(n == sum(1 for c in cues if c[0] == k) for k, (_, _, n) in status.items())


# the per-file fast path and vtt_arrow must read these as the line parser does (or leave them)
ODD_LINES = [
    "Ana: x\n\u00a0\nBo: a line of a no-break space only",
    "Ana: x\n \nBo: a line of one space",
    "Ana: x\u2028y: a line separator",
    "Ana: x\x85y: a next-line character",
    "Ana: x\x0cy: a form feed",
]


@pytest.mark.parametrize("body", ODD_LINES)
def test_whitespace_only_lines_and_other_line_breaks_read_as_the_line_parser(body: str) -> None:
    from pipelines.transcripts.parse import parse_vtt_text

    text = f"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\n{body}\n"
    try:
        want: object = [(c.index, c.start_s, c.end_s, c.speaker, c.text) for c in parse_vtt(_lines(text))]
    except Malformed:
        want = Malformed
    try:
        got: object = parse_vtt_text(text)
    except Malformed:
        got = Malformed
    assert got == want


def test_vtt_arrow_reads_what_the_fast_path_reads_and_leaves_the_rest() -> None:
    """Many files parsed at once (Arrow compute) give the per-file fast path's rows for every file
    they read; files with cues they do not cover are left (to the per-file path), never misread."""
    from pipelines.transcripts.parse import _clock_seconds, after_header, parse_vtt_text, vtt_arrow

    account = Account(seed=7, scale=Scale.named("tiny"))
    sandbox = [
        f.text_file().body.decode()
        for r in account.recordings
        for f in r.files
        if f.text is not None and f.file_type != "CHAT"
    ]
    assert sandbox
    head = "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nBo: before\n\n2\n00:00:03.000 --> 00:00:04.000\n"
    read = [  # bodies vtt_arrow reads itself
        "Ana Lima: hello there",
        "A:B no space after the colon",
        "Ana:",
        "Ana:   ",
        "Ana Lima: first line\nsecond line\n  third  ",
        "Ana Lima:   \nthe text on the next line",
        "no speaker at all\nZoë: on the second line",
        "日本語の話者: こんにちは 👍",
        "x" * 100 + ": a speaker of 100 characters",
        "  x: spaced : speaker  ",
        "http://example.org: a colon before the colon and space",
    ]
    left = [  # bodies it leaves to the per-file path
        "12: a number is not a speaker",
        "see the http page: a link is not a speaker",
        "Ana: a line of spaces at the end\n   ",
        "   : a blank speaker",
        "x" * 101 + ": a speaker name too long",
        "Ana: \t tabs",
        "\u00a0Zoë Ng\u00a0:\u00a0non-breaking spaces",
        *ODD_LINES,
        "x" * 20_001,
    ]
    texts = sandbox + [head + b + "\n" for b in read + left]
    texts += [
        "WEBVTT\n\n\n1\n00:00:01.000 --> 00:00:02.000\nA: x\n\n\n\n2\n00:00:03.000 --> 00:00:04.000\ny\n\n",
        "WEBVTT\n\n",
        "WEBVTT\n\n0001\n00:00:01.000 --> 00:00:02.000\nleading zeros",
    ]
    texts_left = [
        "WEBVTT\n\n1\n00:00:05.000 --> 00:00:04.000\nends before it starts\n",
        "WEBVTT\n\n9999999999\n00:00:01.000 --> 00:00:02.000\na number of ten digits\n",
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n\n",
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000 align:start\ncue settings\n",
        "WEBVTT\n\nNOTE a note\n\n1\n00:00:01.000 --> 00:00:02.000\nx\n",
        "WEBVTT\n\n\u0661\n00:00:01.000 --> 00:00:02.000\nan Arabic-Indic cue number\n",
    ]
    bodies = [after_header(t) for t in texts + texts_left]
    assert None not in bodies
    table, skipped = vtt_arrow(bodies)
    assert skipped == set(range(len(sandbox) + len(read), len(sandbox) + len(read) + len(left))) | set(
        range(len(texts), len(texts) + len(texts_left))
    )
    got: dict[int, list] = {}
    for d, n, s, e, sp, tx in zip(
        *(table[c].to_pylist() for c in ("doc", "cue_index", "start_clock", "end_clock", "speaker", "text")),
        strict=True,
    ):
        got.setdefault(d, []).append((n, _clock_seconds(s), _clock_seconds(e), sp, tx))
    for d, text in enumerate(texts):
        if d not in skipped:
            assert got.get(d, []) == parse_vtt_text(text), text
    assert got[len(sandbox) + 4][1][3:] == ("Ana Lima", "first line second line third")


CHAT_TEXTS = [
    "00:00:41\tAda Nguyen:\tvery enzyme\nribosome you torque\n00:01:43\t:\tnobody named\n",
    "00:00:41\tAda:\t  spaced  \n\n   \n  more  \n00:01:00\tBo Li:\tx\ty\n",
    "00:00:41\tAda:\tx\n00:61:00\tBo:\ta minute past 59\n",
    "hello\n00:00:01\tA:\tbefore the first message\n",
    "00:00:01\t From  A to  Everyone:\tthe Zoom client's form\n",
    "00:00:01\tA:\tx\u2028y\n",
    "\ufeff00:00:01\tA:\ta byte order mark\n",
    "00:00:01\tA:\tno newline at the end",
    "",
    "\n",
    "1:02:03\tZoë:\t👍\n",
]


@pytest.mark.parametrize("text", CHAT_TEXTS)
def test_chat_fast_path_equals_the_line_parser(text: str) -> None:
    from pipelines.transcripts.parse import parse_chat_text

    try:
        want: object = [(c.index, c.start_s, c.end_s, c.speaker, c.text) for c in parse_chat(_lines(text))]
    except Malformed:
        want = Malformed
    try:
        got: object = parse_chat_text(text)
    except Malformed:
        got = Malformed
    assert got == want


def test_the_sandbox_chat_files_take_the_chat_fast_path() -> None:
    from pipelines.transcripts.parse import _fast_chat

    account = Account(seed=7, scale=Scale.named("tiny"))
    chats = [
        f.text_file().body.decode()
        for r in account.recordings
        for f in r.files
        if f.text is not None and f.file_type == "CHAT"
    ]
    assert chats
    for text in chats:
        assert _fast_chat(text) == [
            (c.index, c.start_s, c.end_s, c.speaker, c.text) for c in parse_chat(_lines(text))
        ]


def test_a_run_that_fails_rolls_back_its_open_transaction(tmp_path: Path) -> None:
    """Batches are written in transactions of many batches: a run that fails after some were
    inserted leaves no cue and no files row of the open transaction (the next run parses them)."""
    from pipelines.transcripts.stage import _Batch, _Writer

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    f = {
        "file_key": "k",
        "meeting_uuid": "m",
        "file_type": "TRANSCRIPT",
        "dest_url": "x",
        "sha256": "s",
        "recording_start": now,
        "known": False,
    }
    for ok, rows in ((False, 0), (True, 1)):
        batch = _Batch(now)
        batch.add_cues(f, [(1, 1.0, 2.0, "Ana", "hello")])
        batch.file_row(f, "parsed", None, 1)
        writer = _Writer(con, now)
        writer.submit(batch)
        writer.close(ok)
        assert con.execute("select count(*) from transcripts.cues").fetchone()[0] == rows
        assert con.execute("select count(*) from transcripts.files").fetchone()[0] == rows
    assert con.execute("select spoken_at, loaded_at from transcripts.cues").fetchone() == (
        now + dt.timedelta(seconds=1),
        now,
    )
    con.close()


@pytest.mark.parametrize("ok", [True, False])
def test_cues_waiting_for_a_whole_row_group_are_written_once_or_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ok: bool
) -> None:
    """The writer inserts whole row groups and keeps the rest of a batch for the next insert: with
    row groups of 3 cues, files of 1 to 5 cues in batches of 2 files, every cue lands once (a
    commit inserts what still waits), and a failed run leaves nothing of its transaction."""
    from pipelines.transcripts import stage

    monkeypatch.setattr(stage, "ROW_GROUP", 3)
    monkeypatch.setattr(stage, "INSERT_ROWS", 6)
    monkeypatch.setattr(stage, "COMMIT_ROWS", 12)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    writer = stage._Writer(con, now)
    want = []
    for b in range(4):
        batch = stage._Batch(now)
        for k in range(2):
            key = f"f{b}{k}"
            f = {
                "file_key": key,
                "meeting_uuid": "m",
                "file_type": "TRANSCRIPT",
                "dest_url": key,
                "sha256": "s",
                "recording_start": now,
                "known": False,
            }
            cues = [(i, float(i), i + 0.5, None, f"{key} {i}") for i in range(1, 2 + (2 * b + k) % 5)]
            batch.add_cues(f, cues)
            batch.file_row(f, "parsed", None, len(cues))
            want += [(key, i) for i, *_ in cues]
        writer.submit(batch)
    writer.close(ok)
    got = con.execute("select file_key, cue_index from transcripts.cues order by all").fetchall()
    assert len(got) == len(set(got))
    # a files row comes with all its cues, a cue with its files row: what committed stays whole
    per_file = con.execute(
        "select f.file_key, f.cue_count, count(c.file_key) from transcripts.files as f "
        "full join transcripts.cues as c using (file_key) group by all"
    ).fetchall()
    assert all(key is not None and count == cues for key, count, cues in per_file)
    if ok:
        assert got == sorted(want) and len(per_file) == 8
    else:  # the first transaction (batches 1-3, 16 cues) committed, the last one (5 cues) did not
        assert len(got) == 16 and set(got) < set(want)
    con.close()


def test_a_failed_write_stops_the_writer_and_rolls_back(tmp_path: Path) -> None:
    """Batches queue for the writer: when one fails (here a files row DuckDB refuses), the batches
    queued after it are not written, ``close`` raises, and the open transaction is rolled back."""
    from pipelines.transcripts.stage import _Batch, _Writer

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    writer = _Writer(con, now)
    with pytest.raises(duckdb.ConstraintException):
        for key in ("a", "a", "b", "c"):  # the second "a" breaks transcripts.files' primary key
            f = {
                "file_key": key,
                "meeting_uuid": "m",
                "file_type": "TRANSCRIPT",
                "dest_url": key,
                "sha256": "s",
                "recording_start": now,
                "known": False,
            }
            batch = _Batch(now)
            batch.add_cues(f, [(1, 1.0, 2.0, None, key)])
            batch.file_row(f, "parsed", None, 1)
            writer.submit(batch)
        writer.close(True)
    writer.close(False)  # (run_transcripts closes the writer again when the run fails)
    assert con.execute("select count(*) from transcripts.cues").fetchone()[0] == 0
    assert con.execute("select count(*) from transcripts.files").fetchone()[0] == 0
    con.close()
