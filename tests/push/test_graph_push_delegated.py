"""Graph subscriptions of delegated Microsoft accounts (the user's own `followup connect
microsoft`, no organisation-wide grant): made, renewed and deleted on me/... with the
account's own token, got through msal from its sealed cache (msal's real public client
against the fake authority), beside app-only accounts that keep the tenant's app token.

The authority's access tokens here live 60 s, under msal's 5-minute margin: every token
msal hands out is a new one from the refresh token, so a renewal's token is provably not
the one the subscription was made with.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from followup.company.store import AccountStore, token_files
from followup.config import Config, MicrosoftAccount
from followup.providers.microsoft import connect_microsoft
from followup.push.channels import ChannelStore

from . import test_graph_push
from .conftest import Served, jobs, wait_for
from .test_graph_push import CLIENT_ID, ROLES, Tenant

tenant = test_graph_push.tenant  # its fixture: the fake authority and Graph, the app

PUBLIC_CLIENT = "11111111-2222-3333-4444-555555555555"  # the users' own app registration
HALF_LIFE_LATER = timedelta(days=3, hours=13)


def connect_delegated(
    tenant: Tenant, accounts: AccountStore, tmp: Path, name: str, address: str
) -> None:
    """`followup connect microsoft` (device code, msal against the fake authority), then
    the account added to company tenant `acme` with the token files it left, sealed."""
    tenant.authority.user = address
    tenant.authority.expires_in = 60
    cfg = MicrosoftAccount(
        name=name,
        client_id=PUBLIC_CLIENT,
        tenant="organizations",
        authority_url=tenant.authority.url,
        graph_url=tenant.graph.url,
        ca_bundle=str(tenant.ca.bundle),
    )
    config = Config(state_dir=str(tmp / f"state-{name}"), accounts=[cfg])
    out = io.StringIO()
    assert (
        connect_microsoft(cfg, config, tenant=None, client_id=None, browser=False, out=out) == 0
    ), out.getvalue()
    files = token_files(config.state_path() / "tokens", name)
    assert ".msal.json" in files
    accounts.add_account(
        "acme", cfg.model_dump(mode="json"), user={"addresses": [address]}, credential=files
    )


def delegated(tenant: Tenant, token: str) -> bool:
    """Issued by the authority to a user (refresh or device code grant), not to the app."""
    return token in tenant.authority.access_tokens and token not in tenant.authority.app_tokens


def subs_of(tenant: Tenant, resource_prefix: str) -> list[dict[str, object]]:
    return [
        s
        for s in tenant.graph.subscriptions.values()
        if str(s["resource"]).startswith(resource_prefix)
    ]


def test_delegated_account_subscribes_with_its_own_token_beside_app_only_ones(
    served: Served,
    db: tuple[str, Engine],
    accounts: AccountStore,
    channels: ChannelStore,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    url = db[0]
    # contoso: organisation-wide (app-only) accounts alice and bob.
    tenant.authority.consent(CLIENT_ID, *ROLES)
    assert tenant.add_tenant(url)[0] == 0
    assert (
        tenant.admin(url, "sync-users", "--tenant", "contoso", "--group", "sales@contoso.example")[
            0
        ]
        == 0
    )
    # acme: no grant; dana connected herself.
    connect_delegated(tenant, accounts, tmp_path, "dana", "dana@acme.example")
    sealed = accounts.credential("dana")

    renewer = served.ingest.renewer
    report = renewer.run_once()
    assert report is not None and report.created == 6 and report.failed == 0, report
    mine = subs_of(tenant, "me/")
    assert sorted(s["resource"] for s in mine) == ["me/events", "me/messages"]
    for sub in mine:
        ((op, token),) = tenant.graph.calls[str(sub["id"])]
        assert op == "create" and delegated(tenant, token)
        assert sub["notificationUrl"] == served.url + "/graph/notify"
        assert sub["lifecycleNotificationUrl"] == served.url + "/graph/lifecycle"
        stored = channels.get(str(sub["id"]))
        assert stored is not None and stored.account == "dana"
        assert stored.resource == "dana@acme.example"
        assert (
            timedelta(days=6) < stored.expires_at - stored.renewed_at <= timedelta(minutes=10_080)
        )
    # The app-only accounts kept the tenant's app token, on users/{address}/...
    app_subs = subs_of(tenant, "users/")
    assert len(app_subs) == 4
    assert all(
        tenant.graph.calls[str(s["id"])][0][1] in tenant.authority.app_tokens for s in app_subs
    )
    assert len({s["clientState"] for s in tenant.graph.subscriptions.values()}) == 6
    # msal refreshed with the sealed refresh token, and the new cache was sealed again.
    assert "refresh_token" in tenant.authority.grants
    assert accounts.credential("dana") != sealed

    # A genuine notice on dana's subscription queues one sync of dana.
    events = next(s for s in mine if s["resource"] == "me/events")
    sid = str(events["id"])
    with channels.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    assert tenant.graph.notify(sid) == 202
    assert tenant.graph.notify(sid, "created") == 202
    assert wait_for(lambda: channels.get(sid).notices >= 2)  # type: ignore[union-attr]
    assert wait_for(lambda: jobs(channels.engine))
    time.sleep(0.3)  # the second notice's wake-up, queued after its count
    assert [j.queueing_lock for j in jobs(channels.engine)] == ["dana"]

    # reauthorizationRequired: renewed (one PATCH: renews and reauthorizes) in the next
    # round, with a token msal got just now.
    assert tenant.graph.lifecycle(sid, "reauthorizationRequired") == 202
    assert wait_for(lambda: sid in renewer.urgent)
    report = renewer.run_once()
    assert report is not None and report.renewed == 1 and not renewer.urgent, report
    (created, updated) = tenant.graph.calls[sid]
    assert updated[0] == "update" and delegated(tenant, updated[1])
    assert updated[1] != created[1]

    # Half-life: both of dana's subscriptions PATCHed, each with a new delegated token.
    later = datetime.now(UTC) + HALF_LIFE_LATER
    renewer.clock = tenant.graph.clock = lambda: later
    report = renewer.run_once()
    assert report is not None and report.renewed == 6 and report.failed == 0, report
    for sub in mine:
        calls = tenant.graph.calls[str(sub["id"])]
        assert calls[-1][0] == "update" and delegated(tenant, calls[-1][1])
        assert calls[-1][1] not in {token for _, token in calls[:-1]}
        stored = channels.get(str(sub["id"]))
        assert stored is not None and stored.renewed_at == later and stored.failures == 0


def test_revoked_grant_marks_the_channels_failed_and_asks_no_more(
    served: Served,
    db: tuple[str, Engine],
    accounts: AccountStore,
    channels: ChannelStore,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    from followup.company.worker import open_worker

    connect_delegated(tenant, accounts, tmp_path, "dana", "dana@acme.example")
    renewer = served.ingest.renewer
    report = renewer.run_once()
    assert report is not None and report.created == 2, report

    tenant.authority.revoke_all()  # the user revoked followup's access (invalid_grant)
    later = datetime.now(UTC) + HALF_LIFE_LATER
    renewer.clock = tenant.graph.clock = lambda: later
    report = renewer.run_once()  # no exception escapes the round
    assert report is not None and report.failed == 2 and report.renewed == 0, report
    for ch in channels.for_account("dana"):
        assert ch.failures == 1 and ch.last_error is not None
        assert "needs reconnect" in ch.last_error and "invalid_grant" in ch.last_error
    status = channels.status()
    assert status["push_channels_failing"] == 2 and status["push_channels_graph_events"] == 1
    code, out, _ = tenant.admin(db[0], "push", "status", "--json")
    assert code == 0 and json.loads(out)["push_channels_failing"] == 2
    assert ".reconnect" in accounts.credential("dana")  # sealed, like a sync leaves it

    # The next rounds fail at once: no request to the authority, nothing sent to Graph.
    asked = len(tenant.authority.grants)
    graph_calls = len(tenant.graph.log)
    report = renewer.run_once()
    assert report is not None and report.failed == 2, report
    assert len(tenant.authority.grants) == asked and len(tenant.graph.log) == graph_calls
    assert all(ch.failures == 2 for ch in channels.for_account("dana"))
    # Once lapsed, the subscriptions are forgotten; none can be made until a reconnect.
    renewer.clock = lambda: later + timedelta(days=4)
    report = renewer.run_once()
    assert report is not None and report.created == 0 and report.failed == 1, report
    assert channels.for_account("dana") == []
    report = renewer.run_once()  # then quiet: nothing to mark, nothing to ask
    assert report is not None and report.failed == 0 and report.created == 0, report
    assert len(tenant.authority.grants) == asked and len(tenant.graph.log) == graph_calls

    # The sync says what the user must do, as for any revoked delegated account.
    worker = open_worker(db[0], store=accounts)
    try:
        assert worker.sync("dana", "test") == "needs_reconnect"
    finally:
        worker.engine.dispose()
    record = accounts.get("dana")
    assert record is not None and record.needs_reconnect


def test_disabled_or_forgotten_delegated_accounts_lose_their_subscriptions(
    served: Served,
    db: tuple[str, Engine],
    accounts: AccountStore,
    channels: ChannelStore,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    connect_delegated(tenant, accounts, tmp_path, "dana", "dana@acme.example")
    connect_delegated(tenant, accounts, tmp_path, "erin", "erin@acme.example")
    renewer = served.ingest.renewer
    report = renewer.run_once()
    assert report is not None and report.created == 4, report
    ids = {name: {c.id for c in channels.for_account(name)} for name in ("dana", "erin")}

    # Disabled: the next round deletes dana's subscriptions at Graph, with her token.
    accounts.set_enabled("dana", False)
    report = renewer.run_once()
    assert report is not None and report.stopped == 2 and report.failed == 0, report
    assert not channels.for_account("dana")
    for sid in ids["dana"]:
        assert sid not in tenant.graph.subscriptions
        op, token = tenant.graph.calls[sid][-1]
        assert op == "delete" and delegated(tenant, token)

    # Forgotten (disabled, then `account forget` before any round): deleted at once,
    # while the sealed sign-in still exists; then the credential goes.
    accounts.set_enabled("erin", False)
    code, out, err = tenant.admin(db[0], "account", "forget", "erin")
    assert code == 0 and "2 channel(s) stopped" in out, out + err
    assert not any(sid in tenant.graph.subscriptions for sid in ids["erin"])
    record = accounts.get("erin")
    assert record is not None and not record.has_credential
    assert tenant.graph.subscriptions == {}
