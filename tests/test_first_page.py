"""The auditor's questions answered on one printed page: the demo's first month printed to PDF
by Chromium holds, on page 1, the position an auditor signs (its overall totals row), the
Windows Server guests that ran, and OVHcloud's billing rule (DESIGN.md "The position an
auditor signs")."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.model.exposure import BILLING_RULE
from tests.helpers.external import require_or_skip


def _squash(text: str) -> str:
    """Without whitespace (a long value wraps), composed (the PDF's text is NFC)."""
    return unicodedata.normalize("NFC", re.sub(r"\s+", "", text))


def _number(value: int | None) -> str:
    return "\u2014" if value is None else f"{value:,}"


@pytest.mark.slow
def test_the_demo_months_first_printed_page_is_the_signed_position(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        require_or_skip("Chromium missing: apt-get install chromium")
    if shutil.which("pdftotext") is None:
        require_or_skip("pdftotext missing: apt-get install poppler-utils")
    out = tmp_path / "demo"
    assert main(["demo", "--latency-ms", "0", "--out", str(out)]) == 0
    first = sorted(p for p in out.iterdir() if p.is_dir() and p.name[:2] == "20")[0]
    pdf = tmp_path / "report.pdf"
    subprocess.run(
        [
            str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}", (first / "report.html").as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    page = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    document = json.loads((first / "findings.json").read_text(encoding="utf-8"))
    rows = [row for row in document["licences"] if row["billable"]]
    totals = [
        sum(row["billed_vms"] for row in rows),
        sum(row["billed_vcpus"] for row in rows),
        sum(row["peak_vms"] for row in rows),
        sum(row["vms_at_close"] for row in rows),
        sum(row["vmlicensed_at_close"] or 0 for row in rows),
    ]
    # Side by side: the position's overall total (5 numbers), then the guests that ran (6).
    number = r"\s+(?:[\d,]+|\u2014)"
    position, ran = re.findall(rf"Total, every service((?:{number})+)", page)[:2]
    assert position.split() == [_number(value) for value in totals]
    assert _squash(BILLING_RULE) in _squash(page)
    assert "Windows Server guests that ran this period" in page
    unbilled = sum(
        1
        for f in document["findings"]
        if f["rule_id"] == "WIN-UNLICENSED" and f["status"] == "open"
    )
    assert unbilled > 0 and ran.split()[3] == f"{unbilled:,}"
    # Every service's table ends on page 1 with its total.
    services = {row["service_name"] for row in rows}
    assert len(re.findall(r"\bTotal\s+[\d,]+\s", page)) == len(services)
