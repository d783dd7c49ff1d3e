"""Invitations in the Inbox that the calendar does not have (real Exchange mails)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followup.config import UserConfig
from followup.model import Interval
from followup.protocols import Account

from .conftest import MsWorld

CORPUS = Path(__file__).parent.parent / "data" / "calmailproc" / "maildir" / "cur"
# test-01-1.eml: Exchange 2010 request, 10 Mar 2025 14:00 Europe/Berlin, one attendee.
MAIL = (CORPUS / "test-01-1.eml").read_bytes()
UID = ("040000008200E00074C5B7101A82E0080000000006A84F9DA091DB01000000000000000"
       "0100000001124D9E92DEECD469DBA5C584BAE38F7")
T0 = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))
RECEIVED = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ICS = [{"id": "att1", "name": "invite.ics", "contentType": "text/calendar"}]


# The corpus mails' organiser. Here the user is that organiser, writing from another client:
# only an invitation the user organised or answered counts (RFC 6047).
ORGANISER = "markus.brechtel@uk-koeln.de"


@pytest.fixture
def account(ms: MsWorld) -> Account:
    ms.config = ms.config.model_copy(
        update={"user": UserConfig(addresses=[ms.graph.me, ORGANISER])})
    ms.connect()
    return ms.open()


def test_an_unanswered_invitation_creates_nothing(ms: MsWorld) -> None:
    # The user is neither the organiser nor someone who answered it, and the calendar does
    # not have it: an unsolicited invite yields no contact, draft or block.
    ms.connect()
    account = ms.open()
    ms.graph.add_message("inbox", sender="markus.brechtel@uk-koeln.de", to=[ms.graph.me],
                         subject="Test Event 1", at=RECEIVED, mime=MAIL, attachments=ICS)
    assert account.sources[1].changes(None, WINDOW).upserts == []


def mime_reads(ms: MsWorld) -> int:
    return ms.graph.routes["messages.mime"]


def test_an_ics_attachment_becomes_a_meeting(ms: MsWorld, account: Account) -> None:
    ms.graph.add_message("inbox", sender="markus.brechtel@uk-koeln.de", to=[ms.graph.me],
                         subject="Test Event 1", at=RECEIVED, mime=MAIL, attachments=ICS)
    ms.graph.add_message("inbox", sender="x@example.org", to=[ms.graph.me], subject="Slides",
                         at=RECEIVED, attachments=[{"id": "a", "name": "deck.pdf",
                                                    "contentType": "application/pdf"}])
    source = account.sources[1]
    changes = source.changes(None, WINDOW)
    [meeting] = changes.upserts
    assert meeting.uid == UID
    assert meeting.start == T0
    assert meeting.source.startswith("mail:work")
    assert [a.email for a in meeting.attendees] == ["brechtel@med.uni-frankfurt.de"]
    assert mime_reads(ms) == 1  # the PDF's message was not downloaded
    # Idle: no request until `mail_every_minutes` (30) has passed, then one listing.
    before = len(ms.graph.log)
    ms.now += timedelta(minutes=29)
    quiet = source.changes(changes.cursor, WINDOW)
    assert (quiet.upserts, quiet.removed, quiet.full) == ([], [], False)
    assert len(ms.graph.log) == before
    ms.now += timedelta(minutes=2)
    again = source.changes(quiet.cursor, WINDOW)
    assert (again.upserts, again.removed, again.full) == ([], [], False)
    assert ms.graph.log[before:] == [("GET", "/v1.0/me/mailFolders/inbox/messages")]


def test_a_meeting_already_on_the_calendar_is_left_to_the_calendar(
    ms: MsWorld, account: Account
) -> None:
    ms.graph.add_event("Test Event 1", T0, uid=UID)
    ms.graph.add_message("inbox", sender="markus.brechtel@uk-koeln.de", to=[ms.graph.me],
                         subject="Test Event 1", at=RECEIVED, mime=MAIL, attachments=ICS)
    assert account.sources[1].changes(None, WINDOW).upserts == []


def test_meeting_requests_are_read_only_when_outlook_did_not_file_them(
    ms: MsWorld, account: Account
) -> None:
    on_calendar = ms.graph.add_event("Filed", T0 + timedelta(days=1), uid="filed@x")
    ms.graph.add_message("inbox", sender="a@example.org", to=[ms.graph.me], subject="Filed",
                         at=RECEIVED, odata_type="#microsoft.graph.eventMessageRequest",
                         event_id=on_calendar, mime=b"not read")
    ms.graph.add_message("inbox", sender="markus.brechtel@uk-koeln.de", to=[ms.graph.me],
                         subject="Test Event 1", at=RECEIVED, mime=MAIL,
                         odata_type="#microsoft.graph.eventMessageRequest")
    [meeting] = account.sources[1].changes(None, WINDOW).upserts
    assert meeting.uid == UID
    assert mime_reads(ms) == 1


def test_an_invitation_arriving_between_looks_is_found_at_the_next_look(
    ms: MsWorld, account: Account
) -> None:
    source = account.sources[1]
    first = source.changes(None, WINDOW)
    assert first.upserts == []
    ms.graph.add_message("inbox", sender="markus.brechtel@uk-koeln.de", to=[ms.graph.me],
                         subject="Test Event 1", at=T0 - timedelta(days=1), mime=MAIL,
                         attachments=ICS)
    ms.now += timedelta(minutes=10)
    assert source.changes(first.cursor, WINDOW).upserts == []  # not looked yet
    ms.now += timedelta(minutes=21)
    [meeting] = source.changes(first.cursor, WINDOW).upserts
    assert meeting.uid == UID


def test_mail_every_minutes_zero_looks_every_time(ms: MsWorld) -> None:
    ms.cfg = ms.cfg.model_copy(update={"mail_every_minutes": 0})
    ms.connect()
    source = ms.open().sources[1]
    cursor = source.changes(None, WINDOW).cursor
    before = len(ms.graph.log)
    source.changes(cursor, WINDOW)
    source.changes(cursor, WINDOW)
    assert ms.graph.routes["messages.inbox"] == 3
    assert len(ms.graph.log) == before + 2
