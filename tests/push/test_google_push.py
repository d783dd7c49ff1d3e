"""Gmail watch into Pub/Sub (pulled with google-cloud-pubsub's real client) and Calendar
channels to the real webhook, created, renewed and stopped by the renewal against the
Google fake; what arrives only queues syncs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from followup.company.store import AccountStore
from followup.push.channels import ChannelStore
from followup.push.pubsub import pull_once, subscriber_client

from .conftest import Served, jobs, wait_for
from .fake_google_push import FakeGooglePush
from .fake_pubsub import FakePubSub

TOPIC = "projects/acme-followup/topics/gmail"
SUBSCRIPTION = "projects/acme-followup/subscriptions/followup-ingest"


@pytest.fixture
def google() -> Iterator[FakeGooglePush]:
    fake = FakeGooglePush(user="alice@example.com").start()
    yield fake
    fake.stop()


@pytest.fixture
def pubsub() -> Iterator[FakePubSub]:
    fake = FakePubSub(ack_deadline=0.5)
    fake.create_subscription(SUBSCRIPTION)
    yield fake
    fake.close()


def _alice(accounts: AccountStore, google: FakeGooglePush) -> str:
    accounts.add_account("acme", {"kind": "google", "name": "alice", **google.account_urls()},
                         credential={".json": json.dumps(google.authorized_user_info()).encode()})
    return "alice"


def _clear(channels: ChannelStore) -> None:
    with channels.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")


def test_watch_notices_and_duplicates(served: Served, accounts: AccountStore,
                                      channels: ChannelStore, google: FakeGooglePush,
                                      pubsub: FakePubSub) -> None:
    alice = _alice(accounts, google)
    renewer = served.ingest.renewer
    renewer.settings.gmail_topic = TOPIC
    report = renewer.run_once()
    assert report is not None and report.created == 2 and report.failed == 0
    assert google.watches["alice@example.com"]["topic"] == TOPIC
    assert google.watches["alice@example.com"]["labelIds"] == ["INBOX", "SENT"]
    (calendar,) = google.channels.values()
    assert calendar["address"] == served.url + "/google/calendar"
    kinds = {c.kind: c for c in channels.for_account(alice)}
    assert set(kinds) == {"gmail", "calendar"}
    assert kinds["gmail"].resource == "alice@example.com"  # from users.getProfile
    assert kinds["calendar"].resource_id == calendar["resourceId"]

    # A second round has nothing to do.
    again = renewer.run_once()
    assert again is not None and (again.created, again.renewed) == (0, 0)

    # Gmail: two notices for one change (Pub/Sub is at-least-once), one for a stranger.
    _clear(channels)
    client = subscriber_client(pubsub.endpoint)
    pubsub.publish_gmail(SUBSCRIPTION, "alice@example.com", 1001)
    pubsub.publish_gmail(SUBSCRIPTION, "Alice@Example.com", 1001)
    pubsub.publish_gmail(SUBSCRIPTION, "mallory@elsewhere.example", 5)
    pubsub.publish(SUBSCRIPTION, b"not json")
    assert pull_once(client, SUBSCRIPTION, served.ingest.notices.gmail, timeout=5) == 4
    assert pubsub.pending(SUBSCRIPTION) == 0  # all acknowledged, the unreadable one too
    waiting = jobs(channels.engine)
    assert [j.queueing_lock for j in waiting] == [alice]
    assert waiting[0].args["reason"] == "push: gmail"

    # Calendar: a change pings the channel; the webhook queues (the same waiting) sync.
    _clear(channels)
    assert google.ping_calendar() == [200]
    assert wait_for(lambda: jobs(channels.engine, alice))
    assert wait_for(lambda: channels.get(calendar["id"]).notices == 1)  # type: ignore[union-attr]


def test_renewal_before_expiry_and_stop_on_removal(served: Served, accounts: AccountStore,
                                                    channels: ChannelStore,
                                                    google: FakeGooglePush) -> None:
    alice = _alice(accounts, google)
    renewer = served.ingest.renewer
    renewer.settings.gmail_topic = TOPIC
    renewer.run_once()
    old = next(c for c in channels.for_account(alice) if c.kind == "calendar")
    gmail = next(c for c in channels.for_account(alice) if c.kind == "gmail")

    # A day and a bit later: Gmail watched again; the calendar channel (7 days) still fine.
    later = datetime.now(UTC) + timedelta(days=1, minutes=5)
    renewer.clock = lambda: later
    report = renewer.run_once()
    assert report is not None and report.renewed == 1
    assert channels.get(gmail.id).renewed_at == later  # type: ignore[union-attr]
    assert channels.get(old.id) is not None

    # Six and a half days in: the calendar channel is replaced, the old one stopped.
    later = datetime.now(UTC) + timedelta(days=6, hours=12)
    renewer.clock = lambda: later
    report = renewer.run_once()
    assert report is not None and report.failed == 0
    assert channels.get(old.id) is None
    assert old.id not in google.channels
    (new,) = [c for c in channels.for_account(alice) if c.kind == "calendar"]
    assert new.id in google.channels and new.expires_at > later - timedelta(days=1)

    # A stale ping on the stopped channel wakes nothing.
    _clear(channels)
    assert served.ingest.notices.calendar({
        "X-Goog-Channel-ID": old.id, "X-Goog-Channel-Token": "x",
        "X-Goog-Resource-State": "exists"}).unknown == 1

    # Disabled (opted out): its channels are stopped at Google and forgotten.
    accounts.set_enabled(alice, False)
    report = renewer.run_once()
    assert report is not None and report.stopped == 2
    assert not channels.for_account(alice)
    assert google.channels == {} and google.watches == {}


def test_a_failing_renewal_is_counted_and_shown(served: Served, accounts: AccountStore,
                                                 channels: ChannelStore,
                                                 google: FakeGooglePush) -> None:
    alice = _alice(accounts, google)
    renewer = served.ingest.renewer
    renewer.settings.gmail_topic = TOPIC
    renewer.run_once()
    later = datetime.now(UTC) + timedelta(days=2)
    renewer.clock = lambda: later
    google.fail_next("gmail.users.watch", 403, "forbidden")
    report = renewer.run_once()
    assert report is not None and report.failed == 1
    gmail = next(c for c in channels.for_account(alice) if c.kind == "gmail")
    assert gmail.failures == 1 and "403" in (gmail.last_error or "")
    assert channels.status()["push_channels_failing"] == 1
    renewer.run_once()  # the next round succeeds and clears it
    assert channels.status()["push_channels_failing"] == 0


def test_renewal_runs_in_one_process_at_a_time(served: Served, accounts: AccountStore,
                                               channels: ChannelStore,
                                               google: FakeGooglePush) -> None:
    from sqlalchemy import text

    _alice(accounts, google)
    with channels.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:ns, hashtext(current_schema()))"),
                     {"ns": 0x66757035})
        assert served.ingest.renewer.run_once() is None
        conn.execute(text("SELECT pg_advisory_unlock_all()"))
    assert served.ingest.renewer.run_once() is not None
