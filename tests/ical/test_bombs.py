"""Recurrence bombs and oversized fields (issue 9): bounded time, bounded memory, SIGTERM.

`RRULE:FREQ=SECONDLY` with no end once took 3.5 GB and ignored SIGTERM, and the meeting beside
it was never processed. Every test here bounds the time it may take; the worst also bound the
memory.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from followup.errors import FollowupError, TransientError
from followup.ical import parse_calendar
from followup.ical.parse import (
    MAX_DESCRIPTION,
    MAX_PER_SERIES,
    MAX_TITLE,
    TOO_FREQUENT,
    TOO_MANY,
    ParsingStopped,
    stop_reading_when,
)

from .conftest import BERLIN, window
from .test_parse import vcal

SYNC = window("2025-01-01", "2025-01-18")  # a default sync window: 3 days back, 14 ahead
STAMP = "DTSTAMP:20250101T000000Z\r\n"
BESIDE = (f"UID:beside\r\n{STAMP}DTSTART:20250110T100000Z\r\nDTEND:20250110T110000Z\r\n"
          "SUMMARY:The real meeting")


@contextmanager
def bounded(seconds: float, megabytes: float) -> Iterator[None]:
    tracemalloc.start()
    began = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, elapsed
    assert peak < megabytes * 2**20, peak


def series(rule: str, start: str = "20250101T000000Z", uid: str = "bomb") -> str:
    return f"UID:{uid}\r\n{STAMP}DTSTART:{start}\r\nDTEND:{start}\r\nRRULE:{rule}"


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=SECONDLY",
        "FREQ=SECONDLY;INTERVAL=30",
        "FREQ=MINUTELY",
        "FREQ=MINUTELY;INTERVAL=59",
        "FREQ=HOURLY;BYMINUTE=0,30",
        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0,15,30,45",
        "FREQ=DAILY;BYSECOND=0,1",
    ],
)
def test_series_more_often_than_hourly_are_not_meetings_and_never_expanded(rule: str) -> None:
    with bounded(seconds=5, megabytes=20):
        parsed = parse_calendar(vcal(series(rule), BESIDE), source="bomb.ics", window=SYNC,
                                default_tz=BERLIN, look_ahead=True)
    assert [m.uid for m in parsed.meetings] == ["beside"]
    assert [(s.code, s.reason) for s in parsed.skipped] == [
        (TOO_FREQUENT, "event 1 in bomb.ics: it repeats more often than once an hour: "
                       "not a meeting")]
    assert "bomb" in parsed.uids  # known, so the ledger does not drop what it held


def test_an_hourly_series_is_capped_per_window_with_a_reason() -> None:
    with bounded(seconds=10, megabytes=200):
        parsed = parse_calendar(vcal(series("FREQ=HOURLY"), BESIDE), source="h.ics",
                                window=window("2025-01-01", "2025-04-01"), default_tz=BERLIN)
    hourly = [m for m in parsed.meetings if m.uid == "bomb"]
    assert len(hourly) == MAX_PER_SERIES
    assert hourly[0].start.isoformat() == "2025-01-01T00:00:00+00:00"  # the first ones, in order
    assert any(m.uid == "beside" for m in parsed.meetings)
    assert [(s.code, s.reason) for s in parsed.skipped] == [
        (TOO_MANY, "event 1 in h.ics: more than 1,000 occurrences in the window; only the first "
                   "1,000 are read")]


def test_a_file_is_capped_too_and_later_series_are_skipped_with_a_reason() -> None:
    events = [series("FREQ=DAILY", uid=f"s{i}") for i in range(5)]
    parsed = parse_calendar(vcal(*events), source="f.ics", window=SYNC, default_tz=BERLIN,
                            max_per_series=10, max_occurrences=25)
    counts = {f"s{i}": sum(m.uid == f"s{i}" for m in parsed.meetings) for i in range(5)}
    assert counts == {"s0": 10, "s1": 10, "s2": 5, "s3": 0, "s4": 0}
    assert [(s.uid, s.code) for s in parsed.skipped] == [
        ("s0", TOO_MANY), ("s1", TOO_MANY), ("s2", TOO_MANY), ("s3", TOO_MANY), ("s4", TOO_MANY)]
    assert parsed.skipped[-1].reason == (
        "event 5 in f.ics: the file has more than 25 occurrences in the window; the rest is not "
        "read")


def test_a_rule_that_would_step_for_centuries_to_reach_the_window_is_not_read() -> None:
    with bounded(seconds=5, megabytes=20):
        parsed = parse_calendar(vcal(series("FREQ=HOURLY", start="18000101T000000Z"), BESIDE),
                                source="old.ics", window=SYNC, default_tz=BERLIN)
    assert [m.uid for m in parsed.meetings] == ["beside"]
    assert [s.code for s in parsed.skipped] == [TOO_MANY]


@pytest.mark.parametrize("rule", ["FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
                                  "FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31",
                                  "FREQ=DAILY;BYYEARDAY=367",
                                  "FREQ=MONTHLY;BYMONTHDAY=40"])
def test_a_rule_that_can_never_repeat_is_a_single_event_and_fast(rule: str) -> None:
    with bounded(seconds=5, megabytes=20):
        parsed = parse_calendar(vcal(series(rule, start="20250110T100000Z"), BESIDE),
                                source="x.ics", window=SYNC, default_tz=BERLIN, look_ahead=True)
    assert sorted(m.uid for m in parsed.meetings) == ["beside", "bomb"]
    assert parsed.errors == []
    assert parsed.notes == [
        "event 1 in x.ics: its repeat rule can never repeat; read as a single event"]


@pytest.mark.parametrize("rule", ["FREQ=DAILY;INTERVAL=0", "FREQ=YEARLY;BYMONTHDAY=0",
                                  "FREQ=YEARLY;BYYEARDAY=0", "FREQ=WEEKLY;INTERVAL=-2"])
def test_interval_zero_and_day_zero_are_unreadable_not_endless(rule: str) -> None:
    with bounded(seconds=5, megabytes=20):
        parsed = parse_calendar(vcal(series(rule), BESIDE), source="z.ics",
                                window=SYNC, default_tz=BERLIN)
    assert [m.uid for m in parsed.meetings] == ["beside"]
    assert parsed.errors == ["event 1 in z.ics: its repeat rule (RRULE) cannot be read"]


def test_an_impossible_second_rule_is_dropped_and_the_first_kept() -> None:
    event = (f"UID:two\r\n{STAMP}DTSTART:20250106T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=2\r\n"
             "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    with bounded(seconds=5, megabytes=20):
        parsed = parse_calendar(vcal(event), source="t.ics", window=SYNC, default_tz=BERLIN)
    assert [m.start.day for m in parsed.meetings] == [6, 13]
    assert parsed.notes == ["event 1 in t.ics: a repeat rule of it can never repeat; ignored"]


def test_a_rule_nobody_foresaw_costs_its_event_only() -> None:
    parsed = parse_calendar(vcal(series("FREQ=WEEKLY;BYHOUR=25"), BESIDE), source="w.ics",
                            window=SYNC, default_tz=BERLIN)
    assert [m.uid for m in parsed.meetings] == ["beside"]
    assert parsed.errors == ["event 1 in w.ics: its repetition cannot be worked out"]


def test_a_time_zone_whose_rule_repeats_every_second_is_not_used() -> None:
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Hostile Standard Time\r\n"
        "BEGIN:STANDARD\r\nDTSTART:19670101T000000\r\nRRULE:FREQ=SECONDLY\r\n"
        "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    event = (f"UID:z\r\n{STAMP}DTSTART;TZID=Hostile Standard Time:20250110T100000\r\n"
             "DTEND;TZID=Hostile Standard Time:20250110T110000")
    with bounded(seconds=5, megabytes=30):
        parsed = parse_calendar(vcal(event, header=zone), source="tz.ics", window=SYNC,
                                default_tz=BERLIN)
        # icalendar keeps zones for the whole process: a later file naming it is safe too.
        later = parse_calendar(vcal(event), source="later.ics", window=SYNC, default_tz=BERLIN)
    for p in (parsed, later):
        [m] = p.meetings
        assert m.start.replace(tzinfo=None).hour == 10 and m.start.utcoffset() == timedelta(
            hours=1)  # read in the user's zone
    assert parsed.notes == ["tz.ics: the time zone at line 4 is not plausible; times that name "
                            "it are read in Europe/Berlin"]


def _many_events(n: int) -> str:
    return vcal(*(f"UID:e{i}\r\n{STAMP}DTSTART:20250110T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3"
                  for i in range(n)))


def _stop_after(calls: int) -> Callable[[], bool]:
    asked = 0

    def check() -> bool:
        nonlocal asked
        asked += 1
        return asked > calls

    return check


def test_the_stop_check_ends_a_long_parse() -> None:
    data = _many_events(20_000)
    began = time.perf_counter()
    with pytest.raises(ParsingStopped):
        parse_calendar(data, source="big.ics", window=SYNC, default_tz=BERLIN,
                       should_stop=_stop_after(1))
    assert time.perf_counter() - began < 3
    # What the engine's sync catches: a source error that is worth retrying, not a crash.
    assert issubclass(ParsingStopped, TransientError) and issubclass(ParsingStopped,
                                                                     FollowupError)


def test_the_stop_check_set_around_a_sync_reaches_the_parser() -> None:
    data = _many_events(20_000)
    began = time.perf_counter()
    with stop_reading_when(_stop_after(1)), pytest.raises(ParsingStopped):
        parse_calendar(data, source="big.ics", window=SYNC, default_tz=BERLIN)
    assert time.perf_counter() - began < 3
    # Outside it, nothing stops a parse.
    parsed = parse_calendar(_many_events(3), source="s.ics", window=SYNC, default_tz=BERLIN)
    assert len(parsed.meetings) == 9


def test_the_stop_check_is_asked_now_and_then_not_for_every_line() -> None:
    asked = 0

    def check() -> bool:
        nonlocal asked
        asked += 1
        return False

    parsed = parse_calendar(_many_events(500), source="m.ics", window=SYNC, default_tz=BERLIN,
                            should_stop=check)
    assert len(parsed.meetings) == 1_500
    assert 1 <= asked < 200


# --- what one event may contribute -------------------------------------------------------


def test_a_huge_description_contributes_its_head_only() -> None:
    head = "Agenda: pricing, then the pilot.\\n"
    description = head + "x" * 1_000_000
    [m] = parse_calendar(vcal(BESIDE + f"\r\nDESCRIPTION:{description}"), source="d",
                         window=SYNC, default_tz=BERLIN).meetings
    assert len(m.description) <= MAX_DESCRIPTION
    assert m.description.startswith("Agenda: pricing, then the pilot.\n")


def test_a_long_html_description_is_measured_as_text() -> None:
    html = "<p>Notes: pricing</p>" + "<div><span style='color:red'>a</span></div>" * 20_000
    [m] = parse_calendar(vcal(BESIDE + f"\r\nDESCRIPTION:{html}"), source="d", window=SYNC,
                         default_tz=BERLIN).meetings
    assert "<" not in m.description and m.description.startswith("Notes: pricing")
    assert len(m.description) <= MAX_DESCRIPTION


def test_a_short_description_is_untouched() -> None:
    [m] = parse_calendar(vcal(BESIDE + "\r\nDESCRIPTION:<b>Bring</b> the slides"), source="d",
                         window=SYNC, default_tz=BERLIN).meetings
    assert m.description == "<b>Bring</b> the slides"


def test_titles_and_locations_are_capped() -> None:
    [m] = parse_calendar(vcal(f"UID:t\r\n{STAMP}DTSTART:20250110T100000Z\r\n"
                              f"SUMMARY:{'Board meeting ' * 1000}\r\nLOCATION:{'Room ' * 1000}"),
                         source="t", window=SYNC, default_tz=BERLIN).meetings
    assert m.title.startswith("Board meeting") and len(m.title) <= MAX_TITLE
    assert m.location.startswith("Room") and len(m.location) <= MAX_TITLE
