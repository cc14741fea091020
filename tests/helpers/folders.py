"""Folders a test module builds once and every test gets a fresh copy of.

A run through the job costs a few tenths of a second; a module whose tests each start from the
same run folder or output folder builds it once (a module-scoped fixture) and copies it, so each
test may damage or edit its copy without touching the others'.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_of(template: Path, dest: Path) -> Path:
    """`template` copied whole to `dest` (which must not exist); returns `dest`."""
    shutil.copytree(template, dest, symlinks=True)
    return dest


def files(run_dir: Path) -> dict[str, bytes]:
    """Every file under `run_dir` by relative path, with its bytes: two folders compare whole."""
    return {
        path.relative_to(run_dir).as_posix(): path.read_bytes()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
    }
