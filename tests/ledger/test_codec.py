"""Meetings and payloads survive the trip to JSON and back unchanged."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.ledger import codec
from followup.model import (
    Attendee,
    BlockPayload,
    ContactPayload,
    CUType,
    DraftPayload,
    Meeting,
    MeetingStatus,
    PartStat,
    Payload,
    Role,
)

aware = st.datetimes(
    min_value=datetime(1970, 1, 2),
    allow_imaginary=False,
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [
            UTC,
            ZoneInfo("Europe/Paris"),
            ZoneInfo("America/St_Johns"),
            timezone(timedelta(hours=5, minutes=45)),
        ]
    ),
)
text = st.text(max_size=40)
attendees = st.builds(
    Attendee,
    email=text,
    name=st.none() | text,
    partstat=st.sampled_from(PartStat),
    role=st.sampled_from(Role),
    cutype=st.sampled_from(CUType),
    is_organizer=st.booleans(),
    is_self=st.booleans(),
)
meetings = st.builds(
    Meeting,
    uid=text,
    start=aware,
    end=aware,
    title=text,
    description=st.text(max_size=300),
    location=text,
    conference_url=st.none() | text,
    organizer=st.none() | attendees,
    attendees=st.lists(attendees, max_size=5).map(tuple),
    status=st.sampled_from(MeetingStatus),
    all_day=st.booleans(),
    transparent=st.booleans(),
    recurrence_id=st.none() | aware,
    series_start=st.none() | aware,
    sequence=st.integers(min_value=0, max_value=2**31 - 1),
    attendees_omitted=st.booleans(),
    source=text,
)
address = st.tuples(st.none() | text, text)
payloads: st.SearchStrategy[Payload] = st.one_of(
    st.builds(
        ContactPayload,
        email=text,
        display_name=st.none() | text,
        given_name=st.none() | text,
        family_name=st.none() | text,
        organization=st.none() | text,
        note=text,
        group=text,
    ),
    st.builds(
        DraftPayload,
        to=st.lists(address, max_size=3).map(tuple),
        subject=text,
        body=st.text(max_size=300),
        message_id=text,
        from_addr=st.none() | address,
    ),
    st.builds(
        BlockPayload,
        summary=text,
        description=text,
        start=aware,
        end=aware,
        conflict=st.booleans(),
    ),
)


def in_utc(m: Meeting) -> Meeting:
    """The same meeting with UTC times. Python compares an ambiguous local time (a DST fold)
    as unequal to every time in another zone, even the same instant (PEP 495)."""

    def opt(when: datetime | None) -> datetime | None:
        return None if when is None else when.astimezone(UTC)

    return replace(
        m,
        start=m.start.astimezone(UTC),
        end=m.end.astimezone(UTC),
        recurrence_id=opt(m.recurrence_id),
        series_start=opt(m.series_start),
    )


@given(meetings)
def test_meeting_round_trips_through_json_text(meeting: Meeting) -> None:
    stored = json.loads(json.dumps(codec.dump_meeting(meeting)))
    assert codec.load_meeting(stored) == in_utc(meeting)


@given(payloads)
def test_payload_round_trips_through_json_text(payload: Payload) -> None:
    stored = json.loads(json.dumps(codec.dump_payload(payload)))
    if isinstance(payload, BlockPayload):  # see in_utc
        payload = replace(
            payload, start=payload.start.astimezone(UTC), end=payload.end.astimezone(UTC)
        )
    assert codec.load_payload(codec.payload_kind(payload), stored) == payload


def test_times_are_stored_as_utc_iso_and_come_back_utc() -> None:
    paris = datetime(2025, 6, 1, 14, 30, tzinfo=ZoneInfo("Europe/Paris"))
    meeting = Meeting(uid="u", start=paris, end=paris + timedelta(hours=1))
    data = codec.dump_meeting(meeting)
    assert data["start"] == "2025-06-01T12:30:00+00:00"
    back = codec.load_meeting(data)
    assert back.start == paris
    assert back.start.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 6, 1, 14, 30)
    with pytest.raises(ValueError, match="naive"):
        codec.dump_meeting(Meeting(uid="u", start=naive, end=naive))
