"""Notices through the real webhook (uvicorn + Starlette) into the real queue: a notice
only queues a sync; forged ones are dropped and logged; duplicates make one sync; Graph's
handshake and lifecycle notices."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import requests
from structlog.testing import capture_logs

from followup.company.store import AccountStore
from followup.push.channels import ChannelStore

from .conftest import Served, jobs, wait_for

SECRET = "s3cret-token-of-the-channel"


def _account(accounts: AccountStore, name: str = "alice") -> str:
    accounts.add_account("acme", {"kind": "local", "name": name})
    return name


def _calendar_channel(channels: ChannelStore, account: str, cid: str = "ch-1") -> str:
    channels.add(id=cid, account=account, tenant="acme", kind="calendar", resource="primary",
                 resource_id="res-1", secret=SECRET,
                 expires_at=datetime.now(UTC) + timedelta(days=7))
    return cid


def _ping(served: Served, cid: str, token: str, state: str = "exists",
          resource: str = "res-1") -> int:
    return requests.post(served.url + "/google/calendar", headers={
        "X-Goog-Channel-ID": cid, "X-Goog-Channel-Token": token,
        "X-Goog-Resource-ID": resource, "X-Goog-Resource-State": state}, timeout=5).status_code


def test_a_calendar_ping_queues_one_sync_and_duplicates_coalesce(
        served: Served, accounts: AccountStore, channels: ChannelStore) -> None:
    account = _account(accounts)
    cid = _calendar_channel(channels, account)
    engine = channels.engine
    # The queue starts empty for this account (adding it may have queued an admin sync).
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    for _ in range(5):
        assert _ping(served, cid, SECRET) == 200
    assert wait_for(lambda: channels.get(cid).notices == 5)  # type: ignore[union-attr]
    assert wait_for(lambda: jobs(engine, account))
    time.sleep(0.3)  # the last notice's wake-up, queued after its count
    waiting = jobs(engine, account)
    assert len(waiting) == 1  # five notices, one sync
    assert waiting[0].args["reason"].startswith("push: calendar")


def test_the_first_sync_message_of_a_channel_queues_nothing(
        served: Served, accounts: AccountStore, channels: ChannelStore) -> None:
    account = _account(accounts)
    cid = _calendar_channel(channels, account)
    with channels.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    assert _ping(served, cid, SECRET, state="sync") == 200
    assert not wait_for(lambda: jobs(channels.engine, account), timeout=0.5)


def test_a_forged_calendar_ping_is_ignored_and_logged(
        served: Served, accounts: AccountStore, channels: ChannelStore) -> None:
    account = _account(accounts)
    cid = _calendar_channel(channels, account)
    with channels.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    with capture_logs() as logs:
        assert _ping(served, cid, "guessed-token") == 200  # the sender learns nothing
        assert _ping(served, cid, SECRET, resource="res-other") == 200
        assert wait_for(lambda: channels.get(cid).forged == 2)  # type: ignore[union-attr]
    assert not jobs(channels.engine, account)
    forged = [e for e in logs if e["event"] == "push.forged_notice"]
    assert len(forged) == 2 and forged[0]["account"] == account
    assert "guessed-token" not in repr(logs) and SECRET not in repr(logs)


def test_an_unknown_channel_is_ignored(served: Served, accounts: AccountStore,
                                       channels: ChannelStore) -> None:
    _account(accounts)
    with channels.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    assert _ping(served, "no-such-channel", SECRET) == 200
    assert not wait_for(lambda: jobs(channels.engine), timeout=0.5)


def test_graph_validation_handshake_echoes_the_decoded_token(served: Served) -> None:
    for path in ("/graph/notify", "/graph/lifecycle"):
        r = requests.post(served.url + path, params={"validationToken": "Validation: a+b&c"},
                          timeout=5)
        assert r.status_code == 200
        assert r.text == "Validation: a+b&c"
        assert r.headers["content-type"].startswith("text/plain")


def _graph_channel(channels: ChannelStore, account: str, sid: str = "sub-1") -> str:
    channels.add(id=sid, account=account, tenant="acme", kind="graph_events",
                 resource="alice@contoso.example", secret=SECRET,
                 expires_at=datetime.now(UTC) + timedelta(days=3))
    return sid


def _notice(sid: str, state: str, **extra: str) -> dict[str, object]:
    return {"value": [{"subscriptionId": sid, "clientState": state, "changeType": "created",
                       "resource": "users/x/events/1", **extra}]}


def test_graph_notices_check_the_client_state_of_their_subscription(
        served: Served, accounts: AccountStore, channels: ChannelStore) -> None:
    alice, bob = _account(accounts), _account(accounts, "bob")
    a = _graph_channel(channels, alice, "sub-a")
    channels.add(id="sub-b", account=bob, tenant="acme", kind="graph_events",
                 resource="bob@contoso.example", secret="bobs-own-secret",
                 expires_at=datetime.now(UTC) + timedelta(days=3))
    with channels.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    with capture_logs() as logs:
        # Alice's secret on Bob's subscription: forged.
        r = requests.post(served.url + "/graph/notify", json=_notice("sub-b", SECRET),
                          timeout=5)
        assert r.status_code == 202
        assert wait_for(lambda: channels.get("sub-b").forged == 1)  # type: ignore[union-attr]
    assert not jobs(channels.engine)
    assert any(e["event"] == "push.forged_notice" for e in logs)
    r = requests.post(served.url + "/graph/notify", json=_notice(a, SECRET), timeout=5)
    assert r.status_code == 202
    assert wait_for(lambda: jobs(channels.engine, alice))
    assert not jobs(channels.engine, bob)


def test_graph_lifecycle_missed_removed_and_reauthorization(
        served: Served, accounts: AccountStore, channels: ChannelStore) -> None:
    alice = _account(accounts)
    sid = _graph_channel(channels, alice)
    engine = channels.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")

    def lifecycle(event: str) -> None:
        body = {"value": [{"subscriptionId": sid, "clientState": SECRET,
                           "lifecycleEvent": event}]}
        assert requests.post(served.url + "/graph/lifecycle", json=body,
                             timeout=5).status_code == 202

    lifecycle("missed")  # notices were lost: a sync (its delta query) catches up
    assert wait_for(lambda: jobs(engine, alice))
    assert jobs(engine, alice)[0].args["reason"] == "push: missed (delta resync)"

    lifecycle("reauthorizationRequired")  # renewed at once by the renewal loop
    assert wait_for(lambda: sid in served.ingest.renewer.urgent)
    assert served.ingest.renewer.kick.is_set()

    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    lifecycle("subscriptionRemoved")  # gone at Graph: forgotten here, recreated on renewal
    assert wait_for(lambda: channels.get(sid) is None)
    assert wait_for(lambda: jobs(engine, alice))


def test_unreadable_bodies_are_answered_and_dropped(served: Served) -> None:
    r = requests.post(served.url + "/graph/notify", data=b"{not json", timeout=5)
    assert r.status_code == 202
    r = requests.post(served.url + "/graph/notify", json={"value": "nope"}, timeout=5)
    assert r.status_code == 202
    assert requests.get(served.url + "/healthz", timeout=5).text == "ok\n"


def test_metrics_show_channels_expiring_and_failing(
        served: Served, accounts: AccountStore, channels: ChannelStore) -> None:
    alice = _account(accounts)
    now = datetime.now(UTC)
    channels.add(id="soon", account=alice, tenant="acme", kind="calendar", resource="primary",
                 expires_at=now + timedelta(minutes=20))
    channels.add(id="gone", account=alice, tenant="acme", kind="calendar", resource="work",
                 expires_at=now - timedelta(minutes=1))
    channels.failed("gone", "HttpError 403")
    text = requests.get(served.url + "/metrics", timeout=5).text
    assert "followup_push_channels 2" in text
    assert "followup_push_channels_expiring 1" in text
    assert "followup_push_channels_expired 1" in text
    assert "followup_push_channels_failing 1" in text
