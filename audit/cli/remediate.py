"""`ovh-license-audit remediate`: apply a plan (dry run unless --apply), or roll one back.

The work is done by `audit.runtime`, the same code the generated remediate.py runs;
this module only adds the tool's configuration file and its error conventions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from audit.cli.options import HelpFormatter, exit_codes_epilog, load_config_arg
from audit.collect.api import ClientFactory
from audit.collect.options import endpoint_from
from audit.job import MANIFEST_FILE, REMEDIATION_DIR
from audit.runtime.cli import add_apply_arguments, check_digest, options_from_args
from audit.runtime.exits import UsageError
from audit.runtime.plan import PlanError, read_plan
from audit.runtime.results import rollback_from_results
from audit.runtime.runner import KeyRefused, RunStopped, remediate
from audit.support.crash import note_output_folder
from audit.support.errors import AuditError, CredentialError, InputError
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
        raise CredentialError(str(exc)) from None
    except RunStopped as exc:  # unreachable endpoint, SIGINT or SIGTERM: exit code 2 as well
        raise AuditError(str(exc)) from None
    return report.exit_code


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
