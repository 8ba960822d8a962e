"""``python -m pipelines sql``: ask the serving snapshot something from a fresh clone.

The DuckDB CLI is a separate binary that the locked environment does not install (the ``duckdb``
wheel has no command line), so this is the project's own: it opens ``warehouse/serving.duckdb``
read-only the way the notebooks do (:func:`pipelines.report.open_serving`), so it never blocks a
load or a publish, and prints each result as a table.

    python -m pipelines sql "select count(*) from analytics.fct_meetings"
    python -m pipelines sql --file docs/example_queries.sql
    python -m pipelines sql                      # interactive: end a statement with ';', .quit to leave
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_NAMED = re.compile(r"^--\s*name:\s*\S+", re.M)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sql`` sub-command's flags."""
    parser.add_argument(
        "query",
        nargs="?",
        default=None,
        help="SQL to run (several statements separated by ';'); without it and without --file: "
        "read statements from stdin, or an interactive prompt on a terminal",
    )
    parser.add_argument(
        "-f",
        "--file",
        type=Path,
        default=None,
        help="run every statement of this file (the '-- name:' queries of docs/example_queries.sql "
        "are printed under their names)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="the DuckDB file to open read-only (default: the serving snapshot, MW_SERVING or "
        "warehouse/serving.duckdb)",
    )
    parser.add_argument(
        "--max-rows", type=int, default=40, help="rows printed per result (default 40; the count is shown)"
    )


def _statements(con, text: str, path: Path | None = None) -> list[tuple[str | None, str]]:
    """``(name, sql)`` per statement: the ``-- name:`` queries of a file keep their names."""
    if path is not None and _NAMED.search(text):
        from pipelines.report import example_queries

        return list(example_queries(path).items())
    return [(None, s.query.strip()) for s in con.extract_statements(text) if s.query.strip()]


def run_sql(con, text: str, max_rows: int, out=None, path: Path | None = None) -> None:
    """Run every statement of ``text`` (read from ``path``, if given) and print what each returns."""
    out = out or sys.stdout
    for name, sql in _statements(con, text, path):
        if name:
            print(f"-- {name}", file=out)
        rel = con.sql(sql)
        if rel is None:  # set, create ...: nothing to show
            continue
        rows = rel.fetchmany(max_rows + 1)
        _print_table(list(rel.columns), rows[:max_rows], len(rows) > max_rows, out)


def _cell(value: object) -> str:
    return "NULL" if value is None else str(value)


def _print_table(columns: list[str], rows: list[tuple], more: bool, out) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(r[i]) for r in cells) and bool(cells) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return " | ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    print(line(columns), file=out)
    print("-+-".join("-" * w for w in widths), file=out)
    for row in cells:
        print(line(row), file=out)
    shown = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
    print(f"({shown}{'; more not shown, see --max-rows' if more else ''})\n", file=out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "NULL"
    return True


def _interactive(con, max_rows: int) -> None:
    print("Read-only SQL on the serving snapshot. End a statement with ';'. .quit (or Ctrl-D) leaves.")
    buffer: list[str] = []
    while True:
        try:
            line = input("sql> " if not buffer else "...> ")
        except EOFError:
            print()
            return
        except KeyboardInterrupt:  # like psql: Ctrl-C drops the statement being typed
            print()
            buffer = []
            continue
        if not buffer and line.strip() in (".quit", ".exit", "\\q"):
            return
        buffer.append(line)
        if line.rstrip().endswith(";"):
            text, buffer = "\n".join(buffer), []
            try:
                run_sql(con, text, max_rows)
            except Exception as exc:  # a typo in a query: say so and keep the prompt
                print(f"error: {exc}")


def cmd_sql(args: argparse.Namespace) -> int:
    from pipelines import warehouse
    from pipelines.report import open_serving, serving_file

    # on a DuckLake without --db: the lake at its published snapshot (open_serving(None) attaches it)
    path = args.db or (None if warehouse.is_lake() else serving_file())
    try:
        con = open_serving(path)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        if args.file is not None:
            text = args.file.read_text(encoding="utf-8")
        elif args.query is not None:
            text = args.query
        elif sys.stdin.isatty():
            _interactive(con, args.max_rows)
            return 0
        else:
            text = sys.stdin.read()
        try:
            run_sql(con, text, args.max_rows, path=args.file)
        except Exception as exc:
            import duckdb

            if isinstance(exc, duckdb.Error):
                print(f"error: {exc}", file=sys.stderr)
                return 1
            raise
    finally:
        con.close()
    return 0
