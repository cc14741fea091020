"""Writing `DIR/rollup/<period>/`, and rebuilding it byte for byte from the account folders.

Like a run folder, the roll-up folder is built in a staging folder and renamed into place
whole. Its only input of its own is `outcomes.json` (what `run --accounts` saw of each
account's process); everything else is derived from the account folders, so `rollup DIR
--period P` writes the same bytes again, and the manifest names each account's manifest and
its sha256.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from audit import __version__
from audit.config.accounts import ROLLUP_FOLDER
from audit.history.store import HISTORY_FILE
from audit.model.rollup import Outcome, Rollup, dumps_outcomes
from audit.render.rollup_csv import RollupCsv
from audit.render.rollup_html import RollupHtml
from audit.render.rollup_xlsx import RollupXlsx
from audit.rollup.folders import account_folders, build_rollup
from audit.run_folder import MANIFEST_FILE, check_inputs, write_json
from audit.support.errors import InputError
from audit.support.fsutil import atomic_write_text, sha256_file, staged_directory

FINDINGS_FILE = "findings.json"
OUTCOMES_FILE = "outcomes.json"


class RollupRenderer(Protocol):
    """One output format of the roll-up: writes one file of its folder."""

    filename: str

    def render(self, rollup: Rollup, path: Path) -> None: ...


def renderers() -> Sequence[RollupRenderer]:
    """Every output format of the roll-up, in the order they are written."""
    return (RollupCsv(), RollupXlsx(), RollupHtml())


def rollup_dir(out_dir: Path, period: str) -> Path:
    return out_dir / ROLLUP_FOLDER / period


def _write_manifest(folder: Path, rollup: Rollup, unlisted: Sequence[str]) -> None:
    """Each account's manifest (path from the output folder) and sha256, then the sha256 of
    every other file of the roll-up folder."""
    files = {
        name: sha256_file(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and path.name != MANIFEST_FILE
        and (name := path.relative_to(folder).as_posix()) not in unlisted
    }
    write_json(
        folder / MANIFEST_FILE,
        {
            "period": rollup.period,
            "tool_version": __version__,
            "accounts": [
                {
                    "name": entry.name,
                    "status": entry.status.value,
                    "manifest": None if entry.folder is None else f"{entry.folder}/{MANIFEST_FILE}",
                    "manifest_sha256": entry.manifest_sha256 if entry.rolled_up else None,
                }
                for entry in rollup.accounts
            ],
            "files": files,
        },
    )


def _render(stage: Path, rollup: Rollup, unlisted: Sequence[str] = ()) -> None:
    atomic_write_text(stage / FINDINGS_FILE, rollup.dumps())
    for renderer in renderers():
        renderer.render(rollup, stage / renderer.filename)
    _write_manifest(stage, rollup, unlisted)


def write_rollup(out_dir: Path, period: str, outcomes: Sequence[Outcome]) -> tuple[Rollup, Path]:
    """`run --accounts`: the roll-up of the accounts just run, with what their processes did."""
    rollup = build_rollup(
        out_dir, period, [o.name for o in outcomes], {o.name: o for o in outcomes}
    )
    folder = rollup_dir(out_dir, period)
    with staged_directory(folder) as stage:
        atomic_write_text(stage / OUTCOMES_FILE, dumps_outcomes(period, outcomes))
        _render(stage, rollup)
    return rollup, folder


def _read_outcomes(path: Path) -> list[Outcome]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Outcome.from_json(item) for item in data["accounts"]]
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a roll-up outcomes file ({exc})") from None


def rebuild_rollup(
    out_dir: Path, period: str, names: Sequence[str] | None = None
) -> tuple[Rollup, Path]:
    """`rollup DIR --period P`: the roll-up from the account folders as they are now.

    The accounts are `names` (from --accounts), else those `run --accounts` recorded in the
    roll-up folder, else every account folder of DIR. An existing roll-up folder must match
    its manifest (its outcomes.json is an input); files people added to it are kept.
    """
    folder = rollup_dir(out_dir, period)
    outcomes: list[Outcome] = []
    kept: list[str] = []
    added: list[str] = []
    if (folder / MANIFEST_FILE).is_file():
        derived = {FINDINGS_FILE, MANIFEST_FILE, *(r.filename for r in renderers())}
        kept, added = check_inputs(folder, derived)
        if OUTCOMES_FILE in kept:
            outcomes = _read_outcomes(folder / OUTCOMES_FILE)
    chosen = list(names or [o.name for o in outcomes] or account_folders(out_dir))
    if not chosen:
        raise InputError(
            f"{out_dir}: no account folder (a folder holding {HISTORY_FILE}) and no "
            "--accounts file: nothing to roll up"
        )
    rollup = build_rollup(out_dir, period, chosen, {o.name: o for o in outcomes})
    with staged_directory(folder) as stage:
        for name in (*kept, *added):
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / name, stage / name)
        _render(stage, rollup, unlisted=added)
    return rollup, folder
