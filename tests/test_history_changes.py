"""The pure comparison of a run with the stored past: first seen, change, resolved, events."""

from __future__ import annotations

from dataclasses import replace

from audit.history.changes import (
    Baseline,
    ComparedRun,
    Unread,
    VmState,
    annotate,
    finding_records,
)
from audit.model.findings import Finding, Severity, Status, Summary
from audit.model.history import Change, EventKind, FindingRecord, Resolution, Sighting
from audit.model.period import Period
from audit.model.run import RunInfo, RunReport
from audit.model.snapshot import Coverage, Failure, Scope

SVC = "pcc-1"
JAN = Sighting("2026-01", "2026-01-01T03:00:00Z")
FEB = Sighting("2026-02", "2026-02-01T03:00:00Z")
MAR = Sighting("2026-03", "2026-03-01T03:00:00Z")
RUN_INFO = RunInfo(
    Period.from_label(JAN.period), JAN.taken_at, "ovh-eu", "0.1.0", "0" * 64, Coverage()
)


def state(guest: str | None = "windows2019srv_64Guest", licence: str | None = None) -> VmState:
    return VmState(
        name="vm", guest_os_family=guest, license=licence, power_state="poweredOn", vcpus=2
    )


def record(vm_id: int, rule: str = "WIN-UNLICENSED", dc: int = 1) -> FindingRecord:
    return FindingRecord(
        fingerprint=f"{SVC}|{dc}|{vm_id}|{rule}",
        rule_id=rule,
        severity="high",
        status="open",
        service_name=SVC,
        datacenter_id=dc,
        vm_id=vm_id,
        vm_name=f"vm-{vm_id}",
        message="m",
    )


def run(
    sighting: Sighting,
    vms: dict[int, VmState],
    findings: list[FindingRecord],
    unread: Unread | None = None,
) -> ComparedRun:
    return ComparedRun(
        sighting=sighting,
        vms={(SVC, 1, vm_id): vm for vm_id, vm in vms.items()},
        findings={f.fingerprint: f for f in findings},
        unread=unread or Unread(),
    )


def test_first_run_marks_everything_new_and_lists_no_change() -> None:
    result = annotate(Baseline(), run(JAN, {1: state()}, [record(1)]))
    mark = result.marks[record(1).fingerprint]
    assert mark.change is Change.NEW and mark.first_seen == JAN
    assert mark.first_seen.to_json() == {"period": "2026-01", "date": "2026-01-01"}
    assert result.previous is None
    assert result.resolved == result.unverified == result.changes == ()


def test_new_persisting_reopened_and_resolved() -> None:
    # 1 persists; 2 was fixed in February and is back; 3 is fixed now; 4 is new.
    previous = run(FEB, {n: state() for n in (1, 2, 3)}, [record(1), record(3)])
    baseline = Baseline(
        previous,
        {record(1).fingerprint: JAN, record(2).fingerprint: JAN, record(3).fingerprint: FEB},
    )
    current = run(MAR, {n: state() for n in (1, 2, 3, 4)}, [record(1), record(2), record(4)])
    result = annotate(baseline, current)
    marks = {fp.split("|")[2]: (m.change, m.first_seen.period) for fp, m in result.marks.items()}
    assert marks == {
        "1": (Change.PERSISTING, "2026-01"),
        "2": (Change.REOPENED, "2026-01"),
        "4": (Change.NEW, "2026-03"),
    }
    [gone] = result.resolved
    assert gone.record == record(3) and gone.reason is Resolution.FIXED
    assert gone.to_json()["first_seen"]["period"] == "2026-02"
    assert gone.to_json()["last_seen"]["period"] == "2026-02"


def test_a_finding_of_a_removed_or_deleted_vm_is_resolved_as_vm_removed() -> None:
    previous = run(FEB, {1: state(), 2: state()}, [record(1), record(2)])
    deleted = VmState("vm", "windows2019srv_64Guest", None, "deleted", 2)
    result = annotate(Baseline(previous, {}), run(MAR, {2: deleted}, []))
    assert [(g.record.vm_id, g.reason) for g in result.resolved] == [
        (1, Resolution.VM_REMOVED),
        (2, Resolution.VM_REMOVED),
    ]
    assert [(e.event, e.vm_id) for e in result.changes] == [
        (EventKind.VM_REMOVED, 1),
        (EventKind.VM_REMOVED, 2),
    ]


def test_licence_events() -> None:
    previous = run(
        FEB,
        {
            1: state(licence=None),
            2: state(licence="windows 2019 Standard"),
            3: state(licence="windows 2019 Standard"),
            4: state(guest="debian12_64Guest"),
            5: state(),
            7: state(licence="unlicensed windows guestos"),
            8: state(licence="windows 2019 Standard"),
            9: state(licence=None),
        },
        [],
    )
    current = run(
        MAR,
        {
            1: state(licence="windows 2019 Standard"),
            2: state(licence=None),
            3: state(licence="windows 2022 Standard"),
            4: state(guest="windows2019srv_64Guest", licence="windows 2019 Standard"),
            6: state(),
            7: state(licence="windows 2019 Standard"),
            8: state(licence="unlicensed windows guestos"),
            9: state(licence="unlicensed windows guestos"),
        },
        [],
    )
    result = annotate(Baseline(previous, {}), current)
    assert [(e.event.value, e.vm_id, e.before, e.after) for e in result.changes] == [
        ("licence_set", 1, None, "windows 2019 Standard"),
        ("licence_removed", 2, "windows 2019 Standard", None),
        ("licence_changed", 3, "windows 2019 Standard", "windows 2022 Standard"),
        ("licence_set", 4, None, "windows 2019 Standard"),
        ("guest_os_changed", 4, "debian12_64Guest", "windows2019srv_64Guest"),
        ("vm_removed", 5, None, None),
        ("vm_added", 6, None, None),
        # `unlicensed windows guestos` is no licence, as the API's own word for it.
        ("licence_set", 7, "unlicensed windows guestos", "windows 2019 Standard"),
        ("licence_removed", 8, "windows 2019 Standard", "unlicensed windows guestos"),
        ("licence_changed", 9, None, "unlicensed windows guestos"),
    ]
    removed = result.changes[5].to_json()
    assert removed["guest_os_family"] == "windows2019srv_64Guest"  # last known values


def test_an_unread_vm_is_neither_resolved_nor_removed() -> None:
    previous = run(FEB, {1: state(), 2: state()}, [record(1), record(2, "GUEST-OS-DRIFT")])
    coverage = Coverage(
        failures=(
            Failure(Scope.VM, "/vm/1", "HTTP 500", SVC, 1, 1),
            Failure(Scope.VM_LICENSED, "/vmLicensed", "HTTP 503", SVC, 1, None),
        )
    )
    unread = Unread.from_coverage(coverage)
    result = annotate(Baseline(previous, {}), run(MAR, {2: state()}, [], unread))
    assert result.resolved == ()
    assert {g.record.vm_id for g in result.unverified} == {1, 2}
    assert "reason" not in result.unverified[0].to_json()
    assert result.changes == ()


def test_a_vm_the_previous_run_could_not_read_is_not_added_nor_reopened() -> None:
    unread = Unread.from_coverage(
        Coverage(failures=(Failure(Scope.DATACENTER, "/dc", "x", SVC, 1),))
    )
    previous = run(FEB, {}, [], unread)
    baseline = Baseline(previous, {record(1).fingerprint: JAN})
    result = annotate(baseline, run(MAR, {1: state()}, [record(1)]))
    assert result.changes == ()
    assert result.marks[record(1).fingerprint].change is Change.PERSISTING


def test_a_failure_of_the_service_list_hides_everything() -> None:
    unread = Unread.from_coverage(Coverage(failures=(Failure(Scope.SERVICES, "/dc", "x"),)))
    assert unread.everything and unread.vm("any", 1, 1)
    assert not Unread().vm(SVC, 1, 1)


def test_apply_adds_the_history_keys_without_touching_the_input() -> None:
    finding = Finding(
        "WIN-UNLICENSED",
        Severity.HIGH,
        Status.OPEN,
        SVC,
        1,
        1,
        "vm",
        "vm-1",
        "poweredOn",
        "windows2019srv_64Guest",
        None,
        "m",
    )
    records = finding_records([finding, finding])
    assert list(records) == [finding.fingerprint]
    result = annotate(Baseline(), run(JAN, {1: state()}, list(records.values())))
    report = RunReport(RUN_INFO, Summary(), (), (finding,))
    annotated = result.apply(report).to_json()
    assert "first_seen" not in report.to_json()["findings"][0]
    assert annotated["findings"][0]["change"] == "new"
    assert annotated["previous_run"] is None
    assert annotated["resolved"] == annotated["changes"] == annotated["unverified"] == []


def test_duplicate_fingerprints_keep_one_record_open_if_any_is() -> None:
    # Two register rows of one VM, both expired: two EXC-EXPIRED findings, one fingerprint.
    waived = Finding(
        "EXC-EXPIRED", Severity.LOW, Status.WAIVED, SVC, 1, 1, None, None, None, None, None, "m"
    )
    [kept] = finding_records([waived, replace(waived, status=Status.OPEN)]).values()
    assert kept.status == "open"
