"""Evaluation and rendering of a 100,000-VM fleet: time and peak memory per phase."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from audit.bench.fleets import snapshot_of
from audit.job import SNAPSHOT_FILE
from audit.simulator.generate import generate_fleet
from audit.snapshot import write_snapshot

FLEET_VMS = 100_000


def measure(phase: str, run_dir: Path) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "audit.bench.phases", phase, str(run_dir)],
        capture_output=True,
        text=True,
    )
    if output.returncode != 0:
        raise RuntimeError(f"bench phase {phase} failed:\n{output.stderr}")
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def run() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        run_dir = Path(folder)
        snapshot = snapshot_of(generate_fleet(FLEET_VMS, seed=1).fleet)
        write_snapshot(snapshot, run_dir / SNAPSHOT_FILE)
        del snapshot
        evaluated = measure("evaluate", run_dir)
        findings = len(json.loads((run_dir / "findings.json").read_text())["findings"])
        rows.append(
            (f"evaluate {FLEET_VMS} VMs -> {findings} findings", f"{evaluated['seconds']:.2f}s")
        )
        rows.append(("  peak RSS (incl. the loaded snapshot)", f"{evaluated['peak_mb']:.0f} MB"))
        rows.append(
            ("  peak RSS after loading the snapshot alone", f"{evaluated['inputs_mb']:.0f} MB")
        )

        xlsx = measure("xlsx", run_dir)
        bare = measure("bare-openpyxl", run_dir)
        html = measure("html", run_dir)
        rows.append(("report.xlsx", f"{xlsx['seconds']:.2f}s"))
        rows.append(("  bare openpyxl write-only, same rows", f"{bare['seconds']:.2f}s"))
        rows.append(
            ("  report.xlsx / bare (target <= 1.5)", f"{xlsx['seconds'] / bare['seconds']:.2f}x")
        )
        rows.append(("  peak RSS (target < 1024 MB)", f"{xlsx['peak_mb']:.0f} MB"))
        size = (run_dir / "report.xlsx").stat().st_size / 1e6
        rows.append(("  file size", f"{size:.1f} MB"))
        rows.append(("report.html", f"{html['seconds']:.2f}s"))
        rows.append(("  peak RSS (target < 1024 MB)", f"{html['peak_mb']:.0f} MB"))
        size = (run_dir / "report.html").stat().st_size / 1e6
        rows.append(("  file size (target < 10 MB)", f"{size:.1f} MB"))
    return rows
