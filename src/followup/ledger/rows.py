"""What the ledger hands back: write rows, account status, and its own errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from followup.errors import FollowupError
from followup.model import Payload, WriteIntent, WriteKind


class LedgerError(FollowupError):
    """The ledger cannot be used as asked (unknown key, schema from a newer followup...)."""


class SchemaTooNewError(LedgerError):
    """The database was migrated by a newer followup; this one must not touch it."""


class WriteNotPendingError(LedgerError):
    """An attempt was asked for a write that is no longer pending (done, dismissed...)."""


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
