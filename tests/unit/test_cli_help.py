"""``python -m pipelines --help`` speaks to users: every command and every option says what it does.

The walk covers every parser and sub-parser the CLI builds, so an option added later without a help
text fails here, not in front of a user.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import pytest

from pipelines.cli import _sandbox_config, build_parser
from pipelines.sandbox.account import Scale
from pipelines.sandbox.cli import FAULT_FLAGS, scale_names
from pipelines.sandbox.config import Faults


def parsers(parser: argparse.ArgumentParser, path: str = "python -m pipelines") -> Iterator[tuple[str, Any]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}")


def subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for pseudo in action._choices_actions:  # what the command list shows per sub-command
                yield pseudo.dest, pseudo


def test_every_option_and_subcommand_has_help() -> None:
    missing: list[str] = []
    for path, parser in parsers(build_parser()):
        assert (parser.description or "").strip(), f"`{path} --help` has no description"
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
        for name, pseudo in subcommands(parser):
            if not (pseudo.help or "").strip():
                missing.append(f"{path} {name} (sub-command)")
    assert not missing, "options and sub-commands without a help text:\n" + "\n".join(missing)


def test_every_help_page_renders() -> None:
    for path, parser in parsers(build_parser()):
        text = parser.format_help()
        assert "%(" not in text, f"`{path} --help` shows an unexpanded placeholder"


def test_top_level_help_tells_what_the_tool_does_in_order_and_where_config_lives() -> None:
    text = build_parser().format_help()
    assert "Zoom" in text and "MEETS" in text and "DuckDB" in text
    usual = [text.index(f"  {cmd} ") for cmd in ("load", "transform", "recordings")]
    assert usual == sorted(usual), "the usual commands are not listed in the order they run"
    for where in (".dlt/config.toml", ".dlt/secrets.toml", "SOURCES__ZOOM__", "doctor"):
        assert where in text, where


@pytest.mark.parametrize("command", ["serve", "truth"])
def test_scale_lists_every_preset_and_a_typo_names_them(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = scale_names()
    assert {"tiny", "small", "default", "large", "semester"} <= set(names)
    for name in names:
        Scale.named(name)  # every choice is a preset
    parser = build_parser()
    assert build_parser().parse_args(["sandbox", command, "--scale", "tiny"]).scale == "tiny"
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["sandbox", command, "--scale", "tinny"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'tinny'" in err and all(repr(name) in err for name in names)
    assert build_parser().parse_args(["sandbox", command]).scale is None  # SANDBOX_SCALE, else default


def test_the_fault_flags_the_readme_points_to_are_described_and_reach_the_sandbox() -> None:
    parser = build_parser()
    serve = dict(parsers(parser))["python -m pipelines sandbox serve"]
    helps = {opt: a.help for a in serve._actions for opt in a.option_strings}
    for flag in (
        "--p429",
        "--p5xx",
        "--p500-nonjson",
        "--p-cutoff",
        "--p-invalid-json",
        "--latency-ms",
        "--token-lifetime",
        "--page-token-lifetime",
        "--clock-offset",
        "--daily-limit-headers",
        "--plan",
        "--now",
    ):
        assert (helps.get(flag) or "").strip(), f"sandbox serve {flag} is missing or undescribed"
    args = parser.parse_args(
        [
            *("sandbox", "serve", "--scale", "tiny", "--p429", "0.25", "--latency-ms", "7"),
            *("--daily-limit-headers", "none", "--slow-seconds", "1.5", "--page-token-lifetime", "60"),
        ]
    )
    cfg = _sandbox_config(args)
    assert cfg.scale == Scale.named("tiny")
    assert (cfg.faults.p429, cfg.faults.latency_ms, cfg.faults.daily_limit_headers) == (0.25, 7, "none")
    assert (cfg.faults.slow_seconds, cfg.faults.page_token_lifetime) == (1.5, 60)
    knobs = {f.name for f in fields(Faults)}
    assert {dest for _, dest, *_ in FAULT_FLAGS} <= knobs


def test_without_scale_the_sandbox_takes_sandbox_scale_else_default(monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(["sandbox", "truth"])
    monkeypatch.delenv("SANDBOX_SCALE", raising=False)
    assert _sandbox_config(args).scale == Scale.named("default")
    monkeypatch.setenv("SANDBOX_SCALE", "tiny")
    assert _sandbox_config(args).scale == Scale.named("tiny")
    assert _sandbox_config(build_parser().parse_args(["sandbox", "truth", "--scale", "large"])).scale == (
        Scale.named("large")
    )
