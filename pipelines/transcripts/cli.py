"""``python -m pipelines transcripts`` and ``python -m pipelines search "QUERY"``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable


def add_parsers(sub: argparse._SubParsersAction, subparser: Callable[..., argparse.ArgumentParser]) -> None:
    """Register both commands (``subparser`` is the CLI's ``_subparser`` helper)."""
    p = subparser(
        sub,
        "transcripts",
        "load the copied transcripts, captions and chat into the warehouse, one row per cue; rebuild search",
    )
    p.add_argument(
        "--rebuild-index", action="store_true", help="rebuild the full-text index even if nothing changed"
    )
    p = subparser(sub, "search", "search meetings by what was said (topics, agendas, transcripts, chat)")
    p.add_argument("query", help='words to look for, e.g. "bayes rule"')
    p.add_argument("--course", default=None, help="only meetings of courses whose name contains this")
    p.add_argument("--host", default=None, help="only meetings whose host's e-mail or name contains this")
    p.add_argument("--from", dest="date_from", default=None, help="first meeting date (YYYY-MM-DD, UTC)")
    p.add_argument("--to", dest="date_to", default=None, help="last meeting date (YYYY-MM-DD, UTC)")
    p.add_argument("--limit", type=int, default=10, help="meetings to show (default 10)")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")


def cmd_transcripts(args: argparse.Namespace) -> int:
    from pipelines import paths
    from pipelines.transcripts import stage

    if not stage.enabled():
        print("transcripts: off ([transcripts] enabled = false): nothing read, nothing stored")
        return 0
    summary = stage.run_transcripts()
    if getattr(args, "rebuild_index", False) and not summary.index_rebuilt:
        import duckdb

        from pipelines.transcripts import search

        with duckdb.connect(str(paths.warehouse_path())) as con:
            search.build_index(con)
        summary.index_rebuilt = True
    print(summary.line())
    for url, reason in summary.quarantined[:20]:
        print(f"  quarantined {url}: {reason}")
    if summary.index_rebuilt and paths.serving_path().exists():
        from pipelines.publish import publish_snapshot

        publish_snapshot()  # search reads the snapshot: the new index reaches it
    return 0


def _open_for_search():
    """``(connection, where)``: the serving snapshot when it holds the search index (loads and
    transforms never lock it), else the warehouse read-only. Raises ``duckdb.IOException`` when the
    warehouse is needed and another process holds it, ``FileNotFoundError`` when there is neither."""
    import duckdb

    from pipelines import paths
    from pipelines.report import open_serving
    from pipelines.transcripts import search

    serving = paths.serving_path()
    if serving.exists():
        try:
            con = open_serving(serving)
        except duckdb.Error:  # unreadable (being replaced, another DuckDB version): try the warehouse
            con = None
        if con is not None:
            if search.index_exists(con):
                return con, serving
            con.close()
    path = paths.warehouse_path()
    if not path.exists():
        raise FileNotFoundError(f"search: no warehouse at {path}; run `make run` first")
    con = duckdb.connect(str(path), read_only=True)
    con.execute("set TimeZone = 'UTC'")  # as on the snapshot: the same hits print the same
    return con, path


def cmd_search(args: argparse.Namespace) -> int:
    import time

    import duckdb

    from pipelines.transcripts import search

    started = time.perf_counter()
    try:
        con, _ = _open_for_search()
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    except duckdb.IOException as exc:  # no snapshot with the index; a load or transform holds the warehouse
        print(f"search: the warehouse is busy ({str(exc).splitlines()[0][:200]}); try again when it is done")
        return 2
    with con:
        try:
            hits = search.search(
                con, args.query, args.course, args.host, args.date_from, args.date_to, limit=args.limit
            )
        except LookupError as exc:
            print(f"search: {exc}", file=sys.stderr)
            return 2
    ms = (time.perf_counter() - started) * 1000
    if args.json:
        print(json.dumps(search.hits_as_dicts(hits), default=str, indent=1, ensure_ascii=False))
    else:
        print(search.format_hits(hits, args.query))
        print(f"({len(hits)} meeting(s), {ms:.0f} ms)")
    return 0
