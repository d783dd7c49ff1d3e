"""Write claims, environment failures, retry, skips and integrity: on SQLite and PostgreSQL.

Two Ledger objects on one database stand for two processes sharing it (two containers, a
rolling deploy): each has its own owner identity, as each process would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text

from followup.errors import EnvironmentFailure, TransientError
from followup.ledger import AccountStatus, Ledger, WriteRow, WriteState
from followup.ledger.rows import (
    AccountBusyError,
    LedgerCorruptError,
    LedgerUnavailableError,
    WriteClaimedError,
    WriteNotPendingError,
)
from followup.ledger.store import CLAIM_LEASE, integrity_problems, process_identity
from followup.model import (
    BlockPayload,
    Meeting,
    Skip,
    WriteIntent,
    WriteKind,
    WriteOutcome,
    WriteResult,
)

from .conftest import T0, Clock

KEY = "k1"


def _intent(key: str = KEY) -> WriteIntent:
    return WriteIntent(key, WriteKind.BLOCK, BlockPayload("s", "d", T0, T0), T0, "p@x.example")


@pytest.fixture
def other(ledger_url: str, clock: Clock, ledger: Ledger) -> Iterator[Ledger]:
    """A second process on the same database (opened after `ledger`, which migrated it),
    on another host: whether it is alive cannot be checked from here."""
    with Ledger.open(ledger_url, clock=clock, owner=_elsewhere()) as opened:
        yield opened


def _row(ledger: Ledger, key: str = KEY) -> WriteRow:
    row = ledger.write(key)
    assert row is not None
    return row


def _status(ledger: Ledger, account: str = "a") -> AccountStatus:
    status = ledger.account_status(account)
    assert status is not None
    return status


def _elsewhere() -> str:
    """The identity of a process on another host: its liveness cannot be checked from here."""
    return "elsewhere|other-boot|4026531836|4242|0123456789ab"


def test_a_claimed_write_cannot_be_attempted_by_another_process(
    ledger: Ledger, other: Ledger
) -> None:
    ledger.record_intents("a", [_intent()])
    row = ledger.begin_attempt(KEY)
    assert row.claim_owner == ledger.owner and not row.taken_over
    with pytest.raises(WriteClaimedError, match="another process"):
        other.begin_attempt(KEY)
    assert _row(ledger).attempts == 1  # the refusal counted nothing
    ledger.finish(KEY, WriteResult(WriteOutcome.CREATED, "r1"))
    done = other.write(KEY)
    assert done is not None and done.state is WriteState.DONE and done.claim_owner is None
    with pytest.raises(WriteNotPendingError):
        other.begin_attempt(KEY)


def test_ledgers_of_one_process_share_its_identity(ledger_url: str, ledger: Ledger) -> None:
    with Ledger.open(ledger_url) as second:
        assert second.owner == ledger.owner == process_identity()


def test_a_failed_attempt_releases_the_claim(ledger: Ledger, other: Ledger) -> None:
    ledger.record_intents("a", [_intent()])
    ledger.begin_attempt(KEY)
    ledger.fail(KEY, "503", retry_at=None)
    row = other.begin_attempt(KEY)
    assert row.attempts == 2 and not row.taken_over, "a released claim is no takeover"


def test_a_lapsed_claim_is_taken_over_and_the_taker_knows(
    ledger_url: str, clock: Clock, ledger: Ledger
) -> None:
    ledger.record_intents("a", [_intent()])
    with Ledger.open(ledger_url, clock=clock, owner=_elsewhere()) as gone:
        gone.begin_attempt(KEY)  # ... and that process vanished on another host
    clock.advance(seconds=CLAIM_LEASE.total_seconds() - 1)
    with pytest.raises(WriteClaimedError):
        ledger.begin_attempt(KEY)
    clock.advance(seconds=2)
    row = ledger.begin_attempt(KEY)
    assert row.taken_over and row.attempts == 2 and row.claim_owner == ledger.owner


def test_a_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(
    ledger_url: str, clock: Clock, ledger: Ledger
) -> None:
    ledger.record_intents("a", [_intent()])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    host, boot, ns, _pid, _ = process_identity().split("|")
    with Ledger.open(ledger_url, clock=clock, owner=f"{host}|{boot}|{ns}|{dead.stdout.strip()}|x"
                     ) as crashed:
        crashed.begin_attempt(KEY)
    row = ledger.begin_attempt(KEY)  # no waiting for the lease
    assert row.taken_over and row.attempts == 2


def test_a_claim_of_a_live_process_on_this_host_holds(
    ledger_url: str, clock: Clock, ledger: Ledger
) -> None:
    ledger.record_intents("a", [_intent()])
    host, boot, ns, _pid, _ = process_identity().split("|")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with Ledger.open(ledger_url, clock=clock, owner=f"{host}|{boot}|{ns}|{alive.pid}|x"
                         ) as running:
            running.begin_attempt(KEY)
        with pytest.raises(WriteClaimedError):
            ledger.begin_attempt(KEY)
    finally:
        alive.kill()
        alive.wait()


def test_environment_failures_give_the_attempt_back_and_never_give_up(
    ledger_url: str, clock: Clock
) -> None:
    with Ledger.open(ledger_url, clock=clock, max_attempts=3) as ledger:
        ledger.record_intents("a", [_intent()])
        for _ in range(10):
            ledger.begin_attempt(KEY)
            ledger.fail(KEY, "No space left on device", None, environment=True)
        row = ledger.write(KEY)
        assert row is not None and row.state is WriteState.PENDING
        assert (row.attempts, row.spared) == (10, 10)
        # The write's own failures still count: three of them give it up.
        for _ in range(3):
            ledger.begin_attempt(KEY)
            ledger.fail(KEY, "400 bad request", None)
        row = ledger.write(KEY)
        assert row is not None and row.state is WriteState.FAILED and row.attempts == 13


def test_an_input_error_fails_the_write_at_once(ledger: Ledger) -> None:
    ledger.record_intents("a", [_intent()])
    ledger.begin_attempt(KEY)
    ledger.fail(KEY, "InputError: not an address", None, permanent=True)
    row = ledger.write(KEY)
    assert row is not None and row.state is WriteState.FAILED and row.attempts == 1


def test_retry_brings_failed_writes_back_with_a_fresh_budget(ledger_url: str, clock: Clock
                                                              ) -> None:
    with Ledger.open(ledger_url, clock=clock, max_attempts=2) as ledger:
        ledger.record_intents("a", [_intent("k1"), _intent("k2")])
        ledger.record_intents("b", [WriteIntent("k3", WriteKind.BLOCK, BlockPayload(
            "s", "d", T0, T0), T0, "q@x.example")])
        for key in ("k1", "k3"):
            for _ in range(2):
                ledger.begin_attempt(key)
                ledger.fail(key, "boom", None)
        ledger.begin_attempt("k2")
        ledger.fail("k2", "503", T0 + timedelta(hours=5))
        ledger.pause_account("a", "disk full", T0 + timedelta(hours=1))
        assert ledger.pending("a", T0) == []

        assert ledger.retry("a") == 1  # only the waiting one, without --failed
        assert [r.key for r in ledger.pending("a", T0)] == ["k2"]
        assert _status(ledger).backoff_until is None

        assert ledger.retry("a", failed=True) == 1
        k1 = ledger.write("k1")
        assert k1 is not None and k1.state is WriteState.PENDING and k1.attempts == 2
        ledger.begin_attempt("k1")
        ledger.fail("k1", "boom", None)
        assert _row(ledger, "k1").state is WriteState.PENDING
        assert _row(ledger, "k3").state is WriteState.FAILED, "another account: untouched"


def test_a_paused_account_delays_its_next_due(ledger: Ledger) -> None:
    ledger.record_intents("a", [_intent()])
    assert ledger.next_due("a") == T0
    ledger.pause_account("a", "EnvironmentFailure: No space left on device", T0 + timedelta(
        minutes=4))
    assert ledger.next_due("a") == T0 + timedelta(minutes=4)
    status = ledger.account_status("a")
    assert status is not None and status.backoff_count == 1
    ledger.pause_account("a", "again", T0 + timedelta(minutes=8))
    assert _status(ledger).backoff_count == 2
    ledger.resume_account("a")
    status = ledger.account_status("a")
    assert status is not None and (status.backoff_until, status.backoff_count) == (None, 0)


def test_adoption_lasts_until_marked(ledger: Ledger) -> None:
    assert ledger.adopting("a")
    ledger.set_account_status("a", last_error="x")
    assert ledger.adopting("a"), "a status row alone is no completed pass"
    ledger.mark_adopted("a")
    assert not ledger.adopting("a") and ledger.adopting("b")


def test_skips_are_stored_once_per_meeting_person_and_code(ledger: Ledger, clock: Clock) -> None:
    m = Meeting(uid="u1", start=T0, end=T0 + timedelta(hours=1), title="Pilot \x1b[2J review")
    skips = [Skip("bob@x.example", "internal", "A colleague."), Skip("", "all_day", "All day.")]
    ledger.record_skips("a", m, skips)
    clock.advance(hours=1)
    ledger.record_skips("a", m, [Skip("bob@x.example", "internal", "Changed text.")])
    stored = ledger.skips("a")
    assert [(s.person, s.code, s.reason, s.title) for s in stored] == [
        ("", "all_day", "All day.", "Pilot \x1b[2J review"),
        ("bob@x.example", "internal", "A colleague.", "Pilot \x1b[2J review"),
    ]
    assert ledger.skips("a", since=clock.now) == []
    assert ledger.skips("b") == []


def test_account_lock_excludes_a_second_process(
    ledger_url: str, ledger: Ledger, other: Ledger
) -> None:
    if ledger_url.startswith("sqlite"):  # SQLite relies on the state dir's file lock
        with ledger.account_lock("a"), other.account_lock("a"):
            return
    with ledger.account_lock("a"):
        with pytest.raises(AccountBusyError, match="another followup process"), \
                other.account_lock("a"):
            pass
        with other.account_lock("b"):  # another account: no conflict
            pass
    with other.account_lock("a"):  # released
        pass
    assert isinstance(AccountBusyError("x"), TransientError)


@pytest.mark.postgres
def test_under_the_account_lock_transactions_share_the_lock_s_connection(
    postgres_url: str, clock: Clock
) -> None:
    """A sync's hundred transactions take no pooled connection (no checkout, no pre-ping)
    and hold one connection, not two; other threads and failed transactions are unharmed."""
    with Ledger.open(postgres_url, clock=clock) as ledger:
        checkouts: list[int] = []
        event.listen(ledger._engine, "checkout",
                     lambda *_: checkouts.append(threading.get_ident()))
        with ledger.account_lock("a"):
            checkouts.clear()
            ledger.record_intents("a", [_intent()])
            ledger.begin_attempt(KEY)
            ledger.finish(KEY, WriteResult(WriteOutcome.CREATED, "r1"))
            with pytest.raises(ZeroDivisionError), ledger._begin() as conn:
                conn.execute(text("UPDATE writes SET remote_id = 'lost' WHERE key = :k"),
                             {"k": KEY})
                raise ZeroDivisionError  # rolled back, and the connection goes on
            assert _row(ledger).remote_id == "r1" and _row(ledger).state is WriteState.DONE
            assert checkouts == []
            # Another thread on the same Ledger (a status endpoint) gets a pooled connection.
            seen: list[WriteRow | None] = []
            reader = threading.Thread(target=lambda: seen.append(ledger.write(KEY)))
            reader.start()
            reader.join(10)
            assert seen and seen[0] is not None and seen[0].state is WriteState.DONE
            assert len(checkouts) == 1 and checkouts[0] != threading.get_ident()
        checkouts.clear()
        ledger.write(KEY)  # after the lock: pooled again
        assert checkouts == [threading.get_ident()]


def test_an_unreachable_postgresql_ledger_is_an_environment_failure() -> None:
    with pytest.raises(LedgerUnavailableError) as caught:
        Ledger.open("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    assert isinstance(caught.value, EnvironmentFailure)


def _corrupt(path: Path) -> None:
    """Overwrite pages in the middle of the file, as a failing disk or a bad copy would."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(size // 3)
        f.write(os.urandom(size // 3))


def test_a_page_corrupted_sqlite_ledger_is_refused_with_one_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger.open(url) as ledger:  # closing the last connection checkpoints the WAL
        ledger.record_intents("a", [_intent(f"k{i}") for i in range(400)])
        assert ledger.integrity_problems() == []
    _corrupt(tmp_path / "ledger.db")
    with pytest.raises(LedgerCorruptError, match=r"damaged.*followup doctor"):
        Ledger.open(url)
    from followup.ledger.connect import make_engine

    engine = make_engine(url)
    try:
        problems = integrity_problems(engine)
    finally:
        engine.dispose()
    assert problems and all("\n" not in p for p in problems)


def test_a_released_claim_frees_the_write_without_counting_an_outcome(
    ledger: Ledger, other: Ledger
) -> None:
    ledger.record_intents("a", [_intent()])
    ledger.begin_attempt(KEY)  # ... and the account needs reconnecting
    other.release(KEY)  # not its claim: nothing happens
    with pytest.raises(WriteClaimedError):
        other.begin_attempt(KEY)
    ledger.release(KEY)
    row = other.begin_attempt(KEY)
    assert row.attempts == 2 and not row.taken_over, "looked up first, as any retry"
