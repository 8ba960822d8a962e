"""`make report` produces HTML that draws its plots and tables with no network at all.

Hospital networks block CDNs; a report that fetches its JavaScript from one shows empty boxes. The
reports are built from the sandbox snapshot (the same one ``test_notebooks.py`` uses), then each is
opened in headless Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it) with every
outside connection made to fail: host names resolve to nothing and the proxy is a closed port. After
Chromium's virtual clock has run 10 s (``--virtual-time-budget``; scripts and loads get their
chance), ``--dump-dom`` gives the page as the reader would see it, and it must hold the drawn plots
(SVG with vega marks, or a canvas) and the tables. A control page proves the harness does block the
network while running scripts. A static check then forbids any external script, stylesheet, font
or image reference in the report files.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipelines.report import NOTEBOOKS, ReportRenderError, plot_specs, render_offline

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.` importable however pytest runs
from tests.e2e.analytics_snapshot import served
from tests.e2e.test_notebooks import MIN_PLOTS

# tables each report must show (mo.ui.table outputs of the notebook on the sandbox snapshot)
MIN_TABLES = {"quality_overview": 2, "participant_experience": 3, "recordings": 1, "transcripts": 2}

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # the network is off: no name resolves, and any proxied fetch goes to a closed port
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--virtual-time-budget=10000",
)

# a reference that makes the browser fetch something from elsewhere (a link the reader may click
# is not one): src/href/data of resource elements, CSS url(...) and @import
_EXTERNAL_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe|frame|source|audio|video|track|embed|object|image|use)\b[^>]*?"
    r"\s(?:src|href|xlink:href|data|srcset|poster)\s*=\s*[\"']?\s*(?:https?:)?//",
    re.IGNORECASE,
)
_EXTERNAL_CSS = re.compile(r"url\(\s*[\"']?\s*(?:https?:)?//|@import", re.IGNORECASE)
_PLOT_SVG = re.compile(r"<svg\b.*?</svg>", re.IGNORECASE | re.DOTALL)


def chromium() -> str:
    """The Chromium to test with; fails (not skips) without one: CI must have it."""
    for name in (os.environ.get("MW_CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    pytest.fail(
        "Chromium is needed to check that the reports draw offline and is not installed: "
        "`apt-get install -y chromium` (Debian; .ci/run does it), or set MW_CHROMIUM to a Chromium binary."
    )


def dump_dom(page: Path) -> str:
    """The DOM of ``page`` after 10 s of virtual time in headless Chromium with the network off."""
    with tempfile.TemporaryDirectory(prefix="mw-chromium-") as profile:
        proc = subprocess.run(
            [
                chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "HOME": profile},
        )
    assert proc.returncode == 0 and "<html" in proc.stdout.lower(), (
        f"chromium could not open {page} (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def drawn_plots(dom: str) -> int:
    """Plots a browser drew: SVG holding vega marks (``class="mark-..."``), plus canvases."""
    svgs = sum(1 for svg in _PLOT_SVG.findall(dom) if re.search(r'class="mark-\w+', svg))
    return svgs + len(re.findall(r"<canvas\b", dom, re.IGNORECASE))


@pytest.fixture(scope="module")
def reports() -> dict[str, Path]:
    """``build_reports`` of the sandbox snapshot (built once: ``test_notebooks.py`` checks its specs)."""
    return {path.stem: path for path in served().reports()}


def test_the_harness_runs_scripts_with_the_network_off(tmp_path: Path) -> None:
    """Control: in this Chromium an inline script runs, and a script from a CDN does not arrive."""
    page = tmp_path / "control.html"
    page.write_text(
        "<!doctype html><html><head>"
        '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script></head><body><p id="out">-</p>'
        "<script>document.getElementById('out').textContent = "
        "'inline ran, vega ' + (typeof vega === 'undefined' ? 'missing' : 'loaded');</script>"
        "</body></html>",
        encoding="utf-8",
    )
    dom = dump_dom(page)
    assert "inline ran, vega missing" in dom, dom[-2000:]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_report_draws_offline(reports: dict[str, Path], name: str) -> None:
    dom = dump_dom(reports[name])
    plots = drawn_plots(dom)
    assert plots >= MIN_PLOTS[name], (
        f"{name}: {plots} plots drawn with the network off (expected at least {MIN_PLOTS[name]}); "
        f"the page needs something it cannot fetch.\n{dom[:1500]}"
    )
    tables = len(re.findall(r"<table\b", dom, re.IGNORECASE))
    assert tables >= MIN_TABLES[name], f"{name}: {tables} tables shown offline"
    # the specs (with their data) still travel in the report, one per drawn plot
    assert len(plot_specs(reports[name].read_text(encoding="utf-8"))) == plots


def test_reports_reference_nothing_outside(reports: dict[str, Path]) -> None:
    folder = next(iter(reports.values())).parent
    pages = sorted(folder.glob("*.html"))
    assert {p.stem for p in pages} == {*NOTEBOOKS, "index"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        external = _EXTERNAL_RESOURCE.findall(text) + _EXTERNAL_CSS.findall(text)
        assert not external, f"{page.name} loads from elsewhere: {external[:5]}"
        assert not re.search(r"<script\b[^>]*\bsrc\s*=", text, re.IGNORECASE), f"{page.name}: a script file"
        assert not re.search(r"<link\b[^>]*\bstylesheet", text, re.IGNORECASE), f"{page.name}: a stylesheet"


def _marimo_page(*outputs: dict) -> str:
    """A minimal ``marimo export html`` page: the mount config with one cell per output."""
    cells = [{"id": f"c{i}", "console": [], "outputs": [o]} for i, o in enumerate(outputs)]
    config = {"appConfig": {"app_title": "Synthetic"}, "session": {"cells": cells, "version": "1"}}
    return (
        '<html><body><script data-marimo="true">Object.defineProperty(window, "__MARIMO_MOUNT_CONFIG__", '
        f"{{value: Object.freeze({json.dumps(config)}), writable: false}});</script></body></html>"
    )


def _attr(value: object) -> str:
    return html.escape(json.dumps(value), quote=True)


def test_render_offline_turns_marimo_elements_into_plain_html() -> None:
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json",
        "data": {"values": [{"day": "2026-01-01", "n": 3}, {"day": "2026-01-02", "n": 5}]},
        "mark": "bar",
        "encoding": {"x": {"field": "day", "type": "ordinal"}, "y": {"field": "n", "type": "quantitative"}},
    }
    rows = [{"host": "Ana <IT>", "meetings": 1234, "share": 0.123456}]
    table = (
        f"<marimo-ui-element object-id='t'><marimo-table data-data='{_attr(json.dumps(rows))}' "
        f"data-field-types='{_attr([['host', ['string', 'str']], ['meetings', ['integer', 'i64']]])}' "
        "data-total-rows='40'></marimo-table></marimo-ui-element>"
    )
    tabs = (
        f"<marimo-tabs data-tabs='{_attr(['<b>first</b>', 'second'])}'>"
        f"<div data-kind='tab'>{table}</div><div data-kind='tab'><p>two</p></div></marimo-tabs>"
    )
    callout = f"<marimo-callout-output data-html='{_attr('<b>careful</b>')}' data-kind='&quot;warn&quot;'>"
    page, plots = render_offline(
        _marimo_page(
            {"type": "data", "data": {"text/markdown": "<h1>Title</h1>"}},
            {"type": "data", "data": {"application/vnd.vegalite.v6+json": json.dumps(spec)}},
            {"type": "data", "data": {"text/html": f"<div>{tabs}{callout}</marimo-callout-output></div>"}},
            {"type": "data", "data": {"text/plain": ""}},
        ),
        notebook="synthetic",
    )
    assert plots == 1 and drawn_plots(page) == 1
    assert page.count("</title></path>") == 2  # each bar has its hover label
    assert plot_specs(page) == [spec]
    assert "<marimo-" not in page and "<title>Synthetic</title>" in page
    assert "Ana &lt;IT&gt;" in page and ">1,234<" in page  # escaped text, grouped numbers
    assert "share" not in page.split("<table>")[1]  # only the columns marimo lists
    assert "the first 1 of 40 rows" in page
    assert "<b>first</b>" in page and "<p>two</p>" in page  # every tab, under its label
    assert '<div class="callout warn"><b>careful</b></div>' in page


def test_render_offline_shows_inputs_with_the_value_the_report_used() -> None:
    """A text box or a dropdown (the transcripts notebook's query and meeting) is drawn as its label
    and the value the outputs below it were computed with."""
    label = _attr('<span class="paragraph">Search <b>what</b> was said</span>')
    text = f"<marimo-text data-initial-value='{_attr('bayes & co')}' data-label='{label}'></marimo-text>"
    dropdown = (
        f"<marimo-dropdown data-initial-value='{_attr(['2026-11-29 Ethics'])}' "
        f"data-options='{_attr(['2026-11-29 Ethics', 'other'])}' data-label='{_attr('Meeting')}'>"
        "</marimo-dropdown>"
    )
    page, _ = render_offline(
        _marimo_page(
            {"type": "data", "data": {"text/html": f"<marimo-ui-element>{text}</marimo-ui-element>"}},
            {"type": "data", "data": {"text/html": f"<div>{dropdown}</div>"}},
        ),
        notebook="synthetic",
    )
    assert "<marimo-" not in page
    assert '<span class="input-value">bayes &amp; co</span>' in page and "Search <b>what</b> was said" in page
    assert '<span class="input-value">2026-11-29 Ethics</span>' in page and "other" not in page


def test_render_offline_skips_cells_stopped_on_purpose() -> None:
    """A cell below an ``mo.stop`` is not run (marimo's error ``ancestor-stopped``): nothing to draw,
    the stopping cell's note says why. Any other error still fails the report."""
    note = {"type": "data", "data": {"text/markdown": "<p>No transcripts yet.</p>"}}
    stopped = {
        "type": "error",
        "ename": "ancestor-stopped",
        "evalue": "an ancestor was stopped",
        "traceback": [],
    }
    page, plots = render_offline(_marimo_page(note, stopped), notebook="synthetic")
    assert plots == 0 and "No transcripts yet." in page and "ancestor" not in page


def test_render_offline_refuses_what_it_cannot_draw() -> None:
    unknown = {"type": "data", "data": {"text/html": "<marimo-slider data-start='0'></marimo-slider>"}}
    with pytest.raises(ReportRenderError, match="marimo-slider"):
        render_offline(_marimo_page(unknown), notebook="synthetic")
    failed = {"type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero"}
    with pytest.raises(ReportRenderError, match="c0 failed"):
        render_offline(_marimo_page(failed), notebook="synthetic")
    remote = {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json",
        "data": {"url": "https://x.invalid/d.json"},
    }
    remote |= {"mark": "point"}
    with pytest.raises(ReportRenderError, match="could not be drawn"):
        render_offline(
            _marimo_page({"type": "data", "data": {"application/vnd.vegalite.v6+json": json.dumps(remote)}}),
            notebook="synthetic",
        )
