"""A run folder edited by hand: `mail` and `report` name the fix, and no edit is lost.

The workbook edited inside the run folder is the case met in practice: `mail RUN_DIR` refuses
it and says what to do; `report RUN_DIR` restores the report the run wrote and keeps the edited
file beside it, under a new name, saying so.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.config.mail import MailSettings, Security
from audit.deliver.delivery import deliver
from audit.deliver.smtp import DeliveryError
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.support.errors import InputError
from tests.helpers.folders import copy_of, files
from tests.helpers.history import PROD, WIN
from tests.helpers.history import run_month as job
from tests.helpers.review import edit
from tests.helpers.vms import api_vm

PERIOD = "2026-01"
FLEET = {(PROD, 1): [api_vm(1, WIN, None), api_vm(2, WIN, None)]}
SETTINGS = MailSettings(
    host="127.0.0.1",
    port=9,
    security=Security.NONE,
    sender="audit@example.com",
    to=("owner@example.com",),
)


@pytest.fixture(scope="module")
def january(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of January's run (built once; each test edits a copy)."""
    out = tmp_path_factory.mktemp("january") / "out"
    job(out, PERIOD, FLEET)
    return out


@pytest.fixture
def run_dir(january: Path, tmp_path: Path) -> Path:
    return copy_of(january, tmp_path / "out") / PERIOD


def refusal(run_dir: Path) -> str:
    with pytest.raises(InputError) as raised:
        deliver(run_dir, SETTINGS)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    return message


def test_mail_names_the_fix_for_a_workbook_edited_in_the_run_folder(run_dir: Path) -> None:
    workbook = run_dir / "report.xlsx"
    edit(workbook, workbook, {(1, "WIN-UNLICENSED"): ("accepted", "ops", None)})
    message = refusal(run_dir)
    assert str(workbook) in message and "manifest.json" in message and "not sent" in message
    assert f"ovh-license-audit import-review {workbook}" in message
    assert f"ovh-license-audit report {run_dir}" in message
    assert "copy" in message


@pytest.mark.parametrize("name", ["findings.json", "remediation/plan.json"])
def test_mail_names_the_fix_for_an_edited_input(run_dir: Path, name: str) -> None:
    path = run_dir / name
    path.write_bytes(path.read_bytes() + b" ")
    message = refusal(run_dir)
    assert str(path) in message and "not sent" in message
    assert "restore" in message and f"run --period {PERIOD}" in message


def test_report_keeps_an_edited_workbook_aside_and_restores_the_runs(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = files(run_dir)
    workbook = run_dir / "report.xlsx"
    edit(workbook, workbook, {(1, "WIN-UNLICENSED"): ("accepted", "ops", None)})
    edited = workbook.read_bytes()
    kept_name = f"report.edited-{hashlib.sha256(edited).hexdigest()[:8]}.xlsx"
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 0
    said = capsys.readouterr().out
    assert f"report.xlsx differed from manifest.json: kept as {run_dir / kept_name}" in said
    assert files(run_dir) == {**before, kept_name: edited}
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert kept_name not in manifest["files"]
    with pytest.raises(DeliveryError):  # past the check: no server listens on port 9
        deliver(run_dir, SETTINGS)

    # The kept file imports (history above the run folder), and a second rebuild keeps it once.
    assert main(["import-review", str(run_dir / kept_name), "--by", "ops"]) == 0
    with HistoryStore.open(run_dir.parent / HISTORY_FILE) as store:
        assert f"{PROD}|1|1|WIN-UNLICENSED" in store.stored_reviews()
    assert main(["report", str(run_dir)]) == 0
    assert "differed" not in capsys.readouterr().out
    assert files(run_dir) == {**before, kept_name: edited}


def test_report_names_the_fix_for_an_edited_input(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    findings = run_dir / "findings.json"
    findings.write_bytes(findings.read_bytes() + b" ")
    assert main(["report", str(run_dir)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert str(findings) in line and "not rebuilt" in line
    assert "restore" in line and f"run --period {PERIOD}" in line
