"""``make transform``: run ``dbt build`` (seeds, models, tests) on the warehouse that ``make load`` filled.

dbt runs in this process through its Python API (``dbtRunner``), so importing dbt is paid once per
process, not once per command. dbt-duckdb keeps the DuckDB file open after an invocation; DuckDB allows
one writing process per file, so every call here closes that handle before returning, leaving the
file free for the next ``make load`` or a BI tool.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.paths import ROOT, warehouse_path

PROJECT_DIR = ROOT / "dbt_project"


@dataclass
class TransformResult:
    """What a dbt invocation did: exit code, node counts by status, wall time, failures."""

    exit_code: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    node_seconds: dict[str, float] = field(default_factory=dict)


_last: TransformResult | None = None


def last_result() -> TransformResult | None:
    """The result of the latest ``run_transform``/``run_dbt`` call in this process (timings per node)."""
    return _last


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open between invocations (it holds the file lock)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager
    except ImportError:  # pragma: no cover - dbt-duckdb is a dependency
        return
    with manager._LOCK:
        env = manager._ENV
        if env is not None:
            try:
                env.close()
            finally:
                manager._ENV = None


def _lock_holder(path: Path) -> str | None:
    """None when the warehouse can be opened for writing, else DuckDB's message about who holds it."""
    import duckdb

    if not path.exists():
        return None
    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            return str(exc)
        raise
    return None


def run_dbt(args: list[str], quiet: bool = False) -> TransformResult:
    """Run one dbt command (``["build", "--select", "fct_meetings"]``) on the project and warehouse."""
    global _last
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # dbt logs every event at debug level to logs/dbt.log by default; at info level the file still
    # has every node's start, result and error, and a build is ~7% faster (the per-event JSON
    # serialisation is dbt's biggest per-node cost after its macro context). DBT_LOG_LEVEL_FILE=debug
    # brings the SQL back.
    os.environ.setdefault("DBT_LOG_LEVEL_FILE", "info")
    # profiles.yml reads MW_WAREHOUSE; a relative path would be taken from dbt's working directory,
    # so always hand dbt an absolute one.
    from pipelines import warehouse as wh

    target: list[str] = []
    if wh.is_lake():  # the lake target: DuckDB in memory attaching the lake (readers and loads go on)
        from pipelines.lake.dbt import dbt_env

        os.environ.update(dbt_env(wh.lake_settings()))
        target = ["--target", "lake"]
        held = None
    else:
        warehouse = warehouse_path()
        os.environ["MW_WAREHOUSE"] = str(warehouse)
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        held = _lock_holder(warehouse)
    if held is not None:
        print(
            f"transform: the warehouse {warehouse} is open in another process; wait for it to finish.\n  {held}"
        )
        _last = TransformResult(exit_code=2, seconds=0.0, failures=["warehouse locked"])
        return _last

    from dbt.cli.main import dbtRunner

    cli = [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), *target]
    if quiet:
        cli = ["--quiet", *cli]
    started = time.perf_counter()
    cwd = os.getcwd()
    # dbt-duckdb loads seeds with DuckDB's read_csv on the project-relative path: run from the project
    os.chdir(PROJECT_DIR)
    try:
        res = dbtRunner().invoke(cli)
    finally:
        os.chdir(cwd)
        _release_duckdb()
    seconds = time.perf_counter() - started
    result = TransformResult(
        exit_code=0 if res.success else (1 if res.exception is None else 2), seconds=seconds
    )
    if res.exception is not None:
        result.failures.append(f"dbt error: {res.exception}")
    results = getattr(res.result, "results", None) or []
    for node in results:
        status = str(getattr(node.status, "value", node.status)).lower()
        result.counts[status] = result.counts.get(status, 0) + 1
        uid = node.node.unique_id
        result.node_seconds[uid] = float(node.execution_time or 0.0)
        if status in ("error", "fail", "runtime error"):
            result.failures.append(f"{status}: {uid}: {(node.message or '').strip()[:300]}")
    _last = result
    return result


def _meetings_recomputed_this_run(run_started: str) -> str | None:
    """What the per-meeting incremental marts recomputed in the latest run (its entry in
    intermediate.int_meetings__touched_log), as text; None when that run logged nothing."""
    import duckdb

    from pipelines import warehouse as wh

    try:
        con = wh.connect(read_only=True)
    except Exception:
        return None
    try:
        row = con.execute(
            "select count(meeting_uuid), count(meets_event_id), bool_or(is_full_build), max(run_started_at) "
            "from intermediate.int_meetings__touched_log "
            "where run_started_at = (select max(run_started_at) from intermediate.int_meetings__touched_log)"
        ).fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if row is None or row[3] is None or str(row[3])[:19] < run_started[:19]:
        return None
    return "all (full build)" if row[2] else f"{row[0]} (and {row[1]} MEETS events)"


def _rows_written_this_run(run_started: str | None) -> int | None:
    """Participant-minutes the latest run wrote to the stored per-minute fact (stamped _dbt_loaded_at)."""
    import duckdb

    from pipelines import warehouse as wh

    try:
        con = wh.connect(read_only=True)
    except Exception:
        return None
    try:
        row = con.execute(
            "select count(*) filter (where _dbt_loaded_at = (select max(_dbt_loaded_at) from {t})),"
            " max(_dbt_loaded_at) from {t}".format(t="analytics.fct_qos_participant_minutes")
        ).fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if row is None or row[1] is None:
        return None
    if run_started is not None and str(row[1])[:19] < run_started[:19]:
        return 0  # the newest rows are from an earlier run: this one wrote none
    return int(row[0])


def _target_dir() -> Path:
    return Path(os.environ.get("DBT_TARGET_PATH", PROJECT_DIR / "target"))


def last_success_dir() -> Path:
    """Where the manifest of the last successful whole build is kept (the daily selector's state)."""
    return _target_dir() / "last_success"


def run_transform(
    full_refresh: bool = False, select: str | None = None, quiet: bool = False, daily: bool = False
) -> int:
    """``dbt build`` (seeds + models + tests); returns dbt's exit code (0 ok, 1 failures, 2 error).

    ``daily``: build dbt_project/selectors.yml's ``daily`` selector (tables, incremental models and
    what changed since the last successful build), which skips recreating unchanged views and their
    tests; a whole build when there is no earlier successful build to compare with.
    """
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    state = last_success_dir()
    if daily and not full_refresh and not select and (state / "manifest.json").exists():
        args += ["--selector", "daily", "--state", str(state)]
    started_utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    result = run_dbt(args, quiet=quiet)
    summary = ", ".join(f"{k}={v}" for k, v in sorted(result.counts.items())) or "nothing ran"
    print(
        f"transform: dbt build {'--full-refresh ' if full_refresh else ''}{summary} in {result.seconds:.1f} s"
    )
    if result.exit_code == 0 and not select:
        # a whole build (or a daily one, which rebuilt everything that differed) succeeded: the
        # project as it is now is what the warehouse holds
        state.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_target_dir() / "manifest.json", state / "manifest.json")
    if result.exit_code == 0:
        written = _rows_written_this_run(started_utc)
        if written is not None:
            print(f"transform: QoS participant-minutes written by this run: {written}")
        recomputed = _meetings_recomputed_this_run(started_utc)
        if recomputed is not None:
            print(f"transform: meetings recomputed by this run: {recomputed}")
    for failure in result.failures[:20]:
        print(f"  {failure}")
    return result.exit_code


def run_docs_generate(quiet: bool = False) -> int:
    """``dbt docs generate``: writes dbt_project/target/index.html + catalog.json (``make docs`` serves them)."""
    result = run_dbt(["docs", "generate"], quiet=quiet)
    target = Path(os.environ.get("DBT_TARGET_PATH", PROJECT_DIR / "target"))
    if result.exit_code == 0:
        catalog = target / "catalog.json"
        nodes = len(json.loads(catalog.read_text()).get("nodes", {})) if catalog.exists() else 0
        print(f"docs: generated {target / 'index.html'} ({nodes} relations in the catalog)")
    else:
        for failure in result.failures[:20]:
            print(f"  {failure}")
    return result.exit_code
