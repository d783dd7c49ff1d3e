"""Parse iCalendar data into Meetings: one per occurrence that overlaps a window.

Every provider reads .ics through here (local files, URLs, text/calendar mail parts), so the
rules live in one place:

- the text is cut into components first (ical.lines), and each is parsed on its own: one
  broken event costs that event only, never its file;
- what real writers get wrong is repaired when the intent is clear (ical.repair); an event
  that still cannot be read is skipped with a reason in words, in `errors`;
- recurrence is expanded by recurring-ical-events (RRULE, RDATE, EXDATE, RECURRENCE-ID),
  lazily and with caps (ical.recurrence); a series repeating more often than hourly is not a
  meeting;
- times without a zone (floating, or an unknown TZID) are read in the zone of the event's
  start, else in `default_tz`;
- all-day events are placed on `default_tz` calendar days and flagged, also when written as
  midnight to midnight in a zone (Exchange, iCloud); spans of most of a day or longer are
  flagged all-day too: a three-day conference is not a meeting to follow up;
- a calendar that answers an invitation (METHOD:REPLY, COUNTER...) holds no meetings;
- events read but not taken as meetings are listed in `skipped`, with a code and a sentence.
"""

from __future__ import annotations

import hashlib
import re
import time as clock
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import structlog
import x_wr_timezone
from icalendar import Calendar, Component
from icalendar.prop import vBroken

from followup.core.notes import html_to_text
from followup.errors import TransientError
from followup.ical.conference import conference_url
from followup.ical.lines import Block, CalendarText, split_text
from followup.ical.recurrence import (
    bounded,
    expand,
    next_start_after,
    repeatable_rules,
    sub_hourly,
    too_many_steps,
    typical_gap,
)
from followup.ical.repair import repair_event
from followup.ical.tz import pin_floating_times, to_aware
from followup.model import (
    Attendee,
    CUType,
    Interval,
    Meeting,
    MeetingStatus,
    PartStat,
    Role,
)

log = structlog.get_logger(__name__)

# An icalendar component. Its typed .get() returns a union of thirty value classes that
# the code below tells apart at run time (vBroken, lists, .dt), so it is Any here.
VEvent = Any

OccurrenceKey = tuple[str, datetime]  # (UID, occurrence start as the series names it)

# Methods that carry an attendee's answer or a request to the organizer: not a meeting for us.
ANSWER_METHODS = frozenset({"REPLY", "COUNTER", "DECLINECOUNTER", "REFRESH"})

# Caps. A sync window is a few weeks: a thousand occurrences of one series in it is already
# one every half hour; ten thousand in one file is no one's calendar of meetings.
MAX_PER_SERIES = 1_000
MAX_OCCURRENCES = 10_000
MAX_TITLE = 500  # SUMMARY and LOCATION, in characters
MAX_DESCRIPTION = 20_000  # characters of text, after HTML is stripped
_MAX_RAW_DESCRIPTION = 200_000  # read at most this much of a DESCRIPTION before stripping
# All-day by its length: a meeting to follow up is not most of a day long.
_LONG = timedelta(hours=20)
# How far past the window a rule is followed: a day for the window itself (an occurrence that
# starts in it may be looked up from its end), eight years to find the next occurrence
# after it (a yearly event) for the cache of calendar files.
_STEP_MARGIN = timedelta(days=1)
_LOOK_AHEAD = timedelta(days=3000)
_STOP_EVERY = 0.2  # seconds between two calls of the stop check while parsing

# Codes of `Skipped` (decisions on events that were read, or could not be).
UNREADABLE = "unreadable"
ITIP_ANSWER = "itip_answer"
TOO_FREQUENT = "too_frequent"
TOO_MANY = "too_many_occurrences"


class ParsingStopped(TransientError):
    """The stop check said stop (SIGTERM) while a calendar was being read. Nothing of the
    unfinished calendar counts: the next cycle reads it again."""


@dataclass(frozen=True, slots=True)
class Version:
    """What decides between two copies of the same occurrence (RFC 5546 section 2.1.5)."""

    sequence: int
    stamp: datetime | None  # DTSTAMP
    explicit: bool  # written as its own VEVENT with RECURRENCE-ID, not expanded from a rule
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Skipped:
    """An event not taken as meetings (or only in part), and why."""

    event: int  # its position among the VEVENTs of the input, from 1; 0 for the whole input
    uid: str | None
    code: str  # UNREADABLE, ITIP_ANSWER, TOO_FREQUENT, TOO_MANY
    reason: str  # one sentence naming the event and the input, no content quoted


@dataclass
class ParsedCalendar:
    meetings: list[Meeting] = field(default_factory=list)
    uids: set[str] = field(default_factory=set)  # every UID seen, in the window or not
    method: str | None = None  # METHOD of the (first) VCALENDAR, upper-case
    errors: list[str] = field(default_factory=list)  # unreadable inputs, already logged
    versions: dict[OccurrenceKey, Version] = field(default_factory=dict)
    # Earliest start of an occurrence at or after window.end (with look_ahead=True): when a
    # cached file must be read again because something of it enters a later window.
    next_start: datetime | None = None
    skipped: list[Skipped] = field(default_factory=list)  # unreadable ones included
    notes: list[str] = field(default_factory=list)  # repairs made, in words


# The stop check of the code that called us (the daemon's SIGTERM flag): set around a sync
# with `stop_reading_when`, so the providers in between need not pass it on.
_STOP_CHECK: ContextVar[Callable[[], bool] | None] = ContextVar("ical_stop_check", default=None)


@contextmanager
def stop_reading_when(check: Callable[[], bool]) -> Iterator[None]:
    """While inside, parse_calendar asks `check` now and then and raises ParsingStopped when
    it says stop. The daemon's check also tells systemd's watchdog that we are alive."""
    token = _STOP_CHECK.set(check)
    try:
        yield
    finally:
        _STOP_CHECK.reset(token)


class _Ticker:
    """Calls the stop check at most every _STOP_EVERY seconds."""

    def __init__(self, check: Callable[[], bool] | None) -> None:
        self.check = check
        self.next_at = 0.0

    def __call__(self) -> None:
        if self.check is None:
            return
        now = clock.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + _STOP_EVERY
        if self.check():
            raise ParsingStopped("stopped while reading a calendar: shutting down")


def parse_calendar(
    data: bytes | str,
    *,
    source: str,
    window: Interval,
    default_tz: tzinfo,
    look_ahead: bool = False,
    should_stop: Callable[[], bool] | None = None,
    max_per_series: int = MAX_PER_SERIES,
    max_occurrences: int = MAX_OCCURRENCES,
) -> ParsedCalendar:
    """Meetings of one .ics text whose occurrences overlap `window`.

    Never raises on bad data. Raises ParsingStopped when `should_stop` (or the check set by
    `stop_reading_when`) says stop.
    """
    reader = _Reader(
        source, window, default_tz, look_ahead, _Ticker(should_stop or _STOP_CHECK.get()),
        max_per_series, max_occurrences,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # A NUL in a value (a CN, a SUMMARY) makes the parser drop the whole property: the
        # attendee would vanish without a reason. No calendar means anything by it.
        reader.read(_text(data).replace("\x00", ""))
    for w in caught:
        log.debug("ical.library_warning", source=source, warning=str(w.message)[:200])
    return reader.result


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    # Windows Calendar and some Outlook exports write UTF-16, with a byte order mark.
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Old Outlook and some booking sites write Windows-1252 without saying so.
        return data.decode("cp1252", errors="replace")


def method_of(cal: Component) -> str | None:
    """METHOD, upper-case. Written twice (Apple support's replies), an answer wins."""
    prop = cal.get("METHOD")
    values = [str(v).strip().upper() for v in (prop if isinstance(prop, list) else [prop])
              if v is not None and str(v).strip()]
    if not values:
        return None
    return next((v for v in values if v in ANSWER_METHODS), values[0])


def _shown(text: str | None) -> str | None:
    """An identifier from the file as a log may show it: printable, and short."""
    if text is None:
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in text[:120])


def _uid(event: VEvent) -> str:
    prop = event.get("UID")
    if isinstance(prop, list):
        prop = prop[0] if prop else None
    uid = str(prop or "").strip()
    if uid:
        return uid
    # RFC 5545 requires a UID, some booking sites omit it: derive a stable one.
    try:
        content = event.to_ical()
    except Exception:  # a value icalendar cannot write back (a broken PERIOD)
        content = repr(sorted((k, str(v)) for k, v in event.property_items())).encode()
    digest = hashlib.sha256(content).hexdigest()[:32]
    return f"followup-no-uid-{digest}"


class _Reader:
    def __init__(
        self,
        source: str,
        window: Interval,
        default_tz: tzinfo,
        look_ahead: bool,
        tick: _Ticker,
        max_per_series: int,
        max_occurrences: int,
    ) -> None:
        self.source = source
        self.window = window
        self.default_tz = default_tz
        self.look_ahead = look_ahead
        self.tick = tick
        self.max_per_series = max_per_series
        self.max_occurrences = max_occurrences
        self.result = ParsedCalendar()
        self.index = 0  # VEVENTs met so far
        self.total = 0  # occurrences taken so far

    # --- reporting -----------------------------------------------------------------------

    def _where(self, index: int) -> str:
        return f"event {index} in {self.source}" if index else self.source

    def unreadable(self, index: int, uid: str | None, reason: str) -> None:
        sentence = f"{self._where(index)}: {reason}"
        self.result.errors.append(sentence)
        self.result.skipped.append(Skipped(index, uid, UNREADABLE, sentence))
        log.warning("ical.skipped", source=self.source, item=index, uid=_shown(uid),
                    reason=reason)

    def not_a_meeting(self, index: int, uid: str | None, code: str, reason: str) -> None:
        sentence = f"{self._where(index)}: {reason}"
        self.result.skipped.append(Skipped(index, uid, code, sentence))
        log.info("ical.not_a_meeting", source=self.source, item=index, uid=_shown(uid),
                 code=code, reason=reason)

    def note(self, index: int, what: str) -> None:
        self.result.notes.append(f"{self._where(index)}: {what}")
        log.info("ical.repaired", source=self.source, item=index, repair=what)

    # --- the input -----------------------------------------------------------------------

    def read(self, text: str) -> None:
        split = split_text(text, self.tick)
        if not split.calendars:  # an empty VCALENDAR is a calendar, nothing is not
            if split.stray:
                self.unreadable(0, None, f"not an iCalendar file (line {split.stray[0]} is "
                                         "not iCalendar)")
            else:
                self.unreadable(0, None, "no calendar in it")
            return
        for number in split.stray[:3]:
            self.note(0, f"line {number} is not iCalendar; ignored")
        if len(split.stray) > 3:
            self.note(0, f"{len(split.stray) - 3} more lines are not iCalendar; ignored")
        for calendar in split.calendars:
            self._calendar(calendar)

    def _header(self, text: CalendarText) -> Component:
        lines = [line for _, line in text.header]
        try:
            return Calendar.from_ical("BEGIN:VCALENDAR\r\n" + "".join(
                f"{line}\r\n" for line in lines) + "END:VCALENDAR\r\n")
        except Exception:  # a bad property of the calendar itself: keep the good ones
            log.info("ical.calendar_properties_partly_unreadable", source=self.source)
        cal = Calendar()
        for number, line in text.header:
            try:
                one = Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{line}\r\nEND:VCALENDAR\r\n")
            except Exception:
                self.note(0, f"line {number} is not iCalendar; ignored")
                continue
            for name, value in one.property_items(recursive=False):
                if name not in ("BEGIN", "END"):
                    cal.add(name, value, encode=False)
        return cal

    def _calendar(self, text: CalendarText) -> None:
        header = self._header(text)
        method = method_of(header)
        if self.result.method is None:
            self.result.method = method
        for block in text.blocks:
            if block.name == "VTIMEZONE":
                self._timezone(block)
        events = [b for b in text.blocks if b.name == "VEVENT"]
        if method in ANSWER_METHODS:
            for _ in events:
                self.index += 1
                self.not_a_meeting(self.index, None, ITIP_ANSWER,
                                   f"an answer to an invitation (METHOD:{method}), not a meeting")
            return
        wr_prop = header.get("X-WR-TIMEZONE")
        if isinstance(wr_prop, list):
            wr_prop = wr_prop[0] if wr_prop else None
        wr_zone = str(wr_prop or "").strip()
        groups: dict[str, list[tuple[int, VEvent]]] = {}
        for block in events:
            self.index += 1
            self.tick()
            try:
                read = self._event(block, self.index, wr_zone)
            except ParsingStopped:
                raise
            except Exception:  # a value no repair foresaw: lose this event, never the file
                self.unreadable(self.index, None, "it cannot be read")
                continue
            if read is not None:
                uid, event = read
                groups.setdefault(uid, []).append((self.index, event))
        for uid, items in groups.items():
            self._series(uid, items, method)

    def _timezone(self, block: Block) -> None:
        """Parsing a VTIMEZONE registers it with icalendar, for the events that name it
        (before or after it: RFC 5545 allows forward references).

        icalendar keeps it for the whole process, and works out every offset in it from its
        rules: a zone whose daylight rule repeats every second would make every later time
        in that zone, in any file, cost minutes. Such a zone is not registered at all.
        """
        if not _plausible_zone(block.lines):
            self.note(0, f"the time zone at line {block.line} is not plausible; times that "
                         f"name it are read in {self.default_tz}")
            return
        try:
            Component.from_ical(block.text)
        except Exception:
            self.note(0, f"the time zone at line {block.line} cannot be read; times that name "
                         f"it are read in {self.default_tz}")

    def _event(self, block: Block, index: int, wr_zone: str) -> tuple[str, VEvent] | None:
        if not block.complete:
            self.unreadable(index, None, "it has no END:VEVENT (the file is cut short or broken)")
            return None
        try:
            event: VEvent = Component.from_ical(block.text)
        except Exception:
            self.unreadable(index, None, "it is not valid iCalendar")
            return None
        uid = _uid(event)
        self.result.uids.add(uid)
        fix = repair_event(event)
        for what in fix.notes:
            self.note(index, what)
        if fix.problem:
            self.unreadable(index, uid, fix.problem)
            return None
        if event.get("DTSTART") is None:
            self.unreadable(index, uid, "it has no start (DTSTART)")
            return None
        if wr_zone:
            event = self._standard(event, wr_zone)
        for tzid in sorted(set(pin_floating_times(event, self.default_tz))):
            log.warning("ical.unknown_timezone", source=self.source, uid=_shown(uid),
                        tzid=_shown(tzid), using=str(self.default_tz))
        end = event.get("DTEND")
        duration = getattr(event.get("DURATION"), "dt", None)
        if (end is not None and _ends_before_start(event["DTSTART"].dt, end.dt)) or (
            end is None and isinstance(duration, timedelta) and duration < timedelta(0)
        ):
            self.unreadable(index, uid, "it ends before it starts")
            return None
        return uid, event

    def _standard(self, event: VEvent, wr_zone: str) -> VEvent:
        """Google's exports: UTC times meant in X-WR-TIMEZONE (x_wr_timezone converts)."""
        cal = Calendar()
        cal.add("X-WR-TIMEZONE", wr_zone)
        cal.add_component(event)
        try:
            converted = x_wr_timezone.to_standard(cal)
        except Exception:
            log.warning("ical.x_wr_timezone_ignored", source=self.source)
            return event
        return next((c for c in converted.subcomponents if c.name == "VEVENT"), event)

    # --- a UID's events ------------------------------------------------------------------

    def _series(self, uid: str, items: list[tuple[int, VEvent]], method: str | None) -> None:
        try:
            self._read_series(uid, items, method)
        except ParsingStopped:
            raise
        except Exception:  # a rule nobody foresaw: lose this UID, never the file
            self.unreadable(items[0][0], uid, "its repetition cannot be worked out")

    def _read_series(self, uid: str, items: list[tuple[int, VEvent]], method: str | None
                     ) -> None:
        first = items[0][0]
        events = [e for _, e in items]
        if any(sub_hourly(e) for e in events):
            self.not_a_meeting(first, uid, TOO_FREQUENT,
                               "it repeats more often than once an hour: not a meeting")
            return
        master = next((e for e in events if "RECURRENCE-ID" not in e), None)
        if master is not None and "RRULE" in master:
            rules = master["RRULE"] if isinstance(master["RRULE"], list) else [master["RRULE"]]
            kept = repeatable_rules(master)
            if len(kept) < len(rules):
                master.pop("RRULE")
                for rule in kept:
                    master.add("RRULE", rule)
                self.note(first, "a repeat rule of it can never repeat; ignored" if kept else
                          "its repeat rule can never repeat; read as a single event")
        overrides = {
            to_aware(e["RECURRENCE-ID"].dt, self.default_tz) for e in events
            if "RECURRENCE-ID" in e
        }
        is_series = bool(overrides) or (
            master is not None and ("RRULE" in master or "RDATE" in master)
        )
        series_start: datetime | None = None
        if is_series:
            series_start = (
                to_aware(master["DTSTART"].dt, self.default_tz) if master is not None
                else min(overrides)
            )
        ruled = master is not None and "RRULE" in master
        if ruled and series_start is not None and too_many_steps(master, series_start,
                                                                 self.window):
            self.not_a_meeting(first, uid, TOO_MANY,
                               "its repeat rule runs too often for too long to be read")
            return
        room = self.max_occurrences - self.total
        if room <= 0:
            self.not_a_meeting(first, uid, TOO_MANY,
                               f"the file has more than {self.max_occurrences:,} occurrences "
                               "in the window; the rest is not read")
            return
        limit = min(self.max_per_series, room)
        mini = _calendar_of(events, self.window.end + _STEP_MARGIN) if is_series or len(
            events) > 1 else Calendar()
        gap = typical_gap(master) if ruled else None
        if gap is None and master is not None and "RDATE" in master:
            gap = timedelta(days=1)
        taken: list[tuple[Meeting, Version]] = []
        try:
            earliest = min(to_aware(e["DTSTART"].dt, self.default_tz) for e in events)
            # A lone event (most of any calendar) is its own occurrence: no expansion needed.
            occurrences = events if not is_series and len(events) == 1 else expand(
                mini, self.window, gap, self.default_tz, limit + 1, self.tick, earliest)
            for occ in occurrences:
                if len(taken) == limit:
                    break
                meeting = _meeting(occ, uid, method, self.source, self.default_tz, is_series,
                                   series_start)
                if not Interval(meeting.start, meeting.end).overlaps(self.window) and not (
                    meeting.start == meeting.end
                    and self.window.start <= meeting.start < self.window.end
                ):
                    continue
                stamp = occ.get("DTSTAMP")
                taken.append((meeting, Version(
                    sequence=meeting.sequence,
                    stamp=to_aware(stamp.dt, self.default_tz) if _readable(stamp) else None,
                    explicit=meeting.recurrence_id in overrides,
                    cancelled=meeting.status is MeetingStatus.CANCELLED,
                )))
            else:
                limit = 0  # not capped
        except ParsingStopped:
            raise
        except Exception:  # recurrence rules can fail in many ways; lose only this UID
            self.unreadable(first, uid, "its repetition cannot be worked out")
            return
        for meeting, version in taken:
            self.result.meetings.append(meeting)
            self.result.versions[(uid, meeting.occurrence)] = version
        self.total += len(taken)
        if limit:
            self.not_a_meeting(first, uid, TOO_MANY,
                               f"more than {limit:,} occurrences in the window; only the first "
                               f"{limit:,} are read")
            return
        if self.look_ahead:
            self._look_ahead(events, is_series, uid)

    def _look_ahead(self, events: list[VEvent], is_series: bool, uid: str) -> None:
        try:
            if not is_series and len(events) == 1:
                first = to_aware(events[0]["DTSTART"].dt, self.default_tz)
                start = first if first >= self.window.end else None
            else:
                start = next_start_after(_calendar_of(events, self.window.end + _LOOK_AHEAD),
                                         self.window.end, self.default_tz)
        except ParsingStopped:
            raise
        except Exception:
            log.warning("ical.look_ahead_failed", source=self.source, uid=_shown(uid))
            return
        if start is not None and (self.result.next_start is None
                                  or start < self.result.next_start):
            self.result.next_start = start


_ZONE_FREQ = re.compile(r"FREQ\s*=\s*([A-Z]+)", re.IGNORECASE)
_MAX_ZONE_PARTS = 200  # STANDARD/DAYLIGHT blocks; real zones have a few dozen at most
_MAX_ZONE_DATES = 2_000  # RDATE values, all blocks together


def _plausible_zone(lines: list[str]) -> bool:
    """Whether a VTIMEZONE's text looks like a time zone: yearly (or monthly) rules, a
    bounded number of transitions."""
    parts = dates = 0
    for line in lines:
        key = line.lstrip().upper()
        if key.startswith("BEGIN:"):
            parts += 1
        elif key.startswith("RRULE"):
            match = _ZONE_FREQ.search(line)
            if match is None or match.group(1).upper() not in ("YEARLY", "MONTHLY"):
                return False
        elif key.startswith("RDATE"):
            dates += line.count(",") + 1
    return parts <= _MAX_ZONE_PARTS and dates <= _MAX_ZONE_DATES


def _calendar_of(events: list[VEvent], until: datetime) -> Calendar:
    """A calendar of one UID's events for recurring-ical-events, rules bounded by `until`."""
    cal = Calendar()
    for e in events:
        cal.add_component(bounded(e, until))
    return cal


def _ends_before_start(start: date | datetime, end: date | datetime) -> bool:
    if isinstance(start, datetime) != isinstance(end, datetime):
        return False  # DATE against DATE-TIME: recurring-ical-events copes, let it
    if (
        isinstance(start, datetime)
        and isinstance(end, datetime)
        and (start.tzinfo is None) != (end.tzinfo is None)
    ):
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return end < start


def _readable(prop: object) -> bool:
    return prop is not None and not isinstance(prop, vBroken) and hasattr(prop, "dt")


def _span(occ: VEvent, raw_start: date | datetime, default_tz: tzinfo) -> tuple[
        datetime, datetime, bool]:
    """(start, end, all_day) of an occurrence.

    Besides VALUE=DATE: midnight to midnight in the event's own zone (Exchange, iCloud and
    ical.net write all-day events so), or X-MICROSOFT-CDO-ALLDAYEVENT, become calendar days
    of the user's zone like a DATE; an event of most of a day or longer stays where it is
    but counts as all-day.
    """
    all_day = not isinstance(raw_start, datetime)
    start = to_aware(raw_start, default_tz)
    if "DTEND" in occ:
        end = to_aware(occ["DTEND"].dt, default_tz)
    elif "DURATION" in occ:
        duration = occ["DURATION"].dt
        end = to_aware(raw_start + duration, default_tz) if all_day else start + duration
    else:  # RFC 5545 3.6.1: a day for a DATE start, no duration for a DATE-TIME start
        end = to_aware(raw_start + timedelta(days=1), default_tz) if all_day else start
    if all_day or not isinstance(raw_start, datetime):
        return start, end, all_day
    own = raw_start.tzinfo or default_tz
    wall_end = end.astimezone(own)
    midnight = raw_start.time() == time()
    flagged = str(occ.get("X-MICROSOFT-CDO-ALLDAYEVENT", "")).strip().upper() == "TRUE"
    whole_days = wall_end.time() == time() and wall_end.date() > raw_start.date()
    if midnight and (flagged or whole_days):
        days = max((wall_end.date() - raw_start.date()).days, 1)
        first = raw_start.date()
        return (to_aware(first, default_tz), to_aware(first + timedelta(days=days), default_tz),
                True)
    long = end - start > _LONG or (midnight and end - start >= timedelta(hours=24))
    return start, end, long


def _meeting(
    occ: VEvent,
    uid: str,
    method: str | None,
    source: str,
    default_tz: tzinfo,
    is_series: bool,
    series_start: datetime | None,
) -> Meeting:
    start, end, all_day = _span(occ, occ["DTSTART"].dt, default_tz)

    status_text = str(occ.get("STATUS", "")).strip().upper()
    if method == "CANCEL" or status_text == "CANCELLED":
        status = MeetingStatus.CANCELLED
    elif status_text == "TENTATIVE":
        status = MeetingStatus.TENTATIVE
    else:
        status = MeetingStatus.CONFIRMED

    transp = str(occ.get("TRANSP", "")).strip().upper()
    if transp:
        transparent = transp == "TRANSPARENT"
    else:
        transparent = str(occ.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).strip().upper() == "FREE"

    organizer = _organizer(occ.get("ORGANIZER"))
    attendees = tuple(_attendees(occ.get("ATTENDEE"), organizer))
    recurrence_id = None
    if is_series and occ.get("RECURRENCE-ID") is not None:
        recurrence_id = to_aware(occ["RECURRENCE-ID"].dt, default_tz)

    return Meeting(
        uid=uid,
        start=start,
        end=end,
        title=_text_of(occ, "SUMMARY", MAX_TITLE),
        description=_description(occ),
        location=_text_of(occ, "LOCATION", MAX_TITLE),
        conference_url=conference_url(occ),
        organizer=organizer,
        attendees=attendees,
        status=status,
        all_day=all_day,
        transparent=transparent,
        recurrence_id=recurrence_id,
        series_start=series_start if is_series else None,
        sequence=_int(occ.get("SEQUENCE")),
        source=source,
    )


def _text_of(event: VEvent, name: str, limit: int) -> str:
    value = event.get(name)
    if isinstance(value, list):  # duplicated property in the wild: take the first
        value = value[0] if value else None
    text = "" if value is None else str(value)
    return text[:limit].rstrip() if len(text) > limit else text


def _description(event: VEvent) -> str:
    """The DESCRIPTION, at most MAX_DESCRIPTION characters of text (the head: notes and
    agendas come first, pasted threads and boilerplate last)."""
    text = _text_of(event, "DESCRIPTION", _MAX_RAW_DESCRIPTION)
    if len(text) <= MAX_DESCRIPTION:
        return text
    return html_to_text(text)[:MAX_DESCRIPTION].rstrip()


def _int(value: object) -> int:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


_PARTSTAT = {p.value.upper(): p for p in PartStat}
_ROLE = {
    "CHAIR": Role.CHAIR,
    "REQ-PARTICIPANT": Role.REQUIRED,
    "OPT-PARTICIPANT": Role.OPTIONAL,
    "NON-PARTICIPANT": Role.NON_PARTICIPANT,
}
_CUTYPE = {c.value.upper(): c for c in CUType}


def _mailbox(text: str) -> str | None:
    text = text.strip()
    at = text.lower().rfind("mailto:")  # also finds it in "CN=X:mailto:..." (Trenitalia)
    if at >= 0:
        text = text[at + 7 :]
    text = text.strip().strip("<>").lower()
    return text if "@" in text else None


def _address(prop: object) -> str | None:
    """The person's address. The EMAIL parameter (RFC 7986) wins when there is one: iCloud
    writes a relay (2_...@imip.me.com) as the address and the person's own in EMAIL=, and
    the same person must not count twice."""
    params = getattr(prop, "params", None)
    email = params.get("EMAIL") if params is not None else None
    if isinstance(email, list):
        email = email[0] if email else None
    if email is not None:
        own = _mailbox(str(email))
        if own is not None:
            return own
    text = str(prop).strip()
    if "@" not in text:
        return None
    return _mailbox(text)


def _organizer(prop: object) -> Attendee | None:
    if isinstance(prop, list):
        prop = prop[0] if prop else None
    if prop is None:
        return None
    email = _address(prop)
    if email is None:
        return None
    params = getattr(prop, "params", {})
    return Attendee(
        email=email,
        name=_cn(params),
        partstat=_PARTSTAT.get(str(params.get("PARTSTAT", "")).upper(), PartStat.ACCEPTED),
        role=Role.CHAIR,
        cutype=_CUTYPE.get(str(params.get("CUTYPE", "")).upper(), CUType.INDIVIDUAL),
        is_organizer=True,
    )


def _cn(params: object) -> str | None:
    """The CN. Unquoted, "CN=Smith, John" is a parameter list to icalendar; it is one name."""
    cn = params.get("CN") if hasattr(params, "get") else None
    if cn is None:
        return None
    if isinstance(cn, (list, tuple)):
        text = ", ".join(str(part).strip() for part in cn if str(part).strip())
    else:
        text = str(cn)
    return text or None


def _attendees(props: object, organizer: Attendee | None) -> Iterable[Attendee]:
    if props is None:
        return
    seen: set[str] = set()
    for prop in props if isinstance(props, list) else [props]:
        email = _address(prop)
        if email is None or email in seen:
            continue
        seen.add(email)
        params = getattr(prop, "params", {})
        cutype = str(params.get("CUTYPE", "INDIVIDUAL")).upper()
        yield Attendee(
            email=email,
            name=_cn(params),
            partstat=_PARTSTAT.get(str(params.get("PARTSTAT", "")).upper(), PartStat.NEEDS_ACTION),
            role=_ROLE.get(str(params.get("ROLE", "")).upper(), Role.REQUIRED),
            cutype=_CUTYPE.get(cutype, CUType.UNKNOWN),
            is_organizer=organizer is not None and organizer.email == email,
        )
