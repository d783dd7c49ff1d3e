"""Repair what real calendars get wrong when the intent is unambiguous; name what is not.

Writers in the wild put a space after a colon (`DTEND: 20250110T100000Z`), spaces in rules
(`BYDAY=MO, TU`), a `Z` after a date, dashes in times (Deutsche Bahn), a SEQUENCE that is
base64 or longer than any counter, the same DTSTART twice. icalendar keeps such values as
vBroken; here each is read once more in the obvious way. What still cannot be read makes the
event unreadable, with the reason in words: never an exception's text, never the file's
content (which may be anyone's, and may be built to mislead a reader of the logs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from icalendar.prop import vBroken, vDDDTypes, vDuration, vRecur

# An icalendar component (see parse.VEvent).
VEvent = Any

_SINGLE_TIMES = ("DTSTART", "DTEND", "RECURRENCE-ID")
_TIME_LISTS = ("EXDATE", "RDATE")
_SPACES = re.compile(r"\s+")
_DATE_WITH_Z = re.compile(r"^(\d{8})Z$", re.IGNORECASE)
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(Z?)$", re.IGNORECASE
)
_FREQUENCIES = frozenset({"SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY",
                          "YEARLY"})
_SEQUENCE_MAX = 2**31 - 1  # RFC 5545 INTEGER; the ledger stores it in 32 bits

# Words for the properties, as a reason shows them.
_WHAT = {
    "DTSTART": "its start (DTSTART) is not a date or time",
    "DTEND": "its end (DTEND) is not a date or time",
    "RECURRENCE-ID": "the occurrence it changes (RECURRENCE-ID) is not a date or time",
    "EXDATE": "its excluded dates (EXDATE) cannot be read",
    "RDATE": "its extra dates (RDATE) cannot be read",
    "RRULE": "its repeat rule (RRULE) cannot be read",
    "DURATION": "its length (DURATION) is not a length of time",
}


@dataclass
class Repair:
    problem: str | None = None  # why the event cannot be used, in words; None when it can
    notes: list[str] = field(default_factory=list)  # what was repaired, in words


def repair_event(event: VEvent) -> Repair:
    """Repair `event` in place where the intent is clear; report what could not be."""
    out = Repair()
    for name in (*_SINGLE_TIMES, "DURATION"):
        _one_value(event, name, out)
        if out.problem:
            return out
    for name in _SINGLE_TIMES:
        prop = event.get(name)
        if isinstance(prop, vBroken):
            value = _time_value(str(prop), prop.params)
            if value is None:
                out.problem = _WHAT[name]
                return out
            _replace(event, name, [value], prop.params)
            out.notes.append(f"{name} was written loosely; read as a date or time")
    for name in _TIME_LISTS:
        if not _repair_time_list(event, name, out):
            out.problem = _WHAT[name]
            return out
    if not _repair_rules(event, out) or not _sane_rules(event):
        out.problem = _WHAT["RRULE"]
        return out
    duration = event.get("DURATION")
    if isinstance(duration, vBroken):
        try:
            value = vDuration.from_ical(_SPACES.sub("", str(duration)))  # type: ignore[no-untyped-call]  # unannotated
        except (ValueError, TypeError, OverflowError):
            out.problem = _WHAT["DURATION"]
            return out
        _replace(event, "DURATION", [value], duration.params)
        out.notes.append("DURATION was written loosely; read as a length of time")
    _repair_sequence(event, out)
    return out


def _one_value(event: VEvent, name: str, out: Repair) -> None:
    """A property written twice: the same value twice is harmless, two values are not."""
    prop = event.get(name)
    if not isinstance(prop, list):
        return
    if not prop:
        event.pop(name)
        return
    if len({_identity(p) for p in prop}) > 1:
        out.problem = f"{name} is given {len(prop)} times with different values"
        return
    first = prop[0]
    event.pop(name)
    event[name] = first
    out.notes.append(f"{name} was written {len(prop)} times with one value; kept once")


def _identity(prop: object) -> object:
    if isinstance(prop, vBroken):
        return ("broken", str(prop).strip())
    value = getattr(prop, "dt", prop)
    return (type(value).__name__, value)


def _time_value(raw: str, params: Any) -> date | datetime | None:
    """A DATE or DATE-TIME from a loosely written value: spaces around it, a Z after a date,
    dashes and colons of ISO 8601. None when it still is not one."""
    text = _SPACES.sub("", raw)
    if not text:
        return None
    match = _ISO_DATETIME.match(text)
    if match:
        text = "{}{}{}T{}{}{}{}".format(*match.groups()).upper()
    match = _DATE_WITH_Z.match(text)
    if match:
        text = match.group(1)  # a date has no time, so no zone: the Z means nothing
    tzid = params.get("TZID") if params is not None else None
    try:
        value = vDDDTypes.from_ical(text, timezone=tzid)  # type: ignore[no-untyped-call]  # icalendar leaves it unannotated
    except (ValueError, TypeError, OverflowError):
        return None
    return value if isinstance(value, date) else None


def _replace(event: VEvent, name: str, values: list[Any], params: Any) -> None:
    """Put `values` back as `name`, keeping the parameters but a TZID already applied."""
    kept = {k: v for k, v in (params or {}).items() if k not in ("TZID", "VALUE")}
    event.pop(name)
    for value in values:
        event.add(name, value, parameters=kept or None)


def _repair_time_list(event: VEvent, name: str, out: Repair) -> bool:
    props = event.get(name)
    if props is None:
        return True
    items = props if isinstance(props, list) else [props]
    if not any(isinstance(p, vBroken) for p in items):
        return True
    good: list[Any] = [p for p in items if not isinstance(p, vBroken)]
    repaired: list[date | datetime] = []
    for p in items:
        if not isinstance(p, vBroken):
            continue
        pieces = [piece for piece in str(p).split(",") if piece.strip()]
        if not pieces:
            out.notes.append(f"an empty {name} was ignored")
            continue
        for piece in pieces:
            value = _time_value(piece, p.params)
            if value is None:
                return False
            repaired.append(value)
        out.notes.append(f"{name} was written loosely; read as dates or times")
    event.pop(name)
    for p in good:
        event.add(name, p, encode=False)
    for value in repaired:
        event.add(name, value)
    return True


def _repair_rules(event: VEvent, out: Repair) -> bool:
    props = event.get("RRULE")
    if props is None:
        return True
    items = props if isinstance(props, list) else [props]
    if not any(isinstance(p, vBroken) for p in items):
        return True
    rules: list[Any] = []
    for p in items:
        if not isinstance(p, vBroken):
            rules.append(p)
            continue
        text = _SPACES.sub("", str(p)).strip(";")
        if not text:
            out.notes.append("an empty RRULE was ignored")
            continue
        try:
            rules.append(vRecur.from_ical(text))
        except (ValueError, TypeError, OverflowError):
            return False
        out.notes.append("RRULE had spaces or stray separators in it; read without them")
    event.pop("RRULE")
    for rule in rules:
        event.add("RRULE", rule)
    return True


def _sane_rules(event: VEvent) -> bool:
    """FREQ known, INTERVAL at least 1 (dateutil loops for ever on 0), no day or week 0."""
    props = event.get("RRULE")
    for rule in props if isinstance(props, list) else [props] if props is not None else []:
        if isinstance(rule, vBroken):
            return False
        if str((rule.get("FREQ") or [""])[0]).upper() not in _FREQUENCIES:
            return False
        try:
            if int(str((rule.get("INTERVAL") or [1])[0])) < 1:
                return False
            # RFC 5545 has no day 0, week 0 or day of the year 0; dateutil reads them as
            # "every day".
            if any(int(str(v)) == 0 for part in ("BYMONTHDAY", "BYYEARDAY", "BYWEEKNO")
                   for v in rule.get(part) or []):
                return False
        except ValueError:
            return False
    return True


def _repair_sequence(event: VEvent, out: Repair) -> None:
    prop = event.get("SEQUENCE")
    if prop is None:
        return
    items = prop if isinstance(prop, list) else [prop]
    numbers = [_small_int(p) for p in items]
    if all(n is not None for n in numbers) and len(items) == 1:
        return
    valid = [n for n in numbers if n is not None]
    value = max(valid) if valid else 0
    if not valid:
        out.notes.append("SEQUENCE is not a small whole number; 0 used")
    else:
        out.notes.append(f"SEQUENCE was written {len(items)} times; the highest used")
    event.pop("SEQUENCE")
    event.add("SEQUENCE", value)


def _small_int(prop: object) -> int | None:
    if isinstance(prop, vBroken):
        return None
    try:
        value = int(str(prop).strip())
    except ValueError:
        return None
    return value if 0 <= value <= _SEQUENCE_MAX else None
