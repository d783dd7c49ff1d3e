"""Exactly-once writes: apply an account's pending writes from the ledger to its provider.

For each pending write, in the ledger's order (contacts, then drafts, then blocks):

1. ``ledger.begin_attempt(key)`` counts the attempt and COMMITS, before the remote call;
2. ``target.ensure(key, payload, recovering=attempts > 1)`` writes the object with its key;
3. ``ledger.finish(key, result)`` records the outcome and remote id, and commits.

A crash between 1 and 3 leaves the row pending, and its next attempt has ``attempts > 1``, so the
provider looks the key up before writing again: the object exists once, whatever happened to
the process or to the response. ``begin_attempt`` also claims the write for this process
(owner and lease): another process sharing the ledger cannot attempt it meanwhile, and one
that takes over a lapsed claim looks the key up first too.

Failures, by whose fault they are:

- the environment's (errors.environment_failure: a full or read-only disk, an output folder
  we may not write, the network or the ledger down): the attempt is given back, the whole
  account's writes pause with a growing back-off (1 minute to 1 hour), and the pass ends;
  no write is ever given up for it;
- an InputError (the write's own data cannot be written): failed at once, with the reason;
- anything else: recorded with ``ledger.fail`` and a retry time; the ledger gives the write
  up after its max_attempts (``followup retry --failed`` brings it back);
- an AuthError ends the account's cycle (the caller marks the account "needs reconnect").

Adoption: while the ledger has not completed a pass over the account's writes
(``ledger.adopting``: a new, emptied or replaced ledger), it may face objects an earlier
ledger wrote, so every write looks its key up first, and a draft or block whose person's
contact from the same meeting was found already there (written before this ledger) but
which is itself missing was deleted by the user: it is recorded as dismissed, not written
again. See docs/architecture.md, "Exactly once".

Test hook (used by tests/test_crash_safety.py, harmless when unset): the environment variable
``FOLLOWUP_TEST_KILL_AT="<point>:<n>"`` makes the process SIGKILL itself the n-th time (counting
from 1, across all writes of the process) it passes <point>:

- ``before_write``: after ``begin_attempt`` has committed, before ``target.ensure``;
- ``after_write``: after ``target.ensure`` returned, before ``ledger.finish``.

It is read once, when this module is imported.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Never

import structlog

from followup import metrics
from followup.engine.links import with_draft_links
from followup.errors import (
    AuthError,
    EnvironmentFailure,
    InputError,
    ProviderError,
    TransientError,
    environment_failure,
)
from followup.ledger import Ledger, WriteState
from followup.ledger.rows import WriteNotPendingError, WriteRow
from followup.model import (
    BlockPayload,
    ContactPayload,
    DraftPayload,
    RemoteState,
    WriteKind,
    WriteOutcome,
    WriteResult,
)
from followup.protocols import Account, Target

log = structlog.get_logger(__name__)

KILL_ENV = "FOLLOWUP_TEST_KILL_AT"
KILL_POINTS = ("before_write", "after_write")

# A failed write backs off exponentially from a minute up to six hours between attempts; the
# ledger gives it up after its max_attempts.
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
# An account whose environment failed (disk full, network down) pauses its writes from a
# minute up to an hour: soon enough to notice the fix, rarely enough not to hammer.
FIRST_PAUSE = timedelta(minutes=1)
MAX_PAUSE = timedelta(hours=1)

Hook = Callable[[str, WriteRow], None]
"""Called with the point name ("before_write", "after_write") and the row; for tests."""


class _KillSwitch:
    """The FOLLOWUP_TEST_KILL_AT test hook (see the module docstring)."""

    def __init__(self, spec: str | None) -> None:
        self.point: str | None = None
        self.nth = 0
        self.passed = 0
        if spec:
            point, _, nth = spec.partition(":")
            if point not in KILL_POINTS or not nth.isdigit() or int(nth) < 1:
                raise ValueError(f"{KILL_ENV}={spec!r}: expected <point>:<n>, point one of "
                                 f"{', '.join(KILL_POINTS)}")
            self.point, self.nth = point, int(nth)

    def passing(self, point: str) -> None:
        if point != self.point:
            return
        self.passed += 1
        if self.passed == self.nth:
            os.kill(os.getpid(), signal.SIGKILL)


_KILL = _KillSwitch(os.environ.get(KILL_ENV))


@dataclass
class ApplyReport:
    """What one pass over the pending writes did."""

    outcomes: Counter[tuple[WriteKind, str]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stopped: bool = False  # stop() asked for an early end; the rest stays pending
    paused_until: datetime | None = None  # the environment failed: no writes before this

    def count(self, kind: WriteKind, outcome: str) -> int:
        return self.outcomes[(kind, outcome)]

    @property
    def attempted(self) -> int:
        return sum(self.outcomes.values())


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff by attempt, with "equal jitter" so that many writes that failed
    together do not all come back at once; never sooner than the server's Retry-After.

    Hand-written rather than tenacity's: the wait spans processes (it is stored in the ledger
    as a retry time), while tenacity's strategies expect its own in-process retry state.
    """
    base: timedelta = min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))
    delay: timedelta = base / 2 + base / 2 * random.random()  # noqa: S311 - jitter, not a secret
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def pause_delay(pauses: int) -> timedelta:
    """How long an account's writes wait after its `pauses`-th environment failure in a row."""
    delay: timedelta = min(MAX_PAUSE, FIRST_PAUSE * 2 ** max(0, min(pauses, 20) - 1))
    return delay


def _target(account: Account, kind: WriteKind) -> Target[Never]:
    """The target for a kind; Target[Never] because looking up needs no payload."""
    targets: dict[WriteKind, Target[Never]] = {
        WriteKind.CONTACT: account.contacts,
        WriteKind.DRAFT: account.drafts,
        WriteKind.BLOCK: account.blocks,
    }
    return targets[kind]


def _ensure(account: Account, row: WriteRow, recovering: bool) -> WriteResult:
    payload = row.payload
    if isinstance(payload, ContactPayload):
        return account.contacts.ensure(row.key, payload, recovering=recovering)
    if isinstance(payload, DraftPayload):
        return account.drafts.ensure(row.key, payload, recovering=recovering)
    if isinstance(payload, BlockPayload):
        return account.blocks.ensure(row.key, payload, recovering=recovering)
    raise InputError(f"write {row.key}: no target for {type(payload).__name__}")


def apply_pending(
    ledger: Ledger,
    account: Account,
    now: datetime,
    *,
    stop: Callable[[], bool] = lambda: False,
    hooks: Hook | None = None,
) -> ApplyReport:
    """Apply every write of `account` that is due at `now`, each exactly once.

    `stop()` is checked between writes: the write in flight is finished, the rest stays
    pending. Raises AuthError when the account needs reconnecting (the write stays pending);
    an environment failure pauses the account's writes (`paused_until`); every other error
    is recorded on its write, which is retried later or, for an InputError, failed at once.
    """
    report = ApplyReport()
    status = ledger.account_status(account.name)
    if status is not None and status.backoff_until is not None and status.backoff_until > now:
        report.paused_until = status.backoff_until
        log.info("writes.paused", account=account.name, until=status.backoff_until.isoformat(),
                 error=status.backoff_error)
        return report
    was_paused = status is not None and status.backoff_count > 0
    adopting = status is None or status.adopted_at is None
    complete = True
    for pending in ledger.pending(account.name, now):
        if stop():
            report.stopped = True
            complete = False
            break
        try:
            row = ledger.begin_attempt(pending.key)
        except WriteNotPendingError as e:  # another process got there first, or writes it
            log.info("write.skipped", key=pending.key, reason=str(e))
            continue
        _passing("before_write", row, hooks)
        try:
            result = _attempt(ledger, account, row, adopting=adopting)
        except AuthError:
            # Not the write's fault, so not recorded as a failure (that would use up its
            # attempts): it stays pending, and is looked up first once the account is back.
            log.warning("write.needs_reconnect", key=row.key, kind=row.kind.value)
            ledger.release(row.key)
            raise
        except Exception as e:  # one bad write (even a provider bug) must not stop the others
            environment = environment_failure(e)
            if environment is not None:
                _pause(ledger, account.name, row, environment, now, report)
                complete = False
                break
            _record_failure(ledger, row, e, now, report)
            continue
        _passing("after_write", row, hooks)
        ledger.finish(row.key, result)
        if was_paused:
            ledger.resume_account(account.name)
            was_paused = False
        report.outcomes[(row.kind, result.outcome.value)] += 1
        metrics.WRITES.labels(kind=row.kind.value, outcome=result.outcome.value).inc()
        log.info("write.done", key=row.key, kind=row.kind.value, outcome=result.outcome.value,
                 attempts=row.attempts)
    if adopting and complete:
        ledger.mark_adopted(account.name)
    return report


def _attempt(ledger: Ledger, account: Account, row: WriteRow, *, adopting: bool) -> WriteResult:
    """The write of `row`: looked up first when an attempt may have reached the provider
    before (a retry, a claim taken over) or when the ledger is adopting (see _adoption)."""
    recovering = row.attempts > 1 or row.taken_over
    if adopting and not recovering:
        decision = _adoption(ledger, row)
        if decision is _Adopt.DISMISS_IF_MISSING:
            state = _target(account, row.kind).state(row.key, None, None)
            if state is RemoteState.MISSING:
                log.info("write.adopted", key=row.key, kind=row.kind.value,
                         outcome=WriteOutcome.DISMISSED.value,
                         reason="its contact from the same meeting was there already")
                return WriteResult(WriteOutcome.DISMISSED)
        recovering = decision is not _Adopt.WRITE
    if isinstance(row.payload, BlockPayload) and row.payload.draft_keys:
        row = dataclasses.replace(row, payload=with_draft_links(ledger, account, row.payload))
    return _ensure(account, row, recovering=recovering)


class _Adopt:
    """What a write of an adopting ledger does (three markers, compared by identity)."""

    WRITE = object()  # nothing of its group was there before this ledger: write it
    LOOK_UP = object()  # may exist: look the key up first
    DISMISS_IF_MISSING = object()  # its group was written before: missing means deleted


def _adoption(ledger: Ledger, row: WriteRow) -> object:
    """How an adopting ledger attempts `row` for the first time.

    A first touch writes each person's contact, then their draft, then the meeting's block,
    all due at once. So when a contact of that meeting (the person's own, for a draft) was
    found on its first attempt (EXISTED: written before this ledger, not by a crashed
    attempt of its own), an earlier ledger got to this meeting, and a draft or block of it
    that is missing now was deleted by the user. When those contacts were all created or
    annotated just now, nothing of the meeting existed: the draft or block is new, written
    without a lookup (a lookup per new draft would make a first cycle quadratic for some
    providers). Anything else (no contact, as for a nurture touch or a weekly block; a
    contact that needed a retry) looks the key up first.
    """
    if row.kind is WriteKind.CONTACT or not row.meeting_uid:
        return _Adopt.LOOK_UP
    contacts = [
        w for w in ledger.meeting_writes(row.account, row.meeting_uid, row.occurrence)
        if w.kind is WriteKind.CONTACT and w.touch == row.touch
        and (not row.person or w.person == row.person)
    ]
    if not contacts:
        return _Adopt.LOOK_UP
    if any(_found_before(c) for c in contacts):
        return _Adopt.DISMISS_IF_MISSING
    fresh = (WriteOutcome.CREATED.value, WriteOutcome.ANNOTATED.value)
    if all(c.state is WriteState.DONE and c.outcome in fresh for c in contacts):
        return _Adopt.WRITE
    return _Adopt.LOOK_UP


def _found_before(contact: WriteRow) -> bool:
    """Whether this ledger found the contact already written, on its very first attempt."""
    return (contact.state in (WriteState.DONE, WriteState.DISMISSED)
            and contact.attempts == 1
            and contact.outcome in (WriteOutcome.EXISTED.value, WriteOutcome.DISMISSED.value))


def _pause(
    ledger: Ledger,
    account: str,
    row: WriteRow,
    error: EnvironmentFailure,
    now: datetime,
    report: ApplyReport,
) -> None:
    """The environment failed this write: give the attempt back, pause the account."""
    status = ledger.account_status(account)
    until = now + pause_delay((status.backoff_count if status else 0) + 1)
    message = f"{type(error).__name__}: {error}"
    ledger.fail(row.key, message, None, environment=True)
    ledger.pause_account(account, message, until)
    report.paused_until = until
    report.outcomes[(row.kind, "failed")] += 1
    report.errors.append(f"{row.kind.value} {row.key}: {message}; writes paused until "
                         f"{until:%Y-%m-%d %H:%M}Z")
    metrics.WRITES.labels(kind=row.kind.value, outcome="failed").inc()
    log.warning("writes.paused", account=account, key=row.key, kind=row.kind.value,
                error=message, until=until.isoformat())


def _passing(point: str, row: WriteRow, hooks: Hook | None) -> None:
    _KILL.passing(point)
    if hooks is not None:
        hooks(point, row)


def _record_failure(
    ledger: Ledger, row: WriteRow, error: Exception, now: datetime, report: ApplyReport
) -> None:
    known = isinstance(error, ProviderError | InputError)
    retry_after = error.retry_after if isinstance(error, TransientError) else None
    retry_at = now + retry_delay(row.attempts, retry_after)
    message = f"{type(error).__name__}: {error}"
    # An input that cannot be written will not become writable by waiting: fail it now.
    ledger.fail(row.key, message, retry_at, permanent=isinstance(error, InputError))
    report.outcomes[(row.kind, "failed")] += 1
    report.errors.append(f"{row.kind.value} {row.key}: {message}")
    metrics.WRITES.labels(kind=row.kind.value, outcome="failed").inc()
    event = "write.failed" if known else "write.crashed"
    logger = log.warning if known else log.exception
    logger(event, key=row.key, kind=row.kind.value, attempts=row.attempts, error=message,
           retry_at=retry_at.isoformat())
