"""Inventory + exceptions register -> findings, exception states and summary. Pure.

One pass over the VMs: every rule runs on every non-deleted VM (deleted ones only meet the
rules that look at them), the datacenter checks on each datacenter, the period rules on the
VMs the period saw that the snapshot does not evaluate, then the register is applied. Lookups
are by dict, so the cost grows linearly with the fleet (a 100,000-VM snapshot takes seconds).

How register rows apply (a decision of this stage, for the README):
- a row covers the findings of its VM whose rule is its `rule_id` (or every rule for `*`);
  when a specific row and a `*` row are both valid, the specific one sets the status;
- an expired row leaves its findings open and raises one EXC-EXPIRED for its VM;
- a row whose VM is absent from the snapshot or deleted, and that covers no finding, is stale
  (EXC-STALE, whatever its expiry); a VM the collector could not read (a coverage failure)
  does not make its rows stale.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple

from audit.evaluate.inventory import Inventory
from audit.evaluate.position import licence_usage
from audit.evaluate.records import DatacenterRecord, Gone, GoneVm, VmRecord
from audit.evaluate.rules import exc_expired, exc_stale
from audit.evaluate.rules.base import DatacenterCheck, GoneCheck, RegisterCheck, RuleMeta, VmCheck
from audit.evaluate.rules.registry import RULE_IDS, RULES
from audit.model.exceptions import (
    ANY_RULE,
    ExceptionKind,
    ExceptionRow,
    ExceptionState,
    ExceptionStatus,
)
from audit.model.exposure import Exposure, VmExposure
from audit.model.findings import Finding, Severity, Status, Summary
from audit.model.identity import VmKey
from audit.model.position import LicenceUsage

_VM_CHECKS: tuple[tuple[RuleMeta, VmCheck], ...] = tuple(
    (rule.meta, rule.check_vm) for rule in RULES if rule.check_vm is not None
)
_DATACENTER_CHECKS: tuple[tuple[RuleMeta, DatacenterCheck], ...] = tuple(
    (rule.meta, rule.check_datacenter) for rule in RULES if rule.check_datacenter is not None
)
_REGISTER_CHECKS: tuple[tuple[RuleMeta, RegisterCheck], ...] = tuple(
    (rule.meta, rule.check_register) for rule in RULES if rule.check_register is not None
)
_DELETED_CHECKS: tuple[tuple[RuleMeta, VmCheck], ...] = tuple(
    (rule.meta, rule.check_deleted) for rule in RULES if rule.check_deleted is not None
)
_GONE_CHECKS: tuple[tuple[RuleMeta, GoneCheck], ...] = tuple(
    (rule.meta, rule.check_gone) for rule in RULES if rule.check_gone is not None
)
_RULE_RANK = {rule_id: rank for rank, rule_id in enumerate(RULE_IDS)}
_STATUS_OF_KIND = {ExceptionKind.BYOL: Status.BYOL, ExceptionKind.WAIVER: Status.WAIVED}


@dataclass(frozen=True)
class Evaluation:
    """The evaluate stage's result, in a deterministic order."""

    findings: tuple[Finding, ...]
    exception_states: tuple[ExceptionState, ...]
    summary: Summary


class _Subject(NamedTuple):
    """The VM columns a finding repeats, from a VM or from a vmLicensed entry."""

    vm_name: str | None
    moref: str | None
    power_state: str | None
    guest_os_family: str | None
    license: str | None

    @classmethod
    def of_vm(cls, vm: VmRecord) -> _Subject:
        return cls(vm.name, vm.moref, vm.power_state, vm.guest_os_family, vm.api_license)

    @classmethod
    def of_exposure(cls, vm: VmExposure) -> _Subject:
        """A VM gone at the snapshot, as last observed in the period."""
        return cls(vm.name, None, None, vm.guest_os_family, vm.license)


_NO_SUBJECT = _Subject(None, None, None, None, None)


class _Presence(StrEnum):
    LIVE = "live"
    DELETED = "deleted"
    UNREAD = "unread"  # listed but not fetched, or in a scope the collector failed to read


def evaluate(
    inventory: Inventory,
    exceptions: Sequence[ExceptionRow],
    today: datetime.date,
    exposure: Exposure | None = None,
) -> Evaluation:
    """Run every rule over the inventory and apply the exceptions register as of `today`.

    With the period's `exposure`, each VM's rules also see its days over the period, and the
    period rules also see the VMs it saw that the snapshot does not evaluate (deleted, no
    longer listed, or not read).
    """
    run = _Run(inventory, exceptions, today, exposure)
    for datacenter in inventory.datacenters:
        run.datacenter(datacenter)
    run.gone()
    states = run.register_findings()
    findings = sorted(run.findings, key=_order)
    return Evaluation(
        findings=tuple(findings),
        exception_states=states,
        summary=_summary(findings, inventory.services, licence_usage(inventory)),
    )


class _Run:
    """The mutable state of one evaluation; never escapes `evaluate`."""

    def __init__(
        self,
        inventory: Inventory,
        rows: Sequence[ExceptionRow],
        today: datetime.date,
        exposure: Exposure | None = None,
    ) -> None:
        self.today = today
        self.exposure = exposure
        self.live: set[VmKey] = set()
        self.deleted: set[VmKey] = set()
        self.listed: dict[tuple[str, int], frozenset[int] | None] = {}
        self.rows = tuple(rows)
        self.expired = [row.is_expired(today) for row in self.rows]
        self.matched = [0] * len(self.rows)
        self.rows_by_vm: dict[VmKey, list[int]] = {}
        self.row_vms_by_dc: dict[tuple[str, int], set[int]] = {}
        for index, row in enumerate(self.rows):
            self.rows_by_vm.setdefault(row.vm_key, []).append(index)
            self.row_vms_by_dc.setdefault(row.vm_key[:2], set()).add(row.vm_id)
        self.presence: dict[VmKey, _Presence] = {}
        self.subjects: dict[VmKey, _Subject] = {}
        self.deleted_subjects: dict[VmKey, _Subject] = {}
        self.findings: list[Finding] = []
        self.unread = inventory.unread

    def datacenter(self, dc: DatacenterRecord) -> None:
        service_name, dc_id = dc.service_name, dc.datacenter_id
        row_vms = self.row_vms_by_dc.get((service_name, dc_id), set())
        for vm in dc.vms:
            key = vm.key
            if key is not None and self.exposure is not None:
                vm = replace(vm, period=self.exposure.period_of(key))
            deleted = vm.deleted
            if key is not None:
                (self.deleted if deleted else self.live).add(key)
                if key.vm_id in row_vms:
                    self.presence[key] = _Presence.DELETED if deleted else _Presence.LIVE
                    self.subjects[key] = _Subject.of_vm(vm)
            if not deleted:
                self.vm(vm)
            else:
                self.deleted_vm(vm)
        for vm_id in row_vms:
            if vm_id in dc.known_vm_ids:
                self.presence.setdefault(VmKey(service_name, dc_id, vm_id), _Presence.UNREAD)
        self.listed[(service_name, dc_id)] = dc.listed_vm_ids
        for meta, check in _DATACENTER_CHECKS:
            for entry, message in check(dc):
                subject = _Subject(
                    entry.name, entry.moref, None, entry.guest_os_family, entry.license
                )
                if entry.vm_id is not None and entry.vm_id in row_vms:
                    self.subjects.setdefault(VmKey(service_name, dc_id, entry.vm_id), subject)
                self.add(meta, service_name, dc_id, entry.vm_id, subject, message)

    def vm(self, vm: VmRecord) -> None:
        subject: _Subject | None = None
        for meta, check in _VM_CHECKS:
            message = check(vm)
            if message is not None:
                subject = subject or _Subject.of_vm(vm)
                self.add(meta, vm.service_name, vm.datacenter_id, vm.vm_id, subject, message)
        self.register_checks(vm)

    def deleted_vm(self, vm: VmRecord) -> None:
        """The rules about deleted VMs (LIC-DELETED-DECLARED); the VM is kept as the subject
        of the period rules' findings about it."""
        key = vm.key
        if key is None:
            return
        subject = _Subject.of_vm(vm)
        self.deleted_subjects.setdefault(key, subject)
        for meta, check in _DELETED_CHECKS:
            message = check(vm)
            if message is not None:
                self.add(meta, vm.service_name, vm.datacenter_id, vm.vm_id, subject, message)

    def gone(self) -> None:
        """The period rules over the VMs the period's observations saw that the snapshot does
        not evaluate: deleted (the snapshot's record is the subject), no longer listed, or in
        a scope the snapshot could not read (each rule decides what it can say of those)."""
        if self.exposure is None:
            return
        for vm in self.exposure.vms:
            key = vm.key
            if key in self.live:
                continue
            if key in self.deleted:
                why = Gone.DELETED
            else:
                why = Gone.UNREAD if self._gone_unread(key) else Gone.UNLISTED
            gone = GoneVm(vm.period, why)
            for meta, check in _GONE_CHECKS:
                message = check(gone)
                if message is not None:
                    subject = self.deleted_subjects.get(key) or _Subject.of_exposure(vm)
                    self.add(meta, *key, subject, message)

    def _gone_unread(self, key: VmKey) -> bool:
        """Whether the snapshot may not have read the VM (so it is not known to be gone)."""
        if key in self.deleted:
            return False
        service, dc_id, vm_id = key
        listed = self.listed.get((service, dc_id))
        if self.unread.service(service):
            return True
        if (service, dc_id) not in self.listed:  # the datacenter itself is gone
            return False
        return listed is None or vm_id in listed or key in self.unread.vms

    def register_checks(self, vm: VmRecord) -> None:
        """Rules over the VM's valid register rows (LIC-BYOL-BILLED), after its own rules."""
        if vm.vm_id is None:
            return
        indexes = self.rows_by_vm.get(VmKey(vm.service_name, vm.datacenter_id, vm.vm_id), ())
        valid = tuple(self.rows[index] for index in indexes if not self.expired[index])
        for meta, check in _REGISTER_CHECKS if valid else ():
            message = check(vm, valid)
            if message is not None:
                subject = _Subject.of_vm(vm)
                self.add(meta, vm.service_name, vm.datacenter_id, vm.vm_id, subject, message)

    def add(
        self,
        meta: RuleMeta,
        service_name: str,
        dc_id: int,
        vm_id: int | None,
        subject: _Subject,
        message: str,
    ) -> None:
        """Record a rule hit, with the status the register gives it."""
        status, chosen = Status.OPEN, None
        if vm_id is not None and self.rows_by_vm:
            for index in self.rows_by_vm.get(VmKey(service_name, dc_id, vm_id), ()):
                row = self.rows[index]
                if not row.covers(meta.id) or (
                    row.kind is ExceptionKind.BYOL and not meta.byol_covers
                ):
                    continue
                self.matched[index] += 1
                if not self.expired[index] and (chosen is None or chosen.rule_id == ANY_RULE):
                    chosen = row
        if chosen is not None:
            status = _STATUS_OF_KIND[chosen.kind]
        self.findings.append(
            _finding(meta, status, (service_name, dc_id, vm_id), subject, message, chosen)
        )

    def register_findings(self) -> tuple[ExceptionState, ...]:
        """Decide each row's state; add EXC-STALE and EXC-EXPIRED findings."""
        states: list[ExceptionState] = []
        for index, row in enumerate(self.rows):
            key = row.vm_key
            presence = self.presence.get(key)
            if presence is None and self._unread(row):
                presence = _Presence.UNREAD
            subject = self.subjects.get(key, _NO_SUBJECT)
            days = None if row.expires is None else (row.expires - self.today).days
            if presence in (None, _Presence.DELETED) and self.matched[index] == 0:
                state = ExceptionStatus.STALE
                message = exc_stale.describe(row, deleted=presence is _Presence.DELETED)
                self._add_row_finding(exc_stale.META, row, subject, message)
            elif self.expired[index]:
                state = ExceptionStatus.EXPIRED
                message = exc_expired.describe(row, self.today)
                self._add_row_finding(exc_expired.META, row, subject, message)
            else:
                state = ExceptionStatus.VALID
            states.append(ExceptionState(row, state, days, self.matched[index]))
        return tuple(states)

    def _unread(self, row: ExceptionRow) -> bool:
        """Whether a coverage failure may hide the row's VM."""
        return self.unread.vm(*row.vm_key)

    def _add_row_finding(
        self, meta: RuleMeta, row: ExceptionRow, subject: _Subject, message: str
    ) -> None:
        self.findings.append(_finding(meta, Status.OPEN, row.vm_key, subject, message, row))


def _finding(
    meta: RuleMeta,
    status: Status,
    where: tuple[str, int, int | None],
    subject: _Subject,
    message: str,
    exception: ExceptionRow | None,
) -> Finding:
    service_name, dc_id, vm_id = where
    return Finding(
        rule_id=meta.id,
        severity=meta.severity,
        status=status,
        service_name=service_name,
        datacenter_id=dc_id,
        vm_id=vm_id,
        vm_name=subject.vm_name,
        moref=subject.moref,
        power_state=subject.power_state,
        guest_os_family=subject.guest_os_family,
        license=subject.license,
        message=message,
        exception=exception,
    )


def _order(finding: Finding) -> tuple[str, int, int, int, str, str]:
    """Service, datacenter, VM, registry order; then the row's rule and message for ties."""
    return (
        finding.service_name,
        -1 if finding.datacenter_id is None else finding.datacenter_id,
        -1 if finding.vm_id is None else finding.vm_id,
        _RULE_RANK[finding.rule_id],
        "" if finding.exception is None else finding.exception.rule_id,
        finding.message,
    )


def _summary(
    findings: Sequence[Finding], services: Sequence[str], usage: tuple[LicenceUsage, ...]
) -> Summary:
    """Counts with every severity, status, rule and service present, zeros included."""
    by_severity = dict.fromkeys((severity.value for severity in Severity), 0)
    open_by_severity = dict(by_severity)
    by_rule = dict.fromkeys(RULE_IDS, 0)
    by_status = dict.fromkeys((status.value for status in Status), 0)
    by_service = dict.fromkeys(services, 0)
    for finding in findings:
        by_severity[finding.severity.value] += 1
        if finding.status is Status.OPEN:
            open_by_severity[finding.severity.value] += 1
        by_rule[finding.rule_id] += 1
        by_status[finding.status.value] += 1
        by_service[finding.service_name] = by_service.get(finding.service_name, 0) + 1
    return Summary(
        by_severity=by_severity,
        open_by_severity=open_by_severity,
        by_rule=by_rule,
        by_status=by_status,
        by_service=dict(sorted(by_service.items())),
        licence_usage=usage,
    )
