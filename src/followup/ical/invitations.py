"""Invitations in mail: find the calendar parts of a message and read them.

Senders attach calendars as text/calendar (inline or attachment), application/ics, or any
part named *.ics (application/octet-stream, even text/plain). The same calendar often comes
twice in one message (inline and attached); copies merge by the RFC 5546 rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from email import message_from_bytes, policy
from email.message import Message

import structlog

from followup.ical.parse import (
    ANSWER_METHODS,
    OccurrenceKey,
    ParsedCalendar,
    Version,
    parse_calendar,
)
from followup.model import Interval, Meeting, MeetingStatus

log = structlog.get_logger(__name__)

_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})
_CALENDAR_SUFFIXES = (".ics", ".ical", ".icalendar", ".vcs")


def parse_invitation_mail(
    raw: bytes, *, source: str, window: Interval, default_tz: tzinfo
) -> ParsedCalendar:
    """Meetings announced or cancelled by one message. Answers (METHOD:REPLY...) are ignored:
    they are someone's reply to an invitation, not a meeting of ours."""
    result = ParsedCalendar()
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception as e:  # the email package is lenient; this is truly unreadable
        result.errors.append(f"{source}: not a mail message ({e})")
        log.warning("ical.mail_unreadable", source=source, reason=str(e)[:200])
        return result
    parts: list[ParsedCalendar] = []
    for index, data in enumerate(calendar_parts(msg)):
        parsed = parse_calendar(
            data, source=f"{source}#{index}", window=window, default_tz=default_tz
        )
        result.errors.extend(parsed.errors)
        if result.method is None:
            result.method = parsed.method
        if parsed.method in ANSWER_METHODS:
            continue
        result.uids |= parsed.uids
        parts.append(parsed)
    merged = merge_versions(parts)
    result.meetings = [m for m, _ in merged]
    result.versions = {(m.uid, m.occurrence): v for m, v in merged}
    return result


def calendar_parts(msg: Message) -> Iterable[bytes | str]:
    """The calendar payloads of a message, attachments and forwarded messages included."""
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        name = (part.get_filename() or part.get_param("name") or "")
        name = name if isinstance(name, str) else ""
        if ctype not in _CALENDAR_TYPES and not name.lower().endswith(_CALENDAR_SUFFIXES):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        charset = part.get_content_charset()
        if charset:
            try:
                yield payload.decode(charset)
                continue
            except (LookupError, UnicodeDecodeError):
                pass  # a wrong label: let the parser guess
        yield payload


def merge_versions(parsed: Iterable[ParsedCalendar]) -> list[tuple[Meeting, Version]]:
    """One meeting per (UID, occurrence): the newest copy wins.

    Newest: an occurrence written out on its own (RECURRENCE-ID) beats one expanded from the
    series rule, unless the whole series was cancelled at least as recently; then the higher
    SEQUENCE; then the later DTSTAMP; at a full tie a cancellation (Outlook cancels without
    raising SEQUENCE).
    """
    best: dict[OccurrenceKey, tuple[Meeting, Version]] = {}
    for p in parsed:
        for meeting in p.meetings:
            key = (meeting.uid, meeting.occurrence)
            version = p.versions.get(key) or Version(
                meeting.sequence, None, False, meeting.status is MeetingStatus.CANCELLED
            )
            current = best.get(key)
            if current is None or is_newer(version, current[1]):
                best[key] = (meeting, version)
    return list(best.values())


def is_newer(a: Version, b: Version) -> bool:
    """Whether copy `a` of an occurrence supersedes copy `b` (see merge_versions)."""
    if a.explicit != b.explicit:
        explicit, rule = (a, b) if a.explicit else (b, a)
        series_cancelled = rule.cancelled and rule.sequence >= explicit.sequence
        winner = rule if series_cancelled else explicit
        return winner is a
    if a.sequence != b.sequence:
        return a.sequence > b.sequence
    if a.stamp and b.stamp and a.stamp != b.stamp:
        return a.stamp > b.stamp
    return a.cancelled and not b.cancelled
