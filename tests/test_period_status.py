"""The period's status (in progress, or days not observed) in every place a reader looks:
the verdict, the headline, the workbook's Summary, the HTML header, the mail (issue 21)."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import openpyxl

from audit.collect.source import SnapshotSource
from audit.deliver.digest import digest_from_run_dir
from audit.deliver.message import html_body, plain_body, select_attachments
from audit.job import JobSpec, run_job
from audit.model.period import Period
from audit.model.snapshot import write_snapshot
from audit.render.summary import verdict
from audit.run_folder import load_run_with_history
from tests.helpers.history import PROD, WIN, Fleet
from tests.helpers.history import run_month as job
from tests.helpers.history import snapshot as fleet_snapshot
from tests.helpers.vms import api_vm

IN_PROGRESS = "period in progress: 1 of 31 days observed"


def fleet() -> Fleet:
    return {(PROD, 1): [api_vm(101, WIN, None), api_vm(102, WIN, "windows 2019 Standard")]}


def closed_run(out: Path, period: str, taken_at: str) -> Path:
    """The job for `period` from a snapshot taken after the period ended."""
    path = out.parent / "closed-input.json.gz"
    write_snapshot(fleet_snapshot(fleet(), taken_at), path)
    run_job(
        JobSpec(
            out_dir=out, period=Period.from_label(period), source=SnapshotSource(from_file=path)
        )
    )
    return out / period


def summary_texts(run_dir: Path) -> list[str]:
    book = openpyxl.load_workbook(run_dir / "report.xlsx")
    return [str(cell.value) for row in book["Summary"].iter_rows() for cell in row if cell.value]


def test_a_period_in_progress_says_so_everywhere(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, "2026-01", fleet())  # taken on the 1st: the period has 30 days to go
    run_dir = out / "2026-01"
    run = load_run_with_history(run_dir)
    status = run.figures.period
    assert status is not None and status.in_progress
    assert (status.observed, status.days) == (1, 31)
    assert "Period in progress: 1 of 31 days observed." in verdict(run).text

    page = lxml.html.fromstring((run_dir / "report.html").read_bytes())
    header = page.xpath("//header//div[@class='period-status']/dd")
    assert [dd.text_content() for dd in header] == [IN_PROGRESS]
    headline = page.xpath("//section[@id='summary']/p[@class='period-status']")
    assert [p.text_content() for p in headline] == ["Period in progress: 1 of 31 days observed."]
    executive = page.xpath("//section[@id='executive']//dd")[0].text_content()
    assert "Period in progress: 1 of 31 days observed." in executive

    texts = summary_texts(run_dir)
    assert f"OVHcloud Hosted Private Cloud, period 2026-01 ({IN_PROGRESS})" in texts
    assert "Period in progress: 1 of 31 days observed." in texts  # above the headline figures
    assert any("Period in progress: 1 of 31 days observed." in text for text in texts[2:])

    digest = digest_from_run_dir(run_dir)
    assert digest.subject.startswith(f"Windows licence audit 2026-01 ({IN_PROGRESS}): ")
    selection = select_attachments(run_dir, (), 10)
    plain = plain_body(digest, selection)
    assert f"Headline figures ({IN_PROGRESS})" in plain
    assert "Period in progress: 1 of 31 days observed." in plain
    assert f"Headline figures ({IN_PROGRESS})" in html_body(digest, selection)


def test_a_closed_period_with_unobserved_days_says_how_many(tmp_path: Path) -> None:
    run_dir = closed_run(tmp_path / "out", "2026-01", "2026-02-01T03:00:00Z")
    run = load_run_with_history(run_dir)
    status = run.figures.period
    assert status is not None and not status.in_progress
    assert status.text == "0 of 31 days observed"
    assert "in progress" not in verdict(run).text
    assert "0 of 31 days observed." in verdict(run).text
    digest = digest_from_run_dir(run_dir)
    assert digest.subject.startswith("Windows licence audit 2026-01 (0 of 31 days observed): ")
    page = lxml.html.fromstring((run_dir / "report.html").read_bytes())
    header = page.xpath("//header//div[@class='period-status']/dd")
    assert [dd.text_content() for dd in header] == ["0 of 31 days observed"]
    assert "OVHcloud Hosted Private Cloud, period 2026-01 (0 of 31 days observed)" in (
        summary_texts(run_dir)
    )
