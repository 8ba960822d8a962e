"""Ground truth of a sandbox account at a given clock, computed straight from the generator's objects.

This module is deliberately simple and independent: it never reads the warehouse, the dlt sources
or the dbt models. Tests compare the warehouse to what it returns. The only shared input is the
threshold seed (``dbt_project/seeds/qos_thresholds.csv``): thresholds are data, and the truth must use
the same data the models use.
"""

from __future__ import annotations

import csv
import operator
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from pipelines.sandbox.account import STREAM_KIND, STREAMS, Account, connector_block

THRESHOLDS_CSV = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "qos_thresholds.csv"
COMPARATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
METRIC_FIELDS = {
    "latency": "latency",
    "jitter": "jitter",
    "avg_loss": "avg_loss",
    "max_loss": "max_loss",
    "frame_rate": "frame_rate",
}


def load_thresholds(path: Path = THRESHOLDS_CSV) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["value"] = float(r["value"])
    return rows


def _number(text: str) -> float | None:
    """'20 ms' -> 20.0, '0.3%' -> 0.3, '12 fps' -> 12.0, '' -> None (not measured)."""
    text = text.strip()
    if not text:
        return None
    num = text.split()[0].rstrip("%")
    return float(num)


def _block(sample: dict, stream: str) -> dict:
    """A stream's block: the classic one, else its web-client or room-connector counterpart."""
    for name in (stream, connector_block(stream, "rwg"), connector_block(stream, "crc")):
        if name in sample:
            return sample[name]
    return {}


def _measure(sample: dict, stream: str, metric: str) -> float | None:
    block = _block(sample, stream)
    value = _number(block.get(metric, ""))
    if value is None:
        return None
    if metric == "frame_rate" and block.get("resolution", "") in ("", "0*0"):
        return None  # no picture: a frame rate is meaningless
    return value


def compute_truth(
    account: Account,
    now: datetime,
    detail: bool = True,
    thresholds: list[dict] | None = None,
    attendance_final_after: int = 24 * 3600,
) -> dict:
    """Expected warehouse contents when everything visible at ``now`` has been loaded."""
    thresholds = thresholds if thresholds is not None else load_thresholds()
    now = now.astimezone(UTC)
    past = [m for m in account.meetings if m.end <= now]
    listed = [s for m in past for s in account.sessions[m.uuid]]  # what the participants API lists
    sessions = [s for s in listed if s.in_meeting]  # attendance: waiting-room stints excluded
    recordings = [r for r in account.recordings if r.available_at <= now]
    live_recs = [r for r in recordings if r.trashed_at is None or r.trashed_at > now]
    trash_recs = [r for r in recordings if r.trashed_at is not None and r.trashed_at <= now]
    by_status = Counter(u.status for u in account.users)

    per_meeting: dict[str, dict] = {}
    qos_rows = 0
    for m in past:
        all_rows = account.sessions[m.uuid]
        ms = [s for s in all_rows if s.in_meeting]
        waiting = [s for s in all_rows if not s.in_meeting]
        stats: dict[str, dict[str, list[int]]] = {}
        kind_stats: dict[str, dict[str, list[int]]] = {}
        for s in ms:
            for sample in account.qos(s):
                qos_rows += 1
                for th in thresholds:
                    if th["stream"] == "cpu":
                        value = _number(sample["cpu_usage"]["zoom_avg_cpu_usage"])
                        targets = [("cpu", "cpu")]
                    else:
                        targets = [(st, th["stream"]) for st in STREAMS if STREAM_KIND[st] == th["stream"]]
                        value = None
                    for stream, kind in targets:
                        v = (
                            value
                            if stream == "cpu"
                            else _measure(sample, stream, METRIC_FIELDS[th["metric"]])
                        )
                        if v is None:
                            continue
                        bad = COMPARATORS[th["comparator"]](v, th["value"])
                        for bucket, key in ((stats, stream), (kind_stats, kind)):
                            cell = bucket.setdefault(key, {}).setdefault(th["metric"], [0, 0])
                            cell[0] += 1
                            cell[1] += int(bad)
        people = {s.person.key for s in ms}
        per_meeting[m.uuid] = {
            "sessions": len(ms),
            "listed_sessions": len(all_rows),
            "waiting_room_sessions": len(waiting),
            "waiting_room_seconds": sum(int((s.leave - s.join).total_seconds()) for s in waiting),
            "dropped_sessions": sum(1 for s in ms if s.dropped),
            "distinct_people": len(people),
            "qos_minutes": sum(len(s.minutes) for s in ms),
            "by_stream": _proportions(stats),
            "by_stream_kind": _proportions(kind_stats),
        }

    # MEETS
    final_after = attendance_final_after
    now_ts = int(now.timestamp())
    ended = [e for e in account.meets_events if e.time_end <= now_ts]
    attendance_rows = 0
    attendance_final_events = 0
    for e in ended:
        final = now_ts >= e.time_end + final_after
        attendance_final_events += int(final)
        attendance_rows += len(account.attendance(e, final))
    meets_recs = [r for r in account.meets_recordings if r.time_added <= now_ts]
    used = {e.account_id for e in account.meets_events if e.account_id is not None}
    referenced_accounts = [a for a in account.meets_accounts if a["meetsIdConferencingAccount"] in used]

    files = [f for r in recordings for f in r.files]
    truth: dict = {
        "clock": now.isoformat(),
        "seed": account.seed,
        "start_date": account.start_date.isoformat(),
        "zoom": {
            "users": len(account.users),
            "users_by_status": dict(by_status),
            "users_without_id": sum(1 for u in account.users if u.status == "pending"),
            "users_not_hosting": sum(1 for u in account.users if u.status != "pending" and not u.may_host),
            "active_hosts": len({m.host.id for m in past}),
            "meeting_series_listed": sum(1 for s in account.series if s.listed and s.created_at <= now),
            "meetings": len(past),
            "meetings_needing_double_encoding": sum(
                1 for m in past if m.uuid.startswith("/") or "//" in m.uuid
            ),
            "participant_sessions": len(sessions),
            "participant_sessions_listed": len(listed),
            "waiting_room_sessions": len(listed) - len(sessions),
            "dropped_sessions": sum(1 for s in sessions if s.dropped),
            "web_client_sessions": sum(1 for s in sessions if s.connector == "rwg"),
            "room_connector_sessions": sum(1 for s in sessions if s.connector == "crc"),
            "sessions_with_email_shown": sum(
                1
                for s in sessions
                if s.person.email and (s.person.zoom_user_id or s.person.zoom_email_visible)
            ),
            "distinct_people": len({(s.meeting.uuid, s.person.key) for s in sessions}),
            "qos_participant_minutes": qos_rows,
            "recordings": len(live_recs),
            "recordings_in_trash": len(trash_recs),
            "recording_files": sum(len(r.files) for r in live_recs),
            "recording_files_in_trash": sum(len(r.files) for r in trash_recs),
            "recording_files_by_type": dict(Counter(f.file_type for r in live_recs for f in r.files)),
            "recording_files_with_size": sum(1 for r in recordings for f in r.files if f.has_id),
            "recording_bytes": sum(f.size for r in live_recs for f in r.files),
            "passcode_protected_recordings": sum(1 for r in live_recs if r.passcode),
        },
        "meets": {
            "admins": len(account.meets_admins),
            "connections": len(account.meets_connections),
            "courses": len(account.meets_courses),
            "users": len(account.meets_users),
            "course_users": len(account.meets_course_users),
            # MEETS has no list function for accounts: they are known through the events that use them
            "conferencing_accounts": len(referenced_accounts),
            "conferencing_account_users": sum(len(a["meetsIdUsers"]) for a in referenced_accounts),
            "conferencing_events": len(account.meets_events),
            "event_courses": sum(len(e.course_ids) for e in account.meets_events),
            "event_users": sum(len(e.user_ids) for e in account.meets_events),
            "ended_events": len(ended),
            "attendance_rows": attendance_rows,
            "events_with_final_attendance": attendance_final_events,
            "conference_recordings": len(meets_recs),
            "zoom_events_with_meeting": sum(1 for e in account.meets_events if e.meeting is not None),
        },
    }
    if detail:
        truth["meetings"] = per_meeting
        truth["recording_files"] = [
            {
                "key": f.key,
                "meeting_uuid": f.meeting_uuid,
                "file_type": f.file_type,
                "recording_type": f.recording_type,
                "size": f.size,
                "has_declared_size": f.has_id,
            }
            for f in files
        ]
    return truth


def _proportions(stats: dict[str, dict[str, list[int]]]) -> dict:
    out: dict = {}
    for stream, metrics in stats.items():
        out[stream] = {
            metric: {
                "measured_minutes": measured,
                "violating_minutes": violating,
                "proportion": (violating / measured) if measured else None,
            }
            for metric, (measured, violating) in metrics.items()
        }
    return out


def file_checksums(account: Account) -> dict[str, str]:
    """SHA-256 of every Zoom recording file and MEETS recording (reads every byte once; slow at big scales)."""
    out = {f.key: Account.content_sha256(f.size, f.content_seed) for r in account.recordings for f in r.files}
    out.update(
        {f"meets:{r.id}": Account.content_sha256(r.size, r.content_seed) for r in account.meets_recordings}
    )
    return out


def transcript_truth(account: Account, now: datetime) -> dict:
    """What the transcripts stage must load from a full copy at ``now``: every cue and message of
    every downloadable transcript, caption and chat file, the words each meeting says, and the talk
    time per speaker of each meeting's main transcript (``audio_transcript``, else the captions).

    ``files``: file key -> {meeting_uuid, file_type, cues: [(index, start_ms, end_ms, speaker, text)]};
    ``words``: word (lower case) -> {meeting uuid: times said, in any of its text files};
    ``talk_ms``: meeting uuid -> {speaker: milliseconds} (cues without a speaker are not anyone's).
    """
    from pipelines.sandbox.transcripts import words as split_words
    from pipelines.sandbox.zoom_api import recording_visibility

    files: dict[str, dict] = {}
    word_counts: dict[str, Counter] = {}
    talk: dict[str, Counter] = {}
    for rec in account.recordings:
        if recording_visibility(rec, now.astimezone(UTC)) != "available":
            continue
        texts = [(f, f.text_file()) for f in rec.files if f.text is not None]
        for f, tf in texts:
            files[f.key] = {
                "meeting_uuid": f.meeting_uuid,
                "file_type": f.file_type,
                "cues": [(c.index, c.start_ms, c.end_ms, c.speaker, c.text) for c in tf.cues],
            }
            for c in tf.cues:
                for w in split_words(c.text):
                    word_counts.setdefault(w, Counter())[f.meeting_uuid] += 1
        main = [x for x in texts if x[0].file_type == "TRANSCRIPT"] or [
            x for x in texts if x[0].file_type == "CC"
        ]
        if main:
            per = talk.setdefault(rec.meeting.uuid, Counter())
            for c in main[0][1].cues:
                if c.speaker is not None:
                    per[c.speaker] += c.end_ms - c.start_ms
    return {
        "files": files,
        "words": {w: dict(c) for w, c in word_counts.items()},
        "talk_ms": {m: dict(c) for m, c in talk.items()},
    }
