"""The store's files are the owner's alone: 0600 files in a 0700 directory (a prompt or a
tool output in them is nobody else's business on a shared machine)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

# The database and the files SQLite keeps beside it.
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create `path` as 0700, or tighten an existing one that others may enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(path, 0o700)


def private_sqlite_files(database: Path) -> None:
    """Create the database file 0600 when new (SQLite gives its -wal and -shm files the
    database's mode) and tighten existing ones."""
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in SQLITE_SUFFIXES:
        tighten(Path(f"{database}{suffix}"), 0o600)


def tighten(path: Path, mode: int) -> None:
    """chmod `path` to `mode` if group or others have any access to it, saying so."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & 0o077:
        try:
            os.chmod(path, mode)
        except OSError as exc:  # not the owner (e.g. a mounted volume): say so, serve anyway
            log.warning(
                "%s is %04o, readable by others, and could not be tightened: %s",
                path,
                current,
                exc.strerror,
            )
            return
        log.warning(
            "tightened %s from %04o to %04o: other local users could read it", path, current, mode
        )
