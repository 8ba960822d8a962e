"""The Zoom dlt source: users, active hosts, meeting series, past meetings, participant sessions,
per-minute QoS and cloud-recording metadata, loaded incrementally into ``zoom_raw``.

Shape of one run (``docs/raw_schema.md`` is the contract for tables, keys and columns):

* ``users`` lists every status; ``meeting_series`` and ``recordings`` are transformers of it (one
  call per user that can host), ``active_hosts`` reads the active-hosts report per calendar month.
* ``meetings`` lists the dashboard's past meetings per calendar-month window, incrementally on
  ``end_time`` (``dlt.sources.incremental`` with a ``lookback_days`` lag, so late-finalised
  meetings are picked up; merge on ``uuid`` keeps that idempotent). A first run starts at
  ``start_date`` (default: as far back as Zoom serves, six months).
* ``meeting_details`` is a transformer of ``meetings``: for every finished meeting *not fetched
  before* it calls the participants and QoS endpoints once and writes ``participant_sessions``,
  ``participant_qos`` (Arrow, see :mod:`pipelines.zoom.qos`) and ``meeting_fetch_log``. Which
  meetings are done or still pending lives in the source state, so a second run makes no
  per-meeting calls and a run stopped by the daily budget resumes exactly where it stopped.
* A *targeted* run (``HarvestContext.only_meetings``, ``load --source zoom --meetings``) has just
  ``meetings`` (see :func:`_targeted_meetings`) and the same ``meeting_details``, which then reads
  the book without changing it: the regular run's state is never touched by a targeted one.

Errors: the first :class:`~pipelines.api_client.ApiError` (budget spent, credentials refused,
API down) stops every resource *cleanly*: what was fetched so far is still loaded, with state that
matches it, and :func:`pipelines.zoom.pipeline.run_zoom_load` raises the error afterwards. A 404 on
one meeting skips that meeting (logged in ``meeting_fetch_log``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dlt
import orjson

from pipelines import clock
from pipelines import quarantine as q
from pipelines.api_client import HEAVY, MEDIUM, ApiError, NotFound, RateBudgetExceeded
from pipelines.zoom.client import (
    USER_STATUSES,
    ZoomClient,
    earliest_allowed_date,
    is_hosting_not_allowed,
    month_start,
    month_windows,
    zoom_error_of,
)
from pipelines.zoom.journal import FetchJournal, listing_key, settled
from pipelines.zoom.qos import QosColumns, parse_zoom_timestamp, unique_minutes, with_dlt_columns
from pipelines.zoom.schema import (
    ACTIVE_HOSTS_COLUMNS,
    MEETINGS_COLUMNS,
    RECORDING_FILES_COLUMNS,
    RECORDINGS_COLUMNS,
    SERIES_COLUMNS,
    SESSIONS_COLUMNS,
    TABLES,
    USERS_COLUMNS,
    _text,
    _ts,
)

log = logging.getLogger("pipelines.zoom")

T = TypeVar("T")

QOS_FLUSH_ROWS = 50_000
"""Hand QoS to dlt in Arrow tables of about this many rows (fewer, larger Parquet writes)."""
SESSIONS_FLUSH_ROWS = 10_000
"""...and sessions in lists of about this many, so a month of a large account stays small in memory."""

# Keys that are secrets wherever they appear in a Zoom payload: never loaded.
SECRET_KEYS = frozenset(
    {
        "password",
        "recording_play_passcode",
        "download_access_token",
        "download_token",
        "encrypted_password",
        "h323_password",
        "pstn_password",
        "start_url",
        "host_key",
        "zak",
    }
)
MEETING_NOT_FOUND_CODE = 3001
"""Zoom's error code for "Meeting does not exist" (``GET /past_meetings/{uuid}``, 404)."""
_SECRET_QUERY_PARAMS = ("pwd", "passcode", "password", "token", "access_token", "tk", "zak")


# ----------------------------------------------------------------------------- tables
def table_hints(table: str) -> Any:
    """dlt hints of one ``zoom_raw`` table (:mod:`pipelines.zoom.schema`): merge on its key, typed columns."""
    spec = TABLES[table]
    return dlt.mark.make_hints(
        table_name=table,
        write_disposition="merge",
        primary_key=spec["primary_key"],
        columns=spec["columns"],
        additional_table_hints=spec.get("table_hints"),
    )


def to_table(table: str, rows: Any) -> Any:
    """Mark ``rows`` (a page, an Arrow table or ``materialize_table_schema()``) for ``table``.

    Hints travel with the items (a table variant per item), never on the resources: a resource's
    own hints would leak into its ``quarantine`` variant.
    """
    return dlt.mark.with_hints(rows, table_hints(table), create_table_variant=True)


def materialize(*tables: str) -> Iterator[Any]:
    """Empty items that create ``tables`` with every contract column, whether or not rows follow:
    an account without recordings still has a ``recordings`` table the models can read."""
    for table in tables:
        yield to_table(table, dlt.mark.materialize_table_schema())


# ----------------------------------------------------------------------------- pure shaping
def strip_secret_query(url: str | None) -> str | None:
    """Drop passcode/token query parameters from a URL (``share_url``/``join_url`` carry ``pwd=``)."""
    if not url or "?" not in url:
        return url
    parts = urlsplit(url)
    kept = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _SECRET_QUERY_PARAMS
    ]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _clean(item: Mapping[str, Any], timestamps: tuple[str, ...] = ()) -> dict[str, Any]:
    """Copy without secret keys; ``""`` timestamps become null (Zoom sends ``""`` while in progress)."""
    row = {k: v for k, v in item.items() if k not in SECRET_KEYS}
    for key in timestamps:
        if row.get(key) == "":
            row[key] = None
    return row


def recording_file_key(file: Mapping[str, Any], meeting_uuid: str) -> str:
    """Primary key of a recording file: Zoom's ``id``, or (CC/TIMELINE files have none) a stable hash
    of meeting uuid + file type + recording start + download URL path (``docs/raw_schema.md``)."""
    file_id = file.get("id")
    if file_id:
        return str(file_id)
    path = urlsplit(str(file.get("download_url") or "")).path
    basis = "|".join(
        (meeting_uuid, str(file.get("file_type") or ""), str(file.get("recording_start") or ""), path)
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def recording_in_progress(item: Mapping[str, Any]) -> bool:
    """Zoom lists a recording while it is still processing: files with an empty ``file_type`` or
    ``recording_end`` (a 2021 capture), or a ``status`` other than ``completed``. Such a recording is
    loaded by a later run, once complete."""
    for f in item.get("recording_files") or ():
        if not isinstance(f, Mapping):
            continue
        if f.get("file_type") == "" or f.get("recording_end") == "":
            return True
        status = f.get("status")
        if isinstance(status, str) and status and status != "completed":
            return True
    return False


def _start_day(item: Mapping[str, Any]) -> dt.date | None:
    try:
        started = parse_zoom_timestamp(str(item.get("start_time") or ""))
    except ValueError:
        return None
    return started.date() if started is not None else None


def shape_recording(item: Mapping[str, Any], *, trashed: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A recordings-list item -> (``recordings`` row, ``recording_files`` rows); never the passcode.

    ``type`` is a string in Zoom's spec and an integer in real payloads: both become the integer.
    ``recording_count`` is kept as sent; it is not the number of files (summaries are not counted).
    """
    uuid = str(item["uuid"])
    row = _clean(item)
    if isinstance(row.get("type"), str) and row["type"].strip().isdigit():
        row["type"] = int(row["type"])
    row.pop("recording_files", None)
    row.pop("participant_audio_files", None)
    row["has_passcode"] = bool(item.get("recording_play_passcode") or item.get("password"))
    row["is_trashed"] = trashed
    row["share_url"] = strip_secret_query(row.get("share_url"))
    if row.get("auto_delete_date") == "":
        row["auto_delete_date"] = None
    files = []
    for f in item.get("recording_files") or ():
        frow = _clean(f, ("recording_start", "recording_end", "deleted_time"))
        frow["file_key"] = recording_file_key(f, str(f.get("meeting_id") or uuid))
        frow["meeting_uuid"] = str(frow.pop("meeting_id", None) or uuid)
        frow["recording_uuid"] = uuid
        frow["download_url"] = strip_secret_query(frow.get("download_url"))
        frow["play_url"] = strip_secret_query(frow.get("play_url"))
        frow["is_trashed"] = trashed
        files.append(frow)
    return row, files


def user_key(item: Mapping[str, Any]) -> str | None:
    """Primary key of a user: Zoom's ``id``, else (pending users have none) ``email:<email>``."""
    uid = item.get("id")
    if isinstance(uid, str) and uid.strip():
        return uid
    email = item.get("email")
    if isinstance(email, str) and email.strip():
        return f"email:{email.strip().lower()}"
    return None


def user_ref(user: Mapping[str, Any]) -> str | None:
    """What ``/users/{userId}/...`` accepts for a user: the id, else the email (Zoom takes both)."""
    for key in ("id", "email"):
        value = user.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def shape_user(item: Mapping[str, Any]) -> dict[str, Any]:
    row = _clean(item, ("created_at", "user_created_at", "last_login_time"))
    key = user_key(item)
    if key is not None:
        row["user_key"] = key
    return row


def shape_session(meeting_uuid: str, participant: Mapping[str, Any]) -> dict[str, Any]:
    row = _clean(participant, ("join_time", "leave_time"))
    row["meeting_uuid"] = meeting_uuid
    row["user_id"] = str(row.get("user_id") or "")
    return row


def shape_meeting(item: Mapping[str, Any], dashboard_type: str) -> dict[str, Any]:
    row = _clean(item, ("start_time", "end_time"))
    row["dashboard_type"] = dashboard_type
    return row


def shape_series(item: Mapping[str, Any], detail: Mapping[str, Any] | None) -> dict[str, Any]:
    row = _clean(item, ("start_time", "created_at"))
    row["join_url"] = strip_secret_query(row.get("join_url"))
    if detail and isinstance(detail.get("recurrence"), Mapping):
        row["recurrence"] = dict(detail["recurrence"])
    return row


def series_fingerprint(item: Mapping[str, Any]) -> str:
    """Changes when a listed series changes (so its row, and its detail, are refreshed)."""
    basis = "|".join(f"{k}={item.get(k)}" for k in sorted(item) if k not in SECRET_KEYS)
    return hashlib.sha1(basis.encode()).hexdigest()[:16]


def iso_utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start_iso(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def qos_requests_for(participants: int | None) -> int:
    """Heavy requests one meeting's details cost: participants (300/page) + QoS (10/page)."""
    n = max(0, int(participants or 0))
    return max(1, -(-n // 300)) + max(1, -(-n // 10))


# ----------------------------------------------------------------------------- record checks
USER_STATUSES_KNOWN = ("active", "inactive", "pending")
ENDPOINTS = {
    "users": "/users",
    "active_hosts": "/report/users",
    "meeting_series": "/users/{userId}/meetings",
    "meetings": "/metrics/meetings",
    "participant_sessions": "/metrics/meetings/{meetingId}/participants",
    "participant_qos": "/metrics/meetings/{meetingId}/participants/qos",
    "recordings": "/users/{userId}/recordings",
    "recording_files": "/users/{userId}/recordings",
}
"""Quarantine ``endpoint`` of each table: the Zoom API path the record came from."""


def check_user(row: Mapping[str, Any]) -> q.Problem | None:
    return q.first(q.check_row(row, USERS_COLUMNS), q.check_enum(row, "status", USER_STATUSES_KNOWN))


def check_meeting(row: Mapping[str, Any]) -> q.Problem | None:
    return q.first(
        q.check_row(row, MEETINGS_COLUMNS),
        q.check_row({"end_time": row.get("end_time")}, {"end_time": _ts(False)}),
        q.check_non_negative(row, "duration"),
        q.check_non_negative(row, "participants"),
        q.check_order(row, "start_time", "end_time"),
    )


def check_series(row: Mapping[str, Any]) -> q.Problem | None:
    return q.first(q.check_row(row, SERIES_COLUMNS), q.check_non_negative(row, "duration"))


def check_session(row: Mapping[str, Any]) -> q.Problem | None:
    return q.first(q.check_row(row, SESSIONS_COLUMNS), q.check_order(row, "join_time", "leave_time"))


def check_recording(item: Mapping[str, Any], row: Mapping[str, Any]) -> q.Problem | None:
    return q.first(
        q.check_list(item, "recording_files"),
        q.check_row(row, RECORDINGS_COLUMNS),
        q.check_non_negative(row, "duration"),
        q.check_non_negative(row, "total_size"),
    )


def check_recording_file(row: Mapping[str, Any]) -> q.Problem | None:
    return q.first(
        q.check_row(row, RECORDING_FILES_COLUMNS),
        q.check_non_negative(row, "file_size"),
        q.check_order(row, "recording_start", "recording_end"),
    )


def check_qos_participant(participant: Mapping[str, Any]) -> q.Problem | None:
    return q.first(
        q.check_row({"user_id": participant.get("user_id")}, {"user_id": _text(False)}),
        q.check_list(participant, "user_qos"),
    )


def check_qos_sample(sample: Mapping[str, Any]) -> q.Problem | None:
    return q.first(
        q.text_problem(sample), q.check_row({"date_time": sample.get("date_time")}, {"date_time": _ts(False)})
    )


def split_valid(
    rows: list[dict[str, Any]],
    check: Callable[[Mapping[str, Any]], q.Problem | None],
    quarantine: q.Quarantine,
    table: str,
    key: str | tuple[str, ...],
    seen: set | None = None,
) -> list[dict[str, Any]]:
    """The rows that pass ``check``; the others (and repeats of a key in ``seen``) are quarantined."""
    keys = (key,) if isinstance(key, str) else key
    good = []
    for row in rows:
        rid_parts = [row.get(k) for k in keys]
        rid = None if any(p in (None, "") for p in rid_parts) else "/".join(str(p) for p in rid_parts)
        problem = check(row)
        if problem is None and seen is not None and rid is not None:
            if rid in seen:
                problem = q.Problem(
                    keys[-1], f"duplicate key ({', '.join(keys)}) in one listing; first copy kept"
                )
            else:
                seen.add(rid)
        if problem is None:
            good.append(row)
        else:
            quarantine.add(ENDPOINTS[table], table, rid, problem, row)
    return good


# ----------------------------------------------------------------------------- run context
class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Returned by :meth:`HarvestContext.call` for a 404 when the caller asked for it."""
_STOP: Any = object()


@dataclass
class HarvestContext:
    """What the resources of one run share: the client, the dates, and what happened so far.

    Error policy: a spent daily budget (:class:`RateBudgetExceeded`) blocks only the categories it
    names (heavy and resource-intensive share one budget), so light/medium resources still finish;
    any other API error stops every resource. Either way each resource ends cleanly, everything
    fetched so far is loaded with state that matches it, and the first error is raised afterwards.
    """

    zoom: ZoomClient
    start_date: dt.date
    lookback_days: int = 2
    meeting_types: tuple[str, ...] = ("past",)
    today: dt.date = field(default_factory=clock.today)
    on_progress: Callable[[HarvestContext], None] | None = None
    error: ApiError | None = None
    error_where: str = ""
    fatal: bool = False
    blocked: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    phase: str = ""
    windows_left_from: dt.date | None = None
    quarantine: q.Quarantine = field(default_factory=lambda: q.Quarantine("zoom"))
    not_hosting: set[str] = field(default_factory=set)
    """Users Zoom refused to list series for (400/3161): reported once per run, then skipped."""
    journal: FetchJournal | None = None
    """Heavy answers kept on disk until loaded (:mod:`pipelines.zoom.journal`); ``None`` keeps none."""
    only_meetings: tuple[str, ...] | None = None
    """A targeted run: just these ended meeting instances (UUIDs), see :func:`zoom_source`."""

    @property
    def stopped(self) -> bool:
        """A non-budget error happened: every resource stops."""
        return self.fatal

    def is_blocked(self, category: str) -> bool:
        return self.fatal or category in self.blocked

    def _record(self, exc: ApiError, where: str) -> None:
        budget = isinstance(exc, RateBudgetExceeded)
        if budget:
            self.blocked.add(exc.category)
        else:
            self.fatal = True
        # Report the first error, unless a budget stop is followed by a real failure.
        if self.error is None or (not budget and isinstance(self.error, RateBudgetExceeded)):
            self.error, self.error_where = exc, where
            kind = "daily budget spent" if budget else type(exc).__name__
            log.warning("Zoom harvest stopping %s (%s); loading what was fetched so far", where, kind)

    def call(
        self,
        where: str,
        fn: Callable[..., T],
        *args: Any,
        missing: Any = _STOP,
        not_allowed: Any = _STOP,
        who: str = "",
    ) -> T | None:
        """Run one API call. On an API error record it and return ``None`` (the caller stops);
        on a 404 return ``missing`` if given (the caller skips the item); on Zoom's 400/3161 (the
        user may not host) return ``not_allowed`` if given and remember ``who`` for the summary."""
        if self.fatal:
            return None
        try:
            return fn(*args)
        except NotFound as exc:
            if missing is not _STOP:
                log.warning("Zoom returned 404 during %s; skipping that item (%s)", where, exc)
                return missing
            self._record(exc, where)
            return None
        except ApiError as exc:
            if not_allowed is not _STOP and is_hosting_not_allowed(exc):
                if who not in self.not_hosting:
                    self.not_hosting.add(who)
                    log.info("Zoom user %s may not host meetings (code 3161): no meeting series", who)
                return not_allowed
            self._record(exc, where)
            return None

    def settled_call(
        self, key: str, window_end: dt.date, where: str, fn: Callable[..., T], *args: Any
    ) -> T | None:
        """:meth:`call` for a listing window; a window that ends before the lookback (a completed
        run would not ask again) is kept in the journal, and taken from there by the next run."""
        keep = self.journal is not None and settled(window_end, self.today, self.lookback_days)
        if keep:
            kept = self.journal.get_doc(key)  # type: ignore[union-attr]
            if kept is not None:  # asked by an interrupted run
                return kept["answer"]
        got = self.call(where, fn, *args)
        if keep and got is not None:
            self.journal.put_doc(key, {"answer": got})  # type: ignore[union-attr]
        return got

    def budget_allows(self, category: str, requests: int) -> bool:
        """Whether today's budget still covers ``requests`` more calls in ``category``.

        Checked before a meeting's details, so a run never spends half a meeting's requests and
        leaves the rest (which would be fetched again) for the next day.
        """
        budget = self.zoom.api.budget
        if budget is None:
            return True
        group = budget.group_of(category)
        usage = budget.group_usage(group.name)
        if usage.remaining is None or usage.remaining >= requests:
            return True
        self._record(
            RateBudgetExceeded(
                category,
                used=usage.used,
                limit=usage.limit,
                resets_at=usage.resets_at,
                group=usage.group,
                detail=f"Daily request budget '{usage.group}' cannot cover the next meeting "
                f"({requests} {category} requests)",
            ),
            "meeting details",
        )
        return False

    def progress(self, phase: str | None = None) -> None:
        if phase is not None:
            self.phase = phase
        if self.on_progress is not None:
            self.on_progress(self)


def _details_book(read_only: bool = False) -> dict[str, dict[str, Any]]:
    """Which meetings' participants/QoS were fetched (``done``) or listed but not yet (``pending``).

    ``read_only`` (a targeted run) gives a copy: the regular load's book is read, never changed."""
    if read_only:
        kept = dlt.current.source_state().get("meeting_details") or {}
        return {"done": dict(kept.get("done") or {}), "pending": {}}
    book = dlt.current.source_state().setdefault("meeting_details", {})
    book.setdefault("done", {})
    book.setdefault("pending", {})
    return book


def _flush_details(sessions: list[dict], qos: QosColumns, fetch_log: list[dict]) -> Iterator[Any]:
    """Per-meeting results to their tables (state and data are committed together by dlt)."""
    if sessions:
        yield to_table("participant_sessions", sessions)
    if len(qos):
        table, repeats = unique_minutes(qos.to_arrow())
        if repeats:
            log.warning("Zoom listed %d QoS minutes twice for the same participant; each kept once", repeats)
        yield to_table("participant_qos", with_dlt_columns(table, _load_id()))
    if fetch_log:
        yield to_table("meeting_fetch_log", fetch_log)


def _load_id() -> str:
    """The load id of the package being extracted (dlt sets ``_dlt_load_id`` to it again)."""
    try:
        return str(dlt.current.load_package()["load_id"])
    except Exception:  # outside an extract: the extract step fills the column in
        return ""


def _drain(ctx: HarvestContext) -> Iterator[Any]:
    item = ctx.quarantine.drain()
    if item is not None:
        ctx.counts["quarantined"] = ctx.quarantine.total
        yield item


@functools.lru_cache(maxsize=65_536)
def _date_time_ok(value: str) -> bool:
    """``check_qos_sample``'s timestamp rule for one ``date_time`` (minutes repeat across participants)."""
    return q.check_row({"date_time": value}, {"date_time": _ts(False)}) is None


def _all_minutes_valid(minutes: Any) -> bool:
    """True only when :func:`check_qos_sample` passes every minute, decided in bulk: every minute an
    object with a valid ``date_time`` (memoised) and, for :func:`quarantine.text_problem`, no lone
    surrogate anywhere (orjson refuses to encode one) and no string longer than ``MAX_TEXT`` (none can
    be when the whole encoding is shorter). False means "check minute by minute", not "invalid"."""
    if not isinstance(minutes, list):
        return False
    for sample in minutes:
        if type(sample) is not dict:
            return False
        when = sample.get("date_time")
        if type(when) is not str or not _date_time_ok(when):
            return False
    try:
        if len(orjson.dumps(minutes)) <= q.MAX_TEXT:
            return True
        return all(len(orjson.dumps(sample)) <= q.MAX_TEXT for sample in minutes)
    except (orjson.JSONEncodeError, TypeError):
        return False


def valid_qos(uuid: str, listing: list[dict], quarantine: q.Quarantine) -> list[dict]:
    """QoS participants with their valid minutes; the rest quarantined (a participant without a
    minutes list as a whole, a minute without a zoned ``date_time`` or with bad text on its own)."""
    out = []
    for participant in listing:
        user_id = participant.get("user_id")
        problem = check_qos_participant(participant)
        if problem is not None:
            quarantine.add(
                ENDPOINTS["participant_qos"],
                "participant_qos",
                None if user_id in (None, "") else f"{uuid}/{user_id}",
                problem,
                participant,
            )
            continue
        minutes = participant.get("user_qos") or ()
        if _all_minutes_valid(minutes):
            out.append({**participant, "user_qos": minutes})
            continue
        samples = []
        for sample in minutes:
            problem = (
                check_qos_sample(sample)
                if isinstance(sample, Mapping)
                else q.Problem("user_qos", "minute is not an object")
            )
            if problem is None:
                samples.append(sample)
            else:
                when = sample.get("date_time") if isinstance(sample, Mapping) else None
                quarantine.add(
                    ENDPOINTS["participant_qos"],
                    "participant_qos",
                    f"{uuid}/{user_id}/{when}",
                    problem,
                    sample,
                )
        out.append({**participant, "user_qos": samples})
    return out


def _add_recording(
    item: Mapping[str, Any],
    trashed: bool,
    recs: list[dict],
    files: list[dict],
    seen: set[str],
    quarantine: q.Quarantine,
) -> None:
    if not item.get("uuid") or not isinstance(item.get("uuid"), str):
        problem = q.Problem("uuid", "is required but missing" if "uuid" not in item else "is not a text id")
        quarantine.add(ENDPOINTS["recordings"], "recordings", None, problem, _clean(item))
        return
    row, rfiles = shape_recording(item, trashed=trashed)
    problem = check_recording(item, row)
    if problem is None and row.get("uuid") in seen:
        problem = q.Problem("uuid", "duplicate key (uuid) in one listing; first copy kept")
    if problem is not None:
        quarantine.add(
            ENDPOINTS["recordings"],
            "recordings",
            row.get("uuid"),
            problem,
            {
                **row,
                "recording_files": rfiles
                if isinstance(item.get("recording_files"), list)
                else item.get("recording_files"),
            },
        )
        return
    seen.add(str(row["uuid"]))
    recs.append(row)
    files.extend(split_valid(rfiles, check_recording_file, quarantine, "recording_files", "file_key", set()))


# ----------------------------------------------------------------------------- the source
@dlt.source(name="zoom")
def zoom_source(ctx: Any) -> Any:
    """All Zoom resources for one run; ``ctx`` is a :class:`HarvestContext`."""
    if not isinstance(ctx, HarvestContext):
        raise TypeError("zoom_source(ctx) needs a HarvestContext; use pipelines.zoom.pipeline.run_zoom_load")
    initial_end = day_start_iso(ctx.start_date)
    lag_seconds = float(ctx.lookback_days * 86400)

    # Table hints live in variants (``to_table``), not on the resources: a resource's own hints
    # would leak into its ``quarantine`` variant (dlt clones them into every new variant).
    @dlt.resource(name="users", write_disposition="merge")
    def users() -> Iterator[list[dict]]:
        """Every user of the account, all statuses (``GET /users?status=``); pending users (no id)
        keyed by email. Declares the tables of its transformers too: they may get no rows at all."""
        yield from materialize("users", "meeting_series", "recordings", "recording_files")
        seen: set[str] = set()
        for status in USER_STATUSES:
            ctx.progress(f"users ({status})")
            items = ctx.call("users", ctx.zoom.users, status)
            if items is None:
                return
            rows = [shape_user(u) for u in items]
            good = split_valid(rows, check_user, ctx.quarantine, "users", "user_key", seen)
            ctx.counts["users"] += len(good)
            if good:
                yield to_table("users", good)
            yield from _drain(ctx)

    @dlt.resource(name="active_hosts", write_disposition="merge")
    def active_hosts() -> Iterator[list[dict]]:
        """Active-hosts report per calendar month (``GET /report/users?type=active``)."""
        yield from materialize("active_hosts")
        state = dlt.current.resource_state()
        earliest = max(ctx.start_date, earliest_allowed_date(ctx.today))
        resume = dt.date.fromisoformat(state.get("resume_from") or earliest.isoformat())
        first = max(earliest, month_start(min(resume, ctx.today - dt.timedelta(days=ctx.lookback_days))))
        windows = month_windows(first, ctx.today)
        for index, (a, b) in enumerate(windows):
            ctx.progress(f"active hosts {a:%Y-%m}")
            key = listing_key("active_hosts", a, b)
            got = ctx.settled_call(key, b, "active hosts report", ctx.zoom.active_hosts, a, b)
            if got is None:
                state["resume_from"] = a.isoformat()
                return
            items, _ = got
            rows = []
            for u in items:
                row = _clean(u)
                row["report_from"], row["report_to"] = a.isoformat(), b.isoformat()
                rows.append(row)
            if index == len(windows) - 1 or b >= ctx.today:
                state["resume_from"] = a.isoformat()
            rows = split_valid(
                rows,
                lambda r: q.check_row(r, ACTIVE_HOSTS_COLUMNS),
                ctx.quarantine,
                "active_hosts",
                ("id", "report_from"),
                set(),
            )
            if rows:
                yield to_table("active_hosts", rows)
            yield from _drain(ctx)

    @dlt.transformer(name="meeting_series", data_from=users, write_disposition="merge")
    def meeting_series(user_page: list[dict]) -> Iterator[list[dict]]:
        """Scheduled series per user (``GET /users/{id}/meetings``); recurrence from ``GET /meetings/{id}``
        for new or changed recurring series only."""
        seen: dict[str, str] = dlt.current.resource_state().setdefault("fingerprints", {})
        if q.is_quarantine_page(user_page):
            return
        for user in user_page:
            ref = user_ref(user)
            if user.get("status") == "pending" or ref is None:
                continue
            ctx.progress("meeting series")
            items = ctx.call(
                "meeting series",
                ctx.zoom.user_meetings,
                ref,
                missing=[],
                not_allowed=[],
                who=str(user.get("email") or ref),
            )
            if items is None:
                return
            rows = []
            failed = False
            listed: set[str] = set()
            for item in items:
                key, fingerprint = str(item.get("id")), series_fingerprint(item)
                if seen.get(key) == fingerprint and key not in listed:
                    listed.add(key)
                    continue
                valid = split_valid(
                    [shape_series(item, None)], check_series, ctx.quarantine, "meeting_series", "id", listed
                )
                if not valid:
                    continue
                detail: dict | None = None
                if item.get("type") == 8:
                    detail = ctx.call("meeting series detail", ctx.zoom.meeting, item["id"], missing={})
                    if detail is None:
                        failed = True
                        break
                rows.append(shape_series(item, detail))
                seen[key] = fingerprint
            if rows:
                yield to_table("meeting_series", rows)
            yield from _drain(ctx)
            if failed:
                return

    # on_cursor_value_missing="include": quarantine rows (the only ones without end_time) pass the filter
    end_time_cursor = dlt.sources.incremental(
        "end_time", initial_value=initial_end, lag=lag_seconds or None, on_cursor_value_missing="include"
    )

    @dlt.resource(name="meetings", write_disposition="merge")
    def meetings(end_time: dlt.sources.incremental[str] = end_time_cursor) -> Iterator[list[dict]]:
        """Past meeting instances from the dashboard, one calendar month per request. Declares the
        tables of ``meeting_details`` too (a window without meetings gives it no pages)."""
        yield from materialize("meetings", "participant_sessions", "participant_qos", "meeting_fetch_log")
        book = _details_book()
        start = str(end_time.start_value or initial_end)
        if book["pending"]:
            # Meetings listed by an earlier run whose details are still missing must come through
            # the incremental filter again, however old their end_time.
            # (One second earlier than the oldest: rows exactly at the start value may be dropped by
            # dlt's boundary de-duplication.)
            oldest = min(str(p["end_time"]) for p in book["pending"].values())
            oldest_dt = parse_zoom_timestamp(oldest)
            if oldest <= start and oldest_dt is not None:
                start = iso_utc(oldest_dt - dt.timedelta(seconds=1))
                end_time.start_value = start
        start_dt = parse_zoom_timestamp(start) or dt.datetime.combine(ctx.start_date, dt.time(), dt.UTC)
        # Fetched meetings that can no longer be listed again need not be remembered.
        cutoff = iso_utc(start_dt - dt.timedelta(days=1))
        book["done"] = {u: e for u, e in book["done"].items() if e >= cutoff}
        earliest = earliest_allowed_date(ctx.today)
        expired = [u for u, p in book["pending"].items() if str(p["end_time"]) < day_start_iso(earliest)]
        for uuid in expired:  # out of the dashboard's reach now: nothing can fetch them any more
            log.warning("Meeting %s waited too long for its participants/QoS (older than six months)", uuid)
            del book["pending"][uuid]
        first = start_dt.date()
        if first < earliest:
            log.warning(
                "Zoom's dashboard keeps six months: meetings that ended before %s can no longer be listed",
                earliest,
            )
            first = earliest
        listed: set[str] = set()
        for a, b in month_windows(first, ctx.today):
            ctx.progress(f"meetings {a:%Y-%m-%d}..{b:%Y-%m-%d}")
            rows: list[dict] = []
            for kind in ctx.meeting_types:
                key = listing_key("dashboard_meetings", kind, a, b)
                items = ctx.settled_call(key, b, "meeting list", ctx.zoom.dashboard_meetings, a, b, kind)
                if items is None:
                    ctx.windows_left_from = a
                    return
                shaped = [shape_meeting(m, kind) for m in items if m.get("end_time")]
                rows.extend(split_valid(shaped, check_meeting, ctx.quarantine, "meetings", "uuid", set()))
            listed.update(str(r["uuid"]) for r in rows)
            ctx.counts["meetings_listed"] += len(rows)
            if rows:
                yield to_table("meetings", rows)
            yield from _drain(ctx)
        # Every window was listed: a pending meeting that was not listed again is gone from Zoom.
        for uuid in [u for u in book["pending"] if u not in listed]:
            log.warning("Meeting %s is no longer listed by Zoom's dashboard; giving up on its details", uuid)
            del book["pending"][uuid]

    if ctx.only_meetings is not None:
        meetings = _targeted_meetings(ctx)

    @dlt.transformer(name="meeting_details", data_from=meetings, write_disposition="merge")
    def meeting_details(page: list[dict]) -> Iterator[Any]:
        """Participants and QoS, once per finished meeting (``/metrics/meetings/{uuid}/participants[/qos]``)."""
        if q.is_quarantine_page(page):
            return
        targeted = ctx.only_meetings is not None
        book = _details_book(read_only=targeted)
        done, pending = book["done"], book["pending"]
        sessions: list[dict] = []
        fetch_log: list[dict] = []
        qos = QosColumns()
        for meeting in page:
            uuid = str(meeting["uuid"])
            if uuid in done:
                if targeted:
                    log.info("Meeting %s: participants/QoS already loaded by the regular load", uuid)
                continue
            pending[uuid] = {
                "end_time": meeting["end_time"],
                "participants": meeting.get("participants"),
                "type": meeting.get("dashboard_type", "past"),
            }
            kind = str(meeting.get("dashboard_type") or "past")
            saved = ctx.journal.get(uuid) if ctx.journal is not None else None
            if saved is not None:  # paid for by an interrupted run: not asked again
                parts, listing, status = saved.participants, saved.qos, saved.status
                ctx.counts["meetings_from_journal"] += 1
            else:
                if ctx.is_blocked(HEAVY) or not ctx.budget_allows(
                    HEAVY, qos_requests_for(meeting.get("participants"))
                ):
                    continue
                ctx.progress("meeting details")
                status = "ok"
                parts = ctx.call("participants", ctx.zoom.participants, uuid, kind, missing=MISSING)
                listing = None
                if parts is not None and parts is not MISSING:
                    listing = ctx.call("QoS", ctx.zoom.participants_qos, uuid, kind, missing=MISSING)
                if parts is MISSING or listing is MISSING:
                    parts, listing, status = [], [], "not_found"
                if parts is None or listing is None:
                    continue
                if ctx.journal is not None:
                    ctx.journal.put(uuid, kind, status, parts, listing)
            meeting_sessions = split_valid(
                [shape_session(uuid, p) for p in parts],
                check_session,
                ctx.quarantine,
                "participant_sessions",
                ("meeting_uuid", "user_id"),
                set(),
            )
            sessions.extend(meeting_sessions)
            rows = qos.add_participants(uuid, valid_qos(uuid, listing, ctx.quarantine))
            fetch_log.append(
                {
                    "meeting_uuid": uuid,
                    "end_time": meeting["end_time"],
                    "fetched_at": iso_utc(clock.now()),
                    "status": status,
                    "participant_sessions": len(meeting_sessions),
                    "qos_rows": rows,
                }
            )
            done[uuid] = meeting["end_time"]
            pending.pop(uuid, None)
            ctx.counts["meetings_detailed"] += 1
            ctx.counts["qos_rows"] += rows
            if len(qos) >= QOS_FLUSH_ROWS or len(sessions) >= SESSIONS_FLUSH_ROWS:
                yield from _flush_details(sessions, qos, fetch_log)
                yield from _drain(ctx)
                sessions, qos, fetch_log = [], QosColumns(), []
        yield from _flush_details(sessions, qos, fetch_log)
        yield from _drain(ctx)
        ctx.progress()

    @dlt.transformer(name="recordings", data_from=users, write_disposition="merge")
    def recordings(user_page: list[dict]) -> Iterator[Any]:
        """Cloud recordings per user: dated windows (a month at most) plus the trash (no dates)."""
        resume: dict[str, str] = dlt.current.resource_state().setdefault("resume_from", {})
        if q.is_quarantine_page(user_page):
            return
        for user in user_page:
            ref = user_ref(user)
            if user.get("status") == "pending" or ref is None or ctx.is_blocked(MEDIUM):
                continue
            user_id = ref
            since = dt.date.fromisoformat(resume[user_id]) if user_id in resume else ctx.start_date
            first = max(ctx.start_date, since - dt.timedelta(days=ctx.lookback_days))
            recs: list[dict] = []
            files: list[dict] = []
            complete = True
            seen: set[str] = set()
            processing_from: dt.date | None = None
            ctx.progress("recordings")
            for a, b in month_windows(first, ctx.today):
                items = ctx.call("recordings", ctx.zoom.user_recordings, user_id, a, b, missing=[])
                if items is None:
                    complete = False
                    break
                for item in items:
                    if recording_in_progress(item):
                        day = _start_day(item) or a
                        processing_from = day if processing_from is None else min(processing_from, day)
                        ctx.counts["recordings_processing"] += 1
                        continue
                    _add_recording(item, False, recs, files, seen, ctx.quarantine)
            if complete:
                trash = ctx.call("recordings trash", ctx.zoom.user_trash, user_id, missing=[])
                if trash is None:
                    complete = False
                else:
                    for item in trash:
                        _add_recording(item, True, recs, files, seen, ctx.quarantine)
            if not complete:
                continue
            ctx.counts["recordings"] += len(recs)
            if recs:
                yield to_table("recordings", recs)
            if files:
                yield to_table("recording_files", files)
            yield from _drain(ctx)
            # a recording still processing is listed again (from its day) by the next run
            resume[user_id] = min(ctx.today, processing_from or ctx.today).isoformat()

    if ctx.only_meetings is not None:
        return meetings, meeting_details
    return users, active_hosts, meeting_series, meetings, meeting_details, recordings


def _targeted_meetings(ctx: HarvestContext) -> Any:
    """``meetings`` of a targeted run (``load --source zoom --meetings UUID,...``): the rows of
    ``ctx.only_meetings`` exactly as the regular load lists them, without its incremental cursor.

    ``GET /past_meetings/{uuid}`` (Light) says whether Zoom knows the instance and when it started;
    the dashboard listing of the days around that start (``GET /metrics/meetings``, the regular
    load's endpoint and meeting types) gives its row, so the merge on ``uuid`` writes what the next
    regular load writes. ``meeting_details`` then fetches its participants and QoS as usual. No
    resource state is read or written here: the regular load's cursor, its book of fetched
    meetings and its journal stay as they were.
    """

    def past_meeting(uuid: str) -> Any:
        try:
            return ctx.zoom.past_meeting(uuid)
        except ApiError as exc:
            if isinstance(exc, NotFound) or zoom_error_of(exc)[0] == MEETING_NOT_FOUND_CODE:
                log.warning("Zoom has no ended meeting %s (404/3001): skipped", uuid)
                ctx.counts["meetings_unknown"] += 1
                return MISSING
            raise

    @dlt.resource(name="meetings", write_disposition="merge")
    def meetings() -> Iterator[list[dict]]:
        yield from materialize("meetings", "participant_sessions", "participant_qos", "meeting_fetch_log")
        earliest = earliest_allowed_date(ctx.today)
        for uuid in ctx.only_meetings or ():
            ctx.progress(f"meeting {uuid}")
            past = ctx.call("past meeting", past_meeting, uuid)
            if past is None:
                return
            if past is MISSING:
                continue
            started = _start_day(past)
            if started is None or not past.get("end_time"):
                log.warning("Zoom has not ended meeting %s yet (no end_time): skipped", uuid)
                ctx.counts["meetings_unlisted"] += 1
                continue
            if started < earliest:
                log.warning(
                    "Meeting %s started before %s: beyond the dashboard's six months, skipped", uuid, earliest
                )
                ctx.counts["meetings_unlisted"] += 1
                continue
            # The days around the start: the listing's dates need not be UTC dates at Zoom.
            first = max(earliest, started - dt.timedelta(days=1))
            last = min(ctx.today, started + dt.timedelta(days=1))
            found: dict | None = None
            for kind in ctx.meeting_types:
                items = ctx.call("meeting list", ctx.zoom.dashboard_meetings, first, max(first, last), kind)
                if items is None:
                    return
                match = [m for m in items if str(m.get("uuid")) == uuid and m.get("end_time")]
                if match:
                    found = shape_meeting(match[0], kind)
                    break
            if found is None:
                log.warning(
                    "Meeting %s is not (yet) in Zoom's dashboard listing (%s): skipped; the regular load "
                    "picks it up once listed",
                    uuid,
                    ", ".join(ctx.meeting_types),
                )
                ctx.counts["meetings_unlisted"] += 1
                continue
            rows = split_valid([found], check_meeting, ctx.quarantine, "meetings", "uuid", set())
            ctx.counts["meetings_listed"] += len(rows)
            if rows:
                yield to_table("meetings", rows)
            yield from _drain(ctx)

    return meetings
