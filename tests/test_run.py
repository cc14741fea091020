"""The `run` command end to end: simulator, real `ovh` client, run folder, exit codes."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from audit.cli.main import main
from audit.simulator.api import (
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)
from audit.simulator.fleet import Fleet
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator
from tests.helpers.credentials import ovh_credentials  # noqa: F401  (autouse)
from tests.helpers.vms import PLACED, api_vm

PERIOD = "2026-11"
SECRET = DEFAULT_APPLICATION_SECRET


def run(sim: Simulator, out: Path, *extra: str) -> int:
    """The monthly job through the CLI, with a config file that keeps retries short."""
    config = Path.cwd() / "fast-retries.toml"  # the autouse fixture made cwd a tmp folder
    config.write_text("[audit]\nmax_retries = 2\nretry_base_delay_s = 0.01\n")
    args = ["run", "--endpoint", sim.url, "--out", str(out), "--period", PERIOD]
    return main([*args, "--max-rps", "1000", "--workers", "8", "--config", str(config), *extra])


def load_findings(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def generated() -> Any:
    return generate_fleet(400, seed=42)


@pytest.mark.slow
def test_findings_match_what_the_generated_fleet_was_built_to_contain(
    generated: Any, tmp_path: Path
) -> None:
    with Simulator(generated.fleet) as sim:
        code = run(sim, tmp_path / "out", "--fail-on", "never")
    assert code == 0
    document = load_findings(tmp_path / "out" / PERIOD)
    found: dict[tuple[str, int, int], set[str]] = defaultdict(set)
    for finding in document["findings"]:
        found[(finding["service_name"], finding["datacenter_id"], finding["vm_id"])].add(
            finding["rule_id"]
        )
    expected = {key: set(rules) for key, rules in generated.expected.items() if rules}
    assert dict(found) == expected
    run_meta = document["run"]
    assert run_meta["coverage"]["complete"] is True
    assert run_meta["period"] == PERIOD
    assert sum(document["summary"]["by_rule"].values()) == len(document["findings"])


@pytest.mark.slow
def test_offline_rebuild_is_identical(generated: Any, tmp_path: Path) -> None:
    with Simulator(generated.fleet) as sim:
        run(sim, tmp_path / "online", "--fail-on", "never")
    online = tmp_path / "online" / PERIOD
    code = main(
        [
            "run",
            "--from-snapshot",
            str(online / "snapshot.json.gz"),
            "--out",
            str(tmp_path / "offline"),
            "--period",
            PERIOD,
            "--fail-on",
            "never",
        ]
    )
    assert code == 0
    offline = tmp_path / "offline" / PERIOD
    for name in (
        "snapshot.json.gz",
        "findings.json",
        "findings.csv",
        "report.xlsx",
        "report.html",
        "manifest.json",
    ):
        assert (online / name).read_bytes() == (offline / name).read_bytes(), name

    before = {path.name: path.read_bytes() for path in online.iterdir() if path.is_file()}
    assert main(["report", str(online)]) == 0
    after = {path.name: path.read_bytes() for path in online.iterdir() if path.is_file()}
    assert after == before


@pytest.mark.slow
def test_manifest_lists_every_file_with_its_digest(generated: Any, tmp_path: Path) -> None:
    import hashlib

    with Simulator(generated.fleet) as sim:
        run(sim, tmp_path, "--fail-on", "never")
    run_dir = tmp_path / PERIOD
    manifest = json.loads((run_dir / "manifest.json").read_text())
    files = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest
    assert manifest["snapshot_sha256"] == manifest["files"]["snapshot.json.gz"]


@pytest.mark.slow
def test_exit_codes(simulator: Simulator, tmp_path: Path) -> None:
    # The shared fleet has an unlicensed Windows server and a datacenter that always fails.
    assert run(simulator, tmp_path / "a") == 3
    document = load_findings(tmp_path / "a" / PERIOD)
    assert document["run"]["coverage"]["complete"] is False
    assert document["run"]["coverage"]["failures"][0]["datacenter_id"] == 3


@pytest.mark.slow
def test_fail_on_thresholds(fleet_data: dict[str, Any], tmp_path: Path) -> None:
    fleet_data["faults"] = []
    with Simulator(Fleet.from_json(fleet_data, "fleet")) as sim:
        assert run(sim, tmp_path / "high") == 1
        assert run(sim, tmp_path / "never", "--fail-on", "never") == 0
    fleet_data["services"] = fleet_data["services"][:1]
    fleet_data["services"][0]["datacenters"][0]["vms"] = [
        vm
        for vm in fleet_data["services"][0]["datacenters"][0]["vms"]
        if vm["name"] == "web-prod-01"
    ]
    fleet_data["services"][0]["datacenters"] = fleet_data["services"][0]["datacenters"][:1]
    with Simulator(Fleet.from_json(fleet_data, "fleet")) as sim:
        assert run(sim, tmp_path / "clean", "--fail-on", "info") == 0


def test_bad_exceptions_register_writes_nothing(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "exceptions.csv"
    register.write_text(
        "service_name,datacenter_id,vm_id,rule_id,kind,reason,approved_by,expires,reference\n"
        "pcc-1,one,1074,WIN-UNLICENSED,byol,,,,\n"
    )
    code = run(simulator, tmp_path / "out", "--exceptions", str(register))
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "exceptions.csv" in error and "line 2" in error and "datacenter_id" in error
    assert not (tmp_path / "out").exists()
    assert simulator.stats.requests == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OVH_APPLICATION_SECRET", "not-the-secret", "InvalidCredential"),
        ("OVH_APPLICATION_KEY", "nobody", "InvalidKey"),
        # a consumer key the API does not know (or not validated yet): where to validate it
        ("OVH_CONSUMER_KEY", "unknown-consumer-key", "opens the validation URL"),
    ],
)
def test_refused_credentials_exit_2_without_leaking(
    simulator: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert run(simulator, tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert value not in error and SECRET not in error
    assert ("validation URL" in error) is (variable == "OVH_CONSUMER_KEY")
    assert not (tmp_path / "out" / PERIOD).exists()


def test_missing_credentials_and_bad_period_exit_2(
    simulator: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("OVH_CONSUMER_KEY")
    assert run(simulator, tmp_path) == 2
    assert "consumer key" in capsys.readouterr().err
    assert main(["run", "--period", "2026-13", "--from-snapshot", "x"]) == 2
    assert "--period '2026-13'" in capsys.readouterr().err


@pytest.mark.slow
def test_rerunning_a_period_replaces_its_folder(simulator: Simulator, tmp_path: Path) -> None:
    run(simulator, tmp_path)
    (tmp_path / PERIOD / "stale-note.txt").write_text("left over")
    run(simulator, tmp_path)
    assert not (tmp_path / PERIOD / "stale-note.txt").exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "\tTAB",
    'quote " and, comma',
    "line\nbreak",
    "<script>alert(1)</script>",
    "serveur-élan-数据",
    "lone-\ud800-surrogate",
]


@pytest.mark.slow
def test_hostile_names_are_neutralised_in_csv(fleet_data: dict[str, Any], tmp_path: Path) -> None:
    vms = fleet_data["services"][0]["datacenters"][0]["vms"]
    for index, name in enumerate(HOSTILE_NAMES):
        vms.append(api_vm(5000 + index, "windows2019srv_64Guest", None, name=name, **PLACED))
    fleet_data["faults"] = []
    with Simulator(Fleet.from_json(fleet_data, "fleet")) as sim:
        run(sim, tmp_path)
    with (tmp_path / PERIOD / "findings.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_id = {row["vm_id"]: row["vm_name"] for row in rows if row["rule_id"] == "WIN-UNLICENSED"}
    for index, name in enumerate(HOSTILE_NAMES):
        cell = by_id[str(5000 + index)]
        if name[0] in "=+-@\t":
            assert cell == "'" + name
        elif "\ud800" in name:  # invalid unicode from the API is replaced, not a crash
            assert cell == name.replace("\ud800", "\ufffd")
        else:
            assert cell == name
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.slow
def test_no_credential_in_any_output(simulator: Simulator, tmp_path: Path) -> None:
    run(simulator, tmp_path)
    for path in (tmp_path / PERIOD).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                data = gzip.decompress(data)
            assert SECRET.encode() not in data, path
            assert READONLY_CONSUMER_KEY.encode() not in data, path


@pytest.mark.slow
def test_unwritable_output_folder_is_a_one_line_error(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    assert run(simulator, blocker / "out") == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "not-a-folder" in error
