"""The `[prices]` section as a record: what each billable licence value costs a month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from audit.model.fields import string
from audit.model.licences import SETTABLE_LICENCES
from audit.support.jsontypes import JSONObject

_CENT = Decimal("0.01")


class PriceUnit(StrEnum):
    """What one price pays for a month: a VM, or each of its vCPUs (cores) with a minimum per
    VM (OVHcloud's newer catalogue prices Windows per core)."""

    VM = "vm"
    CORE = "core"


@dataclass(frozen=True)
class Prices:
    """Monthly price of each priced licence value, in `currency` (ISO 4217), per `per`: a VM,
    or a core with at least `min_cores` counted per VM."""

    currency: str
    monthly: Mapping[str, Decimal]
    unlicensed_reference: str | None = None
    per: PriceUnit = PriceUnit.VM
    min_cores: int = 1

    def units(self, vcpus: int | None) -> int:
        """What one VM of `vcpus` vCPUs counts at this price: 1 per VM, or its cores (at least
        `min_cores`; an unknown count is the minimum)."""
        if self.per is PriceUnit.VM:
            return 1
        return max(vcpus or 0, self.min_cores)

    @property
    def unit_text(self) -> str:
        """`per VM and month`, or `per core and month, at least 2 cores per VM`."""
        if self.per is PriceUnit.VM:
            return "prices per VM and month"
        return f"prices per core and month, at least {self.min_cores} core(s) per VM"

    def reference(self) -> str | None:
        """The licence an unlicensed guest is priced at when the plan's choice is unknown."""
        if self.unlicensed_reference is not None:
            return self.unlicensed_reference
        settable = [value for value in self.monthly if value in SETTABLE_LICENCES]
        return min(settable, key=lambda value: (self.monthly[value], value), default=None)


@dataclass(frozen=True)
class Cost:
    """A monthly amount, the VMs it prices and the ones it could not (no price for them)."""

    key: str
    amount: Decimal
    currency: str
    priced_vms: int
    unpriced_vms: int
    unpriced_licences: tuple[str, ...]
    definition: str
    unit: str = "prices per VM and month"  # absent in older files: they priced per VM

    def to_json(self) -> JSONObject:
        return {
            "unit": self.unit,
            "key": self.key,
            "amount": str(self.amount.quantize(_CENT)),
            "currency": self.currency,
            "priced_vms": self.priced_vms,
            "unpriced_vms": self.unpriced_vms,
            "unpriced_licences": list(self.unpriced_licences),
            "definition": self.definition,
        }

    @classmethod
    def from_json(cls, data: Any) -> Cost:
        """A stored cost (findings.json `costs`); the amount is a decimal string."""
        try:
            amount = Decimal(string(data["amount"]))
        except InvalidOperation:
            raise ValueError(f"amount: not a decimal: {data['amount']!r}") from None
        return cls(
            key=string(data["key"]),
            amount=amount,
            currency=string(data["currency"]),
            priced_vms=int(data["priced_vms"]),
            unpriced_vms=int(data["unpriced_vms"]),
            unpriced_licences=tuple(string(value) for value in data["unpriced_licences"]),
            definition=string(data["definition"]),
            unit=string(data.get("unit", "prices per VM and month")),
        )

    @property
    def text(self) -> str:
        """`1,234.50 EUR`, as both reports print it."""
        return f"{self.amount.quantize(_CENT):,} {self.currency}"
