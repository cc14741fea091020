"""Optional money figures (`[prices]` in the config): what the declarations cost a month, what
the unlicensed guests expose, what the licences possibly wasted cost. Pure; Decimal amounts.

A price is per month for one licence value, per VM or (`per = "core"`) per vCPU with at least
`min_cores` per VM. A VM whose licence has no price is never priced at zero: it is counted in
`unpriced_vms`, so a partial price list shows as partial.

Unlicensed guests are priced at the licence the plan would set when the caller can say which
(`target_of`); otherwise at the reference licence: `unlicensed_reference` from the config, or
else the cheapest priced edition setLicense accepts (a lower bound of the exposure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from audit.evaluate.headline import wasted_licences
from audit.evaluate.rules import win_unlicensed
from audit.model.exposure import Shortfall, VmExposure
from audit.model.findings import Finding, Status
from audit.model.identity import VmKey
from audit.model.position import LicenceRow
from audit.model.prices import Cost, Prices, PriceUnit

__all__ = [
    "Cost",
    "billed_cost",
    "declarations_cost",
    "shortfall_cost",
    "unlicensed_exposure",
    "wasted_cost",
]

BILLED = "billed"
SHORTFALL = "shortfall"
DECLARATIONS = "declarations"
UNLICENSED_EXPOSURE = "unlicensed_exposure"
WASTED = "licences_possibly_wasted"
DEFINITIONS: Mapping[str, str] = {
    BILLED: (
        "What OVHcloud bills for the period: every licence value a VM carried on an observed "
        "day it was powered on, at its monthly price (the billing rule)."
    ),
    SHORTFALL: (
        "The period's shortfall: every VM that ran as a Windows Server guest without a licence "
        "and was billed for none, at the monthly price of the licence the plan would set, or "
        "else of the reference licence ({reference})."
    ),
    DECLARATIONS: "Every billable licence declared at the snapshot, at its monthly price.",
    UNLICENSED_EXPOSURE: (
        "Every open WIN-UNLICENSED finding, at the monthly price of the licence the plan would "
        "set, or else of the reference licence ({reference})."
    ),
    WASTED: (
        "Every licence possibly wasted (open LIC-NON-WINDOWS, LIC-POWERED-OFF or "
        "LIC-BYOL-BILLED, once per VM), at the monthly price of the licence it carries."
    ),
}


def _cost(key: str, prices: Prices, licences: Iterable[tuple[str | None, int, int]]) -> Cost:
    """Sum (licence, VMs, units) at their prices: units are what the price multiplies (the
    VMs, or their cores as `prices.units` counts them); a licence without a price is listed
    as unpriced."""
    amount, priced, unpriced = Decimal(0), 0, 0
    missing: set[str] = set()
    for value, vms, units in licences:
        price = None if value is None else prices.monthly.get(value)
        if price is None:
            unpriced += vms
            missing.add(value or "(none)")
        else:
            amount += price * units
            priced += vms
    definition = DEFINITIONS[key].format(reference=prices.reference() or "none priced")
    return Cost(
        key,
        amount,
        prices.currency,
        priced,
        unpriced,
        tuple(sorted(missing)),
        definition,
        prices.unit_text,
    )


def billed_cost(vms: Iterable[VmExposure], prices: Prices) -> Cost:
    """Each value each VM is billed for this period (the exposure's `billed`), at its price;
    per core, the VM's most vCPUs on a billed day."""
    billed = ((value, 1, prices.units(vm.billed_vcpus)) for vm in vms for value in vm.billed)
    return _cost(BILLED, prices, billed)


def shortfall_cost(
    shortfalls: Iterable[Shortfall],
    prices: Prices,
    vcpus: Mapping[VmKey, int] | None = None,
    target_of: Callable[[VmKey], str | None] | None = None,
) -> Cost:
    """The period's shortfall VMs, each at `target_of`'s licence when priced (the plan's
    setLicense target), else at the reference licence; per core, its vCPUs from `vcpus`."""
    reference = prices.reference()
    sizes = vcpus or {}

    def licence(key: VmKey) -> str | None:
        target = None if target_of is None else target_of(key)
        return target if target in prices.monthly else reference

    return _cost(
        SHORTFALL, prices, ((licence(s.key), 1, prices.units(sizes.get(s.key))) for s in shortfalls)
    )


def declarations_cost(rows: Sequence[LicenceRow], prices: Prices) -> Cost:
    """The billable rows of the licence position, VMs at close times the monthly price."""
    if prices.per is PriceUnit.VM:
        billable = (
            (row.license, row.vms_at_close, row.vms_at_close) for row in rows if row.billable
        )
    else:  # the rows' vCPUs, each VM at least the minimum (a lower bound per datacenter)
        billable = (
            (
                row.license,
                row.vms_at_close,
                max(row.vcpus_at_close, row.vms_at_close * prices.min_cores),
            )
            for row in rows
            if row.billable
        )
    return _cost(DECLARATIONS, prices, billable)


def unlicensed_exposure(
    findings: Iterable[Finding],
    prices: Prices,
    target_of: Callable[[Finding], str | None] | None = None,
    vcpus: Mapping[VmKey, int] | None = None,
) -> Cost:
    """Open WIN-UNLICENSED findings, each at `target_of`'s licence when it is priced (the
    plan's setLicense target), else at the reference licence."""
    reference = prices.reference()

    def licence(finding: Finding) -> str | None:
        target = None if target_of is None else target_of(finding)
        return target if target in prices.monthly else reference

    sizes = vcpus or {}
    unlicensed = (
        (licence(f), 1, prices.units(None if f.vm_key is None else sizes.get(f.vm_key)))
        for f in findings
        if f.rule_id == win_unlicensed.META.id and f.status is Status.OPEN
    )
    return _cost(UNLICENSED_EXPOSURE, prices, unlicensed)


def wasted_cost(
    findings: Iterable[Finding], prices: Prices, vcpus: Mapping[VmKey, int] | None = None
) -> Cost:
    """The licences possibly wasted (headline.wasted_licences), each at its own price."""
    sizes = vcpus or {}
    wasted = wasted_licences(findings).items()
    return _cost(
        WASTED, prices, ((value, 1, prices.units(sizes.get(key))) for key, value in wasted)
    )
