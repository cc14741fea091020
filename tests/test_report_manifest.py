"""`report RUN_DIR` rebuilds only what is derived, from inputs its manifest vouches for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from audit.bench.fleets import snapshot_of
from audit.cli.main import main
from audit.model.snapshot import write_snapshot
from audit.simulator.generate import generate_fleet
from tests.helpers.folders import files

PERIOD = "2026-11"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    snapshot = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot_of(generate_fleet(40, seed=3).fleet), snapshot)
    out = tmp_path / "out"
    args = ["run", "--from-snapshot", str(snapshot), "--out", str(out), "--period", PERIOD]
    assert main([*args, "--fail-on", "never"]) == 0
    return out / PERIOD


def refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    return err[0]


def test_hand_edited_findings_are_refused_and_nothing_changes(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    document["findings"][0]["status"] = "waived"
    document["findings"][0]["severity"] = "info"
    (run_dir / "findings.json").write_text(json.dumps(document), encoding="utf-8")
    before = files(run_dir)
    message = refused(run_dir, capsys)
    assert str(run_dir / "findings.json") in message and "manifest.json" in message
    assert files(run_dir) == before


def test_edited_or_missing_plan_is_refused(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = run_dir / "remediation" / "plan.json"
    plan.write_bytes(plan.read_bytes() + b" ")
    assert "plan.json: differs from its sha256" in refused(run_dir, capsys)
    plan.unlink()
    assert "plan.json: listed in manifest.json but missing" in refused(run_dir, capsys)


def test_a_file_people_added_is_kept_and_not_listed(run_dir: Path) -> None:
    before = files(run_dir)
    (run_dir / "edited.xlsx").write_bytes(b"an auditor's copy")
    assert main(["report", str(run_dir)]) == 0
    assert files(run_dir) == {**before, "edited.xlsx": b"an auditor's copy"}


@pytest.mark.slow
def test_damaged_reports_are_rebuilt_identically(run_dir: Path) -> None:
    """A report that differs from the manifest is rebuilt and kept aside (unlisted)."""
    before = files(run_dir)
    (run_dir / "report.html").write_text("<p>edited</p>")
    (run_dir / "findings.csv").unlink()
    assert main(["report", str(run_dir)]) == 0
    kept = f"report.edited-{hashlib.sha256(b'<p>edited</p>').hexdigest()[:8]}.html"
    assert files(run_dir) == {**before, kept: b"<p>edited</p>"}


def test_missing_manifest_is_refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "manifest.json").unlink()
    assert "manifest.json: cannot read" in refused(run_dir, capsys)


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_link_added_to_the_run_folder_is_refused_and_nothing_changes(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A link would be rebuilt as a copy of what lies outside the folder (or dropped)."""
    target = tmp_path / f"outside-{kind}"
    if kind == "file":
        target.write_text("not the run's")
    else:
        target.mkdir()
        (target / "inside.txt").write_text("not the run's")
    link = run_dir / "remediation" / "extra"
    link.symlink_to(target)
    before = files(run_dir)
    message = refused(run_dir, capsys)
    assert message == (
        f"ovh-license-audit: error: {link}: a symbolic link in the run folder (a run folder "
        "holds only the files the run wrote); remove it"
    )
    assert files(run_dir) == before and link.is_symlink()
