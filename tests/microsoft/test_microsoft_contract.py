"""The provider contract suite, run against the Microsoft provider and the fake Graph."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contract.suite import MailContract, SourceContract, TargetContract
from followup.model import Meeting, WriteKind, WriteResult
from followup.protocols import Account

from .conftest import MsWorld


class GraphWorld:
    def __init__(self, ms: MsWorld, account: Account) -> None:
        self.ms = ms
        self.graph = ms.graph
        self.contacts = account.contacts
        self.drafts = account.drafts
        self.blocks = account.blocks
        self.source = account.sources[0]
        self.availability = account.availability
        self.mail = account.mail
        self._by_uid: dict[str, str] = {}

    def _store(self, kind: WriteKind) -> dict[str, dict[str, object]]:
        return {WriteKind.CONTACT: self.graph.contacts, WriteKind.DRAFT: self.graph.messages,
                WriteKind.BLOCK: self.graph.events}[kind]

    def user_edits(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        assert result.remote_id
        with self.graph.lock:
            obj = self._store(kind)[result.remote_id]
            if kind is WriteKind.CONTACT:
                obj["companyName"] = "Acme Europe"
            elif kind is WriteKind.DRAFT:
                obj["body"] = {"contentType": "text", "content": "Hi Jane, edited by me"}
            else:
                obj["subject"] = "Moved by me"
            self.graph._touch(obj)

    def user_deletes(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        assert result.remote_id
        with self.graph.lock:
            del self._store(kind)[result.remote_id]

    def user_has_contact(self, email: str, name: str, note: str) -> None:
        self.graph.add_contact(email, name, note)

    def count(self, kind: WriteKind) -> int:
        if kind is WriteKind.CONTACT:
            return len(self.graph.contacts)
        if kind is WriteKind.DRAFT:
            return len(self.graph.drafts())
        return len(self.graph.blocks())

    def contact_notes(self, email: str) -> list[str]:
        return [line for c in self.graph.contacts.values()
                if any(e["address"] == email for e in c["emailAddresses"])
                for line in str(c.get("personalNotes") or "").split("\n") if line]

    def add_meeting(self, meeting: Meeting) -> None:
        minutes = int((meeting.end - meeting.start) / timedelta(minutes=1))
        eid = self.graph.add_event(meeting.title, meeting.start, minutes, uid=meeting.uid,
                                   show_as="free" if meeting.transparent else "busy")
        self._by_uid[meeting.uid] = eid

    def remove_meeting(self, uid: str) -> None:
        self.graph.delete_event(self._by_uid.pop(uid))

    def add_mail(self, email: str, at: datetime, direction: str) -> None:
        if direction == "sent":
            self.graph.add_message("sentitems", sender=self.graph.me, to=[email],
                                   subject="Hello", at=at)
        else:
            self.graph.add_message("inbox", sender=email, to=[self.graph.me],
                                   subject="Hello", at=at)


class TestGraphTargets(TargetContract):
    @pytest.fixture
    def world(self, ms: MsWorld, account: Account) -> GraphWorld:
        return GraphWorld(ms, account)


class TestGraphSource(SourceContract):
    @pytest.fixture
    def world(self, ms: MsWorld, account: Account) -> GraphWorld:
        return GraphWorld(ms, account)


class TestGraphMail(MailContract):
    @pytest.fixture
    def world(self, ms: MsWorld, account: Account) -> GraphWorld:
        return GraphWorld(ms, account)
