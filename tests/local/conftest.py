"""A local account in a temporary home: vdir calendar, Maildir, address book, followups."""

from __future__ import annotations

import email.utils
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from followup.config import Config, LocalAccount, UserConfig
from followup.ical import render_block
from followup.model import BlockPayload, Meeting
from followup.protocols import Account
from followup.providers.local import open_local_account

DATA = Path(__file__).resolve().parents[1] / "data"
MAILS = DATA / "calmailproc" / "maildir" / "cur"
VCARDS = DATA / "ez-vcard"
CLOCK = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
USER = "me@example.com"
UTC_ZONE = ZoneInfo("UTC")


class Home:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.calendar = root / "calendars" / "work"
        self.maildir = root / "Maildir"
        self.contacts = root / "contacts"
        self.followups = root / "calendars" / "followups"
        self.calendar.mkdir(parents=True)
        self.contacts.mkdir()
        self.followups.mkdir()  # configured folders must exist: none is ever created for us
        for folder in (self.maildir, self.maildir / ".Sent"):
            for sub in ("cur", "new", "tmp"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
        self._n = 0

    def config(self, **account: Any) -> tuple[LocalAccount, Config]:
        fields: dict[str, Any] = {
            "calendars": [str(self.calendar)], "maildir": str(self.maildir),
            "contacts": str(self.contacts), "followups": str(self.followups),
        }
        fields.update(account)
        cfg = LocalAccount(**fields)
        config = Config(user=UserConfig(addresses=[USER], timezone="Europe/Berlin"),
                        state_dir=str(self.root / "state"), accounts=[cfg])
        return cfg, config

    def account(self, **account: Any) -> Account:
        cfg, config = self.config(**account)
        return open_local_account(cfg, config, clock=lambda: CLOCK)

    def deliver(self, raw: bytes, folder: str = "", name: str | None = None) -> Path:
        self._n += 1
        path = self.maildir / folder / "new" / (name or f"1700000000.M{self._n}P1.test")
        path.write_bytes(raw)
        return path

    def deliver_corpus(self, *names: str, folder: str = "") -> None:
        for n in names:
            shutil.copyfile(MAILS / f"{n}.eml", self.maildir / folder / "cur" / f"{n}:2,S")

    def mail(self, *, sender: str, to: str, at: datetime, folder: str) -> None:
        raw = (f"From: {sender}\r\nTo: {to}\r\nSubject: hi\r\n"
               f"Date: {email.utils.format_datetime(at)}\r\nMessage-ID: <{self._n}@x>\r\n\r\n"
               "Body that must not be read.\r\n").encode()
        self.deliver(raw, folder)

    def write_meeting(self, meeting: Meeting) -> Path:
        """A meeting as khal would store it: one .ics per event, named by UID."""
        data = render_block("0" * 32, BlockPayload(
            summary=meeting.title, description="", start=meeting.start, end=meeting.end),
            tz=UTC_ZONE)
        text = data.decode().replace(f"UID:{'0' * 32}@followup.invalid", f"UID:{meeting.uid}")
        if meeting.transparent:
            text = text.replace("TRANSP:OPAQUE", "TRANSP:TRANSPARENT")
        path = self.calendar / f"{meeting.uid}.ics"
        path.write_text(text)
        return path


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    yield Home(tmp_path)
