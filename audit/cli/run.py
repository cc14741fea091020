"""`ovh-license-audit run` (the monthly job) and `report` (offline rebuild)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from audit.cli import accounts
from audit.cli.options import (
    CREDENTIALS_EPILOG,
    DEFAULT_OUT,
    INPUT_ERROR,
    HelpFormatter,
    add_api_arguments,
    exit_codes_epilog,
    load_config_arg,
    period_arg,
)
from audit.collect.options import coverage_line, print_failures
from audit.collect.source import SnapshotSource
from audit.config.settings import FAIL_ON_CHOICES
from audit.deliver.delivery import deliver, mail_settings_for
from audit.evaluate.exceptions import load_exceptions, register_file
from audit.history.stage import change_line
from audit.history.store import HISTORY_FILE
from audit.job import JobResult, JobSpec, run_job
from audit.model.exposure import ObservedDayProvenance, Source
from audit.model.findings import SEVERITIES
from audit.model.prices import Cost
from audit.remediate.script import PLAN_FILE
from audit.render.summary import verdict_line
from audit.run_folder import MANIFEST_FILE, REMEDIATION_DIR, rebuild_reports
from audit.support.console import stdout_may_close
from audit.support.crash import note_output_folder
from audit.support.errors import ExitCode
from audit.support.fsutil import check_regular_file, check_writable_folder, refuse_links


def print_summary(result: JobResult) -> None:
    """A short human summary on stdout: coverage, counts, where the files are; it ends with
    the verdict, where the period's figures come from, and the costs with [prices]."""
    summary = result.evaluation.summary
    print(f"period {result.report.run.period}: {coverage_line(result.snapshot.coverage)}")
    if not result.snapshot.coverage.complete:
        print_failures(result.snapshot)
    total = sum(summary.by_severity.values())
    statuses = ", ".join(f"{count} {status}" for status, count in summary.by_status.items())
    print(f"findings: {total}" + (f" ({statuses})" if statuses else ""))
    if (changes := change_line(result.report)) is not None:
        print(changes)
    for severity in SEVERITIES:
        if summary.by_severity.get(severity):
            opened = summary.open_by_severity.get(severity, 0)
            print(f"  {severity:<6} {summary.by_severity[severity]:>6}  ({opened} open)")
    for rule_id, count in sorted(summary.by_rule.items(), key=lambda item: (-item[1], item[0])):
        if count:
            print(f"  {rule_id:<22} {count:>6}")
    print(f"run folder: {result.run_dir}")
    for name in ("report.html", "report.xlsx", "findings.json", "findings.csv"):
        print(f"  {result.run_dir / name}")
    counts = result.plan.counts()
    bypass = sum(action.bypass_guest_os_family_check for action in result.plan.actions)
    print(
        f"remediation plan: {counts['setLicense']} setLicense, {counts['removeLicense']} "
        f"removeLicense, {counts['manual']} manual"
        + (f", {bypass} BYPASSING the guest-OS check" if bypass else "")
    )
    print(f"  {result.run_dir / REMEDIATION_DIR / PLAN_FILE} (sha256 {result.plan_sha256})")
    print(f"verdict: {verdict_line(result.verdict).text}")
    print(period_figures_line(result))
    for line in cost_lines(result.report.costs):
        print(line)


def period_figures_line(result: JobResult) -> str:
    """Where the period's figures come from: the daily observations found under this run's
    output folder (how many), or the snapshot alone and why."""
    exposure = result.report.exposure
    period = result.report.run.period
    history = result.run_dir.parent / HISTORY_FILE
    taken = result.snapshot.meta.day.isoformat()
    uncounted = "" if exposure is None else uncounted_note(exposure.uncounted)
    if exposure is None or exposure.source is Source.SNAPSHOT:
        return (
            f"period figures: the snapshot alone (taken {taken}, outside {period}): no daily "
            f"observation of {period} in {history}; `observe --out {result.run_dir.parent}` "
            "records one every day" + uncounted
        )
    own = " (this run's own day included)" if taken in exposure.observed_days else ""
    gaps = [
        f"{len(days)} {what}"
        for days, what in (
            (exposure.missing_days, "missing"),
            (exposure.incomplete_days, "incomplete"),
        )
        if days
    ]
    return (
        f"period figures: {exposure.days_observed} daily observation(s) of the "
        f"{exposure.period_days} days of {period}, from {history}{own}"
        + (f"; {', '.join(gaps)}" if gaps else "")
        + uncounted
    )


def uncounted_note(days: Sequence[ObservedDayProvenance]) -> str:
    """The stored days the run did not count (their file missing or changed, or another
    account's), named; the Exposure section says why for each."""
    if not days:
        return ""
    named = ", ".join(day.day for day in days[:5]) + (" ..." if len(days) > 5 else "")
    return f"; {len(days)} stored observation(s) NOT counted ({named}): see the Exposure section"


def cost_lines(costs: Sequence[Cost]) -> list[str]:
    """The [prices] amounts, as the reports give them; nothing without [prices]."""
    if not costs:
        return []
    lines = ["monthly costs ([prices]):"]
    for cost in costs:
        values = cost.unpriced_licences
        named = ", ".join(values[:2]) + (f" and {len(values) - 2} more" if len(values) > 2 else "")
        unpriced = f"; {cost.unpriced_vms} VM(s) without a price: {named}" if values else ""
        label = cost.key.replace("_", " ")
        lines.append(f"  {label:<26} {cost.text:>18}  ({cost.priced_vms} VM(s){unpriced})")
    return lines


def run_command(args: argparse.Namespace) -> int:
    if args.accounts is not None:
        return accounts.run_accounts_command(args)
    config = load_config_arg(args)
    mail = mail_settings_for(config, "--mail") if args.mail else None
    period = period_arg(args.period)
    exceptions_path = args.exceptions or config.exceptions
    out = args.out or config.out or DEFAULT_OUT
    note_output_folder(out)
    # Input files and the output folder are checked before the first API call: a typo or a
    # read-only folder costs nothing.
    check_writable_folder(out)
    if exceptions_path is not None:
        check_regular_file(exceptions_path, "--exceptions")
    exceptions = () if exceptions_path is None else tuple(load_exceptions(exceptions_path))
    source = SnapshotSource.from_args(args, config)
    result = run_job(
        JobSpec(
            out_dir=out,
            period=period,
            source=source,
            exceptions=exceptions,
            fail_on=args.fail_on or config.fail_on or "high",
            remediation=config.remediation,
            allow_bypass=args.allow_bypass,
            replace_incomplete=args.replace_incomplete,
            register=None if exceptions_path is None else register_file(exceptions_path),
            prices=config.prices,
            organisation=config.report.organisation,
        )
    )
    # The run is committed: a reader that went away (`run ... | head`) does not change its code.
    with stdout_may_close():
        print_summary(result)
    if mail is not None:  # a failure is exit 4: the run folder stays, `mail` sends it again
        sent = deliver(result.run_dir, mail)
        with stdout_may_close():
            print(sent)
    return int(result.exit_code)


def report_command(args: argparse.Namespace) -> int:
    note_output_folder(args.run_dir.parent)
    refuse_links(args.run_dir)
    for name, kept in rebuild_reports(args.run_dir).items():
        print(
            f"{name} differed from {MANIFEST_FILE}: kept as {args.run_dir / kept} (edited "
            "inside the run folder, or damaged); the run's is restored"
        )
    print(f"reports rebuilt in {args.run_dir}")
    return int(ExitCode.OK)


RUN_EPILOG = (
    CREDENTIALS_EPILOG
    + "\n"
    + exit_codes_epilog(
        ("0", "no open finding at or above --fail-on"),
        ("1", "at least one such finding"),
        INPUT_ERROR,
        ("3", "the collection was incomplete (takes precedence over 1)"),
        ("4", "--mail: the run folder is complete but the mail could not be delivered"),
    )
)
REPORT_EPILOG = exit_codes_epilog(
    ("0", "the reports were rebuilt"),
    ("2", "usage or input error: a stored file differs from manifest.json, or is missing"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="the monthly job: collect, evaluate, write reports",
        description="Collect (or load a snapshot), evaluate the rules and write DIR/<period>/.",
        epilog=RUN_EPILOG,
        formatter_class=HelpFormatter,
    )
    add_api_arguments(run)
    run.add_argument("--out", type=Path, help=f"output folder (default {DEFAULT_OUT}/)")
    run.add_argument("--period", help="YYYY-MM, current or previous (UTC months; default: current)")
    run.add_argument("--exceptions", type=Path, help="exceptions register (CSV)")
    run.add_argument(
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        help="exit 1 when an open finding is at or above this severity (default high)",
    )
    run.add_argument(
        "--from-snapshot", type=Path, help="evaluate a stored snapshot instead of the API"
    )
    run.add_argument(
        "--allow-bypass",
        action="store_true",
        help="plan setLicense with bypassGuestOsFamilyCheck (flagged in the plan)",
    )
    run.add_argument(
        "--replace-incomplete",
        action="store_true",
        help="let an incomplete collection replace a complete run of the same period",
    )
    run.add_argument(
        "--mail",
        action="store_true",
        help="mail the reports once the run folder is in place ([mail] in --config)",
    )
    accounts.add_arguments(run)
    run.set_defaults(handler=run_command)

    report = subparsers.add_parser(
        "report",
        help="rebuild the reports of a run folder offline",
        description="Render report.html, report.xlsx and findings.csv again from RUN_DIR.",
        epilog=REPORT_EPILOG,
        formatter_class=HelpFormatter,
    )
    report.add_argument(
        "run_dir",
        type=Path,
        metavar="RUN_DIR",
        help="a run folder written by `run` (OUT/<period>/), with its snapshot and findings",
    )
    report.set_defaults(handler=report_command)
