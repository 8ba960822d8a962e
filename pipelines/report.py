"""Analysts' side: open the serving snapshot read-only, and export the notebooks to static HTML.

The notebooks in ``notebooks/`` (marimo, plain ``.py``) read the published snapshot
(``pipelines.paths.serving_path()``, ``MW_SERVING`` to move it), never the warehouse, so they
run while a load holds the warehouse's write lock. :func:`open_serving` is the one way they connect:
the file is attached read-only under the catalog alias ``serving`` so that ``analytics.<table>``
always means the schema, whatever the file is called. :func:`build_reports` runs every notebook with
``marimo export html`` into ``reports/`` (``make report``).
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from pipelines import paths

log = logging.getLogger("pipelines.report")

NOTEBOOKS_DIR = paths.ROOT / "notebooks"
EXAMPLE_QUERIES = paths.ROOT / "docs" / "example_queries.sql"
# The notebooks, in the order of the report index.
NOTEBOOKS = ("quality_overview", "participant_experience", "recordings")

# Where marimo's exported HTML keeps a rendered altair (vega-lite) plot: a cell output in the session
# JSON (``"application/vnd.vegalite.v6+json": "<spec as a JSON string>"``), or, inside a layout
# (mo.vstack ...), an HTML-escaped <marimo-mime-renderer data-mime=... data-data=...> element.
_SESSION_SPEC = re.compile(r'"application/vnd\.vegalite\.v\d+\+json":\s*(?=")')
_SESSION_HTML = re.compile(r'"text/html":\s*(?=")')
_RENDERER_SPEC = re.compile(
    r"<marimo-mime-renderer data-mime='([^']*vnd\.vegalite[^']*)' data-data='([^']*)'", re.IGNORECASE
)


def serving_file() -> Path:
    """The published snapshot the notebooks and BI tools read (``MW_SERVING``)."""
    return paths.serving_path()


def missing_serving_message(path: Path | None = None) -> str:
    path = path or serving_file()
    return (
        f"No serving snapshot at {path}. Run `make run` (load + transform, which publishes the "
        "snapshot) first, or point MW_SERVING at an existing snapshot."
    )


def open_serving(path: Path | None = None):
    """A DuckDB connection to the snapshot, read-only, with ``analytics.*`` and ``recordings.*`` resolvable.

    The file is attached as catalog ``serving`` and made the default: a file named ``analytics.duckdb``
    opened directly would have a catalog ``analytics`` next to the schema ``analytics`` and DuckDB
    would call ``analytics.fct_meetings`` ambiguous. Raises ``FileNotFoundError`` with what to do.
    """
    import duckdb

    path = Path(path) if path else serving_file()
    if not path.exists():
        raise FileNotFoundError(missing_serving_message(path))
    con = duckdb.connect()
    literal = "'" + path.as_posix().replace("'", "''") + "'"
    con.execute(f"attach {literal} as serving (read_only)")
    con.execute("use serving")
    con.execute("set TimeZone = 'UTC'")
    return con


def snapshot_or_stop(mo):
    """For a notebook's first data cell: ``(con, q)``, the open snapshot and ``q(sql, params)`` returning
    a polars DataFrame. Without a snapshot, prints what to do to stderr (script runs) and stops the
    notebook's dependent cells with the same note (``mo.stop``)."""
    path = serving_file()
    if not path.exists():
        print(missing_serving_message(path), file=sys.stderr)
    mo.stop(
        not path.exists(),
        mo.callout(mo.md(f"**No data yet.** {missing_serving_message(path)}"), kind="warn"),
    )
    con = open_serving(path)

    def q(sql, params=None):
        """Run a query on the snapshot and return a polars DataFrame."""
        return con.execute(sql, params or []).pl()

    return con, q


def table_exists(con, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists in the snapshot (the recordings inventory may not)."""
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_catalog = 'serving' and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def example_queries(path: Path | None = None) -> dict[str, str]:
    """The named queries of ``docs/example_queries.sql``: ``{name: sql}`` in file order.

    Each query starts at a ``-- name: <name>`` line and runs to the next one; comment lines and the
    trailing ``;`` are stripped, so the text can be handed to any client as one statement.
    """
    text = (path or EXAMPLE_QUERIES).read_text(encoding="utf-8")
    queries: dict[str, str] = {}
    name: str | None = None
    body: list[str] = []
    for line in [*text.splitlines(), "-- name: "]:
        m = re.match(r"^--\s*name:\s*(\S*)\s*$", line)
        if m:
            if name:
                sql = "\n".join(body).strip().rstrip(";").strip()
                if not sql:
                    raise ValueError(f"example query {name!r} is empty")
                if name in queries:
                    raise ValueError(f"example query {name!r} appears twice")
                queries[name] = sql
            name, body = m.group(1) or None, []
        elif name and not line.lstrip().startswith("--"):
            body.append(line)
    return queries


def example_query_descriptions(path: Path | None = None) -> dict[str, str]:
    """``{name: description}``: the comment lines right after each ``-- name:`` line."""
    descriptions: dict[str, str] = {}
    name: str | None = None
    for line in (path or EXAMPLE_QUERIES).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^--\s*name:\s*(\S+)\s*$", line)
        if m:
            name = m.group(1)
            descriptions[name] = ""
        elif name and line.startswith("--"):
            descriptions[name] = (descriptions[name] + " " + line.lstrip("-").strip()).strip()
        else:
            name = None
    return descriptions


def checked(chart):
    """Validate an altair chart against the vega-lite schema and return it.

    A notebook run as a script never renders its outputs, so a broken chart would pass unnoticed;
    the notebooks wrap every plot in this so that ``python notebooks/x.py`` fails on it.
    """
    json.dumps(chart.to_dict(validate=True))  # also catches data that is not JSON (e.g. Decimal)
    return chart


def marimo_executable() -> list[str]:
    """The venv's marimo (next to this interpreter), else ``python -m marimo``."""
    exe = Path(sys.executable).with_name("marimo")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "marimo"]


def _as_spec(value: object) -> dict | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def plot_specs(html_text: str) -> list[dict]:
    """The vega-lite specs rendered in a notebook exported by ``marimo export html``."""
    specs: list[dict] = []
    decoder = json.JSONDecoder()
    for m in _SESSION_SPEC.finditer(html_text):
        try:
            value, _ = decoder.raw_decode(html_text, m.end())
        except ValueError:
            continue
        if (spec := _as_spec(value)) is not None:
            specs.append(spec)
    for m in _SESSION_HTML.finditer(html_text):
        try:
            fragment, _ = decoder.raw_decode(html_text, m.end())
        except ValueError:
            continue
        for r in _RENDERER_SPEC.finditer(fragment if isinstance(fragment, str) else ""):
            try:
                value = json.loads(html.unescape(r.group(2)))
            except ValueError:
                continue
            if (spec := _as_spec(value)) is not None:
                specs.append(spec)
    return [s for s in specs if "vega-lite" in str(s.get("$schema", ""))]


def count_plots(html_text: str) -> int:
    """Rendered vega-lite plots in an exported notebook."""
    return len(plot_specs(html_text))


def export_notebook(notebook: Path, out: Path, *, timeout: float = 600) -> int:
    """Run ``notebook`` with ``marimo export html`` into ``out``; returns the number of plots.

    Raises ``RuntimeError`` when a cell fails (marimo exits non-zero) or nothing was plotted.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    # the reports are for readers: outputs only (the code is in git, `marimo edit` shows both)
    cmd = [
        *marimo_executable(),
        "-y",
        "-q",
        "export",
        "html",
        "--no-include-code",
        str(notebook),
        "-o",
        str(tmp),
        "-f",
    ]
    env = {**os.environ, "MW_SERVING": str(serving_file())}
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=paths.ROOT)
    if proc.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        detail = (proc.stderr or proc.stdout).strip()[-4000:]
        raise RuntimeError(f"exporting {notebook.name} failed (exit {proc.returncode}):\n{detail}")
    plots = count_plots(tmp.read_text(encoding="utf-8"))
    if plots == 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"exporting {notebook.name} produced no plots")
    os.replace(tmp, out)
    log.info("exported %s: %d plots in %.1fs", out, plots, time.monotonic() - started)
    return plots


def _index(out_dir: Path, plots: dict[str, int]) -> Path:
    items = "\n".join(
        f'    <li><a href="{html.escape(name)}.html">{html.escape(name.replace("_", " "))}</a> '
        f"({n} plots)</li>"
        for name, n in plots.items()
    )
    page = (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>meetings-warehouse reports</title></head>\n"
        "<body>\n  <h1>meetings-warehouse reports</h1>\n"
        f"  <p>From the snapshot {html.escape(str(serving_file()))}, exported "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>\n"
        f"  <ul>\n{items}\n  </ul>\n</body></html>\n"
    )
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def build_reports(out_dir: str | Path = "reports", notebooks: tuple[str, ...] = NOTEBOOKS) -> list[Path]:
    """Export every notebook to ``out_dir/<name>.html`` (plus an ``index.html``); returns the report files.

    A relative ``out_dir`` is relative to the project folder. Raises ``FileNotFoundError`` when the
    serving snapshot is missing, ``RuntimeError`` when a notebook fails or renders no plot.
    """
    out = Path(out_dir)
    if not out.is_absolute():
        out = paths.ROOT / out
    if not serving_file().exists():
        raise FileNotFoundError(missing_serving_message())
    written: list[Path] = []
    plots: dict[str, int] = {}
    for name in notebooks:
        target = out / f"{name}.html"
        plots[name] = export_notebook(NOTEBOOKS_DIR / f"{name}.py", target)
        written.append(target)
    _index(out, plots)
    (out / "reports.json").write_text(json.dumps({"plots": plots}, indent=1) + "\n", encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.report [out_dir]`` (the CLI's ``report`` command calls :func:`build_reports`)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        files = build_reports(args[0] if args else "reports")
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
