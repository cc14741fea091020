"""The example crontab (examples/crontab) read as cron reads it: its variable lines and its job
lines, each job's five time fields and the command cron hands to /bin/sh."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CRONTAB = Path(__file__).resolve().parents[2] / "examples" / "crontab"
_VARIABLE = re.compile(r"([A-Z_][A-Z0-9_]*)=(.*)")


@dataclass(frozen=True)
class CronJob:
    schedule: tuple[str, str, str, str, str]  # minute, hour, day of month, month, day of week
    command: str  # what cron runs with /bin/sh -c, as written


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def variables(path: Path = CRONTAB) -> dict[str, str]:
    """The crontab's `NAME=value` lines (cron sets them in every job's environment)."""
    return {m[1]: m[2].strip() for line in _lines(path) if (m := _VARIABLE.fullmatch(line))}


def jobs(path: Path = CRONTAB) -> list[CronJob]:
    """The job lines, in order."""
    found = []
    for line in _lines(path):
        if _VARIABLE.fullmatch(line):
            continue
        fields = line.split(None, 5)
        minute, hour, day, month, weekday = fields[:5]
        found.append(CronJob((minute, hour, day, month, weekday), fields[5]))
    return found
