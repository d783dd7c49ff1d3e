"""Hostile senders through a real local account and ledger: forged updates, cancellations
and invitations in the inbox never change what the user's calendar says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followup.ledger import Ledger
from followup.model import Interval, Meeting, MeetingStatus

from .conftest import USER, Home

WINDOW = Interval(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
ORGANIZER = "alice@acme.example"
UID = "planning@acme.example"


def mail(*, sender: str = ORGANIZER, method: str = "REQUEST", sequence: int = 0,
         stamp: str = "20250301T000000Z", guest: str = "bob@acme.example",
         me: str | None = "ACCEPTED") -> bytes:
    mine = f"ATTENDEE;PARTSTAT={me}:mailto:{USER}\r\n" if me else ""
    status = "STATUS:CANCELLED\r\n" if method == "CANCEL" else ""
    return (
        f"From: {sender}\r\nTo: {USER}\r\nSubject: Planning\r\n"
        f"Content-Type: text/calendar; method={method}\r\n\r\n"
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\n"
        f"UID:{UID}\r\nSEQUENCE:{sequence}\r\nDTSTAMP:{stamp}\r\nSUMMARY:Planning\r\n"
        "DTSTART:20250312T100000Z\r\nDTEND:20250312T110000Z\r\n"
        f"ORGANIZER:mailto:{ORGANIZER}\r\n{mine}ATTENDEE;PARTSTAT=ACCEPTED:mailto:{guest}\r\n"
        f"{status}END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}") as opened:
        yield opened


def cycle(home: Home, ledger: Ledger) -> list[Meeting]:
    """What one sync stores, and the meetings the engine then sees."""
    for source in home.account().sources:
        changes = source.changes(ledger.get_cursor("local", source.name), WINDOW)
        ledger.apply_changes("local", source.name, changes)
        if changes.cursor is not None:
            ledger.set_cursor("local", source.name, changes.cursor)
    return ledger.meetings("local", WINDOW.start, WINDOW.end)


def guests(meetings: list[Meeting]) -> list[list[str]]:
    return [[a.email for a in m.attendees if a.email != USER] for m in meetings]


def test_forged_update_and_cancel_leave_the_organisers_meeting(home: Home,
                                                                ledger: Ledger) -> None:
    home.deliver(mail())
    assert guests(cycle(home, ledger)) == [["bob@acme.example"]]
    home.deliver(mail(sender="alice@acme-example.evil", sequence=5, guest="bob@evil.example"))
    home.deliver(mail(sender="mallory@evil.example", stamp="20250302T000000Z",
                      guest="eve@evil.example"))  # SEQUENCE 0, later DTSTAMP
    home.deliver(mail(sender="mallory@evil.example", method="CANCEL", sequence=6))
    [kept] = cycle(home, ledger)
    assert guests([kept]) == [["bob@acme.example"]]
    assert kept.status is MeetingStatus.CONFIRMED
    home.deliver(mail(sequence=1, guest="carol@acme.example"))  # the organiser's own update
    assert guests(cycle(home, ledger)) == [["carol@acme.example"]]


def test_the_organisers_copy_replaces_one_someone_else_sent_first(home: Home,
                                                                   ledger: Ledger) -> None:
    home.deliver(mail(sender="mallory@evil.example", guest="eve@evil.example",
                      stamp="20250305T000000Z"))
    assert guests(cycle(home, ledger)) == [["eve@evil.example"]]
    home.deliver(mail())
    assert guests(cycle(home, ledger)) == [["bob@acme.example"]]


def test_an_unaccepted_invitation_creates_nothing(home: Home, ledger: Ledger) -> None:
    home.deliver(mail(me="NEEDS-ACTION"))
    home.deliver(mail(me=None, sender="colleague@acme.example"))  # forwarded to the user
    assert cycle(home, ledger) == []


def test_a_mail_never_overrides_the_calendars_copy(home: Home, ledger: Ledger) -> None:
    start = datetime(2025, 3, 12, 10, tzinfo=UTC)
    home.write_meeting(Meeting(uid=UID, start=start, end=start + timedelta(hours=1),
                               title="Planning (calendar)"))
    home.deliver(mail(sequence=9, guest="bob@acme.example"))  # even the organiser's
    [m] = cycle(home, ledger)
    assert m.title == "Planning (calendar)" and m.source.startswith("calendar:")
