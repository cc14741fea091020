"""The simulator answers exactly what OVHcloud's published schema says the real API can answer.

A walk with the real `ovh` client over HTTP visits every route the simulator serves (the
dedicatedCloud routes and the bills under /me), on generated fleets and on the demo's fleet,
and validates every request (path, query, body) and every answer (fields, types, nullability,
enums) against tests/data/ovh-schema, each call against its own section's file. Any drift fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import ovh
import pytest

from audit.cli.demo import evolve_fleet
from audit.simulator.api import (
    BILLING_CONSUMER_KEY,
    REMEDIATE_CONSUMER_KEY,
    ROUTES,
    SimulatorConfig,
)
from audit.simulator.billing import BillingOptions
from audit.simulator.fleet import Fleet
from audit.simulator.generate import generate_fleet
from audit.simulator.licences import licence_fits_guest
from audit.simulator.server import Simulator
from tests.helpers.ovh_schema import ME_SCHEMA_FILE, SCHEMA_FILE, Schemas

ClientFactory = Callable[..., Any]

SCHEMAS = Schemas(SCHEMA_FILE, ME_SCHEMA_FILE)
SCHEMA = SCHEMAS.for_path("/dedicatedCloud")
ME = SCHEMAS.for_path("/me")
SETTABLE = SCHEMA.enum("dedicatedCloud.spla.KmsLicenseEnum")
READABLE = SCHEMA.enum("dedicatedCloud.spla.KmsLicenseIncludingLegacyEnum")


def _query_text(value: object) -> str:
    """A query value as the `ovh` client sends it."""
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass
class Walker:
    """Calls the simulator through `ovh` clients and records every mismatch with the schema."""

    reader: Any
    writer: Any
    biller: Any  # a key that may also read the bills
    errors: list[str] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def _operation(self, method: str, path: str) -> Any:
        op = SCHEMAS.for_path(path).operation(method, path)
        if op is None:
            self.errors.append(f"{method} {path}: no such operation in the schema")
        else:
            self.seen.add((op.method, op.path))
        return op

    def get(self, path: str, **query: Any) -> Any:
        op = self._operation("GET", path)
        schema = SCHEMAS.for_path(path)
        client = self.biller if schema is ME else self.reader
        answer = client.get(path, **query)
        if op is not None:
            texts = {name: _query_text(value) for name, value in query.items()}
            self.errors.extend(f"GET {path}: {e}" for e in schema.check_query(op, texts))
            self.errors.extend(schema.check(answer, op.response_type, f"GET {path}"))
        return answer

    def post(self, path: str, **body: Any) -> Any:
        op = self._operation("POST", path)
        answer = self.writer.post(path, **body)
        if op is not None:
            self.errors.extend(f"POST {path}: {e}" for e in SCHEMA.check_body(op, body))
            self.errors.extend(SCHEMA.check(answer, op.response_type, f"POST {path}"))
        return answer


def _walk_reads(walker: Walker) -> None:
    for sn in walker.get("/dedicatedCloud"):
        walker.get(f"/dedicatedCloud/{sn}")
        for dc in walker.get(f"/dedicatedCloud/{sn}/datacenter"):
            base = f"/dedicatedCloud/{sn}/datacenter/{dc}"
            walker.get(base)
            for vm_id in walker.get(f"{base}/vm"):
                walker.get(f"{base}/vm/{vm_id}")
            listing = walker.get(f"{base}/vmLicensed")
            for licence in sorted({entry["license"] for entry in listing})[:4]:
                filtered = walker.get(f"{base}/vmLicensed", kmsLicense=licence)
                assert {entry["license"] for entry in filtered} == {licence}
            walker.get(f"{base}/task")
        walker.get(f"/dedicatedCloud/{sn}/task")


def _walk_bills(walker: Walker) -> None:
    """The bill list with each of its filters, then every line of the last two bills."""
    ids = walker.get("/me/bill")
    assert ids, "the simulator has no bill"
    last = walker.get(f"/me/bill/{ids[-1]}")
    window = {"date.from": last["date"], "date.to": last["date"]}
    assert walker.get("/me/bill", **window) == [ids[-1]]
    assert walker.get("/me/bill", category=last["category"], orderId=last["orderId"]) == [ids[-1]]
    assert walker.get("/me/bill", category="purchase-web") == []
    for bill_id in ids[-2:]:
        walker.get(f"/me/bill/{bill_id}")
        for detail_id in walker.get(f"/me/bill/{bill_id}/details"):
            walker.get(f"/me/bill/{bill_id}/details/{detail_id}")


def _walk_writes(walker: Walker, fleet: Fleet) -> None:
    """A setLicense and a removeLicense per service, then every task route and filter."""
    for service in fleet.services.values():
        sn = service.service_name
        dc = next(iter(service.datacenters.values()))
        base = f"/dedicatedCloud/{sn}/datacenter/{dc.datacenter_id}"
        vms = list(dc.vms.values())
        target = next(vm for vm in vms if vm.license is None)
        fitting = [v for v in SETTABLE if licence_fits_guest(v, target.guest_os_family)]
        task = walker.post(
            f"{base}/vm/{target.vm_id}/setLicense",
            kmsLicense=(fitting or SETTABLE)[0],
            bypassGuestOsFamilyCheck=not fitting,
        )
        licensed = next(vm for vm in vms if vm.license is not None)
        removal = walker.post(f"{base}/vm/{licensed.vm_id}/removeLicense")
        for done in (task, removal):
            walker.get(f"/dedicatedCloud/{sn}/task/{done['taskId']}")
            walker.get(f"{base}/task/{done['taskId']}")
        assert task["taskId"] in walker.get(f"{base}/task", name="setLicense")
        assert removal["taskId"] in walker.get(f"/dedicatedCloud/{sn}/task")
        walker.get(f"{base}/task", state="done")
        walker.get(f"/dedicatedCloud/{sn}/task", state="todo", name="removeLicense")
        walker.get(f"/dedicatedCloud/{sn}/task", executionDate=task["executionDate"])


def _demo_fleet() -> Fleet:
    """The fleet `make demo` serves, in both of its months."""
    fleet = generate_fleet(800, 2026).fleet
    evolve_fleet(fleet)
    return fleet


FLEETS: dict[str, Callable[[], Fleet]] = {
    "generated-400-seed-1": lambda: generate_fleet(400, 1).fleet,
    "generated-400-seed-2": lambda: generate_fleet(400, 2).fleet,
    "generated-120-seed-7": lambda: generate_fleet(120, 7).fleet,
    "demo": _demo_fleet,
}


@pytest.fixture
def walker_for(make_client: ClientFactory) -> Iterator[Callable[[Fleet], Walker]]:
    simulators: list[Simulator] = []

    def start(fleet: Fleet) -> Walker:
        # Every kind of bill line: licences (one too many), other products, other domains.
        billing = BillingOptions(extra_licence=True, unrelated_lines=True, months=3)
        sim = Simulator(fleet, SimulatorConfig(task_seconds=0, billing=billing)).start()
        simulators.append(sim)
        return Walker(
            make_client(sim),
            make_client(sim, REMEDIATE_CONSUMER_KEY),
            make_client(sim, BILLING_CONSUMER_KEY),
        )

    yield start
    for sim in simulators:
        sim.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FLEETS))
def test_every_answer_conforms_to_the_published_schema(
    walker_for: Callable[[Fleet], Walker], name: str
) -> None:
    fleet = FLEETS[name]()
    walker = walker_for(fleet)
    _walk_reads(walker)
    _walk_bills(walker)
    _walk_writes(walker, fleet)
    _walk_reads(walker)  # again, with the licence changes applied
    assert walker.errors[:20] == []
    served = {(method, path) for method, path, _ in ROUTES}
    assert walker.seen == served


def test_every_route_the_simulator_serves_is_in_the_schema() -> None:
    for method, path, _ in ROUTES:
        assert (method, path) in SCHEMAS.for_path(path).operations, f"{method} {path}"


def test_generated_licences_are_values_the_api_can_return() -> None:
    for n, seed in ((400, 1), (400, 2), (800, 2026), (1500, 3)):
        licences = {vm.license for _, _, vm in generate_fleet(n, seed).fleet.vms()}
        assert licences - {None} <= set(READABLE), (n, seed)


# --- what the API refuses -------------------------------------------------------------------


@pytest.fixture
def small(walker_for: Callable[[Fleet], Walker]) -> tuple[Walker, str]:
    fleet = generate_fleet(40, 1).fleet
    service = next(iter(fleet.services.values()))
    dc = next(iter(service.datacenters.values()))
    base = f"/dedicatedCloud/{service.service_name}/datacenter/{dc.datacenter_id}"
    return walker_for(fleet), base


@pytest.mark.parametrize("value", ["BYOL", "SPLA-WIN-DC", "windows 2012 Enterprise", ""])
def test_vm_licensed_refuses_a_kms_licence_outside_its_enum(
    small: tuple[Walker, str], value: str
) -> None:
    walker, base = small
    assert not SCHEMA.query_value_fits(value, "dedicatedCloud.spla.KmsLicenseIncludingLegacyEnum")
    with pytest.raises(
        ovh.exceptions.BadParametersError, match=r"dedicatedCloud\.spla\.KmsLicenseIncludingLegacy"
    ):
        walker.reader.get(f"{base}/vmLicensed", kmsLicense=value)


@pytest.mark.slow
@pytest.mark.parametrize("value", [*sorted(set(READABLE) - set(SETTABLE)), "BYOL"])
def test_set_license_refuses_a_value_outside_kms_license_enum(
    small: tuple[Walker, str], value: str
) -> None:
    walker, base = small
    vm_id = walker.reader.get(f"{base}/vm")[0]
    with pytest.raises(
        ovh.exceptions.BadParametersError,
        match=r"does not belong to the dedicatedCloud\.spla\.KmsLicenseEnum enumeration",
    ):
        walker.writer.post(
            f"{base}/vm/{vm_id}/setLicense", kmsLicense=value, bypassGuestOsFamilyCheck=True
        )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"state": "finished"}, r"dedicatedCloud\.TaskStateEnum"),
        ({"executionDate": "yesterday"}, "datetime"),
    ],
)
def test_task_list_refuses_a_filter_outside_its_type(
    small: tuple[Walker, str], query: dict[str, str], message: str
) -> None:
    walker, base = small
    service_tasks = base.rsplit("/datacenter/", 1)[0] + "/task"
    with pytest.raises(ovh.exceptions.BadParametersError, match=message):
        walker.reader.get(service_tasks, **query)
    if "state" in query:
        with pytest.raises(ovh.exceptions.BadParametersError, match=message):
            walker.reader.get(f"{base}/task", **query)


def test_task_lists_filter_by_name_state_and_date(small: tuple[Walker, str]) -> None:
    walker, base = small
    service_tasks = base.rsplit("/datacenter/", 1)[0] + "/task"
    assert walker.get(service_tasks) == [] and walker.get(f"{base}/task") == []
    vm_ids = walker.reader.get(f"{base}/vm")
    first = walker.post(f"{base}/vm/{vm_ids[0]}/removeLicense")
    second = walker.post(
        f"{base}/vm/{vm_ids[1]}/setLicense",
        kmsLicense="windows 2022 Standard",
        bypassGuestOsFamilyCheck=True,
    )
    ids = [first["taskId"], second["taskId"]]
    assert walker.get(service_tasks) == ids and walker.get(f"{base}/task") == ids
    assert walker.get(f"{base}/task", name="setLicense") == [second["taskId"]]
    assert walker.get(service_tasks, state="done") == ids  # task_seconds=0: done at once
    assert walker.get(service_tasks, state="doing") == []
    assert walker.get(service_tasks, executionDate=first["executionDate"]) == ids
    assert walker.get(service_tasks, executionDate="2999-01-01T00:00:00+00:00") == []
    assert walker.errors == []


def test_the_hand_written_test_fleet_conforms_too(
    walker_for: Callable[[Fleet], Walker], fleet_data: dict[str, Any]
) -> None:
    fleet = Fleet.from_json(fleet_data, "fleet_data")
    walker = walker_for(replace(fleet, faults=()))  # its persistent 503 is not an answer
    _walk_reads(walker)
    _walk_bills(walker)
    assert walker.errors[:20] == []


# --- the bills ---------------------------------------------------------------------------


def test_a_bill_line_is_typed_as_the_schema_says(small: tuple[Walker, str]) -> None:
    """Ids and quantity are strings, prices objects: what the reconciliation must parse."""
    walker, _ = small
    bill_id = walker.get("/me/bill")[-1]
    detail_id = walker.get(f"/me/bill/{bill_id}/details")[0]
    line = walker.get(f"/me/bill/{bill_id}/details/{detail_id}")
    assert isinstance(line["billDetailId"], str) and isinstance(line["quantity"], str)
    assert set(line["unitPrice"]) == {"currencyCode", "text", "value"}  # order.LongPrice
    assert set(line["totalPrice"]) == {"currencyCode", "text", "value", "priceInUcents"}
    assert walker.errors == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date.from": "last month"}, r"\[date\.from\].*datetime"),
        ({"date.to": "2026-13-01"}, r"\[date\.to\].*datetime"),
        ({"category": "licences"}, r"billing\.CategoryEnum"),
        ({"orderId": "twelve"}, r"\[orderId\].*long"),
    ],
)
def test_the_bill_list_refuses_a_filter_outside_its_type(
    small: tuple[Walker, str], query: dict[str, str], message: str
) -> None:
    walker, _ = small
    for name, text in query.items():
        param = ME.operations[("GET", "/me/bill")].params("query")[name]
        assert not ME.query_value_fits(text, param["dataType"])
    with pytest.raises(ovh.exceptions.BadParametersError, match=message):
        walker.biller.get("/me/bill", **query)


def test_an_unknown_bill_or_line_is_a_404(small: tuple[Walker, str]) -> None:
    walker, _ = small
    bill_id = walker.get("/me/bill")[-1]
    for path in ("/me/bill/FR00000001", f"/me/bill/{bill_id}/details/1"):
        with pytest.raises(ovh.exceptions.ResourceNotFoundError):
            walker.biller.get(path)


def test_a_key_without_the_billing_rights_may_not_read_bills(small: tuple[Walker, str]) -> None:
    walker, _ = small
    bill_id = walker.get("/me/bill")[-1]
    for client in (walker.reader, walker.writer):
        for path in ("/me/bill", f"/me/bill/{bill_id}", f"/me/bill/{bill_id}/details"):
            with pytest.raises(ovh.exceptions.NotGrantedCall):
                client.get(path)
