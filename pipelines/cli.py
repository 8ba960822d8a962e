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


def _sandbox_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sandbox", help="run the embedded Zoom + MEETS sandbox, or write its ground truth")
    ssub = p.add_subparsers(dest="sandbox_cmd", required=True)
    for name, help_text in (
        ("serve", "serve the sandbox on loopback until interrupted"),
        ("truth", "write the ground truth of the sandbox account as JSON"),
    ):
        sp = ssub.add_parser(name, help=help_text)
        sp.add_argument(
            "--scale", default="default", help="tiny | small | default | large (default: default)"
        )
        sp.add_argument("--seed", type=int, default=None, help="account seed (default 42)")
        sp.add_argument("--clock-offset", type=int, default=None, help="seconds added to the sandbox clock")
        sp.add_argument(
            "--now",
            default=None,
            help="pin the sandbox clock (and so its account) to this UTC instant, e.g. 2028-02-29 or "
            "2026-03-31T23:58:00Z (default: SANDBOX_NOW, MW_NOW, else today 00:00 UTC)",
        )
        if name == "serve":
            sp.add_argument("--port", type=int, default=0, help="API port (default: a free port)")
            sp.add_argument(
                "--plan", default=None, help="Zoom plan whose rate limits apply (free | pro | business)"
            )
            for knob in ("p429", "p5xx", "p500_nonjson", "p_cutoff", "p_invalid_json"):
                sp.add_argument(f"--{knob.replace('_', '-')}", dest=knob, type=float, default=None)
            sp.add_argument("--latency-ms", dest="latency_ms", type=int, default=None)
            sp.add_argument("--token-lifetime", dest="token_lifetime", type=int, default=None)
            sp.add_argument("--page-token-lifetime", dest="page_token_lifetime", type=int, default=None)
        else:
            sp.add_argument("--out", default="-", help="output file (default: stdout)")
            sp.add_argument("--summary", action="store_true", help="counts only, no per-meeting detail")
            sp.add_argument(
                "--checksums", action="store_true", help="add SHA-256 of every recording file (slow)"
            )


def _sandbox_config(args: argparse.Namespace):
    from pipelines.sandbox import SandboxConfig, Scale

    overrides = {
        "scale": Scale.named(args.scale),
        "seed": args.seed,
        "clock_offset": args.clock_offset,
        "now": args.now,
    }
    for knob in (
        "port",
        "plan",
        "p429",
        "p5xx",
        "p500_nonjson",
        "p_cutoff",
        "p_invalid_json",
        "latency_ms",
        "token_lifetime",
        "page_token_lifetime",
    ):
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

    if args.dry_run:
        return cmd_plan(args)
    sources = SOURCES if args.source == "all" else (args.source,)
    return run_load(sources, refresh=args.refresh)


def cmd_plan(args: argparse.Namespace) -> int:
    from pipelines.zoom.pipeline import plan_zoom_load

    plan_zoom_load(show=True)
    return 0


def cmd_authorize(args: argparse.Namespace) -> int:
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


def cmd_transform(args: argparse.Namespace) -> int:
    from pipelines.doctor import warehouse_blocker
    from pipelines.publish import publish_snapshot
    from pipelines.transform import run_transform

    blocker = warehouse_blocker()  # a corrupt or locked warehouse: say which, and what to do
    if blocker:
        print(f"transform not started: {blocker}", file=sys.stderr)
        return 1
    code = run_transform(full_refresh=args.full_refresh, select=args.select)
    if code != 0:
        print("dbt build failed: the serving snapshot was NOT republished (readers keep the previous one)")
        return code
    counts = publish_snapshot()
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
    if not args.dry_run and paths.warehouse_path().exists() and paths.serving_path().exists():
        publish_snapshot()  # the inventory's copy status reaches BI tools and the recordings notebook
    return code


def cmd_docs(args: argparse.Namespace) -> int:
    from pipelines.transform import run_docs_generate

    code = run_docs_generate()
    if code != 0 or not args.serve:
        return code
    import http.server
    import socketserver

    target = ROOT / "dbt_project" / "target"
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _sandbox_parser(sub)
    sub.add_parser(
        "doctor", help="check the configuration and explain what is missing (never prints secrets)"
    )

    p = sub.add_parser("load", help="harvest Zoom and MEETS into the warehouse (incremental)")
    p.add_argument("--source", choices=["all", "zoom", "meets"], default="all")
    p.add_argument("--refresh", action="store_true", help="drop the source's raw tables and state first")
    p.add_argument("--dry-run", action="store_true", help="print what the Zoom load will cost; load nothing")
    sub.add_parser("plan", help="Zoom requests per category a load would cost, and days of budget")

    p = sub.add_parser(
        "transform", help="dbt build (seeds, models, tests), then publish the read-only snapshot"
    )
    p.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    p.add_argument("--select", default=None, help="dbt selector, e.g. fct_qos_minutes+")
    from pipelines.recordings import add_arguments as recordings_arguments

    p = sub.add_parser("recordings", help="copy recording files to object storage (verified, resumable)")
    recordings_arguments(p)
    p = sub.add_parser("docs", help="generate dbt docs (and serve them with --serve)")
    p.add_argument("--serve", action="store_true")
    p.add_argument("--port", type=int, default=8080)
    p = sub.add_parser("report", help="export the notebooks to static HTML reports")
    p.add_argument("--out", default=str(ROOT / "reports"))
    sub.add_parser("authorize", help="one-time authorization of a Zoom General (user-authorized) app")

    p = sub.add_parser("meets", help="MEETS ad-hoc look-ups")
    msub = p.add_subparsers(dest="meets_cmd", required=True)
    for name, what in (
        ("lti-context", "LTI context id -> MEETS course id"),
        ("lti-user", "LTI user id -> MEETS user id"),
    ):
        sp = msub.add_parser(name, help=what)
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
    }
    try:
        return handlers[args.command](args)
    except Exception as exc:  # a failure the user can act on: its message, not a traceback
        from pipelines.doctor import explain_failure

        known = explain_failure(exc)
        if known is None:
            raise
        print(known[1], file=sys.stderr)
        return known[0]
