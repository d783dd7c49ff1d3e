"""apply_pending: each write once, failures recorded with a retry time, stop honoured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from contract.suite import key_for, payload_for
from engine.world import T0
from followup.engine.apply import MAX_RETRY, _KillSwitch, apply_pending, retry_delay
from followup.errors import ProviderError, TransientError
from followup.ledger import Ledger, WriteState
from followup.model import WriteIntent, WriteKind
from followup.providers.memory import Faults, MemoryProvider

NOW = T0 + timedelta(hours=2)


def intents(people: int = 1) -> list[WriteIntent]:
    out = []
    for i in range(people):
        email = f"p{i}@client.example"
        for kind in (WriteKind.CONTACT, WriteKind.DRAFT, WriteKind.BLOCK):
            out.append(WriteIntent(key=key_for(kind, email), kind=kind,
                                   payload=payload_for(kind, email), due=T0, person=email))
    return out


def test_every_due_write_is_applied_once_in_order(ledger: Ledger) -> None:
    provider = MemoryProvider("work")
    ledger.record_intents("work", intents(2))
    report = apply_pending(ledger, provider.account(), NOW)
    assert report.attempted == 6
    assert (len(provider.contacts), len(provider.drafts), len(provider.blocks)) == (2, 2, 2)
    assert apply_pending(ledger, provider.account(), NOW).attempted == 0


def test_a_transient_failure_waits_at_least_the_servers_retry_after(ledger: Ledger) -> None:
    provider = MemoryProvider(
        "work", faults=Faults().on("drafts.ensure", error=TransientError("429", retry_after=900)))
    ledger.record_intents("work", intents())
    report = apply_pending(ledger, provider.account(), NOW)
    assert report.count(WriteKind.DRAFT, "failed") == 1
    assert report.count(WriteKind.BLOCK, "created") == 1, "the other writes went on"
    row = ledger.write(key_for(WriteKind.DRAFT, "p0@client.example"))
    assert row is not None and row.state is WriteState.PENDING and row.attempts == 1
    assert row.retry_at is not None and row.retry_at >= NOW + timedelta(seconds=900)
    assert row.last_error and "429" in row.last_error
    # Not before the retry time; then written, with the lookup first.
    assert apply_pending(ledger, provider.account(), NOW + timedelta(minutes=5)).attempted == 0
    later = apply_pending(ledger, provider.account(), row.retry_at)
    assert later.count(WriteKind.DRAFT, "created") == 1


@pytest.mark.parametrize("error", [ProviderError("400 bad request"),
                                   ValueError("a provider bug")])
def test_a_permanent_error_is_retried_a_bounded_number_of_times(
    ledger_url: str, error: Exception
) -> None:
    provider = MemoryProvider("work")
    with Ledger.open(ledger_url, max_attempts=3) as ledger:
        ledger.record_intents("work", intents()[1:2])  # the draft only
        now = NOW
        for n in range(1, 6):
            provider.faults.on("drafts.ensure", n, error=error)
        for _ in range(5):
            apply_pending(ledger, provider.account(), now)
            now += MAX_RETRY
        row = ledger.write(key_for(WriteKind.DRAFT, "p0@client.example"))
    assert row is not None and row.state is WriteState.FAILED and row.attempts == 3
    assert provider.calls["drafts.ensure"] == 3


def test_stop_is_checked_between_writes(ledger: Ledger) -> None:
    provider = MemoryProvider("work")
    ledger.record_intents("work", intents(2))
    report = apply_pending(ledger, provider.account(), NOW,
                           stop=lambda: provider.calls["drafts.ensure"] >= 1)
    assert report.stopped
    assert report.attempted == 2  # the contact, and the draft in flight, finished
    assert len(ledger.pending("work", NOW)) == 4


def test_retry_delay_grows_and_is_capped() -> None:
    delays = [retry_delay(n) for n in range(1, 20)]
    assert timedelta(seconds=30) <= delays[0] <= timedelta(minutes=1)
    assert delays[4] > delays[0]
    assert all(d <= MAX_RETRY for d in delays)
    assert retry_delay(1, retry_after=3600) >= timedelta(hours=1)


def test_the_kill_switch_refuses_a_bad_spec() -> None:
    with pytest.raises(ValueError, match="FOLLOWUP_TEST_KILL_AT"):
        _KillSwitch("during_write:1")
    with pytest.raises(ValueError):
        _KillSwitch("after_write:0")
    assert _KillSwitch(None).point is None


KILLED_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from datetime import timedelta
    from contract.suite import key_for, payload_for
    from engine.world import T0
    from followup.engine.apply import apply_pending
    from followup.ledger import Ledger
    from followup.model import WriteIntent, WriteKind
    from followup.providers.memory import MemoryProvider
    with Ledger.open({url!r}) as ledger:
        ledger.record_intents("work", [
            WriteIntent(key=key_for(k, "p@x.example"), kind=k,
                        payload=payload_for(k, "p@x.example"), due=T0, person="p@x.example")
            for k in (WriteKind.CONTACT, WriteKind.DRAFT, WriteKind.BLOCK)])
        apply_pending(ledger, MemoryProvider("work").account(), T0 + timedelta(hours=1))
    print("not killed")
""")


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before_write", "after_write"])
def test_the_kill_switch_kills_the_process_at_the_nth_pass(tmp_path: Path, point: str) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    script = KILLED_RUN.format(tests=str(Path(__file__).parents[1]), url=url)
    env = {**os.environ, "FOLLOWUP_TEST_KILL_AT": f"{point}:2"}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    assert "not killed" not in run.stdout
    with Ledger.open(url) as ledger:
        rows = {r.kind: r for r in ledger.writes("work")}
    # The contact went through; the draft's attempt was committed before the kill.
    assert rows[WriteKind.CONTACT].state is WriteState.DONE
    assert rows[WriteKind.DRAFT].state is WriteState.PENDING
    assert rows[WriteKind.DRAFT].attempts == 1
    assert rows[WriteKind.BLOCK].attempts == 0
