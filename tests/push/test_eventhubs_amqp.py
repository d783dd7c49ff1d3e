"""Graph notices through Event Hubs over real AMQP 1.0: `run_eventhub_consumer` with
azure-eventhub's own client (SASL, the $cbs token, the $management READ, one receiver link
per partition) against a local fake namespace, into the real Notices and the real queue."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy.engine import Engine

from followup.company.store import AccountStore
from followup.push.channels import ChannelStore
from followup.push.eventhubs import run_eventhub_consumer
from followup.push.notices import Notices, Outcome
from followup.push.wake import QueueWaker

from .conftest import free_port, jobs, wait_for
from .fake_eventhubs import FakeEventHubs

LATEST = "amqp.annotation.x-opt-offset > '@latest'"


def notice(subscription: str, client_state: str, change: str = "created") -> str:
    """A notification collection as Graph puts it in the hub (the webhook's JSON)."""
    return json.dumps(
        {
            "value": [
                {
                    "subscriptionId": subscription,
                    "clientState": client_state,
                    "changeType": change,
                    "resource": "Users/00000000-0000-0000-0000-000000000001/Events/AAMkAD=",
                    "subscriptionExpirationDateTime": "2026-12-01T00:00:00Z",
                    "tenantId": "11111111-1111-1111-1111-111111111111",
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "AAMkAD="},
                }
            ]
        }
    )


class Consumer:
    """`run_eventhub_consumer` on its own thread, as `followup ingest` runs it; the Outcome
    of every body that reached the Graph checks is kept."""

    def __init__(self, connection_string: str, hub: str, notices: Notices) -> None:
        self.outcomes: list[Outcome] = []
        self.stop = threading.Event()

        def graph(payload: Any) -> Outcome:
            out = notices.graph(payload)
            self.outcomes.append(out)
            return out

        self.thread = threading.Thread(
            target=run_eventhub_consumer,
            daemon=True,
            name="test-eventhubs",
            args=(connection_string, hub, "$Default", graph, self.stop),
            kwargs={"retry_seconds": 0.2},
        )
        self.thread.start()

    def close(self) -> float:
        """Stop it; the seconds until its thread ended."""
        started = time.monotonic()
        self.stop.set()
        self.thread.join(15)
        return time.monotonic() - started


@pytest.fixture
def fake() -> Iterator[FakeEventHubs]:
    server = FakeEventHubs(partitions=("0", "1"))
    yield server
    server.close()


@pytest.fixture
def notices(
    db: tuple[str, Engine], accounts: AccountStore, channels: ChannelStore
) -> Iterator[Notices]:
    """Alice and Bob, each with a Graph subscription and its own clientState; a notice
    wakes through the real queue (the same Notices `followup ingest` builds)."""
    for name in ("alice", "bob"):
        accounts.add_account("acme", {"kind": "local", "name": name})
        channels.add(
            id=f"sub-{name}",
            account=name,
            tenant="acme",
            kind="graph_events",
            resource=f"{name}@contoso.example",
            secret=f"state-{name}",
            expires_at=datetime.now(UTC) + timedelta(days=3),
        )
    waker = QueueWaker(db[0]).open()
    yield Notices(channels, waker)
    waker.close()


@pytest.fixture
def consumer(fake: FakeEventHubs, notices: Notices) -> Iterator[Consumer]:
    running = Consumer(fake.connection_string(), fake.hub, notices)
    yield running
    running.close()


def attached(fake: FakeEventHubs) -> None:
    receivers = fake.wait_receivers(2)
    assert sorted(r.partition for r in receivers) == ["0", "1"], receivers


def test_genuine_notice_queues_one_sync_over_amqp(
    fake: FakeEventHubs, notices: Notices, db: tuple[str, Engine]
) -> None:
    engine = db[1]
    # In the hub before the consumer starts: a new consumer starts at the latest event.
    fake.publish("0", notice("sub-bob", "state-bob"))
    consumer = Consumer(fake.connection_string(), fake.hub, notices)
    try:
        attached(fake)
        fake.publish("1", notice("sub-alice", "state-alice", "created"))
        fake.publish("1", notice("sub-alice", "state-alice", "updated"))
        assert wait_for(lambda: len(consumer.outcomes) == 2, timeout=20), consumer.outcomes
        assert [sorted(o.woken) for o in consumer.outcomes] == [["alice"], ["alice"]]
        assert len(jobs(engine, "alice")) == 1  # the second notice coalesced
        assert jobs(engine, "bob") == []  # enqueued before the consumer: not replayed
    finally:
        consumer.close()

    # The client's real AMQP path: SASL ANONYMOUS, a SAS token put on $cbs for the hub
    # (signed with the namespace key: the fake checks it), the hub READ on $management,
    # then one receiver per partition of the consumer group, starting at the latest event.
    assert fake.sasl_mechanisms and set(fake.sasl_mechanisms) == {"ANONYMOUS"}
    assert f"sb://{fake.endpoint}/{fake.hub}" in fake.cbs_audiences
    assert fake.cbs_rejected == []
    assert ("com.microsoft:eventhub", None) in fake.management
    assert {(r.hub, r.consumer_group, r.selector) for r in fake.receivers} == {
        (fake.hub, "$Default", LATEST)
    }


def test_forged_notice_queues_nothing_and_is_counted(
    fake: FakeEventHubs, consumer: Consumer, channels: ChannelStore, db: tuple[str, Engine]
) -> None:
    attached(fake)
    fake.publish("0", notice("sub-alice", "state-bob"))  # Bob's secret on Alice's channel
    assert wait_for(lambda: consumer.outcomes, timeout=20)
    assert consumer.outcomes[0].forged == 1 and not consumer.outcomes[0].woken
    channel = channels.get("sub-alice")
    assert channel is not None and channel.forged == 1
    assert jobs(db[1]) == []


def test_malformed_bodies_are_skipped_and_later_notices_arrive(
    fake: FakeEventHubs, consumer: Consumer, db: tuple[str, Engine]
) -> None:
    attached(fake)
    for body in (b"\xff\xfe\x00not json", b"{broken", b"", json.dumps(["not", "a", "dict"])):
        fake.publish("0", body)
    fake.publish("0", notice("sub-alice", "state-alice"))
    assert wait_for(lambda: jobs(db[1], "alice"), timeout=20)
    # Only the JSON list reached the Graph checks (and was ignored); the rest were
    # unreadable, and the consumer went on to the genuine notice after them.
    assert [(o.ignored, sorted(o.woken)) for o in consumer.outcomes] == [(1, []), (0, ["alice"])]
    assert jobs(db[1], "bob") == []


def test_stop_ends_the_consumer_promptly(fake: FakeEventHubs, notices: Notices) -> None:
    consumer = Consumer(fake.connection_string(), fake.hub, notices)
    attached(fake)
    took = consumer.close()
    assert not consumer.thread.is_alive()
    assert took < 5, f"stop took {took:.1f} s"
    assert wait_for(lambda: fake.active_receivers() == [], timeout=5)
    assert wait_for(lambda: fake.connections_closed == fake.connections_opened, timeout=5)


def test_stop_set_before_the_consumer_starts(fake: FakeEventHubs, notices: Notices) -> None:
    stop = threading.Event()
    stop.set()
    thread = threading.Thread(
        target=run_eventhub_consumer,
        daemon=True,
        args=(fake.connection_string(), fake.hub, "$Default", notices.graph, stop),
    )
    thread.start()
    thread.join(10)
    assert not thread.is_alive()


def test_dropped_connection_resumes_after_the_last_event(
    fake: FakeEventHubs, consumer: Consumer, db: tuple[str, Engine]
) -> None:
    attached(fake)
    fake.publish("0", notice("sub-alice", "state-alice"))
    assert wait_for(lambda: jobs(db[1], "alice"), timeout=20)
    fake.drop_connections()
    # Published while nobody is connected: the consumer must pick it up on return,
    # not restart at "@latest" past it.
    fake.publish("0", notice("sub-bob", "state-bob"))
    assert wait_for(lambda: jobs(db[1], "bob"), timeout=30), fake.receivers
    assert len(jobs(db[1], "alice")) == 1  # nothing replayed
    # Reopened after the last event of partition 0 (sequence number 0), latest elsewhere.
    assert {(r.partition, r.selector) for r in fake.receivers[2:]} >= {
        ("0", "amqp.annotation.x-opt-sequence-number > '0'"),
        ("1", LATEST),
    }


def test_refused_key_backs_off_without_spinning(fake: FakeEventHubs, notices: Notices) -> None:
    consumer = Consumer(fake.connection_string(key="d3Jvbmcta2V5"), fake.hub, notices)
    try:
        assert wait_for(lambda: len(fake.cbs_rejected) >= 2, timeout=20)
        before = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(2)  # a window to measure CPU over, not an assertion's wait
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # azure-eventhub's processor spins a core while it has no partition to read.
        assert cpu < 0.8, f"{cpu:.2f} s of CPU in 2 s"
        assert fake.active_receivers() == []
    finally:
        took = consumer.close()
    assert not consumer.thread.is_alive() and took < 5


def test_followup_ingest_consumes_the_hub_named_on_its_command_line(
    fake: FakeEventHubs, notices: Notices, db: tuple[str, Engine]
) -> None:
    """The wiring: FOLLOWUP_EVENTHUB_CONNECTION and --eventhub-name start the consumer in
    `followup ingest`, whose notices reach the queue and its /metrics."""
    url, engine = db
    port = free_port()
    env = {
        **os.environ,
        "FOLLOWUP_DATABASE_URL": url,
        "FOLLOWUP_EVENTHUB_CONNECTION": fake.connection_string(),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "followup",
            "ingest",
            "--listen",
            f"127.0.0.1:{port}",
            "--eventhub-name",
            fake.hub,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        attached(fake)
        fake.publish("1", notice("sub-alice", "state-alice"))
        assert wait_for(lambda: jobs(engine, "alice"), timeout=20)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "followup_push_notices 1" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        output = proc.stdout.read().decode() if proc.stdout else ""
        if proc.stdout is not None:
            proc.stdout.close()
    # Ended by the SIGTERM (uvicorn re-raises it once it has shut down), not killed.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "state-alice" not in output  # the clientState (a secret) is never logged
