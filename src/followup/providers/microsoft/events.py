"""Graph event JSON -> followup.model.Meeting, and Graph date-time helpers."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followup.ical.tz import zone_for
from followup.model import (
    SERIES_START_UNKNOWN,
    Attendee,
    CUType,
    Meeting,
    MeetingStatus,
    PartStat,
    Role,
    zone_name,
)

_RESPONSES = {
    "accepted": PartStat.ACCEPTED,
    "organizer": PartStat.ACCEPTED,
    "declined": PartStat.DECLINED,
    "tentativelyaccepted": PartStat.TENTATIVE,
    "none": PartStat.NEEDS_ACTION,
    "notresponded": PartStat.NEEDS_ACTION,
}


def graph_time(dt: datetime) -> str:
    """A UTC date-time as Graph's query parameters and dateTimeTimeZone want it."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def graph_datetime_tz(dt: datetime) -> dict[str, str]:
    return {"dateTime": graph_time(dt), "timeZone": "UTC"}


def parse_datetime_tz(value: Any) -> datetime:
    """A dateTimeTimeZone ({"dateTime": "...0000000", "timeZone": "UTC"}) as an aware datetime.

    We ask for UTC (Prefer: outlook.timezone="UTC"); an IANA zone is honoured too.
    """
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise ValueError("missing dateTime")
    text = str(value["dateTime"])
    head, _, frac = text.partition(".")
    dt = datetime.fromisoformat(head + ("." + frac[:6] if frac else ""))
    if dt.tzinfo is not None:
        return dt.astimezone(UTC)
    zone_name = str(value.get("timeZone") or "UTC")
    try:
        zone: Any = UTC if zone_name.upper() in ("UTC", "Z") else ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC  # a Windows zone name would need a table; we always request UTC
    return dt.replace(tzinfo=zone).astimezone(UTC)


def _original_zone(event: dict[str, Any]) -> str | None:
    """The IANA zone the organiser wrote the event in (Graph reports a Windows name, e.g.
    "Pacific Standard Time", or an IANA one), if it says."""
    name = event.get("originalStartTimeZone")
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        return zone_name(zone_for(name.strip()))
    except (ValueError, KeyError):
        return None


def parse_offset_datetime(value: Any) -> datetime | None:
    """A DateTimeOffset string ("2025-03-10T14:00:00Z") or None."""
    if not value:
        return None
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _address(obj: Any) -> tuple[str, str | None]:
    email = obj.get("emailAddress") if isinstance(obj, dict) else None
    if not isinstance(email, dict):
        return "", None
    return str(email.get("address") or "").strip().lower(), (email.get("name") or None)


def _attendee(raw: Any, organizer: str, self_addresses: Collection[str]) -> Attendee | None:
    address, name = _address(raw)
    if not address:
        return None
    kind = str(raw.get("type") or "required").lower()
    status = raw.get("status") if isinstance(raw.get("status"), dict) else {}
    response = str(status.get("response") or "none").lower()
    return Attendee(
        email=address,
        name=name,
        partstat=_RESPONSES.get(response, PartStat.NEEDS_ACTION),
        role=Role.OPTIONAL if kind == "optional" else Role.REQUIRED,
        cutype=CUType.RESOURCE if kind == "resource" else CUType.INDIVIDUAL,
        is_organizer=address == organizer,
        is_self=address in self_addresses,
    )


def to_meeting(
    event: dict[str, Any],
    *,
    uid: str,
    series_start: datetime | None,
    self_addresses: Collection[str],
    source: str,
) -> Meeting:
    """One calendarView entry as a Meeting. Raises ValueError/KeyError on unusable data."""
    start = parse_datetime_tz(event["start"])
    end = parse_datetime_tz(event["end"])
    organizer_address, organizer_name = _address(event.get("organizer"))
    user_is_organizer = bool(event.get("isOrganizer"))
    own = {a.lower() for a in self_addresses}
    if user_is_organizer and organizer_address:
        own.add(organizer_address)
    attendees = [
        a for a in (_attendee(r, organizer_address, own) for r in event.get("attendees") or [])
        if a is not None
    ]
    # The user's own answer is on the event (responseStatus), not always in `attendees`.
    response = str((event.get("responseStatus") or {}).get("response") or "none").lower()
    own_partstat = _RESPONSES.get(response, PartStat.NEEDS_ACTION)
    if not user_is_organizer:
        seen = False
        for i, a in enumerate(attendees):
            if a.is_self:
                seen = True
                attendees[i] = Attendee(a.email, a.name, own_partstat, a.role, a.cutype,
                                        a.is_organizer, True)
        if not seen and self_addresses:
            first = sorted(self_addresses)[0]
            attendees.append(Attendee(first, None, own_partstat, is_self=True))
    organizer = (
        Attendee(organizer_address, organizer_name, PartStat.ACCEPTED, Role.CHAIR,
                 is_organizer=True, is_self=user_is_organizer)
        if organizer_address else None
    )
    kind = str(event.get("type") or "singleInstance")
    recurrence_id = None
    if kind in ("occurrence", "exception"):
        recurrence_id = parse_offset_datetime(event.get("originalStart")) or start
    online = _obj(event.get("onlineMeeting"))
    location = _obj(event.get("location"))
    body = _obj(event.get("body"))
    return Meeting(
        uid=uid,
        start=start,
        end=end,
        title=str(event.get("subject") or ""),
        description=str(body.get("content") or event.get("bodyPreview") or ""),
        location=str(location.get("displayName") or ""),
        conference_url=(online.get("joinUrl") or event.get("onlineMeetingUrl") or None),
        organizer=organizer,
        attendees=tuple(attendees),
        status=MeetingStatus.CANCELLED if event.get("isCancelled") else MeetingStatus.CONFIRMED,
        all_day=bool(event.get("isAllDay")),
        transparent=str(event.get("showAs") or "busy").lower() == "free",
        recurrence_id=recurrence_id,
        # An occurrence whose series master could not be read is still recurring.
        series_start=(series_start or SERIES_START_UNKNOWN) if recurrence_id is not None else None,
        source=source,
        timezone=_original_zone(event),
    )
