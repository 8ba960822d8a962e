"""``make load``: run the Zoom and MEETS sources one after the other into the warehouse.

Each source is its own dlt pipeline (own state, own dataset). They run sequentially because DuckDB
allows one writer per file. A failing source does not stop the other one; the command exits non-zero
and says which source failed and what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pipelines.interrupt import LoadInterrupted, exit_code, interruption, signal_name

log = logging.getLogger("pipelines.load")

SOURCES = ("zoom", "meets")


def _run_zoom(refresh: bool, meetings: Sequence[str] | None = None) -> dict[str, Any]:
    from pipelines.zoom.pipeline import run_zoom_load

    return run_zoom_load(show=True, refresh=refresh, meetings=meetings)


def _run_meets(refresh: bool) -> dict[str, Any]:
    from pipelines.meets.pipeline import run_meets_load

    summary = run_meets_load(refresh="drop_sources" if refresh else None)
    print(format_meets_summary(summary))
    return summary


def format_meets_summary(summary: dict[str, Any]) -> str:
    rows = ", ".join(f"{t} {n:,}" for t, n in summary["rows"].items()) or "nothing new"
    req = summary["requests"]
    att = summary.get("attendance", {})
    where = "embedded sandbox" if summary.get("sandbox") else summary.get("base_url")
    lines = [
        f"MEETS ({where}) loaded in {summary['duration_seconds']:.1f}s: {rows}",
        f"  requests: {req['sent']} sent, {req['retries']} retried, {req['failures']} failed",
    ]
    if att:
        lines.append(
            "  attendance: " + ", ".join(f"{k.removeprefix('attendance_')} {v}" for k, v in att.items())
        )
    lines += [f"  note: {m}" for m in summary.get("messages", [])]
    return "\n".join(lines)


RUNNERS: dict[str, Callable[[bool], dict[str, Any]]] = {"zoom": _run_zoom, "meets": _run_meets}


def run_load(
    sources: Sequence[str] = SOURCES,
    refresh: bool = False,
    results: dict[str, Any] | None = None,
    meetings: Sequence[str] | None = None,
) -> int:
    """Load the given sources; return a process exit code (0 when every source loaded).

    ``results`` (optional) receives each source's summary, or the exception that stopped it.
    ``meetings`` (Zoom meeting UUIDs, ``--source zoom`` only) makes it a targeted Zoom load of just
    those ended meetings (``docs/webhooks.md``)."""
    if meetings is not None and (tuple(sources) != ("zoom",) or refresh):
        print(
            "load not started: --meetings takes Zoom meeting UUIDs: use it with --source zoom, without --refresh"
        )
        return 2
    from pipelines.lake.connect import LakeUnavailable
    from pipelines.lake.settings import WarehouseSettingError
    from pipelines.paths import warehouse_path
    from pipelines.settings_check import SettingsError, require_valid_settings
    from pipelines.warehouse import NotAWarehouse, is_lake, repair_interrupted_creation

    try:  # every bad setting of the sources asked for, before any request or file is touched
        require_valid_settings(tuple(f"sources.{name}" for name in sources))
    except SettingsError as exc:
        print(f"load not started: {exc}", flush=True)
        return 2

    try:
        if is_lake():  # the lake answers, with these credentials, before any request is made
            from pipelines import warehouse

            warehouse.connect().close()
        else:
            repair_interrupted_creation(warehouse_path())  # a first load killed while DuckDB created the file
    except (NotAWarehouse, LakeUnavailable, WarehouseSettingError) as exc:
        print(f"load not started: {exc}")
        return 1
    failures: list[tuple[str, BaseException]] = []
    for name in sources:
        try:
            summary = _run_zoom(refresh, meetings) if meetings is not None else RUNNERS[name](refresh)
            if results is not None:
                results[name] = summary
        except BaseException as exc:
            if results is not None:
                results[name] = exc
            stop = interruption(exc)
            if stop is None and not isinstance(exc, Exception):
                raise
            if stop is not None:  # Ctrl-C / SIGTERM: the whole command stops, the next source too
                code = exit_code(stop)
                line = str(stop) if isinstance(stop, LoadInterrupted) else ""
                print(
                    line
                    or f"{name} load interrupted ({signal_name(code)}): what was loaded stays; "
                    "rerun `make load` to resume.",
                    flush=True,
                )
                return code
            # report, then go on with the next source
            failures.append((name, exc))
            log.debug("%s load failed", name, exc_info=True)
            print(f"{name}: load stopped: {type(exc).__name__}: {exc}")
    if failures:
        print(
            "Loaded what could be loaded; rerun `make load` to resume (nothing is duplicated). "
            f"Failed: {', '.join(n for n, _ in failures)}."
        )
        return 1
    return 0
