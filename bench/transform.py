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
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from pipelines.sandbox.account import STREAM_KIND, STREAMS, Account, Scale  # noqa: E402
from tests.fixtures.raw_fill import fill_raw  # noqa: E402

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


def baseline_sql(thresholds_csv: Path) -> str:
    """One statement: raw QoS strings -> fct_meeting_quality's rows (stream and kind levels)."""
    branches = []
    for stream in (*STREAMS, "cpu"):
        kind = STREAM_KIND.get(stream, "cpu")
        cols = []
        for metric in ("bitrate", "latency", "jitter", "avg_loss", "max_loss"):
            cols.append(
                f"{_num(f'{stream}__{metric}')} as {metric}" if kind != "cpu" else f"null::double as {metric}"
            )
        if kind in ("video", "share"):
            cols.append(
                f"case when coalesce({stream}__resolution, '') not in ('', '0*0') "
                f"then {_num(f'{stream}__frame_rate')} end as frame_rate"
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


def _count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def _top(node_seconds: dict[str, float], n: int = 8) -> dict[str, float]:
    top = sorted(node_seconds.items(), key=lambda kv: -kv[1])[:n]
    return {k.split(".", 1)[1]: round(v, 2) for k, v in top}


def run_scale(scale_name: str, seed: int, workdir: Path) -> dict:
    """Fill the raw layer of one scale, time the baseline and dbt's full and incremental builds."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "warehouse.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    os.environ["MW_WAREHOUSE"] = str(db)
    os.environ["DBT_LOG_PATH"] = str(workdir / "dbt_logs")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    result: dict = {"scale": scale_name, "seed": seed}
    scale = Scale.named(scale_name)
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    account = Account(seed, scale, start_date=base.date() - timedelta(days=scale.days))
    first_clock = base - timedelta(days=1)
    result["history_days"] = scale.days
    print(
        f"bench transform [{scale_name}]: writing raw data up to {first_clock:%Y-%m-%d} into {db} ...",
        flush=True,
    )
    started = time.perf_counter()
    first_fill = fill_raw(str(db), account, first_clock)
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
    full, full_cpu = _timed_transform(full_refresh=True)
    print(f"  dbt build --full-refresh: {full.seconds:.1f} s", flush=True)
    baseline.append(_run_baseline(db, sql))
    print(f"  baseline again: {baseline[1][0]:.1f} s", flush=True)
    result["fct_qos_minutes_rows"] = _count(db, "select count(*) from analytics.fct_qos_minutes")
    # the floor the shape sets: only writing the per-minute fact's rows (already computed)
    result["write_fct_qos_minutes_only_seconds"] = round(
        _run_sql(
            db,
            "create or replace table baseline.qos_minutes_copy as select * from analytics.fct_qos_minutes",
            cleanup="drop table baseline.qos_minutes_copy",
        )[0],
        2,
    )
    print(
        f"  writing fct_qos_minutes' rows alone: {result['write_fct_qos_minutes_only_seconds']} s", flush=True
    )
    result["baseline_equals_fct_meeting_quality"] = _compare_with_baseline(db)

    print("  writing the next day's raw data ...", flush=True)
    result["raw_increment"] = fill_raw(str(db), account, base, since=first_clock)
    incr, incr_cpu = _timed_transform()
    print(f"  dbt build (incremental, one day): {incr.seconds:.1f} s", flush=True)
    written = _count(
        db,
        "select count(*) from analytics.fct_qos_minutes "
        "where _dbt_loaded_at = (select max(_dbt_loaded_at) from analytics.fct_qos_minutes)",
    )
    # dbt's fixed cost: the same build once more with nothing new to process
    noop, noop_cpu = _timed_transform()
    print(f"  dbt build with nothing new (dbt's fixed cost): {noop.seconds:.1f} s", flush=True)
    raw_minutes = _count(db, "select count(*) from zoom_raw.participant_qos")
    fct_rows = _count(db, "select count(*) from analytics.fct_qos_minutes")

    baseline_s = sum(b[0] for b in baseline) / len(baseline)
    baseline_cpu = sum(b[1] for b in baseline) / len(baseline)
    incremental_models = [
        f"model.meetings_warehouse.{m}"
        for m in ("fct_qos_minutes", "fct_meeting_quality", "fct_participant_quality")
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
                "write_fct_qos_minutes_only_vs_baseline": round(
                    result["write_fct_qos_minutes_only_seconds"] / baseline_s, 2
                ),
                "full_refresh_vs_baseline_cpu": round(full_cpu / baseline_cpu, 2) if baseline_cpu else None,
                "incremental_vs_full_refresh": round(incr.seconds / full.seconds, 3),
                "incremental_minus_noop_vs_full_refresh": round(
                    max(0.0, incr.seconds - noop.seconds) / full.seconds, 3
                ),
            },
            "targets": {
                "full_refresh_le_2x_baseline": full.seconds <= 2 * baseline_s,
                "incremental_le_10pct_of_full": incr.seconds <= 0.10 * full.seconds,
                "fct_qos_minutes_ge_10_million_rows": result["fct_qos_minutes_rows"] >= 10_000_000,
            },
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale",
        default="large,semester",
        help="sandbox scale(s), comma-separated (default large,semester: 30 and 120 days of history)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=None, help="where the bench warehouses go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the bench warehouses")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mw-bench-transform-"))
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
            "dbt_noop_build_seconds is the same build with no new data: dbt's fixed cost per "
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
        for name in [n.strip() for n in args.scale.split(",") if n.strip()]:
            run = run_scale(name, args.seed, workdir / name)
            results["runs"][name] = run
            if not args.keep:
                shutil.rmtree(workdir / name, ignore_errors=True)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    for name, result in results["runs"].items():
        r, t = result["ratios"], result["targets"]
        print(
            f"bench transform [{name}]: {result['fct_qos_minutes_rows']:,} QoS minute-rows; "
            f"baseline {result['baseline_mean_seconds']} s; "
            f"full refresh {result['dbt_full_refresh_seconds']} s ({r['full_refresh_vs_baseline']}x, "
            f"target <= 2x: {'met' if t['full_refresh_le_2x_baseline'] else 'MISSED'}); "
            f"incremental {result['dbt_incremental_seconds']} s ({r['incremental_vs_full_refresh']:.1%} of full, "
            f"target <= 10%: {'met' if t['incremental_le_10pct_of_full'] else 'MISSED'}; "
            f"dbt's no-op floor {result['dbt_noop_build_seconds']} s)"
        )
    print(f"bench transform: wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
