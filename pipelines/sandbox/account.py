"""Deterministic generator of a Zoom + MEETS account for the sandbox.

Everything here is a pure function of ``(seed, scale, start_date)``: the same inputs give the same
users, meetings, sessions, per-minute QoS, recordings, file bytes and MEETS entities, on any machine.
Heavy parts (per-minute QoS, file contents) are produced lazily from per-object seeds so a large
account costs memory only for its meetings and sessions.

The account deliberately contains the inconvenient parts of the real services: meeting UUIDs that
need double URL-encoding, PMI and instant meetings, people who drop and rejoin (with Zoom's own
``leave_reason`` values), waiting-room stints before admission (PMI rooms have the waiting room on),
users who may not host (type 4), pending users, external participants whose email Zoom hides, web
client and room-connector participants whose QoS comes in the ``*_rwg`` / ``*_crc`` blocks, Wi-Fi
signal and CPU pressure samples, empty QoS values, "0*0" resolutions, passcode-protected and trashed
recordings, CC files without ids or sizes and TIMELINE files with and without them, meeting
summaries (SUMMARY files, not counted in ``recording_count``), MEETS events that are not on Zoom,
and MEETS events whose Zoom meeting never happened.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from pipelines.sandbox import transcripts
from pipelines.sandbox.transcripts import TextSpec

_TEXT_CONTENT: dict[tuple[int, int], TextSpec] = {}
"""(size, content seed) -> text spec of every text file whose size was asked: the bytes of a file are
then found from ``(size, content_seed)`` alone, as for binary files (``Account.content_chunks``)."""

STREAMS = ("audio_input", "audio_output", "video_input", "video_output", "as_input", "as_output")
STREAM_KIND = {
    "audio_input": "audio",
    "audio_output": "audio",
    "video_input": "video",
    "video_output": "video",
    "as_input": "share",
    "as_output": "share",
}
BASE_METRICS = ("bitrate", "latency", "jitter", "avg_loss", "max_loss")
VIDEO_METRICS = ("resolution", "frame_rate")
CPU_FIELDS = ("zoom_min_cpu_usage", "zoom_avg_cpu_usage", "zoom_max_cpu_usage", "system_max_cpu_usage")

FIRST_NAMES = (
    "Ada", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jonas", "Kavya", "Liam",
    "Mei", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wei", "Ximena",
    "Yusuf", "Zoë", "Ana", "Björn", "Carmen", "Deepak",
)  # fmt: skip
LAST_NAMES = (
    "Okafor", "Müller", "García", "Tanaka", "Smith", "Nguyen", "Kowalski", "Haddad", "Rossi", "Johansson",
    "Patel", "O'Brien", "Dubois", "Silva", "Kim", "Novak", "Cohen", "Ivanova", "Mensah", "Larsen",
)  # fmt: skip
SUBJECTS = (
    "Intro to Biology", "Organic Chemistry", "Linear Algebra", "Clinical Rounds", "Statistics for Health",
    "World History", "Data Structures", "Nursing Practicum", "Microeconomics", "Physics II", "Ethics Seminar",
    "Genetics Lab", "Spanish B1", "Radiology Case Review", "Pediatrics Huddle", "Thesis Workshop",
)  # fmt: skip
ADHOC_TOPICS = (
    "Office hours", "Advising", "Team sync", "Committee meeting", "Interview panel", "Tumor board",
    "Project kickoff", "Grant review", "Telehealth visit", "Lab meeting",
)  # fmt: skip
DEVICES = (
    ("Windows", 44), ("Mac", 27), ("iOS", 11), ("Android", 9), ("Phone", 5), ("H.323/SIP", 4),
)  # fmt: skip
"""Zoom's ``device`` enum (dashboard participants): Phone, H.323/SIP, Windows, Mac, iOS, Android."""
WEB_CLIENT = "Web Meeting SDK 2.18"  # the spec's example ``client`` of a participant not on the app
WEB_SHARE = 0.12  # share of desktop (Windows/Mac) participants who join in the browser
EMAIL_VISIBLE_SHARE = 0.2
"""External participants whose email Zoom shows (registered, authenticated, calendar invite: Zoom's
"email address display rules"); the others get ``""``."""
LOCATIONS = (
    ("Boston (US)", "United States (VA)"), ("Toronto (CA)", "Canada (TO)"), ("London (GB)", "United Kingdom (LD)"),
    ("Berlin (DE)", "Germany (FR)"), ("São Paulo (BR)", "Brazil (SP)"), ("Sydney (AU)", "Australia (SY)"),
    ("Mumbai (IN)", "India (MB)"), ("Chicago (US)", "United States (CH)"),
)  # fmt: skip
NETWORKS = (("Wired", 35), ("Wifi", 50), ("Cellular", 10), ("Others", 5))
CONNECTIONS = ("UDP", "UDP", "UDP", "TCP", "P2P", "SSL")
# Zoom's ``leave_reason`` enum (dashboard participants, 2026 spec); ``$name`` is the display name.
LEAVE_REASONS_FINAL = (
    "$name left the meeting.",
    "Host ended the meeting.",
    "$name left the meeting.",
    "Unknown reason.",
)
LEAVE_REASONS_DROP = (
    "$name got disconnected from the meeting.",
    "$name got disconnected from the meeting.",
    "Network connection error.",
)
WAITING_ROOM_LEFT = "Leave waiting room."
WAITING_ROOM_REMOVED = "Removed by host from waiting room."
WAITING_ROOM_GIVE_UP = 0.05  # share of waiting people who are never admitted
VIDEO_RECORDING_TYPES = (
    "shared_screen_with_speaker_view",
    "shared_screen_with_gallery_view",
    "gallery_view",
    "active_speaker",
    "speaker_view",
    "shared_screen",
)
FILE_EXT = {
    "MP4": "MP4",
    "M4A": "M4A",
    "CHAT": "TXT",
    "TRANSCRIPT": "VTT",
    "CC": "VTT",
    "TIMELINE": "JSON",
    "CSV": "CSV",
    "SUMMARY": "JSON",
}


@dataclass(frozen=True)
class Scale:
    """How big the generated account is. The defaults are the test scale (fast, a few hundred sessions)."""

    hosts: int = 6
    days: int = 7
    meetings_per_day: int = 8
    participants: int = 6  # average distinct people per meeting (host included)
    minutes: int = 40  # average meeting length in minutes
    future_days: int = 2  # days after the initial clock that exist, for clock-advance scenarios
    students: int = 60
    basic_users: int = 3
    inactive_users: int = 2
    pending_users: int = 1
    unassigned_users: int = 1  # type 4 "Unassigned without Meetings Basic": may not host (400/3161)
    bytes_per_minute: int = 20_000  # MP4 size per recorded minute; M4A is 1/8 of it
    big_file_bytes: int = 0  # when > 0, the first recording's first MP4 has exactly this size (benchmarks)

    @classmethod
    def named(cls, name: str) -> Scale:
        """Preset scales: ``small`` (tests), ``default`` (make load), ``large`` and ``semester`` (benchmarks)."""
        presets = {
            "tiny": cls(hosts=3, days=3, meetings_per_day=4, participants=4, minutes=20, students=20),
            "small": cls(),
            "default": cls(hosts=10, days=14, meetings_per_day=12, participants=8, minutes=45, students=120),
            "large": cls(hosts=60, days=30, meetings_per_day=180, participants=12, minutes=50, students=2000),
            # a semester of the large account: the history a daily incremental run adds one day to
            "semester": cls(
                hosts=60, days=120, meetings_per_day=180, participants=12, minutes=50, students=2000
            ),
        }
        if name not in presets:
            raise ValueError(f"unknown sandbox scale {name!r}; choose one of {', '.join(presets)}")
        return presets[name]


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def iso(ts: datetime) -> str:
    """Zoom's timestamp format: ISO 8601, UTC, second precision, ``Z`` suffix."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zoom_duration(seconds: int) -> str:
    """Dashboard duration: ``hh:mm:ss`` with leading hours dropped when 0 (e.g. ``16:08``)."""
    h, rem = divmod(max(0, seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def needs_double_encoding(uuid: str) -> bool:
    """Zoom's rule: a UUID that begins with ``/`` or contains ``//`` must be URL-encoded twice."""
    return uuid.startswith("/") or "//" in uuid


@dataclass
class ZoomUser:
    id: str
    email: str
    first_name: str
    last_name: str
    type: int  # 1 basic, 2 licensed, 4 unassigned without Meetings Basic
    status: str  # active | inactive | pending
    pmi: int
    dept: str
    timezone: str
    created_at: datetime  # when the user was created (Zoom's ``user_created_at``)
    role_id: str
    person_key: str | None = None
    login_type_created_at: datetime | None = None  # Zoom's ``created_at`` (latest login type)

    @property
    def may_host(self) -> bool:
        return self.type in (1, 2)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Person:
    key: str
    name: str
    email: str  # "" for guests who did not sign in
    zoom_user_id: str  # "" unless the person is a member of the Zoom account
    connection_id: int
    participant_uuid: str
    zoom_email_visible: bool = True  # False: Zoom lists them with email "" (external, not authenticated)


@dataclass
class Series:
    id: int
    host_id: str
    topic: str
    type: int  # 8 recurring fixed time, 2 scheduled one-off, 4 PMI, 1 instant
    created_at: datetime
    timezone: str
    duration: int  # scheduled minutes
    recurrence: dict | None = None
    course_key: int | None = None  # index of the MEETS course for recurring series
    start_time: datetime | None = None  # one-off scheduled meetings
    listed: bool = True  # appears in GET /users/{id}/meetings


@dataclass
class Meeting:
    seq: int
    uuid: str
    series: Series
    host: ZoomUser
    start: datetime
    end: datetime
    scheduled_start: datetime
    scheduled_end: datetime
    has_recording: bool
    rng_seed: int

    @property
    def id(self) -> int:
        return self.series.id

    @property
    def topic(self) -> str:
        return self.series.topic

    @property
    def type(self) -> int:
        return self.series.type

    @property
    def duration_seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass
class Session:
    meeting: Meeting
    index: int  # position in the meeting's session list
    user_id: str  # per-meeting participant id, unique per session
    person: Person
    join: datetime
    leave: datetime
    is_host: bool
    device: str
    os: str
    os_version: str
    client: str
    version: str
    ip_address: str
    location: str
    data_center: str
    network_type: str
    connection_type: str
    leave_reason: str
    profile: str  # good | fair | bad (drives QoS)
    video: bool
    shares: bool
    rng_seed: int
    dropped: bool = False  # the session ended in a disconnect (a rejoin may follow)
    status: str = "in_meeting"  # in_meeting | in_waiting_room
    connector: str = ""  # "" (the Zoom app), "rwg" (web client) or "crc" (Cloud Room Connector)
    browser: str = ""

    @property
    def in_meeting(self) -> bool:
        return self.status == "in_meeting"

    @property
    def minutes(self) -> list[datetime]:
        """The minute marks that carry a QoS sample: one per started minute in the meeting, at least
        one; none for a waiting-room stint (no media flows in the waiting room)."""
        if not self.in_meeting:
            return []
        first = self.join.replace(second=0)
        n = max(1, int((self.leave - self.join).total_seconds()) // 60)
        return [first + timedelta(minutes=k) for k in range(n)]


@dataclass
class RecordingFile:
    key: str  # stable identity even for files Zoom gives no id (CC, TIMELINE)
    id: str | None
    meeting_uuid: str
    file_type: str
    recording_type: str | None
    recording_start: datetime
    recording_end: datetime
    byte_size: int  # binary files; text files (transcripts, captions, chat) are as long as their text
    content_seed: int
    text: TextSpec | None = None  # transcripts, captions and chat: generated text, see sandbox.transcripts

    @cached_property
    def size(self) -> int:
        if self.text is None:
            return self.byte_size
        size = transcripts.generate(self.text).size
        _TEXT_CONTENT[(size, self.content_seed)] = self.text
        return size

    def text_file(self) -> transcripts.TextFile | None:
        """The generated transcript, captions or chat (cues and bytes); None for binary files."""
        return None if self.text is None else transcripts.generate(self.text)

    @property
    def file_extension(self) -> str:
        return FILE_EXT[self.file_type]

    @property
    def has_id(self) -> bool:
        return self.id is not None

    @property
    def has_play_url(self) -> bool:
        """Players exist for media and documents, not for TIMELINE or SUMMARY JSON."""
        return self.has_id and self.file_type not in ("TIMELINE", "SUMMARY")


@dataclass
class Recording:
    meeting: Meeting
    files: list[RecordingFile]
    passcode: str | None
    password: str | None
    auto_delete: bool
    auto_delete_date: date | None
    trashed_at: datetime | None
    share_url: str

    @property
    def available_at(self) -> datetime:
        """Zoom processes a cloud recording for a while after the meeting ends (listed meanwhile,
        with empty file types and end times)."""
        return self.meeting.end + timedelta(minutes=20)

    @property
    def recording_count(self) -> int:
        """Zoom's ``recording_count``: the files, summaries not counted (a 2024 capture lists six
        files, two of them SUMMARY, with ``recording_count`` 4)."""
        return sum(1 for f in self.files if f.file_type != "SUMMARY")


@dataclass
class MeetsCourse:
    id: int
    connection_id: int
    name: str
    lti_id_context: str
    auxiliary: dict
    series_id: int | None
    teacher: Person | None
    roster: list[Person] = field(default_factory=list)


@dataclass
class MeetsUser:
    id: int
    person: Person
    connection_id: int
    lti_id_user: str
    auxiliary: dict


@dataclass
class MeetsEvent:
    id: int
    name: str
    time_begin: int
    time_end: int
    host_user_id: int
    service: str
    account_id: int | None
    course_ids: list[int]
    user_ids: list[int]
    meeting: Meeting | None  # the Zoom meeting instance this event became, if any
    extra_attendance_seed: int  # for events that are not on Zoom


@dataclass
class MeetsRecording:
    id: int
    event_id: int
    time_added: int
    type: str  # original | converted
    size: int
    content_seed: int
    gone: bool  # deleted at the conferencing service: download answers 500 and it disappears


def _uuid(rng: random.Random, force_slash: int = 0) -> str:
    raw = base64.b64encode(rng.randbytes(16)).decode()
    if force_slash == 1:
        raw = "/" + raw[1:]
    elif force_slash == 2:
        raw = raw[:7] + "//" + raw[9:]
    return raw


class Account:
    """A generated Zoom + MEETS account.

    ``start_date`` is the first day of history; meetings exist on ``scale.days + scale.future_days``
    days from there. What the API shows at a given moment is decided by the server's clock, not here.
    """

    def __init__(self, seed: int = 42, scale: Scale | None = None, start_date: date | None = None):
        self.seed = seed
        self.scale = scale or Scale()
        if start_date is None:
            start_date = datetime.now(UTC).date() - timedelta(days=self.scale.days)
        self.start_date = start_date
        self._rng = random.Random(f"account:{seed}")
        self.users: list[ZoomUser] = []
        self.persons: list[Person] = []
        self.series: list[Series] = []
        self.meetings: list[Meeting] = []
        self.sessions: dict[str, list[Session]] = {}
        self.recordings: list[Recording] = []
        self._build_people()
        self._build_series()
        self._build_meetings()
        self._build_sessions()
        self._build_recordings()
        self._build_meets()

    # ------------------------------------------------------------------ people
    def _build_people(self) -> None:
        rng = self._rng
        sc = self.scale
        used_emails: set[str] = set()
        used_names: set[str] = set()

        def name_pair() -> tuple[str, str]:
            """Names are unique in the account, so a guest's name identifies them across rejoins."""
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            k = 0
            while f"{first} {last}" in used_names:
                first = f"{first.split()[0]} {chr(65 + k % 26)}{'' if k < 26 else k // 26}."
                k += 1
            used_names.add(f"{first} {last}")
            return first, last

        def email_for(first: str, last: str, domain: str) -> str:
            base = "".join(
                ch for ch in f"{first}.{last}".lower() if ch.isascii() and (ch.isalnum() or ch == ".")
            )
            candidate, n = f"{base}@{domain}", 1
            while candidate in used_emails:
                n += 1
                candidate = f"{base}{n}@{domain}"
            used_emails.add(candidate)
            return candidate

        created = datetime.combine(self.start_date, datetime.min.time(), UTC) - timedelta(days=400)
        kinds = (
            [("host", 2, "active")] * sc.hosts
            + [("basic", 1, "active")] * sc.basic_users
            + [("inactive", 1, "inactive")] * sc.inactive_users
            + [("pending", 1, "pending")] * sc.pending_users
            + [("unassigned", 4, "active")] * sc.unassigned_users
        )
        for i, (kind, utype, status) in enumerate(kinds):
            first, last = name_pair()
            email = email_for(first, last, "university.example.edu")
            uid = base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("=")[:22]
            person = Person(
                key=f"u{i}",
                name=f"{first} {last}",
                email=email,
                zoom_user_id=uid,
                connection_id=1 + (i % 2),
                participant_uuid=str(rng.getrandbits(64)),
            )
            self.persons.append(person)
            self.users.append(
                ZoomUser(
                    id=uid,
                    email=email,
                    first_name=first,
                    last_name=last,
                    type=utype,
                    status=status,
                    pmi=rng.randint(2_000_000_000, 9_999_999_999),
                    dept=rng.choice(["Medicine", "Nursing", "Sciences", "Humanities", "IT"]),
                    timezone=rng.choice(["America/New_York", "America/Chicago", "Europe/London", "UTC"]),
                    created_at=created + timedelta(days=rng.randint(0, 300), seconds=rng.randint(0, 86399)),
                    role_id="2" if kind == "host" else "1",
                    person_key=person.key,
                )
            )
            user = self.users[-1]
            # a third moved to single sign-on later: their latest login type is younger than them
            migrated = rng.random() < 0.33
            later = timedelta(days=rng.randint(20, 200), seconds=rng.randint(0, 86399))
            user.login_type_created_at = user.created_at + later if migrated else user.created_at
        for j in range(sc.students):
            first, last = name_pair()
            guest = rng.random() < 0.15
            self.persons.append(
                Person(
                    key=f"s{j}",
                    name=f"{first} {last}",
                    email="" if guest else email_for(first, last, "student.example.edu"),
                    zoom_user_id="",
                    connection_id=1 + (j % 2),
                    participant_uuid=str(rng.getrandbits(64)),
                )
            )
            # not members of the Zoom account: Zoom shows their email only in the exceptions
            self.persons[-1].zoom_email_visible = not guest and rng.random() < EMAIL_VISIBLE_SHARE

    @cached_property
    def hosts(self) -> list[ZoomUser]:
        return [u for u in self.users if u.type == 2]

    @cached_property
    def person_by_key(self) -> dict[str, Person]:
        return {p.key: p for p in self.persons}

    @cached_property
    def students(self) -> list[Person]:
        return [p for p in self.persons if p.key.startswith("s")]

    # ------------------------------------------------------------------ series
    def _build_series(self) -> None:
        rng = self._rng
        self._recurring: dict[str, list[Series]] = {}
        subjects = list(SUBJECTS)
        rng.shuffle(subjects)
        course_key = 0
        for h, host in enumerate(self.hosts):
            mine = []
            for k in range(2):
                subject = subjects[(2 * h + k) % len(subjects)]
                code = f"{subject.split()[0][:4].upper()}-{100 + 10 * h + k}"
                weekdays = sorted(rng.sample(range(1, 8), 2))
                s = Series(
                    id=rng.randint(80_000_000_000, 99_999_999_999),
                    host_id=host.id,
                    topic=f"{code} {subject}",
                    type=8,
                    created_at=host.created_at + timedelta(days=rng.randint(1, 60)),
                    timezone=host.timezone,
                    duration=rng.choice([50, 60, 75, 90]),
                    recurrence={"type": 2, "repeat_interval": 1, "weekly_days": ",".join(map(str, weekdays))},
                    course_key=course_key,
                )
                course_key += 1
                mine.append(s)
                self.series.append(s)
            self._recurring[host.id] = mine
            self.series.append(
                Series(
                    id=host.pmi,
                    host_id=host.id,
                    topic=f"{host.display_name}'s Personal Meeting Room",
                    type=4,
                    created_at=host.created_at,
                    timezone=host.timezone,
                    duration=60,
                    listed=False,
                )
            )
        self._pmi = {s.host_id: s for s in self.series if s.type == 4}

    # ------------------------------------------------------------------ meetings
    def _build_meetings(self) -> None:
        sc = self.scale
        seq = 0
        total_days = sc.days + sc.future_days
        for d in range(total_days):
            day = self.start_date + timedelta(days=d)
            drng = random.Random(f"day:{self.seed}:{day.isoformat()}")
            for _ in range(sc.meetings_per_day):
                host = drng.choice(self.hosts)
                kind = drng.choices(["recurring", "scheduled", "pmi", "instant"], weights=[55, 15, 20, 10])[0]
                hour = drng.randint(7, 20)
                minute = drng.choice([0, 0, 15, 30, 45])
                sched_start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                length = max(5, int(drng.gauss(sc.minutes, sc.minutes * 0.3)))
                if kind == "recurring":
                    series = drng.choice(self._recurring[host.id])
                elif kind == "pmi":
                    series = self._pmi[host.id]
                else:
                    series = Series(
                        id=drng.randint(80_000_000_000, 99_999_999_999),
                        host_id=host.id,
                        topic=drng.choice(ADHOC_TOPICS) if kind == "scheduled" else "Zoom meeting",
                        type=2 if kind == "scheduled" else 1,
                        created_at=sched_start
                        - timedelta(days=drng.randint(0, 20) if kind == "scheduled" else 0),
                        timezone=host.timezone,
                        duration=length,
                        start_time=sched_start,
                        listed=kind == "scheduled",
                    )
                    self.series.append(series)
                start = sched_start + timedelta(seconds=drng.randint(-120, 240))
                end = start + timedelta(minutes=length, seconds=drng.randint(0, 59))
                force = 0
                roll = drng.random()
                if roll < 0.07:
                    force = 1
                elif roll < 0.12:
                    force = 2
                self.meetings.append(
                    Meeting(
                        seq=seq,
                        uuid=_uuid(drng, force),
                        series=series,
                        host=host,
                        start=start,
                        end=end,
                        scheduled_start=sched_start,
                        scheduled_end=sched_start + timedelta(minutes=length),
                        has_recording=drng.random() < (0.45 if kind == "recurring" else 0.2),
                        rng_seed=drng.getrandbits(48),
                    )
                )
                seq += 1
        self.meetings.sort(key=lambda m: (m.start, m.seq))
        self.meeting_by_uuid = {m.uuid: m for m in self.meetings}

    # ------------------------------------------------------------------ sessions
    def _roster_for(self, meeting: Meeting, rng: random.Random) -> list[Person]:
        pool = self.students
        if meeting.series.course_key is not None:
            course_rng = random.Random(f"roster:{self.seed}:{meeting.series.id}")
            host_person = self.person_by_key[meeting.host.person_key or ""]
            same = [p for p in pool if p.connection_id == host_person.connection_id]
            size = min(len(same), max(3, int(self.scale.participants * 1.6)))
            pool = course_rng.sample(same, size)
        n = max(1, min(len(pool), int(rng.gauss(self.scale.participants - 1, 1.5))))
        return rng.sample(pool, n)

    def _build_sessions(self) -> None:
        for m in self.meetings:
            rng = random.Random(m.rng_seed)
            host_person = self.person_by_key[m.host.person_key or ""]
            people = [host_person, *self._roster_for(m, rng)]
            waiting_room = m.series.type == 4  # personal rooms keep the waiting room on
            sessions: list[Session] = []
            # (person, join, leave, is_host, leave reason, dropped, status)
            spans: list[tuple[Person, datetime, datetime, bool, str, bool, str]] = []
            for p in people:
                is_host = p is host_person
                join = m.start if is_host else m.start + timedelta(seconds=rng.randint(-60, 600))
                leave = m.end if is_host else m.end - timedelta(seconds=rng.randint(0, 400))
                join = max(join, m.start)
                if leave - join < timedelta(seconds=90):
                    leave = join + timedelta(seconds=90)
                if waiting_room and not is_host:
                    # the first join waits to be admitted; a few are never let in
                    wait = timedelta(seconds=rng.randint(15, 240))
                    if rng.random() < WAITING_ROOM_GIVE_UP:
                        reason = WAITING_ROOM_REMOVED if rng.random() < 0.5 else WAITING_ROOM_LEFT
                        spans.append((p, join, join + wait, False, reason, False, "in_waiting_room"))
                        continue
                    spans.append((p, join, join + wait, False, WAITING_ROOM_LEFT, False, "in_waiting_room"))
                    join = join + wait + timedelta(seconds=rng.randint(1, 3))
                    if leave - join < timedelta(seconds=90):
                        leave = join + timedelta(seconds=90)
                if not is_host and rng.random() < 0.22 and (leave - join) > timedelta(minutes=8):
                    # drop and rejoin one or two times
                    cuts = sorted(
                        rng.sample(
                            range(120, int((leave - join).total_seconds()) - 120), rng.choice([1, 1, 2])
                        )
                    )
                    t = join
                    for c in cuts:
                        drop = join + timedelta(seconds=c)
                        if drop - t >= timedelta(seconds=60):
                            spans.append(
                                (p, t, drop, False, rng.choice(LEAVE_REASONS_DROP), True, "in_meeting")
                            )
                            t = drop + timedelta(seconds=rng.randint(20, 150))
                    if leave - t >= timedelta(seconds=60):
                        spans.append(
                            (p, t, leave, False, rng.choice(LEAVE_REASONS_FINAL), False, "in_meeting")
                        )
                else:
                    reason = "Host ended the meeting." if is_host else rng.choice(LEAVE_REASONS_FINAL)
                    spans.append((p, join, leave, is_host, reason, False, "in_meeting"))
            spans.sort(key=lambda s: (s[1], s[0].key))
            profile_of: dict[str, tuple[str, str, bool, str, tuple[str, str], str]] = {}
            for i, (p, join, leave, is_host, reason, dropped, status) in enumerate(spans):
                if p.key not in profile_of:
                    device = _weighted(rng, DEVICES)
                    network = (
                        "Cellular"
                        if device in ("iOS", "Android") and rng.random() < 0.4
                        else _weighted(rng, NETWORKS)
                    )
                    profile = rng.choices(["good", "fair", "bad"], weights=[72, 18, 10])[0]
                    web = device in ("Windows", "Mac") and rng.random() < WEB_SHARE
                    connector = "crc" if device == "H.323/SIP" else ("rwg" if web else "")
                    profile_of[p.key] = (
                        device,
                        network,
                        rng.random() < 0.7,
                        profile,
                        rng.choice(LOCATIONS),
                        connector,
                    )
                device, network, video, profile, (location, dc), connector = profile_of[p.key]
                if device == "Phone":
                    network, video = "Others", False  # the spec's network_type enum has no PSTN
                os_name, os_version, client = {
                    "Windows": ("Windows", "10.0.22631", "Windows"),
                    "Mac": ("Mac", "14.6.1", "Mac"),
                    "iOS": ("iOS", "17.5", "iOS"),
                    "Android": ("Android", "14", "Android"),
                    "Phone": ("", "", "Phone"),
                    "H.323/SIP": ("", "", "H.323/SIP"),
                }[device]
                if connector == "rwg":
                    client = WEB_CLIENT
                sessions.append(
                    Session(
                        meeting=m,
                        index=i,
                        user_id=str(16778240 + 1024 * i),
                        person=p,
                        join=join,
                        leave=leave,
                        is_host=is_host,
                        device=device,
                        os=os_name,
                        os_version=os_version,
                        client=client,
                        version=""
                        if device in ("Phone", "H.323/SIP")
                        else f"6.{rng.randint(0, 3)}.{rng.randint(0, 12)}.{rng.randint(1000, 9999)}",
                        ip_address=f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                        location=location,
                        data_center=dc,
                        network_type=network,
                        connection_type=rng.choice(CONNECTIONS),
                        leave_reason=reason.replace("$name", p.name),
                        profile=profile,
                        video=video,
                        shares=status == "in_meeting"
                        and ((is_host and rng.random() < 0.6) or rng.random() < 0.05),
                        rng_seed=rng.getrandbits(48),
                        dropped=dropped,
                        status=status,
                        connector=connector,
                        browser="Chrome" if connector == "rwg" else "",
                    )
                )
            self.sessions[m.uuid] = sessions

    # ------------------------------------------------------------------ QoS
    def qos(self, s: Session) -> list[dict]:
        """Per-minute QoS samples of one session, exactly as Zoom formats them (strings with units).

        A web-client (``rwg``) or Cloud Room Connector (``crc``) participant's streams come in the
        ``<kind>_device_from_<c>`` (sent) / ``<kind>_device_to_<c>`` (received) blocks instead of
        ``*_input`` / ``*_output``. Wi-Fi participants also get ``wifi_rssi`` (integers, dBm), app
        users on a computer ``cpu_pressure_level``.
        """
        rng = random.Random(s.rng_seed)
        extra = random.Random(f"qos-extra:{s.rng_seed}")  # the newer blocks: not to perturb the rest
        desktop_app = s.device in ("Windows", "Mac") and not s.connector
        out = []
        audio_only = s.device in ("Phone",)
        m = s.meeting
        share_until = m.start + (m.end - m.start) / 3  # screen share happens in the first third
        others_share = any(x.shares and x.person is not s.person for x in self.sessions[m.uuid])
        for minute in s.minutes:
            sharing = minute < share_until
            bad_minute = (s.profile == "bad" and rng.random() < 0.5) or (
                s.profile == "fair" and rng.random() < 0.12
            )
            sample: dict = {"date_time": iso(minute)}
            for stream in STREAMS:
                kind = STREAM_KIND[stream]
                active = (
                    kind == "audio"
                    or (kind == "video" and s.video and not audio_only)
                    or (kind == "share" and sharing and (s.shares if stream == "as_input" else others_share))
                )
                if kind == "audio" and rng.random() < 0.02:
                    active = False  # a gap: Zoom sends the whole block as ""
                sample[stream] = _stream_block(rng, kind, active, bad_minute, audio_only)
            cpu = rng.randint(5, 45) if not bad_minute else rng.randint(30, 98)
            sample["cpu_usage"] = (
                {k: "" for k in CPU_FIELDS}
                if audio_only
                else {
                    "zoom_min_cpu_usage": f"{max(1, cpu - rng.randint(1, 10))}%",
                    "zoom_avg_cpu_usage": f"{cpu}%",
                    "zoom_max_cpu_usage": f"{min(100, cpu + rng.randint(1, 15))}%",
                    "system_max_cpu_usage": f"{min(100, cpu + rng.randint(10, 30))}%",
                }
            )
            if s.connector:
                for stream in STREAMS:
                    sample[connector_block(stream, s.connector)] = sample.pop(stream)
            if desktop_app:
                levels = ("normal", "fair", "serious", "critical")
                low = 0 if cpu < 60 else 1
                high = min(3, low + (2 if bad_minute else extra.randint(0, 1)))
                sample["cpu_pressure_level"] = {
                    "system_min_cpu_pressure_level": levels[low],
                    "system_avg_cpu_pressure_level": levels[(low + high) // 2],
                    "system_max_cpu_pressure_level": levels[high],
                }
            if s.network_type == "Wifi":
                avg = extra.randint(-80, -45) - (10 if bad_minute else 0)
                sample["wifi_rssi"] = {
                    "max_rssi": avg + extra.randint(0, 8),
                    "avg_rssi": avg,
                    "min_rssi": avg - extra.randint(0, 12),
                    "rssi_unit": "dBm",
                }
            out.append(sample)
        return out

    # ------------------------------------------------------------------ recordings
    def _build_recordings(self) -> None:
        sc = self.scale
        big_done = sc.big_file_bytes <= 0
        for m in self.meetings:
            if not m.has_recording:
                continue
            rng = random.Random(f"rec:{m.rng_seed}")
            minutes = max(1, m.duration_seconds // 60)
            files: list[RecordingFile] = []

            add = functools.partial(_add_file, files, rng, m)
            speakers = self._speakers(m)
            video_types = [t for t in VIDEO_RECORDING_TYPES if rng.random() < 0.4]
            if not any(t in ("active_speaker", "speaker_view") for t in video_types):
                video_types.append(rng.choice(["active_speaker", "speaker_view"]))
            for t in video_types:
                size = int(minutes * sc.bytes_per_minute * rng.uniform(0.8, 1.2))
                if not big_done:
                    size, big_done = sc.big_file_bytes, True
                add("MP4", t, size)
            if rng.random() < 0.8:
                add("M4A", "audio_only", int(minutes * sc.bytes_per_minute / 8))
            if rng.random() < 0.5:
                add("CHAT", "chat_file", rng.randint(500, 20_000), speakers=speakers)
            transcript = rng.random() < 0.4
            if transcript:
                add("TRANSCRIPT", "audio_transcript", rng.randint(2_000, 60_000), speakers=speakers)
            if rng.random() < 0.25:
                add("CC", None, rng.randint(2_000, 60_000), False, speakers=speakers)
            if rng.random() < 0.3:
                # real payloads have both: TIMELINE with id, size, status and type (2024 captures)
                # and without them (the 2022 spec's note)
                with_id = rng.random() < 0.5
                add("TIMELINE", "timeline" if with_id else None, rng.randint(1_000, 10_000), with_id)
            if transcript and rng.random() < 0.6:
                add("SUMMARY", "summary", rng.randint(2_000, 8_000))
            if rng.random() < 0.05:
                add("CSV", "poll", rng.randint(200, 3_000))
            protected = rng.random() < 0.4
            auto_delete = rng.random() < 0.6
            trashed = rng.random() < 0.1
            self.recordings.append(
                Recording(
                    meeting=m,
                    files=files,
                    passcode=base64.urlsafe_b64encode(rng.randbytes(24)).decode() if protected else None,
                    password=f"{rng.randint(0, 999999):06d}" if protected else None,
                    auto_delete=auto_delete,
                    auto_delete_date=(m.start.date() + timedelta(days=rng.choice([9, 10, 12, 30, 60, 90])))
                    if auto_delete
                    else None,
                    trashed_at=(m.end + timedelta(hours=rng.randint(1, 20))) if trashed else None,
                    share_url=f"https://zoom.example/rec/share/{base64.urlsafe_b64encode(rng.randbytes(12)).decode()}",
                )
            )
        self.recording_by_uuid = {r.meeting.uuid: r for r in self.recordings}
        self.file_by_key = {f.key: (r, f) for r in self.recordings for f in r.files}

    def _speakers(self, m: Meeting) -> tuple[str, ...]:
        """Who may speak in a recording: the host, then everyone admitted, as Zoom names them."""
        names: list[str] = []
        for s in sorted(self.sessions[m.uuid], key=lambda s: (not s.is_host, s.index)):
            if s.in_meeting and s.person.name not in names:
                names.append(s.person.name)
        return tuple(names)

    # ------------------------------------------------------------------ MEETS
    def _build_meets(self) -> None:
        rng = random.Random(f"meets:{self.seed}")
        self.meets_connections = [
            {
                "meetsIdConnection": 1,
                "name": "Canvas (main campus)",
                "platformUrl": "https://canvas.university.example.edu/",
                "platformType": "Canvas",
                "settings": _settings(rng),
            },
            {
                "meetsIdConnection": 2,
                "name": "Moodle (continuing education)",
                "platformUrl": "https://moodle.university.example.edu/",
                "platformType": "Moodle",
                "settings": _settings(rng),
            },
        ]
        self.meets_admins = []
        for i in range(3):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            self.meets_admins.append(
                {
                    "meetsIdAdmin": 10 + i,
                    "email": f"admin{i + 1}@university.example.edu",
                    "nameFirst": first,
                    "nameLast": last,
                    "permissions": {
                        "manageAdmins": i == 0,
                        "manageConnections": i == 0,
                        "viewData": True,
                        "manageConferencingAccounts": i < 2,
                        "manageContent": i != 1,
                    },
                }
            )
        # users: one MEETS user per person with an email (hosts and signed-in students)
        self.meets_users: list[MeetsUser] = []
        next_id = 1000
        self.meets_user_by_person: dict[str, MeetsUser] = {}
        for p in self.persons:
            if not p.email:
                continue
            host_user = next((u for u in self.users if u.person_key == p.key), None)
            if host_user is not None and host_user.type != 2:
                continue  # only hosts among Zoom account members use MEETS
            mu = MeetsUser(
                id=next_id,
                person=p,
                connection_id=p.connection_id,
                lti_id_user=base64.b32encode(rng.randbytes(5)).decode().rstrip("="),
                auxiliary={"department": rng.choice(["MED", "NUR", "SCI", "HUM"])}
                if rng.random() < 0.5
                else {},
            )
            next_id += rng.randint(1, 3)  # ids are not dense
            self.meets_users.append(mu)
            self.meets_user_by_person[p.key] = mu
        # courses: one per recurring series, plus a few without meetings
        self.meets_courses: list[MeetsCourse] = []
        cid = 100
        self.course_by_series: dict[int, MeetsCourse] = {}
        for s in self.series:
            if s.type != 8:
                continue
            host = next(u for u in self.users if u.id == s.host_id)
            teacher = self.person_by_key[host.person_key or ""]
            roster_rng = random.Random(f"roster:{self.seed}:{s.id}")
            same = [p for p in self.students if p.connection_id == teacher.connection_id]
            size = min(len(same), max(3, int(self.scale.participants * 1.6)))
            roster = roster_rng.sample(same, size)
            course = MeetsCourse(
                id=cid,
                connection_id=teacher.connection_id,
                name=s.topic,
                lti_id_context=base64.b32encode(rng.randbytes(5)).decode().rstrip("=").lower(),
                auxiliary={"term": "2026FA", "section": f"{rng.randint(1, 4):02d}"},
                series_id=s.id,
                teacher=teacher,
                roster=roster,
            )
            cid += rng.randint(1, 4)
            self.meets_courses.append(course)
            self.course_by_series[s.id] = course
        for k in range(2):
            self.meets_courses.append(
                MeetsCourse(
                    id=cid,
                    connection_id=1 + k,
                    name=f"Orientation {2026 + k}",
                    lti_id_context=base64.b32encode(rng.randbytes(5)).decode().rstrip("=").lower(),
                    auxiliary={},
                    series_id=None,
                    teacher=None,
                    roster=[p for p in self.students if p.connection_id == 1 + k][:5],
                )
            )
            cid += 3
        self.meets_course_users: list[dict] = []
        for c in self.meets_courses:
            members: list[tuple[Person, dict]] = []
            if c.teacher is not None:
                is_admin = c is self.meets_courses[0]  # one course where the teacher also administers it
                members.append((c.teacher, {"administrator": is_admin, "teacher": True, "student": False}))
            members += [(p, {"administrator": False, "teacher": False, "student": True}) for p in c.roster]
            for p, roles in members:
                mu = self.meets_user_by_person.get(p.key)
                if mu is not None:
                    self.meets_course_users.append(
                        {"meetsIdCourse": c.id, "meetsIdUser": mu.id, "roles": roles}
                    )
        # conferencing accounts: one Zoom account per host; one Webex account for the first host
        self.meets_accounts: list[dict] = []
        self.account_by_host: dict[str, int] = {}
        aid = 50
        for h in self.hosts:
            mu = self.meets_user_by_person[h.person_key or ""]
            self.meets_accounts.append(
                {
                    "meetsIdConferencingAccount": aid,
                    "conferencingService": "zoom",
                    "conferencingUsername": h.email,
                    "meetsIdUsers": [mu.id],
                }
            )
            self.account_by_host[h.id] = aid
            aid += 1
        first_host_mu = self.meets_user_by_person[self.hosts[0].person_key or ""]
        self.webex_account_id = aid
        self.meets_accounts.append(
            {
                "meetsIdConferencingAccount": aid,
                "conferencingService": "webexmeetingcenter",
                "conferencingUsername": f"webex-{self.hosts[0].email}",
                "meetsIdUsers": [first_host_mu.id],
            }
        )
        # events: every instance of a course (recurring) series is a MEETS event of service zoom,
        # plus cancelled Zoom events (no meeting happened) and a few Webex events.
        self.meets_events: list[MeetsEvent] = []
        eid = 5000
        pending: list[MeetsEvent] = []
        for m in self.meetings:
            course = self.course_by_series.get(m.series.id)
            if course is None:
                continue
            host_mu = self.meets_user_by_person[m.host.person_key or ""]
            pending.append(
                MeetsEvent(
                    id=0,
                    name=m.topic,
                    time_begin=int(m.scheduled_start.timestamp()),
                    time_end=int(m.scheduled_end.timestamp()),
                    host_user_id=host_mu.id,
                    service="zoom",
                    account_id=self.account_by_host[m.host.id],
                    course_ids=[course.id],
                    user_ids=[],
                    meeting=m,
                    extra_attendance_seed=0,
                )
            )
        total_days = self.scale.days + self.scale.future_days
        for d in range(total_days):
            day = self.start_date + timedelta(days=d)
            if rng.random() < 0.5:
                course = rng.choice([c for c in self.meets_courses if c.teacher is not None])
                teacher_mu = self.meets_user_by_person[course.teacher.key]  # type: ignore[union-attr]
                t0 = datetime(day.year, day.month, day.day, rng.randint(8, 18), 0, tzinfo=UTC)
                is_webex = rng.random() < 0.5
                pending.append(
                    MeetsEvent(
                        id=0,
                        name=f"{course.name} (extra session)",
                        time_begin=int(t0.timestamp()),
                        time_end=int((t0 + timedelta(minutes=60)).timestamp()),
                        host_user_id=teacher_mu.id,
                        service="webexmeetingcenter" if is_webex else "zoom",
                        account_id=self.webex_account_id if is_webex else None,
                        course_ids=[course.id],
                        user_ids=[teacher_mu.id] if rng.random() < 0.3 else [],
                        meeting=None,
                        extra_attendance_seed=rng.getrandbits(48) if is_webex else 0,
                    )
                )
        pending.sort(key=lambda e: (e.time_begin, e.name))
        for e in pending:
            e.id = eid
            eid += rng.randint(1, 3)
            self.meets_events.append(e)
        self.meets_event_by_id = {e.id: e for e in self.meets_events}
        # recordings: for events whose Zoom meeting was recorded; MEETS learns of them hours later
        self.meets_recordings: list[MeetsRecording] = []
        rid = 700
        for e in self.meets_events:
            if e.meeting is None or not e.meeting.has_recording:
                continue
            for rtype in ["original", "converted"] if rng.random() < 0.5 else ["original"]:
                self.meets_recordings.append(
                    MeetsRecording(
                        id=rid,
                        event_id=e.id,
                        time_added=e.time_end + rng.randint(3600, 30 * 3600),
                        type=rtype,
                        size=max(1, (e.time_end - e.time_begin) // 60) * self.scale.bytes_per_minute // 2,
                        content_seed=rng.getrandbits(48),
                        gone=rng.random() < 0.06,
                    )
                )
                rid += rng.randint(1, 2)
        self.meets_recording_by_id = {r.id: r for r in self.meets_recordings}

    def attendance(self, event: MeetsEvent, final: bool) -> list[dict]:
        """MEETS attendance rows for an event: one per join/leave, verbatim from the service.

        Before the data is final, MEETS returns only what it has learned so far (here: the sessions
        that ended in the first 60% of the event), so a re-fetch later returns more rows.
        """
        rows: list[dict] = []
        if event.meeting is not None:
            sessions = self.sessions[event.meeting.uuid]
            cutoff = event.meeting.start + (event.meeting.end - event.meeting.start) * 0.6
            for s in sessions:
                if not s.in_meeting or (not final and s.leave > cutoff):
                    continue
                # MEETS learns the times from the conferencing service on its own schedule: they
                # differ from Zoom's by some seconds (deterministic per session)
                skew = s.rng_seed % 41 - 20
                rows.append(
                    {
                        "wasHost": s.is_host,
                        "attendeeName": s.person.name,
                        "emailAddress": s.person.email,
                        "ip": s.ip_address,
                        "browser": f"{(s.os or s.device).upper()}, {s.client.upper()}",
                        "timeJoin": int(s.join.timestamp()) + skew,
                        "timeLeave": int(s.leave.timestamp()) + skew // 2,
                    }
                )
        elif event.extra_attendance_seed:
            rng = random.Random(event.extra_attendance_seed)
            course = next(c for c in self.meets_courses if c.id == event.course_ids[0])
            people = [course.teacher, *rng.sample(course.roster, min(len(course.roster), 4))]
            for k, p in enumerate(people):
                if p is None or (not final and k % 2):
                    continue
                rows.append(
                    {
                        "wasHost": k == 0,
                        "attendeeName": p.name,
                        "emailAddress": p.email,
                        "ip": f"10.1.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                        "browser": "WINDOWS, CHROME",
                        "timeJoin": event.time_begin + rng.randint(0, 300),
                        "timeLeave": event.time_end - rng.randint(0, 300),
                    }
                )
        return rows

    # ------------------------------------------------------------------ file contents
    @staticmethod
    def content_chunks(
        size: int, content_seed: int, chunk_size: int = 1 << 20, offset: int = 0
    ) -> Iterator[bytes]:
        """Deterministic pseudo-random bytes of a file, produced chunk by chunk (never held whole).

        Chunk ``i`` is derived from ``(content_seed, i)`` alone, so a download can resume at any
        offset and a 5 GB file costs one chunk of memory.
        """
        spec = _TEXT_CONTENT.get((size, content_seed))
        if spec is not None:
            body = transcripts.generate(spec).body
            for k in range(offset, len(body), chunk_size):
                yield body[k : k + chunk_size]
            return
        block = 1 << 20
        pos = offset
        while pos < size:
            i, within = divmod(pos, block)
            data = random.Random(f"{content_seed}:{i}").randbytes(min(block, size - i * block))
            piece = data[within:]
            for k in range(0, len(piece), chunk_size):
                yield piece[k : k + chunk_size]
            pos = (i + 1) * block

    @staticmethod
    def content_sha256(size: int, content_seed: int) -> str:
        h = hashlib.sha256()
        for chunk in Account.content_chunks(size, content_seed):
            h.update(chunk)
        return h.hexdigest()


def connector_block(stream: str, connector: str) -> str:
    """``audio_input`` + ``rwg`` -> ``audio_device_from_rwg``; ``as_output`` + ``crc`` -> ``as_device_to_crc``."""
    kind, way = stream.split("_")
    return f"{kind}_device_{'from' if way == 'input' else 'to'}_{connector}"


def _add_file(
    files: list[RecordingFile],
    rng: random.Random,
    m: Meeting,
    file_type: str,
    recording_type: str | None,
    size: int,
    has_id: bool = True,
    speakers: tuple[str, ...] | None = None,
) -> None:
    fid = _uuid_like(rng) if has_id else None
    key = fid or hashlib.sha1(f"{m.uuid}|{file_type}|{len(files)}".encode()).hexdigest()[:32]
    rs = m.start + timedelta(seconds=5)
    seed = rng.getrandbits(48)
    text = None
    if speakers is not None:
        seconds = int((m.end - rs).total_seconds())
        text = TextSpec(file_type, seed, m.rng_seed, seconds, speakers)
    files.append(RecordingFile(key, fid, m.uuid, file_type, recording_type, rs, m.end, size, seed, text))


def _settings(rng: random.Random) -> dict:
    return {
        "tlsRequired": True,
        "teacherScheduleOthers": rng.random() < 0.5,
        "teacherSubstitute": rng.random() < 0.5,
        "studentsHost": rng.random() < 0.3,
        "featureAppointments": rng.random() < 0.5,
        "featureRecordings": True,
        "featureRepository": rng.random() < 0.7,
    }


def _uuid_like(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _stream_block(rng: random.Random, kind: str, active: bool, bad: bool, audio_only: bool) -> dict:
    keys = BASE_METRICS + (VIDEO_METRICS if kind in ("video", "share") else ())
    if not active:
        if kind == "video" and not audio_only and rng.random() < 0.5:
            block = {k: "" for k in keys}
            block["resolution"], block["frame_rate"] = "0*0", "0 fps"
            return block
        return {k: "" for k in keys}
    base_bitrate = {"audio": (40, 90), "video": (600, 2200), "share": (150, 900)}[kind]
    latency = rng.randint(150, 450) if bad and rng.random() < 0.6 else rng.randint(8, 120)
    jitter = rng.randint(20, 95) if bad and rng.random() < 0.5 else rng.randint(0, 25)
    avg_loss = rng.uniform(0.5, 8.0) if bad and rng.random() < 0.5 else rng.uniform(0.0, 1.2)
    max_loss = avg_loss + (rng.uniform(2.0, 25.0) if bad else rng.uniform(0.0, 3.0))
    block = {
        "bitrate": f"{rng.randint(*base_bitrate)} kbps",
        "latency": f"{latency} ms",
        "jitter": f"{jitter} ms",
        "avg_loss": f"{avg_loss:.1f}%",
        "max_loss": f"{max_loss:.1f}%",
    }
    if kind in ("video", "share"):
        w, h = (
            rng.choice([(1280, 720), (640, 360), (1920, 1080), (320, 180)])
            if kind == "video"
            else (1920, 1080)
        )
        block["resolution"] = f"{w}*{h}"
        fps = rng.randint(2, 9) if bad and rng.random() < 0.5 else rng.randint(12, 30)
        block["frame_rate"] = f"{fps} fps"
    return block
