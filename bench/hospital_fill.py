"""Vectorised filler of the raw layer for the ``hospital`` bench preset, with its own ground truth.

Why: seed 001's hospital harvests up to 6,000 virtual visits a day (typically 2-4 participants -
clinician, patient, interpreter - for 15-45 minutes) and keeps six months: ~75-100 million
participant-minutes. The sandbox generator (``tests/fixtures/raw_fill.py`` over
:class:`pipelines.sandbox.account.Account`) builds Python objects per session and minute and fills
``semester`` (a tenth of that) in about 20 minutes, so the hospital bench ran at 100 meetings a day.
This module draws the same shapes column-wise (Arrow's seeded generator ``pc.random`` for the draws,
polars expressions for the arithmetic and Zoom's strings; numpy is not a project dependency) with no
Python object per row, one day at a time, straight into DuckDB (the next day is drawn while DuckDB
writes the current one).

What it writes: every table of the raw contract (:func:`pipelines.raw_contract.create_empty`: the
same tables, columns and types ``raw_fill.py`` and the dlt sources write, ``_dlt_load_id`` and
``_dlt_id`` included). Filled: ``zoom_raw.users`` (the clinicians), ``meeting_series`` (two weekly
clinics per clinician), ``meetings``, ``participant_sessions``, ``participant_qos``,
``meeting_fetch_log`` and ``active_hosts`` (per calendar month). Left empty, as a hospital's Zoom
account without an LMS or cloud recordings has them: ``recordings``, ``recording_files`` and every
``meets_raw`` table.

The draws follow the sandbox generator (:meth:`Account.qos`, ``_build_meetings``,
``_build_sessions``): meeting length ``max(5, gauss(30, 9))`` minutes plus 0-59 s, the host plus
``max(1, gauss(2, 1.5))`` others, joins 0-10 minutes late and leaves up to 400 s early, devices by
Zoom's enum weights, profiles good/fair/bad 72/18/10 with bad minutes, a 2% audio gap, video for 70%,
"0*0"/"0 fps" for half the cameras off, the host sharing in the first third of 60% of visits,
CPU usage, CPU pressure for desktop apps and Wi-Fi RSSI (integers, stringified as the source does)
for Wi-Fi participants. QoS values are Zoom's strings (``"20 ms"``, ``"0.3%"``, ``"1280*720"``,
``"12 fps"``, ``""``). Simplified against the sandbox (documented, not hidden): no rejoins, no
waiting room, no web-client or room-connector blocks (SIP devices are left out), external
participants' emails hidden (they are people of their meeting by name), clinicians' shown.

Ground truth: :func:`slice_truth` regenerates a day (every draw is a function of ``(seed, day)``)
and returns, per meeting, what the marts must say - ``sessions``, ``distinct_people``,
``qos_minutes`` and, per stream and per stream kind, the measured and violating minutes and their
proportion for every threshold of ``dbt_project/seeds/qos_thresholds.csv`` - in the shape of
:func:`pipelines.sandbox.truth.compute_truth`'s ``meetings``, so ``check_marts`` (or the e2e
suite's assertions) can hold a dbt build of a small fill to it exactly.

Speed and size (2 shared cores, 1-3 days measured; run ``python bench/hospital_fill.py``): see
``bench/results/hospital_fill.json``. The full 180 days are never run on the shared machine; the
estimate there is the measured per-day cost times 180.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import operator
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from bench.hospital_scale import HOSPITAL  # noqa: E402
from pipelines import raw_contract  # noqa: E402
from pipelines.sandbox.account import (  # noqa: E402
    BASE_METRICS,
    FIRST_NAMES,
    LAST_NAMES,
    LOCATIONS,
    STREAM_KIND,
    STREAMS,
)
from pipelines.sandbox.truth import load_thresholds  # noqa: E402

START_DATE = dt.date(2026, 6, 1)
RESULTS = ROOT / "bench" / "results" / "hospital_fill.json"

DEVICES = (("Windows", 44), ("Mac", 27), ("iOS", 11), ("Android", 9), ("Phone", 5))
"""Zoom's ``device`` enum with the sandbox's weights; H.323/SIP left out (its QoS comes in the
room-connector blocks, which this filler does not draw)."""
PHONE = 4
DESKTOP = (0, 1)
OS = (("Windows", "10.0.22631"), ("Mac", "14.6.1"), ("iOS", "17.5"), ("Android", "14"), ("", ""))
NETWORKS = (("Wired", 35), ("Wifi", 50), ("Cellular", 10), ("Others", 5))
WIFI, CELLULAR, OTHERS = 1, 2, 3
CONNECTIONS = ("UDP", "UDP", "UDP", "TCP", "P2P", "SSL")
RESOLUTIONS = ("1280*720", "640*360", "1920*1080", "320*180")
PRESSURE = ("normal", "fair", "serious", "critical")
BITRATE = {"audio": (40, 90), "video": (600, 2200), "share": (150, 900)}
DEPTS = ("Medicine", "Nursing", "Pediatrics", "Radiology", "Psychiatry")
GUEST_NAMES = tuple(f"{f} {la}" for f in FIRST_NAMES for la in LAST_NAMES)
"""Patients' and interpreters' display names; a meeting never has two of one name."""
FIRST_USER_ID = 16778240  # Zoom's per-meeting participant ids: 16778240 + 1024 * i (as the sandbox)
TS = pl.Datetime("us", "UTC")


# ----------------------------------------------------------------------------- draws
class _Draws:
    """Uniform draws from Arrow's seeded generator (``pc.random``): one stream per call, so every
    value is a function of ``(seed, day, call number)``."""

    def __init__(self, seed: int, day: int):
        self.base = ((seed + 1) * 1_000_003 + day) * 4_099
        self.calls = 0

    def u(self, n: int) -> pl.Series:
        self.calls += 1
        return pl.from_arrow(pc.random(n, initializer=self.base + self.calls))  # type: ignore[return-value]

    def ints(self, lo: int, hi: int, n: int) -> pl.Series:
        """Integers in ``[lo, hi]`` (both included, like ``random.randint``)."""
        return (self.u(n) * (hi - lo + 1)).floor().cast(pl.Int64) + lo

    def normal(self, mu: float, sigma: float, n: int) -> pl.Series:
        u1, u2 = self.u(n), self.u(n)
        return ((-2.0 * (1.0 - u1).log()).sqrt() * (2 * math.pi * u2).cos()) * sigma + mu

    def choice(self, weights: tuple[float, ...], n: int) -> pl.Series:
        total = sum(weights)
        cut = pl.Series([sum(weights[: i + 1]) / total for i in range(len(weights) - 1)])
        return cut.search_sorted(self.u(n), side="right").cast(pl.Int64)

    def chars(self, n: int, width: int, alphabet: int = 62) -> pa.Array:
        """``n`` random strings of ``width`` base64 characters, built as one buffer."""
        c = self.ints(0, alphabet - 1, n * width)
        ascii_ = (
            pl.select(
                pl.when(c < 26).then(c + 65).when(c < 52).then(c + 71).when(c < 62).then(c - 4)
                .when(c == 62).then(43).otherwise(47)
            )
            .to_series()
            .cast(pl.UInt8)
            .rechunk()
            .to_arrow()
        )  # fmt: skip
        offsets = pa.array(range(0, (n + 1) * width, width), pa.int32())
        return pa.Array.from_buffers(pa.string(), n, [None, offsets.buffers()[1], ascii_.buffers()[1]])


def _where(mask: pl.Series, a: pl.Series | Any, b: pl.Series | Any) -> pl.Series:
    return pl.select(pl.when(mask).then(a).otherwise(b)).to_series()


def _repeat(values: pl.Series, counts: pl.Series) -> pl.Series:
    return (
        pl.DataFrame({"v": values, "c": counts}).select(pl.col("v").repeat_by("c")).explode("v").to_series()
    )


def _within(groups: pl.Series, counts: pl.Series) -> pl.Series:
    """0, 1, ... inside each run of ``_repeat(..., counts)``."""
    starts = counts.cum_sum() - counts
    return pl.int_range(0, len(groups), eager=True) - _repeat(starts, counts)


def _pick(values: tuple[str, ...] | list[str], index: pl.Series) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(index)


# ----------------------------------------------------------------------------- the account
@dataclass(frozen=True)
class Clinicians:
    ids: list[str]
    emails: list[str]
    first: list[str]
    last: list[str]
    depts: list[str]
    series: list[tuple[int, int]]  # two weekly clinics each

    def display(self, i: int) -> str:
        """Clinicians' display names end in ", MD": never the name of a patient or an interpreter."""
        return f"{self.first[i]} {self.last[i]}, MD"


def clinicians(seed: int, hosts: int = HOSPITAL["hosts"]) -> Clinicians:
    draws = _Draws(seed, -1)
    ids = draws.chars(hosts, 22).to_pylist()
    first = [FIRST_NAMES[i % len(FIRST_NAMES)] for i in range(hosts)]
    last = [LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)] for i in range(hosts)]
    emails = [
        "".join(ch for ch in f"{f}.{la}{i}".lower() if ch.isascii() and (ch.isalnum() or ch == "."))
        + "@hospital.example.org"
        for i, (f, la) in enumerate(zip(first, last, strict=True))
    ]
    depts = [DEPTS[i % len(DEPTS)] for i in range(hosts)]
    series = [(80_000_000_000 + 2 * i, 80_000_000_001 + 2 * i) for i in range(hosts)]
    return Clinicians(ids, emails, first, last, depts, series)


# ----------------------------------------------------------------------------- one day
@dataclass
class Day:
    """Every draw of one day: ``meetings``, ``sessions`` and ``minutes`` frames (numbers only)."""

    meetings: pl.DataFrame  # host, clinic, start, end, people, uuid
    sessions: pl.DataFrame  # m, pos, join, leave, device, network, video, shares, name, minutes
    minutes: pl.DataFrame  # s, m, at, bad, audio_only, <stream>_<metric>..., cpu_...
    draws: _Draws  # the rest of the day's columns (ids, names, ...) continue this stream
    uuid_call: int = 0


def draw_day(seed: int, day: int, meetings_per_day: int, start_date: dt.date = START_DATE,
             hosts: int = HOSPITAL["hosts"]) -> Day:  # fmt: skip
    """The day's visits, sessions and per-minute QoS numbers: a pure function of the arguments."""
    r = _Draws(seed, day)
    m = meetings_per_day
    midnight = int(dt.datetime.combine(start_date + dt.timedelta(days=day), dt.time(), dt.UTC).timestamp())
    # ---- visits (sandbox: hour 7-20, quarter-hour starts, -2..+4 min drift, gauss(30, 9) minutes)
    sched = (
        midnight
        + r.ints(7, 20, m) * 3600
        + _pick(("0", "0", "15", "30", "45"), r.ints(0, 4, m)).cast(pl.Int64) * 60
    )
    start = sched + r.ints(-120, 240, m)
    length = pl.select(pl.max_horizontal(r.normal(30, 9, m).cast(pl.Int64), 5)).to_series()
    end = start + length * 60 + r.ints(0, 59, m)
    others = pl.select(pl.max_horizontal(r.normal(2, 1.5, m).cast(pl.Int64), 1)).to_series()
    meetings = pl.DataFrame(
        {
            "host": r.ints(0, hosts - 1, m),
            "clinic": r.ints(0, 1, m),
            "start": start,
            "end": end,
            "people": others + 1,
            "first_name": r.ints(0, len(GUEST_NAMES) - 1, m),
        }
    )
    # ---- sessions: the clinician from start to end; others join up to 10 min late, leave up to 400 s early
    people = meetings["people"]
    n = int(people.sum())
    sm = _repeat(pl.int_range(0, m, eager=True), people)
    pos = _within(sm, people)
    host_row = pos == 0
    m_start, m_end = start.gather(sm), end.gather(sm)
    join = _where(
        host_row, m_start, pl.select(pl.max_horizontal(m_start + r.ints(-60, 600, n), m_start)).to_series()
    )
    leave = _where(host_row, m_end, m_end - r.ints(0, 400, n))
    leave = pl.select(pl.max_horizontal(leave, join + 90)).to_series()
    device = r.choice(tuple(w for _, w in DEVICES), n)
    network = r.choice(tuple(w for _, w in NETWORKS), n)
    mobile = device.is_in([2, 3])
    network = _where(mobile & (r.u(n) < 0.4), CELLULAR, network)
    phone = device == PHONE
    network = _where(phone, OTHERS, network)
    video = (r.u(n) < 0.7) & ~phone
    shares = (host_row & (r.u(n) < 0.6)) | (r.u(n) < 0.05)
    profile = r.choice((72, 18, 10), n)  # good, fair, bad
    minutes = pl.select(pl.max_horizontal((leave - join) // 60, 1)).to_series()
    sessions = pl.DataFrame(
        {
            "m": sm, "pos": pos, "join": join, "leave": leave, "device": device, "network": network,
            "video": video, "shares": shares, "profile": profile, "minutes": minutes,
            "name": (meetings["first_name"].gather(sm) + 97 * pos) % len(GUEST_NAMES),
        }
    ).with_columns(
        (pl.col("shares").cast(pl.Int64).sum().over("m") - pl.col("shares").cast(pl.Int64) > 0).alias("others_share")
    )  # fmt: skip
    # ---- minutes: one per started minute in the meeting, at least one (Session.minutes)
    rows = int(minutes.sum())
    rs = _repeat(pl.int_range(0, n, eager=True), minutes)
    k = _within(rs, minutes)
    rm = sm.gather(rs)
    at = (join - join % 60).gather(rs) + 60 * k
    p = profile.gather(rs)
    bad = ((p == 2) & (r.u(rows) < 0.5)) | ((p == 1) & (r.u(rows) < 0.12))
    sharing = at.cast(pl.Float64) < (start + (end - start) / 3).gather(rm)
    audio_only = phone.gather(rs)
    cols: dict[str, pl.Series] = {"s": rs, "m": rm, "at": at, "bad": bad, "audio_only": audio_only}
    for stream in STREAMS:
        kind = STREAM_KIND[stream]
        if kind == "audio":
            active = r.u(rows) >= 0.02  # a gap: Zoom sends every value of the block as ""
        elif kind == "video":
            active = video.gather(rs)
        else:
            active = sharing & (shares if stream == "as_input" else sessions["others_share"]).gather(rs)
        lo, hi = BITRATE[kind]
        avg_loss = _where(bad & (r.u(rows) < 0.5), r.ints(5, 80, rows), r.ints(0, 12, rows))  # tenths of %
        cols |= {
            f"{stream}_active": active,
            f"{stream}_bitrate": r.ints(lo, hi, rows),
            f"{stream}_latency": _where(
                bad & (r.u(rows) < 0.6), r.ints(150, 450, rows), r.ints(8, 120, rows)
            ),
            f"{stream}_jitter": _where(bad & (r.u(rows) < 0.5), r.ints(20, 95, rows), r.ints(0, 25, rows)),
            f"{stream}_avg_loss": avg_loss,
            f"{stream}_max_loss": avg_loss + _where(bad, r.ints(20, 250, rows), r.ints(0, 30, rows)),
        }
        if kind != "audio":
            cols[f"{stream}_frame_rate"] = _where(
                bad & (r.u(rows) < 0.5), r.ints(2, 9, rows), r.ints(12, 30, rows)
            )
            cols[f"{stream}_resolution"] = (
                r.ints(0, 3, rows) if kind == "video" else pl.repeat(2, rows, eager=True)
            )
            # a camera that is off: half the time "0*0" / "0 fps" (never for a phone), else ""
            off = (
                (~active & ~audio_only & (r.u(rows) < 0.5))
                if kind == "video"
                else pl.repeat(False, rows, eager=True)
            )
            cols[f"{stream}_zero"] = off
    cpu = _where(bad, r.ints(30, 98, rows), r.ints(5, 45, rows))
    cols |= {
        "cpu_zoom_avg_cpu_usage": cpu,
        "cpu_zoom_min_cpu_usage": pl.select(pl.max_horizontal(cpu - r.ints(1, 10, rows), 1)).to_series(),
        "cpu_zoom_max_cpu_usage": pl.select(pl.min_horizontal(cpu + r.ints(1, 15, rows), 100)).to_series(),
        "cpu_system_max_cpu_usage": pl.select(pl.min_horizontal(cpu + r.ints(10, 30, rows), 100)).to_series(),
    }
    return Day(meetings, sessions, pl.DataFrame(cols), r, r.calls)


# ----------------------------------------------------------------------------- day -> tables
def _text(values: str, suffix: str, keep: str) -> pl.Expr:
    """Integers as Zoom's strings (``"20 ms"``); ``""`` where ``keep`` is false."""
    return (
        pl.when(pl.col(keep))
        .then(pl.concat_str([pl.col(values).cast(pl.String), pl.lit(suffix)]))
        .otherwise(pl.lit(""))
    )


def _tenths(values: str, keep: str) -> pl.Expr:
    """Tenths of a percent as ``"0.3%"`` (the sandbox's ``{:.1f}%``); ``""`` where not kept."""
    v = pl.col(values)
    text = pl.concat_str([(v // 10).cast(pl.String), pl.lit("."), (v % 10).cast(pl.String), pl.lit("%")])
    return pl.when(pl.col(keep)).then(text).otherwise(pl.lit(""))


def _qos_frame(d: Day, uuids: pa.Array, load_id: str) -> pl.DataFrame:
    r, rows = d.draws, d.minutes.height
    sessions = d.sessions
    extra = pl.DataFrame(
        {
            "uuid_ix": d.minutes["m"],
            "pos": sessions["pos"].gather(d.minutes["s"]),
            "desktop": sessions["device"].gather(d.minutes["s"]).is_in(DESKTOP),
            "wifi": sessions["network"].gather(d.minutes["s"]) == WIFI,
            "press_step": r.ints(0, 1, rows),
            "rssi_avg": r.ints(-80, -45, rows),
            "rssi_up": r.ints(0, 8, rows),
            "rssi_down": r.ints(0, 12, rows),
        }
    )
    frame = pl.concat([d.minutes, extra], how="horizontal")
    exprs: list[pl.Expr] = [
        pl.lit(None, pl.String).alias("meeting_uuid"),  # replaced by the Arrow take below
        (FIRST_USER_ID + 1024 * pl.col("pos")).cast(pl.String).alias("user_id"),
        (pl.col("at") * 1_000_000).cast(TS).alias("date_time"),
    ]
    for stream in STREAMS:
        on = f"{stream}_active"
        exprs += [
            _text(f"{stream}_bitrate", " kbps", on).alias(f"{stream}__bitrate"),
            _text(f"{stream}_latency", " ms", on).alias(f"{stream}__latency"),
            _text(f"{stream}_jitter", " ms", on).alias(f"{stream}__jitter"),
            _tenths(f"{stream}_avg_loss", on).alias(f"{stream}__avg_loss"),
            _tenths(f"{stream}_max_loss", on).alias(f"{stream}__max_loss"),
        ]
        if STREAM_KIND[stream] != "audio":
            zero = pl.col(f"{stream}_zero")
            res = pl.lit(pl.Series(RESOLUTIONS)).gather(pl.col(f"{stream}_resolution"))
            exprs += [
                pl.when(pl.col(on)).then(res).when(zero).then(pl.lit("0*0")).otherwise(pl.lit(""))
                .alias(f"{stream}__resolution"),
                pl.when(zero).then(pl.lit("0 fps")).otherwise(_text(f"{stream}_frame_rate", " fps", on))
                .alias(f"{stream}__frame_rate"),
            ]  # fmt: skip
    frame = frame.with_columns((~pl.col("audio_only")).alias("has_cpu"))
    for name in ("zoom_min_cpu_usage", "zoom_avg_cpu_usage", "zoom_max_cpu_usage", "system_max_cpu_usage"):
        exprs.append(_text(f"cpu_{name}", "%", "has_cpu").alias(f"cpu_usage__{name}"))
    # CPU pressure: desktop apps only (null elsewhere: the block is absent); the sandbox's levels
    low = (pl.col("cpu_zoom_avg_cpu_usage") >= 60).cast(pl.Int64)
    high = pl.min_horizontal(low + pl.when(pl.col("bad")).then(2).otherwise(pl.col("press_step")), 3)
    levels = pl.lit(pl.Series(PRESSURE))
    for name, level in (("min", low), ("avg", (low + high) // 2), ("max", high)):
        exprs.append(
            pl.when(pl.col("desktop")).then(levels.gather(level)).otherwise(pl.lit(None, pl.String))
            .alias(f"cpu_pressure_level__system_{name}_cpu_pressure_level")
        )  # fmt: skip
    # Wi-Fi RSSI (integers in Zoom's payload, stringified by the source): Wi-Fi participants only
    avg = pl.col("rssi_avg") - 10 * pl.col("bad").cast(pl.Int64)
    for name, value in (
        ("max_rssi", avg + pl.col("rssi_up")),
        ("avg_rssi", avg),
        ("min_rssi", avg - pl.col("rssi_down")),
    ):
        exprs.append(
            pl.when(pl.col("wifi"))
            .then(value.cast(pl.String))
            .otherwise(pl.lit(None, pl.String))
            .alias(f"wifi_rssi__{name}")
        )
    exprs.append(
        pl.when(pl.col("wifi"))
        .then(pl.lit("dBm"))
        .otherwise(pl.lit(None, pl.String))
        .alias("wifi_rssi__rssi_unit")
    )
    exprs.append(pl.lit(load_id).alias("_dlt_load_id"))
    out = frame.select(exprs)
    return out.with_columns(
        pl.from_arrow(uuids.take(d.minutes["m"].to_arrow())).alias("meeting_uuid"),  # type: ignore[union-attr]
        pl.from_arrow(r.chars(rows, 14)).alias("_dlt_id"),  # type: ignore[union-attr]
    )


def _zoom_duration(seconds: pl.Expr) -> pl.Expr:
    """Dashboard duration: ``hh:mm:ss``, hours dropped when 0 (``16:08``)."""
    h, mi, s = seconds // 3600, (seconds % 3600) // 60, seconds % 60
    two = lambda e: e.cast(pl.String).str.zfill(2)  # noqa: E731
    return (
        pl.when(h > 0)
        .then(pl.concat_str([two(h), two(mi), two(s)], separator=":"))
        .otherwise(pl.concat_str([two(mi), two(s)], separator=":"))
    )


def _uuids(d: Day) -> pa.Array:
    """The day's meeting UUIDs (Zoom's: 22 base64 characters + "=="); the first draw after ``draw_day``."""
    assert d.draws.calls == d.uuid_call, "the UUIDs are drawn first after draw_day"
    return pc.binary_join_element_wise(d.draws.chars(d.meetings.height, 22, alphabet=64), "==", "")


def _tables(d: Day, c: Clinicians, load_id: str, fetched: dt.datetime) -> dict[str, pl.DataFrame]:
    r = d.draws
    mt, st = d.meetings, d.sessions
    n = st.height
    uuids = _uuids(d)
    hosts = pl.Series(list(range(len(c.ids))))
    host_of = mt["host"].gather(st["m"])
    host_row = st["pos"] == 0
    names = _where(
        host_row, _pick([c.display(i) for i in range(len(c.ids))], host_of), _pick(GUEST_NAMES, st["name"])
    )
    ids = _where(host_row, _pick(c.ids, host_of), pl.lit(""))
    emails = _where(host_row, _pick(c.emails, host_of), pl.lit(""))
    reason = r.ints(0, 3, n)
    loc = r.ints(0, len(LOCATIONS) - 1, n)
    ip = [r.ints(lo, hi, n).cast(pl.String) for lo, hi in ((11, 220), (0, 255), (0, 255), (1, 254))]
    version = [
        r.ints(0, 3, n).cast(pl.String),
        r.ints(0, 12, n).cast(pl.String),
        r.ints(1000, 9999, n).cast(pl.String),
    ]
    sessions = pl.DataFrame(
        {
            "meeting_uuid": pl.from_arrow(uuids.take(st["m"].to_arrow())),
            "id": ids,
            "participant_user_id": ids,
            "user_id": (FIRST_USER_ID + 1024 * st["pos"]).cast(pl.String),
            "participant_uuid": (r.ints(10**14, 10**18, n)).cast(pl.String),
            "user_name": names,
            "email": emails,
            "status": pl.repeat("in_meeting", n, eager=True),
            "join_time": (st["join"] * 1_000_000).cast(TS),
            "leave_time": (st["leave"] * 1_000_000).cast(TS),
            "leave_reason": pl.select(
                pl.when(host_row | (reason == 1)).then(pl.lit("Host ended the meeting."))
                .when(reason == 3).then(pl.lit("Unknown reason."))
                .otherwise(pl.concat_str([names, pl.lit(" left the meeting.")]))
            ).to_series(),
            "role": _where(host_row, pl.lit("host"), pl.lit("attendee")),
            "device": _pick(tuple(x for x, _ in DEVICES), st["device"]),
            "os": _pick(tuple(x for x, _ in OS), st["device"]),
            "os_version": _pick(tuple(x for _, x in OS), st["device"]),
            "client": _pick(tuple(x for x, _ in DEVICES), st["device"]),
            "version": _where(st["device"] == PHONE, pl.lit(""), pl.select(pl.concat_str([pl.lit("6"), *version], separator=".")).to_series()),
            "ip_address": pl.select(pl.concat_str(ip, separator=".")).to_series(),
            "location": _pick(tuple(x for x, _ in LOCATIONS), loc),
            "data_center": _pick(tuple(x for _, x in LOCATIONS), loc),
            "network_type": _pick(tuple(x for x, _ in NETWORKS), st["network"]),
            "connection_type": _pick(CONNECTIONS, r.ints(0, len(CONNECTIONS) - 1, n)),
        }
    )  # fmt: skip
    per = (
        st.group_by("m")
        .agg(
            pl.col("minutes").sum().alias("qos_rows"),
            (pl.col("device") == PHONE).any().alias("has_pstn"),
            pl.col("video").any().alias("has_video"),
            pl.col("shares").any().alias("has_screen_share"),
        )
        .sort("m")
    )
    meetings = mt.select(
        pl.from_arrow(uuids).alias("uuid"),
        pl.lit(pl.Series([s for pair in c.series for s in pair])).gather(pl.col("host") * 2 + pl.col("clinic")).alias("id"),
        pl.lit(pl.Series([f"Telehealth clinic {c.depts[h]} ({c.last[h]})" for h in hosts])).gather(pl.col("host")).alias("topic"),
        pl.lit(pl.Series([c.display(h) for h in hosts])).gather(pl.col("host")).alias("host"),
        pl.lit(pl.Series(c.emails)).gather(pl.col("host")).alias("email"),
        pl.lit("Licensed").alias("user_type"),
        pl.lit(pl.Series(c.depts)).gather(pl.col("host")).alias("dept"),
        (pl.col("start") * 1_000_000).cast(TS).alias("start_time"),
        (pl.col("end") * 1_000_000).cast(TS).alias("end_time"),
        _zoom_duration(pl.col("end") - pl.col("start")).alias("duration"),
        pl.col("people").alias("participants"),
        per["has_pstn"],
        pl.lit(True).alias("has_voip"),
        pl.lit(False).alias("has_3rd_party_audio"),
        per["has_video"],
        per["has_screen_share"],
        pl.lit(False).alias("has_recording"),
        pl.lit(False).alias("has_sip"),
        pl.lit(False).alias("has_archiving"),
        pl.lit("good").alias("audio_quality"),
        pl.lit("good").alias("video_quality"),
        pl.lit("good").alias("screen_share_quality"),
    )  # fmt: skip
    fetch_log = mt.select(
        pl.from_arrow(uuids).alias("meeting_uuid"),
        (pl.col("end") * 1_000_000).cast(TS).alias("end_time"),
        pl.lit(fetched).cast(TS).alias("fetched_at"),
        pl.lit("ok").alias("status"),
        pl.col("people").alias("participant_sessions"),
        per["qos_rows"],
    )
    out = {}
    for name, frame in (
        ("meetings", meetings),
        ("participant_sessions", sessions),
        ("meeting_fetch_log", fetch_log),
    ):
        out[name] = frame.with_columns(
            pl.lit(load_id).alias("_dlt_load_id"), pl.from_arrow(r.chars(frame.height, 14)).alias("_dlt_id")
        )
    out["participant_qos"] = _qos_frame(d, uuids, load_id)
    return out


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pl.DataFrame | pa.Table) -> None:
    arrow = data.to_arrow() if isinstance(data, pl.DataFrame) else data
    con.register("_fill", arrow)
    try:
        con.execute(f"insert into {table} by name select * from _fill")
    finally:
        con.unregister("_fill")


def _account_tables(con: duckdb.DuckDBPyConnection, c: Clinicians, load_id: str, seed: int) -> None:
    r = _Draws(seed, -2)
    k = len(c.ids)
    created = int((dt.datetime.combine(START_DATE, dt.time(), dt.UTC) - dt.timedelta(days=400)).timestamp())
    users = pl.DataFrame(
        {
            "user_key": c.ids, "id": c.ids, "email": c.emails, "first_name": c.first,
            "last_name": [f"{x}, MD" for x in c.last], "display_name": [c.display(i) for i in range(k)],
            "type": [2] * k, "status": ["active"] * k, "role_id": ["2"] * k, "dept": c.depts,
            "timezone": ["America/New_York"] * k, "pmi": r.ints(2_000_000_000, 9_999_999_999, k),
            "created_at": ((created + r.ints(0, 300 * 86400, k)) * 1_000_000).cast(TS),
            "user_created_at": ((created + r.ints(0, 300 * 86400, k)) * 1_000_000).cast(TS),
        }
    )  # fmt: skip
    series = pl.DataFrame(
        {
            "id": [s for pair in c.series for s in pair],
            "host_id": [c.ids[h] for h in range(k) for _ in range(2)],
            "topic": [f"Telehealth clinic {c.depts[h]} ({c.last[h]})" for h in range(k) for _ in range(2)],
            "type": [8] * 2 * k, "duration": [30] * 2 * k, "timezone": ["America/New_York"] * 2 * k,
            "created_at": ((created + r.ints(0, 300 * 86400, 2 * k)) * 1_000_000).cast(TS),
            "recurrence__type": [2] * 2 * k, "recurrence__repeat_interval": [1] * 2 * k,
            "recurrence__weekly_days": ["2,3,4,5,6"] * 2 * k,
        }
    )  # fmt: skip
    for table, frame in (("zoom_raw.users", users), ("zoom_raw.meeting_series", series)):
        frame = frame.with_columns(
            pl.lit(load_id).alias("_dlt_load_id"), pl.from_arrow(r.chars(frame.height, 14)).alias("_dlt_id")
        )
        _insert(con, table, frame)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ----------------------------------------------------------------------------- the fill
def fill_hospital(
    db_path: str | Path,
    days: int,
    meetings_per_day: int,
    seed: int = 1,
    *,
    start_date: dt.date = START_DATE,
    hosts: int = HOSPITAL["hosts"],
    first_day: int = 0,
) -> dict[str, Any]:
    """Write ``days`` x ``meetings_per_day`` hospital visits into the raw tables of ``db_path``.

    The file gets the whole raw contract first if it has none. Returns the rows per table and the
    seconds spent drawing and writing. One load id per day, as a daily load writes.
    ``first_day`` > 0 appends days ``first_day ..`` of the same account (a daily load after the
    history): the clinicians and their series are written by the first fill only, and the monthly
    ``active_hosts`` report too.
    """
    t0, cpu0 = time.perf_counter(), _cpu()
    counts: dict[str, Any] = dict.fromkeys(
        ("users", "meeting_series", "meetings", "participant_sessions", "participant_qos", "meeting_fetch_log", "active_hosts"), 0
    )  # fmt: skip
    draw = write = 0.0
    con = duckdb.connect(str(db_path))
    try:
        con.execute("set TimeZone = 'UTC'")
        # one DuckDB thread: the other core draws the next day; measured on 2 shared cores, two
        # threads spent twice the CPU per row on the insert (3.2-3.7 s vs 1.8 s per 144k minutes)
        con.execute("set threads = 1")
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'zoom_raw' and table_name = 'users'"
        ).fetchone()[0]  # type: ignore[index]
        if not exists:
            raw_contract.create_empty(con)
        c = clinicians(seed, hosts)
        if first_day == 0:
            first_load = dt.datetime.combine(start_date, dt.time(), dt.UTC)
            _account_tables(con, c, f"{first_load.timestamp():.6f}", seed)
            counts["users"], counts["meeting_series"] = len(c.ids), 2 * len(c.ids)
        per_month: dict[tuple[dt.date, int], int] = {}
        load_id = ""

        def make(day: int) -> tuple[Day, dict[str, pl.DataFrame], float]:
            t = time.perf_counter()
            d = draw_day(seed, day, meetings_per_day, start_date, hosts)
            loaded = dt.datetime.combine(start_date + dt.timedelta(days=day + 1), dt.time(), dt.UTC)
            return d, _tables(d, c, f"{loaded.timestamp():.6f}", loaded), time.perf_counter() - t

        # the next day is drawn (polars, native threads) while DuckDB writes this one
        with ThreadPoolExecutor(1) as pool:
            last = first_day + days
            upcoming = pool.submit(make, first_day) if days else None
            for day in range(first_day, last):
                assert upcoming is not None
                d, tables, spent = upcoming.result()
                upcoming = pool.submit(make, day + 1) if day + 1 < last else None
                draw += spent
                w = time.perf_counter()
                for name, frame in tables.items():
                    _insert(con, f"zoom_raw.{name}", frame)
                    counts[name] += frame.height
                write += time.perf_counter() - w
                load_id = tables["meetings"]["_dlt_load_id"][0]
                month = (start_date + dt.timedelta(days=day)).replace(day=1)
                for h, k in d.meetings.group_by("host").len().iter_rows():
                    per_month[(month, h)] = per_month.get((month, h), 0) + k
        last_day = start_date + dt.timedelta(days=max(0, first_day + days - 1))
        rows = [
            {"id": c.ids[h], "email": c.emails[h], "user_name": c.display(h), "type": 2, "dept": c.depts[h],
             "meetings": k, "participants": 0, "meeting_minutes": 0, "report_from": month,
             "report_to": min(last_day, (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1))}
            for (month, h), k in sorted(per_month.items())
        ]  # fmt: skip
        if rows and first_day == 0:
            frame = pl.DataFrame(rows).with_columns(
                pl.lit(load_id).alias("_dlt_load_id"),
                pl.from_arrow(_Draws(seed, -3).chars(len(rows), 14)).alias("_dlt_id"),
            )
            _insert(con, "zoom_raw.active_hosts", frame)
        counts["active_hosts"] = len(rows) if first_day == 0 else 0
        t = time.perf_counter()
        con.execute("checkpoint")
        write += time.perf_counter() - t
    finally:
        con.close()
    counts["seconds"] = {
        "draw": round(draw, 3),  # overlaps the writes: the next day is drawn meanwhile
        "write": round(write, 3),
        "total": round(time.perf_counter() - t0, 3),
        "cpu": round(_cpu() - cpu0, 3),
    }
    return counts


# ----------------------------------------------------------------------------- ground truth
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _add_cell(
    cells: dict[tuple[str, str, str], tuple[pl.Expr, pl.Expr]],
    level: str,
    key: str,
    metric: str,
    measured: pl.Expr,
    bad: pl.Expr,
) -> None:
    """Add a stream's (measured, violating) minute flags to a truth cell (a kind sums its streams)."""
    meas, viol = measured.cast(pl.Int64), (measured & bad).cast(pl.Int64)
    prev = cells.get((level, key, metric))
    cells[(level, key, metric)] = (meas, viol) if prev is None else (prev[0] + meas, prev[1] + viol)


def slice_truth(
    seed: int,
    meetings_per_day: int,
    days: range | list[int] = range(1),
    *,
    start_date: dt.date = START_DATE,
    hosts: int = HOSPITAL["hosts"],
    thresholds: list[dict] | None = None,
) -> dict[str, dict[str, Any]]:
    """What the marts must hold for the meetings of ``days`` (regenerated, not read back).

    Per meeting UUID, as :func:`pipelines.sandbox.truth.compute_truth`'s ``meetings``: ``sessions``,
    ``distinct_people``, ``qos_minutes``, ``waiting_room_seconds`` (0: no waiting room here),
    ``dropped_sessions`` (0) and ``by_stream`` / ``by_stream_kind``: for each threshold of the seed,
    ``measured_minutes`` (the value was sent; a frame rate counts only with a picture, i.e. a
    resolution other than ``""``/``"0*0"``), ``violating_minutes`` and ``proportion``.
    """
    thresholds = thresholds if thresholds is not None else load_thresholds()
    out: dict[str, dict[str, Any]] = {}
    for day in days:
        d = draw_day(seed, day, meetings_per_day, start_date, hosts)
        uuids = _uuids(d).to_pylist()
        cells: dict[tuple[str, str, str], tuple[pl.Expr, pl.Expr]] = {}

        add = functools.partial(_add_cell, cells)

        for th in thresholds:
            cmp, limit, metric = _COMPARE[th["comparator"]], th["value"], th["metric"]
            if th["stream"] == "cpu":
                bad = cmp(pl.col("cpu_zoom_avg_cpu_usage").cast(pl.Float64), limit)
                add("by_stream", "cpu", metric, ~pl.col("audio_only"), bad)
                add("by_stream_kind", "cpu", metric, ~pl.col("audio_only"), bad)
                continue
            for stream in STREAMS:
                if STREAM_KIND[stream] != th["stream"]:
                    continue
                if metric not in (*BASE_METRICS, "frame_rate") or metric == "bitrate":
                    raise ValueError(f"threshold metric {metric!r} is not drawn by the hospital filler")
                value = pl.col(f"{stream}_{metric}").cast(pl.Float64)
                if metric in ("avg_loss", "max_loss"):
                    value = value / 10  # drawn in tenths; "2.1%" parses to the same double as 21 / 10
                # measured: the value was sent; a frame rate only with a picture ("0 fps" of a camera
                # that is off comes with resolution "0*0", so it is not measured)
                measured = pl.col(f"{stream}_active")
                add("by_stream", stream, metric, measured, cmp(value, limit))
                add("by_stream_kind", th["stream"], metric, measured, cmp(value, limit))
        names = list(cells)
        aggs = [e.sum().alias(f"{i}_{j}") for i, key in enumerate(names) for j, e in enumerate(cells[key])]
        per = d.minutes.group_by("m").agg(pl.len().alias("minutes"), *aggs).sort("m")
        people = d.meetings["people"].to_list()
        for row in per.iter_rows(named=True):
            i = row["m"]
            truth: dict[str, Any] = {
                "sessions": people[i],
                "listed_sessions": people[i],
                "waiting_room_sessions": 0,
                "waiting_room_seconds": 0,
                "dropped_sessions": 0,
                "distinct_people": people[i],
                "qos_minutes": row["minutes"],
                "by_stream": {},
                "by_stream_kind": {},
            }
            for k, (level, key, metric) in enumerate(names):
                measured, violating = row[f"{k}_0"], row[f"{k}_1"]
                if measured:
                    truth[level].setdefault(key, {})[metric] = {
                        "measured_minutes": measured,
                        "violating_minutes": violating,
                        "proportion": violating / measured,
                    }
            out[uuids[i]] = truth
    return out


def check_marts(db_path: str | Path, truth: dict[str, dict[str, Any]]) -> int:
    """The built marts (``analytics.fct_meetings``, ``fct_meeting_quality``) against ``truth``
    exactly (proportions to 1e-9); returns the quality cells checked. Raises AssertionError."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        meetings = {
            r[0]: r[1:]
            for r in con.execute(
                "select meeting_uuid, session_count, distinct_people, qos_minutes, waiting_room_seconds "
                "from analytics.fct_meetings"
            ).fetchall()
        }
        quality = {
            (r[0], r[1], r[2], r[3]): r[4:]
            for r in con.execute(
                "select meeting_uuid, level, stream, metric, measured_minutes, violating_minutes, "
                "violating_proportion from analytics.fct_meeting_quality where threshold_comparator is not null"
            ).fetchall()
        }
    checked = 0
    for uuid, t in truth.items():
        want = (t["sessions"], t["distinct_people"], t["qos_minutes"], t["waiting_room_seconds"])
        assert meetings.get(uuid) == want, (uuid, meetings.get(uuid), want)
        for level, key in (("stream", "by_stream"), ("kind", "by_stream_kind")):
            for stream, metrics in t[key].items():
                for metric, cell in metrics.items():
                    got = quality.pop((uuid, level, stream, metric), None)
                    assert got is not None, ("missing quality row", uuid, level, stream, metric)
                    assert got[:2] == (cell["measured_minutes"], cell["violating_minutes"]), (
                        uuid,
                        level,
                        stream,
                        metric,
                        got,
                        cell,
                    )
                    assert abs(got[2] - cell["proportion"]) <= 1e-9, (uuid, level, stream, metric, got, cell)
                    checked += 1
    leftovers = [k for k, v in quality.items() if k[0] in truth and (v[0] != 0 or v[2] is not None)]
    assert not leftovers, f"quality rows with measurements the truth lacks: {leftovers[:3]}"
    return checked


# ----------------------------------------------------------------------------- bench
def _dir_bytes(path: Path) -> int:
    return path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + ".wal"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--meetings-per-day", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--check-slice", action="store_true", help="also fill 2 days x 40 visits, run dbt, check the marts"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/hospital_fill.json"
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hospital-fill-"))
    result: dict[str, Any] = {
        "benchmark": "hospital_fill",
        "command": "python bench/hospital_fill.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_count": os.cpu_count(),
        "duckdb": duckdb.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        _run(args, work, result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _run(args: argparse.Namespace, work: Path, result: dict[str, Any]) -> None:
    db = work / "warehouse.duckdb"
    counts = fill_hospital(db, args.days, args.meetings_per_day, args.seed)
    size = _dir_bytes(db)
    rows = sum(v for k, v in counts.items() if k != "seconds")
    cpu = counts["seconds"]["cpu"]
    secs = counts["seconds"]["total"]
    qos = counts["participant_qos"]
    result["fill"] = {
        "days": args.days,
        "meetings_per_day": args.meetings_per_day,
        "counts": counts,
        "rows_per_s": round(rows / secs),
        "participant_minutes_per_s": round(qos / secs),
        "rows_per_cpu_second": round(rows / cpu),
        "draw_rows_per_s": round(rows / counts["seconds"]["draw"]),
        "bytes_on_disk": size,
        "bytes_per_participant_minute": round(size / qos, 1),
        "estimate_180_days": {
            "participant_minutes": round(qos / args.days * 180),
            "seconds": round(secs / args.days * 180),
            "bytes_on_disk": round(size / args.days * 180),
            "note": "measured per-day cost x 180 (not run on the shared machine)",
        },
    }
    print(json.dumps(result["fill"], indent=1), flush=True)
    db.unlink(missing_ok=True)
    if args.check_slice:
        result["slice_vs_marts"] = check_slice(work / "slice", args.seed)
        print(json.dumps(result["slice_vs_marts"], indent=1), flush=True)
    if not args.no_write:
        old: Any = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {"runs": []}
        old["runs"].append(result)
        RESULTS.write_text(json.dumps(old, indent=2) + "\n", encoding="utf-8")


def check_slice(workdir: Path, seed: int, days: int = 2, meetings_per_day: int = 40) -> dict[str, Any]:
    """A small fill through the project's dbt build, the marts held to :func:`slice_truth` exactly."""
    from pipelines.transform import run_transform

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "warehouse.duckdb"
    db.unlink(missing_ok=True)
    os.environ["MW_WAREHOUSE"] = str(db)
    os.environ["DBT_LOG_PATH"] = str(workdir / "dbt_logs")
    fill_hospital(db, days, meetings_per_day, seed)
    t = time.perf_counter()
    assert run_transform(quiet=True) == 0, "dbt build failed"
    built = time.perf_counter() - t
    truth = slice_truth(seed, meetings_per_day, range(days))
    cells = check_marts(db, truth)
    return {"days": days, "meetings_per_day": meetings_per_day, "meetings": len(truth),
            "quality_cells_equal": cells, "marts_equal_truth": True, "dbt_seconds": round(built, 1)}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
