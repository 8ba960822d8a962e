"""Regenerate the numbers in docs/tour.md: table counts and the answers of docs/example_queries.sql.

The sandbox generates its account relative to its clock, so the answers change from day to day;
this script pins the clock (``--now``, default ``TOUR_NOW``) so anyone can reproduce them exactly
with ``MW_NOW=<that date> make run``.

    python docs/gen_tour.py                       # fresh sandbox warehouse (default scale) in a temp folder:
                                                  #   python -m pipelines load, then transform (+ publish)
    python docs/gen_tour.py --serving warehouse/serving.duckdb --warehouse warehouse/meetings.duckdb
                                                  # the numbers of an existing snapshot (after `make run`)
    python docs/gen_tour.py --print               # print the generated blocks, leave tour.md alone

Only the blocks between ``<!-- tour:begin NAME -->`` and ``<!-- tour:end NAME -->`` are rewritten
(NAME: ``produced``, ``counts``, ``queries``); the prose around them is kept.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.report import example_queries, example_query_descriptions, open_serving  # noqa: E402

TOUR = ROOT / "docs" / "tour.md"
RAW_SCHEMAS = ("zoom_raw", "meets_raw")
SERVED_SCHEMAS = ("analytics", "recordings")


def _run(args: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(args), flush=True)
    proc = subprocess.run(args, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode})")


TOUR_NOW = "2026-12-01T00:00:00Z"


def build_fresh(folder: Path, now: str = TOUR_NOW) -> tuple[Path, Path]:
    """``make load`` + ``make transform`` on the embedded sandbox (default scale) into ``folder``,
    with the project's clock pinned at ``now``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MW_", "SANDBOX_", "SOURCES__"))}
    env.update(
        {
            "MW_WAREHOUSE": str(folder / "meetings.duckdb"),
            "MW_PIPELINES_DIR": str(folder / "dlt_pipelines"),
            "MW_STATE_DIR": str(folder / "state"),
            "MW_TOKEN_DIR": str(folder / "tokens"),
            "DBT_LOG_PATH": str(folder / "dbt_logs"),
            "SANDBOX_SCALE": "default",
            "MW_NOW": now,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    python = sys.executable
    _run([python, "-m", "pipelines", "load"], env)
    _run([python, "-m", "pipelines", "transform"], env)  # dbt build, then publish the snapshot
    serving = subprocess.run(
        [python, "-c", "from pipelines.paths import serving_path; print(serving_path())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(env["MW_WAREHOUSE"]), Path(serving)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else str(value)
    return str(value).replace("|", "\\|")


def markdown_table(columns: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_counts(con, schemas: tuple[str, ...]) -> list[tuple[str, int]]:
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in (select unnest(?)) and table_name not like '\\_dlt%' escape '\\' "
        "and table_type in ('BASE TABLE', 'VIEW') order by 1, 2",  # fct_qos_minutes is a view
        [list(schemas)],
    ).fetchall()
    return [(f"{s}.{t}", con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]) for s, t in tables]


def generate(serving: Path, warehouse: Path | None, note: str, pinned: str | None = None) -> dict[str, str]:
    import duckdb

    blocks: dict[str, str] = {}
    now = datetime.now(UTC)
    blocks["produced"] = (
        f"The numbers below were produced on **{now:%Y-%m-%d}** ({note}) by `python docs/gen_tour.py`. "
        + (
            f"The clock was pinned: `MW_NOW={pinned} make run` gives exactly these numbers. "
            if pinned
            else ""
        )
        + "The sandbox generates its meetings relative to its clock (today 00:00 UTC unless pinned), so "
        "on another day your numbers differ in the details; the shape stays the same."
    )

    counts: list[str] = []
    if warehouse is not None and warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as wh:
            raw = table_counts(wh, RAW_SCHEMAS)
        counts += [
            "Raw tables in the warehouse (`warehouse/meetings.duckdb`, what `make load` wrote):",
            "",
            markdown_table(["table", "rows"], raw),
            "",
        ]
    con = open_serving(serving)
    try:
        served = table_counts(con, SERVED_SCHEMAS)
        counts += [
            "Tables in the serving snapshot (`warehouse/serving.duckdb`, what BI tools and notebooks read):",
            "",
            markdown_table(["table", "rows"], served),
        ]
        blocks["counts"] = "\n".join(counts)

        sections: list[str] = []
        descriptions = example_query_descriptions()
        for i, (name, sql) in enumerate(example_queries().items(), start=1):
            cur = con.execute(sql)
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
            sections += [
                f"### {i}. `{name}`",
                "",
                descriptions.get(name, ""),
                "",
                "```sql",
                sql,
                "```",
                "",
                f"Answer ({len(rows)} row{'s' if len(rows) != 1 else ''}):",
                "",
                markdown_table(columns, rows),
                "",
            ]
        blocks["queries"] = "\n".join(sections).rstrip()
    finally:
        con.close()
    return blocks


BLOCKS = ("produced", "counts", "queries")


def _block(name: str) -> re.Pattern:
    return re.compile(
        rf"(<!-- tour:begin {re.escape(name)} -->\n).*?(<!-- tour:end {re.escape(name)} -->)", re.S
    )


def check_markers(text: str) -> None:
    missing = [name for name in BLOCKS if not _block(name).search(text)]
    if missing:
        raise SystemExit(
            f"{TOUR} lacks the blocks <!-- tour:begin NAME --> ... <!-- tour:end NAME --> for {missing}"
        )


def rewrite(text: str, blocks: dict[str, str]) -> str:
    check_markers(text)
    for name, body in blocks.items():
        text = _block(name).sub(lambda m, body=body: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--serving", type=Path, help="an existing serving snapshot (default: build a fresh one)"
    )
    parser.add_argument("--warehouse", type=Path, help="its warehouse, for the raw table counts")
    parser.add_argument("--print", action="store_true", help="print the blocks instead of rewriting tour.md")
    parser.add_argument(
        "--now", default=TOUR_NOW, help=f"the pinned clock of a fresh build (default {TOUR_NOW})"
    )
    args = parser.parse_args(argv)
    if not args.print:
        check_markers(TOUR.read_text(encoding="utf-8"))  # before the minute-long build

    with tempfile.TemporaryDirectory(prefix="mw-tour-") as tmp:
        if args.serving:
            serving, warehouse = args.serving.resolve(), args.warehouse.resolve() if args.warehouse else None
            note = f"snapshot {serving}"
        else:
            warehouse, serving = build_fresh(Path(tmp), args.now)
            note = f"embedded sandbox, default scale, seed 42, clock {args.now}"
        blocks = generate(serving, warehouse, note, None if args.serving else args.now)
    if args.print:
        for name, body in blocks.items():
            print(f"<!-- {name} -->\n{body}\n")
        return 0
    TOUR.write_text(rewrite(TOUR.read_text(encoding="utf-8"), blocks), encoding="utf-8")
    print(f"rewrote {TOUR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
