"""parse_calendar against real exports (Google, Exchange, Outlook) and hostile input."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from followup.ical import parse_calendar
from followup.model import CUType, MeetingStatus, PartStat, Role

from .conftest import BERLIN, CALENDARS, window

WIDE = window("2000-01-01", "2040-01-01")


def parse_text(text: str, tz: ZoneInfo = BERLIN, win=WIDE):  # type: ignore[no-untyped-def]
    return parse_calendar(text, source="test", window=win, default_tz=tz)


def vcal(*events: str, header: str = "") -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    return f"{head}{header}{body}END:VCALENDAR\r\n"


def test_google_weekly_series_honours_exdate_and_reads_attendees() -> None:
    data = (CALENDARS / "machbar_16_feb_2019.ics").read_bytes()
    parsed = parse_calendar(data, source="google", window=window("2019-02-25", "2019-03-18"),
                            default_tz=ZoneInfo("UTC"))
    thursdays = sorted(
        m.start for m in parsed.meetings if m.uid == "7g6502aejkun96i5fenfu6hvc1@google.com"
    )
    # Weekly on Thursdays from 28 Feb, 7 March excluded by EXDATE.
    assert thursdays == [
        datetime(2019, 2, 28, 8, 30, tzinfo=BERLIN), datetime(2019, 3, 14, 8, 30, tzinfo=BERLIN)
    ]
    occurrence = next(m for m in parsed.meetings if m.uid.startswith("7g6502"))
    assert occurrence.is_recurring
    assert occurrence.series_start == datetime(2019, 2, 28, 8, 30, tzinfo=BERLIN)
    assert occurrence.recurrence_id == occurrence.start
    attendee = occurrence.attendees[0]
    assert attendee.email == attendee.email.lower() and "@" in attendee.email
    assert attendee.partstat is PartStat.ACCEPTED
    assert attendee.role is Role.REQUIRED and attendee.cutype is CUType.INDIVIDUAL
    # UIDs of events outside the window are still reported.
    assert "4pudsugalsbuqetcfdns8demti@google.com" in parsed.uids
    assert parsed.errors == []


def test_x_wr_timezone_applies_to_google_utc_times() -> None:
    data = (CALENDARS / "x_wr_timezone_simple_events_issue_59.ics").read_bytes()
    parsed = parse_calendar(data, source="g", window=window("2021-12-01", "2022-01-01"),
                            default_tz=BERLIN)
    noon = next(m for m in parsed.meetings if "noon" in m.title)
    local = noon.start.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (12, 0)


def test_exchange_all_day_series_with_moved_occurrence() -> None:
    data = (CALENDARS / "issue_28_rrule_with_UTC_endinginZ.ics").read_bytes()
    parsed = parse_calendar(data, source="exchange", window=window("2020-04-01", "2020-05-01"),
                            default_tz=BERLIN)
    black = sorted(m.start.date() for m in parsed.meetings if m.title == "Refuse black bin")
    # Every other Thursday from 2 April; the 16 April one was moved to Friday the 17th.
    assert black == [date(2020, 4, 2), date(2020, 4, 17), date(2020, 4, 30)]
    assert all(m.all_day for m in parsed.meetings)
    first = min(parsed.meetings, key=lambda m: m.start)
    assert first.start == datetime(2020, 4, 2, tzinfo=BERLIN)
    assert first.end - first.start == timedelta(days=1)


def test_all_day_event_is_flagged_and_spans_the_users_day() -> None:
    data = (CALENDARS / "one_day_event.ics").read_bytes()
    tz = ZoneInfo("America/Los_Angeles")
    [m] = parse_calendar(data, source="x", window=window("2019-03-01", "2019-03-10"),
                         default_tz=tz).meetings
    assert m.all_day
    assert (m.start, m.end) == (datetime(2019, 3, 4, tzinfo=tz), datetime(2019, 3, 5, tzinfo=tz))


def test_missing_dtend_uses_duration_or_rfc_defaults() -> None:
    parsed = parse_text(vcal(
        "UID:d1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\nDURATION:PT90M",
        "UID:d2\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;VALUE=DATE:20250111",
        "UID:d3\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250112T100000Z",
    ))
    by_uid = {m.uid: m for m in parsed.meetings}
    assert by_uid["d1"].end - by_uid["d1"].start == timedelta(minutes=90)
    assert by_uid["d2"].all_day and by_uid["d2"].end - by_uid["d2"].start == timedelta(days=1)
    assert by_uid["d3"].end == by_uid["d3"].start


def test_real_calendar_without_dtend() -> None:
    data = (CALENDARS / "discourse_no_dtend.ics").read_bytes()
    parsed = parse_calendar(data, source="discourse", window=window("2019-01-01", "2019-06-01"),
                            default_tz=BERLIN)
    open_lab = next(m for m in parsed.meetings if "openLab" in m.title)
    assert open_lab.end == open_lab.start == datetime(2019, 1, 17, 18, 0, 25, tzinfo=BERLIN)
    assert len(parsed.meetings) == 4


def test_floating_and_unknown_zones_use_the_default_and_warn() -> None:
    tz = ZoneInfo("Asia/Tokyo")
    with structlog.testing.capture_logs() as logs:
        parsed = parse_text(vcal(
            "UID:f\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000\r\nDTEND:20250110T110000",
            "UID:u\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;TZID=Mars/Olympus:20250110T100000\r\n"
            "DTEND;TZID=Mars/Olympus:20250110T110000",
        ), tz=tz)
    for m in parsed.meetings:
        assert m.start == datetime(2025, 1, 10, 10, tzinfo=tz)
    warned = [e for e in logs if e["event"] == "ical.unknown_timezone"]
    assert [e["tzid"] for e in warned] == ["Mars/Olympus"]


def test_windows_zone_names_without_vtimezone() -> None:
    parsed = parse_text(vcal(
        "UID:w\r\nDTSTAMP:20250101T000000Z\r\n"
        'DTSTART;TZID="W. Europe Standard Time":20250701T100000\r\n'
        "DTEND;TZID=Pacific Standard Time:20250701T020000",
    ), tz=ZoneInfo("UTC"))
    [m] = parsed.meetings
    assert m.start == datetime(2025, 7, 1, 8, tzinfo=UTC)
    assert m.end == datetime(2025, 7, 1, 9, tzinfo=UTC)


def test_series_with_floating_times_and_exdate() -> None:
    parsed = parse_text(vcal(
        "UID:s\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250106T090000\r\n"
        "DTEND:20250106T093000\r\nRRULE:FREQ=DAILY;COUNT=5\r\nEXDATE:20250108T090000",
        "UID:s\r\nDTSTAMP:20250101T000000Z\r\nRECURRENCE-ID:20250109T090000\r\n"
        "DTSTART:20250109T140000\r\nDTEND:20250109T150000\r\nSUMMARY:moved",
    ))
    starts = sorted((m.start.day, m.start.hour) for m in parsed.meetings)
    assert starts == [(6, 9), (7, 9), (9, 14), (10, 9)]
    moved = next(m for m in parsed.meetings if m.title == "moved")
    assert moved.recurrence_id == datetime(2025, 1, 9, 9, tzinfo=BERLIN)


def test_one_broken_event_does_not_lose_the_others() -> None:
    with structlog.testing.capture_logs() as logs:
        parsed = parse_text(vcal(
            "UID:good\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
            "DTEND:20250110T110000Z",
            "UID:bad-start\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:tomorrow",
            "UID:backwards\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
            "DTEND:20250110T090000Z",
            "UID:no-start\r\nDTSTAMP:20250101T000000Z\r\nSUMMARY:x",
        ))
    assert [m.uid for m in parsed.meetings] == ["good"]
    assert parsed.uids == {"good", "bad-start", "backwards", "no-start"}
    assert len(parsed.errors) == 3
    assert parsed.errors == [
        "event 2 in test: its start (DTSTART) is not a date or time",
        "event 3 in test: it ends before it starts",
        "event 4 in test: it has no start (DTSTART)",
    ]
    assert {e["uid"] for e in logs if e["event"] == "ical.skipped"} == {
        "bad-start", "backwards", "no-start"}


def test_real_end_before_start_is_skipped_with_a_reason() -> None:
    data = (CALENDARS / "end_before_start_event.ics").read_bytes()
    parsed = parse_calendar(data, source="f.ics", window=WIDE, default_tz=BERLIN)
    assert parsed.meetings == []
    assert parsed.errors == ["event 1 in f.ics: it ends before it starts"]


def test_garbage_is_an_error_not_a_crash() -> None:
    for junk in (b"", b"hello", b"\xff\xfe\x00garbage", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"):
        parsed = parse_calendar(junk, source="junk", window=WIDE, default_tz=BERLIN)
        assert parsed.meetings == []
        assert parsed.errors, junk


def test_attendee_details_and_unsanitised_international_names() -> None:
    parsed = parse_text(vcal(
        "UID:a\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
        "DTEND:20250110T110000Z\r\nSTATUS:TENTATIVE\r\nTRANSP:TRANSPARENT\r\nSEQUENCE:4\r\n"
        'ORGANIZER;CN="Иван Петров":mailto:Ivan@Example.RU\r\n'
        'ATTENDEE;CN="Иван Петров";PARTSTAT=ACCEPTED:MAILTO:ivan@example.ru\r\n'
        "ATTENDEE;CN=山田太郎;PARTSTAT=DECLINED;ROLE=OPT-PARTICIPANT:mailto:taro@example.jp\r\n"
        'ATTENDEE;CN="محمد علي";PARTSTAT=TENTATIVE:mailto:m@example.eg\r\n'
        'ATTENDEE;CN="Jane^nDoe";CUTYPE=ROOM:mailto:room1@example.org\r\n'
        "ATTENDEE;CUTYPE=X-ROBOT:mailto:bot@example.org\r\n"
        "ATTENDEE:urn:uuid:no-address",
    ))
    [m] = parsed.meetings
    assert m.status is MeetingStatus.TENTATIVE and m.transparent and m.sequence == 4
    assert m.organizer is not None and m.organizer.email == "ivan@example.ru"
    people = {a.email: a for a in m.attendees}
    assert set(people) == {"ivan@example.ru", "taro@example.jp", "m@example.eg",
                           "room1@example.org", "bot@example.org"}
    assert people["ivan@example.ru"].is_organizer and people["ivan@example.ru"].name == (
        "Иван Петров")
    assert people["taro@example.jp"].name == "山田太郎"
    assert people["taro@example.jp"].partstat is PartStat.DECLINED
    assert people["taro@example.jp"].role is Role.OPTIONAL
    assert people["m@example.eg"].name == "محمد علي"
    # RFC 6868 ^n is a newline: passed on as is, the core cleans names.
    assert people["room1@example.org"].name == "Jane\nDoe"
    assert people["room1@example.org"].cutype is CUType.ROOM
    assert people["bot@example.org"].cutype is CUType.UNKNOWN


def test_conference_links() -> None:
    parsed = parse_text(vcal(
        "UID:c1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
        "CONFERENCE;VALUE=URI;FEATURE=PHONE:tel:+1-555-0100\r\n"
        "CONFERENCE;VALUE=URI;FEATURE=VIDEO:https://chat.example.com/room/42",
        "UID:c2\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
        "DESCRIPTION:Join: https://example.com/about and then\\nhttps://teams.microsoft.com/l/"
        "meetup-join/19%3ameeting_abc%40thread.v2/0?context=x.",
        "UID:c3\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
        "LOCATION:Room 4 / https://meet.google.com/abc-defg-hij",
        "UID:c4\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
        "X-GOOGLE-CONFERENCE:https://meet.google.com/xyz-abcd-efg",
        "UID:c5\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
        "LOCATION:https://example.com/not-a-call",
    ))
    urls = {m.uid: m.conference_url for m in parsed.meetings}
    assert urls == {
        "c1": "https://chat.example.com/room/42",
        "c2": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=x",
        "c3": "https://meet.google.com/abc-defg-hij",
        "c4": "https://meet.google.com/xyz-abcd-efg",
        "c5": None,
    }


def test_method_cancel_cancels() -> None:
    parsed = parse_text(vcal(
        "UID:x\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\nSEQUENCE:2",
        header="METHOD:CANCEL\r\n",
    ))
    assert parsed.method == "CANCEL"
    assert [m.status for m in parsed.meetings] == [MeetingStatus.CANCELLED]


def test_five_thousand_attendees_are_fine_and_fast() -> None:
    attendees = "".join(
        f'ATTENDEE;CN="Person {i}";PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT:'
        f"mailto:person{i}@example.org\r\n" for i in range(5000)
    )
    text = vcal("UID:big\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\n"
                "DTEND:20250110T110000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n" + attendees.strip())
    began = time.perf_counter()
    parsed = parse_text(text)
    elapsed = time.perf_counter() - began
    assert len(parsed.meetings) == 3
    assert all(len(m.attendees) == 5000 for m in parsed.meetings)
    assert elapsed < 10, elapsed


def test_look_ahead_finds_the_next_occurrence_after_the_window() -> None:
    parsed = parse_calendar(
        vcal("UID:w\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250106T100000Z\r\n"
             "RRULE:FREQ=WEEKLY"),
        source="t", window=window("2025-01-01", "2025-01-10"), default_tz=BERLIN,
        look_ahead=True,
    )
    assert parsed.next_start == datetime(2025, 1, 13, 10, tzinfo=UTC)
