"""`surveyd backup PATH`: a consistent copy of the embedded SQLite database, taken while it serves.

SQLite's online backup API copies the database a few pages at a time and restarts when another connection writes
in between (from this process or another); with WAL it reads a snapshot, so a copy is always one committed state.
The copy goes to PATH.tmp, is checked with `PRAGMA integrity_check`, then renamed to PATH: a crash leaves no half
copy under the final name. PostgreSQL is backed up with its own tools (pg_dump), which this refuses to pretend to
be."""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

PAGES_PER_STEP = 256  # about 1 MB at a time; between steps writers go on


class BackupError(Exception):
    """The backup cannot be taken; the message says why and what to do instead."""


@dataclass(frozen=True)
class Backup:
    path: Path
    pages: int
    size: int


def sqlite_file(database_url: str) -> Path:
    """The database file of a sqlite:// URL; BackupError for anything else."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError("the database is PostgreSQL: back it up with pg_dump, e.g. "
                          "pg_dump --format=custom --file=surveyd.dump \"$SURVEYD_DATABASE_URL\"")
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is no file to back up")
    return Path(url.database)


def backup(database_url: str, target: str | os.PathLike, force: bool = False, progress=None) -> Backup:
    """Copy the database to `target` consistently while it may be in use; `progress(status, remaining, total)` is
    called after each step (sqlite3's own hook)."""
    source = sqlite_file(database_url)
    if not source.is_file():
        raise BackupError(f"no database file at {source}")
    target = Path(target)
    if target.exists() and not force:
        raise BackupError(f"{target} exists; give --force to replace it")
    if target.resolve() == source.resolve():
        raise BackupError("the backup cannot be the database itself")
    if not target.parent.is_dir():
        raise BackupError(f"no directory {target.parent}")
    partial = target.with_name(target.name + ".tmp")
    try:
        partial.unlink(missing_ok=True)
        reader = sqlite3.connect(source, timeout=30)
        writer = sqlite3.connect(partial)
    except (OSError, sqlite3.Error) as error:
        raise BackupError(f"cannot write {partial}: {error}") from None
    try:
        reader.backup(writer, pages=PAGES_PER_STEP, progress=progress)
        writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        verdict = writer.execute("PRAGMA integrity_check").fetchone()[0]
        pages = writer.execute("PRAGMA page_count").fetchone()[0]
    except sqlite3.Error as error:
        writer.close()
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed: {error}") from None
    finally:
        reader.close()
    writer.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy did not pass its integrity check: {verdict}")
    os.replace(partial, target)
    return Backup(target, pages, target.stat().st_size)
