"""Command line: one subcommand per stage or tool, each registered by its own module."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

from audit import __version__
from audit.runtime.text import printable
from audit.support.console import quiet_stdout, stdout_may_close, stdout_reader_gone
from audit.support.crash import crash_line, is_user_fixable
from audit.support.errors import AuditError, ExitCode
from audit.support.interrupts import Interrupted, abandon_quietly, signals_as_interrupts
from audit.support.redact import redact

Handler = Callable[[argparse.Namespace], int]


class CommandModule(Protocol):
    """A module that adds one subcommand; the parser it adds sets `handler`."""

    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


def _command_modules() -> list[CommandModule]:
    """The explicit list of subcommands (imported lazily to keep `--help` fast)."""
    from audit.cli import (
        auth,
        check,
        demo,
        invoice,
        mail,
        observe,
        remediate,
        review,
        rollup,
        run,
        simulate,
        snapshot,
    )

    return [
        run,
        rollup,
        observe,
        snapshot,
        check,
        invoice,
        remediate,
        review,
        simulate,
        mail,
        demo,
        auth,
    ]


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: it reports unknown arguments itself, with its own usage.

    argparse hands a subcommand's leftovers back to the top-level parser, whose usage
    line says nothing about the subcommand the user typed.
    """

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        namespace, extras = super().parse_known_args(*args, **kwargs)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ovh-license-audit",
        description="Windows SPLA licence compliance audit for OVHcloud Hosted Private Cloud.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser] = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(
            dest="command", required=True, metavar="COMMAND", parser_class=CommandParser
        ),
    )
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
    with signals_as_interrupts():
        return _handle(handler, args)


def _handle(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command; every way it can fail ends in one line on stderr and an exit code:
    2 for what the user can fix, 5 for the unexpected (traceback in a file, see crash.py)."""
    try:
        code = handler(args)
        with stdout_may_close():  # a reader that stopped early does not change the code
            pass
        return code
    except AuditError as exc:
        print(f"ovh-license-audit: error: {printable(redact(str(exc)))}", file=sys.stderr)
        return int(exc.exit_code)
    except BrokenPipeError as exc:
        if not stdout_reader_gone():  # a socket or file of the command broke, not stdout
            print(f"ovh-license-audit: error: {exc.strerror or exc}", file=sys.stderr)
        quiet_stdout()
        return int(ExitCode.INPUT)
    except OSError as exc:  # an output folder we may not write: the user points elsewhere
        if not is_user_fixable(exc):  # a full disk, a file too large: not the user's input
            return _crashed(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        line = printable(f"{where}{exc.strerror or exc}")
        print(f"ovh-license-audit: error: {line}", file=sys.stderr)
        return int(ExitCode.INPUT)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: see audit/support/interrupts.py
        print("ovh-license-audit: interrupted", file=sys.stderr)
        return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT
    except Exception as exc:  # a defect, no memory left: never 1, the findings code
        return _crashed(exc)


def _crashed(exc: BaseException) -> int:
    abandon_quietly()
    print(f"ovh-license-audit: error: {crash_line(exc)}", file=sys.stderr)
    return int(ExitCode.CRASH)
