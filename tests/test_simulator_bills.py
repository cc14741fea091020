"""The simulator's bills (`/me/bill`) through the real `ovh` client: one bill per month from
its fleet, and the options that make it invoice too much, too little or other things."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ovh
import pytest

from audit.simulator.api import BILLING_CONSUMER_KEY, SimulatorConfig
from audit.simulator.billing import BillingOptions, bill_id, billed_months, licence_counts
from audit.simulator.fleet import Fleet
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator
from tests.helpers.fleet import DR, PROD
from tests.helpers.vms import PLACED, api_vm

ROOT = Path(__file__).resolve().parent.parent


def last_month() -> tuple[int, int]:
    return billed_months(datetime.now(UTC).date(), 1)[0]


@pytest.fixture
def billed_fleet(fleet_data: dict[str, Any]) -> Fleet:
    """The hand-written fleet plus VMs in every power state, and a DR licence."""
    dc1 = fleet_data["services"][0]["datacenters"][0]["vms"]
    dc1 += [
        api_vm(
            1080,
            "windows9Server64Guest",
            "windows 2022 Standard",
            power="suspended",
            name="app-02",
            **PLACED,
        ),
        api_vm(
            1081,
            "windows9Server64Guest",
            "windows 2022 Standard",
            power="poweredOff",
            name="app-03",
            **PLACED,
        ),
        api_vm(
            1082,
            "windows9Server64Guest",
            "windows 2022 Standard",
            power="deleted",
            name="app-04",
            **PLACED,
        ),
        api_vm(1083, "windows9Server64Guest", "OVHcloud managed", name="managed-01", **PLACED),
    ]
    dr = fleet_data["services"][1]["datacenters"][0]["vms"]
    dr.append(
        api_vm(3002, "windows2019srv_64Guest", "windows 2019 Standard", name="dr-app-01", **PLACED)
    )
    return replace(Fleet.from_json(fleet_data, "fleet_data"), faults=())


@pytest.fixture
def serve(make_client: Any) -> Iterator[Any]:
    """Serve a fleet with some billing options; yield a client of the billing key."""
    running: list[Simulator] = []

    def start(fleet: Fleet, **options: Any) -> Any:
        config = SimulatorConfig(billing=BillingOptions(**options))
        sim = Simulator(fleet, config).start()
        running.append(sim)
        return make_client(sim, BILLING_CONSUMER_KEY)

    yield start
    for sim in running:
        sim.stop()


def licence_lines(client: Any, identifier: str) -> list[tuple[str, str, str]]:
    details = client.get(f"/me/bill/{identifier}/details")
    lines = [client.get(f"/me/bill/{identifier}/details/{d}") for d in details]
    return [
        (x["domain"], x["description"], x["quantity"]) for x in lines if "SPLA" in x["description"]
    ]


def test_a_months_bill_has_a_line_per_service_and_licence_of_the_vms_powered_on(
    serve: Any, billed_fleet: Fleet
) -> None:
    client = serve(billed_fleet)
    year, month = last_month()
    identifier = bill_id(year, month)
    assert client.get("/me/bill")[-1] == identifier
    bill = client.get(f"/me/bill/{identifier}")
    next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    assert bill["date"] == f"{next_month[0]:04d}-{next_month[1]:02d}-01T00:00:00+00:00"
    assert licence_lines(client, identifier) == [
        (DR, "Microsoft Windows Server 2019 Standard licence (SPLA)", "1"),
        (PROD, "Microsoft Windows Server 2012 R2 Standard licence (SPLA)", "1"),
        (PROD, "Microsoft Windows Server 2019 Standard Core licence (SPLA)", "1"),
        (PROD, "Microsoft Windows Server 2022 Datacenter licence (SPLA)", "1"),
        # poweredOn and suspended count; poweredOff and deleted do not
        (PROD, "Microsoft Windows Server 2022 Standard licence (SPLA)", "2"),
    ]
    first = client.get(f"/me/bill/{identifier}/details")[0]
    detail = client.get(f"/me/bill/{identifier}/details/{first}")
    assert detail["periodStart"] == f"{year:04d}-{month:02d}-01"
    assert detail["totalPrice"]["value"] == detail["unitPrice"]["value"] * int(detail["quantity"])
    total = sum(
        client.get(f"/me/bill/{identifier}/details/{d}")["totalPrice"]["value"]
        for d in client.get(f"/me/bill/{identifier}/details")
    )
    assert bill["priceWithoutTax"]["value"] == pytest.approx(total)


@pytest.mark.parametrize(
    ("options", "changed"),
    [
        ({"extra_licence": True}, {0: "2"}),  # the first line, one more
        ({"missing_licence": True}, {4: "1"}),  # the last line, one fewer
        ({"extra_licence": True, "missing_licence": True}, {0: "2", 4: "1"}),
    ],
)
def test_options_invoice_one_licence_too_many_or_too_few(
    serve: Any, billed_fleet: Fleet, options: dict[str, bool], changed: dict[int, str]
) -> None:
    identifier = bill_id(*last_month())
    exact = licence_lines(serve(billed_fleet), identifier)
    wrong = licence_lines(serve(billed_fleet, **options), identifier)
    expected = [
        (domain, description, changed.get(index, quantity))
        for index, (domain, description, quantity) in enumerate(exact)
    ]
    assert wrong == expected


def test_a_line_invoiced_one_too_few_from_one_disappears(
    serve: Any, fleet_data: dict[str, Any]
) -> None:
    fleet = Fleet.from_json(fleet_data, "fleet_data")
    identifier = bill_id(*last_month())
    exact = licence_lines(serve(fleet), identifier)
    assert exact[-1][2] == "1"
    assert licence_lines(serve(fleet, missing_licence=True), identifier) == exact[:-1]


def test_one_too_many_on_a_fleet_without_licences_is_a_line_of_its_own(serve: Any) -> None:
    fleet = Fleet.from_json({"services": [{"serviceName": PROD, "datacenters": []}]}, "x")
    identifier = bill_id(*last_month())
    assert licence_lines(serve(fleet), identifier) == []
    assert licence_lines(serve(fleet, extra_licence=True), identifier) == [
        (PROD, "Microsoft Windows Server 2022 Standard licence (SPLA)", "1")
    ]


def test_unrelated_lines_are_other_products_and_other_domains(
    serve: Any, billed_fleet: Fleet
) -> None:
    client = serve(billed_fleet, unrelated_lines=True)
    identifier = bill_id(*last_month())
    lines = [
        client.get(f"/me/bill/{identifier}/details/{d}")
        for d in client.get(f"/me/bill/{identifier}/details")
    ]
    domains = {x["domain"] for x in lines}
    assert {PROD, DR} < domains and len(domains) == 5
    rentals = [x for x in lines if "host rental" in x["description"]]
    assert {x["domain"] for x in rentals} == {PROD, DR}
    bill = client.get(f"/me/bill/{identifier}")
    assert {x["periodStart"] for x in rentals} == {bill["date"][:10]}  # next month, in advance
    assert any(x["periodStart"] is None for x in lines)


def test_the_bill_list_is_filtered_by_date_and_holds_only_past_months(
    serve: Any, billed_fleet: Fleet
) -> None:
    client = serve(billed_fleet, months=3)
    today = datetime.now(UTC).date()
    months = billed_months(today, 3)
    ids = [bill_id(*m) for m in months]
    assert client.get("/me/bill") == ids
    dates = [client.get(f"/me/bill/{i}")["date"] for i in ids]
    assert client.get("/me/bill", **{"date.from": dates[1]}) == ids[1:]
    assert client.get("/me/bill", **{"date.to": dates[1]}) == ids[:2]
    assert client.get("/me/bill", **{"date.from": dates[1], "date.to": dates[1]}) == [ids[1]]
    year, month = today.year, today.month
    with pytest.raises(ovh.exceptions.ResourceNotFoundError):
        client.get(f"/me/bill/{bill_id(year, month)}")  # this month is not billed yet
    older = bill_id(*billed_months(today, 4)[0])
    with pytest.raises(ovh.exceptions.ResourceNotFoundError):
        client.get(f"/me/bill/{older}")  # before the months the simulator bills


def test_a_bill_once_issued_never_changes(make_client: Any, billed_fleet: Fleet) -> None:
    with Simulator(billed_fleet, SimulatorConfig()) as sim:
        client = make_client(sim, BILLING_CONSUMER_KEY)
        last, before = last_month(), billed_months(datetime.now(UTC).date(), 2)[0]
        issued = sim.issue_bill(*last)
        sim.fleet.services[PROD].datacenters[1].set_license(1075, "windows 2016 Standard")
        assert not any("2016" in x[1] for x in licence_lines(client, issued))
        assert any("2016" in x[1] for x in licence_lines(client, bill_id(*before)))


def test_a_month_with_recorded_usage_invoices_every_vm_billed_on_one_of_its_days(
    make_client: Any, billed_fleet: Fleet
) -> None:
    """As OVHcloud's rule: a VM powered on with a licence on any recorded day is invoiced,
    even when it is deleted, powered off or unlicensed when the bill is issued."""
    with Simulator(billed_fleet, SimulatorConfig()) as sim:
        client = make_client(sim, BILLING_CONSUMER_KEY)
        last = last_month()
        dc1 = sim.fleet.services[PROD].datacenters[1]
        sim.record_usage(*last)  # day 1: as the fleet is
        dc1.set_license(1074, None)  # 2019 Standard Core removed
        dc1.vms[1076] = replace(
            dc1.vms[1076], fields={**dc1.vms[1076].fields, "powerState": "deleted"}
        )
        dc1.set_license(1075, "windows 2016 Standard")  # a Linux VM, licensed after day 1
        dc1.vms[1075] = replace(
            dc1.vms[1075], fields={**dc1.vms[1075].fields, "powerState": "poweredOff"}
        )
        sim.record_usage(*last)  # day 2
        issued = sim.issue_bill(*last)
        assert licence_lines(client, issued) == [
            (DR, "Microsoft Windows Server 2019 Standard licence (SPLA)", "1"),
            (PROD, "Microsoft Windows Server 2012 R2 Standard licence (SPLA)", "1"),
            (PROD, "Microsoft Windows Server 2019 Standard Core licence (SPLA)", "1"),
            (PROD, "Microsoft Windows Server 2022 Datacenter licence (SPLA)", "1"),
            (PROD, "Microsoft Windows Server 2022 Standard licence (SPLA)", "2"),
        ]


def test_simulate_command_takes_the_billing_options(monkeypatch: pytest.MonkeyPatch) -> None:
    counts = licence_counts(generate_fleet(30, 0).fleet)
    first = min(counts)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "audit", "simulate", "--generate", "30", "--port", "0"),
            *("--bill-extra-licence", "--bill-unrelated-lines"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(20)
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+/1\.0)\n", lines[0])
        assert match, lines
        monkeypatch.setitem(ovh.client.ENDPOINTS, "bills-cli", match[1])
        client = ovh.Client(
            endpoint="bills-cli",
            application_key="sim-app-key",
            application_secret="sim-app-secret",
            consumer_key=BILLING_CONSUMER_KEY,
        )
        identifier = client.get("/me/bill")[-1]
        details = client.get(f"/me/bill/{identifier}/details")
        lines = [client.get(f"/me/bill/{identifier}/details/{d}") for d in details]
        assert lines[0]["domain"] == first[0]
        assert lines[0]["quantity"] == str(counts[first] + 1)  # one licence too many
        assert "example.com" in {x["domain"] for x in lines}  # and the unrelated lines
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.communicate()
