"""`ovh-license-audit remediate`: apply a plan (dry run unless --apply), or roll one back.

The work is done by `audit.runtime`, the same code the generated remediate.py runs;
this module only adds the tool's configuration file and its error conventions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.options import load_config_arg
from audit.collect.api import ClientFactory
from audit.collect.options import endpoint_from
from audit.runtime.cli import add_apply_arguments, options_from_args
from audit.runtime.exits import UsageError
from audit.runtime.plan import PlanError, read_plan
from audit.runtime.results import read_results, rollback_plan
from audit.runtime.runner import KeyRefused, RunStopped, remediate
from audit.support.crash import note_output_folder
from audit.support.errors import AuditError, CredentialError, InputError


def remediate_command(args: argparse.Namespace) -> int:
    if (args.plan is None) == (args.rollback is None):
        raise InputError("give a PLAN file or --rollback RESULTS (one of them)")
    config = load_config_arg(args)
    note_output_folder(args.results_dir)
    try:
        if args.rollback is not None:
            plan = rollback_plan(read_results(args.rollback), str(args.rollback))
        else:
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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "remediate",
        help="apply a remediation plan (dry run unless --apply), or roll one back",
        description=(
            "Apply remediation/plan.json of a run: each licence action is checked against the "
            "VM as it is now and skipped if it changed. Without --apply nothing is changed. "
            "Exit 0: all attempted actions succeeded; 1: one failed or did not finish; "
            "2: bad plan, credentials or rights, unreachable endpoint, or stopped by a signal."
        ),
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
