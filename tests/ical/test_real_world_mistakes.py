"""What real calendars get wrong, and what the parser makes of it (issue 12).

One broken event never costs its neighbours; unambiguous mistakes are repaired; all-day
events written as times are all-day; a floating end belongs to its start's zone; names with
commas stay one name; answers to invitations and iCloud relays do not make extra people.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from followup.config import TriageConfig, UserConfig
from followup.core.names import parse_name
from followup.core.triage import triage
from followup.ical import parse_calendar, parse_invitation_mail
from followup.ical.parse import ITIP_ANSWER, UNREADABLE
from followup.model import Meeting

from .conftest import BERLIN, window
from .test_parse import WIDE, parse_text, vcal

NEW_YORK = ZoneInfo("America/New_York")
STAMP = "DTSTAMP:20250101T000000Z\r\n"
GOOD = (f"UID:good\r\n{STAMP}DTSTART:20250110T100000Z\r\nDTEND:20250110T110000Z\r\n"
        "SUMMARY:Good meeting")


def only(parsed_meetings: list[Meeting], uid: str) -> Meeting:
    [m] = [m for m in parsed_meetings if m.uid == uid]
    return m


# --- one broken event, never its file --------------------------------------------------------


def test_the_fiji_event_with_two_starts_is_skipped_and_its_neighbour_kept() -> None:
    # icalendar's pacific_fiji.ics: DTSTART written twice with different times.
    fiji = (
        "UID:noend123\r\n"
        "DTSTART;TZID=Pacific/Fiji;VALUE=DATE-TIME:20140829T080000\r\n"
        "DTSTART;TZID=Pacific/Fiji;VALUE=DATE-TIME:20140829T100000\r\n"
        "SUMMARY:an event with a custom tz name"
    )
    parsed = parse_text(vcal(fiji, GOOD))
    assert [m.uid for m in parsed.meetings] == ["good"]
    assert parsed.errors == ["event 1 in test: DTSTART is given 2 times with different values"]
    assert [(s.event, s.code) for s in parsed.skipped] == [(1, UNREADABLE)]


def test_the_same_start_written_twice_is_one_start() -> None:
    twice = f"UID:t\r\n{STAMP}DTSTART:20250110T100000Z\r\nDTSTART:20250110T100000Z"
    parsed = parse_text(vcal(twice))
    assert [m.start for m in parsed.meetings] == [datetime(2025, 1, 10, 10, tzinfo=UTC)]
    assert parsed.errors == []
    assert parsed.notes == [
        "event 1 in test: DTSTART was written 2 times with one value; kept once"]


def test_a_time_zone_defined_after_the_event_that_names_it() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        "BEGIN:VEVENT\r\nUID:fwd\r\n" + STAMP +
        "DTSTART;TZID=custom_Forward:20250110T080000\r\n"
        "DTEND;TZID=custom_Forward:20250110T090000\r\nEND:VEVENT\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:custom_Forward\r\nBEGIN:STANDARD\r\n"
        "DTSTART:19700101T000000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0500\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
    )
    [m] = parse_text(text).meetings
    assert m.start == datetime(2025, 1, 10, 13, tzinfo=UTC)


def test_a_stray_line_between_events_costs_nothing() -> None:
    text = vcal(GOOD).replace("END:VCALENDAR", "X\r\nthis is not iCalendar\r\nEND:VCALENDAR")
    parsed = parse_text(text)
    assert [m.uid for m in parsed.meetings] == ["good"]
    assert parsed.errors == []
    assert all("not iCalendar; ignored" in n for n in parsed.notes)
    assert not any("this is not" in n for n in parsed.notes)  # never quoted


def test_an_event_cut_off_at_the_end_of_the_file() -> None:
    text = vcal(GOOD) + "BEGIN:VEVENT\r\nUID:cut\r\nDTSTART:20250111T100000Z\r\n"
    text = text.replace("END:VCALENDAR\r\n", "", 1)
    parsed = parse_text(text)
    assert [m.uid for m in parsed.meetings] == ["good"]
    assert parsed.errors == [
        "event 2 in test: it has no END:VEVENT (the file is cut short or broken)"]


def test_an_event_without_a_calendar_around_it() -> None:
    parsed = parse_text(f"BEGIN:VEVENT\r\n{GOOD}\r\nEND:VEVENT\r\n")
    assert [m.title for m in parsed.meetings] == ["Good meeting"]


def test_a_missing_end_is_found_at_the_next_event() -> None:
    text = vcal(GOOD, f"UID:second\r\n{STAMP}DTSTART:20250111T100000Z")
    text = text.replace("END:VEVENT\r\nBEGIN:VEVENT", "BEGIN:VEVENT", 1)
    parsed = parse_text(text)
    assert [m.uid for m in parsed.meetings] == ["second"]
    assert parsed.errors == [
        "event 1 in test: it has no END:VEVENT (the file is cut short or broken)"]


def test_an_alarm_without_its_end_inside_an_event() -> None:
    parsed = parse_text(vcal(GOOD + "\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M"))
    assert [m.uid for m in parsed.meetings] == ["good"]


def test_an_end_that_closes_nothing_inside_an_event() -> None:
    parsed = parse_text(vcal(f"UID:s\r\n{STAMP}END:VALARM\r\nDTSTART:20250110T100000Z"))
    assert [m.uid for m in parsed.meetings] == ["s"]


def test_lines_folded_with_tabs_and_unicode_line_separators_in_values() -> None:
    parsed = parse_text(vcal(f"UID:f\r\n{STAMP}DTSTART:20250110T100000Z\r\n"
                             "SUMMARY:Quarterly\r\n\t review\u2028with Jane"))
    assert [m.title for m in parsed.meetings] == ["Quarterly review\u2028with Jane"]


@pytest.mark.parametrize("text", ["BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                                  "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"])
def test_an_empty_calendar_is_no_error(text: str) -> None:
    parsed = parse_text(text)
    assert (parsed.meetings, parsed.errors, parsed.skipped) == ([], [], [])


def test_a_utf16_file_from_windows_calendar() -> None:
    data = vcal(GOOD).encode("utf-16")
    parsed = parse_calendar(data, source="w.ics", window=WIDE, default_tz=BERLIN)
    assert [m.title for m in parsed.meetings] == ["Good meeting"]


# --- unambiguous repairs ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["MTIzNA==", "99999999999999999999999", "-3", "1.5"])
def test_a_sequence_that_is_not_a_small_number_is_zero_with_a_note(raw: str) -> None:
    parsed = parse_text(vcal(GOOD + f"\r\nSEQUENCE:{raw}"))
    [m] = parsed.meetings
    assert m.sequence == 0
    assert parsed.notes == ["event 1 in test: SEQUENCE is not a small whole number; 0 used"]
    assert raw not in " ".join(parsed.notes)


def test_spaces_in_a_repeat_rule() -> None:
    parsed = parse_text(vcal(
        f"UID:r\r\n{STAMP}DTSTART:20250106T100000Z\r\nDTEND:20250106T110000Z\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=MO, TU"
    ))
    assert [m.start.strftime("%a %d") for m in parsed.meetings] == [
        "Mon 06", "Tue 07", "Mon 13", "Tue 14"]
    assert parsed.errors == []


def test_an_end_time_with_a_leading_space() -> None:
    parsed = parse_text(vcal(f"UID:e\r\n{STAMP}DTSTART:20250110T100000Z\r\n"
                             "DTEND: 20250110T113000Z"))
    [m] = parsed.meetings
    assert m.end - m.start == timedelta(minutes=90)


def test_a_date_carrying_z_is_a_date() -> None:
    parsed = parse_text(vcal(f"UID:d\r\n{STAMP}DTSTART;VALUE=DATE:20250110Z\r\n"
                             "DTEND;VALUE=DATE:20250111Z"))
    [m] = parsed.meetings
    assert m.all_day
    assert (m.start, m.end) == (datetime(2025, 1, 10, tzinfo=BERLIN),
                                datetime(2025, 1, 11, tzinfo=BERLIN))


def test_an_empty_exdate_excludes_nothing() -> None:
    parsed = parse_text(vcal(f"UID:x\r\n{STAMP}DTSTART;VALUE=DATE:20250110\r\n"
                             "RRULE:FREQ=DAILY;COUNT=3\r\nEXDATE;VALUE=DATE:"))
    assert len(parsed.meetings) == 3


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ("DTSTART:next tuesday", "its start (DTSTART) is not a date or time"),
        ("DTSTART:20250110T100000Z\r\nDTEND:soon", "its end (DTEND) is not a date or time"),
        ("DTSTART:20250110T100000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=XX",
         "its repeat rule (RRULE) cannot be read"),
        ("DTSTART:20250110T100000Z\r\nDURATION:P999999999999999999W",
         "its length (DURATION) is not a length of time"),
        ("DTSTART:20250110T100000Z\r\nRRULE:FREQ=MONTHLY;BYDAY=20MO",
         "its repetition cannot be worked out"),
        ("SUMMARY:no start", "it has no start (DTSTART)"),
        ("DTSTART:20250110T100000Z\r\nDURATION:-PT1H", "it ends before it starts"),
    ],
)
def test_what_cannot_be_read_is_said_in_words(lines: str, reason: str) -> None:
    parsed = parse_text(vcal(f"UID:bad\r\n{STAMP}{lines}", GOOD))
    assert [m.uid for m in parsed.meetings] == ["good"]
    assert parsed.errors == [f"event 1 in test: {reason}"]


# --- all-day events written as times ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        # Exchange and iCloud: midnight to midnight in the organiser's zone.
        ("DTSTART;TZID=America/New_York:20250110T000000",
         "DTEND;TZID=America/New_York:20250111T000000", 1),
        ('DTSTART;TZID="W. Europe Standard Time":20250110T000000',
         'DTEND;TZID="W. Europe Standard Time":20250113T000000', 3),
        ("DTSTART:20250110T000000Z", "DTEND:20250111T000000Z", 1),
    ],
)
def test_midnight_to_midnight_in_a_zone_is_all_day_on_the_users_days(
    start: str, end: str, days: int
) -> None:
    [m] = parse_text(vcal(f"UID:ad\r\n{STAMP}{start}\r\n{end}"), tz=BERLIN).meetings
    assert m.all_day
    assert m.start == datetime(2025, 1, 10, tzinfo=BERLIN)
    assert m.end == datetime(2025, 1, 10 + days, tzinfo=BERLIN)


def test_microsofts_all_day_flag() -> None:
    [m] = parse_text(vcal(
        f"UID:ms\r\n{STAMP}DTSTART;TZID=Europe/London:20250110T000000\r\n"
        "DTEND;TZID=Europe/London:20250110T235900\r\nX-MICROSOFT-CDO-ALLDAYEVENT:TRUE"
    )).meetings
    assert m.all_day and m.start == datetime(2025, 1, 10, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("20250110T090000Z", "20250112T170000Z"),  # a three-day conference
        ("20250110T080000Z", "20250111T050000Z"),  # 21 hours
        ("20250110T000000Z", "20250111T010000Z"),  # a day and an hour from midnight
    ],
)
def test_long_spans_are_all_day_and_not_meetings(start: str, end: str) -> None:
    [m] = parse_text(vcal(
        f"UID:long\r\n{STAMP}DTSTART:{start}\r\nDTEND:{end}\r\n"
        "ORGANIZER:mailto:ada@lovelace.dev\r\nATTENDEE:mailto:jane@acme.com"
    )).meetings
    assert m.all_day
    assert (m.start, m.end) == (datetime.strptime(start, "%Y%m%dT%H%M%S%z"),
                                datetime.strptime(end, "%Y%m%dT%H%M%S%z"))
    user = UserConfig(name="Ada", addresses=["ada@lovelace.dev"])
    result = triage(m, user, TriageConfig(), self_addresses=(), known_series_members=None)
    assert [s.code for s in result.skips] == ["all_day"]


@pytest.mark.parametrize(("start", "end"), [("100000", "110000"), ("000000", "013000"),
                                            ("080000", "200000")])
def test_ordinary_meetings_stay_timed(start: str, end: str) -> None:
    [m] = parse_text(vcal(f"UID:t\r\n{STAMP}DTSTART;TZID=Europe/Berlin:20250110T{start}\r\n"
                          f"DTEND;TZID=Europe/Berlin:20250110T{end}")).meetings
    assert not m.all_day


# --- zones -----------------------------------------------------------------------------------


def test_a_floating_end_is_read_in_the_starts_zone() -> None:
    [m] = parse_text(vcal(
        f"UID:f\r\n{STAMP}DTSTART;TZID=America/New_York:20250110T100000\r\n"
        "DTEND:20250110T110000"
    ), tz=BERLIN).meetings
    assert m.start == datetime(2025, 1, 10, 10, tzinfo=NEW_YORK)
    assert m.end == datetime(2025, 1, 10, 11, tzinfo=NEW_YORK)


# --- people ----------------------------------------------------------------------------------


def test_an_unquoted_comma_in_a_name_is_one_name() -> None:
    [m] = parse_text(vcal(
        f"UID:n\r\n{STAMP}DTSTART:20250110T100000Z\r\n"
        "ORGANIZER;CN=SMITH, JOHN:mailto:john.smith@acme.com\r\n"
        "ATTENDEE;CN=van der Berg, Anna;PARTSTAT=ACCEPTED:mailto:anna@acme.com"
    )).meetings
    assert m.organizer is not None and m.organizer.name == "SMITH, JOHN"
    assert [a.name for a in m.attendees] == ["van der Berg, Anna"]
    john = parse_name(m.organizer.name)
    assert (john.display, john.given, john.family) == ("John Smith", "John", "Smith")
    anna = parse_name(m.attendees[0].name)
    assert (anna.display, anna.greeting) == ("Anna van der Berg", "Anna")


def test_an_icloud_relay_address_gives_way_to_the_email_parameter() -> None:
    [m] = parse_text(vcal(
        f"UID:i\r\n{STAMP}DTSTART:20250110T100000Z\r\n"
        'ORGANIZER;CN="Jane Doe";EMAIL=jane@acme.com:mailto:2_GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
        "@imip.me.com\r\n"
        'ATTENDEE;CN="Jane Doe";EMAIL=jane@acme.com;PARTSTAT=ACCEPTED:mailto:2_GEZDGNBVGY3TQOJQ'
        "GEZDGNBVGY3TQOJQ@imip.me.com\r\n"
        "ATTENDEE;CN=Jane Doe;PARTSTAT=ACCEPTED:mailto:jane@acme.com\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ada@lovelace.dev"
    )).meetings
    assert m.organizer is not None and m.organizer.email == "jane@acme.com"
    assert [a.email for a in m.attendees] == ["jane@acme.com", "ada@lovelace.dev"]
    assert m.attendees[0].is_organizer


# --- answers to invitations ------------------------------------------------------------------


REPLY_EVENT = (f"UID:r1\r\n{STAMP}DTSTART:20250110T100000Z\r\nSEQUENCE:0\r\n"
               "ORGANIZER:mailto:support@apple.example\r\n"
               "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ada@lovelace.dev")


@pytest.mark.parametrize(
    "header",
    ["METHOD:REPLY\r\n", "METHOD:REPLY\r\nMETHOD:REPLY\r\n", "METHOD:PUBLISH\r\nMETHOD:REPLY\r\n",
     "METHOD:COUNTER\r\n", "METHOD:REFRESH\r\n", "METHOD:reply\r\n"],
)
def test_answers_to_invitations_are_not_meetings(header: str) -> None:
    text = vcal(REPLY_EVENT, header=header)
    parsed = parse_text(text)
    assert parsed.meetings == []
    assert [(s.code, s.reason) for s in parsed.skipped] == [
        (ITIP_ANSWER, f"event 1 in test: an answer to an invitation (METHOD:{parsed.method}), "
                      "not a meeting")]
    msg = EmailMessage()
    msg["From"] = "support@apple.example"
    msg["To"] = "ada@lovelace.dev"
    msg["Subject"] = "Accepted: support call"
    msg.set_content("Accepted")
    msg.add_attachment(text.encode(), maintype="text", subtype="calendar", filename="reply.ics")
    mailed = parse_invitation_mail(msg.as_bytes(), source="mail", window=WIDE,
                                   default_tz=BERLIN)
    assert mailed.meetings == []


# --- window ----------------------------------------------------------------------------------


def test_decisions_are_per_event_within_the_window() -> None:
    parsed = parse_calendar(vcal(GOOD), source="s", window=window("2025-02-01", "2025-03-01"),
                            default_tz=BERLIN)
    assert parsed.meetings == [] and parsed.uids == {"good"} and parsed.skipped == []
