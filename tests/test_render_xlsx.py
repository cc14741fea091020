"""report.xlsx read back: structure, counts against findings.json, review columns, protection,
printing, types, and no formula ever."""

from __future__ import annotations

import csv
import shutil
import subprocess
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from audit.model.findings import SEVERITIES
from audit.render.base import ReportInput
from audit.render.catalogue import rule_catalogue
from audit.render.safe_text import visible_controls
from audit.render.xlsx import XlsxReport
from audit.render.xlsx.cells import line_count
from tests.helpers.external import require_or_skip
from tests.helpers.render import HOSTILE_NAMES, TAKEN_AT, make_empty_run, make_run, with_history

SHEETS = [
    "Summary",
    "Findings",
    "Inventory",
    "Licence usage",
    "Exposure",
    "Exceptions",
    "Coverage",
    "Rules",
    "Appendix per datacenter",
]
REVIEW = ["Review status", "Owner", "Comment"]
# findings.json's finding fields, and the exception row's, as the Findings sheet heads them.
FIELDS = {
    "rule_id": "Rule",
    "severity": "Severity",
    "status": "Status",
    "service_name": "Service",
    "datacenter_id": "Datacenter",
    "vm_id": "VM id",
    "vm_name": "VM name",
    "moref": "moRef",
    "power_state": "Power state",
    "guest_os_family": "Guest OS (configured)",
    "license": "Licence",
    "message": "Message",
}
EXCEPTION_FIELDS = {
    "kind": "Exception kind",
    "rule_id": "Exception rule",
    "reason": "Exception reason",
    "approved_by": "Approved by",
    "reference": "Reference",
}
# The VM's name and id first: they stay frozen on screen and head every printed page.
FINDINGS_HEADERS = [
    "VM name",
    "VM id",
    "Rule",
    "Severity",
    "Status",
    "Service",
    "Datacenter",
    "Folder",
    "Cluster",
    "moRef",
    "Power state",
    "Guest OS (configured)",
    "Licence",
    "Message",
    "Rule title",
    "Remediation",
    "Exception kind",
    "Exception rule",
    "Exception reason",
    "Approved by",
    "Expires",
    "Reference",
]
INVENTORY_HEADERS = [
    "Service",
    "Datacenter",
    "VM id",
    "VM name",
    "moRef",
    "Power state",
    "Guest OS (configured)",
    "Guest kind",
    "Guest OS meaning",
    "Guest OS (Tools)",
    "Licence",
    "Licence kind",
    "vCPUs",
    "Memory (MB)",
    "Cluster",
    "Host",
    "Folder",
    "Findings",
]
EXCEPTIONS_HEADERS = [
    "Register line",
    "Service",
    "Datacenter",
    "VM id",
    "Rule",
    "Kind",
    "Reason",
    "Approved by",
    "Expires",
    "Reference",
    "State",
    "Days to expiry",
    "Findings matched",
]
RULES_HEADERS = ["Rule", "Title", "Severity", "Findings", "Open", "Rationale", "Remediation"]


@pytest.fixture(scope="module")
def run() -> ReportInput:
    return make_run()


@pytest.fixture(scope="module")
def xlsx(run: ReportInput, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    XlsxReport().render(run, path)
    return path


@pytest.fixture(scope="module")
def book(xlsx: Path) -> Any:
    return openpyxl.load_workbook(xlsx)


@pytest.fixture(scope="module")
def history_book(run: ReportInput, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("xlsx-history") / "report.xlsx"
    XlsxReport().render(with_history(run), path)
    return openpyxl.load_workbook(path)


def headers(sheet: Any) -> list[Any]:
    return [cell.value for cell in sheet[1]]


def records(sheet: Any) -> list[dict[str, Any]]:
    """A table sheet's data rows as {header: value}."""
    names = headers(sheet)
    return [
        dict(zip(names, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)
    ]


def section(sheet: Any, first_header: str) -> list[tuple[Any, ...]]:
    """The rows of a Summary-style section: after its header row, up to the next blank row."""
    rows = list(sheet.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] == first_header)
    found = []
    for row in rows[start + 1 :]:
        if row[0] is None:
            break
        found.append(row)
    return found


def shown(value: Any) -> Any:
    """What the workbook shows for an API value: control characters as visible escapes."""
    return visible_controls(value) if isinstance(value, str) else value


def test_sheets_in_order_with_the_columns_of_the_issue(book: Any) -> None:
    assert book.sheetnames == SHEETS
    assert headers(book["Findings"]) == [*FINDINGS_HEADERS, *REVIEW]
    assert headers(book["Inventory"]) == INVENTORY_HEADERS
    assert headers(book["Exceptions"]) == EXCEPTIONS_HEADERS
    assert headers(book["Rules"]) == RULES_HEADERS
    assert book["Findings"].freeze_panes == "C2"  # the header row and the VM name and id
    for name in ("Findings", "Inventory", "Exceptions", "Rules"):
        sheet = book[name]
        last = openpyxl.utils.get_column_letter(sheet.max_column)
        assert sheet.freeze_panes == ("C2" if name == "Findings" else "A2"), name
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}", name


def test_findings_rows_are_the_document_worst_first(book: Any, run: ReportInput) -> None:
    findings = run.report.to_json()["findings"]
    rows = records(book["Findings"])
    assert len(rows) == len(findings)
    by_key = {(r["Rule"], r["Service"], r["Datacenter"], r["VM id"]): r for r in rows}
    assert len(by_key) == len(rows)
    titles = {rule.id: rule.title for rule in rule_catalogue()}
    for finding in findings:
        row = by_key[
            (
                finding["rule_id"],
                finding["service_name"],
                finding["datacenter_id"],
                finding["vm_id"],
            )
        ]
        for field, header in FIELDS.items():
            assert row[header] == shown(finding[field]), (field, finding)
        assert row["Rule title"] == titles[finding["rule_id"]]
        exception = finding.get("exception") or {}
        for field, header in EXCEPTION_FIELDS.items():
            assert row[header] == (shown(exception.get(field)) or None), (field, finding)
        assert [row[name] for name in REVIEW] == [None, None, None]
    ranks = [SEVERITIES.index(row["Severity"]) for row in rows]
    assert ranks == sorted(ranks)
    for rule_id in {row["Rule"] for row in rows}:
        statuses = [row["Status"] == "open" for row in rows if row["Rule"] == rule_id]
        assert statuses == sorted(statuses, reverse=True), rule_id  # open ones first


def test_summary_counts_equal_the_document(book: Any, run: ReportInput) -> None:
    summary = run.report.to_json()["summary"]
    sheet = book["Summary"]
    severity = {row[0]: row[1:3] for row in section(sheet, "Severity")}
    for name in SEVERITIES:
        assert severity[name] == (
            summary["by_severity"].get(name, 0),
            summary["open_by_severity"].get(name, 0),
        )
    assert severity["total"] == (
        len(run.report.to_json()["findings"]),
        sum(summary["open_by_severity"].values()),
    )
    assert {row[0]: row[1] for row in section(sheet, "Status")} == summary["by_status"]
    assert {row[0]: row[2] for row in section(sheet, "Rule")} == summary["by_rule"]
    assert {row[0]: row[1] for row in section(sheet, "Service")} == summary["by_service"]
    rules = records(book["Rules"])
    assert [row["Rule"] for row in rules] == [rule.id for rule in rule_catalogue()]
    open_by_rule = Counter(
        f["rule_id"] for f in run.report.to_json()["findings"] if f["status"] == "open"
    )
    for row in rules:
        assert row["Findings"] == summary["by_rule"].get(row["Rule"], 0)
        assert row["Open"] == open_by_rule[row["Rule"]]


def test_inventory_exceptions_and_coverage_cover_everything(book: Any, run: ReportInput) -> None:
    inventory = records(book["Inventory"])
    assert sorted(row["VM id"] for row in inventory) == sorted(
        vm.vm_id for vm in run.inventory.vms()
    )
    web = next(row for row in inventory if row["VM id"] == 1001)
    raised = {f["rule_id"] for f in run.report.to_json()["findings"] if f["vm_id"] == 1001}
    assert set(web["Findings"].split(", ")) == raised and raised
    exceptions = records(book["Exceptions"])
    document = run.report.to_json()["exceptions"]
    assert [(r["Register line"], r["State"]) for r in exceptions] == [
        (e["line"], e["state"]) for e in document
    ]
    assert [r["Findings matched"] for r in exceptions] == [e["findings_matched"] for e in document]
    coverage = section(book["Coverage"], "Service")
    assert [(row[0], row[1], row[3], row[4], row[5]) for row in coverage] == [
        ("pcc-203-0-113-10", 1, 17, 17, 0),
        ("pcc-203-0-113-10", 2, 2, 1, 1),
        ("pcc-198-51-100-7", 7, 3, 3, 0),
    ]
    assert "VM 5002" in coverage[1][7] and "HTTP 500" in coverage[1][7]


def test_hostile_values_stay_text_never_formulas(book: Any, xlsx: Path, run: ReportInput) -> None:
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type not in ("f", "e"), (sheet.title, cell.coordinate)
    with zipfile.ZipFile(xlsx) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name), name
    column = headers(book["Findings"]).index("VM name")
    names = {row[column].value: row[column] for row in book["Findings"].iter_rows(min_row=2)}
    reported = {f["vm_name"] for f in run.report.to_json()["findings"]} & set(HOSTILE_NAMES)
    assert len(reported) >= 10
    for hostile in reported:
        assert shown(hostile) in names, hostile  # intact, not dropped or rewritten
    for hostile in ('=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"):
        cell = names[hostile]
        assert cell.data_type == "s"
        assert cell.quotePrefix, hostile  # stays text when someone edits the cell
    assert names["#N/A"].data_type == "s"
    inventory = {row["VM name"] for row in records(book["Inventory"])}
    assert {shown(name) for name in HOSTILE_NAMES} <= inventory
    register = records(book["Exceptions"])
    assert (
        register[0]["Approved by"] == '=HYPERLINK("http://x")'
        and register[0]["Reference"] == "=1+2"
    )


def test_review_columns_validated_and_the_sheet_sortable(book: Any) -> None:
    """Excel refuses to sort a protected sheet whose range holds locked cells, so the Findings
    sheet is not protected (import-review checks the identity cells instead); the review
    columns are marked, unlocked and validated."""
    sheet = book["Findings"]
    assert sheet.protection.sheet is False
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list"
    assert validation.formula1 == '"open,accepted,fixed,false positive,settled"'
    review = len(FINDINGS_HEADERS) + 1
    letter = openpyxl.utils.get_column_letter(review)
    assert str(validation.sqref) == f"{letter}2:{letter}{sheet.max_row}"
    assert headers(sheet)[review - 1] == "Review status"
    for offset in range(3):  # empty review cells take their column's style
        column = openpyxl.utils.get_column_letter(review + offset)
        assert sheet.column_dimensions[column].protection.locked is False
    rules = {str(rule.sqref) for rule in sheet.conditional_formatting}
    assert rules == {f"D2:D{sheet.max_row}"}
    fills = {
        rule.formula[0]: rule.dxf.fill.fgColor.rgb
        for cf in sheet.conditional_formatting
        for rule in cf.rules
    }
    assert fills == {
        '"high"': "00FDE0DC",
        '"medium"': "00FFE9CC",
        '"low"': "00FFF6C7",
        '"info"': "00E1ECFA",
    }


def test_numbers_dates_and_leading_zeros_keep_their_types(book: Any) -> None:
    findings = records(book["Findings"])
    assert all(isinstance(row["VM id"], int) for row in findings if row["VM id"] is not None)
    assert all(isinstance(row["Datacenter"], int) for row in findings)
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row}
    assert summary["Snapshot taken (UTC)"] == datetime(2025, 11, 1, 2, 3, 4)
    assert summary["VMs listed"] == 22
    expires = [row[8] for row in book["Exceptions"].iter_rows(min_row=2)]
    dated = [cell for cell in expires if cell.value is not None]
    assert dated and all(cell.is_date and "yy" in cell.number_format for cell in dated)
    inventory = records(book["Inventory"])
    assert all(
        isinstance(row["vCPUs"], int) and isinstance(row["Memory (MB)"], int) for row in inventory
    )
    web = next(row for row in inventory if row["VM id"] == 1001)
    assert (web["Cluster"], web["Folder"]) == ("007", "0042")
    zeros = records(book["Exceptions"])[-1]
    assert (zeros["VM id"], zeros["Reference"], zeros["State"]) == (42, "000123", "stale")


def test_every_sheet_prints_landscape_one_page_wide(book: Any) -> None:
    for sheet in book:
        setup = sheet.page_setup
        assert setup.orientation == "landscape", sheet.title
        assert setup.paperSize == 9, sheet.title  # A4
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert "2025-11" in sheet.oddFooter.left.text and "&P" in sheet.oddFooter.right.text
    for name in ("Findings", "Inventory", "Exceptions", "Rules"):
        assert book[name].print_title_rows == "$1:$1", name
    # Wrapped text gets rows tall enough to show it (LibreOffice prints them overlapping else).
    rules = book["Rules"]
    assert all((rules.row_dimensions[row].height or 0) >= 45 for row in range(2, rules.max_row + 1))
    findings = book["Findings"]  # the message wraps: a row is as tall as its message needs
    message = headers(findings).index("Message") + 1
    for row in range(2, findings.max_row + 1):
        lines = line_count(findings.cell(row, message).value, 60)
        assert (findings.row_dimensions[row].height or 15) >= 15 * lines, row


def test_document_properties_name_period_and_snapshot(book: Any, run: ReportInput) -> None:
    props = book.properties
    assert "2025-11" in props.title
    assert run.snapshot_sha256 in props.subject
    assert props.created == props.modified == datetime(2025, 11, 1, 2, 3, 4)
    custom = {prop.name: prop.value for prop in book.custom_doc_props.props}
    assert custom["snapshot_sha256"] == run.snapshot_sha256
    assert custom["period"] == "2025-11"


def test_incomplete_coverage_is_red(book: Any) -> None:
    cells = [row[1] for row in book["Summary"].iter_rows() if row[0].value == "Coverage"]
    assert cells[0].value.startswith("INCOMPLETE: ")  # the executive summary's line
    cell = cells[-1]  # the Run section's
    assert cell.value == "INCOMPLETE: 1 object(s) could not be read"
    assert cell.fill.fgColor.rgb == "00C62828"


def test_rerender_is_byte_identical(run: ReportInput, xlsx: Path, tmp_path: Path) -> None:
    again = tmp_path / "report.xlsx"
    XlsxReport().render(run, again)
    assert again.read_bytes() == xlsx.read_bytes()
    with zipfile.ZipFile(again) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    taken = datetime.fromisoformat(TAKEN_AT.replace("Z", "+00:00"))
    assert stamps == {(taken.year, taken.month, taken.day, taken.hour, taken.minute, 4)}


def test_history_adds_columns_reviews_and_sheets(history_book: Any, run: ReportInput) -> None:
    book = history_book
    exposure = SHEETS.index("Exposure") + 1
    assert book.sheetnames == [
        *SHEETS[:exposure],
        "Unsettled shortfalls",
        *SHEETS[exposure:],
        "Changes",
    ]
    unsettled = book["Unsettled shortfalls"]
    assert headers(unsettled)[:4] == ["Period", "Service", "Datacenter", "VM id"]
    assert headers(unsettled)[-3:] == REVIEW
    stored = with_history(run).report.unsettled_shortfalls
    listed = list(unsettled.iter_rows(min_row=2))
    assert [(row[0].value, row[3].value) for row in listed] == [
        (item.period, item.shortfall.vm_id) for item in stored
    ]
    written = [cell for row in listed for cell in row[-3:] if cell.value is not None]
    assert written and not any(cell.protection.locked for cell in written)
    owner = listed[0][-2]  # hostile text stays text, never a formula
    assert owner.value == "=Jane" and owner.quotePrefix and owner.data_type == "s"
    sheet = book["Findings"]
    assert headers(sheet) == [*FINDINGS_HEADERS, "First seen", "First seen on", "Change", *REVIEW]
    reviewed = [row for row in sheet.iter_rows(min_row=2) if row[-3].value is not None]
    assert len(reviewed) == 1  # the one review the history carries, on its own finding
    (first,) = reviewed
    assert [cell.value for cell in first[-3:]] == ["accepted", "=Jane", "ticket <CHG-1>"]
    assert not any(cell.protection.locked for cell in first[-3:])
    assert first[-2].quotePrefix and first[-2].data_type == "s"
    document = with_history(run).report.to_json()["findings"]
    assert (first[2].value, first[1].value) == (document[0]["rule_id"], document[0]["vm_id"])
    seen = {(row[2].value, row[1].value): row for row in sheet.iter_rows(min_row=2)}
    for finding in document:
        row = seen[(finding["rule_id"], finding["vm_id"])]
        assert row[-6].value == finding["first_seen"]["period"]
        assert row[-5].is_date
        assert row[-5].value == datetime.fromisoformat(finding["first_seen"]["date"])
        assert row[-4].value == finding["change"]
    summary = [row for row in book["Summary"].iter_rows(values_only=True) if row and row[0]]
    assert ("2025-10", 6, 5, 3, 1, 15) in [tuple(row[:6]) for row in summary]
    assert ("gone: unverified", 1) in [tuple(row[:2]) for row in summary]
    open_now = sum(run.report.to_json()["summary"]["open_by_severity"].values())
    assert ("total", 12, open_now - 12) in [
        (row[0], row[3], row[4]) for row in summary if row[0] == "total"
    ]
    changes = list(book["Changes"].iter_rows(min_row=2))
    kinds = [row[0].value for row in changes]
    new = sum(1 for f in document if f["change"] == "new")
    assert kinds == ["new"] * new + ["gone: fixed", "gone: unverified", "licence set", "vm removed"]
    assert changes[-1][6].value == "@rm -rf" and changes[-1][6].quotePrefix
    assert changes[-2][9].value == "windows 2019 Standard Core"  # after
    assert book["Summary"]._charts  # the trend, as a native chart
    exposure = [row for row in book["Exposure"].iter_rows() if row and row[0].value]
    unsettled = [row for row in exposure if row[0].value in ("2025-10", "2025-09")]
    assert [(row[0].value, row[3].value, row[4].value) for row in unsettled] == [
        ("2025-10", 1077, "<b>tmp-build</b>"),
        ("2025-09", 1078, "<b>tmp-build</b>"),
    ]
    assert unsettled[0][8].value == "=Jane" and unsettled[0][8].quotePrefix


@pytest.mark.slow
def test_libreoffice_reads_every_sheet_as_written(xlsx: Path, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        require_or_skip("LibreOffice missing: apt-get install libreoffice-calc-nogui")
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            # UTF-8, one CSV per sheet (-1): proves every sheet loads, formulas would evaluate.
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(tmp_path),
            str(xlsx),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    for sheet in SHEETS:
        assert (tmp_path / f"report-{sheet}.csv").is_file(), sheet
    with (tmp_path / "report-Findings.csv").open(encoding="utf-8", newline="") as handle:
        names = {row[0] for row in csv.reader(handle)}
    assert '=HYPERLINK("http://x","y")' in names
    assert {"@SUM(1+1)", "-2+3", "#N/A", "<script>alert(1)</script>"} <= names


def test_an_empty_account_still_gives_every_sheet(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    XlsxReport().render(make_empty_run(), path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == SHEETS
    assert book["Findings"].max_row == 1
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row}
    assert summary["Coverage"] == "complete"
