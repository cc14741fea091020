"""Errors that end a command with a documented exit code and a one-line message."""

from audit.runtime.exits import ExitCode

__all__ = ["AuditError", "CredentialError", "ExitCode", "IncompleteRunError", "InputError"]


class AuditError(Exception):
    """Base of the errors the CLI turns into a one-line message and an exit code."""

    exit_code: ExitCode = ExitCode.INPUT


class InputError(AuditError):
    """Bad usage, configuration or input file: the message names file, line and field."""


class CredentialError(AuditError):
    """The API refused our credentials or rights: retrying cannot help."""


class IncompleteRunError(AuditError):
    """A collection too incomplete to write: nothing was read, or it would replace a complete
    run of the same period. Exit 3, like any incomplete collection, with nothing written."""

    exit_code = ExitCode.INCOMPLETE
