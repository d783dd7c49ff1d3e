"""A notice, checked against its channel, becomes at most one wake-up of one account.

Nothing in a notice is used as data: a Gmail notice's historyId, a Calendar ping's resource
state, a Graph notification's resource path only say "look again". The sync that follows
reads the provider with the account's own credentials, from the ledger's own cursors.

Authenticity:
- Calendar: X-Goog-Channel-Token must match the secret stored for X-Goog-Channel-ID, and
  X-Goog-Resource-ID the channel's resourceId;
- Graph: clientState must match the subscription's secret (each subscription has its own);
- Gmail over Pub/Sub: the pull subscription is ours and only Gmail's service account may
  publish to the topic; the address must be one of our watched mailboxes.
A notice that fails its check is counted on the channel, logged (never with the presented
secret) and dropped; the caller answers the sender the same way either way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from followup.push.channels import Channel, ChannelStore, secret_matches

log = structlog.get_logger(__name__)

# account, reason -> True if a sync was queued (False: one already waits, coalesced).
Waker = Callable[[str, str], bool]
GRAPH_KINDS = ("graph_events", "graph_messages")


@dataclass
class Outcome:
    """What a batch of notices did, for tests, logs and metrics."""

    woken: set[str] = field(default_factory=set)
    coalesced: int = 0
    forged: int = 0
    unknown: int = 0
    ignored: int = 0
    lifecycle: list[str] = field(default_factory=list)

    def merge(self, other: Outcome) -> None:
        self.woken |= other.woken
        self.coalesced += other.coalesced
        self.forged += other.forged
        self.unknown += other.unknown
        self.ignored += other.ignored
        self.lifecycle += other.lifecycle


class Notices:
    """Checks notices and wakes accounts. `on_reauthorize` is called with a Graph channel
    whose lifecycle notice asks for reauthorization (the ingest process renews it soon)."""

    def __init__(self, channels: ChannelStore, wake: Waker, *,
                 on_reauthorize: Callable[[Channel], None] | None = None) -> None:
        self.channels = channels
        self.wake = wake
        self.on_reauthorize = on_reauthorize

    def _wake(self, out: Outcome, accounts: Iterable[str], reason: str) -> None:
        for account in sorted(set(accounts) - out.woken):
            out.woken.add(account)
            if not self.wake(account, reason):
                out.coalesced += 1

    def _forged(self, out: Outcome, channel: Channel, source: str) -> None:
        self.channels.forged(channel.id)
        out.forged += 1
        log.warning("push.forged_notice", source=source, channel=channel.id,
                    account=channel.account)

    # --- Google Calendar --------------------------------------------------------------------

    def calendar(self, headers: Mapping[str, str]) -> Outcome:
        """A Calendar channel ping (headers only, no body)."""
        out = Outcome()
        h = {k.lower(): v for k, v in headers.items()}
        channel = self.channels.get(h.get("x-goog-channel-id", ""))
        if channel is None or channel.kind != "calendar":
            out.unknown += 1
            # A new channel's "sync" message can come before its row is stored: expected.
            if h.get("x-goog-resource-state") != "sync":
                log.info("push.unknown_channel", source="calendar")
            return out
        if not secret_matches(channel.secret_hash, h.get("x-goog-channel-token")) or (
                channel.resource_id and h.get("x-goog-resource-id") != channel.resource_id):
            self._forged(out, channel, "calendar")
            return out
        state = h.get("x-goog-resource-state", "")
        if state == "sync":  # the channel's first message: nothing changed yet
            out.ignored += 1
            return out
        self.channels.noticed(channel.id)
        self._wake(out, [channel.account], f"push: calendar {state or 'change'}")
        return out

    # --- Gmail via Pub/Sub ------------------------------------------------------------------

    def gmail(self, data: bytes) -> Outcome:
        """A Pub/Sub message's data from Gmail: {"emailAddress": ..., "historyId": ...}."""
        out = Outcome()
        try:
            notice = json.loads(data)
            address = str(notice["emailAddress"])
        except (ValueError, KeyError, TypeError):
            out.ignored += 1
            log.warning("push.unreadable_notice", source="gmail")
            return out
        found = self.channels.by_resource("gmail", address)
        if not found:
            out.unknown += 1
            log.info("push.unknown_mailbox", source="gmail")
            return out
        for channel in found:
            self.channels.noticed(channel.id)
        self._wake(out, [c.account for c in found], "push: gmail")
        return out

    # --- Microsoft Graph --------------------------------------------------------------------

    def graph(self, payload: Any) -> Outcome:
        """A Graph notification collection ({"value": [...]}), change or lifecycle."""
        out = Outcome()
        items = payload.get("value") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            out.ignored += 1
            log.warning("push.unreadable_notice", source="graph")
            return out
        for item in items:
            out.merge(self._graph_item(item))
        return out

    def _graph_item(self, item: Any) -> Outcome:
        out = Outcome()
        if not isinstance(item, dict):
            out.ignored += 1
            return out
        channel = self.channels.get(str(item.get("subscriptionId", "")))
        if channel is None or channel.kind not in GRAPH_KINDS:
            out.unknown += 1
            log.info("push.unknown_channel", source="graph")
            return out
        if not secret_matches(channel.secret_hash, item.get("clientState")):
            self._forged(out, channel, "graph")
            return out
        self.channels.noticed(channel.id)
        event = item.get("lifecycleEvent")
        if event is None:
            self._wake(out, [channel.account], f"push: {channel.kind} {item.get('changeType')}")
            return out
        out.lifecycle.append(str(event))
        log.info("push.lifecycle", lifecycle_event=event, channel=channel.id,
                 account=channel.account)
        if event == "reauthorizationRequired":
            if self.on_reauthorize is not None:
                self.on_reauthorize(channel)
        elif event == "subscriptionRemoved":
            # Gone at Graph: the renewal creates a new one; what changed meanwhile is read
            # by the sync woken here.
            self.channels.remove(channel.id)
            self._wake(out, [channel.account], "push: subscription removed")
        elif event == "missed":
            # Some notices were not delivered: the sync's delta query catches up with all.
            self._wake(out, [channel.account], "push: missed (delta resync)")
        else:
            out.ignored += 1
        return out


def pubsub_data(message: Mapping[str, Any]) -> bytes:
    """The data of a Pub/Sub message as JSON gives it (base64), for the REST/JSON paths."""
    try:
        return base64.b64decode(str(message.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        return b""
