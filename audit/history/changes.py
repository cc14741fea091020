"""What changed since the previous run: a pure function of the stored past and this run.

`annotate(baseline, current)` decides, for every finding of this run, when it was first seen
and whether it is new, persisting or reopened; which findings of the previous run are gone;
and which licence events happened in between. No database, no clock: the store hands over
the past as plain records, so every case is tested directly.

Decisions (for the README):
- `first_seen` is the first stored run, before this one, that had the finding (by
  fingerprint), else this run. A reopened finding keeps its original first sighting.
- `change` compares with the previous run only (the latest stored period before this one):
  `persisting` when it had the finding, `reopened` when an older run had it, else `new`.
  A finding the previous run could not read (a coverage failure) but an older run had is
  `persisting`: nothing showed it was ever fixed.
- A finding of the previous run that is gone is `resolved` (reason `fixed`, or `vm_removed`
  when its VM is gone or deleted) only when this run read its VM, datacenter and vmLicensed
  listing; otherwise it is `unverified`: an outage is not a fix.
- Licence events compare the VMs both runs read; a VM that either run could not read raises
  no event. A VM in state `deleted` counts as removed. `unlicensed windows guestos` is no
  licence: replacing it with an edition is `licence_set`, the reverse `licence_removed`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from audit.evaluate.inventory import Inventory
from audit.evaluate.records import DELETED
from audit.model.findings import Finding
from audit.model.history import (
    Change,
    EventKind,
    FindingRecord,
    GoneFinding,
    HistoryResult,
    LicenceEvent,
    PreviousRun,
    Resolution,
    Sighting,
)
from audit.model.identity import VmKey
from audit.model.licences import UNLICENSED
from audit.model.run import RunReport
from audit.model.snapshot import Unread
from audit.support.gcpause import paused_collection


@dataclass(frozen=True)
class VmState:
    """What the history keeps of a VM in one run."""

    name: str | None
    guest_os_family: str | None
    license: str | None
    power_state: str | None
    vcpus: int | None

    @property
    def live(self) -> bool:
        return self.power_state != DELETED


@dataclass(frozen=True)
class ComparedRun:
    """One run as the comparison needs it."""

    sighting: Sighting
    vms: Mapping[VmKey, VmState]
    findings: Mapping[str, FindingRecord]
    unread: Unread = field(default_factory=Unread)
    snapshot_sha256: str | None = None


@dataclass(frozen=True)
class Baseline:
    """The stored past of a period: its previous run and every fingerprint's first sighting."""

    previous: ComparedRun | None = None
    first_seen: Mapping[str, Sighting] = field(default_factory=dict)


@dataclass(frozen=True)
class Mark:
    """A current finding's annotation."""

    first_seen: Sighting
    change: Change


@dataclass(frozen=True)
class Annotations:
    """Everything `annotate` adds to findings.json."""

    previous: Sighting | None
    previous_sha256: str | None
    marks: Mapping[str, Mark]
    resolved: tuple[GoneFinding, ...]
    unverified: tuple[GoneFinding, ...]
    changes: tuple[LicenceEvent, ...]

    def apply(self, report: RunReport) -> RunReport:
        """The run's report with the history's marks and additions."""
        marks = self.marks
        findings = tuple(
            replace(
                finding,
                first_seen=(mark := marks[finding.fingerprint]).first_seen,
                change=mark.change,
            )
            for finding in report.findings
        )
        history = HistoryResult(
            previous_run=None
            if self.previous is None
            else PreviousRun(self.previous.period, self.previous.taken_at, self.previous_sha256),
            resolved=self.resolved,
            unverified=self.unverified,
            changes=self.changes,
        )
        return replace(report, findings=findings, history=history)


def vm_states(inventory: Inventory) -> dict[VmKey, VmState]:
    """Every VM the inventory holds (deleted ones too), by (service, datacenter, VM id)."""
    with paused_collection():  # one object per VM, no cycles
        return {
            key: VmState(
                name=vm.name,
                guest_os_family=vm.guest_os_family,
                license=vm.api_license,
                power_state=vm.power_state,
                vcpus=vm.vcpus,
            )
            for key, vm in inventory.by_key.items()
        }


def finding_record(finding: Finding) -> FindingRecord:
    """What the history keeps of a finding."""
    return FindingRecord(
        fingerprint=finding.fingerprint,
        rule_id=finding.rule_id,
        severity=finding.severity.value,
        status=finding.status.value,
        service_name=finding.service_name,
        datacenter_id=finding.datacenter_id,
        vm_id=finding.vm_id,
        vm_name=finding.vm_name,
        message=finding.message,
    )


def finding_records(findings: Iterable[Finding]) -> dict[str, FindingRecord]:
    """One record per fingerprint, in findings order.

    Two findings can share a fingerprint (two expired rows for one VM); the history keeps
    the first, open if any of them is.
    """
    records: dict[str, FindingRecord] = {}
    for finding in findings:
        record = finding_record(finding)
        kept = records.setdefault(record.fingerprint, record)
        if record.status == "open" and kept.status != "open":
            records[record.fingerprint] = replace(kept, status="open")
    return records


def annotate(baseline: Baseline, current: ComparedRun) -> Annotations:
    """Compare this run with the stored past (see the module docstring for the rules)."""
    previous = baseline.previous
    marks = {
        fingerprint: Mark(
            baseline.first_seen.get(fingerprint, current.sighting),
            _change(record, baseline, previous),
        )
        for fingerprint, record in current.findings.items()
    }
    resolved: list[GoneFinding] = []
    unverified: list[GoneFinding] = []
    if previous is not None:
        for fingerprint, record in previous.findings.items():
            if fingerprint in current.findings:
                continue
            first = baseline.first_seen.get(fingerprint, previous.sighting)
            if _unverified(current.unread, record):
                unverified.append(GoneFinding(record, first, previous.sighting, None))
                continue
            resolved.append(
                GoneFinding(record, first, previous.sighting, _resolution(record, current))
            )
    return Annotations(
        previous=None if previous is None else previous.sighting,
        previous_sha256=None if previous is None else previous.snapshot_sha256,
        marks=marks,
        resolved=tuple(sorted(resolved, key=_gone_order)),
        unverified=tuple(sorted(unverified, key=_gone_order)),
        changes=() if previous is None else tuple(licence_events(previous, current)),
    )


def _change(record: FindingRecord, baseline: Baseline, previous: ComparedRun | None) -> Change:
    if record.fingerprint not in baseline.first_seen:
        return Change.NEW
    if previous is None or record.fingerprint in previous.findings:
        return Change.PERSISTING
    # Seen before, absent from the previous run: fixed in between, unless that run was blind.
    return Change.PERSISTING if _unverified(previous.unread, record) else Change.REOPENED


def _unverified(unread: Unread, record: FindingRecord) -> bool:
    """Whether a run could have missed the finding: its VM or vmLicensed listing unread."""
    return unread.vm_or_listing(record.service_name, record.datacenter_id, record.vm_id)


def _resolution(record: FindingRecord, current: ComparedRun) -> Resolution:
    if record.datacenter_id is None or record.vm_id is None:
        return Resolution.FIXED
    state = current.vms.get(VmKey(record.service_name, record.datacenter_id, record.vm_id))
    return Resolution.FIXED if state is not None and state.live else Resolution.VM_REMOVED


def _gone_order(gone: GoneFinding) -> tuple[str, int, int, str]:
    record = gone.record
    return (record.service_name, record.datacenter_id or 0, record.vm_id or 0, record.rule_id)


_EVENT_ORDER = {kind: rank for rank, kind in enumerate(EventKind)}


def licence_events(previous: ComparedRun, current: ComparedRun) -> list[LicenceEvent]:
    """VM and licence changes between two runs, by VM then event kind."""
    before = {key: vm for key, vm in previous.vms.items() if vm.live}
    after = {key: vm for key, vm in current.vms.items() if vm.live}
    events: list[LicenceEvent] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if new is None:
            if old is not None and not current.unread.vm(*key):
                events.append(_event(EventKind.VM_REMOVED, key, old))
            continue
        if old is None:
            if not previous.unread.vm(*key):
                events.append(_event(EventKind.VM_ADDED, key, new))
            continue
        events.extend(_vm_changes(key, old, new))
    return sorted(
        events, key=lambda e: (e.service_name, e.datacenter_id, e.vm_id, _EVENT_ORDER[e.event])
    )


def _vm_changes(key: VmKey, old: VmState, new: VmState) -> Sequence[LicenceEvent]:
    changes = []
    if old.license != new.license:
        had, has = _licensed(old.license), _licensed(new.license)
        if has and not had:
            kind = EventKind.LICENCE_SET
        elif had and not has:
            kind = EventKind.LICENCE_REMOVED
        else:
            kind = EventKind.LICENCE_CHANGED
        changes.append(_event(kind, key, new, old.license, new.license))
    if old.guest_os_family != new.guest_os_family:
        changes.append(
            _event(EventKind.GUEST_OS_CHANGED, key, new, old.guest_os_family, new.guest_os_family)
        )
    return changes


def _licensed(licence: str | None) -> bool:
    """Whether a `license` value is a licence at all (the API also says "none" in words)."""
    return licence is not None and licence != UNLICENSED


def _event(
    kind: EventKind,
    key: VmKey,
    vm: VmState,
    before: str | None = None,
    after: str | None = None,
) -> LicenceEvent:
    service, dc, vm_id = key
    return LicenceEvent(
        kind, service, dc, vm_id, vm.name, vm.guest_os_family, vm.license, before, after
    )
