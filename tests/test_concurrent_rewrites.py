"""`report RUN_DIR` and `invoice RUN_DIR` rewrite a run folder from what they read; a run of the
same period that publishes meanwhile must win: the rewrite is refused in one line (exit 2) and
the newer run folder stays as that run wrote it, never replaced by a copy of the older."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import audit.run_folder
from audit.cli.main import main
from audit.config.invoice import InvoiceSettings
from audit.model.invoice import BillWindow
from audit.model.snapshot import write_snapshot
from audit.reconciliation.folder import reconcile_run
from audit.reconciliation.sources import BillsFromFile, ObtainedBills
from audit.support.errors import InputError
from tests.helpers.folders import files
from tests.helpers.history import PROD, STD, WIN, snapshot
from tests.helpers.vms import api_vm

PERIOD = "2026-11"
FIRST = {(PROD, 1): [api_vm(1, WIN, STD), api_vm(2, WIN, None)]}
SECOND = {(PROD, 1): [api_vm(1, WIN, STD), api_vm(2, WIN, STD), api_vm(3, WIN, None)]}


def run(tmp_path: Path, out: Path, fleet: dict[Any, Any], name: str) -> None:
    path = tmp_path / f"{name}.json.gz"
    write_snapshot(snapshot(fleet, "2026-12-01T02:00:00Z"), path)
    args = ["run", "--from-snapshot", str(path), "--out", str(out), "--period", PERIOD]
    assert main([*args, "--fail-on", "never"]) == 0


def hidden(out: Path) -> list[str]:
    """What a rewrite may leave behind: staging or pending folders beside the run folder."""
    return sorted(path.name for path in out.iterdir() if path.name.startswith("."))


class RunMeanwhile:
    """The bills, obtained while another run of the period publishes its folder."""

    def __init__(self, bills: BillsFromFile, meanwhile: Callable[[], None]) -> None:
        self.bills, self.meanwhile = bills, meanwhile

    def obtain(self, window: BillWindow) -> ObtainedBills:
        self.meanwhile()
        return self.bills.obtain(window)


def test_invoice_never_replaces_a_run_published_while_it_read_the_bills(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(tmp_path, out, FIRST, "first")
    bills_path = tmp_path / "bills.json"
    bills_path.write_text(json.dumps([]), encoding="utf-8")
    newer: dict[str, bytes] = {}

    def second_run() -> None:
        run(tmp_path, out, SECOND, "second")
        newer.update(files(out / PERIOD))

    source = RunMeanwhile(BillsFromFile.load(bills_path), second_run)
    with pytest.raises(InputError) as refused:
        reconcile_run(out / PERIOD, source, InvoiceSettings())
    assert str(refused.value) == (
        f"{out / PERIOD}: another command wrote this run folder while `invoice` was rewriting "
        "it; `invoice` wrote nothing: run it again"
    )
    assert files(out / PERIOD) == newer and "invoice.json" not in newer
    assert hidden(out) == []
    # Run again, it reconciles the newer run (VM 3 unlicensed, not the first run's VM 2).
    reconcile_run(out / PERIOD, BillsFromFile.load(bills_path), InvoiceSettings())
    findings = json.loads((out / PERIOD / "findings.json").read_text(encoding="utf-8"))
    unlicensed = [f["vm_id"] for f in findings["findings"] if f["rule_id"] == "WIN-UNLICENSED"]
    assert unlicensed == [3] and findings["reconciliation"] is not None
    assert (out / PERIOD / "invoice.json").is_file()


def test_report_never_replaces_a_run_published_while_it_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    run(tmp_path, out, FIRST, "first")
    render_all = audit.run_folder.render_all
    newer: dict[str, bytes] = {}

    def second_run_then_render(*args: Any, **kwargs: Any) -> None:
        with monkeypatch.context() as undo:  # the run meanwhile renders as usual
            undo.setattr(audit.run_folder, "render_all", render_all)
            run(tmp_path, out, SECOND, "second")
        newer.update(files(out / PERIOD))
        render_all(*args, **kwargs)

    monkeypatch.setattr(audit.run_folder, "render_all", second_run_then_render)
    capsys.readouterr()
    assert main(["report", str(out / PERIOD)]) == 2
    assert capsys.readouterr().err == (
        f"ovh-license-audit: error: {out / PERIOD}: another command wrote this run folder "
        "while `report` was rewriting it; `report` wrote nothing: run it again\n"
    )
    assert files(out / PERIOD) == newer
    assert hidden(out) == []
