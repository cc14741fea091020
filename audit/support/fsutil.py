"""Atomic file and folder writes: readers never see a half-written output.

Temporary files and folders are created with the modes an ordinary `open` or `mkdir` would
give (0666 and 0777 less the umask), not tempfile's private 0600/0700, so a run folder's
files and folders all follow the umask alike.

A staging folder is held with an exclusive `flock` for as long as its writer lives; one
left behind by a killed process holds no lock, and `sweep_stale_staging` removes it.

A pending item (`.NAME.<hex>.pending`, a folder or a file beside its final place) is what a
writer prepared and will move into place once it has recorded it elsewhere (the history,
audit/history/publish.py): held with a flock while its writer lives, never swept by the
staging sweep, moved in or removed only by whoever owns that record.
"""

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from audit.support.errors import InputError
from audit.support.interrupts import deferred_interrupts

STAGING_SUFFIX = ".staging"
PENDING_SUFFIX = ".pending"
_NEW_SUFFIX = ".new"
_T = TypeVar("_T")


def _create_unique(parent: Path, prefix: str, suffix: str, make: Callable[[Path], _T]) -> _T:
    """Call `make` on fresh names until one does not exist yet (like tempfile does)."""
    for _ in range(100):
        try:
            return make(parent / f"{prefix}{secrets.token_hex(6)}{suffix}")
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name", str(parent))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def create(name: Path) -> tuple[Path, int]:
        return name, os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)

    tmp, fd = _create_unique(path.parent, f".{path.name}.", ".tmp", create)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text flavour of `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def make_executable(path: Path) -> None:
    """`chmod +x` as the shell does it: execute bits where the umask lets read bits be."""
    mask = os.umask(0)
    os.umask(mask)
    mode = path.stat().st_mode
    path.chmod(stat.S_IMODE(mode) | (0o111 & ~mask))


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


# The descriptors holding this process's flocks. A process forked to help (the workbook's,
# audit/support/forked.py) closes its copies, so a lock ends with the process that took it,
# even when that one is killed before its helper.
_LOCKS: set[int] = set()


def _lock(folder: Path, blocking: bool) -> int | None:
    """An exclusive flock on `folder` (or a file); None when another process holds it
    (non-blocking). Let go of it with `_unlock`."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    _LOCKS.add(fd)
    return fd


def _unlock(fd: int) -> None:
    _LOCKS.discard(fd)
    os.close(fd)


def close_inherited_locks() -> None:
    """In a forked child: close the copies of the parent's locked descriptors (the locks stay
    the parent's, and go when it ends, whatever becomes of the child)."""
    for fd in _LOCKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _LOCKS.clear()


def staging_folders(final: Path) -> list[Path]:
    """The staging folders of `final` (held or left behind) beside it."""
    if not final.parent.is_dir():
        return []
    return sorted(final.parent.glob(f".{final.name}.*{STAGING_SUFFIX}"))


def sweep_stale_staging(final: Path) -> list[Path]:
    """Remove the staging folders of `final` that no living process holds; return them.

    A folder another run is still writing is locked by it and left alone.
    """
    swept = []
    for folder in staging_folders(final):
        try:
            fd = _lock(folder, blocking=False)
        except FileNotFoundError:
            continue  # its writer finished (renamed it) or another sweep removed it
        if fd is None:
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            _unlock(fd)
        swept.append(folder)
    return swept


def _previous(final: Path) -> Path:
    return final.parent / f".{final.name}.previous"


def recover_interrupted_swap(final: Path) -> None:
    """Finish a swap a killed process left half done: `final` renamed aside but the new folder
    not yet in place gets its old folder back; with both in place, the old one goes."""
    previous = _previous(final)
    if not previous.exists():
        return
    if final.exists():
        shutil.rmtree(previous, ignore_errors=True)
    else:
        previous.rename(final)


@contextlib.contextmanager
def staged_directory(
    final: Path, swap_under: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext
) -> Iterator[Path]:
    """Yield an empty sibling folder; on success it replaces `final` as a whole.

    On any exception (an interrupt too) the staging folder is removed and `final` is left
    untouched. What killed runs left (stale staging folders, a swap half done) is mended first.
    The swap happens inside `swap_under()`: a lock other writers of `final` take, and a check
    that `final` is still what the staged content was made from (it may refuse, raising).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_swap(final)
    sweep_stale_staging(final)
    with deferred_interrupts():
        # Created under another name and renamed once locked, so a sweep never sees it unlocked.
        fresh = _create_unique(final.parent, f".{final.name}.", _NEW_SUFFIX, _mkdir)
        fd = _lock(fresh, blocking=True)
        assert fd is not None
        staging = fresh.with_name(fresh.name.removesuffix(_NEW_SUFFIX) + STAGING_SUFFIX)
        fresh.rename(staging)
    try:
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        with contextlib.ExitStack() as guard:
            try:
                guard.enter_context(swap_under())
            except BaseException:  # refused: `final` stays as it is, the staged content goes
                shutil.rmtree(staging, ignore_errors=True)
                raise
            swap_directory(staging, final)
    finally:
        _unlock(fd)


def check_writable_folder(path: Path, option: str = "--out") -> None:
    """Refuse, before any work, a folder the command could not write into (read-only, not a
    folder): an hour of collecting is not lost at the first write. Nothing is created: a
    nameless temporary file tries the folder, or its nearest existing parent."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        problem = "is not a folder" if existing == path else f"{existing} is not a folder"
        raise InputError(f"{option} {path}: {problem}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise InputError(
            f"{option} {path}: cannot write in {existing}: {exc.strerror or exc}"
        ) from None


def check_regular_file(path: Path, option: str) -> None:
    """A file the command reads must be a regular file: reading a FIFO blocks until someone
    writes to it, a device may never end. A missing file is left to its reader to name."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        raise InputError(f"{option} {path}: not a regular file")


def refuse_links(folder: Path) -> None:
    """A run folder holds what the run wrote, files and folders only: a symbolic link added
    there would make `report` copy, or `mail` attach, what lies outside it."""
    for parent, folders, files in os.walk(folder):
        for name in sorted((*folders, *files)):
            path = Path(parent) / name
            if path.is_symlink():
                raise InputError(
                    f"{path}: a symbolic link in the run folder (a run folder holds only the "
                    "files the run wrote); remove it"
                )


def swap_directory(folder: Path, final: Path) -> None:
    """Rename `folder` to `final`, the old `final` renamed aside first and removed after
    (`recover_interrupted_swap` mends a kill between the two renames)."""
    previous = _previous(final)
    with deferred_interrupts():  # never stop between the two renames
        shutil.rmtree(previous, ignore_errors=True)
        if final.exists():
            final.rename(previous)
        folder.rename(final)
    shutil.rmtree(previous, ignore_errors=True)


@dataclass(frozen=True)
class Pending:
    """A folder or file prepared under a pending name beside `final`, locked by `fd`."""

    path: Path
    final: Path
    fd: int

    def release(self) -> None:
        """Let go of the lock (the item stays: moved in, or left for whoever owns it)."""
        with contextlib.suppress(OSError):
            _unlock(self.fd)

    def discard(self) -> None:
        """Remove the item (nothing recorded names it) and let go of the lock."""
        if self.path.is_dir() and not self.path.is_symlink():
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.path.unlink(missing_ok=True)
        self.release()


def pending_folder(final: Path) -> Pending:
    """An empty locked folder `.NAME.<hex>.pending` beside `final`. What killed runs left of
    `final` (a swap half done, staging folders) is mended first, as `staged_directory` does."""
    final.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_swap(final)
    sweep_stale_staging(final)
    with deferred_interrupts():  # never a folder without its lock
        path = _create_unique(final.parent, f".{final.name}.", PENDING_SUFFIX, _mkdir)
        fd = _lock(path, blocking=True)
    assert fd is not None
    return Pending(path, final, fd)


def pending_file(final: Path, data: bytes) -> Pending:
    """`data` written and synced to a locked file `.NAME.<hex>.pending` beside `final`."""
    final.parent.mkdir(parents=True, exist_ok=True)

    def create(name: Path) -> tuple[Path, int]:
        return name, os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)

    with deferred_interrupts():
        path, fd = _create_unique(final.parent, f".{final.name}.", PENDING_SUFFIX, create)
        fcntl.flock(fd, fcntl.LOCK_EX)
        _LOCKS.add(fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        Pending(path, final, fd).discard()
        raise
    return Pending(path, final, fd)


def move_into_place(path: Path, final: Path) -> None:
    """A pending folder replaces `final` whole; a pending file is renamed over it."""
    if path.is_dir():
        recover_interrupted_swap(final)
        swap_directory(path, final)
    else:
        path.replace(final)


def finish_pending(path: Path, final: Path, wait_s: float) -> bool:
    """Move a pending item whose record was committed into place, unless it is gone (its
    writer, or an earlier mend, moved it), and remove the old folder a swap left aside. Its
    writer may be moving it right now: its lock is awaited up to `wait_s` seconds (False:
    still held)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fd = _lock(path, blocking=False)
        except FileNotFoundError:
            recover_interrupted_swap(final)  # moved already; the old folder may still be aside
            return True
        if fd is not None:
            break
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    try:
        if path.exists():  # not renamed while we waited
            move_into_place(path, final)
        recover_interrupted_swap(final)
    finally:
        _unlock(fd)
    return True


def pending_items(folder: Path) -> list[Path]:
    """The pending items (held or left behind) directly in `folder`."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f".*{PENDING_SUFFIX}"))


def sweep_pending(folder: Path, keep: Collection[Path]) -> None:
    """Remove the pending items of `folder` that no living process holds and no record names
    (`keep`): a writer killed before it recorded them."""
    for path in pending_items(folder):
        if path in keep:
            continue
        try:
            fd = _lock(path, blocking=False)
        except FileNotFoundError:
            continue
        if fd is None:
            continue
        try:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        finally:
            _unlock(fd)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
