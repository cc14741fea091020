"""Applying plans against the simulator: the tool, the generated script and their safety rails.

Everything goes through the real `ovh` client over HTTP; the simulator's licence tasks are
made fast, and so is the polling.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import ovh
import pytest

from audit.cli.auth import REMEDIATION_RULES
from audit.cli.main import main as cli_main
from audit.collect.api import ClientFactory, Credentials, resolve_endpoint
from audit.remediate.script import PLAN_CONSTANT, PLAN_FILE, SCRIPT_FILE, render_script
from audit.run_folder import REMEDIATION_DIR
from audit.runtime.cli import main as runtime_main
from audit.runtime.ovhapi import network_cause
from audit.runtime.plan import Action, ActionKind, Plan
from audit.runtime.results import Outcome, read_results, rollback_plan
from audit.runtime.runner import (
    ApplyOptions,
    KeyRefused,
    Report,
    StoppedBySignal,
    Unreachable,
    remediate,
)
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    REMEDIATE_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.fleet import Fleet, Vm
from audit.simulator.server import Simulator
from tests.helpers.remediation import FORMULA, INJECTION, MARKUP, SERVICE, fleet_document, month

HOSTILE = (
    INJECTION,
    FORMULA,
    MARKUP,
    "'''\"\"\"\\",
    "\x1b[31mred\x00",
    '\\"\u2028)\nimport os  # \\u0022',
    "{PLAN_JSON}\r\n😀",
)
FAST = ApplyOptions(apply=True, poll_interval_s=0.01, task_timeout_s=10, retry_delay_s=0.01)


# The licence actions the plan holds for that fleet, in plan order: (vm, action, target).
EXPECTED = [
    (101, "setLicense", "windows 2019 Standard"),
    (106, "setLicense", "windows 2025 Standard"),
    (107, "setLicense", "windows 2019 Standard"),
    (102, "removeLicense", None),
    (108, "removeLicense", None),
    (103, "setLicense", "windows 2022 Datacenter"),
]


def simulator(task_seconds: float = 0.02, faults: tuple[str, ...] = ()) -> Simulator:
    """The fleet above; each path in `faults` always answers 503."""
    document = {**fleet_document(), "faults": [{"path": p, "status": 503} for p in faults]}
    return Simulator(
        Fleet.from_json(document, "remediation fleet"), SimulatorConfig(task_seconds=task_seconds)
    )


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with simulator() as running:
        yield running


def licences(sim: Simulator) -> dict[int, str | None]:
    return {vm.vm_id: vm.license for _, _, vm in sim.fleet.vms()}


class Recording:
    """The real client, with every call it makes written down (a fake at the boundary)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._endpoint = client._endpoint
        self.calls: list[tuple[str, str]] = []

    def get(self, _target: str, _need_auth: bool = True, **kwargs: Any) -> Any:
        self.calls.append(("GET", _target))
        return self.client.get(_target, **kwargs)

    def post(self, _target: str, _need_auth: bool = True, **kwargs: Any) -> Any:
        self.calls.append(("POST", _target))
        return self.client.post(_target, **kwargs)

    @property
    def posts(self) -> list[str]:
        return [path for method, path in self.calls if method == "POST"]


def client(sim: Simulator, consumer_key: str = REMEDIATE_CONSUMER_KEY) -> Recording:
    credentials = Credentials(DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, consumer_key)
    return Recording(ClientFactory(resolve_endpoint(sim.url), credentials).new_client())


@pytest.fixture
def plan(sim: Simulator, tmp_path: Path) -> Plan:
    return month(sim, tmp_path / "runs", "2026-01").plan


def outcomes(report: Report) -> dict[int | None, Outcome]:
    return {result.action.vm_id: result.outcome for result in report.results}


def run(sim: Simulator, plan: Plan, tmp_path: Path, options: ApplyOptions = FAST) -> Report:
    return remediate(client(sim), plan, options, tmp_path / "results", say=lambda _line: None)


def plan_file(plan: Plan, folder: Path) -> Path:
    path = folder / PLAN_FILE
    path.write_text(plan.to_text())
    return path


@pytest.fixture
def ovh_env(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Credentials the `ovh` way, for the command and the script."""
    env = {
        "OVH_APPLICATION_KEY": DEFAULT_APPLICATION_KEY,
        "OVH_APPLICATION_SECRET": DEFAULT_APPLICATION_SECRET,
        "OVH_CONSUMER_KEY": REMEDIATE_CONSUMER_KEY,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setitem(ovh.client.ENDPOINTS, sim.url, sim.url)
    return env


# --- the plan in the run folder ------------------------------------------------------------------


def test_run_writes_plan_and_script_listed_in_the_manifest(sim: Simulator, tmp_path: Path) -> None:
    result = month(sim, tmp_path, "2026-01")
    folder = result.run_dir / REMEDIATION_DIR
    text = (folder / PLAN_FILE).read_text()
    assert Plan.from_text(text, PLAN_FILE) == result.plan
    assert result.plan.snapshot_sha256 == result.snapshot_sha256
    assert result.plan_sha256 == result.plan.sha256
    files = json.loads((result.run_dir / "manifest.json").read_text())["files"]
    assert files[f"{REMEDIATION_DIR}/{PLAN_FILE}"] == result.plan_sha256
    assert f"{REMEDIATION_DIR}/{SCRIPT_FILE}" in files
    changes = [(a.vm_id, a.action.value, a.target_license) for a in result.plan.actions]
    assert changes[: len(EXPECTED)] == EXPECTED
    assert [a.vm_id for a in result.plan.actions[len(EXPECTED) :]] == [104]


# --- applying -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_apply_then_the_next_run_shows_the_findings_fixed(
    sim: Simulator, plan: Plan, tmp_path: Path
) -> None:
    report = run(sim, plan, tmp_path)
    assert report.exit_code == 0
    assert {vm: outcome for vm, outcome in outcomes(report).items()} == {
        **{vm: Outcome.APPLIED for vm, _, _ in EXPECTED},
        104: Outcome.MANUAL,
    }
    assert licences(sim) == {
        101: "windows 2019 Standard",
        102: None,
        103: "windows 2022 Datacenter",
        104: None,
        105: "windows 2019 Standard",
        106: "windows 2025 Standard",
        107: "windows 2019 Standard",
        108: None,
    }
    again = month(sim, tmp_path / "runs", "2026-02")
    still_open = {(f.rule_id, f.vm_id) for f in again.evaluation.findings}
    assert still_open == {("WIN-UNLICENSED", 104)}
    assert [a.vm_id for a in again.plan.actions] == [104]


@pytest.mark.slow
def test_dry_run_changes_nothing(sim: Simulator, plan: Plan, tmp_path: Path) -> None:
    before = sim.fleet.to_json()
    recording = client(sim, READONLY_CONSUMER_KEY)  # a dry run needs no POST right
    report = remediate(recording, plan, replace(FAST, apply=False), tmp_path, lambda _: None)
    assert sim.fleet.to_json() == before
    assert recording.posts == []
    assert {vm: outcome for vm, outcome in outcomes(report).items() if vm != 104} == {
        vm: Outcome.WOULD_APPLY for vm, _, _ in EXPECTED
    }
    assert report.rollback_path is None and report.exit_code == 0


def test_the_cap_holds(sim: Simulator, plan: Plan, tmp_path: Path) -> None:
    recording = client(sim)
    report = remediate(recording, plan, replace(FAST, max_changes=2), tmp_path, lambda _: None)
    assert len(recording.posts) == 2
    got = outcomes(report)
    assert [got[vm] for vm, _, _ in EXPECTED] == [Outcome.APPLIED] * 2 + [Outcome.CAPPED] * 4
    assert licences(sim)[107] is None  # the third action was not touched


def test_an_action_whose_vm_changed_is_skipped(sim: Simulator, plan: Plan, tmp_path: Path) -> None:
    datacenter = sim.api.fleet.services[SERVICE].datacenters[1]
    datacenter.set_license(101, "windows 2019 Datacenter")  # someone licensed it meanwhile
    reconfigured = dict(datacenter.vms[102].fields, guestOsFamily="windows2019srv_64Guest")
    datacenter.vms[102] = Vm(MappingProxyType(reconfigured))  # and fixed 102's guest OS
    datacenter.set_license(107, "unlicensed windows guestos")  # no licence, in words: no change
    report = run(sim, plan, tmp_path)
    by_vm = {result.action.vm_id: result for result in report.results}
    assert by_vm[101].outcome is Outcome.SKIPPED
    assert "licence is now 'windows 2019 Datacenter'" in by_vm[101].message
    assert by_vm[102].outcome is Outcome.SKIPPED
    assert "guest OS is now 'windows2019srv_64Guest'" in by_vm[102].message
    assert licences(sim)[101] == "windows 2019 Datacenter"
    assert licences(sim)[102] == "windows 2019 Standard"
    assert by_vm[107].outcome is Outcome.APPLIED
    assert report.exit_code == 0


@pytest.mark.slow
def test_rollback_restores_the_previous_licences(
    sim: Simulator, plan: Plan, tmp_path: Path, ovh_env: dict[str, str]
) -> None:
    before = licences(sim)
    report = run(sim, plan, tmp_path)
    assert report.rollback_path is not None
    written = Plan.from_text(report.rollback_path.read_text(), "rollback")
    rows = read_results(report.results_path)
    assert written == rollback_plan(rows, str(report.results_path))
    assert written.rollback_of == plan.sha256
    assert [a.vm_id for a in written.actions] == [vm for vm, _, _ in reversed(EXPECTED)]
    code = cli_main(
        [
            "remediate",
            "--rollback",
            str(report.results_path),
            "--apply",
            "--endpoint",
            sim.url,
            "--results-dir",
            str(tmp_path / "rollback"),
        ]
    )
    assert code == 0
    # 'unlicensed windows guestos' cannot be set: the nearest is no licence.
    assert licences(sim) == {**before, 106: None}


def test_a_read_only_key_stops_at_the_first_post(
    sim: Simulator, plan: Plan, tmp_path: Path
) -> None:
    before = sim.fleet.to_json()
    recording = client(sim, READONLY_CONSUMER_KEY)
    with pytest.raises(KeyRefused) as raised:
        remediate(recording, plan, FAST, tmp_path, lambda _: None)
    # the one recipe for a remediation key: what `auth request --remediation` asks for
    assert "auth request --remediation" in str(raised.value)
    assert f"POST {REMEDIATION_RULES[0][1]} and .../removeLicense" in str(raised.value)
    assert [method for method, _ in REMEDIATION_RULES] == ["POST", "POST"]
    assert REMEDIATION_RULES[1][1].endswith("/vm/*/removeLicense")
    assert "nothing was changed" in str(raised.value)
    assert recording.calls[-1][0] == "POST" and len(recording.posts) == 1
    assert sim.fleet.to_json() == before
    (results,) = tmp_path.glob("remediation-apply-*.csv")
    assert [row["outcome"] for row in read_results(results)] == ["refused"] + ["not-attempted"] * (
        len(plan.actions) - 1
    )


def test_the_command_exits_2_on_a_read_only_key(
    sim: Simulator,
    plan: Plan,
    tmp_path: Path,
    ovh_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OVH_CONSUMER_KEY", READONLY_CONSUMER_KEY)
    plan_path = plan_file(plan, tmp_path)
    args = ["remediate", str(plan_path), "--apply", "--endpoint", sim.url]
    assert cli_main([*args, "--results-dir", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "NotGrantedCall" in line and "auth request --remediation" in line


def test_a_guest_os_refusal_is_recorded_and_the_rest_goes_on(
    sim: Simulator, tmp_path: Path
) -> None:
    refused = Action(
        action=ActionKind.SET_LICENSE,
        service_name=SERVICE,
        datacenter_id=1,
        vm_id=103,
        vm_name="win2022-mismatch",
        rule_id="LIC-VERSION-MISMATCH",
        current_license="windows 2019 Datacenter",
        target_license="windows 2019 Standard",  # still 2019: the guest is 2022
        reason="test",
        guest_os_family="windows2019srvNext_64Guest",
    )
    fine = replace(
        refused,
        vm_id=101,
        current_license=None,
        guest_os_family="windows2019srv_64Guest",
        rule_id="WIN-UNLICENSED",
    )
    report = run(sim, Plan("ab" * 32, (refused, fine)), tmp_path)
    first, second = report.results
    assert first.outcome is Outcome.FAILED
    assert "does not fit the guest OS family" in first.message
    assert second.outcome is Outcome.APPLIED
    assert licences(sim)[101] == "windows 2019 Standard"
    assert report.exit_code == 1
    (row, _) = read_results(report.results_path)
    assert row["outcome"] == "failed" and "does not fit" in row["message"]


def test_a_task_that_does_not_end_in_time_is_pending_and_rolled_back(
    plan: Plan, tmp_path: Path
) -> None:
    with simulator(task_seconds=60) as slow:
        options = replace(FAST, task_timeout_s=0.1, max_changes=1)
        report = run(slow, plan, tmp_path, options)
        first = report.results[0]
        assert first.outcome is Outcome.PENDING
        assert first.task_id is not None and first.task_state in ("todo", "doing")
        assert "after 0.1 s" in first.message
        assert report.exit_code == 1
        assert report.rollback_path is not None
        rollback = Plan.from_text(report.rollback_path.read_text(), "rollback")
        assert [(a.vm_id, a.action) for a in rollback.actions] == [
            (first.action.vm_id, ActionKind.REMOVE_LICENSE)
        ]
        # It never landed: the rollback's own check finds the VM as it was and skips it.
        undone = run(slow, rollback, tmp_path / "undo")
        assert [r.outcome for r in undone.results] == [Outcome.SKIPPED]
        assert licences(slow)[first.action.vm_id] is None


@pytest.mark.slow
def test_a_server_error_on_a_change_is_not_retried_and_counts_as_pending(
    plan: Plan, tmp_path: Path
) -> None:
    """After a 5xx the change may have been made: sending it again is not ours to risk."""
    path = f"/dedicatedCloud/{SERVICE}/datacenter/1/vm/101/setLicense"
    with simulator(faults=(path,)) as faulty:
        recording = client(faulty)
        report = remediate(recording, plan, FAST, tmp_path, lambda _: None)
        assert recording.posts.count(path) == 1
        got = {result.action.vm_id: result for result in report.results}
        assert got[101].outcome is Outcome.PENDING
        assert "HTTP 503" in got[101].message and "may or may not" in got[101].message
        assert [got[vm].outcome for vm, _, _ in EXPECTED[1:]] == [Outcome.APPLIED] * 5
        assert report.exit_code == 1
        assert report.rollback_path is not None
        rollback = Plan.from_text(report.rollback_path.read_text(), "rollback")
        assert 101 in {action.vm_id for action in rollback.actions}


def test_the_command_rejects_a_bad_plan_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"snapshot_sha256": null, "actions": [{"action": "setLicense"}]}')
    assert cli_main(["remediate", str(bad)]) == 2
    assert cli_main(["remediate", str(tmp_path / "missing.json")]) == 2
    assert cli_main(["remediate"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert "actions[0].service_name: missing" in lines[0]
    assert "cannot read" in lines[1]
    assert "PLAN" in lines[2]


# --- the results file ---------------------------------------------------------------------------


def test_results_csv_neutralises_formulas_and_reads_back_exactly(
    sim: Simulator, plan: Plan, tmp_path: Path
) -> None:
    report = run(sim, plan, tmp_path, replace(FAST, apply=False))
    with report.results_path.open(encoding="utf-8", newline="") as handle:
        raw = {row["vm_id"]: row for row in csv.DictReader(handle)}
    assert raw["107"]["vm_name"] == "'" + FORMULA
    for row in raw.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@"))
    names = {row["vm_id"]: row["vm_name"] for row in read_results(report.results_path)}
    assert names["107"] == FORMULA and names["106"] == INJECTION and names["108"] == MARKUP


# --- the generated script -----------------------------------------------------------------------


def identifiers(tree: ast.AST) -> set[str]:
    """Every name the code uses: what hostile data must never become."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.alias):
            found.add(node.name)
        elif isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
    return found


def hostile_plan() -> Plan:
    action = Action(
        action=ActionKind.SET_LICENSE,
        service_name=INJECTION,
        datacenter_id=1,
        vm_id=2,
        vm_name=None,
        rule_id=FORMULA,
        current_license=MARKUP,
        target_license=INJECTION,
        reason="\n".join(HOSTILE),
        guest_os_family=MARKUP,
    )
    named = [replace(action, vm_name=name, vm_id=index) for index, name in enumerate(HOSTILE)]
    return Plan(INJECTION, tuple(named), rollback_of=FORMULA)


@pytest.mark.slow
def test_hostile_values_are_only_data_in_the_script(plan: Plan) -> None:
    benign = Plan("ab" * 32, ())
    benign_names = identifiers(ast.parse(render_script(benign)))
    for hostile in (plan, hostile_plan()):
        script = render_script(hostile)
        tree = ast.parse(script)
        assert identifiers(tree) == benign_names
        assignment = next(
            node
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == PLAN_CONSTANT
        )
        assert isinstance(assignment.value, ast.Constant)
        assert Plan.from_text(assignment.value.value, "embedded") == hostile
        # Nowhere in the code, outside that one constant, does a hostile value appear.
        outside = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
        for node in outside:
            if node is not assignment.value:
                assert not any(value in node.value for value in HOSTILE)
        for line in script.splitlines():
            if not line.startswith('    "'):  # a line of the plan literal
                assert INJECTION not in line and "os.system" not in line


def test_the_script_needs_only_the_standard_library_and_ovh(plan: Plan) -> None:
    tree = ast.parse(render_script(plan))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported - set(sys.stdlib_module_names) == {"ovh"}


def script_run(
    script: Path, sim: Simulator, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), "--endpoint", sim.url, *args],
        capture_output=True,
        text=True,
        cwd=script.parent,
        env={"PATH": os.environ.get("PATH", ""), **env},
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_the_generated_script_runs_dry_then_applies(
    sim: Simulator, tmp_path: Path, ovh_env: dict[str, str]
) -> None:
    result = month(sim, tmp_path / "runs", "2026-01")
    script = tmp_path / "copy" / SCRIPT_FILE  # away from the package: it must stand alone
    script.parent.mkdir()
    script.write_text((result.run_dir / REMEDIATION_DIR / SCRIPT_FILE).read_text())
    before = sim.fleet.to_json()

    dry = script_run(script, sim, ovh_env)
    assert dry.returncode == 0, dry.stderr
    assert f"plan sha256 {result.plan_sha256}" in dry.stdout
    assert "dry run: nothing will be changed" in dry.stdout
    assert INJECTION not in dry.stdout.replace(repr(INJECTION), "")  # shown quoted
    assert sim.fleet.to_json() == before

    applied = script_run(script, sim, ovh_env, "--apply", "--max-changes", "3")
    assert applied.returncode == 0, applied.stderr
    assert "3 applied" in applied.stdout
    assert sum(licences(sim)[vm] != before_licence for vm, before_licence in _licences(before)) == 3
    (results,) = script.parent.glob("remediation-apply-*.csv")
    (rollback,) = script.parent.glob("remediation-rollback-*.json")

    undo = script_run(script, sim, ovh_env, "--plan", str(rollback), "--apply")
    assert undo.returncode == 0, undo.stderr
    assert licences(sim) == {**dict(_licences(before)), 106: None}
    assert read_results(results)[0]["plan_sha256"] == result.plan_sha256

    # Credentials are never printed nor written beside the results.
    secrets = (ovh_env["OVH_APPLICATION_SECRET"], ovh_env["OVH_CONSUMER_KEY"])
    written = [path.read_text(encoding="utf-8") for path in script.parent.glob("remediation-*")]
    for text in (dry.stdout, dry.stderr, applied.stdout, applied.stderr, undo.stdout, *written):
        assert not any(secret in text for secret in secrets)


def _licences(fleet_json: dict[str, Any]) -> list[tuple[int, str | None]]:
    return [
        (vm["vmId"], vm.get("license"))
        for service in fleet_json["services"]
        for datacenter in service["datacenters"]
        for vm in datacenter["vms"]
    ]


@pytest.mark.slow
def test_the_script_refuses_a_read_only_key_with_one_line(
    sim: Simulator, plan: Plan, tmp_path: Path, ovh_env: dict[str, str]
) -> None:
    script = tmp_path / SCRIPT_FILE
    script.write_text(render_script(plan))
    env = {**ovh_env, "OVH_CONSUMER_KEY": READONLY_CONSUMER_KEY}
    before = sim.fleet.to_json()
    refused = script_run(script, sim, env, "--apply")
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert line.startswith("remediate.py: error:") and "auth request --remediation" in line
    assert sim.fleet.to_json() == before


# --- a run that cannot go on: the endpoint is gone, or the process is told to stop ---------------


def closed_port_url() -> str:
    """An endpoint where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/1.0"


def remediate_client(url: str) -> Recording:
    credentials = Credentials(
        DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, REMEDIATE_CONSUMER_KEY
    )
    return Recording(ClientFactory(resolve_endpoint(url), credentials).new_client())


def assert_one_clean_line(text: str, *expected: str) -> str:
    """One line naming what it must, without the urllib3 object reprs."""
    (line,) = text.splitlines()
    for part in expected:
        assert part in line
    for raw in ("urllib3", "HTTPConnection", "object at 0x", "Max retries", "Caused by"):
        assert raw not in line
    return line


def results_and_rollback(folder: Path) -> tuple[list[dict[str, str]], Plan]:
    (results,) = folder.glob("remediation-apply-*.csv")
    (rollback,) = folder.glob("remediation-rollback-*.json")
    return read_results(results), Plan.from_text(rollback.read_text(), "rollback")


def test_a_network_failure_is_named_in_a_few_words() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mute = f"http://127.0.0.1:{silent.getsockname()[1]}/1.0"
        causes = []
        for url in (closed_port_url(), mute):
            credentials = Credentials("a", "b", "c")
            factory = ClientFactory(resolve_endpoint(url), credentials, timeout=(5, 0.05))
            with pytest.raises(ovh.exceptions.HTTPError) as raised:
                factory.new_client().get("/dedicatedCloud")
            causes.append(network_cause(raised.value))
    assert causes == ["Connection refused", "Read timed out. (read timeout=0.05)"]


def test_an_unreachable_endpoint_stops_at_the_first_failure(plan: Plan, tmp_path: Path) -> None:
    url = closed_port_url()
    recording = remediate_client(url)
    with pytest.raises(Unreachable) as raised:
        remediate(recording, plan, FAST, tmp_path, lambda _: None)
    line = assert_one_clean_line(str(raised.value), url, "Connection refused")
    assert "nothing was changed" in line and "remediation-rollback-" in line
    # The first VM read is retried (bounded), and nothing after it is tried at all.
    first = plan.actions[0].vm_path
    assert recording.calls == [("GET", first)] * (FAST.retries + 1)
    rows, rollback = results_and_rollback(tmp_path)
    assert [row["outcome"] for row in rows] == ["failed"] + ["not-attempted"] * (
        len(plan.actions) - 1
    )
    assert "Connection refused" in rows[0]["message"] and "urllib3" not in rows[0]["message"]
    assert rollback.actions == ()


def test_a_connection_lost_mid_run_leaves_the_rollback_of_what_was_applied(
    plan: Plan, tmp_path: Path
) -> None:
    with simulator() as going:

        def say(line: str) -> None:
            if line.startswith("[1/"):
                going.stop()  # the API goes away after the first change

        url = going.url
        with pytest.raises(Unreachable) as raised:
            remediate(client(going), plan, FAST, tmp_path, say)
    assert_one_clean_line(str(raised.value), url, "1 change(s) made", "remediation-rollback-")
    rows, rollback = results_and_rollback(tmp_path)
    assert [row["outcome"] for row in rows] == ["applied", "failed"] + ["not-attempted"] * (
        len(plan.actions) - 2
    )
    assert [a.vm_id for a in rollback.actions] == [EXPECTED[0][0]]


def test_the_command_stops_at_an_unreachable_endpoint_with_one_line(
    plan: Plan,
    tmp_path: Path,
    ovh_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    delays: list[float] = []
    monkeypatch.setattr("time.sleep", delays.append)  # the default backoff, without the wait
    plan_path = plan_file(plan, tmp_path)
    url = closed_port_url()
    args = ["remediate", str(plan_path), "--apply", "--endpoint", url]
    assert cli_main([*args, "--results-dir", str(tmp_path / "out")]) == 2
    assert len(delays) == 4  # one action's bounded retries, not one series per action
    line = assert_one_clean_line(capsys.readouterr().err, url, "Connection refused")
    assert line.startswith("ovh-license-audit: error:")
    rows, rollback = results_and_rollback(tmp_path / "out")
    assert [row["outcome"] for row in rows][1:] == ["not-attempted"] * (len(plan.actions) - 1)
    assert rollback.actions == ()


@pytest.mark.slow
def test_the_script_stops_at_an_unreachable_endpoint_with_one_line(
    plan: Plan, tmp_path: Path, ovh_env: dict[str, str]
) -> None:
    script = tmp_path / SCRIPT_FILE
    script.write_text(render_script(plan))
    url = closed_port_url()
    # The generated script as __main__, with the retry backoff not waited for.
    run_script = (
        "import runpy, sys, time; time.sleep = lambda _s: None; "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", run_script, str(script), "--endpoint", url, "--apply"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), **ovh_env},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    line = assert_one_clean_line(done.stderr, url, "Connection refused", "remediation-rollback-")
    assert line.startswith("remediate.py: error:")
    rows, rollback = results_and_rollback(tmp_path)
    assert [row["outcome"] for row in rows][1:] == ["not-attempted"] * (len(plan.actions) - 1)
    assert rollback.actions == ()


def test_sigterm_stops_after_the_current_action_with_a_rollback_plan(
    sim: Simulator, plan: Plan, tmp_path: Path
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    untouched = licences(sim)

    def say(line: str) -> None:
        if line.startswith("[1/"):
            signal.raise_signal(signal.SIGTERM)

    with pytest.raises(StoppedBySignal) as raised:
        remediate(client(sim), plan, FAST, tmp_path, say)
    assert_one_clean_line(str(raised.value), "SIGTERM", "remediation-rollback-")
    assert signal.getsignal(signal.SIGTERM) == before
    rows, rollback = results_and_rollback(tmp_path)
    assert [row["outcome"] for row in rows] == ["applied"] + ["not-attempted"] * (
        len(plan.actions) - 1
    )
    assert [a.vm_id for a in rollback.actions] == [EXPECTED[0][0]]
    assert licences(sim) == {**untouched, 101: EXPECTED[0][2]}  # nothing after the first


class SignalledTwice(Recording):
    """Sends the first change, then gets SIGTERM twice before its answer is read."""

    def post(self, _target: str, _need_auth: bool = True, **kwargs: Any) -> Any:
        answer = super().post(_target, **kwargs)
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # the second one stops at once
        return answer


def test_a_second_signal_stops_at_once_and_the_change_in_flight_is_pending(
    sim: Simulator, plan: Plan, tmp_path: Path
) -> None:
    signalled = SignalledTwice(client(sim).client)
    with pytest.raises(StoppedBySignal) as raised:
        remediate(signalled, plan, FAST, tmp_path, lambda _: None)
    assert_one_clean_line(str(raised.value), "interrupted at", "remediation-rollback-")
    assert len(signalled.posts) == 1
    rows, rollback = results_and_rollback(tmp_path)
    assert [row["outcome"] for row in rows] == ["pending"] + ["not-attempted"] * (
        len(plan.actions) - 1
    )
    assert [a.vm_id for a in rollback.actions] == [EXPECTED[0][0]]


def posts_seen(running: Simulator, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the simulator has answered a licence change."""
    seen = threading.Event()
    handle = running.api.handle

    def spy(request: Any) -> Any:
        response = handle(request)
        if request.method == "POST":
            seen.set()
        return response

    monkeypatch.setattr(running.api, "handle", spy)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["command", "script"])
def test_sigterm_to_the_process_during_a_task_writes_the_rollback_plan(
    tool: str,
    plan: Plan,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with simulator(task_seconds=120) as slow:  # the first task is still running at SIGTERM
        env = {
            "PATH": os.environ.get("PATH", ""),
            "OVH_APPLICATION_KEY": DEFAULT_APPLICATION_KEY,
            "OVH_APPLICATION_SECRET": DEFAULT_APPLICATION_SECRET,
            "OVH_CONSUMER_KEY": REMEDIATE_CONSUMER_KEY,
        }
        plan_path = plan_file(plan, tmp_path)
        script = tmp_path / SCRIPT_FILE
        script.write_text(render_script(plan))
        program = (
            [sys.executable, "-m", "audit", "remediate", str(plan_path)]
            if tool == "command"
            else [sys.executable, str(script)]
        )
        seen = posts_seen(slow, monkeypatch)
        process = subprocess.Popen(
            [*program, "--apply", "--endpoint", slow.url, "--results-dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert seen.wait(timeout=60)
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 2
    assert_one_clean_line(err, "SIGTERM", "remediation-rollback-")
    rows, rollback = results_and_rollback(tmp_path)
    assert [row["outcome"] for row in rows] == ["pending"] + ["not-attempted"] * (
        len(plan.actions) - 1
    )
    assert rows[0]["task_id"]
    assert [a.vm_id for a in rollback.actions] == [EXPECTED[0][0]]


def test_a_plan_edited_in_its_run_folder_is_refused_before_any_call(
    sim: Simulator,
    plan: Plan,
    tmp_path: Path,
    ovh_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Datacenter licence typed into plan.json after the run: `report` refuses the folder,
    and so does `remediate`, before it asks the API anything."""
    plan_path = tmp_path / "runs" / "2026-01" / REMEDIATION_DIR / PLAN_FILE
    text = plan_path.read_text()
    assert '"target_license": "windows 2019 Standard"' in text
    plan_path.write_text(text.replace("windows 2019 Standard", "windows 2019 Datacenter", 1))
    before, asked = sim.fleet.to_json(), sim.stats.requests
    args = ["remediate", str(plan_path), "--apply", "--endpoint", sim.url]
    assert cli_main([*args, "--results-dir", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"ovh-license-audit: error: {plan_path}: differs from its sha256 in manifest.json "
        "(changed since the run); nothing done"
    )
    assert sim.stats.requests == asked and sim.fleet.to_json() == before
    assert not (tmp_path / "out").exists()


def test_the_plan_the_run_wrote_is_applied(
    sim: Simulator, plan: Plan, tmp_path: Path, ovh_env: dict[str, str]
) -> None:
    plan_path = tmp_path / "runs" / "2026-01" / REMEDIATION_DIR / PLAN_FILE
    args = ["remediate", str(plan_path), "--apply", "--endpoint", sim.url]
    assert cli_main([*args, "--results-dir", str(tmp_path / "out")]) == 0
    assert licences(sim)[101] == "windows 2019 Standard"


def test_expect_sha256_applies_only_the_plan_approved(
    sim: Simulator,
    plan: Plan,
    tmp_path: Path,
    ovh_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = plan_file(plan, tmp_path)  # outside its run folder: no manifest to check against
    args = ["remediate", str(copy), "--apply", "--endpoint", sim.url, "--results-dir"]
    wrong = "0" * 64
    assert cli_main([*args, str(tmp_path / "refused"), "--expect-sha256", wrong]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"is not the approved {wrong} (--expect-sha256)" in line
    assert not (tmp_path / "refused").exists()
    assert licences(sim)[101] is None
    approved = plan.sha256.upper()  # as a checksum tool may print it
    assert cli_main([*args, str(tmp_path / "out"), "--expect-sha256", approved]) == 0
    assert licences(sim)[101] == "windows 2019 Standard"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "never"])
@pytest.mark.parametrize("tool", ["command", "script"])
def test_a_task_timeout_that_is_not_a_positive_number_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, tool: str
) -> None:
    args = ["--task-timeout", value]
    with pytest.raises(SystemExit) as exit_code:
        if tool == "command":
            cli_main(["remediate", str(tmp_path / "plan.json"), *args])
        else:
            runtime_main(args, embedded_plan="{}")
    assert exit_code.value.code == 2
    assert "--task-timeout" in capsys.readouterr().err
