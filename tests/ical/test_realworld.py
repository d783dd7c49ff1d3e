"""The real-world corpus: every file's decisions, on every path that reads .ics text.

tests/data/realworld holds calendars from five projects' test suites (icalendar, ical,
khal, ical.js, ical.net), broken ones included; expected.toml says what becomes of each
event. The local provider reads files with parse_calendar; Gmail, Graph and Maildir read
invitation mails with parse_invitation_mail, which must agree with it.
"""

from __future__ import annotations

import random
import time
import tomllib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from followup.ical import ParsedCalendar, parse_calendar
from followup.ical.parse import ANSWER_METHODS
from followup.model import Interval

from .corpus import (
    EXPECTED,
    ROOT,
    WINDOW,
    ZONE,
    corpus_files,
    decisions,
    meeting_decision,
    name_of,
    parse_as_mail,
    parse_file,
)

FILES = corpus_files()
EXPECTED_DECISIONS: dict[str, dict[str, str]] = tomllib.loads(EXPECTED.read_text("utf-8"))
# Exception texts and internals that must never reach a user as a reason.
_INTERNALS = ("Error", "Exception", "Traceback", "object has no attribute", "NoneType", "'")


@cache
def parsed_and_time(path: Path) -> tuple[ParsedCalendar, float]:
    """Each file is parsed once for the whole module (and timed then)."""
    began = time.perf_counter()
    parsed = parse_file(path)
    return parsed, time.perf_counter() - began


def test_the_corpus_is_large_and_every_file_has_an_expectation() -> None:
    assert len(FILES) >= 60
    assert sorted(EXPECTED_DECISIONS) == sorted(name_of(p) for p in FILES)
    for project in {p.relative_to(ROOT).parts[0] for p in FILES}:
        readme = (ROOT / project / "README.md").read_text("utf-8")
        assert "Licence:" in readme and len(readme) > 500  # the licence text itself


@pytest.mark.parametrize("path", FILES, ids=name_of)
def test_file_decisions(path: Path) -> None:
    parsed, _ = parsed_and_time(path)
    assert decisions(parsed) == EXPECTED_DECISIONS[name_of(path)]
    content = [line.strip() for line in path.read_text("utf-8", errors="replace").splitlines()]
    quotable = {line for line in content if len(line) >= 12}
    for skip in parsed.skipped:
        assert skip.reason.startswith((f"event {skip.event} in {path.name}: ", f"{path.name}: "))
        assert not any(word in skip.reason for word in _INTERNALS), skip.reason
        assert not any(line in skip.reason for line in quotable), skip.reason


@pytest.mark.parametrize("path", FILES, ids=name_of)
def test_the_invitation_mail_path_agrees(path: Path) -> None:
    parsed, _ = parsed_and_time(path)
    mailed = parse_as_mail(path, parsed)
    if parsed.method in ANSWER_METHODS:
        assert mailed.meetings == []
        return
    on_calendar = {m.uid for m in parsed.meetings}
    assert {m.uid for m in mailed.meetings} <= on_calendar
    assert sorted(mailed.errors) == sorted(f"{e}".replace(path.name, f"mail:{path.name}#0", 1)
                                           for e in parsed.errors)
    expected = decisions(parsed)
    first: dict[str, object] = {}
    for m in sorted(mailed.meetings, key=lambda m: m.start):
        if m.uid in first:
            continue
        first[m.uid] = m
        # The mail path keeps a capped series capped, and judges the same first occurrence.
        if expected[m.uid] != "too_many_occurrences":
            assert meeting_decision(m) == expected[m.uid], m.uid


def test_the_whole_corpus_reads_in_a_few_seconds() -> None:
    results = [parsed_and_time(p) for p in FILES]
    meetings = sum(len(parsed.meetings) for parsed, _ in results)
    elapsed = sum(seconds for _, seconds in results)
    assert meetings > 10_000  # recurring series, capped at 1,000 each in a 50-year window
    assert elapsed < 15, elapsed


@pytest.mark.parametrize(
    "project", sorted({p.relative_to(ROOT).parts[0] for p in FILES}),
)
def test_the_local_provider_reads_each_project_folder_as_a_calendar(project: str) -> None:
    # Imported here: the local provider is another module's; this checks that it hands the
    # corpus to the parser whole (every meeting, every error) when a folder is a vdir.
    from followup.providers.local.calendars import CalendarSource
    from followup.providers.local.locations import FileLocation

    files = [p for p in FILES if p.relative_to(ROOT).parts[0] == project]
    changes = CalendarSource(FileLocation(ROOT / project), ZONE).changes(None, WINDOW)
    parsed = [parsed_and_time(p)[0] for p in files]
    assert len(changes.upserts) == sum(len(p.meetings) for p in parsed)
    assert len(changes.errors) == sum(len(p.errors) for p in parsed)


_JUNK = ("", "X", "BEGIN:VEVENT", "END:VEVENT", "END:VCALENDAR", "BEGIN:VCALENDAR", "DTSTART:",
         "RRULE:FREQ=SECONDLY", "DTSTART;TZID=Nowhere:20110101T000000", "BEGIN:VTIMEZONE",
         "ATTENDEE;CN=a,b,c:mailto:", "SEQUENCE:999999999999999999999", "DURATION:P99999999W",
         "RRULE:FREQ=DAILY;BYMONTHDAY=31;BYMONTH=2", "\x00\x1b[31m", "EXDATE:2011",
         "RDATE;VALUE=PERIOD:2011/", "METHOD:REPLY", "RRULE:FREQ=WEEKLY;BYDAY=1MO",
         "DTEND;VALUE=DATE:20110101", "RECURRENCE-ID:20110105T100000Z",
         "RRULE:FREQ=DAILY;INTERVAL=0")


def test_mangled_corpus_files_never_raise() -> None:
    """Lines deleted, doubled, cut or replaced by junk in every corpus file: the parser
    answers (meetings, skips, errors) and never raises, nor takes long. (It found the zone
    whose rule repeats every second, which icalendar kept for every later file.)"""
    rng = random.Random(12)
    sample = Interval(datetime(2010, 1, 1, tzinfo=UTC), datetime(2012, 1, 1, tzinfo=UTC))
    for path in FILES:
        lines = path.read_text("utf-8", errors="replace").splitlines()
        for _ in range(3):
            mangled = list(lines)
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(mangled) + 1) if mangled else 0
                roll = rng.random()
                if roll < 0.3 and mangled:
                    del mangled[min(at, len(mangled) - 1)]
                elif roll < 0.6:
                    mangled.insert(at, rng.choice(_JUNK))
                elif roll < 0.8 and mangled:
                    mangled.insert(at, mangled[min(at, len(mangled) - 1)])
                else:
                    mangled = mangled[:at]
            began = time.perf_counter()
            parsed = parse_calendar("\r\n".join(mangled), source="m.ics", window=sample,
                                    default_tz=ZONE, look_ahead=True)
            assert time.perf_counter() - began < 10
            for skip in parsed.skipped:
                assert not any(word in skip.reason for word in _INTERNALS), skip.reason
