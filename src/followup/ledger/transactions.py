"""Where the ledger's transactions run: a pooled connection each, or, while a thread holds
an account's lock on PostgreSQL, the lock's own connection.

A meeting's sync commits about a hundred short transactions. Taken from the pool, each
costs a checkout and a pre-ping round trip, and the sync holds two connections at once (the
lock's session and the transaction's). On the lock's connection they cost neither, and a
company worker needs one connection per running sync instead of two.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.engine import Engine


class Transactions:
    _engine: Engine
    # (thread ident, connection): only that thread's transactions use it (a status endpoint
    # reading the same Ledger from another thread takes a pooled connection as before).
    _pin: tuple[int, Connection] | None = None

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A transaction, committed on a clean exit and rolled back on an exception, as
        Engine.begin(). One already open on the pinned connection (a ledger method calling
        another inside its transaction) gets a pooled connection, as before."""
        pin = self._pin
        if pin is None or pin[0] != threading.get_ident() or pin[1].in_transaction():
            with self._engine.begin() as conn:
                yield conn
            return
        conn = pin[1]
        with conn.begin():
            yield conn

    @contextmanager
    def _pinned(self, conn: Connection) -> Iterator[None]:
        """Run this thread's transactions on `conn` for the block's duration."""
        previous = self._pin
        self._pin = (threading.get_ident(), conn)
        try:
            yield
        finally:
            self._pin = previous
