"""The `[prices]` section as a record: what each billable licence value costs a month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from audit.model.licences import SETTABLE_LICENCES


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
