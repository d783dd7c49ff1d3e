"""render_block: a valid VCALENDAR that reads back as the block it describes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from followup.ical import KEY_PROPERTY, block_uid, parse_calendar, render_block
from followup.model import BlockPayload, Interval

KEY = "0123456789abcdefghijklmnopqrstuv"
TZ = ZoneInfo("Europe/Berlin")
START = datetime(2025, 3, 11, 9, 0, tzinfo=UTC)


def block(**kw: object) -> BlockPayload:
    fields: dict[str, object] = {
        "summary": "Send follow-up to Jane Doe, Acme",
        "description": "Jane Doe (jane@example.org), met at Roadmap review.\nDraft: Drafts",
        "start": START, "end": START + timedelta(minutes=15),
    }
    fields.update(kw)
    return BlockPayload(**fields)  # type: ignore[arg-type]


def test_block_round_trips_through_icalendar() -> None:
    data = render_block(KEY, block(), tz=TZ, stamp=datetime(2025, 3, 10, 15, tzinfo=UTC))
    cal = Calendar.from_ical(data)
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == block_uid(KEY)
    assert str(event[KEY_PROPERTY]) == KEY
    assert event["CATEGORIES"].cats == ["followup"]
    assert str(event["TRANSP"]) == "OPAQUE"
    assert event["DTSTAMP"].dt == datetime(2025, 3, 10, 15, tzinfo=UTC)
    assert event["DTSTART"].dt == START and event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert str(event["DESCRIPTION"]).endswith("\nDraft: Drafts")
    assert cal.to_ical() == data  # stable when written again


def test_block_reads_back_as_a_busy_meeting() -> None:
    data = render_block(KEY, block(), tz=TZ)
    parsed = parse_calendar(data, source="b", default_tz=ZoneInfo("UTC"),
                            window=Interval(START - timedelta(days=1), START + timedelta(days=1)))
    [m] = parsed.meetings
    assert (m.start, m.end, m.transparent) == (START, START + timedelta(minutes=15), False)
    assert m.title == "Send follow-up to Jane Doe, Acme"


def test_hostile_summary_stays_one_line() -> None:
    data = render_block(KEY, block(summary="Jane\r\nBEGIN:VEVENT\nX"), tz=TZ)
    [event] = Calendar.from_ical(data).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Jane BEGIN:VEVENT X"
    assert data.split(b"\r\n").count(b"BEGIN:VEVENT") == 1  # no line of its own


def test_without_stamp_output_is_a_pure_function_of_inputs() -> None:
    assert render_block(KEY, block(), tz=TZ) == render_block(KEY, block(), tz=TZ)


def test_a_held_offer_is_a_tentative_event_and_a_block_a_confirmed_one() -> None:
    held = Calendar.from_ical(render_block(KEY, block(tentative=True), tz=TZ))
    plain = Calendar.from_ical(render_block(KEY, block(), tz=TZ))
    assert [str(e["STATUS"]) for e in held.walk("VEVENT")] == ["TENTATIVE"]
    assert [str(e["STATUS"]) for e in plain.walk("VEVENT")] == ["CONFIRMED"]
