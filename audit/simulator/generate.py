"""A deterministic, realistic fleet for demos, tests and benchmarks (`simulate --generate N`).

Most VMs are clean, as in a real estate; a few percent each are built to trip one rule of
docs/DESIGN.md's table, and `GeneratedFleet.expected` says which public rule ids each VM was built
to raise, so an end-to-end test can compare the audit's findings with the intent. Cases where
the rules could be read two ways (a powered-off VM holding `OVHcloud managed`, a legacy licence
on an unknown guest, ...) are deliberately not generated.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audit.model.identity import VmKey
from audit.simulator.fleet import Fleet, PowerState
from audit.simulator.licences import (
    GUEST_VERSIONS,
    LEGACY_LICENSES,
    OVH_MANAGED,
    UNLICENSED,
    UNSUPPORTED,
    editions,
    licence_version,
)

WIN_UNLICENSED = "WIN-UNLICENSED"
WIN_UNLICENSED_OFF = "WIN-UNLICENSED-OFF"
WIN_CLIENT_OS = "WIN-CLIENT-OS"
LIC_NON_WINDOWS = "LIC-NON-WINDOWS"
LIC_VERSION_MISMATCH = "LIC-VERSION-MISMATCH"
LIC_VERSION_DOWNGRADE = "LIC-VERSION-DOWNGRADE"
LIC_DELETED_DECLARED = "LIC-DELETED-DECLARED"
LIC_LEGACY = "LIC-LEGACY"
LIC_UNRECOGNISED = "LIC-UNRECOGNISED"
GUEST_OS_UNKNOWN = "GUEST-OS-UNKNOWN"
GUEST_OS_DRIFT = "GUEST-OS-DRIFT"
LIC_INVENTORY_DRIFT = "LIC-INVENTORY-DRIFT"
LIC_POWERED_OFF = "LIC-POWERED-OFF"


CURRENT_SERVER_GUESTS = (
    "windows9Server64Guest",
    "windows2019srv_64Guest",
    "windows2019srvNext_64Guest",
    "windows2022srvNext_64Guest",
)
OLD_SERVER_GUESTS = (
    "windows7Server64Guest",
    "windows8Server64Guest",
    "winNetStandard64Guest",
    "winLonghorn64Guest",
    "windowsHyperVGuest",
)
CLIENT_GUESTS = (
    "windows9_64Guest",
    "windows11_64Guest",
    "windows7_64Guest",
    "windows8_64Guest",
    "windows12_64Guest",
    "winXPProGuest",
    "winVista64Guest",
)
LINUX_GUESTS = (
    "rhel9_64Guest",
    "debian12_64Guest",
    "ubuntu64Guest",
    "rockylinux_64Guest",
    "almalinux_64Guest",
    "centos8_64Guest",
    "sles15_64Guest",
    "other5xLinux64Guest",
    "freebsd14_64Guest",
    "vmwarePhoton64Guest",
)
UNKNOWN_GUESTS: tuple[str | None, ...] = (None, "otherGuest64", "", "otherGuest")

#: Names that a report or a spreadsheet must show as text, never run.
HOSTILE_NAMES = (
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "app \"quoted\" 'single'",
    "line-one\nline-two",
    "serveur-élan-数据",
)

#: The only value the API can return that the audit cannot interpret. Values outside the
#: schema's enum (`BYOL`, `SPLA-WIN-DC`) can still come from a fleet file, never from here.
UNRECOGNISED_LICENCES = (UNSUPPORTED,)

_CURRENT_YEARS = ("2016", "2019", "2022", "2025")

# (configured guestId, guestId VMware Tools report, licence year that fits the configured one)
_DRIFTS = (
    ("windows9Server64Guest", "windows2019srvNext_64Guest", "2022"),
    ("windows2019srv_64Guest", "windows9Server64Guest", "2019"),
    ("windows9Server64Guest", "windows2019srv_64Guest", "2019"),
    ("windows2019srvNext_64Guest", "windows2022srvNext_64Guest", "2022"),
)

# (guestId, licence years older than it)
_MISMATCHES = (
    ("windows2019srv_64Guest", ("2016",)),
    ("windows2019srvNext_64Guest", ("2016", "2019")),
    ("windows2022srvNext_64Guest", ("2019", "2022")),
)

# (guestId, licence years newer than it: SPLA down-version rights may cover them)
_DOWNGRADES = (
    ("windows2019srv_64Guest", ("2022", "2025")),
    ("windows8Server64Guest", ("2016", "2019")),
    ("windows2019srvNext_64Guest", ("2025",)),
    ("windows7Server64Guest", ("2016",)),
)

_LEGACY_FITS = (
    ("windows8Server64Guest", "windows 2012 R2 Standard"),
    ("windows8Server64Guest", "windows 2012 R2 Datacenter"),
    ("windows7Server64Guest", "windows 2008 R2 Standard"),
    ("windows8Server64Guest", "windows 2012 Standard"),
)

_WINDOWS_ROLES = (
    "sql",
    "sql",
    "sql",
    "ad-dc",
    "rds",
    "file",
    "iis",
    "exch",
    "sccm",
    "wsus",
    "adfs",
    "pki",
    "print",
    "erp",
    "app-win",
    "jump-win",
    "citrix-vda",
    "sharepoint",
)
_LINUX_ROLES = (
    "web",
    "web",
    "api",
    "app",
    "pg",
    "mysql",
    "redis",
    "kafka",
    "elk",
    "zabbix",
    "nginx",
    "haproxy",
    "k8s-node",
    "k8s-node",
    "k8s-master",
    "gitlab-runner",
    "ansible",
    "bastion",
    "dns",
    "ldap",
    "nfs",
    "minio",
    "grafana",
    "prometheus",
    "rabbitmq",
)
_CLIENT_ROLES = ("vdi", "win10-build", "win11-test", "kiosk", "dev-desktop", "qa-desktop")
_APPLIANCE_ROLES = ("appliance", "ova-import", "fw-appliance", "lb-appliance", "legacy-app")
_MANAGED_ROLES = ("veeam-proxy", "zerto-vra")

_ENVIRONMENTS = (("prod", 45), ("preprod", 15), ("dev", 15), ("test", 10), ("", 15))
_FOLDERS = {
    "prod": "Production",
    "preprod": "Pre-production",
    "dev": "Development",
    "test": "Test",
    "": "Infrastructure",
}

_SERVICES = (
    ("pcc-203-0-113-10", "Production", True, "rbx2"),
    ("pcc-198-51-100-24", "Disaster recovery (BYOL)", False, "sbg1"),
    ("pcc-192-0-2-41", "Pre-production", True, "gra1"),
    ("pcc-203-0-113-77", "Dev and test", True, "rbx2"),
    ("pcc-198-51-100-131", "Shared services", True, "bhs1"),
)
_DATACENTER_PURPOSES = ("Compute", "Databases", "DMZ", "Legacy", "VDI", "Backup")

#: Most generated VMs are clean; anomalies never take more than this share.
_ANOMALY_BUDGET = 0.4


@dataclass(frozen=True)
class GeneratedFleet:
    """A fleet and, per VM (service, datacenter, vmId), the rule ids it was built to raise.

    Every VM has an entry (an empty set when clean). vmLicensed entries for VMs the
    datacenter does not have are keyed by their vmId too.
    """

    fleet: Fleet
    expected: dict[VmKey, frozenset[str]]


@dataclass(frozen=True)
class _Spec:
    """What one VM is built to be, before it gets a name, an id and a size."""

    role: str
    guest: str | None
    license: str | None
    expected: frozenset[str] = frozenset()
    power: PowerState = PowerState.POWERED_ON
    tools_guest: str | None = None
    name: str | None = None


Builder = Callable[[random.Random, int], _Spec]


def _rules(*ids: str) -> frozenset[str]:
    return frozenset(ids)


def _fitting_licence(rng: random.Random, guest: str, role: str, year: str | None = None) -> str:
    """A settable licence for the guest's version; SQL editions for database servers."""
    if year is None:
        years = [y for y in _CURRENT_YEARS if y in GUEST_VERSIONS[guest]]
        year = rng.choices(years, weights=[3 if y in ("2019", "2022") else 1 for y in years])[0]
    return _licence_of_year(rng, year, sql=role == "sql")


def _licence_of_year(rng: random.Random, year: str, sql: bool = False) -> str:
    pool = [value for value in editions(year) if ("SQL" in value) == sql]
    return rng.choices(pool, weights=[4 if v.endswith(" Standard") else 1 for v in pool])[0]


def _clean_windows(rng: random.Random, index: int) -> _Spec:
    role = rng.choice(_WINDOWS_ROLES)
    guest = rng.choices(CURRENT_SERVER_GUESTS, weights=(3, 3, 3, 1))[0]
    return _Spec(role, guest, _fitting_licence(rng, guest, role))


def _clean_linux(rng: random.Random, index: int) -> _Spec:
    power = rng.choices(
        (PowerState.POWERED_ON, PowerState.POWERED_OFF, PowerState.SUSPENDED),
        weights=(92, 5, 3),
    )[0]
    guest = rng.choices(LINUX_GUESTS, weights=(5, 5, 5, 3, 2, 1, 1, 2, 1, 1))[0]
    return _Spec(rng.choice(_LINUX_ROLES), guest, None, power=power)


def _win_unlicensed(rng: random.Random, index: int) -> _Spec:
    guest = CURRENT_SERVER_GUESTS[index % len(CURRENT_SERVER_GUESTS)]
    licence = None if index % 2 == 0 else UNLICENSED
    return _Spec(rng.choice(_WINDOWS_ROLES), guest, licence, _rules(WIN_UNLICENSED))


def _old_server_unlicensed(rng: random.Random, index: int) -> _Spec:
    guest = OLD_SERVER_GUESTS[index % len(OLD_SERVER_GUESTS)]
    role = "hyperv" if guest == "windowsHyperVGuest" else rng.choice(("legacy-app", "file", "erp"))
    return _Spec(role, guest, None, _rules(WIN_UNLICENSED))


def _client_os(rng: random.Random, index: int) -> _Spec:
    guest = CLIENT_GUESTS[index % len(CLIENT_GUESTS)]
    licence = (None, UNLICENSED, _licence_of_year(rng, "2019"))[index % 3]
    return _Spec(rng.choice(_CLIENT_ROLES), guest, licence, _rules(WIN_CLIENT_OS))


def _licence_on_linux(rng: random.Random, index: int) -> _Spec:
    guest = LINUX_GUESTS[index % len(LINUX_GUESTS)]
    licence = _licence_of_year(rng, rng.choice(_CURRENT_YEARS))
    return _Spec(rng.choice(_LINUX_ROLES), guest, licence, _rules(LIC_NON_WINDOWS))


def _version_mismatch(rng: random.Random, index: int) -> _Spec:
    guest, years = _MISMATCHES[index % len(_MISMATCHES)]
    role = rng.choice(_WINDOWS_ROLES)
    licence = _licence_of_year(rng, rng.choice(years), sql=role == "sql")
    return _Spec(role, guest, licence, _rules(LIC_VERSION_MISMATCH))


def _version_downgrade(rng: random.Random, index: int) -> _Spec:
    guest, years = _DOWNGRADES[index % len(_DOWNGRADES)]
    role = rng.choice(_WINDOWS_ROLES)
    licence = _licence_of_year(rng, rng.choice(years), sql=role == "sql")
    return _Spec(role, guest, licence, _rules(LIC_VERSION_DOWNGRADE))


def _legacy(rng: random.Random, index: int) -> _Spec:
    guest, licence = _LEGACY_FITS[index % len(_LEGACY_FITS)]
    return _Spec(
        rng.choice(("erp", "file", "legacy-app", "sql")), guest, licence, _rules(LIC_LEGACY)
    )


def _legacy_mismatch(rng: random.Random, index: int) -> _Spec:
    guest = CURRENT_SERVER_GUESTS[index % len(CURRENT_SERVER_GUESTS)]
    licence = rng.choice([v for v in LEGACY_LICENSES if licence_version(v) != "2008 R2"])
    return _Spec(
        rng.choice(_WINDOWS_ROLES), guest, licence, _rules(LIC_LEGACY, LIC_VERSION_MISMATCH)
    )


def _unrecognised(rng: random.Random, index: int) -> _Spec:
    guest = rng.choice(CURRENT_SERVER_GUESTS)
    licence = UNRECOGNISED_LICENCES[index % len(UNRECOGNISED_LICENCES)]
    return _Spec(rng.choice(_WINDOWS_ROLES), guest, licence, _rules(LIC_UNRECOGNISED))


def _ovh_managed(rng: random.Random, index: int) -> _Spec:
    return _Spec(rng.choice(_MANAGED_ROLES), rng.choice(CURRENT_SERVER_GUESTS), OVH_MANAGED)


def _unknown_guest(rng: random.Random, index: int) -> _Spec:
    guest = UNKNOWN_GUESTS[index % len(UNKNOWN_GUESTS)]
    licence = _licence_of_year(rng, "2022") if index % 3 == 2 else None
    return _Spec(rng.choice(_APPLIANCE_ROLES), guest, licence, _rules(GUEST_OS_UNKNOWN))


def _powered_off_licensed(rng: random.Random, index: int) -> _Spec:
    spec = _clean_windows(rng, index)
    return _Spec(
        spec.role, spec.guest, spec.license, _rules(LIC_POWERED_OFF), PowerState.POWERED_OFF
    )


def _powered_off_linux_licensed(rng: random.Random, index: int) -> _Spec:
    spec = _licence_on_linux(rng, index)
    return _Spec(
        spec.role,
        spec.guest,
        spec.license,
        _rules(LIC_NON_WINDOWS, LIC_POWERED_OFF),
        PowerState.POWERED_OFF,
    )


def _powered_off_unlicensed(rng: random.Random, index: int) -> _Spec:
    guest = CURRENT_SERVER_GUESTS[index % len(CURRENT_SERVER_GUESTS)]
    role = rng.choice(_WINDOWS_ROLES)
    # Powered off at the snapshot and, in a single run, on its only observed day.
    return _Spec(role, guest, None, _rules(WIN_UNLICENSED_OFF), PowerState.POWERED_OFF)


def _deleted(rng: random.Random, index: int) -> _Spec:
    """Deleted VMs are inventoried, not evaluated, whatever they would otherwise raise; only
    a billable licence left on one (vmLicensed then lists it too) is LIC-DELETED-DECLARED."""
    spec = (_clean_windows, _win_unlicensed, _licence_on_linux)[index % 3](rng, index)
    declared = _rules(LIC_DELETED_DECLARED) if licence_version(spec.license or "") else _rules()
    return _Spec(spec.role, spec.guest, spec.license, declared, power=PowerState.DELETED)


def _guest_drift(rng: random.Random, index: int) -> _Spec:
    configured, reported, year = _DRIFTS[index % len(_DRIFTS)]
    role = rng.choice(_WINDOWS_ROLES)
    licence = _fitting_licence(rng, configured, role, year)
    return _Spec(role, configured, licence, _rules(GUEST_OS_DRIFT), tools_guest=reported)


def _hostile_name(rng: random.Random, index: int) -> _Spec:
    name = HOSTILE_NAMES[index % len(HOSTILE_NAMES)]
    spec = _licence_on_linux(rng, index) if index % 2 else _win_unlicensed(rng, index)
    return _Spec(spec.role, spec.guest, spec.license, spec.expected, name=name)


# (builder, share of the fleet, minimum count)
_ANOMALIES: tuple[tuple[Builder, float, int], ...] = (
    (_win_unlicensed, 0.035, 2),
    (_old_server_unlicensed, 0.005, len(OLD_SERVER_GUESTS)),
    (_client_os, 0.015, 3),
    (_licence_on_linux, 0.015, 1),
    (_version_mismatch, 0.01, 1),
    (_version_downgrade, 0.005, 1),
    (_legacy, 0.01, 1),
    (_legacy_mismatch, 0.005, 1),
    (_unrecognised, 0.01, 2),
    (_ovh_managed, 0.01, 1),
    (_unknown_guest, 0.015, len(UNKNOWN_GUESTS)),
    (_powered_off_licensed, 0.02, 1),
    (_powered_off_linux_licensed, 0.003, 1),
    (_powered_off_unlicensed, 0.005, 1),
    (_deleted, 0.015, 3),
    (_guest_drift, 0.01, 2),
    (_hostile_name, 0.0, len(HOSTILE_NAMES)),
)


def _slots(rng: random.Random, n: int) -> list[_Spec]:
    """The specs of all n VMs: the anomalies at their share, then a clean majority, shuffled."""
    budget = int(n * _ANOMALY_BUDGET)
    counts = [max(minimum, round(n * share)) for _, share, minimum in _ANOMALIES]
    if sum(counts) > budget:  # a small fleet: one of each kind, as far as the budget goes
        counts = [1 if index < budget else 0 for index in range(len(_ANOMALIES))]
    specs = [
        builder(rng, index)
        for (builder, _, _), count in zip(_ANOMALIES, counts, strict=True)
        for index in range(count)
    ]
    while len(specs) < n:
        specs.append((_clean_linux if rng.random() < 0.55 else _clean_windows)(rng, len(specs)))
    rng.shuffle(specs)
    return specs


class _Namer:
    """Realistic, unique VM names: role, environment and a two-digit counter."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._counters: dict[str, int] = {}

    def name(self, spec: _Spec) -> tuple[str, str]:
        """The VM name and its environment (which picks the folder)."""
        env = self._rng.choices([e for e, _ in _ENVIRONMENTS], [w for _, w in _ENVIRONMENTS])[0]
        if spec.name is not None:
            return spec.name, env
        base = f"{spec.role}-{env}" if env else spec.role
        self._counters[base] = self._counters.get(base, 0) + 1
        name = f"{base}-{self._counters[base]:02d}"
        if spec.role in _WINDOWS_ROLES and self._rng.random() < 0.25:
            name = f"SRV-{name.upper()}"
        return name, env


@dataclass(frozen=True)
class _Site:
    """Where a datacenter's VMs run: its clusters and its hosts' subnet."""

    subnet: int
    clusters: int


def _vm_fields(
    rng: random.Random, vm_id: int, name: str, env: str, spec: _Spec, site: _Site
) -> dict[str, Any]:
    windows = (spec.guest or "").lower().startswith("win")
    cpu = rng.choice((2, 2, 4, 4, 8, 16) if windows else (1, 2, 2, 4, 4, 8))
    memory = cpu * rng.choice((2048, 4096) if windows else (1024, 2048, 4096))
    cluster = rng.randint(1, site.clusters)
    if spec.tools_guest is not None:  # the Tools view exists only when Tools run
        tools = "toolsOk"
    elif spec.power == PowerState.POWERED_ON:
        tools = rng.choices(("toolsOk", "toolsOld", "toolsNotInstalled"), weights=(85, 12, 3))[0]
    else:
        tools = "toolsNotRunning"
    unknown = spec.guest in UNKNOWN_GUESTS
    fields: dict[str, Any] = {
        "vmId": vm_id,
        "moRef": f"vm-{vm_id}",
        "name": name,
        "powerState": spec.power.value,
        "guestOsFamily": spec.guest,
        "license": spec.license,
        "cpuNum": cpu,
        "memoryMax": memory,
        "clusterName": f"Cluster{cluster}",
        "hostName": f"172.16.{site.subnet}.{cluster * 10 + rng.randint(1, 4)}",
        "folderName": "Discovered virtual machine" if unknown else _FOLDERS[env],
        "vmwareTools": tools,
        "vmwareToolsVersion": None
        if tools == "toolsNotInstalled"
        else rng.choice(("12389", "12352", "11365")),
        "snapshotNum": rng.choices((0, 1, 2), weights=(85, 10, 5))[0],
    }
    if spec.tools_guest is not None:
        fields["toolsGuestOsFamily"] = spec.tools_guest
    return fields


def _clean_licensed(spec: _Spec) -> bool:
    """A running VM with a fitting edition and no finding: safe to turn into a drift case."""
    return (
        not spec.expected
        and spec.power == PowerState.POWERED_ON
        and spec.license is not None
        and licence_version(spec.license) is not None
    )


def _add_inventory_drift(
    rng: random.Random,
    service_name: str,
    datacenter: dict[str, Any],
    specs: dict[int, _Spec],
    expected: dict[VmKey, frozenset[str]],
    phantom_id: int,
) -> None:
    """Give one datacenter an explicit vmLicensed list that disagrees with its VMs.

    One licensed VM missing from the list, one listed with another edition, one whose
    licence was removed but is still listed, and one listed VM the datacenter does not have.
    """
    dc_id = datacenter["datacenterId"]
    vms = {vm["vmId"]: vm for vm in datacenter["vms"]}
    clean = [vm_id for vm_id, spec in specs.items() if _clean_licensed(spec)]
    missing, other_edition, removed = rng.sample(clean, 3)
    listing = []
    for vm in datacenter["vms"]:
        if vm["license"] is None or vm["vmId"] == missing:
            continue
        entry = {
            "vmId": vm["vmId"],
            "name": vm["name"],
            "moRef": vm["moRef"],
            "guestOsFamily": vm.get("toolsGuestOsFamily", vm["guestOsFamily"]),
            "license": vm["license"],
        }
        if vm["vmId"] == other_edition:
            year = licence_version(vm["license"]) or "2019"
            entry["license"] = rng.choice([v for v in editions(year) if v != vm["license"]])
        listing.append(entry)
    vms[removed]["license"] = None
    phantom = rng.choice(_WINDOWS_ROLES)
    listing.append(
        {
            "vmId": phantom_id,
            "name": f"{phantom}-old-01",
            "moRef": f"vm-{phantom_id}",
            "guestOsFamily": "windows2019srv_64Guest",
            "license": _licence_of_year(rng, "2019"),
        }
    )
    datacenter["vmLicensed"] = listing
    expected[VmKey(service_name, dc_id, missing)] = _rules(LIC_INVENTORY_DRIFT)
    expected[VmKey(service_name, dc_id, other_edition)] = _rules(LIC_INVENTORY_DRIFT)
    expected[VmKey(service_name, dc_id, removed)] = _rules(WIN_UNLICENSED, LIC_INVENTORY_DRIFT)
    expected[VmKey(service_name, dc_id, phantom_id)] = _rules(LIC_INVENTORY_DRIFT)


def generate_fleet(n: int, seed: int) -> GeneratedFleet:
    """N VMs over several services and datacenters; the same (n, seed) gives the same fleet."""
    if n < 0:
        raise ValueError("the number of VMs must be >= 0")
    rng = random.Random(seed)
    specs = _slots(rng, n)
    namer = _Namer(rng)
    expected: dict[VmKey, frozenset[str]] = {}
    next_id = rng.randint(1000, 1999)

    layout: list[tuple[str, dict[str, Any]]] = []
    services: list[dict[str, Any]] = []
    for sn, description, spla, location in _SERVICES[: min(len(_SERVICES), 2 + n // 600)]:
        count = rng.choice((2, 2, 3)) if not services else rng.choice((1, 2, 2, 3))
        datacenters = []
        for dc_id in sorted(rng.sample(range(1, 9), count)):
            purpose = rng.choice(_DATACENTER_PURPOSES)
            datacenter: dict[str, Any] = {
                "datacenterId": dc_id,
                "name": f"{sn}_datacenter{dc_id}",
                "description": purpose,
                "vms": [],
                "vmLicensed": None,
            }
            datacenters.append(datacenter)
            layout.append((sn, datacenter))
        services.append(
            {
                "serviceName": sn,
                "description": description,
                "spla": spla,
                "location": location,
                "datacenters": datacenters,
            }
        )

    weights = [rng.uniform(0.6, 1.4) for _ in layout]
    sizes = [int(n * weight / sum(weights)) for weight in weights]
    for index in range(n - sum(sizes)):
        sizes[index % len(sizes)] += 1
    specs_by_dc: list[dict[int, _Spec]] = []
    position = 0
    for subnet, ((sn, datacenter), size) in enumerate(zip(layout, sizes, strict=True), start=1):
        site = _Site(subnet=subnet, clusters=rng.choice((1, 2, 2, 3)))
        placed: dict[int, _Spec] = {}
        for spec in specs[position : position + size]:
            next_id += rng.randint(1, 6)
            name, env = namer.name(spec)
            datacenter["vms"].append(_vm_fields(rng, next_id, name, env, spec, site))
            placed[next_id] = spec
            expected[VmKey(sn, datacenter["datacenterId"], next_id)] = spec.expected
        specs_by_dc.append(placed)
        position += size

    eligible = [
        index
        for index, placed in enumerate(specs_by_dc)
        if sum(1 for spec in placed.values() if _clean_licensed(spec)) >= 12
    ]
    for index in sorted(rng.sample(eligible, min(len(eligible), max(1, len(layout) // 3)))):
        sn, datacenter = layout[index]
        next_id += rng.randint(1, 6)
        _add_inventory_drift(rng, sn, datacenter, specs_by_dc[index], expected, next_id)

    fleet = Fleet.from_json({"services": services}, f"generated fleet (n={n}, seed={seed})")
    return GeneratedFleet(fleet=fleet, expected=expected)
