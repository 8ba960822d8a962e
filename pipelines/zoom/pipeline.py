"""Run the Zoom source into the warehouse, plan a backfill, or authorize a General app.

Entry points for ``python -m pipelines`` (wired in :mod:`pipelines.cli`):

* :func:`run_zoom_load` - one incremental load into ``zoom_raw`` with a progress display and a
  final summary (rows per table, requests per category, budget left); copies the request ledger
  into ``ops.request_ledger`` at the end;
* :func:`plan_zoom_load` - the ``--dry-run``: how many requests per category the next load will
  cost and how many days of budget that is (it lists users, series and meetings to know);
* :func:`authorize_zoom` - the one-time authorization-code exchange for a General app.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import dlt
import duckdb

from pipelines import clock
from pipelines import warehouse as wh
from pipelines.accounts import guard_warehouse, verify_account, zoom_account
from pipelines.api_client import (
    DEFAULT_REDACTOR,
    HEAVY,
    LIGHT,
    MEDIUM,
    RESOURCE_INTENSIVE,
    ApiClient,
    ApiError,
    AuthProvider,
    RateBudgetExceeded,
    RateLimiter,
    RequestBudget,
    RetryPolicy,
    install_log_redaction,
)
from pipelines.interrupt import LoadInterrupted, exit_code, interruption, signal_name
from pipelines.paths import state_dir, warehouse_path
from pipelines.warehouse import upgrade_raw_layout
from pipelines.zoom import HarvestContext, qos_requests_for, series_fingerprint, user_ref, zoom_source
from pipelines.zoom.auth import (
    OAuthTokenEndpoint,
    TokenFile,
    ZoomRefreshTokenAuth,
    ZoomS2SAuth,
    authorize_url,
    code_from_redirect,
    exchange_code,
    new_pkce,
)
from pipelines.zoom.client import (
    USER_STATUSES,
    ZoomClient,
    earliest_allowed_date,
    is_hosting_not_allowed,
    month_start,
    month_windows,
    utc_today,
)
from pipelines.zoom.journal import FetchJournal, listing_key, settled
from pipelines.zoom.qos import parse_zoom_timestamp
from pipelines.zoom.settings import ZoomSettings, load_settings

log = logging.getLogger("pipelines.zoom")

PIPELINE_NAME = "zoom"
DATASET_NAME = "zoom_raw"
ZOOM_CATEGORIES = (LIGHT, MEDIUM, HEAVY, RESOURCE_INTENSIVE)
ZOOM_TABLES = (
    "users",
    "active_hosts",
    "meeting_series",
    "meetings",
    "participant_sessions",
    "participant_qos",
    "meeting_fetch_log",
    "recordings",
    "recording_files",
)


class WarehouseLocked(RuntimeError):
    """The DuckDB warehouse is open read-write in another process (DuckDB allows one writer)."""


# ----------------------------------------------------------------------------- wiring
_LIMITERS: dict[tuple[str, str, float], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(settings: ZoomSettings) -> RateLimiter:
    """One limiter per Zoom account and process: Zoom's rate limits are account-wide."""
    key = (settings.api_base_url, settings.plan, settings.rate_safety)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = RateLimiter.for_zoom(settings.plan, safety=settings.rate_safety)
            _LIMITERS[key] = limiter
        return limiter


def build_auth(settings: ZoomSettings) -> tuple[AuthProvider, OAuthTokenEndpoint]:
    """S2S or refresh-token provider for ``settings.auth``."""
    endpoint = OAuthTokenEndpoint(settings.oauth_base_url, settings.client_id, settings.client_secret)
    if settings.auth == "s2s":
        provider: AuthProvider = ZoomS2SAuth(
            endpoint, settings.account_id, proactive_refresh=settings.proactive_token_refresh
        )
    else:
        provider = ZoomRefreshTokenAuth(
            endpoint, TokenFile(settings.token_file), proactive_refresh=settings.proactive_token_refresh
        )
    return provider, endpoint


def build_client(
    settings: ZoomSettings,
    *,
    budget: RequestBudget | None = None,
    auth: AuthProvider | None = None,
    on_page: Callable[[str, int, Mapping[str, Any]], None] | None = None,
) -> ZoomClient:
    """A :class:`ZoomClient` on the shared HTTP layer (limiter, budget, retries, redaction)."""
    if auth is None:
        auth, _ = build_auth(settings)
    api = ApiClient(
        settings.api_base_url,
        auth=auth,
        limiter=shared_limiter(settings),
        budget=budget,
        retry=RetryPolicy(),
        redactor=DEFAULT_REDACTOR,
        timeout=(10, settings.timeout_seconds),
    )
    return ZoomClient(
        api, page_size=settings.page_size, qos_page_size=settings.qos_page_size, on_page=on_page
    )


def zoom_destination() -> Any:
    """The warehouse's dlt destination; on the DuckDB file, the one that merges ``participant_qos``
    in place (:mod:`pipelines.zoom.destination`), on a lake dlt's own ``ducklake``."""
    destination = wh.dlt_destination()
    if wh.is_lake():
        return destination
    from pipelines.zoom.destination import duckdb_in_place

    return duckdb_in_place(**destination.config_params)


def zoom_pipeline() -> dlt.Pipeline:
    """The dlt pipeline writing ``zoom_raw`` in the warehouse (the file or the lake: :mod:`pipelines.warehouse`)."""
    return dlt.pipeline(
        PIPELINE_NAME,
        destination=zoom_destination(),
        dataset_name=DATASET_NAME,
        pipelines_dir=str(wh.dlt_pipelines_dir()),
    )


def _configure_dlt() -> None:
    # Arrow tables (QoS) skip dlt's row normaliser; the contract still wants these two columns: the
    # extract step sets _dlt_load_id, the source adds _dlt_id itself (pipelines.zoom.qos.with_dlt_columns),
    # so dlt's normalize step does not read and rewrite the QoS Parquet files to add it
    dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
    dlt.config["normalize.parquet_normalizer.add_dlt_id"] = False


# ----------------------------------------------------------------------------- progress
class _Progress:
    """Where the load is, while it runs: a live one-line status on a terminal (rich); elsewhere (a
    log file, CI, ``make load > load.log``) a plain line every ``MW_PROGRESS_SECONDS`` (default 10)
    with the phase, meetings detailed / listed, QoS rows and requests per category. A plain line
    never uses a carriage return and stays under 100 characters, so logs read line by line."""

    INTERVAL_ENV = "MW_PROGRESS_SECONDS"
    DEFAULT_INTERVAL = 10.0
    WIDTH = 99

    def __init__(self, enabled: bool, api: ApiClient, *, stream: Any = None) -> None:
        self.api = api
        self._stream = stream if stream is not None else sys.stderr
        self._last = 0.0
        self._phase = ""
        self._live: Any = None
        self._ctx: HarvestContext | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._interval = 0.0
        if not enabled:
            return
        if _is_terminal(self._stream):
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._live.add_task("zoom: starting", total=None)
        else:
            self._interval = self.interval()

    @classmethod
    def interval(cls) -> float:
        """Seconds between plain lines: ``MW_PROGRESS_SECONDS`` (0 or less: none), else 10."""
        raw = os.environ.get(cls.INTERVAL_ENV, "").strip()
        try:
            return float(raw) if raw else cls.DEFAULT_INTERVAL
        except ValueError:
            return cls.DEFAULT_INTERVAL

    def __enter__(self) -> _Progress:
        self._started = time.monotonic()
        if self._live is not None:
            self._live.start()
        elif self._interval > 0:
            self._thread = threading.Thread(target=self._every_interval, name="zoom-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def update(self, ctx: HarvestContext) -> None:
        self._ctx = ctx  # the plain lines read the latest state on their own clock
        if self._live is None:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and ctx.phase == self._phase:
            return
        self._last, self._phase = now, ctx.phase
        sent = self._sent()
        c = ctx.counts
        self._live.update(
            self._task,
            description=(
                f"zoom: {ctx.phase} · meetings {c['meetings_detailed']}/{c['meetings_listed']} · "
                f"QoS {c['qos_rows']:,} · req L/M/H/RI "
                + "/".join(str(sent.get(cat, 0)) for cat in ZOOM_CATEGORIES)
            ),
        )

    def _sent(self) -> dict[str, int]:
        stats = dict(self.api.stats)  # a copy: the harvest adds categories while we read
        return {cat: int(s.get("sent", 0)) for cat, s in stats.items()}

    def _every_interval(self) -> None:
        while not self._stop.wait(self._interval):
            ctx = self._ctx
            counts = ctx.counts if ctx is not None else {}
            line = self.plain_line(
                ctx.phase if ctx is not None and ctx.phase else "starting",
                int(counts.get("meetings_detailed", 0)),
                int(counts.get("meetings_listed", 0)),
                int(counts.get("qos_rows", 0)),
                self._sent(),
                time.monotonic() - self._started,
            )
            with suppress(Exception):  # a closed or full stream must not stop the load
                print(line, file=self._stream, flush=True)

    @classmethod
    def plain_line(
        cls,
        phase: str,
        detailed: int,
        listed: int,
        qos_rows: int,
        sent: Mapping[str, int],
        elapsed: float,
    ) -> str:
        """``zoom 0:42 meeting details | meetings 12/40 | QoS 3,000 | req L/M/H/RI 9/2/30/0``,
        the phase shortened so the line stays within :attr:`WIDTH` characters."""
        minutes, seconds = divmod(int(elapsed), 60)
        clock_text = (
            f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
            if minutes >= 60
            else f"{minutes}:{seconds:02d}"
        )
        requests = "/".join(str(sent.get(cat, 0)) for cat in ZOOM_CATEGORIES)
        rest = f" | meetings {detailed:,}/{listed:,} | QoS {qos_rows:,} | req L/M/H/RI {requests}"
        head = f"zoom {clock_text} "
        room = max(cls.WIDTH - len(head) - len(rest), 8)
        phase = " ".join(phase.split())
        if len(phase) > room:  # cut at a word where there is one
            cut = phase[: room - 3]
            phase = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip() + "..."
        return head + phase + rest


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ----------------------------------------------------------------------------- load
def run_zoom_load(
    *,
    show: bool = True,
    progress: bool | None = None,
    refresh: bool = False,
    today: dt.date | None = None,
    on_page: Callable[[str, int, Mapping[str, Any]], None] | None = None,
    meetings: Sequence[str] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Load Zoom into ``zoom_raw`` incrementally; return (and print, if ``show``) a summary.

    ``meetings`` (Zoom meeting UUIDs) makes it a *targeted* load of just those ended instances
    (``load --source zoom --meetings``, e.g. for a ``meeting.ended`` webhook): their ``meetings``
    rows, participants and QoS through the same resources, tables, merge keys and budget ledger,
    leaving the regular load's cursor, book of fetched meetings and journal untouched (see
    ``docs/webhooks.md``).

    ``overrides`` are any ``sources.zoom`` settings (``start_date``, ``lookback_days``,
    ``daily_budget``, ``api_base_url``...). ``refresh=True`` drops the Zoom tables and state first
    (a full reload). ``on_page(endpoint, page_number, body)`` sees every API page (benchmarks).
    Raises :class:`~pipelines.api_client.RateBudgetExceeded` (after loading what was fetched) when
    the daily budget runs out - rerun after the reset to resume - and the other typed API errors
    (``AuthError``...) the same way.
    """
    started = time.monotonic()
    install_log_redaction(DEFAULT_REDACTOR)
    targeted = tuple(dict.fromkeys(str(m) for m in meetings)) if meetings is not None else None
    if targeted is not None and refresh:
        raise ValueError("--meetings loads single meetings; it cannot be combined with --refresh")
    settings = load_settings(**overrides)
    today = today or utc_today()
    budget = settings.budget()
    try:
        auth, token_endpoint = build_auth(settings)
    except BaseException:
        budget.close()
        raise
    zoom = build_client(settings, budget=budget, auth=auth, on_page=on_page)
    if progress is None:
        progress = show  # a live bar on a terminal, plain periodic lines elsewhere
    display = _Progress(progress, zoom.api)
    journal = FetchJournal(journal_dir())
    if refresh:
        journal.clear()
    ctx = HarvestContext(
        only_meetings=targeted,
        zoom=zoom,
        start_date=settings.effective_start_date(today),
        lookback_days=settings.lookback_days,
        meeting_types=settings.meeting_types,
        today=today,
        on_progress=display.update,
        journal=None if targeted is not None else journal,  # the regular load's: not touched
    )
    _configure_dlt()
    try:
        pipeline = zoom_pipeline()
        with display:
            try:
                if not wh.is_lake():  # a lake is created (or migrated) in the current layout
                    upgrade_raw_layout(
                        warehouse_path()
                    )  # a warehouse from an earlier version of the contract
                account = zoom_account(
                    settings.api_base_url, settings.account_id, settings.client_id, settings.sandbox
                )
                guard_warehouse(warehouse_path(), account, refresh=refresh)
                row_counts = _run_pipeline(pipeline, ctx, refresh)
            except BaseException as exc:
                stop = interruption(exc)
                if stop is not None and targeted is not None:
                    raise LoadInterrupted(
                        f"Targeted Zoom load interrupted ({signal_name(exit_code(stop))}): nothing "
                        "half-loaded; rerun it (or let the regular load fetch these meetings).",
                        exit_code(stop),
                    ) from exc
                if stop is not None:
                    raise _interrupted(stop, journal, zoom) from exc
                if not isinstance(exc, Exception):
                    raise
                raise _typed_error(exc) from exc
        if targeted is None:
            journal.clear()  # the warehouse holds every answer now
        summary = _summary(settings, pipeline, row_counts, zoom, auth, token_endpoint, budget, ctx, started)
    finally:
        with suppress(Exception):
            copy_ledger_to_warehouse(settings.ledger_path, warehouse_path())
        zoom.api.close()
        token_endpoint.close()
        budget.close()
    if show:
        print(format_summary(summary))
    if ctx.error is not None:
        raise _stop_error(ctx, summary)
    return summary


def _run_pipeline(pipeline: dlt.Pipeline, ctx: HarvestContext, refresh: bool) -> dict[str, int]:
    """extract -> normalize -> load as separate steps (progress shows which one is running).

    Like ``pipeline.run``: state is first synced with the warehouse (so a lost working folder
    cannot make meetings look unfetched), and packages a crashed run left behind are loaded first -
    ``run`` would load those and silently skip the new data instead.
    """
    pipeline.sync_destination()
    if pipeline.has_pending_data:
        log.warning("Finishing the load of a previous Zoom run that did not complete")
        ctx.progress("loading a previous run's pending data")
        pipeline.run()
    ctx.progress("starting")
    pipeline.extract(
        zoom_source(ctx), loader_file_format="parquet", refresh="drop_sources" if refresh else None
    )
    ctx.progress("normalizing")
    info = pipeline.normalize()
    ctx.progress("loading into DuckDB")
    pipeline.load()
    return dict(info.row_counts)


def journal_dir() -> Path:
    """Where the answers of meetings fetched but not yet loaded wait (beside the warehouse's state)."""
    return state_dir() / "zoom_journal"


def _interrupted(stop: KeyboardInterrupt, journal: FetchJournal, zoom: ZoomClient) -> LoadInterrupted:
    """The one line an interrupted Zoom load prints: what was kept and how to resume."""
    code = exit_code(stop)
    heavy = zoom.api.stats.get(HEAVY, {}).get("sent", 0)
    kept = journal.meetings()
    return LoadInterrupted(
        f"Zoom load interrupted ({signal_name(code)}): participants and QoS of {kept:,} meetings are kept "
        f"in {journal.folder} ({heavy:,} heavy requests spent this run); the next `make load` loads them "
        "without asking Zoom again and goes on from there.",
        code,
    )


def _journal_stats(journal: FetchJournal | None) -> dict[str, Any]:
    """What checkpointing cost this run (one journal file per meeting fetched)."""
    if journal is None:
        return {"files_written": 0, "bytes_written": 0, "write_seconds": 0.0, "replayed": 0}
    return {
        "files_written": journal.writes,
        "bytes_written": journal.bytes_written,
        "write_seconds": round(journal.write_seconds, 3),
        "replayed": journal.replayed,
    }


def _typed_error(exc: BaseException) -> BaseException:
    """Dig the actionable error out of dlt's ``PipelineStepFailed`` wrapping."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ApiError):
            return cur
        text = str(cur)
        if "Could not set lock" in text or "Conflicting lock" in text:
            return WarehouseLocked(
                f"The warehouse {warehouse_path()} is open in another process (dbt, a notebook, another "
                "load?). DuckDB allows one writer at a time: close it and rerun."
            )
        cur = cur.__cause__ or cur.__context__
    return exc


def _stop_error(ctx: HarvestContext, summary: dict[str, Any]) -> ApiError:
    err = ctx.error
    assert err is not None
    loaded = ", ".join(f"{t} {n:,}" for t, n in summary["rows"].items() if n) or "nothing"
    left = []
    if summary["meetings_pending"]:
        left.append(
            f"participants/QoS of {summary['meetings_pending']} meetings "
            f"(~{summary['heavy_requests_pending']} heavy requests)"
        )
    if ctx.windows_left_from is not None:
        left.append(f"meeting lists from {ctx.windows_left_from}")
    left_text = "; ".join(left) or "nothing from the dashboard"
    if ctx.only_meetings is not None:  # a targeted run keeps no place to resume from
        left_text = (
            "the meetings not detailed this run (rerun the targeted load after the reset, or let the "
            "regular load fetch them)"
        )
    if isinstance(err, RateBudgetExceeded):
        detail = (
            f"Zoom load stopped during {ctx.error_where}: the daily request budget '{err.group}' is spent. "
            f"Loaded this run: {loaded}. Left for the next run: {left_text}. "
            f"The next `python -m pipelines load` after the reset resumes exactly there. Budget"
        )
        new = RateBudgetExceeded(
            err.category,
            used=err.used,
            limit=err.limit,
            resets_at=err.resets_at,
            group=err.group,
            source=err.source,
            detail=detail,
            status=err.status,
            endpoint=err.endpoint,
        )
        new.summary = summary  # type: ignore[attr-defined]
        return new
    err.summary = summary  # type: ignore[attr-defined]
    log.error(
        "Zoom load stopped during %s. Loaded: %s. Left for the next run: %s.",
        ctx.error_where,
        loaded,
        left_text,
    )
    return err


def _summary(
    settings: ZoomSettings,
    pipeline: dlt.Pipeline,
    counts: Mapping[str, int],
    zoom: ZoomClient,
    auth: AuthProvider,
    token_endpoint: OAuthTokenEndpoint,
    budget: RequestBudget,
    ctx: HarvestContext,
    started: float,
) -> dict[str, Any]:
    rows = {t: int(counts.get(t, 0)) for t in ZOOM_TABLES}
    stats = zoom.api.stats
    requests = {cat: stats.get(cat, {}).get("sent", 0) for cat in ZOOM_CATEGORIES}
    book = pipeline.state.get("sources", {}).get("zoom", {}).get("meeting_details", {})
    pending = book.get("pending", {})
    budgets = [
        {
            "group": g.group,
            "used_today": g.used,
            "limit": g.limit,
            "remaining": g.remaining,
            "resets_at": g.resets_at.isoformat(),
        }
        for g in budget.summary()
    ]
    return {
        "source": "sandbox" if settings.sandbox else "zoom",
        "api_base_url": settings.api_base_url,
        "auth": settings.auth,
        "plan": settings.plan,
        "start_date": ctx.start_date.isoformat(),
        "rows": rows,
        "requests": requests,
        "retries": {cat: stats.get(cat, {}).get("retries", 0) for cat in ZOOM_CATEGORIES},
        "http_429": sum(s.get("http_429", 0) for s in stats.values()),
        "token_requests": token_endpoint.calls,
        "token_refreshes_after_401": getattr(auth, "refreshes_after_401", 0),
        "budget": budgets,
        "meetings_listed": ctx.counts["meetings_listed"],
        "meetings_detailed": ctx.counts["meetings_detailed"],
        "meetings_from_journal": ctx.counts["meetings_from_journal"],
        "journal": _journal_stats(ctx.journal),
        "meetings_pending": len(pending),
        "quarantined": ctx.quarantine.total,
        "users_not_hosting": sorted(ctx.not_hosting),
        "recordings_processing": ctx.counts["recordings_processing"],
        "heavy_requests_pending": sum(qos_requests_for(p.get("participants")) for p in pending.values()),
        "stopped": None if ctx.error is None else f"{type(ctx.error).__name__} during {ctx.error_where}",
        "seconds": round(time.monotonic() - started, 2),
        "targeted": None
        if ctx.only_meetings is None
        else {
            "meetings": list(ctx.only_meetings),
            "unknown": ctx.counts["meetings_unknown"],
            "not_listed": ctx.counts["meetings_unlisted"],
        },
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """Plain-text summary (rows per table, requests per category, budget left)."""
    targeted = summary.get("targeted")
    lines = [
        ("Targeted " if targeted else "")
        + f"Zoom load ({summary['source']}, {summary['api_base_url']}, auth {summary['auth']}) "
        f"in {summary['seconds']:.1f}s"
        + (f" - STOPPED EARLY: {summary['stopped']}" if summary.get("stopped") else ""),
        "  rows loaded: " + ", ".join(f"{t} {n:,}" for t, n in summary["rows"].items()),
        "  requests: "
        + ", ".join(f"{cat} {n}" for cat, n in summary["requests"].items())
        + f" (+{summary['token_requests']} token)",
    ]
    for b in summary["budget"]:
        limit = "unlimited" if b["limit"] is None else f"{b['limit']:,}"
        left = "" if b["remaining"] is None else f", {b['remaining']:,} left"
        lines.append(
            f"  budget {b['group']}: {b['used_today']:,} used today of {limit}{left} (resets {b['resets_at']})"
        )
    if summary.get("quarantined"):
        lines.append(
            f"  quarantined: {summary['quarantined']} record(s) that could not be loaded as sent "
            "(see zoom_raw.quarantine and the warnings above)"
        )
    if summary.get("users_not_hosting"):
        names = summary["users_not_hosting"]
        lines.append(
            f"  {len(names)} user(s) may not host meetings (Zoom code 3161), so they have no meeting "
            f"series: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
        )
    if summary.get("recordings_processing"):
        lines.append(
            f"  {summary['recordings_processing']} recording(s) still processing at Zoom: skipped now, "
            "loaded by a later run once complete"
        )
    if targeted:
        lines.append(
            f"  meetings asked for: {len(targeted['meetings'])}, detailed {summary['meetings_detailed']}, "
            f"unknown to Zoom {targeted['unknown']}, not (yet) listed {targeted['not_listed']}"
        )
    elif summary["meetings_pending"]:
        lines.append(
            f"  pending: {summary['meetings_pending']} meetings still need participants/QoS "
            f"(~{summary['heavy_requests_pending']} heavy requests)"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- ledger
def copy_ledger_to_warehouse(ledger: Path, warehouse: Path) -> int:
    """Mirror the budget ledger (requests per UTC day and category) into ``ops.request_ledger``.

    The ledger is shared by every pipeline on the machine, so the table is replaced as a whole.
    """
    if not Path(ledger).exists():
        return 0
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as src:
        rows = src.execute("SELECT utc_date, category, count FROM request_ledger").fetchall()
    lake = wh.is_lake()
    con = wh.connect() if lake else duckdb.connect(str(warehouse))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS ops")
        con.execute(
            "CREATE TABLE IF NOT EXISTS ops.request_ledger ("
            "utc_date DATE NOT NULL, category VARCHAR NOT NULL, requests BIGINT NOT NULL, "
            "copied_at TIMESTAMPTZ NOT NULL" + ("" if lake else ", PRIMARY KEY (utc_date, category)") + ")"
        )
        con.execute("BEGIN")
        con.execute("DELETE FROM ops.request_ledger")
        if rows:
            now = clock.now()
            con.executemany(
                "INSERT INTO ops.request_ledger VALUES (?, ?, ?, ?)",
                [(dt.date.fromisoformat(d), c, int(n), now) for d, c, n in rows],
            )
        con.execute("COMMIT")
    finally:
        con.close()
    return len(rows)


# ----------------------------------------------------------------------------- plan (dry run)
def plan_zoom_load(*, show: bool = True, today: dt.date | None = None, **overrides: Any) -> dict[str, Any]:
    """Estimate what the next load costs: requests per category and days of budget.

    Lists users, series (medium) and the dashboard meeting windows (resource-intensive, counted
    in the budget) to know how many meetings and participants there are; makes no heavy calls.
    """
    install_log_redaction(DEFAULT_REDACTOR)
    settings = load_settings(**overrides)
    today = today or utc_today()
    budget = settings.budget()
    try:
        auth, token_endpoint = build_auth(settings)
    except BaseException:
        budget.close()
        raise
    zoom = build_client(settings, budget=budget, auth=auth)
    pipeline = zoom_pipeline()
    try:  # a plan for another account than the warehouse holds would be a plan for nothing
        verify_account(
            warehouse_path(),
            zoom_account(settings.api_base_url, settings.account_id, settings.client_id, settings.sandbox),
        )
    except duckdb.Error as exc:  # locked by a load: the state check below says so too
        log.warning("plan: could not read the warehouse's account record (%s)", exc)
    except BaseException:
        zoom.api.close()
        token_endpoint.close()
        budget.close()
        raise
    if wh.exists():
        try:  # like the load: the warehouse's state wins over a lost or stale working folder
            pipeline.sync_destination()
        except Exception as exc:  # a locked warehouse: plan from the working folder's state
            log.warning(
                "plan: could not read the state stored in the warehouse (%s); using the local copy", exc
            )
    state = pipeline.state.get("sources", {}).get("zoom", {})
    resources = state.get("resources", {})
    book = state.get("meeting_details", {})
    done, pending = book.get("done", {}), book.get("pending", {})
    start_date = settings.effective_start_date(today)
    try:
        estimate: dict[str, int] = dict.fromkeys(ZOOM_CATEGORIES, 0)
        # users and who can host
        user_items: list[dict] = []
        for status in USER_STATUSES:
            user_items.extend(zoom.users(status))
        estimate[MEDIUM] += len(USER_STATUSES)
        hosts = [u for u in user_items if u.get("status") != "pending" and user_ref(u)]
        # meeting series: a list per user, a detail per new recurring series
        known = resources.get("meeting_series", {}).get("fingerprints", {})
        new_recurring = 0
        for u in hosts:
            try:
                items = zoom.user_meetings(str(user_ref(u)))
            except ApiError as exc:
                if not is_hosting_not_allowed(exc):
                    raise
                items = []  # may not host (400/3161): the load skips them the same way
            for item in items:
                if item.get("type") == 8 and known.get(str(item.get("id"))) != series_fingerprint(item):
                    new_recurring += 1
        estimate[MEDIUM] += len(hosts)
        estimate[LIGHT] += new_recurring
        # recordings: dated windows per user + the trash
        rec_resume = resources.get("recordings", {}).get("resume_from", {})
        for u in hosts:
            ref = str(user_ref(u))
            since = dt.date.fromisoformat(rec_resume[ref]) if ref in rec_resume else start_date
            first = max(start_date, since - dt.timedelta(days=settings.lookback_days))
            estimate[MEDIUM] += len(month_windows(first, today)) + 1
        # active hosts report
        earliest = max(start_date, earliest_allowed_date(today))
        resume = resources.get("active_hosts", {}).get("resume_from") or earliest.isoformat()
        first = max(
            earliest,
            month_start(
                min(dt.date.fromisoformat(resume), today - dt.timedelta(days=settings.lookback_days))
            ),
        )
        journal = FetchJournal(journal_dir())  # answers an interrupted run kept: loaded without asking again

        def asked(key: str, window_end: dt.date) -> bool:  # the load takes a settled window's kept answer
            return not (settled(window_end, today, settings.lookback_days) and journal.has(key))

        estimate[HEAVY] += sum(
            asked(listing_key("active_hosts", a, b), b) for a, b in month_windows(first, today)
        )
        # meetings: list the windows, then count the details still to fetch
        cursor = resources.get("meetings", {}).get("incremental", {}).get("end_time", {})
        last = cursor.get("last_value")
        start = (
            parse_zoom_timestamp(last) - dt.timedelta(days=settings.lookback_days)
            if last
            else dt.datetime.combine(start_date, dt.time(), dt.UTC)
        )
        if pending:
            oldest = parse_zoom_timestamp(min(str(p["end_time"]) for p in pending.values()))
            if oldest is not None and oldest < start:
                start = oldest
        first_day = max(start.date(), earliest_allowed_date(today))
        to_fetch: dict[str, int | None] = {u: p.get("participants") for u, p in pending.items()}
        windows = month_windows(first_day, today)
        for a, b in windows:
            for kind in settings.meeting_types:
                for m in zoom.dashboard_meetings(a, b, kind):
                    if m.get("end_time") and m["uuid"] not in done:
                        to_fetch[m["uuid"]] = m.get("participants")
        estimate[RESOURCE_INTENSIVE] += sum(
            asked(listing_key("dashboard_meetings", kind, a, b), b)
            for a, b in windows
            for kind in settings.meeting_types
        )
        kept = {u for u in to_fetch if journal.has(u)}
        estimate[HEAVY] += sum(qos_requests_for(n) for u, n in to_fetch.items() if u not in kept)
        spent = {cat: s.get("sent", 0) for cat, s in zoom.api.stats.items()}
        heavy_group = next((g for g in budget.summary() if g.group == budget.group_of(HEAVY).name), None)
    finally:
        zoom.api.close()
        token_endpoint.close()
        budget.close()
    budgeted = estimate[HEAVY] + estimate[RESOURCE_INTENSIVE]
    limit = heavy_group.limit if heavy_group else None
    remaining = heavy_group.remaining if heavy_group else None
    if limit:
        days = budgeted / limit
        runs = (
            1
            if remaining is not None and budgeted <= remaining
            else 1 + math.ceil((budgeted - (remaining or 0)) / limit)
        )
    else:
        days, runs = 0.0, 1
    plan = {
        "source": "sandbox" if settings.sandbox else "zoom",
        "start_date": start_date.isoformat(),
        "meeting_windows": [f"{a}..{b}" for a, b in windows],
        "meetings_to_fetch": len(to_fetch) - len(kept),
        "meetings_in_journal": len(kept),
        "requests": estimate,
        "budgeted_requests": budgeted,
        "daily_budget": limit,
        "budget_remaining_today": remaining,
        "days_of_budget": round(days, 2),
        "daily_runs_needed": runs,
        "plan_cost": spent,
    }
    if show:
        print(format_plan(plan))
    return plan


def format_plan(plan: Mapping[str, Any]) -> str:
    req = plan["requests"]
    lines = [
        f"Zoom load plan ({plan['source']}), history from {plan['start_date']}:",
        f"  meetings still to fetch participants/QoS for: {plan['meetings_to_fetch']:,}"
        + (
            f" (+ {plan['meetings_in_journal']:,} kept by an interrupted run: loaded without asking Zoom)"
            if plan.get("meetings_in_journal")
            else ""
        ),
        "  requests: " + ", ".join(f"{cat} {req[cat]:,}" for cat in ZOOM_CATEGORIES),
        f"  heavy + resource-intensive (budgeted): {plan['budgeted_requests']:,} of a daily budget of "
        f"{plan['daily_budget'] if plan['daily_budget'] is not None else 'unlimited'} "
        f"-> {plan['days_of_budget']} days of budget, {plan['daily_runs_needed']} daily run(s)",
        "  (this plan itself cost: " + ", ".join(f"{c} {n}" for c, n in plan["plan_cost"].items()) + ")",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- authorize
def authorize_zoom(
    *,
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[[str], None] = print,
    **overrides: Any,
) -> dict[str, Any]:
    """One-time authorization of a General (user-authorized) app; stores the refresh token.

    Prints the authorize URL, asks for the URL the browser was redirected to (or the bare code),
    exchanges the code (PKCE) and writes the token file (0600). Needs ``client_id``,
    ``client_secret`` and ``redirect_uri`` in ``sources.zoom`` (the sandbox provides its own).
    """
    install_log_redaction(DEFAULT_REDACTOR)
    settings = load_settings(**overrides)
    if not settings.redirect_uri:
        raise ValueError(
            "sources.zoom.redirect_uri is not set: use the redirect URL configured in the Zoom app "
            "(Marketplace -> your app -> OAuth -> Redirect URL), e.g. http://localhost:8080/redirect"
        )
    endpoint = OAuthTokenEndpoint(settings.oauth_base_url, settings.client_id, settings.client_secret)
    try:
        verifier, challenge = new_pkce()
        state = secrets.token_urlsafe(16)
        url = authorize_url(
            settings.oauth_base_url,
            settings.client_id,
            settings.redirect_uri,
            state=state,
            code_challenge=challenge,
        )
        print_fn(
            "Open this URL in a browser, sign in to Zoom and approve the app:\n\n"
            f"  {url}\n\n"
            "The browser then lands on the redirect URL (the page may fail to load; that is fine)."
        )
        answer = input_fn("Paste the full URL from the address bar (or just the code): ")
        code = code_from_redirect(answer, expected_state=state if "state=" in answer else None)
        result = exchange_code(
            endpoint, TokenFile(settings.token_file), code, settings.redirect_uri, code_verifier=verifier
        )
    finally:
        endpoint.close()
    print_fn(f"Authorized. The refresh token is stored in {result['token_file']} (mode 0600).")
    return result
