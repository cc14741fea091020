"""The rights a consumer key needs to read bills, and which of them a key's rules lack.

OVHcloud access rules are a method and a path in which `*` matches any text, slashes
included; a key may read bills when its rules allow every route the reconciliation calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: What `auth request --billing` adds: GET on the bill list and everything under a bill.
BILLING_RULES: tuple[tuple[str, str], ...] = (("GET", "/me/bill"), ("GET", "/me/bill/*"))

# Concrete calls the reconciliation makes, each with the rule that grants it.
_CALLS = (
    ("/me/bill", BILLING_RULES[0]),
    ("/me/bill/FR00000000", BILLING_RULES[1]),
    ("/me/bill/FR00000000/details", BILLING_RULES[1]),
    ("/me/bill/FR00000000/details/1", BILLING_RULES[1]),
)


def rule_allows(rule: tuple[str, str], method: str, path: str) -> bool:
    """Whether an access rule (method, path pattern) grants one call."""
    pattern = ".*".join(re.escape(part) for part in rule[1].split("*"))
    return rule[0] == method and re.fullmatch(pattern, path) is not None


def missing_billing_rights(rules: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The billing rules a key lacks (empty: it can read bills), in BILLING_RULES order."""
    held = tuple(rules)
    missing = {
        needed
        for path, needed in _CALLS
        if not any(rule_allows(rule, "GET", path) for rule in held)
    }
    return tuple(rule for rule in BILLING_RULES if rule in missing)
