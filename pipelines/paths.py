"""Where the project keeps its files. Every path can be moved with an env var."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default


def dbt_target_dir() -> Path:
    """dbt's target folder: ``DBT_TARGET_PATH`` when set (dbt's own variable), else ``dbt_project/target``."""
    return Path(os.environ.get("DBT_TARGET_PATH") or ROOT / "dbt_project" / "target")


def warehouse_path() -> Path:
    """The DuckDB warehouse that dlt loads and dbt transforms (``MW_WAREHOUSE``)."""
    return _path("MW_WAREHOUSE", ROOT / "warehouse" / "meetings.duckdb")


def serving_path() -> Path:
    """The read-only snapshot published for BI tools and notebooks (``MW_SERVING``)."""
    return _path("MW_SERVING", warehouse_path().parent / "serving.duckdb")


def state_dir() -> Path:
    """Run state that must survive restarts: the request-budget ledger (``MW_STATE_DIR``)."""
    return _path("MW_STATE_DIR", warehouse_path().parent / "state")


def ledger_path() -> Path:
    return state_dir() / "request_ledger.sqlite"


def pipelines_dir() -> Path:
    """dlt's working folder (pipeline state, pending load packages) (``MW_PIPELINES_DIR``)."""
    return _path("MW_PIPELINES_DIR", ROOT / ".dlt" / "pipelines")


def token_dir() -> Path:
    """Git-ignored folder for OAuth refresh tokens, files created 0600 (``MW_TOKEN_DIR``)."""
    return _path("MW_TOKEN_DIR", ROOT / ".tokens")


def recordings_dest() -> str:
    """Default destination of the recordings pipeline: a local folder (any fsspec URL works)."""
    return os.environ.get("MW_RECORDINGS_DEST", str(ROOT / "recordings"))
