"""iCalendar for every provider: parse .ics files and invitation mails, render our blocks."""

from followup.ical.invitations import (
    ParsedInvitation,
    calendar_parts,
    is_newer,
    merge_versions,
    parse_invitation_mail,
    supersedes,
)
from followup.ical.parse import ParsedCalendar, Version, parse_calendar
from followup.ical.render import KEY_PROPERTY, block_uid, render_block
from followup.ical.tz import zone_for

__all__ = [
    "KEY_PROPERTY",
    "ParsedCalendar",
    "ParsedInvitation",
    "Version",
    "block_uid",
    "calendar_parts",
    "is_newer",
    "merge_versions",
    "parse_calendar",
    "parse_invitation_mail",
    "render_block",
    "supersedes",
    "zone_for",
]
