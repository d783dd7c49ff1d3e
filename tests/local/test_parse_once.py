"""Each calendar file parsed once, and far-off plain files only skimmed: the sync and free/busy
read exactly what a direct parse of every file over their windows reads.

The corpora are the recurring one (RRULE, RDATE, EXDATE, RECURRENCE-ID, X-WR-TIMEZONE,
broken rules) and the real-world one (files from ical.js, ical.net, icalendar, khal); each
file is read over windows around its own first and last dates, and shifted by days, so
occurrences fall inside, across and just outside the windows' edges.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog

import followup.ical.parse as parse_module
import followup.providers.local.calendars as calendars_module
from followup.errors import InputError
from followup.ical.parse import parse_calendar
from followup.model import Interval, Meeting
from followup.providers.local.availability import LocalAvailability
from followup.providers.local.calendars import CalendarSource, check_icalendar
from followup.providers.local.locations import FileLocation
from followup.providers.local.parsecache import ParseCache, skim, wide_window

from .conftest import DATA, USER

BERLIN = ZoneInfo("Europe/Berlin")
CORPUS = sorted([*(DATA / "recurring-ical-events").glob("*.ics"),
                 *(DATA / "realworld").rglob("*.ics")])
SHIFTS = (timedelta(0), timedelta(days=4), timedelta(days=-15), timedelta(days=30))
_DATE = re.compile(rb"^DTSTART[^:\r\n]*:(\d{8})", re.MULTILINE)


def anchors(data: bytes) -> list[datetime]:
    """The file's first and last event dates (time zone rules of 1601 and 1970 left out)."""
    days = sorted({d for d in (_day(m) for m in _DATE.findall(data)) if d and d.year >= 1990})
    picked = {days[0], days[-1]} if days else {date(2019, 3, 1)}
    return [datetime(d.year, d.month, d.day, 12, tzinfo=UTC) for d in sorted(picked)]


def _day(raw: bytes) -> date | None:
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
    except ValueError:
        return None


def windows(data: bytes) -> list[Interval]:
    return [Interval(t + s - timedelta(days=3), t + s + timedelta(days=14))
            for t in anchors(data) for s in SHIFTS]


def plain(meetings: list[Meeting]) -> list[Meeting]:
    """Meetings without the name of the source that read them, in a fixed order."""
    return sorted((dataclasses.replace(m, source="") for m in meetings),
                  key=lambda m: (m.uid, m.occurrence, m.start))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(DATA)))
def test_sync_and_busy_read_what_a_direct_parse_reads(path: Path) -> None:
    data = path.read_bytes()
    try:
        check_icalendar(data)
    except InputError:
        pytest.skip("turned away before any parsing (UTF-16), with or without the cache")
    for window in windows(data):
        direct = parse_calendar(data, source="direct", window=window, default_tz=BERLIN,
                                look_ahead=True)
        cache = ParseCache()
        location = FileLocation(path)
        changes = CalendarSource(location, BERLIN, cache).changes(None, window)
        assert plain(changes.upserts) == plain(direct.meetings), window
        entries = list(json.loads(changes.cursor or "")["items"].values())
        if not entries:  # nothing readable in it: skipped with a reason, as by the parser
            assert direct.errors and not direct.uids and changes.errors
            continue
        [(_, uids, nxt)] = entries
        # A skimmed file's events are not checked the way the parser checks them: one it
        # cannot read far from the window still counts its UID (all a UID does is name what
        # to remove when the file changes).
        assert set(direct.uids) <= set(uids), window
        if not direct.errors:
            assert uids == sorted(direct.uids), window
        # The next start kept may be earlier than the parser's (the file is read sooner),
        # never later (an occurrence would enter the window unseen), never inside it.
        if direct.next_start is not None:
            assert nxt is not None and nxt <= direct.next_start.timestamp(), window
        if nxt is not None:
            assert nxt >= window.end.timestamp(), window

        # Free/busy over its own window, with what the sync left and on its own.
        busy_window = Interval(window.start + timedelta(days=2),
                               window.end + timedelta(days=16))
        assert wide_window(window).start <= busy_window.start
        shared = LocalAvailability([location], BERLIN, [USER], cache).busy(busy_window)
        assert len(cache) == 0  # taken from the cache: not parsed a second time
        alone = LocalAvailability([location], BERLIN, [USER]).busy(busy_window)
        assert shared == alone, window


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(DATA)))
def test_a_skimmed_file_has_nothing_in_the_window(path: Path) -> None:
    data = path.read_bytes()
    for window in windows(data):
        skimmed = skim(data, window)
        if skimmed is None:
            continue
        direct = parse_calendar(data, source="direct", window=window, default_tz=BERLIN,
                                look_ahead=True)
        assert direct.meetings == [], window
        assert direct.uids <= skimmed.uids
        if not direct.errors:
            assert skimmed.uids == direct.uids
        if direct.next_start is not None:
            assert skimmed.next_start is not None
            assert skimmed.next_start <= direct.next_start


def test_files_with_repetition_are_never_skimmed() -> None:
    """A series from years ago may still run, an override may move an occurrence anywhere."""
    far = Interval(datetime(2040, 1, 1, tzinfo=UTC), datetime(2040, 2, 1, tzinfo=UTC))
    for prop in ("RRULE:FREQ=WEEKLY", "RDATE:20390101T100000Z",
                 "RECURRENCE-ID:20100105T100000Z", "EXDATE:20100112T100000Z",
                 "DURATION:PT1H"):
        assert skim(_event("DTSTART:20100105T100000Z", prop), far) is None, prop
    assert skim(_event("DTSTART:20100105T100000Z"), far) is not None
    # A time zone's own yearly rule is no event's repetition.
    tz = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000"
          "\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"
          "\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n")
    assert skim(_event("DTSTART;TZID=Europe/Berlin:20100105T100000", header=tz), far) is not None


EDGE_ZONES = ("DTSTART:{t}Z", "DTSTART:{t}", "DTSTART;TZID=Pacific/Kiritimati:{t}",
              "DTSTART;TZID=Pacific/Pago_Pago:{t}", "DTSTART;VALUE=DATE:{d}")


@pytest.mark.parametrize("default_tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"])
def test_events_at_the_window_edges(default_tz: str) -> None:
    """Single events every three hours around both edges of a window, written in the zones
    farthest from UTC, floating and all-day: a skimmed one is never a meeting of the window,
    and most far ones are skimmed."""
    tz = ZoneInfo(default_tz)
    window = Interval(datetime(2025, 3, 10, tzinfo=UTC), datetime(2025, 3, 24, tzinfo=UTC))
    skimmed = 0
    for edge in (window.start, window.end):
        for hours in range(-96, 97, 3):
            at = (edge + timedelta(hours=hours)).replace(tzinfo=None)
            for form in EDGE_ZONES:
                line = form.format(t=at.strftime("%Y%m%dT%H%M%S"), d=at.strftime("%Y%m%d"))
                data = _event(line, "DTEND" + line[7:].replace(
                    at.strftime("%H%M%S"), (at + timedelta(minutes=30)).strftime("%H%M%S"))
                    if "VALUE=DATE" not in line else "")
                found = skim(data, window)
                if found is None:
                    continue
                skimmed += 1
                direct = parse_calendar(data, source="edge", window=window, default_tz=tz,
                                        look_ahead=True)
                assert direct.meetings == [], line
                assert found.uids == direct.uids
                if direct.next_start is not None:
                    assert found.next_start is not None
                    assert found.next_start <= direct.next_start, line
    assert skimmed > 120


def test_a_first_sync_parses_each_file_at_most_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sync, then free/busy: a file in the windows is parsed once, a far one not at all."""
    folder = tmp_path / "calendar"
    folder.mkdir()
    t0 = datetime(2025, 3, 10, 9, tzinfo=UTC)
    for day in range(-400, 400, 8):
        start = (t0 + timedelta(days=day)).strftime("%Y%m%dT%H%M%SZ")
        end = (t0 + timedelta(days=day, hours=1)).strftime("%Y%m%dT%H%M%SZ")
        (folder / f"{day}.ics").write_bytes(_event(f"DTSTART:{start}", f"DTEND:{end}",
                                                   uid=f"d{day}@x"))
    (folder / "weekly.ics").write_bytes(_event("DTSTART:20200106T100000Z",
                                               "DTEND:20200106T110000Z", "RRULE:FREQ=WEEKLY",
                                               uid="weekly@x"))
    calls: list[str] = []
    real = parse_module.parse_calendar

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["source"])
        return real(*args, **kwargs)

    monkeypatch.setattr(parse_module, "parse_calendar", counting)
    cache = ParseCache()
    location = FileLocation(folder)
    window = Interval(t0 - timedelta(days=60), t0 + timedelta(days=14))
    changes = CalendarSource(location, BERLIN, cache).changes(None, window)
    busy = LocalAvailability([location], BERLIN, [USER], cache).busy(
        Interval(t0 - timedelta(days=1), t0 + timedelta(days=22)))
    assert "weekly@x" in {m.uid for m in changes.upserts} and busy
    in_reach = wide_window(window)
    near = [d for d in range(-400, 400, 8)
            if in_reach.start - timedelta(days=3) < t0 + timedelta(days=d) < in_reach.end
            + timedelta(days=3)]
    assert len(calls) == len(set(calls)) <= len(near) + 1  # + the weekly series
    assert len(calls) < 100 // 4  # of 100 files


def test_a_big_pass_parses_in_worker_processes_and_reads_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above POOL_MIN_PARSES files to parse, the files are parsed in spawned worker
    processes: the sync reports the same meetings, cursor and errors, and free/busy the same
    busy time, as when they are parsed here."""
    folder = tmp_path / "calendar"
    folder.mkdir()
    for n, path in enumerate(CORPUS):
        (folder / f"{n:03d}-{path.name}").write_bytes(path.read_bytes())
    t0 = datetime(2019, 3, 1, tzinfo=UTC)
    for day in range(-40, 40, 3):
        start = (t0 + timedelta(days=day)).strftime("%Y%m%dT100000Z")
        end = (t0 + timedelta(days=day)).strftime("%Y%m%dT110000Z")
        (folder / f"plain{day}.ics").write_bytes(_event(f"DTSTART:{start}", f"DTEND:{end}",
                                                        uid=f"p{day}@x"))
    location = FileLocation(folder)
    window = Interval(t0 - timedelta(days=3), t0 + timedelta(days=14))
    busy_window = Interval(t0 - timedelta(days=1), t0 + timedelta(days=22))

    def read(min_parses: int) -> tuple[list[Meeting], str | None, list[str], list[Interval],
                                       list[str]]:
        monkeypatch.setattr(calendars_module, "POOL_MIN_PARSES", min_parses)
        cache = ParseCache()
        with structlog.testing.capture_logs() as logs:
            changes = CalendarSource(location, BERLIN, cache).changes(None, window)
        busy = LocalAvailability([location], BERLIN, [USER], cache).busy(busy_window)
        return (plain(changes.upserts), changes.cursor, sorted(changes.errors), busy,
                [e["event"] for e in logs])

    here = read(10**9)
    workers = read(4)
    assert "calendar.parsed_in_workers" in workers[4]
    assert "calendar.parsed_in_workers" not in here[4]
    assert workers[:4] == here[:4]
    assert here[0] and here[3]

    # No worker may start (a sandbox without process creation, a task limit): the pass
    # parses here instead, and says so.
    def refused(*_: object) -> None:
        raise PermissionError("no processes here")

    monkeypatch.setattr(calendars_module, "_in_workers", refused)
    fallback = read(4)
    assert "calendar.workers_unavailable" in fallback[4]
    assert fallback[:4] == here[:4]


def _event(*props: str, uid: str = "one@x", header: str = "") -> bytes:
    body = "".join(f"{p}\r\n" for p in props if p)
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{header}BEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nSUMMARY:S\r\n"
            f'ATTENDEE;CN="A: B";PARTSTAT=ACCEPTED:mailto:a@x.example\r\n{body}'
            "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()
