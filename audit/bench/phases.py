"""One measured phase per child process, so each peak RSS is that phase's own.

Run as `python -m audit.bench.phases PHASE RUN_DIR`; prints `{"seconds": ..., "peak_mb": ...}`.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook

from audit.evaluate.engine import evaluate
from audit.job import FINDINGS_FILE, SNAPSHOT_FILE, evaluation_day, findings_document
from audit.render.base import RunData
from audit.render.html import HtmlReport
from audit.render.xlsx import XlsxReport
from audit.snapshot import read_snapshot


def _load(run_dir: Path) -> RunData:
    snapshot, digest = read_snapshot(run_dir / SNAPSHOT_FILE)
    document = json.loads((run_dir / FINDINGS_FILE).read_text(encoding="utf-8"))
    return RunData(snapshot, digest, document)


def phase_evaluate(run_dir: Path) -> Callable[[], None]:
    snapshot, digest = read_snapshot(run_dir / SNAPSHOT_FILE)

    def work() -> None:
        evaluation = evaluate(snapshot, (), evaluation_day(snapshot))
        document = findings_document("2026-11", snapshot, digest, evaluation)
        (run_dir / FINDINGS_FILE).write_text(json.dumps(document), encoding="utf-8")

    return work


def phase_xlsx(run_dir: Path) -> Callable[[], None]:
    run = _load(run_dir)
    return lambda: XlsxReport().render(run, run_dir / "report.xlsx")


def phase_html(run_dir: Path) -> Callable[[], None]:
    run = _load(run_dir)
    return lambda: HtmlReport().render(run, run_dir / "report.html")


def phase_bare_openpyxl(run_dir: Path) -> Callable[[], None]:
    """The reference: bare write-only openpyxl writing the same rows as our workbook."""
    run = _load(run_dir)
    findings = run.findings["findings"]
    vms = [vm for service in run.snapshot.services for dc in service.datacenters for vm in dc.vms]

    def work() -> None:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Findings")
        for finding in findings:
            sheet.append([str(value) for value in finding.values()] + ["", "", "", "", ""])
        inventory = workbook.create_sheet("Inventory")
        for vm in vms:
            inventory.append([str(vm.get(key)) for key in sorted(vm)][:19])
        workbook.save(run_dir / "bare.xlsx")

    return work


PHASES = {
    "evaluate": phase_evaluate,
    "xlsx": phase_xlsx,
    "html": phase_html,
    "bare-openpyxl": phase_bare_openpyxl,
}


def main() -> None:
    name, run_dir = sys.argv[1], Path(sys.argv[2])
    work = PHASES[name](run_dir)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "inputs_mb": baseline_mb}))


if __name__ == "__main__":
    main()
