"""Issue 11 in the reports: the headline figures against the findings that define them, the
licence position against a hand-counted fleet, and the page printed by Chromium."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import lxml.html
import openpyxl
import pytest

from audit.evaluate.engine import evaluate
from audit.evaluate.exceptions import parse_exceptions
from audit.evaluate.inventory import inventory_of
from audit.evaluate.report import run_report
from audit.model.findings import Status
from audit.model.period import Period
from audit.render.base import ReportInput
from audit.render.html import HtmlReport, render_html
from audit.render.safe_text import visible_controls
from audit.render.xlsx import XlsxReport
from tests.helpers.external import require_or_skip
from tests.helpers.headline import REGISTER, evaluated
from tests.helpers.render import make_run, with_history


@pytest.fixture(scope="module")
def fleet() -> ReportInput:
    """The headline fleet as the job reports it (summary.headline, licences, control panel)."""
    snapshot, _ = evaluated()
    rows = parse_exceptions(REGISTER.encode(), "exceptions.csv")
    import datetime

    inventory = inventory_of(snapshot)
    evaluation = evaluate(inventory, rows, datetime.date(2026, 11, 30))
    digest = hashlib.sha256(b"fleet").hexdigest()
    return ReportInput(
        inventory, digest, run_report(Period(2026, 11), inventory, digest, evaluation)
    )


@pytest.fixture(scope="module")
def book(fleet: ReportInput, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    XlsxReport().render(fleet, path)
    return openpyxl.load_workbook(path)


def _tiles(run: ReportInput) -> dict[str, str]:
    doc = lxml.html.fromstring(render_html(run))
    return {
        tile.find_class("tile-label")[0].text_content(): tile.find_class("tile-value")[0]
        .text_content()
        .strip()
        for tile in doc.find_class("tile")
    }


def test_each_headline_figure_is_its_findings(fleet: ReportInput, book: Any) -> None:
    findings = fleet.report.findings

    def vms(rule_ids: set[str], status: Status | None = Status.OPEN) -> set[Any]:
        return {
            f.vm_id
            for f in findings
            if (not rule_ids or f.rule_id in rule_ids) and (status is None or f.status is status)
        }

    unlicensed = [f for f in findings if f.rule_id == "WIN-UNLICENSED" and f.status is Status.OPEN]
    wasted = vms({"LIC-NON-WINDOWS", "LIC-POWERED-OFF", "LIC-BYOL-BILLED"})
    byol = vms(set(), Status.BYOL)
    # The fleet makes each figure differ from the naive count it replaced (defects 1-4).
    assert len(unlicensed) == 1 and len(wasted) == 2 and byol == {7}
    assert sum(f.rule_id == "WIN-UNLICENSED" for f in findings) == 2  # one is waived
    assert wasted == {7, 8}  # 8 has two findings, counted once; 9's is waived; 7 is BYOL-billed
    tiles = _tiles(fleet)
    assert tiles["Windows Server guests that ran unbilled this period"] == "1"
    assert tiles["Licences possibly wasted"] == "2"
    assert tiles["BYOL-covered guests"] == "1"
    # Windows guests 1-7 and 10 (12 is deleted); only 4 and 10 carry a licence that fits.
    assert tiles["Windows guests correctly licensed"] == "25%"
    summary = {row[0]: row[1:4] for row in book["Summary"].iter_rows(values_only=True) if row}
    assert summary["Windows Server guests that ran unbilled this period"][0] == 1
    assert summary["Windows guests correctly licensed"][:2] == (2, 8)
    assert summary["Licences possibly wasted"][0] == 2
    assert summary["BYOL-covered guests"][0] == 1
    # The chart's buckets use the same definitions: licensed = the figure, BYOL counted.
    (row,) = fleet.figures.windows
    assert (row.windows, row.licensed, row.byol, row.unlicensed, row.misfit) == (8, 2, 1, 3, 2)
    # The per-service chart and the workbook's table sum to the headline's own figure.
    (service,) = fleet.figures.windows_by_service
    assert (
        (service.licensed, service.windows) == (2, 8) == (fleet.figures.windows_total.licensed, 8)
    )


def test_the_change_since_the_previous_run_is_shown(fleet: ReportInput) -> None:
    run = with_history(fleet)
    previous = run.history.previous
    assert previous is not None
    from dataclasses import replace

    kept = {"unlicensed_server_guests": 4, "licences_possibly_wasted": 2}
    run = replace(run, history=replace(run.history, previous=replace(previous, headline=kept)))
    doc = lxml.html.fromstring(render_html(run))
    deltas = {
        tile.find_class("tile-label")[0].text_content(): tile.find_class("delta")
        for tile in doc.find_class("tile")
    }
    assert deltas["Windows Server guests that ran unbilled this period"][0].text_content() == (
        f"-3 since {previous.period}"
    )
    assert deltas["Licences possibly wasted"][0].text_content().startswith("no change")
    assert deltas["BYOL-covered guests"] == []  # the previous run did not keep it


def test_licence_position_sheet_and_section_are_the_hand_count(
    fleet: ReportInput, book: Any
) -> None:
    # Billable, not deleted: W19 on VMs 4, 5, 7 and W22 on 6, 8, 9; two vCPUs each.
    sheet = book["Appendix per datacenter"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:11] == (
        "Service", "Datacenter", "Licence", "Billable", "Billed VMs", "Billed vCPUs", "VMs",
        "vCPUs", "Peak VMs", "Licence-days", "vmLicensed",
    )  # fmt: skip
    table = {row[2]: (row[3], *row[6:11]) for row in rows[1:] if row[0] and row[1] == 1}
    assert table["windows 2019 Standard"] == ("yes", 3, 6, 3, 3, 4)  # vmLicensed: deleted 12 too
    assert table["windows 2022 Standard"] == ("yes", 3, 6, 3, 3, 3)
    assert table["OVHcloud managed"][:2] == ("no", 1)
    overall = next(
        row for row in rows if row[0] == "Total: all services" and row[2].startswith("all")
    )
    assert overall[6:8] == (6, 12)
    # The Summary's signed position: per service and value, then the totals.
    summary = [row for row in book["Summary"].iter_rows(values_only=True) if row]
    signed, ran = [row[1:7] for row in summary if row[0] == "Total, every service"]
    assert signed[3:5] == (6, 7)  # at close; vmLicensed counts deleted VM 12 too
    assert ran[0] == fleet.figures.ran_total.ran and ran[3] == fleet.figures.unlicensed
    assert any("billing guide, updated 2024-03-21" in str(row[0]) for row in summary)
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    doc = lxml.html.fromstring(render_html(fleet))
    section = doc.get_element_by_id("appendix-position")
    grand = [cell.text_content() for cell in section.find_class("grand")[0]]
    assert grand[2] == "all billable licences" and grand[5:7] == ["6", "12"]
    # The first page: per service and value, the service's total and the overall total.
    first = doc.get_element_by_id("position")
    [signed] = first.find_class("signed-service")
    lines = {row[0]: row[1:] for row in _cells(signed)}
    assert lines["windows 2019 Standard"][3] == "3" and lines["windows 2022 Standard"][3] == "3"
    assert lines["Total"][3] == "6" and lines["Total"][4] == "7"  # vmLicensed: deleted 12 too
    assert "OVHcloud managed" not in lines
    totals = {row[0]: row[1:] for row in _cells(first.find_class("signed-totals")[0])}
    assert totals["Total, every service"][3] == "6"
    assert "Hosted Private Cloud billing guide, updated 2024-03-21" in first.text_content()
    assert "is not seen" in first.text_content()
    panel = section.find_class("control-panel")[0].text_content()
    for row in fleet.report.control_panel:  # VM 12 is deleted: the panel counts it, we do not
        assert (row.difference() or "The counts agree.") in panel
    assert "1 deleted Windows VM(s)" in panel


def _cells(table: Any) -> list[list[str]]:
    return [
        [" ".join(cell.text_content().split()) for cell in row]
        for row in table.xpath(".//tbody/tr")
    ]


def test_licence_usage_has_totals_filter_and_frozen_header(fleet: ReportInput, book: Any) -> None:
    sheet = book["Licence usage"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    totals = [row for row in sheet.iter_rows(values_only=True) if row and row[0] == "Total"]
    vms = sum(u.vms for u in fleet.report.summary.licence_usage)
    assert totals and totals[0][3] == vms


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        require_or_skip("Chromium missing: apt-get install chromium")
    if shutil.which("pdftotext") is None:
        require_or_skip("pdftotext missing: apt-get install poppler-utils")
    return str(chromium)


_LATIN = re.compile(r"[\x21-\x7e\u00a0-\u024f]+")


def _squash(text: str) -> str:
    """Without whitespace (a long value wraps), composed (the PDF's text is NFC)."""
    return unicodedata.normalize("NFC", re.sub(r"\s+", "", text))


@pytest.mark.slow
def test_printed_page_has_every_finding_and_every_column(tmp_path: Path) -> None:
    """Print to PDF as a reader would (no script run before print: the stylesheet alone must
    open every section and keep every column on the A4 landscape page)."""
    chromium = _chromium()
    run = with_history(make_run())
    page = tmp_path / "report.html"
    HtmlReport().render(run, page)
    # Without its script: the stylesheet alone must print the closed sections.
    page.write_text(re.sub(r"<script>.*?</script>", "", page.read_text(), flags=re.S))
    pdf = tmp_path / "report.pdf"
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    text = subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    squashed = _squash(text)
    doc = lxml.html.fromstring(page.read_bytes())
    for table in doc.xpath("//section[@id='findings']//table"):
        for header in table.xpath(".//thead/th | .//thead/tr/th"):
            assert _squash(header.text_content()) in squashed, header.text_content()
    # Glyphs the machine has no font for (CJK, emoji) cannot come back from the PDF's text:
    # those names are checked on their parts in Latin script.
    missing = [
        f.vm_name
        for f in run.report.findings
        if f.vm_name
        and any(
            part not in squashed for part in _LATIN.findall(_squash(visible_controls(f.vm_name)))
        )
    ]
    assert not missing
    for heading in ("Executive summary", "Licence position", "Sign-off", "Rule catalogue"):
        assert _squash(heading) in squashed
    assert "Expand all" not in text  # no controls on paper


_UNBILLED_SEGMENT = re.compile(r"Ran unbilled \(the headline figure\) (\d+)")


@pytest.mark.parametrize("which", ["fleet", "several services"])
def test_the_per_service_chart_sums_to_the_headline(which: str, fleet: ReportInput) -> None:
    """A chart never contradicts a headline figure: the Windows chart's "ran unbilled"
    segments, summed over the services, are the headline's open WIN-UNLICENSED findings."""
    run = fleet if which == "fleet" else with_history(make_run())
    doc = lxml.html.fromstring(render_html(run))
    chart = doc.get_element_by_id("chart-windows")
    segments = [
        int(match.group(1))
        for title in chart.xpath(".//svg//g/title")
        for match in _UNBILLED_SEGMENT.finditer(title.text_content())
    ]
    headline = next(
        f.value for f in run.figures.headline if f.key.value == "unlicensed_server_guests"
    )
    unbilled = sum(
        1 for f in run.report.findings if f.rule_id == "WIN-UNLICENSED" and f.status.value == "open"
    )
    assert sum(segments) == headline == unbilled == run.figures.ran_total.unbilled
    assert headline > 0 and (which == "fleet" or len(run.figures.ran_by_service) > 1)
    tiles = {
        t.find_class("tile-label")[0].text_content(): t.find_class("tile-note")[0].text_content()
        for t in doc.find_class("tile")
    }
    days = run.figures.ran_total.unbilled_vm_days
    assert tiles["Windows Server guests that ran unbilled this period"].startswith(
        f"{days:,} VM-days"
    )
