"""`[report] organisation`: validated in the config, recorded in findings.json, named by the
HTML header, the workbook's Summary and the mail's subject, and kept by a rebuild (issue 21)."""

from __future__ import annotations

import json
from pathlib import Path

import lxml.html
import openpyxl
import pytest

from audit.cli.main import main
from audit.collect.source import SnapshotSource
from audit.config.settings import load_config
from audit.deliver.digest import digest_from_run_dir
from audit.job import JobSpec, run_job
from audit.model.period import Period
from audit.model.snapshot import write_snapshot
from audit.support.errors import InputError
from tests.helpers.history import PROD, WIN
from tests.helpers.history import snapshot as fleet_snapshot
from tests.helpers.vms import api_vm

NAME = "Example <SA> & Co"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_config_reads_and_validates_the_organisation(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f'[report]\norganisation = "  {NAME} "\n'))
    assert config.report.organisation == NAME
    assert load_config(write(tmp_path, "[audit]\n")).report.organisation is None
    for text, error in (
        ("[report]\norganisation = 3\n", "report.organisation: expected str"),
        ('[report]\norganisation = " "\n', "report.organisation: empty"),
        (f'[report]\norganisation = "{"x" * 81}"\n', "at most 80"),
        ('[report]\norganisation = "a\\nb"\n', "control or invisible"),
        ('[report]\nowner = "x"\n', "unknown key 'owner'"),
    ):
        with pytest.raises(InputError, match=error):
            load_config(write(tmp_path, text))


def test_the_reports_and_the_mail_name_the_organisation(tmp_path: Path) -> None:
    path = tmp_path / "input.json.gz"
    write_snapshot(
        fleet_snapshot({(PROD, 1): [api_vm(1, WIN, None)]}, "2026-02-03T03:00:00Z"), path
    )
    spec = JobSpec(
        out_dir=tmp_path / "out",
        period=Period.from_label("2026-01"),
        source=SnapshotSource(from_file=path),
        organisation=NAME,
    )
    run_dir = run_job(spec).run_dir
    document = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    assert document["run"]["organisation"] == NAME
    page = lxml.html.fromstring((run_dir / "report.html").read_bytes())
    assert [h1.text_content() for h1 in page.xpath("//header//h1")] == [
        f"Licence audit {NAME} 2026-01"
    ]
    assert "<SA>" not in (run_dir / "report.html").read_text(encoding="utf-8")  # escaped
    book = openpyxl.load_workbook(run_dir / "report.xlsx")
    cells = [row for row in book["Summary"].iter_rows(values_only=True) if row[0]]
    assert cells[1][0].startswith(f"OVHcloud Hosted Private Cloud, {NAME}, period 2026-01")
    assert ("Organisation", NAME) in [row[:2] for row in cells]
    assert digest_from_run_dir(run_dir).subject.startswith(f"Windows licence audit 2026-01, {NAME}")
    before = (run_dir / "report.html").read_bytes()
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").read_bytes() == before
