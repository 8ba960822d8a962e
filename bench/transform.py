"""Benchmark ``dbt build`` on a large sandbox scale against one hand-written DuckDB statement.

What it does, in one process (2 cores here; numbers are wall-clock seconds):

1. Writes the raw layer (``zoom_raw``, ``meets_raw``) for the ``large`` sandbox scale **straight from
   the account generator** (``tests/fixtures/raw_fill.py``: DuckDB + Arrow, same tables and columns
   as the dlt sources), not over HTTP: a day short of the sandbox clock, so a daily increment is left.
2. Baseline: ONE hand-written SQL statement that computes ``fct_meeting_quality`` directly from
   ``zoom_raw.participant_qos`` and the threshold CSV (parse, unpivot, threshold, aggregate), run
   before and after the dbt full refresh; the mean is the baseline.
3. ``dbt build --full-refresh`` (seeds, every model, every test) through ``pipelines.transform``,
   in-process with dbt already imported (import time reported separately).
4. Checks that the baseline equals ``fct_meeting_quality`` (counts and proportions exactly).
5. Writes the next day's raw data and times the incremental ``dbt build``.

Targets (issue 5): full refresh <= 2x the baseline; incremental daily run <= 10% of the full refresh.
Results: ``bench/results/transform.json``. Run: ``python bench/transform.py [--scale large]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from pipelines.sandbox.account import STREAM_KIND, STREAMS, Account, Scale  # noqa: E402
from tests.fixtures.raw_fill import fill_raw  # noqa: E402

# Seed 001's hospital: up to 6,000 virtual visits a day, typically 2-4 participants (clinician,
# patient, interpreter) for 15-45 minutes, kept six months. The sandbox's own generator makes it
# (host + gauss(2, 1.5) others, length gauss(30, 9) minutes), so its ground truth still holds;
# days and meetings per day are parameters, since 180 x 6,000 (~100 million participant-minutes)
# does not fit a shared 2-core machine.
HOSPITAL = {"hosts": 400, "participants": 3, "minutes": 30, "students": 20_000}


def resolve_scale(name: str, days: int | None = None, meetings_per_day: int | None = None) -> Scale:
    """A sandbox preset, or ``hospital`` (default 180 days x 6,000 meetings), with days/meetings overridden."""
    if name == "hospital":
        scale = Scale(days=180, meetings_per_day=6000, future_days=2, **HOSPITAL)
    else:
        scale = Scale.named(name)
    changes = {k: v for k, v in (("days", days), ("meetings_per_day", meetings_per_day)) if v}
    return dataclasses.replace(scale, **changes) if changes else scale


def _in_child(fill: Callable[[], dict]) -> dict:
    """``fill()`` in a forked process: the generator's memory never counts in this process's peak RSS."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def work() -> None:
        child.send(fill())
        child.close()

    proc = ctx.Process(target=work)
    proc.start()
    counts = parent.recv()
    proc.join()
    assert proc.exitcode == 0, "raw fill failed"
    return counts


def _fill_in_child(
    db: Path, seed: int, scale: Scale, start: date, now: datetime, since: datetime | None
) -> dict:
    """fill_raw (the sandbox's generator) up to ``now`` in a forked process."""
    return _in_child(lambda: fill_raw(str(db), Account(seed, scale, start_date=start), now, since=since))


def _fill_hospital_in_child(
    db: Path, seed: int, scale: Scale, start: date, first_day: int, days: int
) -> dict:
    """bench/hospital_fill.py's vectorised filler in a forked process: days ``first_day ..`` of the
    hospital account starting ``start`` (meetings at the sandbox's mix, no MEETS rows)."""

    def fill() -> dict:
        from bench.hospital_fill import fill_hospital

        return fill_hospital(
            db, days, scale.meetings_per_day, seed, start_date=start, hosts=scale.hosts, first_day=first_day
        )

    return _in_child(fill)


def _reset_peak_rss() -> None:
    """Linux: reset this process's peak RSS (VmHWM) so the next reading covers one phase only."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


THRESHOLDS_CSV = ROOT / "dbt_project" / "seeds" / "qos_thresholds.csv"
RESULTS = ROOT / "bench" / "results" / "transform.json"
METRICS = {  # metric -> stream kinds carrying it
    "bitrate": ("audio", "video", "share"),
    "latency": ("audio", "video", "share"),
    "jitter": ("audio", "video", "share"),
    "avg_loss": ("audio", "video", "share"),
    "max_loss": ("audio", "video", "share"),
    "frame_rate": ("video", "share"),
    "cpu_usage": ("cpu",),
}


def _num(col: str) -> str:
    return (
        f"try_cast(nullif(regexp_extract(replace({col}, ',', ''), "
        f"'^\\s*([-+]?[0-9]*\\.?[0-9]+)', 1), '') as double)"
    )


def _raw(stream: str, metric: str) -> str:
    """A stream's raw metric as staging reads it: the classic block, else the web client's (rwg),
    else the Cloud Room Connector's (crc) (macros/qos_parsing.sql: qos_stream_value)."""
    kind, way = stream.split("_")
    connector = f"{kind}_device_{'from' if way == 'input' else 'to'}"
    return (
        f"coalesce(nullif({stream}__{metric}, ''), nullif({connector}_rwg__{metric}, ''), "
        f"{connector}_crc__{metric})"
    )


def baseline_sql(thresholds_csv: Path) -> str:
    """One statement: raw QoS strings -> fct_meeting_quality's rows (stream and kind levels)."""
    branches = []
    for stream in (*STREAMS, "cpu"):
        kind = STREAM_KIND.get(stream, "cpu")
        cols = []
        for metric in ("bitrate", "latency", "jitter", "avg_loss", "max_loss"):
            cols.append(
                f"{_num(_raw(stream, metric))} as {metric}" if kind != "cpu" else f"null::double as {metric}"
            )
        if kind in ("video", "share"):
            cols.append(
                f"case when coalesce({_raw(stream, 'resolution')}, '') not in ('', '0*0') "
                f"then {_num(_raw(stream, 'frame_rate'))} end as frame_rate"
            )
        else:
            cols.append("null::double as frame_rate")
        cols.append(
            _num("cpu_usage__zoom_avg_cpu_usage") + " as cpu_usage"
            if kind == "cpu"
            else "null::double as cpu_usage"
        )
        branches.append(
            f"select meeting_uuid, '{stream}' as stream, '{kind}' as kind, {', '.join(cols)} from zoom_raw.participant_qos"
        )
    minutes = "\n        union all\n        ".join(branches)
    th_cols = ", ".join(
        f"max(case when metric = '{m}' then comparator end) as {m}_cmp, "
        f"max(case when metric = '{m}' then value end) as {m}_thr"
        for m in METRICS
    )
    aggs = []
    for m in METRICS:
        flag = (
            f"case {m}_cmp when '>' then {m} > {m}_thr when '>=' then {m} >= {m}_thr "
            f"when '<' then {m} < {m}_thr when '<=' then {m} <= {m}_thr end"
        )
        aggs.append(
            f"min({m}) as {m}_min, max({m}) as {m}_max, sum({m}) as {m}_sum, count({m}) as {m}_n, "
            f"count_if({flag}) as {m}_bad"
        )
    long_rows = "\n        union all\n        ".join(
        f"select meeting_uuid, stream, kind, '{m}' as metric, {m}_min as mn, {m}_max as mx, {m}_sum as sm, "
        f"{m}_n as n, {m}_bad as bad from per_stream where kind in ({', '.join(repr(k) for k in kinds)})"
        for m, kinds in METRICS.items()
    )
    return f"""
    with
    thresholds as (
        select metric, stream as kind, comparator, cast(value as double) as value
        from read_csv('{thresholds_csv}', header = true, all_varchar = true)
    ),
    kind_thresholds as (select kind, {th_cols} from thresholds group by kind),
    minutes as (
        {minutes}
    ),
    per_stream as (
        select meeting_uuid, stream, any_value(minutes.kind) as kind, {", ".join(aggs)}
        from minutes left join kind_thresholds using (kind)
        group by meeting_uuid, stream
    ),
    stream_level as (
        {long_rows}
    ),
    both_levels as (
        select 'stream' as level, meeting_uuid, stream, kind, metric, mn, mx, sm, n, bad from stream_level
        union all
        select 'kind', meeting_uuid, kind, kind, metric, min(mn), max(mx), sum(sm), sum(n), sum(bad)
        from stream_level group by meeting_uuid, kind, metric
    )
    select
        meeting_uuid, level, stream, metric,
        mn as min_value, sm / nullif(n, 0) as avg_value, mx as max_value,
        n as measured_minutes,
        case when t.comparator is not null then bad end as violating_minutes,
        case when t.comparator is not null and n > 0 then bad / n end as violating_proportion
    from both_levels left join thresholds as t using (kind, metric)
    """


def _run_sql(db: Path, sql: str, cleanup: str | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one statement; then ``cleanup``, untimed."""
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists baseline")
        started, cpu = time.perf_counter(), time.process_time()
        con.execute(sql)
        timing = time.perf_counter() - started, time.process_time() - cpu
        if cleanup:
            con.execute(cleanup)
        return timing
    finally:
        con.close()


def _run_baseline(db: Path, sql: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the one-statement baseline."""
    return _run_sql(db, f"create or replace table baseline.meeting_quality as {sql}")


def _timed_transform(**kwargs: object) -> tuple[object, float]:
    """run_transform + (its result, CPU seconds of this process while it ran)."""
    from pipelines.transform import last_result, run_transform

    cpu = time.process_time()
    assert run_transform(quiet=True, **kwargs) == 0, f"dbt build {kwargs} failed"
    result = last_result()
    assert result is not None
    return result, time.process_time() - cpu


def _compare_with_baseline(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        keys = "meeting_uuid, level, stream, metric"
        exact = "measured_minutes, violating_minutes, violating_proportion, min_value, max_value"
        counts = con.execute(
            f"""
            select
                (select count(*) from baseline.meeting_quality) as baseline_rows,
                (select count(*) from analytics.fct_meeting_quality) as model_rows,
                (select count(*) from (
                    select {keys}, {exact} from baseline.meeting_quality
                    except all select {keys}, {exact} from analytics.fct_meeting_quality)) as only_baseline,
                (select count(*) from (
                    select {keys}, {exact} from analytics.fct_meeting_quality
                    except all select {keys}, {exact} from baseline.meeting_quality)) as only_model,
                (select max(abs(b.avg_value - m.avg_value) / greatest(abs(m.avg_value), 1))
                 from baseline.meeting_quality as b join analytics.fct_meeting_quality as m using ({keys}))
                    as avg_max_rel_diff
            """
        ).fetchone()
    finally:
        con.close()
    names = (
        "baseline_rows",
        "model_rows",
        "rows_only_in_baseline",
        "rows_only_in_model",
        "avg_value_max_rel_diff",
    )
    out = dict(zip(names, counts, strict=True))
    out["equal"] = (
        out["rows_only_in_baseline"] == 0
        and out["rows_only_in_model"] == 0
        and (out["avg_value_max_rel_diff"] or 0) < 1e-9
    )
    return out


def _publish(db: Path, serving: Path) -> float:
    """Seconds of publishing the serving snapshot (pipelines/publish.py), as make transform does."""
    from pipelines.publish import publish_snapshot

    started = time.perf_counter()
    publish_snapshot(db, serving)
    return round(time.perf_counter() - started, 2)


def _noop_command() -> float:
    """Wall seconds of the whole `python -m pipelines transform` command when nothing is new."""
    import subprocess

    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "transform"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = round(time.perf_counter() - started, 2)
    assert run.returncode == 0 and "nothing new" in run.stdout, run.stdout + run.stderr
    return seconds


def _count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


PER_MINUTE_QUERIES = {
    # one meeting's audio trace, minute by minute (a drill-down from fct_meeting_quality)
    "one_meeting_audio_trace": """
        select participant_id, minute_at, latency_ms, jitter_ms, avg_loss_pct
        from analytics.fct_qos_minutes
        where meeting_uuid = (select max(meeting_uuid) from analytics.fct_meetings)
          and stream = 'audio_input'
        order by participant_id, minute_at""",
    # the last day, per hour and stream kind: violating share of the measured minutes
    "last_day_by_hour_and_kind": """
        select date_trunc('hour', minute_at) as hour, stream_kind,
               count(*) as stream_minutes,
               avg(coalesce(is_latency_violation or is_jitter_violation or is_avg_loss_violation, false)::int)
                   as bad_share
        from analytics.fct_qos_minutes
        where minute_at >= (select max(minute_at) from analytics.fct_qos_participant_minutes) - interval 1 day
        group by 1, 2 order by 1, 2""",
    # the whole history: measured and violating latency minutes per stream
    "all_minutes_by_stream": """
        select stream, count(latency_ms) as measured, count_if(is_latency_violation) as violating
        from analytics.fct_qos_minutes group by 1 order by 1""",
}


def _blocks_bytes(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Bytes of the blocks a table occupies in the file (DuckDB's 256 KiB blocks)."""
    return int(
        con.execute(
            f"select count(distinct block_id) * 262144 from pragma_storage_info('{table}') where block_id >= 0"
        ).fetchone()[0]
    )


def _storage(db: Path, participant_minutes: int) -> dict:
    """Warehouse size, the wide table's blocks, and what today's long layout would take (written here)."""
    con = duckdb.connect(str(db))
    try:
        con.execute("checkpoint")
        wide = _blocks_bytes(con, "analytics.fct_qos_participant_minutes")
        started = time.perf_counter()
        con.execute("create schema if not exists baseline")
        con.execute(
            "create or replace table baseline.fct_qos_minutes as select * from analytics.fct_qos_minutes"
        )
        con.execute("checkpoint")
        write_long = time.perf_counter() - started
        long_bytes = _blocks_bytes(con, "baseline.fct_qos_minutes")
    finally:
        con.close()
    size = db.stat().st_size
    return {
        "participant_minutes": participant_minutes,
        "warehouse_file_bytes_with_long_copy": size,
        "wide_table_bytes": wide,
        "long_table_bytes": long_bytes,
        "wide_bytes_per_participant_minute": round(wide / participant_minutes, 1),
        "long_bytes_per_participant_minute": round(long_bytes / participant_minutes, 1),
        "warehouse_bytes_per_participant_minute_without_long_copy": round(
            (size - long_bytes) / participant_minutes, 1
        ),
        "write_long_layout_seconds": round(write_long, 2),
    }


def _compare_queries(db: Path, repeat: int = 5) -> dict:
    """docs/example_queries.sql and per-minute queries through the long view vs the same SQL on
    today's layout (baseline.fct_qos_minutes, the long table _storage wrote): best of ``repeat``."""
    from pipelines.report import example_queries

    queries = {**example_queries(), **PER_MINUTE_QUERIES}
    # a query that does not read fct_qos_minutes is the same SQL on both layouts: its ratio is noise
    same = sorted(n for n, sql in queries.items() if "analytics.fct_qos_minutes" not in sql)
    queries = {n: sql for n, sql in queries.items() if n not in same}
    con = duckdb.connect(str(db), read_only=True)
    out: dict = {"view_seconds": {}, "long_table_seconds": {}, "ratios": {}, "not_reading_the_view": same}
    try:
        for sql in queries.values():  # warm up: the first query of a connection loads the catalog
            con.execute(sql).fetchall()
            con.execute(sql.replace("analytics.fct_qos_minutes", "baseline.fct_qos_minutes")).fetchall()
        for name, sql in queries.items():
            on_table = sql.replace("analytics.fct_qos_minutes", "baseline.fct_qos_minutes")
            timings = {}
            for label, text in (("view_seconds", sql), ("long_table_seconds", on_table)):
                best = None
                for _ in range(repeat):
                    started = time.perf_counter()
                    rows = con.execute(text).fetchall()
                    took = time.perf_counter() - started
                    best = took if best is None else min(best, took)
                timings[label] = (best, rows)
            if timings["view_seconds"][1] != timings["long_table_seconds"][1]:
                out.setdefault("answers_differ", []).append(name)
            out["view_seconds"][name] = round(timings["view_seconds"][0], 4)
            out["long_table_seconds"][name] = round(timings["long_table_seconds"][0], 4)
            out["ratios"][name] = round(
                timings["view_seconds"][0] / max(timings["long_table_seconds"][0], 1e-4), 2
            )
    finally:
        con.close()
    return out


def _top(node_seconds: dict[str, float], n: int = 8) -> dict[str, float]:
    top = sorted(node_seconds.items(), key=lambda kv: -kv[1])[:n]
    return {k.split(".", 1)[1]: round(v, 2) for k, v in top}


def run_scale(
    scale_name: str, seed: int, workdir: Path, scale: Scale | None = None, filler: str = "sandbox"
) -> dict:
    """Fill the raw layer of one scale, time the baseline and dbt's full and incremental builds.

    ``filler``: ``sandbox`` (the account generator, with its truth) or ``hospital`` (the vectorised
    ``bench/hospital_fill.py``, ~50x faster; Zoom tables only, its own truth checked on a slice).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "warehouse.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    os.environ["MW_WAREHOUSE"] = str(db)
    os.environ["DBT_LOG_PATH"] = str(workdir / "dbt_logs")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    result: dict = {"scale": scale_name, "seed": seed, "filler": filler}
    scale = scale or resolve_scale(scale_name)
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = base.date() - timedelta(days=scale.days)
    first_clock = base - timedelta(days=1)
    result["history_days"] = scale.days
    result["meetings_per_day"] = scale.meetings_per_day
    print(
        f"bench transform [{scale_name}]: writing raw data up to {first_clock:%Y-%m-%d} into {db} ...",
        flush=True,
    )
    started = time.perf_counter()

    def fill(now: datetime, since: datetime | None) -> dict:
        if filler == "hospital":  # day i of the account is start + i; the history ends the day before now
            first = 0 if since is None else (now.date() - start).days - 1
            days = (now.date() - start).days if since is None else 1
            return _fill_hospital_in_child(db, seed, scale, start, first, days)
        return _fill_in_child(db, seed, scale, start, now, since)

    first_fill = fill(first_clock, None)
    result["fill_seconds"] = round(time.perf_counter() - started, 1)
    result["raw_initial"] = first_fill
    print(f"  raw written in {result['fill_seconds']} s: {first_fill}", flush=True)

    started = time.perf_counter()
    import dbt.cli.main  # noqa: F401 - import once, outside the timed invocations

    from pipelines.transform import run_dbt

    result["dbt_import_seconds"] = round(time.perf_counter() - started, 2)
    result["dbt_parse_seconds"] = round(run_dbt(["parse"], quiet=True).seconds, 2)
    sql = baseline_sql(THRESHOLDS_CSV)
    baseline = [_run_baseline(db, sql)]
    print(f"  baseline (one SQL statement): {baseline[0][0]:.1f} s", flush=True)
    _reset_peak_rss()
    full, full_cpu = _timed_transform(full_refresh=True)
    result["peak_rss_full_refresh_mib"] = _peak_rss_mib()
    print(f"  dbt build --full-refresh: {full.seconds:.1f} s", flush=True)
    serving = workdir / "serving.duckdb"
    result["publish_first_seconds"] = _publish(db, serving)
    baseline.append(_run_baseline(db, sql))
    print(f"  baseline again: {baseline[1][0]:.1f} s", flush=True)
    result["fct_qos_minutes_rows"] = _count(db, "select count(*) from analytics.fct_qos_minutes")
    result["baseline_equals_fct_meeting_quality"] = _compare_with_baseline(db)

    print("  writing the next day's raw data ...", flush=True)
    result["raw_increment"] = fill(base, first_clock)
    _reset_peak_rss()
    incr, incr_cpu = _timed_transform()
    result["peak_rss_incremental_mib"] = _peak_rss_mib()
    print(f"  dbt build (incremental, one day): {incr.seconds:.1f} s", flush=True)
    result["publish_daily_seconds"] = _publish(db, serving)
    print(f"  daily republish of the serving snapshot: {result['publish_daily_seconds']} s", flush=True)
    written = _count(
        db,
        "select count(*) from analytics.fct_qos_minutes "
        "where _dbt_loaded_at = (select max(_dbt_loaded_at) from analytics.fct_qos_minutes)",
    )
    # the scheduled path: one more day, built with the daily selector (tables, incremental models)
    result["raw_increment_2"] = fill(base + timedelta(days=1), base)
    daily_incr, daily_incr_cpu = _timed_transform(daily=True)
    result["dbt_daily_incremental_seconds"] = round(daily_incr.seconds, 2)
    result["dbt_daily_incremental_cpu_seconds"] = round(daily_incr_cpu, 2)
    result["slowest_nodes_daily_incremental"] = _top(daily_incr.node_seconds, 12)
    print(f"  next day with the daily selector: {daily_incr.seconds:.1f} s", flush=True)
    # the scheduled republish after that run (the snapshot before the current one, brought up to date)
    result["publish_after_daily_seconds"] = _publish(db, serving)
    print(f"  republish after the daily run: {result['publish_after_daily_seconds']} s", flush=True)
    # nothing new, as a scheduler runs it: `python -m pipelines transform` finds the warehouse and
    # the project unchanged since the last build and publish, and runs neither dbt nor a publish
    from pipelines.transform import mark_published

    mark_published()
    result["noop_command_seconds"] = _noop_command()
    print(
        f"  `python -m pipelines transform` with nothing new: {result['noop_command_seconds']} s", flush=True
    )
    # dbt's fixed cost: the same build forced once more with nothing new to process
    noop, noop_cpu = _timed_transform(force=True)
    print(f"  dbt build with nothing new, forced (dbt's fixed cost): {noop.seconds:.1f} s", flush=True)
    daily_noop, _ = _timed_transform(daily=True, force=True)
    result["dbt_daily_noop_seconds"] = round(daily_noop.seconds, 2)
    result["dbt_daily_noop_nodes"] = daily_noop.counts
    result["slowest_nodes_daily_noop"] = _top(daily_noop.node_seconds, 12)
    result["daily_noop_node_seconds_total"] = round(sum(daily_noop.node_seconds.values()), 2)
    print(f"  daily selector with nothing new: {daily_noop.seconds:.1f} s", flush=True)
    raw_minutes = _count(db, "select count(*) from zoom_raw.participant_qos")
    fct_rows = _count(db, "select count(*) from analytics.fct_qos_minutes")
    result["storage"] = _storage(db, raw_minutes)
    result["queries"] = _compare_queries(db)
    print(f"  storage: {result['storage']}", flush=True)
    print(f"  queries (view / today's long table): {result['queries']['ratios']}", flush=True)

    baseline_s = sum(b[0] for b in baseline) / len(baseline)
    baseline_cpu = sum(b[1] for b in baseline) / len(baseline)
    incremental_models = [
        f"model.meetings_warehouse.{m}"
        for m in (
            "fct_qos_participant_minutes",
            "int_qos__session_stream_aggregates",
            "fct_meeting_quality",
            "fct_participant_quality",
            "int_meetings__touched",
            "int_zoom_sessions__identified",
            "fct_participant_sessions",
            "fct_waiting_room_stints",
            "fct_meetings",
            "int_meetings__state",
            "int_meetings__touched_log",
        )
    ]
    models_full = sum(full.node_seconds.get(m, 0.0) for m in incremental_models)
    models_incr = sum(incr.node_seconds.get(m, 0.0) for m in incremental_models)
    result.update(
        {
            "baseline_seconds": [round(b[0], 2) for b in baseline],
            "baseline_mean_seconds": round(baseline_s, 2),
            "baseline_mean_cpu_seconds": round(baseline_cpu, 2),
            "dbt_full_refresh_seconds": round(full.seconds, 2),
            "dbt_full_refresh_cpu_seconds": round(full_cpu, 2),
            "dbt_incremental_seconds": round(incr.seconds, 2),
            "dbt_incremental_cpu_seconds": round(incr_cpu, 2),
            "dbt_noop_build_seconds": round(noop.seconds, 2),
            "dbt_noop_build_cpu_seconds": round(noop_cpu, 2),
            "full_refresh_nodes": full.counts,
            "incremental_nodes": incr.counts,
            "slowest_nodes_full_refresh": _top(full.node_seconds),
            "slowest_nodes_incremental": _top(incr.node_seconds),
            "incremental_models_seconds": {
                "full_refresh": round(models_full, 2),
                "incremental": round(models_incr, 2),
                "ratio": round(models_incr / models_full, 3) if models_full else None,
            },
            "incremental_rows_written": written,
            "incremental_rows_expected": 7 * result["raw_increment"]["participant_qos"],
            "fct_qos_minutes_rows_final": fct_rows,
            "fct_qos_minutes_equals_7x_raw_minutes": fct_rows == 7 * raw_minutes,
            "ratios": {
                "full_refresh_vs_baseline": round(full.seconds / baseline_s, 2),
                "write_long_layout_only_vs_baseline": round(
                    result["storage"]["write_long_layout_seconds"] / baseline_s, 2
                ),
                "full_refresh_vs_baseline_cpu": round(full_cpu / baseline_cpu, 2) if baseline_cpu else None,
                "incremental_vs_full_refresh": round(incr.seconds / full.seconds, 3),
                "daily_incremental_vs_full_refresh": round(daily_incr.seconds / full.seconds, 3),
                "daily_republish_vs_incremental": round(result["publish_daily_seconds"] / incr.seconds, 3),
                "republish_after_daily_vs_daily_incremental": round(
                    result["publish_after_daily_seconds"] / daily_incr.seconds, 3
                ),
                "incremental_minus_noop_vs_full_refresh": round(
                    max(0.0, incr.seconds - noop.seconds) / full.seconds, 3
                ),
            },
            "targets": {
                "full_refresh_le_2x_baseline": full.seconds <= 2 * baseline_s,
                "incremental_le_5pct_of_full": incr.seconds <= 0.05 * full.seconds,
                "daily_incremental_le_5pct_of_full": daily_incr.seconds <= 0.05 * full.seconds,
                "noop_le_3s": result["noop_command_seconds"] <= 3.0,
                "dbt_forced_noop_le_3s": noop.seconds <= 3.0,
                "daily_republish_le_10pct_of_incremental": result["publish_daily_seconds"]
                <= 0.10 * incr.seconds,
                "daily_noop_le_3s": daily_noop.seconds <= 3.0,
                "republish_after_daily_le_10pct_of_daily_incremental": result["publish_after_daily_seconds"]
                <= 0.10 * daily_incr.seconds,
                "queries_none_slower_than_1_5x": all(r <= 1.5 for r in result["queries"]["ratios"].values()),
            },
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }
    )
    return result


def history_independence(runs: dict) -> dict:
    """For runs of one preset with different histories (hospital@30, hospital@180): the daily
    incremental's wall and CPU seconds on the longest history over the shortest (target <= 1.2)."""
    out = {}
    by_base: dict[str, list[dict]] = {}
    for run in runs.values():
        by_base.setdefault(run["scale"], []).append(run)
    for base, group in by_base.items():
        if len(group) < 2:
            continue
        short, long = min(group, key=lambda r: r["history_days"]), max(group, key=lambda r: r["history_days"])
        out[base] = {
            "history_days": [short["history_days"], long["history_days"]],
            "incremental_seconds": [short["dbt_incremental_seconds"], long["dbt_incremental_seconds"]],
            "incremental_ratio": round(long["dbt_incremental_seconds"] / short["dbt_incremental_seconds"], 2),
            "incremental_cpu_ratio": round(
                long["dbt_incremental_cpu_seconds"] / short["dbt_incremental_cpu_seconds"], 2
            ),
            "noop_seconds": [short["dbt_noop_build_seconds"], long["dbt_noop_build_seconds"]],
            "daily_noop_seconds": [short["dbt_daily_noop_seconds"], long["dbt_daily_noop_seconds"]],
            "incremental_within_1_2x": long["dbt_incremental_seconds"]
            <= 1.2 * short["dbt_incremental_seconds"],
        }
    return out


def check_hospital_slice(seed: int, workdir: Path) -> dict:
    """A small slice of the hospital preset through dbt, compared with the sandbox's truth exactly
    (the e2e suite's assertions), plus the participant and duration mix the generator produced."""
    from pipelines.sandbox.truth import compute_truth
    from pipelines.transform import run_transform
    from tests.e2e.test_transform import assert_marts_match_truth

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "warehouse.duckdb"
    db.unlink(missing_ok=True)
    os.environ["MW_WAREHOUSE"] = str(db)
    os.environ["DBT_LOG_PATH"] = str(workdir / "dbt_logs")
    scale = resolve_scale("hospital", days=2, meetings_per_day=40)
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    account = Account(seed, scale, start_date=now.date() - timedelta(days=scale.days))
    fill_raw(str(db), account, now, workers=1)
    assert run_transform(quiet=True) == 0
    assert_marts_match_truth(db, compute_truth(account, now), account)
    done = [m for m in account.meetings if m.end <= now]
    people = [len({s.person.email for s in account.sessions[m.uuid]}) for m in done]
    minutes = [(m.end - m.start).total_seconds() / 60 for m in done]
    return {
        "meetings": len(done),
        "marts_equal_truth": True,
        "share_with_2_to_4_people": round(sum(2 <= p <= 4 for p in people) / len(people), 3),
        "share_15_to_45_minutes": round(sum(15 <= m <= 46 for m in minutes) / len(minutes), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale",
        default="large,semester",
        help="sandbox scale(s), comma-separated (default large,semester: 30 and 120 days of history)",
    )
    parser.add_argument(
        "--meetings-per-day",
        type=int,
        default=None,
        help="override the scales' meetings per day (hospital: 6,000; e.g. 600 to compare histories cheaply)",
    )
    parser.add_argument(
        "--check-slice",
        action="store_true",
        help="first build a small hospital slice (2 days x 40 meetings) and check the marts against its truth",
    )
    parser.add_argument(
        "--filler",
        choices=("sandbox", "hospital"),
        default="sandbox",
        help="raw data from the sandbox's generator (default) or the vectorised hospital filler "
        "(bench/hospital_fill.py; for hospital at 6,000 visits a day)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=None, help="where the bench warehouses go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the bench warehouses")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--label",
        default="",
        help="suffix of this run's entries in --out (e.g. _touched); earlier entries of the file are kept",
    )
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mw-bench-transform-"))
    this_run: list[str] = []
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
        "raw_source": "raw tables written straight from the sandbox generator with DuckDB/Arrow "
        "(tests/fixtures/raw_fill.py), same shapes as the dlt sources; no HTTP",
        "targets": "issue 5: dbt full refresh <= 2x the one-statement baseline; incremental daily run "
        "<= 10% of the full refresh; at least 10 million fct_qos_minutes rows",
        "runs": {},
        "notes": [
            "dbt runs in-process through pipelines.transform (dbtRunner); importing dbt is excluded "
            "(dbt_import_seconds) and the manifest is parsed once before (dbt_parse_seconds); each "
            "timed build still includes dbt's own per-invocation work.",
            "The full refresh builds every model (including the 7-rows-per-participant-minute "
            "fct_qos_minutes, written to disk) and runs every test; the baseline computes only "
            "fct_meeting_quality in memory and writes its ~0.3M rows.",
            "noop_command_seconds is `python -m pipelines transform` with no new data: the "
            "up-to-date check finds the warehouse file and the dbt project unchanged since the "
            "last successful build and publish, and runs neither. "
            "dbt_noop_build_seconds is the same build forced (--force) with no new data: dbt's fixed cost per "
            "invocation (about 190 nodes: views, tables, seeds, tests), which bounds the "
            "incremental run from below whatever the data volume.",
            "The machine is shared (2 cores): load_average_at_end shows the contention; "
            "CPU seconds of this process are given next to wall seconds.",
            "write_fct_qos_minutes_only_seconds copies the finished fct_qos_minutes into a new table: "
            "what storing the issue's one-row-per-participant-minute-per-stream fact costs by itself, "
            "the part of the full refresh the baseline (which only aggregates) never pays.",
            "The semester scale is the large account over 120 days instead of 30: the same daily "
            "increment on a longer history, as a real account accumulates it.",
        ],
    }
    try:
        if args.check_slice:
            results["hospital_slice_vs_truth"] = check_hospital_slice(args.seed, workdir / "slice")
            print(
                f"bench transform: hospital slice vs truth: {results['hospital_slice_vs_truth']}", flush=True
            )
        for name in [n.strip() for n in args.scale.split(",") if n.strip()]:
            base_name, _, days = name.partition("@")  # hospital@30: 30 days of history
            scale = resolve_scale(base_name, int(days) if days else None, args.meetings_per_day)
            run = run_scale(base_name, args.seed, workdir / name.replace("@", "_"), scale, args.filler)
            run["label"] = args.label or None
            results["runs"][name + args.label] = run
            this_run.append(name + args.label)
            if not args.keep:
                shutil.rmtree(workdir / name, ignore_errors=True)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    results["history_independence"] = history_independence(results["runs"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # keep earlier runs: this one adds (or replaces) its own entries
        earlier = json.loads(out.read_text(encoding="utf-8"))
        earlier.setdefault("runs", {}).update(results.pop("runs"))
        if args.label:
            earlier[f"history_independence{args.label}"] = results.pop("history_independence")
        earlier.update({k: v for k, v in results.items() if k not in ("notes", "targets")})
        results = earlier
    out.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    for name, result in results["runs"].items():
        if name not in this_run:
            continue
        r, t = result["ratios"], result["targets"]
        print(
            f"bench transform [{name}]: {result['fct_qos_minutes_rows']:,} QoS minute-rows; "
            f"baseline {result['baseline_mean_seconds']} s; "
            f"full refresh {result['dbt_full_refresh_seconds']} s ({r['full_refresh_vs_baseline']}x, "
            f"target <= 2x: {'met' if t['full_refresh_le_2x_baseline'] else 'MISSED'}); "
            f"incremental {result['dbt_incremental_seconds']} s ({r['incremental_vs_full_refresh']:.1%} of full, "
            f"target <= 5%: {'met' if t['incremental_le_5pct_of_full'] else 'MISSED'}; "
            f"no-op {result['dbt_noop_build_seconds']} s, daily selector no-op {result['dbt_daily_noop_seconds']} s)"
        )
    print(f"bench transform: wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
