"""What the roll-up's HTML and workbook both show of each account, computed once.

The Accounts table: one row per account (a failed one says why), then the sum over the
accounts rolled up. Headline figures use the single-account reports' labels and wording
(audit/evaluate/headline.py, audit/render/summary.py), so a figure reads the same in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from audit.evaluate import headline
from audit.model.rollup import AccountEntry, AccountFinding, AccountStatus, Rollup
from audit.model.workbook import DATACENTER, RULE, SERVICE, VM_ID
from audit.render.findings import finding_values
from audit.render.summary import HeadlineFigure

# The figures in the reports' order, as the Accounts table's columns.
FIGURE_KEYS: tuple[headline.FigureKey, ...] = tuple(headline.FigureKey)
FIGURE_LABELS: tuple[str, ...] = tuple(headline.DEFINITIONS[key].label for key in FIGURE_KEYS)
LICENCE_LABELS = (
    "Billable VMs at close",
    "Billable vCPUs at close",
    "Licence-days",
    "vmLicensed at close",
)
STATUS_TONES = {
    AccountStatus.COMPLETE: "good",
    AccountStatus.INCOMPLETE: "bad",
    AccountStatus.FAILED: "bad",
}


def figures(counts: dict[str, int]) -> dict[str, HeadlineFigure]:
    """An account's kept headline counts as the reports print them, by key."""
    return {
        figure.key.value: HeadlineFigure(
            key=figure.key.value,
            label=figure.definition.label,
            value=figure.value,
            of=figure.of,
            definition=figure.definition.sentence,
            change=None,
            previous_period=None,
        )
        for figure in headline.from_counts(counts)
    }


@dataclass(frozen=True)
class AccountRow:
    """One line of the Accounts table; `figures` and `licences` are None for a failed account
    (no run of the period is rolled up, so it has no figures, not zeros)."""

    entry: AccountEntry
    figures: tuple[HeadlineFigure | None, ...] | None
    licences: tuple[int, ...] | None

    @property
    def tone(self) -> str:
        return STATUS_TONES[self.entry.status]

    @property
    def report_link(self) -> str | None:
        """Its own report, relative to the roll-up folder (`DIR/rollup/<period>/`)."""
        return None if self.entry.folder is None else f"../../{self.entry.folder}/report.html"

    @property
    def workbook_link(self) -> str | None:
        return None if self.entry.folder is None else f"../../{self.entry.folder}/report.xlsx"


def _licence_values(entry: AccountEntry) -> tuple[int, ...] | None:
    total = entry.licences
    if total is None:
        return None
    return (total.vms_at_close, total.vcpus_at_close, total.licence_days, total.vmlicensed_at_close)


def account_rows(rollup: Rollup) -> list[AccountRow]:
    rows = []
    for entry in rollup.accounts:
        if not entry.rolled_up:
            rows.append(AccountRow(entry, None, None))
            continue
        shown = figures(entry.headline)
        rows.append(
            AccountRow(
                entry,
                tuple(shown.get(key.value) for key in FIGURE_KEYS),
                _licence_values(entry),
            )
        )
    return rows


@dataclass(frozen=True)
class Totals:
    """The sums over the accounts rolled up (failed ones have nothing to add)."""

    accounts: int
    rolled_up: int
    failed: int
    figures: tuple[HeadlineFigure, ...]
    licences: tuple[int, ...]
    findings: int
    open_findings: int


def _sum_figure(rows: Sequence[AccountRow], index: int) -> HeadlineFigure:
    """A figure summed over the accounts, printed as the reports print one (a share too)."""
    shown = [
        figure
        for row in rows
        if row.figures is not None and (figure := row.figures[index]) is not None
    ]
    shares = [figure.of for figure in shown if figure.of is not None]
    value = sum(figure.value for figure in shown)
    key = FIGURE_KEYS[index].value
    return HeadlineFigure(
        key, FIGURE_LABELS[index], value, sum(shares) if shares else None, "", None, None
    )


def totals(rollup: Rollup, rows: Sequence[AccountRow]) -> Totals:
    counted = [row for row in rows if row.entry.rolled_up]
    licences = [row.licences for row in counted if row.licences is not None]
    return Totals(
        accounts=len(rows),
        rolled_up=len(counted),
        failed=len(rows) - len(counted),
        figures=tuple(_sum_figure(counted, index) for index in range(len(FIGURE_KEYS))),
        licences=tuple(sum(values) for values in zip(*licences, strict=True))
        if licences
        else (0,) * len(LICENCE_LABELS),
        findings=len(rollup.findings),
        open_findings=sum(row.entry.open_findings for row in counted),
    )


def figure_cell(figure: HeadlineFigure | None) -> int | str | None:
    """A figure as a workbook cell: a number, or `351 of 407 (86%)` for a share."""
    if figure is None:
        return None
    return figure.value if figure.of is None else figure.text


def status_text(entry: AccountEntry) -> str:
    """`complete`, `incomplete` or `FAILED`, with the exit code."""
    label = "FAILED" if entry.status is AccountStatus.FAILED else entry.status.value
    return f"{label} (exit {entry.exit_code})"


def summary_line(rollup: Rollup) -> str:
    """The one sentence the roll-up opens with (and the mail's first line)."""
    failed = [entry for entry in rollup.accounts if entry.status is AccountStatus.FAILED]
    incomplete = [entry for entry in rollup.accounts if entry.status is AccountStatus.INCOMPLETE]
    parts = [f"{len(rollup.accounts) - len(failed):,} of {len(rollup.accounts):,} account(s)"]
    parts[0] += " rolled up"
    if failed:
        parts.append("FAILED: " + ", ".join(entry.name for entry in failed))
    if incomplete:
        parts.append("INCOMPLETE: " + ", ".join(entry.name for entry in incomplete))
    return "; ".join(parts) + f" (exit code {rollup.exit_code})."


def finding_cells(item: AccountFinding) -> list[Any]:
    """An AccountFinding's cells for both reports: the account, the finding's own fields as
    a single run's tables list them (rule_id ... message), its VM's folder and cluster, and
    the kind of exception that covers it."""
    finding = item.finding
    exception = None if finding.exception is None else finding.exception.kind.value
    return [item.account, *finding_values(finding), finding.folder, finding.cluster, exception]


# The cells that name a finding spelt as in a single run's workbook (audit/model/workbook.py).
FINDING_HEADERS = (
    "Account",
    RULE,
    "Severity",
    "Status",
    SERVICE,
    DATACENTER,
    VM_ID,
    "VM name",
    "moRef",
    "Power state",
    "Guest OS (configured)",
    "Licence",
    "Message",
    "Folder",
    "Cluster",
    "Exception",
)
