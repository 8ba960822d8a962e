"""Settings of the recordings pipeline: ``[recordings]`` in ``.dlt/config.toml`` / ``RECORDINGS__*``.

Resolution order (first wins): explicit arguments (CLI flags) > env vars (``RECORDINGS__DEST``,
``RECORDINGS__S3_ENDPOINT_URL``...) > ``.dlt/*.toml`` > defaults. ``MW_RECORDINGS_DEST`` is also
honoured for the destination (see :func:`pipelines.paths.recordings_dest`). Object-store keys are
secrets: ``[recordings.credentials] aws_access_key_id / aws_secret_access_key`` in
``.dlt/secrets.toml`` (or ``RECORDINGS__CREDENTIALS__AWS_ACCESS_KEY_ID``...); without them the
usual AWS credential chain applies (``AWS_ACCESS_KEY_ID``, profiles, instance roles).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from pipelines.recordings.destination import MIB, StorageOptions

SECTION = "recordings"
PLAN_SOURCES = ("auto", "warehouse", "api")


@dataclass(frozen=True)
class RecordingsSettings:
    dest: str
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    max_concurrent: int = 2
    part_size_mb: int = 8
    parts_in_flight: int = 3
    max_attempts: int = 3
    auto_delete_warn_days: int = 7
    plan_from: str = "auto"
    zoom_download_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_concurrent < 1:
            raise ValueError("recordings.max_concurrent must be >= 1")
        if self.part_size_mb < 5:
            raise ValueError("recordings.part_size_mb must be >= 5 (the S3 minimum part size)")
        if self.parts_in_flight < 1 or self.max_attempts < 1:
            raise ValueError("recordings.parts_in_flight and recordings.max_attempts must be >= 1")
        if self.plan_from not in PLAN_SOURCES:
            raise ValueError(f"recordings.plan_from must be one of {', '.join(PLAN_SOURCES)}")

    def storage_options(self) -> StorageOptions:
        return StorageOptions(
            endpoint_url=self.s3_endpoint_url,
            region=self.s3_region,
            key=self.aws_access_key_id,
            secret=self.aws_secret_access_key,
            part_size=self.part_size_mb * MIB,
            parts_in_flight=self.parts_in_flight,
            upload_threads=self.parts_in_flight * self.max_concurrent,
        )

    def __repr__(self) -> str:  # keys never printed
        shown = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if "secret" not in f.name and "key_id" not in f.name
        }
        return f"RecordingsSettings({shown})"


def _lookup(name: str, secret: bool = False) -> Any:
    import dlt

    source = dlt.secrets if secret else dlt.config
    try:
        return source.get(f"{SECTION}.{name}")
    except Exception:  # unparsable value: treat as unset, validation below explains
        return None


def load_settings(**overrides: Any) -> RecordingsSettings:
    """Resolve ``[recordings]`` and apply non-``None`` ``overrides`` (CLI flags)."""
    from pipelines.paths import recordings_dest

    values: dict[str, Any] = {}
    for f in fields(RecordingsSettings):
        if f.name in ("aws_access_key_id", "aws_secret_access_key"):
            value = _lookup(f"credentials.{f.name}", secret=True)
        else:
            value = _lookup(f.name)
        if value is not None and value != "":
            values[f.name] = value
    if "dest" not in values or os.environ.get("MW_RECORDINGS_DEST"):
        values["dest"] = recordings_dest()
    values.update({k: v for k, v in overrides.items() if v is not None})
    for name in (
        "max_concurrent",
        "part_size_mb",
        "parts_in_flight",
        "max_attempts",
        "auto_delete_warn_days",
    ):
        if name in values:
            values[name] = int(values[name])
    hosts = values.get("zoom_download_hosts")
    if isinstance(hosts, str):
        hosts = [h.strip() for h in hosts.split(",") if h.strip()]
    values["zoom_download_hosts"] = tuple(hosts or ())
    settings = RecordingsSettings(**values)
    if settings.aws_secret_access_key:
        from pipelines.api_client import DEFAULT_REDACTOR

        DEFAULT_REDACTOR.add(settings.aws_secret_access_key)
    return settings


def with_overrides(settings: RecordingsSettings, **changes: Any) -> RecordingsSettings:
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})
