"""The environment's failures (disk full, read-only, no permission, network down) never use up
a write's attempts: the account pauses and every write is made once the environment is back.
The write's own failures still count, and an input that cannot be written fails at once."""

from __future__ import annotations

import errno
from datetime import timedelta

import pytest

from contract.suite import key_for
from engine.test_apply import NOW, intents
from followup.engine.apply import MAX_PAUSE, apply_pending, pause_delay
from followup.errors import EnvironmentFailure, InputError
from followup.ledger import Ledger, WriteState
from followup.model import WriteKind
from followup.providers.google.transport import ConnectionLost
from followup.providers.memory import Faults, MemoryProvider

DRAFT = key_for(WriteKind.DRAFT, "p0@client.example")

DISK_ERRORS = [
    OSError(errno.ENOSPC, "No space left on device", "/home/ada/Maildir/.Drafts/tmp/x"),
    OSError(errno.EROFS, "Read-only file system", "/mnt/followups/x.ics"),
    PermissionError(errno.EACCES, "Permission denied", "/home/ada/contacts/x.vcf"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
    OSError(errno.EIO, "Input/output error"),
    ConnectionLost("drafts.create: no answer (ConnectionError)"),
]


@pytest.mark.parametrize(
    "error", DISK_ERRORS, ids=lambda e: errno.errorcode.get(getattr(e, "errno", 0) or 0, "net"))
def test_a_full_disk_for_a_night_loses_no_write(ledger_url: str, error: Exception) -> None:
    """The repro of the report: the environment fails far more often than max_attempts;
    once it is fixed, every write is made, each once."""
    provider = MemoryProvider("work")
    with Ledger.open(ledger_url, max_attempts=3) as ledger:
        ledger.record_intents("work", intents(5))
        now = NOW
        for n in range(1, 13):  # 12 failing passes, four times max_attempts
            provider.faults.on("drafts.ensure", provider.calls["drafts.ensure"] + 1, error=error)
            report = apply_pending(ledger, provider.account(), now)
            assert report.paused_until is not None and report.count(WriteKind.DRAFT, "failed") == 1
            assert report.attempted == (2 if n == 1 else 1), "the pass ends at the failure"
            status = ledger.account_status("work")
            assert status is not None and status.backoff_error and status.backoff_count == n
            # Nothing is attempted while paused, and the daemon sleeps until the pause ends.
            assert apply_pending(ledger, provider.account(), now).attempted == 0
            assert ledger.next_due("work") == report.paused_until
            now = report.paused_until
        row = ledger.write(DRAFT)
        assert row is not None and row.state is WriteState.PENDING
        assert row.attempts == 12 and row.spared == 12

        report = apply_pending(ledger, provider.account(), now)  # space is back
        assert report.paused_until is None and not report.errors
        assert len(provider.drafts) == 5 and len(provider.contacts) == 5
        assert len(provider.blocks) == 5
        assert all(r.state is WriteState.DONE for r in ledger.writes("work"))
        status = ledger.account_status("work")
        assert status is not None and status.backoff_until is None and status.backoff_count == 0


def test_the_pause_grows_and_is_capped() -> None:
    assert pause_delay(1) == timedelta(minutes=1)
    assert pause_delay(2) == timedelta(minutes=2)
    assert pause_delay(30) == MAX_PAUSE == pause_delay(10_000)


def test_the_writes_own_failures_still_count(ledger_url: str) -> None:
    provider = MemoryProvider("work")
    with Ledger.open(ledger_url, max_attempts=2) as ledger:
        ledger.record_intents("work", intents()[1:2])
        provider.faults.on("drafts.ensure", 1, error=EnvironmentFailure("network down"))
        provider.faults.on("drafts.ensure", 2, error=ValueError("a provider bug"))
        provider.faults.on("drafts.ensure", 3, error=ValueError("a provider bug"))
        now = NOW
        for _ in range(3):
            report = apply_pending(ledger, provider.account(), now)
            now = max(now + timedelta(hours=7), report.paused_until or now)
        row = ledger.write(DRAFT)
        assert row is not None and row.state is WriteState.FAILED
        assert (row.attempts, row.spared) == (3, 1)


def test_an_input_error_fails_at_once_with_its_reason(ledger: Ledger) -> None:
    provider = MemoryProvider("work", faults=Faults().on(
        "drafts.ensure", error=InputError("cannot compose draft: 'bob@' is not an address")))
    ledger.record_intents("work", intents(2))
    report = apply_pending(ledger, provider.account(), NOW)
    assert report.count(WriteKind.DRAFT, "failed") == 1
    assert report.count(WriteKind.DRAFT, "created") == 1, "the other person's draft went on"
    assert report.paused_until is None, "an input error is no reason to pause the account"
    row = ledger.write(DRAFT)
    assert row is not None and row.state is WriteState.FAILED and row.attempts == 1
    assert row.last_error and "not an address" in row.last_error
    assert provider.calls["drafts.ensure"] == 2


def test_retry_failed_brings_a_given_up_write_back_and_it_is_written_once(
    ledger_url: str,
) -> None:
    provider = MemoryProvider("work")
    with Ledger.open(ledger_url, max_attempts=1) as ledger:
        ledger.record_intents("work", intents()[1:2])
        # The answer was lost: the draft was written, yet the attempt failed.
        provider.faults.on("drafts.ensure", 1, error=ValueError("boom"), lost_response=True)
        apply_pending(ledger, provider.account(), NOW)
        given_up = ledger.write(DRAFT)
        assert given_up is not None and given_up.state is WriteState.FAILED
        assert ledger.retry("work", failed=True) == 1
        report = apply_pending(ledger, provider.account(), NOW)
    assert report.count(WriteKind.DRAFT, "existed") == 1, "looked up first, not written again"
    assert len(provider.drafts) == 1
