"""Simulator contract tests, driven by the real `ovh` client where the API is the contract."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ovh
import pytest
import requests

from audit.simulator.api import REMEDIATE_CONSUMER_KEY, SimulatorConfig
from audit.simulator.fleet import Fleet, load_fleet
from audit.simulator.generate import (
    CLIENT_GUESTS,
    CURRENT_SERVER_GUESTS,
    HOSTILE_NAMES,
    LINUX_GUESTS,
    OLD_SERVER_GUESTS,
    UNKNOWN_GUESTS,
    generate_fleet,
)
from audit.simulator.licences import LEGACY_LICENSES, SETTABLE_LICENSES, licence_fits_guest
from audit.simulator.server import Simulator
from audit.support.errors import InputError
from tests.helpers.ovh_schema import Schema

ClientFactory = Callable[..., Any]  # the `make_client` fixture

PROD = "pcc-203-0-113-10"  # the services of the `fleet_data` fixture
DR = "pcc-198-51-100-24"
DC1 = f"/dedicatedCloud/{PROD}/datacenter/1"
DC2 = f"/dedicatedCloud/{PROD}/datacenter/2"
ROOT = Path(__file__).resolve().parent.parent


def wait_for_task(client: Any, path: str, deadline_s: float = 5.0) -> list[str]:
    """Poll a task until done; return the states seen."""
    states = []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        state = client.get(path)["state"]
        states.append(state)
        if state == "done":
            return states
        time.sleep(0.02)
    raise AssertionError(f"task {path} not done: {states}")


# --- routes -----------------------------------------------------------------------------------


def test_auth_time_is_a_bare_integer_without_authentication(simulator: Simulator) -> None:
    response = requests.get(f"{simulator.url}/auth/time", timeout=5)
    assert response.status_code == 200
    assert abs(int(response.text) - time.time()) < 5


def test_read_routes(simulator: Simulator, make_client: ClientFactory) -> None:
    client = make_client(simulator)
    assert client.get("/dedicatedCloud") == [PROD, DR]
    service = client.get(f"/dedicatedCloud/{PROD}")
    assert service["serviceName"] == PROD and service["spla"] is True
    assert service["description"] == "Production"
    assert {"location", "state", "generation", "version", "billingType", "iam"} <= set(service)
    assert client.get(f"/dedicatedCloud/{DR}")["spla"] is False
    assert client.get(f"/dedicatedCloud/{PROD}/datacenter") == [1, 2]
    datacenter = client.get(DC1)
    assert datacenter["datacenterId"] == 1 and datacenter["name"] == f"{PROD}_datacenter1"
    assert {"commercialName", "commercialRangeName", "version", "isRemovable"} <= set(datacenter)
    assert client.get(f"/dedicatedCloud/{DR}/datacenter/3")["name"] == f"{DR}_datacenter3"
    assert client.get(f"{DC1}/vm") == [1074, 1075, 1076, 1077, 1078]
    vm = client.get(f"{DC1}/vm/1076")
    assert vm["vmId"] == 1076 and vm["moRef"] == "vm-1076"
    assert vm["guestOsFamily"] == "windows9Server64Guest"
    assert vm["license"] == "windows 2022 Standard"
    assert "toolsGuestOsFamily" not in vm
    assert client.get(f"{DC1}/vm/1078")["guestOsFamily"] is None


def test_a_fleet_file_may_hold_licences_the_api_never_returns(
    fleet_data: dict[str, Any], make_client: ClientFactory
) -> None:
    """Defence in depth: the audit must report such values, so a fleet file can serve them."""
    vm = fleet_data["services"][0]["datacenters"][0]["vms"][0]
    vm["license"] = "BYOL"
    fleet = Fleet.from_json(fleet_data, "fleet_data")
    with Simulator(fleet) as sim:
        client = make_client(sim)
        assert client.get(f"{DC1}/vm/{vm['vmId']}")["license"] == "BYOL"
        listing = {entry["vmId"]: entry["license"] for entry in client.get(f"{DC1}/vmLicensed")}
        assert listing[vm["vmId"]] == "BYOL"


def test_vm_licensed_is_derived_with_the_tools_view(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    client = make_client(simulator)
    assert client.get(f"{DC1}/vmLicensed") == [
        {
            "vmId": 1074,
            "name": "sql-prod-01",
            "moRef": "vm-1074",
            "guestOsFamily": "windows2019srv_64Guest",
            "license": "windows 2019 Standard Core",
        },
        {
            "vmId": 1076,
            "name": "app-win-01",
            "moRef": "vm-1076",
            "guestOsFamily": "windows2019srvNext_64Guest",
            "license": "windows 2022 Standard",
        },
        {
            "vmId": 1077,
            "name": "erp-01",
            "moRef": "vm-1077",
            "guestOsFamily": "windows8Server64Guest",
            "license": "windows 2012 R2 Standard",
        },
    ]
    filtered = client.get(f"{DC1}/vmLicensed", kmsLicense="windows 2022 Standard")
    assert [entry["vmId"] for entry in filtered] == [1076]
    assert client.get(f"{DC1}/vmLicensed", kmsLicense="windows 2016 Standard") == []


def test_vm_licensed_list_is_served_as_given(
    simulator: Simulator, make_client: ClientFactory, fleet_data: dict[str, Any]
) -> None:
    client = make_client(simulator)
    given = fleet_data["services"][0]["datacenters"][1]["vmLicensed"]
    assert client.get(f"{DC2}/vmLicensed") == given
    assert client.get(f"{DC2}/vm") == [2001, 2002]


@pytest.mark.parametrize(
    "path",
    [
        "/dedicatedCloud/pcc-192-0-2-99",
        "/dedicatedCloud/pcc-192-0-2-99/datacenter",
        f"/dedicatedCloud/{PROD}/datacenter/9",
        f"/dedicatedCloud/{PROD}/datacenter/9/vm",
        f"{DC1}/vm/9999",
        f"{DC2}/vm/1074",
        f"/dedicatedCloud/{PROD}/task/1",
        f"{DC1}/task/1",
        "/dedicatedCloud/nothing/here/at/all",
        "/me",
    ],
)
def test_unknown_objects_and_routes_are_404(
    simulator: Simulator, make_client: ClientFactory, path: str
) -> None:
    with pytest.raises(ovh.exceptions.ResourceNotFoundError):
        make_client(simulator).get(path)


def test_non_integer_id_is_a_bad_parameter(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    with pytest.raises(ovh.exceptions.BadParametersError, match="datacenterId"):
        make_client(simulator).get(f"/dedicatedCloud/{PROD}/datacenter/one")


def test_keep_alive_serves_several_requests_on_one_connection(simulator: Simulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", simulator.port, timeout=5)
    try:
        for _ in range(3):
            connection.request("GET", "/1.0/auth/time")
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Length") == str(len(response.read()))
            assert response.version == 11
    finally:
        connection.close()


# --- credentials ------------------------------------------------------------------------------


def test_wrong_secret_is_an_invalid_credential(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    client = make_client(simulator, application_secret="not-the-secret")
    with pytest.raises(ovh.exceptions.InvalidCredential) as caught:
        client.get("/dedicatedCloud")
    body = caught.value.response.json()
    assert body["errorCode"] == "INVALID_CREDENTIAL" and body["httpCode"].startswith("403")
    assert {"message", "class"} <= set(body)


def test_unknown_application_key_is_an_invalid_key(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    with pytest.raises(ovh.exceptions.InvalidKey):
        make_client(simulator, application_key="someone-else").get("/dedicatedCloud")


def test_unknown_consumer_key_is_an_invalid_credential(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    with pytest.raises(ovh.exceptions.InvalidCredential):
        make_client(simulator, consumer_key="sim-ck-stolen").get("/dedicatedCloud")


def test_stale_timestamp_is_refused(simulator: Simulator, make_client: ClientFactory) -> None:
    client = make_client(simulator)
    client._time_delta = -3600  # a clock an hour late
    with pytest.raises(ovh.exceptions.InvalidCredential):
        client.get("/dedicatedCloud")


def test_tampered_query_breaks_the_signature(simulator: Simulator) -> None:
    """The signature covers the full URL, query string included."""
    session = requests.Session()
    client = ovh.Client(
        endpoint="ovh-eu",
        application_key="sim-app-key",
        application_secret="sim-app-secret",
        consumer_key="sim-ck-readonly",
    )
    client._endpoint = simulator.url
    client._session = session
    signed = client.raw_call("GET", f"{DC1}/task?name=a")
    assert signed.status_code == 200
    request = signed.request
    tampered = session.get(
        str(request.url).replace("name=a", "name=b"),
        headers=dict(request.headers),
        timeout=5,
    )
    assert tampered.status_code == 403
    assert tampered.json()["errorCode"] == "INVALID_CREDENTIAL"
    session.close()


def test_read_only_key_may_not_post(simulator: Simulator, make_client: ClientFactory) -> None:
    with pytest.raises(ovh.exceptions.NotGrantedCall):
        make_client(simulator).post(f"{DC1}/vm/1075/removeLicense")
    assert simulator.fleet.services[PROD].datacenters[1].vms[1075].license is None


# --- licence changes --------------------------------------------------------------------------


def test_set_license_refuses_a_licence_that_does_not_fit_the_guest(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    client = make_client(simulator, REMEDIATE_CONSUMER_KEY)
    with pytest.raises(ovh.exceptions.BadParametersError, match="guest OS"):
        client.post(
            f"{DC1}/vm/1074/setLicense",
            kmsLicense="windows 2022 Standard",
            bypassGuestOsFamilyCheck=False,
        )
    with pytest.raises(ovh.exceptions.BadParametersError):
        client.post(
            f"{DC1}/vm/1075/setLicense",
            kmsLicense="windows 2019 Standard",
            bypassGuestOsFamilyCheck=False,
        )


@pytest.mark.parametrize(
    "params",
    [
        {"kmsLicense": "windows 2019 Standard"},
        {"bypassGuestOsFamilyCheck": True},
        {"kmsLicense": "windows 2012 R2 Standard", "bypassGuestOsFamilyCheck": True},
        {"kmsLicense": "OVHcloud managed", "bypassGuestOsFamilyCheck": True},
        {"kmsLicense": "windows 2019 Standard", "bypassGuestOsFamilyCheck": "yes"},
    ],
)
def test_set_license_validates_its_parameters(
    simulator: Simulator, make_client: ClientFactory, params: dict[str, Any]
) -> None:
    client = make_client(simulator, REMEDIATE_CONSUMER_KEY)
    with pytest.raises(ovh.exceptions.BadParametersError):
        client.post(f"{DC1}/vm/1074/setLicense", **params)


def test_set_license_goes_through_a_task_that_changes_the_vm(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    client = make_client(simulator, REMEDIATE_CONSUMER_KEY)
    task = client.post(
        f"{DC1}/vm/1074/setLicense",
        kmsLicense="windows 2019 Datacenter",
        bypassGuestOsFamilyCheck=False,
    )
    assert task["state"] == "todo" and task["name"] == "setLicense"
    assert client.get(f"{DC1}/vm/1074")["license"] == "windows 2019 Standard Core"
    states = wait_for_task(client, f"/dedicatedCloud/{PROD}/task/{task['taskId']}")
    assert set(states) <= {"todo", "doing", "done"}
    assert client.get(f"{DC1}/task/{task['taskId']}")["state"] == "done"
    with pytest.raises(ovh.exceptions.ResourceNotFoundError):
        client.get(f"{DC2}/task/{task['taskId']}")
    assert client.get(f"{DC1}/vm/1074")["license"] == "windows 2019 Datacenter"
    licensed = {e["vmId"]: e["license"] for e in client.get(f"{DC1}/vmLicensed")}
    assert licensed[1074] == "windows 2019 Datacenter"
    assert simulator.fleet.services[PROD].datacenters[1].vms[1074].license == (
        "windows 2019 Datacenter"
    )


def test_bypass_sets_a_licence_the_guest_does_not_fit(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    client = make_client(simulator, REMEDIATE_CONSUMER_KEY)
    task = client.post(
        f"{DC1}/vm/1075/setLicense",
        kmsLicense="windows 2025 Standard",
        bypassGuestOsFamilyCheck=True,
    )
    wait_for_task(client, f"{DC1}/task/{task['taskId']}")
    assert client.get(f"{DC1}/vm/1075")["license"] == "windows 2025 Standard"
    assert 1075 in {entry["vmId"] for entry in client.get(f"{DC1}/vmLicensed")}


def test_remove_license_updates_both_views(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    client = make_client(simulator, REMEDIATE_CONSUMER_KEY)
    task = client.post(f"{DC2}/vm/2001/removeLicense")
    assert task["name"] == "removeLicense" and task["datacenterId"] == 2
    wait_for_task(client, f"/dedicatedCloud/{PROD}/task/{task['taskId']}")
    assert client.get(f"{DC2}/vm/2001")["license"] is None
    assert [entry["vmId"] for entry in client.get(f"{DC2}/vmLicensed")] == [2999]


@pytest.mark.parametrize(
    ("licence", "guest", "fits"),
    [
        ("windows 2016 Standard", "windows9Server64Guest", True),
        ("windows 2025 Datacenter", "windows9Server64Guest", True),
        ("windows 2019 Standard", "windows2019srv_64Guest", True),
        ("windows 2022 Standard", "windows2019srv_64Guest", False),
        ("windows 2022 Standard", "windows2019srvNext_64Guest", True),
        ("windows 2025 Standard", "windows2022srvNext_64Guest", True),
        ("windows 2022 Standard", "windows2022srvNext_64Guest", False),
        ("windows 2016 Standard", "windows8Server64Guest", False),
        ("windows 2019 Standard", "windows11_64Guest", False),
        ("windows 2019 Standard", "debian12_64Guest", False),
        ("windows 2019 Standard", None, False),
        ("windows 2019 Standard", "otherGuest64", False),
    ],
)
def test_licence_fits_guest(licence: str, guest: str | None, fits: bool) -> None:
    assert licence_fits_guest(licence, guest) is fits


def test_settable_licences_match_the_api_table() -> None:
    assert len(SETTABLE_LICENSES) == 4 + 8 + 12 + 9
    assert "windows 2022 Datacenter SQL2019 Web" in SETTABLE_LICENSES
    assert not set(LEGACY_LICENSES) & set(SETTABLE_LICENSES)


# --- rate limit and faults --------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(
    fleet_data: dict[str, Any], make_client: ClientFactory
) -> None:
    fleet = Fleet.from_json(fleet_data, "fleet_data")
    with Simulator(fleet, SimulatorConfig(rate_limit=2)) as sim:
        client = make_client(sim)
        responses = [client.raw_call("GET", "/dedicatedCloud") for _ in range(12)]
        limited = [r for r in responses if r.status_code == 429]
        assert [r.status_code for r in responses[:2]] == [200, 200]  # one second's burst
        assert 6 <= len(limited) <= 10
        assert all(r.status_code in (200, 429) for r in responses)
        assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
        assert "message" in limited[0].json()
        with pytest.raises(ovh.exceptions.APIError) as caught:
            client.get("/dedicatedCloud")
        assert caught.value.response.status_code == 429
        other = make_client(sim, REMEDIATE_CONSUMER_KEY)  # each consumer key has its own budget
        assert other.raw_call("GET", "/dedicatedCloud").status_code == 200
        assert sim.stats.rate_limited == len(limited) + 1


@pytest.mark.slow
def test_fault_rate_answers_500_or_503_with_a_json_body(
    fleet_data: dict[str, Any], make_client: ClientFactory
) -> None:
    def statuses(seed: int) -> list[int]:
        fleet = Fleet.from_json(fleet_data, "fleet_data")
        with Simulator(fleet, SimulatorConfig(fault_rate=0.3, seed=seed)) as sim:
            client = make_client(sim)
            responses = [client.raw_call("GET", f"{DC1}/vm/1074") for _ in range(200)]
            faulty = [r for r in responses if r.status_code != 200]
            assert {r.status_code for r in faulty} == {500, 503}
            assert all("message" in r.json() for r in faulty)
            assert sim.stats.faults == len(faulty)
            return [r.status_code for r in responses]

    first = statuses(seed=7)
    assert 30 <= sum(1 for s in first if s != 200) <= 90
    assert statuses(seed=7) == first


def test_auth_time_is_never_faulty(fleet_data: dict[str, Any]) -> None:
    fleet = Fleet.from_json(fleet_data, "fleet_data")
    with Simulator(fleet, SimulatorConfig(fault_rate=1.0)) as sim:
        assert requests.get(f"{sim.url}/auth/time", timeout=5).status_code == 200


def test_persistent_fault_always_answers_its_status(
    simulator: Simulator, make_client: ClientFactory
) -> None:
    client = make_client(simulator)
    for _ in range(3):
        with pytest.raises(ovh.exceptions.APIError) as caught:
            client.get(f"/dedicatedCloud/{DR}/datacenter/3/vm")
        assert caught.value.response.status_code == 503
        assert "message" in caught.value.response.json()
    assert client.get(f"/dedicatedCloud/{DR}/datacenter/3/vm/3001")["name"] == "dr-sql-01"
    assert simulator.stats.faults == 3


# --- concurrency ------------------------------------------------------------------------------


def test_concurrent_clients_are_served_at_the_same_time(
    fleet_data: dict[str, Any], make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten clients' requests are in the server together (a thread each), not one by one.

    Each request waits at a barrier for the other nine: a server that serialised requests
    would break the barrier (its timeout is a failure bound, not a measurement). The
    latency overlap itself is measured by the bench (`python -m audit.bench`).
    """
    fleet = Fleet.from_json(fleet_data, "fleet_data")
    with Simulator(fleet) as sim:
        clients = [make_client(sim) for _ in range(10)]
        assert all(client.time_delta is not None for client in clients)  # before the barrier
        barrier = threading.Barrier(len(clients), timeout=10)
        handle = sim.api.handle

        def handle_together(request: Any) -> Any:
            barrier.wait()
            return handle(request)

        monkeypatch.setattr(sim.api, "handle", handle_together)
        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            results = list(pool.map(lambda client: client.get(f"{DC1}/vm/1074"), clients))
    assert not barrier.broken
    assert [r["vmId"] for r in results] == [1074] * len(clients)


def test_concurrent_licence_changes_stay_consistent(make_client: ClientFactory) -> None:
    generated = generate_fleet(300, seed=5)
    fleet = generated.fleet
    service = next(iter(fleet.services.values()))
    datacenter = next(iter(service.datacenters.values()))
    targets = list(datacenter.vms)[:24]
    base = f"/dedicatedCloud/{service.service_name}/datacenter/{datacenter.datacenter_id}"
    with Simulator(fleet, SimulatorConfig(task_seconds=0.05, latency_ms=5)) as sim:

        def change(vm_ids: list[int]) -> int:
            client = make_client(sim, REMEDIATE_CONSUMER_KEY)
            for vm_id in vm_ids:
                task = client.post(
                    f"{base}/vm/{vm_id}/setLicense",
                    kmsLicense="windows 2025 Standard Core",
                    bypassGuestOsFamilyCheck=True,
                )
                client.get(f"{base}/vmLicensed")
                wait_for_task(client, f"{base}/task/{task['taskId']}")
            return len(vm_ids)

        chunks = [targets[i::8] for i in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert sum(pool.map(change, chunks)) == len(targets)
        reader = make_client(sim)
        licensed = {e["vmId"]: e["license"] for e in reader.get(f"{base}/vmLicensed")}
        assert all(licensed[vm_id] == "windows 2025 Standard Core" for vm_id in targets)
        changed = sim.fleet.services[service.service_name].datacenters[datacenter.datacenter_id]
        assert all(changed.vms[v].license == "windows 2025 Standard Core" for v in targets)
        stats = sim.stats
    assert stats.by_status == {200: stats.requests}


# --- generator --------------------------------------------------------------------------------

_SCHEMA = Schema()
_SETTABLE = frozenset(_SCHEMA.enum("dedicatedCloud.spla.KmsLicenseEnum"))
_SPECIAL = frozenset(
    {"OVHcloud managed", "unknown or unsupported license", "unlicensed windows guestos"}
)
# Legacy values: the API can return them (the schema's legacy-inclusive enum), not set them.
_LEGACY = (
    frozenset(_SCHEMA.enum("dedicatedCloud.spla.KmsLicenseIncludingLegacyEnum"))
    - _SETTABLE
    - _SPECIAL
)
_EDITION_VERSION = re.compile(r"windows (\d{4}(?: R2)?) ")
# Windows Server versions oldest first, to tell an older licence from a newer one.
_ORDER = ("2003", "2008", "2008 R2", "2012", "2012 R2", "2016", "2019", "2022", "2025")

# Every guestId the generator uses, classified by hand from VMware's guestId list: a Windows
# server (with the versions its licence may be for; None when the id does not tell), a
# Windows client, another OS, or unknown. A generated guest missing here fails the test.
_SERVER, _CLIENT, _OTHER, _UNKNOWN = "server", "client", "other", "unknown"
_GUESTS: dict[str | None, tuple[str, frozenset[str] | None]] = {
    "windows7Server64Guest": (_SERVER, frozenset({"2008 R2"})),
    "windows8Server64Guest": (_SERVER, frozenset({"2012", "2012 R2"})),
    "windows9Server64Guest": (_SERVER, frozenset({"2016", "2019", "2022", "2025"})),
    "windows2019srv_64Guest": (_SERVER, frozenset({"2019"})),
    "windows2019srvNext_64Guest": (_SERVER, frozenset({"2022"})),
    "windows2022srvNext_64Guest": (_SERVER, frozenset({"2025"})),
    "winNetStandard64Guest": (_SERVER, frozenset({"2003"})),
    "winLonghorn64Guest": (_SERVER, frozenset({"2008"})),
    "windowsHyperVGuest": (_SERVER, None),
    "windows9_64Guest": (_CLIENT, None),
    "windows11_64Guest": (_CLIENT, None),
    "windows7_64Guest": (_CLIENT, None),
    "windows8_64Guest": (_CLIENT, None),
    "windows12_64Guest": (_CLIENT, None),
    "winXPProGuest": (_CLIENT, None),
    "winVista64Guest": (_CLIENT, None),
    "rhel9_64Guest": (_OTHER, None),
    "debian12_64Guest": (_OTHER, None),
    "ubuntu64Guest": (_OTHER, None),
    "rockylinux_64Guest": (_OTHER, None),
    "almalinux_64Guest": (_OTHER, None),
    "centos8_64Guest": (_OTHER, None),
    "sles15_64Guest": (_OTHER, None),
    "other5xLinux64Guest": (_OTHER, None),
    "freebsd14_64Guest": (_OTHER, None),
    "vmwarePhoton64Guest": (_OTHER, None),
    None: (_UNKNOWN, None),
    "": (_UNKNOWN, None),
    "otherGuest": (_UNKNOWN, None),
    "otherGuest64": (_UNKNOWN, None),
}


def _rules_by_the_book(vm: dict[str, Any], entry: dict[str, Any] | None) -> frozenset[str]:
    """docs/DESIGN.md's rule table, written independently of the generator's intent."""
    guest, licence = vm["guestOsFamily"], vm["license"]
    if vm["powerState"] == "deleted":  # only LIC-DELETED-DECLARED looks at it
        billable = _SETTABLE | _LEGACY
        declared = licence in billable or (entry is not None and entry["license"] in billable)
        return frozenset({"LIC-DELETED-DECLARED"} if declared else ())
    kind, versions = _GUESTS[guest]
    unknown = kind == _UNKNOWN
    windows = kind in (_SERVER, _CLIENT)
    server = kind == _SERVER
    legacy = licence in _LEGACY
    edition = licence in _SETTABLE or legacy
    rules = set()
    if server and licence in (None, "unlicensed windows guestos"):
        # One run, no observation: the snapshot alone is the period.
        off = vm["powerState"] == "poweredOff"
        rules.add("WIN-UNLICENSED-OFF" if off else "WIN-UNLICENSED")
    if windows and not server:
        rules.add("WIN-CLIENT-OS")
    if not windows and not unknown and edition:
        rules.add("LIC-NON-WINDOWS")
    if server and edition and versions is not None:
        match = _EDITION_VERSION.match(licence)
        assert match is not None
        rank = _ORDER.index(match.group(1))
        if rank < min(_ORDER.index(version) for version in versions):
            rules.add("LIC-VERSION-MISMATCH")
        elif rank > max(_ORDER.index(version) for version in versions):
            rules.add("LIC-VERSION-DOWNGRADE")
    if legacy:
        rules.add("LIC-LEGACY")
    special = ("OVHcloud managed", "unlicensed windows guestos")
    if licence is not None and not edition and licence not in special:
        rules.add("LIC-UNRECOGNISED")
    if unknown:
        rules.add("GUEST-OS-UNKNOWN")
    if entry is not None and entry["guestOsFamily"] != guest:
        rules.add("GUEST-OS-DRIFT")
    if (entry is None) != (licence is None) or (entry is not None and entry["license"] != licence):
        rules.add("LIC-INVENTORY-DRIFT")
    if vm["powerState"] == "poweredOff" and edition:
        rules.add("LIC-POWERED-OFF")
    return frozenset(rules)


def _expected_by_the_book(fleet: Fleet) -> dict[tuple[str, int, int], frozenset[str]]:
    expected = {}
    for service in fleet.services.values():
        for dc in service.datacenters.values():
            listing = {entry["vmId"]: entry for entry in dc.licensed_summaries()}
            for vm in dc.vms.values():
                key = (service.service_name, dc.datacenter_id, vm.vm_id)
                expected[key] = _rules_by_the_book(vm.api_object(), listing.get(vm.vm_id))
            for vm_id in listing.keys() - dc.vms.keys():
                expected[(service.service_name, dc.datacenter_id, vm_id)] = frozenset(
                    {"LIC-INVENTORY-DRIFT"}
                )
    return expected


@pytest.mark.parametrize(("n", "seed"), [(40, 1), (400, 2), (1500, 3)])
def test_generated_expectations_follow_the_rule_table(n: int, seed: int) -> None:
    generated = generate_fleet(n, seed)
    assert (
        sum(len(dc.vms) for s in generated.fleet.services.values() for dc in s.datacenters.values())
        == n
    )
    assert generated.expected == _expected_by_the_book(generated.fleet)


def test_generator_is_deterministic_for_a_seed() -> None:
    first = generate_fleet(500, seed=11)
    again = generate_fleet(500, seed=11)
    assert first.fleet.to_json() == again.fleet.to_json()
    assert first.expected == again.expected
    assert generate_fleet(500, seed=12).fleet.to_json() != first.fleet.to_json()


def test_generated_fleet_holds_every_anomaly_in_a_clean_majority() -> None:
    generated = generate_fleet(600, seed=4)
    fleet = generated.fleet
    vms = [vm.fields for _, _, vm in fleet.vms()]
    rules = Counter(rule for found in generated.expected.values() for rule in found)
    assert set(rules) == {
        "WIN-UNLICENSED",
        "WIN-UNLICENSED-OFF",
        "WIN-CLIENT-OS",
        "LIC-NON-WINDOWS",
        "LIC-VERSION-MISMATCH",
        "LIC-VERSION-DOWNGRADE",
        "LIC-DELETED-DECLARED",
        "LIC-LEGACY",
        "LIC-UNRECOGNISED",
        "GUEST-OS-UNKNOWN",
        "GUEST-OS-DRIFT",
        "LIC-INVENTORY-DRIFT",
        "LIC-POWERED-OFF",
    }
    clean = sum(1 for found in generated.expected.values() if not found)
    assert clean > 0.7 * len(vms)
    guests = {vm["guestOsFamily"] for vm in vms}
    assert set(CURRENT_SERVER_GUESTS + OLD_SERVER_GUESTS + UNKNOWN_GUESTS) <= guests
    assert len(guests & set(CLIENT_GUESTS)) >= 3 and len(guests & set(LINUX_GUESTS)) >= 6
    assert "other5xLinux64Guest" in guests
    licences = Counter(vm["license"] for vm in vms)
    assert {
        "OVHcloud managed",
        "unknown or unsupported license",
        "unlicensed windows guestos",
    } <= set(licences)
    assert set(licences) & set(LEGACY_LICENSES)
    assert licences[None] > len(vms) / 3
    powers = Counter(vm["powerState"] for vm in vms)
    assert powers["poweredOn"] > 0.85 * len(vms) and powers["deleted"] >= 3
    assert powers["poweredOff"] >= 5
    assert any(vm.get("toolsGuestOsFamily") not in (None, vm["guestOsFamily"]) for vm in vms)
    assert set(HOSTILE_NAMES) <= {vm["name"] for vm in vms}
    names = [vm["name"] for vm in vms]
    assert len(set(names)) == len(names)
    assert sum(1 for s in fleet.services.values() if s.attributes["spla"]) >= 2
    assert any(not s.attributes["spla"] for s in fleet.services.values())
    assert (
        all(len(s.datacenters) >= 1 for s in fleet.services.values()) and len(fleet.services) >= 2
    )
    assert all(vm["hostName"].startswith("172.16.") for vm in vms)
    explicit = [
        dc
        for s in fleet.services.values()
        for dc in s.datacenters.values()
        if dc.vm_licensed is not None
    ]
    assert explicit and any(
        entry["vmId"] not in dc.vms for dc in explicit for entry in dc.licensed_summaries()
    )


def test_generated_fleet_round_trips_through_a_fleet_file(tmp_path: Path) -> None:
    fleet = generate_fleet(200, seed=9).fleet
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(fleet.to_json(), ensure_ascii=False), encoding="utf-8")
    assert load_fleet(path).to_json() == fleet.to_json()


# --- fleet file -------------------------------------------------------------------------------


def _break(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set `value` at a dotted path such as `services.0.datacenters.1.vms.0.vmId`."""
    target: Any = data
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "services.0.datacenters.1.vms.1.vmId",
            "2002",
            "services[0].datacenters[1].vms[1].vmId: expected an integer",
        ),
        ("services.0.datacenters.0.vms.0.powerState", "on", "vms[0].powerState: expected one of"),
        (
            "services.0.datacenters.0.vms.2.license",
            2019,
            "vms[2].license: expected a string or null",
        ),
        (
            "services.0.datacenters.0.vms.3.cpuNum",
            "4",
            "vms[3].cpuNum: expected an integer or null",
        ),
        ("services.0.datacenters.0.vms.4.vmId", 1074, "vms[4].vmId: duplicate VM id"),
        ("services.0.datacenters.1.datacenterId", 1, "datacenters[1].datacenterId: duplicate"),
        (
            "services.0.datacenters.1.vmLicensed.0.license",
            None,
            "vmLicensed[0].license: expected a string",
        ),
        ("services.1.serviceName", "pcc-203-0-113-10", "services[1].serviceName: duplicate"),
        ("services.1.spla", "no", "services[1].spla: expected true or false"),
        ("services.1.datacenters", {}, "services[1].datacenters: expected a list"),
        ("faults.0.status", 200, "faults[0].status: expected an HTTP error status"),
        ("faults.0.path", "dedicatedCloud", 'faults[0].path: expected a path starting with "/"'),
    ],
)
def test_bad_fleet_file_names_file_and_field(
    tmp_path: Path, fleet_data: dict[str, Any], path: str, value: Any, message: str
) -> None:
    fleet_file = tmp_path / "fleet.json"
    fleet_file.write_text(json.dumps(_break(fleet_data, path, value)), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_fleet(fleet_file)
    assert str(caught.value).startswith(f"{fleet_file}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_fleet_file_that_is_not_json_or_missing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"services": [', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.json: not valid JSON: line 1"):
        load_fleet(broken)
    with pytest.raises(InputError, match=r"absent\.json: cannot read"):
        load_fleet(tmp_path / "absent.json")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match=r"list\.json: \(root\): expected an object"):
        load_fleet(tmp_path / "list.json")


def test_a_snapshot_is_not_a_fleet_file_and_is_named_so(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.json.gz"
    snapshot.write_bytes(gzip.compress(b'{"format": "ovh-license-audit snapshot"}'))
    with pytest.raises(InputError) as caught:
        load_fleet(snapshot)
    assert str(caught.value) == (
        f"{snapshot}: a gzip file (a snapshot?): --fleet takes a fleet file, JSON describing "
        "services, datacenters and VMs (see the README's simulator section), not a snapshot"
    )


# --- the simulate command ---------------------------------------------------------------------


def _simulate(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "audit", "simulate", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen[str], timeout_s: float = 20) -> str:
    stdout = process.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    assert lines, "simulate printed nothing"
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_simulate_command_prints_where_it_listens_and_stops_on_a_signal(
    stop_signal: signal.Signals,
) -> None:
    process = _simulate("--generate", "50", "--seed", "3", "--port", "0", "--latency-ms", "1")
    try:
        line = _first_line(process)
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+)/1\.0)\n", line)
        assert match, line
        assert int(requests.get(f"{match[1]}/auth/time", timeout=5).text) > 0
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.communicate()


@pytest.mark.slow
def test_simulate_command_rejects_a_bad_fleet_file(tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.json"
    fleet_file.write_text('{"services": [{"serviceName": 7}]}', encoding="utf-8")
    process = _simulate("--fleet", str(fleet_file), "--port", "0")
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    assert stdout == ""
    assert f"{fleet_file}: services[0].serviceName: expected a non-empty string" in stderr
    assert len(stderr.strip().splitlines()) == 1
