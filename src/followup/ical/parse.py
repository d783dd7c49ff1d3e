"""Parse iCalendar data into Meetings: one per occurrence that overlaps a window.

Every provider reads .ics through here (local files, URLs, text/calendar mail parts), so the
rules live in one place:

- recurrence is expanded by recurring-ical-events (RRULE, RDATE, EXDATE, RECURRENCE-ID);
- times without a zone (floating, or an unknown TZID) are read in `default_tz`;
- all-day events are placed on `default_tz` calendar days and flagged;
- a VEVENT that cannot be read is skipped with a reason in `errors`; the others still count.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import recurring_ical_events
import structlog
import x_wr_timezone
from icalendar import Calendar
from icalendar.prop import vBroken, vDDDTypes

from followup.ical.conference import conference_url
from followup.ical.tz import pin_floating_times, to_aware
from followup.model import (
    Attendee,
    CUType,
    Interval,
    Meeting,
    MeetingStatus,
    PartStat,
    Role,
    zone_name,
)

log = structlog.get_logger(__name__)

# An icalendar component. Its typed .get() returns a union of thirty value classes that
# the code below tells apart at run time (vBroken, lists, .dt), so it is Any here.
VEvent = Any

OccurrenceKey = tuple[str, datetime]  # (UID, occurrence start as the series names it)

# Properties whose value we cannot do without: a broken one makes the event unusable.
_ESSENTIAL = ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE", "EXDATE", "RDATE")
# Methods that carry an attendee's answer or a request to the organizer: not a meeting for us.
ANSWER_METHODS = frozenset({"REPLY", "COUNTER", "DECLINECOUNTER", "REFRESH"})


@dataclass(frozen=True, slots=True)
class Version:
    """What decides between two copies of the same occurrence (RFC 5546 section 2.1.5)."""

    sequence: int
    stamp: datetime | None  # DTSTAMP
    explicit: bool  # written as its own VEVENT with RECURRENCE-ID, not expanded from a rule
    cancelled: bool = False


@dataclass
class ParsedCalendar:
    meetings: list[Meeting] = field(default_factory=list)
    uids: set[str] = field(default_factory=set)  # every UID seen, in the window or not
    method: str | None = None  # METHOD of the (first) VCALENDAR, upper-case
    errors: list[str] = field(default_factory=list)  # skipped inputs, already logged
    versions: dict[OccurrenceKey, Version] = field(default_factory=dict)
    # Earliest start of an occurrence at or after window.end (with look_ahead=True): when a
    # cached file must be read again because something of it enters a later window.
    next_start: datetime | None = None


def parse_calendar(
    data: bytes | str,
    *,
    source: str,
    window: Interval,
    default_tz: tzinfo,
    look_ahead: bool = False,
) -> ParsedCalendar:
    """Meetings of one .ics text whose occurrences overlap `window`. Never raises on bad data."""
    result = ParsedCalendar()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            components = Calendar.from_ical(_text(data), multiple=True)
        except Exception as e:  # icalendar raises ValueError, and worse on garbage
            _skip(result, source, None, f"not an iCalendar file ({_short(e)})")
            components = []
        else:
            if not components:
                _skip(result, source, None, "no calendar in it")
        for component in components:
            cal = component if component.name == "VCALENDAR" else _wrap(component)
            try:
                _parse_vcalendar(cal, result, source, window, default_tz, look_ahead)
            except Exception as e:  # one bad VCALENDAR must not lose the next one
                _skip(result, source, None, f"cannot read calendar ({_short(e)})")
    for w in caught:
        log.debug("ical.library_warning", source=source, warning=str(w.message))
    return result


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Old Outlook and some booking sites write Windows-1252 without saying so.
        return data.decode("cp1252", errors="replace")


def _wrap(component: VEvent) -> Calendar:
    cal = Calendar()
    cal.add_component(component)
    return cal


def _short(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:200]


def _skip(result: ParsedCalendar, source: str, uid: str | None, reason: str) -> None:
    what = f"{source}: VEVENT {uid}: {reason}" if uid else f"{source}: {reason}"
    result.errors.append(what)
    log.warning("ical.skipped", source=source, uid=uid, reason=reason)


def _parse_vcalendar(
    cal: Calendar,
    result: ParsedCalendar,
    source: str,
    window: Interval,
    default_tz: tzinfo,
    look_ahead: bool,
) -> None:
    method = str(cal.get("METHOD", "")).strip().upper() or None
    if result.method is None:
        result.method = method
    try:
        cal = x_wr_timezone.to_standard(cal)  # floating times in X-WR-TIMEZONE, as Google means
    except Exception as e:
        log.warning("ical.x_wr_timezone_ignored", source=source, reason=_short(e))

    groups: dict[str, list[VEvent]] = {}
    for event in cal.subcomponents:
        if event.name != "VEVENT":
            continue
        uid = _uid(event)
        result.uids.add(uid)
        reason = _unusable(event)
        if reason:
            _skip(result, source, uid, reason)
            continue
        for tzid in sorted(set(pin_floating_times(event, default_tz))):
            log.warning("ical.unknown_timezone", source=source, uid=uid, tzid=tzid,
                        using=str(default_tz))
        groups.setdefault(uid, []).append(event)

    for uid, events in groups.items():
        try:
            _expand(uid, events, method, result, source, window, default_tz, look_ahead)
        except Exception as e:  # recurrence rules can fail in many ways; lose only this UID
            _skip(result, source, uid, f"cannot expand ({_short(e)})")


def _uid(event: VEvent) -> str:
    uid = str(event.get("UID", "")).strip()
    if uid:
        return uid
    # RFC 5545 requires a UID, some booking sites omit it: derive a stable one.
    digest = hashlib.sha256(event.to_ical()).hexdigest()[:32]
    return f"followup-no-uid-{digest}"


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:?\d{2}:?\d{2}Z?$")


def _unusable(event: VEvent) -> str | None:
    """Why `event` cannot become meetings, or None. Repairs ISO 8601 time stamps in place."""
    for name in _ESSENTIAL:
        prop = event.get(name)
        for item in prop if isinstance(prop, list) else [prop]:
            if isinstance(item, vBroken) and not _repair_iso(event, name, item):
                return f"unreadable {name} {str(item)[:60]!r}"
    if event.get("DTSTART") is None:
        return "no DTSTART"
    end = event.get("DTEND")
    if end is not None and _ends_before_start(event["DTSTART"].dt, end.dt):
        return "DTEND before DTSTART"
    return None


def _repair_iso(event: VEvent, name: str, broken: vBroken) -> bool:
    """Deutsche Bahn writes "2023-07-01T125700": accept ISO 8601 with dashes once more."""
    raw = str(broken)
    if name not in ("DTSTART", "DTEND", "RECURRENCE-ID") or not _ISO_DATETIME.match(raw):
        return False
    compact = raw.replace("-", "").replace(":", "")
    tzid = broken.params.get("TZID")
    try:
        value = vDDDTypes.from_ical(compact, timezone=tzid)  # type: ignore[no-untyped-call]  # icalendar leaves it unannotated
    except Exception:
        return False
    params = {k: v for k, v in broken.params.items() if k != "TZID"}
    event.pop(name)
    event.add(name, value, parameters=params or None)
    return True


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


def _expand(
    uid: str,
    events: list[VEvent],
    method: str | None,
    result: ParsedCalendar,
    source: str,
    window: Interval,
    default_tz: tzinfo,
    look_ahead: bool,
) -> None:
    master = next((e for e in events if "RECURRENCE-ID" not in e), None)
    overrides = {
        to_aware(e["RECURRENCE-ID"].dt, default_tz) for e in events if "RECURRENCE-ID" in e
    }
    is_series = bool(overrides) or (
        master is not None and ("RRULE" in master or "RDATE" in master)
    )
    series_start: datetime | None = None
    if is_series:
        series_start = (
            to_aware(master["DTSTART"].dt, default_tz) if master is not None else min(overrides)
        )

    mini = Calendar()
    for e in events:
        mini.add_component(e)
    query = recurring_ical_events.of(mini)
    for occ in query.between(window.start, window.end):
        meeting = _meeting(occ, uid, method, source, default_tz, is_series, series_start)
        if not Interval(meeting.start, meeting.end).overlaps(window) and not (
            meeting.start == meeting.end and window.start <= meeting.start < window.end
        ):
            continue
        result.meetings.append(meeting)
        stamp = occ.get("DTSTAMP")
        result.versions[(uid, meeting.occurrence)] = Version(
            sequence=meeting.sequence,
            stamp=to_aware(stamp.dt, default_tz) if _readable(stamp) else None,
            explicit=meeting.recurrence_id in overrides,
            cancelled=meeting.status is MeetingStatus.CANCELLED,
        )
    if look_ahead:
        for occ in query.after(window.end):
            start = to_aware(occ["DTSTART"].dt, default_tz)
            if start >= window.end:
                if result.next_start is None or start < result.next_start:
                    result.next_start = start
                break


def _readable(prop: object) -> bool:
    return prop is not None and not isinstance(prop, vBroken) and hasattr(prop, "dt")


def _meeting(
    occ: VEvent,
    uid: str,
    method: str | None,
    source: str,
    default_tz: tzinfo,
    is_series: bool,
    series_start: datetime | None,
) -> Meeting:
    raw_start = occ["DTSTART"].dt
    all_day = not isinstance(raw_start, datetime)
    start = to_aware(raw_start, default_tz)
    if "DTEND" in occ:
        end = to_aware(occ["DTEND"].dt, default_tz)
    elif "DURATION" in occ:
        duration = occ["DURATION"].dt
        end = to_aware(raw_start + duration, default_tz) if all_day else start + duration
    else:  # RFC 5545 3.6.1: a day for a DATE start, no duration for a DATE-TIME start
        end = to_aware(raw_start + timedelta(days=1), default_tz) if all_day else start

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
        title=_text_of(occ, "SUMMARY"),
        description=_text_of(occ, "DESCRIPTION"),
        location=_text_of(occ, "LOCATION"),
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
        timezone=zone_name(start.tzinfo),
    )


def _text_of(event: VEvent, name: str) -> str:
    value = event.get(name)
    if isinstance(value, list):  # duplicated property in the wild: take the first
        value = value[0] if value else None
    return "" if value is None else str(value)


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


def _address(value: object) -> str | None:
    text = str(value).strip()
    at = text.lower().rfind("mailto:")  # also finds it in "CN=X:mailto:..." (Trenitalia)
    if at >= 0:
        text = text[at + 7 :]
    text = text.strip().strip("<>").lower()
    return text if "@" in text else None


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
    cn = params.get("CN") if hasattr(params, "get") else None
    if cn is None:
        return None
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
