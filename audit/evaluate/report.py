"""The run's report (findings.json) assembled from an evaluation: the findings with where their
VMs sit, the headline figures, the licence position, the plan's size and, with [prices], the
monthly amounts (docs/DESIGN.md, "Output folder"). Pure; the history stage adds its marks after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from audit import __version__
from audit.evaluate import headline
from audit.evaluate.engine import Evaluation
from audit.evaluate.inventory import Inventory
from audit.evaluate.placement import with_placement
from audit.evaluate.position import control_panel, licences
from audit.evaluate.prices import (
    billed_cost,
    declarations_cost,
    shortfall_cost,
    unlicensed_exposure,
    wasted_cost,
)
from audit.evaluate.rules import win_unlicensed
from audit.model.exposure import Exposure
from audit.model.findings import Finding
from audit.model.identity import VmKey
from audit.model.period import Period
from audit.model.position import LicenceRow
from audit.model.prices import Cost, Prices
from audit.model.run import PlanSummary, RegisterFile, RunInfo, RunReport
from audit.runtime.plan import ActionKind, Plan


@dataclass(frozen=True)
class ReportContext:
    """What the report states about how the run was made, beside what it found: the
    `--fail-on` threshold, the exceptions register applied, the plan, the prices, the
    organisation the reports name."""

    fail_on: str | None = None
    register: RegisterFile | None = None
    plan: Plan | None = None
    prices: Prices | None = None
    organisation: str | None = None  # [report] organisation, recorded in findings.json


def run_report(
    period: Period,
    inventory: Inventory,
    snapshot_sha256: str,
    evaluation: Evaluation,
    context: ReportContext | None = None,
    exposure: Exposure | None = None,
) -> RunReport:
    """The run's report before the history stage."""
    context = context or ReportContext()
    findings = with_placement(evaluation.findings, inventory)
    rows = licences(evaluation.summary.licence_usage, inventory, exposure)
    figures = headline.headline(inventory, findings)
    return RunReport(
        run=RunInfo(
            period=period,
            taken_at=inventory.meta.taken_at,
            endpoint=inventory.meta.endpoint,
            tool_version=__version__,
            snapshot_sha256=snapshot_sha256,
            coverage=inventory.coverage,
            fail_on=context.fail_on,
            exceptions_register=context.register,
            remediation_plan=None if context.plan is None else plan_summary(context.plan),
            organisation=context.organisation,
        ),
        summary=replace(evaluation.summary, headline=headline.counts(figures)),
        exceptions=evaluation.exception_states,
        findings=findings,
        licences=rows,
        control_panel=control_panel(inventory),
        costs=costs(findings, rows, context.prices, context.plan, inventory, exposure),
        exposure=exposure,
        shortfalls=() if exposure is None else exposure.shortfalls(),
    )


def plan_summary(plan: Plan) -> PlanSummary:
    """The plan's size and digest, as findings.json's `run.remediation_plan` records them."""
    counts = plan.counts()
    return PlanSummary(
        set_license=counts[ActionKind.SET_LICENSE.value],
        remove_license=counts[ActionKind.REMOVE_LICENSE.value],
        manual=counts[ActionKind.MANUAL.value],
        sha256=plan.sha256,
    )


def costs(
    findings: Sequence[Finding],
    rows: Sequence[LicenceRow],
    prices: Prices | None,
    plan: Plan | None,
    inventory: Inventory,
    exposure: Exposure | None,
) -> tuple[Cost, ...]:
    """The money figures: what the period is billed and its shortfall first, then the
    declarations, the unlicensed guests (priced at the licence the plan would set) and the
    licences possibly wasted; per core, each VM's vCPUs from the inventory."""
    if prices is None:
        return ()
    targets = {
        (action.service_name, action.datacenter_id, action.vm_id, action.rule_id): (
            action.target_license
        )
        for action in (plan.actions if plan is not None else ())
        if action.action is ActionKind.SET_LICENSE
    }

    def target_of(finding: Finding) -> str | None:
        key = (finding.service_name, finding.datacenter_id, finding.vm_id, finding.rule_id)
        return targets.get(key)

    def shortfall_target(vm: VmKey) -> str | None:
        return targets.get((*vm, win_unlicensed.META.id))

    vcpus = {key: vm.vcpu_count for vm in inventory.vms() if (key := vm.key) is not None}
    period = () if exposure is None else exposure.vms
    shortfalls = () if exposure is None else exposure.shortfalls()
    return (
        billed_cost(period, prices),
        shortfall_cost(shortfalls, prices, vcpus, shortfall_target),
        declarations_cost(rows, prices),
        unlicensed_exposure(findings, prices, target_of, vcpus),
        wasted_cost(findings, prices, vcpus),
    )
