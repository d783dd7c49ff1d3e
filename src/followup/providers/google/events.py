"""Google Calendar events as followup Meetings (and times back to Google's form)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

PARTSTAT = {
    "accepted": PartStat.ACCEPTED,
    "declined": PartStat.DECLINED,
    "tentative": PartStat.TENTATIVE,
    "needsAction": PartStat.NEEDS_ACTION,
}
STATUS = {
    "confirmed": MeetingStatus.CONFIRMED,
    "tentative": MeetingStatus.TENTATIVE,
    "cancelled": MeetingStatus.CANCELLED,
}
# Entries that are not meetings: out of office, focus time, working location, birthdays.
MEETING_TYPES = frozenset({"default", "fromGmail"})


class EventSkipped(ValueError):
    """An event that cannot become a Meeting (no start, a broken time...)."""


def _zone(name: str | None, default: tzinfo) -> tzinfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def parse_when(value: dict[str, Any] | None, default_tz: tzinfo) -> tuple[datetime, bool]:
    """A Google EventDateTime as an aware datetime, and whether it was an all-day date."""
    if not value:
        raise EventSkipped("no start or end")
    try:
        if value.get("dateTime"):
            t = datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
            if t.tzinfo is None:
                t = t.replace(tzinfo=_zone(value.get("timeZone"), default_tz))
            return t, False
        if value.get("date"):
            d = date.fromisoformat(str(value["date"]))
            return datetime.combine(d, time(0), _zone(value.get("timeZone"), default_tz)), True
    except ValueError as e:
        raise EventSkipped(f"unreadable time: {e}") from None
    raise EventSkipped("no dateTime or date")


def _event_zone(ev: dict[str, Any]) -> str | None:
    """The IANA zone the event was written in (its start's timeZone), if Google says."""
    start = ev.get("start") or {}
    name = start.get("timeZone") if isinstance(start, dict) else None
    return zone_name(_zone(str(name), UTC)) if name else None


def to_google_time(t: datetime) -> dict[str, str]:
    return {"dateTime": t.astimezone(UTC).isoformat().replace("+00:00", "Z")}


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _attendee(a: dict[str, Any]) -> Attendee | None:
    email = str(a.get("email") or "").strip().lower().removeprefix("mailto:")
    if not email:
        return None
    return Attendee(
        email=email,
        name=a.get("displayName") or None,
        partstat=PARTSTAT.get(str(a.get("responseStatus")), PartStat.NEEDS_ACTION),
        role=Role.OPTIONAL if a.get("optional") else Role.REQUIRED,
        cutype=CUType.RESOURCE if a.get("resource") else CUType.INDIVIDUAL,
        is_organizer=bool(a.get("organizer")),
        is_self=bool(a.get("self")),
    )


def _conference_url(ev: dict[str, Any]) -> str | None:
    for entry in (ev.get("conferenceData") or {}).get("entryPoints", []):
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    link = ev.get("hangoutLink")
    return str(link) if link else None


def occurrence_of(ev: dict[str, Any], default_tz: tzinfo) -> datetime | None:
    """The original start of a recurring event's instance (None for a single event)."""
    if not ev.get("recurringEventId") or not ev.get("originalStartTime"):
        return None
    return parse_when(ev["originalStartTime"], default_tz)[0]


def to_meeting(
    ev: dict[str, Any],
    *,
    source: str,
    default_tz: tzinfo,
    series_start: datetime | None = None,
) -> Meeting:
    """One event (or one instance of a series, with singleEvents=true) as a Meeting.

    `series_start`: for an instance, its series' first start (the master's `start`);
    without it the instance gets SERIES_START_UNKNOWN, never its own start.
    """
    uid = str(ev.get("iCalUID") or "")
    if not uid:
        raise EventSkipped("no iCalUID")
    start, all_day = parse_when(ev.get("start"), default_tz)
    end, _ = parse_when(ev.get("end"), default_tz)
    attendees = tuple(a for a in map(_attendee, ev.get("attendees") or []) if a is not None)
    org = ev.get("organizer") or {}
    organizer = None
    if org.get("email"):
        known = next((a for a in attendees if a.is_organizer), None)
        organizer = known or Attendee(
            email=str(org["email"]).lower(),
            name=org.get("displayName") or None,
            partstat=PartStat.ACCEPTED,
            is_organizer=True,
            is_self=bool(org.get("self")),
        )
    recurrence_id = occurrence_of(ev, default_tz)
    return Meeting(
        uid=uid,
        start=start,
        end=end,
        title=str(ev.get("summary") or ""),
        description=str(ev.get("description") or ""),
        location=str(ev.get("location") or ""),
        conference_url=_conference_url(ev),
        organizer=organizer,
        attendees=attendees,
        status=STATUS.get(str(ev.get("status")), MeetingStatus.CONFIRMED),
        all_day=all_day,
        transparent=ev.get("transparency") == "transparent",
        recurrence_id=recurrence_id,
        series_start=(series_start or SERIES_START_UNKNOWN) if recurrence_id else None,
        sequence=int(ev.get("sequence") or 0),
        attendees_omitted=bool(ev.get("attendeesOmitted")),
        source=source,
        timezone=_event_zone(ev),
    )
