"""Errors that end a command with a documented exit code and a one-line message."""

from enum import IntEnum


class ExitCode(IntEnum):
    """The public exit codes of every command (see DESIGN.md, "Exit codes")."""

    OK = 0
    FINDINGS = 1
    INPUT = 2
    INCOMPLETE = 3
    MAIL = 4  # the run folder is complete, the mail could not be delivered


class AuditError(Exception):
    """Base of the errors the CLI turns into a one-line message and an exit code."""

    exit_code: ExitCode = ExitCode.INPUT


class InputError(AuditError):
    """Bad usage, configuration or input file: the message names file, line and field."""


class CredentialError(AuditError):
    """The API refused our credentials or rights: retrying cannot help."""
