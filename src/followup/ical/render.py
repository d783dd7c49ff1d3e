"""Render a follow-up block as a VCALENDAR file that khal, Thunderbird and CalDAV accept."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from followup.model import BlockPayload

PRODID = "-//followup//followup block//EN"
CATEGORY = "followup"
KEY_PROPERTY = "X-FOLLOWUP-KEY"


def block_uid(key: str) -> str:
    """The UID of the block written for `key`: stable, so a retry finds the same event."""
    return f"{key}@followup.invalid"


def render_block(
    key: str, block: BlockPayload, *, tz: ZoneInfo, stamp: datetime | None = None
) -> bytes:
    """One VEVENT in the user's zone, with a VTIMEZONE for it, tagged with the key.

    `stamp` is the DTSTAMP (when the block was written); without it the block's start is
    used, which keeps the output a pure function of its inputs.
    """
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    event = Event()
    event.add("UID", block_uid(key))
    event.add("DTSTAMP", (stamp or block.start).astimezone(UTC))
    event.add("DTSTART", block.start.astimezone(tz))
    event.add("DTEND", block.end.astimezone(tz))
    event.add("SUMMARY", _one_line(block.summary))
    event.add("DESCRIPTION", block.description)
    event.add("CATEGORIES", [CATEGORY])
    event.add("TRANSP", "OPAQUE")
    event.add("STATUS", "TENTATIVE" if block.tentative else "CONFIRMED")
    event.add("CLASS", "PRIVATE")
    event.add(KEY_PROPERTY, key)
    if block.conflict:
        event.add("X-FOLLOWUP-CONFLICT", "TRUE")
    cal.add_component(event)
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data


def _one_line(text: str) -> str:
    return " ".join(text.split())
