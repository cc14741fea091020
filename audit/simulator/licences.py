"""What the simulated API knows about licence values and guest OS ids (from ovh-api.md).

The simulator needs this to refuse a setLicense that does not fit the configured guest OS,
and the generator to build VMs that fit, or deliberately do not.
"""

from __future__ import annotations

import re
from types import MappingProxyType

# The catalogue of values is API fact, kept once in audit.model.licences; what the simulated
# setLicense accepts per guest (GUEST_VERSIONS) is the simulated API's own behaviour.
# `LICENCE_VALUES` is every value `license` can hold (the schema's legacy-inclusive enum),
# `LEGACY_LICENSES` the editions a VM may still carry but that can no longer be set.
from audit.model.licences import LEGACY_LICENCES as LEGACY_LICENSES
from audit.model.licences import (
    LICENCE_VALUES,
    OVH_MANAGED,
    SETTABLE_EDITIONS,
    UNLICENSED,
    UNSUPPORTED,
)
from audit.model.licences import SETTABLE_LICENCES as SETTABLE_LICENSES

#: The Windows versions each server guestId can run; ids not listed fit no licence.
GUEST_VERSIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "windows7Server64Guest": frozenset({"2008 R2"}),
        "windows8Server64Guest": frozenset({"2012", "2012 R2"}),
        "windows9Server64Guest": frozenset({"2016", "2019", "2022", "2025"}),
        "windows2019srv_64Guest": frozenset({"2019"}),
        "windows2019srvNext_64Guest": frozenset({"2022"}),
        "windows2022srvNext_64Guest": frozenset({"2025"}),
    }
)

_VERSION = re.compile(r"^windows (\d{4}(?: R2)?) ")


def licence_version(licence: str) -> str | None:
    """The Windows version a licence edition is for (`2019`, `2012 R2`), None for others."""
    match = _VERSION.match(licence)
    return match.group(1) if match else None


def editions(year: str) -> tuple[str, ...]:
    """The settable licences of one Windows version."""
    return tuple(f"windows {year} {edition}" for edition in SETTABLE_EDITIONS[year])


def licence_fits_guest(licence: str, guest_os_family: str | None) -> bool:
    """Whether setLicense accepts `licence` for this configured guest without a bypass."""
    version = licence_version(licence)
    return version is not None and version in GUEST_VERSIONS.get(guest_os_family or "", ())


__all__ = [
    "LEGACY_LICENSES",
    "LICENCE_VALUES",
    "OVH_MANAGED",
    "SETTABLE_LICENSES",
    "UNLICENSED",
    "UNSUPPORTED",
]
