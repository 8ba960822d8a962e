"""Analysts' side: open the serving snapshot read-only, and export the notebooks to static HTML.

The notebooks in ``notebooks/`` (marimo, plain ``.py``) read the published snapshot
(``pipelines.paths.serving_path()``, ``MW_SERVING`` to move it), never the warehouse, so they
run while a load holds the warehouse's write lock. :func:`open_serving` is the one way they connect:
the file is attached read-only under the catalog alias ``serving`` so that ``analytics.<table>``
always means the schema, whatever the file is called. :func:`build_reports` runs every notebook with
``marimo export html`` and turns its outputs into a self-contained page in ``reports/`` (``make report``).

Why not ship marimo's HTML as it is: it is an empty shell that loads marimo's frontend (and with it
vega-embed) from cdn.jsdelivr.net, so on a network that blocks the CDN (hospitals do) nothing draws.
marimo 0.25 has no option to inline those assets (``export html`` has none; ``export html-wasm
--offline`` bundles Pyodide and re-runs the notebook in the browser, which cannot reach the snapshot),
and its frontend is ~700 ES-module chunks (28 MB) that browsers refuse to import from ``file://``.
So :func:`render_offline` reads the outputs marimo embeds in its export (the session snapshot: the
same markdown, tables and vega-lite specs its frontend would draw) and writes plain HTML: each plot
as an inline SVG drawn at build time by vl-convert (the Vega-Lite compiler and renderer in a Python
wheel, no browser, no network), each table as an HTML ``<table>``. The page has no script to run
and references nothing outside itself; it renders in any browser, offline, with scripts disabled,
and prints. Each plot's vega-lite spec (with its data) travels next to its SVG as inert JSON.
"""

from __future__ import annotations

import base64
import csv
import functools
import html
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

from pipelines import paths

log = logging.getLogger("pipelines.report")

NOTEBOOKS_DIR = paths.ROOT / "notebooks"
EXAMPLE_QUERIES = paths.ROOT / "docs" / "example_queries.sql"
# The notebooks, in the order of the report index.
NOTEBOOKS = ("quality_overview", "participant_experience", "recordings", "transcripts")

# marimo's error name for a cell it did not run because a cell above called ``mo.stop``
STOPPED = "ancestor-stopped"

# Where a plot's vega-lite spec is: in a report, the inert JSON next to its SVG (render_offline); in
# a ``marimo export html`` page, a cell output in the session JSON
# (``"application/vnd.vegalite.v6+json": "<spec as a JSON string>"``) or, inside a layout
# (mo.vstack ...), an HTML-escaped <marimo-mime-renderer data-mime=... data-data=...> element.
_REPORT_SPEC = re.compile(
    r'<script type="application/vnd\.vegalite\+json" class="plot-spec">(.*?)</script>', re.S
)
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

    from pipelines import warehouse

    if path is None and warehouse.is_lake():  # the lake itself, at its published snapshot
        from pipelines.lake.publish import open_published

        return open_published(warehouse.lake_settings())
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
    from pipelines import warehouse

    lake = warehouse.is_lake()
    path = serving_file()
    missing = not lake and not path.exists()
    if missing:
        print(missing_serving_message(path), file=sys.stderr)
    mo.stop(
        missing,
        mo.callout(mo.md(f"**No data yet.** {missing_serving_message(path)}"), kind="warn"),
    )
    con = open_serving(None if lake else path)

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
    """The vega-lite specs of the plots in a report (:func:`render_offline`) or a ``marimo export html``."""
    specs: list[dict] = []
    for m in _REPORT_SPEC.finditer(html_text):
        if (spec := _as_spec(m.group(1))) is not None:
            specs.append(spec)
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
    """Rendered vega-lite plots in a report (or an exported notebook)."""
    return len(plot_specs(html_text))


# --- the offline page ------------------------------------------------------------------------------


class ReportRenderError(RuntimeError):
    """A notebook output the offline report cannot draw (a marimo element or mimetype it does not know).

    Raised rather than skipped: a report that silently drops a table or a plot is worse than none.
    """


@functools.cache
def _vl_convert():
    """vl-convert, started with ``TZ=UTC`` so that dates draw as the UTC days the warehouse holds.

    Its embedded JavaScript runtime reads the time zone once, when it starts; the report must not
    shift a day's bar to the day before because the machine that built it (or, with client-side
    rendering, the reader's browser) sits west of Greenwich.
    """
    import vl_convert

    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    try:
        tz = vl_convert.get_local_tz()  # starts the runtime (once per process)
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
    if tz not in ("UTC", "Etc/UTC"):
        log.warning("vl-convert started earlier in this process with TZ=%s: dates in plots follow it", tz)
    return vl_convert


def _vl_version(spec: dict, available: list[str]) -> str | None:
    """``"6.4"`` for a spec whose ``$schema`` is ``.../vega-lite/v6.4.1.json`` if vl-convert ships it."""
    m = re.search(r"/v(\d+)\.(\d+)(?:\.\d+)?\.json", str(spec.get("$schema", "")))
    version = f"{m.group(1)}.{m.group(2)}" if m else None
    return version if version in available else None


# A mark vega drew for one datum (a bar, a point, a cell) with its ARIA label, which vega-lite makes
# from the encoded fields and the tooltip: given a <title> child, the browser shows the label on
# hover, a tooltip without JavaScript. Lines and areas are one mark for many data: left as they are.
_HOVER_MARK = re.compile(
    r'(<(path|rect|circle|line)\b(?![^>]*aria-roledescription="(?:line|area|trail) mark")'
    r'[^>]*?\saria-label="([^"]*)"[^>]*?)\s*/>'
)


def plot_svg(spec: dict, *, prefix: str = "") -> str:
    """A vega-lite spec drawn as SVG, offline (data must be inline: vl-convert may fetch nothing).

    Each mark for one datum carries its label as an SVG ``<title>`` (a hover tooltip, no script).

    ``prefix`` is put before every ``id`` the SVG defines (clip paths, gradients) and every reference
    to one, so that several SVGs inline in one page do not clip each other.
    """
    vlc = _vl_convert()
    svg = vlc.vegalite_to_svg(
        spec, vl_version=_vl_version(spec, vlc.get_vegalite_versions()), allowed_base_urls=[]
    )
    svg = svg[svg.index("<svg") :]  # no XML prolog inside HTML
    svg = _HOVER_MARK.sub(r"\g<1>><title>\g<3></title></\g<2>>", svg)
    if prefix:
        svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
        svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
        svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', svg)
    return svg


class _StartTag(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, str] = {}
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.attrs:
            self.attrs = {k: v or "" for k, v in attrs}


def _json_attr(attrs: dict[str, str], name: str, default: object = None) -> object:
    raw = attrs.get(name)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# the rest of a start tag: attributes, quoted values may hold ">"
_ATTRS = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""


def _elements(fragment: str, tag: str) -> list[tuple[int, int, str, str]]:
    """Top-level ``<tag ...>...</tag>`` elements of ``fragment`` (a ``tag`` regex, e.g. ``marimo-[a-z-]+``):
    ``(start, end, start_tag, inner)``, nesting of the same element name matched."""
    found = []
    opening = re.compile(rf"<({tag})(?=[\s>/]){_ATTRS}>", re.IGNORECASE)
    pos = 0
    while m := opening.search(fragment, pos):
        name = m.group(1)
        pair = re.compile(rf"<(/?){re.escape(name)}(?=[\s>/]){_ATTRS}>", re.IGNORECASE)
        depth, cursor = 1, m.end()
        while depth:
            n = pair.search(fragment, cursor)
            if n is None:
                raise ReportRenderError(f"unclosed <{name}> in a notebook output")
            depth += -1 if n.group(1) else 1
            cursor = n.end()
        found.append((m.start(), cursor, m.group(0), fragment[m.end() : n.start()]))
        pos = cursor
    return found


class _Page:
    """The body of one report, built output by output."""

    def __init__(self, notebook: str) -> None:
        self.notebook = notebook
        self.plots = 0

    # vega-lite -> an SVG figure with its spec beside it
    def plot(self, spec: dict) -> str:
        self.plots += 1
        prefix = f"p{self.plots}-"
        try:
            svg = plot_svg(spec, prefix=prefix)
        except Exception as exc:  # vl-convert raises ValueError with the compiler's message
            raise ReportRenderError(f"{self.notebook}: plot {self.plots} could not be drawn: {exc}") from exc
        title = spec.get("title")
        label = title.get("text") if isinstance(title, dict) else title
        aria = f' aria-label="{html.escape(str(label))}"' if isinstance(label, str) else ""
        spec_json = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
        return (
            f'<figure class="plot" role="img"{aria}>{svg}'
            f'<script type="application/vnd.vegalite+json" class="plot-spec">{spec_json}</script></figure>'
        )

    def table(self, attrs: dict[str, str]) -> str:
        data = _json_attr(attrs, "data-data", [])
        rows = self._rows(data)
        field_types = _json_attr(attrs, "data-field-types", []) or []
        hidden = set(_json_attr(attrs, "data-hidden-columns", []) or [])
        columns = (
            [f[0] for f in field_types] if field_types else list(dict.fromkeys(k for r in rows for k in r))
        )
        kinds = {f[0]: (f[1][0] if isinstance(f[1], list) and f[1] else "") for f in field_types}
        columns = [c for c in columns if c not in hidden]
        numeric = {c for c in columns if kinds.get(c) in ("integer", "number")}
        classes = {c: " class=num" if c in numeric else "" for c in columns}
        classes |= {c: " class=when" for c in columns if kinds.get(c) in ("date", "datetime", "time")}
        head = "".join(f'<th{classes[c]} scope="col">{html.escape(str(c))}</th>' for c in columns)
        body = "\n".join(
            "<tr>" + "".join(f"<td{classes[c]}>{self._cell(row.get(c))}</td>" for c in columns) + "</tr>"
            for row in rows
        )
        total = _json_attr(attrs, "data-total-rows")
        note = ""
        if isinstance(total, int) and total > len(rows):
            note = f"<caption>the first {len(rows)} of {total:,} rows</caption>"
        label = _json_attr(attrs, "data-label")
        label_html = f'<div class="label">{label}</div>' if isinstance(label, str) and label else ""
        return (
            f'{label_html}<div class="table"><table>{note}<thead><tr>{head}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></div>"
        )

    def _rows(self, data: object) -> list[dict]:
        if isinstance(data, str) and data.startswith("data:"):
            meta, _, payload = data.partition(",")
            raw = base64.b64decode(payload) if meta.endswith(";base64") else payload.encode()
            text = raw.decode("utf-8")
            data = list(csv.DictReader(io.StringIO(text))) if "csv" in meta else json.loads(text)
        elif isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise ReportRenderError(
                    f"{self.notebook}: a table's data is not inline ({data[:80]!r})"
                ) from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ReportRenderError(f"{self.notebook}: a table's data is not a list of rows")
        return data

    @staticmethod
    def _cell(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:,.4g}" if abs(value) < 1e15 else str(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return html.escape(value if isinstance(value, str) else json.dumps(value))

    def mime(self, mimetype: str, data: object) -> str:
        """One output by its mimetype (a cell's output, or one inside a layout)."""
        if re.fullmatch(r"application/vnd\.vegalite\.v\d+\+json", mimetype):
            if (spec := _as_spec(data)) is None:
                raise ReportRenderError(f"{self.notebook}: a vega-lite output is not a spec")
            return self.plot(spec)
        if mimetype in ("text/html", "text/markdown"):
            return self.fragment(str(data))
        if mimetype == "text/plain":
            return f"<pre>{html.escape(str(data))}</pre>" if str(data).strip() else ""
        if mimetype.startswith("image/"):
            src = str(data)
            if not src.startswith("data:"):
                src = f"data:{mimetype};base64," + (
                    base64.b64encode(src.encode()).decode() if mimetype == "image/svg+xml" else src
                )
            return f'<img alt="" src="{html.escape(src)}">'
        raise ReportRenderError(f"{self.notebook}: an output of type {mimetype} cannot be drawn offline")

    def fragment(self, text: str) -> str:
        """HTML from marimo with its custom elements (``<marimo-...>``) replaced by plain HTML."""
        out, pos = [], 0
        for start, end, start_tag, inner in _elements(text, r"marimo-[a-z-]+"):
            out.append(text[pos:start])
            out.append(self.element(start_tag, inner))
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def element(self, start_tag: str, inner: str) -> str:
        name = re.match(r"<([a-z-]+)", start_tag, re.IGNORECASE).group(1).lower()
        attrs = _StartTag(start_tag).attrs
        if name == "marimo-ui-element":  # a wrapper that binds an element to the kernel
            return self.fragment(inner)
        if name == "marimo-mime-renderer":
            return self.mime(str(_json_attr(attrs, "data-mime", "")), _json_attr(attrs, "data-data", ""))
        if name == "marimo-table":
            return self.table(attrs)
        if name == "marimo-callout-output":
            kind = re.sub(r"[^a-z-]", "", str(_json_attr(attrs, "data-kind", "neutral")))
            return (
                f'<div class="callout {kind}">{self.fragment(str(_json_attr(attrs, "data-html", "")))}</div>'
            )
        if name in ("marimo-text", "marimo-text-area", "marimo-dropdown"):
            # an input: on paper, its label and the value the report was built with
            label = self.fragment(str(_json_attr(attrs, "data-label", "") or ""))
            value = _json_attr(attrs, "data-initial-value", "")
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            return (
                f'<div class="input"><span class="input-label">{label}</span> '
                f'<span class="input-value">{html.escape(shown)}</span></div>'
            )
        if name in ("marimo-tabs", "marimo-accordion"):
            labels = _json_attr(attrs, "data-tabs" if name == "marimo-tabs" else "data-labels", []) or []
            panes = [self.fragment(pane) for *_, pane in _elements(inner, "div")]
            if len(labels) != len(panes):
                raise ReportRenderError(
                    f"{self.notebook}: <{name}> with {len(labels)} labels, {len(panes)} panes"
                )
            # on paper every pane shows, each under its label
            return "".join(
                f'<section class="pane"><div class="pane-label">{self.fragment(str(label))}</div>{pane}</section>'
                for label, pane in zip(labels, panes, strict=True)
            )
        raise ReportRenderError(
            f"{self.notebook}: the offline report cannot draw <{name}> yet (teach pipelines.report._Page.element)"
        )


_STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1f2328; margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 1100px; }
h1 { font-size: 1.8rem; } h2 { font-size: 1.35rem; margin-top: 2.2rem; } h3 { font-size: 1.1rem; }
h1, h2, h3 { line-height: 1.25; }
.paragraph { display: block; margin: .5rem 0; }
.contents { display: contents; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f3f4f6;
       padding: .05em .3em; border-radius: 3px; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; }
.output { margin: .8rem 0; }
.plot { margin: .6rem 0; overflow-x: auto; }
.plot svg { max-width: none; height: auto; }
.table { overflow-x: auto; margin: .4rem 0; }
table { border-collapse: collapse; font-size: .88rem; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
th, .num, .when { white-space: nowrap; }
caption { caption-side: bottom; text-align: left; color: #6b7280; font-size: .8rem; padding-top: .3rem; }
.callout { border-left: 4px solid #9ca3af; background: #f9fafb; padding: .4rem .9rem; margin: .6rem 0; }
.callout.warn { border-color: #d97706; background: #fffbeb; }
.callout.danger, .callout.alert { border-color: #dc2626; background: #fef2f2; }
.callout.info { border-color: #2563eb; background: #eff6ff; }
.callout.success { border-color: #16a34a; background: #f0fdf4; }
.input { margin: .6rem 0; }
.input-label { font-weight: 600; }
.input-value { border: 1px solid #d1d5db; border-radius: 4px; padding: .1rem .5rem; background: #f9fafb; }
.pane { margin: .6rem 0 1rem; }
.pane-label { font-weight: 600; }
footer { margin-top: 3rem; color: #6b7280; font-size: .8rem; }
@media print { .plot, .table { overflow: visible; } }
"""


def marimo_session(marimo_html: str) -> tuple[dict, list[dict]]:
    """``(app_config, cells)`` from a ``marimo export html`` page: the mount config it embeds, whose
    ``session`` holds every cell's outputs in notebook order (``[{"id", "outputs": [...]}, ...]``)."""
    marker = marimo_html.find('"__MARIMO_MOUNT_CONFIG__"')
    start = marimo_html.find("Object.freeze(", marker) if marker >= 0 else -1
    if start < 0:
        raise ReportRenderError("no __MARIMO_MOUNT_CONFIG__ in marimo's export (did its format change?)")
    try:
        config, _ = json.JSONDecoder().raw_decode(marimo_html, start + len("Object.freeze("))
        cells = config["session"]["cells"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ReportRenderError(f"marimo's export holds no readable session ({exc})") from exc
    return config.get("appConfig") or {}, cells


def render_offline(marimo_html: str, *, notebook: str, title: str | None = None) -> tuple[str, int]:
    """The self-contained report page for one ``marimo export html`` page; returns ``(html, plots)``.

    Raises :class:`ReportRenderError` for a cell that failed or an output it cannot draw.
    """
    app_config, cells = marimo_session(marimo_html)
    page = _Page(notebook)
    parts: list[str] = []
    for cell in cells:
        for output in cell.get("outputs") or []:
            if output.get("type") == "error" and output.get("ename") == STOPPED:
                continue  # not run on purpose: the cell that called mo.stop shows why
            if output.get("type") == "error":
                raise ReportRenderError(f"{notebook}: cell {cell.get('id')} failed: {output}")
            data = output.get("data") or {}
            if not isinstance(data, dict):
                continue
            # one rendering per output, the richest marimo gave
            mimetype = next((m for m in data if m != "text/plain"), "text/plain" if data else None)
            if mimetype is None:
                continue
            if mimetype.startswith("application/vnd.marimo+"):
                raise ReportRenderError(
                    f"{notebook}: cell {cell.get('id')} output {mimetype}: {data[mimetype]}"
                )
            rendered = page.mime(mimetype, data[mimetype])
            if rendered.strip():
                parts.append(f'<div class="output">{rendered}</div>')
    title = title or app_config.get("app_title") or notebook.replace("_", " ")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body = "\n".join(parts)
    document = (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        f"<footer>notebooks/{html.escape(notebook)}.py, exported {stamp} by <code>make report</code>. "
        "Self-contained: no network needed. Plots drawn with vl-convert; their vega-lite specs (with "
        "their data) are embedded next to them. <a href='index.html'>All reports</a></footer>\n"
        "</body></html>\n"
    )
    return document, page.plots


def export_notebook(notebook: Path, out: Path, *, timeout: float = 600) -> int:
    """Run ``notebook`` with ``marimo export html``, write its offline report to ``out``; returns the plots.

    Raises ``RuntimeError`` when a cell fails (marimo exits non-zero), an output cannot be drawn
    offline (:class:`ReportRenderError`) or nothing was plotted.
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
    try:
        exported = tmp.read_text(encoding="utf-8")
        page, plots = render_offline(exported, notebook=notebook.stem)
        # no plot is an error, unless the notebook stopped on purpose (mo.stop: nothing to plot yet,
        # e.g. no transcripts while the transcripts stage is off)
        if plots == 0 and f'"{STOPPED}"' not in exported:
            raise RuntimeError(f"exporting {notebook.name} produced no plots")
        tmp.write_text(page, encoding="utf-8")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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
