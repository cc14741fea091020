"""The licence catalogue: API fact that the evaluation, the configuration and the simulator share.

It sits below every stage so that the simulated API and the rules read one copy of it.
"""

from __future__ import annotations

from audit.runtime.text import UNLICENSED as UNLICENSED  # the one marker, shared with remediate.py

# The catalogue is OVHcloud's published schema of `/dedicatedCloud` (2026), copied as constants:
# `dedicatedCloud.spla.KmsLicenseEnum` (what setLicense accepts) and
# `dedicatedCloud.spla.KmsLicenseIncludingLegacyEnum` (what a VM's `license` can hold). A test
# checks both against the schema; values are `windows <version> <edition>`, exact case.

# The editions `setLicense` accepts, per version.
SETTABLE_EDITIONS: dict[str, tuple[str, ...]] = {
    "2016": (
        "Datacenter",
        "Standard",
        "Standard SQL2016 Standard",
        "Standard SQL2016 Web",
    ),
    "2019": (
        "Datacenter",
        "Datacenter Core",
        "Standard",
        "Standard Core",
        "Standard SQL2019 Standard",
        "Standard SQL2019 Web",
        "Standard SQL2022 Standard",
        "Standard SQL2022 Web",
    ),
    "2022": (
        "Datacenter",
        "Datacenter Core",
        "Datacenter SQL2019 Standard",
        "Datacenter SQL2019 Web",
        "Datacenter SQL2022 Standard",
        "Datacenter SQL2022 Web",
        "Standard",
        "Standard Core",
        "Standard SQL2019 Standard",
        "Standard SQL2019 Web",
        "Standard SQL2022 Standard",
        "Standard SQL2022 Web",
    ),
    "2025": (
        "Datacenter",
        "Datacenter Core",
        "Datacenter SQL2022 Enterprise",
        "Datacenter SQL2022 Standard",
        "Datacenter SQL2022 Web",
        "Standard",
        "Standard Core",
        "Standard SQL2022 Standard",
        "Standard SQL2022 Web",
    ),
}

# The legacy editions a VM may still carry but that can no longer be set, per version.
LEGACY_EDITIONS: dict[str, tuple[str, ...]] = {
    "2008 R2": ("Datacenter", "Enterprise", "Standard", "Web"),
    "2012": ("Datacenter", "Standard"),
    "2012 R2": (
        "Datacenter",
        "Standard",
        "Standard SQL2016 Standard",
        "Standard SQL2016 Web",
    ),
}


# Every licence value `setLicense` accepts, exactly as the API spells it (KmsLicenseEnum).
SETTABLE_LICENCES: tuple[str, ...] = tuple(
    f"windows {version} {edition}"
    for version, names in SETTABLE_EDITIONS.items()
    for edition in names
)

# Every legacy licence value, exactly as the API spells it.
LEGACY_LICENCES: tuple[str, ...] = tuple(
    f"windows {version} {edition}"
    for version, names in LEGACY_EDITIONS.items()
    for edition in names
)

OVH_MANAGED = "OVHcloud managed"
UNSUPPORTED = "unknown or unsupported license"

# Every value a VM's `license` can hold (KmsLicenseIncludingLegacyEnum), null aside.
LICENCE_VALUES: tuple[str, ...] = (
    OVH_MANAGED,
    UNSUPPORTED,
    UNLICENSED,
    *LEGACY_LICENCES,
    *SETTABLE_LICENCES,
)
