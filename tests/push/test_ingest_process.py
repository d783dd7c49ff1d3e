"""`followup ingest` as a process: the webhook answers, Pub/Sub is pulled, syncs queued;
and Event Hubs bodies take the Graph path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy.engine import Engine

from followup.company.store import AccountStore
from followup.push.channels import ChannelStore
from followup.push.eventhubs import handle_event_body
from followup.push.notices import Notices

from .conftest import free_port, jobs, wait_for
from .fake_pubsub import FakePubSub

SUBSCRIPTION = "projects/p/subscriptions/ingest"


def test_followup_ingest_pulls_gmail_notices_and_serves_webhooks(
        db: tuple[str, Engine], accounts: AccountStore, channels: ChannelStore,
        master_key: str) -> None:
    url, engine = db
    accounts.add_account("acme", {"kind": "local", "name": "alice"})
    channels.add(id="gmail:alice", account="alice", tenant="acme", kind="gmail",
                 resource="alice@example.com", expires_at=datetime.now(UTC) + timedelta(days=7))
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    pubsub = FakePubSub()
    pubsub.create_subscription(SUBSCRIPTION)
    port = free_port()
    env = {**os.environ, "FOLLOWUP_DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "followup", "ingest", "--listen", f"127.0.0.1:{port}",
         "--pubsub-subscription", SUBSCRIPTION, "--pubsub-endpoint", pubsub.endpoint],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def up() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        assert wait_for(up, timeout=20), proc.stdout.read1().decode() if proc.stdout else ""
        pubsub.publish_gmail(SUBSCRIPTION, "alice@example.com", 42)
        pubsub.publish_gmail(SUBSCRIPTION, "alice@example.com", 43)
        assert wait_for(lambda: jobs(engine, "alice"), timeout=10)
        assert wait_for(lambda: pubsub.pending(SUBSCRIPTION) == 0, timeout=10)
        assert len(jobs(engine, "alice")) == 1
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "followup_push_channels_gmail 1" in metrics
        assert "followup_push_notices 2" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
        pubsub.close()


def test_event_hubs_bodies_are_checked_like_webhooks(accounts: AccountStore,
                                                     channels: ChannelStore) -> None:
    accounts.add_account("acme", {"kind": "local", "name": "alice"})
    channels.add(id="sub-1", account="alice", tenant="acme", kind="graph_messages",
                 resource="alice@contoso.example", secret="right",
                 expires_at=datetime.now(UTC) + timedelta(days=3))
    woken: list[tuple[str, str]] = []
    notices = Notices(channels, lambda a, r: woken.append((a, r)) is None)
    body = json.dumps({"value": [{"subscriptionId": "sub-1", "clientState": "wrong",
                                  "changeType": "created"}]})
    out = handle_event_body(body, notices.graph)
    assert out is not None and out.forged == 1 and not woken
    body = body.replace('"wrong"', '"right"')
    out = handle_event_body(body, notices.graph)
    assert out is not None and woken == [("alice", "push: graph_messages created")]
    assert handle_event_body("{broken", notices.graph) is None
