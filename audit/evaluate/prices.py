"""Optional money figures (`[prices]` in the config): what the declarations cost a month, what
the unlicensed guests expose, what the licences possibly wasted cost. Pure; Decimal amounts.

A price is per VM and month for one licence value. A VM whose licence has no price is never
priced at zero: it is counted in `unpriced_vms`, so a partial price list shows as partial.

Unlicensed guests are priced at the licence the plan would set when the caller can say which
(`target_of`); otherwise at the reference licence: `unlicensed_reference` from the config, or
else the cheapest priced edition setLicense accepts (a lower bound of the exposure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from audit.evaluate.headline import wasted_licences
from audit.evaluate.rules import win_unlicensed
from audit.model.findings import Finding, Status
from audit.model.position import LicenceRow
from audit.model.prices import Cost, Prices

__all__ = ["Cost", "declarations_cost", "unlicensed_exposure", "wasted_cost"]

DECLARATIONS = "declarations"
UNLICENSED_EXPOSURE = "unlicensed_exposure"
WASTED = "licences_possibly_wasted"
DEFINITIONS: Mapping[str, str] = {
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


def _cost(key: str, prices: Prices, licences: Iterable[tuple[str | None, int]]) -> Cost:
    """Sum (licence, VMs) pairs at their prices; a licence without one is listed as unpriced."""
    amount, priced, unpriced = Decimal(0), 0, 0
    missing: set[str] = set()
    for value, vms in licences:
        price = None if value is None else prices.monthly.get(value)
        if price is None:
            unpriced += vms
            missing.add(value or "(none)")
        else:
            amount += price * vms
            priced += vms
    definition = DEFINITIONS[key].format(reference=prices.reference() or "none priced")
    return Cost(key, amount, prices.currency, priced, unpriced, tuple(sorted(missing)), definition)


def declarations_cost(rows: Sequence[LicenceRow], prices: Prices) -> Cost:
    """The billable rows of the licence position, VMs at close times the monthly price."""
    billable = ((row.license, row.vms_at_close) for row in rows if row.billable)
    return _cost(DECLARATIONS, prices, billable)


def unlicensed_exposure(
    findings: Iterable[Finding],
    prices: Prices,
    target_of: Callable[[Finding], str | None] | None = None,
) -> Cost:
    """Open WIN-UNLICENSED findings, each at `target_of`'s licence when it is priced (the
    plan's setLicense target), else at the reference licence."""
    reference = prices.reference()

    def licence(finding: Finding) -> str | None:
        target = None if target_of is None else target_of(finding)
        return target if target in prices.monthly else reference

    unlicensed = (
        (licence(f), 1)
        for f in findings
        if f.rule_id == win_unlicensed.META.id and f.status is Status.OPEN
    )
    return _cost(UNLICENSED_EXPOSURE, prices, unlicensed)


def wasted_cost(findings: Iterable[Finding], prices: Prices) -> Cost:
    """The licences possibly wasted (headline.wasted_licences), each at its own price."""
    return _cost(WASTED, prices, ((value, 1) for value in wasted_licences(findings).values()))
