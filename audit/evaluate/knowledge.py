"""What a VMware guestId and an OVHcloud licence string mean, written once for every rule.

The facts come from VMware's `VirtualMachineGuestOsIdentifier` enum and the OVHcloud API
(see docs/DESIGN.md, "Rules"). Rules and reports ask these functions instead of testing strings
themselves, so that `winNetStandard64Guest` is Windows everywhere, or nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from audit.model.licences import (
    LEGACY_EDITIONS,
    OVH_MANAGED,
    SETTABLE_EDITIONS,
    UNLICENSED,
    UNSUPPORTED,
)


def _by_value(editions: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, str]]:
    return {
        f"windows {version} {edition}": (version, edition)
        for version, names in editions.items()
        for edition in names
    }


_SETTABLE_BY_VALUE = _by_value(SETTABLE_EDITIONS)
_LEGACY_BY_VALUE = _by_value(LEGACY_EDITIONS)


class GuestKind(StrEnum):
    """What a guestId says about the guest: the first question of every rule."""

    WINDOWS_SERVER = "windows_server"
    WINDOWS_CLIENT = "windows_client"
    NON_WINDOWS = "non_windows"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class GuestOs:
    """A guestId interpreted. `versions` is None when the Windows Server version is unknown.

    A guestId may fit several versions: `windows9Server64Guest` is used for 2016 and later.
    """

    guest_id: str | None
    kind: GuestKind
    versions: tuple[str, ...] | None
    label: str

    @property
    def is_windows(self) -> bool:
        return self.kind in (GuestKind.WINDOWS_SERVER, GuestKind.WINDOWS_CLIENT)

    def fits(self, version: str) -> bool | None:
        """Whether a licence of `version` fits this guest; None when the version is unknown."""
        if self.versions is None:
            return None
        return version in self.versions

    def against(self, version: str) -> int | None:
        """A licence of `version` against this guest's version: -1 older, 0 fits, 1 newer;
        None when either version is unknown."""
        if self.versions is None or version not in _VERSION_RANK:
            return None
        if version in self.versions:
            return 0
        ranks = [_VERSION_RANK[known] for known in self.versions if known in _VERSION_RANK]
        if ranks and _VERSION_RANK[version] < min(ranks):
            return -1
        if ranks and _VERSION_RANK[version] > max(ranks):
            return 1
        return None


# Windows Server versions, oldest first: what "an older licence" means.
WINDOWS_VERSIONS: tuple[str, ...] = (
    "NT 4.0",
    "2000",
    "2003",
    "2008",
    "2008 R2",
    "2012",
    "2012 R2",
    "2016",
    "2019",
    "2022",
    "2025",
)
_VERSION_RANK = {version: rank for rank, version in enumerate(WINDOWS_VERSIONS)}


_LATER_THAN_2012 = ("2016", "2019", "2022", "2025")

# Known Windows guestIds (lower case) -> (versions, label). Server versions are None for
# clients and for servers whose version the id does not tell.
_WINDOWS_IDS: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "winntguest": (("NT 4.0",), "Windows NT 4.0"),
    "win2000servguest": (("2000",), "Windows 2000 Server"),
    "win2000advservguest": (("2000",), "Windows 2000 Advanced Server"),
    "winnetwebguest": (("2003",), "Windows Server 2003 Web"),
    "winnetstandardguest": (("2003",), "Windows Server 2003 Standard"),
    "winnetstandard64guest": (("2003",), "Windows Server 2003 Standard"),
    "winnetenterpriseguest": (("2003",), "Windows Server 2003 Enterprise"),
    "winnetenterprise64guest": (("2003",), "Windows Server 2003 Enterprise"),
    "winnetdatacenterguest": (("2003",), "Windows Server 2003 Datacenter"),
    "winnetdatacenter64guest": (("2003",), "Windows Server 2003 Datacenter"),
    "winnetbusinessguest": (("2003",), "Windows Small Business Server 2003"),
    "winlonghornguest": (("2008",), "Windows Server 2008"),
    "winlonghorn64guest": (("2008",), "Windows Server 2008"),
    "windows7server64guest": (("2008 R2",), "Windows Server 2008 R2"),
    "windows8server64guest": (("2012", "2012 R2"), "Windows Server 2012 or 2012 R2"),
    "windows9server64guest": (_LATER_THAN_2012, "Windows Server 2016 or later"),
    "windows2019srv_64guest": (("2019",), "Windows Server 2019"),
    "windows2019srvnext_64guest": (("2022",), "Windows Server 2022"),
    "windows2022srvnext_64guest": (("2025",), "Windows Server 2025"),
    "windowshypervguest": (None, "Hyper-V Server"),
    "win31guest": (None, "Windows 3.1"),
    "win95guest": (None, "Windows 95"),
    "win98guest": (None, "Windows 98"),
    "winmeguest": (None, "Windows Me"),
    "win2000proguest": (None, "Windows 2000 Professional"),
    "winxphomeguest": (None, "Windows XP"),
    "winxpproguest": (None, "Windows XP"),
    "winxppro64guest": (None, "Windows XP"),
    "winvistaguest": (None, "Windows Vista"),
    "winvista64guest": (None, "Windows Vista"),
    "windows7guest": (None, "Windows 7"),
    "windows7_64guest": (None, "Windows 7"),
    "windows8guest": (None, "Windows 8"),
    "windows8_64guest": (None, "Windows 8"),
    "windows9guest": (None, "Windows 10"),
    "windows9_64guest": (None, "Windows 10"),
    "windows11_64guest": (None, "Windows 11"),
    "windows12_64guest": (None, "Windows 12"),
}

_SERVER_PREFIXES = (
    "winnet",
    "winlonghorn",
    "windowshyperv",
    "win2000serv",
    "win2000advserv",
    "winnt",
)
_UNKNOWN_IDS = frozenset({"", "otherguest", "otherguest64"})


def _is_server(guest_id: str) -> bool:
    """docs/DESIGN.md's definition: a Windows guestId that names a server (any case)."""
    lowered = guest_id.lower()
    return "server" in lowered or "srv" in lowered or lowered.startswith(_SERVER_PREFIXES)


@lru_cache(maxsize=4096)
def interpret_guest_os(guest_id: str | None) -> GuestOs:
    """Interpret a VMware guestId (configured or Tools-reported); never raises."""
    stripped = None if guest_id is None else guest_id.strip()
    if stripped is None or stripped.lower() in _UNKNOWN_IDS:
        label = f"unknown guest OS ({stripped})" if stripped else "unknown guest OS"
        return GuestOs(stripped or None, GuestKind.UNKNOWN, None, label)
    lowered = stripped.lower()
    if not lowered.startswith("win"):
        return GuestOs(stripped, GuestKind.NON_WINDOWS, None, f"non-Windows ({stripped})")
    server = _is_server(stripped)
    versions, label = _WINDOWS_IDS.get(lowered, (None, ""))
    if server:
        kind = GuestKind.WINDOWS_SERVER
        label = label or f"Windows Server, version unknown ({stripped})"
    else:
        kind = GuestKind.WINDOWS_CLIENT
        label = label or f"Windows desktop OS ({stripped})"
    return GuestOs(stripped, kind, versions if server else None, label)


class LicenceKind(StrEnum):
    """What a VM's `license` value is, from the rules' point of view."""

    EDITION = "edition"  # a value setLicense accepts today
    LEGACY = "legacy"  # a Windows 2008 R2/2012/2012 R2 edition that cannot be set again
    OVH_MANAGED = "ovh_managed"
    UNLICENSED = "unlicensed"
    UNSUPPORTED = "unsupported"
    UNRECOGNISED = "unrecognised"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Licence:
    """A licence value interpreted; `version` and `edition` only for EDITION and LEGACY."""

    value: str | None
    kind: LicenceKind
    version: str | None = None
    edition: str | None = None

    @property
    def is_windows_edition(self) -> bool:
        """A Windows SPLA licence OVHcloud bills: a current or a legacy edition."""
        return self.kind in (LicenceKind.EDITION, LicenceKind.LEGACY)


_SPECIAL_VALUES = {
    UNLICENSED: LicenceKind.UNLICENSED,
    OVH_MANAGED: LicenceKind.OVH_MANAGED,
    UNSUPPORTED: LicenceKind.UNSUPPORTED,
}


@lru_cache(maxsize=4096)
def interpret_licence(value: str | None) -> Licence:
    """Interpret a `license` value as the API returns it (exact case, whitespace trimmed).

    An unexpected string, including an empty one, is UNRECOGNISED: data to report, not a crash.
    """
    if value is None:
        return Licence(None, LicenceKind.NONE)
    stripped = value.strip()
    special = _SPECIAL_VALUES.get(stripped)
    if special is not None:
        return Licence(value, special)
    settable = _SETTABLE_BY_VALUE.get(stripped)
    if settable is not None:
        return Licence(value, LicenceKind.EDITION, settable[0], settable[1])
    legacy = _LEGACY_BY_VALUE.get(stripped)
    if legacy is not None:
        return Licence(value, LicenceKind.LEGACY, legacy[0], legacy[1])
    return Licence(value, LicenceKind.UNRECOGNISED)


def settable_licence(version: str, edition: str) -> str | None:
    """The licence value for (version, edition) that setLicense accepts, or None if none."""
    value = f"windows {version} {edition}"
    return value if value in _SETTABLE_BY_VALUE else None
