"""[prices] in the config (one-line errors naming file and key) and the money figures."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from audit.config.settings import load_config
from audit.evaluate.engine import evaluate
from audit.evaluate.exceptions import parse_exceptions
from audit.evaluate.inventory import inventory_of
from audit.evaluate.position import licence_usage, licences
from audit.evaluate.prices import (
    Prices,
    billed_cost,
    declarations_cost,
    shortfall_cost,
    unlicensed_exposure,
    wasted_cost,
)
from audit.model.exposure import Shortfall, VmExposure
from audit.model.findings import Finding
from audit.model.prices import Cost, PriceUnit
from audit.support.errors import InputError
from tests.helpers.headline import REGISTER, S, evaluated

W19, W22 = "windows 2019 Standard", "windows 2022 Standard"
PRICES = """[prices]
currency = "EUR"
"windows 2019 Standard" = 25.5
"windows 2022 Standard" = 30
"windows 2012 R2 Standard" = 12.25
"""


def config_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(text)
    return path


def test_prices_load_as_decimals(tmp_path: Path) -> None:
    prices = load_config(config_with(tmp_path, PRICES)).prices
    assert prices == Prices(
        "EUR",
        {W19: Decimal("25.5"), W22: Decimal("30"), "windows 2012 R2 Standard": Decimal("12.25")},
    )
    assert prices.reference() == W19  # the cheapest settable edition (2012 R2 cannot be set)
    assert load_config(config_with(tmp_path, "[audit]\n")).prices is None
    explicit = PRICES + f'unlicensed_reference = "{W22}"\n'
    assert load_config(config_with(tmp_path, explicit)).prices.reference() == W22  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[prices]\n"windows 2019 Standard" = 1\n',
            'prices.currency: required with [prices] (e.g. "EUR")',
        ),
        (
            '[prices]\ncurrency = "euro"\n',
            "prices.currency: expected an ISO 4217 code such as EUR, got 'euro'",
        ),
        (
            '[prices]\ncurrency = "EUR"\n"windows 2019 Standrad" = 1\n',
            'prices."windows 2019 Standrad": not a Windows edition OVHcloud bills, exactly as the '
            'API spells it (did you mean "windows 2019 Standard"?)',
        ),
        (
            '[prices]\ncurrency = "EUR"\n"OVHcloud managed" = 1\n',
            'prices."OVHcloud managed": not a Windows edition OVHcloud bills',
        ),
        (
            '[prices]\ncurrency = "EUR"\n"windows 2019 Standard" = -1\n',
            'prices."windows 2019 Standard": expected a number from 0 to 1e+06, got -1',
        ),
        (
            '[prices]\ncurrency = "EUR"\n"windows 2019 Standard" = "25"\n',
            'prices."windows 2019 Standard": expected int or float',
        ),
        (
            '[prices]\ncurrency = "EUR"\n"windows 2019 Standard" = nan\n',
            'prices."windows 2019 Standard": expected a number',
        ),
        (
            '[prices]\ncurrency = "EUR"\nunlicensed_reference = "windows 2012 R2 Standard"\n'
            '"windows 2012 R2 Standard" = 1\n',
            "prices.unlicensed_reference: 'windows 2012 R2 Standard' must be a licence setLicense "
            "accepts and have a price",
        ),
        (
            '[prices]\ncurrency = "EUR"\nunlicensed_reference = "windows 2019 Standard"\n',
            "prices.unlicensed_reference: 'windows 2019 Standard' must be a licence",
        ),
        ("prices = 3\n", "[prices]: expected dict"),
        ('[prices]\ncurrency = "EUR"\nper = "socket"\n', 'prices.per: expected "vm" or "core"'),
        ('[prices]\ncurrency = "EUR"\nper = "core"\n', "prices.min_cores: required with per"),
        ('[prices]\ncurrency = "EUR"\nmin_cores = 2\n', 'prices.min_cores: only with per = "core"'),
        (
            '[prices]\ncurrency = "EUR"\nper = "core"\nmin_cores = 0\n',
            "prices.min_cores: expected a number from 1 to 1024, got 0",
        ),
    ],
)
def test_bad_prices_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = config_with(tmp_path, text)
    with pytest.raises(InputError) as raised:
        load_config(path)
    error = str(raised.value)
    assert error.startswith(f"{path}: ") and message in error and "\n" not in error


def prices(reference: str | None = None) -> Prices:
    return Prices("EUR", {W19: Decimal("25.50"), W22: Decimal("30")}, reference)


def test_declarations_cost_prices_billable_rows_and_lists_the_unpriced() -> None:
    snapshot, _ = evaluated()
    cost = declarations_cost(
        licences(licence_usage(inventory := inventory_of(snapshot)), inventory), prices()
    )
    # Billable: W19 on VMs 4, 5, 7 (12 is deleted); W22 on VMs 6, 8, 9. Managed is not billed.
    assert (cost.amount, cost.priced_vms, cost.unpriced_vms) == (Decimal("166.50"), 6, 0)
    partial = declarations_cost(
        licences(licence_usage(inventory := inventory_of(snapshot)), inventory),
        Prices("EUR", {W22: Decimal(30)}),
    )
    assert (partial.amount, partial.unpriced_vms, partial.unpriced_licences) == (90, 3, (W19,))
    assert partial.to_json()["amount"] == "90.00"


def test_unlicensed_exposure_at_the_plan_target_or_the_reference() -> None:
    _, findings = evaluated()  # one open WIN-UNLICENSED (VM 1); VM 2 is waived
    assert unlicensed_exposure(findings, prices()).amount == Decimal("25.50")  # cheapest
    assert unlicensed_exposure(findings, prices(W22)).amount == 30
    planned = unlicensed_exposure(findings, prices(), target_of=lambda finding: W22)
    assert planned.amount == 30
    unpriced_target = unlicensed_exposure(findings, prices(W22), lambda f: "windows 2025 Standard")
    assert unpriced_target.amount == 30  # falls back to the reference
    nothing = unlicensed_exposure(findings, Prices("EUR", {}))
    assert (nothing.amount, nothing.unpriced_vms, nothing.unpriced_licences) == (0, 1, ("(none)",))
    assert "none priced" in nothing.definition


def test_wasted_cost_prices_each_wasted_vm_once() -> None:
    _, findings = evaluated()  # VM 7 (W19, BYOL-billed) and VM 8 (W22, two findings)
    cost = wasted_cost(findings, prices())
    assert (cost.amount, cost.priced_vms) == (Decimal("55.50"), 2)


def test_an_empty_run_costs_nothing() -> None:
    empty: tuple[Finding, ...] = ()
    assert wasted_cost(empty, prices()).amount == 0
    assert unlicensed_exposure(empty, prices()).priced_vms == 0
    assert declarations_cost((), prices()).to_json()["amount"] == "0.00"


def test_register_of_the_shared_fleet_is_valid() -> None:
    rows = parse_exceptions(REGISTER.encode(), "exceptions.csv")
    assert all(row.service_name == S for row in rows)
    inventory = inventory_of(evaluated()[0])
    assert evaluate(inventory, rows, datetime.date(2026, 11, 30)).findings == evaluated()[1]


def test_per_core_prices_count_each_vms_cores_with_the_minimum(tmp_path: Path) -> None:
    path = config_with(
        tmp_path,
        '[prices]\ncurrency = "EUR"\nper = "core"\nmin_cores = 4\n"windows 2019 Standard" = 2\n',
    )
    prices = load_config(path).prices
    assert prices is not None and prices.per is PriceUnit.CORE and prices.min_cores == 4
    assert "per core and month, at least 4 core(s) per VM" in prices.unit_text
    # Billed this period: VM 1 (2 vCPUs: the minimum, 4) and VM 2 (8 vCPUs) carried W19 on.
    vms = [
        VmExposure("s", 1, 1, None, "windows9Server64Guest", W19, 30, 30, 0, None, None, (W19,), 2),
        VmExposure("s", 1, 2, None, "windows9Server64Guest", W19, 30, 30, 0, None, None, (W19,), 8),
        VmExposure("s", 1, 3, None, "windows9Server64Guest", None, 30, 30, 30, "a", "b", (), 0),
    ]
    billed = billed_cost(vms, prices)
    assert (billed.amount, billed.priced_vms, billed.unit) == (Decimal(24), 2, prices.unit_text)
    per_vm = billed_cost(vms, Prices("EUR", {W19: Decimal(2)}))
    assert (per_vm.amount, per_vm.unit) == (Decimal(4), "prices per VM and month")
    # The shortfall: VM 3 (6 vCPUs) at the reference licence, W19 (the only one priced).
    shortfall = Shortfall("s", 1, 3, None, "windows9Server64Guest", 30)
    cost = shortfall_cost([shortfall], prices, {shortfall.key: 6})
    assert (cost.amount, cost.priced_vms) == (Decimal(12), 1)
    assert shortfall_cost([shortfall], prices).amount == Decimal(8)  # unknown size: the minimum
    assert Cost.from_json(cost.to_json()) == cost
