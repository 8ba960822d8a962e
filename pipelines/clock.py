"""The project's calendar clock: what "now" and "today" (UTC) mean to the pipelines.

Everything that depends on the calendar asks here: Zoom's month windows and six-month limit, the
lookbacks, which MEETS events have ended, the daily request budget's UTC day, the recordings'
auto-delete warnings. ``MW_NOW`` pins the clock to one instant (``2028-02-29``,
``2026-03-31T23:58:00Z``, any ISO 8601 with a zone; a bare date means 00:00 UTC), so a run, a test
or a bug report can be replayed on any date. The embedded sandbox follows the same setting
(``SANDBOX_NOW`` pins only the sandbox).

Durations (timeouts, token lifetimes, rate-limit windows) never come from here: they use the
monotonic clock or real time, whatever the calendar says.
"""

from __future__ import annotations

import datetime as dt
import os

ENV = "MW_NOW"


class ClockSettingError(ValueError):
    """``MW_NOW`` (or ``SANDBOX_NOW``) is not an instant the project can use."""


def parse_instant(text: str, setting: str = ENV) -> dt.datetime:
    """``2028-02-29`` -> 00:00 UTC that day; ``2026-03-08T06:59:00Z`` / ``...+01:00`` -> that instant in UTC.

    A date-time without a zone is refused: the calendar is UTC and a local reading would shift
    every window by the machine's offset.
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ClockSettingError(
            f"{setting}={text!r} is not a date or an ISO 8601 date-time "
            "(e.g. 2028-02-29 or 2026-03-31T23:58:00Z)"
        ) from None
    if parsed.tzinfo is None:
        raise ClockSettingError(f"{setting}={text!r} has no time zone; add Z for UTC (e.g. {value}Z)")
    return parsed.astimezone(dt.UTC)


def pinned(env: str = ENV) -> dt.datetime | None:
    """The pinned instant, or ``None`` when the real clock runs."""
    raw = os.environ.get(env, "").strip()
    return parse_instant(raw, env) if raw else None


def now() -> dt.datetime:
    """Aware UTC now: ``MW_NOW`` when set, else the real clock."""
    return pinned() or dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's UTC date by :func:`now`."""
    return now().date()


def timestamp() -> float:
    """UNIX seconds by :func:`now` (MEETS speaks UNIX time)."""
    return now().timestamp()
