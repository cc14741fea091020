"""The `[prices]` section as a record: what each billable licence value costs a month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from audit.model.fields import string
from audit.model.licences import SETTABLE_LICENCES
from audit.support.jsontypes import JSONObject

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Prices:
    """Monthly price per VM of each priced licence value, in `currency` (ISO 4217)."""

    currency: str
    monthly: Mapping[str, Decimal]
    unlicensed_reference: str | None = None

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

    def to_json(self) -> JSONObject:
        return {
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
        )

    @property
    def text(self) -> str:
        """`1,234.50 EUR`, as both reports print it."""
        return f"{self.amount.quantize(_CENT):,} {self.currency}"
