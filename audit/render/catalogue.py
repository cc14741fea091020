"""The rule catalogue as the reports show it, and the order both reports list findings in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from audit.evaluate.rules.registry import RULES
from audit.model.findings import SEVERITIES, SEVERITY_RANK, STATUSES, Finding

_STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}


@dataclass(frozen=True)
class RuleInfo:
    """One catalogue entry as the reports show it (the registry's metadata, plain strings)."""

    id: str
    title: str
    severity: str
    rationale: str
    remediation: str


@dataclass(frozen=True)
class RuleCatalogue:
    """The rule registry, worst severity first, then in the registry's order."""

    rules: tuple[RuleInfo, ...]

    def __iter__(self) -> Iterator[RuleInfo]:
        return iter(self.rules)

    @cached_property
    def _by_id(self) -> dict[str, tuple[int, RuleInfo]]:
        return {rule.id: (position, rule) for position, rule in enumerate(self.rules)}

    def rule(self, rule_id: str, severity: str) -> RuleInfo:
        """The catalogue entry, or a placeholder for a rule this version does not know.

        A findings.json written by another version may name a retired rule; the report still
        renders it rather than failing an audit over a label.
        """
        if rule_id in self._by_id:
            return self._by_id[rule_id][1]
        return RuleInfo(rule_id, rule_id, severity, "Not in this version's catalogue.", "")

    def order(self, rule_id: str) -> tuple[int, int, str]:
        """Sort key for rules: worst severity first, then the catalogue's order; unknown last."""
        if rule_id not in self._by_id:
            return (len(SEVERITIES), len(self.rules), rule_id)
        position, rule = self._by_id[rule_id]
        return (SEVERITY_RANK[rule.severity], position, rule_id)

    def finding_order(self) -> Callable[[Finding], tuple[Any, ...]]:
        """Sort key shared by both reports: worst rule first, open before excepted, then by
        VM, so the rows read in the order an auditor works through them."""

        def key(finding: Finding) -> tuple[Any, ...]:
            dc_id, vm_id = finding.datacenter_id, finding.vm_id
            return (
                self.order(finding.rule_id),
                _STATUS_RANK[finding.status.value],
                finding.service_name,
                -1 if dc_id is None else dc_id,
                -1 if vm_id is None else vm_id,
            )

        return key


def rule_catalogue() -> RuleCatalogue:
    """The registry's rules as the reports list them."""
    rules = sorted(RULES, key=lambda rule: rule.meta.severity.rank)
    return RuleCatalogue(
        tuple(
            RuleInfo(
                id=rule.id,
                title=rule.meta.title,
                severity=rule.meta.severity.value,
                rationale=rule.meta.rationale,
                remediation=rule.meta.remediation,
            )
            for rule in rules
        )
    )
