"""Blocks, drafts and contacts written through Graph, exactly once.

Every object we create carries its idempotency key in a MAPI named property of our own
(PROPERTY_SET below), so that a retried or recovering write finds it again with a $filter
instead of creating a second one:
- events and drafts: a single-value property `followupKey`; events also send the key as
  `transactionId`, which makes Graph ignore a repeated create POST;
- contacts: `followupKey` names the write that created the card (none on the user's own
  cards), and a multi-value property `followupKeys` lists every write that touched it (the
  creating one and each note added since), so a note is added once per key.

Drafts are only ever created, never sent. A draft or block is never changed after it is
written: the user's edits are theirs (docs/architecture.md, "Exactly once").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import structlog

from followup.core.mime import UnsafeMessage, display_name, usable_address
from followup.errors import InputError, TransientError
from followup.model import (
    BlockPayload,
    Card,
    ContactPayload,
    DraftPayload,
    RemoteState,
    RemoveOutcome,
    WriteOutcome,
    WriteResult,
)
from followup.providers.microsoft.events import graph_datetime_tz
from followup.providers.microsoft.graph import GraphClient, GraphResponse
from followup.providers.microsoft.mail import odata_string, query

log = structlog.get_logger(__name__)

# Our MAPI property set: a fixed GUID, never to change (objects written are found by it).
PROPERTY_SET = "{8b4e6b7a-3f0c-4d61-9a52-5c1f0e7d2a91}"
KEY_PROPERTY = f"String {PROPERTY_SET} Name followupKey"
KEYS_PROPERTY = f"StringArray {PROPERTY_SET} Name followupKeys"


def key_filter(key: str) -> str:
    return (f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' "
            f"and ep/value eq {odata_string(key)})")


def _find_by_key(graph: GraphClient, collection: str, key: str, select: str,
                 endpoint: str) -> dict[str, Any] | None:
    resp = graph.get(f"{collection}?" + query({"$filter": key_filter(key), "$select": select,
                                                "$top": "2"}), endpoint=endpoint)
    items = resp.body.get("value") or []
    if len(items) > 1:
        log.warning("microsoft.duplicate_key", endpoint=endpoint, count=len(items))
    return items[0] if items else None


def _fetch(graph: GraphClient, path: str, select: str, endpoint: str) -> dict[str, Any] | None:
    resp = graph.get(f"{path}?$select={select}", endpoint=endpoint, accept=(404,))
    return None if resp.status == 404 else dict(resp.body)


def _delete(graph: GraphClient, path: str, endpoint: str) -> RemoveOutcome:
    resp = graph.request("DELETE", path, endpoint=endpoint, accept=(404,))
    return RemoveOutcome.GONE if resp.status == 404 else RemoveOutcome.REMOVED


OUR_TRANSACTIONS = "followup-"  # Graph returns transactionId only on events whose app set it


def transaction_id(key: str) -> str:
    """Graph's transactionId for the create of `key` (stable, so a replayed POST dedupes)."""
    return OUR_TRANSACTIONS + key


class GraphBlockTarget:
    """Follow-up blocks as events on the user's (or a named) calendar."""

    def __init__(self, graph: GraphClient, *, calendar: str | None, category: str) -> None:
        self._graph = graph
        self._calendar_name = calendar
        self._category = category
        self._collection: str | None = None

    def _events(self) -> str:
        """Where blocks go: /me/events, or /me/calendars/{id}/events for a named calendar."""
        if self._collection is None:
            if not self._calendar_name:
                self._collection = "/me/events"
            else:
                resp = self._graph.get("/me/calendars?" + query({
                    "$filter": f"name eq {odata_string(self._calendar_name)}",
                    "$select": "id,name"}), endpoint="calendars.list")
                found = resp.body.get("value") or []
                if found:
                    cal_id = found[0]["id"]
                else:  # a name is not a unique key: create only when there is none
                    created = self._graph.request(
                        "POST", "/me/calendars", endpoint="calendars.create",
                        json_body={"name": self._calendar_name})
                    cal_id = created.body["id"]
                self._collection = f"/me/calendars/{cal_id}/events"
        return self._collection

    def ensure(self, key: str, payload: BlockPayload, *, recovering: bool) -> WriteResult:
        if recovering:
            found = _find_by_key(self._graph, self._events(), key, "id,changeKey,isCancelled",
                                 "events.by_key")
            if found is not None:
                outcome = (WriteOutcome.DISMISSED if found.get("isCancelled")
                           else WriteOutcome.EXISTED)
                return WriteResult(outcome, found["id"], found.get("changeKey"))
        body = {
            "subject": payload.summary,
            "body": {"contentType": "text", "content": payload.description},
            "start": graph_datetime_tz(payload.start),
            "end": graph_datetime_tz(payload.end),
            "showAs": "tentative" if payload.tentative else "busy",
            "isReminderOn": True,
            "reminderMinutesBeforeStart": 0,
            "categories": [self._category],
            "transactionId": transaction_id(key),
            "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": key}],
        }
        # transactionId makes a replayed POST safe: Graph answers with the first event.
        resp = self._graph.request("POST", self._events(), endpoint="events.create",
                                   json_body=body, replay_safe=True)
        return WriteResult(WriteOutcome.CREATED, resp.body["id"], resp.body.get("changeKey"))

    def _current(self, key: str, remote_id: str | None) -> dict[str, Any] | None:
        if remote_id:
            return _fetch(self._graph, f"/me/events/{remote_id}", "id,changeKey,isCancelled",
                          "events.get")
        return _find_by_key(self._graph, self._events(), key, "id,changeKey,isCancelled",
                            "events.by_key")

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        current = self._current(key, remote_id)
        if current is None or current.get("isCancelled"):
            return RemoteState.MISSING
        if fingerprint and current.get("changeKey") != fingerprint:
            return RemoteState.EDITED
        return RemoteState.PRESENT

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        current = self._current(key, remote_id)
        if current is None:
            return RemoveOutcome.GONE
        if fingerprint and current.get("changeKey") != fingerprint:
            return RemoveOutcome.KEPT
        return _delete(self._graph, f"/me/events/{current['id']}", "events.delete")


def _recipients(key: str, payload: DraftPayload) -> list[dict[str, Any]]:
    """toRecipients for a draft, refused unless it holds exactly the intended addresses.

    Graph keeps name and address apart, so a name like "Accounts <x@evil.example>, Bob"
    cannot add a recipient; the addresses are still checked as the MIME drafts' are (no
    encoded-words, no lists) and names cleaned the same way (none that holds an address).
    """
    wanted = [addr.strip() for _, addr in payload.to]
    try:
        recipients: list[dict[str, Any]] = []
        for name, addr in payload.to:
            entry = {"address": usable_address(addr)}
            if clean := display_name(name):
                entry["name"] = clean
            recipients.append({"emailAddress": entry})
        if not wanted or [r["emailAddress"]["address"] for r in recipients] != wanted:
            raise UnsafeMessage(f"draft has {len(recipients)} recipients, not {len(wanted)}")
    except ValueError as e:  # retrying will not help
        raise InputError(f"cannot compose draft {key}: {e}") from e
    return recipients


class GraphDraftTarget:
    """Drafts in the user's Drafts folder. Created, never sent, never changed."""

    def __init__(self, graph: GraphClient, *, category: str) -> None:
        self._graph = graph
        self._category = category

    def ensure(self, key: str, payload: DraftPayload, *, recovering: bool) -> WriteResult:
        if recovering:
            found = _find_by_key(self._graph, "/me/messages", key, "id,changeKey,isDraft",
                                 "messages.by_key")
            if found is not None:
                return WriteResult(WriteOutcome.EXISTED, found["id"], found.get("changeKey"))
        body: dict[str, Any] = {
            "subject": payload.subject,
            "body": {"contentType": "text", "content": payload.body},
            "toRecipients": _recipients(key, payload),
            # Graph lets a draft carry its own Message-ID (internetMessageId is writable while
            # isDraft); the extended property is what we look it up by.
            "internetMessageId": payload.message_id,
            "categories": [self._category],
            "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": key}],
        }
        # Not replayed after a dropped connection: a draft create has no idempotency key on
        # Graph's side. The engine retries with recovering=True, which looks the key up first.
        if payload.reply_to_remote:
            made = self._reply(payload.reply_to_remote, body)
            if made is not None:
                return made
        resp = self._graph.request("POST", "/me/messages", endpoint="messages.create",
                                   json_body=body)
        return WriteResult(WriteOutcome.CREATED, resp.body["id"], resp.body.get("changeKey"))

    def _reply(self, original: str, body: dict[str, Any]) -> WriteResult | None:
        """A later touch as a reply draft in the conversation of the last mail: createReply
        (with our key, so a retry finds it), then its text and subject set (createReply
        quotes the original as HTML). None when the original is gone: a new message then."""
        path = f"/me/messages/{quote(original, safe='')}"
        made = self._graph.request("POST", f"{path}/createReply",
                                   endpoint="messages.create_reply",
                                   json_body={"message": body}, accept=(404,))
        if made.status == 404:
            return None
        draft_id = made.body["id"]
        patched = self._graph.request(
            "PATCH", f"/me/messages/{quote(draft_id, safe='')}", endpoint="messages.patch",
            json_body={k: body[k] for k in ("subject", "body", "toRecipients")})
        return WriteResult(WriteOutcome.CREATED, draft_id,
                           patched.body.get("changeKey") or made.body.get("changeKey"))

    def link(self, key: str, remote_id: str | None, message_id: str) -> str | None:
        """The draft's Outlook on the web address (Graph's webLink), for the block."""
        if not remote_id:
            return None
        found = _fetch(self._graph, f"/me/messages/{remote_id}", "id,webLink",
                       "messages.web_link")
        link = (found or {}).get("webLink")
        return str(link) if link else None

    def _current(self, key: str, remote_id: str | None) -> dict[str, Any] | None:
        if remote_id:
            return _fetch(self._graph, f"/me/messages/{remote_id}", "id,changeKey,isDraft",
                          "messages.get")
        return _find_by_key(self._graph, "/me/messages", key, "id,changeKey,isDraft",
                            "messages.by_key")

    @staticmethod
    def _judge(current: dict[str, Any] | None, fingerprint: str | None) -> RemoteState:
        if current is None:
            return RemoteState.MISSING
        # Sent by the user (ids are immutable, so it is found in Sent Items): theirs now.
        if current.get("isDraft") is False:
            return RemoteState.EDITED
        if fingerprint and current.get("changeKey") != fingerprint:
            return RemoteState.EDITED
        return RemoteState.PRESENT

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        return self._judge(self._current(key, remote_id), fingerprint)

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        current = self._current(key, remote_id)
        state = self._judge(current, fingerprint)
        if current is None or state is RemoteState.MISSING:
            return RemoveOutcome.GONE
        if state is RemoteState.EDITED:
            return RemoveOutcome.KEPT
        return _delete(self._graph, f"/me/messages/{current['id']}", "messages.delete")


# --- contacts --------------------------------------------------------------------------------

_CONTACT_SELECT = ("id,givenName,surname,displayName,companyName,emailAddresses,categories,"
                   "personalNotes")
_CONTACT_EXPAND = (f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}'),"
                   f"multiValueExtendedProperties($filter=id eq '{KEYS_PROPERTY}')")
_CREATED, _NOTE = "created:", "note:"


def _card_digest(contact: dict[str, Any]) -> str:
    """What the user would edit on a card we created; notes excluded (we add to them)."""
    emails = sorted(str((e or {}).get("address") or "").lower()
                    for e in contact.get("emailAddresses") or [])
    parts = [str(contact.get(f) or "") for f in ("givenName", "surname", "displayName",
                                                 "companyName")]
    text = "\x1f".join([*parts, *emails])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _creator(contact: dict[str, Any]) -> str | None:
    """The key of the write that created this card; None for the user's own cards."""
    for prop in contact.get("singleValueExtendedProperties") or []:
        if prop.get("id") == KEY_PROPERTY:
            return str(prop.get("value"))
    return None


def _keys_of(contact: dict[str, Any]) -> list[str]:
    for prop in contact.get("multiValueExtendedProperties") or []:
        if prop.get("id") == KEYS_PROPERTY:
            return [str(v) for v in prop.get("value") or []]
    return []


def _note_lines(contact: dict[str, Any]) -> list[str]:
    notes = str(contact.get("personalNotes") or "").replace("\r\n", "\n")
    return [line for line in notes.split("\n") if line.strip()]


def _one_line(text: str) -> str:
    return " ".join(text.split())


class GraphContactTarget:
    """Contacts in the user's default address book, matched by email address."""

    def __init__(self, graph: GraphClient, *, category: str) -> None:
        self._graph = graph
        self._category = category

    def _by_email(self, email: str) -> list[dict[str, Any]]:
        resp = self._graph.get("/me/contacts?" + query({
            "$filter": f"emailAddresses/any(a:a/address eq {odata_string(email.lower())})",
            "$select": _CONTACT_SELECT, "$expand": _CONTACT_EXPAND, "$top": "10"}),
            endpoint="contacts.by_email")
        return list(resp.body.get("value") or [])

    def ensure(self, key: str, payload: ContactPayload, *, recovering: bool) -> WriteResult:
        # Looked up by email every time: an existing card gains a note instead of a twin.
        cards = self._by_email(payload.email)
        note = _one_line(payload.note)
        for card in cards:
            if key in _keys_of(card):  # an earlier attempt of this very write got through
                created = _creator(card) == key
                fingerprint = (_CREATED + _card_digest(card)) if created else (_NOTE + note)
                return WriteResult(WriteOutcome.EXISTED, card["id"], fingerprint)
        if cards:
            card = cards[0]
            self._patch(card, [*_note_lines(card), note], [*_keys_of(card), key])
            return WriteResult(WriteOutcome.ANNOTATED, card["id"], _NOTE + note)
        body: dict[str, Any] = {
            "givenName": payload.given_name or "",
            "surname": payload.family_name or "",
            "displayName": payload.display_name or payload.email,
            "emailAddresses": [{"address": payload.email,
                                "name": payload.display_name or payload.email}],
            "companyName": payload.organization or "",
            "personalNotes": note,
            "categories": [self._category],
            "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": key}],
            "multiValueExtendedProperties": [{"id": KEYS_PROPERTY, "value": [key]}],
        }
        # Not replayed after a dropped connection: the next attempt finds the card by email.
        resp = self._graph.request("POST", "/me/contacts", endpoint="contacts.create",
                                   json_body=body)
        return WriteResult(WriteOutcome.CREATED, resp.body["id"],
                           _CREATED + _card_digest(resp.body))

    def _card(self, remote_id: str | None) -> dict[str, Any] | None:
        if not remote_id:
            return None
        resp: GraphResponse = self._graph.get(
            f"/me/contacts/{remote_id}?" + query({"$select": _CONTACT_SELECT,
                                                   "$expand": _CONTACT_EXPAND}),
            endpoint="contacts.get", accept=(404,))
        return None if resp.status == 404 else dict(resp.body)

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        card = self._card(remote_id)
        if card is None:
            return RemoteState.MISSING
        fp = fingerprint or ""
        if fp.startswith(_CREATED):
            return (RemoteState.PRESENT if _card_digest(card) == fp[len(_CREATED):]
                    else RemoteState.EDITED)
        if fp.startswith(_NOTE):
            return (RemoteState.PRESENT if fp[len(_NOTE):] in _note_lines(card)
                    else RemoteState.EDITED)
        return RemoteState.PRESENT

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        card = self._card(remote_id)
        if card is None:
            return RemoveOutcome.GONE
        fp = fingerprint or ""
        if fp.startswith(_CREATED):
            if _card_digest(card) != fp[len(_CREATED):]:
                return RemoveOutcome.KEPT
            return _delete(self._graph, f"/me/contacts/{card['id']}", "contacts.delete")
        line = fp[len(_NOTE):] if fp.startswith(_NOTE) else ""
        lines = _note_lines(card)
        if not line or line not in lines:
            return RemoveOutcome.KEPT  # the user changed or removed our note
        lines.remove(line)
        self._patch(card, lines, [k for k in _keys_of(card) if k != key])
        return RemoveOutcome.REMOVED

    def _patch(self, card: dict[str, Any], lines: list[str], keys: list[str]) -> None:
        """Set the notes and our keys in one PATCH, and nothing else of the card.

        If-Match: a card the user changed since we read it is not overwritten (412); the
        write is retried later from a fresh read.
        """
        etag = card.get("@odata.etag")
        resp = self._graph.request(
            "PATCH", f"/me/contacts/{card['id']}", endpoint="contacts.update",
            json_body={"personalNotes": "\n".join(lines),
                       "multiValueExtendedProperties": [{"id": KEYS_PROPERTY, "value": keys}]},
            headers={"If-Match": str(etag)} if etag else None, accept=(412,))
        if resp.status == 412:
            raise TransientError("the contact changed while we wrote to it; retried later")


class GraphAddressBook:
    """The user's Outlook contacts, read before a first note (Account.address_book)."""

    def __init__(self, contacts: GraphContactTarget) -> None:
        self._contacts = contacts

    def lookup(self, emails: Sequence[str]) -> dict[str, Card]:
        found: dict[str, Card] = {}
        for email in emails:
            cards = [c for c in self._contacts._by_email(email) if _creator(c) is None]
            if cards:
                card = cards[0]
                found[email.lower()] = Card(email.lower(), card.get("displayName") or None,
                                            card.get("givenName") or None)
        return found
