"""`surveyd backup PATH`: a consistent, checked copy of the SQLite database while it is written to; refusals that
change nothing; a restore that brings the old state back."""
from __future__ import annotations

import sqlite3

import pytest

from surveyd import backup as backups
from tests.test_cli import _surveyd


def make_database(path, rows: int = 200) -> str:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, text TEXT)")
    connection.executemany("INSERT INTO answers (text) VALUES (?)", [(f"answer {n} " + "x" * 500,) for n in range(rows)])
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def count(path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    finally:
        connection.close()


def test_a_backup_taken_while_another_connection_writes_is_one_committed_state(tmp_path, monkeypatch):
    url = make_database(tmp_path / "live.sqlite3")
    monkeypatch.setattr(backups, "PAGES_PER_STEP", 1)  # many steps, so a write lands in the middle of the copy
    writer = sqlite3.connect(tmp_path / "live.sqlite3")
    wrote = []

    def write_once_mid_copy(status, remaining, total):
        if not wrote and remaining > 0:
            writer.execute("INSERT INTO answers (text) VALUES ('written during the backup')")
            writer.commit()
            wrote.append(remaining)

    done = backups.backup(url, tmp_path / "copy.sqlite3", progress=write_once_mid_copy)
    writer.close()
    assert wrote, "the copy took one step: nothing was written during it"
    assert done.path == tmp_path / "copy.sqlite3" and done.pages > 1 and done.size > 0
    assert count(done.path) in (200, 201)  # before or after the write, never half of it
    check = sqlite3.connect(done.path)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    check.close()
    assert not (tmp_path / "copy.sqlite3.tmp").exists()


def test_refusals_leave_everything_as_it_was(tmp_path):
    url = make_database(tmp_path / "live.sqlite3")
    existing = tmp_path / "old.sqlite3"
    existing.write_bytes(b"an older backup")
    with pytest.raises(backups.BackupError, match="--force"):
        backups.backup(url, existing)
    assert existing.read_bytes() == b"an older backup"
    with pytest.raises(backups.BackupError, match="pg_dump"):
        backups.backup("postgresql+psycopg://postgres@127.0.0.1/test", tmp_path / "x.sqlite3")
    with pytest.raises(backups.BackupError, match="no directory"):
        backups.backup(url, tmp_path / "missing" / "x.sqlite3")
    with pytest.raises(backups.BackupError, match="itself"):
        backups.backup(url, tmp_path / "live.sqlite3", force=True)
    with pytest.raises(backups.BackupError, match="no database file"):
        backups.backup(f"sqlite:///{tmp_path / 'absent.sqlite3'}", tmp_path / "y.sqlite3")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("live")) == ["old.sqlite3"]
    assert count(tmp_path / "live.sqlite3") == 200
    replaced = backups.backup(url, existing, force=True)
    assert count(replaced.path) == 200


def test_restoring_a_backup_brings_its_state_back(tmp_path):
    live = tmp_path / "live.sqlite3"
    url = make_database(live)
    backups.backup(url, tmp_path / "copy.sqlite3")
    connection = sqlite3.connect(live)
    connection.execute("DELETE FROM answers")
    connection.commit()
    connection.close()
    assert count(live) == 0
    # The README's restore: stop serving, put the copy in place, remove the old -wal and -shm, start again.
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"live.sqlite3{suffix}").unlink(missing_ok=True)
    (tmp_path / "copy.sqlite3").replace(live)
    assert count(live) == 200


def test_the_command_backs_up_the_configured_database_and_refuses_postgresql(tmp_path):
    url = make_database(tmp_path / "surveyd.sqlite3")
    done = _surveyd(url, "backup", str(tmp_path / "nightly.sqlite3"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Backed up to {tmp_path / 'nightly.sqlite3'}:") and "integrity ok" in done.stdout
    assert count(tmp_path / "nightly.sqlite3") == 200
    again = _surveyd(url, "backup", str(tmp_path / "nightly.sqlite3"))
    assert again.returncode == 2 and "--force" in again.stderr
    refused = _surveyd("postgresql://postgres@127.0.0.1/test", "backup", str(tmp_path / "pg.sqlite3"))
    assert refused.returncode == 2 and "pg_dump" in refused.stderr
    assert not (tmp_path / "pg.sqlite3").exists()
