"""Invitation mails in a Maildir: corpus scenarios end in the state their test-*.md describes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from followup.model import CalendarChanges, Interval, Meeting, MeetingStatus
from followup.providers.local.invitations import InvitationSource

from .conftest import MAILS, Home

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2025, 3, 10, tzinfo=UTC)
WINDOW = Interval(T0 - timedelta(days=30), T0 + timedelta(days=400))


class Ledgerish:
    """What the ledger keeps for one source: removals, then upserts by (UID, occurrence)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, datetime], Meeting] = {}
        self.cursor: str | None = None

    def apply(self, changes: CalendarChanges) -> None:
        for ref in changes.removed:
            for key in [k for k in self.rows if k[0] == ref.uid
                        and (ref.occurrence is None or k[1] == ref.occurrence)]:
                del self.rows[key]
        for m in changes.upserts:
            self.rows[(m.uid, m.occurrence)] = m
        self.cursor = changes.cursor


def sync(home: Home, ledger: Ledgerish) -> CalendarChanges:
    # The corpus mails invite other people: read them without the "accepted by the user"
    # rule, which tests/local/test_hostile.py covers.
    source = InvitationSource(home.maildir, "", BERLIN)
    changes = source.changes(ledger.cursor, WINDOW)
    ledger.apply(changes)
    return changes


def test_reschedule_in_two_passes_leaves_only_the_new_time(home: Home) -> None:
    ledger = Ledgerish()
    home.deliver_corpus("test-02-1")
    sync(home, ledger)
    assert [m.start for m in ledger.rows.values()] == [datetime(2025, 3, 11, 14, tzinfo=BERLIN)]
    home.deliver_corpus("test-02-2")
    sync(home, ledger)
    assert [m.start for m in ledger.rows.values()] == [datetime(2025, 3, 12, 16, tzinfo=BERLIN)]


def test_older_update_read_later_does_not_win(home: Home) -> None:
    ledger = Ledgerish()
    home.deliver_corpus("test-07-3")  # sequence 4: 21 March 16:00
    sync(home, ledger)
    home.deliver_corpus("test-07-1", "test-07-2", "test-07-4", "test-07-5")
    sync(home, ledger)
    [final] = ledger.rows.values()
    assert (final.start, final.sequence) == (datetime(2025, 3, 21, 16, tzinfo=BERLIN), 4)


def test_cancellation_and_series_corpus_in_one_folder(home: Home) -> None:
    ledger = Ledgerish()
    home.deliver_corpus(*[p.name.removesuffix(".eml") for p in MAILS.glob("*.eml")])
    changes = sync(home, ledger)
    by_title = {}
    for m in ledger.rows.values():
        by_title.setdefault(m.title.split(": ")[-1], []).append(m)
    assert all(m.status is MeetingStatus.CANCELLED for m in by_title["Test Event 1"])
    moved = ledger.rows[(next(iter(by_title["Test 3"])).uid,
                         datetime(2025, 3, 20, 15, tzinfo=BERLIN))]
    assert moved.start.hour == 11
    assert changes.errors == []  # every corpus mail is readable or carries no calendar
    assert ledger.cursor is not None and len(ledger.cursor) < 20_000


def test_only_new_messages_are_read_on_the_next_pass(home: Home) -> None:
    ledger = Ledgerish()
    home.deliver_corpus("test-01-1")
    first = sync(home, ledger)
    assert len(first.upserts) == 1 and first.full
    idle = sync(home, ledger)
    assert (idle.upserts, idle.removed, idle.full) == ([], [], False)
    # A client moves the message to cur/ and marks it read: still the same message.
    (home.maildir / "cur" / "test-01-1:2,S").rename(home.maildir / "cur" / "test-01-1:2,RS")
    assert sync(home, ledger).upserts == []
    home.deliver_corpus("test-01-2")
    cancel = sync(home, ledger)
    assert [m.status for m in cancel.upserts] == [MeetingStatus.CANCELLED]


def test_replies_and_plain_mail_add_nothing(home: Home) -> None:
    ledger = Ledgerish()
    home.deliver_corpus("test-05-2", "test-06-2", "test-0")
    changes = sync(home, ledger)
    assert changes.upserts == [] and changes.errors == []


def test_large_invitation_in_a_subfolder(home: Home) -> None:
    attendees = "".join(f"ATTENDEE;CN=P{i}:mailto:p{i}@example.org\r\n" for i in range(5000))
    attendees += "ATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com\r\n"
    raw = ("From: boss@example.org\r\nTo: me@example.com\r\nSubject: All hands\r\n"
           "Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n"
           "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
           "UID:allhands@x\r\nDTSTAMP:20250301T000000Z\r\nDTSTART:20250312T100000Z\r\n"
           f"DTEND:20250312T110000Z\r\n{attendees}END:VEVENT\r\nEND:VCALENDAR\r\n").encode()
    for sub in ("cur", "new", "tmp"):
        (home.maildir / ".Invites" / sub).mkdir(parents=True)
    home.deliver(raw, folder=".Invites")
    source = home.account(invitations_folders=[".Invites"]).sources[-1]
    assert source.name == "mail:.Invites"
    [m] = source.changes(None, WINDOW).upserts
    assert len(m.attendees) == 5001
