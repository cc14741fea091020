"""Evaluation and rendering of a 100,000-VM fleet: time and peak memory per phase."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from audit.bench.fleets import snapshot_of
from audit.model.snapshot import write_snapshot
from audit.run_folder import SNAPSHOT_FILE
from audit.simulator.generate import generate_fleet

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


def memory_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("  peak RSS of the process (target < 1024 MB)", f"{result['process_peak_mb']:.0f} MB"),
        ("  resident before the phase (inputs loaded)", f"{result['inputs_mb']:.0f} MB"),
        ("  growth during the phase", f"{result['peak_mb'] - result['inputs_mb']:.0f} MB"),
    ]


def write_fleet(run_dir: Path) -> None:
    """The bench's 100,000-VM snapshot, as `run_dir`/snapshot.json.gz."""
    write_snapshot(snapshot_of(generate_fleet(FLEET_VMS, seed=1).fleet), run_dir / SNAPSHOT_FILE)


def run() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        run_dir = Path(folder)
        write_fleet(run_dir)
        evaluated = measure("evaluate", run_dir)
        findings = len(json.loads((run_dir / "findings.json").read_text())["findings"])
        label = f"evaluate {FLEET_VMS} VMs -> {findings} findings"
        rows.append((label, f"{evaluated['seconds']:.2f}s"))
        rows += memory_rows(evaluated)

        xlsx = measure("xlsx", run_dir)
        bare = measure("bare-openpyxl", run_dir)
        html = measure("html", run_dir)
        rows.append(("report.xlsx", f"{xlsx['seconds']:.2f}s"))
        rows.append(("  bare openpyxl write-only, same rows", f"{bare['seconds']:.2f}s"))
        ratio = xlsx["seconds"] / bare["seconds"]
        rows.append(("  report.xlsx / bare (target <= 1.5)", f"{ratio:.2f}x"))
        rows += memory_rows(xlsx)
        size = (run_dir / "report.xlsx").stat().st_size / 1e6
        rows.append(("  file size", f"{size:.1f} MB"))
        rows.append(("report.html", f"{html['seconds']:.2f}s"))
        rows += memory_rows(html)
        size = (run_dir / "report.html").stat().st_size / 1e6
        rows.append(("  file size (target < 10 MB)", f"{size:.1f} MB"))
        whole = measure("run", run_dir)
        rows.append(
            ("whole run --from-snapshot (history, reports, plan)", f"{whole['seconds']:.2f}s")
        )
        # Its floor: the bare write of the same rows, measured above in this bench run.
        ratio = whole["seconds"] / bare["seconds"]
        rows.append(("  whole run / bare openpyxl write-only (target <= 1.3)", f"{ratio:.2f}x"))
        rows += memory_rows(whole)
        label = "  peak RSS of the workbook's process (forked; target < 1024 MB)"
        rows.append((label, f"{whole['children_peak_mb']:.0f} MB"))
    return rows


if __name__ == "__main__":  # `python -m audit.bench.large FOLDER`: the snapshot, to profile
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    write_fleet(folder)
