"""`ovh-license-audit run` (the monthly job) and `report` (offline rebuild)."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.options import (
    API_EPILOG,
    DEFAULT_OUT,
    add_api_arguments,
    load_config_arg,
    period_arg,
)
from audit.collect.options import coverage_line, print_failures
from audit.collect.source import SnapshotSource
from audit.config.settings import FAIL_ON_CHOICES
from audit.deliver.delivery import deliver, mail_settings_for
from audit.evaluate.exceptions import load_exceptions, register_file
from audit.history.stage import change_line
from audit.job import JobResult, JobSpec, run_job
from audit.model.findings import SEVERITIES
from audit.run_folder import plan_path, rebuild_reports
from audit.support.console import stdout_may_close
from audit.support.errors import ExitCode


def print_summary(result: JobResult) -> None:
    """A short human summary on stdout: coverage, counts, where the files are."""
    summary = result.evaluation.summary
    print(f"period {result.report.run.period}: {coverage_line(result.snapshot)}")
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
    print(f"  {plan_path(result.run_dir)} (sha256 {result.plan_sha256})")


def run_command(args: argparse.Namespace) -> int:
    config = load_config_arg(args)
    mail = mail_settings_for(config, "--mail") if args.mail else None
    period = period_arg(args.period)
    exceptions_path = args.exceptions or config.exceptions
    # Input files are checked before the first API call: a typo costs nothing.
    exceptions = () if exceptions_path is None else tuple(load_exceptions(exceptions_path))
    source = SnapshotSource.from_args(args, config)
    result = run_job(
        JobSpec(
            out_dir=args.out or config.out or DEFAULT_OUT,
            period=period,
            source=source,
            exceptions=exceptions,
            fail_on=args.fail_on or config.fail_on or "high",
            remediation=config.remediation,
            allow_bypass=args.allow_bypass,
            replace_incomplete=args.replace_incomplete,
            register=None if exceptions_path is None else register_file(exceptions_path),
            prices=config.prices,
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
    rebuild_reports(args.run_dir)
    print(f"reports rebuilt in {args.run_dir}")
    return int(ExitCode.OK)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="the monthly job: collect, evaluate, write reports",
        description="Collect (or load a snapshot), evaluate the rules and write DIR/<period>/.",
        epilog=API_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    run.set_defaults(handler=run_command)

    report = subparsers.add_parser(
        "report",
        help="rebuild the reports of a run folder offline",
        description="Render report.html, report.xlsx and findings.csv again from RUN_DIR.",
    )
    report.add_argument(
        "run_dir",
        type=Path,
        metavar="RUN_DIR",
        help="a run folder written by `run` (OUT/<period>/), with its snapshot and findings",
    )
    report.set_defaults(handler=report_command)
