"""Plan building (pure): which open finding becomes which action, and the plan file itself."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field, replace

import pytest

from audit.config.settings import RemediationConfig
from audit.evaluate.inventory import inventory_of
from audit.evaluate.rules.registry import RULE_IDS, rule_by_id
from audit.history.changes import VmState
from audit.model.exposure import Exposure, Source, VmPeriod
from audit.model.findings import Finding, Severity, Status
from audit.model.snapshot import DatacenterSnapshot, ServiceSnapshot, Snapshot, SnapshotMeta
from audit.remediate.plan import BYPASS_FLAG, MANUAL_RULES, PLANNERS, build_plan, seen_licences
from audit.runtime.plan import Action, ActionKind, Plan, PlanError

SNAPSHOT_SHA = "ab" * 32
SERVICE = "pcc-203-0-113-10"


def finding(
    rule_id: str,
    guest: str | None,
    licence: str | None,
    vm_id: int | None = 1074,
    status: Status = Status.OPEN,
    service: str = SERVICE,
) -> Finding:
    return Finding(
        rule_id=rule_id,
        severity=rule_by_id(rule_id).meta.severity,
        status=status,
        service_name=service,
        datacenter_id=1,
        vm_id=vm_id,
        vm_name=f"vm-{vm_id}",
        moref=f"vm-{vm_id}",
        power_state="poweredOn",
        guest_os_family=guest,
        license=licence,
        message=f"{rule_id} fired.",
    )


@dataclass(frozen=True)
class Case:
    name: str
    finding: Finding
    action: ActionKind
    target: str | None = None
    config: RemediationConfig = field(default_factory=RemediationConfig)
    reason_has: str = ""


CASES = (
    Case(
        "unlicensed 2019 gets the default edition",
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None),
        ActionKind.SET_LICENSE,
        "windows 2019 Standard",
    ),
    Case(
        "'unlicensed windows guestos' counts as no licence",
        finding("WIN-UNLICENSED", "windows2019srvNext_64Guest", "unlicensed windows guestos"),
        ActionKind.SET_LICENSE,
        "windows 2022 Standard",
    ),
    Case(
        "edition per version (a Core edition)",
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None),
        ActionKind.SET_LICENSE,
        "windows 2019 Standard Core",
        RemediationConfig(editions={"2019": "Standard Core"}),
    ),
    Case(
        "edition per service wins over per version",
        finding("WIN-UNLICENSED", "windows2022srvNext_64Guest", None),
        ActionKind.SET_LICENSE,
        "windows 2025 Datacenter Core",
        RemediationConfig(
            default_edition="Datacenter",
            editions={"2025": "Standard"},
            services={SERVICE: {"2025": "Datacenter Core"}},
        ),
    ),
    Case(
        "default edition from the configuration",
        finding("WIN-UNLICENSED", "windows2022srvNext_64Guest", None),
        ActionKind.SET_LICENSE,
        "windows 2025 Datacenter",
        RemediationConfig(default_edition="Datacenter"),
    ),
    Case(
        "windows9Server64Guest: the version is unknown, no automatic target",
        finding("WIN-UNLICENSED", "windows9Server64Guest", None),
        ActionKind.MANUAL,
        reason_has="does not tell one Windows version",
    ),
    Case(
        "windows8Server64Guest: 2012 or 2012 R2",
        finding("WIN-UNLICENSED", "windows8Server64Guest", None),
        ActionKind.MANUAL,
        reason_has="does not tell one Windows version",
    ),
    Case(
        "configured edition that does not exist",
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None),
        ActionKind.MANUAL,
        config=RemediationConfig(editions={"2019": "Enterprise"}),
        reason_has="no settable licence 'windows 2019 Enterprise'",
    ),
    Case(
        "2008 R2 guest: its licences can no longer be set",
        finding("WIN-UNLICENSED", "windows7Server64Guest", None),
        ActionKind.MANUAL,
        reason_has="no settable licence 'windows 2008 R2 Standard'",
    ),
    Case(
        "licence on Linux is removed",
        finding("LIC-NON-WINDOWS", "rhel9_64Guest", "windows 2019 Standard"),
        ActionKind.REMOVE_LICENSE,
    ),
    Case(
        "version mismatch: guest version, current edition",
        finding(
            "LIC-VERSION-MISMATCH", "windows2019srvNext_64Guest", "windows 2019 Datacenter Core"
        ),
        ActionKind.SET_LICENSE,
        "windows 2022 Datacenter Core",
    ),
    Case(
        "version mismatch from a legacy licence",
        finding("LIC-VERSION-MISMATCH", "windows2019srv_64Guest", "windows 2012 R2 Standard"),
        ActionKind.SET_LICENSE,
        "windows 2019 Standard",
    ),
    Case(
        "version mismatch whose edition does not exist for the guest version",
        finding(
            "LIC-VERSION-MISMATCH",
            "windows2022srvNext_64Guest",
            "windows 2022 Datacenter SQL2019 Web",
        ),
        ActionKind.MANUAL,
        reason_has="no settable licence 'windows 2025 Datacenter SQL2019 Web'",
    ),
    Case(
        "version mismatch on a 2012 guest: nothing settable",
        finding("LIC-VERSION-MISMATCH", "windows8Server64Guest", "windows 2019 Standard"),
        ActionKind.MANUAL,
        reason_has="does not tell one Windows version",
    ),
    Case(
        "another rule is manual with its remediation",
        finding("GUEST-OS-DRIFT", "windows2019srv_64Guest", "windows 2019 Standard"),
        ActionKind.MANUAL,
        reason_has=rule_by_id("GUEST-OS-DRIFT").meta.remediation,
    ),
    Case(
        "a shortfall on a VM licensed since: nothing to set",
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", "windows 2019 Standard"),
        ActionKind.MANUAL,
        reason_has="carries 'windows 2019 Standard' now: nothing to set",
    ),
    Case(
        "a shortfall on a VM reinstalled as Linux since",
        finding("WIN-UNLICENSED", "rhel9_64Guest", None),
        ActionKind.MANUAL,
    ),
    Case(
        "a licence finding without a VM id is manual",
        finding("LIC-NON-WINDOWS", "rhel9_64Guest", "windows 2019 Standard", vm_id=None),
        ActionKind.MANUAL,
    ),
)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_one_finding(case: Case) -> None:
    plan = build_plan([case.finding], SNAPSHOT_SHA, case.config)
    assert len(plan.actions) == 1
    action = plan.actions[0]
    assert action.action is case.action
    assert action.target_license == case.target
    assert case.reason_has in action.reason
    assert action.rule_id == case.finding.rule_id
    assert action.current_license == case.finding.license
    assert action.guest_os_family == case.finding.guest_os_family
    assert action.bypass_guest_os_family_check is False


def test_waived_and_byol_findings_are_not_acted_on() -> None:
    findings = [
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None, vm_id=1, status=Status.WAIVED),
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None, vm_id=2, status=Status.BYOL),
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None, vm_id=3),
    ]
    plan = build_plan(findings, SNAPSHOT_SHA, RemediationConfig())
    assert [action.vm_id for action in plan.actions] == [3]


def test_allow_bypass_flags_set_licence_actions_only() -> None:
    findings = [
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None, vm_id=1),
        finding("LIC-NON-WINDOWS", "rhel9_64Guest", "windows 2019 Standard", vm_id=2),
        finding("GUEST-OS-UNKNOWN", None, None, vm_id=3),
    ]
    plan = build_plan(findings, SNAPSHOT_SHA, RemediationConfig(), allow_bypass=True)
    by_vm = {action.vm_id: action for action in plan.actions}
    assert by_vm[1].bypass_guest_os_family_check is True
    assert by_vm[1].reason.startswith(BYPASS_FLAG)
    assert not by_vm[2].bypass_guest_os_family_check and not by_vm[3].bypass_guest_os_family_check
    assert BYPASS_FLAG not in by_vm[2].reason + by_vm[3].reason


def test_one_licence_action_per_vm() -> None:
    """Two findings that both want to change one VM's licence: the registry's first keeps it."""
    mismatch = finding("LIC-VERSION-MISMATCH", "windows2019srv_64Guest", "windows 2016 Standard")
    unlicensed = replace(mismatch, rule_id="WIN-UNLICENSED", severity=Severity.HIGH, license=None)
    for order in ([mismatch, unlicensed], [unlicensed, mismatch]):
        plan = build_plan(order, SNAPSHOT_SHA, RemediationConfig())
        kinds = {action.rule_id: action for action in plan.actions}
        assert kinds["WIN-UNLICENSED"].action is ActionKind.SET_LICENSE
        assert kinds["LIC-VERSION-MISMATCH"].action is ActionKind.MANUAL
        assert "already changes the VM's licence for WIN-UNLICENSED" in (
            kinds["LIC-VERSION-MISMATCH"].reason
        )


def mixed_findings() -> list[Finding]:
    return [
        finding("GUEST-OS-UNKNOWN", None, None, vm_id=9),
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None, vm_id=5, service="pcc-b"),
        finding("LIC-NON-WINDOWS", "rhel9_64Guest", "windows 2019 Standard", vm_id=4),
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None, vm_id=7),
        finding("LIC-VERSION-MISMATCH", "windows2019srv_64Guest", "windows 2016 Standard", vm_id=2),
        finding("WIN-UNLICENSED", "windows9Server64Guest", None, vm_id=1),
    ]


def test_plan_is_deterministic_and_ordered_for_the_cap() -> None:
    findings = mixed_findings()
    plan = build_plan(findings, SNAPSHOT_SHA, RemediationConfig())
    for seed in range(5):
        shuffled = list(findings)
        random.Random(seed).shuffle(shuffled)
        again = build_plan(shuffled, SNAPSHOT_SHA, RemediationConfig())
        assert again.to_text() == plan.to_text()
    assert [(a.action.value, a.rule_id, a.vm_id) for a in plan.actions] == [
        ("setLicense", "WIN-UNLICENSED", 7),
        ("setLicense", "WIN-UNLICENSED", 5),
        ("removeLicense", "LIC-NON-WINDOWS", 4),
        ("setLicense", "LIC-VERSION-MISMATCH", 2),
        ("manual", "WIN-UNLICENSED", 1),
        ("manual", "GUEST-OS-UNKNOWN", 9),
    ]


def test_plan_file_shape_digest_and_round_trip() -> None:
    plan = build_plan(mixed_findings(), SNAPSHOT_SHA, RemediationConfig())
    text = plan.to_text()
    assert text.isascii()
    document = json.loads(text)
    assert list(document) == ["snapshot_sha256", "actions"]
    assert document["snapshot_sha256"] == SNAPSHOT_SHA
    assert set(document["actions"][0]) >= {
        "action",
        "service_name",
        "datacenter_id",
        "vm_id",
        "vm_name",
        "rule_id",
        "current_license",
        "target_license",
        "reason",
        "bypassGuestOsFamilyCheck",
    }
    assert len(text.splitlines()) == len(plan.actions) + 5  # one action per line
    assert plan.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert Plan.from_text(text, "plan.json") == plan
    assert plan.counts() == {"setLicense": 3, "removeLicense": 1, "manual": 2}


def test_empty_plan_round_trips() -> None:
    plan = build_plan([], SNAPSHOT_SHA, RemediationConfig())
    assert json.loads(plan.to_text()) == {"snapshot_sha256": SNAPSHOT_SHA, "actions": []}
    assert Plan.from_text(plan.to_text(), "plan.json") == plan


GOOD_ACTION = Action(
    action=ActionKind.SET_LICENSE,
    service_name=SERVICE,
    datacenter_id=1,
    vm_id=2,
    vm_name="x",
    rule_id="WIN-UNLICENSED",
    current_license=None,
    target_license="windows 2019 Standard",
    reason="r",
).to_json()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{", "plan.json: not valid JSON: line 1"),
        ("[]", 'not a remediation plan (no "actions" list)'),
        ('{"actions": []}', "plan.json.snapshot_sha256: missing"),
        (
            json.dumps({"snapshot_sha256": None, "actions": [{**GOOD_ACTION, "vm_id": "2"}]}),
            "actions[0].vm_id: expected an integer or null",
        ),
        (
            json.dumps({"snapshot_sha256": None, "actions": [{**GOOD_ACTION, "action": "rm"}]}),
            "actions[0].action: expected one of setLicense, removeLicense, manual",
        ),
        (
            json.dumps(
                {"snapshot_sha256": None, "actions": [{**GOOD_ACTION, "target_license": None}]}
            ),
            "actions[0].target_license: setLicense needs the licence to set",
        ),
        (
            json.dumps({"snapshot_sha256": None, "actions": [{**GOOD_ACTION, "vm_id": None}]}),
            "actions[0]: setLicense needs service_name, datacenter_id and vm_id",
        ),
        (
            json.dumps(
                {
                    "snapshot_sha256": None,
                    "actions": [{**GOOD_ACTION, "bypassGuestOsFamilyCheck": "false"}],
                }
            ),
            "actions[0].bypassGuestOsFamilyCheck: expected true or false",
        ),
        (
            json.dumps(
                {
                    "snapshot_sha256": None,
                    "actions": [{k: v for k, v in GOOD_ACTION.items() if k != "guest_os_family"}],
                }
            ),
            "actions[0].guest_os_family: missing",
        ),
    ],
)
def test_bad_plan_files_name_the_field(text: str, error: str) -> None:
    with pytest.raises(PlanError) as raised:
        Plan.from_text(text, "plan.json")
    assert error in str(raised.value)


def test_every_rule_is_planned_or_explicitly_manual() -> None:
    assert set(PLANNERS).isdisjoint(MANUAL_RULES)
    assert set(PLANNERS) | MANUAL_RULES == set(RULE_IDS)


def test_set_licence_only_on_vms_powered_on_at_the_snapshot() -> None:
    findings = [
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None, vm_id=1),
        finding("WIN-UNLICENSED", "windows2019srv_64Guest", None, vm_id=2),
        replace(
            finding("LIC-VERSION-MISMATCH", "windows2019srv_64Guest", "windows 2016 Standard", 3),
            power_state="poweredOff",
        ),
        replace(finding("WIN-UNLICENSED", WIN22, None, vm_id=4), power_state=None),  # gone
    ]
    on_at_close = {(SERVICE, 1, 1)}
    plan = build_plan(findings, SNAPSHOT_SHA, RemediationConfig(), powered_on=on_at_close)
    by_vm = {action.vm_id: action for action in plan.actions}
    assert by_vm[1].action is ActionKind.SET_LICENSE
    for vm_id in (2, 3, 4):
        assert by_vm[vm_id].action is ActionKind.MANUAL
        assert "not powered on at the snapshot" in by_vm[vm_id].reason
    assert "power state poweredOff" in by_vm[3].reason
    # Without the set, each finding's own power state decides (null counts as on).
    plan = build_plan(findings, SNAPSHOT_SHA, RemediationConfig())
    kinds = {action.vm_id: action.action for action in plan.actions}
    assert kinds == {
        1: ActionKind.SET_LICENSE,
        2: ActionKind.SET_LICENSE,
        3: ActionKind.MANUAL,
        4: ActionKind.SET_LICENSE,
    }


WIN22 = "windows2019srvNext_64Guest"  # Windows Server 2022


@pytest.mark.parametrize(
    ("rule", "guest", "licence", "seen", "config", "target", "reason"),
    [
        pytest.param(
            "WIN-UNLICENSED",
            WIN22,
            None,
            ("windows 2022 Standard SQL2019 Standard",),
            RemediationConfig(),
            "windows 2022 Standard SQL2019 Standard",
            "seen with 'windows 2022 Standard SQL2019 Standard', so the plan keeps its SQL",
            id="vmLicensed listed a bundle: the bundle, never plain Windows",
        ),
        pytest.param(
            "WIN-UNLICENSED",
            WIN22,
            "unlicensed windows guestos",
            ("windows 2019 Standard SQL2019 Web", "unlicensed windows guestos"),
            RemediationConfig(default_edition="Datacenter"),
            "windows 2022 Standard SQL2019 Web",
            "keeps its SQL Server part",
            id="the Windows edition it was seen with, the guest's version",
        ),
        pytest.param(
            "WIN-UNLICENSED",
            WIN22,
            None,
            ("windows 2019 Datacenter Core", "windows 2016 Standard SQL2016 Web"),
            RemediationConfig(default_edition="Datacenter"),
            None,
            "no Windows Server 2022 licence with SQL2016 Web",
            id="no settable bundle for the version: manual",
        ),
        pytest.param(
            "WIN-UNLICENSED",
            WIN22,
            None,
            ("windows 2022 Standard SQL2019 Standard", "windows 2022 Standard SQL2022 Web"),
            RemediationConfig(),
            None,
            "several SQL Server bundles",
            id="two SQL Server parts seen: manual",
        ),
        pytest.param(
            "LIC-VERSION-MISMATCH",
            WIN22,
            "windows 2019 Standard",
            ("windows 2019 Standard SQL2022 Standard",),
            RemediationConfig(),
            "windows 2022 Standard SQL2022 Standard",
            "keeps its SQL Server part",
            id="the VM's licence plain, vmLicensed a bundle: the bundle",
        ),
        pytest.param(
            "LIC-VERSION-MISMATCH",
            WIN22,
            "windows 2019 Standard SQL2019 Standard",
            (),
            RemediationConfig(),
            "windows 2022 Standard SQL2019 Standard",
            "the current edition",
            id="its own bundle: the same bundle of the guest's version",
        ),
        pytest.param(
            "WIN-UNLICENSED",
            WIN22,
            None,
            ("windows 2022 Datacenter", "OVHcloud managed"),
            RemediationConfig(),
            "windows 2022 Standard",
            "from the configuration",
            id="no bundle seen: the configured edition",
        ),
    ],
)
def test_a_vm_seen_with_a_sql_bundle_keeps_its_sql_server_part(
    rule: str,
    guest: str,
    licence: str | None,
    seen: tuple[str, ...],
    config: RemediationConfig,
    target: str | None,
    reason: str,
) -> None:
    subject = finding(rule, guest, licence, vm_id=5)
    plan = build_plan([subject], SNAPSHOT_SHA, config, seen={(SERVICE, 1, 5): seen})
    [action] = plan.actions
    assert action.target_license == target
    assert action.action is (ActionKind.MANUAL if target is None else ActionKind.SET_LICENSE)
    assert reason in action.reason


def test_seen_licences_gathers_the_vm_vmlicensed_and_the_period() -> None:
    raw = {"vmId": 5, "name": "sql", "license": "windows 2022 Standard"}
    dc = DatacenterSnapshot(
        1,
        {},
        (5, 6),
        (raw,),
        ({"vmId": 5, "license": "windows 2022 Standard SQL2019 Standard"}, {"vmId": 6}),
    )
    snapshot = Snapshot(
        SnapshotMeta("2026-06-01T00:00:00Z", "t", "t"), (ServiceSnapshot(SERVICE, {}, (dc,)),)
    )
    vms = {(SERVICE, 1, 5): VmState("sql", WIN22, "windows 2022 Standard", "poweredOn", 2)}
    exposure = Exposure(
        Source.OBSERVATIONS,
        30,
        (),
        (),
        (),
        (),
        (),
        {(SERVICE, 1, 7): VmPeriod(3, 3, 0, carried=("windows 2019 Standard SQL2019 Web",))},
    )
    assert seen_licences(vms, inventory_of(snapshot), exposure) == {
        (SERVICE, 1, 5): ("windows 2022 Standard", "windows 2022 Standard SQL2019 Standard"),
        (SERVICE, 1, 7): ("windows 2019 Standard SQL2019 Web",),
    }
