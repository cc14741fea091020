"""The rule catalogue in docs/DESIGN.md order (LIC-BYOL-BILLED after LIC-POWERED-OFF, as in "The
monthly cycle"; LIC-VERSION-DOWNGRADE beside the rule it splits and LIC-DELETED-DECLARED
after the licence rules, as in "What the month cost"): an explicit list, no package walking."""

from __future__ import annotations

from audit.evaluate.rules import (
    exc_expired,
    exc_stale,
    guest_os_drift,
    guest_os_unknown,
    lic_byol_billed,
    lic_deleted_declared,
    lic_inventory_drift,
    lic_legacy,
    lic_non_windows,
    lic_powered_off,
    lic_unrecognised,
    lic_version_downgrade,
    lic_version_mismatch,
    win_client_os,
    win_unlicensed,
    win_unlicensed_interim,
    win_unlicensed_off,
)
from audit.evaluate.rules.base import Rule

RULES: tuple[Rule, ...] = (
    win_unlicensed.RULE,
    win_unlicensed_off.RULE,
    win_unlicensed_interim.RULE,
    win_client_os.RULE,
    lic_non_windows.RULE,
    lic_version_mismatch.RULE,
    lic_version_downgrade.RULE,
    lic_legacy.RULE,
    lic_unrecognised.RULE,
    guest_os_unknown.RULE,
    guest_os_drift.RULE,
    lic_inventory_drift.RULE,
    lic_powered_off.RULE,
    lic_byol_billed.RULE,
    lic_deleted_declared.RULE,
    exc_expired.RULE,
    exc_stale.RULE,
)

RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in RULES)

# Rules an exceptions register row may name: the ones raised by checks, not by the register.
EXCEPTABLE_RULE_IDS: frozenset[str] = frozenset(rule.id for rule in RULES if rule.checks)

_BY_ID = {rule.id: rule for rule in RULES}


def rule_by_id(rule_id: str) -> Rule:
    """The rule with this id; KeyError for an unknown id."""
    return _BY_ID[rule_id]
