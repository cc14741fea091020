"""The roll-up of several accounts' runs of one period (`DIR/rollup/<period>/`), as typed records.

`findings.json` of the roll-up, written only here:

    {"period": "2026-11", "tool_version": ...,
     "accounts": [AccountEntry.to_json(), ...],   # one per account, failed ones included
     "findings": [{"account": name, **Finding.to_json()}, ...]}

`outcomes.json` (written by `run --accounts` only) keeps what each account's process did, so
`rollup DIR --period P` can say again why an account failed: the folders cannot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from audit.model.fields import optional_string, string
from audit.model.findings import Finding
from audit.model.position import LicenceTotal
from audit.support.jsontypes import JSONObject

# Worst last: an account that failed (2, nothing written) outranks a mail not delivered (4),
# which outranks an incomplete collection (3, as in a single run), then findings (1). Codes
# not listed (an unexpected error, a signal's 128 + N) outrank them all.
_EXIT_ORDER = (0, 1, 3, 4, 2)


def exit_rank(code: int) -> tuple[int, int]:
    """Sort key of exit codes, mildest first (see `_EXIT_ORDER`)."""
    if code in _EXIT_ORDER:
        return (_EXIT_ORDER.index(code), 0)
    return (len(_EXIT_ORDER), code)


def worst_exit_code(codes: Iterable[int]) -> int:
    """The worst of `codes` (0 for none)."""
    return max(codes, key=exit_rank, default=0)


class AccountStatus(StrEnum):
    """complete and incomplete: its run of the period is rolled up; failed: it is not."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What `run --accounts` saw of one account's process: its exit code, its error line,
    and whether it wrote the period's run folder (`manifest_sha256`: that folder's
    manifest.json as the process left it, None when there is none)."""

    name: str
    exit_code: int
    reason: str | None
    wrote: bool
    manifest_sha256: str | None

    def to_json(self) -> JSONObject:
        return {
            "name": self.name,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "wrote": self.wrote,
            "manifest_sha256": self.manifest_sha256,
        }

    @classmethod
    def from_json(cls, data: Any) -> Outcome:
        code, wrote = data["exit_code"], data["wrote"]
        if not isinstance(code, int) or isinstance(code, bool) or not isinstance(wrote, bool):
            raise ValueError("exit_code: expected an integer, wrote: true or false")
        return cls(
            name=string(data["name"]),
            exit_code=code,
            reason=optional_string(data["reason"]),
            wrote=wrote,
            manifest_sha256=optional_string(data["manifest_sha256"]),
        )


def dumps_outcomes(period: str, outcomes: Iterable[Outcome]) -> str:
    """The outcomes.json text."""
    document = {"period": period, "accounts": [outcome.to_json() for outcome in outcomes]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class AccountEntry:
    """One account's line of the roll-up: what its run says, or why there is none.

    `folder` is its run folder relative to the output folder (`alpha/2026-11`), set only when
    that run is rolled up; `verdict` and `coverage` are the run's own sentences; `headline`
    the figures of its findings.json `summary.headline`; `licences` its overall billable
    licence position.
    """

    name: str
    period: str
    status: AccountStatus
    exit_code: int
    reason: str | None = None
    manifest_sha256: str | None = None
    folder: str | None = None
    taken_at: str | None = None
    endpoint: str | None = None
    verdict: str | None = None
    verdict_tone: str = "neutral"
    coverage: str | None = None
    headline: dict[str, int] = field(default_factory=dict)
    licences: LicenceTotal | None = None
    findings: int = 0
    open_findings: int = 0

    @property
    def rolled_up(self) -> bool:
        return self.status is not AccountStatus.FAILED

    def to_json(self) -> JSONObject:
        licences = None
        if self.licences is not None:
            licences = {
                "vms_at_close": self.licences.vms_at_close,
                "vcpus_at_close": self.licences.vcpus_at_close,
                "licence_days": self.licences.licence_days,
                "vmlicensed_at_close": self.licences.vmlicensed_at_close,
            }
        return {
            "name": self.name,
            "period": self.period,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "manifest_sha256": self.manifest_sha256,
            "folder": self.folder,
            "taken_at": self.taken_at,
            "endpoint": self.endpoint,
            "verdict": self.verdict,
            "coverage": self.coverage,
            "headline": self.headline,
            "licences": licences,
            "findings": self.findings,
            "open_findings": self.open_findings,
        }


@dataclass(frozen=True)
class AccountFinding:
    """One finding of one account's run."""

    account: str
    finding: Finding

    def to_json(self) -> JSONObject:
        return {"account": self.account, **self.finding.to_json()}


@dataclass(frozen=True)
class Rollup:
    """Every account of a period, in name order, and all their findings."""

    period: str
    tool_version: str
    accounts: tuple[AccountEntry, ...]
    findings: tuple[AccountFinding, ...]

    @property
    def exit_code(self) -> int:
        """The worst of the accounts' exit codes."""
        return worst_exit_code(account.exit_code for account in self.accounts)

    @property
    def taken_at(self) -> str | None:
        """The latest snapshot time of the accounts rolled up (dates the workbook)."""
        times = [account.taken_at for account in self.accounts if account.taken_at]
        return max(times, default=None)

    def to_json(self) -> JSONObject:
        return {
            "period": self.period,
            "tool_version": self.tool_version,
            "accounts": [account.to_json() for account in self.accounts],
            "findings": [item.to_json() for item in self.findings],
        }

    def dumps(self) -> str:
        """The roll-up's findings.json text."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
