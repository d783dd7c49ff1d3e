"""parse_invitation_mail on the calmailproc corpus: what each scenario's test-*.md expects."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from followup.ical import ParsedCalendar, merge_versions, parse_invitation_mail
from followup.model import Meeting, MeetingStatus

from .conftest import BERLIN, MAILS, window

WINDOW = window("2015-01-01", "2030-01-01")


def mail(name: str) -> ParsedCalendar:
    return parse_invitation_mail((MAILS / f"{name}.eml").read_bytes(), source=name,
                                 window=WINDOW, default_tz=BERLIN)


def final_state(*names: str) -> dict[datetime, Meeting]:
    """The merged state after reading `names` (order must not matter)."""
    return {m.occurrence: m for m, _ in merge_versions(mail(n) for n in names)}


@pytest.mark.parametrize("path", sorted(MAILS.glob("*.eml")), ids=lambda p: p.stem)
def test_every_corpus_mail_parses_without_crashing(path) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_invitation_mail(path.read_bytes(), source=path.name, window=WINDOW,
                                   default_tz=BERLIN)
    for m in parsed.meetings:
        assert m.start.tzinfo is not None and m.end >= m.start
        assert m.uid in parsed.uids


def test_mail_without_calendar() -> None:
    parsed = mail("test-0")
    assert (parsed.meetings, parsed.uids, parsed.errors) == ([], set(), [])


def test_exchange_request_then_cancel() -> None:
    [created] = mail("test-01-1").meetings
    assert created.title == "Test Event 1" and created.status is MeetingStatus.CONFIRMED
    assert created.start == datetime(2025, 3, 10, 14, tzinfo=BERLIN)  # W. Europe Standard Time
    assert created.organizer is not None
    assert created.organizer.email == "markus.brechtel@uk-koeln.de"
    assert [a.email for a in created.attendees] == ["brechtel@med.uni-frankfurt.de"]
    for order in itertools.permutations(["test-01-1", "test-01-2"]):
        [final] = final_state(*order).values()
        assert final.status is MeetingStatus.CANCELLED and final.sequence == 1


def test_recurring_series_with_a_moved_and_a_cancelled_occurrence() -> None:
    for order in itertools.permutations(["test-03-1", "test-03-2", "test-03-3"]):
        state = final_state(*order)
        moved = state[datetime(2025, 3, 20, 15, tzinfo=BERLIN)]
        assert moved.start == datetime(2025, 3, 20, 11, tzinfo=BERLIN)
        cancelled = state[datetime(2025, 3, 27, 15, tzinfo=BERLIN)]
        assert cancelled.status is MeetingStatus.CANCELLED
        usual = state[datetime(2025, 4, 3, 15, tzinfo=BERLIN)]
        assert usual.status is MeetingStatus.CONFIRMED and usual.start.hour == 15
        assert len(state) == 25  # weekly on Thursdays, 13 March to 28 August


def test_replies_are_not_meetings() -> None:
    for name in ("test-05-2", "test-06-2"):
        parsed = mail(name)
        assert parsed.method == "REPLY"
        assert parsed.meetings == [] and parsed.uids == set()


def test_the_same_calendar_twice_in_one_mail_is_one_meeting() -> None:
    for name in ("test-08", "test-09"):
        assert len(mail(name).meetings) == 1


def test_forwarded_invitation() -> None:
    [m] = mail("test-09").meetings
    assert m.title == "Test 9"
    assert [(a.name, a.email) for a in m.attendees] == [
        ("Ludwig Montag", "ludwig.montag@med.uni-frankfurt.de")]


def test_inline_calendar_body_with_zoom_link_and_windows_zone() -> None:
    [m] = mail("test-10").meetings
    assert m.start == datetime(2025, 4, 17, 14, tzinfo=BERLIN)
    assert m.conference_url == "https://uni-frankfurt.zoom-x.de/j/3029758878?omn=63051536587"


def test_outlook_cancel_without_a_new_sequence_wins_by_dtstamp() -> None:
    for order in itertools.permutations(["test-11-1", "test-11-2"]):
        [final] = final_state(*order).values()
        assert final.status is MeetingStatus.CANCELLED


def test_octet_stream_attachment_and_a_mangled_organizer() -> None:
    [m] = mail("test-14").meetings
    assert m.start == datetime(2023, 9, 29, 16, 50, tzinfo=BERLIN)
    assert m.organizer is not None and m.organizer.email == "webmaster@trenitalia.it"


def test_iso_formatted_times_from_deutsche_bahn_are_accepted() -> None:
    [m] = mail("test-16-1").meetings
    assert m.start == datetime(2023, 7, 1, 12, 57, tzinfo=BERLIN)
    assert m.end == datetime(2023, 7, 1, 14, 46, tzinfo=BERLIN)


@pytest.mark.parametrize("seed", range(6))
def test_instance_updates_survive_a_later_master_in_any_order(seed: int) -> None:
    names = [f"test-17-{i}" for i in range(8)]
    import random

    random.Random(seed).shuffle(names)
    state = final_state(*names)
    at = lambda d, h=15: datetime(2025, 5, d, h, tzinfo=BERLIN)  # noqa: E731
    assert state[at(16)].start == at(15, 14)  # moved to Thursday 14:00 (sequence 7)
    assert state[at(9)].start == datetime(2025, 5, 7, 15, tzinfo=BERLIN)  # moved (sequence 6)
    assert state[at(23)].status is MeetingStatus.CANCELLED
    assert state[datetime(2025, 6, 6, 15, tzinfo=BERLIN)].status is MeetingStatus.CANCELLED
    assert state[at(30)].status is MeetingStatus.CONFIRMED and state[at(30)].sequence == 5


def test_instance_before_its_series() -> None:
    utc = ZoneInfo("UTC")
    for order in itertools.permutations(["test-18-0", "test-18-1"]):
        state = final_state(*order)
        assert len(state) == 10
        moved = state[datetime(2025, 10, 3, 10, tzinfo=utc)]
        assert moved.start == datetime(2025, 10, 3, 11, tzinfo=utc)
        assert all(m.is_recurring for m in state.values())


def test_not_a_mail_at_all() -> None:
    parsed = parse_invitation_mail(b"\x00\x01garbage", source="x", window=WINDOW,
                                   default_tz=BERLIN)
    assert parsed.meetings == []


# --- who may speak for a meeting (RFC 6047 section 3) -------------------------------------

ORGANIZER = "alice@acme.example"
ME = "me@example.com"


def invite(
    *,
    sender: str = ORGANIZER,
    method: str = "REQUEST",
    sequence: int = 0,
    stamp: str = "20250301T000000Z",
    my_partstat: str | None = "ACCEPTED",
    attendee: str = "bob@acme.example",
    headers: str = "",
    organizer: str = ORGANIZER,
) -> bytes:
    me = f"ATTENDEE;PARTSTAT={my_partstat}:mailto:{ME}\r\n" if my_partstat else ""
    status = "STATUS:CANCELLED\r\n" if method == "CANCEL" else ""
    return (
        f"{headers}From: Someone <{sender}>\r\nTo: {ME}\r\nSubject: Planning\r\n"
        f"Content-Type: text/calendar; method={method}; charset=utf-8\r\n\r\n"
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\n"
        f"UID:planning@acme.example\r\nSEQUENCE:{sequence}\r\nDTSTAMP:{stamp}\r\n"
        "DTSTART:20250312T100000Z\r\nDTEND:20250312T110000Z\r\nSUMMARY:Planning\r\n"
        f"ORGANIZER:mailto:{organizer}\r\n{me}ATTENDEE;PARTSTAT=ACCEPTED:mailto:{attendee}\r\n"
        f"{status}END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def read(raw: bytes, user: tuple[str, ...] = (ME,)) -> list[Meeting]:
    return parse_invitation_mail(raw, source="t", window=WINDOW, default_tz=BERLIN,
                                 user_addresses=user).meetings


def test_the_organisers_invitation_and_update_count() -> None:
    [m] = read(invite())
    assert [a.email for a in m.attendees] == [ME, "bob@acme.example"]
    [update] = read(invite(sequence=3, attendee="carol@acme.example"))
    assert update.sequence == 3
    [cancel] = read(invite(method="CANCEL", sequence=4))
    assert cancel.status is MeetingStatus.CANCELLED


def test_forged_update_and_cancel_from_someone_else_are_ignored() -> None:
    forged = invite(sender="alice@acme-example.evil", sequence=7, attendee="bob@look-alike.evil")
    assert read(forged) == []
    assert read(invite(sender="mallory@evil.example", method="CANCEL", sequence=1)) == []
    # Even with no SEQUENCE, a cancellation must come from the organiser.
    assert read(invite(sender="mallory@evil.example", method="CANCEL")) == []


def test_a_first_invitation_from_someone_else_cannot_win_a_tie() -> None:
    genuine = parse_invitation_mail(invite(), source="a", window=WINDOW, default_tz=BERLIN)
    forged = parse_invitation_mail(
        invite(sender="mallory@evil.example", stamp="20250305T000000Z",
               attendee="bob@look-alike.evil"),
        source="b", window=WINDOW, default_tz=BERLIN)
    assert len(forged.meetings) == 1 and not forged.from_organizer
    assert genuine.from_organizer
    for order in ((genuine, forged), (forged, genuine)):
        [(final, _)] = merge_versions(order)
        assert [a.email for a in final.attendees][-1] == "bob@acme.example"


def test_the_sender_header_may_name_the_organiser() -> None:
    delegated = invite(sender="assistant@acme.example", sequence=2,
                       headers=f"Sender: {ORGANIZER}\r\n")
    assert len(read(delegated)) == 1


def test_authentication_results_must_vouch_for_the_sender() -> None:
    passed = "Authentication-Results: mx.example.com; spf=Pass smtp.mailfrom=alice@acme.example\r\n"
    assert len(read(invite(headers=passed))) == 1
    dkim = ("Authentication-Results: mx.example.com; dkim=pass header.d=mail.acme.example "
            "header.s=s1; spf=fail smtp.mailfrom=bounce@elsewhere.example\r\n")
    assert len(read(invite(headers=dkim))) == 1  # relaxed alignment: a subdomain signs
    failed = ("Authentication-Results: mx.example.com; dkim=fail header.d=acme.example; "
              "spf=fail smtp.mailfrom=alice@acme.example; dmarc=fail header.from=acme.example\r\n")
    assert read(invite(headers=failed)) == []
    other = "Authentication-Results: mx.example.com; dkim=pass header.d=evil.example\r\n"
    assert read(invite(headers=other)) == []  # a pass, but for someone else's domain
    # Only the topmost header is the receiving server's: a lower one may be the sender's own.
    smuggled = failed + "Authentication-Results: evil; dkim=pass header.d=acme.example\r\n"
    assert read(invite(headers=smuggled)) == []
    nothing_checked = "Authentication-Results: mx.example.com; none\r\n"
    assert len(read(invite(headers=nothing_checked))) == 1


def test_a_sender_header_cannot_vouch_for_a_forged_from() -> None:
    # The attacker signs for their own domain and names it in Sender; From is forged.
    own_signature = ("Authentication-Results: mx.example.com; dkim=pass header.d=evil.example; "
                     "spf=pass smtp.mailfrom=m@evil.example\r\nSender: m@evil.example\r\n")
    assert read(invite(headers=own_signature, sequence=3)) == []
    # Or the attacker is the authenticated From and names the organiser in Sender.
    as_sender = ("Authentication-Results: mx.example.com; dkim=pass header.d=evil.example\r\n"
                 f"Sender: {ORGANIZER}\r\n")
    assert read(invite(sender="m@evil.example", headers=as_sender, sequence=3)) == []
    # Google Calendar's own signature does not vouch for Google Calendar in someone's Sender
    # unless it passed for google.com.
    fake_google = ("Authentication-Results: mx.example.com; dkim=pass header.d=evil.example\r\n"
                   "Sender: Google Calendar <calendar-notification@google.com>\r\n")
    assert read(invite(headers=fake_google, sequence=3)) == []


def test_google_calendar_sends_as_the_organiser_and_signs_as_itself() -> None:
    # As Gmail receives an update from Google Calendar for an organiser on their own domain:
    # From is the organiser, Sender is Google, the DKIM signature is google.com's.
    headers = ("Authentication-Results: mx.google.com;\r\n"
               "       dkim=pass header.i=@google.com header.s=20251104;\r\n"
               "       spf=none smtp.mailfrom=alice@acme.example;\r\n"
               "Sender: Google Calendar <calendar-notification@google.com>\r\n")
    assert len(read(invite(headers=headers, sequence=2))) == 1


def test_an_invitation_the_user_has_not_accepted_creates_nothing() -> None:
    assert read(invite(my_partstat="NEEDS-ACTION")) == []
    assert read(invite(my_partstat=None)) == []  # the user is not even on it (forwarded)
    assert len(read(invite(my_partstat="TENTATIVE"))) == 1
    assert len(read(invite(my_partstat="DECLINED"))) == 1  # triage skips it with its reason
    assert len(read(invite(my_partstat=None, organizer=ME, sender=ME))) == 1  # the user's own
    # A cancellation creates nothing anyway: it counts whatever the user answered.
    assert len(read(invite(method="CANCEL", sequence=1, my_partstat="NEEDS-ACTION"))) == 1
    # Without the user's addresses the rule is not applied (a caller that cannot know them).
    assert len(read(invite(my_partstat="NEEDS-ACTION"), user=())) == 1
