"""Command line: one subcommand per stage or tool, each registered by its own module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from audit import __version__
from audit.errors import AuditError, ExitCode

Handler = Callable[[argparse.Namespace], int]


class CommandModule(Protocol):
    """A module that adds one subcommand; the parser it adds sets `handler`."""

    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


def _command_modules() -> list[CommandModule]:
    """The explicit list of subcommands (imported lazily to keep `--help` fast)."""
    from audit import auth_command, demo, job_command
    from audit.collect import command as snapshot
    from audit.history import command as import_review
    from audit.remediate import command as remediate
    from audit.simulator import command as simulate

    return [job_command, snapshot, remediate, import_review, simulate, demo, auth_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ovh-license-audit",
        description="Windows SPLA licence compliance audit for OVHcloud Hosted Private Cloud.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except AuditError as exc:
        print(f"ovh-license-audit: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except OSError as exc:  # an output folder we may not write, a disk that is full
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ovh-license-audit: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return int(ExitCode.INPUT)
    except KeyboardInterrupt:
        print("ovh-license-audit: interrupted", file=sys.stderr)
        return int(ExitCode.INPUT)
