"""The licence tallies and position (findings.json `summary.licence_usage`, `licences` and
`control_panel`): what the VMs carry, what OVHcloud bills and what the Control Panel shows,
counted once by audit/evaluate/position.py, with their totals.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, TypeVar

from audit.model.prices import Cost
from audit.support.jsontypes import JSONObject

_R = TypeVar("_R")


def _record(cls: type[_R], data: Any) -> _R:
    """A record from its findings.json object: every field present, ints and strings typed."""
    if not isinstance(data, dict):
        raise ValueError("expected an object")
    values = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        if spec.name not in data and spec.default is not MISSING:
            continue  # a field added later: absent in older files, read as its default
        value = data[spec.name]
        wanted = spec.type if isinstance(spec.type, str) else str(spec.type)
        if value is None and "None" not in wanted:
            raise ValueError(f"{spec.name}: null")
        if (
            value is not None
            and wanted.startswith("int")
            and (not isinstance(value, int) or isinstance(value, bool))
        ):
            raise ValueError(f"{spec.name}: expected an integer, got {value!r}")
        if value is not None and wanted.startswith("str") and not isinstance(value, str):
            raise ValueError(f"{spec.name}: expected a string, got {value!r}")
        if wanted == "bool" and not isinstance(value, bool):
            raise ValueError(f"{spec.name}: expected true or false, got {value!r}")
        values[spec.name] = value
    return cls(**values)


# How the reports name "no licence" in the tallies' totals (and where it sorts among values).
NO_LICENCE = "(none)"


class _PoweredOff:
    """What is not powered on, for a record that counts VMs and vCPUs, all and powered on."""

    vms: int
    vcpus: int
    vms_powered_on: int
    vcpus_powered_on: int

    @property
    def vms_powered_off(self) -> int:
        return self.vms - self.vms_powered_on

    @property
    def vcpus_powered_off(self) -> int:
        return self.vcpus - self.vcpus_powered_on


@dataclass(frozen=True)
class LicenceUsage(_PoweredOff):
    """The tally: VMs (not deleted) and vCPUs carrying one licence value in one datacenter
    (`license` None: no licence), all of them and those powered on."""

    service_name: str
    datacenter_id: int
    license: str | None
    vms: int
    vcpus: int
    vms_powered_on: int
    vcpus_powered_on: int


@dataclass(frozen=True)
class UsageTotal(_PoweredOff):
    """The tally summed over every service for one licence value (None: no licence), or
    over everything."""

    license: str | None
    vms: int
    vcpus: int
    vms_powered_on: int
    vcpus_powered_on: int


@dataclass(frozen=True)
class UsageTotals:
    """The tally's totals: per licence value (no licence first, then alphabetically) and
    overall."""

    by_licence: tuple[UsageTotal, ...]
    overall: UsageTotal


@dataclass(frozen=True)
class LicenceRow:
    """One licence value in one datacenter: the VMs carrying it and vmLicensed's count.

    `billable` is a current or legacy Windows edition (what OVHcloud bills); special values
    (OVHcloud managed, unlicensed windows guestos, unsupported) and unrecognised ones are not.
    `vmlicensed_at_close` is None when the datacenter's vmLicensed could not be read. A value
    that only vmLicensed names has a row too (0 VMs), so no listed licence is left out.

    `billed_vms` and `billed_vcpus` are what OVHcloud bills for the period (a VM powered on at
    any time in the month is billed for the whole month): the distinct VMs that carried the
    value on a day they were powered on, and the sum of their highest vCPU count on such a
    day; 0 for a value that is not billable, None in a findings.json written before them.
    """

    service_name: str
    datacenter_id: int
    license: str
    billable: bool
    vms_at_close: int
    vcpus_at_close: int
    peak_vms: int
    licence_days: int
    vmlicensed_at_close: int | None
    billed_vms: int | None = None
    billed_vcpus: int | None = None

    def to_json(self) -> JSONObject:
        """One item of findings.json's `licences`."""
        return asdict(self)  # every field is a JSON scalar, named as in findings.json

    @classmethod
    def from_json(cls, data: Any) -> LicenceRow:
        return _record(cls, data)


@dataclass(frozen=True)
class LicenceTotal:
    """Billable rows summed: per service (`license` None), per licence value over every
    service (`service_name` None), or overall (both None). `vmlicensed_at_close` sums the
    datacenters whose listing was read. Peak is left out: a sum of per-datacenter peaks is
    not a peak once daily observations land. `billed_vms` sums the rows' billed VMs: the
    licences billed (a VM billed for two values counts twice), and `billed_vcpus` theirs."""

    service_name: str | None
    license: str | None
    vms_at_close: int
    vcpus_at_close: int
    licence_days: int
    vmlicensed_at_close: int
    billed_vms: int = 0
    billed_vcpus: int = 0

    def to_json(self) -> JSONObject:
        return asdict(self)  # every field is a JSON scalar, named as in findings.json


@dataclass(frozen=True)
class ControlPanelRow:
    """One datacenter counted the Control Panel's way, beside our own Windows count.

    Control Panel: `vms` every VM the API lists (deleted ones included), `windows_vms`
    guestOsFamily starting with `windows` (any case), `declared` a non-null licence. Ours:
    `windows_guests`, guestOsFamily starting with `win`, deleted VMs excluded. The difference
    is exactly `older_windows_ids` (winNet*, winLonghorn*, win2000*, winNT*, ... on VMs that
    are not deleted) minus `deleted_windows_vms`. `vms_read` < `vms` when some listed VMs could
    not be read: the other counters then cover only the VMs read.
    """

    service_name: str
    datacenter_id: int
    vms: int
    windows_vms: int
    declared: int
    windows_guests: int
    older_windows_ids: int
    deleted_windows_vms: int
    vms_read: int

    def difference(self) -> str | None:
        """One sentence explaining why `windows_guests` differs from `windows_vms`; None when
        the two agree and nothing was left unread."""
        parts = []
        if self.older_windows_ids:
            parts.append(
                f"we count {self.older_windows_ids} guest(s) with older Windows ids (winNet*, "
                "winLonghorn*, ...) that the Control Panel does not count as Windows"
            )
        if self.deleted_windows_vms:
            parts.append(
                f"the Control Panel counts {self.deleted_windows_vms} deleted Windows VM(s) "
                "that we do not evaluate"
            )
        if self.vms_read < self.vms:
            parts.append(
                f"{self.vms - self.vms_read} listed VM(s) could not be read, so neither count "
                "includes them"
            )
        if not parts:
            return None
        sentence = "; ".join(parts)
        return sentence[0].upper() + sentence[1:] + "."

    def to_json(self) -> JSONObject:
        """One item of findings.json's `control_panel`."""
        return asdict(self)  # every field is a JSON scalar, named as in findings.json

    @classmethod
    def from_json(cls, data: Any) -> ControlPanelRow:
        return _record(cls, data)


@dataclass(frozen=True)
class LicencePosition:
    """The licence position both reports show: the rows, their billable totals, the Control
    Panel's counters and, with [prices], the monthly amounts."""

    rows: tuple[LicenceRow, ...]
    totals: tuple[LicenceTotal, ...]
    control_panel: tuple[ControlPanelRow, ...]
    costs: tuple[Cost, ...]

    @property
    def billable(self) -> tuple[LicenceRow, ...]:
        return tuple(row for row in self.rows if row.billable)

    @property
    def other(self) -> tuple[LicenceRow, ...]:
        """Licence values OVHcloud does not bill (managed, special values, unrecognised)."""
        return tuple(row for row in self.rows if not row.billable)

    @property
    def overall(self) -> LicenceTotal:
        """The billable rows summed over every service and value (always the last total)."""
        return self.totals[-1]
