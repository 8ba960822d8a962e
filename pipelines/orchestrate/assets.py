"""The whole flow as Dagster assets, each materialised through the code ``make run`` uses.

* ``zoom/<resource>``, ``meets/<resource>``: the dlt sources, one asset per resource
  (``@dlt_assets``); materialising them runs :func:`pipelines.load.run_load` (settings check,
  warehouse repair, budget ledger, fetch journal, summaries), not a second copy of the load.
* dbt models and seeds (``@dbt_assets``; tests are asset checks): :func:`pipelines.transform.run_dbt`
  (lock check, absolute warehouse path, handle released after) with Dagster's subset selection.
  The transcript models are a second ``@dbt_assets`` after the transcripts stage, as in ``make run``.
* ``recordings/files`` (the copy), ``transcripts/cues`` + ``transcripts/files`` (the stage),
  ``youtube/publications`` (skipped unless a channel is configured), ``serving/snapshot`` (publish).

dbt sources and dlt assets meet on their keys: ``source('zoom', 'meetings')`` is ``zoom/meetings``;
a table written by a resource of another name (``participant_sessions`` by ``meeting_details``) is
one more asset of the same load (:data:`TABLE_RESOURCE`), so lineage runs ``zoom/meetings ->
staging/stg_zoom__meetings -> analytics/fct_meetings``.
"""

import datetime as dt
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtProject, dbt_assets
from dagster_dbt.asset_utils import get_asset_check_key_for_test, get_node, get_subset_selection_for_context
from dagster_dlt import DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData

from pipelines.paths import ROOT, dbt_target_dir, warehouse_path

WAREHOUSE_POOL = "warehouse"
"""Every asset that writes the DuckDB warehouse runs in this pool (limit 1: one writer per file)."""

TRANSCRIPT_MODELS = "source:transcripts+"

# dbt sources whose table is written by a resource of another name (dlt child tables, a
# transformer's extra tables): source table -> the dlt resource that writes it.
TABLE_RESOURCE: dict[str, dict[str, str]] = {
    "zoom": {
        "participant_sessions": "meeting_details",
        "participant_qos": "meeting_details",
        "meeting_fetch_log": "meeting_details",
        "recording_files": "recordings",
    },
    "meets": {
        "conferencing_accounts": "conferencing_events",
        "conferencing_account_users": "conferencing_events",
        "conferencing_event_courses": "conferencing_events",
        "conferencing_event_users": "conferencing_events",
        "attendance_status": "attendance",
    },
}

PROJECT_DIR = ROOT / "dbt_project"


# ----------------------------------------------------------------------------- dlt sources
class LoadTranslator(DagsterDltTranslator):
    """``zoom/<resource>`` / ``meets/<resource>`` in group ``load``; no upstream assets."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        resource = data.resource
        return spec.replace_attributes(
            key=dg.AssetKey([resource.source_name, resource.name]),
            deps=[],
            group_name="load",
            kinds={"dlt", "duckdb"},
        )


def _zoom_source() -> Any:
    """The Zoom source's resources for their names only: no client, nothing is called."""
    from pipelines.zoom import HarvestContext, zoom_source

    return zoom_source(HarvestContext(zoom=None, start_date=dt.date(2000, 1, 1)))  # type: ignore[arg-type]


def _meets_source() -> Any:
    from pipelines.meets import meets_source

    return meets_source(client=object(), now=0)  # type: ignore[arg-type]


def _pipeline(name: str, dataset: str) -> Any:
    """A dlt pipeline object for the asset specs' metadata; the loads build their own."""
    import dlt

    from pipelines.paths import pipelines_dir

    return dlt.pipeline(
        name,
        destination=dlt.destinations.duckdb(str(warehouse_path())),
        dataset_name=dataset,
        pipelines_dir=str(pipelines_dir()),
    )


def budget_metadata(exc: BaseException) -> dict[str, Any]:
    """The metadata a budget-stopped load records (the schedule reads ``budget_resets_at``)."""
    resets = getattr(exc, "resets_at", None)
    return {
        "budget_exhausted": True,
        "budget_group": str(getattr(exc, "group", "") or ""),
        "budget_resets_at": resets.astimezone(dt.UTC).isoformat() if resets else "",
        "budget_message": str(exc).splitlines()[0][:500],
    }


def run_source_load(context: AssetExecutionContext, source: str) -> Iterator[dg.MaterializeResult]:
    """One source through :func:`pipelines.load.run_load`; a spent daily budget is a clean outcome."""
    from pipelines.api_client import RateBudgetExceeded
    from pipelines.load import run_load
    from pipelines.run_all import BAD_SETTINGS, INTERRUPTED

    results: dict[str, Any] = {}
    code = run_load((source,), results=results)
    outcome = results.get(source)
    if code in INTERRUPTED:
        raise dg.Failure(
            description=f"{source} load interrupted (exit {code}): what was loaded stays; the next run resumes",
            allow_retries=False,
        )
    if code == BAD_SETTINGS:
        raise dg.Failure(
            description=f"{source} load not started: a setting is invalid (see the log)", allow_retries=False
        )
    budget = isinstance(outcome, RateBudgetExceeded)
    if code != 0 and not budget:
        what = (
            f"{type(outcome).__name__}: {outcome}" if isinstance(outcome, BaseException) else f"exit {code}"
        )
        raise dg.Failure(
            description=f"{source} load stopped: {what.splitlines()[0][:500]}. What was loaded stays; "
            "the next run resumes (nothing is duplicated).",
            allow_retries=False,
        )
    summary = outcome if isinstance(outcome, dict) else getattr(outcome, "summary", None) or {}
    rows = summary.get("rows", {})
    extra = budget_metadata(outcome) if budget else {"budget_exhausted": False}
    if budget:
        context.log.warning(f"{source} load stopped on the daily request budget: {extra['budget_message']}")
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={"rows_loaded": int(rows.get(key.path[-1], 0) or 0), **extra},
        )


def load_specs(source: str) -> list[dg.AssetSpec]:
    """dagster-dlt's specs (one per resource, :class:`LoadTranslator`) plus one per table that a
    resource of another name writes (:data:`TABLE_RESOURCE`): dbt reads those tables as sources, and
    dagster-dbt keys each source table on its own (``zoom/participant_sessions``)."""
    dlt_source = _zoom_source() if source == "zoom" else _meets_source()
    pipeline = _pipeline(source, f"{source}_raw")
    specs = list(build_dlt_asset_specs(dlt_source, pipeline, LoadTranslator()))
    for table, resource in TABLE_RESOURCE[source].items():
        specs.append(
            dg.AssetSpec(
                [source, table],
                group_name="load",
                kinds={"dlt", "duckdb"},
                description=f"{source}_raw.{table}, written by the {source} source's {resource} resource",
                metadata={"dlt_resource": resource},
            )
        )
    return specs


@dg.multi_asset(specs=load_specs("zoom"), name="zoom_load", can_subset=True, pool=WAREHOUSE_POOL)
def zoom_assets(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    """The Zoom load (every resource: the source shares one client, budget and journal)."""
    yield from run_source_load(context, "zoom")


@dg.multi_asset(specs=load_specs("meets"), name="meets_load", can_subset=True, pool=WAREHOUSE_POOL)
def meets_assets(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    """The MEETS load."""
    yield from run_source_load(context, "meets")


def load_keys(source: str | None = None) -> list[dg.AssetKey]:
    defs = (
        [zoom_assets, meets_assets]
        if source is None
        else [{"zoom": zoom_assets, "meets": meets_assets}[source]]
    )
    return sorted((k for d in defs for k in d.keys), key=lambda k: k.to_user_string())


# ----------------------------------------------------------------------------- dbt
def _manifest_stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    watched = [PROJECT_DIR / "dbt_project.yml", PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "tests"):
        watched += [p for p in (PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return any(p.exists() and p.stat().st_mtime > built for p in watched)


def ensure_manifest() -> Path:
    """``dbt_project/target/manifest.json``, written by ``dbt parse`` when missing or older than the
    project's files (``dagster ... -m`` loads the definitions without ``dagster dev``, whose
    ``prepare_if_dev`` would do this). ``dbt parse`` runs in a child process (this one stays small)
    under a file lock, so the webserver and the daemon loading at once parse once."""
    target = dbt_target_dir()
    manifest = target / "manifest.json"
    if not _manifest_stale(manifest):
        return manifest
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".dagster-parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _manifest_stale(manifest):
            return manifest
        dbt = Path(sys.executable).with_name("dbt")
        command = [str(dbt)] if dbt.exists() else [sys.executable, "-m", "dbt.cli.main"]
        env = {
            **os.environ,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            "MW_WAREHOUSE": str(warehouse_path()),
        }
        done = subprocess.run(
            [
                *command,
                "parse",
                "--quiet",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
            ],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not manifest.exists():
            raise RuntimeError(
                f"dbt parse failed (exit {done.returncode}), so the dbt models cannot be loaded as assets: "
                f"{(done.stdout + done.stderr).strip()[-1500:]}"
            )
    return manifest


class TransformTranslator(DagsterDbtTranslator):
    """Models and seeds grouped ``transform``; sources keep dagster-dbt's ``<source>/<table>`` keys,
    which are the load's assets."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = get_node(manifest, unique_id)
        if node["resource_type"] == "source":
            if node["source_name"] == "youtube":
                # The marts show the video ids the publish stage recorded so far, and the publish
                # asset reads the marts: keyed as the youtube/publications asset, that is a cycle.
                # The transform reads the state as the last publish left it (a source of its own).
                return spec.replace_attributes(
                    key=dg.AssetKey(["youtube", "publications_state"]),
                    description="youtube.publications as the last publish run left it (read by the transform)",
                )
            return spec  # source('zoom', 'meetings') -> zoom/meetings: the load's asset of that table
        return spec.replace_attributes(group_name="transform")


DBT_PROJECT = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
MANIFEST = ensure_manifest()
TRANSLATOR = TransformTranslator()


def _run_results(since: float) -> list[dict[str, Any]]:
    path = dbt_target_dir() / "run_results.json"
    if not path.exists() or path.stat().st_mtime < since:
        return []  # dbt stopped before running any node: nothing to report per node
    return json.loads(path.read_text()).get("results", [])


def run_dbt_build(context: AssetExecutionContext, select: str | None, exclude: str | None) -> Iterator[Any]:
    """``dbt build`` of the selected models and tests through :func:`pipelines.transform.run_dbt`;
    one materialisation per model/seed built, one check result per test, then a failure (with what
    was built kept) when dbt did not succeed."""
    from pipelines.doctor import warehouse_blocker
    from pipelines.transform import run_dbt

    blocker = warehouse_blocker()
    if blocker:
        raise dg.Failure(description=f"transform not started: {blocker}", allow_retries=False)
    manifest = json.loads(MANIFEST.read_text())
    args, indirect = get_subset_selection_for_context(
        context=context,
        manifest=manifest,
        select=select,
        exclude=exclude,
        selector=None,
        dagster_dbt_translator=TRANSLATOR,
        current_dbt_indirect_selection_env=os.environ.get("DBT_INDIRECT_SELECTION"),
    )
    previous = os.environ.get("DBT_INDIRECT_SELECTION")
    if indirect:
        os.environ["DBT_INDIRECT_SELECTION"] = indirect
    started = time.time()
    try:
        result = run_dbt(["build", *args], quiet=True)
    finally:
        if indirect:
            if previous is None:
                os.environ.pop("DBT_INDIRECT_SELECTION", None)
            else:
                os.environ["DBT_INDIRECT_SELECTION"] = previous
    summary = ", ".join(f"{k}={v}" for k, v in sorted(result.counts.items())) or "nothing ran"
    context.log.info(f"transform: dbt build {' '.join(args)}: {summary} in {result.seconds:.1f} s")
    selected = context.selected_asset_keys
    selected_checks = context.selected_asset_check_keys
    checks: list[dg.AssetCheckResult] = []
    for node in _run_results(started):
        uid, status = node["unique_id"], str(node["status"]).lower()
        meta = {"dbt_status": status, "execution_seconds": round(float(node.get("execution_time") or 0), 3)}
        if uid.startswith("test."):
            key = get_asset_check_key_for_test(manifest, TRANSLATOR, uid, DBT_PROJECT)
            if key is None or key not in selected_checks or status == "skipped":
                continue
            severity = str(get_node(manifest, uid).get("config", {}).get("severity", "error")).lower()
            checks.append(
                dg.AssetCheckResult(
                    asset_key=key.asset_key,
                    check_name=key.name,
                    passed=status == "pass",
                    severity=dg.AssetCheckSeverity.WARN
                    if severity == "warn"
                    else dg.AssetCheckSeverity.ERROR,
                    metadata={**meta, "failures": int(node.get("failures") or 0)},
                )
            )
            continue
        if status != "success":
            continue
        key = TRANSLATOR.get_asset_spec(manifest, uid, DBT_PROJECT).key
        if key in selected:
            yield dg.MaterializeResult(asset_key=key, metadata=meta)
    yield from checks
    if result.exit_code != 0:
        failures = "; ".join(result.failures[:5]) or f"exit {result.exit_code}"
        raise dg.Failure(
            description=f"dbt build failed: {failures}. The serving snapshot is not republished "
            "(readers keep the previous one).",
            allow_retries=False,
        )


@dbt_assets(
    manifest=MANIFEST,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="dbt_build",
    exclude=TRANSCRIPT_MODELS,
    pool=WAREHOUSE_POOL,
)
def dbt_models(context: AssetExecutionContext) -> Iterator[Any]:
    """Seeds, staging, intermediate and marts (the transcript models come after the transcripts stage)."""
    yield from run_dbt_build(context, select=None, exclude=TRANSCRIPT_MODELS)


@dbt_assets(
    manifest=MANIFEST,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="dbt_build_transcripts",
    select=TRANSCRIPT_MODELS,
    pool=WAREHOUSE_POOL,
)
def dbt_transcript_models(context: AssetExecutionContext) -> Iterator[Any]:
    """The models over the transcripts stage's tables."""
    yield from run_dbt_build(context, select=TRANSCRIPT_MODELS, exclude=None)


def model_key(name: str) -> dg.AssetKey:
    """The asset key of a dbt model by name (``fct_recording_files`` -> ``analytics/fct_recording_files``)."""
    for assets in (dbt_models, dbt_transcript_models):
        for key in assets.keys:
            if key.path[-1] == name:
                return key
    raise KeyError(name)


# ----------------------------------------------------------------------------- after the marts
class RecordingsConfig(dg.Config):
    """Run config of the recordings copy: ``meetings`` limits it to these meeting UUIDs (webhooks)."""

    meetings: list[str] = []  # noqa: RUF012 - a pydantic field: copied per instance


@dg.asset(
    key=["recordings", "files"],
    group_name="recordings",
    deps=[
        dg.AssetKey(["zoom", "recordings"]),
        dg.AssetKey(["zoom", "users"]),
        dg.AssetKey(["meets", "conference_recordings"]),
        dg.AssetKey(["meets", "conferencing_events"]),
        model_key("fct_recording_files"),
    ],
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description="Recording files copied to object storage (verified); inventory in recordings.inventory.",
)
def recordings_copy(context: AssetExecutionContext, config: RecordingsConfig) -> Iterator[Any]:
    from pipelines.recordings import run_recordings
    from pipelines.settings_check import RECORDINGS, require_valid_settings

    require_valid_settings((RECORDINGS,))
    summary = run_recordings(progress=None, meetings=config.meetings or None)
    meta = {
        "copied": summary.copied,
        "copied_bytes": summary.copied_bytes,
        "already_copied": summary.already_copied,
        "failed": summary.failed,
        "dest": summary.dest,
        "meetings": ",".join(config.meetings),
    }
    stopped = summary.stopped or ""
    budget = "resets at" in stopped  # RateBudgetExceeded's message: stop cleanly, resume after the reset
    meta["budget_exhausted"] = budget
    if budget:
        meta["budget_message"] = stopped[:500]
        context.log.warning(f"recordings stopped on the daily request budget: {stopped[:300]}")
    yield dg.MaterializeResult(metadata=meta)
    if summary.failed or (stopped and not budget):
        raise dg.Failure(
            description=f"recordings: {summary.failed} file(s) failed to copy"
            + (f"; stopped: {stopped[:300]}" if stopped else "")
            + f". {summary.copied} copied this run are kept; the next run retries the rest.",
            allow_retries=False,
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["transcripts", "cues"], deps=[["recordings", "files"]], group_name="recordings"),
        dg.AssetSpec(["transcripts", "files"], deps=[["recordings", "files"]], group_name="recordings"),
    ],
    name="transcripts_stage",
    pool=WAREHOUSE_POOL,
)
def transcripts_stage(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    """The copied transcripts, captions and chat as rows (off with ``[transcripts] enabled = false``:
    nothing is read; the tables still exist, empty, for the models)."""
    from pipelines.transcripts import stage

    meta: dict[str, Any] = {"enabled": stage.enabled()}
    if meta["enabled"]:
        summary = stage.run_transcripts()
        context.log.info(summary.line())
        meta |= {
            "files_parsed": summary.files_parsed,
            "files_quarantined": summary.files_quarantined,
            "files_unchanged": summary.files_unchanged,
            "cues_loaded": summary.cues_loaded,
        }
    for key in (dg.AssetKey(["transcripts", "cues"]), dg.AssetKey(["transcripts", "files"])):
        yield dg.MaterializeResult(asset_key=key, metadata=meta)


def _publish_configured() -> bool:
    """``python -m pipelines publish --configured`` exits 0 when a YouTube channel is set up."""
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "publish", "--configured"],
        cwd=ROOT,
        capture_output=True,
        check=False,
        timeout=120,
    )
    return done.returncode == 0


@dg.asset(
    key=["youtube", "publications"],
    group_name="publish",
    deps=[["recordings", "files"], model_key("fct_recording_files")],
    output_required=False,
    kinds={"python"},
    description="The best recording of each meeting on YouTube; skipped unless a channel is configured.",
)
def youtube_publish(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    if not _publish_configured():
        context.log.info(
            "youtube publish skipped: no channel configured (python -m pipelines publish --configured)"
        )
        return
    done = subprocess.run([sys.executable, "-m", "pipelines", "publish"], cwd=ROOT, check=False)
    if done.returncode != 0:
        raise dg.Failure(
            description=f"python -m pipelines publish exited {done.returncode}", allow_retries=False
        )
    yield dg.MaterializeResult()


def _snapshot_deps() -> list[dg.AssetKey]:
    keys = [k for d in (dbt_models, dbt_transcript_models) for k in d.keys if k.path[0] != "seeds"]
    return [*keys, dg.AssetKey(["recordings", "files"]), dg.AssetKey(["transcripts", "cues"])]


@dg.asset(
    key=["serving", "snapshot"],
    group_name="publish",
    deps=_snapshot_deps(),
    kinds={"duckdb"},
    description="warehouse/serving.duckdb: the read-only snapshot for BI tools and notebooks (atomic swap).",
)
def serving_snapshot(context: AssetExecutionContext) -> dg.MaterializeResult:
    from pipelines import paths
    from pipelines.publish import publish_snapshot

    counts = publish_snapshot()
    context.log.info(f"published {len(counts)} tables to {paths.serving_path()}")
    return dg.MaterializeResult(
        metadata={"tables": len(counts), "rows": int(sum(counts.values())), "path": str(paths.serving_path())}
    )


ALL_ASSETS = [
    zoom_assets,
    meets_assets,
    dbt_models,
    recordings_copy,
    transcripts_stage,
    dbt_transcript_models,
    youtube_publish,
    serving_snapshot,
]
