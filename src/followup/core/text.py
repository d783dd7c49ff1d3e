"""Small text helpers shared by the composer and the planner: one-line cleaning, dates, places.

Dates are spelled out in English here (not with strftime's %A/%B) so that a draft does not
change language with the process locale; templates get them ready-made.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from followup.model import Interval, Meeting

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_SPACES = re.compile(r"\s+")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
# A location that is really a video-call product, not a place to describe.
_VIDEO = re.compile(
    r"zoom\.us|zoom meeting|meet\.google\.com|google meet|teams\.microsoft\.com|"
    r"microsoft teams|teams meeting|webex|whereby|gotomeeting|bluejeans|skype",
    re.IGNORECASE,
)


def one_line(text: str | None, limit: int = 200) -> str:
    """Text safe for a header or a summary: no CR/LF or other controls, spaces collapsed,
    at most `limit` characters (cut at a word, with an ellipsis)."""
    if not text:
        return ""
    flat = "".join(
        " "
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in "\u200c\u200d"
        else ch
        for ch in unicodedata.normalize("NFC", text)
    )
    flat = _SPACES.sub(" ", flat).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut.rstrip(" ,;:-") + "…"


def format_date(when: datetime, tz: ZoneInfo) -> str:
    """ "Tuesday 3 March 2026", in the user's zone."""
    local = when.astimezone(tz)
    return f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"


def format_short_date(when: datetime, tz: ZoneInfo) -> str:
    """ "3 March 2026" (for contact notes)."""
    local = when.astimezone(tz)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def zone_label(when: datetime, tz: ZoneInfo) -> str:
    """The zone's abbreviation at that moment ("CET", "EDT"), or "UTC+03:00" where the zone
    database has only a number for it."""
    local = when.astimezone(tz)
    name = local.tzname() or ""
    if name.isalpha():
        return name
    offset = local.utcoffset()
    if offset is None:  # not reachable with a ZoneInfo; keeps mypy honest
        return tz.key
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_time(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%H:%M")


def format_slot(slot: Interval, tz: ZoneInfo) -> str:
    """ "Thursday 5 March 2026, 10:30–11:00 CET"."""
    return (
        f"{format_date(slot.start, tz)}, {format_time(slot.start, tz)}–"
        f"{format_time(slot.end, tz)} {zone_label(slot.start, tz)}"
    )


def meeting_place(meeting: Meeting) -> str | None:
    """Where the meeting was, for people: a venue, "video call", or None when unknown."""
    location = one_line(meeting.location, 120)
    parts = [p.strip() for p in re.split(r"[;\n]", location) if p.strip()]
    venues = [p for p in parts if not _URL.match(p) and not _VIDEO.search(p)]
    if venues:
        return "; ".join(venues)
    if parts or meeting.conference_url:
        return "video call"
    return None


def meeting_title(meeting: Meeting) -> str:
    return one_line(meeting.title, 150) or "our meeting"
