"""The periodic renewal: every account that should have channels has them, alive.

Run by `followup ingest` every few minutes (and on demand by `followup admin push renew`),
by one process at a time (a PostgreSQL advisory lock):
1. channels of accounts removed or disabled are stopped at the provider and forgotten;
2. each enabled account gets the channels it lacks (Gmail watch when a Pub/Sub topic is
   set, a Calendar channel per calendar when a public URL is set, Graph subscriptions on
   events and messages with a webhook or Event Hubs: with the tenant's app token when the
   tenant has an organisation-wide grant, else with the account's own delegated token);
3. channels are renewed before they lapse: Gmail watch daily, Calendar channels in the
   last quarter of their life (a new channel, then the old one stopped), Graph
   subscriptions at half-life or when Graph asked for reauthorization.
A failure is counted on the channel (status and /metrics show failing channels) and tried
again next round; polling covers the gap meanwhile.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.engine import Engine

from followup.company.store import AccountStore
from followup.push.channels import Channel, ChannelStore, new_secret
from followup.push.orgstore import OrgGrant, OrgStore
from followup.push.paths import CALENDAR_PATH, GRAPH_LIFECYCLE_PATH, GRAPH_PATH
from followup.push.providers import ChannelGone, GoogleChannels, GraphChannels

log = structlog.get_logger(__name__)

_RENEW_LOCK = 0x66757035
GMAIL_EVERY = timedelta(days=1)
# A channel to a removed account is given up after this many failed stops (it lapses).
STOP_TRIES = 3


@dataclass
class PushSettings:
    public_url: str | None = None  # https://push.example.com (webhooks)
    gmail_topic: str | None = None  # projects/P/topics/T, unless the tenant has its own
    eventhub_url: str | None = None  # EventHub:https://NS.servicebus.windows.net/...
    calendar_ttl: timedelta = timedelta(days=7)

    def url(self, path: str) -> str | None:
        return self.public_url.rstrip("/") + path if self.public_url else None


@dataclass
class RenewReport:
    created: int = 0
    renewed: int = 0
    stopped: int = 0
    failed: int = 0
    skipped: list[str] = field(default_factory=list)


GoogleFactory = Callable[[str, Any, dict[str, Any]], GoogleChannels]


def google_channels_for(name: str, cfg: Any, info: dict[str, Any]) -> GoogleChannels:
    from followup.providers.google.credentials import build_credentials
    from followup.providers.google.transport import SessionHttp

    http = SessionHttp.for_credentials(build_credentials(info, cfg), timeout=cfg.request_timeout)
    return GoogleChannels(http, cfg.calendar_url, cfg.gmail_url)


class Renewer:
    def __init__(self, engine: Engine, accounts: AccountStore, channels: ChannelStore,
                 orgs: OrgStore, settings: PushSettings, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 google: GoogleFactory = google_channels_for) -> None:
        self.engine = engine
        self.accounts = accounts
        self.channels = channels
        self.orgs = orgs
        self.settings = settings
        self.clock = clock
        self.google = google
        self.urgent: set[str] = set()  # Graph asked to reauthorize these
        self.kick = threading.Event()
        self._stop_failures: dict[str, int] = {}
        self._grants: dict[str, OrgGrant | None] = {}

    def reauthorize(self, channel: Channel) -> None:
        self.urgent.add(channel.id)
        self.kick.set()

    def run_once(self) -> RenewReport | None:
        """One round; None when another process holds the renewal lock."""
        with self.engine.connect() as conn:
            got = conn.scalar(text("SELECT pg_try_advisory_lock(:ns, hashtext(current_schema()))"),
                              {"ns": _RENEW_LOCK})
            conn.commit()
            if not got:
                return None
            try:
                return self._round()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:ns, hashtext(current_schema()))"),
                             {"ns": _RENEW_LOCK})
                conn.commit()

    def _round(self) -> RenewReport:
        report = RenewReport()
        now = self.clock()
        self._grants = {}
        records = {r.name: r for r in self.accounts.accounts()}
        by_account: dict[str, list[Channel]] = {}
        for ch in self.channels.all():
            record = records.get(ch.account)
            if record is None or not record.enabled:
                self._stop(ch, report, record_gone=record is None)
            else:
                by_account.setdefault(ch.account, []).append(ch)
        for name, record in records.items():
            if not record.enabled or (not record.has_credential and record.kind != "microsoft"):
                continue
            try:
                self._account(name, record.tenant, record.kind, by_account.get(name, []),
                              now, report)
            except Exception as e:  # one account's trouble must not stop the round
                report.failed += 1
                log.warning("push.account_failed", account=name, error=f"{type(e).__name__}: {e}")
        if report.created or report.renewed or report.stopped or report.failed:
            log.info("push.renewed", created=report.created, renewed=report.renewed,
                     stopped=report.stopped, failed=report.failed)
        return report

    # --- one account ----------------------------------------------------------------------

    def _config(self, name: str) -> tuple[Any, Any]:
        config, account = self.accounts.config_for(
            name, ledger_url="postgresql://unused", state_dir=Path("/nonexistent"))
        return config, account

    def _grant(self, tenant: str) -> OrgGrant | None:
        if tenant not in self._grants:  # unsealed once per tenant and round
            self._grants[tenant] = self.orgs.get(tenant)
        return self._grants[tenant]

    def _due(self, ch: Channel, now: datetime) -> bool:
        if ch.expires_at <= now or ch.id in self.urgent:
            return True
        if ch.kind == "gmail":
            return now - ch.renewed_at >= min(GMAIL_EVERY, ch.lifetime() / 2)
        if ch.kind == "calendar":
            return ch.expires_at - now <= ch.lifetime() / 4
        return now - ch.renewed_at >= ch.lifetime() / 2  # Graph: half-life

    def _complete(self, kind: str, tenant: str, have: list[Channel]) -> bool:
        """Has every kind of channel it should (the idle fast path: no credential, no
        config read for an account whose channels are all fresh)."""
        kinds = {c.kind for c in have}
        if kind == "microsoft":
            return {"graph_events", "graph_messages"} <= kinds
        grant = self._grant(tenant)
        topic = (grant.settings.get("pubsub_topic") if grant else None) or \
            self.settings.gmail_topic
        return (not topic or "gmail" in kinds) and (
            not self.settings.public_url or "calendar" in kinds)

    def _account(self, name: str, tenant: str, kind: str, have: list[Channel], now: datetime,
                 report: RenewReport) -> None:
        if have and not any(self._due(c, now) for c in have) and \
                self._complete(kind, tenant, have):
            return
        if kind == "google":
            self._google(name, tenant, have, now, report)
        elif kind == "microsoft":
            self._graph(name, tenant, have, now, report)

    def _google(self, name: str, tenant: str, have: list[Channel], now: datetime,
                report: RenewReport) -> None:
        grant = self._grant(tenant)
        topic = (grant.settings.get("pubsub_topic") if grant else None) or \
            self.settings.gmail_topic
        address = self.settings.url(CALENDAR_PATH)
        if not topic and not address:
            return
        _, cfg = self._config(name)
        files = self.accounts.credential(name)
        info = json.loads(files.get(".json", b"{}"))
        ops = self.google(name, cfg, info)
        gmail = [c for c in have if c.kind == "gmail"]
        if topic:
            if not gmail:
                mailbox = info.get("subject") or ops.mailbox()
                expires = ops.watch_gmail(topic)
                self.channels.add(id=f"gmail:{name}", account=name, tenant=tenant, kind="gmail",
                                  resource=mailbox, expires_at=expires, now=now)
                report.created += 1
            elif self._due(gmail[0], now):
                self._attempt(gmail[0], report, lambda: self.channels.renewed(
                    gmail[0].id, ops.watch_gmail(topic), now=now))
        if address:
            calendars = {c.resource: c for c in have if c.kind == "calendar"}
            for gone in [c for c in calendars.values() if c.resource not in cfg.calendars]:
                # A calendar taken out of the account's settings: its channel goes too.
                self._attempt(gone, report, functools.partial(self._close_calendar, ops, gone))
            for cal in cfg.calendars:
                old = calendars.get(cal)
                if old is not None and not self._due(old, now):
                    continue
                secret = new_secret()
                opened = ops.watch_calendar(cal, address, secret, self.settings.calendar_ttl)
                self.channels.add(id=opened.id, account=name, tenant=tenant, kind="calendar",
                                  resource=cal, resource_id=opened.resource_id, secret=secret,
                                  expires_at=opened.expires_at, now=now)
                if old is None:
                    report.created += 1
                else:  # the new one is open: the old one can go
                    report.renewed += 1
                    self._attempt(old, report, functools.partial(self._close_calendar, ops, old))

    def _graph(self, name: str, tenant: str, have: list[Channel], now: datetime,
               report: RenewReport) -> None:
        notify = self.settings.eventhub_url or self.settings.url(GRAPH_PATH)
        if notify is None:
            return
        grant = self._grant(tenant)
        if grant is not None and grant.provider == "microsoft":
            from followup.push.org_microsoft import AppCredential

            config, _ = self._config(name)
            if not config.user.addresses:
                report.skipped.append(name)
                return
            ops = GraphChannels.for_app(AppCredential.from_json(grant.secret))
            user = config.user.addresses[0]
            self._subscriptions(ops, name, tenant, user, user, notify, have, now, report)
            return
        from followup.push.delegated import RECONNECT_SUFFIX, delegated_channels, is_delegated

        files = self.accounts.credential(name)
        if not is_delegated(files):
            return  # no tenant grant and no sign-in of its own: nothing to subscribe with
        if RECONNECT_SUFFIX in files and not have:
            return  # signed out, its channels failed and gone: quiet until a reconnect
        # The user's own sign-in: subscriptions on me/..., every call with their token.
        with delegated_channels(self.accounts, name, files) as ops:
            mailbox = getattr(ops.tokens, "username", "") or "me"  # shown by push status
            self._subscriptions(ops, name, tenant, None, mailbox, notify, have, now, report)

    def _subscriptions(self, ops: GraphChannels, name: str, tenant: str, user: str | None,
                       mailbox: str, notify: str, have: list[Channel], now: datetime,
                       report: RenewReport) -> None:
        """Each Graph subscription of the account created, or renewed when due (a PATCH
        with a current token, which also answers a reauthorizationRequired)."""
        lifecycle = None if self.settings.eventhub_url else self.settings.url(GRAPH_LIFECYCLE_PATH)
        kinds = {c.kind: c for c in have}
        for lapsed in [c for c in have if c.expires_at <= now]:  # Graph has deleted them
            self.channels.remove(lapsed.id)
            del kinds[lapsed.kind]
        for kind in GraphChannels.RESOURCES:
            ch = kinds.get(kind)
            if ch is not None and not self._due(ch, now):
                continue
            if ch is not None:
                try:
                    expires = ops.renew(ch.id, now)
                except ChannelGone:
                    self.channels.remove(ch.id)
                except Exception as e:
                    self.channels.failed(ch.id, f"{type(e).__name__}: {e}")
                    report.failed += 1
                    log.warning("push.renewal_failed", channel=ch.id, account=name,
                                error=type(e).__name__)
                    continue
                else:
                    self.channels.renewed(ch.id, expires, now=now)
                    self.urgent.discard(ch.id)
                    report.renewed += 1
                    continue
            secret = new_secret()
            opened = ops.subscribe(kind, user, notify, lifecycle, secret, now)
            self.channels.add(id=opened.id, account=name, tenant=tenant, kind=kind,
                              resource=mailbox, secret=secret, expires_at=opened.expires_at,
                              now=now)
            report.created += 1

    # --- helpers --------------------------------------------------------------------------

    def _close_calendar(self, ops: GoogleChannels, old: Channel) -> None:
        ops.stop_channel(old.id, old.resource_id)
        self.channels.remove(old.id)

    def _attempt(self, ch: Channel, report: RenewReport, action: Callable[[], Any]) -> None:
        """Run a renewal step of `ch`; a failure is counted on the channel, not raised."""
        try:
            action()
        except Exception as e:
            self.channels.failed(ch.id, f"{type(e).__name__}: {e}")
            report.failed += 1
            log.warning("push.renewal_failed", channel=ch.id, account=ch.account,
                        error=type(e).__name__)
        else:
            if ch.kind == "gmail":
                report.renewed += 1

    def _delete_subscription(self, ch: Channel, *, record_gone: bool) -> None:
        grant = self.orgs.get(ch.tenant)
        if grant is not None and grant.provider == "microsoft":
            from followup.push.org_microsoft import AppCredential

            GraphChannels.for_app(AppCredential.from_json(grant.secret)).delete(ch.id)
            return
        from followup.push.delegated import delegated_channels, is_delegated

        # A removed delegated account's sign-in is gone with its row: its subscriptions
        # lapse by themselves (at most 7 days) and their notices find no channel.
        files = {} if record_gone else self.accounts.credential(ch.account)
        if is_delegated(files):
            with delegated_channels(self.accounts, ch.account, files) as ops:
                ops.delete(ch.id)

    def stop_account(self, name: str) -> int:
        """Stop every channel of `name` now (forget, removal); returns how many."""
        report = RenewReport()
        for ch in self.channels.for_account(name):
            self._stop(ch, report, record_gone=False, force=True)
        return report.stopped

    def _stop(self, ch: Channel, report: RenewReport, *, record_gone: bool,
              force: bool = False) -> None:
        try:
            if ch.kind in ("graph_events", "graph_messages"):
                self._delete_subscription(ch, record_gone=record_gone)
            elif not record_gone:  # Google needs the account's credential to stop
                _, cfg = self._config(ch.account)
                info = json.loads(self.accounts.credential(ch.account).get(".json", b"{}"))
                ops = self.google(ch.account, cfg, info)
                if ch.kind == "gmail":
                    ops.stop_gmail()
                else:
                    ops.stop_channel(ch.id, ch.resource_id)
            # A removed Google account's credential is gone with its row: its channels
            # lapse by themselves (at most a week) and their notices find no channel.
        except Exception as e:
            tries = self._stop_failures.get(ch.id, 0) + 1
            self._stop_failures[ch.id] = tries
            self.channels.failed(ch.id, f"stop: {type(e).__name__}: {e}")
            report.failed += 1
            if tries < STOP_TRIES and not force:
                return
        self.channels.remove(ch.id)
        report.stopped += 1
        log.info("push.channel_stopped", channel=ch.id, account=ch.account, kind=ch.kind)
