"""Fencing: a lease per account, with an epoch, that every write checks before it starts.

procrastinate's job lock and the ledger's advisory account lock keep two workers off one
account while everything is healthy. Neither survives every failure: a worker whose database
session was cut loses its advisory lock without noticing; a worker that stalls (a stopped
process, a partition) keeps its job "doing" until the stalled-job task hands it to another.
The lease is the durable guard, in the account's status row:

- `acquire` bumps the epoch and names this worker as owner until now + ttl (the database's
  clock, so workers' clocks do not matter), only if nobody else holds a live lease;
- `hold` renews it, only if the epoch and owner are still ours; FencedLedger.begin_attempt
  calls it after claiming each write and before the remote call: a worker that lost its
  lease releases the claim and stops (LeaseLostError) instead of writing;
- `release` gives it up at the end of the sync.

A write already in flight when its lease runs out is covered by the ledger's own claim
(owner + 15 minute lease, longer than any provider call with its retries): the next lease
holder finds the claim live and leaves that write alone. The ledger claim's owner carries the
epoch (`<process identity>.e<epoch>`), so a claim left by an earlier epoch of this very
process counts as another owner's: it is looked up before it is written again.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.engine import Engine

from followup.errors import TransientError
from followup.ledger import Ledger, WriteRow
from followup.ledger.store import CLAIM_LEASE

log = structlog.get_logger(__name__)

DEFAULT_TTL = timedelta(seconds=120)


class LeaseLostError(TransientError):
    """This worker no longer holds the account's lease: another one may be running it."""


class Lease:
    def __init__(self, engine: Engine, account: str, owner: str,
                 ttl: timedelta = DEFAULT_TTL) -> None:
        if ttl >= CLAIM_LEASE:
            raise ValueError("the account lease must be shorter than the ledger's claim lease")
        self.engine = engine
        self.account = account
        self.owner = owner
        self.ttl = ttl
        self.epoch: int | None = None
        self._renewed = 0.0  # monotonic time of the last renewal

    def acquire(self) -> int | None:
        """The new epoch, or None while another worker's lease is live."""
        with self.engine.begin() as conn:
            epoch = conn.scalar(text(
                "UPDATE company_accounts SET lease_epoch = lease_epoch + 1, "
                "lease_owner = :owner, lease_until = now() + make_interval(secs => :ttl) "
                "WHERE name = :account AND (lease_owner IS NULL OR lease_until IS NULL "
                "OR lease_until <= now()) RETURNING lease_epoch"
            ), {"owner": self.owner, "ttl": self.ttl.total_seconds(), "account": self.account})
        self.epoch = None if epoch is None else int(epoch)
        self._renewed = time.monotonic()
        return self.epoch

    def held_until(self) -> datetime | None:
        with self.engine.begin() as conn:
            until: datetime | None = conn.scalar(text(
                "SELECT lease_until FROM company_accounts WHERE name = :account"
            ), {"account": self.account})
        return until

    def hold(self) -> bool:
        """Renew the lease; False when it is no longer ours (expired and taken, or gone)."""
        if self.epoch is None:
            return False
        try:
            with self.engine.begin() as conn:
                ours = conn.scalar(text(
                    "UPDATE company_accounts SET lease_until = now() + make_interval(secs => :ttl) "
                    "WHERE name = :account AND lease_epoch = :epoch AND lease_owner = :owner "
                    "AND lease_until > now() RETURNING 1"
                ), {"ttl": self.ttl.total_seconds(), "account": self.account,
                    "epoch": self.epoch, "owner": self.owner})
        except Exception:  # the database is unreachable: we cannot know, so we do not write
            log.warning("lease.unverifiable", account=self.account, exc_info=True)
            return False
        if ours is None:
            log.warning("lease.lost", account=self.account, epoch=self.epoch)
            self.epoch = None
            return False
        self._renewed = time.monotonic()
        return True

    def lost(self) -> bool:
        """For run_cycle's `stop`: renews at most every ttl/4 (it is asked often, while
        calendars are read), True once the lease is gone."""
        if self.epoch is None:
            return True
        if time.monotonic() - self._renewed < self.ttl.total_seconds() / 4:
            return False
        return not self.hold()

    def release(self) -> None:
        if self.epoch is None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(text(
                    "UPDATE company_accounts SET lease_owner = NULL, lease_until = NULL "
                    "WHERE name = :account AND lease_epoch = :epoch AND lease_owner = :owner"
                ), {"account": self.account, "epoch": self.epoch, "owner": self.owner})
        except Exception:  # it runs out by itself
            log.warning("lease.not_released", account=self.account, exc_info=True)
        self.epoch = None

    def claim_owner(self, identity: str) -> str:
        """The ledger claim owner for this lease: the process identity with the epoch."""
        return f"{identity}.e{self.epoch}"


class FencedLedger(Ledger):
    """The ledger with a fence: each write's claim is checked against the account lease
    before the remote call. Built on an engine the worker shares across its jobs."""

    def __init__(self, engine: Engine, lease: Lease, *, owner: str) -> None:
        super().__init__(engine, owner=owner)
        self.lease = lease

    def begin_attempt(self, key: str) -> WriteRow:
        row = super().begin_attempt(key)
        if self.lease.hold():
            return row
        # Our claim is committed but nothing was written: give the claim and the attempt
        # back, so the lease's new holder can write it (looking it up first: attempts > 1).
        self.fail(key, "lease lost before the write; left to the account's new worker", None,
                  environment=True)
        raise LeaseLostError(f"account {self.lease.account}: lease lost, sync stopped")
