"""``make transform``: run ``dbt build`` (seeds, models, tests) on the warehouse that ``make load`` filled.

dbt runs in this process through its Python API (``dbtRunner``), so importing dbt is paid once per
process, not once per command. dbt-duckdb keeps the DuckDB file open after an invocation; DuckDB allows
one writing process per file, so every call here closes that handle before returning, leaving the
file free for the next ``make load`` or a BI tool.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.paths import ROOT, dbt_target_dir, warehouse_path

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


def last_success_dir() -> Path:
    """Where the manifest of the last successful whole build is kept (the daily selector's state)."""
    return dbt_target_dir() / "last_success"


# What a whole build reads besides the warehouse: the dbt project's files (models, macros, seeds with
# the QoS thresholds, tests, selectors, profiles) and the environment variables they name.
_PROJECT_INPUTS = ("models", "macros", "seeds", "tests", "analyses", "snapshots")
_PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "selectors.yml", "packages.yml", "package-lock.yml")


def _project_digest() -> str:
    digest = hashlib.sha256()
    files = [PROJECT_DIR / name for name in _PROJECT_FILES]
    for folder in _PROJECT_INPUTS:
        files += sorted(p for p in (PROJECT_DIR / folder).rglob("*") if p.is_file())
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    # the values of the environment variables the project reads with env_var() (the warehouse's
    # path is compared on its own)
    names = set()
    for path in files:
        if path.suffix in (".sql", ".yml") and path.is_file():
            names.update(
                re.findall(r"env_var\(\s*['\"]([A-Za-z0-9_]+)['\"]", path.read_text(errors="replace"))
            )
    for name in sorted(names - {"MW_WAREHOUSE"}):
        digest.update(f"{name}={os.environ.get(name)}\0".encode())
    return digest.hexdigest()


def inputs_fingerprint() -> dict[str, object] | None:
    """What a whole build's result depends on, cheaply: the warehouse file's identity (inode, size,
    modification time, and its write-ahead log's), and a digest of the dbt project and the
    environment it reads. None on a lake (its catalog is shared by concurrent writers) or when the
    warehouse does not exist: then a build always runs.

    Any write to the warehouse changes the file or its WAL (DuckDB does not touch the file when a
    connection only reads, measured), so an equal fingerprint means nothing new was loaded.
    """
    from pipelines import warehouse as wh

    if wh.is_lake():
        return None
    path = warehouse_path().resolve()
    if not path.exists():
        return None

    def identity(p: Path) -> list[int] | None:
        try:
            st = p.stat()
        except FileNotFoundError:
            return None
        return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]

    return {
        "warehouse": str(path),
        "file": identity(path),
        "wal": identity(path.with_name(path.name + ".wal")),
        "project": _project_digest(),
    }


def _inputs_record() -> Path:
    return last_success_dir() / "inputs.json"


def _saved_inputs() -> dict[str, object]:
    try:
        return json.loads(_inputs_record().read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _record_inputs() -> None:
    """After a successful whole build: note the fingerprint, taken while holding the warehouse's
    write lock so that no load can slip in between the build and the note (a load that wrote after
    it changes the file, and the next build runs)."""
    import duckdb

    record = _inputs_record()
    record.unlink(missing_ok=True)
    if inputs_fingerprint() is None:
        return
    try:
        con = duckdb.connect(str(warehouse_path()))
    except duckdb.Error:  # another process holds the warehouse: leave no note, the next build runs
        return
    try:
        fingerprint = inputs_fingerprint()
    finally:
        con.close()
    if fingerprint != inputs_fingerprint():  # closing wrote (it should not): no note
        return
    record.parent.mkdir(parents=True, exist_ok=True)
    payload = {"inputs": fingerprint, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    record.write_text(json.dumps(payload, indent=1))


def mark_published() -> None:
    """The serving snapshot was published from the build the fingerprint describes."""
    saved = _saved_inputs()
    if saved:
        saved["published"] = True
        _inputs_record().write_text(json.dumps(saved, indent=1))


def up_to_date() -> dict[str, object] | None:
    """The note of the last successful whole build when nothing it depends on changed since, else None."""
    saved = _saved_inputs()
    current = inputs_fingerprint()
    if current is not None and saved.get("inputs") == current:
        return saved
    return None


def run_transform(
    full_refresh: bool = False,
    select: str | None = None,
    quiet: bool = False,
    daily: bool = False,
    force: bool = False,
) -> int:
    """``dbt build`` (seeds + models + tests); returns dbt's exit code (0 ok, 1 failures, 2 error).

    ``daily``: build dbt_project/selectors.yml's ``daily`` selector (tables, incremental models and
    what changed since the last successful build), which skips recreating unchanged views and their
    tests; a whole build when there is no earlier successful build to compare with.

    A whole build (no ``select``, no ``full_refresh``) is skipped when nothing was written to the
    warehouse and the dbt project is unchanged since the last successful whole build
    (:func:`up_to_date`); ``force`` builds anyway.
    """
    global _last
    if not (full_refresh or select or force):
        started = time.perf_counter()
        saved = up_to_date()
        if saved is not None:
            _last = TransformResult(exit_code=0, seconds=time.perf_counter() - started, counts={"skipped": 1})
            print(
                f"transform: nothing new since the last successful build ({saved.get('built_at')}): the "
                "warehouse and the dbt project are unchanged, dbt not run (--force builds anyway)"
            )
            return 0
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    state = last_success_dir()
    if daily and not full_refresh and not select and (state / "manifest.json").exists():
        args += ["--selector", "daily", "--state", str(state)]
    started_utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    _inputs_record().unlink(missing_ok=True)  # noted again only after a successful whole build
    result = run_dbt(args, quiet=quiet)
    summary = ", ".join(f"{k}={v}" for k, v in sorted(result.counts.items())) or "nothing ran"
    print(
        f"transform: dbt build {'--full-refresh ' if full_refresh else ''}{summary} in {result.seconds:.1f} s"
    )
    if result.exit_code == 0 and not select:
        # a whole build (or a daily one, which rebuilt everything that differed) succeeded: the
        # project as it is now is what the warehouse holds
        state.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dbt_target_dir() / "manifest.json", state / "manifest.json")
    if result.exit_code == 0:
        written = _rows_written_this_run(started_utc)
        if written is not None:
            print(f"transform: QoS participant-minutes written by this run: {written}")
        recomputed = _meetings_recomputed_this_run(started_utc)
        if recomputed is not None:
            print(f"transform: meetings recomputed by this run: {recomputed}")
        if not select:
            _record_inputs()
    for failure in result.failures[:20]:
        print(f"  {failure}")
    return result.exit_code


def run_docs_generate(quiet: bool = False) -> int:
    """``dbt docs generate``: writes dbt_project/target/index.html + catalog.json (``make docs`` serves them)."""
    result = run_dbt(["docs", "generate"], quiet=quiet)
    target = dbt_target_dir()
    if result.exit_code == 0:
        catalog = target / "catalog.json"
        nodes = len(json.loads(catalog.read_text()).get("nodes", {})) if catalog.exists() else 0
        print(f"docs: generated {target / 'index.html'} ({nodes} relations in the catalog)")
    else:
        for failure in result.failures[:20]:
            print(f"  {failure}")
    return result.exit_code
