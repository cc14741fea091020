"""`ovh-license-audit remediate`: apply a plan (dry run unless --apply), or roll one back;
`ovh-license-audit import-results`: record the results CSV of the generated remediate.py.

The work is done by `audit.runtime`, the same code the generated remediate.py runs; this
module adds the tool's configuration file, its error conventions and the history: an --apply
of a plan in a run folder records its results in the history beside the run folders.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from audit.cli.options import HelpFormatter, exit_codes_epilog, load_config_arg
from audit.collect.api import ClientFactory
from audit.collect.options import endpoint_from
from audit.history.store import HISTORY_FILE
from audit.remediate.record import SOURCE_APPLY, SOURCE_IMPORT, record_results
from audit.remediate.script import PLAN_FILE
from audit.run_folder import MANIFEST_FILE, REMEDIATION_DIR
from audit.runtime.cli import add_apply_arguments, check_digest, options_from_args
from audit.runtime.exits import UsageError
from audit.runtime.plan import PlanError, read_plan
from audit.runtime.results import rollback_from_results
from audit.runtime.runner import KeyRefused, RunStopped, remediate
from audit.support.crash import note_output_folder
from audit.support.errors import AuditError, CredentialError, ExitCode, InputError
from audit.support.fsutil import check_regular_file, sha256_file


def check_plan_file(path: Path, expected: str | None) -> None:
    """The plan applied is the plan approved: with --expect-sha256, that one; for a plan in
    its run folder (RUN_DIR/remediation/plan.json), the sha256 the run's manifest.json
    records, as `report` and `mail` check the files they read. Checked before any call."""
    check_regular_file(path, "PLAN")
    if not path.is_file():
        return  # read_plan names it
    if expected is not None:
        check_digest(path.read_bytes(), expected, str(path))
        return
    manifest = path.parent.parent / MANIFEST_FILE
    if path.parent.name != REMEDIATION_DIR or not manifest.is_file():
        return  # not in a run folder: --expect-sha256 is the check
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        recorded = files.get(f"{REMEDIATION_DIR}/{path.name}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        recorded = False
    if recorded is False:
        raise InputError(f"{manifest}: not a run manifest (no files digest); nothing done")
    if recorded is None:
        raise InputError(
            f"{path}: not listed in {manifest} (not the plan the run wrote); nothing done "
            "(--expect-sha256 applies a plan the run did not write)"
        )
    if sha256_file(path) != recorded:
        raise InputError(
            f"{path}: differs from its sha256 in {MANIFEST_FILE} (changed since the run); "
            "nothing done"
        )


def remediate_command(args: argparse.Namespace) -> int:
    if (args.plan is None) == (args.rollback is None):
        raise InputError("give a PLAN file or --rollback RESULTS (one of them)")
    config = load_config_arg(args)
    note_output_folder(args.results_dir)
    record = args.apply and args.plan is not None  # a rollback's plan is no run's
    try:
        if args.rollback is not None:
            if args.expect_sha256 is not None:
                raise InputError("--expect-sha256 checks a PLAN, not --rollback RESULTS")
            check_regular_file(args.rollback, "--rollback")
            plan = rollback_from_results(args.rollback)
        else:
            check_plan_file(args.plan, args.expect_sha256)
            plan = read_plan(args.plan)
        factory = ClientFactory(endpoint_from(args, config), config_file=config.ovh_config)
        report = remediate(factory.new_client(), plan, options_from_args(args), args.results_dir)
    except (PlanError, UsageError) as exc:
        raise InputError(str(exc)) from None
    except KeyRefused as exc:
        if record:
            record_applied(args.plan, exc.results_path)
        raise CredentialError(str(exc)) from None
    except RunStopped as exc:  # unreachable endpoint, SIGINT or SIGTERM: exit code 2 as well
        if record:
            record_applied(args.plan, exc.results_path)
        raise AuditError(str(exc)) from None
    if record:
        record_applied(args.plan, report.results_path)
    return report.exit_code


def plan_file_of(out_dir: Path) -> Callable[[str], Path]:
    """Where the run of a period keeps its plan, under the output folder `out_dir`."""
    return lambda period: out_dir / period / REMEDIATION_DIR / PLAN_FILE


def record_applied(plan: Path, results: Path | None) -> None:
    """An --apply of DIR/<period>/remediation/plan.json: its results into DIR/history.sqlite.
    What was applied stays applied: a failure to record is said, and changes no exit code."""
    if results is None:
        return
    folder = plan.resolve().parent
    history = folder.parent.parent / HISTORY_FILE
    if folder.name != REMEDIATION_DIR or not history.is_file():
        print(
            f"results not recorded in a history: the plan is not in a run folder beside a "
            f"{HISTORY_FILE}; record them with `ovh-license-audit import-results {results} "
            f"--history DIR/{HISTORY_FILE}`"
        )
        return
    try:
        recorded = record_results(history, results, SOURCE_APPLY, plan_file_of(history.parent))
    except InputError as exc:
        print(f"results not recorded in {history}: {exc}")
        return
    print(recorded.line(history))


def default_history(results: Path) -> Path:
    """DIR/history.sqlite for results written beside remediate.py in DIR/<period>/remediation/."""
    folder = results.resolve().parent
    candidate = folder.parent.parent / HISTORY_FILE
    if folder.name != REMEDIATION_DIR or not candidate.is_file():
        raise InputError(
            f"{results}: not in a run folder's {REMEDIATION_DIR}/ beside a {HISTORY_FILE}; name "
            f"the history with --history DIR/{HISTORY_FILE}"
        )
    return candidate


def import_results_command(args: argparse.Namespace) -> int:
    results: Path = args.results
    history: Path = args.history or default_history(results)
    recorded = record_results(history, results, SOURCE_IMPORT, plan_file_of(history.parent))
    print(recorded.line(history))
    return int(ExitCode.OK)


EPILOG = exit_codes_epilog(
    ("0", "every attempted action succeeded (skipped, capped and manual ones are no failure)"),
    ("1", "an action failed, or its task had not ended within --task-timeout"),
    (
        "2",
        "bad plan or results file (a dry run's results have nothing to roll back), usage, "
        "credentials, a key without the rights, an unreachable endpoint, or a run stopped by "
        "SIGINT or SIGTERM (the results file says what was done)",
    ),
    interrupted=("130, 143", "interrupted by SIGINT or SIGTERM before the first action"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "remediate",
        help="apply a remediation plan (dry run unless --apply), or roll one back",
        description=(
            "Apply remediation/plan.json of a run: each licence action is checked against the "
            "VM as it is now and skipped if it changed. Without --apply nothing is changed."
        ),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("plan", type=Path, nargs="?", metavar="PLAN", help="a plan.json")
    parser.add_argument(
        "--rollback",
        type=Path,
        metavar="RESULTS",
        help="undo the changes recorded in a results CSV (instead of PLAN)",
    )
    add_apply_arguments(parser)
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.set_defaults(handler=remediate_command)

    results = subparsers.add_parser(
        "import-results",
        help="record the results CSV of remediate.py in the history",
        description=(
            "Record what a remediation run applied (the remediation-apply-*.csv remediate.py "
            "wrote) in the history, against the run whose plan it applied, so the next run's "
            "reports list it. `remediate --apply` of a plan in a run folder records its own."
        ),
        epilog=exit_codes_epilog(
            ("0", "recorded (or recorded before: nothing stored)"),
            (
                "2",
                "a bad results file (one line naming its line and column), a plan of no run in "
                "the history, or no history file; nothing is stored",
            ),
        ),
        formatter_class=HelpFormatter,
    )
    results.add_argument("results", type=Path, metavar="RESULTS", help="a results CSV")
    results.add_argument(
        "--history",
        type=Path,
        help=f"history file (default: {HISTORY_FILE} of the output folder, for results "
        f"written in a run folder's {REMEDIATION_DIR}/)",
    )
    results.set_defaults(handler=import_results_command)
