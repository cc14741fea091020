"""The period's exposure as the reports show it (Exposure sheet, Exposure section).

Plain data from findings.json's `exposure` (audit/model/exposure.py): what was observed,
the per-licence peak and licence-days, and the VMs with their days.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.evaluate.knowledge import interpret_licence
from audit.model.exposure import (
    BILLING_RULE,
    LicenceExposure,
    ObservedDayProvenance,
    Source,
    UnsettledShortfall,
    VmExposure,
)
from audit.render.base import ReportInput

NO_EXPOSURE = (
    "This run was written before daily observations existed: no period figures. Run "
    "`observe` daily so the monthly run counts what ran during the month."
)


@dataclass(frozen=True)
class LicenceLine:
    figures: LicenceExposure
    billable: bool


@dataclass(frozen=True)
class ExposureDisplay:
    """What both reports say about the period."""

    present: bool
    notice: str | None = None  # the snapshot alone was used, or no figures at all
    observed_line: str = ""
    missing_days: tuple[str, ...] = ()
    incomplete_days: tuple[str, ...] = ()
    licences: tuple[LicenceLine, ...] = ()
    vms: tuple[VmExposure, ...] = ()  # Windows guests and licensed VMs, by key
    unlicensed: tuple[VmExposure, ...] = field(default=())  # ran unlicensed, most days first
    billing_rule: str = BILLING_RULE
    unsettled: tuple[UnsettledShortfall, ...] = ()  # earlier periods', not reviewed settled
    days: tuple[ObservedDayProvenance, ...] = ()  # every stored day: how it was made, counted?
    uncounted_line: str = ""  # the days not counted and why, in one sentence (or "")


def exposure_display(run: ReportInput) -> ExposureDisplay:
    exposure = run.report.exposure
    unsettled = run.report.unsettled_shortfalls
    if exposure is None:
        return ExposureDisplay(present=False, notice=NO_EXPOSURE, unsettled=unsettled)
    if exposure.source is Source.SNAPSHOT:
        observed = "No day of the period was observed; the run's snapshot stands for it."
    else:
        missing = len(exposure.missing_days)
        # `missing_days` runs up to the last observed day: before the period's end, "so far".
        so_far = " so far" if exposure.days_observed + missing < exposure.period_days else ""
        observed = (
            f"{exposure.days_observed} of the period's {exposure.period_days} days observed"
            f" ({missing} missing{so_far}, {len(exposure.incomplete_days)} incomplete)."
        )
    unlicensed = sorted(
        (vm for vm in exposure.vms if vm.days_unlicensed),
        key=lambda vm: (-vm.days_unlicensed, vm.key),
    )
    return ExposureDisplay(
        present=True,
        notice=exposure.notice,
        observed_line=observed,
        days=exposure.observations,
        uncounted_line=uncounted_line(exposure.uncounted),
        missing_days=exposure.missing_days,
        incomplete_days=exposure.incomplete_days,
        licences=tuple(
            LicenceLine(row, interpret_licence(row.license).is_windows_edition)
            for row in exposure.licences
        ),
        vms=exposure.vms,
        unlicensed=tuple(unlicensed),
        unsettled=unsettled,
    )


def uncounted_line(days: tuple[ObservedDayProvenance, ...]) -> str:
    """The stored days that were not counted, each named with its reason."""
    if not days:
        return ""
    named = "; ".join(f"{day.day} ({day.status.removeprefix('not counted: ')})" for day in days)
    return (
        f"{len(days)} stored observation(s) not counted: {named}. A day counts only when its "
        "file observations/<day>.json.gz is the snapshot the history recorded and it read "
        "this run's services."
    )


def day_cells(day: ObservedDayProvenance) -> list[str | int | None]:
    """One row of the observed-days table, as both reports show it."""
    return [
        day.day,
        day.source,
        day.collected_at,
        day.endpoint,
        day.calls,
        "yes" if day.complete else "no",
        day.status,
    ]


DAY_HEADERS = ("Day", "Source", "Collected at", "Endpoint", "Calls", "Complete", "File")


def unsettled_cells(item: UnsettledShortfall) -> list[str | int | None]:
    """An earlier period's unsettled shortfall as the workbook lists it: period, service,
    datacenter, VM id, name, guest OS, days unlicensed, review status, owner."""
    shortfall = item.shortfall
    return [
        item.period,
        shortfall.service_name,
        shortfall.datacenter_id,
        shortfall.vm_id,
        shortfall.vm_name,
        shortfall.guest_os_family,
        shortfall.days_unlicensed,
        item.review_status,
        item.owner,
    ]
