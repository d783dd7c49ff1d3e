"""The contract suite's "world" for Google: the provider, and the user acting on the fake."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fake_google import FakeGoogle, rfc3339

from followup.model import Meeting, WriteKind, WriteResult
from followup.protocols import Account


def event_body(meeting: Meeting) -> dict[str, Any]:
    body: dict[str, Any] = {
        "iCalUID": meeting.uid,
        "summary": meeting.title,
        "start": {"dateTime": rfc3339(meeting.start)},
        "end": {"dateTime": rfc3339(meeting.end)},
        "attendees": [{"email": a.email, "displayName": a.name} for a in meeting.attendees],
    }
    if meeting.transparent:
        body["transparency"] = "transparent"
    return body


class GoogleWorld:
    def __init__(self, fake: FakeGoogle, account: Account) -> None:
        self.fake = fake
        self.account = account
        self.contacts = account.contacts
        self.drafts = account.drafts
        self.blocks = account.blocks
        self.source = account.sources[0]
        self.availability = account.availability
        self.mail = account.mail

    # -- targets --------------------------------------------------------------------------

    def user_edits(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        assert result.remote_id is not None
        f = self.fake
        if kind is WriteKind.CONTACT:
            with f.lock:
                person = f.people[result.remote_id]
                person["names"] = [{"givenName": "Janet", "familyName": "Doe"}]
                f._bump(person)
        elif kind is WriteKind.DRAFT:
            f.user_edits_draft(result.remote_id)
        else:
            f.change_event("primary", result.remote_id, summary="Call Jane instead")

    def user_deletes(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        assert result.remote_id is not None
        f = self.fake
        if kind is WriteKind.CONTACT:
            with f.lock:
                del f.people[result.remote_id]
        elif kind is WriteKind.DRAFT:
            f.user_deletes_draft(result.remote_id)
        else:
            f.cancel_event("primary", result.remote_id)

    def user_has_contact(self, email: str, name: str, note: str) -> None:
        self.fake.add_contact(email, name, note)

    def count(self, kind: WriteKind) -> int:
        f = self.fake
        if kind is WriteKind.CONTACT:
            return len(f.people)
        if kind is WriteKind.DRAFT:
            return len(f.drafts)
        return len(f.live_events("primary"))

    def contact_notes(self, email: str) -> list[str]:
        notes: list[str] = []
        for person in self.fake.people.values():
            if any(a["value"].lower() == email for a in person.get("emailAddresses", [])):
                for bio in person.get("biographies", []):
                    notes += [line for line in bio["value"].splitlines() if line]
        return notes

    # -- source ---------------------------------------------------------------------------

    def add_meeting(self, meeting: Meeting) -> None:
        self.fake.add_event("primary", event_body(meeting))

    def remove_meeting(self, uid: str) -> None:
        for ev in self.fake.live_events("primary"):
            if ev["iCalUID"] == uid:
                self.fake.cancel_event("primary", ev["id"])

    # -- mail -----------------------------------------------------------------------------

    def add_mail(self, email: str, at: datetime, direction: str) -> None:
        if direction == "sent":
            self.fake.add_mail(self.fake.user, email, at=at, sent=True)
        else:
            self.fake.add_mail(email, self.fake.user, at=at)


def mail_date(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC))
