"""Engines for the ledger: a private SQLite file by default, or PostgreSQL via psycopg 3."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.pool import StaticPool

from followup.ledger.rows import LedgerCorruptError, LedgerUnavailableError

log = structlog.get_logger(__name__)

# How long a SQLite writer waits for another process's transaction before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


# What SQLite says about a damaged file, and about a host that cannot take a write now.
_SQLITE_CORRUPT = ("malformed", "file is not a database", "disk image")
_SQLITE_UNAVAILABLE = ("disk is full", "disk i/o error", "readonly database", "unable to open")


def make_engine(url: str, *, connections: int = 5) -> Engine:
    """An engine for `url`. `connections`: the PostgreSQL pool's kept connections (it may
    open 10 more for a while); a company worker needs one per sync it runs at once (the
    account lock's, which its transactions share) and a few more."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pool_pre_ping: a daemon outlives server restarts and idle-connection reaping.
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=connections)
        _translate_errors(engine)
        return engine
    database = parsed.database
    in_memory = database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
    if in_memory:
        # One shared connection, or every checkout would see its own empty database.
        engine = create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        assert database is not None  # narrowed by in_memory above
        _prepare_private_file(Path(database))
        engine = create_engine(parsed)
    _configure_sqlite(engine, wal=not in_memory)
    _translate_errors(engine)
    return engine


def _translate_errors(engine: Engine) -> None:
    """Database errors that are not the statement's fault become the ledger's own: a damaged
    file (LedgerCorruptError, for `doctor` and one clear line), a server, disk or connection
    that is unavailable (LedgerUnavailableError, an EnvironmentFailure: the account backs
    off and no write spends an attempt on it)."""

    @event.listens_for(engine, "handle_error")
    def _on_error(ctx: ExceptionContext) -> None:
        if ctx.is_pre_ping:  # the pool is testing a connection: let it reconnect quietly
            return
        error = ctx.original_exception
        text = str(error).lower()
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if ctx.dialect is not None and ctx.dialect.name == "sqlite":
            if any(s in text for s in _SQLITE_CORRUPT):
                raise LedgerCorruptError(
                    f"the ledger database is damaged ({first}); run `followup doctor`"
                ) from error
            if any(s in text for s in _SQLITE_UNAVAILABLE):
                raise LedgerUnavailableError(f"the ledger cannot be written now: {first}") \
                    from error
            return
        if ctx.is_disconnect or type(error).__name__ == "OperationalError":
            raise LedgerUnavailableError(f"the ledger database is unreachable: {first}") \
                from error


def _prepare_private_file(path: Path) -> None:
    """Create the database file (and its directory) readable by the user only.

    It holds names, addresses and meeting notes. SQLite gives its -wal and -shm files the
    permissions of the database file, so they stay private too.
    """
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("ledger.file_mode_restricted", path=str(path))
        path.chmod(0o600)


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module, which defers it to the first write: a
        # read-then-write transaction could then fail to upgrade its lock under contention.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                # FULL: a committed begin_attempt must survive a power loss, or a write
                # could be retried without `recovering` after the remote side got it.
                cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two processes serialise cleanly
        # (waiting up to busy_timeout) instead of one failing halfway through.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
