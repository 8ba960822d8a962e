"""``python -m pipelines publish``: the best recording of each meeting to YouTube;
``python -m pipelines authorize youtube``: the one-time OAuth consent for the channel."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable


def _csv(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def add_parsers(sub: argparse._SubParsersAction, subparser: Callable[..., argparse.ArgumentParser]) -> dict:
    p = subparser(
        sub, "publish", "upload the best recording of each meeting to YouTube (resumable, quota-aware)"
    )
    p.add_argument("--configured", action="store_true", help="exit 0 when a channel is configured, 1 if not")
    p.add_argument("--users", default=None, help="comma-separated host e-mails or Zoom user ids")
    p.add_argument("--series", default=None, help="comma-separated meeting numbers (meeting series)")
    p.add_argument("--courses", default=None, help="comma-separated MEETS course ids or names")
    p.add_argument("--from", dest="date_from", default=None, help="first meeting date (YYYY-MM-DD, UTC)")
    p.add_argument("--to", dest="date_to", default=None, help="last meeting date (YYYY-MM-DD, UTC)")
    p.add_argument("--privacy", choices=("private", "unlisted", "public"), default=None,
                   help="privacyStatus of new uploads (default [youtube] privacy_status, private)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print what would be published and its quota cost")
    p.add_argument(
        "--no-transform", action="store_true", help="do not rebuild the recordings mart afterwards"
    )
    return {"publish": cmd_publish}


def _date(text: str | None, flag: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"publish: {flag} {text!r} is not a date (YYYY-MM-DD)") from None


def cmd_publish(args: argparse.Namespace) -> int:
    from pipelines.youtube.settings import YouTubeConfigError, load_settings

    try:
        settings = load_settings(privacy_status=getattr(args, "privacy", None))
    except YouTubeConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.configured:
        return 0 if settings.configured else 1
    from pipelines import paths
    from pipelines.youtube.stage import run_publish

    if not paths.warehouse_path().exists():
        print(
            f"publish: no warehouse at {paths.warehouse_path()}: run `make run` (load, transform, recordings) first"
        )
        return 1
    filters = {
        "users": _csv(args.users),
        "series": _csv(args.series),
        "courses": _csv(args.courses),
        "date_from": _date(args.date_from, "--from"),
        "date_to": _date(args.date_to, "--to"),
    }
    summary = run_publish(filters=filters, dry_run=args.dry_run, settings=settings)
    if not args.dry_run and summary.published and not args.no_transform:
        refresh_marts()
    return summary.code


def refresh_marts(snapshot: bool = True) -> None:
    """Rebuild the recordings mart (video id + URL beside each file) and republish the snapshot."""
    from pipelines import paths
    from pipelines.transform import run_transform

    code = run_transform(select="stg_youtube__publications+", quiet=True)
    if snapshot and code == 0 and paths.serving_path().exists():
        from pipelines.publish import publish_snapshot

        publish_snapshot()


def cmd_authorize_youtube(args: argparse.Namespace) -> int:
    """Installed-app consent in the browser; the refresh token goes to the token folder (0600)."""
    from pipelines.youtube.settings import load_settings, token_file

    settings = load_settings()
    if not (settings.client_id and settings.client_secret):
        print(
            "authorize youtube: set youtube.client_id (config) and youtube.client_secret (secrets; or env "
            "YOUTUBE__CLIENT_ID / YOUTUBE__CLIENT_SECRET) from your Google Cloud project's OAuth client "
            "(type: Desktop app), then run this again",
            file=sys.stderr,
        )
        return 2
    import webbrowser

    from google_auth_oauthlib.flow import InstalledAppFlow

    try:
        webbrowser.get()
        browser = True
    except webbrowser.Error:  # a server without a browser: the URL is printed to open elsewhere
        browser = False
    config = {
        "installed": {
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "auth_uri": settings.auth_uri,
            "token_uri": settings.token_uri,
            "redirect_uris": ["http://localhost"],
        }
    }
    flow = InstalledAppFlow.from_client_config(config, scopes=settings.scopes)
    credentials = flow.run_local_server(
        port=0,
        open_browser=browser,
        access_type="offline",
        prompt="consent",
        authorization_prompt_message="authorize youtube: open this URL in a browser on this machine: {url}",
        success_message="meetings-warehouse is authorized; you may close this window.",
        timeout_seconds=600,
    )
    if not credentials.refresh_token:
        print(
            "authorize youtube: Google returned no refresh token; revoke the app's access and retry",
            file=sys.stderr,
        )
        return 1
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(credentials.refresh_token)
    print(
        f"authorize youtube: refresh token stored in {path} (0600); `make publish` uploads to the channel now"
    )
    return 0
