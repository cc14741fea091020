"""The README's example commands run as written, against the simulator.

Which blocks: a fenced `sh` block whose line before the fence is the HTML comment
`<!-- readme-test -->` (invisible on GitHub). The marked blocks run in README order, in one
bash session (an `export` carries on to the next blocks), in one empty temporary folder that
is also HOME, with this checkout's `ovh-license-audit` first on PATH and no `OVH_*` variable
of the machine.

Each command must exit 0, unless its line ends with a comment `# exit N: ...`, which says
the code it must exit with (the README shows a `run` that finds open findings, exit 1).

The block marked `<!-- readme-test: simulator -->` starts the simulator. The test starts that
command in the background with `--port 0` instead of the README's `--port 8080`, waits for its
`listening on URL` line, and replaces the README's address `http://127.0.0.1:8080/1.0` with
URL in the other blocks: the one change to what is written, so that two runs of this test
never collide on a port.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).parents[1] / "README.md"
MARK = re.compile(r"^<!-- readme-test(?:: (?P<role>simulator))? -->$")
EXPECTED = re.compile(r"\s#\s*exit (\d+)\b")  # in the trailing comment
README_PORT, README_URL = "--port 8080", "http://127.0.0.1:8080/1.0"


@dataclass(frozen=True)
class Command:
    line: int  # where it is in the README, for the failure message
    text: str
    exit_code: int


@dataclass(frozen=True)
class Block:
    role: str | None
    commands: tuple[Command, ...]


def marked_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks = []
    for index, line in enumerate(lines):
        mark = MARK.match(line.strip())
        if mark is None:
            continue
        assert lines[index + 1] == "```sh", (
            f"README line {index + 2}: expected ```sh after the mark"
        )
        end = lines.index("```", index + 2)
        blocks.append(Block(mark["role"], tuple(commands(lines[index + 2 : end], index + 3))))
    return blocks


def commands(lines: list[str], first_line: int) -> Iterator[Command]:
    """One command per line (a trailing backslash continues it); comments are left to bash."""
    pending, start = "", first_line
    for number, line in enumerate(lines, start=first_line):
        if not pending:
            start = number
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        text, pending = pending.strip(), ""
        if text and not text.startswith("#"):
            expected = EXPECTED.search(text)
            yield Command(start, text, int(expected[1]) if expected else 0)


def script(blocks: list[Block], url: str) -> tuple[str, list[Command]]:
    """The bash script of the marked blocks, each command followed by its exit-code check."""
    ran: list[Command] = []
    parts = ["set -u"]
    for block in blocks:
        for command in block.commands:
            ran.append(command)
            parts += [
                command.text.replace(README_URL, url),
                f'code=$?; if [ "$code" -ne {command.exit_code} ]; then '
                f'echo "README-TEST {len(ran) - 1} exit $code" >&2; exit 1; fi',
            ]
    return "\n".join(parts) + "\n", ran


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OVH_")}
    bin_dir = str(Path(sys.executable).parent)  # where this checkout's console script is
    return {**clean, "HOME": str(tmp_path), "PATH": f"{bin_dir}{os.pathsep}{clean['PATH']}"}


@pytest.fixture
def blocks() -> list[Block]:
    found = marked_blocks(README.read_text(encoding="utf-8"))
    roles = [block.role for block in found]
    assert roles.count("simulator") == 1 and len(found) >= 3
    return found


def start_simulator(block: Block, folder: Path, env: dict[str, str]) -> tuple[Any, str]:
    (command,) = block.commands
    assert README_PORT in command.text
    argv = shlex.split(command.text.replace(README_PORT, "--port 0"))
    process = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline() if ready and process.stdout else ""
    if not line.startswith("listening on "):
        process.kill()
        pytest.fail(f"the simulator did not start: {line!r}")
    return process, line.removeprefix("listening on ").strip()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_marked_readme_commands_run_as_written(
    blocks: list[Block], environment: dict[str, str], tmp_path: Path
) -> None:
    simulator_block = next(block for block in blocks if block.role == "simulator")
    process, url = start_simulator(simulator_block, tmp_path, environment)
    try:
        text, ran = script([block for block in blocks if block.role is None], url)
        done = subprocess.run(
            ["bash", "-c", text],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    failed = re.search(r"README-TEST (\d+) exit (\d+)", done.stderr)
    if failed or done.returncode:
        where = ran[int(failed[1])] if failed else None
        detail = (
            f"README line {where.line}: `{where.text}` exited {failed[2]}, expected "
            f"{where.exit_code}"
            if where and failed
            else f"bash exited {done.returncode}"
        )
        pytest.fail(
            f"{detail}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        )
    # What the quick start says it leaves behind.
    assert list(tmp_path.glob("reports/*/report.html"))
    assert list(tmp_path.glob("results/remediation-apply-*.csv"))
    assert list(tmp_path.glob("results/remediation-rollback-*.json"))
    assert "check: every item ok" in done.stdout


def test_the_marks_are_read_as_documented() -> None:
    text = "\n".join(
        [
            "<!-- readme-test -->",
            "```sh",
            "# a comment line",
            "export A=1",
            "tool run --out x  # exit 1: findings",
            "tool long \\",
            "  --flag  # exit 2",
            "```",
            "```sh",
            "not marked",
            "```",
        ]
    )
    (block,) = marked_blocks(text)
    assert block.role is None
    assert [(c.line, c.text, c.exit_code) for c in block.commands] == [
        (4, "export A=1", 0),
        (5, "tool run --out x  # exit 1: findings", 1),
        (6, "tool long   --flag  # exit 2", 2),
    ]


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lowercase, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_inside_the_readme_names_a_heading() -> None:
    headings, fenced = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            headings.append(github_anchor(line.lstrip("#")))
    assert len(headings) == len(set(headings)), "two headings give the same anchor"
    links = set(re.findall(r"\]\(#([^)]+)\)", README.read_text(encoding="utf-8")))
    assert links and links <= set(headings), sorted(links - set(headings))


def test_github_anchors_are_computed_as_github_does() -> None:
    assert (
        github_anchor(" Invoice reconciliation (`[invoice]`)") == "invoice-reconciliation-invoice"
    )
    assert github_anchor(" Exceptions register (`--exceptions FILE`)") == (
        "exceptions-register---exceptions-file"
    )
    assert github_anchor(" Review: the auditors' round trip") == "review-the-auditors-round-trip"
