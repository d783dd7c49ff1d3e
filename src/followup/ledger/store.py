"""The Ledger: what was seen and what was written, so every write happens exactly once.

Every public method is one transaction, committed before it returns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import Any, Literal

import structlog
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    and_,
    bindparam,
    case,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from followup.core.state import PersonState
from followup.ledger import codec, merge, schema
from followup.ledger.connect import make_engine
from followup.ledger.migrate import current_revision, upgrade_to_head
from followup.ledger.rows import (
    AccountStatus,
    LedgerError,
    WriteNotPendingError,
    WriteRow,
    WriteState,
)
from followup.model import (
    CalendarChanges,
    Meeting,
    RemoveOutcome,
    WriteIntent,
    WriteKind,
    WriteOutcome,
    WriteResult,
)

log = structlog.get_logger(__name__)

# After this many attempts a write that keeps failing is given up (state "failed").
MAX_ATTEMPTS = 8
# Error texts come from providers; keep the row small whatever they send.
_MAX_ERROR_CHARS = 2000
# Contact before draft before block: the draft and block refer to the person by name.
_KIND_ORDER = {WriteKind.CONTACT: 0, WriteKind.DRAFT: 1, WriteKind.BLOCK: 2}


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""Default of set_account_status's fields: leave the stored value as it is."""


def _system_clock() -> datetime:
    return datetime.now(UTC)


class Ledger:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _system_clock,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        """Use Ledger.open(); this assumes the schema is already at head."""
        self._engine = engine
        self._clock = clock
        self._max_attempts = max_attempts
        self._sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> Ledger:
        """Connect, creating or upgrading the schema. A SQLite file is created 0600 in a 0700
        directory. `clock` stamps created_at/updated_at/done_at (default: the system clock);
        it never decides what is due: callers pass `now` for that.
        Raises SchemaTooNewError for a database written by a newer followup."""
        engine = make_engine(url)
        try:
            upgrade_to_head(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock=clock or _system_clock, max_attempts=max_attempts)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def schema_version(self) -> str:
        with self._engine.connect() as conn:
            revision = current_revision(conn)
        if revision is None:
            raise LedgerError("the ledger database has no schema version")
        return revision

    # --- cursors -----------------------------------------------------------------------------

    def get_cursor(self, account: str, source: str) -> str | None:
        t = schema.cursors
        with self._engine.begin() as conn:
            return conn.scalar(
                select(t.c.cursor).where(t.c.account == account, t.c.source == source)
            )

    def set_cursor(self, account: str, source: str, cursor: str) -> None:
        row = {"account": account, "source": source, "cursor": cursor, "updated_at": self._clock()}
        with self._engine.begin() as conn:
            self._upsert(conn, schema.cursors, [row], ("account", "source"))

    # --- meetings ----------------------------------------------------------------------------

    def apply_changes(self, account: str, source: str, changes: CalendarChanges) -> None:
        """Store one source's changes: removals, then upserts; with `full`, this source's
        meetings that are not among the upserts are dropped. One transaction."""
        t = schema.meetings
        now = self._clock()
        latest: dict[tuple[str, datetime], Meeting] = {}
        for meeting in changes.upserts:  # a source repeating an occurrence: the last one wins
            latest[(meeting.uid, codec.utc(meeting.occurrence))] = meeting
        rows = [
            {
                "account": account,
                "source": source,
                "uid": uid,
                "occurrence": occurrence,
                "sequence": m.sequence,
                "starts_at": codec.utc(m.start),
                "ends_at": codec.utc(m.end),
                "data": codec.dump_meeting(m),
                "updated_at": now,
            }
            for (uid, occurrence), m in latest.items()
        ]
        whole = [{"b_uid": r.uid} for r in changes.removed if r.occurrence is None]
        single = [
            {"b_uid": r.uid, "b_occ": codec.utc(r.occurrence)}
            for r in changes.removed
            if r.occurrence is not None
        ]
        this_source = and_(t.c.account == account, t.c.source == source)
        by_uid = delete(t).where(this_source, t.c.uid == bindparam("b_uid"))
        with self._engine.begin() as conn:
            if whole:
                conn.execute(by_uid, whole)
            if single:
                conn.execute(by_uid.where(t.c.occurrence == bindparam("b_occ")), single)
            stale: list[dict[str, Any]] = []
            if changes.full:
                stored = conn.execute(select(t.c.uid, t.c.occurrence).where(this_source))
                stale = [
                    {"b_uid": uid, "b_occ": occ} for uid, occ in stored if (uid, occ) not in latest
                ]
                if stale:
                    conn.execute(by_uid.where(t.c.occurrence == bindparam("b_occ")), stale)
            if rows:
                # A source may report an older copy after a newer one (an invitation mail
                # re-read, a replayed delta): a lower SEQUENCE never replaces a higher one.
                self._upsert(
                    conn, t, rows, ("account", "source", "uid", "occurrence"),
                    only_if_not_older=True,
                )
        log.debug(
            "meetings stored",
            account=account,
            source=source,
            upserts=len(rows),
            removed=len(whole) + len(single),
            dropped=len(stale),
            full=changes.full,
        )

    def meetings(self, account: str, start: datetime, end: datetime) -> list[Meeting]:
        """Occurrences overlapping [start, end), one per (UID, occurrence) across sources:
        the higher SEQUENCE wins, then a calendar source over a mail source. A copy that
        wins but has moved out of the window hides the stale copies still inside it."""
        t = schema.meetings
        start, end = codec.utc(start), codec.utc(end)
        overlapping = (
            select(t.c.uid, t.c.occurrence)
            .where(
                t.c.account == account,
                t.c.starts_at < end,
                or_(
                    t.c.ends_at > start,
                    and_(t.c.ends_at == t.c.starts_at, t.c.starts_at >= start),
                ),
            )
            .distinct()
            .subquery()
        )
        query = select(t.c.uid, t.c.occurrence, t.c.source, t.c.sequence, t.c.data).join(
            overlapping,
            and_(
                t.c.account == account,
                t.c.uid == overlapping.c.uid,
                t.c.occurrence == overlapping.c.occurrence,
            ),
        )
        with self._engine.begin() as conn:
            copies = [merge.Copy(*row) for row in conn.execute(query)]
        found = [codec.load_meeting(c.data) for c in merge.winners(copies)]
        kept = [m for m in found if _overlaps(m, start, end)]
        return sorted(kept, key=lambda m: (m.start, m.uid, m.occurrence))

    def is_processed(self, account: str, meeting: Meeting) -> bool:
        t = schema.processed
        with self._engine.begin() as conn:
            hit = conn.scalar(
                select(t.c.uid).where(
                    t.c.account == account,
                    t.c.uid == meeting.uid,
                    t.c.occurrence == codec.utc(meeting.occurrence),
                )
            )
        return hit is not None

    def mark_processed(self, account: str, meeting: Meeting) -> None:
        row = {
            "account": account,
            "uid": meeting.uid,
            "occurrence": codec.utc(meeting.occurrence),
            "processed_at": self._clock(),
        }
        with self._engine.begin() as conn:
            keys = ("account", "uid", "occurrence")
            conn.execute(self._insert_new(schema.processed, keys), [row])

    def series_members(self, account: str, uid: str) -> frozenset[str] | None:
        """Who attended earlier occurrences of a series; None if the series is new."""
        s, sm = schema.series, schema.series_members
        with self._engine.begin() as conn:
            known = conn.scalar(select(s.c.uid).where(s.c.account == account, s.c.uid == uid))
            if known is None:
                return None
            emails = conn.scalars(
                select(sm.c.email).where(sm.c.account == account, sm.c.uid == uid)
            )
            return frozenset(emails)

    def add_series_members(self, account: str, uid: str, emails: Iterable[str]) -> None:
        """Remember a series (even with no members) and add people to it."""
        members = [{"account": account, "uid": uid, "email": e} for e in sorted(set(emails))]
        series_row = {"account": account, "uid": uid, "updated_at": self._clock()}
        with self._engine.begin() as conn:
            self._upsert(conn, schema.series, [series_row], ("account", "uid"))
            if members:
                keys = ("account", "uid", "email")
                conn.execute(self._insert_new(schema.series_members, keys), members)

    # --- people ------------------------------------------------------------------------------

    def person(self, account: str, email: str) -> PersonState | None:
        t = schema.people
        with self._engine.begin() as conn:
            row = conn.execute(
                select(t).where(t.c.account == account, t.c.email == email)
            ).one_or_none()
        return None if row is None else _person(row)

    def save_person(self, account: str, state: PersonState) -> None:
        row = {
            "account": account,
            "email": state.email,
            "name": state.name,
            "first_met": state.first_met,
            "last_meeting_title": state.last_meeting_title,
            "anchor": state.anchor,
            "touches": state.touches,
            "open_touch": state.open_touch,
            "updated_at": self._clock(),
        }
        with self._engine.begin() as conn:
            self._upsert(conn, schema.people, [row], ("account", "email"))

    def people(self, account: str) -> list[PersonState]:
        t = schema.people
        with self._engine.begin() as conn:
            rows = conn.execute(select(t).where(t.c.account == account).order_by(t.c.email))
            return [_person(row) for row in rows]

    # --- writes ------------------------------------------------------------------------------

    def record_intents(self, account: str, intents: Iterable[WriteIntent]) -> int:
        """Insert the intents whose key is new; an existing row is never touched (its state
        is history: done, dismissed...). Returns how many rows were new."""
        now = self._clock()
        rows: dict[str, dict[str, Any]] = {}
        for intent in intents:
            if codec.payload_kind(intent.payload) is not intent.kind:
                raise ValueError(f"write {intent.key}: a {intent.kind} with another payload")
            rows.setdefault(intent.key, _intent_row(account, intent, now))
        if not rows:
            return 0
        stmt = self._insert_new(schema.writes, ("key",)).returning(schema.writes.c.key)
        with self._engine.begin() as conn:
            new = conn.execute(stmt, list(rows.values())).all()
        return len(new)

    def pending(self, account: str, now: datetime) -> list[WriteRow]:
        """Writes to attempt now: pending, due, not waiting for a retry. Grouped by person
        (earliest due first), and within a person contact, then draft, then block."""
        t = schema.writes
        query = select(t).where(
            t.c.account == account,
            t.c.state == WriteState.PENDING.value,
            t.c.due <= now,
            or_(t.c.retry_at.is_(None), t.c.retry_at <= now),
        )
        with self._engine.begin() as conn:
            found = [_write_row(r) for r in conn.execute(query)]
        by_person: dict[str, list[WriteRow]] = defaultdict(list)
        for row in found:
            by_person[row.person].append(row)
        groups = [
            sorted(rows, key=lambda r: (_KIND_ORDER[r.kind], r.due, r.key))
            for rows in by_person.values()
        ]
        groups.sort(key=lambda rows: (min(r.due for r in rows), rows[0].person))
        return [row for rows in groups for row in rows]

    def next_due(self, account: str) -> datetime | None:
        """When the earliest pending write becomes attemptable (for the daemon's sleep)."""
        t = schema.writes
        query = select(t.c.due, t.c.retry_at).where(
            t.c.account == account, t.c.state == WriteState.PENDING.value
        )
        with self._engine.begin() as conn:
            times = [max(due, retry or due) for due, retry in conn.execute(query)]
        return min(times, default=None)

    def begin_attempt(self, key: str) -> WriteRow:
        """Count an attempt and commit it before the remote call, so that after a crash the
        next attempt knows to look the key up first (attempts > 1)."""
        t = schema.writes
        with self._engine.begin() as conn:
            counted = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.state == WriteState.PENDING.value)
                .values(attempts=t.c.attempts + 1, updated_at=self._clock())
            ).rowcount
            row = self._get_write(conn, key)
        if not counted:
            raise WriteNotPendingError(f"write {key} is {row.state}, not pending")
        return row

    def finish(self, key: str, result: WriteResult) -> None:
        """Record a write's outcome: DISMISSED is final, anything else is done."""
        t = schema.writes
        state = (
            WriteState.DISMISSED if result.outcome is WriteOutcome.DISMISSED else WriteState.DONE
        )
        now = self._clock()
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.state == WriteState.PENDING.value)
                .values(
                    state=state.value,
                    outcome=result.outcome.value,
                    remote_id=result.remote_id,
                    fingerprint=result.fingerprint,
                    last_error=None,
                    retry_at=None,
                    done_at=now,
                    updated_at=now,
                )
            ).rowcount
            if not changed:
                row = self._get_write(conn, key)
                log.warning("finish on a write that is not pending", key=key, state=row.state)

    def fail(
        self, key: str, error: str, retry_at: datetime | None, *, permanent: bool = False
    ) -> None:
        """Record a failed attempt. The write stays pending (not before `retry_at`, when
        given) until it has had max_attempts attempts, or at once if `permanent`."""
        t = schema.writes
        give_up_at = 0 if permanent else self._max_attempts
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.state == WriteState.PENDING.value)
                .values(
                    state=case(
                        (t.c.attempts >= give_up_at, WriteState.FAILED.value),
                        else_=WriteState.PENDING.value,
                    ),
                    last_error=error[:_MAX_ERROR_CHARS],
                    retry_at=retry_at,
                    updated_at=self._clock(),
                )
            ).rowcount
            if not changed:
                row = self._get_write(conn, key)
                log.warning("fail on a write that is not pending", key=key, state=row.state)
                return
            if self._get_write(conn, key).state is WriteState.FAILED:
                log.warning("write given up", key=key, error=error[:200])

    def writes(self, account: str, states: Collection[WriteState] | None = None) -> list[WriteRow]:
        """The account's writes, oldest first, optionally only those in `states`."""
        t = schema.writes
        query = select(t).where(t.c.account == account).order_by(t.c.created_at, t.c.key)
        if states is not None:
            query = query.where(t.c.state.in_([WriteState(s).value for s in states]))
        with self._engine.begin() as conn:
            return [_write_row(r) for r in conn.execute(query)]

    def write(self, key: str) -> WriteRow | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(schema.writes).where(schema.writes.c.key == key)).first()
        return None if row is None else _write_row(row)

    def mark_removed(self, key: str, outcome: RemoveOutcome) -> None:
        """Record an undo: REMOVED or GONE end the write (state removed, never attempted or
        recreated); KEPT (the user edited it) only notes the outcome."""
        t = schema.writes
        values: dict[str, Any] = {"outcome": outcome.value, "updated_at": self._clock()}
        if outcome is not RemoveOutcome.KEPT:
            values["state"] = WriteState.REMOVED.value
        with self._engine.begin() as conn:
            if not conn.execute(update(t).where(t.c.key == key).values(**values)).rowcount:
                raise LedgerError(f"no write with key {key}")

    # --- accounts ----------------------------------------------------------------------------

    def set_account_status(
        self,
        account: str,
        *,
        needs_reconnect: bool | Literal[_Unset.UNSET] = UNSET,
        last_sync: datetime | Literal[_Unset.UNSET] | None = UNSET,
        last_error: str | Literal[_Unset.UNSET] | None = UNSET,
    ) -> None:
        """Update the given fields of an account's status; the others keep their value."""
        given: dict[str, Any] = {
            name: value
            for name, value in (
                ("needs_reconnect", needs_reconnect),
                ("last_sync", last_sync),
                ("last_error", last_error),
            )
            if value is not UNSET
        }
        if isinstance(given.get("last_error"), str):
            given["last_error"] = given["last_error"][:_MAX_ERROR_CHARS]
        row = {
            "account": account,
            "needs_reconnect": False,
            "last_sync": None,
            "last_error": None,
            **given,
            "updated_at": self._clock(),
        }
        t = schema.accounts
        stmt = self._dialect_insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.account],
            set_={name: stmt.excluded[name] for name in [*given, "updated_at"]},
        )
        with self._engine.begin() as conn:
            conn.execute(stmt, [row])

    def account_status(self, account: str) -> AccountStatus | None:
        t = schema.accounts
        with self._engine.begin() as conn:
            row = conn.execute(select(t).where(t.c.account == account)).one_or_none()
        return None if row is None else _account_status(row)

    def account_statuses(self) -> list[AccountStatus]:
        t = schema.accounts
        with self._engine.begin() as conn:
            return [_account_status(r) for r in conn.execute(select(t).order_by(t.c.account))]

    # --- helpers -----------------------------------------------------------------------------

    def _dialect_insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        return sqlite.insert(table) if self._sqlite else postgresql.insert(table)

    def _insert_new(self, table: Table, keys: Sequence[str]) -> sqlite.Insert | postgresql.Insert:
        """INSERT ... ON CONFLICT DO NOTHING: the row is added only if its key is new."""
        return self._dialect_insert(table).on_conflict_do_nothing(
            index_elements=[table.c[k] for k in keys]
        )

    def _upsert(
        self,
        conn: Connection,
        table: Table,
        rows: list[dict[str, Any]],
        keys: Sequence[str],
        *,
        only_if_not_older: bool = False,
    ) -> None:
        """Insert, or replace every non-key column of the existing row. Batched.

        With `only_if_not_older`, an existing row whose `sequence` is higher is kept.
        """
        stmt = self._dialect_insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
            where=table.c.sequence <= stmt.excluded.sequence if only_if_not_older else None,
        )
        conn.execute(stmt, rows)

    def _get_write(self, conn: Connection, key: str) -> WriteRow:
        row = conn.execute(select(schema.writes).where(schema.writes.c.key == key)).first()
        if row is None:
            raise LedgerError(f"no write with key {key}")
        return _write_row(row)


def _overlaps(m: Meeting, start: datetime, end: datetime) -> bool:
    if m.start == m.end:  # an instant belongs to [start, end) like a point would
        return start <= m.start < end
    return m.start < end and m.end > start


def _intent_row(account: str, intent: WriteIntent, now: datetime) -> dict[str, Any]:
    return {
        "key": intent.key,
        "account": account,
        "kind": intent.kind.value,
        "state": WriteState.PENDING.value,
        "payload": codec.dump_payload(intent.payload),
        "due": codec.utc(intent.due),
        "person": intent.person,
        "meeting_uid": intent.meeting_uid,
        "occurrence": None if intent.occurrence is None else codec.utc(intent.occurrence),
        "touch": intent.touch,
        "attempts": 0,
        "last_error": None,
        "remote_id": None,
        "fingerprint": None,
        "outcome": None,
        "created_at": now,
        "updated_at": now,
        "done_at": None,
        "retry_at": None,
    }


def _write_row(row: Row[Any]) -> WriteRow:
    kind = WriteKind(row.kind)
    return WriteRow(
        key=row.key,
        account=row.account,
        kind=kind,
        state=WriteState(row.state),
        payload=codec.load_payload(kind, row.payload),
        due=row.due,
        person=row.person,
        meeting_uid=row.meeting_uid,
        occurrence=row.occurrence,
        touch=row.touch,
        attempts=row.attempts,
        last_error=row.last_error,
        remote_id=row.remote_id,
        fingerprint=row.fingerprint,
        created_at=row.created_at,
        updated_at=row.updated_at,
        done_at=row.done_at,
        retry_at=row.retry_at,
        outcome=row.outcome,
    )


def _person(row: Row[Any]) -> PersonState:
    return PersonState(
        email=row.email,
        name=row.name,
        first_met=row.first_met,
        last_meeting_title=row.last_meeting_title,
        anchor=row.anchor,
        touches=row.touches,
        open_touch=row.open_touch,
    )


def _account_status(row: Row[Any]) -> AccountStatus:
    return AccountStatus(
        account=row.account,
        needs_reconnect=row.needs_reconnect,
        last_sync=row.last_sync,
        last_error=row.last_error,
        updated_at=row.updated_at,
    )
