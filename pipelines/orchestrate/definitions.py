"""The Dagster code location: ``dagster ... -m pipelines.orchestrate.definitions``.

Loading it prepares dbt's ``manifest.json`` when missing or stale (``dbt parse`` in a child process,
see :func:`pipelines.orchestrate.assets.ensure_manifest`) and reads the ``[orchestrate]`` settings.
Every job runs its steps in one process, one after the other: each step writes the one DuckDB
file, and one process keeps a run's memory at one import of dlt and dbt.
"""

import os

import dagster as dg

from pipelines.paths import ROOT

os.environ.setdefault("DLT_PROJECT_DIR", str(ROOT))  # dlt reads .dlt/ from the project folder
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from pipelines.orchestrate import assets as a
from pipelines.orchestrate import automation as auto
from pipelines.orchestrate.settings import load_settings


def build_definitions(**overrides: object) -> dg.Definitions:
    """The definitions with ``[orchestrate]`` settings (``overrides`` first: tests, benchmarks)."""
    settings = load_settings(**overrides)
    return dg.Definitions(
        assets=a.ALL_ASSETS,
        jobs=[auto.load_job, auto.transform_job, auto.recordings_job, auto.doctor_job],
        schedules=auto.build_schedules(settings),
        sensors=[
            auto.build_transform_sensor(settings),
            auto.build_webhook_sensor(settings),
            auto.build_failure_sensor(settings),
        ],
        executor=dg.in_process_executor,
    )


defs = build_definitions()
