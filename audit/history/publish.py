"""A record in the history and the files it describes, as one recoverable step.

A run changes the run folder DIR/<period>/ and history.sqlite; an observation changes
DIR/observations/<day>.json.gz and history.sqlite. No rename can include a COMMIT, so the
order makes every crash recoverable:

1. the files are written under pending names (`.2026-11.<hex>.pending`, a folder beside the
   run folder; `.2026-11-03.json.gz.<hex>.pending` beside the day's file), each held with a
   flock by its writer;
2. the history commits its records together with a marker (`pending_move`) naming each
   pending item and its place;
3. each pending item is moved into place (a folder swapped whole, as `staged_directory`
   does; a file renamed over the old one);
4. the markers are cleared.

Killed before 2, nothing happened: the pending items are named by no marker, and the next
writer removes them. Killed after 2, the history already holds the new records: the next
write transaction, whatever the command (`HistoryStore.write`), first finishes step 3 for
every marker, and `report`/`mail` mend before they read. Either way the folder and the history
agree once mended. A writer that finds another's marker while that one is still moving its
items waits for its lock (it is released once the move is done).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from audit.history.store import DEFAULT_WAIT_S, HISTORY_FILE, HistoryStore
from audit.support.errors import InputError
from audit.support.fsutil import Pending, move_into_place, pending_file, pending_folder
from audit.support.interrupts import deferred_interrupts

# Called with the name of each step as a publication reaches it ("staged": everything is
# written and the markers are in the transaction; "committed": the COMMIT is done; "moved":
# every item is in place; "cleared": the markers are gone). Empty in use; the crash tests
# stop a process at a step through it.
STEPS: list[Callable[[str], None]] = []


def _step(name: str) -> None:
    for hook in STEPS:
        hook(name)


class Publication:
    """What one write transaction will move into place once it has committed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._items: list[Pending] = []
        self._written: dict[Path, str] = {}

    def folder(self, final: Path) -> Path:
        """An empty pending folder that replaces `final` whole once the records commit."""
        item = pending_folder(final)
        self._items.append(item)
        return item.path

    def file(self, final: Path, data: bytes, sha256: str) -> None:
        """`data` (whose digest is `sha256`) becomes `final` once the records commit."""
        self._items.append(pending_file(final, data))
        self._written[final] = sha256

    @property
    def written(self) -> Mapping[Path, str]:
        """The files this publication writes (final path: sha256), not in place until it
        commits: what a reader in the same transaction must take as their content."""
        return MappingProxyType(self._written)

    @property
    def moves(self) -> list[tuple[Path, Path]]:
        return [(item.path, item.final) for item in self._items]

    def move_all(self) -> None:
        for item in self._items:
            move_into_place(item.path, item.final)

    def release(self) -> None:
        for item in self._items:
            item.release()

    def discard(self) -> None:
        for item in self._items:
            item.discard()


@contextlib.contextmanager
def publishing(store: HistoryStore) -> Iterator[Publication]:
    """A write transaction whose pending files and folders (`Publication.folder`, `.file`)
    are moved into place once its records commit, as one recoverable step (see above).

    An error before the COMMIT discards them and records nothing; after it, an item not yet
    moved is left for the next writer to move (its marker is committed)."""
    publication = Publication(store.path.parent)
    committed = False
    deferral = contextlib.ExitStack()
    try:
        with store.write():
            yield publication
            store.add_pending(publication.moves)
            _step("staged")
            # No SIGINT/SIGTERM between the COMMIT and the moves: the command says what it did.
            deferral.enter_context(deferred_interrupts())
        committed = True
        _step("committed")
        publication.move_all()
        _step("moved")
    finally:
        try:
            deferral.close()
        finally:
            if committed:
                publication.release()
            else:
                publication.discard()
    if publication.moves:
        with store.write():  # forgets the markers of the items now in place
            pass
        _step("cleared")


def mend_folder(out_dir: Path, wait_s: float = DEFAULT_WAIT_S) -> None:
    """Finish what a killed writer of `out_dir` committed but did not move into place, before
    a command that only reads (`report`, `mail`) looks at the folder."""
    path = out_dir / HISTORY_FILE
    if not path.is_file():
        return
    with HistoryStore.open(path, wait_s) as store, store.write():
        pass


@contextlib.contextmanager
def unchanged_since(
    run_dir: Path, witness: str, seen: bytes | None, command: str, wait_s: float = DEFAULT_WAIT_S
) -> Iterator[None]:
    """Hold the history's write lock (under which every run publishes its folder) while a
    command that rewrote `run_dir` from what it read (`report`, `invoice`) swaps it in, and
    refuse when another writer replaced the folder meanwhile (`witness`, its manifest, is no
    longer the bytes `seen`): a newer run is never overwritten with a copy of the older."""
    path = run_dir.parent / HISTORY_FILE
    with contextlib.ExitStack() as stack:
        if path.is_file():
            store = stack.enter_context(HistoryStore.open(path, wait_s))
            stack.enter_context(store.write())
        try:
            current: bytes | None = (run_dir / witness).read_bytes()
        except OSError:
            current = None
        if current != seen:
            raise InputError(
                f"{run_dir}: another command wrote this run folder while `{command}` was "
                f"rewriting it; `{command}` wrote nothing: run it again"
            )
        yield
