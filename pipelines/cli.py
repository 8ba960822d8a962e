"""One entry point: ``python -m pipelines <command>``.

Commands register themselves here; each one imports its heavy dependencies lazily so that
``--help`` and the sandbox start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from pipelines import paths
from pipelines.paths import ROOT
from pipelines.sql_shell import cmd_sql
from pipelines.transcripts.cli import add_parsers as transcripts_parsers
from pipelines.transcripts.cli import cmd_search, cmd_transcripts

# Commands that live with their feature: each module has ``add_parsers(sub, subparser)`` returning
# ``{command: handler}``; its heavy imports stay inside the handlers.
PLUGIN_MODULES = (
    "pipelines.youtube.cli",  # publish (YouTube)
    "pipelines.orchestrate.cli",  # orchestrate (Dagster), webhooks (Zoom webhook receiver)
    "pipelines.lake.cli",  # warehouse (show the configured warehouse, migrate a DuckDB file into DuckLake)
)


def _plugin_parsers(sub: argparse._SubParsersAction) -> dict:
    import importlib

    handlers: dict = {}
    for name in PLUGIN_MODULES:
        handlers.update(importlib.import_module(name).add_parsers(sub, _subparser))
    return handlers


def _sandbox_parser(sub: argparse._SubParsersAction) -> None:
    from pipelines.sandbox.cli import add_sandbox_parser

    add_sandbox_parser(sub)


def _sandbox_config(args: argparse.Namespace):
    from pipelines.sandbox import SandboxConfig, Scale
    from pipelines.sandbox.cli import SERVE_KNOBS

    overrides = {
        "scale": Scale.named(args.scale or os.environ.get("SANDBOX_SCALE") or "default"),
        "seed": args.seed,
        "clock_offset": args.clock_offset,
        "now": args.now,
    }
    for knob in SERVE_KNOBS:
        if hasattr(args, knob):
            overrides[knob] = getattr(args, knob)
    return SandboxConfig.from_env(**overrides)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from pipelines.sandbox import SandboxServer
    from pipelines.sandbox.state import SandboxState
    from pipelines.sandbox.truth import compute_truth, file_checksums

    cfg = _sandbox_config(args)
    if args.sandbox_cmd == "truth":
        state = SandboxState(cfg)
        truth = compute_truth(
            state.account,
            state.now(),
            detail=not args.summary,
            attendance_final_after=cfg.attendance_final_after,
        )
        if args.checksums:
            truth["checksums"] = file_checksums(state.account)
        text = json.dumps(truth, indent=1, sort_keys=True)
        if args.out == "-":
            print(text)
        else:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text + "\n", encoding="utf-8")
            z, m = truth["zoom"], truth["meets"]
            print(
                f"wrote {args.out}: {z['meetings']} meetings, {z['participant_sessions']} sessions, "
                f"{z['qos_participant_minutes']} QoS participant-minutes, {z['recording_files']} recording files; "
                f"MEETS {m['conferencing_events']} events, {m['attendance_rows']} attendance rows"
            )
        return 0
    server = SandboxServer(cfg).start()
    info = server.info()
    print("meetings-warehouse sandbox is running (Ctrl-C to stop)")
    for key in ("zoom_api_base_url", "zoom_oauth_base_url", "meets_base_url", "storage_url", "clock", "plan"):
        print(f"  {key:<20} {info[key]}")
    print("  test credentials (public, sandbox only):")
    for key in (
        "account_id",
        "client_id",
        "client_secret",
        "meets_token_header",
        "meets_token",
        "redirect_uri",
    ):
        print(f"    {key:<18} {info[key]}")
    print(f"  admin: {server.base_url}/_sandbox/info | stats | truth | faults | clock")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from pipelines.load import SOURCES, run_load
    from pipelines.recordings.plan import parse_meetings

    meetings = parse_meetings(args.meetings)
    if args.dry_run and meetings is not None:
        print("load not started: --dry-run plans the regular load; it cannot be combined with --meetings")
        return 2
    if args.dry_run:
        return cmd_plan(args)
    sources = SOURCES if args.source == "all" else (args.source,)
    return run_load(sources, refresh=args.refresh, meetings=meetings)


def cmd_plan(args: argparse.Namespace) -> int:
    from pipelines.zoom.pipeline import plan_zoom_load

    plan_zoom_load(show=True)
    return 0


def cmd_authorize(args: argparse.Namespace) -> int:
    if args.service == "youtube":
        from pipelines.youtube.cli import cmd_authorize_youtube

        return cmd_authorize_youtube(args)
    from pipelines.zoom.pipeline import authorize_zoom

    authorize_zoom()
    return 0


def cmd_meets(args: argparse.Namespace) -> int:
    from pipelines.meets.client import MeetsNotFound
    from pipelines.meets.pipeline import lookup_lti_context, lookup_lti_user

    try:
        if args.meets_cmd == "lti-context":
            print(lookup_lti_context(args.connection, args.lti_id))
        else:
            print(lookup_lti_user(args.connection, args.lti_id))
    except MeetsNotFound as exc:
        print(f"not found: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.run_all import run_all

    return run_all(args)


def cmd_transform(args: argparse.Namespace) -> int:
    from pipelines.doctor import warehouse_blocker
    from pipelines.publish import publish_snapshot
    from pipelines.transform import last_result, mark_published, run_transform, up_to_date

    blocker = warehouse_blocker()  # a corrupt or locked warehouse: say which, and what to do
    if blocker:
        print(f"transform not started: {blocker}", file=sys.stderr)
        return 1
    code = run_transform(
        full_refresh=args.full_refresh,
        select=args.select,
        daily=getattr(args, "daily", False),
        force=getattr(args, "force", False),
    )
    if code != 0:
        print("dbt build failed: the serving snapshot was NOT republished (readers keep the previous one)")
        return code
    result = last_result()
    skipped = result is not None and "skipped" in result.counts
    if skipped and (up_to_date() or {}).get("published") and paths.serving_path().exists():
        print(f"the serving snapshot {paths.serving_path()} is already the published state of this build")
        return 0
    counts = publish_snapshot()
    if not args.select:
        mark_published()
    if "snapshot_id" in counts:  # a DuckLake: readers attach the lake at this snapshot
        print(f"published lake snapshot {counts['snapshot_id']} (readers attach the lake at it; no copy)")
        return 0
    print(
        f"published {len(counts)} tables to {paths.serving_path()} (read-only snapshot for BI tools and notebooks)"
    )
    return 0


def cmd_recordings(args: argparse.Namespace) -> int:
    from pipelines.publish import publish_snapshot
    from pipelines.recordings import run_from_args
    from pipelines.settings_check import RECORDINGS, require_valid_settings

    require_valid_settings((RECORDINGS,))  # the sources' settings are checked when they are resolved
    code = run_from_args(args)
    from pipelines import warehouse

    if not args.dry_run and warehouse.is_lake():
        publish_snapshot()  # the lake's published snapshot moves on to include the inventory
    elif not args.dry_run and paths.warehouse_path().exists() and paths.serving_path().exists():
        publish_snapshot()  # the inventory's copy status reaches BI tools and the recordings notebook
    return code


def cmd_docs(args: argparse.Namespace) -> int:
    from pipelines.paths import dbt_target_dir
    from pipelines.transform import run_docs_generate

    code = run_docs_generate()
    if code != 0 or not args.serve:
        return code
    import http.server
    import socketserver

    target = dbt_target_dir()
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(target), **kw)  # noqa: E731
    with socketserver.TCPServer(("127.0.0.1", args.port), handler) as httpd:
        print(f"dbt docs at http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            httpd.serve_forever()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.report import main as report_main

    return report_main([args.out])


def cmd_doctor(args: argparse.Namespace) -> int:
    from pipelines.doctor import run_doctor

    return run_doctor()


USAGE_TEXT = """\
meetings-warehouse: Zoom and MEETS (CirQlive) meetings, participants, per-minute audio/video
quality and recordings in one DuckDB warehouse, modelled by dbt, for BI tools and notebooks.
Without credentials it harvests the embedded sandbox (a local emulator), so it runs from a clone.

The usual commands, in order (`make run` runs the first three):
  load        harvest the APIs into warehouse/meetings.duckdb (incremental, within the budget)
  transform   dbt build, then publish the read-only snapshot warehouse/serving.duckdb
  recordings  copy the recording files to ./recordings or object storage (verified, resumable)
  sql         ask the snapshot something: python -m pipelines sql "select ..."
  report      the notebooks as static HTML under reports/
"""

CONFIG_TEXT = """\
configuration:
  .dlt/config.toml    settings: base URLs, start_date, lookback_days, budget share, [recordings]
  .dlt/secrets.toml   credentials (git-ignored; copy .dlt/secrets.toml.example), or env vars
                      such as SOURCES__ZOOM__CLIENT_SECRET and SOURCES__MEETS__API_TOKEN
  MW_WAREHOUSE, MW_SERVING  move the warehouse (with its state folder) and the snapshot
  `python -m pipelines doctor` checks all of it; `<command> --help` describes each command.
"""


def _subparser(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    """A command whose ``--help`` repeats the line the command list shows."""
    return sub.add_parser(name, help=help_text, description=help_text)


def build_parser() -> argparse.ArgumentParser:
    from pipelines.recordings import add_arguments as recordings_arguments
    from pipelines.sql_shell import add_arguments as sql_arguments

    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        description=USAGE_TEXT,
        epilog=CONFIG_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log lines: -v info, -vv debug"
    )
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="<command>")

    p = _subparser(sub, "load", "harvest Zoom and MEETS into the warehouse (incremental)")
    p.add_argument(
        "--source",
        choices=["all", "zoom", "meets"],
        default="all",
        help="which API to harvest (default: all, Zoom first)",
    )
    p.add_argument(
        "--refresh",
        action="store_true",
        help="drop the source's raw tables and state first, then load everything again",
    )
    p.add_argument("--dry-run", action="store_true", help="print what the Zoom load will cost; load nothing")
    p.add_argument(
        "--meetings",
        metavar="UUID[,UUID...]",
        default=None,
        help="with --source zoom: load just these ended meeting instances (details, participants, QoS), "
        "e.g. for a meeting.ended webhook; the regular load's cursor is left as it is",
    )
    _subparser(sub, "run", "the whole job: load, transform, recordings, then one summary of it all")
    p = _subparser(sub, "transform", "dbt build (seeds, models, tests), then publish the read-only snapshot")
    p.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    p.add_argument("--select", default=None, help="dbt selector, e.g. fct_qos_minutes+ (default: everything)")
    p.add_argument(
        "--daily",
        action="store_true",
        help="only tables, incremental models and what changed since the last successful build (selector daily)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="build even when nothing was written to the warehouse and the dbt project is unchanged",
    )
    p = _subparser(sub, "recordings", "copy recording files to object storage (verified, resumable)")
    recordings_arguments(p)
    p = _subparser(sub, "sql", "run SQL on the read-only serving snapshot and print the results")
    sql_arguments(p)
    p = _subparser(sub, "report", "export the notebooks to static HTML reports")
    p.add_argument("--out", default=str(ROOT / "reports"), help="output folder (default: reports/)")

    _subparser(sub, "doctor", "check the configuration and explain what is missing (never prints secrets)")
    _subparser(sub, "plan", "Zoom requests per category a load would cost, and days of budget")
    p = _subparser(sub, "authorize", "one-time authorization: a Zoom General app, or a YouTube channel")
    p.add_argument(
        "service",
        nargs="?",
        choices=["zoom", "youtube"],
        default="zoom",
        help="what to authorize (default zoom)",
    )
    p = _subparser(sub, "docs", "generate dbt docs (and serve them with --serve)")
    p.add_argument("--serve", action="store_true", help="serve the generated docs on 127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="port of --serve (default 8080)")
    _sandbox_parser(sub)
    transcripts_parsers(sub, _subparser)
    parser.set_defaults(_plugin_handlers=_plugin_parsers(sub))

    p = _subparser(sub, "meets", "MEETS ad-hoc look-ups (LTI ids to MEETS ids)")
    msub = p.add_subparsers(dest="meets_cmd", required=True, metavar="{lti-context,lti-user}")
    for name, what in (
        ("lti-context", "LTI context id -> MEETS course id"),
        ("lti-user", "LTI user id -> MEETS user id"),
    ):
        sp = _subparser(msub, name, what)
        sp.add_argument(
            "--connection", type=int, required=True, help="MEETS connection id (meetsIdConnection)"
        )
        sp.add_argument("lti_id", help="the LTI id as sent to MEETS")
    return parser


def main(argv: list[str] | None = None) -> int:
    # dlt reads .dlt/ from the project folder wherever the command is started from
    os.environ.setdefault("DLT_PROJECT_DIR", str(ROOT))
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from pipelines.api_client import DEFAULT_REDACTOR, install_log_redaction

    install_log_redaction(DEFAULT_REDACTOR)  # every log line passes through the secret scrubber
    handlers = {
        "sandbox": cmd_sandbox,
        "doctor": cmd_doctor,
        "load": cmd_load,
        "plan": cmd_plan,
        "authorize": cmd_authorize,
        "meets": cmd_meets,
        "transform": cmd_transform,
        "recordings": cmd_recordings,
        "docs": cmd_docs,
        "report": cmd_report,
        "sql": cmd_sql,
        "run": cmd_run,
        "transcripts": cmd_transcripts,
        "search": cmd_search,
        **args._plugin_handlers,
    }
    from pipelines import interrupt

    interrupt.install()  # SIGTERM stops a command like Ctrl-C does
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt as exc:
        code = interrupt.exit_code(exc)
        print(str(exc) or f"{args.command} interrupted ({interrupt.signal_name(code)})", file=sys.stderr)
        return code
    except Exception as exc:  # a failure the user can act on: its message, not a traceback
        from pipelines.doctor import explain_failure

        known = explain_failure(exc)
        if known is None:
            raise
        print(known[1], file=sys.stderr)
        return known[0]
