"""The transcripts stage: after the recordings copy, every copied transcript, caption and chat file is
read back from the destination (streamed, through fsspec) and loaded as one row per cue or message.

Incremental: ``transcripts.files`` remembers each file's SHA-256 as the inventory had it when the
file was parsed, so a file is parsed once; a file copied again with other bytes (a new SHA-256 in
``recordings.inventory``) replaces its rows. A file that does not follow its format goes to
``transcripts.files`` with ``status = 'quarantined'`` and the reason (line and problem), and none of
its cues is loaded; the run goes on. The same for a file that cannot be read.

WebVTT files of Zoom's regular shape are parsed a batch at a time by Arrow compute
(:func:`~pipelines.transcripts.parse.vtt_arrow`), the others file by file (a fast path of one
regular expression, else the line parser; chat files likewise); every cue of a batch becomes a full
``transcripts.cues`` row in Arrow, and DuckDB inserts the batches (on a writer thread, while the
next batches are read and parsed) in whole row groups, in transactions of about ``COMMIT_ROWS`` cues.
The full-text index (:mod:`pipelines.transcripts.search`) is rebuilt at the end when anything changed.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines.transcripts.parse import (
    FastCues,
    Malformed,
    after_header,
    fast_vtt_columns,
    parse_chat_text,
    parse_vtt_text,
    vtt_arrow,
)

log = logging.getLogger("pipelines.transcripts")

SCHEMA = "transcripts"
TEXT_FILE_TYPES = ("TRANSCRIPT", "CC", "CHAT")
BATCH_ROWS = 122_880  # cues a batch parsed at once holds, about (then it goes to the writer)
# The writer inserts whole DuckDB row groups, as Arrow record batches of one row group each, at
# least INSERT_ROWS cues a statement (the rest of a batch waits for the next one; a commit inserts
# what waits). Measured on the semester archive (907,598 cues): ~1.3 CPU-s so, against 2.0-2.5
# for one insert per ~123 k-cue batch of 20 k-row record batches (DuckDB merges the partial row
# groups) or for one statement per row group.
ROW_GROUP = 122_880  # rows of a DuckDB row group
INSERT_ROWS = 2 * ROW_GROUP
COMMIT_ROWS = 1_000_000  # cues per transaction, about (large inserts go straight to the file, no WAL)
BYTES_PER_CUE = 90  # of a WebVTT file, about: how many cues a batch's files not yet parsed hold
MAX_CUE_NUMBER = 2**31 - 1  # cue_index is an integer column

# The dbt project declares the same tables (macros/transcripts_raw.sql) so the models build on a
# warehouse this stage never ran on; keep both in step.
DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.cues (
    file_key        varchar not null,  -- zoom_raw.recording_files.file_key
    cue_index       integer not null,  -- the cue number as written (VTT) / message position (chat)
    meeting_uuid    varchar,
    file_type       varchar,           -- TRANSCRIPT | CC | CHAT
    start_offset_s  double,            -- seconds since the recording started
    end_offset_s    double,
    spoken_at       timestamptz,       -- recording start + start offset
    speaker         varchar,           -- as Zoom wrote it; null when it named nobody
    text            varchar,
    file_sha256     varchar,
    loaded_at       timestamptz
);
create table if not exists {SCHEMA}.files (
    file_key        varchar primary key,
    meeting_uuid    varchar,
    file_type       varchar,
    dest_url        varchar,           -- where the parsed copy is
    sha256          varchar,           -- of the parsed copy (recordings.inventory)
    status          varchar,           -- parsed | quarantined
    reason          varchar,           -- why it was quarantined
    cue_count       integer,
    recording_start timestamptz,
    parsed_at       timestamptz
);
"""


@dataclass
class TranscriptsSummary:
    files_parsed: int = 0
    files_quarantined: int = 0
    files_unchanged: int = 0
    cues_loaded: int = 0
    seconds: float = 0.0
    index_rebuilt: bool = False
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (dest url, reason)

    @property
    def ok(self) -> bool:
        return True  # quarantined files are reported, never a failure

    def line(self) -> str:
        return (
            f"transcripts: {self.files_parsed} file(s) parsed, {self.cues_loaded:,} cue(s) loaded, "
            f"{self.files_quarantined} quarantined, {self.files_unchanged} unchanged"
            f"{', search index rebuilt' if self.index_rebuilt else ''} ({self.seconds:.1f} s)"
        )


def enabled() -> bool:
    """``[transcripts] enabled`` (env ``TRANSCRIPTS__ENABLED``), default true: the privacy switch."""
    import dlt

    try:
        value = dlt.config.get("transcripts.enabled")
    except Exception:
        value = None
    if value is None or value == "":
        return True
    from pipelines.settings_check import parse_bool

    try:
        return parse_bool(value)
    except ValueError:
        raise ValueError(f"transcripts.enabled = {value!r}: must be true or false") from None


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def pending(con: duckdb.DuckDBPyConnection) -> tuple[list[dict[str, Any]], int]:
    """Copied text files not parsed at their current SHA-256 (one copy per file: the newest), and
    how many are unchanged."""
    if not _has_table(con, "recordings", "inventory"):
        return [], 0
    start = (
        "rf.recording_start"
        if _has_table(con, "zoom_raw", "recording_files")
        else "cast(null as timestamptz)"
    )
    join = (
        "left join zoom_raw.recording_files as rf on rf.file_key = inv.file_key"
        if _has_table(con, "zoom_raw", "recording_files")
        else ""
    )
    types = ", ".join(f"'{t}'" for t in TEXT_FILE_TYPES)
    rows = con.execute(
        f"""
        with copies as (
            select inv.file_key, inv.meeting_uuid, upper(inv.file_type) as file_type, inv.dest_url,
                inv.dest_root, inv.sha256, coalesce({start}, inv.start_time) as recording_start,
                row_number() over (partition by inv.file_key order by inv.finished_at desc nulls last) as k
            from recordings.inventory as inv
            {join}
            where inv.source = 'zoom' and inv.status = 'copied' and upper(inv.file_type) in ({types})
        )
        select c.file_key, c.meeting_uuid, c.file_type, c.dest_url, c.dest_root, c.sha256, c.recording_start,
            f.sha256 is not null and f.sha256 = c.sha256 as unchanged, f.file_key is not null as known
        from copies as c
        left join {SCHEMA}.files as f on f.file_key = c.file_key
        where c.k = 1
        order by c.file_key
        """
    ).fetchall()
    names = ("file_key", "meeting_uuid", "file_type", "dest_url", "dest_root", "sha256", "recording_start")
    # known: parsed before (at another checksum), so it has rows to replace
    todo = [dict(zip(names, r[:7], strict=True), known=r[8]) for r in rows if not r[7]]
    return todo, sum(1 for r in rows if r[7])


def filesystem(dest_root: str) -> Any:
    """The fsspec filesystem of a destination root, with the recordings pipeline's settings; made
    once per root, not once per file."""
    import fsspec

    return fsspec.core.url_to_fs(dest_root, **storage_options(dest_root))[0]


def storage_options(dest_root: str) -> dict[str, Any]:
    """fsspec options to read back what the recordings pipeline wrote (same settings, same keys)."""
    if not dest_root.startswith(("s3://", "s3a://")):
        return {}
    from pipelines.recordings.settings import load_settings

    s = load_settings(dest=dest_root)
    client: dict[str, Any] = {}
    if s.s3_endpoint_url:
        client["endpoint_url"] = s.s3_endpoint_url
    if s.s3_region:
        client["region_name"] = s.s3_region
    opts: dict[str, Any] = {"client_kwargs": client} if client else {}
    if s.aws_access_key_id and s.aws_secret_access_key:
        opts.update(key=s.aws_access_key_id, secret=s.aws_secret_access_key)
    return opts


def parse_file(text: str, file_type: str) -> list[tuple[int, float, float, str | None, str]]:
    """``(index, start_s, end_s, speaker, text)`` of every cue; :class:`Malformed` when the file
    breaks its format."""
    return parse_chat_text(text) if file_type == "CHAT" else parse_vtt_text(text)


def _cue_schema():
    """The cues as parsed; the file's columns come from its ``files`` row (``file_no``) on insert."""
    import pyarrow as pa

    return pa.schema(
        [
            ("file_no", pa.int32()),
            ("cue_index", pa.int32()),
            ("start_offset_s", pa.float64()),
            ("end_offset_s", pa.float64()),
            ("speaker", pa.string()),
            ("text", pa.string()),
        ]
    )


def _fast_cue_schema():
    """Cues of the fast path: start and end as written in the file (``HH:MM:SS.mmm``)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("file_no", pa.int32()),
            ("cue_index", pa.int32()),
            ("start_clock", pa.string()),
            ("end_clock", pa.string()),
            ("speaker", pa.string()),
            ("text", pa.string()),
        ]
    )


def _parsed_schema():
    """Cues as parsed, before the file's columns are added (``file_no``: the batch's file)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("file_no", pa.int32()),
            ("cue_index", pa.int32()),
            ("start_offset_s", pa.float64()),
            ("end_offset_s", pa.float64()),
            ("spoken_ms", pa.int64()),  # the start offset in whole milliseconds
            ("speaker", pa.large_string()),
            ("text", pa.large_string()),
        ]
    )


def _files_schema():
    import pyarrow as pa

    tz = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("file_no", pa.int32()),
            ("file_key", pa.string()),
            ("meeting_uuid", pa.string()),
            ("file_type", pa.string()),
            ("dest_url", pa.string()),
            ("sha256", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("cue_count", pa.int32()),
            ("recording_start", tz),
            ("parsed_at", tz),
        ]
    )


class _Batch:
    """Files read and parsed, waiting to be written in one transaction (cues as Arrow columns, one
    ``files`` row each)."""

    def __init__(self, now: dt.datetime, pool: Any = None) -> None:
        self.now = now
        self.pool = pool  # threads to parse WebVTT files on (_vtt_arrow_parallel), or None
        self.cols: dict[str, list] = {name: [] for name in _cue_schema().names}
        # cues of the fast path: times as written (HH:MM:SS.mmm), made seconds by the insert
        self.fast: dict[str, list] = {name: [] for name in _fast_cue_schema().names}
        self.files: dict[str, dict[str, Any]] = {}  # file key -> files row
        self.known: list[dict[str, Any]] = []  # the files, as pending() gave them
        # WebVTT files waiting to be parsed together (vtt_arrow): (file, text, what follows the header)
        self.vtt: list[tuple[dict[str, Any], str, str]] = []
        self.vtt_bytes = 0
        self.arrow: list[Any] = []  # cues of vtt_arrow, in _parsed_schema

    def add_fast(self, cols: FastCues) -> None:
        """The cues (columns of :func:`fast_vtt_columns`) of the file whose ``file_row`` comes next."""
        numbers, starts, ends, speakers, texts = cols
        c = self.fast
        c["file_no"] += [len(self.files)] * len(numbers)
        c["cue_index"] += numbers
        c["start_clock"] += starts
        c["end_clock"] += ends
        c["speaker"] += speakers
        c["text"] += texts

    def add_cues(self, f: dict[str, Any], cues: list[tuple]) -> None:
        """The cues of the file whose ``file_row`` comes next."""
        if not cues:
            return
        c = self.cols
        index, start, end, speaker, text = zip(*cues, strict=True)
        c["file_no"] += [len(self.files)] * len(cues)
        c["cue_index"] += index
        c["start_offset_s"] += start
        c["end_offset_s"] += end
        c["speaker"] += speaker
        c["text"] += text

    def file_row(self, f: dict[str, Any], status: str, reason: str | None, cues: int) -> None:
        self.known.append(f)
        self.files[f["file_key"]] = {
            "file_no": len(self.files),
            "file_key": f["file_key"],
            "meeting_uuid": f["meeting_uuid"],
            "file_type": f["file_type"],
            "dest_url": f["dest_url"],
            "sha256": f["sha256"],
            "status": status,
            "reason": reason,
            "cue_count": cues,
            "recording_start": f["recording_start"],
            "parsed_at": self.now,
        }

    def rows(self) -> int:
        parsed = len(self.cols["file_no"]) + len(self.fast["file_no"]) + sum(t.num_rows for t in self.arrow)
        return parsed + self.vtt_bytes // BYTES_PER_CUE

    def add_vtt(self, f: dict[str, Any], text: str, body: str) -> None:
        self.vtt.append((f, text, body))
        self.vtt_bytes += len(body)

    def parse_vtt(self, summary: TranscriptsSummary) -> None:
        """Parse the waiting WebVTT files at once (Arrow compute, which lets the writer thread run);
        the files vtt_arrow leaves go through :func:`_parse` one by one."""
        import pyarrow as pa
        import pyarrow.compute as pc

        waiting, self.vtt, self.vtt_bytes = self.vtt, [], 0
        if not waiting:
            return
        table, left = _vtt_arrow_parallel([body for _, _, body in waiting], self.pool)
        counts = dict.fromkeys(range(len(waiting)), 0)
        for row in pc.value_counts(table["doc"]).to_pylist():
            counts[row["values"]] = row["counts"]
        file_nos = []
        for doc, (f, text, _) in enumerate(waiting):
            if doc in left:
                file_nos.append(-1)
                _parse(self, f, text, summary)
                continue
            file_nos.append(len(self.files))
            self.file_row(f, "parsed", None, counts[doc])
            summary.files_parsed += 1
            summary.cues_loaded += counts[doc]
        file_no = pa.array(file_nos, pa.int32()).take(table["doc"])
        self.arrow.append(_clock_rows(file_no, table))


PARSE_THREADS = 2  # parts of a batch vtt_arrow reads at once (Arrow compute frees the GIL)


def _vtt_arrow_parallel(bodies: list[str], pool: Any) -> tuple[Any, set[int]]:
    """:func:`vtt_arrow` of ``bodies``, in ``PARSE_THREADS`` parts read at once (all but the first
    on ``pool``, a thread pool); the same result."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = min(PARSE_THREADS, len(bodies)) if pool is not None else 1
    if parts <= 1:
        return vtt_arrow(bodies)
    at = [len(bodies) * k // parts for k in range(parts + 1)]
    futures = [pool.submit(vtt_arrow, bodies[a:b]) for a, b in itertools.pairwise(at[1:])]
    results = [vtt_arrow(bodies[: at[1]]), *(f.result() for f in futures)]
    tables, left = [], set()
    for start, (table, part_left) in zip(at, results, strict=False):
        tables.append(table.set_column(0, "doc", pc.add(table["doc"], pa.scalar(start, table["doc"].type))))
        left.update(doc + start for doc in part_left)
    return pa.concat_tables(tables), left


def _milliseconds(clock: Any) -> Any:
    """``HH:MM:SS.mmm`` strings (checked) as whole milliseconds (int64), by Arrow compute."""
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = pc.cast(clock, pa.large_binary())
    h, m, s, ms = (
        pc.cast(pc.cast(pc.binary_slice(raw, a, b), pa.large_string()), pa.int64())
        for a, b in ((0, 2), (3, 5), (6, 8), (9, 12))
    )
    return pc.add(pc.multiply(pc.add(pc.add(pc.multiply(h, 3600), pc.multiply(m, 60)), s), 1000), ms)


def _clock_rows(file_no: Any, table: Any) -> Any:
    """Cues with times as written (``start_clock``, ``end_clock``) as :func:`_parsed_schema` rows:
    offsets with the line parser's arithmetic (whole milliseconds / 1000)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    start_ms, end_ms = _milliseconds(table["start_clock"]), _milliseconds(table["end_clock"])
    columns = {
        "file_no": file_no,
        "cue_index": table["cue_index"],
        "start_offset_s": pc.divide(start_ms.cast(pa.float64()), 1000.0),
        "end_offset_s": pc.divide(end_ms.cast(pa.float64()), 1000.0),
        "spoken_ms": start_ms,
        "speaker": table["speaker"],
        "text": table["text"],
    }
    return pa.table(columns).cast(_parsed_schema())


def _cue_rows(batch: _Batch) -> Any:
    """The batch's cues as ``transcripts.cues`` rows but ``loaded_at``, made by Arrow compute (the
    insert only copies them): the file's columns by ``file_no``, ``spoken_at`` = the recording's
    start + the offset in whole milliseconds (``round(start_offset_s * 1000)``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    slow = pa.Table.from_pydict(batch.cols, schema=_cue_schema())
    slow_ms = pc.round(pc.multiply(slow["start_offset_s"], 1000.0), round_mode="half_towards_infinity")
    slow = slow.add_column(4, "spoken_ms", slow_ms.cast(pa.int64())).cast(_parsed_schema())
    fast = pa.Table.from_pydict(batch.fast, schema=_fast_cue_schema())
    parsed = pa.concat_tables([*batch.arrow, slow, _clock_rows(fast["file_no"], fast)])
    file_no = parsed["file_no"]
    files = list(batch.files.values())  # (file_no: the position)
    tz = pa.timestamp("us", tz="UTC")
    recording_start = pa.array([f["recording_start"] for f in files], tz).take(file_no)
    spoken_us = pc.add(recording_start.cast(pa.int64()), pc.multiply(parsed["spoken_ms"], 1000))
    column = {
        name: pa.array([f[name] for f in files], pa.string()).take(file_no)
        for name in ("file_key", "meeting_uuid", "file_type", "sha256")
    }
    table = pa.table(
        {
            "file_key": column["file_key"],
            "cue_index": parsed["cue_index"],
            "meeting_uuid": column["meeting_uuid"],
            "file_type": column["file_type"],
            "start_offset_s": parsed["start_offset_s"],
            "end_offset_s": parsed["end_offset_s"],
            "spoken_at": spoken_us.cast(tz),
            "speaker": parsed["speaker"],
            "text": parsed["text"],
            "file_sha256": column["sha256"],
        }
    )
    return table


def _parse(batch: _Batch, f: dict[str, Any], text: str, summary: TranscriptsSummary) -> None:
    fast = fast_vtt_columns(text) if f["file_type"] != "CHAT" else None
    if fast is not None:  # Zoom's regular WebVTT: columns straight from one findall
        numbers = fast[0]
    else:
        try:
            cues = parse_file(text, f["file_type"])
        except Malformed as exc:
            _quarantine(batch, f, str(exc), summary)
            return
        numbers = [c[0] for c in cues]
    if numbers and max(numbers) > MAX_CUE_NUMBER:
        _quarantine(batch, f, f"cue number {max(numbers)} is larger than {MAX_CUE_NUMBER}", summary)
        return
    if fast is not None:
        batch.add_fast(fast)
    else:
        batch.add_cues(f, cues)
    batch.file_row(f, "parsed", None, len(numbers))
    summary.files_parsed += 1
    summary.cues_loaded += len(numbers)


def _quarantine(batch: _Batch, f: dict[str, Any], reason: str, summary: TranscriptsSummary) -> None:
    log.warning("transcripts: quarantined %s: %s", f["dest_url"], reason)
    summary.files_quarantined += 1
    summary.quarantined.append((f["dest_url"], reason))
    batch.file_row(f, "quarantined", reason, 0)


def _replace(con: duckdb.DuckDBPyConnection, batch: _Batch) -> Any:
    """Delete the rows the batch's files had (when any had) and insert their ``files`` rows, in the
    writer's transaction; the batch's cues as ``transcripts.cues`` rows (Arrow), to be inserted."""
    import pyarrow as pa

    file_rows = pa.Table.from_pylist(list(batch.files.values()), schema=_files_schema())
    con.register("file_rows", file_rows)
    try:
        if any(f.get("known", True) for f in batch.known):  # (a new file has no rows: no scan for them)
            con.execute(f"delete from {SCHEMA}.cues where file_key in (select file_key from file_rows)")
            con.execute(f"delete from {SCHEMA}.files where file_key in (select file_key from file_rows)")
        con.execute(f"insert into {SCHEMA}.files by name select * exclude (file_no) from file_rows")
    finally:
        con.unregister("file_rows")
    return _cue_rows(batch)


def _insert_cues(con: duckdb.DuckDBPyConnection, cue_rows: Any, now: dt.datetime) -> None:
    """One insert of the cues, as record batches of a row group each."""
    import pyarrow as pa

    cue_rows = pa.Table.from_batches(cue_rows.to_batches(max_chunksize=ROW_GROUP), schema=cue_rows.schema)
    con.register("cue_rows", cue_rows)
    try:
        con.execute(f"insert into {SCHEMA}.cues by name select *, ? as loaded_at from cue_rows", [now])
    finally:
        con.unregister("cue_rows")


READ_AHEAD = 8  # files being read while the one before them is parsed


def _fetched(todo: list[dict[str, Any]], filesystems: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """``(file, its bytes or the OSError reading it)`` in ``todo``'s order; up to ``READ_AHEAD``
    files are read ahead on threads (reading releases the GIL, so parsing goes on meanwhile)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def read(url: str, fs: Any) -> Any:
        try:
            path = fs._strip_protocol(url)
            protocols = (fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol
            if "file" in protocols:  # a local file: read without an fsspec file object
                with open(path, "rb") as fh:
                    return fh.read()
            return fs.cat_file(path)
        except OSError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="transcripts-reader") as pool:
        ahead: deque = deque()
        files = iter(todo)
        while True:
            while len(ahead) < READ_AHEAD:
                f = next(files, None)
                if f is None:
                    break
                # rows without a root (older inventories): the filesystem of the URL's own protocol
                url = f["dest_url"]
                root = f["dest_root"] or (url.partition("://")[0] if "://" in url else "file") + "://"
                if root not in filesystems:
                    filesystems[root] = filesystem(root)
                ahead.append((f, pool.submit(read, url, filesystems[root])))
            if not ahead:
                return
            f, future = ahead.popleft()
            yield f, future.result()


def _read_all(
    todo: list[dict[str, Any]],
    filesystems: dict[str, Any],
    batch: _Batch,
    writer: _Writer,
    summary: TranscriptsSummary,
    now: dt.datetime,
) -> None:
    """Read and parse every pending file; full batches go to the writer while the next one is parsed."""
    for f, data in _fetched(todo, filesystems):
        if isinstance(data, OSError):
            _quarantine(batch, f, f"cannot read it: {type(data).__name__}: {data}", summary)
            continue
        try:
            text = data.decode("utf-8")  # strict: a transcript is text
        except UnicodeDecodeError as exc:
            _quarantine(batch, f, f"not UTF-8 text ({exc.reason} at byte {exc.start})", summary)
            continue
        body = after_header(text) if f["file_type"] != "CHAT" else None
        if body is not None:
            batch.add_vtt(f, text, body)
        else:
            _parse(batch, f, text, summary)
        if batch.rows() >= BATCH_ROWS:
            batch.parse_vtt(summary)
            if batch.rows() >= BATCH_ROWS:  # (counted now, no longer guessed from the bytes)
                writer.submit(batch)
                batch = _Batch(now, batch.pool)
    batch.parse_vtt(summary)
    writer.submit(batch)


IN_FLIGHT = 2  # batches submitted to the writer and not written yet, at most


class _Writer:
    """Writes batches on one background thread, so the next batch is read and parsed while DuckDB
    inserts the previous ones (DuckDB releases the GIL while it works). At most ``IN_FLIGHT``
    batches wait for it; a failed write is raised at a later ``submit`` or at ``close``, and nothing
    after it is written. Batches are written in transactions of about ``COMMIT_ROWS`` cues (a transaction
    that large writes its rows to the database file as it goes, and its commit writes no copy of
    them to the WAL): what committed stays, the rest is rolled back and pending again on the next
    run."""

    def __init__(self, con: duckdb.DuckDBPyConnection, now: dt.datetime) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.con = con
        self.now = now  # loaded_at
        self.waiting: list[Any] = []  # cues of files whose files rows are in, not inserted yet
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcripts-writer")
        self.pending: collections.deque = collections.deque()  # futures of the batches submitted
        self.failed = False
        self.open = False  # a transaction is open
        self.uncommitted = 0  # cues written in it

    def _write(self, batch: _Batch) -> None:
        if self.failed or not batch.files:
            return
        if not self.open:
            self.con.execute("begin")
            self.open = True
        try:
            cue_rows = _replace(self.con, batch)  # (the cues waiting are of other files)
            self.waiting.append(cue_rows)
            self.uncommitted += cue_rows.num_rows
            if self.uncommitted >= COMMIT_ROWS:
                self._end("commit")
            elif sum(t.num_rows for t in self.waiting) >= INSERT_ROWS:
                self._insert(everything=False)
        except BaseException:
            self.failed = True
            self._end("rollback")
            raise

    def _insert(self, everything: bool) -> None:
        """Insert the waiting cues: all of them, or as many whole row groups as they fill (the rest
        waits for the next batch)."""
        import pyarrow as pa

        if not self.waiting:
            return
        table = pa.concat_tables(self.waiting).combine_chunks()
        n = table.num_rows if everything else table.num_rows // ROW_GROUP * ROW_GROUP
        self.waiting = [table.slice(n)] if n < table.num_rows else []
        if n:
            _insert_cues(self.con, table.slice(0, n), self.now)

    def _end(self, how: str) -> None:
        if not self.open:
            return
        if how == "commit":  # the cues still waiting first
            try:
                self._insert(everything=True)
            except BaseException:
                self._end("rollback")
                raise
        self.open, self.uncommitted, self.waiting = False, 0, []
        self.con.execute(how)

    def _wait(self, keep: int = 0) -> None:
        while len(self.pending) > keep:
            self.pending.popleft().result()

    def submit(self, batch: _Batch) -> None:
        self._wait(keep=IN_FLIGHT - 1)
        self.pending.append(self.pool.submit(self._write, batch))

    def close(self, ok: bool) -> None:
        """Wait for the last batch; commit (``ok``: every file was read) or roll back."""
        try:
            self._wait()
        except BaseException:
            ok = False
            raise
        finally:
            self.pool.shutdown(wait=True)
            self._end("commit" if ok else "rollback")


# Arrow's memory pool while the stage runs: the C library's allocator. Arrow's default (mimalloc)
# spent ~0.2-0.5 s more system time on the semester archive (fresh pages for every batch's
# columns); None keeps the default.
ARROW_POOL: str | None = "system"


@contextlib.contextmanager
def _arrow_pool() -> Iterator[None]:
    """``ARROW_POOL`` as pyarrow's default memory pool (process-wide), the one before it after.
    Arrays made meanwhile keep their pool; any pool is correct, only the time differs."""
    import pyarrow as pa

    if ARROW_POOL is None:
        yield
        return
    before = pa.default_memory_pool()
    pa.set_memory_pool(getattr(pa, f"{ARROW_POOL}_memory_pool")())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def run_transcripts(
    con: duckdb.DuckDBPyConnection | None = None, rebuild_index: bool = True
) -> TranscriptsSummary:
    """Parse and load every copied text file not loaded at its current checksum."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines import clock, paths

    started = time.perf_counter()
    own = con is None
    if con is None:
        paths.warehouse_path().parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(paths.warehouse_path()))
    summary = TranscriptsSummary()
    try:
        ensure_tables(con)
        todo, summary.files_unchanged = pending(con)
        now = clock.now().astimezone(dt.UTC)
        filesystems: dict[str, Any] = {}  # destination root -> fsspec filesystem
        writer = _Writer(con, now)
        ok = False
        try:
            with (
                _arrow_pool(),
                ThreadPoolExecutor(
                    max(1, PARSE_THREADS - 1), thread_name_prefix="transcripts-parse"
                ) as parsers,
            ):
                _read_all(todo, filesystems, _Batch(now, parsers), writer, summary, now)
                ok = True
        finally:
            with _arrow_pool():
                writer.close(ok)
        changed = summary.files_parsed + summary.files_quarantined > 0
        if rebuild_index:
            from pipelines.transcripts import search

            if changed or not search.index_is_current(con):
                search.build_index(con)
                summary.index_rebuilt = True
    finally:
        if own:
            con.close()
    summary.seconds = time.perf_counter() - started
    return summary
