"""The publish stage: the best copied video file of each meeting -> one YouTube video.

Plan: the ``fct_recording_files`` mart names each meeting's best file (``is_best_file``) and its
title; ``recordings.inventory`` says where the recordings pipeline put it (any fsspec URL) and its
SHA-256. Per file, in order: skip if published; if a session was recorded, probe it (complete ->
record the video; partial -> resume from the confirmed byte; expired -> look for our marker among
the channel's uploads before starting again); else start a new session, recorded before the first
byte. The file is read from its destination chunk by chunk (never copied locally whole).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines import clock, paths
from pipelines.youtube import metadata
from pipelines.youtube.settings import YouTubeSettings, load_settings
from pipelines.youtube.state import PUBLISHED, PublishState, QuotaExhausted, QuotaLedger

log = logging.getLogger("pipelines.youtube")


class WarehouseLocked(RuntimeError):
    """Another process holds the warehouse (the CLI prints this message, exit 1)."""


QUOTA_STOP = 3  # exit code: stopped cleanly because the day's quota is spent; rerun after the reset


@dataclass
class Candidate:
    file_key: str
    meeting_uuid: str
    meeting_series_id: str | None
    topic: str | None
    title: str
    duration_minutes: int | None
    started_at: dt.datetime | None
    host_name: str | None
    host_email: str | None
    course: str | None
    source_url: str
    size: int
    sha256: str | None

    def body(self, settings: YouTubeSettings) -> dict:
        started = f"{self.started_at:%Y-%m-%d %H:%M} UTC" if self.started_at else None
        return {
            "snippet": {
                "title": self.title,
                "description": metadata.description(
                    topic=self.topic,
                    host=self.host_name,
                    started=started,
                    duration_minutes=self.duration_minutes,
                    course=self.course,
                    file_key=self.file_key,
                ),
                "tags": metadata.tags(settings.tags, self.file_key),
                "categoryId": settings.category_id,
            },
            "status": {"privacyStatus": settings.privacy_status, "selfDeclaredMadeForKids": False},
        }


@dataclass
class PublishSummary:
    target: str
    candidates: int = 0
    already: int = 0
    published: int = 0
    resumed: int = 0
    reconciled: int = 0
    failed: int = 0
    bytes_sent: int = 0
    units: int = 0
    stopped: str | None = None
    forced_private: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def code(self) -> int:
        if self.stopped:
            return QUOTA_STOP
        return 1 if self.failed else 0

    def line(self) -> str:
        return (
            f"published  {self.published} video(s) to YouTube ({self.target}) this run, {self.already} already there, "
            f"{self.failed} failed; {self.bytes_sent / 1e6:,.1f} MB sent, {self.units:,} quota units"
        )


SELECT_SQL = """
with inv as (
    select file_key, dest_url, size, sha256, host_email,
           row_number() over (partition by file_key order by (dest_root = ?) desc, finished_at desc) as n
    from recordings.inventory
    where source = 'zoom' and status = 'copied'
)
select f.recording_file_id, f.meeting_uuid, cast(f.meeting_series_id as varchar), f.topic, f.title,
       f.duration_minutes, f.recording_meeting_started_at, m.host_name, inv.host_email,
       {course}, inv.dest_url, inv.size, inv.sha256, m.host_zoom_user_id, {course_id}
from analytics.fct_recording_files as f
inner join inv on inv.file_key = f.recording_file_id and inv.n = 1
left join analytics.fct_meetings as m on m.meeting_uuid = f.meeting_uuid
{course_join}
where f.is_best_file and f.is_video_file and not f.is_trashed
order by f.recording_meeting_started_at, f.recording_file_id
"""


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def select_candidates(con: duckdb.DuckDBPyConnection, filters: dict[str, Any]) -> list[Candidate]:
    """Every meeting's best copied video file, filtered like the recordings pipeline."""
    if not _has_table(con, "analytics", "fct_recording_files") or not _has_table(
        con, "recordings", "inventory"
    ):
        return []
    from pipelines.recordings.destination import normalize_root
    from pipelines.recordings.settings import load_settings as recordings_settings

    has_courses = _has_table(con, "analytics", "dim_courses")
    sql = SELECT_SQL.format(
        course="c.course_name" if has_courses else "null",
        course_id="cast(m.meets_course_id as varchar)",
        course_join="left join analytics.dim_courses as c on c.meets_course_id = m.meets_course_id"
        if has_courses
        else "",
    )
    rows = con.execute(sql, [normalize_root(recordings_settings().dest)]).fetchall()
    users = {u.lower() for u in filters.get("users") or []}
    series = set(filters.get("series") or [])
    courses = {c.lower() for c in filters.get("courses") or []}
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    out = []
    for r in rows:
        (
            key,
            uuid,
            series_id,
            topic,
            title,
            minutes,
            started,
            host,
            email,
            course,
            url,
            size,
            sha,
            host_id,
            course_id,
        ) = r
        if users and not ({(email or "").lower(), (host_id or "").lower()} & users):
            continue
        if series and series_id not in series:
            continue
        if courses and not ({(course or "").lower(), (course_id or "").lower()} & courses):
            continue
        day = started.date() if started else None
        if date_from and (day is None or day < date_from):
            continue
        if date_to and (day is None or day > date_to):
            continue
        out.append(
            Candidate(
                file_key=key,
                meeting_uuid=uuid,
                meeting_series_id=series_id,
                topic=topic,
                title=metadata.video_title(topic, title),
                duration_minutes=minutes,
                started_at=started,
                host_name=host,
                host_email=email,
                course=course,
                source_url=url,
                size=int(size),
                sha256=sha,
            )
        )
    return out


def _open_source(url: str) -> Any:
    """The copied file, opened for streaming reads (seekable; fsspec reads it block by block)."""
    import fsspec

    if url.startswith(("s3://", "s3a://")):
        from pipelines.recordings.settings import load_settings as recordings_settings

        rs = recordings_settings()
        options: dict[str, Any] = {"client_kwargs": {}}
        if rs.s3_endpoint_url:
            options["client_kwargs"]["endpoint_url"] = rs.s3_endpoint_url
        if rs.s3_region:
            options["client_kwargs"]["region_name"] = rs.s3_region
        if rs.aws_access_key_id:
            options.update(key=rs.aws_access_key_id, secret=rs.aws_secret_access_key)
        return fsspec.open(url, "rb", block_size=8 << 20, **options).open()
    return fsspec.open(url, "rb").open()


# ------------------------------------------------------------------------------------------ run
class _Embedded:
    """The emulator this process started because no channel is configured."""

    emulator: Any = None


def _target_settings(settings: YouTubeSettings) -> tuple[YouTubeSettings, str]:
    if settings.configured:
        return settings, "youtube"
    from pipelines.sandbox.youtube import Faults, YouTubeEmulator

    if _Embedded.emulator is None:
        import atexit

        # the emulated project's quota is the configured budget (Google's default: 10,000 units)
        _Embedded.emulator = YouTubeEmulator(Faults(daily_quota=settings.daily_quota_units)).start()
        atexit.register(_Embedded.emulator.stop)
    emu = _Embedded.emulator
    print(f"publish: no YouTube channel configured: publishing to the embedded emulator at {emu.base_url}")
    creds = emu.credentials()
    return (
        settings.__class__(
            **{
                **{f: getattr(settings, f) for f in settings.__dataclass_fields__},
                **creds,
                "api_endpoint": emu.api_endpoint,
                "token_uri": emu.token_uri,
                "ca_certs": str(emu.ca_path),
            }
        ),
        "sandbox",
    )


def run_publish(
    *,
    filters: dict[str, Any] | None = None,
    dry_run: bool = False,
    settings: YouTubeSettings | None = None,
    warehouse: str | None = None,
    quiet: bool = False,
) -> PublishSummary:
    settings, target = _target_settings(settings or load_settings())
    path = str(warehouse or paths.warehouse_path())
    try:
        con = duckdb.connect(path)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseLocked(
            f"The warehouse {path} is open in another process (DuckDB allows one writer; a load or dbt "
            "run?). The publish state lives there: rerun when that process has finished."
        ) from exc
    try:
        state = PublishState(con, target)
        ledger = QuotaLedger(state, settings.daily_quota_units, cost_of=settings.cost)
        summary = PublishSummary(target=target)
        candidates = select_candidates(con, filters or {})
        summary.candidates = len(candidates)
        # one video per meeting: a meeting already published (even from a file that is no longer its
        # best, e.g. a better view arrived later) is not published again
        done, meetings_done = state.published_keys(), state.published_meetings()
        todo = [c for c in candidates if c.file_key not in done and c.meeting_uuid not in meetings_done]
        summary.already = len(candidates) - len(todo)
        if dry_run:
            _print_plan(todo, settings, ledger, summary)
            return summary
        if todo:
            _publish_all(todo, settings, state, ledger, summary, quiet)
        summary.units = ledger.spent_this_run
        if not quiet:
            print(summary.line())
            if summary.forced_private:
                print(
                    f"attention: YouTube made {summary.forced_private} upload(s) private although "
                    f"{settings.privacy_status} was asked: the Google project is unverified (uploads from "
                    "unverified API projects are locked to private until Google audits the project)"
                )
            if summary.stopped:
                print(f"stopped: {summary.stopped}")
        return summary
    finally:
        con.close()


def _print_plan(
    todo: list[Candidate], settings: YouTubeSettings, ledger: QuotaLedger, summary: PublishSummary
) -> None:
    cost = settings.cost_videos_insert + (
        settings.cost_playlist_items_insert if settings.playlists != "none" else 0
    )
    remaining = ledger.remaining()
    fits = min(len(todo), remaining // cost) if cost else len(todo)
    days = -(-len(todo) * cost // max(settings.daily_quota_units, 1)) if cost else 0
    print(
        f"publish --dry-run ({summary.target}): {summary.candidates} meeting(s) with a copied best video file, "
        f"{summary.already} already published, {len(todo)} to publish ({sum(c.size for c in todo) / 1e6:,.1f} MB)"
    )
    print(
        f"quota: {len(todo)} x {cost} = {len(todo) * cost:,} units; {remaining:,} of {settings.daily_quota_units:,} "
        f"left today (Pacific time): {fits} fit today, about {days} day(s) in all"
    )
    for c in todo[:20]:
        print(f"  {c.title}  [{c.size / 1e6:,.1f} MB]")
    if len(todo) > 20:
        print(f"  ... and {len(todo) - 20} more")


def _publish_all(
    todo: list[Candidate],
    settings: YouTubeSettings,
    state: PublishState,
    ledger: QuotaLedger,
    summary: PublishSummary,
    quiet: bool,
) -> None:
    from googleapiclient.errors import HttpError

    from pipelines.youtube.client import PublishError, Uploader, build_service, error_reason

    try:
        service, authed, raw = build_service(settings, ledger)
    except QuotaExhausted as exc:
        summary.stopped = str(exc)
        return
    uploader = Uploader(settings, service, authed, raw)
    listing: dict[str, str] | None = None
    playlists: dict[str, str] | None = None
    for cand in todo:
        current = {"key": cand.file_key}
        raw.on_session = lambda uri, c=current: state.session_started(c["key"], uri)
        raw.on_units = lambda n, c=current: state.add_units(c["key"], n)
        try:
            video, how = _publish_one(cand, settings, state, uploader, listing)
            if how == "listed" and listing is None:
                listing = uploader.uploads_by_marker(metadata.marker_in)
                video, how = _publish_one(cand, settings, state, uploader, listing)
            state.published(cand.file_key, video, cand.size)
            summary.published += how in ("uploaded", "resumed")
            summary.resumed += how == "resumed"
            summary.reconciled += how in ("probed", "listed")
            summary.published += how in ("probed", "listed")
            if how in ("uploaded", "resumed"):
                summary.bytes_sent += cand.size
            asked, got = settings.privacy_status, (video.get("status") or {}).get("privacyStatus")
            if asked != "private" and got == "private":
                summary.forced_private += 1
            if not quiet:
                print(f"  {how:<9} {video['id']}  {cand.title}")
            if settings.playlists != "none":
                if playlists is None:
                    playlists = uploader.playlists_by_title()
                _add_to_playlist(cand, video["id"], settings, state, uploader, playlists)
        except QuotaExhausted as exc:
            state.stopped(cand.file_key, str(exc))
            summary.stopped = str(exc)
            return
        except HttpError as exc:
            if exc.resp.status == 403 and error_reason(exc.content) == "quotaExceeded":
                exc2 = ledger.exhausted("a list call", "YouTube answered quotaExceeded")
                state.stopped(cand.file_key, str(exc2))
                summary.stopped = str(exc2)
                return
            _fail(cand, f"YouTube answered {exc.resp.status} {error_reason(exc.content)}", state, summary)
        except (PublishError, OSError, ValueError) as exc:
            _fail(cand, f"{type(exc).__name__}: {exc}", state, summary)


def _fail(cand: Candidate, message: str, state: PublishState, summary: PublishSummary) -> None:
    from pipelines.api_client import DEFAULT_REDACTOR

    message = DEFAULT_REDACTOR.redact(message) if hasattr(DEFAULT_REDACTOR, "redact") else message
    state.failed(cand.file_key, message)
    summary.failed += 1
    summary.errors.append(f"{cand.file_key}: {message}")
    print(f"  failed    {cand.title}: {message}")


def _publish_one(
    cand: Candidate,
    settings: YouTubeSettings,
    state: PublishState,
    uploader: Any,
    listing: dict[str, str] | None,
) -> tuple[dict, str]:
    """``(video resource, how)``: how = uploaded | resumed | probed (complete already) | listed."""
    from pipelines.youtube.client import SessionExpired

    row = state.get(cand.file_key)
    start, session_uri, resumed = 0, None, False
    if row and row.status == PUBLISHED and row.video_id:
        return {"id": row.video_id, "status": {}}, "probed"
    if row and row.session_uri:
        try:
            probe = uploader.probe(row.session_uri, cand.size)
            if probe.done is not None:
                return probe.done, "probed"
            start, session_uri, resumed = probe.confirmed, row.session_uri, True
        except SessionExpired:
            known = listing
            if known is None:
                return {}, "listed"  # the caller lists the channel's uploads once, then asks again
            if cand.file_key in known:
                return {"id": known[cand.file_key], "status": {}}, "listed"
            state.session_dropped(cand.file_key)
    state.begin(
        cand.file_key,
        cand.meeting_uuid,
        cand.source_url,
        cand.size,
        cand.sha256,
        cand.title,
        settings.privacy_status,
    )
    fh = _open_source(cand.source_url)
    try:
        fh.seek(0, 2)
        actual = fh.tell()
        fh.seek(0)
        if actual != cand.size:
            raise ValueError(
                f"{cand.source_url} holds {actual} bytes, the inventory says {cand.size}: copy it again"
            )
        try:
            video = uploader.upload(
                fh,
                cand.size,
                cand.body(settings),
                session_uri=session_uri,
                start=start,
                on_progress=lambda n: state.progress(cand.file_key, n),
            )
        except SessionExpired:
            state.session_dropped(cand.file_key)
            fh.seek(0)
            video = uploader.upload(
                fh, cand.size, cand.body(settings), on_progress=lambda n: state.progress(cand.file_key, n)
            )
            resumed = False
    finally:
        fh.close()
    return video, "resumed" if resumed else "uploaded"


def _add_to_playlist(cand: Candidate, video_id: str, settings: YouTubeSettings, state: PublishState, uploader: Any,
                     playlists: dict[str, str]) -> None:  # fmt: skip
    row = state.get(cand.file_key)
    if row and row.playlist_item_id:
        return
    if settings.playlists == "course":
        if not cand.course:
            return
        title = metadata.video_title(cand.course, cand.course)
    else:
        title = metadata.video_title(cand.topic, cand.topic)
    playlist_id = playlists.get(title)
    if playlist_id is None:
        playlist_id = uploader.create_playlist(title, f"Recordings of {title} (meetings-warehouse)")
        playlists[title] = playlist_id
    item = uploader.add_to_playlist(playlist_id, video_id)
    state.playlist_done(cand.file_key, playlist_id, item)


def quota_reset_text(now: dt.datetime | None = None) -> str:
    from pipelines.youtube.state import quota_resets_at

    return f"{quota_resets_at(now or clock.now()):%Y-%m-%d %H:%M} UTC"
