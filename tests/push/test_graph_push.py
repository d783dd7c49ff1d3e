"""Microsoft 365 organisation-wide: an app with a certificate (msal's real confidential
client against the fake authority), tenant check, group sync, and Graph subscriptions
with the validation handshake against the real webhook, renewal at half-life,
lifecycle notices, forged clientState."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from followup.company.store import AccountStore
from followup.push.admin import main_push_admin
from followup.push.channels import ChannelStore
from microsoft import tls

from .conftest import Served, jobs, wait_for
from .fake_graph_push import AppAuthority, FakeGraphPush, self_signed_certificate

CLIENT_ID = "0a1b2c3d-0000-4000-8000-00000000abcd"
ROLES = ("Calendars.ReadWrite", "Mail.ReadWrite", "Contacts.ReadWrite", "GroupMember.Read.All")


class Tenant:
    def __init__(self, tmp: Path) -> None:
        self.ca = tls.TestCA(tmp)
        self.graph = FakeGraphPush(self.ca, me="alice@contoso.example")
        self.authority = AppAuthority(self.ca, accept_token=self.graph.tokens.add)
        self.graph.authority = self.authority
        self.pem = self_signed_certificate()
        self.cert_file = tmp / "app.pem"
        self.cert_file.write_text(self.pem)
        self.authority.register_app(CLIENT_ID, self.pem)
        self.graph.add_group("sales@contoso.example",
                             ["alice@contoso.example", "bob@contoso.example"])

    def admin(self, url: str, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main_push_admin(["--database", url, *args], out, err)
        return code, out.getvalue(), err.getvalue()

    def add_tenant(self, url: str, user: str = "alice@contoso.example") -> tuple[int, str, str]:
        return self.admin(url, "tenant", "add", "microsoft", "--tenant", "contoso",
                          "--tenant-id", self.authority.tenant_id, "--client-id", CLIENT_ID,
                          "--certificate", str(self.cert_file), "--check-user", user,
                          "--authority-url", self.authority.url, "--graph-url", self.graph.url,
                          "--ca-bundle", str(self.ca.bundle))

    def close(self) -> None:
        self.graph.close()
        self.authority.close()


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant]:
    # requests lets these replace a session's CA bundle: the tenant's own (the fake's CA)
    # must win over them.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-ca.pem"))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "no-such-ca.pem"))
    t = Tenant(tmp_path)
    yield t
    t.close()


def test_tenant_add_says_exactly_what_is_missing(db: tuple[str, Engine], tenant: Tenant) -> None:
    url = db[0]
    code, _, err = tenant.add_tenant(url)
    assert code == 1
    assert "application permissions without admin consent: Calendars.ReadWrite, " \
        "Mail.ReadWrite, Contacts.ReadWrite" in err
    assert "nothing stored" in err

    tenant.authority.consent(CLIENT_ID, *ROLES)
    tenant.graph.policy = {"bob@contoso.example"}  # the access policy's group lacks Alice
    code, _, err = tenant.add_tenant(url)
    assert code == 1 and "alice@contoso.example is outside the app's mailbox scope" in err
    assert "RAOP" in err

    tenant.graph.policy = None
    code, out, err = tenant.add_tenant(url)
    assert code == 0, err
    assert "microsoft organisation access works" in out
    # One app token for the tenant however many calls: msal's cache in the one app.
    grants_before = tenant.authority.grants.count("client_credentials")
    assert tenant.admin(url, "sync-users", "--tenant", "contoso", "--group",
                        "sales@contoso.example")[0] == 0
    assert tenant.authority.grants.count("client_credentials") == grants_before


def test_wrong_certificate_is_named(db: tuple[str, Engine], tenant: Tenant,
                                    tmp_path: Path) -> None:
    tenant.cert_file.write_text(self_signed_certificate())  # not the uploaded one
    code, _, err = tenant.add_tenant(db[0])
    assert code == 1 and "AADSTS700027" in err and "Certificates & secrets" in err


def test_subscriptions_notices_lifecycle_and_renewal(
        served: Served, db: tuple[str, Engine], accounts: AccountStore,
        channels: ChannelStore, tenant: Tenant) -> None:
    url = db[0]
    tenant.authority.consent(CLIENT_ID, *ROLES)
    assert tenant.add_tenant(url)[0] == 0
    code, out, _ = tenant.admin(url, "sync-users", "--tenant", "contoso", "--group",
                                "sales@contoso.example")
    assert code == 0 and "2 account(s) added" in out
    names = sorted(r.name for r in accounts.accounts("contoso"))
    assert names == ["alice-contoso.example", "bob-contoso.example"]

    renewer = served.ingest.renewer
    report = renewer.run_once()
    assert report is not None and report.created == 4 and report.failed == 0, report
    assert len(tenant.graph.subscriptions) == 4
    sub = next(s for s in tenant.graph.subscriptions.values()
               if s["resource"] == "users/alice%40contoso.example/events"
               or s["resource"] == "users/alice@contoso.example/events")
    assert sub["notificationUrl"] == served.url + "/graph/notify"
    assert sub["lifecycleNotificationUrl"] == served.url + "/graph/lifecycle"
    # Each subscription has its own clientState; only a hash is stored here.
    states = {s["clientState"] for s in tenant.graph.subscriptions.values()}
    assert len(states) == 4
    stored = channels.get(sub["id"])
    assert stored is not None and stored.secret_hash not in states
    expires = stored.expires_at - stored.renewed_at
    assert timedelta(days=6) < expires <= timedelta(minutes=10_080)
    alice = "alice-contoso.example"

    with channels.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    # A forged notice (another subscription's clientState): dropped.
    other = next(s for s in tenant.graph.subscriptions.values() if s["id"] != sub["id"])
    assert tenant.graph.notify(sub["id"], client_state=other["clientState"]) == 202
    assert wait_for(lambda: channels.get(sub["id"]).forged == 1)  # type: ignore[union-attr]
    assert not jobs(channels.engine)
    # Real ones, twice: one sync.
    assert tenant.graph.notify(sub["id"]) == 202
    assert tenant.graph.notify(sub["id"], "created") == 202
    assert wait_for(lambda: channels.get(sub["id"]).notices >= 2)  # type: ignore[union-attr]
    assert wait_for(lambda: jobs(channels.engine))
    time.sleep(0.3)  # the second notice's wake-up, queued after its count
    assert [j.queueing_lock for j in jobs(channels.engine)] == [alice]

    # missed: a sync (delta) is queued; the waiting one already covers it.
    with channels.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
    assert tenant.graph.lifecycle(sub["id"], "missed") == 202
    assert wait_for(lambda: jobs(channels.engine, alice))

    # reauthorizationRequired: renewed in the next round, before half-life.
    before = tenant.graph.subscriptions[sub["id"]]["expirationDateTime"]
    assert tenant.graph.lifecycle(sub["id"], "reauthorizationRequired") == 202
    assert wait_for(lambda: sub["id"] in renewer.urgent)
    report = renewer.run_once()
    assert report is not None and report.renewed == 1 and not renewer.urgent
    assert channels.get(sub["id"]).renewed_at > stored.renewed_at  # type: ignore[union-attr]
    assert tenant.graph.subscriptions[sub["id"]]["expirationDateTime"] >= before

    # Half-life: every subscription renewed with PATCH, within the maximum lifetime.
    later = datetime.now(UTC) + timedelta(days=3, hours=13)
    renewer.clock = tenant.graph.clock = lambda: later
    report = renewer.run_once()
    assert report is not None and report.renewed == 4 and report.created == 0, report
    assert tenant.graph.routes["subscriptions.update"] == 5

    # subscriptionRemoved: forgotten now, created again by the next round.
    renewer.clock = tenant.graph.clock = lambda: datetime.now(UTC)
    assert tenant.graph.lifecycle(sub["id"], "subscriptionRemoved") == 202
    assert wait_for(lambda: channels.get(sub["id"]) is None)
    report = renewer.run_once()
    assert report is not None and report.created == 1
    assert len([c for c in channels.for_account(alice) if c.kind == "graph_events"]) == 1

    # Opt-out and forget: subscriptions deleted at Graph, data gone, not re-added by sync.
    assert tenant.admin(url, "account", "forget", alice)[0] == 1  # still enabled
    accounts.set_enabled(alice, False)
    code, out, _ = tenant.admin(url, "account", "forget", alice)
    assert code == 0 and "2 channel(s) stopped" in out, out
    assert not channels.for_account(alice)
    assert all("alice" not in s["resource"] for s in tenant.graph.subscriptions.values())
    code, out, _ = tenant.admin(url, "sync-users", "--tenant", "contoso", "--group",
                                "sales@contoso.example")
    assert "0 account(s) added, 2 already known" in out
    record = accounts.get(alice)
    assert record is not None and not record.enabled and not record.has_credential


def test_validation_failure_leaves_no_subscription(
        db: tuple[str, Engine], accounts: AccountStore, channels: ChannelStore,
        tenant: Tenant, served: Served) -> None:
    tenant.authority.consent(CLIENT_ID, *ROLES)
    assert tenant.add_tenant(db[0])[0] == 0
    tenant.admin(db[0], "sync-users", "--tenant", "contoso", "--group", "sales@contoso.example")
    renewer = served.ingest.renewer
    renewer.settings.public_url = "http://127.0.0.1:9"  # nothing listens: no handshake
    report = renewer.run_once()
    assert report is not None and report.created == 0 and report.failed == 2
    assert tenant.graph.subscriptions == {} and channels.all() == []


def test_an_app_only_account_syncs_its_mailbox_with_the_tenant_token(
        db: tuple[str, Engine], accounts: AccountStore, tenant: Tenant) -> None:
    """The worker's sync of an account added by sync-users: the engine's real cycle, the
    Microsoft provider on the app token, every request on /users/{mailbox}."""
    from followup.company.worker import open_worker

    url = db[0]
    tenant.authority.consent(CLIENT_ID, *ROLES)
    assert tenant.add_tenant(url)[0] == 0
    assert tenant.admin(url, "sync-users", "--tenant", "contoso", "--group",
                        "sales@contoso.example")[0] == 0
    ended = datetime.now(UTC) - timedelta(hours=2)
    tenant.graph.add_event("Partnership call", ended, 30, attendees=[
        ("alice@contoso.example", "Alice", "required", "accepted"),
        ("jane@partner.example", "Jane Doe", "required", "accepted")])
    worker = open_worker(url, store=accounts)
    before = len(tenant.graph.log)
    try:
        assert worker.sync("alice-contoso.example", "test") == "done"
    finally:
        worker.engine.dispose()
    record = accounts.get("alice-contoso.example")
    assert record is not None and record.last_error is None
    paths = [p for _, p in tenant.graph.log[before:] if p != "/v1.0/$batch"]
    assert paths and all(p.startswith("/v1.0/users/alice@contoso.example/")
                         or p.startswith("/v1.0/me/calendarView/delta") for p in paths), paths
    (draft,) = tenant.graph.drafts()  # the follow-up to Jane, written as Alice
    assert draft["toRecipients"][0]["emailAddress"]["address"] == "jane@partner.example"
    assert tenant.authority.grants.count("client_credentials") >= 1
    assert "device_code" not in " ".join(tenant.authority.grants)
