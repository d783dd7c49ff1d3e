"""Expand a recurring event without letting a hostile rule take the machine down.

`RRULE:FREQ=SECONDLY` with no end makes 86,400 occurrences a day: expanded whole over a sync
window it took 3.5 GB and ignored SIGTERM. Three guards, in order:

1. a series that repeats more often than hourly is not a meeting: it is never expanded;
2. a rule that would have to be stepped through hundreds of thousands of times to reach the
   window (dateutil always starts at DTSTART) is not read either;
3. the window is expanded in pieces of about the cap's size, lazily, and reading stops at
   the per-series cap, checking the stop flag between pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]  # no stubs installed
from icalendar.prop import vRecur

from followup.ical.tz import to_aware
from followup.model import Interval

# An icalendar component (see parse.VEvent).
VEvent = Any

# Most steps a rule may need from its DTSTART to the window's end: about a second of
# dateutil's time, again for every piece of the window (a piece holds up to the cap).
MAX_RULE_STEPS = 1_000_000
_CUSTOM_ZONE_COST = 30  # a step in a VTIMEZONE-built zone, in zoneinfo steps
_MIN_PIECE = timedelta(days=1)

_FREQ_GAP = {
    "SECONDLY": timedelta(seconds=1),
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
    "MONTHLY": timedelta(days=28),
    "YEARLY": timedelta(days=365),
}
# BY-parts that add occurrences within one period of a coarser FREQ.
_EXPANDING = ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYHOUR", "BYMINUTE",
              "BYSECOND")


def _rules(event: VEvent) -> list[Any]:
    prop = event.get("RRULE")
    if prop is None:
        return []
    return prop if isinstance(prop, list) else [prop]


def _interval(rule: Any) -> int:
    try:
        value = int(str((rule.get("INTERVAL") or [1])[0]))
    except (ValueError, TypeError):
        return 1
    return max(value, 1)


def _freq(rule: Any) -> str:
    return str((rule.get("FREQ") or [""])[0]).upper()


def _many(rule: Any, part: str) -> bool:
    return len(rule.get(part) or []) > 1


def sub_hourly(event: VEvent) -> bool:
    """Whether a rule of `event` repeats more often than once an hour.

    FREQ=SECONDLY/MINUTELY, or a coarser FREQ with several BYMINUTE or BYSECOND values (two
    occurrences within one hour).
    """
    for rule in _rules(event):
        freq = _freq(rule)
        if freq in ("SECONDLY", "MINUTELY"):
            return True
        if _many(rule, "BYMINUTE") or _many(rule, "BYSECOND"):
            return True
    return False


# The Gregorian calendar repeats every 400 years: a day-and-time pattern that matches no
# moment in 400 years matches none ever.
_PROBE_YEAR = 9999 - 400
_PROBE_PARTS = ("BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE",
                "BYSECOND")


def repeatable_rules(event: VEvent) -> list[Any]:
    """The rules of `event` that can produce an occurrence at all: a rule like
    BYMONTH=2;BYMONTHDAY=30 never does, and dateutil would search it up to the year 9999,
    for seconds per call.

    The probe asks the same day and time filters as a yearly rule (a superset of the rule's
    moments: BYSETPOS and the ordinal of BYDAY dropped) over the last 400 years dateutil
    knows.
    """
    start = event["DTSTART"].dt
    at = start.time() if isinstance(start, datetime) else time()
    kept: list[Any] = []
    for rule in _rules(event):
        parts = ["FREQ=YEARLY"]
        for name in _PROBE_PARTS:
            values = rule.get(name)
            if values:
                parts.append(f"{name}={','.join(str(v) for v in values)}")
        days = {str(v).lstrip("+-0123456789").upper() for v in rule.get("BYDAY") or []}
        if days:
            parts.append(f"BYDAY={','.join(sorted(days))}")
        if len(parts) > 1:
            probe = rrulestr(";".join(parts),
                             dtstart=datetime.combine(date(_PROBE_YEAR, 1, 1), at))
            if next(iter(probe), None) is None:
                continue
        kept.append(rule)
    return kept


def typical_gap(event: VEvent) -> timedelta | None:
    """A rough time between occurrences of the fastest rule, None without a rule."""
    gaps: list[timedelta] = []
    for rule in _rules(event):
        base = _FREQ_GAP.get(_freq(rule))
        if base is None:
            continue
        per_period = 1
        for part in _EXPANDING:
            per_period *= max(len(rule.get(part) or []), 1)
        gaps.append(max(base * _interval(rule) / per_period, timedelta(seconds=1)))
    return min(gaps) if gaps else None


def too_many_steps(event: VEvent, start: datetime, window: Interval) -> bool:
    """Whether reaching the window (or the rule's UNTIL) from the series' start takes dateutil
    more than MAX_RULE_STEPS: it steps once per FREQ period from DTSTART, on every call.

    A step in a zone built from a file's own VTIMEZONE (dateutil's, which works out every
    offset from the zone's rules) costs tens of times one in a zoneinfo zone or UTC.
    """
    value = event["DTSTART"].dt
    zone = value.tzinfo if isinstance(value, datetime) else None
    weight = 1 if zone is None or isinstance(zone, (ZoneInfo, timezone)) else _CUSTOM_ZONE_COST
    for rule in _rules(event):
        base = _FREQ_GAP.get(_freq(rule))
        if base is None:
            continue
        end = window.end
        until = (rule.get("UNTIL") or [None])[0]
        if isinstance(until, date):
            end = min(end, to_aware(until, UTC))
        if (end - start) / (base * _interval(rule)) * weight > MAX_RULE_STEPS:
            return True
    return False


def bounded(event: VEvent, until: datetime) -> VEvent:
    """A copy of `event` whose repeat rules end by `until` at the latest.

    dateutil steps through a rule from DTSTART until an occurrence passes the end of what
    was asked; a rule that can never produce one (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) makes
    it step to the year 9999, seconds or minutes per call. An UNTIL bounds every call.
    """
    rules = _rules(event)
    if not rules:
        return event
    start = event["DTSTART"].dt
    limit: date | datetime = until.date() if not isinstance(start, datetime) else (
        until.astimezone(UTC))
    copy = event.copy()
    copy.pop("RRULE")
    for rule in rules:
        new = vRecur(dict(rule))
        current = (rule.get("UNTIL") or [None])[0]
        if current is None or to_aware(current, UTC) > to_aware(limit, UTC):
            new["UNTIL"] = [limit]
        copy.add("RRULE", new)
    return copy


def expand(
    calendar: Any,
    window: Interval,
    gap: timedelta | None,
    default_tz: Any,
    limit: int,
    tick: Callable[[], None],
    earliest: datetime | None = None,
) -> Iterator[VEvent]:
    """Occurrences of one UID's events overlapping `window`, in start order, at most `limit`.

    The caller learns that the limit was reached by counting. The window is read in pieces
    sized to hold a few hundred occurrences, so nothing large is ever built at once; an empty
    piece doubles the next one (a series that has ended). `earliest`: no occurrence starts
    before it (the earliest DTSTART of the UID's events), so reading begins there.
    """
    query = recurring_ical_events.of(calendar)
    at = window.start
    if earliest is not None and earliest - _MIN_PIECE > at:
        at = earliest - _MIN_PIECE
    # Pieces of about `limit` occurrences: dateutil steps from DTSTART again for each piece.
    size = window.end - window.start if gap is None else max(gap * limit, _MIN_PIECE)
    seen: set[tuple[datetime, datetime | None]] = set()
    count = 0
    while at < window.end:
        tick()
        end = min(at + size, window.end)
        batch = query.between(at, end)
        batch.sort(key=lambda occ: to_aware(occ["DTSTART"].dt, default_tz))
        for occ in batch:
            rid = occ.get("RECURRENCE-ID")
            key = (
                to_aware(occ["DTSTART"].dt, default_tz),
                to_aware(rid.dt, default_tz) if rid is not None else None,
            )
            if key in seen:  # an occurrence that spans two pieces comes in both
                continue
            seen.add(key)
            yield occ
            count += 1
            if count >= limit:
                return
        if not batch:
            size *= 2
        at = end


def next_start_after(calendar: Any, after: datetime, default_tz: Any) -> datetime | None:
    """The first occurrence start at or after `after` (for the cache of a calendar file)."""
    for occ in recurring_ical_events.of(calendar).after(after):
        start = to_aware(occ["DTSTART"].dt, default_tz)
        if start >= after:
            return start
    return None
