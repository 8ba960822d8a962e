"""The ``hospital`` bench preset as a sandbox :class:`~pipelines.sandbox.account.Scale`.

Seed 001's hospital: up to 6,000 virtual visits a day, typically 2-4 participants (clinician,
patient, interpreter) for 15-45 minutes, kept six months. The sandbox's generator gives that mix
with the host plus ``gauss(2, 1.5)`` others and ``gauss(30, 9)`` minutes (``bench/transform.py``
uses the same numbers).
"""

from __future__ import annotations

from pipelines.sandbox.account import Scale

HOSPITAL = {"hosts": 400, "participants": 3, "minutes": 30, "students": 20_000}


def hospital_scale(days: int = 180, meetings_per_day: int = 6000) -> Scale:
    """The preset for ``days`` x ``meetings_per_day`` (no future days)."""
    return Scale(days=days, meetings_per_day=meetings_per_day, future_days=0, **HOSPITAL)
