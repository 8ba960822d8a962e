"""The README and docs/ say what the code does.

* every ``python -m pipelines ...`` they show (fenced shell blocks and inline code) parses with the
  real parser: its sub-commands, flags and choices exist;
* every fenced shell command starts with a program a fresh clone has (``make``, the project's
  Python...), never a tool nothing installs (the DuckDB CLI), and every ``make <target>`` exists;
* the warehouse and snapshot files they name are the ones ``pipelines.paths`` uses;
* the SQL commands they show and ``docs/example_queries.sql`` run against a real snapshot;
* ``docs/tour.md``'s numbers are what ``docs/gen_tour.py`` produces from the code today.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import paths
from pipelines.cli import build_parser
from pipelines.report import example_queries

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.` importable however pytest runs
from tests.e2e.analytics_snapshot import Served, served
from tests.e2e.tour_run import TourRun

ROOT = paths.ROOT
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = ("bash", "sh", "shell", "console")
# what a fresh clone has after `make setup` (or any target): make, uv and the locked environment
PROGRAMS = {"make", "uv", "python", "python3", ".venv/bin/python", ".venv/bin/marimo", "marimo"}
INVOCATION = re.compile(r"(?:^|\s)(?:\S*/)?python3? -m pipelines(?=\s|$)")


@pytest.fixture(scope="module", autouse="PYTEST_XDIST_WORKER" in os.environ)
def _tour_starts_with_this_module(request: pytest.FixtureRequest) -> None:
    """Under pytest-xdist the tour starts as this file starts on its worker (see ``conftest.py``)."""
    request.getfixturevalue("tour_run")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def fenced_shell_commands(text: str) -> Iterator[str]:
    """Each command line of the ```bash blocks, continuation lines joined, comments dropped."""
    for m in re.finditer(r"^[ \t]*```(\w*)[^\n]*\n(.*?)^[ \t]*```", text, re.M | re.S):
        if m.group(1) not in SHELL_FENCES:
            continue
        for line in m.group(2).replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                yield shlex.join(words)


def inline_code(text: str) -> Iterator[str]:
    prose = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text, flags=re.M | re.S)
    yield from (m.group(1) for m in re.finditer(r"`([^`\n]+)`", prose))


def pipelines_invocations() -> list[tuple[str, str, list[str]]]:
    """``(file, command, args after "python -m pipelines")`` for every invocation the docs show."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for snippet in [*fenced_shell_commands(text), *inline_code(text)]:
            m = INVOCATION.search(snippet)
            if m:
                args = shlex.split(snippet[m.end() :], comments=True)
                found.append((_rel(path), snippet, args))
    return found


def test_the_docs_show_the_commands_people_run() -> None:
    shown = {args[0] for _, _, args in pipelines_invocations() if args}
    assert {"load", "sandbox", "sql", "recordings", "authorize", "plan"} <= shown, shown


@pytest.mark.parametrize(
    ("where", "command", "args"),
    [pytest.param(*inv, id=f"{inv[0]}: {inv[1][:60]}") for inv in pipelines_invocations()],
)
def test_every_documented_invocation_parses(where: str, command: str, args: list[str]) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(args)
        except SystemExit as exc:  # --help exits 0; anything unknown exits 2
            assert exc.code == 0, f"{where} shows `{command}`, which the CLI rejects:\n{err.getvalue()}"


def test_fenced_shell_commands_use_only_what_a_clone_has() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    wrong: list[str] = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for command in fenced_shell_commands(text):
            words = shlex.split(command)
            while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):  # VAR=value prefixes
                words.pop(0)
            if words and words[0] not in PROGRAMS:
                wrong.append(
                    f"{_rel(path)}: `{command}` runs {words[0]!r}, which the project does not install"
                )
            if words[:1] == ["make"]:
                wrong += [f"{_rel(path)}: no make target {t!r}" for t in words[1:] if t not in targets]
        for snippet in inline_code(text):
            m = re.match(r"^(?:[A-Z_]+=\S+ )*make ([a-z-]+)$", snippet)
            if m and m.group(1) not in targets:
                wrong.append(f"{_rel(path)}: no make target {m.group(1)!r} (`{snippet}`)")
    assert not wrong, "\n".join(wrong)


def test_the_files_the_docs_name_are_the_ones_the_code_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MW_WAREHOUSE", "MW_SERVING"):
        monkeypatch.delenv(var, raising=False)
    known = {
        f"warehouse/{paths.warehouse_path().name}",
        f"warehouse/{paths.serving_path().name}",
    }
    assert known == {"warehouse/meetings.duckdb", "warehouse/serving.duckdb"}
    wrong = []
    for path in [*DOCS, ROOT / "docs" / "example_queries.sql"]:
        for name in re.findall(r"warehouse/[\w.-]+\.duckdb\b", path.read_text(encoding="utf-8")):
            if name not in known:
                wrong.append(f"{_rel(path)} names {name}")
    assert not wrong, "\n".join(wrong)
    header = (ROOT / "docs" / "example_queries.sql").read_text(encoding="utf-8").splitlines()[0]
    assert f"warehouse/{paths.serving_path().name}" in header, header


# ------------------------------------------------------------------------------ against a snapshot
@pytest.fixture(scope="module")
def snapshot() -> Served:
    return served()


def _run(snapshot: Served, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        env=snapshot.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_example_queries_run_against_the_snapshot(snapshot: Served) -> None:
    done = _run(snapshot, ["sql", "--file", "docs/example_queries.sql"])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for name in example_queries():
        section = done.stdout.split(f"-- {name}\n", 1)
        assert len(section) == 2, f"no answer for {name}:\n{done.stdout[-2000:]}"
        rows = re.match(r".*?\((\d+) rows?", section[1], re.S)
        assert rows and int(rows.group(1)) > 0, f"{name} came back empty"


def test_the_sql_commands_the_docs_show_run(snapshot: Served) -> None:
    commands = [
        (where, args)
        for where, _, args in pipelines_invocations()
        if args[:1] == ["sql"] and not any("/path/to/" in a for a in args)
    ]
    assert len(commands) >= 4, commands
    for where, args in commands:
        done = _run(snapshot, args)
        assert done.returncode == 0, f"{where}: sql {shlex.join(args[1:])}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, done.stderr


def test_sql_says_what_to_do_without_a_snapshot(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MW_")}
    env["MW_SERVING"] = str(tmp_path / "nothing.duckdb")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "sql", "select 1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "make run" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------------------ the tour's numbers
def _block(text: str, name: str) -> str:
    m = re.search(rf"<!-- tour:begin {name} -->\n(.*?)\n<!-- tour:end {name} -->", text, re.S)
    assert m, f"docs/tour.md lacks the block {name}"
    return m.group(1).strip()


def _printed_block(text: str, name: str) -> str:
    m = re.search(rf"^<!-- {name} -->\n(.*?)\n\n(?=<!-- \w+ -->\n|\Z)", text, re.S | re.M)
    assert m, f"gen_tour.py --print gave no block {name}"
    return m.group(1).strip()


def test_the_tour_numbers_are_current(tour_run: TourRun) -> None:
    """``docs/gen_tour.py`` (fresh sandbox warehouse, default scale, clock pinned) gives tour.md's
    numbers; when this fails, the code changed them: run ``python docs/gen_tour.py`` and commit.
    (The command started with the first e2e test, in the background: see ``conftest.py``.)"""
    done = tour_run.result(timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    tour = (ROOT / "docs" / "tour.md").read_text(encoding="utf-8")
    for name in ("counts", "queries"):
        assert _printed_block(done.stdout, name) == _block(tour, name), (
            f"docs/tour.md's {name} are not what the code produces today: run `python docs/gen_tour.py`"
        )
