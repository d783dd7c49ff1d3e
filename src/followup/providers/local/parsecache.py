"""Each calendar file read once for both of its readers, and not parsed at all when it cannot
matter.

The sync (CalendarSource) and free/busy (LocalAvailability) of a local account read the same
files. The sync parses a changed file over a window wide enough for free/busy too
(`wide_window`) and leaves the meetings here, keyed by location, file name and the file's stat
signature; free/busy takes them instead of parsing the file a second time. A changed file has a
new signature, so a stale entry is never used.

`skim` is the cheap pre-filter: a file of plain single events (no RRULE, RDATE, EXRULE or
RECURRENCE-ID, no DURATION, no METHOD, every value in its simplest form) whose every event lies
days away from the window holds no meeting for it, so only its UIDs and the start of its next
event are taken, by a scan of its lines, without the parser. Anything the scan is not sure of
goes to the parser. The scan does not check events the way the parser does: an event it could
not read, far from the window, is not reported until the window nears it (it would not be a
meeting either way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from followup.model import Interval, Meeting

# What free/busy asks beyond the sync's window: its window reaches up to three weeks past now
# (a nurture block's week and search) and it keeps a month beyond that; the sync reaches two
# weeks. Before the window: a first touch's busy time starts at the end of a meeting up to
# lookback + 1 days ago, the sync's window at lookback days.
AHEAD = timedelta(days=45)
BEHIND = timedelta(days=2)

# Every UTC offset, a floating time read in any zone and an all-day event moved to the
# user's days stay within this of the value as written.
_SLACK = timedelta(days=2)

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Properties of an event after which the scan gives up: repetition (never skipped by date: a
# series from years ago may still run, an override may move an occurrence anywhere) and a
# length the scan does not work out. (A time zone's own RRULE is no event's.)
_GIVE_UP = frozenset({"RRULE", "RDATE", "EXRULE", "EXDATE", "RECURRENCE-ID", "DURATION"})
_NAME = re.compile(r"([A-Za-z0-9-]+)[;:]")
_VALUE_NEEDED = frozenset({"BEGIN", "END", "UID", "DTSTART", "DTEND"})
_VALUE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?")


def wide_window(window: Interval) -> Interval:
    """The window a sync parses over, so that free/busy finds what it needs here."""
    return Interval(window.start - BEHIND, window.end + AHEAD)


@dataclass(frozen=True, slots=True)
class Parsed:
    signature: str
    window: Interval  # the meetings are every occurrence of the file overlapping it
    meetings: tuple[Meeting, ...]


class ParseCache:
    """Meetings parsed by the sync, waiting for free/busy. An entry is taken once (free/busy
    keeps the busy intervals it needs), and a sync drops what the last one left."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Parsed] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def forget(self, location: str) -> None:
        for key in [k for k in self._entries if k[0] == location]:
            del self._entries[key]

    def put(self, location: str, name: str, parsed: Parsed) -> None:
        self._entries[(location, name)] = parsed

    def take(self, location: str, name: str, signature: str, window: Interval) -> Parsed | None:
        entry = self._entries.pop((location, name), None)
        if entry is None or entry.signature != signature:
            return None
        if not (entry.window.start <= window.start and window.end <= entry.window.end):
            return None
        return entry


@dataclass(frozen=True, slots=True)
class Skim:
    """What a skimmed file holds: no occurrence in the window, these UIDs, and no event
    starting before `next_start` after the window (None: none after it)."""

    uids: frozenset[str]
    next_start: datetime | None


def skim(data: bytes, window: Interval) -> Skim | None:
    """A Skim when the file certainly has no occurrence overlapping `window`; None when it may
    have one, or when the scan cannot tell (the parser decides then)."""
    if b"\x00" in data or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lo, hi = window.start, window.end
    stack: list[str] = []
    uids: set[str] = set()
    after: list[datetime] = []
    event: dict[str, list[str]] | None = None
    for line in _unfolded(text):
        if not line:
            continue
        m = _NAME.match(line)
        if m is None:
            return None
        name = m.group(1).upper()
        value = ""
        if name in _VALUE_NEEDED:
            head, colon, value = line.partition(":")
            if not colon or '"' in head:  # a quoted parameter may hold a colon: no guessing
                return None
        if name == "METHOD":  # an answer to an invitation: the parser takes no UID from it
            return None
        if name == "BEGIN":
            comp = value.strip().upper()
            if stack and stack[-1] == "VEVENT" and comp != "VALARM":
                return None
            stack.append(comp)
            if comp == "VEVENT":
                if len(stack) != 2 or stack[0] != "VCALENDAR":
                    return None
                event = {}
            continue
        if name == "END":
            if not stack or stack.pop() != value.strip().upper():
                return None
            if value.strip().upper() == "VEVENT":
                assert event is not None
                span = _event_span(event)
                if span is None:
                    return None
                start, end, uid = span
                if uid in uids:
                    return None
                uids.add(uid)
                if end + _SLACK <= lo:
                    pass  # over before the window
                elif start - _SLACK >= hi:
                    after.append(start - _SLACK)
                else:
                    return None
                event = None
            continue
        if event is not None and stack[-1] == "VEVENT":
            if name in _GIVE_UP:
                return None
            if name in _VALUE_NEEDED:
                event.setdefault(name, []).append(value)
    if stack or not uids:
        return None
    return Skim(frozenset(uids), min(after, default=None))


def _unfolded(text: str) -> list[str]:
    lines: list[str] = []
    for physical in _NEWLINE.split(text):
        if physical[:1] in (" ", "\t") and lines:
            lines[-1] += physical[1:]
        else:
            lines.append(physical)
    return lines


def _event_span(props: dict[str, list[str]]) -> tuple[datetime, datetime, str] | None:
    """(start, end, UID) of a plain event, times as written; None when not plain."""
    uid = props.get("UID", [])
    starts = props.get("DTSTART", [])
    ends = props.get("DTEND", [])
    if len(uid) != 1 or len(starts) != 1 or len(ends) > 1:
        return None
    text = uid[0].strip()
    if not text or "\\" in text:  # an escaped UID reads otherwise once unescaped
        return None
    start = _when(starts[0])
    if start is None:
        return None
    end = _when(ends[0]) if ends else start
    if end is None or end < start:
        return None  # the parser reports an event that ends before it starts
    return start, end, text


def _when(value: str) -> datetime | None:
    m = _VALUE.fullmatch(value.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        # As if UTC, whatever its zone: _SLACK covers the difference.
        return datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError:
        return None
