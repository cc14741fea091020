"""Open findings -> a remediation plan an operator reviews, approves (by its sha256) and applies.

Pure: the plan depends only on the findings, the snapshot digest and the configuration, so the
same run always yields the same plan and the same digest. The records (Plan, Action) live in
`audit.runtime`, beside the code that applies them, because the runtime is joined into the
generated script. What a rule's finding becomes is decided by PLANNERS, keyed by rule id; every
other rule is in MANUAL_RULES (a test holds the two to the registry).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from audit.config.settings import RemediationConfig
from audit.evaluate.inventory import Inventory
from audit.evaluate.knowledge import (
    LicenceKind,
    interpret_guest_os,
    interpret_licence,
    settable_licence,
)
from audit.evaluate.records import is_powered_on
from audit.evaluate.rules import (
    lic_byol_billed,
    lic_non_windows,
    lic_version_mismatch,
    win_unlicensed,
)
from audit.evaluate.rules.registry import RULE_IDS, rule_by_id
from audit.history.changes import VmState
from audit.model.exposure import Exposure
from audit.model.findings import Finding, Status
from audit.model.identity import VmKey
from audit.runtime.plan import Action, ActionKind, Plan

__all__ = ["MANUAL_RULES", "PLANNERS", "Action", "ActionKind", "Plan", "build_plan"]

_RULE_RANK = {rule_id: rank for rank, rule_id in enumerate(RULE_IDS)}

BYPASS_FLAG = "BYPASS of the guest-OS check requested by the operator (--allow-bypass). "


@dataclass(frozen=True)
class _Decision:
    """What the plan does about one finding: a licence call with its target, or manual."""

    kind: ActionKind
    target: str | None
    reason: str


def _manual(finding: Finding, why: str) -> _Decision:
    remediation = rule_by_id(finding.rule_id).meta.remediation
    return _Decision(ActionKind.MANUAL, None, f"{why} To do: {remediation}")


def _single_version(finding: Finding) -> str | None:
    versions = interpret_guest_os(finding.guest_os_family).versions
    return versions[0] if versions is not None and len(versions) == 1 else None


def _win_unlicensed(finding: Finding, config: RemediationConfig) -> _Decision:
    if interpret_licence(finding.license).kind not in (LicenceKind.NONE, LicenceKind.UNLICENSED):
        return _manual(
            finding,
            f"{finding.message} The VM carries '{finding.license}' now: nothing to set; the "
            "unbilled period is settled with OVHcloud, not with a licence set today.",
        )
    guest = interpret_guest_os(finding.guest_os_family)
    version = _single_version(finding)
    if version is None:
        return _manual(
            finding,
            f"{finding.message} The guest OS ({guest.label}) does not tell one Windows version, "
            "so no licence is proposed.",
        )
    edition = config.edition_for(finding.service_name, version)
    target = settable_licence(version, edition)
    if target is None:
        return _manual(
            finding,
            f"{finding.message} There is no settable licence 'windows {version} {edition}' "
            f"(edition {edition!r} from the configuration, Windows Server {version}).",
        )
    return _Decision(
        ActionKind.SET_LICENSE,
        target,
        f"{finding.message} Set '{target}' (edition {edition} from the configuration).",
    )


def _version_mismatch(finding: Finding, _config: RemediationConfig) -> _Decision:
    version = _single_version(finding)
    edition = interpret_licence(finding.license).edition
    if version is None or edition is None:
        return _manual(
            finding,
            f"{finding.message} The guest OS does not tell one Windows version, so no licence "
            "is proposed.",
        )
    target = settable_licence(version, edition)
    if target is None:
        return _manual(
            finding,
            f"{finding.message} There is no settable licence 'windows {version} {edition}' "
            "(the guest's version with the current edition).",
        )
    return _Decision(
        ActionKind.SET_LICENSE,
        target,
        f"{finding.message} Set '{target}': the guest's version, the current edition.",
    )


def _remove_licence(finding: Finding, _config: RemediationConfig) -> _Decision:
    return _Decision(ActionKind.REMOVE_LICENSE, None, f"{finding.message} Remove the licence.")


# A planner decides the licence call for one located finding of its rule (or makes it manual).
Planner = Callable[[Finding, RemediationConfig], _Decision]

# The rules whose findings a licence call can fix, each with its planner.
PLANNERS: Mapping[str, Planner] = MappingProxyType(
    {
        win_unlicensed.META.id: _win_unlicensed,
        lic_version_mismatch.META.id: _version_mismatch,
        lic_non_windows.META.id: _remove_licence,
        lic_byol_billed.META.id: _remove_licence,
    }
)

# The rules whose findings only a person can act on, listed in the plan with the rule's
# remediation text: the guest's configuration in vCenter; licence values no call can settle
# (legacy, unknown, or the datacenter's register disagreeing: OVHcloud support); information
# and the exception register's housekeeping.
_GUEST_RULES = {"WIN-CLIENT-OS", "GUEST-OS-UNKNOWN", "GUEST-OS-DRIFT"}
# LIC-DELETED-DECLARED: only OVHcloud can take a deleted VM's declaration off the invoice.
_LICENCE_RULES = {"LIC-LEGACY", "LIC-UNRECOGNISED", "LIC-INVENTORY-DRIFT", "LIC-DELETED-DECLARED"}
# WIN-UNLICENSED-OFF is never a setLicense: the guest did not run all period, a licence set now
# would be billed for nothing (it needs one before it is started); WIN-UNLICENSED-INTERIM is
# about days already past; LIC-VERSION-DOWNGRADE is a question for the reseller.
_INFORMATION_RULES = {
    "LIC-POWERED-OFF",
    "EXC-EXPIRED",
    "EXC-STALE",
    "WIN-UNLICENSED-OFF",
    "WIN-UNLICENSED-INTERIM",
    "LIC-VERSION-DOWNGRADE",
}
MANUAL_RULES = frozenset(_GUEST_RULES | _LICENCE_RULES | _INFORMATION_RULES)


def _bundle(value: str | None) -> tuple[str, str] | None:
    """A SQL Server bundle's (Windows edition, SQL Server part), e.g. ('Standard', 'SQL2019
    Standard') for 'windows 2019 Standard SQL2019 Standard'; None for any other value."""
    edition = interpret_licence(value).edition
    if edition is None or " SQL" not in edition:
        return None
    windows, _, rest = edition.partition(" SQL")
    return windows, f"SQL{rest}"


def _keep_sql(finding: Finding, decision: _Decision, seen: Collection[str | None]) -> _Decision:
    """Never a plain Windows licence for a VM seen with a SQL Server bundle: the same SQL
    Server part with the target's Windows version (the Windows edition it was seen with, else
    the planned one) when setLicense accepts it, otherwise manual."""
    target = interpret_licence(decision.target)
    if decision.kind is not ActionKind.SET_LICENSE or target.version is None:
        return decision
    bundles = sorted({found for value in seen if (found := _bundle(value)) is not None})
    if not bundles or _bundle(decision.target) is not None:
        return decision
    shown = ", ".join(sorted({f"'{value}'" for value in seen if _bundle(value) is not None}))
    parts = sorted({sql for _, sql in bundles})
    if len(parts) > 1:
        return _manual(
            finding,
            f"{finding.message} The VM was seen with several SQL Server bundles ({shown}): no "
            "plain Windows licence is planned; choose the bundle that runs.",
        )
    editions = [windows for windows, _ in bundles] + [target.edition or ""]
    for windows in editions:
        bundle = settable_licence(target.version, f"{windows} {parts[0]}")
        if bundle is not None:
            return _Decision(
                ActionKind.SET_LICENSE,
                bundle,
                f"{finding.message} Set '{bundle}': the VM was seen with {shown}, so the plan "
                "keeps its SQL Server part.",
            )
    return _manual(
        finding,
        f"{finding.message} The VM was seen with {shown}, and setLicense has no Windows Server "
        f"{target.version} licence with {parts[0]}: no plain Windows licence is planned; set "
        "the right bundle by hand, or confirm SQL Server no longer runs.",
    )


def seen_licences(
    vms: Mapping[VmKey, VmState], inventory: Inventory, exposure: Exposure | None
) -> dict[VmKey, tuple[str, ...]]:
    """Every licence value each VM was seen with: its own licence at the snapshot, its
    vmLicensed entry, and the values it carried on the period's observed days."""
    seen: dict[VmKey, set[str]] = {}
    for key, vm in vms.items():
        if vm.license is not None:
            seen.setdefault(key, set()).add(vm.license)
    for dc in inventory.datacenters:
        for entry in dc.licensed or ():
            if entry.vm_id is not None and entry.license is not None:
                key = VmKey(dc.service_name, dc.datacenter_id, entry.vm_id)
                seen.setdefault(key, set()).add(entry.license)
    for key, period in (exposure.facts or {}).items() if exposure is not None else ():
        seen.setdefault(key, set()).update(period.carried)
    return {key: tuple(sorted(values)) for key, values in seen.items()}


def _decide(finding: Finding, config: RemediationConfig) -> _Decision:
    """The action for one open finding on its own (conflicts per VM are settled later)."""
    planner = PLANNERS.get(finding.rule_id)
    if planner is None or finding.datacenter_id is None or finding.vm_id is None:
        return _manual(finding, finding.message)
    return planner(finding, config)


def _seen_with(
    finding: Finding, seen: Mapping[VmKey, Collection[str]] | None
) -> tuple[str | None, ...]:
    """The licence values the finding's VM was seen with, its own licence included."""
    key = finding.vm_key
    if seen is None or key is None:
        return (finding.license,)
    return (*seen.get(key, ()), finding.license)


def _running(finding: Finding, powered_on: Collection[VmKey] | None) -> bool:
    """Whether the finding's VM is powered on at the snapshot."""
    if powered_on is None:
        return is_powered_on(finding.power_state)
    key = finding.vm_key
    return key is not None and key in powered_on


def _order(action: Action) -> tuple[int, int, str, int, int, str]:
    """Licence calls first, by rule (highest severity first, so a --max-changes cap takes
    the riskiest ones), then by service, datacenter and VM; manual items after them."""
    return (
        0 if action.changes_licence else 1,
        _RULE_RANK.get(action.rule_id, len(_RULE_RANK)),
        action.service_name,
        -1 if action.datacenter_id is None else action.datacenter_id,
        -1 if action.vm_id is None else action.vm_id,
        action.reason,
    )


def build_plan(
    findings: Iterable[Finding],
    snapshot_sha256: str,
    config: RemediationConfig,
    allow_bypass: bool = False,
    powered_on: Collection[VmKey] | None = None,
    seen: Mapping[VmKey, Collection[str]] | None = None,
) -> Plan:
    """One action per open finding (waived and byol findings are not acted on).

    A VM gets at most one licence call: when two of its findings both want one, the rule
    first in the registry keeps it and the other becomes a manual item. With `allow_bypass`,
    setLicense actions carry bypassGuestOsFamilyCheck and say so at the head of their reason.
    `setLicense` is planned only for the VMs `powered_on` at the snapshot (None: each
    finding's own power state, any but poweredOff and deleted): a licence set on a VM that is
    off, deleted or gone would be billed for a machine that does not run. `seen` are the
    licence values each VM was seen with (`seen_licences`): one seen with a SQL Server bundle
    keeps its SQL Server part.
    """
    open_findings = sorted(
        (finding for finding in findings if finding.status is Status.OPEN),
        key=lambda f: (
            f.service_name,
            -1 if f.datacenter_id is None else f.datacenter_id,
            -1 if f.vm_id is None else f.vm_id,
            _RULE_RANK.get(f.rule_id, len(_RULE_RANK)),
            f.message,
        ),
    )
    actions: list[Action] = []
    changing: dict[VmKey | None, str] = {}
    for finding in open_findings:
        decision = _decide(finding, config)
        vm_key = finding.vm_key
        decision = _keep_sql(finding, decision, _seen_with(finding, seen))
        if decision.kind is ActionKind.SET_LICENSE and not _running(finding, powered_on):
            decision = _manual(
                finding,
                f"{finding.message} The VM is not powered on at the snapshot (power state "
                f"{finding.power_state or 'unknown: not read or no longer listed'}): no licence "
                "is set on it now; set one before it is started.",
            )
        if decision.kind is not ActionKind.MANUAL:
            winner = changing.setdefault(vm_key, finding.rule_id)
            if winner != finding.rule_id:
                decision = _manual(
                    finding,
                    f"{finding.message} This plan already changes the VM's licence for "
                    f"{winner}; review this finding once that change is applied.",
                )
        bypass = allow_bypass and decision.kind is ActionKind.SET_LICENSE
        actions.append(
            Action(
                action=decision.kind,
                service_name=finding.service_name,
                datacenter_id=finding.datacenter_id,
                vm_id=finding.vm_id,
                vm_name=finding.vm_name,
                rule_id=finding.rule_id,
                current_license=finding.license,
                target_license=decision.target,
                reason=(BYPASS_FLAG if bypass else "") + decision.reason,
                bypass_guest_os_family_check=bypass,
                guest_os_family=finding.guest_os_family,
            )
        )
    return Plan(snapshot_sha256=snapshot_sha256, actions=tuple(sorted(actions, key=_order)))
