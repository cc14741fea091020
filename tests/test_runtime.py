"""The remediation runtime: the bottom layer, joined into remediate.py, shared by the package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import audit.runtime
from audit.remediate import script
from audit.remediate.script import render_script
from audit.runtime import MODULES
from audit.runtime.ovhapi import MAX_RETRY_AFTER_S, retry_after
from audit.runtime.plan import Plan
from audit.runtime.text import (
    is_formula_like,
    neutralise,
    neutralise_reversibly,
    unneutralise,
)

RUNTIME = Path(audit.runtime.__file__).parent


def imports(tree: ast.AST) -> set[str]:
    found = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    return found | {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    }


@pytest.mark.parametrize("path", sorted(RUNTIME.glob("*.py")), ids=lambda path: path.name)
def test_the_runtime_imports_only_the_stdlib_ovh_and_itself(path: Path) -> None:
    for name in imports(ast.parse(path.read_text(encoding="utf-8"))):
        top = name.split(".")[0]
        if top == "audit":
            assert name.startswith("audit.runtime."), f"{path.name} imports {name}"
        else:
            assert top in sys.stdlib_module_names or top == "ovh", f"{path.name} imports {name}"


def test_every_runtime_module_is_joined_into_the_script() -> None:
    assert {path.stem for path in RUNTIME.glob("*.py")} - {"__init__"} == set(MODULES)


def test_importing_the_runtime_does_not_import_ovh() -> None:
    """`ovh` parses ovh.conf on import: `--help` and plan building must not need it."""
    code = (
        "import sys, audit.runtime.cli, audit.remediate.script, audit.cli.remediate\n"
        "assert 'ovh' not in sys.modules, 'ovh imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_script_is_the_modules_joined_once_each() -> None:
    source = script.render_script(Plan(snapshot_sha256=None, actions=()))
    tree = ast.parse(source)
    assert source.count("from __future__ import annotations") == 1
    assert isinstance(tree.body[0], ast.Expr)  # the docstring first, then the future import
    assert isinstance(tree.body[1], ast.ImportFrom) and tree.body[1].module == "__future__"
    assert not any(name.startswith("audit") for name in imports(tree))
    for name in MODULES:
        assert source.count(f"# --- audit.runtime.{name} ") == 1
    defined = [node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    assert len(defined) == len(set(defined))
    assert {"main", "remediate", "Plan", "rollback_plan", "network_cause"} <= set(defined)


def test_multi_line_runtime_imports_are_cut_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "a.py": '"""A."""\n\nfrom __future__ import annotations\n\nimport json\n\nX = 1\n',
        "b.py": (
            '"""B."""\n\nfrom __future__ import annotations\n\nfrom audit.runtime.a import (\n'
            "    X,\n)\n\nY = X + 1\n"
        ),
    }
    monkeypatch.setattr(script, "_runtime_file", files.__getitem__)
    assert script._module_body("b") == "Y = X + 1"
    assert script._module_body("a") == "import json\n\nX = 1"


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("from audit.runtime.a import X as Z\n", "aliased"),
        ("from audit.support.errors import InputError\n", "outside audit.runtime"),
        ("import audit.runtime.a\n", "cannot be joined"),
        ("def f():\n    from audit.runtime.a import X\n", "outside audit.runtime"),
    ],
)
def test_what_cannot_stand_alone_is_refused(
    monkeypatch: pytest.MonkeyPatch, source: str, why: str
) -> None:
    monkeypatch.setattr(script, "_runtime_file", {"c.py": source}.__getitem__)
    with pytest.raises(ValueError, match=why):
        script._module_body("c")


def test_a_name_defined_in_two_modules_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"__init__.py": '"""Doc."""\n', "a.py": "def _f():\n    pass\n", "b.py": "_f = 2\n"}
    monkeypatch.setattr(script, "_runtime_file", files.__getitem__)
    monkeypatch.setattr(script, "MODULES", ("a", "b"))
    script.runtime_source.cache_clear()
    try:
        with pytest.raises(ValueError, match="_f is also defined in a"):
            script.runtime_source()
    finally:
        script.runtime_source.cache_clear()


@pytest.mark.parametrize(
    "text", ["=1+1", " =1+1", "\n@SUM(A1)", "-2", "'quoted", "''", "plain", "", "a=b"]
)
def test_results_cells_are_neutralised_and_read_back_exactly(text: str) -> None:
    cell = neutralise_reversibly(text)
    assert unneutralise(cell) == text
    assert not is_formula_like(cell)
    if is_formula_like(text):  # the same quote as findings.csv's
        assert cell == neutralise(text)


def test_retry_after_is_bounded_and_tolerant() -> None:
    class Answer:
        def __init__(self, value: str | None) -> None:
            self.headers = {} if value is None else {"Retry-After": value}

    assert retry_after(Answer("2")) == 2.0
    assert retry_after(Answer("-5")) == 0.0
    assert retry_after(Answer("86400")) == MAX_RETRY_AFTER_S
    assert retry_after(Answer("Wed, 21 Oct 2026 07:28:00 GMT")) is None
    assert retry_after(Answer(None)) is None
    assert retry_after(None) is None


SECRET_LINE = "application_secret=do-not-print-me\n"


@pytest.mark.parametrize(
    ("prelude", "expected"),
    [
        ("", "ovh.conf: not a valid ovh.conf"),
        ("import sys; sys.modules['ovh'] = None\n", "the `ovh` package is not installed"),
    ],
    ids=["broken ovh.conf", "no ovh package"],
)
def test_the_generated_script_says_in_one_line_what_it_lacks(
    tmp_path: Path, prelude: str, expected: str
) -> None:
    """The operator runs remediate.py wherever they copied it: a broken ovh.conf beside it (its
    secret line never printed) or no `ovh` at all is one line, exit 2, not a traceback."""
    (tmp_path / "ovh.conf").write_text(SECRET_LINE)
    text = render_script(Plan.from_text('{"snapshot_sha256": "x", "actions": []}\n', "t"))
    (tmp_path / "remediate.py").write_text(text)
    runner = prelude + "import runpy; runpy.run_path('remediate.py', run_name='__main__')\n"
    (tmp_path / "runner.py").write_text(runner)
    done = subprocess.run(
        [sys.executable, "runner.py", "--endpoint", "ovh-eu"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("remediate.py: error: ") and expected in line
    assert "do-not-print-me" not in done.stderr + done.stdout
