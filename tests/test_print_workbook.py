"""The workbook as LibreOffice prints it: the Findings sheet one page wide with a bounded page
count per 100 findings, and every licence value whole in the printed text (issue 21)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from tests.helpers.external import require_or_skip
from tests.helpers.history import PROD, WIN, Fleet
from tests.helpers.history import run_month as job
from tests.helpers.vms import api_vm

LINUX = "debian12_64Guest"
LICENCES = (
    "windows 2025 Datacenter SQL2022 Enterprise",
    "windows 2022 Standard SQL2019 Standard",
    "windows 2019 Datacenter SQL2017 Web",
)
FINDINGS = 200
#: Pages of the printed Findings sheet per 100 findings (6 measured; 66 for 141 findings before).
PAGES_PER_100 = 7


def fleet() -> Fleet:
    """Linux guests carrying long licence values (LIC-NON-WINDOWS), and unlicensed Windows."""
    vms = [
        api_vm(1000 + i, LINUX, LICENCES[i % len(LICENCES)], name=f"app-server-{i:04d}")
        for i in range(FINDINGS // 2)
    ]
    vms += [api_vm(5000 + i, WIN, None, name=f"win-server-{i:04d}") for i in range(FINDINGS // 2)]
    return {(PROD, 1): vms}


def printed(xlsx: Path, out: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftotext") is None:
        require_or_skip("LibreOffice or poppler missing: apt-get install libreoffice poppler-utils")
    assert soffice is not None
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(out / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(xlsx),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out / f"{xlsx.stem}.pdf"


def pages(pdf: Path, layout: bool) -> list[str]:
    """Each page's text: laid out as printed (`layout`, one footer line per page), or in
    reading order (a wrapped cell's lines follow each other)."""
    command = ["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"]
    text = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return text.split("\f")


def test_every_data_sheet_filters_and_freezes_its_header(tmp_path: Path) -> None:
    job(tmp_path / "out", "2026-01", fleet())
    book = openpyxl.load_workbook(tmp_path / "out" / "2026-01" / "report.xlsx")
    findings = book["Findings"]
    assert findings.sheet_properties.pageSetUpPr.fitToPage
    assert (findings.page_setup.fitToWidth, findings.page_setup.fitToHeight) == (1, 0)
    assert findings.page_setup.orientation == "landscape"
    assert findings.print_title_rows == "$1:$1"
    for name in ("Findings", "Inventory", "Licence usage", "Exposure by VM"):
        sheet = book[name]
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:"), name
        assert sheet.freeze_panes in ("A2", "C2"), name
        assert sheet.print_title_rows == "$1:$1", name
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0), name
    by_vm = [row for row in book["Exposure by VM"].iter_rows(min_row=2, values_only=True)]
    assert {row[5] for row in by_vm} >= set(LICENCES)
    licence = [cell.value for cell in findings[1]].index("Licence") + 1
    column = findings.cell(1, licence).column_letter
    wrapped = [row[licence - 1] for row in findings.iter_rows(min_row=2) if row[licence - 1].value]
    assert wrapped and all(cell.alignment.wrap_text for cell in wrapped), column


@pytest.mark.slow
def test_the_findings_sheet_prints_one_page_wide_and_every_licence_whole(tmp_path: Path) -> None:
    job(tmp_path / "out", "2026-01", fleet())
    xlsx = tmp_path / "out" / "2026-01" / "report.xlsx"
    book = openpyxl.load_workbook(xlsx)
    count = book["Findings"].max_row - 1
    assert count >= FINDINGS
    pdf = printed(xlsx, tmp_path)
    # The footer names the sheet between the workbook's title and the page number.
    footer = re.compile(r"audit 2026-01 +Findings +Page \d+ of \d+")
    on_findings = [bool(footer.search(page)) for page in pages(pdf, layout=True)]
    text = pages(pdf, layout=False)
    findings_pages = [page for page, ok in zip(text, on_findings, strict=True) if ok]
    assert 0 < len(findings_pages) <= PAGES_PER_100 * count / 100
    # One page wide: every printed row shows the VM name and the licence on the same page.
    joined = "\n".join(findings_pages)
    squeezed = re.sub(r"\s+", " ", joined)
    for value in LICENCES:
        # Wrapped in its column, the value's lines follow each other: printed whole, the SQL
        # edition included, never cut at the column's edge.
        assert squeezed.count(value) >= FINDINGS // 2 // len(LICENCES), value
    for i in range(FINDINGS // 2):
        assert f"app-server-{i:04d}" in joined
