"""The exit codes shared by every command and by remediate.py, and the usage error (code 2)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The public exit codes (see docs/DESIGN.md, "Exit codes")."""

    OK = 0
    FINDINGS = 1  # the audit found open findings; remediation: an action failed or is pending
    INPUT = 2  # usage, input, credentials or rights; remediation: also a stopped run
    INCOMPLETE = 3
    MAIL = 4  # the run folder is complete, the mail could not be delivered
    CRASH = 5  # an unexpected error: a defect, a full disk, no memory (never 1)


class UsageError(ValueError):
    """Bad endpoint, credentials or options: a one-line message, exit code 2."""
