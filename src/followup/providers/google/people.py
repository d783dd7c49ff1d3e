"""Google Contacts (People API): a new card per person met, or our note on their card.

The key travels in clientData ({followupKey: key}; the note's text under followupNote.<key>,
and followupCreatedBy on cards we made), so a card is found again by key and our note can be
told apart from the user's text in the single `biographies` field.

searchContacts reads a cache that Google refreshes on an empty "warm-up" query: without it, a
card made minutes ago (by us or the user) is not found and would be made twice. Every search
here is preceded by one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from googleapiclient.errors import HttpError

from followup.errors import ProviderError
from followup.model import (
    Card,
    ContactPayload,
    RemoteState,
    RemoveOutcome,
    WriteOutcome,
    WriteResult,
)
from followup.providers.google.calls import error_reasons, http_error, status_of
from followup.providers.google.client import GoogleClient

log = structlog.get_logger(__name__)

FIELDS = "names,emailAddresses,organizations,biographies,clientData,memberships,metadata"
KEY = "followupKey"
NOTE = "followupNote."
CREATED_BY = "followupCreatedBy"
ETAG_ATTEMPTS = 3


def _client_data(person: dict[str, Any]) -> list[dict[str, str]]:
    return [dict(d) for d in person.get("clientData") or []]


def has_key(person: dict[str, Any], key: str) -> bool:
    return any(d.get("key") == KEY and d.get("value") == key for d in _client_data(person))


def _keys(person: dict[str, Any]) -> list[str]:
    return [str(d.get("value")) for d in _client_data(person) if d.get("key") == KEY]


def _our_notes(person: dict[str, Any]) -> dict[str, str]:
    return {str(d["key"])[len(NOTE):]: str(d.get("value", "")) for d in _client_data(person)
            if str(d.get("key", "")).startswith(NOTE)}


def _bio(person: dict[str, Any]) -> str:
    bios = person.get("biographies") or []
    return str(bios[0].get("value", "")) if bios else ""


def _created_by(person: dict[str, Any]) -> str | None:
    return next((str(d.get("value")) for d in _client_data(person)
                 if d.get("key") == CREATED_BY), None)


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def fingerprint(person: dict[str, Any], key: str) -> str:
    """A card we made is ours as a whole (names, organisations, addresses and any text that is
    not one of our notes); on a card we annotated only our note line is."""
    if _created_by(person) == key:
        ours = set(_our_notes(person).values())
        user_text = [line for line in _bio(person).splitlines() if line and line not in ours]
        return "created:" + _digest([
            [(n.get("givenName"), n.get("familyName"), n.get("unstructuredName"))
             for n in person.get("names") or []],
            [o.get("name") for o in person.get("organizations") or []],
            sorted(str(e.get("value", "")).lower() for e in person.get("emailAddresses") or []),
            user_text,
        ])
    note = _our_notes(person).get(key)
    present = note is not None and note in _bio(person).splitlines()
    return "annotated:" + _digest([note if present else None])


class GoogleContacts:
    def __init__(self, client: GoogleClient) -> None:
        self._c = client
        self._group: str | None = None

    def _people(self) -> Any:
        return self._c.api.people.people()

    # -- look-ups -------------------------------------------------------------------------

    def search(
        self, email: str, key: str | None = None, *, warm: bool = True
    ) -> dict[str, Any] | None:
        """The card with this address (one carrying `key` first), after a warm-up query
        (`warm=False`: the caller warmed the cache for a batch of searches)."""
        email = email.lower()
        try:
            if warm:
                self.warm_up()
            answer = self._c.caller.read(
                self._people().searchContacts(query=email, readMask=FIELDS, pageSize=30))
        except HttpError as e:
            raise http_error(e, "people.searchContacts") from None
        cards = [r["person"] for r in answer.get("results", []) if any(
            str(a.get("value", "")).lower() == email
            for a in r.get("person", {}).get("emailAddresses", []))]
        if key is not None:
            mine = [c for c in cards if has_key(c, key)]
            if mine:
                return dict(mine[0])
        return dict(cards[0]) if cards else None

    def warm_up(self) -> None:
        """searchContacts reads a cache that an empty query refreshes."""
        try:
            self._c.caller.read(self._people().searchContacts(query="", readMask="names"))
        except HttpError as e:
            raise http_error(e, "people.searchContacts") from None

    def _get(self, resource_name: str) -> dict[str, Any] | None:
        try:
            return dict(self._c.caller.read(
                self._people().get(resourceName=resource_name, personFields=FIELDS)))
        except HttpError as e:
            if status_of(e) == 404:
                return None
            raise http_error(e, "people.get") from None

    def _other_contact_names(self, email: str) -> list[dict[str, Any]]:
        """The name Gmail knows for someone mailed before ("Other contacts"), if any."""
        request = self._c.api.people.otherContacts().search(
            query=email, readMask="names,emailAddresses", pageSize=10)
        try:
            answer = self._c.caller.read(request)
        except HttpError as e:
            log.info("google.other_contacts_unavailable", status=status_of(e))
            return []
        for r in answer.get("results", []):
            person = r.get("person", {})
            if any(str(a.get("value", "")).lower() == email
                   for a in person.get("emailAddresses", [])):
                return [{"unstructuredName": n.get("displayName")}
                        for n in person.get("names", [])[:1] if n.get("displayName")]
        return []

    def _group_name(self) -> str:
        """The resourceName of the contact group `contact_group`, made on first use."""
        if self._group is not None:
            return self._group
        name = self._c.cfg.contact_group
        groups = self._c.api.people.contactGroups()

        def find() -> str | None:
            request = groups.list(pageSize=1000)
            while request is not None:
                try:
                    page = self._c.caller.read(request)
                except HttpError as e:
                    raise http_error(e, "contactGroups.list") from None
                for g in page.get("contactGroups", []):
                    if g.get("name") == name or g.get("formattedName") == name:
                        return str(g["resourceName"])
                request = groups.list_next(request, page)
            return None

        found = find()
        if found is None:
            try:
                made = self._c.caller.create(
                    lambda: groups.create(body={"contactGroup": {"name": name}}), find)
                found = made if isinstance(made, str) else str(made["resourceName"])
            except HttpError as e:
                if status_of(e) != 409:  # 409: it exists (made by a concurrent run)
                    raise http_error(e, "contactGroups.create") from None
                found = find()
                if found is None:
                    raise ProviderError(
                        f"contact group {name!r} exists but cannot be found"
                    ) from None
        self._group = found
        return found

    # -- Target ---------------------------------------------------------------------------

    def ensure(self, key: str, payload: ContactPayload, *, recovering: bool) -> WriteResult:
        # Searching by address happens in any case (to annotate instead of duplicating), so
        # a card written by an earlier attempt is found whether or not we are recovering.
        card = self.search(payload.email, key)
        if card is not None:
            if has_key(card, key):
                return WriteResult(WriteOutcome.EXISTED, card["resourceName"],
                                   fingerprint(card, key))
            return self._annotate(card, key, payload)
        return self._create(key, payload)

    def _create(self, key: str, payload: ContactPayload) -> WriteResult:
        email = payload.email.lower()
        if payload.given_name or payload.family_name or payload.display_name:
            names = [{k: v for k, v in (("givenName", payload.given_name),
                                         ("familyName", payload.family_name),
                                         ("unstructuredName", payload.display_name)) if v}]
        else:
            names = self._other_contact_names(email)
        body: dict[str, Any] = {
            "emailAddresses": [{"value": email}],
            "biographies": [{"value": payload.note, "contentType": "TEXT_PLAIN"}],
            "memberships": [{"contactGroupMembership": {
                "contactGroupResourceName": self._group_name()}}],
            "clientData": [{"key": KEY, "value": key}, {"key": NOTE + key, "value": payload.note},
                           {"key": CREATED_BY, "value": key}],
        }
        if names:
            body["names"] = names
        if payload.organization:
            body["organizations"] = [{"name": payload.organization}]

        def find() -> dict[str, Any] | None:
            card = self.search(email, key)
            return card if card is not None and has_key(card, key) else None

        try:
            made = self._c.caller.create(
                lambda: self._people().createContact(body=body, personFields=FIELDS), find)
        except HttpError as e:
            raise http_error(e, "people.createContact") from None
        log.info("google.contact_created", key=key)
        return WriteResult(WriteOutcome.CREATED, made["resourceName"], fingerprint(made, key))

    def _update(
        self, card: dict[str, Any], change: Callable[[dict[str, Any]], dict[str, Any] | None],
        done: Callable[[dict[str, Any]], bool],
    ) -> dict[str, Any] | None:
        """updateContact (biographies, clientData) with the card's etag. A lost answer or an
        etag conflict reads the card again: `done` -> finished; else the change is redone on
        the fresh card. `change` returns the new fields, or None when nothing is left to do."""
        current = card
        for _ in range(ETAG_ATTEMPTS):
            fields = change(current)
            if fields is None:
                return current

            def make(c: dict[str, Any] = current, f: dict[str, Any] = fields) -> Any:
                return self._people().updateContact(
                    resourceName=c["resourceName"], updatePersonFields="biographies,clientData",
                    personFields=FIELDS, body={"etag": c["etag"], **f})

            def find(rn: str = current["resourceName"]) -> dict[str, Any] | None:
                fresh = self._get(rn)
                return fresh if fresh is None or done(fresh) else None

            try:
                return dict(self._c.caller.create(make, find) or {}) or None
            except HttpError as e:
                if not (status_of(e) == 400 and "FAILED_PRECONDITION" in error_reasons(e)):
                    if status_of(e) == 404:
                        return None
                    raise http_error(e, "people.updateContact") from None
            fresh = self._get(current["resourceName"])  # the user changed it meanwhile
            if fresh is None or done(fresh):
                return fresh
            current = fresh
        raise ProviderError("people.updateContact: the card kept changing; will retry")

    def _annotate(self, card: dict[str, Any], key: str, payload: ContactPayload) -> WriteResult:
        def change(c: dict[str, Any]) -> dict[str, Any] | None:
            if has_key(c, key):
                return None
            bio = _bio(c)
            return {
                "biographies": [{"value": f"{bio}\n{payload.note}" if bio else payload.note,
                                 "contentType": "TEXT_PLAIN"}],
                "clientData": [
                    *_client_data(c),
                    {"key": KEY, "value": key},
                    {"key": NOTE + key, "value": payload.note},
                ],
            }

        updated = self._update(card, change, lambda c: has_key(c, key))
        if updated is None:
            raise ProviderError("people.updateContact: the card vanished while annotating")
        log.info("google.contact_annotated", key=key)
        return WriteResult(WriteOutcome.ANNOTATED, updated["resourceName"],
                           fingerprint(updated, key))

    def _find(self, key: str, remote_id: str | None) -> dict[str, Any] | None:
        card = self._get(remote_id) if remote_id else None
        return card if card is not None and has_key(card, key) else None

    def state(self, key: str, remote_id: str | None, fingerprint_: str | None) -> RemoteState:
        card = self._find(key, remote_id)
        if card is None:
            return RemoteState.MISSING
        return RemoteState.PRESENT if fingerprint(card, key) == fingerprint_ else (
            RemoteState.EDITED)

    def remove(self, key: str, remote_id: str | None, fingerprint_: str | None) -> RemoveOutcome:
        card = self._find(key, remote_id)
        if card is None:
            return RemoveOutcome.GONE
        if fingerprint(card, key) != fingerprint_:
            return RemoveOutcome.KEPT
        if _created_by(card) == key and _keys(card) == [key]:
            try:
                self._c.caller.read(self._people().deleteContact(resourceName=card["resourceName"]))
            except HttpError as e:
                if status_of(e) != 404:  # 404: a retry after a lost answer
                    raise http_error(e, "people.deleteContact") from None
            return RemoveOutcome.REMOVED

        def change(c: dict[str, Any]) -> dict[str, Any] | None:
            if not has_key(c, key):
                return None
            note = _our_notes(c).get(key)
            lines = _bio(c).splitlines()
            if note in lines:
                lines.remove(note)
            return {
                "biographies": [{"value": "\n".join(lines), "contentType": "TEXT_PLAIN"}]
                if lines else [],
                "clientData": [d for d in _client_data(c)
                               if not (d.get("key") == KEY and d.get("value") == key)
                               and d.get("key") != NOTE + key],
            }

        self._update(card, change, lambda c: not has_key(c, key))
        return RemoveOutcome.REMOVED


class GoogleAddressBook:
    """The user's Google Contacts, read before a first note (Account.address_book): a card
    the user made themself tells that the person is known, and by what name."""

    def __init__(self, contacts: GoogleContacts) -> None:
        self._contacts = contacts

    def lookup(self, emails: Sequence[str]) -> dict[str, Card]:
        found: dict[str, Card] = {}
        if emails:
            self._contacts.warm_up()  # once for the whole batch
        for email in emails:
            card = self._contacts.search(email, warm=False)
            if card is None or _created_by(card) is not None:  # ours is not the user's
                continue
            names = card.get("names") or [{}]
            found[email.lower()] = Card(email.lower(), names[0].get("displayName") or None,
                                        names[0].get("givenName") or None)
        return found
