"""The period's exposure: what the daily observations say about the month (findings.json
`exposure`, docs/DESIGN.md, "Daily observations and monthly exposure").

A snapshot sees one instant; licence programmes count what ran during the month. These records
carry the per-VM days and the per-licence peak and licence-days that the daily observations give,
computed in audit.exposure and read by the rules, the licence position and the reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from audit.model.fields import optional_int, optional_string, string
from audit.model.identity import VmKey
from audit.support.jsontypes import JSONObject


class Source(StrEnum):
    """Where the period's figures come from."""

    OBSERVATIONS = "observations"  # the period's daily observations (and the run's own day)
    SNAPSHOT = "snapshot"  # no observation in the period: the run's snapshot alone


SNAPSHOT_ALONE = (
    "No daily observation falls inside the period: the snapshot alone was used, so days, "
    "peak and licence-days describe one instant, not the month."
)


@dataclass(frozen=True, slots=True)
class VmPeriod:
    """One VM over the period's observed days, as the rules see it.

    `days_observed` counts the days it was read and not deleted (a day its scope could not be
    read is unobserved, never absent); `days_unlicensed` the days it was a powered-on Windows
    server guest without a licence, the first and last of them in ISO form.
    """

    days_observed: int
    days_powered_on: int
    days_unlicensed: int
    first_unlicensed: str | None = None
    last_unlicensed: str | None = None


@dataclass(frozen=True)
class VmExposure:
    """One VM's row of the Exposure sheet: who it is (as last observed) and its period."""

    service_name: str
    datacenter_id: int
    vm_id: int
    name: str | None
    guest_os_family: str | None
    license: str | None
    days_observed: int
    days_powered_on: int
    days_unlicensed: int
    first_unlicensed: str | None
    last_unlicensed: str | None

    @property
    def key(self) -> VmKey:
        return VmKey(self.service_name, self.datacenter_id, self.vm_id)

    @property
    def period(self) -> VmPeriod:
        return VmPeriod(
            self.days_observed,
            self.days_powered_on,
            self.days_unlicensed,
            self.first_unlicensed,
            self.last_unlicensed,
        )

    def to_json(self) -> JSONObject:
        return asdict(self)  # every field is a JSON scalar, named as in findings.json

    @classmethod
    def from_json(cls, data: Any) -> VmExposure:
        return cls(
            service_name=string(data["service_name"]),
            datacenter_id=_int(data["datacenter_id"]),
            vm_id=_int(data["vm_id"]),
            name=optional_string(data["name"]),
            guest_os_family=optional_string(data["guest_os_family"]),
            license=optional_string(data["license"]),
            days_observed=_int(data["days_observed"]),
            days_powered_on=_int(data["days_powered_on"]),
            days_unlicensed=_int(data["days_unlicensed"]),
            first_unlicensed=optional_string(data["first_unlicensed"]),
            last_unlicensed=optional_string(data["last_unlicensed"]),
        )


@dataclass(frozen=True)
class LicenceExposure:
    """One licence value in one datacenter over the period: the most VMs carrying it on an
    observed day (`peak_vms`) and the sum over observed days of the VMs carrying it."""

    service_name: str
    datacenter_id: int
    license: str
    peak_vms: int
    licence_days: int

    def to_json(self) -> JSONObject:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> LicenceExposure:
        return cls(
            service_name=string(data["service_name"]),
            datacenter_id=_int(data["datacenter_id"]),
            license=string(data["license"]),
            peak_vms=_int(data["peak_vms"]),
            licence_days=_int(data["licence_days"]),
        )


@dataclass(frozen=True)
class Exposure:
    """The period's figures. `vms` lists the VMs that were a Windows guest or carried a licence
    on an observed day (the others have nothing to expose); `facts` has every observed VM for
    the rules and is not written to findings.json."""

    source: Source
    period_days: int
    observed_days: tuple[str, ...]
    missing_days: tuple[str, ...]  # days of the period, up to the last observed, not observed
    incomplete_days: tuple[str, ...]  # observed, but some scope could not be read
    licences: tuple[LicenceExposure, ...]
    vms: tuple[VmExposure, ...]
    facts: dict[VmKey, VmPeriod] | None = None

    @property
    def days_observed(self) -> int:
        return len(self.observed_days)

    @property
    def notice(self) -> str | None:
        """The sentence both reports print when the snapshot alone was used."""
        return SNAPSHOT_ALONE if self.source is Source.SNAPSHOT else None

    def period_of(self, key: VmKey) -> VmPeriod | None:
        if self.facts is not None:
            return self.facts.get(key)
        return next((vm.period for vm in self.vms if vm.key == key), None)

    def licence_figures(self) -> dict[tuple[str, int, str], LicenceExposure]:
        return {(row.service_name, row.datacenter_id, row.license): row for row in self.licences}

    def to_json(self) -> JSONObject:
        return {
            "source": self.source.value,
            "period_days": self.period_days,
            "days_observed": self.days_observed,
            "observed_days": list(self.observed_days),
            "missing_days": list(self.missing_days),
            "incomplete_days": list(self.incomplete_days),
            "licences": [row.to_json() for row in self.licences],
            "vms": [vm.to_json() for vm in self.vms],
        }

    @classmethod
    def from_json(cls, data: Any) -> Exposure:
        return cls(
            source=Source(data["source"]),
            period_days=_int(data["period_days"]),
            observed_days=tuple(string(day) for day in data["observed_days"]),
            missing_days=tuple(string(day) for day in data["missing_days"]),
            incomplete_days=tuple(string(day) for day in data["incomplete_days"]),
            licences=tuple(LicenceExposure.from_json(row) for row in data["licences"]),
            vms=tuple(VmExposure.from_json(vm) for vm in data["vms"]),
        )


def _int(value: Any) -> int:
    number = optional_int(value)
    if number is None:
        raise ValueError("expected an integer, got null")
    return number
