"""The Ledger: what was seen and what was written, so every write happens exactly once.

Every public method is one transaction, committed before it returns.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
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
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from followup.core.state import PersonState
from followup.ledger import codec, merge, schema
from followup.ledger.connect import make_engine
from followup.ledger.migrate import (
    current_revision,
    head_revision,
    known_revision,
    upgrade_to_head,
)
from followup.ledger.offers import OffersMixin
from followup.ledger.people import PeopleMixin, person_from_row, person_row
from followup.ledger.rows import (
    AccountBusyError,
    AccountStatus,
    LedgerCorruptError,
    LedgerError,
    SkipRow,
    WriteClaimedError,
    WriteNotPendingError,
    WriteRow,
    WriteState,
)
from followup.model import (
    CalendarChanges,
    Meeting,
    RemoveOutcome,
    Skip,
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
# How long a claim on a write holds when its process never finishes it. Longer than any one
# provider call with its own retries; a claim whose process is known dead (same host) is
# taken over at once, so this delay only applies to a process that vanished elsewhere.
CLAIM_LEASE = timedelta(minutes=15)
# Namespace of followup's per-account advisory locks (PostgreSQL), any constant.
_PG_ACCOUNT_LOCKS = 0x66757031


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return str(Path("/proc/self/ns/pid").stat().st_ino)
    except OSError:
        return ""


_IDENTITY: dict[int, str] = {}


def process_identity() -> str:
    """Who claims a write: host, boot, PID namespace, pid and a random part, "|"-separated.

    Boot id and PID namespace say whether a claim's pid can be checked from here (same
    kernel, same namespace: two containers on one host differ); the random part tells this
    process from an earlier one with the same pid (pid 1 in a restarted container). One
    identity per process (a forked child gets its own)."""
    pid = os.getpid()
    if pid not in _IDENTITY:
        host = socket.gethostname().replace("|", "_")
        boot = _read("/proc/sys/kernel/random/boot_id")
        _IDENTITY[pid] = f"{host}|{boot}|{_pid_namespace()}|{pid}|{uuid.uuid4().hex[:12]}"
    return _IDENTITY[pid]


def _owner_is_dead(owner: str, me: str) -> bool:
    """Whether the process that made `owner` is certainly gone. Unknown counts as alive."""
    theirs, mine = owner.split("|"), me.split("|")
    if len(theirs) != 5 or len(mine) != 5:
        return False
    if not theirs[1] or theirs[1:3] != mine[1:3]:
        return False  # another host, boot or container: cannot tell, wait for the lease
    if theirs[3] == mine[3]:
        return theirs[4] != mine[4]  # our pid, but not us: an earlier process, now gone
    try:
        os.kill(int(theirs[3]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, OverflowError):
        return False
    return False


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""Default of set_account_status's fields: leave the stored value as it is."""


def _system_clock() -> datetime:
    return datetime.now(UTC)


class Ledger(OffersMixin, PeopleMixin):
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _system_clock,
        max_attempts: int = MAX_ATTEMPTS,
        owner: str | None = None,
        lease: timedelta = CLAIM_LEASE,
    ) -> None:
        """Use Ledger.open(); this assumes the schema is already at head."""
        self._engine = engine
        self._clock = clock
        self._max_attempts = max_attempts
        self._sqlite = engine.dialect.name == "sqlite"
        self.owner = owner or process_identity()
        self._lease = lease

    @classmethod
    def open(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        owner: str | None = None,
        lease: timedelta = CLAIM_LEASE,
    ) -> Ledger:
        """Connect, creating or upgrading the schema. A SQLite file is created 0600 in a 0700
        directory. `clock` stamps created_at/updated_at/done_at (default: the system clock);
        it never decides what is due: callers pass `now` for that. `owner` names this
        process in write claims (default: process_identity()).
        Raises SchemaTooNewError for a database written by a newer followup, and
        LedgerCorruptError for a damaged SQLite file (checked with PRAGMA quick_check, which
        reads the file once: a damaged ledger fails here with one clear error instead of
        halfway through a cycle)."""
        engine = make_engine(url)
        try:
            upgrade_to_head(engine)
            if engine.dialect.name == "sqlite":
                problems = _sqlite_check(engine, "quick_check")
                if problems:
                    raise LedgerCorruptError(
                        f"the ledger database is damaged ({problems[0]}); run `followup doctor`"
                    )
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock=clock or _system_clock, max_attempts=max_attempts,
                   owner=owner, lease=lease)

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

    def integrity_problems(self) -> list[str]:
        """What is wrong with the database itself, [] when nothing: SQLite's full
        `PRAGMA integrity_check`; on PostgreSQL a cheap query over every table and the schema
        version. For `followup doctor`; never raises for a damaged or unreachable ledger."""
        return integrity_problems(self._engine)

    @contextmanager
    def account_lock(self, account: str) -> Iterator[None]:
        """Hold the right to run `account`'s cycle, or raise AccountBusyError at once.

        PostgreSQL: a session advisory lock on (schema, account), held on a connection of its
        own for the duration (this thread's ledger transactions run on it meanwhile: see
        ledger/transactions.py), so two processes sharing the database (two containers, a
        rolling deploy) never run one account at the same time; it goes away with the
        session if the process dies. SQLite: a no-op, the state dir's file lock already
        keeps one process per ledger file. Write claims (begin_attempt) guard each write
        in either case."""
        if self._sqlite:
            yield
            return
        lock_args = {"ns": _PG_ACCOUNT_LOCKS, "name": account}
        key = "hashtext(current_schema() || '/' || :name)"
        conn = self._engine.connect()
        try:
            got = conn.scalar(text(f"SELECT pg_try_advisory_lock(:ns, {key})"), lock_args)
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            raise AccountBusyError(
                f"another followup process is running account {account} on this ledger; "
                "this one leaves it alone until that one stops"
            )
        try:
            with self._pinned(conn):  # the cycle's transactions run on the lock's session
                yield
        finally:
            try:
                if conn.in_transaction():  # a transaction cut short by an exception
                    conn.rollback()
                conn.execute(text(f"SELECT pg_advisory_unlock(:ns, {key})"), lock_args)
                conn.commit()
            except Exception:  # the session is gone, and its lock with it
                conn.invalidate()
            finally:
                conn.close()

    def schema_version(self) -> str:
        with self._engine.connect() as conn:
            revision = current_revision(conn)
        if revision is None:
            raise LedgerError("the ledger database has no schema version")
        return revision

    # --- cursors -----------------------------------------------------------------------------

    def get_cursor(self, account: str, source: str) -> str | None:
        t = schema.cursors
        with self._begin() as conn:
            return conn.scalar(
                select(t.c.cursor).where(t.c.account == account, t.c.source == source)
            )

    def set_cursor(self, account: str, source: str, cursor: str) -> None:
        row = {"account": account, "source": source, "cursor": cursor, "updated_at": self._clock()}
        with self._begin() as conn:
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
        with self._begin() as conn:
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
            "ledger.meetings_stored",
            account=account,
            source=source,
            upserts=len(rows),
            removed=len(whole) + len(single),
            dropped=len(stale),
            full=changes.full,
        )

    def meetings(self, account: str, start: datetime, end: datetime) -> list[Meeting]:
        """Occurrences overlapping [start, end), one per (UID, occurrence) across sources:
        a calendar source over a mail source, then the higher SEQUENCE (merge.winners). A copy that
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
        with self._begin() as conn:
            copies = [merge.Copy(*row) for row in conn.execute(query)]
        found = [codec.load_meeting(c.data) for c in merge.winners(copies)]
        kept = [m for m in found if _overlaps(m, start, end)]
        return sorted(kept, key=lambda m: (m.start, m.uid, m.occurrence))

    def is_processed(self, account: str, meeting: Meeting) -> bool:
        t = schema.processed
        with self._begin() as conn:
            hit = conn.scalar(
                select(t.c.uid).where(
                    t.c.account == account,
                    t.c.uid == meeting.uid,
                    t.c.occurrence == codec.utc(meeting.occurrence),
                )
            )
        return hit is not None

    def processed_in(
        self, account: str, start: datetime, end: datetime
    ) -> set[tuple[str, datetime]]:
        """(UID, occurrence) of every processed meeting whose occurrence (its original start)
        lies in [start, end], in one query: what `is_processed` says for each of them."""
        t = schema.processed
        query = select(t.c.uid, t.c.occurrence).where(
            t.c.account == account,
            t.c.occurrence >= codec.utc(start),
            t.c.occurrence <= codec.utc(end),
        )
        with self._begin() as conn:
            return {(uid, codec.utc(occurrence)) for uid, occurrence in conn.execute(query)}

    def mark_processed(self, account: str, meeting: Meeting) -> None:
        row = {
            "account": account,
            "uid": meeting.uid,
            "occurrence": codec.utc(meeting.occurrence),
            "processed_at": self._clock(),
        }
        with self._begin() as conn:
            keys = ("account", "uid", "occurrence")
            conn.execute(self._insert_new(schema.processed, keys), [row])

    def series_members(self, account: str, uid: str) -> frozenset[str] | None:
        """Who attended earlier occurrences of a series; None if the series is new."""
        s, sm = schema.series, schema.series_members
        with self._begin() as conn:
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
        with self._begin() as conn:
            self._upsert(conn, schema.series, [series_row], ("account", "uid"))
            if members:
                keys = ("account", "uid", "email")
                conn.execute(self._insert_new(schema.series_members, keys), members)

    # --- people ------------------------------------------------------------------------------

    def person(self, account: str, email: str) -> PersonState | None:
        t = schema.people
        with self._begin() as conn:
            row = conn.execute(
                select(t).where(t.c.account == account, t.c.email == email)
            ).one_or_none()
        return None if row is None else _person(row)

    def save_person(self, account: str, state: PersonState) -> None:
        row = person_row(account, state, self._clock())
        with self._begin() as conn:
            self._upsert(conn, schema.people, [row], ("account", "email"))

    def people(self, account: str) -> list[PersonState]:
        t = schema.people
        with self._begin() as conn:
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
        with self._begin() as conn:
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
        with self._begin() as conn:
            found = [_write_row(r) for r in conn.execute(query)]
        by_person: dict[str, list[WriteRow]] = defaultdict(list)
        for row in found:
            by_person[row.person].append(row)
        groups = [
            sorted(rows, key=lambda r: (_KIND_ORDER[r.kind], r.due, r.key))
            for rows in by_person.values()
        ]
        # Blocks shared by several people (person "") come after every draft, so that the
        # drafts they link to exist when they are written.
        groups.sort(key=lambda rows: (rows[0].person == "", min(r.due for r in rows),
                                      rows[0].person))
        return [row for rows in groups for row in rows]

    def next_due(self, account: str) -> datetime | None:
        """When the earliest pending write becomes attemptable (for the daemon's sleep)."""
        t = schema.writes
        query = select(t.c.due, t.c.retry_at).where(
            t.c.account == account, t.c.state == WriteState.PENDING.value
        )
        with self._begin() as conn:
            times = [max(due, retry or due) for due, retry in conn.execute(query)]
            paused = conn.scalar(
                select(schema.accounts.c.backoff_until).where(
                    schema.accounts.c.account == account)
            )
        earliest = min(times, default=None)
        if earliest is not None and paused is not None:
            earliest = max(earliest, paused)  # writes wait for the environment's back-off
        return earliest

    def begin_attempt(self, key: str) -> WriteRow:
        """Claim the write for this process and count an attempt, committed before the
        remote call, so that after a crash the next attempt knows to look the key up first
        (attempts > 1).

        The claim (owner, lease) keeps any other process from attempting the write while
        this one may be writing it: WriteClaimedError. A claim is taken over when its lease
        ran out or its process is known dead; the row returned then says `taken_over`, and
        the object may exist already. WriteNotPendingError when the write is not pending."""
        t = schema.writes
        now = self._clock()
        with self._begin() as conn:
            row = self._get_write(conn, key)
            if row.state is not WriteState.PENDING:
                raise WriteNotPendingError(f"write {key} is {row.state}, not pending")
            previous = row.claim_owner
            taken_over = previous is not None and previous != self.owner
            if taken_over and not self._claim_lapsed(row, now):
                raise WriteClaimedError(
                    f"write {key} is being written by another process until "
                    f"{row.claim_until:%Y-%m-%d %H:%M:%S}Z"
                )
            same_claim = t.c.claim_owner.is_(None) if previous is None else (
                t.c.claim_owner == previous)
            counted = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.state == WriteState.PENDING.value, same_claim)
                .values(attempts=t.c.attempts + 1, claim_owner=self.owner,
                        claim_until=now + self._lease, updated_at=now)
            ).rowcount
            if not counted:  # another process claimed it between our read and our update
                raise WriteClaimedError(f"write {key} was claimed by another process")
            row = self._get_write(conn, key)
        if taken_over:
            log.warning("write.claim_taken_over", key=key, previous_owner=previous)
        return _replace_row(row, taken_over=taken_over)

    def release(self, key: str) -> None:
        """Give up this process's claim on a write without recording an attempt's outcome
        (the account needs reconnecting): another process may take the write at once."""
        t = schema.writes
        with self._begin() as conn:
            conn.execute(update(t).where(t.c.key == key, t.c.claim_owner == self.owner)
                         .values(claim_owner=None, claim_until=None))

    def _claim_lapsed(self, row: WriteRow, now: datetime) -> bool:
        if row.claim_owner is None:
            return True
        if row.claim_until is None or row.claim_until <= now:
            return True
        return _owner_is_dead(row.claim_owner, self.owner)

    def finish(self, key: str, result: WriteResult) -> None:
        """Record a write's outcome: DISMISSED is final, anything else is done."""
        t = schema.writes
        state = (
            WriteState.DISMISSED if result.outcome is WriteOutcome.DISMISSED else WriteState.DONE
        )
        now = self._clock()
        with self._begin() as conn:
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
                    claim_owner=None,
                    claim_until=None,
                )
            ).rowcount
            if not changed:
                row = self._get_write(conn, key)
                log.warning("write.finish_not_pending", key=key, state=row.state)

    def fail(
        self,
        key: str,
        error: str,
        retry_at: datetime | None,
        *,
        permanent: bool = False,
        environment: bool = False,
    ) -> None:
        """Record a failed attempt and release the claim. The write stays pending (not
        before `retry_at`, when given) until it has had max_attempts attempts, or is failed
        at once if `permanent`. With `environment` the attempt is given back (`spared`): the
        host or network failed, not the write, and the write is never given up for it."""
        t = schema.writes
        give_up_at = 0 if permanent else self._max_attempts
        spared = t.c.spared + 1 if environment else t.c.spared
        if environment:
            state: Any = WriteState.PENDING.value
        else:
            state = case(
                (t.c.attempts - t.c.spared >= give_up_at, WriteState.FAILED.value),
                else_=WriteState.PENDING.value,
            )
        with self._begin() as conn:
            changed = conn.execute(
                update(t)
                .where(t.c.key == key, t.c.state == WriteState.PENDING.value)
                .values(
                    state=state,
                    spared=spared,
                    last_error=error[:_MAX_ERROR_CHARS],
                    retry_at=retry_at,
                    updated_at=self._clock(),
                    claim_owner=None,
                    claim_until=None,
                )
            ).rowcount
            if not changed:
                row = self._get_write(conn, key)
                log.warning("write.fail_not_pending", key=key, state=row.state)
                return
            if self._get_write(conn, key).state is WriteState.FAILED:
                log.warning("write.given_up", key=key, error=error[:200])

    def retry(self, account: str | None = None, *, failed: bool = False) -> int:
        """`followup retry`: pending writes become due now (their retry wait dropped) and the
        account's environment back-off is cleared; with `failed`, writes that were given up
        are pending again with their full budget of attempts (they still look their key up
        first: an earlier attempt may have written them). Returns how many writes changed."""
        t = schema.writes
        a = schema.accounts
        now = self._clock()
        which = [] if account is None else [t.c.account == account]
        with self._begin() as conn:
            changed = conn.execute(
                update(t)
                .where(*which, t.c.state == WriteState.PENDING.value, t.c.retry_at.is_not(None))
                .values(retry_at=None, updated_at=now)
            ).rowcount
            if failed:
                changed += conn.execute(
                    update(t)
                    .where(*which, t.c.state == WriteState.FAILED.value)
                    .values(state=WriteState.PENDING.value, spared=t.c.attempts, retry_at=None,
                            updated_at=now)
                ).rowcount
            conn.execute(
                update(a)
                .where(*([] if account is None else [a.c.account == account]))
                .values(backoff_until=None, backoff_error=None, backoff_count=0)
            )
        return changed

    def first_touch_writes(self, account: str, since: datetime) -> list[WriteRow]:
        """First-touch drafts and blocks due since `since` (the planner's batching looks at
        which recent drafts no block lists yet)."""
        return self.recent_writes(account, since, (WriteKind.DRAFT, WriteKind.BLOCK), touch=0)

    def recent_writes(
        self,
        account: str,
        since: datetime,
        kinds: Collection[WriteKind],
        *,
        touch: int | None = None,
        states: Collection[WriteState] | None = None,
    ) -> list[WriteRow]:
        """Writes of these kinds due since `since`, by due time: what planning needs of the
        recent past without reading the account's whole history every cycle."""
        t = schema.writes
        query = select(t).where(
            t.c.account == account,
            t.c.kind.in_([WriteKind(k).value for k in kinds]),
            t.c.due >= codec.utc(since),
        ).order_by(t.c.due, t.c.key)
        if touch is not None:
            query = query.where(t.c.touch == touch)
        if states is not None:
            query = query.where(t.c.state.in_([WriteState(s).value for s in states]))
        with self._begin() as conn:
            return [_write_row(r) for r in conn.execute(query)]

    def writes(self, account: str, states: Collection[WriteState] | None = None) -> list[WriteRow]:
        """The account's writes, oldest first, optionally only those in `states`."""
        t = schema.writes
        query = select(t).where(t.c.account == account).order_by(t.c.created_at, t.c.key)
        if states is not None:
            query = query.where(t.c.state.in_([WriteState(s).value for s in states]))
        with self._begin() as conn:
            return [_write_row(r) for r in conn.execute(query)]

    def meeting_writes(
        self, account: str, meeting_uid: str, occurrence: datetime | None
    ) -> list[WriteRow]:
        """The account's writes about one meeting occurrence (its contacts, drafts, block)."""
        t = schema.writes
        same = (t.c.occurrence.is_(None) if occurrence is None
                else t.c.occurrence == codec.utc(occurrence))
        query = select(t).where(t.c.account == account, t.c.meeting_uid == meeting_uid, same)
        with self._begin() as conn:
            return [_write_row(r) for r in conn.execute(query.order_by(t.c.key))]

    def write(self, key: str) -> WriteRow | None:
        with self._begin() as conn:
            row = conn.execute(select(schema.writes).where(schema.writes.c.key == key)).first()
        return None if row is None else _write_row(row)

    def mark_removed(self, key: str, outcome: RemoveOutcome) -> None:
        """Record an undo: REMOVED or GONE end the write (state removed, never attempted or
        recreated); KEPT (the user edited it) only notes the outcome."""
        t = schema.writes
        values: dict[str, Any] = {"outcome": outcome.value, "updated_at": self._clock()}
        if outcome is not RemoveOutcome.KEPT:
            values["state"] = WriteState.REMOVED.value
        with self._begin() as conn:
            if not conn.execute(update(t).where(t.c.key == key).values(**values)).rowcount:
                raise LedgerError(f"no write with key {key}")

    # --- skips and history ---------------------------------------------------------------------

    def record_skips(self, account: str, meeting: Meeting, skips: Iterable[Skip]) -> None:
        """Keep why people of a processed meeting got no follow-up (`followup log`). A skip
        already stored for the same meeting, person and code is kept as it was."""
        now = self._clock()
        rows = {
            (s.email, s.code): {
                "account": account,
                "meeting_uid": meeting.uid,
                "occurrence": codec.utc(meeting.occurrence),
                "title": meeting.title,
                "person": s.email,
                "code": s.code,
                "reason": s.reason,
                "at": now,
            }
            for s in skips
        }
        if not rows:
            return
        keys = ("account", "meeting_uid", "occurrence", "person", "code")
        with self._begin() as conn:
            conn.execute(self._insert_new(schema.skips, keys), list(rows.values()))

    def skips(self, account: str, since: datetime | None = None) -> list[SkipRow]:
        """The account's stored skips, oldest first, optionally only those from `since`."""
        t = schema.skips
        query = select(t).where(t.c.account == account).order_by(
            t.c.at, t.c.meeting_uid, t.c.occurrence, t.c.person, t.c.code)
        if since is not None:
            query = query.where(t.c.at >= since)
        with self._begin() as conn:
            return [SkipRow(r.account, r.meeting_uid, r.occurrence, r.title, r.person, r.code,
                            r.reason, r.at) for r in conn.execute(query)]

    def meeting_titles(self, account: str) -> dict[tuple[str, datetime], str]:
        """(uid, occurrence) -> title of the meetings the ledger still holds."""
        t = schema.meetings
        query = select(t.c.uid, t.c.occurrence, t.c.data).where(t.c.account == account)
        titles: dict[tuple[str, datetime], str] = {}
        with self._begin() as conn:
            for uid, occurrence, data in conn.execute(query):
                title = data.get("title") if isinstance(data, dict) else None
                if isinstance(title, str) and title:
                    titles[(uid, occurrence)] = title
        return titles

    # --- accounts ----------------------------------------------------------------------------

    def set_account_status(
        self,
        account: str,
        *,
        needs_reconnect: bool | Literal[_Unset.UNSET] = UNSET,
        last_sync: datetime | Literal[_Unset.UNSET] | None = UNSET,
        last_error: str | Literal[_Unset.UNSET] | None = UNSET,
        backoff_until: datetime | Literal[_Unset.UNSET] | None = UNSET,
        backoff_error: str | Literal[_Unset.UNSET] | None = UNSET,
        backoff_count: int | Literal[_Unset.UNSET] = UNSET,
        adopted_at: datetime | Literal[_Unset.UNSET] | None = UNSET,
    ) -> None:
        """Update the given fields of an account's status; the others keep their value."""
        given: dict[str, Any] = {
            name: value
            for name, value in (
                ("needs_reconnect", needs_reconnect),
                ("last_sync", last_sync),
                ("last_error", last_error),
                ("backoff_until", backoff_until),
                ("backoff_error", backoff_error),
                ("backoff_count", backoff_count),
                ("adopted_at", adopted_at),
            )
            if value is not UNSET
        }
        for name in ("last_error", "backoff_error"):
            if isinstance(given.get(name), str):
                given[name] = given[name][:_MAX_ERROR_CHARS]
        row = {
            "account": account,
            "needs_reconnect": False,
            "last_sync": None,
            "last_error": None,
            "backoff_until": None,
            "backoff_error": None,
            "backoff_count": 0,
            "adopted_at": None,
            **given,
            "updated_at": self._clock(),
        }
        t = schema.accounts
        stmt = self._dialect_insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.account],
            set_={name: stmt.excluded[name] for name in [*given, "updated_at"]},
        )
        with self._begin() as conn:
            conn.execute(stmt, [row])

    def pause_account(self, account: str, error: str, until: datetime) -> None:
        """Hold the account's writes until `until`: the environment failed (disk full,
        network down). Counts consecutive pauses, for the back-off's growth."""
        status = self.account_status(account)
        count = (status.backoff_count if status else 0) + 1
        self.set_account_status(account, backoff_until=until, backoff_error=error,
                                backoff_count=count)

    def resume_account(self, account: str) -> None:
        """A write went through: the environment is back, the back-off starts over."""
        status = self.account_status(account)
        if status is not None and (status.backoff_count or status.backoff_until):
            self.set_account_status(account, backoff_until=None, backoff_error=None,
                                    backoff_count=0)

    def adopting(self, account: str) -> bool:
        """Whether this ledger has yet to complete a pass over the account's writes: it may
        be new (lost, emptied, replaced) in front of objects an earlier ledger wrote, so
        every write looks its key up first (engine.apply, docs/architecture.md)."""
        status = self.account_status(account)
        return status is None or status.adopted_at is None

    def mark_adopted(self, account: str) -> None:
        if self.adopting(account):
            self.set_account_status(account, adopted_at=self._clock())

    def account_status(self, account: str) -> AccountStatus | None:
        t = schema.accounts
        with self._begin() as conn:
            row = conn.execute(select(t).where(t.c.account == account)).one_or_none()
        return None if row is None else _account_status(row)

    def account_statuses(self) -> list[AccountStatus]:
        t = schema.accounts
        with self._begin() as conn:
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
        spared=row.spared,
        claim_owner=row.claim_owner,
        claim_until=row.claim_until,
    )


def _replace_row(row: WriteRow, **changes: Any) -> WriteRow:
    from dataclasses import replace

    return replace(row, **changes)


def _person(row: Row[Any]) -> PersonState:
    return person_from_row(row)


def _account_status(row: Row[Any]) -> AccountStatus:
    return AccountStatus(
        account=row.account,
        needs_reconnect=row.needs_reconnect,
        last_sync=row.last_sync,
        last_error=row.last_error,
        updated_at=row.updated_at,
        backoff_until=row.backoff_until,
        backoff_error=row.backoff_error,
        backoff_count=row.backoff_count,
        adopted_at=row.adopted_at,
    )


def _sqlite_check(engine: Engine, pragma: str) -> list[str]:
    """SQLite's own check of the file: [] when it says "ok", else what it found, one line
    each (a row may hold several lines, headed "*** in database main ***")."""
    with engine.connect() as conn:
        found = [str(r[0]) for r in conn.exec_driver_sql(f"PRAGMA {pragma}")]
    if found == ["ok"]:
        return []
    lines = [line.strip() for row in found for line in row.splitlines()]
    return [line for line in lines if line and not line.startswith("***")] or ["damaged"]


def integrity_problems(engine: Engine) -> list[str]:
    """See Ledger.integrity_problems; usable on an engine that was never migrated."""
    problems: list[str] = []
    try:
        if engine.dialect.name == "sqlite":
            problems += [f"integrity check: {p}" for p in _sqlite_check(
                engine, "integrity_check")[:10]]
        with engine.connect() as conn:
            revision = current_revision(conn)
            if revision is not None:
                for table in schema.metadata.sorted_tables:
                    conn.execute(select(table).limit(1)).all()
    except Exception as e:  # a damaged file or a dead server: that is the finding
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return [*problems, f"cannot be read: {type(e).__name__}: {first}"]
    if revision is not None and revision != head_revision() and not known_revision(revision):
        problems.append(f"has schema revision {revision!r}, unknown to this followup "
                        "(written by a newer one?)")
    return problems
