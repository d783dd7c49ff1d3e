"""Exactly-once writes: apply an account's pending writes from the ledger to its provider.

For each pending write, in the ledger's order (contacts, then drafts, then blocks):

1. ``ledger.begin_attempt(key)`` counts the attempt and COMMITS, before the remote call;
2. ``target.ensure(key, payload, recovering=attempts > 1)`` writes the object with its key;
3. ``ledger.finish(key, result)`` records the outcome and remote id, and commits.

A crash between 1 and 3 leaves the row pending, and its next attempt has ``attempts > 1``, so the
provider looks the key up before writing again: the object exists once, whatever happened to
the process or to the response. A failed call is recorded with ``ledger.fail`` and a retry
time (the ledger gives a write up after its max_attempts); an AuthError ends the account's
cycle (the caller marks the account "needs reconnect").

Test hook (used by tests/test_crash_safety.py, harmless when unset): the environment variable
``FOLLOWUP_TEST_KILL_AT="<point>:<n>"`` makes the process SIGKILL itself the n-th time (counting
from 1, across all writes of the process) it passes <point>:

- ``before_write``: after ``begin_attempt`` has committed, before ``target.ensure``;
- ``after_write``: after ``target.ensure`` returned, before ``ledger.finish``.

It is read once, when this module is imported.
"""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from followup import metrics
from followup.errors import AuthError, InputError, ProviderError, TransientError
from followup.ledger import Ledger
from followup.ledger.rows import WriteNotPendingError, WriteRow
from followup.model import BlockPayload, ContactPayload, DraftPayload, WriteKind, WriteResult
from followup.protocols import Account

log = structlog.get_logger(__name__)

KILL_ENV = "FOLLOWUP_TEST_KILL_AT"
KILL_POINTS = ("before_write", "after_write")

# A failed write backs off exponentially from a minute up to six hours between attempts; the
# ledger gives it up after its max_attempts.
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)

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
    every other error is recorded on its write, which is retried later.
    """
    report = ApplyReport()
    for pending in ledger.pending(account.name, now):
        if stop():
            report.stopped = True
            break
        try:
            row = ledger.begin_attempt(pending.key)
        except WriteNotPendingError as e:  # another process got there first
            log.info("write.skipped", key=pending.key, reason=str(e))
            continue
        _passing("before_write", row, hooks)
        try:
            result = _ensure(account, row, recovering=row.attempts > 1)
        except AuthError:
            # Not the write's fault, so not recorded as a failure (that would use up its
            # attempts): it stays pending, and is looked up first once the account is back.
            log.warning("write.needs_reconnect", key=row.key, kind=row.kind.value)
            raise
        except Exception as e:  # one bad write (even a provider bug) must not stop the others
            _record_failure(ledger, row, e, now, report)
            continue
        _passing("after_write", row, hooks)
        ledger.finish(row.key, result)
        report.outcomes[(row.kind, result.outcome.value)] += 1
        metrics.WRITES.labels(kind=row.kind.value, outcome=result.outcome.value).inc()
        log.info("write.done", key=row.key, kind=row.kind.value, outcome=result.outcome.value,
                 attempts=row.attempts)
    return report


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
    ledger.fail(row.key, message, retry_at)
    report.outcomes[(row.kind, "failed")] += 1
    report.errors.append(f"{row.kind.value} {row.key}: {message}")
    metrics.WRITES.labels(kind=row.kind.value, outcome="failed").inc()
    event = "write.failed" if known else "write.crashed"
    logger = log.warning if known else log.exception
    logger(event, key=row.key, kind=row.kind.value, attempts=row.attempts, error=message,
           retry_at=retry_at.isoformat())
