"""Creating, renewing and stopping channels at Google and Microsoft Graph.

Google (with the account's own credentials: an authorized-user grant or a delegated
service account):
- Gmail users.watch into a Pub/Sub topic for the INBOX and SENT labels (invitations,
  replies, mail the user sent); watching again is the renewal (Google: at least every 7
  days, daily recommended); users.stop when the account goes.
- Calendar events.watch: a web_hook channel per calendar with its own token; channels
  cannot be extended, so a renewal opens a new one and then stops the old one
  (channels.stop with its id and resourceId).

Microsoft Graph (with the tenant's app token on users/{address}/..., or the account's own
delegated token on me/...): subscriptions on the user's events (created, updated, deleted)
and messages (created), each with its own clientState, a notification URL (a webhook, or
an Event Hubs URL) and a lifecycle URL; renewed with PATCH at half-life, within 10,080
minutes (Outlook resources without resource data); DELETE when the account goes.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol
from urllib.parse import quote

from followup.errors import FollowupError

GMAIL_LABELS = ["INBOX", "SENT"]
CALENDAR_TTL = timedelta(days=7)
GRAPH_MAX_LIFETIME = timedelta(minutes=10_080)
# Asked for a little under the maximum: Graph refuses an expiration beyond it.
GRAPH_LIFETIME = GRAPH_MAX_LIFETIME - timedelta(minutes=30)


class ChannelGone(FollowupError):
    """The provider no longer knows the channel (404): it must be created anew."""


@dataclass(frozen=True)
class Opened:
    id: str
    resource_id: str | None
    expires_at: datetime


def from_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


class GoogleChannels:
    """Gmail watch and Calendar channels of one account, through its SessionHttp."""

    def __init__(self, http: Any, calendar_url: str, gmail_url: str) -> None:
        from followup.providers.google.services import service

        self.http = http
        self.calendar = service("calendar", "v3", calendar_url)
        self.gmail = service("gmail", "v1", gmail_url)

    def mailbox(self) -> str:
        profile = self.gmail.users().getProfile(userId="me").execute(http=self.http)
        return str(profile["emailAddress"])

    def watch_gmail(self, topic: str) -> datetime:
        answer = self.gmail.users().watch(userId="me", body={
            "topicName": topic, "labelIds": GMAIL_LABELS, "labelFilterBehavior": "include",
        }).execute(http=self.http)
        return from_ms(answer["expiration"])

    def stop_gmail(self) -> None:
        self.gmail.users().stop(userId="me").execute(http=self.http)

    def watch_calendar(self, calendar_id: str, address: str, token: str,
                       ttl: timedelta = CALENDAR_TTL) -> Opened:
        channel_id = str(uuid.uuid4())
        answer = self.calendar.events().watch(calendarId=calendar_id, body={
            "id": channel_id, "type": "web_hook", "address": address, "token": token,
            "params": {"ttl": str(int(ttl.total_seconds()))},
        }).execute(http=self.http)
        return Opened(channel_id, answer.get("resourceId"), from_ms(answer["expiration"]))

    def stop_channel(self, channel_id: str, resource_id: str | None) -> None:
        from googleapiclient.errors import HttpError

        try:
            self.calendar.channels().stop(body={"id": channel_id, "resourceId": resource_id}
                                          ).execute(http=self.http)
        except HttpError as e:
            if e.resp.status != 404:  # already gone: what we wanted
                raise


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse(value: str) -> datetime:
    """Graph's UTC times ("2026-11-29T10:00:00.0000000Z"), to the second."""
    return datetime.fromisoformat(value[:19]).replace(tzinfo=UTC)


class TokenSource(Protocol):
    """What gives Graph tokens: the tenant's app (org_microsoft.AppTokens) or one signed-in
    user's msal cache (providers.microsoft.auth.MsalTokens), as the provider uses them."""

    def access_token(self, *, force_refresh: bool = False) -> str: ...


class GraphChannels:
    """Graph subscriptions of one mailbox, with the token source it is reached with.

    App-only (`for_app`): resources under users/{address}, the tenant's app token.
    Delegated (a user's own token): resources under me/, the only mailbox Graph lets a
    delegated token subscribe to; every call (create, renew, delete) with that user's
    current token, so a renewal also reauthorizes the subscription.
    """

    RESOURCES: ClassVar[dict[str, tuple[str, str]]] = {
        "graph_events": ("events", "created,updated,deleted"),
        "graph_messages": ("messages", "created")}

    def __init__(self, tokens: TokenSource, graph_url: str, *, http: Any = None,
                 ca_bundle: str | None = None) -> None:
        from followup.providers.microsoft.graph import PinnedSession

        self.tokens = tokens
        self.graph_url = graph_url.rstrip("/")
        # PinnedSession: a configured CA bundle wins over REQUESTS_CA_BUNDLE.
        self.http = http if http is not None else PinnedSession(ca_bundle)

    @classmethod
    def for_app(cls, cred: Any) -> GraphChannels:
        """With the tenant's app credential (org_microsoft.AppCredential)."""
        from followup.push.org_microsoft import AppTokens

        return cls(AppTokens(cred, ""), cred.graph_url, ca_bundle=cred.ca_bundle)

    def _send(self, method: str, path: str, body: Any, token: str) -> Any:
        return self.http.request(method, self.graph_url + path, json=body, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        r = self._send(method, path, body, self.tokens.access_token())
        if r.status_code == 401:  # a token Graph no longer takes: once more with a new one
            r = self._send(method, path, body, self.tokens.access_token(force_refresh=True))
        if r.status_code == 404:
            raise ChannelGone(path)
        if r.status_code >= 400:
            raise FollowupError(f"Graph {method} {path.split('?')[0]}: HTTP {r.status_code} "
                                f"{r.text[:300]}")
        return r.json() if r.content else None

    def subscribe(self, kind: str, user: str | None, notification_url: str,
                  lifecycle_url: str | None, client_state: str, now: datetime) -> Opened:
        """`user`: the mailbox's address (app-only), None for the token's own (delegated)."""
        what, change = self.RESOURCES[kind]
        owner = f"users/{quote(user)}" if user is not None else "me"
        body = {"changeType": change, "notificationUrl": notification_url,
                "resource": f"{owner}/{what}", "clientState": client_state,
                "expirationDateTime": _iso(now + GRAPH_LIFETIME)}
        if lifecycle_url:
            body["lifecycleNotificationUrl"] = lifecycle_url
        answer = self._call("POST", "/subscriptions", body)
        return Opened(answer["id"], None, _parse(answer["expirationDateTime"]))

    def renew(self, subscription_id: str, now: datetime) -> datetime:
        # One PATCH renews and reauthorizes (Graph: not a reauthorize and a PATCH of the
        # same subscription within 10 minutes; the PATCH alone does both).
        answer = self._call("PATCH", f"/subscriptions/{subscription_id}",
                            {"expirationDateTime": _iso(now + GRAPH_LIFETIME)})
        return _parse(answer["expirationDateTime"])

    def delete(self, subscription_id: str) -> None:
        with contextlib.suppress(ChannelGone):
            self._call("DELETE", f"/subscriptions/{subscription_id}")
