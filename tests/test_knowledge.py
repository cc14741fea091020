"""guestId and licence interpretation: the facts every rule and report relies on."""

from __future__ import annotations

import pytest

from audit.evaluate.knowledge import (
    GuestKind,
    LicenceKind,
    interpret_guest_os,
    interpret_licence,
    settable_licence,
)
from audit.model.licences import (
    LEGACY_EDITIONS,
    LEGACY_LICENCES,
    LICENCE_VALUES,
    SETTABLE_EDITIONS,
    SETTABLE_LICENCES,
)
from tests.helpers.ovh_schema import Schema

LATER = ("2016", "2019", "2022", "2025")


@pytest.mark.parametrize(
    ("guest_id", "kind", "versions", "label"),
    [
        ("windows2019srv_64Guest", GuestKind.WINDOWS_SERVER, ("2019",), "Windows Server 2019"),
        ("windows2019srvNext_64Guest", GuestKind.WINDOWS_SERVER, ("2022",), "Windows Server 2022"),
        ("windows2022srvNext_64Guest", GuestKind.WINDOWS_SERVER, ("2025",), "Windows Server 2025"),
        ("windows9Server64Guest", GuestKind.WINDOWS_SERVER, LATER, "Windows Server 2016 or later"),
        ("windows8Server64Guest", GuestKind.WINDOWS_SERVER, ("2012", "2012 R2"), None),
        ("windows7Server64Guest", GuestKind.WINDOWS_SERVER, ("2008 R2",), None),
        ("winLonghorn64Guest", GuestKind.WINDOWS_SERVER, ("2008",), None),
        ("winNetStandard64Guest", GuestKind.WINDOWS_SERVER, ("2003",), None),
        ("winNetWebGuest", GuestKind.WINDOWS_SERVER, ("2003",), None),
        ("win2000ServGuest", GuestKind.WINDOWS_SERVER, ("2000",), None),
        ("win2000AdvServGuest", GuestKind.WINDOWS_SERVER, ("2000",), None),
        ("winNTGuest", GuestKind.WINDOWS_SERVER, ("NT 4.0",), None),
        ("windowsHyperVGuest", GuestKind.WINDOWS_SERVER, None, "Hyper-V Server"),
        ("windows2028srv_64Guest", GuestKind.WINDOWS_SERVER, None, None),
        ("WINDOWS2019SRV_64GUEST", GuestKind.WINDOWS_SERVER, ("2019",), "Windows Server 2019"),
        (" windows2019srv_64Guest ", GuestKind.WINDOWS_SERVER, ("2019",), None),
        ("windows9_64Guest", GuestKind.WINDOWS_CLIENT, None, "Windows 10"),
        ("windows11_64Guest", GuestKind.WINDOWS_CLIENT, None, "Windows 11"),
        ("windows7_64Guest", GuestKind.WINDOWS_CLIENT, None, "Windows 7"),
        ("winXPProGuest", GuestKind.WINDOWS_CLIENT, None, "Windows XP"),
        ("winVista64Guest", GuestKind.WINDOWS_CLIENT, None, "Windows Vista"),
        ("win2000ProGuest", GuestKind.WINDOWS_CLIENT, None, None),
        ("winFutureGuest", GuestKind.WINDOWS_CLIENT, None, None),
        ("other5xLinux64Guest", GuestKind.NON_WINDOWS, None, None),
        ("rhel9_64Guest", GuestKind.NON_WINDOWS, None, None),
        ("vmwarePhoton64Guest", GuestKind.NON_WINDOWS, None, None),
        ("darwin22_64Guest", GuestKind.NON_WINDOWS, None, None),
        (None, GuestKind.UNKNOWN, None, "unknown guest OS"),
        ("", GuestKind.UNKNOWN, None, None),
        ("  ", GuestKind.UNKNOWN, None, None),
        ("otherGuest", GuestKind.UNKNOWN, None, None),
        ("otherGuest64", GuestKind.UNKNOWN, None, None),
    ],
)
def test_guest_os(
    guest_id: str | None,
    kind: GuestKind,
    versions: tuple[str, ...] | None,
    label: str | None,
) -> None:
    guest = interpret_guest_os(guest_id)
    assert guest.kind is kind
    assert guest.versions == versions
    assert guest.label
    if label is not None:
        assert guest.label == label


def test_guest_os_fits_versions() -> None:
    assert interpret_guest_os("windows9Server64Guest").fits("2022") is True
    assert interpret_guest_os("windows9Server64Guest").fits("2012 R2") is False
    assert interpret_guest_os("windows2019srvNext_64Guest").fits("2019") is False
    assert interpret_guest_os("windowsHyperVGuest").fits("2019") is None


@pytest.mark.parametrize(
    ("value", "kind", "version", "edition"),
    [
        ("windows 2019 Standard Core", LicenceKind.EDITION, "2019", "Standard Core"),
        (
            "windows 2022 Datacenter SQL2022 Web",
            LicenceKind.EDITION,
            "2022",
            "Datacenter SQL2022 Web",
        ),
        ("windows 2016 Standard SQL2016 Web", LicenceKind.EDITION, "2016", "Standard SQL2016 Web"),
        (" windows 2025 Standard \t", LicenceKind.EDITION, "2025", "Standard"),
        ("windows 2008 R2 Datacenter", LicenceKind.LEGACY, "2008 R2", "Datacenter"),
        ("windows 2008 R2 Web", LicenceKind.LEGACY, "2008 R2", "Web"),
        ("windows 2012 Standard", LicenceKind.LEGACY, "2012", "Standard"),
        (
            "windows 2012 R2 Standard SQL2016 Web",
            LicenceKind.LEGACY,
            "2012 R2",
            "Standard SQL2016 Web",
        ),
        (" windows 2012 R2 Datacenter ", LicenceKind.LEGACY, "2012 R2", "Datacenter"),
        ("unlicensed windows guestos", LicenceKind.UNLICENSED, None, None),
        ("OVHcloud managed", LicenceKind.OVH_MANAGED, None, None),
        ("unknown or unsupported license", LicenceKind.UNSUPPORTED, None, None),
        (None, LicenceKind.NONE, None, None),
        ("", LicenceKind.UNRECOGNISED, None, None),
        ("Windows 2019 Standard", LicenceKind.UNRECOGNISED, None, None),
        ("windows 2019 standard", LicenceKind.UNRECOGNISED, None, None),
        ("windows 2016 Datacenter Core", LicenceKind.UNRECOGNISED, None, None),
        ("windows 2012 R2", LicenceKind.UNRECOGNISED, None, None),
        ("windows 2003 Standard", LicenceKind.UNRECOGNISED, None, None),
        # Shaped like legacy editions, but values the API never returns.
        ("windows 2008 Web", LicenceKind.UNRECOGNISED, None, None),
        ("windows 2012 Enterprise", LicenceKind.UNRECOGNISED, None, None),
        ("windows 2012 R2 Enterprise", LicenceKind.UNRECOGNISED, None, None),
        ("windows 2012 R2 Standard SQL2014 Web", LicenceKind.UNRECOGNISED, None, None),
        ("SPLA-WIN-DC", LicenceKind.UNRECOGNISED, None, None),
        ("BYOL", LicenceKind.UNRECOGNISED, None, None),
        ("OVHCLOUD MANAGED", LicenceKind.UNRECOGNISED, None, None),
    ],
)
def test_licence(
    value: str | None, kind: LicenceKind, version: str | None, edition: str | None
) -> None:
    licence = interpret_licence(value)
    assert (licence.kind, licence.version, licence.edition) == (kind, version, edition)
    assert licence.value == value
    assert licence.is_windows_edition is (kind in (LicenceKind.EDITION, LicenceKind.LEGACY))


def test_settable_catalogue_matches_the_api() -> None:
    assert {version: len(editions) for version, editions in SETTABLE_EDITIONS.items()} == {
        "2016": 4,
        "2019": 8,
        "2022": 12,
        "2025": 9,
    }
    assert len(SETTABLE_LICENCES) == len(set(SETTABLE_LICENCES)) == 33
    assert "windows 2025 Datacenter SQL2022 Enterprise" in SETTABLE_LICENCES
    for value in SETTABLE_LICENCES:
        assert interpret_licence(value).kind is LicenceKind.EDITION
    # Versions whose licences may still be read on a VM but can no longer be set.
    assert not set(LEGACY_EDITIONS) & set(SETTABLE_EDITIONS)


def test_catalogue_equals_the_published_schema_enums() -> None:
    schema = Schema()
    settable = schema.enum("dedicatedCloud.spla.KmsLicenseEnum")
    readable = schema.enum("dedicatedCloud.spla.KmsLicenseIncludingLegacyEnum")
    assert sorted(SETTABLE_LICENCES) == sorted(settable)
    assert sorted(LICENCE_VALUES) == sorted(readable)
    assert len(LICENCE_VALUES) == len(set(LICENCE_VALUES)) == 46
    assert set(LEGACY_LICENCES) == set(readable) - set(settable) - {
        "OVHcloud managed",
        "unknown or unsupported license",
        "unlicensed windows guestos",
    }
    for value in readable:
        assert interpret_licence(value).kind is not LicenceKind.UNRECOGNISED, value
    for value in LEGACY_LICENCES:
        assert interpret_licence(value).kind is LicenceKind.LEGACY


def test_settable_licence() -> None:
    assert settable_licence("2019", "Standard Core") == "windows 2019 Standard Core"
    assert (
        settable_licence("2022", "Datacenter SQL2019 Web") == "windows 2022 Datacenter SQL2019 Web"
    )
    assert settable_licence("2016", "Datacenter Core") is None
    assert settable_licence("2012 R2", "Standard") is None
    assert settable_licence("2019", "standard") is None
