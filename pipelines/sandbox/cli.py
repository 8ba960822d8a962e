"""The ``python -m pipelines sandbox`` flags: what each one does, where its default comes from.

Kept apart from :mod:`pipelines.cli` so that the sandbox's knobs are documented next to the sandbox.
``--scale`` takes exactly the presets of :meth:`pipelines.sandbox.account.Scale.named`, so a typo is
an argparse error that lists them.
"""

from __future__ import annotations

import argparse
import re

# (flag, dest, type, metavar, help) of ``sandbox serve``: the fault knobs of
# pipelines.sandbox.config.Faults. Each one also reads SANDBOX_<DEST> (e.g. SANDBOX_P429=0.3) and can
# change at run time over POST /_sandbox/faults.
FAULT_FLAGS: tuple[tuple[str, str, type, str, str], ...] = (
    (
        "--p429",
        "p429",
        float,
        "SHARE",
        "share of requests answered 429 with Retry-After, on top of the real limits",
    ),
    ("--p5xx", "p5xx", float, "SHARE", "share of requests answered 503 with a JSON body"),
    (
        "--p500-nonjson",
        "p500_nonjson",
        float,
        "SHARE",
        "share of requests answered 500 with an HTML body (MEETS' 'temporary, unknown error')",
    ),
    (
        "--p-cutoff",
        "p_cutoff",
        float,
        "SHARE",
        "share of bodies cut off mid-way (Content-Length promises more)",
    ),
    (
        "--p-invalid-json",
        "p_invalid_json",
        float,
        "SHARE",
        "share of complete bodies that are not valid JSON",
    ),
    ("--latency-ms", "latency_ms", int, "MS", "milliseconds added to every response"),
    (
        "--slow-probability",
        "slow_probability",
        float,
        "SHARE",
        "share of requests delayed by --slow-seconds (past a client's timeout)",
    ),
    ("--slow-seconds", "slow_seconds", float, "SECONDS", "delay of the slow requests"),
    ("--token-lifetime", "token_lifetime", int, "SECONDS", "access token lifetime (Zoom: 3599)"),
    (
        "--token-lifetime-requests",
        "token_lifetime_requests",
        int,
        "N",
        "also expire an access token after N API requests (0: off; deterministic expiry for tests)",
    ),
    (
        "--page-token-lifetime",
        "page_token_lifetime",
        int,
        "SECONDS",
        "next_page_token lifetime (Zoom: 900, 15 minutes)",
    ),
)

# dests of the flags above plus --port/--plan/--daily-limit-headers: what cmd_sandbox hands on
SERVE_KNOBS: tuple[str, ...] = (
    "port",
    "plan",
    "daily_limit_headers",
    "webhook_url",
    "webhook_secret",
    "webhook_retry_delays",
    *(flag[1] for flag in FAULT_FLAGS),
)


def scale_names() -> tuple[str, ...]:
    """The presets of :meth:`pipelines.sandbox.account.Scale.named`, in its order.

    ``Scale.named`` keeps its presets inside the method; its error for an unknown name lists them
    all, so that message is the one source of the list (a unit test checks each name resolves).
    """
    from pipelines.sandbox.account import Scale

    try:
        Scale.named("\0")
    except ValueError as exc:
        m = re.search(r"choose one of (.+)$", str(exc))
        if m:
            return tuple(name.strip() for name in m.group(1).split(","))
    raise RuntimeError("Scale.named no longer lists its presets in its error message")


SANDBOX_DESCRIPTION = """\
A faithful local emulator of the Zoom and MEETS APIs over a generated, deterministic account
(loopback only, public test credentials). `make load` starts one in-process by itself when no
credentials are configured; these commands are for running it standalone or reading its truth.
"""

SERVE_EPILOG = """\
Every fault knob also reads an env var (SANDBOX_P429=0.3, SANDBOX_LATENCY_MS=20, SANDBOX_SCALE=tiny,
...; the flag wins) and can be changed while it runs: POST /_sandbox/faults {"p429": 0.3}.
Shares are probabilities per request between 0 and 1; all faults are off by default.
"""


def add_sandbox_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sandbox serve`` and ``sandbox truth`` under ``sub``."""
    p = sub.add_parser(
        "sandbox",
        help="run the embedded Zoom + MEETS sandbox, or write its ground truth",
        description=SANDBOX_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ssub = p.add_subparsers(dest="sandbox_cmd", required=True, metavar="{serve,truth}")
    for name, help_text in (
        ("serve", "serve the sandbox on 127.0.0.1 until interrupted (prints URLs and test credentials)"),
        ("truth", "write the ground truth of the sandbox account as JSON (counts, sessions, QoS)"),
    ):
        sp = ssub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=SERVE_EPILOG if name == "serve" else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.add_argument(
            "--scale",
            default=None,
            choices=scale_names(),
            help="size of the generated account (default: SANDBOX_SCALE, else default; "
            "tiny loads in seconds, semester is the 72-million-row benchmark)",
        )
        sp.add_argument("--seed", type=int, default=None, help="account seed (default: SANDBOX_SEED or 42)")
        sp.add_argument(
            "--clock-offset",
            type=int,
            default=None,
            metavar="SECONDS",
            help="seconds added to the sandbox clock, negative for the past (default 0)",
        )
        sp.add_argument(
            "--now",
            default=None,
            help="pin the sandbox clock (and so its account) to this UTC instant, e.g. 2028-02-29 or "
            "2026-03-31T23:58:00Z (default: SANDBOX_NOW, MW_NOW, else today 00:00 UTC)",
        )
        if name == "serve":
            _serve_arguments(sp)
        else:
            sp.add_argument("--out", default="-", help="output file (default: stdout)")
            sp.add_argument("--summary", action="store_true", help="counts only, no per-meeting detail")
            sp.add_argument(
                "--checksums", action="store_true", help="add SHA-256 of every recording file (slow)"
            )
    return p


def _serve_arguments(sp: argparse.ArgumentParser) -> None:
    from pipelines.sandbox.config import PLANS

    sp.add_argument("--port", type=int, default=None, help="API port (default: a free port)")
    sp.add_argument(
        "--plan",
        default=None,
        choices=tuple(PLANS),
        help="Zoom plan whose rate limits apply: %(choices)s (default: SANDBOX_PLAN or business)",
    )
    hooks = sp.add_argument_group(
        "webhooks", "signed Zoom notifications as the clock passes meeting ends and finished recordings"
    )
    hooks.add_argument(
        "--webhook-url",
        default=None,
        metavar="URL",
        help="POST meeting.ended / recording.completed here (default: SANDBOX_WEBHOOK_URL, else none)",
    )
    hooks.add_argument(
        "--webhook-secret",
        default=None,
        metavar="TOKEN",
        help="the secret token they are signed with (default: SANDBOX_WEBHOOK_SECRET, else the public "
        "sandbox-webhook-secret-not-a-real-secret)",
    )
    hooks.add_argument(
        "--webhook-retry-delays",
        default=None,
        metavar="S,S,S",
        help="seconds before each retry when the receiver does not answer 200/204 "
        "(default: Zoom's 300,1200,3600)",
    )
    faults = sp.add_argument_group("faults", "what goes wrong, and how often (all off by default)")
    for flag, dest, kind, metavar, help_text in FAULT_FLAGS:
        faults.add_argument(flag, dest=dest, type=kind, default=None, metavar=metavar, help=help_text)
    faults.add_argument(
        "--daily-limit-headers",
        dest="daily_limit_headers",
        default=None,
        choices=("full", "retry-after", "none"),
        help="headers of a daily-cap 429: full (X-RateLimit-Type + Retry-After, what Zoom sends), "
        "retry-after (Retry-After only) or none (as users captured it in 2020-2021); default full",
    )
