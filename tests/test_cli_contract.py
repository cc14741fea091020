"""Every command's --help and the README's Commands table say the same: the same options, the
same exit codes (each --help's `exit codes:` block, the table's last column), and only codes
the README's Exit codes table explains. remediate.py takes remediate's options but --config."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.cli.main import build_parser
from audit.runtime import cli as script_cli

README = Path(__file__).parents[1] / "README.md"
OPTION = re.compile(r"--[a-z][a-z0-9-]*")
EXIT_CODE_ROW = re.compile(r"^  (\d+(?:, \d+)*)  ")


def section(title: str) -> list[str]:
    """The lines of the README section under `title` (up to the next heading)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(title) + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("#"))
    return lines[start:end]


def table_rows(lines: list[str]) -> list[list[str]]:
    """Markdown table rows as cells (`\\|` inside a cell is a literal bar)."""
    rows = []
    for line in lines:
        if line.startswith("| ") and not line.startswith("|---"):
            cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
            rows.append([cell.strip() for cell in cells])
    return rows[1:]  # the header


def readme_commands() -> dict[str, tuple[set[str], list[int]]]:
    """{command: (options, exit codes)} from the Commands table."""
    commands = {}
    for synopsis, _, codes in table_rows(section("## Commands")):
        words = synopsis.strip("`").split()
        name = []  # `auth request`, `run`: the leading lowercase words
        for word in words:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            name.append(word)
        listed = set(OPTION.findall(synopsis))
        key = " ".join(name)  # a command may have a row per form (`run`, `run --accounts`)
        known = commands.get(key, (set(), []))[0]
        commands[key] = (known | listed, [int(code) for code in re.findall(r"\d+", codes)])
    return commands


def commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every leaf command (`auth request`, `auth check` for `auth`) and its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{prefix} {name}".strip())
            return
    yield prefix, parser


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def help_exit_codes(parser: argparse.ArgumentParser) -> list[int]:
    text = parser.format_help()
    assert "\nexit codes:\n" in text, "no exit codes in --help"
    block = text.split("\nexit codes:\n", 1)[1].splitlines()
    return [
        int(code)
        for line in block
        if (m := EXIT_CODE_ROW.match(line))
        for code in m.group(1).split(", ")
    ]


PARSERS = dict(commands(build_parser()))


def test_the_readme_lists_every_command_and_no_other() -> None:
    assert set(readme_commands()) == set(PARSERS)


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_readme_options_are_the_ones_argparse_knows(command: str) -> None:
    listed, _ = readme_commands()[command]
    assert listed == options(PARSERS[command])


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_help_exit_codes_are_the_readme_ones(command: str) -> None:
    _, codes = readme_commands()[command]
    assert help_exit_codes(PARSERS[command]) == codes


def test_every_exit_code_is_explained_in_the_exit_codes_table() -> None:
    explained = {
        int(code)
        for row in table_rows(section("### Exit codes"))
        for code in re.findall(r"\d+", row[0])
    }
    used = {code for _, codes in readme_commands().values() for code in codes}
    assert used <= explained
    assert explained <= used  # and the table explains no code no command has


def test_remediate_py_takes_remediate_options_but_config_plus_plan() -> None:
    script = options(script_cli.build_parser())
    assert script == (options(PARSERS["remediate"]) - {"--config"}) | {"--plan"}
    readme = " ".join(section("## Remediation"))
    assert "It takes the options of `remediate` but `--config`" in readme
    assert "plus `--plan FILE`" in readme
    text = script_cli.build_parser().format_help()
    assert [
        line.split()[0]
        for line in text.split("\nexit codes:\n")[1].splitlines()
        if line.strip()[:1].isdigit()
    ] == ["0", "1", "2"]
