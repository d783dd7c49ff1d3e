"""What the ledger hands back: write rows, account status, and its own errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from followup.errors import EnvironmentFailure, FollowupError, TransientError
from followup.model import Payload, WriteIntent, WriteKind


class LedgerError(FollowupError):
    """The ledger cannot be used as asked (unknown key, schema from a newer followup...)."""


class SchemaTooNewError(LedgerError):
    """The database was migrated by a newer followup; this one must not touch it."""


class WriteNotPendingError(LedgerError):
    """An attempt was asked for a write that is no longer pending (done, dismissed...)."""


class WriteClaimedError(WriteNotPendingError):
    """Another process holds a live claim on the write: it may be writing it right now."""


class LedgerCorruptError(LedgerError):
    """The ledger database is damaged (SQLite says "malformed"): restore it or start over."""


class LedgerUnavailableError(EnvironmentFailure):
    """The ledger database cannot be reached now (server down, connection lost, disk full)."""


class AccountBusyError(TransientError):
    """Another followup process (another container, a rolling deploy) is running this
    account's cycle on the same ledger; this one leaves the account alone for now."""


class WriteState(StrEnum):
    PENDING = "pending"  # due or not yet due, will be attempted
    DONE = "done"  # written (created, found by its key, or a contact annotated)
    DISMISSED = "dismissed"  # the user deleted what we wrote: final
    FAILED = "failed"  # gave up after too many attempts, or a permanent error
    REMOVED = "removed"  # undone by `followup undo`


@dataclass(frozen=True, slots=True)
class WriteRow:
    """One row of the writes table: an intent and what became of it."""

    key: str
    account: str
    kind: WriteKind
    state: WriteState
    payload: Payload
    due: datetime
    person: str
    meeting_uid: str
    occurrence: datetime | None
    touch: int
    attempts: int
    last_error: str | None
    remote_id: str | None
    fingerprint: str | None
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None
    retry_at: datetime | None
    outcome: str | None  # the last WriteOutcome or RemoveOutcome value, None before any
    # Attempts given back: they failed for the environment's reasons (disk full, network
    # down), so they do not count towards giving the write up. `attempts` still counts them:
    # any attempt may have reached the remote side, so the next one looks the key up first.
    spared: int = 0
    claim_owner: str | None = None  # the process writing it now (see Ledger.begin_attempt)
    claim_until: datetime | None = None  # when that claim lapses if never finished
    # Set on the row begin_attempt returns: this attempt took over a claim another process
    # left (it crashed, or its lease ran out), so the object may exist already.
    taken_over: bool = False

    def intent(self) -> WriteIntent:
        """The intent this row was recorded from."""
        return WriteIntent(
            key=self.key,
            kind=self.kind,
            payload=self.payload,
            due=self.due,
            person=self.person,
            meeting_uid=self.meeting_uid,
            occurrence=self.occurrence,
            touch=self.touch,
        )


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """What `followup status` shows for an account."""

    account: str
    needs_reconnect: bool
    last_sync: datetime | None  # end of the last cycle that completed
    last_error: str | None
    updated_at: datetime
    # Writes paused for the environment's sake (disk full, network down): not before this.
    backoff_until: datetime | None = None
    backoff_error: str | None = None
    backoff_count: int = 0  # consecutive environment failures, for the back-off's growth
    # When the ledger first completed a pass over this account's writes; before that the
    # ledger may be new in front of outputs an earlier ledger wrote (see docs/architecture.md).
    adopted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SkipRow:
    """Why a person (or a whole meeting, person "") got no follow-up, as `followup log` shows."""

    account: str
    meeting_uid: str
    occurrence: datetime
    title: str
    person: str
    code: str
    reason: str
    at: datetime
