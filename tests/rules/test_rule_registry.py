"""The registry: docs/DESIGN.md's ids in docs/DESIGN.md's order, each with complete metadata."""

from __future__ import annotations

import pytest

from audit.evaluate.rules.base import Rule
from audit.evaluate.rules.registry import EXCEPTABLE_RULE_IDS, RULE_IDS, RULES, rule_by_id
from audit.model.findings import Severity

# docs/DESIGN.md, "Rules": public ids, never reused, with their severities.
DESIGN_RULES = {
    "WIN-UNLICENSED": Severity.HIGH,
    # "The monthly cycle", Rule changes: beside the rule they split.
    "WIN-UNLICENSED-OFF": Severity.INFO,
    "WIN-UNLICENSED-INTERIM": Severity.LOW,  # "What the month cost", Rule changes
    "WIN-CLIENT-OS": Severity.MEDIUM,
    "LIC-NON-WINDOWS": Severity.MEDIUM,
    "LIC-VERSION-MISMATCH": Severity.MEDIUM,
    # "What the month cost", Rule changes: beside the rule it splits.
    "LIC-VERSION-DOWNGRADE": Severity.INFO,
    "LIC-LEGACY": Severity.LOW,
    "LIC-UNRECOGNISED": Severity.LOW,
    "GUEST-OS-UNKNOWN": Severity.LOW,
    "GUEST-OS-DRIFT": Severity.MEDIUM,
    "LIC-INVENTORY-DRIFT": Severity.MEDIUM,
    "LIC-POWERED-OFF": Severity.INFO,
    # "The monthly cycle", Rule changes.
    "LIC-BYOL-BILLED": Severity.MEDIUM,
    # "What the month cost", Rule changes.
    "LIC-DELETED-DECLARED": Severity.MEDIUM,
    "EXC-EXPIRED": Severity.LOW,
    "EXC-STALE": Severity.INFO,
}


def test_ids_are_unique_and_in_design_order() -> None:
    assert len(set(RULE_IDS)) == len(RULE_IDS)
    assert list(RULE_IDS) == list(DESIGN_RULES)


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_metadata_is_complete(rule: Rule) -> None:
    assert rule_by_id(rule.id) is rule
    meta = rule.meta
    assert meta.severity is DESIGN_RULES[meta.id]
    for text in (meta.title, meta.rationale, meta.remediation):
        assert text.strip() and text == text.strip() and "\n" not in text


def test_checks_exist_for_every_rule_but_the_register_ones() -> None:
    register_rules = {"EXC-EXPIRED", "EXC-STALE"}
    assert set(RULE_IDS) - EXCEPTABLE_RULE_IDS == register_rules
    for rule in RULES:
        assert bool(rule.checks) is (rule.id not in register_rules)


def test_only_lic_deleted_declared_looks_at_deleted_vms() -> None:
    assert [rule.id for rule in RULES if rule.check_deleted is not None] == ["LIC-DELETED-DECLARED"]
    # The period rules also see the VMs the snapshot does not evaluate.
    assert {rule.id for rule in RULES if rule.check_gone is not None} == {
        "WIN-UNLICENSED",
        "WIN-UNLICENSED-INTERIM",
    }


def test_unknown_id_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        rule_by_id("WIN-NOPE")
