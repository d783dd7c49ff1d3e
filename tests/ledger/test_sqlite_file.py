"""The default SQLite file: private, WAL, and safe with two processes on it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from followup.ledger import Ledger
from followup.model import CalendarChanges, Meeting

from .conftest import T0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_and_directory_are_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "ledger.db"
    old_umask = os.umask(0o022)
    try:
        with Ledger.open(f"sqlite:///{db}") as ledger:
            ledger.apply_changes("a", "calendar:x", CalendarChanges(upserts=[Meeting("u", T0, T0)]))
            wal = db.with_name("ledger.db-wal")
            assert wal.exists() and mode(wal) == 0o600
    finally:
        os.umask(old_umask)
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700


def test_a_world_readable_file_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    Ledger.open(f"sqlite:///{db}").close()
    assert mode(db) == 0o600


def test_wal_and_foreign_keys_are_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger.open(url) as ledger:
        engine = ledger._engine  # the ledger's own connections carry the pragmas
        with engine.connect() as conn:
            assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert conn.scalar(text("PRAGMA busy_timeout")) > 0


WORKER = """
import sys
from datetime import UTC, datetime, timedelta
from followup.ledger import Ledger
from followup.ledger.rows import WriteClaimedError
from followup.model import CalendarChanges, Meeting, WriteIntent, WriteKind, BlockPayload
url, name = sys.argv[1], sys.argv[2]
t0 = datetime(2025, 3, 10, 9, tzinfo=UTC)
with Ledger.open(url, max_attempts=1000) as ledger:
    for i in range(60):
        m = Meeting(f"{name}-{i}", t0 + timedelta(minutes=i), t0 + timedelta(minutes=i + 30))
        ledger.apply_changes("a", f"calendar:{name}", CalendarChanges(upserts=[m]))
        block = BlockPayload("s", "d", t0, t0)
        ledger.record_intents("a", [WriteIntent("shared", WriteKind.BLOCK, block, t0, "")])
        while True:  # the other process may hold its claim on the write: wait for it
            try:
                ledger.begin_attempt("shared")
                break
            except WriteClaimedError:
                pass
        ledger.fail("shared", "again", retry_at=None)
"""


@pytest.mark.slow
def test_two_processes_share_one_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger.open(url, max_attempts=1000).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, url, name], stderr=subprocess.PIPE)
        for name in ("p1", "p2")
    ]
    try:
        errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert [p.returncode for p in procs] == [0, 0], errors
    with Ledger.open(url) as ledger:
        assert len(ledger.meetings("a", T0, T0.replace(day=11))) == 120
        (shared,) = ledger.writes("a")
        assert shared.attempts == 120  # every increment of both processes counted
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("PRAGMA integrity_check")) == "ok"
    finally:
        engine.dispose()
