"""The local provider runs the provider contract, acting as the user through the files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import vobject

from contract.suite import MailContract, SourceContract, TargetContract
from followup.model import Meeting, WriteKind, WriteResult

from .conftest import USER, Home


class LocalWorld:
    def __init__(self, home: Home) -> None:
        self.home = home
        account = home.account()
        self.contacts = account.contacts
        self.drafts = account.drafts
        self.blocks = account.blocks
        self.source = account.sources[0]
        self.availability = account.availability
        self.mail = account.mail

    def _path(self, kind: WriteKind, result: WriteResult) -> Path:
        assert result.remote_id
        if kind is WriteKind.CONTACT:
            return self.home.contacts / result.remote_id
        if kind is WriteKind.BLOCK:
            return self.home.followups / result.remote_id
        return self.home.maildir / ".Drafts" / "cur" / result.remote_id

    def user_edits(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        path = self._path(kind, result)
        text = path.read_text()
        if kind is WriteKind.CONTACT:
            text = text.replace("END:VCARD", "TEL:+1 555 0100\r\nEND:VCARD")
        elif kind is WriteKind.BLOCK:
            text = text.replace("SUMMARY:", "SUMMARY:Moved: ")
        else:
            text = text.replace("Thanks for the time today.", "Thanks again, Jane!")
        path.write_text(text)

    def user_deletes(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        self._path(kind, result).unlink()

    def user_has_contact(self, email: str, name: str, note: str) -> None:
        self.home.contacts.mkdir(exist_ok=True)
        (self.home.contacts / "from-phone.vcf").write_text(
            f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:phone-1\r\nFN:{name}\r\nN:;;;;\r\n"
            f"EMAIL;TYPE=WORK:{email}\r\nNOTE:{note}\r\nEND:VCARD\r\n")

    def count(self, kind: WriteKind) -> int:
        if kind is WriteKind.CONTACT:
            return len(list(self.home.contacts.glob("*.vcf")))
        if kind is WriteKind.BLOCK:
            return len(list(self.home.followups.glob("*.ics")))
        drafts = self.home.maildir / ".Drafts"
        return sum(1 for sub in ("new", "cur") for _ in (drafts / sub).glob("*"))

    def contact_notes(self, email: str) -> list[str]:
        notes: list[str] = []
        for path in sorted(self.home.contacts.glob("*.vcf")):
            for card in vobject.readComponents(path.read_text()):
                if any(e.value.lower() == email for e in card.contents.get("email", [])):
                    notes += [n.value for n in card.contents.get("note", [])]
        return notes

    def add_meeting(self, meeting: Meeting) -> None:
        self.home.write_meeting(meeting)

    def remove_meeting(self, uid: str) -> None:
        (self.home.calendar / f"{uid}.ics").unlink()

    def add_mail(self, email: str, at: datetime, direction: str) -> None:
        if direction == "sent":
            self.home.mail(sender=USER, to=email, at=at, folder=".Sent")
        else:
            self.home.mail(sender=email, to=USER, at=at, folder="")


class TestLocalTargets(TargetContract):
    @pytest.fixture
    def world(self, home: Home) -> LocalWorld:
        return LocalWorld(home)


class TestLocalSource(SourceContract):
    @pytest.fixture
    def world(self, home: Home) -> LocalWorld:
        return LocalWorld(home)


class TestLocalMail(MailContract):
    @pytest.fixture
    def world(self, home: Home) -> LocalWorld:
        return LocalWorld(home)
