"""``make run`` / ``python -m pipelines run``: load, transform, copy recordings, load the copied
transcripts and chat (``[transcripts] enabled``), then one summary.

Each stage prints its own lines as it goes; the run ends with one block that says what was loaded,
transformed and copied, what needs attention, where the results are and what to open next. A stage
that fails does not stop the later ones (a transform of what was loaded is still worth having;
recordings are copied from what the warehouse knows), but the exit code says so. Ctrl-C / SIGTERM
stop everything at once (exit 130 / 143).
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines import paths

INTERRUPTED = (130, 143)
BAD_SETTINGS = 2  # run_load's code when a setting is invalid (each one was printed)


@dataclass
class RunReport:
    """What each stage did, gathered for the closing summary."""

    load: dict[str, Any] = field(default_factory=dict)  # source -> summary dict or the exception
    load_code: int = 0
    transform_code: int | None = None
    recordings: Any = None  # pipelines.recordings.run.RunSummary
    recordings_code: int | None = None
    transcripts: Any = None  # pipelines.transcripts.stage.TranscriptsSummary (None: off or not run)
    youtube: Any = None  # pipelines.youtube.stage.PublishSummary (None: no channel configured)
    attention: list[str] = field(default_factory=list)


def _rows(summary: Any) -> dict[str, int]:
    if isinstance(summary, BaseException):
        summary = getattr(summary, "summary", None) or {}
    return {t: int(n) for t, n in (summary or {}).get("rows", {}).items() if n}


def _query(sql: str) -> list[tuple]:
    """Read the published snapshot (else the warehouse) read-only; [] when neither can be read."""
    import duckdb

    from pipelines import warehouse

    if warehouse.is_lake():  # the lake at its published snapshot
        from pipelines.report import open_serving

        try:
            with open_serving() as con:
                return con.execute(sql).fetchall()
        except Exception:
            return []
    for path in (paths.serving_path(), paths.warehouse_path()):
        if Path(path).exists():
            try:
                with duckdb.connect(str(path), read_only=True) as con:
                    return con.execute(sql).fetchall()
            except duckdb.Error:
                continue
    return []


def _attention(report: RunReport) -> list[str]:
    notes: list[str] = []
    for source, result in report.load.items():
        if isinstance(result, BaseException):
            notes.append(
                f"{source} load stopped: {type(result).__name__}: {str(result).splitlines()[0][:300]}"
            )
        summary = result if isinstance(result, dict) else getattr(result, "summary", None) or {}
        if summary.get("quarantined"):
            notes.append(
                f"{source}: {summary['quarantined']} record(s) quarantined (see {source}_raw.quarantine)"
            )
        if summary.get("users_not_hosting"):
            notes.append(
                f"zoom: {len(summary['users_not_hosting'])} user(s) may not host meetings (code 3161)"
            )
        if summary.get("recordings_processing"):
            notes.append(
                f"zoom: {summary['recordings_processing']} recording(s) still processing; the next run loads them"
            )
    if report.transform_code not in (None, 0):
        notes.append("transform failed (dbt build): the serving snapshot was not republished")
    rec = report.recordings
    if rec is not None:
        if rec.failed:
            notes.append(f"recordings: {rec.failed} file(s) failed to copy; the next run retries them")
        if rec.expiring_not_copied:
            notes.append(
                f"recordings: {rec.expiring_not_copied} file(s) Zoom auto-deletes from {rec.expiring_first} "
                "are not copied yet"
            )
        if rec.stopped:
            notes.append(f"recordings stopped: {rec.stopped}")
    return notes + report.attention


def format_report(report: RunReport) -> str:
    lines = ["", "== run summary =="]
    for source in ("zoom", "meets"):
        if source in report.load:
            rows = _rows(report.load[source])
            total = sum(rows.values())
            top = ", ".join(f"{t} {n:,}" for t, n in sorted(rows.items(), key=lambda kv: -kv[1])[:4])
            lines.append(f"loaded     {source}: {total:,} rows" + (f" ({top})" if top else " (nothing new)"))
    marts = _query(
        "select (select count(*) from analytics.fct_meetings), (select count(*) from analytics.fct_participant_sessions), "
        "(select count(*) from analytics.fct_qos_minutes), (select count(*) from analytics.fct_recording_files)"
    )
    if report.transform_code is not None:
        state = "ok" if report.transform_code == 0 else "FAILED"
        if marts:
            m, s, q, r = marts[0]
            lines.append(
                f"transformed ({state}): {m:,} meetings, {s:,} participant sessions, {q:,} QoS minute rows, "
                f"{r:,} recording files"
            )
        else:
            lines.append(f"transformed ({state})")
    rec = report.recordings
    if rec is not None:
        lines.append(
            f"copied     {rec.copied:,} file(s), {rec.copied_bytes / 1e6:,.1f} MB this run; "
            f"{rec.already_copied:,} were already there; to {rec.dest}"
        )
    if report.transcripts is not None:
        t = report.transcripts
        lines.append(
            f"transcripts {t.cues_loaded:,} cue(s) from {t.files_parsed:,} file(s) this run; "
            f'search: python -m pipelines search "..."'
        )
    if report.youtube is not None:
        lines.append(report.youtube.line())
    notes = _attention(report)
    lines.append("attention  " + ("nothing" if not notes else notes[0]))
    lines += [f"           {n}" for n in notes[1:]]
    lines += [
        f"results    warehouse {paths.warehouse_path()}",
        f"           snapshot for BI tools and notebooks {paths.serving_path()} (read-only)",
    ]
    if rec is not None:
        lines.append(f"           recordings {rec.dest} (inventory: recordings.inventory)")
    lines += [
        'next       python -m pipelines sql "select * from analytics.fct_meetings limit 10"',
        "           make report (HTML reports under reports/), docs/tour.md, docs/bi.md",
    ]
    return "\n".join(lines)


def _run_transcripts(report: RunReport) -> None:
    """After the copy: load the copied transcripts and chat (unless ``[transcripts] enabled = false``),
    then rebuild the transcript models when new cues arrived (the transform ran before them)."""
    from pipelines.transcripts import stage

    if not stage.enabled():
        return
    from pipelines import warehouse

    if warehouse.is_lake():  # the stage writes the DuckDB file (keys, full-text index): not on a lake yet
        report.attention.append(
            "transcripts: not loaded on a DuckLake warehouse yet (docs/scale-out.md, Limits)"
        )
        return
    try:
        report.transcripts = stage.run_transcripts()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the copy is done; the next run parses what this one could not
        report.attention.append(f"transcripts did not run: {type(exc).__name__}: {exc}")
        return
    print(report.transcripts.line())
    if report.transcripts.files_quarantined:
        report.attention.append(
            f"transcripts: {report.transcripts.files_quarantined} file(s) quarantined "
            "(see transcripts.files where status = 'quarantined')"
        )
    if report.transform_code == 0 and report.transcripts.files_parsed + report.transcripts.files_quarantined:
        from pipelines.transform import run_transform

        report.transform_code = run_transform(select="source:transcripts+", quiet=True)


def _run_youtube(report: RunReport) -> None:
    """After the copy, only when a YouTube channel is configured: publish the best recording of
    each meeting (pipelines/youtube/), then rebuild the recordings mart with the video ids."""
    from pipelines.youtube.settings import load_settings

    try:
        if not load_settings().configured:
            return
        from pipelines.youtube.cli import refresh_marts
        from pipelines.youtube.stage import run_publish

        report.youtube = run_publish()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the copy is done; the next run publishes what this one could not
        report.attention.append(f"publish (YouTube) did not run: {type(exc).__name__}: {exc}")
        return
    if report.youtube.stopped:
        report.attention.append(f"publish (YouTube) stopped: {report.youtube.stopped}")
    if report.youtube.failed:
        report.attention.append(
            f"publish (YouTube): {report.youtube.failed} file(s) failed; the next run retries them"
        )
    if report.youtube.published and report.transform_code == 0:
        refresh_marts(snapshot=False)  # run_all publishes the snapshot next


def run_all(args: argparse.Namespace) -> int:
    """Load, transform, recordings, summary; exit code 0 when every stage succeeded."""
    from pipelines.load import SOURCES, run_load

    report = RunReport()
    started = dt.datetime.now(dt.UTC)
    report.load_code = run_load(SOURCES, results=report.load)
    if report.load_code in (*INTERRUPTED, BAD_SETTINGS):  # stopped by a signal, or nothing could start
        return report.load_code
    from pipelines.cli import cmd_transform

    report.transform_code = cmd_transform(argparse.Namespace(full_refresh=False, select=None, daily=False))
    from pipelines.recordings import run_recordings

    try:
        report.recordings = run_recordings(progress=None)
        report.recordings_code = 0 if report.recordings.ok else 1
        _run_transcripts(report)
        _run_youtube(report)
        from pipelines import warehouse
        from pipelines.publish import publish_snapshot

        if report.transform_code == 0 and (warehouse.is_lake() or paths.serving_path().exists()):
            publish_snapshot()  # the inventory reaches the snapshot too
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the summary still comes, with the reason
        report.recordings_code = 1
        report.attention.append(f"recordings did not run: {type(exc).__name__}: {exc}")
    print(format_report(report))
    print(f"           ({(dt.datetime.now(dt.UTC) - started).total_seconds():.0f} s in all)")
    youtube_code = (
        1 if report.youtube is not None and report.youtube.failed else 0
    )  # a quota stop is not a failure
    codes = (report.load_code, report.transform_code or 0, report.recordings_code or 0, youtube_code)
    return next((c for c in codes if c), 0)
