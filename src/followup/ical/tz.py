"""Time zones as calendars name them: Olson ids, Windows names, custom VTIMEZONEs, none at all.

icalendar already resolves Olson ids, Windows names used by Outlook/Exchange ("W. Europe
Standard Time") and VTIMEZONE components with made-up ids ("Customized Time Zone") when it
parses a file. What is left to us: times that have no zone at all (floating times, which
belong to the reader's zone) and TZIDs nobody knows (icalendar leaves those naive). Both are
pinned to the user's zone here, before recurrence expansion, so that every time the core sees
is aware and EXDATE/RECURRENCE-ID compare equal to the occurrences they name.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from typing import Any

from icalendar.prop import vDDDLists
from icalendar.timezone import tzp

# Properties of a VEVENT whose values are DATE or DATE-TIME and take part in expansion.
# An icalendar component. Its typed .get() returns a union of thirty value classes that
# the code below tells apart at run time (vBroken, lists, .dt), so it is Any here.
VEvent = Any

_SINGLE = ("DTSTART", "DTEND", "RECURRENCE-ID")
_LISTS = ("EXDATE", "RDATE")


def zone_for(tzid: str) -> tzinfo | None:
    """The zone an id names: Olson ("Europe/Berlin"), Windows ("W. Europe Standard Time"),
    or "/vendor/Olson" globally unique ids. None when nobody knows it.

    Google and Microsoft helpers may use this too (Graph reports Windows zone names).
    """
    return tzp.timezone(tzid)


def to_aware(value: date | datetime, tz: tzinfo) -> datetime:
    """A DATE becomes midnight in `tz`; a naive DATE-TIME is read as wall time in `tz`."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=tz)
    if value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value


def event_zone(event: VEvent, default_tz: tzinfo) -> tzinfo:
    """The zone an event's naive times belong to: its DTSTART's, else `default_tz`.

    A floating DTEND beside a zoned DTSTART (some booking sites write that) is wall time
    where the meeting starts; read in the user's zone it can end before it starts.
    """
    prop = event.get("DTSTART")
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.tzinfo
    return default_tz


def pin_floating_times(event: VEvent, default_tz: tzinfo) -> list[str]:
    """Make every naive DATE-TIME of `event` aware, in place: in its DTSTART's zone when that
    has one (see event_zone), else in `default_tz`.

    Returns the unknown TZIDs met, so the caller can log them once. Dates stay dates: an
    all-day event has no zone, and the caller places it on the user's calendar days.
    """
    default_tz = event_zone(event, default_tz)
    unknown: list[str] = []
    for name in _SINGLE:
        prop = event.get(name)
        if prop is None:
            continue
        value = prop.dt
        if isinstance(value, datetime) and value.tzinfo is None:
            tzid = prop.params.get("TZID")
            if tzid:
                unknown.append(str(tzid))
            params = {k: v for k, v in prop.params.items() if k != "TZID"}
            event.pop(name)
            event.add(name, value.replace(tzinfo=default_tz), parameters=params or None)
    for name in _LISTS:
        props = event.get(name)
        if props is None:
            continue
        props_list = props if isinstance(props, list) else [props]
        if not any(_has_naive(p) for p in props_list):
            continue
        values: list[Any] = []
        for p in props_list:
            tzid = p.params.get("TZID")
            if tzid and any(_naive(d.dt) for d in p.dts):
                unknown.append(str(tzid))
            values.extend(_pin(d.dt, default_tz) for d in p.dts)
        event.pop(name)
        for v in values:
            event.add(name, v)
    return unknown


def _naive(value: object) -> bool:
    if isinstance(value, tuple):  # an RDATE PERIOD: (start, end or duration)
        return _naive(value[0])
    return isinstance(value, datetime) and value.tzinfo is None


def _has_naive(prop: vDDDLists) -> bool:
    return any(_naive(d.dt) for d in prop.dts)


def _pin(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, tuple):
        return tuple(_pin(v, tz) for v in value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value
