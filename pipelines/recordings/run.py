"""Orchestration: plan -> clean up after crashes -> copy with bounded concurrency -> meta.json -> summary.

``run_recordings(...)`` is the entry point behind ``python -m pipelines recordings``. It is safe to
run again at any time: verified files are skipped (the inventory says ``copied``), files that
failed are retried, files gone at the source are not, and whatever a killed run left behind
(``.partial`` files, open multipart uploads) is removed first.

Concurrency: ``max_concurrent`` worker threads, each copying one file at a time; every HTTP request
still waits for the shared rate limiter (categories ``light`` for the per-meeting look-up,
``download`` for Zoom files, ``meets`` for MEETS), so more workers never means more than the
configured request rate.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from pipelines import clock
from pipelines.api_client import ApiError, AuthError, HostNotAllowed, RateBudgetExceeded
from pipelines.recordings.destination import Destination, normalize_root, open_destination
from pipelines.recordings.fetch import (
    MeetsDownloads,
    NotDownloadable,
    ResolvedMeeting,
    RestartRequired,
    SourceGone,
    ZoomDownloads,
    resumable_chunks,
)
from pipelines.recordings.inventory import Inventory
from pipelines.recordings.meta import MetaWriter, meeting_json, relative_to
from pipelines.recordings.model import COPIED, FAILED, GONE, MEETS, PLANNED, SKIPPED, ZOOM, PlannedFile
from pipelines.recordings.plan import (
    PlanFilter,
    assign_paths,
    expiring_soon,
    host_emails_from_warehouse,
    match_fresh_file,
    order,
    parse_meetings,
    parse_types,
    parse_users,
    past_auto_delete,
    plan_from_warehouse,
    plan_meets_from_api,
    plan_zoom_from_api,
    plan_zoom_meetings,
    warehouse_has_recordings,
)
from pipelines.recordings.settings import RecordingsSettings, load_settings
from pipelines.recordings.stream import VerificationError, stream_copy

log = logging.getLogger("pipelines.recordings")

RETRY_DELAYS = (1.0, 4.0, 10.0)


class Interrupted(Exception):
    """The run is stopping (Ctrl-C or a spent daily budget); the current file is aborted."""


# ------------------------------------------------------------------------------------ summary
@dataclass
class RunSummary:
    """What a run did (or, with ``dry_run``, would do)."""

    dest: str
    dry_run: bool
    plan_source: str
    listed_files: int = 0  # every file the plan source lists under the filters, copied or not
    listed_bytes: int = 0
    unknown_size_files: int = 0
    already_copied: int = 0
    already_gone: int = 0
    todo_files: int = 0
    todo_bytes: int = 0
    copied: int = 0
    copied_bytes: int = 0
    failed: int = 0
    gone: int = 0
    skipped: int = 0
    cleaned_up: int = 0
    expiring_soon: int = 0  # files to copy whose recording Zoom auto-deletes within the warning window
    expiring_first: str | None = None  # the first of those auto-delete dates
    expiring_not_copied: int = 0  # of those, still not copied when the run ended
    past_auto_delete: int = 0  # files to copy whose recording's auto-delete date has come already
    requests: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)
    inventory: dict[str, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.copied_bytes / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.stopped is None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["throughput_bytes_per_second"] = round(self.throughput, 1)
        return out


# ------------------------------------------------------------------------------------ clients
@dataclass
class Clients:
    """HTTP clients of one run, built lazily for the sources the plan needs."""

    zoom_api: Any = None
    zoom: Any = None
    zoom_downloads: ZoomDownloads | None = None
    meets: Any = None
    meets_downloads: MeetsDownloads | None = None
    closers: list = field(default_factory=list)

    def requests_sent(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        apis = []
        if self.zoom_api is not None:
            apis.append(self.zoom_api)
        if self.zoom_downloads is not None:
            apis.extend(self.zoom_downloads.clients)
        if self.meets_downloads is not None:
            apis.append(self.meets_downloads.api)
        for api in apis:
            for category, counts in api.stats.items():
                totals[category] += counts.get("sent", 0)
        if self.meets is not None:
            totals[self.meets.category] += self.meets.http_stats.get("sent", 0)
        return dict(sorted(totals.items()))

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception:
                log.debug("closing a client failed", exc_info=True)


def tune_malloc(threshold: int = 1 << 20) -> bool:
    """Make glibc serve allocations of ``threshold`` bytes and more with ``mmap`` (and give them
    back to the OS on ``free``).

    Why: multipart part buffers are a few MB each and are allocated and freed hundreds of times per
    GB. glibc's *dynamic* mmap threshold rises after the first such free, after which these buffers
    come from the heap arenas of the worker threads, where fragmentation makes the process grow
    with the file size. A fixed threshold keeps the peak RSS flat. No-op off glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_mmap_threshold = -3
        return bool(libc.mallopt(m_mmap_threshold, int(threshold)))
    except (OSError, AttributeError):
        return False


def build_zoom(clients: Clients, extra_download_hosts: Sequence[str] = ()) -> None:
    """Zoom REST client + download opener from ``[sources.zoom]`` (the sandbox without credentials),
    wired like the Zoom source: the process-wide limiter of the account, the daily budget ledger."""
    from pipelines.zoom.client import encode_meeting_id
    from pipelines.zoom.pipeline import build_client
    from pipelines.zoom.settings import load_settings as zoom_settings

    settings = zoom_settings()
    budget = settings.budget()
    clients.closers.append(budget.close)
    zoom = build_client(settings, budget=budget)
    clients.closers.append(zoom.api.close)
    clients.zoom_api = zoom.api
    clients.zoom = zoom
    hosts = [*settings.download_hosts, *extra_download_hosts]
    clients.zoom_downloads = ZoomDownloads(zoom.api, hosts, encode_uuid=encode_meeting_id)
    clients.closers.append(clients.zoom_downloads.close)


def build_meets(clients: Clients) -> None:
    """MEETS client + download opener from ``[sources.meets]`` (the sandbox without a token)."""
    from pipelines.api_client import RequestBudget
    from pipelines.meets.pipeline import build_client
    from pipelines.meets.settings import load_settings as meets_settings
    from pipelines.paths import ledger_path

    settings = meets_settings()
    budget = RequestBudget(ledger_path(), groups=[])
    clients.closers.append(budget.close)
    meets = build_client(settings, budget=budget)
    clients.closers.append(meets.close)
    clients.meets = meets
    clients.meets_downloads = MeetsDownloads(meets.api)


# ------------------------------------------------------------------------------------ progress
class Progress:
    """Live files/bytes/throughput bar on stderr (rich), or nothing when ``enabled`` is false."""

    def __init__(self, enabled: bool, total_files: int, total_bytes: int) -> None:
        self._lock = threading.Lock()
        self.files_done = 0
        self.total_files = total_files
        self._progress = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            TextColumn("[bold]recordings[/bold] {task.fields[files]}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("copy", total=total_bytes or None, files=self._files_text())
        self._progress.start()

    def _files_text(self) -> str:
        return f"files {self.files_done}/{self.total_files}"

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def grow(self, n: int) -> None:
        """Add bytes to the total (files whose size was unknown until their response arrived)."""
        if self._progress is not None and n > 0:
            with self._lock:
                task = self._progress.tasks[0]
                self._progress.update(self._task, total=(task.total or 0) + n)

    def file_done(self) -> None:
        with self._lock:
            self.files_done += 1
            if self._progress is not None:
                self._progress.update(self._task, files=self._files_text())

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


# ------------------------------------------------------------------------------------ the run
class _Run:
    def __init__(
        self,
        settings: RecordingsSettings,
        dest: Destination,
        inventory: Inventory,
        clients: Clients,
        summary: RunSummary,
        progress: Progress,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.settings = settings
        self.dest = dest
        self.root = dest.root
        self.inventory = inventory
        self.clients = clients
        self.summary = summary
        self.progress = progress
        self.retry_delays = retry_delays
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._resolved: dict[str, ResolvedMeeting | SourceGone] = {}
        self._meeting_locks: dict[str, threading.Lock] = {}
        self.meta: MetaWriter | None = None
        self.unsettled: Counter[str] = Counter()

    # -------------------------------------------------------------- Zoom look-ups
    def _meeting_lock(self, uuid: str) -> threading.Lock:
        with self._lock:
            return self._meeting_locks.setdefault(uuid, threading.Lock())

    def resolve(self, uuid: str) -> ResolvedMeeting:
        assert self.clients.zoom_downloads is not None
        with self._meeting_lock(uuid):
            cached = self._resolved.get(uuid)
            if cached is None:
                try:
                    cached = self.clients.zoom_downloads.resolve(uuid)
                except SourceGone as exc:
                    cached = exc
                self._resolved[uuid] = cached
        if isinstance(cached, SourceGone):
            raise cached
        return cached

    def forget(self, uuid: str | None) -> None:
        if uuid:
            with self._lock:
                self._resolved.pop(uuid, None)

    # -------------------------------------------------------------- one file
    def _opener(self, f: PlannedFile) -> tuple[Any, int | None]:
        """``(open_at, expected_size)`` with fresh URLs and tokens."""
        if f.source == MEETS:
            assert self.clients.meets_downloads is not None and f.recording_id is not None
            return self.clients.meets_downloads.opener(f.recording_id), None
        assert self.clients.zoom_downloads is not None and f.meeting_uuid is not None
        try:
            meeting = self.resolve(f.meeting_uuid)
        except SourceGone:
            if f.is_trashed:
                raise NotDownloadable(
                    "in the Zoom trash: Zoom does not serve trashed recordings; recover it in Zoom "
                    "(Recordings -> Trash) and rerun to copy it"
                ) from None
            raise
        fresh = match_fresh_file(f, meeting.files)
        if fresh is None:
            raise SourceGone(f"Zoom no longer lists this file for meeting {f.meeting_uuid}")
        status = str(fresh.get("status") or "completed").lower()
        if status != "completed" or not fresh.get("file_type"):
            raise NotDownloadable(f"Zoom is still processing this file (status {status!r}); rerun later")
        url = fresh.get("download_url")
        if not url:
            raise NotDownloadable("Zoom lists no download_url (on-premise recordings are not downloadable)")
        expected = None
        if fresh.get("id") and fresh.get("file_size") not in (None, ""):
            expected = int(fresh["file_size"])
        return self.clients.zoom_downloads.opener(meeting, url), expected

    def _chunks(self, open_at: Any, what: str, grow_total: bool) -> Iterator[bytes]:
        def on_open(length: int | None) -> None:
            if grow_total and length is not None:
                self.progress.grow(length)  # sizes nobody declared join the total when known

        for chunk in resumable_chunks(open_at, what=what, on_open=on_open):
            if self.stop.is_set():
                raise Interrupted("the run is stopping")
            yield chunk

    def copy_one(self, f: PlannedFile) -> None:
        key = f.key
        for attempt in itertools.count(1):
            if self.stop.is_set():
                return
            self.inventory.start(key, self.root)
            counted = 0

            def on_progress(n: int) -> None:
                nonlocal counted
                counted += n
                self.progress.advance(n)

            try:
                open_at, expected = self._opener(f)
                chunks = self._chunks(open_at, f.relative_path, f.expected_size is None and attempt == 1)
                first = next(chunks, b"")  # the request happens here: no temporary object yet

                def hook(temp_url: str | None, upload_id: str | None) -> None:
                    self.inventory.set_temporary(key, self.root, temp_url=temp_url, upload_id=upload_id)

                upload = self.dest.open_upload(f.relative_path, hook, size_hint=expected)
                result = stream_copy(
                    itertools.chain([first], chunks), upload, expected_size=expected, on_progress=on_progress
                )
            except SourceGone as exc:
                self._finish(f, GONE, str(exc), counted)
                return
            except NotDownloadable as exc:
                self._finish(f, SKIPPED, str(exc), counted)
                return
            except Interrupted:
                self.progress.advance(-counted)
                self.inventory.reset_status(key, self.root, PLANNED)
                return
            except RateBudgetExceeded as exc:
                self.progress.advance(-counted)
                self.summary.stopped = str(exc)
                self.stop.set()
                return
            except (AuthError, HostNotAllowed) as exc:
                self.forget(f.meeting_uuid)
                self._finish(f, FAILED, str(exc), counted)
                return
            except (ApiError, VerificationError, RestartRequired, OSError) as exc:
                # transient or verification failure: the file starts over (fresh URLs/token)
                self.progress.advance(-counted)
                self.forget(f.meeting_uuid)
                if attempt >= self.settings.max_attempts:
                    self._finish(f, FAILED, f"{type(exc).__name__}: {exc}", 0)
                    return
                delay = self.retry_delays[min(attempt - 1, len(self.retry_delays) - 1)]
                log.info("%s failed (%s); retrying in %.0fs", f.relative_path, exc, delay)
                if self.stop.wait(delay):
                    return
                continue
            except Exception as exc:  # a bug must cost one file, not the run (and is logged in full)
                log.exception("unexpected error while copying %s", f.relative_path)
                self._finish(f, FAILED, f"unexpected {type(exc).__name__}: {exc}", counted)
                return
            self.inventory.copied(
                key, self.root, size=result.size, sha256=result.sha256, dest_url=result.final_url
            )
            with self._lock:
                self.summary.copied += 1
                self.summary.copied_bytes += result.size
            self.progress.file_done()
            self._settled(f)
            return

    def _finish(self, f: PlannedFile, status: str, message: str, counted: int) -> None:
        self.progress.advance(-counted)
        {FAILED: self.inventory.failed, GONE: self.inventory.gone, SKIPPED: self.inventory.skipped}[status](
            f.key, self.root, message
        )
        with self._lock:
            if status == FAILED:
                self.summary.failed += 1
                if len(self.summary.errors) < 20:
                    self.summary.errors.append(f"{f.relative_path}: {message}")
            elif status == GONE:
                self.summary.gone += 1
            else:
                self.summary.skipped += 1
        self.progress.file_done()
        self._settled(f)

    # -------------------------------------------------------------- meta.json
    def _settled(self, f: PlannedFile) -> None:
        """One file of the run reached its verdict: when it was its folder's last, the folder's
        meta.json is brought up to date now (a later crash then costs no meta.json of it)."""
        with self._lock:
            left = self.unsettled[f.folder] = self.unsettled[f.folder] - 1
        if left == 0 and self.meta is not None:
            try:
                self.meta.folder(f.folder)
            except Exception:  # meta.json is rebuilt at the end of the run (and by any later run)
                log.debug("could not update %s/meta.json during the run", f.folder, exc_info=True)


# ------------------------------------------------------------------------------------ entry point
def run_recordings(
    *,
    dest: str | None = None,
    types: str | Sequence[str] | None = None,
    video_only: bool = False,
    users: str | Sequence[str] | None = None,
    date_from: date | str | None = None,
    date_to: date | str | None = None,
    include_trash: bool = False,
    dry_run: bool = False,
    max_concurrent: int | None = None,
    plan_from: str | None = None,
    sources: Sequence[str] | str | None = None,
    retry_gone: bool = False,
    s3_endpoint_url: str | None = None,
    warehouse: str | None = None,
    progress: bool | None = None,
    print_summary: bool = True,
    settings: RecordingsSettings | None = None,
    meetings: str | Sequence[str] | None = None,
) -> RunSummary:
    """Copy recording files to ``dest`` (see module docstring); returns the run's summary.

    CLI mapping: ``--dest``, ``--types``, ``--video-only``, ``--users``, ``--from``, ``--to``,
    ``--include-trash``, ``--dry-run``, ``--max-concurrent``, ``--plan-from``, ``--sources``,
    ``--retry-gone``, ``--s3-endpoint-url``, ``--meetings``. ``progress=None`` shows the live bar on
    a terminal. ``meetings`` (Zoom UUIDs) plans only those meeting instances, from the API.
    """
    from pipelines.paths import warehouse_path

    started = time.monotonic()
    tune_malloc()
    settings = settings or load_settings(
        dest=dest, max_concurrent=max_concurrent, plan_from=plan_from, s3_endpoint_url=s3_endpoint_url
    )
    wanted_sources = _parse_sources(sources)
    only_meetings = parse_meetings(meetings)
    if only_meetings is not None:
        if ZOOM not in wanted_sources:
            raise ValueError(
                "--meetings takes Zoom meeting UUIDs; it cannot be combined with --sources meets"
            )
        wanted_sources = frozenset({ZOOM})
    flt = PlanFilter(
        types=parse_types(types, video_only),
        users=parse_users(users),
        date_from=_as_date(date_from, "--from"),
        date_to=_as_date(date_to, "--to"),
        include_trash=include_trash,
        sources=wanted_sources,
        meetings=only_meetings,
    )
    root = normalize_root(settings.dest)
    inventory = Inventory.open(warehouse or warehouse_path(), read_only=dry_run)
    clients = Clients()
    summary = RunSummary(dest=root, dry_run=dry_run, plan_source="")
    try:
        files, planning_requests = _plan(settings, flt, inventory, clients, summary)
        known_rows = inventory.rows(root)
        dest_obj = open_destination(settings.dest, settings.storage_options())
        known_paths = {k: rel for k, r in known_rows.items() if (rel := relative_to(root, r.dest_url))}
        files = order(assign_paths(files, known_paths))
        todo: list[PlannedFile] = []
        for f in files:
            row = known_rows.get(f.key)
            summary.listed_files += 1
            if f.expected_size is None:
                summary.unknown_size_files += 1
            else:
                summary.listed_bytes += f.expected_size
            if row is not None and row.status == COPIED:
                summary.already_copied += 1
                continue
            if row is not None and row.status == GONE and not retry_gone:
                summary.already_gone += 1
                continue
            todo.append(f)
            summary.todo_bytes += f.expected_size or 0
        summary.todo_files = len(todo)
        # warnings only about files still to copy, and only for auto-delete dates still ahead
        today = clock.today()
        soon = expiring_soon(todo, today, settings.auto_delete_warn_days)
        summary.expiring_soon = len(soon)
        if soon:
            summary.expiring_first = min(f.auto_delete_date for f in soon if f.auto_delete_date).isoformat()
            log.warning(
                "%d file(s) of recordings Zoom auto-deletes within %d days (first on %s) are not copied "
                "yet; they come early in the plan",
                len(soon),
                settings.auto_delete_warn_days,
                summary.expiring_first,
            )
        summary.past_auto_delete = len(past_auto_delete(todo, today))
        if summary.past_auto_delete:
            log.info(
                "%d file(s) not copied yet belong to recordings whose auto-delete date has passed (Zoom may "
                "have moved them to the trash already); they come first in the plan",
                summary.past_auto_delete,
            )
        if dry_run:
            summary.requests = _estimate_requests(todo, planning_requests)
            summary.seconds = time.monotonic() - started
            if print_summary:
                _print_dry_run(summary, todo)
            return summary

        dest_urls = {f.key: dest_obj.url_for(f.relative_path) for f in files}
        inventory.plan(files, root, dest_urls)
        meetings: dict[str, tuple[str, str]] = {}
        for f in files:
            if f.folder not in meetings:
                meetings[f.folder] = (f.source, meeting_json(f.meeting_meta))
        inventory.plan_folders(root, meetings)
        summary.cleaned_up = _cleanup(dest_obj, inventory, root, [dest_urls[f.key] for f in todo])
        if todo:
            _ensure_clients(clients, {f.source for f in todo}, settings)
        show = progress if progress is not None else _is_terminal()
        bar = Progress(show, len(todo), summary.todo_bytes)
        run = _Run(settings, dest_obj, inventory, clients, summary, bar)
        run.meta = MetaWriter(dest_obj, inventory, root)
        run.unsettled.update(f.folder for f in todo)
        try:
            with ThreadPoolExecutor(settings.max_concurrent, thread_name_prefix="recordings") as pool:
                futures = [pool.submit(run.copy_one, f) for f in todo]
                try:
                    for future in futures:
                        future.result()
                except BaseException:
                    run.stop.set()
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            bar.stop()
            try:
                run.meta.all()
            except Exception as exc:  # never mask the run's own outcome; the next run rewrites them
                log.warning("could not bring the meta.json files up to date: %s", exc)
            finally:
                dest_obj.close()
        summary.requests = clients.requests_sent()
        summary.inventory = inventory.counts(root)
        if soon:
            after = inventory.rows(root)
            summary.expiring_not_copied = sum(
                1 for f in soon if (row := after.get(f.key)) is None or row.status != COPIED
            )
        summary.seconds = time.monotonic() - started
        if print_summary:
            _print_summary(summary)
        return summary
    finally:
        clients.close()
        inventory.close()


def _plan(
    settings: RecordingsSettings,
    flt: PlanFilter,
    inventory: Inventory,
    clients: Clients,
    summary: RunSummary,
) -> tuple[list[PlannedFile], int]:
    if flt.meetings is not None:  # a targeted run (e.g. from a recording.completed webhook)
        _ensure_clients(clients, {ZOOM}, settings)
        files, calls, missing = plan_zoom_meetings(
            clients.zoom, flt, host_emails_from_warehouse(inventory.con)
        )
        for uuid in missing:
            log.warning(
                "Zoom has no recording of meeting %s (not recorded, still processing, or deleted)", uuid
            )
        summary.plan_source = "api"
        return files, calls
    mode = settings.plan_from
    have = warehouse_has_recordings(inventory.con) if mode != "api" else {ZOOM: False, MEETS: False}
    files: list[PlannedFile] = []
    requests = 0
    used: set[str] = set()
    for source in sorted(flt.sources):
        from_warehouse = mode == "warehouse" or (mode == "auto" and have[source])
        if from_warehouse:
            if not have[source]:
                raise RuntimeError(
                    f"--plan-from warehouse: the warehouse has no {source} recording tables yet; run "
                    "`make load` first or use --plan-from api"
                )
            files.extend(plan_from_warehouse(inventory.con, _only(flt, source)))
            used.add("warehouse")
        else:
            _ensure_clients(clients, {source}, settings)
            today = clock.today()
            if source == ZOOM:
                got, n = plan_zoom_from_api(clients.zoom, flt, today)
            else:
                got, n = plan_meets_from_api(clients.meets, flt, today)
            files.extend(got)
            requests += n
            used.add("api")
    summary.plan_source = "+".join(sorted(used)) or "none"
    return files, requests


def _only(flt: PlanFilter, source: str) -> PlanFilter:
    from dataclasses import replace

    return replace(flt, sources=frozenset({source}))


def _ensure_clients(clients: Clients, sources: set[str], settings: RecordingsSettings) -> None:
    if ZOOM in sources and clients.zoom_api is None:
        build_zoom(clients, settings.zoom_download_hosts)
    if MEETS in sources and clients.meets is None:
        build_meets(clients)


def _cleanup(dest: Destination, inventory: Inventory, root: str, todo_urls: list[str]) -> int:
    """Remove what killed runs left: recorded temporaries first, then unrecorded orphans."""
    cleaned = 0
    for row in inventory.in_flight(root):
        try:
            dest.cleanup(row.dest_url, row.temp_url, row.upload_id)
            inventory.set_temporary(row.key, root, temp_url=None, upload_id=None)
            cleaned += 1
        except Exception as exc:
            log.warning("could not clean up after an interrupted copy of %s: %s", row.dest_url, exc)
    if todo_urls:
        cleaned += dest.cleanup_orphans(todo_urls)
    if cleaned:
        log.info("removed %d temporary object(s)/upload(s) left by an interrupted run", cleaned)
    return cleaned


def _estimate_requests(todo: list[PlannedFile], planning: int) -> dict[str, int]:
    zoom = [f for f in todo if f.source == ZOOM]
    meetings = {f.meeting_uuid for f in zoom}
    meets = [f for f in todo if f.source == MEETS]
    return {
        "planning": planning,
        "zoom_meeting_lookups": len(meetings),
        "zoom_downloads": len(zoom),
        "meets_downloads": len(meets),
        "meets_redirect_hops": len(meets),
        "total": planning + len(meetings) + len(zoom) + 2 * len(meets),
    }


def _parse_sources(value: Sequence[str] | str | None) -> frozenset[str]:
    if not value:
        return frozenset({ZOOM, MEETS})
    items = value.split(",") if isinstance(value, str) else [x for v in value for x in v.split(",")]
    out = frozenset(i.strip().lower() for i in items if i.strip())
    unknown = out - {ZOOM, MEETS}
    if unknown:
        raise ValueError(f"unknown source(s) {sorted(unknown)} in --sources; use zoom and/or meets")
    return out


def _as_date(value: date | str | None, flag: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{flag} must be a date (YYYY-MM-DD), got {value!r}") from None


def _is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n} B"


def _print_dry_run(summary: RunSummary, todo: list[PlannedFile]) -> None:
    """What a run would copy: only files not copied yet (already copied ones are a count, never listed)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Dry run: would copy to {summary.dest}", show_lines=False)
    for col in ("source", "file type", "files", "bytes (declared)", "size unknown"):
        table.add_column(col, justify="right" if col not in ("source", "file type") else "left")
    groups: dict[tuple[str, str], list[PlannedFile]] = {}
    for f in todo:
        groups.setdefault((f.source, f.file_type), []).append(f)
    for (source, ftype), members in sorted(groups.items()):
        known = sum(f.expected_size or 0 for f in members)
        unknown = sum(1 for f in members if f.expected_size is None)
        table.add_row(source, ftype, str(len(members)), _human(known), str(unknown))
    console.print(table)
    req = summary.requests
    console.print(
        f"listed from {summary.plan_source}: {summary.listed_files} files, of which {summary.already_copied} "
        f"already copied and {summary.already_gone} gone; would copy {summary.todo_files} files, "
        f"{_human(summary.todo_bytes)} declared (+{sum(1 for f in todo if f.expected_size is None)} of unknown "
        f"size); requests: {req.get('total', 0)} ({req.get('planning', 0)} planning, "
        f"{req.get('zoom_meeting_lookups', 0)} Zoom meeting look-ups, {req.get('zoom_downloads', 0)} Zoom "
        f"downloads, {req.get('meets_downloads', 0)} MEETS downloads + redirects)"
    )
    if summary.expiring_soon:
        console.print(
            f"[yellow]warning:[/yellow] {summary.expiring_soon} file(s) not copied yet belong to recordings Zoom "
            f"auto-deletes soon (first on {summary.expiring_first}); they are copied early"
        )
    if summary.past_auto_delete:
        console.print(
            f"[yellow]note:[/yellow] {summary.past_auto_delete} file(s) not copied yet belong to recordings whose "
            "auto-delete date has passed (Zoom may have moved them to the trash already)"
        )
    for f in todo[:20]:
        console.print(
            f"  {f.relative_path}  ({_human(f.expected_size) if f.expected_size is not None else 'size unknown'})"
        )
    if len(todo) > 20:
        console.print(f"  ... and {len(todo) - 20} more")


def _print_summary(summary: RunSummary) -> None:
    from rich.console import Console

    console = Console()
    rate = _human(summary.throughput) + "/s"
    console.print(
        f"recordings -> {summary.dest}: copied {summary.copied} files ({_human(summary.copied_bytes)}, {rate}) in "
        f"{summary.seconds:.1f}s; already there {summary.already_copied}; failed {summary.failed}; "
        f"gone at source {summary.gone + summary.already_gone}; skipped {summary.skipped}; "
        f"cleaned up {summary.cleaned_up} leftovers; requests {sum(summary.requests.values())} {summary.requests}"
    )
    if summary.expiring_not_copied:
        console.print(
            f"[yellow]warning:[/yellow] {summary.expiring_not_copied} file(s) of recordings Zoom auto-deletes soon "
            f"(first on {summary.expiring_first}) are still not copied; rerun before that date"
        )
    if summary.stopped:
        console.print(f"[red]stopped early:[/red] {summary.stopped}")
    for error in summary.errors:
        console.print(f"[red]failed:[/red] {error}")
