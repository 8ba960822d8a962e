"""Run the MEETS source into the warehouse (dataset ``meets_raw``) and summarise the run.

Also the ad-hoc LTI look-ups behind ``python -m pipelines meets lti-context|lti-user``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dlt
import duckdb
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.accounts import guard_warehouse, meets_account
from pipelines.api_client import MEETS, ApiError, RateLimit, RateLimiter, RequestBudget, RetryPolicy
from pipelines.meets import MeetsRunReport, meets_source
from pipelines.meets.client import MeetsClient
from pipelines.meets.settings import MeetsConfigError, MeetsSettings, load_settings
from pipelines.paths import ledger_path, serving_path, warehouse_path

log = logging.getLogger("pipelines.meets")

PIPELINE_NAME = "meets"
DATASET_NAME = "meets_raw"


def build_client(
    settings: MeetsSettings | None = None,
    *,
    retry: RetryPolicy | None = None,
    budget: RequestBudget | None = None,
) -> MeetsClient:
    """A :class:`MeetsClient` for ``settings`` (resolved from config when omitted).

    Requests are paced at ``requests_per_second`` (MEETS publishes no rate limit; this is our
    politeness) and counted in ``budget`` (the shared request ledger) when given.
    """
    settings = settings or load_settings()
    limiter = RateLimiter({MEETS: RateLimit.per_second(settings.requests_per_second)}, safety=1.0)
    return MeetsClient(
        settings.base_url,
        settings.api_token,
        token_header=settings.token_header,
        limiter=limiter,
        budget=budget,
        retry=retry,
        timeout=(10, settings.timeout_seconds),
        page_limit=settings.page_limit,
    )


def meets_pipeline() -> dlt.Pipeline:
    """The ``meets`` dlt pipeline writing to the warehouse (the file ``MW_WAREHOUSE`` or the lake)."""
    from pipelines import warehouse

    return dlt.pipeline(
        PIPELINE_NAME,
        destination=warehouse.dlt_destination(),
        dataset_name=DATASET_NAME,
        pipelines_dir=str(warehouse.dlt_pipelines_dir()),
    )


def run_meets_load(
    *,
    settings: MeetsSettings | None = None,
    resources: Sequence[str] | None = None,
    now: int | None = None,
    attendance_event_ids: Sequence[int] | None = None,
    refresh: str | None = None,
    retry: RetryPolicy | None = None,
) -> dict[str, Any]:
    """Load MEETS into ``meets_raw`` and return a summary.

    Args:
        settings: resolved settings (default: ``sources.meets.*`` config, else the embedded sandbox).
        resources: load only these resources (e.g. ``["attendance"]``); default all.
        now: UNIX time deciding which events have ended (default: MEETS' clock).
        attendance_event_ids: fetch attendance for exactly these event ids (ad-hoc re-fetch).
        refresh: passed to ``pipeline.run`` (``"drop_sources"`` to start over).
        retry: retry policy for the HTTP layer (tests shorten the backoff).

    Returns ``{"source", "dataset", "sandbox", "base_url", "now", "load_id", "rows": {table: n},
    "requests": {"sent", "retries", "failures", "by_function", "by_method"}, "attendance": {...},
    "messages": [...], "duration_seconds"}``.
    """
    started = time.monotonic()
    settings = settings or load_settings()
    budget = RequestBudget(ledger_path(), groups=[])
    client = build_client(settings, retry=retry, budget=budget)
    report = MeetsRunReport()
    try:
        if now is None:
            now = settings.now()
        source = meets_source(
            client=client,
            now=now,
            lookback_days=settings.lookback_days,
            zoom_attendance_daily_limit=settings.zoom_attendance_daily_limit,
            attendance_recheck_days=settings.attendance_recheck_days,
            attendance_event_ids=list(attendance_event_ids) if attendance_event_ids is not None else None,
            report=report,
        )
        if resources:
            source = source.with_resources(*resources)
        pipeline = meets_pipeline()
        run_kwargs: dict[str, Any] = {"loader_file_format": "parquet"}
        if refresh:
            run_kwargs["refresh"] = refresh
        try:
            account = meets_account(settings.base_url, settings.sandbox)
            guard_warehouse(warehouse_path(), account, refresh=bool(refresh))
            if pipeline.has_pending_data:
                # A run killed after extracting left load packages behind. ``run(source)`` would
                # load those and return without extracting anything new: finish them first.
                log.warning("Finishing the load of a previous MEETS run that did not complete")
                pipeline.run()
            load_info = pipeline.run(source, **run_kwargs)
        except (PipelineStepFailed, duckdb.Error) as exc:
            cause = actionable_cause(exc) or warehouse_locked(exc)
            if cause is not None:
                raise cause from exc
            raise
        trace = pipeline.last_trace
        counts = dict(trace.last_normalize_info.row_counts) if trace and trace.last_normalize_info else {}
    finally:
        client.close()
        budget.close()
    http = client.http_stats
    summary: dict[str, Any] = {
        "source": "meets",
        "dataset": DATASET_NAME,
        "sandbox": settings.sandbox,
        "base_url": settings.base_url,
        "now": datetime.fromtimestamp(now, UTC).isoformat(),
        "load_id": load_info.loads_ids[-1] if load_info.loads_ids else None,
        "rows": {t: n for t, n in sorted(counts.items()) if not t.startswith("_dlt")},
        "requests": {
            "sent": http.get("sent", 0),
            "retries": http.get("retries", 0),
            "failures": http.get("failures", 0),
            "by_function": client.calls_by_function,
            "by_method": client.calls_by_method,
        },
        "attendance": {
            k: v for k, v in report.as_dict().items() if k.startswith(("attendance_", "zoom_attendance_"))
        },
        "windows": {
            "events_time_end_after": report.events_time_end_after,
            "recordings_time_added_after": report.recordings_time_added_after,
        },
        "messages": list(report.messages),
        "duration_seconds": round(time.monotonic() - started, 3),
    }
    for row in report.attendance_not_found:
        summary["messages"].append(
            f"attendance of event {row['meets_id_conferencing_event']} not found (HTTP 404): {row['error']}"
        )
    return summary


def actionable_cause(exc: BaseException) -> BaseException | None:
    """The MEETS/HTTP/config error inside dlt's wrappers (``PipelineStepFailed`` ->
    ``ResourceExtractionError`` -> ...), so callers see "MEETS rejected the API token", not a
    dlt traceback; ``None`` if the failure is something else (e.g. the warehouse file is locked)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ApiError, MeetsConfigError)):
            return current
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None


def warehouse_locked(exc: BaseException) -> BaseException | None:
    """A clear ``WarehouseLocked`` when DuckDB refused the file lock (a reader or another writer holds
    the warehouse), else ``None``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if "Could not set lock" in text or "Conflicting lock" in text:
            from pipelines.zoom.pipeline import WarehouseLocked

            return WarehouseLocked(
                f"The warehouse {warehouse_path()} is open in another process (dbt, a notebook, a BI tool, "
                "another load?). DuckDB allows one writer at a time: close it and rerun; BI tools should "
                f"read the published snapshot ({serving_path()}) instead."
            )
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None


def lookup_lti_context(
    connection_id: int, lti_id_context: str, *, settings: MeetsSettings | None = None
) -> int:
    """MEETS course id (``meetsIdCourse``) for an LTI context id within a platform connection."""
    with build_client(settings) as client:
        return client.from_lti_id_context(connection_id, lti_id_context)


def lookup_lti_user(connection_id: int, lti_id_user: str, *, settings: MeetsSettings | None = None) -> int:
    """MEETS user id (``meetsIdUser``) for an LTI user id within a platform connection."""
    with build_client(settings) as client:
        return client.from_lti_id_user(connection_id, lti_id_user)
