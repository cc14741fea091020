"""findings.csv read back: every finding, every field, nothing a spreadsheet would run."""

from __future__ import annotations

import csv
from pathlib import Path

from audit.render.csv_findings import FindingsCsv
from audit.render.safe_text import FORMULA_TRIGGERS
from tests.helpers.render import make_run, with_history


def test_every_finding_with_every_field_and_no_formula(tmp_path: Path) -> None:
    run = with_history(make_run())
    path = tmp_path / "findings.csv"
    FindingsCsv().render(run, path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads the UTF-8 on double-click
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    # New columns go at the end: scripts reading by position keep their columns.
    assert reader.fieldnames is not None
    assert reader.fieldnames[:2] == ["rule_id", "severity"]
    assert reader.fieldnames[12:] == [
        "first_seen",
        "change",
        "exception_kind",
        "exception_reason",
        "exception_approved_by",
        "exception_expires",
        "exception_reference",
        "first_seen_date",
        "exception_rule_id",
        "folder",
        "cluster",
    ]
    findings = run.report.to_json()["findings"]
    assert len(rows) == len(findings)
    for row, finding in zip(rows, findings, strict=True):
        for field in ("rule_id", "severity", "status", "service_name", "vm_id", "message"):
            value = "" if finding[field] is None else str(finding[field])
            assert row[field] in (value, "'" + value), field
        assert row["first_seen"] == finding["first_seen"]["period"]
        assert row["first_seen_date"] == finding["first_seen"]["date"]
        assert row["change"] == finding["change"]
        exception = finding.get("exception") or {}
        assert row["exception_rule_id"] == exception.get("rule_id", "")
        for field in ("folder", "cluster"):  # from the VM, for per-owner filtering
            value = finding.get(field) or ""
            assert row[field] in (value, "'" + value), field
    assert any(row["folder"] for row in rows) and any(row["cluster"] for row in rows)
    for row in rows:
        for value in row.values():
            assert not value.startswith(FORMULA_TRIGGERS), value
    names = {row["vm_name"] for row in rows}
    assert '\'=HYPERLINK("http://x","y")' in names and "<script>alert(1)</script>" in names
