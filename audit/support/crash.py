"""An unexpected error (a defect, a full disk, no memory left): exit code 5, one line on
stderr naming the cause and the file that holds the traceback, never the traceback itself.

cron must tell a crash from findings (exit 1), and a traceback on stderr helps nobody who
reads the mail cron sends: the file keeps it for the bug report. It goes into the command's
output folder when the command has said which one (`note_output_folder`), else into the
system's temporary folder; its text is passed through `redact`, so no secret ends up there.
"""

from __future__ import annotations

import errno
import os
import platform
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from audit.runtime.text import printable
from audit.support.redact import redact

PREFIX = "ovh-license-audit-crash-"
_MAX_CAUSE = 300

# OS errors the user can fix by pointing the command elsewhere (a folder that cannot be
# written, a missing file): exit 2 with the path. Every other one (disk full, file too large,
# I/O error) is exit 5.
USER_FIXABLE_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENAMETOOLONG,
        errno.ELOOP,
        errno.ENOTEMPTY,
    }
)


class _Folder:
    """Where the command writes (None: not said yet)."""

    path: Path | None = None


def note_output_folder(path: Path | None) -> None:
    """The folder a command writes to: a crash's traceback goes there."""
    _Folder.path = path


def is_user_fixable(exc: OSError) -> bool:
    return exc.errno in USER_FIXABLE_ERRNOS


_WORDS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "a file grew larger than the system allows (ulimit -f?)",
    errno.ENOMEM: "out of memory",
    errno.EIO: "an input/output error of the disk",
}
# lxml reports a failed write by name, not as an OSError (writing report.xlsx).
_LXML_WORDS = {"IO_ENOSPC": errno.ENOSPC, "IO_EFBIG": errno.EFBIG, "IO_EIO": errno.EIO}


def cause(exc: BaseException) -> str:
    """What went wrong, in words, on one line (no secret, no control character)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, OSError) and exc.errno in _WORDS:
        where = f": {exc.filename}" if exc.filename else ""
        words = f"{_WORDS[exc.errno]} ({exc.strerror or text}{where})"
    elif text in _LXML_WORDS:
        words = f"{_WORDS[_LXML_WORDS[text]]} ({text} while writing XML)"
    elif isinstance(exc, MemoryError):
        words = "out of memory"
    elif isinstance(exc, RecursionError):
        words = f"data nested too deeply ({text or 'maximum recursion depth exceeded'})"
    elif isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        words = f"{type(exc).__name__}: {exc.strerror}{where}"
    else:
        words = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    words = printable(redact(words))
    return words if len(words) <= _MAX_CAUSE else words[: _MAX_CAUSE - 3] + "..."


def _traceback_text(exc: BaseException) -> str:
    from audit import __version__

    lines = [
        f"ovh-license-audit {__version__}, Python {platform.python_version()}",
        f"time: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"command: {' '.join(sys.argv)}",
        "",
        *traceback.format_exception(exc),
    ]
    return redact("\n".join(line.rstrip("\n") for line in lines) + "\n")


def _write(folder: Path, text: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{PREFIX}{stamp}-{os.getpid()}.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(text)
    except BaseException:
        path.unlink(missing_ok=True)  # a half-written traceback helps nobody
        raise
    return path


def write_traceback(exc: BaseException) -> tuple[Path | None, str]:
    """The traceback in a file: the output folder, else the temporary folder. Returns the
    file (None when neither could take it) and why it could not be written."""
    text = _traceback_text(exc)
    folders = [_Folder.path] if _Folder.path is not None and _Folder.path.is_dir() else []
    folders.append(Path(tempfile.gettempdir()))
    reason = ""
    for folder in folders:
        try:
            return _write(folder, text), ""
        except (OSError, MemoryError) as failed:
            reason = (
                (failed.strerror or str(failed)) if isinstance(failed, OSError) else "out of memory"
            )
    return None, reason or "no folder to write to"


def crash_line(exc: BaseException) -> str:
    """The one line an unexpected error ends with, its traceback written to a file."""
    path, reason = write_traceback(exc)
    where = (
        f"traceback in {path}"
        if path is not None
        else f"the traceback could not be written ({reason})"
    )
    return f"unexpected error: {cause(exc)}; {where} (exit 5: please report it)"
