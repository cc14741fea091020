"""The period's exposure: what the daily observations say about the month (findings.json
`exposure`, docs/DESIGN.md, "Daily observations and monthly exposure").

A snapshot sees one instant; licence programmes count what ran during the month. These records
carry the per-VM days and the per-licence peak and licence-days that the daily observations give,
computed in audit.exposure and read by the rules, the licence position and the reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from audit.model.fields import optional_int, optional_string, string
from audit.model.identity import VmKey
from audit.support.jsontypes import JSONObject


class Source(StrEnum):
    """Where the period's figures come from."""

    OBSERVATIONS = "observations"  # the period's daily observations (and the run's own day)
    SNAPSHOT = "snapshot"  # no observation in the period: the run's snapshot alone


# The model every billed figure follows, stated once for every report.
BILLING_RULE = (
    "OVHcloud bills a Windows licence at the start of the following month for every VM "
    "deployed and powered on during the month, for the whole month (Hosted Private Cloud "
    "billing guide, updated 2024-03-21): a VM is billed for each licence value it carried on "
    "an observed day it was powered on. Observations are daily: a VM started and stopped "
    "between two observations is not seen."
)

SNAPSHOT_ALONE = (
    "No daily observation falls inside the period: the snapshot alone was used, so days, "
    "peak and licence-days describe one instant, not the month."
)


@dataclass(frozen=True, slots=True)
class VmPeriod:
    """One VM over the period's observed days, as the rules see it.

    `days_observed` counts the days it was read and not deleted (a day its scope could not be
    read is unobserved, never absent); `days_unlicensed` the days it was a powered-on Windows
    server guest without a licence, the first and last of them in ISO form. `billed` are the
    billable licence values (current or legacy Windows editions) it carried on a day it was
    powered on: OVHcloud bills each once for the month (its billing rule, docs/DESIGN.md "What the
    month cost"). `carried` is every licence value it carried on an observed day.
    """

    days_observed: int
    days_powered_on: int
    days_unlicensed: int
    first_unlicensed: str | None = None
    last_unlicensed: str | None = None
    billed: tuple[str, ...] = ()
    carried: tuple[str, ...] = ()

    @property
    def shortfall(self) -> bool:
        """Ran as a powered-on Windows server guest without a licence on an observed day, and
        OVHcloud bills it for no licence value this period (see `billed`)."""
        return self.days_unlicensed > 0 and not self.billed


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
    billed: tuple[str, ...] = ()  # absent in older files: read as ()
    billed_vcpus: int = 0  # its most vCPUs on a billed day (the per-core price's count)

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
            self.billed,
        )

    @property
    def shortfall(self) -> bool:
        return self.period.shortfall

    def to_json(self) -> JSONObject:
        # JSON scalars named as in findings.json, `billed` a list. Not `asdict`, which
        # deep-copies each value: seconds at 100,000 VMs.
        data: JSONObject = {name: getattr(self, name) for name in _VM_EXPOSURE_FIELDS}
        data["billed"] = list(self.billed)
        data["shortfall"] = self.shortfall
        return data

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
            billed=tuple(string(value) for value in data.get("billed", ())),
            billed_vcpus=_int(data.get("billed_vcpus", 0)),
        )


_VM_EXPOSURE_FIELDS = tuple(field.name for field in fields(VmExposure))


@dataclass(frozen=True)
class LicenceExposure:
    """One licence value in one datacenter over the period: the most VMs carrying it on an
    observed day (`peak_vms`), the sum over observed days of the VMs carrying it, and what
    OVHcloud bills for it: the VMs that carried it on a day they were powered on
    (`billed_vms`, a billable value only) and the sum over them of their highest vCPU count on
    such a day (`billed_vcpus`)."""

    service_name: str
    datacenter_id: int
    license: str
    peak_vms: int
    licence_days: int
    billed_vms: int = 0  # absent in older files: read as 0
    billed_vcpus: int = 0

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
            billed_vms=_int(data.get("billed_vms", 0)),
            billed_vcpus=_int(data.get("billed_vcpus", 0)),
        )


@dataclass(frozen=True)
class Shortfall:
    """A period's shortfall VM (findings.json `shortfalls`): it ran as a powered-on Windows
    server guest without a licence on `days_unlicensed` observed days and OVHcloud billed it
    for no licence value, so nothing covers those days. Who it is, as last observed."""

    service_name: str
    datacenter_id: int
    vm_id: int
    vm_name: str | None
    guest_os_family: str | None
    days_unlicensed: int

    @property
    def key(self) -> VmKey:
        return VmKey(self.service_name, self.datacenter_id, self.vm_id)

    def to_json(self) -> JSONObject:
        return asdict(self)  # every field is a JSON scalar, named as in findings.json

    @classmethod
    def from_json(cls, data: Any) -> Shortfall:
        return cls(
            service_name=string(data["service_name"]),
            datacenter_id=_int(data["datacenter_id"]),
            vm_id=_int(data["vm_id"]),
            vm_name=optional_string(data["vm_name"]),
            guest_os_family=optional_string(data["guest_os_family"]),
            days_unlicensed=_int(data["days_unlicensed"]),
        )


@dataclass(frozen=True)
class UnsettledShortfall:
    """An earlier period's shortfall whose review status is not `settled` (findings.json
    `unsettled_shortfalls`): a licence set later never pays for a month that ran unbilled."""

    period: str
    shortfall: Shortfall
    review_status: str | None
    owner: str | None

    def to_json(self) -> JSONObject:
        return {
            **self.shortfall.to_json(),
            "period": self.period,
            "review_status": self.review_status,
            "owner": self.owner,
        }

    @classmethod
    def from_json(cls, data: Any) -> UnsettledShortfall:
        return cls(
            period=string(data["period"]),
            shortfall=Shortfall.from_json(data),
            review_status=optional_string(data["review_status"]),
            owner=optional_string(data["owner"]),
        )


class DayFile(StrEnum):
    """The day's file observations/<day>.json.gz against the sha256 the history recorded."""

    OK = "ok"
    MISSING = "missing"
    DIFFERS = "differs"  # another file, or the recorded one changed (truncated, replaced)


@dataclass(frozen=True)
class ObservedDayProvenance:
    """One observed day of the period as findings.json `exposure.observations` lists it: how
    and when it was collected, the sha256 and state of its file, and whether it was counted.

    A day is counted when its file is the one recorded (`file` ok) and it read some of the
    run's services (a day that saw only other services is another account's).
    """

    day: str
    source: str  # observe, observe --date, observe --from-snapshot, run
    collected_at: str  # the snapshot's taken_at
    endpoint: str
    sha256: str
    calls: int | None  # None: recorded before the calls were
    complete: bool
    file: DayFile
    counted: bool

    @property
    def status(self) -> str:
        """What the reports say of the day: counted, or why not."""
        if self.counted:
            return "counted"
        if self.file is DayFile.MISSING:
            return "not counted: file missing"
        if self.file is DayFile.DIFFERS:
            return "not counted: file differs from its recorded sha256"
        return "not counted: none of this run's services"

    def to_json(self) -> JSONObject:
        data = asdict(self)
        data["file"] = self.file.value
        return data

    @classmethod
    def from_json(cls, data: Any) -> ObservedDayProvenance:
        counted = data["counted"]
        complete = data["complete"]
        if not isinstance(counted, bool) or not isinstance(complete, bool):
            raise ValueError("expected true or false")
        return cls(
            day=string(data["day"]),
            source=string(data["source"]),
            collected_at=string(data["collected_at"]),
            endpoint=string(data["endpoint"]),
            sha256=string(data["sha256"]),
            calls=optional_int(data["calls"]),
            complete=complete,
            file=DayFile(data["file"]),
            counted=counted,
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
    # Every stored day of the period, counted or not (absent in older files: read as ()).
    observations: tuple[ObservedDayProvenance, ...] = ()

    @property
    def uncounted(self) -> tuple[ObservedDayProvenance, ...]:
        """The stored days of the period that were not counted, each with its reason."""
        return tuple(day for day in self.observations if not day.counted)

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

    def shortfalls(self) -> tuple[Shortfall, ...]:
        """The period's shortfall VMs, in the order of `vms`."""
        return tuple(
            Shortfall(*vm.key, vm.name, vm.guest_os_family, vm.days_unlicensed)
            for vm in self.vms
            if vm.shortfall
        )

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
            "observations": [day.to_json() for day in self.observations],
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
            observations=tuple(
                ObservedDayProvenance.from_json(day) for day in data.get("observations", ())
            ),
        )


def _int(value: Any) -> int:
    number = optional_int(value)
    if number is None:
        raise ValueError("expected an integer, got null")
    return number
