"""Remediation results in the history, and in the next run's reports.

`remediate --apply` records its results in the history of the run folder its plan sits in; the
generated remediate.py cannot reach the history, so `import-results` records its CSV. The next
run lists what was applied since the previous run (findings.json, the HTML, the workbook).
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import ovh
import pytest
from openpyxl import load_workbook

from audit.cli.main import main
from audit.history.store import HISTORY_FILE, MIGRATIONS, SCHEMA_VERSION, HistoryStore
from audit.job import JobResult
from audit.remediate.script import PLAN_FILE
from audit.run_folder import REMEDIATION_DIR
from audit.runtime.results import RESULT_COLUMNS, Outcome, Result
from audit.runtime.text import neutralise_reversibly
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    REMEDIATE_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.fleet import Fleet
from audit.simulator.server import Simulator
from tests.helpers.history import PROD, WIN
from tests.helpers.history import run_month as job
from tests.helpers.remediation import fleet_document, month
from tests.helpers.vms import api_vm

JAN, FEB, MAR = "2026-01", "2026-02", "2026-03"
FLEET = {
    (PROD, 1): [api_vm(1, WIN, None, name="sql-01"), api_vm(2, WIN, None), api_vm(3, WIN, None)]
}
HOSTILE_NAME = "<img src=x onerror=alert(1)>=HYPERLINK(x).csv"  # no slash: a file name


def write_results(
    path: Path,
    result: JobResult,
    outcomes: list[tuple[Outcome, str]],
    plan_sha256: str | None = None,
) -> Path:
    """A results CSV as remediate.py writes it: one row per plan action, with `outcomes`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for action, (outcome, at) in zip(result.plan.actions, outcomes, strict=False):
            row = Result(action, outcome, "task 1 done" if outcome is Outcome.APPLIED else "")
            values = row.row(plan_sha256 or result.plan_sha256, at)
            writer.writerow({key: neutralise_reversibly(value) for key, value in values.items()})
    return path


def import_results(path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["import-results", str(path), "--history", str(out / HISTORY_FILE)])
    captured = capsys.readouterr()
    return code, (captured.out if code == 0 else captured.err).strip()


def applied_list(run_dir: Path) -> list[dict[str, Any]]:
    document = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    return list(document["remediation_applied"])


# --- import-results: the generated script's CSV ---------------------------------------------


def test_imported_results_are_listed_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    january = job(out, JAN, FLEET)
    assert len(january.plan.actions) == 3
    results = write_results(
        tmp_path / HOSTILE_NAME,
        january,
        [
            (Outcome.APPLIED, "2026-01-10T09:00:00Z"),
            (Outcome.FAILED, "2026-01-10T09:00:05Z"),
            (Outcome.CAPPED, "2026-01-10T09:00:06Z"),
        ],
    )
    code, said = import_results(results, out, capsys)
    assert code == 0, said
    assert f"plan {january.plan_sha256} ({JAN}) recorded" in said
    assert "1 applied, 1 failed, 0 pending, 0 skipped, 1 not attempted" in said
    # The same file again is recorded once.
    code, said = import_results(results, out, capsys)
    assert code == 0 and "already recorded" in said

    february = job(out, FEB, FLEET).run_dir
    [item] = applied_list(february)
    assert item == {
        "plan_sha256": january.plan_sha256,
        "period": JAN,
        "started_at": "2026-01-10T09:00:00Z",
        "finished_at": "2026-01-10T09:00:06Z",
        "source": "import-results",
        "results_file": HOSTILE_NAME,
        "applied": 1,
        "failed": 1,
        "pending": 0,
        "skipped": 0,
        "capped": 1,
        "manual": 0,
        "not_attempted": 0,
    }
    page = lxml.html.fromstring((february / "report.html").read_bytes())
    section = page.get_element_by_id("remediation")
    text = section.text_content()
    assert january.plan_sha256 in text and JAN in text and "2026-01-10 09:00" in text
    assert "<img src=x" not in (february / "report.html").read_text(encoding="utf-8")
    assert page.xpath("//nav[@class='toc']/a[@href='#remediation']")
    [row] = section.xpath(".//tbody/tr")
    cells = [cell.text_content().strip() for cell in row.xpath("./td")]
    assert cells[3:6] == ["1", "1", "0"]  # applied, failed, pending
    sheet = load_workbook(february / "report.xlsx")["Remediation"]
    rows = [[cell.value for cell in line] for line in sheet.iter_rows()]
    header = next(r for r in rows if r and r[0] == "Plan of")
    values = dict(zip(header, rows[rows.index(header) + 1], strict=True))
    assert values["Plan sha256"] == january.plan_sha256
    assert (values["Applied"], values["Failed"], values["Capped"]) == (1, 1, 1)
    assert values["Results file"] == HOSTILE_NAME  # text, never a formula
    # The rebuild reads findings.json only: the same files.
    before = (february / "report.xlsx").read_bytes()
    assert main(["report", str(february)]) == 0
    assert (february / "report.xlsx").read_bytes() == before

    # March lists nothing new: the January results were listed in February.
    assert applied_list(job(out, MAR, FLEET).run_dir) == []


def test_results_imported_late_are_listed_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Applied before February's run but imported after it: March lists them; results applied
    after a run's snapshot wait for the run after it."""
    out = tmp_path / "out"
    january = job(out, JAN, FLEET)
    job(out, FEB, FLEET)
    late = write_results(
        tmp_path / "late.csv", january, [(Outcome.APPLIED, "2026-01-20T08:00:00Z")]
    )
    after = write_results(
        tmp_path / "after.csv", january, [(Outcome.SKIPPED, "2026-03-05T08:00:00Z")]
    )
    assert import_results(late, out, capsys)[0] == 0
    assert import_results(after, out, capsys)[0] == 0
    march = job(out, MAR, FLEET).run_dir
    assert [item["results_file"] for item in applied_list(march)] == ["late.csv"]
    april = job(out, "2026-04", FLEET).run_dir
    assert [item["results_file"] for item in applied_list(april)] == ["after.csv"]


@pytest.fixture(scope="module")
def january(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, JobResult]:
    out = tmp_path_factory.mktemp("results") / "out"
    return out, job(out, JAN, FLEET)


def edited_csv(source: Path, target: Path, line: int, column: str, value: str) -> Path:
    rows = list(csv.reader(source.read_text(encoding="utf-8").splitlines()))
    rows[line - 1][rows[0].index(column)] = value
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return target


@pytest.mark.parametrize(
    ("line", "column", "value", "message"),
    [
        (2, "outcome", "would-apply", "line 2, column outcome: 'would-apply' is a dry run's"),
        (3, "outcome", "done", "line 3, column outcome: 'done' is not an outcome"),
        (2, "vm_id", "vm-1", "line 2, column vm_id: 'vm-1' is not a whole number"),
        (3, "at", "yesterday", "line 3, column at: 'yesterday' is not a UTC time"),
        (2, "plan_sha256", "abc", "line 2, column plan_sha256: 'abc' is not a sha256"),
        (3, "plan_sha256", "0" * 64, "line 3, column plan_sha256: '000"),
        (2, "action", "reboot", "line 2, column action: 'reboot' is not a plan action"),
        (2, "service_name", "", "line 2, column service_name: empty"),
    ],
)
def test_a_bad_results_file_names_line_and_column_and_stores_nothing(
    january: tuple[Path, JobResult],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    line: int,
    column: str,
    value: str,
    message: str,
) -> None:
    out, result = january
    good = write_results(
        tmp_path / "good.csv",
        result,
        [(Outcome.APPLIED, "2026-01-10T09:00:00Z"), (Outcome.APPLIED, "2026-01-10T09:00:01Z")],
    )
    bad = edited_csv(good, tmp_path / "bad.csv", line, column, value)
    before = (out / HISTORY_FILE).read_bytes()
    code, error = import_results(bad, out, capsys)
    assert code == 2
    assert len(error.splitlines()) == 1
    assert f"{bad}: {message}" in error
    assert (out / HISTORY_FILE).read_bytes() == before


def test_results_of_no_stored_plan_and_foreign_files_are_refused(
    january: tuple[Path, JobResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, result = january
    other = write_results(
        tmp_path / "other.csv", result, [(Outcome.APPLIED, "2026-01-10T09:00:00Z")], "ab" * 32
    )
    code, error = import_results(other, out, capsys)
    assert code == 2
    assert f"{other}: line 2, column plan_sha256: {'ab' * 32} is the plan of no run" in error
    (tmp_path / "x.csv").write_text("service,vm\npcc,1\n")
    code, error = import_results(tmp_path / "x.csv", out, capsys)
    assert code == 2 and "line 1: no column 'plan_sha256'" in error
    (tmp_path / "empty.csv").write_text(",".join(RESULT_COLUMNS) + "\n")
    code, error = import_results(tmp_path / "empty.csv", out, capsys)
    assert code == 2 and "line 2: no action" in error
    good = write_results(tmp_path / "g.csv", result, [(Outcome.APPLIED, "2026-01-10T09:00:00Z")])
    assert main(["import-results", str(good), "--history", str(tmp_path / "none.sqlite")]) == 2
    assert not (tmp_path / "none.sqlite").exists()


# --- the schema migration -------------------------------------------------------------------


def test_a_version_3_history_migrates_and_finds_its_runs_plan_in_the_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run recorded before plans were kept: its plan.json in the run folder tells."""
    donor = job(tmp_path / "donor", JAN, FLEET)  # a January plan and run folder
    out = tmp_path / "out"
    (out / JAN).mkdir(parents=True)
    (out / JAN / REMEDIATION_DIR).mkdir()
    plan = out / JAN / REMEDIATION_DIR / PLAN_FILE
    plan.write_bytes((donor.run_dir / REMEDIATION_DIR / PLAN_FILE).read_bytes())
    db = sqlite3.connect(out / HISTORY_FILE, isolation_level=None)
    for number, migration in enumerate(MIGRATIONS[:4], start=1):
        migration(db)
        db.execute(f"PRAGMA user_version = {number}")
    db.execute(
        """INSERT INTO run (period, taken_at, endpoint, tool_version, snapshot_sha256, coverage,
           recorded_at) VALUES ('2026-01', '2026-01-01T03:00:00Z', 'ovh-eu', '0.1', 'abc',
           '{"complete": true}', '2026-01-01T03:05:00+00:00')"""
    )
    db.close()

    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.schema_version == SCHEMA_VERSION == 6
        assert store.periods_without_plan() == [JAN]
    assert hashlib.sha256(plan.read_bytes()).hexdigest() == donor.plan_sha256
    results = write_results(tmp_path / "r.csv", donor, [(Outcome.APPLIED, "2026-01-05T10:00:00Z")])
    code, said = import_results(results, out, capsys)
    assert code == 0 and f"({JAN}) recorded" in said
    db = sqlite3.connect(out / HISTORY_FILE)
    try:
        assert db.execute("SELECT period, applied FROM remediation").fetchall() == [(JAN, 1)]
        assert db.execute("SELECT count(*) FROM remediation_action").fetchone() == (1,)
    finally:
        db.close()


# --- remediate --apply records its own results -----------------------------------------------


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    fleet = Fleet.from_json(fleet_document(), "remediation fleet")
    with Simulator(fleet, SimulatorConfig(task_seconds=0.02)) as running:
        for key, value in (
            ("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY),
            ("OVH_APPLICATION_SECRET", DEFAULT_APPLICATION_SECRET),
            ("OVH_CONSUMER_KEY", REMEDIATE_CONSUMER_KEY),
        ):
            monkeypatch.setenv(key, value)
        monkeypatch.setitem(ovh.client.ENDPOINTS, running.url, running.url)
        yield running


def test_remediate_apply_records_its_results_and_the_next_run_lists_them(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    first = month(sim, out, JAN)
    plan = first.run_dir / REMEDIATION_DIR / PLAN_FILE
    args = ["remediate", str(plan), "--endpoint", sim.url, "--results-dir", str(tmp_path)]
    capsys.readouterr()
    assert main([*args, "--max-changes", "2"]) == 0  # a dry run records nothing
    assert "recorded" not in capsys.readouterr().out
    assert main([*args, "--apply", "--max-changes", "2", "--task-timeout", "10"]) == 0
    said = capsys.readouterr().out
    assert f"remediation of plan {first.plan_sha256} ({JAN}) recorded in" in said
    assert "2 applied" in said

    second = month(sim, out, FEB)
    [item] = applied_list(second.run_dir)
    assert (item["plan_sha256"], item["period"], item["source"]) == (
        first.plan_sha256,
        JAN,
        "remediate --apply",
    )
    assert item["applied"] == 2 and item["capped"] >= 1
    [results] = tmp_path.glob("remediation-apply-*.csv")
    code, said = import_results(results, out, capsys)
    assert code == 0 and "already recorded" in said


def test_remediate_apply_of_a_plan_outside_a_run_folder_says_how_to_record(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = month(sim, tmp_path / "out", JAN)
    copy = tmp_path / "elsewhere" / PLAN_FILE
    copy.parent.mkdir()
    copy.write_bytes((first.run_dir / REMEDIATION_DIR / PLAN_FILE).read_bytes())
    args = ["remediate", str(copy), "--endpoint", sim.url, "--results-dir", str(tmp_path)]
    assert main([*args, "--apply", "--max-changes", "1", "--task-timeout", "10"]) == 0
    said = capsys.readouterr().out
    assert "not recorded in a history" in said and "ovh-license-audit import-results" in said


def test_a_run_stopped_by_a_refused_key_is_recorded_too(
    sim: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run stops at the first POST (exit 2); what it did (nothing applied, one refusal) is
    recorded all the same, so the next report says the plan was tried."""
    out = tmp_path / "out"
    first = month(sim, out, JAN)
    monkeypatch.setenv("OVH_CONSUMER_KEY", READONLY_CONSUMER_KEY)
    plan = first.run_dir / REMEDIATION_DIR / PLAN_FILE
    args = ["remediate", str(plan), "--endpoint", sim.url, "--results-dir", str(tmp_path)]
    capsys.readouterr()
    assert main([*args, "--apply"]) == 2
    said = capsys.readouterr().out
    assert f"({JAN}) recorded in" in said and "0 applied, 1 failed" in said
    [item] = applied_list(month(sim, out, FEB).run_dir)
    assert (item["applied"], item["failed"]) == (0, 1) and item["not_attempted"] > 0
